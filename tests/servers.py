"""Local HTTP servers for tests: each shut down, closed and joined, its handlers' threads too, when its test is done."""

from __future__ import annotations

import contextlib
import io
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

JOIN = 5.0  # seconds a server's threads get to end once it is shut down (a handler ends when its client hangs up)


class _Joined(ThreadingHTTPServer):
    """A :class:`ThreadingHTTPServer` that keeps its handlers' threads, to join them with a deadline (its own
    ``server_close`` joins none of its daemon threads, and the others without a deadline)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.handlers: list[threading.Thread] = []

    def process_request(self, request, client_address) -> None:
        thread = threading.Thread(target=self.process_request_thread, args=(request, client_address),
                                  name=f"http-handler-{self.server_address[1]}", daemon=True)  # fmt: skip
        self.handlers.append(thread)
        thread.start()


@contextlib.contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[ThreadingHTTPServer]:
    """A threading HTTP server of ``handler`` on a free loopback port, serving in a thread while the block runs;
    then shut down, its socket closed, and its thread and its handlers' joined (:data:`JOIN` s).

    >>> import urllib.request
    >>> from http.server import SimpleHTTPRequestHandler
    >>> with serving(SimpleHTTPRequestHandler) as httpd:
    ...     urllib.request.urlopen(f"http://127.0.0.1:{httpd.server_address[1]}/").status
    200
    >>> [t.is_alive() for t in httpd.handlers]
    [False]
    """
    httpd = _Joined(("127.0.0.1", 0), handler)
    server = threading.Thread(target=httpd.serve_forever, name=f"http-server-{httpd.server_address[1]}", daemon=True)
    server.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        for thread in (server, *httpd.handlers):
            thread.join(JOIN)


class Quiet(SimpleHTTPRequestHandler):
    """Serves files without byte ranges (an http TS then says no length: a live stream; an mp4 is read from its start
    to its end, seeks forward only), and without a log line for each request."""

    def log_message(self, *a) -> None:
        return None


class Ranged(Quiet):
    """Serves files as a web server does, from the bytes a request's ``Range: bytes=N-`` (or ``N-M``) asks: FFmpeg then
    seeks in them, and reads a transport stream's end for its length (a file; without, an http TS has none)."""

    def send_head(self):
        asked = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if not asked:
            return super().send_head()
        data = Path(self.translate_path(self.path)).read_bytes()
        at, end = int(asked[1]), min(int(asked[2] or len(data) - 1), len(data) - 1)
        self.send_response(206)
        self.send_header("Content-Type", "video/mp2t" if self.path.endswith(".ts") else self.guess_type(self.path))
        self.send_header("Content-Range", f"bytes {at}-{end}/{len(data)}")
        self.send_header("Content-Length", str(end + 1 - at))
        self.end_headers()
        return io.BytesIO(data[at : end + 1])

    def end_headers(self) -> None:
        self.send_header("Accept-Ranges", "bytes")
        super().end_headers()
