import json
import sys

import pytest
from click.testing import CliRunner
from conftest import split_frames, write_video

from roadseg.cli import main
from roadseg.tools.report import format_table


def test_info_reports_versions_providers_cpu_and_model():
    r = CliRunner().invoke(main, ["info", "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    assert "CPUExecutionProvider" in rep["providers"]["available"] and rep["providers"]["auto_device"] in ("cpu", "cuda")
    assert set(rep["cpu"]["features"]) >= {"avx2", "avx512_vnni"} and rep["cpu"]["cores"] >= 1
    assert "libx264" in rep["encoders"] and rep["libraries"]["roadseg"]
    assert "path" in rep["default_model"] or "error" in rep["default_model"]
    text = CliRunner().invoke(main, ["info"]).output
    assert "ort providers" in text and "default model" in text


@pytest.mark.parametrize("threads, says", [(0, None), (3, 3)])
def test_info_json_says_onnxruntimes_threads_as_a_number_or_null(monkeypatch, threads, says):
    """``threads.onnxruntime`` was a number or the words "one per physical core": two types for one field."""
    import roadseg.pipeline.session as session

    monkeypatch.setattr(session, "intra_op_threads", lambda threads_=0: threads)
    rep = json.loads(CliRunner().invoke(main, ["info", "--json"]).output)
    assert rep["threads"]["onnxruntime"] == says and (says is None or isinstance(says, int)), rep["threads"]
    text = CliRunner().invoke(main, ["info"]).output  # (the line for people as it was)
    line = f"onnxruntime threads  {'one per physical core' if says is None else 3} (--threads N sets them)"
    assert line in text, text


def test_bench_prints_the_side_by_side_table_and_writes_json_and_chart(rule_onnx, tmp_path, monkeypatch):
    video = write_video(tmp_path / "v.mp4", split_frames(10, h=96, w=128))
    out = tmp_path / "bench-results"  # the default, in the working folder (was benchmarks/results: in a clone of the
    monkeypatch.chdir(tmp_path)  # repository, over the committed results)
    r = CliRunner().invoke(main, ["bench", "--video", str(video), "--model", str(rule_onnx), "--frames", "6",
                                  "--repeats", "1", "--batch", "1", "--batch", "2", "--no-torch",
                                  "--baseline", str(rule_onnx)])  # fmt: skip
    assert r.exit_code == 0, r.output
    data = json.loads((out / "bench.json").read_text())
    whats = [row["what"] for row in data["rows"]]
    assert whats.count("onnxruntime model-only") == 6  # 2 batches x (working, native) + 2 batches of the baseline
    base = [row for row in data["rows"] if row["precision"] == "baseline"]
    assert [row["batch"] for row in base] == [1, 2] and data["ratios"]["model_over_baseline"] > 0
    assert "default / baseline" in r.output and "timed in turn" in r.output
    turns = data["interleaved"]  # the ratio from rounds that time the two in turn (was: rows timed minutes apart)
    assert len(turns["default"]["runs"]) == len(turns["baseline"]["runs"]) == 1
    assert data["ratios"]["model_over_baseline"] == turns["ratio"] > 0 and turns["size"] == "{}x{}".format(*data["working_size"])
    assert all(row["spread"] >= 1.0 for row in data["rows"]) and "machine was busy" not in r.output
    data["rows"][0]["spread"] = 2.5  # (a row whose runs were that far apart is named)
    assert "warning: the runs of 1 row(s) differ by up to 2.50x" in format_table(data)
    assert {"naive loop (sequential)", "segment-video pipeline"} <= set(whats)
    assert all(row["fps"] > 0 for row in data["rows"])
    assert data["ratios"]["pipeline_over_model"] > 0 and (out / "bench.png").stat().st_size > 1000
    assert "pipeline / model-only" in r.output and "96x128" in r.output
    peak = data["floor"]["peak"]
    assert peak["fp32_gflops"] > 1 and peak["int8_gops"] > 1 and "machine peak" in r.output


def test_bench_with_fewer_frames_than_a_batch_is_one_line(rule_onnx, tmp_path):
    video = write_video(tmp_path / "v.mp4", split_frames(3, h=96, w=128))
    args = ["bench", "--video", str(video), "--model", str(rule_onnx), "--repeats", "1", "--no-torch", "--out",
            str(tmp_path / "res")]  # fmt: skip
    r = CliRunner().invoke(main, [*args, "--batch", "4"])  # a 3-frame clip: this was a ZeroDivisionError
    assert r.exit_code == 1 and r.exception.__class__ is SystemExit, r.exception
    assert r.output.startswith("Error: 3 frames read from") and "fewer than --batch 4 needs" in r.output
    r = CliRunner().invoke(main, [*args, "--frames", "0"])
    assert r.exit_code == 2 and "'--frames': 0 is not in the range" in r.output
    (tmp_path / "afile").write_text("x")
    for extra, says in ((["--preset", "nope"], "Error: preset 'nope' is not one of libx264's"),
                        (["--baseline", str(video)], f"Error: not an ONNX model: {video}"),
                        (["--out", str(tmp_path / "afile" / "res")], "Error: ")):  # fmt: skip
        r = CliRunner().invoke(main, [*args, *extra, "--batch", "1"])  # refused before any timed run (were: after)
        assert r.exit_code == 1 and r.output.startswith(says) and "..." not in r.output, (extra, r.output)


def test_bench_interrupted_in_its_pipeline_run_does_not_name_the_timed_output(rule_onnx, tmp_path, monkeypatch):
    """A Ctrl-C or SIGTERM during bench's threaded-pipeline rows said 'finalised a playable /tmp/tmp.../p.mp4 with
    the 7 frames done': a file removed with its temporary folder as the message was printed."""
    from roadseg.errors import Interrupted
    from roadseg.pipeline.infer import Segmenter
    from roadseg.tools import bench

    def stopped(opts, segmenter=None):
        raise Interrupted(f"interrupted: finalised a playable {opts.output} with the 7 frames done", frames=7,
                          signal_name="SIGTERM")  # fmt: skip

    monkeypatch.setattr(bench, "run", stopped)
    with pytest.raises(Interrupted) as exc:
        bench.pipeline_once(tmp_path / "v.mp4", Segmenter(rule_onnx), 4, 25.0, "superfast", [])()
    assert str(exc.value) == "interrupted" and exc.value.exit_code == 143


def test_bench_without_the_train_extra_skips_the_peak_in_one_line_and_still_writes_its_json(rule_onnx, tmp_path,
                                                                                            monkeypatch):  # fmt: skip
    # a runtime-only install (pip install ., no onnx): a traceback after all the timings, and no bench.json
    monkeypatch.setitem(sys.modules, "onnx", None)
    video = write_video(tmp_path / "v.mp4", split_frames(4, h=96, w=128))
    out = tmp_path / "res"
    r = CliRunner().invoke(main, ["bench", "--video", str(video), "--model", str(rule_onnx), "--frames", "3",
                                  "--repeats", "1", "--batch", "1", "--no-native", "--no-torch", "--out", str(out)])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert ('onnx not installed (in roadseg\'s checkout: pip install -c constraints.txt ".[train]"): machine peak skipped'
            in r.output)  # (was: pip install 'roadseg[train]', which looks on PyPI for a package roadseg is not)
    data = json.loads((out / "bench.json").read_text())
    assert data["floor"] == {} and "machine peak (onnxruntime" not in r.output.split("skipped")[-1]


def _info(*args):
    return CliRunner().invoke(main, ["info", *args])


def test_info_model_shows_what_roadseg_reads_from_a_users_own_file(tmp_path):
    """`info` showed the shipped default model only: a user with a file of their own could not see what roadseg
    reads from it (there was no --model)."""
    import test_own_model as own
    from conftest import rule_model

    five = own.adapted(tmp_path / "five.onnx", precision="fp16")
    r = _info("--model", str(five))
    assert r.exit_code == 0, r.output
    assert "H and W dynamic" in r.output and "64x96 (HxW" in r.output and "precision        fp16" in r.output
    assert "  1: lane  #255bad" in r.output and "  4: background  #946cb4" in r.output
    assert "void/ignore      255" in r.output and "opset            17" in r.output
    assert r.output.rstrip().endswith("contract         passes")
    scored = rule_model(tmp_path / "scored.onnx", metadata={"val_subset_miou": 51.2, "val_subset": 10,
                                                            "check_miou": 60.5, "architecture": "unet-resnet34"})  # fmt: skip
    rep = json.loads(_info("--model", str(scored), "--json").output)
    assert rep["classes"][3] == {"index": 3, "name": "Road", "colour": "804080"} and rep["ignore_index"] == 11
    assert (rep["val_subset_miou"], rep["val_subset"], rep["check_miou"]) == (51.2, 10, 60.5)
    assert rep["input_size"] == [32, 48] and rep["input"]["height_width"] == "dynamic" and "val_miou" not in rep
    assert rep["precision"] == "fp32 (not stated)" and rep["megabytes"] > 0 and rep["contract"] == "passes"


def test_info_model_of_a_fixed_network_wrapped_by_adapt_says_its_inner_size(tmp_path):
    from onnx import TensorProto, helper, save

    from roadseg.export.adapt import adapt_onnx

    ints = [helper.make_tensor(n, TensorProto.INT64, [1], [v]) for n, v in (("s", 0), ("e", 2), ("a", 1))]
    graph = helper.make_graph([helper.make_node("Slice", ["x", "s", "e", "a"], ["y"])], "two",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 8, 16])], ints)  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    save(model, str(tmp_path / "theirs.onnx"))
    mine = adapt_onnx(tmp_path / "theirs.onnx", tmp_path / "mine.onnx", classes=["road", "other"])
    r = _info("--model", str(mine))
    assert r.exit_code == 0, r.output
    assert "H and W dynamic (the network inside is fixed at 8x16: frames are resized to it" in r.output
    assert "working size     8x16 (HxW) for every picture, whatever its aspect (its network is fixed at 8x16)" in r.output
    assert "  0: road  #800000" in r.output


