"""Numbers no real run asks for, refused in one line before any work: --threads past 1024 (100000 started threads
for minutes, silent); and a model that is no regular file, said as such."""

import os

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
