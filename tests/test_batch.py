"""roadseg batch on the local pool: layout, results lines, skip on rerun, errors, a killed worker, Ctrl-C.

Real worker processes and real videos throughout; faults are injected by really killing processes.
(The Ray pool's tests run against a real two-node cluster: test_batch_ray.py.)
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import pytest
from conftest import (
    as_from_a_terminal,
    batch_results,
    frame_count,
    part_files,
    rule_model,
    split_frames,
    wait_for,
    write_video,
)

import roadseg
from roadseg.batch import BatchError
from roadseg.batch import inputs as inputs_module
from roadseg.batch import results as results_module
from roadseg.batch.inputs import plan_outputs
from roadseg.batch.results import RESULTS, reader
from roadseg.batch.task import PART, Task, model_key
from roadseg.errors import SourceError
from roadseg.pipeline.inputs import find_videos


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """IN/a/x.mp4 (with audio), IN/a/b/y.mov, IN/z.mkv (12, 9, 7 frames) and IN/broken.mp4."""
    root = tmp_path / "in"
    for rel, n in (("a/x.mp4", 12), ("a/b/y.mov", 9), ("z.mkv", 7)):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        write_video(root / rel, split_frames(n), audio_seconds=0.5 if rel == "a/x.mp4" else 0)
    (root / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    (root / "notes.txt").write_text("not a video")
    return root


@pytest.fixture
def long_clips(tmp_path: Path) -> Path:
    """Four copies of a 400-frame 640x480 clip: each takes a worker a second or more."""
    root = tmp_path / "long"
    root.mkdir()
    write_video(root / "c0.mp4", split_frames(400, 480, 640))
    for i in range(1, 4):
        shutil.copy(root / "c0.mp4", root / f"c{i}.mp4")
    return root


def test_layout_results_and_error_rows(archive: Path, rule_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    summary = roadseg.batch(archive, out, model=str(rule_onnx), workers=2, quiet=True)
    assert (summary.ok, summary.error, summary.skipped) == (3, 1, 0) and summary.failed
    expect = {"a/x.mp4": 12, "a/b/y.mp4": 9, "z.mp4": 7}
    for rel, n in expect.items():
        assert frame_count(out / rel) == n
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.mp4")) == sorted(expect)
    lines = {Path(line["output"]).relative_to(out).as_posix(): line for line in batch_results(out)}
    assert set(lines) == {*expect, "broken.mp4"}
    for rel, n in expect.items():
        line = lines[rel]
        assert (line["status"], line["frames"], line["attempt"], line["error"]) == ("ok", n, 1, None)
        assert line["input"] == str(archive / Path(rel).with_suffix({"a/x.mp4": ".mp4", "a/b/y.mp4": ".mov",
                                                                      "z.mp4": ".mkv"}[rel]))  # fmt: skip
        assert (
            line["fps"] > 0 and line["seconds"] > 0 and ":" in line["node"] and line["model"].startswith("rule.onnx@")
        )
    bad = lines["broken.mp4"]
    assert bad["status"] == "error" and "not a readable video" in bad["error"] and bad["attempt"] == 1
    assert not (out / "broken.mp4").exists() and not part_files(out)
    assert len(read_audio_streams(out / "a/x.mp4")) == 1


def read_audio_streams(path: Path) -> list:
    with av.open(str(path)) as c:
        return list(c.streams.audio)


def test_rerun_skips_finished_videos_and_force_redoes_them(archive: Path, rule_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    opts = {"model": str(rule_onnx), "workers": 1, "quiet": True}
    roadseg.batch(archive, out, **opts)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.mp4")}
    (out / "z.mp4").with_name(f".z.mp4{PART}4242-1.mp4").write_bytes(b"x" * 1000)  # a killed --force run's
    again = roadseg.batch(archive, out, **opts)
    assert (again.ok, again.skipped, again.error, again.unchanged) == (0, 3, 1, 1)  # the damaged one: an error still
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.mp4")} == before
    assert not part_files(out)  # (was: left there for good, beside a video every rerun skips)
    assert batch_results(out)[4:] == []  # no line for the 3, nor for the damaged one, unchanged since
    os.utime(archive / "z.mkv", ns=(time.time_ns(), time.time_ns()))  # the input changed: redo it only
    (out / "a/b/y.mp4").unlink()  # an output gone: redo it
    third = roadseg.batch(archive, out, **opts)
    assert (third.ok, third.skipped) == (2, 1)
    assert roadseg.batch(archive, out, **opts, codec="libx264").skipped == 3  # what no --codec means here
    assert (
        roadseg.batch(archive, out, **opts, mode="mask").ok,
        roadseg.batch(archive, out, **opts, force=True).ok,
    ) == (3, 3)


def test_a_rerun_over_a_finished_archive_adds_no_results_lines(archive: Path, rule_onnx: Path, tmp_path: Path) -> None:
    """A fleet's cron job reruns the batch every night: the videos it finds done are counted in the summary,
    not written again (was: a 'skipped' line a video a night, 10,000 a night over an archive of 10,000)."""
    (archive / "broken.mp4").unlink()
    out = tmp_path / "out"
    assert roadseg.batch(archive, out, model=str(rule_onnx), workers=1, quiet=True).ok == 3
    logged = (out / "results.jsonl").read_bytes()
    cmd = [sys.executable, "-m", "roadseg", "batch", str(archive), "-o", str(out), "--model", str(rule_onnx)]
    for _ in range(2):
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0 and "ok 0 · error 0 · skipped 3" in run.stderr, run.stderr
    assert (out / "results.jsonl").read_bytes() == logged
    os.utime(archive / "z.mkv", ns=(time.time_ns(), time.time_ns()))  # one input changed: its line alone
    assert roadseg.batch(archive, out, model=str(rule_onnx), workers=1, quiet=True).skipped == 2
    assert [(Path(line["input"]).name, line["status"]) for line in batch_results(out)[3:]] == [("z.mkv", "ok")]


#: The keys of every results line, whatever its status (README: results.jsonl).
EVERY_LINE = {"input", "output", "status", "frames", "frames_lost", "fps", "seconds", "node", "attempt", "error",
              "size", "mtime_ns", "model", "settings", "time"}  # fmt: skip


def test_every_results_line_has_the_same_keys_and_a_rerun_reads_lines_without_frames_lost(
        archive: Path, rule_onnx: Path, tmp_path: Path) -> None:  # fmt: skip
    """A fleet user adds up results.jsonl: a failed video's line had no frames_lost (nor a key to say it is not
    known). Every line has it now, null where it is not known; a rerun reads the lines of earlier versions alike."""
    out = tmp_path / "out"
    assert roadseg.batch(archive, out, model=str(rule_onnx), workers=1, quiet=True).error == 1
    lines = batch_results(out)
    assert all(EVERY_LINE <= set(line) for line in lines), [sorted(EVERY_LINE - set(line)) for line in lines]
    assert sorted((line["status"], line["frames_lost"], line["fps"] is None) for line in lines) == [
        ("error", None, True), ("ok", 0, False), ("ok", 0, False), ("ok", 0, False)]  # fmt: skip
    old = [{k: v for k, v in line.items() if not (k == "frames_lost" and v is None)} for line in lines]  # (earlier versions')
    (out / "results.jsonl").write_text("".join(json.dumps(line) + "\n" for line in old))
    again = roadseg.batch(archive, out, model=str(rule_onnx), workers=1, quiet=True)
    assert (again.ok, again.skipped, again.error, again.unchanged) == (0, 3, 1, 1) and batch_results(out) == old


def test_a_failed_videos_line_keeps_what_was_said_of_it(archive: Path, rule_onnx: Path, tmp_path: Path) -> None:
    """What the plan said of a video (a drive's files left out, its name's ending kept) went into its line's
    warnings only when it was segmented: a failed one's line dropped it."""
    from roadseg.batch.task import process_one
    from roadseg.pipeline.options import SegmentOptions

    task = Task(str(archive / "broken.mp4"), str(tmp_path / "broken.mp4"), said=("named broken.mp4.mp4, say",))
    line = process_one(task, SegmentOptions("", model=rule_onnx), node="here")
    assert line["status"] == "error" and line["warnings"] == ["named broken.mp4.mp4, say"], line


def test_an_empty_video_unchanged_since_it_failed_is_not_tried_again(archive: Path, rule_onnx: Path,
                                                                     tmp_path: Path) -> None:  # fmt: skip
    """A zero-byte file (a copy that never began) is damaged as it is: a rerun does not try it again while it stays
    as it is (was: a worker and an error line a night for it), and tries it once it changed."""
    (archive / "empty.mp4").write_bytes(b"")
    out = tmp_path / "out"
    first = roadseg.batch(archive, out, model=str(rule_onnx), workers=1, quiet=True)
    assert first.error == 2 and len(batch_results(out)) == 5
    empty = next(line for line in batch_results(out) if line["input"].endswith("empty.mp4"))
    assert empty["damaged"] is True and "input is empty (0 bytes)" in empty["error"], empty
    again = roadseg.batch(archive, out, model=str(rule_onnx), workers=1, quiet=True)
    assert (again.error, again.unchanged) == (2, 2) and len(batch_results(out)) == 5
    (archive / "empty.mp4").write_bytes(b"x")  # (the copy began)
    changed = roadseg.batch(archive, out, model=str(rule_onnx), workers=1, quiet=True)
    assert changed.unchanged == 1 and len(batch_results(out)) == 6


