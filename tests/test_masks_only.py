"""Masks only: ``--masks-dir`` without ``-o`` writes the label masks and masks.csv, encodes nothing and draws no
overlay (a robotics user wanted the masks, and had to encode a video they did not want: 61 ms a 720p frame)."""

import csv
import json
import signal
import socket
import subprocess
import sys

import cv2
import pytest
from click.testing import CliRunner
from conftest import as_from_a_terminal, mid_run, split_frames, write_video
from test_library_stop import Stopper
from test_outputs import _masks_fill_the_disk_at

from roadseg.cli import segment_video_cmd
from roadseg.errors import Interrupted, OutputError, PipelineError
from roadseg.pipeline import SegmentOptions, run, segment_video
from roadseg.pipeline.checks import video_only
from roadseg.pipeline.outcome import interruption
from roadseg.pipeline.overlay import Overlay
from roadseg.pipeline.sinks import MaskSink


def _index(folder):
    with open(folder / "masks.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_masks_dir_alone_writes_the_masks_and_nothing_else(split_video, rule_onnx, tmp_path):
    masks = tmp_path / "m1"
    before = set(tmp_path.iterdir())
    r = CliRunner().invoke(segment_video_cmd, [str(split_video), "--masks-dir", str(masks), "--model", str(rule_onnx),
                                               "-q"])  # fmt: skip
    # (was: exit 1, "Error: -o/--output is required"; and -o /dev/null: "cannot tell a video format from the name null")
    assert r.exit_code == 0, r.output
    assert r.output.startswith(f"wrote masks to {masks}: 12 frames in "), r.output  # (not "wrote None")
    assert set(tmp_path.iterdir()) - before == {masks}  # (no video, no hidden part of one)
    assert sorted(p.name for p in masks.iterdir()) == [*(f"{i:06d}.png" for i in range(12)), "masks.csv"]
    assert len(_index(masks)) == 12


def test_a_masks_only_run_draws_no_overlay(split_video, rule_onnx, tmp_path, monkeypatch):
    def drawn(self, image, labels):
        raise AssertionError("the overlay was drawn")

    monkeypatch.setattr(Overlay, "__call__", drawn)
    stats = segment_video(split_video, None, model=rule_onnx, masks_dir=str(tmp_path / "m"), quiet=True)
    assert stats["frames"] == 12 and stats["output"] is None
    assert "overlay" not in stats["stages"] and "encode" not in stats["stages"]


def test_stats_alone_is_refused_naming_what_is_needed(split_video, rule_onnx, tmp_path):
    r = CliRunner().invoke(segment_video_cmd, [str(split_video), "--stats", str(tmp_path / "s.json"), "--model",
                                               str(rule_onnx), "-q"])  # fmt: skip
    assert r.exit_code == 1 and r.output == "Error: -o/--output or --masks-dir is required\n"  # (was: -o/--output is ...)


def test_masks_alone_whose_disk_fills_fail_the_run_at_once_and_say_what_is_kept(split_video, rule_onnx, tmp_path,
                                                                                monkeypatch):  # fmt: skip
    _masks_fill_the_disk_at(monkeypatch, 5)
    masks, stats = tmp_path / "m", tmp_path / "s.json"
    r = CliRunner().invoke(segment_video_cmd, [str(split_video), "--masks-dir", str(masks), "--stats", str(stats),
                                               "--model", str(rule_onnx), "-q"])  # fmt: skip
    # (nothing else was asked for: a full disk fails the run, which segments no more frames for nothing)
    assert r.exit_code == 1 and r.output == (
        f"Error: masks failed: cannot write mask {masks}/000005.png: No space left on device; the masks of the first "
        f"5 frames are kept in {masks} (000000.png to 000004.png); statistics written to {stats}\n"), r.output  # fmt: skip
    assert sorted(p.name for p in masks.iterdir()) == [*(f"{i:06d}.png" for i in range(5)), "masks.csv"]
    assert json.loads(stats.read_text())["frames"] == 5  # (the masks kept)


def test_a_masks_only_run_stopped_midway_keeps_the_masks_written_and_says_nothing_lost(rule_onnx, tmp_path, caplog):
    src = write_video(tmp_path / "a.mp4", split_frames(200))
    masks = tmp_path / "m"
    # (held at the first frame, which on_progress is told at once: the next reports come at most every
    # REPORT_INTERVAL, and a run of masks alone, nothing encoded, did all 200 frames before one said 5: not stopped)
    stopper = Stopper(SegmentOptions(src, model=rule_onnx, quiet=True, masks_dir=masks), frames=1)
    stopper.stopped()
    result = stopper.result
    assert result.stopped and result.output is None and result.frames_lost == 0 and "lost" not in caplog.text
    assert 1 <= len(_index(masks)) == result.frames == len(list(masks.glob("*.png"))) < 200


def test_an_interrupted_masks_only_run_says_what_its_masks_hold(tmp_path):
    masks = MaskSink(tmp_path / "m", alone=True)
    masks.written = 4
    error = interruption(KeyboardInterrupt(), None, masks, shown=5)
    assert isinstance(error, Interrupted) and error.frames == 4
    assert error.message == f"interrupted: the masks of the first 4 frames are kept in {tmp_path / 'm'} (000000.png to 000003.png)"


def test_an_unforeseen_error_after_a_masks_only_run_says_its_masks_are_kept(split_video, rule_onnx, tmp_path):
    def boom():
        raise RuntimeError("boom")

    masks = tmp_path / "m"
    with pytest.raises(PipelineError) as caught:
        run(SegmentOptions(split_video, model=rule_onnx, quiet=True, masks_dir=masks), finalised=boom)
    assert str(caught.value) == (f"internal error: RuntimeError: boom; the masks of the first 12 frames are kept in "
                                 f"{masks} (000000.png to 000011.png)")  # fmt: skip
    assert caught.value.kept and caught.value.frames == 12 and len(_index(masks)) == 12


@pytest.mark.parametrize(("options", "n"), [({"max_frames": 4}, 4), ({"start": 0.2, "duration": 0.2}, 5),
                                            ({"fps": 12.5}, 6)])  # fmt: skip
def test_masks_only_takes_a_file_s_options(split_video, rule_onnx, tmp_path, options, n):
    masks = tmp_path / "m"
    stats = segment_video(split_video, None, model=rule_onnx, masks_dir=str(masks), quiet=True, **options)
    assert stats["frames"] == n == len(_index(masks)) == len(list(masks.glob("*.png")))


def test_masks_only_of_joined_files(rule_onnx, tmp_path):
    drive = tmp_path / "drive"
    drive.mkdir()
    for name in ("a.mp4", "b.mp4"):
        write_video(drive / name, split_frames(5))
    masks = tmp_path / "m"
    segment_video(drive, None, model=rule_onnx, masks_dir=str(masks), quiet=True, concat=True)
    assert [round(float(r["time"]) * 25) for r in _index(masks)] == list(range(10))


def test_masks_only_of_images_never_replace_an_input_image(rule_onnx, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    for i, picture in enumerate(split_frames(2)):
        cv2.imwrite(str(frames / f"f{i}.png"), picture)
    r = CliRunner().invoke(segment_video_cmd, [str(frames), "--masks-dir", str(frames), "-y", "--model", str(rule_onnx),
                                               "-q"])  # fmt: skip
    assert r.exit_code == 1 and r.output == f"Error: mask {frames / 'f0.png'} is an input image; choose another path (the input is never touched)\n"
    # (unchecked without -o, as the run first let masks go alone: the photos were replaced by their masks)
    assert cv2.imread(str(frames / "f0.png")).shape == (48, 64, 3)
    segment_video(frames, None, model=rule_onnx, masks_dir=str(tmp_path / "m"), quiet=True)
    assert [(r["mask"], r["image"]) for r in _index(tmp_path / "m")] == [("f0.png", "f0.png"), ("f1.png", "f1.png")]


def test_masks_only_of_images_some_unreadable_name_the_masks_folder_as_holding_those_that_read(rule_onnx, tmp_path):
    folder, masks = tmp_path / "frames", tmp_path / "m"
    folder.mkdir()
    for i, picture in enumerate(split_frames(3)):
        cv2.imwrite(str(folder / f"f{i}.png"), picture)
    (folder / "f1.png").write_bytes(b"not a picture")
    r = CliRunner().invoke(segment_video_cmd, [str(folder), "--masks-dir", str(masks), "--model", str(rule_onnx), "-q"])
    assert r.exit_code == 0 and f"1 of 3 images could not be read; {masks} holds the 2 that could" in r.output, r.output
    assert r.output.endswith("\n") and f"wrote masks to {masks}: 2 images in " in r.output  # (was: "None holds ...")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("live", [False, True], ids=["file", "live"])
def test_ctrl_c_of_a_masks_only_run_keeps_the_masks_written_and_says_so(rule_onnx, tmp_path, live):
    # (live: a file played live, --live, as a camera or a stream would be, straight to masks)
    n = 1500 if live else 3000
    src, masks = write_video(tmp_path / "long.mp4", split_frames(n, h=96, w=128)), tmp_path / "m"
    how = ["--live", "--device", "cpu"] if live else []
    cmd = [sys.executable, "-m", "roadseg", "segment", str(src), *how, "--masks-dir", str(masks), "--model",
           str(rule_onnx), "-q"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=as_from_a_terminal)  # fmt: skip
    mid_run(proc, lambda: [masks / "masks.csv"], 300 if live else 200)  # (some 8-10 masks' lines)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    names = sorted(p.name for p in masks.glob("*.png"))
    assert proc.returncode == 130 and 5 < len(names) < n and len(_index(masks)) == len(names), err
    assert err == (f"Error: interrupted: the masks of the first {len(names)} frames are kept in {masks} (000000.png to "
                   f"{names[-1]})\n")  # fmt: skip


# Live masks only: a camera, a stream or a file played live (--live) straight to masks, nothing encoded nor shown.


@pytest.fixture
def live_clip(tmp_path):
    return write_video(tmp_path / "clip.mp4", split_frames(50, h=96, w=128))  # 2 s at 25 frames/s


def test_a_live_run_may_write_masks_alone(live_clip, rule_onnx, tmp_path):
    masks = tmp_path / "m"
    r = CliRunner().invoke(segment_video_cmd, [str(live_clip), "--live", "--masks-dir", str(masks), "--model",
                                               str(rule_onnx), "--device", "cpu", "-q"])  # fmt: skip
    # (was: exit 1, "a live run needs somewhere to go: --show, --serve HOST:PORT and/or -o FILE")
    assert r.exit_code == 0, r.output
    rows = _index(masks)
    assert 20 < len(rows) == len(list(masks.glob("*.png"))) and list(rows[0]) == ["mask", "time", "unix_time"]
    assert r.output.startswith(f"live: wrote masks to {masks}: {len(rows)} frames at "), r.output  # (not "shown")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "m", "rule.onnx"]  # (no recording)


def test_a_live_masks_only_run_ends_at_max_frames_or_duration(live_clip, rule_onnx, tmp_path):
    stats = segment_video(live_clip, None, model=rule_onnx, masks_dir=str(tmp_path / "a"), live=True, max_frames=5,
                          device="cpu", quiet=True)  # fmt: skip
    assert stats["frames"] == 5 == len(_index(tmp_path / "a"))
    stats = segment_video(live_clip, None, model=rule_onnx, masks_dir=str(tmp_path / "b"), live=True, duration=0.5,
                          device="cpu", quiet=True)  # fmt: skip
    assert 5 <= stats["frames"] == len(_index(tmp_path / "b")) <= 16


def test_a_live_masks_only_run_whose_disk_fills_ends_and_says_what_is_kept(live_clip, rule_onnx, tmp_path, monkeypatch):
    _masks_fill_the_disk_at(monkeypatch, 5)
    masks = tmp_path / "m"
    r = CliRunner().invoke(segment_video_cmd, [str(live_clip), "--live", "--masks-dir", str(masks), "--model",
                                               str(rule_onnx), "--device", "cpu", "-q"])  # fmt: skip
    assert r.exit_code == 1 and r.output == (
        f"Error: masks failed: cannot write mask {masks}/000005.png: No space left on device; the masks of the first "
        f"5 frames are kept in {masks} (000000.png to 000004.png)\n"), r.output  # fmt: skip
    assert len(_index(masks)) == 5


@pytest.mark.timeout(120)
# Masks only refuses the options that shape the output video, which it does not write (they were taken, unsaid).


@pytest.mark.parametrize(("given", "said"), [(["--crf", "23"], "--crf shapes"), (["--preset", "superfast"], "--preset shapes"),
                                             (["--codec", "libx265", "--legend"], "--codec and --legend shape"),
                                             (["--mode", "mask", "--alpha", "0.7", "--no-audio"], "--mode, --alpha and --no-audio shape")])  # fmt: skip
def test_masks_only_refuses_the_options_of_the_output_video(split_video, rule_onnx, tmp_path, given, said):
    masks = tmp_path / "m"
    r = CliRunner().invoke(segment_video_cmd, [str(split_video), "--masks-dir", str(masks), "--model", str(rule_onnx),
                                               "-q", *given])  # fmt: skip
    assert r.exit_code == 1 and r.output == (
        f"Error: {said} the output video, which this run does not write (-o): --masks-dir alone writes the masks, "
        f"encodes nothing and draws no overlay; leave {'it' if 'shapes' in said else 'them'} out, or add -o FILE\n"), r.output  # fmt: skip
    assert not masks.exists()  # (before any work)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_live_masks_only_run_refuses_the_options_of_the_output_video(live_clip, rule_onnx, tmp_path):
    r = CliRunner().invoke(segment_video_cmd, [str(live_clip), "--live", "--masks-dir", str(tmp_path / "m"), "--model",
                                               str(rule_onnx), "--camera-audio", "alsa:default"])  # fmt: skip
    assert r.exit_code == 1 and "Error: --camera-audio shapes the output video" in r.output, r.output
    r = CliRunner().invoke(segment_video_cmd, [str(live_clip), "--live", "--masks-dir", str(tmp_path / "m"), "--model",
                                               str(rule_onnx), "--legend", "--max-frames", "3", "--serve",
                                               f"127.0.0.1:{_free_port()}", "-q"])  # fmt: skip
    assert r.exit_code == 0 and len(_index(tmp_path / "m")) == 3, r.output  # (a view is drawn: --legend shapes it)


def test_the_library_refuses_the_output_video_s_options_at_other_than_their_defaults(split_video, rule_onnx, tmp_path):
    with pytest.raises(OutputError, match=r"^--crf and --preset shape the output video, which this run does not write"):
        segment_video(split_video, None, model=rule_onnx, masks_dir=str(tmp_path / "m"), crf=30, preset="slow")
    assert segment_video(split_video, None, model=rule_onnx, masks_dir=str(tmp_path / "m"), crf=23, quiet=True)["frames"] == 12


# A live run of no -o refuses the options it does not use, in one line (was: taken and ignored, unsaid): one that shows
# a view (--show, --serve) the encoder's and the sound's (it is drawn as --mode, --alpha and --legend say); masks alone
# --no-hud too, whose figures are drawn on a view alone.


@pytest.mark.parametrize("masks", [False, True], ids=["view", "view+masks"])
@pytest.mark.parametrize(("given", "said"), [(["--crf", "23"], "--crf shapes"), (["--no-audio"], "--no-audio shapes"),
                                             (["--codec", "libx265", "--preset", "slow"], "--codec and --preset shape")])  # fmt: skip
def test_a_live_view_of_no_output_refuses_the_encoders_and_the_sounds_options(live_clip, rule_onnx, tmp_path, given,
                                                                              said, masks):  # fmt: skip
    also = ["--masks-dir", str(tmp_path / "m")] if masks else []
    r = CliRunner().invoke(segment_video_cmd, [str(live_clip), "--live", "--serve", f"127.0.0.1:{_free_port()}", *also,
                                               "--model", str(rule_onnx), "--max-frames", "3", "-q", *given])  # fmt: skip
    assert r.exit_code == 1 and r.output == (
        f"Error: {said} the output video, which this run does not write (-o): a live view (--show, --serve) is drawn, "
        f"but nothing is encoded and no sound read; leave {'it' if 'shapes' in said else 'them'} out, or add -o FILE\n"), r.output  # fmt: skip
    assert not (tmp_path / "m").exists()  # (before any work)


def test_the_library_refuses_a_live_view_s_encoder_options_at_other_than_their_defaults(live_clip, rule_onnx):
    serve = ("127.0.0.1", _free_port())
    with pytest.raises(OutputError, match=r"^--crf and --no-audio shape the output video, which this run does not"):
        run(SegmentOptions(live_clip, model=rule_onnx, live=True, serve=serve, crf=30, no_audio=True))
    with pytest.raises(OutputError, match=r"^--camera-audio shapes the output video, which this run does not write"):
        video_only(SegmentOptions("0", show=True, masks_dir="m", camera_audio="alsa:default"))  # (a camera's: run opens it)
    opts = SegmentOptions(live_clip, model=rule_onnx, live=True, serve=serve, legend=True, mode="mask", max_frames=3,
                          device="cpu", quiet=True)  # fmt: skip
    assert run(opts).frames == 3  # (a view is drawn as --mode and --legend say)


def test_a_live_masks_only_run_refuses_no_hud_which_a_view_takes(live_clip, rule_onnx, tmp_path):
    masks = tmp_path / "m"
    cmd = [str(live_clip), "--live", "--masks-dir", str(masks), "--model", str(rule_onnx), "--no-hud", "--max-frames",
           "3", "--device", "cpu", "-q"]  # fmt: skip
    r = CliRunner().invoke(segment_video_cmd, cmd)
    assert r.exit_code == 1 and r.output == (
        "Error: --no-hud leaves the frames/s and latency figures off a live view (--show, --serve), which this run does "
        "not show: --masks-dir alone writes the masks and draws nothing; leave it out, or add --show or --serve\n"), r.output  # fmt: skip
    assert not masks.exists()  # (before any work)
    r = CliRunner().invoke(segment_video_cmd, [c for c in cmd if c != "--live"])  # (a file: no view to add)
    assert r.exit_code == 1 and r.output.endswith("draws nothing; leave it out\n"), r.output
    r = CliRunner().invoke(segment_video_cmd, [*cmd, "--serve", f"127.0.0.1:{_free_port()}"])
    assert r.exit_code == 0 and len(_index(masks)) == 3, r.output  # (the view's figures are left off)


# --no-hud is refused wherever no view is shown, -o or not (was: with -o taken and ignored, unsaid: the figures are drawn
# on a view alone, never into the recording; refused only in a run of --masks-dir alone).


@pytest.mark.parametrize("live", [True, False], ids=["live", "file"])
def test_no_hud_with_o_and_no_view_is_refused(live_clip, rule_onnx, tmp_path, live):
    out = tmp_path / "o.mp4"
    cmd = [str(live_clip), *(["--live"] if live else []), "-o", str(out), "--model", str(rule_onnx), "--no-hud",
           "--max-frames", "3", "--device", "cpu", "-q"]  # fmt: skip
    r = CliRunner().invoke(segment_video_cmd, cmd)
    assert r.exit_code == 1 and r.output == (
        "Error: --no-hud leaves the frames/s and latency figures off a live view (--show, --serve), which this run does "
        f"not show: its recording (-o) never has them; leave it out{', or add --show or --serve' if live else ''}\n"
    ), r.output  # fmt: skip
    assert not out.exists()  # (before any work)
    with pytest.raises(OutputError, match=r"^--no-hud leaves the frames/s .* recording \(-o\) never has them"):
        video_only(SegmentOptions("0", "o.mp4", no_hud=True))  # (the library too)
    if live:
        r = CliRunner().invoke(segment_video_cmd, [*cmd, "--serve", f"127.0.0.1:{_free_port()}"])
        assert r.exit_code == 0 and out.is_file(), r.output  # (the view's figures are left off)


# Everything a run refuses of the options it does not use is said in one line, once (was: a masks-only run given --crf
# and --no-hud was refused for --crf, and, that removed, again for --no-hud).


def test_masks_only_refuses_the_output_s_options_and_no_hud_in_one_line(split_video, rule_onnx, tmp_path):
    masks = tmp_path / "m"
    r = CliRunner().invoke(segment_video_cmd, [str(split_video), "--masks-dir", str(masks), "--model", str(rule_onnx),
                                               "-q", "--crf", "30", "--no-hud"])  # fmt: skip
    assert r.exit_code == 1 and r.output == (
        "Error: --crf shapes the output video, which this run does not write (-o), and --no-hud leaves the frames/s and "
        "latency figures off a live view (--show, --serve), which this run does not show: --masks-dir alone writes the "
        "masks, encodes nothing and draws no overlay; leave them out, or add -o FILE (for --crf)\n"), r.output  # fmt: skip
    assert not masks.exists()


# Image input refuses the options that do nothing for images, -o or not, in one line (was: --crf, --preset, --no-audio
# and --no-hud taken and ignored with -o; without it, told to add -o, which would have ignored them).


def _pictures(folder):
    folder.mkdir()
    for i, picture in enumerate(split_frames(2)):
        cv2.imwrite(str(folder / f"f{i}.png"), picture)
    return folder


@pytest.mark.parametrize("given", [["--crf", "30"], ["--preset", "slow", "--no-audio"], ["--no-hud"], ["--crf", "23"]])
def test_an_image_run_with_o_refuses_the_options_of_a_video(rule_onnx, tmp_path, given):
    src, out = _pictures(tmp_path / "in"), tmp_path / "seg"
    r = CliRunner().invoke(segment_video_cmd, [str(src), "-o", str(out), "--model", str(rule_onnx), "-q", *given])
    named = [word for word in given if word.startswith("--")]
    said = " and ".join(named) + (" is" if len(named) == 1 else " are")
    assert r.exit_code == 1 and r.output == f"Error: {said} for video; {src} is images\n", r.output
    assert not out.exists()
    with pytest.raises(OutputError, match=r"^--no-audio is for video; .* is images$"):
        segment_video(src, tmp_path / "lib", model=rule_onnx, no_audio=True)  # (the library too)


def test_an_image_masks_only_run_advises_o_only_for_the_options_o_takes(rule_onnx, tmp_path):
    src, masks = _pictures(tmp_path / "in"), tmp_path / "m"
    cmd = [str(src), "--masks-dir", str(masks), "--model", str(rule_onnx), "-q"]
    r = CliRunner().invoke(segment_video_cmd, [*cmd, "--crf", "30", "--legend", "--no-hud"])
    assert r.exit_code == 1 and r.output == (
        f"Error: --crf and --no-hud are for video; {src} is images, and --legend shapes the output images, which this "
        "run does not write (-o): --masks-dir alone writes the masks, encodes nothing and draws no overlay; leave them "
        "out, or add -o FILE (for --legend)\n"), r.output  # fmt: skip
    r = CliRunner().invoke(segment_video_cmd, [*cmd, "--preset", "slow"])  # (was: "... or add -o FILE")
    assert r.exit_code == 1 and r.output == f"Error: --preset is for video; {src} is images\n", r.output
    assert not masks.exists()
    r = CliRunner().invoke(segment_video_cmd, [*cmd[:-1], "-o", str(tmp_path / "seg"), "--legend", "--mode", "mask"])
    assert r.exit_code == 0 and len(_index(masks)) == 2, r.output  # (they shape the output images)


def test_a_live_run_of_o_alone_says_it_wrote_the_recording_not_that_it_showed_frames(live_clip, rule_onnx, tmp_path):
    out, masks = tmp_path / "rec.mp4", tmp_path / "m"
    cmd = [str(live_clip), "--live", "-o", str(out), "--model", str(rule_onnx), "--device", "cpu", "-q", "-y",
           "--max-frames", "5"]  # fmt: skip
    for extra in ([], ["--masks-dir", str(masks)]):
        r = CliRunner().invoke(segment_video_cmd, [*cmd, *extra])
        assert r.exit_code == 0 and r.output.startswith(f"live: wrote {out}: 5 frames at "), r.output  # (was: "shown")
        assert "shown" not in r.output, r.output
    r = CliRunner().invoke(segment_video_cmd, [*cmd, "--serve", f"127.0.0.1:{_free_port()}"])
    assert r.exit_code == 0 and f"\nlive: 5 frames shown and written to {out} at " in r.output, r.output
