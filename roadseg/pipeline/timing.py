"""Timings and figures of a run: per-stage timers, frames/s and latency, and the progress people see.

* :class:`StageTimes`: wall seconds and item counts per stage (the ``stages`` of ``--stats``).
* :class:`FrameStats`: frames written, frames/s and latency over the last second (the live view's) and over the
  run (its summary: N - 1 intervals between the first and the last frame as the recording has it),
  read-to-display latency (for live frames), frames dropped at a live source.
* :class:`Progress`: a tqdm bar when stderr is a terminal; otherwise one line every
  :data:`PROGRESS_INTERVAL` seconds, so logs do not fill with carriage-return updates; both tell the time left at
  the run's pace so far; and a library caller's ``report(done, total)`` (``run``'s ``on_progress``) at most every
  :data:`REPORT_INTERVAL` s.

Example:
    >>> t = StageTimes()
    >>> with t.measure("infer"):
    ...     pass
    >>> t.summary()["infer"]["count"]
    1
    >>> s = FrameStats()
    >>> s.add(now=1.05, captured=1.0)
    >>> s.add(now=1.15, captured=1.1)
    >>> s.latency_ms()["p50"], s.summary()["fps"]
    (50.0, 10.0)
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TextIO

import numpy as np

#: Seconds between two progress lines when stderr is not a terminal.
PROGRESS_INTERVAL = 5.0
#: Seconds between two calls of a progress ``report`` (as often as tqdm redraws its bar, at most).
REPORT_INTERVAL = 0.1


class StageTimes:
    """Thread-safe accumulation of time spent per named stage."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seconds: dict[str, float] = {}
        self._counts: dict[str, int] = {}

    @contextmanager
    def measure(self, stage: str, items: int = 1) -> Iterator[None]:
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


def timed(items: Iterable, times: StageTimes, stage: str) -> Iterator:
    """Yield from ``items``, charging the time spent producing each item to ``stage`` (e.g. decoding).

    Items that are ``av.Packet`` (audio passing through) are not counted.
    """
    import av  # here, not at the top: infer imports this module, and training loads infer without PyAV

    it = iter(items)
    while True:
        t0 = time.perf_counter()
        try:
            item = next(it)
        except StopIteration:
            return
        if not isinstance(item, av.Packet):
            times.add(stage, time.perf_counter() - t0)
        yield item


