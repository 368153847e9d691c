"""Interlaced input end to end: a camcorder's AVCHD .MTS (H.264 MBAFF, top or bottom field first), an older
camera's MPEG-2 with interlaced frames (.mpg, .ts, .mkv) and DV in AVI, segmented into each kind of output.

Each picture must come out once (not doubled as fields, not halved), at the frame rate (25 or 29.97, not the
field rate), with the sound in step, no frame told lost, and deinterlaced (FFmpeg's decoders hand out the two
fields woven in one frame flagged interlaced: every moving edge combed). What no encoder here writes is not
covered: H.264 PAFF (field pictures, each in its own slices: x264 codes MBAFF only) and MPEG-2 field pictures
(FFmpeg's mpeg2video codes frame pictures, with field DCT and motion by ``+ilme+ildct``)."""

from __future__ import annotations

import json
import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner

from roadseg.cli import segment_video_cmd

W, H = 96, 64
NTSC = Fraction(30000, 1001)
X264 = {"preset": "ultrafast", "crf": "12"}
MPEG2 = {"bf": "2", "g": "12", "flags": "+ilme+ildct"}
#: AVFieldOrder of a stream whose top field is shown first (TT, BT), and whose bottom is (BB, TB)
SHOWN_FIRST = {"top": (2, 5), "bottom": (3, 4)}


def _woven(i: int, w: int = W, h: int = H, first: str = "top") -> np.ndarray:
    """Frame ``i`` of a bar moving right 4 pixels a frame, its two fields a field's time apart (the ``first``
    field's bar at 20 + 4i, the other's 2 pixels on): the left half red (the rule model's Road), the bar green."""
    img = np.zeros((h, w, 3), np.uint8)
    img[:, : w // 2, 0] = 255
    lead = 0 if first == "top" else 1
    img[lead::2, 20 + 4 * i : 40 + 4 * i, 1] = 255
    img[1 - lead :: 2, 22 + 4 * i : 42 + 4 * i, 1] = 255
    return img


def _one_instant(i: int, w: int = W, h: int = H, first: str = "top") -> np.ndarray:
    """Frame ``i`` of a progressive picture (both fields one instant: PsF): grey, light above line 33 and dark
    from it (an edge either field alone blurs, a line of it made from the lines around it), a white bar below
    moving right 4 pixels a frame. (Grey: a colour's edge at one line is one in 4:2:0's chroma, which is two.)"""
    img = np.full((h, w, 3), 40, np.uint8)
    img[:33] = 200
    img[40:, 20 + 4 * i : 40 + 4 * i] = 255
    return img


def _interlaced(path: Path, codec: str, options: dict, *, rate: Fraction = Fraction(25), n: int = 25,
                audio: str | None = None, fmt: str | None = None, size: tuple[int, int] = (W, H),
                first: str = "top", picture=_woven) -> Path:  # fmt: skip
    """``n`` woven frames coded as interlaced (flagged so: the decoder says ``interlaced_frame``), the ``first``
    field shown first (the frames flagged so, as FFmpeg's ``setfield`` flags them: MPEG-2's encoder codes each
    picture's order from its frame's; x264 is told by its own options too), with a mono 48 kHz sine of the
    same length in ``audio`` if given. ``picture``: frame ``i``'s, :func:`_woven` or :func:`_one_instant`."""
    flagged = av.filter.Graph()
    flagged.link_nodes(flagged.add_buffer(width=size[0], height=size[1], format="yuv420p", time_base=1 / rate),
                       flagged.add("setfield", "tff" if first == "top" else "bff"), flagged.add("buffersink"))  # fmt: skip
    flagged.configure()
    with av.open(str(path), "w", format=fmt) as out:
        vs = out.add_stream(codec, rate=rate, options=options)
        vs.width, vs.height, vs.pix_fmt = *size, "yuv420p"
        aus = None
        if audio:
            aus = out.add_stream(audio, rate=48000)
            aus.layout = "mono"
        for i in range(n):
            vf = av.VideoFrame.from_ndarray(picture(i, *size, first), format="rgb24").reformat(format="yuv420p")
            vf.pts, vf.time_base = i, 1 / rate
            flagged.push(vf)
            out.mux(vs.encode(flagged.pull()))
        out.mux(vs.encode(None))
        if aus is not None:
            samples, chunk = round(48000 * n / rate), aus.codec_context.frame_size or 1024
            wave = (0.3 * np.sin(2 * np.pi * 440 * np.arange(samples) / 48000)).astype(np.float32)[None]
            fmt_ = aus.codec_context.codec.audio_formats[0].name
            wave = (wave * 32767).astype(np.int16) if fmt_ == "s16" else wave
            for s in range(0, samples, chunk):
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(wave[:, s : s + chunk]), format=fmt_, layout="mono")
                af.sample_rate, af.pts, af.time_base = 48000, s, Fraction(1, 48000)
                out.mux(aus.encode(af))
            out.mux(aus.encode(None))
    with av.open(str(path)) as c:
        order = c.streams.video[0].codec_context.field_order  # (FFmpeg tells DV's as unknown: 0)
        assert order in SHOWN_FIRST[first] or (codec == "dvvideo" and order == 0), order
        assert all(f.interlaced_frame for f in c.decode(video=0))
    return path


