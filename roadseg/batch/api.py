"""``roadseg.batch``: segment many videos into a folder, on a local process pool or a Ray cluster.

Example:
    >>> import roadseg
    >>> summary = roadseg.batch(["dashcam/"], "segmented/", workers=2)        # doctest: +SKIP
    >>> summary = roadseg.batch("@archive.txt", "/shared/out", ray="auto")    # doctest: +SKIP
    >>> print(summary.table())                                                # doctest: +SKIP
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from pathlib import Path

from roadseg.batch.again import say_again, why_again, why_retried
from roadseg.batch.done import done_before, histories, owners, wrote
from roadseg.batch.errors import BatchError
from roadseg.batch.inputs import plan_joined, plan_outputs, refuse_streams
from roadseg.batch.inside import MARKER, leave_out_outputs, mark_output, refuse_videos_in_output
from roadseg.batch.launch import run
from roadseg.batch.options import (
    BatchOptions,
    check_encoder,
    check_live_only,
    check_masks_only,
    check_numbers,
    check_per_video,
    model_file,
    resolve_options,
    video_suffix,
    workers_model_key,
)
from roadseg.batch.outdated import outdated, say_outdated
from roadseg.batch.report import Summary, shown
from roadseg.batch.rerun import (
    check_owners,
    count_unchanged,
    redone,
    refuse_clashes,
    renamed,
    say_cut_short,
    take_renamed,
)
from roadseg.batch.results import (
    RESULTS,
    ResultsLog,
    input_key,
    is_damaged,
    latest_outcomes,
    output_fields,
    read_results,
    results_line,
    settings_key,
    written_outputs,
)
from roadseg.batch.task import Task, remove_stale_temps
from roadseg.errors import SourceError, reason_of
from roadseg.pipeline.inputs import Video, find_videos
from roadseg.pipeline.options import SegmentOptions
from roadseg.pipeline.suffixes import VIDEO_SUFFIXES


def batch(inputs: str | os.PathLike | Sequence[str | os.PathLike], out_dir: str | os.PathLike,
          options: BatchOptions | None = None, segment: SegmentOptions | None = None, **kw) -> Summary:  # fmt: skip
    """Segment every video of ``inputs`` into ``out_dir`` (same relative layout, ``.mp4`` or ``suffix``).

    Keyword arguments override fields of :class:`BatchOptions`, else of ``SegmentOptions``. Each video
    run gets one line in ``out_dir/results.jsonl``; a video that a previous run finished (same input size
    and mtime, model and output settings, output present) is skipped unless ``force``: counted in the
    summary, with no line (its ``ok`` line stands). So is one found damaged before, unchanged since and
    read by the same roadseg and PyAV (:func:`~roadseg.batch.results.reader`), unless ``retry_failed`` (or
    ``force``): counted as an error, with no line (its ``error`` line stands).

    Returns:
        the :class:`~roadseg.batch.report.Summary` (``summary.failed`` when any video failed).

    Raises:
        BatchError: before any work (no videos, INPUTs whose layouts collide, no workers, Ray missing, a number
            no run takes: ``start=-1``, an option of a live run: ``show=True`` ...).
        BatchInterrupted: Ctrl-C/SIGTERM before every video was recorded; finished outputs stay, unfinished
            ones are removed.
    """
    from roadseg.batch.local import leave_if_importing_main

    leave_if_importing_main()  # (a script without 'if __name__ == "__main__":', run again in a worker)
    bopts, sopts = resolve_options(options, segment, kw)
    if sopts.model:  # (named as typed where it is not there; absolute for the workers: Ray's do not run here)
        sopts = replace(sopts, model=os.path.abspath(model_file(sopts.model)))
    check_per_video(sopts)
    check_numbers(sopts)
    check_live_only(sopts)
    check_masks_only(sopts, bopts)
    if bopts.masks_only:  # (implies masks; nothing encoded: no encoder to check)
        bopts = replace(bopts, masks=True)
    suffix = video_suffix(bopts.suffix)
    if not bopts.masks_only:
        check_encoder(sopts, suffix)
    out = Path(out_dir)
    with _made(out), _only_batch(out):
        return _batch(inputs, out, suffix, bopts, sopts)


def _batch(inputs: str | os.PathLike | Sequence[str | os.PathLike], out: Path, suffix: str, bopts: BatchOptions,
           sopts: SegmentOptions) -> Summary:  # fmt: skip
    """:func:`batch` in ``out``, which it holds: find the videos, skip what is done, run the rest."""
    tasks, clashes, logged, unsearched = _plan(inputs, out, suffix, bopts)
    model, settings = workers_model_key(sopts, bopts), settings_key(sopts, masks=bopts.masks, stats=bopts.stats,
                                                                   masks_only=bopts.masks_only)  # fmt: skip
    summary = Summary(results=str(out / RESULTS), unsearched=unsearched)
    t0 = time.perf_counter()
    keys = {task.input: input_key(task.input, task.parts) for task in tasks}  # before any work: what the output is of
    check_owners(tasks, keys, owners(logged))
    with ResultsLog(out / RESULTS) as results:
        todo = _settle(tasks, clashes, logged, keys, out, results, summary, model, settings, bopts, sopts)
        if todo:
            run(todo, bopts, sopts, out, results, summary, model, settings, keys)
    summary.wall = time.perf_counter() - t0
    return summary


def _plan(inputs: str | os.PathLike | Sequence[str | os.PathLike], out: Path, suffix: str, bopts: BatchOptions
          ) -> tuple[list[Task], list[tuple[Path, list]], list[dict], int]:  # fmt: skip
    """The tasks of ``inputs`` into ``out`` (less the outputs an earlier batch made there), the videos of one folder
    that would share an output (:func:`_tasks`' ``clashes``), the lines of ``out``'s results log and how many folders
    could not be searched; BatchError where there is no video, or ``out`` holds videos of its own."""
    specs = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    unsearched: list[str] = []
    found, logged = _videos(specs, out, unsearched)
    made = written_outputs(logged)  # (where OUT is an input folder, the outputs are found there too)
    videos = [v for v in found if str(v.path) not in made]
    clashes: list[tuple[Path, list]] = []  # (videos of one folder that would share an output, their endings kept)
    tasks = _tasks(videos, out, suffix, bopts, clashes)
    refuse_videos_in_output(specs, out, made | {str(v.path) for v in videos},  # (where it lies inside one, never
                            {task.output for task in tasks} | {str(t) for t, _ in clashes})  # searched: its own videos)
    if not videos:
        searched = "" if found else (f" (a folder is searched for files ending {' '.join(sorted(VIDEO_SUFFIXES))}; a "
                                     'raw stream, .h264 or .hevc, is taken by a glob: "DIR/*.h264")')  # fmt: skip
        raise BatchError(f"no videos found in {', '.join(map(str, specs)) or 'no inputs'}{searched}")
    return tasks, clashes, logged, len(unsearched)


def _settle(tasks: list[Task], clashes: list[tuple[Path, list]], logged: list[dict], keys: dict[str, dict], out: Path,
            results: ResultsLog, summary: Summary, model: str, settings: str, bopts: BatchOptions,
            sopts: SegmentOptions) -> list[Task]:  # fmt: skip
    """What earlier runs into ``out`` (their lines: ``logged``) leave of ``tasks`` to do: each one skipped, failed
    before any work (its input gone, a clash, damaged and unchanged) or renamed is counted in ``summary`` (with a
    line where new), the rest returned, said where done again, their stale temporary files removed."""
    previous = {} if bopts.force else latest_outcomes(logged)
    lines, written = histories(logged), owners(logged)
    history = {} if bopts.force else lines
    wants, fields = wrote(sopts, masks=bopts.masks, stats=bopts.stats, masks_only=bopts.masks_only), output_fields(sopts)
    every = wrote(sopts, masks=True, stats=True, masks_only=bopts.masks_only)  # (what each output of this run would be)
    targets = {task.output for task in tasks}
    refuse_clashes(clashes, results, summary, model, settings, previous, quiet=bopts.quiet)
    todo, skipped, again = [], [], []
    for task in tasks:
        key = keys[task.input]
        done = previous.get(task.input)
        if (made := done_before(history.get(task.input, []), task, key, model, settings, wants)) is not None:
            skipped.append(task)  # (no line: its ok line stands; a nightly rerun would add a line a video)
            summary.add({"status": "skipped", "frames": made.get("frames")})
        elif not task.parts and not os.path.exists(task.input):
            _count_missing(task, results, summary, model, settings, key, bopts.quiet)
        elif not bopts.retry_failed and is_damaged(done, key, model, settings):
            count_unchanged(task, done, out, summary, bopts.quiet)
        elif (earlier := renamed(task, previous, key, model, settings, targets)) is not None:
            take_renamed(task, earlier, out, results, summary, bopts.quiet)
        else:
            if not bopts.quiet and (why := redone(task, done, key)):
                print(f"{shown(task.input, task.output, out)}: {why}", file=sys.stderr, flush=True)
            reason = why_again(history.get(task.input, []), task, key, model, wants, fields) or why_retried(
                done, task, key, model, settings, fields)  # (one found damaged: tried again, said why)
            if reason is not None:
                again.append((shown(task.input, task.output, out), reason))
            Path(task.output).parent.mkdir(parents=True, exist_ok=True)
            todo.append(replace(task, outdated=outdated(lines.get(task.input, []), task, key, model, every,
                                                        written)))  # fmt: skip
    if not bopts.quiet:
        say_again(again)
        say_outdated([(shown(task.input, task.output, out), task.outdated) for task in todo])
    if not bopts.quiet:
        say_cut_short(sum(lines.get(task.input, [{}])[-1].get("status") == "interrupted" for task in todo))
    remove_stale_temps([*todo, *skipped])  # (a killed run's, also beside videos a --force run did then)
    return todo


def _videos(specs: list[str | os.PathLike], out: Path, unsearched: list[str]) -> tuple[list[Video], list[dict]]:
    """The videos ``specs`` name (those it could not search added to ``unsearched``), less the outputs a search
    found (:func:`~roadseg.batch.inside.leave_out_outputs`), and the lines of ``out``'s results log; BatchError where
    one is a stream (:func:`~roadseg.batch.inputs.refuse_streams`)."""
    refuse_streams(specs)
    try:
        videos = find_videos(specs, exclude=out, unsearched=unsearched)
    except SourceError as exc:  # (an @list that cannot be read)
        raise BatchError(str(exc)) from None
    return leave_out_outputs(videos, out), read_results(out / RESULTS)


def _tasks(videos: list[Video], out: Path, suffix: str, bopts: BatchOptions,
           clashes: list[tuple[Path, list]]) -> list[Task]:  # fmt: skip
    """One task a video (a drive's files, with ``concat``), writing into ``out``; the videos of one folder that
    would share an output are added to ``clashes`` instead. With ``masks_only`` a task's output is its masks folder,
    the video's name with ``.masks`` for its ending."""
    said: dict[Path, tuple[str, ...]] = {}  # (what the plan says of a video: its name's ending kept, a drive apart)
    only = bopts.masks_only
    named = (lambda t: str(t.with_suffix(".masks"))) if only else str
    if bopts.concat:
        tasks = [Task(str(unit), named(t), parts=tuple(map(str, files)), masks=bopts.masks, stats=bopts.stats,
                      masks_only=only, said=said.get(unit, ()))
                 for unit, t, files in plan_joined(videos, out, suffix, gap=bopts.gap, clashes=clashes, said=said)]  # fmt: skip
    else:
        tasks = [Task(str(v.path), named(t), masks=bopts.masks, stats=bopts.stats, masks_only=only,
                      said=said.get(v.path, ()))
                 for v, t in plan_outputs(videos, out, suffix, clashes=clashes, said=said).items()]  # fmt: skip
    clashes[:] = [(Path(named(t)), clashed) for t, clashed in clashes]
    return tasks


def _count_missing(task: Task, results: ResultsLog, summary: Summary, model: str, settings: str, key: dict,
                   quiet: bool) -> None:  # fmt: skip
    """Fail a video that is not there (a name mistyped, a file moved away) with an ``error`` line, and one on
    standard error that names it as typed (relative to here): it was said as its output's name, ``nope.mp4``,
    by a worker started for it."""
    error = f"input not found: {task.input}"
    results.write(results_line(task, {"status": "error", "frames": 0, "error": error}, key, model, settings))
    summary.error += 1  # (no node's: none ran it)
    if not quiet:
        print(f"{os.path.relpath(task.input)}: error, input not found", file=sys.stderr, flush=True)


@contextmanager
def _made(out: Path) -> Iterator[None]:
    """Make the folder ``out`` (and its parents) for the batch, marked as a batch's where it made ``out``
    (:func:`~roadseg.batch.inside.mark_output`); where the batch then fails before any video has a results line (no
    videos found, a model no worker can load, Ray unreachable), remove the folders it made, its empty results log and
    that mark: a mistake left an empty output folder behind."""
    made = [p for p in (out, *out.parents) if not os.path.lexists(p)]
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BatchError(f"cannot create output folder {out}: {reason_of(exc)}") from None
    if made:
        mark_output(out)
    try:
        yield
    except BatchError:
        if made:
            _remove_empty(out, made)
        raise


def _remove_empty(out: Path, made: list[Path]) -> None:
    """Remove ``out``'s empty results log, its mark, and empty folders (under it, it, then the parents in ``made``)."""
    results = out / RESULTS
    if results.is_file() and results.stat().st_size == 0:
        results.unlink()
    if not results.exists():
        with suppress(OSError):
            (out / MARKER).unlink()
    for root, _, _ in os.walk(out, topdown=False):
        with suppress(OSError):  # (not empty: kept)
            os.rmdir(root)
    for folder in made[1:]:
        with suppress(OSError):
            os.rmdir(folder)


@contextmanager
def _only_batch(out: Path) -> Iterator[None]:
    """Hold ``out`` for this batch: a second one into it (a cron job started again while the last one
    runs) would remove this one's temporary files as stale and do every video again. BatchError if
    another holds it; where the filesystem has no locks (some network mounts), the batch goes on."""
    try:
        import fcntl
    except ImportError:  # (Windows)
        yield
        return
    fd = os.open(out, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BatchError(f"another roadseg batch is writing into {out}; wait for it to end, or choose another "
                             "output folder") from None  # fmt: skip
        except OSError:
            pass
        yield
    finally:
        os.close(fd)
