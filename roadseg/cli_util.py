"""Small helpers shared by the click commands."""

from __future__ import annotations

import sys

import click


def parse_size(value: str | None) -> tuple[int, int] | None:
    """Parse ``HxW`` (e.g. ``360x480``)."""
    if value is None:
        return None
    try:
        h, w = (int(v) for v in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not HxW, e.g. 360x480") from None
    if h <= 0 or w <= 0:
        raise click.BadParameter(f"{value!r}: height and width must be positive")
    return h, w


def fail(message: str, code: int = 1) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)
