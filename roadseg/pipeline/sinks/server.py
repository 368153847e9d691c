"""The browser view (``--serve``): ``/`` shows the live overlay, fed by an MJPEG stream, ``/view.mjpg``.

``/stream.mjpg`` is ``multipart/x-mixed-replace`` JPEG for any client, each part's ``X-Timestamp`` the Unix time its
frame was captured at (as mjpg-streamer's: a client on a synchronised clock measures the latency it sees);
``/view.mjpg`` the same pictures as a browser draws them the moment they come (``parts``), each at the shape it plays at
(an anamorphic source's stretched, its live figures drawn then: :mod:`~roadseg.pipeline.sinks.shown`); in both the latest is sent
again each second where the source is silent (:data:`AGAIN`), "no new picture for N s" drawn over its live figures
from :data:`STALE` s;
``/stats.json`` holds frames/s and latency over the last second, and drops, worked out when asked for (a stalled stream
shows 0 frames/s). A ``HEAD`` is answered as its ``GET``, headers alone (a monitor's,
``curl -I``'s). The pipeline only replaces the latest picture (never waits for a client, nor for its JPEG): a picture is
made (stretched, its figures drawn, encoded; encoded alone where a ``--show`` window beside it had it made in the
run's thread) by the first browser's thread that sends it, once for all of them, and none while no browser watches (:meth:`MjpegServer.wait_frame`); each browser is served by its
own handler thread with a socket timeout and at most :data:`UNSENT` bytes unsent, so a slow or vanished browser stalls
nothing and a slow one gets the newest picture; closing the server shuts each connection and joins its thread.

:class:`ServeSink` is the run's sink for it.

Example:
    >>> with MjpegServer("127.0.0.1", 0, ["Road"], [(128, 64, 128)]) as srv:   # port 0: any free port
    ...     srv.port > 0
    True
"""

from __future__ import annotations

import html
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from typing import NamedTuple
from urllib.parse import urlsplit

import cv2
import numpy as np

from roadseg.errors import SinkError
from roadseg.pipeline.overlay import draw_stale
from roadseg.pipeline.runner import spawn
from roadseg.pipeline.sinks.addresses import bind_hint, in_url, where
from roadseg.pipeline.sinks.base import Sink
from roadseg.pipeline.sinks.httpd import Handler, Http, Http6
from roadseg.pipeline.sinks.page import PAGE
from roadseg.pipeline.sinks.parts import BOUNDARY, UNSENT, VIEW_HEAD, Picture, part, unsent_at_most
from roadseg.pipeline.sinks.shown import Figures, as_shown
from roadseg.pipeline.sources import Frame

log = logging.getLogger("roadseg")
JOIN = 2.0  # seconds the server's threads get to end once it is closed
#: seconds of a silent source (lost, reconnecting) after which a stream is sent its latest picture again: a browser
#: opened then is sent one, its figures saying from :data:`STALE` s how long the source has been silent
AGAIN = 1.0
#: seconds without a new picture after which one sent again says so on its figures, as the page's line does (a run
#: of a slow model, a picture each 1.5 s, kept its own figures: not a silent source's)
STALE = 3.0


class _Latest(NamedTuple):
    """The latest picture published: as drawn, in its stored pixels (a copy of the caller's), its ``X-Timestamp``
    header, when it came (``time.monotonic()``), the figures to draw over it and its pixels' width:height."""

    image: np.ndarray
    stamp: bytes
    at: float
    figures: Figures | None
    sample_aspect: Fraction | float | None

    def shown(self) -> np.ndarray:
        """The picture as it is sent: at its display shape, its figures drawn; :attr:`image` itself where that changes
        nothing (square pixels, no figures: a picture made already beside a window), not to be drawn on."""
        return as_shown(self.image, self.sample_aspect, self.figures)


