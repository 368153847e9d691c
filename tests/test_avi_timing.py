"""Where a player (FFmpeg's reading, as ffplay and PyAV do) puts an AVI output's pictures against its sound."""

from fractions import Fraction

import av
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import split_frames, write_video

from roadseg.cli import segment_video_cmd


def _first_times(path) -> tuple[float, float]:
    """The first picture's and the first sound's time (s), as FFmpeg decodes them."""
    with av.open(str(path)) as c:
        picture = float(next(c.decode(video=0)).time)
    with av.open(str(path)) as c:
        sound = float(next(c.decode(audio=0)).time)
    return picture, sound


def _level(path) -> int:
    """The H.264 level (``level_idc``) ``path``'s stream is marked with: in its header's avcC (Matroska), else in the
    sequence parameter set before its first picture (AVI)."""
    with av.open(str(path)) as c:
        header = bytes(c.streams.video[0].codec_context.extradata or b"")
        data = bytes(next(p for p in c.demux(video=0) if p.size))
    if header[:1] == b"\x01":
        return header[3]
    return data[data.find(b"\x00\x00\x01\x67") + 6]


@pytest.mark.parametrize("fps", [None, "1"])
@pytest.mark.parametrize("suffix", [".avi", ".mkv", ".mp4", ".wmv", ".ogv", ".f4v", ".wtv"])
def test_the_first_picture_plays_with_the_sound_in_every_format(rule_onnx, tmp_path, fps, suffix):
    # FFmpeg read x264's pictures in an AVI a frame step after their place (its guess for H.264 without HRD timing):
    # the first picture played 0.04 s after the sound at 25 frames/s, and 1.0 s after it at --fps 1 (MPEG-4 part 2 and
    # the mkv/mp4 at 0)
    src = write_video(tmp_path / "cam.mkv", split_frames(25), audio_seconds=1.0, audio_codec="pcm_s16le")
    r = CliRunner().invoke(segment_video_cmd, [str(src), "-o", str(out := tmp_path / f"o{suffix}"), "--model",
                                               str(rule_onnx), "-q", *(["--fps", fps] if fps else [])])  # fmt: skip
    assert r.exit_code == 0, r.output
    picture, sound = _first_times(out)
    step = 1 / float(fps or 25)
    assert abs(picture - sound) <= step / 2, (picture, sound)
    assert picture == pytest.approx(0.0, abs=1e-3) and sound == pytest.approx(0.0, abs=1e-3)


@pytest.mark.parametrize("fps", [None, "1"])
def test_an_flv_outputs_first_picture_is_at_0_or_at_the_end_of_its_sounds_priming(rule_onnx, tmp_path, fps):
    # FLV's muxer starts the file at its first packet's decoding time: x264's B-pyramid put the first picture at 0.08 s
    # (2 s at --fps 1) and the AAC sound's priming (1024 samples before its start, which FLV cannot mark) at 0.059 s
    for name, seconds in (("silent", 0.0), ("sound", 1.0)):
        src = write_video(tmp_path / f"{name}.mkv", split_frames(25), audio_seconds=seconds, audio_codec="pcm_s16le")
        r = CliRunner().invoke(segment_video_cmd, [str(src), "-o", str(out := tmp_path / f"{name}.flv"), "--model",
                                                   str(rule_onnx), "-q", *(["--fps", fps] if fps else [])])  # fmt: skip
        assert r.exit_code == 0, r.output
        with av.open(str(out)) as c:
            priming = 1024 / c.streams.audio[0].rate if c.streams.audio else 0.0
            assert float(next(c.decode(video=0)).time) == pytest.approx(priming, abs=1e-3)
    assert _first_times(out)[1] == pytest.approx(0.0, abs=1e-3)


@pytest.mark.parametrize("suffix", [".wmv", ".asf"])
def test_an_asf_output_reads_back_its_pictures_in_order(rule_onnx, tmp_path, suffix):
    # ASF keeps a packet's presentation time only: x264's B-frames read back in decoding order (0.04, 0.08, 0.16,
    # 0.12, 0.28, 0.24 s), and without HRD timing every picture a frame step late
    texture = np.random.default_rng(0).integers(0, 256, (48, 96, 3), dtype=np.uint8)
    frames = [np.ascontiguousarray(np.roll(texture, 2 * i + i % 3, axis=1)[:, :64]) for i in range(30)]
    src = write_video(tmp_path / "cam.mp4", frames)
    r = CliRunner().invoke(segment_video_cmd, [str(src), "-o", str(out := tmp_path / f"o{suffix}"), "--model",
                                               str(rule_onnx), "-q"])  # fmt: skip
    assert r.exit_code == 0, r.output
    with av.open(str(out)) as c:
        times = [round(float(f.time), 3) for f in c.decode(video=0)]
    assert times == [round(i * 0.04, 3) for i in range(30)]


