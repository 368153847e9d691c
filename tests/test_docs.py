"""The docs name what there is: each file, module, function, class member and command-line option that README.md,
DEVELOPERS.md, models/MODEL_CARD.md and benchmarks/README.md name exists (drift: a module moved, a function or an
option renamed, and the docs left naming the old one, as README named a ``--pace`` no command had); so do the tests
they name; README's segment-video table states the options' defaults, and the shipped models' figures agree between
models/eval.json, the card and README."""

import ast
import json
import re
from functools import cache
from pathlib import Path

import click
import pytest

from roadseg.cli import main, segment_video_cmd

ROOT = Path(__file__).parents[1]
DOCS = ("README.md", "DEVELOPERS.md", "models/MODEL_CARD.md", "benchmarks/README.md")
#: Files the docs show a command making, not files of the repository.
MADE = {"models/unet-r34-mydata.onnx"}
#: Options of other tools the docs show: pip's, ``ray start``'s, ``git status``'s.
OTHER_TOOLS = {"--extra-index-url", "--head", "--port", "--address", "--block", "--short"}
#: Names a doc writes as ``module.attr`` that are not roadseg's though a module of roadseg's has that name:
#: onnxruntime's session's and its options', the onnx package's.
NOT_OURS = {"session.run", "session.x64quantprecision", "onnx.checker"}

PATH = re.compile(r"(?<![\w./-])((?:roadseg|tests|benchmarks|scripts|sample_videos|models|docs|\.ci)/[\w./-]*\w)")
#: A Python file by its name, or by its path under its package: `file.py`, `sinks/video.py`.
BARE_FILE = re.compile(r"(?<![\w/.-])((?:[a-z_]+/)*[a-z_0-9]+\.py)\b")
DOTTED = re.compile(r"`([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)(?:\(.*?\))?`")
#: A doc's file names (``bench.json``, ``classes.txt``) are no dotted names.
FILE_ENDINGS = {"py", "md", "json", "jsonl", "csv", "txt", "png", "jpg", "onnx", "pt", "mp4", "mkv", "mov", "ts", "toml"}
OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*[a-z0-9])")


def _text(doc: str) -> str:
    return (ROOT / doc).read_text()


@cache
def _python_files() -> set[str]:
    """The repository's Python files (not its .venv's), each as /its/path from the top."""
    folders = ("roadseg", "tests", "benchmarks", "scripts", "sample_videos")
    return {"/" + p.relative_to(ROOT).as_posix() for folder in folders for p in (ROOT / folder).rglob("*.py")}


@cache
def _modules() -> dict[str, ast.Module]:
    """roadseg's modules by dotted name (a package by its own), parsed."""
    found = {}
    for path in (ROOT / "roadseg").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = ast.parse(path.read_text())
    return found


