"""The recipe of a training run, :class:`TrainConfig`: frozen, saved in every checkpoint (``config``), and read back
from one by ``--resume``, ``release`` and ``eval`` through :func:`tuples`. :func:`roadseg.train.loop.train` runs it.

Example:
    >>> cfg = TrainConfig(data="../shared/camvid", epochs=2)
    >>> cfg.crop, cfg.size
    ((256, 256), (360, 480))
    >>> TrainConfig(**tuples({"data": "x", "crop": [64, 64], "model": {"decoder_channels": [8, 8, 8, 8]}})).crop
    (64, 64)
    >>> TrainConfig(data="x", scale=(0.5, 1000))
    Traceback (most recent call last):
    roadseg.errors.ArgumentError: scale must be LOW HIGH, 0 < LOW <= HIGH <= 4, not (0.5, 1000)
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

from roadseg.classes import CAMVID_SIZE
from roadseg.errors import ArgumentError

#: The most a frame is scaled by (``scale``'s HIGH, a phase's resolution): 1000 asked OpenCV for 15 GB a frame, and a
#: resolution of 99 read CamVid's frames at 35640x47520. Segmentation recipes scale by 0.5 to 2.
MAX_SCALE = 4

#: The widest decoder block (``model["decoder_channels"]``): the encoder's deepest features are 512 wide, the first
#: release's decoder 256 at most; 99999 asked torch for 360 GB.
MAX_WIDTH = 1024

#: The longest side of ``size`` and of a crop: 4K footage's frames are 3840 wide. ``--size 20000x30000`` was refused
#: by the frames' memory alone, and a crop that long would need terabytes for a step (roadseg.train.bounds).
MAX_SIDE = 4096

log = logging.getLogger("roadseg")


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

    def __post_init__(self) -> None:
        """Refuse, in one :class:`~roadseg.errors.ArgumentError` line, the sizes, scales, widths, batch sizes and
        worker counts no run
        asks for (a library caller's as the command line's): they failed late, in a memory error."""
        _check_bounds(self)


def _check_bounds(cfg: TrainConfig) -> None:
    """The checks of :meth:`TrainConfig.__post_init__`.

    >>> TrainConfig(data="x", phases=((1, 99, 32, 32),))
    Traceback (most recent call last):
    roadseg.errors.ArgumentError: phases must be (EPOCHS, RES, H, W) with EPOCHS 1 or more, RES above 0 and at most 4, not (1, 99, 32, 32)
    >>> TrainConfig(data="x", model={"decoder_channels": (99999, 64, 48, 32)})
    Traceback (most recent call last):
    roadseg.errors.ArgumentError: model['decoder_channels'] must be 4 or 5 widths from 1 to 1024, not (99999, 64, 48, 32)
    >>> TrainConfig(data="x", workers=-1)
    Traceback (most recent call last):
    roadseg.errors.ArgumentError: workers must be a whole number, 0 or more, not -1
    >>> TrainConfig(data="x", size=(20000, 30000))
    Traceback (most recent call last):
    roadseg.errors.ArgumentError: size must be H W, each from 1 to 4096, not (20000, 30000)
    """
    low, high = _pair(cfg.scale)
    if not 0 < low <= high <= MAX_SCALE:
        raise ArgumentError(f"scale must be LOW HIGH, 0 < LOW <= HIGH <= {MAX_SCALE:g}, not {cfg.scale!r}")
    for phase in cfg.phases:
        if not _phase_ok(phase):
            raise ArgumentError(f"phases must be (EPOCHS, RES, H, W) with EPOCHS 1 or more, RES above 0 and at most "
                                f"{MAX_SCALE:g}, not {phase!r}")  # fmt: skip
    widths = cfg.model.get("decoder_channels") if isinstance(cfg.model, dict) else None
    if widths is not None and not (isinstance(widths, (tuple, list)) and len(widths) in (4, 5)
                                   and all(_whole(c) and 1 <= c <= MAX_WIDTH for c in widths)):  # fmt: skip
        raise ArgumentError(f"model['decoder_channels'] must be 4 or 5 widths from 1 to {MAX_WIDTH}, not {widths!r}")
    for name, sides in (("size", cfg.size), ("crop", cfg.crop), *(("phases crop", p[2:]) for p in cfg.phases)):
        if not (isinstance(sides, (tuple, list)) and len(sides) == 2 and all(_whole(v) and 1 <= v <= MAX_SIDE
                                                                             for v in sides)):  # fmt: skip
            raise ArgumentError(f"{name} must be H W, each from 1 to {MAX_SIDE}, not {tuple(sides)!r}")
    if not _whole(cfg.batch_size) or cfg.batch_size < 1:
        raise ArgumentError(f"batch_size must be a whole number, 1 or more, not {cfg.batch_size!r}")
    if not _whole(cfg.workers) or cfg.workers < 0:
        raise ArgumentError(f"workers must be a whole number, 0 or more, not {cfg.workers!r}")


def _pair(value: object) -> tuple[float, float]:
    """``scale`` as two finite numbers; (nan, nan), which no bound takes, where it is not."""
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(_real(v) and math.isfinite(v) for v in value):
        return float(value[0]), float(value[1])
    return math.nan, math.nan


def _phase_ok(phase: object) -> bool:
    """One of ``phases``: (epochs 1 or more, resolution in (0, MAX_SCALE], crop height, crop width)."""
    return (isinstance(phase, (tuple, list)) and len(phase) == 4 and _whole(phase[0]) and phase[0] >= 1
            and _real(phase[1]) and 0 < phase[1] <= MAX_SCALE)  # fmt: skip


def _real(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def usable_workers(workers: int, name: str = "workers") -> int:
    """``workers``, at most the CPUs this process may use (:func:`~roadseg.tools.info.cpus_usable`), said in a
    warning line (``name``: how the caller gave it) where fewer: 200 on 2 CPUs started 200 loader processes for no
    speed (each decodes and augments frames on a CPU); a recipe from a larger machine, or resumed here, still runs.

    >>> from roadseg.tools.info import cpus_usable
    >>> usable_workers(0), usable_workers(cpus_usable() + 200) == cpus_usable()
    (0, True)
    """
    from roadseg.tools.info import cpus_usable

    usable = cpus_usable()
    if workers <= usable:
        return workers
    log.warning("%s %d is more than the %d CPU%s this process may use: %d loader processes", name, workers, usable,
                "s" * (usable != 1), usable)  # fmt: skip
    return usable


def tuples(d: dict) -> dict:
    """JSON/pickle round trips turn tuples into lists; the frozen config wants tuples back."""
    def fix(v):
        return tuple(fix(x) for x in v) if isinstance(v, list) else v

    return {k: fix(v) if k != "model" else v for k, v in d.items()}
