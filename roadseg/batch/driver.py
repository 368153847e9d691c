"""The driver loop: keep every worker fed, record each finished attempt, retry what a dead worker held.

A pool (:class:`~roadseg.batch.local.LocalPool` or :class:`~roadseg.batch.ray_pool.RayPool`) does
the work; the driver only hands out tasks while the pool has room and turns what comes back into
results lines. No frames pass through here: a task is a file path.

Example (a stand-in pool that finishes every task at once):
    >>> class Instant:
    ...     def __init__(self): self.held = []
    ...     def can_take(self): return not self.held
    ...     def busy(self): return bool(self.held)
    ...     def alive(self): return 1
    ...     def submit(self, task): self.held.append(task.with_worker("1"))
    ...     def poll(self, timeout): done, self.held = self.held, []; return [(t, {"status": "ok"}) for t in done]
    >>> lines = []
    >>> drive([Task("/in/a.mp4", "/out/a.mp4"), Task("/in/b.mp4", "/out/b.mp4")], Instant(),
    ...       lambda task, line: lines.append((task.input, line["status"])), retries=1)
    >>> lines
    [('/in/a.mp4', 'ok'), ('/in/b.mp4', 'ok')]
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import NamedTuple, Protocol

from roadseg.batch.task import Task, remove_stale_temps, remove_temps


class Lost(NamedTuple):
    """The worker died while it held the task (its process or node is gone)."""

    reason: str
    node: str | None = None


#: What a pool reports for a task: the worker's results line, ``Lost``, or ``None`` when the task was
#: queued at a worker that died before starting it (sent again, no attempt charged).
Outcome = dict | Lost | None


class Pool(Protocol):
    """What the driver needs from a pool of workers."""

    def can_take(self) -> bool: ...  # a worker has room for one more task

    def busy(self) -> bool: ...  # some task is out at a worker

    def alive(self) -> int: ...  # workers still able to take tasks

    def submit(self, task: Task) -> None: ...

    def poll(self, timeout: float) -> list[tuple[Task, Outcome]]: ...


Record = Callable[[Task, dict], None]


def drive(tasks: Iterable[Task], pool: Pool, record: Record, *, retries: int, poll_s: float = 0.5) -> None:
    """Run every task on ``pool``; call ``record(task, line)`` once per finished attempt.

    A task whose worker died goes back to the front of the queue until it has had ``retries`` more
    attempts; when no worker is left, the tasks still waiting get an ``error`` line each.
    """
    pending = deque(tasks)
    disturbed: dict[str, Task] = {}  # tasks a dead worker held: a cut-off node may still write their temp files
    try:
        while pending or pool.busy():
            while pending and pool.can_take():
                pool.submit(pending.popleft())
            if pending and not pool.busy() and not pool.alive():
                for task in pending:
                    record(task, {"status": "error", "error": "no workers left (all died)", "frames": 0})
                return
            for task, outcome in pool.poll(poll_s):
                if outcome is None or isinstance(outcome, Lost):
                    disturbed[task.output] = task
                if outcome is None:
                    pending.appendleft(task.with_worker(""))
                elif isinstance(outcome, Lost):
                    remove_temps(task)
                    again = task.attempt <= retries
                    record(task, {"status": "error", "frames": 0, "node": outcome.node, "retried": again,
                                  "error": f"worker lost mid-video of {_held(task)}: {outcome.reason}"})  # fmt: skip
                    if again:
                        pending.appendleft(task.retry())
                else:
                    record(task, outcome)
    finally:
        remove_stale_temps(disturbed.values())


def _held(task: Task) -> str:
    """What a worker lost with ``task`` was reading, for the line that says so: its input, a drive's files counted.

    >>> _held(Task("/in/a.mp4", "/out/a.mp4")), _held(Task("/in/d", "/out/d.mp4", parts=("/in/d/1.mp4", "/in/d/2.mp4")))
    ('/in/a.mp4', '/in/d (2 files joined)')
    """
    return f"{task.input} ({len(task.parts)} files joined)" if task.parts else task.input
