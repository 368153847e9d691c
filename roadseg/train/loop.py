"""CamVid training: ``train(TrainConfig(...))`` runs epochs, evaluates, checkpoints, resumes exactly.

Every epoch writes ``last.pt`` (model, optimizer, scheduler, epoch, config, RNG state, history) and,
when val mIoU improves, ``best.pt``; ``log.csv`` and ``log.jsonl`` get one row per epoch.

Example:
    >>> cfg = TrainConfig(data="../shared/camvid", out="runs/r34", epochs=2)   # doctest: +SKIP
    >>> result = train(cfg)                                                        # doctest: +SKIP
    >>> result["best_miou"]                                                        # doctest: +SKIP
"""

from __future__ import annotations

import csv
import json
import os
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from roadseg.classes import CAMVID_SIZE, CLASSES, IGNORE_INDEX, NUM_CLASSES
from roadseg.data.camvid import CamVid
from roadseg.data.transforms import TrainTransform
from roadseg.info import cpu_info
from roadseg.model import Preprocess, build_model
from roadseg.train.metrics import confusion_matrix, scores

IMAGENET_URL = "https://download.pytorch.org/models/resnet34-b627a593.pth"


@dataclass(frozen=True)
class TrainConfig:
    """The whole recipe of a run; saved in every checkpoint."""

    data: str
    out: str = "runs/unet-r34"
    epochs: int = 150
    batch_size: int = 8
    crop: tuple[int, int] = (256, 256)
    scale: tuple[float, float] = (0.5, 1.5)
    jitter: float = 0.3
    lr: float = 2e-3
    weight_decay: float = 1e-2
    schedule: str = "onecycle"  # or "cosine"
    class_weights: str = "median-freq"  # or "none"
    amp: str = "auto"  # auto | on | off
    device: str = "auto"  # auto | cpu | cuda
    encoder_weights: str = "none"  # imagenet | PATH | none
    eval_every: int = 1
    workers: int = 1
    seed: int = 0
    size: tuple[int, int] = CAMVID_SIZE
    max_steps: int | None = None  # stop an epoch early (tests, smoke runs)
    model: dict = field(default_factory=dict)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda asked for, but torch sees no CUDA device")
    return torch.device(name)


def amp_dtype(mode: str, device: torch.device) -> torch.dtype | None:
    """bf16 autocast on CUDA and on CPUs with native bf16 (AVX512-BF16/AMX); None means fp32."""
    if mode == "off":
        return None
    if device.type == "cuda":
        return torch.bfloat16
    features = cpu_info()["features"]
    native = features["avx512_bf16"] or features["amx"]
    return torch.bfloat16 if (mode == "on" or native) else None


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
        image, label = self.transform(self.images[i], self.labels[i], rng)
        return torch.from_numpy(image), torch.from_numpy(label.astype(np.int64))


def load_encoder_weights(model, spec: str) -> None:
    """Load torchvision-named ResNet34 weights: ``imagenet`` (torch.hub URL), a file path, or ``none``."""
    if spec == "none":
        return
    if spec == "imagenet":
        try:
            sd = torch.hub.load_state_dict_from_url(IMAGENET_URL, progress=True, map_location="cpu")
        except Exception as exc:  # URLError, HTTPError, timeouts: all mean "could not fetch"
            raise RuntimeError(
                f"could not download ImageNet weights from {IMAGENET_URL} ({exc.__class__.__name__}); "
                "offline? download resnet34-b627a593.pth elsewhere and pass --encoder-weights PATH"
            ) from None
    else:
        sd = torch.load(spec, map_location="cpu", weights_only=True)
        sd = sd.get("state_dict", sd) if isinstance(sd, dict) else sd
    missing, unexpected = model.encoder.load_state_dict(sd, strict=False)
    unexpected = [k for k in unexpected if not k.startswith("fc.")]
    if missing or unexpected:
        raise RuntimeError(f"encoder weights do not fit: missing {missing[:3]}, unexpected {unexpected[:3]}")


@torch.no_grad()
def evaluate(model, pre, images, labels, device, dtype=None, batch_size: int = 4) -> dict:
    """Per-class IoU, mIoU and pixel accuracy of ``model`` on full frames."""
    from roadseg.model.predict import predict

    cm = np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64)
    for i in range(0, len(images), batch_size):
        pred = predict(model, np.stack(images[i : i + batch_size]), pre=pre, device=device, dtype=dtype,
                       channels_last=True)  # fmt: skip
        cm += confusion_matrix(pred, np.stack(labels[i : i + batch_size]), NUM_CLASSES, IGNORE_INDEX)
    return scores(cm)


def _save(obj: dict, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)  # a crash never leaves a half-written checkpoint


def _make_scheduler(cfg: TrainConfig, opt, steps_per_epoch: int):
    total = cfg.epochs * steps_per_epoch
    if cfg.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=cfg.lr, total_steps=total, pct_start=0.1, div_factor=20, final_div_factor=200
        )
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total, eta_min=cfg.lr / 1000)
    raise ValueError(f"schedule must be onecycle or cosine, not {cfg.schedule!r}")


