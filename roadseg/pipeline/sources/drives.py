"""Which files are joined together: one folder's files cut into drives for ``batch --concat`` (:func:`drives`,
where the recording paused or the clock went back; :func:`joins`, each drive cut again by camera and by format), and
the one camera's files that :func:`~roadseg.pipeline.sources.concat.concat_source` joins (:func:`_one_view`, by the
names: :data:`CAMERA_TAGS`; :func:`_one_camera`, by the files' codec, size, audio and order of streams).

Example:
    >>> camera_view("20261203_080000_NR"), str(named_time("20261203_080000_NR"))
    ('rear', '2026-12-03 08:00:00')
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

from roadseg.pipeline.inputs import gopro_recording
from roadseg.pipeline.sources.base import VideoInfo
from roadseg.pipeline.sources.probe import Signature, _agree, _described, _listed, _named, _probed

log = logging.getLogger("roadseg")


def _one_camera(paths: list[Path], signatures: list[Signature]) -> list[Path]:
    """The files of the camera most of them come from (:func:`_camera`). The others are left out, with one line;
    where as many files are of another camera or format (a drive of two files, one of each), the line says that
    the first file's were taken, and how to join the others."""
    kept, tie = _camera(signatures)
    first = signatures[kept.index(True)]
    if other := [p for p, k in zip(paths, kept) if not k]:
        theirs = signatures[kept.index(False)]
        how = ("; as many files are of each, and the first file's are joined (a glob or @list.txt that names those "
               "left out joins theirs; roadseg batch --concat writes each as a drive of its own)") if tie else ""
        log.warning("left out of the join: %d file%s of another camera or format (%s, where the others are %s): %s%s",
                    len(other), "s"[: len(other) != 1], _described(theirs, first), _described(first, theirs),
                    _named(other), how)  # fmt: skip
    return [p for p, k in zip(paths, kept) if k]


def _camera(signatures: list[Signature]) -> tuple[list[bool], bool]:
    """Which files of ``signatures`` the join takes: those that agree (:func:`~roadseg.pipeline.sources.probe._agree`)
    with the file most of them agree with (the first such), and with the first of them, whose streams the join takes;
    and whether as many agree with one that is left out (a tie, which the first to come wins).

    >>> v = ("h264", 64, 48)
    >>> va, vda = (v, ("aac",), ("video", "audio")), (v, ("aac",), ("video", "data", "audio"))
    >>> _camera([vda, va, vda]), _camera([va, vda])
    (([True, False, True], False), ([True, False], True))
    """
    counts = Counter(signatures)  # (a card's folder may hold a thousand files, of a few signatures)
    agreeing = {s: sum(n for t, n in counts.items() if _agree(s, t)) for s in counts}
    main = max(counts, key=agreeing.__getitem__)  # (of as many, the first to come)
    first = next(s for s in signatures if _agree(s, main))
    tie = any(n == agreeing[main] and not _agree(s, main) for s, n in agreeing.items())
    return [_agree(s, main) and _agree(s, first) for s in signatures], tie


