"""What a fleet engineer met running ``roadseg batch`` over a dashcam archive on one machine (a user trial, local
pool only): a full disk under results.jsonl, a Ctrl-C's counts, a cron log's progress lines.

Real worker processes and real videos, as in test_batch.py.
"""

from __future__ import annotations

import errno
import json
import os
import sys
from pathlib import Path

import pytest
from conftest import batch_results, part_files, rule_model, split_frames, write_video

import roadseg
from roadseg.errors import RoadsegError


@pytest.fixture
def dashcam(tmp_path: Path) -> Path:
    """IN/2026/11/03/CAM_F/clip_000{0,1,2}.mp4, the same names under CAM_R: six short clips."""
    root = tmp_path / "in"
    for cam in ("CAM_F", "CAM_R"):
        for i in range(3):
            path = root / "2026/11/03" / cam / f"clip_{i:04d}.mp4"
            path.parent.mkdir(parents=True, exist_ok=True)
            write_video(path, split_frames(6 + i))
    return root


def test_a_full_disk_under_results_jsonl_names_it_and_a_rerun_does_the_rest(dashcam: Path, rule_onnx: Path,
                                                                            tmp_path: Path, monkeypatch) -> None:  # fmt: skip
    """The output disk filled up: the batch said ``Error: No space left on device`` (naming nothing: the disk of the
    videos? of the outputs?), again on every rerun until there was room. Now the line names results.jsonl."""
    from roadseg.batch import results as results_module

    out, synced, fsync = tmp_path / "out", [], os.fsync

    def full(fd: int) -> None:
        synced.append(fd)
        if len(synced) > 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        fsync(fd)

    monkeypatch.setattr(results_module.os, "fsync", full)
    with pytest.raises(RoadsegError) as caught:
        roadseg.batch(dashcam, out, model=str(rule_onnx), workers=1, quiet=True)
    assert str(caught.value).startswith(f"{out / 'results.jsonl'}: No space left on device; the batch stopped"), caught.value
    assert not part_files(out)
    monkeypatch.setattr(results_module.os, "fsync", fsync)  # (room again)
    logged = [line for line in batch_results(out) if line["status"] == "ok"]
    again = roadseg.batch(dashcam, out, model=str(rule_onnx), workers=1, quiet=True)
    assert (again.ok, again.skipped, again.error) == (6 - len(logged), len(logged), 0) and 2 <= len(logged) < 6


def test_a_ctrl_c_tells_the_videos_cut_short_from_those_not_started() -> None:
    """Ctrl-C two videos into an archive of twenty said 'interrupted 18' and '18 videos unfinished, their partial
    outputs removed': two were in hand, sixteen never began (an archive of 10,000 clips: 'interrupted 9998')."""
    from roadseg.batch.errors import BatchInterrupted
    from roadseg.batch.report import Summary

    summary = Summary(ok=2, interrupted=18, unstarted=16)
    assert summary.table().startswith("ok 2 · error 0 · skipped 0 · interrupted 18 (16 not started) · "), summary.table()
    assert str(BatchInterrupted(summary)).startswith("interrupted: 18 videos unfinished, 16 of them not started, the "
                                                     "partial outputs of the rest removed; the same command again")  # fmt: skip
    assert "none of them started" in str(BatchInterrupted(Summary(interrupted=2, unstarted=2)))
    assert "not started" not in Summary(interrupted=1).table() + str(BatchInterrupted(Summary(interrupted=1)))


def test_a_logs_lines_say_how_long_the_rest_of_the_batch_will_take(capsys) -> None:
    """A nightly batch under cron logs a line a video (no terminal, no bar): the bar's ETA was nowhere in them, so
    one who tailed the log of 10,000 clips could not tell when it would end. Reckoned from when the workers were
    ready, not from the start: their model's loading is no video's time."""
    from roadseg.batch.report import Progress

    progress = Progress(4)
    progress.t0 -= 60.0  # (the workers took a minute to start: no video's time)
    progress.begin()
    progress.t_work -= 10.0  # (ten seconds of work)
    progress.finished("2026/11/03/CAM_F/clip_0000.mp4", {"status": "ok", "frames": 250})
    progress.finished("2026/11/03/CAM_R/clip_0000.mp4", {"status": "error", "frames": 0, "error": "input is empty"})
    progress.close()
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("[1/4] 2026/11/03/CAM_F/clip_0000.mp4: ok, 250 frames (") and lines[0].endswith(
        " frames/s overall, 0:00:30 left)"), lines  # fmt: skip
    assert lines[1].endswith(", 0:00:10 left)"), lines


