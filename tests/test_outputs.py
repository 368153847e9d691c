"""Output modes, legend, masks, stats, images, --start/--duration."""

import errno
import itertools
import json
import os
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import encode_pictures, read_video, sound_spans, split_frames, write_video

from roadseg.classes import CLASSES, PALETTE
from roadseg.cli import segment_video_cmd
from roadseg.errors import OutputError, PipelineError, SinkError
from roadseg.pipeline import segment_video
from roadseg.pipeline.overlay import Overlay, palette_lut
from roadseg.pipeline.sinks import ImageSink, MaskSink, VideoSink
from roadseg.pipeline.sources import VideoSource
from roadseg.pipeline.sources.base import Frame


def test_side_by_side_and_mask_modes(split_video, rule_onnx, tmp_path):
    segment_video(split_video, tmp_path / "sbs.mp4", model=rule_onnx, mode="side-by-side", quiet=True, crf=0)
    sbs = read_video(tmp_path / "sbs.mp4")
    src = read_video(split_video)["frames"][3].astype(int)
    assert (sbs["width"], sbs["height"]) == (128, 48) and len(sbs["frames"]) == 12
    assert np.abs(sbs["frames"][3][:, :64].astype(int) - src).mean() < 3  # left: the frame itself
    segment_video(split_video, tmp_path / "mask.mp4", model=rule_onnx, mode="mask", alpha=0.1, quiet=True, crf=0)
    mask = read_video(tmp_path / "mask.mp4")["frames"][3].astype(int)
    assert np.abs(mask[10:40, 4:28] - np.array(PALETTE[3])).max() <= 12  # colours alone, alpha ignored


def test_legend_is_drawn_top_left_only(split_video, rule_onnx, tmp_path):
    frames = split_frames(4, h=240, w=320)
    src = write_video(tmp_path / "big.mp4", frames)
    segment_video(src, tmp_path / "a.mp4", model=rule_onnx, quiet=True, crf=0)
    segment_video(src, tmp_path / "b.mp4", model=rule_onnx, legend=True, quiet=True, crf=0)
    a, b = read_video(tmp_path / "a.mp4")["frames"][2].astype(int), read_video(tmp_path / "b.mp4")["frames"][2].astype(int)
    assert np.abs(a[:60, :60] - b[:60, :60]).mean() > 10
    assert np.abs(a[150:, 200:] - b[150:, 200:]).mean() < 2


#: Pictures from a thumbnail to 4K, landscape and portrait (width, height).
LEGEND_SIZES = ((64, 48), (160, 90), (90, 160), (160, 120), (320, 180), (320, 240), (640, 360), (1280, 720),
                (1920, 1080), (3840, 2160), (720, 1280), (1080, 1920), (3840, 400))  # fmt: skip


@pytest.mark.parametrize("classes, left_out", [
    (CLASSES, {(64, 48), (160, 90), (90, 160), (160, 120)}),  # (11 names: 3 columns of 4 need 320x180)
    (("road", "other"), {(64, 48), (90, 160)})])  # fmt: skip
