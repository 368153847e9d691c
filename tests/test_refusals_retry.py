"""``--retries``, ``--retry-delay`` and ``--stream-timeout`` act where a live source's connection is made: a camera or
a stream URL (an http(s) URL of a file too: its server waited for), and ``--stream-timeout`` also in a file played
``--live`` (its open and reads time out). Elsewhere they did nothing, taken silently; now they are refused in one line
that names every one, before anything is made, the defaults never (the command line's given ones at their default
too, as ``--crf 23`` is)."""

from functools import partial

import cv2
import pytest
from click.testing import CliRunner
from conftest import split_frames, write_video
from servers import Ranged, serving

from roadseg.cli import segment_video_cmd
from roadseg.errors import OutputError
from roadseg.pipeline import SegmentOptions, run, segment_video
from roadseg.pipeline.checks import video_only
from roadseg.pipeline.options import STREAM_TIMEOUT

ALL = ["--retries", "3", "--retry-delay", "0.5", "--stream-timeout", "2"]


def _input(tmp_path, kind: str) -> list[str]:
    """The words that name an input of ``kind`` read as a file: a video, images, --concat's files, standard input."""
    if kind == "file":
        return [str(write_video(tmp_path / "clip.mp4", split_frames(6)))]
    if kind == "images":
        (tmp_path / "frames").mkdir()
        for i, picture in enumerate(split_frames(2)):
            cv2.imwrite(str(tmp_path / "frames" / f"f{i}.png"), picture)
        return [str(tmp_path / "frames")]
    if kind == "concat":
        (tmp_path / "drive").mkdir()
        for name in ("a.mp4", "b.mp4"):
            write_video(tmp_path / "drive" / name, split_frames(3))
        return [str(tmp_path / "drive"), "--concat"]
    return ["-"]


def _segment(*words, stdin: bytes = b""):
    return CliRunner().invoke(segment_video_cmd, [*map(str, words), "--device", "cpu", "-q"], input=stdin)


@pytest.mark.parametrize("kind", ["file", "images", "concat", "stdin"])
def test_the_connection_options_of_input_read_as_a_file_are_refused_in_one_line(rule_onnx, tmp_path, kind):
    words = _input(tmp_path, kind)
    out = tmp_path / ("out" if kind == "images" else "o.mp4")
    before = set(tmp_path.rglob("*"))
    r = _segment(*words, "-o", out, "--model", rule_onnx, *ALL)  # (was: exit 0, all three taken and unused)
    assert r.exit_code == 1 and r.output.count("\n") == 1 and r.output.startswith("Error: "), r.output
    assert all(flag in r.output for flag in ("--retries", "--retry-delay", "--stream-timeout")), r.output
    assert set(tmp_path.rglob("*")) == before and not out.exists()


def test_a_connection_option_given_at_its_default_is_refused_too_and_with_the_others_in_one_line(rule_onnx, tmp_path):
    clip = _input(tmp_path, "file")[0]
    r = _segment(clip, "-o", tmp_path / "o.mp4", "--model", rule_onnx, "--retries", "5")  # (its default, given)
    assert r.exit_code == 1 and r.output == (
        "Error: --retries is for a camera or a stream URL (its wait at the start, its reconnects); "
        f"{clip} is a file\n"), r.output  # fmt: skip
    r = _segment(*_input(tmp_path, "images"), "--masks-dir", tmp_path / "m", "--model", rule_onnx, "--crf", "30",
                 "--stream-timeout", "5", "--legend")  # fmt: skip
    assert r.exit_code == 1 and r.output.count("\n") == 1, r.output
    assert all(flag in r.output for flag in ("--crf", "--stream-timeout", "--legend")), r.output
    assert not (tmp_path / "m").exists()


def test_a_file_played_live_refuses_the_reconnects_it_never_makes_and_takes_its_read_timeout(rule_onnx, tmp_path):
    """A file played --live is opened once, never waited for nor reconnected (it ends where it ends); its open and
    each read time out after --stream-timeout, as a camera's."""
    clip = _input(tmp_path, "file")[0]
    r = _segment(clip, "--live", "-o", tmp_path / "r.mp4", "--model", rule_onnx, *ALL)
    assert r.exit_code == 1 and r.output == (
        "Error: --retries and --retry-delay are for a camera or a stream URL (its wait at the start, its reconnects); "
        f"{clip} is a file played --live, opened once and never reconnected\n"), r.output  # fmt: skip
    assert not (tmp_path / "r.mp4").exists()
    r = _segment(clip, "--live", "-o", tmp_path / "r.mp4", "--model", rule_onnx, "--stream-timeout", "2")
    assert r.exit_code == 0 and (tmp_path / "r.mp4").exists(), r.output


