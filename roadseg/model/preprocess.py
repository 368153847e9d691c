"""uint8 RGB NHWC frames -> normalised float NCHW: the one place normalisation happens in torch.

Training applies it to uint8 batches and the ONNX export bakes it into the graph, so the two can
never disagree.

Example:
    >>> import torch
    >>> Preprocess()(torch.zeros(2, 4, 5, 3, dtype=torch.uint8)).shape
    torch.Size([2, 3, 4, 5])
"""

from __future__ import annotations

import torch
from torch import nn

from roadseg.classes import MEAN, STD


class Preprocess(nn.Module):
    scale: torch.Tensor  # (buffers: typed as tensors, not as ``Tensor | Module``)
    shift: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        scale = torch.tensor(STD).mul(255.0).reciprocal().view(1, 3, 1, 1)
        shift = -torch.tensor(MEAN).div(torch.tensor(STD)).view(1, 3, 1, 1)
        self.register_buffer("scale", scale, persistent=False)
        self.register_buffer("shift", shift, persistent=False)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = frames.permute(0, 3, 1, 2).to(torch.float32)
        return x * self.scale + self.shift
