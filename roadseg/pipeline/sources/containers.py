"""Opening media: :func:`open_container`, the one place a file, camera or stream is opened, with a one-line
:class:`~roadseg.errors.SourceError` for everything that can go wrong, a file FFmpeg's probe found no picture of
opened again reading further (:data:`DEEP_PROBE`), standard input or a named pipe opened where Ctrl-C reaches the
caller (it may send nothing for as long as it likes: :func:`sent_nothing`, :func:`pipe_waited`); a name as FFmpeg is given it
(:func:`file_url`) and a URL as messages show it (:func:`redacted`).

Example:
    >>> with open_container("sample_videos/road.mp4") as container:
    ...     picture_stream(container).codec_context.name
    'h264'
    >>> open_container("sample_videos")
    Traceback (most recent call last):
    roadseg.errors.SourceError: input is a folder, not a video file: sample_videos
"""

from __future__ import annotations

import array
import logging
import os
import re
import select
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import av

from roadseg.errors import SourceError, reason_of
from roadseg.pipeline.runner import call_interruptibly
from roadseg.pipeline.sources.boxes import unfinished_mp4
from roadseg.pipeline.sources.relay import Relay
from roadseg.pipeline.sources.streams import picture_stream

log = logging.getLogger("roadseg")
#: how far FFmpeg reads a file, opened again, where its probe (5 s of each stream, 7 in a transport stream, 5 MB at
#: most) found no picture of its video (:func:`open_container`): a recording whose sound began 15 s before its
#: pictures, a .ts, was read with no size or rate (its MXF output written at 30 frames/s: 60 frames of 50 pictures)
DEEP_PROBE = {"analyzeduration": str(60 * 1_000_000), "probesize": str(64 << 20)}  # (microseconds, bytes)
#: the pipes :func:`pipe_waited` holds (:func:`_named`), and what FFmpeg reads of each
_relays: dict[object, Relay] = {}


def redacted(url: str) -> str:
    """``url`` as messages show it: a password in it (``rtsp://user:secret@cam``) as ``***``.

    >>> redacted("rtsp://admin:hunter2@192.168.1.10:554/stream1"), redacted("clip.mp4")
    ('rtsp://admin:***@192.168.1.10:554/stream1', 'clip.mp4')
    """
    return re.sub(r"^([a-zA-Z][\w+.-]*://[^/:@]*):[^/@]*@", r"\1:***@", url)


def file_url(path: str | Path) -> str:
    """The name of a local file as FFmpeg is given it. FFmpeg reads a name up to its first colon as a
    protocol, ``2026-12-03T08:15:00.mp4`` (a recording named by its time) as one called ``2026-12-03T08``:
    such a relative name is given from ``./``.

    >>> file_url("2026-12-03T08:15:00.mp4"), file_url("clip.mp4"), file_url("/media/08:15.mp4")
    ('./2026-12-03T08:15:00.mp4', 'clip.mp4', '/media/08:15.mp4')
    """
    text = str(path)
    return f"./{text}" if ":" in text.split("/")[0] and not Path(text).is_absolute() else text


