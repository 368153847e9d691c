"""A live source's pictures whose presentation time alone is damaged, put back in line as a decoder gives them
(:class:`Presented`): :class:`~roadseg.pipeline.sources.connection.Connection` passes its decoded pictures through
one, where :func:`~roadseg.pipeline.sources.pacing.in_line` put their packets in line by their decoding time, as
:class:`~roadseg.pipeline.sources.inline.InLine` puts a file's pictures read whole.
"""

from __future__ import annotations

from roadseg.pipeline.sources.gaps import HOLE, OFF_LINE


class Presented:
    """Put pictures whose presentation time alone is damaged back in line, as they come out of a decoder (in the
    order they are shown): a live source's, whose packets :func:`~roadseg.pipeline.sources.pacing.in_line` put in
    line by their decoding time (a stream with B-frames decodes a picture before it shows: its decoding time in
    line, the presentation time alone damaged, it played off its place live, the pictures after it 3 s late where
    it was stamped 3 s ahead; :class:`InLine` puts it back in a file read whole).

    A picture off the line (a step back, or ahead by more than :data:`~roadseg.pipeline.sources.gaps.HOLE` frame
    steps) whose decoding time is near the line (from :data:`OFF_LINE` s behind its last picture to HOLE steps
    ahead) and whose presentation time lies further from it than any picture's in line did (by more than half a
    step either way) is given the time the line leads to (a frame step after the last), at once. Where both times
    moved (a hole where pictures were lost, a clock that started again, a damaged decoding time that ``in_line``
    moved both for), the picture is where the video went. The first picture, shown before it lies before its
    decoding time or more than OFF_LINE s after it, waits for the next: where that one steps back from it or leaps
    ahead, it is retimed a step before that one; no other waits.

    >>> presented = Presented(0.04)  # presentation - decoding time: 0.08 s for an I-frame, 0.2 for a P, 0 for a B
    >>> [presented.take(n, t, d) for n, (t, d) in enumerate([(0.0, -0.08), (0.04, 0.04), (3.08, 0.0), (0.12, 0.08)])]
    [[(0, 0.0)], [(1, 0.04)], [(2, 0.08)], [(3, 0.12)]]
    >>> presented.take(4, 5.0, 4.92), presented.take(5, 5.04, 5.0), presented.retimed  # a hole: both times leapt
    ([(4, 5.0)], [(5, 5.04)], 1)
    >>> first = Presented(0.04)
    >>> first.take(0, 3.0, -0.08), first.take(1, 0.04, 0.04), first.flush(), first.retimed  # the first 3 s ahead
    ([], [(0, 0.0), (1, 0.04)], [], 1)
    """

    def __init__(self, step: float | None = None) -> None:
        self.retimed = 0
        self._step = step  # the frame step: the last between two pictures in line, at first the stream's rate's
        self._last: float | None = None  # the time of the last picture
        self._gaps: tuple[float, float] | None = None  # the least and most presentation - decoding time in line
        self._first: tuple | None = None  # (item, time, decoding time) of a first picture that waits for the next

    def take(self, item, t: float, decoded: float | None) -> list[tuple]:
        """(item, the time to show it at) for ``item``, a picture stamped ``t`` whose packet was decoded at
        ``decoded`` (seconds; None where it has no decoding time: as it came), and the first if it waited."""
        step = self._step
        if self._first is not None:
            (first, at, was), self._first = self._first, None
            if t <= at or t - at > HOLE * step:  # (the next says it is off: before it)
                self.retimed += 1
                self._last = t - step
                return [(first, self._last), (item, self._time(t, decoded))]
            return [(first, self._time(at, was)), (item, self._time(t, decoded))]
        if self._last is None and step and decoded is not None and not -step / 2 <= t - decoded <= OFF_LINE:
            self._first = (item, t, decoded)
            return []
        return [(item, self._time(t, decoded))]

    def flush(self) -> list[tuple]:
        """The first picture, where it still waits (the stream's only one), as it came."""
        first, self._first = self._first, None
        return [] if first is None else [(first[0], first[1])]

    def _time(self, t: float, decoded: float | None) -> float:
        """The time to show the next picture at: ``t``, or where the line leads where that alone is damaged."""
        last, step, gaps = self._last, self._step, self._gaps
        off = last is not None and step is not None and (t <= last or t - last > HOLE * step)
        gap = None if decoded is None else t - decoded
        if off and gap is not None and gaps is not None and last - OFF_LINE <= decoded <= last + HOLE * step:
            if not gaps[0] - step / 2 <= gap <= gaps[1] + step / 2:
                self.retimed += 1
                self._last = last + step
                return self._last
        if gap is not None and not off:
            self._gaps = (gap, gap) if gaps is None else (min(gaps[0], gap), max(gaps[1], gap))
        if last is not None and 0 < t - last <= OFF_LINE:
            self._step = t - last
        self._last = t
        return t