def _formats(paths: list[Path], signatures: dict[Path, Signature]) -> list[tuple[list[Path], str]]:
    """``paths`` (one camera's files of a drive) as ``batch --concat`` writes them: the files
    :func:`~roadseg.pipeline.sources.concat.concat_source` joins, then, where it would leave some out as of another
    camera or format (another codec, size, audio or order of streams), those it joins of the rest, and so on: each a
    drive of its own, none of the footage lost. Those that cannot be read (not in ``signatures``) stay with the first,
    which leaves them out with its line. Each with what its results line says of it (empty where the drive is whole).

    >>> v = ("h264", 64, 48)
    >>> va, vda = (v, ("aac",), ("video", "audio")), (v, ("aac",), ("video", "data", "audio"))
    >>> a, b, c, d = (Path(n) for n in ("0800_NF.MP4", "0801_NF.MP4", "0802_NF.MP4", "0803_NF.MP4"))
    >>> [[p.name for p in part] for part, _ in _formats([a, b, c, d], {a: vda, b: va, c: vda})]
    [['0800_NF.MP4', '0802_NF.MP4', '0803_NF.MP4'], ['0801_NF.MP4']]
    """
    rest = [p for p in paths if p in signatures]
    parts = []
    while rest:
        kept, _ = _camera([signatures[p] for p in rest])
        parts.append([p for p, k in zip(rest, kept) if k])
        rest = [p for p, k in zip(rest, kept) if not k]
    if len(parts) < 2:
        return [(paths, "")]
    first = set(parts[0])  # (a card's folder may hold a thousand files)
    head = [p for p in paths if p in first or p not in signatures]
    ours, apart = signatures[parts[0][0]], [p for part in parts[1:] for p in part]
    theirs, many = signatures[apart[0]], len(parts) > 2
    said = [(head,
             f"written apart, as {'drives of their' if many else 'a drive of its'} own: {len(apart)} "
             f"file{'s'[: len(apart) != 1]} of another camera or format ({_described(theirs, ours)}, where the others "
             f"are {_described(ours, theirs)}): {_named(apart)}")]  # fmt: skip
    for part in parts[1:]:
        mine = signatures[part[0]]
        said.append((part, f"a drive of its own, apart from {parts[0][0].name}'s: its files are of another camera or "
                           f"format ({_described(mine, ours)}, where that drive's are {_described(ours, mine)})"))  # fmt: skip
    return said


class Join(NamedTuple):
    """A drive as ``batch --concat`` writes it (:func:`joins`): its ``files``, what its results line says of it
    (``said``), and whether they are another camera's than the one
    :func:`~roadseg.pipeline.sources.concat.concat_source` joins of their drive (``apart``: the dashcam's rear, inside
    or side camera's, by their names)."""

    files: list[Path]
    said: tuple[str, ...] = ()
    apart: bool = False


def _cameras(paths: list[Path], signatures: dict[Path, Signature]) -> list[Join]:
    """One drive's ``paths`` as ``batch --concat`` writes them: the files of the camera
    :func:`~roadseg.pipeline.sources.concat.concat_source` joins (the front one's where every name says which camera
    recorded it: :func:`_one_view`), then each other camera's files as drives of their own (``apart``), where it leaves
    them out; each camera's cut by :func:`_formats`. A file that cannot be read goes with its camera's, else with the
    first drive, whose worker leaves it out with its line. (Was: the other cameras' files left out, their footage in no
    output.)

    >>> v, w = (("h264", 64, 48), ("aac",), ("video", "audio")), (("h264", 32, 24), (), ("video",))
    >>> f, r, g, s = (Path(n) for n in ("0800_NF.MP4", "0800_NR.MP4", "0801_NF.MP4", "0801_NR.MP4"))
    >>> [([p.name for p in join.files], join.apart) for join in _cameras([f, r, g, s], {f: v, r: w, g: v, s: w})]
    [(['0800_NF.MP4', '0801_NF.MP4'], False), (['0800_NR.MP4', '0801_NR.MP4'], True)]
    >>> i, j, k, m, n = (Path(n) for n in ("0800_I.MP4", "0800_R.MP4", "0801_I.MP4", "0801_R.MP4", "0802_R.MP4"))
    >>> [[p.name for p in join.files] for join in _cameras([i, j, k, m, n], {i: v, j: w, k: v, m: w, n: v})]
    [['0800_R.MP4', '0801_R.MP4'], ['0802_R.MP4'], ['0800_I.MP4', '0801_I.MP4']]
    """
    views = {p: camera_view(p.stem) for p in paths}
    main = _main_view([views[p] for p in paths if p in signatures])  # (as the worker chooses: of those it reads)
    if main is None:
        return [Join(part, tuple(filter(None, [words]))) for part, words in _formats(paths, signatures)]
    cameras = sorted(dict.fromkeys(views[p] for p in paths if p in signatures), key=lambda view: view != main)
    group = {p: views[p] if views[p] in cameras else main for p in paths}
    ours = _formats([p for p in paths if group[p] == main], signatures)
    others = [(view, part, words) for view in cameras[1:]
              for part, words in _formats([p for p in paths if group[p] == view], signatures)]  # fmt: skip
    head, words = ours[0]
    apart = [p for p in paths if group[p] != main]
    kinds = _listed(cameras[1:])  # type: ignore[arg-type]
    joined = [Join(head, (*filter(None, [words]),
                          f"written apart, as {'a drive of its' if len(others) == 1 else 'drives of their'} own: "
                          f"{len(apart)} file{'s'[: len(apart) != 1]} of the dashcam's {kinds} camera"
                          f"{'s'[: len(cameras) > 2]} (the {main} camera's are joined here): {_named(apart)}")),
              *(Join(part, tuple(filter(None, [words]))) for part, words in ours[1:])]  # fmt: skip
    first = next(p for p in head if p in signatures).name
    for view, part, words in others:
        joined.append(Join(part, (f"a drive of its own, apart from {first}'s: the dashcam's {view} camera's files, "
                                  f"where that drive's are its {main} camera's", *filter(None, [words])), apart=True))  # fmt: skip
    return joined


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


