"""Ctrl-C (SIGTERM, SIGHUP) while the command line is still loading: ``Error: interrupted`` and exit 130
(143, 129), as later.

``roadseg``, ``segment-video`` and ``python -m roadseg`` import the package first (NumPy, OpenCV, PyAV,
click: about a second on a busy machine), and a KeyboardInterrupt raised there was a traceback. The
package's ``__init__`` calls :func:`guard` before any of that, so that where this process is one of
those commands a Ctrl-C leaves at once (nothing has started: nothing to finish or remove);
:func:`~roadseg.cli.common.handle_errors` calls :func:`release` as a command starts, and from then on a
Ctrl-C is a KeyboardInterrupt that the command finishes its work on. A program that imports roadseg
keeps its own Ctrl-C, and a command started with SIGINT ignored (with ``&`` from a script) goes on ignoring it.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from roadseg.errors import SIGNAL_EXIT

COMMANDS = ("roadseg", "segment-video")  # pyproject.toml's console scripts


def guard() -> None:
    """Where this process is a roadseg command still loading, make a Ctrl-C, SIGTERM or SIGHUP end it in one line
    (SIGTERM and SIGHUP killed it, exit -15 or -1, where the run says 143 or 129; one ignored stays ignored)."""
    if threading.current_thread() is not threading.main_thread() or not is_command():
        return
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _leave)
    for sig in _others():
        if signal.getsignal(sig) == signal.SIG_DFL:
            signal.signal(sig, _leave)


def release() -> None:
    """A Ctrl-C is a KeyboardInterrupt again (a command that handles it has started); SIGTERM and SIGHUP that
    the command did not take over act as before."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is _leave:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in _others():
        if signal.getsignal(sig) is _leave:
            signal.signal(sig, signal.SIG_DFL)


def settle() -> None:
    """Where this process is a roadseg command whose work is whole (every output finalised; a batch's every video
    recorded), Ctrl-C, SIGTERM and SIGHUP are let be from here, while it writes its last lines and leaves: one in
    that instant was ``Error: interrupted`` and 130 where the work was done. Main thread only; a program that
    imports roadseg keeps its own handlers."""
    if threading.current_thread() is threading.main_thread() and is_command():
        for sig in (signal.SIGINT, *_others()):
            signal.signal(sig, signal.SIG_IGN)


def _others() -> list[signal.Signals]:
    return [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])


def _leave(signum: int, frame: object) -> None:
    os.write(2, b"Error: interrupted\n")
    os._exit(SIGNAL_EXIT[signal.Signals(signum).name])


def is_command() -> bool:
    """``roadseg ...`` or ``segment-video ...`` (a console script: its path is ``argv[0]``, and the script the
    interpreter was given: not a batch's worker process, which is given its driver's ``argv``), or ``python -m
    roadseg`` (while a ``-m`` module's package loads, ``argv[0]`` is ``-m``, then its ``__main__.py``; the
    interpreter's arguments name it)."""
    argv, given = getattr(sys, "argv", None) or [""], sys.orig_argv
    if argv[0] == "-m" or argv[0] == os.path.join(os.path.dirname(os.path.abspath(__file__)), "__main__.py"):
        return "-mroadseg" in given or any(a == "-m" and b == "roadseg" for a, b in zip(given, given[1:]))
    return os.path.basename(argv[0]).removesuffix(".exe") in COMMANDS and argv[0] in given[1:]


@contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP back until the block ends (on the main thread; those a Python handler
    takes): for the import of a C extension that turns a KeyboardInterrupt raised while it initialises into an
    ImportError (onnxruntime's pybind11 module: ``ImportError: initialization failed``, a traceback and exit 1
    where a Ctrl-C came while a run loaded its model). A signal that came meanwhile acts as the block ends.
    (Masking them would not do: the kernel hands a signal to a thread that does not mask it, OpenBLAS's.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[tuple[int, object]] = []
    names = ("SIGINT", "SIGTERM", "SIGHUP")
    handlers = {sig: h for sig in (getattr(signal, n) for n in names if hasattr(signal, n))
                if callable(h := signal.getsignal(sig))}  # fmt: skip
    for sig in handlers:
        signal.signal(sig, lambda signum, frame: came.append((signum, frame)))
    try:
        yield
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        if came:
            signum, frame = came[0]
            handlers[signum](signum, frame)
