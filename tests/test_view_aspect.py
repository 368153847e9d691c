"""The live views of anamorphic video (pixels not square: HDV's 1440x1080 at 4:3, PAL DV's 720x576 at 64:45): the
``--show`` window and the ``--serve`` streams showed the stored pixels as if square, the picture squeezed; they show it
at the shape it plays at now, its live figures drawn after the stretch (their text not stretched with it)."""

from __future__ import annotations

import socket
import threading
import time
from fractions import Fraction

import cv2
import numpy as np
import pytest
from conftest import write_video

import roadseg.pipeline.sinks.server as server_module
import roadseg.pipeline.sinks.window as window
from roadseg.pipeline import SegmentOptions, run
from roadseg.pipeline.overlay import Overlay, draw_hud, palette_lut
from roadseg.pipeline.queues import LatestQueue
from roadseg.pipeline.sinks import MjpegServer, ServeSink, Sink, WindowSink
from roadseg.pipeline.sinks.shown import Figures, as_shown, display_size
from roadseg.pipeline.sources import Frame
from roadseg.pipeline.timing import FrameStats, Progress, StageTimes
from roadseg.pipeline.writer import Writer


@pytest.mark.parametrize(("stored", "sar", "shown"), [((1440, 1080), Fraction(4, 3), (1920, 1080)),
                                                      ((720, 576), Fraction(64, 45), (1024, 576)),
                                                      ((720, 480), Fraction(10, 11), (720, 528)),
                                                      ((640, 360), None, (640, 360))])  # fmt: skip
def test_a_picture_is_shown_stretched_to_its_display_shape_never_squeezed(stored, sar, shown):
    assert display_size(*stored, sar) == shown
    assert as_shown(np.zeros((stored[1], stored[0], 3), np.uint8), sar).shape == (shown[1], shown[0], 3)


class Recorded(Sink):
    """A sink that keeps what it is given: a view (``shows``) or a recording."""

    def __init__(self, shows: bool) -> None:
        self.shows, self.got = shows, []

    def write(self, image: np.ndarray, frame: Frame) -> None:
        self.got.append(image.copy())


def _writer(sinks: list[Sink], sar: Fraction | None) -> Writer:
    return Writer(Overlay(palette_lut([[0, 0, 0], [255, 0, 0]])), sinks, StageTimes(), FrameStats(),
                  Progress(1, "clip", enabled=False), stop=threading.Event(), dropped=LatestQueue(), max_frames=None,
                  hud=True, shares=None, sample_aspect=sar)  # fmt: skip


def _box_width(image: np.ndarray) -> int:
    """How wide the figures' black box is, along its top row (the picture under it is grey)."""
    return int((image[4] == 0).all(axis=1).sum())


def test_the_views_are_given_the_picture_at_its_display_shape_its_figures_drawn_after():
    """The window's and the browser view's picture of a 480x360 4:3 frame is 640x360, its figures drawn on it as on a
    640x360 picture (not drawn on 480 px and stretched); a recording beside them keeps the stored pixels, no figures."""
    view, recording = Recorded(shows=True), Recorded(shows=False)
    writer = _writer([recording, view], Fraction(4, 3))
    writer.write(Frame(0, np.full((360, 480, 3), 90, np.uint8), 0, None, captured=time.monotonic() - 0.04,
                       labels=np.zeros((360, 480), np.uint8)))  # fmt: skip
    (shown,), (recorded,) = view.got, recording.got
    assert shown.shape == (360, 640, 3) and recorded.shape == (360, 480, 3)
    assert (recorded == recorded[0, 0]).all()  # (no figures on the recording)
    square = np.full((360, 640, 3), 45, np.uint8)
    draw_hud(square, None, 40.0, 0)
    assert _box_width(shown) == _box_width(square) > 100  # (the figures as wide as on a square-pixeled picture)
    assert (shown[40:] == shown[40, 0]).all()  # (below them, the picture stretched)


def _headless_window(monkeypatch) -> list[np.ndarray]:
    """The pictures a ``--show`` window is given, without a display: OpenCV's calls recorded."""
    shown: list[np.ndarray] = []
    monkeypatch.setattr(window, "no_display", lambda: False)
    monkeypatch.setattr(window.cv2, "namedWindow", lambda *args: None)
    monkeypatch.setattr(window.cv2, "imshow", lambda title, image: shown.append(image))
    monkeypatch.setattr(window.cv2, "waitKey", lambda delay: -1)
    monkeypatch.setattr(window.cv2, "getWindowProperty", lambda *args: 1.0)
    monkeypatch.setattr(window.cv2, "destroyWindow", lambda *args: None)
    return shown


