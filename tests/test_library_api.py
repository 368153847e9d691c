"""The library as a caller from their own code meets it: README's Python API, ``roadseg.__all__`` and the frame-level
``Segmenter``. What a caller gets wrong (an array that is no RGB picture, a size or device that cannot be) is one
line, a :class:`~roadseg.errors.RoadsegError` (and a ValueError, as Python's own would be), not an OpenCV assertion
or a message about an array the caller never made."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import split_frames, write_video

import roadseg
from roadseg.errors import ArgumentError
from roadseg.pipeline.model_files import check_model_file, models_dir


@pytest.fixture
def seg(rule_onnx):
    return roadseg.Segmenter(rule_onnx, providers="cpu")


@pytest.mark.parametrize(("frame", "said"), [
    (np.zeros((64, 64), np.uint8), "got a grayscale one [64,64]: cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)"),
    (np.zeros((64, 64, 1), np.uint8), "got a grayscale one [64,64,1]: cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)"),
    (np.zeros((64, 64, 4), np.uint8), "got one of 4 channels [64,64,4] (RGBA?): frame[..., :3]"),
    (np.zeros((64, 64, 3), np.uint16), "got uint16 [64,64,3]: convert it to 8 bits a channel"),
    (np.zeros((64, 64, 3), np.float32), "got float32 [64,64,3]: convert it to 8 bits a channel"),
    (np.zeros((0, 0, 3), np.uint8), "got an empty one [0,0,3]"),
    (np.zeros((2, 64, 64, 3), np.uint8), "got a batch [2,64,64,3]: segment(frame) takes one frame; seg(frames) a batch"),
])  # fmt: skip
def test_a_frame_that_is_no_rgb_picture_is_one_line_at_the_callers_shape(seg, frame, said):
    # (were: "frames must be uint8 [N,H,W,3], got uint16 (1, 416, 416, 3)", a ValueError about the resized batch the
    # caller never made, and OpenCV's assertions for an empty frame or a batch given as one frame)
    with pytest.raises(ArgumentError) as caught:
        seg.segment(frame)
    assert str(caught.value) == f"a frame must be a uint8 RGB picture [H,W,3]; {said}"
    assert isinstance(caught.value, roadseg.RoadsegError) and isinstance(caught.value, ValueError)


def test_a_batch_is_checked_frame_by_frame_and_none_is_one_line(seg):
    with pytest.raises(ArgumentError, match=r"^no frames given$"):  # (was: IndexError: list index out of range)
        seg([])
    with pytest.raises(ArgumentError, match=r"got a grayscale one \[8,8\]"):
        seg([np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8)])


def test_odd_sizes_and_views_are_segmented_at_their_own_size(seg):
    frame = np.zeros((719, 1279, 3), np.uint8)
    frame[:, :, 0] = 255  # the rule model: red 255 -> class 3
    for f in (frame, frame[::2, ::3], np.asfortranarray(frame), frame[:64, :64], frame[:1, :1]):
        labels = seg.segment(f)
        assert labels.shape == f.shape[:2] and labels.dtype == np.uint8 and (labels == 3).all()
    assert (seg.segment(frame[..., ::-1]) == 0).all()  # OpenCV's BGR given as RGB: red is read as blue


@pytest.mark.parametrize("size", [(0, 10), (32,), (-32, 32), (32.5, 32), 320])
def test_a_working_size_that_cannot_be_is_refused_when_given(rule_onnx, size):
    # (was: accepted, then OpenCV's "inv_scale_x > 0" assertion at the first frame, midway through a run)
    with pytest.raises(ArgumentError, match=r"^size must be \(height, width\), two whole numbers over 0, not "):
        roadseg.Segmenter(rule_onnx, size=size)


def test_an_unknown_device_is_one_roadseg_line(rule_onnx):
    with pytest.raises(ArgumentError, match=r"^device must be auto, cpu, cuda or tensorrt, not 'gpu'$"):
        roadseg.Segmenter(rule_onnx, providers="gpu")  # (was a bare ValueError, outside the family)


def test_a_shipped_model_is_found_by_its_name_from_anywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    seg = roadseg.Segmenter("unet-r34-camvid-int8.onnx", providers="cpu")  # (was: model file not found)
    assert seg.model.path == models_dir() / "unet-r34-camvid-int8.onnx"
    with pytest.raises(roadseg.RoadsegError) as caught:
        roadseg.Segmenter("unet-r34-camvid", providers="cpu")
    assert str(caught.value) == ("model file not found: unet-r34-camvid (shipped models, by name: "
                                 "unet-r34-camvid-int8.onnx, unet-r34-camvid.onnx)")  # fmt: skip


def test_a_file_of_the_name_here_comes_before_the_shipped_one(rule_onnx, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rule_onnx.rename(tmp_path / "unet-r34-camvid.onnx")
    assert roadseg.Segmenter("unet-r34-camvid.onnx", providers="cpu").model.path.resolve() == tmp_path / "unet-r34-camvid.onnx"


def test_every_exported_name_has_a_docstring_and_the_segmenters_an_example():
    # (help(roadseg.Segmenter) showed no example: it was in its module's docstring only)
    missing = [name for name in roadseg.__all__ if name != "__version__" and not (getattr(roadseg, name).__doc__ or "").strip()]
    assert not missing
    assert ">>> " in roadseg.Segmenter.__doc__


@pytest.mark.parametrize(("kw", "said"), [
    ({"alpha": 2}, r"^alpha must be a number from 0 to 1, not 2$"),
    ({"mode": "x"}, r"^mode must be one of \('overlay', 'mask', 'side-by-side'\), not 'x'$"),
    ({"device": "gpu"}, r"^device must be auto, cpu, cuda or tensorrt, not 'gpu'$"),
])  # fmt: skip
def test_a_runs_option_value_that_cannot_be_is_a_roadseg_error_and_leaves_no_output(split_video, tmp_path, kw, said):
    # (alpha and mode were bare ValueErrors from the overlay: outside the family run() promises, caught by no
    # `except roadseg.RoadsegError` as README's loop has it)
    with pytest.raises(roadseg.RoadsegError, match=said):
        roadseg.run(roadseg.SegmentOptions(split_video, tmp_path / "o.mp4", quiet=True, **kw))
    assert not (tmp_path / "o.mp4").exists()


def test_readmes_python_api_runs_as_written(tmp_path, monkeypatch, capsys):
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    code = re.search(r"## Python API\n+```python\n(.*?)```", readme, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    for name in ("dashcam.mp4", "a.mp4"):
        write_video(tmp_path / name, split_frames(3, 48, 64))
    (tmp_path / "b.mp4").write_text("not a video")  # (its error, one line, is printed and the loop goes on)
    names = {"rgb_frame": np.zeros((240, 320, 3), np.uint8)}
    exec(compile(code, "README.md", "exec"), names)
    assert names["stats"]["frames"] == 3 and names["labels"].shape == (240, 320)
    assert sorted(p.name for p in (tmp_path / "labels").iterdir()) == ["000000.png", "000001.png", "000002.png",
                                                                       "masks.csv"]  # (masks only)  # fmt: skip
    assert names["picture"].shape == (240, 320, 3) and names["small"].shape == (2, *names["seg"].size)
    assert [m.shape for m in names["masks"]] == [(240, 320)] * 2 and (names["masks"][0] == names["labels"]).all()
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("3 ") and printed[1].startswith("b.mp4: "), printed


def test_a_folder_of_a_shipped_models_name_here_does_not_hide_it(tmp_path, monkeypatch):
    # (was: "unet-r34-camvid-int8.onnx is a folder, not a model file", where only a file of the name comes first)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "unet-r34-camvid-int8.onnx").mkdir()
    assert check_model_file("unet-r34-camvid-int8.onnx") == models_dir() / "unet-r34-camvid-int8.onnx"


def test_one_segmenter_called_from_several_threads_at_once_gives_each_its_own_labels(rule_onnx):
    """README says a Segmenter may be shared by threads (a camera's thread each): each call's labels are its frame's."""
    seg = roadseg.Segmenter(rule_onnx)
    frames = [np.roll(f, 8 * i, axis=1) for i, f in enumerate(split_frames(8, 48, 64))]
    alone = [seg.segment(f) for f in frames]
    got: dict[int, list[np.ndarray]] = {}
    start = threading.Barrier(len(frames))

    def work(i: int) -> None:
        start.wait()
        got[i] = [seg.segment(frames[i]) for _ in range(20)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(frames))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all((labels == alone[i]).all() for i in range(len(frames)) for labels in got[i])
    assert len({alone[i].tobytes() for i in range(len(frames))}) > 1  # (frames unlike each other: a mix-up would show)
