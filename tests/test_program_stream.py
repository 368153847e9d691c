"""Outputs named ``.mpg``, ``.mpeg`` or ``.vob`` (MPEG program streams, where players expect MPEG-1/2 video): MPEG-2
by default (was H.264, 28 of 30 pictures' packets without a time, played in ffplay alone), every picture timed, the
sound copied where the format takes it as it is, else MP2; ``.vob`` a DVD's VOB (was FFmpeg's SVCD stream), its sound
AC-3 at 48 kHz (was MP2 at the input's rate). H.264 and MPEG-4 part 2 asked for by name timed too; other encoders, whose
pictures FFmpeg reads back from one untimed or not at all, refused in one line."""

from __future__ import annotations

import logging
import re
from fractions import Fraction

import av
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import encode_pictures, split_frames, write_video

from roadseg.cli import segment_video_cmd
from roadseg.pipeline import segment_video


def _written(tmp_path, rule_onnx, name: str, audio_codec: str = "aac", frames: list | None = None, fps: int = 25,
             **kw) -> tuple[dict, list[int]]:  # fmt: skip
    """``name`` written from a 30-picture clip (``frames``, at ``fps``) with 1.2 s of ``audio_codec`` sound: what it
    holds, read back (``steps``: from each picture's time to the next's, as decoded), and where its packs begin."""
    frames = split_frames(30, h=96, w=128) if frames is None else frames
    src = write_video(tmp_path / "in.mp4", frames, fps=Fraction(fps), audio_seconds=1.2, audio_codec=audio_codec)
    out = tmp_path / name
    segment_video(str(src), str(out), model=str(rule_onnx), device="cpu", quiet=True, **kw)
    with av.open(str(out)) as c:
        video = c.streams.video[0]
        packets = [p for p in c.demux(video) if p.size]
        held = {"video": video.codec_context.name, "audio": [s.codec_context.name for s in c.streams.audio],
                "untimed": sum(p.pts is None for p in packets), "bytes": sum(p.size for p in packets)}  # fmt: skip
    with av.open(str(out)) as c:
        times = [f.time for f in c.decode(video=0)]
    held["frames"] = len(times)
    held["steps"] = {None if None in (a, b) else round(b - a, 3) for a, b in zip(times, times[1:])}
    return held, [m.start() for m in re.finditer(b"\x00\x00\x01\xba", out.read_bytes())]


@pytest.mark.parametrize("name", ["out.mpg", "out.MPEG", "out.vob"])
def test_a_program_stream_is_mpeg2_every_picture_timed_its_aac_sound_mp2(tmp_path, rule_onnx, name, caplog):
    sound = "ac3" if name.endswith(".vob") else "mp2"  # (a DVD's: AC-3, below)
    with caplog.at_level(logging.WARNING, logger="roadseg"):
        held, packs = _written(tmp_path, rule_onnx, name)
    assert held | {"bytes": 0} == {"video": "mpeg2video", "audio": [sound], "untimed": 0, "frames": 30, "bytes": 0,
                                   "steps": {0.04}}  # fmt: skip
    assert f"re-encoding it as {sound}" in caplog.text  # (AAC: not in a program stream, said so)
    if name.endswith(".vob"):  # (a DVD's 2048-byte packs, not SVCD's 2324)
        assert packs[:4] == [0, 2048, 4096, 6144], packs[:4]
    # (128x96: no DVD holds it, said so; written without a DVD's rate limits)
    assert ("128x96 is not a DVD's picture size" in caplog.text) == name.endswith(".vob"), caplog.text


@pytest.mark.parametrize("codec", ["mp2", "ac3"])
def test_sound_a_program_stream_takes_as_it_is_is_copied(tmp_path, rule_onnx, codec, caplog):
    with caplog.at_level(logging.WARNING, logger="roadseg"):
        held, _ = _written(tmp_path, rule_onnx, "out.mpg", audio_codec=codec)
    assert held["video"] == "mpeg2video" and held["audio"] == [codec] and "re-encoding" not in caplog.text


def test_a_transport_stream_stays_h264(tmp_path, rule_onnx):
    held, _ = _written(tmp_path, rule_onnx, "out.ts")
    assert held["video"] == "h264" and held["untimed"] == 0 and held["frames"] == 30


