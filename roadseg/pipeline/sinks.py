"""Video sinks: PyAV encoding that keeps source timestamps and remuxes audio untouched.

Example:
    >>> import numpy as np
    >>> from fractions import Fraction
    >>> with VideoSink("/tmp/doc.mp4", width=64, height=48, fps=Fraction(25)) as sink:
    ...     for i in range(5):
    ...         sink.write(np.zeros((48, 64, 3), np.uint8), pts=i, time_base=Fraction(1, 25))
    >>> sink.written
    5
"""

from __future__ import annotations

import logging
import threading
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

log = logging.getLogger("roadseg")


class SinkError(OSError):
    """The output cannot be written (bad path, unsupported codec, disk full ...)."""


HARDWARE_ENCODERS = ("_nvenc", "_qsv", "_vaapi", "_amf", "_videotoolbox")


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


class VideoSink:
    """Encode RGB frames into a video file (H.264 yuv420p mp4 by default).

    Args:
        path: output file; its extension picks the container.
        width, height: frame size; odd sizes are padded to even (see :func:`even_size`).
        fps: nominal frame rate (used when a frame has no timestamp).
        time_base: encoder time base; pass the source stream's to keep its timestamps exactly.
        codec, crf, preset: encoder and its quality/speed settings.
        audio: input audio streams to remux (copied packet for packet, never re-encoded).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        width: int,
        height: int,
        fps: Fraction | None,
        time_base: Fraction | None = None,
        codec: str = "libx264",
        crf: int = 23,
        preset: str = "superfast",
        audio=(),
    ) -> None:
        self.path = Path(path)
        if codec.endswith(HARDWARE_ENCODERS):
            reason = encoder_usable(codec)
            if reason is not None:
                log.warning("hardware encoder %s is not available here (%s); encoding with libx264", codec, reason)
                codec = "libx264"
        self.codec = codec
        self.fps = Fraction(fps) if fps else Fraction(30)
        self.width, self.height = width, height
        self.out_w, self.out_h = even_size(width, height)
        try:
            self.container = av.open(str(self.path), mode="w")
        except (OSError, av.error.FFmpegError) as exc:
            raise SinkError(f"cannot create output {self.path}: {_reason(exc)}") from None
        try:
            self.stream = self.container.add_stream(codec, rate=self.fps)
            self.stream.width, self.stream.height = self.out_w, self.out_h
            self.stream.pix_fmt = "yuv420p"
            self.stream.codec_context.time_base = Fraction(time_base) if time_base else 1 / self.fps
            opts = {"crf": str(crf)}
            if codec in ("libx264", "libx265"):
                opts["preset"] = preset
            self.stream.options = opts
            self.audio_map = {a.index: self.container.add_stream_from_template(a) for a in audio}
        except Exception as exc:
            self.container.close()
            self.path.unlink(missing_ok=True)
            raise SinkError(f"cannot set up encoder {codec!r} for {self.path}: {_reason(exc)}") from None
        self.written = 0
        self._last_pts: int | None = None
        self._closed = False
        self._lock = threading.Lock()  # close() may come from another thread (Ctrl-C)

    def __enter__(self) -> VideoSink:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def write(self, image: np.ndarray, pts: int | None = None, time_base: Fraction | None = None) -> None:
        """Encode one RGB uint8 [H,W,3] frame at ``pts`` (in ``time_base``; ``None`` = next by rate)."""
        with self._lock:
            if not self._closed:
                self._write(image, pts, time_base)

    def _write(self, image: np.ndarray, pts: int | None, time_base: Fraction | None) -> None:
        if image.shape[1] != self.out_w or image.shape[0] != self.out_h:
            pad = ((0, self.out_h - image.shape[0]), (0, self.out_w - image.shape[1]), (0, 0))
            image = np.pad(image, pad, mode="edge")
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        tb = self.stream.codec_context.time_base
        if pts is None or time_base is None:
            pts = round(self.written / (self.fps * tb))
        else:
            pts = round(pts * Fraction(time_base) / tb)
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1  # duplicate or backwards timestamps would make the encoder fail
        self._last_pts = pts
        frame.pts, frame.time_base = pts, tb
        self._encode(frame)
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


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc).split("\n")[0] or exc.__class__.__name__


class ImageSink:
    """Write output pictures as image files: into a folder (one per input name) or one file.

    Args:
        path: a folder (created if missing) or, for a single input image, a file name.
        names: the input file names; outputs keep their stems (``.png`` unless ``path`` is a file).
    """

    def __init__(self, path: str | Path, names: list[str]) -> None:
        self.path, self.names = Path(path), names
        self.single = len(names) == 1 and self.path.suffix != "" and not self.path.is_dir()
        if not self.single:
            try:
                self.path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise SinkError(f"cannot create output folder {self.path}: {_reason(exc)}") from None
        self.written = 0
        self.audio_map: dict = {}

    def target(self, index: int) -> Path:
        return self.path if self.single else self.path / (Path(self.names[index]).stem + ".png")

    def write_indexed(self, index: int, image: np.ndarray) -> None:
        import cv2

        target = self.target(index)
        ok = cv2.imwrite(str(target), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        if not ok:
            raise SinkError(f"cannot write {target}")
        self.written += 1

    def mux(self, packet) -> None:
        return None

    def close(self) -> None:
        return None


class MaskWriter:
    """One lossless 8-bit PNG per frame in ``folder``, pixel value = class index."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SinkError(f"cannot create masks folder {self.folder}: {_reason(exc)}") from None

    def write(self, name: str, labels: np.ndarray) -> None:
        import cv2

        target = self.folder / f"{name}.png"
        if not cv2.imwrite(str(target), labels):
            raise SinkError(f"cannot write mask {target}")
