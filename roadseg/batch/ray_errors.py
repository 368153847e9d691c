"""What Ray's exceptions say, in one line: what went wrong inside a worker (:func:`inner_cause`), the node of one that went
down (:func:`went_down`).

Example:
    >>> inner_cause(RuntimeError("roadseg.errors.SourceError: not a readable video"))
    'not a readable video'
"""

from __future__ import annotations

import re


def inner_cause(exc: BaseException) -> str:
    """The first line of what went wrong inside Ray, without its traceback (or roadseg's class name)."""
    cause = getattr(exc, "cause", None) or exc
    text = str(cause).strip().splitlines()
    return re.sub(r"^roadseg\.[\w.]+Error: ", "", text[-1]) if text else cause.__class__.__name__


def went_down(exc: BaseException) -> tuple[str, str]:
    """The node (its address) of an actor whose process or node went down, and what Ray said of it, in one line."""
    lines = str(exc).splitlines()
    ip = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("\tip:")), "?")
    said = "; ".join(line.strip() for line in lines[1:] if line.strip() and not line.startswith("\t"))
    return ip, said or exc.__class__.__name__