def test_crf_picks_the_program_streams_mpeg2_quantiser(tmp_path, rule_onnx):
    """``--crf`` means for its MPEG-2 what it means for the other MPEG-style encoders (a quantiser: 10 -> q 1,
    40 -> q 31): its pictures' bytes, of a noisy clip, many times as many at the first."""
    noisy = [np.random.default_rng(i).integers(0, 255, (96, 128, 3), np.uint8) for i in range(30)]
    fine, coarse = (_written(tmp_path, rule_onnx, f"crf{crf}.mpg", frames=noisy, crf=crf)[0]["bytes"] for crf in (10, 40))
    assert fine > 4 * coarse, (fine, coarse)


@pytest.mark.parametrize("codec,name,fps,n,w", [
    ("libx264", "out.mpg", 25, 30, 128), ("libx264", "out.vob", 25, 30, 128), ("libx264", "out.mpg", 1, 60, 320),
    ("mpeg4", "out.mpg", 25, 30, 128)])  # fmt: skip
def test_h264_or_mpeg4_asked_for_in_a_program_stream_has_every_picture_timed_in_order(tmp_path, rule_onnx, codec,
                                                                                      name, fps, n, w):  # fmt: skip
    """x264's H.264 with HRD timing and no B-frames, MPEG-4 part 2 on a frame clock: FFmpeg reads each picture at its
    time, a frame step after the one before (was: H.264 28 of 30 pictures untimed, MPEG-4 27; with HRD timing but
    B-frames, 60 pictures at 1 frame/s: one read 2 s late, after the next)."""
    held, _ = _written(tmp_path, rule_onnx, name, frames=split_frames(n, h=w * 3 // 4, w=w), fps=fps, codec=codec,
                       alpha=0.0)
    assert held | {"bytes": 0} == {"video": {"libx264": "h264"}.get(codec, codec), "audio": [
        "ac3" if name.endswith(".vob") else "mp2"], "untimed": 0,
                                   "frames": n, "bytes": 0, "steps": {1 / fps}}  # fmt: skip


@pytest.mark.parametrize("args,says", [(["--codec", "libx265"], "--codec libx265 cannot go into an MPEG program"),
                                       (["--codec", "libvpx-vp9"], "--codec libvpx-vp9 cannot go into"),
                                       (["--codec", "mjpeg"], "--codec mjpeg cannot go into"),
                                       (["--codec", "h263p"], "--codec h263p cannot go into"),
                                       (["--codec", "libx264", "--crf", "0"], "lossless H.264 (--crf 0) carries no")])
def test_video_a_program_stream_cannot_time_is_refused_in_one_line(split_video, rule_onnx, tmp_path, args, says):
    """(was: each written without a word: HEVC 28 of 30 pictures untimed, VP9 and MJPEG read back as no picture at all,
    H.263 as a raw H.263 file without its sound, lossless H.264 27 of 30 untimed)"""
    out = tmp_path / "o.mpg"
    r = CliRunner().invoke(segment_video_cmd, [str(split_video), "-o", str(out), "--model", str(rule_onnx), *args])
    assert r.exit_code == 1 and says in r.output and ".mkv" in r.output and r.output.count("\n") == 1, r.output
    assert not out.exists() and not list(tmp_path.glob("*.part-*"))


def _dvd_held(path) -> dict:
    """What a strict DVD player checks of a program stream: the mux rates its packs state (bits/s), and by how many bits
    its video overruns the decoder's buffer at most: the most any run of pictures needs beyond what 9 Mb/s brings in
    their time (a DVD's buffer holds 1835008 bits)."""
    data, rates = path.read_bytes(), set()
    for at in (m.start() + 4 for m in re.finditer(b"\x00\x00\x01\xba", data)):  # (MPEG-2's pack header, or MPEG-1's)
        rates.add(int.from_bytes(data[at + 6:at + 9]) >> 2 if data[at] >> 6 == 1 else
                  int.from_bytes(data[at + 5:at + 8]) >> 1 & 0x3FFFFF)  # fmt: skip
    with av.open(str(path)) as c:
        video = c.streams.video[0]
        fps, bits = video.average_rate, [p.size * 8 for p in c.demux(video) if p.size]
    n = len(bits)
    need = max(sum(bits[i:j]) - 9_000_000 * (j - i) / fps for i in range(n) for j in range(i + 1, n + 1))
    return {"mux_rates": {r * 400 for r in rates}, "overrun": need, "mbps": sum(bits) * fps / len(bits) / 1e6}


@pytest.mark.parametrize("w,h,fps", [(720, 576, 25), (720, 480, Fraction(30000, 1001))])
def test_a_vob_of_a_dvds_size_keeps_to_a_dvds_rate_limits(tmp_path, rule_onnx, w, h, fps):
    """A noisy clip's MPEG-2 in a .vob at a DVD's size goes through a DVD player's 224 KiB buffer at 9 Mb/s, in
    packs multiplexed at 10.08 Mb/s (FFmpeg's ``-target dvd``); was 24.8 Mb/s, overrunning that buffer by 13-16 Mbit,
    its packs stating 441 Mb/s. The same clip in a .mpg keeps FFmpeg's defaults."""
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 200, w, dtype=np.float32)[None, :, None]
    noisy = [np.clip(ramp + rng.normal(0, 25, (h, w, 3)), 0, 255).astype(np.uint8) for _ in range(25)]
    src = write_video(tmp_path / "in.mkv", noisy, fps=Fraction(fps), codec="ffv1", audio_seconds=1.0)
    for name in ("o.vob", "o.mpg"):
        segment_video(str(src), str(tmp_path / name), model=str(rule_onnx), device="cpu", quiet=True, alpha=0.0)
    dvd, mpg = _dvd_held(tmp_path / "o.vob"), _dvd_held(tmp_path / "o.mpg")
    assert dvd["mux_rates"] == {10_080_000} and dvd["overrun"] <= 1835008, dvd
    assert 10_080_000 not in mpg["mux_rates"] and mpg["overrun"] > 1835008, mpg  # (the .mpg's own: untouched)


