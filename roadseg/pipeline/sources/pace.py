"""The rate a file's pictures really come at (:class:`Pace`, kept by
:class:`~roadseg.pipeline.sources.file.VideoSource`): a camera that holds its pictures (a slower pace, not holes:
:class:`~roadseg.pipeline.sources.gaps.Gaps`), the pauses of the recording and the joins of recordings, for the frames
expected of a file that has no count of its own. (A file played live at its pace is
:mod:`~roadseg.pipeline.sources.pacing`'s.)

Example (a camera that holds one picture in four for two: its pace, not holes):
    >>> pace = Pace()
    >>> for n in [0, 1, 2, 3, 5, 6, 7, 8, 10, 11, 12, 13]:
    ...     pace.take(n / 30)
    >>> round(pace.rate(30), 1)
    25.4
"""

from __future__ import annotations

from collections import Counter

from roadseg.pipeline.sources.clock import LEAP
from roadseg.pipeline.sources.gaps import HOLE, within


class Pace:
    """The rate a file's pictures really come at, from the steps between them. A camera that slows down keeps
    the rate it states, so the frames that rate counts over the file's length are more than it holds, where it
    has no count of its own (MPEG-TS, Matroska). Steps backwards (damaged stamps) are not its pace, nor holes:
    a step longer than :data:`~roadseg.pipeline.sources.gaps.HOLE` stated ones, where pictures were lost, unless it is
    as long as the step before it (a camera in parking mode, a picture a second: the steps of a slower rate come in a
    row). A step of more than :data:`~roadseg.pipeline.sources.clock.LEAP` is a pause of the recording (a
    motion-triggered camera's minutes between bursts), as :class:`~roadseg.pipeline.sources.clock.Clock` takes it where
    the format allows a jump, unless the pictures later go back before its end (damaged stamps).

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
        :data:`~roadseg.pipeline.sources.gaps.HOLE` of it, and longer ones that came in a row); None where there are
        none."""
        short = HOLE * 100_000 / stated
        paced = [(step, n if step <= short else self._again[step]) for step, n in self._steps.items()]
        seconds = sum(step * n for step, n in paced) / 100_000
        return sum(n for _, n in paced) / seconds if seconds > 0 else None

    def paused(self, start: float, end: float) -> float:
        """Seconds of the pauses, and of the gaps of joins, between ``start`` and ``end``."""
        return within(self.pauses, start, end) + within(self.joins, start, end)
