"""The picture the views show (the ``--show`` window, the ``--serve`` browser view): an anamorphic source's (pixels
not square: HDV's 1440x1080 at 4:3, 16:9 PAL DV's 720x576 at 64:45) stretched to the shape it plays at, as a
player shows it and as its recording is tagged (:mod:`~roadseg.pipeline.sinks.aspect`), and a live run's figures
(:func:`~roadseg.pipeline.overlay.draw_hud`) drawn over it then, so that their text is not stretched with it.

Example:
    >>> display_size(1440, 1080, Fraction(4, 3)), display_size(720, 576, Fraction(64, 45))
    ((1920, 1080), (1024, 576))
    >>> as_shown(np.zeros((1080, 1440, 3), np.uint8), Fraction(4, 3), Figures(25.0, 40.0, 0)).shape
    (1080, 1920, 3)
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

import cv2
import numpy as np

from roadseg.pipeline.overlay import draw_hud


class Figures(NamedTuple):
    """A live run's figures as a view shows them over its picture: frames/s over the last second (None in the
    run's first), this frame's latency (ms) and the frames dropped."""

    fps: float | None
    latency_ms: float
    dropped: int


def display_size(width: int, height: int, sample_aspect: Fraction | float | None) -> tuple[int, int]:
    """``(width, height)`` of a picture whose pixels are ``sample_aspect`` as wide as high (None: square) as it plays:
    stretched, never squeezed, so that no stored pixel is lost (wide pixels widen it, tall ones, NTSC's 10:11, make
    it higher).

    >>> display_size(720, 480, Fraction(10, 11)), display_size(640, 360, None)
    ((720, 528), (640, 360))
    """
    sar = float(sample_aspect or 1)
    if sar > 1:
        return max(1, round(width * sar)), height
    if sar < 1:
        return width, max(1, round(height / sar))
    return width, height


def as_shown(image: np.ndarray, sample_aspect: Fraction | float | None = None,
             figures: Figures | None = None) -> np.ndarray:  # fmt: skip
    """``image`` (RGB) as a view shows it: at its :func:`display_size` (a linear stretch), then ``figures`` drawn over
    it (None: none). ``image`` is left as it is, and returned as it is where nothing changes.

    >>> picture = np.zeros((48, 64, 3), np.uint8)
    >>> as_shown(picture) is picture, as_shown(picture, 0.5).shape, bool(as_shown(picture, None, Figures(None, 4, 0)).any())
    (True, (96, 64, 3), True)
    >>> bool(picture.any())
    False
    """
    width, height = display_size(image.shape[1], image.shape[0], sample_aspect)
    shown = image
    if (width, height) != (image.shape[1], image.shape[0]):
        shown = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
    if figures is not None:
        shown = image.copy() if shown is image else shown
        draw_hud(shown, *figures)
    return shown
