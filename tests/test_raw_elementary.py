"""Raw elementary streams other than H.264/HEVC (``.m2v``, ``.m1v``, raw MPEG-4 part 2, MJPEG), which hold no
timestamps: FFmpeg's raw demuxers state 25 frames/s (their ``-framerate``) whatever the sequence header says, and its
parser guesses timestamps for their packets (raw MPEG-2's a frame late, raw MPEG-1's skipping a frame where its probe
ends). Read at the one rate of a raw stream (``framerates.untimed_rate``: the header's, else 25), their pictures placed
by their count, as a raw H.264 stream's are (``sources.untimed.Untimed``)."""

import math
from fractions import Fraction

import av
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import encode_numbered, encode_pictures

from roadseg.cli import segment_video_cmd
from roadseg.pipeline import SegmentOptions, run
from roadseg.pipeline.inputs import find_videos
from roadseg.pipeline.outcome import told_lost
from roadseg.pipeline.sources import VideoSource
from roadseg.pipeline.sources.base import Frame

PICTURES = 60
#: (encoder, FFmpeg's raw muxer, options) by suffix: MPEG-2 with and without B-frames, MPEG-1, MPEG-4 part 2 with
#: B-frames, and MJPEG, whose JPEG pictures state no rate (read at 25)
ENCODERS = {
    ".m2v": ("mpeg2video", "mpeg2video", {}),
    ".mpv": ("mpeg2video", "mpeg2video", {"bf": "2", "g": "12"}),
    ".m1v": ("mpeg1video", "mpeg1video", {}),
    ".m4v": ("mpeg4", "m4v", {"bf": "2", "g": "12"}),
    ".mjpeg": ("mjpeg", "mjpeg", {}),
}


def _elementary(path, rate):
    """:data:`PICTURES` pictures, each unlike the others, in a raw stream of ``path``'s suffix stating ``rate``."""
    codec, muxer, options = ENCODERS[path.suffix]
    with av.open(str(path), "w", format=muxer) as out:
        vs = out.add_stream(codec, rate=rate, options=options)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuvj420p" if codec == "mjpeg" else "yuv420p"
        encode_numbered(out, vs, PICTURES, 4)
    return path


