"""What a file holds, as it opens (:class:`Contents`, a part of :class:`~roadseg.pipeline.sources.file.VideoSource`):
its video stream to segment, the streams passed through, those left out (told of: :func:`left_out`), what it says of
its video (:class:`~roadseg.pipeline.sources.base.VideoInfo`) and a dashcam's sensor boxes.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import av

from roadseg.errors import SourceError
from roadseg.pipeline.sources.base import VideoInfo
from roadseg.pipeline.sources.boxes import SensorBox, say_sensor_boxes, sensor_boxes
from roadseg.pipeline.sources.capture import open_capture
from roadseg.pipeline.sources.containers import open_container
from roadseg.pipeline.sources.display import told
from roadseg.pipeline.sources.framerates import decoded_rate
from roadseg.pipeline.sources.hdr import say_if_hdr
from roadseg.pipeline.sources.streams import is_cover, picture_stream, video_streams

log = logging.getLogger("roadseg")


def left_out(container, video, audio, others=()) -> str:
    """The streams of ``container`` that are neither ``video`` nor in ``audio`` or ``others``, counted by
    kind for a message ("4 data streams (bin_data)"); empty if none. Audio left out as asked
    (``audio`` empty: ``--no-audio``) is not counted, nor a timecode track whose timecode the video
    stream carries (the output writes its own)."""
    kept = {video.index, *(a.index for a in audio), *(s.index for s in others)}
    if any(k.lower() == "timecode" for k in video.metadata):  # its timecode track: carried as the output's timecode
        kept |= {s.index for s in container.streams.data if "timecode" in s.metadata and not s.codec_context}
    kinds = Counter()
    for s in container.streams:
        if s.index not in kept and (s.type != "audio" or audio):
            what = (s.codec_context and s.codec_context.name) or s.metadata.get("handler_name")  # (a timecode track: no codec)
            kinds["cover picture" if is_cover(s) else f"{s.type} stream", what] += 1
    return ", ".join((f"{n} {kind}s" if n > 1 else f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}")
                     + (f" ({codec})" if codec else "") for (kind, codec), n in kinds.items())  # fmt: skip


class Contents:
    """:class:`~roadseg.pipeline.sources.file.VideoSource`'s streams and what it says of them. Its state, set as the
    source opens: ``container``, ``stream``, ``_stand_ins``, ``audio_streams``, ``subtitle_streams``,
    ``data_streams``, ``info`` and ``sensor_boxes``; and the source's ``path``, ``rotation``, ``mirrored`` and
    ``_peeked`` (the first picture read)."""

    def _open_stream(self, container: av.container.InputContainer | None, remote: bool, hwaccel: str | None,
                     video_stream: int | None, stand_ins: Mapping[int, av.stream.Stream] | None) -> None:
        """The file opened (``container``, where not already: an http(s) URL's by :func:`open_capture`), and its video
        stream to segment: the one asked for (``video_stream``), where it has it (else closed, :class:`SourceError`
        listing those it has); ``stand_ins`` kept, closed with it."""
        if container is None:
            container = open_capture(self.path, hwaccel) if remote else open_container(self.path, hwaccel=hwaccel)
        self.container = container
        self._stand_ins = dict(stand_ins or {})  # (their files: closed with this one)
        self.stream = picture_stream(self.container, video_stream)
        if self.stream is None:  # (only where a stream was asked for: open_container refuses a file without one)
            streams = video_streams(self.container)
            self.close()
            raise SourceError(f"{Path(self.path).name} has no video stream {video_stream} to segment (counted from 0); "
                              f"its video streams: {streams}")  # fmt: skip

    def _set_up_passed_on(self, audio: bool) -> None:
        """The streams whose packets pass through: audio (where ``audio``; stand-ins among them), subtitles and
        data."""
        # (a stand-in is known by its index, as the packets are: read and written by it; the join's stream it stands
        # in for may be of no kind, the first file's naming none)
        own = {s.index: s for s in self.container.streams.audio}
        self.audio_streams = sorted({**own, **self._stand_ins}.values(), key=lambda s: s.index) if audio else []
        self.subtitle_streams = list(self.container.streams.subtitles)  # (captions: a dashcam's GPS and speed)
        # telemetry (a GoPro's GPMF, a drone's KLV); one without a codec (a timecode track) has nothing to carry
        self.data_streams = [s for s in self.container.streams.data if getattr(s, "name", None)]

    def _set_up_info(self) -> None:
        """The :class:`VideoInfo` of the upright first picture (a rate the codec says where the probe found none);
        one line each where it is turned or mirrored, or HDR."""
        first = self._peeked[-1].image
        base = VideoInfo.from_container(self.container, self.path, self.stream)
        if base.fps is None and (rate := decoded_rate(self.stream)):  # (probed with no picture: a pipe, read once)
            # (a header's own count of its pictures stands: a damaged mp4's timescale gives no rate and a length of 2 s
            # for its 38 pictures, 50 by the length: mp4-header-22)
            frames = base.frames or (round(base.duration * rate) if base.duration else None)
            base = replace(base, fps=rate, timed_fps=rate, frames=frames)
        sar = base.sample_aspect
        if sar and self.rotation in (90, 270):
            sar = 1 / sar  # (an upright picture's pixels are the stored ones turned)
        self.info = replace(base, width=first.shape[1], height=first.shape[0], sample_aspect=sar,
                            time_base=self._cut_clock or base.time_base)  # (cut between two ticks: a finer clock)
        if line := told(self.rotation, self.mirrored):
            log.warning("%s", line)
        say_if_hdr(self.stream, Path(self.path).name)

    def _say_left_out(self, said: frozenset[int]) -> None:
        """One line naming the streams left out of the output, but those in ``said`` (told of already)."""
        kept = [*self.subtitle_streams, *self.data_streams, *(s for s in self.container.streams if s.index in said)]
        if left := left_out(self.container, self.stream, self.audio_streams, kept):
            number = list(self.container.streams.video).index(self.stream)
            others = [n for n, s in enumerate(self.container.streams.video) if n != number and not is_cover(s)]
            hint = (f" (--video-stream {others[0]} segments its video stream {others[0]} instead)" if len(others) == 1
                    else f" (--video-stream {' or '.join(map(str, others))} segments that video stream instead)"
                    if others else "")  # fmt: skip
            log.warning("%s has more streams than its video and audio; left out of the output: %s%s",
                        Path(self.path).name, left, hint)  # fmt: skip

    def _set_up_sensor_boxes(self, own_file: bool) -> None:
        """A dashcam's top-level sensor boxes (GPS, accelerometer), where the file is its own (``own_file``): those
        with data kept to copy, those without told of."""
        boxes = sensor_boxes(self.path) if own_file else []  # (a BlackVue's or Novatek's GPS: not streams)
        # a dashcam's top-level GPS/accelerometer boxes, to copy as they are (the run decides if they go)
        self.sensor_boxes: tuple[SensorBox, ...] = tuple(box for box in boxes if box.data is not None)
        say_sensor_boxes([box for box in boxes if box.data is None], Path(self.path).name)
