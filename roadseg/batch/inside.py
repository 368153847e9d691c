"""An output folder inside the INPUTs (``batch archive -o archive/segmented``), which the search leaves out: the
videos of its own refused (:func:`refuse_videos_in_output`), the outputs a search finds all the same left out
(:func:`leave_out_outputs`), by their results.jsonl or, where it is gone, by the hidden file a batch writes into the
output folder it makes (:func:`mark_output`). Folders are told apart by device and inode, not by their paths: a folder
reached by two names (a bind mount; ``/Videos`` and ``/videos`` where the filesystem folds case, macOS's and Windows'
by default) is one folder.

Example:
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "out").mkdir()
    >>> refuse_videos_in_output([root], root / "out", set())  # (nothing in it)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection, Sequence
from pathlib import Path

from roadseg.batch.errors import BatchError
from roadseg.batch.results import RESULTS, written_outputs
from roadseg.pipeline.inputs import Video, find_videos, local_path

log = logging.getLogger("roadseg")

#: The hidden file in an output folder that a batch made (:func:`mark_output`)
MARKER = ".roadseg-batch"
MARKER_TEXT = ("roadseg batch made this folder for its outputs. A later batch that finds it inside its INPUTs leaves "
               "out the videos its results.jsonl names, or every video in it where that file is gone. Delete this file "
               "to have them taken as inputs.\n")  # fmt: skip


def mark_output(out: Path) -> None:
    """Write :data:`MARKER` into ``out``, an output folder the batch has just made, so that a later batch that finds it
    inside its INPUTs knows its videos for outputs, results.jsonl or not (:func:`leave_out_outputs`). Not into a folder
    that was there: it may hold videos of its own. Where it cannot be written, the folder is told by its results.jsonl.

    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp())
    >>> mark_output(out)
    >>> (out / MARKER).read_text().startswith("roadseg batch made this folder")
    True
    """
    try:
        (out / MARKER).write_text(MARKER_TEXT, encoding="utf-8")
    except OSError:
        pass


def refuse_videos_in_output(specs: Sequence[str | os.PathLike], out_dir: Path, made: set[str],
                            targets: Collection[str] = ()) -> None:  # fmt: skip
    """Refuse an output folder that lies inside an INPUT folder (or a glob's base) and holds videos those INPUTs
    name that no earlier batch into it wrote and the search did not find (``made``: by their paths): the search leaves
    the output folder out, so they would not be done, unsaid (``batch archive -o archive/car7`` did all but car7's
    drives). A video where this batch writes an output (``targets``), or at such a name with another ending (an
    earlier ``--suffix``), is an earlier output, its results.jsonl removed: not refused. Inside is told by the folders
    themselves (device and inode), not their paths: an INPUT named otherwise (``/Videos`` for ``/videos`` where the
    filesystem folds case, a bind mount) is the same folder. The output folder is walked only where it lies inside
    such a folder; the INPUTs are searched again only where it holds such videos.

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> refuse_videos_in_output([root], root / "out", set())  # (no such folder, nothing in it)

    Raises:
        BatchError: one line naming the output folder and those videos.
    """
    real = out_dir.resolve()
    if not real.is_dir() or not {_file_id(p) for p in real.parents} & {_file_id(r) for r in _searched_roots(specs)}:
        return
    known, outputs = {_file_id(Path(p)) for p in made} - {None}, {os.path.splitext(t)[0] for t in targets}
    own = {_file_id(v.path): str(v.path) for v in find_videos([real])
           if str(v.path) not in made and _file_id(v.path) not in known and os.path.splitext(v.path)[0] not in outputs}
    if not own:
        return
    left = sorted({own[i] for v in find_videos(specs) if (i := _file_id(v.path)) in own})
    if left:
        shown = ", ".join(left[:3]) + (f" and {len(left) - 3} more" if len(left) > 3 else "")
        hint = "" if (real / RESULTS).exists() else ("; where they are outputs of an earlier batch whose results.jsonl "
                                                     "was removed, remove them or move them out of it")  # fmt: skip
        raise BatchError(f"the output folder {out_dir} lies inside the INPUTs and holds {_videos(len(left))} of its "
                         f"own ({shown}), which a search leaves out (the output folder is never searched): choose an "
                         f"output folder that holds no inputs{hint}")  # fmt: skip


def leave_out_outputs(videos: Sequence[Video], out_dir: Path) -> list[Video]:
    """``videos`` less the outputs a search found: those in the output folder ``out_dir`` reached by another name than
    its own (a bind mount; ``/Videos/out`` in ``/videos`` where the filesystem folds case), which the search leaves
    out by its path, and those of an earlier batch into another folder inside an INPUT folder, which that folder's
    results.jsonl names (was: ``batch archive -o archive/seg2`` segmented ``archive/seg1``'s outputs again), or, where
    that log is gone from a folder a batch made (:data:`MARKER`), every video in it; said in one line a folder. Only
    the folders inside an INPUT folder are looked at: one named as an INPUT is searched whole.

    >>> import tempfile; from pathlib import PurePath
    >>> root = Path(tempfile.mkdtemp())
    >>> leave_out_outputs([Video(root / "a/b.mp4", PurePath("a/b.mp4"))], root / "out")[0].rel
    PurePosixPath('a/b.mp4')
    """
    out_id = _file_id(out_dir)
    # (each folder looked at once: whether it is out_dir, its outputs: None where all its videos are)
    folders: dict[Path, tuple[bool, set[str] | None]] = {}
    kept, dropped = [], {}
    for video in videos:
        inside = list(video.path.parents)[: len(video.rel.parts) - 1]
        for folder in inside:
            if folder not in folders:
                folders[folder] = (out_id is not None and _file_id(folder) == out_id, _earlier_outputs(folder))
        names = {str(video.path), os.path.realpath(video.path)}
        out = next((f for f in inside if folders[f][0] or (made := folders[f][1]) is None or names & made), None)
        if out is None:
            kept.append(video)
        elif not folders[out][0]:
            dropped[out] = dropped.get(out, 0) + 1
    for folder, n in dropped.items():
        why = "its results.jsonl names them" if folders[folder][1] is not None else f"a batch made it: {MARKER}"
        log.warning("left out %s in %s: outputs of an earlier batch (%s)", _videos(n), folder, why)
    return kept


def _earlier_outputs(folder: Path) -> set[str] | None:
    """The outputs an earlier batch wrote into ``folder``, which its results.jsonl names; None (every video in it)
    where that log is gone from a folder a batch made (:data:`MARKER`)."""
    results = folder / RESULTS
    if not results.exists() and (folder / MARKER).exists():
        return None
    return written_outputs(results)


def _videos(n: int) -> str:
    """``n`` videos, in words.

    >>> _videos(1), _videos(2)
    ('1 video', '2 videos')
    """
    return f"{n} video{'s' * (n != 1)}"


def _file_id(path: Path) -> tuple[int, int] | None:
    """The file or folder ``path`` names, whatever the name: its device and inode; None where it is not there."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _searched_roots(specs: Sequence[str | os.PathLike]) -> list[Path]:
    """The folders ``specs`` search, by their real paths: a folder's, a glob's base (where its wildcards begin)."""
    roots = []
    for spec in map(str, specs):
        text = local_path(spec)
        if text.startswith("@"):
            continue
        parts = Path(text).expanduser().parts
        fixed = next((i for i, part in enumerate(parts) if any(c in part for c in "*?[")), len(parts))
        root = Path(*parts[:fixed]) if fixed else Path(".")
        if root.is_dir():
            roots.append(root.resolve())
    return roots
