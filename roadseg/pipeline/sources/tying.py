"""A live source's connection on the capture clock (:class:`Tying`, a part of
:class:`~roadseg.pipeline.sources.capture.LiveSource`): the pictures and audio packets that
:class:`~roadseg.pipeline.sources.connection.Connection` reads, each picture's :attr:`Frame.clock` and each audio
packet's timestamps their stream time moved onto the capture clock. A connection is tied at its first picture, again
where its stream time runs away from the arrival (:data:`RESYNC`), and afresh where its clock starts again
(:func:`~roadseg.pipeline.sources.pacing.started_again`), its sound judged by an
:class:`~roadseg.pipeline.sources.audio.AudioTimeline` and held for the pictures it goes with.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import av

from roadseg.pipeline.sources.audio import INTERLEAVE, AudioTimeline
from roadseg.pipeline.sources.base import Frame
from roadseg.pipeline.sources.fields import bottom_first
from roadseg.pipeline.sources.pacing import started_again
from roadseg.pipeline.sources.packets import packet_time, retimed
from roadseg.pipeline.sources.streams import picture_stream


class Tying:
    """:class:`~roadseg.pipeline.sources.capture.LiveSource`'s connection tied onto the capture clock: its items
    (:meth:`_items`), from :class:`~roadseg.pipeline.sources.connection.Connection`'s pictures and sound. Its state,
    set as the source opens (:meth:`_set_up_clock`): ``_timeline``, ``_dropped``, ``_clock``, ``_lag`` and
    ``_sound_end``; and the source's ``container``, ``info``, ``stop``, ``last_time``, ``_mic`` and ``_opening``."""

    def _set_up_clock(self) -> None:
        """The capture clock's state across connections (:meth:`_tie`) and the sound's on it."""
        self._timeline = AudioTimeline()  # audio packets whose timestamps cannot be right are dropped there
        self._dropped = 0  # by the timelines of earlier connections, and audio read long before any frame
        self._clock: float | None = None  # the last frame's Frame.clock
        self._lag = 0.0  # the most a frame's Frame.clock was past its capture time since the last tie (a
        # connection's frames held while it was opened are timed after their arrival, and the frames after them
        # as much): the next connection is tied with it, so the recording keeps the time between two as it passed
        self._sound_end: float | None = None  # where the sound handed on so far ends, on the capture clock
        self._resized = False  # (said once)

    def _items(self, first_index: int) -> Iterator[Frame | av.Packet]:
        """One connection's frames, stamped with their capture time, and its audio packets.

        The connection's first frame ties its stream time to the capture clock (a reconnected stream's
        clock starts afresh, as far after its arrival as the connection before it ran: :attr:`_lag`); each
        frame's :attr:`Frame.clock` and each audio packet's timestamps are their stream time moved onto it, so the frames a stream delivers in a burst (what it buffered
        while it was being opened) keep their spacing and the sound stays in step with the picture.
        A stream whose timestamps run away from the time its frames arrive (more than ``RESYNC``
        seconds) is tied again (never back over frames already timed: :meth:`_tie`); one whose format
        has no timestamps of its own (an IP camera's MJPEG over HTTP, FFmpeg numbering its frames at a
        made-up 25 fps; a raw H.264/HEVC stream, whose pictures a file played live is paced and stamped by their
        count at its SPS's rate: :func:`~roadseg.pipeline.sources.connection._untimed`) is timed by arrival alone. Audio read before the first frame (the decoder holds a few frames back) waits
        for it; so does sound that steps back or leaps from the last picture as a clock that starts again does
        (:func:`started_again`) for the pictures after it, which tell whether the video's did too: if one does, it is
        the next recording's sound before its first picture (two joined with cat: the first's last pictures may come
        after it), tied with it, following on from the sound handed on so far (as a file read whole puts it: a frame
        step after the last picture, or later where the sound would go back over what came before), and judged afresh
        with it; where they go on for ``INTERLEAVE`` seconds instead, it is judged as it came (damaged stamps).
        """
        self._dropped += self._timeline.dropped
        stamped = not self.container.format.flags & NO_TIMESTAMPS and self.container.format.name not in MADE_UP
        bottom = bottom_first(picture_stream(self.container))  # (its interlaced pictures' first field: the stream's order)
        st = _Reading(timeline=self._new_timeline(), stamped=stamped)
        opening, self._opening = self._opening, None
        index = first_index
        for item in opening or self._decoded():
            if isinstance(item, av.Packet):
                yield from self._sound(item, st)
                continue
            vf, captured = item  # (when its packet was read: a file played live, when it was due)
            clock = None
            if vf.pts is not None and vf.time_base is not None:
                t = float(vf.pts * vf.time_base)
                if stamped and st.shift is not None and self.last_time is not None and started_again(t, self.last_time):
                    yield from self._started_again(st, t, captured)
                if st.again and (st.again[0][1] is None or t - st.again[0][1] > INTERLEAVE):  # (the pictures went on)
                    yield from self._judged(st.again, st.timeline, st.shift)
                self.last_time = st.video = t
                self._note_replay(t, stamped, first=index == first_index)
                if stamped:
                    clock = self._clocked(st, t, captured)
            yield Frame(index, self._picture(vf, bottom), vf.pts, vf.time_base, captured, clock=clock)
            index += 1
            yield from self._after_frame(st)
        if self.stop.is_set():
            return
        if st.shift is not None:  # the stream ended: a packet held for the next one is passed (a stream's only one)
            yield from self._judged(st.again, st.timeline, st.shift)
            yield from (self._timed(p, st.shift) for p in st.timeline.flush())  # or dropped and counted (a leap at the end)

    def _after_frame(self, st: _Reading) -> Iterator[av.Packet]:
        """The sound handed on after a frame of the connection :meth:`_items` reads (``st``): what waited for it (a
        recording starts at its first frame), judged by the timeline, on the capture clock; and the microphone's."""
        if st.shift is not None and st.waiting:
            yield from (self._timed(p, st.shift) for w in st.waiting for p in st.timeline.take(w, w.stream.index, st.video))
            st.waiting.clear()
        if self._mic is not None:
            yield from self._mic.take()

    def _sound(self, packet: av.Packet, st: _Reading) -> Iterator[av.Packet]:
        """An audio ``packet`` of the connection :meth:`_items` reads (``st``), on the capture clock where it is
        passed now: held before the first frame (:attr:`_Reading.waiting`, at most :data:`MAX_WAITING`, the rest
        dropped and counted), and from one that steps back or leaps from the last picture as a clock that starts
        again does (:attr:`_Reading.again`, judged as it came once that holds MAX_WAITING), else judged by the
        timeline."""
        if st.shift is None:  # (judged by the first frame, where it is: the file's first packets may be
            if (at := packet_time(packet)) is not None:  # a later chunk written twice)
                st.heard = at if st.heard is None else min(st.heard, at)
            if len(st.waiting) < MAX_WAITING:
                st.waiting.append(packet)
            else:
                self._dropped += 1
            return
        if st.again or (st.stamped and st.video is not None and (at := packet_time(packet)) is not None
                        and started_again(at, st.video)):  # fmt: skip
            st.again.append((packet, st.video))
            if len(st.again) >= MAX_WAITING:
                yield from self._judged(st.again, st.timeline, st.shift)  # (too many for a picture: as they came)
            return
        yield from (self._timed(p, st.shift) for p in st.timeline.take(packet, packet.stream.index, st.video))

    def _started_again(self, st: _Reading, t: float, captured: float) -> Iterator[av.Packet]:
        """The stream's clock started again at picture time ``t`` (an encoder restarted, a looped file, recordings
        joined with cat): tie it anew, and judge its sound afresh (the old timeline took every packet after the
        restart for a step back, or a leap away from the picture); a packet the old one holds is passed on the clock
        it came on, or dropped and counted. The sound read since the clock started again, before this picture, is
        this recording's: in step with it, after the sound so far (it waits for the picture, in ``st.waiting``)."""
        yield from (self._timed(p, st.shift) for p in st.timeline.flush())
        sound = [at for at in (packet_time(p) for p, _ in st.again) if at is not None]
        st.shift = self._tie(t, captured, min(sound, default=None))
        st.waiting += (p for p, _ in st.again)
        st.again.clear()
        self._dropped += st.timeline.dropped
        went_on = None if self._sound_end is None else self._sound_end - st.shift  # (on the new clock)
        st.timeline = self._new_timeline(goes_on=went_on)

    def _new_timeline(self, goes_on: float | None = None) -> AudioTimeline:
        """A fresh :class:`AudioTimeline` (its sound going on from ``goes_on``), the connection's from now on."""
        self._timeline = AudioTimeline(goes_on=goes_on)
        return self._timeline

    def _clocked(self, st: _Reading, t: float, captured: float) -> float:
        """The capture clock (:attr:`Frame.clock`) of the picture at stream time ``t``, read at ``captured``: the
        connection tied at its first picture (:meth:`_tie`), and again where its stream time runs away from the
        arrival by more than :data:`RESYNC`; noting it (:attr:`_clock`) and the recording's lag (:attr:`_lag`)."""
        tied = st.shift is None or abs(t + st.shift - captured - st.lag) > RESYNC
        if st.shift is None:
            st.lag = self._lag if self._clock is not None else 0.0  # (kept from the connection before)
            st.shift = self._tie(t, captured, st.heard, st.lag)
        elif tied:
            st.shift = self._tie(t, captured, None, st.lag)
        clock = self._clock = t + st.shift
        # (the most since the tie: a picture read late, as the last one before an outage that a
        # demuxer gives only when its read times out, is not how far the recording runs behind)
        self._lag = clock - captured if tied else max(self._lag, clock - captured)
        return clock

    def _judged(self, held: list[tuple[av.Packet, float | None]], timeline: AudioTimeline, shift: float
                ) -> Iterator[av.Packet]:  # fmt: skip
        """The audio packets ``held`` (emptied; each with the last picture's time when it was read) that
        ``timeline`` passes, on the capture clock (``shift``)."""
        packets = held[:]
        held.clear()
        yield from (self._timed(p, shift) for a, video in packets for p in timeline.take(a, a.stream.index, video))

    def _tie(self, t: float, captured: float, heard: float | None, lag: float = 0.0) -> float:
        """The shift that puts stream time ``t`` at ``captured``, or just after the last frame timed so far
        where that is later (a stream that delivered faster than real time ran the clock ahead of arrival;
        the next connection's frames go on from there, not back over them), and its sound from ``heard``
        (stream time; None: none read yet) after the sound handed on so far: a connection's sound runs a
        little past its last picture, and the next one's begins a little before its first (the muxer
        refused what went back over it). ``lag``: seconds after ``captured`` to put ``t`` at instead (a new
        connection's: the recording's lag behind arrival so far, kept)."""
        shift = captured + lag - t
        if self._clock is not None and t + shift <= self._clock:
            shift = self._clock + 1 / float(self.info.fps or 25) - t
        if heard is not None and self._sound_end is not None and heard + shift < self._sound_end:
            shift = self._sound_end - heard
        return shift

    def _timed(self, packet: av.Packet, shift: float) -> av.Packet:
        """An audio ``packet`` moved onto the capture clock (:func:`retimed`), noting where the sound ends."""
        packet = retimed(packet, shift)
        end = packet_time(packet) + float((packet.duration or 0) * packet.time_base)
        self._sound_end = end if self._sound_end is None else max(self._sound_end, end)
        return packet


