"""Export a U-Net checkpoint to the roadseg ONNX contract (:mod:`roadseg.contract`).

The graph takes ``frames`` (uint8 [N,H,W,3] RGB, any N/H/W) and returns ``labels`` (uint8 [N,H,W]);
cast, normalisation, layout change, padding to a multiple of 32, cropping and argmax all live inside:
it is :class:`~roadseg.model.predict.FramesToLabels` traced.

Example:
    >>> from roadseg.model import UNetResNet34
    >>> export_onnx(UNetResNet34(11).eval(), "model.onnx")   # doctest: +SKIP
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from roadseg.classes import CAMVID_SIZE
from roadseg.contract import INPUT, OUTPUT, contract_metadata, set_metadata
from roadseg.model.predict import FramesToLabels

#: Shape traced at export; verification runs at a different one on purpose.
TRACE_SHAPE = (1, 64, 96, 3)


def store_weights_fp16(model: onnx.ModelProto, min_elements: int = 1024) -> onnx.ModelProto:
    """Store large float32 initializers as float16 behind a Cast: half the file, fp32 compute.

    onnxruntime folds the casts when the session loads, so inference speed is unchanged; the
    rounding of the weights is what :func:`roadseg.export.verify.verify_parity` then checks.
    """
    graph = model.graph
    casts = []
    for init in graph.initializer:
        if init.data_type != TensorProto.FLOAT:
            continue
        arr = numpy_helper.to_array(init)
        if arr.size < min_elements:
            continue
        name = init.name
        init.CopyFrom(numpy_helper.from_array(arr.astype(np.float16), f"{name}__fp16"))
        casts.append(helper.make_node("Cast", [f"{name}__fp16"], [name], to=TensorProto.FLOAT))
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    return model


def count_macs(net: nn.Module, size: tuple[int, int]) -> int:
    """Multiply-accumulates of one forward pass at ``size`` (convolutions; the rest is noise)."""
    total = 0

    def hook(module: nn.Conv2d, _inputs, output: torch.Tensor) -> None:
        nonlocal total
        k = module.kernel_size[0] * module.kernel_size[1]
        total += output.numel() * (module.in_channels // module.groups) * k

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.no_grad():
            net.eval()(torch.zeros(1, 3, *size))
    finally:
        for h in handles:
            h.remove()
    return total


def export_onnx(
    net: nn.Module,
    path: str | Path,
    *,
    input_size: tuple[int, int] = CAMVID_SIZE,
    metadata: dict | None = None,
    fp16_weights: bool = False,
    half: bool = False,
    opset: int = 17,
) -> Path:
    """Trace ``net`` inside :class:`~roadseg.model.predict.FramesToLabels` and write a single-file ONNX model.

    The normalisation is folded into the first conv where the network allows it (``fold=True``).

    ``fp16_weights`` stores fp32 weights as fp16 (smaller file, fp32 compute); ``half`` makes the
    network compute in fp16 (the GPU variant; ``net`` itself is left in fp32).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model_net = copy.deepcopy(net).eval().half() if half else net.eval().float()
    graph = FramesToLabels(model_net, half=half, fold=True).eval()
    dummy = torch.randint(0, 256, TRACE_SHAPE, dtype=torch.uint8)
    axes = {INPUT: {0: "N", 1: "H", 2: "W"}, OUTPUT: {0: "N", 1: "H", 2: "W"}}
    # The TorchScript exporter (dynamo=False) handles the data-dependent padding with dynamic H/W;
    # torch.export rejects it today ("Invalid ranges"), so we keep it and silence its deprecation note.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        # a replicate-padded conv exports as Slice ops the exporter cannot fold; harmless, and not the user's concern
        warnings.filterwarnings("ignore", "Constant folding - Only steps=1", UserWarning)
        torch.onnx.export(graph, (dummy,), str(path), input_names=[INPUT], output_names=[OUTPUT],
                          dynamic_axes=axes, opset_version=opset, dynamo=False, do_constant_folding=True)  # fmt: skip
    model = onnx.load(str(path))
    if fp16_weights:
        store_weights_fp16(model)
    config = getattr(net, "config", None)  # lets roadseg.model.unfold rebuild a trainable net from the file
    meta = {"architecture": "unet-resnet34", **({"model_config": config} if config else {}),
            "normalisation_folded": graph.folded,
            **({"precision": "fp16"} if half else {}), **(metadata or {})}  # fmt: skip
    set_metadata(model, contract_metadata(input_size, **meta))
    onnx.save(model, str(path))
    return path
