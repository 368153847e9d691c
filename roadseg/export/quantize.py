"""Static INT8 quantization (QDQ, per-channel weights) of a contract model, calibrated on real frames.

Only the network's heavy operators are quantized (Conv and the ops around them); the uint8 input,
the normalisation arithmetic and the argmax stay as they were, so the result obeys the same
contract. Dynamic quantization is not offered: for this model it is slower than fp32 on CPU.

Weights are quantized to 7 bits (-64..64, ``reduce_range``). x86 CPUs without VNNI (AVX2 only, as
in many laptops) multiply uint8 activations by int8 weights in pairs summed into int16
(VPMADDUBSW), which saturates with 8-bit weights: the third release's 8-bit file scored 53.72 mIoU
on val on an AVX2 CPU against 64.36 on an AVX-512 VNNI one. With 7 bits a pair's sum fits
(2 x 255 x 64 < 32768): the sums are exact with or without VNNI, at the speed of 8-bit weights.

Activation ranges come from ``percentile`` calibration by default (the 99.999th percentile of each
tensor's magnitudes over the calibration frames): min-max lets a few outlying activations stretch a
tensor's scale, and it cost the fifth candidate release 0.65 mIoU on val against fp32 where percentile
cost nothing. The tensors that still hold raw pixels (the input after cast and padding, the first
conv's input) keep their exact 0..255 range under every method (``pixel_tensors``): clipped, their
scale falls just below 1 and every pixel value is rounded.

Example:
    >>> frames = load_calibration_frames("../shared/camvid", count=32)     # doctest: +SKIP
    >>> quantize_int8("unet.onnx", "unet-int8.onnx", frames)              # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path

import numpy as np

from roadseg.classes import CAMVID_SIZE
from roadseg.contract import read_onnx, set_metadata

#: Operators given Q/DQ pairs: convolutions carry nearly all the arithmetic.
QUANTIZED_OPS = ["Conv", "Relu", "Add", "MaxPool", "Concat", "Resize"]
#: Calibration methods, the default first.
CALIBRATION_METHODS = ("percentile", "minmax", "entropy")
#: Operators that move values without changing them: after these the input's pixels are still 0..255.
_MOVES_VALUES = {"Cast", "Transpose", "Pad", "Reshape", "Slice", "Identity", "Squeeze", "Unsqueeze", "Flatten"}


def pixel_tensors(model, source: str = "frames") -> list[str]:
    """The float tensors that quantized operators read in ``model`` (an ``onnx.ModelProto``) and that still hold
    ``source``'s raw pixel values
    (reached from it only through casts, transposes, pads, reshapes ...), in graph order.

    Example:
        >>> from onnx import TensorProto, helper
        >>> g = helper.make_graph([helper.make_node("Cast", ["frames"], ["x"], to=TensorProto.FLOAT),
        ...                        helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Relu", ["y"], ["z"])],
        ...                       "g", [helper.make_tensor_value_info("frames", TensorProto.UINT8, [1])],
        ...                       [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1])])
        >>> pixel_tensors(helper.make_model(g))
        ['x']
    """
    pixels, found = {source}, []
    for node in model.graph.node:  # ONNX graphs are topologically sorted
        if node.op_type in _MOVES_VALUES and node.input and node.input[0] in pixels:
            pixels.update(node.output)
        elif node.op_type in QUANTIZED_OPS:
            found += [t for t in node.input if t in pixels and t != source and t not in found]
    return found


class FrameReader:
    """onnxruntime CalibrationDataReader over uint8 frames, one frame per call."""

    def __init__(self, frames: np.ndarray) -> None:
        self._iter = iter(frames)

    def get_next(self):
        frame = next(self._iter, None)
        return None if frame is None else {"frames": frame[None]}

    def rewind(self) -> None:  # pragma: no cover - used by some calibrators
        raise NotImplementedError


#: Operators that only a quantized graph holds
QUANTIZED_GRAPH_OPS = frozenset({"QuantizeLinear", "DequantizeLinear", "QLinearConv", "ConvInteger", "MatMulInteger"})


def cannot_quantize(path: str | Path) -> str | None:
    """Why the ONNX model at ``path`` cannot be quantized here (it is already; it has no convolution), or
    None (ModelError if it is no ONNX model)."""
    ops = {node.op_type for node in read_onnx(path, load_external_data=False).graph.node}
    if ops & QUANTIZED_GRAPH_OPS:
        return "it is quantized already; quantize its fp32 file"
    if "Conv" not in ops:
        return "it has no convolution to quantize"
    return None


def load_calibration_frames(data: str | Path, count: int = 64, seed: int = 0, split: str = "train",
                            holdout: tuple[str, ...] = (), size: tuple[int, int] = CAMVID_SIZE) -> np.ndarray:  # fmt: skip
    """``count`` frames of a split of ``data`` (a fixed random choice) at ``size`` (the model's ``input_size``: what it
    was trained at), uint8 [count,H,W,3]. ``holdout`` leaves out the frames a training run held out (its check), so
    that they stay unseen. Only the images are read: a folder of another model's classes calibrates it too (its
    labels need not be CamVid's)."""
    from roadseg.data.camvid import CamVid, fits_in_memory, read_rgb
    from roadseg.pipeline.infer import CPU_BYTES_PER_PIXEL

    ds = CamVid(data, split)
    if holdout:
        ds = ds.split_off(holdout)[0]
        if not len(ds):
            raise ValueError(f"--holdout {' '.join(holdout)} holds out every {split} frame: none is left to calibrate on")
    idx = np.random.default_rng(seed).choice(len(ds), size=min(count, len(ds)), replace=False)
    h, w = size  # (the frames, and the network calibrated on them: was OpenCV's traceback at a size that cannot fit)
    fits_in_memory(len(idx) * h * w * 3 + h * w * CPU_BYTES_PER_PIXEL, f"calibrating on {len(idx)} frames at {h}x{w}, "
                   "the model's input_size,")  # fmt: skip
    return np.stack([_at_calibration_size(read_rgb(ds.samples[int(i)].image), tuple(size)) for i in sorted(idx)])


