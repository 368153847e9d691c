"""What ``roadseg bench`` states beside its figures: which timings a ratio comes from, what each row timed, the
machine and threads, and the warnings a run too short or too noisy to mean anything gets."""

import json
import statistics
import time

from click.testing import CliRunner
from conftest import split_frames, write_video

from roadseg.cli import main
from roadseg.pipeline.session import intra_op_threads
from roadseg.tools import bench
from roadseg.tools.report import format_table


def _bench(tmp_path, rule_onnx, *extra, frames=4, clip=6):
    video = write_video(tmp_path / "v.mp4", split_frames(clip, h=96, w=128))
    out = tmp_path / "res"
    torch = [] if "--torch" in extra else ["--no-torch"]
    extra = tuple(e for e in extra if e != "--torch")
    r = CliRunner().invoke(main, ["bench", "--video", str(video), "--model", str(rule_onnx), "--frames", str(frames),
                                  "--batch", "1", "--no-native", *torch, "--out", str(out), *extra])  # fmt: skip
    assert r.exit_code == 0, r.output
    return r, json.loads((out / "bench.json").read_text())


def test_bench_end_to_end_ratios_come_from_rounds_that_time_them_in_turn(tmp_path, rule_onnx):
    """pipeline / model-only and pipeline / naive loop divided rows timed minutes apart (one after another), which a
    machine whose speed drifts makes up; the default / baseline one alone was timed in turn."""
    r, data = _bench(tmp_path, rule_onnx, "--repeats", "2", "--baseline", str(rule_onnx))
    turns = data["interleaved"]
    assert len(turns["rounds"]) == 2 and all(set(t) == {"default", "baseline", "naive", "pipeline"} for t in turns["rounds"])
    ratio = lambda a, b: round(statistics.median(t[a] / t[b] for t in turns["rounds"]), 3)  # noqa: E731
    ra = data["ratios"]
    assert ra["pipeline_over_naive"] == ratio("pipeline", "naive") and ra["pipeline_over_model"] == ratio("pipeline", "default")
    assert ra["model_over_baseline"] == ratio("default", "baseline") == turns["ratio"]
    rows = {row["what"]: row for row in data["rows"] if row["batch"] == 1 and row["precision"] in ("custom", "baseline")}
    assert rows["segment-video pipeline"]["runs"] == turns["pipeline"]["runs"]  # (each figure from one timing)
    assert rows["naive loop (sequential)"]["runs"] == turns["naive"]["runs"]
    model_rows = [row for row in data["rows"] if row["what"] == "onnxruntime model-only"]
    assert [row["runs"] for row in model_rows] == [turns["default"]["runs"], turns["baseline"]["runs"]]
    assert "each the median of 2 rounds that timed them in turn" in r.output


def test_bench_naive_loop_is_timed_as_the_pipeline_is_not_with_opening_its_output(tmp_path, rule_onnx, monkeypatch):
    """The naive loop's seconds held opening the input and the encoder, the pipeline's (first frame in to output
    closed) did not: pipeline / naive loop was flattered."""

    class SlowToOpen(bench.VideoSink):
        def __init__(self, *args, **kwargs):
            time.sleep(0.6)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(bench, "VideoSink", SlowToOpen)
    _, data = _bench(tmp_path, rule_onnx, "--repeats", "1")
    naive = next(row for row in data["rows"] if row["what"].startswith("naive loop"))
    assert naive["ms_per_frame"] < 125, naive  # (was ≥ 150 ms: 0.6 s over 4 frames)
    assert naive["frames"] == 4 and naive["seconds"] < 0.5


