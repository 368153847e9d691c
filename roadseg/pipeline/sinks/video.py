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

import contextlib
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from roadseg.errors import EncoderError, SinkError, reason_of
from roadseg.pipeline.sinks.audio import COUNTED, LEAP, AudioRemux, is_disk_error, routes, write_error
from roadseg.pipeline.sinks.base import FASTSTART, Sink, kept_tags
from roadseg.pipeline.sinks.encoders import (
    HARDWARE_ENCODERS,
    FramePalette,
    encoder_name,
    encoder_options,
    encoder_usable,
    even_size,
    pixel_format,
    tag_colour,
)
from roadseg.pipeline.sinks.formats import (
    HVC1_FORMATS,
    NO_AUDIO_OFFSET,
    NO_REORDER_FORMATS,
    apple_cased,
    apple_keys,
    live_pipe_options,
)
from roadseg.pipeline.sinks.rates import (
    FRAME_CLOCK_ENCODERS,
    FRAME_CLOCK_FORMATS,
    SHORT_CLOCK_ENCODERS,
    clock_rate,
    evenly,
)
from roadseg.pipeline.sinks.readback import pictures
from roadseg.pipeline.sinks.subtitles import SubtitleRemux
from roadseg.pipeline.sinks.subtitles import plan as subtitle_plan
from roadseg.pipeline.sources import Frame
from roadseg.pipeline.sources.base import file_url

log = logging.getLogger("roadseg")
MAX_STEP = 3600.0  # seconds between two frames beyond which a timestamp is damage, not a pause


#: The output name for standard output: a Matroska stream (it holds any codec, audio and subtitles, and
#: is written front to back), for ``segment-video IN -o - | ffplay -``
STDOUT = "-"


