"""What ``roadseg bench`` shows of its result (:func:`~roadseg.tools.bench.run_bench`): the side-by-side table
(:func:`format_table`: when, on what machine and threads, each row's median and spread, the ratios, and the
warnings of :func:`warnings_of`: runs too few or too short, rows whose runs differ by more than :data:`SPREAD`) and a
bar chart of frames/s (:func:`draw_chart`).

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

from roadseg.tools.bench_timing import load_average

SPREAD = 1.3  # runs of one row further apart than this (fastest / slowest): the machine was busy
MIN_SECONDS = 1.0  # a timed run shorter than this is start-up and flush as much as frames
MIN_REPEATS = 3  # fewer timed runs show no spread, and their median is a sample

WHAT = ("model-only: session.run on frames already at the size (no decode, resize, overlay or encode); frames/s and "
        "ms/frame: medians of the timed runs; spread: fastest run / slowest\nnaive loop (one stage at a time) and "
        "pipeline (threaded): decode -> resize -> infer -> overlay -> encode at the input's size, from the first frame "
        "decoded to the output closed (not opening them)")  # fmt: skip


def format_table(result: dict) -> str:
    """The result as text: what was timed, when and where; a row per measurement; ratios; warnings."""
    head = (f"{'what':<26} {'prec':<8} {'dev':<5} {'size':<9} {'batch':>5} {'frames/s':>9} {'ms/frame':>9} "
            f"{'spread':>7}")  # fmt: skip
    lines = [f"{result['frames']} frames of {result['video']} ({result['video_info']['width']}x"
             f"{result['video_info']['height']}), median of {result['repeats']} timed runs after a warm-up"
             + (f"; {result['when']}" if result.get("when") else ""), machine_line(result), head, "-" * len(head)]  # fmt: skip
    lines = [line for line in lines if line]
    for r in result["rows"]:
        spread = f"{r['spread']:.2f}x" if len(r.get("runs", ())) > 1 else "-"
        lines.append(f"{r['what']:<26} {r['precision']:<8} {r['device']:<5} {r['size']:<9} {r['batch']:>5} "
                     f"{r['fps']:>9.2f} {r['ms_per_frame']:>9.2f} {spread:>7}")  # fmt: skip
    lines.append(WHAT)
    pipe = next(r for r in result["rows"] if r["what"] == "segment-video pipeline")
    lines.append("pipeline stages (ms/frame, last run): " + ", ".join(f"{k} {v}" for k, v in pipe["stages_ms"].items()))
    fl = result.get("floor", {})
    pk = fl.get("peak", {})
    if pk:
        lines.append(f"machine peak (onnxruntime matmul): fp32 {pk['fp32_gflops']} GFLOP/s, int8 {pk['int8_gops']} GOP/s")
    for prec, f in fl.items():
        if prec != "peak":
            lines.append(f"floor {prec}: {f['gmacs_per_frame']} GMAC/frame, {f['achieved_gops']} GOP/s achieved "
                         f"= {100 * f['fraction_of_peak']:.0f}% of peak ({f['at']})")  # fmt: skip
    ra = result["ratios"]
    rounds = len(result.get("interleaved", {}).get("rounds", ()))
    lines.append(f"pipeline / model-only {ra['pipeline_over_model']:.2f}x   pipeline / naive loop "
                 f"{ra['pipeline_over_naive']:.2f}x" + (f" (each the median of {rounds} rounds that timed them in turn)"
                                                         if rounds else ""))  # fmt: skip
    if "model_over_baseline" in ra:
        lines.append(f"model-only default / baseline {ra['model_over_baseline']:.2f}x (batch 1, working size, "
                     f"timed in turn, median of {result['repeats']} rounds)")  # fmt: skip
    return "\n".join(lines + [f"warning: {w}" for w in warnings_of(result)])


def warnings_of(result: dict) -> list[str]:
    """What makes the figures of ``result`` doubtful: too few runs, runs too short, runs far apart (a busy
    machine), a machine not idle as the run began, fewer frames than asked or than the others, rows of a batch run
    frame by frame (a model of batch 1), a model above the measured peak.

    >>> warnings_of({"frames": 60, "repeats": 3, "rows": [{"what": "w", "precision": "int8", "size": "9x9", "batch": 1,
    ...              "runs": [9.0, 9.1, 9.2], "spread": 1.02, "frames": 60, "seconds": 2.1}], "floor": {}})
    []
    """
    out, rows, frames = [], result["rows"], result["frames"]
    asked = result.get("settings", {}).get("frames", frames)
    if result["repeats"] < MIN_REPEATS:
        out.append(f"{result['repeats']} timed run{'s' if result['repeats'] > 1 else ''} per row: no spread measured, "
                   f"and a median of so few is a sample; use --repeats {MIN_REPEATS} or more")  # fmt: skip
    short = [r for r in rows if r.get("seconds", MIN_SECONDS) < MIN_SECONDS]
    if short:
        worst = min(short, key=lambda r: r["seconds"])
        out.append(f"the timed runs last under {MIN_SECONDS:g} s in {len(short)} row(s) (shortest: {worst['seconds']} s, "
                   f"{_name(worst)}): start-up and flush weigh in; raise --frames")  # fmt: skip
    busy = [r for r in rows if r.get("spread", 1.0) > SPREAD]
    if busy:
        worst = max(busy, key=lambda r: r["spread"])
        out.append(f"the runs of {len(busy)} row(s) differ by up to {worst['spread']:.2f}x ({_name(worst)}): the "
                   "machine was busy; rerun with more --repeats before trusting the ratios")  # fmt: skip
    if said := _load_said(result):
        out.append(said)
    if frames < asked:
        out.append(f"{asked} frames asked, the clip gave {frames}")
    fewer = [r for r in rows if r.get("frames", frames) < frames - frames % r["batch"]]
    if fewer:
        out.append("fewer frames timed than read in " + ", ".join(f"{_name(r)} ({r['frames']})" for r in fewer))
    if one := [r for r in rows if r.get("one_at_a_time")]:
        out.append(f"the model takes one frame at a time: {', '.join(map(_name, one))} ran their batches frame by frame")
    for prec, f in result.get("floor", {}).items():
        if prec != "peak" and f["fraction_of_peak"] > 1:
            out.append(f"{prec} ran above the measured peak ({100 * f['fraction_of_peak']:.0f}%): the peak read low "
                       "(a busy machine, or kernels faster than onnxruntime's matmul), so the floor means little")  # fmt: skip
    return out


def _load_said(result: dict) -> str | None:
    """The warning of a machine not idle as the run began: its load average (the machine's, a container's host's
    too) against the machine's CPUs, like with like (was: against those this process may use, ``cpus_usable``: under
    ``taskset -c 0`` on 8 cores a load of 1 on the other 7 warned, said 'on 1 CPU'), the process's said beside them
    where fewer; None where it was idle. A result without the machine's (an older one): its usable CPUs.

    >>> _load_said({"load_average": [3.1, 2.0], "cpus_usable": 1, "machine": {"cpu": {"cores": 2}}}).split(":")[0]
    "the load average was 3.1 on 2 CPUs as the run began (the machine's; this process may use 1 of them)"
    >>> _load_said({"load_average": [1.0, 1.0], "cpus_usable": 1, "machine": {"cpu": {"cores": 8}}}) is None
    True
    """
    load, usable = result.get("load_average"), result.get("cpus_usable", 1)
    cpus = (result.get("machine") or {}).get("cpu", {}).get("cores") or usable
    if not load or load[0] < max(0.5, cpus / 4):
        return None
    mine = f"; this process may use {usable} of them" if usable < cpus else ""
    return (f"the load average was {load[0]} on {_cpus(cpus)} as the run began (the machine's{mine}): other work "
            "shared the machine (compare the ratios, each from rounds timed in turn, not frames/s)")  # fmt: skip


def _cpus(n: int) -> str:
    """``n`` CPUs, as said: '1 CPU', '2 CPUs'.

    >>> _cpus(1), _cpus(2)
    ('1 CPU', '2 CPUs')
    """
    return f"{n} CPU" + ("" if n == 1 else "s")


def _name(r: dict) -> str:
    return f"{r['what']} {r['precision']} {r['size']} b{r['batch']}"


def machine_line(result: dict | None = None) -> str:
    """One line: CPU, usable CPUs, features, library versions, threads and load average of ``result`` (a bench's,
    where it has them: older ones do not), or of this machine now (what the scripts in ``benchmarks/`` print first).

    >>> machine_line().startswith("machine: ")
    True
    """
    if result is None:
        from roadseg.tools.info import collect

        machine = collect()
        result = {"machine": machine, "cpus_usable": machine["cpu"]["usable"], "load_average": [load_average()], "rows": []}
    m = result.get("machine")
    if not m:
        return ""
    cpu, libs = m["cpu"], m.get("libraries", {})
    ort = next((f"{k} {v}" for k, v in libs.items() if k.startswith("onnxruntime")), "onnxruntime ?")
    features = " ".join(k for k, v in cpu.get("features", {}).items() if v) or "no AVX2"
    torch = next((f", torch {r['threads']}" for r in result["rows"] if "threads" in r), "")
    threads = f"; threads: onnxruntime {result['threads']['onnxruntime']}{torch}" if "threads" in result else ""
    load = result.get("load_average") or []
    said = {0: "", 1: f"; load average {load[0]} now", 2: f"; load average {load[0]} at the start, {load[-1]} at the end"}
    return (f"machine: {cpu['model']}, {_cpus(result.get('cpus_usable', cpu['cores']))} usable of {cpu['cores']} "
            f"({features}); {ort}, roadseg {libs.get('roadseg', '?')}{threads}{said[min(len(load), 2)]}")  # fmt: skip


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
