"""Per-stage timers: wall seconds and item counts, shared by the progress bar and --stats.

Example:
    >>> t = StageTimes()
    >>> with t.measure("infer"):
    ...     pass
    >>> t.summary()["infer"]["count"]
    1
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager


class StageTimes:
    """Thread-safe accumulation of time spent per named stage."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seconds: dict[str, float] = {}
        self._counts: dict[str, int] = {}

    @contextmanager
    def measure(self, stage: str, items: int = 1):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - t0, items)

    def add(self, stage: str, seconds: float, items: int = 1) -> None:
        with self._lock:
            self._seconds[stage] = self._seconds.get(stage, 0.0) + seconds
            self._counts[stage] = self._counts.get(stage, 0) + items

    def summary(self) -> dict[str, dict[str, float]]:
        """``{stage: {"seconds", "count", "ms_per_item"}}``."""
        with self._lock:
            return {
                s: {
                    "seconds": round(self._seconds[s], 4),
                    "count": self._counts[s],
                    "ms_per_item": round(1000 * self._seconds[s] / max(self._counts[s], 1), 3),
                }
                for s in self._seconds
            }
