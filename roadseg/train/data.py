"""Training data: the train/check/val frames of a recipe, the augmented dataset, class weights, phases.

``load_data(cfg)`` reads CamVid's training splits and holds footage out as the **check** split
(:func:`roadseg.data.camvid.split_holdout`); ``AugmentedSet`` draws each frame's augmentation from a
(seed, epoch, index) stream so a resumed run sees exactly what a straight run would.

Example:
    >>> data = load_data(TrainConfig(data="../shared/camvid", holdout=("0006R0",)))   # doctest: +SKIP
    >>> len(data["train"][0]), len(data["check"][0]), len(data["val"][0])             # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.utils.data import Dataset

from roadseg.classes import IGNORE_INDEX, NUM_CLASSES
from roadseg.data.camvid import CamVid, split_holdout
from roadseg.data.transforms import TrainTransform

if TYPE_CHECKING:
    from roadseg.train.loop import TrainConfig


def median_frequency_weights(labels: list[np.ndarray]) -> np.ndarray:
    """SegNet's median-frequency balancing: w_c = median(f) / f_c, f_c over images containing c."""
    pixels = np.zeros(NUM_CLASSES)
    present = np.zeros(NUM_CLASSES)
    for lab in labels:
        counts = np.bincount(lab.ravel(), minlength=256)[:NUM_CLASSES]
        pixels += counts
        present += (counts > 0) * (lab != IGNORE_INDEX).sum()
    freq = np.where(present > 0, pixels / np.maximum(present, 1), 0)
    med = np.median(freq[freq > 0])
    return np.where(freq > 0, med / np.maximum(freq, 1e-12), 0.0).astype(np.float32)


class AugmentedSet(Dataset):
    """In-memory images with a per-(seed, epoch, index) random stream: resumable and worker-safe."""

    def __init__(self, images, labels, transform: TrainTransform, seed: int) -> None:
        self.images, self.labels, self.transform, self.seed = images, labels, transform, seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        rng = np.random.default_rng([self.seed, self.epoch, i])
        donor = None
        if self.transform.paste > 0 and len(self.images) > 1:  # another frame, never this one
            j = int(rng.integers(len(self.images) - 1))
            j += j >= i
            donor = (self.images[j], self.labels[j])
        image, label = self.transform(self.images[i], self.labels[i], rng, donor)
        return torch.from_numpy(image), torch.from_numpy(label.astype(np.int64))


def load_data(cfg: "TrainConfig") -> dict[str, tuple[list, list]]:
    """``{"train": ..., "check": ..., "val": ...}`` image/label lists (check and val may be empty).

    Training frames come from ``cfg.train_splits`` minus the holdout; ``val`` is scored only when it
    is not trained on. The holdout applies within each split (``SEQ:FRACTION`` is the last FRACTION of
    SEQ's frames in each split), as ``eval --holdout`` and ``quantize --holdout`` apply it, so that
    they pick the same frames for a final fit on train+val.
    """
    names, images, labels, held = [], [], [], []
    for split in cfg.train_splits:
        ds = CamVid(cfg.data, split, size=cfg.size)
        stems = [s.image.stem for s in ds.samples]
        names += stems
        held += split_holdout(stems, cfg.holdout, missing_ok=True)
        im, lab = ds.load_all()
        images += im
        labels += lab
    split_holdout(names, cfg.holdout)  # a sequence that no split holds is an error
    out = {"train": ([i for i, h in zip(images, held) if not h], [lb for lb, h in zip(labels, held) if not h]),
           "check": ([i for i, h in zip(images, held) if h], [lb for lb, h in zip(labels, held) if h]),
           "val": ([], [])}  # fmt: skip
    if "val" not in cfg.train_splits:
        out["val"] = CamVid(cfg.data, "val", size=cfg.size).load_all()
    return out


def phase_at(cfg: "TrainConfig", epoch: int) -> tuple[float, tuple[int, int]]:
    """(resolution, crop) of the progressive-resizing phase that ``epoch`` (0-based) is in."""
    start = 0
    for n, res, ch, cw in cfg.phases:
        if epoch < start + n:
            return float(res), (int(ch), int(cw))
        start += n
    if cfg.phases:
        _, res, ch, cw = cfg.phases[-1]
        return float(res), (int(ch), int(cw))
    return 1.0, tuple(cfg.crop)
