"""Training on CamVid, or a folder of one's own classes (``classes.txt``: :mod:`roadseg.data.classset`):
``train(TrainConfig(...))`` (the recipe: :mod:`roadseg.train.config`) runs epochs, evaluates,
checkpoints, resumes exactly.

A run lasts ``epochs`` epochs, or ``minutes`` of wall time (its schedule then follows the clock:
``roadseg.train.schedule``). After an epoch it writes ``last.pt`` (model, EMA weights, optimizer, schedule
position, epoch, config, RNG state, history; at most once a minute, and after a session's first and last
epoch) and, when the selection score improves, ``best.pt`` (:mod:`roadseg.train.checkpoint`); ``log.csv`` and
``log.jsonl`` get one row per epoch.

Two scores can be logged. ``val`` is CamVid's val split (one sequence that train also holds, so it
overstates; ``val_limit`` scores an even spread of that many of its frames instead, the same each epoch,
and each row so scored says how many in ``val_subset``). The **check** split is footage held out of
training by ``holdout`` (whole sequences, or the last part of one): a model never saw it, so it tracks
generalization to new roads and is what recipes and checkpoints are chosen on when it exists.

Example:
    >>> cfg = TrainConfig(data="../shared/camvid", out="runs/r34", epochs=2)   # doctest: +SKIP
    >>> result = train(cfg)                                                        # doctest: +SKIP
    >>> result["best_miou"]                                                        # doctest: +SKIP
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from roadseg.data.classset import ClassSet, from_state
from roadseg.errors import OutputError, reason_of
from roadseg.model import Preprocess
from roadseg.train.bounds import check_run, is_out_of_memory, out_of_memory
from roadseg.train.checkpoint import (
    epoch_summary,
    interrupted_line,
    left_to_train,
    log,
    made_folders,
    other_run,
    remove_unsaved,
    restore,
    resume_state,
    save_checkpoint,
)
from roadseg.train.config import TrainConfig, tuples
from roadseg.train.data import EpochSampler, check_crops, load_data, phase_index, train_loader, val_subset
from roadseg.train.engine import EMA, amp_dtype, optimizer, pick_device, row_scores, train_one_epoch
from roadseg.train.losses import training_loss
from roadseg.train.schedule import Schedule, make_schedule
from roadseg.train.start import starting_model


def _selection(cfg: TrainConfig, data: dict) -> str:
    """What ``best.pt`` is chosen by: ``cfg.select``, where there are frames to score it on (auto: the check,
    else val, else the last epoch); ValueError before any work where there are none."""
    if cfg.select == "auto":
        return "check" if data["check"][0] else "val" if data["val"][0] else "last"
    if cfg.select == "check" and not data["check"][0]:
        raise ValueError("--select check scores the frames --holdout holds out, and none are: add --holdout SEQ")
    if cfg.select == "val" and not data["val"][0]:
        raise ValueError("--select val: the run trains on val (--train-splits), so nothing is left to score; "
                         "use --select last or --holdout")  # fmt: skip
    return cfg.select


#: ``last.pt`` is written after a session's first epoch, its last, and otherwise at most this often: a GPU
#: epoch takes about a second, and a checkpoint with its optimizer and EMA is ~350 MB.
CHECKPOINT_SECONDS = 60.0


@dataclass
class _Run:
    """What a run's epochs use, set up once, and the progress each epoch moves on."""

    cfg: TrainConfig
    out: Path
    select: str
    data: dict
    classes: ClassSet
    device: torch.device
    dtype: torch.dtype | None
    model: torch.nn.Module
    pre: Preprocess
    loss_fn: Callable
    sampler: EpochSampler
    loader: DataLoader
    steps: int
    opt: torch.optim.Optimizer
    ema: EMA | None
    sched: Schedule
    best: float
    best_epoch: int
    history: list
    saved_at: float | None = None  # time.monotonic() of the last last.pt of this session
    saved_epoch: int = 0  # the epoch last.pt holds
    val_subset: int | None = None  # the val frames scored where they are a subset (--val-limit), else None
    made: list = field(default_factory=list)  # the folders set-up made for out, out first (checkpoint.made_folders)


