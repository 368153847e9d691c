"""A trial of the library as a notebook or an embedding tool meets it (frames of every shape, many runs in one
process, runs in threads, Ctrl-C mid-run): what it found wrong, each with the test that failed before."""

from __future__ import annotations

import _thread
import re
import sys
import threading
import time

import numpy as np
import pytest

import roadseg
from roadseg.errors import ArgumentError, ModelError
from roadseg.pipeline import runner
from roadseg.pipeline.session import OnnxSegmenter


def test_loading_a_model_leaves_the_processs_stdout_alone(rule_onnx):
    """Was: ``sys.stdout`` replaced by a StringIO while a session loaded (the whole process's: another thread's
    prints lost), and two loads in two threads at once left it replaced for good: every print after went nowhere."""
    before, seen = sys.stdout, set()
    loaded = threading.Event()

    def load() -> None:
        try:
            for _ in range(3):
                OnnxSegmenter(rule_onnx, providers="cpu")
        finally:
            loaded.set()

    loader = threading.Thread(target=load)
    loader.start()
    while not loaded.is_set():
        seen.add(id(sys.stdout))
    loader.join()
    assert seen == {id(before)} and sys.stdout is before


@pytest.mark.parametrize(("field", "value", "said"), [
    ("hwaccel", "cude", r"hwaccel must be an FFmpeg hardware decoder \(one of cuda, vaapi, .*\), not 'cude'"),
    ("hwaccel", 5, r"hwaccel must be an FFmpeg hardware decoder \(one of cuda, vaapi, .*\), not 5"),
    ("video_stream", -1, r"video_stream must be 0 or more \(None: the one FFmpeg would play\), not -1"),
    ("video_stream", "1", r"video_stream must be 0 or more \(None: the one FFmpeg would play\), not '1'"),
])
def test_an_option_the_command_line_refuses_is_refused_by_the_library_in_one_line(field, value, said, split_video,
                                                                                    tmp_path):  # fmt: skip
    """Was: ``hwaccel="cude"`` (which ``--hwaccel`` refuses) decoded on the CPU after a warning, and ``video_stream=-1``
    (``--video-stream`` takes 0 or more) a SourceError, exit code 1, once the file was open."""
    with pytest.raises(ArgumentError, match=f"^{said}$"):
        roadseg.run(roadseg.SegmentOptions(split_video, tmp_path / "o.mp4", quiet=True, **{field: value}))
    assert list(tmp_path.glob("*o.mp4*")) == []


def test_a_hardware_decoder_named_in_capitals_is_the_one_the_command_line_takes(split_video, tmp_path, caplog):
    """``--hwaccel CUDA`` is cuda; was, in the library, "no such device type" and decoding on the CPU."""
    roadseg.run(roadseg.SegmentOptions(split_video, tmp_path / "o.mp4", quiet=True, hwaccel="CUDA"))
    assert "no such device type" not in caplog.text


@pytest.mark.parametrize("interrupted", [False, True])
def test_no_stage_thread_is_still_there_when_the_run_returns(interrupted):
    """A stage thread whose body had ended (its ``done`` set) could still be exiting as ``run_stages`` returned or
    raised: seen by a caller's ``threading.enumerate()`` in 3 of 24 runs stopped by a Ctrl-C (the writer's,
    ``roadseg-encode``, for under 10 ms). Its exit is slowed here (a profile function at its target's return)."""

    def slow_exit(frame, event, arg):
        if event == "return" and frame.f_code.co_name == "target" and frame.f_code.co_filename == runner.__file__:
            time.sleep(0.05)  # (under runner.LEAVE, which a join gives a thread whose body has ended)

    def consumer(items):
        list(items)
        if interrupted:  # (once run_stages waits for the threads: a Ctrl-C as they start is not this test's)
            time.sleep(0.1)
            _thread.interrupt_main()

    threading.setprofile(slow_exit)
    try:
        try:
            runner.run_stages(lambda: range(3), lambda xs: xs, consumer=consumer)
        except KeyboardInterrupt:
            assert interrupted
    finally:
        threading.setprofile(None)
    assert [t.name for t in threading.enumerate() if t.name.startswith("roadseg-")] == []


