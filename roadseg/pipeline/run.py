"""THE run: one source -> infer -> overlay -> sinks, for video files, images and live sources alike.

:func:`run` opens the source (a context manager with ``.info`` and ``.live``), opens the sinks the
options ask for, builds the model (unless one is given) and the overlay once, runs the stages
through :func:`~roadseg.pipeline.runner.run_stages` (a newest-frame slot after a live source) and
turns failures and interruptions into :mod:`roadseg.errors` in one place. ``segment-video``, the
live view, ``bench``'s pipeline row and batch workers all come through here.

Example:
    >>> result = run(SegmentOptions("sample_videos/road.mp4", "/tmp/road-seg.mp4", size=(90, 120),
    ...                             duration=1.0, overwrite=True, quiet=True))
    >>> result.frames, result.kind
    (30, 'file')
    >>> segment_video("sample_videos/road.mp4", "/tmp/road-seg.mp4", size=(90, 120), duration=1.0,
    ...               overwrite=True, quiet=True)["frames"]
    30
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

from roadseg.errors import (
    EncoderError,
    Interrupted,
    MasksFailed,
    ModelError,
    OutputClosed,
    OutputError,
    PipelineError,
    RoadsegError,
    SinkError,
    SourceError,
    StopRequested,
    reason_of,
)
from roadseg.pipeline.infer import Segmenter, infer_stage
from roadseg.pipeline.options import RunResult, SegmentOptions
from roadseg.pipeline.overlay import Overlay, class_shares, draw_hud, output_size, palette_lut
from roadseg.pipeline.runner import LatestQueue, StageFailed, end, run_stages, spawn
from roadseg.pipeline.sinks import (
    ImageSink,
    MaskSink,
    ServeSink,
    Sink,
    VideoSink,
    WindowSink,
    check_output_path,
    same_file,
)
from roadseg.pipeline.sinks.base import check_writable, moved_dates, shift_timecode
from roadseg.pipeline.sinks.encoders import check_video_encoder
from roadseg.pipeline.sinks.video import FASTSTART, STDOUT
from roadseg.pipeline.sources import (
    Frame,
    ImageSource,
    LiveSource,
    Source,
    VideoInfo,
    VideoSource,
    image_paths,
    is_image_input,
    is_live_input,
    open_url,
)
from roadseg.pipeline.sources.base import SensorBox, packet_time, redacted, say_sensor_boxes
from roadseg.pipeline.sources.capture import HTTP_SCHEMES, camera_options, capture_args
from roadseg.pipeline.sources.concat import concat_paths, concat_source
from roadseg.pipeline.suffixes import AUDIO_SUFFIXES, IMAGE_SUFFIXES
from roadseg.pipeline.timing import FrameStats, Progress, StageTimes, timed

log = logging.getLogger("roadseg")
HELD_PACKETS = 4096  # audio, subtitle and data packets a run that may be cut short (--max-frames, a live run)
# holds until the pictures reach them


def run(options: SegmentOptions, *, segmenter: Segmenter | None = None,
        finalised: Callable[[], None] | None = None) -> RunResult:  # fmt: skip
    """Segment ``options.input`` into the outputs ``options`` name; return what was done.

    Args:
        options: the run, as ``segment-video`` would be told it.
        segmenter: a model to reuse (a batch worker keeps one for its whole life); ``options.model``,
            ``device`` and ``threads`` are then not used, ``options.tta`` must be what it was built
            with, and ``options.size``, if set, only changes the working size. ``None`` builds one
            from the options.
        finalised: called once every output is finalised, before ``--stats`` is written (``segment-video``
            lets stop signals be from there: :func:`~roadseg._startup.settle`).

    Raises:
        RoadsegError: :class:`~roadseg.errors.SourceError`, ``OutputError``, ``ModelError`` or
            ``SinkError`` before any work; ``PipelineError`` for a failure midway (the message says
            whether a playable partial output was kept); ``Interrupted`` on Ctrl-C/SIGTERM;
            ``OutputClosed`` (exit code 141) where the reader of a piped output closed it.

    Safe to call from any thread; it installs no signal handlers.
    """
    live = _check(options)
    stop = threading.Event()
    primary: VideoSink | ImageSink | None = None
    try:
        with ExitStack() as stack:
            seg = _segmenter(options, segmenter)
            stats = FrameStats()
            views = _open_views(options, seg, stats, stack)  # (before the source: a udp:// port waits for its sender)
            source = stack.enter_context(_open_source(options, live, stop))
            seg = seg.fitted(source.info.height, source.info.width, source.info.sample_aspect)
            seg.check_memory(1 if live else options.batch)
            sinks, primary = _open_sinks(options, source, views, stack)
            result = _stream(options, source, seg, sinks, primary, stats, stop)
    except KeyboardInterrupt as exc:  # (before the stages ran: while a stream connects)
        raise _interrupted(exc, primary) from None
    if finalised is not None:
        finalised()
    if options.stats:
        _write_stats(options.stats, result)
    return result


def _write_stats(path: str | Path, result: RunResult) -> None:
    """``result`` as the ``--stats`` JSON at ``path``; one :class:`OutputError` line where it cannot be written."""
    try:
        Path(path).write_text(json.dumps(result.as_dict(), indent=1))
    except OSError as exc:
        raise OutputError(f"wrote {result.output or 'nothing'}, but {_unwritten(path, exc)}") from None


def segment_video(src: str | Path, dst: str | Path, options: SegmentOptions | None = None, **kw) -> dict:
    """Segment ``src`` (a video, an image, a folder or a glob) into ``dst``; return the run's stats as a dict.

    Keyword arguments set fields of :class:`SegmentOptions`; errors as for :func:`run`.
    """
    opts = replace(options or SegmentOptions(str(src)), input=str(src), output=str(dst), **kw)
    return run(opts).as_dict()


def _check(opts: SegmentOptions) -> bool:
    """Refuse option sets that cannot work, before anything is opened; return whether the input is live."""
    live = opts.live or is_live_input(str(opts.input))
    if live and not (opts.show or opts.serve or opts.output):
        raise OutputError("a live run needs somewhere to go: --show, --serve HOST:PORT and/or -o FILE")
    if not live and (opts.show or opts.serve):
        raise OutputError("--show and --serve are for live input (a camera, a stream URL, or a file with --live)")
    if not opts.output and not live:
        raise OutputError("-o/--output is required")
    camera = opts.camera_size or opts.camera_fps or opts.camera_format or opts.camera_audio
    if camera and capture_args(str(opts.input))[3] != "camera":
        raise OutputError("--camera-size, --camera-fps, --camera-format and --camera-audio are for a camera (0, "
                          f"/dev/video0); {opts.input} is not one")  # fmt: skip
    if live and opts.start:
        raise OutputError("--start skips into a file; a live source starts now (--duration S records S seconds of it)")
    if opts.parts and not opts.concat:
        raise OutputError("parts are the files that concat joins; set concat too")
    if opts.concat and (live or str(opts.input) == "-"):
        raise OutputError("--concat joins video files (a folder, a quoted glob or @list.txt); not live or piped input")
    if opts.video_stream is not None and (live or _images(opts)):
        raise OutputError("--video-stream picks one of a video file's streams; it is not for live or image input")
    if not live and _images(opts) and (given := [name for name, on in (("--start", opts.start), ("--duration", opts.duration),
                                                                     ("--codec", opts.codec)) if on]):  # fmt: skip
        raise OutputError(f"{' and '.join(given)} {'is' if len(given) == 1 else 'are'} for video; {opts.input} is images")
    if opts.height is not None and (live or _images(opts)):
        raise OutputError("--height scales a video file's frames as they are decoded; it is not for live or image input")
    if str(opts.output) == STDOUT:
        if not live and _images(opts):
            raise OutputError("-o - writes a video stream to standard output; images are written to a file or folder")
        if os.isatty(1):
            raise OutputError("-o - writes a Matroska stream to standard output, which is a terminal here: pipe it "
                              "(segment-video IN -o - | ffplay -) or name a file")  # fmt: skip
    elif opts.output and (live or not _images(opts)):
        name, suffix = Path(opts.output).name, Path(opts.output).suffix.lower()
        if suffix in IMAGE_SUFFIXES or suffix in AUDIO_SUFFIXES:
            kind = "an image" if suffix in IMAGE_SUFFIXES else "an audio file"
            raise OutputError(f"{name} is the name of {kind}, but a video input is written as a video: end it in "
                              ".mp4, .mkv, .mov, .webm or .gif (--masks-dir DIR writes one label PNG a frame)")  # fmt: skip
        check_output_path(Path(str(opts.input)), Path(opts.output), opts.overwrite)
        if (opts.concat and Path(opts.output).exists()  # (one not there yet is none of them)
                and any(same_file(p, opts.output) for p in concat_paths(opts.input, opts.parts))):  # fmt: skip
            raise OutputError(f"output {opts.output} is one of the files --concat joins; choose another path (the "
                              "input is never touched)")  # fmt: skip
    if opts.output and opts.codec and (live or not _images(opts)):
        check_video_encoder(opts.codec)
    if (opts.masks_dir and opts.output and str(opts.output) != STDOUT and (live or not _images(opts))
            and Path(opts.masks_dir).resolve() == Path(opts.output).resolve()):  # fmt: skip
        raise OutputError(f"--masks-dir {opts.masks_dir} is the output video's name; give the masks a folder of their "
                          "own (e.g. masks/)")  # (was: a folder made there, then "o.mp4: Is a directory")
    if opts.stats:
        _check_stats(opts, live)
    return live


def _check_stats(opts: SegmentOptions, live: bool) -> None:
    """Refuse a ``--stats`` file that would replace the input, the output or the model (it was written
    over the input video, after the run), or that cannot be written (found out after the run)."""
    stats = Path(opts.stats)
    if not stats.parent.is_dir():
        raise OutputError(f"folder {stats.parent} for --stats does not exist")
    inputs: list[Path] = []
    if stats.exists() and not live and str(opts.input) != "-":  # (one not there yet is no input)
        inputs = (concat_paths(opts.input, opts.parts) if opts.concat else image_paths(opts.input) if _images(opts)
                  else [Path(str(opts.input))])  # fmt: skip
    named = [(p, "the input") for p in inputs] + [(opts.output, "the output"), (opts.model, "the model")]
    if taken := next((what for path, what in named if path and str(path) != STDOUT and same_file(stats, path)), None):
        raise OutputError(f"--stats {stats} is {taken}; name a file of its own for the statistics (e.g. stats.json)")
    check_writable(stats, f"write --stats {stats}")


def _images(opts: SegmentOptions) -> bool:
    """Whether the input is images (a folder or glob of videos joined by --concat is not)."""
    return not opts.concat and is_image_input(opts.input)


def _segmenter(opts: SegmentOptions, given: Segmenter | None) -> Segmenter:
    if given is None:
        return Segmenter(opts.model, size=opts.size, providers=opts.device, threads=opts.threads, tta=opts.tta)
    if given.model.tta != opts.tta:
        raise ModelError(f"the segmenter given was built with tta={given.model.tta}, the options say tta={opts.tta}")
    if opts.size and tuple(opts.size) != given.size:
        return Segmenter(given.model, size=opts.size)  # same session, another working size
    return given


def _open_source(opts: SegmentOptions, live: bool, stop: threading.Event) -> Source:
    spec, container = str(opts.input), None
    if live and not (opts.live or opts.show or opts.serve) and spec.lower().startswith(HTTP_SCHEMES):
        container, is_file = open_url(spec, opts.hwaccel)
        live = not is_file  # an http(s) URL of a file, and nobody watching it live: every frame, and its audio
    if live:
        return LiveSource(spec, pace=opts.pace, retries=opts.retries, retry_delay=opts.retry_delay, stop=stop,
                          hwaccel=opts.hwaccel, container=container, audio=not opts.no_audio,
                          camera=camera_options(opts.camera_size, opts.camera_fps, opts.camera_format),
                          audio_input=opts.camera_audio, duration=opts.duration)  # fmt: skip
    if container is None and _images(opts):
        return ImageSource(opts.input)
    if opts.concat:
        return concat_source(opts.input, opts.parts, audio=not opts.no_audio, start=opts.start, duration=opts.duration,
                             hwaccel=opts.hwaccel, video_stream=opts.video_stream, height=opts.height)  # fmt: skip
    return VideoSource(opts.input, audio=not opts.no_audio, start=opts.start, duration=opts.duration,
                       hwaccel=opts.hwaccel, container=container, video_stream=opts.video_stream,
                       height=opts.height)  # fmt: skip


def _timecode(info: VideoInfo, start: float) -> str | None:
    """The input video's timecode moved on to the first frame kept (``--start``), or None."""
    tc = next((v for k, v in info.video_tags.items() if k.lower() == "timecode"), None)
    return shift_timecode(tc, start, info.fps) if tc and info.fps else None


