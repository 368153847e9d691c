"""What a live source's input is and how it is opened: a webcam (an index or a device path, opened with the
options asked of it: :func:`camera_options`), a stream URL (one that :func:`listens` waits for its sender), or a
file; opened by :func:`open_capture`, which times out after :data:`TIMEOUT` s, as a read does
(:func:`read_failure`). :class:`~roadseg.pipeline.sources.capture.LiveSource` opens its first connection through
:func:`~roadseg.pipeline.sources.capture.first_open`, the next ones by :func:`open_capture`.

Example:
    >>> is_live_input("0"), is_live_input("rtsp://cam/stream"), is_live_input("clip.mp4")
    (True, True, False)
"""

from __future__ import annotations

import av

from roadseg.errors import reason_of
from roadseg.pipeline.sources.containers import open_container

HTTP_SCHEMES = ("http://", "https://")  # the stream URLs that may be files (open_url)
STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "rtmps://", "http://", "https://", "udp://", "tcp://", "srt://")
TIMEOUT = 5.0  # seconds a camera or stream may take to open, and may send nothing while it is read


def listens(spec: str) -> bool:
    """Whether ``spec`` is a port this machine receives a stream on (``udp://``, ``srt://...?mode=listener``),
    which waits for its sender rather than reaching out to one.

    >>> listens("udp://0.0.0.0:5000"), listens("srt://:9000?mode=listener"), listens("rtsp://cam/1")
    (True, True, False)
    """
    low = spec.lower()
    return low.startswith("udp://") or low.startswith("srt://") and "mode=listener" in low


def is_live_input(spec: str) -> bool:
    """A webcam index (``0``), a device path (``/dev/video0``) or a stream URL."""
    return spec.isdigit() or spec.startswith("/dev/video") or spec.lower().startswith(STREAM_SCHEMES)


def capture_args(spec: str, camera: dict[str, str] | None = None) -> tuple[str, str | None, dict[str, str], str]:
    """(url, format, options, kind) for ``av.open``; kind is ``camera``, ``stream`` or ``file``.
    ``camera``: what to ask a camera for (:func:`camera_options`).

    >>> capture_args("0", camera_options(size=(1280, 720), fps=30, format="mjpeg"))
    ('/dev/video0', 'v4l2', {'video_size': '1280x720', 'framerate': '30', 'input_format': 'mjpeg'}, 'camera')
    """
    if spec.isdigit() or spec.startswith("/dev/video"):
        return (f"/dev/video{spec}" if spec.isdigit() else spec), "v4l2", dict(camera or {}), "camera"
    if spec.lower().startswith(STREAM_SCHEMES):
        opts = {"rtsp_transport": "tcp"} if spec.lower().startswith("rtsp") else {}
        return spec, None, opts, "stream"
    return spec, None, {}, "file"


def camera_options(size: tuple[int, int] | None = None, fps: float | None = None,
                   format: str | None = None) -> dict[str, str]:  # fmt: skip
    """FFmpeg's options for a camera (Video4Linux2): ``size`` (width, height), frames/s, its own format."""
    asked = {"video_size": size and f"{size[0]}x{size[1]}", "framerate": fps and f"{fps:g}", "input_format": format}
    return {k: v for k, v in asked.items() if v}


def open_capture(spec: str, hwaccel: str | None = None, camera: dict[str, str] | None = None, *, wait: bool = False):
    """Open a camera, stream or file with PyAV; open and read both time out after :data:`TIMEOUT` s
    (``wait``: the open does not: a port waiting for its first sender)."""
    url, fmt, opts, kind = capture_args(spec, camera)
    return open_container(url, what=kind, format=fmt, options=opts, timeout=(None if wait else TIMEOUT, TIMEOUT),
                          hwaccel=hwaccel)  # fmt: skip


def read_failure(exc: BaseException) -> str:
    """Why a read of a live source failed, in a few words: the read timeout said as one (FFmpeg's own
    words for it are "Immediate exit requested"), else the error's first line.

    >>> read_failure(av.error.ExitError(1414092869, "Immediate exit requested")), read_failure(OSError(5, "I/O error"))
    ('no data for 5 s: timed out', 'I/O error')
    """
    return f"no data for {TIMEOUT:g} s: timed out" if isinstance(exc, av.error.ExitError) else reason_of(exc)
