"""A clean file played live (``--live``) on a machine too slow for it drops the frames the model cannot keep up with,
counted as the live summary's ``dropped``: none of them is told lost ('... could not be decoded', ``--stats``'
``frames_lost``), ``--max-frames`` that it falls short of too; a live source's real damage (packets its decoder
refused) is still told, ``frames_lost`` and ``lost_packets`` alike. The slowness is injected (a model that sleeps),
not left to the machine's load: the audit saw it on a busy machine only, in 2 of 6 runs."""

import json
import time

import av
import pytest
from click.testing import CliRunner
from conftest import split_frames, write_video

import roadseg.pipeline.sources.decoder as decoder
from roadseg.cli import segment_video_cmd
from roadseg.pipeline.session import OnnxSegmenter

FRAMES = 50  # the clip's: 2 s at 25 frames/s


def _slow_model(monkeypatch) -> None:
    """A model at 5 frames/s at most (a busy machine's), the clip at 25: most of its frames are dropped."""
    real = OnnxSegmenter.predict
    monkeypatch.setattr(OnnxSegmenter, "predict", lambda self, frames: (time.sleep(0.2), real(self, frames))[1])


def _played_live(rule_onnx, tmp_path, *extra: str) -> tuple[str, dict]:
    """(what the run said, its --stats) of the clean clip played live into a recording."""
    src = write_video(tmp_path / "clip.mp4", split_frames(FRAMES, h=96, w=128))
    stats = tmp_path / "stats.json"
    r = CliRunner().invoke(segment_video_cmd, [str(src), "--live", "-o", str(tmp_path / "r.mp4"), "--model",
                                               str(rule_onnx), "--device", "cpu", "--stats", str(stats), *extra])  # fmt: skip
    assert r.exit_code == 0, r.output
    return r.output, json.loads(stats.read_text())


@pytest.mark.timeout(60)
@pytest.mark.parametrize("extra", [(), ("--max-frames", str(FRAMES))], ids=["whole", "max-frames"])
def test_a_clean_file_played_live_too_slowly_tells_its_skipped_frames_dropped_not_lost(rule_onnx, tmp_path,
                                                                                       monkeypatch, extra):  # fmt: skip
    # was, with --max-frames 50: '39 video packets of clip.mp4 could not be decoded (damaged, or a codec the stream
    # changed to)', frames_lost 39 and lost_packets 0 (the frames short of --max-frames taken for lost ones)
    _slow_model(monkeypatch)
    said, stats = _played_live(rule_onnx, tmp_path, *extra)
    assert stats["dropped"] > 0 and stats["frames"] + stats["dropped"] == FRAMES, stats
    assert stats["frames_lost"] == stats["lost_packets"] == 0, stats
    assert "could not be decoded" not in said and f"{stats['dropped']} dropped" in said, said


@pytest.mark.timeout(60)
def test_packets_a_live_decoder_refuses_are_told_lost_beside_the_frames_dropped(rule_onnx, tmp_path, monkeypatch):
    # damage injected: the decoder refuses the packets of frames 10-12, as FFmpeg refuses damaged data
    _slow_model(monkeypatch)
    decode = decoder.Decoder.decode

    def damaged(self, packet):
        if packet is not None and packet.pts is not None and 10 <= packet.pts * packet.time_base * 25 < 13:
            raise av.error.InvalidDataError(-1094995529, "Invalid data found when processing input")
        return decode(self, packet)

    monkeypatch.setattr(decoder.Decoder, "decode", damaged)
    said, stats = _played_live(rule_onnx, tmp_path, "--max-frames", str(FRAMES))
    assert stats["frames_lost"] == stats["lost_packets"] == 3, stats  # (was: frames_lost 39, the frames dropped too)
    assert "3 video packets of " in said and "could not be decoded" in said, said
    assert stats["dropped"] > 0 and stats["frames"] + stats["dropped"] + 3 == FRAMES, stats
