"""The browser view's server (``--serve``) under the clients real users bring: many at once on both streams, ones
that stop reading, ones that hang up inside a picture, ones that come and go, a ``HEAD``; and the server closed while
they are served, while a picture is being made. Asserted on what each client got (whole pictures, in order), on how
many pictures were made, and on threads left: never on timings, but for generous bounds."""

from __future__ import annotations

import socket
import sys
import threading
import time
import urllib.request

import numpy as np
import pytest

import roadseg.pipeline.sinks.server as server_module
from roadseg.pipeline.sinks.server import MjpegServer
from roadseg.pipeline.sinks.shown import Figures

VIEW_PART = b"\r\n--frame\r\nContent-Type: image/jpeg\r\n\r\n"  # (what ends each picture of /view.mjpg)


def _stream(port: int, got: list, stop: threading.Event, *, hang_up: int | None = None) -> None:
    """Read ``/stream.mjpg`` by each part's Content-Length into ``got``: (X-Timestamp, whole JPEG?) for each; hang up
    inside picture number ``hang_up`` (half of it read)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock, sock.makefile("rb") as f:
        sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
        while f.readline() not in (b"\r\n", b""):
            pass
        assert f.readline() == b"--frame\r\n"
        while not stop.is_set():
            heads = {}
            while (line := f.readline()) not in (b"\r\n", b""):
                key, value = line.rstrip(b"\r\n").split(b": ", 1)
                heads[key] = value
            if not line:
                return  # (the server closed)
            jpeg = f.read(int(heads[b"Content-Length"]) // (2 if len(got) == hang_up else 1))
            if len(got) == hang_up:
                return
            whole = jpeg[:2] == b"\xff\xd8" and jpeg.endswith(b"\xff\xd9") and f.read(11) == b"\r\n--frame\r\n"
            got.append((float(heads[b"X-Timestamp"]), whole))


def _view(port: int, got: list, stop: threading.Event, *, hang_up: int | None = None) -> None:
    """Read ``/view.mjpg`` by its boundaries into ``got`` as :func:`_stream` does (no timestamps there: 0.0)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /view.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
        data, head = b"", True
        while not stop.is_set() and (chunk := sock.recv(65536)):
            if len(got) == hang_up:
                return  # (inside the next picture, most likely)
            data += chunk
            *pictures, data = data.split(VIEW_PART)
            got += [(0.0, p[:2] == b"\xff\xd8" and p.endswith(b"\xff\xd9")) for p in pictures[head:]]
            head = head and not pictures  # (the first piece: the response's headers)


@pytest.mark.timeout(60)
def test_many_clients_at_once_each_get_whole_pictures_in_order_and_none_is_left_once_closed():
    """Eight clients on the two streams, two of them hanging up inside a picture, one that never reads, clients
    coming and going, a ``HEAD`` and ``/stats.json`` all the while, as a run publishes 40 pictures a second (each
    to be stretched, its figures drawn): each client got whole pictures, their times never going back; closing the
    server ended every thread of it and each client's stream."""
    before = set(threading.enumerate())
    server = MjpegServer("127.0.0.1", 0, ["Road"], [(128, 64, 128)])
    stop, ended = threading.Event(), threading.Event()

    def publish() -> None:
        k = 0
        while not ended.is_set():
            picture = np.full((120, 160, 3), k % 255, np.uint8)
            server.publish(picture, captured=1000.0 + k, figures=Figures(25.0, 4.0, 0), sample_aspect=1.5)
            k += 1
            time.sleep(0.025)

    stuck = socket.create_connection(("127.0.0.1", server.port))
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.sendall(b"GET /stream.mjpg HTTP/1.1\r\n\r\n")
    got = [[] for _ in range(8)]
    clients = [threading.Thread(target=_stream if i % 2 else _view, args=(server.port, got[i], stop),
                                kwargs={"hang_up": 3 if i in (2, 5) else None}) for i in range(8)]  # fmt: skip
    publisher = threading.Thread(target=publish)
    publisher.start()
    for client in clients:
        client.start()
    url = f"http://127.0.0.1:{server.port}"
    head = urllib.request.urlopen(urllib.request.Request(f"{url}/stream.mjpg", method="HEAD"), timeout=10)
    assert head.status == 200 and head.read() == b""
    for _ in range(10):  # (clients that come for a picture or two and go)
        _stream(server.port, came := [], threading.Event(), hang_up=2)
        assert len(came) == 2 and all(whole for _, whole in came)
        assert urllib.request.urlopen(f"{url}/stats.json", timeout=10).status == 200
    while min(len(g) for i, g in enumerate(got) if i not in (2, 5)) < 20:
        time.sleep(0.05)
    server.close()  # (the run's end: the clients are still reading)
    ended.set()
    publisher.join(10)
    for client in clients:
        client.join(10)
    stuck.close()
    assert not any(client.is_alive() for client in clients), "a client's stream did not end with the server"
    for i, pictures in enumerate(got):
        assert all(whole for _, whole in pictures), f"client {i} got a half picture"
        times = [t for t, _ in pictures]
        assert times == sorted(times), f"client {i} got pictures out of order"
        assert len(pictures) >= (3 if i in (2, 5) else 20)
    assert [t.name for t in threading.enumerate() if t not in before] == []


