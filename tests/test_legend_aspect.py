"""The legend of anamorphic video (pixels not square: HDV's 1440x1080 at 4:3, PAL DV's 720x576 at 64:45 or 16:15,
NTSC DV's 720x480 at 10:11) is drawn to look right as the picture plays: was drawn in the stored pixels, and so
played 33 % too wide on HDV and 42 % on 64:45 DV, its names and swatches stretched. The colours stay in the
picture's own pixels."""

from fractions import Fraction

import numpy as np
import pytest
from conftest import read_video, write_video

from roadseg.classes import CLASSES
from roadseg.pipeline import segment_video
from roadseg.pipeline.overlay import Overlay, palette_lut
from roadseg.pipeline.sources import VideoSource

LUT = palette_lut([(255, 0, 0), (0, 255, 0), (0, 0, 255)])


def _extent(out: np.ndarray, above: int = 0) -> tuple[int, int]:
    """(width, height) of what is drawn on a black picture: brighter than ``above``."""
    drawn = out.max(axis=2) > above
    rows, cols = np.flatnonzero(drawn.any(axis=1)), np.flatnonzero(drawn.any(axis=0))
    return int(cols[-1]) + 1, int(rows[-1]) + 1


def _legend(width: int, height: int, sar: float | None, mode: str = "overlay") -> tuple[int, int, np.ndarray]:
    overlay = Overlay(LUT, alpha=0.0, mode=mode, legend=["road", "pedestrian", "sky"], sample_aspect=sar)
    labels = np.ones((height // 8, width // 8), np.uint8)
    out = overlay(np.zeros((height, width, 3), np.uint8), labels)  # (alpha 0 on black: only the legend is drawn)
    return (*_extent(out), out)


@pytest.mark.parametrize(("stored", "sar", "shown"), [
    ((1440, 1080), Fraction(4, 3), (1920, 1080)),  # HDV
    ((720, 576), Fraction(64, 45), (1024, 576)),  # PAL DV, 16:9
    ((720, 576), Fraction(16, 15), (768, 576)),  # PAL DV, 4:3
    ((720, 480), Fraction(10, 11), (655, 480)),  # NTSC DV, 4:3: pixels narrower than high
    ((1080, 1440), Fraction(3, 4), (810, 1440)),  # HDV turned upright (a phone's: its pixels turned too)
])  # fmt: skip
@pytest.mark.parametrize("mode", ["overlay", "side-by-side"])
def test_the_legend_of_an_anamorphic_picture_is_as_wide_as_shown_as_a_square_pixeled_ones(stored, sar, shown, mode):
    w, h, out = _legend(*stored, sar, mode)
    square_w, square_h, _ = _legend(*shown, None, mode)
    assert h == square_h and abs(w * sar / square_w - 1) < 0.03, (w, h, square_w, square_h)
    assert abs(w / square_w - 1 / sar) < 0.03  # (was 1: 1.33 times as wide as shown on HDV, 1.42 on 64:45 DV)
    assert out.shape[:2] == (stored[1], stored[0] * (2 if mode == "side-by-side" else 1))  # (the picture's pixels)


def test_square_pixels_draw_the_legend_as_they_did():
    assert np.array_equal(_legend(1920, 1080, None)[2], _legend(1920, 1080, 1.0)[2])


def test_a_legend_that_fits_only_as_shown_is_judged_so():
    """The legend fits within half the picture's width as it is shown: 11 names at 320x180 shown (the smallest that
    holds them) fit an anamorphic 240x180 at 4:3, and not a square-pixeled 240x180."""
    lut = palette_lut([(255, 255, 255)] * len(CLASSES))
    frame, labels = np.zeros((180, 240, 3), np.uint8), np.zeros((18, 24), np.uint8)
    assert Overlay(lut, alpha=0.0, legend=CLASSES, sample_aspect=4 / 3)(frame, labels).any()
    assert not Overlay(lut, alpha=0.0, legend=CLASSES)(frame, labels).any()


def test_an_hdv_clips_legend_plays_as_wide_as_a_square_pixeled_ones(rule_onnx, tmp_path):
    """End to end: a 480x360 clip of 4:3 pixels (16:9 shown, as HDV) and a 640x360 one of square pixels."""
    widths = {}
    for (w, h), sar in (((480, 360), Fraction(4, 3)), ((640, 360), None)):
        src = write_video(tmp_path / f"in{w}.mp4", [np.zeros((h, w, 3), np.uint8)] * 3, sample_aspect=sar)
        segment_video(src, tmp_path / f"o{w}.mp4", model=rule_onnx, legend=True, alpha=0.0, quiet=True, crf=0)
        with VideoSource(str(tmp_path / f"o{w}.mp4")) as out:
            assert out.info.sample_aspect == sar and (out.info.width, out.info.height) == (w, h)
        widths[w] = _extent(read_video(tmp_path / f"o{w}.mp4")["frames"][1].astype(int), above=40)
    (w, h), (square_w, square_h) = widths[480], widths[640]
    assert h == square_h and abs(w * 4 / 3 / square_w - 1) < 0.04, widths  # (was 75 pixels wide both: 100 shown)


@pytest.mark.parametrize("sar", [float("nan"), float("inf"), -4 / 3, "4:3", True])
def test_a_shape_no_pixel_has_is_refused_in_one_line(sar) -> None:
    """A library caller's sample_aspect that no pixel has: was a ValueError (NaN) or an OverflowError (infinity) at
    the first frame drawn, a legend left out unsaid below 0."""
    from roadseg.errors import ArgumentError

    with pytest.raises(ArgumentError, match=r"^sample_aspect must be a number over 0 \(None or 0: square\), not "):
        Overlay(LUT, legend=list(CLASSES[:3]), sample_aspect=sar)
    for square in (None, 0, 1, Fraction(0)):
        assert Overlay(LUT, legend=list(CLASSES[:3]), sample_aspect=square).sample_aspect == 1.0


@pytest.mark.parametrize(("name", "codec"), [("o.webm", None), ("o.mkv", "ffv1")])
def test_an_output_that_cannot_tag_the_pixels_shape_gets_the_legend_of_square_pixels(rule_onnx, tmp_path, name, codec):
    """VP9 in WebM, FFV1 in Matroska cannot tag an anamorphic clip's 4:3 pixels: the file plays with square pixels
    (said in a warning), and so does its legend, as wide as a square-pixeled clip's of the same stored size (was: drawn
    for the 4:3 display shape and squeezed into the stored pixels, so played squeezed twice: 3/4 as wide)."""
    widths = {}
    for sar in (Fraction(4, 3), None):
        src = write_video(tmp_path / f"in{bool(sar)}.mp4", [np.zeros((360, 480, 3), np.uint8)] * 3, sample_aspect=sar)
        out = tmp_path / f"{bool(sar)}{name}"
        segment_video(src, out, model=rule_onnx, legend=True, alpha=0.0, quiet=True, crf=0, codec=codec)
        with VideoSource(str(out)) as written:
            assert written.info.sample_aspect is None  # (square pixels: the output cannot tag them)
        widths[sar] = _extent(read_video(out)["frames"][1].astype(int), above=40)
    (w, h), (square_w, square_h) = widths[Fraction(4, 3)], widths[None]
    assert h == square_h and abs(w - square_w) <= 2, widths  # (was 3/4 as wide)
