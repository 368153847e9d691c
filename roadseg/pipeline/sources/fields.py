"""Interlaced pictures: which of a woven frame's two fields comes first, and the picture of that field.

FFmpeg's H.264 (MBAFF), MPEG-2, DV and ProRes decoders hand out each interlaced picture as one frame, its
two fields (the even lines, "top", and the odd, "bottom") woven and flagged ``interlaced_frame``: a field's
time apart (20 ms at 25 frames/s), so everything that moves is combed. The frame's time is its first
field's; the field shown is that one (:func:`one_field`).
"""

from __future__ import annotations

import numpy as np

#: AVFieldOrder values whose bottom field is shown first: AV_FIELD_BB (bottom coded and shown first) and
#: AV_FIELD_TB (top coded first, bottom shown first)
BOTTOM_SHOWN_FIRST = (3, 4)
#: the tallest DV of standard definition (PAL's 576 lines; NTSC's 480), bottom field first by its standard
DV_SD_HEIGHT = 576


def bottom_first(stream) -> bool:
    """Whether a video stream's interlaced pictures show their bottom field first, as FFmpeg tells the
    stream's field order (``codec_context.field_order``: the container's, else its parser's from the
    pictures: MPEG-2's ``top_field_first``, H.264's field order counts). PyAV tells no frame's own order
    (FFmpeg's ``AV_FRAME_FLAG_TOP_FIELD_FIRST``), so the stream's stands for its frames'. DV of standard
    definition, whose order FFmpeg leaves unknown (its decoder flags each frame bottom first), is bottom
    first; an unknown order otherwise is taken as top first, as most 1080i is (AVCHD, HDV, broadcast HD).

    >>> from types import SimpleNamespace as S
    >>> [bottom_first(S(codec_context=S(field_order=o, name="h264", height=1080))) for o in range(6)]
    [False, False, False, True, True, False]
    >>> bottom_first(S(codec_context=S(field_order=0, name="dvvideo", height=576)))
    True
    >>> bottom_first(S(codec_context=None))
    False
    """
    cc = stream.codec_context
    if cc is None:
        return False
    order = cc.field_order
    return order in BOTTOM_SHOWN_FIRST or (order == 0 and cc.name == "dvvideo" and cc.height <= DV_SD_HEIGHT)


def one_field(image: np.ndarray, bottom: bool = False) -> np.ndarray:
    """The picture of one field of an interlaced frame, the top (even lines) or the ``bottom`` (odd lines):
    its lines kept, the lines between made from the ones above and below (the first and last from the one
    beside them). The other field, a field's time away, is left out: woven in, everything that moves is
    combed, lines alternating between where it was and where it went.

    >>> image = np.array([0, 10, 100, 30], np.uint8).reshape(4, 1, 1)
    >>> one_field(image).ravel().tolist(), one_field(image, bottom=True).ravel().tolist()
    ([0, 50, 100, 100], [10, 10, 20, 30])
    """
    if bottom and image.shape[0] > 1:
        out = np.empty_like(image)
        out[1:], out[0] = one_field(image[1:]), image[1]
        return out
    out, n = image.copy(), (image.shape[0] - 1) // 2  # (n: the bottom field's lines with a line below them)
    out[1 : 2 * n : 2] = (image[0 : 2 * n - 1 : 2].astype(np.uint16) + image[2 : 2 * n + 1 : 2] + 1) // 2
    if image.shape[0] % 2 == 0 and image.shape[0] > 1:
        out[-1] = image[-2]
    return out