def test_a_segmenters_working_size_beyond_the_memory_is_one_line(rule_onnx):
    """As a run refuses it (``Segmenter.check_memory``); was, called on a frame: OpenCV's ``cv2.error`` (Insufficient
    memory) from the resize, or, at a size the resize could hold, the network's allocation in onnxruntime."""
    seg = roadseg.Segmenter(rule_onnx, size=(1_000_000, 1_000_000), providers="cpu")
    with pytest.raises(ModelError, match=r"^working size 1000000x1000000 at batch 2 needs about .* of memory"):
        seg([np.zeros((48, 64, 3), np.uint8)] * 2)
    with pytest.raises(ModelError, match=r"^working size 1000000x1000000 at batch 1 needs about "):
        seg.segment(np.zeros((48, 64, 3), np.uint8))


@pytest.mark.parametrize(("kw", "said"), [
    ({"alhpa": 0.6}, r"segment_video\(\) got unexpected keyword arguments: alhpa \(SegmentOptions' fields"),
    ({"segmenter": None}, r"segment_video\(\) got unexpected keyword arguments: segmenter \(SegmentOptions' fields"),
    ({"input": "b.mp4"}, r"segment_video\(\) takes the input and output as src and dst, not as input=$"),
])
def test_a_keyword_segment_video_does_not_take_is_said_as_its_own(kw, said, split_video, tmp_path):
    """A TypeError, as Python's for any call and as ``batch()`` says it; was "SegmentOptions.__init__() got an
    unexpected keyword argument", or for ``input=`` "dataclasses.replace() got multiple values"."""
    with pytest.raises(TypeError, match=f"^{said}"):
        roadseg.segment_video(split_video, tmp_path / "o.mp4", **kw)


@pytest.mark.parametrize(("field", "value"), [("legend", "no"), ("overwrite", "false"), ("no_audio", b"0"),
                                              ("pace", "off")])  # fmt: skip
def test_a_flag_given_as_a_string_is_one_line_before_any_work(field, value, split_video, tmp_path):
    """Was taken as true, as any non-empty string is (``legend="no"``, read from a config file, drew the legend);
    the command line's flags are True or False."""
    with pytest.raises(ArgumentError, match=f"^{field} must be True or False, not {re.escape(repr(value))}$"):
        roadseg.run(roadseg.SegmentOptions(split_video, tmp_path / "o.mp4", quiet=True, **{field: value}))
    assert list(tmp_path.glob("*o.mp4*")) == []


@pytest.mark.parametrize("field", ["output", "masks_dir", "stats", "model"])
def test_a_path_option_that_is_no_path_is_one_line_before_any_work(field, split_video, tmp_path):
    """Was: ``output=5`` (``masks_dir``, ``stats``) a bare TypeError from pathlib, and ``model=5`` "internal error:
    TypeError", as if roadseg had a bug."""
    opts = {"output": tmp_path / "o.mp4", field: 5}
    with pytest.raises(ArgumentError, match=f"^{field} must be a path \\(a str or a pathlib.Path\\), not 5$"):
        roadseg.run(roadseg.SegmentOptions(split_video, quiet=True, **opts))
    assert list(tmp_path.glob("*o.mp4*")) == []


@pytest.mark.parametrize("serve", ["127.0.0.1:8765", ("127.0.0.1", "8765"), ("127.0.0.1",), ("127.0.0.1", 70000)])
def test_a_serve_address_that_is_no_host_and_port_is_one_line_before_any_work(serve, split_video):
    """Was "internal error: TypeError: ServeSink.__init__() takes 6 positional arguments but 18 were given" for the
    command line's own form, ``serve="127.0.0.1:8765"``, and "'str' object cannot be interpreted as an integer"."""
    with pytest.raises(ArgumentError, match=r"^serve must be \(host, port\), a port from 0 to 65535 \(0: any free "
                                            r"one\): \('127\.0\.0\.1', 8080\), not "):  # fmt: skip
        roadseg.run(roadseg.SegmentOptions(split_video, live=True, serve=serve, quiet=True))