def test_the_legend_is_drawn_whole_and_legible_inside_every_picture_or_left_out_in_one_warning(classes, left_out,
                                                                                                  caplog):  # fmt: skip
    """--legend at --height 90 (or of a 160x90 input) was drawn cut off at the picture's bottom edge, its names
    5 pixels tall: now it is drawn whole, within half the picture's width, at a legible size (in columns where the
    picture is short), or left out with one warning where it cannot be."""
    lut = palette_lut(PALETTE)
    colours = [tuple((np.array(c, np.float32) * np.float32(0.75)).astype(np.uint8)) for c in PALETTE[: len(classes)]]
    for (w, h), mode in itertools.product(LEGEND_SIZES, ("overlay", "side-by-side")):
        caplog.clear()
        overlay = Overlay(lut, alpha=0.0, mode=mode, legend=classes)  # (alpha 0 on black: only the legend is drawn)
        frame, labels = np.zeros((h, w, 3), np.uint8), np.zeros((max(1, h // 8), max(1, w // 8)), np.uint8)
        out = [overlay(frame, labels) for _ in range(2)][0]
        said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
        drawn = out.max(axis=2) > 0
        rows, cols = np.flatnonzero(drawn.any(axis=1)), np.flatnonzero(drawn.any(axis=0))
        if (w, h) in left_out:
            assert not len(rows) and said == [f"legend left out: the {len(classes)} class names do not fit legibly "
                                               f"in a {w}x{h} picture"], (w, h, said)  # fmt: skip
            continue
        assert len(rows) and not said, (w, h, said)
        bottom, right = rows[-1], cols[-1]
        assert bottom < h - 1 and right < w // 2, (w, h, mode, bottom, right)  # whole: clear of the edges it could cross
        legend = out[: bottom + 1, : right + 1]
        present = set(map(tuple, np.unique(legend.reshape(-1, 3), axis=0)))
        assert all(c in present for c in colours), (w, h)  # every class, none left out of the columns
        assert np.all(legend == colours[0], axis=2).any(axis=1).sum() >= 12, (w, h)  # a swatch of 12 rows, or more


def test_masks_dir_holds_lossless_class_indices_at_frame_size(split_video, rule_onnx, tmp_path):
    segment_video(split_video, tmp_path / "o.mp4", model=rule_onnx, masks_dir=str(tmp_path / "masks"), quiet=True)
    files = sorted((tmp_path / "masks").glob("*.png"))
    assert [f.name for f in files[:2]] == ["000000.png", "000001.png"] and len(files) == 12
    m = cv2.imread(str(files[4]), cv2.IMREAD_UNCHANGED)
    assert m.shape == (48, 64) and m.dtype == np.uint8
    assert set(np.unique(m[:, :28])) == {3} and set(np.unique(m[:, 36:])) == {0}


def test_masks_dir_of_an_earlier_run_is_refused_without_y_and_replaced_whole_with_it(split_video, rule_onnx, tmp_path):
    """A rerun into the same --masks-dir left the first run's masks past its own last frame (12 masks for
    5 frames, misaligned with the output), and without -y it overwrote them silently."""
    masks = tmp_path / "masks"
    segment_video(split_video, tmp_path / "a.mp4", model=rule_onnx, masks_dir=str(masks), quiet=True)
    (masks / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="holds 12 masks"):
        segment_video(split_video, tmp_path / "b.mp4", model=rule_onnx, masks_dir=str(masks), quiet=True, max_frames=5)
    assert len(list(masks.glob("*.png"))) == 12 and not (tmp_path / "b.mp4").exists()
    segment_video(split_video, tmp_path / "b.mp4", model=rule_onnx, masks_dir=str(masks), quiet=True, max_frames=5,
                  overwrite=True)  # fmt: skip
    assert sorted(p.name for p in masks.glob("*.png")) == [f"{i:06d}.png" for i in range(5)]
    assert (masks / "notes.txt").read_text() == "mine"  # (only the masks are replaced)


def test_an_image_run_does_not_replace_an_earlier_runs_masks_without_y(rule_onnx, tmp_path):
    """--help says a folder of an earlier run's masks needs -y: an image input's masks were replaced without a word
    (a second recording's frames, named as the first's, into the same labels folder)."""
    frames, masks = tmp_path / "frames", tmp_path / "masks"
    frames.mkdir()
    cv2.imwrite(str(frames / "cam_1.png"), split_frames(1)[0])
    segment_video(frames, tmp_path / "a", model=rule_onnx, masks_dir=str(masks), quiet=True)
    (masks / "cam_1.png").write_bytes(b"the first run's")
    with pytest.raises(OutputError, match=f"mask {masks / 'cam_1.png'} exists .*-y/--overwrite"):
        segment_video(frames, tmp_path / "b", model=rule_onnx, masks_dir=str(masks), quiet=True)
    assert (masks / "cam_1.png").read_bytes() == b"the first run's"
    assert not (tmp_path / "b").exists()  # (its output folder, made as it opened, removed: was left empty)
    segment_video(frames, tmp_path / "b", model=rule_onnx, masks_dir=str(masks), quiet=True, overwrite=True)
    assert cv2.imread(str(masks / "cam_1.png"), cv2.IMREAD_UNCHANGED).shape == (48, 64)


def test_masks_dir_named_as_the_output_video_is_refused_in_one_line(split_video, rule_onnx, tmp_path):
    out = tmp_path / "o.mp4"
    r = CliRunner().invoke(segment_video_cmd, [str(split_video), "-o", str(out), "--model", str(rule_onnx), "-q",
                                               "--masks-dir", str(out)])  # fmt: skip
    assert r.exit_code == 1 and r.output == (f"Error: --masks-dir {out} is the output video's name; give the masks a "
                                             "folder of their own (e.g. masks/)\n")  # (was: "o.mp4: Is a directory")
    assert not out.exists()  # (was: an empty folder of that name)


def _masks_fill_the_disk_at(monkeypatch, n: int) -> None:
    """Fault injection: the masks' disk is full from the ``n``-th mask on; each of those is written into a link
    to /dev/full, whose writes fail as a full disk's do (ENOSPC, from the kernel)."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    real = MaskSink.target

    def target(self, index):
        path = real(self, index)
        if index >= n and not path.is_symlink():
            path.symlink_to("/dev/full")
        return path

    monkeypatch.setattr(MaskSink, "target", target)


@pytest.mark.parametrize("live", [False, True])
def test_masks_whose_disk_fills_stop_and_the_video_is_written_to_its_end_with_its_sound(split_video, rule_onnx,
                                                                                        tmp_path, monkeypatch, live,
                                                                                        every_frame_taken):  # fmt: skip
    # (every frame taken: a loaded machine's live run skipped one, 11 of the 12 frames recorded)
    _masks_fill_the_disk_at(monkeypatch, 5)
    out, masks, stats = tmp_path / "o.mp4", tmp_path / "masks", tmp_path / "s.json"
    r = CliRunner().invoke(segment_video_cmd, [str(split_video), "-o", str(out), "--model", str(rule_onnx), "-q",
                                               "--masks-dir", str(masks), "--stats", str(stats), *["--live"] * live])  # fmt: skip
    # was: exit 0, and 7 masks missing (cv2.imwrite into a full disk returned True); where it returned False,
    # "encode failed: cannot write mask masks/000005.png; removed the unfinished output o.mp4"
    assert r.exit_code == 1 and r.output.count("\n") == 1 + live, r.output
    finished = f"finalised at {out} (12 frames)" if live else f"kept the finished output {out} (12 frames)"
    at_once = (f"roadseg: masks stopped: cannot write mask {masks}/000005.png: No space left on device; the masks of "
               f"the first 5 frames are kept in {masks} (000000.png to 000004.png); the run goes on without them\n")  # fmt: skip
    # (a live run, hours long, says it as it happens: was, at its end only)
    assert r.output == (at_once * live) + (f"Error: masks failed: cannot write mask {masks}/000005.png: No space left on device; the masks "
                        f"of the first 5 frames are kept in {masks} (000000.png to 000004.png); "
                        f"{'recording ' if live else ''}{finished}; statistics written to {stats}\n"), r.output  # fmt: skip
    video = read_video(out)
    assert len(video["frames"]) == 12 and len(video["audio"]) == 1
    assert sorted(p.name for p in masks.iterdir()) == [*(f"{i:06d}.png" for i in range(5)), "masks.csv"]  # (none cut short)
    figures = json.loads(stats.read_text())
    assert figures["frames"] == 12 and figures["failed"] in r.output
    with pytest.raises(PipelineError) as caught:
        segment_video(split_video, out, model=rule_onnx, quiet=True, masks_dir=str(masks), overwrite=True)
    assert caught.value.kept and caught.value.frames == 12 and caught.value.reason.startswith("masks failed: ")


def _video_disk_fills_after(monkeypatch, frames: int) -> None:
    """Fault injection: the video's disk fills up after ``frames`` frames (its sink raises the disk's error)."""
    real, count = VideoSink._encode, {"n": 0}

    def full(self, frame):
        count["n"] += 1
        if count["n"] > frames:
            raise SinkError(f"cannot write {self.path}: {os.strerror(errno.ENOSPC)}")
        return real(self, frame)

    monkeypatch.setattr(VideoSink, "_encode", full)


def test_a_video_whose_disk_fills_leaves_the_masks_written_and_says_so(split_video, rule_onnx, tmp_path, monkeypatch):
    _video_disk_fills_after(monkeypatch, 8)
    out, masks = tmp_path / "o.mp4", tmp_path / "masks"
    r = CliRunner().invoke(segment_video_cmd, [str(split_video), "-o", str(out), "--model", str(rule_onnx), "-q",
                                               "--masks-dir", str(masks)])  # fmt: skip
    # (was: the masks left as they were, unsaid)
    assert r.exit_code == 1 and r.output == (f"Error: encode failed: cannot write {out}: No space left on device; "
                                             f"removed the unfinished output {out}; the masks of the first 8 frames "
                                             f"are kept in {masks} (000000.png to 000007.png)\n"), r.output  # fmt: skip
    assert not out.exists() and sorted(p.name for p in masks.iterdir()) == [*(f"{i:06d}.png" for i in range(8)), "masks.csv"]


def test_masks_and_then_the_video_fail_and_both_are_told(split_video, rule_onnx, tmp_path, monkeypatch):
    _masks_fill_the_disk_at(monkeypatch, 3)
    _video_disk_fills_after(monkeypatch, 8)  # (later)
    out, masks = tmp_path / "o.mp4", tmp_path / "masks"
    r = CliRunner().invoke(segment_video_cmd, [str(split_video), "-o", str(out), "--model", str(rule_onnx), "-q",
                                               "--masks-dir", str(masks)])  # fmt: skip
    assert r.exit_code == 1 and r.output == (
        f"Error: encode failed: cannot write {out}: No space left on device; removed the unfinished output {out}; "
        f"masks failed before: cannot write mask {masks}/000003.png: No space left on device; the masks of the "
        f"first 3 frames are kept in {masks} (000000.png to 000002.png)\n"), r.output  # fmt: skip


def test_an_interrupted_run_says_what_its_masks_hold(tmp_path):
    from types import SimpleNamespace

    from roadseg.pipeline.outcome import interruption

    masks = MaskSink(tmp_path / "masks")
    masks.written = 4
    video = SimpleNamespace(label="output", written=4, path=tmp_path / "o.mp4", finish=lambda keep: True)
    assert interruption(KeyboardInterrupt(), video, masks).message == (
        f"interrupted: finalised a playable {tmp_path / 'o.mp4'} with the 4 frames done; the masks of the first 4 "
        f"frames are kept in {tmp_path / 'masks'} (000000.png to 000003.png)")  # (was: the masks unsaid)  # fmt: skip
    masks.written = 1
    shown = interruption(KeyboardInterrupt(), None, masks).message  # (masks alone, beside a window)
    assert shown == f"interrupted: the mask of the first frame is kept in {tmp_path / 'masks'} (000000.png)"


def test_stats_json_has_per_frame_class_shares_and_stage_timings(split_video, rule_onnx, tmp_path):
    stats = tmp_path / "s.json"
    r = CliRunner().invoke(segment_video_cmd, [str(split_video), "-o", str(tmp_path / "o.mp4"), "--model",
                                               str(rule_onnx), "-q", "--stats", str(stats)])  # fmt: skip
    assert r.exit_code == 0, r.output
    data = json.loads(stats.read_text())
    assert len(data["per_frame"]) == 12 and data["classes"][3] == "Road"
    shares = data["per_frame"][0]["shares"]
    assert sum(shares) == pytest.approx(1.0, abs=1e-3) and shares[3] == pytest.approx(0.5, abs=0.05)
    assert data["per_frame"][1]["time"] == pytest.approx(0.04)
    assert all(data["stages"][s]["count"] == 12 for s in ("decode", "infer", "overlay", "encode"))


def test_a_folder_of_photos_of_several_shapes_is_segmented_each_at_its_own_aspect(tmp_path, monkeypatch):
    from conftest import rule_model

    from roadseg.pipeline.session import OnnxSegmenter

    model = rule_model(tmp_path / "m.onnx", input_size=(360, 480))
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, (h, w) in {"a.png": (72, 96), "b.png": (128, 72), "c.png": (128, 72), "d.png": (72, 128)}.items():
        cv2.imwrite(str(folder / name), cv2.cvtColor(split_frames(1, h=h, w=w)[0], cv2.COLOR_RGB2BGR))
    seen, predict = [], OnnxSegmenter.predict
    monkeypatch.setattr(OnnxSegmenter, "predict", lambda self, x: seen.append(x.shape) or predict(self, x))
    segment_video(folder, tmp_path / "out", model=model, batch=4, quiet=True, masks_dir=str(tmp_path / "m"))
    # 4:3 at the model's own size; the upright pair in one batch at 9:16; 16:9 at its own (was: all at 360x480)
    assert seen == [(1, 360, 480, 3), (2, 544, 320, 3), (1, 320, 544, 3)]
    for name, shape in {"a.png": (72, 96), "b.png": (128, 72), "d.png": (72, 128)}.items():
        assert cv2.imread(str(tmp_path / "out" / name)).shape[:2] == shape
        assert cv2.imread(str(tmp_path / "m" / name), cv2.IMREAD_UNCHANGED).shape == shape
    seen.clear()
    segment_video(folder, tmp_path / "out2", model=model, batch=4, quiet=True, size=(64, 64))
    assert seen == [(4, 64, 64, 3)]  # a --size given is kept for every picture


def test_images_in_and_out(rule_onnx, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, img in enumerate(split_frames(3)):
        cv2.imwrite(str(folder / f"f{i}.jpg"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    (folder / "notes.txt").write_text("ignored")
    segment_video(folder, tmp_path / "out", model=rule_onnx, alpha=1.0, quiet=True,
                  masks_dir=str(tmp_path / "m"))  # fmt: skip
    outs = sorted((tmp_path / "out").glob("*.png"))
    assert [p.name for p in outs] == ["f0.png", "f1.png", "f2.png"]
    img = cv2.cvtColor(cv2.imread(str(outs[0])), cv2.COLOR_BGR2RGB)
    assert img.shape == (48, 64, 3) and img[20, 10].tolist() == list(PALETTE[3])
    assert sorted(p.name for p in (tmp_path / "m").glob("*.png")) == ["f0.png", "f1.png", "f2.png"]
    segment_video(str(folder / "f1.*"), tmp_path / "one.png", model=rule_onnx, quiet=True)  # a glob
    assert (tmp_path / "one.png").is_file()
    r = CliRunner().invoke(segment_video_cmd, [str(folder / "f0.jpg"), "-o", str(tmp_path / "one.png"), "--model", str(rule_onnx)])
    assert r.exit_code == 1 and "exists" in r.output  # no silent overwrite for images either
    r = CliRunner().invoke(segment_video_cmd, [str(folder / "f0.jpg"), "-o", str(tmp_path / "one.png"), "--model",
                                               str(rule_onnx), "-y", "-q"])  # fmt: skip
    assert r.exit_code == 0 and r.output.startswith(f"wrote {tmp_path / 'one.png'}: 1 image in "), r.output
    # a video name for images: one line before any work, and no folder called "x.mp4"
    for src, dst, says in ((folder / "f0.jpg", "one.mp4", "cannot write an image as one.mp4"),
                           (folder, "all.mp4", "3 images are written into a folder, but")):  # fmt: skip
        r = CliRunner().invoke(segment_video_cmd, [str(src), "-o", str(tmp_path / dst), "--model", str(rule_onnx)])
        assert r.exit_code == 1 and r.output.startswith("Error: " + says) and r.output.count("\n") == 1, r.output
        assert not (tmp_path / dst).exists()
    # a video's cut and encoder for images: one line (they were ignored)
    r = CliRunner().invoke(segment_video_cmd, [str(folder), "-o", str(tmp_path / "cut"), "--start", "1", "--codec",
                                               "ffv1", "--model", str(rule_onnx)])  # fmt: skip
    assert r.exit_code == 1 and r.output == f"Error: --start and --codec are for video; {folder} is images\n"


@pytest.mark.skipif(not cv2.haveImageWriter("x.avif"), reason="this OpenCV has no AVIF codec")
def test_avif_images_are_read_and_written(rule_onnx, tmp_path):
    # (was: a folder of .avif photos was "no images (.png, ...)", and one .avif was read as a one-frame video)
    folder = tmp_path / "phone"
    folder.mkdir()
    for i, img in enumerate(split_frames(2)):
        assert cv2.imwrite(str(folder / f"p{i}.avif"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    segment_video(folder, tmp_path / "out", model=rule_onnx, alpha=1.0, quiet=True)
    outs = sorted((tmp_path / "out").glob("*"))
    assert [p.name for p in outs] == ["p0.png", "p1.png"]
    img = cv2.cvtColor(cv2.imread(str(outs[0])), cv2.COLOR_BGR2RGB)
    assert img.shape == (48, 64, 3) and img[20, 10].tolist() == list(PALETTE[3])
    segment_video(folder / "p1.avif", tmp_path / "one.avif", model=rule_onnx, alpha=1.0, quiet=True)
    assert cv2.imread(str(tmp_path / "one.avif")).shape == (48, 64, 3)


@pytest.mark.parametrize("name", ["IMG_0001.HEIC", "photo.heif"])
def test_a_heic_photo_is_one_line_naming_the_conversion(rule_onnx, tmp_path, name):
    # (was: "not a readable video: IMG_0001.HEIC (Invalid data ...)", or for a folder of them "no images (...)")
    photo = tmp_path / "phone" / name
    photo.parent.mkdir()
    photo.write_bytes(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic")  # (FFmpeg reads a HEIC's tiles apart, not as a photo)
    for src in (photo, photo.parent):
        r = CliRunner().invoke(segment_video_cmd, [str(src), "-o", str(tmp_path / "o.png"), "--model", str(rule_onnx)])
        assert r.exit_code == 1 and r.output.count("\n") == 1, r.output
        assert r.output.startswith("Error: ") and "HEIC" in r.output and "convert" in r.output, r.output
    cv2.imwrite(str(photo.parent / "a.jpg"), split_frames(1)[0])  # beside a JPEG: refused too, not left out unsaid
    r = CliRunner().invoke(segment_video_cmd, [str(photo.parent), "-o", str(tmp_path / "out"), "--model", str(rule_onnx)])
    assert r.exit_code == 1 and "holds 1 HEIC/HEIF photo," in r.output and not (tmp_path / "out").exists(), r.output


def test_an_avif_that_this_opencv_cannot_decode_says_so(rule_onnx, tmp_path, monkeypatch):
    photo = tmp_path / "p.avif"
    photo.write_bytes(b"\0\0\0\x1cftypavif")
    monkeypatch.setattr(cv2, "haveImageWriter", lambda name: False)  # an OpenCV built without libavif
    r = CliRunner().invoke(segment_video_cmd, [str(photo), "-o", str(tmp_path / "o.png"), "--model", str(rule_onnx)])
    assert r.exit_code == 1 and r.output.startswith(f"Error: cannot read image {photo}: this OpenCV (") and \
        "has no AVIF codec" in r.output, r.output


def test_output_images_whose_disk_fills_fail_in_one_line_and_say_what_is_kept(rule_onnx, tmp_path, monkeypatch):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    folder, out = tmp_path / "frames", tmp_path / "out"
    folder.mkdir()
    for i, img in enumerate(split_frames(4)):
        cv2.imwrite(str(folder / f"f{i}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    real = ImageSink.write

    def write(self, image, frame):  # fault injection: the disk is full from the third image on (a link to
        if frame.index >= 2 and not self.target(frame.index).is_symlink():  # /dev/full: ENOSPC, from the kernel)
            self.target(frame.index).symlink_to("/dev/full")
        return real(self, image, frame)

    monkeypatch.setattr(ImageSink, "write", write)
    r = CliRunner().invoke(segment_video_cmd, [str(folder), "-o", str(out), "--model", str(rule_onnx), "-q"])
    # was: exit 0, "wrote OUT: 4 images", and f2.png, f3.png nothing but links (cv2.imwrite returned True)
    assert r.exit_code == 1 and r.output == (f"Error: encode failed: cannot write {out / 'f2.png'}: No space left on "
                                             f"device (no part of it is kept); 2 images were written to {out}\n"), r.output  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == ["f0.png", "f1.png"]
    one = tmp_path / "one.png"
    one.symlink_to("/dev/full")  # one image to one file, its disk full
    r = CliRunner().invoke(segment_video_cmd, [str(folder / "f0.png"), "-o", str(one), "--model", str(rule_onnx),
                                               "-q", "-y"])  # fmt: skip
    assert r.exit_code == 1 and r.output == (f"Error: encode failed: cannot write {one}: No space left on device (no "
                                             "part of it is kept)\n"), r.output  # fmt: skip
    assert not one.is_symlink() and not one.exists()


def test_an_image_that_does_not_read_is_left_out_and_named(rule_onnx, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, img in enumerate(split_frames(4)):
        cv2.imwrite(str(folder / f"f{i}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    for bad in ("f0.png", "f2.png"):  # (the first one too: it was read ahead, for the run's size)
        (folder / bad).write_bytes((folder / bad).read_bytes()[:60])
    out, stats = tmp_path / "out", tmp_path / "s.json"
    r = CliRunner().invoke(segment_video_cmd, [str(folder), "-o", str(out), "--model", str(rule_onnx), "-q",
                                               "--masks-dir", str(tmp_path / "m"), "--stats", str(stats)])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in (tmp_path / "m").glob("*.png")) == ["f1.png", "f3.png"]
    assert (tmp_path / "m/masks.csv").read_text() == "mask,image\nf1.png,f1.png\nf3.png,f3.png\n"  # (those left out: none)
    for bad in ("f0.png", "f2.png"):
        assert f"cannot read image {folder / bad} (damaged, or not an image); left out, the other images are " \
               "segmented" in r.output  # fmt: skip
    assert f"2 of 4 images could not be read; {out} holds the 2 that could" in r.output
    assert json.loads(stats.read_text())["frames_lost"] == 2
    for good in ("f1.png", "f3.png"):
        (folder / good).write_bytes(b"not a picture")
    r = CliRunner().invoke(segment_video_cmd, [str(folder), "-o", str(tmp_path / "none"), "--model", str(rule_onnx)])
    assert r.exit_code == 1 and r.output == f"Error: cannot read any of the 4 images in {folder} (damaged, or not images)\n"
    assert not (tmp_path / "none").exists()


def test_start_and_duration_cut_video_and_audio(rule_onnx, tmp_path):
    src = write_video(tmp_path / "long.mp4", split_frames(50), audio_seconds=2.0)  # 2 s at 25 fps
    out = tmp_path / "cut.mp4"
    stats = segment_video(src, out, model=rule_onnx, start=0.6, duration=0.8, quiet=True)
    v = read_video(out)
    assert stats["frames"] == len(v["frames"]) == 20
    assert v["seconds"][0] == pytest.approx(0.0, abs=0.05) and v["seconds"][-1] == pytest.approx(0.76, abs=0.05)
    (codec, dur, tb), = v["audio"]
    assert codec == "aac" and float(dur * tb) == pytest.approx(0.8, abs=0.1)


@pytest.mark.parametrize("name,codec", [("cut.avi", None), ("cut.mkv", "mpeg2video"), ("cut.mxf", None)])
def test_a_cut_between_two_pictures_keeps_every_picture_in_an_output_timed_by_the_frame(rule_onnx, tmp_path, name,
                                                                                         codec):
    # from 0.5 s at 25 frames/s: each picture half a frame off the output's frame clock (was: rounded half to even,
    # two in a row on one frame, every other one left out: the AVI and the MPEG-2 held 13 of the 25, the last 0.96 s)
    src = write_video(tmp_path / "in.mp4", split_frames(60), time_base=Fraction(1, 12800), pts=[512 * i for i in range(60)])
    assert segment_video(src, tmp_path / name, model=rule_onnx, quiet=True, start=0.5, duration=1.0, codec=codec)["frames"] == 25
    v = read_video(tmp_path / name)
    assert len(v["frames"]) == 25 and _shown(v["frames"]) == [1] * 25
    assert np.diff(v["seconds"]) == pytest.approx([0.04] * 24, abs=0.0015)


@pytest.mark.parametrize("offset", [3600.0, 2**33 / 90000 - 1.0])  # the second passes the 33-bit clock's wrap at 1 s
def test_a_transport_streams_clock_is_where_start_counts_from_and_the_output_starts_at_zero(rule_onnx, tmp_path,
                                                                                          offset):  # fmt: skip
    # a camera's .ts/.mts: timestamps from offset, one keyframe (a seek lands on a packet it cannot decode from)
    src = write_video(tmp_path / "cam.ts", split_frames(50, h=96, w=128), audio_seconds=2.0, offset=offset)
    from roadseg.pipeline.sources import VideoSource

    with VideoSource(src, start=1.0, duration=0.4) as s:
        frames = [f for f in s if not isinstance(f, av.Packet)]
    bars = [int(np.argmax(f.image[:, :, 1].astype(int).mean(1))) for f in frames]
    assert bars == [(i * 3) % 96 for i in range(25, 35)]  # frames 25-34: from 1.0 s after the file's start
    assert float(frames[0].pts * frames[0].time_base) == pytest.approx(0.0, abs=0.03)  # (audio begins 21 ms earlier)
    out = tmp_path / "o.mp4"
    stats = segment_video(src, out, model=rule_onnx, quiet=True)
    v = read_video(out)
    assert stats["frames"] == len(v["frames"]) == 50
    assert v["seconds"][0] == pytest.approx(0.0, abs=0.05) and v["seconds"][-1] == pytest.approx(1.96, abs=0.05)
    (codec, dur, tb), = v["audio"]
    assert float(dur * tb) == pytest.approx(2.0, abs=0.1)  # not an hour of nothing before the picture
    stats = segment_video(src, out, model=rule_onnx, start=1.0, duration=0.4, overwrite=True, quiet=True)
    assert stats["frames"] == len(read_video(out)["frames"]) == 10


def test_fractional_rate_is_exact(rule_onnx, tmp_path):
    src = write_video(tmp_path / "ntsc.mp4", split_frames(24), fps=Fraction(24000, 1001))
    out = tmp_path / "o.mp4"
    segment_video(src, out, model=rule_onnx, quiet=True)
    assert read_video(out)["rate"] == Fraction(24000, 1001)


@pytest.mark.parametrize("stated,steps,n,rate", [(Fraction(5000), [40], 30, Fraction(25)),  # a header's mistake
                                                 (Fraction(5000), [40], 4, Fraction(30)),  # too few to find 25 in
                                                 (Fraction(10**6), [33, 34, 40, 50, 66], 30, Fraction(30))])  # VFR
def test_a_rate_the_frames_do_not_come_at_is_not_the_outputs_stated_one(rule_onnx, tmp_path, stated, steps, n, rate):
    # an mkv stating 5000 frames/s of pictures 40 ms apart, a VFR one whose timestamps' only rate is their clock's
    # 1000 ticks a second: x264 was told 5000 or 1000 and wrote level 5.2 or 4.2 at 320x240 (6.2 at 1080p, which
    # some hardware decoders refuse); where no rate of a camera's is known, the output states 30, as with none
    pts = [sum(steps[i % len(steps)] for i in range(k)) for k in range(n)]
    src = write_video(tmp_path / "in.mkv", split_frames(n, h=240, w=320), fps=stated, time_base=Fraction(1, 1000),
                      pts=pts)  # fmt: skip
    for name in ("o.mp4", "o.mkv"):
        segment_video(src, tmp_path / name, model=rule_onnx, quiet=True)
        assert read_video(tmp_path / name)["seconds"] == pytest.approx([t / 1000 for t in pts], abs=0.001)
    with av.open(str(tmp_path / "o.mp4")) as c:
        assert c.streams.video[0].codec_context.extradata[3] <= 20  # avcC's level: 2.0 at most (was 52, 42: 5.2, 4.2)
    with av.open(str(tmp_path / "o.mkv")) as c:
        assert c.streams.video[0].average_rate == rate  # the rate Matroska states (was 5000, 1000)


def test_codec_and_quality_options(split_video, rule_onnx, tmp_path, capfd):
    hevc = tmp_path / "o.mkv"
    segment_video(split_video, hevc, model=rule_onnx, codec="libx265", crf=30, quiet=True)
    v = read_video(hevc)
    assert v["codec"] == "hevc" and len(v["frames"]) == 12
    assert "x265 [info]" not in capfd.readouterr().err  # the encoder's own banner is not printed
    small, big = tmp_path / "small.mp4", tmp_path / "big.mp4"
    segment_video(split_video, small, model=rule_onnx, crf=40, quiet=True)
    segment_video(split_video, big, model=rule_onnx, crf=5, quiet=True)
    assert small.stat().st_size < big.stat().st_size


@pytest.mark.parametrize("codec,name", [("mpeg4", "o.mp4"), ("mjpeg", "o.avi")])
def test_crf_sets_the_quality_of_encoders_without_a_crf_of_their_own(rule_onnx, tmp_path, codec, name):
    # MPEG-style encoders have no crf option: left to their 200 kb/s default, --crf changed nothing
    rng = np.random.default_rng(0)
    grey = [cv2.GaussianBlur(rng.integers(0, 256, (192, 256), np.uint8), (5, 5), 1.0) for _ in range(8)]
    textured = [np.repeat(g[:, :, None], 3, axis=2) for g in grey]  # (no colour: 4:2:0 would blur it)
    src = write_video(tmp_path / "src.mkv", textured, codec="ffv1")
    small, big = tmp_path / f"small-{name}", tmp_path / f"big-{name}"
    segment_video(src, small, model=rule_onnx, codec=codec, crf=45, alpha=0.0, quiet=True)
    segment_video(src, big, model=rule_onnx, codec=codec, crf=5, alpha=0.0, quiet=True)
    assert small.stat().st_size * 3 < big.stat().st_size
    error = np.abs(read_video(big)["frames"][4].astype(int) - textured[4]).mean()
    assert error < 4  # crf 5: close to the source (mpeg4 1.2, mjpeg 1.9 levels)


@pytest.mark.parametrize("args,says", [(["--crf", "60"], "crf 60 is out of libx264's range 0-51"),
                                       (["--crf", "-1", "--codec", "libx265"], "crf -1 is out of libx265's range"),
                                       (["--crf", "64", "--codec", "libvpx-vp9"], "out of libvpx-vp9's range 0-63"),
                                       (["--preset", "quick"], "preset 'quick' is not one of libx264's: ultrafast"),
                                       # (these two were "cannot set up encoder 'x264': x264" and "... audio
                                       # stream `rate` must be: int | None")
                                       (["--codec", "x264"], "no video encoder 'x264' in this FFmpeg"),
                                       (["--codec", "aac"], "--codec aac: aac is an audio encoder, not a video one")])  # fmt: skip
def test_a_quality_setting_the_encoder_cannot_take_is_one_clear_line(split_video, rule_onnx, tmp_path, capfd, args,
                                                                     says):  # fmt: skip
    out = tmp_path / "o.mkv"  # (x264 took crf 60 as 51 without a word; x264 and x265 printed lines of their own)
    r = CliRunner().invoke(segment_video_cmd, [str(split_video), "-o", str(out), "--model", str(rule_onnx), *args])
    assert r.exit_code == 1 and says in r.output and r.output.count("\n") == 1, r.output
    assert "[error]" not in capfd.readouterr().err and not out.exists()


def test_a_crf_the_containers_own_encoder_cannot_take_names_that_encoder(split_video, rule_onnx, tmp_path):
    # (was: "cannot set up encoder 'libx264' for o.webm: 'webm' format does not support 'libx264' codec", the
    # error of the encoder tried first, though .webm gets VP9 without --codec and VP9's range was what failed)
    out = tmp_path / "o.webm"
    r = CliRunner().invoke(segment_video_cmd, [str(split_video), "-o", str(out), "--model", str(rule_onnx), "-q",
                                               "--crf", "70"])  # fmt: skip
    assert r.exit_code == 1 and "crf 70 is out of libvpx-vp9's range 0-63" in r.output, r.output
    assert "libx264" not in r.output and r.output.count("\n") == 1 and not out.exists()


@pytest.mark.parametrize("name,codec,expect", [("o.gif", None, ("gif", "bgra")),  # (as decoded: 8-bit RGB)
                                                 ("o.avi", "mjpeg", ("mjpeg", "yuvj420p")),
                                                 ("o.mov", "prores_ks", ("prores", "yuv422p10le"))])  # fmt: skip
def test_encoders_without_yuv420p_get_a_pixel_format_of_their_own(split_video, rule_onnx, tmp_path, name, codec,
                                                                   expect):  # fmt: skip
    out = tmp_path / name
    args = [str(split_video), "-o", str(out), "--model", str(rule_onnx), "--mode", "mask", "-q"]
    args += ["--codec", codec] if codec else []
    r = CliRunner().invoke(segment_video_cmd, args)
    assert r.exit_code == 0, r.output
    v = read_video(out)
    assert (v["codec"], v["pix_fmt"]) == expect and len(v["frames"]) == 12
    distance = np.abs(v["frames"][5][:, :, None].astype(int) - np.array(PALETTE)).sum(-1)  # to each class colour
    nearest = distance.argmin(-1)
    assert (nearest[:, :28] == 3).mean() > 0.8 and (nearest[:, 36:] == 0).mean() > 0.8  # red half: Road; dark: Sky
    if codec is None:  # GIF: each frame its own palette, so a mask's colours are exact (3-3-2 bits: 52 levels off)
        assert distance.min(-1).max() == 0


@pytest.mark.parametrize("name,codec", [("labels.mkv", "ffv1"), ("labels.mov", "png"), ("labels.avi", "utvideo")])
def test_a_mask_video_in_a_lossless_codec_holds_the_exact_class_of_every_pixel(rule_onnx, tmp_path, name, codec):
    frames = [cv2.GaussianBlur(f, (7, 7), 2.0) for f in split_frames(6, h=48, w=64)]  # (edges between classes)
    src = write_video(tmp_path / "src.mkv", frames, codec="ffv1")
    out, masks = tmp_path / name, tmp_path / "masks"
    segment_video(src, out, model=rule_onnx, mode="mask", codec=codec, masks_dir=str(masks), quiet=True)
    shown = read_video(out)["frames"]
    assert len(shown) == 6
    for picture, png in zip(shown, sorted(masks.glob("*.png"))):
        distance = np.abs(picture[:, :, None].astype(int) - np.array(PALETTE)).sum(-1)
        assert distance.min(-1).max() == 0  # every pixel exactly a class colour (yuv420p: 145 colours of 12)
        assert np.array_equal(distance.argmin(-1), cv2.imread(str(png), cv2.IMREAD_UNCHANGED))  # the --masks-dir classes


def test_a_gif_keeps_the_colours_of_an_overlay(tmp_path):
    from roadseg.pipeline.sinks import VideoSink

    rng = np.random.default_rng(1)
    pictures = [cv2.GaussianBlur(rng.integers(0, 256, (96, 128, 3), np.uint8), (9, 9), 3.0) for _ in range(5)]
    with VideoSink(tmp_path / "o.gif", width=128, height=96, fps=Fraction(10)) as sink:
        for picture in pictures:
            sink.write(picture)
    shown = read_video(tmp_path / "o.gif")["frames"]
    assert len(shown) == 5
    assert max(np.abs(a.astype(int) - b).mean() for a, b in zip(shown, pictures)) < 2.5  # (3-3-2 bits: 23 levels on average)


@pytest.mark.parametrize("name,codec,tags", [("o.mp4", None, (1, 1)), ("o.webm", None, (1, 1)),
                                             ("o.avi", "mjpeg", (5, 2))])  # fmt: skip
def test_colours_survive_a_player_that_reads_the_colour_tags(tmp_path, name, codec, tags):
    # an HD picture of the class colours: a player converts it back by the stream's tags, and an
    # untagged HD stream by BT.709, so the matrix the sink converts with must be the one it tags
    from roadseg.pipeline.sinks import VideoSink

    img = np.zeros((720, 1280, 3), np.uint8)
    for i, colour in enumerate(PALETTE):
        img[:, i * 100 : (i + 1) * 100] = colour
    with VideoSink(tmp_path / name, width=1280, height=720, fps=Fraction(25), crf=0, codec=codec) as sink:
        sink.write(img)
    with av.open(str(tmp_path / name)) as c:
        frame = next(c.decode(video=0))
    assert (frame.colorspace, frame.color_range) == tags  # BT.709 limited; MJPEG: BT.601 full, as JPEG is
    shown = frame.reformat(format="rgb24", src_colorspace=1 if tags[0] in (1, 2) else 5).to_ndarray()
    assert max(np.abs(shown[360, i * 100 + 50].astype(int) - colour).max() for i, colour in enumerate(PALETTE)) <= 4


@pytest.mark.parametrize("name", ["o.mp4", "o.mov"])
def test_hevc_in_mp4_or_mov_is_tagged_hvc1_which_apple_players_need(rule_onnx, tmp_path, name):
    # FFmpeg's own tag, hev1, is refused by QuickTime, Safari and an iPhone's Photos (was: hev1)
    src = write_video(tmp_path / "in.mkv", split_frames(3))
    segment_video(src, tmp_path / name, model=rule_onnx, quiet=True, codec="libx265")
    with av.open(str(tmp_path / name)) as c:
        assert (c.streams.video[0].codec_context.name, c.streams.video[0].codec_tag) == ("hevc", "hvc1")
        assert sum(1 for _ in c.decode(video=0)) == 3


def test_an_output_that_cannot_hold_h264_gets_its_own_codec_unless_one_is_asked(split_video, rule_onnx, tmp_path):
    webm = tmp_path / "o.webm"
    result = CliRunner().invoke(segment_video_cmd, [str(split_video), "-o", str(webm), "--model", str(rule_onnx), "-q"])
    assert result.exit_code == 0, result.output
    v = read_video(webm)
    assert v["codec"] == "vp9" and len(v["frames"]) == 12
    assert "re-encoding it as opus" in result.output and [a[0] for a in v["audio"]] == ["opus"]  # AAC cannot go in
    ogv = CliRunner().invoke(segment_video_cmd, [str(split_video), "-o", str(tmp_path / "o.ogv"), "--model",
                                                 str(rule_onnx), "-q"])  # fmt: skip
    assert ogv.exit_code == 0 and read_video(tmp_path / "o.ogv")["codec"] == "vp8"  # ogg refuses H.264 late
    assert ogv.output.count("cannot be copied") == 1, ogv.output  # one line, though two encoders were tried
    segment_video(split_video, tmp_path / "o.mp4", model=rule_onnx, quiet=True)
    h264 = read_video(tmp_path / "o.mp4")["frames"][3].astype(int)
    assert np.abs(v["frames"][3].astype(int) - h264).mean() < 6  # the same picture as H.264's
    asked = CliRunner().invoke(segment_video_cmd, [str(split_video), "-o", str(tmp_path / "x.webm"), "--model",
                                                   str(rule_onnx), "-q", "--codec", "libx264"])  # fmt: skip
    assert asked.exit_code == 1 and "cannot set up encoder 'libx264'" in asked.output
    assert not (tmp_path / "x.webm").exists()


def test_mxf_keeps_every_frame_and_takes_a_rate_it_holds(rule_onnx, tmp_path):
    pan = np.random.default_rng(0).integers(0, 255, (48, 256, 3), np.uint8)  # 6 s of a camera panning
    long = write_video(tmp_path / "long.mp4", [np.ascontiguousarray(pan[:, i % 192 : i % 192 + 64]) for i in range(150)])
    # (x264's default keyframe interval, 250 frames, puts B-frames further than MXF's index reaches)
    assert segment_video(long, tmp_path / "l.mxf", model=rule_onnx, quiet=True)["frames"] == 150
    v = read_video(tmp_path / "l.mxf")
    assert len(v["frames"]) == 150 and v["audio"] == []  # (was: "Not yet implemented in FFmpeg" at the end)
    fast = write_video(tmp_path / "fast.mp4", split_frames(9), fps=Fraction(90))  # not broadcast, but FFmpeg takes it
    assert segment_video(fast, tmp_path / "f.mxf", model=rule_onnx, quiet=True)["frames"] == 9
    assert len(read_video(tmp_path / "f.mxf")["frames"]) == 9
    slow = write_video(tmp_path / "slow.mp4", split_frames(6), fps=Fraction(15))
    result = CliRunner().invoke(segment_video_cmd, [str(slow), "-o", str(tmp_path / "s.mxf"), "--model",
                                                    str(rule_onnx), "-q"])  # fmt: skip
    # (was refused, "MXF does not hold video at 15 frames/s"; then written at 23.976, the nearest rate it holds, its
    # pictures at 0, 2, 3, 5, 6, 8: shown for two frames or one, a judder): twice its rate, each picture twice
    assert result.exit_code == 0 and result.output.splitlines()[0] == (
        f"roadseg: {tmp_path / 's.mxf'}: MXF holds no video at 15 frames/s; written at 30, each picture at its "
        "time's place (each shown 2 times)")  # fmt: skip
    v = read_video(tmp_path / "s.mxf")
    assert v["rate"] == 30 and _shown(v["frames"]) == [2] * 6  # (was: the last picture once, a 30th of a second short)


def _shown(frames):
    """How many frames in a row each picture of a decoded video is shown for (a picture of ``split_frames`` differs
    from the next by a line of 128; a repeat by the encoder's noise)."""
    runs = [1]
    for a, b in zip(frames, frames[1:]):
        if np.abs(a.astype(int) - b.astype(int)).max() < 20:
            runs[-1] += 1
        else:
            runs.append(1)
    return runs


@pytest.mark.parametrize("fps,rate,times", [("25/2", 25, 2), ("10", 30, 3), ("20", 60, 3), ("27", 25, None)])
def test_mxf_shows_every_picture_alike_at_a_whole_multiple_of_its_rate(rule_onnx, tmp_path, fps, rate, times):
    # a rate the MXF muxer holds that is a whole multiple of the input's shows each picture as often: smooth motion
    # (was: 23.976 for all three, the nearest, where pictures were shown for two frames or three); where it holds
    # none, the nearest (27 frames/s: at 25, some left out). The last picture too (was: once, and the file a frame
    # of its rate short of the input's length: 6 pictures at 10 frames/s lasted 0.533 s, not 0.6)
    src = write_video(tmp_path / "in.mp4", split_frames(6), fps=Fraction(fps))
    segment_video(src, tmp_path / "o.mxf", model=rule_onnx, quiet=True)
    v = read_video(tmp_path / "o.mxf")
    assert v["rate"] == rate
    assert _shown(v["frames"]) == ([times] * 6 if times else [1] * 6), _shown(v["frames"])
    with av.open(str(tmp_path / "o.mxf")) as out:
        stated = out.streams.video[0].duration * out.streams.video[0].time_base
    assert stated == (6 / Fraction(fps) if times else Fraction(6, rate)), stated


def _moved(src, path, move, kind="audio"):
    """A copy of ``src`` at ``path`` whose ``kind`` packets are each moved by ``move(seconds)`` seconds (None: left out)."""
    with av.open(str(src)) as c, av.open(str(path), "w") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in c.streams}
        for packet in c.demux():
            if packet.dts is not None:
                shift = move(float(packet.pts * packet.time_base)) if packet.stream.type == kind else 0
                if shift is not None:
                    shift = round(shift / packet.time_base)
                    packet.pts, packet.dts, packet.stream = packet.pts + shift, packet.dts + shift, streams[packet.stream.index]
                    out.mux(packet)
    return path


def _sound(path):
    """The first audio stream decoded: its first sample's time (s) and its samples (mono, -1..1), each frame
    after the one before, or where its time puts it, with silence before it, if that is 2 ms or more later
    (Matroska's timestamps are rounded to the ms)."""
    with av.open(str(path)) as c:
        frames = list(c.decode(c.streams.audio[0]))
    start, rate, sound = float(frames[0].time), frames[0].sample_rate, np.zeros(0)
    for f in frames:
        data = f.to_ndarray()[0]
        silence = max(0, round((float(f.time) - start) * rate) - len(sound))
        sound = np.concatenate([sound, np.zeros(silence if silence >= 0.002 * rate else 0),
                                data / {np.dtype(np.int32): 2**31, np.dtype(np.int16): 2**15}.get(data.dtype, 1)])  # fmt: skip
    return start, sound


@pytest.mark.parametrize("case", ["whole", "shorter", "late", "hole", "44.1 kHz", "16-bit PCM"])
def test_mxf_keeps_the_sound_in_step_beside_every_picture(rule_onnx, tmp_path, case):
    # FFmpeg's MXF muxer reads no timestamp: it pairs sound and picture by count, and ends the file where its sound
    # ends. The sound goes in as 48 kHz PCM from the first picture, silence where it had none, up to the last
    # picture (was: left out, with one line; copied, the 0.3 s one cut the video to 8 pictures, the late one played
    # 0.5 s early)
    seconds = 0.3 if case == "shorter" else 1.2
    src = write_video(tmp_path / "in.mkv", split_frames(30), audio_seconds=seconds, audio_rate=44100 if case == "44.1 kHz"
                      else 48000, audio_codec="pcm_s16le" if case == "16-bit PCM" else "aac")  # fmt: skip
    if case in ("late", "hole"):  # a microphone that starts half a second late; 0.2 s of sound lost midway
        src = _moved(src, tmp_path / f"{case}.mkv", lambda t: 0.5 if case == "late" else (None if 0.4 <= t < 0.6 else 0))
    out = tmp_path / "o.mxf"
    r = CliRunner().invoke(segment_video_cmd, [str(src), "-o", str(out), "--model", str(rule_onnx), "-q"])
    pcm = "pcm_s16le" if case == "16-bit PCM" else "pcm_s24le"  # (16-bit sound stays so, and is told of in no line)
    told = [line for line in r.output.splitlines() if "audio" in line]
    assert r.exit_code == 0 and told == ([] if case == "16-bit PCM" else [
        "roadseg: audio stream #1 (aac) goes into MXF as pcm_s24le at 48 kHz, the only sound it holds"]), r.output
    v = read_video(out)
    assert len(v["frames"]) == 30 and v["audio"] == [(pcm, 57600, Fraction(1, 48000))]
    assert v["seconds"] == pytest.approx([0.04 * i for i in range(30)])  # (H.264's B-frames read 0, 0.12, 0.08 ... there)
    spans = sound_spans(out)  # one picture's worth beside each, from the first to the last
    assert spans[0][0] == 0.0 and spans[-1][1] == pytest.approx(1.2) and len(spans) == 30
    start, sound = _sound(out)
    heard_at, heard = _sound(src)
    at = round((heard_at - read_video(src)["seconds"][0]) * 48000)  # where the input's sound lies from its first picture
    assert start == 0.0 and len(sound) == 30 * 1920
    if case == "44.1 kHz":  # (resampled: where it sounds)
        loud = np.flatnonzero(np.abs(sound) > 0.05)
        assert loud[0] < 48 and len(sound) - 48 < loud[-1] + 1 <= len(sound), (loud[0], loud[-1])
        return
    if case == "hole":
        assert not sound[at + round(0.42 * 48000) : at + round(0.58 * 48000)].any()
    heard = heard[: len(sound) - at]
    assert np.abs(sound[at : at + len(heard)] - heard).max() < 1e-4  # the input's sound, sample for sample in place
    assert not sound[:at].any() and not sound[at + len(heard) :].any()  # silence before and after it


def test_mxf_holds_only_the_newest_sound_until_a_late_first_picture(rule_onnx, tmp_path, monkeypatch):
    # a file whose video begins 15 s after its sound: what lies before the first picture is cut anyway, so only the
    # newest pcm.HOLD (10) seconds wait for it (was: all of it, 15.4 s held)
    from roadseg.pipeline.sinks.pcm import HOLD, FilledTrack

    src = write_video(tmp_path / "in.mkv", split_frames(30), audio_seconds=16.2)
    late = _moved(src, tmp_path / "late.mkv", lambda t: 15.0, kind="video")
    held, push = [], FilledTrack.push

    def counted(self, frame):  # what the track holds after each frame (seconds of sound)
        push(self, frame)
        held.append(sum(f.samples / f.sample_rate for f in self._held))

    monkeypatch.setattr(FilledTrack, "push", counted)
    segment_video(late, tmp_path / "o.mxf", model=rule_onnx, quiet=True)
    assert HOLD <= max(held) < HOLD + 0.03, max(held)  # (a frame of AAC: 1024 samples)
    v = read_video(tmp_path / "o.mxf")
    assert len(v["frames"]) == 30 and v["audio"] == [("pcm_s24le", 57600, Fraction(1, 48000))]
    start, sound = _sound(tmp_path / "o.mxf")
    heard_at, heard = _sound(late)
    at = round((15.0 - heard_at) * 48000)  # the input's sound at its first picture, beside the output's first
    # (within 1 ms: Matroska times each AAC frame to the ms)
    assert start == 0.0 and min(np.abs(sound - heard[at + d : at + d + len(sound)]).max() for d in range(-48, 49)) < 1e-4


@pytest.mark.parametrize("case", ["gap", "early"])
def test_mxf_times_each_picture_by_its_place_and_keeps_the_sound_in_step(rule_onnx, tmp_path, case):
    # MXF times its pictures by their count, its sound by its samples: a second of pictures missing from the input
    # (pictures at 0-0.96 s and 2-2.96 s, the sound whole) put every later one a second early against the sound, and
    # the file ended at 2 s (was: 50 pictures, 2 s of sound). The picture before a gap is repeated up to the next
    # one's place; one that comes a frame or more early, where a picture is already, is left out
    # (the input's timestamps, and which of its pictures each of the output's is; early: one at 20 ms, between 0 and 40)
    pts, seen = ([*range(25), *range(50, 75)], [*range(25), *[24] * 25, *range(25, 50)]) if case == "gap" else (
        [0, 20, *range(40, 2000, 40)], [0, *range(2, 51)])  # fmt: skip
    src = write_video(tmp_path / "in.mkv", split_frames(len(pts)), pts=pts, audio_seconds=len(seen) / 25,
                      time_base=Fraction(1, 25) if case == "gap" else Fraction(1, 1000))  # fmt: skip
    out = tmp_path / "o.mxf"
    assert segment_video(src, out, model=rule_onnx, quiet=True)["frames"] == len(pts)  # (the pictures segmented)
    v = read_video(out)
    assert len(v["frames"]) == len(seen) and v["audio"] == [("pcm_s24le", len(seen) * 1920, Fraction(1, 48000))]
    bars = [int(np.argmax(f[:, :, 1].mean(axis=1))) for f in v["frames"]]  # (split_frames' grey bar: which picture)
    assert bars == [i * 3 % 48 for i in seen]
    start, sound = _sound(out)
    heard_at, heard = _sound(src)
    assert start == heard_at == 0.0 and len(sound) == len(seen) * 1920 and sound_spans(out)[-1][1] == pytest.approx(len(seen) / 25)
    assert np.abs(sound - heard[: len(sound)]).max() < 1e-4  # the input's sound, sample for sample in place


@pytest.mark.parametrize("case", ["gap", "phone", "extra"])
@pytest.mark.parametrize("name,codec", [("o.mxf", None), ("o.mkv", "mpeg2video"), ("o.avi", "mpeg4")])
def test_frame_clock_outputs_take_the_rate_the_pictures_come_at(rule_onnx, tmp_path, case, name, codec):
    # the header's average rate is no camera's where pictures are missing: 16.7 frames/s for an mp4 of 3 s at 25
    # with a 1-s gap, 29.87 for a phone's 8 s at 30 (1/600 s, a picture up to 2 ticks late) with one dropped.
    # MXF and MPEG-2 hold only some rates, AVI times its pictures by the frame (was: MXF refused both, "does not hold
    # video at 16.667 frames/s", MPEG-2 and MPEG-4 part 2 the phone's, "cannot set up encoder"; the gap's written at
    # 16.7, its pictures up to 0.5 s late). Now at 25, and at the 29.97 nearest the phone's (FFmpeg finds 200 frames/s
    # in its steps). Extra: 2 s at 25 with one picture more, at 20 ms (25.5 frames/s), left out as MXF leaves it out
    # (was: in AVI and MPEG-2, put a frame on, and every picture after it a frame late)
    if case == "gap":
        pts, tb, seconds, rate = [*range(25), *range(50, 75)], Fraction(1, 25), 3.0, Fraction(25)
    elif case == "extra":
        pts, tb, seconds, rate = [0, 20, *range(40, 2000, 40)], Fraction(1, 1000), 2.0, Fraction(25)
    else:
        pts, tb, seconds, rate = [20 * i + i % 3 for i in range(240) if i != 100], Fraction(1, 600), 8.0, Fraction(30000, 1001)
    src = write_video(tmp_path / "in.mp4", split_frames(len(pts)), fps=Fraction(30 if case == "phone" else 25), pts=pts,
                      time_base=tb, audio_seconds=seconds)  # fmt: skip
    with av.open(str(src)) as c:
        assert round(float(c.streams.video[0].average_rate), 2) == {"gap": 16.67, "phone": 29.86, "extra": 25.5}[case]
    out = tmp_path / name
    assert segment_video(src, out, model=rule_onnx, quiet=True, codec=codec)["frames"] == len(pts)
    v = read_video(out)  # (every picture decodes)
    with av.open(str(out)) as c:
        assert c.streams.video[0].guessed_rate == rate
    if name == "o.mxf":  # a picture a frame, the one before a gap repeated: as long as the sound, in step
        start, sound = _sound(out)
        heard_at, heard = _sound(src)
        assert len(v["frames"]) == round(seconds * rate) and start == heard_at == 0.0
        assert len(sound) == round(len(v["frames"]) / rate * 48000)
        n = min(len(sound), len(heard))  # (the phone's: 240 pictures at 29.97, 8.008 s, the last 8 ms silence)
        assert np.abs(sound[:n] - heard[:n]).max() < 1e-4  # the input's sound, sample for sample in place
    else:  # each picture at its time on the rate's clock (from the first: MPEG-2 in Matroska is read from 21 ms)
        seen, slots = [t - v["seconds"][0] for t in v["seconds"]], [round(p * tb * rate) for p in pts]
        kept = [slot for n, slot in enumerate(slots) if n == 0 or slot > slots[n - 1]]  # (extra: the one at 20 ms out)
        assert seen == pytest.approx([slot / rate for slot in kept], abs=0.0015)


def _stated(path):
    """A video output's length as it states it: the container's, and its pictures' (the last one's end; a transport
    stream keeps no packet durations: there the stream's), seconds."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        ends = [(p.pts + p.duration) * p.time_base for p in c.demux(v) if p.pts is not None and p.size]
        starts = [p * v.time_base for p in read_video(path)["pts"]]
        whole = c.duration / 1_000_000
        return whole, float(v.duration * v.time_base if c.format.name == "mpegts" else max(ends) - min(starts))


@pytest.mark.parametrize("name,codec", [("o.mxf", None), ("o.mkv", "mpeg1video"), ("o.mp4", None), ("o.mkv", None),
                                        ("o.mov", None), ("o.avi", None), ("o.webm", None), ("o.ts", None)])
def test_an_output_states_its_pictures_count_times_their_step(rule_onnx, tmp_path, name, codec):
    # 6 pictures at 15 frames/s last 0.4 s, as the input says of itself, in an output written at 30 (MXF, MPEG-1:
    # each picture shown twice) too (was: the last shown once there, 0.367 s: a player ended it a frame early)
    src = write_video(tmp_path / "in.mp4", split_frames(6), fps=Fraction(15))
    assert _stated(src) == pytest.approx((0.4, 0.4))
    segment_video(src, tmp_path / name, model=rule_onnx, quiet=True, codec=codec)
    assert _stated(tmp_path / name) == pytest.approx((0.4, 0.4), abs=0.0015)  # (Matroska: to the millisecond)


@pytest.mark.parametrize("name,codec", [("o.avi", None), ("o.mkv", "mpeg2video"), ("o.mp4", "mpeg4")])
def test_frame_rate_formats_and_codecs_are_timed_by_the_frame(rule_onnx, tmp_path, name, codec):
    # AVI counts frames, MPEG-2 knows only the standard rates, MPEG-4 part 2 a 16-bit clock: none takes a
    # transport stream's 1/90000 (was: AVI said 3600 frames/s, the two encoders were refused)
    src = write_video(tmp_path / "in.ts", split_frames(25), time_base=Fraction(1, 90000), pts=[3600 * i for i in range(25)],
                      audio_seconds=1.0)  # fmt: skip
    segment_video(src, tmp_path / name, model=rule_onnx, quiet=True, codec=codec)
    with av.open(str(tmp_path / name)) as c:
        v = c.streams.video[0]
        assert round(float(v.average_rate or v.guessed_rate), 3) == 25 and v.codec_context.name == (codec or "h264")
        assert sum(1 for _ in c.decode(video=0)) == 25


def test_mpeg4_keeps_a_variable_rate_on_a_clock_it_can_count(rule_onnx, tmp_path):
    pts = [0, 40, 80, 150, 190, 300, 340, 380]  # ms: a phone's uneven frames, Matroska's 1/1000 clock
    src = write_video(tmp_path / "vfr.mkv", split_frames(8), time_base=Fraction(1, 1000), pts=pts)
    segment_video(src, tmp_path / "o.mkv", model=rule_onnx, quiet=True, codec="mpeg4")
    assert read_video(tmp_path / "o.mkv")["seconds"] == pytest.approx([t / 1000 for t in pts], abs=0.002)


def test_audio_tracks_keep_their_order_when_one_is_re_encoded(rule_onnx, tmp_path):
    # a camera's PCM main track and an AAC commentary: PCM into mp4 is re-encoded, yet stays the first track
    plain = write_video(tmp_path / "plain.mp4", split_frames(10), audio_seconds=0.4)
    src = tmp_path / "two.mov"
    with av.open(str(plain)) as c, av.open(str(src), "w") as out:
        video = out.add_stream_from_template(c.streams.video[0])
        pcm = out.add_stream("pcm_s16le", rate=48000)
        pcm.layout, pcm.metadata["language"] = "mono", "eng"  # the main track
        aac = out.add_stream_from_template(c.streams.audio[0])
        aac.metadata["language"] = "fra"  # a commentary
        for packet in c.demux():
            if packet.dts is None:
                continue
            if packet.stream.type == "audio":
                for frame in packet.decode():
                    frame.pts = None
                    out.mux(pcm.encode(frame))
            packet.stream = video if packet.stream.type == "video" else aac
            out.mux(packet)
        out.mux(pcm.encode(None))
    for name in ("o.mp4", "o.ts"):  # (into a transport stream, PCM would be written as private data: re-encoded too)
        segment_video(src, tmp_path / name, model=rule_onnx, quiet=True)
        with av.open(str(tmp_path / name)) as c:
            tracks = [(s.type, s.codec_context.name, s.metadata.get("language")) for s in c.streams if s.type != "video"]
        assert tracks[0][:2] == ("audio", "aac") and len(tracks) == 2 and all(t[0] == "audio" for t in tracks), tracks
        assert [t[2] for t in tracks] == ["eng", "fra"]  # (was: the commentary first, the track players pick)


def test_an_encoder_that_fails_is_not_tried_again_as_the_containers_own(tmp_path, monkeypatch):
    from roadseg.errors import SinkError
    from roadseg.pipeline.sinks import VideoSink, video

    tried = []
    real = video.VideoSink._try_open
    monkeypatch.setattr(video.VideoSink, "_try_open", lambda self, audio, encoder: tried.append(encoder) or
                        real(self, audio, encoder))  # fmt: skip
    with pytest.raises(SinkError, match="preset 'quick'"):
        VideoSink(tmp_path / "o.mp4", width=64, height=48, fps=Fraction(25), preset="quick")
    assert tried == ["libx264"]  # (mp4's own codec is H.264: libx264 again, the same failure)
    tried.clear()
    with VideoSink(tmp_path / "o.webm", width=64, height=48, fps=Fraction(25), preset="quick") as sink:
        sink.write(np.zeros((48, 64, 3), np.uint8))
    assert tried == ["libx264", None] and sink.encoder == "libvpx-vp9"  # webm's own: VP9, no preset


def test_gpu_encoders_get_their_own_constant_quality_mode_for_crf():
    from roadseg.errors import SinkError
    from roadseg.pipeline.sinks.encoders import encoder_options

    # nvenc has no "crf": without cq it encoded at its default 2 Mb/s whatever --crf said
    assert encoder_options("h264_nvenc", 18, "superfast") == {"rc": "vbr", "cq": "18", "b": "0"}
    assert encoder_options("hevc_qsv", 30, "superfast") == {"global_quality": "30"}
    assert encoder_options("h264_vaapi", 0, "superfast") == {"rc_mode": "CQP", "qp": "1"}  # 0 would mean "default"
    assert "crf" not in encoder_options("h264_videotoolbox", 23, "superfast")
    with pytest.raises(SinkError, match="crf 60 is out of"):
        encoder_options("h264_nvenc", 60, "superfast")


@pytest.mark.parametrize("rotation", [0, 90])
def test_height_scales_the_frames_as_they_are_decoded(rule_onnx, tmp_path, rotation):
    frames = []
    for _ in range(6):
        img = np.zeros((96, 128, 3), np.uint8)
        img[:48, :64, 0] = 255  # red (Road) in the top-left quarter of the stored picture
        frames.append(img)
    src = write_video(tmp_path / "clip.mp4", frames, rotation=rotation, audio_seconds=0.24)
    out = tmp_path / "o.mp4"
    segment_video(src, out, model=rule_onnx, alpha=1.0, quiet=True, crf=0, height=48, masks_dir=str(tmp_path / "m"))
    v = read_video(out)
    shown = (64, 48) if rotation == 0 else (36, 48)  # (width, height): upright 96 wide x 128 high -> 36 x 48
    assert (v["width"], v["height"]) == shown and len(v["frames"]) == 6 and v["audio"]
    mask = cv2.imread(str(sorted((tmp_path / "m").glob("*.png"))[0]), cv2.IMREAD_UNCHANGED)
    upright = np.rot90(frames[0], k=rotation // 90)[..., 0] > 127
    expected = cv2.resize(upright.astype(np.uint8), shown, interpolation=cv2.INTER_NEAREST) == 1
    assert np.mean((mask == 3) == expected) > 0.95  # the picture scaled, not cropped or squeezed
    segment_video(src, tmp_path / "big.mp4", model=rule_onnx, quiet=True, height=1000)
    assert read_video(tmp_path / "big.mp4")["height"] == (96 if rotation == 0 else 128)  # never enlarged
    r = CliRunner().invoke(segment_video_cmd, [str(tmp_path / "m"), "-o", str(tmp_path / "i"), "--model", str(rule_onnx),
                                               "--height", "32"])  # fmt: skip
    assert r.exit_code == 1 and "not for live or image input" in r.output


def test_audio_that_begins_after_the_video_is_said_where_avi_cannot_keep_it_in_step(rule_onnx, tmp_path):
    plain = write_video(tmp_path / "plain.mkv", split_frames(25), audio_seconds=1.0)
    late = _moved(plain, tmp_path / "late.mkv", lambda t: 0.5)  # a microphone that starts half a second late
    said = {}
    for src, suffix in ((late, ".avi"), (late, ".mkv"), (plain, ".avi")):
        r = CliRunner().invoke(segment_video_cmd, [str(src), "-o", str(out := tmp_path / f"o-{src.stem}{suffix}"),
                                                   "--model", str(rule_onnx), "-q"])  # fmt: skip
        assert r.exit_code == 0 and len(read_video(out)["frames"]) == 25, r.output
        said[out.name[2:]] = [line for line in r.output.splitlines() if "audio stream" in line]
    assert said == {"late.avi": ["roadseg: audio stream #1 begins 0.48 s after the video; AVI starts them together, so "
                                 "there it plays 0.48 s early (write .mkv or .mp4 to keep them in step)"],
                    "late.mkv": [], "plain.avi": []}  # (was: no word of it)  # fmt: skip


@pytest.mark.parametrize("codec", [None, "mpeg4", "mjpeg"])
def test_an_avi_keeps_each_picture_at_its_place_in_step_with_its_sound(rule_onnx, tmp_path, codec):
    # AVI keeps no picture's time, only its place, and starts every track at its first chunk. FFmpeg's muxer moved
    # every stream on by an mp4's AAC priming (0.02 s: its shift of negative timestamps), and AVI wrote the first picture
    # at 0 all the same, with an empty chunk after it: MPEG-4 and MJPEG read 0, 0.08, 0.12 ..., every picture after
    # the first a frame late; a picture 0.2 s after its sound read 0, 0.28, 0.32 ...; H.264's B-frames out of order
    # (0.04, 0.16, 0.12, 0.2 ...). FFmpeg read x264's pictures there a frame after their place (0.04, 0.08 ...): they
    # carry HRD timing now (:mod:`roadseg.pipeline.sinks.hrd`). The AAC's priming, 1024 samples (0.021 s) before the
    # picture, plays there: the first picture is at the nearest frame step after the sound's first sample (0.04 s; 0.2 s
    # more: 0.24 s), within half a frame of where an mkv of it has it (was: whole steps, 0 and 0.2 s, 0.021 s early)
    mp4 = write_video(tmp_path / "a.mp4", split_frames(25), audio_seconds=1.0)
    early = _moved(write_video(tmp_path / "a.mkv", split_frames(25), audio_seconds=1.0), tmp_path / "early.mkv",
                   lambda t: 0.2, kind="video")  # a camera whose picture starts 0.2 s after its sound  # fmt: skip
    for src, first in ((mp4, 0.04), (early, 0.24)):
        r = CliRunner().invoke(segment_video_cmd, [str(src), "-o", str(out := tmp_path / f"o-{src.stem}.avi"), "--model",
                                                   str(rule_onnx), "-q", *(["--codec", codec] if codec else [])])  # fmt: skip
        assert r.exit_code == 0 and "audio stream" not in r.output, r.output
        assert read_video(out)["seconds"] == pytest.approx([first + 0.04 * i for i in range(25)], abs=1e-3)
        assert _sound(out)[0] == 0.0  # (the sound at the start, where AVI puts it, and as far before the picture)


@pytest.mark.parametrize("codec", [None, "mpeg4"])
@pytest.mark.parametrize("lead", [0.03, 0.01])
def test_an_avi_puts_its_first_picture_within_half_a_frame_of_its_sound(rule_onnx, tmp_path, codec, lead):
    # AVI holds a picture only on a frame step from the sound's first sample: one 0.03 s after it went at 0, 0.03 s
    # early (the sound's lead in whole steps), as a cut's first picture did where its window begins between two
    # (x264's, read by FFmpeg a frame late: at 0.04); now at the nearest step, 0.04 s, within half a frame of where an
    # mkv has it (0.01 s after it: at 0)
    src = _moved(write_video(tmp_path / "a.mov", split_frames(25), audio_seconds=1.0, audio_codec="pcm_s16le"),
                 tmp_path / "early.mov", lambda t: -lead)  # a microphone that starts `lead` s before the camera
    first = {}
    for suffix in (".avi", ".mkv"):
        r = CliRunner().invoke(segment_video_cmd, [str(src), "-o", str(out := tmp_path / f"o{suffix}"), "--model",
                                                   str(rule_onnx), "-q", *(["--codec", codec] if codec else [])])  # fmt: skip
        assert r.exit_code == 0 and "audio stream" not in r.output, r.output
        seconds = read_video(out)["seconds"]
        assert seconds == pytest.approx([seconds[0] + 0.04 * i for i in range(25)], abs=1e-3)
        first[suffix] = seconds[0] - _sound(out)[0]
    assert first[".mkv"] == pytest.approx(lead, abs=1e-3) and abs(first[".avi"] - lead) <= 0.02, first


def test_audio_stored_after_the_picture_is_kept_whole(rule_onnx, tmp_path):
    # all 300 frames muxed before the sound: the file keeps its audio a second behind its picture
    src = write_video(tmp_path / "after.mp4", split_frames(300, 48, 64), audio_seconds=1.0)
    with av.open(str(src)) as c:
        order = [p.stream.type for p in c.demux() if p.size]
    assert order.index("audio") >= 20  # (the layout this test is about: the sound a second behind the picture)
    for suffix in (".mp4", ".mkv"):
        r = CliRunner().invoke(segment_video_cmd, [str(src), "-o", str(out := tmp_path / f"o{suffix}"),
                                                   "--model", str(rule_onnx), "-q"])  # fmt: skip
        assert r.exit_code == 0 and "roadseg:" not in r.output, r.output  # (was: re-encoded, 47 packets "damaged")
        with av.open(str(out)) as c:
            a = c.streams.audio[0]
            seconds = sum(f.samples for f in c.decode(a)) / a.codec_context.sample_rate
        assert a.codec_context.name == "aac" and seconds == pytest.approx(1.0, abs=0.05), (suffix, seconds)


@pytest.mark.parametrize("ext", ["mp4", "mkv"])
def test_max_frames_cuts_the_sound_with_the_last_picture(rule_onnx, tmp_path, ext):
    # a file keeps its sound ahead of its pictures (an mp4 by up to a second): it was muxed as it was read, so
    # --max-frames 10 of a 25 frames/s clip wrote 0.4 s of pictures and 1.45 s of sound
    src, out = write_video(tmp_path / f"a.{ext}", split_frames(100, h=48, w=64), audio_seconds=4.0), tmp_path / "o.mp4"
    r = CliRunner().invoke(segment_video_cmd, [str(src), "-o", str(out), "--model", str(rule_onnx), "-q",
                                              "--max-frames", "10"])  # fmt: skip
    assert r.exit_code == 0, r.output
    v = read_video(out)
    assert len(v["frames"]) == 10
    with av.open(str(out)) as c:
        sound = [(float(p.pts * p.time_base), float((p.pts + p.duration) * p.time_base))
                 for p in c.demux(c.streams.audio[0]) if p.size]  # fmt: skip
    shown = v["seconds"][-1] + 0.04  # (where the last picture ends)
    assert sound[0][0] <= 0.0 and sound[-1][0] < shown <= sound[-1][1] + 0.001, (sound[-1], shown)


@pytest.mark.parametrize("name", ["rec.mkv", "rec.ts", "pipe"])
def test_only_a_live_recording_into_a_pipe_is_written_packet_by_packet(tmp_path, name):
    # a live run into a named pipe gets standard output's live settings (was: none); a file keeps FFmpeg's buffers and
    # interleaving, live or not (its sound stored by time, for a player that seeks), and so does a file's run into a pipe
    import os
    import threading

    from roadseg.pipeline.sinks import VideoSink

    out = tmp_path / name
    for live in (False, True):
        if name == "pipe":
            os.mkfifo(out)
            threading.Thread(target=out.read_bytes, daemon=True).start()  # (a reader, for the run to open it)
        with VideoSink(out, width=64, height=48, fps=Fraction(25), wall_clock=live) as sink:
            sink.write(np.zeros((48, 64, 3), np.uint8))
            settings = dict(sink.container.options)
        assert ("max_interleave_delta" in settings) == (live and name == "pipe"), (live, settings)
        assert ("flush_packets" in settings) == (live and name == "pipe"), (live, settings)
        out.unlink()


def _h264_with_pcm(path, bframes: int, sound: bool = True):
    """25 pictures at 25 frames/s, each unlike the others (x264, ``bframes`` B-frames), beside 1 s of 16-bit PCM from
    0 s (where ``sound``), into ``path`` (an AVI or an mkv)."""
    return _with_pcm(path, "libx264", {"preset": "veryfast", "bf": str(bframes)}, 8, sound)


def _with_pcm(path, codec: str, options: dict, shade: int, sound: bool = True, bit_rate: int | None = None):
    """25 pictures at 25 frames/s of ``codec`` (``options``), the Nth's blue ``shade`` * N, beside 1 s of 16-bit PCM
    from 0 s (where ``sound``), into ``path``."""
    with av.open(str(path), "w") as out:
        vs = out.add_stream(codec, rate=25, options=options)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        if bit_rate:
            vs.bit_rate = bit_rate
        aus = out.add_stream("pcm_s16le", rate=48000)
        aus.layout = "mono"
        for k in range(0, 48000 if sound else 0, 1024):
            af = av.AudioFrame.from_ndarray(np.full((1, 1024), 1000, np.int16), format="s16", layout="mono")
            af.sample_rate, af.pts = 48000, k
            out.mux(aus.encode(af))
        frames = split_frames(25)
        for i, img in enumerate(frames):
            img[:, :, 2] = shade * i
        encode_pictures(out, vs, frames)
    return path


@pytest.mark.parametrize("bframes", [0, 3])
def test_h264_in_an_avi_is_written_at_each_pictures_place_as_from_an_mkv(rule_onnx, tmp_path, bframes):
    # an AVI's timestamps number its chunks, and FFmpeg reads H.264's a frame on (it takes them for delayed: 0.04,
    # 0.08 ...; with B-frames each at its own chunk's number, out of the order shown: 0.04, 0.16, 0.12, 0.2, 0.08 ...):
    # every picture was written late against the sound, which starts at 0 in both, the first 0.04 s, the others
    # 0.08 s (0.04, 0.12, 0.16 ... 1.04 s; from the mkv 0, 0.04, 0.08 ... 0.96 s)
    written = {}
    for suffix in ".avi", ".mkv":
        src = _h264_with_pcm(tmp_path / f"cam{suffix}", bframes)
        r = CliRunner().invoke(segment_video_cmd, [str(src), "-o", str(out := tmp_path / f"o-{src.stem}{suffix}.mkv"),
                                                   "--model", str(rule_onnx), "-q", "--alpha", "0"])  # fmt: skip
        assert r.exit_code == 0, r.output
        video = read_video(out)
        blue = [round(float(frame[:, :, 2].mean()) / 8) for frame in video["frames"]]  # (which picture each is)
        written[suffix] = video["seconds"], blue, _sound(out)[0]
    assert written[".avi"][0] == pytest.approx([0.04 * i for i in range(25)], abs=1e-3)
    assert written[".avi"][1:] == written[".mkv"][1:] and written[".avi"][1] == list(range(25))
    assert written[".avi"][0] == pytest.approx(written[".mkv"][0], abs=1e-3) and written[".avi"][2] == 0.0


def _mpeg4_with_pcm(path, bframes: int):
    """25 pictures at 25 frames/s, each unlike the others (MPEG-4 part 2, as Xvid dashcams write it, ``bframes``
    B-frames), beside 1 s of 16-bit PCM from 0 s, into ``path`` (an AVI or an mkv)."""
    return _with_pcm(path, "mpeg4", {"bf": str(bframes), "g": "12"} if bframes else {}, 10, bit_rate=2_000_000)


@pytest.mark.parametrize("bframes", [0, 2])
@pytest.mark.parametrize("window", [(), ("--start", "0.3", "--duration", "0.4")])
def test_mpeg4_in_an_avi_is_written_at_each_pictures_place_as_from_an_mkv(rule_onnx, tmp_path, bframes, window):
    # FFmpeg reads MPEG-4 part 2 with B-frames from an AVI a frame late, as H.264 (its chunks' numbers taken for
    # delayed: 0.04, 0.16, 0.08, 0.12 ...): every picture was written 0.04 s late against the sound, which starts at 0
    # in both (0.04 ... 1.0 s; from the mkv 0 ... 0.96 s), and --start 0.3 --duration 0.4 kept pictures 7-16, not
    # 8-17 (without B-frames, at their place)
    written = {}
    for suffix in ".avi", ".mkv":
        src = _mpeg4_with_pcm(tmp_path / f"cam{suffix}", bframes)
        r = CliRunner().invoke(segment_video_cmd, [str(src), *window, "-o", str(out := tmp_path / f"o{suffix}.mkv"),
                                                   "--model", str(rule_onnx), "-q", "--alpha", "0"])  # fmt: skip
        assert r.exit_code == 0, r.output
        video = read_video(out)
        blue = [round(float(frame[:, :, 2].mean()) / 10) for frame in video["frames"]]  # (which picture each is)
        written[suffix] = [round(t / 0.04) for t in video["seconds"]], blue, _sound(out)[0]
    assert written[".avi"][1] == (list(range(8, 18)) if window else list(range(25)))
    assert written[".avi"][1:] == written[".mkv"][1:]
    if not window:  # (cut, an AVI's pictures lie on its 1/25 s clock: 0.3 s in, the cut's first 0.02 s early)
        assert written[".avi"][0] == written[".mkv"][0] == list(range(25)) and written[".avi"][2] == 0.0


@pytest.mark.parametrize(("codec", "bframes", "sound"), [("h264", 3, True), ("h264", 3, False), ("mpeg4", 0, True),
                                                     ("mpeg4", 2, True)])  # fmt: skip
def test_avi_files_joined_are_written_at_each_pictures_place(rule_onnx, tmp_path, codec, bframes, sound):
    # (--concat reads the join as one AVI: was, every picture late as in one, H.264 0.04, 0.12, 0.16 ..., MPEG-4 with
    # B-frames 0.04 ... 2.0 s; H.264 without sound, the join began at FFmpeg's time of its first picture, a frame on:
    # that picture was left out, the others a frame early)
    (folder := tmp_path / "drive").mkdir()
    shade = {"h264": 8, "mpeg4": 10}[codec]
    for name in "cam_001.avi", "cam_002.avi":
        _h264_with_pcm(folder / name, bframes, sound) if codec == "h264" else _mpeg4_with_pcm(folder / name, bframes)
    r = CliRunner().invoke(segment_video_cmd, [str(folder), "--concat", "-o", str(out := tmp_path / "o.mkv"),
                                               "--model", str(rule_onnx), "-q", "--alpha", "0"])  # fmt: skip
    assert r.exit_code == 0, r.output
    video = read_video(out)
    assert video["seconds"] == pytest.approx([0.04 * i for i in range(50)], abs=1e-3)
    assert [round(float(frame[:, :, 2].mean()) / shade) for frame in video["frames"]] == [*range(25), *range(25)]
    assert not sound or _sound(out)[0] == 0.0


def _divx_packed(path, pictures: int = 25):
    """``pictures`` at 25 frames/s (MPEG-4 part 2, a B-picture between references) packed as DivX packs B-frames into
    an AVI: each reference picture's packet holds the B-picture shown before it too, and a placeholder follows (a
    picture not coded); its user data says so (``DivX503b1393p``)."""
    enc = av.CodecContext.create("mpeg4", "w")
    enc.width, enc.height, enc.pix_fmt, enc.bit_rate = 64, 48, "yuv420p", 2_000_000
    enc.time_base, enc.framerate, enc.options = Fraction(1, 25), 25, {"bf": "1", "g": "12"}
    packets = []
    for i, img in enumerate(split_frames(pictures)):
        img[:, :, 2] = 10 * i
        vf = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
        vf.pts = i
        packets += [bytes(p) for p in enc.encode(vf)]
    packets += [bytes(p) for p in enc.encode(None)]
    kind = [data[data.find(b"\0\0\1\xb6") + 4] >> 6 for data in packets]  # (0 I, 1 P, 2 B)
    vop = packets[0].find(b"\0\0\1\xb6")
    packets[0] = packets[0][:vop] + b"\0\0\1\xb2DivX503b1393p" + packets[0][vop:]
    placeholder = b"\0\0\1\xb6" + int("01" "0" "1" "00000" "1" "0" "0111", 2).to_bytes(2, "big")  # (P, not coded)
    chunks = []
    for n, data in enumerate(packets):
        if kind[n] == 2:
            chunks[-1] += data
            chunks.append(placeholder)
        else:
            chunks.append(data)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("mpeg4", rate=25)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        for n, data in enumerate(chunks):
            packet = av.Packet(data)
            packet.stream, packet.pts, packet.dts, packet.time_base = vs, n, n, Fraction(1, 25)
            packet.is_keyframe = data[data.find(b"\0\0\1\xb6") + 4] >> 6 == 0
            out.mux(packet)
    return path


def test_divx_packed_b_frames_in_an_avi_are_read_at_each_pictures_place(tmp_path):
    # a packed packet's B-picture comes out of the placeholder after it, its reference out of the next packed one:
    # each was stamped at the other's chunk, every pair swapped, and FFmpeg's a frame on (0.04, 0.12, 0.08, 0.2 ...)
    src = _divx_packed(tmp_path / "divx.avi")
    for start in 0, 0.3:
        with VideoSource(str(src), start=start) as source:
            frames = [item for item in source if isinstance(item, Frame)]
        first = round(start * 25 + 0.5)  # (0.3 s in: from the 8th picture, 0.32 s, at 0.02 s: counted from 0.3 s)
        assert [round(float(frame.image[:, :, 2].mean()) / 10) for frame in frames] == list(range(first, 25))
        assert [round((frame.time - (first / 25 - start)) * 25, 6) for frame in frames] == list(range(25 - first)), start


def test_h264_in_an_avi_with_a_damaged_slice_header_is_read_at_each_pictures_place_past_it(tmp_path):
    # a slice header damaged into an odd picture order count made a frame's step in the count 1, not x264's 2: every
    # picture after it, to the file's end, was stamped twice as far on (the 24th at 1.92 s); placed among the pictures
    # near it, those a few frames past it are at their place again
    src = _h264_with_pcm(tmp_path / "cam.avi", 2)
    with av.open(str(src)) as c, av.open(str(damaged := tmp_path / "damaged.avi"), "w") as out:
        vs = out.add_stream_from_template(c.streams.video[0])
        for n, packet in enumerate(p for p in c.demux(video=0) if p.size):
            copy = av.Packet(b"\0\0\0\1\x41\xff\xff" if n == 5 else bytes(packet))  # (a P-slice's header, all ones)
            copy.stream, copy.pts, copy.dts, copy.time_base = vs, packet.pts, packet.dts, packet.time_base
            copy.is_keyframe = packet.is_keyframe
            out.mux(copy)
    with VideoSource(str(damaged)) as source:
        frames = [item for item in source if isinstance(item, Frame)]
    placed = {round(frame.time * 25): round(float(frame.image[:, :, 2].mean()) / 8) for frame in frames}
    assert {t: i for t, i in placed.items() if t >= 12} == {i: i for i in range(12, 25)}
