"""Paint labels as class colours and blend them onto frames.

Colours are looked up at the working size (small) and the colour image is resized to the frame,
then blended once with ``cv2.addWeighted`` into a reusable buffer.

Example:
    >>> import numpy as np
    >>> lut = palette_lut([(255, 0, 0), (0, 255, 0)])
    >>> frame = np.zeros((4, 4, 3), np.uint8)
    >>> out = Overlay(lut, alpha=1.0)(frame, np.ones((2, 2), np.uint8))
    >>> out[0, 0].tolist()
    [0, 255, 0]
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np


def palette_lut(palette: Sequence[Sequence[int]] | np.ndarray) -> np.ndarray:
    """A [256,3] uint8 colour table; label values without a class stay black."""
    lut = np.zeros((256, 3), np.uint8)
    pal = np.asarray(palette, np.uint8).reshape(-1, 3)
    lut[: len(pal)] = pal
    return lut


def colorize(labels: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """uint8 labels [H,W] -> RGB colours [H,W,3]."""
    return lut[labels]


class Overlay:
    """Blend class colours onto frames: ``out = (1 - alpha) * frame + alpha * colour``.

    Args:
        lut: colour table from :func:`palette_lut`.
        alpha: weight of the colours (0 = the frame, 1 = the colours alone).
    """

    def __init__(self, lut: np.ndarray, *, alpha: float = 0.5) -> None:
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be within 0..1, not {alpha}")
        self.lut = lut
        self.alpha = alpha

    def __call__(self, frame: np.ndarray, labels: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        colour = colorize(labels, self.lut)
        if colour.shape[:2] != (h, w):
            colour = cv2.resize(colour, (w, h), interpolation=cv2.INTER_NEAREST)
        out = np.empty_like(frame)
        cv2.addWeighted(frame, 1.0 - self.alpha, colour, self.alpha, 0.0, dst=out)
        return out
