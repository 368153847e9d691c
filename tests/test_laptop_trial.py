"""A laptop user's trial with a 4K/60 dashcam, scaled down: what the progress shows of a long, slow run (its time
left, and in a log), on tiny clips and a clock of the test's own."""

import io
import re

import pytest
import tqdm.std

from roadseg.pipeline import timing
from roadseg.pipeline.timing import Progress


class Terminal(io.StringIO):
    """What a bar is drawn on: a terminal's stderr."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def clock(monkeypatch):
    """The time tqdm and :class:`Progress` read, moved on by the test (``clock[0]``: seconds)."""
    now = [1000.0]
    monkeypatch.setattr(tqdm.std, "time", lambda: now[0])
    monkeypatch.setattr(tqdm.std.tqdm, "monitor_interval", 0)  # (no monitor thread on a clock that stands still)
    monkeypatch.setattr(timing.time, "monotonic", lambda: now[0])
    return now


#: A 4K run on 2 busy cores: 40 frames at 0.5 s each, then 6 that came 0.15 s apart (the writer catching up on what
#: the encoder held back); 300 in all.
STEPS = [0.5] * 40 + [0.15] * 6


def test_the_bars_time_left_is_what_the_run_has_shown_not_its_last_few_frames(clock):
    """The bar's time left came from tqdm's default rate, 30 % its newest frame's: at 4K on 2 cores, whose frames
    take 0.26 to 0.75 s each, it swung from 2:26 to 11:20 within a minute of one run (true: about 8:50); after 6
    quick frames here it said 0:50 where the run's pace leaves about 1:55. Now: frames done over the time taken."""
    stream = Terminal()
    progress = Progress(300, "4k.mp4", stream=stream)
    for step in STEPS:
        clock[0] += step
        progress.update()
    shown = stream.getvalue()  # (as the run goes on; not its bar's last drawing at the end)
    progress.close()
    done, took = len(STEPS), sum(STEPS)
    honest = (300 - done) * took / done  # 115 s
    left = re.findall(r"\d+/300 \[\d\d:\d\d<(\d\d):(\d\d)", shown)[-1]
    assert abs(int(left[0]) * 60 + int(left[1]) - honest) <= 0.1 * honest, shown[-200:]


def test_a_log_line_says_the_time_left(clock, monkeypatch):
    """Off a terminal (``segment-video ... 2> log``, nohup) a line every 5 s said frames done and frames/s, never how
    long the rest would take: now it does, at the run's pace so far."""
    stream = io.StringIO()
    progress = Progress(300, "4k.mp4", stream=stream)
    for _ in range(30):  # 15 s at 2 frames/s
        clock[0] += 0.5
        progress.update()
    progress.close()
    lines = stream.getvalue().splitlines()
    assert lines[-1] == "4k.mp4: 30/300 frames (10%), 2.0 frames/s, 2:15 left", lines


def test_a_file_s_decoded_pictures_are_freed_as_they_are_done_with_not_left_to_the_cycle_collector(tmp_path):
    """A 4K run held 3.0 GB (5 s or 20 s of 4K/60 alike): most of it decoded pictures in reference cycles, freed only
    when Python's cycle collector happened to run (a 4K source alone, its pictures dropped as they came: 2.7 GB after
    240 pictures, 0.3 GB with a collection every 10). PyAV 18 ties a frame whose ``side_data`` is read to its
    container of side data and back; the source read it for every picture (``rotation or vf.side_data``), now once
    (and again where the picture's angle changes)."""
    import gc

    from conftest import split_frames, write_video

    from roadseg.pipeline.sources.file import VideoSource

    clip = write_video(tmp_path / "clip.mp4", split_frames(12))
    gc.collect()
    gc.disable()
    try:
        source = VideoSource(clip)
        for item in source:
            del item
        source.close()
        del source
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        left = [type(o).__name__ for o in gc.garbage].count("VideoFrame")
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert left <= 1  # (was 12: each picture; now the first alone, whose display matrix is read)


def test_a_live_bar_still_shows_the_frames_s_of_now(clock):
    """A live run (no total, no time left) shows the camera's frames/s as they are now, not an average that a stall
    of the stream lowered for the rest of the run."""
    stream = Terminal()
    progress = Progress(None, "rtsp://cam", stream=stream)
    for step in [0.1] * 20 + [10.0] + [0.1] * 20:  # 10 frames/s, a stream lost for 10 s, 10 frames/s again
        clock[0] += step
        progress.update()
    shown = stream.getvalue()
    progress.close()
    rate = float(re.findall(r"41frame \[[\d:]+,\s*([\d.]+)frame/s", shown)[-1])
    assert rate > 8, shown[-200:]  # (the run's average: 41 frames in 14 s, 2.9)


def test_a_terminal_of_no_width_gets_the_log_lines(clock, monkeypatch, tmp_path):
    """A terminal that says 0 columns (``script``'s, a ``docker exec -t`` from a script) was given tqdm's bar, which
    tqdm draws as nothing there: the run showed no progress at all, only its last line."""
    import os
    import pty

    leader, follower = pty.openpty()  # (a new pty: 0 rows, 0 columns until told)
    try:
        with os.fdopen(os.dup(follower), "w") as stream:
            assert os.get_terminal_size(stream.fileno()).columns == 0
            progress = Progress(300, "4k.mp4", stream=stream)
            assert progress.bar is None
            progress.close()
    finally:
        os.close(follower)
        os.close(leader)
