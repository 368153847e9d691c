"""How far a file's first pictures are moved to put them back in line, judged by the stamps of its first video packets
as :class:`~roadseg.pipeline.sources.inline.InLine` will judge their pictures (:func:`first_moved`), where a transport
stream's first stamps alone were damaged: for a file read alone
(:class:`~roadseg.pipeline.sources.firsts.FirstPictures`) and for each file joined (--concat:
:mod:`~roadseg.pipeline.sources.probe`), to know where the file starts.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

from roadseg.pipeline.sources.base import Frame
from roadseg.pipeline.sources.gaps import HOLE, OFF_LINE, RUN
from roadseg.pipeline.sources.inline import InLine
from roadseg.pipeline.sources.packets import seconds


def sound_start(container, video) -> float | None:
    """Where the streams of ``container`` other than its video stream ``video`` start, the earliest (seconds; its sound,
    not captions or data), for :func:`first_moved`; None where none says."""
    starts = [seconds(s.start_time, s.time_base) for s in container.streams if s.index != video.index and
              s.type not in ("subtitle", "data") and s.start_time is not None and s.time_base]  # fmt: skip
    return min(starts, default=None)


def first_moved(stamps: Iterable[tuple[int | None, Fraction]], line: InLine, sound: float | None = None) -> dict[int, float]:
    """How far ``line`` moves a file's first pictures to put them back, judged by the stamps of its first video packets
    in decoding order (``stamps``: (stamp, time base) each, read no further than they are judged, at most 4 *
    :data:`RUN` + 1): the seconds each it moves is moved by, by its number. None where the first is in line: the file
    starts where FFmpeg says (its first stamp). ``sound``: where the file's other streams start (seconds), which judges
    first pictures moved back less than :data:`OFF_LINE` (:func:`_back_before_sound`).

    >>> tb = Fraction(1, 1000)
    >>> first_moved([(t, tb) for t in [11000, 11040, 11080, *range(14120, 14600, 40)]], InLine(0.04))
    {0: 3.0, 1: 3.0, 2: 3.0}
    >>> first_moved([(t, tb) for t in range(0, 800, 40)], InLine(0.04))
    {}
    >>> first_moved([(t, tb) for t in [9521, 9561, 9601, *range(10141, 10600, 40)]], InLine(0.04), sound=10.0)
    {0: 0.5, 1: 0.5, 2: 0.5}
    """
    read: list[int | None] = []
    judged: list[Frame] = []
    stamps = iter(stamps)
    for stamp, time_base in stamps:
        read.append(stamp)
        judged += line.take(Frame(len(read) - 1, None, stamp, time_base))
        if judged or len(read) > 4 * RUN:
            break
    judged = judged or line.flush()
    moved = {f.index: f.time - seconds(read[f.index], f.time_base) for f in judged
             if f.pts is not None and f.pts != read[f.index]}  # fmt: skip
    if 0 in moved or sound is None or line.step is None or not judged:
        return moved if 0 in moved else {}  # (the first in line: the file starts where FFmpeg says)
    tb = judged[0].time_base
    for stamp, _ in stamps:  # (the pictures after a leap within the first RUN + 1, and RUN + 1 after it)
        if len(read) > 2 * RUN + 1:
            break
        read.append(stamp)
    return _back_before_sound([None if t is None else seconds(t, tb) for t in read], line.step, sound)


def _back_before_sound(times: list[float | None], step: float, sound: float) -> dict[int, float]:
    """The seconds the first pictures of ``times`` (their decoding times, in order) are moved by, by their number,
    where up to :data:`RUN` of them, in line, lie before the sound (``sound``: where the file's other streams start)
    by more than :data:`HOLE` frame steps and leap ahead, by less than :data:`OFF_LINE`, to more than RUN pictures in
    line whose line leads back to within HOLE steps of the sound's start: stamps moved back that :class:`InLine` takes for a hole
    (a transport stream's first PES headers moved back 0.3-0.9 s: the first pictures were shown that early, held
    over the leap, and, where 0.7 s or more, the rest of the video 0.1-0.3 s early against its sound, its first
    audio packets dropped as damaged; joined, 6-21 frames told lost). None where the sound starts with the pictures,
    or after the leap: pictures lost at the start, the video as it came; nor where fewer go on in line after the leap
    (`ts-swap-13`: a chunk 0.9 s on swapped in after the first picture, 3 pictures and the sound's first packet).

    >>> line = [10.141 + n * 0.04 for n in range(9)]
    >>> _back_before_sound([9.521, 9.561, 9.601, *line], 0.04, 10.0)
    {0: 0.5, 1: 0.5, 2: 0.5}
    >>> _back_before_sound([10.021, 10.061, 10.101, *(t + 0.5 for t in line)], 0.04, 10.0)  # a hole after the start
    {}
    >>> _back_before_sound([9.521, 9.561, 9.601, *line[:3], 9.641], 0.04, 10.0)  # a chunk swapped in: steps back
    {}
    """
    if None in times:
        return {}
    k = next((n for n in range(1, min(len(times), RUN + 1)) if not 0 < times[n] - times[n - 1] <= HOLE * step), None)
    after = times[k : k + RUN + 1] if k is not None else []
    if k is None or len(after) <= RUN or not HOLE * step < times[k] - times[k - 1] <= OFF_LINE:
        return {}
    if not all(0 < b - a <= HOLE * step for a, b in zip(after, after[1:])):
        return {}
    lead = times[k] - k * step  # (where the line after the leap leads back to)
    if sound - times[0] <= HOLE * step or abs(lead - sound) > HOLE * step:
        return {}
    return {n: round(lead + n * step - times[n], 6) for n in range(k)}
