"""Check an exported model: onnx.checker, the contract, and onnxruntime-vs-PyTorch label agreement.

Example:
    >>> report = verify_parity(net, "model.onnx")   # doctest: +SKIP
    >>> report["agreement"] >= 0.999                  # doctest: +SKIP
    True
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from torch import nn

from roadseg.errors import ExportCheckError
from roadseg.export.onnx import TRACE_SHAPE
from roadseg.model.predict import predict
from roadseg.pipeline.session import OnnxSegmenter

#: Verification shape: batch, height and width all differ from the traced TRACE_SHAPE.
VERIFY_SHAPE = (2, 97, 131, 3)
MIN_AGREEMENT = 0.999
#: fp16 compute (``export --half``) is compared with the fp32 network, so rounding moves a few more labels.
HALF_MIN_AGREEMENT = 0.995


def untraced_batch(images: list[np.ndarray]) -> np.ndarray:
    """Real frames as one batch, cropped to their common size made odd: never the traced shape."""
    h = min(i.shape[0] for i in images)
    w = min(i.shape[1] for i in images)
    h, w = h - (1 - h % 2), w - (1 - w % 2)
    return np.stack([i[:h, :w] for i in images])


def parity_line(report: dict) -> str:
    """What :func:`verify_parity`'s ``report`` says, for people: what was compared, how closely, and that it passed.
    "100%" only where every pixel agrees; short of that, never "100.000%" (its 3 decimals rounded up).

    >>> parity_line({"shape": [2, 97, 131, 3], "agreement": 0.99995, "min_agreement": 0.999})
    "parity passed: onnxruntime's labels are PyTorch's on 99.995% of pixels (2 frames at 97x131, a shape not traced; 99.9% needed)"
    >>> parity_line({"shape": [1, 97, 131, 3], "agreement": 1 - 1e-6, "min_agreement": 0.999}).split(" of ")[0]
    "parity passed: onnxruntime's labels are PyTorch's on over 99.999%"
    """
    n, h, w = report["shape"][:3]
    share = f"{100 * report['agreement']:.3f}%"
    share = "100%" if report["agreement"] == 1 else "over 99.999%" if share == "100.000%" else share
    return (f"parity passed: onnxruntime's labels are PyTorch's on {share} of pixels "
            f"({n} frame{'s' * (n != 1)} at {h}x{w}, a shape not traced; {100 * report['min_agreement']:.1f}% needed)")


def verify_parity(
    net: nn.Module,
    path: str | Path,
    *,
    frames: np.ndarray | None = None,
    min_agreement: float = MIN_AGREEMENT,
) -> dict:
    """Run onnx.checker and compare onnxruntime's labels with PyTorch's; raise ExportCheckError on failure.

    ``frames`` (uint8 [N,H,W,3]) default to random frames of :data:`VERIFY_SHAPE`; pass real images
    for a meaningful agreement figure on a trained model.
    """
    try:
        onnx.checker.check_model(str(path), full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ExportCheckError(f"onnx.checker rejected {path}: {exc}") from None
    if frames is None:
        frames = np.random.default_rng(0).integers(0, 256, VERIFY_SHAPE, dtype=np.uint8)
    if frames.shape[1:3] == TRACE_SHAPE[1:3]:
        raise ValueError("verify at a shape that was not traced")
    seg = OnnxSegmenter(path, providers="cpu")  # also validates the contract (names, dtypes, metadata)
    got = seg.predict(frames)
    want = predict(net.float(), frames)
    if got.shape != want.shape or got.dtype != np.uint8:
        raise ExportCheckError(f"labels {got.shape} {got.dtype}, expected {want.shape} uint8")
    agreement = float((got == want).mean())
    report = {"shape": list(frames.shape), "agreement": agreement, "min_agreement": min_agreement}
    if agreement < min_agreement:
        raise ExportCheckError(
            f"onnxruntime and PyTorch agree on {100 * agreement:.3f}% of labels at {frames.shape}, "
            f"below {100 * min_agreement:.1f}%"
        )
    return report
