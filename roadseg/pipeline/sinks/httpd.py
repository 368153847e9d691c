"""The browser view's HTTP server (:mod:`~roadseg.pipeline.sinks.server`): a thread for each browser's connection,
kept with it, so that closing the server ends them all (:meth:`Http.end_clients`).

Example:
    >>> from http.server import BaseHTTPRequestHandler
    >>> with Http(("127.0.0.1", 0), BaseHTTPRequestHandler) as httpd:
    ...     httpd.server_address[1] > 0
    True
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from http.server import ThreadingHTTPServer


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
        self._lock = threading.Lock()

    def process_request(self, request, client_address) -> None:
        thread = threading.Thread(target=self._serve, args=(request, client_address), name="roadseg-http-client",
                                  daemon=True)  # fmt: skip
        with self._lock:
            self._clients[thread] = request
        thread.start()

    def _serve(self, request, client_address) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._lock:
                self._clients.pop(threading.current_thread(), None)

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


class Http6(Http):
    """The server on an IPv6 address (``::1``; ``::`` takes IPv4 too, where the system lets it: see ``v6only``)."""

    address_family = socket.AF_INET6
