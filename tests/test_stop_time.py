"""How long finishing an output takes, and what the user is told while waiting for it: a Ctrl-C stops a run within
2 s, except where the encoder's held pictures take longer to encode (4K on 2 cores: ``benchmarks/stop_time.py``),
and then the user is told what the run waits for, once, rather than left waiting in silence."""

import json
import signal
import subprocess
import sys
import textwrap
import time
from fractions import Fraction

import pytest
from conftest import as_from_a_terminal, read_video, split_frames, write_video

from roadseg.pipeline.sinks import finishing
from roadseg.pipeline.sinks.video import VideoSink


class _Slowed:
    """A sink's video stream or container as it is (fault injection), but for ``name``, which sleeps ``seconds``
    first where ``when(args)`` holds: a slow encoder's flush, a slow trailer."""

    def __init__(self, real, name: str, seconds: float, when=lambda args: True) -> None:
        self._real, self._name, self._seconds, self._when = real, name, seconds, when

    def __getattr__(self, name: str):
        real = getattr(self._real, name)
        if name != self._name:
            return real

        def slowed(*args):
            if self._when(args):
                time.sleep(self._seconds)
            return real(*args)

        return slowed


def _sink_of(path, frames: int = 10) -> VideoSink:
    sink = VideoSink(path, width=128, height=96, fps=Fraction(25))
    for image in split_frames(frames, h=96, w=128):
        sink.write(image)
    return sink


def test_a_slow_flush_says_once_how_many_pictures_the_encoder_still_holds(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(finishing, "SLOW_FINISH", 0.2)
    sink = _sink_of(tmp_path / "o.mp4")
    sink.stream = _Slowed(sink.stream, "encode", 0.8, when=lambda args: args[0] is None)
    with caplog.at_level("WARNING", logger="roadseg"):
        sink.close()
    # was: nothing said; x264 (superfast) holds 4 pictures for its B-frames, each 0.25 s at 4K on 2 loaded cores
    told = [r.getMessage() for r in caplog.records if "finishing" in r.getMessage()]
    assert told == [f"finishing {tmp_path / 'o.mp4'}: 4 pictures still being encoded..."]
    assert len(read_video(tmp_path / "o.mp4")["frames"]) == 10  # (every picture given to the encoder kept)


def test_a_slow_trailer_says_the_file_is_rewritten_to_put_its_index_first(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(finishing, "SLOW_FINISH", 0.2)
    sink = _sink_of(tmp_path / "o.mp4")
    sink.container = _Slowed(sink.container, "close", 0.8)
    with caplog.at_level("WARNING", logger="roadseg"):
        sink.close()
    told = [r.getMessage() for r in caplog.records if "finishing" in r.getMessage()]
    assert told == [f"finishing {tmp_path / 'o.mp4'}: writing its index at its start (the whole file moved behind "
                    "it)..."]  # fmt: skip
    assert len(read_video(tmp_path / "o.mp4")["frames"]) == 10


def test_a_quick_finish_says_nothing(tmp_path, caplog):
    sink = _sink_of(tmp_path / "o.mkv")
    with caplog.at_level("DEBUG", logger="roadseg"):
        sink.close()
    assert "finishing" not in caplog.text and sink.finalised


#: segment-video with every encoder's flush 1 s slow (fault injection, in the child) and the message's threshold
#: 0.3 s: what a Ctrl-C of a 4K run on 2 cores shows
_SLOW_FLUSH = textwrap.dedent("""
    import sys, time
    from roadseg.pipeline.sinks import finishing, video
    finishing.SLOW_FINISH = 0.3
    real = video.VideoSink._encode
    def slow(self, frame):
        if frame is None:
            time.sleep(1.0)
        return real(self, frame)
    video.VideoSink._encode = slow
    from roadseg.cli import segment_video_cmd
    segment_video_cmd(sys.argv[1:])
""")


@pytest.mark.timeout(60)
def test_a_ctrl_c_whose_flush_is_slow_tells_the_user_what_it_waits_for_then_keeps_every_picture(rule_onnx, tmp_path):
    src = write_video(tmp_path / "long.mp4", split_frames(3000, h=96, w=128), audio_seconds=120)
    out, stats = tmp_path / "o.mp4", tmp_path / "s.json"
    cmd = [sys.executable, "-c", _SLOW_FLUSH, str(src), "-o", str(out), "--model", str(rule_onnx), "-q", "--stats",
           str(stats)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=as_from_a_terminal)  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(p.stat().st_size > 20000 for p in tmp_path.glob(".o.mp4.part-*")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()
    told = [line for line in lines if "finishing" in line]
    assert len(told) == 1 and told[0].endswith(f"finishing {out}: 4 pictures still being encoded..."), err
    assert "finalised a playable" in err and "Traceback" not in err
    assert lines.index(told[0]) < next(i for i, line in enumerate(lines) if "finalised a playable" in line)
    assert len(read_video(out)["frames"]) == json.loads(stats.read_text())["frames"] > 0
