"""Option values: click parameter types and callbacks that parse and check what a command is given (seconds,
sizes, HOST:PORT, paths, hardware decoder names)."""

from __future__ import annotations

import ipaddress
import math
from typing import Any

import click


class Finite(click.FloatRange):
    """A float in a range that is a number: click's FloatRange lets ``nan`` through (it compares as
    neither below nor above a bound), and ``--start nan`` then read the whole file."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


class Seconds(Finite):
    """Seconds as a number (``90``, ``1.5``) or as a clock, ``[HH:]MM:SS[.frac]`` (``1:30``, ``00:01:30.5``), as
    FFmpeg's ``-ss`` and ``-t`` and a player show them: ``--start 1:30`` was refused as "not a valid float range"."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str):
            seconds = clock_seconds(value) if ":" in value else _float_or_none(value)
            if seconds is None:
                self.fail(f"{value!r} is not a number of seconds or a time [HH:]MM:SS (90, 1:30, 00:01:30.5)", param, ctx)
            value = seconds if ":" in value else value  # (a number as given: 'nan' is then said as typed)
        return super().convert(value, param, ctx)


def _float_or_none(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def clock_seconds(text: str) -> float | None:
    """``[HH:]MM:SS[.frac]`` in seconds; ``None`` where it is not such a time.

    >>> clock_seconds("1:30"), clock_seconds("00:01:30.5"), clock_seconds("2:00:00")
    (90.0, 90.5, 7200.0)
    >>> clock_seconds("1:75"), clock_seconds("1:2:3:4"), clock_seconds("1:-5"), clock_seconds("a:10")
    (None, None, None, None)
    """
    *whole, last = text.strip().split(":")
    if not whole or len(whole) > 2 or not all(part.isdecimal() for part in whole):
        return None
    try:
        seconds = float(last)
    except ValueError:
        return None
    hours, minutes = (0, *map(int, whole)) if len(whole) == 1 else map(int, whole)
    if not 0 <= seconds < 60 or (len(whole) == 2 and minutes >= 60) or not last[:1].isdecimal():
        return None
    return hours * 3600.0 + minutes * 60.0 + seconds


def parse_size(value: str | None, form: str = "HxW", example: str = "360x480") -> tuple[int, int] | None:
    """Parse ``HxW`` (e.g. ``360x480``), or two positive numbers in another ``form`` (a camera's ``WxH``).

    >>> parse_size("360x480"), parse_size("1280x720", "WxH", "1280x720")
    ((360, 480), (1280, 720))
    """
    if value is None:
        return None
    try:
        a, b = (int(v) for v in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not {form}, e.g. {example}") from None
    if a <= 0 or b <= 0:
        raise click.BadParameter(f"{value!r}: both sides must be positive")
    return a, b


def parse_hostport(value: str | None) -> tuple[str, int] | None:
    """Parse ``HOST:PORT`` (e.g. ``127.0.0.1:8080``); an IPv6 address in brackets, as in a URL (``[::1]:8080``).

    A bare IPv6 address (``::1:8080``) is refused: which colon starts the port cannot be told.

    >>> parse_hostport("0.0.0.0:8080"), parse_hostport("[::1]:8080")
    (('0.0.0.0', 8080), ('::1', 8080))
    """
    if value is None:
        return None
    host, _, port = value.rpartition(":")
    if not host or not port.isdecimal() or not 0 < int(port) < 65536:
        raise click.BadParameter(f"wants HOST:PORT (e.g. 127.0.0.1:8080 or [::1]:8080; a port from 1 to 65535), "
                                 f"not {value!r}")  # fmt: skip
    if host.startswith("[") and host.endswith("]"):
        try:
            host = str(ipaddress.IPv6Address(host[1:-1]))
        except ValueError:
            raise click.BadParameter(f"{host} is not an IPv6 address (brackets hold one: [::1]:8080)") from None
    elif ":" in host or "[" in host or "]" in host:
        raise click.BadParameter(f"wants an IPv6 address in brackets, then the port: [::1]:8080, not {value!r}")
    return host, int(port)


def size_option(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, int] | None:
    """click callback for HxW options."""
    return parse_size(value)


def named_path(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """click callback for paths (one, or several): refuse an empty one, which an unset shell variable gives
    (``roadseg batch "$ARCHIVE" -o out``) and which meant the current folder: every video under it searched.

    >>> named_path(None, click.Argument(["inputs"]), ("a.mp4", "dash/"))
    ('a.mp4', 'dash/')
    >>> named_path(None, click.Argument(["inputs"]), ("a.mp4", ""))
    Traceback (most recent call last):
    click.exceptions.BadParameter: an empty path (an unset shell variable?) would mean the current folder; name it: .
    """
    for path in value if isinstance(value, tuple) else [value]:
        if path is not None and not str(path).strip():
            raise click.BadParameter("an empty path (an unset shell variable?) would mean the current folder; name it: .")
    return value


def hwaccel_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """click callback for ``--hwaccel``: an FFmpeg hardware device type (lower case), else a usage error in the
    library's line (:func:`~roadseg.pipeline.checks.check_hwaccel`), which lists them (``--hwaccel cude`` fell back
    to the CPU, its only sign one warning line among others).

    >>> hwaccel_name(None, None, "CUDA")
    'cuda'
    """
    from roadseg.errors import ArgumentError
    from roadseg.pipeline.checks import check_hwaccel

    try:
        check_hwaccel(value)
    except ArgumentError as exc:
        raise click.BadParameter(str(exc)) from None
    return value and value.lower()


def input_path(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """click callback for an INPUT: :func:`named_path`'s check, and a ``file://`` URL (a file manager's copy of
    a file) as the path it names (:func:`~roadseg.pipeline.inputs.local_path`).

    >>> input_path(None, click.Argument(["input"]), "file:///tmp/u/clip.mp4")
    '/tmp/u/clip.mp4'
    """
    from roadseg.pipeline.inputs import local_path

    named_path(ctx, param, value)
    return local_path(value) if isinstance(value, str) else value
