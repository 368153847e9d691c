import json
import re
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

torch = pytest.importorskip("torch")

from conftest import rule_model, trained_like  # noqa: E402
from test_data import _png, make_segnet  # noqa: E402

import roadseg.train.checkpoint as checkpoint  # noqa: E402
import roadseg.train.loop as loop  # noqa: E402
import roadseg.train.schedule as schedule  # noqa: E402
from roadseg.classes import CLASSES  # noqa: E402
from roadseg.cli import main  # noqa: E402
from roadseg.model import Preprocess, UNetResNet34  # noqa: E402
from roadseg.train.data import load_data, median_frequency_weights, phase_index, phases  # noqa: E402
from roadseg.train.loop import TrainConfig, train  # noqa: E402
from roadseg.train.start import load_encoder_weights  # noqa: E402

SMALL = {"decoder_channels": [32, 16, 16, 8, 8]}


def _cfg(tmp_path, **kw):
    base = dict(data=str(make_segnet(tmp_path / "data", n=4, h=40, w=48)), out=str(tmp_path / "run"), epochs=2,
                batch_size=2, crop=(32, 32), amp="off", device="cpu", workers=0, model=SMALL, size=(40, 48))  # fmt: skip
    base.update(kw)
    return TrainConfig(**base)


def test_a_fastai_copy_without_valid_txt_trains_on_a_holdout_or_says_what_to_do(tmp_path):
    """fastai's camvid_tiny (no valid.txt) was refused even with --holdout, which needs no val split."""
    from test_data import make_fastai

    root = make_fastai(tmp_path / "tiny")
    (root / "valid.txt").unlink()
    with pytest.raises(FileNotFoundError, match="valid.txt"):
        load_data(_cfg(tmp_path, data=str(root)))
    data = load_data(_cfg(tmp_path, data=str(root), holdout=("Seq05VD:0.25",)))
    assert [len(data[k][0]) for k in ("train", "check", "val")] == [3, 1, 0]
    assert len(load_data(_cfg(tmp_path, data=str(root), select="last"))["train"][0]) == 4


def test_a_runs_check_alone_is_read_without_the_frames_it_trained_on(tmp_path, monkeypatch):
    """release --check read all of train and val (load_data) to score the check run on its held-out frames."""
    from roadseg.data.camvid import CamVid

    cfg = _cfg(tmp_path, data=str(make_segnet(tmp_path / "data", n=8, h=40, w=48)), holdout=("0001TP:0.25",))
    whole = load_data(cfg)
    read = []
    getitem = CamVid.__getitem__
    monkeypatch.setattr(CamVid, "__getitem__", lambda self, i: read.append(i) or getitem(self, i))
    alone = load_data(cfg, only_check=True)
    assert [len(alone[k][0]) for k in ("train", "check", "val")] == [0, 2, 0] and len(read) == 2
    assert all((a == b).all() for a, b in zip(sum(alone["check"], []), sum(whole["check"], [])))


def test_a_new_run_into_the_folder_of_another_is_refused_unless_y(tmp_path):
    """Running train again with the same --out (the default runs/unet-r34 too) replaced the first run's
    best.pt and last.pt without a word and appended its epochs to the first run's log.csv (epochs 1, 2, 1)."""
    from roadseg.errors import OutputError

    train(_cfg(tmp_path, epochs=2, select="last"))
    run = tmp_path / "run"
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    with pytest.raises(OutputError, match=f"{run} holds another run \\(last.pt, best.pt, log.csv, log.jsonl\\): resume it"):
        train(_cfg(tmp_path, epochs=1, select="last"))
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    r = CliRunner().invoke(main, ["train", "--data", str(tmp_path / "data"), "--out", str(run), "--epochs", "1"])
    assert r.exit_code == 1 and r.output.startswith(f"Error: {run} holds another run"), r.output
    train(_cfg(tmp_path, epochs=1, select="last"), overwrite=True)
    assert [line.split(",")[0] for line in (run / "log.csv").read_text().splitlines()] == ["epoch", "1"]
    train(_cfg(tmp_path, epochs=2, select="last"), resume=run / "last.pt")  # (its own run: resumed, as before)
    assert [line.split(",")[0] for line in (run / "log.csv").read_text().splitlines()] == ["epoch", "1", "2"]


def test_resume_without_out_goes_on_in_the_resumed_runs_folder(tmp_path, monkeypatch):
    """train --resume runs/mine/last.pt (no --out) went on in ./runs/unet-r34, the default: a second folder,
    while runs/mine/last.pt stayed at the epoch resumed from."""
    train(_cfg(tmp_path, epochs=1, select="last"))
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["train", "--data", "data", "--resume", "run/last.pt", "--epochs", "2"])
    assert r.exit_code == 0, r.output
    assert not (tmp_path / "runs").exists()
    assert [line.split(",")[0] for line in (tmp_path / "run/log.csv").read_text().splitlines()] == ["epoch", "1", "2"]
    # a run that has trained as long as asked: one line, not a silent "best ..." as if it had trained on
    for epochs in ("2", "1"):
        r = CliRunner().invoke(main, ["train", "--data", "data", "--resume", "run/last.pt", "--epochs", epochs])
        assert r.exit_code == 1 and r.output == (f"Error: run/last.pt holds epoch 2 already: nothing is left up to "
                                                 f"--epochs {epochs}; to go on, resume with a larger --epochs, e.g. "
                                                 "--epochs 3\n"), r.output  # (was "give more to go on": more what?)


