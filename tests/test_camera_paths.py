"""A camera is named by its index, its device (``/dev/video0``), udev's lasting names of it (``/dev/v4l/by-id/...``,
``/dev/v4l/by-path/...``: the same camera whatever order the USB devices came up in) or a link that leads to one;
the links were taken for files, and a camera's options (``--retries``, ``--camera-fps``) refused for them. No camera
is plugged in here: the links lead to a ``/dev/videoN`` that is not there, which a camera not plugged in yet is."""

import pytest
from click.testing import CliRunner

from roadseg.cli import segment_video_cmd
from roadseg.pipeline import SegmentOptions
from roadseg.pipeline.checks import video_only
from roadseg.pipeline.sources.opening import capture_args, is_live_input, names_camera
from roadseg.pipeline.sources.waiting import is_camera

BY_ID = "/dev/v4l/by-id/usb-046d_HD_Pro_Webcam_C920_8A1B2C3D-video-index0"
BY_PATH = "/dev/v4l/by-path/pci-0000:00:14.0-usb-0:2:1.0-video-index0"


@pytest.mark.parametrize("spec", ["0", "/dev/video2", BY_ID, BY_PATH])
def test_udevs_lasting_names_are_cameras(spec):
    assert names_camera(spec) and is_live_input(spec) and is_camera(spec)
    assert capture_args(spec)[1:] == ("v4l2", {}, "camera")


def test_a_link_that_leads_to_a_camera_is_one_and_a_link_to_anything_else_is_not(tmp_path):
    (tmp_path / "clip.mp4").write_bytes(b"x")
    links = {"dashcam": "/dev/video7", "chained": str(tmp_path / "dashcam"), "by-id": BY_ID,
             "clip": str(tmp_path / "clip.mp4"), "null": "/dev/null"}  # fmt: skip
    for name, target in links.items():
        (tmp_path / name).symlink_to(target)
    said = {name: names_camera(str(tmp_path / name)) for name in links}
    assert said == {"dashcam": True, "chained": True, "by-id": True, "clip": False, "null": False}
    assert capture_args(str(tmp_path / "dashcam")) == (str(tmp_path / "dashcam"), "v4l2", {}, "camera")
    assert not names_camera(str(tmp_path / "clip.mp4")) and not names_camera(str(tmp_path / "none.mp4"))


@pytest.mark.parametrize("spec", [BY_ID, "link"])
def test_a_cameras_options_are_taken_for_its_lasting_name_and_a_link_to_it(tmp_path, spec):
    if spec == "link":
        (tmp_path / "cam").symlink_to("/dev/video7")
        spec = str(tmp_path / "cam")
    connection = {"retries": 2, "retry_delay": 2.0, "stream_timeout": 2.0}
    video_only(SegmentOptions(spec, "r.mp4", **connection), list(connection))  # (was: '--retries ... is a file')
    r = CliRunner().invoke(segment_video_cmd, [spec, "-o", str(tmp_path / "r.mp4"), "--retries", "0",
                                               "--camera-fps", "30", "--device", "cpu", "-q"])  # fmt: skip
    assert r.exit_code == 1 and r.output.startswith(f"Error: cannot open camera {spec}: "), r.output
    assert not (tmp_path / "r.mp4").exists()


@pytest.mark.parametrize("spec", ["/dev/videos_x/clip.mp4", "/dev/video", "/dev/video0x", "²", "0²", "/dev/video²",
                                  "٣"])  # fmt: skip
def test_names_that_only_begin_like_a_camera_are_none(spec):
    """Were cameras: a file under /dev/videos_x (the prefix /dev/video), and "²" ("²".isdigit() is True: segment-video ²
    opened /dev/video²)."""
    assert not names_camera(spec) and not is_live_input(spec)
    assert capture_args(spec) == (spec, None, {}, "file")


def test_a_link_to_a_file_under_a_camera_like_folder_is_no_camera(tmp_path):
    (tmp_path / "link").symlink_to("/dev/videos_x/clip.mp4")
    assert not names_camera(str(tmp_path / "link"))
