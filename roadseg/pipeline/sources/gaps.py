"""Where pictures are missing from a file's timeline, and why: a camera that held them (a slower pace), paused
between bursts, or pictures lost to damage, told apart by the marks a loss leaves (:class:`Gaps`).

Example (a camera that holds one picture in four for two: its pace, not holes):
    >>> pace = Pace()
    >>> for n in [0, 1, 2, 3, 5, 6, 7, 8, 10, 11, 12, 13]:
    ...     pace.take(n / 30)
    >>> round(pace.rate(30), 1)
    25.4
"""

from __future__ import annotations

import math
from collections import Counter, deque
from typing import NamedTuple

from roadseg.pipeline.sources.clock import LEAP

#: seconds a picture may lie off the line of the pictures around it before its timestamp counts as damaged
OFF_LINE = 1.0
#: pictures in a row off the line of those around them that may be damaged stamps (:class:`Gaps`, and
#: :class:`~roadseg.pipeline.sources.inline.InLine`, which puts them back): a longer run is where the video went
RUN = 8
#: a step between two pictures of more than this many of the stated rate's is a hole where pictures were lost
#: (two or more), not a camera that slowed down: a dashcam that holds a picture for two at night, a phone at 15
#: frames/s of a stated 30 in the dark
HOLE = 2.5


class Pace:
    """The rate a file's pictures really come at, from the steps between them. A camera that slows down keeps
    the rate it states, so the frames that rate counts over the file's length are more than it holds, where it
    has no count of its own (MPEG-TS, Matroska). Steps backwards (damaged stamps) are not its pace, nor holes:
    a step longer than :data:`HOLE` stated ones, where pictures were lost, unless it is as long as the step
    before it (a camera in parking mode, a picture a second: the steps of a slower rate come in a row). A step
    of more than :data:`~roadseg.pipeline.sources.clock.LEAP` is a pause of the recording (a motion-triggered
    camera's minutes between bursts), as :class:`~roadseg.pipeline.sources.clock.Clock` takes it where the format allows a jump, unless the
    pictures later go back before its end (damaged stamps).

    >>> pace = Pace()
    >>> for n in [0, 1, 2, 3, 5, 6, 7, 8, 10, 20, 21]:  # one picture in four held for two; a hole of nine
    ...     pace.take(n / 30)
    >>> round(pace.rate(30), 1)
    24.5
    >>> for n in range(22, 32):  # then parked: a picture a second (the first step of it taken for a hole)
    ...     pace.take(21 / 30 + n - 21)
    >>> round(pace.rate(30), 2)
    1.92
    >>> for t in (70.0, 70.04, 100.0, 70.08):  # a pause of the recording to 70 s; a stamp damaged 30 s on
    ...     pace.take(t)
    >>> [(round(a, 2), b) for a, b in pace.pauses], round(pace.paused(0.0, 30.0), 2)
    ([(10.7, 70.0)], 19.3)
    """

    def __init__(self) -> None:
        self._steps: Counter[int] = Counter()  # steps between pictures in turn, in 10 µs, and how often each came
        self._again: Counter[int] = Counter()  # of those, how often each came after a step as long as itself
        self._last: float | None = None
        self._step: float | None = None
        self.pauses: list[tuple[float, float]] = []  # (from, to) of each step longer than LEAP: pauses of the recording
        self.joins: list[tuple[float, float]] = []  # (from, to) of the gaps between recordings joined in the file
        self._joins: list[float] = []  # where those recordings begin, not stepped over yet

    def joined(self, start: float, end: float) -> None:
        """A recording joined after another begins at ``end`` seconds, the one before it ending at ``start``: no
        pictures are due between (:meth:`paused`), and the step over it is the join's, not the pace."""
        self.joins.append((start, end))
        self._joins.append(end)

    def take(self, t: float) -> None:
        """The next picture, at ``t`` seconds."""
        step = None if self._last is None else t - self._last
        if step is not None and step > LEAP:
            self.pauses.append((self._last, t))
        elif step is not None and step < 0:  # (back before a pause's end: its step was a damaged stamp's)
            self.pauses = [pause for pause in self.pauses if pause[1] <= t]
        joined = step is not None and any(self._last < at <= t for at in self._joins)
        self._joins = [at for at in self._joins if at > t]
        if step is not None and 0 < step <= LEAP and not joined:
            key = round(step * 100_000)
            self._steps[key] += 1
            if self._step is not None and abs(step - self._step) <= 0.25 * self._step:
                self._again[key] += 1
            self._step = step
        self._last = t

    def rate(self, stated: float) -> float | None:
        """Pictures a second over the steps that are the file's pace (a ``stated`` rate's step up to
        :data:`HOLE` of it, and longer ones that came in a row); None where there are none."""
        short = HOLE * 100_000 / stated
        paced = [(step, n if step <= short else self._again[step]) for step, n in self._steps.items()]
        seconds = sum(step * n for step, n in paced) / 100_000
        return sum(n for _, n in paced) / seconds if seconds > 0 else None

    def paused(self, start: float, end: float) -> float:
        """Seconds of the pauses, and of the gaps of joins, between ``start`` and ``end``."""
        return _within(self.pauses, start, end) + _within(self.joins, start, end)