@pytest.mark.parametrize(("field", "value", "said"), [
    ("camera_size", (1280,), r"camera_size must be \(width, height\), two whole numbers over 0, not \(1280,\)"),
    ("camera_size", "1280x720", r"camera_size must be \(width, height\), two whole numbers over 0, not '1280x720'"),
    ("camera_fps", "30", r"camera_fps must be a number of frames a second above 0 \(None: the camera's own\), not '30'"),
    ("camera_fps", -5.0, r"camera_fps must be a number of frames a second above 0 \(None: the camera's own\), not -5\.0"),
])
def test_a_camera_option_that_cannot_be_is_one_line_before_any_work(field, value, said, tmp_path):
    """As ``--camera-size WxH`` and ``--camera-fps`` (above 0) refuse them; was "internal error: IndexError" for
    ``(1280,)``, "internal error: ValueError: Unknown format code 'g'" for ``"30"``, and -5 or a string size taken."""
    with pytest.raises(ArgumentError, match=f"^{said}$"):
        roadseg.run(roadseg.SegmentOptions("/dev/video9", tmp_path / "o.mkv", retries=0, quiet=True, **{field: value}))


def test_a_hwaccel_no_run_takes_fails_a_batch_once_before_any_work(split_video, rule_onnx, tmp_path):
    """Was: ``batch(hwaccel="cude")`` began, and every video failed with the same hwaccel line, where ``segment``'s
    library path refuses it once (:func:`~roadseg.pipeline.checks.check_hwaccel`) and ``--hwaccel cude`` is refused."""
    from roadseg.batch.errors import BatchError

    out = tmp_path / "out"
    with pytest.raises(BatchError, match=r"^hwaccel must be an FFmpeg hardware decoder \(one of cuda, vaapi, .*\), not 'cude'$"):
        roadseg.batch(split_video, out, model=str(rule_onnx), workers=1, quiet=True, hwaccel="cude")
    assert not out.exists()


@pytest.mark.parametrize("quiet", [True, False])
def test_a_batch_that_shows_no_bar_leaves_no_thread_behind(quiet, split_video, rule_onnx, tmp_path):
    """Was: a quiet batch (or one logging to a file, not a terminal) built a disabled tqdm bar, and tqdm starts its
    monitor thread for that too: ``tqdm_monitor`` ran for the rest of the process. (A monitor an earlier test's bar
    started is stopped first, or this could not fail.)"""
    from tqdm import tqdm

    if tqdm.monitor is not None:
        tqdm.monitor.exit()
        tqdm.monitor.join()
        tqdm.monitor = None
    before = set(threading.enumerate())
    roadseg.batch(split_video, tmp_path / "out", model=str(rule_onnx), workers=1, quiet=quiet)
    assert [t.name for t in threading.enumerate() if t not in before] == []


@pytest.mark.parametrize(("kw", "said"), [
    ({"workers": 0}, r"workers must be a whole number, 1 or more \(None: as many as the machine or cluster can feed\), not 0"),
    ({"workers": -1}, r"workers must be a whole number, 1 or more \(None: .*\), not -1"),
    ({"workers": 1.5}, r"workers must be a whole number, 1 or more \(None: .*\), not 1.5"),
    ({"in_flight": 0}, r"in_flight must be a whole number, 1 or more, not 0"),
    ({"in_flight": True}, r"in_flight must be a whole number, 1 or more, not True"),
    ({"retries": -1}, r"retries must be a whole number, 0 or more, not -1"),
    ({"retries": "2"}, r"retries must be a whole number, 0 or more, not '2'"),
    ({"output": "x.mp4"}, r"output is each video's, which batch names by out_dir \(OUT_DIR/<its path>.mp4\); leave it "
                          r"out \(masks=True, stats=True: beside each output\)"),
    ({"masks_dir": "m", "input": "a.mp4"}, r"input and masks_dir are each video's, which batch names by .*; leave them "
                                           r"out .*"),
])
def test_an_option_a_batch_does_not_take_is_refused_in_one_line(kw, said, split_video, rule_onnx, tmp_path):
    """Was: taken without a word: ``workers=0`` (``--workers`` takes 1 or more) ran as ``None`` (as many as fit),
    ``workers=-1`` started none; ``in_flight=0`` and ``retries=-1``, which ``--in-flight`` and ``--retries`` refuse;
    ``output``, ``masks_dir``, ``input`` (each video's, set by the batch) ignored."""
    from roadseg.batch.errors import BatchError

    out = tmp_path / "out"
    with pytest.raises(BatchError, match=f"^{said}$"):
        roadseg.batch(split_video, out, model=str(rule_onnx), quiet=True, **{"workers": 1, **kw})
    assert not out.exists()