def _sounds(path) -> list[dict]:
    """Each audio stream of ``path`` read back: codec, rate, layout, bit rate, where its first sound lies from the first
    picture (seconds) and how long it plays."""
    with av.open(str(path)) as c:
        first_picture = next(c.decode(video=0)).time
    with av.open(str(path)) as c:
        held = []
        for a in c.streams.audio:
            c.seek(0)
            frames = list(c.decode(a))
            held.append({"codec": a.codec_context.name, "rate": a.codec_context.sample_rate,
                         "layout": a.codec_context.layout.name, "kbps": (a.codec_context.bit_rate or 0) // 1000,
                         "offset": round(frames[0].time - first_picture, 3),
                         "seconds": sum(f.samples for f in frames) / frames[0].sample_rate})  # fmt: skip
    return held


@pytest.mark.parametrize("codec,rate", [("aac", 44100), ("ac3", 44100), ("aac", 8000)])
def test_sound_in_a_vob_is_ac3_at_48khz_in_step_with_its_pictures(tmp_path, rule_onnx, codec, rate, caplog):
    """A DVD player plays AC-3 (or LPCM) at 48 kHz, as FFmpeg's ``-target dvd`` writes it: 448 kb/s. Was: MP2 (no NTSC
    player's) at the input's rate (44.1 kHz, which no DVD holds), AC-3 at 44.1 kHz copied. Its first sound lies where the
    input's does, but for the AC-3 encoder's 256 samples of delay (5 ms), and it lasts as long."""
    src = write_video(tmp_path / "in.mp4", split_frames(30, h=96, w=128), audio_seconds=1.2, audio_codec=codec,
                      audio_rate=rate)  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="roadseg"):
        segment_video(str(src), str(tmp_path / "o.vob"), model=str(rule_onnx), device="cpu", quiet=True)
    (held,), (source,) = _sounds(tmp_path / "o.vob"), _sounds(src)
    assert held | {"offset": 0, "seconds": 0} == {"codec": "ac3", "rate": 48000, "layout": "mono", "kbps": 448,
                                                  "offset": 0, "seconds": 0}, held  # fmt: skip
    assert -0.006 <= held["offset"] - source["offset"] <= 0 and abs(held["seconds"] - source["seconds"]) < 0.033, held
    said = f"audio stream #1 ({codec}, {rate} Hz) is not a DVD's sound; re-encoding it as ac3 at 48 kHz, 448 kb/s"
    assert said in caplog.text, caplog.text


