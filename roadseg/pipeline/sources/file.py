"""A video file as frames that keep their timestamps, with its audio packets passed through for remuxing.

:class:`VideoSource`'s parts by role are modules of their own: its first pictures whose stamps alone were damaged
(:mod:`~roadseg.pipeline.sources.firsts`), reaching ``--start`` (:mod:`~roadseg.pipeline.sources.seeking`) and the
frames it expects (:mod:`~roadseg.pipeline.sources.expected`).

Example:
    >>> with VideoSource("sample_videos/road.mp4", audio=False) as src:
    ...     first = next(iter(src))
    >>> first.image.shape, first.index, src.live, src.expected_frames()
    ((540, 960, 3), 0, False, 150)
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from fractions import Fraction
from functools import partial
from pathlib import Path

import av
import numpy as np

from roadseg.errors import SourceError, reason_of
from roadseg.pipeline.sources.audio import AudioTimeline, EditList, MergedFrames
from roadseg.pipeline.sources.base import MAX_SECONDS, Frame, VideoInfo
from roadseg.pipeline.sources.boxes import SensorBox, say_sensor_boxes, sensor_boxes
from roadseg.pipeline.sources.capture import HTTP_SCHEMES, open_capture
from roadseg.pipeline.sources.clock import LEAP, TS_DISCONT, Clock, joined_matroska
from roadseg.pipeline.sources.coded import Coded, no_picture
from roadseg.pipeline.sources.containers import open_container
from roadseg.pipeline.sources.decoder import Decoder, joined_part
from roadseg.pipeline.sources.display import as_shown, matrix_of, told
from roadseg.pipeline.sources.dropped import Dropped
from roadseg.pipeline.sources.expected import Expected
from roadseg.pipeline.sources.fields import bottom_first
from roadseg.pipeline.sources.firsts import FirstPictures
from roadseg.pipeline.sources.framerates import CAMERA_FPS, MAX_FPS, MIN_FPS
from roadseg.pipeline.sources.gaps import OFF_LINE, Gaps
from roadseg.pipeline.sources.hdr import say_if_hdr
from roadseg.pipeline.sources.inline import FILE_ENDED, InLine
from roadseg.pipeline.sources.marks import Discarded, PassedOver
from roadseg.pipeline.sources.numbering import FrameNumbers
from roadseg.pipeline.sources.pace import Pace
from roadseg.pipeline.sources.packets import packet_time, seconds
from roadseg.pipeline.sources.pictures import rgb_picture, scaled_to
from roadseg.pipeline.sources.seeking import ToStart
from roadseg.pipeline.sources.streams import codec_of, is_cover, picture_stream, stream_length, video_streams

log = logging.getLogger("roadseg")
MAX_BROKEN_READS = 64  # failed reads in a row after which files joined by --concat are taken as broken for good
#: pictures in a row after --duration's end that end the reading: fewer may be damage (a duplicated chunk of
#: later pictures), and the window's own pictures may follow them in the file
PAST_END = 10


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
    return ", ".join((f"{n} {kind}s" if n > 1 else f"a {kind}") + (f" ({codec})" if codec else "")
                     for (kind, codec), n in kinds.items())  # fmt: skip


def scaled_size(height: int, width: int, target: int, *, upright: bool = False) -> tuple[int, int] | None:
    """The (height, width) to decode a ``height`` x ``width`` stored picture at so that, turned upright
    (``upright``: it is shown turned by 90°), it is ``target`` pixels high, the other side by its aspect
    and even; None where it is not higher than that already (never enlarged).

    >>> scaled_size(2160, 3840, 1080), scaled_size(1080, 1920, 720), scaled_size(2160, 3840, 1080, upright=True)
    ((1080, 1920), (720, 1280), (608, 1080))
    >>> scaled_size(720, 1280, 1080) is None
    True
    """
    shown_h, shown_w = (width, height) if upright else (height, width)
    if target >= shown_h:
        return None
    new_w = max(2, round(shown_w * target / shown_h / 2) * 2)
    return (new_w, target) if upright else (target, new_w)


def decoded_rate(stream) -> Fraction | None:
    """The frame rate ``stream``'s codec says once a picture of it is decoded (H.264's and HEVC's timing in their VUI,
    MPEG-2's sequence header), where a camera's (:data:`CAMERA_FPS` at most); None where it says none. FFmpeg's
    probe of a .ts read from a pipe whose video begins 15 s after its sound decoded no picture and found no rate
    (its MXF output written at 30 frames/s, 60 frames of its 50 pictures at 25)."""
    rate = stream.codec_context.framerate if stream.codec_context is not None else None
    return Fraction(rate) if rate and MIN_FPS <= rate <= CAMERA_FPS else None


class VideoSource(FirstPictures, ToStart, Expected):
    """Decode a file's video stream (:func:`picture_stream`); audio, subtitle and data packets pass
    through untouched, in file order.

    Iterating yields :class:`Frame` objects (upright: rotation metadata is applied), the ``av.Packet``
    objects of the subtitle and data streams and, when ``audio=True``, of the audio streams, so that a sink
    can remux them.

    Args:
        path: the input file, or an http(s) URL of one.
        audio: also yield the audio packets.
        start: seconds to skip, counted from the file's first timestamp (as FFmpeg's ``-ss``); output
            timestamps are shifted so that the clip starts at 0 (at ``start``'s frame). In a file whose
            clock may start again midway (:class:`Clock`), on its one timeline: read up to there, not sought.
        duration: seconds to keep after ``start`` (``None`` = to the end).
        hwaccel: decode on a hardware device (``cuda``, ``qsv`` ...); falls back to the CPU with a
            one-line warning where the device is missing.
        video_stream: the file's video stream of that number (counted from 0, as FFmpeg's
            ``-map 0:v:N``) instead of FFmpeg's choice; :class:`SourceError` listing them if it has none.
        height: scale the upright picture to this many pixels high as it is decoded (width by its
            aspect, even); never enlarged. Everything after works at that size.
        said: indices of ``container``'s streams whose leaving out the caller has told of (--concat: the
            first file's audio that names no codec), not told of again.
        stand_ins: audio streams of another file, by the index of ``container``'s audio stream each stands in
            for (--concat: a later file's, where the first file's names no codec): the output's stream is set up
            from it, and that stream's packets from the first joined file (read by no setup) are left out.
        chunked: ``container`` joins AVI files (--concat), whose empty chunks are pictures held (:attr:`held`):
            known before the first pictures are read (they are, to see the first one's size).
        moves: ``container`` joins files (--concat): the seconds the first video packets of each are moved by, by
            their number in the file, where a transport stream's first pictures' stamps alone were damaged (judged as
            the files were probed, as :meth:`_first_pictures_moved` judges a file's own: the first file's start
            follows its first picture's, as a file's own does; the demuxer places each file by its true start).
        shifts: ``container`` joins files (--concat): the seconds all the packets of each are moved by (a file the
            demuxer starts later than it truly follows the one before it, and those after it: a damaged file's start).
    """

    live = False
    kind = "file"
    joins = 0  # files read after the first (--concat: :mod:`~roadseg.pipeline.sources.concat`)
    late_said = False  # whether streams that begin after the start (a later joined file's audio) were told of
    _closed: tuple[int | None] | None = None  # (the frames promised, once closed)

    def __init__(self, path: str | Path, *, audio: bool = True, start: float = 0.0, duration: float | None = None,
                 hwaccel: str | None = None, container: av.container.InputContainer | None = None,
                 video_stream: int | None = None, height: int | None = None,
                 said: frozenset[int] = frozenset(), stand_ins: Mapping[int, av.stream.Stream] | None = None,
                 chunked: bool = False, moves: Sequence[Mapping[int, float]] = (),
                 shifts: Sequence[float] = ()) -> None:  # fmt: skip
        self.path = str(path)  # (a str: an http(s) URL is not a Path)
        self.remote = remote = self.path.lower().startswith(HTTP_SCHEMES)
        own_file = container is None  # (not --concat's joined container: that says what it leaves out)
        self._open_stream(container, remote, hwaccel, video_stream, stand_ins)
        self._set_up_passed_on(audio)
        self.start, self.duration = max(0.0, start), duration
        self.end = None if duration is None else self.start + duration
        self._set_up_first_pictures(moves, shifts, own_file, remote)
        self.origin = self._origin()
        self._shift = self.origin + self.start  # seconds taken off every timestamp
        self._set_up_decoding(height)
        self._set_up_audio()
        self._set_up_clock(own_file)
        self._held: list[av.Packet] | None = None  # video packets since the last keyframe, while read up to --start
        self._set_up_expected(chunked)
        self._set_up_losses()
        self._next_at: float | None = None  # the time of the first picture after --duration's window, if any came
        self._retimed = 0  # pictures of the window put back in line (InLine)
        self.subtitles_dropped = 0  # subtitle packets timed where the video is not (damaged timestamps)
        self.data_dropped = 0  # data packets timed where the video is not
        self._read_first_picture()
        self._set_up_info()
        self._say_left_out(said)
        self._set_up_sensor_boxes(own_file)

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

    def _set_up_first_pictures(self, moves: Sequence[Mapping[int, float]], shifts: Sequence[float], own_file: bool,
                               remote: bool) -> None:
        """The state of :class:`FirstPictures`: the first pictures whose stamps alone were damaged, judged here where
        the file is its own (``own_file``) or ``remote``, else as --concat's probe judged them (``moves``,
        ``shifts``)."""
        self._ahead: list[av.Packet | Exception | None] = []  # packets read to judge the first ones, in turn the errors
        # met and the end (None) where reading them met it: read first (_demux)
        # the seconds the first video packets are moved by, by their number, where their stamps alone were damaged, of
        # the file (of each file joined), and those the first is moved by (before the file's start: it follows)
        # (an http(s) URL's container, opened by open_url, is the file's own too)
        self._first_pts: dict[int, int] = {}  # where the first video packets' damaged presentation times alone are put
        self._presented_by = 0.0  # the seconds the first is moved by so (_first_presented)
        self._moves = list(moves) or [self._first_pictures_moved() if own_file or remote else {}]
        self._first_moved = self._moves[0].get(0, 0.0) or self._presented_by
        self._video_read = 0  # video packets read of the file (_put_back)
        self._part: tuple[int, str | None] = (0, None)  # the joined file read (its number, where the join starts it)
        self._shifts = list(shifts)
        self._moving = any(self._moves) or any(self._shifts) or bool(self._first_pts)
        self._put_at: set[int] = set()  # the pts those put back are at: their pictures are put back in line

    def _set_up_decoding(self, height: int | None) -> None:
        """The decoder, and what decoding counts and finds: pictures lost and decoded, the turn and size of the
        picture (scaled to ``height``), why reading stopped early."""
        self.lost = 0
        self._drained = False  # whether an empty packet has drained the decoder
        self.decoder = Decoder(self.stream, self.path, self.container.format, probe=True)  # (follows a change of codec)
        self.decoded = 0
        self.rotation = 0
        self.mirrored = False  # (where the display matrix flips the picture: a front camera's)
        self.unreadable: str | None = None  # why reading stopped early, where damaged data broke the demuxer
        self._size: tuple[int, int] | None = None
        self.height = height
        self._scaled: tuple[int, int] | None = None  # the stored picture's size to decode at, where --height scales it

    def _set_up_audio(self) -> None:
        """The sound's timing: packets whose timestamps cannot be right, an mp4's edit list, AAC frames merged."""
        self.audio = AudioTimeline(self._stream_start())  # audio packets whose timestamps cannot be right: dropped
        self.edits = EditList()  # (the sound a trimmed mp4's edit list cuts stays cut)
        # AAC frames merged into one packet by a damaged ADTS length: timed as long as their sound
        self.merges = MergedFrames({s.index for s in self.audio_streams if codec_of(s) == "aac"})

    def _set_up_clock(self, own_file: bool) -> None:
        """The :class:`Clock` that reads a file whose clock may start again midway as one timeline (None where it
        cannot: a Matroska file is looked into only where it is the file's own, ``own_file``)."""
        # a transport stream's clock may start again midway (recordings joined with cat): read as one timeline;
        # so is a Matroska file's where another follows it in the file (cat a.mkv b.mkv)
        discont = bool(self.container.format.flags & TS_DISCONT)
        joined = "matroska" in self.container.format.name and own_file and joined_matroska(self.path)
        self.clock = Clock() if discont or joined else None

    def _set_up_expected(self, chunked: bool) -> None:
        """The state of :class:`Expected` (the frames the file promises, counted as it is read); ``chunked``: an
        AVI's empty chunks are pictures held, as --concat says of a join of AVI files."""
        self._length = self._video_length()
        self._span: tuple[float, float] | None = None  # (first, end) of the video packets read, on the one timeline
        self._off: tuple[float, float, int] | None = None  # (start, end, count) of the video packets in a row off
        # the span, until they count or the packets come back to it
        self._read = False  # whether the file was read to its end (or to --duration's)
        self._recording = -1  # the recording joined in the file the last video packet was of (Clock.recording)
        self.pace = Pace()  # (the rate its pictures came at: expected_frames, where the file has no count)
        # an AVI's empty chunks: a picture held for one more frame (a dashcam's MJPEG that fell behind), which its
        # frame count counts and its demuxer reads as no packet (the next one's timestamp steps over them)
        self.chunked = chunked or self.container.format.name == "avi"
        self.held = 0
        self._last_dts: int | None = None

    def _set_up_losses(self) -> None:
        """What finds pictures lost: the frame step, H.264's numbers, the marks a loss leaves (:class:`Gaps`), the
        bytes a demuxer discards or passes over, pictures the decoder dropped and which packets are pictures."""
        # (pictures lost: a TS marks them, H.264 numbers them; not a TS's 90 kHz tick, FFmpeg's guess where its probe
        # decoded no picture: a video that begins past what it reads, 60 s, its first step taken for a pause)
        fps = next((r for r in (self.stream.average_rate, self.stream.guessed_rate) if r and r <= MAX_FPS), None)
        self._frame_step = 1 / float(fps) if fps else None  # (seconds: where the span's end goes on, _spanned)
        # H.264's numbers of its pictures (not in --concat's join: the stream says its first file's parameter sets,
        # not those of the files after it)
        self._numbers = None
        codec = self.stream.codec_context
        if codec is not None and codec.name == "h264" and self.container.format.name != "concat":
            self._numbers = FrameNumbers(codec.extradata)
        # where a lost picture leaves a mark (Gaps): a TS's demuxer marks a packet corrupt at every loss, and a
        # Matroska one passes over bytes to the next cluster (an MPEG-PS's marks none); H.264 marks losses where it
        # goes on without a keyframe
        self._passed = PassedOver() if "matroska" in self.container.format.name else None
        marks_all = self.container.format.name == "mpegts" or self._passed is not None
        # (and a TS's demuxer discards damaged bytes, read from the file itself where it is one: Discarded)
        ts = self.container.format.name == "mpegts" and Path(self.path).is_file()
        self._discarded = Discarded.of(self.path, self.stream.id) if ts else None
        # (pictures lost outside the --start/--duration window are not the output's)
        window = (self._shift, math.inf if self.end is None else self.origin + self.end)
        self._gaps = self._new_gaps = None  # (Gaps at a rate; where the stream as opened says none, once one decodes)
        self.dropped = Dropped(window, timed=not self.chunked)  # (pictures the decoder dropped without a word)
        self._coded = Coded(codec.extradata if codec is not None else None)  # (which packets are pictures: Dropped)
        if self.clock is not None or marks_all or self._numbers is not None:
            self._new_gaps = partial(Gaps, marks_all=marks_all, numbered=self._numbers is not None,
                                     joins=self.clock is not None, window=window)  # fmt: skip
            self._gaps = self._new_gaps(float(fps)) if fps else None

    def _read_first_picture(self) -> None:
        """Decode up to the first picture (closed where that fails), and keep the first audio packet of each stream
        read so far."""
        self._gen = self._generate()
        self._peeked: list = []
        try:
            self._peek()
        except BaseException:
            self.close()
            raise
        self.audio_samples = {}  # the first audio packet of each stream read so far: sinks check streams with it
        for item in self._peeked:
            if isinstance(item, av.Packet):
                self.audio_samples.setdefault(item.stream.index, item)

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
        self.info = replace(base, width=first.shape[1], height=first.shape[0], sample_aspect=sar)
        if line := told(self.rotation, self.mirrored):
            log.warning("%s", line)
        say_if_hdr(self.stream, Path(self.path).name)

    def _say_left_out(self, said: frozenset[int]) -> None:
        """One line naming the streams left out of the output, but those in ``said`` (told of already)."""
        kept = [*self.subtitle_streams, *self.data_streams, *(s for s in self.container.streams if s.index in said)]
        if left := left_out(self.container, self.stream, self.audio_streams, kept):
            number = list(self.container.streams.video).index(self.stream)
            others = [n for n, s in enumerate(self.container.streams.video) if n != number and not is_cover(s)]
            hint = f" (--video-stream {others[0]} segments its video stream {others[0]} instead)" if others else ""
            log.warning("%s has more streams than its video and audio; left out of the output: %s%s",
                        Path(self.path).name, left, hint)  # fmt: skip

    def _set_up_sensor_boxes(self, own_file: bool) -> None:
        """A dashcam's top-level sensor boxes (GPS, accelerometer), where the file is its own (``own_file``): those
        with data kept to copy, those without told of."""
        boxes = sensor_boxes(self.path) if own_file else []  # (a BlackVue's or Novatek's GPS: not streams)
        # a dashcam's top-level GPS/accelerometer boxes, to copy as they are (the run decides if they go)
        self.sensor_boxes: tuple[SensorBox, ...] = tuple(box for box in boxes if box.data is not None)
        say_sensor_boxes([box for box in boxes if box.data is None], Path(self.path).name)

    def _origin(self) -> float:
        """Where the file's timeline begins (seconds of its own clock): --start and --duration count from
        there, as FFmpeg's -ss and -t do, and the output starts at 0 there. A transport stream's clock
        rarely starts at 0, and one that passed its 26.5-hour wrap reads as starting below 0. A file
        whose video starts at 0 keeps its timestamps (AAC priming before it stays below 0). Another stream
        that begins more than :data:`~roadseg.pipeline.sources.clock.LEAP` before the picture does not
        count: its first timestamps were damaged (the picture would be written hours into the output)."""
        first = self.container.start_time
        if first is None or not abs(first / av.time_base) < MAX_SECONDS:
            return 0.0
        first /= av.time_base
        video = self._stream_start()
        if self._first_moved:  # (FFmpeg's is the earliest of the streams' starts, the picture's as damaged)
            others = (seconds(s.start_time, s.time_base) for s in self.container.streams
                      if s.index != self.stream.index and s.start_time is not None and s.time_base)  # fmt: skip
            first = min([video, *others])  # (a file without sound has no others)
        if first > 0:  # (sound said to begin more than LEAP before the picture: its first timestamps were damaged)
            return video if video is not None and video - first > LEAP and video < MAX_SECONDS else first
        if self._first_moved < 0 and self.container.format.name == "concat":  # (the join's 0 is FFmpeg's start of
            return first  # its first file, the first picture's damaged stamp, which is put back before it: no sound
            # began earlier. Was: 0, and the first file's pictures, before it, left out)
        length = (self.container.duration or 0) / av.time_base  # (a wrap is less than a file's length ago)
        return first if video is not None and video < 0 and -first <= length + 1 else 0.0

    def _before_origin(self, packet: av.Packet) -> bool:
        """Whether ``packet`` lies more than LEAP before where the file's timeline begins (:meth:`_origin`:
        the picture's start, where another stream's first timestamps were damaged that far before it)."""
        t = packet_time(packet)
        return t is not None and t < self.origin - LEAP

    def _peek(self) -> None:
        """Decode up to the first frame now: its rotation and size shape the output."""
        for item in self._gen:
            self._peeked.append(item)
            if isinstance(item, Frame):
                return
        if self._next_at is not None:  # (pictures decode, but none in the window asked)
            raise SourceError(f"no video frames from {self.start:g} s to {self.end:g} s (--start, --duration) in "
                              f"{self.path}: its first picture after {self.start:g} s is at {self._next_at:.2f} s")
        if self.start:
            raise SourceError(f"no video frames after --start {self.start:g}s in {self.path}")
        if "mp4" in self.container.format.name and not Path(self.path).is_file() and not self.remote:
            raise SourceError(f"no decodable video frames in {'standard input' if self.path == '-' else self.path}: an "
                              "MP4/MOV read from a pipe can be decoded only if its index (moov) comes before its media "
                              "data, and a camera writes it after; give the file itself, or pipe a streamable format "
                              "(ffmpeg -i IN -c copy -f matroska - | segment-video - -o OUT)")  # fmt: skip
        raise SourceError(f"no decodable video frames in {self.path}" + (f" ({self.unreadable})" if self.unreadable else ""))

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if "info" in vars(self) and self._closed is None:  # (opened: what it promised, from the container's streams,
            self._closed = (self._promised(),)  # which are freed with it: read after, they are any bytes)
        self.container.close()
        if vars(self).get("_discarded") is not None:
            self._discarded.close()
        for stream in self._stand_ins.values():
            stream.container.close()

    @property
    def audio_dropped(self) -> int:
        """Audio packets left out because their timestamps cannot be right (missing, backwards, leaping)."""
        return self.audio.dropped

    def __iter__(self) -> Iterator[Frame | av.Packet]:
        peeked, self._peeked = self._peeked, []
        yield from peeked
        yield from self._gen

    def _in_line(self) -> InLine:
        """An :class:`InLine` for this video stream's pictures, at its frame step (where its rate is known)."""
        return InLine.of(self.stream)

    def _generate(self) -> Iterator[Frame | av.Packet]:
        yield from self._demuxed()
        self._read = True
        off = self._off  # (a run just after the span's end that the file ended with: InLine passes it as it came)
        if off is not None and self._span is not None and self._span[1] < off[0] <= self._span[1] + OFF_LINE:
            self._widen(off[0], off[1])
        if self._gaps is not None:  # (losses marked near the end)
            lost = self._gaps.lost
            self.lost += self._gaps.flush() - lost
        self.lost += self.dropped.count(self.lost)  # (less where frames came out of pictures told lost)
        if self._retimed:
            n = self._retimed
            said = "1 picture with a damaged timestamp" if n == 1 else f"{n} pictures with damaged timestamps"
            log.warning("put %s back in line with the pictures around %s", said, "it" if n == 1 else "them")
        yield from self._in_window(self.audio.flush())
        for n, kind in ((self.subtitles_dropped, "subtitle"), (self.data_dropped, "data")):
            if n:
                log.warning("left out %d %s packet%s timed outside the video (damaged timestamps)", n, kind, "s"[: n != 1])

    def _video_length(self) -> float | None:
        """The video stream's own length in seconds, where it says (not the container's: a subtitle's
        damaged timestamp stretches that)."""
        length = stream_length(self.stream)
        return length if length is not None and 0 < length < MAX_SECONDS else None

    def _caption_in_time(self, packet: av.Packet, video: float | None) -> bool:
        """Whether a subtitle or data packet's time can be right: within the video (a second either side) where
        the video stream says its length, else within an hour of where the video is. One hours away
        (damaged) would stretch the output to it: a 1-second clip that plays for 10 hours."""
        t = float(packet.pts * packet.time_base)
        if t - self.origin < -1.0:
            return False
        if self._length is not None:
            return t - self.origin <= self._length + 1.0
        return video is None or t <= video + 3600.0

    def _demuxed(self) -> Iterator[Frame | av.Packet]:
        """The frames in the ``start``/``duration`` window and the packets to pass on. Each picture is judged
        against the window where :class:`InLine` puts it: by its own damaged stamp, a picture (a transport stream's
        first ones) would be kept past ``start``, or left out as before it or past the end, where it is not."""
        past_end = 0  # pictures in a row after the window
        shown = None  # the time of the last picture decoded with one: where a picture without a time lies
        leading = []  # pictures without a time before the first with one (--start): they lie where it does
        for item in self._in_line().through(self._decoded()):
            if not isinstance(item, Frame):
                yield item
                continue
            t = None if item.time is None else item.time - self.origin
            if t is not None:
                shown = t
            elif shown is None and self.start > 0 and len(leading) < PAST_END:
                leading.append(item)
                continue
            if leading:  # (kept where the first with a time is in the window, or none has one)
                yield from self._leading(leading, t is None or t >= self.start - 1e-6)
            # (one without a time lies where the one before does; in a file whose clock may start again, one
            # before its start is a damaged stamp, without --start: kept, as InLine left it)
            if shown is not None and shown < self.start - 1e-6 and (self.start or self.clock is None):
                continue
            if self.end is not None and shown is not None and shown >= self.end - 1e-6:
                self._next_at = shown if self._next_at is None else self._next_at
                past_end += 1
                if past_end >= PAST_END:
                    return
                continue
            past_end = 0
            frame = self._frame(item)
            if frame is not None:
                yield frame
        yield from self._leading(leading, True)  # (no picture with a time came)

    def _decoded(self) -> Iterator[Frame | av.Packet]:
        """The file's pictures as they decode, each a :class:`Frame` that holds the decoded ``av.VideoFrame``
        as its image (converted once it is known to be in the window: :meth:`_frame`), and the packets to pass on
        (those of the window)."""
        # a file whose clock may start again midway is read up to --start, not sought by a clock that repeats
        self._held = [] if self.start > 0 and self._read_to_start() else None
        if self.start > 0 and self._held is None:
            try:
                self._seek()
            except (av.error.FFmpegError, OSError) as exc:  # a damaged index: decode up to start instead
                log.warning("cannot seek in %s (%s); reading it from the beginning up to --start", self.path,
                            reason_of(exc))  # fmt: skip
                with contextlib.suppress(Exception):  # back where reading began, if the index allows
                    self.container.seek(0, backward=True, any_frame=False)
        video = self._video_start()  # then the time of the last video packet read: where the file is
        for packet in self._joined(self._packets()):
            if packet.stream is not None and (packet.stream.type == "audio" or packet.stream.index in self._stand_ins):
                if packet.stream.index in self._stand_ins and joined_part(packet).get("lavf.concatdec.start_time") == "0":
                    continue  # (the first joined file's sound, which names no codec: left out, as told)
                if packet.size and self._before_origin(packet):
                    self.audio.dropped += 1  # (more than LEAP before the file's start: damaged, see _origin)
                elif packet.size:
                    for uncut in self.edits.take(packet, packet.stream.index):
                        yield from self._in_window(self.audio.take(uncut, packet.stream.index, video))
                continue
            if packet.stream is not None and packet.stream.type in ("subtitle", "data"):
                if packet.is_discard:  # (cut by an mp4's edit list, as players cut it: no pre-roll to keep, as
                    continue  # for sound; passed on, a cue cut from a trimmed clip's start showed at it)
                if packet.size and packet.pts is not None and packet.time_base:
                    if self._caption_in_time(packet, video):
                        yield from self._in_window([packet])
                    elif packet.stream.type == "subtitle":
                        self.subtitles_dropped += 1
                    else:
                        self.data_dropped += 1
                continue
            joined = False
            if (stamp := packet_time(packet)) is not None:
                video = stamp  # (the first ones put back: _put_back)
                joined = self._joined_at(video)
                self._spanned(video, seconds(packet.duration or 0, packet.time_base))
                self._count_held(packet)
            self._take_gaps(packet, stamp, joined)
            for p in self._up_to_start(packet):
                frames = self._decode(p)
                if frames and self._gaps is None and self._new_gaps is not None:
                    self._rated()
                parted = self.decoder.parted  # (--concat: where the next file's begin, the file before's drained)
                for n, vf in enumerate(frames):
                    if n == parted:
                        yield FILE_ENDED
                    picture = Frame(-1, vf, vf.pts, vf.time_base)
                    if picture.time is not None:
                        self.pace.take(picture.time - self.origin)
                    yield picture
                if parted is not None and parted >= len(frames):
                    yield FILE_ENDED

    def _rated(self) -> None:
        """Follow pictures lost (:class:`Gaps`) from here at the rate the codec says once a picture is decoded
        (:func:`decoded_rate`), where the stream as opened said none: FFmpeg's probe decoded no picture (a .ts whose
        video begins past what it reads, 60 s, or read from a pipe), and its rate was the 90 kHz tick (one picture
        lost of 50 told 7199)."""
        if rate := decoded_rate(self.stream):
            self._frame_step = 1 / float(rate)
            self._gaps = self._new_gaps(float(rate))

    def _leading(self, pictures: list[Frame], kept: bool) -> Iterator[Frame]:
        """The decoded ``pictures`` held (emptied), as frames (:meth:`_frame`) where ``kept``."""
        held = pictures[:] if kept else []
        pictures.clear()
        yield from (frame for frame in map(self._frame, held) if frame is not None)

    def _stream_start(self) -> float | None:
        """Where the video stream starts (seconds of the file's clock), if the container says so; where its first
        pictures' stamps alone were damaged, where :class:`InLine` puts them (:meth:`_first_pictures_moved`)."""
        s = self.stream
        return float(s.start_time * s.time_base) + self._first_moved if s.start_time is not None and s.time_base else None

    def _packets(self) -> Iterator[av.Packet]:
        """The demuxer's packets; where damaged data breaks the demuxer itself, the packets end there
        (``unreadable`` says why) followed by an empty packet that drains the decoder. Files joined by
        --concat read on after a broken one: the demuxer moves to the next file (up to
        ``MAX_BROKEN_READS`` failed reads in a row, then it is taken as broken for good). A Matroska file's
        packets of every stream are read, to see the bytes between them (:class:`PassedOver`)."""
        streams = self._streams_read()
        kept = {s.index for s in streams}
        if self._passed is not None:
            streams = ()  # (every stream's: PyAV reads them all anyway, and drops the others)
        packets, failed = self._demux(streams), 0
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except IndexError:  # PyAV's, on a packet of a stream the demuxer found after the start: not damage
                if not self.late_said:
                    log.warning("a stream that begins after the start of %s is left out", self.path)
                    self.late_said = True
                packets = self._demux(streams)  # (the packet was read: go on with the next)
                continue
            except Exception as exc:  # noqa: BLE001 - FFmpegError
                self.lost += 1
                failed += 1
                if self.joins and failed < MAX_BROKEN_READS:
                    packets = self._demux(streams)  # (a broken generator is finished: read on anew)
                    continue
                self.unreadable = reason_of(exc)
                yield av.Packet()  # an empty packet of no stream: decoded below as the end of the video stream
                return
            failed = 0
            if self._passed is not None:
                self._passed.take(packet.pos, packet.size)
                if packet.stream is not None and packet.stream.index not in kept:
                    continue
            self.merges.take(packet)  # (before the Clock: where a stream goes on after it is where its sound ends)
            if self._moving and packet.stream is not None:
                self._put_back(packet)
            yield packet

    def _streams_read(self) -> tuple[av.stream.Stream, ...]:
        """The streams whose packets are read: the video's, and those passed on."""
        return (self.stream, *self.audio_streams, *self.subtitle_streams, *self.data_streams)

    def _joined(self, packets: Iterable[av.Packet]) -> Iterator[av.Packet]:
        """``packets`` on one timeline where the file's clock starts again midway (:class:`Clock`)."""
        if self.clock is None:
            yield from packets
            return
        for packet in packets:
            yield from self.clock.take(packet, None if packet.stream is None else packet.stream.index)
        yield from self.clock.flush()

    def _decode(self, packet: av.Packet) -> list:
        drained = self._drained
        self._drained = drained or not packet.size  # (an empty packet drains the decoder, for good)
        codec = self.decoder.codec  # (the one the packet goes to, where it changes with it)
        try:
            frames = self.decoder.decode(packet if packet.stream is not None else None)
        except (av.error.FFmpegError, ValueError):
            # (a second empty packet, after a join's end, finds it drained: no loss; nor is one that holds no picture)
            if not drained and not packet.size or packet.size and not no_picture(packet, codec):
                self.lost += 1  # corrupt data: keep what decodes, count what does not
            if not drained and not packet.size:  # (refused as it was drained: what it held never comes out)
                self.dropped.refused_drain()
            return []
        if packet.size and packet.stream is not None and not packet.is_discard:  # (a picture went in)
            t = None if packet.pts is None else seconds(packet.pts, packet.time_base)
            picture = self._coded.picture(packet, codec)
            if not self.dropped.timed and self._coded.unread:  # (an AVI's picture whose own time was not read)
                picture = None
            self.dropped.went_in(t, codec, picture=picture, own=self._coded.time if codec == "mpeg4" else None)
        times = [None if f.pts is None or f.time_base is None else float(f.pts * f.time_base) for f in frames]
        # (an interlaced picture may be two fields in two packets: HEVC's, and H.264's but where its slices were all
        # read to be frames, MBAFF; MPEG's field pictures are told by their packets, Coded)
        codec = self.decoder.codec
        framed = codec == "h264" and self._numbers is not None and self._numbers.fields is False
        fields = codec == "hevc" or codec == "h264" and not framed
        self.dropped.came_out(times, codec, fields=fields and any(f.interlaced_frame for f in frames))
        return frames

    def _in_window(self, packets: Iterable[av.Packet]) -> Iterator[av.Packet]:
        """The audio, subtitle or data ``packets`` (timestamps checked) between ``start`` and ``end``, shifted
        to start at ``start``."""
        for packet in packets:
            t = seconds(packet.pts, packet.time_base) - self.origin
            if (self.start and t < self.start - 1e-6) or (self.end is not None and t >= self.end):
                continue  # (without --start every packet is kept: AAC priming packets have pts < 0)
            if self._shift:
                shift = round(self._shift / packet.time_base)
                packet.pts -= shift
                if packet.dts is not None:
                    packet.dts -= shift
            yield packet

    def _frame(self, picture: Frame) -> Frame | None:
        """The upright RGB picture of a decoded one (:meth:`_decoded`: its image the ``av.VideoFrame``), at the size
        of the first, at the picture's time (where :class:`InLine` put it, counted); None (counted) if it will not
        convert."""
        vf = picture.image
        rotation = int(round(getattr(vf, "rotation", 0) or 0)) % 360
        if self.height and self._size is None:
            self._scaled = scaled_size(vf.height, vf.width, self.height, upright=rotation in (90, 270))
        try:
            image = rgb_picture(vf, self._scaled, bottom_first(self.stream))
        except (av.error.FFmpegError, ValueError):
            self.lost += 1
            return None
        shown, mirrored = as_shown(image, rotation, matrix_of(vf)) if rotation or vf.side_data else (image, False)
        if shown is not image:
            self.rotation, self.mirrored = rotation, mirrored
            image = np.ascontiguousarray(shown)
        if self._size is None:
            self._size = image.shape[:2]
        else:  # damaged or changed stream parameters midway: keep the first size
            image = scaled_to(image, self._size)
        pts = picture.pts
        self._retimed += pts != vf.pts or vf.pts in self._put_at  # (put back in line)
        self._put_at.discard(vf.pts)
        if pts is not None and self._shift and vf.time_base is not None:
            pts -= round(self._shift / vf.time_base)
        frame = Frame(self.decoded, image, pts, vf.time_base)
        self.decoded += 1
        return frame
