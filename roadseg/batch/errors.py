"""The errors a batch raises before or instead of its work (a per-video failure is a results line)."""

from __future__ import annotations

from roadseg.errors import Interrupted, RoadsegError, reason_of


class BatchError(RoadsegError):
    """The batch cannot start: no videos, INPUTs whose layouts collide, no workers, Ray missing or unreachable."""


class ResultsUnwritable(RoadsegError):
    """``OUT/results.jsonl`` could not be written (a full disk, a folder gone): the batch stops there, as a video
    finished but not logged would be done again by the next run anyway. Said with the file's name (was: ``Error: No
    space left on device``, naming nothing).

    >>> str(ResultsUnwritable("/o/results.jsonl", OSError(28, "No space left on device")))
    '/o/results.jsonl: No space left on device; the batch stopped, the outputs it logged kept: the same command again, once the file can be written, does the rest'
    """

    def __init__(self, path: object, exc: OSError) -> None:
        super().__init__(f"{path}: {reason_of(exc)}; the batch stopped, the outputs it logged kept: the same command "
                         "again, once the file can be written, does the rest")  # fmt: skip


class BatchInterrupted(Interrupted):
    """Ctrl-C, SIGTERM or SIGHUP stopped the batch: finished outputs stay, unfinished ones were removed.

    ``summary`` (a :class:`~roadseg.batch.report.Summary`) counts what finished; exit code 130, 143 or 129.

    >>> from roadseg.batch.report import Summary
    >>> str(BatchInterrupted(Summary(interrupted=1)))
    'interrupted: 1 video unfinished, their partial outputs removed; the same command again does them, skipping those finished'
    >>> str(BatchInterrupted(Summary(interrupted=18, unstarted=16)))
    'interrupted: 18 videos unfinished, 16 of them not started, the partial outputs of the rest removed; the same command again does them, skipping those finished'
    """

    def __init__(self, summary, signal_name: str = "SIGINT") -> None:
        n, waiting = summary.interrupted, summary.unstarted
        what = ("their partial outputs removed" if not waiting else "none of them started" if waiting >= n
                else f"{waiting} of them not started, the partial outputs of the rest removed")  # fmt: skip
        super().__init__(f"interrupted: {n} video{'s' * (n != 1)} unfinished, {what}; the same command again does "
                         "them, skipping those finished", signal_name=signal_name)  # fmt: skip
        self.summary = summary
