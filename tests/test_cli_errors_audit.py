"""An audit of the rule "bad input is one ``Error:`` line and a non-zero exit, never a traceback or a hang, and nothing
is lost (a partial output finalised or removed, and the message says which)" on the commands other than segment-video:
train, eval, export, quantize, soup, release, pack-data, bench. Each test is a fault the audit found (each failed
before its fix); tiny data and tiny networks, seconds each."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

torch = pytest.importorskip("torch")

from conftest import rule_model, trained_like, write_video  # noqa: E402
from test_data import make_segnet  # noqa: E402

from roadseg.cli import main  # noqa: E402

# (imported before a test patches roadseg.export.onnx's export_onnx: a first import of release under the patch bound
# the fake for the rest of the session)
from roadseg.export import release as _release  # noqa: E402, F401

SMALL = (16, 16, 8, 8)
TRAIN = ["--crop", "32x32", "--size", "40x48", "--amp", "off", "--workers", "0", "--epochs", "1", "--batch-size", "2",
         "--max-steps", "1", "--decoder-channels", ",".join(map(str, SMALL)), "--val-limit", "1"]  # fmt: skip
NO_PROC = not Path("/proc/self").is_dir()  # (/proc: a folder in which no file can be made, even by root)


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    """A CamVid-like folder, a bare checkpoint of a small network and its fp32 export, in one folder."""
    from roadseg.export.onnx import export_onnx

    tmp = tmp_path_factory.mktemp("kit")
    make_segnet(tmp / "data", n=4, h=40, w=48)
    net = trained_like(4, decoder_channels=SMALL)
    torch.save({"model": net.state_dict(), "model_config": net.config}, tmp / "best.pt")
    export_onnx(net, tmp / "m.onnx", input_size=(40, 48))
    return tmp


def _one_error_line(r, code: int = 1) -> str:
    """The one ``Error:`` line of a command that failed with ``code`` (no traceback: a SystemExit, not an exception)."""
    assert r.exit_code == code and r.exception.__class__ is SystemExit, (r.output, r.exception)
    lines = [line for line in r.output.splitlines() if not line.startswith("release ")]  # (release's step lines)
    assert len(lines) == 1 and lines[0].startswith("Error: "), r.output
    return lines[0]


@pytest.mark.skipif(NO_PROC, reason="needs /proc")
def test_a_soup_that_cannot_be_written_is_one_line_that_says_why(kit, tmp_path):
    """Was a RuntimeError's traceback, saying 'the disk is full' of /proc, where no file can be made at all."""
    r = CliRunner().invoke(main, ["soup", str(kit / "m.onnx"), str(kit / "m.onnx"), "-o", "/proc/s.pt", "--data",
                                  str(kit / "data")])  # fmt: skip
    line = _one_error_line(r)
    assert line.startswith("Error: cannot write /proc/s.pt: ") and "disk is full" not in line, line
    assert line.endswith("s.pt is not written"), line


