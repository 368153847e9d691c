"""What a run tells at its end: its :class:`~roadseg.pipeline.options.RunResult` (:func:`finished`, :func:`run_result`,
with the frames lost as :func:`told_lost` counts them), or the one error a failure or an interruption midway becomes
(:func:`failure`, :func:`masks_failed`, :func:`interruption`; one not foreseen, a bug: :func:`unforeseen`), saying
what is left of the outputs, with ``--stats`` written for the frames kept (:func:`with_stats`).

Example:
    >>> told_lost(100, 90, 3)
    (10, 100)
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

from roadseg.errors import (
    EncoderError,
    Interrupted,
    MasksFailed,
    OutputClosed,
    PipelineError,
    RoadsegError,
    SinkError,
    reason_of,
)
from roadseg.pipeline.infer import Segmenter
from roadseg.pipeline.options import RunResult, SegmentOptions
from roadseg.pipeline.realtime import own_pace
from roadseg.pipeline.runner import StageFailed
from roadseg.pipeline.sinks import ImageSink, MaskSink, VideoSink
from roadseg.pipeline.sinks.base import write_whole
from roadseg.pipeline.sources import LiveSource, Source
from roadseg.pipeline.sources.containers import redacted
from roadseg.pipeline.writer import Writer

log = logging.getLogger("roadseg")


def with_stats(error: PipelineError | OutputClosed | Interrupted, opts: SegmentOptions, partial: RunResult,
                **why: str) -> PipelineError | OutputClosed | Interrupted:
    """``error``, for a run that a failure or an interruption stopped midway, once ``--stats`` is written
    for what the run did up to then (``partial``, its frames and ``per_frame`` no more than the output kept (masks
    alone: the masks), none where it was removed; with ``why``: ``failed``, the message, or ``interrupted``, the
    signal) and with its message saying so, or why not. A live run's usual end is Ctrl-C: its latency and drop figures were
    lost with it."""
    if not opts.stats:
        return error
    if (opts.output or opts.masks_dir and not (opts.show or opts.serve)) and not isinstance(error, OutputClosed):
        frames = min(partial.frames, error.frames)
        fps = (partial.fps if partial.latency_ms is not None  # (a live run's: the rate its frames were shown at)
               else round(frames / partial.seconds, 2) if partial.seconds > 0 else None)  # fmt: skip
        per_frame = None if partial.per_frame is None else partial.per_frame[:frames]
        partial = replace(partial, frames=frames, fps=fps, per_frame=per_frame)
    try:
        write_whole(opts.stats, json.dumps({**partial.as_dict(), **why}, indent=1))
        said = f"statistics written to {opts.stats}"
    except Exception as exc:  # noqa: BLE001 - not a second failure: said
        said = unwritten(opts.stats, exc)
    if isinstance(error, Interrupted):
        return Interrupted(f"{error.message}; {said}", frames=error.frames, signal_name=error.signal_name)
    if isinstance(error, PipelineError):
        return type(error)(f"{error}; {said}", kept=error.kept, frames=error.frames, reason=error.reason)
    return OutputClosed(f"{error}; {said}")

def unwritten(path: str | Path, exc: Exception) -> str:
    """Why ``--stats`` could not be written at ``path``: ``exc``, an OSError's words, or another's name and words."""
    return f"cannot write stats to {path}: {getattr(exc, 'strerror', None) or _named(exc)}"


def _named(exc: Exception) -> str:
    """``exc`` as the one line of an error nothing foresaw: its class's name, and its words where it has any."""
    named, text = exc.__class__.__name__, reason_of(exc)
    return named if text == named else f"{named}: {text}"


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


def run_result(opts: SegmentOptions, source: Source, seg: Segmenter, writer: Writer, seconds: float,
            expected: int | None, *, quiet: bool = False) -> RunResult:  # fmt: skip
    """What the run did. ``quiet``: without the lines that tell of frames lost and audio dropped (a
    run stopped midway, whose message is its last line)."""
    frames, kept = writer.stats.frames, opts.output or opts.masks_dir  # (where the frames are: masks alone, theirs)
    lost, expected = told_lost(expected, frames, source.lost)
    if lost and not quiet and source.kind == "images":  # (each one was named as it was left out)
        log.warning("%d of %d images could not be read; %s holds the %d that could", lost, expected, kept, frames)
    elif lost and not quiet and not source.live:
        log.warning("%d of about %d frames could not be decoded (damaged or truncated input); %s holds the %d that did",
                    lost, expected, kept, frames)  # fmt: skip
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
        classes=list(seg.classes), stages=writer.times.summary(), per_frame=writer.per_frame,
        **own_pace(source, opts, frames, seconds))  # fmt: skip


