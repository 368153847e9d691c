"""Decoded frames as the pipeline's pictures: RGB as players show them (:func:`rgb_picture`: colour tags,
HDR tone-mapped, interlaced frames deinterlaced), scaled by area interpolation (:func:`scaled_to`).

Example:
    >>> import av
    >>> frame = av.VideoFrame.from_ndarray(np.zeros((8, 12, 3), np.uint8), format="rgb24").reformat(format="yuv420p")
    >>> rgb_picture(frame).shape, rgb_picture(frame, (4, 6)).shape
    ((8, 12, 3), (4, 6, 3))
"""

from __future__ import annotations

import av
import cv2
import numpy as np
from av.video.reformatter import Colorspace

from roadseg.pipeline.sources.fields import deinterlaced
from roadseg.pipeline.sources.hdr import is_hdr, sdr_picture


def scaled_to(image: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    """``image`` at ``size`` (height, width) by area interpolation; itself where it is that size already
    (or ``size`` is None).

    >>> scaled_to(np.zeros((4, 6, 3), np.uint8), (2, 3)).shape, scaled_to(np.zeros((4, 6, 3), np.uint8), None).shape
    ((2, 3, 3), (4, 6, 3))
    """
    if size is None or image.shape[:2] == tuple(size):
        return image
    return cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA)


def rgb_picture(vf: av.VideoFrame, size: tuple[int, int] | None = None, bottom_first: bool = False) -> np.ndarray:
    """The RGB uint8 [H,W,3] picture of a decoded frame, converted as players show it: by its colour
    tags, or, untagged, by BT.709 if it is HD (wider than 1024 or taller than 576) and BT.601 if not
    (swscale's default is BT.601 whatever the size). HDR (PQ or HLG) is tone-mapped to SDR BT.709
    (:mod:`roadseg.pipeline.sources.hdr`). An interlaced frame (a camcorder's 1080i: two fields a
    field's time apart, woven) is deinterlaced, as a player does with a stream flagged so, to its first
    field, the bottom if ``bottom_first`` (the stream's order), unless its fields show one instant (PsF)
    (:func:`roadseg.pipeline.sources.fields.deinterlaced`).
    ``size``: (height, width) to scale it to (area interpolation), in the same conversion."""
    if is_hdr(vf) or vf.interlaced_frame:
        image = sdr_picture(vf) if is_hdr(vf) else _converted(vf)
        return scaled_to(deinterlaced(image, bottom_first) if vf.interlaced_frame else image, size)
    return _converted(vf, {} if size is None else {"height": size[0], "width": size[1], "interpolation": "AREA"})


def _converted(vf: av.VideoFrame, scale: dict | None = None) -> np.ndarray:
    if vf.colorspace == 2 and (vf.width > 1024 or vf.height > 576):  # 2: unspecified
        return vf.to_ndarray(format="rgb24", src_colorspace=Colorspace.ITU709, **(scale or {}))
    return vf.to_ndarray(format="rgb24", **(scale or {}))
