"""The browser view's HTTP server (:mod:`~roadseg.pipeline.sinks.server`): a thread for each browser's connection,
kept with it, so that closing the server ends them all (:meth:`Http.end_clients`); at most :data:`CLIENTS` of them, a
connection that has not sent its request yet dropped for a new one there, one more answered ``503`` by the server's
thread, which never waits (:meth:`Http.process_request`); each given :data:`HEADER_TIMEOUT` s to send its request
(:class:`Handler`).

Example:
    >>> from http.server import BaseHTTPRequestHandler
    >>> with Http(("127.0.0.1", 0), BaseHTTPRequestHandler) as httpd:
    ...     httpd.server_address[1] > 0
    True
"""

from __future__ import annotations

import contextlib
import io
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

#: connections served at once, a thread each (was: no limit: 1000 connections that sent nothing held 1000 threads,
#: +24 MB, for 10 s each, as many as a client opened). A browser's page holds its stream and asks for its figures
#: twice a second, a connection each: 64 serve some 30 browsers, and 64 streams of 720p (~100 kB a picture at
#: 25 frames/s) are ~160 MB/s, past a gigabit LAN already. Threads that were dropped and are ending come on top,
#: never past twice as many in all
CLIENTS = 64
#: seconds a connection has to send its request line and headers, all of them (was: 10 s for each read, so one that
#: sent nothing held its thread 10 s, and one that sent a byte every 9 s for ever). A browser sends its request as
#: soon as it has connected: it comes within a round trip (under a millisecond here, some on a LAN, a second on a
#: bad mobile link); a connection a browser opens ahead and leaves unused, closed, is opened again when it is needed
HEADER_TIMEOUT = 5.0
#: what a connection past :data:`CLIENTS` that all sent their requests is sent before it is closed: the page says "no
#: answer" and asks again, a monitor or ``curl`` is told why (a connection closed unanswered reads as an empty reply)
BUSY = (b"HTTP/1.0 503 Service Unavailable\r\nRetry-After: 2\r\nContent-Type: text/plain\r\nContent-Length: 38\r\n"
        b"Connection: close\r\n\r\nbusy: too many connections; try again\n")  # fmt: skip


class Http(ThreadingHTTPServer):
    """The server: a thread for each browser's connection, kept with it, so that :meth:`end_clients` can end
    them (``ThreadingHTTPServer`` joins none of its daemon threads, and a thread waiting in a write to a browser
    that stopped reading outlived the server by its socket timeout)."""

    daemon_threads = True
    #: connections the system holds for the server before it takes them (socketserver's 5: a burst of browsers, or a
    #: server thread held up a moment on a busy machine, had the 7th connection's SYN dropped and it retried a second
    #: later, or timed out)
    request_queue_size = 128

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[threading.Thread, socket.socket] = {}
        self._waiting: dict[threading.Thread, socket.socket] = {}  # (of those, the ones with no request yet)
        self._dropped: set[threading.Thread] = set()  # (and those dropped for a newer one, ending)
        self._lock = threading.Lock()

    def process_request(self, request, client_address) -> None:
        """Serve the connection in a thread of its own; where :data:`CLIENTS` are served already, drop the oldest
        that has sent no request yet (a silent or stalled one, never a browser watching), or, all having sent one,
        answer this one :data:`BUSY` and close it (:meth:`_refuse`). This thread never waits on a client."""
        thread = threading.Thread(target=self._serve, args=(request, client_address), name="roadseg-http-client",
                                  daemon=True)  # fmt: skip
        with self._lock:
            if len(self._clients) - len(self._dropped) >= CLIENTS and self._waiting:
                self._drop_oldest()
            served = len(self._clients) - len(self._dropped) < CLIENTS and len(self._clients) < 2 * CLIENTS
            if served:
                self._clients[thread] = self._waiting[thread] = request
        if served:
            thread.start()
        else:
            self._refuse(request)

    def _drop_oldest(self) -> None:
        """Shut the connection that has waited longest for its request (its thread's read ends at once); under
        the lock."""
        oldest = next(iter(self._waiting))
        self._dropped.add(oldest)
        with contextlib.suppress(OSError):  # (the client closed it already)
            self._waiting.pop(oldest).shutdown(socket.SHUT_RDWR)

    def heard(self) -> None:
        """The calling client's thread has read its request: it is no longer dropped for a newer connection."""
        with self._lock:
            self._waiting.pop(threading.current_thread(), None)

    def _refuse(self, request: socket.socket) -> None:
        """Answer :data:`BUSY` and close, without waiting: what the client sent is read first, as far as it is
        there (a socket closed with bytes unread resets its connection, and the client may never read the answer)."""
        request.setblocking(False)
        with contextlib.suppress(OSError):  # (nothing there yet, or the client gone)
            request.recv(65536)
        with contextlib.suppress(OSError):  # (a send buffer full at once: a client gone; it is closed unanswered)
            request.send(BUSY)
        self.shutdown_request(request)

    def _serve(self, request, client_address) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._lock:
                self._clients.pop(thread := threading.current_thread(), None)
                self._waiting.pop(thread, None)
                self._dropped.discard(thread)

    def handle_error(self, request, client_address) -> None:
        """A browser that went away while it was answered (a reload, a tab closed, a link that dropped: the
        connection reset or closed before the headers were sent) is no error to print: socketserver's default
        printed a traceback of 25 lines to the terminal for each. Anything else is printed as before."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)

    def end_clients(self, timeout: float) -> None:
        """Shut every connection still served (a write or a read waiting on it ends at once) and give their
        threads ``timeout`` s in all to end; call it once :meth:`shutdown` has returned (no new ones come)."""
        with self._lock:
            clients = dict(self._clients)
        for request in clients.values():
            with contextlib.suppress(OSError):  # (one the browser closed)
                request.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for thread in clients:
            thread.join(max(0.0, deadline - time.monotonic()))


class Handler(BaseHTTPRequestHandler):
    """A connection's handler whose request line and headers must come within :data:`HEADER_TIMEOUT` s of its
    start, all of them (:class:`_Head`), its :class:`Http` told once they have (:meth:`Http.heard`); its other reads
    and its writes each wait ``timeout`` s, as ``StreamRequestHandler``'s."""

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # (the socket's own reader: left open, it would keep the socket open past its close)
        self.rfile = io.BufferedReader(_Head(self.connection, time.monotonic() + HEADER_TIMEOUT))

    def parse_request(self) -> bool:
        try:
            return super().parse_request()
        finally:  # (the head is read: the answer's writes wait as long as any)
            self.rfile.raw.deadline = None
            self.connection.settimeout(self.timeout)
            self.server.heard()


class _Head(io.RawIOBase):
    """A connection's reads, that end in ``TimeoutError`` once ``deadline`` (``time.monotonic()``) has passed (each
    read waits what is left of it); ``deadline`` None: each waits the socket's timeout."""

    def __init__(self, sock: socket.socket, deadline: float | None) -> None:
        self._sock, self.deadline = sock, deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.deadline is not None:
            if (left := self.deadline - time.monotonic()) <= 0:
                raise TimeoutError(f"no request within {HEADER_TIMEOUT:g} s")
            self._sock.settimeout(left)
        return self._sock.recv_into(buffer)


class Http6(Http):
    """The server on an IPv6 address (``::1``; ``::`` takes IPv4 too, where the system lets it: see ``v6only``)."""

    address_family = socket.AF_INET6
