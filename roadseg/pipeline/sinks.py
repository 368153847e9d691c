"""Sinks: where output pictures go. One interface for all of them.

A sink has ``write(image, frame)`` (the output picture and the :class:`~roadseg.pipeline.sources.Frame`
it came from: index, timestamps, capture time, labels), ``close()`` (idempotent; the file is complete
afterwards) and, if it keeps audio, ``mux(packet)``. Every sink is a context manager. Here: a video
file (also the live recording), an image folder and a mask folder, and a window; the browser view
is :class:`~roadseg.pipeline.server.ServeSink`.

Example:
    >>> import numpy as np
    >>> from fractions import Fraction
    >>> with VideoSink("/tmp/doc.mp4", width=64, height=48, fps=Fraction(25)) as sink:
    ...     for i in range(5):
    ...         sink.write(np.zeros((48, 64, 3), np.uint8))      # no frame: timestamps follow the rate
    >>> sink.written
    5
"""

from __future__ import annotations

import logging
import threading
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from roadseg.errors import OutputError, SinkError, StopRequested
from roadseg.pipeline.infer import resize_labels
from roadseg.pipeline.sources import Frame

log = logging.getLogger("roadseg")
HARDWARE_ENCODERS = ("_nvenc", "_qsv", "_vaapi", "_amf", "_videotoolbox")


class Sink:
    """The sink interface; ``name`` is the stage its time is charged to in the run's timings."""

    name = "write"

    def write(self, image: np.ndarray, frame: Frame) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Finish the output; safe to call more than once, from any thread."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc).split("\n")[0] or exc.__class__.__name__


def check_output_path(src: Path, dst: Path, overwrite: bool) -> None:
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


def encoder_usable(codec: str, width: int = 64, height: int = 48) -> str | None:
    """``None`` if ``codec`` opens here, else the reason (a hardware encoder without its device)."""
    import io

    try:
        with av.open(io.BytesIO(), mode="w", format="mp4") as probe:
            stream = probe.add_stream(codec, rate=30)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.codec_context.open()
    except Exception as exc:  # PermissionError, FFmpegError, ValueError: all mean "not here"
        return str(exc).split("\n")[0] or exc.__class__.__name__
    return None


def even_size(width: int, height: int) -> tuple[int, int]:
    """yuv420p needs even dimensions: odd ones are padded by one pixel (edge replicated)."""
    return width + width % 2, height + height % 2


