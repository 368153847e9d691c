"""Video sources: PyAV decoding into RGB frames that keep their timestamps.

Example:
    >>> info = VideoInfo.from_path("sample_videos/road.mp4")
    >>> info.width, info.height, info.frames
    (960, 540, 150)
    >>> with VideoSource("sample_videos/road.mp4", audio=False) as src:
    ...     first = next(iter(src))
    >>> first.image.shape, first.index
    ((540, 960, 3), 0)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


class SourceError(ValueError):
    """The input cannot be read as a video (missing, empty, not a video, no video stream)."""


@dataclass(frozen=True)
class Frame:
    """One decoded picture: RGB uint8 [H,W,3], its index and its presentation timestamp."""

    index: int
    image: np.ndarray
    pts: int | None
    time_base: Fraction | None

    @property
    def time(self) -> float | None:
        return None if self.pts is None or self.time_base is None else float(self.pts * self.time_base)


@dataclass(frozen=True)
class VideoInfo:
    """What a file says about its first video stream (and how many audio streams ride along)."""

    path: str
    width: int
    height: int
    fps: Fraction | None
    time_base: Fraction
    frames: int | None
    duration: float | None
    codec: str
    pix_fmt: str | None
    audio_streams: int

    @classmethod
    def from_path(cls, path: str | Path) -> VideoInfo:
        with _open(path) as container:
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


def _open(path: str | Path):
    p = Path(path)
    if not p.exists():
        raise SourceError(f"input not found: {p}")
    if p.is_dir():
        raise SourceError(f"input is a folder, not a video file: {p}")
    if p.stat().st_size == 0:
        raise SourceError(f"input is empty (0 bytes): {p}")
    try:
        container = av.open(str(p), mode="r")
    except (av.error.InvalidDataError, av.error.FFmpegError) as exc:
        raise SourceError(f"not a readable video: {p} ({exc.__class__.__name__})") from None
    if not container.streams.video:
        container.close()
        raise SourceError(f"no video stream in {p}")
    return container


class VideoSource:
    """Decode a file's first video stream; audio packets pass through untouched, in file order.

    Iterating yields :class:`Frame` objects and (when ``audio=True``) ``av.Packet`` objects of the
    audio streams, so that a sink can remux them. ``lost`` counts packets that failed to decode.

    Args:
        path: the input file.
        audio: also yield the audio packets.
        threads: ``AUTO`` frame/slice threading of the decoder (FFmpeg picks the count).
    """

    def __init__(self, path: str | Path, *, audio: bool = True, threads: bool = True) -> None:
        self.path = Path(path)
        self.container = _open(self.path)
        self.info = VideoInfo.from_container(self.container, str(self.path))
        self.stream = self.container.streams.video[0]
        if threads:
            self.stream.thread_type = "AUTO"
        self.audio_streams = list(self.container.streams.audio) if audio else []
        self.lost = 0
        self.decoded = 0

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.container.close()

    def __iter__(self) -> Iterator[Frame | av.Packet]:
        for packet in self.container.demux(self.stream, *self.audio_streams):
            if packet.stream.type == "audio":
                if packet.dts is not None:
                    yield packet
                continue
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                self.lost += 1  # corrupt data: keep what decodes, count what does not
                continue
            for vf in frames:
                image = vf.to_ndarray(format="rgb24")
                yield Frame(self.decoded, image, vf.pts, vf.time_base)
                self.decoded += 1