def test_a_damaged_video_unchanged_since_it_failed_is_not_tried_again(archive: Path, rule_onnx: Path,
                                                                       tmp_path: Path) -> None:  # fmt: skip
    """A nightly rerun over an archive with a broken file: counted as an error again, no new line (was: an
    error line a night for each, tried again each time); --retry-failed, or the file changed, tries it again."""
    out = tmp_path / "out"
    first = roadseg.batch(archive, out, model=str(rule_onnx), workers=1, quiet=True)
    assert (first.ok, first.error) == (3, 1)
    bad = next(line for line in batch_results(out) if line["status"] == "error")
    assert bad["damaged"] is True and "not a readable video" in bad["error"]
    cmd = [sys.executable, "-m", "roadseg", "batch", str(archive), "-o", str(out), "--model", str(rule_onnx),
           "--workers", "1"]  # fmt: skip
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr  # (still not done: a cron job must see it)
    assert "ok 0 · error 1 · skipped 3 · damaged and unchanged, not tried again 1" in run.stderr, run.stderr
    why = bad["error"].replace(f": {archive / 'broken.mp4'} (", " (")  # (was: its path again, after its name)
    assert why.startswith("not a readable video (Invalid data found when processing input)"), why
    said = f"broken.mp4: error, unchanged since it failed at {bad['time']}: {why} (not tried again; --retry-"
    assert said in run.stderr, run.stderr  # (was "error, unchanged since: not a readable video ...": since what?)
    assert str(archive / "broken.mp4") not in run.stderr, run.stderr
    assert len(batch_results(out)) == 4
    again = roadseg.batch(archive, out, model=str(rule_onnx), workers=1, quiet=True, retry_failed=True)
    assert (again.error, again.unchanged, again.skipped) == (1, 0, 3) and len(batch_results(out)) == 5
    st = (archive / "broken.mp4").stat()
    os.utime(archive / "broken.mp4", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # (copied again, say)
    changed = roadseg.batch(archive, out, model=str(rule_onnx), workers=1, quiet=True)
    assert (changed.error, changed.unchanged) == (1, 0) and len(batch_results(out)) == 6
    lines = (out / "results.jsonl").read_text().splitlines()  # a line by an earlier roadseg or PyAV: an upgrade
    assert json.loads(lines[-1])["reader"].startswith("roadseg ")  # may read what it could not, so it tries again
    older = lines[-1].replace('"reader": "roadseg ', '"reader": "roadseg 0.0.1 ')
    (out / "results.jsonl").write_text("\n".join([*lines[:-1], older]) + "\n")
    upgraded = roadseg.batch(archive, out, model=str(rule_onnx), workers=1, quiet=True)
    assert (upgraded.error, upgraded.unchanged) == (1, 0) and len(batch_results(out)) == 7


def test_a_damaged_video_tried_again_as_the_options_model_or_file_changed_says_why(archive: Path, rule_onnx: Path,
                                                                                   tmp_path: Path, capsys) -> None:  # fmt: skip
    """A file found damaged is tried again where the options, the model or the file changed since (README): said
    before any work, as a video done before and done again is (was: tried again unsaid)."""
    out, opts = tmp_path / "out", {"model": str(rule_onnx), "workers": 1}

    def said(**kw) -> list[str]:
        capsys.readouterr()
        assert roadseg.batch(archive, out, **{**opts, **kw}).error == 1
        return [line for line in capsys.readouterr().err.splitlines() if "found damaged" in line]

    assert said() == []
    assert batch_results(out)[-1]["options"]["crf"] == 23  # (its line records them, as an ok line does)
    assert said() == []  # (unchanged: not tried again; its line says so)
    assert said(crf=30) == ["broken.mp4: found damaged before with other options, tried again (--crf 23 → 30)"]
    assert said(crf=30, stats=True) == ["broken.mp4: found damaged before with other options, tried again"]
    other = rule_model(tmp_path / "other.onnx", input_size=(48, 64))
    assert said(crf=30, stats=True, model=str(other)) == [
        f"broken.mp4: found damaged before with another model, tried again ({model_key(rule_onnx)} → "
        f"{model_key(other)})"]  # fmt: skip
    st = (archive / "broken.mp4").stat()
    os.utime(archive / "broken.mp4", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # (copied again, say)
    assert said(crf=30, stats=True, model=str(other)) == ["broken.mp4: found damaged before and changed since, tried again"]
    assert said(crf=30, stats=True, model=str(other), retry_failed=True) == []  # (asked for)


def test_a_damaged_videos_line_names_the_reader_of_the_worker_that_read_it(archive: Path, rule_onnx: Path,
                                                                          tmp_path: Path, monkeypatch) -> None:  # fmt: skip
    """The worker that read the file may run another PyAV than the driver (a Ray node's): the line records the
    worker's versions (was: the driver's), the driver's only where a worker's line has none."""
    for other in ("a", "z.mkv"):
        shutil.rmtree(archive / other) if other == "a" else (archive / other).unlink()
    driver = "roadseg 9.9.9, av 99.0.0"  # (the worker, spawned, reads its own: the patch is this process's alone)
    monkeypatch.setattr(results_module, "reader", lambda: driver)
    out = tmp_path / "out"
    assert roadseg.batch(archive, out, model=str(rule_onnx), workers=1, quiet=True).error == 1
    [bad] = batch_results(out)
    assert bad["damaged"] is True and bad["reader"] == reader()
    old_worker = {"status": "error", "frames": 0, "node": "n:1", "error": "not a readable video", "damaged": True}
    assert results_module.results_line(Task("/in/a.mp4", "/out/a.mp4"), old_worker, {}, "m", "s")["reader"] == driver


def test_masks_stats_globs_and_lists(archive: Path, rule_onnx: Path, tmp_path: Path) -> None:
    (tmp_path / "list.txt").write_text("# from a list\nin/a/x.mp4\n\nin/z.mkv\n")
    out = tmp_path / "out"
    summary = roadseg.batch(["@" + str(tmp_path / "list.txt"), str(archive / "**" / "*.mov")], out,
                            model=str(rule_onnx), workers=1, masks=True, stats=True, quiet=True)  # fmt: skip
    assert summary.ok == 3 and not summary.failed
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.mp4")) == ["a/b/y.mp4", "in/a/x.mp4", "in/z.mp4"]
    assert len(list((out / "in/a/x.masks").glob("*.png"))) == 12
    assert json.loads((out / "a/b/y.stats.json").read_text())["frames"] == 9
    assert not part_files(out)


def test_a_video_done_again_without_masks_or_stats_removes_those_an_earlier_run_wrote_that_no_longer_match(
        archive: Path, rule_onnx: Path, tmp_path: Path, capsys) -> None:  # fmt: skip
    """--force without --masks/--stats after a run with them left that run's masks and stats.json beside the new
    video, of the model and options before, unsaid. Now those batch wrote (its lines record them) and that no longer
    tell of the new output are removed once it is done, said before any work, in the summary and in its line; what
    batch did not write, masks that still match (with --force too: was removed), and a --masks-only run's masks
    (a product of their own, its input changed or not: was removed) stay."""
    (archive / "broken.mp4").unlink()
    out, opts = tmp_path / "out", {"model": str(rule_onnx), "workers": 1}
    other = str(rule_model(tmp_path / "other.onnx", input_size=(48, 64)))

    def run(**kw):
        capsys.readouterr()
        summary = roadseg.batch(archive, out, **{**opts, **kw})
        return summary, [line for line in capsys.readouterr().err.splitlines() if "earlier run are removed" in line]

    assert roadseg.batch(archive, out, **opts, masks=True, stats=True, quiet=True).ok == 3
    (out / "z.masks" / "mine.txt").write_text("a user's note")  # (in a masks folder batch wrote: not batch's, stays)
    summary, said = run(crf=30)  # the video's own options: the masks still match; the stats told of the old video
    assert said == ["3 videos: their stats.json from an earlier run are removed once each is done again without it "
                    "(they would not tell of their new output)"]  # fmt: skip
    assert summary.removed == 3 and "· earlier masks or stats removed 3 (results.jsonl's \"removed\")" in summary.table()
    assert (out / "z.masks/masks.csv").is_file() and not (out / "z.stats.json").exists()
    assert batch_results(out)[-1]["removed"] == [str(out / Path(batch_results(out)[-1]["output"]).relative_to(out)
                                                     ).replace(".mp4", ".stats.json")]  # fmt: skip
    summary, said = run(crf=30, force=True)  # --force alone: its masks still match, kept
    assert (summary.ok, summary.removed, said) == (3, 0, []) and len(list(out.rglob("*.masks/masks.csv"))) == 3
    summary, said = run(crf=30, model=other)  # another model: its masks no longer match
    assert said == ["3 videos: their masks from an earlier run are removed once each is done again without them "
                    "(they would not tell of their new output)"]  # fmt: skip
    assert summary.removed == 3 and sorted(p.name for p in out.rglob("*.masks/*")) == ["mine.txt"]  # (not batch's)
    shutil.rmtree(out / "z.masks")
    (out / "z.stats.json").write_text("{}")  # a file batch did not write (its line records it removed since): left be
    summary, said = run(crf=30, model=other, force=True)
    assert (summary.ok, summary.removed, said) == (3, 0, []) and (out / "z.stats.json").read_text() == "{}"
    assert "removed" not in batch_results(out)[-1] and "earlier masks" not in summary.table()
    assert roadseg.batch(archive, out, **opts, masks_only=True, quiet=True).ok == 3  # (their masks again)
    summary, said = run(crf=30)  # the videos, after a --masks-only run: its masks stand
    assert (summary.ok, said) == (3, []) and len(list(out.rglob("*.masks/masks.csv"))) == 3
    os.utime(archive / "z.mkv", ns=(time.time_ns(), time.time_ns()))  # its input changed: its masks stand still
    summary, said = run(crf=30)
    assert (summary.ok, said) == (1, []) and (out / "z.masks/masks.csv").is_file(), said


def test_suffix_picks_the_outputs_container(archive: Path, rule_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    summary = roadseg.batch(archive, out, model=str(rule_onnx), workers=1, quiet=True, suffix="mkv",
                            mode="mask", codec="ffv1")  # a lossless mask video a clip (mp4 cannot hold FFV1)  # fmt: skip
    assert (summary.ok, summary.error) == (3, 1)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.mkv")) == ["a/b/y.mkv", "a/x.mkv", "z.mkv"]
    with av.open(str(out / "a/x.mkv")) as c:
        assert c.streams.video[0].codec_context.name == "ffv1" and len(c.streams.audio) == 1
    assert frame_count(out / "a/x.mkv") == 12
    with pytest.raises(BatchError, match="--suffix .png is not the ending of a video file"):
        roadseg.batch(archive, out, model=str(rule_onnx), suffix=".png", quiet=True)


def test_discovery_rules(archive: Path, tmp_path: Path) -> None:
    out = archive / "segmented"  # an output folder inside the input folder is never searched
    out.mkdir()
    write_video(out / "old.mp4", split_frames(2))
    videos = find_videos([archive, archive / "z.mkv"], exclude=out)
    assert [str(v.rel) for v in videos] == ["a/b/y.mov", "a/x.mp4", "broken.mp4", "z.mkv"]
    shutil.copy(archive / "z.mkv", tmp_path / "z.mp4")
    with pytest.raises(BatchError, match="would both be written"):
        plan_outputs(find_videos([archive / "z.mkv", tmp_path / "z.mp4"]), tmp_path / "o")
    with pytest.raises(BatchError, match="would replace an input"):
        plan_outputs(find_videos([archive / "a/x.mp4"]), archive / "a")
    with pytest.raises(SourceError, match="cannot read the input list"):
        find_videos(["@" + str(tmp_path / "missing.txt")])
    with pytest.raises(BatchError, match="cannot read the input list"):
        roadseg.batch(["@" + str(tmp_path / "missing.txt")], tmp_path / "o", quiet=True)
    with pytest.raises(BatchError, match="no videos found"):
        roadseg.batch(str(tmp_path / "empty*"), tmp_path / "o", quiet=True)
    with pytest.raises(BatchError, match="crf 60 is out of libx265's range 0-51"):  # once, not per video
        roadseg.batch(archive, tmp_path / "q", quiet=True, codec="libx265", crf=60)
    with pytest.raises(BatchError, match="no video encoder 'x264'"):  # (each video failed on its own)
        roadseg.batch(archive, tmp_path / "q", quiet=True, codec="x264")
    assert not (tmp_path / "q").exists()


def test_raw_streams_are_taken_by_a_glob_not_by_a_folder_search(rule_onnx: Path, tmp_path: Path) -> None:
    """A DVR's raw H.264/HEVC streams: read at the rate their SPS states (else FFmpeg's 25 frames/s); a folder search
    leaves them out (its .mp4 copy of the same name often lies beside one), a glob takes them (was: 'no videos found
    in dvr/*.264')."""
    dvr = tmp_path / "dvr"
    dvr.mkdir()
    write_video(dvr / "cam1.264", split_frames(20), fps=Fraction(30))
    write_video(dvr / "cam1.mp4", split_frames(20), fps=Fraction(30))  # (its copy)
    write_video(dvr / "cam2.hevc", split_frames(12), codec="libx265")
    assert [v.rel.as_posix() for v in find_videos([dvr])] == ["cam1.mp4"]
    assert [v.rel.as_posix() for v in find_videos([f"{dvr}/*.264", f"{dvr}/*.hevc"])] == ["cam1.264", "cam2.hevc"]
    out = tmp_path / "out"
    summary = roadseg.batch([f"{dvr}/*.264", f"{dvr}/*.hevc"], out, model=str(rule_onnx), workers=1, quiet=True)
    assert (summary.ok, summary.error) == (2, 0)
    assert frame_count(out / "cam1.mp4") == 20 and frame_count(out / "cam2.mp4") == 12
    with av.open(str(out / "cam1.mp4")) as made, av.open(str(out / "cam2.mp4")) as hevc:  # (no times: its SPS's
        assert (made.streams.video[0].average_rate, hevc.streams.video[0].average_rate) == (30, 25)  # rate; was 25)


def test_an_input_folder_inside_the_output_folder_is_searched_whole(tmp_path: Path) -> None:
    data = tmp_path / "data"  # roadseg batch data/raw -o data: the outputs land beside raw/, not in it
    for rel in ("raw/a.mov", "raw/sub/b.mov", "raw/sub/deeper/c.ts"):
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        (data / rel).write_bytes(b"x")
    expect = ["a.mov", "sub/b.mov", "sub/deeper/c.ts"]
    assert [v.rel.as_posix() for v in find_videos([data / "raw"], exclude=data)] == expect  # (was: a.mov only)
    found = find_videos([str(data / "raw" / "**" / "*.*")], exclude=data)  # (was: nothing)
    assert sorted(v.rel.as_posix() for v in found) == expect
    out = data / "raw" / "segmented"  # the output folder inside an input folder is still left out
    (out / "old.mp4").parent.mkdir()
    (out / "old.mp4").write_bytes(b"x")
    assert [v.rel.as_posix() for v in find_videos([data / "raw"], exclude=out)] == expect
    for pattern in ("**/*.*", "*"):  # (a folder the glob matches: was searched although it is the output folder)
        assert sorted(v.rel.as_posix() for v in find_videos([str(data / "raw" / pattern)], exclude=out)) == expect


def test_an_output_folder_inside_an_input_folder_that_holds_videos_of_its_own_is_refused(rule_onnx: Path,
                                                                                         tmp_path: Path) -> None:
    """``roadseg batch archive -o archive/car7``: the search leaves the output folder out, so car7's own drives were
    not done, unsaid (the trial's 12 clips: ``ok 8 · error 2``, exit 1 only for the damaged files)."""
    archive = tmp_path / "archive"
    for rel in ("car7/d1/a.mp4", "car7/b.mov", "car8/c.mp4"):
        (archive / rel).parent.mkdir(parents=True, exist_ok=True)
        write_video(archive / rel, split_frames(3))
    for spec in (archive, f"{archive}/*/**/*.m*"):
        with pytest.raises(BatchError) as refused:
            roadseg.batch(spec, archive / "car7", model=str(rule_onnx), workers=1, quiet=True)
        assert str(refused.value) == (
            f"the output folder {archive / 'car7'} lies inside the INPUTs and holds 2 videos of its own ("
            f"{archive / 'car7/b.mov'}, {archive / 'car7/d1/a.mp4'}), which a search leaves out (the output folder is "
            "never searched): choose an output folder that holds no inputs; where they are outputs of an earlier batch "
            "whose results.jsonl was removed, remove them or move them out of it"), spec
        assert not (archive / "car7" / "results.jsonl").exists() and not list((archive / "car7").rglob(".*"))
    # an output folder inside the input folder holding only what batches wrote there runs, its outputs not inputs
    out = archive / "segmented"
    assert roadseg.batch(archive, out, model=str(rule_onnx), workers=1, quiet=True).ok == 3
    again = roadseg.batch(archive, out, model=str(rule_onnx), workers=1, quiet=True)
    assert (again.ok, again.skipped, again.error) == (0, 3, 0)
    write_video(out / "car9.mp4", split_frames(3))  # (a video put there by hand: refused too)
    with pytest.raises(BatchError, match=r"holds 1 video of its own \(.*car9.mp4\), which .* no inputs$"):
        roadseg.batch(archive, out, model=str(rule_onnx), workers=1, quiet=True)
    assert roadseg.batch(archive / "car8", archive / "car7", model=str(rule_onnx), workers=1, quiet=True).ok == 1


def test_an_output_folder_inside_the_inputs_whose_results_log_was_removed_is_no_input_of_its_own(
        rule_onnx: Path, tmp_path: Path) -> None:  # fmt: skip
    """``results.jsonl`` removed (to have every video done again): the earlier outputs in an output folder inside the
    inputs were taken for videos of its own and the batch refused ("choose an output folder that holds no inputs").
    An output where this batch writes one, or at its name with another ending (an earlier ``--suffix``), is an
    earlier output; one no input of this batch's makes is still refused, saying what to do where it is an output."""
    archive = tmp_path / "archive"
    for rel in ("car7/a.mp4", "car8/c.mov"):
        (archive / rel).parent.mkdir(parents=True, exist_ok=True)
        write_video(archive / rel, split_frames(3))
    out = archive / "segmented"
    assert roadseg.batch(archive, out, model=str(rule_onnx), workers=1, suffix=".mkv", quiet=True).ok == 2
    assert roadseg.batch(archive, out, model=str(rule_onnx), workers=1, quiet=True).ok == 2  # (.mp4 beside .mkv)
    (out / "results.jsonl").unlink()
    again = roadseg.batch(archive, out, model=str(rule_onnx), workers=1, quiet=True)  # (was: refused)
    assert (again.ok, again.error) == (2, 0)
    (out / "results.jsonl").unlink()
    (archive / "car8/c.mov").unlink()  # (its outputs are no output this batch writes now)
    with pytest.raises(BatchError) as refused:
        roadseg.batch(archive, out, model=str(rule_onnx), workers=1, quiet=True)
    assert str(refused.value) == (
        f"the output folder {out} lies inside the INPUTs and holds 2 videos of its own ({out / 'car8/c.mkv'}, "
        f"{out / 'car8/c.mp4'}), which a search leaves out (the output folder is never searched): choose an output "
        "folder that holds no inputs; where they are outputs of an earlier batch whose results.jsonl was removed, "
        "remove them or move them out of it")


def test_an_earlier_batchs_output_folder_inside_the_inputs_is_no_input_of_a_new_one(rule_onnx: Path, tmp_path: Path,
                                                                                     caplog) -> None:  # fmt: skip
    """``batch archive -o archive/seg1``, then ``-o archive/seg2``: seg1's outputs were segmented again as inputs of
    the second (into seg2/seg1/...). Those its results.jsonl names are left out, said in one line."""
    archive = tmp_path / "archive"
    for rel in ("car7/a.mp4", "c.mov"):
        (archive / rel).parent.mkdir(parents=True, exist_ok=True)
        write_video(archive / rel, split_frames(3))
    assert roadseg.batch(archive, archive / "seg1", model=str(rule_onnx), workers=1, quiet=True).ok == 2
    write_video(archive / "seg1/mine.mp4", split_frames(3))  # (a video put there by hand is an input)
    second = roadseg.batch(archive, archive / "seg2", model=str(rule_onnx), workers=1, quiet=True)
    assert (second.ok, second.error) == (3, 0)  # (was: 5)
    assert sorted(p.relative_to(archive / "seg2").as_posix() for p in (archive / "seg2").rglob("*.mp4")) == [
        "c.mp4", "car7/a.mp4", "seg1/mine.mp4"]
    assert f"left out 2 videos in {archive / 'seg1'}: outputs of an earlier batch (its results.jsonl names them)" \
        in caplog.text


def test_an_earlier_batchs_output_folder_without_its_results_log_is_no_input_of_a_new_one(rule_onnx: Path,
                                                                                          tmp_path: Path, caplog) -> None:  # fmt: skip
    """``batch archive -o archive/seg1``, seg1's results.jsonl removed, then ``-o archive/seg2``: seg1's outputs were
    taken for inputs (into seg2/seg1/...). A folder a batch made holds .roadseg-batch, and where its results.jsonl is
    gone every video in it is left out, said in one line; a folder that was there before a batch wrote into it holds
    none, and without its results.jsonl its videos are inputs, as before."""
    from roadseg.batch.inside import MARKER

    archive = tmp_path / "archive"
    for rel in ("car7/a.mp4", "c.mov"):
        (archive / rel).parent.mkdir(parents=True, exist_ok=True)
        write_video(archive / rel, split_frames(3))
    assert roadseg.batch(archive, archive / "seg1", model=str(rule_onnx), workers=1, quiet=True).ok == 2
    (archive / "old").mkdir()  # (there before the batch: not marked)
    assert roadseg.batch(archive / "car7", archive / "old", model=str(rule_onnx), workers=1, quiet=True).ok == 1
    assert (archive / "seg1" / MARKER).is_file() and not (archive / "old" / MARKER).exists()
    for folder in ("seg1", "old"):
        (archive / folder / "results.jsonl").unlink()
    second = roadseg.batch(archive, archive / "seg2", model=str(rule_onnx), workers=1, quiet=True)
    assert (second.ok, second.error) == (3, 0)  # (was: 5)
    assert sorted(p.relative_to(archive / "seg2").as_posix() for p in (archive / "seg2").rglob("*.mp4")) == [
        "c.mp4", "car7/a.mp4", "old/a.mp4"]  # fmt: skip
    assert f"left out 2 videos in {archive / 'seg1'}: outputs of an earlier batch (a batch made it: {MARKER})" \
        in caplog.text


def test_an_output_folder_inside_the_inputs_by_another_name_is_one(rule_onnx: Path, tmp_path: Path) -> None:
    """The input folder named otherwise than the output folder's parent (a bind mount here; another case of its
    letters on a filesystem that folds it, macOS's or Windows', alike): the output folder, not found inside the
    inputs by its path, was searched as an input and its own videos were not refused."""
    if os.geteuid() != 0 or subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("a bind mount needs root and unshare -m")
    archive, alias = tmp_path / "archive", tmp_path / "alias"
    for rel in ("car7/b.mov", "car8/c.mp4"):
        (archive / rel).parent.mkdir(parents=True, exist_ok=True)
        write_video(archive / rel, split_frames(3))
    alias.mkdir()
    code = ("import roadseg\nfrom roadseg.batch import BatchError\n"
            "try:\n"
            f"    roadseg.batch({str(alias)!r}, {str(archive / 'car7')!r}, model={str(rule_onnx)!r}, workers=1, "
            "quiet=True)\n"
            "except BatchError as exc:\n"
            "    print(exc)\n")  # fmt: skip
    script = f"mount --bind {archive} {alias} && exec {sys.executable} -c \"$0\""
    run = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script, code], capture_output=True,
                         text=True, timeout=120, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})  # fmt: skip
    assert run.stdout.strip() == (
        f"the output folder {archive / 'car7'} lies inside the INPUTs and holds 1 video of its own "
        f"({archive / 'car7/b.mov'}), which a search leaves out (the output folder is never searched): choose an "
        "output folder that holds no inputs; where they are outputs of an earlier batch whose results.jsonl was "
        "removed, remove them or move them out of it"), run.stderr
    assert not list((archive / "car7").rglob("*.mp4"))


