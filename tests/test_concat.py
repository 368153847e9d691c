"""Where ``--concat`` puts each file's pictures and sound at a join (:mod:`roadseg.pipeline.sources.concat`)."""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import add_captions, add_telemetry, split_frames, write_video

import roadseg
from roadseg.cli import segment_video_cmd
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


def _samples(path: Path) -> list[tuple[int, int, bytes]]:
    """(start ms, duration ms, payload) of ``path``'s data or subtitle samples, in order (not mp4's empty cues)."""
    with av.open(str(path)) as c:
        (stream,) = [s for s in c.streams if s.type in ("data", "subtitle")]
        return [(round(p.pts * p.time_base * 1000), round(p.duration * p.time_base * 1000), bytes(p).lstrip(b"\0\4"))
                for p in c.demux(stream) if p.pts is not None and bytes(p) != b"\0\0"]  # fmt: skip


def _joined(rule_onnx, tmp_path: Path, files: list[Path]) -> tuple[Path, list[float], list[str]]:
    """``files`` (of one folder) joined with --concat into an output of their suffix: it, its pictures' times and the
    lines said (but the sound's overlap at each join, told of as for files without telemetry)."""
    out = tmp_path / f"joined{files[0].suffix}"
    r = CliRunner().invoke(segment_video_cmd, [str(files[0].parent), "-o", str(out), "--model", str(rule_onnx), "-q",
                                               "--concat"])  # fmt: skip
    assert r.exit_code == 0, r.output
    with av.open(str(out)) as c:
        pictures = sorted(float(f.time) for f in c.decode(video=0))
    return out, pictures, [line for line in r.output.splitlines()[:-1] if "overlap" not in line]


@pytest.mark.parametrize("ext, track", [("mp4", "data"), ("mp4", "subtitle"), ("mkv", "subtitle")])
def test_a_file_whose_telemetry_runs_past_its_pictures_is_joined_at_one_frame_step_keeping_every_sample(
        rule_onnx, tmp_path, ext, track):  # fmt: skip
    # 1-s files whose last GPMF sample (0.5 s) or GPS caption (0.2 s) runs 0.3 s or 0.1 s past the pictures. Was: the
    # next file's first picture that much more than a frame step after the last one before it, where FFmpeg's length of
    # the file ends. Now a frame step; the sample that ran on is cut to end where the next file's first one starts (mp4
    # cut a data sample so itself, but put a caption that started before the last one's end 0.101 s after it)
    drive = tmp_path / "drive"
    drive.mkdir()
    base = write_video(tmp_path / f"base.{ext}", split_frames(25), audio_seconds=1.0)
    if track == "data":
        add_telemetry(base, drive / "a.mp4", [(0, b"GPMF0"), (400, b"GPMF1"), (800, b"GPMF2")])
        runs = [(0, 400, b"GPMF0"), (400, 400, b"GPMF1"), (800, 200, b"GPMF2")]
    else:
        add_captions(base, drive / f"a.{ext}", [(0, b"GPS0"), (500, b"GPS1"), (900, b"GPS2")])
        runs = [(0, 200, b"GPS0"), (500, 200, b"GPS1"), (900, 100, b"GPS2")]
    for name in "bc":
        shutil.copy(drive / f"a.{ext}", drive / f"{name}.{ext}")
    out, pictures, lines = _joined(rule_onnx, tmp_path, sorted(drive.iterdir()))
    assert len(pictures) == 75 and np.allclose(np.diff(pictures), 0.04, atol=0.002), np.diff(pictures)[[24, 49]]
    samples = _samples(out)
    expected = [(t + 1000 * k, d, b) for k in range(3) for t, d, b in runs]
    assert samples[:-1] == expected[:-1] and samples[-1][::2] == expected[-1][::2], samples  # (the last: its own end)
    assert lines == [], lines


