"""The errors a batch raises before or instead of its work (a per-video failure is a results line)."""

from __future__ import annotations


class BatchError(ValueError):
    """The batch cannot start: no videos, colliding outputs, no workers, Ray missing or unreachable."""


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped the batch: finished outputs stay, unfinished ones were removed.

    ``summary`` (a :class:`~roadseg.batch.report.Summary`) counts what finished; ``signal_name`` is
    ``SIGINT`` or ``SIGTERM``.
    """

    def __init__(self, summary, signal_name: str = "SIGINT") -> None:
        super().__init__(f"interrupted: {summary.interrupted} videos unfinished, their partial outputs removed")
        self.summary, self.signal_name = summary, signal_name
