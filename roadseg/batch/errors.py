"""The errors a batch raises before or instead of its work (a per-video failure is a results line)."""

from __future__ import annotations

from roadseg.errors import Interrupted, RoadsegError


class BatchError(RoadsegError):
    """The batch cannot start: no videos, INPUTs whose layouts collide, no workers, Ray missing or unreachable."""


class BatchInterrupted(Interrupted):
    """Ctrl-C, SIGTERM or SIGHUP stopped the batch: finished outputs stay, unfinished ones were removed.

    ``summary`` (a :class:`~roadseg.batch.report.Summary`) counts what finished; exit code 130, 143 or 129.

    >>> from roadseg.batch.report import Summary
    >>> str(BatchInterrupted(Summary(interrupted=1)))
    'interrupted: 1 video unfinished, their partial outputs removed; the same command again does them, skipping those finished'
    """

    def __init__(self, summary, signal_name: str = "SIGINT") -> None:
        n = summary.interrupted
        super().__init__(f"interrupted: {n} video{'s' * (n != 1)} unfinished, their partial outputs removed; the same "
                         "command again does them, skipping those finished", signal_name=signal_name)  # fmt: skip
        self.summary = summary
