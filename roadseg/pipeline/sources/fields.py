"""Interlaced pictures: which of a woven frame's two fields comes first, and the picture of that field.

FFmpeg's H.264 (MBAFF), MPEG-2, DV and ProRes decoders hand out each interlaced picture as one frame, its
two fields (the even lines, "top", and the odd, "bottom") woven and flagged ``interlaced_frame``: a field's
time apart (20 ms at 25 frames/s), so everything that moves is combed. The frame's time is its first
field's; the field shown is that one (:func:`one_field`), unless the two fields show one instant
(:func:`fields_apart`: progressive pictures flagged interlaced, PsF, or nothing moving), whose every line is kept.
"""

from __future__ import annotations

import numpy as np

#: AVFieldOrder values whose bottom field is shown first: AV_FIELD_BB (bottom coded and shown first) and
#: AV_FIELD_TB (top coded first, bottom shown first)
BOTTOM_SHOWN_FIRST = (3, 4)
#: the tallest DV of standard definition (PAL's 576 lines; NTSC's 480), bottom field first by its standard
DV_SD_HEIGHT = 576
#: :func:`fields_apart`'s check: a line is a comb's tooth where it is unlike both lines around it, the same way,
#: by ``TOOTH`` levels or more (of 255, in green, the channel nearest luma); the fields differ where, in some block
#: of ``BLOCK`` (lines, columns looked at), teeth among the other field's lines outnumber those among the line's own
#: field's (fine horizontal detail, a brick wall's mortar, is both) by ``COMBED`` of the block; ``COLUMNS``: about
#: how many columns of a frame are looked at (every 8th of 1920: 0.5-0.7 ms a 1080p frame on one core, where
#: :func:`one_field` takes 5)
TOOTH, BLOCK, COMBED, COLUMNS = 24, (64, 32), 0.02, 240


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


def fields_apart(image: np.ndarray) -> bool:
    """Whether an interlaced frame's two fields show two instants, something moving between them (combed
    where woven), or one instant (progressive pictures flagged interlaced, PsF, a camcorder's or broadcast's
    "progressive segmented frame", or interlaced ones where nothing moved), by the teeth of a comb in its
    green (:data:`TOOTH`, :data:`BLOCK`, :data:`COMBED`). Measured on real driving footage (a highway at 720p,
    scaled to 1080 and 576 lines, and 234 CamVid city pictures) woven with its fields moved apart: told apart
    from a field's pan of 1 pixel at 1080 and 576 lines (2 at 720: 36 of 38 at 1), a tilt of 2 or 3 lines (one
    line is a field's own lines doubled: no comb), or a 120-pixel car's move of 4; a 60-pixel one's, 2 times of 4;
    the progressive highway, noisy too (sd 8), never; 10 CamVid pictures of fine horizontal lines (a brick wall's
    mortar, line by line, as a comb's teeth are) were, and such a picture is shown by one field, as before.

    >>> bar = np.zeros((64, 96, 3), np.uint8)
    >>> bar[:, 20:40] = 255
    >>> moved = bar.copy()
    >>> moved[1::2] = np.roll(bar, 3, axis=1)[1::2]
    >>> fields_apart(bar), fields_apart(moved)
    (False, True)
    """
    green = image[:, :: max(1, image.shape[1] // COLUMNS), 1].astype(np.int16)
    if green.shape[0] < 5:
        return True
    line = green[2:-2]
    teeth = _teeth(line, green[1:-3], green[3:-1]).astype(np.int16) - _teeth(line, green[:-4], green[4:])
    rows, columns = np.arange(0, teeth.shape[0], BLOCK[0]), np.arange(0, teeth.shape[1], BLOCK[1])
    blocks = np.add.reduceat(np.add.reduceat(teeth, rows, axis=0), columns, axis=1)
    return bool(blocks.max() > COMBED * BLOCK[0] * BLOCK[1])


def _teeth(line: np.ndarray, above: np.ndarray, below: np.ndarray) -> np.ndarray:
    """Where ``line`` is unlike both ``above`` and ``below``, the same way, by :data:`TOOTH` or more."""
    up, down = line - above, line - below
    return (np.minimum(up, down) >= TOOTH) | (np.maximum(up, down) <= -TOOTH)


def deinterlaced(image: np.ndarray, bottom: bool = False) -> np.ndarray:
    """An interlaced frame's picture as shown: itself where its two fields show one instant (every line kept:
    :func:`fields_apart`), else its first field's, the top or the ``bottom`` (:func:`one_field`).

    >>> still = np.full((8, 4, 3), 7, np.uint8)
    >>> deinterlaced(still) is still, deinterlaced(still[:4]) is still[:4]  # (too few lines to tell: one field)
    (True, False)
    """
    return one_field(image, bottom) if fields_apart(image) else image
