"""Frames lost in a --start/--duration window are counted as the whole file's run counts them: a step in the file's
own timeline that the whole run does not count (no picture there, none lost) is not counted in a window over it either,
and a picture truly lost in the window still is."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from click.testing import CliRunner
from conftest import split_frames, write_video
from test_robustness import _blocks_dropped

from roadseg.cli import segment_video_cmd
from roadseg.pipeline.outcome import told_lost
from roadseg.pipeline.sources.file import VideoSource

#: 50 pictures at 25 frames/s, the 21st to the last stamped 5 frame steps late: a step of 0.24 s after 0.76 s with
#: no picture in it (none lost: the file holds 50 and 50 decode)
GAPPED = [i if i <= 19 else i + 5 for i in range(50)]


def _told(path: Path, **window) -> tuple[int, int | None]:
    """(frames told lost, frames expected) of ``path`` read through ``window``, as a run tells them."""
    with VideoSource(str(path), audio=False, **window) as source:
        frames = sum(1 for item in source if not isinstance(item, av.Packet))
        return told_lost(source.expected_frames(), frames, source.lost)


WINDOWS = [{}, {"start": 0.5, "duration": 1.0}, {"start": 0.5}, {"duration": 1.2}, {"start": 1.5, "duration": 0.5},
           {"start": 0.2, "duration": 0.5}]


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".ts"])
@pytest.mark.parametrize("window", WINDOWS)
def test_a_window_over_a_step_in_the_files_own_timeline_tells_nothing_lost(tmp_path, suffix, window):
    # was (mp4, which counts its pictures): '3 of about 23 frames could not be decoded' over 0.5-1.5 s, 20 of 20
    # decoded; the window's frames were counted at the file's average rate, which spreads the step over it all
    src = write_video(tmp_path / f"gap{suffix}", split_frames(50, h=48, w=64), pts=GAPPED)
    assert _told(src, **window)[0] == 0, window


@pytest.mark.parametrize("codec,options", [("libx264", {"g": "20", "sc_threshold": "0"}), ("mpeg4", {})],
                         ids=["h264-keyframe-after", "mpeg4"])  # fmt: skip
@pytest.mark.parametrize("window", WINDOWS)
def test_a_window_over_a_step_to_a_keyframe_or_of_a_codec_unnumbered_tells_nothing_lost(tmp_path, codec, options,
                                                                                          window):  # fmt: skip
    # the step's next picture a keyframe (a camera that paused starts again at one), or no H.264 numbers to follow:
    # no pause was found in an mp4 (was: '3 of about 23' over 0.5-1.5 s), though its count holds no picture there
    src = (_encoded(tmp_path / "gap.mp4", options) if options else
           write_video(tmp_path / "gap.mp4", split_frames(50, h=48, w=64), pts=GAPPED, codec=codec))  # fmt: skip
    assert _told(src, **window)[0] == 0, window


def _encoded(path: Path, options: dict) -> Path:
    """:data:`GAPPED`'s pictures in H.264 with the encoder's ``options``."""
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt, vs.options = 64, 48, "yuv420p", {"preset": "ultrafast", **options}
        for pts, img in zip(GAPPED, split_frames(50, h=48, w=64), strict=True):
            vf = av.VideoFrame.from_ndarray(img, format="rgb24")
            vf.pts = pts
            out.mux(vs.encode(vf))
        out.mux(vs.encode(None))
    return path


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_a_picture_lost_in_a_window_over_a_step_is_still_told(tmp_path, suffix):
    # the 31st picture's block left out (1.24 s, after the step): H.264's numbers mark it, in the whole file as in
    # a window over both the step and the loss; a window that ends before the loss tells nothing
    src = write_video(tmp_path / f"gap{suffix}", split_frames(50, h=48, w=64), pts=GAPPED)
    damaged = _blocks_dropped(src, tmp_path / f"d{suffix}", {30})
    assert _told(damaged)[0] == 1
    assert _told(damaged, start=0.5, duration=1.0)[0] == 1
    assert _told(damaged, start=0.2, duration=0.9)[0] == 0


def test_a_cut_over_a_step_says_nothing_lost(rule_onnx, tmp_path):
    # the user's trial: a 320x180 clip, `--start 0.5 --duration 1` (was: '2 of about 22 frames could not be decoded')
    src = write_video(tmp_path / "small.mp4", split_frames(50, h=180, w=320), pts=GAPPED)
    r = CliRunner().invoke(segment_video_cmd, [str(src), "-o", str(tmp_path / "o.mp4"), "--model", str(rule_onnx), "-q",
                                               "--start", "0.5", "--duration", "1"])  # fmt: skip
    assert r.exit_code == 0 and "could not be decoded" not in r.output, r.output


def test_pictures_damaged_just_past_a_windows_end_are_not_its_loss(tmp_path):
    # an mp4 window read on 10 pictures past its end (pictures shown after their packets: PAST_END), those 6-8 frames
    # past it damaged: not the window's (was: '3 of about 28 frames could not be decoded' of its 25, all out, as
    # they lay within BEYOND's 1 s); the last 2 of the window's damaged (and the one after), they still are
    made = write_video(tmp_path / "made.mp4", split_frames(50, h=48, w=64))
    for first, told in ((31, False), (23, True)):
        src = _damaged(made, tmp_path / f"d{first}.mp4", first)
        assert (_told(src, duration=1.0)[0] >= 2) if told else _told(src, duration=1.0)[0] == 0, first


def test_pictures_damaged_at_a_files_end_past_a_windows_end_are_not_its_loss(tmp_path):
    # a window of 0-1.6 s of a 2 s mp4 is read on to the file's end (PAST_END), whose last 3 pictures (7-9 frame steps
    # past the window) are damaged: the drain at the end refuses what it holds, after their packets went in past the
    # window's margin, so it is none of the window's loss (_past's drain; was told 1 of about 41 where it counted); the
    # whole file tells all 3
    made = write_video(tmp_path / "made.mp4", split_frames(50, h=48, w=64))
    src = _damaged(made, tmp_path / "d47.mp4", 47)
    assert _told(src, duration=1.6) == (0, 40)
    assert _told(src)[0] == 3


def _damaged(made: Path, path: Path, first: int) -> Path:
    """``made`` (25 frames/s) copied to ``path`` with the pictures ``first`` to ``first + 2`` (by their time) replaced
    by a slice that does not decode."""
    with av.open(str(made)) as c, av.open(str(path), "w") as out:
        stream = out.add_stream_from_template(c.streams.video[0])
        for packet in (p for p in c.demux() if p.size):
            damaged = first <= round(packet.pts * packet.time_base * 25) < first + 3
            copy = av.Packet(b"\0\0\0\1\x41\xff\xff" if damaged else bytes(packet))
            copy.stream, copy.pts, copy.dts, copy.time_base = stream, packet.pts, packet.dts, packet.time_base
            copy.is_keyframe = packet.is_keyframe
            out.mux(copy)
    return path