def _combed(img: np.ndarray) -> int:
    """Pixels of the green channel unlike both the rows above and below them, the same way (a comb's teeth)."""
    g = img[..., 1].astype(int)
    return int(((g[1:-1] - g[:-2]) * (g[1:-1] - g[2:]) > 60 * 60).sum())


def _played(path: Path) -> tuple[list[np.ndarray], list[float], Fraction, tuple[float, float] | None]:
    """An output as a player reads it: its frames, their times, its rate and where its sound lies."""
    with av.open(str(path)) as c:
        rate = c.streams.video[0].average_rate
        frames = list(c.decode(video=0))
        assert not any(f.interlaced_frame for f in frames)  # (progressive: a player deinterlaces nothing)
        images, times = [f.to_ndarray(format="rgb24") for f in frames], [float(f.time) for f in frames]
    with av.open(str(path)) as c:
        heard = [(float(f.time), f.samples / f.sample_rate) for f in c.decode(audio=0)] if c.streams.audio else []
    return images, times, rate, (heard[0][0], heard[-1][0] + heard[-1][1]) if heard else None


CASES = {  # name: (file, codec, options, rate, audio, container format[, size: DV's is PAL's own])
    "avchd-tff": ("camcorder.mts", "libx264", {**X264, "bf": "3", "g": "12", "x264-params": "interlaced=1:tff=1:pic-struct=1"},
                  Fraction(25), "aac", "mpegts"),  # fmt: skip
    "avchd-bff": ("camcorder.mts", "libx264", {**X264, "bf": "3", "g": "12", "x264-params": "interlaced=1:bff=1"},
                  Fraction(25), "aac", "mpegts"),  # fmt: skip
    "avchd-ntsc": ("camcorder.mts", "libx264", {**X264, "bf": "2", "g": "15", "x264-params": "interlaced=1:tff=1:pic-struct=1"},
                   NTSC, "aac", "mpegts"),  # fmt: skip
    "h264-mp4": ("phone.mp4", "libx264", {**X264, "bf": "3", "x264-params": "interlaced=1:tff=1"}, Fraction(25), "aac", None),
    "mpeg2-mpg": ("dvd.mpg", "mpeg2video", MPEG2, Fraction(25), "mp2", "mpeg"),
    "mpeg2-ntsc-mpg": ("dvd.mpg", "mpeg2video", {**MPEG2, "g": "15"}, NTSC, "mp2", "mpeg"),
    "mpeg2-bff-ts": ("broadcast.ts", "mpeg2video", MPEG2, Fraction(25), "aac", None),
    "mpeg2-mkv": ("tape.mkv", "mpeg2video", MPEG2, Fraction(25), None, None),
    "dv-avi": ("tape.avi", "dvvideo", {}, Fraction(25), "pcm_s16le", None, (720, 576)),
}
#: the cases whose bottom field is shown first (DV of standard definition is, by its standard)
BOTTOM_FIRST = {"avchd-bff", "mpeg2-bff-ts", "dv-avi"}


