"""An earlier run's masks and stats that a video done again no longer matches (roadseg.batch.outdated): what cannot
be removed, a removal cut short, and links, which batch never writes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import batch_results, split_frames, write_video

import roadseg
from roadseg.batch.done import there
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
    removed and the line written, naming what was."""
    out, opts = tmp_path / "out", {"model": str(rule_onnx), "workers": 1}
    assert roadseg.batch(clip, out, **opts, masks=True, stats=True, quiet=True).ok == 1
    unlink = Path.unlink

    def refused(self: Path, missing_ok: bool = False) -> None:
        if self.parent == out / "x.masks" and self.suffix == ".png":
            raise PermissionError(1, "Operation not permitted", str(self))
        unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", refused)
    capsys.readouterr()
    summary = roadseg.batch(clip, out, **opts, crf=30, force=True)
    err = capsys.readouterr().err
    assert (summary.ok, summary.removed) == (1, 1), err
    assert f"{out / 'x.masks'}: an earlier run's output that no longer tells of its video, not removed: Operation " \
           "not permitted" in err, err
    line = batch_results(out)[-1]
    assert line["options"]["crf"] == 30 and line["removed"] == [str(out / "x.stats.json")], line
    assert not (out / "x.stats.json").exists()


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
