"""The live view's figures and messages, as a user trial found them: frames/s of a stream that comes in bursts, the
page's latency of the same second as its frames/s, the picture's figures labelled and not claimed for a picture sent
again, the headless ``--show --serve`` refusal, and Ctrl-C on a view-only run still waiting for its source. Timings
are injected (a clock of the test's own), never taken from the machine's load."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from test_live import _chromium_dom

import roadseg.pipeline.overlay as overlay
import roadseg.pipeline.sinks.server as server_module
import roadseg.pipeline.sinks.window as window
import roadseg.pipeline.timing as timing
from roadseg.errors import SinkError
from roadseg.pipeline.options import SegmentOptions
from roadseg.pipeline.outcome import interruption
from roadseg.pipeline.run import _open_views
from roadseg.pipeline.sinks.server import MjpegServer


class Clock:
    """``time.monotonic`` for :mod:`roadseg.pipeline.timing`, at the time a test sets."""

    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(timing, "time", SimpleNamespace(monotonic=clock, perf_counter=time.perf_counter))
    return clock


def _rates(stats: timing.FrameStats, clock: Clock, shown: list[float], ask: list[float]) -> list[float]:
    """Frames/s as the picture's figures (asked as each frame is shown) and the page's (asked at ``ask``) say it,
    for frames shown at ``shown`` (each latency 40 ms)."""
    rates, events = [], sorted([(t, 0) for t in shown] + [(t, 1) for t in ask])
    for t, asked in events:
        clock.t = t
        if not asked:
            stats.add(t, t - 0.04)
        rates.append(stats.fps)
    return rates


@pytest.mark.parametrize("every, burst", [(1.0, 25), (0.5, 12.5), (0.2, 5)])
def test_frames_per_second_of_a_stream_that_comes_in_bursts_is_steady(clock, every, burst):
    """A 25 frames/s stream over HTTP (TS, HLS) comes in bursts, a second's frames within some 30 ms: its frames/s
    was N - 1 over the time the last second's frames spanned, and swung from 45 to 905 (page and picture alike); in
    the run's first second, N - 1 over its first burst's span: 830. None there now (the page and picture say none)."""
    t0 = clock.t
    shown = []
    for k in range(int(6 / every)):  # (6 s; bursts of 12 and 13 frames where a burst is half a second's)
        n = int(burst) + (k % 2 if burst % 1 else 0)
        shown += [t0 + k * every + i * 0.0012 for i in range(n)]
    ask = [t0 + 0.037 * i for i in range(160)]  # (the page's, between the bursts and within them)
    stats = timing.FrameStats()
    rates = _rates(stats, clock, shown, ask)
    first = [r for (t, r) in zip(sorted(shown + ask), rates) if t < t0 + 1.0]
    later = [r for (t, r) in zip(sorted(shown + ask), rates) if t >= t0 + 1.0]
    assert first and all(r is None for r in first), first
    assert 22 <= min(later) and max(later) <= 28, (min(later), max(later))


def test_frames_per_second_of_a_steady_stream_is_its_rate_from_a_second_on_and_0_once_it_stalls(clock):
    t0 = clock.t
    stats = timing.FrameStats()
    assert stats.fps is None and stats.live()["fps"] is None  # (no frame yet)
    rates = _rates(stats, clock, [t0 + i * 0.04 for i in range(75)], [])
    assert all(r is None for r in rates[:25]) and all(abs(r - 25) < 0.01 for r in rates[25:]), rates
    assert stats.live()["fps"] == 25.0
    clock.t = t0 + 74 * 0.04 + 0.5
    assert stats.fps == 13.0  # (half a second without a frame: the 13 of the last second's half before)
    clock.t += 0.6
    assert stats.fps == 0.0  # (none for over a second: a stream that stalls)


def _serve_opts(**kw) -> SegmentOptions:
    return SegmentOptions(input="rtsp://camera/stream", live=True, serve=("127.0.0.1", 0), **kw)


def _figures(stats: timing.FrameStats) -> dict:
    """``/stats.json`` of the browser view as a run opens it, for ``stats``."""
    seg = SimpleNamespace(classes=["Road"], palette=[(128, 64, 128)])
    with ExitStack() as stack:
        (view,) = _open_views(_serve_opts(), seg, stats, stack)
        url = f"http://127.0.0.1:{view.server.port}/stats.json"
        with urllib.request.urlopen(url, timeout=10) as reply:
            return json.loads(reply.read())


def test_the_pages_latency_is_of_the_last_second_as_its_frames_per_second(clock):
    """The page said "25.0 frames/s, latency p50 500 ms" a minute after the latency had come down to 5 ms: its
    frames/s was the last second's, its latency the whole run's."""
    t0 = clock.t
    stats = timing.FrameStats()
    for i in range(250):  # 10 s at 500 ms
        stats.add(t0 + i * 0.04, t0 + i * 0.04 - 0.5)
    for i in range(250, 300):  # then 2 s at 5 ms
        stats.add(t0 + i * 0.04, t0 + i * 0.04 - 0.005)
    clock.t = t0 + 299 * 0.04 + 0.01
    figures = _figures(stats)
    assert figures["fps"] == 25.0 and figures["latency_ms"]["p50"] == 5.0 and figures["latency_ms"]["p95"] == 5.0
    assert figures["run_latency_ms"]["p50"] == 500.0 and figures["frames"] == 300  # (the run's, named so)
    clock.t += 1.5  # (a stream that stalls: no latency of the last second, not the run's as if it were)
    assert _figures(stats)["latency_ms"]["p50"] is None and _figures(stats)["fps"] == 0.0


def _texts(monkeypatch) -> list[str]:
    """The texts drawn on pictures from now on."""
    drawn, put = [], cv2.putText
    monkeypatch.setattr(overlay.cv2, "putText", lambda img, text, *a, **k: (drawn.append(text), put(img, text, *a, **k)))
    return drawn


def test_the_pictures_latency_figure_says_it_is_latency(monkeypatch):
    """The picture's figures read "25.0 fps  4 ms  drop 0": 4 ms of what?"""
    drawn = _texts(monkeypatch)
    overlay.draw_hud(np.zeros((360, 640, 3), np.uint8), 25.0, 4.2, 0)
    assert re.fullmatch(r"\s*25\.0 fps\s+latency\s+4 ms\s+drop 0", drawn[0]), drawn


