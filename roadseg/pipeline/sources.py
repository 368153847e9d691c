"""Sources: a video file or a set of images as :class:`Frame` objects that keep their timestamps.

Every source is a context manager and iterable of frames with ``.info`` (a :class:`VideoInfo`),
``.live`` (False here: a file blocks rather than drops), ``.kind``, ``.lost`` (packets that failed
to decode), ``.audio_streams`` (carried along for remuxing) and ``expected_frames()``. Cameras,
streams and ``--live`` files are in :mod:`roadseg.pipeline.capture`; both open containers through
:func:`open_container`.

Example:
    >>> info = VideoInfo.from_path("sample_videos/road.mp4")
    >>> info.width, info.height, info.frames
    (960, 540, 150)
    >>> with VideoSource("sample_videos/road.mp4", audio=False) as src:
    ...     first = next(iter(src))
    >>> first.image.shape, first.index, src.live
    ((540, 960, 3), 0, False)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from roadseg.errors import SourceError

log = logging.getLogger("roadseg")


@dataclass(frozen=True)
class Frame:
    """One picture: RGB uint8 [H,W,3], its index, its presentation timestamp and, once inferred, its labels."""

    index: int
    image: np.ndarray
    pts: int | None
    time_base: Fraction | None
    captured: float | None = None  # time.monotonic() when a live source delivered it
    labels: np.ndarray | None = None  # class indices at the working size, set by the infer stage

    @property
    def time(self) -> float | None:
        return None if self.pts is None or self.time_base is None else float(self.pts * self.time_base)


@dataclass(frozen=True)
class VideoInfo:
    """What a source says about its pictures (for a video: its first video stream and its audio streams)."""

    path: str
    width: int
    height: int
    fps: Fraction | None
    time_base: Fraction | None
    frames: int | None
    duration: float | None
    codec: str
    pix_fmt: str | None
    audio_streams: int

    @classmethod
    def from_path(cls, path: str | Path) -> VideoInfo:
        with open_container(str(path)) as container:
            return cls.from_container(container, str(path))

    @classmethod
    def from_container(cls, container, path: str) -> VideoInfo:
        s = container.streams.video[0]
        duration = None
        if s.duration is not None and s.time_base is not None:
            duration = float(s.duration * s.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        fps = s.average_rate or s.guessed_rate
        frames = s.frames or (round(duration * fps) if duration and fps else None)
        return cls(
            path=path,
            width=s.codec_context.width,
            height=s.codec_context.height,
            fps=Fraction(fps) if fps else None,
            time_base=Fraction(s.time_base) if s.time_base else Fraction(1, 90000),
            frames=frames,
            duration=duration,
            codec=s.codec_context.name,
            pix_fmt=s.codec_context.format.name if s.codec_context.format else None,
            audio_streams=len(container.streams.audio),
        )


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__


def open_container(target: str, *, what: str = "file", format: str | None = None, options: dict | None = None,
                   timeout: tuple[float, float] | None = None, hwaccel: str | None = None):  # fmt: skip
    """``av.open`` for reading, with a one-line :class:`SourceError` for everything that can go wrong.

    ``what`` names the input in messages (``file``, ``camera``, ``stream``); a local file is checked
    for existence and size first. ``hwaccel`` decodes on a hardware device and falls back to the CPU
    with one warning line where there is none.
    """
    if what == "file":
        p = Path(target)
        if not p.exists():
            raise SourceError(f"input not found: {p}")
        if p.is_dir():
            raise SourceError(f"input is a folder, not a video file: {p}")
        if p.stat().st_size == 0:
            raise SourceError(f"input is empty (0 bytes): {p}")
    kw: dict = {"format": format, "options": options or {}, "timeout": timeout}
    container = None
    if hwaccel:
        from av.codec.hwaccel import HWAccel

        try:
            container = av.open(target, hwaccel=HWAccel(device_type=hwaccel, allow_software_fallback=True), **kw)
        except Exception as exc:  # no device, no driver, not permitted: decode on the CPU instead
            log.warning("hardware decoding (%s) is not available here (%s); decoding on the CPU",
                        hwaccel, _first_line(exc))  # fmt: skip
    try:
        container = container or av.open(target, **kw)
    except (av.error.FFmpegError, OSError) as exc:
        if what == "file":
            raise SourceError(f"not a readable video: {target} ({exc.__class__.__name__})") from None
        raise SourceError(f"cannot open {what} {target}: {_first_line(exc)}") from None
    if not container.streams.video:
        container.close()
        raise SourceError(f"no video stream in {target}" if what == "file" else f"no video stream in {what} {target}")
    container.streams.video[0].thread_type = "AUTO"  # frame/slice threads, FFmpeg picks the count
    return container


class VideoSource:
    """Decode a file's first video stream; audio packets pass through untouched, in file order.

    Iterating yields :class:`Frame` objects (upright: rotation metadata is applied) and, when
    ``audio=True``, the ``av.Packet`` objects of the audio streams, so that a sink can remux them.

    Args:
        path: the input file.
        audio: also yield the audio packets.
        start: seconds to skip; output timestamps are shifted so the clip starts at ``start``'s frame.
        duration: seconds to keep after ``start`` (``None`` = to the end).
        hwaccel: decode on a hardware device (``cuda``, ``qsv`` ...); falls back to the CPU with a
            one-line warning where the device is missing.
    """

    live = False
    kind = "file"

    def __init__(self, path: str | Path, *, audio: bool = True, start: float = 0.0, duration: float | None = None,
                 hwaccel: str | None = None) -> None:  # fmt: skip
        self.path = Path(path)
        self.container = open_container(str(self.path), hwaccel=hwaccel)
        self.stream = self.container.streams.video[0]
        self.audio_streams = list(self.container.streams.audio) if audio else []
        self.start, self.duration = max(0.0, start), duration
        self.lost = 0
        self.decoded = 0
        self.rotation = 0
        self._gen = self._generate()
        self._peeked: list = []
        try:
            self._peek()
        except BaseException:
            self.container.close()
            raise
        first = self._peeked[-1].image
        base = VideoInfo.from_container(self.container, str(self.path))
        self.info = replace(base, width=first.shape[1], height=first.shape[0])
        if self.rotation:
            log.warning("rotation metadata %d°: segmenting and writing the upright picture", self.rotation)

    def _peek(self) -> None:
        """Decode up to the first frame now: its rotation and size shape the output."""
        for item in self._gen:
            self._peeked.append(item)
            if isinstance(item, Frame):
                return
        if self.start:
            raise SourceError(f"no video frames after --start {self.start:g}s in {self.path}")
        raise SourceError(f"no decodable video frames in {self.path}")

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.container.close()

    def expected_frames(self) -> int | None:
        """Frames the container promises between ``start`` and ``start + duration`` (None when unknown)."""
        info = self.info
        if info.frames is None or info.fps is None:
            return None
        left = max(0.0, (info.duration or 0) - self.start) if info.duration else None
        if self.duration is not None:
            left = self.duration if left is None else min(left, self.duration)
        return info.frames if left is None else min(info.frames, round(left * float(info.fps)))

    def __iter__(self) -> Iterator[Frame | av.Packet]:
        peeked, self._peeked = self._peeked, []
        yield from peeked
        yield from self._gen

    def _generate(self) -> Iterator[Frame | av.Packet]:
        end = None if self.duration is None else self.start + self.duration
        if self.start > 0:
            self.container.seek(int(self.start * av.time_base), backward=True, any_frame=False)
        for packet in self.container.demux(self.stream, *self.audio_streams):
            if packet.stream.type == "audio":
                if packet.dts is not None and packet.pts is not None and self._keep_audio(packet, end):
                    yield packet
                continue
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                self.lost += 1  # corrupt data: keep what decodes, count what does not
                continue
            for vf in frames:
                t = None if vf.pts is None or vf.time_base is None else float(vf.pts * vf.time_base)
                if t is not None and t < self.start - 1e-6:
                    continue
                if end is not None and t is not None and t >= end - 1e-6:
                    return
                yield self._frame(vf)

    def _keep_audio(self, packet: av.Packet, end: float | None) -> bool:
        t = float(packet.pts * packet.time_base)
        if (self.start and t < self.start - 1e-6) or (end is not None and t >= end):
            return False  # (without --start every packet is kept: AAC priming packets have pts < 0)
        if self.start:
            shift = round(self.start / packet.time_base)
            packet.pts -= shift
            packet.dts -= shift
        return True

    def _frame(self, vf) -> Frame:
        image = vf.to_ndarray(format="rgb24")
        rotation = int(round(getattr(vf, "rotation", 0) or 0)) % 360
        if rotation:
            self.rotation = rotation
            image = np.ascontiguousarray(np.rot90(image, k=rotation // 90))
        pts = vf.pts
        if pts is not None and self.start and vf.time_base is not None:
            pts -= round(self.start / vf.time_base)
        frame = Frame(self.decoded, image, pts, vf.time_base)
        self.decoded += 1
        return frame


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def is_image_input(spec: str | Path) -> bool:
    """An image file, a folder, or a glob pattern (rather than a video)."""
    text = str(spec)
    if any(ch in text for ch in "*?["):
        return True
    p = Path(text)
    return p.is_dir() or p.suffix.lower() in IMAGE_SUFFIXES


def image_paths(spec: str | Path) -> list[Path]:
    """The image files an image input names, sorted; SourceError if there are none."""
    text = str(spec)
    if any(ch in text for ch in "*?["):
        import glob

        paths = [Path(p) for p in sorted(glob.glob(text))]
    elif Path(text).is_dir():
        paths = sorted(Path(text).iterdir())
    else:
        if not Path(text).exists():
            raise SourceError(f"input not found: {text}")
        paths = [Path(text)]
    paths = [p for p in paths if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if not paths:
        raise SourceError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {text}")
    return paths


def read_image(path: Path) -> np.ndarray:
    """An image file as RGB uint8 [H,W,3]; :class:`SourceError` naming the file if it cannot be read."""
    import cv2

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SourceError(f"cannot read image {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


class ImageSource:
    """Images as frames, in name order; ``names[i]`` is the file of frame ``i``; ``.info`` describes the first."""

    live = False
    kind = "images"
    audio_streams = ()

    def __init__(self, spec: str | Path) -> None:
        self.paths = image_paths(spec)
        self.names = [p.name for p in self.paths]
        self.lost = 0
        self._first = read_image(self.paths[0])
        h, w = self._first.shape[:2]
        self.info = VideoInfo(path=str(spec), width=w, height=h, fps=None, time_base=None, frames=len(self.paths),
                              duration=None, codec="image", pix_fmt="rgb24", audio_streams=0)  # fmt: skip

    def __enter__(self) -> ImageSource:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def expected_frames(self) -> int:
        return len(self.paths)

    def __iter__(self) -> Iterator[Frame]:
        for i, p in enumerate(self.paths):
            image = self._first if i == 0 else read_image(p)
            yield Frame(i, image, None, None)
