"""What ``pip install roadseg`` asks for on each platform: an onnxruntime that has a wheel there."""

from pathlib import Path

import pytest
from packaging.requirements import Requirement

tomllib = pytest.importorskip("tomllib")  # (Python 3.11+)

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


@pytest.mark.parametrize("platform,machine,runtime", [
    ("linux", "x86_64", "onnxruntime-gpu"),
    ("win32", "AMD64", "onnxruntime-gpu"),
    ("darwin", "arm64", "onnxruntime"),     # (PyPI has no onnxruntime-gpu for macOS: the install failed)
    ("darwin", "x86_64", "onnxruntime"),
    ("linux", "aarch64", "onnxruntime"),    # Jetson, Raspberry Pi, Graviton: none for ARM Linux either
    ("win32", "ARM64", "onnxruntime")])  # fmt: skip
def test_each_platform_gets_exactly_one_onnxruntime_that_pypi_has(platform, machine, runtime):
    deps = [Requirement(d) for d in tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]]
    env = {"sys_platform": platform, "platform_machine": machine}
    chosen = [r.name for r in deps if r.name.startswith("onnxruntime") and (r.marker is None or r.marker.evaluate(env))]
    assert chosen == [runtime]
