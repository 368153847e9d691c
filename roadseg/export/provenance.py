"""What a shipped file's metadata says of how it was made (:func:`training_metadata`): the data and recipe
(:data:`RECIPE_KEYS`) of the checkpoint's run, its epoch and the scores the run logged for it; a soup's ingredients; a
rebuilt release's own file. :func:`roadseg.export.release.release` writes it into both files.
"""

from __future__ import annotations

from pathlib import Path

from roadseg.data.classset import from_state
from roadseg.train.checkpoint import trained_size

#: The recipe fields a shipped file's metadata records.
RECIPE_KEYS = ("epochs", "batch_size", "crop", "scale", "jitter", "gamma", "colour_cast", "blur", "noise", "paste",
               "phases", "ema", "lr", "weight_decay", "schedule", "class_weights", "lovasz", "encoder_weights",
               "init", "train_splits", "holdout", "seed", "size")  # fmt: skip


def training_metadata(state: dict) -> dict:
    """What a checkpoint says about how it was made: data, recipe, model config, epoch, and the val and
    check mIoU the run logged for that epoch (the check only where the run held footage out). Of a model
    soup (``roadseg soup``): its ingredients, each with its own recipe and scores, in place of a recipe. Of a
    rebuilt release (:func:`source_network`): what that file said, and the file and its scores as ``rebuilt_from``. Where
    the epoch's val score was of a subset (``train --val-limit``), it is ``val_subset_miou`` beside ``val_subset`` (the
    frames scored), never ``val_miou``, which is all of val's (:func:`release` scores all of it).

    >>> state = {"config": {}, "epoch": 0, "history": [{"epoch": 1, "miou": 0.5, "val_subset": 10}]}
    >>> {k: v for k, v in training_metadata(state).items() if "val_" in k and k != "val_trained_on"}
    {'val_subset_miou': 50.0, 'val_subset': 10}
    """
    if state.get("released"):
        about = state["released"]
        meta = {k: about[k] for k in ("training_data", "training", "checkpoint_epoch", "val_trained_on", "soup")
                if k in about}  # fmt: skip
        meta["model_config"] = state.get("model_config")
        meta["rebuilt_from"] = {k: about[k] for k in ("file", "val_miou", "check_miou", "logit_adjustment", "rebuilt_from")
                                if k in about}  # fmt: skip
        return meta
    cfg = state.get("config") or {}
    splits = list(cfg.get("train_splits") or ["train"])
    epoch = state.get("best_epoch") if (state.get("best_epoch") or -1) > 0 else state.get("epoch", -1) + 1
    classes = from_state(state)
    source = ("CamVid 11-class (SegNet release)" if classes.is_camvid else
              f"{Path(cfg.get('data') or 'data').name}, {classes.count} classes of its own ({', '.join(classes.names)})")  # fmt: skip
    meta = {
        "training_data": f"{source}, {' + '.join(splits)} at {'x'.join(map(str, trained_size(state)))}"
                         + (f", holding out {', '.join(cfg['holdout'])}" if cfg.get("holdout") else ""),
        "training": {k: cfg.get(k) for k in RECIPE_KEYS},
        "model_config": state.get("model_config"),
        "checkpoint_epoch": epoch,
        "val_trained_on": "val" in splits,
    }  # fmt: skip
    if state.get("soup"):  # a model soup: its recipe is its ingredients'
        soup = state["soup"]
        data = sorted({i.get("training_data") for i in soup if i.get("training_data")})
        for key in ("training", "checkpoint_epoch"):
            del meta[key]
        meta.update(training_data=" / ".join(data) or meta["training_data"], soup=soup,
                    val_trained_on=any(i.get("val_trained_on") for i in soup))  # fmt: skip
    row = next((r for r in state.get("history") or [] if r.get("epoch") == epoch), {})
    for key in ("miou", "check_miou"):
        if row.get(key) is not None:
            meta[f"{'val_' if key == 'miou' else ''}{key}"] = round(100 * row[key], 2)
    if row.get("val_subset") and "val_miou" in meta:  # (a --val-limit run's: was, written as val_miou, a full val's)
        meta["val_subset_miou"], meta["val_subset"] = meta.pop("val_miou"), int(row["val_subset"])
    return meta
