"""What a live source's input is and how it is opened: a webcam (an index or a device path, opened with the
options asked of it: :func:`camera_options`), a stream URL (one that :func:`listens` waits for its sender), or a
file; opened by :func:`open_capture`, which times out after ``timeout`` s (``--stream-timeout``; :data:`~roadseg.pipeline.options.STREAM_TIMEOUT` unless
told), as a read does (:func:`read_failure`). :class:`~roadseg.pipeline.sources.capture.LiveSource` opens its first connection through
:func:`~roadseg.pipeline.sources.capture.first_open`, the next ones by :func:`open_capture`. An http(s) URL read as a
file that gives no picture for want of the server's byte ranges is said to be so by :func:`url_file`.

Example:
    >>> is_live_input("0"), is_live_input("rtsp://cam/stream"), is_live_input("clip.mp4")
    (True, True, False)
"""

from __future__ import annotations

import errno
import os
import re
import time
from collections.abc import Callable
from typing import TypeVar

import av

from roadseg.errors import SourceError, reason_of
from roadseg.pipeline.options import STREAM_TIMEOUT
from roadseg.pipeline.sources.containers import open_container, redacted

HTTP_SCHEMES = ("http://", "https://")  # the stream URLs that may be files (open_url)
#: where Linux names its cameras: ``/dev/videoN``, and udev's lasting names of them (``/dev/v4l/by-id/``, ``/dev/v4l/by-path/``)
CAMERA_PATHS = re.compile(r"/dev/video[0-9]+|/dev/v4l/.+", re.DOTALL)
_INDEX = re.compile(r"[0-9]+")  # a camera's index: ASCII digits ("²".isdigit() is True; /dev/video² is no camera)
STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "rtmps://", "http://", "https://", "udp://", "tcp://", "srt://")
T = TypeVar("T")
_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]+)://")  # (a scheme of two letters or more: not a drive's C://)


def listens(spec: str) -> bool:
    """Whether ``spec`` is a port this machine receives a stream on (``udp://``, ``srt://...?mode=listener``),
    which waits for its sender rather than reaching out to one.

    >>> listens("udp://0.0.0.0:5000"), listens("srt://:9000?mode=listener"), listens("rtsp://cam/1")
    (True, True, False)
    """
    low = spec.lower()
    return low.startswith("udp://") or low.startswith("srt://") and "mode=listener" in low


def is_live_input(spec: str) -> bool:
    """A camera (:func:`names_camera`) or a stream URL."""
    return names_camera(spec) or spec.lower().startswith(STREAM_SCHEMES)


def names_camera(spec: str) -> bool:
    """Whether ``spec`` names a camera (Video4Linux2): an index (``0``), a device (``/dev/video0``), udev's lasting
    name of one (``/dev/v4l/by-id/usb-...-video-index0``, ``/dev/v4l/by-path/...``: :data:`CAMERA_PATHS`), or a link
    that leads to one (a udev rule's ``/dev/dashcam``); was a file of the links, its connection options refused.
    One not there yet is a camera too (waited for, as ``/dev/video7`` is). Whole names only: ``/dev/videos_x/clip.mp4``
    and ``²`` (a digit to ``str.isdigit``) are no cameras.

    >>> names_camera("0"), names_camera("/dev/v4l/by-id/usb-Cam_C920-video-index0"), names_camera("clip.mp4")
    (True, True, False)
    >>> names_camera("/dev/videos_x/clip.mp4"), names_camera("²"), names_camera("/dev/video²")
    (False, False, False)
    """
    if _INDEX.fullmatch(spec) or CAMERA_PATHS.fullmatch(spec):
        return True
    return os.path.islink(spec) and CAMERA_PATHS.fullmatch(os.path.realpath(spec)) is not None


def unknown_scheme(spec: str) -> str | None:
    """The one line that refuses ``spec`` where it is a URL whose scheme roadseg does not read (a typo: ``rtps://``;
    was "--show and --serve are for live input", or "input not found: rtps:/127.0.0.1/x", a slash lost), else None.
    Schemes are told in any case (``RTSP://``), as URLs' are; a file of that name is a file.

    >>> print(unknown_scheme("rtps://127.0.0.1/x"))
    unknown scheme 'rtps' in rtps://127.0.0.1/x; live inputs are rtsp://, rtsps://, rtmp://, rtmps://, http://, \
https://, udp://, tcp://, srt:// (a camera: 0 or /dev/video0)
    >>> unknown_scheme("RTSP://cam/1"), unknown_scheme("clip.mp4"), unknown_scheme("file:///tmp/a.mp4")
    (None, None, None)
    """
    m = _URL.match(spec)
    if m is None or f"{m[1].lower()}://" in (*STREAM_SCHEMES, "file://") or os.path.exists(spec):
        return None
    return (f"unknown scheme '{m[1]}' in {redacted(spec)}; live inputs are {', '.join(STREAM_SCHEMES)} (a camera: 0 "
            "or /dev/video0)")  # fmt: skip


