"""Which camera recorded each of a folder's files: by its name (:func:`camera_view`, the letter or word a dashcam
ends it with: :data:`CAMERA_TAGS`), and by its codec, size, audio and order of streams (:func:`camera`). The one
camera's files that :func:`~roadseg.pipeline.sources.concat.concat_source` joins (:func:`one_view`, by the names;
:func:`one_camera`, by the files), the others left out with one line; ``batch --concat`` writes those as drives of
their own (:func:`~roadseg.pipeline.sources.drives.joins`).

Example:
    >>> camera_view("20261203_080000_NR"), first_of_view([Path("0800_NR.MP4"), Path("0800_NF.MP4")]).name
    ('rear', '0800_NF.MP4')
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from roadseg.pipeline.sources.probe import Signature, agree, described, listed, named_files

log = logging.getLogger("roadseg")


def one_camera(paths: list[Path], signatures: list[Signature]) -> list[Path]:
    """The files of the camera most of them come from (:func:`camera`). The others are left out, with one line;
    where as many files are of another camera or format (a drive of two files, one of each), the line says that
    the first file's were taken, and how to join the others."""
    kept, tie = camera(signatures)
    first = signatures[kept.index(True)]
    if other := [p for p, k in zip(paths, kept) if not k]:
        theirs = signatures[kept.index(False)]
        how = ("; as many files are of each, and the first file's are joined (a glob or @list.txt that names those "
               "left out joins theirs; roadseg batch --concat writes each as a drive of its own)") if tie else ""
        log.warning("left out of the join: %d file%s of another camera or format (%s, where the others are %s): %s%s",
                    len(other), "s"[: len(other) != 1], described(theirs, first), described(first, theirs),
                    named_files(other), how)  # fmt: skip
    return [p for p, k in zip(paths, kept) if k]


def camera(signatures: list[Signature]) -> tuple[list[bool], bool]:
    """Which files of ``signatures`` the join takes: those that agree (:func:`~roadseg.pipeline.sources.probe.agree`)
    with the file most of them agree with (the first such), and with the first of them, whose streams the join takes;
    and whether as many agree with one that is left out (a tie, which the first to come wins).

    >>> v = ("h264", 64, 48, 0)
    >>> va, vda = (v, ("aac",), ("video", "audio")), (v, ("aac",), ("video", "data", "audio"))
    >>> camera([vda, va, vda]), camera([va, vda])
    (([True, False, True], False), ([True, False], True))
    """
    counts = Counter(signatures)  # (a card's folder may hold a thousand files, of a few signatures)
    agreeing = {s: sum(n for t, n in counts.items() if agree(s, t)) for s in counts}
    main = max(counts, key=agreeing.__getitem__)  # (of as many, the first to come)
    first = next(s for s in signatures if agree(s, main))
    tie = any(n == agreeing[main] and not agree(s, main) for s, n in agreeing.items())
    return [agree(s, main) and agree(s, first) for s in signatures], tie


#: How a dashcam ends a file's name to say which of its cameras recorded it: one letter, after a letter
#: for the kind of recording (BlackVue ``..._NF``/``_EF``/``_PR``) or before one for its quality (Nextbase
#: ``..._FH``/``_RL``) or alone (Viofo ``..._0003F``, 70mai ``...B``), or a word (Tesla ``...-front``,
#: ``-back``, ``-left_repeater``, ``-left_pillar``). The front camera's come first.
CAMERA_TAGS = {"f": "front", "front": "front", "r": "rear", "rear": "rear", "b": "rear", "back": "rear",
               "i": "inside", "inside": "inside", "interior": "inside", "cabin": "inside", "left": "left",
               "left_repeater": "left", "right": "right", "right_repeater": "right",
               "left_pillar": "left pillar", "right_pillar": "right pillar"}  # fmt: skip
_TAIL = re.compile(r"[a-z]+(?:_[a-z]+)*$")


def camera_view(name: str) -> str | None:
    """The camera a dashcam's file ``name`` says recorded it (see :data:`CAMERA_TAGS`), or None.

    >>> [camera_view(n) for n in ("2026_1203_080000_0003F", "20261203_080000_NR", "2026-12-03_08-00-00-left_repeater")]
    ['front', 'rear', 'left']
    >>> camera_view("GX010042"), camera_view("part_a"), camera_view("drive_rear_view")
    (None, None, None)
    >>> camera_view("221203_080000_001_FH"), camera_view("221203_080000_001_RL"), camera_view("x-right_pillar")
    ('front', 'rear', 'right pillar')
    """
    tail = _TAIL.search(name.lower())
    word = tail.group(0) if tail else ""
    if len(word) == 2:  # the kind, then the camera (BlackVue's NF); or the camera, then its quality (Nextbase's FH)
        word = word[-1] if word[-1] in CAMERA_TAGS else word[0]
    return CAMERA_TAGS.get(word)


def main_view(views: list[str | None]) -> str | None:
    """The camera whose files are joined where the names say which recorded each and more than one
    did: the front one, else the one most files are from; None where the names do not all say."""
    if len(set(views)) < 2 or None in views:
        return None
    return "front" if "front" in views else max(views, key=lambda v: (views.count(v), -views.index(v)))  # type: ignore[arg-type]


def first_of_view(paths: Sequence[Path]) -> Path:
    """The first of ``paths`` that :func:`~roadseg.pipeline.sources.concat.concat_source` would join by the names (the
    front camera's, where they say): what ``batch --concat`` names a drive after.

    >>> first_of_view([Path("2026-12-03_08-00-00-back.mp4"), Path("2026-12-03_08-00-00-front.mp4")]).name
    '2026-12-03_08-00-00-front.mp4'
    """
    views = [camera_view(p.stem) for p in paths]
    main = main_view(views)
    return next(p for p, view in zip(paths, views) if main is None or view == main)


def one_view(paths: list[Path]) -> list[Path]:
    """The front camera's files where every name says which camera recorded it (:func:`camera_view`) and
    more than one camera's are here (joined, the drive would flip between them at every file); else
    ``paths``. The others are left out, with one line. Chosen before :func:`one_camera`: a front camera
    at 4K beside two at 1080p is still the one joined.

    >>> [p.name for p in one_view([Path("0800_NF.MP4"), Path("0800_NR.MP4"), Path("0801_EF.MP4")])]
    ['0800_NF.MP4', '0801_EF.MP4']
    >>> len(one_view([Path("part_a.mp4"), Path("part_b.mp4"), Path("part_c.mp4")]))  # (not a camera's names)
    3
    """
    views = [camera_view(p.stem) for p in paths]
    if (main := main_view(views)) is None:
        return paths
    other = [p for p, view in zip(paths, views) if view != main]
    names = named_files(other)
    kinds = list(dict.fromkeys(v for v in views if v != main))
    theirs = listed(kinds)
    log.warning("left out of the join: %d file%s of the dashcam's %s camera%s (the %s camera's are joined; a glob "
                "that matches one camera's names picks another; roadseg batch --concat writes each camera's as a drive of its "
                "own): %s", len(other), "s"[: len(other) != 1], theirs,
                "s"[: " and " in theirs], main, names)  # fmt: skip
    return [p for p, view in zip(paths, views) if view == main]
