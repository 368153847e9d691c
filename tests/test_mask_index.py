"""--masks-dir's index, masks.csv: which frame each mask is (its time; an image input's name)."""

import csv
import errno
import os
import signal
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import cv2
import pytest
from conftest import split_frames, write_video

from roadseg.pipeline import segment_video
from roadseg.pipeline.sinks import MaskSink
from roadseg.pipeline.sinks.maskindex import INDEX_NAME
from roadseg.pipeline.sources.base import Frame


def rows(folder: Path) -> list[dict[str, str]]:
    with open(folder / INDEX_NAME, newline="") as f:
        return list(csv.DictReader(f))


def test_a_video_s_masks_are_indexed_with_their_frame_times_where_frames_are_missing(rule_onnx, tmp_path):
    """A robot's camera that dropped frames: the masks were numbered 000000 ... without a gap, and nothing said
    which were missing or when any mask's frame was; masks.csv now gives each mask its time."""
    pts = [*range(0, 10), *range(14, 20)]  # (4 frames missing after the 10th, as a camera that dropped them)
    src = write_video(tmp_path / "cam.mp4", split_frames(16), pts=pts, time_base=Fraction(1, 25))
    masks = tmp_path / "masks"
    segment_video(src, tmp_path / "o.mp4", model=rule_onnx, masks_dir=str(masks), quiet=True)
    index = rows(masks)
    assert [r["mask"] for r in index] == sorted(p.name for p in masks.glob("*.png"))
    assert [round(float(r["time"]) * 25) for r in index] == pts
    assert list(index[0]) == ["mask", "time"]


def test_a_cut_s_masks_are_timed_from_its_start(rule_onnx, split_video, tmp_path):
    masks = tmp_path / "masks"
    segment_video(split_video, tmp_path / "o.mp4", model=rule_onnx, masks_dir=str(masks), quiet=True,
                  start=0.2, duration=0.2)  # fmt: skip
    assert [(r["mask"], float(r["time"])) for r in rows(masks)] == [(f"{i:06d}.png", i * 0.04) for i in range(5)]