@pytest.fixture(scope="module")
def elementary(tmp_path_factory):
    """:func:`_elementary` of a suffix and rate, made once, its pictures decoded whole (RGB) and the rate it is read
    at."""
    made, folder = {}, tmp_path_factory.mktemp("elementary")

    def raw(suffix, rate):
        if (suffix, rate) not in made:
            path = _elementary(folder / f"cam{len(made)}{suffix}", rate)
            with av.open(str(path)) as c:
                made[suffix, rate] = path, [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        return (*made[suffix, rate], Fraction(25) if suffix == ".mjpeg" else rate)

    return raw


def test_ffmpeg_states_25_frames_per_second_for_them_and_guesses_their_timestamps(elementary):
    # (what the fix is for: the raw demuxer's 25, and its parser's stamps, MPEG-2's a frame late, MPEG-1's a hole)
    for suffix in ".m2v", ".m1v", ".m4v":
        with av.open(str(elementary(suffix, Fraction(30))[0])) as c:
            v = c.streams.video[0]
            assert (v.average_rate, v.codec_context.framerate) == (25, 30)
            stamps = sorted(p.pts for p in c.demux(v) if p.size)
        assert len(stamps) == PICTURES
        if suffix != ".m4v":
            assert stamps != [n * 40000 for n in range(PICTURES)], suffix  # (1/1200000 s ticks: 40000 a frame)


@pytest.mark.parametrize("suffix", list(ENCODERS))
@pytest.mark.parametrize("rate", [Fraction(30), Fraction(24)])
@pytest.mark.parametrize("container", ["mp4", "mkv"])
def test_a_raw_elementary_stream_is_written_at_the_rate_its_header_states(rule_onnx, tmp_path, elementary, suffix,
                                                                           rate, container):  # fmt: skip
    # was: stated at 25 frames/s (a .m2v at 30: its 2 s lasted 2.04 s in the mkv, stated at 25, its first picture at
    # 1/30 s; a .m1v's pictures a frame apart but for one hole of two)
    path, _, rate = elementary(suffix, rate)
    out = tmp_path / f"o.{container}"
    r = CliRunner().invoke(segment_video_cmd, [str(path), "-o", str(out), "--model", str(rule_onnx), "-q"])
    assert r.exit_code == 0 and r.output.startswith("wrote ") and len(r.output.splitlines()) == 1, r.output
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        times = [float(f.time) for f in c.decode(v)]
        assert v.average_rate == rate and c.duration / av.time_base == pytest.approx(PICTURES / rate, abs=1e-3)
    assert times == pytest.approx([n / rate for n in range(PICTURES)], abs=1e-3), times


@pytest.mark.parametrize("suffix", list(ENCODERS))
@pytest.mark.parametrize(("start", "duration"), [(0, 1), (0.5, 1), (1.1, None)])
def test_a_raw_elementary_streams_window_is_its_pictures_at_its_rate(elementary, suffix, start, duration):
    # (as a raw H.264 stream's: read up to --start, its pictures counted)
    path, pictures, rate = elementary(suffix, Fraction(30))
    assert len(pictures) == PICTURES
    with VideoSource(str(path), audio=False, start=start, duration=duration) as src:
        frames = [item for item in src if isinstance(item, Frame)]
        assert (src.info.fps, src.info.timed_fps) == (rate, rate)
        expected = src.expected_frames()
        skipped = src._untimed._skipped  # (packets before the keyframe before --start's, not decoded: not where a
    # keyframe's group shows pictures before it, an open MPEG-2 group's, nor raw MPEG-4's, decoded from its start)
    assert bool(skipped) == (start > 0 and suffix in (".m2v", ".m1v", ".mjpeg")), skipped
    first = math.ceil(start * rate - 1e-6)
    last = PICTURES if duration is None else min(PICTURES, math.ceil((start + duration) * rate - 1e-6))
    assert (len(frames), expected, src.lost) == (last - first, last - first, 0)
    for n, frame in enumerate(frames):  # (the pictures at their place: the same as decoded whole)
        assert np.array_equal(frame.image, pictures[first + n]), (first, n)
        assert frame.time == pytest.approx((first + n) / rate - start, abs=1e-6)  # (from --start)


def test_raw_mpeg_streams_are_taken_by_a_glob(tmp_path, elementary):
    # (as raw H.264 is: named or matched by a glob, not in a folder search; was: .m2v matched by no glob)
    for suffix in ".m2v", ".mpv", ".m1v", ".mjpeg":
        (tmp_path / f"cam{suffix}").write_bytes(elementary(suffix, Fraction(30))[0].read_bytes())
    found = [v.rel.as_posix() for v in find_videos([str(tmp_path / "cam.*")])]
    assert found == ["cam.m1v", "cam.m2v", "cam.mjpeg", "cam.mpv"]
    assert find_videos([tmp_path]) == []


@pytest.mark.parametrize("suffix", [".m2v", ".m1v"])
def test_a_raw_elementary_stream_played_live_is_recorded_at_its_rate(rule_onnx, tmp_path, elementary, suffix):
    # (paced by its pictures' count, recorded at their place: was, once read at its header's rate, recorded at the
    # times FFmpeg's parser guessed, a frame late, or a frame on past its probe, off the count: two pictures 0.002 s
    # apart, a step of two frames)
    path, _, rate = elementary(suffix, Fraction(30))
    out = tmp_path / "r.mp4"
    stats = run(SegmentOptions(str(path), live=True, model=str(rule_onnx), output=str(out), device="cpu")).as_dict()
    with av.open(str(out)) as c:
        stream = c.streams.video[0]
        times = sorted(p.pts * p.time_base for p in c.demux(stream) if p.pts is not None)
    assert len(times) == stats["frames"] > 10
    steps = [(b - a) * rate for a, b in zip(times, times[1:])]  # (in frames: whole ones, where the model skipped)
    assert all(s == round(s) >= 1 for s in steps), steps
    assert times[-1] - times[0] == pytest.approx((PICTURES - 1) / rate, abs=0.5 / rate)  # (the last picture is kept)


def test_a_raw_h263_stream_cut_with_start_is_decoded_from_its_start(tmp_path):
    # (FFmpeg's raw H.263 parser takes every picture for a keyframe: decoded from the one before --start, a P-picture
    # without the pictures it refers to, its pictures were noise, 109 of 255 off the same ones decoded whole)
    path = tmp_path / "cam.h263"
    with av.open(str(path), "w", format="h263") as out:
        vs = out.add_stream("h263", rate=30)
        vs.width, vs.height, vs.pix_fmt = 128, 96, "yuv420p"
        noise = np.random.default_rng(1).integers(0, 255, (96, 128, 3), np.uint8)
        encode_pictures(out, vs, (np.roll(noise, 2 * i, 1) for i in range(40)))
    with VideoSource(str(path), audio=False) as src:
        whole = [item.image for item in src if isinstance(item, Frame)]
    with VideoSource(str(path), audio=False, start=0.5) as src:
        cut = [item.image for item in src if isinstance(item, Frame)]
    assert (len(whole), len(cut)) == (40, 25)  # (at 30000/1001 frames/s, as H.263 states: from picture 15)
    assert all(np.array_equal(a, b) for a, b in zip(cut, whole[15:], strict=True))


def _mid_gop_dump(path, first: str, pictures: int = 80):
    """A raw MPEG-4 stream with B-frames cut as a DVR's dump begun mid-recording: ``pictures`` packets from the first
    whose VOP is of coding type ``first`` ("P" or "B") past the start, a P one's ending before a reference picture
    (its pictures one after the other); (the pictures of the whole stream decoded (RGB), the numbers of the dump's
    pictures in the order they show, the number of the first I-picture's)."""
    whole = path.with_name("whole.m4v")
    with av.open(str(whole), "w", format="m4v") as out:
        vs = out.add_stream("mpeg4", rate=25, options={"bf": "1", "g": "12"})  # (a B-picture between references)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        encode_numbered(out, vs, pictures + 40, 2)
    with av.open(str(whole)) as c:
        packets = [(bytes(p), round(p.pts * p.time_base * 25)) for p in c.demux(video=0) if p.size]
    with av.open(str(whole)) as c:
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    kind = [data[data.find(b"\0\0\1\xb6") + 4] >> 6 for data, _ in packets]  # (0 I, 1 P, 2 B)
    ends = [n for n in range(10, len(packets) - pictures) if kind[n + pictures] < 2 or first == "B"]
    cut = next(n for n in ends if kind[n] == "IPB".index(first))
    path.write_bytes(b"".join(data for data, _ in packets[cut : cut + pictures]))
    shown = sorted(number for _, number in packets[cut : cut + pictures])
    return decoded, shown, next(packets[n][1] for n in range(cut, cut + pictures) if kind[n] == 0)


@pytest.mark.parametrize("first", ["P", "B"])
def test_a_raw_mpeg4_dump_begun_mid_gop_expects_its_pictures_and_keeps_them_at_their_place(tmp_path, first):
    # FFmpeg's MPEG-4 decoder gives out a grey picture it made to stand in for the first P-picture's missing
    # reference: counted, 81 frames were expected of 80 pictures; and its first B-picture, its references missing,
    # gives no frame (78 expected, the stand-in counted). The demuxer's start, its parser's guess from the first
    # picture's own time (0.52 s), was the file's, and the pictures, placed from 0 by their count, were left out up
    # to it, 9 that decode whole too ("13 of about 81 frames could not be decoded": 68 kept, from the 9th picture
    # after the keyframe; B first: "9 of about 78", 69 kept; then each picture after the first keyframe placed as many
    # frames early as the B-pictures the decoder gave none for, by their count, not where they show)
    decoded, shown, keyframe = _mid_gop_dump(tmp_path / "dvr.m4v", first)
    assert first == "B" or shown == list(range(shown[0], shown[0] + 80))  # (80 pictures, none missing)
    with VideoSource(str(tmp_path / "dvr.m4v"), audio=False) as src:
        frames = [item for item in src if isinstance(item, Frame)]
        expected = src.expected_frames()
    assert expected == 80, expected
    if first == "P":  # (the first B-pictures, shown before it, decode with a grey stand-in for their reference)
        assert [frame.time for frame in frames] == pytest.approx([n / 25 for n in range(80)])
        for n, frame in enumerate(frames):  # (each at its picture's place: from the keyframe on, as decoded whole)
            assert shown[n] < keyframe or np.array_equal(frame.image, decoded[shown[n]]), n
    else:  # (those the decoder gives no frame for are told lost, and leave their place empty)
        assert 75 < len(frames) < 80 and told_lost(expected, len(frames), src.lost) == (80 - len(frames), 80)
        places = [round(frame.time * 25) for frame in frames]
        assert places == sorted(set(places)) and places[-1] == 79, places
        for place, frame in zip(places, frames):  # (each at its picture's place: from the keyframe on, decoded whole)
            assert shown[place] < keyframe or np.array_equal(frame.image, decoded[shown[place]]), place
