"""``segment_video``: decode -> infer -> overlay/encode, each stage in its own thread.

Example:
    >>> stats = segment_video("sample_videos/road.mp4", "/tmp/road-seg.mp4", size=(90, 120),
    ...                       duration=1.0, overwrite=True, progress=False)
    >>> stats["frames"]
    30
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import av
import cv2
import numpy as np
from tqdm import tqdm

from roadseg.pipeline.infer import Segmenter
from roadseg.pipeline.overlay import Overlay, class_shares, output_size, palette_lut
from roadseg.pipeline.runner import StageFailed, run_stages
from roadseg.pipeline.sinks import ImageSink, MaskWriter, SinkError, VideoSink
from roadseg.pipeline.sources import Frame, ImageSource, SourceError, VideoSource, is_image_input

log = logging.getLogger("roadseg")


class OutputError(ValueError):
    """The output path is unusable before any work starts (exists, equals the input ...)."""


class PipelineError(RuntimeError):
    """A run failed midway; ``kept`` says whether a playable partial output was left."""

    def __init__(self, message: str, *, kept: bool, frames: int) -> None:
        super().__init__(message)
        self.kept, self.frames = kept, frames


class Interrupted(KeyboardInterrupt):
    """The run was stopped by SIGINT/SIGTERM; the frames done were finalised into ``output``."""

    def __init__(self, message: str, *, frames: int, signal_name: str = "SIGINT") -> None:
        super().__init__(message)
        self.message, self.frames, self.signal_name = message, frames, signal_name


@dataclass(frozen=True)
class SegmentOptions:
    """Everything ``segment-video`` can be told; the CLI builds one of these."""

    model: str | None = None
    size: tuple[int, int] | None = None
    alpha: float = 0.5
    mode: str = "overlay"
    legend: bool = False
    masks_dir: str | None = None
    frame_stats: bool = False
    batch: int = 1
    providers: str = "auto"
    threads: int = 0
    codec: str = "libx264"
    crf: int = 23
    preset: str = "superfast"
    audio: bool = True
    hwaccel: str | None = None
    start: float = 0.0
    duration: float | None = None
    overwrite: bool = False
    progress: bool = True
    queue_size: int = 8


def _timed(items: Iterable, times, stage: str) -> Iterator:
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


def infer_stage(items: Iterator, seg: Segmenter, batch: int, times) -> Iterator:
    """Frames -> (frame, labels at working size) in batches; audio packets pass straight through."""
    pending: list[Frame] = []

    def flush() -> Iterator:
        with times.measure("resize", len(pending)):
            small = np.stack([seg.resize(f.image) for f in pending])
        with times.measure("infer", len(pending)):
            labels = seg.model.predict(small)
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
    """Refuse outputs that would touch the input, clobber a file without -y, or cannot be made."""
    if dst.exists() and src.exists() and dst.resolve() == src.resolve():
        raise OutputError(f"output {dst} is the input file; choose another path (the input is never touched)")
    if dst.is_file() and not overwrite:
        raise OutputError(f"output {dst} exists; pass -y/--overwrite to replace it")
    if not dst.parent.is_dir():
        raise OutputError(f"output folder {dst.parent} does not exist")
    existed = dst.exists()
    try:  # find out now, not after minutes of work, that the file cannot be written
        with open(dst, "ab"):
            pass
    except OSError as exc:
        raise OutputError(f"cannot create output {dst}: {exc.strerror or exc}") from None
    if not existed:
        dst.unlink(missing_ok=True)


class _Writer:
    """The last stage: overlay, encode (or write images), masks, per-frame stats, progress."""

    def __init__(self, sink, overlay: Overlay, seg: Segmenter, times, bar, opts: SegmentOptions,
                 names: list[str] | None = None) -> None:  # fmt: skip
        self.sink, self.overlay, self.seg, self.times, self.bar = sink, overlay, seg, times, bar
        self.masks = MaskWriter(opts.masks_dir) if opts.masks_dir else None
        self.frame_stats = opts.frame_stats
        self.names = names
        self.per_frame: list[dict] = []

    def __call__(self, items: Iterator) -> None:
        try:
            for item in items:
                if isinstance(item, av.Packet):
                    self.sink.mux(item)
                else:
                    self.write(*item)
        finally:
            with self.times.measure("finalise", 0):
                self.sink.close()

    def write(self, frame: Frame, labels: np.ndarray) -> None:
        with self.times.measure("overlay"):
            out = self.overlay(frame.image, labels)
        with self.times.measure("encode"):
            if isinstance(self.sink, ImageSink):
                self.sink.write_indexed(frame.index, out)
            else:
                self.sink.write(out, frame.pts, frame.time_base)
        if self.masks is not None:
            with self.times.measure("masks"):
                h, w = frame.image.shape[:2]
                full = cv2.resize(labels, (w, h), interpolation=cv2.INTER_NEAREST)
                name = Path(self.names[frame.index]).stem if self.names else f"{frame.index:06d}"
                self.masks.write(name, full)
        if self.frame_stats:
            self.per_frame.append({"index": frame.index, "time": frame.time,
                                   "shares": class_shares(labels, len(self.seg.classes))})  # fmt: skip
        self.bar.update(1)


def segment_video(src: str | Path, dst: str | Path, options: SegmentOptions | None = None, **kw) -> dict:
    """Segment every frame of ``src`` (a video, an image, a folder or a glob) into ``dst``; return run stats.

    Keyword arguments override fields of :class:`SegmentOptions`. Raises :class:`SourceError`,
    :class:`OutputError`, :class:`~roadseg.pipeline.infer.ModelError` or :class:`SinkError` before
    any work; :class:`PipelineError` for a failure midway (a playable partial output is kept, or the
    unfinished file removed, and the message says which); :class:`Interrupted` on Ctrl-C/SIGTERM.
    """
    from roadseg.pipeline.timing import StageTimes

    opts = SegmentOptions(**{**asdict(options or SegmentOptions()), **kw})
    dst = Path(dst)
    images = is_image_input(src)
    if not images:
        check_paths(Path(src), dst, opts.overwrite)
    seg = Segmenter(opts.model, size=opts.size, providers=opts.providers, threads=opts.threads)
    overlay = Overlay(palette_lut(seg.palette), alpha=opts.alpha, mode=opts.mode,
                      legend=seg.classes if opts.legend else None)  # fmt: skip
    times = StageTimes()
    source = ImageSource(src) if images else VideoSource(src, audio=opts.audio, start=opts.start, duration=opts.duration,
                                                                 hwaccel=opts.hwaccel)
    with source:
        if images:
            sink = ImageSink(dst, source.names)
            _check_image_targets(sink, Path(str(src)), opts.overwrite)
            total, names = len(source.names), source.names
        else:
            info = source.info
            total, names = _expected_frames(info, opts), None
            width, height = output_size(info.width, info.height, opts.mode)
            sink = VideoSink(dst, width=width, height=height, fps=info.fps, time_base=info.time_base,
                             codec=opts.codec, crf=opts.crf, preset=opts.preset, audio=source.audio_streams)  # fmt: skip
            _notices(source, sink)
        bar = tqdm(total=total, unit="frame", desc=Path(str(src)).name, disable=not opts.progress,
                   dynamic_ncols=True, leave=True)  # fmt: skip
        writer = _Writer(sink, overlay, seg, times, bar, opts, names)
        t0 = time.perf_counter()
        try:
            run_stages(lambda: _timed(source, times, "decode"), lambda it: infer_stage(it, seg, opts.batch, times),
                       consumer=writer, queue_size=opts.queue_size, names=("decode", "infer", "encode"))  # fmt: skip
        except StageFailed as exc:
            raise _partial(exc, sink, dst) from exc.error
        except KeyboardInterrupt as exc:
            sink.close()  # waits for the encode thread's current frame, then finalises the file
            raise Interrupted(f"interrupted: finalised a playable {dst} with the {sink.written} frames done",
                              frames=sink.written, signal_name=getattr(exc, "signal_name", "SIGINT")) from None  # fmt: skip
        finally:
            bar.close()
        seconds = time.perf_counter() - t0
    lost = _lost_frames(source, sink.written, total, images)
    if lost:
        log.warning("%d of about %d frames could not be decoded (damaged or truncated input); %s holds the %d that did",
                    lost, total, dst, sink.written)  # fmt: skip
    result = {
        "input": str(src), "output": str(dst), "frames": sink.written, "frames_lost": lost, "lost_packets": source.lost,
        "seconds": round(seconds, 3), "fps": round(sink.written / seconds, 2) if seconds > 0 else None,
        "working_size": list(seg.size), "model": str(seg.model.path), "providers": seg.model.providers,
        "audio_streams": len(sink.audio_map), "classes": list(seg.classes), "stages": times.summary(),
    }  # fmt: skip
    if opts.frame_stats:
        result["per_frame"] = writer.per_frame
    return result


def _expected_frames(info, opts: SegmentOptions) -> int | None:
    if info.frames is None or info.fps is None:
        return None
    left = max(0.0, (info.duration or 0) - opts.start) if info.duration else None
    if opts.duration is not None:
        left = opts.duration if left is None else min(left, opts.duration)
    return info.frames if left is None else min(info.frames, round(left * float(info.fps)))


def _lost_frames(source, written: int, expected: int | None, images: bool) -> int:
    """Frames the container promised but the decoder could not deliver (0 when unknown)."""
    if images or not expected:
        return source.lost
    missing = expected - written
    return missing if missing > max(1, expected // 100) else source.lost


def _notices(source: VideoSource, sink: VideoSink) -> None:
    if source.rotation:
        log.warning("rotation metadata %d°: segmenting and writing the upright picture", source.rotation)
    if (sink.out_w, sink.out_h) != (sink.width, sink.height):
        log.warning("%dx%d is odd-sized; padded to %dx%d (H.264 yuv420p needs even sizes)",
                    sink.width, sink.height, sink.out_w, sink.out_h)  # fmt: skip


def _check_image_targets(sink: ImageSink, src: Path, overwrite: bool) -> None:
    for i in range(len(sink.names)):
        target = sink.target(i)
        if target.exists() and src.exists() and src.is_file() and target.resolve() == src.resolve():
            raise OutputError(f"output {target} is the input file; choose another path")
        if target.exists() and not overwrite:
            raise OutputError(f"output {target} exists; pass -y/--overwrite to replace it")


def _partial(exc: StageFailed, sink, dst: Path) -> PipelineError:
    """Decide what is left of a failed run: a playable partial file, or nothing."""
    cause = exc.error
    reason = str(cause) if isinstance(cause, (SinkError, SourceError)) else f"{cause.__class__.__name__}: {cause}"
    if isinstance(sink, ImageSink):
        return PipelineError(f"{exc.stage} failed: {reason}; {sink.written} images were written to {dst}",
                             kept=sink.written > 0, frames=sink.written)  # fmt: skip
    if sink.written > 0 and not isinstance(cause, SinkError):
        try:
            sink.close()
            msg = f"{exc.stage} failed: {reason}; kept a playable partial output of {sink.written} frames at {dst}"
            return PipelineError(msg, kept=True, frames=sink.written)
        except SinkError:
            pass
    dst.unlink(missing_ok=True)
    return PipelineError(f"{exc.stage} failed: {reason}; removed the unfinished output {dst}", kept=False, frames=0)
