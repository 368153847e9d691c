"""THE run: one source -> infer -> overlay -> sinks, for video files, images and live sources alike.

:func:`run` checks the options (:mod:`~roadseg.pipeline.checks`), opens the source (a context manager with
``.info`` and ``.live``), opens the sinks the options ask for, builds the model (unless one is given) and the
overlay once, runs the stages through :func:`~roadseg.pipeline.runner.run_stages` (a newest-frame slot after a
live source; the last stage is :class:`~roadseg.pipeline.writer.Writer`) and turns failures and interruptions
into :mod:`roadseg.errors` in one place, :func:`_stream` (shaped by :mod:`~roadseg.pipeline.outcome`).
``segment-video``, the live view, ``bench``'s pipeline row and batch workers all come through here.

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

import logging
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

from roadseg.errors import SourceError
from roadseg.pipeline.checks import check, file_only, images, may_be_a_file, refuse_live_url
from roadseg.pipeline.infer import Segmenter, infer_stage
from roadseg.pipeline.internal import check_call, check_keywords, internal_error, reporting, segmenter_for, stage_of
from roadseg.pipeline.internal import write_stats as _write_stats
from roadseg.pipeline.options import Caller, RunResult, SegmentOptions
from roadseg.pipeline.outcome import failure, finished, interruption, run_result, with_stats
from roadseg.pipeline.overlay import output_size
from roadseg.pipeline.queues import LatestQueue, end
from roadseg.pipeline.runner import StageFailed, call_interruptibly, run_stages, spawn
from roadseg.pipeline.sinks import ImageSink, MaskSink, ServeSink, Sink, VideoSink, WindowSink
from roadseg.pipeline.sinks.base import FASTSTART, moved_dates, timecode_at
from roadseg.pipeline.sinks.finishing import written_whole
from roadseg.pipeline.sinks.video import STDOUT
from roadseg.pipeline.sources import Frame, ImageSource, LiveSource, Source, VideoSource, open_url
from roadseg.pipeline.sources.boxes import SensorBox, say_sensor_boxes
from roadseg.pipeline.sources.concat import concat_source
from roadseg.pipeline.sources.containers import pipe_waited
from roadseg.pipeline.sources.fpscap import capped_info, capped_result
from roadseg.pipeline.sources.opening import camera_options, url_file
from roadseg.pipeline.stages import build_writer, stage_names
from roadseg.pipeline.timing import FrameStats, StageTimes, timed

log = logging.getLogger("roadseg")


def run(options: SegmentOptions, *, segmenter: Segmenter | None = None, finalised: Callable[[], None] | None = None,
        stop: threading.Event | None = None, on_progress: Callable[[int, int | None], None] | None = None) -> RunResult:  # fmt: skip
    """Segment ``options.input`` into the outputs ``options`` name; return what was done.

    Args:
        options: the run, as ``segment-video`` would be told it.
        segmenter: a model to reuse (a batch worker keeps one for its whole life); ``options.model``, ``device``
            and ``threads`` are then not used, ``options.tta`` must be what it was built with, and ``options.size``,
            if set, only changes the working size. ``None`` builds one from the options.
        finalised: called once every output is finalised, before ``--stats`` is written (``segment-video`` lets
            stop signals be from there: :func:`~roadseg._startup.settle`).
        stop: set from another thread to end the run as Ctrl-C does (one event may stop many runs; never set nor
            cleared here: one still set from before stops the next run before its first frame): the frames done
            finalised into a playable output with their sound and masks, within about 2 s, no thread left running; a
            live run's recording too. The run then returns, as after a window's q, not raises: the caller asked for
            the stop, nothing failed (``Interrupted`` is a signal's, with its exit code). The result says
            ``stopped``; its ``frames_lost`` counts only frames read that did not decode; its ``output`` is None
            where no frame was done (nothing is left). Looked at every 0.05 s, a wait for a stream or camera not
            there yet included (:meth:`Caller.passed_on`; one being opened: once open).
        on_progress: ``on_progress(done, total)``: frames done and expected (None: not known; an estimate until the
            end), whatever ``quiet`` says: at the first frame, at most every 0.1 s after, from the run's writer thread
            (which waits for it), and at the end, with ``result.frames``, from the caller's thread where that was not
            the last call's figures; what it raises fails the run (``PipelineError``: ``on_progress failed: ...``).

    Raises:
        RoadsegError: :class:`~roadseg.errors.SourceError`, ``OutputError``, ``ArgumentError`` (an option's value,
            stop's, on_progress's, segmenter's, or options that are no SegmentOptions), ``ModelError`` or ``SinkError``
            before any work; ``PipelineError`` for a failure
            midway (the message says whether a playable partial output was kept); ``Interrupted`` on Ctrl-C/SIGTERM;
            ``OutputClosed`` (exit code 141) where the reader of a piped output closed it.

    Safe to call from any thread; it installs no signal handlers.
    """
    check_call(options, segmenter)  # (the two a caller may give as something else altogether)
    live, caller = check(options), Caller.checked(stop, on_progress)
    ends = threading.Event()  # (the run's own stop: --max-frames, a failure, Ctrl-C, a window's q; ``stop`` sets it)
    primary: VideoSink | ImageSink | None = None
    sinks: list[Sink] = []
    stats, result = FrameStats(), None
    try:
        with ExitStack() as stack:
            seg = segmenter_for(options, segmenter)
            views = _open_views(options, seg, stats, stack)  # (before the source: a udp:// port waits for its sender)
            with caller.passed_on(ends):  # (a library caller's stop ends a wait for the source)
                source = stack.enter_context(_open_source(options, live, ends))
            seg = seg.fitted(source.info.height, source.info.width, source.info.sample_aspect)
            seg.check_memory(1 if source.live else options.batch)  # (a URL that opened as a file: its batch)
            seg.check_size(source.info.height, source.info.width)
            sinks, primary = _open_sinks(options, source, views, stack)
            result = _stream(options, source, seg, sinks, primary, stats, ends, caller)
    except KeyboardInterrupt as exc:  # (before the stages ran: while a stream connects)
        raise interruption(exc, primary, writes=bool(options.output or options.masks_dir)) from None
    except Exception as exc:  # (one not foreseen, a bug: was, the output left under its hidden temporary name)
        if not sinks and (stopped := caller.stopped_opening(exc, options, time.monotonic() - stats.start)):
            return stopped
        raise internal_error(exc, options, primary, sinks, result or stats.frames)  # noqa: B904 - its cause is set
    try:
        if finalised is not None:
            finalised()
    except Exception as exc:  # (was: a traceback, the output in place unsaid)
        raise internal_error(exc, options, primary, sinks, result)  # noqa: B904
    try:
        if options.stats:
            _write_stats(options.stats, result)
    except Exception as exc:  # (writing them failed: not tried again)
        raise internal_error(exc, options, primary, sinks, result, in_stats=True)  # noqa: B904
    return result


def segment_video(src: str | Path, dst: str | Path | None, options: SegmentOptions | None = None, *,
                  stop: threading.Event | None = None, on_progress: Callable[[int, int | None], None] | None = None,
                  **kw: Any) -> dict[str, Any]:  # fmt: skip
    """Segment ``src`` (a video, an image, a folder or a glob) into ``dst`` (None: only ``masks_dir``'s masks, nothing
    encoded); return the run's stats as a dict. Keyword arguments set fields of :class:`SegmentOptions`; ``stop``,
    ``on_progress`` and errors as for :func:`run` (``options`` that are no SegmentOptions too: was a TypeError)."""
    check_call(SegmentOptions(str(src)) if options is None else options, None)
    check_keywords(kw)
    opts = replace(options or SegmentOptions(str(src)), input=str(src), output=None if dst is None else str(dst), **kw)
    return run(opts, stop=stop, on_progress=on_progress).as_dict()


def _open_source(opts: SegmentOptions, live: bool, stop: threading.Event) -> Source:
    spec, container = str(opts.input), None
    if live and may_be_a_file(opts):
        container, is_file = open_url(spec, opts.hwaccel, opts.stream_timeout, retries=opts.retries,
                                      retry_delay=opts.retry_delay, stop=stop)  # fmt: skip
        live = not is_file  # an http(s) URL of a file, and nobody watching it live: every frame, and its audio
        refuse_live_url(file_only(opts), spec, container if live else None)
    if live:  # (a view-only run's sound goes nowhere: not read, nor said of where a reconnection's differs)
        return LiveSource(spec, pace=opts.pace, retries=opts.retries, retry_delay=opts.retry_delay, stop=stop,
                          hwaccel=opts.hwaccel, container=container, audio=opts.output is not None and not opts.no_audio,
                          camera=camera_options(opts.camera_size, opts.camera_fps, opts.camera_format),
                          audio_input=opts.camera_audio, duration=opts.duration, timeout=opts.stream_timeout)  # fmt: skip
    if container is None and images(opts):
        return ImageSource(opts.input)
    if opts.concat:
        return concat_source(opts.input, opts.parts, audio=not opts.no_audio, start=opts.start, duration=opts.duration,
                             hwaccel=opts.hwaccel, video_stream=opts.video_stream, height=opts.height, fps=opts.fps)  # fmt: skip

    def opened() -> VideoSource:
        return VideoSource(opts.input, audio=not opts.no_audio, start=opts.start, duration=opts.duration,
                           hwaccel=opts.hwaccel, container=container, video_stream=opts.video_stream,
                           height=opts.height, fps=opts.fps)  # fmt: skip

    if spec == "-" or (container is None and Path(spec).exists() and not Path(spec).is_file()):  # (a pipe: its open
        # and first reads, for the first picture, wait for its writer, deaf to Ctrl-C: in a thread of their own, once
        # it has sent something, waited for here, where Ctrl-C ends the wait and leaves no thread behind)
        with pipe_waited(spec):
            return call_interruptibly(opened, "open", lambda source: source.close())
    return url_file(opened, spec, opts.start, container)  # (a URL's: what went wrong, said, where no byte ranges)


def _open_views(opts: SegmentOptions, seg: Segmenter, stats: FrameStats, stack: ExitStack) -> list[Sink]:
    """The window and the browser view the options ask for, entered on ``stack``: opened before the source,
    so that a taken port or a missing display is told at once, not once a camera or stream has answered."""
    views: list[Sink] = []
    if opts.show:
        views.append(stack.enter_context(WindowSink(serving=bool(opts.serve))))
    if opts.serve:
        views.append(stack.enter_context(ServeSink(*opts.serve, seg.classes, seg.palette, stats.live)))
    return views


def _open_sinks(opts: SegmentOptions, source: Source, views: list[Sink],
                stack: ExitStack) -> tuple[list[Sink], VideoSink | ImageSink | None]:  # fmt: skip
    """Every other sink the options ask for, entered on ``stack``, after the ``views``; the one writing
    ``output`` (opened last) is returned too."""
    sinks: list[Sink] = []
    names = source.names if isinstance(source, ImageSource) else None
    paths = source.paths if isinstance(source, ImageSource) else []
    masks = stack.enter_context(MaskSink(opts.masks_dir, names, overwrite=opts.overwrite, live=source.live,
                                         alone=not (opts.output or views))) if opts.masks_dir else None  # fmt: skip
    if masks is not None:
        sinks.append(masks)
        masks.check_targets(paths, [])  # (masks alone too: none may replace an input image; was, without -o: unchecked)
    sinks += views
    if not opts.output:
        return sinks, None
    if names is not None:
        primary: VideoSink | ImageSink = stack.enter_context(ImageSink(opts.output, names))
        primary.check_targets(paths, opts.overwrite)
        if masks is not None:
            masks.check_targets(paths, primary.targets())
    else:
        info, start = capped_info(source.info, opts.fps), opts.start  # (--fps: written at N; start 0 when live)
        width, height = output_size(info.width, info.height, opts.mode)
        boxes = _sensor_boxes(opts, source)
        primary = stack.enter_context(VideoSink(
            opts.output, width=width, height=height, fps=info.fps, timed_fps=info.timed_fps, time_base=info.time_base,
            codec=opts.codec,
            crf=opts.crf, preset=opts.preset, audio=source.audio_streams, audio_samples=source.audio_samples,
            subtitles=[*source.subtitle_streams, *source.data_streams], tags=moved_dates(info.tags, start),
            video_tags=moved_dates(info.video_tags, start),
            timecode=None if source.live else timecode_at(info, start),
            wall_clock=source.live, sample_aspect=info.sample_aspect, label="recording" if source.live else "output",
            boxes=[box.data for box in boxes], temporary=written_whole(str(opts.output), source.live)))  # fmt: skip
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
            stats: FrameStats, stop: threading.Event, caller: Caller) -> RunResult:  # fmt: skip
    """Run the three stages; a live source gets a newest-frame slot, batch 1 and its own stage names. ``stop``: the
    run's own; ``caller.stop`` sets it (:func:`~roadseg.pipeline.runner.run_stages`' ``cancel``)."""
    times = StageTimes()
    queue = LatestQueue(keep=lambda item: not isinstance(item, Frame)) if source.live else None  # (audio: never dropped)
    expected = source.expected_frames()
    if opts.max_frames:
        expected = min(expected or opts.max_frames, opts.max_frames)
    writer = build_writer(opts, source, seg, sinks, times, stats, queue, stop, expected)
    progress = writer.progress
    progress.report = reporting(caller.on_progress)
    names = stage_names(source.live, sinks)  # (the last: output, encode, or masks where they go alone)
    produce = (lambda: iter(source)) if source.live else (lambda: writer.read(timed(source, times, "decode")))
    masks = next((sink for sink in sinks if isinstance(sink, MaskSink)), None)
    t0 = time.perf_counter()
    done, leave = threading.Event(), threading.Event()
    watch = isinstance(source, LiveSource) and opts.duration is not None
    watcher = spawn(lambda: _end_when_overdue(source, queue, leave, done), "duration") if watch else None
    try:
        infer = lambda items: infer_stage(items, seg, 1 if source.live else opts.batch, times,  # noqa: E731
                                          refit=isinstance(source, ImageSource))
        stopped = run_stages(produce, infer, consumer=writer, queue_size=2 if source.live else opts.queue_size,
                             stop=stop, first_queue=queue, names=names, leave=leave, cancel=caller.stop)  # fmt: skip
        if not stop.is_set():
            progress.complete()
        try:
            progress.close()  # (on_progress's last call, from here: what it raises fails the run, as the writer's)
        except Exception as exc:  # noqa: BLE001 - the caller's, said as a stage's
            raise StageFailed("on_progress", exc) from exc
    except (StageFailed, KeyboardInterrupt) as exc:  # (a camera's run ends so: its figures are written all the same)
        partial = capped_result(opts.fps, source, run_result(opts, source, seg, writer, time.perf_counter() - t0, None, quiet=True))
        if isinstance(exc, StageFailed):
            exc = stage_of(exc)  # (the caller's on_progress, where it raised in the writer's thread)
            failed = failure(exc, primary, masks)
            raise with_stats(failed, opts, partial, failed=str(failed)) from exc.error
        interrupted = interruption(exc, primary, masks, writer.stats.frames)
        raise with_stats(interrupted, opts, partial, interrupted=interrupted.signal_name) from None
    finally:
        progress.report = None  # (a run that failed has no last figures to report)
        progress.close()
        done.set()
        if watcher is not None:
            watcher.join(1.0)
    if source.live and not writer.stats.frames and not stopped:  # (a file's source refuses before any work; a live
        _no_frames(opts, primary)  # one ends)
    result = finished(opts, source, seg, writer, (primary, masks), time.perf_counter() - t0, expected, stopped)
    return capped_result(opts.fps, source, result)


def _no_frames(opts: SegmentOptions, primary: VideoSink | ImageSink | None) -> NoReturn:
    """A live source that ended before any picture: its empty recording removed (not a pipe), and SourceError."""
    removed = primary is not None and not primary.finish(keep=False) and not getattr(primary, "to_stdout", False)
    raise SourceError(f"no decodable video frames came from {opts.input}"
                      + (f"; removed the empty {primary.label} {primary.path}" if removed else ""))  # fmt: skip


def _end_when_overdue(source: LiveSource, queue: LatestQueue, leave: threading.Event, done: threading.Event) -> None:
    """End the source's items (``queue``) once its ``--duration`` is up and it sent no picture since (its read
    may wait on a stalled stream for its ``--stream-timeout``), and ``leave`` the
    thread that waits in it: what came before is still segmented and recorded. A thread beside the stages
    until ``done``."""
    while not done.wait(0.05):
        if source.overdue():
            log.warning("%s sent no picture for %.1f s when --duration (%g s) ended; the recording ends there",
                        source.shown, time.monotonic() - source.video_read, source.duration)  # fmt: skip
            leave.set()
            end(queue)
            return