def test_bench_states_the_machine_threads_time_and_what_each_row_timed(tmp_path, rule_onnx):
    r, data = _bench(tmp_path, rule_onnx, "--repeats", "1")
    assert data["when"].endswith("+00:00") and len(data["load_average"]) == 2 and data["cpus_usable"] >= 1
    assert data["threads"]["onnxruntime"] == (intra_op_threads() or "default (one per physical core)")  # (a usable CPU each
    # where fewer than the machine's may be used)
    assert data["settings"]["frames"] == 4 and data["settings"]["repeats"] == 1 and data["settings"]["batches"] == [1]
    assert all(row["frames"] == 4 and row["seconds"] > 0 for row in data["rows"])
    machine = next(line for line in r.output.splitlines() if line.startswith("machine: "))
    assert data["machine"]["cpu"]["model"] in machine and "onnxruntime" in machine and "threads" in machine
    assert "load average" in machine and data["when"] in r.output
    assert "model-only: session.run on frames already at the size" in r.output
    assert "from the first frame decoded to the output closed" in r.output
    assert "pipeline stages (ms/frame, last run)" in r.output


def test_bench_flags_a_run_too_short_to_mean_anything(tmp_path, rule_onnx):
    """4 frames timed once printed its table and ratios with no word of doubt."""
    r, data = _bench(tmp_path, rule_onnx, "--repeats", "1", frames=8, clip=5)
    said = "\n".join(data["warnings"])
    assert "1 timed run per row: no spread measured" in said
    assert "timed runs last under 1 s" in said and "raise --frames" in said
    assert "8 frames asked, the clip gave 5" in said
    assert all(w in r.output for w in data["warnings"]) and data["frames"] == 5
    assert all(row["frames"] == 5 for row in data["rows"])  # (the pipeline cut its run at the frames asked: was 8)


def test_bench_table_shows_each_rows_spread_and_flags_a_model_above_the_measured_peak():
    row = {"what": "segment-video pipeline", "precision": "int8", "device": "cpu", "size": "96x128", "batch": 1,
           "fps": 50.0, "ms_per_frame": 20.0, "runs": [50.0, 48.0, 52.0], "spread": 1.083, "frames": 60, "seconds": 1.2,
           "stages_ms": {"infer": 15.0}}  # fmt: skip
    result = {"frames": 60, "video": "v.mp4", "video_info": {"width": 128, "height": 96}, "repeats": 3, "rows": [row],
              "ratios": {"pipeline_over_model": 0.9, "pipeline_over_naive": 2.0},
              "floor": {"peak": {"fp32_gflops": 100.0, "int8_gops": 400.0},
                        "fp32": {"gmacs_per_frame": 17.66, "achieved_gops": 107.4, "fraction_of_peak": 1.074,
                                 "at": "96x128 batch 1"}}}  # fmt: skip
    text = format_table(result)
    assert "spread" in text.splitlines()[1] and " 1.08x" in text
    assert "above the measured peak" in text and "the peak read low" in text
    assert "load average" not in text
    text = format_table({**result, "load_average": [3.1, 4.0], "cpus_usable": 2})  # (another job on the cores)
    assert "warning: the load average was 3.1 on 2 CPUs as the run began" in text


def test_bench_threads_pins_every_session_and_pytorch(tmp_path, rule_onnx, monkeypatch):
    """Each row ran with each library's default threads, unstated for onnxruntime: a reader could not tell whether
    PyTorch eager and onnxruntime had the same cores, and could not pin them (taskset is not enough for onnxruntime)."""
    import torch

    from roadseg.pipeline import infer, session

    asked = []

    class Counted(session.OnnxSegmenter):
        def __init__(self, path, **kwargs):
            asked.append(kwargs.get("threads", 0))
            super().__init__(path, **kwargs)

    monkeypatch.setattr(infer, "OnnxSegmenter", Counted)
    monkeypatch.setattr(bench, "OnnxSegmenter", Counted)
    before = torch.get_num_threads()
    own = tmp_path / "own.onnx"  # (a rule model saying it is the shipped network: the PyTorch row builds that)
    from conftest import rule_model

    rule_model(own, metadata={"model_config": {"num_classes": 11, "decoder_channels": [16, 16, 16, 16]}})
    r, data = _bench(tmp_path, own, "--repeats", "1", "--threads", "1", "--baseline", str(rule_onnx), "--torch",
                     "--batch", "2")  # fmt: skip
    assert data["threads"]["onnxruntime"] == 1 and data["settings"]["threads"] == 1
    assert asked.count(1) == 4 and asked.count(0) == 1, asked  # (in turn and at batch 2, each model; its metadata read)
    eager = next(row for row in data["rows"] if row["what"] == "pytorch eager")
    assert eager["threads"] == 1 and torch.get_num_threads() == before and "torch 1" in r.output


