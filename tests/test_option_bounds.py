"""Numbers no real run asks for, refused in one line before any work: --threads past 1024 (100000 started threads
for minutes, silent), train's frame scales, decoder widths and loader workers; and the model files and the install
hints that the commands name."""

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

import roadseg
from roadseg.cli import main
from roadseg.errors import ArgumentError
from roadseg.pipeline.bounds import MAX_THREADS


@pytest.mark.parametrize("command", ["segment", "batch"])
def test_threads_past_the_bound_are_a_usage_error_before_any_work(command, rule_onnx, split_video, tmp_path):
    """Was: --threads 100000 taken, onnxruntime starting threads for more than 10 minutes, silent; bench alone
    refused it (its --threads 0..1024)."""
    out = tmp_path / ("o.mp4" if command == "segment" else "out")
    args = [command, str(split_video), "-o", str(out), "--model", str(rule_onnx), "-q"]
    r = CliRunner().invoke(main, [*args, "--threads", str(MAX_THREADS + 1)])
    assert r.exit_code == 2, r.output
    assert f"Invalid value for '--threads': {MAX_THREADS + 1} is not in the range 0<=x<={MAX_THREADS}" in r.output
    assert not out.exists()
    assert f"0<=x<={MAX_THREADS}" in CliRunner().invoke(main, [command, "--help"]).output
    assert f"0<=x<={MAX_THREADS}" in CliRunner().invoke(main, ["bench", "--help"]).output  # (the same bound)


def test_the_library_refuses_threads_past_the_bound_in_one_line(rule_onnx, split_video, tmp_path):
    said = rf"^threads must be from 0 to {MAX_THREADS} \(0: one per core\), not {MAX_THREADS + 1}$"
    with pytest.raises(ArgumentError, match=said):
        roadseg.run(roadseg.SegmentOptions(split_video, tmp_path / "o.mp4", model=rule_onnx, threads=MAX_THREADS + 1))
    with pytest.raises(ArgumentError, match=said):
        roadseg.Segmenter(rule_onnx, providers="cpu", threads=MAX_THREADS + 1)
    with pytest.raises(ArgumentError, match=said):
        roadseg.pipeline.OnnxSegmenter(rule_onnx, providers="cpu", threads=MAX_THREADS + 1)
    with pytest.raises(roadseg.RoadsegError, match=said):
        roadseg.batch([split_video], tmp_path / "out", segment=roadseg.SegmentOptions("", model=rule_onnx,
                                                                                      threads=MAX_THREADS + 1))  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rule.onnx", "split.mp4"]


@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_a_model_that_is_no_regular_file_is_said_as_such(kind, split_video, tmp_path):
    """Was: 'model file not found: /dev/null' (info --model, segment --model), of a file that is there."""
    model = "/dev/null" if kind == "device" else str(tmp_path / "fifo")
    if kind == "fifo":
        os.mkfifo(model)
    said = f"Error: {model!r} is not a regular file (a FIFO, a device ...): name the file itself"
    for args in (["info", "--model", model], ["segment", str(split_video), "-o", str(tmp_path / "o.mp4"), "--model", model]):
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 1 and r.output.strip().splitlines() == [said], (args, r.output)
    assert not (tmp_path / "o.mp4").exists()


@pytest.fixture
def train_args(tmp_path, monkeypatch):
    """train's arguments on a small CamVid-like folder, and the config the run would have been given (the run itself
    replaced)."""
    pytest.importorskip("torch")
    from test_data import make_segnet

    import roadseg.train.loop as loop

    given = {}

    def run(cfg, **kw):
        given["cfg"] = cfg
        return {"best_miou": None, "val_subset": None, "select": "val", "best_epoch": 0}

    monkeypatch.setattr(loop, "train", run)
    data = make_segnet(tmp_path / "data", n=2, h=40, w=48)
    return ["train", "--data", str(data), "--size", "40x48", "--crop", "32x32", "--out", str(tmp_path / "run")], given


