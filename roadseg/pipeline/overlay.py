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

import logging
from collections.abc import Sequence

import cv2
import numpy as np

from roadseg.errors import ArgumentError
from roadseg.pipeline.bounds import real_within
from roadseg.pipeline.legend_text import legend_names, legend_note

log = logging.getLogger("roadseg")

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


#: The smallest legible legend: its names at this OpenCV font scale (9 pixels tall), a row of 17 pixels; a legend
#: that cannot fit a picture at that size (in half its width) is left out (said once), not cut off or too small to read.
MIN_FONT_SCALE = 0.35
_FONT_SCALE_1080 = 0.55  # (at a picture whose shorter side is 1080: a row of 26 pixels)


def render_legend(classes: Sequence[str], lut: np.ndarray, height: int, width: int, sample_aspect: float = 1.0
                  ) -> tuple[np.ndarray, np.ndarray] | None:  # fmt: skip
    """A legend patch (RGB) and its opacity mask (float [h,w,1]) for a ``width`` x ``height`` picture: its rows
    scaled to the picture's shorter side, in as many columns as the picture's height needs, made smaller (down to
    :data:`MIN_FONT_SCALE`) where they would cover more than half the picture's width; ``None`` where even that
    cannot fit (the picture's own content is what the legend is for). The names are drawn as
    :func:`~roadseg.pipeline.legend_text.legend_names` spells them (the font is ASCII only).

    A picture whose pixels are ``sample_aspect`` as wide as high (anamorphic video: 4:3 of HDV's 1440x1080, 64:45 of
    16:9 PAL DV) gets the legend of the picture as it is shown, ``width * sample_aspect`` wide, squeezed into its
    pixels (:func:`_in_stored_pixels`): it plays undistorted (was drawn in square pixels, played 33 % too wide on
    HDV, 42 % on 64:45 DV).

    >>> lut = palette_lut([(255, 0, 0), (0, 255, 0)])
    >>> render_legend(["road", "other"], lut, 1080, 1920)[0].shape, render_legend(["road", "other"], lut, 1920, 1080)[0].shape
    ((64, 79, 3), (64, 79, 3))
    >>> render_legend(["road", "other"], lut, 72, 128)[0].shape  # the smallest legible size
    (42, 50, 3)
    >>> render_legend([f"class {i}" for i in range(11)], lut, 90, 160) is None  # 11 names: 3 columns, too wide
    True
    >>> render_legend(["road", "other"], lut, 1080, 1440, sample_aspect=4 / 3)[0].shape  # HDV: 1920x1080 as shown
    (64, 59, 3)
    """
    if sample_aspect != 1:
        shown = render_legend(classes, lut, height, round(width * sample_aspect))
        return None if shown is None else _in_stored_pixels(*shown, sample_aspect)
    classes = legend_names(classes)
    scale = max(MIN_FONT_SCALE, _FONT_SCALE_1080 * min(height, width) / 1080)
    while True:
        layout = _legend_layout(classes, height, scale)
        if 2 * layout[3] <= width or scale <= MIN_FONT_SCALE:
            break
        scale = max(MIN_FONT_SCALE, scale * 0.9)
    row, rows, cols, w, h = layout
    if 2 * w > width or h > height:
        return None
    font, pad, col_w = cv2.FONT_HERSHEY_SIMPLEX, row // 4, w // cols
    patch = np.zeros((h, w, 3), np.uint8)
    for i, name in enumerate(classes):
        x, y = (i // rows) * col_w + pad, pad + (i % rows) * row
        cv2.rectangle(patch, (x, y + 2), (x + row - 6, y + row - 4), lut[i].tolist(), -1)
        cv2.putText(patch, name, (x + row, y + int(row * 0.72)), font, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return patch, np.full((h, w, 1), 0.75, np.float32)


def _in_stored_pixels(patch: np.ndarray, alpha: np.ndarray, sample_aspect: float) -> tuple[np.ndarray, np.ndarray]:
    """A legend drawn in square pixels (``patch`` and its opacity ``alpha``) resampled into pixels ``sample_aspect``
    as wide as high: as many fewer across (area-averaged where squeezed, so the names stay smooth)."""
    h, w = patch.shape[:2]
    stored = max(1, round(w / sample_aspect))
    squeezed = cv2.resize(patch, (stored, h), interpolation=cv2.INTER_AREA if stored < w else cv2.INTER_CUBIC)
    return squeezed, np.full((h, stored, 1), float(alpha.flat[0]), np.float32)


def _legend_layout(classes: Sequence[str], height: int, scale: float) -> tuple[int, int, int, int, int]:
    """(row, rows, columns, width, height) of a legend whose names are drawn at font ``scale``: as few columns as
    a picture ``height`` tall holds, the names shared out evenly among them."""
    row = int(round(26 * scale / _FONT_SCALE_1080))
    pad = row // 4
    text_w = max(cv2.getTextSize(c, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] for c in classes)
    cols = -(-len(classes) // max(1, (height - 2 * pad) // row))
    rows = -(-len(classes) // cols)
    return row, rows, cols, cols * (pad + row + text_w + pad), rows * row + 2 * pad


class Overlay:
    """Turn (frame, labels) into an output picture.

    Args:
        lut: colour table from :func:`palette_lut`.
        alpha: weight of the colours in ``overlay`` mode (0 = the frame, 1 = the colours alone).
        mode: ``overlay`` (blend), ``mask`` (colours only) or ``side-by-side`` (frame | overlay).
        legend: class names to draw as a legend in the top-left corner (``None`` = no legend), whole and legible:
            left out, said once in a warning, where it cannot fit the picture so (:func:`render_legend`); names its
            ASCII-only font cannot draw as they are are drawn otherwise, said in one warning here (at the run's start).
        sample_aspect: the pictures' pixels' width:height as they play (``None``: square): the legend is drawn to
            look right as the picture is shown, the colours stay in the picture's own pixels (a run's: the written
            file's, square where it cannot tag an anamorphic source's:
            :func:`~roadseg.pipeline.sinks.aspect.legend_aspect`).
    """

    def __init__(self, lut: np.ndarray, *, alpha: float = 0.5, mode: str = "overlay",
                 legend: Sequence[str] | None = None, sample_aspect: float | None = None) -> None:  # fmt: skip
        if not 0.0 <= alpha <= 1.0:
            raise ArgumentError(f"alpha must be a number from 0 to 1, not {alpha!r}")
        if mode not in MODES:
            raise ArgumentError(f"mode must be one of {MODES}, not {mode!r}")
        if sample_aspect is not None and not real_within(sample_aspect, 0):
            # (was: NaN a ValueError, infinity an OverflowError at the first frame; below 0 no legend, unsaid)
            raise ArgumentError(f"sample_aspect must be a number over 0 (None or 0: square), not {sample_aspect!r}")
        self.lut, self.alpha, self.mode = lut, alpha, mode
        self.sample_aspect = float(sample_aspect or 1)
        self.legend = list(legend) if legend else None
        self._legend_cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray] | None] = {}
        self._legend_said = False
        if self.legend and (note := legend_note(self.legend)):
            log.warning("%s", note)

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
            self._draw_legend(out, h, w)
        return out

    def _draw_legend(self, out: np.ndarray, height: int, width: int) -> None:
        """The legend onto the top-left corner of the picture (the frame's, the left one side by side), whole; left
        out where it cannot fit legibly, said once."""
        if (height, width) not in self._legend_cache:
            legend = self._legend_cache[(height, width)] = render_legend(self.legend, self.lut, height, width,
                                                                         self.sample_aspect)  # fmt: skip
            if legend is None and not self._legend_said:
                self._legend_said = True
                log.warning("legend left out: the %d class names do not fit legibly in a %dx%d picture", len(self.legend),
                            width, height)  # fmt: skip
        if (legend := self._legend_cache[(height, width)]) is None:
            return
        patch, alpha = legend
        ph, pw = patch.shape[:2]
        region = out[:ph, :pw].astype(np.float32)
        out[:ph, :pw] = (region * (1 - alpha) + patch * alpha).astype(np.uint8)


def class_shares(labels: np.ndarray, num_classes: int) -> list[float]:
    """Fraction of pixels of each class in a label map (rounded to 5 decimals)."""
    counts = np.bincount(labels.ravel(), minlength=256)[:num_classes]
    return [round(float(c), 5) for c in counts / max(labels.size, 1)]


def draw_hud(image: np.ndarray, fps: float | None, latency_ms: float, dropped: int) -> None:
    """Live figures (frames/s over the last second, none in the run's first; this frame's read-to-display latency;
    drops) in the top-right corner, in place."""
    rate = "" if fps is None else f"{fps:5.1f} fps  "
    _hud_box(image, f"{rate}latency {latency_ms:4.0f} ms  drop {dropped}")


def draw_stale(image: np.ndarray, seconds: float) -> None:
    """Over :func:`draw_hud`'s figures, in place: no new picture for ``seconds`` (a picture sent again while the source
    is silent: its figures were of a second that is past)."""
    _hud_box(image, f"no new picture for {seconds:.0f} s", cover="999.9 fps  latency 9999 ms  drop 9999999")


def _hud_box(image: np.ndarray, text: str, cover: str = "") -> None:
    """``text`` in white on black in the top-right corner, the box as wide as ``cover`` would be, at least."""
    scale = max(0.4, image.shape[0] / 900)
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    width = max(tw, cv2.getTextSize(cover, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] if cover else 0)
    x, y = image.shape[1] - tw - 8, th + 8
    cv2.rectangle(image, (max(0, image.shape[1] - width - 12), 2), (image.shape[1] - 2, y + 6), (0, 0, 0), -1)
    cv2.putText(image, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
