"""What a user's trial of the live view found: a robotics engineer who serves a camera's overlay to a browser on
another machine of the network (here: loopback only; nothing is sent anywhere else)."""

import contextlib
import http.client
import json
import logging
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import read_video, split_frames, wait_for, write_video
from servers import serving
from test_live import (
    Always,
    Twice,
    UdpCamera,
    _chromium_dom,
    _received,
    _record_served,
    _start_when_listening,
    free_port,
    signalled_once_served,
)

import roadseg.pipeline.sinks.addresses as addresses
import roadseg.pipeline.sinks.server as server
import roadseg.pipeline.sinks.window as window
from roadseg.cli import segment_video_cmd
from roadseg.errors import SinkError, StopRequested
from roadseg.pipeline.outcome import interruption
from roadseg.pipeline.sinks import MaskSink
from roadseg.pipeline.sinks.server import ServeSink
from roadseg.pipeline.sources import Frame
from roadseg.pipeline.sources.capture import first_open


@pytest.mark.timeout(30)
@pytest.mark.parametrize("host,here", [("0.0.0.0", "127.0.0.1"), ("::", "[::1]")])
def test_a_view_served_on_every_address_says_which_url_another_machine_opens(monkeypatch, caplog, host, here):
    """``--serve 0.0.0.0:8080`` said 'serving the live view at http://0.0.0.0:8080/': no address a browser on
    another machine can open (nor, on Windows, this one's)."""
    monkeypatch.setattr(addresses, "lan_address", lambda family=socket.AF_INET: "192.0.2.7")  # (the test sends nothing)
    with caplog.at_level(logging.WARNING, "roadseg"):
        sink = ServeSink(host, 0, ["Road"], [(128, 64, 128)], dict)
        port = sink.server.port
        sink.close()
    said = caplog.text
    assert f"open http://192.0.2.7:{port}/ from another machine" in said and f"http://{here}:{port}/ on this one" in said
    assert "0.0.0.0" not in said and "[::]" not in said


def test_this_machines_address_is_found_by_its_routing_table_or_is_none():
    """Without a route out (a machine with loopback only) there is no address to give, and none is made up."""
    found = addresses.lan_address()
    assert found is None or (found.count(".") == 3 and not found.startswith(("127.", "0.")))


class ClosableWindow:
    """OpenCV's window stood in for: no key is ever pressed; ``visible`` is what ``getWindowProperty`` answers for
    ``WND_PROP_VISIBLE`` at each picture (1 shown, 0 closed by its close button, -1 a backend that cannot tell)."""

    def __init__(self, monkeypatch, visible: list[float]) -> None:
        self.visible, self.shown = visible, 0
        monkeypatch.setattr(window.cv2, "namedWindow", lambda *a: None)
        monkeypatch.setattr(window.cv2, "imshow", lambda *a: setattr(self, "shown", self.shown + 1))
        monkeypatch.setattr(window.cv2, "waitKey", lambda ms: -1)
        monkeypatch.setattr(window.cv2, "destroyWindow", lambda *a: None)
        monkeypatch.setattr(window.cv2, "getWindowProperty", lambda title, prop: self.visible[self.shown - 1])

    def show(self, pictures: int) -> int:
        """Show up to ``pictures`` pictures; how many were shown before the run was asked to end."""
        sink = window.WindowSink()
        with contextlib.suppress(StopRequested):
            for _ in range(pictures):
                sink.write(np.zeros((8, 8, 3), np.uint8), None)
        sink.close()
        return self.shown


def test_closing_the_window_ends_the_run_as_q_does(monkeypatch):
    """The window's close button did nothing: OpenCV opened the window again at the next picture, and only q, Esc
    or Ctrl-C in the terminal ended the run."""
    assert ClosableWindow(monkeypatch, [1, 1, 1, 0, 0, 0]).show(6) == 4


def test_a_window_whose_backend_cannot_tell_it_is_shown_is_not_taken_for_closed(monkeypatch):
    """A backend that answers -1 (it cannot tell) from the first picture on is not asked: the run goes on."""
    assert ClosableWindow(monkeypatch, [-1] * 6).show(6) == 6