def test_the_pictures_figures_in_the_first_second_claim_no_rate(monkeypatch):
    drawn = _texts(monkeypatch)
    overlay.draw_hud(np.zeros((360, 640, 3), np.uint8), None, 4.2, 0)
    assert re.fullmatch(r"latency\s+4 ms\s+drop 0", drawn[0]), drawn


def _jpeg(jpeg: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)


def test_a_picture_sent_again_while_the_source_is_silent_claims_no_live_rate(monkeypatch):
    """While the source was silent the browser view sent its last picture again each second, "25.0 fps" on it for
    as long: now its figures are covered by "no new picture for N s" (its X-Timestamp still the picture's), from 3 s
    as the page's line (was from 1 s: a slow model's run, a picture each 1.5 s, flashed it between its pictures)."""
    picture = np.full((360, 640, 3), 90, np.uint8)
    overlay.draw_hud(picture, 25.0, 40.0, 0)
    with MjpegServer("127.0.0.1", 0, ["Road"], [(128, 64, 128)]) as server:
        server.publish(picture, captured=1234.5)
        first, seq = server.wait_frame(-1)
        drawn = _texts(monkeypatch)
        again, seq_again = server.wait_frame(seq, again=0.01)  # (none newer came: the latest again)
        assert again == first and drawn == []  # (before STALE s: a slow model's picture, its figures its own)
        server._latest = server._latest._replace(at=server._latest.at - server_module.STALE)  # (it came STALE s ago)
        again, seq_again = server.wait_frame(seq, again=0.01)
    assert seq_again == seq and again.stamp == first.stamp == b"X-Timestamp: 1234.500000\r\n"
    assert drawn == ["no new picture for 3 s"], drawn
    sent, resent = _jpeg(first.jpeg), _jpeg(again.jpeg)
    h, w = picture.shape[:2]
    hud_width = cv2.getTextSize(" 25.0 fps  latency   40 ms  drop 0", cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)[0][0] + 12
    hud = (slice(0, 20), slice(w - hud_width, w))  # (where the figures were drawn)
    assert np.abs(sent[hud].astype(int) - resent[hud]).mean() > 5  # (not the figures as they were)
    assert np.abs(sent[40:].astype(int) - resent[40:]).max() < 30  # (the rest of the picture as it was)


