"""What a training run asks of the machine, checked before any frame is read (:func:`check_run`): a batch its frames
can fill, and memory for the frames and for a step; and a memory error in a step said in one line
(:func:`out_of_memory`). The bounds on the values themselves are :class:`~roadseg.train.config.TrainConfig`'s.

``--batch-size 100000`` was refused only once every frame was read (6 s on CamVid); a batch of 300 crops, or
``--size 1440x1920 --crop 1440x1920``, read the frames, then failed in the first step with torch's memory error or
the system's kill, minutes in.

Example:
    >>> from roadseg.train.config import TrainConfig
    >>> cfg = TrainConfig(data="x", batch_size=8, crop=(256, 256))
    >>> round(step_bytes(cfg, amp=False) / 1e9, 2)       # a CPU step in fp32 at the shipped decoder
    0.65
"""

from __future__ import annotations

import logging

import torch

from roadseg.data.camvid import CamVid, split_holdout
from roadseg.pipeline.memory import limit_said
from roadseg.train.config import TrainConfig
from roadseg.train.data import check_batch, phases

log = logging.getLogger("roadseg")

#: Bytes a training step (forward, loss, backward, AdamW) holds per pixel of its batch of crops: ``BASE +
#: PER_WIDTH * sum(c / s**2)`` over the decoder's blocks (width c at stride s: 16, 8, 4, 2, 1), fp32 then bf16
#: autocast. Fitted to the peak RSS of one step in a fresh process (torch 2.13, 2 Zen 4 cores, 11 classes), batch
#: 2 of 192², 320² and 448² crops at decoder widths 32,16,16,8,8 / 128,64,48,32 / 256,128,64,32,16 /
#: 512,256,128,64,32: within 0.73-1.13 of every point. The shipped decoder (128,64,48,32): 1250 and 650 bytes.
PER_PIXEL = {False: (910, 27), True: (430, 18)}
#: What the process holds besides: torch, the network, its gradients and AdamW's moments (0.82 GB measured), an EMA
FIXED_BYTES = 1_000_000_000
#: A step estimated above this share of the free memory is warned of; above all of it, refused
WARN_SHARE = 0.75


def step_bytes(cfg: TrainConfig, amp: bool) -> int:
    """Bytes one training step of ``cfg`` needs for its activations, at its largest phase's crops (``amp``: bf16)."""
    widths = cfg.model.get("decoder_channels") or (128, 64, 48, 32)
    base, per_width = PER_PIXEL[bool(amp)]
    per_pixel = base + per_width * sum(c / s**2 for c, s in zip(widths, (16, 8, 4, 2, 1)))
    pixels = max(ch * cw for _, (ch, cw) in phases(cfg))
    return round(cfg.batch_size * pixels * per_pixel)


def frame_counts(cfg: TrainConfig) -> tuple[int, int]:
    """(training frames, val frames) of ``cfg``'s data, from the file names alone (none is read)."""
    train = val = 0
    for split in cfg.train_splits:
        stems = [s.image.stem for s in CamVid(cfg.data, split).samples]
        train += len(stems) - sum(split_holdout(stems, cfg.holdout, missing_ok=True))
    if "val" not in cfg.train_splits:
        try:
            val = len(CamVid(cfg.data, "val").samples)
        except FileNotFoundError:  # (no val split: load_data says what to do)
            pass
    return train, val


def check_run(cfg: TrainConfig, device: torch.device, dtype: torch.dtype | None) -> None:
    """ValueError (one line), before any frame is read, where the training frames make no batch of
    ``cfg.batch_size`` or where the frames and a step clearly need more memory than is free (on a GPU, the step's
    is the GPU's); a warning line where they need most of it."""
    from roadseg.pipeline.infer import free_memory  # (pipeline.memory's; the module is not needed otherwise)

    train, val = frame_counts(cfg)
    check_batch(train, cfg)
    h, w = cfg.size
    frames = (train + val) * h * w * 4  # (RGB and a label byte a pixel)
    step = step_bytes(cfg, amp=dtype is not None)
    if device.type == "cuda":
        _check_room(cfg, step, 0, torch.cuda.mem_get_info(device)[0], "GPU memory")
        _check_room(cfg, 0, frames, free_memory(), "memory")
    else:
        _check_room(cfg, step, frames, free_memory(), "memory")


