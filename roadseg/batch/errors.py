"""The errors a batch raises before or instead of its work (a per-video failure is a results line)."""

from __future__ import annotations

from roadseg.errors import Interrupted, RoadsegError


class BatchError(RoadsegError):
    """The batch cannot start: no videos, INPUTs whose layouts collide, no workers, Ray missing or unreachable."""


class BatchInterrupted(Interrupted):
    """Ctrl-C, SIGTERM or SIGHUP stopped the batch: finished outputs stay, unfinished ones were removed.

    ``summary`` (a :class:`~roadseg.batch.report.Summary`) counts what finished; exit code 130, 143 or 129.
    """

    def __init__(self, summary, signal_name: str = "SIGINT") -> None:
        super().__init__(f"interrupted: {summary.interrupted} videos unfinished, their partial outputs removed",
                         signal_name=signal_name)  # fmt: skip
        self.summary = summary