def test_bench_pytorch_row_times_the_benchmarked_network_or_none(tmp_path, rule_onnx):
    """Without --checkpoint the PyTorch row built the default network whatever model was benchmarked: against a
    model of another shape it timed another network, side by side as if the same."""
    r, data = _bench(tmp_path, rule_onnx, "--repeats", "1", "--torch")
    assert "pytorch eager" not in [row["what"] for row in data["rows"]]
    assert "rule.onnx has no model_config: PyTorch eager skipped (it would time another network)" in r.output


def test_in_turn_begins_each_round_one_further_along():
    """Every round ran a, b, c in that order: what the first run of a round pays (caches the last one left cold, a
    clock ramping up) fell on a alone, and a ratio against it carried that."""
    from roadseg.tools.bench_timing import in_turn

    order = []
    fns = {k: (lambda k=k: order.append(k) or (1, 0.1)) for k in "abc"}
    turns = in_turn(fns, repeats=4, warmup=0)
    assert "".join(order) == "abcbcacababc" and list(turns["rounds"][1]) == ["a", "b", "c"]


def test_start_in_ts_script_says_the_machine_and_warms_up_before_its_timed_rounds(monkeypatch, capsys):
    """The scripts in benchmarks/ printed figures with no word of the machine they came from, and this one counted
    its first, cold round among the timed ones."""
    import importlib.util
    import sys
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("start_in_ts", Path(__file__).parents[1] / "benchmarks" / "start_in_ts.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    calls = []
    timed = script.source
    monkeypatch.setattr(script, "source", lambda path, start: calls.append(start) or timed(path, start))
    monkeypatch.setattr(sys, "argv", ["start_in_ts.py", "--minutes", "0.2", "--repeats", "2"])
    script.main()
    out = capsys.readouterr().out
    assert out.startswith("machine: ") and "onnxruntime" in out.splitlines()[0]
    assert len(calls) == 3 and out.count("(of ") == 4 and all(len(line.split("(of ")[1].split(",")) == 2
                                                                for line in out.splitlines() if "(of " in line)  # fmt: skip


def test_decoder_widths_script_says_the_machine_and_each_variants_spread(tmp_path, monkeypatch, capsys):
    """Its table and JSON gave medians alone, with no word of the machine: the figures of benchmarks/README.md could
    not be told apart from another machine's or a noisy run's. (Two rule models stand in for the networks.)"""
    import importlib.util
    import sys
    from pathlib import Path

    import numpy as np
    from conftest import rule_model

    import roadseg.export.onnx as onnx_export
    import roadseg.export.quantize as quantize
    import roadseg.model as model

    spec = importlib.util.spec_from_file_location("widths", Path(__file__).parents[1] / "benchmarks" / "decoder_widths.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    monkeypatch.setattr(script, "VARIANTS", {"wide": {}, "narrow": {}})
    monkeypatch.setattr(model, "UNetResNet34", lambda classes, **kw: __import__("torch").nn.Identity())
    monkeypatch.setattr(onnx_export, "export_onnx", lambda net, path: rule_model(path, input_size=(360, 480)))
    monkeypatch.setattr(onnx_export, "count_macs", lambda net, size: 10**9)
    monkeypatch.setattr(quantize, "quantize_int8", lambda src, dst, frames: rule_model(dst, input_size=(360, 480)))
    monkeypatch.setattr(quantize, "load_calibration_frames", lambda data, count: np.zeros((count, 360, 480, 3), np.uint8))
    out = tmp_path / "widths.json"
    monkeypatch.setattr(sys, "argv", ["decoder_widths.py", "--repeats", "3", "--out", str(out)])
    script.main()
    text = capsys.readouterr().out
    assert text.startswith("machine: ") and "onnxruntime threads: its default" in text.splitlines()[0]
    assert "| INT8 spread |" in text and "medians of 3 rounds, each variant in turn" in text
    data = json.loads(out.read_text())
    assert data["machine"]["cpu"]["cores"] >= 1
    assert all(len(v["int8_runs_ms"]) == 3 and v["int8_spread"] >= 1.0 for v in data["variants"].values())


def test_live_pipe_delay_script_says_the_machine_what_its_figures_are_and_pictures_that_never_came(monkeypatch,
                                                                                                    capsys):  # fmt: skip
    """Its delays are of the pictures that reached the reader: a run that lost some showed a median of the rest, with
    no word of it; and no word of the machine. (The live runs stand in: each returns its figures.)"""
    import importlib.util
    import sys
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("pipe_delay", Path(__file__).parents[1] / "benchmarks" / "live_pipe_delay.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    came = iter([25, 25, 25, 25, 25, 20])  # (the last run, sound late and now, lost 5 pictures)

    def run_once(clip, model, options, output="-", before=False):
        return {"pictures": next(came), "audio_blocks": 0, "median_ms": 40.0, "p95_ms": 45.0, "max_ms": 50.0,
                "burst_share": 0.0}  # fmt: skip

    monkeypatch.setattr(script, "run_once", run_once)
    monkeypatch.setattr(sys, "argv", ["live_pipe_delay.py", "--seconds", "1", "--rounds", "1"])
    script.main()
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("machine: ") and out[1].startswith("medians over 1 round(s) of each run's median")
    assert "warning: fewer than the clip's 25 pictures reached the reader in: sound 1 s late now" in out


def _adapted_fixed(tmp_path):
    """A network made elsewhere, fixed at 64x80 inside ([N,3,64,80]), wrapped by adapt_onnx."""
    import test_own_model as own

    from roadseg.export.adapt import adapt_onnx

    return adapt_onnx(own.theirs(tmp_path / "theirs.onnx", size=(64, 80)), tmp_path / "mine.onnx",
                      classes=["red", "green", "blue"])  # fmt: skip


def test_bench_times_a_network_fixed_inside_at_the_size_segment_runs_it_at(tmp_path):
    """A network fixed at 64x80 inside (adapt_onnx) is run at 64x80 on any picture by segment; bench timed it, the
    pipeline and the naive loop at 64x96 on a 16:9 clip (fitted to the clip's aspect, then resized again in the
    graph): a size segment never uses."""
    video = write_video(tmp_path / "v.mp4", split_frames(6, h=72, w=128))
    out = tmp_path / "res"
    r = CliRunner().invoke(main, ["bench", "--video", str(video), "--model", str(_adapted_fixed(tmp_path)), "--frames",
                                  "4", "--batch", "1", "--no-native", "--no-torch", "--repeats", "1", "--out", str(out)])  # fmt: skip
    assert r.exit_code == 0, r.output
    data = json.loads((out / "bench.json").read_text())
    assert data["working_size"] == [64, 80] and data["interleaved"]["size"] == "64x80", data["working_size"]
    assert {row["size"] for row in data["rows"]} == {"64x80"}


def test_bench_of_a_model_of_batch_one_says_so_once_and_marks_the_rows_it_ran_frame_by_frame(tmp_path):
    """A model that takes one frame at a time: its 'batch 4' rows were 4 runs of 1, with nothing in the table or
    bench.json to say so, and the line saying it came once for each such row (a session each)."""
    import test_own_model as own

    video = write_video(tmp_path / "v.mp4", split_frames(6, h=72, w=128))
    out = tmp_path / "res"
    r = CliRunner().invoke(main, ["bench", "--video", str(video), "--model", str(own.batch_one(tmp_path / "one.onnx")),
                                  "--frames", "4", "--batch", "1", "--batch", "4", "--no-torch", "--repeats", "1",
                                  "--out", str(out)])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert r.output.count("one.onnx takes one frame at a time") == 1, r.output
    rows = [row for row in json.loads((out / "bench.json").read_text())["rows"] if row["what"] == "onnxruntime model-only"]
    assert [(row["batch"], row.get("one_at_a_time", False)) for row in rows] == [(1, False), (4, True)] * 2
    assert "warning: the model takes one frame at a time: onnxruntime model-only custom 64x96 b4, onnxruntime " \
        "model-only custom 72x128 b4 ran their batches frame by frame" in r.output, r.output


def test_bench_times_an_anamorphic_clip_at_the_working_size_segment_runs_it_at(tmp_path, rule_onnx):
    """A clip of 4:3 pixels (128x96 stored, 16:9 shown) was timed at the working size of its stored shape: segment
    runs it at its shown shape's."""
    from fractions import Fraction

    video = write_video(tmp_path / "hdv.mp4", split_frames(6, h=96, w=128), sample_aspect=Fraction(4, 3))
    out, stats = tmp_path / "res", tmp_path / "stats.json"
    r = CliRunner().invoke(main, ["segment", str(video), "-o", str(tmp_path / "o.mp4"), "--model", str(rule_onnx),
                                  "--stats", str(stats), "-q"])  # fmt: skip
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["bench", "--video", str(video), "--model", str(rule_onnx), "--frames", "4", "--batch",
                                  "1", "--no-native", "--no-torch", "--repeats", "1", "--out", str(out)])  # fmt: skip
    assert r.exit_code == 0, r.output
    ran = json.loads(stats.read_text())["working_size"]
    assert json.loads((out / "bench.json").read_text())["working_size"] == ran == [32, 64], ran


def test_bench_floor_counts_the_macs_of_the_working_size_run(tmp_path, monkeypatch):
    """The floor took the file's MACs (counted at its input_size, 48x64 here; 360x480 for the shipped models) for a
    clip run at another working size (a 16:9 clip: 32x64 here, 320x544 for the shipped ones): the GMAC/frame and
    the fraction of peak were of a size never run."""
    from conftest import rule_model

    monkeypatch.setattr(bench, "machine_peak", lambda threads=0: {"fp32_gflops": 100.0, "int8_gops": 400.0})
    model = rule_model(tmp_path / "m.onnx", input_size=(48, 64), metadata={"macs": 6 * 10**9})
    got = {}
    for h, w in ((96, 128), (72, 128)):  # (4:3: run at its 48x64; 16:9: at 32x64)
        video = write_video(tmp_path / f"{h}.mp4", split_frames(4, h=h, w=w))
        r = CliRunner().invoke(main, ["bench", "--video", str(video), "--model", str(model), "--frames", "4", "--batch",
                                      "1", "--no-native", "--no-torch", "--repeats", "1", "--out", str(tmp_path / f"{h}")])  # fmt: skip
        assert r.exit_code == 0, r.output
        data = json.loads((tmp_path / f"{h}" / "bench.json").read_text())
        fl, row = data["floor"]["custom"], data["rows"][0]
        assert fl["at"] == f"{row['size']} batch 1" and fl["achieved_gops"] == round(2 * fl["gmacs_per_frame"] * row["fps"], 1)
        got["x".join(map(str, data["working_size"]))] = fl["gmacs_per_frame"]
    assert got == {"48x64": 6.0, "32x64": 4.0}, got


def test_macs_at_a_working_size_are_a_convolutional_networks_own_count_there(tmp_path):
    """:func:`roadseg.tools.peak.macs_at` scales the MACs counted at a network's input_size by the pixels: a real
    network's count (convolutions, strided ones too) at 320x544 and at 360x480, the two sizes the shipped models
    run at, against it."""
    import torch
    from conftest import rule_model

    from roadseg.export.onnx import count_macs
    from roadseg.pipeline.session import OnnxSegmenter
    from roadseg.tools.peak import macs_at

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.Conv2d(8, 16, 3, stride=2, padding=1),
                              torch.nn.Conv2d(16, 4, 1))  # fmt: skip
    rule_model(tmp_path / "m.onnx", input_size=(360, 480), metadata={"macs": count_macs(net, (360, 480))})
    seg = OnnxSegmenter(tmp_path / "m.onnx", providers="cpu")
    assert macs_at(seg, (360, 480)) == count_macs(net, (360, 480))
    assert macs_at(seg, (320, 544)) == count_macs(net, (320, 544)) != count_macs(net, (360, 480))