def finished(opts: SegmentOptions, source: Source, seg: Segmenter, writer: Writer,
             outputs: tuple[VideoSink | ImageSink | None, MaskSink | None], seconds: float, expected: int | None,
             stopped: bool) -> RunResult:  # fmt: skip
    """What a run whose stages ended without an error did (``stopped``: by its caller's ``stop``; the frames it did
    not read then are not lost), its main output put in place (removed where it was stopped before any frame, as
    after Ctrl-C); :class:`MasksFailed` where only its masks failed. ``outputs``: the main one and the masks';
    ``expected``: the frames expected as the run opened (a live run's, ``--max-frames``, none: lost are its packets
    refused, not the frames it dropped to keep up, and fell short of it by; was: '39 video packets ... could not be
    decoded')."""
    primary, masks = outputs
    if stopped or source.live:  # (the frames not read are not lost: those lost are the ones read that did not decode)
        expected = None
    else:  # (a raw stream knows its pictures only once read)
        expected = expected_at_end(opts, source, expected)
    result = replace(run_result(opts, source, seg, writer, seconds, expected), stopped=stopped)
    if stopped and not result.frames and primary is not None:
        primary.finish(keep=False)
        result = replace(result, output=None)
    elif isinstance(primary, VideoSink):
        primary.commit()  # (what the output's name held is replaced now, by the finished file)
    if masks is not None and masks.failed is not None:  # (the other outputs went on: was, the video removed)
        failed = masks_failed(masks, primary)
        raise with_stats(failed, opts, result, failed=str(failed))
    return result


def expected_at_end(opts: SegmentOptions, source: Source, expected: int | None) -> int | None:
    """The frames ``expected`` (``--max-frames`` taken in; None: not known as it opened) as the source knows them by
    the end, where it does."""
    if (known := source.expected_frames()) is not None:  # (by the end a source may know better: a pause in a file's
        # clock taken out, a damaged stamp that stretched its length; where its clock started again, recordings
        # joined, the count at its opening was FFmpeg's of one recording's span: more; a raw stream's, once read)
        anew = expected is None or getattr(source, "restarted", False)
        expected = min(known, opts.max_frames or known) if anew else min(expected, known)
    return expected


def _left_behind(primary: VideoSink | ImageSink | None, cause: BaseException | None,
                 whole: bool = False) -> tuple[str, bool]:  # fmt: skip
    """Finalise (or remove) the main output after a failure or an interruption; say what is left of it. An output
    whose own writing failed (its disk, its muxer, its pipe) is removed; one whose encoder failed is finished with
    the pictures the encoder gave out, where it then plays (was: removed, with FFmpeg's error from the encoder).
    ``whole``: the output was written to its end (another output failed)."""
    if primary is None:
        return "", False
    try:
        kept = primary.finish(keep=not isinstance(cause, SinkError) or isinstance(cause, EncoderError))
    except Exception as exc:  # noqa: BLE001 - a fault nothing foresaw, met again in finishing it: settled here
        kept = False
        if left := _unremoved(primary, exc):
            return left, False
    n, path = primary.written, primary.path
    frames = f"{n} frame{'' if n == 1 else 's'}"
    if primary.label == "images":
        return (f"{n} image{' was' if n == 1 else 's were'} written to {path}" if n else ""), kept
    if getattr(primary, "to_stdout", False):
        return (f"the stream on standard output ends after {frames}" if kept else
                f"the stream on standard output broke off after {frames}"), kept  # fmt: skip
    done = "finished" if whole else "unfinished"  # (a finished one: not put in place, after an error not foreseen)
    if not kept and getattr(primary, "file", path) != path and path.exists():  # (written under a temporary name: the earlier file stays)
        return f"removed the {done} {primary.label}; {path} is as it was before", False
    if not kept:
        return f"removed the {done} {primary.label} {path}", False
    if primary.label == "recording":
        return f"recording finalised at {path} ({frames})", True
    if cause is None:
        return (f"kept the finished {primary.label} {path} ({frames})" if whole else
                f"finalised a playable {path} with the {frames} done"), True  # fmt: skip
    return f"kept a playable partial output of {frames} at {path}", True


def _unremoved(primary: VideoSink | ImageSink, exc: Exception) -> str:
    """Where finishing ``primary`` raised ``exc`` (a fault not foreseen, in its clean-up too): its hidden temporary
    file removed here, and "" (it is said as removed); else what is left, said."""
    file = getattr(primary, "file", primary.path)
    if file == primary.path or getattr(primary, "to_stdout", False):  # (under its own name: as it is)
        return f"finishing {primary.path} failed ({_named(exc)}): it is left as it is"
    try:
        file.unlink(missing_ok=True)
    except OSError:
        return f"the unfinished {primary.label} could not be removed: {file} is left ({_named(exc)})"
    primary.placed = False
    return ""


