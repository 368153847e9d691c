"""A library caller's run stopped from another thread (``run``'s ``stop``), its progress followed
(``on_progress``), and the whole-number options that cannot be refused in one line."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from conftest import read_video, sound_spans, split_frames, write_video

import roadseg
from roadseg.errors import ArgumentError


class Stopper:
    """Runs ``roadseg.run`` in a thread of its own, and holds its writer (in ``on_progress``) once ``frames`` are done
    until the main thread sets ``stop``: the stop comes mid-run however fast the machine is."""

    def __init__(self, options: roadseg.SegmentOptions, frames: int = 5) -> None:
        self.stop, self.reached, self.calls, self.frames = threading.Event(), threading.Event(), [], frames
        self.result: roadseg.RunResult | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(options,), name="caller's worker")

    def _run(self, options: roadseg.SegmentOptions) -> None:
        try:
            self.result = roadseg.run(options, stop=self.stop, on_progress=self._progress)
        except BaseException as exc:  # noqa: BLE001 - the test reads it
            self.error = exc
        self.reached.set()

    def _progress(self, done: int, total: int | None) -> None:
        self.calls.append((done, total, threading.current_thread().name))
        if done >= self.frames:
            self.reached.set()
            self.stop.wait(10)

    def stopped(self) -> float:
        """Start the run, stop it mid-run from here; the seconds from the stop to the run's return."""
        self.thread.start()
        assert self.reached.wait(60) and self.error is None, self.error
        t0 = time.monotonic()
        self.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive() and self.error is None, self.error
        return time.monotonic() - t0


def test_a_run_in_a_thread_is_stopped_from_the_main_thread_and_keeps_a_playable_output(rule_onnx, tmp_path, caplog):
    """Was: no way to; the run's own stop event set by hand ended it, but it said '35 of about 38 frames could not be
    decoded (damaged or truncated input)' with frames_lost 35."""
    src = write_video(tmp_path / "a.mp4", split_frames(300, 96, 128), audio_seconds=12.0)
    out = tmp_path / "o.mp4"
    before = set(threading.enumerate())
    caplog.set_level(logging.WARNING, "roadseg")
    stopper = Stopper(roadseg.SegmentOptions(src, out, model=rule_onnx, quiet=True))
    took = stopper.stopped()
    result = stopper.result
    assert result.stopped and result.as_dict()["stopped"] is True
    assert 5 <= result.frames < 300 and result.frames_lost == 0 and result.output == str(out)
    assert "could not be decoded" not in caplog.text and "lost" not in caplog.text, caplog.text
    assert len(read_video(out)["frames"]) == result.frames  # (playable, every frame done)
    assert max(end for _, end in sound_spans(out)) <= result.frames / 25 + 0.05  # (its sound up to its last picture)
    assert took < 2.0, took  # (the stop DEVELOPERS.md promises, as a Ctrl-C's)
    assert [t for t in threading.enumerate() if t not in before] == []
    assert not [p.name for p in tmp_path.iterdir() if ".part" in p.name]  # (its temporary name renamed onto its own)


def test_a_run_that_is_not_stopped_says_nothing_of_a_stop(rule_onnx, split_video, tmp_path):
    result = roadseg.run(roadseg.SegmentOptions(split_video, tmp_path / "o.mp4", model=rule_onnx, quiet=True),
                         stop=threading.Event())  # fmt: skip
    assert not result.stopped and "stopped" not in result.as_dict()


def test_a_run_stopped_before_it_starts_writes_nothing_and_says_so(rule_onnx, split_video, tmp_path):
    stop = threading.Event()
    stop.set()
    out = tmp_path / "o.mp4"
    stats = roadseg.segment_video(split_video, out, model=rule_onnx, quiet=True, stop=stop)
    assert stats["stopped"] and stats["frames"] == 0 and stats["output"] is None and stats["frames_lost"] == 0
    assert not out.exists() and not [p.name for p in tmp_path.iterdir() if ".part" in p.name]
    assert stop.is_set()  # (the caller's event is left as it was)


