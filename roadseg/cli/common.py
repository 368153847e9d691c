"""What every command shares: one decorator for signals and errors, option parsers, log lines on stderr."""

from __future__ import annotations

import functools
import logging
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from roadseg.errors import RoadsegError

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``Error: message`` on stderr and exit with ``code``."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that a run stops and finalises the same way."""

    signal_name = "SIGTERM"


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated()


def handle_errors(command: F) -> F:
    """Wrap a command: SIGTERM acts like Ctrl-C, and a :class:`RoadsegError` or an interruption becomes
    one ``Error:`` line and its exit code (130 for SIGINT, 143 for SIGTERM) instead of a traceback.

    The SIGTERM handler is installed only on the main thread (signals cannot be handled elsewhere).
    """

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        setup_logging()
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _on_sigterm) if main else None
        try:
            return command(*args, **kwargs)
        except RoadsegError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt as exc:
            fail("interrupted", 143 if isinstance(exc, Terminated) else 130)
        finally:
            if main:
                signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)

    return wrapper  # type: ignore[return-value]


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


def parse_size(value: str | None) -> tuple[int, int] | None:
    """Parse ``HxW`` (e.g. ``360x480``).

    >>> parse_size("360x480")
    (360, 480)
    """
    if value is None:
        return None
    try:
        h, w = (int(v) for v in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not HxW, e.g. 360x480") from None
    if h <= 0 or w <= 0:
        raise click.BadParameter(f"{value!r}: height and width must be positive")
    return h, w


def parse_hostport(value: str | None) -> tuple[str, int] | None:
    """Parse ``HOST:PORT`` (e.g. ``127.0.0.1:8080``).

    >>> parse_hostport("0.0.0.0:8080")
    ('0.0.0.0', 8080)
    """
    if value is None:
        return None
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise click.BadParameter(f"wants HOST:PORT (e.g. 127.0.0.1:8080), not {value!r}")
    return host, int(port)


def size_option(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, int] | None:
    """click callback for HxW options."""
    return parse_size(value)
