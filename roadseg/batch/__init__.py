"""Many videos: ``roadseg batch`` on a local process pool or a Ray cluster, one video per task.

Modules: ``api`` (:func:`batch`), ``options`` (:class:`BatchOptions`, checked before any work), ``inputs``
(which videos, which outputs), ``rerun`` (what earlier runs into OUT left: other videos' outputs, clashes,
renamed drives, why one is redone), ``task`` (one video: temporary names, rename into place), ``results`` (``results.jsonl``
and the skip rule), ``launch`` (open the pool, drive it, stop it on Ctrl-C), ``driver`` (the loop that
feeds a pool), ``local`` and ``ray_pool`` (the pools; ``ray_worker`` the Ray actor, ``ray_connect`` and
``ray_head`` joining the cluster), ``report`` (bar and summary).

Example:
    >>> from roadseg.batch import batch
    >>> summary = batch(["dashcam/"], "segmented/")   # doctest: +SKIP
"""

from roadseg.batch.api import batch
from roadseg.batch.errors import BatchError, BatchInterrupted
from roadseg.batch.options import BatchOptions
from roadseg.batch.report import Summary

__all__ = ["BatchError", "BatchInterrupted", "BatchOptions", "Summary", "batch"]
