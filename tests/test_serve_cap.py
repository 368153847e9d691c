"""The browser view's server under connections that never send a request (a broken or hostile client, a port scanner)
or send it a byte at a time, and more clients than it serves: its threads stay bounded (:data:`~.httpd.CLIENTS`), the
browsers watching keep their stream, a browser coming then is served, one past the cap of browsers that all sent
their requests is answered ``503`` at once, a request that does not come whole within
:data:`~.httpd.HEADER_TIMEOUT` s is dropped, and closing the server ends it all. Asserted on what each client got
and on the server's threads: timings only as generous bounds."""

from __future__ import annotations

import select
import socket
import threading
import time
import urllib.request

import numpy as np
import pytest

from roadseg.pipeline.sinks import httpd
from roadseg.pipeline.sinks.httpd import CLIENTS
from roadseg.pipeline.sinks.server import MjpegServer

PICTURE_END = b"\xff\xd9\r\n--frame\r\n"  # (a JPEG's last bytes and the boundary after it, in /stream.mjpg)


def _clients() -> int:
    """The server's client threads now."""
    return sum(thread.name == "roadseg-http-client" for thread in threading.enumerate())


def _watch(port: int) -> socket.socket:
    """A browser on ``/stream.mjpg`` that has had its first picture (its request read, so served)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"GET /stream.mjpg HTTP/1.0\r\n\r\n")
    _pictures(sock, 1)
    return sock


def _pictures(sock: socket.socket, n: int) -> None:
    """Read until ``n`` more whole pictures have come (a timeout or the server's close fails the test)."""
    data = b""
    while data.count(PICTURE_END) < n:
        chunk = sock.recv(65536)
        assert chunk, "the server closed a watching browser's stream"
        data += chunk


def _ended(sock: socket.socket) -> bool:
    """Whether the server ends the connection (closed or reset) within its timeout, what it still sends read."""
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    return True


@pytest.fixture
def server():
    """A served view publishing a small picture 20 times a second; every thread of it gone once it closed."""
    before = set(threading.enumerate())
    srv, ended = MjpegServer("127.0.0.1", 0, ["Road"], [(128, 64, 128)]), threading.Event()

    def publish() -> None:
        k = 0
        while not ended.wait(0.05):
            srv.publish(np.full((48, 64, 3), k % 255, np.uint8), captured=1.0 + k)
            k += 1

    publisher = threading.Thread(target=publish)
    publisher.start()
    yield srv
    srv.close()
    ended.set()
    publisher.join(10)
    assert [t.name for t in threading.enumerate() if t not in before] == []


@pytest.mark.timeout(60)
def test_silent_connections_past_the_cap_hold_no_more_threads_nor_keep_a_browser_out(server):
    """A browser watching, then CLIENTS + 100 connections that send nothing or half a request line (was: a thread
    each, 165, for 10 s): the server's threads never pass twice CLIENTS and come back to CLIENTS (the oldest silent
    one dropped for each newer), the browser's stream goes on, a browser coming then gets ``/stats.json`` and the
    stream at once (not once the silent ones time out), and closing the server ends every connection."""
    watching = _watch(server.port)
    most, flooding = [0], threading.Event()

    def count() -> None:
        while flooding.is_set():
            most[0] = max(most[0], _clients())
            time.sleep(0.001)

    flooding.set()
    counter = threading.Thread(target=count)
    counter.start()
    silent = []
    for i in range(CLIENTS + 100):
        silent.append(socket.create_connection(("127.0.0.1", server.port), timeout=10))
        if i % 2:
            silent[-1].sendall(b"GET /stats")
    asked = time.monotonic()  # (answered once the server has taken every silent one: they came before it)
    stats = urllib.request.urlopen(f"http://127.0.0.1:{server.port}/stats.json", timeout=10)
    assert stats.status == 200 and b"fps" in stats.read()
    with _watch(server.port):
        pass
    assert time.monotonic() - asked < 2, "a browser waited for the silent ones to time out"
    deadline = time.monotonic() + 3  # (the ones dropped end)
    while _clients() > CLIENTS and time.monotonic() < deadline:
        time.sleep(0.01)
    flooding.clear()
    counter.join(10)
    assert _clients() <= CLIENTS, f"{_clients()} threads for {CLIENTS + 100} silent connections and one browser"
    assert most[0] <= 2 * CLIENTS
    _pictures(watching, 3)
    server.close()
    for sock in [watching, *silent]:
        with sock:
            assert _ended(sock)


@pytest.mark.timeout(60)
def test_a_connection_past_the_cap_of_watching_browsers_is_answered_busy_at_once(server):
    """CLIENTS browsers watching: one more connection is answered ``503`` with ``Retry-After`` at once and closed
    (was: served, a thread more), and the browsers watching go on getting pictures."""
    watching = [_watch(server.port) for _ in range(CLIENTS)]
    asked = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as late:
        late.sendall(b"GET /stream.mjpg HTTP/1.0\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer and (chunk := late.recv(65536)):
            answer += chunk
        assert answer.startswith(b"HTTP/1.0 503 Service Unavailable\r\n") and b"\r\nRetry-After: " in answer, answer
        assert _ended(late)
    assert time.monotonic() - asked < 2
    assert _clients() == CLIENTS
    for sock in watching:
        with sock:
            _pictures(sock, 2)


@pytest.mark.timeout(30)
def test_a_request_that_does_not_come_whole_within_its_time_is_dropped(server, monkeypatch):
    """A request sent a byte every 0.1 s, and a connection that sends nothing, are closed once HEADER_TIMEOUT s have
    passed since they came, whole or not (was: each read waited 10 s, so a trickle was served, however long it took); a
    request that comes whole within it is answered."""
    monkeypatch.setattr(httpd, "HEADER_TIMEOUT", 0.5, raising=False)
    request = b"GET /stats.json HTTP/1.0\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as slow, \
            socket.create_connection(("127.0.0.1", server.port), timeout=10) as silent:  # fmt: skip
        came = time.monotonic()
        for byte in request:  # (a byte each 0.1 s: 2.8 s in all, unless the server ends it first)
            slow.sendall(bytes([byte]))
            if select.select([slow], [], [], 0.1)[0]:
                break
        assert _ended(slow) and _ended(silent)
        assert time.monotonic() - came < 2, "a request that came a byte at a time was waited for"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as prompt:
        time.sleep(0.3)
        prompt.sendall(request)
        assert prompt.recv(65536).startswith(b"HTTP/1.0 200 OK")