def test_the_window_shows_an_anamorphic_picture_at_its_display_shape(monkeypatch):
    """The ``--show`` window (no display here: OpenCV's calls recorded) is given a 720x576 64:45 DV frame as 1024x576."""
    shown = _headless_window(monkeypatch)
    sink = WindowSink()
    writer = _writer([sink], Fraction(64, 45))
    writer.write(Frame(0, np.zeros((576, 720, 3), np.uint8), 0, None, labels=np.zeros((576, 720),
                                                                                                      np.uint8)))  # fmt: skip
    sink.close()
    assert [image.shape for image in shown] == [(576, 1024, 3)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _first_jpeg(port: int, deadline: float) -> bytes:
    """The first picture of ``/stream.mjpg`` on ``port``, its part read by its Content-Length."""
    while True:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            break
        except ConnectionRefusedError:
            assert time.monotonic() < deadline, "the run served nothing"
            time.sleep(0.05)
    with sock, sock.makefile("rb") as stream:
        sock.sendall(b"GET /stream.mjpg HTTP/1.0\r\n\r\n")
        length = None
        while length is None:
            line = stream.readline()
            assert line, "the stream ended before a picture"
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        while stream.readline() not in (b"\r\n", b""):
            pass
        return stream.read(length)


@pytest.mark.timeout(60)
def test_the_browser_views_stream_of_an_hdv_shaped_clip_is_at_its_display_size(tmp_path, rule_onnx):
    """``--live --serve`` of a 480x360 clip whose pixels are 4:3 (HDV's shape, small): ``/stream.mjpg`` sends it
    640x360, as it plays (was 480x360: squeezed)."""
    clip = write_video(tmp_path / "hdv.mp4", [np.full((360, 480, 3), 90, np.uint8)] * 75, sample_aspect=Fraction(4, 3))
    port, got = _free_port(), {}

    def read() -> None:
        got["jpeg"] = _first_jpeg(port, time.monotonic() + 30)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    run(SegmentOptions(str(clip), live=True, serve=("127.0.0.1", port), model=str(rule_onnx), device="cpu"))
    reader.join(10)
    assert "jpeg" in got, "no picture was read from /stream.mjpg"
    picture = cv2.imdecode(np.frombuffer(got["jpeg"], np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape == (360, 640, 3)


def test_the_browser_views_picture_is_made_once_in_a_clients_thread_not_in_the_runs(monkeypatch):
    """The run's writer hands the browser view its picture as drawn and goes on: the stretch, the figures and the
    JPEG are made by the first client's thread that sends it, once for all clients, none while no client asks (was:
    all in the writer's thread at every picture, for no one too); the picture published is a copy of the caller's."""
    made, encode = [], server_module.cv2.imencode
    monkeypatch.setattr(server_module.cv2, "imencode",
                        lambda *args: (made.append(threading.current_thread().name), encode(*args))[1])  # fmt: skip
    picture, sent = np.full((360, 480, 3), 90, np.uint8), []
    with MjpegServer("127.0.0.1", 0, ["Road"], [(128, 64, 128)]) as server:
        server.publish(picture, captured=1.0, figures=Figures(25.0, 40.0, 0), sample_aspect=Fraction(4, 3))
        picture[:] = 0  # (the caller's own picture, changed once published)
        assert made == []
        clients = [threading.Thread(target=lambda: sent.append(server.wait_frame(-1)), name=f"client-{i}")
                   for i in range(2)]  # fmt: skip
        for client in clients:
            client.start()
        for client in clients:
            client.join(10)
    assert len(made) == 1 and made[0].startswith("client-"), made
    assert [seq for _, seq in sent] == [1, 1] and sent[0][0] == sent[1][0]
    shown = cv2.imdecode(np.frombuffer(sent[0][0].jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert shown.shape == (360, 640, 3) and abs(int(shown[200, 300].mean()) - 90) <= 3
    assert _box_width(shown) > 100  # (its figures drawn)


def test_a_window_and_the_browser_view_beside_it_share_one_stretch(monkeypatch):
    """``--show`` and ``--serve`` together: the picture as shown (stretched, its figures drawn) is made once, in the
    writer's thread for the window, and the browser view sends that one (was: stretched and its figures drawn again
    in the browser's thread); both show it at its display shape, its figures on it."""
    stretched, resize = [], cv2.resize
    monkeypatch.setattr(cv2, "resize", lambda image, size, **kw: (stretched.append(size), resize(image, size, **kw))[1])
    seen = _headless_window(monkeypatch)
    view = ServeSink("127.0.0.1", 0, ["Road"], [(128, 64, 128)], dict)
    try:
        writer = _writer([WindowSink(serving=True), view], Fraction(4, 3))
        writer.write(Frame(0, np.full((360, 480, 3), 90, np.uint8), 0, None, captured=time.monotonic() - 0.04,
                           labels=np.zeros((360, 480), np.uint8)))  # fmt: skip
        picture, seq = view.server.wait_frame(-1)
    finally:
        view.close()
    assert stretched == [(640, 360)]
    sent = cv2.imdecode(np.frombuffer(picture.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert [image.shape for image in seen] == [(360, 640, 3)] and sent.shape == (360, 640, 3) and seq == 1
    assert _box_width(seen[0]) > 100 and abs(_box_width(sent) - _box_width(seen[0])) <= 4  # (on both; JPEG's edge)


def test_a_picture_that_needs_no_stretch_is_encoded_as_kept_and_sent_again_on_a_copy():
    """A square-pixeled picture without figures (one a window beside the browser view had made) is encoded as the
    server keeps it, not copied first (was: a copy of each, 6 MB at 1080p, for nothing); one sent again while the
    source is silent is drawn on a copy: the picture kept stays as it was."""
    picture = np.full((360, 640, 3), 90, np.uint8)
    with MjpegServer("127.0.0.1", 0, ["Road"], [(128, 64, 128)]) as server:
        server.publish(picture, captured=1.0)
        latest = server._latest
        assert latest.shown() is latest.image
        first, seq = server.wait_frame(-1)
        server._latest = latest._replace(at=latest.at - server_module.STALE)
        again, _ = server.wait_frame(seq, again=0.01)
    assert again.jpeg != first.jpeg and (latest.image == picture).all()
