"""Training data: the train/check/val frames of a recipe, the augmented dataset, class weights (and the
logit offsets that take part of them back at release), phases.

``load_data(cfg)`` reads the training splits (CamVid's, or a folder's own classes: its ``classes.txt``) and holds
footage out as the **check** split (:func:`roadseg.data.camvid.split_holdout`); ``AugmentedSet`` draws each frame's augmentation from a
(seed, epoch, index) stream so a resumed run sees exactly what a straight run would, and
``EpochSampler`` hands each index to the loader's workers with its epoch and progressive-resizing phase,
so the workers stay up from one epoch to the next.

Example:
    >>> data = load_data(TrainConfig(data="../shared/camvid", holdout=("0006R0",)))   # doctest: +SKIP
    >>> len(data["train"][0]), len(data["check"][0]), len(data["val"][0])             # doctest: +SKIP
"""

from __future__ import annotations

import signal

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, Sampler

from roadseg.classes import CAMVID_SIZE
from roadseg.data.camvid import CamVid, split_holdout, spread
from roadseg.data.classset import CAMVID, ClassSet
from roadseg.data.transforms import TrainTransform
from roadseg.train.config import TrainConfig, usable_workers


def median_frequency_weights(labels: list[np.ndarray], classes: ClassSet = CAMVID) -> np.ndarray:
    """SegNet's median-frequency balancing: w_c = median(f) / f_c, f_c over images containing c."""
    pixels = np.zeros(classes.count)
    present = np.zeros(classes.count)
    for lab in labels:
        counts = np.bincount(lab.ravel(), minlength=256)[: classes.count]
        pixels += counts
        present += (counts > 0) * (lab != classes.ignore_index).sum()
    freq = np.where(present > 0, pixels / np.maximum(present, 1), 0)
    med = np.median(freq[freq > 0])
    return np.where(freq > 0, med / np.maximum(freq, 1e-12), 0.0).astype(np.float32)


def logit_offsets(labels: list[np.ndarray], alpha: float, classes: ClassSet = CAMVID) -> np.ndarray:
    """Per-class offsets to add to a model's class scores (logit adjustment): ``-alpha * log(w_c)`` of the
    median-frequency weights ``w_c`` of ``labels``, the frames a ``--class-weights median-freq`` run
    trained on (0 for a class they lack).

    Weighting the loss by ``w_c`` teaches a network scores of about ``log p(c|x) + log w_c``: a rare class
    wins pixels that are not its own (a pole's weight is 5, a bicyclist's 9 to 12). ``alpha`` = 1 takes
    that back whole, 0 not at all; between, the release keeps part of the pull towards rare classes, which
    IoU rewards. Chosen on a check run's held-out footage (DEVELOPERS.md, models/MODEL_CARD.md).
    """
    w = median_frequency_weights(labels, classes)
    with np.errstate(over="ignore", invalid="ignore"):
        offsets = np.where(w > 0, -alpha * np.log(np.where(w > 0, w, 1.0)), 0.0).astype(np.float32)
    if not np.all(np.isfinite(offsets)):  # (was a network of NaN scores, refused as "agree on 0.000% of labels")
        raise ValueError(f"--logit-adjust {alpha:g} makes the class scores' offsets infinite: give a smaller one "
                         "(0 to 1, chosen on a check run)")  # fmt: skip
    return offsets


def run_logit_offsets(recipe: dict | None, data: str, alpha: float) -> np.ndarray | None:
    """:func:`logit_offsets` of the frames a run trained on, from its recipe (``train_splits`` less its
    ``holdout``; ``train`` when the recipe is unknown); None when ``alpha`` is 0 or the run did not
    weight its classes by median frequency (nothing to take back)."""
    recipe = recipe or {}
    if alpha == 0 or recipe.get("class_weights", "median-freq") != "median-freq":
        return None
    cfg = TrainConfig(data=str(data), train_splits=tuple(recipe.get("train_splits") or ("train",)),
                      holdout=tuple(recipe.get("holdout") or ()), size=tuple(recipe.get("size") or CAMVID_SIZE))  # fmt: skip
    data = load_data(cfg)
    return logit_offsets(data["train"][1], alpha, data["classes"])


class AugmentedSet(Dataset):
    """In-memory images with a per-(seed, epoch, index) random stream: resumable and worker-safe.

    Items are keyed ``(index, epoch, phase)`` (``EpochSampler``'s keys); ``transforms`` holds one
    ``TrainTransform`` per progressive-resizing phase.
    """

    def __init__(self, images, labels, transforms: list[TrainTransform], seed: int) -> None:
        self.images, self.labels, self.transforms, self.seed = images, labels, transforms, seed

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, key: tuple[int, int, int]):
        i, epoch, phase = key
        transform = self.transforms[phase]
        rng = np.random.default_rng([self.seed, epoch, i])
        donor = None
        if transform.paste > 0 and len(self.images) > 1:  # another frame, never this one
            j = int(rng.integers(len(self.images) - 1))
            j += j >= i
            donor = (self.images[j], self.labels[j])
        image, label = transform(self.images[i], self.labels[i], rng, donor)
        return torch.from_numpy(image), torch.from_numpy(label.astype(np.int64))


