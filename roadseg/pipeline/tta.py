"""Flip test-time augmentation (``--tta``) as a rewrite of a contract model's graph.

The rewritten model still obeys the contract (``frames`` uint8 [N,H,W,3] -> ``labels`` uint8 [N,H,W]);
inside, it runs the network on the frames and on their mirror images in one batch of 2N, mirrors the
second half's class scores back and adds the two before the argmax. Each picture costs two passes
of the network. On the sixth release (INT8, CamVid val) it scored +0.7 mIoU as the frames are and
+1.3 on average under ``benchmarks/photometric_shift.py``'s four shifts (dusk +2.0, soft + noisy +2.2),
where the model is least sure of itself. Any contract model whose labels are ``Cast(ArgMax(scores,
axis=1))`` of class scores [N,C,H,W] can be rewritten; the shipped models are.

Example:
    >>> from roadseg.contract import read_onnx
    >>> model = flip_tta(read_onnx("models/unet-r34-camvid-int8.onnx"), "int8")   # doctest: +SKIP
"""

from __future__ import annotations

import json
from typing import Any

from roadseg import contract
from roadseg.errors import ModelError

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_PREFIX = "roadseg_tta/"


def _scores_argmax(graph: Any, name: str) -> Any:
    """The ArgMax node whose result, through Casts only, is the graph's ``labels``; ModelError if none."""
    producers = {out: node for node in graph.node for out in node.output}
    node = producers.get(contract.OUTPUT)
    while node is not None and node.op_type == "Cast":
        node = producers.get(node.input[0])
    if node is None or node.op_type != "ArgMax":
        raise ModelError(f"{name}: --tta needs labels computed as the argmax of class scores; this model's are not")
    attrs = {a.name: a.i for a in node.attribute}
    if attrs.get("axis", 0) not in (1, -3) or attrs.get("keepdims", 1) != 0 or attrs.get("select_last_index", 0):
        raise ModelError(f"{name}: --tta needs an argmax over axis 1 of [N,C,H,W] class scores; this model's is not")
    return node


def flip_tta(model: Any, name: str = "model") -> Any:
    """``model`` (an ``onnx.ModelProto`` obeying the contract) rewritten to average each frame's class
    scores with those of its mirror image; changed in place and returned. :class:`ModelError` (one line)
    if its labels do not come from an argmax of class scores or its opset is below 11."""
    import numpy as np
    from onnx import helper, numpy_helper

    graph = model.graph
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < 11:
        raise ModelError(f"{name}: --tta needs ONNX opset 11 or later, this model has {opset}")
    if any(n.name.startswith(_PREFIX) for n in graph.node):
        raise ModelError(f"{name}: already rewritten for --tta")
    argmax = _scores_argmax(graph, name)
    p = _PREFIX
    both, scores = p + "frames2", argmax.input[0]
    for node in graph.node:  # the network now reads the frames and their mirror images
        node.input[:] = [both if i == contract.INPUT else i for i in node.input]

    def const(key: str, values: list[int]) -> str:
        graph.initializer.append(numpy_helper.from_array(np.array(values, np.int64), p + key))
        return p + key

    zero, one, neg1, step = const("zero", [0]), const("one", [1]), const("neg1", [-1]), const("step", [-1])
    lo, hi = const("min", [INT64_MIN]), const("max", [INT64_MAX])
    w_in, w_out, batch_axis = const("w_in", [2]), const("w_out", [3]), const("batch_axis", [0])  # (NHWC in, NCHW out)
    head = [
        helper.make_node("Slice", [contract.INPUT, neg1, lo, w_in, step], [p + "mirror"], name=p + "mirror"),
        helper.make_node("Concat", [contract.INPUT, p + "mirror"], [both], axis=0, name=p + "concat"),
    ]
    tail = [
        helper.make_node("Shape", [contract.INPUT], [p + "shape"], name=p + "shape"),
        helper.make_node("Slice", [p + "shape", zero, one], [p + "n"], name=p + "n"),
        helper.make_node("Slice", [scores, zero, p + "n", batch_axis], [p + "plain"], name=p + "plain"),
        helper.make_node("Slice", [scores, p + "n", hi, batch_axis], [p + "mirrored"], name=p + "mirrored"),
        helper.make_node("Slice", [p + "mirrored", neg1, lo, w_out, step], [p + "unmirrored"], name=p + "unmirror"),
        helper.make_node("Add", [p + "plain", p + "unmirrored"], [p + "scores"], name=p + "sum"),
    ]
    argmax.input[0] = p + "scores"
    nodes = list(graph.node)
    at = nodes.index(argmax)
    del graph.node[:]
    graph.node.extend(head + nodes[:at] + tail + nodes[at:])
    meta = {m.key: m.value for m in model.metadata_props}
    extra = {"tta": json.dumps("flip")}
    if "macs" in meta:
        try:
            extra["macs"] = json.dumps(2 * int(json.loads(meta["macs"])))
        except (TypeError, ValueError):
            pass
    contract.set_metadata(model, extra)
    return model