def open_container(target: str, *, what: str = "file", format: str | None = None, options: dict | None = None,
                   timeout: tuple[float | None, float] | None = None, hwaccel: str | None = None):  # fmt: skip
    """``av.open`` for reading, with a one-line :class:`SourceError` for everything that can go wrong.

    ``what`` names the input in messages (``file``, ``camera``, ``stream``); a local file is checked
    for existence and size first. ``hwaccel`` decodes on a hardware device and falls back to the CPU
    with one warning line where there is none. ``timeout``: (open, read) seconds FFmpeg waits for data (an open of
    None waits as long as it takes), a live input's ``--stream-timeout``, which an open that timed out names.
    """
    target, url, piped = _input_file(target) if what == "file" else (target, target, False)
    # tags that are not valid UTF-8 (damaged, or written in another encoding) are read with U+FFFD, not refused
    kw: dict = {"format": format, "options": options or {}, "timeout": timeout, "metadata_errors": "replace"}
    try:
        if piped:  # (FFmpeg waits in open() or read() for a pipe's writer, deaf to Ctrl-C: in a thread of its own)
            container = call_interruptibly(lambda: _piped(target, url, kw, hwaccel), "open", lambda c: c.close())
        else:
            container = _opened(url, kw, hwaccel)
    except SourceError:
        raise
    except Exception as exc:  # noqa: BLE001 - FFmpegError, OSError, and PyAV's own errors on damaged headers
        if what == "file" and not piped and unfinished_mp4(target):  # (a named pipe read again: its open() waits
            # for a writer that has gone)
            raise SourceError(f"not a readable video: {target} was never finished (a recording cut off: power lost "
                              "or card pulled?): its index, the 'moov' box, is missing, so no frame in it can be "
                              "found; a repair tool such as untrunc can rebuild it from a good file recorded by the same camera",
                              damaged=True) from None  # fmt: skip
        if what == "file":
            raise SourceError(f"not a readable video: {target} ({reason_of(exc)})",
                              damaged=isinstance(exc, av.error.InvalidDataError)) from None  # fmt: skip
        reason = (f"no media came within {timeout[0]:g} s (--stream-timeout {timeout[0]:g})"
                  if isinstance(exc, av.error.ExitError) and timeout and timeout[0]
                  else reason_of(exc))  # (FFmpeg says "Immediate exit requested")  # fmt: skip
        raise SourceError(f"cannot open {what} {redacted(target)}: {reason}") from None
    if what == "file" and url != "pipe:0" and _unprobed(container) and Path(target).is_file():
        container = _probed_deeper(container, url, kw)
    stream = picture_stream(container)
    if stream is None:
        cover = " (only a cover picture)" if container.streams.video else ""
        container.close()
        name = target if what == "file" else f"{what} {redacted(target)}"
        raise SourceError(f"no video stream in {name}{cover}")
    stream.thread_type = "AUTO"  # frame/slice threads, FFmpeg picks the count
    return container


def _input_file(target: str) -> tuple[str, str, bool]:
    """``target`` (``pipe:0`` for ``-``, standard input), the name FFmpeg is given (:func:`file_url`), and whether it is
    read as it comes (a pipe); SourceError where the file is not there, is a folder, or is empty."""
    if target == "-":
        return "pipe:0", "pipe:0", True  # standard input: ffmpeg ... -f matroska - | segment-video - -o out.mp4
    p = Path(target)
    if not p.exists():
        raise SourceError(f"input not found: {p}")
    if p.is_dir():
        raise SourceError(f"input is a folder, not a video file: {p}")
    if p.is_file() and p.stat().st_size == 0:  # (a pipe or FIFO says 0 bytes too, and is read as it comes)
        raise SourceError(f"input is empty (0 bytes): {p}", damaged=True)  # (read again as it is, empty again)
    return target, file_url(target), not p.is_file()  # (a named pipe, /dev/stdin: read as it comes)


def _opened(url: str, kw: dict, hwaccel: str | None):
    """``av.open(url, **kw)``, decoding on the hardware device ``hwaccel`` where it is one (put in ``kw``, for a
    second opening), else on the CPU, with one warning line; FFmpeg's error raised as it is."""
    if hwaccel:
        from av.codec.hwaccel import HWAccel, hwdevices_available

        device = hwaccel.lower()  # (any case: --hwaccel CUDA is cuda)
        try:
            if device not in (known := hwdevices_available()):  # (FFmpeg's answer: "Operation not permitted")
                raise ValueError(f"no such device type; this FFmpeg knows {', '.join(known) or 'none'}")
            kw["hwaccel"] = HWAccel(device_type=device, allow_software_fallback=True)
            return av.open(url, **kw)
        except Exception as exc:  # no device, no driver, not permitted: decode on the CPU instead
            kw.pop("hwaccel", None)
            log.warning("hardware decoding (%s) is not available here (%s); decoding on the CPU",
                        hwaccel, reason_of(exc))  # fmt: skip
    return av.open(url, **kw)


