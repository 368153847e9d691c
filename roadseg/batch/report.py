"""What a batch shows while it runs (one bar over videos) and at the end (a summary table).

Example:
    >>> s = Summary()
    >>> s.add({"status": "ok", "frames": 120, "seconds": 6.0, "node": "host:11"})
    >>> s.add({"status": "error", "frames": 0, "node": "host:12"})
    >>> s.add({"status": "skipped", "frames": 120})
    >>> s.wall = 6.0
    >>> print(s.table())
    ok 1 · error 1 · skipped 1 · 120 frames in 6.0 s (20.0 frames/s)
    node     videos  frames  busy s  frames/s
    host:11       1     120     6.0      20.0
    host:12       1       0     0.0       0.0
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from dataclasses import dataclass, field

from tqdm import tqdm


@dataclass
class Summary:
    """Counts of final outcomes (a retried attempt is not one), frames, wall time and per-node figures."""

    ok: int = 0
    error: int = 0
    skipped: int = 0
    interrupted: int = 0
    unstarted: int = 0  # of the interrupted: videos no worker had been given (the rest were cut short)
    unchanged: int = 0  # of the errors: videos found damaged before and unchanged since, not tried again
    unsearched: int = 0  # folders that could not be listed: their videos were not found, so not done
    warned: int = 0  # of the ok: videos whose line has warnings (a file left out of a join, frames lost ...)
    lost: int = 0  # attempts a worker (its process or node) took with it as it died, each sent again: not outcomes
    removed: int = 0  # masks folders and stats files of earlier runs that the videos done again no longer match
    frames: int = 0
    wall: float = 0.0
    results: str = ""
    nodes: dict[str, dict] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        """A video failed, or a folder could not be searched (a cron job must see the work not done)."""
        return self.error > 0 or self.unsearched > 0

    def add(self, line: dict) -> None:
        status = line["status"]
        setattr(self, status, getattr(self, status) + 1)
        if status == "skipped":
            return
        if status == "ok" and line.get("warnings"):
            self.warned += 1
        self.frames += line.get("frames") or 0
        node = self.nodes.setdefault(_label(line.get("node")), {"videos": 0, "frames": 0, "busy": 0.0})
        node["videos"] += 1
        node["frames"] += line.get("frames") or 0
        if status == "ok":
            node["busy"] += line.get("seconds") or 0.0

    def table(self) -> str:
        """The end-of-run summary: totals, then one row per node (locally: per worker process)."""
        rate = self.frames / self.wall if self.wall > 0 else 0.0
        head = f"ok {self.ok} · error {self.error} · skipped {self.skipped}"
        if self.lost:  # (a flaky node shows here, also with -q)
            head += f" · sent again after its worker was lost {self.lost}"
        if self.interrupted:
            head += f" · interrupted {self.interrupted}" + (f" ({self.unstarted} not started)" if self.unstarted else "")
        if self.unchanged:
            head += f" · damaged and unchanged, not tried again {self.unchanged}"
        if self.unsearched:
            head += f" · folders not searched {self.unsearched}"
        if self.removed:  # (an earlier run's masks or stats, beside a video done again without them)
            head += f" · earlier masks or stats removed {self.removed} (results.jsonl's \"removed\")"
        if self.warned:  # (ok, but a line worth reading: a file left out of a join, frames lost ...)
            head += f" · ok with warnings {self.warned} (results.jsonl's \"warnings\")"
        rows = [f"{head} · {self.frames} frames in {self.wall:.1f} s ({rate:.1f} frames/s)"]
        if self.nodes:
            width = max(4, *(len(n) for n in self.nodes))
            rows.append(f"{'node':<{width}}  videos  frames  busy s  frames/s")
            for name, n in sorted(self.nodes.items()):
                fps = n["frames"] / self.wall if self.wall > 0 else 0.0
                rows.append(f"{name:<{width}}  {n['videos']:>6}  {n['frames']:>6}  {n['busy']:>6.1f}  {fps:>8.1f}")
        return "\n".join(rows)


def shown(task_input: str, output: str, out: str | os.PathLike) -> str:
    """How a log line names a video: its input, as it lies under its INPUT (its output's place in ``out`` mirrors
    it: a user scanning a log looks for ``CLIP_0002.MP4``), and its output after it where that is not named as the
    input is (a name's ending kept beside another file's, a drive of a folder's named after its first file ...).

    >>> shown("/cards/7/2026/CLIP_0002.MP4", "/o/2026/CLIP_0002.mp4", "/o")
    '2026/CLIP_0002.MP4'
    >>> shown("/in/clip.ts", "/o/clip.ts.mp4", "/o"), shown("/in/a/b.mov", "/o/a/b.masks", "/o")
    ('clip.ts → clip.ts.mp4', 'a/b.mov')
    """
    rel = os.path.relpath(output, out)
    name = os.path.join(os.path.dirname(rel), os.path.basename(task_input))
    same = name if os.path.isdir(task_input) else os.path.splitext(name)[0]  # (a folder's drive, ``--concat``)
    return name if os.path.splitext(rel)[0] == same else f"{name} → {rel}"


def told(error: object, task_input: str) -> str:
    """What a line that names the video (:func:`shown`) says of its ``error``: the message without the input's own
    path, which FFmpeg's reading of it names (was: ``bad.mp4: error, not a readable video: /abs/in/bad.mp4 (...)``);
    the results line keeps the whole message, beside its ``input``.

    >>> told("not a readable video: /in/bad.mp4 (Invalid data found when processing input)", "/in/bad.mp4")
    'not a readable video (Invalid data found when processing input)'
    >>> told("not a readable video: /in/cut.mp4 was never finished (...)", "/in/cut.mp4")
    'not a readable video: it was never finished (...)'
    >>> told("input is empty (0 bytes): /in/e.mp4", "/in/e.mp4"), told("worker lost mid-video of /in/a.mp4: x", "/in/a.mp4")
    ('input is empty (0 bytes)', 'worker lost mid-video: x')
    """
    if not task_input:
        return str(error)
    path = re.escape(task_input)
    said = re.sub(rf"(?:: | in | of ){path}(?=$| \(|[,:;])", "", str(error))  # (the name where the line ends or goes on)
    return re.sub(rf"(?<![\w/.-]){path}(?![\w/.-])", "it", said)  # (elsewhere: 'it was never finished')


def _label(node: str | None) -> str:
    """A Ray node id (56 hex digits) shortened to 8; ``host:pid`` as it is."""
    if not node:
        return "-"
    return node[:8] if len(node) > 40 else node


def _clock(seconds: float) -> str:
    """``H:MM:SS``: what a log's line says is left of a batch, by the videos done so far (as the bar's ETA is).

    >>> _clock(75.4), _clock(3 * 3600 + 5)
    ('0:01:15', '3:00:05')
    """
    s = round(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class Progress:
    """One bar over videos with the aggregate frames/s on a terminal; one line per video in a log, with the time
    left at the rate so far."""

    def __init__(self, total: int, *, enabled: bool = True) -> None:
        self.enabled, self.total, self.done = enabled, total, 0
        self.tty = enabled and sys.stderr.isatty()
        self.t0 = self.t_work = time.perf_counter()  # (t_work: when the workers were ready, begin())
        self.frames = 0
        # (built only where shown: tqdm starts its monitor thread, kept for the rest of the process, for a
        # disabled bar too; was: a quiet batch's, or a log's, left a tqdm_monitor thread running)
        self.bar = tqdm(total=total, unit="video", dynamic_ncols=True, file=sys.stderr) if self.tty else None

    def finished(self, rel: str, line: dict) -> None:
        """One video reached its final outcome."""
        self.done += 1
        self.frames += line.get("frames") or 0
        rate = self.frames / max(1e-9, self.elapsed)
        if self.tty:
            if line["status"] == "error":
                self.bar.write(f"{rel}: error, {line.get('error')}", file=sys.stderr)  # (as a log's line says it)
            self.bar.set_postfix_str(f"{rate:.1f} frames/s", refresh=False)
            self.bar.update(1)
        elif self.enabled:
            what = f"{line.get('frames', 0)} frames" if line["status"] == "ok" else line.get("error")
            per_video = (time.perf_counter() - self.t_work) / self.done
            left = f", {_clock(per_video * (self.total - self.done))} left" if self.done < self.total else ""
            self.note(f"[{self.done}/{self.total}] {rel}: {line['status']}, {what} ({rate:.1f} frames/s overall{left})")

    def begin(self) -> None:
        """The workers are ready (their model loaded): the time left is reckoned from now, not from the start,
        which counted the workers' start as a video's time (the first line of 2,000 tiny clips said 1:03:56 left;
        they took 45 s)."""
        self.t_work = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def note(self, message: str) -> None:
        """A line above the bar (warnings, errors, retries); none where stderr has gone (its terminal closed:
        the batch still records and cleans up)."""
        with contextlib.suppress(OSError):
            if self.tty:
                self.bar.write(message, file=sys.stderr)
            elif self.enabled:
                print(message, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
