"""A batch's videos run: the pool opened (local worker processes or Ray actors: :func:`_open_pool`) and
driven, and on Ctrl-C or SIGTERM stopped, with what it held recorded and removed (:func:`run`).

Example (a local pool on the CPU spreads over no GPUs):
    >>> _local_gpus("cpu")
    []
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from roadseg._startup import settle
from roadseg.batch.done import recorded, wrote
from roadseg.batch.driver import drive
from roadseg.batch.errors import BatchInterrupted, ResultsUnwritable
from roadseg.batch.options import BatchOptions
from roadseg.batch.outdated import remove_outdated
from roadseg.batch.report import Progress, Summary, shown, told
from roadseg.batch.results import ResultsLog, results_line
from roadseg.batch.task import Task, remove_temps
from roadseg.pipeline.legend_text import legend_note
from roadseg.pipeline.options import SegmentOptions
from roadseg.tools.info import cpus_usable


def run(todo: list[Task], bopts: BatchOptions, sopts: SegmentOptions, out: Path, results: ResultsLog,
         summary: Summary, model: str, settings: str, keys: dict[str, dict]) -> None:  # fmt: skip
    """Start the pool, drive it, and on Ctrl-C stop it and remove what was unfinished."""
    progress = Progress(len(todo), enabled=not bopts.quiet)
    pool = None
    made = wrote(sopts, masks=bopts.masks, stats=bopts.stats, masks_only=bopts.masks_only)
    options = recorded(sopts, masks_only=bopts.masks_only)

    def record(task: Task, worker_line: dict) -> None:
        if worker_line.get("damaged") and (lately := written_lately(keys[task.input], time.time_ns())):
            worker_line = {**worker_line, "error": f"{worker_line.get('error')}{lately}"}
        line = results_line(task, worker_line, keys[task.input], worker_line.get("model", model), settings, made, options)
        planned = [p for p in task.outdated if os.path.lexists(p)] if line["status"] == "ok" else []
        if planned:  # (the masks and stats of before: the line first, so a Ctrl-C while they go leaves it written;
            line["removed"] = planned  # was: removed first, and a Ctrl-C between left a finished video with no line)
        results.write(line)
        summary.removed += len(remove_outdated(planned))
        rel, said = shown(task.input, task.output, out), told(line["error"], task.input)  # (named once: rel)
        for warning in worker_line.get("warnings") or []:
            progress.note(f"{rel}: {warning}")
        if line.get("retried"):
            summary.lost += 1
            progress.note(f"{rel}: {said}; sending it again (attempt {task.attempt + 1})")
            return
        summary.add(line)
        progress.finished(rel, {**line, "error": said} if line["error"] else line)

    try:
        first = todo[0].parts[0] if todo[0].parts else todo[0].input
        pool = _open_pool(bopts, sopts, sees=(str(Path(out).resolve()), os.path.dirname(os.path.abspath(first))))
        progress.begin()
        _check_model(pool.info, model, progress)
        if sopts.legend:
            say_legend_note(pool.info, progress)
        drive(todo, pool, record, retries=bopts.retries)
    except KeyboardInterrupt as exc:
        held = 0
        with _unstoppable(stopped=True):  # (a second Ctrl-C would leave workers running, temporary files and no summary)
            for task in pool.cancel() if pool is not None else []:
                held += 1
                remove_temps(task)
                line = {"status": "interrupted", "frames": 0, "error": "interrupted before it was finished",
                        "node": task.node or None, "seconds": _since(task.sent)}  # fmt: skip
                results.write(results_line(task, line, keys[task.input], model, settings))
                kept = ("nothing of this run's kept, its output from an earlier run left as it was"
                        if os.path.exists(task.output) else "nothing of it kept")  # fmt: skip
                progress.note(f"{shown(task.input, task.output, out)}: interrupted before it was finished; {kept}")
        pool = None
        summary.interrupted = len(todo) - progress.done
        summary.unstarted = max(0, summary.interrupted - held)
        summary.wall = progress.elapsed
        if summary.interrupted:  # (else every video was recorded before it came: the batch ends as its work says)
            raise BatchInterrupted(summary, getattr(exc, "signal_name", "SIGINT")) from None
    except ResultsUnwritable:  # (a full disk: what the workers hold could not be logged either)
        with _unstoppable():
            for task in pool.cancel() if pool is not None else []:
                remove_temps(task)
        pool = None
        raise
    finally:
        progress.close()
        if pool is not None:
            _close(pool)
    settle()  # (every video recorded, the pool closed: the command closes results.jsonl and prints the summary)


def _since(sent: float) -> float | None:
    """Seconds since ``sent`` (a task's :attr:`~roadseg.batch.task.Task.sent`), what an ``interrupted`` line says
    of how long its worker had held it; ``None`` where it was never sent.

    >>> _since(0.0), _since(time.monotonic()) < 1
    (None, True)
    """
    return round(time.monotonic() - sent, 3) if sent else None


#: Seconds since an input was last written within which a file that does not read as a video may be one still being
#: written (a camera's recording, a copy from a card), not a damaged one.
LATELY_S = 60


def written_lately(key: dict, now_ns: int) -> str:
    """What a damaged video's error adds where its input was written to lately (``key``: its size and mtime as the
    batch found it; a drive's latest file's): a file a camera or a copy is still writing reads as a recording cut off
    (its mp4 index not yet written), whose error advised a repair tool; a run after it changes tries it again.

    >>> written_lately({"size": 10, "mtime_ns": 0}, 3 * 10**9)
    '; it had been written to 3 s before it was read: still being recorded or copied? (a run after it changes tries it again)'
    >>> written_lately({"size": 10, "mtime_ns": 0}, 3600 * 10**9), written_lately({}, 0)
    ('', '')
    """
    if "mtime_ns" not in key or not 0 <= (age := (now_ns - key["mtime_ns"]) / 1e9) < LATELY_S:
        return ""
    return (f"; it had been written to {age:.0f} s before it was read: still being recorded or copied? (a run after it "
            "changes tries it again)")  # fmt: skip


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
    workers, threads = local_shape(bopts.workers, sopts.threads, gpus)
    envs = [{"CUDA_VISIBLE_DEVICES": gpus[i % len(gpus)]} if gpus else {} for i in range(workers)]
    return LocalPool(replace(sopts, threads=threads), workers, envs=envs)


def local_shape(workers: int, threads: int, gpus: list[str]) -> tuple[int, int]:
    """A local pool's workers and onnxruntime threads each, where not given (0): one worker a GPU, else one per 4 of
    the CPUs this process may use (its affinity: a container's cpuset, ``taskset``; not the machine's count, which
    oversubscribed a container of a few CPUs), those CPUs shared among them (a GPU's worker: onnxruntime's default).

    >>> local_shape(3, 2, []), local_shape(0, 0, ["0", "1"])
    ((3, 2), (2, 0))
    """
    usable = cpus_usable()
    workers = workers or len(gpus) or max(1, usable // 4)
    return workers, threads or (0 if gpus else max(1, usable // workers))


def _local_gpus(device: str) -> list[str]:
    """GPU ids a local pool spreads its workers over (one worker per GPU by default)."""
    from roadseg.pipeline.devices import resolve_device

    if resolve_device(device) == "cpu":
        return []
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [g for g in visible.split(",") if g.strip()]
    try:
        return [str(i) for i in range(len(os.listdir("/proc/driver/nvidia/gpus")))]
    except OSError:
        return []


def _check_model(info: list[dict], model: str, progress: Progress) -> None:
    used = {i.get("model") for i in info} - {model}
    if used:
        progress.note(f"warning: workers load {', '.join(sorted(used))}, not {model} as this machine does; "
                      "pass --model with a path every node sees")  # fmt: skip


def say_legend_note(info: list[dict], progress: Progress) -> None:
    """Say once, at the batch's start, the legend's note of the class names its font draws otherwise
    (:func:`~roadseg.pipeline.legend_text.legend_note`) of the model the ready workers loaded (their ``info``'s
    ``classes``): a fact of the model, not of a video, which each worker leaves out of its videos' warnings."""
    notes = {note for i in info if (note := legend_note(i.get("classes") or []))}
    for note in sorted(notes):  # (one: more only where workers load different models, _check_model's warning)
        progress.note(note)