#: packets either side of where a loss is marked within which a step in the pictures is the pictures lost (Gaps)
NEAR = 2
#: packets after the one FFmpeg marks corrupt that the step of a transport stream's loss ends at: the continuity
#: counter's jump marks the picture being read, which its parser gives one picture late (found by dropping
#: whole PES packets and garbling bytes: two in every case)
MARKED_AHEAD = 2
#: seconds of pictures (at the stated rate) read before or after a step counted as pictures lost within which a
#: picture at one of its frames fills it: those pictures came out of their order, in chunks of the file swapped,
#: and were not lost (a step counted is no longer than OFF_LINE, so its pictures lie within about twice that)
OUT_OF_ORDER = 2 * OFF_LINE


class Step(NamedTuple):
    """A step between two pictures in turn (:class:`Gaps`), in seconds on the one timeline."""

    frames: int  # frames it skips at the stated rate
    start: float
    end: float
    key: bool  # whether the picture it steps to is a keyframe
    again: bool  # whether it is as long as the step before it (a slower pace: a camera parked)
    joined: bool = False  # whether that picture is the first of a recording joined after another


class Gaps:
    """Pictures whose packets were lost without a trace in the decoder, and pauses of the recording. Lost in
    transit or on a bad card, a transport stream's packets leave a step in the pictures' timestamps, as a
    camera that holds a picture for two leaves one (:class:`Pace`), or a motion-triggered one that pauses
    between bursts; but the demuxer then marks a packet near them corrupt (FFmpeg: their continuity counter
    jumps). A Matroska demuxer passes over bytes to the next cluster where damage stops it (:class:`PassedOver`);
    and H.264 numbers its reference pictures, so that the picture after a loss skips a number (:mod:`numbering`),
    in any container, and where a recorder wrote a TS after the loss (its counters then run on unbroken).
    A step of more than 1.5 frames that the pictures go on from (not back) counts as the frames it skips where a
    loss is marked: the step nearest to :data:`MARKED_AHEAD` packets after a corrupt one, or to the packet read
    after bytes passed over or that skipped a number, within :data:`NEAR` of there, one step a mark, so that a
    picture held beside the loss stays held; up to :data:`OFF_LINE` (a longer one stays in the frames expected:
    :meth:`VideoSource.expected_frames`). A corrupt packet, or any mark in a TS (``joins``), does not mark a step
    to a keyframe: recordings joined with cat meet there (their counters jump too, a second camera's codec read
    as H.264 skips numbers, and a camera that goes on with its clock into its next file leaves the time it took
    to start it); bytes a TS's demuxer discarded (:class:`Discarded`), which a join leaves none of, do, but for
    the step to a recording joined after another. A frame of such a step that a picture comes at within
    :data:`OUT_OF_ORDER` (read before the step or after it) was not lost: the pictures came out of their order
    (chunks of the file swapped).

    A step of more than :data:`HOLE` frames (up to :data:`~roadseg.pipeline.sources.clock.LEAP`, beyond which
    :class:`Pace` takes it for a pause) with no loss marked near it is a pause (:attr:`pauses`), not a hole,
    where a loss would have been marked: always in a transport stream or a Matroska file (``marks_all``; not an
    MPEG-PS, whose clock is read as a TS's but which has no counters), and in H.264 whose numbers are followed
    (``numbered``) where the picture after it is no keyframe (its numbers run on: no reference picture was lost).
    Not one as long as the step before it: a slower pace (:class:`Pace`).

    >>> gaps = Gaps(25, marks_all=True)
    >>> for n, bad in [(0, 0), (1, 0), (2, 1), (3, 0), (5, 0), (6, 0), (8, 0), (9, 0), (11, 0), (12, 0), (112, 0),
    ...                (113, 0)]:
    ...     gaps.take(n / 25, bool(bad), key=False)
    >>> gaps.flush(), gaps.pauses  # from 3 to 5, two packets after the corrupt one; to 8 and 11 pictures held
    (1, [(0.48, 4.48)])

    Pictures that step back to before a step's end within :data:`RUN` of it were stamped ahead (damage), and a
    run of up to :data:`RUN` stamped behind leads back to where they were: neither step is a pause.

    >>> gaps = Gaps(25, marks_all=True)
    >>> for n in [0, 1, 2, 128, 129, 130, 6, 7, 8, -67, -66, 11, 12]:  # three 5 s ahead, two 3 s behind
    ...     gaps.take(n / 25, False, key=False)
    >>> gaps.flush(), gaps.pauses
    (0, [])

    >>> gaps = Gaps(25, marks_all=True, joins=True)  # 9 lost before the keyframe 10, the bytes between discarded
    >>> for n in [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 15, 16]:  # (14 held: no mark)
    ...     gaps.take(n / 25, False, key=n in (10, 15), discarded=n == 10)
    >>> gaps.flush()
    1

    >>> gaps = Gaps(25, marks_all=True)  # a chunk swapped: 5 to 9 read after 10 and 11, a corrupt packet beside
    >>> for n in [0, 1, 2, 3, 4, 10, 11, 5, 6, 7, 8, 9, 12, 13]:
    ...     gaps.take(n / 25, n == 3, key=False)
    >>> gaps.flush()
    0

    A picture read back into a hole counted is that picture, out of its order, not a damaged stamp of the one
    after the last: a step from the last to the next is pictures lost, to a keyframe too (the chunk moved there
    in the place of a picture's packet).

    >>> gaps = Gaps(25, marks_all=True, joins=True)  # 4 moved in after 9, over 10's packet; 11 a keyframe
    >>> for n in [0, 1, 2, 3, 5, 6, 7, 8, 9, 4, 11, 12, 13]:
    ...     gaps.take(n / 25, n == 2, key=n == 11)
    >>> gaps.flush()  # (10; 4 came, out of its order)
    1

    The step to the first picture of a recording joined after another skips the frames whole within it: the join's
    own gap, of under a frame step, is no picture's.

    >>> gaps = Gaps(25, marks_all=True, joins=True)  # joined 0.95 of a frame after 4; the second's first lost
    >>> for n in [0, 1, 2, 3, 4, 6.95, 7.95, 8.95]:
    ...     gaps.take(n / 25, False, key=False, skipped=n == 6.95, joined=n == 6.95)
    >>> gaps.flush()  # (5.95; was 2, the join's gap counted with it)
    1
    """

    def __init__(self, fps: float, *, marks_all: bool, numbered: bool = False, joins: bool = False,
                 window: tuple[float, float] = (-math.inf, math.inf)) -> None:  # fmt: skip
        self.lost = 0  # (the frames lost in ``window``, seconds on the one timeline: the output's)
        self.window = window
        self._paused: dict[int, tuple[float, float]] = {}  # (from, to) of the steps that were pauses of the recording,
        # by the packet each ends at
        self.marks_all = marks_all
        self.numbered = numbered  # (whether H.264's numbers are followed: skipped=)
        self.joins = joins  # (whether recordings may be joined in it, at a keyframe: a TS)
        self._frame = 1 / fps
        self._n = 0  # packets taken
        self._last: float | None = None
        self._before: float | None = None  # the last step forward, in seconds
        self._step: tuple[int, Step] | None = None  # (packet it ends at, step) of a step not yet gone on from
        self._steps: dict[int, Step] = {}  # the steps gone on from and not yet judged, by the packet each ends at
        # the packets where a loss is marked (one mark a place: a TS's corrupt packet and H.264's skip may mark
        # the same loss), not yet matched with a step, and whether one to a keyframe may be it
        self._marks: dict[int, bool] = {}
        self._discarded: set[int] = set()  # of those, the ones where a TS's demuxer discarded bytes (to a keyframe too)
        # where the pictures were before they stepped back to a damaged run, and the pictures of the run since,
        # while they have not passed it again: the step from the run back there is no pause
        self._ahead: tuple[float, int] | None = None
        self._seen: deque[float] = deque(maxlen=max(1, round(OUT_OF_ORDER * fps)))  # the times of the last packets
        self._holes: list[tuple[float, int]] = []  # (time, packet counted at) of frames of steps counted, not come yet

    @property
    def pauses(self) -> list[tuple[float, float]]:
        """(from, to) of the steps that were pauses of the recording, in order."""
        return list(self._paused.values())

    def _back(self, t: float) -> None:
        """The pictures stepped back to ``t``: the steps and pauses to a run of up to :data:`RUN` pictures that
        end after it were steps to damaged stamps (the pictures came back before their end; a longer run, where
        the pictures went, counts as the span of the video does); where there were none, the pictures stepped
        back to a damaged run, and the step from it back to where they were is none either."""
        steps = {m: (step.start, step.end) for m, step in self._steps.items()}
        pending = {self._step[0]: (self._step[1].start, self._step[1].end)} if self._step is not None else {}
        undone = {m for m, (_, end) in {**steps, **self._paused, **pending}.items() if end > t and self._n - m <= RUN}
        self._steps = {m: step for m, step in self._steps.items() if m not in undone}
        self._paused = {m: pause for m, pause in self._paused.items() if m not in undone}
        self._step = None
        if not undone and self._ahead is None:
            self._ahead = (self._last, 0)

    def take(self, t: float, corrupt: bool, *, key: bool, skipped: bool = False, joined: bool = False,
             discarded: bool = False) -> None:  # fmt: skip
        """The next video packet, at ``t`` seconds on the one timeline: whether the demuxer marked it corrupt,
        whether it is a keyframe, and whether a loss is marked just before it (its picture skipped a number,
        :mod:`numbering`; the demuxer passed over damage, :class:`PassedOver`), a step to a keyframe too;
        ``joined``: whether it is the first of a recording joined after another (the step to it skips the frames
        whole within it: the join's own gap of under a frame step is no picture's); ``discarded``: a TS's demuxer
        discarded bytes since the video packet before (:class:`Discarded`), a step to a keyframe too, but for a
        recording's joined after another."""
        self._n = n = self._n + 1
        if self._last is not None and t < self._last and any(abs(at - t) < self._frame / 2 for at, _ in self._holes):
            self._moved(n, t, corrupt)  # (back into a hole counted: that picture, read out of its order)
            return
        if self._last is not None and t < self._last:  # (back: damaged stamps, before it or from here on)
            self._back(t)
        start = self._last
        if self._ahead is not None:  # (where they were, and a frame on for each picture of the run since)
            start = max(start, self._ahead[0] + self._ahead[1] * self._frame)
            done = t >= self._ahead[0] or self._ahead[1] >= RUN  # (passed it, or a longer run: where they went)
            self._ahead = None if done else (self._ahead[0], self._ahead[1] + 1)
        step = None if start is None else t - start
        if self._step is not None and step is not None and step > 0:  # (gone on from: not a damaged stamp's)
            self._steps[self._step[0]] = self._step[1]
        self._step = None
        if step is not None and 1.5 * self._frame < step <= LEAP:
            again = self._before is not None and abs(step - self._before) <= 0.25 * self._before
            frames = math.floor(step / self._frame + 1e-6) if joined else round(step / self._frame)
            self._step = (n, Step(frames - 1, start, t, key, again, joined))
        if step is not None and step > 0:
            self._before = step
        self._fill(t)
        self._seen.append(t)
        if corrupt:  # (a cat join's counters jump too, at a keyframe)
            self._marks[n + MARKED_AHEAD] = self._marks.get(n + MARKED_AHEAD, False)
        if skipped:  # (in a TS, the picture after a join skips too where its codec changed)
            self._marks[n] = self._marks.get(n, False) or not self.joins
        if discarded:
            self._marks[n] = self._marks.get(n, False)
            self._discarded.add(n)
        self._match(n - NEAR - 1)  # (the steps up to NEAR after a mark are known once the next has come)
        self._last = t

    def _moved(self, n: int, t: float, corrupt: bool) -> None:
        """Packet ``n``, at ``t``, came back into a hole counted: it is that picture, read out of its order (a chunk
        of the file moved), not a damaged stamp of the picture after the last (:meth:`_back`); the pictures go on
        from the last, and a step from it to the next is pictures lost, to a keyframe too: the chunk moved there
        in the place of a picture's packet."""
        self._fill(t)
        self._seen.append(t)
        self._marks[n + 1] = True
        if corrupt:
            self._marks[n + MARKED_AHEAD] = self._marks.get(n + MARKED_AHEAD, False)
        self._match(n - NEAR - 1)

    def _fill(self, t: float) -> None:
        """A picture at ``t``: it fills a hole at its frame; those no picture came at within OUT_OF_ORDER are lost."""
        half, n, read = self._frame / 2, self._n, self._seen.maxlen
        for hole in [(at, m) for at, m in self._holes if abs(at - t) < half or n - m > read]:
            self._holes.remove(hole)
            self.lost += abs(hole[0] - t) >= half  # (none came at it in time: lost)

    def flush(self) -> int:
        """The frames lost, all packets taken (marks near the end matched with the steps there were)."""
        self._match(None)
        self.lost += len(self._holes)
        self._holes = []
        return self.lost

    def _count(self, step: Step) -> None:
        """Count the frames ``step`` skips that lie in the window as holes, but for those a picture was read at
        (out of its order) or that a hole is at already."""
        lo, hi = self.window
        half, at = self._frame / 2, [step.start + j * self._frame for j in range(1, step.frames + 1)]
        came = [*self._seen, *(t for t, _ in self._holes)]
        self._holes += [(t, self._n) for t in at if lo - 1e-6 <= t < hi - 1e-6 and all(abs(t - c) >= half for c in came)]

    def paused(self, start: float, end: float) -> float:
        """Seconds of the pauses between ``start`` and ``end`` (on the one timeline). Not those before the video's
        first packet, where it begins after its sound: the frames expected are counted from there
        (:meth:`~roadseg.pipeline.sources.expected.Expected._begins`)."""
        return _within(self.pauses, start, end)

    def _match(self, upto: int | None) -> None:
        """Match each mark up to packet ``upto`` (all: None) with the nearest step to it within NEAR (a
        loss); judge the steps no mark can reach any more (a pause, or a picture held)."""
        for at in sorted(at for at in self._marks if upto is None or at <= upto):
            to_key, discarded = self._marks.pop(at), at in self._discarded
            self._discarded.discard(at)
            near = [m for m, step in self._steps.items()
                    if abs(m - at) <= NEAR and (to_key or not step.key or discarded and not step.joined)]
            if near:
                step = self._steps.pop(min(near, key=lambda m: (abs(m - at), m)))
                if step.end - step.start <= OFF_LINE:
                    self._count(step)
        for m in [m for m in self._steps if upto is None or m <= upto - NEAR]:
            step = self._steps.pop(m)
            if step.frames + 1 > HOLE and not step.again and (self.marks_all or self.numbered and not step.key):
                self._paused[m] = (step.start, step.end)


