"""HDR pictures (PQ or HLG, as phones and some cameras record them) made into the SDR BT.709 picture
the model was trained on and the output is tagged as.

Read as plain 8-bit RGB, such a picture is washed out and dim (PQ puts SDR's white at about 58 % of
the code range) and its colours are those of BT.2020, not BT.709. :func:`sdr_picture` does what a
player's tone mapping does: the transfer curve back to light, SDR's white at 203 cd/m² (ITU-R
BT.2408), highlights above 75 % of it rolled off smoothly into white at 1000 cd/m², BT.2020
primaries to BT.709, and BT.1886's 2.4 gamma. Light below the roll-off comes back as it was shot.
A picture in BT.2020's primaries with SDR's transfer (BT.709's curve, as BT.2020-10 and -12 are: a
camera's 10-bit mode that is not HDR) is made so too, without the roll-off (:func:`is_wide`): read as
BT.709's, its colours were washed out, orange (200, 120, 40) as (173, 125, 61).

Example:
    >>> import av, numpy as np
    >>> vf = av.VideoFrame.from_ndarray(np.full((4, 4, 3), 33395, np.uint16), format="rgb48le")
    >>> vf.color_trc = PQ      # 33395 / 65535 is 101.5 cd/m² in PQ: half of SDR's white
    >>> int(sdr_picture(vf)[0, 0, 0])   # 255 * 0.5 ** (1 / 2.4)
    191
"""

from __future__ import annotations

import logging
from functools import lru_cache

import av
import cv2
import numpy as np

log = logging.getLogger("roadseg")
PQ, HLG = 16, 18  # FFmpeg's transfer characteristics: SMPTE ST 2084 and ARIB STD-B67
CURVES = {PQ: "PQ", HLG: "HLG"}
BT2020 = 9  # FFmpeg's colour primaries and matrix, and swscale's (Colorspace.BT2020)
SDR_WHITE = 203.0  # cd/m²: where HDR puts SDR's reference white (BT.2408)
KNEE = 0.75  # of SDR white: light above it is rolled off, light below it kept
PEAK = 1000.0  # cd/m² that come out as the SDR display's full white: HLG's nominal display, what phones master PQ for
GAMMA = 2.4  # BT.1886: the display the SDR output is meant for
BT2020_TO_BT709 = np.array([[1.660491, -0.587641, -0.072850],
                            [-0.124550, 1.132900, -0.008349],
                            [-0.018151, -0.100579, 1.118730]], np.float32)  # fmt: skip  # linear light


def is_hdr(vf: av.VideoFrame) -> bool:
    """Whether a decoded frame is tagged with an HDR transfer curve (PQ or HLG), or is SDR in BT.2020's
    primaries (:func:`is_wide`): either is made the SDR BT.709 picture by :func:`sdr_picture`."""
    return vf.color_trc in CURVES or is_wide(vf.color_primaries, vf.color_trc)


def is_wide(primaries: int, trc: int) -> bool:
    """Whether colour tags say SDR in BT.2020's primaries: any transfer but an HDR one (BT.2020-10 or -12,
    BT.709's, or none named: SDR's curve).

    >>> is_wide(BT2020, 14), is_wide(BT2020, PQ), is_wide(1, 1)
    (True, False, False)
    """
    return primaries == BT2020 and trc not in CURVES


def say_if_hdr(stream, name: str) -> None:
    """One line, where a video ``stream`` is tagged HDR, that ``name`` is segmented and written as SDR; or, where
    it is SDR in BT.2020's primaries, in BT.709's."""
    cc = stream.codec_context
    if curve := CURVES.get(cc.color_trc):
        log.warning("%s is HDR (%s): segmenting and writing it tone-mapped to SDR BT.709", name, curve)
    elif is_wide(cc.color_primaries, cc.color_trc):
        log.warning("%s is in BT.2020's colours: segmenting and writing it in BT.709's", name)


def sdr_picture(vf: av.VideoFrame) -> np.ndarray:
    """The SDR BT.709 RGB uint8 [H,W,3] picture of an HDR frame, or of an SDR one in BT.2020's primaries (see the
    module's note)."""
    src = BT2020 if vf.colorspace == 2 else None  # untagged matrix: HDR's own, BT.2020 (swscale's 9 too)
    rgb = vf.to_ndarray(format="rgb48le", src_colorspace=src)  # (None: the frame's own tag)
    curve = vf.color_trc if vf.color_trc in CURVES else 0  # (0: SDR's curve, BT.2020's primaries: is_wide)
    light = _light_lut(curve)[rgb]  # [H,W,3] uint16 linear light, rolled off: 65535 = the display's white
    if vf.color_primaries in (BT2020, 2):  # 2: unspecified; HDR comes in BT.2020
        light = cv2.transform(light, BT2020_TO_BT709)  # (uint16 saturates: out-of-gamut clipped to 0 and white)
    return _gamma_lut()[light]


def roll_off(x: np.ndarray) -> np.ndarray:
    """Light relative to SDR white, kept below :data:`KNEE` and eased from there into 1 at :data:`PEAK`
    (a rational curve, C1 at the knee); light above the peak is white."""
    top, room = PEAK / SDR_WHITE - KNEE, 1.0 - KNEE
    s = top * room / (top - room)  # so that KNEE + d / (1 + d / s) reaches 1 at the peak
    d = np.maximum(x - KNEE, 0.0)
    return np.minimum(np.where(x <= KNEE, x, KNEE + d / (1.0 + d / s)), 1.0)


def pq_to_nits(e: np.ndarray) -> np.ndarray:
    """SMPTE ST 2084's EOTF: a PQ signal in [0, 1] to cd/m²."""
    m1, m2, c1, c2, c3 = 2610 / 16384, 2523 / 4096 * 128, 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
    p = np.power(e, 1.0 / m2)
    return 10000.0 * np.power(np.maximum(p - c1, 0.0) / (c2 - c3 * p), 1.0 / m1)


def hlg_to_nits(e: np.ndarray, peak: float = PEAK) -> np.ndarray:
    """ARIB STD-B67's inverse OETF and the OOTF of a ``peak`` cd/m² display (system gamma 1.2, per channel)."""
    a, b, c = 0.17883277, 0.28466892, 0.55991073
    scene = np.where(e <= 0.5, e * e / 3.0, (np.exp((e - c) / a) + b) / 12.0)
    return peak * np.power(scene, 1.2)


@lru_cache(maxsize=3)
def _light_lut(trc: int) -> np.ndarray:
    """Every 16-bit code of ``trc`` to rolled-off linear light (an SDR curve's: not rolled off), 65535 = white
    (uint16: a 16-bit pipeline is 25 % faster than float32 and within 3 levels of it, in the darkest shadows)."""
    e = np.arange(65536, dtype=np.float64) / 65535.0
    if trc not in CURVES:  # SDR (BT.2020's primaries): BT.1886's display light, white at white, nothing rolled off
        return np.round(np.power(e, GAMMA) * 65535.0).astype(np.uint16)
    nits = pq_to_nits(e) if trc == PQ else hlg_to_nits(e)
    return np.round(roll_off(nits / SDR_WHITE) * 65535.0).astype(np.uint16)


@lru_cache(maxsize=1)
def _gamma_lut() -> np.ndarray:
    """16-bit linear light (65535 = white; fine enough near black, where the curve is steep) to BT.1886
    8-bit codes."""
    return np.round(255.0 * np.power(np.arange(65536) / 65535.0, 1.0 / GAMMA)).astype(np.uint8)
