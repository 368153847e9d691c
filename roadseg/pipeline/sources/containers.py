"""Opening media: :func:`open_container`, the one place a file, camera or stream is opened, with a one-line
:class:`~roadseg.errors.SourceError` for everything that can go wrong, a file FFmpeg's probe found no picture of
opened again reading further (:data:`DEEP_PROBE`); a name as FFmpeg is given it (:func:`file_url`) and a URL as
messages show it (:func:`redacted`).

Example:
    >>> with open_container("sample_videos/road.mp4") as container:
    ...     picture_stream(container).codec_context.name
    'h264'
    >>> open_container("sample_videos")
    Traceback (most recent call last):
    roadseg.errors.SourceError: input is a folder, not a video file: sample_videos
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import av

from roadseg.errors import SourceError, reason_of
from roadseg.pipeline.sources.boxes import unfinished_mp4
from roadseg.pipeline.sources.streams import picture_stream

log = logging.getLogger("roadseg")
#: how far FFmpeg reads a file, opened again, where its probe (5 s of each stream, 7 in a transport stream, 5 MB at
#: most) found no picture of its video (:func:`open_container`): a recording whose sound began 15 s before its
#: pictures, a .ts, was read with no size or rate (its MXF output written at 30 frames/s: 60 frames of 50 pictures)
DEEP_PROBE = {"analyzeduration": str(60 * 1_000_000), "probesize": str(64 << 20)}  # (microseconds, bytes)


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
    with one warning line where there is none.
    """
    url = target
    if what == "file" and target == "-":
        target = url = "pipe:0"  # standard input: ffmpeg ... -f matroska - | segment-video - -o out.mp4
    elif what == "file":
        p = Path(target)
        if not p.exists():
            raise SourceError(f"input not found: {p}")
        if p.is_dir():
            raise SourceError(f"input is a folder, not a video file: {p}")
        if p.is_file() and p.stat().st_size == 0:  # (a pipe or FIFO says 0 bytes too, and is read as it comes)
            raise SourceError(f"input is empty (0 bytes): {p}")
        url = file_url(target)
    # tags that are not valid UTF-8 (damaged, or written in another encoding) are read with U+FFFD, not refused
    kw: dict = {"format": format, "options": options or {}, "timeout": timeout, "metadata_errors": "replace"}
    container = None
    if hwaccel:
        from av.codec.hwaccel import HWAccel, hwdevices_available

        try:
            if hwaccel not in (known := hwdevices_available()):  # (FFmpeg's answer: "Operation not permitted")
                raise ValueError(f"no such device type; this FFmpeg knows {', '.join(known) or 'none'}")
            kw["hwaccel"] = HWAccel(device_type=hwaccel, allow_software_fallback=True)
            container = av.open(url, **kw)
        except Exception as exc:  # no device, no driver, not permitted: decode on the CPU instead
            kw.pop("hwaccel", None)
            log.warning("hardware decoding (%s) is not available here (%s); decoding on the CPU",
                        hwaccel, reason_of(exc))  # fmt: skip
    try:
        container = container or av.open(url, **kw)
    except Exception as exc:  # noqa: BLE001 - FFmpegError, OSError, and PyAV's own errors on damaged headers
        if what == "file" and unfinished_mp4(target):
            raise SourceError(f"not a readable video: {target} was never finished (a recording cut off: power lost "
                              "or card pulled?): its index, the 'moov' box, is missing, so no frame in it can be "
                              "found; a repair tool such as untrunc can rebuild it from a good file recorded by the same camera",
                              damaged=True) from None  # fmt: skip
        if what == "file":
            raise SourceError(f"not a readable video: {target} ({reason_of(exc)})",
                              damaged=isinstance(exc, av.error.InvalidDataError)) from None  # fmt: skip
        reason = (f"no media came within {timeout[0]:g} s (timed out)" if isinstance(exc, av.error.ExitError)
                  and timeout else reason_of(exc))  # (FFmpeg says "Immediate exit requested")  # fmt: skip
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
