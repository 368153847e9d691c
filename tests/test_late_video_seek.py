"""--start in a file whose video begins more than 60 s after its sound, past what FFmpeg probes
(``containers.DEEP_PROBE``), which takes the file's start for the video's (``seeking.ToStart``); and in files that
cannot be sought: a seek refused, and input read from a pipe."""

import subprocess
import sys

import av
import pytest
from click.testing import CliRunner
from conftest import split_frames, write_late_video, write_video

from roadseg.cli import segment_video_cmd

LEAD = 70  # seconds of sound before the first picture


@pytest.fixture(scope="module")
def late_videos(tmp_path_factory):
    """:func:`~conftest.write_late_video`'s file of a suffix and a keyframe interval, made once."""
    made, folder = {}, tmp_path_factory.mktemp("late")

    def late(suffix, keyint):
        if (suffix, keyint) not in made:
            made[suffix, keyint] = write_late_video(folder / f"a{keyint}{suffix}", LEAD, keyint)
        return made[suffix, keyint]

    return late


@pytest.mark.parametrize("suffix", [".mkv", ".ts", ".mp4"])
@pytest.mark.parametrize("keyint", [250, 25])  # (one keyframe: an mkv's index holds it alone; or two)
@pytest.mark.parametrize("start", [LEAD - 5, 2])
def test_start_before_a_video_that_begins_past_what_ffmpeg_probes(rule_onnx, tmp_path, late_videos, suffix, keyint,
                                                                  start):  # fmt: skip
    # was, of the mkv: a seek to --start by the video, which FFmpeg took to start with the file, refused where its
    # index held one keyframe ('cannot seek in a.mkv (Operation not permitted); reading it from the beginning up to
    # --start'), or, with two, landed on the first; either way the sound from --start to the first picture was left
    # out (it began with the picture, 5 s in), though the pictures were all there
    out = tmp_path / "o.mkv"
    r = CliRunner().invoke(segment_video_cmd, [str(late_videos(suffix, keyint)), "-o", str(out), "--model",
                                               str(rule_onnx), "-q", "--start", str(start)])  # fmt: skip
    assert r.exit_code == 0 and "cannot seek" not in r.output, r.output
    with av.open(str(out)) as c:  # (its pictures begin 68 s in with --start 2: read_video's probe finds none)
        pictures = [float(f.pts * f.time_base) for f in c.decode(video=0)]
    with av.open(str(out)) as c:
        sound = [float(p.pts * p.time_base) for p in c.demux(audio=0) if p.pts is not None]
    assert len(pictures) == 50 and pictures[0] == pytest.approx(LEAD - start, abs=0.05), pictures[:3]
    assert sound[0] < 0.05 and sound[-1] > LEAD + 2 - start - 0.1, (sound[:3], sound[-1])


@pytest.mark.parametrize("keyint", [250, 25])
def test_start_after_such_a_video_begins_is_sought(late_videos, keyint):
    from roadseg.pipeline.sources import VideoSource
    from roadseg.pipeline.sources.base import Frame

    with VideoSource(str(late_videos(".mkv", keyint)), audio=True, start=LEAD + 1) as src:
        items = list(src)
        frames = sum(isinstance(item, Frame) for item in items)
        assert (frames, src.expected_frames(), src.lost, src._sought) == (25, 25, 0, True)
    assert sum(not isinstance(item, Frame) for item in items) == pytest.approx(47, abs=1)  # (the sound's last 1 s)


class _Refusing:
    """A container whose seeks but to its start are refused, as FFmpeg refused every seek in a raw H.264 stream
    (which is read up to --start now: ``sources.untimed``): all else is the container's."""

    def __init__(self, container):
        self._container = container

    def __getattr__(self, name):
        return getattr(self._container, name)

    def seek(self, offset, *args, **kwargs):
        if offset > 0:
            raise av.error.PermissionError(1, "Operation not permitted")
        return self._container.seek(offset, *args, **kwargs)


def test_a_file_that_cannot_be_sought_is_still_told(rule_onnx, tmp_path, monkeypatch):
    # a seek FFmpeg refuses, not before an mkv's late video, is said, and the file read from its start up to --start
    from roadseg.pipeline.sources import contents

    opened = contents.open_container
    monkeypatch.setattr(contents, "open_container", lambda *a, **k: _Refusing(opened(*a, **k)))
    src = write_video(tmp_path / "a.mp4", split_frames(50))
    out = tmp_path / "o.mp4"
    r = CliRunner().invoke(segment_video_cmd, [str(src), "-o", str(out), "--model", str(rule_onnx), "-q", "--start",
                                               "1"])  # fmt: skip
    assert r.exit_code == 0 and "cannot seek in" in r.output and "(Operation not permitted)" in r.output, r.output
    with av.open(str(out)) as c:
        assert c.streams.video[0].frames == 25


@pytest.mark.parametrize("suffix", [".flv", ".h264"])
def test_start_in_a_file_read_from_a_pipe(rule_onnx, tmp_path, suffix):
    # was, of the FLV: 'cannot seek in - (Operation not permitted); reading it from the beginning up to --start', then
    # 'no video frames after --start 1s': FFmpeg read the pipe to its end for a keyframe after 1 s before it refused
    # the seek, and what it read cannot be read again. A pipe is read up to --start, as a TS is (ToStart._read_to_start)
    src, out = write_video(tmp_path / f"a{suffix}", split_frames(50)), tmp_path / "o.mp4"
    r = subprocess.run([sys.executable, "-m", "roadseg", "segment", "-", "-o", str(out), "--model", str(rule_onnx),
                        "--start", "1", "--duration", "0.5"], input=src.read_bytes(), capture_output=True, timeout=60)  # fmt: skip
    said = r.stderr.decode()
    assert r.returncode == 0 and "cannot seek" not in said, said
    with av.open(str(out)) as c:
        assert [round(float(f.time), 2) for f in c.decode(video=0)] == [n / 25 for n in range(13)]