def test_an_image_run_stopped_before_it_starts_leaves_no_folder(rule_onnx, tmp_path):
    # was: output None, "nothing is left", but the output folder it made stayed, empty; one that was there stays
    import cv2

    photos = tmp_path / "photos"
    photos.mkdir()
    for i, img in enumerate(split_frames(2, 48, 64)):
        cv2.imwrite(str(photos / f"p{i}.png"), img)
    stop = threading.Event()
    stop.set()
    for out, there in ((tmp_path / "seg", False), (tmp_path / "mine", True)):
        if there:
            out.mkdir()
        stats = roadseg.segment_video(photos, out, model=rule_onnx, quiet=True, stop=stop)
        assert stats["stopped"] and stats["frames"] == 0 and stats["output"] is None
        assert out.exists() == there


def test_a_stopped_runs_masks_are_those_of_its_frames(rule_onnx, tmp_path):
    src = write_video(tmp_path / "a.mp4", split_frames(200, 48, 64))
    stopper = Stopper(roadseg.SegmentOptions(src, tmp_path / "o.mp4", model=rule_onnx, quiet=True,
                                             masks_dir=tmp_path / "masks"))  # fmt: skip
    stopper.stopped()
    masks = sorted(p.name for p in (tmp_path / "masks").iterdir() if p.name != "masks.csv")
    assert stopper.result.stopped and len(masks) == stopper.result.frames < 200 and not any(".part" in m for m in masks)


def test_a_max_frames_run_is_not_said_stopped_by_the_caller(rule_onnx, split_video, tmp_path):
    """``max_frames`` stops the run's own event: the caller's is not set, the result is not ``stopped``."""
    stop = threading.Event()
    result = roadseg.run(roadseg.SegmentOptions(split_video, tmp_path / "o.mp4", model=rule_onnx, quiet=True,
                                                max_frames=2), stop=stop)  # fmt: skip
    assert result.frames == 2 and not result.stopped and not stop.is_set()


def test_a_live_run_in_a_thread_is_stopped_and_its_recording_finalised(rule_onnx, tmp_path):
    """A file played live (paced, 8 s) is a camera's run in short: stopped by the caller, its recording plays."""
    src = write_video(tmp_path / "cam.mp4", split_frames(200, 96, 128))
    out = tmp_path / "rec.mkv"
    before = set(threading.enumerate())
    stopper = Stopper(roadseg.SegmentOptions(src, out, model=rule_onnx, quiet=True, live=True), frames=3)
    took = stopper.stopped()
    result = stopper.result
    assert result.stopped and result.latency_ms is not None, result  # (a live run's figures)
    assert 3 <= result.frames < 200 and result.frames_lost == 0 and took < 2.0
    assert len(read_video(out)["frames"]) == result.frames
    assert all(total is None for _, total, _ in stopper.calls)  # (a live run's frames are not known before)
    assert [t for t in threading.enumerate() if t not in before] == []


def test_progress_is_reported_in_order_up_to_the_frames_done(rule_onnx, tmp_path):
    src = write_video(tmp_path / "a.mp4", split_frames(40, 48, 64))
    calls: list[tuple[int, int | None, str]] = []
    stats = roadseg.segment_video(src, tmp_path / "o.mp4", model=rule_onnx, quiet=True,
                                  on_progress=lambda done, total: calls.append((done, total, threading.current_thread())))  # fmt: skip
    done = [d for d, _, _ in calls]
    assert calls and done == sorted(done) and done[0] == 1 and done[-1] == stats["frames"] == 40
    assert calls[-1][1] == 40 and calls[-1][2] is threading.current_thread()  # (the last: from the caller's thread)
    writer = {t for _, _, t in calls[:-1]}
    assert len(writer) <= 1 and all(t.name == "roadseg-encode" for t in writer)  # (one thread the run had anyway)


def test_progress_is_throttled(rule_onnx, tmp_path, monkeypatch):
    import roadseg.pipeline.timing as timing

    monkeypatch.setattr(timing, "REPORT_INTERVAL", 3600.0)
    src = write_video(tmp_path / "a.mp4", split_frames(30, 48, 64))
    calls = []
    roadseg.segment_video(src, tmp_path / "o.mp4", model=rule_onnx, quiet=True,
                          on_progress=lambda done, total: calls.append((done, total)))  # fmt: skip
    assert calls == [(1, 30), (30, 30)]


def test_progress_that_raises_fails_the_run_in_one_line(rule_onnx, split_video, tmp_path):
    def broken(done: int, total: int | None) -> None:
        raise RuntimeError("the caller's bug")

    with pytest.raises(roadseg.RoadsegError, match="the caller's bug"):
        roadseg.segment_video(split_video, tmp_path / "o.mp4", model=rule_onnx, quiet=True, on_progress=broken)



