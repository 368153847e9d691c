"""Live segmentation: cameras, network streams, or a file played in real time (``--live``).

A live source keeps only the newest frame (:class:`~roadseg.pipeline.runner.LatestQueue`): when
inference is slower than the camera, frames are dropped at the source and counted, never queued,
so latency stays bounded. Every frame carries its capture time; the stats report capture-to-display
latency percentiles. Outputs: a window (``show``), a browser page (``serve``), a recording (``record``).

Example:
    >>> stats = run_live("sample_videos/road.mp4", LiveOptions(record="/tmp/live.mp4", max_frames=10,
    ...                  size=(90, 120)))                                        # doctest: +SKIP
    >>> stats["latency_ms"]["p95"] > 0                                            # doctest: +SKIP
    True
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from roadseg.pipeline.sinks import SinkError, VideoSink
from roadseg.pipeline.sources import Frame, SourceError

log = logging.getLogger("roadseg")
STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "rtmps://", "http://", "https://", "udp://", "tcp://", "srt://")


def is_live_input(spec: str) -> bool:
    """A webcam index (``0``), a device path (``/dev/video0``) or a stream URL."""
    return spec.isdigit() or spec.startswith("/dev/video") or spec.lower().startswith(STREAM_SCHEMES)


def capture_args(spec: str) -> tuple[str, str | None, dict[str, str], str]:
    """(url, format, options, kind) for ``av.open``; kind is ``camera``, ``stream`` or ``file``."""
    if spec.isdigit() or spec.startswith("/dev/video"):
        return (f"/dev/video{spec}" if spec.isdigit() else spec), "v4l2", {}, "camera"
    if spec.lower().startswith(STREAM_SCHEMES):
        opts = {"rtsp_transport": "tcp"} if spec.lower().startswith("rtsp") else {}
        return spec, None, opts, "stream"
    return spec, None, {}, "file"


def open_capture(spec: str):
    """Open a camera, stream or file with PyAV; open and read both time out after 5 s."""
    url, fmt, opts, _ = capture_args(spec)
    return av.open(url, format=fmt, options=opts, timeout=(5.0, 5.0))


class LiveSource:
    """Frames stamped with their capture time; streams reconnect with backoff, cameras end cleanly.

    Args:
        spec: webcam index, device path, stream URL, or a file (played in real time when ``pace``).
        pace: sleep so that a file plays at its own frame rate (default: on for files).
        retries: reconnect attempts for a stream that drops (delays double from ``retry_delay``).
        stop: set it to end the source (also ends a reconnect wait).
    """

    def __init__(self, spec: str, *, pace: bool | None = None, retries: int = 5, retry_delay: float = 1.0,
                 stop: threading.Event | None = None) -> None:  # fmt: skip
        self.spec = str(spec)
        self.kind = capture_args(self.spec)[3]
        self.pace = self.kind == "file" if pace is None else pace
        self.retries, self.retry_delay = retries, retry_delay
        self.stop = stop or threading.Event()
        self.reconnects = 0
        self.last_time: float | None = None
        self.container = self._open()
        s = self.container.streams.video[0]
        self.width, self.height = s.codec_context.width, s.codec_context.height
        self.fps = float(s.average_rate or s.guessed_rate or 30)

    def _open(self):
        what = {"camera": "camera", "stream": "stream", "file": "file"}[self.kind]
        try:
            container = open_capture(self.spec)
        except (av.error.FFmpegError, OSError) as exc:
            raise SourceError(f"cannot open {what} {self.spec}: {str(exc).splitlines()[0]}") from None
        if not container.streams.video:
            container.close()
            raise SourceError(f"no video stream in {what} {self.spec}")
        container.streams.video[0].thread_type = "AUTO"
        return container

    def close(self) -> None:
        if self.container is not None:
            self.container.close()

    def __iter__(self) -> Iterator[Frame]:
        index, attempt = 0, 0
        while not self.stop.is_set():
            if self.container is None:  # a reconnect
                try:
                    self.container = self._open()
                    self.reconnects += 1
                    continue
                except SourceError as exc:
                    reason = str(exc)
            else:
                reason = "end of stream"
                try:
                    for frame in self._frames(index):
                        attempt = 0  # a stream that delivers again earns its retries back
                        index += 1
                        yield frame
                        if self.stop.is_set():
                            return
                except (av.error.FFmpegError, OSError) as exc:
                    reason = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
                if reason == "end of stream" and (self.kind == "file" or self._finished()):
                    return
                if self.kind == "camera":
                    raise SourceError(f"camera {self.spec} stopped delivering frames ({reason}); unplugged?")
                self.container.close()
                self.container = None
            attempt += 1
            if attempt > self.retries:
                raise SourceError(f"stream {self.spec} lost ({reason}); gave up after {self.retries} reconnects")
            delay = min(self.retry_delay * 2 ** (attempt - 1), 30.0)
            log.warning("stream lost (%s); reconnecting in %.1f s (attempt %d/%d)", reason, delay, attempt, self.retries)
            if self.stop.wait(delay):
                return

    def _finished(self) -> bool:
        """A stream of finite media (an HTTP-served file) that reached its end did not drop."""
        duration = self.container.duration
        return duration is not None and self.last_time is not None and self.last_time >= duration / av.time_base - 0.5

    def _frames(self, first_index: int) -> Iterator[Frame]:
        t0, pts0 = time.monotonic(), None
        for vf in self.container.decode(video=0):
            if self.pace and vf.pts is not None and vf.time_base is not None:
                pts0 = vf.pts if pts0 is None else pts0
                due = t0 + float((vf.pts - pts0) * vf.time_base)
                if self.stop.wait(max(0.0, due - time.monotonic())):
                    return
            captured = time.monotonic()
            if vf.pts is not None and vf.time_base is not None:
                self.last_time = float(vf.pts * vf.time_base)
            yield Frame(first_index, vf.to_ndarray(format="rgb24"), vf.pts, vf.time_base, captured)
            first_index += 1


class StopRequested(Exception):
    """A viewer asked to quit (q or Esc in the window)."""


class WindowSink:
    """An OpenCV window; q or Esc ends the run. Needs a GUI build of OpenCV and a display."""

    def __init__(self, title: str = "roadseg") -> None:
        self.title = title
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        except cv2.error:
            raise SinkError("--show needs OpenCV with GUI support and a display: pip install opencv-python "
                            "(instead of opencv-python-headless), or use --serve HOST:PORT") from None  # fmt: skip

    def show(self, image: np.ndarray, frame: Frame) -> None:
        cv2.imshow(self.title, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
            raise StopRequested()

    def close(self) -> None:
        try:
            cv2.destroyWindow(self.title)
        except cv2.error:
            pass


class RecordSink:
    """Record what is shown, with wall-clock timestamps (ms since the first frame)."""

    def __init__(self, path: str | Path, width: int, height: int, fps: float, **encoder) -> None:
        self.sink = VideoSink(path, width=width, height=height, fps=Fraction(fps).limit_denominator(1001),
                              time_base=Fraction(1, 1000), **encoder)  # fmt: skip
        self.t0: float | None = None

    def show(self, image: np.ndarray, frame: Frame) -> None:
        now = frame.captured or time.monotonic()
        self.t0 = now if self.t0 is None else self.t0
        self.sink.write(image, round((now - self.t0) * 1000), Fraction(1, 1000))

    def close(self) -> None:
        self.sink.close()


class LiveStats:
    """Frames shown, frames/s over the last second, capture-to-display latency percentiles."""

    def __init__(self) -> None:
        self.latencies: deque[float] = deque(maxlen=20_000)
        self.shown: deque[float] = deque(maxlen=240)
        self.frames = 0
        self.dropped = 0
        self.start = time.monotonic()

    def add(self, latency: float, now: float) -> None:
        self.latencies.append(latency)
        self.shown.append(now)
        self.frames += 1

    @property
    def fps(self) -> float:
        recent = [t for t in self.shown if t > self.shown[-1] - 1.0] if self.shown else []
        return (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 1 and recent[-1] > recent[0] else 0.0

    def latency_ms(self) -> dict:
        if not self.latencies:
            return {"p50": None, "p95": None, "max": None}
        arr = np.array(self.latencies) * 1000
        return {"p50": round(float(np.percentile(arr, 50)), 1), "p95": round(float(np.percentile(arr, 95)), 1),
                "max": round(float(arr.max()), 1)}  # fmt: skip

    def summary(self) -> dict:
        seconds = time.monotonic() - self.start
        captured = self.frames + self.dropped
        return {"frames": self.frames, "dropped": self.dropped, "seconds": round(seconds, 2),
                "fps": round(self.frames / seconds, 2) if seconds else None, "latency_ms": self.latency_ms(),
                "drop_rate": round(self.dropped / captured, 3) if captured else 0.0}  # fmt: skip


def draw_hud(image: np.ndarray, fps: float, latency_ms: float, dropped: int) -> None:
    """FPS, latency and drops in the top-right corner, in place."""
    text = f"{fps:5.1f} fps  {latency_ms:5.0f} ms  drop {dropped}"
    scale = max(0.4, image.shape[0] / 900)
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    x, y = image.shape[1] - tw - 8, th + 8
    cv2.rectangle(image, (x - 4, 2), (image.shape[1] - 2, y + 6), (0, 0, 0), -1)
    cv2.putText(image, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)


@dataclass(frozen=True)
class LiveOptions:
    model: str | None = None
    size: tuple[int, int] | None = None
    alpha: float = 0.5
    mode: str = "overlay"
    legend: bool = False
    providers: str = "auto"
    threads: int = 0
    show: bool = False
    serve: tuple[str, int] | None = None
    record: str | None = None
    overwrite: bool = False
    pace: bool | None = None
    retries: int = 5
    retry_delay: float = 1.0
    max_frames: int | None = None
    hud: bool = True
    crf: int = 23
    preset: str = "superfast"
