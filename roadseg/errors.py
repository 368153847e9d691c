"""The one error family: everything roadseg raises on purpose is a :class:`RoadsegError` with an exit code.

The CLI prints ``Error: <message>`` and exits with ``exit_code``; library callers (a batch worker,
a notebook) catch ``RoadsegError`` and read the same two things.

Example:
    >>> try:
    ...     raise SourceError("input not found: nope.mp4")
    ... except RoadsegError as exc:
    ...     print(exc.exit_code, exc)
    1 input not found: nope.mp4
    >>> Interrupted("interrupted", frames=3, signal_name="SIGTERM").exit_code
    143
"""

from __future__ import annotations

SIGNAL_EXIT = {"SIGHUP": 129, "SIGINT": 130, "SIGTERM": 143}  # 128 + the signal's number, as a shell reports it


class RoadsegError(Exception):
    """Base of every error roadseg raises on purpose; ``exit_code`` is what the CLI exits with."""

    exit_code: int = 1


class ArgumentError(RoadsegError, ValueError):
    """A value a library caller gave that roadseg cannot take (a frame that is no uint8 RGB picture, a working size
    of 0, a device it does not know): what the command line's options refuse before. A ValueError too, as Python's
    own are; exit code 2, a command line's usage error."""

    exit_code = 2


class SourceError(RoadsegError):
    """The input cannot be read (missing, empty, not a video, no video stream, a camera that went away).
    ``damaged``: its own bytes are at fault (FFmpeg finds invalid data, its index is missing), not the
    reading of them (permission, a network mount's I/O error): read again as it is, it fails again."""

    def __init__(self, message: str, *, damaged: bool = False) -> None:
        super().__init__(message)
        self.damaged = damaged


class OutputError(RoadsegError):
    """The outputs asked for are unusable before any work starts (exists, equals the input, none given ...)."""


class SinkError(RoadsegError):
    """An output cannot be written (bad path, unsupported codec, disk full, no GUI for a window ...)."""


class EncoderError(SinkError):
    """An output's encoder failed (FFmpeg's error from the encoder, midway or at its flush), not the file it writes to:
    the pictures it gave out before can still be finished into a playable file."""


class OutputClosed(SinkError):
    """The reader of the pipe an output goes to closed it (a player quit, ``head`` had what it wanted): the run
    stops there. Not a fault of the run; exit code 141, as for a process that SIGPIPE ends (a shell's ``yes | head``).
    """

    exit_code = 141


class ModelError(RoadsegError):
    """A model file is missing, unreadable, or breaks the ONNX contract."""


class ExportCheckError(RoadsegError):
    """An exported model failed its checks (onnx.checker, or parity with PyTorch)."""


class PipelineError(RoadsegError):
    """A run failed midway; ``kept`` says whether a playable partial output was left, ``frames`` how many,
    ``reason`` what failed (the message without what was left of the outputs; the message where not given)."""

    def __init__(self, message: str, *, kept: bool, frames: int, reason: str | None = None) -> None:
        super().__init__(message)
        self.kept, self.frames, self.reason = kept, frames, reason or message


class MasksFailed(PipelineError):
    """Only ``--masks-dir`` failed (a full disk): the other outputs were written to their end and kept (``kept``,
    ``frames``: the output's), the masks before the failure too; the message says what is where."""


class Interrupted(RoadsegError):
    """SIGINT/SIGTERM stopped the run; what was written is finalised. Exit code 130 (SIGINT) or 143 (SIGTERM)."""

    def __init__(self, message: str, *, frames: int = 0, signal_name: str = "SIGINT") -> None:
        super().__init__(message)
        self.message, self.frames, self.signal_name = message, frames, signal_name
        self.exit_code = SIGNAL_EXIT.get(signal_name, 130)

    @classmethod
    def of(cls, exc: BaseException, left: str) -> Interrupted:
        """Of a Ctrl-C (or SIGTERM, SIGHUP: a ``KeyboardInterrupt`` with its ``signal_name``), one whose message says
        what is ``left`` of the output (``Error: interrupted; m.onnx is not written``), exit code its signal's.

        >>> Interrupted.of(KeyboardInterrupt(), "nothing was packed").message
        'interrupted; nothing was packed'
        """
        return cls(f"interrupted; {left}", signal_name=getattr(exc, "signal_name", "SIGINT"))


class StopRequested(Exception):
    """Not an error: a viewer asked to quit (q or Esc in the window); the run ends normally."""


def reason_of(exc: BaseException) -> str:
    """The first line of an error's message (an OS or FFmpeg error's ``strerror``), for one-line messages.

    >>> reason_of(OSError(28, "No space left on device")), reason_of(IndexError())
    ('No space left on device', 'IndexError')
    """
    text = getattr(exc, "strerror", None) or str(exc).strip().split("\n")[0]
    return text or exc.__class__.__name__


def install_extra(extra: str) -> str:
    """How roadseg's optional dependencies ``extra`` (``train``, ``ray``) are installed, for a message that finds them
    missing: from roadseg's checkout, as README.md installs them (roadseg is not on PyPI, where ``pip install
    'roadseg[train]'`` looked for a package of that name).

    >>> print(install_extra("ray"))
    in roadseg's checkout: pip install -c constraints.txt ".[ray]"
    """
    return f'in roadseg\'s checkout: pip install -c constraints.txt ".[{extra}]"'


def not_a_regular_file(path: object) -> str:
    """What is said of ``path``, there but no regular file (a FIFO, which blocked a reader of it, silent; a device),
    where a file is asked for (a model, a checkpoint, a clip: :class:`~roadseg.cli.common.RegularFile`).

    >>> print(not_a_regular_file("/dev/null"))
    '/dev/null' is not a regular file (a FIFO, a device ...): name the file itself
    """
    return f"{str(path)!r} is not a regular file (a FIFO, a device ...): name the file itself"
