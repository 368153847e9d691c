"""What every command shares: one decorator for signals and errors, the option groups of `segment` and `batch`, log
lines on stderr (what options parse to: :mod:`roadseg.cli.values`)."""

from __future__ import annotations

import functools
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from roadseg._startup import is_command, release
from roadseg.cli.values import Finite, Seconds, hwaccel_name, size_option
from roadseg.errors import (
    SIGNAL_EXIT,
    Interrupted,
    OutputError,
    RoadsegError,
    install_extra,
    not_a_regular_file,
    reason_of,
)
from roadseg.pipeline.bounds import MAX_THREADS

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``Error: message`` on stderr and exit with ``code``.

    If an interrupted blocking call is still running in a thread (a stream still opening), the
    process leaves at once with ``os._exit``: finalising the interpreter beside a thread inside
    PyAV's C code can crash it (exit -11 instead of ``code``). Outputs are already finalised here.
    """
    if code in SIGNAL_EXIT.values() and threading.current_thread() is threading.main_thread() and is_command():
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # (stopped and cleaned up: another Ctrl-C, an impatient
        # user's, would only make the exit a death by SIGINT, -2, where the run says 130)
    try:
        click.echo(f"Error: {message}", err=True)
    except OSError:  # (stderr went with its terminal: a hang-up; the exit code still tells)
        pass
    _leave_abandoned(code)
    sys.exit(code)


def _leave_abandoned(code: int) -> None:
    """Leave at once with ``os._exit(code)`` where a blocking call still runs in a thread that was left to
    it (a stream still opening after Ctrl-C, a live read of a stalled stream after ``--duration`` ended):
    finalising the interpreter beside a thread inside PyAV's C code can crash it."""
    from roadseg.pipeline.runner import abandoned_calls, leave_now

    if abandoned_calls():
        leave_now(code)


#: How the train extra (torch, onnx) is installed, as README.md says (:func:`~roadseg.errors.install_extra`)
TRAIN_EXTRA = install_extra("train")


def needs_train_extra(what: str, exc: ImportError) -> NoReturn:
    """Fail in one line: ``what`` (a command, a checkpoint's scoring) needs the train extra, which ``exc`` says is
    missing, and how to install it (:data:`TRAIN_EXTRA`).

    >>> needs_train_extra("export", ModuleNotFoundError("No module named 'torch'"))
    Traceback (most recent call last):
    SystemExit: 1
    """
    fail(f"{what} needs the train extra ({TRAIN_EXTRA}): {exc}")


class Terminated(KeyboardInterrupt):
    """SIGTERM, or SIGHUP (the terminal or the SSH session closed), raised like Ctrl-C so that a run stops
    and finalises the same way."""

    def __init__(self, signal_name: str = "SIGTERM") -> None:
        super().__init__()
        self.signal_name = signal_name


def _on_signal(signum: int, frame: Any) -> None:
    raise Terminated(signal.Signals(signum).name)


def _stop_signals() -> list[signal.Signals]:
    """The signals a run stops on as on Ctrl-C: SIGTERM, and SIGHUP unless it is ignored (``nohup``: the
    run is meant to outlive its terminal)."""
    hangup = getattr(signal, "SIGHUP", None)  # (not on Windows)
    return [signal.SIGTERM] + ([hangup] if hangup is not None and signal.getsignal(hangup) != signal.SIG_IGN else [])


def handle_errors(command: F) -> F:
    """Wrap a command: SIGTERM and SIGHUP act like Ctrl-C, and a :class:`RoadsegError`, an interruption or
    an :class:`OSError` (a path that cannot be read or written) becomes one ``Error:`` line and its exit
    code (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP, else 1) instead of a traceback. Any other exception
    keeps its traceback (a bug, shown where it is); a run's own becomes a ``PipelineError`` before it gets here
    (``internal error: ...``, saying what is left of the output: :func:`roadseg.pipeline.outcome.unforeseen`).

    The handlers are installed only on the main thread (signals cannot be handled elsewhere).
    """

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        setup_logging()
        main = threading.current_thread() is threading.main_thread()
        previous = {sig: signal.signal(sig, _on_signal) for sig in _stop_signals()} if main else {}
        try:
            release()  # (a Ctrl-C is a KeyboardInterrupt from here: the run finishes its work on it)
            result = command(*args, **kwargs)
            _leave_abandoned(0)
            return result
        except RoadsegError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt as exc:
            fail("interrupted", SIGNAL_EXIT.get(getattr(exc, "signal_name", "SIGINT"), 130))
        except OSError as exc:  # a path that cannot be read or written (under a file, a full disk ...)
            fail(f"{exc.filename}: {reason_of(exc)}" if exc.filename else reason_of(exc))
        finally:
            if main and is_command():  # (its work is done, or stopped and cleaned up: a signal while the interpreter
                for sig in (signal.SIGINT, *previous):  # exits would only make the exit a death by it, -2 or -15,
                    signal.signal(sig, signal.SIG_IGN)  # where the run said 0, or 130 ...)
            else:
                for sig, handler in previous.items():
                    signal.signal(sig, handler if handler is not None else signal.SIG_DFL)

    return wrapper  # type: ignore[return-value]


