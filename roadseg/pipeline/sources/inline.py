"""Pictures whose timestamps alone are damaged, put back in line with the pictures around them (:class:`InLine`),
before a sink keeps them: :class:`~roadseg.pipeline.sources.file.VideoSource` passes its decoded pictures through one,
and judges a transport stream's first packets by one to know where the file starts
(:mod:`~roadseg.pipeline.sources.firstmoves`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace

from roadseg.pipeline.sources.base import Frame
from roadseg.pipeline.sources.framerates import step_rate
from roadseg.pipeline.sources.gaps import HOLE, OFF_LINE, RUN

#: what :meth:`InLine.through` is given, among the pictures, where a joined file ended and the next begins (--concat):
#: the first file's first pictures are judged by its own pictures alone, as that file alone is
FILE_ENDED = "file ended"


class InLine:
    """Put pictures whose timestamps alone are damaged back in line with the pictures around them.

    A sink keeps its output's timestamps going forward, so a picture stamped seconds ahead (a damaged PES
    header: within :data:`~roadseg.pipeline.sources.clock.LEAP`, or the first pictures of a file) would carry
    every picture after it there: the video would start or go on that late against its sound; stamped a little
    ahead or behind, the pictures after it are squeezed a tick apart. A run of up to :data:`RUN` pictures off
    the line (a step back, or ahead by more than :data:`~roadseg.pipeline.sources.gaps.HOLE` frame steps) that
    go on from each other, after which the pictures come back to where the line leads, is retimed between its
    neighbours a frame step apart (the step between the pictures before it); a longer run, or one the
    pictures go on from, is where the video went, and passes as it came; a picture past a hole stamped as the next
    (a copy of its packet, read out of order) is put a frame step after the last, in the hole. The first pictures of a file, up to
    :data:`RUN` of them, that the pictures after them step back from or leap more than :data:`OFF_LINE`
    seconds ahead of, are retimed to before those, where the next two follow in line (a picture alone) or more
    than :data:`RUN` of them (a run: fewer may be a damaged run themselves), but where the first lies on their line
    with fewer frame steps before them than pictures (those after it read out of order, with no place of their own),
    those are squeezed between it and them; where those keep no line either (the
    first pictures each off by its own amount), to before the first RUN + 1 that go on a frame step apart, where
    they lie nowhere near it (:meth:`_scattered`). Up to twice :data:`RUN` pictures wait to be judged; packets do not.

    >>> from fractions import Fraction
    >>> def times(ms, step=0.04):
    ...     line = InLine(step)
    ...     frames = [Frame(i, None, t, Fraction(1, 1000)) for i, t in enumerate(ms)]
    ...     return [f.pts for f in frames for f in line.take(f)] + [f.pts for f in line.flush()], line.retimed
    >>> times([30040, 80, 120, 5160, 200, 240])  # the first picture, and one midway
    ([40, 80, 120, 160, 200, 240], 2)
    >>> times([0, 40, 5080, 5120, 5160, 200, 240, 280])  # three pictures 5 s ahead
    ([0, 40, 80, 120, 160, 200, 240, 280], 3)
    >>> times([0, 40, 80, 820, 860, 200, 240, -2720, -2680, 360])  # 0.7 s ahead, 3 s behind
    ([0, 40, 80, 120, 160, 200, 240, 280, 320, 360], 4)
    >>> times([5000, 5040, *range(80, 480, 40)])[0][:3]  # the first two 5 s ahead
    [0, 40, 80]
    >>> times([0, 40, 80, 80, 160, 200, 240])  # a stamp repeated: the first pictures are in line, it is not
    ([0, 40, 80, 120, 160, 200, 240], 1)
    >>> times([9000, 9040, 9040, 300, 3000, 0, *range(240, 600, 40)])[0][:8]  # the first six each off its own way
    [0, 40, 80, 120, 160, 200, 240, 280]
    >>> times([0, 40, 80, -3000, *range(400, 800, 40)])[0][:5]  # the first three near the line: one damaged midway
    [0, 40, 80, 120, 400]
    >>> times([0, 800, *range(40, 400, 40)])[0][:4]  # the second read out of order, with no place of its own: squeezed
    [0, 20, 40, 80]
    >>> times([0, 160, 160, *range(200, 600, 40)])[0][:4]  # past a hole, a copy of the next picture's packet
    [0, 40, 160, 200]
    >>> times([0, 40, 80, 600, 640, 680, 720, 760])  # a hole where pictures were lost: the video goes on from it
    ([0, 40, 80, 600, 640, 680, 720, 760], 0)
    >>> times([0, 40, *range(5080, 5440, 40), 440, 480])[0][2:4]  # nine 5 s ahead: more than RUN, where it went
    [5080, 5120]
    """

    def __init__(self, step: float | None = None) -> None:
        self.retimed = 0
        self._step = step  # the frame step: the last between two pictures passed, at first the stream's rate's
        self._held: list[Frame] = []
        self._last: float | None = None  # the time of the last picture passed

    @classmethod
    def of(cls, stream) -> InLine:
        """An :class:`InLine` for video ``stream``'s pictures, at its frame step (where :func:`step_rate` knows it)."""
        return cls(1 / float(fps) if (fps := step_rate(stream)) else None)

    @property
    def step(self) -> float | None:
        """The frame step: the last between two pictures passed, at first the stream's rate's (None: not known)."""
        return self._step

    def take(self, frame: Frame) -> list[Frame]:
        """The pictures to pass now, ``frame`` taken in (none while the next ones are needed to judge)."""
        self._held.append(frame)
        return self._judged(end=False)

    def flush(self) -> list[Frame]:
        """The pictures still held, at the end (judged by what came after them)."""
        return self._judged(end=True)

    def ended(self) -> list[Frame]:
        """The first pictures still held where the file they came from ended and another joined after it begins
        (--concat), judged as at the end, as the file alone is (:meth:`flush`): its next file's pictures do not judge
        them. (A drive's first file of 5 pictures whose sound ran 1.5 s on, the next file's pictures 1.3 s after
        its last: they were taken for first pictures stamped off the line, and moved 1.3 s on, before the next
        file's.) None once the first pictures are judged: where a joined file's pictures leap or step back, the
        video went there (:meth:`_run`)."""
        return self._judged(end=True) if self._last is None else []

    def through(self, items: Iterable) -> Iterator:
        """``items`` in their order, but the :class:`Frame` objects among them in line: each held while it is
        judged (:meth:`take`), the rest passed at once; at the end, those held (:meth:`flush`). :data:`FILE_ENDED`
        among them is taken, not passed (:meth:`ended`)."""
        for item in items:
            if item is FILE_ENDED:
                yield from self.ended()
                continue
            yield from self.take(item) if isinstance(item, Frame) else (item,)
        yield from self.flush()

    def _judged(self, *, end: bool) -> list[Frame]:
        """The held pictures that can be judged now (``end``: all of them), in order, retimed where damaged."""
        out = []
        while self._held:
            run = self._first_run(end) if self._last is None else self._run(end)
            if run is None:  # (the pictures after it are needed)
                break
            out += self._passed(run)
        return out

    def _run(self, end: bool) -> tuple[int, list[float]] | None:
        """(how many held pictures to pass, the times to give the timed ones) once the first held picture is
        judged: a run off the line that the pictures came back from, retimed; else the first as it came."""
        t, last, step = self._held[0].time, self._last, self._step
        if t is None or step is None or not (t <= last or t - last > HOLE * step):  # (in line: a hole's or less)
            return 1, []
        run = [t]
        for n, frame in enumerate(self._held[1:], 1):
            if (u := frame.time) is None:  # (without a time: it waits with the run, as it is)
                continue
            from_line, from_run = u - (last + (len(run) + 1) * step), u - (run[-1] + step)
            if -step / 2 <= from_line <= OFF_LINE and abs(from_line) < abs(from_run):  # back where the line leads
                return n, [last + k * step for k in range(1, len(run) + 1)]
            if u == run[0] > last and len(run) == 1:  # (a picture past a hole stamped as the next: a copy of its
                return n, [last + step]  # packet, read out of order; it stands in for one lost in the hole)
            if len(run) == RUN or not 0 < u - run[-1] <= OFF_LINE:  # (a run that goes on, or none: where it went)
                return 1, []
            run.append(u)
        return (1, []) if end else None

    def _first_run(self, end: bool) -> tuple[int, list[float]] | None:
        """As :meth:`_run`, for the first pictures: those before the first step back, or leap of more than
        OFF_LINE, retimed a step apart before the line the pictures after it keep, where enough of them follow in
        line (:class:`InLine`)."""
        times = [f.time for f in self._held]
        if None in times:
            return 1, []
        jump = next((n for n in range(1, len(times)) if not 0 < times[n] - times[n - 1] <= OFF_LINE), None)
        if jump is None:
            return (1, []) if end or len(times) > RUN else None
        if jump > RUN:
            return 1, []
        after = times[jump:]
        line = next((n for n in range(1, len(after)) if not 0 < after[n] - after[n - 1] <= OFF_LINE), len(after))
        # (more in line after it than before: a picture alone, as the next two; a run, as more than RUN, or all
        # to the end: a shorter line after it may be a damaged run itself, as the pictures after that tell)
        enough = 2 if jump == 1 else RUN + 1
        if line < len(after) and line < enough or end and line <= jump:
            return self._scattered(times, jump, end)
        if line < enough and not end:
            return None
        step = self._step or after[1] - after[0]
        room = after[0] - times[0]
        if times[1] - times[0] > HOLE * step and 0 < room < jump * step - step / 2 and abs(room / step - round(room / step)) <= 1 / 4:
            # (the first on the line of those after, the next leaping off it, fewer steps before them than pictures:
            # those between have no place of their own, read out of order, and are squeezed between it and them)
            return jump, [times[0] + k * room / jump for k in range(jump)]
        if self._come_back(times, jump, step):
            return 1, []
        if abs(after[0] - step - times[jump - 1]) <= HOLE * step:  # (in line with them: a step of none or back by a
            return 1, []  # frame or two, a stamp repeated, which the pictures after judge, not the first ones)
        return jump, [after[0] - k * step for k in range(jump, 0, -1)]

    @staticmethod
    def _come_back(times: list[float], jump: int, step: float) -> bool:
        """Whether the pictures after the first ``jump`` (two or more, in line) come back, within :data:`RUN` of
        them, to where the first ones' line leads (within half a step): what lies off it between is damage midway
        (:meth:`_run`), not the first pictures. (One picture 0.2 s back after the first eight: the eight were moved
        before it, 0.2 s off the line of the rest, and H.264 with B-frames lost 5 of 38 frames to stamps they then
        shared.)"""
        if jump < 2:
            return False
        return any(abs(u - (times[jump - 1] + k * step)) <= step / 2 for k, u in enumerate(times[jump + 1 : jump + 1 + RUN], 2))

    def _scattered(self, times: list[float], jump: int, end: bool) -> tuple[int, list[float]] | None:
        """As :meth:`_first_run`, where the pictures after its ``jump`` keep no line: the first pictures each
        off by its own amount. Those before the first :data:`RUN` + 1 that go on a frame step apart (a hole's
        or less: :data:`HOLE`), found after the jump and within the first RUN + 1, are retimed a step apart
        before them, where the first lies nowhere near (more than :data:`OFF_LINE` from) where that line leads
        back to; near it, the first pictures are the file's, and what follows them damage midway (:meth:`_run`)."""
        step = self._step
        if step is None:
            return 1, []
        in_step = [0 < b - a <= HOLE * step for a, b in zip(times, times[1:])]
        for k in range(jump, RUN + 1):
            if k + RUN >= len(times):  # (the pictures after it are needed)
                return (1, []) if end else None
            if all(in_step[k : k + RUN]):
                if abs(times[0] - (times[k] - k * step)) <= OFF_LINE:
                    return 1, []
                return k, [times[k] - n * step for n in range(k, 0, -1)]
        return 1, []

    def _passed(self, judged: tuple[int, list[float]]) -> list[Frame]:
        """The first ``n`` held pictures, the timed ones given ``times`` (none: as they came)."""
        n, times = judged
        out, times = [], iter(times)
        for frame in self._held[:n]:
            t = frame.time
            if t is not None and (at := next(times, None)) is not None and at != t:
                self.retimed += 1
                frame, t = replace(frame, pts=round(at / frame.time_base)), at
            if t is not None:
                if self._last is not None and 0 < t - self._last <= OFF_LINE:
                    self._step = t - self._last
                self._last = t
            out.append(frame)
        del self._held[:n]
        return out
