"""One timeline for a file whose clock starts again midway: two recordings joined byte for byte
(``cat a.ts b.ts``, as dashcams and users do), a broadcast whose encoder restarted.

Only formats whose clock may jump are read so (FFmpeg's ``AVFMT_TS_DISCONT``: MPEG-TS, MPEG-PS), and
Matroska files joined so (:func:`~roadseg.pipeline.sources.ebml.joined_matroska`: FFmpeg reads on into the
second file's clusters, whose clock starts again from 0); a wrap of their 33-bit clock FFmpeg unwraps itself, and a jump of one wrap (:data:`WRAP`) that it left (a
stream's first packet below 0, AAC priming read after the picture's first seconds, is read 26.5 hours
on) is no restart: such packets pass as they came. A packet that lands more than :data:`STEP_BACK`
seconds behind where its stream was expected, or more than :data:`LEAP` ahead (FFmpeg's own threshold),
is held with the packets of its stream that go on from it, until they have lasted :data:`CONFIRM` or the
stream ends: then the clock started again (from no fewer packets before the step than after it, a packet
of AAC frames merged into one counting as those its sound spans, and where moving the stream brings it
nearer the others: a restart moves them all, while a stream whose first timestamp was damaged goes on
unmoved from the step), and the stream's packets from the step on are moved so that it follows on where
it was (sound and picture by the same amount, where one fits both: they keep the step between them that
the file gives them). Where the stream goes back to where it was before that, the held packets were
damage: a chunk of the file written twice, or one packet's timestamp; they pass as they came, for the
checks after to judge, but a picture alone, or pictures that leapt ahead (their timestamps damaged, or
later ones swapped in early), are put where their stream was expected (left at their damaged time, they
would carry the pictures after them there).

Example:
    >>> from fractions import Fraction
    >>> def packet(ms):
    ...     p = av.Packet(b"x")
    ...     p.pts, p.dts, p.duration, p.time_base = ms, ms, 40, Fraction(1, 1000)
    ...     return p
    >>> clock = Clock()
    >>> out = [p.pts for ms in (*range(0, 2001, 40), *range(0, 1041, 40)) for p in clock.take(packet(ms), 0)]
    >>> out[49:54], clock.restarts  # two seconds, then a second recording from 0 again: it follows on
    ([1960, 2000, 2040, 2080, 2120], 1)
    >>> [p.pts for ms in (-1000, 1080, 1120) for p in clock.take(packet(ms), 0)]  # one damaged timestamp
    [1040, 3120, 3160]
    >>> [p.pts for ms in (400, 440, 480, 1160, 1200) for p in clock.take(packet(ms), 0)]  # a chunk written twice
    [2440, 2480, 2520, 3200, 3240]
    >>> out = [p.pts for ms in range(61240, 62300, 40) for p in clock.take(packet(ms), 0)]
    >>> out[:2], clock.restarts  # a leap of a minute: taken out
    ([3280, 3320], 2)
    >>> clock = Clock()
    >>> [p.pts for ms in (1200, 1240, *range(0, 1100, 40)) for p in clock.take(packet(ms), 0)][:4]  # damaged first
    [1200, 1240, 0, 40]
    >>> clock = Clock()  # two packets 29 s ahead, one without a time: it waits with them, no end of the stream
    >>> [p.pts for ms in (*range(0, 1001, 40), 30040, 30080, None, 1120) for p in clock.take(packet(ms), 0)][-5:]
    [1000, 30040, 30080, None, 1120]
"""

from __future__ import annotations

from collections.abc import Iterator

import av

from roadseg.pipeline.sources.packets import packet_time, seconds

STEP_BACK = 0.5  # seconds a stream may step back before its clock counts as started again
LEAP = 10.0  # seconds a stream may leap ahead before its clock counts as started again (FFmpeg's dts_delta_threshold)
TS_DISCONT = 0x200  # FFmpeg's AVFMT_TS_DISCONT: a format whose timestamps may jump
LEAPT = 0.1  # seconds a stream may leap ahead of where it was expected before it counts as a leap (see Clock._leapt)
CONFIRM = 1.0  # seconds a stream goes on from a step before it counts as a restart (a chunk written twice
# goes back to where it was sooner)
WRAP = 2**33 / 90000  # seconds of the 33-bit 90 kHz clock of MPEG-TS and MPEG-PS, after which it wraps


