import json

import av
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import read_video, split_frames, write_video

from roadseg.cli import main, segment_video_cmd
from roadseg.pipeline.session import OnnxSegmenter


def run(args):
    return CliRunner().invoke(segment_video_cmd, [str(a) for a in args])


def test_segment_video_writes_output_and_stats(split_video, rule_onnx, tmp_path):
    out, stats = tmp_path / "out.mp4", tmp_path / "stats.json"
    r = run([split_video, "-o", out, "--model", rule_onnx, "-q", "--stats", stats])
    assert r.exit_code == 0, r.output
    assert len(read_video(out)["frames"]) == 12
    data = json.loads(stats.read_text())
    assert data["frames"] == 12 and {"decode", "infer", "overlay", "encode"} <= set(data["stages"])


def test_a_file_runs_last_line_and_stats_say_its_pace_against_the_videos_own(split_video, rule_onnx, tmp_path):
    # was: 'wrote out.mp4: 12 frames in 0.6 s (20.0 frames/s)', and the video's own rate nowhere, to compare it with
    out, stats = tmp_path / "out.mp4", tmp_path / "stats.json"
    r = run([split_video, "-o", out, "--model", rule_onnx, "--stats", stats])
    assert r.exit_code == 0, r.output
    data = json.loads(stats.read_text())
    assert data["video_fps"] == 25.0 and data["frame_size"] == [48, 64], data  # (split_frames' 48x64, at 25 frames/s)
    assert data["realtime"] == pytest.approx(data["fps"] / 25, rel=0.01), data  # (seconds is rounded: not from it)
    pace = f"{data['realtime']:.2g}" if data["realtime"] < 1 else f"{data['realtime']:.1f}"
    assert r.output.splitlines()[-1].endswith(f" frames/s, {pace}x real time)"), r.output


def _one_line_error(r, code=1):
    assert r.exit_code == code, r.output
    assert "Traceback" not in r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), r.output
    return lines[0]


def test_bad_inputs_give_one_line_errors(rule_onnx, tmp_path):
    out = tmp_path / "o.mp4"
    assert "not found" in _one_line_error(run([tmp_path / "nope.mp4", "-o", out, "--model", rule_onnx]))
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert "empty" in _one_line_error(run([empty, "-o", out, "--model", rule_onnx]))
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 100)
    assert "not a readable video" in _one_line_error(run([text, "-o", out, "--model", rule_onnx]))
    audio_only = tmp_path / "audio.m4a"
    with av.open(str(audio_only), "w") as c:
        s = c.add_stream("aac", rate=48000)
        s.layout = "mono"
        af = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        af.sample_rate, af.pts = 48000, 0
        c.mux(s.encode(af))
        c.mux(s.encode(None))
    assert "no video stream" in _one_line_error(run([audio_only, "-o", out, "--model", rule_onnx]))
    videos = tmp_path / "dashcam"  # a folder of videos, not images (was "no images (.png, ...) in dashcam")
    videos.mkdir()
    write_video(videos / "a.mp4", split_frames(3))
    line = _one_line_error(run([videos, "-o", tmp_path / "segmented", "--model", rule_onnx]))
    assert "dashcam holds 1 video and no images" in line and "roadseg batch" in line
    assert not out.exists()


@pytest.mark.parametrize("args,says", [(["--start", "nan"], "'nan' is not a finite number"),
                                       (["--duration", "inf"], "'inf' is not a finite number"),
                                       (["--alpha", "nan"], "'nan' is not a finite number"),
                                       (["--threads", "-1"], "-1 is not in the range 0<=x<=1024")])  # fmt: skip
def test_numbers_that_are_not_numbers_are_refused(split_video, rule_onnx, tmp_path, args, says):
    out = tmp_path / "o.mp4"
    r = run([split_video, "-o", out, "--model", rule_onnx, "-q", *args])
    assert r.exit_code == 2 and says in r.output and "Traceback" not in r.output, r.output  # (was: --start nan read it all)
    assert not out.exists()