def capture_args(spec: str, camera: dict[str, str] | None = None) -> tuple[str, str | None, dict[str, str], str]:
    """(url, format, options, kind) for ``av.open``; kind is ``camera``, ``stream`` or ``file``.
    ``camera``: what to ask a camera for (:func:`camera_options`).

    A stream URL's scheme is handed on in lower case, the only one FFmpeg knows (``RTSP://`` was "Protocol not found").

    >>> capture_args("0", camera_options(size=(1280, 720), fps=30, format="mjpeg"))
    ('/dev/video0', 'v4l2', {'video_size': '1280x720', 'framerate': '30', 'input_format': 'mjpeg'}, 'camera')
    >>> capture_args("RTSP://Cam/Live")
    ('rtsp://Cam/Live', None, {'rtsp_transport': 'tcp'}, 'stream')
    """
    if names_camera(spec):
        return (f"/dev/video{spec}" if _INDEX.fullmatch(spec) else spec), "v4l2", dict(camera or {}), "camera"
    if spec.lower().startswith(STREAM_SCHEMES):
        scheme, rest = spec.split("://", 1)
        opts = {"rtsp_transport": "tcp"} if scheme.lower().startswith("rtsp") else {}
        return f"{scheme.lower()}://{rest}", None, opts, "stream"
    return spec, None, {}, "file"


def camera_options(size: tuple[int, int] | None = None, fps: float | None = None,
                   format: str | None = None) -> dict[str, str]:  # fmt: skip
    """FFmpeg's options for a camera (Video4Linux2): ``size`` (width, height), frames/s, its own format."""
    asked = {"video_size": size and f"{size[0]}x{size[1]}", "framerate": fps and f"{fps:g}", "input_format": format}
    return {k: v for k, v in asked.items() if v}


def open_capture(spec: str, hwaccel: str | None = None, camera: dict[str, str] | None = None, *, wait: bool = False,
                 timeout: float = STREAM_TIMEOUT):  # fmt: skip
    """Open a camera, stream or file with PyAV; open and read both time out after ``timeout`` s
    (``wait``: the open does not: a port waiting for its first sender)."""
    url, fmt, opts, kind = capture_args(spec, camera)
    return open_container(url, what=kind, format=fmt, options=opts, timeout=(None if wait else timeout, timeout),
                          hwaccel=hwaccel)  # fmt: skip


def read_failure(exc: BaseException, spec: str = "", timeout: float = STREAM_TIMEOUT) -> str:
    """Why a read of live source ``spec`` failed, in a few words: the read timeout (``timeout`` s) said as one, with
    the option that sets it (FFmpeg's own words for it are "Immediate exit requested"); an HTTP stream's "Input/output error" as what it is, the server
    closing the connection (FFmpeg's HTTP client says so of a response that ends before its length, or without one:
    a reset, an unreachable host and a timeout have words of their own), else the error's first line.

    >>> read_failure(av.error.ExitError(1414092869, "Immediate exit requested"), timeout=12.0)
    'no data for 12 s: --stream-timeout 12'
    >>> read_failure(OSError(5, "I/O error"))
    'I/O error'
    >>> read_failure(OSError(5, "Input/output error"), "http://cam/video.mjpg")
    'the server closed the connection'
    """
    if isinstance(exc, av.error.ExitError):
        return f"no data for {timeout:g} s: --stream-timeout {timeout:g}"
    if getattr(exc, "errno", None) == errno.EIO and spec.lower().startswith(HTTP_SCHEMES):
        return "the server closed the connection"
    return reason_of(exc)


def last_heard(exc: BaseException, timeout: float = STREAM_TIMEOUT) -> float:
    """The ``time.monotonic()`` a live source whose read failed with ``exc`` last had data: ``timeout`` s ago
    where the read timed out (after that long), else now.

    >>> round(time.monotonic() - last_heard(av.error.ExitError(1414092869, "Immediate exit requested"), 12.0), 1)
    12.0
    """
    return time.monotonic() - (timeout if isinstance(exc, av.error.ExitError) else 0.0)


def url_file(opened: Callable[[], T], url: str, start: float, container: av.container.InputContainer | None) -> T:
    """``opened()``: the source of the http(s) ``url`` read as a file from its ``container``
    (:func:`~roadseg.pipeline.sources.capture.open_url`'s; None: any other input, opened as it is). Where the file
    said a length and yet gave no picture, for want of the server's byte ranges most likely, the :class:`SourceError`
    says so and to download it first: a seek to ``start`` (before the length it said; an MP4 whose index comes first
    is read up to a seek's keyframe, but not back to it), or an MP4 whose index (moov) is at its end, which is read
    only by going back (was: "no video frames after --start 1.9s in URL; it lasts 3.0 s", "no decodable video frames
    in URL (Input/output error)").

    >>> url_file(lambda: "source", "clip.mp4", 0.0, None)
    'source'
    """
    if container is None:
        return opened()
    length, mp4 = (container.duration or 0) / av.time_base, "mp4" in container.format.name
    try:
        return opened()
    except SourceError as exc:
        said, shown, fix = str(exc), redacted(url), "download the file first (curl -o clip.mp4 URL) and give the file"
        if start and said.startswith("no video frames after --start") and start < length:
            raise SourceError(f"no video frames after --start {start:g}s in {shown}, which lasts {length:.1f} s: the "
                              f"server sends no byte ranges? (a seek into the file needs them); {fix}") from None  # fmt: skip
        if mp4 and said.startswith("no decodable video frames in") and said.endswith("(Input/output error)"):
            raise SourceError(f"no decodable video frames in {shown}: an MP4 whose index (moov) is at its end is read "
                              f"from a URL only where the server sends byte ranges (none?); {fix}") from None  # fmt: skip
        raise
