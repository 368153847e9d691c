"""An http(s) URL of a file (one that opens with a length: a file on a web server) takes a file's options as the file
does: ``--start``, ``--height``, ``--video-stream`` (``--fps``: test_fps_cap.py); one that opens as a live stream
refuses them then, in one line that says to download the file first."""

from contextlib import contextmanager
from fractions import Fraction
from functools import partial

import av
import numpy as np
import pytest
from conftest import encode_pictures, read_video, split_frames, write_video
from servers import Quiet, Ranged, serving

from roadseg.errors import OutputError, SourceError
from roadseg.pipeline import segment_video
from roadseg.pipeline.checks import check
from roadseg.pipeline.options import SegmentOptions


@contextmanager
def _url(path, handler=Ranged):
    """The http URL of ``path`` served on loopback by ``handler`` (:class:`Ranged`: with byte ranges) while the block
    runs."""
    with serving(partial(handler, directory=str(path.parent))) as httpd:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/{path.name}"


def _same_frames(a, b) -> bool:
    got, want = read_video(a)["frames"], read_video(b)["frames"]
    return len(got) == len(want) and all(np.array_equal(g, w) for g, w in zip(got, want))


@pytest.mark.parametrize("name", ["faststart.mp4", "a.mp4", "a.ts"])
def test_start_and_height_of_a_url_of_a_file_are_the_files(rule_onnx, tmp_path, name):
    # (was: refused before it was opened, "--start skips into a file; a live source starts now", every http(s) URL
    # taken as live); served with byte ranges, as web servers do (a TS without says no length: a live stream)
    options = {"movflags": "faststart"} if name.startswith("faststart") else None
    src = write_video(tmp_path / name, split_frames(75, h=96, w=64), fps=Fraction(25), audio_seconds=3.0,
                      options=options, offset=10.0 if name.endswith(".ts") else 0.0)  # fmt: skip
    want, out = tmp_path / "want.mp4", tmp_path / "o.mp4"
    window = {"start": 1.0, "duration": 1.0, "height": 48}
    segment_video(src, want, model=rule_onnx, quiet=True, **window)
    with _url(src) as url:
        result = segment_video(url, out, model=rule_onnx, quiet=True, **window)
    assert result["frames"] == 25 and result["frames_lost"] == 0 and result["kind"] == "file"
    assert read_video(out)["frames"][0].shape == (48, 32, 3) and _same_frames(out, want)


def _two_cameras(path):
    """A dual dashcam's file: a front camera (96x128, 12 frames) and a rear one (48x64, 8 frames)."""
    with av.open(str(path), "w") as out:
        streams = []
        for frames in (split_frames(12, h=96, w=128), [255 - f for f in split_frames(8, h=48, w=64)]):
            vs = out.add_stream("libx264", rate=25)
            vs.height, vs.width = frames[0].shape[:2]
            vs.pix_fmt, vs.options = "yuv420p", {"preset": "ultrafast", "crf": "12"}
            streams.append((vs, frames))
        for vs, frames in streams:  # (every stream added before the first is written)
            encode_pictures(out, vs, frames)
    return path


def test_video_stream_of_a_url_of_a_file_is_the_files(rule_onnx, tmp_path):
    # (was: refused before it was opened, "--video-stream picks one of a video file's streams; it is not for live")
    src = _two_cameras(tmp_path / "dual.mp4")
    with _url(src) as url:
        result = segment_video(url, tmp_path / "rear.mp4", model=rule_onnx, quiet=True, video_stream=1)
    rear = read_video(tmp_path / "rear.mp4")
    assert result["frames"] == len(rear["frames"]) == 8 and rear["frames"][0].shape == (48, 64, 3)


def test_a_url_that_plays_as_a_live_stream_refuses_a_files_options_once_opened_saying_what_to_do(rule_onnx, tmp_path):
    # a TS served without byte ranges says no length: a live stream once opened; the file-only options given are
    # named in one line that says to download the file first (was: "--start skips into a file; a live source starts
    # now", before it was opened, a file on a web server refused too)
    src = write_video(tmp_path / "a.ts", split_frames(20), fps=Fraction(25))
    out = tmp_path / "o.mp4"
    with _url(src, Quiet) as url:
        assert check(SegmentOptions(url, str(out), start=1.0, height=32, video_stream=0))  # (live by its name: opened)
        with pytest.raises(OutputError, match=rf"^--start, --height and --video-stream are for a video file, and "
                           rf"{url} plays as a live stream \(the server says no length; .*\): where it is a file, "
                           r"download it first \(curl -o clip.mp4 URL\) and give the file$"):  # fmt: skip
            segment_video(url, out, model=rule_onnx, quiet=True, start=1.0, height=32, video_stream=0)
        with pytest.raises(OutputError, match=r"^--height is for a video file, and .* download it first"):
            segment_video(url, out, model=rule_onnx, quiet=True, height=32)
    assert not out.exists()
    with pytest.raises(OutputError, match="--start skips into a file; a live source starts now"):  # (watched live:
        segment_video(url, out, model=rule_onnx, live=True, start=1.0)  # refused before it is opened, as a camera is)


