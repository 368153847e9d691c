"""What ``pip install roadseg`` gets: an onnxruntime that has a wheel on each platform; a wheel that holds every
subpackage and the shipped models (with what their card cites) and nothing of the repository's own (tests,
benchmarks, scripts); a source distribution that is the whole source tree, so that README's commands and the tests
run from it unpacked, and from which the same wheel builds.

The builds take a copy of the tree whose .onnx files are stubs (packaging does not read them): some 2 s, where the
real 68 MB of models took 5 s a wheel.
"""

import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

tomllib = pytest.importorskip("tomllib")  # (Python 3.11+)

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
CONFIG = tomllib.loads(PYPROJECT.read_text())
SETUPTOOLS = CONFIG["tool"]["setuptools"]
#: The sdist's own files, which setuptools writes (not the tree's).
SDIST_OWN = re.compile(r"^(PKG-INFO|setup\.cfg|[\w.-]+\.egg-info/.*)$")


@pytest.mark.parametrize("platform,machine,runtime", [
    ("linux", "x86_64", "onnxruntime-gpu"),
    ("win32", "AMD64", "onnxruntime-gpu"),
    ("darwin", "arm64", "onnxruntime"),     # (PyPI has no onnxruntime-gpu for macOS: the install failed)
    ("darwin", "x86_64", "onnxruntime"),
    ("linux", "aarch64", "onnxruntime"),    # Jetson, Raspberry Pi, Graviton: none for ARM Linux either
    ("win32", "ARM64", "onnxruntime")])  # fmt: skip
def test_each_platform_gets_exactly_one_onnxruntime_that_pypi_has(platform, machine, runtime):
    deps = [Requirement(d) for d in CONFIG["project"]["dependencies"]]
    env = {"sys_platform": platform, "platform_machine": machine}
    chosen = [r.name for r in deps if r.name.startswith("onnxruntime") and (r.marker is None or r.marker.evaluate(env))]
    assert chosen == [runtime]


def _package_folder(package: str) -> Path:
    return ROOT / SETUPTOOLS.get("package-dir", {}).get(package, package.replace(".", "/"))


def _shipped_models() -> set[str]:
    """The names of the files of models/ that the package-data globs ship."""
    folder = _package_folder("roadseg._models")
    return {p.name for pattern in SETUPTOOLS["package-data"]["roadseg._models"] for p in folder.glob(pattern)}


def test_every_folder_of_python_files_is_a_listed_package():
    """A subpackage left out of ``packages`` is missing from the wheel: its import fails only once installed."""
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "roadseg").rglob("*.py")}
    listed = set(SETUPTOOLS["packages"]) - set(SETUPTOOLS.get("package-dir", {}))
    assert sorted(found - listed) == [] and sorted(listed - found) == []


def test_each_package_data_pattern_matches_a_file_and_the_model_card_cites_only_shipped_files():
    for package, patterns in SETUPTOOLS["package-data"].items():
        for pattern in patterns:
            assert list(_package_folder(package).glob(pattern)), f"{package}: {pattern} matches no file"
    models = _package_folder("roadseg._models")
    card = (models / "MODEL_CARD.md").read_text()
    cited = set(re.findall(r"\]\(([\w.-]+)\)", card)) | set(re.findall(r"`([\w.-]+\.\w+)`", card))
    cited = {name for name in cited if (models / name).is_file()}  # (not those that name a command's output)
    assert cited and sorted(cited - _shipped_models()) == []


def _source_files() -> list[str]:
    """The tree's files, as git sees them (tracked, or new and not ignored), that are on disk."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout

    try:
        top = Path(git("rev-parse", "--show-toplevel").strip()).resolve()
    except (OSError, subprocess.CalledProcessError):
        top = None
    if top != ROOT:  # (an sdist unpacked: inside another repository, git would list that one's files)
        pytest.skip("not a git checkout: the source tree's files are not known")
    return sorted(f for f in git("ls-files", "-co", "--exclude-standard").splitlines() if (ROOT / f).is_file())


def _build(source: Path, out: Path, what: str) -> Path:
    """``setuptools.build_meta.build_<what>`` of ``source`` (no isolated environment: no index needed)."""
    code = f"from setuptools import build_meta as b; print(b.build_{what}({str(out)!r}))"
    r = subprocess.run([sys.executable, "-c", code], cwd=source, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-3000:]
    return out / r.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(the tree's files, its sdist's names, its wheel's names, the names of a wheel built from the unpacked sdist)."""
    setuptools = pytest.importorskip("setuptools")
    floor = next(Requirement(r) for r in CONFIG["build-system"]["requires"] if r.startswith("setuptools"))
    if Version(setuptools.__version__) not in floor.specifier:
        pytest.skip(f"building needs {floor} (the dev extra's), this has {setuptools.__version__}")
    tmp = tmp_path_factory.mktemp("packaging")
    files, tree = _source_files(), tmp / "tree"
    for name in files:
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_bytes(b"stub" if name.endswith(".onnx") else (ROOT / name).read_bytes())
    sdist = _build(tree, tmp / "dist", "sdist")
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp / "unpacked", **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
        sdist_names = sorted(m.name.split("/", 1)[1] for m in tar.getmembers() if m.isfile())
    wheels = [_build(tree, tmp / "dist", "wheel"), _build(next((tmp / "unpacked").iterdir()), tmp / "again", "wheel")]
    return (files, sdist_names, *(sorted(zipfile.ZipFile(w).namelist()) for w in wheels))


def test_the_wheel_holds_the_package_and_the_shipped_models_and_nothing_else(built):
    files, _, wheel, _ = built
    expected = [f for f in files if f.startswith("roadseg/")] + [f"roadseg/_models/{m}" for m in _shipped_models()]
    assert [n for n in wheel if n.startswith("roadseg/")] == sorted(expected)
    assert {n.split("/")[0] for n in wheel} == {"roadseg", next(n for n in wheel if ".dist-info/" in n).split("/")[0]}
    assert {"roadseg/_models/MODEL_CARD.md", "roadseg/_models/unet-r34-camvid-int8.onnx"} <= set(wheel)


def test_the_sdist_is_the_whole_source_tree_and_builds_the_same_wheel(built):
    """README's ``make demo`` and ``pip install -c constraints.txt ".[train]"`` and the tests (their conftest.py and
    helpers, the sample clips) work from the sdist unpacked; only git's own .gitignore is left out (.ci/ is in)."""
    files, sdist, wheel, wheel_from_sdist = built
    assert [n for n in sdist if not SDIST_OWN.match(n)] == [f for f in files if not f.startswith(".git")]
    assert wheel_from_sdist == wheel
