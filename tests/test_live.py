"""The live path without a camera: --live files, a local HTTP stream, stand-in captures, a real browser."""

import contextlib
import io
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime, timezone
from fractions import Fraction
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import (
    encode_pictures,
    matroska_blocks,
    read_video,
    sound_late,
    sound_spans,
    split_frames,
    wait_for,
    with_b_frames,
    write_video,
)
from fuzzing import PTS_HZ, adts_merged, pes_headers, pes_moved, restamped
from servers import serving
from test_raw_streams import _untimed_sps

import roadseg.pipeline.sinks.window as window
import roadseg.pipeline.sources.boxes as boxes
import roadseg.pipeline.sources.capture as capture
import roadseg.pipeline.sources.decoder as decoder
import roadseg.pipeline.sources.opening as opening
import roadseg.pipeline.sources.pacing as pacing
from roadseg.cli import segment_video_cmd
from roadseg.errors import ArgumentError
from roadseg.pipeline import SegmentOptions, run
from roadseg.pipeline.options import STREAM_TIMEOUT
from roadseg.pipeline.queues import LatestQueue
from roadseg.pipeline.session import OnnxSegmenter
from roadseg.pipeline.sources import Frame, VideoSource, capture_args
from roadseg.pipeline.writer import Writer


def run_live(spec: str, **options) -> dict:
    """The one run with ``spec`` as a live source; its stats as a dict."""
    return run(SegmentOptions(spec, live=True, **options)).as_dict()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def clip(tmp_path):
    return write_video(tmp_path / "clip.mp4", split_frames(50, h=96, w=128),
                       metadata={"creation_time": "2019-06-01T08:30:00.000000Z"})  # 2 s at 25 fps  # fmt: skip


def test_live_file_is_paced_and_recorded_with_wall_clock_timestamps(clip, rule_onnx, tmp_path, every_frame_taken):
    out = tmp_path / "rec.mp4"
    t0 = time.monotonic()
    stats = run_live(str(clip), model=str(rule_onnx), output=str(out), device="cpu")
    assert 1.8 < time.monotonic() - t0 < 6  # real-time pacing: a 2 s clip takes about 2 s
    v = read_video(out)
    assert len(v["frames"]) == stats["frames"] > 20
    assert v["seconds"][-1] == pytest.approx(1.96, abs=0.4)
    assert stats["latency_ms"]["p95"] is not None and stats["kind"] == "file"
    with av.open(str(out)) as c:  # when the recording was made, not when the file it played was
        made = datetime.fromisoformat(c.metadata["creation_time"].replace("Z", "+00:00"))
    assert abs((datetime.now(timezone.utc) - made).total_seconds()) < 60


class WatchedSlot(LatestQueue):
    """The run's newest-frame slot, watched: at every take (under the queue's own lock, so no race with the
    source's put), the index of the frame taken and of the newest frame the source had delivered by then,
    and the most frames it ever held."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.newest, self.most, self.takes = -1, 0, []

    def _put(self, item) -> None:
        super()._put(item)
        if isinstance(item, Frame):
            self.newest = item.index
            self.most = max(self.most, sum(isinstance(w, Frame) for w in self.queue))

    def _get(self):
        item = super()._get()
        if isinstance(item, Frame):
            self.takes.append((item.index, self.newest))
        return item


@pytest.mark.timeout(60)
def test_newest_frame_policy_keeps_latency_bounded_when_inference_is_slow(rule_onnx, tmp_path, monkeypatch):
    """Latency is bounded because inference only ever takes the newest frame: told in frames, not milliseconds
    (on a loaded machine the sleep, the decode and the model all run late, and a bound in ms failed there
    with the policy working: the frames taken were still the newest)."""
    src = write_video(tmp_path / "fast.mp4", split_frames(150, h=96, w=128), fps=Fraction(50))  # 3 s at 50 fps
    real = OnnxSegmenter.predict
    monkeypatch.setattr(OnnxSegmenter, "predict", lambda self, frames: (time.sleep(0.1), real(self, frames))[1])  # inference at
    # 10 frames/s at most, the camera at 50
    run_module = sys.modules["roadseg.pipeline.run"]  # (the package's ``run`` is the function)
    slots: list[WatchedSlot] = []
    monkeypatch.setattr(run_module, "LatestQueue", lambda *a, **k: slots.append(WatchedSlot(*a, **k)) or slots[-1])
    shown: list[int] = []
    write = Writer.write
    monkeypatch.setattr(Writer, "write", lambda self, frame: (shown.append(frame.index), write(self, frame))[1])
    stats = run_live(str(src), model=str(rule_onnx), output=str(tmp_path / "r.mp4"), device="cpu")
    assert stats["dropped"] > 60 and stats["drop_rate"] > 0.5
    (slot,) = slots
    assert slot.most == 1 and len(slot.takes) == stats["frames"] == len(shown)
    # each frame inference took was the newest the source had delivered: 0 frames behind, however slow the run
    assert [newest - taken for taken, newest in slot.takes] == [0] * len(slot.takes)
    assert shown == [taken for taken, _ in slot.takes] and shown == sorted(set(shown))  # shown as taken, in order
    assert stats["latency_ms"]["p50"] >= 100  # (the latency counts from capture: a frame's inference is in it)


def spans(path) -> dict[str, tuple[int, float, float]]:
    """Per stream type of an MP4: (packets, first time, end time) in seconds; the sound's from its packets, the
    picture's from the first shown to where the file says the video ends (:func:`shown_until`)."""
    times: dict[str, list[tuple[float, float]]] = {"video": [], "audio": []}
    with av.open(str(path)) as c:  # (a packet is read while its container is open)
        for p in c.demux():
            if p.pts is not None and p.stream.type in times:
                times[p.stream.type].append((float(p.pts * p.time_base), float((p.pts + (p.duration or 0)) * p.time_base)))
    got = {kind: (len(t), t[0][0], t[-1][1]) for kind, t in times.items() if t}
    if "video" in got:
        got["video"] = (len(times["video"]), min(times["video"])[0], shown_until(path))
    return got


def shown_until(path) -> float:
    """Where an MP4's video ends as it plays, in seconds: the sum of its video track's edit list's segments (the
    muxer rounds it up to the movie's millisecond). Its packets do not tell: with B-frames the picture shown last is
    not always the last one stored (a loaded run's recording, 1 in 6: its end read 0.08 to 0.16 s short), and MP4 keeps
    each picture's duration as the step to the next one's decoding time, so the one shown last reads as long as the
    step between two others (0.08 s, where it was shown for 0.04 s)."""
    with open(path, "rb") as f:
        moov = _inside(f, *next((pos, size) for kind, pos, size in boxes._boxes(f, 0, f.seek(0, 2)) if kind == b"moov"))
        movie_scale = struct.unpack(">I", _field(f, moov[b"mvhd"][0], 8, 4))[0]  # (version 0: FFmpeg's for < 2**32)
        for trak in moov[b"trak"]:
            inner = _inside(f, *trak)
            if _field(f, _inside(f, *inner[b"mdia"][0])[b"hdlr"][0], 4, 4) == b"vide":
                elst = _inside(f, *inner[b"edts"][0])[b"elst"][0]
                (count,) = struct.unpack(">I", _field(f, elst, 0, 4))
                entries = _field(f, elst, 4, 12 * count)  # (version 0: duration, media time, rate; 4 bytes each)
                return sum(struct.unpack_from(">I", entries, 12 * i)[0] for i in range(count)) / movie_scale
    raise AssertionError(f"{path}: no video track")


def _inside(f, pos: int, size: int) -> dict[bytes, list[tuple[int, int]]]:
    """The boxes directly inside the MP4 box at ``pos`` (``size`` bytes), by kind: [(position, size)]."""
    found: dict[bytes, list[tuple[int, int]]] = {}
    for kind, at, n in boxes._boxes(f, pos + 8, pos + size, first_known=False):
        found.setdefault(kind, []).append((at, n))
    return found


def _field(f, box: tuple[int, int], offset: int, size: int) -> bytes:
    """``size`` bytes of the full MP4 box ``box`` (position, size), from ``offset`` after its version and flags;
    the box must be of version 0 (32-bit times)."""
    f.seek(box[0] + 8)
    head = f.read(4 + offset + size)
    assert head[0] == 0 and len(head) == 4 + offset + size, f"box at {box[0]}: version {head[0]}, or cut short"
    return head[4 + offset :]


def test_spans_end_a_b_framed_video_where_its_last_picture_is_shown_to(tmp_path):
    """25 pictures at 25 fps with B-frames: the last shown (at 0.96 s) is stored before the two B-frames shown before
    it, and the video ends 0.04 s after it (was: the end of the last one stored, 0.96 s, read as the end)."""
    path = with_b_frames(tmp_path / "b.mp4", 25)
    with av.open(str(path)) as c:
        stored = [float(p.pts * p.time_base) for p in c.demux(video=0) if p.pts is not None]
    assert stored[-1] < max(stored) == pytest.approx(0.96)  # (the case: the last stored is not the last shown)
    frames, first, end = spans(path)["video"]
    assert frames == 25 and first == 0.0 and 1.0 <= end < 1.0 + 1e-3


@pytest.mark.timeout(60)
def test_a_recording_keeps_the_sound_whole_while_frames_are_dropped(rule_onnx, tmp_path, monkeypatch):
    src = write_video(tmp_path / "fast.mp4", split_frames(150, h=96, w=128), fps=Fraction(50),
                      audio_seconds=3.0)  # 3 s at 50 fps, 3 s of sound in 141 AAC packets  # fmt: skip
    real = OnnxSegmenter.predict
    monkeypatch.setattr(OnnxSegmenter, "predict", lambda self, frames: (time.sleep(0.1), real(self, frames))[1])
    written: list[float] = []  # (the stream time of each frame recorded)
    write = Writer.write
    monkeypatch.setattr(Writer, "write", lambda self, frame: (written.append(frame.time), write(self, frame))[1])
    out = tmp_path / "rec.mp4"
    stats = run_live(str(src), model=str(rule_onnx), output=str(out), device="cpu")
    assert stats["dropped"] > 60 and stats["audio_streams"] == 1 and stats["audio_dropped"] == 0
    got = spans(out)
    frames, v_start, v_end = got["video"]
    packets, a_start, a_end = got["audio"]
    assert frames == stats["frames"] < 90
    with av.open(str(src)) as c:
        heard = [float(p.pts * p.time_base) for p in c.demux(audio=0) if p.size]
    # every packet from the recording's first frame on (141 of 142, the first before it; where a busy machine's model
    # came late to its first frames, the slot skipped them and the sound before the first recorded is not recorded)
    assert packets == sum(t >= written[0] - 1e-6 for t in heard), (packets, written[0])
    end = 3.0 - written[0]  # (the clip's end, in the recording's time: from its first frame)
    assert abs(a_start - v_start) < 0.05 and a_end == pytest.approx(end, abs=0.1)
    assert v_end == pytest.approx(end, abs=0.2)  # (the last frame kept is one of the last)
    silent = tmp_path / "silent.mp4"
    run_live(str(src), model=str(rule_onnx), output=str(silent), device="cpu", no_audio=True, max_frames=5)
    assert "audio" not in spans(silent)


class Multipart(SimpleHTTPRequestHandler):
    """An IP camera's MJPEG over HTTP: 20 JPEGs at 10 frames/s (the format has no timestamps)."""

    interval = 0.1

    def do_GET(self) -> None:
        jpeg = cv2.imencode(".jpg", np.zeros((96, 128, 3), np.uint8))[1].tobytes()
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        with contextlib.suppress(OSError):
            for _ in range(20):
                self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%b\r\n"
                                 % (len(jpeg), jpeg))  # fmt: skip
                self.wfile.flush()
                time.sleep(self.interval)

    def log_message(self, *a) -> None:
        return None


@pytest.mark.timeout(60)
def test_a_stream_without_timestamps_of_its_own_is_recorded_by_arrival(rule_onnx, tmp_path, every_frame_taken):
    """FFmpeg numbers an MJPEG-over-HTTP stream's frames at a made-up 25 fps: timed by those, 1.2 s of a
    10 frames/s camera played in 0.6 s."""
    with serving(Multipart) as httpd:
        out = tmp_path / "cam.mp4"
        stats = run_live(f"http://127.0.0.1:{httpd.server_address[1]}/", model=str(rule_onnx), output=str(out),
                         device="cpu", max_frames=15)  # fmt: skip
    frames, _, end = spans(out)["video"]
    assert frames == stats["frames"] == 15 and end == pytest.approx(1.2, abs=0.25)  # (its first 3 come at once)


@pytest.mark.timeout(60)
def test_sound_that_waits_past_the_bound_is_dropped_counted_and_said(rule_onnx, tmp_path, monkeypatch, caplog):
    """Every queue is bounded, the audio's beside a newest-frame slot too: here 4 packets, while each
    inference takes 0.3 s (14 packets of sound)."""
    import sys

    from roadseg.pipeline.queues import LatestQueue

    run_module = sys.modules["roadseg.pipeline.run"]  # (the package's ``run`` is the function)

    src = write_video(tmp_path / "a.mp4", split_frames(25, h=96, w=128), audio_seconds=1.0)
    real = OnnxSegmenter.predict
    monkeypatch.setattr(OnnxSegmenter, "predict", lambda self, frames: (time.sleep(0.3), real(self, frames))[1])
    monkeypatch.setattr(run_module, "LatestQueue", partial(LatestQueue, max_kept=4))
    stats = run_live(str(src), model=str(rule_onnx), output=str(tmp_path / "rec.mp4"), device="cpu")
    assert stats["audio_dropped"] > 10
    assert f"dropped {stats['audio_dropped']} audio packets that waited while the recording fell behind" in caplog.text
    assert "damaged audio" not in caplog.text


def _get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


def _serve_in_background(clip, rule_onnx, port, **kw):
    result = {}
    opts = dict(model=str(rule_onnx), serve=("127.0.0.1", port), device="cpu", **kw)
    t = threading.Thread(target=lambda: result.update(run_live(str(clip), **opts)), daemon=True)
    t.start()
    served = wait_for(lambda: json.loads(_quiet_get(f"http://127.0.0.1:{port}/stats.json") or b"{}").get("frames", 0)
                      or not t.is_alive(), 30, fail=False)  # fmt: skip
    assert served and t.is_alive(), f"the live view showed no frame within 30 s (the run {result or 'still ran'})"
    return t, result


