"""A live source that is not there yet when the run starts (a robot's camera or stream that boots after roadseg):
its first open tried again under the options that reconnect a stream lost midway (``--retries``, ``--retry-delay``,
with the same doubling delays: :mod:`~roadseg.pipeline.sources.retrying`), where what kept it from opening may pass
(:func:`transient`); anything else fails at once, in one line. A file is never waited for (its kind is not given here).

Transient: a connection refused, reset or timed out (the open's ``--stream-timeout`` included), a host or network
unreachable, a host name that cannot be looked up just now, a server's 5XX, an RTSP/RTMP server's 404 (a relay such as
MediaMTX says so of a path until its camera publishes it), a camera device (``/dev/video2``) that does not exist yet
(plugged in, or its driver loaded, later). Not: an unknown scheme or protocol, authorisation refused (401, 403), an
http(s) URL's 404 (a file that is not there), a host name that does not exist, a device that is no camera
(``/dev/null``: "Inappropriate ioctl for device"), media that is not video.

Example:
    >>> import av
    >>> transient(av.error.ConnectionRefusedError(111, "Connection refused"), "rtsp://cam/1")
    True
    >>> transient(av.error.HTTPUnauthorizedError(825242872, "Server returned 401"), "rtsp://cam/1")
    False
"""

from __future__ import annotations

import errno
import glob
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

import av

from roadseg.errors import SourceError
from roadseg.pipeline.runner import call_interruptibly
from roadseg.pipeline.sources.opening import capture_args
from roadseg.pipeline.sources.retrying import retry_delay_of, retry_line

log = logging.getLogger("roadseg")
T = TypeVar("T")

#: errnos of a network open that may pass: nothing listens yet, the link or host is not up yet
NETWORK = frozenset({errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.ETIMEDOUT, errno.EHOSTUNREACH,
                     errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN, errno.EAGAIN, errno.EPIPE})  # fmt: skip
#: errnos of a camera device that may appear: not there yet, or there without its device yet
DEVICE = frozenset({errno.ENOENT, errno.ENODEV, errno.ENXIO})


def transient(exc: BaseException | None, spec: str) -> bool:
    """Whether the open of live source ``spec`` (a camera or a stream URL) that failed with ``exc`` (FFmpeg's error;
    None: the media opened and was no video) may work a while later, and so is tried again.

    >>> import av
    >>> transient(av.error.FileNotFoundError(2, "No such file or directory"), "/dev/video7")
    True
    >>> transient(av.error.OSError(25, "Inappropriate ioctl for device"), "/dev/null")
    False
    >>> [transient(av.error.HTTPNotFoundError(875574520, "404"), url) for url in ("rtsp://relay/cam", "http://h/a.mp4")]
    [True, False]
    >>> transient(av.error.ExitError(1414092869, "Immediate exit requested"), "http://cam/video.mjpg")
    True
    >>> transient(None, "rtsp://cam/1"), transient(av.error.ProtocolNotFoundError(1, "Protocol not found"), "srt://a")
    (False, False)
    """
    code = getattr(exc, "errno", None)
    if exc is None:
        return False
    if is_camera(spec):
        return code in DEVICE
    if isinstance(exc, av.error.ExitError | av.error.HTTPServerError):  # (the open timed out; a 5XX)
        return True
    if isinstance(exc, av.error.HTTPNotFoundError):
        return not spec.lower().startswith(("http://", "https://"))
    if code == errno.EIO:  # (FFmpeg's word for a host name it could not look up, among others)
        return unknown_host(spec) is None
    return code in NETWORK


def is_camera(spec: str) -> bool:
    """Whether live source ``spec`` is a camera device (``0``, ``/dev/video0``), opened at once or not at all (no
    ``--stream-timeout``).

    >>> is_camera("2"), is_camera("/dev/video2"), is_camera("rtsp://cam/1")
    (True, True, False)
    """
    return capture_args(spec)[3] == "camera"  # (the one rule of what a camera is)


def cameras() -> list[str]:
    """The camera devices there are now (``/dev/video*``), in order: what a camera index that is not there may have
    meant."""
    return sorted(glob.glob("/dev/video*"), key=lambda name: (len(name), name))


def _cameras_note(spec: str) -> str:
    """For a camera, the devices there are, so that a mistyped index (``7`` for ``0``) shows on the waiting line.

    >>> _cameras_note("rtsp://cam/1")
    ''
    """
    if not is_camera(spec):
        return ""
    there = cameras()
    return f"; cameras here: {', '.join(there)}" if there else "; no /dev/video* here yet"


