"""Outputs named ``.mpg``, ``.mpeg`` or ``.vob`` (MPEG program streams, where players expect MPEG-1/2 video): MPEG-2
by default (was H.264, 28 of 30 pictures' packets without a time, played in ffplay alone), every picture timed, the
sound copied where the format takes it as it is, else MP2; ``.vob`` a DVD's VOB (was FFmpeg's SVCD stream)."""

from __future__ import annotations

import logging
import re

import av
import numpy as np
import pytest
from conftest import split_frames, write_video

from roadseg.pipeline import segment_video


def _written(tmp_path, rule_onnx, name: str, audio_codec: str = "aac", frames: list | None = None,
             **kw) -> tuple[dict, list[int]]:  # fmt: skip
    """``name`` written from a 30-picture clip (``frames``) with 1.2 s of ``audio_codec`` sound: what it holds, read
    back, and where its packs begin."""
    frames = split_frames(30, h=96, w=128) if frames is None else frames
    src = write_video(tmp_path / "in.mp4", frames, audio_seconds=1.2, audio_codec=audio_codec)
    out = tmp_path / name
    segment_video(str(src), str(out), model=str(rule_onnx), device="cpu", quiet=True, **kw)
    with av.open(str(out)) as c:
        video = c.streams.video[0]
        packets = [p for p in c.demux(video) if p.size]
        held = {"video": video.codec_context.name, "audio": [s.codec_context.name for s in c.streams.audio],
                "untimed": sum(p.pts is None for p in packets), "bytes": sum(p.size for p in packets)}  # fmt: skip
    with av.open(str(out)) as c:
        held["frames"] = sum(1 for _ in c.decode(video=0))
    return held, [m.start() for m in re.finditer(b"\x00\x00\x01\xba", out.read_bytes())]


@pytest.mark.parametrize("name", ["out.mpg", "out.MPEG", "out.vob"])
def test_a_program_stream_is_mpeg2_every_picture_timed_its_aac_sound_mp2(tmp_path, rule_onnx, name, caplog):
    with caplog.at_level(logging.WARNING, logger="roadseg"):
        held, packs = _written(tmp_path, rule_onnx, name)
    assert held | {"bytes": 0} == {"video": "mpeg2video", "audio": ["mp2"], "untimed": 0, "frames": 30, "bytes": 0}
    assert "re-encoding it as mp2" in caplog.text  # (AAC: not in a program stream, said so)
    if name.endswith(".vob"):  # (a DVD's 2048-byte packs, not SVCD's 2324)
        assert packs[:4] == [0, 2048, 4096, 6144], packs[:4]


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