class FrameStats:
    """Frames written, frames/s (over the last second: :attr:`fps`; over the run: :meth:`summary`), latency
    percentiles and drops."""

    def __init__(self) -> None:
        self.latencies: deque[float] = deque(maxlen=20_000)
        self.shown: deque[tuple[float, float | None]] = deque(maxlen=240)  # (when each recent frame was shown, its latency)
        self.first: float | None = None  # when the first frame was shown
        self.frames = self.dropped = 0
        self.start = time.monotonic()
        self.span: tuple[float, float] | None = None  # the first and the last live frame's time (``add``'s ``at``)

    def add(self, now: float, captured: float | None = None, at: float | None = None) -> None:
        """A frame shown at ``now`` (``time.monotonic()``); a live one's ``captured``, its
        :attr:`Frame.captured <roadseg.pipeline.sources.base.Frame.captured>`: latency counts from there;
        ``at``: its time as the recording has it (its ``clock``, else ``captured``)."""
        latency = None if captured is None else now - captured
        if latency is not None:
            self.latencies.append(latency)
        if (at := captured if at is None else at) is not None:
            self.span = (at, at) if self.span is None else (self.span[0], max(self.span[1], at))
        self.first = now if self.first is None else self.first
        self.shown.append((now, latency))
        self.frames += 1

    @property
    def fps(self) -> float | None:
        """:meth:`rate` now. Safe to ask from another thread than the one that adds (the browser view's)."""
        return self.rate(time.monotonic())

    def rate(self, now: float) -> float | None:
        """Frames/s at ``now``: the frames shown over the last second; None until a second has passed since the first
        (a stream in bursts read 830 in its first: N - 1 over the moment its first burst spans); 0 once none came for a
        second (a stream that stalls). Steady for a stream in bursts (HTTP TS, HLS: was 45 to 905 for 25 frames/s).

        >>> s = FrameStats()
        >>> _ = [s.add(now=(i // 25) + (i % 25) * 0.001) for i in range(50)]  # 25 frames at once, each second
        >>> s.rate(0.5), s.rate(1.5), s.rate(1.99), s.rate(3.5)
        (None, 25.0, 25.0, 0.0)
        """
        if self.first is None or now - self.first < 1.0:
            return None
        return float(len(self._recent(now)))

    def _recent(self, now: float) -> list[tuple[float, float | None]]:
        """(shown at, latency) of the frames shown over the second up to ``now``."""
        return [item for item in list(self.shown) if now - 1.0 < item[0] <= now]  # (list(): a copy taken at once)

    def latency_ms(self, now: float | None = None) -> dict:
        """Latency percentiles (ms) of the run's frames; with ``now``, of the frames shown over the second up to it
        (:meth:`rate`'s: the live view's figures are of one time; all None where none was)."""
        latencies = list(self.latencies) if now is None else [lat for _, lat in self._recent(now) if lat is not None]
        if not latencies:
            return {"p50": None, "p95": None, "max": None}
        arr = np.array(latencies) * 1000
        return {"p50": round(float(np.percentile(arr, 50)), 1), "p95": round(float(np.percentile(arr, 95)), 1),
                "max": round(float(arr.max()), 1)}  # fmt: skip

    def live(self) -> dict:
        """The live view's figures (``/stats.json``): :meth:`summary`'s, with ``fps`` (None in the first second) and
        ``latency_ms`` over the last second (:meth:`rate`; the run's latency is ``run_latency_ms``)."""
        rate, summary = self.rate(now := time.monotonic()), self.summary()
        return {**summary, "fps": None if rate is None else round(rate, 2), "latency_ms": self.latency_ms(now),
                "run_latency_ms": summary["latency_ms"]}  # fmt: skip

    def summary(self) -> dict:
        """The figures so far; ``fps``: frames shown a second, over the time between the first and the last
        one as the recording has it (N frames span N - 1 frame intervals; None before two): a stream's own
        clock, where it has one (the frames a stream sends in a burst span the time they show, not a moment)."""
        seconds = time.monotonic() - self.start
        captured = self.frames + self.dropped
        first, last = self.span or (0.0, 0.0)
        return {"frames": self.frames, "dropped": self.dropped, "seconds": round(seconds, 2),
                "fps": round((self.frames - 1) / (last - first), 2) if last > first else None,
                "latency_ms": self.latency_ms(),
                "drop_rate": round(self.dropped / captured, 3) if captured else 0.0}  # fmt: skip

    def figures(self) -> str:
        """The live figures for a progress line: latency and drops."""
        lat = self.latency_ms()
        return f"latency p50 {lat['p50']} ms, {self.dropped} dropped" if lat["p50"] is not None else ""