@pytest.mark.parametrize("fixed", [False, True])
def test_info_model_says_the_working_size_segment_runs_a_16_9_clip_at(tmp_path, fixed):
    """A network fixed at 64x80 inside was run at 64x96 on a 16:9 clip (fitted to its aspect, then resized again in
    the graph), while info said '64x80 (HxW, the size frames are run at unless --size)'."""
    from onnx import TensorProto, helper, save

    from roadseg.export.adapt import adapt_onnx

    size = [64, 80] if fixed else ["H", "W"]
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "theirs",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, *size])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3, *size])])  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    save(model, str(tmp_path / "theirs.onnx"))
    mine = adapt_onnx(tmp_path / "theirs.onnx", tmp_path / "mine.onnx", classes=["r", "g", "b"], input_size=(64, 80))
    rep = json.loads(_info("--model", str(mine), "--json").output)
    clip = write_video(tmp_path / "clip.mp4", split_frames(3, h=72, w=128))
    r = CliRunner().invoke(main, ["segment", str(clip), "-o", str(tmp_path / "out.mp4"), "--model", str(mine), "--stats",
                                  str(tmp_path / "stats.json")])  # fmt: skip
    assert r.exit_code == 0, r.output
    ran = json.loads((tmp_path / "stats.json").read_text())["working_size"]
    assert rep["size_16_9"] == ran == ([64, 80] if fixed else [64, 96]) and rep["fixed_size"] == (size if fixed else None)
    said = "every picture, whatever its aspect" if fixed else "for pictures of its aspect, else about as many pixels at " \
        "theirs (16:9: 64x96); --size sets one"
    assert said in _info("--model", str(mine)).output


