"""What a run is told (:class:`SegmentOptions`; a library caller's :class:`Caller` beside them) and what it reports
(:class:`RunResult`).

Field names are the command line's (``--no-audio`` is ``no_audio``, ``-o`` is ``output``), so a
CLI flag and a library keyword never differ.

Example:
    >>> opts = SegmentOptions("dashcam.mp4", "out.mp4", alpha=0.6, no_audio=True)
    >>> opts.device, opts.mode
    ('auto', 'overlay')
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

from roadseg.errors import ArgumentError, SourceError
from roadseg.pipeline.runner import spawn

#: seconds a camera or stream may take to open, and may send nothing while it is read, before it is lost (the
#: default ``--stream-timeout``; here, not in the sources, so that options need no PyAV)
STREAM_TIMEOUT = 5.0


@dataclass(frozen=True)
class SegmentOptions:
    """Everything ``segment-video`` can be told, for files, images and live sources alike.

    ``input`` is a video file, an image, a folder or glob of images, a webcam index, a device or a
    stream URL; ``output`` the video (or image folder) to write, or the recording of a live run.
    Live-only fields: ``live`` (play a file as a camera), ``show``, ``serve``, ``retries`` and
    ``retry_delay`` (a camera's or a stream URL's), ``stream_timeout`` (theirs, and a file's played live), ``no_hud``,
    ``pace`` (the three of a connection refused where they do nothing: :mod:`~roadseg.pipeline.connecting`); a
    camera's own: ``camera_size``, ``camera_fps``,
    ``camera_format``, ``camera_audio``. File-only: ``start``, ``batch``, ``video_stream``, ``height``, ``fps``, ``concat``, ``parts``;
    ``duration`` cuts a file and ends a live run after that many seconds. ``pace`` and ``queue_size`` are library-only knobs.
    """

    input: str | Path
    output: str | Path | None = None
    model: str | Path | None = None
    size: tuple[int, int] | None = None
    mode: str = "overlay"
    alpha: float = 0.5
    legend: bool = False
    masks_dir: str | Path | None = None
    stats: str | Path | None = None
    start: float = 0.0
    duration: float | None = None
    batch: int = 1
    device: str = "auto"
    threads: int = 0
    tta: bool = False  # flip test-time augmentation: two network passes a frame
    codec: str | None = None  # None: libx264, or the output container's own codec (VP9 for webm)
    crf: int = 23
    preset: str = "superfast"
    no_audio: bool = False
    hwaccel: str | None = None
    video_stream: int | None = None  # a file's video stream, counted from 0 (FFmpeg's -map 0:v:N); None: FFmpeg's choice
    height: int | None = None  # scale a file's picture to this height as it is decoded (never enlarged)
    fps: float | None = None  # keep a file's first picture of each 1/fps s, the output at that rate; None: every one
    concat: bool = False  # input names several video files (folder, glob, @list) read back to back as one
    parts: tuple[str, ...] = ()  # with concat: the files to join, in this order (input then only names them: a drive's folder)
    overwrite: bool = False
    quiet: bool = False
    live: bool = False
    show: bool = False
    serve: tuple[str, int] | None = None
    max_frames: int | None = None
    retries: int | None = 5  # reconnects of a live stream that drops; None: for ever (--retries forever)
    retry_delay: float = 1.0
    stream_timeout: float = STREAM_TIMEOUT  # seconds a live input may take to open, and send nothing, before it is lost
    no_hud: bool = False
    camera_size: tuple[int, int] | None = None  # (width, height) to ask a camera for, as cameras are sold: 1280x720
    camera_fps: float | None = None  # frames/s to ask a camera for
    camera_format: str | None = None  # the camera's own format to ask for (mjpeg, yuyv422, h264)
    camera_audio: str | None = None  # a sound device to record with a camera, FORMAT:DEVICE (alsa:default)
    pace: bool | None = None
    queue_size: int = 8


@dataclass
class RunResult:
    """What a run did. ``as_dict()`` is the ``--stats`` JSON.

    ``fps``: frames over ``seconds`` (a live run's: frames shown a second, over the time between the
    first and the last one as the recording has it); ``frames_lost``: frames the container promised but did not
    decode; ``lost_packets``: video packets that failed to decode (of a live source: those its decoder
    refused; ``frames_lost`` says the same); ``audio_dropped``: damaged audio packets left out
    (timestamps that cannot be right, or refused by the muxer or, when re-encoded, the decoder);
    ``subtitles_dropped``: subtitle packets left out (timed outside the video, or refused by the muxer);
    ``data_streams`` and ``data_dropped``: the same for data streams (telemetry: a GoPro's GPMF);
    ``dropped``, ``drop_rate``, ``latency_ms`` (from when a frame was read to its display) and
    ``reconnects``: live sources; ``per_frame``: class pixel shares per frame (file and image runs
    with ``stats``); ``stopped``: ``run``'s ``stop`` ended the run before its input did (its frames are those
    done by then; ``as_dict()`` has it only then, as ``"stopped": true``, and ``output`` is None where none was
    written); ``fps_cap`` and ``fps_skipped``: ``fps``, the cap asked for, and the pictures it left out (not lost;
    ``as_dict()`` has them only where a cap was asked for); ``video_fps``, ``realtime`` and ``frame_size``: a file's
    own frames/s (its pictures', or the cap's where lower), the run's ``fps`` over it (0.05: 20 s a second of video)
    and its frames' [height, width] (None and [] for images and live input: :func:`~roadseg.pipeline.realtime.own_pace`).
    """

    input: str
    output: str | None
    kind: str
    frames: int
    seconds: float
    fps: float | None
    frames_lost: int = 0
    lost_packets: int = 0
    audio_streams: int = 0
    audio_dropped: int = 0
    subtitle_streams: int = 0
    subtitles_dropped: int = 0
    data_streams: int = 0
    data_dropped: int = 0
    dropped: int = 0
    drop_rate: float = 0.0
    latency_ms: dict | None = None
    reconnects: int = 0
    working_size: list[int] = field(default_factory=list)
    model: str = ""
    providers: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    stages: dict = field(default_factory=dict)
    per_frame: list[dict] | None = None
    stopped: bool = False
    fps_cap: float | None = None
    fps_skipped: int = 0
    video_fps: float | None = None
    realtime: float | None = None
    frame_size: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        d = asdict(self)
        if d["fps_cap"] is None:
            del d["fps_cap"], d["fps_skipped"]
        if d["per_frame"] is None:
            del d["per_frame"]
        if not d["stopped"]:
            del d["stopped"]
        return d


class Caller(NamedTuple):
    """What a library caller gives a run besides its options: ``stop`` and ``on_progress`` (:func:`run`).

    >>> Caller.checked(True, None)
    Traceback (most recent call last):
    roadseg.errors.ArgumentError: stop must be a threading.Event (or None), not True
    """

    stop: threading.Event | None = None
    on_progress: Callable[[int, int | None], None] | None = None

    @classmethod
    def checked(cls, stop: threading.Event | None, on_progress: Callable[[int, int | None], None] | None) -> Caller:
        """The two, or an :class:`~roadseg.errors.ArgumentError` before any work where one cannot be what it is
        (was: ``stop=True`` an AttributeError once the source was open, its output left under a hidden name;
        ``on_progress=5`` a failure at the first frame)."""
        if stop is not None and not callable(getattr(stop, "is_set", None)):
            raise ArgumentError(f"stop must be a threading.Event (or None), not {stop!r}")
        if on_progress is not None and not callable(on_progress):
            raise ArgumentError(f"on_progress must be a function of (done, total) (or None), not {on_progress!r}")
        return cls(stop, on_progress)

    @contextlib.contextmanager
    def passed_on(self, ends: threading.Event) -> Iterator[None]:
        """While the source opens (a stream or camera not there yet, waited for under ``--retries``), ``stop`` set
        sets the run's own ``ends``, which the wait watches (was: unseen until the stages ran: every retry waited
        out, for ever with ``retries=None``); a watcher thread of the open's time alone, joined. A source opened all
        the same gets ``ends`` as it was (the stages see ``stop`` as theirs: the result says ``stopped``)."""
        if self.stop is None:
            yield
            return
        done, fired = threading.Event(), threading.Event()

        def watch() -> None:
            while not done.is_set():
                if self.stop.wait(0.05):
                    fired.set()
                    ends.set()
                    return

        watcher = spawn(watch, "stop-while-opening")
        try:
            yield
        finally:
            done.set()
            watcher.join()
        if fired.is_set():
            ends.clear()

    def stopped_opening(self, exc: BaseException, opts: SegmentOptions, seconds: float) -> RunResult | None:
        """The result of a run that ``stop`` ended while its source was being waited for (returned, as a stop is:
        nothing failed; no output), where ``exc`` is the wait's end; else None."""
        if not isinstance(exc, SourceError) or self.stop is None or not self.stop.is_set():
            return None
        return RunResult(str(opts.input), None, "stream", 0, round(seconds, 2), None, stopped=True)
