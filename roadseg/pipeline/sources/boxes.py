"""MP4/MOV boxes that FFmpeg does not read (it reads streams), read here from their headers: a recording cut
off before its index was written (:func:`unfinished_mp4`), and a dashcam's boxes of its own (:class:`SensorBox`:
GPS, accelerometer) that an MP4/MOV output can copy, or that a warning says are left out.

Example:
    >>> unfinished_mp4("sample_videos/road.mp4"), sensor_boxes("sample_videos/road.mp4")
    (False, [])
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("roadseg")


#: Top-level boxes of an MP4/MOV file (ISO base media; QuickTime's wide, free, skip).
_MP4_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid", b"meta", b"pdin", b"styp", b"sidx",
              b"moof", b"mfra", b"pnot", b"PICT", b"udta"}  # fmt: skip


def _is_fourcc(kind: bytes) -> bool:
    return len(kind) == 4 and all(32 <= b < 127 for b in kind)


def _boxes(f, start: int, end: int, first_known: bool = True) -> Iterator[tuple[bytes, int, int]]:
    """(kind, position, size) of the MP4/MOV boxes of ``f`` from ``start`` to ``end``, header by header
    (at most 1000); ``first_known``: the first must be one of :data:`_MP4_BOXES` (a top level)."""
    pos, n = start, 0
    while pos + 8 <= end and n < 1000:
        f.seek(pos)
        head = f.read(16)
        size, kind = int.from_bytes(head[:4], "big"), head[4:8]
        if not _is_fourcc(kind) or (first_known and n == 0 and kind not in _MP4_BOXES):
            return  # (after a known first box, a camera's own boxes: Novatek's 'gps ', 'XMP_' ...)
        if size == 1 and len(head) == 16:
            size = int.from_bytes(head[8:16], "big")
        elif size == 0:
            size = end - pos  # (to the end of the file)
        if size < 8:
            return
        yield kind, pos, size
        pos, n = pos + size, n + 1


def unfinished_mp4(path: str | Path) -> bool:
    """Whether ``path`` is an MP4/MOV file whose media data is there but whose index (the ``moov``
    box, which cameras write when a recording ends) is not: the file a dashcam leaves when its power
    is cut mid-recording. Reads only the top-level box headers, and the file's last :data:`INDEX_SEARCH` bytes for an
    index that they do not lead to (:func:`_index_there`: then the file is damaged, not unfinished)."""
    try:
        with open(path, "rb") as f:
            boxes = [kind for kind, _, _ in _boxes(f, 0, f.seek(0, 2))]
            if not (b"mdat" in boxes and b"moov" not in boxes and b"moof" not in boxes):
                return False
            return not _index_there(f)
    except OSError:
        return False


#: How far from a file's end an index (``moov``) that its boxes' sizes do not lead to is looked for: an hour's.
INDEX_SEARCH = 32 << 20


def _index_there(f) -> bool:
    """Whether the last :data:`INDEX_SEARCH` bytes of ``f`` hold an index, a ``moov`` box that begins with its
    header (``mvhd``), where the sizes of the boxes before it do not lead: bytes lost or added in the media data
    (a damaged copy), not a recording cut off."""
    end = f.seek(0, 2)
    f.seek(max(0, end - INDEX_SEARCH))
    tail = f.read()
    at = tail.find(b"moov")
    while at != -1:
        if tail[at + 8 : at + 12] == b"mvhd" and at >= 4:
            return True
        at = tail.find(b"moov", at + 1)
    return False


#: Boxes in which dashcams keep what no video stream holds: BlackVue's GPS (NMEA) and accelerometer at the
#: top level, Novatek's (Viofo and many others) GPS index in ``moov``.
SENSOR_BOXES = {b"gps ": "GPS track", b"3gf ": "accelerometer"}
#: The most of a file's top-level sensor boxes read to be copied (a BlackVue minute holds tens of kB).
SENSOR_BYTES = 16 << 20


@dataclass(frozen=True)
class SensorBox:
    """A dashcam's box of its own (:data:`SENSOR_BOXES`): ``what`` it holds, and ``data``, the whole box
    (header included) where it stands at the top level and can be copied as it is into an MP4/MOV
    output; None inside ``moov`` (Novatek's GPS index points at file positions that an output moves)."""

    what: str
    data: bytes | None = field(default=None, repr=False)


def sensor_boxes(path: str | Path) -> list[SensorBox]:
    """The boxes of its own (:data:`SENSOR_BOXES`) that a dashcam's MP4/MOV ``path`` keeps at the top
    level or in ``moov``, which FFmpeg does not read (it reads streams); [] if none (or not such a file).
    Reads box headers, and the top-level sensor boxes themselves (at most :data:`SENSOR_BYTES`)."""
    found: list[SensorBox] = []
    try:
        if not Path(path).is_file():  # (a pipe or a FIFO is not read here: that would take its data)
            return []
        with open(path, "rb") as f:
            budget = SENSOR_BYTES
            for kind, pos, size in list(_boxes(f, 0, f.seek(0, 2))):
                if kind in SENSOR_BOXES:
                    data = None
                    if size <= budget:
                        f.seek(pos)
                        data, budget = f.read(size), budget - size
                    found.append(SensorBox(SENSOR_BOXES[kind], data if data and len(data) == size else None))
                elif kind == b"moov":
                    inner = _boxes(f, pos + 8, pos + size, first_known=False)
                    found += [SensorBox(SENSOR_BOXES[k]) for k, _, _ in list(inner) if k in SENSOR_BOXES]
    except (OSError, ValueError):  # (ValueError: a name with a NUL in it)
        return []
    return found


#: Why a sensor box is left out, by where it was: in ``moov``, or where the output cannot hold it
LEFT_OUT_BECAUSE = {"moov": "not in streams", "output": "which only an .mp4 or .mov file can hold",
                    "start": "timed from the file's start, which --start moves"}  # fmt: skip


def say_sensor_boxes(boxes: Sequence[SensorBox], name: str, why: str = "moov") -> None:
    """One line where ``boxes`` (of the files that ``name`` calls so) are left out of the output, ``why``
    a key of :data:`LEFT_OUT_BECAUSE`."""
    if found := list(dict.fromkeys(box.what for box in boxes)):
        log.warning("%s: left out of the output: the camera's %s (kept in MP4 boxes of its own, %s; the input "
                    "still has them)", name, " and ".join(found), LEFT_OUT_BECAUSE[why])  # fmt: skip
