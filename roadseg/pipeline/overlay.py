"""Paint labels as class colours: blended onto the frame, alone, or side by side, with a legend;
and the live figures (HUD).

Colours are looked up at the working size (a small image) and the colour image is resized to the
frame, then blended once with ``cv2.addWeighted``.

Example:
    >>> import numpy as np
    >>> lut = palette_lut([(255, 0, 0), (0, 255, 0)])
    >>> frame = np.zeros((4, 4, 3), np.uint8)
    >>> Overlay(lut, alpha=1.0)(frame, np.ones((2, 2), np.uint8))[0, 0].tolist()
    [0, 255, 0]
    >>> Overlay(lut, mode="side-by-side")(frame, np.ones((2, 2), np.uint8)).shape
    (4, 8, 3)
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

MODES = ("overlay", "mask", "side-by-side")


def palette_lut(palette: Sequence[Sequence[int]] | np.ndarray) -> np.ndarray:
    """A [256,3] uint8 colour table; label values without a class stay black."""
    lut = np.zeros((256, 3), np.uint8)
    pal = np.asarray(palette, np.uint8).reshape(-1, 3)
    lut[: len(pal)] = pal
    return lut


def colorize(labels: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """uint8 labels [H,W] -> RGB colours [H,W,3]."""
    return lut[labels]


def output_size(width: int, height: int, mode: str) -> tuple[int, int]:
    """(width, height) of what :class:`Overlay` returns for a frame of the given size."""
    return (2 * width, height) if mode == "side-by-side" else (width, height)


def render_legend(classes: Sequence[str], lut: np.ndarray, frame_height: int) -> tuple[np.ndarray, np.ndarray]:
    """A legend patch (RGB) and its opacity mask (float [h,w,1]), scaled to the frame height."""
    scale = max(0.35, frame_height / 1080)
    row = int(round(26 * scale))
    font = cv2.FONT_HERSHEY_SIMPLEX
    fscale = 0.55 * scale
    text_w = max(cv2.getTextSize(c, font, fscale, 1)[0][0] for c in classes)
    h, w = row * len(classes) + row // 2, row + text_w + row
    patch = np.zeros((h, w, 3), np.uint8)
    for i, name in enumerate(classes):
        y = row // 4 + i * row
        cv2.rectangle(patch, (row // 4, y + 2), (row // 4 + row - 6, y + row - 4), lut[i].tolist(), -1)
        cv2.putText(patch, name, (row + row // 4, y + int(row * 0.72)), font, fscale, (255, 255, 255), 1, cv2.LINE_AA)
    alpha = np.full((h, w, 1), 0.75, np.float32)
    return patch, alpha


class Overlay:
    """Turn (frame, labels) into an output picture.

    Args:
        lut: colour table from :func:`palette_lut`.
        alpha: weight of the colours in ``overlay`` mode (0 = the frame, 1 = the colours alone).
        mode: ``overlay`` (blend), ``mask`` (colours only) or ``side-by-side`` (frame | overlay).
        legend: class names to draw as a legend in the top-left corner (``None`` = no legend).
    """

    def __init__(self, lut: np.ndarray, *, alpha: float = 0.5, mode: str = "overlay",
                 legend: Sequence[str] | None = None) -> None:  # fmt: skip
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be within 0..1, not {alpha}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        self.lut, self.alpha, self.mode = lut, alpha, mode
        self.legend = list(legend) if legend else None
        self._legend_cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __call__(self, frame: np.ndarray, labels: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        colour = colorize(labels, self.lut)
        if colour.shape[:2] != (h, w):
            colour = cv2.resize(colour, (w, h), interpolation=cv2.INTER_NEAREST)
        if self.mode == "mask":
            out = colour
        else:
            out = np.empty_like(frame)
            cv2.addWeighted(frame, 1.0 - self.alpha, colour, self.alpha, 0.0, dst=out)
            if self.mode == "side-by-side":
                out = np.concatenate([frame, out], axis=1)
        if self.legend:
            self._draw_legend(out, h)
        return out

    def _draw_legend(self, out: np.ndarray, height: int) -> None:
        if height not in self._legend_cache:
            self._legend_cache[height] = render_legend(self.legend, self.lut, height)
        patch, alpha = self._legend_cache[height]
        ph, pw = min(patch.shape[0], out.shape[0]), min(patch.shape[1], out.shape[1])
        region = out[:ph, :pw].astype(np.float32)
        blended = region * (1 - alpha[:ph, :pw]) + patch[:ph, :pw] * alpha[:ph, :pw]
        out[:ph, :pw] = blended.astype(np.uint8)


def class_shares(labels: np.ndarray, num_classes: int) -> list[float]:
    """Fraction of pixels of each class in a label map (rounded to 5 decimals)."""
    counts = np.bincount(labels.ravel(), minlength=256)[:num_classes]
    return [round(float(c), 5) for c in counts / max(labels.size, 1)]


def draw_hud(image: np.ndarray, fps: float, latency_ms: float, dropped: int) -> None:
    """Live figures (frames/s, read-to-display latency, drops) in the top-right corner, in place."""
    text = f"{fps:5.1f} fps  {latency_ms:5.0f} ms  drop {dropped}"
    scale = max(0.4, image.shape[0] / 900)
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    x, y = image.shape[1] - tw - 8, th + 8
    cv2.rectangle(image, (x - 4, 2), (image.shape[1] - 2, y + 6), (0, 0, 0), -1)
    cv2.putText(image, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