def _open_views(opts: SegmentOptions, seg: Segmenter, stats: FrameStats, stack: ExitStack) -> list[Sink]:
    """The window and the browser view the options ask for, entered on ``stack``: opened before the source,
    so that a taken port or a missing display is told at once, not once a camera or stream has answered."""
    views: list[Sink] = []
    if opts.show:
        views.append(stack.enter_context(WindowSink()))
    if opts.serve:
        figures = lambda: {**stats.summary(), "fps": round(stats.fps, 2)}  # noqa: E731
        views.append(stack.enter_context(ServeSink(*opts.serve, seg.classes, seg.palette, figures)))
    return views


def _open_sinks(opts: SegmentOptions, source: Source, views: list[Sink],
                stack: ExitStack) -> tuple[list[Sink], VideoSink | ImageSink | None]:  # fmt: skip
    """Every other sink the options ask for, entered on ``stack``, after the ``views``; the one writing
    ``output`` (opened last) is returned too."""
    sinks: list[Sink] = []
    names = source.names if isinstance(source, ImageSource) else None
    paths = source.paths if isinstance(source, ImageSource) else []
    masks = stack.enter_context(MaskSink(opts.masks_dir, names, overwrite=opts.overwrite,
                                         live=source.live)) if opts.masks_dir else None  # fmt: skip
    if masks is not None:
        sinks.append(masks)
    sinks += views
    if not opts.output:
        return sinks, None
    if names is not None:
        primary: VideoSink | ImageSink = stack.enter_context(ImageSink(opts.output, names))
        primary.check_targets(paths, opts.overwrite)
        if masks is not None:
            masks.check_targets(paths, primary.targets())
    else:
        info, start = source.info, opts.start  # (0 for a live source: refused before)
        width, height = output_size(info.width, info.height, opts.mode)
        boxes = _sensor_boxes(opts, source)
        primary = stack.enter_context(VideoSink(
            opts.output, width=width, height=height, fps=info.fps, timed_fps=info.timed_fps, time_base=info.time_base,
            codec=opts.codec,
            crf=opts.crf, preset=opts.preset, audio=source.audio_streams, audio_samples=source.audio_samples,
            subtitles=[*source.subtitle_streams, *source.data_streams], tags=moved_dates(info.tags, start),
            video_tags=moved_dates(info.video_tags, start),
            timecode=None if source.live else _timecode(info, start),
            wall_clock=source.live, sample_aspect=info.sample_aspect, label="recording" if source.live else "output",
            boxes=[box.data for box in boxes]))  # fmt: skip
    return [primary, *sinks], primary