@pytest.mark.parametrize("gui, displayed", [(None, True), ("QT5", False)])
def test_show_that_cannot_open_a_window_beside_serve_points_to_the_view_served(monkeypatch, gui, displayed):
    """``--show --serve`` with headless OpenCV (or without a display) said "... or use --serve HOST:PORT", to a
    run that had --serve already."""

    def refuse(*args) -> None:
        raise cv2.error("no GUI")

    monkeypatch.setattr(window, "gui_backend", lambda: gui)
    monkeypatch.setattr(window, "no_display", lambda: not displayed)
    monkeypatch.setattr(window.cv2, "namedWindow", refuse)
    with pytest.raises(SinkError) as refused, ExitStack() as stack:
        _open_views(_serve_opts(show=True), SimpleNamespace(classes=["Road"], palette=[(0, 0, 0)]), None, stack)
    assert "use --serve" not in str(refused.value) and "--serve shows the view in a browser" in str(refused.value)
    with pytest.raises(SinkError, match=r"use --serve HOST:PORT"), ExitStack() as stack:  # (a run without --serve)
        _open_views(SegmentOptions(input="0", live=True, show=True), None, None, stack)


def test_ctrl_c_on_a_view_only_run_that_showed_nothing_says_no_frame_was_shown_not_written():
    assert interruption(KeyboardInterrupt(), None).message == "interrupted before any frame was shown"
    assert interruption(KeyboardInterrupt(), None, writes=True).message == "interrupted before any frame was written"


@pytest.mark.timeout(60)
def test_ctrl_c_on_a_view_only_run_waiting_for_its_source_says_no_frame_came(tmp_path, rule_onnx):
    """``--live --serve`` (no -o, no --masks-dir) interrupted while its stream opens said "interrupted before any
    frame was written": it was to write none."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    url = f"http://127.0.0.1:{server.getsockname()[1]}/live.ts"
    with socket.socket() as free:  # (a port for the view: --serve takes none of the system's choosing)
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    cmd = [sys.executable, "-m", "roadseg", "segment", url, "--serve", f"127.0.0.1:{port}", "--model", str(rule_onnx)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        server.settimeout(30)
        conn, _ = server.accept()  # roadseg is now waiting for the stream to open
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
        conn.close()
    finally:
        proc.kill()
        server.close()
    assert proc.returncode == 130, err
    assert "interrupted before any frame came from the source" in err and "written" not in err, err


@pytest.mark.timeout(120)
@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is installed by .ci/run")
@pytest.mark.parametrize("latency, says", [({"p50": 5.5, "p95": 6.5}, "latency p50 5.5 ms, p95 6.5 ms (the last second)"),
                                           ({"p50": None, "p95": None}, "0.0 frames/s, no frame in the last second"),
                                           ({"p50": 5.5, "p95": 6.5}, "latency p50 5.5 ms")])
def test_the_page_says_its_latency_is_the_last_seconds(tmp_path, latency, says):
    """The page's "latency p50 500 ms" was the run's beside the last second's frames/s; it says which it is now, and
    a second without a frame is not "waiting for the first frame"."""
    shown = iter(range(1, 1000))  # (a new frame at each ask: the page does not say the source is silent)
    fps = (25.0 if latency["p50"] is not None else 0.0) if says != "latency p50 5.5 ms" else None  # (None: 1st second)
    with MjpegServer("127.0.0.1", 0, ["Road"], [(128, 64, 128)], figures=lambda: {
            "fps": fps, "frames": next(shown), "dropped": 0, "latency_ms": latency}) as server:  # fmt: skip
        dom, err = _chromium_dom(server.url, tmp_path / "profile")
    assert 'data-frames="' in dom, f"chromium printed {dom[:300]!r}; its stderr ends: {err}"  # (the script ran)
    text = dom.split('id="stats">', 1)[1].split("<", 1)[0]
    assert says in text and "waiting" not in text and (fps is not None or "frames/s" not in text), text


def _first_bytes(port: int, path: str, publish) -> bytes:
    """What a client of ``path`` gets in the 0.6 s after ``publish()`` (under AGAIN: nothing is sent again)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET %b HTTP/1.0\r\n\r\n" % path.encode())
        time.sleep(0.2)
        publish()
        got, deadline = b"", time.monotonic() + 0.6
        sock.settimeout(0.1)
        while time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                got += sock.recv(65536)
    return got.split(b"\r\n\r\n", 1)[1]  # (after the answer's headers)


