"""onnxruntime inference under the roadseg ONNX contract.

``OnnxSegmenter`` wraps one session (frames in, labels out, at whatever size it is given);
``Segmenter`` adds the working size: it resizes frames to about the model's ``input_size`` in pixels
at the frames' own aspect (or to a size you choose) and can bring labels back to the frame's size.

Example:
    >>> import numpy as np
    >>> seg = Segmenter()                                   # the shipped default model
    >>> frame = np.zeros((540, 960, 3), np.uint8)
    >>> seg.segment(frame).shape                            # labels at the frame's size
    (540, 960)
    >>> seg.classes[3]
    'Road'
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import cv2
import numpy as np

from roadseg import contract
from roadseg._startup import signals_held
from roadseg.errors import ModelError
from roadseg.pipeline.timing import StageTimes
from roadseg.tools.info import cpu_info

if TYPE_CHECKING:  # sources imports PyAV, which training and export on a machine without it never need
    from roadseg.pipeline.sources import Frame

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


def gpu_present() -> bool:
    return os.path.exists("/dev/nvidiactl") or os.path.exists("/proc/driver/nvidia/version")


def onnxruntime() -> ModuleType:
    """The ``onnxruntime`` module, imported with the stop signals held back (:func:`~roadseg._startup.signals_held`):
    a Ctrl-C while it loads is a KeyboardInterrupt as it ends, not ``ImportError: initialization failed``."""
    with signals_held():
        import onnxruntime as ort
    return ort


def resolve_device(device: str = "auto") -> str:
    """``auto`` -> ``cuda`` when onnxruntime has the CUDA provider and an NVIDIA GPU is present."""
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


def _providers(device: str) -> list:
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device == "cuda":
        return [("CUDAExecutionProvider", {"cudnn_conv_algo_search": "HEURISTIC"}), "CPUExecutionProvider"]
    if device == "tensorrt":
        return ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    raise ValueError(f"device must be auto, cpu, cuda or tensorrt, not {device!r}")


def _has_vnni() -> bool:
    """Whether the CPU has an int8 dot-product instruction (VNNI or AMX); False where unknown."""
    features = cpu_info()["features"]
    return features["avx512_vnni"] or features["avx_vnni"] or features["amx"]


class OnnxSegmenter:
    """One onnxruntime session of a contract model: ``predict(frames uint8 [N,H,W,3]) -> labels uint8 [N,H,W]``.

    Args:
        path: the ``.onnx`` file.
        providers: ``auto``, ``cpu``, ``cuda`` or ``tensorrt``. A requested GPU provider that
            onnxruntime could not load is reported on stderr in one line (onnxruntime itself is silent).
        threads: intra-op threads (0 = onnxruntime's default, one per core).
        spin: let idle onnxruntime threads busy-wait for work. Off by default: inside the pipeline
            the spinning steals the cores that decode and encode need (measured: +5-10 % end-to-end
            frames/s on 2 cores) and alone it gains nothing measurable.
        io_binding: bind the uint8 input and output explicitly (default: on GPU providers only).
        tta: average each frame's class scores with its mirror image's (:mod:`roadseg.pipeline.tta`):
            two network passes a frame.
    """

    def __init__(self, path: str | Path, *, providers: str = "auto", threads: int = 0, spin: bool = False,
                 io_binding: bool | None = None, tta: bool = False) -> None:  # fmt: skip
        ort = onnxruntime()

        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(f"model file not found: {self.path}")
        self.tta = tta
        source: str | bytes = str(self.path)
        if tta:
            from roadseg.pipeline.tta import flip_tta

            source = flip_tta(contract.read_onnx(self.path), self.path.name).SerializeToString()
        device = resolve_device(providers)
        opts = ort.SessionOptions()
        # fatal only: the failed-CUDA chatter of onnxruntime-gpu on a CPU box, and a failed run's error,
        # which comes back as the exception that the run's one Error: line tells
        opts.log_severity_level = 4
        if threads:
            opts.intra_op_num_threads = threads
        if not spin:
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if not _has_vnni():
            # Without VNNI, x86 int8 kernels sum uint8 x int8 pairs in int16 and saturate on 8-bit
            # weights (a 10-point mIoU loss on the third release's 8-bit file). Precision mode avoids
            # it; it costs nothing for 7-bit weights (roadseg quantize writes those), 1.45x for 8-bit.
            opts.add_session_config_entry("session.x64quantprecision", "1")
        if device != "cpu":
            ort.set_default_logger_severity(4)  # a provider that fails to load is reported below, once
        # only providers this onnxruntime has (the plain CPU package warned about the rest, in 2 lines)
        wanted = [p for p in _providers(device) if (p[0] if isinstance(p, tuple) else p) in ort.get_available_providers()]
        try:
            # onnxruntime print()s its own banner when TensorRT fails to load ("EP Error" ...) and
            # retries without it; the one line below tells what matters
            with contextlib.redirect_stdout(io.StringIO()):
                self.session = ort.InferenceSession(source, opts, providers=wanted)
        except Exception as exc:  # InvalidProtobuf, Fail, NoSuchFile ... all mean "not a usable model"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
            raise contract.not_onnx(self.path) or ModelError(f"cannot load model {self.path}: {first}") from None
        finally:
            ort.set_default_logger_severity(3)
        self.providers = self.session.get_providers()
        self.io_binding = self.providers[0] != "CPUExecutionProvider" if io_binding is None else io_binding
        if device != "cpu" and len(wanted) == 1:
            print(f"roadseg: {device} was requested but this onnxruntime has no GPU provider (onnxruntime-gpu "
                  "has: pip install onnxruntime-gpu, not beside onnxruntime); running on the CPU", file=sys.stderr)
        elif device != "cpu" and self.providers[0] == "CPUExecutionProvider":
            print(f"roadseg: {device} was requested but onnxruntime fell back to the CPU "
                  "(its provider did not load: no GPU, or CUDA/cuDNN/TensorRT libraries missing)", file=sys.stderr)
        self.metadata = contract.check_session(self.session, self.path.name)
        self.classes: list[str] = self.metadata["classes"]
        self.palette = np.array(self.metadata["palette"], np.uint8).reshape(-1, 3)
        self.input_size: tuple[int, int] = tuple(self.metadata["input_size"])  # type: ignore[assignment]

    def predict(self, frames: np.ndarray) -> np.ndarray:
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"frames must be uint8 [N,H,W,3], got {frames.dtype} {frames.shape}")
        frames = np.ascontiguousarray(frames)
        if not self.io_binding:
            return self._checked(self.session.run([contract.OUTPUT], {contract.INPUT: frames})[0], frames.shape)
        # on a GPU: bind the uint8 input and output explicitly, so only 3 bytes/pixel go up and
        # 1 byte/pixel comes back, with no extra staging copies
        binding = self.session.io_binding()
        binding.bind_cpu_input(contract.INPUT, frames)
        binding.bind_output(contract.OUTPUT, "cpu")
        self.session.run_with_iobinding(binding)
        return self._checked(binding.copy_outputs_to_cpu()[0], frames.shape)

    def _checked(self, labels: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """``labels`` as the contract has them, one class index for each pixel of the frames; else a
        :class:`ModelError` (a model whose labels were at another size, or not its classes, was drawn and
        written as if they were: masks at a stretched size, values with no class, shares summing below 1)."""
        if labels.shape != shape[:3]:
            raise ModelError(f"{self.path.name} breaks the contract: its labels came back {list(labels.shape)} for frames "
                             f"{list(shape)}, not one label a pixel")  # fmt: skip
        top = int(labels.max(initial=0))
        if top >= len(self.classes) and top != self.metadata["ignore_index"]:
            raise ModelError(f"{self.path.name} breaks the contract: a label {top} is no class of its "
                             f"{len(self.classes)} (0-{len(self.classes) - 1})")  # fmt: skip
        return labels


def resize_frame(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``frame`` at ``size`` (height, width): area interpolation when shrinking, linear when growing."""
    h, w = size
    if frame.shape[:2] == (h, w):
        return frame
    shrink = frame.shape[0] * frame.shape[1] > h * w
    return cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def resize_labels(labels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Class indices brought to ``height`` x ``width`` (nearest neighbour: no invented classes)."""
    if labels.shape[:2] == (height, width):
        return labels
    return cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)


CPU_BYTES_PER_PIXEL = 125  # a CPU session's peak memory per input pixel: the shipped INT8 model (fp32: ~320)


def free_memory() -> int | None:
    """Bytes of memory free for new work (Linux's MemAvailable), or None where that is unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def working_size(height: int, width: int, input_size: tuple[int, int],
                 sample_aspect: float | None = None) -> tuple[int, int]:  # fmt: skip
    """The size the network sees pictures of ``height`` x ``width`` at (pixels ``sample_aspect`` as wide
    as high, where not square): the model's ``input_size`` for pictures of its aspect, else about as
    many pixels at the picture's own aspect, sides multiples of 32 (the encoder's stride).

    Squeezed into CamVid's 4:3, objects are drawn narrower than the model learnt them: on CamVid val
    frames cut to 16:9 the shipped model scored 68.8 mIoU squeezed and 72.0 at its own aspect; cut
    upright (9:16, a phone held up) 53.5 and 71.2.

    >>> working_size(720, 960, (360, 480)), working_size(720, 1280, (360, 480)), working_size(1920, 1080, (360, 480))
    ((360, 480), (320, 544), (544, 320))
    """
    ih, iw = input_size
    if not (height > 0 and width > 0):  # (a stream that has not said its size before its first picture)
        return ih, iw
    aspect = width * float(sample_aspect or 1) / height
    if abs(aspect * ih / iw - 1) < 0.02:
        return ih, iw
    side = lambda x: max(32, round(x / 32) * 32)  # noqa: E731
    return side((ih * iw / aspect) ** 0.5), side((ih * iw * aspect) ** 0.5)


class Segmenter:
    """Frames in, labels out, at a working size: the frame-level API of roadseg.

    Args:
        model: an ONNX file, or an :class:`OnnxSegmenter` to share (its session is reused, not
            rebuilt); ``None`` picks the shipped default for the device (the CPU's where a GPU provider
            asked for falls back to the CPU).
        size: working (height, width); ``None``: fitted to the pictures' aspect at about the model's
            ``input_size`` in pixels (:func:`working_size`).
        providers: ``auto``, ``cpu``, ``cuda`` or ``tensorrt`` (ignored when ``model`` is a session).
        threads: onnxruntime intra-op threads (0 = default; ignored when ``model`` is a session).
        tta: flip test-time augmentation, two network passes a frame (ignored when ``model`` is a session).
    """

    def __init__(
        self,
        model: str | Path | OnnxSegmenter | None = None,
        *,
        size: tuple[int, int] | None = None,
        providers: str = "auto",
        threads: int = 0,
        tta: bool = False,
    ) -> None:
        if isinstance(model, OnnxSegmenter):
            self.model = model
        else:
            path = Path(model) if model is not None else default_model_path(providers)
            self.model = OnnxSegmenter(path, providers=providers, threads=threads, tta=tta)
            if model is None and self.model.providers[0] == "CPUExecutionProvider" and path != default_model_path("cpu"):
                # a GPU asked for that is not there: the CPU's default, as on any CPU (the GPU's fp32 file ran
                # 4.5x slower there than the INT8 one)
                self.model = OnnxSegmenter(default_model_path("cpu"), providers="cpu", threads=threads, tta=tta)
        self.fixed = size is not None  # a size given is kept whatever the pictures' shape
        self.size: tuple[int, int] = tuple(size) if size else self.model.input_size  # type: ignore[assignment]
        self.classes = self.model.classes
        self.palette = self.model.palette

    def check_memory(self, batch: int = 1) -> None:
        """Refuse (:class:`ModelError`) a working size and batch that the network cannot hold in the memory
        free here, before any work (else the system kills the run with no word): on the CPU it needs
        about :data:`CPU_BYTES_PER_PIXEL` per pixel of a batch (twice that with ``tta``: the mirror images
        are in the batch too), the leanest model's cost, so what is refused cannot fit. A GPU session's
        memory is the GPU's, not checked here."""
        free = free_memory()
        if free is None or self.model.providers[0] != "CPUExecutionProvider":
            return
        h, w = self.size
        passes = 2 if self.model.tta else 1
        need = passes * batch * h * w * CPU_BYTES_PER_PIXEL
        if need > free:
            raise ModelError(f"working size {h}x{w} at batch {batch}{' with --tta' * (passes > 1)} needs about {_gb(need)} "
                             f"of memory for the network (~{CPU_BYTES_PER_PIXEL} bytes a pixel); {_gb(free)} is free: "
                             "choose a smaller --size or --batch")  # fmt: skip

    def fitted(self, height: int, width: int, sample_aspect: float | None = None) -> Segmenter:
        """This model at the working size for pictures of this shape (:func:`working_size`), sharing its
        session; itself where its size was given or already fits."""
        if self.fixed:
            return self
        size = working_size(height, width, self.model.input_size, sample_aspect)
        return self if size == self.size else Segmenter(self.model, size=size)

    def resize(self, frame: np.ndarray) -> np.ndarray:
        """A frame at the working size (area interpolation when shrinking)."""
        return resize_frame(frame, self.size)

    def __call__(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        """Labels uint8 [N,h,w] at the working size (fitted to the first frame's shape unless a size was
        given) for a batch of RGB frames."""
        seg = self.fitted(*frames[0].shape[:2])
        return self.model.predict(np.stack([seg.resize(f) for f in frames]))

    def segment(self, frame: np.ndarray) -> np.ndarray:
        """Labels uint8 [H,W] of one RGB frame, at the frame's own size."""
        return resize_labels(self([frame])[0], *frame.shape[:2])


def infer_stage(items: Iterator, seg: Segmenter, batch: int, times: StageTimes, *, refit: bool = False) -> Iterator:
    """The infer stage: frames -> the same frames with ``labels`` (working size), ``batch`` at a time.

    ``refit``: each frame at the working size of its own shape (:meth:`Segmenter.fitted`; a folder of
    photos of several shapes), a batch ending where that size changes; else every frame at ``seg``'s.
    Anything that is not a :class:`~roadseg.pipeline.sources.Frame` (audio packets) passes straight through.
    """
    from roadseg.pipeline.sources import Frame

    pending: list[Frame] = []
    now = seg

    def flush() -> Iterator[Frame]:
        with times.measure("resize", len(pending)):
            small = np.stack([now.resize(f.image) for f in pending])
        with times.measure("infer", len(pending)):
            labels = now.model.predict(small)
        yield from (replace(f, labels=lab) for f, lab in zip(pending, labels))
        pending.clear()

    for item in items:
        if not isinstance(item, Frame):
            yield item
            continue
        if refit:
            fit = seg.fitted(*item.image.shape[:2])
            if fit.size != now.size and pending:
                yield from flush()
            now = fit
        pending.append(item)
        if len(pending) >= batch:
            yield from flush()
    if pending:
        yield from flush()


def _gb(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n < 1e10 else f"{n / 1e9:.0f} GB"