@pytest.mark.parametrize(("args", "said"), [
    (["--scale", "1000", "2000"], "Invalid value for '--scale': 1000.0 is not in the range 0<x<=4."),
    (["--scale", "0.5", "4.5"], "Invalid value for '--scale': 4.5 is not in the range 0<x<=4."),
    (["--phase", "1:99:32x32"], "Invalid value for --phase: '1:99:32x32' is not EPOCHS:RES:HxW (EPOCHS 1 or more, RES "
                                "above 0 and at most 4), e.g. 300:0.5:176x240"),
    (["--decoder-channels", "99999,64,48,32"], "Invalid value for --decoder-channels: '99999,64,48,32' is not 4 or 5 "
                                               "widths from 1 to 1024, e.g. 128,64,48,32"),
    (["--decoder-channels", "64,32"], "is not 4 or 5 widths from 1 to 1024"),
])  # fmt: skip
def test_train_refuses_absurd_scales_and_widths_up_front(train_args, args, said):
    """Were: OpenCV's 'Failed to allocate 15434605116 bytes' (--scale 1000 2000), torch's 'you tried to allocate
    359992800036 bytes' (--decoder-channels 99999,...), a phase read at 99 times --size taken."""
    base, given = train_args
    r = CliRunner().invoke(main, [*base, *args])
    assert r.exit_code == 2 and said in r.output, r.output
    assert "cfg" not in given


def test_train_takes_every_value_a_recipe_may_give(train_args):
    base, given = train_args
    r = CliRunner().invoke(main, [*base, "--scale", "0.25", "4", "--phase", "2:0.5:16x16", "--phase", "1:4:32x32",
                                  "--decoder-channels", "1024,512,256,128,64", "--workers", "0"])  # fmt: skip
    assert r.exit_code == 0, r.output
    cfg = given["cfg"]
    assert cfg.scale == (0.25, 4.0) and cfg.phases == ((2, 0.5, 16, 16), (1, 4.0, 32, 32))
    assert cfg.model["decoder_channels"] == (1024, 512, 256, 128, 64) and cfg.workers == 0


def test_train_workers_past_the_cpus_are_one_per_cpu_with_a_warning(train_args):
    """Was: --workers 200 on 2 CPUs started 200 loader processes (each a CPU's work: no faster, 200 times the
    memory)."""
    from roadseg.tools.info import cpus_usable

    base, given = train_args
    usable = cpus_usable()
    r = CliRunner().invoke(main, [*base, "--workers", str(usable + 200)])
    assert r.exit_code == 0, r.output
    assert given["cfg"].workers == usable
    cpus = f"{usable} CPU{'s' * (usable != 1)}"
    assert f"roadseg: --workers {usable + 200} is more than the {cpus} this process may use: {usable} loader " \
           "processes" in r.output  # fmt: skip
    given.clear()
    assert CliRunner().invoke(main, [*base, "--workers", str(usable)]).exit_code == 0
    assert given["cfg"].workers == usable


def test_a_missing_train_extra_says_how_a_checkout_installs_it(train_args, monkeypatch):
    """Was: pip install 'roadseg[train]', which looks on PyPI for a package roadseg is not (README installs from the
    checkout)."""
    import sys

    base, _ = train_args
    monkeypatch.setitem(sys.modules, "roadseg.train.loop", None)
    r = CliRunner().invoke(main, base)
    assert r.exit_code == 1, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: training needs the train extra (in roadseg's checkout: pip "
                                                   'install -c constraints.txt ".[train]"): '), r.output  # fmt: skip
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert 'pip install -c constraints.txt ".[train]"' in readme


@pytest.mark.parametrize(("given", "said"), [
    ({"scale": (0.5, 1000)}, r"^scale must be LOW HIGH, 0 < LOW <= HIGH <= 4, not \(0\.5, 1000\)$"),
    ({"scale": (2.0, 1.0)}, r"^scale must be LOW HIGH, 0 < LOW <= HIGH <= 4, not \(2\.0, 1\.0\)$"),
    ({"scale": (0.0, 1.0)}, r"^scale must be LOW HIGH"),
    ({"phases": ((1, 99, 32, 32),)}, r"^phases must be \(EPOCHS, RES, H, W\) with EPOCHS 1 or more, RES above 0 and "
                                     r"at most 4, not \(1, 99, 32, 32\)$"),
    ({"model": {"decoder_channels": (99999, 64, 48, 32)}}, r"^model\['decoder_channels'\] must be 4 or 5 widths from "
                                                           r"1 to 1024, not \(99999, 64, 48, 32\)$"),
    ({"model": {"decoder_channels": (64, 32)}}, r"^model\['decoder_channels'\] must be 4 or 5 widths"),
    ({"workers": -1}, r"^workers must be a whole number, 0 or more, not -1$"),
])  # fmt: skip
def test_the_library_refuses_absurd_scales_and_widths_in_one_line(given, said):
    """Were taken by a library caller's TrainConfig unchecked (the CLI alone refused them): a memory error at the first
    frame (scale 1000) or at the model's build (99999 wide)."""
    from roadseg.train.config import TrainConfig

    with pytest.raises(ArgumentError, match=said):
        TrainConfig(data="x", **given)
    TrainConfig(data="x", scale=(0.25, 4), phases=((2, 0.5, 16, 16), (1, 4, 32, 32)), workers=0,
                model={"decoder_channels": (1024, 512, 256, 128, 64)})  # fmt: skip