@pytest.mark.parametrize("case,output", [
    ("avchd-tff", "o.mp4"), ("avchd-bff", "o.mkv"), ("avchd-ntsc", "o.mxf"), ("avchd-ntsc", "live.mp4"),
    ("h264-mp4", "o.mkv"), ("mpeg2-mpg", "o.mp4"), ("mpeg2-ntsc-mpg", "o.mkv"), ("mpeg2-bff-ts", "o.mxf"),
    ("mpeg2-mkv", "live.mkv"), ("avchd-tff", "concat.mp4"), ("mpeg2-mpg", "concat.mkv"), ("dv-avi", "o.mp4"),
])  # fmt: skip
def test_interlaced_input_comes_out_once_a_picture_at_the_frame_rate(rule_onnx, tmp_path, case, output):
    name, codec, options, rate, audio, fmt, *size = CASES[case]
    n = round(rate)  # (a second)
    src = _interlaced(tmp_path / name, codec, options, rate=rate, n=n, audio=audio, fmt=fmt, size=(*size, (W, H))[0],
                      first="bottom" if case in BOTTOM_FIRST else "top")  # fmt: skip
    args, live, joined = [str(src)], output.startswith("live"), output.startswith("concat")
    if joined:  # (a camcorder's recording split in two files, read back to back)
        drive = tmp_path / "PRIVATE"
        drive.mkdir()
        for part in ("00000", "00001"):
            shutil.copy(src, drive / f"{part}{src.suffix}")
        args, n = [str(drive), "--concat"], 2 * n
    out, stats = tmp_path / output, tmp_path / "stats.json"
    r = CliRunner().invoke(segment_video_cmd, [*args, "-o", str(out), "--model", str(rule_onnx), "-q", "--stats",
                                               str(stats), *["--live"] * live])  # fmt: skip
    said = json.loads(stats.read_text())
    assert r.exit_code == 0 and "could not be decoded" not in r.output and said["frames_lost"] == 0, r.output
    images, times, out_rate, heard = _played(out)
    # every picture once: not doubled as fields nor halved (a live run may drop one when the cores are busy, and says so)
    assert len(images) == said["frames"] == n - said.get("dropped", 0) and said.get("dropped", 0) <= 2 * live, said
    assert out_rate == rate if not (live or joined) else abs(out_rate - rate) < 1, out_rate  # (not 50 or 59.94)
    steps = np.diff(times)
    assert abs(float(np.median(steps)) - 1 / rate) < 0.002, steps  # (a frame's step, not a field's)
    assert not any(_combed(img) for img in images), [_combed(img) for img in images]
    if audio:  # (the sound in step: it spans the pictures, within a frame or two of each end)
        assert heard is not None and abs(heard[0] - times[0]) < 0.05 and abs(heard[1] - times[-1] - 1 / rate) < 0.08, (
            heard, times[0], times[-1])


