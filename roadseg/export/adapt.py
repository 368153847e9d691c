"""Bring an ONNX model made elsewhere under the roadseg contract (:mod:`roadseg.contract`), without torch.

A segmentation network exported by another tool usually takes float NCHW pixels, normalised its own way, and
returns class scores [N,C,H,W] (or labels [N,H,W], often int64), sometimes at a fixed size. :func:`adapt_onnx`
wraps its graph: ``frames`` (uint8 [N,H,W,3] RGB) are cast, laid out NCHW, scaled and normalised (and resized
to its fixed size, where it has one), and its scores are resized back to the frame (where needed) and
argmaxed into ``labels`` (uint8 [N,H,W]); the metadata gets the classes, their colours and the working size.

Example:
    >>> adapt_onnx("theirs.onnx", "mine.onnx", classes=["road", "car", "person"],
    ...            mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from roadseg.classes import CAMVID_SIZE
from roadseg.contract import INPUT, OUTPUT, contract_metadata, read_onnx, set_metadata
from roadseg.errors import ModelError

#: the start of the names of what the wrapper adds (no network's own): ``roadseg info`` finds its parts by it
PREFIX = "roadseg_adapt_"


def _dims(value_info: Any) -> list[int | None]:
    """A graph input's or output's dimensions: an int where fixed, None where not."""
    return [d.dim_value if d.HasField("dim_value") else None for d in value_info.type.tensor_type.shape.dim]


class _Wrap:
    """The nodes and constants that :func:`adapt_onnx` puts around a graph, named apart from its own."""

    def __init__(self, graph: Any) -> None:
        from onnx import TensorProto, helper

        self.graph, self.T, self.node = graph, TensorProto, helper.make_node
        self.tensor = helper.make_tensor

    def const(self, name: str, values: Sequence[float], dtype: int | None = None, dims: Sequence[int] = (1, 3, 1, 1)) -> str:
        self.graph.initializer.append(self.tensor(PREFIX + name, dtype or self.T.FLOAT, list(dims), list(values)))
        return PREFIX + name

    def dims(self, tensor: str, start: int, end: int, name: str) -> list:
        """Nodes that give ``tensor``'s dimensions start..end as ``name`` (Shape and Slice: opset 13 has no Shape(start=))."""
        bounds = [self.const(f"{name}_{b}", [v], self.T.INT64, [1]) for b, v in (("from", start), ("to", end))]
        return [self.node("Shape", [tensor], [PREFIX + name + "_all"]), self.node("Slice", [PREFIX + name + "_all", *bounds], [PREFIX + name])]

    def pre(self, into: Any, size: tuple | None, mean: list[float], std: list[float], bgr: bool) -> list:
        """``frames`` (uint8 NHWC RGB) -> ``into`` (float NCHW, normalised, at ``size`` where it is fixed)."""
        order = [2, 1, 0] if bgr else [0, 1, 2]
        nodes = [self.node("Cast", [INPUT], [PREFIX + "f"], to=self.T.FLOAT),
                 self.node("Transpose", [PREFIX + "f"], [PREFIX + "nchw"], perm=[0, 3, 1, 2]),
                 self.node("Gather", [PREFIX + "nchw", self.const("order", order, self.T.INT64, [3])], [PREFIX + "ordered"], axis=1),
                 self.node("Sub", [PREFIX + "ordered", self.const("mean", [mean[i] for i in order])], [PREFIX + "centred"]),
                 self.node("Div", [PREFIX + "centred", self.const("std", [std[i] for i in order])], [PREFIX + "x"])]  # fmt: skip
        x = PREFIX + "x"
        if size:
            nodes += [*self.dims(x, 0, 2, "xshape"),
                      self.node("Concat", [PREFIX + "xshape", self.const("size", size, self.T.INT64, [2])], [PREFIX + "sizes"], axis=0),
                      self.node("Resize", [x, "", "", PREFIX + "sizes"], [PREFIX + "sized"], mode="linear")]  # fmt: skip
            x = PREFIX + "sized"
        return [*nodes, self.node("Cast", [x], [into.name], to=into.type.tensor_type.elem_type)]

    def post(self, scores: str, labels: bool, size: tuple | None) -> list:
        """The network's ``scores`` [N,C,h,w] (or ``labels`` [N,h,w]) -> ``labels`` (uint8 [N,H,W] at the frame's size)."""
        nodes = []
        if size:  # (back to the frame's size: the scores, so that the argmax is taken at full resolution)
            if labels:  # (as a one-channel picture)
                nodes += [self.node("Unsqueeze", [scores, self.const("one", [1], self.T.INT64, [1])], [PREFIX + "l4"]),
                          self.node("Cast", [PREFIX + "l4"], [PREFIX + "l4f"], to=self.T.FLOAT)]  # fmt: skip
                scores = PREFIX + "l4f"
            nodes += [*self.dims(scores, 0, 2, "sshape"), *self.dims(INPUT, 1, 3, "fshape"),
                      self.node("Concat", [PREFIX + "sshape", PREFIX + "fshape"], [PREFIX + "back"], axis=0),
                      self.node("Resize", [scores, "", "", PREFIX + "back"], [PREFIX + "resized"],
                                mode="nearest" if labels else "linear")]  # fmt: skip
            scores = PREFIX + "resized"
            if labels:
                nodes.append(self.node("Squeeze", [scores, PREFIX + "one"], [PREFIX + "squeezed"]))
                scores = PREFIX + "squeezed"
        if not labels:
            nodes.append(self.node("ArgMax", [scores], [PREFIX + "argmax"], axis=1, keepdims=0))
            scores = PREFIX + "argmax"
        return [*nodes, self.node("Cast", [scores], [OUTPUT], to=self.T.UINT8)]