def test_a_second_run_with_other_options_says_it_replaces_the_outputs_done_before(dashcam: Path, rule_onnx: Path,
                                                                                 tmp_path: Path, capsys) -> None:  # fmt: skip
    """The nightly job's command got ``--mode side-by-side``: the next run did every video again over its output,
    without a word (a rerun whose input changed says so; one whose options changed said nothing)."""
    out = tmp_path / "out"
    opts = {"model": str(rule_onnx), "workers": 1}
    assert roadseg.batch(dashcam, out, **opts, quiet=True).ok == 6
    capsys.readouterr()
    assert roadseg.batch(dashcam, out, **opts, mode="side-by-side").ok == 6
    said = capsys.readouterr().err
    assert said.startswith("6 videos done before with other options are done again, their outputs replaced ("), said
    assert roadseg.batch(dashcam, out, **opts, mode="side-by-side").skipped == 6
    assert "done again" not in capsys.readouterr().err
    other = rule_model(tmp_path / "other.onnx", input_size=(48, 64))
    (dashcam / "2026/11/03/CAM_F/clip_0000.mp4").unlink()
    assert roadseg.batch(dashcam, out, model=str(other), workers=1, mode="side-by-side").ok == 5
    said = capsys.readouterr().err
    assert said.startswith("5 videos done before with another model are done again, their outputs replaced"), said