def test_a_variable_rate_ogv_shows_each_picture_at_its_place_on_the_frame_clock(rule_onnx, tmp_path):
    # an Ogg page's last picture alone carries its time (a count of frames), the others read back a frame apart before
    # it: on the input's 1/1000 clock FFmpeg read VP8's first two pictures at 0.039 and 0.04 s, later ones off the frame
    # clock (0.15, 0.19 s), 11 in 0.4 s. Now each goes at its place on the 1/25 clock, a gap filled with
    # the picture before; one whose place is taken (0.21 s, after 0.2) is left out
    vfr = [0, 40, 80, 110, 150, 200, 210, 250, 330, 400, 440]
    src = write_video(tmp_path / "vfr.mkv", split_frames(len(vfr)), pts=vfr, time_base=Fraction(1, 1000))
    r = CliRunner().invoke(segment_video_cmd, [str(src), "-o", str(out := tmp_path / "o.ogv"), "--model",
                                               str(rule_onnx), "-q"])  # fmt: skip
    assert r.exit_code == 0, r.output
    with av.open(str(out)) as c:
        shown = [(round(float(f.time), 3), f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]
    assert [t for t, _ in shown] == [round(i * 0.04, 3) for i in range(12)]
    rows = [int(np.argmax(image[:, 40, 1])) for _, image in shown]  # (the grey bar's row: which picture it is)
    assert rows == [3 * n for n in (0, 1, 2, 3, 4, 5, 7, 7, 8, 8, 9, 10)]


def test_an_avi_keeps_the_level_x264_marks_elsewhere(rule_onnx, tmp_path):
    # the HRD timing that has FFmpeg read H.264 at its place needs a VBV cap, from which x264 picks the level: a cap
    # that never binds (800 Mb/s) marked a 1280x720 stream 6.2 where it is 3.1, which some hardware decoders refuse
    frames = [np.full((720, 1280, 3), 40 * i, np.uint8) for i in range(3)]
    src = write_video(tmp_path / "hd.mkv", frames, audio_seconds=0.12, audio_codec="pcm_s16le")
    levels = {}
    for suffix in (".avi", ".mkv"):
        r = CliRunner().invoke(segment_video_cmd, [str(src), "-o", str(out := tmp_path / f"o{suffix}"), "--model",
                                                   str(rule_onnx), "-q"])  # fmt: skip
        assert r.exit_code == 0, r.output
        levels[suffix] = _level(out)
    assert levels == {".avi": 31, ".mkv": 31}
    assert _first_times(tmp_path / "o.avi")[0] == 0.0


def test_hrd_params_cap_at_the_level_and_profile_x264_picks():
    from roadseg.pipeline.sinks.hrd import hrd_params

    base = {"preset": "superfast", "crf": "23", "bf": "0"}
    assert hrd_params(base, 1280, 720, Fraction(25), "yuv420p") == "level=31:nal-hrd=vbr:vbv-maxrate=17500:vbv-bufsize=17500"
    # (4:4:4, High 4:4:4 Predictive: four times the Baseline limits)
    assert hrd_params(base, 64, 48, Fraction(25), "yuv444p").endswith(":vbv-maxrate=256:vbv-bufsize=700")


def test_a_lossless_avi_says_its_pictures_are_read_a_frame_late(rule_onnx, tmp_path):
    # x264's lossless H.264 (--crf 0) takes no VBV cap, so no HRD timing: FFmpeg reads each picture a frame step late
    # (0.04 s here; 1 s at --fps 1), which went unsaid. --crf 1 is read at its place
    src = write_video(tmp_path / "cam.mkv", split_frames(25), audio_seconds=1.0, audio_codec="pcm_s16le")
    for crf, late in (("0", True), ("1", False)):
        r = CliRunner().invoke(segment_video_cmd, [str(src), "-o", str(out := tmp_path / f"o{crf}.avi"), "--model",
                                                   str(rule_onnx), "--crf", crf])  # fmt: skip
        assert r.exit_code == 0, r.output
        assert _first_times(out)[0] == pytest.approx(0.04 if late else 0.0, abs=1e-3)
        assert ("carries no HRD timing" in r.output) == late, r.output
        assert r.output.count("carries no HRD timing") <= 1


@pytest.mark.parametrize("suffix, codec, kept", [(".mkv", "aac", "ac3"), (".ts", "aac", "aac"), (".mkv", "libopus", "ac3"),
                                                 (".mkv", "pcm_s16le", "pcm_s16le"), (".mkv", "ac3", "ac3"),
                                                 (".mkv", "mp2", "mp2")])  # fmt: skip
def test_a_wtv_outputs_sound_decodes_whole(rule_onnx, tmp_path, suffix, codec, kept):
    # FFmpeg reads a WTV's AAC packets back run together (0.4 s of an mkv's copied AAC as packets of 246 and 3550
    # bytes), which decode only ADTS-framed: a raw AAC copied or re-encoded there read back as 'Invalid data found when
    # processing input'. A transport stream's ADTS-framed AAC is copied, raw AAC goes in as AC-3 (WTV's own)
    src = write_video(tmp_path / f"cam{suffix}", split_frames(10), audio_seconds=0.4, audio_codec=codec)
    r = CliRunner().invoke(segment_video_cmd, [str(src), "-o", str(out := tmp_path / "o.wtv"), "--model",
                                               str(rule_onnx), "-q"])  # fmt: skip
    assert r.exit_code == 0, r.output
    with av.open(str(out)) as c:
        assert c.streams.audio[0].codec_context.name == kept
        assert sum(f.samples for f in c.decode(audio=0)) / c.streams.audio[0].rate >= 0.4
