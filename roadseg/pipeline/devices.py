"""Where a session runs: the device (``auto``: ``cuda`` where onnxruntime has it and an NVIDIA GPU is present),
onnxruntime itself (imported with the stop signals held back), and the shipped model each device runs by default.
:class:`~roadseg.pipeline.session.OnnxSegmenter` is the session.

Example:
    >>> resolve_device("cpu"), default_model_path("cpu").suffix
    ('cpu', '.onnx')
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

from roadseg._startup import signals_held
from roadseg.errors import ArgumentError, ModelError
from roadseg.pipeline.model_files import DEFAULT_MODELS, models_dir

#: What ``providers`` (``--device``) may name.
DEVICES = ("auto", "cpu", "cuda", "tensorrt")


def gpu_present() -> bool:
    return os.path.exists("/dev/nvidiactl") or os.path.exists("/proc/driver/nvidia/version")


def onnxruntime() -> ModuleType:
    """The ``onnxruntime`` module, imported with the stop signals held back (:func:`~roadseg._startup.signals_held`):
    a Ctrl-C while it loads is a KeyboardInterrupt as it ends, not ``ImportError: initialization failed``."""
    with signals_held():
        import onnxruntime as ort
    return ort


def resolve_device(device: str = "auto") -> str:
    """``auto`` -> ``cuda`` when onnxruntime has the CUDA provider and an NVIDIA GPU is present; a name of none of
    :data:`DEVICES` is an :class:`~roadseg.errors.ArgumentError`."""
    if device not in DEVICES:
        raise ArgumentError(f"device must be {', '.join(DEVICES[:-1])} or {DEVICES[-1]}, not {device!r}")
    ort = onnxruntime()

    if device != "auto":
        return device
    has_cuda = "CUDAExecutionProvider" in ort.get_available_providers()
    return "cuda" if has_cuda and gpu_present() else "cpu"


def default_model_path(device: str = "auto") -> Path:
    """The shipped model a device runs by default (INT8 on CPU, fp32 on GPU), or ModelError."""
    folder = models_dir()
    names = DEFAULT_MODELS["cpu" if resolve_device(device) == "cpu" else "cuda"]
    for name in names:
        if (folder / name).is_file():
            return folder / name
    raise ModelError(f"no shipped model found in {folder} (looked for {', '.join(names)}); pass --model")