def test_an_image_input_s_masks_are_indexed_with_their_images(rule_onnx, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    for name, picture in zip(["b, 2.jpg", "a.png"], split_frames(2)):
        cv2.imwrite(str(frames / name), picture)
    masks = tmp_path / "masks"
    segment_video(frames, tmp_path / "out", model=rule_onnx, masks_dir=str(masks), quiet=True)
    assert [(r["mask"], r["image"]) for r in rows(masks)] == [("a.png", "a.png"), ("b, 2.png", "b, 2.jpg")]


def test_a_rerun_with_y_indexes_only_its_own_masks(rule_onnx, split_video, tmp_path):
    masks = tmp_path / "masks"
    segment_video(split_video, tmp_path / "a.mp4", model=rule_onnx, masks_dir=str(masks), quiet=True)
    segment_video(split_video, tmp_path / "b.mp4", model=rule_onnx, masks_dir=str(masks), quiet=True, max_frames=3,
                  overwrite=True)  # fmt: skip
    assert [r["mask"] for r in rows(masks)] == ["000000.png", "000001.png", "000002.png"]


def test_a_live_run_s_masks_have_the_recording_s_time_and_unix_time(tmp_path):
    sink = MaskSink(tmp_path / "masks", live=True)
    for i, at in enumerate([100.0, 100.04, 100.2]):
        sink.write(None, Frame(i, split_frames(1)[0], None, None, captured=at, clock=at, labels=split_frames(1)[0][..., 0]))
    sink.close()
    index = rows(tmp_path / "masks")
    assert [round(float(r["time"]), 6) for r in index] == [0.0, 0.04, 0.2]
    unix = [float(r["unix_time"]) for r in index]
    assert unix[0] > 1.7e9 and [t - unix[0] for t in unix] == pytest.approx([0.0, 0.04, 0.2], abs=2e-6)  # (microseconds)


def test_an_index_line_that_cannot_be_written_stops_the_masks_and_leaves_no_mask_without_a_line(tmp_path,
                                                                                                 monkeypatch):  # fmt: skip
    sink = MaskSink(tmp_path / "masks")
    labels = split_frames(1)[0][..., 0]
    sink.write(None, Frame(0, split_frames(1)[0], 0, Fraction(1, 25), labels=labels))

    def full(self, *fields):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("roadseg.pipeline.sinks.maskindex.MaskIndex._row", full)
    sink.write(None, Frame(1, split_frames(1)[0], 1, Fraction(1, 25), labels=labels))
    sink.close()
    assert "No space left" in sink.failed and sink.written == 1
    assert sorted(p.name for p in (tmp_path / "masks").iterdir()) == ["000000.png", INDEX_NAME]
    assert [r["mask"] for r in rows(tmp_path / "masks")] == ["000000.png"]


def test_a_mask_that_cannot_be_put_in_place_after_its_line_takes_its_line_back(tmp_path, monkeypatch):
    # the line is flushed before the mask is renamed into place (a kill between leaves no mask without a line); a
    # rename refused after it (a folder made read-only midway) cuts the index back to before the line
    replace = os.replace

    def refused(src, dst):
        if Path(dst).name == "000001.png":
            raise OSError(errno.EACCES, "Permission denied")
        replace(src, dst)

    monkeypatch.setattr("roadseg.pipeline.sinks.picture.os.replace", refused)
    sink, labels = MaskSink(tmp_path / "masks"), split_frames(1)[0][..., 0]
    for i in range(3):
        sink.write(None, Frame(i, split_frames(1)[0], i, Fraction(1, 25), labels=labels))
    sink.close()
    assert "Permission denied" in sink.failed and sink.written == 1
    assert sorted(os.listdir(tmp_path / "masks")) == ["000000.png", INDEX_NAME]  # (no part left)
    assert (tmp_path / "masks" / INDEX_NAME).read_text() == "mask,time\n000000.png,0.000000\n"


@pytest.mark.parametrize("refused", ["add", "_row"])
def test_a_first_mask_whose_line_or_index_header_cannot_be_written_leaves_no_index_nor_folder(tmp_path, monkeypatch,
                                                                                               refused):  # fmt: skip
    # add: the index opened (its header written) for the first mask, whose line then failed: the mask is removed, and
    # so are the index of no mask and the folder made for them (a masks.csv of a header alone was left, and its
    # folder); _row: the disk full as the index opens (its header not written): was, an empty masks.csv left, and
    # the folder made for the masks, which a rerun then needed -y for ("holds an earlier run's masks.csv, which names
    # no mask there")
    def full(self, *fields):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(f"roadseg.pipeline.sinks.maskindex.MaskIndex.{refused}", full)
    sink = MaskSink(tmp_path / "masks")
    labels = split_frames(1)[0][..., 0]
    sink.write(None, Frame(0, split_frames(1)[0], 0, Fraction(1, 25), labels=labels))
    sink.close()
    assert "No space left" in sink.failed and sink.written == 0
    assert not (tmp_path / "masks").exists()


def test_an_index_whose_kept_lines_the_disk_refuses_midway_keeps_those_written(tmp_path, monkeypatch):
    # an image run's -y: the earlier run's lines it keeps are written first; where the disk refuses one, those before
    # it stay (only an index whose header it refused is removed)
    from roadseg.pipeline.sinks.maskindex import MaskIndex

    real, calls = MaskIndex._row, []

    def third_full(self, *fields):
        calls.append(fields)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(self, *fields)

    monkeypatch.setattr(MaskIndex, "_row", third_full)
    with pytest.raises(OSError, match="No space left"):
        MaskIndex(tmp_path, "images", ["c.jpg"], kept=[["a.png", "a.jpg"], ["b.png", "b.jpg"]])
    assert (tmp_path / INDEX_NAME).read_text() == "mask,image\na.png,a.jpg\n"


#: Masks written by a MaskSink into ``argv[1]`` until its index is longer than any mask, then, the files' size limited
#: (RLIMIT_FSIZE: a write past it is cut short, and the next refused, EFBIG, as a full disk's are, ENOSPC) to 7 bytes
#: past the index's end, one more: its mask fits, its line does not. Prints the masks written and the failure.
_LINE_CUT_SHORT = """
import os, resource, signal, sys
from fractions import Fraction
from pathlib import Path
import numpy as np
from roadseg.pipeline.sinks import MaskSink
from roadseg.pipeline.sources.base import Frame
folder = Path(sys.argv[1])
labels = np.zeros((48, 64), np.uint8)
labels[:, :32] = 3
frame = lambda i: Frame(i, np.zeros((48, 64, 3), np.uint8), i, Fraction(1, 25), labels=labels)
sink = MaskSink(folder)
while sink.written < 2 or (folder / "masks.csv").stat().st_size <= max(p.stat().st_size for p in folder.glob("*.png")):
    sink.write(None, frame(sink.written))
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
resource.setrlimit(resource.RLIMIT_FSIZE, ((folder / "masks.csv").stat().st_size + 7, hard))
sink.write(None, frame(sink.written))
sink.close()
resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
print(sink.written, sink.failed)
"""


def test_a_line_the_disk_takes_only_part_of_is_cut_back_and_the_index_stays_whole(tmp_path):
    # was: the line's first 7 bytes left at the index's end ('000011.'), a line no reader could take, and a rerun's
    # -y read the index as 'not an index of masks'
    pytest.importorskip("resource")
    masks = tmp_path / "masks"
    proc = subprocess.run([sys.executable, "-c", _LINE_CUT_SHORT, str(masks)], capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    written, failed = proc.stdout.split(" ", 1)
    there = sorted(p.name for p in masks.glob("*.png"))
    assert failed.startswith(f"cannot write mask {masks / f'{int(written):06d}.png'}: File too large"), failed
    assert (masks / INDEX_NAME).read_text().endswith("\n") and [r["mask"] for r in rows(masks)] == there
    assert there == [f"{i:06d}.png" for i in range(int(written))] and not [p for p in os.listdir(masks) if p[0] == "."]


def test_a_run_that_wrote_no_mask_leaves_no_index(tmp_path):
    folder = tmp_path / "masks"
    folder.mkdir()
    MaskSink(folder).close()
    assert not (folder / INDEX_NAME).exists()


@pytest.mark.parametrize("name", ["a.png", "frame, 1.png"])
def test_csv_fields_round_trip(name, tmp_path):
    from roadseg.pipeline.sinks.maskindex import MaskIndex

    index = MaskIndex(tmp_path, "images", [name])
    index.add("m.png", Frame(0, None, None, None))
    index.close()
    assert rows(tmp_path) == [{"mask": "m.png", "image": name}]


# An earlier run's masks.csv in the folder: -y needed whatever the run; an image run's -y keeps the lines of the masks
# still there that it does not write; any other index is replaced, said in one warning line.


def _images(folder: Path, names: list[str]) -> Path:
    folder.mkdir(exist_ok=True)
    for name, picture in zip(names, split_frames(len(names))):
        cv2.imwrite(str(folder / name), picture)
    return folder


def _masks_alone(src: Path, masks: Path, onnx: Path, *extra: str):
    from click.testing import CliRunner

    from roadseg.cli import segment_video_cmd

    return CliRunner().invoke(segment_video_cmd, [str(src), "--masks-dir", str(masks), "--model", str(onnx), "-q",
                                                  *extra])  # fmt: skip


def test_an_image_rerun_with_y_keeps_the_lines_of_the_earlier_masks_it_does_not_write(rule_onnx, tmp_path):
    # was: masks.csv listed a.png alone, b.png (the first run's) left in the folder without a line
    masks = tmp_path / "masks"
    _masks_alone(_images(tmp_path / "one", ["a.png", "b.png"]), masks, rule_onnx)
    r = _masks_alone(_images(tmp_path / "two", ["a.png", "c.jpg"]), masks, rule_onnx, "-y")
    assert r.exit_code == 0, r.output
    assert [(r["mask"], r["image"]) for r in rows(masks)] == [("a.png", "a.png"), ("b.png", "b.png"), ("c.png", "c.jpg")]


def test_an_image_rerun_with_y_of_a_name_made_of_another_image_gives_its_mask_its_own_line(rule_onnx, tmp_path):
    masks = tmp_path / "masks"
    _masks_alone(_images(tmp_path / "one", ["a.jpg", "b.png"]), masks, rule_onnx)
    r = _masks_alone(_images(tmp_path / "two", ["a.png", "b.png"]), masks, rule_onnx, "-y")
    assert r.exit_code == 0, r.output
    assert [(r["mask"], r["image"]) for r in rows(masks)] == [("b.png", "b.png"), ("a.png", "a.png")]


def test_an_image_rerun_with_y_drops_the_lines_of_masks_no_longer_there(rule_onnx, tmp_path):
    masks = tmp_path / "masks"
    _masks_alone(_images(tmp_path / "one", ["a.png", "b.png"]), masks, rule_onnx)
    (masks / "b.png").unlink()
    _masks_alone(_images(tmp_path / "two", ["c.png"]), masks, rule_onnx, "-y")
    assert [r["mask"] for r in rows(masks)] == ["a.png", "c.png"]


def test_an_image_rerun_with_y_keeps_the_line_of_an_earlier_mask_of_its_own_name_it_could_not_write(rule_onnx,
                                                                                                   tmp_path):  # fmt: skip
    masks = tmp_path / "masks"
    _masks_alone(_images(tmp_path / "one", ["a.png", "b.png"]), masks, rule_onnx)
    two = _images(tmp_path / "two", ["a.png", "b.png"])
    (two / "b.png").write_bytes(b"not a picture")  # (unread: the first run's b.png stays, and so does its line)
    r = _masks_alone(two, masks, rule_onnx, "-y")
    assert r.exit_code == 0 and "1 of 2 images could not be read" in r.output, r.output
    assert [(r["mask"], r["image"]) for r in rows(masks)] == [("a.png", "a.png"), ("b.png", "b.png")]


@pytest.mark.parametrize("video", [False, True])
def test_a_folder_of_an_earlier_image_run_s_index_needs_y_whatever_the_run(rule_onnx, split_video, tmp_path, video):
    # was: a video run (or an image run of other names) replaced its masks.csv without a word, those masks unlisted
    masks = tmp_path / "masks"
    _masks_alone(_images(tmp_path / "one", ["a.png", "b.png"]), masks, rule_onnx)
    before = (masks / INDEX_NAME).read_text()
    r = _masks_alone(split_video if video else _images(tmp_path / "two", ["c.png"]), masks, rule_onnx)
    assert r.exit_code == 1 and r.output == (f"Error: masks folder {masks} holds 2 masks of an earlier run ({INDEX_NAME}); "
                                             "pass -y/--overwrite to replace them, or give another folder\n"), r.output  # fmt: skip
    assert (masks / INDEX_NAME).read_text() == before and sorted(p.name for p in masks.glob("*.png")) == ["a.png", "b.png"]


def test_a_video_rerun_with_y_over_an_image_run_s_masks_leaves_them_and_says_its_index_is_replaced(rule_onnx,
                                                                                                  split_video,
                                                                                                  tmp_path):  # fmt: skip
    # the image masks are not numbered, so -y (which removes a video run's numbered masks) leaves them; their index,
    # of other columns than a video's, cannot be kept: it is replaced, and the run says so in one line
    masks = tmp_path / "masks"
    _masks_alone(_images(tmp_path / "one", ["a.png", "b.png"]), masks, rule_onnx)
    r = _masks_alone(split_video, masks, rule_onnx, "-y", "--max-frames", "2")
    assert r.exit_code == 0 and r.output.splitlines()[0] == (f"roadseg: masks folder {masks}: the {INDEX_NAME} of an earlier run of "
                                             "images is replaced by this run's; the 2 masks it named stay, without a "
                                             "line"), r.output  # fmt: skip
    assert sorted(p.name for p in masks.glob("*.png")) == ["000000.png", "000001.png", "a.png", "b.png"]
    assert [list(r.items()) for r in rows(masks)][0][:1] == [("mask", "000000.png")] and len(rows(masks)) == 2


def test_an_image_rerun_with_y_over_a_video_run_s_masks_replaces_them_and_says_so(rule_onnx, split_video, tmp_path):
    # was: the video's numbered masks stayed, unlisted, beside the image masks
    masks = tmp_path / "masks"
    _masks_alone(split_video, masks, rule_onnx, "--max-frames", "3")
    r = _masks_alone(_images(tmp_path / "two", ["c.png"]), masks, rule_onnx, "-y")
    assert r.exit_code == 0 and r.output.splitlines()[0] == (f"roadseg: masks folder {masks}: its {INDEX_NAME} is a video run's "
                                             "(mask,time): replaced by this run's, and the 3 numbered masks beside it "
                                             "removed"), r.output  # fmt: skip
    assert sorted(p.name for p in masks.iterdir()) == ["c.png", INDEX_NAME]
    assert rows(masks) == [{"mask": "c.png", "image": "c.png"}]


@pytest.mark.parametrize("index", [b"mask,image\na.png\n", b"\xff\xfe", b"", b"name,when\nx.png,1\n"])
def test_an_index_that_cannot_be_read_is_replaced_with_y_and_said(rule_onnx, tmp_path, index):
    masks = tmp_path / "masks"
    _masks_alone(_images(tmp_path / "one", ["a.png"]), masks, rule_onnx)
    (masks / INDEX_NAME).write_bytes(index)
    assert _masks_alone(_images(tmp_path / "two", ["c.png"]), masks, rule_onnx).exit_code == 1  # (without -y)
    r = _masks_alone(tmp_path / "two", masks, rule_onnx, "-y")
    assert r.exit_code == 0 and r.output.splitlines()[0] == (f"roadseg: masks folder {masks}: its {INDEX_NAME} is not an index of masks: "
                                             "replaced by this run's"), r.output  # fmt: skip
    assert rows(masks) == [{"mask": "c.png", "image": "c.png"}] and (masks / "a.png").exists()


def test_an_image_run_refused_after_it_opened_leaves_a_video_run_s_masks_and_says_nothing(rule_onnx, split_video,
                                                                                          tmp_path):  # fmt: skip
    # -y's removal and its line wait for the first mask: a run refused before any work leaves the folder as it was
    masks = tmp_path / "masks"
    _masks_alone(split_video, masks, rule_onnx, "--max-frames", "2")
    r = _masks_alone(_images(tmp_path / "two", ["c.png"]), masks, rule_onnx, "-y", "-o", str(masks))
    assert r.exit_code == 1 and r.output.startswith(f"Error: mask {masks / 'c.png'} would replace the output image"), r.output
    assert sorted(p.name for p in masks.iterdir()) == ["000000.png", "000001.png", INDEX_NAME] and len(rows(masks)) == 2


def test_an_image_run_into_a_video_run_s_numbered_masks_without_an_index_needs_y_which_removes_them(rule_onnx,
                                                                                                    split_video,
                                                                                                    tmp_path):  # fmt: skip
    # as a video run does there: refused without -y, the numbered masks removed with it (was: neither, an image run's
    # masks and index written among a video's numbered masks that no line names)
    masks = tmp_path / "masks"
    _masks_alone(split_video, masks, rule_onnx, "--max-frames", "3")
    (masks / INDEX_NAME).unlink()
    two = _images(tmp_path / "two", ["c.png"])
    r = _masks_alone(two, masks, rule_onnx)
    assert r.exit_code == 1 and r.output == (f"Error: masks folder {masks} holds 3 masks of an earlier run (000000.png ...); "
                                             "pass -y/--overwrite to replace them, or give another folder\n"), r.output  # fmt: skip
    assert sorted(p.name for p in masks.iterdir()) == ["000000.png", "000001.png", "000002.png"]
    r = _masks_alone(two, masks, rule_onnx, "-y")
    assert r.exit_code == 0 and r.output.splitlines()[0] == (f"roadseg: masks folder {masks}: the 3 numbered masks of an "
                                             f"earlier run of video there, without a {INDEX_NAME}, are removed"), r.output  # fmt: skip
    assert sorted(p.name for p in masks.iterdir()) == ["c.png", INDEX_NAME]
    assert rows(masks) == [{"mask": "c.png", "image": "c.png"}]


# A run killed (kill -9, a power cut) as it puts a mask in place: each mask's line is flushed before the mask, whole
# under a hidden name, is renamed onto its own, so the index names every mask there is, and at most its last line
# names one that is not (the kill came between the two), whose hidden part the next run removes.

#: A masks-only run that SIGKILLs itself at a point: ``renamed``, just after the mask named ``argv[2]`` is put in place
#: (was: a mask there without its line); ``lined``, just after that mask's line is flushed. Fault injection from outside
#: the library: os.replace and MaskIndex.add wrapped in the subprocess alone.
_KILLED_AT = """
import os, signal, sys
from roadseg.cli import segment_video_cmd
from roadseg.pipeline.sinks import maskindex
point, name = sys.argv[1:3]
def at(what):
    if what == name:
        os.kill(os.getpid(), signal.SIGKILL)
replace, add = os.replace, maskindex.MaskIndex.add
def replaced(src, dst, *a, **k):
    replace(src, dst, *a, **k)
    if point == "renamed":
        at(os.path.basename(dst))
def added(self, mask, frame):
    add(self, mask, frame)
    if point == "lined":
        at(mask)
os.replace, maskindex.MaskIndex.add = replaced, added
segment_video_cmd.main(sys.argv[3:], prog_name="segment-video")
"""


@pytest.mark.parametrize("point", ["renamed", "lined"])
def test_a_run_killed_as_it_puts_a_mask_in_place_leaves_no_mask_without_its_line(rule_onnx, split_video, tmp_path,
                                                                                  point):  # fmt: skip
    masks = tmp_path / "masks"
    args = [str(split_video), "--masks-dir", str(masks), "--model", str(rule_onnx), "-q"]
    proc = subprocess.run([sys.executable, "-c", _KILLED_AT, point, "000002.png", *args], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    there = sorted(p.name for p in masks.glob("*.png"))
    named = [r["mask"] for r in rows(masks)]
    assert set(there) <= set(named), (there, named)  # (was, killed once renamed: 000002.png without its line)
    assert named == ["000000.png", "000001.png", "000002.png"]
    assert there == named[:2 if point == "lined" else 3]  # (lined: the last line's mask not there, its part hidden)
    parts = [p.name for p in masks.iterdir() if p.name.startswith(".")]
    assert [p.split("-")[0] for p in parts] == ([".000002.png.part"] if point == "lined" else []), parts
    r = subprocess.run([sys.executable, "-m", "roadseg", "segment", *args, "-y", "--max-frames", "4"],
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr  # (the next run removes what the killed one left)
    assert sorted(os.listdir(masks)) == [*(f"{i:06d}.png" for i in range(4)), INDEX_NAME]
    assert [r["mask"] for r in rows(masks)] == [f"{i:06d}.png" for i in range(4)]



def test_a_run_killed_before_its_first_mask_was_in_place_leaves_an_index_a_rerun_needs_y_for_naming_none(rule_onnx,
                                                                                                         split_video,
                                                                                                         tmp_path):  # fmt: skip
    masks = tmp_path / "masks"
    args = [str(split_video), "--masks-dir", str(masks), "--model", str(rule_onnx), "-q"]
    proc = subprocess.run([sys.executable, "-c", _KILLED_AT, "lined", "000000.png", *args], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == -signal.SIGKILL and [r["mask"] for r in rows(masks)] == ["000000.png"], proc.stderr
    r = _masks_alone(split_video, masks, rule_onnx)
    assert r.exit_code == 1 and r.output == (f"Error: masks folder {masks} holds an earlier run's {INDEX_NAME}, which "
                                             "names no mask there; pass -y/--overwrite to replace it, or give another "
                                             "folder\n"), r.output  # (was: "holds 0 masks of an earlier run")
    assert _masks_alone(split_video, masks, rule_onnx, "-y").exit_code == 0 and len(rows(masks)) == 12


def test_an_image_rerun_with_y_killed_midway_leaves_every_earlier_mask_named_once(rule_onnx, tmp_path):
    # was: the lines of the earlier masks of its own names, not yet replaced, written at close: b.png and c.png unlisted
    masks = tmp_path / "masks"
    _masks_alone(_images(tmp_path / "one", ["a.png", "b.png", "c.png"]), masks, rule_onnx)
    args = [str(_images(tmp_path / "two", ["a.png", "b.png", "c.png"])), "--masks-dir", str(masks), "--model",
            str(rule_onnx), "-q", "-y"]  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", _KILLED_AT, "renamed", "a.png", *args], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert [(r["mask"], r["image"]) for r in rows(masks)] == [(n, n) for n in ("a.png", "b.png", "c.png")]