def _within(spans: list[tuple[float, float]], start: float, end: float) -> float:
    """Seconds of the ``(from, to)`` spans that lie between ``start`` and ``end``."""
    return sum(max(0.0, min(end, b) - max(start, a)) for a, b in spans)


#: bytes between two packets of a Matroska file past which its demuxer passed over damage to find the next
#: cluster: the elements between two blocks take a few dozen (a cluster's start, a block group's fields)
PASSED_OVER = 1024


class PassedOver:
    """Whether a Matroska demuxer passed over bytes that gave no packet since :attr:`over` was last reset: where
    it cannot read an element (damage), it looks for the next cluster, and the packets between are lost without
    a trace, the pictures after them beginning at a keyframe as a burst of a motion-triggered camera does. Every
    packet of the file, of every stream, is taken in the order read; their places and sizes show the bytes
    between them.

    >>> passed = PassedOver()
    >>> for pos, size in [(100, 500), (612, 300), (912, 40), (912, 40), (5000, 300)]:  # two frames laced in a block
    ...     passed.take(pos, size)
    ...     passed.over
    False
    False
    False
    False
    True
    """

    def __init__(self) -> None:
        self.over = False
        self._at: int | None = None  # the place of the last packet read
        self._end: int | None = None  # where it (and the frames laced with it) ends

    def take(self, pos: int | None, size: int) -> None:
        """The next packet read, at byte ``pos`` of the file (None or -1: unknown), ``size`` bytes."""
        if pos is None or pos < 0 or not size:
            return
        if pos == self._at and self._end is not None:  # (frames laced in one block share its place)
            self._end += size
            return
        if self._end is not None and pos - self._end > PASSED_OVER:
            self.over = True
        self._at, self._end = pos, pos + size