def test_names_with_glob_characters_are_files_where_they_exist(rule_onnx, tmp_path):
    import cv2

    clip = write_video(tmp_path / "Drive [1080p] #1.mp4", split_frames(5))  # as downloaders name files
    r = run([clip, "-o", tmp_path / "out [seg].mp4", "--model", rule_onnx, "-q"])
    assert r.exit_code == 0, r.output  # was: "no images (.png, ...) in ... [1080p] #1.mp4"
    assert len(read_video(tmp_path / "out [seg].mp4")["frames"]) == 5
    cv2.imwrite(str(tmp_path / "photo [2].png"), split_frames(1)[0])
    r = run([tmp_path / "photo [2].png", "-o", tmp_path / "seg.png", "--model", rule_onnx, "-q"])
    assert r.exit_code == 0 and (tmp_path / "seg.png").is_file(), r.output
    r = run([tmp_path / "photo*.png", "-o", tmp_path / "globbed", "--model", rule_onnx, "-q"])  # still a glob
    assert r.exit_code == 0 and len(list((tmp_path / "globbed").glob("*.png"))) == 1, r.output


def test_a_working_size_the_memory_cannot_hold_is_refused_before_any_work(split_video, rule_onnx, tmp_path):
    # --size 36000x48000 ran until the system killed it (20 GB resident after 56 s), without a word
    out = tmp_path / "o.mp4"
    line = _one_line_error(run([split_video, "-o", out, "--model", rule_onnx, "--size", "100000x100000"]))
    assert "working size 100000x100000 at batch 1 needs about 1250 GB of memory" in line and "is free" in line
    line = _one_line_error(run([split_video, "-o", out, "--model", rule_onnx, "--size", "3000x4000", "--batch", "256"]))
    assert "at batch 256 needs about 384 GB" in line
    assert not out.exists()
    assert run([split_video, "-o", out, "--model", rule_onnx, "--size", "720x960", "--batch", "4", "-q"]).exit_code == 0


def test_output_rules(split_video, rule_onnx, tmp_path):
    assert "is the input" in _one_line_error(run([split_video, "-o", split_video, "--model", rule_onnx, "-y"]))
    out = tmp_path / "exists.mp4"
    out.write_bytes(b"keep me")
    assert "exists" in _one_line_error(run([split_video, "-o", out, "--model", rule_onnx]))
    assert out.read_bytes() == b"keep me"
    assert "does not exist" in _one_line_error(run([split_video, "-o", tmp_path / "no/dir/o.mp4", "--model", rule_onnx]))
    assert "model file not found" in _one_line_error(run([split_video, "-o", tmp_path / "o.mp4", "--model", tmp_path / "m.onnx"]))
    for name, kind in (("o.png", "an image"), ("o.JPG", "an image"), ("o.wav", "an audio file")):
        # (o.png was tried: an audio line, then "encode failed: cannot write o.png: Invalid argument")
        line = _one_line_error(run([split_video, "-o", tmp_path / name, "--model", rule_onnx]))
        assert f"{name} is the name of {kind}, but a video input is written as a video" in line
        assert not (tmp_path / name).exists()
    folder = tmp_path / "segmented"
    folder.mkdir()
    line = _one_line_error(run([split_video, "-o", folder, "--model", rule_onnx]))  # (was: "... Is a directory")
    assert line == f"Error: output {folder} is a folder; name the video to write in it, e.g. {folder / split_video.stem}.mp4"



def test_no_output_replaces_an_input_however_it_is_named(split_video, rule_onnx, tmp_path):
    original = split_video.read_bytes()
    link = tmp_path / "link.mp4"
    link.hardlink_to(split_video)  # (was: written over the input while it was read; 2 of 12 frames, exit 0)
    assert "is the input file" in _one_line_error(run([split_video, "-o", link, "--model", rule_onnx, "-y"]))
    for stats, what in ((split_video, "the input"), (link, "the input"), (rule_onnx, "the model")):
        # (was: the JSON written over the input video after the run)
        line = _one_line_error(run([split_video, "-o", tmp_path / "o.mp4", "--model", rule_onnx, "--stats", stats]))
        assert f"--stats {stats} is {what}" in line
    out = tmp_path / "o.mp4"
    assert "is the output" in _one_line_error(run([split_video, "-o", out, "--model", rule_onnx, "--stats", out]))
    line = _one_line_error(run([split_video, "-o", out, "--model", rule_onnx, "--stats", "/proc/roadseg-stats.json"]))
    assert line.startswith("Error: cannot write --stats /proc/roadseg-stats.json")  # (was: found after the run)
    drive = tmp_path / "drive"
    drive.mkdir()
    for name in ("a.mp4", "b.mp4"):
        write_video(drive / name, split_frames(3))
    joined = (drive / "b.mp4").read_bytes()
    for spec in (drive, drive / "*.mp4"):  # (was: b.mp4 written over while it was joined, half its frames lost)
        line = _one_line_error(run([spec, "--concat", "-o", drive / "b.mp4", "--model", rule_onnx, "-y"]))
        assert "is one of the files --concat joins" in line
    assert split_video.read_bytes() == original and (drive / "b.mp4").read_bytes() == joined
    assert not out.exists()


