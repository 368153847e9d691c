"""Opening a video output (:class:`Opening`, a part of :class:`~roadseg.pipeline.sinks.video.VideoSink`): the file
or pipe created, its encoder chosen (the one asked for, else libx264, MPEG-2 in an MPEG program stream, else the
container's own: :func:`~roadseg.pipeline.sinks.encoders.default_encoders`) and set up, the audio
and subtitle streams that can go in added, and the header written, the video alone where they cannot.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Sequence
from fractions import Fraction

import av
from av.video.reformatter import VideoReformatter

from roadseg.errors import SinkError, reason_of
from roadseg.pipeline.sinks.aspect import carries_aspect, ratio
from roadseg.pipeline.sinks.audio import AudioRemux, is_disk_error, write_error
from roadseg.pipeline.sinks.base import FASTSTART, VIDEO_ENDINGS
from roadseg.pipeline.sinks.encoders import (
    FramePalette,
    check_program_stream,
    default_encoders,
    encoder_name,
    encoder_options,
    even_size,
    pixel_format,
    tag_colour,
)
from roadseg.pipeline.sinks.formats import (
    DVD_FORMATS,
    DVD_MUX,
    DVD_SIZES,
    DVD_VIDEO,
    ENDING_FORMATS,
    HRD_TIMED,
    HVC1_FORMATS,
    NEGATIVE_TIMES_KEPT,
    NO_REORDER_FORMATS,
    PROGRAM_STREAMS,
    apple_keys,
    live_pipe_options,
)
from roadseg.pipeline.sinks.hrd import hrd_params, read_late
from roadseg.pipeline.sinks.rates import (
    FRAME_CLOCK_ENCODERS,
    FRAME_CLOCK_FORMATS,
    SHORT_CLOCK_ENCODERS,
    clock_rate,
)
from roadseg.pipeline.sinks.routes import routes
from roadseg.pipeline.sinks.stamps import live_time_base
from roadseg.pipeline.sinks.subtitles import SubtitleRemux
from roadseg.pipeline.sinks.subtitles import plan as subtitle_plan
from roadseg.pipeline.sources.containers import file_url

log = logging.getLogger("roadseg")


class Opening:
    """:class:`~roadseg.pipeline.sinks.video.VideoSink`'s opening. What it reads, set before: ``path``, ``to_stdout``,
    ``shown``, ``codec``, ``_stated``, ``_timed``, ``width``, ``height``, ``crf``, ``preset``, ``time_base``,
    ``audio_samples``, ``sample_aspect``, ``wall_clock``, ``tags``, ``video_tags``, ``subtitle_streams``; what it
    sets: ``container``, ``_faststart`` (an mp4 or mov: its index moved first as it is finished), ``stream``,
    ``encoder``, ``fps``, ``_clocked``, ``out_w``, ``out_h``, ``_colour``, ``_reformatter``, ``_palette``, ``audio``,
    ``subtitles``, ``plays_aspect`` (:meth:`_tell_shape`), and, worked out once whatever is tried, ``_routes`` and
    ``_subtitle_routes``. A try that fails removes what it made (:meth:`_remove`)."""

    def _open(self, audio: Sequence) -> None:
        """Create the file with its video stream and the audio streams that can be copied; write the header.

        If the header cannot be written with the audio (damaged codec parameters), the video is written
        alone. With no codec asked for, a container that cannot hold H.264 gets its own video codec.
        """
        self._routes = None  # how the audio goes in: worked out (and told) once, whatever is tried
        self._told_late = False  # (an AVI's lossless H.264 read a frame late: told once)
        self._told_dvd = False  # (a .vob of a size no DVD holds: told once)
        first = None
        for encoder in (self.codec,) if self.codec else default_encoders(self.path.suffix):  # None: the container's own
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
        """One try at opening the output with ``encoder`` (None: the container's own), the ``audio`` that goes in and,
        where ``subtitles``, the subtitle and data streams: None where it opened, else the error it failed with (what
        it made removed). Raises :class:`SinkError` where no other try helps: a name without a format, a file that
        cannot be created, a ``--crf`` or ``--preset`` the encoder cannot take."""
        self._create()
        try:
            self._tell_container()
            self._add_video(encoder)
            self._set_encoder()
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
        self._tell_shape()
        return None

    def _tell_shape(self) -> None:
        """One line where the output cannot tag an anamorphic input's pixels' shape (VP9 in WebM, FFV1 in Matroska:
        :func:`~roadseg.pipeline.sinks.aspect.carries_aspect`), which it plays squeezed (was: said nowhere); and
        ``plays_aspect``, the pixels' width:height the file plays at: ``sample_aspect`` where it is tagged, else None
        (square: what the legend is drawn for, :func:`~roadseg.pipeline.sinks.aspect.legend_aspect`)."""
        sar = self.sample_aspect
        self.plays_aspect = sar if sar and carries_aspect(self.container.format.name, self.stream, sar) else None
        if sar and self.plays_aspect is None:
            log.warning("%s: %s in %s cannot tag its pixels' %s shape: players show its %dx%d pictures at %s, not %s "
                        "(.mp4 or .mov keeps it)", self.shown, self.encoder, self.container.format.name, ratio(sar),
                        self.out_w, self.out_h, ratio(Fraction(self.out_w, self.out_h)),
                        ratio(self.out_w * sar / self.out_h))  # fmt: skip

    def _create(self) -> None:
        """Create the file (``container``): Matroska on standard output and into a named pipe without an extension,
        else the format its name tells, an mp4 or mov written with its index first."""
        try:
            self._faststart = not self.to_stdout and self.path.suffix.lower() in FASTSTART  # (its index moved first)
            if self.to_stdout:
                self.container = av.open("pipe:1", mode="w", format="matroska")
            else:
                options = {"movflags": "+faststart" + ("+use_metadata_tags" if apple_keys(self.tags) else "")
                           } if self.path.suffix.lower() in FASTSTART else {}  # fmt: skip
                piped = self.file.is_fifo() and not self.path.suffix  # (a named pipe: Matroska, as -o - writes)
                self.container = av.open(file_url(self.file), mode="w", options=options,
                                         format="matroska" if piped else ENDING_FORMATS.get(self.path.suffix.lower()))
        except ValueError:  # "Could not determine output format"
            raise SinkError(f"cannot tell a video format from the name {self.path.name}: end it in {VIDEO_ENDINGS} "
                            "...") from None  # fmt: skip
        except (OSError, av.error.FFmpegError) as exc:
            raise SinkError(f"cannot create output {self.shown}: {reason_of(exc)}") from None

    def _tell_container(self) -> None:
        """The container's options (a live pipe's, timestamps left as they are where it cannot offset the audio) and
        its tags."""
        if self._live_pipe():
            self.container.options.update(live_pipe_options(self.container.format.name))
        if self.container.format.name in NEGATIVE_TIMES_KEPT:
            self.container.options["avoid_negative_ts"] = "disabled"
        self.container.metadata.update(self.tags)

    def _add_video(self, encoder: str | None) -> None:
        """Add the video ``stream`` encoded by ``encoder`` (None: the container's own), at its rate, size, pixel
        format and time base (``encoder``, ``fps``, ``_clocked``, ``out_w``, ``out_h``, ``_colour``,
        ``_reformatter``, ``_palette``)."""
        self.encoder = encoder or self.container.default_video_codec
        named = encoder_name(self.encoder) or self.encoder
        check_program_stream(named, self.container.format.name, self.shown)
        tb = live_time_base(named in SHORT_CLOCK_ENCODERS) if self.wall_clock else self.time_base
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

    def _set_encoder(self) -> None:
        """The encoder's options: quality and speed, and what a live pipe, MXF, a format that cannot reorder
        pictures, an AVI or a program stream (H.264's HRD timing: :func:`~roadseg.pipeline.sinks.hrd.hrd_params`) or
        SVT-AV1 needs."""
        self.stream.options = encoder_options(self.encoder, self.crf, self.preset)
        if self._live_pipe() and self.encoder in ("libx264", "libx265"):
            self.stream.options["tune"] = "zerolatency"  # each picture's packet out as it goes in (see LIVE_PIPE)
        if self.container.format.name.startswith("mxf") and self.encoder in ("libx264", "libx265"):
            self.stream.options["g"] = str(min(120, max(1, round(2 * self.fps))))  # MXF: B-frames within 128
        if self.container.format.name in NO_REORDER_FORMATS and self.encoder == "libx264":
            self.stream.options["bf"] = "0"
        if self.container.format.name in HRD_TIMED and self.encoder == "libx264":  # (read at its place, timed)
            self.stream.options["x264-params"] = hrd_params(self.stream.options, self.out_w, self.out_h, self.fps,
                                                            self.stream.pix_fmt)  # fmt: skip
            if read_late(self.stream.options) and self.container.format.name in PROGRAM_STREAMS:
                raise SinkError(f"lossless H.264 (--crf 0) carries no HRD timing, so FFmpeg reads most of its pictures "
                                f"in {self.shown} without their times; use .mkv, or --crf 1 for it timed")  # fmt: skip
            if read_late(self.stream.options) and not self._told_late:  # (told once, whatever is tried)
                self._told_late = True
                log.warning("lossless H.264 (--crf 0) carries no HRD timing in %s: players read each picture a frame "
                            "(%.3g s) late; use .mkv or .mp4, or --crf 1 for it at its place", self.shown,
                            1 / self.fps)  # fmt: skip
        if self.container.format.name in DVD_FORMATS and self.encoder in ("mpeg1video", "mpeg2video"):
            self._limit_for_dvd()
        if self.encoder == "libsvtav1":
            os.environ.setdefault("SVT_LOG", "1")  # errors only: SVT-AV1 prints a banner of some 40 lines

    def _limit_for_dvd(self) -> None:
        """A DVD's limits (:data:`~roadseg.pipeline.sinks.formats.DVD_VIDEO`, ``DVD_MUX``) on MPEG video in a .vob of
        a DVD's picture size: its quantiser the one ``--crf`` picks at best, raised where a picture would not fit. A
        size no DVD holds is written without them, said once (:data:`~roadseg.pipeline.sinks.formats.DVD_SIZES`)."""
        if (self.out_w, self.out_h) in DVD_SIZES:
            self.stream.options.update(DVD_VIDEO, qmax="31")
            self.container.options.update(DVD_MUX)
        elif not self._told_dvd:
            self._told_dvd = True
            log.warning("%s: %dx%d is not a DVD's picture size (720x576 or 720x480 ...): DVD players will not play it; "
                        "written without a DVD's rate limits", self.shown, self.out_w, self.out_h)  # fmt: skip

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
