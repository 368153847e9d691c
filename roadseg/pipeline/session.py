"""One onnxruntime session of a roadseg contract model, on its device's providers (the device, ``auto`` too, and
the shipped model each device runs by default: :mod:`roadseg.pipeline.devices`).

:class:`OnnxSegmenter` takes frames at whatever size it is given; :class:`~roadseg.pipeline.infer.Segmenter`
adds the working size.

Example:
    >>> import numpy as np
    >>> from roadseg.pipeline.devices import default_model_path
    >>> model = OnnxSegmenter(default_model_path("cpu"), providers="cpu")
    >>> model.predict(np.zeros((2, 64, 96, 3), np.uint8)).shape             # labels at the frames' size
    (2, 64, 96)
    >>> model.classes[3]
    'Road'
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from roadseg import contract
from roadseg.errors import ArgumentError, ModelError, install_extra
from roadseg.pipeline.bounds import check_whole
from roadseg.pipeline.devices import onnxruntime, resolve_device
from roadseg.pipeline.model_files import check_model_file, unloadable
from roadseg.tools.info import cpu_info, cpus_usable

log = logging.getLogger("roadseg")


def _flipped(path: Path) -> bytes:
    """The model at ``path`` rewritten for ``--tta`` (:mod:`roadseg.pipeline.tta`), serialised; a one-line
    :class:`ModelError` where the onnx package that rewrites it is missing (a runtime-only install)."""
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise ModelError("--tta rewrites the model with the onnx package, which this install lacks: pip install onnx "
                         f"(or the train extra, {install_extra('train')})") from None  # fmt: skip
    from roadseg.pipeline.tta import flip_tta

    return flip_tta(contract.read_onnx(path), path.name).SerializeToString()


def _providers(device: str) -> list:
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device == "cuda":
        return [("CUDAExecutionProvider", {"cudnn_conv_algo_search": "HEURISTIC"}), "CPUExecutionProvider"]
    if device == "tensorrt":
        return ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    raise ArgumentError(f"device must be cpu, cuda or tensorrt here, not {device!r}")


def _session(ort: Any, source: str | bytes, opts: Any, wanted: list) -> Any:
    """An onnxruntime session of ``wanted`` providers, or where the first one fails to load (TensorRT without its
    libraries), of the others, as onnxruntime's own fallback does, but without its 4-line "EP Error" banner on
    stdout (the one line ``OnnxSegmenter`` says tells what matters). Was: that fallback's, under
    ``contextlib.redirect_stdout``, which is the whole process's: another thread's prints were lost while a model
    loaded, and two loads at once in two threads left ``sys.stdout`` a StringIO for good."""
    try:
        session = ort.InferenceSession(source, opts, providers=wanted, enable_fallback=0)
    except (ValueError, RuntimeError):
        if len(wanted) == 1:
            raise
        session = ort.InferenceSession(source, opts, providers=wanted[1:], enable_fallback=0)
    else:
        session.enable_fallback()  # (a run's provider failure still falls back, as it did)
    return session


def intra_op_threads(threads: int = 0) -> int:
    """The intra-op threads a session is given for ``threads`` (``--threads``; 0: one per core): ``threads`` where
    given; where not, 0 (onnxruntime's own default) if this process may use every CPU of the machine, else the CPUs
    it may use (:func:`~roadseg.tools.info.cpus_usable`: ``taskset``, a container's cpuset). onnxruntime's default
    counts the machine's cores and pins a thread to each, past the process's affinity: under ``taskset -c 0`` on 2
    cores its second thread ran on CPU 1, the run used 2 CPUs it was told not to (where the cpuset forbids it, the
    pinning fails).

    More ``threads`` than the CPUs this process may use are taken as asked (oversubscribed, they take turns), said in
    one warning line, once a process (:func:`_said_oversubscribed`; was: taken silently).

    More than :data:`~roadseg.pipeline.bounds.MAX_THREADS` are refused in one line (100000 started threads for minutes).

    >>> intra_op_threads(1), intra_op_threads() in (0, cpus_usable())
    (1, True)
    """
    check_whole("threads", threads)
    usable = cpus_usable()
    if threads:
        if threads > usable:
            _said_oversubscribed(threads, usable, os.cpu_count() or usable)
        return threads
    return 0 if usable >= (os.cpu_count() or usable) else usable


@functools.cache
def _said_oversubscribed(threads: int, usable: int, machine: int) -> None:
    """One warning line: ``threads`` asked (``--threads``) are more than the ``usable`` CPUs of this process (of the
    ``machine``'s); once for each (a run's session, bench's rows and its machine peak ask alike): ``--threads 8 is
    more than the 2 CPUs this process may use: its threads take turns on them (--threads 0 fits them to the CPUs)``."""
    cpus = f"{usable} CPU{'s' * (usable != 1)}"
    of = f" (of the machine's {machine}: taskset, a container's cpuset)" if machine != usable else ""
    log.warning("--threads %d is more than the %s this process may use%s: its threads take turns on them (--threads "
                "0 fits them to the CPUs)", threads, cpus, of)  # fmt: skip


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
        threads: intra-op threads (0: one per core, :func:`intra_op_threads`: the CPUs this process may use).
        spin: let idle onnxruntime threads busy-wait for work. Off by default: inside the pipeline
            the spinning steals the cores that decode and encode need (measured: +5-10 % end-to-end
            frames/s on 2 cores) and alone it gains nothing measurable.
        io_binding: bind the uint8 input and output explicitly (default: on GPU providers only).
        tta: average each frame's class scores with its mirror image's (:mod:`roadseg.pipeline.tta`):
            two network passes a frame.

    A model of batch 1 (:attr:`one_at_a_time`) runs a batch one frame at a time, said once in a line.
    """

    def __init__(self, path: str | Path, *, providers: str = "auto", threads: int = 0, spin: bool = False,
                 io_binding: bool | None = None, tta: bool = False) -> None:  # fmt: skip
        ort = onnxruntime()

        self.path = check_model_file(path)
        self.tta = tta
        source: str | bytes = _flipped(self.path) if tta else str(self.path)
        device = resolve_device(providers)
        opts = ort.SessionOptions()
        # fatal only: the failed-CUDA chatter of onnxruntime-gpu on a CPU box, and a failed run's error,
        # which comes back as the exception that the run's one Error: line tells
        opts.log_severity_level = 4
        if threads := intra_op_threads(threads):
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
            self.session = _session(ort, source, opts, wanted)
        except Exception as exc:  # InvalidProtobuf, Fail, NoSuchFile ... all mean "not a usable model"
            raise unloadable(self.path, exc) from None
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
        #: The size the network inside is fixed at, where ``adapt_onnx`` wrapped one (metadata ``fixed_size``): frames
        #: are resized to it in the graph, so every picture is run at ``input_size``, not one fitted to its aspect
        self.fixed_size: tuple[int, int] | None = contract.fixed_size(self.metadata)
        #: True where the model takes one frame at a time: its input's batch is fixed at 1 (known at load), or a
        #: batch of more failed in its graph where the same frames one by one did not (a Reshape to a constant
        #: batch of 1: found at the first such batch); None while not known
        self.one_at_a_time: bool | None = True if contract.batch_fixed(self.session) else None
        self._said = False
        # (onnxruntime's errors of a run that a batch of 1 baked into a graph gives: a Reshape's FAIL, an input
        # dimension's INVALID_ARGUMENT; not RUNTIME_EXCEPTION, which out-of-memory is)
        state = ort.capi.onnxruntime_pybind11_state
        self._batch_errors = (state.Fail, state.InvalidArgument, ModelError)

    def predict(self, frames: np.ndarray) -> np.ndarray:
        """Labels uint8 [N,H,W] of frames uint8 [N,H,W,3]: all in one run, or one by one for a model that takes one
        frame at a time (:attr:`one_at_a_time`; said once, the first time a batch of more is run so). With ``tta``, a
        model with a batch of 1 in its graph cannot run (a frame and its mirror image are one batch of 2): one line,
        a :class:`ModelError`, says so."""
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
            raise ArgumentError(f"frames must be uint8 [N,H,W,3], got {frames.dtype} {list(frames.shape)}")
        frames = np.ascontiguousarray(frames)
        try:
            return self._batched(frames)
        except self._batch_errors:
            if self.tta and self._one_at_a_time_inside(frames[:1]):  # (--tta: a frame and its mirror in a batch of 2)
                raise ModelError(f"{self.path.name} takes one frame at a time (batch 1 baked into its graph), and --tta "
                                 "runs each frame with its mirror image as one batch of 2: run it without --tta") from None  # fmt: skip
            raise

    def _batched(self, frames: np.ndarray) -> np.ndarray:
        """:meth:`predict` of contiguous ``frames``: all in one run, else one by one."""
        if len(frames) == 0 and self.one_at_a_time:  # (no run: its input takes one frame)
            return np.zeros(frames.shape[:3], np.uint8)
        if len(frames) == 1:
            return self._run(frames)
        if self.one_at_a_time:
            return self._one_by_one(frames, "its input 'frames' is fixed at batch 1")
        try:
            labels = self._run(frames)
        except self._batch_errors as exc:  # (only where the same frames one by one run: else the model's error)
            try:
                labels = self._one_by_one(frames, "batch 1 baked into its graph")
            except Exception:
                raise exc from None
            self.one_at_a_time = True
        return labels

    def _one_at_a_time_inside(self, frame: np.ndarray) -> bool:
        """Whether this model without ``--tta`` (a session of its own file) runs ``frame`` [1,H,W,3] alone but not
        twice in one batch: a batch of 1 in its graph, which ``--tta``'s batch of 2 (frame and mirror) fails on."""
        try:
            plain = OnnxSegmenter(self.path, providers="cpu")
            plain._run(frame)
        except Exception:  # noqa: BLE001 - the model fails alone too (or cannot load again): the error is not --tta's
            return False
        try:
            plain._run(np.concatenate([frame, frame]))
        except plain._batch_errors:
            return True
        return False

    def _one_by_one(self, frames: np.ndarray, why: str) -> np.ndarray:
        labels = np.concatenate([self._run(frames[i : i + 1]) for i in range(len(frames))])
        if not self._said:
            self._said = True
            log.warning("%s takes one frame at a time (%s): a batch of %d runs as %d runs of 1", self.path.name, why,
                        len(frames), len(frames))  # fmt: skip
        return labels

    def _run(self, frames: np.ndarray) -> np.ndarray:
        """One network run of contiguous ``frames``, its labels checked (:meth:`_checked`)."""
        if not self.io_binding:
            return self._checked(self.session.run([contract.OUTPUT], {contract.INPUT: frames})[0], frames.shape)
        # on a GPU: bind the uint8 input and output explicitly, so only 3 bytes/pixel go up and
        # 1 byte/pixel comes back, with no extra staging copies
        binding = self.session.io_binding()
        binding.bind_cpu_input(contract.INPUT, frames)
        binding.bind_output(contract.OUTPUT, "cpu")
        try:
            self.session.run_with_iobinding(binding)
        except RuntimeError:  # (its every error is 'Error in execution: ...', its kind lost: run again without, for it)
            return self._checked(self.session.run([contract.OUTPUT], {contract.INPUT: frames})[0], frames.shape)
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
