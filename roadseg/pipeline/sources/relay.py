"""A pipe input (standard input, a named pipe) passed on into a pipe of our own, which FFmpeg reads: :class:`Relay`.

FFmpeg's read of a pipe that stalls (a writer that sent part of a header, then nothing) cannot be ended from here:
closing the descriptor it reads, or putting another in its place, wakes no read already waiting (FFmpeg reads its own
copy of it, too), and the pipe's writer is not ours. A pipe whose writer is ours ends where that writer closes it: its
reader's waiting read returns at once. So the run's open reads our pipe, and a thread of the relay's passes on what
the input sends; a run given up while its open waits (Ctrl-C) ends the relay (:meth:`Relay.end`), and with it the
open's threads (was: left in FFmpeg's read until the writer sent more or closed the pipe).

Example:
    >>> read, write = os.pipe()
    >>> relay = Relay(read)
    >>> os.write(write, b"header"), os.close(write)
    (6, None)
    >>> with os.fdopen(relay.taken(), "rb") as ours:
    ...     ours.read()
    b'header'
"""

from __future__ import annotations

import contextlib
import os
import select
import threading

from roadseg.pipeline.runner import spawn

#: bytes the relay reads at a time (a pipe's own buffer)
CHUNK = 1 << 16
#: seconds the relay's thread waits at a time before it looks whether it is to end
POLL_MS = 50


class Relay:
    """What the pipe ``source`` (a descriptor; ``0``, standard input, is not closed) sends, passed on into a pipe of
    ours by a thread of its own (``roadseg-relay``), whose read end (:meth:`taken`) FFmpeg reads. The thread ends where
    the input ends (its end passed on), where nothing reads ours any more (the run's container closed, its reads given
    up) or at :meth:`end`."""

    def __init__(self, source: int) -> None:
        self.read, self._write = os.pipe()
        os.set_blocking(self._write, False)  # (a write puts in what fits; the thread never waits in one)
        self._source, self._ending, self._taken = source, threading.Event(), False
        self._thread = spawn(self._pass_on, "relay")

    def taken(self) -> int:
        """The read end of our pipe, handed to FFmpeg (which reads its own copy): the taker closes it."""
        self._taken = True
        return self.read

    def end(self) -> None:
        """End the relay: our pipe ends (its reader's waiting read returns); what the input sends then stays there."""
        self._ending.set()
        self._thread.join(1.0)
        self.release()

    def release(self) -> None:
        """Close our read end where nothing took it."""
        if not self._taken:
            self._taken = True
            os.close(self.read)

    def _pass_on(self) -> None:
        poller, pending, watched = select.poll(), b"", False
        try:
            while not self._ending.is_set():
                if not pending:
                    poller.register(self._source, select.POLLIN)
                elif watched:  # (not looked at while ours is full: its end, POLLHUP, is said whatever is asked; was,
                    poller.unregister(self._source)  # once its writer had gone, a core spent till ours had room)
                watched = not pending
                poller.register(self._write, select.POLLOUT if pending else 0)  # (POLLERR: nothing reads it)
                ready = dict(poller.poll(POLL_MS))
                if ready.get(self._write, 0) & (select.POLLERR | select.POLLHUP):
                    return
                if not pending and ready.get(self._source, 0):
                    pending = os.read(self._source, CHUNK)
                    if not pending:  # (the input's end)
                        return
                if pending and ready.get(self._write, 0) & select.POLLOUT:
                    pending = pending[os.write(self._write, pending) :]
        except OSError:  # (nothing reads ours any more, or the input failed: ended as its end)
            pass
        finally:
            os.close(self._write)
            if self._source:
                with contextlib.suppress(OSError):
                    os.close(self._source)