#: bytes of a transport stream's packet, and the byte each begins with (:class:`Discarded`)
TS_PACKET, TS_SYNC = 188, 0x47
#: bytes between two video packets of a transport stream past which :class:`Discarded` reads none of them (a
#: bound on what it holds: a picture takes a few hundred kB at most, with the sound between)
SCANNED = 16 << 20


class Discarded:
    """Whether the MPEG-TS demuxer discarded bytes of the file between two video packets, read from the file's own
    transport packets (188 bytes each): bytes out of step with them (damage it searched on past for the next one,
    as zeroed ones), or a packet of the video's PID that begins a PES but whose PES header is not there (damage: it
    skips that PES, a picture, to the next). The pictures in them are lost without a trace but the step over them,
    and where they lay just before a keyframe FFmpeg marks nothing: the continuity counters did not jump (a PES
    header damaged, every TS packet there; or zeroed ones 16 to a counter's turn), or jumped where recordings
    joined with ``cat`` jump too, at a keyframe (a camera that goes on with its clock into its next file leaves the
    time it took to start it, a step as long as a loss's). A join is whole packets in step, with PES headers.
    Each video packet is taken in the order read, at its place (FFmpeg's: its PES's first TS packet); the
    packets from the one before are read, up to :data:`SCANNED` bytes.

    >>> import io
    >>> def ts(pid, start, payload):
    ...     return bytes([TS_SYNC, start << 6 | pid >> 8, pid & 255, 0x10]) + payload.ljust(184, b"\\xff")
    >>> pes, rest = ts(256, 1, b"\\0\\0\\1\\xe0"), ts(256, 0, b"")
    >>> data = pes + rest + ts(257, 1, b"\\0\\0\\1\\xc0") + pes + bytes(188) + pes + ts(256, 1, b"\\0\\1\\1\\xe0") + pes
    >>> discarded = Discarded(io.BytesIO(data), 256)
    >>> [discarded.take(188 * n) for n in (0, 3, 5, 7)]  # (in step; zeroed bytes before 5; a PES header damaged)
    [False, False, True, True]
    """

    def __init__(self, file, pid: int) -> None:
        self._file = file  # (binary, seekable: the file's own bytes)
        self._pid = pid
        self._at: int | None = None  # the place of the last video packet taken

    @classmethod
    def of(cls, path: str, pid: int) -> Discarded | None:
        """One reading the file at ``path`` (the video's PID ``pid``), where it is a file of 188-byte transport
        packets from its start (None: a pipe, a URL, M2TS' 192-byte ones, other bytes before them, a PID that is
        no PES's)."""
        try:
            file = open(path, "rb")  # noqa: SIM115 - held open while the file is read: close()
        except OSError:
            return None
        head = file.read(2 * TS_PACKET + 1)
        in_step = len(head) > 2 * TS_PACKET and head[0] == head[TS_PACKET] == head[2 * TS_PACKET] == TS_SYNC
        if not in_step or not 0x20 <= pid < 0x1FFF or not file.seekable():
            file.close()
            return None
        return cls(file, pid)

    def close(self) -> None:
        self._file.close()

    def take(self, pos: int | None) -> bool:
        """The next video packet, at byte ``pos`` of the file (None or -1: unknown): whether bytes were discarded
        since the one before."""
        if pos is None or pos < 0 or self._at is not None and pos <= self._at:
            return False
        at, self._at = self._at, pos
        if at is None or pos - at > SCANNED:
            return False
        self._file.seek(at)
        data = self._file.read(pos - at)
        for i in range(0, len(data), TS_PACKET):
            if data[i] != TS_SYNC or i + TS_PACKET > len(data):  # (out of step: bytes it searched on past)
                return True
            pid, flags = (data[i + 1] & 0x1F) << 8 | data[i + 2], data[i + 3]
            if pid != self._pid or not data[i + 1] & 0x40 or not flags & 0x10 or flags & 0xC0:
                continue  # (not the video's, begins no PES, no payload, or scrambled)
            payload = i + 4 + (1 + data[i + 4] if flags & 0x20 else 0)  # (after its adaptation field)
            if payload + 3 <= i + TS_PACKET and data[payload : payload + 3] != b"\0\0\1":
                return True
        return False

