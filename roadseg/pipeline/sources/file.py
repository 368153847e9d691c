"""A video file as frames that keep their timestamps, with its audio packets passed through for remuxing.

Example:
    >>> with VideoSource("sample_videos/road.mp4", audio=False) as src:
    ...     first = next(iter(src))
    >>> first.image.shape, first.index, src.live, src.expected_frames()
    ((540, 960, 3), 0, False, 150)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import av
import numpy as np

from roadseg.errors import SourceError
from roadseg.pipeline.sources.base import Frame, VideoInfo, open_container

log = logging.getLogger("roadseg")


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
