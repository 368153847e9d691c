"""``roadseg.batch``: segment many videos into a folder, on a local process pool or a Ray cluster.

Example:
    >>> import roadseg
    >>> summary = roadseg.batch(["dashcam/"], "segmented/", workers=2)        # doctest: +SKIP
    >>> summary = roadseg.batch("@archive.txt", "/shared/out", ray="auto")    # doctest: +SKIP
    >>> print(summary.table())                                                # doctest: +SKIP
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from roadseg._startup import settle
from roadseg.batch.driver import drive
from roadseg.batch.errors import BatchError, BatchInterrupted
from roadseg.batch.inputs import plan_joined, plan_outputs
from roadseg.batch.report import Progress, Summary
from roadseg.batch.results import (
    ResultsLog,
    input_key,
    is_damaged,
    is_done,
    latest_outcomes,
    output_owners,
    read_results,
    reader,
    settings_key,
    written_outputs,
)
from roadseg.batch.task import Task, model_key, move_outputs, remove_stale_temps, remove_temps
from roadseg.errors import SourceError, reason_of
from roadseg.pipeline.inputs import DRIVE_GAP, find_videos
from roadseg.pipeline.options import SegmentOptions
from roadseg.pipeline.suffixes import VIDEO_SUFFIXES

RESULTS = "results.jsonl"


@dataclass(frozen=True)
class BatchOptions:
    """How a batch runs (what each video gets is a :class:`~roadseg.pipeline.options.SegmentOptions`,
    whose ``input`` and ``output`` the batch sets per video; ``masks`` and ``stats`` here are flags).

    Attributes:
        workers: worker processes (local) or actors (Ray); ``None`` = what the machine or cluster can feed.
        ray: a Ray cluster address (``host:port`` or ``auto``); ``None`` = a local pool. Where the caller
            ran ``ray.init`` already, that connection is used: ``auto`` or that cluster's address, else
            a BatchError (:class:`~roadseg.batch.ray_pool.RayPool`).
        cpus_per_worker, gpus_per_worker: what each Ray actor reserves.
        in_flight: paths queued at one Ray actor at a time.
        retries: how often a video whose worker died is sent again.
        force: redo videos a previous run finished (and those it found damaged).
        retry_failed: try again a video whose last run found it damaged (not a readable video) though it,
            the model, the settings and the roadseg and PyAV versions that read it are unchanged; without
            it, such a video counts as an error with no new line (``summary.unchanged``).
        masks, stats: also write ``b.masks/`` (label PNGs) and ``b.stats.json`` beside ``b.mp4``.
        suffix: the outputs' name ending, which picks their container (``.mkv`` keeps PCM audio and
            SubRip captions as they are; ``.mov`` or ``.mkv`` take a lossless mask video, ``--codec ffv1``).
        quiet: no bar (on a terminal) or per-video lines (in a log); the summary only.
        ray_logs: also show Ray's own log lines and the workers' output (by default they stay in Ray's
            log folder on each node); with ``ray`` only.
        concat: join each folder's videos, in name order (a GoPro's chapters in turn), into one output
            ``OUT/<folder>.mp4`` (a dashcam's drive a folder: ``segment-video --concat`` per folder); a dual
            dashcam's rear, inside and side cameras' files (by their names) each camera's into
            ``OUT/<folder>/<its first file's name>.mp4``.
        gap: with ``concat``, a pause of more than this many seconds between one file's end and the
            next one's start begins a new drive (:func:`~roadseg.pipeline.sources.drives.drives`), as do
            its files of another camera or format than those joined
            (:func:`~roadseg.pipeline.sources.drives.joins`); a folder of several drives gets
            ``OUT/<folder>/<first file's name>.mp4`` for each. ``inf``: each folder is one drive in time.
    """

    workers: int | None = None
    ray: str | None = None
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0
    in_flight: int = 2
    retries: int = 2
    force: bool = False
    retry_failed: bool = False
    masks: bool = False
    stats: bool = False
    suffix: str = ".mp4"
    quiet: bool = False
    ray_logs: bool = False
    concat: bool = False
    gap: float = DRIVE_GAP


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
        BatchError: before any work (no videos, INPUTs whose layouts collide, no workers, Ray missing ...).
        BatchInterrupted: Ctrl-C/SIGTERM before every video was recorded; finished outputs stay, unfinished
            ones are removed.
    """
    from roadseg.batch.local import leave_if_importing_main

    leave_if_importing_main()  # (a script without 'if __name__ == "__main__":', run again in a worker)
    bopts, sopts = _options(options, segment, kw)
    if sopts.model and not os.path.isabs(sopts.model):  # (Ray's workers do not run in this folder)
        sopts = replace(sopts, model=os.path.abspath(sopts.model))
    suffix = _suffix(bopts.suffix)
    _check_encoder(sopts, suffix)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BatchError(f"cannot create output folder {out}: {reason_of(exc)}") from None
    with _only_batch(out):
        return _batch(inputs, out, suffix, bopts, sopts)


def _batch(inputs: str | os.PathLike | Sequence[str | os.PathLike], out: Path, suffix: str, bopts: BatchOptions,
           sopts: SegmentOptions) -> Summary:  # fmt: skip
    """:func:`batch` in ``out``, which it holds: find the videos, skip what is done, run the rest."""
    specs = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    unsearched: list[str] = []
    try:
        videos = find_videos(specs, exclude=out, unsearched=unsearched)
    except SourceError as exc:  # (an @list that cannot be read)
        raise BatchError(str(exc)) from None
    logged = read_results(out / RESULTS)
    made = written_outputs(logged)  # (where OUT is an input folder, the outputs are found there too)
    if not (videos := [v for v in videos if str(v.path) not in made]):
        raise BatchError(f"no videos found in {', '.join(map(str, specs)) or 'no inputs'}")
    clashes: list[tuple[Path, list]] = []  # (videos of one folder that would share an output, their endings kept)
    said: dict[Path, tuple[str, ...]] = {}  # (what the plan says of a video: its name's ending kept, a drive apart)
    if bopts.concat:
        tasks = [Task(str(unit), str(t), parts=tuple(map(str, files)), masks=bopts.masks, stats=bopts.stats,
                      said=said.get(unit, ()))
                 for unit, t, files in plan_joined(videos, out, suffix, gap=bopts.gap, clashes=clashes, said=said)]  # fmt: skip
    else:
        tasks = [Task(str(v.path), str(t), masks=bopts.masks, stats=bopts.stats, said=said.get(v.path, ()))
                 for v, t in plan_outputs(videos, out, suffix, clashes=clashes, said=said).items()]  # fmt: skip
    model, settings = _model_key(sopts, bopts), settings_key(sopts, masks=bopts.masks, stats=bopts.stats)
    previous = {} if bopts.force else latest_outcomes(logged)
    summary = Summary(results=str(out / RESULTS), unsearched=len(unsearched))
    t0 = time.perf_counter()
    keys = {task.input: input_key(task.input, task.parts) for task in tasks}  # before any work: what the output is of
    targets = {task.output for task in tasks}
    _check_owners(tasks, keys, output_owners(logged))
    with ResultsLog(out / RESULTS) as results:
        _refuse_clashes(clashes, results, summary, model, settings, previous, quiet=bopts.quiet)
        todo, skipped = [], []
        for task in tasks:
            key = keys[task.input]
            done = previous.get(task.input)
            if is_done(done, Path(task.output), key, model, settings):
                skipped.append(task)  # (no line: its ok line stands; a nightly rerun would add a line a video)
                summary.add({"status": "skipped", "frames": done.get("frames")})
            elif not bopts.retry_failed and is_damaged(done, key, model, settings):
                summary.error += 1  # (no line: its error line stands; a nightly rerun would add one a broken file)
                summary.unchanged += 1
                if not bopts.quiet:
                    print(f"{os.path.relpath(task.output, out)}: error, unchanged since: {done.get('error')} "
                          "(not tried again; --retry-failed does)", file=sys.stderr, flush=True)  # fmt: skip
            elif (earlier := _renamed(task, previous, key, model, settings, targets)) is not None:
                moved = {**earlier, "input": task.input, "output": task.output, "renamed_from": earlier["output"]}
                results.write(moved)  # (first: a crash before the move leaves the old name, done again next run)
                move_outputs(replace(task, input=earlier["input"], output=earlier["output"]), task)
                summary.add({"status": "skipped", "frames": earlier.get("frames")})
                if not bopts.quiet:
                    why = ("the folder's drives changed" if task.parts else
                           "a video beside it whose name differs only by its ending came or went")  # fmt: skip
                    print(f"{os.path.relpath(task.output, out)}: done before as "
                          f"{os.path.relpath(earlier['output'], out)} ({why}); renamed, not redone",
                          file=sys.stderr, flush=True)  # fmt: skip
            else:
                Path(task.output).parent.mkdir(parents=True, exist_ok=True)
                todo.append(task)
        remove_stale_temps([*todo, *skipped])  # (a killed run's, also beside videos a --force run did then)
        if todo:
            _run(todo, bopts, sopts, out, results, summary, model, settings, keys)
    summary.wall = time.perf_counter() - t0
    return summary


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


def _check_owners(tasks: list[Task], keys: dict[str, dict], owners: dict[str, dict]) -> None:
    """Refuse, before any work, to write over an output an earlier run made of another video (a fleet
    segmented car by car into one folder: ``car2/a/clip.mp4`` onto ``car1/a/clip.mp4``'s output, which a
    rerun of car1 then took for its own). The same video found at another path (the archive moved or
    copied: its size and file count as recorded) is no other video."""
    clashes = []
    for task in tasks:
        earlier, key = owners.get(task.output), keys[task.input]
        if earlier is None or str(earlier.get("input")) == task.input or not os.path.exists(task.output):
            continue
        if not (key and earlier.get("size") == key.get("size") and earlier.get("files") == key.get("files")):
            clashes.append((task, earlier))
    if clashes:
        task, earlier = clashes[0]
        more = f" (and {len(clashes) - 1} more)" if len(clashes) > 1 else ""
        raise BatchError(f"{task.input} would be written to {task.output}, which holds the output of "
                         f"{earlier['input']} from an earlier run{more}; choose another output folder, or give the "
                         "folder that holds both as INPUT (its layout keeps them apart)")  # fmt: skip


def _refuse_clashes(clashes: list[tuple[Path, list]], results: ResultsLog, summary: Summary, model: str, settings: str,
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
            line = _line(task, {"status": "error", "frames": 0, "error": error}, input_key(video.path), model, settings)
            before = previous.get(task.input) or {}
            if any(before.get(k) != v for k, v in line.items() if k != "time"):
                results.write(line)
            summary.error += 1  # (no node's: none ran it)
            if not quiet:
                print(f"{video.path}: error: {error}", file=sys.stderr, flush=True)


def _renamed(task: Task, previous: dict[str, dict], key: dict, model: str, settings: str, targets: set[str]
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
        from roadseg.pipeline.sources.drives import first_of_view

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


def _suffix(suffix: str) -> str:
    """``suffix`` as a video file's name ending (``mkv`` -> ``.mkv``); BatchError if it is none."""
    normal = "." + suffix.lower().lstrip(".")
    if normal not in VIDEO_SUFFIXES | {".gif"}:
        raise BatchError(f"--suffix {suffix} is not the ending of a video file; one of .mp4, .mkv, .mov, .webm, .avi, "
                         ".ts, .gif ...")  # fmt: skip
    return normal


def _check_encoder(sopts: SegmentOptions, suffix: str) -> None:
    """An encoder that is not there or not a video one, or a crf or preset the outputs' encoder
    (``.mp4``: libx264 unless ``codec``) cannot take, fails the batch once, before any work, not every
    video in turn. (Without ``codec`` another container may choose its own encoder, VP9 for
    ``.webm``: each video checks its own then.)"""
    from roadseg.errors import SinkError
    from roadseg.pipeline.sinks.encoders import check_video_encoder, encoder_options

    try:
        encoder = check_video_encoder(sopts.codec or "libx264")
        if sopts.codec or suffix in (".mp4", ".mkv", ".mov"):  # (where no codec means libx264)
            encoder_options(encoder, sopts.crf, sopts.preset)
    except SinkError as exc:
        raise BatchError(str(exc)) from None


def _run(todo: list[Task], bopts: BatchOptions, sopts: SegmentOptions, out: Path, results: ResultsLog,
         summary: Summary, model: str, settings: str, keys: dict[str, dict]) -> None:  # fmt: skip
    """Start the pool, drive it, and on Ctrl-C stop it and remove what was unfinished."""
    progress = Progress(len(todo), enabled=not bopts.quiet)
    pool = None

    def record(task: Task, worker_line: dict) -> None:
        line = _line(task, worker_line, keys[task.input], worker_line.get("model", model), settings)
        results.write(line)
        rel = os.path.relpath(task.output, out)
        for warning in worker_line.get("warnings") or []:
            progress.note(f"{rel}: {warning}")
        if line.get("retried"):
            progress.note(f"{rel}: {line['error']}; sending it again (attempt {task.attempt + 1})")
            return
        summary.add(line)
        progress.finished(rel, line)

    try:
        first = todo[0].parts[0] if todo[0].parts else todo[0].input
        pool = _open_pool(bopts, sopts, sees=(str(Path(out).resolve()), os.path.dirname(os.path.abspath(first))))
        _check_model(pool.info, model, progress)
        drive(todo, pool, record, retries=bopts.retries)
    except KeyboardInterrupt as exc:
        with _unstoppable(stopped=True):  # (a second Ctrl-C would leave workers running, temporary files and no summary)
            for task in pool.cancel() if pool is not None else []:
                remove_temps(task)
                line = {"status": "interrupted", "frames": 0, "error": "interrupted before it was finished"}
                results.write(_line(task, line, keys[task.input], model, settings))
                progress.note(f"{os.path.relpath(task.output, out)}: interrupted before it was finished; "
                              "nothing of it kept")  # fmt: skip
        pool = None
        summary.interrupted = len(todo) - progress.done
        summary.wall = progress.elapsed
        if summary.interrupted:  # (else every video was recorded before it came: the batch ends as its work says)
            raise BatchInterrupted(summary, getattr(exc, "signal_name", "SIGINT")) from None
    finally:
        progress.close()
        if pool is not None:
            _close(pool)
    settle()  # (every video recorded, the pool closed: the command closes results.jsonl and prints the summary)


def _close(pool) -> None:
    """Let the pool's workers exit; a Ctrl-C meanwhile, every video recorded, stops them at once and
    cuts nothing short: the batch ends as its work says."""
    try:
        pool.close()
    except KeyboardInterrupt:
        with _unstoppable():
            pool.cancel()


@contextmanager
def _unstoppable(*, stopped: bool = False) -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP are let be while a stopped batch stops its workers and records what they held
    (a few seconds at most: a worker not gone in 3 s is killed, Ray's in 10). Main thread only. ``stopped``, in
    a ``roadseg batch`` process (:func:`~roadseg._startup.is_command`): they stay let be after it, while the
    command prints the summary and leaves (a second Ctrl-C there cut the summary short, 1 run in 20)."""
    from roadseg._startup import is_command

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stops = (signal.SIGINT, signal.SIGTERM, *(s for s in [getattr(signal, "SIGHUP", None)] if s is not None))
    saved = {sig: signal.signal(sig, signal.SIG_IGN) for sig in stops}
    try:
        yield
    finally:
        if not (stopped and is_command()):
            for sig, handler in saved.items():
                signal.signal(sig, handler)


def _open_pool(bopts: BatchOptions, sopts: SegmentOptions, sees: tuple[str, ...] = ()):
    if bopts.ray:
        from roadseg.batch.ray_pool import RayPool

        threads = sopts.threads or (max(1, int(bopts.cpus_per_worker)) if not bopts.gpus_per_worker else 0)
        return RayPool(bopts.ray, replace(sopts, threads=threads), workers=bopts.workers,
                       cpus_per_worker=bopts.cpus_per_worker, gpus_per_worker=bopts.gpus_per_worker,
                       in_flight=bopts.in_flight, sees=sees, ray_logs=bopts.ray_logs)  # fmt: skip
    from roadseg.batch.local import LocalPool

    gpus = _local_gpus(sopts.device)
    workers = bopts.workers or len(gpus) or max(1, (os.cpu_count() or 1) // 4)
    threads = sopts.threads or (0 if gpus else max(1, (os.cpu_count() or 1) // workers))
    envs = [{"CUDA_VISIBLE_DEVICES": gpus[i % len(gpus)]} if gpus else {} for i in range(workers)]
    return LocalPool(replace(sopts, threads=threads), workers, envs=envs)


def _local_gpus(device: str) -> list[str]:
    """GPU ids a local pool spreads its workers over (one worker per GPU by default)."""
    from roadseg.pipeline.infer import resolve_device

    if resolve_device(device) == "cpu":
        return []
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [g for g in visible.split(",") if g.strip()]
    try:
        return [str(i) for i in range(len(os.listdir("/proc/driver/nvidia/gpus")))]
    except OSError:
        return []


def _model_key(sopts: SegmentOptions, bopts: BatchOptions) -> str:
    """The model the workers will load, as ``name@sha256``: what a rerun compares."""
    from roadseg.pipeline.infer import ModelError, default_model_path, resolve_device

    if sopts.model:
        path = Path(sopts.model)
    else:  # (local workers asked for a GPU this machine lacks run on the CPU, with its default model)
        device = ("cuda" if bopts.gpus_per_worker else "cpu") if bopts.ray else (
            sopts.device if resolve_device("auto") == "cuda" else "cpu")  # fmt: skip
        try:
            path = default_model_path(device)
        except ModelError as exc:
            raise BatchError(str(exc)) from None
    try:
        return model_key(path)
    except OSError as exc:
        raise BatchError(f"cannot read the model {path}: {exc.strerror or exc}") from None


def _check_model(info: list[dict], model: str, progress: Progress) -> None:
    used = {i.get("model") for i in info} - {model}
    if used:
        progress.note(f"warning: workers load {', '.join(sorted(used))}, not {model} as this machine does; "
                      "pass --model with a path every node sees")  # fmt: skip


def _line(task: Task, worker_line: dict, key: dict, model: str, settings: str) -> dict:
    """A results line: the fields every line has first, then what the worker and the driver add."""
    line = {"input": task.input, "output": task.output, "status": worker_line["status"],
            "frames": worker_line.get("frames"), "fps": worker_line.get("fps"), "seconds": worker_line.get("seconds"),
            "node": worker_line.get("node"), "attempt": worker_line.get("attempt", task.attempt),
            "error": worker_line.get("error")}  # fmt: skip
    extra = {k: v for k, v in worker_line.items() if k not in line and k != "model" and v not in (None, [])}
    if extra.get("damaged"):  # (a newer roadseg or PyAV tries it again: is_damaged)
        extra.setdefault("reader", reader())  # (the worker's that read it; this one's for a worker that said none)
    return {**line, **extra, **key, "model": model, "settings": settings}


def _options(options: BatchOptions | None, segment: SegmentOptions | None, kw: dict):
    names = {f.name for f in fields(BatchOptions)}
    unknown = set(kw) - names - {f.name for f in fields(SegmentOptions)}
    if unknown:
        raise TypeError(f"batch() got unexpected keyword arguments: {', '.join(sorted(unknown))}")
    bopts = replace(options or BatchOptions(), **{k: v for k, v in kw.items() if k in names})
    sopts = SegmentOptions(
        **{**asdict(segment or SegmentOptions("")), **{k: v for k, v in kw.items() if k not in names}}
    )
    return bopts, sopts
