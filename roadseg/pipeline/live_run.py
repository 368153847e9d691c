"""``run_live``: camera/stream -> newest-frame queue -> infer -> overlay -> window / browser / recording.

Example:
    >>> from roadseg.pipeline.live import LiveOptions
    >>> stats = run_live("sample_videos/road.mp4", LiveOptions(record="/tmp/live.mp4", overwrite=True,
    ...                  max_frames=8, size=(90, 120)))
    >>> stats["frames"] >= 1 and stats["latency_ms"]["p95"] > 0
    True
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from roadseg.pipeline.infer import Segmenter
from roadseg.pipeline.live import (
    LiveOptions,
    LiveSource,
    LiveStats,
    RecordSink,
    StopRequested,
    WindowSink,
    draw_hud,
)
from roadseg.pipeline.overlay import Overlay, output_size, palette_lut
from roadseg.pipeline.runner import LatestQueue, StageFailed, run_stages
from roadseg.pipeline.server import MjpegServer
from roadseg.pipeline.timing import StageTimes
from roadseg.pipeline.video import Interrupted, OutputError, PipelineError, check_paths, infer_stage

log = logging.getLogger("roadseg")


class ServeSink:
    def __init__(self, server: MjpegServer, stats: LiveStats) -> None:
        self.server, self.stats = server, stats

    def show(self, image, frame) -> None:
        self.server.publish(image, {**self.stats.summary(), "fps": round(self.stats.fps, 2)})

    def close(self) -> None:
        self.server.close()


def _live_writer(overlay: Overlay, sinks: list, stats: LiveStats, queue: LatestQueue, stop: threading.Event,
                 opts: LiveOptions, times: StageTimes):  # fmt: skip
    def consume(items: Iterator) -> None:
        try:
            for frame, labels in items:
                with times.measure("overlay"):
                    out = overlay(frame.image, labels)
                now = time.monotonic()
                stats.dropped = queue.dropped
                stats.add(now - frame.captured, now)
                if opts.hud:
                    draw_hud(out, stats.fps, 1000 * (now - frame.captured), stats.dropped)
                with times.measure("display"):
                    for sink in sinks:
                        sink.show(out, frame)
                if opts.max_frames and stats.frames >= opts.max_frames:
                    stop.set()
        except StopRequested:
            stop.set()
        finally:
            for sink in sinks:
                sink.close()

    return consume


def run_live(spec: str, opts: LiveOptions | None = None) -> dict:
    """Segment a live source until it ends, ``max_frames`` are shown, q/Esc, or Ctrl-C; return stats."""
    opts = opts or LiveOptions()
    if not (opts.show or opts.serve or opts.record):
        raise OutputError("a live run needs somewhere to go: --show, --serve HOST:PORT and/or -o FILE")
    if opts.record:
        check_paths(Path(spec), Path(opts.record), opts.overwrite)
    seg = Segmenter(opts.model, size=opts.size, providers=opts.providers, threads=opts.threads)
    overlay = Overlay(palette_lut(seg.palette), alpha=opts.alpha, mode=opts.mode,
                      legend=seg.classes if opts.legend else None)  # fmt: skip
    stop = threading.Event()
    source = LiveSource(spec, pace=opts.pace, retries=opts.retries, retry_delay=opts.retry_delay, stop=stop)
    stats, times, queue = LiveStats(), StageTimes(), LatestQueue()
    sinks: list = []
    try:
        width, height = output_size(source.width, source.height, opts.mode)
        if opts.show:
            sinks.append(WindowSink())
        if opts.serve:
            server = MjpegServer(opts.serve[0], opts.serve[1], seg.classes, seg.palette)
            log.warning("serving the live view at %s", server.url)
            sinks.append(ServeSink(server, stats))
        if opts.record:
            sinks.append(RecordSink(opts.record, width, height, source.fps, crf=opts.crf, preset=opts.preset))
    except BaseException:
        for sink in sinks:
            sink.close()
        source.close()
        raise
    consume = _live_writer(overlay, sinks, stats, queue, stop, opts, times)
    try:
        run_stages(lambda: iter(source), lambda it: infer_stage(it, seg, 1, times), consumer=consume,
                   queue_size=2, stop=stop, first_queue=queue, names=("capture", "infer", "display"))  # fmt: skip
    except StageFailed as exc:
        raise PipelineError(f"{exc.stage} failed: {exc.error}" + _kept(opts, stats), kept=bool(opts.record),
                            frames=stats.frames) from exc.error  # fmt: skip
    except KeyboardInterrupt as exc:
        raise Interrupted("interrupted" + _kept(opts, stats), frames=stats.frames,
                          signal_name=getattr(exc, "signal_name", "SIGINT")) from None  # fmt: skip
    finally:
        source.close()
    stats.dropped = queue.dropped
    return {**stats.summary(), "source": spec, "kind": source.kind, "reconnects": source.reconnects,
            "working_size": list(seg.size), "model": str(seg.model.path), "stages": times.summary()}  # fmt: skip


def _kept(opts: LiveOptions, stats: LiveStats) -> str:
    return f"; recording finalised at {opts.record} ({stats.frames} frames)" if opts.record else ""