def test_a_linked_folder_is_searched_once(tmp_path: Path) -> None:
    arch, disk = tmp_path / "archive", tmp_path / "disk2"  # archive/car9 -> another disk's folder
    for path in (arch / "car1/a.mov", disk / "car9/b.mov"):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"x")
    (arch / "car9").symlink_to(disk / "car9", target_is_directory=True)  # (was: left out without a word)
    (arch / "also-car1").symlink_to(arch / "car1", target_is_directory=True)  # searched already: not twice
    (disk / "car9/loop").symlink_to(arch, target_is_directory=True)  # a loop: ends
    assert [v.rel.as_posix() for v in find_videos([arch])] == ["car1/a.mov", "car9/b.mov"]


def test_a_video_linked_twice_in_the_searched_tree_is_done_once(caplog, rule_onnx: Path, tmp_path: Path) -> None:
    """A link to a video the search finds under its own name too is left out, in one line for all (was: both
    segmented: two outputs of one video, its work done twice); a linked folder is still searched."""
    arch, disk = tmp_path / "archive", tmp_path / "disk2"
    write_video((arch / "car1").mkdir(parents=True) or arch / "car1/drive.mp4", split_frames(4))
    write_video((disk / "car9").mkdir(parents=True) or disk / "car9/other.mp4", split_frames(3))
    (arch / "car1/a-latest.mp4").symlink_to("drive.mp4")  # (sorts before the file it names)
    (arch / "best.mp4").symlink_to(arch / "car1/drive.mp4")
    (arch / "car9").symlink_to(disk / "car9", target_is_directory=True)  # a folder on another disk: searched
    (arch / "car9-again.mp4").symlink_to(disk / "car9/other.mp4")  # found there through the folder's link first
    (arch / "snapshot").mkdir()  # a backup's snapshot: hard links to the files of the one before
    os.link(arch / "car1/drive.mp4", arch / "snapshot/drive.mp4")
    out = tmp_path / "out"
    with caplog.at_level("WARNING", logger="roadseg"):
        summary = roadseg.batch(arch, out, model=str(rule_onnx), workers=1, quiet=True)
    assert (summary.ok, summary.error) == (2, 0), batch_results(out)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.mp4")) == ["car1/drive.mp4", "car9/other.mp4"]
    said = [r.getMessage() for r in caplog.records if "taken once" in r.getMessage()]
    assert said == [f"left out {arch / 'car1/a-latest.mp4'} (the same file as {arch / 'car1/drive.mp4'}) and 3 "
                    "more: a file found twice through a link is taken once"], caplog.text  # fmt: skip
    assert find_videos([arch, disk]) == find_videos([arch])  # (the other disk named as well: each file once)
    dcim = tmp_path / "DCIM"  # segmented into itself, with a link where an output would go
    write_video(dcim.mkdir() or dcim / "a.mov", split_frames(2))
    (dcim / "a.mp4").symlink_to("a.mov")
    with pytest.raises(BatchError, match=f"the output {dcim / 'a.mp4'} would replace an input"):
        roadseg.batch(dcim, dcim, model=str(rule_onnx), workers=1, quiet=True)  # (was: the link replaced by it)
    assert os.readlink(dcim / "a.mp4") == "a.mov"


def test_an_output_that_a_link_in_the_output_folder_puts_onto_its_input_is_refused(rule_onnx: Path, tmp_path: Path
                                                                                     ) -> None:  # fmt: skip
    write_video((tmp_path / "in/sub").mkdir(parents=True) or tmp_path / "in/sub/x.mp4", split_frames(3))
    made = (tmp_path / "in/sub/x.mp4").read_bytes()
    (tmp_path / "out").mkdir()
    (tmp_path / "out/sub").symlink_to(tmp_path / "in/sub", target_is_directory=True)  # out/sub/x.mp4 is the input
    with pytest.raises(BatchError, match=f"the output {tmp_path / 'out/sub/x.mp4'} would replace an input"):
        roadseg.batch(tmp_path / "in", tmp_path / "out", model=str(rule_onnx), workers=1, quiet=True)
    assert (tmp_path / "in/sub/x.mp4").read_bytes() == made  # (was: replaced by its own segmentation)


def test_a_folder_search_takes_files_not_pipes(tmp_path: Path) -> None:
    (tmp_path / "a.mp4").write_bytes(b"x")
    os.mkfifo(tmp_path / "pipe.mp4")  # (was: taken, and the batch waited forever for a writer)
    (tmp_path / "gone.mp4").symlink_to(tmp_path / "nowhere.mp4")  # still taken: its error line names it
    assert [v.rel.as_posix() for v in find_videos([tmp_path])] == ["a.mp4", "gone.mp4"]
    assert [v.rel.as_posix() for v in find_videos([str(tmp_path / "*.mp4")])] == ["a.mp4", "gone.mp4"]


def test_outputs_written_beside_their_inputs_are_not_inputs_of_the_rerun(rule_onnx: Path, tmp_path: Path) -> None:
    drive = tmp_path / "DCIM"  # a camera of .MOV files, segmented into the same folder: -o DCIM
    drive.mkdir()
    for name in ("0800.MOV", "0801.ts"):
        write_video(drive / name, split_frames(3))
    first = roadseg.batch(drive, drive, model=str(rule_onnx), workers=1, quiet=True)
    assert (first.ok, sorted(p.name for p in drive.glob("*.mp4"))) == (2, ["0800.mp4", "0801.mp4"])
    again = roadseg.batch(drive, drive, model=str(rule_onnx), workers=1, quiet=True)  # (was: BatchError, the
    assert (again.ok, again.skipped, again.error) == (0, 2, 0)  # output 0800.mp4 would replace an input)
    assert roadseg.batch(drive, drive, model=str(rule_onnx), workers=1, quiet=True, force=True).ok == 2


@pytest.fixture
def locked(monkeypatch):
    """Folders named ``locked`` cannot be listed (another user's, mode 700: root reads it anyway)."""
    scandir = os.scandir

    def denied(path="."):
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", denied)


def test_a_folder_that_cannot_be_searched_is_said(locked, caplog, tmp_path: Path) -> None:
    for rel in ("ok/a.mov", "locked/b.mov"):
        (tmp_path / rel).parent.mkdir()
        (tmp_path / rel).write_bytes(b"x")
    unsearched: list[str] = []
    with caplog.at_level("WARNING", logger="roadseg"):
        assert [v.rel.as_posix() for v in find_videos([tmp_path], unsearched=unsearched)] == ["ok/a.mov"]
    assert f"cannot search {tmp_path / 'locked'}: Permission denied" in caplog.text  # (was: left out, no word)
    assert unsearched == [str(tmp_path / "locked")]


def test_a_batch_with_a_folder_it_could_not_search_has_not_done_its_work(locked, rule_onnx: Path,
                                                                         tmp_path: Path) -> None:  # fmt: skip
    """A cron job over an archive must see that a folder's videos were left out: the batch fails (exit 1)
    and its summary counts the folder (was: ok, exit 0, the folder's videos never found nor done)."""
    archive = tmp_path / "archive"
    for folder in ("ok", "locked"):
        (archive / folder).mkdir(parents=True)
    write_video(archive / "ok" / "a.mp4", split_frames(4, h=32, w=48))
    summary = roadseg.batch(archive, tmp_path / "out", model=str(rule_onnx), workers=1, quiet=True)
    assert (summary.ok, summary.unsearched, summary.failed) == (1, 1, True)
    assert "ok 1 · error 0 · skipped 0 · folders not searched 1" in summary.table()


def test_an_output_an_earlier_run_made_of_another_video_is_not_replaced(rule_onnx: Path, tmp_path: Path) -> None:
    for car, n in (("car1", 6), ("car2", 9)):  # a fleet's archive, segmented car by car into one folder
        (tmp_path / car / "2026-12-01").mkdir(parents=True)
        write_video(tmp_path / car / "2026-12-01/clip.mp4", split_frames(n))
    out = tmp_path / "seg"
    assert roadseg.batch(tmp_path / "car1", out, model=str(rule_onnx), workers=1, quiet=True).ok == 1
    made = (out / "2026-12-01/clip.mp4").stat().st_mtime_ns
    with pytest.raises(BatchError, match=r"car2/2026-12-01/clip.mp4 would be written to .*seg/2026-12-01/clip.mp4, "
                                         r"which holds the output of .*car1/2026-12-01/clip.mp4 from an earlier run"):
        roadseg.batch(tmp_path / "car2", out, model=str(rule_onnx), workers=1, quiet=True, force=True)
    assert (out / "2026-12-01/clip.mp4").stat().st_mtime_ns == made  # (was: replaced by car2's, without a word,
    assert frame_count(out / "2026-12-01/clip.mp4") == 6  # and a rerun of car1 then skipped it as car1's)
    shutil.copytree(tmp_path / "car1", tmp_path / "moved/car1")  # the same videos elsewhere: not refused
    assert roadseg.batch(tmp_path / "moved/car1", out, model=str(rule_onnx), workers=1, quiet=True).ok == 1


def test_two_folders_named_as_inputs_that_would_share_an_output_say_how_to_keep_them_apart(tmp_path: Path) -> None:
    for path in ("car1/2026-12-01/clip.mp4", "car2/2026-12-01/clip.mp4", "car2/2026-12-01/clip.ts"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(b"x")  # (was: 'rename one or give them separately', where neither helps)
    with pytest.raises(BatchError, match="; give the folder that holds both .*, whose layout keeps them apart"):
        plan_outputs(find_videos([tmp_path / "car1", tmp_path / "car2"]), tmp_path / "seg")
    plan = plan_outputs(find_videos([tmp_path]), tmp_path / "seg")  # (one folder: the names differ only by their
    assert sorted(p.name for p in plan.values()) == ["clip.mp4", "clip.mp4.mp4", "clip.ts.mp4"]  # ending: each kept)
    (tmp_path / "car2/2026-12-01/clip.ts.mp4").write_bytes(b"x")  # (would be written to clip.ts.mp4 too)
    with pytest.raises(BatchError, match=r"clip.ts and .*clip.ts.mp4 would both be written to .*; rename one$"):
        plan_outputs(find_videos([tmp_path]), tmp_path / "seg")


def test_outputs_whose_names_differ_only_by_case_are_one_file_where_the_output_folder_folds_case(
        tmp_path: Path, monkeypatch) -> None:  # fmt: skip
    """Where OUT's filesystem takes names that differ only by case for one (macOS's, an SMB share, an SD card's
    exFAT), Clip.mp4 beside clip.mov each keep their ending, and a.MP4 is not written over by its own a.mp4 (was:
    Clip.mp4 and clip.mp4, one file, one video's lines both "ok", every rerun skipping both; a batch of a card's
    DCIM into itself replaced each original .MP4 with its segmented video)."""
    for path in ("dcim/a.MP4", "mix/Clip.mp4", "mix/clip.mov", "two/A/x.mp4", "two/a/x.mp4"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(b"x")
    out = tmp_path / "seg"
    out.mkdir()
    assert not inputs_module.folds_case(out)  # (this machine's filesystems tell case apart: as it was)
    assert sorted(p.name for p in plan_outputs(find_videos([tmp_path / "mix"]), out).values()) == ["Clip.mp4", "clip.mp4"]
    monkeypatch.setattr(inputs_module, "folds_case", lambda folder: folder == out.resolve() or folder == tmp_path / "dcim")
    plan = plan_outputs(find_videos([tmp_path / "mix"]), out)
    assert sorted(p.name for p in plan.values()) == ["Clip.mp4.mp4", "clip.mov.mp4"]
    with pytest.raises(BatchError, match=r"the output .*dcim/a.mp4 would replace an input"):
        plan_outputs(find_videos([tmp_path / "dcim"]), tmp_path / "dcim")
    with pytest.raises(BatchError, match=r"two/A/x.mp4 and .*two/a/x.mp4 would both be written to .*seg/a/x.mp4, the "
                                         r"same file as .*seg/A/x.mp4 there \(its filesystem does not tell case "
                                         r"apart\); rename one$"):  # fmt: skip
        plan_outputs(find_videos([tmp_path / "two"]), out, clashes=[])



def test_names_that_differ_by_more_than_case_are_two_outputs_where_the_output_folder_folds_case(
        tmp_path: Path, monkeypatch) -> None:  # fmt: skip
    """Straße/ and Strasse/ are two folders on a filesystem that folds case (a letter to a letter, by a table: 'ß'
    is 'ß' there); was: 'would both be written to ..., the same file as ...', the batch refused (casefold: 'ss')."""
    for path in ("two/Straße/x.mp4", "two/Strasse/x.mp4"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(b"x")
    out = tmp_path / "seg"
    out.mkdir()
    monkeypatch.setattr(inputs_module, "folds_case", lambda folder: True)
    plan = plan_outputs(find_videos([tmp_path / "two"]), out, clashes=[])
    assert sorted(str(p.relative_to(out)) for p in plan.values()) == ["Strasse/x.mp4", "Straße/x.mp4"]

def test_videos_of_one_folder_whose_names_differ_only_by_their_ending_each_keep_it(rule_onnx: Path, tmp_path: Path
                                                                                   ) -> None:  # fmt: skip
    """clip.mp4 beside clip.ts: each written, its name's ending kept (clip.mp4.mp4, clip.ts.mp4), its line saying so
    (was: both failed, 'would be written to OUT/clip.mp4, as clip.ts beside it would; rename one', neither written).
    Where one would share an output even so (clip.ts.mp4 beside them), those two fail with a line each, the rest run."""
    folder = tmp_path / "in/2026-12-01"
    folder.mkdir(parents=True)
    for name, n in (("clip.mp4", 6), ("clip.ts", 7), ("other.mp4", 8)):
        write_video(folder / name, split_frames(n))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "roadseg", "batch", str(tmp_path / "in"), "-o", str(out), "--model", str(rule_onnx),
           "--workers", "1"]  # fmt: skip
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "ok 3 · error 0 · skipped 0" in run.stderr, run.stderr
    written = {p.name: frame_count(p) for p in (out / "2026-12-01").iterdir()}
    assert written == {"clip.mp4.mp4": 6, "clip.ts.mp4": 7, "other.mp4": 8}
    lines = {Path(line["input"]).name: line for line in batch_results(out)}
    assert {n: Path(line["output"]).name for n, line in lines.items()} == {
        "clip.mp4": "clip.mp4.mp4", "clip.ts": "clip.ts.mp4", "other.mp4": "other.mp4"}  # fmt: skip
    assert lines["clip.ts"]["warnings"] == [
        "written to clip.ts.mp4, its name's ending kept, as clip.mp4 beside it would be written to clip.mp4 too"]
    assert ("2026-12-01/clip.mp4 → 2026-12-01/clip.mp4.mp4: written to clip.mp4.mp4, its name's ending kept, as clip.ts beside it would be "
            "written to clip.mp4 too") in run.stderr  # fmt: skip
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)  # a rerun: each skipped, by its own name
    assert run.returncode == 0 and "ok 0 · error 0 · skipped 3" in run.stderr, run.stderr

    write_video(folder / "clip.ts.mp4", split_frames(5))  # would be written to clip.ts.mp4, as clip.ts would
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and "ok 0 · error 2 · skipped 2" in run.stderr and "Traceback" not in run.stderr, run.stderr
    for name, other in (("clip.ts", "clip.ts.mp4"), ("clip.ts.mp4", "clip.ts")):
        assert (f"{folder / name}: error, would be written to {out / '2026-12-01/clip.ts.mp4'}, as {other} beside it "
                "would; rename one") in run.stderr  # fmt: skip
    assert not [row for row in run.stderr.splitlines() if row.startswith("- ")], run.stderr  # (run on no node)
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)  # a rerun: the same, and no line again
    assert run.returncode == 1 and "ok 0 · error 2 · skipped 2" in run.stderr, run.stderr
    assert len(batch_results(out)) == 5  # (3 ok, 2 errors: each night's rerun added 2)
    (folder / "clip.ts").unlink()
    (folder / "clip.ts.mp4").unlink()  # clip.mp4 alone of its name again: OUT/clip.mp4, moved there, not redone
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "ok 0 · error 0 · skipped 2" in run.stderr, run.stderr
    assert ("2026-12-01/clip.mp4: done before as 2026-12-01/clip.mp4.mp4 (a video beside it whose name differs only "
            "by its ending came or went); renamed, not redone") in run.stderr  # fmt: skip
    assert frame_count(out / "2026-12-01/clip.mp4") == 6 and not (out / "2026-12-01/clip.mp4.mp4").exists()


