"""The one torch frames -> labels path: uint8 RGB frames in, uint8 class indices out.

:class:`FramesToLabels` is preprocessing, the network and argmax as one module: the ONNX export
traces it (so the contract's graph is this code), and evaluation, ``bench``'s PyTorch row and the
training loop's validation call it through :func:`predict`.

Example:
    >>> import numpy as np
    >>> from roadseg.model import UNetResNet34
    >>> net = UNetResNet34(11, decoder_channels=(32, 16, 16, 8, 8)).eval()
    >>> predict(net, np.zeros((2, 45, 61, 3), np.uint8)).shape
    (2, 45, 61)
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from roadseg.model.preprocess import Preprocess
from roadseg.model.unet import fold_normalisation


class FramesToLabels(nn.Module):
    """uint8 NHWC RGB frames -> uint8 labels [N,H,W].

    Args:
        net: the segmentation network (normalised float NCHW -> logits).
        pre: the preprocessing module to use (default: a fresh :class:`Preprocess`).
        half: compute the network in float16 (the GPU export variant); normalisation stays float32.
        channels_last: hand the network a channels-last tensor (faster convolutions in training).
        fold: when the network's first conv pads by replicating (``stem_padding="replicate"``), fold
            the normalisation into that conv (exact: :func:`~roadseg.model.unet.fold_normalisation`),
            so the graph has no float pre-pass over the frame and an INT8 export feeds pixels
            straight into its first quantized conv. The export folds; :func:`predict` does not, so
            parity checks compare a folded export with the plain network.
    """

    def __init__(self, net: nn.Module, *, pre: nn.Module | None = None, half: bool = False,
                 channels_last: bool = False, fold: bool = False) -> None:  # fmt: skip
        super().__init__()
        self.pre = pre if pre is not None else Preprocess()
        stem = getattr(getattr(net, "encoder", None), "conv1", None)
        self.folded = fold and not half and getattr(stem, "padding_mode", "zeros") == "replicate"
        self.net = fold_normalisation(net, self.pre.scale, self.pre.shift) if self.folded else net
        self.fp16, self.channels_last = half, channels_last  # (not ``self.half``: that hid ``nn.Module.half()``)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = frames.permute(0, 3, 1, 2).to(torch.float32) if self.folded else self.pre(frames)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.net(x.half() if self.fp16 else x).argmax(dim=1).to(torch.uint8)


@torch.no_grad()
def predict(net: nn.Module, frames: np.ndarray | torch.Tensor, *, pre: nn.Module | None = None,
            device: torch.device | str | None = None, dtype: torch.dtype | None = None,
            channels_last: bool = False) -> np.ndarray:  # fmt: skip
    """Labels uint8 [N,H,W] (numpy) of uint8 RGB frames [N,H,W,3], at the frames' own size.

    ``device``: where to compute (default: where ``net`` is); ``dtype``: autocast to it (e.g.
    ``torch.bfloat16``), ``None`` computes in float32. ``net`` is put in eval mode.
    """
    net.eval()
    device = torch.device(device) if device is not None else next(net.parameters()).device
    batch = (torch.from_numpy(np.ascontiguousarray(frames)) if isinstance(frames, np.ndarray) else frames).to(device)
    graph = FramesToLabels(net, pre=pre if pre is not None else Preprocess().to(device), channels_last=channels_last)
    with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
        return graph(batch).cpu().numpy()
