"""The learning rate of a run as a function of its progress: steps done of a fixed number of epochs, or
seconds spent of a time budget (``TrainConfig.minutes``, for a lent GPU whose speed is unknown until it
runs: the whole schedule then fits the time, however fast the machine is).

One-cycle (the default) is PyTorch's ``OneCycleLR`` in closed form, AdamW's beta1 cycled with it (0.95 →
0.85 → 0.95), so a run by steps is the run ``OneCycleLR`` gives; cosine anneals to a thousandth.

Example:
    >>> import torch
    >>> opt = torch.optim.AdamW(torch.nn.Linear(2, 2).parameters(), lr=1e-3)
    >>> s = Schedule(opt, "onecycle", 1e-3, total_steps=100)
    >>> f"{s.get_last_lr()[0]:.1e}"      # starts at peak / 20
    '5.0e-05'
    >>> for _ in range(99): s.step()
    >>> f"{s.get_last_lr()[0]:.1e}"      # the last step's: peak / 4000
    '2.5e-07'
    >>> s.step(); s.finished
    True
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # (loop imports this module)
    from roadseg.train.config import TrainConfig

#: One-cycle's shape, as roadseg has always run it: 10 % warm-up from peak/20, down to peak/4000.
PCT_START, DIV, FINAL_DIV = 0.1, 20.0, 200.0
BASE_MOMENTUM, MAX_MOMENTUM = 0.85, 0.95
#: A timed run's progress is read as a step of this many (one-cycle's phases are defined on steps).
VIRTUAL_STEPS = 100_000
#: The clock a timed run's schedule follows (a test drives its own).
clock = time.monotonic


def _cos(start: float, end: float, pct: float) -> float:
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def one_cycle(step: float, total: int, peak: float) -> tuple[float, float]:
    """(lr, beta1) at optimizer step ``step`` of ``total``, exactly as ``torch.optim.lr_scheduler.OneCycleLR``
    computes them (``pct_start`` 0.1, ``div_factor`` 20, ``final_div_factor`` 200, cosine)."""
    warm_end, end = PCT_START * total - 1, total - 1
    initial = peak / DIV
    if step <= warm_end:
        pct = step / warm_end
        return _cos(initial, peak, pct), _cos(MAX_MOMENTUM, BASE_MOMENTUM, pct)
    pct = (step - warm_end) / (end - warm_end)
    return _cos(peak, initial / FINAL_DIV, pct), _cos(BASE_MOMENTUM, MAX_MOMENTUM, pct)


class Schedule:
    """Sets the optimizer's learning rate (and one-cycle's beta1) before every step.

    By steps (``total_steps``) or by the clock (``seconds``: progress is the time spent, which counts
    evaluations and checkpoints too, over the budget; ``elapsed`` is what earlier sessions of a resumed
    run spent). ``finished`` says the run is over: every step taken, or the time up.
    """

    def __init__(self, opt, kind: str, peak_lr: float, *, total_steps: int | None = None,
                 seconds: float | None = None, steps: int = 0, elapsed: float = 0.0) -> None:  # fmt: skip
        if kind not in ("onecycle", "cosine"):
            raise ValueError(f"schedule must be onecycle or cosine, not {kind!r}")
        if (total_steps is None) == (seconds is None):
            raise ValueError("a schedule runs by steps or by seconds, one of the two")
        self.opt, self.kind, self.peak = opt, kind, peak_lr
        self.total_steps, self.seconds = total_steps, seconds
        self.steps, self._elapsed, self._since = steps, elapsed, clock()
        self._apply()

    @property
    def elapsed(self) -> float:
        """Seconds this run has spent, earlier sessions included."""
        return self._elapsed + clock() - self._since

    def progress(self) -> float:
        """How far through the run, 0..1."""
        if self.seconds is not None:
            return min(1.0, self.elapsed / self.seconds)
        return min(1.0, self.steps / max(self.total_steps, 1))

    @property
    def finished(self) -> bool:
        return self.progress() >= 1.0

    def _apply(self) -> None:
        if self.seconds is not None:
            step, total = self.progress() * (VIRTUAL_STEPS - 1), VIRTUAL_STEPS
        else:
            step, total = min(self.steps, self.total_steps), self.total_steps
        if self.kind == "onecycle":
            lr, beta1 = one_cycle(step, total, self.peak)
        else:
            floor = self.peak / 1000
            lr, beta1 = floor + (self.peak - floor) * (1 + math.cos(math.pi * step / total)) / 2, None
        for group in self.opt.param_groups:
            group["lr"] = lr
            if beta1 is not None:
                group["betas"] = (beta1, *group["betas"][1:])
        self._lr = lr

    def step(self) -> None:
        """After an optimizer step: count it and set the next step's learning rate."""
        self.steps += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        return [self._lr]

    def state_dict(self) -> dict:
        return {"steps": self.steps, "elapsed": self.elapsed}


def make_schedule(cfg: TrainConfig, opt, steps_per_epoch: int, state: dict | None) -> Schedule:
    """The run's schedule, by its epochs or by its minutes, at the position a resumed run left it."""
    at = {}
    if state is not None:  # checkpoints from before the Schedule kept torch's scheduler: count the steps
        at = state.get("schedule") or {"steps": (state["epoch"] + 1) * steps_per_epoch}
    if cfg.minutes:
        return Schedule(opt, cfg.schedule, cfg.lr, seconds=60 * cfg.minutes, **at)
    return Schedule(opt, cfg.schedule, cfg.lr, total_steps=cfg.epochs * steps_per_epoch, **at)
