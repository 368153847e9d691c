"""Build the shipped model files from a checkpoint, exactly as ``models/MODEL_CARD.md`` describes.

1. export fp32 and verify parity with PyTorch on real val frames (at an untraced shape);
2. quantize a static INT8 (QDQ, per-channel) copy, calibrated on CamVid *train* frames;
3. store the fp32 model's weights as float16 (fp32 compute) so that both fit the 80 MB budget,
   and verify parity again;
4. score both on the val split with the pipeline's own onnxruntime code and write the scores into
   each file's metadata and into ``eval.json``.

Example:
    >>> release("runs/r34-cpu/best.pt", "../shared/camvid", "models")   # doctest: +SKIP
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import onnx

from roadseg.export.onnx import count_macs, export_onnx, set_metadata
from roadseg.export.quantize import load_calibration_frames, quantize_int8
from roadseg.export.verify import untraced_batch, verify_parity

FP32_NAME = "unet-r34-camvid.onnx"
INT8_NAME = "unet-r34-camvid-int8.onnx"


def _val_frames(data: str | Path, count: int = 4) -> np.ndarray:
    """Real val frames cropped to 359x479: odd, so not the traced shape."""
    from roadseg.data.camvid import CamVid

    ds = CamVid(data, "val")
    return untraced_batch([ds[i][0] for i in range(0, count * 10, 10)])


def release(checkpoint: str | Path, data: str | Path, out: str | Path, *, calib_frames: int = 64,
            min_int8_agreement: float = 0.98) -> dict:  # fmt: skip
    """Write ``out/unet-r34-camvid.onnx`` and ``out/unet-r34-camvid-int8.onnx``; return their scores."""
    from roadseg.train.evaluate import evaluate_model
    from roadseg.train.loop import load_checkpoint

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    net, state = load_checkpoint(checkpoint)
    cfg = state.get("config") or {}
    meta = {
        "training_data": "CamVid 11-class (SegNet release) train split, 367 images at 360x480",
        "training": {k: cfg.get(k) for k in ("epochs", "batch_size", "crop", "scale", "lr", "weight_decay",
                                             "schedule", "class_weights", "encoder_weights", "seed")},
        "checkpoint_epoch": state.get("best_epoch"),
        "macs": count_macs(net, (360, 480)),
        "license_note": "trained on CamVid (research use)",
    }  # fmt: skip
    frames = _val_frames(data)
    report: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_onnx(net, Path(tmp) / "fp32.onnx", metadata=meta)
        report["fp32_parity"] = verify_parity(net, fp32, frames=frames)
        int8 = quantize_int8(fp32, out / INT8_NAME, load_calibration_frames(data, calib_frames), method="minmax")
        report["int8_parity"] = _agreement(fp32, int8, frames)
        if report["int8_parity"] < min_int8_agreement:
            raise RuntimeError(f"INT8 agrees with fp32 on only {100 * report['int8_parity']:.2f}% of labels")
    half = export_onnx(net, out / FP32_NAME, metadata={**meta, "precision": "fp32 compute, fp16-stored weights"},
                       fp16_weights=True)  # fmt: skip
    report["fp16_weights_parity"] = verify_parity(net, half, frames=frames)
    for name in (FP32_NAME, INT8_NAME):
        result = evaluate_model(out / name, data, "val")
        report[name] = {k: result[k] for k in ("miou", "iou", "pixel_acc", "images", "working_size")}
        model = onnx.load(str(out / name))
        set_metadata(model, {"val_miou": json.dumps(round(100 * result["miou"], 2)),
                             "val_iou": json.dumps([round(100 * v, 2) for v in result["iou"]])})  # fmt: skip
        onnx.save(model, str(out / name))
        report[name]["megabytes"] = round((out / name).stat().st_size / 1e6, 1)
    (out / "eval.json").write_text(json.dumps(report, indent=2))
    return report


def _agreement(a: Path, b: Path, frames: np.ndarray) -> float:
    from roadseg.pipeline.infer import OnnxSegmenter

    la = OnnxSegmenter(a, providers="cpu").predict(frames)
    lb = OnnxSegmenter(b, providers="cpu").predict(frames)
    return float((la == lb).mean())