class RunGone(BaseHTTPRequestHandler):
    """The view's page, whose run then answers no request for its figures ``silent`` times (it ended, or the network
    between is down; a 503 stands in for either), and answers again after them."""

    silent, asked = 10**6, 0
    figures = {"fps": 5.0, "frames": 7, "dropped": 0, "latency_ms": {"p50": 100.0, "p95": 120.0}}

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path == "/":
            self._send(200, server.PAGE.format(legend="").encode())
        elif self.path.startswith("/stats.json") and type(self).asked >= self.silent:
            self._send(200, json.dumps(self.figures).encode())
        else:
            type(self).asked += self.path.startswith("/stats.json")
            self._send(503, b"")

    def _send(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        return None


def _view(handler: type[RunGone], profile) -> str:
    """The page's DOM as headless Chromium has it after ~3 s."""
    with serving(handler) as httpd:
        dom, err = _chromium_dom(f"http://127.0.0.1:{httpd.server_address[1]}/", profile)
    assert dom.strip(), f"chromium printed nothing; its stderr ends: {err}"
    return dom


@pytest.mark.timeout(120)
@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is installed by .ci/run")
def test_the_browser_view_says_when_its_run_stops_answering(tmp_path):
    """A run that ended (or a network gone down) left the page as it was: its last picture and figures, as if live."""
    dom = _view(type("Gone", (RunGone,), {}), tmp_path / "profile")
    assert "no answer from roadseg" in dom.split('id="stats">', 1)[1].split("<", 1)[0]


@pytest.mark.timeout(120)
@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is installed by .ci/run")
def test_the_browser_view_opens_its_picture_again_when_its_run_answers_again(tmp_path):
    """A run started again (a service manager's restart) was not shown: the picture's stream had ended for good."""
    dom = _view(type("Back", (RunGone,), {"silent": 2}), tmp_path / "profile")
    assert 'src="/view.mjpg?' in dom and "5.0 frames/s" in dom


@pytest.mark.timeout(120)
@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is installed by .ci/run")
def test_the_browser_view_asks_for_its_picture_again_when_its_stream_was_refused(tmp_path):
    """A server full of connections answers the picture's stream 503 (httpd.CLIENTS) while its figures come: the
    page showed no picture for good, its figures going on as if all were well."""
    dom = _view(type("Full", (RunGone,), {"silent": 0}), tmp_path / "profile")
    assert 'src="/view.mjpg?' in dom and "5.0 frames/s" in dom


@pytest.mark.timeout(30)
def test_each_picture_of_the_stream_says_when_its_frame_was_captured(caplog):
    """The latency a browser or a robot's client sees (capture to picture received) could not be measured: the
    stream's parts carried no time. Each now has ``X-Timestamp``, the capture's Unix time, as mjpg-streamer's."""
    sink = ServeSink("127.0.0.1", 0, ["Road"], [(128, 64, 128)], dict)
    try:
        with urllib.request.urlopen(f"{sink.server.url}stream.mjpg", timeout=5) as stream:
            sink.write(np.zeros((48, 64, 3), np.uint8), Frame(0, np.zeros((48, 64, 3), np.uint8), None, None,
                                                              captured=time.monotonic() - 0.25))  # fmt: skip
            head = b""
            while b"\r\n\r\n" not in head:
                head += stream.read1(1)
            received = time.time()
    finally:
        sink.close()
    stamps = re.findall(rb"X-Timestamp: ([0-9.]+)\r\n", head)
    assert stamps and 0.25 <= received - float(stamps[0]) < 2.0, head


@pytest.mark.timeout(30)
@pytest.mark.parametrize("path", ["/?from=robot-dashboard", "/index.html?v=2"])
def test_the_page_is_served_whatever_query_its_link_carries(path):
    """A link with a query (a dashboard's, a cache-buster) got 'not found': the page's path was compared whole."""
    with server.MjpegServer("127.0.0.1", 0, ["Road"], [(128, 64, 128)]) as view:
        with urllib.request.urlopen(f"http://127.0.0.1:{view.port}{path}", timeout=5) as page:
            assert page.status == 200 and b'src="/view.mjpg"' in page.read()


@pytest.mark.timeout(30)
def test_a_head_request_is_answered_as_its_get_is_without_a_body():
    """A HEAD (a monitor's check that the view is up, ``curl -I``) was 501, not implemented. It is GET's answer, headers
    alone: the page's and the figures' with their length, the stream's without a picture, 404 where GET's is."""
    paths = ("/", "/stats.json", "/stream.mjpg", "/nothing")
    with server.MjpegServer("127.0.0.1", 0, ["Road"], [(128, 64, 128)]) as view:
        view.publish(np.zeros((48, 64, 3), np.uint8))  # (a picture to stream: a GET of the stream sends it)
        answers = {(method, path): _answer(view.port, method, path) for path in paths for method in ("GET", "HEAD")}
        after = {path: _after_the_headers(view.port, path) for path in paths}
    for path in paths:
        (status, headers, body), head = answers["GET", path], answers["HEAD", path]
        assert head == (status, headers, b"") and body and after[path] == b"", (path, head, after[path])
    assert [answers["HEAD", p][0] for p in paths] == [200, 200, 200, 404]
    assert answers["HEAD", "/stream.mjpg"][1]["Content-Type"] == "multipart/x-mixed-replace; boundary=frame"


def _answer(port: int, method: str, path: str) -> tuple[int, dict, bytes]:
    """The status, headers (but the date) and body (a stream's first bytes) of ``method path``, by http.client."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, path)
        r = conn.getresponse()
        headers = {k: v for k, v in r.getheaders() if k != "Date"}
        return r.status, headers, r.read1(65536) if path == "/stream.mjpg" else r.read()
    finally:
        conn.close()


def _after_the_headers(port: int, path: str) -> bytes:
    """What a HEAD's answer sends after its headers, till the server ends the connection (http.client reads no body
    of a HEAD's answer, whatever comes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"HEAD {path} HTTP/1.0\r\n\r\n".encode())
        got = b""
        while chunk := sock.recv(65536):
            got += chunk
    return got.split(b"\r\n\r\n", 1)[1]


@pytest.mark.timeout(30)
def test_serving_on_another_machines_address_says_what_the_address_names():
    """``--serve`` with the browser's machine's address (where the view is to be seen, a natural guess) said only
    'Cannot assign requested address'."""
    with pytest.raises(SinkError) as refused:
        server.MjpegServer("192.0.2.254", 8080, ["Road"], [(128, 64, 128)])  # (TEST-NET-1: nobody's; nothing is sent)
    assert "192.0.2.254 is not an address of this machine" in str(refused.value)
    assert "0.0.0.0 for all of them" in str(refused.value)


@pytest.mark.timeout(30)
def test_a_taken_port_is_said_with_what_to_do():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SinkError) as refused:
            server.MjpegServer("127.0.0.1", port, ["Road"], [(128, 64, 128)])
    assert str(refused.value) == (f"cannot serve on 127.0.0.1:{port}: Address already in use (another program, or "
                                  "another roadseg, serves there: choose another port)")  # fmt: skip