class Progress:
    """Frames done, for people: a bar on a terminal, a line every few seconds in a log (or nothing); and for a
    program, ``report``.

    Args:
        total: frames expected (``None`` for a live source).
        desc: what is being processed (the input's name).
        enabled: ``False`` prints nothing (``--quiet``).
        figures: extra text for the line or bar (live latency and drops), asked for only when shown.
        stream: where to write (default: ``sys.stderr`` at construction).
        report: called ``report(done, total)`` (frames done, frames expected as known by then) whatever
            ``enabled`` says, from the thread that calls :meth:`update`: at the first frame, then at most every
            :data:`REPORT_INTERVAL` s; and from the one that calls :meth:`close`, once more where a figure changed
            since (its last ``done`` is the frames done). What it raises is raised there.

    >>> calls = []
    >>> progress = Progress(3, "clip", enabled=False, report=lambda done, total: calls.append((done, total)))
    >>> progress.update(); progress.update(); progress.complete(); progress.close()
    >>> calls
    [(1, 3), (2, 2)]
    """

    def __init__(self, total: int | None, desc: str, *, enabled: bool = True,
                 figures: Callable[[], str] | None = None, stream: TextIO | None = None,
                 report: Callable[[int, int | None], None] | None = None) -> None:  # fmt: skip
        self.total, self.desc, self.enabled, self.figures = total, desc, enabled, figures
        self.stream = stream or sys.stderr
        self.n = 0
        self.t0 = self._last = time.monotonic()
        self._last_n = 0
        self.report = report
        self._reported: tuple[int, int | None] | None = None  # (done, total) last reported
        self._report_at = self.t0  # (the last report's time; the first frame is reported at once)
        self.bar = None
        if enabled and _is_terminal(self.stream):
            from tqdm import tqdm

            # a file's (a total): frames/s and the time left at the run's pace so far (smoothing 0: frames done over
            # the time taken), not tqdm's default, 30 % the newest frame's: at 4K on 2 cores frames took 0.26 to
            # 0.75 s each, and the time left it showed swung from 2:26 to 11:20 within a minute of one run whose rest
            # took 8:50; a live run's (none): the frames/s of now, which a stalled stream's average would hide
            self.bar = tqdm(total=total, unit="frame", desc=desc, dynamic_ncols=True, leave=True, file=self.stream,
                            smoothing=0 if total is not None else 0.3)  # fmt: skip

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.total is not None and self.n > self.total:  # an estimate (a --duration window) one short
            self.total = self.n
            if self.bar is not None:
                self.bar.total = self.n
        now = time.monotonic()
        if self.report is not None and (self._reported is None or now - self._report_at >= REPORT_INTERVAL):
            self._tell(now)
        if not self.enabled:
            return
        if self.bar is not None:
            if self.figures is not None and now - self._last >= 0.5:
                self._last = now
                self.bar.set_postfix_str(self.figures(), refresh=False)
            self.bar.update(n)
        elif now - self._last >= PROGRESS_INTERVAL:
            self._line(now)

    def _line(self, now: float) -> None:
        rate = (self.n - self._last_n) / max(now - self._last, 1e-9)
        done = f"{self.n}/{self.total} frames ({100 * self.n / self.total:.0f}%)" if self.total else f"{self.n} frames"
        extra = self.figures() if self.figures is not None else ""
        left = time_left(self.n, self.total, now - self.t0)
        print(f"{self.desc}: {done}, {rate:.1f} frames/s" + (f", {left} left" if left else "") +
              (f", {extra}" if extra else ""), file=self.stream, flush=True)  # fmt: skip
        self._last, self._last_n = now, self.n

    def complete(self) -> None:
        """The input was read to its end: a total that was estimated over (a TS or Matroska file without a count
        of its own, whose pictures came slower than its stated rate) becomes the frames there were, and a bar
        ends full, not at 1500/1799."""
        if self.total is not None and self.n < self.total:
            self.total = self.n
            if self.bar is not None:
                self.bar.total = self.n
                self.bar.refresh()

    def _tell(self, now: float) -> None:
        self._report_at, self._reported = now, (self.n, self.total)
        self.report(self.n, self.total)

    def close(self) -> None:
        """End the bar; a last ``report`` where the frames done or expected changed since the one before."""
        if self.report is not None and self._reported != (self.n, self.total):
            self._tell(time.monotonic())
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def time_left(done: int, total: int | None, seconds: float) -> str | None:
    """The time the rest of ``total`` frames takes at the pace of ``done`` in ``seconds`` (``[H:]MM:SS``, as tqdm
    shows it; None where not known).

    >>> time_left(30, 300, 15.0), time_left(30, None, 15.0), time_left(0, 300, 1.0), time_left(100, 7300, 100.0)
    ('2:15', None, None, '2:00:00')
    """
    if not total or done <= 0 or seconds <= 0 or done >= total:
        return None
    left = round((total - done) * seconds / done)
    hours, rest = divmod(left, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal a bar can be drawn on: one that says no width (0 columns: ``script``'s, a
    ``docker exec -t`` from a script) is not, as tqdm draws nothing there (a run showed no progress at all)."""
    try:
        if not stream.isatty():
            return False
    except (AttributeError, ValueError):  # closed or not a real file
        return False
    try:
        return os.get_terminal_size(stream.fileno()).columns > 0
    except (AttributeError, ValueError, OSError):  # (a terminal of our own making: the tests')
        return True
