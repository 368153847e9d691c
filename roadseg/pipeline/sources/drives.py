"""Which files are joined together: one folder's files cut into drives for ``batch --concat`` (:func:`drives`,
where the recording paused or the clock went back, by the names' times or the files' ``creation_time`` tags;
:func:`joins`, each drive cut again by camera and by format, as :mod:`~roadseg.pipeline.sources.cameras` tells them
apart: the files :func:`~roadseg.pipeline.sources.concat.concat_source` joins, then the others, each a drive of
their own).

Example:
    >>> str(named_time("20261203_080000_NR")), named_time("GX010042")
    ('2026-12-03 08:00:00', None)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

from roadseg.pipeline.inputs import gopro_recording
from roadseg.pipeline.sources.base import VideoInfo
from roadseg.pipeline.sources.cameras import camera, camera_view, main_view
from roadseg.pipeline.sources.probe import Signature, described, listed, named_files, probe_each


def _formats(paths: list[Path], signatures: dict[Path, Signature]) -> list[tuple[list[Path], str]]:
    """``paths`` (one camera's files of a drive) as ``batch --concat`` writes them: the files
    :func:`~roadseg.pipeline.sources.concat.concat_source` joins, then, where it would leave some out as of another
    camera or format (another codec, size, turn, audio or order of streams), those it joins of the rest, and so on: each a
    drive of its own, none of the footage lost. Those that cannot be read (not in ``signatures``) stay with the first,
    which leaves them out with its line. Each with what its results line says of it (empty where the drive is whole).

    >>> v = ("h264", 64, 48, 0)
    >>> va, vda = (v, ("aac",), ("video", "audio")), (v, ("aac",), ("video", "data", "audio"))
    >>> a, b, c, d = (Path(n) for n in ("0800_NF.MP4", "0801_NF.MP4", "0802_NF.MP4", "0803_NF.MP4"))
    >>> [[p.name for p in part] for part, _ in _formats([a, b, c, d], {a: vda, b: va, c: vda})]
    [['0800_NF.MP4', '0802_NF.MP4', '0803_NF.MP4'], ['0801_NF.MP4']]
    """
    rest = [p for p in paths if p in signatures]
    parts = []
    while rest:
        kept, _ = camera([signatures[p] for p in rest])
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
             f"file{'s'[: len(apart) != 1]} of another camera or format ({described(theirs, ours)}, where the others "
             f"are {described(ours, theirs)}): {named_files(apart)}")]  # fmt: skip
    for part in parts[1:]:
        mine = signatures[part[0]]
        said.append((part, f"a drive of its own, apart from {parts[0][0].name}'s: its files are of another camera or "
                           f"format ({described(mine, ours)}, where that drive's are {described(ours, mine)})"))  # fmt: skip
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
    recorded it: :func:`one_view`), then each other camera's files as drives of their own (``apart``), where it leaves
    them out; each camera's cut by :func:`_formats`. A file that cannot be read goes with its camera's, else with the
    first drive, whose worker leaves it out with its line. (Was: the other cameras' files left out, their footage in no
    output.)

    >>> v, w = (("h264", 64, 48, 0), ("aac",), ("video", "audio")), (("h264", 32, 24, 0), (), ("video",))
    >>> f, r, g, s = (Path(n) for n in ("0800_NF.MP4", "0800_NR.MP4", "0801_NF.MP4", "0801_NR.MP4"))
    >>> [([p.name for p in join.files], join.apart) for join in _cameras([f, r, g, s], {f: v, r: w, g: v, s: w})]
    [(['0800_NF.MP4', '0801_NF.MP4'], False), (['0800_NR.MP4', '0801_NR.MP4'], True)]
    >>> i, j, k, m, n = (Path(n) for n in ("0800_I.MP4", "0800_R.MP4", "0801_I.MP4", "0801_R.MP4", "0802_R.MP4"))
    >>> [[p.name for p in join.files] for join in _cameras([i, j, k, m, n], {i: v, j: w, k: v, m: w, n: v})]
    [['0800_R.MP4', '0801_R.MP4'], ['0802_R.MP4'], ['0800_I.MP4', '0801_I.MP4']]
    """
    views = {p: camera_view(p.stem) for p in paths}
    main = main_view([views[p] for p in paths if p in signatures])  # (as the worker chooses: of those it reads)
    if main is None:
        return [Join(part, tuple(filter(None, [words]))) for part, words in _formats(paths, signatures)]
    cameras = sorted(dict.fromkeys(views[p] for p in paths if p in signatures), key=lambda view: view != main)
    group = {p: views[p] if views[p] in cameras else main for p in paths}
    ours = _formats([p for p in paths if group[p] == main], signatures)
    others = [(view, part, words) for view in cameras[1:]
              for part, words in _formats([p for p in paths if group[p] == view], signatures)]  # fmt: skip
    head, words = ours[0]
    apart = [p for p in paths if group[p] != main]
    kinds = listed(cameras[1:])  # type: ignore[arg-type]
    joined = [Join(head, (*filter(None, [words]),
                          f"written apart, as {'a drive of its' if len(others) == 1 else 'drives of their'} own: "
                          f"{len(apart)} file{'s'[: len(apart) != 1]} of the dashcam's {kinds} camera"
                          f"{'s'[: len(cameras) > 2]} (the {main} camera's are joined here): {named_files(apart)}")),
              *(Join(part, tuple(filter(None, [words]))) for part, words in ours[1:])]  # fmt: skip
    first = next(p for p in head if p in signatures).name
    for view, part, words in others:
        joined.append(Join(part, (f"a drive of its own, apart from {first}'s: the dashcam's {view} camera's files, "
                                  f"where that drive's are its {main} camera's", *filter(None, [words])), apart=True))  # fmt: skip
    return joined


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
    return cut_drives(paths, {path: info for path, (_, info, _) in probe_each(paths).items()}, gap)


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
    probed = probe_each(paths, placed=gap != float("inf"))
    infos = {path: info for path, (_, info, _) in probed.items()}
    signatures = {path: signature for path, (signature, _, _) in probed.items()}
    cut = [paths] if gap == float("inf") else cut_drives(paths, infos, gap)
    return [part for drive in cut for part in _cameras(drive, signatures)]


def cut_drives(paths: list[Path], infos: dict[Path, VideoInfo], gap: float) -> list[list[Path]]:
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