@pytest.mark.timeout(60)
@pytest.mark.parametrize("sig,code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_view_only_run_stopped_by_a_signal_says_how_many_frames_it_showed(rule_onnx, tmp_path, sig, code):
    """``--serve`` (or ``--show``) without ``-o``, stopped by Ctrl-C after 251 frames were shown, said "interrupted
    before any frame was written": nothing was to be written, and frames were shown."""
    clip = write_video(tmp_path / "c.mp4", split_frames(250, h=96, w=128))  # 10 s
    returned, err = signalled_once_served([str(clip), "--model", str(rule_onnx)], sig)
    last = err.splitlines()[-1]
    assert returned == code and re.fullmatch(r"Error: interrupted after \d+ frames shown", last), err
    assert int(last.split()[3]) > 5


class SoundThenNone(Twice):
    """A camera's TS stream with sound, that drops and comes back without it (``a.ts``, then ``b.ts``); then 404."""

    def clip(self) -> Path:
        return Path(self.directory) / ("a.ts" if Twice.served == 1 else "b.ts")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("recorded", [True, False])
def test_a_reconnected_streams_other_sound_is_said_only_where_sound_is_recorded(rule_onnx, tmp_path, recorded):
    """A view-only run (``--serve``), which records nothing, said "the reconnected stream's audio is not the one
    recorded so far"."""
    write_video(tmp_path / "a.ts", split_frames(25, h=96, w=128), audio_seconds=1.0)
    write_video(tmp_path / "b.ts", split_frames(25, h=96, w=128))
    Twice.served = 0
    where = ["-o", str(tmp_path / "r.mp4")] if recorded else ["--serve", f"127.0.0.1:{free_port()}"]
    with serving(partial(SoundThenNone, directory=str(tmp_path))) as httpd:
        r = CliRunner().invoke(segment_video_cmd, [f"http://127.0.0.1:{httpd.server_address[1]}/cam.ts", "--live",
                                                   "--model", str(rule_onnx), "--retries", "1", "--retry-delay",
                                                   "0.05", "--device", "cpu", *where])  # fmt: skip
    assert r.exit_code == 1 and "gave up after 1 reconnect" in r.output and "1 reconnects" not in r.output, r.output
    assert ("the reconnected stream's audio is not the one recorded so far" in r.output) == recorded, r.output
    assert "stream back after" in r.output, r.output


@pytest.mark.timeout(30)
@pytest.mark.parametrize("where", [["--serve", "127.0.0.1:8080"], ["-o", "out.mp4"]])
def test_a_url_of_an_unknown_scheme_is_one_line_with_the_url_as_given(rule_onnx, tmp_path, where):
    """``rtps://`` (a typo) said "--show and --serve are for live input" with ``--serve``, and with ``-o`` "input not
    found: rtps:/127.0.0.1/x": a path made of the URL, a slash lost."""
    r = CliRunner().invoke(segment_video_cmd, ["rtps://127.0.0.1/x", "--model", str(rule_onnx), *where])
    assert r.exit_code == 1 and r.output == ("Error: unknown scheme 'rtps' in rtps://127.0.0.1/x; live inputs are "
                                             "rtsp://, rtsps://, rtmp://, rtmps://, http://, https://, udp://, tcp://, "
                                             "srt:// (a camera: 0 or /dev/video0)\n"), r.output  # fmt: skip


@pytest.mark.timeout(30)
def test_a_stream_url_whose_scheme_is_in_capitals_is_opened(tmp_path):
    """``RTSP://`` (or ``HTTP://``) passed as live, then failed with FFmpeg's "Protocol not found": its protocols'
    names are lower case."""
    write_video(tmp_path / "cam.ts", split_frames(10, h=96, w=128))
    with serving(partial(SimpleHTTPRequestHandler, directory=str(tmp_path))) as httpd:
        container = first_open(f"HTTP://127.0.0.1:{httpd.server_address[1]}/cam.ts")
        container.close()


def test_a_view_only_run_with_masks_not_yet_written_says_the_frames_it_showed(tmp_path):
    """``--show --masks-dir m/`` stopped before its first mask was written said "before any frame was written"."""
    masks = MaskSink(tmp_path / "masks")
    assert interruption(KeyboardInterrupt(), None, masks, shown=1).message == "interrupted after 1 frame shown"


# --- `--serve ::` on an IPv6-only socket (helper "info") ---


def _ipv6_loopback() -> bool:
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET6) as probe:
        probe.bind(("::1", 0))
        return True
    return False


