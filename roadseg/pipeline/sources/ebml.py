"""Matroska's EBML elements that FFmpeg does not read (it reads streams), read here from their headers: a file that
another follows, joined byte for byte (``cat a.mkv b.mkv``: :func:`joined_matroska`), whose second file's clusters
FFmpeg reads on into, their clock from 0 again (:class:`~roadseg.pipeline.sources.clock.Clock` makes one timeline
of them).

Example:
    >>> joined_matroska("sample_videos/road.mp4"), joined_matroska("sample_videos")  # an MP4; a folder
    (False, False)
"""

from __future__ import annotations

import os

EBML_HEADER, SEGMENT = b"\x1a\x45\xdf\xa3", b"\x18\x53\x80\x67"  # Matroska's first two elements


def joined_matroska(path: str) -> bool:
    """Whether the Matroska file at ``path`` holds another file after its first: a second EBML header where its
    segment ends (``cat a.mkv b.mkv``). A segment of unknown size (a recording cut off) does not say where it ends;
    a pipe or FIFO is not read here (its bytes are the demuxer's).

    >>> import tempfile
    >>> one = EBML_HEADER + bytes([0x80]) + SEGMENT + bytes([0x82]) + b"xy"
    >>> with tempfile.NamedTemporaryFile() as f:
    ...     _ = f.write(one + one); _ = f.flush()
    ...     joined_matroska(f.name)
    True
    """
    if not os.path.isfile(path):
        return False
    try:
        with open(path, "rb") as f:
            end = _element_end(f, EBML_HEADER)
            if end is None:
                return False
            f.seek(end)
            end = _element_end(f, SEGMENT)
            if end is None:
                return False
            f.seek(end)
            return f.read(4) == EBML_HEADER
    except OSError:
        return False


def _element_end(f, element: bytes) -> int | None:
    """Where the EBML ``element`` that ``f`` is at ends; None where it is another, or of unknown size."""
    if f.read(4) != element or not (head := f.read(1)) or not head[0]:
        return None
    length = 9 - head[0].bit_length()  # (a size's first byte says how many bytes it has: 1 to 8)
    rest = f.read(length - 1)
    size = int.from_bytes(bytes([head[0] & (0xFF >> length)]) + rest, "big")
    if len(rest) < length - 1 or size == (1 << 7 * length) - 1:  # (all ones: unknown)
        return None
    return f.tell() + size
