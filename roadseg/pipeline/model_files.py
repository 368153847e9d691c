"""Where roadseg's model files are: the shipped models (in a checkout's ``models/`` or the installed package), what a
model path given names (a file, a shipped model's name, a folder refused), and the one line for a file onnxruntime
could not load.

Example:
    >>> check_model_file("unet-r34-camvid-int8.onnx").name, DEFAULT_MODELS["cpu"][0]
    ('unet-r34-camvid-int8.onnx', 'unet-r34-camvid-int8.onnx')
"""

from __future__ import annotations

import re
from pathlib import Path

from roadseg import contract
from roadseg.errors import ModelError, not_a_regular_file

#: Shipped models, in order of preference for each device.
DEFAULT_MODELS = {
    "cpu": ("unet-r34-camvid-int8.onnx", "unet-r34-camvid.onnx"),
    "cuda": ("unet-r34-camvid.onnx", "unet-r34-camvid-int8.onnx"),
}


def models_dir() -> Path:
    """Folder of the shipped models: ``models/`` of a source checkout, else the installed package data."""
    package = Path(__file__).resolve().parents[1]  # .../roadseg
    checkout = package.parent / "models"
    if (package.parent / "pyproject.toml").is_file() and checkout.is_dir():
        return checkout
    return package / "_models"  # where `pip install .` puts models/ (pyproject: package-dir)


def check_model_file(path: str | Path) -> Path:
    """``path`` as a Path if it names a file, a shipped model's name (``unet-r34-camvid.onnx``, from any folder) as
    that model's file where no file here has it, else the one-line :class:`ModelError` that says what it is
    (:class:`OnnxSegmenter` and ``batch`` say it alike): a folder, a FIFO or a device was "model file not found".

    >>> check_model_file("unet-r34-camvid.onnx") == models_dir() / "unet-r34-camvid.onnx"
    True
    >>> check_model_file("models")
    Traceback (most recent call last):
    roadseg.errors.ModelError: models is a folder, not a model file; name one of its .onnx files: unet-r34-camvid-int8.onnx, unet-r34-camvid.onnx
    >>> check_model_file("/dev/null")
    Traceback (most recent call last):
    roadseg.errors.ModelError: '/dev/null' is not a regular file (a FIFO, a device ...): name the file itself
    """
    path = Path(path)
    shipped = sorted(p.name for p in models_dir().glob("*.onnx"))
    if not path.is_file() and str(path) in shipped:  # (a bare name: a file of that name here comes first, not a folder)
        return models_dir() / str(path)
    if path.is_dir():
        names = sorted(p.name for p in path.glob("*.onnx") if p.is_file())
        holds = f"name one of its .onnx files: {', '.join(names)}" if names else "it holds no .onnx file"
        raise ModelError(f"{path} is a folder, not a model file; {holds}")
    if path.exists() and not path.is_file():  # (as RegularFile says it: was "model file not found: /dev/null")
        raise ModelError(not_a_regular_file(path))
    if not path.is_file():
        by_name = f" (shipped models, by name: {', '.join(shipped)})" if shipped and path.parent == Path() else ""
        raise ModelError(f"model file not found: {path}{by_name}")
    return path


def unloadable(path: Path, exc: Exception) -> ModelError:
    """The one-line error for a model file onnxruntime could not load: a checkpoint, a file that is no ONNX
    model at all (a model card), a damaged one (both were onnxruntime's raw INVALID_PROTOBUF text), or
    onnxruntime's first line."""
    if (checkpoint := contract.not_onnx(path)) is not None:
        return checkpoint
    if contract.file_kind(path) is None:  # (does not even begin as a ModelProto does)
        return ModelError(f"not an ONNX model: {path}")
    if "INVALID_PROTOBUF" in str(exc):
        return ModelError(f"cannot load model {path}: it begins as an ONNX model does but cannot be parsed (damaged, "
                          "or cut short: a copy that did not finish?)")  # fmt: skip
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    # (what onnxruntime says, without its error code, the path again, its source file and the C++ signature there)
    first = re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : Load model from .*? failed:\s*(/\S+:\d+ .*?\) (?=[A-Z]))?", "", first)
    return ModelError(f"cannot load model {path}: {first}")