@pytest.mark.timeout(30)
@pytest.mark.skipif(not _ipv6_loopback(), reason="this machine has no IPv6 loopback")
@pytest.mark.parametrize("v6only", [1, 0])
def test_serve_on_every_ipv6_address_names_urls_that_connect_where_its_socket_is_ipv6_only(monkeypatch, caplog, v6only):
    """``--serve [::]:PORT`` where the system's IPv6 sockets take no IPv4 (net.ipv6.bindv6only=1) said 'open
    http://192.168.1.20:PORT/ from another machine': an IPv4 URL that socket never answers."""
    bind = server.Http6.server_bind

    def as_the_system_says(self):  # (net.ipv6.bindv6only stood in for: the socket's own option, before its bind)
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
        bind(self)

    monkeypatch.setattr(server.Http6, "server_bind", as_the_system_says)
    lan = {socket.AF_INET: "192.0.2.7", socket.AF_INET6: "2001:db8::7"}  # (the test sends nothing to either)
    monkeypatch.setattr(addresses, "lan_address", lambda family=socket.AF_INET: lan[family])
    with caplog.at_level(logging.WARNING, "roadseg"):
        sink = ServeSink("::", 0, ["Road"], [(128, 64, 128)], dict)
    try:
        port, said = sink.server.port, caplog.text
        assert sink.server.v6only is bool(v6only) and f"http://[::1]:{port}/ on this one" in said
        with urllib.request.urlopen(f"http://[::1]:{port}/", timeout=5) as page:  # (loopback)
            assert page.status == 200
        if v6only:
            assert f"open http://[2001:db8::7]:{port}/ from another machine" in said and "192.0.2.7" not in said
            with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=5):
                pass  # (the premise: IPv4 is not answered there)
            lan[socket.AF_INET6] = None
            assert "no IPv6 address of this machine on a network was found" in addresses.where("::", port, v6only=True)
        else:  # (dual-stack: the IPv4 URL connects, as before)
            assert f"open http://192.0.2.7:{port}/ from another machine" in said
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
    finally:
        sink.close()


