"""What ``roadseg bench`` shows of its result (:func:`~roadseg.tools.bench.run_bench`): the side-by-side table
(:func:`format_table`, rows whose runs differ by more than :data:`SPREAD` named: a busy machine) and a bar chart of
frames/s (:func:`draw_chart`).

Example:
    >>> row = {"what": "segment-video pipeline", "precision": "int8", "device": "cpu", "size": "96x128", "batch": 1,
    ...        "fps": 50.0, "ms_per_frame": 20.0, "spread": 1.1, "stages_ms": {"infer": 15.0}}
    >>> result = {"frames": 6, "video": "v.mp4", "video_info": {"width": 128, "height": 96}, "repeats": 3,
    ...           "rows": [row], "ratios": {"pipeline_over_model": 0.9, "pipeline_over_naive": 2.0}}
    >>> print(format_table(result).splitlines()[-1])
    pipeline / model-only 0.90x   pipeline / naive loop 2.00x
"""

from __future__ import annotations

from pathlib import Path

SPREAD = 1.3  # runs of one row further apart than this (fastest / slowest): the machine was busy


def format_table(result: dict) -> str:
    head = f"{'what':<26} {'prec':<8} {'dev':<5} {'size':<9} {'batch':>5} {'frames/s':>9} {'ms/frame':>9}"
    lines = [f"{result['frames']} frames of {result['video']} "
             f"({result['video_info']['width']}x{result['video_info']['height']}), median of {result['repeats']}",
             head, "-" * len(head)]  # fmt: skip
    for r in result["rows"]:
        lines.append(f"{r['what']:<26} {r['precision']:<8} {r['device']:<5} {r['size']:<9} {r['batch']:>5} "
                     f"{r['fps']:>9.2f} {r['ms_per_frame']:>9.2f}")  # fmt: skip
    pipe = next(r for r in result["rows"] if r["what"] == "segment-video pipeline")
    lines.append("pipeline stages (ms/frame): " + ", ".join(f"{k} {v}" for k, v in pipe["stages_ms"].items()))
    fl = result.get("floor", {})
    pk = fl.get("peak", {})
    if pk:
        lines.append(f"machine peak (onnxruntime matmul): fp32 {pk['fp32_gflops']} GFLOP/s, int8 {pk['int8_gops']} GOP/s")
    for prec, f in fl.items():
        if prec != "peak":
            lines.append(f"floor {prec}: {f['gmacs_per_frame']} GMAC/frame, {f['achieved_gops']} GOP/s achieved "
                         f"= {100 * f['fraction_of_peak']:.0f}% of peak ({f['at']})")  # fmt: skip
    ra = result["ratios"]
    lines.append(f"pipeline / model-only {ra['pipeline_over_model']:.2f}x   pipeline / naive loop {ra['pipeline_over_naive']:.2f}x")
    if "model_over_baseline" in ra:
        lines.append(f"model-only default / baseline {ra['model_over_baseline']:.2f}x (batch 1, working size, "
                     f"timed in turn, median of {result['repeats']} rounds)")  # fmt: skip
    busy = [r for r in result["rows"] if r.get("spread", 1.0) > SPREAD]
    if busy:
        worst = max(busy, key=lambda r: r["spread"])
        lines.append(f"warning: the runs of {len(busy)} row(s) differ by up to {worst['spread']:.2f}x ({worst['what']} "
                     f"{worst['precision']} {worst['size']} b{worst['batch']}): the machine was busy; rerun with more "
                     "--repeats before trusting the ratios")  # fmt: skip
    return "\n".join(lines)


def draw_chart(result: dict, path: str | Path) -> Path | None:
    """A horizontal bar chart of frames/s (needs matplotlib, a dev extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    rows = result["rows"]
    labels = [f"{r['what']} {r['precision']} {r['device']} {r['size']} b{r['batch']}" for r in rows]
    fig, ax = plt.subplots(figsize=(9, 0.4 * len(rows) + 1.2))
    colours = ["#4c72b0" if "model-only" in r["what"] else "#dd8452" if "pipeline" in r["what"] else "#8c8c8c"
               for r in rows]  # fmt: skip
    ax.barh(range(len(rows)), [r["fps"] for r in rows], color=colours)
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("frames/s (median)")
    ax.set_title(f"roadseg on {result['machine']['cpu']['model']} ({result['machine']['cpu']['cores']} cores)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
