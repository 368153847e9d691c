"""A live source read on one thread and closed from another (:class:`Closing`, a part of
:class:`~roadseg.pipeline.sources.capture.LiveSource`): a :meth:`~Closing.close` that comes while the reading thread
is inside the source (a read, an open, decoding) is left to that thread, which closes the container as it comes out;
and a read that waits on a stalled source past ``--duration`` is told (:meth:`~Closing.overdue`), so that the run is
ended from outside.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import av

from roadseg.pipeline.sources.base import Frame


class Closing:
    """:class:`~roadseg.pipeline.sources.capture.LiveSource`'s closing, from any thread. Its state, set as the source
    opens (:meth:`_set_up_closing`): ``_lock``, ``_busy``, ``_closing`` and ``video_read``; and the source's
    ``container``, ``_mic``, ``_until`` and its items (``_read``)."""

    def _set_up_closing(self) -> None:
        """What lets :meth:`close` come from another thread while the reading one is inside the source, and
        :meth:`overdue` tell a stalled read."""
        self._lock = threading.Lock()
        self._busy = False  # the reading thread is inside the source (a read, an open, decoding), not at a yield
        self._closing = False  # close() came while it was: it closes the container once it is out (:meth:`close`)
        self.video_read = time.monotonic()  # when the last video packet was read

    def close(self) -> None:
        """Close the connection; where the thread that reads it is still inside it (a run ended by
        ``--duration`` while a read waits on a stalled source, which cannot be cut short: :meth:`overdue`),
        that thread closes it as it comes out, at most the source's ``timeout`` s later (``--stream-timeout``)."""
        if self._mic is not None:
            self._mic.close()
        with self._lock:
            self._closing = True
            if self._busy:
                return
        if self.container is not None:
            self.container.close()
        self.container = None

    def overdue(self) -> bool:
        """Whether ``duration`` is up and no video came since: a read that waits on a stalled source cannot
        be cut short (FFmpeg's read timeout is the source's ``timeout``), so the run is ended from outside (a frame
        read past it ends the run itself, by its time)."""
        return self._until is not None and time.monotonic() >= self._until + OVERDUE and self.video_read < self._until

    def __iter__(self) -> Iterator[Frame | av.Packet]:
        """The frames and audio packets (:meth:`_read`), marked busy while inside the source, so that a
        :meth:`close` from another thread meanwhile is left to this one."""
        items = self._read()
        while True:
            with self._lock:
                if self._closing:
                    return
                self._busy = True
            try:
                item = next(items, None)
            finally:
                with self._lock:
                    self._busy, closing = False, self._closing
                if closing and self.container is not None:  # (closed while inside: left to this thread)
                    self.container.close()
                    self.container = None
            if item is None or closing:
                return
            yield item


OVERDUE = 0.25  # seconds past --duration's end with no video read before the run is ended from outside (a frame
# on its way ends it first, by its time)