class RegularFile(click.Path):
    """``click.Path`` of a file that is there and is a regular file: a FIFO (``mkfifo``) given for a checkpoint, a
    model or a clip hung export, quantize, soup, release, train --resume and bench, blocked reading it, silent.

    >>> RegularFile().convert("/dev/null", None, None)
    Traceback (most recent call last):
    click.exceptions.BadParameter: '/dev/null' is not a regular file (a FIFO, a device ...): name the file itself
    """

    def __init__(self) -> None:
        super().__init__(exists=True, dir_okay=False)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        value = super().convert(value, param, ctx)
        if not Path(value).is_file():
            self.fail(not_a_regular_file(value), param, ctx)
        return value


def check_model_output(output: str, inputs: Sequence[str], overwrite: bool, suffix: str) -> None:
    """Before any work, for a command that writes a model (``suffix`` ``.onnx``) or checkpoint
    (``.pt``) file: refuse an ``output`` that is one of its ``inputs``, a file that exists (without
    ``-y``) or a name with another suffix (an ONNX file named ``.pt`` is then taken for a checkpoint),
    and make its folder."""
    path = Path(output)
    if path.exists() and any(Path(i).exists() and path.resolve() == Path(i).resolve() for i in inputs):
        fail(f"output {output} is the input file; choose another path (the input is never touched)")
    if path.is_dir():
        fail(f"output {output} is a folder; name the file to write in it")
    if path.suffix.lower() != suffix:
        what = "an ONNX model" if suffix == ".onnx" else "a PyTorch checkpoint"
        fail(f"output {output}: this writes {what}; name it {path.with_suffix(suffix).name}")
    if path.exists() and not overwrite:
        fail(f"output {output} exists; pass -y/--overwrite to replace it")
    blocked = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocked is not None:
        fail(f"cannot create {output}: {blocked} is a file, not a folder")
    path.parent.mkdir(parents=True, exist_ok=True)  # (no permission ...: one line, from handle_errors)


@contextmanager
def staged(output: str) -> Iterator[Path]:
    """A name beside ``output`` to write it under: renamed to ``output`` when the block ends well,
    removed when it fails (Ctrl-C too), so that nothing half-made or unchecked takes its place. A Ctrl-C (SIGTERM)
    is an :class:`~roadseg.errors.Interrupted`, and a file that cannot be written (a full disk) an
    :class:`~roadseg.errors.OutputError`, whose message names ``output`` and says what is left of it (were: ``Error:
    interrupted``, and ``Error: No space left on device``, ``Error: /proc/.x.onnx.part: ...``: which file, and
    whether an earlier one was kept, unsaid)."""
    part = Path(output).with_name(f".{Path(output).name}.part")
    try:
        yield part
        part.replace(output)
    except BaseException as exc:
        with suppress(OSError):  # (none to remove where none could be made: a read-only disk says so, EROFS)
            part.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write {output}: {reason_of(exc)}; {untouched(output)}") from None
        if isinstance(exc, KeyboardInterrupt):
            raise Interrupted.of(exc, untouched(output)) from None
        raise


def untouched(output: str | Path) -> str:
    """What is left of ``output``, a file a command was stopped from writing: as it was, or none.

    >>> untouched("/no/such/m.onnx")
    '/no/such/m.onnx is not written'
    """
    return f"{output} is as it was before" if Path(output).exists() else f"{output} is not written"