def _slow_encoder(monkeypatch, hold: threading.Event | None = None) -> tuple[list, threading.Event]:
    """cv2.imencode in the server made slow (or held until ``hold`` is set), each call noted: (calls, one came)."""
    calls, came, encode = [], threading.Event(), server_module.cv2.imencode

    def slow(*args, **kwargs):
        calls.append(threading.current_thread().name)
        came.set()
        (hold.wait(10) if hold else time.sleep(0.2))
        return encode(*args, **kwargs)

    monkeypatch.setattr(server_module.cv2, "imencode", slow)
    return calls, came


@pytest.mark.timeout(30)
def test_a_picture_sent_again_is_made_once_for_all_the_clients_that_come_to_it(monkeypatch):
    """A silent source's picture, sent again each second with "no new picture for N s" over it, to four clients
    at once: made once for them all (was: by each of them, at the same time: four stretches and JPEGs a second)."""
    with MjpegServer("127.0.0.1", 0, ["Road"], [(128, 64, 128)]) as server:
        server.publish(np.zeros((48, 64, 3), np.uint8), captured=1.0, figures=Figures(25.0, 4.0, 0))
        first, seq = server.wait_frame(-1)
        server._latest = server._latest._replace(at=server._latest.at - server_module.STALE)
        calls, _ = _slow_encoder(monkeypatch)
        together, sent = threading.Barrier(4), []

        def client() -> None:
            together.wait(10)
            sent.append(server.wait_frame(seq, again=0.01))

        clients = [threading.Thread(target=client) for _ in range(4)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join(10)
    assert len(sent) == 4 and len({picture for picture, _ in sent}) == 1 and sent[0][0] != first
    assert len(calls) == 1, calls


@pytest.mark.timeout(30)
def test_no_picture_is_made_once_the_server_closes_while_clients_wait_to_make_one(monkeypatch):
    """The run ends while one client's thread makes a picture and another waits to make a newer one: the one being
    made is finished, no other is begun (was: each waiting made its own then, one after another, while the run's
    close waited for their threads)."""
    hold = threading.Event()
    calls, came = _slow_encoder(monkeypatch, hold)
    server = MjpegServer("127.0.0.1", 0, ["Road"], [(128, 64, 128)])
    server.publish(np.zeros((48, 64, 3), np.uint8), captured=1.0)
    sent: dict[str, tuple] = {}
    making = threading.Thread(target=lambda: sent.update(first=server.wait_frame(-1)))
    making.start()
    assert came.wait(10)
    server.publish(np.ones((48, 64, 3), np.uint8), captured=2.0)
    waiting = threading.Thread(target=lambda: sent.update(second=server.wait_frame(1)))
    waiting.start()
    deadline = time.monotonic() + 10
    while (frame := sys._current_frames().get(waiting.ident)) is None or frame.f_code.co_name != "_made_part":
        assert time.monotonic() < deadline, "the second client never came to make its picture"
        time.sleep(0.01)
    server.close()
    hold.set()
    making.join(10)
    waiting.join(10)
    assert sent["first"][1] == 1 and sent["second"][0] is None
    assert len(calls) == 1, calls


@pytest.mark.timeout(30)
def test_a_burst_of_connections_waits_for_the_server_thread_not_refused():
    """Twenty browsers connecting while the server's thread is held up (a busy machine): the system holds them all
    until it takes them, and each is answered (was: socketserver's queue of 5: from about the 7th on, each connection's
    SYN was dropped, and it connected a second or three later, or timed out)."""
    with MjpegServer("127.0.0.1", 0, ["Road"], [(128, 64, 128)]) as server:
        held = []
        with server.httpd._lock:  # (the server's thread waits in process_request: it takes no connection meanwhile)
            for _ in range(20):
                held.append(socket.create_connection(("127.0.0.1", server.port), timeout=2))
        for sock in held:
            with sock:
                sock.sendall(b"GET /stats.json HTTP/1.0\r\n\r\n")
                assert sock.makefile("rb").readline().startswith(b"HTTP/1.0 200")
