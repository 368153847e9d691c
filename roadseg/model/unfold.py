"""Recover trainable weights from an exported roadseg model (warm starts), or from several (soups).

An export folds every BatchNorm into the conv before it, so the ONNX file holds ``W'`` and ``b'`` of
``conv(x) * gamma / sigma + beta`` and nothing of the BN. :func:`unet_from_onnx` rebuilds a
:class:`UNetResNet34` from such a file: each conv gets ``W'``, and its BN is set so that the net
computes exactly what the file computes in eval mode, with running statistics measured on
calibration images, so that training mode (batch statistics) starts close to it too.

This is how a new decoder starts from the encoder a previous release learnt:
``roadseg train --encoder-weights models/unet-r34-camvid.onnx`` (the encoder only).

:func:`unet_soup` averages several files of one network in the same folded form, conv by conv (a
model soup, Wortsman et al. 2022): ``roadseg soup``. Averaging the folded weights averages the
eval-mode functions layer by layer, which is what the files compute.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from roadseg.contract import read_onnx
from roadseg.model.preprocess import Preprocess
from roadseg.model.unet import BasicBlock, UNetResNet34

#: what an export records about the net (``roadseg.export.onnx``); older files have neither
META_KEYS = ("model_config", "normalisation_folded")


def _conv_params(model: onnx.ModelProto, path: str) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """(weight, bias) of each Conv node in graph order, fp16-stored weights cast back to fp32."""
    g = model.graph
    values = {t.name: numpy_helper.to_array(t).astype(np.float32) for t in g.initializer}
    for node in g.node:  # fp16 storage: Cast(W__fp16) -> W
        if node.op_type == "Cast" and node.input[0] in values:
            values[node.output[0]] = values[node.input[0]]
    convs = []
    for node in g.node:
        if node.op_type == "Conv":
            if node.input[1] not in values:
                raise ValueError(f"{path}: conv {node.name} has no constant weight: a quantized model? rebuilding a network from a file "
                                 "(train --init, soup, release of an .onnx) needs the fp32 file")  # fmt: skip
            bias = values.get(node.input[2]) if len(node.input) > 2 else None
            convs.append((values[node.input[1]], bias))
    return convs


def _conv_bn_pairs(net: UNetResNet34) -> list[tuple[nn.Conv2d, nn.BatchNorm2d | None]]:
    """The net's convs in the order an export runs them, each with the BN that follows it."""
    pairs: list[tuple[nn.Conv2d, nn.BatchNorm2d | None]] = []
    enc = net.encoder
    pairs.append((enc.conv1, enc.bn1))
    for layer in (enc.layer1, enc.layer2, enc.layer3, enc.layer4):
        for block in layer:
            assert isinstance(block, BasicBlock)
            if block.downsample is not None:  # forward() runs the shortcut first
                pairs.append((block.downsample[0], block.downsample[1]))
            pairs += [(block.conv1, block.bn1), (block.conv2, block.bn2)]
    for block in net.decoder:
        for cbr in (block.conv1, block.conv2):
            pairs.append((cbr[0], cbr[1]))
    pairs.append((net.head, None))
    return pairs


def config_of(convs: list[tuple[np.ndarray, np.ndarray | None]]) -> dict:
    """The ``UNetResNet34`` config whose convs have these shapes (the 36 encoder convs come first,
    then two per decoder block, then the head)."""
    decoder = convs[36:-1]
    if len(convs) < 37 or len(decoder) % 2:
        raise ValueError(f"{len(convs)} convs is not a roadseg U-Net with a ResNet34 encoder")
    return {"num_classes": int(convs[-1][0].shape[0]),
            "decoder_channels": tuple(int(w.shape[0]) for w, _ in decoder[1::2]),
            "stem_padding": "zeros"}  # files without model_config metadata predate the folded stem  # fmt: skip


def folded_convs(path: str, config: dict | None = None) -> tuple[list, dict]:
    """The file's convs as (weight, bias) in the order an export runs them, each BN folded in and the
    stem taking normalised pixels (a folded normalisation is unfolded), and the net config they belong
    to: ``config``, else the file's ``model_config`` metadata, else what the conv shapes imply."""
    model = read_onnx(path)
    meta = {p.key: json.loads(p.value) for p in model.metadata_props if p.key in META_KEYS}
    convs = _conv_params(model, path)
    config = config or meta.get("model_config") or config_of(convs)
    config = {**config, "decoder_channels": tuple(config["decoder_channels"])}
    if meta.get("normalisation_folded"):
        convs[0] = _unfold_normalisation(*convs[0])
    return convs, config


@torch.no_grad()
def unet_from_onnx(path: str, calibration: torch.Tensor, config: dict | None = None) -> UNetResNet34:
    """A trainable :class:`UNetResNet34` that computes what the exported ``path`` does.

    ``calibration``: a few normalised training images [N,3,H,W]; they set each BN's running
    statistics. ``config`` defaults to the file's ``model_config`` metadata, or for files exported
    before that was recorded, to what its conv shapes imply (zero stem padding). A stem with the
    normalisation folded in (``normalisation_folded`` metadata) is unfolded again. A quantized file,
    or a mismatch in the number or shapes of convs, raises ``ValueError``.
    """
    convs, config = folded_convs(path, config)
    return _unet_from_convs(convs, config, calibration, path)