def test_cli_exit_codes_and_summary(archive: Path, rule_onnx: Path, tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "roadseg",
        "batch",
        str(archive),
        "-o",
        str(tmp_path / "out"),
        "--model",
        str(rule_onnx),
    ]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr  # the broken file failed
    assert "ok 3 · error 1 · skipped 0" in run.stderr and "broken.mp4: error" in run.stderr
    # its line names it once, and says why (was: 'broken.mp4: error, not a readable video: /tmp/.../broken.mp4 (...')
    assert "] broken.mp4: error, not a readable video (Invalid data found when processing input)" in run.stderr
    assert str(archive / "broken.mp4") not in run.stderr, run.stderr
    [bad] = [line for line in batch_results(tmp_path / "out") if line["status"] == "error"]  # (the log keeps it whole)
    assert bad["error"].startswith(f"not a readable video: {archive / 'broken.mp4'} (Invalid data found when processing "
                                   "input)"), bad  # fmt: skip
    (archive / "broken.mp4").unlink()
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "ok 0 · error 0 · skipped 3" in run.stderr, run.stderr
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    run = subprocess.run([*cmd[:-1], str(bad), "--force"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and run.stderr.startswith("Error: a worker cannot start:"), run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_concat_joins_each_folders_files_into_one_output(rule_onnx: Path, tmp_path: Path) -> None:
    root = tmp_path / "drives"  # a fleet's archive: a drive a folder of one-minute files
    for rel, n in (("d1/0800_NF.MP4", 5), ("d1/0801_NF.MP4", 6), ("d1/0800_NR.MP4", 4), ("d1/2026.12/a.mp4", 3),
                   ("d2.x/b.mp4", 4), ("d2.x/a.mp4", 3), ("loose.mp4", 7)):  # fmt: skip
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        write_video(root / rel, split_frames(n), audio_seconds=n / 25 if rel.startswith("d1/08") else 0)
    (root / "d3").mkdir()
    (root / "d3/cut.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(400))  # the power went
    out = tmp_path / "out"
    summary = roadseg.batch(root, out, model=str(rule_onnx), workers=2, concat=True, quiet=True)
    assert (summary.ok, summary.error) == (5, 1), batch_results(out)
    expect = {"d1.mp4": 11, "d1/0800_NR.mp4": 4, "d1/2026.12.mp4": 3, "d2.x.mp4": 7, "drives.mp4": 7}  # (d1: the
    # front camera's files; the rear camera's a drive of their own, named as a folder's drives are: was in none)
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.mp4")) == sorted(expect)
    assert {rel: frame_count(out / rel) for rel in expect} == expect
    assert len(read_audio_streams(out / "d1.mp4")) == 1
    lines = {Path(line["input"]).name: line for line in batch_results(out)}
    d1 = lines["d1"]
    assert (d1["status"], d1["frames"], d1["files"], d1["input"]) == ("ok", 11, 2, str(root / "d1"))
    assert ("written apart, as a drive of its own: 1 file of the dashcam's rear camera (the front camera's are joined "
            "here): 0800_NR.MP4") in d1["warnings"], d1  # fmt: skip
    assert (lines["0800_NR.MP4"]["files"], lines["0800_NR.MP4"]["warnings"]) == (1, [
        "a drive of its own, apart from 0800_NF.MP4's: the dashcam's rear camera's files, where that drive's are its "
        "front camera's"]), lines  # fmt: skip
    assert lines["d3"]["status"] == "error" and "no readable video files" in lines["d3"]["error"]
    assert not part_files(out)

    again = roadseg.batch(root, out, model=str(rule_onnx), workers=1, concat=True, quiet=True)
    assert (again.ok, again.skipped, again.error) == (0, 5, 1)
    write_video(root / "d2.x/c.mp4", split_frames(2))  # a file more in one drive: that drive again, whole
    third = roadseg.batch(root, out, model=str(rule_onnx), workers=1, concat=True, quiet=True)
    assert (third.ok, third.skipped) == (1, 4) and frame_count(out / "d2.x.mp4") == 9
    cli = [sys.executable, "-m", "roadseg", "batch", f"{root}/d2.x/[ab].mp4", "--concat", "-o", str(tmp_path / "o2"),
           "--model", str(rule_onnx)]  # fmt: skip
    run = subprocess.run(cli, capture_output=True, text=True, timeout=120)  # a glob picks the files joined
    assert run.returncode == 0 and "ok 1 · error 0" in run.stderr, run.stderr
    assert frame_count(tmp_path / "o2/d2.x.mp4") == 7
    (tmp_path / "other/d2.x").mkdir(parents=True)
    shutil.copy(root / "loose.mp4", tmp_path / "other/d2.x/z.mp4")
    with pytest.raises(BatchError, match="would both be written to"):  # two folders of one name, named on their own
        roadseg.batch([root / "d2.x/a.mp4", tmp_path / "other/d2.x/z.mp4"], tmp_path / "o3", model=str(rule_onnx),
                      concat=True, quiet=True)  # fmt: skip


def test_concat_writes_two_drives_whose_first_files_differ_only_by_their_ending_each_under_its_own_name(
        rule_onnx: Path, tmp_path: Path) -> None:  # fmt: skip
    """clip.mov and clip.mp4 of two formats, each the first of a drive: OUT/d/clip.mov.mp4 and OUT/d/clip.mp4.mp4,
    each results line saying so (was: both failed, 'would be written to OUT/d/clip.mp4 ...; rename one')."""
    drive = tmp_path / "in/d"
    drive.mkdir(parents=True)
    write_video(drive / "clip.mp4", split_frames(5))
    write_video(drive / "clip.mov", split_frames(4, h=96, w=128))
    out = tmp_path / "out"
    summary = roadseg.batch(tmp_path / "in", out, model=str(rule_onnx), workers=1, concat=True, quiet=True)
    assert (summary.ok, summary.error) == (2, 0), batch_results(out)
    assert {p.name: frame_count(p) for p in (out / "d").iterdir()} == {"clip.mov.mp4": 4, "clip.mp4.mp4": 5}
    lines = {Path(line["input"]).name: line for line in batch_results(out)}
    assert {n: Path(line["output"]).name for n, line in lines.items()} == {"clip.mov": "clip.mov.mp4",
                                                                             "clip.mp4": "clip.mp4.mp4"}  # fmt: skip
    assert lines["clip.mp4"]["warnings"][-1] == ("written to clip.mp4.mp4, its name's ending kept, as clip.mov beside "
                                                 "it would be written to clip.mp4 too")  # fmt: skip
    assert lines["clip.mov"]["warnings"][0].startswith("written apart, as a drive of its own: 1 file of another "
                                                       "camera or format (h264 64x48")  # fmt: skip
    again = roadseg.batch(tmp_path / "in", out, model=str(rule_onnx), workers=1, concat=True, quiet=True)
    assert (again.ok, again.skipped) == (0, 2)
    (drive / "clip.mp4").unlink()  # the folder one drive again: OUT/d.mp4, moved there, not redone
    third = roadseg.batch(tmp_path / "in", out, model=str(rule_onnx), workers=1, concat=True, quiet=True)
    assert (third.ok, third.skipped) == (0, 1) and frame_count(out / "d.mp4") == 4
    assert batch_results(out)[-1]["renamed_from"] == str(out / "d/clip.mov.mp4")


def test_concat_leaves_out_a_file_gone_from_the_folder_not_the_whole_drive(rule_onnx: Path, tmp_path: Path) -> None:
    drive = tmp_path / "in/d1"
    drive.mkdir(parents=True)
    for name in ("0800.mp4", "0801.mp4"):
        write_video(drive / name, split_frames(4))
    (drive / "0802.mp4").symlink_to(tmp_path / "gone.mp4")  # a link to a file since moved away
    out = tmp_path / "out"
    summary = roadseg.batch(tmp_path / "in", out, model=str(rule_onnx), workers=1, concat=True, quiet=True)
    (line,) = batch_results(out)
    assert (summary.ok, line["status"], line["frames"]) == (1, "ok", 8), line  # (was: error, input not found)
    assert any(f"left out of the join: input not found: {drive / '0802.mp4'}" in w for w in line["warnings"]), line
    (drive / "0800.mp4").unlink()
    (drive / "0801.mp4").unlink()
    with pytest.raises(SourceError, match="input not found"):  # none is there: as one file named alone
        from roadseg.pipeline.sources.concat import concat_source

        concat_source(drive)


def test_a_rerun_that_redoes_a_drive_or_video_done_before_says_why(rule_onnx: Path, tmp_path: Path, capsys) -> None:
    """A nightly --concat rerun after a drive's next file was copied in redoes the drive, saying so in one line (was:
    redone without a word, as if the last run had been forgotten); so after it lost a file, or one changed, and a
    video done before that changed since, without --concat."""
    drive = tmp_path / "in/2026-12-03"
    drive.mkdir(parents=True)
    for name in ("0800.mp4", "0801.mp4"):
        write_video(drive / name, split_frames(3))
    out, opts = tmp_path / "out", {"model": str(rule_onnx), "workers": 1, "concat": True}

    def rerun(**kw) -> str:
        capsys.readouterr()
        assert roadseg.batch(tmp_path / "in", out, **{**opts, **kw}).ok == 1
        return capsys.readouterr().err

    rerun()
    write_video(drive / "0802.mp4", split_frames(3))  # the drive's next file
    said = rerun()
    assert f"2026-12-03: redone, it gained 1 file since it was done at {batch_results(out)[0]['time']} (3 files, " \
           "were 2)\n" in said, said  # fmt: skip
    for name in ("0800.mp4", "0801.mp4"):
        (drive / name).unlink()
    assert f"2026-12-03: redone, it lost 2 files since it was done at {batch_results(out)[1]['time']} (1 file, " \
           "were 3)\n" in rerun(), batch_results(out)  # fmt: skip
    os.utime(drive / "0802.mp4", ns=(time.time_ns(), time.time_ns()))
    assert f"2026-12-03: redone, one of its files changed since it was done at {batch_results(out)[2]['time']}\n" \
           in rerun()  # fmt: skip
    out = tmp_path / "single"
    rerun(concat=False)
    os.utime(drive / "0802.mp4", ns=(time.time_ns(), time.time_ns()))
    said = rerun(concat=False)
    assert f"2026-12-03/0802.mp4: redone, it changed since it was done at {batch_results(out)[0]['time']}\n" in said
    assert "redone" not in rerun(concat=False, force=True)
    os.utime(drive / "0802.mp4", ns=(time.time_ns(), time.time_ns()))
    assert rerun(concat=False, quiet=True) == ""


def test_concat_cuts_a_folder_into_drives_where_the_recording_paused(rule_onnx: Path, tmp_path: Path) -> None:
    """An SD card's folder holds every drive: a pause longer than --gap (by the names' times, else the
    creation_time tags) begins another, each written as OUT/<folder>/<its first file>.mp4."""
    root = tmp_path / "DCIM"
    card = {"Movie/2026_1203_080000_0001F.MP4": 5, "Movie/2026_1203_080001_0002F.MP4": 6,  # drive 1
            "Movie/2026_1203_091500_0003F.MP4": 4, "Movie/2026_1203_091500_0003R.MP4": 4,  # drive 2, two cameras
            "Movie/2026_1203_091501_0004F.MP4": 3, "one/20261203_100000.mp4": 2, "one/20261203_100001.mp4": 2}
    tagged = {"gopro/a.mp4": (5, "2026-12-03T08:00:00.000000Z"), "gopro/b.mp4": (5, "2026-12-03T08:00:01.000000Z"),
              "gopro/c.mp4": (3, "2026-12-03T09:00:00.000000Z")}  # fmt: skip
    for rel, n in card.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        write_video(root / rel, split_frames(n))
    for rel, (n, when) in tagged.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        write_video(root / rel, split_frames(n), metadata={"creation_time": when})
    (root / "gopro/b2.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(400))  # no time: goes on with b's drive
    out = tmp_path / "out"
    summary = roadseg.batch(root, out, model=str(rule_onnx), workers=2, concat=True, quiet=True)
    expect = {"Movie/2026_1203_080000_0001F.mp4": 11, "Movie/2026_1203_091500_0003F.mp4": 7,
              "Movie/2026_1203_091500_0003R.mp4": 4, "one.mp4": 4, "gopro/a.mp4": 10, "gopro/c.mp4": 3}  # fmt: skip
    assert (summary.ok, summary.error) == (6, 0), batch_results(out)
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.mp4")) == sorted(expect)
    assert {rel: frame_count(out / rel) for rel in expect} == expect
    lines = {Path(line["output"]).relative_to(out).as_posix(): line for line in batch_results(out)}
    assert lines["gopro/a.mp4"]["input"] == str(root / "gopro/a.mp4") and lines["gopro/a.mp4"]["files"] == 3
    assert lines["one.mp4"]["input"] == str(root / "one") and lines["one.mp4"]["files"] == 2
    again = roadseg.batch(root, out, model=str(rule_onnx), workers=1, concat=True, quiet=True)
    assert (again.ok, again.skipped) == (0, 6)

    cli = [sys.executable, "-m", "roadseg", "batch", str(root / "Movie"), "--concat", "--gap", "inf", "-o",
           str(tmp_path / "whole"), "--model", str(rule_onnx), "-q"]  # fmt: skip
    run = subprocess.run(cli, capture_output=True, text=True, timeout=120)  # the card's folder as one
    assert run.returncode == 0 and "ok 2 · error 0" in run.stderr, run.stderr
    assert frame_count(tmp_path / "whole/Movie.mp4") == 18  # the front camera's four files
    assert frame_count(tmp_path / "whole/Movie/2026_1203_091500_0003R.mp4") == 4  # the rear camera's, apart
    bad = subprocess.run(cli[:7] + ["nan"] + cli[8:], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "nan is not a number of seconds" in bad.stderr, bad.stderr


def test_a_drive_done_before_is_renamed_not_redone_when_its_folder_gains_or_loses_a_drive(
    rule_onnx: Path, tmp_path: Path
) -> None:
    """A card's folder is one output while it holds one drive and one output per drive once it holds
    several: a rerun after the next drive moves the first drive's outputs to their new name (masks
    and stats too) instead of segmenting it again beside its old output, and back when the camera
    has overwritten the oldest drive."""
    card = tmp_path / "card/Movie"
    card.mkdir(parents=True)
    first = ["2026_1203_080000_0001F.MP4", "2026_1203_080001_0002F.MP4"]
    for name in first:
        write_video(card / name, split_frames(3))
    out = tmp_path / "out"
    opts = {"model": str(rule_onnx), "workers": 1, "concat": True, "masks": True, "stats": True, "quiet": True}
    assert roadseg.batch(card.parent, out, **opts).ok == 1
    made = (out / "Movie.mp4").read_bytes()
    shutil.copytree(out, tmp_path / "copy")  # (its results.jsonl names the outputs in out/)
    write_video(card / "2026_1203_091500_0003F.MP4", split_frames(4))  # the next drive, an hour later
    elsewhere = roadseg.batch(card.parent, tmp_path / "copy", **opts)  # another OUT: nothing taken from out/
    assert (elsewhere.ok, elsewhere.skipped) == (2, 0) and (out / "Movie.mp4").read_bytes() == made
    run = subprocess.run([sys.executable, "-m", "roadseg", "batch", str(card.parent), "--concat", "--masks", "--stats",
                          "-o", str(out), "--model", str(rule_onnx), "--workers", "1"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0 and "ok 1 · error 0 · skipped 1" in run.stderr, run.stderr
    assert "Movie/2026_1203_080000_0001F.mp4: done before as Movie.mp4 (the folder's drives changed); renamed" in run.stderr
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.parent.suffix != ".masks") == [
        ".roadseg-batch", "Movie/2026_1203_080000_0001F.mp4", "Movie/2026_1203_080000_0001F.stats.json",
        "Movie/2026_1203_091500_0003F.mp4", "Movie/2026_1203_091500_0003F.stats.json", "results.jsonl"]  # fmt: skip
    assert (out / "Movie/2026_1203_080000_0001F.mp4").read_bytes() == made
    assert len(list((out / "Movie/2026_1203_080000_0001F.masks").iterdir())) == 6 + 1  # (and masks.csv)
    moved = batch_results(out)[-2]
    assert (moved["status"], moved["frames"], moved["renamed_from"]) == ("ok", 6, str(out / "Movie.mp4"))
    assert roadseg.batch(card.parent, out, **opts).skipped == 2  # and the moved drive is done under its new name

    for name in first:  # the camera overwrote the oldest drive: the folder holds one drive again
        (card / name).unlink()
    again = roadseg.batch(card.parent, out, **opts)
    assert (again.ok, again.skipped) == (0, 1)
    assert sorted(str(p.relative_to(out)) for p in out.iterdir()) == [
        ".roadseg-batch", "Movie", "Movie.masks", "Movie.mp4", "Movie.stats.json", "results.jsonl"]  # fmt: skip
    assert sorted(p.name for p in (out / "Movie").iterdir()) == [  # the overwritten drive's outputs stay
        "2026_1203_080000_0001F.masks", "2026_1203_080000_0001F.mp4", "2026_1203_080000_0001F.stats.json"]  # fmt: skip
    assert frame_count(out / "Movie.mp4") == 4
    assert roadseg.batch(card.parent, out, **{**opts, "force": True}).ok == 1  # --force still redoes it
    mkv = roadseg.batch(card.parent, out, **{**opts, "suffix": ".mkv"})  # another container: made anew, not renamed
    assert (mkv.ok, mkv.skipped) == (1, 0) and frame_count(out / "Movie.mkv") == frame_count(out / "Movie.mp4") == 4


def test_a_drive_is_named_after_the_first_file_of_the_camera_it_joins(tmp_path: Path) -> None:
    from roadseg.batch.inputs import plan_joined

    folder = tmp_path / "card/RecentClips"
    folder.mkdir(parents=True)
    for hour in (8, 9):  # a Tesla's back camera's names come first
        for camera in ("back", "front"):
            write_video(folder / f"2026-12-03_0{hour}-00-00-{camera}.mp4", split_frames(3))
    plan = plan_joined(find_videos([tmp_path / "card"]), tmp_path / "out", gap=60)
    assert [(Path(unit).name, target.relative_to(tmp_path / "out").as_posix(), len(files)) for unit, target, files in plan] == [
        ("2026-12-03_08-00-00-front.mp4", "RecentClips/2026-12-03_08-00-00-front.mp4", 1),  # (was: ...-back.mp4)
        ("2026-12-03_08-00-00-back.mp4", "RecentClips/2026-12-03_08-00-00-back.mp4", 1),  # (was: left out)
        ("2026-12-03_09-00-00-front.mp4", "RecentClips/2026-12-03_09-00-00-front.mp4", 1),
        ("2026-12-03_09-00-00-back.mp4", "RecentClips/2026-12-03_09-00-00-back.mp4", 1)]  # fmt: skip


def test_concat_reads_each_files_header_once_in_the_driver_and_once_in_the_worker(tmp_path: Path, monkeypatch) -> None:
    """``batch --concat`` opens each file once to cut its folder into drives (the driver's plan) and once to join
    them (the worker's ``concat_source``, besides the concat demuxer's own reading), no more. (Once for both would
    carry the headers from the driver to a worker, maybe on another machine: DEVELOPERS, "Several files as one".)"""
    from roadseg.batch.inputs import plan_joined
    from roadseg.pipeline.sources.concat import concat_source

    names = ["2026_1203_080000_0001F.MP4", "2026_1203_080001_0002F.MP4", "2026_1203_080002_0003F.MP4"]
    (tmp_path / "card/Movie").mkdir(parents=True)
    for name in names:
        write_video(tmp_path / "card/Movie" / name, split_frames(3), audio_seconds=0.1)
    opened: list[str] = []
    real = av.open
    monkeypatch.setattr(av, "open", lambda file, *a, **kw: opened.append(Path(str(file)).name) or real(file, *a, **kw))
    ((drive, _, files),) = plan_joined(find_videos([tmp_path / "card"]), tmp_path / "out", gap=60)
    assert opened == names
    opened.clear()
    with concat_source(drive, files) as source:
        assert sum(not isinstance(item, av.Packet) for item in source) == 9  # (its frames: the rest is sound)
    assert [name for name in opened if not name.endswith(".ffconcat")] == names


def test_concat_with_gap_inf_reads_no_packet_to_plan_a_folder(tmp_path: Path, monkeypatch) -> None:
    """``--gap inf``: the plan reads each file's header for the signatures that part its formats, and no packet of a
    transport stream, whose length it does not use (was: up to 33 video packets a file; the headers of 200 tiny .ts files
    read in 0.26 s, now 0.20 s). With a gap, a damaged transport stream's length is read from its packets as before."""
    from roadseg.batch.inputs import plan_joined
    from roadseg.pipeline.sources import probe

    folder = tmp_path / "card/AVCHD"
    folder.mkdir(parents=True)
    for i, w in enumerate((64, 64, 128)):
        write_video(folder / f"0000{i}.MTS", split_frames(4, w=w))
    packets = []
    real = probe._video_packets
    monkeypatch.setattr(probe, "_video_packets", lambda container, video: packets.append(video) or real(container, video))
    plan = plan_joined(find_videos([tmp_path / "card"]), tmp_path / "out", gap=float("inf"))
    assert [[f.name for f in files] for _, _, files in plan] == [["00000.MTS", "00001.MTS"], ["00002.MTS"]]
    assert packets == []  # (was: one a file)
    plan_joined(find_videos([tmp_path / "card"]), tmp_path / "out", gap=60)
    assert len(packets) == 3


def test_drives_begin_where_the_clock_pauses_or_goes_back(tmp_path: Path) -> None:
    from roadseg.pipeline.sources.drives import drives

    names = ["2000_0101_000000_0001F.MP4", "2000_0101_000001_0002F.MP4",  # a camera whose clock was never set
             "2000_0101_000000_0003F.MP4", "2000_0101_000030_0004F.MP4", "2000_0101_000200_0005F.MP4"]  # fmt: skip
    paths = [write_video(tmp_path / n, split_frames(25)) for n in names]  # one second each
    # the clock starts again at every power-up: a drive; 29 s after the file before ends: the same drive
    assert [[p.name for p in d] for d in drives(paths, 60)] == [names[:2], names[2:4], names[4:]]
    assert drives(paths, 200) == [paths[:2], paths[2:]] and drives(paths, float("inf")) == [paths]
    assert drives(paths[:1], 0) == [paths[:1]]

    tags = ["2026-12-03T08:00:00Z", "2003-05-17T11:22:33Z", "2026-12-03T08:00:02Z", "2031-01-01T00:00:00Z",
            "2026-12-03T08:00:04Z", "2026-12-03T08:00:05Z", "2026-12-03T09:00:00Z", "2026-12-03T10:00:00Z"]
    tagged = [write_video(tmp_path / f"GX{i:06}.MP4", split_frames(25), metadata={"creation_time": t})
              for i, t in enumerate(tags)]  # fmt: skip
    # a damaged tag inside a drive does not cut it; a file alone between two drives is a drive of its own
    assert drives(tagged, 60) == [tagged[:6], tagged[6:7], tagged[7:]]
    assert drives(tagged, 0.5) == [tagged[:6], tagged[6:7], tagged[7:]]  # the pause: after the damaged file's second
    reset = [tagged[0], tagged[2], tagged[0], tagged[2]]  # a clock set back to where it was at each power-up
    assert drives(reset, 60) == [reset[:2], reset[2:]]
    when = {"GX010042.MP4": "08:00:00", "GX020042.MP4": "08:00:00", "GX010043.MP4": "08:00:03"}
    gopro = [write_video(tmp_path / n, split_frames(25), metadata={"creation_time": f"2026-12-03T{t}Z"})
             for n, t in when.items()]  # fmt: skip
    # a GoPro tags every chapter with its recording's start: 43 begins a second after 42's two chapters end
    assert drives(gopro, 1.5) == [gopro] and drives(gopro, 0.5) == [gopro[:2], gopro[2:]]
    pairs = [write_video(tmp_path / f"REC{i // 2:04}_{'FR'[i % 2]}.mp4", split_frames(25),
                         metadata={"creation_time": f"2026-12-03T08:00:0{3 * (i // 2)}Z"}) for i in range(4)]  # fmt: skip
    # front and rear files share their starts, yet a rear file is no chapter: the pause is 2 s, not 1
    assert drives(pairs, 1.5) == [pairs[:2], pairs[2:]]
    long = [write_video(tmp_path / f"LONG{i}.MP4", split_frames(75), metadata={"creation_time": f"2026-12-03T08:00:0{3 * i}Z"})
            for i in range(3)]  # fmt: skip
    long[1].write_bytes(bytes(4096) + long[1].read_bytes()[4096:])  # its header damaged: unreadable, 3 s of bytes
    assert drives(long, 1) == [long]  # (was: cut after it, as if it had lasted no time: a pause of 3 s)
    clock = ["08:00:00", "1970-01-01T00:00:00", "2038-01-19T03:14:07", "08:00:03", "08:00:04", "2026-12-03T07:00:00",
             "07:00:01", "07:00:02", "07:00:03", "08:00:05"]  # fmt: skip
    run = [write_video(tmp_path / f"RUN{i:02}.MP4", split_frames(25),
                       metadata={"creation_time": (t if "T" in t else f"2026-12-03T{t}") + "Z"}) for i, t in enumerate(clock)]  # fmt: skip
    # two damaged tags in a row go on with their drive (were: three drives); four files at another
    # time in a row are a drive of their own (more than STRAY_RUN): the clock went back an hour
    assert drives(run, 2) == [run[:5], run[5:9], run[9:]]
    run[2].write_bytes(bytes(4096) + run[2].read_bytes()[4096:])  # a damaged tag beside an unreadable file
    assert drives(run[:5], 2) == [run[:5]]


def test_an_error_line_names_the_output_not_its_temporary_name(rule_onnx: Path, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    slow = write_video(tmp_path / "in/slow.mp4", split_frames(6), fps=Fraction(15))
    summary = roadseg.batch(tmp_path / "in", tmp_path / "out", model=str(rule_onnx), suffix=".webm", codec="libx264",
                            quiet=True)  # (webm holds no H.264)
    (line,) = batch_results(tmp_path / "out")
    assert summary.error == 1 and line["input"] == str(slow), line
    assert f"{tmp_path / 'out/slow.webm'}:" in line["error"] and ".part-" not in line["error"], line
    assert not list((tmp_path / "out").rglob("*.webm"))  # (was: .slow.mxf.part-<pid>-1.mxf: ...)


def test_an_output_folder_that_cannot_be_made_is_one_line(archive: Path, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    run = subprocess.run([sys.executable, "-m", "roadseg", "batch", str(archive), "-o", str(tmp_path / "afile/out")],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 1 and run.stderr == f"Error: cannot create output folder {tmp_path / 'afile/out'}: Not a directory\n"


def test_a_script_that_calls_batch_unguarded_is_told_what_to_do(archive: Path, rule_onnx: Path, tmp_path: Path) -> None:
    """A script without 'if __name__ == "__main__":' (each spawned worker imports it again, so calls batch
    again): was a worker's traceback of some 25 lines, then 'a local worker exited on start (code 1)'."""
    script = tmp_path / "segment_all.py"
    script.write_text(f"import roadseg\nroadseg.batch({str(archive / 'z.mkv')!r}, {str(tmp_path / 'out')!r}, "
                      f"model={str(rule_onnx)!r}, workers=1, quiet=True)\n")  # fmt: skip
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 1 and run.stderr.count("Traceback") == 1, run.stderr  # (the script's own: it caught nothing)
    assert run.stderr.strip().splitlines()[-1] == (
        "roadseg.batch.errors.BatchError: a local worker exited on start: the script that called roadseg.batch calls "
        "it again as each worker process imports it (multiprocessing's spawn runs the main module anew); put that "
        "call under 'if __name__ == \"__main__\":'")  # fmt: skip
    assert not (tmp_path / "out/z.mp4").exists()


def test_a_video_that_fails_midway_says_its_partial_output_was_removed(rule_onnx: Path, tmp_path: Path,
                                                                       monkeypatch) -> None:  # fmt: skip
    from roadseg.batch.task import process_one
    from roadseg.pipeline.options import SegmentOptions
    from roadseg.pipeline.sinks import VideoSink

    real = VideoSink._encode

    def failing(self, frame):  # fault injection: the encoder fails as it is flushed (26 of 30 pictures out)
        if frame is None:
            raise ValueError("the encoder failed")
        return real(self, frame)

    monkeypatch.setattr(VideoSink, "_encode", failing)
    src = write_video(tmp_path / "a.mp4", split_frames(30))
    (out := tmp_path / "out").mkdir()
    task = Task(str(src), str(out / "a.mp4"), stats=True, worker="7")
    line = process_one(task, SegmentOptions(src, model=rule_onnx), node="here")  # (what a worker sends the driver)
    # was: "...; kept a playable partial output of 30 frames at OUT/a.mp4; statistics written to OUT/a.stats.json"
    assert line["error"] == "encode failed: ValueError: the encoder failed; its partial output of 26 frames was " \
                            "removed (a batch keeps only finished videos)", line  # fmt: skip
    assert (line["status"], line["frames"]) == ("error", 0) and not any(out.iterdir())


def test_a_video_whose_masks_fail_is_kept_and_its_line_says_the_masks_failed(rule_onnx: Path, tmp_path: Path,
                                                                            monkeypatch) -> None:  # fmt: skip
    from roadseg.batch.task import process_one
    from roadseg.pipeline.options import SegmentOptions
    _masks_disk_full_from_the_sixth(monkeypatch)
    src = write_video(tmp_path / "a.mp4", split_frames(12))
    (out := tmp_path / "out").mkdir()
    task = Task(str(src), str(out / "a.mp4"), masks=True, stats=True, worker="7")
    line = process_one(task, SegmentOptions(src, model=rule_onnx), node="here")  # (what a worker sends the driver)
    masks = out / "a.masks"
    # was: "masks failed: ...; its partial output of 12 frames was removed (a batch keeps only finished videos)",
    # the finished video removed with the masks and stats
    assert line["error"] == (f"masks failed: cannot write mask {masks}/000005.png: No space left on device; the masks "
                             f"of the first 5 frames are kept in {masks} (000000.png to 000004.png); kept the finished "
                             f"output {out / 'a.mp4'} (12 frames); statistics written to {out / 'a.stats.json'}"), line  # fmt: skip
    assert (line["status"], line["frames"]) == ("error", 12)  # (not ok: a rerun does it again)
    assert frame_count(out / "a.mp4") == 12 and json.loads((out / "a.stats.json").read_text())["frames"] == 12
    assert sorted(p.name for p in masks.iterdir()) == [*(f"{i:06d}.png" for i in range(5)), "masks.csv"]
    assert not part_files(out)


def test_ray_missing_is_one_line(monkeypatch, archive: Path, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    with pytest.raises(BatchError, match=r'^--ray needs Ray \(in roadseg\'s checkout: pip install -c constraints.txt "\.\[ray\]"\)$'):
        roadseg.batch(archive, tmp_path / "out", ray="auto", quiet=True)


def _starting_pool(outcomes: list):
    """A RayPool waiting for its workers to start, each ``outcomes[i]`` what ``ray.get`` of its ``info`` call gives
    (an exception is raised): Ray's own exceptions, the rest of Ray stood in for (fault injection)."""
    from types import SimpleNamespace

    from roadseg.batch.ray_pool import RayPool, _Actor

    ray = pytest.importorskip("ray")

    def get(ref):
        if isinstance(outcomes[ref], Exception):
            raise outcomes[ref]
        return outcomes[ref]

    pool = RayPool.__new__(RayPool)
    pool.ray = SimpleNamespace(exceptions=ray.exceptions, get=get, wait=lambda refs, **kw: (list(refs), []))
    pool._terminated, pool._actors = False, [_Actor(f"actor{i}") for i in range(len(outcomes))]
    pool._starting = dict(enumerate(pool._actors))
    return pool, ray.exceptions


def _node_died(ip: str):
    from ray.core.generated.common_pb2 import ActorDiedErrorContext
    from ray.exceptions import ActorDiedError

    return ActorDiedError(ActorDiedErrorContext(actor_id=bytes(16), class_name="RayWorker", node_ip_address=ip,
                                                error_message="The node was terminated", never_started=True))  # fmt: skip


def test_a_ray_worker_whose_node_dies_as_it_starts_is_dropped_not_the_batch(caplog) -> None:
    """A node lost while the workers start (a spot instance reclaimed; the trial killed a worker node's raylet as its
    actor started) stopped the whole batch: 'Error: a Ray worker cannot start: The actor never ran - it was cancelled
    before it started running.', exit 1, on a cluster whose other nodes were up. A worker that cannot load the model
    (its ``__init__`` raised) still stops it, as does every worker lost."""
    pool, exceptions = _starting_pool([{"pid": 1, "node": "n1"}, _node_died("10.0.0.7")])
    pool._first_ready(timeout=1)
    assert [a.info for a in pool._actors] == [{"pid": 1, "node": "n1"}]
    assert caplog.messages == ["a Ray worker on node 10.0.0.7 went down as it started (The node was terminated; "
                               "The actor never ran - it was cancelled before it started running.); the batch goes "
                               "on without it"], caplog.messages  # fmt: skip
    pool, _ = _starting_pool([_node_died("10.0.0.7"), _node_died("10.0.0.8")])
    with pytest.raises(BatchError, match=r"^no Ray worker could start: the last, on node 10.0.0.8, went down as it "
                                         r"started \(The node was terminated; "):  # fmt: skip
        pool._first_ready(timeout=1)
    init = exceptions.ActorDiedError(exceptions.RayTaskError("RayWorker.__init__", "Traceback ...",
                                                             BatchError("node 10.0.0.9 does not see /out")))  # fmt: skip
    pool, _ = _starting_pool([{"pid": 1, "node": "n1"}, init])
    with pytest.raises(BatchError, match="^a Ray worker cannot start: "):
        pool._first_ready(timeout=1)


def test_a_batch_whose_last_ray_worker_was_lost_says_it_waits_for_a_node(caplog) -> None:
    """Every worker's node lost mid-run (the trial: a head of 0 CPUs and one worker node, its raylet killed): the
    replacement waits for a node with room, up to ``ready_timeout``; the batch said nothing for those 5 minutes."""
    pool, _ = _starting_pool([])
    pool._actors, pool.ready_timeout, pool._stalled = [_actor_waiting()], 300.0, None
    assert pool.alive() == 1 and pool.alive() == 1
    assert caplog.messages == ["no Ray worker is left to take a video (their nodes went down, or no node has room): "
                               "waiting up to 300 s for a node with room to join the cluster"], caplog.messages
    pool._actors[0].info = {"pid": 1}  # (one joined: said again if all are lost again)
    assert pool.alive() == 1 and pool._stalled is None


def _actor_waiting():
    from roadseg.batch.ray_pool import _Actor

    return _Actor("actor")


def test_a_batch_whose_ray_head_died_leaves_once_its_summary_is_out(monkeypatch, archive: Path, tmp_path: Path
                                                                    ) -> None:  # fmt: skip
    """The head lost mid-run (the trial killed its raylet: the batch finished on the other nodes): Ray's exit handler
    then waited for it, 6 s between the summary and the exit. The pool notes a head gone at ``close()`` and the command
    leaves with ``os._exit`` once the summary is out, with the work's exit code (a stand-in batch notes it here)."""
    from click.testing import CliRunner

    from roadseg.batch import ray_connect
    from roadseg.batch.report import Summary
    from roadseg.cli import main

    pool, _ = _starting_pool([])
    pool._address, pool._owns, pool._handlers = "127.0.0.1:1", True, {}  # (nothing answers there)
    monkeypatch.setattr(ray_connect, "_head_gone", [])
    pool.close()
    assert ray_connect.head_gone()
    left: list[int] = []
    monkeypatch.setattr("roadseg.pipeline.runner.leave_now", left.append)
    monkeypatch.setattr(sys.modules["roadseg.batch"], "batch", lambda *a, **kw: Summary(ok=2, error=1, results="r"))
    run = CliRunner().invoke(main, ["batch", str(archive), "-o", str(tmp_path / "o"), "--ray", "auto"])
    assert left == [1] and "ok 2 · error 1" in run.output, run.output



def test_ctrl_c_after_the_ray_head_died_asks_nothing_of_it_and_leaves_once_its_summary_is_out(
        monkeypatch, archive: Path, tmp_path: Path) -> None:  # fmt: skip
    """Ctrl-C after the head died (killed mid-run, in a network namespace: 7.2-7.9 s from SIGINT to the exit, 1.5 s
    of it killing the actors through the dead head and waiting for their tasks, 5.7 s after the summary in Ray's exit
    handler). The pool's ``cancel`` asks nothing of a head that does not answer, notes it gone, and the command leaves
    with ``os._exit`` once the summary and its Error line are out (a stand-in pool and batch here)."""
    from click.testing import CliRunner

    from roadseg.batch import BatchInterrupted, ray_connect
    from roadseg.batch.report import Summary
    from roadseg.cli import main

    pool, _ = _starting_pool([{"pid": 1}])
    pool._actors[0].queue.append(("ref", Task("/in/a.mp4", "/out/a.mp4")))
    pool._address, pool._owns, asked = "127.0.0.1:1", True, []  # (nothing answers there)
    pool.ray.kill, pool.ray.wait = (lambda *a, **kw: asked.append("kill")), (lambda *a, **kw: asked.append("wait"))
    monkeypatch.setattr(ray_connect, "_head_gone", [])
    assert [task.input for task in pool.cancel()] == ["/in/a.mp4"]
    assert asked == [] and ray_connect.head_gone()  # (was: a kill an actor and a wait for their tasks, through it)
    left: list[int] = []
    monkeypatch.setattr("roadseg.pipeline.runner.leave_now", left.append)

    def stopped(*args, **kw):
        raise BatchInterrupted(Summary(ok=1, interrupted=2, results="r"))

    monkeypatch.setattr(sys.modules["roadseg.batch"], "batch", stopped)
    run = CliRunner().invoke(main, ["batch", str(archive), "-o", str(tmp_path / "o"), "--ray", "auto"])
    assert left[0] == 130 and "ok 1 · error 0" in run.output, run.output
    said = run.output.split("results: r\n")[1].splitlines()[0]  # (was: left by sys.exit, Ray's exit handler waited)
    assert said.startswith("Error: interrupted: 2 videos unfinished"), run.output

def _silent(conn: socket.socket) -> None:
    conn.recv(100)  # (the driver's HTTP/2 preface) and no answer: the test closes it


def _closes(conn: socket.socket) -> None:
    conn.close()


def _http(conn: socket.socket) -> None:
    conn.recv(100)
    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")


@pytest.mark.parametrize("serve, said, seconds", [
    (_silent, "accepts connections but did not answer in 5 s: not a Ray head, or one too busy to answer", (4.5, 15)),
    (_closes, "accepts connections but closed one without answering: not a Ray head", (0, 4.5)),
    (_http, "answers, but not as a Ray head", (0, 4.5))])  # fmt: skip
def test_a_ray_address_that_is_no_ray_head_says_what_it_did(serve, said, seconds, archive: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    held: list[socket.socket] = []
    with socket.create_server(("127.0.0.1", 0)) as server:  # (loopback only: the address --ray is given)
        port = server.getsockname()[1]

        def accept() -> None:
            conn, _ = server.accept()
            held.append(conn)
            serve(conn)

        accepting = threading.Thread(target=accept, daemon=True)
        accepting.start()
        t0 = time.monotonic()
        try:
            with pytest.raises(BatchError) as err:  # (was, silent: "cannot reach a Ray cluster at ...: timed out";
                roadseg.batch(archive, tmp_path / "out", ray=f"127.0.0.1:{port}", quiet=True)  # closed: "answers")
        finally:
            accepting.join(5)
            for conn in held:
                conn.close()
    assert str(err.value) == f"127.0.0.1:{port} {said} (its GCS port, 6379 unless set otherwise)"
    assert seconds[0] <= time.monotonic() - t0 < seconds[1]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.mp4"))


def test_rays_token_authentication_on_without_a_token_is_one_line(monkeypatch, archive: Path, tmp_path: Path) -> None:
    """``RAY_AUTH_MODE=token`` and no token held, at a head whose answer the check cannot read (a TLS one): was Ray's
    AuthenticationError out of ``ray.init``, a traceback (the Ray suite has the heads the check reads)."""
    ray = pytest.importorskip("ray")
    from roadseg.batch import ray_connect
    from roadseg.batch.ray_head import Head

    def init(*args, **kw) -> None:  # (as ray.init raises it, before it connects)
        raise ray.exceptions.AuthenticationError("Token authentication is enabled but no authentication token was found")

    monkeypatch.setattr(ray_connect, "check_reachable", Head)
    monkeypatch.setattr(ray_connect, "connect", init)
    with pytest.raises(BatchError) as err:
        roadseg.batch(archive, tmp_path / "out", ray="127.0.0.1:1", quiet=True)
    assert str(err.value) == (
        "cannot reach a Ray cluster at 127.0.0.1:1: Token authentication is enabled but no authentication token was "
        "found (RAY_AUTH_MODE=token here): put the cluster's token (`ray get-auth-token` on the head prints it) in "
        "RAY_AUTH_TOKEN or ~/.ray/auth_token, or unset RAY_AUTH_MODE where it asks for none")  # fmt: skip
    assert not (tmp_path / "out").exists()


def test_worker_killed_mid_video_is_retried(long_clips: Path, rule_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done: dict = {}
    run = threading.Thread(target=lambda: done.update(summary=roadseg.batch(
        long_clips, out, model=str(rule_onnx), workers=2, retries=1, quiet=True)))  # fmt: skip
    run.start()
    part = wait_for(lambda: next((p for p in part_files(out) if p.suffix == ".mp4"), None) if out.exists() else None)
    pid = int(part.name.split(PART)[1].split("-")[0])  # .c1.mp4.part-<pid>-<attempt>.mp4
    os.kill(pid, signal.SIGKILL)
    run.join(120)
    summary = done["summary"]
    assert (summary.ok, summary.error) == (4, 0)
    # the summary says it too (was: only a line as it happened, none with -q, and none in the summary)
    assert summary.table().startswith("ok 4 · error 0 · skipped 0 · sent again after its worker was lost 1 · "), \
        summary.table()
    lines = batch_results(out)
    lost = [line for line in lines if line.get("retried")]
    assert len(lost) == 1 and lost[0]["node"].endswith(f":{pid}")
    assert lost[0]["error"].startswith(f"worker lost mid-video of {lost[0]['input']}: "), lost[0]  # (was: no input)
    redone = [line for line in lines if line["input"] == lost[0]["input"] and line["status"] == "ok"]
    assert redone[0]["attempt"] == 2 and not redone[0]["node"].endswith(f":{pid}")
    assert all(frame_count(out / f"c{i}.mp4") == 400 for i in range(4)) and not part_files(out)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGHUP])
def test_ctrl_c_keeps_finished_removes_unfinished(long_clips: Path, rule_onnx: Path, tmp_path: Path, sig) -> None:
    """Ctrl-C, or a terminal (an SSH session) that closes: the kernel signals the whole foreground group."""
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "roadseg", "batch", str(long_clips), "-o", str(out), "--model", str(rule_onnx),
           "--workers", "1"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=as_from_a_terminal)  # fmt: skip
    try:
        wait_for(lambda: (out / "results.jsonl").exists() and batch_results(out) and part_files(out), timeout=120)
        os.killpg(proc.pid, sig)  # what a terminal's Ctrl-C (or its hang-up) does: the whole foreground group
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == {signal.SIGINT: 130, signal.SIGHUP: 129}[sig], err
    lines = batch_results(out)
    finished = {line["output"] for line in lines if line["status"] == "ok"}
    cut = [line for line in lines if line["status"] != "ok"]  # the one video in hand (was: no line at all)
    assert finished and [line["status"] for line in cut] == ["interrupted"] and cut[0]["output"] not in finished
    assert cut[0]["node"].split(":")[0] == socket.gethostname() and cut[0]["seconds"] > 0, cut  # (were null)
    assert f"{Path(cut[0]['output']).name}: interrupted before it was finished; nothing of it kept" in err, err
    assert {str(p) for p in out.rglob("*.mp4")} == finished and not part_files(out)
    assert all(frame_count(Path(p)) == 400 for p in finished)
    waiting = f" ({3 - len(finished)} not started)" if len(finished) < 3 else ""  # (one in hand, the rest not begun)
    assert f"ok {len(finished)} · error 0 · skipped 0 · interrupted {4 - len(finished)}{waiting} · " in err, err
    assert roadseg.batch(long_clips, out, model=str(rule_onnx), workers=1, quiet=True).skipped == len(finished)
    assert "Traceback" not in err


def test_ctrl_c_says_an_earlier_runs_output_of_a_video_it_cut_short_is_left(long_clips: Path, rule_onnx: Path,
                                                                             tmp_path: Path) -> None:  # fmt: skip
    """A rerun with other options stopped by Ctrl-C said 'nothing of it kept' of the video in hand, whose output of
    the earlier run was still there, as it was: a fleet user looked for what had been removed."""
    out = tmp_path / "out"
    assert roadseg.batch(long_clips, out, model=str(rule_onnx), workers=1, duration=0.05, quiet=True).ok == 4
    cmd = [sys.executable, "-m", "roadseg", "batch", str(long_clips), "-o", str(out), "--model", str(rule_onnx),
           "--workers", "1"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=as_from_a_terminal)  # fmt: skip
    try:
        wait_for(lambda: part_files(out), timeout=120)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    cut = [line for line in batch_results(out) if line["status"] == "interrupted"]
    assert proc.returncode == 130 and len(cut) == 1, err
    name = Path(cut[0]["output"]).name
    assert (f"{name}: interrupted before it was finished; nothing of this run's kept, its output from an earlier run "
            "left as it was\n") in err, err  # fmt: skip
    assert frame_count(Path(cut[0]["output"])) == 2 and not part_files(out)


@pytest.mark.parametrize("command", [["-m", "roadseg", "batch"], [str(Path(sys.executable).parent / "segment-video")]],
                         ids=["python -m roadseg batch", "segment-video"])  # fmt: skip
def test_ctrl_c_while_the_command_line_loads_is_one_line_and_130(archive: Path, tmp_path: Path, command) -> None:
    """Ctrl-C in the first second, while Python still imports NumPy, OpenCV, PyAV and click (was: a
    KeyboardInterrupt traceback of some 30 lines through the imports, exit -2)."""
    if not command[0].startswith("-") and not os.path.exists(command[0]):
        pytest.skip("no segment-video console script beside this Python (roadseg not installed here)")
    cmd = [sys.executable, "-X", "importtime", *command, str(archive / "a/x.mp4"), "-o", str(tmp_path / "out")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        for line in proc.stderr:  # (-X importtime: a line as each import ends)
            if line.rstrip().endswith(" cv2"):  # OpenCV loaded, PyAV and click still to come
                os.killpg(proc.pid, signal.SIGINT)
                break
        err = proc.stderr.read()
        proc.wait(30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    said = [line for line in err.splitlines() if not line.startswith("import time:")]
    assert (proc.returncode, said) == (130, ["Error: interrupted"]), err
    assert not [line for line in err.splitlines() if line.endswith("| roadseg.cli")], err  # (it came while loading)
    assert not (tmp_path / "out").exists()


def test_a_second_ctrl_c_does_not_cut_the_cleanup_short(long_clips: Path, rule_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "roadseg", "batch", str(long_clips), "-o", str(out), "--model", str(rule_onnx),
           "--workers", "2"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        wait_for(lambda: len([p for p in part_files(out) if p.suffix == ".mp4"]) == 2 if out.exists() else None,
                 timeout=120)  # fmt: skip
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)  # an impatient user: Ctrl-C again while it stops
        _, err = proc.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    # (was: 'Error: interrupted' alone, no summary, no line; a worker left running put c1.mp4 in place unrecorded)
    assert proc.returncode == 130 and "results:" in err and "Traceback" not in err and "terminate called" not in err, err
    wait_for(lambda: not part_files(out), timeout=10)
    lines = batch_results(out)
    assert {str(p) for p in out.rglob("*.mp4")} == {line["output"] for line in lines if line["status"] == "ok"}
    assert sorted(line["status"] for line in lines) == ["interrupted", "interrupted"], lines


def test_a_ctrl_c_once_every_video_is_recorded_cuts_nothing_short(rule_onnx: Path, tmp_path: Path) -> None:
    """Ctrl-C while the workers exit, every video done and recorded: the summary, and exit 0 (was: 'Error:
    interrupted', exit 130 and no summary, which a cron job read as work failed)."""
    (tmp_path / "in").mkdir()
    for name, n in (("a.mp4", 8), ("b.mp4", 6)):
        write_video(tmp_path / "in" / name, split_frames(n))
    out = tmp_path / "out"
    ctrl_c_on_close = (  # (fault injection: the signal as the pool starts to let its workers exit)
        "import importlib, os, signal, sys\n"
        "local = importlib.import_module('roadseg.batch.local')\n"
        "close = local.LocalPool.close\n"
        "local.LocalPool.close = lambda self: (os.kill(os.getpid(), signal.SIGINT), close(self))\n"
        "from roadseg.cli import main\n"
        "sys.argv[0] = 'roadseg'\n"
        "main()\n"
    )
    run = subprocess.run([sys.executable, "-c", ctrl_c_on_close, "batch", str(tmp_path / "in"), "-o", str(out),
                          "--model", str(rule_onnx), "--workers", "1"], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "ok 2 · error 0 · skipped 0" in run.stderr and "results:" in run.stderr and "Error" not in run.stderr
    assert [line["status"] for line in batch_results(out)] == ["ok", "ok"] and frame_count(out / "b.mp4") == 6


def test_a_ctrl_c_as_the_summary_prints_cuts_nothing_short(rule_onnx: Path, tmp_path: Path) -> None:
    """Ctrl-C after the batch returned, every video recorded, before its summary is printed: the summary and
    exit 0 (was: 'Error: interrupted', 130 and no summary)."""
    (tmp_path / "in").mkdir()
    write_video(tmp_path / "in" / "a.mp4", split_frames(6))
    out, command = tmp_path / "out", tmp_path / "bin" / "roadseg"  # (a script named as the command is one)
    command.parent.mkdir()
    command.write_text(  # (fault injection: the signal as the command starts to print the summary)
        "import os, signal\n"
        "from roadseg.batch import report\n"
        "table = report.Summary.table\n"
        "report.Summary.table = lambda self: (os.kill(os.getpid(), signal.SIGINT), table(self))[1]\n"
        "from roadseg.cli import main\n"
        "if __name__ == '__main__':\n"
        "    main()\n"
    )
    run = subprocess.run([sys.executable, str(command), "batch", str(tmp_path / "in"), "-o", str(out), "--model",
                          str(rule_onnx), "--workers", "1"], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "ok 1 · error 0 · skipped 0" in run.stderr and "results:" in run.stderr and "Error" not in run.stderr


def test_a_second_batch_into_the_same_folder_is_refused_while_one_runs(long_clips: Path, rule_onnx: Path,
                                                                         tmp_path: Path) -> None:  # fmt: skip
    out = tmp_path / "out"  # (a cron job started again while the last one still runs)
    cmd = [sys.executable, "-m", "roadseg", "batch", str(long_clips), "-o", str(out), "--model", str(rule_onnx),
           "--workers", "1"]  # fmt: skip
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: part_files(out) if out.exists() else None, timeout=120)
        with pytest.raises(BatchError, match=f"another roadseg batch is writing into {out}"):
            roadseg.batch(long_clips, out, model=str(rule_onnx), workers=1, quiet=True)
        _, err = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
    # (was: the second removed the first's temporary file as stale, so c0.mp4 failed in the first, exit 1,
    # and both segmented all 4 videos)
    assert first.returncode == 0 and "ok 4 · error 0" in err, err
    assert [line["status"] for line in batch_results(out)] == ["ok"] * 4
    assert roadseg.batch(long_clips, out, model=str(rule_onnx), workers=1, quiet=True).skipped == 4  # (free again)


def test_workers_stop_when_the_driver_is_killed(long_clips: Path, rule_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"  # the driver killed outright (the OOM killer, kill -9): its workers must not go on
    cmd = [sys.executable, "-m", "roadseg", "batch", str(long_clips), "-o", str(out), "--model", str(rule_onnx),
           "--workers", "1"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        part = wait_for(lambda: next((p for p in part_files(out) if p.suffix == ".mp4"), None) if out.exists() else None,
                        timeout=120)  # fmt: skip
        worker = int(part.name.split(PART)[1].split("-")[0])
        proc.kill()
        proc.wait(10)
        # (was: the worker finished its video, put it in place with no results line, then a BrokenPipeError
        # traceback; a rerun meanwhile removed its temporary file or had its output replaced under it)
        assert wait_for(lambda: not os.path.exists(f"/proc/{worker}") or
                        open(f"/proc/{worker}/stat").read().split(") ")[1][0] == "Z", timeout=10, fail=False)  # fmt: skip
        _, err = proc.communicate(timeout=10)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert not part_files(out) and not list(out.glob("*.mp4")) and "Traceback" not in err, err


def test_a_worker_keeps_one_model_session_for_all_its_videos(monkeypatch, archive: Path, rule_onnx: Path,
                                                              tmp_path: Path) -> None:  # fmt: skip
    from roadseg.batch.task import Task, Worker
    from roadseg.pipeline.options import SegmentOptions
    from roadseg.pipeline.session import OnnxSegmenter

    built = []
    init = OnnxSegmenter.__init__
    monkeypatch.setattr(OnnxSegmenter, "__init__", lambda self, *a, **k: (built.append(1), init(self, *a, **k))[1])
    worker = Worker(SegmentOptions("", model=str(rule_onnx)), node="here")
    lines = [worker.run(Task(str(archive / rel), str(tmp_path / f"{i}.mp4")).with_worker("1"))
             for i, rel in enumerate(("a/x.mp4", "z.mkv", "a/b/y.mov"))]  # fmt: skip
    assert [line["frames"] for line in lines] == [12, 7, 9] and len(built) == 1


def test_an_interrupted_batch_says_what_to_do_next() -> None:
    """Ctrl-C's last line said what was removed ('1 videos unfinished, their partial outputs removed'), not that the
    same command finishes the work, skipping what was done."""
    from roadseg.batch.errors import BatchInterrupted
    from roadseg.batch.report import Summary

    said = str(BatchInterrupted(Summary(interrupted=1)))
    assert said.startswith("interrupted: 1 video unfinished") and "the same command again does them" in said, said


def test_the_summary_counts_the_videos_done_with_warnings() -> None:
    """`--concat` over a drive with an unreadable file left it out of the join, said once in the scrolled lines and in
    results.jsonl's warnings, while the summary read 'ok 6 · error 0' and the exit code 0: nothing told an archive's
    reader, who looks at the summary, that a line was worth reading."""
    from roadseg.batch.report import Summary

    s = Summary()
    s.add({"status": "ok", "frames": 18, "warnings": ["left out of the join: input is empty (0 bytes): car9/empty.mp4"]})
    s.add({"status": "ok", "frames": 8, "warnings": []})
    s.add({"status": "error", "frames": 0, "warnings": ["said before it failed"]})
    assert s.table().startswith("ok 2 · error 1 · skipped 0 · ok with warnings 1 (results.jsonl's \"warnings\") · "), s.table()
    assert "warnings" not in Summary(ok=1).table()


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) < 2, reason="no CPU affinity to pin")
def test_a_local_batch_sizes_its_workers_and_threads_by_the_cpus_it_may_use():
    """A process pinned to one CPU (taskset, a container's cpuset) gave each worker the machine's CPUs as threads
    (os.cpu_count()): every worker oversubscribed the one it had."""
    one = min(os.sched_getaffinity(0))
    code = ("import os, json; os.sched_setaffinity(0, {%d}); from roadseg.batch.launch import local_shape; "
            "print(json.dumps([local_shape(0, 0, []), local_shape(0, 3, []), local_shape(2, 0, ['0', '1'])]))") % one
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == [[1, 1], [1, 3], [2, 0]]


def test_the_legend_note_of_the_models_names_is_said_once_not_of_each_video(tmp_path: Path) -> None:
    """--legend with a model whose class names its font draws otherwise: the note (a fact of the model) was said for
    every video, and made each one's line 'ok with warnings'; a legend too big for a video is still said of it."""
    from click.testing import CliRunner
    from test_legend_text import OWN, own_model

    from roadseg.cli import main
    from roadseg.pipeline.legend_text import legend_note

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for name in ("a.mp4", "b.mp4"):
        write_video(src / name, split_frames(3, h=240, w=320))
    write_video(src / "small.mp4", split_frames(3, h=48, w=64))  # (the legend of 4 names cannot fit it)
    model = own_model(tmp_path / "own.onnx")
    r = CliRunner().invoke(main, ["batch", str(src), "-o", str(out), "--model", str(model), "--legend", "--workers", "2"])
    assert r.exit_code == 0, r.output
    note = legend_note(OWN)
    assert [line for line in r.stderr.splitlines() if note in line] == [note], r.stderr
    lines = {Path(line["output"]).name: line for line in batch_results(out)}
    assert [(lines[n]["status"], lines[n].get("warnings")) for n in ("a.mp4", "b.mp4")] == [("ok", None), ("ok", None)]
    small = lines["small.mp4"]
    assert small["status"] == "ok" and [w.split(":")[0] for w in small["warnings"]] == ["legend left out"], small
    assert "ok with warnings 1 " in r.stderr, r.stderr


def test_a_video_that_fails_midway_with_legend_leaves_the_models_note_out_of_its_warnings(tmp_path: Path,
                                                                                          monkeypatch) -> None:  # fmt: skip
    """The legend's note of the model's class names is said once by the batch (say_legend_note): a video that fails
    after its overlay said it (its encoder fails as it is flushed) does not say it again in its line's warnings, as a
    finished one does not."""
    from test_legend_text import OWN, own_model

    from roadseg.batch.task import Worker
    from roadseg.pipeline.legend_text import legend_note
    from roadseg.pipeline.options import SegmentOptions
    from roadseg.pipeline.sinks import VideoSink

    real = VideoSink._encode

    def failing(self, frame):  # fault injection: the encoder fails as it is flushed, the run well under way
        if frame is None:
            raise ValueError("the encoder failed")
        return real(self, frame)

    monkeypatch.setattr(VideoSink, "_encode", failing)
    src = write_video(tmp_path / "a.mp4", split_frames(10, h=240, w=320))
    (out := tmp_path / "out").mkdir()
    worker = Worker(SegmentOptions("", model=str(own_model(tmp_path / "own.onnx")), legend=True), node="here")
    assert legend_note(worker.info["classes"]) == legend_note(OWN) is not None  # (what the batch says once)
    line = worker.run(Task(str(src), str(out / "a.mp4"), said=("named a.mp4.mp4, say",), worker="7"))
    assert line["status"] == "error" and line["error"].startswith("encode failed: ValueError: the encoder failed"), line
    assert line["warnings"] == ["named a.mp4.mp4, say"], line


def test_masks_only_writes_each_videos_masks_folder_and_no_video(archive: Path, rule_onnx: Path, tmp_path: Path,
                                                                 monkeypatch) -> None:  # fmt: skip
    """A fleet wants the label masks of its archive: --masks-only writes OUT/a/b.masks/ (and b.stats.json) and
    encodes nothing (was: no such batch; every video encoded to get its masks). The masks folder is under a
    temporary name while its video runs: a rerun must not take a half-written one for done."""
    import importlib

    run_module = importlib.import_module("roadseg.pipeline.run")
    real, seen = run_module.run, []

    def watched(opts, **kw):  # (the masks folder as the video ends, before it is put in place)
        result = real(opts, **kw)
        seen.append((opts.output, Path(opts.masks_dir).name, (Path(opts.masks_dir) / "masks.csv").is_file(),
                     Path(opts.masks_dir).with_name("x.masks").exists()))  # fmt: skip
        return result

    monkeypatch.setattr(run_module, "run", watched)
    from roadseg.batch.task import process_one
    from roadseg.pipeline.options import SegmentOptions

    out = tmp_path / "one"
    out.mkdir()
    task = Task(str(archive / "a/x.mp4"), str(out / "x.masks"), masks=True, masks_only=True, worker="7")
    line = process_one(task, SegmentOptions("", model=str(rule_onnx)), node="here")
    assert (line["status"], line["frames"]) == ("ok", 12)
    assert seen == [(None, f".x.masks{PART}7-1", True, False)]  # no video; not under its name until it was complete
    assert sorted(p.name for p in out.iterdir()) == ["x.masks"] and len(list((out / "x.masks").glob("*.png"))) == 12

    out = tmp_path / "out"
    summary = roadseg.batch(archive, out, model=str(rule_onnx), workers=2, masks_only=True, stats=True, quiet=True)
    assert (summary.ok, summary.error) == (3, 1)
    expect = {"a/x.masks": 12, "a/b/y.masks": 9, "z.masks": 7}
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.parent.suffix != ".masks") == [
        ".roadseg-batch", "a/b/y.stats.json", "a/x.stats.json", "results.jsonl", "z.stats.json"]  # fmt: skip
    for rel, n in expect.items():
        assert sorted(p.name for p in (out / rel).iterdir()) == [*(f"{i:06d}.png" for i in range(n)), "masks.csv"]
    lines = {Path(line["output"]).relative_to(out).as_posix(): line for line in batch_results(out)}
    assert set(lines) == {*expect, "broken.masks"} and not part_files(out)
    assert all(lines[rel]["status"] == "ok" and lines[rel]["frames"] == n for rel, n in expect.items())


def test_a_rerun_skips_videos_done_masks_only_and_one_without_it_does_not(archive: Path, rule_onnx: Path,
                                                                         tmp_path: Path) -> None:  # fmt: skip
    """A rerun with --masks-only skips the masks folders done, one without it writes the videos (was: no such option),
    and one with it after that takes the masks that run wrote for done (was: did them again, as the last line, the
    videos', was not its: test_fleet_trial); a masks folder removed is done again."""
    (archive / "broken.mp4").unlink()
    out = tmp_path / "out"
    opts = {"model": str(rule_onnx), "workers": 1, "quiet": True}
    assert roadseg.batch(archive, out, **opts, masks_only=True).ok == 3
    (stale := out / f".z.masks{PART}4242-1").mkdir()  # a killed run's masks folder
    (stale / "000000.png").write_bytes(b"x")
    again = roadseg.batch(archive, out, **opts, masks_only=True)
    assert (again.ok, again.skipped) == (0, 3) and len(batch_results(out)) == 3 and not part_files(out)
    shutil.rmtree(out / "z.masks")
    third = roadseg.batch(archive, out, **opts, masks_only=True)
    assert (third.ok, third.skipped) == (1, 2)
    videos = roadseg.batch(archive, out, **opts, masks=True)
    assert (videos.ok, videos.skipped) == (3, 0) and frame_count(out / "a/x.mp4") == 12
    assert roadseg.batch(archive, out, **opts, masks_only=True).skipped == 3  # (the videos' run wrote the masks)


def test_a_rerun_says_which_output_is_missing_or_which_option_changed(archive: Path, rule_onnx: Path, tmp_path: Path,
                                                                     capsys) -> None:  # fmt: skip
    """Each video a rerun does again, its input as it was, is said before any work with why: an output it asks for
    that no run wrote (was: '3 videos done before with other options are done again, their outputs replaced' where
    --stats was added after a --masks-only run, and nothing where the videos were written after it), one removed
    since (was: nothing), or which option changed; one line a reason, the video named where it is alone in it. A
    video whose input changed is said so, though the options changed too (was: nothing)."""
    (archive / "broken.mp4").unlink()
    out, opts = tmp_path / "out", {"model": str(rule_onnx), "workers": 1}

    def said(**kw) -> list[str]:
        capsys.readouterr()
        roadseg.batch(archive, out, **{**opts, **kw})
        return [line for line in capsys.readouterr().err.splitlines() if "done again" in line or "redone" in line]

    assert roadseg.batch(archive, out, **opts, masks_only=True, quiet=True).ok == 3
    assert batch_results(out)[0]["options"] == {"size": None, "start": 0.0, "duration": None}  # (not the video's)
    assert said(masks_only=True, stats=True) == ["3 videos done before without --stats (no stats.json) are done again"]
    assert said(stats=True) == ["3 videos done before with --masks-only (no video) are done again"]
    assert batch_results(out)[-1]["options"]["crf"] == 23
    assert said(stats=True, masks=True) == []  # (the --masks-only run's masks stand)
    assert said(stats=True, masks=True, crf=30) == [
        "3 videos done before with other options are done again, their outputs replaced (--crf 23 → 30; another "
        "output folder keeps both)"]  # fmt: skip
    assert said(stats=True, crf=30) == []  # (all there: skipped)
    (out / "z.mp4").unlink()
    assert said(stats=True, crf=30) == ["z.mkv: done before with its video removed since, done again"]
    write_video(archive / "a/x.mp4", split_frames(5))
    when = [line["time"] for line in batch_results(out) if line["input"] == str(archive / "a/x.mp4")][-1]
    assert said(stats=True, crf=31, mode="side-by-side") == [
        f"a/x.mp4: redone, it changed since it was done at {when}",
        "2 videos done before with other options are done again, their outputs replaced (--mode overlay → "
        "side-by-side, --crf 30 → 31; another output folder keeps both)",
        "a/x.mp4: its masks from an earlier run are removed once it is done again without them (they would not tell "
        "of its new output)"]  # fmt: skip  (made of its input before it changed; the others' still match)
    assert said(stats=True, crf=31, mode="side-by-side", force=True) == []  # (--force: the masks still match, kept;
    # was: '2 videos: their masks from an earlier run are removed ...')
    was, other = batch_results(out)[-1]["model"], rule_model(tmp_path / "other.onnx", input_size=(48, 64))
    [line, masks] = said(model=str(other), stats=True, crf=32, mode="side-by-side")
    assert masks == ("2 videos: their masks from an earlier run are removed once each is done again without them (they "
                     "would not tell of their new output)"), masks  # (another model's masks: these no longer match)
    assert line == (f"3 videos done before with another model and with other options are done again, their outputs "
                    f"replaced ({was} → {batch_results(out)[-1]['model']}, --crf 31 → 32; another output folder keeps "
                    "both)"), line  # (was: the model alone named, where both changed)


def test_a_rerun_with_another_suffix_or_over_lines_of_an_earlier_version_says_no_output_was_removed(
        archive: Path, rule_onnx: Path, tmp_path: Path, capsys) -> None:  # fmt: skip
    """A rerun into the same OUT with another --suffix said '3 videos done before with --masks-only (no video)'; one
    with --masks-only over the lines of an earlier version (no 'wrote', no 'options') of a run that wrote the videos
    alone said '... with their masks removed since', masks that run never made."""
    (archive / "broken.mp4").unlink()
    out, opts = tmp_path / "out", {"model": str(rule_onnx), "workers": 1}

    def said(**kw) -> list[str]:
        capsys.readouterr()
        assert roadseg.batch(archive, out, **{**opts, **kw}).ok == 3
        return [line for line in capsys.readouterr().err.splitlines() if "done again" in line]

    def as_of_an_earlier_version() -> None:
        lines = [{k: v for k, v in line.items() if k not in ("wrote", "options")} for line in batch_results(out)]
        (out / RESULTS).write_text("".join(json.dumps(line) + "\n" for line in lines))

    assert roadseg.batch(archive, out, **opts, quiet=True).ok == 3
    assert said(suffix=".mkv") == ["3 videos done before with --suffix .mp4 are done again"]
    assert (out / "a/x.mp4").is_file() and (out / "a/x.mkv").is_file()  # (the .mp4 left as it was: not replaced)
    as_of_an_earlier_version()
    assert said(suffix=".mov") == ["3 videos done before with --suffix .mkv are done again"]
    as_of_an_earlier_version()
    assert said(masks_only=True) == ["3 videos done before without --masks (no masks) are done again"]
    as_of_an_earlier_version()
    assert said(suffix=".mov") == ["3 videos done before with --masks-only (no video) are done again"]


@pytest.mark.parametrize(("field", "value", "said"), [
    ("start", -1.0, "start must be a number, 0 or more, not -1.0"),  # (was: an error line a video, each the same)
    ("alpha", 2.0, "alpha must be a number from 0 to 1, not 2.0"),
])  # fmt: skip
def test_a_number_no_run_takes_fails_the_batch_once_before_any_work(archive: Path, rule_onnx: Path, tmp_path: Path,
                                                                    field, value, said) -> None:  # fmt: skip
    with pytest.raises(BatchError, match=f"^{re.escape(said)}$"):
        roadseg.batch(archive, tmp_path / "out", model=str(rule_onnx), workers=1, quiet=True, **{field: value})
    assert not (tmp_path / "out" / RESULTS).exists()


@pytest.mark.parametrize(("given", "said"), [
    ({"show": True}, "--show is for a live run (a camera, a stream, --live); a batch reads video files: leave it out"),
    ({"segment": roadseg.SegmentOptions("", stream_timeout=10.0, live=True)},
     "--live and --stream-timeout are for a live run (a camera, a stream, --live); a batch reads video files: leave "
     "them out"),
])
def test_an_option_of_a_live_run_fails_the_batch_once_before_any_work(archive: Path, rule_onnx: Path, tmp_path: Path,
                                                                      given, said) -> None:  # fmt: skip
    """Was: an error line for every video, the same one ('--show and --serve are for live input ...')."""
    with pytest.raises(BatchError, match=f"^{re.escape(said)}$"):
        roadseg.batch(archive, tmp_path / "out", model=str(rule_onnx), workers=1, quiet=True, **given)
    assert not (tmp_path / "out" / RESULTS).exists()


def test_masks_only_refuses_the_options_that_shape_the_video_as_segment_does(archive: Path, rule_onnx: Path,
                                                                            tmp_path: Path) -> None:  # fmt: skip
    out = tmp_path / "out"
    with pytest.raises(BatchError, match=r"^--crf and --legend shape the output video, which --masks-only does not "
                       r"write: it writes the masks, encodes nothing and draws no overlay; leave them out, or leave out "
                       r"--masks-only$"):  # fmt: skip
        roadseg.batch(archive, out, model=str(rule_onnx), masks_only=True, crf=30, legend=True)
    with pytest.raises(BatchError, match=r"^--suffix .mkv names the output videos"):
        roadseg.batch(archive, out, model=str(rule_onnx), masks_only=True, suffix=".mkv")
    assert not out.exists()
    cmd = [sys.executable, "-m", "roadseg", "batch", str(archive), "-o", str(out), "--model", str(rule_onnx),
           "--masks-only"]  # fmt: skip
    for given, said in ((["--crf", "23"], "Error: --crf shapes the output video"),
                        (["--suffix", ".mp4"], "Error: --suffix .mp4 names the output videos")):  # fmt: skip
        run = subprocess.run([*cmd, *given], capture_output=True, text=True, timeout=120)
        assert run.returncode == 1 and run.stderr.startswith(said) and len(run.stderr.splitlines()) == 1, run.stderr
    assert not out.exists()


def test_masks_only_from_the_command_line_names_each_masks_folder(archive: Path, rule_onnx: Path,
                                                                 tmp_path: Path) -> None:  # fmt: skip
    (archive / "broken.mp4").unlink()
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "roadseg", "batch", str(archive), "-o", str(out), "--model", str(rule_onnx),
           "--masks-only", "--workers", "1"]  # fmt: skip
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "ok 3 · error 0 · skipped 0" in run.stderr, run.stderr
    assert "a/x.mp4: ok, 12 frames" in run.stderr and "z.mkv: ok, 7 frames" in run.stderr, run.stderr  # (its input)
    assert not list(out.rglob("*.mp4")) and len(list((out / "a/x.masks").glob("*.png"))) == 12
    helped = subprocess.run([sys.executable, "-m", "roadseg", "batch", "--help"], capture_output=True, text=True)
    assert "--masks-only" in helped.stdout and "labels/a/b.masks/" in helped.stdout


def test_masks_only_with_concat_writes_each_drives_masks_folder(rule_onnx: Path, tmp_path: Path) -> None:
    root = tmp_path / "drives"
    for rel, n in (("d1/a.mp4", 5), ("d1/b.mp4", 6), ("d2.x/a.mp4", 3)):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        write_video(root / rel, split_frames(n))
    out = tmp_path / "out"
    opts = {"model": str(rule_onnx), "workers": 1, "concat": True, "masks_only": True, "quiet": True}
    assert roadseg.batch(root, out, **opts).ok == 2
    assert sorted(p.name for p in out.iterdir()) == [".roadseg-batch", "d1.masks", "d2.x.masks", "results.jsonl"]
    assert [len(list((out / f"{d}.masks").glob("*.png"))) for d in ("d1", "d2.x")] == [11, 3]
    assert roadseg.batch(root, out, **opts).skipped == 2
    write_video(root / "d1/c.mp4", split_frames(2))  # a file more in one drive: that drive's masks again
    third = roadseg.batch(root, out, **opts)
    assert (third.ok, third.skipped) == (1, 1) and len(list((out / "d1.masks").glob("*.png"))) == 13
    assert not part_files(out)


def test_a_masks_only_video_whose_masks_fail_leaves_nothing_under_its_name(rule_onnx: Path, tmp_path: Path,
                                                                          monkeypatch) -> None:  # fmt: skip
    """With --masks-only the masks are the output: a mask that cannot be written fails the video, and the masks before
    it are removed with their temporary folder (a batch keeps only finished videos), not put in place as the masks of a
    video written to its end are."""
    from roadseg.batch.task import process_one
    from roadseg.pipeline.options import SegmentOptions
    _masks_disk_full_from_the_sixth(monkeypatch)
    src = write_video(tmp_path / "a.mp4", split_frames(12))
    (out := tmp_path / "out").mkdir()
    task = Task(str(src), str(out / "a.masks"), masks=True, masks_only=True, stats=True, worker="7")
    line = process_one(task, SegmentOptions(src, model=rule_onnx), node="here")
    assert (line["status"], line["frames"]) == ("error", 0), line
    assert line["error"].startswith(f"masks failed: cannot write mask {out / 'a.masks'}/000005.png: No space left"), line
    assert line["error"].endswith("its partial output of 5 frames was removed (a batch keeps only finished videos)"), line
    assert list(out.iterdir()) == []


def _masks_disk_full_from_the_sixth(monkeypatch) -> None:
    """Fault injection: the masks' disk is full from the 6th mask on (each a link to /dev/full); skips without it."""
    from roadseg.pipeline.sinks import MaskSink

    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    real = MaskSink.target

    def target(self, index):
        path = real(self, index)
        if index >= 5 and not path.is_symlink():
            path.symlink_to("/dev/full")
        return path

    monkeypatch.setattr(MaskSink, "target", target)
