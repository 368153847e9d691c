"""The video file sink: PyAV encoding that keeps source timestamps (or, for a live recording, capture
times) and remuxes audio untouched (re-encoding a stream only where the output cannot carry it).

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
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from roadseg.errors import EncoderError, SinkError, reason_of
from roadseg.pipeline.sinks.audio import is_disk_error, write_error
from roadseg.pipeline.sinks.base import Sink, kept_tags
from roadseg.pipeline.sinks.encoders import HARDWARE_ENCODERS, encoder_usable
from roadseg.pipeline.sinks.finishing import Finishing, remove_leftovers, temporary_name
from roadseg.pipeline.sinks.formats import apple_cased
from roadseg.pipeline.sinks.opening import Opening
from roadseg.pipeline.sinks.rates import FILLED, evenly
from roadseg.pipeline.sinks.routes import COUNTED
from roadseg.pipeline.sinks.stamps import Stamps
from roadseg.pipeline.sources import Frame

log = logging.getLogger("roadseg")


#: The output name for standard output: a Matroska stream (it holds any codec, audio and subtitles, and
#: is written front to back), for ``segment-video IN -o - | ffplay -``
STDOUT = "-"

class VideoSink(Opening, Stamps, Finishing, Sink):
    """Encode RGB frames into a video file (H.264 yuv420p mp4 by default), remuxing audio untouched.

    Args:
        path: output file; its extension picks the container.
        width, height: frame size; an odd side is padded to even where the encoder's pixel format needs
            it (yuv420p; not RGB, 4:4:4 or a palette: see :func:`~roadseg.pipeline.sinks.encoders.even_size`), with a
            warning.
        fps: nominal frame rate (used when a frame has no timestamp).
        timed_fps: the rate the input's pictures come at by their timestamps (``VideoInfo.timed_fps``; None:
            ``fps``): an output that times its pictures by the frame (MXF, AVI, MPEG-1/2) is written at it, or at
            a whole multiple or divisor of it that it holds, else the nearest
            (:func:`~roadseg.pipeline.sinks.rates.clock_rate`), with one line where that is more than 0.1 % away.
        time_base: encoder time base; pass the source stream's to keep its timestamps exactly.
        codec, crf, preset: encoder and its quality/speed settings (see
            :func:`~roadseg.pipeline.sinks.encoders.encoder_options`). No codec: libx264, or the container's own
            video codec where it cannot hold H.264 (VP9 in webm); MPEG-2 in an MPEG program stream (``.mpg``,
            ``.vob``: :func:`~roadseg.pipeline.sinks.encoders.default_encoders`).
        audio: input audio streams to remux (copied packet for packet); a stream the output cannot
            carry is re-encoded (or, if it cannot be decoded, left out), with a warning; damaged packets
            are dropped and counted. MXF holds 48 kHz PCM only, which it pairs with the pictures by count:
            each stream goes in so, with silence where it has none from the first picture to the last.
        audio_samples: a packet of each audio stream (input index -> packet), to check the streams with.
        wall_clock: stamp frames with their time on the capture clock (``Frame.clock``, else their
            capture time; from the first frame, in 1/90000 s:
            :data:`~roadseg.pipeline.sinks.stamps.LIVE_TIME_BASE`), for live recordings; audio packets come timed on
            that clock too (:class:`~roadseg.pipeline.sources.LiveSource`).
        sample_aspect: the pixels' width:height, for anamorphic sources (None: square), so that the
            output plays at the shape the input does.
        label: what the file is called in messages (``output``, ``recording``).
        subtitles: input subtitle and data streams to remux (:mod:`~roadseg.pipeline.sinks.subtitles`:
            copied, or carried over as the output's text codec, or left out with a warning).
        tags, video_tags: the input container's and video stream's tags; the output keeps those of
            :func:`~roadseg.pipeline.sinks.base.kept_tags` (a recording, ``wall_clock``, gets the time
            it began as its ``creation_time``).
        timecode: the timecode of the first frame written (``HH:MM:SS:FF``), as an editor lines it up.
        boxes: whole top-level MP4 boxes to add after the finished file's media and index, as they are
            (a BlackVue dashcam's GPS track and accelerometer: :class:`~roadseg.pipeline.sources.boxes.SensorBox`);
            for an MP4/MOV file only.
        temporary: write the file under its :func:`~roadseg.pipeline.sinks.finishing.temporary_name` (a hidden
            sibling), renamed onto ``path`` by :meth:`commit` (or :meth:`finish`, where a partial file is kept):
            what ``path`` held is replaced only by a finished file, and a run killed midway leaves no broken file
            there (the next one removes what it left). Not for standard output, a pipe or a device.

    ``written`` counts the pictures written: given to the encoder (an MXF's repeats over a gap too: :meth:`_slot`),
    and, where its flush at :meth:`close` fails, those it gave out before (the file's; the pictures it still held are
    lost with it); where the encoder failed, after :meth:`finish`, those the finished file plays (:meth:`_plays`).
    ``finalised``: the file's trailer was written (by :meth:`close`, even where the encoder's flush failed:
    :class:`~roadseg.errors.EncoderError`). ``plays_aspect``: the pixels' width:height the file plays at,
    ``sample_aspect`` or, where its format and codec cannot tag it, None (square: :meth:`Opening._tell_shape`).

    Its parts: :class:`~roadseg.pipeline.sinks.opening.Opening` (the file created, its encoder chosen and set up),
    :class:`~roadseg.pipeline.sinks.stamps.Stamps` (where each picture goes on the output's clock) and
    :class:`~roadseg.pipeline.sinks.finishing.Finishing` (the trailer, or the file kept or removed after a failure).
    """

    name = "encode"

    def __init__(self, path: str | Path, *, width: int, height: int, fps: Fraction | None,
                 timed_fps: Fraction | None = None, time_base: Fraction | None = None, codec: str | None = None,
                 crf: int = 23, preset: str = "superfast",
                 audio: Sequence = (), audio_samples: Mapping[int, av.Packet] | None = None, wall_clock: bool = False,
                 sample_aspect: Fraction | None = None, label: str = "output", subtitles: Sequence = (),
                 tags: Mapping[str, str] | None = None, video_tags: Mapping[str, str] | None = None,
                 timecode: str | None = None, boxes: Sequence[bytes] = (), temporary: bool = False) -> None:  # fmt: skip
        self.path, self.label, self.wall_clock = Path(path), label, wall_clock
        self.file = temporary_name(self.path) if temporary else self.path  # (where it is written until it is finished)
        if temporary:
            remove_leftovers(self.path)
        self.boxes = boxes
        self.to_stdout = str(path) == STDOUT  # a Matroska stream, to pipe into a player or another tool
        self.shown = "standard output" if self.to_stdout else str(self.path)  # (what messages call it)
        if codec and codec.endswith(HARDWARE_ENCODERS) and (reason := encoder_usable(codec)) is not None:
            log.warning("hardware encoder %s is not available here (%s); encoding with libx264", codec, reason)
            codec = "libx264"
        self.codec = codec  # as asked (None: chosen by the container); the encoder opened is self.encoder
        self.fps = self._stated = Fraction(fps) if fps else Fraction(30)  # (the output's: set as it opens)
        self._timed = Fraction(timed_fps) if timed_fps else self._stated
        self.width, self.height = width, height
        self.out_w, self.out_h = width, height  # (padded to what the encoder's pixel format takes, when it opens)
        self.crf, self.preset, self.time_base, self.audio_samples = crf, preset, time_base, audio_samples
        self.sample_aspect = sample_aspect
        self.subtitle_streams, self._subtitle_routes = subtitles, None
        self.tags, self.video_tags = apple_cased(kept_tags(tags or {})), kept_tags(video_tags or {})
        if timecode:  # (mov and mp4 write it as a timecode track, Matroska as a tag)
            self.video_tags["timecode"] = timecode
        if wall_clock:  # (a recording: when it was made, not when the camera's stream or a file played live began)
            self.tags["creation_time"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self._audio_in = {a.index for a in audio}  # (what mux tells audio from subtitles by)
        self.placed: bool | None = None  # (settled: put in place, or removed; :meth:`finish`)
        self.cut_short = False  # (not written to its end: :meth:`finish`, or an error passed its ``with`` block first)
        self._open(audio)
        if self._clocked and abs(self.fps - self._timed) > self.fps / 1000:
            times = evenly(self._timed, self.fps)  # (a whole multiple or divisor: every picture alike)
            kept = ("some repeated" if self.fps > self._timed else "some left out") if times is None else (
                f"each shown {times} times" if times > 0 else f"one in {-times} kept")  # fmt: skip
            log.warning("%s: %s holds no video at %.5g frames/s; written at %.5g, each picture at its time's place "
                        "(%s)", self.shown, "MXF" if self.container.format.name in COUNTED else self.encoder,
                        self._timed, self.fps, kept)  # fmt: skip
        self._counted = self.container.format.name in COUNTED | FILLED  # pictures timed by their count (:meth:`_slot`)
        self._previous: av.VideoFrame | None = None  # (there: the last picture, repeated over a gap)
        self.written = 0
        self._muxed = 0  # pictures the encoder gave out (a packet each), in the file
        self._t0: float | None = None
        self._last_pts: int | None = None
        self._last_dts: int | None = None  # (the last picture's packet's decoding time: :meth:`_decoding_time`)
        self._first: float | None = None  # the first frame's time, seconds
        self._origin, self._lead = 0, 0.0  # the timestamp written as 0; an AVI's empty chunks before its first picture, s
        self._closed, self.finalised = False, False
        self._faulted = False  # the encoder failed, or its flush did not end: a file finished after it is checked
        self._lock = threading.Lock()  # close() may come from another thread (Ctrl-C)

    @property
    def subtitles_dropped(self) -> int:
        """Subtitle packets the muxer refused (damaged timing) and that were left out."""
        return self.subtitles.dropped["subtitle"]

    @property
    def data_dropped(self) -> int:
        """Data (telemetry) packets the muxer refused (damaged timing) and that were left out."""
        return self.subtitles.dropped["data"]

    @property
    def audio_dropped(self) -> int:
        """Audio packets the muxer or a re-encoding decoder refused (damaged data) and that were left out."""
        return self.audio.dropped

    def write(self, image: np.ndarray, frame: Frame | None = None) -> None:
        """Encode one RGB uint8 [H,W,3] picture at ``frame``'s timestamp (no frame: the next by rate)."""
        with self._lock:
            if not self._closed:
                self._write(image, frame)

    def _write(self, image: np.ndarray, frame: Frame | None) -> None:
        if image.shape[1] != self.out_w or image.shape[0] != self.out_h:
            pad = ((0, self.out_h - image.shape[0]), (0, self.out_w - image.shape[1]), (0, 0))
            image = np.pad(image, pad, mode="edge")
        vf = av.VideoFrame.from_ndarray(image, format="rgb24")
        if self._colour is not None:  # YUV by the matrix the stream is tagged with, not swscale's default
            matrix, colour_range = self._colour
            vf = self._reformatter.reformat(vf, format=self.stream.pix_fmt, dst_colorspace=matrix,
                                            dst_color_range=colour_range)  # fmt: skip
        at = self._time(frame)
        pts = self._timestamp(at)
        if self._first is None:
            self._begin(pts, at)
        if not self._counted:
            pts -= self._origin
            if self._clocked and self._last_pts is not None and 0 <= self._last_pts - pts < self.fps:
                return  # (its place on the rate's clock is taken: it came a frame or more early, as :meth:`_slot`)
            pts = self._last_pts = self._checked(pts)
        elif (pts := self._slot(at)) is None:
            return  # (its place is taken: it came a frame or more early)
        else:
            for step in range(self.written, pts):  # (a gap before it: the picture before, again)
                self._picture(self._previous, step)
            self._previous = vf
        self._picture(vf, pts)

    def _picture(self, vf: av.VideoFrame, pts: int) -> None:
        vf.pts, vf.time_base = pts, self.stream.codec_context.time_base
        for out in self._palette.push(vf) if self._palette is not None else (vf,):
            self._encode(out)
        self.written += 1

    def mux(self, packet: av.Packet) -> None:
        """Remux one audio, subtitle or data packet of a stream given as ``audio`` or ``subtitles`` (one
        the muxer refuses is dropped and counted in ``audio_dropped``, ``subtitles_dropped`` or
        ``data_dropped``); packets of other streams are ignored. An audio packet is known by its own
        stream index (its input stream may be gone: a live connection that dropped is closed at once)."""
        with self._lock:
            if self._closed or (self.wall_clock and not self._on_recording_clock(packet)):
                return
            if packet.stream_index in self._audio_in:
                self.subtitles.passed(packet)  # (a subtitle or data packet held until the sound is past its end)
                self.audio.mux(packet)
            else:
                self.subtitles.mux(packet)

    def _encode(self, frame) -> None:
        """Encode ``frame`` (None: flush the encoder) and mux what comes out. The encoder's own failure is an
        :class:`~roadseg.errors.EncoderError` (the file can still be finished); the muxer's, the file's."""
        try:
            packets = self.stream.encode(frame)
        except (OSError, av.error.FFmpegError) as exc:
            if is_disk_error(exc):
                raise write_error(exc, f"cannot write {self.shown}") from None
            self._faulted = True
            raise EncoderError(f"encoder {self.encoder} failed{' at its flush' if frame is None else ''}: "
                               f"{reason_of(exc)}") from None  # fmt: skip
        try:
            for packet in packets:
                if self._clocked and not self._counted:  # (each shown for a step of its rate: :meth:`_last_shown`)
                    packet.duration = max(1, round(self.fps / self._timed))
                self._decoding_time(packet)
                self.container.mux(packet)
                self._muxed += 1
        except (OSError, av.error.FFmpegError) as exc:
            raise write_error(exc, f"cannot write {self.shown}") from None

    def close(self) -> None:
        """Flush the encoder and write the container trailer: the file is playable afterwards. Where that takes over
        :data:`SLOW_FINISH` s (4K on a few cores: x264 holds 4 pictures for its B-frames, each a quarter of a
        second or more to encode; a file of gigabytes rewritten to put its index first), the user is told once what
        it waits for (:meth:`_told_if_slow`)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            with self._told_if_slow():
                self._close()

    def _close(self) -> None:
        failed: EncoderError | None = None
        try:
            flushed = False
            try:
                self._last_shown()
                for out in self._palette.flush() if self._palette is not None else ():
                    self._encode(out)
                self._encode(None)
                flushed = True
            finally:  # (also where the pictures' flush failed: MXF ends the file where its sound ends, and its
                if not flushed:  # sound is filled up to the last picture here; the ones the encoder held are lost)
                    self.written, self._faulted = min(self.written, self._muxed), True
                self.audio.flush(self.written / self.fps)
                self.subtitles.flush(self.shown)
            self._tell_offsets()
        except EncoderError as exc:
            failed = exc
            raise
        finally:  # (the trailer, also where the encoder failed: the file keeps the pictures it gave out)
            self._finishing = "writing its index" + (" at its start (the whole file moved behind it)"
                                                     if self._faststart else "")  # fmt: skip
            try:
                self._finalise()
            except SinkError as exc:  # (was: the trailer's or the sensor boxes' error alone)
                if failed is None:
                    raise
                raise type(exc)(f"{failed}; {exc}") from None
