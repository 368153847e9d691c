"""Class names as the legend draws them onto pictures: OpenCV's Hershey fonts hold printable ASCII alone (a font
library is no dependency of roadseg), and ``cv2.putText`` draws any other letter as ``?``.

A name is drawn in its ASCII spelling where it has one: its letters decomposed (Unicode NFKD) with their accents
dropped, and the few common letters that do not decompose spelt out (:data:`SPELT_OUT`: ß as ss, æ as ae, ø as o,
...); a name still holding other letters (CJK, Cyrillic, Greek ...) is drawn as its class index, ``class 3``, not
as question marks. Text outputs (``--stats``, ``info --model``, the live page) keep the names as they are.

Example:
    >>> legend_names(["road", "Straße", "piéton", "道路"])
    ['road', 'Strasse', 'pieton', 'class 3']
    >>> legend_note(["road", "Straße", "道路"])
    "legend: 2 class names drawn otherwise (its font is ASCII only): 'Straße' as 'Strasse', '道路' as 'class 2'"
    >>> legend_note(["road", "sky"]) is None
    True
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

#: Letters (and typographic marks) that NFKD leaves as they are, spelt in ASCII as readers of their languages would.
SPELT_OUT = str.maketrans({
    "ß": "ss", "ẞ": "SS", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE", "ł": "l", "Ł": "L",
    "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "Th", "ı": "i", "ħ": "h", "Ħ": "H",
    "‘": "'", "’": "'", "‚": "'", "“": '"', "”": '"', "„": '"', "‐": "-", "–": "-", "—": "-", "·": ".",
})  # fmt: skip

#: How many changed names the note lists by name (the rest are counted).
_LISTED = 6


def ascii_spelling(name: str) -> str | None:
    """``name`` in printable ASCII, its accents dropped and :data:`SPELT_OUT`'s letters spelt out; ``None`` where
    it holds letters that have no such spelling.

    >>> ascii_spelling("Ångström"), ascii_spelling("Łódź"), ascii_spelling("ﬁeld²"), ascii_spelling("улица")
    ('Angstrom', 'Lodz', 'field2', None)
    >>> ascii_spelling("col·legi")  # (Catalan's middle dot, as it is written in ASCII)
    'col.legi'
    """
    decomposed = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in decomposed if not unicodedata.combining(c)).translate(SPELT_OUT)
    return text if text and text.isascii() and text.isprintable() else None


def legend_names(classes: Sequence[str]) -> list[str]:
    """The names the legend draws, in label order: each in its :func:`ascii_spelling`, or ``class <index>``."""
    return [ascii_spelling(name) or f"class {i}" for i, name in enumerate(classes)]


def legend_note(classes: Sequence[str]) -> str | None:
    """One line naming the classes whose names the legend draws otherwise than they are; ``None`` where none."""
    changed = [(name, drawn) for name, drawn in zip(classes, legend_names(classes)) if name != drawn]
    if not changed:
        return None
    listed = ", ".join(f"{name!r} as {drawn!r}" for name, drawn in changed[:_LISTED])
    more = f" and {len(changed) - _LISTED} more" if len(changed) > _LISTED else ""
    plural = "s" if len(changed) > 1 else ""
    return f"legend: {len(changed)} class name{plural} drawn otherwise (its font is ASCII only): {listed}{more}"
