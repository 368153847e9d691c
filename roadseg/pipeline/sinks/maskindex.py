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

A line is written (unbuffered) once its mask is whole under a hidden name, before the mask is renamed onto its own
(:func:`~roadseg.pipeline.sinks.picture.write_picture`), and taken back where it cannot be (:meth:`MaskIndex.drop`), or
where the disk took only part of it (a full disk: the part cut off again, as is an index whose header it refused): the
index of a run that was stopped names the masks there are and no others, of one that was killed (``kill -9``) every
mask there is, and at most one more, its last line, whose mask the kill came before (was: a mask without its line).
An image input's rerun into the folder (``-y``) keeps the earlier index's lines of the masks still there (``kept``, read
by :func:`read_index`), written first: those it does not write, and those of its own names that say what its own will
(the same image's name: its line is there, and true, before and after the mask is replaced); so a killed rerun's index
names them too. Those of its own names made of an image of another name (``a.jpg`` then, ``a.png`` now) are written
at its close where it did not replace them (``pending``): a killed rerun's index lacks those.

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

import contextlib
import csv
import errno
import io
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from roadseg.pipeline.sources import Frame

#: the index's name in the masks folder
INDEX_NAME = "masks.csv"
#: its header, by the kind of input
COLUMNS = {"file": "mask,time", "live": "mask,time,unix_time", "images": "mask,image"}
#: the names of a video's masks (``000000.png`` ..., more digits past a million frames)
NUMBERED = re.compile(r"\d{6,}\.png")


@dataclass
class Earlier:
    """An earlier run's masks in a masks folder, and what ``-y`` does with them (:func:`earlier_run`)."""

    refusal: str = ""  #: the line that refuses the folder without -y ("": nothing to refuse)
    remove: list[Path] = field(default_factory=list)  #: with -y: the masks and index that go
    kept: list[list[str]] = field(default_factory=list)  #: with -y: the index's lines kept, written first
    pending: list[list[str]] = field(default_factory=list)  #: of this run's names, of other images: kept where unwritten
    warning: str = ""  #: with -y: the line that says the index is replaced ("": nothing to say)


def earlier_run(folder: Path, mine: dict[str, str] | None) -> Earlier:
    """The earlier run's masks in ``folder`` (a video run's numbered ones, an index) for a run whose masks are named
    as ``mine``'s keys, of its images named as its values (an image run's; None: a video run's). Either needs -y (an image run's refused after its masks of
    existing names are); with it, a video run's numbered masks and index go, with or without an index, an image run
    keeps an image run's lines (:func:`read_index`) and replaces any other index, saying so, and removes a video run's
    numbered masks, saying so, as a video run replaces an image run's index (whose masks, not numbered, stay), or an
    index it cannot read.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / INDEX_NAME).write_text("mask,image\\na.png,a.jpg\\nb.png,b.jpg\\n")
    >>> _ = [(folder / name).write_bytes(b"") for name in ("a.png", "b.png")]
    >>> earlier = earlier_run(folder, {"b.png": "b.png", "c.png": "c.jpg"})
    >>> earlier.kept, earlier.pending, earlier.remove, earlier.warning
    ([['a.png', 'a.jpg']], [['b.png', 'b.jpg']], [], '')
    >>> earlier_run(folder, {"b.png": "b.jpg"}).kept  # (b.png's line says what this run's will: kept, written first)
    [['a.png', 'a.jpg'], ['b.png', 'b.jpg']]
    >>> earlier.refusal.split(";")[0] == f"masks folder {folder} holds 2 masks of an earlier run (masks.csv)"
    True
    """
    numbered = sorted(p for p in folder.glob("*.png") if NUMBERED.fullmatch(p.name))
    found = read_index(folder)
    if found is None:  # (was: an image run left numbered masks without an index be, unrefused and unlisted)
        said = "" if mine is None else (f"masks folder {folder}: the {len(numbered)} numbered masks of an earlier run "
                                        f"of video there, without a {INDEX_NAME}, are removed")  # fmt: skip
        return Earlier(_refusal(folder, numbered, 0), numbered, warning=said) if numbered else Earlier()
    header, lines = found
    refusal = _refusal(folder, numbered if mine is None else [], len(lines))
    if mine is not None and header == COLUMNS["images"]:
        same = [line for line in lines if line[0] not in mine or line == [line[0], mine[line[0]]]]
        return Earlier(refusal, kept=same, pending=[line for line in lines if line not in same])
    if header == COLUMNS["images"]:
        said = (f"masks folder {folder}: the {INDEX_NAME} of an earlier run of images is replaced by this run's; the "
                f"{len(lines)} masks it named stay, without a line")  # fmt: skip
    elif not header or mine is not None:
        gone = f", and the {len(numbered)} numbered masks beside it removed" if numbered else ""
        what = f"a video run's ({header})" if header else "not an index of masks"
        said = f"masks folder {folder}: its {INDEX_NAME} is {what}: replaced by this run's{gone}"
    else:
        said = ""  # (a video run's over a video run's: as its masks are)
    return Earlier(refusal, [*numbered, folder / INDEX_NAME], warning=said)


def _refusal(folder: Path, numbered: list[Path], n: int) -> str:
    """The line that refuses a folder of an earlier run's masks without -y: its ``numbered`` ones or the ``n`` that
    its index names, or its index of none there (a run killed before its first mask was in place; one unread).

    >>> _refusal(Path("m"), [], 0)
    "masks folder m holds an earlier run's masks.csv, which names no mask there; pass -y/--overwrite to replace it, or give another folder"
    """
    if not (numbered or n):  # (was: "holds 0 masks of an earlier run")
        return (f"masks folder {folder} holds an earlier run's {INDEX_NAME}, which names no mask there; pass "
                "-y/--overwrite to replace it, or give another folder")  # fmt: skip
    n = len(numbered) or n
    held = f"{n} mask{'' if n == 1 else 's'} of an earlier run ({f'{numbered[0].name} ...' if numbered else INDEX_NAME})"
    return f"masks folder {folder} holds {held}; pass -y/--overwrite to replace them, or give another folder"


def read_index(folder: Path) -> tuple[str, list[list[str]]] | None:
    """The index an earlier run left in ``folder``: its header (``"mask,image"`` ...) and its lines, those whose mask
    is still there (a file of that plain name); None where there is none; a header of ``""`` (and no lines) where it
    cannot be read as one (not UTF-8 CSV, no ``mask`` column first, a line of other fields than its header).

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / INDEX_NAME).write_text("mask,image\\na.png,a.jpg\\ngone.png,gone.jpg\\n")
    >>> _ = (folder / "a.png").write_bytes(b"")
    >>> read_index(folder)
    ('mask,image', [['a.png', 'a.jpg']])
    """
    path = folder / INDEX_NAME
    if not os.path.lexists(path):
        return None
    try:
        with open(path, encoding="utf-8", newline="") as f:
            header, *lines = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error, ValueError):  # (ValueError: an empty file)
        return "", []
    if header[:1] != ["mask"] or any(len(line) != len(header) for line in lines):
        return "", []
    there = [line for line in lines if Path(line[0]).name == line[0] and (folder / line[0]).is_file()]
    return ",".join(header), there


