"""A robotics caller's trial of the library (frames from OpenCV in a callback, runs in threads of their own, stopped
and followed): what it got wrong is one :class:`~roadseg.errors.ArgumentError` line before any work, and a callback
of its own that fails is named as the caller's, not as a stage of the run."""

from __future__ import annotations

import re
import threading

import numpy as np
import pytest
from conftest import read_video

import roadseg
from roadseg.errors import ArgumentError, PipelineError


@pytest.mark.parametrize("options", ["clip.mp4", {"input": "clip.mp4"}, None])
def test_run_given_no_options_object_is_one_line(options, tmp_path):
    """Was: ``run("clip.mp4")`` an AttributeError, ``'str' object has no attribute 'batch'``."""
    with pytest.raises(ArgumentError, match=r"^options must be a roadseg\.SegmentOptions \(SegmentOptions\(input, "
                                            r"output, \.\.\.\)\), not "):  # fmt: skip
        roadseg.run(options)


def test_segment_video_given_options_that_are_no_segment_options_is_one_line(tmp_path):
    """Was: TypeError: replace() should be called on dataclass instances."""
    with pytest.raises(ArgumentError, match=r"^options must be a roadseg\.SegmentOptions .*, not \{'alpha': 0\.6\}$"):
        roadseg.segment_video("clip.mp4", tmp_path / "o.mp4", {"alpha": 0.6})


@pytest.mark.parametrize("given", ["model.onnx", 5])
def test_a_segmenter_that_is_no_segmenter_is_refused_before_any_work(given, rule_onnx, split_video, tmp_path):
    """Was: 'internal error: AttributeError: 'str' object has no attribute 'model'', once the input was open."""
    with pytest.raises(ArgumentError, match=r"^segmenter must be a roadseg\.Segmenter \(or None\), not "):
        roadseg.run(roadseg.SegmentOptions(split_video, tmp_path / "o.mp4", quiet=True), segmenter=given)
    assert list(tmp_path.glob("o.mp4*")) == [] and list(tmp_path.glob(".o.mp4*")) == []


def test_a_model_session_given_as_the_segmenter_is_told_how_to_share_it(rule_onnx, split_video, tmp_path):
    session = roadseg.Segmenter(rule_onnx, providers="cpu").model
    with pytest.raises(ArgumentError, match=r"not an OnnxSegmenter: Segmenter\(session\) shares its session$"):
        roadseg.run(roadseg.SegmentOptions(split_video, tmp_path / "o.mp4", quiet=True), segmenter=session)


@pytest.mark.parametrize("given", [False, True])
def test_a_size_given_as_an_array_is_taken(given, rule_onnx, split_video, tmp_path):
    """Was: 'internal error: ValueError: The truth value of an array ... is ambiguous'."""
    seg = roadseg.Segmenter(rule_onnx, providers="cpu") if given else None
    result = roadseg.run(roadseg.SegmentOptions(split_video, tmp_path / "o.mp4", model=rule_onnx, quiet=True,
                                                size=np.array([64, 96])), segmenter=seg)  # fmt: skip
    assert result.frames == 12


@pytest.mark.parametrize("given", [False, True])
@pytest.mark.parametrize("size", [320, (64.5, 96), ("64", "96"), (64, 96, 3)])
def test_a_size_that_is_no_two_whole_numbers_is_one_line_before_any_work(given, size, rule_onnx, split_video, tmp_path):
    """As ``Segmenter(size=...)`` refuses it (was: ``size=320`` 'internal error: TypeError: 'int' object is not
    subscriptable'; ``(64.5, 96)`` and ``("64", "96")`` taken as (64, 96), each side passed through ``int()``)."""
    seg = roadseg.Segmenter(rule_onnx, providers="cpu") if given else None
    opts = roadseg.SegmentOptions(split_video, tmp_path / "o.mp4", model=rule_onnx, quiet=True, size=size)
    with pytest.raises(ArgumentError, match=r"^size must be \(height, width\), two whole numbers over 0, not "):
        roadseg.run(opts, segmenter=seg)
    assert list(tmp_path.glob("*o.mp4*")) == []


def test_progress_that_raises_in_the_writer_thread_is_named_as_the_callers(rule_onnx, split_video, tmp_path):
    """Was: 'encode failed: RuntimeError: the caller's bug', the encoder blamed for the caller's callback (its last
    call, from the caller's thread, already said 'on_progress failed')."""
    threads = []

    def broken(done: int, total: int | None) -> None:
        threads.append(threading.current_thread().name)
        raise RuntimeError("the caller's bug")

    with pytest.raises(PipelineError, match=r"^on_progress failed: RuntimeError: the caller's bug; kept a playable "
                                            r"partial output of 1 frame") as caught:  # fmt: skip
        roadseg.segment_video(split_video, tmp_path / "o.mp4", model=rule_onnx, quiet=True, on_progress=broken)
    assert threads == ["roadseg-encode"]  # (its first call: at the first frame, from the writer's thread)
    assert isinstance(caught.value.__cause__, RuntimeError) and caught.value.reason.startswith("on_progress failed")
    assert len(read_video(tmp_path / "o.mp4")["frames"]) == 1


def test_a_ctrl_c_in_the_callers_thread_during_the_last_progress_call_is_still_an_interruption(rule_onnx, split_video,
                                                                                                 tmp_path):  # fmt: skip
    """The last call comes from the caller's thread, where a Ctrl-C does: an Interrupted, as a Ctrl-C elsewhere in
    the run is, not 'on_progress failed' (the writer thread's KeyboardInterrupt is the callback's own: one gets no
    signal there)."""
    def interrupted_at_the_end(done: int, total: int | None) -> None:
        if threading.current_thread() is threading.main_thread():
            raise KeyboardInterrupt

    with pytest.raises(roadseg.pipeline.Interrupted):
        roadseg.segment_video(split_video, tmp_path / "o.mp4", model=rule_onnx, quiet=True,
                              on_progress=interrupted_at_the_end)  # fmt: skip