def test_no_image_output_or_mask_replaces_an_input_image(rule_onnx, tmp_path):
    import cv2

    frames = tmp_path / "frames"
    frames.mkdir()
    for i, img in enumerate(split_frames(2)):
        cv2.imwrite(str(frames / f"f{i}.png"), img)
    original = {p: p.read_bytes() for p in frames.iterdir()}
    seg = tmp_path / "seg"
    cases = [([frames, "-o", seg, "--masks-dir", frames], "mask"),  # (was: the inputs replaced by label masks)
             ([frames, "-o", frames, "-y"], "output"),  # (was: replaced by their overlays)
             ([frames, "-o", frames], "output"),  # (was: "exists; pass -y/--overwrite to replace it")
             ([frames / "f0.png", "-o", frames / "f0.png", "-y"], "output")]  # fmt: skip
    for args, what in cases:
        line = _one_line_error(run([*args, "--model", rule_onnx]))
        assert f"{what} {frames / 'f0.png'} is an input image" in line
    assert {p: p.read_bytes() for p in frames.iterdir()} == original
    line = _one_line_error(run([frames, "-o", seg, "--masks-dir", seg, "--model", rule_onnx]))
    assert "would replace the output image of that name" in line  # (was: each overlay replaced by its mask)
    cv2.imwrite(str(frames / "f0.jpg"), split_frames(1)[0])
    line = _one_line_error(run([frames, "-o", seg, "--model", rule_onnx, "-y"]))
    assert line == f"Error: f0.jpg and f0.png would both be written to {seg / 'f0.png'}; rename one of them"
    assert not seg.exists()  # (was: two images written into one file, "wrote seg: 3 images"; then the folder left empty)

@pytest.mark.timeout(30)
def test_failing_inference_midway_exits_nonzero_and_keeps_a_playable_partial(split_video, rule_onnx, tmp_path, monkeypatch):
    real = OnnxSegmenter.predict
    calls = {"n": 0}

    def flaky(self, frames):  # fault injection: the model dies on the 6th call
        calls["n"] += 1
        if calls["n"] == 6:
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        return real(self, frames)

    monkeypatch.setattr(OnnxSegmenter, "predict", flaky)
    out = tmp_path / "partial.mp4"
    line = _one_line_error(run([split_video, "-o", out, "--model", rule_onnx, "-q"]))
    assert "infer failed" in line and "kept a playable partial output" in line
    assert 1 <= len(read_video(out)["frames"]) <= 5


def test_group_help_lists_commands():
    r = CliRunner().invoke(main, ["--help"])
    assert r.exit_code == 0 and all(c in r.output for c in ("train", "export"))


def test_every_option_of_every_command_says_what_it_does():
    import click

    commands = {**main.commands, "segment-video": segment_video_cmd}
    bare = [f"{name} {p.opts[-1]}" for name, cmd in commands.items() for p in cmd.params
            if isinstance(p, click.Option) and not p.hidden and not (p.help or "").strip()]  # fmt: skip
    assert len(commands) >= 9 and not bare, bare


def test_no_help_text_shows_an_unformatted_placeholder():
    """segment-video --help printed --fps's "{' Not for live or image input.' if live else ''}" as it stood: the
    f-string's f was missing, so neither the clause nor its leaving out for batch took place."""
    import re

    commands = {**main.commands, "segment-video": segment_video_cmd}
    raw = [f"{name} {p.opts[-1]}" for name, cmd in commands.items() for p in cmd.params
           if re.search(r"\{[^}]*\}", p.help or "")]  # fmt: skip
    assert not raw, raw
    assert _helps(segment_video_cmd)["--fps"].endswith("keeps every frame. Not for live or image input.")
    assert _helps(main.commands["batch"])["--fps"].endswith("keeps every frame.")


def _helps(command) -> dict[str, str]:
    return {p.opts[-1]: " ".join((p.help or "").split()) for p in command.params}


def test_the_help_says_what_each_command_does():
    """batch's --help told of live input, which batch never reads (--duration "live input: seconds to record", --batch,
    --fps), said "one per 4 CPU cores" where it counts the CPUs the process may use, and left out masks.csv and what a
    --force without --masks/--stats removes; segment-video's left out udev's camera names."""
    batch, segment = _helps(main.commands["batch"]), _helps(segment_video_cmd)
    assert not [name for name, said in batch.items() if "live input" in said], batch
    assert "live input: seconds to record" in segment["--duration"] and "live input" in segment["--batch"]
    assert "one per 4 CPUs this process may use" in batch["--workers"] and "masks.csv" in batch["--masks"]
    assert "without --masks or --stats has the masks and stats.json batch wrote of it before removed" in batch["--force"]
    assert "/dev/v4l/by-id/" in segment_video_cmd.help