def train(cfg: TrainConfig, *, resume: str | Path | None = None, overwrite: bool = False,
          same_length: bool = False, on_resume: Callable[[int, TrainConfig], None] | None = None) -> dict:
    """Run (or resume) a training run; returns ``{"best_miou", "best_epoch", "history", "select", "val_subset"}``.

    ``best_miou`` is the selection score (``select``: check, val or last, which scores none); ``val_subset`` the
    number of val frames scored where ``val_limit`` made them a subset of val, else None. A run started
    in an ``out`` that holds another run's checkpoints or logs (not the one resumed) is refused before
    any work unless ``overwrite``, which removes them first. A resumed run lasts ``cfg``'s epochs (or
    minutes), or, with ``same_length``, what it was started with (``train --resume`` without ``--epochs``
    or ``--minutes``). ``on_resume(epoch, cfg)`` is called once a resumed run is set up, before it trains: the
    epoch its checkpoint holds and the recipe it goes on with.
    """
    taken = other_run(Path(cfg.out), resume)
    if taken and not overwrite:
        raise OutputError(f"{cfg.out} holds another run ({', '.join(taken)}): resume it with --resume "
                          f"{Path(cfg.out) / 'last.pt'}, give another --out, or pass -y/--overwrite to start afresh there")  # fmt: skip
    state = resume_state(resume) if resume else None
    if state is not None:
        cfg = _resumed_config(cfg, state, resume, same_length)
    if min(n for n in (cfg.eval_every, cfg.max_steps, cfg.val_limit) if n is not None) < 1:
        raise ValueError("--eval-every, --max-steps and --val-limit count epochs, steps and frames: 1 or more")
    check_crops(cfg)
    device = pick_device(cfg.device)
    dtype = amp_dtype(cfg.amp, device)
    check_run(cfg, device, dtype)  # (before any frame is read)
    run = _set_up(cfg, state, taken, device, dtype)
    if state is not None and on_resume is not None:
        on_resume(run.saved_epoch, cfg)
    _epochs(run, start=run.saved_epoch)
    return {"best_miou": run.best if run.select != "last" else None, "best_epoch": run.best_epoch,
            "history": run.history, "select": run.select, "val_subset": run.val_subset}  # fmt: skip


def _resumed_config(cfg: TrainConfig, state: dict, resume: str | Path, same_length: bool) -> TrainConfig:
    """The recipe a resumed run goes on with: the saved one, except where ``cfg`` extends the run or says where
    it runs; ValueError where the run is over already or is resumed by the other length option."""
    saved = TrainConfig(**tuples({"minutes": 0.0, **state["config"]}))
    if same_length:
        cfg = replace(cfg, epochs=saved.epochs, minutes=saved.minutes)
    if bool(saved.minutes) != bool(cfg.minutes):
        raise ValueError(f"{resume} is a run by {'--minutes' if saved.minutes else '--epochs'}: resume it with that option")
    cfg = replace(saved, epochs=cfg.epochs, minutes=cfg.minutes, out=cfg.out, data=cfg.data, device=cfg.device,
                  workers=cfg.workers)  # fmt: skip
    left_to_train(state, cfg, resume)
    return cfg


def _set_up(cfg: TrainConfig, state: dict | None, taken: list[str], device: torch.device,
            dtype: torch.dtype | None) -> _Run:  # fmt: skip
    """Seed, read the data, build the model, loader, optimizer and schedule (on ``device``, autocast to ``dtype``), and
    restore ``state`` into them (a resumed run); ``out`` is made (and ``taken``, another run's files, removed) only
    after every check."""
    out = Path(cfg.out)
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    data = load_data(cfg)
    data["val"], subset = val_subset(data["val"], cfg.val_limit)
    select = _selection(cfg, data)
    classes = data["classes"]
    if state is not None and from_state(state).names != classes.names:
        raise ValueError(f"{cfg.data} has {classes.describe()}; the run resumed scores {from_state(state).describe()}")
    cfg, model = starting_model(cfg, data["train"][0], fresh=state is None, classes=classes)
    model = model.to(device).to(memory_format=torch.channels_last)
    pre = Preprocess().to(device)
    # (frames that make no batch are refused first: the class weights of none were NumPy's RuntimeWarnings above it)
    sampler, loader, steps = train_loader(cfg, data["train"], device, classes)
    loss_fn = training_loss(data["train"][1], device, class_weights=cfg.class_weights, lovasz=cfg.lovasz,
                            classes=classes)  # fmt: skip
    opt = optimizer(cfg, model)  # (before out is made: its first use loads seconds of torch's modules, and a Ctrl-C
    ema = EMA(model, cfg.ema) if cfg.ema > 0 else None  # there left an empty --out and said nothing of it)
    start, best, best_epoch, history = 0, -1.0, -1, []
    if state is not None:
        start, best, best_epoch, history = restore(state, model, opt, ema)
    sched = make_schedule(cfg, opt, steps, state)
    made = made_folders(out)
    try:
        out.mkdir(parents=True, exist_ok=True)  # (after the checks: a run refused leaves no folder behind)
    except OSError as exc:  # (was Python's '[Errno 2] No such file or directory: ...')
        raise OutputError(f"cannot create {out}: {reason_of(exc)}") from None
    for name in taken:  # (-y: the other run's files go, so that none of them is read as this run's)
        (out / name).unlink(missing_ok=True)
    if state is not None:
        for name in ("log.jsonl", "log.csv"):  # epochs after the checkpoint are run again: their rows go
            (out / name).unlink(missing_ok=True)
        for row in history:
            log(out, row, classes)
    return _Run(cfg, out, select, data, classes, device, dtype, model, pre, loss_fn, sampler, loader, steps, opt, ema, sched,
                best, best_epoch, history, saved_epoch=start, val_subset=subset, made=made)  # fmt: skip


