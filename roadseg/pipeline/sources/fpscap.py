"""``--fps N``: a file's pictures capped at N a second (:class:`FpsCap`), before any is converted to RGB or segmented,
and the rate its output is then written at (:func:`capped_info`).

Of the decoded pictures, the first in each successive 1/N s slot of their timestamps is kept, counted from the first
picture's: a 60 frames/s dashcam's every other picture at ``--fps 30``, a variable-rate phone video's as its pictures
come (slots by time, not by count). A picture up to a quarter of a slot early counts in the next one, or a quarter of
its step from the picture before (or of the source's frame step, where less: not a lost picture's gap) where that is
less: timestamps rounded to a coarse clock (Matroska's milliseconds: a
60 frames/s picture at 33 ms, not 33.3) keep every other one, not two in a row, and at ``--fps 1`` a picture a second
(was: the picture 0.25 s early, 0.76 s after the first of a 50 frames/s video, and one more a second on). A source whose
own rate is N or less (:meth:`FpsCap.source_rate`) keeps every picture: a 29.97 frames/s video in milliseconds at
``--fps 30`` (was: where the slots' phase, drifting 0.03 ms a picture, met a rounded stamp, two pictures 33 ms apart
in one slot, one left out of about a hundred). A source at N frames/s or fewer keeps every picture. The pictures left out are not lost: they are
counted apart (:attr:`FpsCap.skipped`, ``--stats``' ``fps_skipped``).

Example:
    >>> cap = FpsCap(25)
    >>> [t for t in (0.0, 0.02, 0.04, 0.06, 0.08) if cap.keeps(t)], cap.skipped
    ([0.0, 0.04, 0.08], 2)
"""

from __future__ import annotations

import math
from dataclasses import replace
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from roadseg.pipeline.sources.base import VideoInfo

if TYPE_CHECKING:
    from roadseg.pipeline.options import RunResult

#: the part of a slot (or of the picture's step from the one before, where less) by which a picture early counts in
#: the next one (timestamps on a coarse clock)
EARLY = 0.25


def cap_rate(fps: float) -> Fraction:
    """The rate ``--fps`` names: an NTSC rate typed short (29.97, 59.94, 23.976) is that rate, 30000/1001 and so on
    (as 2997/100, a hair below a 30000/1001 source, it left one picture of 250,000 out), another as it is typed.

    >>> cap_rate(29.97), cap_rate(59.94), cap_rate(25), cap_rate(12.5), cap_rate(1)
    (Fraction(30000, 1001), Fraction(60000, 1001), Fraction(25, 1), Fraction(25, 2), Fraction(1, 1))
    """
    fps = float(fps)  # (a library caller's Fraction or NumPy number: the check takes any real one)
    whole = round(fps * 1.001)
    if whole and abs(fps * 1.001 - whole) < 1e-5 * fps:
        return Fraction(whole * 1000, 1001)
    return Fraction(fps).limit_denominator(1001)


