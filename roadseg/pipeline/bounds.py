"""The numbers among a run's options, and its flags (True or False), checked as the command line's types check them
(a library caller's ``SegmentOptions`` too): one that cannot be is refused in one :class:`~roadseg.errors.ArgumentError`
line, before anything is opened (:func:`check_numbers`, from :func:`roadseg.pipeline.checks.check`).

Example:
    >>> check_numbers(SegmentOptions("a.mp4", alpha="0.5"))
    Traceback (most recent call last):
    roadseg.errors.ArgumentError: alpha must be a number from 0 to 1, not '0.5'
"""

from __future__ import annotations

import math
from dataclasses import fields
from numbers import Integral, Real

from roadseg.errors import ArgumentError
from roadseg.pipeline.options import SegmentOptions

#: The most intra-op threads a session is given (``--threads`` of segment, batch and bench; ``threads=`` of
#: :func:`~roadseg.run`, :class:`~roadseg.Segmenter`): 100000 made onnxruntime start threads for minutes, silent.
MAX_THREADS = 1024

_BOUNDS = {"batch": (1, 256, ""), "queue_size": (1, None, ""), "threads": (0, MAX_THREADS, " (0: one per core)"),
           "max_frames": (1, None, " (None: every frame)"),
           "video_stream": (0, None, " (None: the one FFmpeg would play)")}  # fmt: skip


def check_numbers(opts: SegmentOptions) -> None:
    """Refuse a number the command line's options could not be given (was: ``batch=0`` and ``queue_size=0`` taken,
    an unbounded queue, ``threads=-1`` passed on, ``max_frames=0`` a run of every frame, ``video_stream=-1`` a
    SourceError once the file was open), in one line."""
    for name in _BOUNDS:
        if getattr(opts, name) is not None or name not in ("max_frames", "video_stream"):
            check_whole(name, getattr(opts, name))
    for name, least, most in (("alpha", 0, 1), ("start", 0, None), ("retry_delay", 0, None)):
        _check_real(name, getattr(opts, name), least, most)
    if opts.duration is not None:
        _check_above_zero("duration", opts.duration, "a number of seconds", " (None: to the end)")
    if not _whole(opts.crf) or (opts.height is not None and not (_whole(opts.height) and opts.height >= 2)):
        wrong = ("crf", "a whole number") if not _whole(opts.crf) else ("height", "a whole number of pixels, 2 or more")
        raise ArgumentError(f"{wrong[0]} must be {wrong[1]}, not {getattr(opts, wrong[0])!r}")
    _check_retries(opts.retries, opts.retry_delay)
    for name in (*(f.name for f in fields(opts) if isinstance(f.default, bool)), "pace"):  # (was: any string true,
        if isinstance(value := getattr(opts, name), str | bytes):  # legend="no" drew the legend)
            raise ArgumentError(f"{name} must be True or False, not {value!r}")
    _check_above_zero("stream_timeout", opts.stream_timeout, "a number of seconds")
    if opts.fps is not None:  # (None: every frame)
        _check_above_zero("fps", opts.fps, "a number of frames a second", " (None: every frame)")
    if opts.camera_fps is not None:  # (was: "30" an internal error, -5 taken)
        _check_above_zero("camera_fps", opts.camera_fps, "a number of frames a second", " (None: the camera's own)")
    size = opts.camera_size  # (was: (1280,) an internal error, "1280x720" taken)
    if size is not None and not (isinstance(size, tuple | list) and len(size) == 2 and all(_whole(n) and n > 0 for n in size)):
        raise ArgumentError(f"camera_size must be (width, height), two whole numbers over 0, not {size!r}")


def check_whole(name: str, value: object) -> None:
    """Refuse a whole-number option ``name`` of :data:`_BOUNDS` (``threads``: a run's, a :class:`~roadseg.Segmenter`'s,
    and every session's, :func:`~roadseg.pipeline.session.intra_op_threads`) that is no whole number within its bounds.

    >>> check_whole("threads", 8)
    >>> check_whole("threads", 100000)
    Traceback (most recent call last):
    roadseg.errors.ArgumentError: threads must be from 0 to 1024 (0: one per core), not 100000
    """
    least, most, meaning = _BOUNDS[name]
    if isinstance(value, bool) or not isinstance(value, Integral) or value < least or (most and value > most):
        bounds = f"from {least} to {most}" if most else f"{least} or more"
        raise ArgumentError(f"{name} must be {bounds}{meaning}, not {value!r}")


def _check_retries(retries: object, delay: float) -> None:
    """Refuse reconnects that are no count (None: for ever), and for ever with no delay: a busy loop, and a line
    at each attempt.

    >>> _check_retries(None, 0.0)
    Traceback (most recent call last):
    roadseg.errors.ArgumentError: --retries forever (retries=None) needs a --retry-delay above 0 (not a busy loop), not 0.0
    >>> _check_retries(-1, 1.0)
    Traceback (most recent call last):
    roadseg.errors.ArgumentError: retries must be 0 or more, or None (for ever), not -1
    """
    if retries is not None and (isinstance(retries, bool) or not isinstance(retries, Integral) or retries < 0):
        raise ArgumentError(f"retries must be 0 or more, or None (for ever), not {retries!r}")
    if retries is None and not delay > 0:
        raise ArgumentError(f"--retries forever (retries=None) needs a --retry-delay above 0 (not a busy loop), not {delay!r}")


def _check_above_zero(name: str, value: object, what: str, meaning: str = "") -> None:
    """Refuse a real-number option that is no ``what`` above 0 (``--stream-timeout``: 0 took every stream as lost at
    once; ``--fps``), ``meaning`` said beside the bound.

    >>> _check_above_zero("stream_timeout", 0.5, "a number of seconds"), _check_above_zero("fps", 12.5, "a rate")
    (None, None)
    >>> _check_above_zero("stream_timeout", 0, "a number of seconds")
    Traceback (most recent call last):
    roadseg.errors.ArgumentError: stream_timeout must be a number of seconds above 0, not 0
    """
    if isinstance(value, bool) or not isinstance(value, Real) or not (math.isfinite(value) and value > 0):
        raise ArgumentError(f"{name} must be {what} above 0{meaning}, not {value!r}")


def _whole(value: object) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def real_within(value: object, least: float, most: float | None = None) -> bool:
    """Whether ``value`` is a real number, finite (not a bool, nor a string of one), from ``least`` to ``most`` (None:
    no bound above).

    >>> real_within(0.5, 0, 1), real_within(float("nan"), 0), real_within(True, 0), real_within(-1, 0)
    (True, False, False, False)
    """
    return (not isinstance(value, bool) and isinstance(value, Real) and math.isfinite(value) and least <= value
            and (most is None or value <= most))  # fmt: skip


def _check_real(name: str, value: object, least: float, most: float | None) -> None:
    """Refuse a real-number option that is no number from ``least`` to ``most`` (``alpha="0.5"`` and ``start="3"``
    failed midway as internal errors; ``start=-1`` was taken as 0).

    >>> _check_real("start", -2.0, 0, None)
    Traceback (most recent call last):
    roadseg.errors.ArgumentError: start must be a number, 0 or more, not -2.0
    """
    if not real_within(value, least, most):
        bounds = f"from {least} to {most}" if most is not None else f"{least} or more"
        raise ArgumentError(f"{name} must be a number{' ' if most is not None else ', '}{bounds}, not {value!r}")
