"""How ``roadseg bench`` times a run and sums up runs: :func:`median_fps` (one measurement, its runs one after another)
and :func:`in_turn` (several, in turn, round by round, for ratios that a drifting machine cannot make up).

Example:
    >>> turns = in_turn({"a": lambda: (4, 0.2), "b": lambda: (4, 0.4)}, repeats=3)
    >>> turns["a"]["fps"], round_ratio(turns, "a", "b")
    (20.0, 2.0)
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

Timed = Callable[[], "int | tuple[int, float]"]  # one run: the frames it did (and the seconds that count, if not all)


def _call(fn: Timed) -> tuple[int, float]:
    t0 = time.perf_counter()
    out = fn()
    return out if isinstance(out, tuple) else (out, time.perf_counter() - t0)


def figures(runs: list[tuple[int, float]]) -> dict:
    """Median frames/s and ms/frame of timed ``runs`` ((frames, seconds) each); every run's frames/s; ``spread``, the
    fastest run over the slowest; ``frames``, the fewest a run did; ``seconds``, the median a run lasted.

    >>> figures([(10, 1.0), (10, 0.5), (10, 2.0)])
    {'fps': 10.0, 'ms_per_frame': 100.0, 'runs': [10.0, 20.0, 5.0], 'spread': 4.0, 'frames': 10, 'seconds': 1.0}
    """
    rates = [n / dt for n, dt in runs]
    return {"fps": round(statistics.median(rates), 2), "ms_per_frame": round(1000 * statistics.median(dt / n for n, dt in runs), 2),
            "runs": [round(r, 2) for r in rates], "spread": round(max(rates) / min(rates), 3),
            "frames": min(n for n, _ in runs), "seconds": float(f"{statistics.median(dt for _, dt in runs):.3g}")}  # fmt: skip


def median_fps(fn: Timed, repeats: int, warmup: int = 1) -> dict:
    """Run ``fn`` ``warmup`` + ``repeats`` times; it returns the frames it processed (and, optionally,
    the seconds that count, when its own set-up should not): :func:`figures` of the timed runs."""
    for _ in range(warmup):
        fn()
    return figures([_call(fn) for _ in range(repeats)])


def in_turn(fns: dict[str, Timed], repeats: int, warmup: int = 1) -> dict:
    """Each of ``fns`` once, in turn, round after round, after ``warmup`` rounds: a machine whose speed drifts (2x
    from day to day here, and within a run) slows all alike. Each round begins one further along (a, b, c; b, c, a
    ...), so what the first run of a round pays is not one's alone. Per name :func:`figures`; ``rounds``: each round's
    frames/s by name, for ratios taken within a round (:func:`round_ratio`)."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    names = list(fns)
    rounds = []
    for i in range(repeats):
        turn = {name: _call(fns[name]) for name in names[i % len(names) :] + names[: i % len(names)]}
        rounds.append({name: turn[name] for name in names})
    return {**{name: figures([r[name] for r in rounds]) for name in fns},
            "rounds": [{name: round(n / dt, 3) for name, (n, dt) in r.items()} for r in rounds]}  # fmt: skip


def round_ratio(turns: dict, a: str, b: str) -> float:
    """The median over the rounds of :func:`in_turn` of ``a``'s frames/s over ``b``'s.

    >>> round_ratio({"rounds": [{"a": 2.0, "b": 1.0}, {"a": 3.0, "b": 1.0}, {"a": 9.0, "b": 1.0}]}, "a", "b")
    3.0
    """
    return round(statistics.median(r[a] / r[b] for r in turns["rounds"]), 3)


def load_average() -> float:
    """The 1-minute load average (-1.0 where the system has none)."""
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else -1.0