def test_the_defaults_are_never_refused_of_the_command_line_or_a_library_caller(rule_onnx, tmp_path):
    clip = _input(tmp_path, "file")[0]
    r = _segment(clip, "-o", tmp_path / "a.mp4", "--model", rule_onnx)
    assert r.exit_code == 0, r.output
    stats = segment_video(clip, tmp_path / "b.mp4", model=rule_onnx, quiet=True, retries=5, retry_delay=1.0,
                          stream_timeout=STREAM_TIMEOUT)  # (the defaults, named: they cannot be told from unsaid)
    assert stats["frames"] == 6


def test_a_library_caller_is_refused_the_same_line_before_anything_is_made(rule_onnx, tmp_path):
    clip = _input(tmp_path, "file")[0]
    with pytest.raises(OutputError, match=r"^--retries and --retry-delay are for a camera or a stream URL \(.*\), and "
                                          r"--stream-timeout is for a camera, a stream URL or a file played --live "
                                          r"\(.*\); .*clip.mp4 is a file$"):  # fmt: skip
        run(SegmentOptions(clip, str(tmp_path / "o.mp4"), model=rule_onnx, retries=None, retry_delay=2.0,
                           stream_timeout=1.0))  # fmt: skip
    assert not (tmp_path / "o.mp4").exists()


def test_where_they_act_they_are_taken(rule_onnx, tmp_path):
    """A camera, a stream URL, a file played --live (--stream-timeout) and an http(s) URL of a file (its server
    waited for; it reads as the file) take them."""
    connection = {"retries": None, "retry_delay": 2.0, "stream_timeout": 2.0}
    for spec in ("0", "/dev/video2", "rtsp://cam/1", "udp://0.0.0.0:5000", "https://cdn/clip.mp4"):
        video_only(SegmentOptions(spec, "r.mp4", **connection), list(connection))
    video_only(SegmentOptions("clip.mp4", "r.mp4", live=True, stream_timeout=2.0), ["stream_timeout"])
    _input(tmp_path, "file")
    with serving(partial(Ranged, directory=str(tmp_path))) as httpd:
        r = _segment(f"http://127.0.0.1:{httpd.server_address[1]}/clip.mp4", "-o", tmp_path / "u.mp4", "--model",
                     rule_onnx, "--retries", "1", "--retry-delay", "0.05", "--stream-timeout", "2")  # fmt: skip
    assert r.exit_code == 0 and (tmp_path / "u.mp4").exists(), r.output


@pytest.mark.parametrize(("kind", "said"), [
    ("stdin", "is standard input played --live, opened once and never reconnected"),  # (was: 'read as a file')
    ("images", "is images"),  # (was: 'is a file played --live', of a folder)
])  # fmt: skip
def test_the_line_says_what_an_input_played_live_is(tmp_path, kind, said):
    spec = _input(tmp_path, kind)[0]
    with pytest.raises(OutputError, match=r"^--retries is for a camera or a stream URL \(.*\); (.*)$") as refused:
        video_only(SegmentOptions(spec, str(tmp_path / "r.mp4"), live=True, retries=3))
    assert str(refused.value).endswith(f"; {spec} {said}"), refused.value


@pytest.mark.parametrize(("spec", "said"), [
    ("x.png", "input not found: {spec}"),  # (was: '--retries is for a camera or a stream URL (...); x.png is images')
    ("x.mp4", "input not found: {spec}"),
    ("none/*.png", "no images (.png, .jpg, .jpeg, .bmp, .tif, .tiff, .webp, .avif) in {spec}"),
])  # fmt: skip
def test_an_input_that_is_not_there_is_said_so_before_its_connection_options_are_refused(rule_onnx, tmp_path, spec,
                                                                                         said):  # fmt: skip
    spec = str(tmp_path / spec)
    r = _segment(spec, "-o", tmp_path / "o.mp4", "--model", rule_onnx, *ALL)
    assert r.exit_code == 1 and r.output == f"Error: {said.format(spec=spec)}\n", r.output


@pytest.mark.parametrize("name", ["gone.mp4", "gone.png"])
def test_a_link_to_nothing_is_said_not_found_as_without_the_connection_options(rule_onnx, tmp_path, name):
    """A link whose file is gone (a card's clip moved away): was refused its --retries as 'gone.mp4 is a file', and
    'input not found' without them."""
    spec = tmp_path / name
    spec.symlink_to(tmp_path / "moved" / name)
    for words in ((), ALL):
        r = _segment(str(spec), "-o", tmp_path / "o.mp4", "--model", rule_onnx, *words)
        assert r.exit_code == 1 and r.output == f"Error: input not found: {spec}\n", r.output
