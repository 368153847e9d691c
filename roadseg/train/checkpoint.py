"""A training run's checkpoints and its folder: ``last.pt`` (everything ``--resume`` needs) and ``best.pt`` (the
scored weights) written after an epoch, ``last.pt`` read back and restored into a resumed run, the rows of
``log.csv`` and ``log.jsonl`` (:func:`log_columns`), and the checks made before any work: another run's files in
``--out``, a resumed run with nothing left to train; the folders a run made, removed where it stopped before it saved
anything.

:func:`roadseg.train.loop.train` drives them; :func:`roadseg.train.weights.load_checkpoint` rebuilds a
checkpoint's network for scoring and export.

Example:
    >>> other_run(Path("runs/none-here"), None)       # the files of another run in --out: none
    []
    >>> state = resume_state("runs/r34/last.pt")      # doctest: +SKIP
    >>> start, best, best_epoch, history = restore(state, model, opt, ema)   # doctest: +SKIP
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from roadseg.classes import CAMVID_SIZE
from roadseg.contract import not_checkpoint
from roadseg.data.classset import CAMVID, ClassSet
from roadseg.errors import ModelError, reason_of
from roadseg.train.engine import EMA
from roadseg.train.schedule import Schedule
from roadseg.train.weights import save_atomic

if TYPE_CHECKING:  # (loop imports this module)
    from roadseg.train.config import TrainConfig


RUN_FILES = ("last.pt", "best.pt", "log.csv", "log.jsonl")


def other_run(out: Path, resume: str | Path | None) -> list[str]:
    """The files of a run in ``out`` that a run started there would replace or append to (none when
    ``resume`` is that run's own checkpoint in ``out``)."""
    if resume is not None and Path(resume).resolve().parent == out.resolve():
        return []
    return [name for name in RUN_FILES if (out / name).exists()]


def made_folders(out: Path) -> list[Path]:
    """The folders that making ``out`` (with its parents) makes, ``out`` first: what :func:`remove_made` may take away.

    >>> made_folders(Path("/no/such/runs/r34"))
    [PosixPath('/no/such/runs/r34'), PosixPath('/no/such/runs'), PosixPath('/no/such'), PosixPath('/no')]
    """
    return [p for p in (out, *out.parents) if not p.exists()]


def remove_unsaved(out: Path, made: list[Path]) -> bool:
    """Of a fresh run stopped (or failed: a full disk) before ``out/last.pt`` was written, remove its own log rows
    (``log.csv``, ``log.jsonl``: was left, a run that was none, which a rerun into ``out`` was refused for without
    ``-y`` and which said to ``--resume`` a ``last.pt`` that is not there), then :func:`remove_made`; True where
    ``out`` went. A run whose ``last.pt`` was written keeps everything."""
    if not (out / "last.pt").exists():
        for name in RUN_FILES:
            if (out / name).exists():  # (an unlink of none on a read-only disk is EROFS: it hid the error being said)
                (out / name).unlink()
    return remove_made(made)


def remove_made(made: list[Path]) -> bool:
    """Remove the folders :func:`made_folders` listed, ``out`` first, while they are empty (a run stopped before it
    saved anything: an empty ``--out`` left behind looked like a run); True where ``out`` went."""
    for path in made:
        try:
            path.rmdir()
        except OSError:  # (not empty, or gone: what is in it stays)
            break
    return bool(made) and not made[0].exists()


def interrupted_line(out: Path, cfg: TrainConfig, epoch: int, saved: int, removed: bool,
                     stopped: str = "interrupted") -> str:  # fmt: skip
    """What a run ``stopped`` (interrupted, out of memory) in epoch ``epoch`` (0-based) says: the epoch ``saved``
    that ``out/last.pt`` holds and the ``--resume`` that goes on as the run was, or that none was saved (and,
    ``removed``, that ``out`` went with it).

    >>> from roadseg.train.config import TrainConfig
    >>> interrupted_line(Path("runs/x"), TrainConfig(data="d", epochs=3), 0, 0, True)
    'interrupted in epoch 1: no epoch was saved, so runs/x, which the run made, is removed'
    >>> interrupted_line(Path("runs/x"), TrainConfig(data="d", epochs=3), 1, 1, False)
    'interrupted in epoch 2: runs/x/last.pt holds epoch 1; resume with --resume runs/x/last.pt --epochs 3'
    """
    if not saved:
        return f"{stopped} in epoch {epoch + 1}: no epoch was saved" + (
            f", so {out}, which the run made, is removed" if removed else "")
    length = f"--minutes {cfg.minutes:g}" if cfg.minutes else f"--epochs {cfg.epochs}"  # (the resuming command's)
    gap = f"{saved + 1}" + (f"-{epoch}" if epoch > saved + 1 else "")  # (done since it was written)
    gap = (f" (epoch{'s' * ('-' in gap)} {gap} done but not saved: last.pt is written at most once a minute; a "
           "resume runs them again, alike)") if epoch > saved else ""  # fmt: skip
    return (f"{stopped} in epoch {epoch + 1}: {out / 'last.pt'} holds epoch {saved}{gap}; "
            f"resume with --resume {out / 'last.pt'} {length}")


def epoch_summary(row: dict, epoch: int, cfg: TrainConfig, select: str, best: float, best_epoch: int) -> str:
    """The console's line of an epoch: its loss, val's (and the check's) mIoU, the best so far, its time."""
    def pct(v):
        return "-" if v is None else f"{100 * v:.2f}"

    text = f"epoch {epoch + 1}: loss {row['train_loss']:.4f}  val mIoU {pct(row.get('miou'))}"
    if row.get("val_subset"):
        text += f" ({row['val_subset']}-frame subset)"
    if "check_miou" in row or cfg.holdout:
        text += f"  check mIoU {pct(row.get('check_miou'))}"
    if select != "last":
        text += f"  best {select} {100 * max(best, 0):.2f} (epoch {best_epoch})"
    return text + f"  {row['seconds']}s"


def left_to_train(state: dict, cfg: TrainConfig, resume: str | Path) -> None:
    """ValueError (one line, before any work) where the run resumed has already trained as long as asked:
    such a resume ran nothing and said only the best score, as if it had trained."""
    done = state["epoch"] + 1
    if cfg.minutes:
        spent = float((state.get("schedule") or {}).get("elapsed", 0.0)) / 60
        if spent >= cfg.minutes:
            raise ValueError(f"{resume} has trained {spent:.3g} of its minutes already: nothing is left up to --minutes "
                             f"{cfg.minutes:g}; to go on, resume with a larger --minutes, e.g. --minutes "
                             f"{spent + max(1.0, cfg.minutes / 2):.3g}")  # fmt: skip
    elif done >= cfg.epochs:
        raise ValueError(f"{resume} holds epoch {done} already: nothing is left up to --epochs {cfg.epochs}; to go on, "
                         f"resume with a larger --epochs, e.g. --epochs {done + 1}")  # fmt: skip


def resume_state(path: str | Path) -> dict:
    """The state of a run's ``last.pt``; ModelError (one line) for a file that is not one."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - not a pickle, cut short, another library's ...
        raise not_checkpoint(path, "--resume takes a run's last.pt") or ModelError(
            f"cannot resume from {path}: {exc.__class__.__name__}: {reason_of(exc)}") from None
    if not isinstance(state, dict) or not isinstance(state.get("config"), dict) or "model" not in state:
        raise ModelError(f"cannot resume from {path}: it is not a roadseg training checkpoint")
    if not state.get("optimizer") or not (state.get("schedule") or state.get("scheduler")):  # (scheduler: older runs)
        raise ModelError(f"cannot resume from {path}: it holds the scored weights only (a best.pt or a half copy); "
                         "resume from the run's last.pt")  # fmt: skip
    return state


def restore(state: dict, model, opt, ema: EMA | None) -> tuple[int, float, int, list]:
    """Load a ``last.pt`` into the run's objects; returns (first epoch, best, best epoch, history).
    The schedule's position is restored by ``make_schedule``."""
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    if ema is not None:
        ema.load_state_dict(state["ema"])
    torch.set_rng_state(state["torch_rng"])
    return state["epoch"] + 1, state["best_miou"], state["best_epoch"], state["history"]


def save_checkpoint(out: Path, cfg: TrainConfig, epoch: int, model, opt, sched: Schedule, ema: EMA | None,
                progress: tuple, last: bool, improved: bool, classes: ClassSet = CAMVID) -> None:  # fmt: skip
    """Write ``last.pt`` (everything ``--resume`` needs) if ``last``, and, when the run improved, ``best.pt``
    (the scored weights only). ``progress`` is (best, best epoch, history). Both record the ``classes`` the
    network scores, names and colours (what ``export`` and ``eval`` read back: :func:`~roadseg.data.classset.from_state`)."""
    best, best_epoch, history = progress
    ckpt = {**classes.as_state(), "model": model.state_dict(), "model_config": model.config, "optimizer": opt.state_dict(),
            "schedule": sched.state_dict(), "epoch": epoch, "config": asdict(cfg),
            "torch_rng": torch.get_rng_state(), "best_miou": best, "best_epoch": best_epoch,
            "history": history, "ema": None if ema is None else ema.state_dict()}  # fmt: skip
    if last:
        save_atomic(ckpt, out / "last.pt")
    if improved:
        shipped = model if ema is None else ema.model
        save_atomic({**ckpt, "model": shipped.state_dict(), "optimizer": None, "schedule": None, "ema": None},
              out / "best.pt")  # fmt: skip


def log_columns(names: tuple[str, ...]) -> tuple[str, ...]:
    """log.csv's columns, fixed for a run of the classes ``names``: a row that lacks one (no evaluation that epoch, no
    check split) leaves it empty; ``val_subset`` is the number of val frames scored where ``--val-limit`` made them a
    subset, empty for all of val.

    >>> log_columns(("road", "car"))[-4:]
    ('iou_road', 'iou_car', 'check_iou_road', 'check_iou_car')
    """
    return ("epoch", "lr", "train_loss", "miou", "pixel_acc", "val_subset", "check_miou", "check_pixel_acc", "seconds",
            *(f"iou_{c}" for c in names), *(f"check_iou_{c}" for c in names))  # fmt: skip


def log(out: Path, row: dict, classes: ClassSet = CAMVID) -> None:
    """Append ``row`` to ``log.jsonl`` and ``log.csv`` (its per-class IoU a column a class of ``classes``)."""
    with open(out / "log.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")
    flat = {k: v for k, v in row.items() if k not in ("iou", "check_iou")}
    for key in ("iou", "check_iou"):
        flat.update({f"{key}_{c}": v for c, v in zip(classes.names, row.get(key) or [None] * classes.count)})
    new = not (out / "log.csv").exists()
    with open(out / "log.csv", "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=log_columns(classes.names), extrasaction="ignore")
        if new:
            w.writeheader()
        w.writerow(flat)


def trained_size(state: dict) -> tuple[int, int]:
    """The (height, width) a checkpoint's network was trained at: its recipe's ``size`` (``train --size``), a soup's
    (its ingredients' ``input_size``), a rebuilt release's ``input_size``, else CamVid's 360x480 (a soup or a run
    from before the size was recorded).

    >>> trained_size({"config": {"size": [96, 160]}}), trained_size({"soup": [], "input_size": [72, 128]})
    ((96, 160), (72, 128))
    >>> trained_size({"soup": []})
    (360, 480)
    """
    size = ((state.get("config") or {}).get("size") or state.get("input_size")
            or (state.get("released") or {}).get("input_size") or CAMVID_SIZE)  # fmt: skip
    return int(size[0]), int(size[1])