class _Handler(Handler):
    """One browser's requests: the page, the figures, or the MJPEG stream of ``self.server.mjpeg``."""

    timeout = 10  # a client that stops reading is dropped, not waited on forever (its request: httpd.HEADER_TIMEOUT)

    def log_message(self, *args) -> None:  # keep the terminal for the progress line
        return None

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        mjpeg: MjpegServer = self.server.mjpeg  # type: ignore[attr-defined]
        path = urlsplit(self.path).path  # (a link's query, a dashboard's or a cache-buster's, is no other page)
        if path in ("/", "/index.html"):
            self._send(200, "text/html; charset=utf-8", mjpeg.page)
        elif path == "/stats.json":
            self._send(200, "application/json", json.dumps(mjpeg.figures()).encode())
        elif path in ("/stream.mjpg", "/view.mjpg"):
            self._stream(mjpeg, view=path == "/view.mjpg")
        else:
            self._send(404, "text/plain", b"not found")

    def do_HEAD(self) -> None:  # noqa: N802
        """GET's answer without its body: the headers alone (:meth:`_send` and :meth:`_stream` send no more)."""
        self.do_GET()

    def _send(self, code: int, ctype: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))  # (a HEAD's too: the length its GET's body has)
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _stream(self, mjpeg: MjpegServer, view: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command == "HEAD":
            return
        unsent_at_most(self.connection, UNSENT)
        seen = -1
        try:
            self.wfile.write(BOUNDARY + VIEW_HEAD if view else BOUNDARY)
            while True:
                picture, seen = mjpeg.wait_frame(seen, again=AGAIN)
                if picture is None:
                    return
                self.wfile.write(part(*picture, view=view))
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, TimeoutError, OSError):
            return  # the browser went away