#: codecs whose decoder gives no picture for a packet of one only where it could not be decoded: FFmpeg's H.264
#: and HEVC decoders drop a picture whose reference pictures are missing, without an error; MPEG-1/2's the
#: pictures before the first I-picture, MPEG-4 part 2's a B-picture read after the picture that follows it.
#: (An MPEG-4 picture not coded, a camera's picture held, rightly gives none: it is no picture, :mod:`coded`)
DROPS_SILENTLY = frozenset({"h264", "hevc", "mpeg1video", "mpeg2video", "mpeg4"})
#: frames out whose times are kept, that a packet at one of them is a copy of (:class:`Dropped`): a chunk of the
#: file written twice comes a few pictures after the first (as :data:`OUT_OF_ORDER`'s seconds at 60 frames/s)
COPIED = 240


class Dropped:
    """Pictures whose packets reached the decoder but that never came out of it, and that it raised no error for:
    FFmpeg's H.264 decoder drops a picture whose reference pictures are missing (chunks of the file swapped, a
    reference picture's packet damaged) without a word, as its MPEG decoders do (:data:`DROPS_SILENTLY`). They
    have packets where they belong, so no step in the timestamps (:class:`Gaps`) counts them, and the packets the
    decoder refused are counted where they were.

    A picture is known by its presentation time: one whose packet went in and that no frame came out at, the
    decoder drained at the end (its reorder delay is none then), was dropped. A packet at the time of a frame
    that came out already, or of one gone in, is a copy (a chunk of the file written twice: the decoder drops it
    as a picture it has), not one more picture. A packet without a time is none either: where damage splits a
    transport stream's picture in two, its parser gives the second part without one, and the frame comes out of
    it, without a time too (from a PES whose header was lost). So a frame that comes out without a time, or at one
    no picture waits at, may be any picture waiting: those are one fewer, as is a drain the decoder refused (the
    error, counted as one picture lost, was of one it held: :meth:`refused_drain`); beyond those waiting, such a frame
    is of a picture told lost already, and takes one off those (:meth:`count`). A packet that holds no picture
    to come out (an MPEG-4 picture not coded) waits for none. Counted where they lie in ``window``; not where the
    codec changed midway (the new decoder decodes again the packets since the keyframe), nor where a picture may
    be two fields, or a packet two pictures (which frame is whose is not known): interlaced H.264 frames but where
    its slices say each picture is a frame (MBAFF, not PAFF), HEVC's, an MPEG-2 field picture, DivX's packed
    B-frames. Where a packet's timestamp is not its picture's time (``timed`` False: an AVI's count its chunks, so
    a chunk written twice takes times of its own, and its copies that the decoder drops would wait, as its frames
    come out numbered in turn), MPEG-4 part 2's pictures are counted by the time each holds in its start codes
    (``own``: a copy's is its picture's, :class:`~roadseg.pipeline.sources.coded.Coded`) and the frames out by
    their number; other codecs' not at all.

    >>> dropped = Dropped((0.0, math.inf))
    >>> for t, out in [(0.00, [0.00]), (0.04, []), (0.08, [0.04]), (0.12, []), (0.16, []), (0.08, []), (0.20, []),
    ...                (None, [None])]:  # (0.12 dropped; 0.08 written twice; 0.20's picture split, out without a time)
    ...     dropped.went_in(t, "h264")
    ...     dropped.came_out(out, "h264")
    >>> dropped.came_out([0.08, 0.16], "h264")  # (drained)
    >>> dropped.count()
    1
    """

    def __init__(self, window: tuple[float, float], *, timed: bool = True) -> None:
        self.window = window  # (seconds on the one timeline, as :class:`Gaps`'s)
        self.timed = timed
        self._waiting: set[float] = set()  # the times of pictures gone in that no frame came out at yet
        self._out: deque[float] = deque(maxlen=COPIED)  # the times of the last frames out (their copies may follow)
        self._unmatched = 0  # frames out without a time, or at one no picture waited at
        self._refused = 0  # drains the decoder refused (each the error of a picture waiting, where one waits)
        self._codec: str | None = None  # the codec the first packet was decoded by
        self._counts = True  # (no longer where the codec changed or a picture may be two fields)
        # not timed: the own times of the last pictures gone in (their copies may follow), and the pictures and the
        # frames counted in the window
        self._own: deque[tuple[int, int]] = deque(maxlen=COPIED)
        self._in = self._came = 0

    def _within(self, t: float | None) -> bool:
        return t is None or self.window[0] - 1e-6 <= t < self.window[1] - 1e-6  # (without a time: in any)

    def went_in(self, t: float | None, codec: str, *, picture: bool | None = True,
                own: tuple[int, int] | None = None) -> None:  # fmt: skip
        """A packet decoded by ``codec``, to be shown at ``t`` seconds (None: unknown): whether it holds a picture
        that gives a frame (:class:`~roadseg.pipeline.sources.coded.Coded`; False: none, None: unknown), and, not
        timed, the time its picture holds (MPEG-4 part 2's: None, not read)."""
        self._codec = self._codec or codec
        self._counts = self._counts and codec == self._codec and picture is not None
        if not self.timed:
            self._counts = self._counts and (own is not None or not picture)
            if picture and own is not None and own not in self._own and self._within(t):
                self._in += 1
            if picture and own is not None:
                self._own.append(own)
            return
        if picture and t is not None and self._within(t) and t not in self._out:
            self._waiting.add(t)

    def came_out(self, times: list[float | None], codec: str, *, fields: bool = False) -> None:
        """Frames shown at ``times`` came out of the decoder, which is now of ``codec``; ``fields``: whether one
        may be two fields each come in a packet of its own."""
        self._counts = self._counts and codec == self._codec and not fields
        if not self.timed:
            self._came += sum(1 for _ in filter(self._within, times))
            return
        for t in filter(self._within, times):
            if t in self._waiting:
                self._waiting.remove(t)
            else:
                self._unmatched += 1
            self._out.append(t)

    def refused_drain(self) -> None:
        """The decoder raised as it was drained (a threaded one's error of a picture it held): the pictures it held
        never come out and wait here, the one that error is counted for among them (one fewer)."""
        self._refused += 1

    def count(self, told: int = 0) -> int:
        """The pictures dropped, the decoder drained, where ``told`` were counted lost already (packets the decoder
        refused, holes in the stamps: :class:`Gaps`): the frames out that no picture waited at beyond those waiting
        are of pictures told lost (a packet the decoder refused, and still gave a concealed frame for; a picture
        whose stamp was lost, or damaged to another's, which left a hole), and take as many off them: negative.
        A drain refused takes one off the pictures waiting only, where one waits (its error is no frame out).

        >>> dropped = Dropped((0.0, math.inf))  # (0.04 refused, counted lost, and out all the same; then 0.08)
        >>> for t, out in [(0.00, [0.00]), (0.08, [0.04, 0.08])]:
        ...     dropped.went_in(t, "h264")
        ...     dropped.came_out(out, "h264")
        >>> dropped.count(told=1)
        -1
        """
        if not self._counts or self._codec not in DROPS_SILENTLY or not self.timed and self._codec != "mpeg4":
            return 0
        if not self.timed:  # (the pictures gone in less the frames out: those beyond them are of pictures told lost)
            waiting = self._in - self._came
            return max(-told, waiting - min(self._refused, max(0, waiting)))
        waiting = len(self._waiting) - min(self._refused, len(self._waiting))
        return max(-told, waiting - self._unmatched)
