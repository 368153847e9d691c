"""The mistakes a new user makes at the command line, each answered with what to type instead."""

from click.testing import CliRunner
from conftest import read_video

from roadseg.cli import main, segment_video_cmd


def test_an_output_named_without_o_is_answered_with_the_command_that_names_it(tmp_path):
    # (was: "Error: Got unexpected extra argument (out.mp4)", and nothing on what to type)
    out = tmp_path / "my out.mp4"
    for command, args, prog in ((segment_video_cmd, [], "segment-video"), (main, ["segment"], "roadseg segment")):
        r = CliRunner().invoke(command, [*args, "clip.mp4", str(out)], prog_name=prog.split()[0])
        assert r.exit_code == 2 and "Traceback" not in r.output, r.output
        assert f"name the output with -o: {prog} clip.mp4 -o '{out}'" in r.output, r.output
    assert not out.exists()


def test_a_glob_the_shell_expanded_is_answered_with_how_to_pass_it_whole(tmp_path):
    # `segment-video frames/*.jpg -o seg/` unquoted: the shell gives every file; was "Got unexpected extra argument
    # (frames/b.jpg)", which names a file the user never typed
    frames = [tmp_path / f"{n}.jpg" for n in "abc"]
    for frame in frames:
        frame.write_bytes(b"")
    for args in ([*map(str, frames), "-o", str(tmp_path / "seg")], [*map(str, frames)]):
        r = CliRunner().invoke(segment_video_cmd, args, prog_name="segment-video")
        assert r.exit_code == 2, r.output
        assert f"Got unexpected extra arguments ({frames[1]} {frames[2]}): segment-video takes one INPUT; quote a glob" \
            in r.output, r.output
    assert not (tmp_path / "seg").exists()


