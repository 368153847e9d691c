"""A picture as players show it by its display matrix: turned by quarter turns (a phone held upright), and
mirrored where the matrix flips it (a front camera's video, a flip an editor made without re-encoding), as
FFmpeg's autorotate does. Read by its angle alone, a mirror was taken for a half turn: upside down.

Example:
    >>> image = np.arange(6).reshape(2, 3, 1)
    >>> mirror = (-65536, 0, 0, 0, 65536, 0, 0, 0, 1 << 30)  # (-1 0; 0 1): left and right swapped
    >>> shown, mirrored = as_shown(image, rotation=-180.0, matrix=mirror)
    >>> shown[..., 0].tolist(), mirrored
    ([[2, 1, 0], [5, 4, 3]], True)
    >>> as_shown(image, rotation=90.0, matrix=(0, -65536, 0, 65536, 0, 0, 0, 0, 1 << 30))[0][..., 0].tolist()
    [[2, 5], [1, 4], [0, 3]]
    >>> told(180, True)
    'the display matrix mirrors the picture: segmenting and writing it as players show it'
"""

from __future__ import annotations

import struct

import av
import numpy as np


def matrix_of(vf: av.VideoFrame) -> tuple[int, ...] | None:
    """The display matrix of a decoded frame (nine 16.16 and 2.30 fixed-point numbers), None without one."""
    data = vf.side_data.get("DISPLAYMATRIX")
    return struct.unpack("<9i", bytes(data)) if data is not None and len(bytes(data)) == 36 else None


def rotation_of(vf: av.VideoFrame | None) -> int:
    """The degrees (counterclockwise, 0-359) a player turns a decoded frame by (its display matrix's angle); 0 for
    one without, and for no frame (None)."""
    return int(round(getattr(vf, "rotation", 0) or 0)) % 360


def as_shown(image: np.ndarray, rotation: float, matrix: tuple[int, ...] | None) -> tuple[np.ndarray, bool]:
    """``image`` (the stored picture, [H,W,C]) as a player shows it by its display ``matrix``, whose angle
    is ``rotation`` (degrees counterclockwise, as ``av.VideoFrame.rotation``), and whether it is mirrored;
    ``image`` itself where the matrix leaves it as it is (or is at an angle other than quarter turns)."""
    if matrix is None:
        return image, False
    turn = round(-rotation) % 360  # (degrees clockwise)
    if turn == 90:
        return (image.transpose(1, 0, 2), True) if matrix[3] > 0 else (np.rot90(image, -1), False)
    if turn == 270:
        return (np.rot90(image, -1)[::-1], True) if matrix[3] < 0 else (np.rot90(image, 1), False)
    if turn in (0, 180):
        across, down = turn == 180 and matrix[0] < 0, matrix[4] < 0
        shown = image[::-1 if down else 1, ::-1 if across else 1]
        return (shown if across or down else image), across != down
    return image, False


def told(rotation: int, mirrored: bool) -> str | None:
    """The line that says a picture is turned (``rotation``: degrees counterclockwise, 0..359) or mirrored."""
    if mirrored:
        return (f"the display matrix {'turns and mirrors' if rotation in (90, 270) else 'mirrors'} the picture: "
                "segmenting and writing it as players show it")  # fmt: skip
    return f"rotation metadata {rotation}°: segmenting and writing the upright picture" if rotation else None

