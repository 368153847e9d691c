"""Live sources: a webcam, a network stream, or a file played in real time (``--live``).

Frames carry their capture time (``Frame.captured``: when their packet was read, before decoding;
a file played live gives its packets at their time, as a camera would), so the run can report the
latency from there to the display. A live source is consumed through a newest-frame slot
(:class:`~roadseg.pipeline.runner.LatestQueue`): frames the model cannot keep up with are dropped
and counted, never queued. A stream's (or a file's) audio packets pass that slot without being
dropped, retimed onto the same capture clock as the frames, so a recording keeps the sound whole
however many frames the model skips. Streams that drop reconnect with doubling delays; a camera
that stops delivering ends the run with a message.

Example:
    >>> is_live_input("0"), is_live_input("rtsp://cam/stream"), is_live_input("clip.mp4")
    (True, True, False)
    >>> with LiveSource("sample_videos/road.mp4") as src:     # a file played as if it were a camera
    ...     first = next(iter(src))
    >>> src.live, src.kind, first.captured is not None
    (True, 'file', True)
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import replace

import av
import numpy as np

from roadseg.errors import SourceError, reason_of
from roadseg.pipeline.runner import call_interruptibly
from roadseg.pipeline.sources.audio import INTERLEAVE, AudioTimeline, MergedFrames
from roadseg.pipeline.sources.base import (
    Frame,
    VideoInfo,
    codec_of,
    open_container,
    packet_time,
    picture_stream,
    redacted,
    retimed,
    rgb_picture,
    scaled_to,
)
from roadseg.pipeline.sources.clock import LEAP
from roadseg.pipeline.sources.decoder import Decoder
from roadseg.pipeline.sources.display import as_shown, matrix_of, told
from roadseg.pipeline.sources.hdr import say_if_hdr
from roadseg.pipeline.sources.inline import InLine, Presented
from roadseg.pipeline.sources.microphone import AudioInput

log = logging.getLogger("roadseg")
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


def open_url(spec: str, hwaccel: str | None = None) -> tuple[av.container.InputContainer, bool]:
    """Open an http(s) URL once and tell whether it is media with a known length (a file on a web
    server, a finished HLS playlist), to be read as a file, every frame and its audio, not through a
    live source's newest-frame slot (which kept 2 of a served clip's 38 frames, and no audio), or a
    live stream (an IP camera's MJPEG, live HLS: no length). The container is the source's: the URL
    is not opened a second time (an IP camera may serve one client at a time). Ctrl-C reaches the
    caller at once; one that cannot be opened raises :class:`SourceError`.
    """
    container = first_open(spec, hwaccel)
    return container, container.duration is not None and container.duration > 0


def first_open(spec: str, hwaccel: str | None = None, camera: dict[str, str] | None = None):
    """:func:`open_capture` in a thread of its own (PyAV swallows Ctrl-C while a stream connects), for the
    first connection: a stream that cannot be opened is not retried (``--retries`` reconnects one that
    drops after it has played), and its :class:`SourceError` says so. A port that :func:`listens` waits
    for its sender as long as it takes (the receiver is often started first), with one line that says so."""
    wait = listens(spec)
    if wait:
        log.info("waiting for a stream to arrive at %s (Ctrl-C to stop)", redacted(spec))
    try:
        return call_interruptibly(lambda: open_capture(spec, hwaccel, camera, wait=wait), "open", lambda c: c.close())
    except SourceError as exc:
        if capture_args(spec)[3] != "stream":
            raise
        raise SourceError(f"{exc}; not retried (--retries reconnects a stream that drops once it plays)") from None


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


class LiveSource:
    """Frames stamped with their capture time; streams reconnect with backoff, cameras end cleanly.

    Args:
        spec: webcam index, device path, stream URL, or a file (played in real time when ``pace``).
        pace: sleep so that a file plays at its own frame rate (default: on for files).
        retries: reconnect attempts for a stream that drops (delays double from ``retry_delay``).
        stop: set it to end the source (also ends a reconnect wait).
        hwaccel: decode on a hardware device, as for files.
        container: ``spec`` already opened (by :func:`open_url`), taken over, not opened again.
        camera: what to ask a camera for (:func:`camera_options`: size, frames/s, format); one line
            says where it gives something else.
        audio_input: a sound device recorded with a camera (``alsa:default``: an
            :class:`~roadseg.pipeline.sources.microphone.AudioInput`), its packets handed on between frames.
        duration: read no longer than this many seconds after the first frame was captured (``--duration``;
            the run cuts the recording to it by the frames' clock): also a stream that is lost then ends, not
            reconnected past it.
        audio: also yield the audio packets (a stream's, a file's; a webcam has none), timed on the
            capture clock: ``pts`` and ``dts`` in the packet's time base count from the same zero
            as :attr:`Frame.captured <roadseg.pipeline.sources.base.Frame.captured>` does
            (``time.monotonic``), so a recording lines them up with the frames it keeps.
    """

    live = True
    subtitle_streams = ()
    data_streams = ()
    audio_samples: dict = {}  # a packet of each audio stream read ahead with the first picture, where one came
    subtitles_dropped = 0
    data_dropped = 0
    joins = 0
    sensor_boxes = ()

    def __init__(self, spec: str, *, pace: bool | None = None, retries: int = 5, retry_delay: float = 1.0,
                 stop: threading.Event | None = None, hwaccel: str | None = None,
                 container: av.container.InputContainer | None = None, audio: bool = True,
                 camera: dict[str, str] | None = None, audio_input: str | None = None,
                 duration: float | None = None) -> None:  # fmt: skip
        self.spec = str(spec)
        self.duration, self._until = duration, None  # (until: the time.monotonic() reading ends at)
        self.shown = redacted(self.spec)  # (what messages call it: no password)
        self.kind = capture_args(self.spec)[3]
        self.pace = self.kind == "file" if pace is None else pace
        self.retries, self.retry_delay, self.hwaccel, self.camera = retries, retry_delay, hwaccel, camera or {}
        self.stop = stop or threading.Event()
        self.reconnects = 0
        self.lost = 0  # video packets the decoder refused (frames the model skips are counted at the newest-frame slot)
        self.last_time: float | None = None
        self.container = container or first_open(self.spec, hwaccel, self.camera)
        self.info = VideoInfo.from_container(self.container, self.spec)
        if not self.info.codec:  # (a damaged header that names no codec: no decoder takes the stream)
            self.container.close()
            raise SourceError(f"no decodable video frames in {self.shown}: its video stream names no codec")
        if not (self.info.width and self.info.height):  # (the outputs are made at the size the stream says)
            self.container.close()
            raise SourceError(f"{self.shown} gave no picture size within 5 s (a stream joined between keyframes, "
                              "whose next keyframe is further off?); try again, or have it send keyframes more often")  # fmt: skip
        if (size := self.camera.get("video_size")) and size != f"{self.info.width}x{self.info.height}":
            log.warning("camera %s gives %dx%d, not the %s asked (it does not offer that size%s)", self.shown,
                        self.info.width, self.info.height, size,
                        " in that format" if "input_format" in self.camera else "")  # fmt: skip
        say_if_hdr(picture_stream(self.container), self.shown)
        self.audio_streams = list(self.container.streams.audio) if audio else []
        self._audio = {s.index: codec_of(s) for s in self.audio_streams}  # what a reconnected stream must match
        self._mic = None
        if audio and audio_input:
            try:
                self._mic = AudioInput(audio_input)
            except BaseException:
                self.container.close()
                raise
            self.audio_streams = [self._mic.stream]
        self._timeline = AudioTimeline()  # audio packets whose timestamps cannot be right are dropped there
        self._dropped = 0  # by the timelines of earlier connections, and audio read long before any frame
        self._clock: float | None = None  # the last frame's Frame.clock
        self._lag = 0.0  # the most a frame's Frame.clock was past its capture time since the last tie (a
        # connection's frames held while it was opened are timed after their arrival, and the frames after them
        # as much): the next connection is tied with it, so the recording keeps the time between two as it passed
        self._sound_end: float | None = None  # where the sound handed on so far ends, on the capture clock
        self._resized = False  # (said once)
        self._first_time: float | None = None  # the stream time of the first connection's first frame
        self._replays = False  # a reconnection began at that time again: the same media from its start
        # (only a web server serves files; an RTSP connection's clock starts at 0 each time, a restarted camera's
        # too, as does the made-up clock of a format without timestamps: an IP camera's MJPEG over HTTP)
        self._may_replay = self.spec.lower().startswith(HTTP_SCHEMES)
        self._said_replay = False
        self._furthest_end: float | None = None  # the furthest stream time a connection ended at
        self._lock = threading.Lock()
        self._busy = False  # the reading thread is inside the source (a read, an open, decoding), not at a yield
        self._closing = False  # close() came while it was: it closes the container once it is out (:meth:`close`)
        self.video_read = time.monotonic()  # when the last video packet was read
        self._opening: Iterator | None = None  # the first connection's items, its first picture read ahead
        self._turned = False  # the pictures are shown turned or mirrored (a phone's video, piped, served or played)
        if self.kind != "camera":  # (a camera has no display matrix: its first frame is not waited for)
            try:
                self._turned = self._upright()
            except KeyboardInterrupt:
                raise  # (the container is closed as the read ahead ends: :meth:`_upright`)
            except BaseException:
                self.close()
                raise

    @property
    def audio_dropped(self) -> int:
        """Audio packets left out: damaged timestamps, or too many read before a connection's first frame."""
        return self._dropped + self._timeline.dropped + (self._mic.dropped if self._mic else 0)

    def __enter__(self) -> LiveSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection; where the thread that reads it is still inside it (a run ended by
        ``--duration`` while a read waits on a stalled source, which cannot be cut short: :meth:`overdue`),
        that thread closes it as it comes out, at most :data:`TIMEOUT` s later."""
        if self._mic is not None:
            self._mic.close()
        with self._lock:
            self._closing = True
            if self._busy:
                return
        if self.container is not None:
            self.container.close()
        self.container = None

    def overdue(self) -> bool:
        """Whether ``duration`` is up and no video came since: a read that waits on a stalled source cannot
        be cut short (FFmpeg's read timeout is :data:`TIMEOUT`), so the run is ended from outside (a frame
        read past it ends the run itself, by its time)."""
        return self._until is not None and time.monotonic() >= self._until + OVERDUE and self.video_read < self._until

    def _retire(self) -> None:
        """Close the dropped connection at once, the first one too: a ``udp://`` stream's port is free
        for the next (kept open, it held the port, and every reconnect failed with "Address already in
        use"). Its audio packets still on their way to the output are safe: the output copied its
        streams when it was made, and routes a packet by its own stream index, never reading the
        stream it came from (that would read freed memory)."""
        self.container.close()
        self.container = None

    def expected_frames(self) -> None:
        return None  # a camera has no end

    def __iter__(self) -> Iterator[Frame | av.Packet]:
        """The frames and audio packets (:meth:`_read`), marked busy while inside the source, so that a
        :meth:`close` from another thread meanwhile is left to this one."""
        items = self._read()
        while True:
            with self._lock:
                if self._closing:
                    return
                self._busy = True
            try:
                item = next(items, None)
            finally:
                with self._lock:
                    self._busy, closing = False, self._closing
                if closing and self.container is not None:  # (closed while inside: left to this thread)
                    self.container.close()
                    self.container = None
            if item is None or closing:
                return
            yield item

    def _read(self) -> Iterator[Frame | av.Packet]:
        index, attempt = 0, 0
        while not self.stop.is_set():
            if self.container is None:  # a reconnect
                try:
                    self.container = open_capture(self.spec, self.hwaccel, self.camera)
                    self.reconnects += 1
                    continue
                except SourceError as exc:
                    reason = str(exc)
            else:
                reason, hint = "end of stream", "; unplugged?"
                try:
                    for item in self._items(index):
                        if isinstance(item, Frame) and self._until is None and self.duration is not None:
                            self._until = item.captured + self.duration
                        if isinstance(item, Frame) and not self._replays:
                            attempt = 0  # a stream that delivers again earns its retries back (one that plays
                            # its start again does not: a file served without a length, reopened for ever)
                            index += 1
                        yield item
                        if self.stop.is_set():
                            return
                except (av.error.FFmpegError, OSError, IndexError) as exc:  # IndexError: PyAV, on a stream found late
                    reason = read_failure(exc)
                except SourceError as exc:  # (its decoder refused every picture for a while: :meth:`_decoded`)
                    reason, hint = str(exc), ""  # (a device that still sends was not unplugged)
                if self.kind == "file":  # read once, never "reconnected" (that replayed a damaged file forever)
                    if reason != "end of stream":
                        log.warning("stopped reading %s at damaged data (%s)", self.shown, reason)
                    return
                if reason == "end of stream" and self._finished():
                    return
                if self.kind == "camera":
                    raise SourceError(f"camera {self.shown} stopped delivering frames ({reason}){hint}")
                ends = [end for end in (self._furthest_end, self.last_time) if end is not None]
                self._furthest_end = max(ends, default=None)  # (a replay goes on only past where every connection ended)
                self._retire()
            attempt += 1
            delay = min(self.retry_delay * 2 ** (attempt - 1), 30.0)
            if self._until is not None and self._until - time.monotonic() < delay:  # (--duration ends first)
                log.warning("stream lost (%s); --duration (%g s) ends before a reconnect: the recording ends there",
                            reason, self.duration)  # fmt: skip
                return
            if attempt > self.retries:
                raise SourceError(f"stream {self.shown} lost ({reason}); gave up after {self.retries} reconnects")
            log.warning("stream lost (%s); reconnecting in %.1f s (attempt %d/%d)", reason, delay, attempt, self.retries)
            if self.stop.wait(delay):
                return

    def _finished(self) -> bool:
        """A stream of finite media (an HTTP-served file) that reached its end did not drop."""
        duration = self.container.duration
        return duration is not None and self.last_time is not None and self.last_time >= duration / av.time_base - 0.5

    def _decoded(self) -> Iterator:
        """Decoded pictures, each with the ``time.monotonic()`` its packet was read at (as early as a picture's
        arrival can be known: decoding, and a decoder that holds pictures back, come after; a file played live
        gives each video packet at its time, as a camera would, from the first one on, and afresh where its
        clock starts again, :func:`started_again`; a file's pictures whose stamps alone are damaged put back in line
        first, :func:`in_line`), and the audio packets, in stream order; a corrupt packet is
        skipped and counted (``lost``, as a file source does), not taken for a lost stream. A codec that changes
        midway (a camera that restarted as MPEG-4, recordings joined with cat) is followed by :class:`Decoder`,
        where its bytes tell it. Where the decoder still refuses every packet for :data:`REFUSED` seconds of the stream,
        raises :class:`SourceError`, so that the connection is opened again (its decoder then the stream's
        codec's, as it reads there) or the run ends with one line."""
        stream, refused = picture_stream(self.container), Refusals(float(self.info.fps or 25))
        stream.thread_type = "SLICE"  # (frame threads hold a picture back a thread: lag, 0.6 s on 16 cores)
        decoder = Decoder(stream, self.spec, self.container.format, probe=True, shown=self.shown, thread_type="SLICE")
        audio = [s for s in self.container.streams.audio if self._audio.get(s.index) == codec_of(s)]
        if len(audio) < len(self._audio) and self.reconnects:
            log.warning("the reconnected stream's audio is not the one recorded so far; going on without it")
            self._audio = {s.index: codec_of(s) for s in audio}
        # AAC frames merged into one packet by a damaged ADTS length: timed as long as their sound, as a file's are,
        # so that the timeline puts one whose timestamp fits nowhere where its stream goes on (dropped, all its
        # frames were lost)
        merges = MergedFrames({s.index for s in audio if codec_of(s) == "aac"})
        read: dict[int | None, tuple[float, int | None]] = {}  # pts -> (when the packet was read, its dts), for the
        # pictures the decoder holds
        paced: tuple[float, float] | None = None  # (time.monotonic(), stream time) a file played live is paced from
        last, due = None, 0.0  # the last video packet's stream time, and when it was due
        packets, presented = self.container.demux(stream, *audio), None
        if self.kind == "file":  # (pictures whose stamps alone are damaged, put back as a file read whole puts them)
            fps = stream.average_rate or stream.guessed_rate
            presented = Presented(1 / float(fps) if fps else None)  # (and those whose presentation time alone is)
            packets = in_line(packets, 1 / float(fps) if fps else None, presented)
        for packet in packets:
            if packet.stream.type == "audio":
                if packet.size:
                    merges.take(packet)
                    yield packet
                continue
            now = self.video_read = time.monotonic()
            if self.pace and (t := packet_time(packet)) is not None:
                if paced is None:
                    paced = (now, t)
                elif started_again(t, last):  # (a join: the next recording is due a frame step after the last)
                    paced = (due + 1 / float(self.info.fps or 25), t)
                last = t
                now = due = paced[0] + t - paced[1]  # (when it is due: later than that, the lag counts)
                if self.stop.wait(max(0.0, now - time.monotonic())):
                    return
            if packet.size:
                read.setdefault(packet.pts, (now, packet.dts))
                if len(read) > MAX_HELD:  # (packets that gave no picture: refused, or no pts)
                    del read[next(iter(read))]
            try:
                frames = decoder.decode(packet)
            except (av.error.FFmpegError, ValueError):
                self.lost += 1
                if (seconds := refused.add(packet)) >= REFUSED:
                    raise SourceError(f"its decoder ({codec_of(stream)}) refused every video packet for {seconds:.0f} s: "
                                      "damaged, or the stream's codec changed") from None  # fmt: skip
                continue
            if frames:
                refused.clear()
            for vf in frames:
                at, dts = read.pop(vf.pts, (now, None))
                yield from [(vf, at)] if presented is None else _presented(presented, vf, at, dts)
        if presented is not None:  # (a first picture that waited for the next: the stream's only one)
            yield from (item for item, _ in presented.flush())

    def _items(self, first_index: int) -> Iterator[Frame | av.Packet]:
        """One connection's frames, stamped with their capture time, and its audio packets.

        The connection's first frame ties its stream time to the capture clock (a reconnected stream's
        clock starts afresh, as far after its arrival as the connection before it ran: :attr:`_lag`); each
        frame's :attr:`Frame.clock` and each audio packet's timestamps are their stream time moved onto it, so the frames a stream delivers in a burst (what it buffered
        while it was being opened) keep their spacing and the sound stays in step with the picture.
        A stream whose timestamps run away from the time its frames arrive (more than ``RESYNC``
        seconds) is tied again (never back over frames already timed: :meth:`_tie`); one whose format
        has no timestamps of its own (an IP camera's MJPEG over HTTP, a raw H.264 stream: FFmpeg
        numbers their frames at a made-up 25 fps) is timed by arrival alone. Audio read before the first frame (the decoder holds a few frames back) waits
        for it; so does sound that steps back or leaps from the last picture as a clock that starts again does
        (:func:`started_again`) for the pictures after it, which tell whether the video's did too: if one does, it is
        the next recording's sound before its first picture (two joined with cat: the first's last pictures may come
        after it), tied with it, following on from the sound handed on so far (as a file read whole puts it: a frame
        step after the last picture, or later where the sound would go back over what came before), and judged afresh
        with it; where they go on for ``INTERLEAVE`` seconds instead, it is judged as it came (damaged stamps).
        """
        index0 = first_index
        self._dropped += self._timeline.dropped
        self._timeline = timeline = AudioTimeline()
        shift: float | None = None  # capture time minus stream time, in seconds
        lag = 0.0  # how far after arrival this connection was tied (:attr:`_lag`), which RESYNC leaves out
        waiting: list[av.Packet] = []
        again: list[tuple[av.Packet, float | None]] = []  # (sound read since one whose clock started again, with
        # the picture time then) waiting for the pictures after it
        heard: float | None = None  # the stream time of the first sound read before the first picture
        video: float | None = None  # this connection's last picture time (the connection before ran another clock)
        stamped = not self.container.format.flags & NO_TIMESTAMPS and self.container.format.name not in MADE_UP
        opening, self._opening = self._opening, None
        for item in opening or self._decoded():
            if isinstance(item, av.Packet):
                if shift is None:  # (judged by the first frame, where it is: the file's first packets may be
                    if (at := packet_time(item)) is not None:  # a later chunk written twice)
                        heard = at if heard is None else min(heard, at)
                    if len(waiting) < MAX_WAITING:
                        waiting.append(item)
                    else:
                        self._dropped += 1
                    continue
                if again or stamped and video is not None and (at := packet_time(item)) is not None and started_again(at, video):
                    again.append((item, video))
                    if len(again) < MAX_WAITING:
                        continue
                    yield from self._judged(again, timeline, shift)  # (too many for a picture: as they came)
                    continue
                yield from (self._timed(p, shift) for p in timeline.take(item, item.stream.index, video))
                continue
            vf, captured = item  # (when its packet was read: a file played live, when it was due)
            clock = None
            if vf.pts is not None and vf.time_base is not None:
                t = float(vf.pts * vf.time_base)
                if stamped and shift is not None and self.last_time is not None and started_again(t, self.last_time):
                    # the stream's clock started again (an encoder restarted, a looped file, recordings joined with
                    # cat): tie it anew, and judge its sound afresh (the old timeline took every packet after the
                    # restart for a step back, or a leap away from the picture); a packet the old one holds is passed
                    # on the clock it came on, or dropped and counted. The sound read since the clock started
                    # again, before this picture, is this recording's: in step with it, after the sound so far
                    yield from (self._timed(p, shift) for p in timeline.flush())
                    sound = [at for at in (packet_time(p) for p, _ in again) if at is not None]
                    shift = self._tie(t, captured, min(sound, default=None))
                    waiting += (p for p, _ in again)
                    again.clear()
                    self._dropped += timeline.dropped
                    went_on = None if self._sound_end is None else self._sound_end - shift  # (on the new clock)
                    timeline = self._timeline = AudioTimeline(goes_on=went_on)
                if again and (again[0][1] is None or t - again[0][1] > INTERLEAVE):  # (the pictures went on)
                    yield from self._judged(again, timeline, shift)
                self.last_time = video = t
                if self._first_time is None:
                    self._first_time = t
                elif (self._may_replay and stamped and first_index == index0 and self.reconnects
                      and abs(t - self._first_time) < 1e-3):  # fmt: skip  # (made-up times start at 0 each time)
                    if not self._said_replay:
                        log.warning("%s began again from its start (a file served without a length?); it is recorded "
                                    "again each time it is reopened, at most --retries times", self.shown)  # fmt: skip
                    self._replays = self._said_replay = True
                elif self._replays and self._furthest_end is not None and t > self._furthest_end + 1.0:
                    self._replays = False  # (it went on past where the connections ended: a camera that restarted)
                if stamped:
                    tied = shift is None or abs(t + shift - captured - lag) > RESYNC
                    if shift is None:
                        lag = self._lag if self._clock is not None else 0.0  # (kept from the connection before)
                        shift = self._tie(t, captured, heard, lag)
                    elif tied:
                        shift = self._tie(t, captured, None, lag)
                    clock = self._clock = t + shift
                    # (the most since the tie: a picture read late, as the last one before an outage that a
                    # demuxer gives only when its read times out, is not how far the recording runs behind)
                    self._lag = clock - captured if tied else max(self._lag, clock - captured)
            image = rgb_picture(vf)
            if self._turned:
                image = np.ascontiguousarray(as_shown(image, float(vf.rotation or 0), matrix_of(vf))[0])
            yield Frame(first_index, self._sized(image), vf.pts, vf.time_base, captured, clock=clock)
            first_index += 1
            if shift is not None and waiting:  # (after the frame: a recording starts at its first frame)
                yield from (self._timed(p, shift) for w in waiting for p in timeline.take(w, w.stream.index, video))
                waiting.clear()
            if self._mic is not None:
                yield from self._mic.take()
        if self.stop.is_set():
            return
        if shift is not None:  # the stream ended: a packet held for the next one is passed (a stream's only one)
            yield from self._judged(again, timeline, shift)
            yield from (self._timed(p, shift) for p in timeline.flush())  # or dropped and counted (a leap at the end)

    def _judged(self, held: list[tuple[av.Packet, float | None]], timeline: AudioTimeline, shift: float
                ) -> Iterator[av.Packet]:  # fmt: skip
        """The audio packets ``held`` (emptied; each with the last picture's time when it was read) that
        ``timeline`` passes, on the capture clock (``shift``)."""
        packets = held[:]
        held.clear()
        yield from (self._timed(p, shift) for a, video in packets for p in timeline.take(a, a.stream.index, video))

    def _upright(self) -> bool:
        """Whether the pictures are shown turned or mirrored (:mod:`~roadseg.pipeline.sources.display`): if so,
        one line says so and :attr:`info` takes the size they are shown at (the outputs are made at it). The
        display matrix comes with a decoded picture, so the first is decoded now (:meth:`_read_ahead`: a pipe
        or a URL cannot be opened a second time to look), and the first connection hands it on first."""
        held = call_interruptibly(self._read_ahead, "open", lambda _: self.container.close())
        self.audio_samples = {p.stream_index: p for p in reversed(held) if isinstance(p, av.Packet)}  # (the first)
        first = next((item[0] for item in held if isinstance(item, tuple)), None)
        if first is None:
            return False
        rotation, matrix = float(first.rotation or 0), matrix_of(first)
        probe = np.zeros((2, 3, 1), np.uint8)  # (a picture of no size: how the matrix turns it, no more)
        shown, mirrored = as_shown(probe, rotation, matrix)
        if shown is probe:
            return False
        log.warning("%s", told(round(rotation) % 360, mirrored))
        if shown.shape[0] != probe.shape[0]:
            sar = self.info.sample_aspect
            self.info = replace(self.info, width=self.info.height, height=self.info.width,
                                sample_aspect=1 / sar if sar else sar)  # fmt: skip
        return True

    def _read_ahead(self) -> list:
        """What :meth:`_decoded` gives up to and with the first picture (or :data:`MAX_WAITING` audio packets
        without one), kept in :attr:`_opening` with the rest of the connection after it (an error met on the
        way: raised there, where the connection's are)."""
        items, held = self._decoded(), []
        try:
            for item in items:
                held.append(item)
                if isinstance(item, tuple) or len(held) >= MAX_WAITING:
                    break
        except (av.error.FFmpegError, OSError, IndexError, SourceError) as exc:
            self._opening = _then_raise(held, exc)
            return held
        self._opening = itertools.chain(held, items)
        return held

    def _sized(self, image):
        """``image`` at the size the stream said when it was opened (what the outputs were made for): a
        camera whose settings changed, a reconnected stream's other resolution or a damaged picture
        header is scaled to it, with one line the first time."""
        want = (self.info.height, self.info.width)
        if image.shape[:2] == want or not all(want):
            return image
        if not self._resized:
            self._resized = True
            log.warning("%s's picture changed size from %dx%d to %dx%d; scaling it to the first size", self.shown,
                        want[1], want[0], image.shape[1], image.shape[0])  # fmt: skip
        return scaled_to(image, want)

    def _tie(self, t: float, captured: float, heard: float | None, lag: float = 0.0) -> float:
        """The shift that puts stream time ``t`` at ``captured``, or just after the last frame timed so far
        where that is later (a stream that delivered faster than real time ran the clock ahead of arrival;
        the next connection's frames go on from there, not back over them), and its sound from ``heard``
        (stream time; None: none read yet) after the sound handed on so far: a connection's sound runs a
        little past its last picture, and the next one's begins a little before its first (the muxer
        refused what went back over it). ``lag``: seconds after ``captured`` to put ``t`` at instead (a new
        connection's: the recording's lag behind arrival so far, kept)."""
        shift = captured + lag - t
        if self._clock is not None and t + shift <= self._clock:
            shift = self._clock + 1 / float(self.info.fps or 25) - t
        if heard is not None and self._sound_end is not None and heard + shift < self._sound_end:
            shift = self._sound_end - heard
        return shift

    def _timed(self, packet: av.Packet, shift: float) -> av.Packet:
        """An audio ``packet`` moved onto the capture clock (:func:`retimed`), noting where the sound ends."""
        packet = retimed(packet, shift)
        end = packet_time(packet) + float((packet.duration or 0) * packet.time_base)
        self._sound_end = end if self._sound_end is None else max(self._sound_end, end)
        return packet


def started_again(t: float, last: float) -> bool:
    """Whether the clock of a file played live started again at ``t`` seconds, its video packet before at ``last``:
    it stepped back more than :data:`RESTART`, or leapt more than :data:`~roadseg.pipeline.sources.clock.LEAP`
    ahead (a recording joined on whose clock ran on), which is not waited out, as a file read whole takes it out
    (:class:`~roadseg.pipeline.sources.clock.Clock`).

    >>> started_again(0.0, 2.0), started_again(102.0, 2.0), started_again(5.0, 2.0)  # a pause of 3 s is paced
    (True, True, False)
    """
    return t < last - RESTART or t > last + LEAP


def in_line(packets: Iterator[av.Packet], step: float | None, presented: Presented | None = None) -> Iterator[av.Packet]:
    """A file's ``packets`` (in file order), each video packet whose timestamps alone are damaged moved back in line
    with the pictures around it, where :class:`~roadseg.pipeline.sources.inline.InLine` puts a file's pictures read
    whole (``step``: the frame step of the stream's rate, None where unknown), by its decoding time: the packets of
    a file played live are then paced, and their pictures tied to the capture clock, at their place (was: a first
    picture stamped 30 s on tied the clock there, the sound read before it 30 s before the recording; one stamped
    0.7 s ahead waited out, and the pictures after it played 0.7 s late). The file is read up to twice
    :data:`~roadseg.pipeline.sources.gaps.RUN` pictures ahead, its first RUN + 1 at its start, while InLine judges
    (a file at once, before its packets are paced: no latency; a pipe fed in real time waits for them); every packet
    keeps its place in the file's order. Where the file breaks off, what was read is passed first. At most
    :data:`MAX_JUDGING` packets wait: past that (a file whose video stops, or has a hole, while pictures are judged:
    its sound was all held, 472 of a 5-picture clip's 477 packets with 10 s of sound), the pictures held are judged
    by what came so far, as at the end, and everything held is passed. A presentation time damaged alone (a stream
    with B-frames, its decoding time in line) is put back after decoding, by ``presented``, whose pictures the line
    said at the end counts too.
    """
    line, held, judged = InLine(step), deque(), 0  # (held: packets in file order from the first not judged)

    def passed(frames: list[Frame]) -> Iterator[av.Packet]:
        nonlocal judged
        for frame in frames:
            packet, at = frame.image, frame.pts
            if (stamp := _stamp(packet)) is not None and at != stamp:
                if packet.dts is not None:  # (its presentation time moved as far: the damage moved the PES header's)
                    packet.dts = at
                if packet.pts is not None:
                    packet.pts += at - stamp
            judged += 1
        while held and (judged or not _judged(held[0])):
            if _judged(held[0]):
                judged -= 1
            yield held.popleft()

    try:
        for packet in packets:
            held.append(packet)
            if _judged(packet):
                yield from passed(line.take(Frame(0, packet, _stamp(packet), packet.time_base)))
            elif len(held) == 1:
                yield held.popleft()
            if len(held) >= MAX_JUDGING:  # (the pictures held judged as at the end: all of it passes)
                yield from passed(line.flush())
    except Exception:  # noqa: BLE001 - damage that breaks the demuxer: what was read goes first, then the error
        yield from passed(line.flush())
        raise
    yield from passed(line.flush())
    if n := line.retimed + (presented.retimed if presented is not None else 0):
        said = "1 picture with a damaged timestamp" if n == 1 else f"{n} pictures with damaged timestamps"
        log.warning("put %s back in line with the pictures around %s", said, "it" if n == 1 else "them")


def _stamp(packet: av.Packet) -> int | None:
    """The timestamp :func:`in_line` judges ``packet`` by: its decoding time, else its presentation time where its
    stream shows its pictures in the order they are decoded (a Matroska file's first pictures with B-frames have no
    decoding time, and their presentation times are out of order: two of them were taken for damage and moved).
    None: it passes as it came."""
    if packet.dts is not None:
        return packet.dts
    return None if packet.stream.codec_context.has_b_frames else packet.pts


def _presented(presented: Presented, vf: av.VideoFrame, at: float, dts: int | None) -> list[tuple]:
    """(picture, when its packet was read) for ``vf``, read at ``at``, its packet decoded at ``dts`` (its time
    base's ticks), and any that waited before it, each retimed where ``presented`` put it back in line."""
    if vf.pts is None or not vf.time_base:
        return [(vf, at)]
    out = presented.take((vf, at), float(vf.pts * vf.time_base), None if dts is None else float(dts * vf.time_base))
    for (frame, _), t in out:
        if t != float(frame.pts * frame.time_base):
            frame.pts = round(t / frame.time_base)
    return [item for item, _ in out]


def _judged(packet: av.Packet) -> bool:
    """Whether ``packet`` is one :func:`in_line` judges: a video packet with a picture in it."""
    return packet.stream is not None and packet.stream.type == "video" and packet.size > 0


def _then_raise(items: list, exc: BaseException) -> Iterator:
    """``items``, then ``exc`` raised."""
    yield from items
    raise exc


class Refusals:
    """The video packets a decoder refused in a row: how many seconds of the stream they span, by the steps
    between their timestamps (a step that is missing, backwards or over a second, as damage makes, counts
    as one frame at ``fps``).

    >>> refused = Refusals(fps=25.0)
    >>> [refused.add(av.Packet(b"x")) for _ in range(3)], refused.clear(), refused.add(av.Packet(b"x"))
    ([0.04, 0.08, 0.12], None, 0.04)
    """

    def __init__(self, fps: float) -> None:
        self.frame = 1 / fps
        self.clear()

    def clear(self) -> None:
        self.seconds, self._last = 0.0, None

    def add(self, packet: av.Packet) -> float:
        t = packet_time(packet)
        step = None if t is None or self._last is None else t - self._last
        self.seconds += step if step is not None and 0 < step <= 1.0 else self.frame
        self._last = t if t is not None else self._last
        return self.seconds


OVERDUE = 0.25  # seconds past --duration's end with no video read before the run is ended from outside (a frame
# on its way ends it first, by its time)
MAX_HELD = 64  # read times of video packets kept for the pictures a decoder holds back
MAX_WAITING = 256  # audio packets kept while a connection's first frame is awaited (seconds of sound)
MAX_JUDGING = 256  # packets in_line holds while pictures among them are judged (16 pictures at 25 frames/s with
# their sound hold about 50)
RESYNC = 5.0  # seconds a stream's timestamps may run away from its frames' arrival before it is tied again
REFUSED = 5.0  # seconds of a stream whose every video packet its decoder refused before the connection counts as lost
RESTART = 0.5  # seconds a stream's timestamps may step back before its clock counts as started again
NO_TIMESTAMPS = 0x80  # FFmpeg's AVFMT_NOTIMESTAMPS: a format whose timestamps the demuxer makes up (mpjpeg, h264, mjpeg)
MADE_UP = frozenset({"image2pipe"})  # numbers its pictures at a rate it is told, without that flag


