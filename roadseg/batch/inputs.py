"""Where each video of a batch writes its output (which videos: :mod:`roadseg.pipeline.inputs`), and the INPUTs
a batch refuses: a stream of its own process, standard input (``-``) or a ``<(...)``, which its workers cannot read
(:func:`refuse_streams`). (An output folder inside the INPUTs: :mod:`roadseg.batch.inside`.)

Outputs keep the inputs' layout relative to the folder, glob base or list they came from:
``IN/a/b.mov`` -> ``OUT_DIR/a/b.mp4``; a file named on its own lands at ``OUT_DIR/<name>.mp4``; files of one
folder whose names differ only by their ending keep it, ``IN/a/b.mov`` beside ``IN/a/b.mp4`` -> ``OUT_DIR/a/b.mov.mp4``.
With ``--concat`` each folder's videos are one input (:func:`by_folder`): ``IN/a/*.MP4`` ->
``OUT_DIR/a.mp4``, and the files directly in ``IN`` -> ``OUT_DIR/IN.mp4``; a folder that holds
several drives (pauses longer than ``gap``, or files of another format than those joined)
gets ``OUT_DIR/a/<first file's name>.mp4`` for each (``<first file's name with its ending>.mp4`` where two
drives' first files' names differ only by that), as each drive of a dual dashcam's rear (inside, side)
camera does (a rerun moves a drive's outputs when its name changes: :func:`roadseg.batch.rerun.renamed`).
Where OUT_DIR's filesystem does not tell names apart by case (macOS's and Windows' by default, an SMB share:
:func:`folds_case`), names are compared so: ``Clip.mp4`` beside ``clip.mov`` each keep their ending there.

Example:
    >>> import tempfile, pathlib
    >>> from roadseg.pipeline.inputs import find_videos
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for p in ("a/b.mov", "a/c.MP4"):
    ...     (root / p).parent.mkdir(parents=True, exist_ok=True); _ = (root / p).write_bytes(b"x")
    >>> [str(p.relative_to(root)) for p in plan_outputs(find_videos([root]), root / "out").values()]
    ['out/a/b.mp4', 'out/a/c.mp4']
    >>> [(d.name, str(p.relative_to(root)), [f.name for f in files]) for d, p, files in plan_joined(find_videos([root]), root / "out")]
    [('a', 'out/a.mp4', ['b.mov', 'c.MP4'])]
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path, PurePath

from roadseg.batch.errors import BatchError
from roadseg.pipeline.inputs import Video, recording_order


def plan_outputs(videos: Sequence[Video], out_dir: Path, suffix: str = ".mp4", *, folders: Sequence[Path] = (),
                 clashes: list[tuple[Path, list[Video]]] | None = None,
                 said: dict[Path, tuple[str, ...]] | None = None) -> dict[Video, Path]:  # fmt: skip
    """Map each video to ``out_dir/rel`` with ``suffix``; refuse collisions and outputs that are inputs.
    With ``folders`` (the files they hold), ``videos`` are folders, each named ``rel`` + ``suffix``.
    Videos of one folder whose names differ only by their ending (``clip.mp4`` beside ``clip.mov``) each
    keep it in their output's name, ``clip.mp4.mp4`` and ``clip.mov.mp4``: whichever came first, neither
    takes ``clip.mp4``; ``said`` gets what their results lines say of it, by their paths. With ``clashes``,
    videos of one folder that would share an output even so (``clip.mov.mp4`` beside those) are left out of
    the plan and put there with their output, not refused: the batch's other videos go on.

    Where ``out_dir``'s filesystem takes names that differ only by case for one (:func:`folds_case`), they are
    compared so (``Clip.mp4`` beside ``clip.mov``: ``Clip.mp4.mp4``, ``clip.mov.mp4``).

    Raises:
        BatchError: two inputs would share an output (of one folder: without ``clashes``), or an output
            would replace an input.
    """
    out_dir = out_dir.resolve()
    # (lower(), not casefold(): such filesystems fold one letter to one, by a table (NTFS's, exFAT's, HFS+'s); 'ß' stays
    # 'ß' there, its own file beside 'ss', which casefold() makes it)
    key = (lambda p: Path(str(p).lower())) if folds_case(out_dir) else (lambda p: p)
    plain: dict[Path, list[Video]] = {}
    for video in videos:
        plain.setdefault(key(out_dir / _plain_rel(video, suffix, folders)), []).append(video)
    targets = {}
    for vs in plain.values():
        ending = len(vs) > 1 and len({v.path.parent for v in vs}) == 1  # (of one folder: each keeps its ending)
        for video in vs:
            target = out_dir / _plain_rel(video, suffix, folders)
            targets[video] = target.with_name(video.path.name + suffix) if ending else target
            if ending and said is not None:
                others = ", ".join(v.path.name for v in vs if v is not video)
                said[video.path] = (*said.get(video.path, ()),
                                    f"written to {targets[video].name}, its name's ending kept, as {others} beside it "
                                    f"would be written to {target.name} too")  # fmt: skip
    owners: dict[Path, list[Video]] = {}
    inputs = {key(Path(os.path.realpath(p))) for p in [*(v.path for v in videos), *folders]}
    for video, target in targets.items():
        if key(target) in owners and (clashes is None or owners[key(target)][0].path.parent != video.path.parent):
            first = owners[key(target)][0]
            raise BatchError(_shared(first.path, targets[first], video.path, target))
        if key(Path(os.path.realpath(target))) in inputs:  # (also a link to an input, or under one; a.mp4 of a.MP4)
            raise BatchError(f"the output {target} would replace an input; choose another output folder")
        owners.setdefault(key(target), []).append(video)
    if clashes is not None:
        clashes.extend((targets[vs[0]], vs) for vs in owners.values() if len(vs) > 1)
    return {vs[0]: targets[vs[0]] for vs in owners.values() if len(vs) == 1}


def _shared(other: Path, its: Path, path: Path, target: Path) -> str:
    """What a plan says of the inputs ``other`` and ``path`` whose outputs ``its`` and ``target`` would be one file
    (the same name, or names that differ only by case where the output folder's filesystem takes them for one).

    >>> _shared(Path("/in/A/x.mp4"), Path("/o/A/x.mp4"), Path("/in/a/x.mp4"), Path("/o/a/x.mp4"))
    '/in/A/x.mp4 and /in/a/x.mp4 would both be written to /o/a/x.mp4, the same file as /o/A/x.mp4 there (its filesystem does not tell case apart); rename one'
    """
    beside, case = other.parent == path.parent, its != target
    how = ("rename one" if beside or case else "give the folder that holds both (or a quoted glob from there), whose "
           "layout keeps them apart: each folder named as an INPUT puts its own layout straight into the output folder")
    same = f", the same file as {its} there (its filesystem does not tell case apart)" if case else ""
    return f"{other} and {path} would both be written to {target}{same}; {how}"


def _plain_rel(video: Video, suffix: str, folders: Sequence[Path]) -> PurePath:
    """Where ``video`` writes under the output folder, its name's ending not kept: a folder's (``folders``) named
    ``rel`` + ``suffix``, a file's ``rel`` with ``suffix`` for its ending."""
    return video.rel.with_name(video.rel.name + suffix) if folders else video.rel.with_suffix(suffix)


def folds_case(folder: Path) -> bool:
    """Whether the filesystem of ``folder`` takes names that differ only by case for one name (macOS's and Windows'
    by default, an SMB share, FAT and exFAT), where two outputs so named would be one file: by a file made there and
    looked for with its name in capitals. ``False`` where ``folder`` is no folder one can write into.

    >>> import tempfile; folds_case(Path(tempfile.mkdtemp()))  # (Linux's filesystems tell case apart)
    False
    """
    try:
        fd, name = tempfile.mkstemp(prefix=".roadseg-case-", dir=folder)
    except OSError:
        return False
    os.close(fd)
    try:
        return os.path.exists(os.path.join(folder, os.path.basename(name).upper()))
    finally:
        os.unlink(name)


def refuse_streams(specs: Sequence[str | os.PathLike]) -> None:
    """Refuse, in one line, an INPUT that is a stream of this process: ``-`` (standard input), or a name of
    one of its pipes (``/dev/stdin``, ``<(...)``'s ``/dev/fd/63``), whose path is no file another process (a
    worker) can open. A batch reads files; a pipe is one video, for ``segment-video``. (A named pipe is a
    file: a worker opens it by its name. ``/dev/stdin`` of a file is that file.)

    >>> refuse_streams(["sample_videos", "sample_videos/road.mp4"])
    >>> refuse_streams(["-"])
    Traceback (most recent call last):
    roadseg.batch.errors.BatchError: - is standard input, which batch does not read: its INPUTs are video files, folders, globs and @lists; to segment a video piped in, use segment-video - -o OUT.mp4

    Raises:
        BatchError: such an INPUT, the first one.
    """
    for spec in map(str, specs):
        if spec == "-":
            raise BatchError("- is standard input, which batch does not read: its INPUTs are video files, folders, "
                             "globs and @lists; to segment a video piped in, use segment-video - -o OUT.mp4")  # fmt: skip
        if os.path.exists(spec) and not os.path.exists(real := os.path.realpath(spec)):  # (/proc/PID/fd/pipe:[N])
            raise BatchError(f"{spec} is a stream of this process ({os.path.basename(real)}), which batch's workers "
                             "cannot open: its INPUTs are video files, folders, globs and @lists; to segment a video "
                             f"piped in, use segment-video {spec} -o OUT.mp4")  # fmt: skip


def by_folder(videos: Sequence[Video]) -> dict[Video, list[Path]]:
    """Each folder's videos as one input (``batch --concat``: a dashcam's drive a folder), in the order
    the folders first come, its files in name order (:func:`recording_order`: a GoPro's chapters in
    turn). The key is a :class:`Video` for the folder, whose ``rel`` is its place under the output
    folder: the files' own folder (``a``), or the folder's name where they were directly in an INPUT
    folder or named on their own."""
    groups: dict[Path, list[Video]] = {}
    for video in videos:
        groups.setdefault(video.path.parent, []).append(video)
    return {Video(folder, _folder_rel(folder, members[0].rel)):
            sorted((v.path for v in members), key=lambda p: recording_order(p.name))
            for folder, members in groups.items()}  # fmt: skip


def _folder_rel(folder: Path, rel: PurePath) -> PurePath:
    return rel.parent if rel.parent != PurePath(".") else PurePath(folder.name or "drive")


def plan_joined(videos: Sequence[Video], out_dir: Path, suffix: str = ".mp4", *, gap: float = float("inf"),
                clashes: list[tuple[Path, list[Video]]] | None = None,
                said: dict[Path, tuple[str, ...]] | None = None) -> list[tuple[Path, Path, list[Path]]]:  # fmt: skip
    """``batch --concat``'s plan: each drive (what it is named by: its folder, or its first file where
    the folder holds several), its output and the files it joins. A folder's files are one drive
    (:func:`by_folder`) unless the recording paused for more than ``gap`` seconds between them, and
    its files of another camera (a dual dashcam's rear camera's, by their names) or format than those
    joined (another codec, size, audio or order of streams) are a drive of their own
    (:func:`~roadseg.pipeline.sources.drives.joins`, which reads the files' headers): another camera's
    always named by its first file, so that a folder of one drive of the front camera stays named after
    the folder. ``said`` gets what the results line of a drive so cut apart says of it, by what it is
    named by. BatchError as :func:`plan_outputs`, which ``clashes`` goes to."""
    from roadseg.pipeline.sources.cameras import first_of_view  # (PyAV: only where files are joined)
    from roadseg.pipeline.sources.drives import joins

    units: dict[Video, list[Path]] = {}
    for folder, files in by_folder(videos).items():
        parts = joins(files, gap)
        whole = sum(not part.apart for part in parts) == 1  # (one drive of the camera joined: named after the folder)
        for part in parts:
            first = first_of_view(part.files)
            unit = folder if whole and not part.apart else Video(first, folder.rel / first.stem)
            units[unit] = part.files
            if part.said and said is not None:
                said[unit.path] = part.said
    planned = plan_outputs(list(units), out_dir, suffix, folders=[p for files in units.values() for p in files],
                           clashes=clashes, said=said)  # fmt: skip
    return [(unit.path, target, units[unit]) for unit, target in planned.items()]
