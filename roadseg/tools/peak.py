"""How close the model comes to the machine: onnxruntime's measured matrix-multiply peak (fp32 and
int8) and the fraction of it that a model's model-only speed reaches. ``roadseg bench`` reports both.

Example:
    >>> machine_peak(sizes=(256,), repeats=2)["fp32_gflops"] > 0
    True
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from roadseg.pipeline.session import OnnxSegmenter, intra_op_threads


def _matmul_model(int8: bool, n: int):
    from onnx import TensorProto, helper

    a_type, b_type = (TensorProto.UINT8, TensorProto.INT8) if int8 else (TensorProto.FLOAT, TensorProto.FLOAT)
    op = "MatMulInteger" if int8 else "MatMul"
    graph = helper.make_graph([helper.make_node(op, ["a", "b"], ["c"])], "mm",
                              [helper.make_tensor_value_info("a", a_type, [n, n]),
                               helper.make_tensor_value_info("b", b_type, [n, n])],
                              [helper.make_tensor_value_info("c", TensorProto.INT32 if int8 else TensorProto.FLOAT,
                                                             [n, n])])  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def machine_peak(sizes: tuple[int, ...] = (768, 1536), repeats: int = 5, threads: int = 0) -> dict:
    """This machine's matrix-multiply peak through onnxruntime's own kernels (MLAS): the fastest of
    ``repeats`` runs at each of ``sizes``, with ``threads`` intra-op threads (0: one per core, as a run's). A peak is a
    best case: a median of one size read 10-25 % low on a 2-core AVX2 CPU, and the models then seemed to beat it."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = intra_op_threads(threads)  # (0, its default, pinned threads past the affinity)

    out = {}
    rng = np.random.default_rng(0)
    for name, int8 in (("fp32_gflops", False), ("int8_gops", True)):
        best = 0.0
        for n in sizes:
            sess = ort.InferenceSession(_matmul_model(int8, n), opts, providers=["CPUExecutionProvider"])
            if int8:
                feeds = {"a": rng.integers(0, 255, (n, n), dtype=np.uint8),
                         "b": rng.integers(-127, 127, (n, n), dtype=np.int8)}  # fmt: skip
            else:
                feeds = {"a": rng.standard_normal((n, n), dtype=np.float32),
                         "b": rng.standard_normal((n, n), dtype=np.float32)}  # fmt: skip
            sess.run(None, feeds)
            for _ in range(repeats):
                t0 = time.perf_counter()
                sess.run(None, feeds)
                best = max(best, 2 * n**3 / (time.perf_counter() - t0) / 1e9)
        out[name] = round(best, 1)
    return out


def macs_at(model: OnnxSegmenter, size: tuple[int, int]) -> int | None:
    """The multiply-accumulates of one frame run at ``size`` (height, width) by ``model``, whose metadata ``macs`` were
    counted at its ``input_size``: scaled by the pixels (a convolutional network's grow with them: 320x544 has 1.007x
    360x480's), not where its network is fixed at a size inside (every frame is resized to it); None where unknown."""
    macs = model.metadata.get("macs")
    if not isinstance(macs, int) or macs <= 0:
        return None
    if model.fixed_size:
        return macs
    (h, w), (ih, iw) = size, model.input_size
    return round(macs * h * w / (ih * iw))


def floor(rows: list[dict], models: dict[str, Path], peak: dict, working: tuple[int, int]) -> dict:
    """Model-only speed at the ``working`` size (height, width) against the machine's peak: how much of it the model
    uses, with its MACs at that size (:func:`macs_at`)."""
    out = {"peak": peak}
    at = f"{working[0]}x{working[1]}"
    for precision, path in models.items():
        model = OnnxSegmenter(path, providers="cpu")  # one session per model, for its metadata
        meta, macs = model.metadata, macs_at(model, working)
        candidates = [r for r in rows if r["what"] == "onnxruntime model-only" and r["precision"] == precision
                      and r["device"] == "cpu" and r["size"] == at]  # fmt: skip
        if not macs or not candidates:
            continue
        best = max(candidates, key=lambda r: r["fps"])
        achieved = 2 * macs * best["fps"] / 1e9
        int8 = "int8" in precision or "int8" in str(meta.get("precision", ""))
        ceiling = peak["int8_gops"] if int8 else peak["fp32_gflops"]
        out[precision] = {"gmacs_per_frame": round(macs / 1e9, 2), "achieved_gops": round(achieved, 1),
                          "fraction_of_peak": round(achieved / ceiling, 3), "at": f"{best['size']} batch {best['batch']}"}  # fmt: skip
    return out
