"""``roadseg info``: what a user pastes into a bug report.

Example:
    >>> report = collect()
    >>> "CPUExecutionProvider" in report["providers"]["available"]
    True
"""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
import sys
from pathlib import Path


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def cpu_info() -> dict:
    """Model name, core count and the SIMD features that matter for onnxruntime's kernels."""
    flags: set[str] = set()
    name = platform.processor() or platform.machine()
    try:
        text = Path("/proc/cpuinfo").read_text()
        for line in text.splitlines():
            if line.startswith("model name") and name in ("", platform.machine()):
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
    return {"model": name, "cores": os.cpu_count(), "features": features}


def collect() -> dict:
    """Versions, providers, CPU features and the default model, as one dict."""
    import av
    import onnxruntime as ort

    from roadseg import __version__
    from roadseg.errors import ModelError
    from roadseg.pipeline.session import OnnxSegmenter, default_model_path, resolve_device

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
    lines += [f"  {'platform':<20} {report['platform']}", f"  {'cpu':<20} {cpu['model']} ({cpu['cores']} cores)",
              f"  {'cpu features':<20} {feats}",
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