def test_progress_that_raises_at_its_last_call_fails_the_run_in_one_line_and_leaves_no_hidden_file(rule_onnx, split_video,
                                                                                                     tmp_path):  # fmt: skip
    """Was: the last call's error (from the caller's thread, as the run ends) came out bare, a RuntimeError, and the
    output stayed under its hidden temporary name ('.o.mp4.part-N.mp4'), its own name never written."""
    def broken_at_the_end(done: int, total: int | None) -> None:
        if done == 12:
            raise RuntimeError("the caller's bug")

    with pytest.raises(roadseg.RoadsegError, match="on_progress failed: RuntimeError: the caller's bug; kept a playable"):
        roadseg.segment_video(split_video, tmp_path / "o.mp4", model=rule_onnx, quiet=True,
                              on_progress=broken_at_the_end)  # fmt: skip
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert len(read_video(tmp_path / "o.mp4")["frames"]) == 12


def test_progress_that_raises_a_bare_error_in_the_writer_thread_names_it_once(rule_onnx, split_video, tmp_path):
    """Was: 'encode failed: KeyboardInterrupt: KeyboardInterrupt' (the error's name, then its words: its name again)."""
    def interrupting(done: int, total: int | None) -> None:
        raise KeyboardInterrupt  # (the first call: from the writer's thread, where no signal comes)

    with pytest.raises(roadseg.RoadsegError, match=r"^on_progress failed: KeyboardInterrupt; kept a playable"):
        roadseg.segment_video(split_video, tmp_path / "o.mp4", model=rule_onnx, quiet=True, on_progress=interrupting)


@pytest.mark.parametrize(("kw", "said"), [
    ({"stop": True}, r"^stop must be a threading\.Event \(or None\), not True$"),
    ({"on_progress": 5}, r"^on_progress must be a function of \(done, total\) \(or None\), not 5$"),
])  # fmt: skip
def test_a_stop_or_progress_that_cannot_be_is_refused_before_any_work(rule_onnx, split_video, tmp_path, kw, said):
    """Was: stop=True an AttributeError once the input was open, the output left as '.o.mp4.part-N.mp4'; on_progress=5
    'encode failed: TypeError' at the first frame, a partial output of 1 frame kept."""
    with pytest.raises(ArgumentError, match=said):
        roadseg.run(roadseg.SegmentOptions(split_video, tmp_path / "o.mp4", model=rule_onnx, quiet=True), **kw)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rule.onnx", "split.mp4"]

@pytest.mark.parametrize(("kw", "said"), [
    ({"batch": 0}, r"^batch must be from 1 to 256, not 0$"),
    ({"batch": 257}, r"^batch must be from 1 to 256, not 257$"),
    ({"queue_size": 0}, r"^queue_size must be 1 or more, not 0$"),
    ({"threads": -1}, r"^threads must be from 0 to 1024 \(0: one per core\), not -1$"),
    ({"threads": 1025}, r"^threads must be from 0 to 1024 \(0: one per core\), not 1025$"),
    ({"max_frames": 0}, r"^max_frames must be 1 or more \(None: every frame\), not 0$"),
    ({"batch": 2.5}, r"^batch must be from 1 to 256, not 2\.5$"),
])  # fmt: skip
def test_a_whole_number_option_that_cannot_be_is_refused_in_one_line(split_video, tmp_path, kw, said):
    """Was: batch=0 and queue_size=0 taken (an unbounded queue), threads=-1 passed on, max_frames=0 every frame."""
    with pytest.raises(ArgumentError, match=said) as exc:
        roadseg.run(roadseg.SegmentOptions(split_video, tmp_path / "o.mp4", quiet=True, **kw))
    assert exc.value.exit_code == 2 and isinstance(exc.value, ValueError)
    assert not (tmp_path / "o.mp4").exists()


def test_zero_threads_is_one_per_core_and_taken(rule_onnx, split_video, tmp_path):
    result = roadseg.run(roadseg.SegmentOptions(split_video, tmp_path / "o.mp4", model=rule_onnx, quiet=True,
                                                threads=0, max_frames=1))  # fmt: skip
    assert result.frames == 1