def test_python_m_roadseg_segment_runs_the_segment_command(split_video, rule_onnx, tmp_path):
    import subprocess
    import sys

    out = tmp_path / "o.mp4"
    cmd = [sys.executable, "-m", "roadseg", "segment", str(split_video), "-o", str(out), "--model", str(rule_onnx)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert len(read_video(out)["frames"]) == 12 and "wrote" in r.stderr


def test_every_error_is_a_roadseg_error_and_maps_to_its_exit_code():
    import click

    from roadseg import errors
    from roadseg.cli.common import Terminated, handle_errors

    family = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, Exception)]
    assert {c for c in family if not issubclass(c, errors.RoadsegError)} == {errors.StopRequested}  # not an error

    def exit_of(exc: BaseException) -> tuple[int, str]:
        @click.command()
        @handle_errors
        def cmd() -> None:
            raise exc

        r = CliRunner().invoke(cmd, [])
        return r.exit_code, _one_line_error(r, r.exit_code)

    assert exit_of(errors.SourceError("input not found: x.mp4")) == (1, "Error: input not found: x.mp4")
    assert exit_of(errors.PipelineError("infer failed", kept=False, frames=0))[0] == 1
    assert exit_of(errors.Interrupted("interrupted: done", signal_name="SIGINT"))[0] == 130
    assert exit_of(errors.Interrupted("interrupted: done", signal_name="SIGTERM"))[0] == 143
    assert exit_of(KeyboardInterrupt()) == (130, "Error: interrupted")
    assert exit_of(Terminated()) == (143, "Error: interrupted")
    assert exit_of(Terminated("SIGHUP")) == (129, "Error: interrupted")  # a closed terminal
    assert exit_of(errors.Interrupted("interrupted: done", signal_name="SIGHUP"))[0] == 129


def test_stats_into_a_missing_folder_is_refused_before_any_work(split_video, rule_onnx, tmp_path):
    out = tmp_path / "o.mp4"
    line = _one_line_error(run([split_video, "-o", out, "--model", rule_onnx, "--stats", tmp_path / "no/s.json"]))
    assert "for --stats does not exist" in line and not out.exists()


def test_a_serve_address_out_of_range_is_a_usage_error(tmp_path):
    from roadseg.cli import segment_video_cmd

    for bad in ("127.0.0.1:99999", "127.0.0.1:0", "127.0.0.1:x", ":8080", "[::1]:0", "[::1]:65536", "[::1]"):
        r = CliRunner().invoke(segment_video_cmd, [str(tmp_path / "none.mp4"), "--live", "--serve", bad])
        assert r.exit_code == 2 and "wants HOST:PORT" in r.output and r.exception.__class__ is SystemExit, (bad, r.output)
    # (the first was an OverflowError traceback); an IPv6 address goes in brackets, as in a URL: a bare one
    # was split at its last colon ("::1" served port 1 of "::")
    for bad, said in (("::1:8080", "wants an IPv6 address in brackets"), ("::1", "wants an IPv6 address in brackets"),
                      ("[road]:8080", "[road] is not an IPv6 address")):  # fmt: skip
        r = CliRunner().invoke(segment_video_cmd, [str(tmp_path / "none.mp4"), "--live", "--serve", bad])
        assert r.exit_code == 2 and said in r.output, (bad, r.output)