def failure(exc: StageFailed, primary: VideoSink | ImageSink | None,
            masks: MaskSink | None = None) -> PipelineError | OutputClosed:  # fmt: skip
    cause = exc.error
    if isinstance(cause, OutputClosed) and isinstance(primary, VideoSink):  # (not a failure: the reader went away)
        primary.finish(keep=False)  # (nothing more reaches a closed pipe; a file of that name is not removed)
        return OutputClosed(f"{primary.shown} was closed by its reader (a player quit?); stopped after "
                            f"{primary.written} frame{'' if primary.written == 1 else 's'}")  # fmt: skip
    reason = str(cause) if isinstance(cause, RoadsegError) else _named(cause)  # (an error without words: its name, once)
    left, kept, frames = _left(primary, masks, cause)
    failed = f"{exc.stage} failed: {reason}"
    return PipelineError(failed + (f"; {left}" if left else ""), kept=kept, frames=frames, reason=failed)


def _left(primary: VideoSink | ImageSink | None, masks: MaskSink | None, cause: BaseException | None,
          whole: bool = False) -> tuple[str, bool, int]:  # fmt: skip
    """What a run stopped midway left (:func:`_left_behind`, then the masks': :meth:`MaskSink.told`), whether any is
    kept and the frames it holds: the main output's, or the masks' where they are ``alone`` (no ``-o``)."""
    left, kept = _left_behind(primary, cause, whole)
    left = "; ".join(filter(None, (left, masks.told() if masks is not None else "")))
    if masks is not None and masks.alone:
        return left, masks.written > 0, masks.written
    return left, kept, primary.written if kept and primary is not None else 0


def masks_failed(masks: MaskSink, primary: VideoSink | ImageSink | None) -> MasksFailed:
    """The run's error where only ``--masks-dir`` failed: the other outputs were written to their end."""
    left, kept = _left_behind(primary, None, whole=True)
    failed = f"masks failed: {masks.failed}"
    return MasksFailed("; ".join(filter(None, (failed, masks.left(), left))), kept=kept,
                         frames=primary.written if kept and primary is not None else 0, reason=failed)  # fmt: skip


def interruption(exc: KeyboardInterrupt, primary: VideoSink | ImageSink | None, masks: MaskSink | None = None,
                 shown: int = 0, *, writes: bool | None = None) -> Interrupted:  # fmt: skip
    """The error a run interrupted midway ends with, saying what is left of its outputs; a view-only run's (no
    ``primary``, no masks: ``--show``, ``--serve``; ``writes`` False: one still waiting for its source, before the
    outputs open), the ``shown`` frames it showed (was: "... before any frame was written", with none to write).

    >>> [interruption(KeyboardInterrupt(), None, shown=n, writes=False).message for n in (251, 0)]
    ['interrupted after 251 frames shown', 'interrupted before any frame came from the source']
    """
    signal_name, (left, _, frames) = getattr(exc, "signal_name", "SIGINT"), _left(primary, masks, None)
    if primary is None and not (masks is not None and masks.written) and (shown or not writes and masks is None):
        said = f"after {shown} frame{'s'[: shown != 1]} shown" if shown else "before any frame " + (
            "came from the source" if writes is False else "was shown")  # (False: before the stages ran)
        return Interrupted(f"interrupted {said}", signal_name=signal_name)
    if not frames and not (masks is not None and masks.written):
        return Interrupted("interrupted before any frame was written" + (f"; {left}" if left else ""),
                           signal_name=signal_name)  # fmt: skip
    return Interrupted(f"interrupted: {left}", frames=frames, signal_name=signal_name)


def unforeseen(exc: Exception, primary: VideoSink | ImageSink | None, sinks: list) -> Exception:
    """The error a run ends with where ``exc`` left it, one that nothing before made its error (a bug: in the code
    after the stages, a callback, ``--stats``), its main output settled where it was not: kept where it plays, put
    in place under its name, or removed (was: left under its hidden temporary name, ``.o.mp4.part-<pid>.mp4``). A
    :class:`RoadsegError` is itself where nothing was written (a temporary file is removed quietly); anything else is
    a :class:`PipelineError` (``internal error: ...``, from ``exc``) that says what is left, as :func:`failure` does.

    >>> str(unforeseen(RuntimeError("boom"), None, []))
    'internal error: RuntimeError: boom'
    """
    masks = next((sink for sink in sinks if isinstance(sink, MaskSink)), None)
    unsettled = isinstance(primary, VideoSink) and primary.placed is None
    if isinstance(exc, RoadsegError) and not (unsettled and primary.written):  # (its message says what is left)
        if unsettled:
            primary.finish(keep=False)  # (nothing written: the hidden file removed, nothing said)
        return exc
    whole = isinstance(primary, VideoSink) and not primary.cut_short  # (closed before: written to its end)
    left, kept, frames = _left(primary, masks, None if whole else exc, whole)
    failed = str(exc) if isinstance(exc, RoadsegError) else f"internal error: {_named(exc)}"
    error = PipelineError(failed + (f"; {left}" if left else ""), kept=kept, frames=frames, reason=failed)
    error.__cause__ = exc
    return error
