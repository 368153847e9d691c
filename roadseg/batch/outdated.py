"""What an earlier run into the same OUT wrote of a video that this run does again without writing it: a masks folder
or a stats.json that would stay beside the new video though it no longer tells of it (was: ``--force`` without
``--masks`` left the masks of the model before beside the new video, unsaid). Only what a results line of this input
records as written (``wrote``), by no other input since, is taken (:func:`outdated`), said before any work
(:func:`say_outdated`) and removed once the video's line is written (:func:`remove_outdated`); a file batch did not
write is left be, and so are masks that still match the new video and those of a ``--masks-only`` run.

Example (the masks and stats a run with ``--masks --stats`` wrote, after ``--force`` without them):
    >>> ok = {"input": "/in/a.mp4", "output": "/nowhere/a.mp4", "status": "ok", "model": "m",
    ...       "wrote": {"video": "v", "masks": "k", "stats": "v"}}
    >>> outdated([ok], Task("/in/a.mp4", "/nowhere/a.mp4"), {}, "m", {"masks": "j"}, {})  # (not there)
    ()
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from contextlib import suppress
from datetime import datetime
from pathlib import Path

from tqdm import tqdm

from roadseg.batch.done import KINDS, last_writers, there
from roadseg.batch.task import Task, remove_path
from roadseg.errors import reason_of

#: How a line names each output
NAMES = {"masks": "masks", "stats": "stats.json"}


def outdated(history: Sequence[dict], task: Task, key: dict, model: str, every: dict[str, str],
             owners: Mapping[str, dict]) -> tuple[str, ...]:  # fmt: skip
    """The masks folder and stats file of ``task``'s video that this run does not write (``task.masks``,
    ``task.stats``) and that the last line of ``history`` (this input's lines) to write each, an ``ok`` line that
    records it, wrote otherwise than this run would (``every``: :func:`~roadseg.batch.done.wrote`'s digests of each
    kind, with ``model``): the masks a ``--masks`` run wrote beside its video, made by another model, with other
    options that shape them or of the input before it changed (``key``; was: with ``--force`` too, masks that still
    matched), unless they belong to a video that run wrote under another name (``--suffix``), which stays; the stats,
    which tell of the run that wrote them, where this run replaces an output that run wrote or their masks go. Never
    a path whose last writer of any input (``owners``: :func:`~roadseg.batch.done.owners`) is another input's, nor
    masks a ``--masks-only`` run wrote (a product of their own, not of a video). One a later line removed
    (``removed``) and written again since (by another hand) is not batch's; one still as it was (that removal cut
    short) is; a masks folder whose removal was cut short (its numbered masks left, no index) goes."""
    if not (history and isinstance(every, dict)):
        return ()
    writes = {kind for kind, path in zip(KINDS, task.final, strict=True) if path is not None}
    every_path = dict(zip(KINDS, Task(task.input, task.output, masks=True, stats=True, masks_only=task.masks_only).final,
                          strict=True))  # fmt: skip
    writers, gone = last_writers(history), []
    for kind in ("masks", "stats"):
        path = every_path[kind]
        written = writers.get(path) if path is not None and kind not in writes else None
        if written is None or path.is_symlink() or str(owners.get(str(path), {}).get("input", task.input)) != task.input:
            continue  # (an error line's or an earlier version's: not known as ours; a link, batch writes none: the
        stray = kind == "masks" and not there(path, kind) and _strays(path)  # user's; another input's: left be)
        i, line, digest = written
        if not (stray or there(path, kind)) or (not stray and _written_since(history[i + 1:], path, kind)):
            continue
        theirs = dict(zip(KINDS, Task(task.input, str(line.get("output")), masks=True, stats=True,
                                      masks_only=str(line.get("output")).endswith(".masks")).final, strict=True))  # fmt: skip
        if kind == "masks":
            elsewhere = "video" in line["wrote"] and theirs["video"] != task.final.video and theirs["video"].is_file()
            if "video" in line["wrote"] and not elsewhere and (
                    stray or line.get("model") != model or digest != every.get("masks")
                    or any(line.get(k) != v for k, v in key.items())):  # fmt: skip
                gone.append(path)
        elif any(k in line["wrote"] and theirs[k] == every_path[k] for k in writes) or (
                "masks" in line["wrote"] and every_path["masks"] in gone):  # fmt: skip
            gone.append(path)
    return tuple(map(str, gone))


def _strays(folder: Path) -> bool:
    """Whether ``folder`` (no ``masks.csv``: no run's whole masks) holds masks batch names (``000000.png`` ...), what a
    removal cut short leaves (:func:`remove_outdated` removes the index first)."""
    from roadseg.pipeline.sinks.maskindex import NUMBERED

    with suppress(OSError):
        return folder.is_dir() and any(NUMBERED.fullmatch(p.name) for p in folder.iterdir())
    return False


def _written_since(later: Sequence[dict], path: Path, kind: str) -> bool:
    """Whether a line of ``later`` removed ``path`` (``removed``) and what is there was written after that line (by
    another hand: not batch's); ``False`` where it is as it was (the removal cut short, or one that failed), so a later
    run removes it. A line without a ``time`` (of an earlier version): written since, left be.

    >>> _written_since([{"removed": ["/nowhere/a.stats.json"], "time": "2020-01-01T00:00:00+0000"}],
    ...                Path("/nowhere/a.stats.json"), "stats")  # (not there: nothing of another hand's)
    False
    """
    from roadseg.pipeline.sinks.maskindex import INDEX_NAME

    for line in later:
        if str(path) in (line.get("removed") or ()):
            try:
                when = datetime.strptime(str(line.get("time")), "%Y-%m-%dT%H:%M:%S%z").timestamp()
                return (path / INDEX_NAME if kind == "masks" else path).stat().st_mtime >= when
            except ValueError:
                return True
            except OSError:
                return False
    return False


def remove_outdated(paths: Sequence[str]) -> list[str]:
    """Remove ``paths`` (:func:`outdated`'s, once their video is done): a masks folder's ``masks.csv`` first (a
    removal cut short, by Ctrl-C, leaves no folder a later run takes for whole masks), the masks it names, and the
    folder where that empties it (a file of someone else's in it stays); the paths removed. One that cannot be
    (a read-only folder, an immutable file) is said in a line and left out, the others removed still (was: the
    batch stopped with a traceback, the finished video's line unwritten).

    >>> import tempfile
    >>> masks = Path(tempfile.mkdtemp()) / "a.masks"
    >>> masks.mkdir(); _ = (masks / "masks.csv").write_text("mask,time\\n000000.png,0.04\\n")
    >>> _ = (masks / "000000.png").write_bytes(b""); _ = (masks / "mine.txt").write_text("a note")
    >>> remove_outdated([str(masks)]) == [str(masks)], sorted(p.name for p in masks.iterdir())
    (True, ['mine.txt'])
    """
    removed = []
    for path in map(Path, paths):
        try:
            if path.is_dir() and not path.is_symlink():
                _remove_masks(path)
            elif path.is_file():
                remove_path(path)
            else:
                continue
        except OSError as exc:
            with suppress(OSError):  # (stderr gone: the batch records and cleans up still)
                tqdm.write(f"{path}: an earlier run's output that no longer tells of its video, not removed: "
                           f"{reason_of(exc)} (its line lists it; the next run tries again)", file=sys.stderr)  # fmt: skip
            continue
        removed.append(str(path))
    return removed


def _remove_masks(folder: Path) -> None:
    """Remove the masks folder ``folder``'s index, the masks it names and those named as batch names them
    (``000000.png`` ...: what a removal cut short left, no index naming them), and it where that empties it."""
    from roadseg.pipeline.sinks.maskindex import INDEX_NAME, NUMBERED, read_index

    _, lines = read_index(folder) or ("", [])
    (folder / INDEX_NAME).unlink(missing_ok=True)  # (first: without it the folder is no run's masks, done.there)
    numbered = [p.name for p in folder.iterdir() if NUMBERED.fullmatch(p.name)]
    for name in {*[line[0] for line in lines if "/" not in line[0]], *numbered}:
        (folder / name).unlink(missing_ok=True)  # (a file or a link: read_index's)
    with suppress(OSError):  # (not empty: what is left is not batch's)
        folder.rmdir()


def say_outdated(names: list[tuple[str, tuple[str, ...]]]) -> None:
    """One line, before any work, for each set of outputs that this run removes (``names``: each video's name, as
    :func:`~roadseg.batch.report.shown` names it, and its :func:`outdated` paths): :func:`outdated_line`."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for name, paths in names:
        if paths:
            kinds = tuple(k for k in NAMES if any(p.endswith(".masks" if k == "masks" else ".stats.json") for p in paths))
            groups.setdefault(kinds, []).append(name)
    for kinds, group in groups.items():
        print(outdated_line(kinds, group), file=sys.stderr, flush=True)


def outdated_line(kinds: tuple[str, ...], names: list[str]) -> str:
    """The line :func:`say_outdated` says of the videos ``names`` whose outputs ``kinds`` are removed.

    >>> outdated_line(("masks", "stats"), ["a.mp4"])
    'a.mp4: its masks and stats.json from an earlier run are removed once it is done again without them (they would not tell of its new output)'
    >>> outdated_line(("masks",), ["a.mp4", "b.mp4"])
    '2 videos: their masks from an earlier run are removed once each is done again without them (they would not tell of their new output)'
    """
    what, many = " and ".join(NAMES[k] for k in kinds), len(names) != 1
    why = f"without {'it' if kinds == ('stats',) else 'them'} (they would not tell of {'their' if many else 'its'} new output)"
    if not many:
        return f"{names[0]}: its {what} from an earlier run {'is' if kinds == ('stats',) else 'are'} removed once it is done again {why}"
    return f"{len(names)} videos: their {what} from an earlier run are removed once each is done again {why}"