def _check_room(cfg: TrainConfig, step: int, frames: int, free: int | None, where: str) -> None:
    """Refuse (ValueError) a ``step`` and ``frames`` (bytes) that need more than ``free`` bytes of ``where`` with
    torch and the network (:data:`FIXED_BYTES`); warn above :data:`WARN_SHARE` of it. Nothing where the free memory
    is unknown."""
    if free is None:
        return
    need = step + frames + FIXED_BYTES
    parts = [f"a step of --batch-size {cfg.batch_size} at {_crops(cfg)} crops {_gb(step)}"] if step else []
    parts += [f"the frames at --size {cfg.size[0]}x{cfg.size[1]} {_gb(frames)}"] if frames or not step else []
    said = f"the run needs about {_gb(need)} of {where} ({', '.join(parts)}, torch and the network {_gb(FIXED_BYTES)})"
    if need > free:
        raise ValueError(f"{said}; {_gb(free)} is free{limit_said(free)}: {_lower(step >= frames)}")
    if need > WARN_SHARE * free:
        log.warning("%s, of the %s free%s: the run may fail for memory (%s)", said, _gb(free), limit_said(free),
                    _lower(step >= frames))


def _crops(cfg: TrainConfig) -> str:
    ch, cw = max((crop for _, crop in phases(cfg)), key=lambda c: c[0] * c[1])
    return f"{ch}x{cw}"


def _lower(step: bool) -> str:
    return ("lower --batch-size or --crop (or a --phase's crop), or narrower --decoder-channels" if step
            else "lower --size, or train on fewer frames")  # fmt: skip


def _gb(n: int) -> str:
    return f"{n / 1e9:.1f} GB"


#: What torch's CPU allocator ('DefaultCPUAllocator: can't allocate memory: you tried to allocate ...', 'not enough
#: memory' on Windows) and OpenCV ('Insufficient memory', 'Failed to allocate') say of an allocation that failed, and
#: torch of a loader worker that the kernel's OOM killer ended ('DataLoader worker (pid 7) is killed by signal: Killed.')
MEMORY_SAID = ("you tried to allocate", "not enough memory", "Insufficient memory", "Failed to allocate",
               "is killed by signal: Killed")  # fmt: skip


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is a failed allocation: Python's MemoryError, torch's OutOfMemoryError (CUDA), a RuntimeError
    of torch's CPU allocator or an error of OpenCV's that says :data:`MEMORY_SAID`.

    >>> is_out_of_memory(RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't "
    ...                               "allocate memory: you tried to allocate 314572800 bytes. Error code 12"))
    True
    >>> is_out_of_memory(RuntimeError("shapes do not match")), is_out_of_memory(KeyboardInterrupt())
    (False, False)
    """
    said = str(exc)
    return isinstance(exc, (MemoryError, torch.OutOfMemoryError)) or (
        isinstance(exc, Exception) and any(words in said for words in MEMORY_SAID))


def out_of_memory(cfg: TrainConfig, amp: bool, stopped: str) -> str:
    """The line a run that ran out of memory in a step ends with: ``stopped`` (what
    :func:`~roadseg.train.checkpoint.interrupted_line` says of its checkpoint), what to lower, and the estimate.

    >>> line = out_of_memory(TrainConfig(data="x"), False, "out of memory in epoch 1: no epoch was saved")
    >>> line[:71]
    'out of memory in epoch 1: no epoch was saved; start again with a lower '
    """
    more = " where there is more memory, or" if "--resume" in stopped else ";"
    return (f"{stopped}{more} start again with a lower --batch-size or --crop (or --size, narrower "
            f"--decoder-channels): a step of --batch-size {cfg.batch_size} at {_crops(cfg)} crops was estimated at "
            f"{_gb(step_bytes(cfg, amp))}")  # fmt: skip
