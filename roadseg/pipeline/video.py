"""``segment_video``: decode -> infer -> overlay/encode, each in its own thread.

Example:
    >>> stats = segment_video("sample_videos/road.mp4", "/tmp/road-seg.mp4", overwrite=True, progress=False)
    >>> stats["frames"]
    150
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import av
import numpy as np
from tqdm import tqdm

from roadseg.pipeline.infer import Segmenter
from roadseg.pipeline.overlay import Overlay, palette_lut
from roadseg.pipeline.runner import StageFailed, run_stages
from roadseg.pipeline.sinks import SinkError, VideoSink
from roadseg.pipeline.sources import Frame, SourceError, VideoSource
from roadseg.pipeline.timing import StageTimes


class OutputError(ValueError):
    """The output path is unusable before any work starts (exists, equals the input ...)."""


class PipelineError(RuntimeError):
    """A run failed midway; ``kept`` says whether a playable partial output was left."""

    def __init__(self, message: str, *, kept: bool, frames: int) -> None:
        super().__init__(message)
        self.kept = kept
        self.frames = frames


@dataclass(frozen=True)
class SegmentOptions:
    """Everything ``segment-video`` can be told; the CLI builds one of these."""

    model: str | None = None
    size: tuple[int, int] | None = None
    alpha: float = 0.5
    batch: int = 1
    providers: str = "auto"
    threads: int = 0
    codec: str = "libx264"
    crf: int = 23
    preset: str = "veryfast"
    audio: bool = True
    overwrite: bool = False
    progress: bool = True
    queue_size: int = 8


def _timed(items: Iterable, times: StageTimes, stage: str) -> Iterator:
    """Yield from ``items``, charging the time spent producing each video frame to ``stage``."""
    it = iter(items)
    while True:
        t0 = time.perf_counter()
        try:
            item = next(it)
        except StopIteration:
            return
        if isinstance(item, Frame):
            times.add(stage, time.perf_counter() - t0)
        yield item


def infer_stage(items: Iterator, seg: Segmenter, batch: int, times: StageTimes) -> Iterator:
    """Frames -> (frame, labels at working size) in batches; audio packets pass straight through."""
    pending: list[Frame] = []

    def flush() -> Iterator:
        with times.measure("resize", len(pending)):
            small = [seg.resize(f.image) for f in pending]
        with times.measure("infer", len(pending)):
            labels = seg.model.predict(np.stack(small))
        yield from zip(pending, labels)
        pending.clear()

    for item in items:
        if not isinstance(item, Frame):
            yield item
            continue
        pending.append(item)
        if len(pending) >= batch:
            yield from flush()
    if pending:
        yield from flush()


def check_paths(src: Path, dst: Path, overwrite: bool) -> None:
    if dst.exists() and src.exists() and dst.resolve() == src.resolve():
        raise OutputError(f"output {dst} is the input file; choose another path (the input is never touched)")
    if dst.exists() and not overwrite:
        raise OutputError(f"output {dst} exists; pass -y/--overwrite to replace it")
    if dst.exists() and dst.is_dir():
        raise OutputError(f"output {dst} is a folder")
    if not dst.parent.exists():
        raise OutputError(f"output folder {dst.parent} does not exist")


def segment_video(src: str | Path, dst: str | Path, options: SegmentOptions | None = None, **kw) -> dict:
    """Segment every frame of ``src`` and write the overlay video ``dst``; returns run statistics.

    Keyword arguments override fields of :class:`SegmentOptions`. Raises :class:`SourceError`,
    :class:`OutputError`, :class:`~roadseg.pipeline.infer.ModelError`, :class:`SinkError` before any
    work, and :class:`PipelineError` for a failure midway (the partial output is finalised).
    """
    opts = SegmentOptions(**{**asdict(options or SegmentOptions()), **kw})
    src, dst = Path(src), Path(dst)
    check_paths(src, dst, opts.overwrite)
    seg = Segmenter(opts.model, size=opts.size, providers=opts.providers, threads=opts.threads)
    times = StageTimes()
    with VideoSource(src, audio=opts.audio) as source:
        info = source.info
        sink = VideoSink(dst, width=info.width, height=info.height, fps=info.fps, time_base=info.time_base,
                         codec=opts.codec, crf=opts.crf, preset=opts.preset, audio=source.audio_streams)  # fmt: skip
        overlay = Overlay(palette_lut(seg.palette), alpha=opts.alpha)
        bar = tqdm(total=info.frames, unit="frame", desc=src.name, disable=not opts.progress,
                   dynamic_ncols=True, leave=True)  # fmt: skip

        def write_stage(items: Iterator) -> None:
            try:
                for item in items:
                    if isinstance(item, av.Packet):
                        sink.mux(item)
                        continue
                    frame, labels = item
                    with times.measure("overlay"):
                        out = overlay(frame.image, labels)
                    with times.measure("encode"):
                        sink.write(out, frame.pts, frame.time_base)
                    bar.update(1)
            finally:
                with times.measure("finalise", 0):
                    sink.close()

        t0 = time.perf_counter()
        try:
            run_stages(
                lambda: _timed(source, times, "decode"),
                lambda items: infer_stage(items, seg, opts.batch, times),
                consumer=write_stage,
                queue_size=opts.queue_size,
                names=("decode", "infer", "encode"),
            )
        except StageFailed as exc:
            raise _partial(exc, sink, dst) from exc.error
        finally:
            bar.close()
        seconds = time.perf_counter() - t0
    return {
        "input": str(src),
        "output": str(dst),
        "frames": sink.written,
        "lost_packets": source.lost,
        "seconds": round(seconds, 3),
        "fps": round(sink.written / seconds, 2) if seconds > 0 else None,
        "working_size": list(seg.size),
        "model": str(seg.model.path),
        "providers": seg.model.providers,
        "audio_streams": len(sink.audio_map),
        "stages": times.summary(),
    }


def _partial(exc: StageFailed, sink: VideoSink, dst: Path) -> PipelineError:
    """Decide what is left of a failed run: a playable partial file, or nothing."""
    cause = exc.error
    reason = str(cause) if isinstance(cause, (SinkError, SourceError)) else f"{cause.__class__.__name__}: {cause}"
    if sink.written > 0 and isinstance(cause, Exception) and not isinstance(cause, SinkError):
        msg = f"{exc.stage} failed: {reason}; kept a playable partial output of {sink.written} frames at {dst}"
        return PipelineError(msg, kept=True, frames=sink.written)
    dst.unlink(missing_ok=True)
    return PipelineError(f"{exc.stage} failed: {reason}; removed the unfinished output {dst}", kept=False, frames=0)


__all__ = ["OutputError", "PipelineError", "SegmentOptions", "segment_video"]