class VideoSink(Sink):
    """Encode RGB frames into a video file (H.264 yuv420p mp4 by default), remuxing audio untouched.

    Args:
        path: output file; its extension picks the container.
        width, height: frame size; odd sizes are padded to even (see :func:`even_size`), with a warning.
        fps: nominal frame rate (used when a frame has no timestamp).
        time_base: encoder time base; pass the source stream's to keep its timestamps exactly.
        codec, crf, preset: encoder and its quality/speed settings.
        audio: input audio streams to remux (copied packet for packet, never re-encoded).
        wall_clock: stamp frames with their capture time (ms since the first frame), for live recordings.
        label: what the file is called in messages (``output``, ``recording``).
    """

    name = "encode"

    def __init__(self, path: str | Path, *, width: int, height: int, fps: Fraction | None,
                 time_base: Fraction | None = None, codec: str = "libx264", crf: int = 23, preset: str = "superfast",
                 audio=(), wall_clock: bool = False, label: str = "output") -> None:  # fmt: skip
        self.path, self.label, self.wall_clock = Path(path), label, wall_clock
        if codec.endswith(HARDWARE_ENCODERS) and (reason := encoder_usable(codec)) is not None:
            log.warning("hardware encoder %s is not available here (%s); encoding with libx264", codec, reason)
            codec = "libx264"
        self.codec = codec
        self.fps = Fraction(fps) if fps else Fraction(30)
        self.width, self.height = width, height
        self.out_w, self.out_h = even_size(width, height)
        if (self.out_w, self.out_h) != (width, height):
            log.warning("%dx%d is odd-sized; padded to %dx%d (H.264 yuv420p needs even sizes)",
                        width, height, self.out_w, self.out_h)  # fmt: skip
        try:
            self.container = av.open(str(self.path), mode="w")
        except (OSError, av.error.FFmpegError) as exc:
            raise SinkError(f"cannot create output {self.path}: {_reason(exc)}") from None
        try:
            self.stream = self.container.add_stream(codec, rate=self.fps)
            self.stream.width, self.stream.height = self.out_w, self.out_h
            self.stream.pix_fmt = "yuv420p"
            tb = Fraction(1, 1000) if wall_clock else time_base
            self.stream.codec_context.time_base = Fraction(tb) if tb else 1 / self.fps
            self.stream.options = {"crf": str(crf), **({"preset": preset} if codec in ("libx264", "libx265") else {})}
            self.audio_map = {a.index: self.container.add_stream_from_template(a) for a in audio}
        except Exception as exc:
            self.container.close()
            self.path.unlink(missing_ok=True)
            raise SinkError(f"cannot set up encoder {codec!r} for {self.path}: {_reason(exc)}") from None
        self.written = 0
        self.audio_dropped = 0  # audio packets the muxer refused (none are dropped yet: a refusal fails the run)
        self._t0: float | None = None
        self._last_pts: int | None = None
        self._closed = False
        self._lock = threading.Lock()  # close() may come from another thread (Ctrl-C)

    def write(self, image: np.ndarray, frame: Frame | None = None) -> None:
        """Encode one RGB uint8 [H,W,3] picture at ``frame``'s timestamp (no frame: the next by rate)."""
        with self._lock:
            if not self._closed:
                self._write(image, frame)

    def _timestamp(self, frame: Frame | None) -> int:
        tb = self.stream.codec_context.time_base
        if frame is not None and self.wall_clock and frame.captured is not None:
            self._t0 = frame.captured if self._t0 is None else self._t0
            return round((frame.captured - self._t0) * 1000)
        if frame is None or frame.pts is None or frame.time_base is None:
            return round(self.written / (self.fps * tb))
        return round(frame.pts * Fraction(frame.time_base) / tb)

    def _write(self, image: np.ndarray, frame: Frame | None) -> None:
        if image.shape[1] != self.out_w or image.shape[0] != self.out_h:
            pad = ((0, self.out_h - image.shape[0]), (0, self.out_w - image.shape[1]), (0, 0))
            image = np.pad(image, pad, mode="edge")
        vf = av.VideoFrame.from_ndarray(image, format="rgb24")
        pts = self._timestamp(frame)
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1  # duplicate or backwards timestamps would make the encoder fail
        self._last_pts = pts
        vf.pts, vf.time_base = pts, self.stream.codec_context.time_base
        self._encode(vf)
        self.written += 1

    def mux(self, packet: av.Packet) -> None:
        """Remux one audio packet of a stream given as ``audio``; packets of other streams are ignored."""
        stream = self.audio_map.get(packet.stream.index)
        if stream is None:
            return
        with self._lock:
            if self._closed:
                return
            packet.stream = stream
            try:
                self.container.mux(packet)
            except (OSError, av.error.FFmpegError) as exc:
                raise SinkError(f"cannot write audio to {self.path}: {_reason(exc)}") from None

    def _encode(self, frame) -> None:
        try:
            for packet in self.stream.encode(frame):
                self.container.mux(packet)
        except (OSError, av.error.FFmpegError) as exc:
            raise SinkError(f"cannot write {self.path}: {_reason(exc)}") from None

    def close(self) -> None:
        """Flush the encoder and write the container trailer: the file is playable afterwards."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._encode(None)
            finally:
                try:
                    self.container.close()
                except (OSError, av.error.FFmpegError) as exc:
                    raise SinkError(f"cannot finish {self.path}: {_reason(exc)}") from None

    def finish(self, keep: bool) -> bool:
        """After a failed or interrupted run: finalise the frames written (``keep``), or remove the file.

        Returns whether a playable file with at least one frame was kept.
        """
        if keep and self.written > 0:
            try:
                self.close()
                return True
            except SinkError:
                pass
        try:
            self.close()
        except SinkError:
            pass
        self.path.unlink(missing_ok=True)
        return False


class ImageSink(Sink):
    """Write output pictures as image files: into a folder (one per input name) or one file.

    Args:
        path: a folder (created if missing) or, for a single input image, a file name.
        names: the input file names; outputs keep their stems (``.png`` unless ``path`` is a file).
    """

    name = "encode"
    label = "images"

    def __init__(self, path: str | Path, names: list[str]) -> None:
        self.path, self.names = Path(path), names
        self.single = len(names) == 1 and self.path.suffix != "" and not self.path.is_dir()
        if not self.single:
            try:
                self.path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise SinkError(f"cannot create output folder {self.path}: {_reason(exc)}") from None
        self.written = 0

    def target(self, index: int) -> Path:
        return self.path if self.single else self.path / (Path(self.names[index]).stem + ".png")

    def check_targets(self, src: Path, overwrite: bool) -> None:
        """Refuse to replace the input image, or an existing output without -y, before any work."""
        for i in range(len(self.names)):
            target = self.target(i)
            if target.exists() and src.exists() and src.is_file() and target.resolve() == src.resolve():
                raise OutputError(f"output {target} is the input file; choose another path")
            if target.exists() and not overwrite:
                raise OutputError(f"output {target} exists; pass -y/--overwrite to replace it")

    def write(self, image: np.ndarray, frame: Frame) -> None:
        target = self.target(frame.index)
        if not cv2.imwrite(str(target), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
            raise SinkError(f"cannot write {target}")
        self.written += 1

    def finish(self, keep: bool) -> bool:
        """Images already written stay; returns whether there are any."""
        return self.written > 0


class MaskSink(Sink):
    """One lossless 8-bit PNG per frame in ``folder``, pixel value = class index, at the frame's size.

    Files are named after the input images (``names``) or numbered (``000000.png``); the output
    picture passed to ``write`` is not used, the frame's labels are.
    """

    name = "masks"

    def __init__(self, folder: str | Path, names: list[str] | None = None) -> None:
        self.folder, self.names = Path(folder), names
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SinkError(f"cannot create masks folder {self.folder}: {_reason(exc)}") from None

    def write(self, image: np.ndarray, frame: Frame) -> None:
        assert frame.labels is not None, "masks are written from inferred frames"
        name = Path(self.names[frame.index]).stem if self.names else f"{frame.index:06d}"
        target = self.folder / f"{name}.png"
        if not cv2.imwrite(str(target), resize_labels(frame.labels, *frame.image.shape[:2])):
            raise SinkError(f"cannot write mask {target}")


class WindowSink(Sink):
    """An OpenCV window; q or Esc ends the run. Needs a GUI build of OpenCV and a display."""

    name = "display"

    def __init__(self, title: str = "roadseg") -> None:
        self.title, self._closed = title, False
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        except cv2.error:
            raise SinkError("--show needs OpenCV with GUI support and a display: pip install opencv-python "
                            "(instead of opencv-python-headless), or use --serve HOST:PORT") from None  # fmt: skip

    def write(self, image: np.ndarray, frame: Frame) -> None:
        cv2.imshow(self.title, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
            raise StopRequested()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                cv2.destroyWindow(self.title)
            except cv2.error:
                pass