@pytest.mark.timeout(60)
def test_serve_page_and_mjpeg_stream_deliver_fresh_jpegs(rule_onnx, tmp_path):
    clip = write_video(tmp_path / "c.mp4", split_frames(100, h=96, w=128))  # 4 s
    port = free_port()
    t, result = _serve_in_background(clip, rule_onnx, port)
    page = _get(f"http://127.0.0.1:{port}/").decode()
    assert '<img id="view" src="/view.mjpg"' in page and "Road" in page and "Bicyclist" in page
    stalled = socket.create_connection(("127.0.0.1", port))  # a browser that never reads
    stalled.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stream.mjpg", timeout=5) as r:
        assert r.headers["Content-Type"] == "multipart/x-mixed-replace; boundary=frame"
        data = b""
        while data.count(b"--frame") < 4:
            data += r.read1(65536)
    parts = [p for p in data.split(b"--frame") if b"\r\n\r\n" in p]
    jpeg = parts[1].split(b"\r\n\r\n", 1)[1]
    img = cv2.imdecode(np.frombuffer(jpeg[: jpeg.rfind(b"\xff\xd9") + 2], np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == (96, 128, 3)
    stats = json.loads(_get(f"http://127.0.0.1:{port}/stats.json"))
    assert stats["frames"] > 0 and stats["latency_ms"]["p50"] > 0
    t.join(15)  # the clip ends by itself: the stalled browser did not hold the pipeline
    assert not t.is_alive() and result["frames"] > 20
    stalled.close()


@pytest.mark.timeout(60)
@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6 here")
def test_serve_on_an_ipv6_address_in_brackets(rule_onnx, tmp_path):
    clip = write_video(tmp_path / "c.mp4", split_frames(50, h=96, w=128))  # 2 s
    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        port = s.getsockname()[1]
    result = {}
    t = threading.Thread(target=lambda: result.update(r=CliRunner().invoke(
        segment_video_cmd, [str(clip), "--live", "--serve", f"[::1]:{port}", "--model", str(rule_onnx), "-q"])))  # fmt: skip
    t.start()
    got = wait_for(lambda: _quiet_get(f"http://[::1]:{port}/stats.json") or not t.is_alive(), timeout=20)
    t.join(20)
    r = result["r"]  # (was: "Error: cannot serve on [::1]:PORT: Name or service not known")
    assert r.exit_code == 0 and f"serving the live view at http://[::1]:{port}/" in r.output, r.output
    assert "latency_ms" in json.loads(got)


def _quiet_get(url: str) -> bytes | None:
    try:
        return _get(url, 1)
    except OSError:
        return None


def signalled_once_served(args: list[str], sig: str, *, frames: int = 5) -> tuple[int, str]:
    """Run ``roadseg segment ARGS --live --serve 127.0.0.1:PORT --device cpu -q`` in its own process, send it ``sig``
    (``SIGINT``, ``SIGTERM``) once its view has served more than ``frames`` frames; its exit code and standard error."""
    import signal

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "roadseg", "segment", *args, "--live", "--serve", f"127.0.0.1:{port}",
                             "--device", "cpu", "-q"], stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        wait_for(lambda: json.loads(_quiet_get(f"http://127.0.0.1:{port}/stats.json") or b"{}").get("frames", 0) > frames,
                 timeout=30)  # fmt: skip
        proc.send_signal(getattr(signal, sig))
        _, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
    return proc.returncode, err


def _chromium_dom(url: str, profile) -> tuple[str, str]:
    """What headless Chromium's --dump-dom prints for ``url`` after ~3 s, and the tail of its stderr."""
    cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--virtual-time-budget=3000",
           "--timeout=4000", "--dump-dom", url]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    return done.stdout, done.stderr[-2000:]


@pytest.mark.timeout(120)
@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is installed by .ci/run")
def test_headless_chromium_shows_the_live_view(rule_onnx, tmp_path):
    clip = write_video(tmp_path / "c.mp4", split_frames(200, h=96, w=128))  # 8 s
    # A browser that dies before it prints anything (seen once in CI: an empty --dump-dom) is the
    # machine's, not the page's: it gets a second try on a run of its own; a page that loads but shows
    # nothing fails at once.
    for attempt in (1, 2):
        port = free_port()
        t, _ = _serve_in_background(clip, rule_onnx, port)
        dom, err = _chromium_dom(f"http://127.0.0.1:{port}/", tmp_path / f"profile{attempt}")
        t.join(15)
        if dom.strip():
            break
    assert 'data-loaded="1"' in dom, f"chromium printed {dom[:300]!r}; its stderr ends: {err}"  # the <img> decoded a JPEG
    assert "frames/s" in dom and 'data-frames="' in dom  # the stats line was filled by the page's script


class Counted(SimpleHTTPRequestHandler):
    """A file server that notes the path of every request."""

    paths: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        Counted.paths.append(self.path)
        super().do_GET()

    def log_message(self, *a) -> None:
        return None


def test_a_file_served_over_http_is_read_as_a_file(rule_onnx, tmp_path):
    # a URL of a whole file (it has a length): every frame and the audio, as for a local file; read as
    # a live stream, 2 of the sample clip's 38 frames came through, and no audio
    write_video(tmp_path / "clip.mp4", split_frames(40, h=96, w=128), audio_seconds=1.6,
                options={"movflags": "faststart"})  # fmt: skip
    Counted.paths = []
    with serving(partial(Counted, directory=str(tmp_path))) as httpd:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/clip.mp4"
        stats = run(SegmentOptions(url, output=str(tmp_path / "r.mp4"), model=str(rule_onnx), quiet=True)).as_dict()
        forced = run_live(url, model=str(rule_onnx), output=str(tmp_path / "l.mp4"), device="cpu")
    assert stats["kind"] == "file" and stats["frames"] == 40 and stats["audio_streams"] == 1
    assert Counted.paths == ["/clip.mp4", "/clip.mp4"]  # one request a run: the look at it is the source
    v = read_video(tmp_path / "r.mp4")
    assert len(v["frames"]) == 40 and len(v["audio"]) == 1
    assert forced["kind"] == "stream"  # --live (or --show, --serve) still plays it as a camera would