def _sensor_boxes(opts: SegmentOptions, source: Source) -> Sequence[SensorBox]:
    """The source's top-level sensor boxes (a BlackVue's GPS and accelerometer) that go into the output as
    they are: into an MP4/MOV file, from the file's start (the accelerometer is timed from there). The
    others are said to be left out, in one line."""
    boxes = source.sensor_boxes
    if boxes and (opts.start or str(opts.output) == STDOUT or Path(str(opts.output)).suffix.lower() not in FASTSTART):
        say_sensor_boxes(boxes, Path(str(opts.input)).name, "start" if opts.start else "output")
        return ()
    return boxes


def _stream(opts: SegmentOptions, source: Source, seg: Segmenter, sinks: list[Sink], primary: VideoSink | ImageSink | None,
            stats: FrameStats, stop: threading.Event) -> RunResult:  # fmt: skip
    """Run the three stages; a live source gets a newest-frame slot, batch 1 and its own stage names."""
    times = StageTimes()
    queue = LatestQueue(keep=lambda item: not isinstance(item, Frame)) if source.live else None  # (audio: never dropped)
    expected = source.expected_frames()
    if opts.max_frames:
        expected = min(expected or opts.max_frames, opts.max_frames)
    overlay = Overlay(palette_lut(seg.palette), alpha=opts.alpha, mode=opts.mode,
                      legend=seg.classes if opts.legend else None)  # fmt: skip
    progress = Progress(expected, Path(str(opts.input)).name or str(opts.input), enabled=not opts.quiet,
                        figures=stats.figures if source.live else None)  # fmt: skip
    writer = Writer(overlay, sinks, times, stats, progress, stop=stop, dropped=queue, max_frames=opts.max_frames,
                    seconds=opts.duration if source.live else None,
                    frame_step=None if source.live or not source.info.fps else float(1 / source.info.fps),
                    hud=source.live and not opts.no_hud, live=source.live,
                    shares=len(seg.classes) if opts.stats and not source.live else None)  # fmt: skip
    names = ("capture", "infer", "output") if source.live else ("decode", "infer", "encode")  # (output: a window,
    # a browser view or a recording)
    produce = (lambda: iter(source)) if source.live else (lambda: timed(source, times, "decode"))
    masks = next((sink for sink in sinks if isinstance(sink, MaskSink)), None)
    t0 = time.perf_counter()
    done, leave = threading.Event(), threading.Event()
    watch = isinstance(source, LiveSource) and opts.duration is not None
    watcher = spawn(lambda: _end_when_overdue(source, queue, leave, done), "duration") if watch else None
    try:
        infer = lambda items: infer_stage(items, seg, 1 if source.live else opts.batch, times,  # noqa: E731
                                          refit=isinstance(source, ImageSource))
        run_stages(produce, infer,
                   consumer=writer, queue_size=2 if source.live else opts.queue_size, stop=stop, first_queue=queue,
                   names=names, leave=leave)  # fmt: skip
        if not stop.is_set():
            progress.complete()
    except (StageFailed, KeyboardInterrupt) as exc:  # (a camera's run ends so: its figures are written all the same)
        partial = _result(opts, source, seg, writer, time.perf_counter() - t0, None, quiet=True)
        if isinstance(exc, StageFailed):
            failed = _failed(exc, primary, masks)
            raise _with_stats(failed, opts, partial, failed=str(failed)) from exc.error
        interrupted = _interrupted(exc, primary, masks)
        raise _with_stats(interrupted, opts, partial, interrupted=interrupted.signal_name) from None
    finally:
        progress.close()
        done.set()
        if watcher is not None:
            watcher.join(1.0)
    if source.live and not writer.stats.frames:  # (a file's source refuses before any work; a live one ends)
        removed = primary is not None and not primary.finish(keep=False) and not getattr(primary, "to_stdout", False)
        raise SourceError(f"no decodable video frames came from {opts.input}"
                          + (f"; removed the empty {primary.label} {primary.path}" if removed else ""))  # fmt: skip
    if expected and (known := source.expected_frames()) is not None:  # (by the end a source may know better: a
        # pause in a file's clock taken out, a damaged stamp that stretched its length; where its clock started again,
        # recordings joined, the count at its opening was FFmpeg's of one recording's span: more)
        restarted = getattr(source, "restarted", False)
        expected = min(known, opts.max_frames or known) if restarted else min(expected, known)
    result = _result(opts, source, seg, writer, time.perf_counter() - t0, expected)
    if masks is not None and masks.failed is not None:  # (the other outputs went on: was, the video removed)
        failed = _masks_failed(masks, primary)
        raise _with_stats(failed, opts, result, failed=str(failed))
    return result


