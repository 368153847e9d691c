"""U-Net with a ResNet34 encoder, in plain PyTorch.

The encoder's parameter names match torchvision's ``resnet34`` state dict, so ImageNet weights load
with ``model.encoder.load_state_dict(sd, strict=False)`` (only ``fc.*`` is unused). The network pads
its input to a multiple of 32 (replicating the border) and crops the logits back, so any H and W work.

Example:
    >>> import torch
    >>> net = UNetResNet34(num_classes=11).eval()
    >>> net(torch.zeros(1, 3, 45, 61)).shape
    torch.Size([1, 11, 45, 61])
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

#: The U-Net's output stride: inputs are padded to a multiple of this.
STRIDE = 32


class BasicBlock(nn.Module):
    """torchvision's ResNet BasicBlock (two 3x3 convs and a shortcut), same parameter names."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_ch != out_ch:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet34Encoder(nn.Module):
    """ResNet34 without its classifier; returns the five feature maps a U-Net needs.

    Outputs strides 2, 4, 8, 16, 32 with 64, 64, 128, 256, 512 channels.

    Args:
        stem_padding: how the first 7x7 conv pads the image: ``"zeros"`` (torchvision) or
            ``"replicate"``. Replicate padding commutes with the per-channel normalisation, so an
            export can fold the normalisation into this conv exactly (see
            :func:`fold_normalisation`): the INT8 model then reads pixels without a float pre-pass.
    """

    channels: tuple[int, ...] = (64, 64, 128, 256, 512)

    def __init__(self, stem_padding: str = "zeros") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False, padding_mode=stem_padding)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._layer(64, 64, 3, 1)
        self.layer2 = self._layer(64, 128, 4, 2)
        self.layer3 = self._layer(128, 256, 6, 2)
        self.layer4 = self._layer(256, 512, 3, 2)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        for m in self.modules():  # zero-init the last BN of each block: a standard from-scratch trick
            if isinstance(m, BasicBlock):
                nn.init.zeros_(m.bn2.weight)

    @staticmethod
    def _layer(in_ch: int, out_ch: int, blocks: int, stride: int) -> nn.Sequential:
        layers = [BasicBlock(in_ch, out_ch, stride)]
        layers += [BasicBlock(out_ch, out_ch) for _ in range(blocks - 1)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        f1 = self.relu(self.bn1(self.conv1(x)))
        f2 = self.layer1(self.maxpool(f1))
        f3 = self.layer2(f2)
        f4 = self.layer3(f3)
        f5 = self.layer4(f4)
        return [f1, f2, f3, f4, f5]


def conv_bn_relu(in_ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    )


class DecoderBlock(nn.Module):
    """Upsample x2, concatenate the skip (if any), two conv-BN-ReLU."""

    def __init__(self, in_ch: int, skip_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv1 = conv_bn_relu(in_ch + skip_ch, out_ch)
        self.conv2 = conv_bn_relu(out_ch, out_ch)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        if skip is not None:
            x = torch.cat([x, skip], dim=1)
        return self.conv2(self.conv1(x))


class UNetResNet34(nn.Module):
    """U-Net with a ResNet34 encoder. Input: normalised float RGB [N,3,H,W]; output: logits [N,C,H,W].

    Args:
        num_classes: number of output classes.
        decoder_channels: channels of the decoder blocks, deepest first. Five blocks end at full
            resolution (the classic U-Net, e.g. the 256-128-64-32-16 of roadseg's first release);
            four end at stride 2, where the head runs, and the logits are upsampled bilinearly
            (about 1.2x faster in INT8 on a CPU at 360x480). The default is the shipped model's.
        dropout: dropout probability before the classifier (0 disables it).
        stem_padding: ``"zeros"`` or ``"replicate"`` for the encoder's first conv (see
            :class:`ResNet34Encoder`).

    The keyword arguments are the model's whole config (``model.config``), saved in checkpoints.
    """

    def __init__(
        self,
        num_classes: int = 11,
        *,
        decoder_channels: tuple[int, ...] = (128, 64, 48, 32),
        dropout: float = 0.0,
        stem_padding: str = "replicate",
    ) -> None:
        super().__init__()
        if len(decoder_channels) not in (4, 5):
            raise ValueError(f"decoder_channels needs 4 or 5 blocks, not {len(decoder_channels)}")
        self.config = {
            "num_classes": num_classes,
            "decoder_channels": tuple(decoder_channels),
            "dropout": dropout,
            "stem_padding": stem_padding,
        }
        self.encoder = ResNet34Encoder(stem_padding)
        enc = self.encoder.channels  # (64, 64, 128, 256, 512)
        skips = (enc[3], enc[2], enc[1], enc[0], 0)[: len(decoder_channels)]
        ins = (enc[4], *decoder_channels[:-1])
        self.decoder = nn.ModuleList(
            DecoderBlock(i, s, o) for i, s, o in zip(ins, skips, decoder_channels)
        )
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Conv2d(decoder_channels[-1], num_classes, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2], x.shape[-1]
        pad_h = (STRIDE - h % STRIDE) % STRIDE
        pad_w = (STRIDE - w % STRIDE) % STRIDE
        x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        f1, f2, f3, f4, f5 = self.encoder(x)
        y = f5
        for block, skip in zip(self.decoder, (f4, f3, f2, f1, None)):
            y = block(y, skip)
        logits = self.head(self.dropout(y))
        if len(self.decoder) == 4:  # the head ran at stride 2
            logits = F.interpolate(logits, scale_factor=2.0, mode="bilinear", align_corners=False)
        return logits[:, :, :h, :w]


def build_model(config: dict | None = None) -> UNetResNet34:
    """Build a model from a saved ``model.config`` dict (or the defaults)."""
    config = dict(config or {})
    if "decoder_channels" in config:
        config["decoder_channels"] = tuple(config["decoder_channels"])
    return UNetResNet34(**config)


@torch.no_grad()
def fold_normalisation(net: UNetResNet34, scale: torch.Tensor, shift: torch.Tensor) -> UNetResNet34:
    """A copy of ``net`` that takes raw pixels: ``folded(x) == net(x * scale + shift)``.

    ``scale`` and ``shift`` are per-channel ([1,3,1,1] or [3]). Exact when the first conv pads by
    replicating the border (normalising then padding equals padding then normalising); with zero
    padding the border would differ, so that is refused.

    Example:
        >>> net = UNetResNet34(11, stem_padding="replicate").eval()
        >>> scale, shift = torch.tensor([0.5, 2.0, 1.0]), torch.tensor([-1.0, 0.0, 3.0])
        >>> x = torch.rand(1, 3, 40, 50) * 255
        >>> ref = net(x * scale.view(1, 3, 1, 1) + shift.view(1, 3, 1, 1))
        >>> torch.allclose(fold_normalisation(net, scale, shift)(x), ref, atol=1e-3)
        True
    """
    conv = net.encoder.conv1
    if conv.padding_mode != "replicate":
        raise ValueError("normalisation folds exactly only into a conv with replicate padding")
    folded = copy.deepcopy(net)
    new = nn.Conv2d(3, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, bias=True,
                    padding_mode="replicate")  # fmt: skip
    w = conv.weight.detach().float()
    new.weight.copy_(w * scale.reshape(1, 3, 1, 1))
    new.bias.copy_((w * shift.reshape(1, 3, 1, 1)).sum(dim=(1, 2, 3)))
    folded.encoder.conv1 = new.to(conv.weight.device)
    return folded