@pytest.mark.parametrize("rate", [Fraction(25), NTSC])
def test_a_header_that_states_the_field_rate_is_read_at_the_frame_rate(rule_onnx, tmp_path, rate):
    # an H.264 stream timed by the field (x264 given a field's time base: its header says 50 frames/s, FFmpeg's
    # average 50) whose pictures, two fields each, come a frame apart (FFmpeg's guess 25). Was: read at 50 frames/s,
    # 50 frames expected of 25, the .mkv stated at 50 frames/s and the .mp4 at 25.5 (its last picture a field long)
    from roadseg.pipeline.sources.base import VideoInfo

    src = tmp_path / "fields.mts"
    with av.open(str(src), "w", format="mpegts") as out:
        vs = out.add_stream("libx264", rate=rate, options={**X264, "bf": "2", "x264-params": "interlaced=1:tff=1"})
        vs.width, vs.height, vs.pix_fmt = W, H, "yuv420p"
        vs.codec_context.time_base = 1 / (2 * rate)
        for i in range(25):
            vf = av.VideoFrame.from_ndarray(_woven(i), format="rgb24")
            vf.pts, vf.time_base = 2 * i, 1 / (2 * rate)
            out.mux(vs.encode(vf))
        out.mux(vs.encode(None))
    with av.open(str(src)) as c:  # (as FFmpeg reads it)
        assert (c.streams.video[0].average_rate, c.streams.video[0].guessed_rate) == (2 * rate, rate)
    info = VideoInfo.from_path(src)
    assert (info.fps, info.timed_fps, info.frames) == (rate, rate, 25), info
    for name in ("o.mkv", "o.mp4"):
        r = CliRunner().invoke(segment_video_cmd, [str(src), "-o", str(tmp_path / name), "--model", str(rule_onnx), "-q"])
        assert r.exit_code == 0, r.output
        images, times, out_rate, _ = _played(tmp_path / name)
        assert len(images) == 25 and out_rate == rate, (name, out_rate)


@pytest.mark.parametrize("case", ["avchd-tff", "avchd-bff", "mpeg2-mpg", "mpeg2-bff-ts", "dv-avi"])
def test_each_picture_is_its_first_field_the_one_at_its_time(tmp_path, case):
    # a frame's time is its first field's: of a bottom-first frame (a DV tape's, a broadcast MPEG-2's, a camcorder's
    # told bff), the bottom field. Was: the top field whatever the order, of those the later field, each picture
    # shown a field's time (20 ms) late, its bar 2 pixels on
    from roadseg.pipeline.sources import LiveSource, VideoSource

    name, codec, options, rate, audio, fmt, *size = CASES[case]
    src = _interlaced(tmp_path / name, codec, options, n=6, fmt=fmt, size=(*size, (W, H))[0],
                      first="bottom" if case in BOTTOM_FIRST else "top")  # fmt: skip
    for source in (VideoSource(src, audio=False), LiveSource(str(src), pace=False)):  # a file, and played live
        with source as s:
            images = [f.image for f in s if not isinstance(f, av.Packet)]
        bars = [float(np.mean(np.nonzero(img[8:-8, :, 1] > 128)[1])) for img in images]  # (where the bar's middle is)
        assert len(bars) == 6 and all(abs(bar - (29.5 + 4 * i)) < 0.75 for i, bar in enumerate(bars)), (source, bars)


@pytest.mark.parametrize("case", ["avchd-tff", "avchd-bff", "mpeg2-mpg", "mpeg2-bff-ts", "dv-avi"])
def test_progressive_pictures_flagged_interlaced_keep_every_line(tmp_path, case):
    # PsF (progressive segmented frame: a camcorder's or broadcast's progressive pictures coded as interlaced, flagged
    # so): both fields one instant, nothing combed, so every line is kept. Was: one field kept, the other made from
    # it, half the detail lost: the edge between lines 32 and 33 blurred (a line of it at ~120, between 200 and 40)
    from roadseg.pipeline.sources import LiveSource, VideoSource

    name, codec, options, rate, audio, fmt, *size = CASES[case]
    src = _interlaced(tmp_path / name, codec, options, n=4, fmt=fmt, size=(*size, (W, H))[0], picture=_one_instant,
                      first="bottom" if case in BOTTOM_FIRST else "top")  # fmt: skip
    for source in (VideoSource(src, audio=False), LiveSource(str(src), pace=False)):  # a file, and played live
        with source as s:
            images = [f.image for f in s if not isinstance(f, av.Packet)]
        edge = [img[31:35].mean(axis=(1, 2)).round().tolist() for img in images]  # (rows 31-34)
        assert len(edge) == 4 and all(abs(a - b) <= 12 for e in edge for a, b in zip(e, (200, 200, 40, 40))), edge
