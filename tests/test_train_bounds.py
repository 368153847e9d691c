"""What a training run asks of the machine (roadseg/train/bounds.py, TrainConfig's bounds): refused in one line before
any frame is read, and a step that runs out of memory anyway said in one line with its checkpoint kept.

Was: --batch-size 100000 refused only once every frame was read, and a size or batch the memory cannot hold read the
frames, then failed in the first step with torch's allocator message, or the system's kill, a minute or more in."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

torch = pytest.importorskip("torch")

from test_data import make_segnet  # noqa: E402
from test_train import _cfg  # noqa: E402  (test_train's small run)

import roadseg.pipeline.infer as infer  # noqa: E402
import roadseg.train.loop as loop  # noqa: E402
from roadseg.cli import main  # noqa: E402
from roadseg.data.camvid import CamVid  # noqa: E402
from roadseg.errors import ArgumentError  # noqa: E402
from roadseg.train.bounds import FIXED_BYTES, step_bytes  # noqa: E402
from roadseg.train.config import TrainConfig  # noqa: E402
from roadseg.train.loop import train  # noqa: E402


@pytest.fixture
def no_frame_read(monkeypatch):
    """Fail the test where a frame is read (CamVid.load_all: what a refusal up front must come before)."""
    def read(self):
        raise AssertionError(f"the {self.split} frames were read")

    monkeypatch.setattr(CamVid, "load_all", read)


def test_a_batch_larger_than_the_training_frames_is_refused_before_any_frame_is_read(tmp_path, no_frame_read):
    with pytest.raises(ValueError, match="^4 training frames make no batch of 5: lower --batch-size$"):
        train(_cfg(tmp_path, batch_size=5))
    held = "^2 training frames make no batch of 3: lower --batch-size or hold less out \\(--holdout\\)$"
    with pytest.raises(ValueError, match=held):  # (the frames held out are counted out, by name)
        train(_cfg(tmp_path, batch_size=3, holdout=("0001TP:0.5",)))
    r = CliRunner().invoke(main, ["train", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"),
                                  "--batch-size", "100000"])  # fmt: skip
    assert r.exit_code == 1 and r.output == "Error: 4 training frames make no batch of 100000: lower --batch-size\n"
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("args", [["--size", "5000x480"], ["--crop", "64x99999"],
                                  ["--phase", "1:1:64x5000", "--size", "360x4096"]])  # fmt: skip
def test_a_size_or_crop_beyond_the_maximum_is_refused_in_one_line(tmp_path, args):
    """--size 20000x30000 was refused by the frames' memory alone (a machine with more took it); a crop that
    long needs terabytes for a step."""
    data = make_segnet(tmp_path / "data", n=1)
    r = CliRunner().invoke(main, ["train", "--data", str(data), "--out", str(tmp_path / "run"), *args])
    assert r.exit_code == 2 and len(r.output.splitlines()) == 1, r.output
    assert r.output.startswith("Error: ") and "each from 1 to 4096, not" in r.output, r.output
    with pytest.raises(ArgumentError, match="size must be H W, each from 1 to 4096, not \\(4097, 480\\)"):
        TrainConfig(data="x", size=(4097, 480))
    with pytest.raises(ArgumentError, match="batch_size must be a whole number, 1 or more, not 0"):
        TrainConfig(data="x", batch_size=0)


def test_a_step_the_free_memory_cannot_hold_is_refused_before_any_frame_is_read(tmp_path, monkeypatch, no_frame_read):
    monkeypatch.setattr(infer, "free_memory", lambda: 3_000_000_000)
    cfg = _cfg(tmp_path, size=(1024, 1024), crop=(1024, 1024), batch_size=4)
    with pytest.raises(ValueError) as said:
        train(cfg)
    assert str(said.value) == ("the run needs about 6.1 GB of memory (a step of --batch-size 4 at 1024x1024 crops 5.1 "
                               "GB, the frames at --size 1024x1024 0.0 GB, torch and the network 1.0 GB); 3.0 GB is "
                               "free: lower --batch-size or --crop (or a --phase's crop), or narrower --decoder-channels")  # fmt: skip
    assert not (tmp_path / "run").exists()
    big = _cfg(tmp_path, size=(4096, 4096), crop=(64, 64))  # (4 train and 4 val frames of 67 MB each)
    monkeypatch.setattr(infer, "free_memory", lambda: 1_400_000_000)
    with pytest.raises(ValueError, match="; 1.4 GB is free: lower --size, or train on fewer frames$"):
        train(big)


def test_a_step_that_needs_most_of_the_free_memory_is_warned_of_and_runs(tmp_path, monkeypatch, caplog):
    cfg = _cfg(tmp_path, epochs=1, max_steps=1)
    need = step_bytes(cfg, amp=False) + FIXED_BYTES
    monkeypatch.setattr(infer, "free_memory", lambda: int(need / 0.9))
    train(cfg)
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(said) == 1 and "the run may fail for memory (lower --batch-size or --crop" in said[0], said
    assert (tmp_path / "run" / "last.pt").is_file()


#: One real training step of the shipped decoder in a fresh process: (the peak RSS it added, bytes) on stdout
MEASURE = """
import json, sys, torch
from roadseg.model import Preprocess, build_model
def status(key):  # (kB, of /proc/self/status)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":")) * 1024
net, pre = build_model({"decoder_channels": (128, 64, 48, 32)}), Preprocess()
opt = torch.optim.AdamW(net.parameters())
def step(batch, side):
    x, y = torch.randint(0, 256, (batch, side, side, 3), dtype=torch.uint8), torch.randint(0, 11, (batch, side, side))
    loss = torch.nn.functional.cross_entropy(net(pre(x)), y)
    opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