def _main_view(views: list[str | None]) -> str | None:
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
    main = _main_view(views)
    return next(p for p, view in zip(paths, views) if main is None or view == main)


def _one_view(paths: list[Path]) -> list[Path]:
    """The front camera's files where every name says which camera recorded it (:func:`camera_view`) and
    more than one camera's are here (joined, the drive would flip between them at every file); else
    ``paths``. The others are left out, with one line. Chosen before :func:`_one_camera`: a front camera
    at 4K beside two at 1080p is still the one joined.

    >>> [p.name for p in _one_view([Path("0800_NF.MP4"), Path("0800_NR.MP4"), Path("0801_EF.MP4")])]
    ['0800_NF.MP4', '0801_EF.MP4']
    >>> len(_one_view([Path("part_a.mp4"), Path("part_b.mp4"), Path("part_c.mp4")]))  # (not a camera's names)
    3
    """
    views = [camera_view(p.stem) for p in paths]
    if (main := _main_view(views)) is None:
        return paths
    other = [p for p, view in zip(paths, views) if view != main]
    names = _named(other)
    kinds = list(dict.fromkeys(v for v in views if v != main))
    theirs = _listed(kinds)
    log.warning("left out of the join: %d file%s of the dashcam's %s camera%s (the %s camera's are joined; a glob "
                "that matches one camera's names picks another; roadseg batch --concat writes each camera's as a drive of its "
                "own): %s", len(other), "s"[: len(other) != 1], theirs,
                "s"[: " and " in theirs], main, names)  # fmt: skip
    return [p for p, view in zip(paths, views) if view == main]


#: A date and time in a file's name, as dashcams write when a recording began: ``20261203_080000``
#: (BlackVue), ``2026_1203_080000`` (Viofo), ``2026-12-03_08-00-00`` (Tesla), ``20261203T080000``.
_NAME_TIME = re.compile(r"(?<!\d)(20\d\d)[-_]?(\d\d)[-_]?(\d\d)[-_T ]?(\d\d)[-_.:]?(\d\d)[-_.:]?(\d\d)(?!\d)")


def named_time(name: str) -> datetime | None:
    """When a file's ``name`` says its recording began (the camera's clock), or None.

    >>> [str(named_time(n)) for n in ("2026_1203_080000_0003F", "20261203_080000_NR", "2026-12-03_08-00-00-front")]
    ['2026-12-03 08:00:00', '2026-12-03 08:00:00', '2026-12-03 08:00:00']
    >>> named_time("GX010042"), named_time("20261399_250000")
    (None, None)
    """
    for m in _NAME_TIME.finditer(name):
        try:
            return datetime(*map(int, m.groups()))  # type: ignore[misc]
        except ValueError:  # (digits that are not a date: a counter)
            continue
    return None


