"""--masks-dir's index, masks.csv: which frame each mask is (its time; an image input's name)."""

import csv
import errno
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


def test_a_first_mask_whose_line_cannot_be_written_leaves_no_index_nor_folder(tmp_path, monkeypatch):
    # the index opened (its header written) for the first mask, whose line then failed: the mask is removed, and so
    # are the index of no mask and the folder made for them (a masks.csv of a header alone was left, and its folder)
    def full(self, mask, frame):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("roadseg.pipeline.sinks.maskindex.MaskIndex.add", full)
    sink = MaskSink(tmp_path / "masks")
    labels = split_frames(1)[0][..., 0]
    sink.write(None, Frame(0, split_frames(1)[0], 0, Fraction(1, 25), labels=labels))
    sink.close()
    assert "No space left" in sink.failed and sink.written == 0
    assert not (tmp_path / "masks").exists()


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