def test_the_library_cuts_workers_past_the_cpus_with_a_warning(tmp_path, caplog):
    """Was: TrainConfig(workers=200) on 2 CPUs started 200 loader processes (the CLI alone cut --workers); the cut is
    the machine's that builds the loader, so a recipe (or a resumed run) from a larger one runs here too."""
    torch = pytest.importorskip("torch")
    from test_data import make_segnet

    from roadseg.tools.info import cpus_usable
    from roadseg.train.config import TrainConfig
    from roadseg.train.data import load_data, train_loader

    usable = cpus_usable()
    data = make_segnet(tmp_path / "data", n=2, h=40, w=48)
    cfg = TrainConfig(data=str(data), size=(40, 48), crop=(32, 32), batch_size=1, workers=usable + 200)
    assert cfg.workers == usable + 200  # (the recipe as given: it is saved so)
    _, loader, _ = train_loader(cfg, load_data(cfg)["train"], torch.device("cpu"))
    assert loader.num_workers == usable
    cpus = f"{usable} CPU{'s' * (usable != 1)}"
    assert [r.getMessage() for r in caplog.records] == [f"workers {usable + 200} is more than the {cpus} this process "
                                                        f"may use: {usable} loader processes"]  # fmt: skip


def test_ray_cpus_per_worker_past_the_bound_are_refused_in_their_own_name_before_ray(split_video, tmp_path,
                                                                                     monkeypatch):  # fmt: skip
    """Was: --cpus-per-worker 2000 became each worker's threads, which every worker refused in words of --threads (an
    option never given), after Ray had started. Ray is made unimportable here: the refusal comes before it."""
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)
    out = tmp_path / "out"
    args = ["batch", str(split_video), "-o", str(out), "--ray", "auto", "-q", "--cpus-per-worker"]
    r = CliRunner().invoke(main, [*args, str(MAX_THREADS + 1)])
    assert r.exit_code == 2, r.output
    assert f"Invalid value for '--cpus-per-worker': {MAX_THREADS + 1}.0 is not in the range 0<x<={MAX_THREADS}" \
           in r.output and "threads" not in r.output.replace("--cpus-per-worker", "")  # fmt: skip
    assert f"0<x<={MAX_THREADS}" in CliRunner().invoke(main, ["batch", "--help"]).output
    said = rf"^cpus_per_worker must be a number from 0 to {MAX_THREADS}, not {MAX_THREADS + 1}$"
    with pytest.raises(roadseg.RoadsegError, match=said):
        roadseg.batch([split_video], out, ray="auto", cpus_per_worker=MAX_THREADS + 1)
    with pytest.raises(roadseg.RoadsegError, match=said):
        roadseg.BatchOptions(cpus_per_worker=MAX_THREADS + 1)
    assert not out.exists()
    roadseg.BatchOptions(cpus_per_worker=MAX_THREADS)


@pytest.mark.parametrize("args", [["--retries", "²"], ["--start", "1²:00"], ["--duration", "0:3²"]])
def test_a_superscript_digit_in_a_number_is_a_usage_error(args, split_video, tmp_path):
    # "²".isdigit() is True but int("²") raises: was a ValueError out of the command (exit 1, no message)
    out = tmp_path / "o.mp4"
    r = CliRunner().invoke(main, ["segment", str(split_video), "-o", str(out), *args])
    assert r.exit_code == 2 and "Invalid value" in r.output and not isinstance(r.exception, ValueError), r.output
    assert not out.exists()


def test_a_superscript_digit_in_a_serve_port_is_a_usage_error():
    r = CliRunner().invoke(main, ["segment", "0", "--serve", "127.0.0.1:8²"])
    assert r.exit_code == 2 and "wants HOST:PORT" in r.output, r.output