def _end_when_overdue(source: LiveSource, queue: LatestQueue, leave: threading.Event, done: threading.Event) -> None:
    """End the source's items (``queue``) once its ``--duration`` is up and it sent no picture since (its read
    may wait on a stalled stream for :data:`~roadseg.pipeline.sources.capture.TIMEOUT` s), and ``leave`` the
    thread that waits in it: what came before is still segmented and recorded. A thread beside the stages
    until ``done``."""
    while not done.wait(0.05):
        if source.overdue():
            log.warning("%s sent no picture for %.1f s when --duration (%g s) ended; the recording ends there",
                        source.shown, time.monotonic() - source.video_read, source.duration)  # fmt: skip
            leave.set()
            end(queue)
            return


class Writer:
    """The last stage: overlay (and HUD), every sink, figures, progress; closes the sinks when its input ends.

    Audio packets go to the sinks that have ``mux``. A window's q/Esc, ``max_frames`` or a live run's
    ``seconds`` (by the frames' capture clock, from the first one) sets ``stop``,
    which ends the whole run normally. With ``max_frames`` or ``seconds``, and in any ``live`` run (whose
    usual end is Ctrl-C), packets timed after the pictures written so far wait for them (at most
    :data:`HELD_PACKETS`), so that the output's sound ends with its last picture (``frame_step``: a file's
    nominal frame duration, for its first): a file keeps its sound up to a second or more ahead of its
    pictures, and a live stream's sound comes before the pictures inference holds.
    """

    def __init__(self, overlay: Overlay, sinks: list[Sink], times: StageTimes, stats: FrameStats, progress: Progress,
                 *, stop: threading.Event, dropped: LatestQueue | None, max_frames: int | None,
                 seconds: float | None = None, hud: bool, live: bool = False,
                 shares: int | None, frame_step: float | None = None) -> None:  # fmt: skip
        self.overlay, self.sinks, self.times, self.stats, self.progress = overlay, sinks, times, stats, progress
        self.muxers = [s for s in sinks if hasattr(s, "mux")]
        self.stop, self.queue, self.max_frames, self.hud, self.shares = stop, dropped, max_frames, hud, shares
        self.seconds, self._t0 = seconds, None
        self.per_frame: list[dict] | None = [] if shares else None
        self.held: deque | None = deque() if max_frames or seconds is not None or live else None  # packets ahead of
        # the pictures
        self._step, self._shown = frame_step or 0.0, None  # (where the pictures written so far end: seconds, on the
        # input's clock; a live one's on the capture clock, as its packets are)
        self._last: float | None = None  # the last picture's time

    def __call__(self, items: Iterator) -> None:
        try:
            for item in items:
                if isinstance(item, Frame):
                    self.write(item)
                    self._release()
                elif self.held is not None and (t := packet_time(item)) is not None:
                    if not (self.stop.is_set() and self._shown is not None and t >= self._shown):  # (after the last picture: cut)
                        self.held.append(item)
                        self._release()
                else:
                    self._mux(item)
        except StopRequested:
            self.stop.set()
        except BaseException:
            _close_all(self.sinks, quiet=True)  # the first error is the one to report
            raise
        if self.held is not None:  # (the end of the input: all of it; --max-frames: up to its last picture)
            self._release(everything=not self.stop.is_set())
        with self.times.measure("finalise", 0):
            _close_all(self.sinks)

    def _release(self, everything: bool = False) -> None:
        """Mux the held packets that start before the pictures written so far end (all of them at the
        input's end), and the oldest beyond :data:`HELD_PACKETS`; at a stop, drop those after that end."""
        held = self.held
        if held is None:
            return
        while held and (everything or len(held) > HELD_PACKETS or (self._shown is not None and packet_time(held[0]) < self._shown)):
            self._mux(held.popleft())
        if self.stop.is_set() and not everything:
            held.clear()

    def _mux(self, packet) -> None:
        for sink in self.muxers:
            sink.mux(packet)

    def write(self, frame: Frame) -> None:
        if self.seconds is not None and (at := frame.clock if frame.clock is not None else frame.captured) is not None:
            self._t0 = at if self._t0 is None else self._t0
            if at - self._t0 >= self.seconds:
                raise StopRequested  # (a live run's --duration: this frame is past it)
        with self.times.measure("overlay"):
            out = self.overlay(frame.image, frame.labels)
        now = time.monotonic()
        latency = None if frame.captured is None else now - frame.captured
        self.stats.dropped = self.queue.dropped if self.queue is not None else 0
        self.stats.add(now, frame.captured, frame.clock)
        shown = out  # (what the views show: with the live figures, which a recording does not keep)
        if self.hud and latency is not None and any(sink.shows for sink in self.sinks):
            shown = out.copy() if not all(sink.shows for sink in self.sinks) else out
            draw_hud(shown, self.stats.fps, 1000 * latency, self.stats.dropped)
        for sink in self.sinks:
            with self.times.measure(sink.name):
                sink.write(shown if sink.shows else out, frame)
        if self.per_frame is not None:
            self.per_frame.append({"index": frame.index, "time": frame.time,
                                   "shares": class_shares(frame.labels, self.shares)})  # fmt: skip
        self.progress.update()
        if self.held is not None and (t := frame.clock if frame.clock is not None else frame.time) is not None:
            step = t - self._last if self._last is not None and 0 < t - self._last <= 1.0 else self._step
            self._last, self._shown = t, max(self._shown or t, t + step)
        if self.max_frames and self.stats.frames >= self.max_frames:
            self.stop.set()

    def dropped(self, counter: str) -> int:
        """Packets the muxing sinks dropped, by their ``counter`` (``audio_dropped``, ``subtitles_dropped`` ...)."""
        return sum(getattr(sink, counter, 0) for sink in self.muxers)