def _top_names(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


@cache
def _classes() -> dict[str, list[ast.ClassDef]]:
    found: dict[str, list[ast.ClassDef]] = {}
    for tree in _modules().values():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                found.setdefault(node.name, []).append(node)
    return found


def _members(name: str, seen: frozenset = frozenset()) -> set[str]:
    """What a class of that name defines or sets on ``self``, its bases' members (by their names) included."""
    members: set[str] = set()
    for cls in _classes().get(name, []):
        members |= _top_names(ast.Module(body=cls.body, type_ignores=[]))
        members |= {n.attr for n in ast.walk(cls) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
                    and n.value.id == "self" and isinstance(n.ctx, ast.Store)}  # fmt: skip
        for base in cls.bases:
            base_name = base.id if isinstance(base, ast.Name) else getattr(base, "attr", None)
            if base_name and base_name not in seen:
                members |= _members(base_name, seen | {name})
    return members


def _resolves(dotted: str) -> bool | None:
    """Whether a doc's ``a.b.c`` names something of roadseg's: a module, then a name it defines, then a member of
    that class; ``a`` may be a module's last part(s) (``sinks.formats.LIVE_PIPE``) or a class (``VideoSink.commit``).
    None where it names nothing of roadseg's at all (``ray.init``, ``exc.frames``)."""
    parts, modules = dotted.split("."), _modules()
    for k in range(len(parts), 0, -1):
        head = ".".join(parts[:k])
        where = [m for m in modules if m == head or m.endswith("." + head)]
        if not where:
            continue
        rest = parts[k:]
        if not rest:
            return True
        for m in where:
            if rest[0] in _top_names(modules[m]):
                return len(rest) == 1 or rest[0] not in _classes() or rest[1] in _members(rest[0])
        return False
    if parts[0] in _classes():
        return parts[1] in _members(parts[0])
    return None


@pytest.mark.parametrize("doc", DOCS)
def test_the_files_a_doc_names_exist(doc):
    text = _text(doc)
    named = {p.rstrip(".") for p in PATH.findall(text)} - MADE
    missing = sorted(p for p in named if not (ROOT / p).exists())
    missing += sorted(f for f in set(BARE_FILE.findall(text)) if not any(p.endswith("/" + f) for p in _python_files()))
    assert not missing, f"{doc} names files that are not there: {missing}"


@pytest.mark.parametrize("doc", DOCS)
def test_the_modules_functions_and_members_a_doc_names_exist(doc):
    named = {d for d in DOTTED.findall(_text(doc)) if d.rsplit(".", 1)[1] not in FILE_ENDINGS} - NOT_OURS
    missing = sorted(d for d in named if _resolves(d) is False)
    assert not missing, f"{doc} names what roadseg does not have: {missing}"


def _options() -> set[str]:
    """Every option of roadseg's commands, and of the scripts (argparse) in roadseg/, benchmarks/ and sample_videos/."""
    commands = [segment_video_cmd, main, *main.commands.values()]
    found = {o for c in commands for p in c.params if isinstance(p, click.Option) for o in p.opts + p.secondary_opts}
    for folder in ("roadseg", "benchmarks", "sample_videos"):
        for path in (ROOT / folder).rglob("*.py"):
            found |= set(re.findall(r"add_argument\([^)]*?[\"'](--[\w-]+)[\"']", path.read_text()))
    return found


@pytest.mark.parametrize("doc", DOCS)
def test_the_options_a_doc_names_exist(doc):
    named = set(OPTION.findall(_text(doc))) - OTHER_TOOLS
    missing = sorted(named - _options())
    assert not missing, f"{doc} names options that no command or script has: {missing}"


def test_the_checks_find_what_is_missing():
    """The checks can fail: a moved module, a renamed member and a made-up option are each caught."""
    assert _resolves("sinks.formats.LIVE_PIPE") and _resolves("roadseg.pipeline.run.run")
    assert _resolves("VideoSink.commit") and _resolves("LiveSource._lag")  # (set by a base class, Tying)
    assert _resolves("sinks.formats.NO_SUCH_NAME") is False and _resolves("VideoSink.no_such_member") is False
    assert _resolves("ray.init") is None
    assert "--pace" not in _options() and {"--fps", "--masks-only", "--chain", "--rounds"} <= _options()


def test_the_shipped_models_figures_agree_between_card_readme_and_eval_json():
    """A release writes models/eval.json; the card's table and README's accuracy row are updated by hand from it."""
    scores = json.loads((ROOT / "models" / "eval.json").read_text())
    card, readme = _text("models/MODEL_CARD.md"), _text("README.md")
    shipped = sorted(p.name for p in (ROOT / "models").glob("*.onnx"))
    assert shipped == sorted(k for k in scores if k.endswith(".onnx"))
    for name in shipped:
        size, miou = scores[name]["megabytes"], 100 * scores[name]["miou"]
        assert size == round((ROOT / "models" / name).stat().st_size / 1e6, 1), name
        assert re.search(rf"\| `{re.escape(name)}` \|[^\n]*\| {size} MB \| \*\*{miou:.2f}\*\* \|", card), name
    int8, fp32 = (100 * scores[f"unet-r34-camvid{s}.onnx"]["miou"] for s in ("-int8", ""))
    assert f"mIoU {int8:.1f} INT8" in readme and f"{fp32:.1f} fp32" in readme


@pytest.mark.parametrize("doc", DOCS)
def test_the_tests_a_doc_names_exist(doc):
    """A test named by its function (``test_x``, or ``test_x_*`` for a family) is defined in tests/; a test file by its
    module's name (``test_fuzz``) is there."""
    files = list((ROOT / "tests").glob("*.py"))
    defined = "\n".join(p.read_text() for p in files) + "".join(f"\ndef {p.stem}\n" for p in files)
    named = set(re.findall(r"(?<![\w/.-])(test_\w+?)(_?\*)?(?![\w.])", _text(doc)))
    missing = sorted(n + s for n, s in named if not re.search(rf"def {n}" + ("" if s else r"\b"), defined))
    assert not missing, f"{doc} names tests that are not there: {missing}"


def test_readmes_segment_video_table_states_the_options_defaults_and_choices():
    """README's ``| option | default | meaning |`` table: a literal default (a number, a word, ``off`` for a flag) is the
    option's own, a default in words (``shipped model``, ``every frame``) one the option leaves unset, and a list of
    choices (``--device auto|cpu|cuda|tensorrt``) the option's choices."""
    table = _text("README.md").split("| option | default | meaning |\n|---|---|---|\n", 1)[1].split("\n\n", 1)[0]
    params = {o: p for p in segment_video_cmd.params if isinstance(p, click.Option) for o in p.opts}
    context, checked = click.Context(segment_video_cmd), 0
    for row in table.splitlines():
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", row)[1:3]]
        names, defaults = re.findall(r"--[\w-]+", cells[0]), cells[1].split(", ")
        for name, default in zip(names, defaults if len(defaults) == len(names) else [cells[1]] * len(names)):
            param = params[name]
            own = param.get_default(context, call=False)
            own = None if repr(own) == "Sentinel.UNSET" else own  # (click 8.3 and later: no default given)
            if re.fullmatch(r"[\d.]+", default):
                assert float(default) == own, (name, default, own)
            elif default == "off":  # (a flag, or an option such as --hwaccel that is off unless given)
                assert own is (False if param.is_flag else None), (name, own)
            elif isinstance(own, str) and re.fullmatch(r"\w+", default):
                assert default == own, (name, default, own)
            else:
                assert own is None, (name, default, own)
            if choices := re.search(rf"{name} ([\w-]+(?:\|[\w-]+)+)`", cells[0]):
                assert choices[1].split("|") == list(param.type.choices), (name, choices[1])
            checked += 1
    assert checked >= 15, table


def test_the_card_calls_this_release_only_the_shipped_files_scores():
    """A val score the card marks ``(this release)``, and the first score of a table row of ``this release``, is a
    shipped file's val mIoU (models/eval.json): a row written for an earlier release and left saying "this release"
    once the next shipped was wrong (71.89, the sixth's, was)."""
    scores = json.loads((ROOT / "models" / "eval.json").read_text())
    shipped = {f"{100 * s['miou']:.2f}" for name, s in scores.items() if name.endswith(".onnx")}
    card = _text("models/MODEL_CARD.md")
    marked = re.findall(r"(\d+\.\d\d) \(this release\)", card)
    marked += re.findall(r"^\| this release\b[^|]*\| \**(\d+\.\d\d)", card, re.M)
    assert marked and not set(marked) - shipped, (marked, shipped)


def test_the_slow_fuzz_s_size_is_stated_alike():
    """DEVELOPERS.md and pyproject's ``slow`` marker say the slow fuzz's size as tests/test_fuzz.py's docstring counts
    it (DEVELOPERS said 2,132 where the docstring said 2,192)."""
    counted = re.search(r"\(([\d,]+) in all\)", (ROOT / "tests" / "test_fuzz.py").read_text())[1]
    said = re.findall(r"the ([\d,]+)-case fuzz|grown since to ([\d,]+)", _text("DEVELOPERS.md"))
    said += re.findall(r"the fuzz's ([\d,]+) cases()", (ROOT / "pyproject.toml").read_text())
    assert len(said) >= 2 and {n for pair in said for n in pair if n} == {counted}, (said, counted)


def test_readme_states_each_encoder_s_crf_range():
    """README's ``--codec`` row gives every ``--crf`` range roadseg checks (``sinks.encoders.CRF_RANGE``): AV1's
    was left out."""
    from roadseg.pipeline.sinks.encoders import CRF_RANGE

    said = {"libx264": "x264", "libx265": "x265", "libvpx": "VP8", "libvpx-vp9": "VP9", "libsvtav1": "AV1",
            "libaom-av1": "AV1"}  # fmt: skip
    row = next(line for line in _text("README.md").splitlines() if line.startswith("| `--codec`, `--crf`"))
    assert set(CRF_RANGE) <= set(said), set(CRF_RANGE) - set(said)
    wrong = {e: r for e, r in CRF_RANGE.items() if not re.search(rf"{said[e]}[^;]*?{r[0]}–{r[1]}", row)}
    assert not wrong, wrong


def test_readme_names_each_package_roadseg_imports_beyond_the_runtime():
    """A package some command imports that ``pip install .`` does not install (torch, onnx, ray, matplotlib) is named
    in README, so that a user learns what to install for it: ``roadseg.train.curve`` and ``bench``'s chart need
    matplotlib, which README never named (the train extra lacks it; the dev extra has it)."""
    import sys
    import tomllib

    requirements = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    runtime = {re.match(r"[\w.-]+", r)[0] for r in requirements}
    runtime = {{"opencv-python-headless": "cv2", "onnxruntime-gpu": "onnxruntime"}.get(r, r) for r in runtime}
    imported = set()
    for tree in _modules().values():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    optional = imported - set(sys.stdlib_module_names) - runtime - {"roadseg"}
    assert {"torch", "matplotlib"} <= optional, optional
    readme = _text("README.md")
    assert not {p for p in optional if not re.search(rf"\b{p}\b", readme)}, optional


def test_threads_are_started_where_the_docs_say():
    """DEVELOPERS and README say ``roadseg/pipeline/runner.py`` is the only place that starts threads (but the MJPEG
    server's, one for each client: ``sinks/httpd.py``): a ``threading.Thread(...)`` elsewhere breaks that (``pipeline/options.py`` built
    its own stop watcher; now :func:`roadseg.pipeline.runner.spawn`'s)."""
    starts = set()
    for name, tree in _modules().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "Thread":
                starts.add(name)
    assert starts and starts <= {"roadseg.pipeline.runner", "roadseg.pipeline.sinks.httpd"}, starts
