"""A run's end where an error nothing foresaw stopped it (a bug: in the code after the stages, a callback, ``--stats``):
:func:`internal_error`, the output settled and said by :func:`~roadseg.pipeline.outcome.unforeseen`, and ``--stats``
written as far as is known, as a failure foreseen writes them (:func:`~roadseg.pipeline.outcome.with_stats`);
:func:`write_stats`, a finished run's; and what a library caller hands :func:`~roadseg.pipeline.run.run`: its
arguments checked before any work (:func:`check_call`), its model (:func:`segmenter_for`) and its ``on_progress`` named as its own where it raises
(:func:`reporting`, :func:`stage_of`).

Example:
    >>> str(internal_error(RuntimeError("boom"), SegmentOptions("in.mp4"), None, [], 0))
    'internal error: RuntimeError: boom'
    >>> check_call("in.mp4", None)
    Traceback (most recent call last):
    roadseg.errors.ArgumentError: options must be a roadseg.SegmentOptions (SegmentOptions(input, output, ...)), not 'in.mp4'
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

from roadseg.errors import ArgumentError, ModelError, OutputError, PipelineError
from roadseg.pipeline.infer import Segmenter
from roadseg.pipeline.options import RunResult, SegmentOptions
from roadseg.pipeline.outcome import unforeseen, unwritten, with_stats
from roadseg.pipeline.runner import StageFailed
from roadseg.pipeline.session import OnnxSegmenter
from roadseg.pipeline.sinks import ImageSink, Sink, VideoSink
from roadseg.pipeline.sinks.base import write_whole


def check_call(options: object, segmenter: object) -> None:
    """One :class:`~roadseg.errors.ArgumentError` line before any work where ``run``'s ``options`` are no
    :class:`SegmentOptions` (was: ``run("clip.mp4")`` an AttributeError, ``'str' object has no attribute 'batch'``) or
    its ``segmenter`` no :class:`Segmenter` (was: ``internal error: AttributeError`` once the input was open)."""
    if not isinstance(options, SegmentOptions):
        raise ArgumentError(f"options must be a roadseg.SegmentOptions (SegmentOptions(input, output, ...)), not "
                            f"{_shown(options)}")  # fmt: skip
    if segmenter is not None and not isinstance(segmenter, Segmenter):
        said = ("an OnnxSegmenter: Segmenter(session) shares its session" if isinstance(segmenter, OnnxSegmenter)
                else _shown(segmenter))  # fmt: skip
        raise ArgumentError(f"segmenter must be a roadseg.Segmenter (or None), not {said}")


def check_keywords(kw: dict) -> None:
    """A :class:`TypeError` where ``segment_video``'s keywords are no fields of :class:`SegmentOptions` it may set, as
    ``batch()`` says it (was: "SegmentOptions.__init__() got an unexpected keyword argument", or for ``input=``
    "dataclasses.replace() got multiple values")."""
    if given := sorted({"input", "output"} & set(kw)):
        raise TypeError(f"segment_video() takes the input and output as src and dst, not as {'=, '.join(given)}=")
    if unknown := sorted(set(kw) - {f.name for f in fields(SegmentOptions)}):
        raise TypeError(f"segment_video() got unexpected keyword arguments: {', '.join(unknown)} (SegmentOptions' "
                        "fields, as the command line names them: alpha, masks_dir, max_frames ...)")


def segmenter_for(opts: SegmentOptions, given: Segmenter | None) -> Segmenter:
    """The run's model: ``given`` (at ``opts.size`` where that is another working size, the same session), else one
    built from ``opts``; a ``given`` built with another ``tta`` than ``opts`` is a :class:`ModelError`. ``opts.size``
    is checked by :class:`Segmenter` (one :class:`ArgumentError` line; an array's taken: was an internal error), as
    it is given (was: ``int()`` of each side first, so that ``size=320`` was "internal error: TypeError" and
    ``(320.7, 480)`` or ``("320", "480")`` were taken)."""
    if given is None:
        return Segmenter(opts.model, size=opts.size, providers=opts.device, threads=opts.threads, tta=opts.tta)
    if given.model.tta != opts.tta:
        raise ModelError(f"the segmenter given was built with tta={given.model.tta}, the options say tta={opts.tta}")
    if opts.size is None:
        return given
    sized = Segmenter(given.model, size=opts.size)  # same session, the working size asked for
    return given if sized.size == given.size else sized


def _shown(value: object) -> str:
    said = repr(value)
    return said if len(said) <= 60 else f"{said[:57]}..."


def reporting(on_progress: Callable[[int, int | None], None] | None) -> Callable[[int, int | None], None] | None:
    """``on_progress`` as the run's writer calls it: what it raises carried as the caller's own failure
    (``StageFailed("on_progress", ...)``, which :func:`stage_of` finds inside the writer's), not the writer's stage
    (was: ``encode failed: RuntimeError: ...``, the encoder blamed for the caller's callback)."""
    if on_progress is None:
        return None

    def report(done: int, total: int | None) -> None:
        try:
            on_progress(done, total)
        except BaseException as exc:  # noqa: BLE001 - the caller's own (a KeyboardInterrupt too: the writer's thread
            if isinstance(exc, KeyboardInterrupt) and threading.current_thread() is threading.main_thread():
                raise  # gets no signal), but a Ctrl-C that came as the caller's thread made the last call
            raise StageFailed("on_progress", exc) from exc

    return report


def stage_of(failed: StageFailed) -> StageFailed:
    """The failure a run is said to have stopped with: the caller's ``on_progress`` where it raised inside a stage
    (:func:`reporting`), else the stage's own."""
    return failed.error if isinstance(failed.error, StageFailed) else failed


def write_stats(path: str | Path, result: RunResult) -> None:
    """``result`` as the ``--stats`` JSON at ``path``; one :class:`OutputError` line where it cannot be written."""
    try:
        write_whole(path, json.dumps(result.as_dict(), indent=1))
    except OSError as exc:
        raise OutputError(f"wrote {result.output or 'nothing'}, but {unwritten(path, exc)}") from None


def internal_error(exc: Exception, opts: SegmentOptions, primary: VideoSink | ImageSink | None, sinks: list[Sink],
                   done: RunResult | int, *, in_stats: bool = False) -> Exception:  # fmt: skip
    """The error the run ends with where ``exc`` stopped it (:func:`~roadseg.pipeline.outcome.unforeseen`), with
    ``--stats`` written where it is a new one (``internal error: ...``; a :class:`~roadseg.errors.RoadsegError` that
    is itself the error, a refusal or a failure that wrote them, writes none) and its message saying so, or why not
    (was: none written). ``done``: the run's result, where its stages ended before ``exc``, or the frames done;
    ``in_stats``: writing the stats is what raised ``exc``: not tried again, and said."""
    error = unforeseen(exc, primary, sinks)
    if error is exc or not opts.stats or not isinstance(error, PipelineError):
        return error
    if in_stats:
        said = PipelineError(f"{error}; statistics not written to {opts.stats}: writing them is what failed",
                             kept=error.kept, frames=error.frames, reason=error.reason)  # fmt: skip
    elif isinstance(done, RunResult):
        said = with_stats(error, opts, done, failed=str(error))
    else:  # (the stages did not end: what is known of them)
        said = _with_known_stats(error, opts, done)
    said.__cause__ = exc
    return said


def _with_known_stats(error: PipelineError, opts: SegmentOptions, done: int) -> PipelineError:
    """``error`` once the stats known of a run stopped before its stages ended are written: its input, its output
    (None where it was removed), its frames (those it holds; without one, the frames done) and ``failed``, the
    message."""
    frames = error.frames if opts.output else done
    figures = {"input": str(opts.input), "output": str(opts.output) if error.kept else None, "frames": frames,
               "failed": str(error)}  # fmt: skip
    try:
        write_whole(opts.stats, json.dumps(figures, indent=1))
        said = f"statistics written to {opts.stats}"
    except OSError as exc:
        said = unwritten(opts.stats, exc)
    return PipelineError(f"{error}; {said}", kept=error.kept, frames=error.frames, reason=error.reason)