def _tagged_time(tags: dict) -> datetime | None:
    """A file's ``creation_time`` tag as a naive UTC time, or None."""
    value = next((v for k, v in tags.items() if k.lower() == "creation_time"), None)
    try:
        when = datetime.fromisoformat(str(value).strip())  # (3.11 reads a trailing Z as UTC)
    except ValueError:
        return None
    return when.astimezone(timezone.utc).replace(tzinfo=None) if when.tzinfo else when


def drives(paths: Sequence[Path], gap: float) -> list[list[Path]]:
    """``paths`` (one folder's, in the order the camera recorded them:
    :func:`~roadseg.pipeline.inputs.recording_order`) cut into drives: a new one begins where the
    recording paused for more than ``gap`` seconds between one file's end and the next one's start, or
    where the clock goes back. When a file began is read from the names where every name holds a date
    and time (:func:`named_time`), else from the files' ``creation_time`` tags; a file without one (an
    unreadable file, cut off when the power went) goes on with the drive before it, as do up to three
    in a row whose tags would put them outside the drive that the files around them make (damaged); a
    GoPro's chapters, which it tags with their recording's start, run on one after another. Where
    neither tells, the files are one drive. A camera that writes every drive into one folder (most SD
    cards) so gets an output per drive from ``batch --concat``."""
    paths = list(paths)
    if len(paths) < 2 or gap == float("inf"):
        return [paths]
    return _cut(paths, {path: info for path, (_, info, _) in _probed(paths).items()}, gap)


def joins(paths: Sequence[Path], gap: float) -> list[Join]:
    """What ``batch --concat`` writes of one folder's ``paths`` (in the order the camera recorded them): its
    :func:`drives`, each cut again by camera (:func:`_cameras`: the dashcam's rear, inside or side camera's files,
    which :func:`~roadseg.pipeline.sources.concat.concat_source` leaves out, a drive of their own) and by format
    (:func:`_formats`: those of another codec, size, audio or order of streams, which it would leave out too), each with
    what its results line says of that (nothing where the drive is whole). Each file's header is read once, with ``gap``
    ``inf`` too (the folder one drive in time, its cameras and formats apart: their signatures are needed), then
    no packet of a transport stream's (its length unused: up to 33 video packets a file were read, a damaged one's to its
    end; 200 tiny .ts files 0.26 s -> 0.20 s here, 200 .mp4 files 0.15 s either way).

    >>> joins([Path("only.mp4")], 60) == [Join([Path("only.mp4")])]  # (one file: nothing read)
    True
    """
    paths = list(paths)
    if len(paths) < 2:
        return [Join(paths)]
    probed = _probed(paths, placed=gap != float("inf"))
    infos = {path: info for path, (_, info, _) in probed.items()}
    signatures = {path: signature for path, (signature, _, _) in probed.items()}
    cut = [paths] if gap == float("inf") else _cut(paths, infos, gap)
    return [part for drive in cut for part in _cameras(drive, signatures)]


def _cut(paths: list[Path], infos: dict[Path, VideoInfo], gap: float) -> list[list[Path]]:
    """:func:`drives` of files already probed (``infos``: the readable ones)."""
    named = [named_time(p.stem) for p in paths]
    seconds = _lengths(paths, infos)
    starts = named if all(named) else _unless_stray([_tagged_time(infos[p].tags) if p in infos else None
                                                     for p in paths], seconds, gap)  # fmt: skip
    groups: list[list[Path]] = []
    last: tuple[datetime, float] | None = None  # when the drive's latest file began, and its seconds
    recording = None  # the GoPro recording it is a chapter of
    for path, start, length in zip(paths, starts, seconds):
        chapter = start is not None and last is not None and start == last[0] and recording is not None and \
            gopro_recording(path.name) == recording  # fmt: skip
        if start is not None and last is not None:
            pause = (start - last[0]).total_seconds() - last[1]
            if pause > gap or start < last[0]:
                groups.append([])
        if not groups:
            groups.append([])
        groups[-1].append(path)
        if start is not None and not chapter:
            last, recording = (start, length), gopro_recording(path.name)
        elif last is not None:  # its time unknown, or its recording's (a GoPro's next chapter): the drive runs on
            last = (last[0], last[1] + length)
    return groups