def _piped(target: str, url: str, kw: dict, hwaccel: str | None):
    """:func:`_opened` for standard input (``pipe:0``) or a named pipe: one line where it ended before it sent
    anything (``: | segment-video - ...``, a writer that opened a named pipe and closed it; FFmpeg says "Invalid
    data found"). A named pipe is read from a descriptor of our own (:func:`_pipe_opened`), handed to FFmpeg as
    ``fd:``: opened by its name again once its writer has gone, it would wait for another, its bytes unread. Where
    :func:`pipe_waited` holds ``target``, FFmpeg reads its :class:`~roadseg.pipeline.sources.relay.Relay`."""
    if (relay := _relays.get(_named(target))) is not None:
        fd = relay.taken()
    elif url != "pipe:0" and not stat.S_ISFIFO(os.stat(url).st_mode):  # (a device, /dev/stdin of a file: by name)
        return _opened(url, kw, hwaccel)
    elif (fd := _pipe_opened(url)) == 0 and not _a_file(0):  # (standard input: FFmpeg's pipe:0 reads it as it is)
        return _opened(url, kw, hwaccel)
    elif fd == 0:  # (standard input that is a file, `- < camera.mp4`: read as one, its index at its end too; was: by
        # pipe:0, which cannot seek back to its media data)
        return _opened("fd:", {**kw, "options": {**kw["options"], "fd": "0"}}, hwaccel)
    try:
        os.set_blocking(fd, True)  # (FFmpeg's reads wait for the writer; it reads its own copy: its fd: protocol)
        return _opened("fd:", {**kw, "options": {**kw["options"], "fd": str(fd)}}, hwaccel)
    finally:
        os.close(fd)


def _pipe_opened(target: str) -> int:
    """A descriptor of the named pipe ``target``, or ``0`` for ``-`` (standard input), once it has sent something
    or ended: a wait that Ctrl-C ends where it is the main thread's (``select``; an ``open()`` waited for a writer,
    deaf to it). The caller closes it (not ``0``). While it is open what the pipe holds stays there, its writer
    gone or not (:func:`pipe_waited`).

    Raises:
        SourceError: the pipe ended before it sent anything (a writer that opened it and closed it).
    """
    if target in ("-", "pipe:0"):
        if sent_nothing(0):
            raise SourceError("standard input ended before any video came (0 bytes)")
        return 0
    fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK)  # (at once, writer or none: its wait is sent_nothing's)
    try:
        if sent_nothing(fd):
            raise SourceError(f"the pipe {target} ended before any video came (0 bytes: its writer sent nothing)")
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextmanager
def pipe_waited(target: str) -> Iterator[None]:
    """Wait in this thread until ``target``, where it is standard input (``-``) or a named pipe, has sent something
    or ended, and hold it open for the block, where a thread of the caller's opens it (:func:`open_container`, whose
    own wait is then over at once): Ctrl-C ends this wait (a thread's, left behind, stayed until the pipe's writer
    came); what the pipe holds stays there, its writer gone or not. What it sends is then passed on to the open by a
    :class:`~roadseg.pipeline.sources.relay.Relay`, ended where the block raises (Ctrl-C): an open that waits in a read
    of it ends, and its threads (was: left waiting until the writer sent more). Anything else is not waited for.

    >>> with pipe_waited("sample_videos/road.mp4"):
    ...     pass
    >>> read, write = os.pipe()
    >>> os.close(write)
    >>> with pipe_waited(f"/proc/self/fd/{read}"):
    ...     pass
    Traceback (most recent call last):
    roadseg.errors.SourceError: the pipe /proc/self/fd/... ended before any video came (0 bytes: its writer sent nothing)
    >>> os.close(read)

    Raises:
        SourceError: the pipe ended before it sent anything.
    """
    if target != "-" and not stat.S_ISFIFO(os.stat(target).st_mode):
        yield
        return
    fd = _pipe_opened(target)
    if fd == 0 and _a_file(0):  # (standard input that is a file never stalls: read as a file, not relayed)
        yield
        return
    _relays[_named(target)] = relay = Relay(fd)  # (what FFmpeg reads: a pipe of ours, which ends where the run gives up)
    try:
        yield
    except BaseException:
        relay.end()  # (an open still waiting in its read ends, and its threads)
        raise
    finally:
        _relays.pop(_named(target), None)
        relay.release()