def test_serve_finds_this_machines_ipv6_address_by_its_routing_table_or_none():
    found = addresses.lan_address(socket.AF_INET6)
    assert found is None or (":" in found and found != "::1" and not found.startswith("fe80:"))


@pytest.mark.timeout(60)
def test_a_camera_gone_longer_than_the_retries_take_is_waited_for_with_retries_forever(rule_onnx, tmp_path):
    """An unattended recorder's camera gone for a minute (a car parked, a Wi-Fi camera rebooting) ended the run: 5
    reconnects were the most, and no count said "for ever". Here 5 attempts take some 7.5 s; the camera is gone 9."""
    camera = UdpCamera(free_port(), before=1.5, pause=9.0, seconds=30)
    out = tmp_path / "r.mp4"
    r = _received(camera, 0.0, rule_onnx, out, "--max-frames", "50", "--retries", "forever", "--retry-delay", "0.05",
                  "--stream-timeout", "1", "-q")  # fmt: skip
    assert r.exit_code == 0 and "gave up" not in r.output, r.output
    assert "reconnecting in 1.6 s (attempt 6, for ever: Ctrl-C stops)" in r.output, r.output
    back = re.search(r"stream back after (\d+\.\d) s without pictures", r.output)
    assert back and 8.0 <= float(back[1]) < 14.0, r.output
    seconds = read_video(out)["seconds"]
    assert len(seconds) == 50 and max(b - a for a, b in zip(seconds, seconds[1:])) > 8.0  # (the gap, kept)


@pytest.mark.timeout(60)
def test_ctrl_c_while_retrying_for_ever_ends_promptly_with_a_playable_recording(rule_onnx, tmp_path):
    """A run that reconnects for ever ends only by a signal (or --duration, --max-frames): one that comes while it
    waits to reconnect ends it within the 2 s promised, the recording finalised."""
    camera = UdpCamera(free_port(), before=1.0, pause=120, seconds=120)
    out = tmp_path / "r.mp4"
    script = "import sys; from roadseg.cli import segment_video_cmd; segment_video_cmd(sys.argv[1:])"
    proc = subprocess.Popen([sys.executable, "-c", script, f"udp://127.0.0.1:{camera.port}", "--model", str(rule_onnx),
                             "-o", str(out), "--retries", "forever", "--retry-delay", "0.05", "--stream-timeout", "1",
                             "--device", "cpu", "-q"], stderr=subprocess.PIPE, text=True)  # fmt: skip
    said: list[str] = []
    reader = threading.Thread(target=lambda: said.extend(proc.stderr), daemon=True)
    reader.start()
    try:
        _start_when_listening(camera)
        assert wait_for(lambda: "(attempt 4, for ever" in "".join(said), timeout=40, fail=False), "".join(said)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
        took = time.monotonic() - t0
    finally:
        camera.halt.set()
        proc.kill()
    reader.join(5)
    assert proc.returncode == 130 and took < 2.0, (took, "".join(said))
    assert "recording finalised" in "".join(said) and read_video(out)["frames"], "".join(said)


@pytest.mark.parametrize("given,said", [
    (["--retries", "often"], "Error: Invalid value for '--retries': 'often' is not a count of reconnects (0, 1, 2, "
                             "...) or 'forever'"),
    (["--retries", "forever", "--retry-delay", "0"], "Error: --retries forever (retries=None) needs a --retry-delay "
                                                     "above 0 (not a busy loop), not 0.0"),
])  # fmt: skip
def test_retries_that_are_no_count_nor_forever_are_refused_in_one_line(rule_onnx, given, said):
    r = CliRunner().invoke(segment_video_cmd, ["udp://127.0.0.1:9", "-o", "r.mp4", "--model", str(rule_onnx), *given])
    assert r.exit_code in (1, 2) and r.output.strip().splitlines()[-1] == said, r.output
    assert "Traceback" not in r.output