def test_info_model_says_a_model_of_batch_one_takes_one_frame_at_a_time(tmp_path):
    import test_own_model as own

    r = _info("--model", str(own.batch_one(tmp_path / "one.onnx", fixed=True)))
    assert r.exit_code == 0, r.output
    assert "frames tensor(uint8) [1,?,?,3], H and W dynamic, one frame at a time (its batch is fixed at 1)" in r.output
    assert json.loads(_info("--model", str(tmp_path / "one.onnx"), "--json").output)["input"]["batch"] == "fixed"
    assert "one frame at a time" not in _info("--model", str(own.adapted(tmp_path / "own.onnx"))).output


def test_info_model_that_breaks_the_contract_shows_what_it_has_and_exits_1(tmp_path):
    import onnx
    import test_own_model as own

    bare = own.adapted(tmp_path / "bare.onnx", drop=("classes",))
    r = _info("--model", str(bare))
    assert r.exit_code == 1 and "void/ignore      255" in r.output and "(label: name" not in r.output
    assert "contract         refused (the Error: line says why)" in r.output
    assert r.output.rstrip().splitlines()[-1] == "Error: bare.onnx: metadata lacks classes: the contract wants JSON " \
        "strings in metadata_props: classes (names in label order), palette ([R, G, B] a class), ignore_index (the " \
        "label of void pixels), input_size ([H, W]); roadseg.contract.set_metadata(model, contract_metadata((H, W), " \
        "classes=[...], palette=[...])) writes them"
    r = _info("--model", str(own.adapted(tmp_path / "pale.onnx", drop=("palette",))))  # (what it has, decoded)
    assert r.exit_code == 1 and "working size     64x96" in r.output and "  0: road  (no colour)" in r.output
    fixed = onnx.load(str(own.adapted(tmp_path / "fixed.onnx")))
    for dim, size in zip(fixed.graph.input[0].type.tensor_type.shape.dim, (1, 256, 320)):
        dim.dim_value = size
    onnx.save(fixed, str(tmp_path / "fixed.onnx"))
    r = _info("--model", str(tmp_path / "fixed.onnx"), "--json")
    assert r.exit_code == 1 and "has a fixed shape (1x256x320x3)" in r.output
    rep = json.loads(r.output[: r.output.rindex("}") + 1])
    assert rep["input"]["height_width"] == "fixed" and rep["input"]["shape"] == [1, 256, 320, 3]
    assert rep["classes"][0]["name"] == "road" and rep["contract"].startswith("fixed.onnx: input 'frames' has a fixed")
    (tmp_path / "card.onnx").write_text("a model card, not a model")
    r = _info("--model", str(tmp_path / "card.onnx"))
    assert r.exit_code == 1 and r.output.rstrip().splitlines()[-1] == f"Error: not an ONNX model: {tmp_path / 'card.onnx'}"
    r = _info("--model", str(tmp_path / "none.onnx"))
    assert r.exit_code == 1 and r.output.startswith("Error: model file not found:")