def _a_file(fd: int) -> bool:
    """Whether the descriptor ``fd`` is of a regular file (standard input redirected from one) read from its start,
    which FFmpeg's ``fd:`` reads as a file, seeking in it; ``pipe:0`` would read it as a pipe (as it does one read
    from further on: FFmpeg's seeks are from the file's start).

    >>> with open("sample_videos/road.mp4", "rb") as f:
    ...     _a_file(f.fileno())
    True
    """
    return stat.S_ISREG(os.fstat(fd).st_mode) and os.lseek(fd, 0, os.SEEK_CUR) == 0


def _named(target: str) -> object:
    """What tells a pipe input from another, whichever name it is given by: ``-`` for standard input (``pipe:0``),
    the named pipe's device and inode."""
    if target in ("-", "pipe:0"):
        return "-"
    found = os.stat(target)
    return found.st_dev, found.st_ino


def sent_nothing(fd: int) -> bool:
    """Whether the file descriptor ``fd`` (standard input, a named pipe) ends before its first byte: an empty file, ``/dev/null``,
    or a pipe whose writer closed it without writing, waited for until it sends something or ends. False where that
    cannot be told (a socket or terminal, or a system without ``FIONREAD`` or ``select`` of a pipe).

    >>> read, write = os.pipe()
    >>> os.close(write)
    >>> sent_nothing(read), os.close(read)
    (True, None)
    """
    mode = os.fstat(fd)
    if stat.S_ISREG(mode.st_mode):
        return mode.st_size <= os.lseek(fd, 0, os.SEEK_CUR)
    if stat.S_ISCHR(mode.st_mode):
        return mode.st_rdev == os.stat(os.devnull).st_rdev
    if not stat.S_ISFIFO(mode.st_mode):
        return False
    try:
        import fcntl
        import termios

        select.select([fd], [], [])  # (readable: a byte came, or its writer closed it)
        waiting = array.array("i", [0])
        fcntl.ioctl(fd, termios.FIONREAD, waiting)  # (bytes waiting in the pipe: none once readable is its end)
    except (ImportError, OSError):
        return False
    return waiting[0] == 0


def _unprobed(container) -> bool:
    """Whether FFmpeg's probe of ``container`` found its video stream's codec but not its pictures' size or pixel
    format: it decoded no picture of it (FFmpeg's "Could not find codec parameters ... unspecified size" of a TS;
    an mkv's or mp4's header says the size, and FFmpeg took the file's start for the video's in an mkv)."""
    s = picture_stream(container)
    cc = s.codec_context if s is not None else None
    return cc is not None and (not cc.width or cc.format is None)


def _probed_deeper(container, url: str, kw: dict):
    """``container``, whose video stream FFmpeg's probe found no picture of (:func:`_unprobed`), opened again from
    ``url`` (a file: a pipe is read once) with FFmpeg reading further to probe it (:data:`DEEP_PROBE`); itself
    where that finds no picture either, or fails."""
    try:
        again = av.open(url, **{**kw, "options": {**DEEP_PROBE, **kw["options"]}})
    except Exception:  # noqa: BLE001 - as FFmpegError or OSError: the file as the first probe read it
        return container
    if _unprobed(again):
        again.close()
        return container
    container.close()
    return again
