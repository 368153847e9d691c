"""Confusion-matrix segmentation metrics (numpy only, so ONNX evaluation needs no torch).

Example:
    >>> import numpy as np
    >>> cm = confusion_matrix(np.array([0, 1, 1, 2]), np.array([0, 1, 0, 9]), num_classes=2, ignore_index=9)
    >>> cm.tolist()
    [[1, 1], [0, 1]]
    >>> scores(cm)["miou"]
    0.5
"""

from __future__ import annotations

import numpy as np


def confusion_matrix(
    pred: np.ndarray, target: np.ndarray, num_classes: int, ignore_index: int | None = None
) -> np.ndarray:
    """``cm[t, p]`` counts pixels of true class ``t`` predicted as ``p``, over valid target pixels.

    Target pixels equal to ``ignore_index`` (or outside ``0..num_classes-1``) are skipped; a
    prediction outside that range is an error.
    """
    pred = np.asarray(pred).ravel().astype(np.int64)
    target = np.asarray(target).ravel().astype(np.int64)
    if pred.shape != target.shape:
        raise ValueError(f"prediction and target sizes differ: {pred.size} vs {target.size}")
    valid = (target >= 0) & (target < num_classes)
    if ignore_index is not None:
        valid &= target != ignore_index
    pred, target = pred[valid], target[valid]
    if pred.size and (pred.min() < 0 or pred.max() >= num_classes):
        raise ValueError(f"predictions outside 0..{num_classes - 1}")
    counts = np.bincount(num_classes * target + pred, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def scores(cm: np.ndarray) -> dict:
    """Per-class IoU, mIoU over classes with ground truth or predictions, and pixel accuracy."""
    cm = cm.astype(np.float64)
    tp = np.diag(cm)
    denom = cm.sum(0) + cm.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(denom > 0, tp / denom, np.nan)
    total = cm.sum()
    return {
        "iou": iou.tolist(),
        "miou": float(np.nanmean(iou)) if np.isfinite(iou).any() else 0.0,
        "pixel_acc": float(tp.sum() / total) if total else 0.0,
    }