def _close_all(sinks: list[Sink], quiet: bool = False) -> None:
    """Close every sink even if one fails; raise the first failure unless ``quiet``."""
    errors: list[SinkError] = []
    for sink in sinks:
        try:
            sink.close()
        except SinkError as exc:
            errors.append(exc)
    if errors and not quiet:
        raise errors[0]


def _with_stats(error: PipelineError | OutputClosed | Interrupted, opts: SegmentOptions, partial: RunResult,
                **why: str) -> PipelineError | OutputClosed | Interrupted:
    """``error``, for a run that a failure or an interruption stopped midway, once ``--stats`` is written
    for what the run did up to then (``partial``, its frames and ``per_frame`` no more than the output kept,
    none where it was removed; with ``why``: ``failed``, the message, or ``interrupted``, the signal) and with
    its message saying so, or why not. A live run's usual end is Ctrl-C: its latency and drop figures were
    lost with it."""
    if not opts.stats:
        return error
    if opts.output and not isinstance(error, OutputClosed):  # (was: the frames done, for an output removed)
        frames = min(partial.frames, error.frames)
        fps = (partial.fps if partial.latency_ms is not None  # (a live run's: the rate its frames were shown at)
               else round(frames / partial.seconds, 2) if partial.seconds > 0 else None)  # fmt: skip
        per_frame = None if partial.per_frame is None else partial.per_frame[:frames]
        partial = replace(partial, frames=frames, fps=fps, per_frame=per_frame)
    try:
        Path(opts.stats).write_text(json.dumps({**partial.as_dict(), **why}, indent=1))
        said = f"statistics written to {opts.stats}"
    except OSError as exc:
        said = _unwritten(opts.stats, exc)
    if isinstance(error, Interrupted):
        return Interrupted(f"{error.message}; {said}", frames=error.frames, signal_name=error.signal_name)
    if isinstance(error, PipelineError):
        return type(error)(f"{error}; {said}", kept=error.kept, frames=error.frames, reason=error.reason)
    return OutputClosed(f"{error}; {said}")