def test_a_vobs_ac3_at_48khz_is_copied_beside_another_sound_made_so(tmp_path, rule_onnx, caplog):
    """Two sounds (AC-3 at 48 kHz, AAC at 44.1 kHz from 0.3 s): both kept, in their order, the AC-3 packet for packet,
    the AAC where it began (was: as MP2 at 44.1 kHz)."""
    src = tmp_path / "in.mp4"
    with av.open(str(src), "w") as out:
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 128, 96, "yuv420p"
        sounds = [out.add_stream(codec, rate=rate) for codec, rate in (("ac3", 48000), ("aac", 44100))]
        encode_pictures(out, video, split_frames(30, h=96, w=128))
        _tone(out, sounds[0], 1.2)
        _tone(out, sounds[1], 0.9, late=0.3)
    with caplog.at_level(logging.WARNING, logger="roadseg"):
        segment_video(str(src), str(tmp_path / "o.vob"), model=str(rule_onnx), device="cpu", quiet=True)
    held, source = _sounds(tmp_path / "o.vob"), _sounds(src)
    assert [(h["codec"], h["rate"], h["kbps"]) for h in held] == [("ac3", 48000, 192), ("ac3", 48000, 448)], held
    assert -0.006 <= held[1]["offset"] - source[1]["offset"] <= 0 and source[1]["offset"] > 0.25, (held, source)
    assert _payloads(tmp_path / "o.vob") == _payloads(src) and caplog.text.count("not a DVD's sound") == 1, caplog.text


@pytest.mark.parametrize("layout,kept,said", [("5.1", "5.1(side)", ""),
                                              ("7.1", "5.1(side)", ", its 8 channels mixed down to 5.1 (ac3 takes")])
def test_a_vobs_ac3_keeps_5_1_and_mixes_more_down_to_it(tmp_path, rule_onnx, layout, kept, said, caplog):
    """AC-3 holds up to 5.1 (its surround channels FFmpeg names side); 7.1 goes down to 5.1, said (was: both MP2 stereo)."""
    src = tmp_path / "in.mkv"
    with av.open(str(src), "w") as out:
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 128, 96, "yuv420p"
        sound = out.add_stream("pcm_s16le", rate=48000)
        sound.layout = layout
        encode_pictures(out, video, split_frames(10, h=96, w=128))
        _tone(out, sound, 0.4)
    with caplog.at_level(logging.WARNING, logger="roadseg"):
        segment_video(str(src), str(tmp_path / "o.vob"), model=str(rule_onnx), device="cpu", quiet=True)
    (held,) = _sounds(tmp_path / "o.vob")
    assert (held["codec"], held["layout"]) == ("ac3", kept), held
    assert f"re-encoding it as ac3 at 48 kHz, 448 kb/s{said}" in caplog.text, caplog.text


def _tone(out, sound, seconds: float, late: float = 0.0) -> None:
    """``seconds`` of a 440 Hz tone on each of ``sound``'s channels from ``late`` seconds, encoded and muxed into ``out``."""
    rate, fmt = sound.codec_context.sample_rate, sound.codec_context.codec.audio_formats[0]
    step, channels = sound.codec_context.frame_size or 1024, sound.codec_context.channels
    wave = 0.3 * np.sin(2 * np.pi * 440 * np.arange(round(rate * seconds)) / rate)
    samples = (wave * 32767).astype(np.int16)[None] if fmt.name == "s16" else wave.astype(np.float32)[None]
    samples = np.repeat(samples, channels, 0) if fmt.is_planar else np.repeat(samples.T, channels, 1).reshape(1, -1)
    for at in range(0, samples.shape[1] // (1 if fmt.is_planar else channels), step):
        part = samples[:, at : at + step] if fmt.is_planar else samples[:, at * channels : (at + step) * channels]
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(part), format=fmt.name, layout=sound.layout)
        frame.sample_rate, frame.pts, frame.time_base = rate, at + round(late * rate), Fraction(1, rate)
        out.mux(sound.encode(frame))
    out.mux(sound.encode(None))


def _payloads(path) -> list[bytes]:
    """The first audio stream's packets' bytes."""
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]
