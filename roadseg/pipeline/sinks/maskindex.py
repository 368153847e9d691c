"""The index of a masks folder (``--masks-dir``): ``masks.csv``, one line a mask, saying which frame it is.

A mask's number is its place among the frames written, not the input's frame number: where the input lost
frames (a damaged file, a camera that dropped some), ``--fps`` left some out or a live run's model skipped
some, the numbers run on without a gap, and the time says where each frame was. The columns:

* a video file's masks: ``mask,time``: the frame's presentation time in seconds, as the output video has it
  (the input's own timestamps, from its first; with ``--start S``, from S: add S for the input's time);
* a live run's: ``mask,time,unix_time``: the time on the recording's clock from its first frame, and that time as
  Unix time in seconds (the first frame's when its packet was read, the others' by the stream's own timestamps
  from it, as the recording times them), to line the masks up with a robot's other sensors;
* an image input's: ``mask,image``: the input image's file name.

A line is written (and flushed) once its mask is whole, so the index of a run that was stopped or killed names the
masks there are and no others.

Example:
    >>> import tempfile
    >>> from fractions import Fraction
    >>> from roadseg.pipeline.sources import Frame
    >>> folder = Path(tempfile.mkdtemp())
    >>> index = MaskIndex(folder, "file")
    >>> index.add("000000.png", Frame(0, None, 1001, Fraction(1, 30000)))
    >>> index.close()
    >>> print((folder / INDEX_NAME).read_text(), end="")
    mask,time
    000000.png,0.033367
"""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import TextIO

from roadseg.pipeline.sources import Frame

#: the index's name in the masks folder
INDEX_NAME = "masks.csv"
#: its header, by the kind of input
COLUMNS = {"file": "mask,time", "live": "mask,time,unix_time", "images": "mask,image"}


class MaskIndex:
    """``masks.csv`` in ``folder``, written anew (an earlier run's replaced), for input of ``kind`` (a key of
    :data:`COLUMNS`); ``names``: an image input's file names, frame by frame. Raises ``OSError`` as the disk
    does (the caller stops the masks)."""

    def __init__(self, folder: Path, kind: str, names: list[str] | None = None) -> None:
        self.path, self.kind, self.names = folder / INDEX_NAME, kind, names
        self._t0: float | None = None  # (a live run's first frame's capture time, on time.monotonic()'s clock)
        self._unix = time.time() - time.monotonic()  # (that clock's 0 as Unix time)
        self._file: TextIO | None = open(self.path, "w", encoding="utf-8", newline="")  # noqa: SIM115
        self._csv = csv.writer(self._file, lineterminator="\n")
        self._row(*COLUMNS[kind].split(","))

    def add(self, mask: str, frame: Frame) -> None:
        """One line for the mask file named ``mask``, made of ``frame``."""
        if self.kind == "images":
            self._row(mask, self.names[frame.index] if self.names else "")
        elif self.kind == "live":
            at = frame.clock if frame.clock is not None else frame.captured
            if at is None:
                self._row(mask, "", "")
                return
            self._t0 = at if self._t0 is None else self._t0
            self._row(mask, f"{at - self._t0:.6f}", f"{self._unix + at:.6f}")
        else:
            self._row(mask, "" if frame.time is None else f"{frame.time:.6f}")

    def close(self, remove: bool = False) -> None:
        """Close the file (idempotent); ``remove``: remove it too (no mask was written, the folder goes)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if remove:
            self.path.unlink(missing_ok=True)

    def _row(self, *fields: str) -> None:
        """A line, its fields quoted where they hold a comma, a quote or a line break (a file name may)."""
        assert self._file is not None, "the index is open while masks are written"
        self._csv.writerow(fields)
        self._file.flush()