class Clock:
    """Move each stream's packets after a restart of the file's clock so that they follow on; count the restarts.

    Each stream is judged on its own (at a join the demuxer may give the next recording's sound before the
    last picture of the one before it), and takes the move that another stream's restart found where
    that one fits it too (within :data:`STEP_BACK`), so that sound and picture stay as the file has them.
    """

    def __init__(self) -> None:
        self.moves: list[float] = []  # seconds added to the timestamps after each restart found, in order
        self._move: dict[int, int] = {}  # stream -> its place in ``moves`` (none: not moved)
        self._last: dict[int, tuple[float, float]] = {}  # stream -> (time, where its next packet is expected), moved
        self._held: dict[int, tuple[list[av.Packet], float]] = {}  # stream -> (its step and the packets that went
        # on from it, the move the step asks for)
        self._count: dict[int, int] = {}  # stream -> packets it has passed that set where it is (a packet of merged
        # AAC frames: as many as the packets before it whose length its sound spans)
        self._before: dict[int, float | None] = {}  # stream -> where it was expected before its last packet passed,
        # where that one leapt ahead of it (LEAPT): a packet in line whose sound runs long (merged) leapt nowhere
        self._went_on: dict[int, av.Packet] = {}  # stream -> the last packet of its held run that went on from the step
        self._leapt: dict[int, tuple[float, float]] = {}  # stream -> (where it was expected before its last leap
        # ahead, where it leapt to), for CONFIRM seconds after it: a step back there was a later chunk written twice
        self._damaged: set[int] = set()  # streams whose packets passed so far were found damage (first_damaged)

    @property
    def restarts(self) -> int:
        return len(self.moves)

    def recording(self, stream: int) -> int:
        """Which recording ``stream``'s packets passing now are of: the restarts found it was moved by (-1: none),
        a new one where another was joined after the one before."""
        return self._move.get(stream, -1)

    def first_damaged(self, stream: int) -> bool:
        """Whether ``stream``'s packets passed before those passing now were found to be damage since this was
        last asked: the stream went on from a step unmoved (:meth:`_settle`), its first timestamps broken."""
        found = stream in self._damaged
        self._damaged.discard(stream)
        return found

    def take(self, packet: av.Packet, stream: int | None) -> Iterator[av.Packet]:
        """The packets to pass now for ``packet`` of ``stream`` (None: of no stream, such as the empty
        packet that drains a decoder): none while a step and the packets that go on from it wait to be
        judged, else those and it, retimed."""
        t = packet_time(packet)
        if stream is None:
            yield from self.flush()
        elif t is None and stream in self._held and packet.size:  # (one without time amid a held run, its
            self._held[stream][0].append(packet)  # timestamps damaged: it waits with the run, in its order)
            return
        elif t is None and stream in self._held:  # (the empty packet that drains its decoder: the end of the
            yield from self._settle(stream)  # stream judges what is held)
        if stream is None or t is None:
            yield packet
            return
        if stream in self._held:
            run, _ = self._held[stream]
            last = self._went_on[stream]
            from_run, from_expected = (
                t - packet_time(last) - _duration(last),
                t + self._offset(stream) - self._last[stream][1],
            )
            if _goes_on(from_run, from_expected):
                run.append(packet)
                self._went_on[stream] = packet
                if t - packet_time(run[0]) >= CONFIRM:
                    yield from self._settle(stream)
                return
            if len(run) > 1 and not _goes_on(from_expected, from_run):  # (nor back where the stream was: one
                self._odd(packet, run[0], last)  # packet damaged within a run that goes on, kept with it)
                run.append(packet)
                return
            yield from self._undo(stream)  # (the stream went back to where it was, or a step went on from nowhere)
        last = self._last.get(stream)
        ahead = 0.0 if last is None else t + self._offset(stream) - last[1]
        before = self._before.get(stream)  # (where it was expected before its last packet: that one alone leapt)
        back = ahead < -STEP_BACK and before is not None and abs(t + self._offset(stream) - before) <= STEP_BACK
        leapt = self._leapt.get(stream)  # (or before a leap ahead within CONFIRM: a later chunk written twice)
        back = back or (ahead < -STEP_BACK and leapt is not None and abs(t + self._offset(stream) - leapt[0]) <= STEP_BACK)
        if (ahead < -STEP_BACK or ahead > LEAP) and abs(abs(ahead) - WRAP) > STEP_BACK and not back:  # (a wrap: none)
            self._held[stream] = ([packet], self._offset(stream) - ahead)
            self._went_on[stream] = packet
            return
        yield self._pass(packet, stream)

    def flush(self) -> Iterator[av.Packet]:
        """What is held, judged by what came (:meth:`_settle`): at the end of the input."""
        for stream in list(self._held):
            yield from self._settle(stream)

    def _settle(self, stream: int) -> Iterator[av.Packet]:
        """``stream``'s held run (its step and the packets that went on from it) once it has lasted
        :data:`CONFIRM` or its stream ended: a restart of the clock where more than the step went on from
        it, no fewer packets came before it, and moving it brings it nearer the other streams; where more
        went on from it than came before, or the move would take it away from the others, the packets
        before it were the damage (a stream's first timestamps) and it goes on unmoved; a step alone is
        damage (:meth:`_undo`)."""
        run, asked = self._held[stream]
        if _timed(run) < 2:
            yield from self._undo(stream)
            return
        del self._held[stream]
        if self._count.get(stream, 0) >= len(run) and self._moved_nearer(stream, packet_time(run[0]), asked):
            self._restart(stream, packet_time(run[0]), asked)
        else:  # (the few packets before the step were the damage, a stream's first timestamps: it goes on unmoved)
            self._damaged.add(stream)
        for packet in run:
            yield self._pass(packet, stream)

    def _undo(self, stream: int) -> Iterator[av.Packet]:
        """``stream``'s held run as damage, which says nothing of where the stream is: its packets pass as
        they came (a chunk of the file written twice), but a picture alone, or pictures that leapt ahead,
        are put where their stream was expected, in their order (only their times were damaged, or later
        pictures were swapped in early: left there, they would carry the pictures after them)."""
        run, _ = self._held.pop(stream)
        ahead = packet_time(run[0]) + self._offset(stream) > self._last[stream][1]
        if (_timed(run) == 1 or ahead) and run[0].stream is not None and run[0].stream.type == "video":
            self._put_back(run, stream)
        for packet in run:
            yield self._pass(packet, stream, remember=False)

    def _odd(self, packet: av.Packet, first: av.Packet, last: av.Packet) -> None:
        """A ``packet`` within a held run (from ``first`` to ``last`` that went on) that neither goes on from it
        nor goes back to where its stream was: one damaged timestamp. A picture is put where the run expected it
        (left at its damaged time, it would carry the pictures after it there); a sound passes with the run, for
        the checks after. So does a picture that lies between the run's first and ``last``: out of its order (a
        later chunk of the file swapped in before it, which the run leapt to), not damaged, and where it came it
        shows that the pictures the leap stepped over were not lost (:class:`~roadseg.pipeline.sources.gaps.Gaps`;
        put where the run expected them, a chunk's pictures all took one time, and the leap's were counted lost)."""
        t = packet_time(packet)
        if packet.stream is not None and packet.stream.type == "video" and not packet_time(first) <= t <= packet_time(last):
            _moved(packet, packet_time(last) + _duration(last) - t)

    def _moved_nearer(self, stream: int, t: float, asked: float) -> bool:
        """Whether ``stream``'s step at ``t``, moved by ``asked``, lies nearer the other streams (the latest
        time any of them has reached) than where it came: so it is at a restart of the file's clock, which
        moves them all. Where it came lies nearer, the packets before it were the damage (a stream's first
        timestamp broken), and the stream goes on from the step unmoved."""
        others = [last[0] for s, last in self._last.items() if s != stream]
        if not others:
            return True
        front = max(others)
        return abs(t + asked - front) < abs(t + self._offset(stream) - front)

    def _put_back(self, run: list[av.Packet], stream: int) -> None:
        """Retime the ``run`` of ``stream`` (in file order, its first with a time) by one amount, so that it
        starts where the stream was expected (its own clock's time, before the stream's move): a picture left
        where its damaged time put it would carry the pictures after it there, as an output's timestamps only
        go forward."""
        move = self._last[stream][1] - self._offset(stream) - packet_time(run[0])
        for packet in run:
            _moved(packet, move)

    def _offset(self, stream: int) -> float:
        n = self._move.get(stream)
        return 0.0 if n is None else self.moves[n]

    def _restart(self, stream: int, t: float, asked: float) -> None:
        """Move ``stream`` from its step at ``t`` on: by a restart another stream found since its own last
        one, where that puts the step within :data:`STEP_BACK` of where the stream was expected, else by
        ``asked`` (a restart of its own)."""
        expected, own = self._last[stream][1], self._move.get(stream, -1)
        fits = (n for n in range(own + 1, len(self.moves)) if abs(t + self.moves[n] - expected) <= STEP_BACK)
        n = next(fits, None)
        if n is None:
            self.moves.append(asked)
            n = len(self.moves) - 1
        self._move[stream] = n

    def _pass(self, packet: av.Packet, stream: int, *, remember: bool = True) -> av.Packet:
        offset, t = self._offset(stream), packet_time(packet)
        if offset:
            _moved(packet, offset)
        if remember and t is not None:  # (one without time, held with a run, says nothing of where the stream is)
            t += offset
            last = self._last.get(stream)
            step = t - last[0] if last is not None and t > last[0] else 0.0
            before = 0.0 if last is None else last[1] - last[0]  # (the spacing taken at the packet before)
            # without a duration, the step from the packet before; never longer than the one before it (a
            # pause of the pictures is no frame step: the next one, expected that far on, read as a step back)
            spacing = _duration(packet) or (min(step, before) if before > 0 else step)
            self._before[stream] = None if last is None or t - last[1] <= LEAPT else last[1]
            if last is not None and t - last[1] > LEAPT:
                self._leapt[stream] = (last[1], t)
            elif stream in self._leapt and (t < self._leapt[stream][1] or t - self._leapt[stream][1] >= CONFIRM):
                del self._leapt[stream]  # (back from it, or gone on from it: it was where the stream is)
            self._last[stream] = (t, t + spacing)
            spans = round(_duration(packet) / before) if before > 0 else 1  # (more than 1: merged AAC frames)
            self._count[stream] = self._count.get(stream, 0) + max(1, spans)
        return packet


def _moved(packet: av.Packet, seconds: float) -> None:
    """Move ``packet``'s timestamps (pts and dts alike) by ``seconds``, in its own time base's ticks."""
    ticks = round(seconds / packet.time_base)
    packet.pts = None if packet.pts is None else packet.pts + ticks
    packet.dts = None if packet.dts is None else packet.dts + ticks


def _goes_on(from_step: float, from_expected: float) -> bool:
    """Whether a stream's next packet, ``from_step`` seconds after where its held step leads and
    ``from_expected`` after where the stream was expected, goes on from the step: it is no step from
    there itself (a burst of damaged timestamps is a step from each other too), and lies nearer it."""
    return -STEP_BACK <= from_step <= LEAP and abs(from_step) < abs(from_expected)


def _timed(run: list[av.Packet]) -> int:
    """How many packets of a held ``run`` have a time (one without, damaged, waits with it but says nothing)."""
    return sum(packet_time(packet) is not None for packet in run)


def _duration(packet: av.Packet) -> float:
    tb = packet.time_base
    return seconds(packet.duration or 0, tb) if tb else 0.0