def _epochs(run: _Run, start: int) -> None:
    """Train from epoch ``start`` (0-based) until the run is done; on Ctrl-C, say what ``last.pt`` holds (and out of
    memory, in one RuntimeError line, what to lower: :func:`~roadseg.train.bounds.out_of_memory`). Stopped
    (or failed: a full disk) before ``last.pt`` was written, the run removes its log rows and the ``out`` it made
    (nothing to resume: :func:`~roadseg.train.checkpoint.remove_unsaved`), and says so."""
    cfg = run.cfg
    epoch, done = start, run.sched.finished if cfg.minutes else start >= cfg.epochs
    try:
        while not done:
            done = _epoch(run, epoch)
            epoch += 1
    except BaseException as exc:  # (Ctrl-C, or a failure in the first epoch)
        removed = not run.saved_epoch and remove_unsaved(run.out, run.made)
        if isinstance(exc, KeyboardInterrupt):
            tqdm.write(interrupted_line(run.out, cfg, epoch, run.saved_epoch, removed))
        elif is_out_of_memory(exc):  # (torch's, Python's or OpenCV's: one line, the checkpoint kept)
            stopped = interrupted_line(run.out, cfg, epoch, run.saved_epoch, removed, stopped="out of memory")
            raise RuntimeError(out_of_memory(cfg, run.dtype is not None, stopped)) from None
        elif isinstance(exc, (OSError, RuntimeError)) and not (run.out / "last.pt").exists():  # (a full disk: the
            said = f"cannot write {exc.filename}: {reason_of(exc)}" if getattr(exc, "filename", None) else str(exc)
            left = f"{run.out}, which the run made, is removed" if removed else f"nothing of it is left in {run.out}"
            raise RuntimeError(f"{said}; no epoch was saved, so {left}") from exc  # line says what is left)
        raise


def _epoch(run: _Run, epoch: int) -> bool:
    """Train epoch ``epoch``, score it where due, log it and checkpoint it; True if it was the run's last."""
    cfg, sched = run.cfg, run.sched
    t0 = time.time()
    run.sampler.epoch, run.sampler.phase = epoch, phase_index(cfg, epoch, sched.progress())
    desc = f"epoch {epoch + 1}" + (f" ({sched.progress():.0%} of {cfg.minutes:g} min)" if cfg.minutes
                                   else f"/{cfg.epochs}")  # fmt: skip
    bar = tqdm(total=run.steps, desc=desc, leave=False, dynamic_ncols=True)
    try:
        loss = train_one_epoch(run.model, run.pre, run.loader, run.opt, sched, run.loss_fn, run.device, run.dtype, bar,
                               run.ema)  # fmt: skip
    finally:  # (also on Ctrl-C: a bar left open is drawn again after what is said, and the "Error:" line after it)
        bar.close()
    row = {"epoch": epoch + 1, "lr": sched.get_last_lr()[0], "train_loss": loss,
           "miou": None, "pixel_acc": None, "iou": None}  # fmt: skip
    shipped = run.model if run.ema is None else run.ema.model  # the weights that are scored and saved as best
    done = sched.finished if cfg.minutes else epoch + 1 >= cfg.epochs  # decided once: the last epoch is scored
    if (epoch + 1) % cfg.eval_every == 0 or done:
        row.update(row_scores(shipped, run.pre, run.data, run.device, run.dtype))
        if run.val_subset:  # (said in the row: a subset's score is not val's, in the log, the curve and best.pt)
            row["val_subset"] = run.val_subset
    row["seconds"] = round(time.time() - t0, 1)
    run.history.append(row)
    log(run.out, row, run.classes)
    _save(run, epoch, row, done)
    tqdm.write(epoch_summary(row, epoch, cfg, run.select, run.best, run.best_epoch))
    return done


def _save(run: _Run, epoch: int, row: dict, done: bool) -> None:
    """After an epoch: ``best.pt`` if the selection score improved, ``last.pt`` after the session's first and
    last epoch and otherwise at most every ``CHECKPOINT_SECONDS``."""
    write = done or run.saved_at is None or time.monotonic() - run.saved_at >= CHECKPOINT_SECONDS
    score = {"check": row.get("check_miou"), "val": row.get("miou"), "last": epoch}[run.select]
    improved = score is not None and score > run.best and (write or run.select != "last")
    if improved:
        run.best, run.best_epoch = score, epoch + 1
    if write or improved:
        save_checkpoint(run.out, run.cfg, epoch, run.model, run.opt, run.sched, run.ema,
                    (run.best, run.best_epoch, run.history), write, improved, run.classes)  # fmt: skip
    if write:
        run.saved_at, run.saved_epoch = time.monotonic(), epoch + 1