def train_one_epoch(model, pre, loader, opt, sched, loss_fn, device, dtype, bar) -> float:
    model.train()
    total, n = 0.0, 0
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            logits = model(pre(x).contiguous(memory_format=torch.channels_last))
        loss = loss_fn(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        total += loss.item()
        n += 1
        bar.update(1)
        bar.set_postfix(loss=f"{total / n:.3f}", lr=f"{sched.get_last_lr()[0]:.2e}")
        if bar.total is not None and bar.n >= bar.total:
            break
    return total / max(n, 1)


def _log(out: Path, row: dict) -> None:
    with open(out / "log.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")
    flat = {k: v for k, v in row.items() if k != "iou"}
    flat.update({f"iou_{c}": v for c, v in zip(CLASSES, row.get("iou") or [None] * NUM_CLASSES)})
    new = not (out / "log.csv").exists()
    with open(out / "log.csv", "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(flat))
        if new:
            w.writeheader()
        w.writerow(flat)


def train(cfg: TrainConfig, *, resume: str | Path | None = None) -> dict:
    """Run (or resume) a training run; returns ``{"best_miou", "best_epoch", "history"}``."""
    state = torch.load(resume, map_location="cpu", weights_only=False) if resume else None
    if state is not None:  # the saved recipe wins, except where the new one extends the run
        cfg = replace(TrainConfig(**_tuples(state["config"])), epochs=cfg.epochs, out=cfg.out)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    device = pick_device(cfg.device)
    dtype = amp_dtype(cfg.amp, device)

    train_images, train_labels = CamVid(cfg.data, "train", size=cfg.size).load_all()
    val_images, val_labels = CamVid(cfg.data, "val", size=cfg.size).load_all()
    model = build_model({"num_classes": NUM_CLASSES, **cfg.model}).to(device)
    model = model.to(memory_format=torch.channels_last)
    pre = Preprocess().to(device)
    if state is None:
        load_encoder_weights(model, cfg.encoder_weights)
    weights = None
    if cfg.class_weights == "median-freq":
        weights = torch.from_numpy(median_frequency_weights(train_labels)).to(device)

    def loss_fn(logits, y):
        return F.cross_entropy(logits, y, weight=weights, ignore_index=IGNORE_INDEX)

    data = AugmentedSet(train_images, train_labels, TrainTransform(cfg.crop, cfg.scale, jitter=cfg.jitter), cfg.seed)
    gen = torch.Generator()
    loader = DataLoader(data, batch_size=cfg.batch_size, shuffle=True, drop_last=True,
                        num_workers=cfg.workers, generator=gen,
                        pin_memory=device.type == "cuda")  # fmt: skip
    steps = len(loader) if cfg.max_steps is None else min(len(loader), cfg.max_steps)
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr,
    )
    sched = _make_scheduler(cfg, opt, steps)
    start, best, best_epoch, history = 0, -1.0, -1, []
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        start, best, best_epoch = state["epoch"] + 1, state["best_miou"], state["best_epoch"]
        history = state["history"]

    for epoch in range(start, cfg.epochs):
        t0 = time.time()
        data.epoch = epoch
        gen.manual_seed(cfg.seed * 100_003 + epoch)
        bar = tqdm(total=steps, desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False, dynamic_ncols=True)
        loss = train_one_epoch(model, pre, loader, opt, sched, loss_fn, device, dtype, bar)
        bar.close()
        row = {"epoch": epoch + 1, "lr": sched.get_last_lr()[0], "train_loss": loss,
               "miou": None, "pixel_acc": None, "iou": None}  # fmt: skip
        if (epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs:
            row.update(evaluate(model, pre, val_images, val_labels, device, dtype))
        row["seconds"] = round(time.time() - t0, 1)
        history.append(row)
        _log(out, row)
        improved = row["miou"] is not None and row["miou"] > best
        if improved:
            best, best_epoch = row["miou"], epoch + 1
        ckpt = {"model": model.state_dict(), "model_config": model.config, "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(), "epoch": epoch, "config": asdict(cfg),
                "torch_rng": torch.get_rng_state(), "best_miou": best, "best_epoch": best_epoch,
                "history": history}  # fmt: skip
        _save(ckpt, out / "last.pt")
        if improved:
            _save({**ckpt, "optimizer": None, "scheduler": None}, out / "best.pt")
        miou = "-" if row["miou"] is None else f"{100 * row['miou']:.2f}"
        tqdm.write(f"epoch {epoch + 1}: loss {loss:.4f}  val mIoU {miou}  best {100 * max(best, 0):.2f} "
                   f"(epoch {best_epoch})  {row['seconds']}s")  # fmt: skip
    return {"best_miou": best, "best_epoch": best_epoch, "history": history}


def _tuples(d: dict) -> dict:
    """JSON/pickle round trips turn tuples into lists; the frozen config wants tuples back."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}


def load_checkpoint(path: str | Path, device: str = "cpu"):
    """Rebuild the model of a checkpoint (``last.pt``/``best.pt`` or a bare ``{"model", "model_config"}``)."""
    state = torch.load(path, map_location=device, weights_only=False)
    model = build_model(state.get("model_config"))
    model.load_state_dict(state["model"])
    return model.eval(), state