class MjpegServer:
    """Serve the latest picture as MJPEG on ``host:port`` (a thread of its own, closed by ``close``); ``host`` an
    IPv4 address or name, or an IPv6 address without brackets (``::1``). ``figures``: what ``/stats.json``
    says, asked for at each request (from a handler thread); without it, the figures last published. ``v6only``:
    its socket is IPv6's and takes no IPv4 (on ``::``: the system's ``net.ipv6.bindv6only``)."""

    def __init__(self, host: str, port: int, classes, palette, *, quality: int = 80,
                 figures: Callable[[], dict] | None = None) -> None:  # fmt: skip
        self.quality = quality
        self.figures = figures or (lambda: self.stats)
        self._cond = threading.Condition()
        self._seq = 0  # the latest picture's number
        self._latest: _Latest | None = None
        self._made: tuple[int, Picture] | None = None  # (the picture last made, by its number; its JPEG and header)
        self._making = threading.Lock()  # (one thread makes a picture; the others wait for it and send it too)
        self._again: tuple[int, int, Picture] | None = None  # (the picture's number, seconds, what was sent again then)
        self._closed = False
        self.stats: dict = {"fps": 0.0, "frames": 0, "dropped": 0, "latency_ms": {"p50": None, "p95": None}}
        legend = " ".join(f'<span class="cls"><span class="sw" style="background:rgb{tuple(int(v) for v in c)}"></span>'
                          f"{html.escape(n)}</span>" for n, c in zip(classes, palette))  # (a swatch and its name: one line)
        self.page = PAGE.format(legend=legend).encode()
        try:
            self.httpd = (Http6 if ":" in host else Http)((host, port), _Handler)
        except OSError as exc:  # the port is taken, the address is not ours ...
            raise SinkError(f"cannot serve on {in_url(host, port)}: {exc.strerror or exc}{bind_hint(exc, host)}") from None
        self.httpd.mjpeg = self  # type: ignore[attr-defined]  # what the handlers serve
        self.host, self.port = self.httpd.server_address[:2]
        sock = self.httpd.socket  # (an IPv6 socket on ``::`` takes IPv4 too unless the system or the option says not)
        self.v6only = sock.family == socket.AF_INET6 and bool(sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY))
        self._thread = spawn(self.httpd.serve_forever, "http")

    def __enter__(self) -> MjpegServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        return f"http://{in_url(self.host, self.port)}/"

    def publish(self, image: np.ndarray, stats: dict | None = None, *, captured: float | None = None,
                figures: Figures | None = None, sample_aspect: Fraction | float | None = None) -> None:  # fmt: skip
        """Replace the latest picture (RGB; copied: the caller may change its own), captured at Unix time ``captured``
        (its parts' ``X-Timestamp``), its pixels ``sample_aspect`` as wide as high, ``figures`` to draw over it as it
        is shown; never blocks on clients, nor encodes it (:meth:`wait_frame` does, in a client's thread)."""
        stamp = b"" if captured is None else b"X-Timestamp: %.6f\r\n" % captured
        latest = _Latest(image.copy(), stamp, time.monotonic(), figures, sample_aspect)
        with self._cond:
            self._seq, self._latest = self._seq + 1, latest
            if stats is not None:
                self.stats = stats
            self._cond.notify_all()

    def wait_frame(self, seen: int, timeout: float = 1.0, again: float | None = None) -> tuple[Picture | None, int]:
        """The next picture after number ``seen``, its JPEG and its header, and its number (``None`` once the server
        closes); ``again``: the latest once more where none newer came for that long (s). The picture is made here,
        in the caller's thread, by the first that asks for it (:meth:`_made_part`)."""
        while True:
            deadline = None if again is None else time.monotonic() + again
            with self._cond:
                while not self._closed and (self._latest is None or self._seq == seen):
                    left = timeout if deadline is None or self._latest is None else deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(min(timeout, left))
                if self._closed:
                    return None, seen
                seq, latest = self._seq, self._latest
            picture = self._sent_again(seq, latest) if seq == seen else None
            made = (picture, seq) if picture is not None else self._made_part(seq, latest)
            if made is not None:
                return made
            seen = seq  # (it could not be encoded: wait for the next)

    def _made_part(self, seq: int, latest: _Latest) -> tuple[Picture, int] | None:
        """Picture ``seq`` (``latest``) as it is sent, and its number: made once, by the first thread that asks, the
        others waiting for it (one made since, newer, instead); None where it cannot be encoded, or the server closed
        while it waited (was: each waiting for a newer one made it, then, one after another, and close waited)."""
        with self._making:
            if self._closed:
                return None
            if self._made is None or self._made[0] < seq:
                if (part := self._encoded(latest.shown(), latest.stamp)) is None:
                    return None
                self._made = (seq, part)
            return self._made[1], self._made[0]

    def _encoded(self, image: np.ndarray, stamp: bytes) -> Picture | None:
        """``image`` (RGB) as it is sent, ``stamp`` its header (None where it cannot be encoded)."""
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        return Picture(buf.tobytes(), stamp) if ok else None

    def _sent_again(self, seq: int, latest: _Latest) -> Picture | None:
        """Picture ``seq``, which came at ``at``, as it is sent again while the source is silent: its live figures
        covered by "no new picture for N s" (was: its stale "25.0 fps" for as long); once for every client each
        second (made as :meth:`_made_part`'s, under its lock); sent as it was before :data:`STALE` s."""
        if (seconds := int(time.monotonic() - latest.at)) < STALE:
            return None
        with self._making:  # (was: made by every client that came to it, at once: 8 browsers, 8 stretches and JPEGs)
            if self._closed:
                return None
            if (again := self._again) is not None and again[:2] == (seq, seconds):
                return again[2]
            picture = latest.shown()
            draw_stale(picture := picture.copy() if picture is latest.image else picture, seconds)  # (kept one stays)
            part = self._encoded(picture, latest.stamp)
            if part is not None:
                self._again = (seq, seconds, part)
            return part

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        self.httpd.shutdown()
        self.httpd.end_clients(JOIN)
        self.httpd.server_close()
        self._thread.join(JOIN)


class ServeSink(Sink):
    """The run's sink for ``--serve HOST:PORT``: publishes every picture; ``/stats.json`` is what ``stats()``
    returns when a browser asks (it must be safe to call from another thread)."""

    name = "display"
    shows = True
    shows_later = True

    def __init__(self, host: str, port: int, classes, palette, stats: Callable[[], dict]) -> None:
        self.server = MjpegServer(host, port, classes, palette, figures=stats)
        log.warning("serving the live view %s", where(self.server.host, self.server.port, v6only=self.server.v6only))

    def write(self, image: np.ndarray, frame: Frame) -> None:
        """Publish the picture as shown already (made in the run's writer thread for a window beside it)."""
        self.show(image, frame)

    def show(self, image: np.ndarray, frame: Frame, figures: Figures | None = None,
             sample_aspect: Fraction | float | None = None) -> None:  # fmt: skip
        """Publish the picture as drawn: it is stretched and its figures drawn as a browser's thread sends it, not
        in the run's."""
        captured = None if frame.captured is None else time.time() - (time.monotonic() - frame.captured)
        self.server.publish(image, captured=captured, figures=figures, sample_aspect=sample_aspect)

    def close(self) -> None:
        self.server.close()