def test_start_and_duration_take_a_time_as_ffmpeg_and_players_show_it(split_video, rule_onnx, tmp_path):
    # (was: "Invalid value for '--start': '0:00.2' is not a valid float range"; 12 frames at 25 frames/s)
    out = tmp_path / "cut.mp4"
    r = CliRunner().invoke(segment_video_cmd, [str(split_video), "-o", str(out), "--model", str(rule_onnx), "-q",
                                               "--start", "0:00.16", "--duration", "00:00:00.2"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert len(read_video(out)["frames"]) == 5  # frames 4..8, as --start 0.16 --duration 0.2
    for bad in ("1:75", "1:2:3:4", "abc", "1:30:"):
        r = CliRunner().invoke(segment_video_cmd, [str(split_video), "-o", str(out), "-y", "--start", bad])
        assert r.exit_code == 2 and f"'{bad}' is not a number of seconds or a time [HH:]MM:SS" in r.output, r.output


def test_an_empty_path_is_refused_not_taken_for_the_current_folder(tmp_path, monkeypatch):
    # an unset shell variable: `roadseg batch "$ARCHIVE" -o out` searched the current folder and segmented every
    # video under it; `-o "$OUT"` wrote into it; `segment-video "$CLIP" -o seg/` segmented its images
    monkeypatch.chdir(tmp_path)
    for command, args in ((main, ["batch", "", "-o", "out"]), (main, ["batch", "a.mp4", "-o", ""]),
                          (main, ["batch", "a.mp4", " ", "-o", "out"]), (segment_video_cmd, ["", "-o", "seg"])):  # fmt: skip
        r = CliRunner().invoke(command, args)
        assert r.exit_code == 2 and "an empty path (an unset shell variable?) would mean the current folder" in r.output, \
            (args, r.output)
    assert list(tmp_path.iterdir()) == []


def test_segment_video_alone_shows_its_help_and_has_a_version():
    # (was: "Error: Missing argument 'INPUT'."; and --version: "No such option '--version'. (Did you mean one of:
    # '--duration', '--overwrite'?)")
    r = CliRunner().invoke(segment_video_cmd, [], prog_name="segment-video")
    assert "Usage: segment-video [OPTIONS] INPUT" in r.output and "Examples:" in r.output, r.output
    r = CliRunner().invoke(segment_video_cmd, ["--version"], prog_name="segment-video")
    assert r.exit_code == 0 and r.output.startswith("segment-video, version "), r.output


def _error_line(r) -> str:
    """The one ``Error:`` line a refused run prints (and nothing of a traceback)."""
    assert r.exit_code != 0 and "Traceback" not in r.output, r.output
    return next(line for line in r.output.splitlines() if line.startswith("Error: "))


def test_a_model_that_is_a_folder_or_no_onnx_file_is_said_so_in_one_line(split_video, tmp_path):
    # (were: "model file not found: models" for a folder; onnxruntime's "[ONNXRuntimeError] : 7 : INVALID_PROTOBUF :
    # Load model from ... failed:Protobuf parsing failed." for a model card)
    out = tmp_path / "o.mp4"
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "a.onnx").write_bytes(b"")
    card = folder / "MODEL_CARD.md"
    card.write_text("# the model\n")
    for model, says in ((folder, f"Error: {folder} is a folder, not a model file; name one of its .onnx files: a.onnx"),
                        (tmp_path, f"Error: {tmp_path} is a folder, not a model file; it holds no .onnx file"),
                        (card, f"Error: not an ONNX model: {card}")):  # fmt: skip
        r = CliRunner().invoke(segment_video_cmd, [str(split_video), "-o", str(out), "--model", str(model)])
        assert _error_line(r) == says and len(r.output.splitlines()) == 1, r.output
    assert not out.exists()


def test_tta_on_a_runtime_only_install_is_one_line(split_video, monkeypatch, tmp_path):
    # `pip install .` has no onnx, which --tta rewrites the model with: a ModuleNotFoundError traceback
    import sys

    monkeypatch.setitem(sys.modules, "onnx", None)
    out = tmp_path / "o.mp4"
    r = CliRunner().invoke(segment_video_cmd, [str(split_video), "-o", str(out), "--tta"])
    assert _error_line(r) == ("Error: --tta rewrites the model with the onnx package, which this install lacks: pip "
                              'install onnx (or the train extra, in roadseg\'s checkout: pip install -c constraints.txt '
                              '".[train]")'), r.output
    assert not out.exists()


def test_quantize_on_a_runtime_only_install_is_one_line(rule_onnx, monkeypatch, tmp_path):
    # `pip install .` has no onnx: a ModuleNotFoundError traceback (as export, release and soup say, in one line)
    import sys

    monkeypatch.setitem(sys.modules, "onnx", None)
    r = CliRunner().invoke(main, ["quantize", str(rule_onnx), "-o", str(tmp_path / "q.onnx"), "--data", str(tmp_path)])
    assert _error_line(r).startswith("Error: quantize needs the train extra (in roadseg's checkout: pip install -c "
                                     'constraints.txt ".[train]"): '), r.output  # (was: 'roadseg[train]', not on PyPI)
    assert not (tmp_path / "q.onnx").exists()


def test_batch_says_a_missing_model_as_segment_does_and_leaves_no_output_folder(split_video, tmp_path, monkeypatch):
    # (was: "cannot read the model /abs/nope.onnx: No such file or directory", and an empty OUT left behind)
    monkeypatch.chdir(tmp_path)
    for model, command in (("nope.onnx", ["batch", str(split_video), "-o", "out/a"]),
                           ("nope.onnx", ["segment", str(split_video), "-o", "o.mp4"]),
                           (".", ["batch", str(split_video), "-o", "out/a"])):  # fmt: skip
        r = CliRunner().invoke(main, [*command, "--model", model])
        said = "model file not found: nope.onnx" if model != "." else ". is a folder, not a model file"
        assert _error_line(r).startswith(f"Error: {said}"), r.output
    assert not (tmp_path / "out").exists()
    empty = tmp_path / "empty"
    empty.mkdir()  # a batch refused after its folder was made (no videos found): that folder goes too
    said = _error_line(CliRunner().invoke(main, ["batch", str(empty), "-o", "out/b"]))
    assert said.startswith(f"Error: no videos found in {empty} (a folder is searched for files ending .3gp .avi "), said
    assert said.endswith('.wmv; a raw stream, .h264 or .hevc, is taken by a glob: "DIR/*.h264")'), said  # (was: no
    # endings named)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "split.mp4"]


def test_batch_names_a_missing_input_as_typed_without_starting_a_worker(split_video, rule_onnx, tmp_path):
    # (was: "[1/1] nope.mp4: error, input not found: /abs/nope": its output's name, after a worker was started)
    import json
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "roadseg", "batch", "nope", "-o", "out", "--model", str(rule_onnx)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 1 and run.stderr.splitlines()[0] == "nope: error, input not found", run.stderr
    assert "ok 0 · error 1 · skipped 0" in run.stderr and "nope.mp4" not in run.stderr, run.stderr
    line = json.loads((tmp_path / "out/results.jsonl").read_text())
    assert (line["status"], line["error"], line["node"]) == ("error", f"input not found: {tmp_path / 'nope'}", None)


def test_a_file_url_names_the_file(split_video, rule_onnx, tmp_path):
    # a file manager's copy of a file (was: "input not found: file:/tmp/u/clip.mp4")
    clip = tmp_path / "my clip.mp4"
    clip.write_bytes(split_video.read_bytes())
    url = "file://" + str(clip).replace(" ", "%20")
    r = CliRunner().invoke(segment_video_cmd, [url, "-o", str(tmp_path / "o.mp4"), "--model", str(rule_onnx), "-q"])
    assert r.exit_code == 0 and len(read_video(tmp_path / "o.mp4")["frames"]) == 12, r.output
    from roadseg.pipeline.inputs import find_videos

    assert [v.path for v in find_videos([url, "file://localhost" + str(split_video)])] == [clip, split_video]


def test_a_start_past_the_end_says_how_long_the_clip_is(split_video, rule_onnx, tmp_path):
    # (was: "no video frames after --start 10s in clip.mp4", and not how long it is; 12 frames at 25 frames/s)
    r = CliRunner().invoke(segment_video_cmd, [str(split_video), "-o", str(tmp_path / "o.mp4"), "--model",
                                               str(rule_onnx), "--start", "10"])  # fmt: skip
    assert _error_line(r) == f"Error: no video frames after --start 10s in {split_video}; it lasts 0.5 s", r.output


def test_a_working_size_far_above_the_frames_is_warned_of(split_video, rule_onnx, tmp_path):
    # `--size 8000x8000` on a 720p clip: accepted without a word, then a frame in ~2 minutes (48x64 frames here)
    args = [str(split_video), "-o", str(tmp_path / "o.mp4"), "--model", str(rule_onnx), "-q", "-y", "--max-frames", "1"]
    r = CliRunner().invoke(segment_video_cmd, [*args, "--size", "480x640"])
    assert r.exit_code == 0, r.output
    assert "--size 480x640 has 100x the pixels of the 48x64 pictures it enlarges: no detail is added" in r.output
    r = CliRunner().invoke(segment_video_cmd, [*args, "--size", "96x128"])  # (4x: twice as high and wide, no word)
    assert r.exit_code == 0 and "--size" not in r.output, r.output


def test_the_models_own_working_size_for_small_frames_is_no_size_given(tmp_path):
    # a model of 360x480 on 64x80 frames (another aspect: fitted to 384x480), no --size: its working size for them was
    # warned of as '--size 384x480 has 36x the pixels of the 64x80 pictures ... (its own size for them: 384x480)', a
    # size never given (the shipped models on a 16:9 clip under 170 lines too)
    from conftest import rule_model, split_frames, write_video

    model = rule_model(tmp_path / "m.onnx", input_size=(360, 480))
    video = write_video(tmp_path / "small.mp4", split_frames(2, h=64, w=80))
    args = [str(video), "-o", str(tmp_path / "o.mp4"), "--model", str(model), "-y"]
    r = CliRunner().invoke(segment_video_cmd, args)
    assert r.exit_code == 0 and "--size" not in r.output, r.output
    r = CliRunner().invoke(segment_video_cmd, [*args, "--size", "384x480"])  # (given: warned of, as before)
    assert r.exit_code == 0 and "--size 384x480 has 36x the pixels of the 64x80 pictures" in r.output, r.output


def test_a_hwaccel_name_ffmpeg_does_not_have_is_refused_with_the_names(split_video, rule_onnx, tmp_path):
    # `--hwaccel cude` (a typo) fell back to the CPU with one warning; a real name unavailable here still does
    out = tmp_path / "o.mp4"
    for command, args in ((segment_video_cmd, [str(split_video), "-o", str(out)]),
                          (main, ["batch", str(split_video), "-o", str(tmp_path / "out")])):  # fmt: skip
        r = CliRunner().invoke(command, [*args, "--model", str(rule_onnx), "--hwaccel", "cude"])
        assert r.exit_code == 2, r.output
        said = "Invalid value for '--hwaccel': hwaccel must be an FFmpeg hardware decoder (one of cuda, vaapi, qsv"
        assert said in r.output and r.output.rstrip().endswith("not 'cude'"), r.output  # (the library's line)
    assert not out.exists() and not (tmp_path / "out").exists()