def test_info_model_of_another_fixed_batch_does_not_say_one_frame_at_a_time(tmp_path):
    """A model whose batch is fixed at 2 (refused) was said to take 'one frame at a time (its batch is fixed at 1)'."""
    import onnx
    import test_own_model as own

    two = onnx.load(str(own.adapted(tmp_path / "two.onnx")))
    two.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 2
    onnx.save(two, str(tmp_path / "two.onnx"))
    r = _info("--model", str(tmp_path / "two.onnx"))
    assert r.exit_code == 1 and "frames tensor(uint8) [2,?,?,3], H and W dynamic\n" in r.output, r.output
    assert "one frame at a time" not in r.output and "has a fixed shape (2x?x?x3)" in r.output


@pytest.mark.skipif(not hasattr(__import__("os"), "sched_setaffinity"), reason="no CPU affinity on this system")
def test_info_says_the_whole_cpu_name_and_the_cpus_this_process_may_use(tmp_path):
    """`info` said the machine's CPU count alone (os.cpu_count()): a process pinned to fewer (taskset, a container's
    cpuset) read as having them all; bench's machine line counted the usable ones apart, by a function of its own."""
    import os
    import subprocess
    from pathlib import Path

    from roadseg.tools.info import cpu_info

    cpu = cpu_info()
    assert cpu["usable"] == len(os.sched_getaffinity(0)) and cpu["cores"] == os.cpu_count()
    names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
             if line.startswith("model name")]  # fmt: skip
    assert cpu["model"] == (names[0] if names else cpu["model"])
    one = min(os.sched_getaffinity(0))  # (a process pinned to one CPU: what it may use, not what the machine has)
    code = ("import os, json; os.sched_setaffinity(0, {%d}); from roadseg.tools.info import cpu_info; "
            "from roadseg.tools.report import machine_line; print(json.dumps([cpu_info()['usable'], machine_line()]))") % one
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    usable, line = json.loads(out)
    assert usable == 1 and f", 1 CPU usable of {os.cpu_count()} (" in line, line  # (was: 1 CPUs)
    assert f"({os.cpu_count()} cores, {cpu['usable']} usable)" in CliRunner().invoke(main, ["info"]).output


@pytest.mark.skipif(not __import__("os").path.exists("/proc/cpuinfo"), reason="no /proc/cpuinfo")
def test_cpu_info_reads_proc_cpuinfo_before_platform_processor_and_counts_without_affinity(monkeypatch):
    """The name test above cannot tell /proc/cpuinfo's name from platform.processor()'s where that is '' (as on most
    Linux): here it says another (as 'i686', 'unknown' on some systems), which was kept; and a system without
    sched_getaffinity (macOS, Windows) counts the machine's CPUs as usable."""
    import os
    import platform
    from pathlib import Path

    from roadseg.tools.info import cpu_info

    names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
             if line.startswith("model name")]  # fmt: skip
    monkeypatch.setattr(platform, "processor", lambda: "i686")
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    cpu = cpu_info()
    assert cpu["model"] == (names[0] if names else "i686") and cpu["usable"] == cpu["cores"] == os.cpu_count()