class CutOnce(SimpleHTTPRequestHandler):
    """Serves the first request half-way and then hangs up; later requests find nothing (404)."""

    served = 0

    def do_GET(self) -> None:  # noqa: N802
        CutOnce.served += 1  # (roadseg's look at whether it is a file, no length: live, is the stream itself)
        if CutOnce.served > 1:
            self.send_error(404)
            return
        data = (self.directory and open(f"{self.directory}/clip.ts", "rb").read()) or b""
        self.send_response(200)
        self.send_header("Content-Type", "video/mp2t")
        self.end_headers()  # no length: like a live stream
        self.wfile.write(data[: len(data) // 2])
        self.close_connection = True

    def log_message(self, *a) -> None:
        return None


@pytest.mark.timeout(60)
def test_dropped_stream_is_retried_with_backoff_then_reported(rule_onnx, tmp_path):
    write_video(tmp_path / "clip.ts", split_frames(80, h=96, w=128), codec="mpeg4")
    CutOnce.served = 0
    out = tmp_path / "r.mp4"
    stats = tmp_path / "stats.json"
    with serving(partial(CutOnce, directory=str(tmp_path))) as httpd:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/live.ts"
        r = CliRunner().invoke(segment_video_cmd, [url, "--model", str(rule_onnx), "-o", str(out), "--retries", "2",
                                                   "--retry-delay", "0.05", "--device", "cpu", "--stats", str(stats)])  # fmt: skip
    assert r.exit_code == 1, r.output
    assert r.output.count("reconnecting in") == 2  # the user sees each attempt
    assert "gave up after 2 reconnects" in r.output and "recording finalised" in r.output
    assert len(read_video(out)["frames"]) >= 1
    assert f"statistics written to {stats}" in r.output  # (was: none, for a run that did not end well)
    assert json.loads(stats.read_text())["frames"] == len(read_video(out)["frames"])


class Twice(SimpleHTTPRequestHandler):
    """A live TS stream that breaks off twice: each request gets the whole clip, faster than real time
    (a server catching up on what it buffered); the third finds nothing (404)."""

    served = 0  # (requests so far, of this class and those built on it)

    def do_GET(self) -> None:  # noqa: N802
        Twice.served += 1
        if Twice.served > 2:
            self.send_error(404)
            return
        data = self.clip().read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "video/mp2t")
        self.end_headers()  # no length: like a live stream
        self.send(data)
        self.close_connection = True

    def clip(self) -> Path:
        return Path(self.directory) / "clip.ts"

    def send(self, data: bytes) -> None:
        for i in range(0, len(data), 188 * 40):
            self.wfile.write(data[i : i + 188 * 40])
            self.wfile.flush()
            time.sleep(0.05)

    def log_message(self, *a) -> None:
        return None


class LateSlot(LatestQueue):
    """The run's newest-frame slot, first taken from ``late`` seconds after it is first asked (a model that comes to
    its first frame late, on a loaded machine: the frames before are skipped)."""

    def __init__(self, late: float, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.late = late

    def get(self, *args, **kwargs):
        time.sleep(self.late)
        self.late = 0.0
        return super().get(*args, **kwargs)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("slow_start", "codec"), [(0.0, "libx264"), (0.2, "libx264"), (0.0, "libx265")])
def test_a_reconnected_streams_picture_and_sound_go_on_after_what_was_recorded(rule_onnx, tmp_path, monkeypatch,
                                                                                slow_start, codec):  # fmt: skip
    """Each connection's clock starts afresh; one that came faster than real time ran the recording's
    clock ahead of arrival. Timed by arrival alone, the second connection's frames went back over the
    first's and most of its sound was refused: 118 of 188 audio packets, ending at 2.5 s of 3.6 s of picture.
    ``slow_start``: seconds the model takes to come to its first frame (a loaded machine's), the first ones skipped.
    Each connection is lost (FFmpeg reads the end of a response without a length as an I/O error), not ended: the
    pictures its decoder held were never handed on, 2 of each connection's 50 with HEVC's B-frames (``codec``)."""
    clip = write_video(tmp_path / "clip.ts", split_frames(50, h=96, w=128), codec=codec,
                       audio_seconds=2.0)  # 2 s, 95 AAC packets  # fmt: skip
    with av.open(str(clip)) as c:  # (the sound from 0, the pictures from 0.021 s: a TS's offset)
        heard = [float(p.pts * p.time_base) for p in c.demux(audio=0) if p.size]
    with av.open(str(clip)) as c:
        shown = sorted(float(p.pts * p.time_base) for p in c.demux(video=0) if p.size)
    monkeypatch.setattr(sys.modules["roadseg.pipeline.run"], "LatestQueue", partial(LateSlot, slow_start))
    written: list[tuple[int, float]] = []  # (index, stream time) of each frame recorded, in order
    write = Writer.write
    monkeypatch.setattr(Writer, "write", lambda self, frame: (written.append((frame.index, frame.time)),
                                                              write(self, frame))[1])  # fmt: skip
    Twice.served = 0
    r, out = _record_served(Twice, tmp_path, rule_onnx, "--stats", str(tmp_path / "stats.json"), retries=1)
    assert r.exit_code == 1 and "recording finalised" in r.output, r.output
    # (lost: not a clean end; the server's closing was "Input/output error", FFmpeg's words)
    assert "stream lost (the server closed the connection); reconnecting" in r.output, r.output
    # the second connection's sound from before its first picture went back over the first's last sound,
    # which had run a little past its last picture: 5 packets the muxer refused, counted as damaged
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["audio_dropped"] == 0
    frames, _, v_end = spans(out)["video"]
    packets, a_start, a_end = spans(out)["audio"]
    said = (spans(out), written, {k: stats[k] for k in ("frames", "dropped", "lost_packets", "reconnects")}, r.output)
    # the recording begins at its first frame recorded: on a loaded machine the model skips the first ones of the
    # burst (0.35 s of them once, its sound before them not recorded: 174 packets, where a bound of 178 failed), and
    # the reconnection's outage is kept as long as it passed (0.2 s, 0.33 s under load, where 4.0 +- 0.3 s failed):
    # the first connection's frames at their stream time from the first recorded, the second's at theirs after them
    seconds = read_video(out)["seconds"]
    assert len(seconds) == len(written) == frames == stats["frames"], said
    assert stats["frames"] + stats["dropped"] == 2 * len(shown), said  # every picture sent: recorded, or skipped
    origin, placed = written[0][1], [(s, t) for s, (_, t) in zip(seconds, written)]
    assert not slow_start or origin > shown[0], said  # (the first frames skipped: it tells that case)
    join = next(n for n, (index, _) in enumerate(written) if index >= len(shown))  # (the second connection's first)
    first, second = placed[:join], placed[join:]
    assert all(s == pytest.approx(t - origin, abs=1e-3) for s, t in first), said
    shift = second[0][0] - second[0][1]  # (where the second connection's clock lies in the recording)
    assert all(s == pytest.approx(t + shift, abs=1e-3) for s, t in second), said
    assert not first or shown[0] + shift >= shown[-1] - origin + 0.04 - 1e-3, said  # (after the first's last picture)
    # the last picture is shown for one step of the rate (0.04 s), the file's end rounded up to its millisecond
    assert 0 <= v_end - (second[-1][0] + 0.04) < 1e-3 and a_end == pytest.approx(v_end, abs=0.2), said
    # all the sound from the first frame recorded on (a packet that begins before it is not: the first connection's
    # first, at 0: H.264's 189 of 190; each lost connection's demuxer gave all 95 and all were recorded, its end's
    # flush skipped or not), and the second connection's whole, that from before its first picture after the first's
    # sound (where the model skipped every frame of the first, a very loaded machine's: the second's from its first
    # recorded)
    assert packets == (2 if first else 1) * len(heard) - sum(t < origin - 1e-6 for t in heard), said
    assert read_video(out)["pts"] == sorted(read_video(out)["pts"])


class Resumed(Twice):
    """A camera whose stream drops and comes back with its clock gone on, sent in real time: the first
    request gets ``a.ts`` (0 to 2 s), the second ``b.ts`` (3 to 5 s), the third nothing (404)."""

    def clip(self) -> Path:
        return Path(self.directory) / ("a.ts" if Twice.served == 1 else "b.ts")

    def send(self, data: bytes) -> None:
        t0, chunk = time.monotonic(), 188 * 20
        with contextlib.suppress(OSError):
            for i in range(0, len(data), chunk):
                time.sleep(max(0.0, t0 + 2.0 * i / len(data) - time.monotonic()))
                self.wfile.write(data[i : i + chunk])
                self.wfile.flush()


@pytest.mark.timeout(60)
def test_the_sound_a_reconnection_reads_before_its_first_picture_is_kept(rule_onnx, tmp_path):
    """It was judged by the last connection's last picture time: a camera's clock had gone on since, so it lay
    too far ahead of that picture, and was dropped as damage (at each reconnect; 0.15 s of an IP camera's)."""
    write_video(tmp_path / "a.ts", split_frames(50, h=96, w=128), audio_seconds=2.0)  # 94 AAC packets each
    write_video(tmp_path / "b.ts", split_frames(50, h=96, w=128), audio_seconds=2.0, offset=3.0)
    Twice.served = 0
    r, out = _record_served(Resumed, tmp_path, rule_onnx, "--stats", str(tmp_path / "stats.json"), retries=1)
    assert r.exit_code == 1 and "recording finalised" in r.output, r.output
    assert json.loads((tmp_path / "stats.json").read_text())["audio_dropped"] == 0  # (was 7: 0.15 s)


def _record_served(handler, tmp_path, rule_onnx, *extra: str, retries: int):
    """``segment-video http://.../clip.ts -o r.mp4 [extra]`` against a local server of ``tmp_path`` by ``handler``."""
    with serving(partial(handler, directory=str(tmp_path))) as httpd:
        out = tmp_path / "r.mp4"
        r = CliRunner().invoke(segment_video_cmd, [f"http://127.0.0.1:{httpd.server_address[1]}/clip.ts", "--model",
                                                   str(rule_onnx), "-o", str(out), "--retries", str(retries),
                                                   "--retry-delay", "0.05", "--device", "cpu", *extra])  # fmt: skip
    return r, out


class FakeWindow:
    def __init__(self, quit_after: int) -> None:
        self.shown, self.quit_after = [], quit_after

    def install(self, monkeypatch) -> None:
        monkeypatch.setattr(window.cv2, "namedWindow", lambda *a: None)
        monkeypatch.setattr(window.cv2, "imshow", lambda title, img: self.shown.append(img.copy()))
        monkeypatch.setattr(window.cv2, "waitKey", lambda ms: ord("q") if len(self.shown) >= self.quit_after else -1)
        monkeypatch.setattr(window.cv2, "destroyWindow", lambda *a: None)


def test_webcam_show_with_a_stand_in_capture(clip, rule_onnx, monkeypatch, every_frame_taken):
    assert capture_args("0") == ("/dev/video0", "v4l2", {}, "camera")
    assert capture_args("/dev/video2")[:2] == ("/dev/video2", "v4l2")
    opened = []
    monkeypatch.setattr(capture, "open_capture", lambda spec, *a, **kw: opened.append(spec) or av.open(str(clip)))
    window = FakeWindow(quit_after=5)
    window.install(monkeypatch)
    r = CliRunner().invoke(segment_video_cmd, ["0", "--show", "--model", str(rule_onnx), "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert opened == ["0"] and len(window.shown) == 5 and window.shown[0].shape == (96, 128, 3)
    assert "5 frames shown" in r.output


def test_a_camera_is_asked_for_the_size_rate_and_format_given_and_says_where_it_gives_another(clip, rule_onnx,
                                                                                               monkeypatch, tmp_path):  # fmt: skip
    """The stand-in camera is the 128x96 clip: Video4Linux2 is asked for 1280x720 at 30 frames/s as MJPEG."""
    asked = []

    def camera(url, *, what, format, options, **kw):
        asked.append((url, what, format, options))
        return av.open(str(clip))

    monkeypatch.setattr(opening, "open_container", camera)
    r = CliRunner().invoke(segment_video_cmd, ["0", "-o", str(tmp_path / "rec.mp4"), "--max-frames", "3", "--model",
                                               str(rule_onnx), "--device", "cpu", "--camera-size", "1280x720",
                                               "--camera-fps", "30", "--camera-format", "mjpeg"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert asked == [("/dev/video0", "camera", "v4l2", {"video_size": "1280x720", "framerate": "30",
                                                        "input_format": "mjpeg"})]  # fmt: skip
    assert "camera 0 gives 128x96, not the 1280x720 asked (it does not offer that size in that format)" in r.output
    for given in (["--camera-size", "720x1280x3"], ["--camera-fps", "0"], ["--camera-size", "0x720"]):
        r = CliRunner().invoke(segment_video_cmd, ["0", "--show", *given])
        assert r.exit_code == 2 and "Traceback" not in r.output, given
    r = CliRunner().invoke(segment_video_cmd, [str(clip), "-o", str(tmp_path / "o.mp4"), "--camera-fps", "30"])
    assert r.exit_code == 1 and f"are for a camera (0, /dev/video0); {clip} is not one" in r.output


@pytest.mark.timeout(60)
def test_a_webcams_microphone_is_recorded_in_step_with_its_picture(clip, rule_onnx, monkeypatch, tmp_path,
                                                                  every_frame_taken):  # fmt: skip
    """The stand-in camera is the 2 s clip played in real time; the sound device is FFmpeg's test tone,
    delivered in real time (lavfi's arealtime), as a microphone's is."""
    monkeypatch.setattr(capture, "open_capture", lambda spec, *a, **kw: av.open(str(clip)))
    out = tmp_path / "cam.mp4"
    stats = run_live("0", model=str(rule_onnx), output=str(out), device="cpu", pace=True,
                     camera_audio="lavfi:sine=frequency=440:sample_rate=48000,arealtime")  # fmt: skip
    assert stats["audio_streams"] == 1 and stats["audio_dropped"] == 0
    got = spans(out)
    _, v_start, v_end = got["video"]
    _, a_start, a_end = got["audio"]
    assert v_end == pytest.approx(2.0, abs=0.2) and abs(a_start - v_start) < 0.15 and abs(a_end - v_end) < 0.25
    with av.open(str(out)) as c:
        assert c.streams.audio[0].codec_context.name == "aac"  # (PCM re-encoded for mp4)
    for given, says in (("alsa:no-such-device", "cannot open audio input alsa:no-such-device: "),
                        ("default", "--camera-audio wants FORMAT:DEVICE (alsa:default, alsa:hw:1,0), not 'default'")):
        r = CliRunner().invoke(segment_video_cmd, ["0", "-o", str(tmp_path / "x.mp4"), "--camera-audio", given])
        assert r.exit_code == 1 and r.output.startswith("Error: " + says) and r.output.count("\n") == 1, r.output


def test_unplugged_camera_ends_the_run_cleanly(clip, rule_onnx, monkeypatch, tmp_path):
    class Unplugging:
        def __init__(self) -> None:
            self.inner = av.open(str(clip))
            self.streams, self.metadata, self.format = self.inner.streams, self.inner.metadata, self.inner.format

        def demux(self, *streams):
            for i, packet in enumerate(self.inner.demux(*streams)):
                if i == 8:
                    raise av.error.OSError(19, "No such device")
                yield packet

        def close(self) -> None:
            self.inner.close()

    predict = OnnxSegmenter.predict

    def slow_predict(self, frames):  # a loaded machine: the camera fails before the first frame is segmented
        time.sleep(0.2)
        return predict(self, frames)

    monkeypatch.setattr(capture, "open_capture", lambda spec, *a, **kw: Unplugging())
    monkeypatch.setattr(OnnxSegmenter, "predict", slow_predict)
    out = tmp_path / "rec.mp4"
    r = CliRunner().invoke(segment_video_cmd, ["/dev/video0", "-o", str(out), "--model", str(rule_onnx), "--device", "cpu"])
    assert r.exit_code == 1
    assert "camera /dev/video0 stopped delivering frames" in r.output and "unplugged?" in r.output
    n = len(read_video(out)["frames"])
    assert "Traceback" not in r.output and n >= 1 and f"recording finalised at {out} ({n} frame{'' if n == 1 else 's'})" in r.output


@pytest.mark.timeout(60)
def test_a_camera_whose_decoder_refuses_every_picture_is_not_called_unplugged(rule_onnx, monkeypatch, tmp_path):
    a = write_video(tmp_path / "a.ts", split_frames(50, h=96, w=128))
    b = write_video(tmp_path / "b.ts", split_frames(250, h=96, w=128), codec="mpeg4", offset=2.0)
    (tmp_path / "joined.ts").write_bytes(a.read_bytes() + b.read_bytes())  # (its codec changes after 50 frames)
    monkeypatch.setattr(capture, "open_capture", lambda spec, *a, **kw: av.open(str(tmp_path / "joined.ts")))
    monkeypatch.setattr(decoder, "_probed", lambda packets: None)  # (its bytes tell no codec: refused as damage)
    out = tmp_path / "rec.mp4"
    r = CliRunner().invoke(segment_video_cmd, ["/dev/video0", "-o", str(out), "--model", str(rule_onnx), "--device", "cpu"])
    assert r.exit_code == 1 and "camera /dev/video0 stopped delivering frames (its decoder (h264) refused every video " \
        "packet for 5 s" in r.output, r.output
    assert "unplugged" not in r.output and "Traceback" not in r.output  # (was: "...; unplugged?", the wrong hint)
    assert f"recording finalised at {out} (" in r.output  # (live drops some of a file read faster than real time)


def test_show_without_a_gui_opencv_says_what_to_install(clip, rule_onnx):
    r = CliRunner().invoke(segment_video_cmd, [str(clip), "--live", "--show", "--model", str(rule_onnx)])
    if r.exit_code == 0:
        pytest.skip("this OpenCV has GUI support")
    assert r.exit_code == 1 and "needs OpenCV with GUI support" in r.output


def test_a_camera_whose_picture_changes_size_midway_is_recorded_at_its_first_size(rule_onnx, tmp_path,
                                                                                   every_frame_taken):  # fmt: skip
    """Settings changed on the camera (or a damaged picture header): the recording was made for the first
    size, and a frame of another ended the run ("ValueError: index can't contain negative values")."""
    first = write_video(tmp_path / "a.ts", split_frames(10, h=96, w=128))
    second = write_video(tmp_path / "b.ts", split_frames(10, h=120, w=160))
    both = tmp_path / "changed.ts"
    both.write_bytes(first.read_bytes() + second.read_bytes())
    out = tmp_path / "rec.mp4"
    stats = run_live(str(both), model=str(rule_onnx), output=str(out), device="cpu")
    v = read_video(out)
    # every frame of the first part and most of the second (its clock starts again at 0, so it plays at once,
    # and the newest-frame slot may skip a few)
    assert 13 <= stats["frames"] == len(v["frames"]) <= 20 and (v["width"], v["height"]) == (128, 96)


def test_duration_records_that_many_seconds_of_a_live_source_and_start_is_refused(clip, rule_onnx, tmp_path):
    """Both were silently ignored: --duration 1 recorded the whole 2 s clip."""
    out = tmp_path / "rec.mp4"
    stats = run_live(str(clip), model=str(rule_onnx), output=str(out), device="cpu", duration=1.0)
    frames, _, end = spans(out)["video"]
    assert 20 <= frames == stats["frames"] <= 25 and end == pytest.approx(1.0, abs=0.1)  # (25 unless the slot dropped some)
    r = CliRunner().invoke(segment_video_cmd, [str(clip), "--live", "-o", str(out), "-y", "--start", "1"])
    assert r.exit_code == 1 and "--start skips into a file; a live source starts now" in r.output


@pytest.mark.parametrize("stop", [{"duration": 1.0}, {"max_frames": 25}])
def test_a_live_recording_cut_short_ends_its_sound_with_its_last_picture(rule_onnx, tmp_path, stop, every_frame_taken):
    # was: sound read ahead of the pictures (the decoder's and the pipeline's frames in flight) went on being
    # recorded, about a second past the last picture (pictures 0-1.96 s, sound to 3.18 s)
    src = write_video(tmp_path / "a.mp4", split_frames(75, h=96, w=128), audio_seconds=3.0)  # 3 s at 25 fps
    out = tmp_path / "rec.mp4"
    stats = run_live(str(src), model=str(rule_onnx), output=str(out), device="cpu", **stop)
    frames, _, v_end = spans(out)["video"]
    packets, a_start, a_end = spans(out)["audio"]
    assert 20 <= frames == stats["frames"] <= 25 and stats["audio_dropped"] == 0
    assert a_start <= 0.05 and v_end - 0.05 <= a_end <= v_end + 0.05, (a_start, a_end, v_end)


@pytest.mark.timeout(60)
def test_a_live_recording_stopped_by_ctrl_c_ends_its_sound_with_its_last_picture(rule_onnx, tmp_path):
    # was: the sound read ahead of the pictures in flight was recorded past the last one (about 0.3 s)
    src = write_video(tmp_path / "a.mp4", split_frames(250, h=96, w=128), audio_seconds=10.0)
    out = tmp_path / "rec.mp4"
    code, err = signalled_once_served([str(src), "-o", str(out), "--model", str(rule_onnx)], "SIGINT", frames=25)
    assert code == 130 and "recording finalised" in err, err
    frames, _, v_end = spans(out)["video"]
    _, a_start, a_end = spans(out)["audio"]
    assert frames > 25 and a_start <= 0.05 and v_end - 0.05 <= a_end <= v_end + 0.05, (a_start, a_end, v_end)



@pytest.mark.timeout(60)
def test_a_live_run_to_standard_output_does_not_hold_its_pictures_for_sound_that_comes_late(rule_onnx, tmp_path):
    # a reader of the pipe gets the blocks in the order they are in the stream: there, FFmpeg's interleaving (within 10 s)
    # held each picture until sound of its time had come, which came 2 s at a time, after its pictures: the pictures
    # reached the reader up to 2 s late, each 2 s of them at once (benchmarks/live_pipe_delay.py times it)
    src = write_video(tmp_path / "a.mp4", split_frames(100, h=96, w=128), audio_seconds=4.0)  # 4 s at 25 fps
    late = sound_late(src, tmp_path / "late.mkv", chunk=2.0)
    cmd = [sys.executable, "-m", "roadseg", "segment", str(late), "--model", str(rule_onnx), "-o", "-", "-q", "--live"]
    proc = subprocess.run(cmd, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    blocks = matroska_blocks(proc.stdout)
    first_sound = next(i for i, (track, _, _) in enumerate(blocks) if track == 2)
    before = [ms for track, ms, _ in blocks[:first_sound] if track == 1]
    assert max(before) >= 1000, before  # was: 0 (the first picture); now 2.36 s (a loaded machine may skip some)
    # the stream still plays, its sound whole and in step with its pictures
    (tmp_path / "got.mkv").write_bytes(proc.stdout)
    v, heard = read_video(tmp_path / "got.mkv"), sound_spans(tmp_path / "got.mkv")
    assert len(v["frames"]) == sum(track == 1 for track, _, _ in blocks) >= 75 and v["audio"]
    assert heard[0][0] <= 0.05 and heard[-1][1] >= v["seconds"][-1], (heard[0], heard[-1], v["seconds"][-1])
    assert all(b[0] - a[1] < 0.001 for a, b in zip(heard, heard[1:]))  # (no sound missing between its packets)
    assert sum(track == 2 for track, _, _ in blocks) == len(sound_spans(src))  # (every packet of it: 188)


def _read_fifo(fifo: Path, got: bytearray, wanted: int | None = None) -> threading.Thread:
    """A thread that reads ``fifo`` (up to ``wanted`` bytes, then closes it) into ``got``, as a player would."""

    def read() -> None:
        with open(fifo, "rb", buffering=0) as reader:
            while (wanted is None or len(got) < wanted) and (chunk := reader.read(1 << 16)):
                got.extend(chunk)

    reading = threading.Thread(target=read, daemon=True)
    reading.start()
    return reading


def _let_go(fifo: Path, reading: threading.Thread) -> None:
    """Let a reader of ``fifo`` that no run opened go (it waits for a writer), and join it."""
    if reading.is_alive():
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    reading.join(10)


@pytest.mark.timeout(90)
@pytest.mark.parametrize("name", ["pipe", "out.mkv", "out.ts"])
def test_a_live_run_into_a_named_pipe_does_not_hold_its_pictures_for_sound_that_comes_late(rule_onnx, tmp_path, name):
    # a named pipe (ffplay /tmp/x.fifo) got none of standard output's live settings (LIVE_PIPE): FFmpeg's interleaving
    # held each picture until sound of its time had come, 2 s of them at once, after the pictures (as the test above)
    src = write_video(tmp_path / "a.mp4", split_frames(100, h=96, w=128), audio_seconds=4.0)  # 4 s at 25 fps
    late, fifo, got = sound_late(src, tmp_path / "late.mkv", chunk=2.0), tmp_path / name, bytearray()
    os.mkfifo(fifo)
    reading = _read_fifo(fifo, got)
    try:
        stats = run_live(str(late), model=str(rule_onnx), output=str(fifo), device="cpu")
    finally:
        _let_go(fifo, reading)
    assert fifo.is_fifo() and stats["frames"] >= 75, stats
    with av.open(io.BytesIO(bytes(got))) as stream:  # (the packets in the order the reader got them)
        order = [(p.stream.type, float(p.pts * p.time_base)) for p in stream.demux() if p.pts is not None]
        assert stream.format.name.startswith("mpegts" if name.endswith(".ts") else "matroska")
    first_sound = next(i for i, (kind, _) in enumerate(order) if kind == "audio")
    start = min(at for kind, at in order if kind == "video")
    before = [at - start for kind, at in order[:first_sound] if kind == "video"]
    assert max(before, default=0) >= 1.0, before  # was: 0 (mkv) or 0.04 s (ts); now about 2 s
    assert sum(kind == "video" for kind, _ in order) == stats["frames"] and any(k == "audio" for k, _ in order)


@pytest.mark.timeout(60)
def test_a_live_run_into_a_named_pipe_writes_each_packet_as_it_comes(rule_onnx, tmp_path):
    # as standard output's (the test above): a reader that quit after the stream's first 2000 bytes was told so only
    # when FFmpeg's 32 KB buffer filled, dozens of small pictures later
    clip = write_video(tmp_path / "long.mp4", split_frames(300, h=48, w=64))
    fifo, got = tmp_path / "pipe", bytearray()
    os.mkfifo(fifo)
    reading = _read_fifo(fifo, got, wanted=2000)
    cmd = [sys.executable, "-m", "roadseg", "segment", str(clip), "--model", str(rule_onnx), "-o", str(fifo), "-q",
           "--live"]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    finally:
        _let_go(fifo, reading)
    assert proc.returncode == 141 and proc.stderr.count("\n") == 1, proc.stderr
    frames = int(re.search(r"stopped after (\d+) frames", proc.stderr)[1])
    assert frames < 30, proc.stderr  # paced at 25 frames/s, a reader held up 0.8 s by a loaded machine still passes


def test_live_needs_an_output(clip, rule_onnx):
    r = CliRunner().invoke(segment_video_cmd, [str(clip), "--live", "--model", str(rule_onnx)])
    assert r.exit_code == 1 and "needs somewhere to go" in r.output


def _rtsp_server_available() -> bool:
    probe = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"
    return shutil.which("/usr/bin/python3") is not None and subprocess.run(
        ["/usr/bin/python3", "-c", probe], capture_output=True).returncode == 0  # fmt: skip


def record_rtsp(rule_onnx, out, frames: int, *server_args: str) -> dict:
    """Run the local RTSP server (``server_args``: ``audio`` adds sound), record ``frames`` of it to ``out``."""
    port = free_port()
    server = subprocess.Popen(["/usr/bin/python3", str(Path(__file__).parent / "rtsp_server.py"), str(port),
                               *server_args], stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert server.stdout.readline().strip() == "ready"
        return run_live(f"rtsp://127.0.0.1:{port}/test", model=str(rule_onnx), output=str(out), device="cpu",
                        max_frames=frames)  # fmt: skip
    finally:
        server.terminate()
        server.wait(5)


@pytest.mark.timeout(60)
@pytest.mark.skipif(not _rtsp_server_available(), reason="GStreamer's RTSP server (Debian) is installed by make test")
def test_rtsp_stream_input_from_a_local_server(rule_onnx, tmp_path):
    out = tmp_path / "rtsp.mp4"
    stats = record_rtsp(rule_onnx, out, 15)
    assert stats["kind"] == "stream" and stats["frames"] == 15
    v = read_video(out)
    assert (v["width"], v["height"]) == (128, 96) and len(v["frames"]) == 15


@pytest.mark.timeout(60)
@pytest.mark.skipif(not _rtsp_server_available(), reason="GStreamer's RTSP server (Debian) is installed by make test")
def test_an_ip_cameras_sound_is_recorded_in_step_with_its_picture(rule_onnx, tmp_path):
    """G.711 over RTSP, as many IP cameras send it: re-encoded as AAC into mp4. The frames the stream
    buffered while it was being opened come in a burst; timed by arrival they squeezed the first
    second of picture into a moment, and the sound ran about a second behind it."""
    out = tmp_path / "cam.mp4"
    stats = record_rtsp(rule_onnx, out, 50, "audio")
    assert stats["audio_streams"] == 1 and stats["audio_dropped"] == 0
    got = spans(out)
    frames, v_start, v_end = got["video"]
    _, a_start, a_end = got["audio"]
    # Timed by the camera's 25 fps: every picture on its 1/25 s grid, and the 50 kept span at least 50 frame
    # times and at most those and the frames the model skipped (some of which a loaded machine skips before
    # the first picture kept or after the last: they are not between them; counted as in it, 8 dropped of
    # which 4 were outside failed a check of the span against 50 + dropped within 0.15 s)
    assert frames == 50 and all(abs(25 * t - round(25 * t)) < 0.01 for t in read_video(out)["seconds"])
    assert 49 / 25 - 0.01 <= v_end <= (50 + stats["dropped"]) / 25 + 0.01
    # (AAC's encoder delay, 1024 samples, is 0.128 s at 8 kHz: the first packet may start that much before)
    assert -0.2 < a_start - v_start < 0.1 and abs(a_end - v_end) < 0.25
    with av.open(str(out)) as c:
        assert c.streams.audio[0].codec_context.name == "aac"


@pytest.mark.timeout(90)
def test_a_stream_with_sound_that_drops_while_packets_wait_for_the_output_reconnects_without_a_crash(
    rule_onnx, tmp_path
) -> None:
    """The model slowed to 10 frames/s (a loaded CPU): audio packets still wait for the output when the
    stream drops. Closing the dropped connection freed the streams they point to, and muxing them was a
    segmentation fault (exit -11) that lost the whole recording. In a subprocess: a crash must not end pytest."""
    write_video(tmp_path / "clip.ts", split_frames(75, h=96, w=128), audio_seconds=3.0)
    Twice.served = 0
    slowed = ("import sys, time; from roadseg.pipeline.session import OnnxSegmenter as O; real = O.predict; "
              "O.predict = lambda self, f: (time.sleep(0.1), real(self, f))[1]; from roadseg.cli import "
              "segment_video_cmd; segment_video_cmd(sys.argv[1:])")  # fmt: skip
    out = tmp_path / "r.mp4"
    with serving(partial(Twice, directory=str(tmp_path))) as httpd:
        run = subprocess.run([sys.executable, "-c", slowed, f"http://127.0.0.1:{httpd.server_address[1]}/live.ts",
                              "--model", str(rule_onnx), "-o", str(out), "--retries", "1", "--retry-delay", "0.05",
                              "--device", "cpu", "-q"], capture_output=True, text=True, timeout=80)  # fmt: skip
    assert run.returncode == 1 and "gave up after 1 reconnect; recording finalised" in run.stderr, run.stderr[-2000:]
    assert read_video(out)["frames"] and read_video(out)["audio"]


class Always(Twice):
    """A web server that sends a .ts file without a length (FFmpeg then knows no duration): every request
    gets it whole, from its start."""

    def do_GET(self) -> None:  # noqa: N802
        Twice.served = 0
        super().do_GET()


@pytest.mark.timeout(60)
def test_a_file_served_without_a_length_that_plays_from_its_start_again_is_not_recorded_for_ever(rule_onnx, tmp_path):
    write_video(tmp_path / "clip.ts", split_frames(20, h=96, w=128))
    r, out = _record_served(Always, tmp_path, rule_onnx, retries=2)
    # (was: reopened and recorded again for ever, each pass earning the retries back)
    assert r.exit_code == 1 and "gave up after 2 reconnects; recording finalised" in r.output, r.output
    assert r.output.count("began again from its start (a file served without a length?)") == 1
    assert len(read_video(out)["frames"]) <= 3 * 20


def test_a_stream_joined_between_keyframes_with_no_picture_size_is_one_line(rule_onnx, tmp_path):
    src = tmp_path / "gop.ts"
    with av.open(str(src), "w") as out:  # one keyframe, at the start: a camera's long GOP
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt, vs.options = 128, 96, "yuv420p", {"g": "1000", "preset": "ultrafast"}
        for image in split_frames(100, h=96, w=128):
            for packet in vs.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
    data = src.read_bytes()
    joined = tmp_path / "joined.ts"  # what a receiver gets joining after the keyframe: no picture size in it
    joined.write_bytes(data[(len(data) // 2) // 188 * 188 :])
    r = CliRunner().invoke(segment_video_cmd, [str(joined), "--live", "-o", str(tmp_path / "o.mp4"), "--model",
                                               str(rule_onnx), "--device", "cpu"])  # fmt: skip
    # (was: "cannot set up encoder 'libx264' ...: Invalid argument", the output made at 0x0)
    assert r.exit_code == 1 and "gave no picture size within 5 s" in r.output.splitlines()[-1], r.output
    assert not (tmp_path / "o.mp4").exists()


def test_a_streams_password_is_not_in_its_messages(rule_onnx, tmp_path):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"rtsp://admin:hunter2@127.0.0.1:{port}/stream1"
    r = CliRunner().invoke(segment_video_cmd, [url, "-o", str(tmp_path / "o.mp4"), "--model", str(rule_onnx)])
    assert r.exit_code == 1 and f"rtsp://admin:***@127.0.0.1:{port}/stream1" in r.output, r.output
    assert "hunter2" not in r.output  # (was: the password in the log)


@pytest.mark.timeout(60)
def test_a_stream_whose_clock_starts_again_keeps_its_sound_in_step(rule_onnx, tmp_path, every_frame_taken):
    """An encoder that restarted (or a looped file): the second part is stamped from its start again. Its
    sound was taken for steps back and dropped (189 of 469 packets on a 4 s + 6 s stream), and what was left
    played seconds ahead of its picture."""
    one = write_video(tmp_path / "one.ts", split_frames(25, h=96, w=128), audio_seconds=1.0)
    two = write_video(tmp_path / "two.ts", split_frames(40, h=96, w=128), audio_seconds=1.6)
    (joined := tmp_path / "restart.ts").write_bytes(one.read_bytes() + two.read_bytes())
    out = tmp_path / "r.mp4"
    r = CliRunner().invoke(segment_video_cmd, [str(joined), "--live", "-o", str(out), "--model", str(rule_onnx),
                                               "--device", "cpu"])  # fmt: skip
    assert r.exit_code == 0, r.output
    _, _, v_end = spans(out)["video"]
    packets, _, a_end = spans(out)["audio"]
    assert v_end == pytest.approx(2.6, abs=0.2) and a_end == pytest.approx(v_end, abs=0.2), (v_end, a_end)
    assert packets >= (47 + 75) - 10  # (a few around the restart)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("later", [101.0, 0.0])
def test_a_file_whose_clock_leaps_ahead_plays_live_through_the_leap(rule_onnx, tmp_path, later, every_frame_taken):
    """Two recordings joined with cat, the second's clock 100 s on (a dashcam's next file): played live, it waited
    out the leap (the first recording's 25 frames, then nothing for 100 s), as only a step back started its pacing
    afresh. The second follows on as a file read whole puts it, its sound after the first's sound and its picture
    with it (here a frame step and 0.024 s after the first's last picture); so it does where its clock starts again
    from 0 (``later``: where the second's clock starts)."""
    one = write_video(tmp_path / "one.ts", split_frames(25, h=96, w=128), audio_seconds=1.0)
    two = write_video(tmp_path / "two.ts", split_frames(25, h=96, w=128), audio_seconds=1.0, offset=later)
    (joined := tmp_path / "leap.ts").write_bytes(one.read_bytes() + two.read_bytes())
    out = tmp_path / "r.mp4"
    t0 = time.monotonic()
    stats = run_live(str(joined), model=str(rule_onnx), output=str(out), device="cpu")
    assert time.monotonic() - t0 < 10  # (2 s of pictures; was: the leap waited out, past the test's timeout)
    seconds = read_video(out)["seconds"]
    assert len(seconds) == stats["frames"] and stats["frames"] + stats["dropped"] == 50, stats  # (every frame came)
    # one timeline, the file's (was, where the clock started again: 0.002 s at the join, the second recording due as
    # soon as it was read; then a frame step, the second's sound going back over the first's, 4 of its packets lost)
    assert seconds[-1] - seconds[0] == pytest.approx(1.984, abs=0.005), seconds
    assert all(any(abs(t - seconds[0] - w) < 0.002 for w in _read_whole(joined)) for t in seconds), seconds  # (where
    # the newest-frame slot skipped one on a busy machine, the others are still the file's)
    packets, _, a_end = spans(out)["audio"]
    assert a_end == pytest.approx(seconds[-1] + 0.04, abs=0.2) and packets >= 2 * 47 - 10, (packets, a_end)


def _read_whole(path: Path) -> list[float]:
    """The times of ``path``'s pictures read as a file (not live), with its sound, counted from the first: its one
    timeline."""
    with VideoSource(str(path)) as src:
        times = [item.time for item in src if isinstance(item, Frame)]
    return [t - times[0] for t in times]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("later", [101.0, 0.0])
def test_the_sound_a_cat_joins_second_recording_has_before_its_first_picture_is_recorded_live(rule_onnx, tmp_path,
                                                                                              later, every_frame_taken):  # fmt: skip
    """Two recordings joined with cat: the second's first 4 audio packets come before its first picture, and the
    first's last picture after 2 of them. Played live, they were judged against the first recording's pictures,
    taken for damage and dropped ("dropped 4 damaged audio packets"; a file read whole keeps them). They wait for
    the pictures after them now, and go with the second recording, whose first picture says its clock started
    again; its sound follows on from the first's, its picture with it."""
    one = write_video(tmp_path / "one.ts", split_frames(25, h=96, w=128), audio_seconds=1.0)
    two = write_video(tmp_path / "two.ts", split_frames(25, h=96, w=128), audio_seconds=1.0, offset=later)
    (joined := tmp_path / "joined.ts").write_bytes(one.read_bytes() + two.read_bytes())
    out, figures = tmp_path / "r.mp4", tmp_path / "stats.json"
    r = CliRunner().invoke(segment_video_cmd, [str(joined), "--live", "-o", str(out), "--model", str(rule_onnx),
                                               "--device", "cpu", "--stats", str(figures)])  # fmt: skip
    assert r.exit_code == 0 and "audio" not in r.output, r.output
    assert json.loads(figures.read_text())["audio_dropped"] == 0
    sound, seconds = sound_spans(out), read_video(out)["seconds"]
    assert len(sound) == 2 * 48 - 1, len(sound)  # (every packet but the first: it begins before the recording)
    assert all(b[0] == pytest.approx(a[1], abs=0.001) for a, b in zip(sound, sound[1:]))  # in line, no gap
    second = min(n for n, t in enumerate(seconds) if t > seconds[0] + 1.0)  # (its first picture)
    assert seconds[second] - sound[-48][0] == pytest.approx(0.021, abs=0.002)  # (its 48 packets) as in its own file


@pytest.mark.timeout(60)
@pytest.mark.parametrize("picture", [0, 10])
def test_a_picture_stamped_seconds_ahead_in_a_file_played_live_is_put_back_in_line(rule_onnx, tmp_path, picture,
                                                                                     every_frame_taken):  # fmt: skip
    """A file's first or 11th picture stamped 3 s ahead (a damaged PES header). Played live, the first tied the
    clock 3 s on (the sound read before it put 3 s before the recording: 3 packets not recorded); the 11th was waited out,
    taken for a clock that started again where the next one stepped back, and the pictures after it recorded 3 s
    late. Each is put back in line as a file read whole puts it (``pacing.in_line``): the recording keeps the
    file's timeline and its sound."""
    src = write_video(tmp_path / "a.ts", split_frames(25, h=96, w=128), audio_seconds=1.0)
    (damaged := tmp_path / "d.ts").write_bytes(pes_moved(src.read_bytes(), {picture: 3.0}, stream_id=0xE0))
    out, figures = tmp_path / "r.mp4", tmp_path / "stats.json"
    r = CliRunner().invoke(segment_video_cmd, [str(damaged), "--live", "-o", str(out), "--model", str(rule_onnx),
                                               "--device", "cpu", "--stats", str(figures)])  # fmt: skip
    assert r.exit_code == 0 and "put 1 picture with a damaged timestamp back in line" in r.output, r.output
    seconds, clean = read_video(out)["seconds"], _read_whole(src)
    assert seconds[-1] - seconds[0] == pytest.approx(0.96, abs=0.005), seconds
    assert all(any(abs(t - seconds[0] - w) < 0.002 for w in clean) for t in seconds), seconds
    sound = sound_spans(out)
    assert len(sound) == 47 and sound[0][0] == pytest.approx(seconds[0] + 0.0, abs=0.03), sound[:2]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("picture,moved", [(2, 3.0), (5, 0.7), (0, -0.7)])
def test_a_picture_whose_presentation_time_alone_is_damaged_in_a_file_played_live_is_put_back(rule_onnx, tmp_path,
                                                                                            picture, moved):  # fmt: skip
    """H.264 with B-frames (a picture decoded before it shows: its PES header has a decoding time too), one picture's
    presentation time alone moved 3 s or 0.7 s ahead, or the first's 0.7 s back. ``pacing.in_line`` judges by the
    decoding time, in line: live, the picture tied the clock where it was stamped, and the pictures after it were
    recorded 3 s (0.7 s) late, or a frame step late after the first; a file read whole puts it back (InLine).
    ``presented.Presented`` puts it back as it is decoded: the recording keeps the file's timeline and its sound, as
    read whole."""
    src = with_b_frames(tmp_path / "b.ts", 25)
    assert pes_headers(src.read_bytes(), 0xE0)[picture][1]  # (it has a decoding time)
    by = round(moved * PTS_HZ)
    (damaged := tmp_path / "d.ts").write_bytes(restamped(src.read_bytes(), 0xE0, {picture: (lambda t: t + by,
                                                                                            (True, False))}))  # fmt: skip
    out, figures = tmp_path / "r.mp4", tmp_path / "stats.json"
    r = CliRunner().invoke(segment_video_cmd, [str(damaged), "--live", "-o", str(out), "--model", str(rule_onnx),
                                               "--device", "cpu", "--stats", str(figures)])  # fmt: skip
    assert r.exit_code == 0 and "put 1 picture with a damaged timestamp back in line" in r.output, r.output
    stats, seconds, clean = json.loads(figures.read_text()), read_video(out)["seconds"], _read_whole(src)
    assert stats["frames"] + stats["dropped"] == 25 and stats["audio_dropped"] == 0, stats
    assert all(any(abs(t - seconds[0] - w) < 0.002 for w in clean) for t in seconds), seconds  # (was: to 3.96 s,
    # 1.66 s, 1.0 s; where the newest-frame slot skipped one on a busy machine, the others are still the file's)
    sound = sound_spans(out)  # (in line from the first picture to the last, whichever the newest-frame slot kept)
    assert sound[0][0] == pytest.approx(seconds[0], abs=0.03) and sound[-1][1] >= seconds[-1], (sound[0], sound[-1])
    assert all(b[0] == pytest.approx(a[1], abs=0.001) for a, b in zip(sound, sound[1:])), sound


@pytest.mark.timeout(60)
def test_a_matroska_file_with_b_frames_played_live_keeps_its_timeline(rule_onnx, tmp_path):
    """Matroska stores presentation times alone: FFmpeg gives the first two pictures of H.264 with B-frames no
    decoding time, and ``pacing.in_line`` judged them by their presentation times, out of order (0, 0.16): "put 2
    pictures with damaged timestamps back in line", the recording 0.08 s longer than the file. They pass as they
    came now (``pacing._stamp``)."""
    src, out = with_b_frames(tmp_path / "b.mkv", 25), tmp_path / "r.mp4"
    r = CliRunner().invoke(segment_video_cmd, [str(src), "--live", "-o", str(out), "--model", str(rule_onnx),
                                               "--device", "cpu"])  # fmt: skip
    assert r.exit_code == 0 and "damaged" not in r.output, r.output
    seconds, clean = read_video(out)["seconds"], _read_whole(src)
    assert all(any(abs(t - seconds[0] - w) < 0.002 for w in clean) for t in seconds), seconds


@pytest.mark.timeout(60)
def test_a_file_whose_video_stops_long_before_its_sound_is_not_held_whole_while_its_pictures_are_judged(
    rule_onnx, tmp_path, every_frame_taken
):
    """5 pictures (0.2 s) and 10 s of sound: ``pacing.in_line`` waits for RUN + 1 pictures to judge the first ones,
    and held every packet read meanwhile, the whole sound (472 of the file's 477 packets at once). It passes them on once
    ``MAX_JUDGING`` wait, the pictures judged by what came so far; the recording keeps every picture and the sound."""
    src = write_video(tmp_path / "short.ts", split_frames(5, h=96, w=128), audio_seconds=10.0)
    with av.open(str(src)) as c:
        read, held = [], []
        for n, _ in enumerate(pacing.in_line((read.append(p) or p for p in c.demux()), 0.04), 1):
            held.append(len(read) - n)
    assert len(read) == 477 and max(held) < pacing.MAX_JUDGING, (len(read), max(held))
    out = tmp_path / "r.mp4"
    stats = run_live(str(src), model=str(rule_onnx), output=str(out), device="cpu")
    sound = sound_spans(out)
    assert stats["frames"] + stats["dropped"] == 5 and stats["audio_dropped"] == 0, stats
    assert len(sound) == 469 and sound[-1][1] == pytest.approx(10.0, abs=0.05), (len(sound), sound[-1])


class CodecChanged(SimpleHTTPRequestHandler):
    """A live TS stream whose camera changed codec: the first request gets 2 s of H.264 and then 10 s of
    MPEG-4 under the same stream (PID), later ones the MPEG-4 alone (what the camera sends now)."""

    served = 0

    def do_GET(self) -> None:  # noqa: N802
        CodecChanged.served += 1
        data = open(f"{self.directory}/{'joined' if CodecChanged.served == 1 else 'b'}.ts", "rb").read()
        self.send_response(200)
        self.send_header("Content-Type", "video/mp2t")
        self.end_headers()  # no length: like a live stream
        with contextlib.suppress(OSError):  # (the recording stops when it has its frames)
            for i in range(0, len(data), 188 * 40):
                self.wfile.write(data[i : i + 188 * 40])
                self.wfile.flush()
                time.sleep(0.01)
        self.close_connection = True

    def log_message(self, *a) -> None:
        return None


def _codec_changed(tmp_path) -> contextlib.AbstractContextManager[ThreadingHTTPServer]:
    """A server of :class:`CodecChanged` (2 s of H.264, then 10 s of MPEG-4, red on the right), serving."""
    a = write_video(tmp_path / "a.ts", split_frames(50, h=96, w=128))
    b = write_video(tmp_path / "b.ts", [f[:, ::-1].copy() for f in split_frames(250, h=96, w=128)], codec="mpeg4",
                    offset=2.0)  # (mirrored: red on the right)  # fmt: skip
    (tmp_path / "joined.ts").write_bytes(a.read_bytes() + b.read_bytes())
    CodecChanged.served = 0
    return serving(partial(CodecChanged, directory=str(tmp_path)))


@pytest.mark.timeout(60)
def test_a_live_stream_whose_codec_changes_is_followed_without_opening_it_again(rule_onnx, tmp_path,
                                                                                 every_frame_taken):  # fmt: skip
    # was: every MPEG-4 packet refused for 5 s (the picture frozen, 125 packets lost), then the stream opened again
    out, stats = tmp_path / "r.mp4", tmp_path / "stats.json"
    with _codec_changed(tmp_path) as httpd:
        r = CliRunner().invoke(segment_video_cmd, [f"http://127.0.0.1:{httpd.server_address[1]}/live.ts", "-o", str(out),
                                                   "--model", str(rule_onnx), "--device", "cpu", "--max-frames", "80",
                                                   "--stats", str(stats)])  # fmt: skip
    assert r.exit_code == 0 and "live.ts: its video changes from h264 to mpeg4" in r.output, r.output
    assert "refused" not in r.output and CodecChanged.served == 1, r.output
    assert json.loads(stats.read_text())["lost_packets"] <= 2
    frames = read_video(out)["frames"]
    assert sum(f[:, :64, 0].mean() < f[:, 64:, 0].mean() for f in frames) >= 20  # the new codec's


@pytest.mark.timeout(60)
def test_a_live_stream_whose_decoder_refuses_every_picture_is_opened_again_and_the_refusals_counted(rule_onnx,
                                                                                                  tmp_path, monkeypatch):  # fmt: skip
    monkeypatch.setattr(decoder, "_probed", lambda packets: None)  # (its bytes tell no codec: refused as damage)
    out, stats = tmp_path / "r.mp4", tmp_path / "stats.json"
    with _codec_changed(tmp_path) as httpd:
        r = CliRunner().invoke(segment_video_cmd, [f"http://127.0.0.1:{httpd.server_address[1]}/live.ts", "-o", str(out),
                                                   "--model", str(rule_onnx), "--device", "cpu", "--max-frames", "80",
                                                   "--retry-delay", "0.05", "--stats", str(stats)])  # fmt: skip
    # was: every MPEG-4 packet refused without a word or a count, the picture frozen until the stream ended
    assert r.exit_code == 0 and "refused every video packet for 5 s" in r.output, r.output
    lost = json.loads(stats.read_text())["lost_packets"]
    assert 120 <= lost <= 130 and f"{lost} video packets of http://" in r.output, r.output  # 5 s at 25 fps
    frames = read_video(out)["frames"]
    assert sum(f[:, :64, 0].mean() < f[:, 64:, 0].mean() for f in frames) >= 10  # the new codec's, after reconnecting


def test_a_transport_streams_aac_played_live_is_copied_into_avi(rule_onnx, tmp_path):
    # was: re-encoded ('cannot be copied (Invalid argument)'): the copy's setup comes from a packet read ahead,
    # and a live source gave none (it reads its first picture ahead now, and the sound that comes before it)
    src = write_video(tmp_path / "cam.ts", split_frames(25, h=96, w=128), audio_seconds=1.0)
    r = CliRunner().invoke(segment_video_cmd, [str(src), "--live", "-o", str(tmp_path / "o.avi"), "--model",
                                               str(rule_onnx), "--device", "cpu"])  # fmt: skip
    assert r.exit_code == 0 and "audio stream" not in r.output, r.output
    with av.open(str(tmp_path / "o.avi")) as c:
        assert c.streams.audio[0].codec_context.extradata == bytes([0x11, 0x88])  # (copied raw: AAC LC, 48 kHz, mono)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("moved", [-0.4, 3600.0])
def test_aac_frames_merged_into_one_packet_with_a_damaged_timestamp_are_recorded_live(rule_onnx, tmp_path, moved,
                                                                                       every_frame_taken):  # fmt: skip
    # a 2-s TS whose 61st audio PES (at 1.28 s) has an ADTS length of 30 frames (0.64 s) and a timestamp 0.4 s
    # early, or an hour late (test_robustness plays it as a file)
    src = write_video(tmp_path / "a.ts", split_frames(50, h=96, w=128), audio_seconds=2.0)
    damaged, out, stats = tmp_path / "d.ts", tmp_path / "r.mp4", tmp_path / "stats.json"
    damaged.write_bytes(pes_moved(adts_merged(src, tmp_path / "m.ts", 60, 30).read_bytes(), {60: moved}))
    r = CliRunner().invoke(segment_video_cmd, [str(damaged), "--live", "-o", str(out), "--model", str(rule_onnx),
                                               "--device", "cpu", "--stats", str(stats)])  # fmt: skip
    assert r.exit_code == 0 and "audio" not in r.output, r.output
    # was: its timestamp fit nowhere, the packet was dropped (said) with its 30 frames: 0.64 s of sound lost
    assert json.loads(stats.read_text())["audio_dropped"] == 0
    sound = sound_spans(out)  # (each packet's, as decoded: the merged one plays its 30 frames)
    longest = max(sound, key=lambda span: span[1] - span[0])
    assert longest == pytest.approx((1.259, 1.899), abs=0.001)  # (where its stream goes on, as in the input)
    assert all(b[0] == pytest.approx(a[1], abs=0.001) for a, b in zip(sound, sound[1:]))  # in line, no gap
    assert sound[-1][1] == pytest.approx(2.0, abs=0.03)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("moved", [0.0, 3600.0])
def test_aac_frames_merged_over_a_cat_join_are_recorded_live_where_the_sound_went_on(rule_onnx, tmp_path, moved):
    # a 1-s TS and a 1-s one with 0.5 s of sound joined with cat, the first one's 41st audio PES (at 0.85 s) with
    # an ADTS length of all the frames after it (its own last 8, the second's 25), and a timestamp as it was, or an
    # hour late: the parser gives that packet at the end of the file, after the clock started again
    first = write_video(tmp_path / "a.ts", split_frames(25, h=96, w=128), audio_seconds=1.0)
    second = write_video(tmp_path / "b.ts", split_frames(25, h=96, w=128), audio_seconds=0.5)
    (joined := tmp_path / "j.ts").write_bytes(first.read_bytes() + second.read_bytes())
    damaged, out, stats = tmp_path / "d.ts", tmp_path / "r.mp4", tmp_path / "s.json"
    damaged.write_bytes(pes_moved(adts_merged(joined, tmp_path / "m.ts", 40, 33).read_bytes(), {40: moved}))
    assert sound_spans(damaged)[-1][1] - sound_spans(damaged)[-1][0] == pytest.approx(0.704, abs=0.001)
    r = CliRunner().invoke(segment_video_cmd, [str(damaged), "--live", "-o", str(out), "--model", str(rule_onnx),
                                               "--device", "cpu", "--stats", str(stats)])  # fmt: skip
    assert r.exit_code == 0 and "audio" not in r.output, r.output
    # was: taken for the first packet of the clock's second run, and its only one, passed at its own time: the
    # second recording's sound 0.8 s after its picture and on 0.6 s past the recording's end (or an hour on)
    sound, v = sound_spans(out), read_video(out)["seconds"]
    assert all(b[0] == pytest.approx(a[1], abs=0.001) for a, b in zip(sound, sound[1:]))  # in line, no gap
    own = sound_spans(second)[-1][1] - read_video(second)["seconds"][0]  # (its sound's end after its first picture)
    # every picture recorded, or skipped by the newest-frame slot on a busy machine (CI: 49 of 50); the last one is
    # always kept, so the second recording's first picture is 24 steps before it (v[25] where none was skipped)
    assert len(v) + json.loads(stats.read_text())["dropped"] == 50
    assert sound[-1][1] == pytest.approx(v[-1] - 24 / 25 + own, abs=0.1)  # (tied as it came)


@pytest.mark.parametrize("via", ["file", "stdin"])
def test_a_file_or_pipe_played_live_follows_a_codec_change_midway(rule_onnx, tmp_path, via, every_frame_taken):
    # two recordings joined with cat, H.264 then MPEG-4 under one PID (was: 'stopped reading joined.ts at damaged
    # data (its decoder (h264) refused every video packet for 5 s ...)' and the run ended after the first; a file or
    # a pipe is not opened again as a stream is)
    a = write_video(tmp_path / "a.ts", split_frames(25, h=96, w=128))
    b = write_video(tmp_path / "b.ts", [f[:, ::-1].copy() for f in split_frames(150, h=96, w=128)], codec="mpeg4",
                    offset=1.0)  # (mirrored: red on the right)  # fmt: skip
    joined, out = tmp_path / "joined.ts", tmp_path / "r.mp4"
    joined.write_bytes(a.read_bytes() + b.read_bytes())
    args = ["--live", "-o", str(out), "--model", str(rule_onnx), "--device", "cpu"]
    if via == "file":
        r = CliRunner().invoke(segment_video_cmd, [str(joined), *args])
        code, said = r.exit_code, r.output
    else:
        p = subprocess.run([sys.executable, "-m", "roadseg", "segment", "-", *args], input=joined.read_bytes(),
                           capture_output=True, timeout=60)  # fmt: skip
        code, said = p.returncode, p.stderr.decode()
    assert code == 0 and "its video changes from h264 to mpeg4" in said and "refused" not in said, said
    frames = read_video(out)["frames"]
    second = sum(f[:, :64, 0].mean() < f[:, 64:, 0].mean() for f in frames)
    assert second >= 100 and len(frames) - second >= 15, (len(frames), second)  # (6 s of the second: all of it)


class Stalling(threading.Thread):
    """A TCP server on loopback that reads each request and then sends ``reply`` (bytes) and nothing more,
    holding the connection open: a server that accepts and stays silent, or a stream that stalls. A context
    manager: started on entry; on exit its connections are shut and it is joined (closing a socket alone wakes
    no ``accept`` or ``recv`` waiting on it: the thread stayed in ``accept`` to the end of the test run)."""

    def __init__(self, reply: bytes) -> None:
        super().__init__(daemon=True)
        self.reply, self.held, self.closing = reply, [], False
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}/live.ts"

    def run(self) -> None:
        with contextlib.suppress(OSError):  # (shut by close())
            while True:
                conn, _ = self.server.accept()
                self.held.append(conn)
                if self.closing:  # (accepted while close() shut the others)
                    return
                conn.recv(65536)
                if self.answers(len(self.held)):
                    conn.sendall(self.reply)

    def answers(self, n: int) -> bool:
        """Whether the ``n``-th connection gets ``reply``."""
        return True

    def __enter__(self) -> "Stalling":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Shut the server and every connection (which wakes the thread wherever it waits), then join it."""
        self.closing = True
        for sock in (self.server, *self.held):
            with contextlib.suppress(OSError):  # (one the client already shut)
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.join(5)
        for conn in self.held:  # (one accepted as close() began)
            conn.close()


@pytest.mark.timeout(60)
def test_a_stream_that_sends_nothing_times_out_in_our_words_with_what_timed_out_how_long_and_any_retry(
    rule_onnx, tmp_path
):
    write_video(tmp_path / "clip.ts", split_frames(50, h=96, w=128))
    head = b"HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\n\r\n"  # no length: a live stream
    for reply, wanted in ((b"", "cannot open stream {url}: no media came within 1 s (--stream-timeout 1); gave up "
                                "after 1 retry over"),  # (a timed-out open is tried again: tests/test_start_retry.py)
                          (head, "lost (no data for 1 s: --stream-timeout 1); gave up after 1 reconnect")):  # fmt: skip
        with Stalling(reply + (tmp_path / "clip.ts").read_bytes()[: 188 * 300] if reply else b"") as server:
            r = CliRunner().invoke(segment_video_cmd, [server.url, "--model", str(rule_onnx), "-o",
                                                       str(tmp_path / "r.mp4"), "-y", "--retries", "1",
                                                       "--retry-delay", "0.05", "--stream-timeout", "1", "--device",
                                                       "cpu", "-q"])  # fmt: skip
        assert r.exit_code == 1 and wanted.format(url=server.url) in r.output, r.output
        assert "Immediate exit requested" not in r.output  # (was: FFmpeg's words for its timeout, each time)
        if reply:
            assert "stream lost (no data for 1 s: --stream-timeout 1); reconnecting in 0.1 s (attempt 1/1)" in r.output


@pytest.mark.timeout(60)
def test_a_packet_held_at_the_end_of_a_stream_played_live_is_recorded_or_counted(rule_onnx, tmp_path, every_frame_taken):
    # 10 pictures (0.4 s) and two sound streams: one of a single packet at 0.1 s (a stream's only packet, held
    # until the next says where the stream goes), one whose last packet leaps 0.3 s ahead (damage, held as well)
    src = tmp_path / "held.mkv"
    with av.open(str(src), "w") as out:
        vs = out.add_stream("libx264", rate=25, options={"preset": "ultrafast"})
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        lone, leap = (out.add_stream("pcm_s16le", rate=48000, layout="mono") for _ in range(2))
        encode_pictures(out, vs, (np.full((48, 64, 3), i * 20, np.uint8) for i in range(10)))
        for stream, starts in ((lone, [4800]), (leap, [0, 960, 1920, 16320])):
            for at in starts:
                af = av.AudioFrame.from_ndarray(np.zeros((1, 960), np.int16), format="s16", layout="mono")
                af.sample_rate, af.pts, af.time_base = 48000, at, Fraction(1, 48000)
                out.mux(stream.encode(af))
    rec = tmp_path / "rec.mkv"
    stats = run_live(str(src), model=str(rule_onnx), output=str(rec), device="cpu")
    with av.open(str(rec)) as c:
        indices = [p.stream.index for p in c.demux(*c.streams.audio) if p.size]
        packets = [indices.count(a.index) for a in c.streams.audio]
    assert packets == [1, 3] and stats["audio_dropped"] == 1  # was [0, 3] and 0: both held packets lost unsaid


class UdpCamera(threading.Thread):
    """A camera that sends MPEG-TS over UDP to ``port`` as it records (H.264, a keyframe every 5 frames,
    timestamps on its own clock), pausing ``pause`` seconds after ``before``, for ``seconds`` in all."""

    def __init__(self, port: int, *, before: float, pause: float, seconds: float) -> None:
        super().__init__(daemon=True)
        self.port, self.before, self.pause, self.seconds = port, before, pause, seconds
        self.halt = threading.Event()

    def run(self) -> None:
        with av.open(f"udp://127.0.0.1:{self.port}?pkt_size=1316", "w", format="mpegts") as out:
            vs = out.add_stream("libx264", rate=25, options={"preset": "ultrafast", "tune": "zerolatency", "g": "5"})
            vs.width, vs.height, vs.pix_fmt = 128, 96, "yuv420p"
            vs.codec_context.time_base = Fraction(1, 90000)
            t0, i, paused = time.monotonic(), 0, False
            while not self.halt.is_set() and time.monotonic() - t0 < self.seconds:
                if not paused and time.monotonic() - t0 > self.before:
                    paused = not self.halt.wait(self.pause)
                vf = av.VideoFrame.from_ndarray(split_frames(i + 1, h=96, w=128)[-1], format="rgb24")
                vf.pts, vf.time_base = round((time.monotonic() - t0) * 90000), Fraction(1, 90000)
                for packet in vs.encode(vf):
                    out.mux(packet)
                i += 1
                self.halt.wait(max(0.0, t0 + i / 25 - time.monotonic()))


def _listening(port: int) -> bool:
    """Whether a UDP socket here is bound to ``port`` (its local address, the second column of /proc/net/udp)."""
    rows = [line.split() for name in ("udp", "udp6") for line in Path(f"/proc/net/{name}").read_text().splitlines()[1:]]
    return any(row[1].endswith(f":{port:04X}") for row in rows)


def _start_when_listening(camera: UdpCamera, after: float = 0.0) -> None:
    """Start ``camera`` ``after`` s from when its receiver holds its port (was: a fixed 0.3 s from the receiver's
    start; one that came up 1.5 s late, a loaded machine's, missed all the pictures before the pause tested)."""
    wait_for(lambda: _listening(camera.port), 30, fail=False)
    time.sleep(after)
    camera.start()


def _received(camera: UdpCamera, after: float, rule_onnx, out: Path, *args: str):
    """``segment-video udp://...`` into ``out`` (CliRunner's result), with ``camera`` started ``after`` s from when it
    listens."""
    result = {}
    runner = threading.Thread(target=lambda: result.update(r=CliRunner().invoke(segment_video_cmd, [
        f"udp://127.0.0.1:{camera.port}", "--model", str(rule_onnx), "-o", str(out), "--device", "cpu", *args])))  # fmt: skip
    runner.start()
    _start_when_listening(camera, after)
    runner.join(40)
    camera.halt.set()
    return result["r"]


@pytest.mark.timeout(60)
def test_a_udp_stream_that_pauses_is_received_again_when_it_comes_back(rule_onnx, tmp_path):
    """A udp:// stream is a port roadseg listens on. The dropped connection was kept open (its packets might
    still be on their way to the recording), holding the port: every reconnect failed with "Address already
    in use" and the run gave up, though the camera was sending again."""
    camera = UdpCamera(free_port(), before=1.5, pause=2.0, seconds=20)
    out = tmp_path / "r.mp4"
    r = _received(camera, 0.0, rule_onnx, out, "--max-frames", "50", "--retry-delay", "0.05", "--stream-timeout", "1",
                  "-q")  # fmt: skip
    assert r.exit_code == 0 and "Address already in use" not in r.output, r.output
    assert "stream lost (no data for 1 s: --stream-timeout 1); reconnecting" in r.output
    # (was: no line said it came back; the progress line went on), after as long as it paused: 2 s (was once 1.0 s,
    # from the pictures the demuxer held till the read timed out)
    back = re.search(r"stream back after (\d+\.\d) s without pictures \(about \d+ frames missed\)", r.output)
    assert back and 1.5 <= float(back[1]) < 4.0, r.output
    seconds = read_video(out)["seconds"]
    assert len(seconds) == 50 and max(b - a for a, b in zip(seconds, seconds[1:])) > 1.0  # (the pause)


@pytest.mark.timeout(60)
def test_a_udp_receiver_started_before_its_sender_waits_for_it(rule_onnx, tmp_path):
    """The receiver is often started first: a udp:// port waits for its first sender (was: 'no data for 5 s:
    timed out; not retried' when the sender came later than that)."""
    camera = UdpCamera(free_port(), before=60, pause=0, seconds=20)
    out = tmp_path / "r.mp4"
    r = _received(camera, 2.5, rule_onnx, out, "--max-frames", "20", "--stream-timeout", "1")  # (the sender starts
    # later than the timeout)
    assert r.exit_code == 0, r.output
    assert f"waiting for a stream to arrive at udp://127.0.0.1:{camera.port} (Ctrl-C to stop)" in r.output
    assert len(read_video(out)["frames"]) == 20


@pytest.mark.timeout(30)
def test_a_taken_serve_port_is_told_before_the_stream_is_waited_for(rule_onnx):
    """The browser view's port is bound before the source opens: a taken one was told only once a camera
    or stream answered, and a udp:// port that waits for its sender never got that far (a run that hung)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "roadseg", "segment", f"udp://127.0.0.1:{free_port()}",
                            "--serve", f"127.0.0.1:{port}", "--model", str(rule_onnx), "--device", "cpu"],
                           capture_output=True, text=True, timeout=20)  # fmt: skip
    assert r.returncode == 1 and r.stderr.strip().splitlines()[-1].startswith(f"Error: cannot serve on 127.0.0.1:{port}"), r.stderr
    assert "waiting for a stream" not in r.stderr


@pytest.mark.timeout(60)
@pytest.mark.parametrize("sig,code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_live_run_ended_by_a_signal_still_writes_its_stats(rule_onnx, tmp_path, sig, code):
    """A camera has no end: Ctrl-C (or a service manager's SIGTERM) is how a live run ends, and its --stats
    (latency, drops) were never written: the run's figures went with the interruption."""
    clip = write_video(tmp_path / "c.mp4", split_frames(250, h=96, w=128))  # 10 s
    out, stats = tmp_path / "r.mp4", tmp_path / "stats.json"
    returned, err = signalled_once_served([str(clip), "-o", str(out), "--stats", str(stats), "--model", str(rule_onnx)], sig)
    assert returned == code and "recording finalised" in err, err
    assert f"statistics written to {stats}" in err.splitlines()[-1] and "Traceback" not in err, err
    figures = json.loads(stats.read_text())
    n = len(read_video(out)["frames"])
    assert figures["frames"] == n > 5 and figures["latency_ms"]["p50"] > 0 and figures["kind"] == "file"


def test_the_browser_views_figures_say_when_no_frames_come():
    """A stream that stalls (or reconnects) leaves the page on its last picture: its figures were those sent
    with that picture, so it said "25.0 frames/s" for as long as nothing came."""
    from roadseg.pipeline.sinks import ServeSink
    from roadseg.pipeline.sources import Frame
    from roadseg.pipeline.timing import FrameStats

    stats = FrameStats()
    image = np.zeros((48, 64, 3), np.uint8)
    with ServeSink("127.0.0.1", 0, ["Road"], [(128, 64, 128)], stats.live) as sink:  # (as the run makes it)
        for i in range(30):  # (1.2 s: a rate once a whole second has passed)
            stats.add(time.monotonic(), time.monotonic() - 0.01)
            sink.write(image, Frame(i, image, i, Fraction(1, 25), captured=time.monotonic()))
            time.sleep(0.04)
        url = f"http://127.0.0.1:{sink.server.port}/stats.json"
        assert json.loads(_get(url))["fps"] > 15
        time.sleep(1.2)  # a stream that stalls
        assert json.loads(_get(url))["fps"] == 0.0


class SilentAfterFirst(Stalling):
    """Sends ``reply`` on the first connection and then holds it open without a byte more; later connections
    are accepted and get nothing: a camera whose stream stalled and that does not come back."""

    def answers(self, n: int) -> bool:
        return n == 1


@pytest.mark.timeout(60)
def test_duration_ends_a_live_run_on_time_while_its_stream_is_lost(rule_onnx, tmp_path):
    """--duration 3 of a stream that stalled after 1 s: the run went on reconnecting past its end, and ended
    in "gave up after 3 reconnects" (exit 1) some 8 s on; it ends at its duration now, as a run that ends well."""
    clip = write_video(tmp_path / "clip.ts", split_frames(25, h=96, w=128))  # 1 s
    out = tmp_path / "r.mp4"
    t0 = time.monotonic()
    with SilentAfterFirst(b"HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\n\r\n" + clip.read_bytes()) as server:
        r = CliRunner().invoke(segment_video_cmd, [server.url, "--model", str(rule_onnx), "-o", str(out), "--duration",
                                                   "3", "--retries", "3", "--retry-delay", "0.5", "--stream-timeout",
                                                   "1", "--device", "cpu", "-q"])  # fmt: skip
    took = time.monotonic() - t0
    assert r.exit_code == 0 and took < 5.5, (took, r.output)
    assert "--duration (3 s) ends before a reconnect: the recording ends there" in r.output, r.output
    assert "gave up" not in r.output
    assert read_video(out)["frames"]


def test_retries_and_retry_delay_that_are_no_count_or_time_are_refused():
    # (were taken: --retry-delay nan waited no time, "reconnecting in nan s"; --retries -1 gave up at once)
    for given in (["--retries", "-1"], ["--retry-delay", "nan"], ["--retry-delay", "-1"], ["--retry-delay", "inf"]):
        r = CliRunner().invoke(segment_video_cmd, ["0", "--show", *given])
        assert r.exit_code == 2 and "Traceback" not in r.output and given[0] in r.output, (given, r.output)


def test_a_stream_timeout_that_is_no_time_above_0_is_refused_in_one_line():
    for given in ("0", "-1", "abc", "nan", "inf"):
        r = CliRunner().invoke(segment_video_cmd, ["0", "--show", "--stream-timeout", given])
        assert r.exit_code == 2 and "Traceback" not in r.output and "--stream-timeout" in r.output, (given, r.output)
    for given in (0, -1.0, "5", True, float("nan")):  # (a library caller's: refused before anything is opened)
        with pytest.raises(ArgumentError, match="^stream_timeout must be a number of seconds above 0, not "):
            run(SegmentOptions("0", show=True, stream_timeout=given))


def test_the_stream_timeout_by_default_is_one_constant_for_the_cli_the_library_and_the_sources():
    """--stream-timeout's default, SegmentOptions.stream_timeout's and a LiveSource's (options.STREAM_TIMEOUT) were
    three 5.0s, written apart."""
    import inspect

    from roadseg.pipeline.sources.capture import LiveSource

    cli = next(p for p in segment_video_cmd.params if p.name == "stream_timeout")
    live = inspect.signature(LiveSource).parameters["timeout"].default
    assert cli.default == SegmentOptions("0").stream_timeout == live == STREAM_TIMEOUT


class StallsOnce(Twice):
    """A live TS stream whose first connection stalls :attr:`stall` s half-way (a camera quiet for a while, a slow
    link) and then goes on; a reconnection gets what follows the stall."""

    stall = 1.5

    def do_GET(self) -> None:  # noqa: N802
        Twice.served += 1
        data = self.clip().read_bytes()
        half = len(data) // 188 // 2 * 188
        self.send_response(200)
        self.send_header("Content-Type", "video/mp2t")
        self.end_headers()  # no length: like a live stream
        with contextlib.suppress(OSError):  # (the first connection, given up on while it stalled)
            if Twice.served == 1:
                self.send(data[:half])
                time.sleep(self.stall)
            self.send(data[half:])
        self.close_connection = True


@pytest.mark.timeout(60)
@pytest.mark.parametrize("timeout, lost", [("1", True), ("3", False)])
def test_stream_timeout_says_how_long_a_quiet_stream_is_waited_for_before_it_is_lost(rule_onnx, tmp_path, timeout,
                                                                                      lost, every_frame_taken):  # fmt: skip
    """A stream quiet for 1.5 s was lost after 5 s, whatever the camera: a motion-triggered one quiet for longer cost
    a reconnect each time, and a LAN's loss could not be noticed sooner. --stream-timeout sets it, for the open and
    the read alike, and the line that says a stream was lost names it."""
    write_video(tmp_path / "clip.ts", split_frames(100, h=96, w=128), codec="mpeg4")
    Twice.served = 0
    out, stats = tmp_path / "r.mp4", tmp_path / "stats.json"
    with serving(partial(StallsOnce, directory=str(tmp_path))) as httpd:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/live.ts"
        r = CliRunner().invoke(segment_video_cmd, [url, "--model", str(rule_onnx), "-o", str(out), "--max-frames", "70",
                                                   "--retries", "1", "--retry-delay", "0.05", "--stream-timeout",
                                                   timeout, "--device", "cpu", "--stats", str(stats), "-q"])  # fmt: skip
    assert r.exit_code == 0, r.output
    said = "stream lost (no data for 1 s: --stream-timeout 1); reconnecting in 0.1 s (attempt 1/1)"
    assert (said in r.output) == lost and ("stream lost" in r.output) == lost, r.output
    assert json.loads(stats.read_text())["reconnects"] == int(lost) and len(read_video(out)["frames"]) == 70


@pytest.mark.timeout(60)
def test_an_rtsp_camera_that_restarts_is_not_taken_for_a_file_played_again(clip, rule_onnx, monkeypatch, tmp_path):
    """FFmpeg starts each RTSP connection's clock at 0, so every reconnection to a restarted camera began "at the
    first connection's first timestamp": it was said to be "a file served without a length" playing again, and
    did not earn its retries back (here: gave up after 40 of the 50 frames asked, exit 1). Only an http(s)
    URL serves files. The stand-in camera is the 2 s clip, each connection from its start."""

    class Live:  # (a live stream has no length: one that ends has dropped)
        def __init__(self) -> None:
            self.inner, self.duration = av.open(str(clip)), None

        def __getattr__(self, name):
            return getattr(self.inner, name)

    monkeypatch.setattr(capture, "open_capture", lambda spec, *a, **kw: Live())
    out = tmp_path / "r.mp4"
    r = CliRunner().invoke(segment_video_cmd, ["rtsp://127.0.0.1:8554/cam", "-o", str(out), "--max-frames", "120",
                                               "--retries", "1", "--retry-delay", "0.01", "--model", str(rule_onnx),
                                               "--device", "cpu", "-q"])  # fmt: skip
    assert r.exit_code == 0 and "began again from its start" not in r.output, r.output
    assert len(read_video(out)["frames"]) == 120


@pytest.mark.timeout(60)
def test_the_live_figures_are_drawn_on_the_views_not_into_the_recording(clip, rule_onnx, monkeypatch, tmp_path):
    """The frames/s and latency box (the HUD) is for people watching; it was burnt into the recording's
    top-right corner as well (white text on black over the picture), for good."""
    window = FakeWindow(quit_after=1000)
    window.install(monkeypatch)
    out, clean = tmp_path / "r.mp4", tmp_path / "clean.mp4"
    run_live(str(clip), model=str(rule_onnx), output=str(out), show=True, device="cpu", max_frames=20)
    run_live(str(clip), model=str(rule_onnx), output=str(clean), device="cpu", max_frames=20)  # (no view: no figures)
    corner = (slice(0, 16), slice(64, 128))  # (where the HUD goes, on the dark right half)
    assert max(f[corner].max() for f in window.shown) > 200  # the window shows it
    recorded, plain = read_video(out)["frames"], read_video(clean)["frames"]
    assert int(max(f[corner].max() for f in recorded)) <= int(max(f[corner].max() for f in plain)) + 20


class QuickMultipart(Multipart):
    """An IP camera's MJPEG over HTTP at 25 frames/s that drops its connection after 20 frames each time."""

    interval = 0.04


@pytest.mark.timeout(60)
def test_an_mjpeg_camera_that_drops_again_and_again_earns_its_retries_back(rule_onnx, tmp_path):
    """Its format has no timestamps of its own: FFmpeg numbers each connection's pictures from 0, which was
    taken for "a file served without a length" playing from its start again, whose reconnects do not earn
    the retries back: --retries 1 gave up at the second drop (exit 1), though each connection delivered."""
    with serving(QuickMultipart) as httpd:
        out = tmp_path / "cam.mp4"
        r = CliRunner().invoke(segment_video_cmd, [f"http://127.0.0.1:{httpd.server_address[1]}/", "-o", str(out),
                                                   "--max-frames", "45", "--retries", "1", "--retry-delay", "0.05",
                                                   "--model", str(rule_onnx), "--device", "cpu", "-q"])  # fmt: skip
    assert r.exit_code == 0 and "began again from its start" not in r.output, r.output
    assert len(read_video(out)["frames"]) == 45


class CutThenAlways(Twice):
    """As :class:`Always`, but the first connection breaks off half-way through the file."""

    first = True

    def do_GET(self) -> None:  # noqa: N802
        if not CutThenAlways.first:
            Twice.served = 0
            super().do_GET()
            return
        CutThenAlways.first = False
        data = open(f"{self.directory}/clip.ts", "rb").read()
        self.send_response(200)
        self.send_header("Content-Type", "video/mp2t")
        self.end_headers()
        self.wfile.write(data[: len(data) // 2 // 188 * 188])
        self.close_connection = True


@pytest.mark.timeout(60)
def test_a_file_served_without_a_length_whose_first_connection_broke_off_is_not_recorded_for_ever(rule_onnx,
                                                                                                tmp_path):  # fmt: skip
    """Each pass went on past where the first connection had broken off, and was taken for a camera that
    restarted, which earns its retries back: the file was recorded again and again (here until the 600
    frames asked, exit 0). A pass counts as going on only past where any connection before it ended."""
    write_video(tmp_path / "clip.ts", split_frames(75, h=96, w=128))  # 3 s
    CutThenAlways.first = True
    r, out = _record_served(CutThenAlways, tmp_path, rule_onnx, "--max-frames", "600", retries=2)
    assert r.exit_code == 1 and "gave up after 2 reconnects" in r.output, r.output
    assert len(read_video(out)["frames"]) <= 4 * 75


@pytest.mark.timeout(120)
@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is installed by .ci/run")
def test_the_browser_view_says_it_waits_for_the_first_frame_not_null(tmp_path):
    """Before the first frame the page said "latency p50 null ms, p95 null ms": the figures' JSON null as it came."""
    from roadseg.pipeline.sinks.server import MjpegServer
    from roadseg.pipeline.timing import FrameStats

    stats = FrameStats()  # (no frame yet: a camera or stream still connecting)
    with MjpegServer("127.0.0.1", 0, ["Road"], [(128, 64, 128)],
                     figures=stats.live) as server:  # fmt: skip
        dom, err = _chromium_dom(server.url, tmp_path / "profile")
    assert 'data-frames="0"' in dom, f"chromium printed {dom[:300]!r}; its stderr ends: {err}"  # (the script ran)
    text = dom.split('id="stats">', 1)[1].split("<", 1)[0]
    assert "null" not in text and "waiting for the first frame" in text, text


@pytest.mark.timeout(30)
def test_a_browser_that_stopped_reading_the_live_view_holds_no_thread_once_the_view_closes():
    """A browser that stops reading its stream (a tab in the background, a stalled network) leaves the server's
    thread for it waiting in a write: it outlived the view's close by up to its socket timeout (10 s), now the
    close ends it."""
    from roadseg.pipeline.sinks.server import MjpegServer

    before = set(threading.enumerate())
    noise = np.random.default_rng(0).integers(0, 255, (480, 640, 3), np.uint8)  # (some 300 kB a JPEG)
    with socket.socket() as browser, MjpegServer("127.0.0.1", 0, ["Road"], [(128, 64, 128)]) as server:
        browser.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        browser.connect(("127.0.0.1", server.port))
        browser.sendall(b"GET /stream.mjpg HTTP/1.0\r\n\r\n")
        for _ in range(60):  # (it reads none of them: the socket buffers fill, and the write waits)
            server.publish(noise)
            time.sleep(0.02)
        t0 = time.monotonic()
        server.close()
        took = time.monotonic() - t0
        left = [t.name for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not left and took < 2.5, (left, took)


class SlowDecoding:
    """A container whose video packets each take ``seconds`` more to decode (a loaded machine)."""

    def __init__(self, container, seconds: float) -> None:
        self.container, self.seconds = container, seconds

    def __getattr__(self, name: str):
        return getattr(self.container, name)

    def demux(self, *streams):
        for packet in self.container.demux(*streams):
            yield SlowPacket(packet, self.seconds) if packet.stream.type == "video" else packet


class SlowPacket:
    def __init__(self, packet, seconds: float) -> None:
        self.packet, self.seconds = packet, seconds

    def __getattr__(self, name: str):
        return getattr(self.packet, name)

    def decode(self):
        time.sleep(self.seconds)
        return self.packet.decode()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["file", "stream"])
def test_live_latency_counts_from_when_a_frame_was_read_not_from_after_decoding(rule_onnx, tmp_path, monkeypatch,
                                                                                kind):  # fmt: skip
    """The latency shown and reported began once a picture was decoded (a file played live: once it had
    waited for its time after that): the time the picture took to get there was left out. Here each video
    packet takes 0.06 s to decode (a loaded machine): it counts now, from when the packet was read (a file
    played live: from when its picture is due)."""
    real = capture.open_capture
    monkeypatch.setattr(capture, "open_capture", lambda *a, **kw: SlowDecoding(real(*a, **kw), 0.06))
    with contextlib.ExitStack() as stack:
        if kind == "file":
            spec = str(write_video(tmp_path / "c.mp4", split_frames(10, h=96, w=128), fps=Fraction(10)))  # 1 s
        else:
            httpd = stack.enter_context(serving(Multipart))  # 10 frames/s
            spec = f"http://127.0.0.1:{httpd.server_address[1]}/"
        stats = run_live(spec, model=str(rule_onnx), output=str(tmp_path / "r.mp4"), device="cpu", max_frames=10)
    assert stats["latency_ms"]["p50"] >= 60, stats["latency_ms"]  # (was about 2 ms)


class CountedDecoding(SlowDecoding):
    """A container that notes how many pictures each video packet's decoding gave."""

    def __init__(self, container, given: list[int]) -> None:
        super().__init__(container, 0.0)
        self.given = given

    def demux(self, *streams):
        for packet in self.container.demux(*streams):
            yield CountedPacket(packet, self.given) if packet.stream.type == "video" else packet


class CountedPacket(SlowPacket):
    def __init__(self, packet, given: list[int]) -> None:
        super().__init__(packet, 0.0)
        self.given = given

    def decode(self):
        frames = self.packet.decode()
        self.given.append(len(frames))
        return frames


@pytest.mark.timeout(60)
def test_a_live_sources_decoder_holds_no_picture_back(rule_onnx, tmp_path, monkeypatch):
    """A live source's pictures are decoded one thread a picture (slice threads only): frame threads hold
    one picture back a thread (FFmpeg starts one a core, and one more), and that was shown as lag: here,
    with 3 threads, the first 2 packets gave no picture, about 0.6 s at 25 frames/s on a 16-core machine.
    The clip has no B-frames (x264's ultrafast), so each packet's picture can come out with it."""
    given: list[int] = []
    real = capture.open_capture
    monkeypatch.setattr(capture, "open_capture", lambda *a, **kw: CountedDecoding(real(*a, **kw), given))
    clip = write_video(tmp_path / "c.mp4", split_frames(10, h=96, w=128), fps=Fraction(10))
    run_live(str(clip), model=str(rule_onnx), output=str(tmp_path / "r.mp4"), device="cpu", max_frames=10)
    assert given[:9] == [1] * 9, given  # (was [0, 0, 1, 1, ...])


def test_a_short_live_runs_frames_per_second_is_the_rate_its_frames_came_at(rule_onnx, tmp_path):
    """Frames over the seconds from the first frame to the last: N frames span N - 1 frame intervals, so a
    short run said more than the camera gives (10 frames of a 10 frames/s file: about 10.9 frames/s)."""
    clip = write_video(tmp_path / "c.mp4", split_frames(10, h=96, w=128), fps=Fraction(10))  # 1 s
    stats = run_live(str(clip), model=str(rule_onnx), output=str(tmp_path / "r.mp4"), device="cpu")
    assert stats["frames"] + stats["dropped"] == 10 and stats["fps"] <= 10.05, stats
    if not stats["dropped"]:  # (a loaded machine may drop one, and show fewer a second)
        assert stats["fps"] == pytest.approx(10.0, abs=0.05)


@pytest.mark.timeout(60)
def test_a_live_runs_masks_are_numbered_as_the_recordings_frames(rule_onnx, tmp_path, monkeypatch):
    """Masks were named by the frame's capture index: with the frames the model skipped, 000007.png was
    the recording's third frame, and the names had gaps. They are numbered as the recording's frames now."""
    src = write_video(tmp_path / "fast.mp4", split_frames(50, h=96, w=128), fps=Fraction(50))  # 1 s at 50 fps
    real = OnnxSegmenter.predict
    monkeypatch.setattr(OnnxSegmenter, "predict", lambda self, frames: (time.sleep(0.1), real(self, frames))[1])
    out, masks = tmp_path / "r.mp4", tmp_path / "masks"
    stats = run_live(str(src), model=str(rule_onnx), output=str(out), device="cpu", masks_dir=str(masks))
    n = len(read_video(out)["frames"])
    assert stats["dropped"] > 10 and n == stats["frames"]
    assert sorted(p.name for p in masks.glob("*.png")) == [f"{i:06d}.png" for i in range(n)]


@pytest.mark.timeout(60)
def test_a_recording_keeps_an_outage_as_long_as_it_was(rule_onnx, tmp_path):
    """A camera that paused 2 s, received again on a new connection: the first connection's pictures came
    ~0.8 s after they arrived (held while it was opened) and were timed so for good; the reconnection's came at
    once, so the recording's gap was 0.8 s short (1.24 s). The gap between connections is as it passed now."""
    port = free_port()
    camera = UdpCamera(port, before=1.5, pause=2.0, seconds=20)
    out = tmp_path / "r.mp4"
    threading.Thread(target=_start_when_listening, args=(camera,), daemon=True).start()  # (the receiver listens first)
    try:
        stats = run_live(f"udp://127.0.0.1:{port}", model=str(rule_onnx), output=str(out), device="cpu",
                         max_frames=60, retry_delay=0.05, stream_timeout=1.0)  # fmt: skip
        # (5 s by default: a 2 s pause would not reconnect)
    finally:
        camera.halt.set()
    seconds = read_video(out)["seconds"]
    gap = max(b - a for a, b in zip(seconds, seconds[1:]))
    assert stats["reconnects"] == 1 and gap == pytest.approx(2.0 + 0.04, abs=0.15)  # (the pause, and a frame)


@pytest.mark.timeout(60)
def test_duration_ends_on_time_while_a_read_waits_on_a_stalled_stream(rule_onnx, tmp_path, caplog):
    """--duration 2.5 of a stream that stalls after 1 s, the read timeout left at its 5 s: the run went on
    until that read timed out, some 5 s after the first frame; it ends at its duration now, in one line."""
    clip = write_video(tmp_path / "clip.ts", split_frames(25, h=96, w=128))  # 1 s
    with SilentAfterFirst(b"HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\n\r\n" + clip.read_bytes()) as server:
        stats = run_live(server.url, model=str(rule_onnx), output=str(tmp_path / "r.mp4"), device="cpu",
                         duration=2.5)  # fmt: skip
    assert stats["seconds"] < 2.5 + 1.0, stats  # (from the source opened to the recording finalised)
    assert re.search(r"sent no picture for \d\.\d s when --duration \(2\.5 s\) ended; the recording ends there",
                     caplog.text), caplog.text  # fmt: skip
    assert "timed out" not in caplog.text and "reconnect" not in caplog.text
    assert read_video(tmp_path / "r.mp4")["frames"]


@pytest.mark.timeout(60)
def test_the_frames_per_second_of_a_stream_sent_in_a_burst_are_its_own(rule_onnx, tmp_path, every_frame_taken):
    """A stream that sends a second of its pictures at once (what a server buffered): over the time they
    arrived in, they said "21 frames shown at 581.08 frames/s"; over the time they show, 25 at most."""
    clip = write_video(tmp_path / "clip.ts", split_frames(25, h=96, w=128))  # 1 s at 25 fps
    with SilentAfterFirst(b"HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\n\r\n" + clip.read_bytes()) as server:
        stats = run_live(server.url, model=str(rule_onnx), output=str(tmp_path / "r.mp4"), device="cpu", duration=1.5)
    assert stats["frames"] > 1 and stats["fps"] <= 25.5, stats


def test_a_packet_held_when_a_live_streams_clock_starts_again_is_recorded(rule_onnx, tmp_path, every_frame_taken):
    """A stream whose clock starts again (two recordings joined) while its sound's timeline holds a packet
    (a stream's only packet waits for the next to say where the stream goes): the timeline was replaced at
    the restart, and the packet lost unsaid."""
    one = tmp_path / "one.ts"
    with av.open(str(one), "w", format="mpegts") as out:
        vs = out.add_stream("libx264", rate=25, options={"preset": "ultrafast"})
        vs.width, vs.height, vs.pix_fmt = 128, 96, "yuv420p"
        sound = out.add_stream("mp2", rate=48000, layout="mono")
        encode_pictures(out, vs, split_frames(25, h=96, w=128))
        af = av.AudioFrame.from_ndarray(np.zeros((1, 1152), np.int16), format="s16", layout="mono")
        af.sample_rate, af.pts, af.time_base = 48000, 4800, Fraction(1, 48000)  # one packet at 0.1 s
        out.mux(sound.encode(af))
        out.mux(sound.encode(None))
    two = write_video(tmp_path / "two.ts", split_frames(25, h=96, w=128))  # no sound
    (joined := tmp_path / "restart.ts").write_bytes(one.read_bytes() + two.read_bytes())
    rec = tmp_path / "rec.mkv"
    stats = run_live(str(joined), model=str(rule_onnx), output=str(rec), device="cpu")
    with av.open(str(rec)) as c:
        packets = [p for p in c.demux(*c.streams.audio) if p.size]
    assert len(packets) + stats["audio_dropped"] == 1  # was 0 and 0


@pytest.mark.timeout(60)
def test_ctrl_c_while_a_read_waits_on_a_stalled_stream_ends_the_run_at_once(rule_onnx, tmp_path):
    """The thread that reads waits in FFmpeg (up to its 5 s read timeout) and cannot be cut short: Ctrl-C
    waited 2 s for it (the runner's join timeout) before the recording was finalised; it is left to end on
    its own now, and closes its connection itself."""
    import signal

    clip = write_video(tmp_path / "clip.ts", split_frames(25, h=96, w=128))  # 1 s
    out = tmp_path / "r.mp4"
    with SilentAfterFirst(b"HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\n\r\n" + clip.read_bytes()) as server:
        proc = subprocess.Popen([sys.executable, "-m", "roadseg", "segment", server.url, "-o", str(out), "--model",
                                 str(rule_onnx), "--device", "cpu", "-q"], stderr=subprocess.PIPE, text=True)  # fmt: skip
        wait_for(lambda: out.exists() and out.stat().st_size > 0 or proc.poll() is not None, timeout=30)
        time.sleep(1.0)  # (the stream has stalled: its whole second was sent at once)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
        took = time.monotonic() - t0
    assert proc.returncode == 130 and "recording finalised" in err and "Traceback" not in err, err
    assert took < 1.5, took  # (was 2.1)
    assert read_video(out)["frames"]


@pytest.mark.timeout(20)
def test_a_ctrl_c_while_the_microphone_closes_never_closes_the_device_under_its_read(monkeypatch):
    """``AudioInput.close`` waited in ``Thread.join``: a Ctrl-C there left CPython 3.11 reporting the reading
    thread stopped (bpo-45274), and the next close closed the device under the read still inside PyAV (a crash
    where FFmpeg reads a freed context). It now waits on an event, and a read it cannot wait out is abandoned
    (the CLI then leaves with ``os._exit``)."""
    import os
    import signal
    import threading
    import time

    from roadseg.pipeline.runner import abandoned_calls, spawn
    from roadseg.pipeline.sources import microphone

    inside, release, closed_while_reading = threading.Event(), threading.Event(), []

    class Device:
        def demux(self, stream):
            inside.set()
            release.wait(10)  # (a read of a device that sends nothing: inside FFmpeg)
            return iter(())

        def close(self):
            closed_while_reading.append(not release.is_set())

    monkeypatch.setattr(microphone, "JOIN_TIMEOUT", 0.6)
    mic = microphone.AudioInput.__new__(microphone.AudioInput)
    mic.spec, mic.container, mic.stream, mic.dropped = "alsa:x", Device(), None, 0
    mic._queue = microphone.queue.Queue()
    mic._stop, mic._done = threading.Event(), threading.Event()
    mic._thread = spawn(mic._read, "audio-input")
    assert inside.wait(5)
    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            mic.close()
            time.sleep(1)  # (the close waited it out without a signal: the signal comes here)
        mic.close()  # (an owner's second close, as an ExitStack's after an explicit one)
        assert closed_while_reading == []
        assert mic._thread in abandoned_calls()
    finally:
        timer.join()
        release.set()
        mic._thread.join(5)


@pytest.mark.parametrize("ext", ["mp4", "ts"])
def test_a_live_recording_of_a_29_97_source_states_29_97_and_keeps_each_pictures_step(rule_onnx, tmp_path, ext,
                                                                                       every_frame_taken):  # fmt: skip
    """A live recording was stamped in milliseconds: a 30000/1001 file played live stepped 33 and 34 ms, its mp4
    stated 29.959 frames/s. On 90 kHz each step is the source's 3003 ticks (or a whole number of them, where the
    model skipped a frame)."""
    step = Fraction(1001, 30000)
    clip = write_video(tmp_path / "c.mp4", split_frames(45, h=96, w=128), fps=1 / step)  # 1.5 s
    out = tmp_path / f"r.{ext}"
    stats = run_live(str(clip), model=str(rule_onnx), output=str(out), device="cpu")
    with av.open(str(out)) as c:
        stream = c.streams.video[0]
        times = sorted(p.pts * p.time_base for p in c.demux(stream) if p.pts is not None)
        rate = stream.average_rate
    assert len(times) == stats["frames"] > 30
    frames = [(b - a) / step for a, b in zip(times, times[1:])]
    assert all(round(f) >= 1 and abs(f - round(f)) * step < Fraction(1, 50000) for f in frames), frames
    if not stats["dropped"]:  # (a loaded machine may drop one: a step of two frames, fewer a second)
        assert float(rate) == pytest.approx(30000 / 1001, abs=0.001)


def test_a_live_source_that_ends_before_any_picture_says_so_and_removes_its_empty_recording(rule_onnx, tmp_path,
                                                                                              monkeypatch):
    """Fault injection: a live source whose pictures all fail to come (it opened, then gave none) ends the run with
    one line and exit code 1, its empty recording removed and said so (``run._no_frames``)."""
    src = write_video(tmp_path / "clip.mp4", split_frames(10, h=48, w=64))
    monkeypatch.setattr(capture.LiveSource, "__iter__", lambda self: iter(()))
    out = tmp_path / "r.mp4"
    r = CliRunner().invoke(segment_video_cmd, [str(src), "--live", "--model", str(rule_onnx), "-o", str(out),
                                               "--device", "cpu"])  # fmt: skip
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    assert f"no decodable video frames came from {src}; removed the empty " in r.output and str(out) in r.output
    assert not out.exists()


def _raw(path: Path, rate: int, pictures: int, timed: bool = True) -> Path:
    """A raw H.264 stream (``path``: ``.h264``) of ``pictures`` at ``rate`` frames/s, its SPS stating it (``timed``) or
    none (its VUI timing taken out: read at 25), as ``test_raw_streams`` makes them (x264 with B-frames)."""
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=rate)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        vs.options = {"preset": "veryfast", "bf": "3", "g": str(rate)}
        encode_pictures(out, vs, split_frames(pictures, h=48, w=64))
    if not timed:
        sps = re.compile(rb"(?<=\x00\x00\x01\x67).*?(?=\x00\x00\x00?\x01)", re.S)
        path.write_bytes(sps.sub(lambda m: _untimed_sps(m.group()), path.read_bytes()))
    return path


@pytest.mark.parametrize(("rate", "timed", "stated"), [(10, True, 10), (30, False, 25)])
def test_a_raw_stream_played_live_is_paced_and_recorded_at_its_rate(rule_onnx, tmp_path, rate, timed, stated,
                                                                     every_frame_taken):  # fmt: skip
    """A raw H.264/HEVC stream's packets have no time: played live, it was not paced (2 s at 10 frames/s played in
    about 0.1 s, its recording's pictures as they came out of the model). Its pictures are placed by their count at
    its one rate (the SPS's, else 25: ``framerates.untimed_rate``), paced and recorded at it."""
    raw = _raw(tmp_path / "dvr.h264", rate, 2 * stated, timed)  # (2 s at the rate it is read at)
    out = tmp_path / "r.mp4"
    t0 = time.monotonic()
    stats = run_live(str(raw), model=str(rule_onnx), output=str(out), device="cpu")
    assert time.monotonic() - t0 >= 1.8, time.monotonic() - t0  # (the last picture due 1.9 s after the first)
    with av.open(str(out)) as c:
        stream = c.streams.video[0]
        times = sorted(p.pts * p.time_base for p in c.demux(stream) if p.pts is not None)
    assert len(times) == stats["frames"] > 10
    steps = [(b - a) * stated for a, b in zip(times, times[1:])]  # (in frames: whole ones, where the model skipped)
    assert all(s == round(s) >= 1 for s in steps), steps
    assert times[-1] - times[0] == pytest.approx(2 - 1 / stated, abs=0.5 / stated)  # (the last picture is kept)
