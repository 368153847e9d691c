"""``roadseg info``: what a user pastes into a bug report; ``info --model``: what roadseg reads from a model file.

Example:
    >>> report = collect()
    >>> "CPUExecutionProvider" in report["providers"]["available"]
    True
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def cpus_usable() -> int:
    """The CPUs this process may run on: its affinity (``taskset``, a container's cpuset), where the system has one;
    ``os.cpu_count()`` counts the machine's.

    >>> 1 <= cpus_usable() <= os.cpu_count()
    True
    """
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cpu_info() -> dict:
    """Model name (``/proc/cpuinfo``'s, whole, where there is one), the machine's CPU count (``cores``), those this
    process may use (``usable``: :func:`cpus_usable`) and the SIMD features that matter for onnxruntime's kernels."""
    flags: set[str] = set()
    name = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and not name:
                name = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    features = {
        "avx2": "avx2" in flags,
        "avx512f": "avx512f" in flags,
        "avx512_vnni": "avx512_vnni" in flags,
        "avx_vnni": "avx_vnni" in flags,
        "avx512_bf16": "avx512_bf16" in flags,
        "amx": any(f.startswith("amx") for f in flags),
    }
    name = name or platform.processor() or platform.machine()
    return {"model": name, "cores": os.cpu_count(), "usable": cpus_usable(), "features": features}


def collect() -> dict:
    """Versions, providers, CPU features and the default model, as one dict."""
    import av
    import onnxruntime as ort

    from roadseg import __version__
    from roadseg.errors import ModelError
    from roadseg.pipeline.devices import default_model_path, resolve_device
    from roadseg.pipeline.session import OnnxSegmenter, intra_op_threads

    ort_dist = "onnxruntime-gpu" if _version("onnxruntime-gpu") else "onnxruntime"
    libs = {
        "roadseg": __version__,
        "python": sys.version.split()[0],
        ort_dist: ort.__version__,
        "av (PyAV)": av.__version__,
        "ffmpeg (libavcodec)": ".".join(str(v) for v in av.library_versions.get("libavcodec", ())),
        "numpy": _version("numpy"),
        "opencv": _version("opencv-python-headless") or _version("opencv-python"),
        "torch": _version("torch"),
    }
    device = resolve_device("auto")
    report: dict = {
        "libraries": libs,
        "platform": platform.platform(),
        "cpu": cpu_info(),
        # (what a run's session gets without --threads: one a usable CPU where this process may use fewer than all;
        # None: onnxruntime's default, one per physical core)
        "threads": {"onnxruntime": intra_op_threads() or None},
        "providers": {"available": ort.get_available_providers(), "auto_device": device},
        "encoders": sorted(c for c in ("libx264", "libx265", "libsvtav1", "libvpx-vp9", "mpeg4", "h264_nvenc",
                                       "hevc_nvenc", "h264_vaapi", "h264_qsv") if c in av.codecs_available),  # fmt: skip
    }
    try:
        path = default_model_path(device)
        seg = OnnxSegmenter(path, providers="cpu")
        meta = seg.metadata
        report["default_model"] = {
            "path": str(path),
            "megabytes": round(path.stat().st_size / 1e6, 1),
            "input_size": meta.get("input_size"),
            "precision": meta.get("precision", "fp32"),
            "val_miou": meta.get("val_miou"),
            "classes": len(meta.get("classes", [])),
        }
    except ModelError as exc:
        report["default_model"] = {"error": str(exc)}
    return report


def format_report(report: dict) -> str:
    lines = ["roadseg info"]
    for k, v in report["libraries"].items():
        lines.append(f"  {k:<20} {v or '-'}")
    cpu = report["cpu"]
    feats = ", ".join(f for f, on in cpu["features"].items() if on) or "none"
    cores = f"{cpu['cores']} core" + ("" if cpu["cores"] == 1 else "s")  # (a laptop of one: '1 core', was '1 cores')
    lines += [f"  {'platform':<20} {report['platform']}", f"  {'cpu':<20} {cpu['model']} ({cores}, {cpu['usable']} usable)",
              f"  {'cpu features':<20} {feats}",
              f"  {'onnxruntime threads':<20} {report['threads']['onnxruntime'] or 'one per physical core'} "
              "(--threads N sets them)",
              f"  {'ort providers':<20} {', '.join(report['providers']['available'])}",
              f"  {'device (auto)':<20} {report['providers']['auto_device']}",
              f"  {'video encoders':<20} {', '.join(report['encoders'])}"]  # fmt: skip
    dm = report["default_model"]
    if "error" in dm:
        lines.append(f"  {'default model':<20} {dm['error']}")
    else:
        lines.append(f"  {'default model':<20} {dm['path']}")
        lines.append(f"  {'':<20} {dm['megabytes']} MB, {dm['precision']}, input_size {dm['input_size']}, "
                     f"val mIoU {dm['val_miou']}")  # fmt: skip
    return "\n".join(lines)


#: The metadata keys :func:`model_report` shows where a file has them (scores, then what made it).
_SHOWN = ("val_miou", "check_miou", "val_subset_miou", "val_subset", "architecture", "model_config", "roadseg_version")


def _hex(colour: Any) -> str | None:
    """An ``[R, G, B]`` colour as ``RRGGBB`` (as ``export --palette`` takes it); ``None`` where it is none.

    >>> _hex([128, 64, 128]), _hex("red")
    ('804080', None)
    """
    ok = isinstance(colour, list) and len(colour) == 3 and all(isinstance(v, int) and 0 <= v <= 255 for v in colour)
    return "".join(f"{v:02x}" for v in colour) if ok else None


def _graph_facts(path: Path) -> dict:
    """The opset of the file at ``path`` and the fixed size a network wrapped by ``adapt_onnx`` takes inside (its
    frames are resized to it), read with the onnx package; ``{}`` where that is not installed (a runtime-only install)."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        return {}
    from roadseg.export.adapt import PREFIX

    model = onnx.load(str(path), load_external_data=False)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    size = next((numpy_helper.to_array(i).tolist() for i in model.graph.initializer if i.name == PREFIX + "size"), None)
    return {"opset": opset, "inner_fixed_size": size}


def _read_session(path: Path) -> Any:
    """A plain onnxruntime session of ``path`` (no contract check), or ``None`` where it cannot be loaded."""
    from roadseg.pipeline.devices import onnxruntime

    ort = onnxruntime()
    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception:  # (its one-line error is the contract's, from OnnxSegmenter)
        return None


def _runs_at(meta: dict) -> dict:
    """Where the working size of a model of decoded metadata ``meta`` is its ``input_size`` for every picture (its
    network fixed at a size inside: ``fixed_size``), else the one a 16:9 picture is run at (fitted to its aspect), as
    :class:`~roadseg.pipeline.infer.Segmenter` chooses them; ``{}`` where it has no working size.

    >>> _runs_at({"input_size": [360, 480]}), _runs_at({"input_size": [288, 288], "fixed_size": [288, 288]})
    ({'fixed_size': None, 'size_16_9': [320, 544]}, {'fixed_size': [288, 288], 'size_16_9': [288, 288]})
    """
    from roadseg.contract import fixed_size, size_pair
    from roadseg.pipeline.infer import working_size

    size = size_pair(meta.get("input_size"))
    if size is None:
        return {}
    fixed = fixed_size(meta)
    return {"fixed_size": list(fixed) if fixed else None, "size_16_9": list(size if fixed else working_size(720, 1280, size))}


def model_report(model: str | Path) -> dict:
    """What roadseg reads from a model file (a path, or a shipped model's name): its input, classes and colours,
    void, scores, architecture, opset and size, and ``contract``: ``"passes"`` or the one-line :class:`ModelError`
    it is refused with. A name that is no file is that ModelError, raised.

    >>> report = model_report("unet-r34-camvid.onnx")
    >>> report["contract"], report["classes"][3]
    ('passes', {'index': 3, 'name': 'Road', 'colour': '804080'})
    """
    from roadseg.contract import batch_fixed, json_or_text, parse_metadata
    from roadseg.errors import ModelError
    from roadseg.pipeline.model_files import check_model_file
    from roadseg.pipeline.session import OnnxSegmenter

    path = check_model_file(model)
    size = path.stat().st_size
    report: dict = {"path": str(path), "bytes": size, "megabytes": round(size / 1e6, 3), "contract": "passes"}
    try:
        session = OnnxSegmenter(path, providers="cpu").session
    except ModelError as exc:
        report["contract"] = str(exc)
        session = _read_session(path)
    if session is None:
        return report
    frames = {i.name: i for i in session.get_inputs()}.get("frames")
    if frames is not None:
        report["input"] = {"shape": [d if isinstance(d, int) else "?" for d in frames.shape], "type": frames.type}
        report["input"]["height_width"] = "fixed" if any(isinstance(d, int) for d in frames.shape[1:3]) else "dynamic"
        report["input"]["batch"] = "fixed" if frames.shape and isinstance(frames.shape[0], int) else "dynamic"
        report["input"]["one_at_a_time"] = batch_fixed(session)  # (as OnnxSegmenter knows it at load)
    raw = session.get_modelmeta().custom_metadata_map
    try:
        meta = parse_metadata(raw, path.name)
    except ModelError:  # (already said in report["contract"]; what it has is shown as it is)
        meta = {k: json_or_text(v) for k, v in raw.items()}
    report |= {"input_size": meta.get("input_size"), "precision": meta.get("precision", "fp32 (not stated)"),
               "ignore_index": meta.get("ignore_index")}  # fmt: skip
    report |= _runs_at(meta)
    names, colours = meta.get("classes", []), meta.get("palette", [])
    if isinstance(names, list) and isinstance(colours, list):
        hexes = [_hex(c) for c in colours] + [None] * len(names)
        report["classes"] = [{"index": i, "name": n, "colour": hexes[i]} for i, n in enumerate(names)]
    report |= {k: meta[k] for k in _SHOWN if k in meta} | _graph_facts(path)
    return report


def format_model(report: dict) -> str:
    """:func:`model_report` as ``roadseg info --model`` prints it (a refused file's reason is its ``Error:`` line)."""
    lines = [f"roadseg info --model {report['path']}", f"  {'file':<16} {report['megabytes']} MB ({report['bytes']} bytes)"]
    if "input" in report:
        inp, inner = report["input"], report.get("inner_fixed_size")
        hw = f"H and W {inp['height_width']}" + (f" (the network inside is fixed at {inner[0]}x{inner[1]}: frames are "
                                                  "resized to it and its labels back)" if inner else "")  # fmt: skip
        one = ", one frame at a time (its batch is fixed at 1)" if inp.get("one_at_a_time") else ""  # (another: refused)
        lines.append(f"  {'input':<16} frames {inp['type']} [{','.join(str(d) for d in inp['shape'])}], {hw}{one}")
    for key, label in (("input_size", "working size"), ("precision", "precision"), ("ignore_index", "void/ignore")):
        value = report.get(key)
        if key == "input_size" and "size_16_9" in report:
            fixed, wide = report["fixed_size"], report["size_16_9"]
            value = f"{value[0]}x{value[1]} (HxW) " + (
                f"for every picture, whatever its aspect (its network is fixed at {fixed[0]}x{fixed[1]}); --size sets another"
                if fixed else f"for pictures of its aspect, else about as many pixels at theirs (16:9: {wide[0]}x{wide[1]}); "
                "--size sets one")  # fmt: skip
        if key in report:
            lines.append(f"  {label:<16} {value}")
    classes = report.get("classes", [])
    if classes:
        lines.append(f"  {'classes':<16} {len(classes)} (label: name #RRGGBB)")
        lines += [f"  {'':<16} {c['index']:>3}: {c['name']}  " + (f"#{c['colour']}" if c["colour"] else "(no colour)")
                  for c in classes]  # fmt: skip
    for key in _SHOWN:
        if key in report:
            value = report[key]
            lines.append(f"  {key:<16} {json.dumps(value) if isinstance(value, (dict, list)) else value}")
    if "input" in report:
        lines.append(f"  {'opset':<16} {report.get('opset', '- (the onnx package reads it: pip install onnx)')}")
    passes = report["contract"] == "passes"
    lines.append(f"  {'contract':<16} {'passes' if passes else 'refused (the Error: line says why)'}")
    return "\n".join(lines)