def calibration_source(data: str | Path, split: str = "train") -> str:
    """What the ``calibration`` metadata calls the frames of ``data``: CamVid's, or a folder of its own classes by its
    name and its ``classes.txt``.

    >>> calibration_source("../shared/camvid")                                   # doctest: +SKIP
    'CamVid train frames'
    >>> calibration_source("robot")                                             # doctest: +SKIP
    'train frames of robot (its classes.txt: road, lane, car)'
    """
    from roadseg.data.classset import CLASSES_FILE, read_classes

    classes = read_classes(data)
    if classes.is_camvid:
        return f"CamVid {split} frames"
    return f"{split} frames of {Path(data).resolve().name} (its {CLASSES_FILE}: {', '.join(classes.names)})"


def _at_calibration_size(image: np.ndarray, size: tuple[int, int] = CAMVID_SIZE) -> np.ndarray:
    """``image`` at ``size`` (height, width), as :class:`~roadseg.data.camvid.CamVid` brings a frame to it."""
    import cv2

    return image if image.shape[:2] == size else cv2.resize(image, size[::-1], interpolation=cv2.INTER_AREA)


def quantize_int8(src: str | Path, dst: str | Path, frames: np.ndarray, *,
                  method: str = CALIBRATION_METHODS[0], source: str = "CamVid train frames") -> Path:  # fmt: skip
    """Write a QDQ INT8 copy of ``src`` calibrated on ``frames`` (``method``: one of ``CALIBRATION_METHODS``; ``source``:
    what they are, :func:`calibration_source`); metadata is carried over."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    methods = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
               "entropy": CalibrationMethod.Entropy}  # fmt: skip
    src, dst = Path(src), Path(dst)
    meta = {p.key: p.value for p in read_onnx(src, load_external_data=False).metadata_props}
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        # names after pre-processing, which may rename tensors; their range is 0..255 whatever the method
        pixels = pixel_tensors(onnx.load(str(pre)))
        exact = {name: [{"rmin": np.float32(0), "rmax": np.float32(255)}] for name in pixels}
        with contextlib.redirect_stdout(io.StringIO()):  # (its calibrators print progress: not on our stdout)
            quantize_static(
                str(pre),
                str(dst),
                FrameReader(frames),
                quant_format=QuantFormat.QDQ,
                op_types_to_quantize=QUANTIZED_OPS,
                per_channel=True,
                reduce_range=True,  # 7-bit weights: no int16 saturation on AVX2 CPUs (module docstring)
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=methods[method],
                extra_options={"ActivationSymmetric": False, "WeightSymmetric": True, "TensorQuantOverrides": exact},
            )
    model = onnx.load(str(dst))
    meta["precision"] = json.dumps("int8-qdq-per-channel")
    meta["calibration"] = json.dumps(f"{len(frames)} {source}, {method}")
    set_metadata(model, meta)
    onnx.save(model, str(dst))
    return dst