@pytest.mark.timeout(60)
def test_a_file_served_without_a_length_is_not_recorded_for_ever_by_retries_forever(rule_onnx, tmp_path):
    """A file a web server sends without a length begins again from its start at each reconnect: --retries forever
    recorded it again and again, for ever. It is reopened as often as the default count allows, 5 times."""
    write_video(tmp_path / "clip.ts", split_frames(20, h=96, w=128))
    r, out = _record_served(Always, tmp_path, rule_onnx, retries="forever")  # type: ignore[arg-type]
    assert r.exit_code == 1 and "gave up after 5 reconnects; recording finalised" in r.output, r.output
    assert "at most 5 times (--retries forever)" in r.output, r.output
    assert len(read_video(out)["frames"]) <= 6 * 20


# --- a browser on a slow link (helper "liveview") ---


def _ages_seen_by_a_slow_reader(view: server.MjpegServer, rate: float, seconds: float) -> list[float]:
    """How old (s, by its ``X-Timestamp``) each picture of the stream was when a client that reads ``rate`` bytes a
    second (slower than they come: a browser on a weak Wi-Fi link) got it, over ``seconds``."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)  # (before connecting: its window is set then)
        sock.settimeout(5)
        sock.connect(("127.0.0.1", view.port))
        sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: robot\r\n\r\n")
        got, buf, ages, t0 = 0, b"", [], time.monotonic()
        while (elapsed := time.monotonic() - t0) < seconds:
            time.sleep(max(0.0, got / rate - elapsed))
            chunk = sock.recv(2048)
            got, buf = got + len(chunk), buf + chunk
            while (i := buf.find(b"X-Timestamp: ")) >= 0 and (j := buf.find(b"\r\n", i)) >= 0:
                ages.append(time.time() - float(buf[i + 13 : j]))
                buf = buf[j:]
            buf = buf[-64:]
    return ages


@pytest.mark.timeout(30)
def test_a_browser_on_a_slow_link_sees_pictures_a_moment_old_not_ever_older():
    """A viewer that reads slower than the pictures come (a laptop on weak Wi-Fi) was sent every picture the system
    would queue for it: megabytes of them, so that what it showed was 10 s old after 15 s, and ever older, while the
    page's latency said a few ms. It is sent the newest picture once it has taken the last."""
    rng = np.random.default_rng(0)
    pictures = [rng.integers(0, 256, (48, 64, 3), np.uint8) for _ in range(8)]  # (noise: ~8 KB each as JPEG)
    halt = threading.Event()

    def camera(view: server.MjpegServer) -> None:  # 50 pictures a second, ~400 KB/s
        for n in range(10**6):
            if halt.wait(0.02):
                return
            view.publish(pictures[n % len(pictures)], captured=time.time())

    with server.MjpegServer("127.0.0.1", 0, ["Road"], [(128, 64, 128)]) as view:
        feeder = threading.Thread(target=camera, args=(view,), daemon=True)
        feeder.start()
        try:
            ages = _ages_seen_by_a_slow_reader(view, rate=40_000, seconds=5.0)
        finally:
            halt.set()
            feeder.join(5)
    assert len(ages) > 10 and max(ages[-5:]) < 1.5, [round(a, 2) for a in ages]


def test_show_without_a_display_says_so_with_an_opencv_that_has_a_gui(monkeypatch):
    """``--show`` in an ssh session (no DISPLAY) with ``opencv-python``, Qt's build: Qt ended the process (SIGABRT,
    "could not connect to display"), and an OpenCV of GTK's said to install the GUI build it has. It is one line."""
    opened = []
    monkeypatch.setattr(window.cv2, "getBuildInformation", lambda: "  GUI:                           QT5\n")
    monkeypatch.setattr(window.cv2, "namedWindow", lambda *a: opened.append(a))  # (Qt's: abort(), the run gone)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(window.sys, "platform", "linux")
    with pytest.raises(SinkError) as refused:
        window.WindowSink()
    assert "--show needs a display" in str(refused.value) and "--serve HOST:PORT" in str(refused.value)
    assert opened == []
    monkeypatch.setenv("DISPLAY", ":0")  # (with one, the window is opened as before)
    window.WindowSink().close()
    assert len(opened) == 1