def _noise(path, n: int, keyframes: int, faststart: bool = True):
    """An mp4 of ``n`` pictures of noise (large: 75 kB each) at 25 frames/s, a keyframe every ``keyframes``."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w", options={"movflags": "faststart"} if faststart else {}) as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = 320, 240, "yuv420p"
        vs.options = {"crf": "12", "preset": "ultrafast", "g": str(keyframes)}
        encode_pictures(out, vs, (rng.integers(0, 255, (240, 320, 3), dtype=np.uint8) for _ in range(n)))
    return path


def test_a_url_of_a_file_served_without_byte_ranges_says_so_where_it_cannot_be_read(rule_onnx, tmp_path):
    # an mp4 whose index comes first is read from its start without them (--height too), but a seek to --start
    # goes back to its keyframe, which such a server cannot give; an mp4 whose index is at its end is read only by
    # going back. Each said in one line, with what to do (was: "no video frames after --start 0.9s in URL; it lasts
    # 1.2 s", "no decodable video frames in URL (Input/output error)")
    first, last, out = _noise(tmp_path / "first.mp4", 30, 10), _noise(tmp_path / "last.mp4", 5, 10, False), tmp_path / "o.mp4"
    with _url(first, Quiet) as url:
        assert segment_video(url, out, model=rule_onnx, quiet=True, height=32)["frames"] == 30
        with pytest.raises(SourceError, match=rf"^no video frames after --start 0.9s in {url}, which lasts 1.2 s: the "
                           r"server sends no byte ranges\? \(a seek into the file needs them\); download the file "
                           r"first \(curl -o clip.mp4 URL\) and give the file$"):  # fmt: skip
            segment_video(url, out, model=rule_onnx, quiet=True, overwrite=True, start=0.9)
    with _url(last, Quiet) as url, pytest.raises(SourceError, match=rf"^no decodable video frames in {url}: an MP4 "
                                                 r"whose index \(moov\) is at its end .* byte ranges .*download the "
                                                 "file first"):  # fmt: skip
        segment_video(url, out, model=rule_onnx, quiet=True, overwrite=True)
    with _url(first) as url:  # (a server that sends them: as the file)
        assert segment_video(url, out, model=rule_onnx, quiet=True, overwrite=True, start=0.9)["frames"] == 7


def test_a_url_of_a_file_is_held_to_the_memory_its_batch_needs_as_the_file_is(rule_onnx, tmp_path):
    # (was: a URL that opened as a file was checked for batch 1, as a live stream is, whatever --batch said)
    from roadseg.errors import ModelError

    src = write_video(tmp_path / "a.mp4", split_frames(5, h=96, w=64), fps=Fraction(25))
    with _url(src) as url, pytest.raises(ModelError, match="at batch 256 needs about 384 GB"):
        segment_video(url, tmp_path / "o.mp4", model=rule_onnx, quiet=True, size=(3000, 4000), batch=256)
    assert not (tmp_path / "o.mp4").exists()


def test_a_url_of_a_file_to_masks_alone_is_read_as_the_file(rule_onnx, tmp_path):
    # (a reviewer found it refused: "a live run needs somewhere to go", before masks alone were a live run's place)
    src = write_video(tmp_path / "a.mp4", split_frames(5, h=96, w=64), fps=Fraction(25))
    with _url(src) as url:
        result = segment_video(url, None, model=rule_onnx, quiet=True, masks_dir=str(tmp_path / "m"))
    assert result["kind"] == "file" and result["frames"] == 5 and result["output"] is None
    lines = (tmp_path / "m" / "masks.csv").read_text().splitlines()
    assert lines == ["mask,time"] + [f"{i:06d}.png,{i * 0.04:.6f}" for i in range(5)]