def unknown_host(spec: str) -> str | None:
    """The host of URL ``spec`` where it does not exist (the name server says so), else None: it resolves, or cannot
    be looked up just now (no network yet, the name server not answering). Ctrl-C reaches the caller.

    >>> unknown_host("rtsp://127.0.0.1:8554/cam"), unknown_host("udp://:5000")
    (None, None)
    """
    host = urlsplit(spec).hostname
    if not host:
        return None
    try:
        call_interruptibly(lambda: socket.getaddrinfo(host, None), "resolve")
    except socket.gaierror as exc:
        return host if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)) else None
    except OSError:
        return None
    return None


def at_most(retries: int, first: float, timeout: float) -> float:
    """The longest seconds ``retries`` more tries of an open take: their delays (doubling from ``first``) and each
    open's ``timeout``.

    >>> at_most(5, 1.0, 5.0), at_most(2, 0.05, 1.0)
    (56.0, 2.15)
    """
    return round(sum(retry_delay_of(first, a) for a in range(1, retries + 1)) + retries * timeout, 2)


def waited_for(opened: Callable[[], T], spec: str, what: str, *, retries: int | None, retry_delay: float,
               stop: threading.Event, timeout: float) -> T:  # fmt: skip
    """``opened()``, the first open of live source ``spec`` (``what``: ``stream URL`` or ``camera N``, as lines name
    it), tried again while it fails for a reason that may pass (:func:`transient`): ``retries`` more times (None: for
    ever), after the delays a lost stream's reconnects wait (from ``retry_delay`` s), each said; one line says that
    it waits and for how long at most, one that it came. Ctrl-C ends the wait (``KeyboardInterrupt``).

    Raises:
        SourceError: it failed for good, with ``opened``'s one line; or every try failed (how long it waited said);
            or ``stop`` was set while it waited.
    """
    started, attempt = time.monotonic(), 0
    while True:
        try:
            value = opened()
        except SourceError as exc:
            if not transient(exc.__context__, spec):
                if getattr(exc.__context__, "errno", None) == errno.EIO and (host := unknown_host(spec)):
                    raise SourceError(f"cannot open {what}: unknown host {host} (no such name)") from None
                raise
            attempt += 1
            if retries == 0:
                raise SourceError(f"{exc}; not retried (--retries 0)") from None
            if retries is not None and attempt > retries:
                tries = f"{retries} {'retry' if retries == 1 else 'retries'}"
                raise SourceError(f"{exc}; gave up after {tries} over {time.monotonic() - started:.1f} s "
                                  f"(--retries {retries})") from None  # fmt: skip
            reason = _reason(exc)
            if attempt == 1:  # (a camera's open fails at once: no --stream-timeout in its longest wait)
                log.warning("%s", _waiting_line(what, reason + _cameras_note(spec), retries, retry_delay,
                                                0.0 if is_camera(spec) else timeout))  # fmt: skip
            if line := retry_line(reason, retry_delay, attempt, retries,
                                  time.monotonic() - started, lost=f"{what} not there yet", again="trying again"):  # fmt: skip
                log.warning("%s", line)
            if stop.wait(retry_delay_of(retry_delay, attempt)):
                raise SourceError(f"stopped while waiting for {what}") from None
            continue
        if attempt:
            log.warning("%s there after %.1f s of waiting", what, time.monotonic() - started)
        return value


def _reason(exc: SourceError) -> str:
    """Why an open failed, in the words of its :class:`SourceError` (``cannot open stream URL: REASON``).

    >>> _reason(SourceError("cannot open stream rtsp://cam/1: no media came within 1 s (--stream-timeout 1)"))
    'no media came within 1 s (--stream-timeout 1)'
    """
    said = str(exc)
    return said.split(": ", 1)[1] if said.startswith("cannot open ") and ": " in said else said


def _waiting_line(what: str, reason: str, retries: int | None, first: float, timeout: float) -> str:
    """The line that says a live source is waited for, why, and how long at most.

    >>> _waiting_line("stream rtsp://cam/1", "Connection refused", 5, 1.0, 5.0)
    'waiting for stream rtsp://cam/1 (Connection refused): 5 more tries over at most 56 s (--retries 5; Ctrl-C stops)'
    >>> _waiting_line("camera 0", "No such file or directory", None, 1.0, 5.0)
    'waiting for camera 0 (No such file or directory): for ever (--retries forever; Ctrl-C stops)'
    """
    why = f"waiting for {what} ({reason})"
    if retries is None:
        return f"{why}: for ever (--retries forever; Ctrl-C stops)"
    return f"{why}: {retries} more {'try' if retries == 1 else 'tries'} over at most {at_most(retries, first, timeout):g} s " \
        f"(--retries {retries}; Ctrl-C stops)"
