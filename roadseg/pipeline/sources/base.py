"""What every source shares: the :class:`Frame` that flows through the pipeline, :class:`VideoInfo` and the
:class:`Source` interface. Media is opened in ``containers.py`` (:func:`open_container`); what a file's streams
are is read in ``streams.py``, their frame rates in ``framerates.py``, packets' times in ``packets.py``, decoded
frames made pictures in ``pictures.py``, and MP4 boxes FFmpeg does not read (a dashcam's GPS) in ``boxes.py``.

Example:
    >>> info = VideoInfo.from_path("sample_videos/road.mp4")
    >>> info.width, info.height, info.frames
    (960, 540, 150)
    >>> open_container("nope.mp4")
    Traceback (most recent call last):
    roadseg.errors.SourceError: input not found: nope.mp4
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import av
import numpy as np

from roadseg.pipeline.sources.boxes import SensorBox
from roadseg.pipeline.sources.containers import open_container
from roadseg.pipeline.sources.framerates import stated_rate, timed_rate
from roadseg.pipeline.sources.streams import picture_stream, sample_aspect, stream_length

MAX_SECONDS = 10 * 365 * 86400.0  # a duration beyond ten years is damage


@dataclass(frozen=True)
class Frame:
    """One picture: RGB uint8 [H,W,3], its index, its presentation timestamp and, once inferred, its labels."""

    index: int
    image: np.ndarray
    pts: int | None
    time_base: Fraction | None
    captured: float | None = None  # time.monotonic() a live source read its packet at (a file played live: when due)
    #: a live frame's time on that clock by its stream's own timestamps (its connection's first frame's capture
    #: time plus how far the stream went since): what a recording is timed by, as the stream's audio is
    clock: float | None = None
    labels: np.ndarray | None = None  # class indices at the working size, set by the infer stage

    @property
    def time(self) -> float | None:
        return None if self.pts is None or self.time_base is None else float(self.pts * self.time_base)


@dataclass(frozen=True)
class VideoInfo:
    """What a source says about its pictures (for a video: its video stream and its audio streams)."""

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
    sample_aspect: Fraction | None = None  # pixels' width:height where not square (anamorphic video)
    tags: Mapping[str, str] = field(default_factory=dict)  # the container's (creation_time, location ...)
    video_tags: Mapping[str, str] = field(default_factory=dict)  # the video stream's (language ...)
    #: the rate its pictures' timestamps step at (:func:`timed_rate`): an output that times its pictures by the
    #: frame is written at it (``fps``, the header's, where unknown)
    timed_fps: Fraction | None = None

    @classmethod
    def from_path(cls, path: str | Path) -> VideoInfo:
        with open_container(str(path)) as container:
            return cls.from_container(container, str(path))

    @classmethod
    def from_container(cls, container, path: str, stream=None) -> VideoInfo:
        """Read the parameters of ``stream`` (by default the video stream, :func:`picture_stream`);
        values a damaged header makes absurd (a rate of a frame a week, a time base of hours, a
        negative duration) are left unknown instead, as are size and codec where it has no codec at all
        (width and height 0, codec "")."""
        s = stream or picture_stream(container)
        cc = s.codec_context  # (None where a damaged header names no codec: nothing decodes it)
        duration = stream_length(s)
        if duration is None and container.duration is not None:
            duration = container.duration / av.time_base
        duration = duration if duration is not None and 0 < duration < MAX_SECONDS else None
        fps = stated_rate(s)
        frames = s.frames if s.frames and s.frames > 0 else (round(duration * fps) if duration and fps else None)
        return cls(
            path=path,
            width=cc.width if cc is not None else 0,
            height=cc.height if cc is not None else 0,
            fps=fps,
            time_base=Fraction(s.time_base) if s.time_base and 0 < s.time_base <= 1 else Fraction(1, 90000),
            frames=frames,
            duration=duration,
            codec=cc.name if cc is not None else "",
            pix_fmt=cc.format.name if cc is not None and cc.format else None,
            audio_streams=len(container.streams.audio),
            sample_aspect=sample_aspect(s),
            tags=dict(container.metadata),
            video_tags=dict(s.metadata),
            timed_fps=timed_rate(s),
        )


class Source(Protocol):
    """What the run needs of a source (``VideoSource``, ``ImageSource``, ``LiveSource``)."""

    info: VideoInfo
    live: bool  # True: consume through a newest-frame slot (drop, never block)
    kind: str  # file, images, camera or stream
    lost: int
    audio_streams: Sequence  # input audio streams whose packets the source yields
    subtitle_streams: Sequence  # input subtitle streams whose packets the source yields
    data_streams: Sequence  # input data streams (telemetry) whose packets the source yields
    audio_samples: Mapping[int, av.Packet]  # a packet of each, where one was read already (to check them with)
    audio_dropped: int  # audio packets left out because their timestamps cannot be right
    subtitles_dropped: int  # subtitle packets left out because they are timed where the video is not
    data_dropped: int  # data packets left out because they are timed where the video is not
    joins: int  # files read after the first (--concat), where audio may overlap at a join
    sensor_boxes: Sequence[SensorBox]  # a dashcam's GPS/accelerometer boxes that an MP4/MOV output can copy

    def __enter__(self) -> Source: ...

    def __exit__(self, *exc: object) -> None: ...

    def __iter__(self) -> Iterator[Frame | av.Packet]: ...

    def expected_frames(self) -> int | None: ...
