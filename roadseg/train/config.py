"""The recipe of a training run, :class:`TrainConfig`: frozen, saved in every checkpoint (``config``), and read back
from one by ``--resume``, ``release`` and ``eval`` through :func:`tuples`. :func:`roadseg.train.loop.train` runs it.

Example:
    >>> cfg = TrainConfig(data="../shared/camvid", epochs=2)
    >>> cfg.crop, cfg.size
    ((256, 256), (360, 480))
    >>> TrainConfig(**tuples({"data": "x", "crop": [64, 64], "model": {"decoder_channels": [8, 8]}})).crop
    (64, 64)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from roadseg.classes import CAMVID_SIZE


@dataclass(frozen=True)
class TrainConfig:
    """The whole recipe of a run; saved in every checkpoint."""

    data: str
    out: str = "runs/unet-r34"
    epochs: int = 150
    # > 0: the run lasts this many minutes of wall time instead of ``epochs`` epochs, and its learning
    # rate and phases follow the clock (a lent GPU of unknown speed: the whole schedule fits the time)
    minutes: float = 0.0
    batch_size: int = 8
    crop: tuple[int, int] = (256, 256)
    scale: tuple[float, float] = (0.5, 1.5)
    jitter: float = 0.3
    gamma: float = 0.0  # photometric: gamma in [1/(1+g), 1+g]
    colour_cast: float = 0.0  # per-channel gain in [1-c, 1+c]
    blur: float = 0.0  # probability of a Gaussian blur
    noise: float = 0.0  # probability of Gaussian noise
    paste: float = 0.0  # probability of pasting another frame's objects (copy-paste)
    # progressive resizing: (epochs, resolution, crop_h, crop_w) per phase, in order; the last phase
    # runs to ``epochs`` (a timed run reads the epochs as shares of its time). Resolution scales the
    # frames before the random ``scale``. () = one phase.
    phases: tuple = ()
    ema: float = 0.0  # decay of an exponential moving average of the weights (0 = off); it is evaluated
    train_splits: tuple[str, ...] = ("train",)
    holdout: tuple[str, ...] = ()  # "SEQ" or "SEQ:FRACTION" (the last part of SEQ, in frame order)
    select: str = "auto"  # best.pt by: check | val | last; auto = check if there is a holdout, else val
    lr: float = 2e-3
    weight_decay: float = 1e-2
    schedule: str = "onecycle"  # or "cosine"
    class_weights: str = "median-freq"  # or "none"
    lovasz: float = 0.0  # weight of a Lovász-softmax term beside the cross-entropy (0 = off; train/losses.py)
    amp: str = "auto"  # auto | on | off
    device: str = "auto"  # auto | cpu | cuda
    encoder_weights: str = "none"  # imagenet | PATH | none
    init: str = "none"  # PATH of a released fp32 .onnx or a checkpoint: the whole network starts from it
    eval_every: int = 1
    val_limit: int | None = None  # score val on this many of its frames, spread evenly (data.val_subset); None = all
    workers: int = 1
    seed: int = 0
    size: tuple[int, int] = CAMVID_SIZE  # (height, width) every frame is read at: the exported file's input_size
    max_steps: int | None = None  # stop an epoch early (tests, smoke runs)
    model: dict = field(default_factory=dict)


def tuples(d: dict) -> dict:
    """JSON/pickle round trips turn tuples into lists; the frozen config wants tuples back."""
    def fix(v):
        return tuple(fix(x) for x in v) if isinstance(v, list) else v

    return {k: fix(v) if k != "model" else v for k, v in d.items()}
