"""An earlier run's masks and stats that a video done again no longer matches (roadseg.batch.outdated): what cannot
be removed, a removal cut short, and links, which batch never writes."""

from __future__ import annotations

import os
import shutil
from importlib import import_module
from pathlib import Path

import pytest
from conftest import batch_results, rule_model, split_frames, write_video

import roadseg
from roadseg.batch import BatchError
from roadseg.batch.done import there
from roadseg.batch.errors import BatchInterrupted
from roadseg.batch.outdated import remove_outdated


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """IN/x.mp4 (6 frames)."""
    (tmp_path / "in").mkdir()
    write_video(tmp_path / "in" / "x.mp4", split_frames(6))
    return tmp_path / "in"


def _masks(folder: Path, n: int = 3) -> Path:
    folder.mkdir(parents=True)
    (folder / "masks.csv").write_text("mask,time\n" + "".join(f"{i:06d}.png,{i / 25}\n" for i in range(n)))
    for i in range(n):
        (folder / f"{i:06d}.png").write_bytes(b"")
    return folder


def test_a_removal_cut_short_leaves_no_folder_taken_for_whole_masks(tmp_path: Path, monkeypatch) -> None:
    """Ctrl-C as the masks are removed: masks.csv went last, so a later --masks run took the folder, its masks half
    gone, for done (done.there reads it by its index). Now the index goes first."""
    masks, unlink, calls = _masks(tmp_path / "x.masks"), Path.unlink, []

    def cut(self: Path, missing_ok: bool = False) -> None:
        calls.append(self.name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", cut)
    with pytest.raises(KeyboardInterrupt):
        remove_outdated([str(masks)])
    monkeypatch.undo()
    assert not there(masks, "masks"), sorted(p.name for p in masks.iterdir())


def test_outputs_that_cannot_be_removed_are_said_and_the_batch_goes_on(clip: Path, rule_onnx: Path, tmp_path: Path,
                                                                       monkeypatch, capsys) -> None:  # fmt: skip
    """A mask that cannot be removed (a read-only folder, an immutable file): was a PermissionError traceback out of
    roadseg.batch, the new video written but its line not, the stats of before left. Now said in a line; the rest is
    removed; the line, written first, names both, and the next run removes what is left (no longer its index)."""
    out, opts = tmp_path / "out", {"model": str(rule_onnx), "workers": 1}
    assert roadseg.batch(clip, out, **opts, masks=True, stats=True, quiet=True).ok == 1
    unlink = Path.unlink

    def refused(self: Path, missing_ok: bool = False) -> None:
        if self.parent == out / "x.masks" and self.suffix == ".png":
            raise PermissionError(1, "Operation not permitted", str(self))
        unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", refused)
    capsys.readouterr()
    other = str(rule_model(tmp_path / "other.onnx", input_size=(48, 64)))  # (the masks of another model: outdated)
    summary = roadseg.batch(clip, out, **{**opts, "model": other}, crf=30)
    err = capsys.readouterr().err
    assert (summary.ok, summary.removed) == (1, 1), err
    assert f"{out / 'x.masks'}: an earlier run's output that no longer tells of its video, not removed: Operation " \
           "not permitted (its line lists it; the next run tries again)" in err, err
    line = batch_results(out)[-1]
    assert line["options"]["crf"] == 30 and line["removed"] == [str(out / "x.masks"), str(out / "x.stats.json")], line
    assert not (out / "x.stats.json").exists() and len(list((out / "x.masks").glob("*.png"))) == 6
    monkeypatch.undo()
    summary = roadseg.batch(clip, out, **{**opts, "model": other}, crf=30, force=True)
    assert (summary.ok, summary.removed) == (1, 1) and not (out / "x.masks").exists()


def test_links_in_out_are_the_users_and_left_be(clip: Path, rule_onnx: Path, tmp_path: Path, capsys) -> None:
    """batch writes no link: a masks folder or stats file that is one (the user's masks moved away and linked back)
    is not said removed (was: said, then left, or the link removed), nor touched."""
    out, opts = tmp_path / "out", {"model": str(rule_onnx), "workers": 1}
    assert roadseg.batch(clip, out, **opts, masks=True, stats=True, quiet=True).ok == 1
    kept = tmp_path / "kept"
    kept.mkdir()
    for name in ("x.masks", "x.stats.json"):
        shutil.move(out / name, kept / name)
        (out / name).symlink_to(kept / name)
    capsys.readouterr()
    summary = roadseg.batch(clip, out, **opts, crf=30, force=True)
    err = capsys.readouterr().err
    assert (summary.ok, summary.removed) == (1, 0) and "earlier run" not in err, err
    assert (out / "x.masks").is_symlink() and (out / "x.stats.json").is_symlink()
    assert there(kept / "x.masks", "masks") and (kept / "x.stats.json").is_file()


@pytest.fixture
def cams(tmp_path: Path) -> Path:
    """cam1/a.mp4 (6 frames) and cam2/a.mp4 (9): two inputs whose outputs share names in one OUT."""
    for cam, n in (("cam1", 6), ("cam2", 9)):
        (tmp_path / cam).mkdir()
        write_video(tmp_path / cam / "a.mp4", split_frames(n))
    return tmp_path


def test_masks_of_another_input_are_neither_written_over_nor_removed(cams: Path, rule_onnx: Path, monkeypatch) -> None:
    """cam2/ --masks-only into cam1/ --masks's OUT wrote over cam1's a.masks (check_owners looked at the video's path
    alone), and cam1/ --force then removed cam2's masks as its own. Now the first is refused, and where an OUT holds
    it already (written before), the masks' last writer, another input, keeps them."""
    out, opts = cams / "out", {"model": str(rule_onnx), "workers": 1, "quiet": True}
    assert roadseg.batch(cams / "cam1", out, **opts, masks=True).ok == 1
    with pytest.raises(BatchError, match=f"cam2/a.mp4's masks would be written to {out / 'a.masks'}, which "
                                                 f"holds the masks of {cams / 'cam1/a.mp4'} from an earlier run"):
        roadseg.batch(cams / "cam2", out, **opts, masks_only=True)
    monkeypatch.setattr(import_module("roadseg.batch.api"), "check_owners", lambda *_: None)  # (as a run before this check did)
    assert roadseg.batch(cams / "cam2", out, **opts, masks_only=True).ok == 1
    monkeypatch.undo()
    other = str(rule_model(cams / "other.onnx", input_size=(48, 64)))  # (cam1's own masks would be outdated)
    summary = roadseg.batch(cams / "cam1", out, **{**opts, "model": other}, force=True)
    assert (summary.ok, summary.removed) == (1, 0) and len((out / "a.masks/masks.csv").read_text().splitlines()) == 10


def test_force_keeps_masks_that_still_match_and_a_masks_only_runs_masks(clip: Path, rule_onnx: Path,
                                                                        tmp_path: Path) -> None:  # fmt: skip
    """--force alone (same model, options and input) removed the masks a --masks run wrote, which still matched the
    new video. Now they stay; so do a --masks-only run's masks though the input changed (a product of their own)."""
    out, opts = tmp_path / "out", {"model": str(rule_onnx), "workers": 1, "quiet": True}
    assert roadseg.batch(clip, out, **opts, masks=True).ok == 1
    summary = roadseg.batch(clip, out, **opts, force=True)
    assert (summary.ok, summary.removed) == (1, 0) and there(out / "x.masks", "masks")
    shutil.rmtree(out)
    assert roadseg.batch(clip, out, **opts, masks_only=True).ok == 1
    write_video(clip / "x.mp4", split_frames(5))  # (its input changed)
    summary = roadseg.batch(clip, out, **opts, force=True)
    assert (summary.ok, summary.removed) == (1, 0) and there(out / "x.masks", "masks")


def test_a_stop_as_the_outdated_go_leaves_the_line_and_the_next_run_removes_them(clip: Path, rule_onnx: Path,
                                                                                 tmp_path: Path) -> None:  # fmt: skip
    """Ctrl-C between removing the masks and stats of before and writing the line left a finished video with no line
    (removed first). Now the line, naming them, is written first, and the next run that does the video again removes
    them (as they were: not written since by another hand)."""
    out, opts = tmp_path / "out", {"model": str(rule_onnx), "workers": 1, "quiet": True}
    other = {**opts, "model": str(rule_model(tmp_path / "other.onnx", input_size=(48, 64)))}  # (its masks: outdated)
    assert roadseg.batch(clip, out, **opts, masks=True, stats=True).ok == 1
    for path in out.rglob("*"):
        os.utime(path, (1e9, 1e9))  # (written well before the line that removes them)
    cut = pytest.MonkeyPatch()
    cut.setattr(import_module("roadseg.batch.launch"), "remove_outdated", _stopped)
    with pytest.raises(BatchInterrupted):
        roadseg.batch(clip, out, **other, crf=30)
    cut.undo()
    line = batch_results(out)[-1]
    assert (line["status"], line["options"]["crf"]) == ("ok", 30), line
    assert line["removed"] == [str(out / "x.masks"), str(out / "x.stats.json")], line
    assert there(out / "x.masks", "masks") and (out / "x.stats.json").is_file()
    summary = roadseg.batch(clip, out, **other, crf=31)  # (the removal cut short: still batch's, removed now)
    assert (summary.ok, summary.removed) == (1, 2) and not (out / "x.masks").exists()


def test_masks_a_stop_left_without_their_index_go_with_the_next_run(clip: Path, rule_onnx: Path, tmp_path: Path,
                                                                    monkeypatch) -> None:  # fmt: skip
    """A Ctrl-C as outdated masks are removed leaves their numbered masks, no index: no run's masks (done.there), so
    none took them for outdated, and they stayed. Now the next run that does the video again removes them: the masks
    batch names (000000.png ...) alone, the user's note kept."""
    out, opts = tmp_path / "out", {"model": str(rule_onnx), "workers": 1, "quiet": True}
    other = {**opts, "model": str(rule_model(tmp_path / "other.onnx", input_size=(48, 64)))}  # (its masks: outdated)
    assert roadseg.batch(clip, out, **opts, masks=True).ok == 1
    (out / "x.masks/mine.txt").write_text("a user's note")
    unlink = Path.unlink

    def stop(self: Path, missing_ok: bool = False) -> None:
        if self.parent == out / "x.masks" and self.suffix == ".png":  # (its index gone, its masks not)
            raise KeyboardInterrupt
        unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", stop)
    with pytest.raises(BatchInterrupted):
        roadseg.batch(clip, out, **other, crf=32)
    monkeypatch.undo()
    assert not there(out / "x.masks", "masks") and len(list((out / "x.masks").glob("*.png"))) == 6
    summary = roadseg.batch(clip, out, **other, force=True)
    assert summary.removed == 1 and sorted(p.name for p in (out / "x.masks").iterdir()) == ["mine.txt"]


def _stopped(paths: list[str]) -> list[str]:
    """Ctrl-C as the outputs of before are removed."""
    raise KeyboardInterrupt
