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
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from roadseg.classes import CAMVID_SIZE, CLASSES, NUM_CLASSES
from roadseg.contract import INPUT, OUTPUT, contract_metadata, set_metadata
from roadseg.errors import ModelError
from roadseg.model.predict import FramesToLabels
from roadseg.model.unet import UNetResNet34

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


def class_count(net: nn.Module) -> int:
    """How many classes ``net`` scores: its config's ``num_classes``, else the channels of its output on a frame."""
    config = getattr(net, "config", None) or {}
    if "num_classes" in config:
        return int(config["num_classes"])
    with torch.no_grad():
        return int(net.eval()(torch.zeros(1, 3, *TRACE_SHAPE[1:3])).shape[1])


def class_metadata(net: nn.Module, classes: Sequence[str] | None = None,
                   palette: Sequence[Sequence[int]] | None = None) -> dict:  # fmt: skip
    """The ``classes`` (and ``palette``) a file of ``net`` says: CamVid's where no names are given and it scores
    CamVid's 11; else the names given, one a class it scores, and their colours where given
    (:func:`~roadseg.contract.contract_metadata` gives classes of their own colours of their own and a void
    after the last). A one-line :class:`ModelError` where they do not fit the network.

    Example:
        >>> class_metadata(torch.nn.Conv2d(3, 2, 1), ["road", "car"])
        {'classes': ['road', 'car']}
    """
    count = class_count(net)
    if classes is None and count != NUM_CLASSES:
        raise ModelError(f"the network scores {count} classes, not CamVid's {NUM_CLASSES}: name them (export --classes "
                         "NAME,NAME,...; export_onnx(..., classes=[...]))")  # fmt: skip
    names = list(CLASSES if classes is None else classes)
    if len(names) != count or not all(names):
        given = f"{len(names)} name{'s' * (len(names) != 1)} were given" if all(names) else "a name was empty"
        raise ModelError(f"the network scores {count} classes, but {given} (--classes): one a class, in the order "
                         "of its scores")  # fmt: skip
    if palette is not None and len(palette) != count:
        raise ModelError(f"{len(palette)} colour{'s' * (len(palette) != 1)} for {count} classes (--palette): one a "
                         "class, in the order of --classes")  # fmt: skip
    return {"classes": names, **({"palette": [list(c) for c in palette]} if palette is not None else {})}


def export_onnx(
    net: nn.Module,
    path: str | Path,
    *,
    input_size: tuple[int, int] = CAMVID_SIZE,
    classes: Sequence[str] | None = None,
    palette: Sequence[Sequence[int]] | None = None,
    metadata: dict | None = None,
    fp16_weights: bool = False,
    half: bool = False,
    opset: int = 17,
) -> Path:
    """Trace ``net`` inside :class:`~roadseg.model.predict.FramesToLabels` and write a single-file ONNX model.

    ``net`` is any network from normalised float NCHW to class scores [N,C,H,W] at the input's size (a U-Net
    of roadseg's pads to what it needs and crops back inside). ``classes`` and ``palette`` name and colour its C
    classes (:func:`class_metadata`: CamVid's by default; a network of other classes without names is refused
    before any work). The normalisation is folded into the first conv where the network allows it (``fold=True``).

    ``fp16_weights`` stores fp32 weights as fp16 (smaller file, fp32 compute); ``half`` makes the
    network compute in fp16 (the GPU variant; ``net`` itself is left in fp32).
    """
    named = class_metadata(net, classes, palette)
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
    meta = {**named, **({"architecture": "unet-resnet34"} if isinstance(net, UNetResNet34) else {}),
            **({"model_config": config} if config else {}),
            "normalisation_folded": graph.folded,
            **({"precision": "fp16"} if half else {}), **(metadata or {})}  # fmt: skip
    set_metadata(model, contract_metadata(input_size, **meta))
    onnx.save(model, str(path))
    return path
