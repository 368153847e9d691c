"""What earlier runs into the same OUT left, settled before any work: outputs that hold another video's
(:func:`check_owners`), videos of one folder that would share an output (:func:`refuse_clashes`), a
video or drive done before under another name (:func:`renamed`), whose outputs are moved, not made again
(:func:`take_renamed`), a video found damaged before and unchanged since (:func:`count_unchanged`), and why one done
before whose input changed is done again (:func:`redone`).

Example (a video's output with its name's ending kept, and without):
    >>> _other_names(Task("/in/clip.ts", "/o/clip.mp4"))
    ('/o/clip.ts.mp4',)
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

from roadseg.batch.done import KINDS
from roadseg.batch.errors import BatchError
from roadseg.batch.report import Summary, shown, told
from roadseg.batch.results import ResultsLog, input_key, is_done, results_line
from roadseg.batch.task import Task, move_outputs


def check_owners(tasks: list[Task], keys: dict[str, dict], owners: dict[str, dict]) -> None:
    """Refuse, before any work, to write over an output an earlier run made of another video (a fleet
    segmented car by car into one folder: ``car2/a/clip.mp4`` onto ``car1/a/clip.mp4``'s output, which a
    rerun of car1 then took for its own), its masks folder and stats file too (``owners``:
    :func:`~roadseg.batch.done.owners`; was: the video's path alone, so ``cam2/ --masks-only`` wrote over the masks
    of ``cam1/ --masks``, which ``cam1/``'s next run then removed as its own). The same video found at another path
    (the archive moved or copied: its size and file count as recorded) is no other video."""
    clashes = []
    for task in tasks:
        key = keys[task.input]
        for kind, path in zip(KINDS, task.final, strict=True):
            earlier = owners.get(str(path)) if path is not None else None
            if earlier is None or str(earlier.get("input")) == task.input or not os.path.exists(path):
                continue
            if not (key and earlier.get("size") == key.get("size") and earlier.get("files") == key.get("files")):
                clashes.append((task, kind, path, earlier))
                break
    if clashes:
        task, kind, path, earlier = clashes[0]
        more = f" (and {len(clashes) - 1} more)" if len(clashes) > 1 else ""
        what = {"video": "output", "masks": "masks", "stats": "stats.json"}[kind]
        whose = "" if kind == "video" else f"'s {what}"
        raise BatchError(f"{task.input}{whose} would be written to {path}, which holds the {what} of "
                         f"{earlier['input']} from an earlier run{more}; choose another output folder, or give the "
                         "folder that holds both as INPUT (its layout keeps them apart)")  # fmt: skip


def refuse_clashes(clashes: list[tuple[Path, list]], results: ResultsLog, summary: Summary, model: str, settings: str,
                    previous: dict[str, dict], *, quiet: bool) -> None:  # fmt: skip
    """Fail each video of one folder that would share its output with another though their names' endings are
    kept (``clip.ts`` beside ``clip.ts.mp4``: :func:`~roadseg.batch.inputs.plan_outputs`), with an ``error`` line
    and one on standard error, before the batch's other videos run: which one took the name would hang on which
    came first, and change when another file appeared. A rerun that finds the same clash writes no line again
    (its line stands: a nightly rerun adds none)."""
    for target, videos in clashes:
        for video in videos:
            others = ", ".join(v.path.name for v in videos if v is not video)
            task = Task(str(video.path), str(target))
            error = f"would be written to {target}, as {others} beside it would; rename one (none of them is done until then)"
            line = results_line(task, {"status": "error", "frames": 0, "error": error}, input_key(video.path), model, settings)
            before = previous.get(task.input) or {}
            if any(before.get(k) != v for k, v in line.items() if k != "time"):
                results.write(line)
            summary.error += 1  # (no node's: none ran it)
            if not quiet:
                print(f"{video.path}: error, {error}", file=sys.stderr, flush=True)


def renamed(task: Task, previous: dict[str, dict], key: dict, model: str, settings: str, targets: set[str]
             ) -> dict | None:  # fmt: skip
    """The earlier ``ok`` line of this video or drive under its other name, after its outputs were moved to
    ``task``'s (:func:`~roadseg.batch.task.move_outputs`); ``None`` if there is none. With ``batch --concat``
    a folder's drive is named after the folder while it holds one drive (``OUT/a.mp4``) and after its
    first file once it holds several (``OUT/a/<first>.mp4``), so a card that gains a drive (or loses its
    oldest) renames its drives: the same files (size, times, count), model and settings, made from this
    folder or one of its files, under that one other name (same OUT, same suffix). A video (or a drive's
    first file) keeps its name's ending in its output's name while a file beside it differs from it only
    by that (``OUT/clip.mp4.mp4`` beside ``clip.ts``: :func:`~roadseg.batch.inputs.plan_outputs`), so
    such a file that comes or goes renames it."""
    sources = (os.path.dirname(task.parts[0]), *task.parts) if task.parts else (task.input,)
    others = _other_names(task)
    for source in sources:
        line = previous.get(source)
        if (line is not None and (other := str(line.get("output"))) in others and other not in targets
                and is_done(line, Path(other), key, model, settings)):  # fmt: skip
            return line
    return None


def _other_names(task: Task) -> tuple[str, ...]:
    """The names ``task``'s video had (or will have) with its name's ending kept (or without), or its drive
    when its folder held several drives (or one)."""
    target = Path(task.output)
    if not task.parts:
        return (_ending_toggled(target, Path(task.input).name),)
    if os.path.isdir(task.input):  # named after its folder: OUT/a.mp4 -> OUT/a/<first file>.mp4
        from roadseg.pipeline.sources.cameras import first_of_view

        first, folder = first_of_view([Path(p) for p in task.parts]), target.with_name(target.stem)
        # (or with its first file's ending kept, where another drive's first file differed from it only by that)
        return str(folder / (first.stem + target.suffix)), str(folder / (first.name + target.suffix))
    return (str(target.parent.with_name(target.parent.name + target.suffix)),  # OUT/a/<first>.mp4 -> OUT/a.mp4
            _ending_toggled(target, Path(task.input).name))  # (its input: the first file it is named after)


def _ending_toggled(target: Path, name: str) -> str:
    """``target``, named after the file ``name``, with that name's ending kept, or without it where it was kept.

    >>> _ending_toggled(Path("/o/clip.mp4"), "clip.ts"), _ending_toggled(Path("/o/clip.ts.mp4"), "clip.ts")
    ('/o/clip.ts.mp4', '/o/clip.mp4')
    """
    kept = target.name == name + target.suffix
    return str(target.with_name((Path(name).stem if kept else name) + target.suffix))


def count_unchanged(task: Task, done: dict, out: Path, summary: Summary, quiet: bool) -> None:
    """Count ``task``, found damaged before and unchanged since, as an error, without trying it again."""
    summary.error += 1  # (no line: its error line stands; a nightly rerun would add one a broken file)
    summary.unchanged += 1
    if not quiet:
        when = f" at {done['time']}" if done.get("time") else ""  # (lines of earlier versions may lack it)
        print(f"{shown(task.input, task.output, out)}: error, unchanged since it failed{when}: {told(done.get('error'), task.input)} "
              "(not tried again; --retry-failed does)", file=sys.stderr, flush=True)  # fmt: skip


def take_renamed(task: Task, earlier: dict, out: Path, results: ResultsLog, summary: Summary, quiet: bool) -> None:
    """Move the outputs ``earlier`` (the same video, done under another output name) to ``task``'s names, and
    log it as done so: skipped, not redone."""
    moved = {**earlier, "input": task.input, "output": task.output, "renamed_from": earlier["output"]}
    results.write(moved)  # (first: a crash before the move leaves the old name, done again next run)
    move_outputs(replace(task, input=earlier["input"], output=earlier["output"]), task)
    summary.add({"status": "skipped", "frames": earlier.get("frames")})
    if not quiet:
        why = ("the folder's drives changed" if task.parts else
               "a video beside it whose name differs only by its ending came or went")  # fmt: skip
        print(f"{os.path.relpath(task.output, out)}: done before as "
              f"{os.path.relpath(earlier['output'], out)} ({why}); renamed, not redone",
              file=sys.stderr, flush=True)  # fmt: skip


def redone(task: Task, done: dict | None, key: dict) -> str | None:
    """Why a video or drive done before (``done``, its ``ok`` line, by any model and options: the input's change is
    the news; was: nothing said where the options changed too) is done again: its input changed since; with ``batch
    --concat`` the drive gained or lost a file (a dashcam's next file of the same drive, copied in after the nightly
    run), or one of its files changed. ``None`` where it was not done
    before so, or its input is as it was (then :func:`~roadseg.batch.again.why_again` tells).

    >>> line = {"status": "ok", "model": "m", "settings": "s", "size": 9, "mtime_ns": 1, "files": 2, "time": "T"}
    >>> redone(Task("/in/d1", "/o/d1.mp4", parts=("a", "b", "c")), line, {"size": 12, "mtime_ns": 2, "files": 3})
    'redone, it gained 1 file since it was done at T (3 files, were 2)'
    >>> redone(Task("/in/d1", "/o/d1.mp4", parts=("a",)), line, {"size": 3, "mtime_ns": 2, "files": 1})
    'redone, it lost 1 file since it was done at T (1 file, were 2)'
    >>> redone(Task("/in/a.mp4", "/o/a.mp4"), line, {"size": 12, "mtime_ns": 2})
    'redone, it changed since it was done at T'
    """
    if done is None or done.get("status") != "ok" or not key or all(done.get(k) == v for k, v in key.items()):
        return None
    when = f" at {done['time']}" if done.get("time") else ""  # (lines of earlier versions may lack it)
    files, was = key.get("files"), done.get("files")
    if not task.parts or not isinstance(was, int) or files == was:
        what = "one of its files changed" if task.parts else "it changed"
        return f"redone, {what} since it was done{when}"
    n = abs(files - was)
    what = f"{'gained' if files > was else 'lost'} {n} file{'s' * (n != 1)}"
    return f"redone, it {what} since it was done{when} ({files} file{'s' * (files != 1)}, were {was})"


def say_cut_short(n: int) -> None:
    """One line, before any work, for the ``n`` videos that an earlier run was stopped in (their last line
    ``interrupted``, nothing of them kept) and this one does again (was: done again without a word).

    >>> say_cut_short(0)  # (nothing said)
    >>> say_cut_short(2)  # doctest: +SKIP
    2 videos cut short by an earlier run are done again
    """
    if n:
        print(f"{n} video{'s' * (n != 1)} cut short by an earlier run {'are' if n != 1 else 'is'} done again",
              file=sys.stderr, flush=True)  # fmt: skip
