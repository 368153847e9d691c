"""Where ``--concat`` puts each file's pictures and sound at a join (:mod:`roadseg.pipeline.sources.concat`)."""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import add_telemetry, split_frames, write_video

from roadseg.pipeline import segment_video
from roadseg.pipeline.sources import Frame
from roadseg.pipeline.sources.concat import concat_source


def _pictures_and_sound(path: Path) -> tuple[list[float], list[float]]:
    """The times (seconds) of ``path``'s pictures, in order, and of its audio packets."""
    with av.open(str(path)) as c:
        pictures = sorted(float(f.time) for f in c.decode(video=0))
    with av.open(str(path)) as c:
        sound = [float(p.pts * p.time_base) for p in c.demux(audio=0) if p.pts is not None] if c.streams.audio else []
    return pictures, sound


@pytest.mark.parametrize("ext", ["mp4", "ts", "mkv"])
@pytest.mark.parametrize("audio", [False, True], ids=["silent", "sound"])
@pytest.mark.parametrize("fps", [Fraction(25), Fraction(30000, 1001)], ids=["25", "29.97"])
def test_two_copies_of_a_file_joined_go_on_at_one_frame_step_with_their_sound_in_step(rule_onnx, tmp_path, ext, audio,
                                                                                      fps):  # fmt: skip
    # was (a TS with sound): the next file's first picture 64 ms after the last one before it at 25 frames/s (65 ms at
    # 29.97): FFmpeg's length of a file runs from its sound's first stamp, an AAC frame of priming before its first
    # picture, to its sound's end, the padding of its last frame after its last picture, and the concat demuxer starts
    # the next file there; an mkv with sound 61 ms (its padding: its streams have no length but a tag's)
    drive, step = tmp_path / "drive", 1 / float(fps)
    drive.mkdir()
    first = write_video(drive / f"a.{ext}", split_frames(25, h=48, w=64), fps=fps, audio_seconds=25 * step if audio else 0,
                        offset=10.0 if ext == "ts" else 0.0)  # fmt: skip
    shutil.copy(first, drive / f"b.{ext}")
    alone, out = tmp_path / "alone.mp4", tmp_path / "joined.mp4"
    segment_video(first, alone, model=rule_onnx, quiet=True)
    segment_video(drive, out, model=rule_onnx, quiet=True, concat=True)
    pictures, sound = _pictures_and_sound(out)
    assert len(pictures) == 50 and np.allclose(np.diff(pictures), step, atol=0.002), np.diff(pictures)[22:27]
    if not audio:
        return
    own, own_sound = _pictures_and_sound(alone)
    kept = [t - pictures[25] for t in sound if t >= pictures[25]]  # (the next file's)
    assert kept and all(min(abs(t - (s - own[0])) for s in own_sound) < 0.002 for t in kept), kept[:3]  # in step
    frame = 1024 / 48000
    assert all(-0.002 < b - a <= frame + 0.002 for a, b in zip(sound, sound[1:])), np.diff(sound)  # no gap, overlap


@pytest.mark.parametrize("fps", [Fraction(25), Fraction(30000, 1001)], ids=["25", "29.97"])
def test_a_silent_transport_stream_of_one_picture_lasts_a_frame_step_in_a_join(tmp_path, fps):
    # was: the next file's first picture 0.02 s after it at 25 frames/s (0.0167 s at 29.97): FFmpeg's length of one
    # H.264 picture is one step at its guess of the rate, twice the picture's (x264's header times fields); its codec
    # states the picture's (its one packet lasts a frame step)
    drive, step = tmp_path / "drive", 1 / float(fps)
    drive.mkdir()
    write_video(drive / "a.ts", split_frames(1, h=48, w=64), fps=fps, offset=10.0)
    write_video(drive / "b.ts", split_frames(10, h=48, w=64), fps=fps, offset=10.0 + step)
    with concat_source(drive) as s:
        pictures = [f.time for f in s if isinstance(f, Frame)]
    assert len(pictures) == 11 and np.allclose(np.diff(pictures), step, atol=0.002), np.diff(pictures)


def test_a_silent_mkv_whose_video_end_tag_is_damaged_is_joined_by_ffmpegs_length(tmp_path):
    # a Matroska file's streams have no length in FFmpeg but the end their muxer tags each with (DURATION), which the
    # join takes where the latest of them is FFmpeg's length of the file; a damaged one is not (here the video's said
    # 0.2 s of 1 s: the next file would start over the first one's last 0.8 s)
    drive = tmp_path / "drive"
    drive.mkdir()
    first = write_video(drive / "a.mkv", split_frames(25, h=48, w=64))  # (silent: a sound would span it)
    data = first.read_bytes()
    assert data.count(b"00:00:01.000000000") == 1
    first.write_bytes(data.replace(b"00:00:01.000000000", b"00:00:00.200000000"))
    shutil.copy(first, drive / "b.mkv")
    with concat_source(drive) as s:
        pictures = [f.time for f in s if isinstance(f, Frame)]
    assert len(pictures) == 50 and all(0.03 < step < 0.07 for step in np.diff(pictures)), np.diff(pictures)


def test_a_telemetry_sample_that_runs_past_the_pictures_keeps_its_place_in_a_join(rule_onnx, tmp_path):
    # a file of 0.4 s whose second GPMF sample starts at 0.45 s: the next file starts where it ends, as FFmpeg's length
    # of the file says (the pictures 0.59 s apart there), so that every sample is kept in order. Spanned by its pictures
    # and sound alone, the next file's first sample (0.4 s) came before it: refused by the mp4 muxer, "dropped 1 data
    # packets ... (damaged timing)"
    drive = tmp_path / "drive"
    drive.mkdir()
    base = write_video(tmp_path / "base.mp4", split_frames(10), audio_seconds=0.4)
    add_telemetry(base, drive / "a.mp4", [(0, b"GPMF0"), (450, b"GPMF1")])
    shutil.copy(drive / "a.mp4", drive / "b.mp4")
    result = segment_video(drive, tmp_path / "o.mp4", model=rule_onnx, quiet=True, concat=True)
    with av.open(str(tmp_path / "o.mp4")) as c:
        samples = [(p.pts, bytes(p)) for p in c.demux(c.streams.data[0]) if p.pts is not None]
    assert result["data_dropped"] == 0 and samples == [(0, b"GPMF0"), (450, b"GPMF1"), (950, b"GPMF0"), (1400, b"GPMF1")]