@pytest.mark.timeout(30)
def test_each_picture_of_the_pages_stream_is_followed_at_once_by_the_next_parts_headers():
    """Chromium draws a part of ``multipart/x-mixed-replace`` once the next part's headers have come: the page's
    stream sent them with the next picture, so it showed every picture a picture late (a second late at a picture a
    second; a picture sent once, never). ``/view.mjpg`` sends them right after each picture; ``/stream.mjpg`` keeps
    its parts' length and X-Timestamp, the boundary right after each (as mjpg-streamer)."""
    with MjpegServer("127.0.0.1", 0, ["Road"], [(128, 64, 128)]) as server:
        def publish():
            server.publish(np.full((48, 64, 3), 90, np.uint8), captured=1234.5)
        view = _first_bytes(server.port, "/view.mjpg", publish)
        stream = _first_bytes(server.port, "/stream.mjpg", publish)
    head = b"--frame\r\nContent-Type: image/jpeg\r\n\r\n"
    assert view.startswith(head) and view.endswith(b"\xff\xd9\r\n" + head), (view[:60], view[-60:])
    assert _jpeg(view[len(head):-len(head) - 2]) is not None
    assert stream.startswith(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: ") and b"X-Timestamp: 1234.5" in stream
    assert stream.endswith(b"\xff\xd9\r\n--frame\r\n"), stream[-40:]


@pytest.mark.timeout(120)
@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is installed by .ci/run")
def test_headless_chromium_shows_a_picture_when_it_comes_not_when_the_next_begins(monkeypatch, tmp_path):
    """The page showed each picture when the next began: a picture a second late at a picture a second, and the
    last one before a source went silent, or a picture sent once, never. Here one picture is sent, and no more."""
    monkeypatch.setattr(server_module, "AGAIN", 100.0)  # (nothing sent again: the one picture alone)
    with MjpegServer("127.0.0.1", 0, ["Road"], [(128, 64, 128)]) as server:
        server.publish(np.full((120, 160, 3), (0, 230, 0), np.uint8))  # (RGB)
        shot = tmp_path / "shot.png"
        cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
               f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=3000", "--timeout=4000",
               "--window-size=400,300", f"--screenshot={shot}", server.url]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    image = cv2.imread(str(shot))
    assert image is not None, done.stderr[-2000:]
    green = ((image[..., 1] > 200) & (image[..., 2] < 60) & (image[..., 0] < 60)).sum()
    assert green == 120 * 160, green