@dataclass
class _Reading:
    """Where :meth:`Connection._items` stands in one connection."""

    timeline: AudioTimeline  # judges the sound (since the stream's clock last started again)
    stamped: bool  # its format has timestamps of its own (else its pictures are timed by arrival alone)
    shift: float | None = None  # capture time minus stream time, in seconds (None: no picture yet)
    lag: float = 0.0  # how far after arrival this connection was tied (:attr:`_lag`), which RESYNC leaves out
    heard: float | None = None  # the stream time of the first sound read before the first picture
    video: float | None = None  # this connection's last picture time (the connection before ran another clock)
    waiting: list[av.Packet] = field(default_factory=list)  # sound read before the first picture (or the restart's)
    again: list[tuple[av.Packet, float | None]] = field(default_factory=list)  # (sound read since one whose clock


MAX_WAITING = 256  # audio packets kept while a connection's first frame is awaited (seconds of sound)
RESYNC = 5.0  # seconds a stream's timestamps may run away from its frames' arrival before it is tied again
NO_TIMESTAMPS = 0x80  # FFmpeg's AVFMT_NOTIMESTAMPS: a format whose timestamps the demuxer makes up (mpjpeg, h264, mjpeg)
MADE_UP = frozenset({"image2pipe"})  # numbers its pictures at a rate it is told, without that flag