def test_a_signal_after_a_command_finished_its_work_does_not_change_its_exit(monkeypatch):
    """A Ctrl-C or SIGTERM that came once ``segment-video`` had written its output and its ``wrote`` line, while
    the interpreter exited, killed it (exit -2 or -15, 3 in 12 tries with the shipped model): the handlers the
    command restored were the defaults. A command process now ignores them from then on: the work is done,
    the exit code is the work's (as after its ``Error:`` line)."""
    import signal

    import click

    from roadseg.cli import common

    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    monkeypatch.setattr(common, "is_command", lambda: True)

    @click.command()
    @common.handle_errors
    def cmd() -> None:
        pass

    try:
        with pytest.raises(SystemExit) as exit_:
            cmd.main([], standalone_mode=True)
        assert exit_.value.code == 0
        assert all(signal.getsignal(sig) == signal.SIG_IGN for sig in saved)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def test_a_ctrl_c_once_every_output_is_finalised_keeps_the_runs_line_and_exit(split_video, rule_onnx, tmp_path):
    """A Ctrl-C after the run had finalised its output, while it wrote its --stats or its ``wrote`` line, was
    ``Error: interrupted`` and 130 for a whole output. Now the line, the stats and exit 0."""
    import subprocess
    import sys

    out, stats, command = tmp_path / "out.mp4", tmp_path / "stats.json", tmp_path / "bin" / "roadseg"
    command.parent.mkdir()  # (a script named as the command is one: roadseg._startup.is_command)
    command.write_text(  # (fault injection: the signal as the stats are written, every output closed)
        "import importlib, os, signal\n"
        "run = importlib.import_module('roadseg.pipeline.run')\n"
        "write = run._write_stats\n"
        "run._write_stats = lambda *a: (os.kill(os.getpid(), signal.SIGINT), write(*a))[1]\n"
        "from roadseg.cli import main\n"
        "if __name__ == '__main__':\n"
        "    main()\n"
    )
    done = subprocess.run([sys.executable, str(command), "segment", str(split_video), "-o", str(out), "--model",
                           str(rule_onnx), "-q", "--stats", str(stats)], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0 and f"wrote {out}" in done.stderr and "Error" not in done.stderr, done.stderr
    assert json.loads(stats.read_text())["frames"] == len(read_video(out)["frames"])


def test_a_ctrl_c_while_onnxruntime_loads_is_an_interruption_not_an_import_error(tmp_path):
    """A Ctrl-C or SIGTERM that came while ``segment-video`` imported onnxruntime (its model load, the first
    half second) was turned by onnxruntime's pybind11 module into ``ImportError: initialization failed``: a
    traceback and exit 1. The import now holds the signals back; the interruption comes as it ends.
    (A stand-in onnxruntime here, which converts an interruption as pybind11 does, so the timing is sure.)"""
    import os
    import subprocess
    import sys
    from pathlib import Path

    fake = tmp_path / "onnxruntime"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        "import os, signal, time\n"
        "try:\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    time.sleep(0.3)\n"
        "except KeyboardInterrupt as exc:\n"
        "    raise ImportError('initialization failed') from exc\n"
        "def get_available_providers():\n"
        "    return ['CPUExecutionProvider']\n"
    )  # fmt: skip
    code = ("import signal\n"
            "from roadseg.cli.common import _on_signal\n"
            "from roadseg.pipeline.devices import resolve_device\n"
            "signal.signal(signal.SIGTERM, _on_signal)\n"
            "try:\n"
            "    resolve_device('auto')\n"
            "except BaseException as exc:\n"
            "    print(type(exc).__name__, getattr(exc, 'signal_name', ''))\n")  # fmt: skip
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(root)]))
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert r.stdout.split() == ["Terminated", "SIGTERM"], r.stdout + r.stderr


def test_a_sigterm_or_sighup_while_the_command_loads_is_one_line_and_its_exit_code(monkeypatch):
    """SIGTERM or SIGHUP in a command's first half second, while the package loads (before handle_errors takes
    them), killed it: exit -15 or -1, no line. They are now what a Ctrl-C there is: ``Error: interrupted`` and
    143 or 129; one the command was started with ignored (``nohup``) stays ignored."""
    import signal

    from roadseg import _startup

    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    monkeypatch.setattr(_startup, "is_command", lambda: True)
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        _startup.guard()
        assert signal.getsignal(signal.SIGTERM) is _startup._leave
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
        _startup.release()
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def test_one_image_written_before_an_interruption_is_told_in_the_singular(tmp_path):
    """A Ctrl-C after a folder's first image said 'interrupted: 1 images were written to ...' (and after a
    video's first frame 'with the 1 frames done')."""
    from types import SimpleNamespace

    from roadseg.pipeline.outcome import _left_behind

    images = SimpleNamespace(label="images", written=1, path=tmp_path, finish=lambda keep: True)
    assert _left_behind(images, None)[0] == f"1 image was written to {tmp_path}"
    images.written = 3
    assert _left_behind(images, None)[0] == f"3 images were written to {tmp_path}"
    video = SimpleNamespace(label="output", written=1, path=tmp_path / "o.mp4", finish=lambda keep: True)
    assert _left_behind(video, None)[0] == f"finalised a playable {tmp_path / 'o.mp4'} with the 1 frame done"