class FpsCap:
    """Which pictures ``--fps`` keeps (:meth:`keeps`, in the order they show), how many it left out (``skipped``)
    and kept (``kept``), and the pictures lost that left a slot empty (:meth:`lost`); ``fps`` None: every one.

    >>> cap = FpsCap(30)  # a 60 frames/s video in Matroska's milliseconds
    >>> [ms for ms in (0, 17, 33, 50, 67, 83, 100) if cap.keeps(ms / 1000)]
    [0, 33, 67, 100]
    >>> cap = FpsCap(25)  # a 10 frames/s one: all kept
    >>> all(cap.keeps(n / 10) for n in range(20)), cap.skipped
    (True, 0)
    """

    def __init__(self, fps: float | None) -> None:
        self.fps = fps
        self._rate = None if fps is None else float(cap_rate(fps))  # (the slots a second)
        self.skipped = self.kept = 0
        self._first: float | None = None  # the first picture's time: the slots are counted from it
        self._from = 0  # the slot it lies in (the clock stepped back: after the last kept before the step)
        self._last: float | None = None  # the time of the latest picture with one
        self._slot: int | None = None  # the slot of the latest picture kept
        self._every = False  # (the source's own rate is the cap's or less: source_rate)
        self._step = math.inf  # (seconds: the source's frame step, where its rate is known: source_rate)

    def keeps(self, t: float | None) -> bool:
        """Whether the picture at ``t`` seconds is kept (the first of its slot); one without a time lies where the one
        before it does (the first is kept). Where the clock steps back by more than a slot (pictures that go back in
        time as the file has them, once :class:`~roadseg.pipeline.sources.inline.InLine` judged them no damage), the
        slots start again from that picture, the slot after the last kept, none left empty (was: its pictures left out
        until they came back to where it stepped from, 10 of two transport streams joined, the second 0.4 s behind);
        a picture less than a slot back (two swapped, a stamp a hair early) lies in the slots as they are (was: kept,
        and the slots started again from it, two pictures a 60th of a second apart kept at --fps 30).

        >>> cap = FpsCap(10)
        >>> [t for t in (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.1, 0.15, 0.2, 0.25) if cap.keeps(t)], cap.lost(1)
        ([0.0, 0.1, 0.2, 0.3, 0.1, 0.2], 0)
        >>> cap = FpsCap(10)
        >>> [t for t in (0.0, 0.05, 0.1, 0.15, 0.2, 0.16, 0.25, 0.3) if cap.keeps(t)]
        [0.0, 0.1, 0.2, 0.3]
        """
        if self.fps is None or self._every:
            return True
        t = self._last if t is None else t
        if t is None:  # (no picture with a time yet)
            kept = self._slot is None
            self._slot = 0 if kept else self._slot
        else:
            step = t - self._last if self._last is not None and t > self._last else math.inf
            step = min(step, self._step)  # (not a loss's long step: the picture after it kept its slot empty)
            if self._first is None or t < self._last - 1 / self._rate:  # (the clock stepped back: slots again from it;
                # not a picture less than a slot back, two swapped or a stamp a hair early: no slot to fill again)
                self._first, self._from = t, 0 if self._slot is None else self._slot + 1
            self._last = t
            slot = self._from + math.floor((t - self._first) * self._rate + EARLY * min(1.0, step * self._rate))
            kept = self._slot is None or slot > self._slot
            self._slot = slot if kept else self._slot
        self.skipped += not kept
        self.kept += kept
        return kept

    def source_rate(self, rate: Fraction | None) -> None:
        """The rate the source's pictures come at (its camera's: ``timed_fps``): where it is the cap's or less, every
        picture is kept from here on, as :func:`capped_info` writes them at it; else a picture is early by no more
        than a quarter of its step (:data:`EARLY`), not a lost picture's gap (which put the picture after it in the
        next slot, its own left empty and told lost: ts-swap-2 at --fps 12, 3 told where 2 were missing).

        >>> cap = FpsCap(30)
        >>> cap.source_rate(Fraction(30000, 1001))
        >>> all(cap.keeps(round(n * 1000 * 1001 / 30000) / 1000) for n in range(3000)), cap.skipped
        (True, 0)
        """
        self._every = self.fps is not None and bool(rate) and rate <= cap_rate(self.fps)
        self._step = 1 / float(rate) if rate else math.inf

    def lost(self, counted: int) -> int:
        """Of the ``counted`` pictures lost, those the output lacks: no more than the slots from the first kept
        picture to the last that none was kept in (a lost picture whose slot another filled is not missed; was: each
        lost picture of the file told, 30 of a 25 frames/s file at --fps 12 whose output lacked 14).

        >>> cap = FpsCap(25)  # a 50 frames/s video, five pictures from 0.2 s lost: two slots left empty
        >>> [cap.keeps(n / 50) for n in range(50) if not 10 <= n < 15].count(True), cap.lost(5), cap.lost(2)
        (23, 2, 2)
        """
        if self.fps is None or self._slot is None:
            return counted
        return min(counted, max(0, self._slot + 1 - self.kept))

    def expected(self, promised: int | None, rate: Fraction | None, read: bool) -> int | None:
        """The pictures kept of the ``promised`` ones, which come at ``rate``: as many as the slots they span (the
        progress bar's total), and once the file is ``read`` to its end, no more than those promised less those left
        out (a variable rate's; was: only those, each picture lost in a file whose clock starts again told lost; and:
        the slots a second times their seconds, rounded up, one more than 38 pictures at 25 a second keep at --fps 12,
        and told lost).

        >>> FpsCap(25).expected(50, Fraction(50), False), FpsCap(25).expected(20, Fraction(10), False)
        (25, 20)
        >>> FpsCap(12).expected(38, Fraction(25), False), FpsCap(1).expected(200, Fraction(50), False)
        (18, 4)
        """
        if self.fps is None or promised is None:
            return promised
        slots = promised
        if rate and promised:  # (the slots a picture step: as many as :meth:`keeps` keeps of a steady rate)
            ratio = self._rate / float(rate)
            slots = min(promised, math.floor((promised - 1) * ratio + EARLY * min(1.0, ratio) + 1e-9) + 1)
        return max(0, min(slots, promised - self.skipped)) if read else slots


def capped_info(info: VideoInfo, fps: float | None) -> VideoInfo:
    """``info`` with the rate its pictures are written at, ``fps``, where it comes faster (or says no rate): the
    output's frame timing (an AVI's, an MXF's) and its header's rate are N's.

    >>> info = VideoInfo("a.mp4", 64, 48, Fraction(50), Fraction(1, 1000), 100, 2.0, "h264", "yuv420p", 1)
    >>> capped_info(info, 25).fps, capped_info(info, 25).timed_fps, capped_info(info, 60).fps
    (Fraction(25, 1), Fraction(25, 1), Fraction(50, 1))
    """
    rate = info.timed_fps or info.fps
    if fps is None or rate is not None and rate <= cap_rate(fps):
        return info
    capped = cap_rate(fps)
    return replace(info, fps=capped, timed_fps=capped)


def capped_result(fps: float | None, source: Any, result: RunResult) -> RunResult:
    """``result`` with ``--fps``' cap and the pictures the file ``source`` (its :class:`FpsCap`, ``cap``) left out, a
    run's stopped midway too; ``result`` itself without a cap."""
    return replace(result, fps_cap=float(fps), fps_skipped=source.cap.skipped) if fps else result

