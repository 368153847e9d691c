"""One video per task: segment it under temporary names, rename into place only when complete.

Everything a worker (a local process or a Ray actor) does is here: :class:`Worker` holds the
per-worker state for the worker's whole life, :func:`process_one` runs one video. A task names its
temporary paths (``.b.mp4.part-<pid>-<attempt>.mp4`` beside ``b.mp4``), so the driver can remove
them when a worker dies mid-video.

Example:
    >>> t = Task(input="/in/a/b.mov", output="/out/a/b.mp4", masks=True)
    >>> str(t.with_worker("4242").temp.video)
    '/out/a/.b.mp4.part-4242-1.mp4'
    >>> str(t.final.masks), str(t.final.stats)
    ('/out/a/b.masks', 'None')
    >>> m = Task(input="/in/a/b.mov", output="/out/a/b.masks", masks=True, masks_only=True, stats=True)
    >>> m.final.video, str(m.with_worker("7").temp.masks), str(m.final.stats)  # (batch --masks-only: no video)
    (None, '/out/a/.b.masks.part-7-1', '/out/a/b.stats.json')
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from roadseg.batch.results import reader
from roadseg.errors import Interrupted, MasksFailed, PipelineError
from roadseg.pipeline.legend_text import legend_note
from roadseg.pipeline.options import SegmentOptions

if TYPE_CHECKING:
    from roadseg.pipeline.infer import Segmenter

PART = ".part-"


class Paths(NamedTuple):
    """Where one task's outputs go: the video (``None`` with ``masks_only``) and, when asked for, the masks folder
    and stats file."""

    video: Path | None
    masks: Path | None
    stats: Path | None


@dataclass(frozen=True)
class Task:
    """One video to segment: absolute ``input`` and ``output`` paths, the extras wanted, the attempt.
    With ``masks_only`` (``batch --masks-only``) ``output`` is the masks folder and no video is written. With ``parts`` (``batch --concat``) ``input`` is a folder and ``parts`` the files joined from it;
    ``said``, what the plan says of them, goes into its results line's ``warnings``. ``node`` and ``sent`` (its
    ``time.monotonic()``): where and when the driver sent it to its worker, what an ``interrupted`` line says.
    ``outdated``: an earlier run's masks folder and stats file of this video that this run does not write and that
    would not tell of its output, which the driver removes once its line is written (:mod:`roadseg.batch.outdated`)."""

    input: str
    output: str
    parts: tuple[str, ...] = ()
    said: tuple[str, ...] = ()
    masks: bool = False
    stats: bool = False
    masks_only: bool = False
    attempt: int = 1
    worker: str = ""  # tag of the worker it went to (its pid): part of the temporary names
    node: str = ""  # the node (locally host:pid) of that worker
    sent: float = 0.0  # when it was sent there (the driver's time.monotonic())
    outdated: tuple[str, ...] = ()

    def with_worker(self, tag: str, node: str = "") -> Task:
        return replace(self, worker=tag, node=node, sent=time.monotonic() if tag else 0.0)

    def retry(self) -> Task:
        return replace(self, attempt=self.attempt + 1, worker="", node="", sent=0.0)

    @property
    def final(self) -> Paths:
        out = Path(self.output)
        if self.masks_only:
            return Paths(None, out, out.with_suffix(".stats.json") if self.stats else None)
        return Paths(out, out.with_suffix(".masks") if self.masks else None,
                     out.with_suffix(".stats.json") if self.stats else None)  # fmt: skip

    @property
    def temp(self) -> Paths:
        tag = f"{PART}{self.worker}-{self.attempt}"
        return Paths(
            *(p and p.with_name(f".{p.name}{tag}{p.suffix if i == 0 else ''}") for i, p in enumerate(self.final))
        )


def move_outputs(old: Task, new: Task) -> None:
    """Rename ``old``'s finished outputs (video, masks, stats) to ``new``'s names, replacing what is
    there, and remove ``old``'s folder if that leaves it empty (``batch --concat``: a folder's drive
    renamed when the folder gains or loses a drive)."""
    for src, dst in zip(old.final, new.final, strict=True):
        if dst is not None:
            remove_path(dst)  # (what is there is not this drive's, whether or not src has one to move)
        if src is not None and dst is not None and (src.exists() or src.is_symlink()):
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
    with suppress(OSError):  # (not empty: other outputs are there)
        old.final.video.parent.rmdir()


def remove_temps(task: Task) -> None:
    """Remove what an unfinished attempt of ``task`` left (safe to call when nothing is there)."""
    _remove(task.temp)


def remove_stale_temps(tasks: Iterable[Task]) -> None:
    """Remove temporary files of the ``tasks``' outputs left by any earlier, killed run (a rerun's videos,
    done or to do), each output folder listed once."""
    starts: dict[Path, list[str]] = {}
    for task in tasks:
        for final in filter(None, task.final):
            starts.setdefault(final.parent, []).append(f".{final.name}{PART}")
    for folder, prefixes in starts.items():
        try:
            names = [entry.name for entry in os.scandir(folder) if PART in entry.name]
        except OSError:
            continue
        for name in filter(lambda n, p=tuple(prefixes): n.startswith(p), names):
            remove_path(folder / name)


def model_key(path: str | Path) -> str:
    """``name@sha256-prefix`` of a model file: what a results line records and a rerun compares."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return f"{Path(path).name}@{digest.hexdigest()[:16]}"