@torch.no_grad()
def unet_soup(paths: list[str], weights: list[float] | None, calibration: torch.Tensor) -> UNetResNet34:
    """A model soup: the :class:`UNetResNet34` whose every conv (BN folded in) is the weighted mean of
    that conv in the exported fp32 ``paths``, rebuilt trainable as :func:`unet_from_onnx` does.

    The files must be one network (same config, same conv shapes), e.g. fine-tunes of one release:
    averaging is only meaningful between weights that share a starting point. ``weights`` default to
    equal; they are normalised to sum to 1. Anything else raises ``ValueError``.
    """
    if len(paths) < 2:
        raise ValueError("a soup needs at least two models")
    weights = [1.0] * len(paths) if weights is None else [float(w) for w in weights]
    if len(weights) != len(paths) or min(weights) < 0 or sum(weights) <= 0:
        raise ValueError(f"{len(paths)} models need {len(paths)} weights, none negative, not all zero; got {weights}")
    files = [folded_convs(p) for p in paths]
    config = files[0][1]
    for path, (convs, cfg) in zip(paths[1:], files[1:]):
        if cfg != config or [w.shape for w, _ in convs] != [w.shape for w, _ in files[0][0]]:
            raise ValueError(f"{path} is not the same network as {paths[0]} ({cfg} against {config}): no soup")
    total = sum(weights)
    mean = []
    for layer in zip(*(convs for convs, _ in files)):
        w = sum(k * wb[0].astype(np.float64) for k, wb in zip(weights, layer)) / total
        biases = [wb[1] if wb[1] is not None else np.zeros(wb[0].shape[0], np.float32) for wb in layer]
        b = sum(k * bb.astype(np.float64) for k, bb in zip(weights, biases)) / total
        mean.append((w.astype(np.float32), b.astype(np.float32)))
    return _unet_from_convs(mean, config, calibration, " + ".join(paths))


def _unet_from_convs(convs: list, config: dict, calibration: torch.Tensor, where: str) -> UNetResNet34:
    net = UNetResNet34(**config).eval()
    pairs = _conv_bn_pairs(net)
    if len(convs) != len(pairs):
        raise ValueError(f"{where} has {len(convs)} convs; a net of config {config} has {len(pairs)}")
    _load_folded(pairs, convs, where)
    _set_running_statistics(net, pairs, calibration)
    return net


def _unfold_normalisation(w: np.ndarray, b: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The stem conv of normalised pixels from one that takes raw pixels (w' = w * scale,
    b' = b + sum(w * shift)): the inverse of the fold an export makes."""
    pre = Preprocess()
    w_n = w / pre.scale.numpy().reshape(1, 3, 1, 1)
    b = b if b is not None else np.zeros(w.shape[0], np.float32)
    return w_n, b - (w_n * pre.shift.numpy().reshape(1, 3, 1, 1)).sum(axis=(1, 2, 3))


def _load_folded(pairs: list, convs: list, path: str) -> None:
    """Give each conv the file's folded weights and set its BN to pass them through unchanged in eval
    mode: (y - 0) / sqrt(1 - eps + eps) * 1 + b'."""
    for i, ((conv, bn), (w, b)) in enumerate(zip(pairs, convs)):
        if tuple(conv.weight.shape) != w.shape:
            raise ValueError(f"{path}: conv {i} is {w.shape}, the config wants {tuple(conv.weight.shape)}")
        conv.weight.copy_(torch.from_numpy(w))
        bias = torch.from_numpy(b) if b is not None else torch.zeros(w.shape[0])
        if bn is None:
            conv.bias.copy_(bias)
            continue
        bn.running_mean.zero_()
        bn.running_var.fill_(1.0 - bn.eps)
        bn.weight.fill_(1.0)
        bn.bias.copy_(bias)


def _set_running_statistics(net: UNetResNet34, pairs: list, calibration: torch.Tensor) -> None:
    """Measure each conv's output statistics (m, v) on ``calibration`` and re-express its BN with
    them: (y - m) / sqrt(v + eps) * sqrt(v + eps) + m + b' == y + b' in eval mode, and in training
    the batch statistics are close to (m, v), so the first steps start from the same function."""
    stats: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def hook(i: int):
        def record(_m, _inp, out):
            y = out.float().transpose(0, 1).reshape(out.shape[1], -1)
            stats[i] = (y.mean(1), y.var(1, unbiased=False))  # what BN normalises by in training

        return record

    hooks = [conv.register_forward_hook(hook(i)) for i, (conv, bn) in enumerate(pairs) if bn is not None]
    try:
        net(calibration)
    finally:
        for h in hooks:
            h.remove()
    for i, (_conv, bn) in enumerate(pairs):
        if bn is None:
            continue
        mean, var = stats[i]
        var = var.clamp_min(1e-6)
        bias = bn.bias.clone()
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var)
        bn.weight.copy_((var + bn.eps).sqrt())
        bn.bias.copy_(mean + bias)
