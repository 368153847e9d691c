"""A run far slower than its video (under 0.5x real time) or a live run that dropped most of its frames ends with one
line, before its last, that names its slowest stage and what speeds that stage up; a quiet run, a fast one and images
get none. The slowness is injected (a model that sleeps, or stage times given), not left to the machine's speed."""

import json
import time

import pytest
from click.testing import CliRunner
from conftest import split_frames, write_video

from roadseg.cli import segment_video_cmd
from roadseg.pipeline.options import RunResult, SegmentOptions
from roadseg.pipeline.realtime import slow_hint
from roadseg.pipeline.session import OnnxSegmenter


def _slow_model(monkeypatch) -> None:
    """A model at 5 frames/s at most, the clips at 25: 0.2x real time at best."""
    real = OnnxSegmenter.predict
    monkeypatch.setattr(OnnxSegmenter, "predict", lambda self, frames: (time.sleep(0.2), real(self, frames))[1])


def _run(rule_onnx, tmp_path, frames: int, *extra: str) -> tuple[list[str], dict]:
    src = write_video(tmp_path / "clip.mp4", split_frames(frames, h=96, w=128))
    stats = tmp_path / "stats.json"
    r = CliRunner().invoke(segment_video_cmd, [str(src), "-o", str(tmp_path / "o.mp4"), "--model", str(rule_onnx),
                                               "--device", "cpu", "--stats", str(stats), *extra])  # fmt: skip
    assert r.exit_code == 0, r.output
    return [ln for ln in r.output.splitlines() if ln.strip()], json.loads(stats.read_text())


@pytest.mark.timeout(60)
def test_a_file_run_far_behind_real_time_says_its_pace_and_names_the_model_and_its_levers(rule_onnx, tmp_path,
                                                                                         monkeypatch):  # fmt: skip
    # was: 'wrote o.mp4: 20 frames in 4.3 s (4.7 frames/s)', and nothing on why, or what to do
    _slow_model(monkeypatch)
    lines, stats = _run(rule_onnx, tmp_path, 20)
    assert stats["video_fps"] == 25.0 and stats["frame_size"] == [96, 128], stats
    assert stats["realtime"] == pytest.approx(stats["fps"] / 25, rel=0.01) and stats["realtime"] < 0.25, stats
    assert lines[-1].endswith(f"frames/s, {stats['realtime']:.2g}x real time)"), lines
    hint = lines[-2]
    assert hint.startswith(f"hint: {stats['realtime']:.2g}x real time: the model is the slowest stage ("), hint
    assert "a frame, where 40 ms keeps up): try " in hint and "--fps 12" in hint, hint  # (the clip: 25 frames/s)
    assert sum(ln.startswith("hint:") for ln in lines) == 1, lines


@pytest.mark.timeout(60)
def test_a_quiet_run_gets_no_hint(rule_onnx, tmp_path, monkeypatch):
    _slow_model(monkeypatch)
    lines, stats = _run(rule_onnx, tmp_path, 20, "-q")
    assert stats["realtime"] < 0.5 and not any(ln.startswith("hint:") for ln in lines), lines


@pytest.mark.timeout(60)
def test_a_live_run_that_dropped_most_frames_names_the_model_and_its_levers(rule_onnx, tmp_path, monkeypatch):
    # was: 'live: wrote o.mp4: 18 frames at 4.6 frames/s, 82 dropped (82%), ...' and nothing more
    _slow_model(monkeypatch)
    lines, stats = _run(rule_onnx, tmp_path, 100, "--live")
    assert stats["drop_rate"] > 0.5 and stats["video_fps"] is None and stats["realtime"] is None, stats
    assert lines[-1].startswith("live: wrote "), lines
    assert lines[-2].startswith(f"hint: {100 * stats['drop_rate']:.0f}% of the frames dropped: the model is the "
                                "slowest stage ("), lines  # fmt: skip
    assert "a frame): try " in lines[-2] and "--fps" not in lines[-2], lines  # (--fps is refused for live input)


def _result(stages: dict, **kw) -> RunResult:
    """A 1080p file's run of 100 frames at 0.1x real time, its stages' seconds ``stages``."""
    given = {"video_fps": 25.0, "realtime": 0.1, "frame_size": [1080, 1920], "working_size": [320, 544],
             "model": "m/unet-r34-camvid-int8.onnx", "providers": ["CPUExecutionProvider"], **kw}  # fmt: skip
    return RunResult("a.mp4", "o.mp4", "file", 100, 40.0, 2.5, stages={k: {"seconds": v} for k, v in stages.items()},
                     **given)  # fmt: skip


@pytest.mark.parametrize("stages, said", [
    ({"decode": 30.0, "infer": 5.0, "encode": 8.0}, "the decoding is the slowest stage (300 ms a frame, where 40 ms "
     "keeps up): try --height 720 or --hwaccel (a hardware decoder: cuda, qsv, vaapi ...)"),
    ({"decode": 3.0, "infer": 5.0, "overlay": 2.0, "encode": 30.0}, "the encoding is the slowest stage (300 ms a "
     "frame, where 40 ms keeps up): try --preset ultrafast (now superfast) or --height 720"),
    ({"decode": 3.0, "resize": 1.0, "infer": 29.0, "encode": 8.0}, "the model is the slowest stage (300 ms a frame, "
     "where 40 ms keeps up): try --size 256x416 (a smaller working size than 320x544) or --fps 12"),
], ids=["decode", "encode", "model"])  # fmt: skip
def test_the_hint_names_the_stage_that_takes_most_time_a_frame_and_its_own_levers(stages, said):
    assert slow_hint(_result(stages), SegmentOptions("a.mp4", "o.mp4")) == f"hint: 0.1x real time: {said}"


def test_the_shipped_fp32_model_on_a_cpu_is_told_of_the_default_int8_one():
    hint = slow_hint(_result({"infer": 30.0}, model="models/unet-r34-camvid.onnx"), SegmentOptions("a.mp4", "o.mp4"))
    assert hint.endswith("try the default INT8 model (leave out --model) or --size 256x416 (a smaller working size "
                         "than 320x544)"), hint  # fmt: skip


def test_no_hint_for_a_run_fast_enough_a_short_one_a_quiet_one_or_images():
    opts = SegmentOptions("a.mp4", "o.mp4")
    assert slow_hint(_result({"infer": 30.0}, realtime=0.6), opts) is None
    assert slow_hint(_result({"infer": 30.0}, realtime=0.1), SegmentOptions("a.mp4", "o.mp4", quiet=True)) is None
    short = RunResult("a.mp4", "o.mp4", "file", 10, 2.0, 5.0, realtime=0.2, stages={"infer": {"seconds": 1.9}})
    assert slow_hint(short, opts) is None
    images = RunResult("d/", "s/", "images", 100, 40.0, 2.5, stages={"infer": {"seconds": 30.0}})
    assert slow_hint(images, SegmentOptions("d/", "s/")) is None
    live = RunResult("0", None, "camera", 100, 40.0, 2.5, dropped=40, drop_rate=0.4, latency_ms={"p50": 100},
                     stages={"infer": {"seconds": 30.0}})  # fmt: skip
    assert slow_hint(live, SegmentOptions("0", show=True)) is None