def test_a_few_steps_lower_the_loss():
    torch.manual_seed(0)
    net, pre = UNetResNet34(11, decoder_channels=(32, 16, 16, 8, 8)), Preprocess()
    x = torch.randint(0, 256, (2, 32, 32, 3), dtype=torch.uint8)
    y = (x[..., 0] // 64).long()  # a learnable rule: 4 classes from the red channel
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3)
    losses = []
    for _ in range(12):
        loss = torch.nn.functional.cross_entropy(net(pre(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_training_writes_checkpoints_and_logs(tmp_path):
    result = train(_cfg(tmp_path))
    run = tmp_path / "run"
    assert (run / "last.pt").is_file() and (run / "best.pt").is_file()
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2] and all(0 <= r["miou"] <= 1 for r in rows)
    assert (run / "log.csv").read_text().startswith("epoch,lr,train_loss,miou")
    assert result["best_epoch"] in (1, 2)


#: Every part of the long recipe at once: progressive phases, EMA, wide photometric, degradations, copy-paste,
#: the Lovász term.
RECIPE = dict(phases=((1, 0.5, 16, 24), (1, 1.0, 32, 32)), ema=0.9, gamma=0.5, colour_cast=0.1, blur=0.5, noise=0.5,
              paste=0.5, lovasz=1.0)  # fmt: skip


@pytest.mark.parametrize("recipe", [{}, RECIPE], ids=["plain", "recipe"])
def test_resume_continues_exactly(tmp_path, monkeypatch, recipe):
    straight = train(_cfg(tmp_path / "a", **recipe))
    want = torch.load(tmp_path / "a/run/last.pt", weights_only=False)

    real, calls = loop.train_one_epoch, {"n": 0}

    def interrupted(*args, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # the machine went away during epoch 2
        return real(*args, **kw)

    monkeypatch.setattr(loop, "train_one_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(_cfg(tmp_path / "b", **recipe))
    monkeypatch.setattr(loop, "train_one_epoch", real)
    resumed = train(_cfg(tmp_path / "b", **recipe), resume=tmp_path / "b/run/last.pt")
    got = torch.load(tmp_path / "b/run/last.pt", weights_only=False)
    for k, v in want["model"].items():
        assert torch.equal(v, got["model"][k]), k
    if recipe.get("ema"):
        for k, v in want["ema"]["model"].items():
            assert torch.equal(v, got["ema"]["model"][k]), k
    assert [r["train_loss"] for r in resumed["history"]] == [r["train_loss"] for r in straight["history"]]
    assert got["schedule"]["steps"] == want["schedule"]["steps"] == 4
    assert got["optimizer"]["param_groups"][0]["lr"] == want["optimizer"]["param_groups"][0]["lr"]


def test_holdout_is_scored_as_the_check_and_chooses_best(tmp_path):
    cfg = _cfg(tmp_path, holdout=("0001TP:0.5",), epochs=3, ema=0.5, eval_every=2)
    data = load_data(cfg)
    assert len(data["train"][0]) == 2 and len(data["check"][0]) == 2 and len(data["val"][0]) == 4
    result = train(cfg)
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows if "check_miou" in r] == [2, 3]  # evaluated every 2 epochs and at the end
    rows = [r for r in rows if "check_miou" in r]
    assert all(0 <= r["check_miou"] <= 1 and len(r["check_iou"]) == 11 and r["miou"] is not None for r in rows)
    best = max(rows, key=lambda r: r["check_miou"])
    assert result["best_miou"] == best["check_miou"] and result["best_epoch"] == best["epoch"]
    import csv

    with open(tmp_path / "run" / "log.csv") as f:  # columns stay aligned although epochs log different keys
        csv_rows = list(csv.DictReader(f))
    assert [r["check_miou"] for r in csv_rows][0] == ""  # epoch 1: not evaluated
    csv_rows = csv_rows[1:]
    assert [float(r["check_miou"]) for r in csv_rows] == [r["check_miou"] for r in rows]
    assert [float(r["check_iou_Road"]) for r in csv_rows] == [r["check_iou"][3] for r in rows]
    # best.pt holds the scored (EMA) weights; last.pt keeps both for resuming
    best_pt = torch.load(tmp_path / "run" / "best.pt", weights_only=False)
    last_pt = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    if best["epoch"] == 3:
        for k, v in last_pt["ema"]["model"].items():
            assert torch.equal(v, best_pt["model"][k]), k


def test_final_fit_on_train_and_val_scores_nothing_it_trained_on(tmp_path):
    cfg = _cfg(tmp_path, train_splits=("train", "val"), select="last", epochs=1)
    data = load_data(cfg)
    assert len(data["train"][0]) == 8 and not data["val"][0] and not data["check"][0]
    result = train(cfg)
    assert result["best_miou"] is None and result["best_epoch"] == 1
    assert (tmp_path / "run" / "best.pt").is_file()


def test_a_final_fit_holds_out_per_split_the_frames_eval_and_quantize_hold_out(tmp_path):
    from roadseg.data.camvid import CamVid

    data = make_segnet(tmp_path / "data", n=4, h=40, w=48)  # 0001TP_000000..3 in train and in val
    rng = np.random.default_rng(2)
    for i in range(10, 14):  # val also holds later frames of the sequence, as 0016E5 does in CamVid
        _png(data / "val" / f"0001TP_{i:06d}.png", rng.integers(0, 256, (40, 48, 3), dtype=np.uint8))
        _png(data / "valannot" / f"0001TP_{i:06d}.png", rng.integers(0, 12, (40, 48), dtype=np.uint8))
    cfg = _cfg(tmp_path, data=str(data), train_splits=("train", "val"), holdout=("0001TP:0.5",))
    check = load_data(cfg)["check"][0]
    want = [im for split in cfg.train_splits
            for im, _ in CamVid(data, split, size=cfg.size).split_off(cfg.holdout)[1]]  # fmt: skip
    assert len(check) == len(want) == 2 + 4  # half of train's 4, half of val's 8: not val's last 6
    assert all(np.array_equal(a, b) for a, b in zip(check, want))


@pytest.mark.parametrize("kind", ["onnx", "pt"])
def test_init_starts_the_whole_network_from_a_release_or_a_checkpoint(tmp_path, kind):
    from roadseg.export.onnx import export_onnx

    source = trained_like(5, decoder_channels=(16, 16, 8, 8), stem_padding="replicate")
    if kind == "onnx":
        path = export_onnx(source, tmp_path / "released.onnx", input_size=(40, 48))
    else:
        path = tmp_path / "released.pt"
        torch.save({"model": source.state_dict(), "model_config": source.config}, path)
    # lr ~ 0: one epoch leaves every weight where --init put it (BN statistics move, weights do not)
    cfg = _cfg(tmp_path, init=str(path), epochs=1, lr=1e-12, weight_decay=0.0, model={})
    train(cfg)
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    assert state["model_config"]["decoder_channels"] == (16, 16, 8, 8)  # the file's architecture, not SMALL
    assert state["config"]["model"]["decoder_channels"] == (16, 16, 8, 8)  # so --resume rebuilds it
    assert state["config"]["init"] == str(path)
    got = state["model"]
    # a release's convs carry their folded BNs; the head has none, so it is the source's exactly
    names = ("head.weight",) if kind == "onnx" else ("encoder.conv1.weight", "decoder.0.conv1.0.weight", "head.weight")
    for name in names:
        want = source.state_dict()[name]
        assert torch.allclose(got[name], want, atol=1e-5), name
    # without --init the same run starts from random weights
    train(_cfg(tmp_path / "plain", epochs=1, lr=1e-12, weight_decay=0.0,
               model={"decoder_channels": [16, 16, 8, 8], "stem_padding": "replicate"}))  # fmt: skip
    plain = torch.load(tmp_path / "plain" / "run" / "last.pt", weights_only=False)["model"]
    assert not torch.allclose(plain["head.weight"], source.state_dict()["head.weight"], atol=1e-3)


def test_init_with_another_architecture_asked_for_is_refused(tmp_path):
    """train --init released.onnx --decoder-channels 32,16,8,8 trained the file's own decoder (16,16,8,8) without a
    word; asking for what the file has is fine."""
    source = trained_like(5, decoder_channels=(16, 16, 8, 8), stem_padding="replicate")
    path = tmp_path / "released.pt"
    torch.save({"model": source.state_dict(), "model_config": source.config}, path)
    with pytest.raises(ValueError, match=r"released.pt has --decoder-channels 16,16,8,8: --init starts the run from"):
        train(_cfg(tmp_path, init=str(path), epochs=1))  # SMALL's decoder: 32,16,16,8,8
    with pytest.raises(ValueError, match=r"has --stem-padding replicate"):
        train(_cfg(tmp_path, init=str(path), epochs=1, model={"stem_padding": "zeros"}))
    assert not (tmp_path / "run").exists()
    train(_cfg(tmp_path, init=str(path), epochs=1, select="last",
               model={"decoder_channels": [16, 16, 8, 8], "stem_padding": "replicate"}))  # fmt: skip


def test_init_with_encoder_weights_is_refused(tmp_path):
    with pytest.raises(ValueError, match="cannot be combined"):
        train(_cfg(tmp_path, init="x.onnx", encoder_weights="imagenet"))


def test_holdout_of_an_unknown_sequence_fails_clearly(tmp_path):
    with pytest.raises(ValueError, match="no frames of sequence"):
        load_data(_cfg(tmp_path, holdout=("Seq05VD",)))


def test_progressive_phases_pick_resolution_and_crop():
    def phase_at(cfg, epoch, progress=0.0):
        return phases(cfg)[phase_index(cfg, epoch, progress)]

    cfg = TrainConfig(data="x", epochs=10, phases=((3, 0.5, 16, 24), (7, 1.0, 32, 48)))
    assert [phase_at(cfg, e) for e in (0, 2, 3, 9, 12)] == [(0.5, (16, 24))] * 2 + [(1.0, (32, 48))] * 3
    assert phase_at(TrainConfig(data="x", crop=(8, 8)), 5) == (1.0, (8, 8))
    timed = TrainConfig(data="x", minutes=10, phases=((3, 0.5, 16, 24), (1, 1.0, 32, 48)))  # shares of the time
    assert [phase_at(timed, 99, p)[0] for p in (0.0, 0.74, 0.76, 1.0)] == [0.5, 0.5, 1.0, 1.0]


@pytest.mark.parametrize("kind,total", [("onecycle", 4), ("onecycle", 37), ("onecycle", 500), ("cosine", 37)])
def test_the_schedule_is_torchs_own_in_closed_form(kind, total):
    from roadseg.train.schedule import Schedule

    net = torch.nn.Linear(2, 2)
    ours, theirs = torch.optim.AdamW(net.parameters(), lr=1e-3), torch.optim.AdamW(net.parameters(), lr=1e-3)
    if kind == "onecycle":
        ref = torch.optim.lr_scheduler.OneCycleLR(theirs, max_lr=1e-3, total_steps=total, pct_start=0.1,
                                                  div_factor=20, final_div_factor=200)  # fmt: skip
    else:
        ref = torch.optim.lr_scheduler.CosineAnnealingLR(theirs, T_max=total, eta_min=1e-6)
    sched = Schedule(ours, kind, 1e-3, total_steps=total)
    for step in range(total):
        got, want = ours.param_groups[0], theirs.param_groups[0]
        assert got["lr"] == pytest.approx(want["lr"], rel=1e-9, abs=1e-15), step
        assert got["betas"][0] == pytest.approx(want["betas"][0], rel=1e-12), step  # one-cycle's beta1
        sched.step()
        theirs.step()  # no gradients: only counts, as torch wants a step before its scheduler's
        ref.step()
    assert sched.finished


def test_a_timed_run_fits_its_whole_schedule_into_its_minutes_and_resumes_on_its_clock(tmp_path, monkeypatch):
    budget = 0.05  # minutes: 3 s, on a clock that each optimizer step moves on by 0.5 s (a loaded machine's
    now = {"s": 0.0}  # slow first steps must not decide how many epochs fit): 6 steps, 3 epochs of 2
    monkeypatch.setattr(schedule, "clock", lambda: now["s"])
    real_step = schedule.Schedule.step
    monkeypatch.setattr(schedule.Schedule, "step", lambda self: (now.update(s=now["s"] + 0.5), real_step(self)))
    result = train(_cfg(tmp_path / "a", minutes=budget, epochs=1, eval_every=1000, **RECIPE))
    state = torch.load(tmp_path / "a/run/last.pt", weights_only=False)
    rows = result["history"]
    assert len(rows) >= 2  # --epochs does not bound a timed run
    assert state["schedule"]["elapsed"] >= 60 * budget
    assert rows[-1]["lr"] == pytest.approx(2e-3 / 4000)  # annealed to the end, however many steps fitted
    assert max(r["lr"] for r in rows) > 2e-3 / 20  # and warmed up on the way
    assert rows[-1]["miou"] is not None and all(r["miou"] is None for r in rows[:-1])  # scored at the end

    _ctrl_c_in_the_second_epoch(_cfg(tmp_path / "b", minutes=budget, **RECIPE), monkeypatch)
    spent = torch.load(tmp_path / "b/run/last.pt", weights_only=False)["schedule"]["elapsed"]
    assert 0 < spent < 60 * budget
    resumed = train(_cfg(tmp_path / "b", minutes=budget, **RECIPE), resume=tmp_path / "b/run/last.pt")
    assert [r["epoch"] for r in resumed["history"]] == list(range(1, len(resumed["history"]) + 1))
    assert torch.load(tmp_path / "b/run/last.pt", weights_only=False)["schedule"]["elapsed"] >= 60 * budget
    with pytest.raises(ValueError, match="run by --minutes"):
        train(_cfg(tmp_path / "b", epochs=3), resume=tmp_path / "b/run/last.pt")


def test_last_pt_is_written_at_most_once_a_minute_and_a_resume_runs_the_epochs_after_it_again(
        tmp_path, monkeypatch, capsys):  # fmt: skip
    writes = []
    real_save = checkpoint.save_atomic
    monkeypatch.setattr(checkpoint, "save_atomic", lambda obj, path: (writes.append(path.name), real_save(obj, path)))
    monkeypatch.setattr(loop, "CHECKPOINT_SECONDS", 3600.0)
    straight = train(_cfg(tmp_path / "a", epochs=4, select="last"))
    assert writes == ["last.pt", "best.pt"] * 2  # after the first epoch and the last; best.pt (select last) with them
    assert torch.load(tmp_path / "a/run/best.pt", weights_only=False)["epoch"] == 3
    assert straight["best_epoch"] == 4

    real, calls = loop.train_one_epoch, {"n": 0}

    def interrupted(*args, **kw):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt  # epochs 2 and 3 done, not in last.pt
        return real(*args, **kw)

    monkeypatch.setattr(loop, "train_one_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(_cfg(tmp_path / "b", epochs=4, select="last"))
    assert torch.load(tmp_path / "b/run/last.pt", weights_only=False)["epoch"] == 0
    # Ctrl-C says why the epochs on the screen are not in last.pt (was: 'holds epoch 1' after 3 shown done)
    said = capsys.readouterr().out
    assert ("holds epoch 1 (epochs 2-3 done but not saved: last.pt is written at most once a minute; a resume "
            "runs them again, alike);") in said, said
    monkeypatch.setattr(loop, "train_one_epoch", real)
    resumed = train(_cfg(tmp_path / "b", epochs=4, select="last"), resume=tmp_path / "b/run/last.pt")
    assert [r["train_loss"] for r in resumed["history"]] == [r["train_loss"] for r in straight["history"]]
    rows = (tmp_path / "b/run/log.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows] == ["epoch", "1", "2", "3", "4"]  # no epoch twice
    assert len((tmp_path / "b/run/log.jsonl").read_text().splitlines()) == 4


def _ctrl_c_in_the_second_epoch(cfg: TrainConfig, monkeypatch) -> None:
    """The run of ``cfg`` interrupted (KeyboardInterrupt) as its second epoch trains: last.pt holds epoch 1."""
    real, calls = loop.train_one_epoch, {"n": 0}

    def interrupted(*args, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kw)

    monkeypatch.setattr(loop, "train_one_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    monkeypatch.setattr(loop, "train_one_epoch", real)


def test_ctrl_c_names_the_resume_that_goes_on_as_the_run_was(tmp_path, monkeypatch, capsys):
    """Ctrl-C said 'resume with --resume run/last.pt'; that command, as said, ran a 3-epoch run to 150 epochs (the
    length is the resuming command's), its one-cycle schedule stretched: the hint names the run's length too."""
    _ctrl_c_in_the_second_epoch(_cfg(tmp_path, epochs=3, select="last"), monkeypatch)
    said = capsys.readouterr().out
    assert f"holds epoch 1; resume with --resume {tmp_path / 'run/last.pt'} --epochs 3" in said, said


def _ctrl_c_in_the_first_epoch(cfg, monkeypatch) -> None:
    def interrupted(*args, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "train_one_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    monkeypatch.undo()


def test_ctrl_c_in_the_first_epoch_removes_the_empty_folder_the_run_made_and_no_other(tmp_path, monkeypatch, capsys):
    """Stopped before it saved an epoch, a run left its --out empty (and an empty runs/ above it), which looked like a
    run to resume: the folders it made go, and its line says so; a folder that was there before stays."""
    out = tmp_path / "runs" / "r34"
    _ctrl_c_in_the_first_epoch(_cfg(tmp_path, out=str(out)), monkeypatch)
    said = capsys.readouterr().out
    assert f"interrupted in epoch 1: no epoch was saved, so {out}, which the run made, is removed" in said, said
    assert not (tmp_path / "runs").exists() and (tmp_path / "data").is_dir()
    out.mkdir(parents=True)  # (made by the user: it stays)
    _ctrl_c_in_the_first_epoch(_cfg(tmp_path, out=str(out)), monkeypatch)
    assert out.is_dir() and capsys.readouterr().out.rstrip().endswith("interrupted in epoch 1: no epoch was saved")
    # a run stopped by its --minutes in its first epoch saved that epoch: there is something to resume
    timed = train(_cfg(tmp_path, out=str(tmp_path / "timed"), minutes=1e-4))
    assert len(timed["history"]) == 1 and (tmp_path / "timed" / "last.pt").is_file()


def test_a_plain_resume_goes_on_to_the_runs_own_length(tmp_path, monkeypatch):
    """train --resume run/last.pt without --epochs ran a 3-epoch run on to 150 epochs, its one-cycle schedule
    stretched over them: the length was the resuming command's, 150 where it gave none. --epochs still lengthens it."""
    _ctrl_c_in_the_second_epoch(_cfg(tmp_path, epochs=3, select="last"), monkeypatch)
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["train", "--data", "data", "--resume", "run/last.pt"])
    assert r.exit_code == 0, r.output
    # it says what it goes on from before the first epoch (was: the epochs' lines alone, as a fresh run's)
    assert r.output.startswith(f"roadseg: resuming run/last.pt after epoch 1 of 3, into {Path('run')}\n"), r.output
    assert [line.split(",")[0] for line in (tmp_path / "run/log.csv").read_text().splitlines()] == ["epoch", "1", "2", "3"]
    assert torch.load(tmp_path / "run/last.pt", weights_only=False)["config"]["epochs"] == 3
    r = CliRunner().invoke(main, ["train", "--data", "data", "--resume", "run/last.pt", "--epochs", "4"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "run/log.csv").read_text().splitlines()[-1].split(",")[0] == "4"


def test_a_resume_names_the_recipe_options_it_does_not_use(tmp_path, monkeypatch):
    """train --resume run/last.pt --lr 0.1 --crop 128x128 went on at the saved rate and crop without a word."""
    _ctrl_c_in_the_second_epoch(_cfg(tmp_path, epochs=3, select="last"), monkeypatch)
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["train", "--data", "data", "--resume", "run/last.pt", "--lr", "0.1", "--crop",
                                  "128x128", "--workers", "0", "--device", "cpu"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert r.output.count("not used") == 1
    assert "roadseg: --crop, --lr not used: a resumed run goes on with the recipe it was started with" in r.output
    assert torch.load(tmp_path / "run/last.pt", weights_only=False)["config"]["lr"] == _cfg(tmp_path).lr
    plain = CliRunner().invoke(main, ["train", "--data", "data", "--resume", "run/last.pt", "--epochs", "4",
                                      "--workers", "0"])  # fmt: skip
    assert plain.exit_code == 0 and "not used" not in plain.output, plain.output


def test_a_checkpoint_on_a_full_disk_says_so_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    """A full disk was torch's '[enforce fail at inline_container.cc:672] . unexpected pos ...', and the half-written
    last.tmp (150 MB) stayed, filling the disk."""
    import shutil
    from collections import namedtuple

    from roadseg.train import weights

    def full(obj, path):
        Path(path).write_bytes(b"x" * (3 << 20))
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 155946752 vs 155946644")

    (tmp_path / "last.pt").write_bytes(b"before")
    monkeypatch.setattr(weights.torch, "save", full)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(1 << 30, 1 << 30, 0))
    with pytest.raises(RuntimeError) as err:
        weights.save_atomic({}, tmp_path / "last.pt")
    assert str(err.value) == f"cannot write {tmp_path / 'last.pt'}: the disk is full (3 MB of it written); last.pt is as it was before"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"] and (tmp_path / "last.pt").read_bytes() == b"before"
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(1 << 30, 0, 1 << 30))
    monkeypatch.setattr(weights.torch, "save", lambda obj, path: open(tmp_path / "no/such/dir", "wb"))
    with pytest.raises(RuntimeError, match=r"last.pt: No such file or directory; last.pt is as it was before"):
        weights.save_atomic({}, tmp_path / "last.pt")


def test_worker_processes_stay_up_and_draw_what_the_main_process_draws(tmp_path):
    # persistent workers learn each epoch's phase from the sampler: the second phase's crops reach them
    runs = {w: train(_cfg(tmp_path / str(w), workers=w, **RECIPE)) for w in (0, 2)}
    assert [r["train_loss"] for r in runs[0]["history"]] == [r["train_loss"] for r in runs[2]["history"]]
    a, b = (torch.load(tmp_path / f"{w}/run/last.pt", weights_only=False)["model"] for w in (0, 2))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_median_frequency_weights_favour_rare_classes():
    lab = np.zeros((10, 10), np.uint8)
    lab[:, :1] = 2  # rare
    w = median_frequency_weights([lab])
    assert w[2] > w[0] and w[5] == 0


def test_imagenet_weights_offline_fail_clearly(tmp_path, monkeypatch):
    def offline(*a, **k):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(RuntimeError, match="could not download ImageNet weights"):
        load_encoder_weights(UNetResNet34(11), "imagenet")


def test_eval_cli_scores_an_onnx_model_by_hand(tmp_path):
    root = tmp_path / "cv"
    image = np.zeros((20, 40, 3), np.uint8)
    image[:, :20, 0] = 255  # rule model: R=255 -> Road(3), R=0 -> Sky(0)
    label = np.zeros((20, 40), np.uint8)
    label[:, :20] = 3
    label[:, 30:] = 8  # Car, predicted Sky: wrong
    label[:2] = 11  # void rows are ignored
    _png(root / "val" / "a.png", image)
    _png(root / "valannot" / "a.png", label)
    model = rule_model(tmp_path / "rule.onnx", input_size=(20, 40))
    r = CliRunner().invoke(main, ["eval", str(model), "--data", str(root), "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    iou = res["iou"]
    assert iou[3] == 1.0 and iou[0] == pytest.approx(0.5) and iou[8] == 0.0
    assert res["miou"] == pytest.approx(0.5)  # classes present: Sky, Road, Car
    table = CliRunner().invoke(main, ["eval", str(model), "--data", str(root)])
    assert "mIoU" in table.output and "50.00" in table.output


def test_eval_limit_scores_the_frames_train_val_limit_scores(tmp_path):
    """eval --limit N scored val's first N frames, train --val-limit N an even spread of N: the same N gave two scores
    that did not compare. Both take the spread now; frames 0, 2, 4 of 5 are Road (scored right), 1 and 3 Car."""
    from roadseg.train.data import val_subset

    root = tmp_path / "cv"
    for i in range(5):
        _png(root / "val" / f"a_{i}.png", np.full((20, 40, 3), 255, np.uint8))  # (the rule model: all Road)
        _png(root / "valannot" / f"a_{i}.png", np.full((20, 40), 8 if i % 2 else 3, np.uint8))
    model = rule_model(tmp_path / "rule.onnx", input_size=(20, 40))
    r = CliRunner().invoke(main, ["eval", str(model), "--data", str(root), "--limit", "3", "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    assert res["images"] == 3 and res["miou"] == 1.0, res  # (the first 3, 0 1 2: a Car frame, mIoU 0.33)
    assert val_subset((list(range(5)), list(range(5))), 3)[0][0] == [0, 2, 4]  # train --val-limit 3's
    assert res["split"] == "val, 3 of its 5 frames spread evenly"
    table = CliRunner().invoke(main, ["eval", str(model), "--data", str(root), "--limit", "9"])  # (all: no subset)
    assert table.output.splitlines()[0] == f"{model} on val (5 images)", table.output
    assert table.stderr == "--limit 9: val has 5 frames; all scored\n", table.stderr  # (it said nothing)
    assert r.stderr == "", r.stderr  # (3 of 5: the split says so)


def _two_sequences(root):
    """train/ with sequence A (3 frames labelled Car) and B (2 frames labelled Road); the rule model
    calls every R=255 pixel Road, so B scores 1.0 and A 0.0. Each frame's pixels hold its own value."""
    for i, (seq, cls) in enumerate([("A", 8)] * 3 + [("B", 3)] * 2):
        name = f"{seq}_{i:06d}.png"
        image = np.full((20, 40, 3), 255, np.uint8)
        image[..., 1] = 10 * i
        _png(root / "train" / name, image)
        _png(root / "trainannot" / name, np.full((20, 40), cls, np.uint8))
    return root


def test_eval_holdout_scores_only_the_frames_a_run_holds_out(tmp_path):
    root = _two_sequences(tmp_path / "cv")
    model = str(rule_model(tmp_path / "rule.onnx", input_size=(20, 40)))
    runs = {spec: CliRunner().invoke(main, ["eval", model, "--data", str(root), "--json", *spec])
            for spec in [("--holdout", "B"), ("--holdout", "A:0.34"), ("--split", "train")]}  # fmt: skip
    held = {spec: json.loads(r.output) for spec, r in runs.items() if r.exit_code == 0}
    assert len(held) == 3, [r.output for r in runs.values()]
    b, a_last, train = held.values()
    assert (b["images"], b["miou"]) == (2, 1.0) and "held out by B" in b["split"]  # --holdout reads train
    assert a_last["images"] == 1 and a_last["iou"][8] == 0.0
    assert train["images"] == 5 and 0 < train["miou"] < 1
    bad = CliRunner().invoke(main, ["eval", model, "--data", str(root), "--holdout", "0006R0"])
    assert bad.exit_code == 1 and "no frames of sequence '0006R0'" in bad.output


def test_calibration_frames_leave_out_what_a_run_held_out(tmp_path):
    from roadseg.export.quantize import load_calibration_frames

    root = _two_sequences(tmp_path / "cv")
    values = lambda frames: sorted({int(f[0, 0, 1]) for f in frames})  # noqa: E731
    assert values(load_calibration_frames(root, 8)) == [0, 10, 20, 30, 40]
    assert values(load_calibration_frames(root, 8, holdout=("B",))) == [0, 10, 20]
    assert values(load_calibration_frames(root, 8, holdout=("A:0.34", "B"))) == [0, 10]
    from roadseg.export.onnx import export_onnx

    net = export_onnx(trained_like(4, decoder_channels=(16, 16, 8, 8)), tmp_path / "n.onnx", input_size=(40, 48))
    out = tmp_path / "q.onnx"
    bad = CliRunner().invoke(main, ["quantize", str(net), "-o", str(out), "--data", str(root), "--holdout", "C"])
    assert bad.exit_code == 1 and "no frames of sequence 'C'" in bad.output and not out.exists()
    ok = CliRunner().invoke(main, ["quantize", str(net), "-o", str(out), "--data", str(root), "--holdout", "B"])
    assert ok.exit_code == 0 and out.is_file(), ok.output
    # one line: onnxruntime's calibration chatter ("Collecting tensor data and making histogram ...") is kept out
    assert ok.output.count("\n") == 1 and ok.output.rstrip().endswith(f"roadseg eval {out} --data {root} --holdout B")


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    cfg = TrainConfig(data=str(make_segnet(tmp / "data", n=2, h=40, w=48)), out=str(tmp / "run"), epochs=1,
                      batch_size=2, crop=(32, 32), amp="off", device="cpu", workers=0, model=SMALL, size=(40, 48))  # fmt: skip
    train(cfg)
    return tmp


def test_export_cli_writes_a_verified_model_and_eval_scores_the_checkpoint(small_run):
    ckpt, out = small_run / "run" / "best.pt", small_run / "m.onnx"
    r = CliRunner().invoke(main, ["export", str(ckpt), "-o", str(out), "--input-size", "40x48"])
    assert r.exit_code == 0, r.output
    assert out.is_file()
    # what was compared, how closely, and that it passed, in words (was: 'parity {"shape": [2, 97, 131, 3], ...}')
    wrote, parity = r.stdout.splitlines()
    assert wrote == f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)"
    assert re.fullmatch(r"parity passed: onnxruntime's labels are PyTorch's on (100|over 99\.999|99\.9\d\d)% of pixels "
                        r"\(2 frames at 97x131, a shape not traced; 99\.9% needed\)", parity), parity  # fmt: skip
    from roadseg.pipeline.session import OnnxSegmenter

    assert OnnxSegmenter(out, providers="cpu").input_size == (40, 48)
    scores = []
    for model in (ckpt, out):  # the checkpoint through PyTorch, the export through onnxruntime
        r = CliRunner().invoke(main, ["eval", str(model), "--data", str(small_run / "data"), "--json"])
        assert r.exit_code == 0, r.output
        scores.append(json.loads(r.output)["miou"])
    assert scores[0] == pytest.approx(scores[1], abs=0.01)


def test_export_cli_fails_and_removes_the_file_when_parity_fails(small_run, monkeypatch):
    import roadseg.export.verify as verify

    monkeypatch.setattr(verify, "MIN_AGREEMENT", 1.01)  # fault injection: no model can pass
    out = small_run / "bad.onnx"
    r = CliRunner().invoke(main, ["export", str(small_run / "run" / "best.pt"), "-o", str(out)])
    assert r.exit_code == 1 and "agree on" in r.output and "removed" in r.output
    assert not out.exists()


def test_release_scores_the_check_run_on_its_held_out_frames(tmp_path, capsys):
    from roadseg.export.release import FP32_NAME, INT8_NAME, release
    from roadseg.pipeline.session import OnnxSegmenter

    data = make_segnet(tmp_path / "data", n=4, h=40, w=48)
    rng = np.random.default_rng(1)
    for i in range(3):  # a second sequence to hold out
        _png(data / "train" / f"0006R0_{i:06d}.png", rng.integers(0, 256, (40, 48, 3), dtype=np.uint8))
        _png(data / "trainannot" / f"0006R0_{i:06d}.png", rng.integers(0, 12, (40, 48), dtype=np.uint8))
    common = dict(data=str(data), epochs=1, batch_size=2, crop=(32, 32), amp="off", device="cpu", workers=0,
                  model={"decoder_channels": [32, 16, 16, 8], "stem_padding": "replicate"}, size=(40, 48))  # fmt: skip
    train(TrainConfig(out=str(tmp_path / "check"), holdout=("0006R0",), **common))
    train(TrainConfig(out=str(tmp_path / "final"), train_splits=("train", "val"), select="last", paste=0.25, lovasz=1.5,
                      **common))
    capsys.readouterr()  # (the runs' bars)
    report = release(tmp_path / "final" / "last.pt", data, tmp_path / "models", check=tmp_path / "check" / "best.pt",
                     calib_frames=4, min_int8_agreement=0.0, progress=True)  # fmt: skip
    steps = capsys.readouterr().err.splitlines()  # (a step more: the check run's, second)
    assert [s.split(" [")[0] for s in steps] == [f"release {i}/7" for i in range(1, 8)], steps
    assert steps[1].endswith(f"]: the check run {tmp_path / 'check' / 'best.pt'}: export, INT8, both scored on the "
                             "frames it held out"), steps  # fmt: skip
    assert report["check"]["fp32"]["images"] == 3 and report["check"]["int8"]["images"] == 3
    assert report["fp32_parity"]["agreement"] >= 0.999  # the folded export against the plain network
    for name, precision in ((FP32_NAME, "fp32"), (INT8_NAME, "int8")):
        meta = OnnxSegmenter(tmp_path / "models" / name, providers="cpu").metadata
        assert meta["check_miou"] == round(100 * report["check"][precision]["miou"], 2)
        assert meta["val_trained_on"] is True and meta["training"]["train_splits"] == ["train", "val"]
        assert meta["training"]["paste"] == 0.25 and meta["training"]["lovasz"] == 1.5  # the whole recipe travels
        assert "3 frames held out" in meta["check_split"]
    shipped = {p.name: p.read_bytes() for p in (tmp_path / "models").iterdir()}
    with pytest.raises(ValueError, match="held nothing out"):  # a run without a holdout is no check
        release(tmp_path / "check" / "best.pt", data, tmp_path / "models", check=tmp_path / "final" / "last.pt",
                calib_frames=4, min_int8_agreement=0.0, overwrite=True)  # fmt: skip
    with pytest.raises(RuntimeError, match="INT8 agrees with fp32 on only"):  # (fault injection: none can pass)
        release(tmp_path / "check" / "best.pt", data, tmp_path / "models", calib_frames=4, min_int8_agreement=1.01,
                overwrite=True)  # fmt: skip
    # a failed release leaves the shipped files as they were (was: the INT8 file replaced, the fp32 one not)
    assert {p.name: p.read_bytes() for p in (tmp_path / "models").iterdir()} == shipped


def test_release_refuses_to_replace_shipped_files_before_any_work_unless_overwrite(tmp_path, monkeypatch):
    """roadseg release CKPT --data D (--out defaults to models) swapped the shipped models for the checkpoint's
    without asking; export, quantize and soup need -y to replace a file, and so does release. The library's
    release() replaced them whatever it was given (only the command asked for -y): it refuses too, unless
    overwrite, and the command passes -y through to it."""
    import roadseg.export.release as rel
    from roadseg.errors import OutputError

    calls = []

    def started(*args):  # (the minutes of work begin here: stop them)
        calls.append(args)
        raise RuntimeError("the work began")

    monkeypatch.setattr(rel, "source_network", started)
    ckpt, data, out = tmp_path / "last.pt", make_segnet(tmp_path / "data", n=2, h=40, w=48), tmp_path / "models"
    ckpt.write_bytes(b"checkpoint")
    out.mkdir()
    (out / rel.INT8_NAME).write_bytes(b"shipped")
    (out / "eval.json").write_text("{}")
    with pytest.raises(OutputError) as refused:  # the library (was: the work began, and replaced the files)
        rel.release(ckpt, data, out)
    assert str(out / rel.INT8_NAME) in str(refused.value) and str(out / "eval.json") in str(refused.value)
    assert rel.FP32_NAME not in str(refused.value) and not calls
    with pytest.raises(RuntimeError, match="the work began"):
        rel.release(ckpt, data, out, overwrite=True)
    assert len(calls) == 1
    args = ["release", str(ckpt), "--data", str(data), "--out", str(out)]
    r = CliRunner().invoke(main, args)
    lines = r.output.strip().splitlines()
    assert r.exit_code == 1 and len(lines) == 1 and len(calls) == 1, r.output  # refused before any work
    assert str(out / rel.INT8_NAME) in lines[0] and str(out / "eval.json") in lines[0] and "-y/--overwrite" in lines[0]
    assert rel.FP32_NAME not in lines[0] and (out / rel.INT8_NAME).read_bytes() == b"shipped"
    r = CliRunner().invoke(main, [*args, "-y"])
    assert r.exit_code == 1 and "the work began" in r.output and len(calls) == 2, r.output
    r = CliRunner().invoke(main, [*args[:-1], str(tmp_path / "new")])  # a fresh folder needs no -y
    assert r.exit_code == 1 and "the work began" in r.output and len(calls) == 3, r.output
    assert (out / rel.INT8_NAME).read_bytes() == b"shipped"


def test_soup_cli_averages_two_releases_and_the_release_records_its_ingredients(tmp_path):
    from roadseg.export.onnx import export_onnx
    from roadseg.export.release import FP32_NAME, release
    from roadseg.pipeline.session import OnnxSegmenter

    data = make_segnet(tmp_path / "data", n=4, h=40, w=48)
    tiny = {"decoder_channels": (32, 16, 16, 8), "stem_padding": "replicate"}
    files = [export_onnx(trained_like(s, **tiny), tmp_path / f"r{s}.onnx", input_size=(40, 48),
                         metadata={"val_miou": 50.0 + s, "training": {"epochs": 10 + s}, "training_data": "CamVid"})
             for s in (1, 2)]  # fmt: skip
    r = CliRunner().invoke(main, ["soup", *map(str, files), "--weight", "1", "--weight", "3", "--data", str(data),
                                  "-o", str(tmp_path / "soup.pt")])  # fmt: skip
    assert r.exit_code == 0, r.output
    release(tmp_path / "soup.pt", data, tmp_path / "models", calib_frames=4, min_int8_agreement=0.0)
    meta = OnnxSegmenter(tmp_path / "models" / FP32_NAME, providers="cpu").metadata
    assert [(i["file"], i["weight"], i["val_miou"], i["training"]["epochs"]) for i in meta["soup"]] == [
        ("r1.onnx", 0.25, 51.0, 11), ("r2.onnx", 0.75, 52.0, 12)]  # fmt: skip
    assert "training" not in meta and meta["training_data"] == "CamVid" and meta["val_trained_on"] is False
    other = export_onnx(trained_like(3, decoder_channels=(16, 16, 8, 8)), tmp_path / "o.onnx", input_size=(40, 48))
    for args, code, message in ((["--weight", "1"], 2, "2 models need 2 weights"), ([], 1, "not the same network")):
        pair = [str(files[0]), str(other if code == 1 else files[1])]
        r = CliRunner().invoke(main, ["soup", *pair, *args, "--data", str(data), "-o", str(tmp_path / "bad.pt")])
        assert r.exit_code == code and message in r.output and "Traceback" not in r.output, r.output
        assert not (tmp_path / "bad.pt").exists()
    names = ["Sky", "Building", "Pole", "Lane", *CLASSES[4:]]  # (as many classes, one named otherwise)
    renamed = export_onnx(trained_like(3, **tiny), tmp_path / "n.onnx", input_size=(40, 48), classes=names)
    r = CliRunner().invoke(main, ["soup", str(files[0]), str(renamed), "--data", str(data), "-o", str(tmp_path / "bad.pt")])
    assert r.exit_code == 1 and len(r.output.strip().splitlines()) == 1, r.output
    assert "r1.onnx scores Sky, Building, Pole, Road," in r.output and "n.onnx scores Sky, Building, Pole, Lane," in r.output
    assert not (tmp_path / "bad.pt").exists()


#: What the lent GPU machine runs (DEVELOPERS.md): train, carry a half copy home, release and score it; no PyAV there.
WITHOUT_PYAV = """
import json, sys
sys.modules["av"] = None  # "import av" now raises ImportError, as on a machine without PyAV
data, run = sys.argv[1], sys.argv[2]
from roadseg.cli import main
from roadseg.export.release import release
from roadseg.train.evaluate import evaluate_model
from roadseg.train.weights import half_copy
main(["train", "--data", data, "--out", run, "--epochs", "2", "--batch-size", "2", "--crop", "32x32", "--amp", "off",
      "--workers", "0", "--ema", "0.5", "--decoder-channels", "32,16,16,8", "--device", "cpu"], standalone_mode=False)
half = half_copy(run + "/last.pt", run + "/half.pt")
report = release(half, data, run + "/models", calib_frames=2, min_int8_agreement=0.0)
scores = [evaluate_model(m, data, split="val")["miou"] for m in (run + "/last.pt", half)]
print(json.dumps({"scores": scores, "fp32": report["unet-r34-camvid.onnx"]["miou"], "pyav": "av" in sys.modules and sys.modules["av"] is not None}))
"""


def test_training_release_and_eval_need_no_pyav_and_a_half_copy_carries_the_run(tmp_path):
    import subprocess
    import sys

    data = make_segnet(tmp_path / "data", n=4, h=40, w=48)
    r = subprocess.run([sys.executable, "-c", WITHOUT_PYAV, str(data), str(tmp_path / "run")], capture_output=True,
                       text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["pyav"] is False
    full, half = out["scores"]
    assert half == pytest.approx(full, abs=0.02)  # float16 kernels score what the run's own weights score
    assert out["fp32"] == pytest.approx(half, abs=0.02)  # and the released file scores that too
    assert (tmp_path / "run" / "models" / "unet-r34-camvid-int8.onnx").is_file()
    last, small = (torch.load(tmp_path / "run" / n, weights_only=False) for n in ("last.pt", "half.pt"))
    assert small["best_epoch"] == 2 and small["history"] == last["history"] and "optimizer" not in small
    kernels = [k for k, v in small["model"].items() if v.dim() == 4]
    assert kernels and all(small["model"][k].dtype == torch.float16 for k in kernels)
    for k, v in small["model"].items():  # the EMA's weights, which the run scores and ships, not the raw ones
        assert torch.allclose(v.to(last["ema"]["model"][k].dtype), last["ema"]["model"][k], atol=1e-3, rtol=1e-3), k
    assert (tmp_path / "run" / "half.pt").stat().st_size < 0.4 * (tmp_path / "run" / "last.pt").stat().st_size


@pytest.mark.parametrize("args", [["train", "--crop", "64"], ["train", "--size", "360*480"],
                                  ["eval", "M.pt", "--size", "64"], ["export", "M.pt", "-o", "m.onnx", "--input-size", "64"]])
def test_a_size_that_is_not_hxw_names_its_option(tmp_path, monkeypatch, args):
    """train --crop 64 said 'Error: Invalid value: '64' is not HxW', not which of --size and --crop; export's
    --input-size was read only after the checkpoint was loaded."""
    data = make_segnet(tmp_path / "data", n=1)
    (tmp_path / "M.pt").write_bytes(b"not read")
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, [*args, "--data", str(data)] if args[0] != "export" else args)
    assert r.exit_code == 2 and f"Invalid value for '{args[-2]}'" in r.output and "is not HxW" in r.output, r.output


def test_train_cli_takes_the_recipe_flags(tmp_path):
    data = make_segnet(tmp_path / "data", n=4, h=40, w=48)
    out = tmp_path / "run"
    args = ["train", "--data", str(data), "--out", str(out), "--epochs", "2", "--batch-size", "2", "--amp", "off",
            "--workers", "0", "--phase", "1:0.5:16x24", "--phase", "1:1:32x32", "--gamma", "0.5", "--blur", "0.5",
            "--noise", "0.5", "--colour-cast", "0.1", "--paste", "0.5", "--ema", "0.9", "--lovasz", "2.5",
            "--decoder-channels", "32,16,16,8", "--stem-padding", "replicate", "--holdout", "0001TP:0.5"]  # fmt: skip
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert "best" in r.output and "mIoU" in r.output
    state = torch.load(out / "last.pt", weights_only=False)
    cfg = state["config"]
    assert cfg["phases"] == ((1, 0.5, 16, 24), (1, 1.0, 32, 32)) and cfg["holdout"] == ("0001TP:0.5",)
    assert cfg["paste"] == 0.5 and cfg["lovasz"] == 2.5
    assert state["model_config"]["decoder_channels"] == (32, 16, 16, 8) and state["ema"] is not None
    bad = CliRunner().invoke(main, ["train", "--data", str(data), "--epochs", "3", "--minutes", "2"])
    assert bad.exit_code == 2 and "--epochs or --minutes, not both" in bad.output
    bad = CliRunner().invoke(main, ["train", "--data", str(data), "--phase", "10:half:1x2"])
    assert bad.exit_code == 2 and "EPOCHS:RES:HxW" in bad.output
    bad = CliRunner().invoke(main, ["train", "--data", str(data), "--init", str(tmp_path / "missing.onnx")])
    assert bad.exit_code == 2 and "--init" in bad.output and "is not a file" in bad.output


def test_curve_plots_val_and_check_and_merges_logs(tmp_path):
    from roadseg.train.curve import merge_csv, plot, read_log, series

    train(_cfg(tmp_path, holdout=("0001TP:0.5",), epochs=2))
    run = tmp_path / "run"
    assert [r["epoch"] for r in read_log(run)] == [1, 2]
    assert plot([run], tmp_path / "c.png").stat().st_size > 10_000
    assert plot([run, run], tmp_path / "c2.png", chain=True).stat().st_size > 10_000
    assert [[r["epoch"] for r in rows] for _, rows in series([run, run], chain=True)] == [[1, 2], [3, 4]]
    assert [[r["epoch"] for r in rows] for _, rows in series([run, run])] == [[1, 2], [1, 2]]
    merged = merge_csv([run, run], tmp_path / "all.csv").read_text().splitlines()
    assert merged[0].startswith("run,epoch,") and len(merged) == 5
    # a name used twice gets a suffix, so both runs read back as their own
    assert [(name, [r["epoch"] for r in rows]) for name, rows in series([tmp_path / "all.csv"])] == [
        ("run", [1, 2]), ("run (2)", [1, 2])]
    # a merged log stands for its runs, so a lineage whose folders are gone takes one stage more
    (tmp_path / "next").mkdir()
    for name in ("log.csv", "log.jsonl"):
        (tmp_path / "next" / name).write_text((run / name).read_text())
    merge_csv([run, tmp_path / "next"], tmp_path / "all.csv")
    chained = series([tmp_path / "all.csv", run], chain=True)
    assert [(name, [r["epoch"] for r in rows]) for name, rows in chained] == [("run", [1, 2]), ("next", [3, 4]),
                                                                              ("run", [5, 6])]  # fmt: skip
    logged = read_log(run)
    assert [[r[k] for k in ("train_loss", "miou", "check_miou")] for r in chained[0][1]] == [
        [r[k] for k in ("train_loss", "miou", "check_miou")] for r in logged]
    before = (tmp_path / "all.csv").read_text().splitlines()
    again = merge_csv([tmp_path / "all.csv", run], tmp_path / "all.csv").read_text().splitlines()  # in place
    assert len(again) == 7 and again[:5] == before
    assert [name for name, _ in series([tmp_path / "all.csv"])] == ["run", "next", "run (2)"]
    # a file whose runs share a name apart from each other (an older merge) still keeps them apart
    old = tmp_path / "old.csv"
    old.write_text("".join(line.replace("run (2),", "run,") + "\n" for line in again))
    assert [(name, len(rows)) for name, rows in series([old])] == [("run", 2), ("next", 2), ("run", 2)]
    assert plot([tmp_path / "all.csv", run], tmp_path / "c3.png", chain=True).stat().st_size > 10_000


def test_files_that_are_not_models_are_one_line_errors_in_every_model_command(tmp_path):
    data = make_segnet(tmp_path / "data", n=4, h=40, w=48)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00" * 64)  # neither ONNX nor a pickle: these were tracebacks
    video = tmp_path / "clip.pt"
    video.write_bytes(b"\x00\x00\x00\x20ftypisom" + b"\x00" * 64)
    cases = [
        (["eval", str(video), "--data", str(data)], "cannot read checkpoint"),
        (["export", str(junk), "-o", str(tmp_path / "x.onnx")], "cannot read checkpoint"),
        (["soup", str(junk), str(junk), "-o", str(tmp_path / "s.pt"), "--data", str(data)], "cannot read ONNX model"),
        (["quantize", str(junk), "-o", str(tmp_path / "q.onnx"), "--data", str(data), "--frames", "2"],
         "cannot read ONNX model"),
        (["train", "--data", str(data), "--init", str(junk), "--out", str(tmp_path / "run"), "--epochs", "1",
          "--batch-size", "2"], "cannot read ONNX model"),  # (4 frames make no batch of 8: refused first)
        (["pack-data", str(tmp_path), str(tmp_path / "pk")], "is not a CamVid folder"),
        (["pack-data", str(data), str(junk / "pk")], "cannot create"),
    ]  # fmt: skip
    for args, says in cases:
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 1 and r.exception.__class__ is SystemExit, (args, r.exception)
        lines = r.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and says in lines[0], (args, r.output)


def test_a_checkpoint_named_for_a_model_and_a_model_for_a_checkpoint_say_which_is_which(small_run, tmp_path):
    """A student's first mix-up: best.pt given to segment-video, an .onnx to export or --resume. Those said
    "Protobuf parsing failed" and "UnpicklingError: invalid load key" (which file is what, left unsaid)."""
    from conftest import write_video

    from roadseg.cli import segment_video_cmd

    ckpt, onnx = small_run / "run" / "best.pt", rule_model(tmp_path / "m.onnx")
    video = write_video(tmp_path / "v.mp4", [np.zeros((32, 48, 3), np.uint8)] * 2)
    cases = [
        (segment_video_cmd, [str(video), "-o", str(tmp_path / "o.mp4"), "--model", str(ckpt)],
         f"{ckpt} is a training checkpoint, not an ONNX model: export it first"),
        (main, ["quantize", str(ckpt), "-o", str(tmp_path / "q.onnx"), "--data", str(small_run / "data")],
         f"{ckpt} is a training checkpoint, not an ONNX model"),
        (main, ["export", str(onnx), "-o", str(tmp_path / "x.onnx")], f"{onnx} is an ONNX model, not a training checkpoint"),
        (main, ["train", "--data", str(small_run / "data"), "--resume", str(onnx), "--out", str(tmp_path / "r")],
         f"{onnx} is an ONNX model, not a training checkpoint (--resume takes a run's last.pt)"),
    ]  # fmt: skip
    for command, args, says in cases:
        r = CliRunner().invoke(command, args)
        lines = r.output.strip().splitlines()
        assert r.exit_code == 1 and len(lines) == 1 and lines[0].startswith(f"Error: {says}"), (args, r.output)
    assert not (tmp_path / "o.mp4").exists() and not (tmp_path / "x.onnx").exists()


def test_eval_scores_an_onnx_model_whatever_its_name_ends_in(tmp_path):
    """eval chose ONNX by the suffix .onnx alone: m.ONNX, or an export written as -o m (or m.pt), went the
    checkpoint way and failed ('UnpicklingError: invalid load key')."""
    import shutil

    data = make_segnet(tmp_path / "data", n=2, h=40, w=48)
    rule = rule_model(tmp_path / "rule.onnx")
    want = CliRunner().invoke(main, ["eval", str(rule), "--data", str(data), "--json"])
    assert want.exit_code == 0, want.output
    for name in ("m.ONNX", "m", "m.pt"):
        shutil.copy(rule, tmp_path / name)
        r = CliRunner().invoke(main, ["eval", str(tmp_path / name), "--data", str(data), "--json"])
        assert r.exit_code == 0, (name, r.output)
        assert json.loads(r.output)["miou"] == json.loads(want.output)["miou"]


def test_model_tools_refuse_in_one_line_what_would_lose_data_or_waste_a_run(small_run, tmp_path):
    import shutil

    from roadseg.export.onnx import export_onnx

    data, ckpt = small_run / "data", tmp_path / "best.pt"
    shutil.copy(small_run / "run" / "best.pt", ckpt)
    kept = ckpt.read_bytes()
    fp32 = export_onnx(trained_like(4, decoder_channels=(16, 16, 8, 8)), tmp_path / "n.onnx", input_size=(40, 48))
    (tmp_path / "afile").write_text("x")
    (tmp_path / "old.onnx").write_text("x")
    two = rule_model(tmp_path / "two.onnx", metadata={"classes": ["road", "other"]})  # another class list
    run = ["train", "--data", str(data), "--crop", "32x32", "--amp", "off", "--workers", "0", "--epochs", "1",
           "--decoder-channels", "16,16,8,8", "--batch-size", "2", "--out", str(tmp_path / "run")]  # fmt: skip
    cases = [  # (was: the checkpoint overwritten with ONNX bytes, exit 0)
        (["export", str(ckpt), "-o", str(ckpt)], "is the input file"),
        (["export", str(ckpt), "-o", str(tmp_path / "old.onnx")], "exists; pass -y/--overwrite"),
        (["export", str(ckpt), "-o", str(tmp_path / "afile"), "-y"], "name it afile.onnx"),  # (first: -y would not do)
        (["export", str(ckpt), "-o", str(tmp_path / "afile" / "x.onnx")], "afile is a file, not a folder"),  # (was a traceback)
        (["quantize", str(fp32), "-o", str(fp32), "--data", str(data)], "is the input file"),
        (["export", str(ckpt), "-o", str(tmp_path / "m.pt")], "this writes an ONNX model; name it m.onnx"),  # (was
        (["quantize", str(fp32), "-o", str(tmp_path / "q"), "--data", str(data)], "name it q.onnx"),  # written so)
        (["soup", str(fp32), str(fp32), "-o", str(tmp_path / "s.onnx"), "--data", str(data)], "checkpoint; name it s.pt"),
        (["quantize", str(two), "-o", str(tmp_path / "q2.onnx"), "--data", str(data)], "no convolution to quantize"),
        (["eval", str(two), "--data", str(data)], "segments 2 classes"),
        ([*run, "--resume", str(ckpt)], "holds the scored weights only"),
        ([*run, "--select", "check"], "--select check scores the frames --holdout holds out"),
        ([*run, "--batch-size", "20"], "2 training frames make no batch of 20"),
        ([*run, "--holdout", "0001TP:1.5"], "FRACTION is the share"),
        ([*run[:-1], str(tmp_path / "afile" / "run"), "--batch-size", "2"], "Not a directory"),
        (["pack-data", str(data), str(data)], "exists and is not empty"),  # (was: a JPEG beside each PNG, read twice)
        (["pack-data", str(data), str(small_run / "run")], "exists and is not empty"),
    ]  # fmt: skip
    for args, says in cases:
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 1 and r.exception.__class__ is SystemExit, (args, r.output, r.exception)
        lines = r.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and says in lines[0], (args, r.output)
    usage = [["--decoder-channels", "0,0"], ["--scale", "2", "1"], ["--phase", "1:0:32x32"], ["--phase", "-1:1:32x32"],
             ["--lr", "-1"], ["--lr", "nan"], ["--ema", "1"], ["--blur", "2"], ["--colour-cast", "1"], ["--batch-size", "0"],
             ["--workers", "-1"], ["--weight-decay", "-0.1"], ["--lovasz", "-3"], ["--gamma", "-1"]]  # fmt: skip
    for args in usage:  # (were: a conv error after warnings, "high - low < 0", accepted; --lr -1: torch's error
        # after --out was made, left empty; --ema 1: weights that never move; --blur 2: always)
        r = CliRunner().invoke(main, [*run, *args])
        assert r.exit_code == 2 and f"Invalid value for {args[0]}" in r.output.replace("'", ""), (args, r.output)
    torch.save([1, 2], tmp_path / "list.pt")
    r = CliRunner().invoke(main, [*run, "--encoder-weights", str(tmp_path / "list.pt")])
    assert r.exit_code == 1 and "holds no state dict of encoder weights (a list)" in r.output, r.output  # (a TypeError)
    assert ckpt.read_bytes() == kept and not (tmp_path / "run").exists()  # (refused before any work, no folder made)
    assert sorted(p.name for p in (data / "train").iterdir()) == ["0001TP_000000.png", "0001TP_000001.png"]
    int8 = tmp_path / "q.onnx"
    ok = CliRunner().invoke(main, ["quantize", str(fp32), "-o", str(int8), "--data", str(data), "--frames", "2"])
    assert ok.exit_code == 0, ok.output
    again = CliRunner().invoke(main, ["quantize", str(int8), "-o", str(tmp_path / "q3.onnx"), "--data", str(data), "-y"])
    assert again.exit_code == 1 and "it is quantized already" in again.output, again.output  # (was: 45 warnings, then an error)
    assert not list(tmp_path.glob(".*.part"))


def test_resume_takes_a_last_pt_from_before_the_schedule_and_refuses_a_best_pt(small_run, tmp_path):
    from roadseg.errors import ModelError

    state = torch.load(small_run / "run" / "last.pt", weights_only=False)
    state["scheduler"] = {"last_epoch": 1}  # a run from before the Schedule kept torch's scheduler
    del state["schedule"]
    torch.save(state, tmp_path / "old.pt")
    assert checkpoint.resume_state(tmp_path / "old.pt")["scheduler"] == {"last_epoch": 1}  # (a review found it refused)
    with pytest.raises(ModelError, match="holds the scored weights only"):
        checkpoint.resume_state(small_run / "run" / "best.pt")


def _skewed_camvid(root):
    """make_segnet's frames with labels of skewed classes (road, much sky, a little pole and bicyclist, void),
    so that median-frequency weights, and the logit offsets from them, are far from 1 and 0."""
    data = make_segnet(root, n=4, h=40, w=48)
    for split in ("train", "val"):
        for path in sorted((data / f"{split}annot").glob("*.png")):
            label = np.full((40, 48), 3, np.uint8)
            label[:12] = 0
            label[20:24, 5:7] = 2
            label[30:34, 40:46] = 10
            label[-2:] = 11
            _png(path, label)
    return data


def test_logit_offsets_take_back_part_of_the_class_weights():
    from roadseg.train.data import logit_offsets

    labels = [np.array([[0, 0, 0, 0], [3, 3, 10, 11]], np.uint8)] * 2
    w = median_frequency_weights(labels)
    assert np.allclose(logit_offsets(labels, 0.5), np.where(w > 0, -0.5 * np.log(np.where(w > 0, w, 1)), 0))
    off = logit_offsets(labels, 1.0)
    assert off[10] < 0 < off[0] and off[1] == 0  # the rare class loses, the common one gains, an absent one is left
    assert not logit_offsets(labels, 0.0).any()


def test_release_folds_the_logit_adjustment_into_the_head_and_a_re_release_of_the_file_keeps_the_network(tmp_path):
    import torch

    from roadseg.data.camvid import CamVid
    from roadseg.export.release import FP32_NAME, INT8_NAME, release
    from roadseg.model.predict import predict
    from roadseg.pipeline.session import OnnxSegmenter
    from roadseg.train.data import logit_offsets
    from roadseg.train.start import initial_model
    from roadseg.train.weights import calibration_indices, rebuilt_release, soup_checkpoint

    data = _skewed_camvid(tmp_path / "data")
    net = trained_like(1, decoder_channels=(32, 16, 16, 8), stem_padding="replicate")
    recipe = {"epochs": 7, "class_weights": "median-freq", "train_splits": ["train"], "holdout": []}
    torch.save({"model": net.state_dict(), "model_config": net.config, "config": recipe}, tmp_path / "run.pt")
    offsets = logit_offsets(load_data(TrainConfig(data=str(data)))["train"][1], 0.5)
    assert np.abs(offsets).max() > 0.5
    common = dict(calib_frames=4, min_int8_agreement=0.0)
    release(tmp_path / "run.pt", data, tmp_path / "plain", logit_adjust=0.0, **common)
    release(tmp_path / "run.pt", data, tmp_path / "a", **common)  # (the default: LOGIT_ADJUST)
    meta = OnnxSegmenter(tmp_path / "a" / FP32_NAME, providers="cpu").metadata
    assert meta["logit_adjustment"]["alpha"] == 0.5 and np.allclose(meta["logit_adjustment"]["offsets"], offsets, atol=1e-5)
    assert "logit_adjustment" not in OnnxSegmenter(tmp_path / "plain" / FP32_NAME, providers="cpu").metadata
    frames = np.stack([CamVid(data, "val")[i][0] for i in range(4)])
    shifted = predict(_shifted(net, offsets), frames)
    files = {k: OnnxSegmenter(tmp_path / k / FP32_NAME, providers="cpu").predict(frames) for k in ("plain", "a")}
    assert (files["a"] == shifted).mean() > 0.999 and (files["plain"] == predict(net, frames)).mean() > 0.999
    assert (files["a"] != files["plain"]).mean() > 0.05  # the adjustment moves labels: the test can fail
    assert (OnnxSegmenter(tmp_path / "a" / INT8_NAME, providers="cpu").predict(frames) == files["a"]).mean() > 0.9

    # the released file rebuilt is the network before its adjustment; a re-release adjusts it again, keeps its recipe
    ds = CamVid(data, "train")
    images = [ds[i][0] for i in calibration_indices(len(ds))]
    rebuilt, state = rebuilt_release(tmp_path / "a" / FP32_NAME, images)
    assert torch.allclose(rebuilt.head.bias, net.head.bias, atol=2e-3)
    assert torch.equal(initial_model(str(tmp_path / "a" / FP32_NAME), images).head.bias, rebuilt.head.bias)  # --init
    for alpha, like in ((0.5, "a"), (0.0, "plain")):
        out = tmp_path / f"re{alpha}"
        release(tmp_path / "a" / FP32_NAME, data, out, logit_adjust=alpha, **common)
        again = OnnxSegmenter(out / FP32_NAME, providers="cpu")
        assert (again.predict(frames) == files[like]).mean() > 0.999
        assert again.metadata["training"]["epochs"] == 7 and again.metadata["rebuilt_from"]["file"] == FP32_NAME
        assert again.metadata["rebuilt_from"]["logit_adjustment"]["alpha"] == 0.5
        assert ("logit_adjustment" in again.metadata) == bool(alpha)
    # a soup averages heads: it is made without its ingredients' adjustments
    soup = soup_checkpoint([str(tmp_path / "a" / FP32_NAME)] * 2, None, images, tmp_path / "soup.pt")
    assert torch.allclose(torch.load(soup, weights_only=False)["model"]["head.bias"], net.head.bias, atol=2e-3)


def _shifted(net, offsets):
    import copy

    from roadseg.train.weights import shift_logits

    return shift_logits(copy.deepcopy(net), offsets)


def test_eval_scores_a_checkpoint_with_a_logit_adjustment_and_refuses_it_for_a_file(tmp_path):
    import torch

    from roadseg.export.onnx import export_onnx

    data = _skewed_camvid(tmp_path / "data")
    net = trained_like(1, decoder_channels=(32, 16, 16, 8), stem_padding="replicate")
    torch.save({"model": net.state_dict(), "model_config": net.config, "config": {"class_weights": "median-freq"}},
               tmp_path / "run.pt")  # fmt: skip
    scores = []
    for alpha in ("0", "0.5"):
        r = CliRunner().invoke(main, ["eval", str(tmp_path / "run.pt"), "--data", str(data), "--json",
                                      "--logit-adjust", alpha])  # fmt: skip
        assert r.exit_code == 0, r.output
        scores.append(json.loads(r.output)["confusion_matrix"])
    assert scores[0] != scores[1]  # (this net: bicyclists and trees at 0; all road at 0.5, the common class)
    export_onnx(net, tmp_path / "m.onnx", input_size=(40, 48))
    r = CliRunner().invoke(main, ["eval", str(tmp_path / "m.onnx"), "--data", str(data), "--logit-adjust", "0.5"])
    assert r.exit_code == 1 and "carries the logit adjustment" in r.output and "Traceback" not in r.output


def test_curve_given_a_folder_that_is_not_a_run_says_so_in_one_line(tmp_path, monkeypatch, capsys):
    from roadseg.train import curve

    # (was: a traceback ending "FileNotFoundError: ... 'models/log.jsonl'")
    monkeypatch.setattr("sys.argv", ["curve", str(tmp_path), "-o", str(tmp_path / "c.png")])
    with pytest.raises(SystemExit) as info:
        curve.main()
    assert str(info.value).startswith(f"Error: {tmp_path / 'log.jsonl'}: No such file or directory (give run folders")
    assert not (tmp_path / "c.png").exists()


def test_curve_without_matplotlib_says_so_in_one_line(tmp_path, monkeypatch):
    from roadseg.train import curve

    # (was: a traceback ending "ModuleNotFoundError: import of matplotlib halted"; a [train] install lacks it)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setattr("sys.argv", ["curve", str(tmp_path), "-o", str(tmp_path / "c.png")])
    with pytest.raises(SystemExit) as info:
        curve.main()
    assert str(info.value) == ("Error: drawing training curves needs matplotlib, which roadseg's train extra does not "
                               "install (pip install matplotlib)")
    assert not (tmp_path / "c.png").exists()


def test_a_loader_worker_outlives_a_sigterm_to_the_process_group(tmp_path):
    """``timeout``, ``systemctl stop`` or a closed terminal signal the whole group: a DataLoader worker that died of it
    made ``roadseg train`` fail with PyTorch's "DataLoader worker (pid N) is killed by signal: Terminated" and a
    traceback, or exit 1, where the main process alone should stop (exit 143, as on Ctrl-C)."""
    import os
    import signal
    import time

    from roadseg.train.data import train_loader

    cfg = _cfg(tmp_path, workers=1)
    loader = train_loader(cfg, load_data(cfg)["train"], torch.device("cpu"))[1]
    batches = iter(loader)
    next(batches)
    worker = batches._workers[0]
    os.kill(worker.pid, signal.SIGTERM)
    time.sleep(0.5)
    assert worker.is_alive()
    next(batches)  # (was: RuntimeError: DataLoader worker ... is killed by signal: Terminated)
    del batches


def test_ctrl_c_leaves_no_progress_bar_after_what_it_says(tmp_path, monkeypatch, capsys):
    """The epoch's bar, left open on Ctrl-C, was drawn again after 'interrupted in epoch N ...', so the CLI's
    'Error: interrupted' came on the bar's line: `...lr=1.16e-04]Error: interrupted`."""
    real = loop.train_one_epoch

    def interrupted(*args, **kw):
        bar = args[8]
        bar.update(1)
        bar.refresh()
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "train_one_epoch", interrupted)
    err = None
    try:
        train(_cfg(tmp_path, select="last"))
    except KeyboardInterrupt:  # (read while the exception is alive, as the CLI writes its "Error:" line)
        err = capsys.readouterr().err
    monkeypatch.setattr(loop, "train_one_epoch", real)
    assert err is not None
    assert "epoch 1/2" in err and err.rstrip("\r").rsplit("\r", 1)[-1].strip() == "", repr(err)  # (the bar cleared)


def test_scoring_an_epoch_shows_its_progress(tmp_path, capsys):
    """After an epoch's bar a CPU scored CamVid's 101 val frames for a minute or more in silence (a student's first
    run: 13 s of steps, then 90 s of nothing); the scoring has a bar of its own, cleared when done."""
    train(_cfg(tmp_path, epochs=1))
    err = capsys.readouterr().err
    assert "scoring val" in err and "frame" in err, repr(err)


def test_eval_shows_its_progress_where_asked(tmp_path, capsys):
    """`roadseg eval` on a CPU scored CamVid's 101 val frames for a minute or more in silence; on a terminal it
    shows a bar of the frames scored (the CLI asks where standard error is one), cleared when done."""
    from roadseg.train.evaluate import evaluate_model

    model = rule_model(tmp_path / "rule.onnx", input_size=(20, 40))
    frames = ([np.zeros((20, 40, 3), np.uint8)] * 3, [np.zeros((20, 40), np.uint8)] * 3)
    evaluate_model(model, None, "val", samples=frames, progress=True)
    err = capsys.readouterr().err
    assert "scoring val" in err and "/3 " in err, repr(err)
    evaluate_model(model, None, "val", samples=frames)
    assert capsys.readouterr().err == ""


def test_scoring_without_a_bar_leaves_no_thread_behind(tmp_path):
    """Was: scoring without a bar (``evaluate_model`` with ``progress`` off, ``engine.evaluate`` with no ``desc``)
    built a disabled tqdm bar, and tqdm starts its monitor thread for that too: ``tqdm_monitor`` ran for the rest of
    a library caller's process. (A monitor an earlier test's bar started is stopped first, or this could not fail.)"""
    import threading

    from tqdm import tqdm

    from roadseg.train.engine import evaluate
    from roadseg.train.evaluate import evaluate_model

    if tqdm.monitor is not None:
        tqdm.monitor.exit()
        tqdm.monitor.join()
        tqdm.monitor = None
    before = set(threading.enumerate())
    frames = ([np.zeros((20, 40, 3), np.uint8)] * 3, [np.zeros((20, 40), np.uint8)] * 3)
    evaluate_model(rule_model(tmp_path / "rule.onnx", input_size=(20, 40)), None, "val", samples=frames)
    evaluate(torch.nn.Conv2d(3, 11, 1), Preprocess(), *frames, torch.device("cpu"))
    assert [t.name for t in threading.enumerate() if t not in before] == []


def test_a_timed_resume_with_no_time_left_names_the_option_that_goes_on(tmp_path):
    """It said 'give more to go on': more what? Now the option, with a value that would go on."""
    from roadseg.train.checkpoint import left_to_train

    with pytest.raises(ValueError, match=r"nothing is left up to --minutes 2; to go on, resume with a larger "
                                         r"--minutes, e\.g\. --minutes 3$"):  # fmt: skip
        left_to_train({"epoch": 0, "schedule": {"elapsed": 120.0}}, _cfg(tmp_path, minutes=2.0), "run/last.pt")


def test_val_limit_scores_the_same_even_spread_each_epoch_and_every_record_says_so(tmp_path, monkeypatch, capsys):
    """Scoring CamVid's 101 val frames took 107 of a 120 s CPU run's seconds, with no way to score fewer: --val-limit
    N scores N frames spread over val (the same each epoch, so best.pt is chosen on scores that compare), and the
    log, the console, the checkpoints and the curve say the score is a subset's, never to be read as val's."""
    import roadseg.train.engine as engine
    from roadseg.train.curve import read_log, val_label

    cfg = _cfg(tmp_path, data=str(make_segnet(tmp_path / "data", n=5, h=40, w=48)), val_limit=3, select="val")
    val = load_data(cfg)["val"][0]
    scored, evaluate = [], engine.evaluate
    monkeypatch.setattr(engine, "evaluate", lambda net, pre, images, *a, **kw: scored.append(images) or evaluate(
        net, pre, images, *a, **kw))  # fmt: skip
    result = train(cfg)
    assert [[next(i for i, v in enumerate(val) if np.array_equal(v, im)) for im in images] for images in scored] == [
        [0, 2, 4]] * 2
    run = tmp_path / "run"
    assert result["val_subset"] == 3 and [r["val_subset"] for r in read_log(run)] == [3, 3]
    assert [line.split(",")[5] for line in (run / "log.csv").read_text().splitlines()] == ["val_subset", "3", "3"]
    assert capsys.readouterr().out.count("(3-frame subset)") == 2
    for name in ("best.pt", "last.pt"):
        state = torch.load(run / name, weights_only=False)
        assert state["config"]["val_limit"] == 3 and state["history"][state["best_epoch"] - 1]["val_subset"] == 3
    assert val_label(read_log(run)) == "val (3-frame subset)"
    # a limit that takes all of val is no subset: nothing says one
    whole = train(replace(cfg, val_limit=5, out=str(tmp_path / "whole")))
    assert whole["val_subset"] is None and "val_subset" not in whole["history"][0] and len(scored[-1]) == 5
    assert val_label(read_log(tmp_path / "whole")) == "val"
    with pytest.raises(ValueError, match="--val-limit count"):
        train(replace(cfg, val_limit=0, out=str(tmp_path / "none")))


def test_train_cli_val_limit_says_a_best_on_a_subset_is_one(tmp_path):
    data = make_segnet(tmp_path / "data", n=4, h=40, w=48)
    args = ["train", "--data", str(data), "--out", str(tmp_path / "run"), "--epochs", "1", "--batch-size", "2",
            "--crop", "32x32", "--amp", "off", "--workers", "0", "--decoder-channels", "32,16,16,8", "--val-limit", "2"]  # fmt: skip
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert "mIoU (on a 2-frame subset of val: --val-limit) at epoch 1" in r.output.rstrip().splitlines()[-1], r.output
    assert torch.load(tmp_path / "run/last.pt", weights_only=False)["config"]["val_limit"] == 2
    assert "N of its frames, spread evenly over it" in " ".join(CliRunner().invoke(main, ["train", "--help"]).output.split())
    bad = CliRunner().invoke(main, ["train", "--data", str(data), "--val-limit", "0"])
    assert bad.exit_code == 2 and "--val-limit" in bad.output


def test_a_resume_keeps_the_val_frames_the_run_started_with_and_says_so(tmp_path, monkeypatch):
    """A run's best.pt is chosen by comparing its epochs' scores: a resume that scored other val frames than the
    run's earlier epochs would compare a subset's score with val's. It keeps the run's, and says so where asked
    for others."""
    from roadseg.train.curve import read_log

    _ctrl_c_in_the_second_epoch(_cfg(tmp_path, epochs=3, select="val", val_limit=2), monkeypatch)
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["train", "--data", "data", "--resume", "run/last.pt"])
    assert r.exit_code == 0 and "not used" not in r.output, r.output
    r = CliRunner().invoke(main, ["train", "--data", "data", "--resume", "run/last.pt", "--epochs", "4", "--val-limit", "3"])
    assert r.exit_code == 0, r.output
    assert ("roadseg: --val-limit not used: a resumed run goes on with the recipe it was started with" in r.output
            and "its val frames stay the run's, so that best.pt is chosen on scores that compare" in r.output), r.output
    assert [row["val_subset"] for row in read_log(tmp_path / "run")] == [2, 2, 2, 2]
    # and a run scored on all of val goes on so, whatever --val-limit the resume gives
    train(_cfg(tmp_path, out=str(tmp_path / "all"), epochs=1, select="val"))
    r = CliRunner().invoke(main, ["train", "--data", "data", "--resume", "all/last.pt", "--epochs", "2", "--val-limit", "1"])
    assert r.exit_code == 0 and "--val-limit not used" in r.output, r.output
    assert [row.get("val_subset") for row in read_log(tmp_path / "all")] == [None, None]


def test_curve_merges_a_log_from_before_val_subset_with_one_after(tmp_path):
    """models/training_log.csv (a merged log of older runs) with the next stage's run: the new run's log.csv has a
    val_subset column the old one lacks; merging them must keep both runs' rows, the old run's val_subset empty."""
    from roadseg.train.curve import merge_csv, series, val_label

    train(_cfg(tmp_path, epochs=1, val_limit=2))
    run = tmp_path / "run"
    old = tmp_path / "old.csv"
    lines = [line.split(",") for line in (run / "log.csv").read_text().splitlines()]
    old.write_text("".join(",".join(["run"] + cols[:5] + cols[6:]) + "\n" if i == 0 else
                           ",".join(["older"] + cols[:5] + cols[6:]) + "\n" for i, cols in enumerate(lines)))  # fmt: skip
    merged = merge_csv([old, run], tmp_path / "all.csv").read_text().splitlines()
    assert len(merged) == 3 and "val_subset" in merged[0].split(",")
    (_, older), (_, new) = series([tmp_path / "all.csv"])
    assert [val_label(older), val_label(new)] == ["val", "val (2-frame subset)"]


def test_curve_of_a_short_run_marks_whole_epochs_only(tmp_path, monkeypatch):
    """A student's 3-epoch first run was drawn with epoch ticks at 1.25, 1.5, 1.75 …, epochs that do not exist."""
    import matplotlib.figure

    from roadseg.train.curve import plot

    run = tmp_path / "run"
    run.mkdir()
    rows = [{"epoch": e, "train_loss": 2.5 - 0.1 * e, "miou": 0.02 * e, "check_miou": None} for e in (1, 2, 3)]
    (run / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    ticks = []
    saved = matplotlib.figure.Figure.savefig

    def savefig(fig, *args, **kwargs):
        lo, hi = fig.axes[0].get_xlim()
        ticks.extend(t for t in fig.axes[0].get_xticks() if lo <= t <= hi)
        return saved(fig, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig)
    plot([run], tmp_path / "c.png")
    assert ticks and all(t == int(t) for t in ticks), ticks
