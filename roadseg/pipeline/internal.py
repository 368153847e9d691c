"""A run's end where an error nothing foresaw stopped it (a bug: in the code after the stages, a callback, ``--stats``):
:func:`internal_error`, the output settled and said by :func:`~roadseg.pipeline.outcome.unforeseen`, and ``--stats``
written as far as is known, as a failure foreseen writes them (:func:`~roadseg.pipeline.outcome.with_stats`); and
:func:`write_stats`, a finished run's.

Example:
    >>> from roadseg.pipeline.options import SegmentOptions
    >>> str(internal_error(RuntimeError("boom"), SegmentOptions("in.mp4"), None, [], 0))
    'internal error: RuntimeError: boom'
"""

from __future__ import annotations

import json
from pathlib import Path

from roadseg.errors import OutputError, PipelineError
from roadseg.pipeline.options import RunResult, SegmentOptions
from roadseg.pipeline.outcome import unforeseen, unwritten, with_stats
from roadseg.pipeline.sinks import ImageSink, Sink, VideoSink
from roadseg.pipeline.sinks.base import write_whole


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