@pytest.mark.timeout(30)
@pytest.mark.parametrize("path", ["/stream.mjpg", "/", "/stats.json"])
def test_a_browser_gone_before_it_is_answered_prints_no_traceback(capfd, path):
    """A client that resets its connection once it has asked (a page reloaded at once, a phone's Wi-Fi dropping, a
    monitor's timeout) printed socketserver's traceback, 25 lines, onto the run's terminal: 99 of them for 100."""
    with server.MjpegServer("127.0.0.1", 0, ["Road"], [(128, 64, 128)]) as view:
        view.publish(np.zeros((48, 64, 3), np.uint8))
        for _ in range(10):
            with socket.create_connection(("127.0.0.1", view.port), timeout=5) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # (close: a reset)
                sock.sendall(f"GET {path} HTTP/1.1\r\nHost: robot\r\n\r\n".encode())
        time.sleep(0.5)  # (the handlers' writes fail)
        with urllib.request.urlopen(f"http://127.0.0.1:{view.port}/stats.json", timeout=5) as answer:
            assert answer.status == 200  # (and the view is still served)
    assert "Traceback" not in capfd.readouterr().err


def test_the_legend_keeps_each_swatch_on_the_line_of_its_name():
    """In a window narrower than the legend (800 px, the shipped model's 11 classes) the last swatch ended one line
    and its name, Bicyclist, began the next: each swatch and its name are now one piece, broken between, not within."""
    names, colours = ["Sky", "Road", "Bicyclist"], [(128, 128, 128), (128, 64, 128), (0, 128, 192)]
    with server.MjpegServer("127.0.0.1", 0, names, colours) as view:
        text = view.page.decode()
    assert ".cls{white-space:nowrap}" in text
    for name, colour in zip(names, colours):
        assert f'<span class="cls"><span class="sw" style="background:rgb{colour}"></span>{name}</span>' in text


@pytest.mark.timeout(120)
@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is installed by .ci/run")
def test_the_browser_view_says_when_its_source_sends_no_picture(tmp_path):
    """A camera or stream lost mid-run (its server killed; the run reconnecting for 15 s) left the page showing its
    last picture under "0.0 frames/s, latency p50 4.2 ms, p95 15.0 ms, 83 frames shown": figures of a live view. A
    count that stays 3 s is said: no new picture for so long."""
    still = type("Still", (RunGone,), {"silent": 0})  # (the run answers; its count of frames stays at 7)
    with serving(still) as httpd:
        cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000",
               "--timeout=7000", "--dump-dom", f"http://127.0.0.1:{httpd.server_address[1]}/"]  # fmt: skip
        dom = subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout
    text = dom.split('id="stats">', 1)[1].split("<", 1)[0] if 'id="stats">' in dom else dom[:300]
    assert re.fullmatch(r"no new picture for [3-9] s \(the camera or stream sends none; the run's terminal says "
                        r"whether it reconnects\), 7 frames shown, 0 dropped", text), text  # fmt: skip


@pytest.mark.timeout(30)
def test_a_stream_whose_source_is_silent_sends_its_latest_picture_again():
    """A browser shows a part of the stream once the next one begins: a page opened while the source sent nothing (a
    camera lost, its run reconnecting) showed no picture at all, its last one sent once and never shown."""
    with server.MjpegServer("127.0.0.1", 0, ["Road"], [(128, 64, 128)]) as view:
        view.publish(np.zeros((48, 64, 3), np.uint8), captured=1234.5)
        with urllib.request.urlopen(f"{view.url}stream.mjpg", timeout=5) as stream:
            got, t0 = b"", time.monotonic()
            while got.count(b"X-Timestamp: 1234.5") < 2 and time.monotonic() - t0 < 3.0:
                got += stream.read1(65536)
            took = time.monotonic() - t0
    assert got.count(b"X-Timestamp: 1234.500000\r\n") == 2 and took < 2.0, (took, got[:200])


@pytest.mark.timeout(120)
@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is installed by .ci/run")
def test_the_browser_view_opened_while_its_source_is_silent_shows_its_last_picture(tmp_path):
    with server.MjpegServer("127.0.0.1", 0, ["Road"], [(128, 64, 128)]) as view:
        view.publish(np.full((48, 64, 3), 200, np.uint8), captured=time.time())  # (and none after it)
        dom, err = _chromium_dom(view.url, tmp_path / "profile")
    assert 'data-loaded="1"' in dom, f"chromium printed {dom[:300]!r}; its stderr ends: {err}"