step(2, 32)
before = status("VmRSS")
with open("/proc/self/clear_refs", "w") as f:  # (the peak, VmHWM, reset to the RSS now: an earlier peak of the
    f.write("5")                               # imports hid the step's, measured as 0 in CI with ru_maxrss)
step(2, 192)
print(json.dumps(status("VmHWM") - before))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="VmRSS and VmHWM of /proc/self/status: Linux's")
def test_the_estimate_of_a_step_is_within_a_factor_of_two_of_a_real_steps_peak(tmp_path):
    """The fitted bytes a pixel (roadseg.train.bounds.PER_PIXEL) against one real fp32 step: 2 crops of 192x192."""
    done = subprocess.run([sys.executable, "-c", MEASURE], capture_output=True, text=True, timeout=120, check=True)
    measured = json.loads(done.stdout)
    estimated = step_bytes(TrainConfig(data="x", batch_size=2, crop=(192, 192)), amp=False)
    assert 0.5 < estimated / measured < 2, (estimated, measured)


def _out_of_memory_in_epoch(n: int, monkeypatch, error: BaseException) -> None:
    """Make the ``n``-th epoch's step fail with ``error`` (torch's allocator, Python's MemoryError)."""
    real, calls = loop.train_one_epoch, {"n": 0}

    def failing(*args, **kw):
        calls["n"] += 1
        if calls["n"] == n:
            raise error
        return real(*args, **kw)

    monkeypatch.setattr(loop, "train_one_epoch", failing)


ALLOCATOR = RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: "
                         "you tried to allocate 314572800 bytes. Error code 12 (Cannot allocate memory)")  # fmt: skip


def test_out_of_memory_in_a_step_is_one_line_and_last_pt_is_kept_to_resume(tmp_path, monkeypatch):
    cfg = _cfg(tmp_path, epochs=3, select="last")
    _out_of_memory_in_epoch(2, monkeypatch, ALLOCATOR)
    with pytest.raises(RuntimeError) as said:
        train(cfg)
    last = tmp_path / "run" / "last.pt"
    assert str(said.value) == (f"out of memory in epoch 2: {last} holds epoch 1; resume with --resume {last} --epochs 3 "
                               "where there is more memory, or start again with a lower --batch-size or --crop (or "
                               "--size, narrower --decoder-channels): a step of --batch-size 2 at 32x32 crops was "
                               "estimated at 0.0 GB")  # fmt: skip
    monkeypatch.undo()
    assert len(train(cfg, resume=last)["history"]) == 3


@pytest.mark.parametrize("error", [MemoryError(), ALLOCATOR,
                                   RuntimeError("DataLoader worker (pid 7) is killed by signal: Killed. ")],
                         ids=["python", "torch", "oom-killed-worker"])  # fmt: skip
def test_a_memory_error_in_the_first_epoch_is_one_error_line_of_the_cli(tmp_path, monkeypatch, error):
    """Python's MemoryError (an allocation in NumPy or the loader) was a traceback; torch's allocator's, and a loader
    worker that the OOM killer ended, torch's own words, which named nothing to lower."""
    data = make_segnet(tmp_path / "data", n=4, h=40, w=48)
    _out_of_memory_in_epoch(1, monkeypatch, error)
    r = CliRunner().invoke(main, ["train", "--data", str(data), "--out", str(tmp_path / "run"), "--epochs", "1",
                                  "--batch-size", "2", "--crop", "32x32", "--size", "40x48", "--workers", "0"])  # fmt: skip
    assert r.exit_code == 1 and r.exception.__class__ is SystemExit, (r.output, r.exception)
    said = r.output.split("\r")[-1]  # (after the epoch's progress bar, which is cleared)
    assert said.startswith("Error: out of memory in epoch 1: no epoch was saved, so ") and said.count("\n") == 1
    assert "Traceback" not in r.output
    assert "start again with a lower --batch-size or --crop" in r.output and not (tmp_path / "run").exists()
