"""A video file as frames that keep their timestamps, with its audio packets passed through for remuxing.

:class:`VideoSource`'s parts by role are modules of their own: what the file holds, its streams and what it says of
them (:mod:`~roadseg.pipeline.sources.contents`), its first pictures whose stamps alone were damaged
(:mod:`~roadseg.pipeline.sources.firsts`), reaching ``--start`` (:mod:`~roadseg.pipeline.sources.seeking`), its
reading, from the demuxer to the frames and packets of the window (:mod:`~roadseg.pipeline.sources.reading`), its
packets decoded and pictures made frames (:mod:`~roadseg.pipeline.sources.decoding`) and the frames it expects
(:mod:`~roadseg.pipeline.sources.expected`). Here are its opening, where its timeline begins, and its life.

Example:
    >>> with VideoSource("sample_videos/road.mp4", audio=False) as src:
    ...     first = next(iter(src))
    >>> first.image.shape, first.index, src.live, src.expected_frames()
    ((540, 960, 3), 0, False, 150)
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path

import av

from roadseg.errors import SourceError
from roadseg.pipeline.sources.audio import AudioTimeline, EditList, MergedFrames
from roadseg.pipeline.sources.base import MAX_SECONDS, Frame
from roadseg.pipeline.sources.capture import HTTP_SCHEMES
from roadseg.pipeline.sources.clock import LEAP, TS_DISCONT, Clock
from roadseg.pipeline.sources.coded import Coded
from roadseg.pipeline.sources.contents import Contents
from roadseg.pipeline.sources.decoding import Decoding
from roadseg.pipeline.sources.dropped import Dropped
from roadseg.pipeline.sources.ebml import joined_matroska
from roadseg.pipeline.sources.expected import Expected
from roadseg.pipeline.sources.firsts import FirstPictures
from roadseg.pipeline.sources.framerates import MAX_FPS, step_rate, untimed_rate
from roadseg.pipeline.sources.gaps import Gaps
from roadseg.pipeline.sources.inline import InLine
from roadseg.pipeline.sources.marks import Discarded, PassedOver
from roadseg.pipeline.sources.numbering import FrameNumbers
from roadseg.pipeline.sources.packets import packet_time, seconds
from roadseg.pipeline.sources.reading import Reading
from roadseg.pipeline.sources.reordered import Reordered
from roadseg.pipeline.sources.seeking import ToStart
from roadseg.pipeline.sources.streams import codec_of, stream_length


class VideoSource(Contents, FirstPictures, ToStart, Reading, Decoding, Expected):
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
        fps: keep at most this many pictures a second (the first of each 1/fps s slot of their timestamps:
            :class:`~roadseg.pipeline.sources.fpscap.FpsCap`), left out before they are converted (``info`` says the
            file's own rate: :func:`~roadseg.pipeline.sources.fpscap.capped_info`, the output's).
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
                 shifts: Sequence[float] = (), fps: float | None = None) -> None:  # fmt: skip
        self.path = str(path)  # (a str: an http(s) URL is not a Path)
        self.remote = remote = self.path.lower().startswith(HTTP_SCHEMES)
        own_file = container is None  # (not --concat's joined container: that says what it leaves out)
        self._open_stream(container, remote, hwaccel, video_stream, stand_ins)
        self._set_up_passed_on(audio)
        self.start, self.duration = max(0.0, start), duration
        self.end = None if duration is None else self.start + duration
        self._set_up_first_pictures(moves, shifts, own_file, remote)
        self.origin = self._origin(chunked)
        self._shift = self.origin + self.start  # seconds taken off every timestamp
        self._set_up_decoding(height, chunked, fps)
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
        self._rate = self.info.timed_fps or self.info.fps  # (the pictures', which --fps counts the slots of)
        self.cap.source_rate(self._rate)
        self._say_left_out(said)
        self._set_up_sensor_boxes(own_file)

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
        discont = bool(self.container.format.flags & TS_DISCONT) and self._untimed is None  # (not raw MPEG-4's)
        joined = "matroska" in self.container.format.name and own_file and joined_matroska(self.path)
        self.clock = Clock() if discont or joined else None

    def _set_up_losses(self) -> None:
        """What finds pictures lost: the frame step, H.264's numbers, the marks a loss leaves (:class:`Gaps`), the
        bytes a demuxer discards or passes over, pictures the decoder dropped and which packets are pictures."""
        # (pictures lost: a TS marks them, H.264 numbers them; not a TS's 90 kHz tick, FFmpeg's guess where its probe
        # decoded no picture: a video that begins past what it reads, 60 s, its first step taken for a pause)
        fps = step_rate(self.stream, MAX_FPS)  # (a raw stream's, its untimed_rate: not its demuxer's 25)
        self._frame_step = 1 / float(fps) if fps else None  # (seconds: where the span's end goes on, _spanned)
        # H.264's numbers of its pictures (not in --concat's join: the stream says its first file's parameter sets,
        # not those of the files after it)
        self._numbers = None
        codec = self.stream.codec_context
        if codec is not None and codec.name == "h264" and self.container.format.name != "concat":
            self._numbers = FrameNumbers(codec.extradata)
        # where a lost picture leaves a mark (Gaps): a TS's demuxer marks a packet corrupt at every loss, a Matroska one
        # passes over bytes to the next cluster (an MPEG-PS's marks none), H.264 skips a number where it goes on without
        # a keyframe; and a file that counts its pictures (_counts_own) holds none where a step marks no loss
        self._passed = PassedOver() if "matroska" in self.container.format.name else None
        marks_all = self.container.format.name == "mpegts" or self._passed is not None or self._counts_own
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

    def _origin(self, chunked: bool = False) -> float:
        """Where the file's timeline begins (seconds of its own clock): --start and --duration count from
        there, as FFmpeg's -ss and -t do, and the output starts at 0 there. A transport stream's clock
        rarely starts at 0, and one that passed its 26.5-hour wrap reads as starting below 0. A file
        whose video starts at 0 keeps its timestamps (AAC priming before it stays below 0). Another stream
        that begins more than :data:`~roadseg.pipeline.sources.clock.LEAP` before the picture does not
        count: its first timestamps were damaged (the picture would be written hours into the output). A raw
        stream's is 0: its pictures are placed from there by their count
        (:class:`~roadseg.pipeline.sources.untimed.Untimed`), not at the times FFmpeg's parser guessed (a raw MPEG-4
        dump begun mid-recording started at its first picture's own time, 0.52 s: the pictures placed before it were
        left out, 9 that decode whole among them). A join of AVIs (``chunked``) whose pictures are stamped by their
        chunks' numbers (:class:`~roadseg.pipeline.sources.reordered.Reordered`) begins at 0, as each AVI does, not at
        FFmpeg's start, its first picture's time a frame on where no sound starts it (that picture was left out, the
        others a frame early)."""
        first = self.container.start_time
        if first is None or not abs(first / av.time_base) < MAX_SECONDS or untimed_rate(self.stream) is not None:
            return 0.0
        first /= av.time_base
        video = self._stream_start()
        if self._first_moved:  # (FFmpeg's is the earliest of the streams' starts, the picture's as damaged)
            others = (seconds(s.start_time, s.time_base) for s in self.container.streams
                      if s.index != self.stream.index and s.start_time is not None and s.time_base)  # fmt: skip
            first = min([video, *others])  # (a file without sound has no others)
        if first > 0 and chunked and Reordered.of(self.container, self.stream, chunked=True) is not None:
            return 0.0
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
        if self.start and (self._sought or self.any_out or self._read_to_start()):  # (else none decoded from its start)
            length = self._video_length() or (self.container.duration or 0) / av.time_base
            lasts = f"; it lasts {length:.1f} s" if 0 < length < MAX_SECONDS else ""
            raise SourceError(f"no video frames after --start {self.start:g}s in {self.path}{lasts}")
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

    def _generate(self) -> Iterator[Frame | av.Packet]:
        """:meth:`Reading._generate`; the pictures lost, at its end, those whose slot ``--fps`` left empty
        (:meth:`FpsCap.lost`)."""
        yield from super()._generate()
        self.lost = self.cap.lost(self.lost)

    def expected_frames(self) -> int | None:
        """:meth:`Expected.expected_frames`, of the pictures ``--fps`` keeps (:meth:`FpsCap.expected`)."""
        return self.cap.expected(super().expected_frames(), self._rate, self._read)

    def _in_line(self) -> InLine:
        """An :class:`InLine` for this video stream's pictures, at its frame step (where its rate is known)."""
        return InLine.of(self.stream)

    def _video_length(self) -> float | None:
        """The video stream's own length in seconds, where it says (not the container's: a subtitle's
        damaged timestamp stretches that)."""
        length = stream_length(self.stream)
        return length if length is not None and 0 < length < MAX_SECONDS else None

    def _stream_start(self) -> float | None:
        """Where the video stream starts (seconds of the file's clock), if the container says so; where its first
        pictures' stamps alone were damaged, where :class:`InLine` puts them (:meth:`_first_pictures_moved`)."""
        s = self.stream
        return float(s.start_time * s.time_base) + self._first_moved if s.start_time is not None and s.time_base else None


