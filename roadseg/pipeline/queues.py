"""The runner's queues: the end-of-stream sentinel (:func:`end`), a put and a drain that give up once the run's
stop event is set (:func:`put`, :func:`drain`: every queue operation polls it), and the newest-frame slot of a
live source (:class:`LatestQueue`). :mod:`~roadseg.pipeline.runner` joins its threads with them; nothing here
starts a thread.

Example:
    >>> import queue, threading
    >>> q, stop = queue.Queue(maxsize=2), threading.Event()
    >>> put(q, "frame", stop), end(q), list(drain(q, stop))
    (True, None, ['frame'])
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

END = object()
POLL = 0.05


class LatestQueue(queue.Queue):
    """A one-slot queue for live sources: ``put`` never blocks, a newer item replaces the waiting one.

    ``dropped`` counts the items replaced (frames the consumer was too slow to take). The end
    sentinel is never dropped and never displaces a frame. Items that ``keep`` says yes to (a live
    stream's audio packets) are never replaced and do not replace: they wait in order, at most
    ``max_kept`` of them (past that the oldest goes, counted in ``overflow``).

    >>> q = LatestQueue(keep=lambda item: isinstance(item, str))
    >>> for item in (1, "a", 2, "b", 3):
    ...     q.put(item)
    >>> [q.get() for _ in range(3)], q.dropped
    (['a', 'b', 3], 2)
    """

    def __init__(self, keep: Callable[[Any], bool] | None = None, max_kept: int = 512) -> None:
        super().__init__(maxsize=0)
        self.dropped = 0
        self.overflow = 0
        self.keep, self.max_kept = keep or (lambda item: False), max_kept
        self._kept = 0

    def _put(self, item: Any) -> None:
        if item is not END and self.keep(item):
            if self._kept >= self.max_kept:
                oldest = next(i for i, waiting in enumerate(self.queue) if waiting is not END and self.keep(waiting))
                del self.queue[oldest]
                self.overflow += 1
            else:
                self._kept += 1
        elif item is not END:
            waiting = len(self.queue)
            self.queue = type(self.queue)(w for w in self.queue if w is END or self.keep(w))
            self.dropped += waiting - len(self.queue)
        self.queue.append(item)

    def _get(self) -> Any:
        item = self.queue.popleft()
        if item is not END and self.keep(item):
            self._kept -= 1
        return item


def end(q: queue.Queue) -> None:
    """End the items of ``q`` here, for the producer (``run_stages``' ``leave``): what waits before it still
    goes through; what the producer puts after it is not taken."""
    q.put(END)


def put(q: queue.Queue, item: Any, stop: threading.Event) -> bool:
    """Blocking put that gives up (returns False) once ``stop`` is set."""
    while not stop.is_set():
        try:
            q.put(item, timeout=POLL)
            return True
        except queue.Full:
            continue
    return False


def drain(q: queue.Queue, stop: threading.Event) -> Iterator[Any]:
    """Items of ``q`` until the end sentinel, or until ``stop`` is set."""
    while not stop.is_set():
        try:
            item = q.get(timeout=POLL)
        except queue.Empty:
            continue
        if item is END:
            return
        yield item
