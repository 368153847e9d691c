"""What one training step needs: the device, the precision, an EMA of the weights, one epoch of
optimisation, and the scores of a net on full frames. ``loop.train`` drives them.

Example:
    >>> device = pick_device("auto")                                   # doctest: +SKIP
    >>> dtype = amp_dtype("auto", device)   # bf16 where the hardware has it, else None (fp32)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm import tqdm

from roadseg.data.classset import CAMVID, ClassSet
from roadseg.tools.info import cpu_info
from roadseg.train.metrics import confusion_matrix, scores

if TYPE_CHECKING:  # (loop imports this module)
    from roadseg.train.config import TrainConfig


def pick_device(name: str) -> torch.device:
    """``auto``: CUDA where torch sees a device, else the CPU; ``cuda`` without one is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda asked for, but torch sees no CUDA device")
    device = torch.device(name)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # a phase's crops are all one size
    return device


def amp_dtype(mode: str, device: torch.device) -> torch.dtype | None:
    """bf16 autocast on CUDA and on CPUs with native bf16 (AVX512-BF16/AMX); None means fp32."""
    if mode == "off":
        return None
    if device.type == "cuda":
        return torch.bfloat16
    features = cpu_info()["features"]
    native = features["avx512_bf16"] or features["amx"]
    return torch.bfloat16 if (mode == "on" or native) else None


class EMA:
    """Exponential moving average of a model's parameters and buffers (BN statistics), with the usual
    warm-up ``min(decay, (1 + t) / (10 + t))`` so early steps are not dominated by the random init."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        import copy

        self.decay, self.steps = decay, 0
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self._pairs: tuple | None = None

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        self.steps += 1
        d = min(self.decay, (1 + self.steps) / (10 + self.steps))
        if self._pairs is None:  # the tensors, once: one fused update a step (a GPU step is a few ms)
            pairs = list(zip(self.model.state_dict().values(), model.state_dict().values()))
            floats = [(e, c) for e, c in pairs if e.dtype.is_floating_point]
            others = [(e, c) for e, c in pairs if not e.dtype.is_floating_point]
            self._pairs = ([e for e, _ in floats], [c for _, c in floats], others)
        ema, cur, others = self._pairs
        torch._foreach_lerp_(ema, cur, 1 - d)
        for e, c in others:
            e.copy_(c)

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.steps = state["steps"]


@torch.no_grad()
def evaluate(model, pre, images, labels, device, dtype=None, batch_size: int = 4, desc: str | None = None,
             classes: ClassSet = CAMVID) -> dict:  # fmt: skip
    """Per-class IoU (of ``classes``), mIoU and pixel accuracy of ``model`` on full frames; ``desc`` names a progress
    bar of them (a CPU scores CamVid's 101 val frames in a minute or more, which was silence after the epoch's bar)."""
    from roadseg.model.predict import predict

    cm = np.zeros((classes.count, classes.count), np.int64)
    # (built only where shown: tqdm starts its monitor thread, kept for the rest of the process, for a disabled bar
    # too; was: scoring without a bar left a tqdm_monitor thread running in a library caller's process)
    with (tqdm(total=len(images), desc=desc, unit="frame", leave=False, dynamic_ncols=True) if desc is not None
          else contextlib.nullcontext()) as bar:  # fmt: skip
        for i in range(0, len(images), batch_size):
            pred = predict(model, np.stack(images[i : i + batch_size]), pre=pre, device=device, dtype=dtype,
                           channels_last=True)  # fmt: skip
            cm += confusion_matrix(pred, np.stack(labels[i : i + batch_size]), classes.count,
                                   classes.ignore_index)  # fmt: skip
            if bar is not None:
                bar.update(len(pred))
    return scores(cm)


def train_one_epoch(model, pre, loader, opt, sched, loss_fn, device, dtype, bar, ema: EMA | None = None) -> float:
    """One pass over ``loader`` (or ``bar.total`` steps, or until the schedule is finished: a timed run's
    time is up): step the optimizer, the schedule and the EMA; returns the mean training loss."""
    model.train()
    total, n = torch.zeros((), device=device), 0  # summed on the device: no wait for the GPU a step
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            logits = model(pre(x).contiguous(memory_format=torch.channels_last))
        loss = loss_fn(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if ema is not None:
            ema.update(model)
        total += loss.detach()
        n += 1
        bar.update(1)
        if n % 10 == 1:
            bar.set_postfix(loss=f"{total.item() / n:.3f}", lr=f"{sched.get_last_lr()[0]:.2e}")
        if (bar.total is not None and bar.n >= bar.total) or sched.finished:
            break
    return total.item() / max(n, 1)


def optimizer(cfg: TrainConfig, model) -> torch.optim.AdamW:
    """AdamW with weight decay on weights only (none on norms and biases)."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr)


def row_scores(net, pre, data: dict, device, dtype) -> dict:
    """The log row's scores: val (``miou``, ``iou``, ``pixel_acc``) and check (``check_*``) where present, of the
    data's classes."""
    row: dict = {}
    if data["val"][0]:
        row.update(evaluate(net, pre, *data["val"], device, dtype, desc="scoring val", classes=data["classes"]))
    if data["check"][0]:
        checked = evaluate(net, pre, *data["check"], device, dtype, desc="scoring the check", classes=data["classes"])
        row.update({f"check_{k}": v for k, v in checked.items()})
    return row