class EpochSampler(Sampler):
    """A shuffled order per epoch (drawn from seed and epoch, so a resumed run draws the same), each index
    with the epoch and phase its augmentation is for. Set ``epoch`` and ``phase`` before each epoch."""

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed, self.epoch, self.phase = n, seed, 0, 0

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        gen = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter([(i, self.epoch, self.phase) for i in torch.randperm(self.n, generator=gen).tolist()])


def load_data(cfg: TrainConfig, *, only_check: bool = False) -> dict:
    """``{"train": ..., "check": ..., "val": ...}`` image/label lists (check and val may be empty: val where
    the folder has no val split and the run is scored on a holdout or ``--select last``), and ``"classes"``, the
    folder's :class:`~roadseg.data.classset.ClassSet`. ``only_check`` reads the held-out frames alone (train and
    val then empty), to score a run's check. ``cfg.paste`` with classes of the folder's own is a ValueError:
    copy-paste moves CamVid's thing classes.

    Training frames come from ``cfg.train_splits`` minus the holdout; ``val`` is scored only when it
    is not trained on. The holdout applies within each split (``SEQ:FRACTION`` is the last FRACTION of
    SEQ's frames in each split), as ``eval --holdout`` and ``quantize --holdout`` apply it, so that
    they pick the same frames for a final fit on train+val.
    """
    names, images, labels, held = [], [], [], []
    for split in cfg.train_splits:
        ds = CamVid(cfg.data, split, size=cfg.size)
        if cfg.paste and not ds.classes.is_camvid:  # (before any frame is read)
            raise ValueError(f"--paste copies CamVid's poles, signs, fences, cars, pedestrians and bicyclists between "
                             f"frames; {ds.classes.source} names classes of their own: leave --paste out")  # fmt: skip
        stems = [s.image.stem for s in ds.samples]
        names += stems
        flags = split_holdout(stems, cfg.holdout, missing_ok=True)
        if only_check:  # (the frames trained on are not read)
            ds.samples, flags = [s for s, h in zip(ds.samples, flags) if h], [True] * sum(flags)
        held += flags
        im, lab = ds.load_all()
        images += im
        labels += lab
    split_holdout(names, cfg.holdout)  # a sequence that no split holds is an error
    out = {"train": ([i for i, h in zip(images, held) if not h], [lb for lb, h in zip(labels, held) if not h]),
           "check": ([i for i, h in zip(images, held) if h], [lb for lb, h in zip(labels, held) if h]),
           "val": ([], []), "classes": ds.classes}  # fmt: skip
    if "val" not in cfg.train_splits and not only_check:
        try:
            out["val"] = CamVid(cfg.data, "val", size=cfg.size).load_all()
        except FileNotFoundError:  # (no val split: a fastai copy without valid.txt, as its camvid_tiny)
            if not out["check"][0] and cfg.select != "last":
                raise  # (nothing would score the run: the message says what to do)
    return out


def val_subset(val: tuple[list, list], limit: int | None) -> tuple[tuple[list, list], int | None]:
    """The val frames a run scores (``--val-limit``): all of them, or ``limit`` spread evenly over them, the first
    and the last included (CamVid's val is one sequence, whose first frames are one stretch of road); the
    same frames every epoch, so that the epochs' scores, and the best checkpoint chosen on them, compare.
    Also returns the number of frames when they are a subset, None when they are all of val.

    >>> frames = (list(range(101)), list(range(101)))
    >>> (images, _), subset = val_subset(frames, 5)
    >>> images, subset
    ([0, 25, 50, 75, 100], 5)
    >>> val_subset(frames, 101)[1], val_subset(frames, None)[1]   # all of val: no subset
    (None, None)
    """
    if limit is None or limit >= len(val[0]):
        return val, None
    picked = spread(len(val[0]), limit)  # (eval --limit's frames too)
    return ([val[0][i] for i in picked], [val[1][i] for i in picked]), limit


def phases(cfg: TrainConfig) -> list[tuple[float, tuple[int, int]]]:
    """(resolution, crop) of each progressive-resizing phase, in order; one phase without ``--phase``."""
    if not cfg.phases:
        return [(1.0, (int(cfg.crop[0]), int(cfg.crop[1])))]
    return [(float(res), (int(ch), int(cw))) for _, res, ch, cw in cfg.phases]