class VideoSink(Sink):
    """Encode RGB frames into a video file (H.264 yuv420p mp4 by default), remuxing audio untouched.

    Args:
        path: output file; its extension picks the container.
        width, height: frame size; an odd side is padded to even where the encoder's pixel format needs
            it (yuv420p; not RGB, 4:4:4 or a palette: see :func:`even_size`), with a warning.
        fps: nominal frame rate (used when a frame has no timestamp).
        timed_fps: the rate the input's pictures come at by their timestamps (``VideoInfo.timed_fps``; None:
            ``fps``): an output that times its pictures by the frame (MXF, AVI, MPEG-1/2) is written at it, or at
            a whole multiple or divisor of it that it holds, else the nearest (:func:`clock_rate`), with one line
            where that is more than 0.1 % away.
        time_base: encoder time base; pass the source stream's to keep its timestamps exactly.
        codec, crf, preset: encoder and its quality/speed settings (see :func:`encoder_options`). No
            codec: libx264, or the container's own video codec where it cannot hold H.264 (VP9 in webm).
        audio: input audio streams to remux (copied packet for packet); a stream the output cannot
            carry is re-encoded (or, if it cannot be decoded, left out), with a warning; damaged packets
            are dropped and counted. MXF holds 48 kHz PCM only, which it pairs with the pictures by count:
            each stream goes in so, with silence where it has none from the first picture to the last.
        audio_samples: a packet of each audio stream (input index -> packet), to check the streams with.
        wall_clock: stamp frames with their time on the capture clock (``Frame.clock``, else their
            capture time; ms since the first frame), for live recordings; audio packets come timed on
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
            (a BlackVue dashcam's GPS track and accelerometer: :class:`~roadseg.pipeline.sources.base.SensorBox`);
            for an MP4/MOV file only.

    ``written`` counts the pictures written: given to the encoder (an MXF's repeats over a gap too: :meth:`_slot`),
    and, where its flush at :meth:`close` fails, those it gave out before (the file's; the pictures it still held are
    lost with it); where the encoder failed, after :meth:`finish`, those the finished file plays (:meth:`_plays`).
    ``finalised``: the file's trailer was written (by :meth:`close`, even where the encoder's flush failed:
    :class:`~roadseg.errors.EncoderError`).
    """

    name = "encode"

    def __init__(self, path: str | Path, *, width: int, height: int, fps: Fraction | None,
                 timed_fps: Fraction | None = None, time_base: Fraction | None = None, codec: str | None = None,
                 crf: int = 23, preset: str = "superfast",
                 audio: Sequence = (), audio_samples: Mapping[int, av.Packet] | None = None, wall_clock: bool = False,
                 sample_aspect: Fraction | None = None, label: str = "output", subtitles: Sequence = (),
                 tags: Mapping[str, str] | None = None, video_tags: Mapping[str, str] | None = None,
                 timecode: str | None = None, boxes: Sequence[bytes] = ()) -> None:  # fmt: skip
        self.path, self.label, self.wall_clock = Path(path), label, wall_clock
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
        self._open(audio)
        if self._clocked and abs(self.fps - self._timed) > self.fps / 1000:
            times = evenly(self._timed, self.fps)  # (a whole multiple or divisor: every picture alike)
            kept = ("some repeated" if self.fps > self._timed else "some left out") if times is None else (
                f"each shown {times} times" if times > 0 else f"one in {-times} kept")  # fmt: skip
            log.warning("%s: %s holds no video at %.5g frames/s; written at %.5g, each picture at its time's place "
                        "(%s)", self.shown, "MXF" if self.container.format.name in COUNTED else self.encoder,
                        self._timed, self.fps, kept)  # fmt: skip
        self._counted = self.container.format.name in COUNTED  # pictures timed by their count (:meth:`_slot`)
        self._previous: av.VideoFrame | None = None  # (there: the last picture, repeated over a gap)
        self.written = 0
        self._muxed = 0  # pictures the encoder gave out (a packet each), in the file
        self._t0: float | None = None
        self._last_pts: int | None = None
        self._first: float | None = None  # the first frame's time, seconds
        self._origin, self._lead = 0, 0.0  # the timestamp written as 0; an AVI's empty chunks before its first picture, s
        self._closed, self.finalised = False, False
        self._faulted = False  # the encoder failed, or its flush did not end: a file finished after it is checked
        self._lock = threading.Lock()  # close() may come from another thread (Ctrl-C)

    def _open(self, audio: Sequence) -> None:
        """Create the file with its video stream and the audio streams that can be copied; write the header.

        If the header cannot be written with the audio (damaged codec parameters), the video is written
        alone. With no codec asked for, a container that cannot hold H.264 gets its own video codec.
        """
        self._routes = None  # how the audio goes in: worked out (and told) once, whatever is tried
        first = None
        for encoder in (self.codec,) if self.codec else ("libx264", None):  # None: the container's own
            if encoder is None and first and encoder_name(self.container.default_video_codec) == first[0]:
                break  # (the container's own codec is the one that just failed: mp4's H.264)
            error = self._try_open(audio, encoder)
            if error is None:
                return
            if is_disk_error(error):
                raise write_error(error, f"cannot write {self.shown}") from None
            if (audio or self.subtitle_streams) and self._try_open((), encoder, subtitles=False) is None:
                kinds = {s.type for s in self.subtitle_streams}
                what = " and ".join(w for w, there in (("audio", audio), ("subtitles", "subtitle" in kinds),
                                                       ("data streams", "data" in kinds)) if there)  # fmt: skip
                log.warning("the %s cannot be copied into %s (%s); writing the video alone", what, self.shown,
                            reason_of(error))  # fmt: skip
                return
            first = first or (self.encoder, error)
        raise SinkError(f"cannot set up encoder {first[0]!r} for {self.shown}: {reason_of(first[1])}") from None

    def _try_open(self, audio: Sequence, encoder: str | None, subtitles: bool = True) -> Exception | None:
        try:
            if self.to_stdout:
                self.container = av.open("pipe:1", mode="w", format="matroska")
            else:
                options = {"movflags": "+faststart" + ("+use_metadata_tags" if apple_keys(self.tags) else "")
                           } if self.path.suffix.lower() in FASTSTART else {}  # fmt: skip
                piped = self.path.is_fifo() and not self.path.suffix  # (a named pipe: Matroska, as -o - writes)
                self.container = av.open(file_url(self.path), mode="w", format="matroska" if piped else None,
                                         options=options)  # fmt: skip
        except ValueError:  # "Could not determine output format"
            raise SinkError(f"cannot tell a video format from the name {self.path.name}: end it in .mp4, .mkv, "
                            ".mov or .webm") from None  # fmt: skip
        except (OSError, av.error.FFmpegError) as exc:
            raise SinkError(f"cannot create output {self.shown}: {reason_of(exc)}") from None
        try:
            if self._live_pipe():
                self.container.options.update(live_pipe_options(self.container.format.name))
            if self.container.format.name in NO_AUDIO_OFFSET:
                self.container.options["avoid_negative_ts"] = "disabled"
            self.container.metadata.update(self.tags)
            self.encoder = encoder or self.container.default_video_codec
            tb = Fraction(1, 1000) if self.wall_clock else self.time_base
            named = encoder_name(self.encoder) or self.encoder
            # (an encoder or muxer with a frame clock: written at the input's pictures' rate, or the nearest it takes;
            # any other keeps the input's timestamps, at its stated rate)
            self._clocked = (named in FRAME_CLOCK_ENCODERS or self.container.format.name in FRAME_CLOCK_FORMATS
                             or (named in SHORT_CLOCK_ENCODERS and tb and Fraction(tb).denominator > 65535))  # fmt: skip
            self.fps = clock_rate(self._timed, named, self.container.format.name) if self._clocked else self._stated
            self.stream = self.container.add_stream(self.encoder, rate=self.fps)
            self.stream.metadata.update(self.video_tags)
            self.encoder = self.stream.codec_context.name  # the encoder itself: libvpx-vp9 for vp9
            if self.stream.codec_context.codec.canonical_name == "hevc" and self.container.format.name in HVC1_FORMATS:
                self.stream.codec_context.codec_tag = "hvc1"
            self.stream.pix_fmt = pixel_format(self.stream.codec_context.codec)
            self.out_w, self.out_h = even_size(self.width, self.height, self.stream.pix_fmt)
            self.stream.width, self.stream.height = self.out_w, self.out_h
            if self.sample_aspect:
                self.stream.codec_context.sample_aspect_ratio = self.sample_aspect
            self._colour = tag_colour(self.stream.codec_context)
            self._reformatter = VideoReformatter()  # (keeps its conversion context from frame to frame)
            if self._clocked:
                tb = 1 / self.fps
            self.stream.codec_context.time_base = Fraction(tb) if tb else 1 / self.fps
            self._palette = (FramePalette(self.out_w, self.out_h, self.stream.codec_context.time_base)
                             if self.stream.pix_fmt == "pal8" else None)  # fmt: skip
            self.stream.options = encoder_options(self.encoder, self.crf, self.preset)
            if self._live_pipe() and self.encoder in ("libx264", "libx265"):
                self.stream.options["tune"] = "zerolatency"  # each picture's packet out as it goes in (see LIVE_PIPE)
            if self.container.format.name.startswith("mxf") and self.encoder in ("libx264", "libx265"):
                self.stream.options["g"] = str(min(120, max(1, round(2 * self.fps))))  # MXF: B-frames within 128
            if self.container.format.name in NO_REORDER_FORMATS and self.encoder == "libx264":
                self.stream.options["bf"] = "0"
            if self.encoder == "libsvtav1":
                os.environ.setdefault("SVT_LOG", "1")  # errors only: SVT-AV1 prints a banner of some 40 lines
            self.audio = AudioRemux(self.container, *self._audio_routes(audio))
            if self._subtitle_routes is None:  # (worked out and told once, whatever is tried)
                self._subtitle_routes = subtitle_plan(self.subtitle_streams, self.container.format.name)
            self.subtitles = SubtitleRemux(self.container, self._subtitle_routes if subtitles else ())
            self.container.start_encoding()  # now, not at the first packet: a header that fails is known here
        except Exception as exc:  # noqa: BLE001 - PyAV raises ValueError, TypeError ... as well as FFmpegError
            with contextlib.suppress(Exception):
                self.container.close()
            self._remove()
            if isinstance(exc, SinkError):  # a --crf or --preset this encoder cannot take: no other try helps
                raise
            return exc
        if odd := [side for side, padded in (("width", self.out_w != self.width), ("height", self.out_h != self.height))
                   if padded]:  # fmt: skip
            log.warning("%dx%d is odd-sized; padded to %dx%d (%s in %s needs an even %s)", self.width, self.height,
                        self.out_w, self.out_h, self.encoder, self.stream.pix_fmt, " and ".join(odd))  # fmt: skip
        return None

    def _live_pipe(self) -> bool:
        """Whether this is a live recording into a pipe a player reads as it is written: standard output, or a named
        pipe (``mkfifo``; was: FFmpeg's buffers and interleaving, a second of pictures at once behind late sound). A
        file's run into one keeps them, as a file's run to standard output does: nothing there is paced, a player
        plays by the packets' times, and its sound stays interleaved with its pictures."""
        return self.wall_clock and (self.to_stdout or self.path.is_fifo())

    def _audio_routes(self, audio: Sequence) -> tuple[list, list, dict[int, bytes]]:
        """:func:`routes` of ``audio`` into this file's format, the same for every try at opening it."""
        if not audio:
            return [], [], {}
        if self._routes is None:
            self._routes = routes(audio, self.container.format.name, self.audio_samples)
        return self._routes

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

    def _time(self, frame: Frame | None) -> Fraction | float | None:
        """``frame``'s time, seconds: on the capture clock from the first frame (``wall_clock``), else on the
        input's; None where it has none."""
        at = None if frame is None else frame.clock if frame.clock is not None else frame.captured
        if self.wall_clock and at is not None:
            self._t0 = at if self._t0 is None else self._t0
            return at - self._t0
        if frame is None or frame.pts is None or frame.time_base is None:
            return None
        return frame.pts * Fraction(frame.time_base)

    def _timestamp(self, at: Fraction | float | None) -> int:
        """The encoder's timestamp of a picture at ``at`` seconds (None: the next by the rate)."""
        return round((Fraction(self.written) / self.fps if at is None else at) / self.stream.codec_context.time_base)

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

    def _slot(self, at: Fraction | float | None) -> int | None:
        """Where a picture at ``at`` seconds goes in an output that times its pictures by their count (MXF): its
        time's place at the rate, counted from the first picture, the one before it repeated up to there; None where
        that place is taken (it came a frame or more early: left out). One without a time, or a leap further than
        :data:`~roadseg.pipeline.sinks.audio.LEAP` ahead or a second back (damage), follows on, as the sound does
        there. So the pictures keep in step with the sound of a variable-rate input, or one that misses pictures
        (was: a second of them missing put every later one a second early)."""
        if at is None or not self.written:
            return self.written
        slot = round((at - self._first) * self.fps)
        if not -self.fps <= slot - self.written <= LEAP * self.fps:
            return self.written
        return slot if slot >= self.written else None

    def _begin(self, pts: int, at: Fraction | float | None = None) -> None:
        """The first picture, at ``pts`` (``at`` seconds): an MXF output's sound is placed from it (from ``at``); an
        AVI's timeline starts with it, after an empty chunk for each whole frame step by which the sound muxed so far
        began before it (up to :data:`~roadseg.pipeline.sinks.audio.LEAP`): AVI starts every track at its first chunk,
        and wrote a later first picture at 0 all the same, with as many empty chunks after it (the pictures after it
        played late)."""
        tb = self.stream.codec_context.time_base
        self._first = float(at) if self._counted and at is not None else float(pts * tb)  # (MXF: as the sound is timed)
        self.audio.start(self._first)
        if self.container.format.name not in NO_AUDIO_OFFSET:
            return
        lead = self._first - min(self.audio.starts.values(), default=self._first)
        steps = int(lead * self.fps + 1e-6) if 0 < lead <= LEAP else 0
        self._lead = steps / self.fps
        self._origin = pts - round(self._lead / tb)
        for step in range(round(self._lead / tb)):  # (tb is 1 / fps there)
            empty = av.Packet(b"")
            empty.pts = empty.dts = step
            empty.time_base, empty.stream = tb, self.stream
            try:
                self.container.mux(empty)
            except (OSError, av.error.FFmpegError) as exc:
                raise write_error(exc, f"cannot write {self.shown}") from None

    def _checked(self, pts: int) -> int:
        """A timestamp the encoder and muxer take: after the last one, and not hours away from it.

        A duplicate or slightly earlier timestamp moves one tick on (on a frame clock such a picture is left out
        before: :meth:`_write`); one that leaps far either way
        (damaged, or reset midway) becomes the next frame at the nominal rate.
        """
        last = self._last_pts
        if last is None:
            return pts
        tb = self.stream.codec_context.time_base
        far = min(round(MAX_STEP / tb), 2**30)  # mp4 keeps sample durations in 32 bits
        if pts - last > far or last - pts > round(1 / tb):  # (more than a second backwards)
            return last + max(1, round(1 / (self.fps * tb)))
        return last + 1 if pts <= last else pts

    def mux(self, packet: av.Packet) -> None:
        """Remux one audio, subtitle or data packet of a stream given as ``audio`` or ``subtitles`` (one
        the muxer refuses is dropped and counted in ``audio_dropped``, ``subtitles_dropped`` or
        ``data_dropped``); packets of other streams are ignored. An audio packet is known by its own
        stream index (its input stream may be gone: a live connection that dropped is closed at once)."""
        with self._lock:
            if self._closed or (self.wall_clock and not self._on_recording_clock(packet)):
                return
            (self.audio if packet.stream_index in self._audio_in else self.subtitles).mux(packet)

    def _on_recording_clock(self, packet: av.Packet) -> bool:
        """Move a live source's packet (timed on the capture clock, as its frames are) onto the recording's,
        which starts at its first frame; False for one from before that frame (not part of the recording)."""
        if self._t0 is None or packet.dts is None or packet.pts is None:
            return False
        shift = round(self._t0 / packet.time_base)
        packet.pts, packet.dts = packet.pts - shift, packet.dts - shift
        return packet.dts >= 0

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
                self.container.mux(packet)
                self._muxed += 1
        except (OSError, av.error.FFmpegError) as exc:
            raise write_error(exc, f"cannot write {self.shown}") from None

    def close(self) -> None:
        """Flush the encoder and write the container trailer: the file is playable afterwards."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            failed: EncoderError | None = None
            try:
                flushed = False
                try:
                    for out in self._palette.flush() if self._palette is not None else ():
                        self._encode(out)
                    self._encode(None)
                    flushed = True
                finally:  # (also where the pictures' flush failed: MXF ends the file where its sound ends, and its
                    if not flushed:  # sound is filled up to the last picture here; the ones the encoder held are lost)
                        self.written, self._faulted = min(self.written, self._muxed), True
                    self.audio.flush(self.written / self.fps)
                self._tell_offsets()
                for kind, n in sorted(self.subtitles.dropped.items()):
                    log.warning("dropped %d %s packets that %s refused (damaged timing); the rest are kept", n, kind,
                                self.shown)  # fmt: skip
            except EncoderError as exc:
                failed = exc
                raise
            finally:  # (the trailer, also where the encoder failed: the file keeps the pictures it gave out)
                try:
                    self._finalise()
                except SinkError as exc:  # (was: the trailer's or the sensor boxes' error alone)
                    if failed is None:
                        raise
                    raise type(exc)(f"{failed}; {exc}") from None

    def _finalise(self) -> None:
        """Write the trailer, then the sensor boxes (after the media and its index, where BlackVue keeps them too)."""
        try:
            self.container.close()
        except (OSError, av.error.FFmpegError) as exc:
            raise write_error(exc, f"cannot finish {self.shown}") from None
        if self.boxes and not self.to_stdout:
            try:
                with open(self.path, "ab") as f:
                    f.writelines(self.boxes)
            except OSError as exc:
                raise SinkError(f"cannot finish {self.shown}: {reason_of(exc)}") from None
        self.finalised = True

    def _tell_offsets(self) -> None:
        """One line for each audio stream that began 0.1 s or more before or after the video, and one for each
        with 0.1 s or more of sound missing between its packets, in a format that starts them together and plays
        a track's sound back to back (:data:`NO_AUDIO_OFFSET`)."""
        if self.container.format.name not in NO_AUDIO_OFFSET or self.wall_clock or self._first is None:
            return
        for index, start in sorted(self.audio.starts.items()):
            offset = start - (self._first - self._lead)
            if abs(offset) >= 0.1:
                log.warning("audio stream #%d begins %.2f s %s the video; %s starts them together, so there it "
                            "plays %.2f s %s (write .mkv or .mp4 to keep them in step)", index, abs(offset),
                            "after" if offset > 0 else "before", self.container.format.name.upper(), abs(offset),
                            "early" if offset > 0 else "late")  # fmt: skip
        for index, missing in sorted(self.audio.gaps.items()):
            if missing >= 0.1:
                log.warning("audio stream #%d has %.2f s of sound missing between its packets (damaged input); %s "
                            "plays its sound back to back, so there what follows plays up to %.2f s early (write .mkv "
                            "or .mp4 to keep them in step)", index, missing, self.container.format.name.upper(),
                            missing)  # fmt: skip

    def finish(self, keep: bool) -> bool:
        """After a failed or interrupted run: finalise the frames written (``keep``), or remove the file.

        Returns whether a playable file with at least one frame was kept (on standard output: whether
        the stream was ended with its frames; it cannot be taken back): one whose trailer was written, even
        where the encoder then failed (its flush, or :meth:`close` before this), and, where the encoder failed,
        that opens again and plays (:meth:`_plays`): ``written`` is then the pictures it plays.
        """
        if keep and self.written > 0:
            with contextlib.suppress(SinkError):
                self.close()
            if self.finalised and self.written > 0 and not self._faulted:
                return True
            plays = self._plays() if self.finalised and self.written > 0 else 0
            if plays != 0:
                self.written = self.written if plays is None else plays
                return True
        try:
            self.close()
        except SinkError:
            pass
        self._remove()
        return False

    def _plays(self) -> int | None:
        """How many pictures the finished file plays, read back as a player reads it (:func:`pictures`): every
        packet demuxed to its end, its first picture and its last group of pictures decoded; 0 where none decodes
        or it does not open; None where it is out of reach (what went to standard output or into a named pipe: as
        it went). Was: its first picture alone decoded, and a file whose end was lost kept as holding every picture
        the encoder gave out."""
        if self.to_stdout or self.path.is_fifo():
            return None
        try:
            with av.open(file_url(self.path)) as back:
                return pictures(back)
        except Exception:  # noqa: BLE001 - PyAV raises IndexError (no video stream) as well as FFmpegError
            return 0

    def _remove(self) -> None:
        """Remove the file (what went to standard output or into a named pipe is out of reach; the pipe stays)."""
        if not self.to_stdout and not self.path.is_fifo():
            self.path.unlink(missing_ok=True)