def test_a_video_still_being_written_is_not_called_only_a_recording_cut_off(rule_onnx: Path, tmp_path: Path) -> None:
    """A dashcam's clip still being copied off the card (its mp4 index not yet written) failed as 'never finished (a
    recording cut off: power lost or card pulled?)', whose advice was a repair tool. Its line now says it was written
    to a moment ago; one written to an hour ago is damaged, said as before."""
    root = tmp_path / "in"
    (root / "CAM_F").mkdir(parents=True)
    whole = write_video(tmp_path / "whole.mp4", split_frames(8)).read_bytes()
    for name in ("copying.mp4", "cut.mp4"):
        (root / "CAM_F" / name).write_bytes(whole[: len(whole) // 2])
    an_hour_ago = (os.stat(root / "CAM_F/cut.mp4").st_mtime_ns - 3600 * 10**9,) * 2
    os.utime(root / "CAM_F/cut.mp4", ns=an_hour_ago)
    out = tmp_path / "out"
    assert roadseg.batch(root, out, model=str(rule_onnx), workers=1, quiet=True).error == 2
    lines = {Path(line["input"]).name: line for line in batch_results(out)}
    assert all(line["damaged"] and "was never finished" in line["error"] for line in lines.values()), lines
    said = lines["copying.mp4"]["error"]
    assert said.endswith(" s before it was read: still being recorded or copied? (a run after it changes tries it again)"), said
    assert "still being" not in lines["cut.mp4"]["error"]


def test_switching_between_masks_only_and_videos_into_one_folder_redoes_only_what_is_missing(
        dashcam: Path, rule_onnx: Path, tmp_path: Path) -> None:  # fmt: skip
    """One --masks-only run into a folder of finished videos made the next video run redo all 13 of them: an input's
    last line decided. Now an output is done where the line that last wrote it recorded it (``wrote``) with the same
    options that shape it, and it is there: the masks are shared by --masks and --masks-only, the stats file is not
    (it tells of the run that wrote it)."""
    out = tmp_path / "out"
    opts = {"model": str(rule_onnx), "workers": 1, "quiet": True}
    first = roadseg.batch(dashcam, out, **opts)
    assert first.ok == 6 and all(set(line["wrote"]) == {"video"} for line in batch_results(out))
    assert roadseg.batch(dashcam, out, **opts, masks_only=True).ok == 6
    assert roadseg.batch(dashcam, out, **opts).skipped == 6  # (was: ok 6, every video done again)
    assert roadseg.batch(dashcam, out, **opts, mode="side-by-side").ok == 6  # (its options shape the video)
    assert roadseg.batch(dashcam, out, **opts).ok == 6  # (the side-by-side videos replaced these)
    assert roadseg.batch(dashcam, out, **opts, masks=True).skipped == 6  # (the masks-only run's masks are as good)
    assert roadseg.batch(dashcam, out, **opts, masks=True, stats=True).ok == 6  # (no stats yet)
    assert roadseg.batch(dashcam, out, **opts, masks_only=True, stats=True).ok == 6  # (its stats tell of no video)
    assert roadseg.batch(dashcam, out, **opts, masks_only=True).skipped == 6
    assert roadseg.batch(dashcam, out, **opts, size=(64, 64)).ok == 6  # (another size: the video is not as asked)
    assert roadseg.batch(dashcam, out, **opts, masks=True).ok == 6  # (nor are the masks of the first size)


def test_lines_that_do_not_say_what_they_wrote_keep_the_last_line_rule(dashcam: Path, rule_onnx: Path,
                                                                       tmp_path: Path) -> None:  # fmt: skip
    """A results.jsonl of an earlier version (no ``wrote``): an input's last line decides whether it is done."""
    out = tmp_path / "out"
    opts = {"model": str(rule_onnx), "workers": 1, "quiet": True}
    assert roadseg.batch(dashcam, out, **opts).ok == 6
    assert roadseg.batch(dashcam, out, **opts, masks_only=True).ok == 6
    old = [{k: v for k, v in line.items() if k != "wrote"} for line in batch_results(out)]
    (out / "results.jsonl").write_text("".join(json.dumps(line) + "\n" for line in old))
    assert roadseg.batch(dashcam, out, **opts, masks_only=True).skipped == 6
    assert roadseg.batch(dashcam, out, **opts).ok == 6
    assert roadseg.batch(dashcam, out, **opts).skipped == 6


def test_a_rerun_says_how_many_videos_an_earlier_run_cut_short_it_does_again(dashcam: Path, rule_onnx: Path,
                                                                             tmp_path: Path, capsys) -> None:  # fmt: skip
    """A video whose last line says ``interrupted`` (Ctrl-C while a worker held it) was done again without a word."""
    out = tmp_path / "out"
    opts = {"model": str(rule_onnx), "workers": 1}
    assert roadseg.batch(dashcam, out, **opts, quiet=True).ok == 6
    lines = batch_results(out)
    with open(out / "results.jsonl", "a", encoding="utf-8") as log:  # what a Ctrl-C leaves of two videos in hand
        for line in lines[:2]:
            Path(line["output"]).unlink()
            cut = {k: v for k, v in line.items() if k != "wrote"}
            log.write(json.dumps({**cut, "status": "interrupted", "frames": 0}) + "\n")
    capsys.readouterr()
    assert roadseg.batch(dashcam, out, **opts).ok == 2
    assert "2 videos cut short by an earlier run are done again\n" in capsys.readouterr().err
    assert roadseg.batch(dashcam, out, **opts).skipped == 6
    assert "cut short" not in capsys.readouterr().err


def test_a_logs_lines_name_each_input_and_say_an_error_one_way(rule_onnx: Path, tmp_path: Path, capsys,
                                                                monkeypatch) -> None:  # fmt: skip
    """A log named each video by its output (``CLIP_0002.mp4``), not the input a user looks for (``CLIP_0002.MP4``,
    in its folder); a terminal said ``x: error: why``, a log ``[1/2] x: error, why``."""
    from roadseg.batch.report import Progress

    root = tmp_path / "in"
    (root / "2026").mkdir(parents=True)
    write_video(root / "2026/CLIP_0002.MP4", split_frames(6))
    (root / "2026/CLIP_0003.MP4").write_bytes(b"not a video")
    roadseg.batch(root, tmp_path / "out", model=str(rule_onnx), workers=1)
    said = capsys.readouterr().err
    assert "] 2026/CLIP_0002.MP4: ok, 6 frames (" in said and "] 2026/CLIP_0003.MP4: error, " in said, said
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # (a terminal: a bar, and the errors above it)
    progress = Progress(1)
    progress.finished("2026/CLIP_0003.MP4", {"status": "error", "frames": 0, "error": "not a readable video"})
    progress.close()
    assert "2026/CLIP_0003.MP4: error, not a readable video\n" in capsys.readouterr().err