def check_crops(cfg: TrainConfig) -> None:
    """ValueError (one line) where a crop (``--crop``, or a ``--phase``'s) is larger than the frames it is cut from:
    ``cfg.size`` (``--size``) scaled by the phase's resolution.

    >>> from roadseg.train.config import TrainConfig
    >>> check_crops(TrainConfig(data="x", size=(96, 160), crop=(96, 160)))
    >>> check_crops(TrainConfig(data="x", size=(96, 160), crop=(256, 256)))
    Traceback (most recent call last):
    ValueError: --crop 256x256 does not fit the frames, read at --size 96x160: give a crop of at most 96x160
    """
    h, w = cfg.size
    for res, (ch, cw) in phases(cfg):
        fh, fw = round(res * h), round(res * w)
        if ch > fh or cw > fw:
            what = f"--phase crop {ch}x{cw} at resolution {res:g}" if cfg.phases else f"--crop {ch}x{cw}"
            raise ValueError(f"{what} does not fit the frames, read at --size {h}x{w}: give a crop of at most {fh}x{fw}")


def phase_index(cfg: TrainConfig, epoch: int, progress: float = 0.0) -> int:
    """The phase that ``epoch`` (0-based) is in. A run by epochs counts each phase's epochs, the last
    running to the end; a timed run (``cfg.minutes``) reads them as shares of its time and goes by
    ``progress`` (0..1), the fraction of the time spent when the epoch starts."""
    counts = [n for n, *_ in cfg.phases]
    if not counts:
        return 0
    if cfg.minutes:
        edges = np.cumsum(counts) / sum(counts)
        return min(int(np.searchsorted(edges, progress, side="right")), len(counts) - 1)
    return min(int(np.searchsorted(np.cumsum(counts), epoch, side="right")), len(counts) - 1)


def _transforms(cfg: TrainConfig, void: int) -> list[TrainTransform]:
    """The augmentation of each phase: its resolution and crop, the recipe's photometric settings."""
    return [TrainTransform(crop, (res * cfg.scale[0], res * cfg.scale[1]), jitter=cfg.jitter, gamma=cfg.gamma,
                           colour_cast=cfg.colour_cast, blur=cfg.blur, noise=cfg.noise, paste=cfg.paste, void=void)
            for res, crop in phases(cfg)]  # fmt: skip


def _deaf_worker(worker_id: int) -> None:
    """A loader worker's start: SIGTERM, SIGHUP and SIGINT are the main process's to act on, not the worker's.

    ``timeout``, ``systemctl stop``, a closed terminal and Ctrl-C signal the whole process group; a worker
    that died of it made the main process fail with PyTorch's "DataLoader worker (pid N) is killed by
    signal" (and a traceback) instead of stopping as on Ctrl-C. The main process ends its workers itself.

    >>> saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)}
    >>> _deaf_worker(0); signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    True
    >>> for s, handler in saved.items(): _ = signal.signal(s, handler)
    """
    for name in ("SIGTERM", "SIGHUP", "SIGINT"):
        if hasattr(signal, name):  # (no SIGHUP on Windows)
            signal.signal(getattr(signal, name), signal.SIG_IGN)


def train_loader(cfg: TrainConfig, train: tuple[list, list], device: torch.device,
                 classes: ClassSet = CAMVID) -> tuple[EpochSampler, DataLoader, int]:  # fmt: skip
    """The training frames' loader, its sampler (``train`` sets each epoch and phase on it) and the steps an
    epoch takes; ValueError where the frames make no batch. Its worker processes are ``cfg.workers``, at most one per
    CPU this process may use (:func:`~roadseg.train.config.usable_workers`: a recipe, or a run resumed, from a larger
    machine)."""
    workers = usable_workers(cfg.workers)
    train_set = AugmentedSet(*train, _transforms(cfg, classes.ignore_index), cfg.seed)
    sampler = EpochSampler(len(train_set), cfg.seed)
    # workers stay up between epochs (the sampler tells them each item's epoch and phase)
    loader = DataLoader(train_set, batch_sampler=BatchSampler(sampler, cfg.batch_size, drop_last=True),
                        num_workers=workers, persistent_workers=workers > 0,
                        worker_init_fn=_deaf_worker if workers > 0 else None,  # signals: the main process's
                        generator=torch.Generator().manual_seed(cfg.seed),  # not the global RNG
                        pin_memory=device.type == "cuda")  # fmt: skip
    check_batch(len(train_set), cfg)
    return sampler, loader, len(loader) if cfg.max_steps is None else min(len(loader), cfg.max_steps)


def check_batch(frames: int, cfg: TrainConfig) -> None:
    """ValueError (one line) where ``frames`` training frames make no batch of ``cfg.batch_size`` (an epoch drops
    the last, partial batch).

    >>> check_batch(367, TrainConfig(data="x", batch_size=100000))
    Traceback (most recent call last):
    ValueError: 367 training frames make no batch of 100000: lower --batch-size
    """
    if frames < cfg.batch_size:
        raise ValueError(f"{frames} training frames make no batch of {cfg.batch_size}: lower --batch-size"
                         + (" or hold less out (--holdout)" if cfg.holdout else ""))  # fmt: skip