def _unwritten(path: str | Path, exc: OSError) -> str:
    return f"cannot write stats to {path}: {exc.strerror or exc}"


def told_lost(expected: int | None, frames: int, counted: int) -> tuple[int, int | None]:
    """(frames lost, frames expected) a run tells of, with ``frames`` out of ``expected`` (None: not known) and
    ``counted`` lost one by one by its source: where over 1 % (and over one) of those expected did not come, the
    shortfall, or the count where that is more; else the count, over as many expected as came and were lost (a
    rate's estimate may have taken a lost picture for a held one: a step over one picture lost is as long as a
    camera's held one, and lowers the pace a file without a count of its own is counted by, while the step is
    counted lost; a pipe's frames are not known before).

    >>> told_lost(100, 90, 3), told_lost(100, 100, 2), told_lost(None, 40, 1), told_lost(100, 99, 0)
    ((10, 100), (2, 102), (1, 41), (0, 100))
    >>> told_lost(37, 34, 4)  # (mkv-swap-9: 4 of 38 lost, one a step of two frames the pace took in)
    (4, 38)
    """
    if expected and expected - frames > max(1, expected // 100):
        lost = max(expected - frames, counted)  # (frames the container promised but the decoder could not deliver)
        return lost, max(expected, frames + lost)
    if counted:
        return counted, max(expected or 0, frames + counted)
    return counted, expected


def _result(opts: SegmentOptions, source: Source, seg: Segmenter, writer: Writer, seconds: float,
            expected: int | None, *, quiet: bool = False) -> RunResult:  # fmt: skip
    """What the run did. ``quiet``: without the lines that tell of frames lost and audio dropped (a
    run stopped midway, whose message is its last line)."""
    frames = writer.stats.frames
    lost, expected = told_lost(expected, frames, source.lost)
    if lost and not quiet and source.kind == "images":  # (each one was named as it was left out)
        log.warning("%d of %d images could not be read; %s holds the %d that could", lost, expected, opts.output, frames)
    elif lost and not quiet and not source.live:
        log.warning("%d of about %d frames could not be decoded (damaged or truncated input); %s holds the %d that did",
                    lost, expected, opts.output, frames)  # fmt: skip
    elif lost and not quiet:  # (a live source's: video packets its decoder refused, where the picture held still)
        log.warning("%d video packet%s of %s could not be decoded (damaged, or a codec the stream changed to); the "
                    "picture held still over them", lost, "s"[: lost != 1], redacted(str(opts.input)))  # fmt: skip
    audio_dropped = source.audio_dropped + writer.dropped("audio_dropped")
    overflow = writer.queue.overflow if writer.queue is not None else 0
    if overflow and not quiet:
        log.warning("dropped %d audio packets that waited while the recording fell behind the stream (a slow disk or "
                    "CPU); the rest of the sound is kept", overflow)  # fmt: skip
    if audio_dropped and not quiet:
        joins = source.joins
        n, plural = audio_dropped, "" if audio_dropped == 1 else "s"
        if joins:  # (each file's audio runs a little past its video, into the next file's at the join)
            log.warning("dropped %d audio packet%s that overlap%s the next file's audio at the %d join%s between "
                        "files (or %s damaged); the video and the rest of the audio are intact", n, plural,
                        "s" if n == 1 else "", joins, "" if joins == 1 else "s", "is" if n == 1 else "are")  # fmt: skip
        else:
            log.warning("dropped %d damaged audio packet%s; the video and the rest of the audio are intact", n, plural)
    live = writer.stats.summary()
    return RunResult(
        input=str(opts.input), output=None if opts.output is None else str(opts.output), kind=source.kind,
        frames=frames, seconds=round(seconds, 3),
        fps=live["fps"] if source.live else round(frames / seconds, 2) if seconds > 0 else None,
        frames_lost=lost, lost_packets=source.lost, audio_streams=len(source.audio_streams),
        audio_dropped=audio_dropped + overflow, subtitle_streams=len(source.subtitle_streams),
        subtitles_dropped=source.subtitles_dropped + writer.dropped("subtitles_dropped"), data_streams=len(source.data_streams),
        data_dropped=source.data_dropped + writer.dropped("data_dropped"), dropped=live["dropped"], drop_rate=live["drop_rate"],
        latency_ms=live["latency_ms"] if source.live else None, reconnects=source.reconnects if isinstance(source, LiveSource) else 0,
        working_size=list(seg.size), model=str(seg.model.path), providers=list(seg.model.providers),
        classes=list(seg.classes), stages=writer.times.summary(), per_frame=writer.per_frame)  # fmt: skip


def _left_behind(primary: VideoSink | ImageSink | None, cause: BaseException | None,
                 whole: bool = False) -> tuple[str, bool]:  # fmt: skip
    """Finalise (or remove) the main output after a failure or an interruption; say what is left of it. An output
    whose own writing failed (its disk, its muxer, its pipe) is removed; one whose encoder failed is finished with
    the pictures the encoder gave out, where it then plays (was: removed, with FFmpeg's error from the encoder).
    ``whole``: the output was written to its end (another output failed)."""
    if primary is None:
        return "", False
    kept = primary.finish(keep=not isinstance(cause, SinkError) or isinstance(cause, EncoderError))
    n, path = primary.written, primary.path
    frames = f"{n} frame{'' if n == 1 else 's'}"
    if primary.label == "images":
        return (f"{n} image{' was' if n == 1 else 's were'} written to {path}" if n else ""), kept
    if getattr(primary, "to_stdout", False):
        return (f"the stream on standard output ends after {frames}" if kept else
                f"the stream on standard output broke off after {frames}"), kept  # fmt: skip
    if not kept:
        return f"removed the unfinished {primary.label} {path}", False
    if primary.label == "recording":
        return f"recording finalised at {path} ({frames})", True
    if cause is None:
        return (f"kept the finished {primary.label} {path} ({frames})" if whole else
                f"finalised a playable {path} with the {frames} done"), True  # fmt: skip
    return f"kept a playable partial output of {frames} at {path}", True


def _failed(exc: StageFailed, primary: VideoSink | ImageSink | None,
            masks: MaskSink | None = None) -> PipelineError | OutputClosed:  # fmt: skip
    cause = exc.error
    if isinstance(cause, OutputClosed) and isinstance(primary, VideoSink):  # (not a failure: the reader went away)
        primary.finish(keep=False)  # (nothing more reaches a closed pipe; a file of that name is not removed)
        return OutputClosed(f"{primary.shown} was closed by its reader (a player quit?); stopped after "
                            f"{primary.written} frames")  # fmt: skip
    reason = str(cause) if isinstance(cause, RoadsegError) else f"{cause.__class__.__name__}: {reason_of(cause)}"
    left, kept = _left_behind(primary, cause)
    left = "; ".join(filter(None, (left, _masks_left(masks))))
    frames = primary.written if kept and primary is not None else 0
    failed = f"{exc.stage} failed: {reason}"
    return PipelineError(failed + (f"; {left}" if left else ""), kept=kept, frames=frames, reason=failed)


def _masks_failed(masks: MaskSink, primary: VideoSink | ImageSink | None) -> MasksFailed:
    """The run's error where only ``--masks-dir`` failed: the other outputs were written to their end."""
    left, kept = _left_behind(primary, None, whole=True)
    failed = f"masks failed: {masks.failed}"
    return MasksFailed("; ".join(filter(None, (failed, masks.left(), left))), kept=kept,
                         frames=primary.written if kept and primary is not None else 0, reason=failed)  # fmt: skip


def _masks_left(masks: MaskSink | None) -> str:
    """What a run stopped midway left of its masks (they stay as written), with their own failure before it."""
    if masks is None or not (masks.written or masks.failed):
        return ""
    return (f"masks failed before: {masks.failed}; " if masks.failed else "") + masks.left()


def _interrupted(exc: KeyboardInterrupt, primary: VideoSink | ImageSink | None,
                 masks: MaskSink | None = None) -> Interrupted:  # fmt: skip
    signal_name = getattr(exc, "signal_name", "SIGINT")
    left, kept = _left_behind(primary, None)
    left = "; ".join(filter(None, (left, _masks_left(masks))))
    frames = primary.written if kept and primary is not None else 0
    if not frames and not (masks is not None and masks.written):
        return Interrupted("interrupted before any frame was written" + (f"; {left}" if left else ""),
                           signal_name=signal_name)  # fmt: skip
    return Interrupted(f"interrupted: {left}", frames=frames, signal_name=signal_name)
