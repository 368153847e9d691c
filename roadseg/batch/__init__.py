"""Many videos: ``roadseg batch`` on a local process pool or a Ray cluster, one video per task.

Modules: ``inputs`` (which videos, which outputs), ``task`` (one video: temporary names, rename into
place), ``results`` (``results.jsonl`` and the skip rule), ``driver`` (the loop that feeds a pool),
``local`` and ``ray_pool`` (the pools), ``report`` (bar and summary), ``api`` (:func:`batch`).

Example:
    >>> from roadseg.batch import batch
    >>> summary = batch(["dashcam/"], "segmented/")   # doctest: +SKIP
"""

from roadseg.batch.api import BatchOptions, batch
from roadseg.batch.errors import BatchError, BatchInterrupted
from roadseg.batch.report import Summary

__all__ = ["BatchError", "BatchInterrupted", "BatchOptions", "Summary", "batch"]