class Worker:
    """What one worker keeps for its whole life: its options, the model it loaded, where it runs; its ``info``
    (what the driver learns of it when it is ready) names the model's ``classes`` too: the driver says the legend's
    note of them once (:func:`~roadseg.batch.launch.say_legend_note`), not each video.

    It loads the model once when it starts (a broken model fails here, before any video) and every
    video it runs reuses that session: building one per video is costly on a GPU.
    """

    def __init__(self, options: SegmentOptions, node: str) -> None:
        from roadseg.pipeline.infer import Segmenter

        self.options, self.node = options, node
        self.segmenter = Segmenter(options.model, size=options.size, providers=options.device,
                                   threads=options.threads, tta=options.tta)  # fmt: skip
        self.info = {"node": node, "pid": os.getpid(), "model": model_key(self.segmenter.model.path),
                     "providers": self.segmenter.model.providers, "classes": list(self.segmenter.classes)}  # fmt: skip

    def run(self, task: Task) -> dict:
        """Process one video; the line says which model did it."""
        return {
            **process_one(task, self.options, node=self.node, segmenter=self.segmenter),
            "model": self.info["model"],
        }


def process_one(task: Task, options: SegmentOptions, *, node: str, segmenter: Segmenter | None = None) -> dict:
    """Segment ``task.input`` into its temporary names through THE run, and rename them into place.

    ``segmenter`` is the worker's long-lived model (``None`` builds one from ``options``). Returns the
    worker's part of the results line: ``status`` (``ok`` or ``error``), ``frames``, ``fps``,
    ``seconds``, ``node``, ``error``, ``frames_lost`` (of an ``ok`` run: a failed one's is not known),
    ``warnings`` (what the plan said of it and the run logged, a failed run's too, less the legend's note of
    ``segmenter``'s class names: a fact of the model, said once by the driver) and, where
    the input's own bytes are at fault, ``damaged`` (:class:`~roadseg.errors.SourceError`'s) and this
    worker's :func:`~roadseg.batch.results.reader` (what failed to read them; a Ray node's may not be the driver's). Any
    failure of the video is an ``error`` (its temporary outputs removed, nothing under the final
    names), except one of its masks alone (:class:`~roadseg.errors.MasksFailed`, a full disk): an ``error`` too, but
    the finished video, its stats and the masks written before are put in place, as ``segment-video`` keeps
    them, and the line says so; only the worker's death (this function never returning) makes the driver retry it.
    """
    from roadseg.pipeline.run import run

    temp, final = task.temp, task.final
    opts = replace(options, input=task.input, concat=bool(task.parts), parts=task.parts,
                   output=temp.video and str(temp.video),  # (None: masks only, nothing encoded)
                   masks_dir=temp.masks and str(temp.masks),
                   stats=temp.stats and str(temp.stats), overwrite=True, quiet=True)  # fmt: skip
    line = {"status": "error", "frames": 0, "fps": None, "seconds": None, "node": node, "error": None}
    t0 = time.perf_counter()
    masks: MasksFailed | None = None
    warnings: list[str] = []
    note = legend_note(segmenter.classes) if segmenter is not None and options.legend else None
    try:
        with _captured_log() as warnings:
            try:
                result = run(opts, segmenter=segmenter)
            except MasksFailed as exc:
                if not exc.kept:
                    raise
                masks = exc  # (only the masks failed: the video was written to its end)
        _commit(temp, final)
    except Interrupted:  # stopped, not failed: leave nothing behind and let the caller see it
        _remove(temp)
        raise
    except Exception as exc:  # the video failed: say why in its line, and what was said before; the next video goes on
        _remove(temp)
        line.update(error=_finally_named(_failure(exc), temp, final), seconds=round(time.perf_counter() - t0, 3),
                    warnings=[*task.said, *(_finally_named(w, temp, final) for w in warnings if w != note)])  # fmt: skip
        if getattr(exc, "damaged", False):  # (the input's own bytes: a rerun leaves it be while it is unchanged)
            line.update(damaged=True, reader=reader())
        return line
    except BaseException:  # interrupted: leave nothing behind
        _remove(temp)
        raise
    said = [*task.said, *(_finally_named(w, temp, final) for w in warnings if w != note)]
    if masks is not None:  # (was: the finished video removed, "its partial output of N frames was removed")
        line.update(error=_finally_named(str(masks), temp, final), frames=masks.frames,
                    seconds=round(time.perf_counter() - t0, 3), warnings=said)  # fmt: skip
        return line
    line.update(status="ok", frames=result.frames, fps=result.fps, seconds=result.seconds,
                frames_lost=result.frames_lost, warnings=said)  # fmt: skip
    return line


