"""Live sources: a webcam, a network stream, or a file played in real time (``--live``).

Frames carry their capture time (``Frame.captured``: when their packet was read, before decoding;
a file played live gives its packets at their time, as a camera would), so the run can report the
latency from there to the display. A live source is consumed through a newest-frame slot
(:class:`~roadseg.pipeline.queues.LatestQueue`): frames the model cannot keep up with are dropped
and counted, never queued. A stream's (or a file's) audio packets pass that slot without being
dropped, retimed onto the same capture clock as the frames, so a recording keeps the sound whole
however many frames the model skips. Streams that drop reconnect with doubling delays; a camera
that stops delivering ends the run with a message.

Example:
    >>> with LiveSource("sample_videos/road.mp4") as src:     # a file played as if it were a camera
    ...     first = next(iter(src))
    >>> src.live, src.kind, first.captured is not None
    (True, 'file', True)

The source's life is here: its first connection opened (what a camera, stream or file spec is, and how each is
opened: :mod:`~roadseg.pipeline.sources.opening`), connecting again, closing (from another thread:
:mod:`~roadseg.pipeline.sources.closing`). What it reads of one connection, decoded, is
:mod:`~roadseg.pipeline.sources.connection`'s, made upright at its first size by
:mod:`~roadseg.pipeline.sources.upright`, tied onto the capture clock by :mod:`~roadseg.pipeline.sources.tying`,
and a file played live is paced by :mod:`~roadseg.pipeline.sources.pacing`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import av

from roadseg.errors import SourceError
from roadseg.pipeline.options import STREAM_TIMEOUT
from roadseg.pipeline.runner import call_interruptibly
from roadseg.pipeline.sources.base import Frame, VideoInfo
from roadseg.pipeline.sources.closing import Closing
from roadseg.pipeline.sources.connection import Connection
from roadseg.pipeline.sources.containers import redacted
from roadseg.pipeline.sources.hdr import say_if_hdr
from roadseg.pipeline.sources.microphone import AudioInput
from roadseg.pipeline.sources.opening import (
    HTTP_SCHEMES,
    capture_args,
    last_heard,
    listens,
    open_capture,
    read_failure,
)
from roadseg.pipeline.sources.retrying import REPLAYS, retry_delay_of, retry_line
from roadseg.pipeline.sources.streams import codec_of, picture_stream
from roadseg.pipeline.sources.tying import Tying
from roadseg.pipeline.sources.upright import Upright
from roadseg.pipeline.sources.waiting import waited_for

log = logging.getLogger("roadseg")


def open_url(spec: str, hwaccel: str | None = None, timeout: float = STREAM_TIMEOUT, *, retries: int | None = 5,
             retry_delay: float = 1.0, stop: threading.Event | None = None) -> tuple[av.container.InputContainer, bool]:
    """Open an http(s) URL and tell whether it is media with a known length (a file on a web
    server, a finished HLS playlist), to be read as a file, every frame and its audio, not through a
    live source's newest-frame slot (which kept 2 of a served clip's 38 frames, and no audio), or a
    live stream (an IP camera's MJPEG, live HLS: no length). The container is the source's: the URL
    is not opened a second time (an IP camera may serve one client at a time). A server that does not answer
    yet is waited for as :func:`first_open` says (which of the two it serves cannot be told before it answers; a 404,
    a file that is not there, is not). Ctrl-C reaches the caller at once; one that cannot be opened raises
    :class:`SourceError`."""
    container = first_open(spec, hwaccel, timeout=timeout, retries=retries, retry_delay=retry_delay, stop=stop)
    return container, container.duration is not None and container.duration > 0


def first_open(spec: str, hwaccel: str | None = None, camera: dict[str, str] | None = None, *,
               timeout: float = STREAM_TIMEOUT, retries: int | None = 5, retry_delay: float = 1.0,
               stop: threading.Event | None = None):  # fmt: skip
    """:func:`open_capture` in a thread of its own (PyAV swallows Ctrl-C while a stream connects), for the
    first connection. A stream or camera that is not there yet (refused, timed out, no such device yet:
    :func:`~roadseg.pipeline.sources.waiting.transient`) is waited for under ``--retries`` and ``--retry-delay``,
    as one lost midway is reconnected (:func:`~roadseg.pipeline.sources.waiting.waited_for`; ``retries=0``: not);
    any other failure, and a file's, raises its one-line :class:`SourceError` at once. A port that :func:`listens`
    waits for its sender as long as it takes (the receiver is often started first), with one line that says so;
    any other open waits ``timeout`` s (``--stream-timeout``)."""
    wait, kind = listens(spec), capture_args(spec)[3]
    if wait:
        log.info("waiting for a stream to arrive at %s (Ctrl-C to stop)", redacted(spec))
    def opened():
        return call_interruptibly(lambda: open_capture(spec, hwaccel, camera, wait=wait, timeout=timeout), "open",
                                  lambda c: c.close())  # fmt: skip

    if kind == "file":
        return opened()
    return waited_for(opened, spec, f"{kind} {redacted(spec)}", retries=retries, retry_delay=retry_delay,
                      stop=stop or threading.Event(), timeout=timeout)  # fmt: skip


class LiveSource(Connection, Upright, Tying, Closing):
    """Frames stamped with their capture time; streams reconnect with backoff, cameras end cleanly.

    Args:
        spec: webcam index, device path, stream URL, or a file (played in real time when ``pace``).
        pace: sleep so that a file plays at its own frame rate (default: on for files).
        retries: reconnect attempts for a stream that drops (delays double from ``retry_delay``, up to
            30 s: :data:`~roadseg.pipeline.sources.retrying.MAX_DELAY`); None: for ever (until ``stop``, ``duration`` or the run's end).
            So many more tries too of a stream or camera not there yet at the start (:func:`first_open`).
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
        timeout: seconds an open may take, and a read may wait for data, before the stream is taken as lost
            (``--stream-timeout``; :data:`~roadseg.pipeline.options.STREAM_TIMEOUT` unless told): a camera that
            goes quiet for longer on purpose (one that sends only on motion) needs more, a LAN's may want less.
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

    def __init__(self, spec: str, *, pace: bool | None = None, retries: int | None = 5, retry_delay: float = 1.0,
                 stop: threading.Event | None = None, hwaccel: str | None = None,
                 container: av.container.InputContainer | None = None, audio: bool = True,
                 camera: dict[str, str] | None = None, audio_input: str | None = None,
                 duration: float | None = None, timeout: float = STREAM_TIMEOUT) -> None:  # fmt: skip
        self.spec = str(spec)
        self.duration, self._until = duration, None  # (until: the time.monotonic() reading ends at)
        self.shown = redacted(self.spec)  # (what messages call it: no password)
        self.kind = capture_args(self.spec)[3]
        self.pace = self.kind == "file" if pace is None else pace
        self.retries, self.retry_delay, self.hwaccel, self.camera = retries, retry_delay, hwaccel, camera or {}
        self.timeout = timeout
        self.stop = stop or threading.Event()
        self.reconnects = 0
        self.lost = 0  # video packets the decoder refused (frames the model skips are counted at the newest-frame slot)
        self.last_time: float | None = None
        self._captured: float | None = None  # (the last picture's capture, and that before a lost stream)
        self._lost_at: float | None = None
        self.container = container or first_open(self.spec, hwaccel, self.camera, timeout=timeout, retries=retries,
                                                 retry_delay=retry_delay, stop=self.stop)  # fmt: skip
        self.info = VideoInfo.from_container(self.container, self.spec)
        self._check_picture()
        say_if_hdr(picture_stream(self.container), self.shown)
        self._set_up_audio(audio, audio_input)
        self._set_up_clock()
        self._set_up_replays()
        self._set_up_closing()
        self._set_up_first_picture()

    def _check_picture(self) -> None:
        """Close the container and raise :class:`SourceError` where its video names no codec or no picture size;
        one line where a camera gives another size than the one asked."""
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

    def _set_up_audio(self, audio: bool, audio_input: str | None) -> None:
        """The audio streams handed on (none unless ``audio``; a camera's microphone, ``audio_input``, opened here:
        the container closed where it cannot be), and what a reconnected stream's must match."""
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

    def _set_up_replays(self) -> None:
        """What tells a reconnection that begins the same media again from its start (:meth:`_note_replay`)."""
        self._first_time: float | None = None  # the stream time of the first connection's first frame
        self._replays = False  # a reconnection began at that time again: the same media from its start
        # (only a web server serves files; an RTSP connection's clock starts at 0 each time, a restarted camera's
        # too, as does the made-up clock of a format without timestamps: an IP camera's MJPEG over HTTP)
        self._may_replay = self.spec.lower().startswith(HTTP_SCHEMES)
        self._said_replay = False
        self._furthest_end: float | None = None  # the furthest stream time a connection ended at

    @property
    def audio_dropped(self) -> int:
        """Audio packets left out: damaged timestamps, or too many read before a connection's first frame."""
        return self._dropped + self._timeline.dropped + (self._mic.dropped if self._mic else 0)

    def __enter__(self) -> LiveSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

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

    def _read(self) -> Iterator[Frame | av.Packet]:
        index, attempt = 0, 0
        while not self.stop.is_set():
            if self.container is None:  # a reconnect
                try:
                    self.container = open_capture(self.spec, self.hwaccel, self.camera, timeout=self.timeout)
                    self.reconnects += 1
                    continue
                except SourceError as exc:
                    reason = str(exc)
            else:
                reason, hint, heard = "end of stream", "; unplugged?", None
                try:
                    for item in self._items(index):
                        if isinstance(item, Frame):
                            self._note_picture(item.captured)
                        if isinstance(item, Frame) and not self._replays:
                            attempt = 0  # a stream that delivers again earns its retries back (one that plays
                            # its start again does not: a file served without a length, reopened for ever)
                            index += 1
                        yield item
                        if self.stop.is_set():
                            return
                except (av.error.FFmpegError, OSError, IndexError) as exc:  # IndexError: PyAV, on a stream found late
                    reason, heard = read_failure(exc, self.spec, self.timeout), last_heard(exc, self.timeout)
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
                self._lost_at = self._lost_at or min(t for t in (self._captured, heard, time.monotonic()) if t)
            attempt += 1
            delay = retry_delay_of(self.retry_delay, attempt)
            if self._until is not None and self._until - time.monotonic() < delay:  # (--duration ends first)
                log.warning("stream lost (%s); --duration (%g s) ends before a reconnect: the recording ends there",
                            reason, self.duration)  # fmt: skip
                return
            retries = REPLAYS if self.retries is None and self._replays else self.retries  # (not a file for ever)
            if retries is not None and attempt > retries:
                raise SourceError(f"stream {self.shown} lost ({reason}); gave up after {retries} reconnect{'s' * (retries != 1)}")
            lost_for = time.monotonic() - self._lost_at if self._lost_at else 0.0
            if line := retry_line(reason, self.retry_delay, attempt, retries, lost_for):
                log.warning("%s", line)
            if self.stop.wait(delay):
                return

    def _note_picture(self, captured: float) -> None:
        """Note a picture ``captured`` (``time.monotonic()``): the first one starts ``--duration``'s count; the first
        after a lost stream came back says how long there was none (from the last picture, or the last data where
        that came before it: pictures an MPEG-TS demuxer held till the read timed out are read then), and about how
        many pictures were missed at the stream's rate (was: no line; after "stream lost" and "reconnecting" the
        progress line went on)."""
        if self._until is None and self.duration is not None:
            self._until = captured + self.duration
        if self._lost_at is not None:
            gap, fps = captured - self._lost_at, float(self.info.fps or 0)
            missed = round(gap * fps) - 1
            log.warning("stream back after %.1f s without pictures%s", gap,
                        f" (about {missed} frames missed)" if missed > 0 else "")  # fmt: skip
            self._lost_at = None
        self._captured = captured

    def _finished(self) -> bool:
        """A stream of finite media (an HTTP-served file) that reached its end did not drop."""
        duration = self.container.duration
        return duration is not None and self.last_time is not None and self.last_time >= duration / av.time_base - 0.5

