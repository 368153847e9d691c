"""The classes a dataset (and a model trained on it) has: CamVid's 11, or a folder's own from its ``classes.txt``.

``classes.txt`` sits in the data root beside ``train/`` and ``trainannot/``: one class a line, its label value
the line's index (0..C-1), optionally a ``#RRGGBB`` colour after the name (else one of its own each). A name holds
no comma (names are listed with commas). Lines may carry their index before the name, as other tools' class lists
do (``0 road``, ``0: road``, ``0. road``, ``0) road``, ``0 - road``): every line then, 0..C-1 in order, else (the
first line numbered 0, or every line numbered) it is refused; a list not numbered from its first line keeps a name's
leading number (``2 wheelers``). Label pixels of value 255 are void; any other value of C or more is refused. In memory void is C, the label after
the last, as CamVid's is 11, and as an exported file's ``ignore_index`` says.

Example:
    >>> CAMVID.count, CAMVID.ignore_index, CAMVID.names[3]
    (11, 11, 'Road')
    >>> own = parse_classes("road #804080\\nlane\\ncar #ff0000", "classes.txt")
    >>> own.names, own.palette[0], own.palette[2], own.ignore_index
    (('road', 'lane', 'car'), (128, 64, 128), (255, 0, 0), 3)
    >>> from_state({"classes": list(own.names), "palette": own.palette}) == own
    True
    >>> parse_classes("0 road #804080\\n1: lane\\n2 car #ff0000", "classes.txt") == own
    True
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from roadseg.classes import CLASSES, IGNORE_INDEX, PALETTE
from roadseg.contract import distinct_palette, parse_palette
from roadseg.errors import reason_of

#: The file in a data root that names its classes.
CLASSES_FILE = "classes.txt"
#: A line's optional leading index, as other tools number their class lists: ``0 road``, ``0: road``, ``0,road``,
#: ``0. road``, ``0) road``, ``0 - road`` (a dot, bracket or dash before a space: ``0.5 m`` is no index and a name).
_NUMBERED = re.compile(r"(\d+)(?:\s*[:,]\s*|\s*[.)-]\s+|\s+)(\S.*)")
#: The label value of void pixels in a folder of its own classes (and CamVid's other convention).
VOID = 255


@dataclass(frozen=True)
class ClassSet:
    """Names (label order), RGB colours, and where they come from (``CamVid`` or a ``classes.txt``)."""

    names: tuple[str, ...]
    palette: tuple[tuple[int, int, int], ...]
    source: str = field(default="CamVid", compare=False)

    @property
    def count(self) -> int:
        return len(self.names)

    @property
    def ignore_index(self) -> int:
        """Void in memory: the label after the last class (CamVid's 11)."""
        return IGNORE_INDEX if self.is_camvid else self.count

    @property
    def is_camvid(self) -> bool:
        return self.names == CLASSES

    def describe(self) -> str:
        """``CamVid's 11`` or ``the 3 of data/classes.txt``, and the first names: for messages."""
        head = listed(self.names)
        return f"CamVid's 11 ({head})" if self.is_camvid else f"the {self.count} of {self.source} ({head})"

    def void_labels(self, label: np.ndarray, path: str | Path) -> np.ndarray:
        """``label`` (as read from ``path``) with void (255) as :attr:`ignore_index`; ValueError (one line, naming the
        file and the value) for any other value that is not a class: a label of another class list, which would
        be scored wrongly. CamVid's own void value, 11, is kept."""
        allowed = self.ignore_index if self.is_camvid else self.count - 1
        other = np.unique(label[(label > allowed) & (label != VOID)])
        if other.size:
            said = ("CamVid's 11-class labels are 0-10 and 11 (void)" if self.is_camvid else
                    f"{self.source} lists {self.count} classes: labels are 0-{self.count - 1} and 255 (void)")  # fmt: skip
            raise ValueError(f"label {path} holds class {int(other[0])}; {said}")
        return np.where(label == VOID, np.uint8(self.ignore_index), label)

    def as_state(self) -> dict:
        """What a checkpoint records of them (:func:`from_state` reads it back)."""
        return {"classes": list(self.names), "palette": [list(c) for c in self.palette]}


CAMVID = ClassSet(CLASSES, PALETTE)


def listed(names: tuple[str, ...]) -> str:
    """The first four of ``names`` for a message, `` ...`` after them where there are more.

    >>> listed(("a", "b", "c", "d", "e")), listed(("road",))
    ('a, b, c, d ...', 'road')
    """
    return ", ".join(names[:4]) + (" ..." if len(names) > 4 else "")


def counted(count: int, names: tuple[str, ...] | None) -> str:
    """``count`` classes, with their first names where they are known (:func:`listed`): what a model has, in a
    message that refuses it.

    >>> counted(5, ("a", "b", "c", "d", "e")), counted(3, None)
    ('5 classes (a, b, c, d ...)', '3 classes')
    """
    return f"{count} classes" + (f" ({listed(names)})" if names else "")


def parse_classes(text: str, source: str) -> ClassSet:
    """The classes of a ``classes.txt``'s text; ValueError (one line, naming ``source``) for one that is not."""
    lines = text.rstrip().splitlines()
    split = [_split_line(line) for line in lines]
    numbered = _numbered([index for index, _, _ in split], lines, source)
    names, colours = [], []
    for number, (line, (_, name, colour)) in enumerate(zip(lines, split), 1):
        name = name if numbered else line.strip().partition("#")[0].strip()
        if not name or name in names:
            raise ValueError(f"{source} line {number}: {'class ' + repr(name) + ' twice' if name else 'no name'}; "
                             "one class a line, NAME [#RRGGBB], its label value the line's index")  # fmt: skip
        if "," in name:
            raise ValueError(f"{source} line {number}: class name {name!r} holds a comma; names are listed with commas "
                             "(messages, export --classes): give it another name")  # fmt: skip
        try:
            colours.append(tuple(parse_palette(colour)[0]) if colour else None)
        except ValueError as exc:
            raise ValueError(f"{source} line {number}: {exc}") from None
        names.append(name)
    if not 2 <= len(names) <= VOID:  # (one class is always the answer: a network of it learns nothing)
        raise ValueError(f"{source} names {len(names)} classes: a data folder has 2 to {VOID} (255 is void; "
                         "one class and the rest is two, e.g. road and background)")  # fmt: skip
    own = distinct_palette(len(names))
    return ClassSet(tuple(names), tuple(c or tuple(d) for c, d in zip(colours, own)), source)


def _split_line(line: str) -> tuple[int | None, str, str]:
    """A ``classes.txt`` line's leading index (None where it has none), name and colour text.

    >>> _split_line(" 1: sky #808080"), _split_line("traffic light"), _split_line("0")
    ((1, 'sky', '808080'), (None, 'traffic light', ''), (None, '0', ''))
    >>> _split_line("0. road"), _split_line("1 - car"), _split_line("2) sky"), _split_line("0.5 m")
    ((0, 'road', ''), (1, 'car', ''), (2, 'sky', ''), (None, '0.5 m', ''))
    """
    name, _, colour = line.strip().partition("#")
    numbered = _NUMBERED.fullmatch(name.strip())
    index, name = (int(numbered[1]), numbered[2]) if numbered else (None, name)
    return index, name.strip(), colour.strip()


def _numbered(indices: list[int | None], lines: list[str], source: str) -> bool:
    """Whether a ``classes.txt``'s lines carry their index: every line does (each must be its line's index: the label
    value is the line's index, so a number can only repeat it), or the first is numbered 0 (then every line must be).
    Else a leading number is part of its name (``2 wheelers``). ValueError (one line, naming the line) otherwise; a list
    numbered from 1 (``1. road``) is told it counts from 0.

    >>> _numbered([1, 2], ["1. road", "2. car"], "c.txt")
    Traceback (most recent call last):
    ValueError: c.txt numbers its lines from 1 ('1. road'), but a class's label value is its line's index, from 0: number them 0, 1, 2 ... ('0. road') or not at all
    """
    if indices and indices[0] != 0 and None in indices:
        return False
    if len(indices) > 1 and indices == list(range(1, len(indices) + 1)):  # (1. road, 2. car: counted from 1)
        first = lines[0].strip()
        raise ValueError(f"{source} numbers its lines from 1 ({first!r}), but a class's label value is its line's "
                         f"index, from 0: number them 0, 1, 2 ... ({re.sub(r'[0-9]+', '0', first, count=1)!r}) or not "
                         "at all")  # fmt: skip
    for number, (index, line) in enumerate(zip(indices, lines), 1):
        if not line.strip():  # (a blank line: no name, which parse_classes says of it)
            return True
        if index is None:
            raise ValueError(f"{source} line {number} ({line.strip()!r}) is not numbered, but line 1 is: number every "
                             "line (0 road, 1 car ...) or none")  # fmt: skip
        if index != number - 1:
            named = f"{number - 1} {line.strip().partition('#')[0].strip()}"  # (its name, the number kept in it)
            raise ValueError(f"{source} line {number} is numbered {index}, but its label value is its index, "
                             f"{number - 1}: number the lines 0, 1, 2 ... in order, or not at all (a name that begins "
                             f"with a number after its line's: {named!r})")  # fmt: skip
    return True


def read_classes(root: str | Path) -> ClassSet:
    """The classes of the data folder ``root``: its ``classes.txt``'s, else CamVid's."""
    path = Path(root) / CLASSES_FILE
    if not path.exists() and not path.is_symlink():  # (one that cannot be read is said: a folder was taken for none)
        return CAMVID
    if path.exists() and not path.is_file():  # (a FIFO: reading it would wait for ever)
        raise ValueError(f"{path} is not a regular file (a folder, a FIFO ...): a text file, one class a line")
    try:
        text = path.read_text(encoding="utf-8-sig")  # (a BOM, as Notepad writes, is no part of the first name)
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {reason_of(exc)}") from None
    return parse_classes(text, str(path))


def from_state(state: dict) -> ClassSet:
    """The classes a checkpoint records (:meth:`ClassSet.as_state`); CamVid's for one that records none (a run from
    before they were recorded, a soup, a rebuilt release: all CamVid's)."""
    if not state.get("classes"):
        return CAMVID
    names = tuple(state["classes"])
    palette = tuple(tuple(int(v) for v in c) for c in (state.get("palette") or distinct_palette(len(names))))
    return CAMVID if names == CLASSES else ClassSet(names, palette, "the checkpoint")