def _failure(exc: Exception) -> str:
    """What the results line says of a video that failed: a run stopped midway says what failed and that what it
    had written is gone (the run's own message told of a partial output kept, and of its --stats written).

    >>> _failure(PipelineError("infer failed: x; kept a playable partial output of 3 frames at o.mp4", kept=True,
    ...                        frames=3, reason="infer failed: x"))
    'infer failed: x; its partial output of 3 frames was removed (a batch keeps only finished videos)'
    """
    if not isinstance(exc, PipelineError):
        return str(exc) or exc.__class__.__name__
    n = exc.frames if exc.kept else 0
    gone = f"its partial output of {n} frame{'s'[: n != 1]} was removed" if n else "its unfinished output was removed"
    return f"{exc.reason}; {gone} (a batch keeps only finished videos)"


def _finally_named(message: str, temp: Paths, final: Paths) -> str:
    """``message`` with the outputs' temporary names put back to the names they are written to.

    >>> t = Task("/in/a.mp4", "/out/a.mp4", worker="7")
    >>> _finally_named(f"cannot write {t.temp.video}: disk full", t.temp, t.final)
    'cannot write /out/a.mp4: disk full'
    """
    for src, dst in zip(temp, final):
        if src is not None:
            message = message.replace(str(src), str(dst))
    return message


def _commit(temp: Paths, final: Paths) -> None:
    """Rename the finished outputs into place, the video last (masks only: the masks folder, which a rerun looks for)."""
    for src, dst in zip(reversed(temp), reversed(final)):
        if src is None:
            continue
        if dst.is_dir():
            shutil.rmtree(dst)
        os.replace(src, dst)


def _remove(paths: Paths) -> None:
    for p in filter(None, paths):
        remove_path(p)


def remove_path(p: Path) -> None:
    """Remove the file or folder ``p`` (a link: the link), if it is there."""
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        p.unlink(missing_ok=True)


@contextmanager
def _captured_log() -> Iterator[list[str]]:
    """Collect what roadseg logs during one video (the driver prints it; workers print nothing)."""
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    logger, handler = logging.getLogger("roadseg"), Collect(logging.INFO)
    saved = logger.handlers[:], logger.propagate, logger.level
    logger.handlers, logger.propagate, logger.level = [handler], False, logging.INFO
    try:
        yield messages
    finally:
        logger.handlers, logger.propagate, logger.level = saved
