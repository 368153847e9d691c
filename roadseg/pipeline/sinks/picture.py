"""One picture file written whole: encoded in memory, written under a hidden name beside its own and renamed onto it
(the output images of an image input and the label masks, :mod:`roadseg.pipeline.sinks.files`).

Example:
    >>> part_name(Path("masks/000012.png")).parent.name
    'masks'
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from roadseg.pipeline.sinks.finishing import PART


def write_picture(target: Path, picture: np.ndarray, then: Callable[[], object] | None = None) -> None:
    """Write ``picture`` (BGR, or one channel) to ``target`` in the format its name ends with, whole: encoded in memory,
    written by Python under a hidden temporary name beside it (:func:`part_name`) and renamed onto ``target``, so that
    the disk's errors are raised (``OSError``; the part written removed, what ``target`` held left as it was) and a
    run killed while it writes (``kill -9``, a power cut) leaves no picture cut short under a picture's name (was: a
    half PNG among the masks; the part left is removed by the next run: :func:`remove_leftovers`). A ``target`` that
    is a link or not a file (``/dev/stdout``) is written through. ``cv2.imwrite`` into a full disk (``/dev/full``)
    returned True for a 48x64 picture and left nothing, and False, without the reason, for a 512x512 one. ``then`` is
    called once the picture is whole, before it is renamed onto ``target`` (a mask's line: :meth:`MaskSink._line`);
    its ``OSError`` is the disk's."""
    encoded, data = cv2.imencode(target.suffix, picture)
    if not encoded:
        raise OSError(f"OpenCV could not encode it as {target.suffix}")
    through = os.path.lexists(target) and (target.is_symlink() or not target.is_file())
    written = target if through else part_name(target)
    try:
        with open(written, "wb") as f:
            f.write(data.data)
        if then is not None:
            then()
        if written != target:
            os.replace(written, target)
    except OSError:
        with contextlib.suppress(OSError):
            written.unlink(missing_ok=True)  # (a picture cut short)
        raise


def part_name(target: Path) -> Path:
    """The hidden name beside ``target`` that :func:`write_picture` writes it under, which no ``*.png`` names.

    >>> part_name(Path("masks/000012.png")).name == f".000012.png.part-{os.getpid()}"
    True
    """
    return target.with_name(f".{target.name}{PART}{os.getpid()}")