def test_a_telemetry_sample_that_starts_past_the_pictures_is_followed_by_the_next_files_first_one(rule_onnx, tmp_path):
    # a file of 0.4 s whose second GPMF sample starts at 0.45 s: the next file's first one (0.4 s) starts before it.
    # Was (the file spanned by its pictures and sound alone): that one refused by the mp4 muxer, "dropped 1 data packets
    # ... (damaged timing)"; then (spanned by its telemetry too, as FFmpeg's length of it) the pictures 0.59 s apart
    # there. Now a frame step, and that sample put a millisecond after the one before it: 0.051 s after its picture
    drive = tmp_path / "drive"
    drive.mkdir()
    base = write_video(tmp_path / "base.mp4", split_frames(10), audio_seconds=0.4)
    add_telemetry(base, drive / "a.mp4", [(0, b"GPMF0"), (450, b"GPMF1")])
    shutil.copy(drive / "a.mp4", drive / "b.mp4")
    out, pictures, lines = _joined(rule_onnx, tmp_path, sorted(drive.iterdir()))
    assert len(pictures) == 20 and np.allclose(np.diff(pictures), 0.04, atol=0.002), np.diff(pictures)
    assert [(t, b) for t, _, b in _samples(out)] == [(0, b"GPMF0"), (450, b"GPMF1"), (451, b"GPMF0"), (850, b"GPMF1")]
    assert lines == ["roadseg: 1 data packet started before the one before (where files join, or its timing is "
                     "damaged): placed just after it, up to 0.051 s later; every one is kept"], lines  # fmt: skip


def test_an_mkv_whose_caption_runs_past_its_pictures_and_has_a_length_of_its_own_is_joined_at_one_frame_step(tmp_path):
    # FFmpeg gives a 12-s Matroska file's caption stream a length of its own (its last cue's end), its video and sound
    # none but their DURATION tags: was, the latest tag (the sound's, 12.03 s) taken for damaged where FFmpeg's length
    # of the file (the caption's, 12.1 s) differs, and FFmpeg's span kept: the next file's first picture 0.14 s on
    drive = tmp_path / "drive"
    drive.mkdir()
    base = write_video(tmp_path / "base.mkv", split_frames(300), audio_seconds=12.0)
    add_captions(base, drive / "a.mkv", [(500, b"GPS0"), (11900, b"GPS1")])
    shutil.copy(drive / "a.mkv", drive / "b.mkv")
    with av.open(str(drive / "a.mkv")) as c:
        assert c.streams.subtitles[0].duration and c.streams.video[0].duration is None  # (what the case is)
    with concat_source(drive) as s:
        pictures = [f.time for f in s if isinstance(f, Frame)]
    assert len(pictures) == 600 and np.allclose(np.diff(pictures), 0.04, atol=0.002), np.diff(pictures)[297:302]


@pytest.mark.parametrize("rotation", [90, 180])
def test_a_file_turned_otherwise_is_left_out_of_the_join_and_written_apart_by_batch(rule_onnx, tmp_path, rotation):
    # a phone's clip and the same clip with a rotation tag. Was: joined, the turned one written as the first file is
    # shown (sideways, or upside down), without a line; a file of another size was left out with one
    drive = tmp_path / "card/drive"
    drive.mkdir(parents=True)
    files = [write_video(drive / f"{name}.mp4", split_frames(10)) for name in "ab"]
    files.append(write_video(drive / "c.mp4", split_frames(10), rotation=rotation))
    out, pictures, lines = _joined(rule_onnx, tmp_path, files)
    turn = read_turn(files[2])
    assert turn in (rotation, 360 - rotation) and len(pictures) == 20, (turn, pictures)
    assert lines == [f"roadseg: left out of the join: 1 file of another camera or format (h264 64x48 turned {turn}°, "
                     "audio none, where the others are h264 64x48, audio none): c.mp4"], lines  # fmt: skip
    summary = roadseg.batch(tmp_path / "card", tmp_path / "out", model=str(rule_onnx), concat=True, quiet=True)
    assert (summary.ok, summary.error) == (2, 0)
    outs = {p.name: p for p in (tmp_path / "out/drive").iterdir()}
    assert sorted(outs) == ["a.mp4", "c.mp4"]
    with av.open(str(outs["c.mp4"])) as c:
        assert c.streams.video[0].codec_context.height == (64 if rotation == 90 else 48)  # (written upright)
        assert sum(1 for _ in c.decode(video=0)) == 10


def read_turn(path: Path) -> int:
    """The degrees (counterclockwise) ``path``'s first picture is turned by as FFmpeg decodes it."""
    with av.open(str(path)) as c:
        return round(next(c.decode(video=0)).rotation) % 360