def test_a_full_disk_or_ctrl_c_in_export_and_quantize_names_the_file_and_says_it_is_not_written(kit, tmp_path,
                                                                                                monkeypatch):  # fmt: skip
    """Were 'Error: No space left on device' and 'Error: interrupted': which file, and whether one was left, unsaid."""
    import roadseg.export.onnx as onnx_export
    import roadseg.export.quantize as quantize

    def full(*args, **kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    def ctrl_c(*args, **kw):
        raise KeyboardInterrupt

    out = tmp_path / "x.onnx"
    for fault, code, says in ((full, 1, f"cannot write {out}: No space left on device; {out} is not written"),
                              (ctrl_c, 130, f"interrupted; {out} is not written")):  # fmt: skip
        monkeypatch.setattr(onnx_export, "export_onnx", fault)
        r = CliRunner().invoke(main, ["export", str(kit / "best.pt"), "-o", str(out)])
        assert _one_error_line(r, code) == f"Error: {says}"
        monkeypatch.setattr(quantize, "quantize_int8", fault)
        r = CliRunner().invoke(main, ["quantize", str(kit / "m.onnx"), "-o", str(out), "--data", str(kit / "data"),
                                      "--frames", "1"])  # fmt: skip
        assert _one_error_line(r, code) == f"Error: {says}"
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_pack_data_says_what_is_left_and_refuses_a_label_training_would_refuse(kit, tmp_path, monkeypatch):
    """Ctrl-C was 'Error: interrupted' alone; a label of class 40 was packed (and refused only on the GPU box); a
    folder that cannot be made (/proc) was '[Errno 2] No such file or directory: '/proc/.pk.part''."""
    import roadseg.data.pack as pack

    bad = make_segnet(tmp_path / "bad", n=2, h=40, w=48)
    cv2.imwrite(str(bad / "trainannot" / "0001TP_000001.png"), np.full((40, 48), 40, np.uint8))
    r = CliRunner().invoke(main, ["pack-data", str(bad), str(tmp_path / "pk")])
    assert "holds class 40" in _one_error_line(r) and not (tmp_path / "pk").exists()
    if not NO_PROC:
        r = CliRunner().invoke(main, ["pack-data", str(kit / "data"), "/proc/pk"])
        assert _one_error_line(r) == "Error: cannot create /proc/pk: No such file or directory (nothing was packed)"

    def ctrl_c(*args, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(pack.cv2, "imwrite", ctrl_c)
    r = CliRunner().invoke(main, ["pack-data", str(kit / "data"), str(tmp_path / "pk")])
    assert _one_error_line(r, 130) == f"Error: interrupted; nothing was packed ({tmp_path / 'pk'} is as it was)"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad"]


def test_a_release_that_fails_or_is_stopped_leaves_no_empty_out_and_says_so(kit, tmp_path, monkeypatch):
    """Both left the --out they made, empty; Ctrl-C said 'Error: interrupted' alone, a full disk 'Error: No space left
    on device'."""
    import roadseg.export.release as release

    def ctrl_c(*args, **kw):
        raise KeyboardInterrupt

    def full(*args, **kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    out = tmp_path / "runs" / "rel"
    for fault, code, says in ((ctrl_c, 130, "interrupted"), (full, 1, f"cannot write into {out}: No space left on "
                                                                      "device")):  # fmt: skip
        monkeypatch.setattr(release, "export_onnx", fault)
        r = CliRunner().invoke(main, ["release", str(kit / "best.pt"), "--data", str(kit / "data"), "--out", str(out)])
        assert _one_error_line(r, code) == f"Error: {says}; {out}, which the release made, is removed"
        assert not (tmp_path / "runs").exists()
    out.mkdir(parents=True)
    r = CliRunner().invoke(main, ["release", str(kit / "best.pt"), "--data", str(kit / "data"), "--out", str(out)])
    assert _one_error_line(r) == f"Error: cannot write into {out}: No space left on device; {out} is as it was"
    assert out.is_dir() and not any(out.iterdir())


def test_train_stopped_or_failed_before_it_saved_leaves_no_run_that_is_none(kit, tmp_path, monkeypatch):
    """A Ctrl-C while the optimizer was made (seconds of torch's imports, after --out was made) left an empty --out,
    unsaid; a full disk as last.pt was first written left log.csv and log.jsonl, a 'run' that a rerun was refused for
    ('holds another run ... resume it with --resume .../last.pt', a file that is not there)."""
    import roadseg.train.loop as loop
    import roadseg.train.weights as weights

    out = tmp_path / "run"
    run = ["train", "--data", str(kit / "data"), *TRAIN, "--out", str(out)]
    real = loop.optimizer

    def ctrl_c(*args, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "optimizer", ctrl_c)
    r = CliRunner().invoke(main, run)
    assert _one_error_line(r, 130) == "Error: interrupted" and not out.exists()
    monkeypatch.setattr(loop, "optimizer", real)

    def full(obj, path):
        Path(path).write_bytes(b"x" * 100)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(weights.torch, "save", full)
    r = CliRunner().invoke(main, run)
    line = [line for line in r.output.splitlines() if line.startswith("Error")]
    assert r.exit_code == 1 and r.exception.__class__ is SystemExit, r.output
    assert line == [f"Error: cannot write {out / 'last.pt'}: the disk is full (0 MB of it written); last.pt is not "
                    f"written; no epoch was saved, so {out}, which the run made, is removed"], r.output  # fmt: skip
    assert not out.exists()


def test_train_refuses_the_data_folder_as_its_out(kit):
    """Was a run whose checkpoints and logs were written among the frames of --data, exit 0."""
    r = CliRunner().invoke(main, ["train", "--data", str(kit / "data"), *TRAIN, "--out", str(kit / "data") + os.sep])
    assert r.exit_code == 2 and "is the --data folder" in r.output, r.output
    assert sorted(p.name for p in (kit / "data").iterdir()) == ["train", "trainannot", "val", "valannot"]


def test_sizes_that_cannot_fit_in_memory_are_one_line_before_any_work(kit, tmp_path):
    """Were OpenCV's traceback ('Insufficient memory ... Failed to allocate 29999400003 bytes'): eval at --size
    99999x99999, train at that --size, quantize of a model whose input_size is that."""
    from roadseg.export.onnx import export_onnx

    data = str(kit / "data")
    huge = export_onnx(trained_like(4, decoder_channels=SMALL), tmp_path / "huge.onnx", input_size=(99999, 99999))
    cases = [
        (["eval", str(rule_model(tmp_path / "rule.onnx")), "--data", data, "--size", "99999x99999", "--limit", "1"],
         "working size 99999x99999 at batch 1 needs about"),
        (["quantize", str(huge), "-o", str(tmp_path / "q.onnx"), "--data", data, "--frames", "1"],
         "calibrating on 1 frames at 99999x99999, the model's input_size, needs about"),
    ]  # fmt: skip
    for args, says in cases:
        assert says in _one_error_line(CliRunner().invoke(main, args)), args
    train = ["train", "--data", data, *TRAIN[:2], "--size", "99999x99999", "--out", str(tmp_path / "run")]
    assert "size must be H W, each from 1 to 4096" in _one_error_line(CliRunner().invoke(main, train), 2)  # (a bound
    assert sorted(p.name for p in tmp_path.iterdir()) == ["huge.onnx", "rule.onnx"]  # now: roadseg.train.config)


def test_a_damaged_label_is_one_line_without_opencvs_own(kit, tmp_path, capfd):
    """OpenCV printed '[ERROR:0@2.2] global grfmt_png.cpp:296 readHeader IHDR chunk shall be first ...' on the
    process's stderr above the Error: line."""
    bad = make_segnet(tmp_path / "bad", n=2, h=40, w=48)
    (bad / "valannot" / "0001TP_000001.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 30)
    capfd.readouterr()
    r = CliRunner().invoke(main, ["eval", str(rule_model(tmp_path / "rule.onnx")), "--data", str(bad)])
    assert "cannot decode label" in _one_error_line(r)
    assert "IHDR" not in capfd.readouterr().err


def test_bench_refuses_absurd_threads_and_leaves_no_empty_out(kit, tmp_path, monkeypatch):
    """--threads 100000 made onnxruntime start threads for minutes, silent (a hang); a bench refused left its --out
    folder, empty."""
    import roadseg.tools.bench as bench

    def ran(*args, **kw):
        raise FileNotFoundError("no models to benchmark: ship models/ or pass --model")

    monkeypatch.setattr(bench, "run_bench", ran)
    video = write_video(tmp_path / "v.mp4", [np.zeros((40, 48, 3), np.uint8)] * 4)
    args = ["bench", "--video", str(video), "--model", str(kit / "m.onnx"), "--out", str(tmp_path / "b")]
    r = CliRunner().invoke(main, [*args, "--threads", "100000"])
    assert r.exit_code == 2 and "--threads" in r.output, r.output
    assert _one_error_line(CliRunner().invoke(main, args)) == "Error: no models to benchmark: ship models/ or pass --model"
    assert not (tmp_path / "b").exists()


def test_the_commands_suggested_after_quantize_are_quoted_for_a_shell(kit, tmp_path):
    """'score it with: roadseg eval q é.onnx --data my data' cannot be pasted into a shell."""
    import shutil

    data = shutil.copytree(kit / "data", tmp_path / "my data")
    out = tmp_path / "q é.onnx"
    r = CliRunner().invoke(main, ["quantize", str(kit / "m.onnx"), "-o", str(out), "--data", str(data), "--frames", "1"])
    assert r.exit_code == 0, r.output
    assert r.output.rstrip().endswith(f"score it with: roadseg eval '{out}' --data '{data}'"), r.output


def test_a_folder_given_for_a_model_or_for_classes_txt_is_said_as_one(kit, tmp_path):
    """eval of a folder said 'model not found: runs' (it is there); a classes.txt that is a folder was taken for none:
    the run trained on CamVid's 11 classes, unsaid."""
    r = CliRunner().invoke(main, ["eval", str(kit / "data"), "--data", str(kit / "data")])
    assert _one_error_line(r) == f"Error: {kit / 'data'} is a folder, not a model file (an .onnx, or a run's best.pt)"
    own = make_segnet(tmp_path / "own", n=2, h=40, w=48)
    (own / "classes.txt").mkdir()
    r = CliRunner().invoke(main, ["train", "--data", str(own), *TRAIN, "--out", str(tmp_path / "run")])
    says = "is not a regular file (a folder, a FIFO ...): a text file, one class a line"
    assert _one_error_line(r) == f"Error: {own / 'classes.txt'} {says}"
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs mkfifo")
def test_a_fifo_given_for_a_file_is_refused_not_waited_on(kit, tmp_path):
    """A FIFO (mkfifo) given for a checkpoint, a model, a clip or a classes.txt hung the command, blocked reading it."""
    fifo = tmp_path / "f.pt"
    os.mkfifo(fifo)
    data, ckpt, model = str(kit / "data"), str(kit / "best.pt"), str(kit / "m.onnx")
    cases = [["export", str(fifo), "-o", str(tmp_path / "x.onnx")],
             ["quantize", str(fifo), "-o", str(tmp_path / "q.onnx"), "--data", data],
             ["soup", model, str(fifo), "-o", str(tmp_path / "s.pt"), "--data", data],
             ["release", ckpt, "--data", data, "--out", str(tmp_path / "r"), "--check", str(fifo)],
             ["train", "--data", data, *TRAIN, "--resume", str(fifo), "--out", str(tmp_path / "t")],
             ["train", "--data", data, *TRAIN, "--encoder-weights", str(fifo), "--out", str(tmp_path / "t")],
             ["bench", "--video", str(fifo), "--out", str(tmp_path / "b")]]  # fmt: skip
    for args in cases:
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 2 and "is not a regular file (a FIFO, a device ...)" in r.output, (args, r.output)
    r = CliRunner().invoke(main, ["eval", str(fifo), "--data", data])
    assert _one_error_line(r) == f"Error: {str(fifo)!r} is not a regular file (a FIFO, a device ...): name the file itself"
    own = make_segnet(tmp_path / "own", n=2, h=40, w=48)
    os.mkfifo(own / "classes.txt")
    r = CliRunner().invoke(main, ["train", "--data", str(own), *TRAIN, "--out", str(tmp_path / "t")])
    assert "classes.txt is not a regular file" in _one_error_line(r)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.pt", "own"]


def test_a_logit_adjustment_that_makes_infinite_offsets_is_refused_in_one_line(kit, tmp_path, capfd):
    """--logit-adjust 1e308 was two NumPy RuntimeWarnings (overflow, invalid value) and a network of NaN scores: eval
    scored it, release failed its parity check ('agree on 0.000% of labels') after minutes."""
    from roadseg.train.loop import TrainConfig, train

    data = make_segnet(tmp_path / "data", n=2, h=40, w=48)
    train(TrainConfig(data=str(data), out=str(tmp_path / "run"), epochs=1, batch_size=2, crop=(32, 32), amp="off",
                      device="cpu", workers=0, model={"decoder_channels": SMALL}, size=(40, 48), max_steps=1))  # fmt: skip
    capfd.readouterr()
    says = "Error: --logit-adjust 1e+308 makes the class scores' offsets infinite: give a smaller one (0 to 1, chosen on a check run)"
    r = CliRunner().invoke(main, ["eval", str(tmp_path / "run" / "best.pt"), "--data", str(data), "--logit-adjust", "1e308"])
    assert _one_error_line(r) == says and "RuntimeWarning" not in capfd.readouterr().err
    r = CliRunner().invoke(main, ["release", str(tmp_path / "run" / "best.pt"), "--data", str(data), "--out",
                                  str(tmp_path / "rel"), "--logit-adjust", "1e308"])  # fmt: skip
    assert _one_error_line(r) == says and not (tmp_path / "rel").exists()


def test_a_read_only_disk_is_one_line_naming_the_output_not_hidden_by_the_clean_up(kit, tmp_path, monkeypatch):
    """On a read-only disk (EROFS) even the unlink of a file that is not there fails: export said '.x.onnx.part:
    Read-only file system' (the clean-up's error, of a hidden name); train's clean-up of a run that saved nothing
    hid the error with its own ('last.pt: Read-only file system'); bench found out as it wrote bench.json, after
    minutes of timing, the figures lost."""
    import roadseg.export.onnx as onnx_export
    import roadseg.pipeline.sinks.base as sinks_base
    import roadseg.tools.bench as bench
    import roadseg.train.loop as loop

    def read_only(*args, **kw):
        raise OSError(errno.EROFS, "Read-only file system", str(args[0]) if args else None)

    out = tmp_path / "x.onnx"
    monkeypatch.setattr(onnx_export, "export_onnx", lambda net, path, **kw: read_only(path))
    monkeypatch.setattr(Path, "unlink", read_only)
    r = CliRunner().invoke(main, ["export", str(kit / "best.pt"), "-o", str(out)])
    assert _one_error_line(r) == f"Error: cannot write {out}: Read-only file system; {out} is not written"
    run = tmp_path / "run"
    run.mkdir()
    monkeypatch.setattr(loop, "log", lambda folder, row, classes: read_only(folder / "log.jsonl"))
    r = CliRunner().invoke(main, ["train", "--data", str(kit / "data"), *TRAIN, "--out", str(run)])
    line = [line for line in r.output.splitlines() if line.startswith("Error")]
    assert line == [f"Error: cannot write {run / 'log.jsonl'}: Read-only file system; no epoch was saved, so nothing "
                    f"of it is left in {run}"], r.output  # fmt: skip

    def timed(*args, **kw):
        raise AssertionError("minutes of timing")

    monkeypatch.setattr(bench, "run_bench", timed)
    monkeypatch.setattr(sinks_base, "open", read_only, raising=False)  # (bench's probe of --out: check_writable's open)
    video = write_video(tmp_path / "v.mp4", [np.zeros((40, 48, 3), np.uint8)] * 4)
    r = CliRunner().invoke(main, ["bench", "--video", str(video), "--out", str(run)])
    assert _one_error_line(r) == f"Error: cannot write into {run}: Read-only file system"


def test_a_seed_out_of_range_and_soup_weights_without_a_finite_sum_are_usage_errors(kit, tmp_path):
    """train --seed -1 was torch's 'Error: expected non-negative integer' (which option, unsaid), and a huge seed
    'Overflow when unpacking long long'; soup --weight 1e308 --weight 1e308 normalised them by an infinite sum: every
    weight 0, a soup of zeros written, exit 0."""
    for seed in ("-1", str(2**70)):
        r = CliRunner().invoke(main, ["train", "--data", str(kit / "data"), *TRAIN, "--seed", seed, "--out",
                                      str(tmp_path / "run")])  # fmt: skip
        assert r.exit_code == 2 and "Invalid value for '--seed'" in r.output, r.output
    model = str(kit / "m.onnx")
    r = CliRunner().invoke(main, ["soup", model, model, "-o", str(tmp_path / "s.pt"), "--data", str(kit / "data"),
                                  "--weight", "1e308", "--weight", "1e308"])  # fmt: skip
    assert r.exit_code == 2 and "has no finite sum to normalise them by" in r.output, r.output
    assert sorted(tmp_path.iterdir()) == []


def test_a_holdout_of_every_frame_is_the_one_error_line_without_numpys_warnings(kit, tmp_path):
    """--holdout of the only sequence: two NumPy RuntimeWarnings ('Mean of empty slice', 'invalid value encountered
    in scalar divide': the class weights of no frames), four lines above the Error: line."""
    import warnings

    with warnings.catch_warnings(record=True) as said:  # (pytest's own capture would hide them from the output)
        warnings.simplefilter("always")
        r = CliRunner().invoke(main, ["train", "--data", str(kit / "data"), *TRAIN, "--holdout", "0001TP", "--out",
                                      str(tmp_path / "run")])  # fmt: skip
    assert _one_error_line(r) == ("Error: 0 training frames make no batch of 2: lower --batch-size or hold less out "
                                  "(--holdout)")  # fmt: skip
    assert [str(w.message) for w in said if w.category is RuntimeWarning] == [] and not (tmp_path / "run").exists()


def test_a_ctrl_c_as_a_releases_files_move_in_is_let_be(kit, tmp_path, monkeypatch):
    """A Ctrl-C as the built files were moved into --out (or as the temporary folder was removed) said "interrupted;
    rel is as it was", exit 130, with the files in and .release-* left; the work is whole there: it is let be (as
    segment-video lets one be once its outputs are finalised)."""
    import signal

    import roadseg._startup as startup
    import roadseg.export.release as release

    real, said = os.replace, []

    def ctrl_c_then_replace(src, dst):
        if not said:
            said.append(dst)
            os.kill(os.getpid(), signal.SIGINT)
        real(src, dst)

    out = tmp_path / "rel"
    out.mkdir()
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    monkeypatch.setattr(startup, "is_command", lambda: True)  # (as in `roadseg release`: a command's own signals)
    monkeypatch.setattr(release.os, "replace", ctrl_c_then_replace)
    try:
        r = CliRunner().invoke(main, ["release", str(kit / "best.pt"), "--data", str(kit / "data"), "--out", str(out),
                                      "--calib-frames", "1"])  # fmt: skip
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == ["eval.json", "unet-r34-camvid-int8.onnx", "unet-r34-camvid.onnx"]