class MaskIndex:
    """``masks.csv`` in ``folder``, written anew (an earlier run's replaced), for input of ``kind`` (a key of
    :data:`COLUMNS`); ``names``: an image input's file names, frame by frame; ``kept``: an earlier run's lines
    to keep, written first (:func:`read_index`). Raises ``OSError`` as the disk does (the caller stops the masks)."""

    def __init__(self, folder: Path, kind: str, names: list[str] | None = None,
                 kept: Sequence[Sequence[str]] = ()) -> None:  # fmt: skip
        self.path, self.kind, self.names = folder / INDEX_NAME, kind, names
        self._t0: float | None = None  # (a live run's first frame's capture time, on time.monotonic()'s clock)
        self._unix = time.time() - time.monotonic()  # (that clock's 0 as Unix time)
        self._last: tuple[str, int] | None = None  # (the last line's mask and where the line starts: :meth:`drop`)
        file = io.FileIO(self.path, "w")  # (unbuffered: no line left half in a buffer)
        self._file: io.FileIO | None = file
        try:
            self._row(*COLUMNS[kind].split(","))
            for line in kept:
                self._row(*line)
        except OSError:  # (was: an empty masks.csv left, which a rerun needed -y for; an earlier run's lines kept stay)
            self.close(remove=file.tell() == 0)
            raise

    def add(self, mask: str, frame: Frame) -> None:
        """One line for the mask file named ``mask``, made of ``frame``, written at once (:meth:`drop` takes it back)."""
        assert self._file is not None, "the index is open while masks are written"
        start = self._file.tell()
        self._row(mask, *self._fields(frame))
        self._last = (mask, start)

    def _fields(self, frame: Frame) -> tuple[str, ...]:
        """A line's fields after its mask's name, made of ``frame``."""
        if self.kind == "images":
            return (self.names[frame.index] if self.names else "",)
        if self.kind == "live":
            at = frame.clock if frame.clock is not None else frame.captured
            if at is None:
                return "", ""
            self._t0 = at if self._t0 is None else self._t0
            return f"{at - self._t0:.6f}", f"{self._unix + at:.6f}"
        return ("" if frame.time is None else f"{frame.time:.6f}",)

    def drop(self, mask: str) -> None:
        """Take back the last line where it is ``mask``'s, the file cut back to before it (its mask could not be put in
        place after it: no line of a mask that is not there); nothing where it is not, or cannot be cut."""
        if self._file is None or self._last is None or self._last[0] != mask:
            return
        self._cut(self._last[1])
        self._last = None

    def _cut(self, at: int) -> None:
        """Cut the file back to ``at`` bytes, written on from there (nothing where it cannot be)."""
        assert self._file is not None, "the index is open while masks are written"
        with contextlib.suppress(OSError):
            self._file.truncate(at)
            self._file.seek(at)

    def copy(self, line: Sequence[str]) -> None:
        """An earlier run's line as it was (its mask kept: one of this run's names that it did not write)."""
        self._row(*line)

    def close(self, remove: bool = False) -> None:
        """Close the file (idempotent); ``remove``: remove it too (no mask was written, the folder goes)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if remove:
            self.path.unlink(missing_ok=True)

    def _row(self, *fields: str) -> None:
        """A line, its fields quoted where they hold a comma, a quote or a line break (a file name may), written to the
        file at once, whole, or not at all: where the disk takes only part of it and then refuses the rest (a full
        disk, ``ENOSPC``), the part is cut off again and the error raised (was: left, a line no reader could take)."""
        assert self._file is not None, "the index is open while masks are written"
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerow(fields)
        data, start = memoryview(text.getvalue().encode("utf-8")), self._file.tell()
        try:
            while data:
                if not (n := self._file.write(data)):
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                data = data[n:]
        except OSError:
            self._cut(start)
            raise
