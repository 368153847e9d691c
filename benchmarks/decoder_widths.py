"""Decoder widths and the cost of each block of the U-Net-ResNet34 at 360x480, on this machine.

Speed does not depend on the weights, so every variant is a freshly initialised network, exported
through ``roadseg.export.export_onnx`` (the contract graph) and quantized through
``roadseg.export.quantize.quantize_int8`` exactly as a release does, calibrated on 8 CamVid frames.
Model-only latency (one frame, 360x480) of all variants is measured interleaved, so machine drift
hits every variant alike; ratios are against the first variant. Then one INT8 onnxruntime profile
per variant gives milliseconds per block (stem, encoder layers, decoder blocks, head, pre/post).

    python benchmarks/decoder_widths.py --data ../shared/camvid --repeats 20 --out benchmarks/results/decoder_widths.json

Accuracy is not measured here (that needs training runs: ``models/MODEL_CARD.md``).
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

#: name -> UNetResNet34 keyword arguments. The first is the baseline (the model shipped before issue 9).
VARIANTS: dict[str, dict] = {
    "256-128-64-32-16, zero-pad stem": {"decoder_channels": (256, 128, 64, 32, 16), "stem_padding": "zeros"},
    "256-128-64-32-16, folded stem": {"decoder_channels": (256, 128, 64, 32, 16), "stem_padding": "replicate"},
    "256-128-64-32 (head at 1/2), folded": {"decoder_channels": (256, 128, 64, 32), "stem_padding": "replicate"},
    "128-64-48-32 (head at 1/2), folded": {"decoder_channels": (128, 64, 48, 32), "stem_padding": "replicate"},
    "128-64-32-16 (head at 1/2), folded": {"decoder_channels": (128, 64, 32, 16), "stem_padding": "replicate"},
    "64-48-32-16 (head at 1/2), folded": {"decoder_channels": (64, 48, 32, 16), "stem_padding": "replicate"},
}

#: Profile node names -> block, first match wins.
BLOCKS = [
    ("pre (cast, normalise, pad)", r"^/(pre|Cast|Transpose|net/Pad|net/Mod|net/Sub)|/net/encoder/conv1/Pad|^frames"),
    ("stem (conv1 7x7 + maxpool)", r"/net/encoder/(conv1|bn1|relu|maxpool)"),
    *[(f"encoder layer{i}", rf"/net/encoder/layer{i}/") for i in range(1, 5)],
    *[(f"decoder block {i}", rf"/net/decoder\.{i}/") for i in range(5)],
    ("head + upsample", r"/net/(head|dropout|Resize|Slice)"),
    ("argmax + cast", r"^/(ArgMax|Cast_1)|ArgMax"),
]


def session(path: Path, profile: bool = False) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if profile:
        so.enable_profiling = True
        so.profile_file_prefix = str(path.with_suffix(""))
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def block_of(node: str) -> str:
    for name, pattern in BLOCKS:
        if re.search(pattern, node):
            return name
    return "other"


def profile_blocks(path: Path, frame: np.ndarray, runs: int = 10) -> dict[str, float]:
    """Milliseconds per frame spent in each block (kernel time, onnxruntime profiler)."""
    s = session(path, profile=True)
    for _ in range(runs):
        s.run(["labels"], {"frames": frame})
    events = json.loads(Path(s.end_profiling()).read_text())
    per = collections.defaultdict(float)
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            per[block_of(e["name"].removesuffix("_kernel_time"))] += e["dur"] / 1000 / runs
    return {k: round(v, 2) for k, v in sorted(per.items(), key=lambda kv: -kv[1])}


def main() -> None:
    import torch

    from roadseg.export.onnx import count_macs, export_onnx
    from roadseg.export.quantize import load_calibration_frames, quantize_int8
    from roadseg.model import UNetResNet34
    from roadseg.tools.info import collect
    from roadseg.tools.report import machine_line

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="../shared/camvid")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--out", default="benchmarks/results/decoder_widths.json")
    args = ap.parse_args()
    print(machine_line() + "; onnxruntime threads: its default (one per physical core)", flush=True)

    calib = load_calibration_frames(args.data, count=8)
    frame = calib[:1].copy()
    tmp = Path(tempfile.mkdtemp())
    rows = {}
    for i, (name, kw) in enumerate(VARIANTS.items()):
        torch.manual_seed(0)
        net = UNetResNet34(11, **kw).eval()
        fp32 = export_onnx(net, tmp / f"{i}.onnx")
        int8 = quantize_int8(fp32, tmp / f"{i}-int8.onnx", calib)
        rows[name] = {"config": {k: list(v) if isinstance(v, tuple) else v for k, v in kw.items()},
                      "gmac": round(count_macs(net, (360, 480)) / 1e9, 2), "fp32": fp32, "int8": int8}  # fmt: skip
        print(f"exported {name}", flush=True)
    sessions = {n: {p: session(r[p]) for p in ("fp32", "int8")} for n, r in rows.items()}
    times = {n: {"fp32": [], "int8": []} for n in rows}
    for s in sessions.values():  # warm-up
        for p in s.values():
            p.run(["labels"], {"frames": frame})
    for _ in range(args.repeats):
        for n, s in sessions.items():  # interleaved
            for p, sess in s.items():
                t0 = time.perf_counter()
                sess.run(["labels"], {"frames": frame})
                times[n][p].append(1000 * (time.perf_counter() - t0))
    base = statistics.median(times[next(iter(rows))]["int8"])
    print(f"\nmedians of {args.repeats} rounds, each variant in turn; spread: slowest INT8 run / fastest")
    print("\n| decoder | GMAC | INT8 ms | INT8 speed-up | INT8 spread | fp32 ms |\n|---|---|---|---|---|---|")
    for n, r in rows.items():
        r["int8_ms"] = round(statistics.median(times[n]["int8"]), 1)
        r["fp32_ms"] = round(statistics.median(times[n]["fp32"]), 1)
        r["int8_speedup"] = round(base / r["int8_ms"], 2)
        r["int8_runs_ms"] = [round(t, 2) for t in times[n]["int8"]]
        r["int8_spread"] = round(max(times[n]["int8"]) / min(times[n]["int8"]), 3)
        r["int8_blocks_ms"] = profile_blocks(r["int8"], frame)
        print(f"| {n} | {r['gmac']} | {r['int8_ms']} | {r['int8_speedup']}x | {r['int8_spread']:.2f}x | {r['fp32_ms']} |")
        r.pop("fp32"), r.pop("int8")
    for n, r in rows.items():
        print(f"\n{n}: " + ", ".join(f"{k} {v}" for k, v in r["int8_blocks_ms"].items()))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"repeats": args.repeats, "size": [360, 480], "machine": collect(),
                                          "variants": rows}, indent=1))  # fmt: skip
    shutil.rmtree(tmp, ignore_errors=True)  # (the exported variants and their profiles)


if __name__ == "__main__":
    main()