def setup_logging() -> None:
    """roadseg's warnings (fallbacks, lost frames, reconnects) as ``roadseg: ...`` lines on stderr."""

    class Echo(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            click.echo(f"roadseg: {record.getMessage()}", err=True)

    logger = logging.getLogger("roadseg")
    if not any(type(h).__name__ == "Echo" for h in logger.handlers):
        logger.addHandler(Echo())
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _stacked(*options: Callable[[F], F]) -> Callable[[F], F]:
    """One decorator that applies ``options`` in the order they are listed (as in ``--help``)."""

    def apply(command: F) -> F:
        for option in reversed(options):
            command = option(command)
        return command

    return apply


#: What the model sees and how its labels are drawn: shared by ``segment`` and ``batch``.
model_options = _stacked(
    click.option("--model", type=click.Path(), help="ONNX model file [default: the shipped model; INT8 on CPU]."),
    click.option("--size", callback=size_option, help="Working size HxW the network sees [default: about the model's input_size in pixels (360x480) at the input's own aspect: 320x544 for 16:9, 544x320 upright]."),
    click.option("--mode", default="overlay", show_default=True, type=click.Choice(["overlay", "mask", "side-by-side"]),
                 help="Blend colours onto the frame, colours alone, or frame | overlay side by side."),
    click.option("--alpha", default=0.5, show_default=True, type=Finite(0, 1), help="Weight of the class colours."),
    click.option("--legend", is_flag=True, help="Draw the class colours and names on every frame (left out, with a "
                 "warning, where the picture is too small for them to be legible: 11 classes need 320x180; names beyond "
                 "ASCII spelt without accents, or as 'class N', said in a warning)."),
    click.option("--tta", is_flag=True, help="Also run the network on each frame's mirror image and average the two: "
                 "half the speed, a little more accurate (+0.9 mIoU on CamVid val, +1.4 under changed light)."),
)  # fmt: skip


def file_options(live: bool) -> Callable[[F], F]:
    """Which part of a video file is read and how the output is encoded: shared by ``segment`` and ``batch``; ``live``:
    the command takes live input (``segment``), which the help of ``--duration``, ``--batch`` and ``--fps`` then tells
    of (was: batch's too, which has none: "live input: seconds to record").

    >>> [p.help for p in file_options(live=False)(lambda: None).__click_params__ if p.name == "batch"]
    ['Frames per inference call.']
    """
    return _stacked(
        click.option("--start", default=0.0, type=Seconds(min=0), help="Seconds to skip at the start (files): 90, or as a time [HH:]MM:SS, 1:30."),
        click.option("--duration", type=Seconds(min=0, min_open=True), help=f"Seconds to process after --start{' (live input: seconds to record)' if live else ''}: 30, or [HH:]MM:SS."),
        click.option("--batch", default=1, show_default=True, type=click.IntRange(1, 256), help=f"Frames per inference call{' (files; live input runs one at a time)' if live else ''}."),
        click.option("--device", default="auto", show_default=True, type=click.Choice(["auto", "cpu", "cuda", "tensorrt"]), help="onnxruntime provider; auto: cuda where onnxruntime has it and an NVIDIA GPU is present, else cpu. A GPU provider that fails to load falls back to the CPU with one line."),
        click.option("--threads", default=0, show_default=True, type=click.IntRange(0, MAX_THREADS), help="onnxruntime intra-op threads (0 = one per core this process may use: taskset, a container's cpuset; batch: each worker's share)."),
        click.option("--codec", help="Video encoder (libx264, libx265, libsvtav1, libvpx-vp9, mpeg4) [default: libx264, or the output container's own codec where it cannot hold H.264: VP9 for .webm, MPEG-2 for .mpg/.mpeg/.vob]."),
        click.option("--crf", default=23, show_default=True, help="Encoder quality, lower = better and bigger (x264/x265: 0-51, VP9/AV1: 0-63, VP8: 4-63; mpeg4, mjpeg: the matching quantiser; nvenc, qsv, vaapi, amf: their constant-quality mode at the same 0-51)."),
        click.option("--preset", default="superfast", show_default=True, help="x264/x265 speed preset (ultrafast: faster, ~1.5x bigger files; veryfast: ~0.55x the size, slower)."),
        click.option("--no-audio", is_flag=True, help="Drop the audio (by default every audio stream is copied untouched, or re-encoded where the output cannot carry it, or many players would not play it: PCM, FLAC or Opus into mp4)."),
        click.option("--hwaccel", callback=hwaccel_name, help="Decode on a hardware device, by FFmpeg's name for it (cuda, qsv, vaapi, videotoolbox ...; another name is refused with the list); one this machine lacks falls back to the CPU with a warning."),
        click.option("--height", type=click.IntRange(min=2), help="Scale a file's frames to this many pixels high as they are decoded (width by the aspect, even; never enlarged): the output, the masks and all the work in between are at that size. A 4K dashcam at --height 1080 ran 1.8x faster on 2 CPU cores, where encoding 4K costs more than the model."),
        click.option("--fps", type=Finite(min=0, min_open=True), metavar="N", help=f"Keep at most N of a file's frames a second (the first of each 1/N s by their timestamps: every other of a 60 frames/s dashcam's at --fps 30), left out before they are segmented, and write the output at N frames/s; the audio stays whole. A source at N or fewer keeps every frame.{' Not for live or image input.' if live else ''}"),
        click.option("--video-stream", type=click.IntRange(min=0), help="Which of a file's video streams to segment, counted from 0 as FFmpeg's -map 0:v:N (a dual dashcam's rear camera) [default: the one FFmpeg would play]."),
    )  # fmt: skip
