"""The training loss: weighted cross-entropy, plus, where the recipe asks, a Lovász-softmax term.

Cross-entropy rewards every pixel alike, so large classes (road, sky) dominate it; mIoU, what we
are judged by, weights every class alike. The Lovász-softmax loss (Berman, Triki and Blaschko,
CVPR 2018) is the convex (Lovász) extension of each class's Jaccard loss 1 - IoU to soft
predictions: sort a class's pixel errors ``|fg - p|`` in decreasing order and weight them by the
increments of the Jaccard loss along that order. On hard (one-hot) predictions it *equals*
1 - IoU, so the mean over the classes present is 1 - mIoU. It is evaluated on every ``stride``-th
pixel of each axis (a quarter of them at 2), which keeps its sorts to ~10 % of a step.

Example:
    >>> import torch
    >>> labels = torch.tensor([[[0, 0], [1, 1]]])                  # one 2x2 frame, two classes
    >>> probs = torch.nn.functional.one_hot(torch.tensor([[[0, 1], [1, 1]]]), 2).permute(0, 3, 1, 2).float()
    >>> round(float(lovasz_softmax(probs, labels, ignore_index=9, stride=1)), 4)   # 1 - mean(1/2, 2/3)
    0.4167
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from roadseg.classes import IGNORE_INDEX
from roadseg.data.classset import CAMVID, ClassSet


def _jaccard_increments(fg_sorted: torch.Tensor) -> torch.Tensor:
    """The Lovász extension's weights: the increase of 1 - IoU as each pixel, in error order, is counted wrong."""
    total = fg_sorted.sum()
    intersection = total - fg_sorted.cumsum(0)
    union = total + (1.0 - fg_sorted).cumsum(0)
    jaccard = 1.0 - intersection / union
    return torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]])


def lovasz_softmax(probs: torch.Tensor, labels: torch.Tensor, *, ignore_index: int = IGNORE_INDEX,
                   stride: int = 2) -> torch.Tensor:  # fmt: skip
    """Mean over the classes present in ``labels`` of the Lovász extension of 1 - IoU.

    ``probs`` [N,C,H,W] class probabilities (softmax), ``labels`` [N,H,W] class indices; pixels equal to
    ``ignore_index`` take no part (and get no gradient). The whole batch is one set, as mIoU is over a split.
    """
    probs = probs[:, :, ::stride, ::stride].permute(0, 2, 3, 1).reshape(-1, probs.shape[1])
    labels = labels[:, ::stride, ::stride].reshape(-1)
    valid = labels != ignore_index
    probs, labels = probs[valid], labels[valid]
    losses = []
    for c in torch.unique(labels).tolist():
        fg = (labels == c).to(probs.dtype)
        errors, order = torch.sort((fg - probs[:, c]).abs(), descending=True)
        losses.append(torch.dot(errors, _jaccard_increments(fg[order])))
    if not losses:  # nothing but void: no term, but keep the graph
        return probs.sum() * 0.0
    return torch.stack(losses).mean()


def training_loss(train_labels: list[np.ndarray], device, *, class_weights: str = "median-freq",
                  lovasz: float = 0.0, classes: ClassSet = CAMVID):  # fmt: skip
    """``loss_fn(logits, labels)``: cross-entropy (void, ``classes.ignore_index``, ignored; median-frequency class
    weights when asked), plus ``lovasz`` times the Lovász-softmax term when ``lovasz`` > 0."""
    from roadseg.train.data import median_frequency_weights

    weights = None
    if class_weights == "median-freq":
        weights = torch.from_numpy(median_frequency_weights(train_labels, classes)).to(device)

    def loss_fn(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = F.cross_entropy(logits, y, weight=weights, ignore_index=classes.ignore_index)
        if lovasz > 0:
            loss = loss + lovasz * lovasz_softmax(logits.softmax(1), y, ignore_index=classes.ignore_index)
        return loss

    return loss_fn
