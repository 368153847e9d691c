"""--start and --duration in a raw H.264/HEVC stream (``.h264``, ``.hevc``, as some DVRs record), which holds no
timestamps: its pictures are placed by their count at FFmpeg's 25 frames/s (``sources.untimed.Untimed``)."""

import math

import av
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import split_frames

from roadseg.cli import segment_video_cmd
from roadseg.pipeline.sources import VideoSource
from roadseg.pipeline.sources.base import Frame

PICTURES = 100  # 4 s at 25 frames/s
#: an x264 stream with B-frames and an IDR picture every second (read up to --start, those before not decoded), and
#: an x265 one, whose keyframes after the first are CRA pictures (an open group of pictures: decoded from its start)
ENCODERS = {
    ".h264": ("libx264", {"preset": "veryfast", "bf": "3", "g": "25", "crf": "10"}),
    ".hevc": ("libx265", {"preset": "ultrafast", "x265-params": "keyint=25:bframes=3:log-level=error"}),
}


def _raw_stream(path):
    """:data:`PICTURES` pictures, each unlike the others (a bar that moves and a blue that grows), in a raw stream."""
    codec, options = ENCODERS[path.suffix]
    with av.open(str(path), "w") as out:
        vs = out.add_stream(codec, rate=25)
        vs.width, vs.height, vs.pix_fmt, vs.options = 64, 48, "yuv420p", options
        for i, img in enumerate(split_frames(PICTURES)):
            img[:, :, 2] = 2 * i
            vf = av.VideoFrame.from_ndarray(img, format="rgb24")
            vf.pts = i
            out.mux(vs.encode(vf))
        out.mux(vs.encode(None))
    return path


@pytest.fixture(scope="module")
def raw_streams(tmp_path_factory):
    """:func:`_raw_stream` of a suffix, made once, and its pictures decoded whole (RGB)."""
    made, folder = {}, tmp_path_factory.mktemp("raw")

    def raw(suffix):
        if suffix not in made:
            path = _raw_stream(folder / f"dvr{suffix}")
            with av.open(str(path)) as c:
                made[suffix] = path, [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        return made[suffix]

    return raw


@pytest.mark.parametrize("suffix", [".h264", ".hevc"])
@pytest.mark.parametrize(("start", "duration", "kept"), [(1, None, 75), (0, 1, 25), (1.5, 1, 25), (3.3, 1, 17),
                                                         (2.02, None, 49), (3.95, None, 1)])  # fmt: skip
def test_a_raw_streams_window_is_its_pictures_at_25_frames_a_second(raw_streams, suffix, start, duration, kept):
    # was: its pictures had no time, so --start kept none ('no video frames after --start 1s', after 'cannot seek in
    # ... (Operation not permitted)') and --duration all of them
    path, pictures = raw_streams(suffix)
    assert len(pictures) == PICTURES
    with VideoSource(str(path), audio=False, start=start, duration=duration) as src:
        frames = [item for item in src if isinstance(item, Frame)]
        expected = src.expected_frames()
    first = math.ceil(start * 25 - 1e-6)
    assert (len(frames), expected, src.lost) == (kept, kept, 0)
    for n, frame in enumerate(frames):  # (the pictures at their place: the same as decoded whole)
        assert np.array_equal(frame.image, pictures[first + n]), (first, n)


def test_a_raw_stream_expects_the_frames_of_its_window_as_it_opens(raw_streams):
    # (the progress bar's count: none where the stream's end bounds the window, as FFmpeg knows no length of it)
    path, _ = raw_streams(".h264")
    with VideoSource(str(path), audio=False, start=1, duration=2) as src:
        assert src.expected_frames() == 50
    with VideoSource(str(path), audio=False, start=1) as src:
        assert src.expected_frames() is None
        assert sum(isinstance(item, Frame) for item in src) == src.expected_frames() == 75
    with VideoSource(str(path), audio=False, start=3) as src:  # (read up to --start: the pictures before the IDR
        assert sum(isinstance(item, Frame) for item in src) == 25  # before its own (75) not decoded)
        assert 50 <= src._untimed._skipped < 75, src._untimed._skipped


@pytest.mark.parametrize("suffix", [".h264", ".hevc"])
def test_a_raw_stream_is_cut_on_the_command_line(rule_onnx, tmp_path, raw_streams, suffix):
    out = tmp_path / "o.mp4"
    args = [str(raw_streams(suffix)[0]), "-o", str(out), "--model", str(rule_onnx), "--start", "1", "--duration", "2"]
    r = CliRunner().invoke(segment_video_cmd, args)
    assert r.exit_code == 0 and "cannot seek" not in r.output and "could not be decoded" not in r.output, r.output
    with av.open(str(out)) as c:
        times = [float(f.time) for f in c.decode(video=0)]
    assert times == pytest.approx([n / 25 for n in range(50)]), times


def test_start_past_a_raw_streams_end_fails_in_one_line(rule_onnx, tmp_path, raw_streams):
    path = raw_streams(".h264")[0]
    r = CliRunner().invoke(segment_video_cmd, [str(path), "-o", str(tmp_path / "o.mp4"), "--model", str(rule_onnx),
                                               "--start", "5"])  # fmt: skip
    assert r.exit_code == 1 and r.output == f"Error: no video frames after --start 5s in {path}\n", r.output
    assert not (tmp_path / "o.mp4").exists()
