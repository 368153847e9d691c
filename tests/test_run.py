"""The one run as a library: a model reused across runs, runs off the main thread, readable logs."""

import re
import threading
from fractions import Fraction

import pytest
from click.testing import CliRunner
from conftest import read_video, split_frames, write_video

import roadseg.pipeline.timing as timing
from roadseg.cli import segment_video_cmd
from roadseg.pipeline import OnnxSegmenter, Segmenter, SegmentOptions, run


def test_a_given_segmenter_is_reused_not_rebuilt(split_video, rule_onnx, tmp_path, monkeypatch):
    seg = Segmenter(rule_onnx, providers="cpu")
    built = []
    real = OnnxSegmenter.__init__
    monkeypatch.setattr(OnnxSegmenter, "__init__", lambda self, *a, **kw: built.append(a) or real(self, *a, **kw))
    for i in range(3):
        result = run(SegmentOptions(split_video, tmp_path / f"o{i}.mp4", quiet=True), segmenter=seg)
        # (fitted: about 32x48's pixels at the clip's 4:3, sides multiples of 32)
        assert result.frames == 12 and result.working_size == [32, 32] and result.audio_streams == 1
    smaller = run(SegmentOptions(split_video, tmp_path / "s.mp4", size=(16, 24), quiet=True), segmenter=seg)
    assert smaller.working_size == [16, 24] and built == []  # another working size, the same session


def test_run_works_from_a_worker_thread_and_raises_the_error_family(split_video, rule_onnx, tmp_path):
    from roadseg.errors import OutputError, RoadsegError

    seg = Segmenter(rule_onnx, providers="cpu")
    results, errors = [], []

    def worker() -> None:
        results.append(run(SegmentOptions(split_video, tmp_path / "t.mp4", quiet=True), segmenter=seg))
        try:
            run(SegmentOptions(split_video, tmp_path / "t.mp4", quiet=True), segmenter=seg)  # exists, no -y
        except RoadsegError as exc:
            errors.append(exc)

    t = threading.Thread(target=worker)
    t.start()
    t.join(60)
    assert results[0].frames == 12 and results[0].fps > 0
    assert isinstance(errors[0], OutputError) and errors[0].exit_code == 1


PROGRESS_LINE = re.compile(r"^\S+: \d+(/\d+)? frames.*, [\d.]+ frames/s")


def test_a_progress_bar_ends_full_where_the_pictures_came_slower_than_the_stated_rate(rule_onnx, tmp_path, monkeypatch):
    # a transport stream stating 30 frames/s whose camera held every other picture for two: 60 pictures in 3 s,
    # counted as 90 before they are read; the bar ended at 60/90 (67%)
    pts = [sum(3000 if i % 2 else 6000 for i in range(k)) for k in range(60)]
    clip = write_video(tmp_path / "night.ts", split_frames(60), fps=Fraction(30), time_base=Fraction(1, 90000), pts=pts)
    monkeypatch.setattr(timing, "_is_terminal", lambda stream: True)  # (a tqdm bar, on CliRunner's output)
    r = CliRunner().invoke(segment_video_cmd, [str(clip), "-o", str(tmp_path / "o.mp4"), "--model", str(rule_onnx)])
    assert r.exit_code == 0, r.output
    bars = [part for part in re.split(r"[\r\n]", r.output) if part.startswith("night.ts:")]
    assert " 0/90 " in bars[0] and bars[-1].startswith("night.ts: 100%") and " 60/60 " in bars[-1], bars  # (was: 60/90)


@pytest.mark.parametrize("live", [False, True])
def test_progress_off_a_terminal_is_periodic_lines_not_carriage_returns(rule_onnx, tmp_path, monkeypatch, live):
    clip = write_video(tmp_path / "clip.mp4", split_frames(25, h=96, w=128))  # 1 s
    out = tmp_path / "o.mp4"
    args = [str(clip), "-o", str(out), "--model", str(rule_onnx), "--device", "cpu"] + (["--live"] if live else [])
    r = CliRunner().invoke(segment_video_cmd, args)  # CliRunner's stderr is not a terminal
    assert r.exit_code == 0, r.output
    assert "\r" not in r.output and not any(PROGRESS_LINE.match(ln) for ln in r.output.splitlines())  # < 5 s: none
    monkeypatch.setattr(timing, "PROGRESS_INTERVAL", 0.0)  # a line per frame, as a long run has one every 5 s
    r = CliRunner().invoke(segment_video_cmd, args + ["-y"])
    assert r.exit_code == 0, r.output
    lines = [ln for ln in r.output.splitlines() if PROGRESS_LINE.match(ln)]
    assert "\r" not in r.output and len(lines) >= (5 if live else 25)
    assert ("latency p50" in lines[-1]) if live else lines[-1].startswith("clip.mp4: 25/25 frames (100%)")
    assert len(read_video(out)["frames"]) >= 5
    quiet = CliRunner().invoke(segment_video_cmd, args + ["-y", "-q"])
    assert quiet.exit_code == 0 and not any(PROGRESS_LINE.match(ln) for ln in quiet.output.splitlines())
    if not live:  # 0.5 s at 25 frames/s: 13 frames start in the window, 12.5 expected; never past 100 %
        r = CliRunner().invoke(segment_video_cmd, args + ["-y", "--duration", "0.5"])
        lines = [ln for ln in r.output.splitlines() if PROGRESS_LINE.match(ln)]
        assert r.exit_code == 0 and lines[-1].startswith("clip.mp4: 13/13 frames (100%)"), r.output
