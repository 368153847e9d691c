"""Networks read from files and written to them: checkpoints (:func:`load_checkpoint`, :func:`half_copy`, written
by :func:`save_atomic`), exported roadseg fp32 ``.onnx`` files rebuilt into trainable networks
(:func:`rebuilt_release`), soups of several (:func:`soup_checkpoint`), and the logit adjustment a release folds into a
network's head. What a training run starts from (``--init``, ``--encoder-weights``) is :mod:`roadseg.train.start`.

An exported file is rebuilt by :mod:`roadseg.model.unfold`; its BatchNorm statistics are measured on
``calibration_batch`` (8 training frames).

Example:
    >>> model, state = load_checkpoint("runs/r34/best.pt")        # doctest: +SKIP
    >>> net, state = rebuilt_release("models/unet-r34-camvid.onnx", images)  # doctest: +SKIP
    >>> soup_checkpoint(["a.onnx", "b.onnx"], None, images, "soup.pt")  # doctest: +SKIP
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from contextlib import suppress
from pathlib import Path

import cv2
import numpy as np
import torch

from roadseg.classes import CAMVID_SIZE
from roadseg.contract import not_checkpoint, read_onnx
from roadseg.data.camvid import fits_in_memory
from roadseg.data.classset import from_state
from roadseg.errors import ModelError, reason_of
from roadseg.model import Preprocess, build_model
from roadseg.pipeline.infer import CPU_BYTES_PER_PIXEL


def calibration_batch(images: list[np.ndarray], size: tuple[int, int] | None = None) -> torch.Tensor:
    """8 evenly spaced training frames, normalised: what an .onnx warm start sets its BN statistics on; resized to
    ``size`` (height, width) where given, as a run of ``train --size`` reads them."""
    if not images:
        raise ValueError("an .onnx warm start needs training images to calibrate its BNs")
    chosen = [images[i] for i in calibration_indices(len(images))]
    if size is not None:  # (as CamVid(size=) reads them)
        h, w = size  # (was OpenCV's traceback at a size that cannot fit: a file's input_size of 99999x99999)
        fits_in_memory(len(chosen) * h * w * (3 + 4 * 3) + len(chosen) * h * w * CPU_BYTES_PER_PIXEL,
                       f"calibrating the BatchNorms on {len(chosen)} frames at {h}x{w}")  # fmt: skip
        chosen = [f if f.shape[:2] == size else cv2.resize(f, size[::-1], interpolation=cv2.INTER_AREA) for f in chosen]
    return Preprocess()(torch.from_numpy(np.stack(chosen)))


def calibration_indices(count: int) -> list[int]:
    """Which of ``count`` training frames :func:`calibration_batch` uses: 8 evenly spaced (all, if fewer).
    A caller that reads frames from disk reads only these."""
    return [int(i) for i in np.linspace(0, count - 1, min(8, count)).astype(int)]


def recorded_classes(spec: str) -> tuple[str, ...] | None:
    """The class names an exported ``.onnx`` (its metadata) or a checkpoint records; None for a checkpoint from
    before checkpoints recorded them (its classes known by count alone)."""
    if spec.endswith(".onnx"):
        meta = _metadata(spec)
        return tuple(json.loads(meta["classes"])) if "classes" in meta else None
    state = torch.load(spec, map_location="cpu", weights_only=False)
    return from_state(state).names if isinstance(state, dict) and state.get("classes") else None


def load_checkpoint(path: str | Path, device: str = "cpu"):
    """Rebuild the model of a checkpoint (``last.pt``/``best.pt`` or a bare ``{"model", "model_config"}``).

    A ``last.pt`` of a run with an EMA gives the EMA weights: those are what the run scores and ships.
    """
    try:
        state = torch.load(path, map_location=device, weights_only=False)
        model = build_model(state.get("model_config"))
        model.load_state_dict(_scored_weights(state))
    except Exception as exc:  # noqa: BLE001 - a pickle that is not a checkpoint, missing keys, another net ...
        raise not_checkpoint(path) or ModelError(
            f"cannot read checkpoint {path}: {exc.__class__.__name__}: {reason_of(exc)}") from None
    return model.eval(), state


def _scored_weights(state: dict) -> dict:
    """The weights a checkpoint's run scores and ships: the EMA's where it keeps one."""
    return (state.get("ema") or {}).get("model") or state["model"]


def half_copy(src: str | Path, dst: str | Path) -> Path:
    """Write a small copy of a checkpoint: its scored weights (the EMA's, where the run keeps one) with the
    convolution kernels in float16, and its recipe, epoch and history; no optimizer.

    Half the size of ``best.pt`` (an eighth of a ``last.pt`` with an EMA), for carrying a run home from a
    machine that returns files of limited size (DEVELOPERS.md, "On a lent GPU machine"). ``export``,
    ``release`` and ``eval`` take it as they take ``best.pt``; ``--resume`` cannot. Of a ``last.pt`` it
    keeps the last epoch's weights, and says so.
    """
    state = torch.load(src, map_location="cpu", weights_only=False)
    small = {k: v.half() if v.is_floating_point() and v.dim() == 4 else v for k, v in _scored_weights(state).items()}
    keep = {k: state.get(k) for k in ("classes", "palette", "model_config", "config", "epoch", "best_miou", "best_epoch",
                                      "history")}  # fmt: skip
    if state.get("optimizer") is not None:  # a last.pt: its weights are the last epoch's, not the best one's
        keep["best_epoch"] = state["epoch"] + 1
    save_atomic({**keep, "model": small}, Path(dst))
    return Path(dst)


#: what a soup records of each ingredient, and a rebuilt release of its file, from the file's metadata
INGREDIENT_KEYS = ("training_data", "training", "checkpoint_epoch", "val_miou", "val_trained_on", "check_miou",
                   "soup", "rebuilt_from", "logit_adjustment")  # fmt: skip


def released_about(path: str | Path) -> dict:
    """What an exported file's metadata says of how it was made (:data:`INGREDIENT_KEYS`), parsed."""
    meta = _metadata(path)
    return {k: json.loads(meta[k]) for k in INGREDIENT_KEYS if k in meta}


def file_classes(path: str | Path) -> dict:
    """The classes and palette an exported file's metadata names, as a checkpoint records them
    (:meth:`~roadseg.data.classset.ClassSet.as_state`): what a network rebuilt from it scores."""
    meta = _metadata(path)
    return {k: json.loads(meta[k]) for k in ("classes", "palette") if k in meta}


def _metadata(path: str | Path) -> dict[str, str]:
    """An exported file's metadata, unparsed (its weights left unread)."""
    return {p.key: p.value for p in read_onnx(path, load_external_data=False).metadata_props}


def rebuilt_release(path: str | Path, images: list[np.ndarray]) -> tuple[torch.nn.Module, dict]:
    """A released fp32 ``.onnx`` as a checkpoint that ``release`` takes: the network rebuilt
    (:mod:`roadseg.model.unfold`, BNs calibrated on ``images`` at the file's ``input_size``) and a state that carries what the file
    says of its making (``released``), so that a re-release (e.g. another logit adjustment) keeps its
    recipe. The rebuilt network scores what the file does (the sixth release: 71.89 both)."""
    from roadseg.model.unfold import unet_from_onnx

    about, meta = released_about(path), _metadata(path)
    size = json.loads(meta["input_size"]) if "input_size" in meta else None  # (the size it was trained at: a re-release's)
    net = unet_from_onnx(str(path), calibration_batch(images, tuple(size) if size else None)).eval()
    shift_logits(net, -_offsets_of(about))  # the network before its release's logit adjustment
    return net, {**file_classes(path), "model": net.state_dict(), "model_config": net.config,
                 "released": {"file": Path(path).name, **about, **({"input_size": size} if size else {})}}  # fmt: skip


def shift_logits(net: torch.nn.Module, offsets: np.ndarray) -> torch.nn.Module:
    """Add per-class ``offsets`` to ``net``'s class scores, in place, through its head's bias: exact, and
    free at inference (the logit adjustment of a release: :func:`roadseg.train.data.logit_offsets`)."""
    with torch.no_grad():
        net.head.bias += torch.as_tensor(offsets, dtype=net.head.bias.dtype)
    return net


def adjust_logits(net, state: dict, data: str | Path, alpha: float) -> dict:
    """Fold the logit adjustment ``alpha`` of ``state``'s run (its recipe's training frames of ``data``) into
    ``net``'s head; return the metadata that records it (empty when there is none to make)."""
    from roadseg.train.data import run_logit_offsets

    released = state.get("released") or {}
    soup = state.get("soup") or released.get("soup") or [{}]
    recipe = state.get("config") or released.get("training") or soup[0].get("training")
    offsets = run_logit_offsets(recipe, str(data), alpha)
    if offsets is None:
        return {}
    shift_logits(net, offsets)
    return {"logit_adjustment": {"alpha": alpha, "offsets": [round(float(v), 6) for v in offsets],
                                 "about": "minus alpha x log of the median-frequency class weights of the frames "
                                          "the network trained on, added to its class scores"}}  # fmt: skip


def _offsets_of(about: dict) -> np.ndarray:
    """The logit offsets a released file's head carries (0 where it has none)."""
    return np.asarray((about.get("logit_adjustment") or {}).get("offsets", 0.0), np.float32)


def soup_checkpoint(paths: list[str], weights: list[float] | None, images: list[np.ndarray], dst: str | Path) -> Path:
    """Write a checkpoint of the model soup of the exported fp32 ``paths`` (:func:`roadseg.model.unfold.unet_soup`,
    BNs calibrated on ``images``) that ``export``, ``release`` and ``eval`` take as they take ``best.pt``.

    It records each ingredient (file name, weight and what its metadata says of its training), and the
    release writes that into the shipped files' metadata; and the size they were trained at (their
    ``input_size``: :func:`~roadseg.train.checkpoint.trained_size`), at which ``images`` calibrate the BNs.
    """
    from roadseg.model.unfold import unet_soup

    size = _one_kind(paths)
    net = unet_soup([str(p) for p in paths], weights, calibration_batch(images, size))
    weights = [1.0] * len(paths) if weights is None else weights
    abouts = [released_about(path) for path in paths]
    # the soup averages the ingredients' heads, logit adjustments and all: it is made without them (a release adds its own)
    shift_logits(net, -sum(w / sum(weights) * _offsets_of(about) for w, about in zip(weights, abouts)))
    soup = [{"file": Path(path).name, "weight": round(weight / sum(weights), 4), **about}
            for path, weight, about in zip(paths, weights, abouts)]  # fmt: skip
    save_atomic({**file_classes(paths[0]), "model": net.state_dict(), "model_config": net.config, "soup": soup,
                 "input_size": list(size)}, Path(dst))  # fmt: skip
    return Path(dst)


def _one_kind(paths: list[str]) -> tuple[int, int]:
    """The (height, width) the files of a soup were trained at (their ``input_size``); ValueError (one line naming
    both) where they score other classes (averaged, each class's scores would mix another's, and the soup would take
    the first file's names) or were trained at other sizes (it would be released at one, which another never saw)."""
    said = [(json.loads(m.get("classes", "[]")), "x".join(map(str, json.loads(m.get("input_size", "null")) or CAMVID_SIZE)))
            for m in map(_metadata, paths)]  # fmt: skip
    (names, size), first = said[0], Path(paths[0]).name
    for path, (other, at) in zip(paths[1:], said[1:]):
        if other != names:
            raise ValueError(f"{first} scores {', '.join(names)} but {Path(path).name} scores {', '.join(other)}: a soup "
                             "averages files of the same classes")  # fmt: skip
        if at != size:
            raise ValueError(f"{first} was trained at {size} but {Path(path).name} at {at}: a soup averages files "
                             "trained at one size")  # fmt: skip
    height, width = size.split("x")
    return int(height), int(width)


def save_atomic(obj: dict, path: Path) -> None:
    """``torch.save`` through a temporary file: a crash never leaves a half-written checkpoint. One that cannot be
    written is a RuntimeError that says why, its temporary file removed: a full disk was torch's ``[enforce fail at
    inline_container.cc:672] . unexpected pos 155946752 vs 155946644``, a 150 MB ``last.tmp`` left filling it."""
    tmp = path.with_suffix(".tmp")
    try:
        torch.save(obj, tmp)
    except BaseException as exc:  # (Ctrl-C too: a half-written last.tmp was left)
        written = tmp.stat().st_size if tmp.exists() else None
        with suppress(OSError):  # (none to remove where none could be made: a read-only disk says so, EROFS)
            tmp.unlink(missing_ok=True)
        if not isinstance(exc, (RuntimeError, OSError)):
            raise
        raise RuntimeError(f"cannot write {path}: {_why_unwritten(exc, path.parent, written)}; "
                           + (f"{path.name} is as it was before" if path.exists() else f"{path.name} is not written")) from None
    os.replace(tmp, path)


def _why_unwritten(exc: BaseException, folder: Path, written: int | None) -> str:
    """Why a file could not be written into ``folder`` (``written`` bytes of it; None: it could not be made): a full
    disk where the OS says so (ENOSPC), or where torch's own writer failed (``unexpected pos``) on a file it made with
    under 1 MB left; else the error's reason (was: "the disk is full" for a file that could not be made in a folder
    that reports no space, ``/proc``).

    >>> _why_unwritten(OSError(13, "Permission denied"), Path("/"), 0)
    'Permission denied'
    >>> _why_unwritten(OSError(28, "No space left on device"), Path("/"), 3 << 20)
    'the disk is full (3 MB of it written)'
    >>> _why_unwritten(RuntimeError("[enforce fail at inline_container.cc:747] . open file failed with strerror: "
    ...                             "Read-only file system"), Path("/"), None)
    'Read-only file system'
    """
    full = getattr(exc, "errno", None) == errno.ENOSPC
    if written is not None and not isinstance(exc, OSError):
        try:
            full = shutil.disk_usage(folder).free < 1 << 20
        except OSError:
            full = False
    said = reason_of(exc)  # (torch's own: '[enforce fail at inline_container.cc:747] . open file failed with strerror: X')
    return f"the disk is full ({(written or 0) >> 20} MB of it written)" if full else said.rpartition("strerror: ")[2]