def test_frames_to_labels_keeps_the_modules_half_method():
    """Was: ``FramesToLabels(net).half()`` a TypeError, 'bool' object is not callable (its ``half`` flag hid it)."""
    torch = pytest.importorskip("torch")
    from roadseg.model import UNetResNet34
    from roadseg.model.predict import FramesToLabels

    graph = FramesToLabels(UNetResNet34(11, decoder_channels=(32, 16, 16, 8, 8))).half()
    assert next(graph.net.parameters()).dtype == torch.float16 and graph.fp16 is False


# Segmenter (roadseg/pipeline/infer.py): what a frame-by-frame caller gets wrong


@pytest.mark.parametrize(("frame", "said"), [
    (None, "got None"),
    ("frame.png", "got str 'frame.png': read the picture first, cv2.imread(path)[..., ::-1]"),
    (object(), "got object <object"),
])  # fmt: skip
def test_a_frame_that_is_no_array_is_said_as_what_it_is(rule_onnx, frame, said):
    """Was: 'got an array []' for each of them."""
    with pytest.raises(ArgumentError, match=r"^a frame must be a uint8 RGB picture \[H,W,3\]; " + re.escape(said)):
        roadseg.Segmenter(rule_onnx, providers="cpu").segment(frame)


def test_one_frame_given_as_a_batch_is_told_so(rule_onnx):
    """Was: its rows checked as frames, 'got a grayscale one [64,3]'."""
    with pytest.raises(ArgumentError, match=r"^seg\(frames\) takes a batch, \[N,H,W,3\] or a list of frames; got "
                                            r"\[48,64,3\], one frame\? seg\.segment\(frame\), or seg\(\[frame\]\)$"):  # fmt: skip
        roadseg.Segmenter(rule_onnx, providers="cpu")(np.zeros((48, 64, 3), np.uint8))


def test_a_batch_of_grayscale_frames_is_told_so_not_taken_for_one_frame(rule_onnx):
    """An [N,H,W] array is N grayscale frames, not one frame (was: 'got [4,48,64], one frame? seg.segment(frame)')."""
    with pytest.raises(ArgumentError, match=r"^a frame must be a uint8 RGB picture \[H,W,3\]; got a grayscale one "
                                            r"\[48,64\]: cv2\.cvtColor\(frame, cv2\.COLOR_GRAY2RGB\)$"):  # fmt: skip
        roadseg.Segmenter(rule_onnx, providers="cpu")(np.zeros((4, 48, 64), np.uint8))


def test_a_batch_may_be_any_iterable_of_frames(rule_onnx):
    """Was: a generator a TypeError, 'object of type 'generator' has no len()'."""
    seg = roadseg.Segmenter(rule_onnx, providers="cpu")
    assert seg(np.zeros((48, 64, 3), np.uint8) for _ in range(2)).shape == (2, *seg.fitted(48, 64).size)
    with pytest.raises(ArgumentError, match=r"^no frames given$"):
        seg(iter([]))


@pytest.mark.parametrize("threads", [-1, "2", 1.5, True, 1025])
def test_a_segmenters_threads_that_cannot_be_are_refused_in_one_line(rule_onnx, threads):
    """Was: -1 taken, '2' a TypeError from onnxruntime ('incompatible function arguments')."""
    with pytest.raises(ArgumentError, match=r"^threads must be from 0 to 1024 \(0: one per core\), not "):
        roadseg.Segmenter(rule_onnx, providers="cpu", threads=threads)


def test_a_segmenters_size_may_be_an_array(rule_onnx):
    """Was: 'The truth value of an array with more than one element is ambiguous'."""
    seg = roadseg.Segmenter(rule_onnx, providers="cpu", size=np.array([64, 96]))
    assert seg.size == (64, 96) and all(type(n) is int for n in seg.size)
    assert seg([np.zeros((48, 64, 3), np.uint8)]).shape == (1, 64, 96)


@pytest.mark.parametrize(("field", "value", "said"), [
    ("alpha", "0.5", r"alpha must be a number from 0 to 1, not '0\.5'"),  # (was: internal error: TypeError)
    ("start", "3", r"start must be a number, 0 or more, not '3'"),  # (was: internal error: TypeError)
    ("start", -1.0, r"start must be a number, 0 or more, not -1\.0"),  # (was: taken as 0)
    ("crf", "20", r"crf must be a whole number, not '20'"),  # (was: cannot set up encoder 'libx264' ... '<=')
    ("height", -5, r"height must be a whole number of pixels, 2 or more, not -5"),  # (was: no decodable video frames)
    ("duration", 0, r"duration must be a number of seconds above 0 \(None: to the end\), not 0"),
    ("retry_delay", -1, r"retry_delay must be a number, 0 or more, not -1"),
])
def test_an_option_the_command_line_could_not_be_given_is_one_line_before_any_work(field, value, said, split_video,
                                                                                   tmp_path):  # fmt: skip
    """A library caller's number of the wrong type or range was an internal error midway, a misleading line (a
    negative height: 'no decodable video frames'), or taken: it is refused as the command line's types refuse it."""
    opts = roadseg.SegmentOptions(split_video, tmp_path / "o.mp4", quiet=True, **{field: value})
    with pytest.raises(ArgumentError, match=f"^{said}$"):
        roadseg.run(opts)
    assert not (tmp_path / "o.mp4").exists()
