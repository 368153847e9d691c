"""A file read (:class:`Reading`, a part of :class:`~roadseg.pipeline.sources.file.VideoSource`): its packets demuxed
(where damaged data breaks the demuxer the reading ends there, or, in files joined by --concat, goes on), on one
timeline where its clock starts again midway (:class:`~roadseg.pipeline.sources.clock.Clock`), its pictures decoded
and put in line (:class:`~roadseg.pipeline.sources.inline.InLine`), and the frames and the audio, subtitle and data
packets of the ``start``/``duration`` window handed on.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterable, Iterator

import av

from roadseg.errors import reason_of
from roadseg.pipeline.sources.base import Frame
from roadseg.pipeline.sources.decoder import joined_part
from roadseg.pipeline.sources.framerates import decoded_rate
from roadseg.pipeline.sources.gaps import OFF_LINE
from roadseg.pipeline.sources.inline import FILE_ENDED
from roadseg.pipeline.sources.packets import packet_time, seconds

log = logging.getLogger("roadseg")
MAX_BROKEN_READS = 64  # failed reads in a row after which files joined by --concat are taken as broken for good
#: pictures in a row after --duration's end that end the reading: fewer may be damage (a duplicated chunk of
#: later pictures), and the window's own pictures may follow them in the file
PAST_END = 10
#: seconds of pictures past --duration's end that the reading goes on through at most for the window's sound, which a
#: file may store behind its pictures (a camera's mp4 written a second at a time, a fragmented mp4's fragments)
SOUND_BEHIND = 3.0


class Reading:
    """:class:`~roadseg.pipeline.sources.file.VideoSource`'s reading, from :meth:`_generate`. Its state, set as the
    source opens: the window (``start``, ``end``, ``origin``, ``_shift``), the streams read (``container``,
    ``stream``, ``audio_streams``, ``subtitle_streams``, ``data_streams``, ``_stand_ins``), the sound's timing
    (``audio``, ``edits``, ``merges``), ``clock``, what finds pictures lost (``_passed``, ``_gaps``, ``_new_gaps``,
    ``_frame_step``, ``dropped``), ``decoder``, ``pace``, ``_held``, ``_length``, ``_moving``; and what it counts and
    finds as it reads: ``lost``, ``unreadable``, ``late_said``, ``_next_at``, ``_read``, ``subtitles_dropped``,
    ``data_dropped`` and ``_sound_at``."""

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

    def _demuxed(self) -> Iterator[Frame | av.Packet]:
        """The frames in the ``start``/``duration`` window and the packets to pass on. Each picture is judged
        against the window where :class:`InLine` puts it: by its own damaged stamp, a picture (a transport stream's
        first ones) would be kept past ``start``, or left out as before it or past the end, where it is not."""
        past_end = 0  # pictures in a row after the window
        self._sound_at: dict[int, float] = {}  # each audio stream's latest sound read, from the origin (_sound_read)
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
                if past_end >= PAST_END and self._sound_read(shown):
                    return
                continue
            past_end = 0
            frame = self._frame(item)
            if frame is not None:
                yield frame
        yield from self._leading(leading, True)  # (no picture with a time came)

    def _sound_read(self, shown: float) -> bool:
        """Whether the reading past the window's end, at a picture of ``shown`` s, has read each audio stream up to
        that end, or gone :data:`SOUND_BEHIND` s past it: a file may store its sound a second behind its pictures
        (was: 10 pictures on, before it: the output of --start 1 --duration 0.4 of such a file had no audio)."""
        end = float(self.end or 0.0)
        return shown >= end + SOUND_BEHIND or all(self._sound_at.get(s.index, -1.0) >= min(end, self._sound_ends(s))
                                                  for s in self.audio_streams)  # fmt: skip

    def _sound_ends(self, stream) -> float:
        """Where the audio ``stream``'s last packet starts, from the origin, as far as its header says (an mp4's:
        its length), less a tenth of a second; infinite where it says none (Matroska's, a fragmented mp4's): a
        stream whose sound ends before the window's end is not waited for past it (was: read on :data:`SOUND_BEHIND`
        s for sound that never comes, a --start 2 --duration 1 of a clip whose microphone stopped at 0.5 s decoding
        75 pictures past the window's end, not 10). Files joined (--concat) say none: a header is one file's."""
        if self.container.format.name == "concat" or stream.duration is None or stream.time_base is None or not stream.duration > 0:
            return math.inf
        first = stream.start_time if stream.start_time is not None else 0
        return seconds(first + stream.duration, stream.time_base) - self.origin - 0.1

    def _leading(self, pictures: list[Frame], kept: bool) -> Iterator[Frame]:
        """The decoded ``pictures`` held (emptied), as frames (:meth:`_frame`) where ``kept``."""
        held = pictures[:] if kept else []
        pictures.clear()
        yield from (frame for frame in map(self._frame, held) if frame is not None)

    def _decoded(self) -> Iterator[Frame | av.Packet]:
        """The file's pictures as they decode, each a :class:`Frame` that holds the decoded ``av.VideoFrame``
        as its image (converted once it is known to be in the window: :meth:`_frame`), and the packets to pass on
        (those of the window)."""
        self._go_to_start()
        video = self._video_start()  # then the time of the last video packet read: where the file is
        for packet in self._joined(self._packets()):
            if packet.stream is not None and (packet.stream.type == "audio" or packet.stream.index in self._stand_ins):
                if packet.stream.index in self._stand_ins and joined_part(packet).get("lavf.concatdec.start_time") == "0":
                    continue  # (the first joined file's sound, which names no codec: left out, as told)
                yield from self._audio_in_window(packet, video)
                continue
            if packet.stream is not None and packet.stream.type in ("subtitle", "data"):
                if packet.is_discard:  # (cut by an mp4's edit list, as players cut it: no pre-roll to keep, as
                    continue  # for sound; passed on, a cue cut from a trimmed clip's start showed at it)
                yield from self._kept_caption(packet, video)
                continue
            joined = False
            if (stamp := packet_time(packet)) is not None:
                video = stamp  # (the first ones put back: _put_back)
                joined = self._joined_at(video)
                self._spanned(video, seconds(packet.duration or 0, packet.time_base))
                self._count_held(packet)
            self._take_gaps(packet, stamp, joined)
            yield from self._pictures(packet)

    def _go_to_start(self) -> None:
        """Where ``start`` is past 0, go there: read up to it (``_held``), or seek, or where the index is damaged,
        back to the beginning to decode up to it."""
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

    def _audio_in_window(self, packet: av.Packet, video: float | None) -> Iterator[av.Packet]:
        """An audio packet's (or a stand-in's) sound in the window, uncut by the edit list; ``video``: where the
        file is."""
        if packet.size and self._before_origin(packet):
            self.audio.dropped += 1  # (more than LEAP before the file's start: damaged, see _origin)
        elif packet.size:
            if packet.pts is not None and packet.time_base is not None:
                t = seconds(packet.pts, packet.time_base) - self.origin
                self._sound_at[packet.stream.index] = max(t, self._sound_at.get(packet.stream.index, t))
            for uncut in self.edits.take(packet, packet.stream.index):
                yield from self._in_window(self.audio.take(uncut, packet.stream.index, video))

    def _kept_caption(self, packet: av.Packet, video: float | None) -> Iterator[av.Packet]:
        """A subtitle or data packet, where it is in the window and its time can be right (else counted as
        dropped); ``video``: where the file is."""
        if packet.size and packet.pts is not None and packet.time_base:
            if self._caption_in_time(packet, video):
                yield from self._in_window([packet])
            elif packet.stream.type == "subtitle":
                self.subtitles_dropped += 1
            else:
                self.data_dropped += 1

    def _pictures(self, packet: av.Packet) -> Iterator[Frame]:
        """The pictures a video packet decodes to (those held up to ``start`` first), with :data:`FILE_ENDED` where
        files joined by --concat part."""
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
