"""Where pictures are missing from a file's timeline, and why: a camera that held them (a slower pace), paused between
bursts, or pictures lost to damage, told apart by the marks a loss leaves (:class:`Gaps`); and how far a picture may lie
off the line of those around it before it is a hole (:data:`OFF_LINE`, :data:`RUN`, :data:`HOLE`). A camera's own pace
(:mod:`~roadseg.pipeline.sources.pace`), the bytes a demuxer passed over or discarded, which mark a loss
(:mod:`~roadseg.pipeline.sources.marks`), and the pictures a decoder dropped without a word, which leave no step
(:mod:`~roadseg.pipeline.sources.dropped`), are modules of their own.
"""

from __future__ import annotations

import math
from collections import deque
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
    camera that holds a picture for two leaves one (:class:`~roadseg.pipeline.sources.pace.Pace`), or a motion-triggered
    one that pauses between bursts; but the demuxer then marks a packet near them corrupt (FFmpeg: their continuity
    counter jumps). A Matroska demuxer passes over bytes to the next cluster where damage stops it
    (:class:`~roadseg.pipeline.sources.marks.PassedOver`); and H.264 numbers its reference pictures, so that the picture
    after a loss skips a number (:mod:`numbering`), in any container, and where a recorder wrote a TS after the loss
    (its counters then run on unbroken). A step of more than 1.5 frames that the pictures go on from (not back) counts
    as the frames it skips where a loss is marked: the step nearest to :data:`MARKED_AHEAD` packets after a corrupt one,
    or to the packet read after bytes passed over or that skipped a number, within :data:`NEAR` of there, one step a
    mark, so that a picture held beside the loss stays held; up to :data:`OFF_LINE` (a longer one stays in the frames
    expected: :meth:`VideoSource.expected_frames`). A corrupt packet, or any mark in a TS (``joins``), does not mark a
    step to a keyframe: recordings joined with cat meet there (their counters jump too, a second camera's codec read as
    H.264 skips numbers, and a camera that goes on with its clock into its next file leaves the time it took to start
    it); bytes a TS's demuxer discarded (:class:`~roadseg.pipeline.sources.marks.Discarded`), which a join leaves none
    of, do, but for the step to a recording joined after another. A frame of such a step that a picture comes at within
    :data:`OUT_OF_ORDER` (read before the step or after it) was not lost: the pictures came out of their order (chunks
    of the file swapped).

    A step of more than :data:`HOLE` frames (up to :data:`~roadseg.pipeline.sources.clock.LEAP`, beyond which
    :class:`~roadseg.pipeline.sources.pace.Pace` takes it for a pause) with no loss marked near it is a pause
    (:attr:`pauses`), not a hole, where a loss would have been marked: always in a transport stream, a Matroska file
    or a file that counts its pictures (mp4, mov: ``marks_all``, its count holds no picture where no loss is marked;
    not an MPEG-PS, whose clock is read as a TS's but which has no counters), and in H.264 whose numbers
    are followed (``numbered``) where the picture after it is no keyframe (its numbers run on: no reference picture was
    lost). Not one as long as the step before it: a slower pace (:class:`~roadseg.pipeline.sources.pace.Pace`).

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
        :mod:`numbering`; the demuxer passed over damage, :class:`~roadseg.pipeline.sources.marks.PassedOver`), a step
        to a keyframe too; ``joined``: whether it is the first of a recording joined after another (the step to it skips
        the frames whole within it: the join's own gap of under a frame step is no picture's); ``discarded``: a TS's
        demuxer discarded bytes since the video packet before (:class:`~roadseg.pipeline.sources.marks.Discarded`), a
        step to a keyframe too, but for a recording's joined after another."""
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
        return within(self.pauses, start, end)

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


def within(spans: list[tuple[float, float]], start: float, end: float) -> float:
    """Seconds of the ``(from, to)`` spans that lie between ``start`` and ``end``."""
    return sum(max(0.0, min(end, b) - max(start, a)) for a, b in spans)