def adapt_onnx(src: str | Path, dst: str | Path, *, classes: Sequence[str], palette: Sequence[Sequence[int]] | None = None,
               mean: Sequence[float] = (0.0, 0.0, 0.0), std: Sequence[float] = (1.0, 1.0, 1.0), scale: float = 1 / 255,
               bgr: bool = False, input_size: tuple[int, int] | None = None, ignore_index: int | None = None,
               **metadata: Any) -> Path:  # fmt: skip
    """Write ``src``'s network, wrapped to obey the contract, to ``dst``.

    Its one input [N,3,H,W] gets ``(pixel * scale - mean) / std`` per channel (``mean`` and ``std`` in RGB order;
    the channels in BGR order with ``bgr``); its first output (scores [N,C,H,W], or labels [N,H,W]) becomes
    ``labels``. Where its input's H and W are fixed, frames are resized to them (bilinear) and its scores back to
    the frame (metadata ``fixed_size``: each picture is then run at ``input_size`` whatever its aspect, not one
    fitted to it). Where its input's batch is fixed at 1, so is that of ``frames`` ([1,H,W,3]): it is run one frame
    at a time, known at load (``roadseg info --model`` says so), not found at its first batch of more. ``classes`` name its classes in the order of its scores; ``palette`` colours them (default: one
    of its own each); ``input_size`` is the working size it is run at (default: its fixed size, each frame resized
    once; else 360x480); ``ignore_index`` the label of void (default: the one after the last class); ``metadata``
    adds keys (training data, scores). A network that does not fit (several inputs, not 3 channels) is a one-line
    :class:`ModelError`.
    """
    from onnx import TensorProto, checker, helper, save

    model = read_onnx(src)
    graph = model.graph
    initialized = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initialized]
    if len(inputs) != 1 or len(_dims(inputs[0])) != 4 or _dims(inputs[0])[1] not in (3, None):
        shown = ", ".join(f"{i.name} {_dims(i)}" for i in inputs)
        raise ModelError(f"{Path(src).name}: adapt_onnx wraps a network of one float input [N,3,H,W]; it has {shown}")
    their_in, their_out = inputs[0], graph.output[0]
    if len(_dims(their_out)) not in (3, 4):
        raise ModelError(f"{Path(src).name}: its output {their_out.name} {_dims(their_out)} is neither class scores "
                         "[N,C,H,W] nor labels [N,H,W]")  # fmt: skip
    scored = _dims(their_out)[1] if len(_dims(their_out)) == 4 else None
    if scored is not None and scored != len(classes):
        raise ModelError(f"{Path(src).name} scores {scored} classes, but {len(classes)} names were given: one a class, "
                         "in the order of its scores")  # fmt: skip
    fixed = _dims(their_in)[2:]
    size = tuple(fixed) if all(fixed) else None
    wrap = _Wrap(graph)
    # (pixel * scale - mean) / std == (pixel - mean / scale) / (std / scale)
    pre = wrap.pre(their_in, size, [m / scale for m in mean], [s / scale for s in std], bgr)
    nodes = pre + list(graph.node) + wrap.post(their_out.name, len(_dims(their_out)) == 3, size)
    del graph.node[:], graph.input[:], graph.output[:]
    graph.node.extend(nodes)
    # (a network whose batch is fixed at 1 gets a frames input fixed there too: run one frame at a time, known at load)
    batch = 1 if _dims(their_in)[0] == 1 else "N"
    graph.input.append(helper.make_tensor_value_info(INPUT, TensorProto.UINT8, [batch, "H", "W", 3]))
    graph.output.append(helper.make_tensor_value_info(OUTPUT, TensorProto.UINT8, ["N", "H", "W"]))
    given = {"palette": None if palette is None else [list(c) for c in palette], "ignore_index": ignore_index}
    given |= {"fixed_size": list(size) if size else None}  # (every picture is then run at input_size, not fitted)
    set_metadata(model, contract_metadata(input_size or size or CAMVID_SIZE, classes=list(classes), **metadata,
                                          **{k: v for k, v in given.items() if v is not None}))  # fmt: skip
    checker.check_model(model)
    save(model, str(dst))
    return Path(dst)