def _lengths(paths: list[Path], infos: dict[Path, VideoInfo]) -> list[float]:
    """Each file's seconds; an unreadable one's (cut off, damaged) guessed from its size at the bytes a
    second of the nearest readable file of its camera before it (else after it), so a drive runs on
    through it."""

    def rate(p: Path) -> float | None:
        seconds = infos[p].duration if p in infos else None
        return _size(p) / seconds if seconds else None

    rates, views = [rate(p) for p in paths], [camera_view(p.stem) for p in paths]
    lengths = []
    for i, path in enumerate(paths):
        if path in infos:
            lengths.append(infos[path].duration or 0.0)
            continue
        nearest = [*range(i - 1, -1, -1), *range(i + 1, len(paths))]  # (before it, then after it)
        near = next((rates[j] for j in nearest if rates[j] and views[j] == views[i]), None)  # its camera's
        near = near or next((rates[j] for j in nearest if rates[j]), None)
        lengths.append(_size(path) / near if near else 0.0)
    return lengths


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


#: The most files in a row whose tags :func:`_unless_stray` drops (a damaged run, not a drive of its own).
STRAY_RUN = 3


def _unless_stray(starts: list[datetime | None], seconds: list[float], gap: float) -> list[datetime | None]:
    """``starts`` (from tags, in the camera's file order) less those that cannot be right: up to
    :data:`STRAY_RUN` files in a row whose times follow neither the file before them nor lead to the
    one after them, where those two follow each other within the run's seconds and ``gap`` (damaged
    tags, or a clock read wrongly), were recorded between them and go on with that drive. A file
    without a time (unreadable) may be in the run. A file that begins or ends the list keeps its time:
    a drive of its own is as likely; so does one that follows its neighbour on one side (a clock set
    back at power-up).

    >>> t = [datetime(2026, 12, 3, 8, 0, s) for s in (0, 1, 2, 3)]
    >>> _unless_stray([t[0], datetime(1970, 1, 1), t[2]], [1.0] * 3, 60) == [t[0], None, t[2]]
    True
    >>> (_unless_stray([t[0], datetime(1970, 1, 1), None, datetime(2038, 1, 19), t[3]], [1.0] * 5, 60)
    ...               == [t[0], None, None, None, t[3]])  # two damaged tags, an unreadable file beside them
    True
    >>> _unless_stray([t[0], datetime(2026, 12, 3, 9), datetime(2026, 12, 3, 10)], [1.0] * 3, 60)[1] is not None
    True
    >>> None in _unless_stray([t[0], t[1], t[0], t[1]], [1.0] * 4, 60)  # a clock that starts again at 08:00:00
    False
    """

    def follows(a: int, b: int) -> bool:  # b began after a, within the seconds between them and the gap
        return starts[b] >= starts[a] and (starts[b] - starts[a]).total_seconds() <= sum(seconds[a:b]) + gap  # type: ignore[operator]

    kept = list(starts)
    for a in range(len(starts) - 2):
        if kept[a] is None:
            continue
        run = []  # the tagged files after a that do not follow it
        for b in range(a + 1, min(a + STRAY_RUN + 2, len(starts))):
            if starts[b] is None:
                continue
            if follows(a, b):
                if not any(follows(r, b) for r in run):
                    for r in run:
                        kept[r] = None
                break
            run.append(b)
    return kept
