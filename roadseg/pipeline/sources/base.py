"""What every source shares: the :class:`Frame` that flows through the pipeline, :class:`VideoInfo`,
the :class:`Source` interface, and :func:`open_container`, the one place media is opened.

Example:
    >>> info = VideoInfo.from_path("sample_videos/road.mp4")
    >>> info.width, info.height, info.frames
    (960, 540, 150)
    >>> open_container("nope.mp4")
    Traceback (most recent call last):
    roadseg.errors.SourceError: input not found: nope.mp4
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import av
import cv2
import numpy as np
from av.video.reformatter import Colorspace

from roadseg.errors import SourceError, reason_of
from roadseg.pipeline.sources.fields import deinterlaced
from roadseg.pipeline.sources.hdr import is_hdr, sdr_picture

log = logging.getLogger("roadseg")
MIN_FPS, MAX_FPS = Fraction(1, 100), Fraction(10_000)  # nominal frame rates outside are damage
#: the fastest a camera records for playback at that rate (a phone's or an action camera's slow motion): a file
#: that states more is taken at the rate its timestamps come at, or at none where they do not say the same
#: (an mkv claiming 5000 frames/s of 25: its output was told 5000, and x264 wrote it as level 5.2 at 320x240,
#: 6.2 at 1080p, which some hardware decoders refuse)
CAMERA_FPS = Fraction(240)
#: cameras' frame rates (:func:`timed_rate`)
NOMINAL_RATES = tuple(map(Fraction, ("10 12 12.5 15 20 24000/1001 24 25 30000/1001 30 48 50 60000/1001 60 90 100 "
                                     "120000/1001 120 240").split()))  # fmt: skip
MAX_SECONDS = 10 * 365 * 86400.0  # a duration beyond ten years is damage
#: how far FFmpeg reads a file, opened again, where its probe (5 s of each stream, 7 in a transport stream, 5 MB at
#: most) found no picture of its video (:func:`open_container`): a recording whose sound began 15 s before its
#: pictures, a .ts, was read with no size or rate (its MXF output written at 30 frames/s: 60 frames of 50 pictures)
DEEP_PROBE = {"analyzeduration": str(60 * 1_000_000), "probesize": str(64 << 20)}  # (microseconds, bytes)


def stated_rate(stream) -> Fraction | None:
    """The frame rate of video ``stream``: the one its header states (``average_rate``) or else the one its
    first pictures' timestamps come at (``guessed_rate``), whichever is a camera's (:data:`CAMERA_FPS` at
    most); a faster one only where the two agree (not the 1/1000 s tick of a short or VFR Matroska file's
    timestamps, where FFmpeg finds no rate in them); None where none is within :data:`MIN_FPS` - :data:`MAX_FPS`.
    A stated rate twice the timed one is a field rate (interlaced H.264 whose header times it by the field: x264
    given a field's time base), the pictures' the timed one (was: 50 frames/s read, 50 frames expected of 25, a
    .mkv output stated at 50 frames/s).

    >>> from types import SimpleNamespace as S
    >>> stated_rate(S(average_rate=Fraction(50), guessed_rate=Fraction(25)))
    Fraction(25, 1)
    """
    stated, timed = (Fraction(r) if r and MIN_FPS <= r <= MAX_FPS else None for r in (stream.average_rate,
                                                                                     stream.guessed_rate))  # fmt: skip
    if stated and timed and stated == 2 * timed:  # (a field rate: two fields a picture)
        return timed
    return next((r for r in (stated, timed) if r and r <= CAMERA_FPS), stated if stated == timed else None)


def timed_rate(stream) -> Fraction | None:
    """The camera's rate that video ``stream``'s pictures come at: FFmpeg's ``guessed_rate`` (from the steps between
    its first pictures) where that is one of :data:`NOMINAL_RATES`, else the one of them within 2 % of the header's
    average (timestamps that jitter: FFmpeg finds 200 frames/s in 30 at 1/600 s, each picture up to 2 ticks late), else
    :func:`stated_rate`. The average alone is not: a picture too many or a second of them missing moves it (25.5
    frames/s for 2 s at 25 with one extra picture, 16.7 for 3 s with a 1-s gap, a phone's 29.87 at 30). Where the
    guess is twice the average's rate, the average's (FFmpeg may guess the field rate of interlaced video).

    >>> from types import SimpleNamespace as S
    >>> [timed_rate(S(guessed_rate=Fraction(g), average_rate=Fraction(a), base_rate=None)) for g, a in
    ...  (("200", "29.86"), ("25", "16.67"), ("50", "25"), ("50", "50"))]
    [Fraction(30000, 1001), Fraction(25, 1), Fraction(25, 1), Fraction(50, 1)]
    """

    def nominal(rate, within: float) -> Fraction | None:
        near = min(NOMINAL_RATES, key=lambda r: abs(r - rate)) if rate else None
        return near if near is not None and abs(near - rate) <= within * near else None

    guessed, average = nominal(stream.guessed_rate, 0.001), nominal(stream.average_rate, 0.02)
    if guessed and average and guessed == 2 * average:  # (a field rate: interlaced fields, two a picture)
        return average
    return guessed or average or stated_rate(stream)


@dataclass(frozen=True)
class Frame:
    """One picture: RGB uint8 [H,W,3], its index, its presentation timestamp and, once inferred, its labels."""

    index: int
    image: np.ndarray
    pts: int | None
    time_base: Fraction | None
    captured: float | None = None  # time.monotonic() a live source read its packet at (a file played live: when due)
    #: a live frame's time on that clock by its stream's own timestamps (its connection's first frame's capture
    #: time plus how far the stream went since): what a recording is timed by, as the stream's audio is
    clock: float | None = None
    labels: np.ndarray | None = None  # class indices at the working size, set by the infer stage

    @property
    def time(self) -> float | None:
        return None if self.pts is None or self.time_base is None else float(self.pts * self.time_base)


@dataclass(frozen=True)
class VideoInfo:
    """What a source says about its pictures (for a video: its video stream and its audio streams)."""

    path: str
    width: int
    height: int
    fps: Fraction | None
    time_base: Fraction | None
    frames: int | None
    duration: float | None
    codec: str
    pix_fmt: str | None
    audio_streams: int
    sample_aspect: Fraction | None = None  # pixels' width:height where not square (anamorphic video)
    tags: Mapping[str, str] = field(default_factory=dict)  # the container's (creation_time, location ...)
    video_tags: Mapping[str, str] = field(default_factory=dict)  # the video stream's (language ...)
    #: the rate its pictures' timestamps step at (:func:`timed_rate`): an output that times its pictures by the
    #: frame is written at it (``fps``, the header's, where unknown)
    timed_fps: Fraction | None = None

    @classmethod
    def from_path(cls, path: str | Path) -> VideoInfo:
        with open_container(str(path)) as container:
            return cls.from_container(container, str(path))

    @classmethod
    def from_container(cls, container, path: str, stream=None) -> VideoInfo:
        """Read the parameters of ``stream`` (by default the video stream, :func:`picture_stream`);
        values a damaged header makes absurd (a rate of a frame a week, a time base of hours, a
        negative duration) are left unknown instead, as are size and codec where it has no codec at all
        (width and height 0, codec "")."""
        s = stream or picture_stream(container)
        cc = s.codec_context  # (None where a damaged header names no codec: nothing decodes it)
        duration = stream_length(s)
        if duration is None and container.duration is not None:
            duration = container.duration / av.time_base
        duration = duration if duration is not None and 0 < duration < MAX_SECONDS else None
        fps = stated_rate(s)
        frames = s.frames if s.frames and s.frames > 0 else (round(duration * fps) if duration and fps else None)
        return cls(
            path=path,
            width=cc.width if cc is not None else 0,
            height=cc.height if cc is not None else 0,
            fps=fps,
            time_base=Fraction(s.time_base) if s.time_base and 0 < s.time_base <= 1 else Fraction(1, 90000),
            frames=frames,
            duration=duration,
            codec=cc.name if cc is not None else "",
            pix_fmt=cc.format.name if cc is not None and cc.format else None,
            audio_streams=len(container.streams.audio),
            sample_aspect=sample_aspect(s),
            tags=dict(container.metadata),
            video_tags=dict(s.metadata),
            timed_fps=timed_rate(s),
        )


def retimed(packet: av.Packet, shift: float) -> av.Packet:
    """``packet`` with its timestamps moved by ``shift`` seconds (a live source's: stream time -> capture clock)."""
    ticks = round(shift / packet.time_base)
    packet.pts += ticks
    packet.dts += ticks
    return packet


def codec_of(stream) -> str | None:
    """The codec name of an input stream (a data stream has no codec context; a timecode track no codec)."""
    return getattr(stream.codec_context, "name", None) or getattr(stream, "name", None)


def sample_aspect(stream) -> Fraction | None:
    """The shape of ``stream``'s pixels, width:height, as a player reads it (FFmpeg's guess: the
    container's, else the codec's), where they are not square: 4:3 for 1440x1080 HDV, 32:27 for 16:9
    NTSC DVD. None for square pixels, none stated, or a value no picture has (damage)."""
    sar = stream.sample_aspect_ratio
    return Fraction(sar) if sar and sar != 1 and Fraction(1, 10) <= sar <= 10 else None


def tag_duration(value: str | None) -> float | None:
    """Seconds of a ``HH:MM:SS.fraction`` duration tag (Matroska writes one per track), None if unreadable.

    >>> tag_duration("00:01:02.500000000"), tag_duration("garbage"), tag_duration(None)
    (62.5, None, None)
    """
    try:
        h, m, sec = str(value).split(":")
        return int(h) * 3600 + int(m) * 60 + float(sec)
    except ValueError:
        return None


class Source(Protocol):
    """What the run needs of a source (``VideoSource``, ``ImageSource``, ``LiveSource``)."""

    info: VideoInfo
    live: bool  # True: consume through a newest-frame slot (drop, never block)
    kind: str  # file, images, camera or stream
    lost: int
    audio_streams: Sequence  # input audio streams whose packets the source yields
    subtitle_streams: Sequence  # input subtitle streams whose packets the source yields
    data_streams: Sequence  # input data streams (telemetry) whose packets the source yields
    audio_samples: Mapping[int, av.Packet]  # a packet of each, where one was read already (to check them with)
    audio_dropped: int  # audio packets left out because their timestamps cannot be right
    subtitles_dropped: int  # subtitle packets left out because they are timed where the video is not
    data_dropped: int  # data packets left out because they are timed where the video is not
    joins: int  # files read after the first (--concat), where audio may overlap at a join
    sensor_boxes: Sequence[SensorBox]  # a dashcam's GPS/accelerometer boxes that an MP4/MOV output can copy

    def __enter__(self) -> Source: ...

    def __exit__(self, *exc: object) -> None: ...

    def __iter__(self) -> Iterator[Frame | av.Packet]: ...

    def expected_frames(self) -> int | None: ...


def stream_length(s) -> float | None:
    """A stream's own length in seconds as its header says, or, in Matroska, its ``DURATION`` tag (the
    container's may be the longer audio's, or stretched by a subtitle's damaged timestamp); None if
    neither says. Not checked: a damaged header may make it absurd."""
    if s.duration is not None and s.time_base is not None:
        return float(s.duration * s.time_base)
    return tag_duration(s.metadata.get("DURATION"))


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


#: Top-level boxes of an MP4/MOV file (ISO base media; QuickTime's wide, free, skip).
_MP4_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid", b"meta", b"pdin", b"styp", b"sidx",
              b"moof", b"mfra", b"pnot", b"PICT", b"udta"}  # fmt: skip


def _is_fourcc(kind: bytes) -> bool:
    return len(kind) == 4 and all(32 <= b < 127 for b in kind)


def _boxes(f, start: int, end: int, first_known: bool = True) -> Iterator[tuple[bytes, int, int]]:
    """(kind, position, size) of the MP4/MOV boxes of ``f`` from ``start`` to ``end``, header by header
    (at most 1000); ``first_known``: the first must be one of :data:`_MP4_BOXES` (a top level)."""
    pos, n = start, 0
    while pos + 8 <= end and n < 1000:
        f.seek(pos)
        head = f.read(16)
        size, kind = int.from_bytes(head[:4], "big"), head[4:8]
        if not _is_fourcc(kind) or (first_known and n == 0 and kind not in _MP4_BOXES):
            return  # (after a known first box, a camera's own boxes: Novatek's 'gps ', 'XMP_' ...)
        if size == 1 and len(head) == 16:
            size = int.from_bytes(head[8:16], "big")
        elif size == 0:
            size = end - pos  # (to the end of the file)
        if size < 8:
            return
        yield kind, pos, size
        pos, n = pos + size, n + 1


def unfinished_mp4(path: str | Path) -> bool:
    """Whether ``path`` is an MP4/MOV file whose media data is there but whose index (the ``moov``
    box, which cameras write when a recording ends) is not: the file a dashcam leaves when its power
    is cut mid-recording. Reads only the top-level box headers."""
    try:
        with open(path, "rb") as f:
            boxes = [kind for kind, _, _ in _boxes(f, 0, f.seek(0, 2))]
    except OSError:
        return False
    return bool(boxes) and b"mdat" in boxes and b"moov" not in boxes and b"moof" not in boxes


#: Boxes in which dashcams keep what no video stream holds: BlackVue's GPS (NMEA) and accelerometer at the
#: top level, Novatek's (Viofo and many others) GPS index in ``moov``.
SENSOR_BOXES = {b"gps ": "GPS track", b"3gf ": "accelerometer"}
#: The most of a file's top-level sensor boxes read to be copied (a BlackVue minute holds tens of kB).
SENSOR_BYTES = 16 << 20


@dataclass(frozen=True)
class SensorBox:
    """A dashcam's box of its own (:data:`SENSOR_BOXES`): ``what`` it holds, and ``data``, the whole box
    (header included) where it stands at the top level and can be copied as it is into an MP4/MOV
    output; None inside ``moov`` (Novatek's GPS index points at file positions that an output moves)."""

    what: str
    data: bytes | None = field(default=None, repr=False)


def sensor_boxes(path: str | Path) -> list[SensorBox]:
    """The boxes of its own (:data:`SENSOR_BOXES`) that a dashcam's MP4/MOV ``path`` keeps at the top
    level or in ``moov``, which FFmpeg does not read (it reads streams); [] if none (or not such a file).
    Reads box headers, and the top-level sensor boxes themselves (at most :data:`SENSOR_BYTES`)."""
    found: list[SensorBox] = []
    try:
        if not Path(path).is_file():  # (a pipe or a FIFO is not read here: that would take its data)
            return []
        with open(path, "rb") as f:
            budget = SENSOR_BYTES
            for kind, pos, size in list(_boxes(f, 0, f.seek(0, 2))):
                if kind in SENSOR_BOXES:
                    data = None
                    if size <= budget:
                        f.seek(pos)
                        data, budget = f.read(size), budget - size
                    found.append(SensorBox(SENSOR_BOXES[kind], data if data and len(data) == size else None))
                elif kind == b"moov":
                    inner = _boxes(f, pos + 8, pos + size, first_known=False)
                    found += [SensorBox(SENSOR_BOXES[k]) for k, _, _ in list(inner) if k in SENSOR_BOXES]
    except (OSError, ValueError):  # (ValueError: a name with a NUL in it)
        return []
    return found


#: Why a sensor box is left out, by where it was: in ``moov``, or where the output cannot hold it
LEFT_OUT_BECAUSE = {"moov": "not in streams", "output": "which only an .mp4 or .mov file can hold",
                    "start": "timed from the file's start, which --start moves"}  # fmt: skip


def say_sensor_boxes(boxes: Sequence[SensorBox], name: str, why: str = "moov") -> None:
    """One line where ``boxes`` (of the files that ``name`` calls so) are left out of the output, ``why``
    a key of :data:`LEFT_OUT_BECAUSE`."""
    if found := list(dict.fromkeys(box.what for box in boxes)):
        log.warning("%s: left out of the output: the camera's %s (kept in MP4 boxes of its own, %s; the input "
                    "still has them)", name, " and ".join(found), LEFT_OUT_BECAUSE[why])  # fmt: skip


def scaled_to(image: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    """``image`` at ``size`` (height, width) by area interpolation; itself where it is that size already
    (or ``size`` is None).

    >>> scaled_to(np.zeros((4, 6, 3), np.uint8), (2, 3)).shape, scaled_to(np.zeros((4, 6, 3), np.uint8), None).shape
    ((2, 3, 3), (4, 6, 3))
    """
    if size is None or image.shape[:2] == tuple(size):
        return image
    return cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA)


def rgb_picture(vf: av.VideoFrame, size: tuple[int, int] | None = None, bottom_first: bool = False) -> np.ndarray:
    """The RGB uint8 [H,W,3] picture of a decoded frame, converted as players show it: by its colour
    tags, or, untagged, by BT.709 if it is HD (wider than 1024 or taller than 576) and BT.601 if not
    (swscale's default is BT.601 whatever the size). HDR (PQ or HLG) is tone-mapped to SDR BT.709
    (:mod:`roadseg.pipeline.sources.hdr`). An interlaced frame (a camcorder's 1080i: two fields a
    field's time apart, woven) is deinterlaced, as a player does with a stream flagged so, to its first
    field, the bottom if ``bottom_first`` (the stream's order), unless its fields show one instant (PsF)
    (:func:`roadseg.pipeline.sources.fields.deinterlaced`).
    ``size``: (height, width) to scale it to (area interpolation), in the same conversion."""
    if is_hdr(vf) or vf.interlaced_frame:
        image = sdr_picture(vf) if is_hdr(vf) else _converted(vf)
        return scaled_to(deinterlaced(image, bottom_first) if vf.interlaced_frame else image, size)
    return _converted(vf, {} if size is None else {"height": size[0], "width": size[1], "interpolation": "AREA"})


def _converted(vf: av.VideoFrame, scale: dict | None = None) -> np.ndarray:
    if vf.colorspace == 2 and (vf.width > 1024 or vf.height > 576):  # 2: unspecified
        return vf.to_ndarray(format="rgb24", src_colorspace=Colorspace.ITU709, **(scale or {}))
    return vf.to_ndarray(format="rgb24", **(scale or {}))


def is_cover(stream) -> bool:
    """Whether a stream is a cover picture (an attached picture: one still, not the video)."""
    return stream.type == "video" and bool(stream.disposition & av.stream.Disposition.attached_pic)


def picture_stream(container, number: int | None = None):
    """The video stream a file is about, or None: not a cover picture (attached picture), and, among
    several (a thumbnail track, a rear camera), the one FFmpeg's own choice would play; ``number``:
    the file's video stream of that number instead, counted from 0 as FFmpeg's ``-map 0:v:N`` counts
    (None if there is no such stream or it is a cover picture)."""
    if number is not None:
        video = list(container.streams.video)
        chosen = video[number] if 0 <= number < len(video) else None
        return None if chosen is None or is_cover(chosen) else chosen
    moving = [s for s in container.streams.video if not is_cover(s)]
    if not moving:
        return None
    best = container.streams.best("video")
    return next((s for s in moving if best is not None and s.index == best.index), moving[0])


def video_streams(container) -> str:
    """The file's video streams for a message: ``0: h264 1920x1080, 1: h264 1280x720``."""

    def one(n: int, s) -> str:
        cc = s.codec_context  # (None, or without a name, where the stream's header is damaged)
        shape = f" {cc.width}x{cc.height}" if cc is not None and cc.width else ""
        return f"{n}: {getattr(cc, 'name', None) or 'unknown codec'}{shape}" + (" (a cover picture)" if is_cover(s) else "")

    return ", ".join(one(n, s) for n, s in enumerate(container.streams.video)) or "none"


def packet_time(packet: av.Packet) -> float | None:
    """A packet's decoding time (its presentation time where it has none), in seconds of its stream's clock;
    None where it has neither or no time base."""
    stamp = packet.pts if packet.dts is None else packet.dts
    tb = packet.time_base
    return None if stamp is None or not tb else seconds(stamp, tb)


def seconds(ticks: int, time_base: Fraction) -> float:
    """``ticks`` of ``time_base`` in seconds: the float that ``float(ticks * time_base)`` gives (an int divided
    by an int is correctly rounded, as a Fraction's float is), without building Fractions, which cost most of
    the time of reading a file up to --start (:meth:`~roadseg.pipeline.sources.file.VideoSource._up_to_start`).

    >>> from fractions import Fraction
    >>> seconds(1234567, Fraction(1, 90000)) == float(1234567 * Fraction(1, 90000)), seconds(-1024, Fraction(1, 48000))
    (True, -0.021333333333333333)
    """
    return ticks * time_base.numerator / time_base.denominator
