from fractions import Fraction

import numpy as np
import pytest
from conftest import audio_packets, read_video, split_frames, write_video

from roadseg.classes import PALETTE
from roadseg.errors import PipelineError
from roadseg.pipeline import Segmenter, segment_video
from roadseg.pipeline.infer import ModelError


def test_output_keeps_count_size_rate_timestamps_and_audio(split_video, rule_onnx, tmp_path):
    out = tmp_path / "out.mp4"
    stats = segment_video(split_video, out, model=rule_onnx, quiet=True)
    src, dst = read_video(split_video), read_video(out)
    assert stats["frames"] == len(dst["frames"]) == len(src["frames"]) == 12
    assert (dst["width"], dst["height"]) == (64, 48)
    assert dst["rate"] == src["rate"] == 25
    assert dst["seconds"] == pytest.approx(src["seconds"], abs=1e-6)
    assert dst["codec"] == "h264" and dst["pix_fmt"] == "yuv420p"
    assert dst["audio"] == src["audio"] and stats["audio_streams"] == 1
    packets = audio_packets(split_video)
    assert packets[0][0] < 0  # AAC priming: a packet before zero that a careless cut would drop
    assert audio_packets(out) == packets  # copied untouched: same timestamps, same bytes


def test_pixels_are_coloured_by_their_label(split_video, rule_onnx, tmp_path):
    out = tmp_path / "mask.mp4"
    segment_video(split_video, out, model=rule_onnx, alpha=1.0, quiet=True, crf=0)
    frame = read_video(out)["frames"][5].astype(int)
    road, sky = np.array(PALETTE[3]), np.array(PALETTE[0])  # R=255 -> 3, R=0 -> 0
    assert np.abs(frame[10:40, 4:28] - road).max() <= 12
    assert np.abs(frame[10:40, 36:60] - sky).max() <= 12


def test_blend_weights_frame_and_colour(split_video, rule_onnx, tmp_path):
    out = tmp_path / "half.mp4"
    segment_video(split_video, out, model=rule_onnx, alpha=0.5, quiet=True, crf=0)
    src = read_video(split_video)["frames"][5].astype(int)
    got = read_video(out)["frames"][5].astype(int)
    want = 0.5 * src[20:30, 4:28] + 0.5 * np.array(PALETTE[3])
    assert np.abs(got[20:30, 4:28] - want).mean() < 6


def test_variable_frame_rate_and_fractional_rate_timestamps_survive(rule_onnx, tmp_path):
    tb = Fraction(1, 30000)
    pts = [0, 1001, 2002, 5005, 6006, 10010, 11011, 12012]  # 29.97 fps with gaps
    src = write_video(tmp_path / "vfr.mp4", split_frames(len(pts)), fps=Fraction(30000, 1001), pts=pts, time_base=tb)
    out = tmp_path / "vfr-out.mp4"
    segment_video(src, out, model=rule_onnx, quiet=True)
    assert read_video(out)["seconds"] == pytest.approx(read_video(src)["seconds"], abs=1e-4)


def test_batching_gives_the_same_frames(split_video, rule_onnx, tmp_path):
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    segment_video(split_video, a, model=rule_onnx, quiet=True, batch=1, crf=0)
    segment_video(split_video, b, model=rule_onnx, quiet=True, batch=5, crf=0)
    fa, fb = read_video(a)["frames"], read_video(b)["frames"]
    assert len(fa) == len(fb) and all(np.array_equal(x, y) for x, y in zip(fa, fb))


def test_segmenter_resizes_to_working_size_and_back(rule_onnx):
    seg = Segmenter(rule_onnx, providers="cpu")
    assert seg.size == (32, 48)
    frame = np.zeros((100, 150, 3), np.uint8)
    frame[:, :75, 0] = 255
    assert seg([frame]).shape == (1, 32, 48)
    labels = seg.segment(frame)
    assert labels.shape == (100, 150) and labels[50, 10] == 3 and labels[50, 140] == 0
    assert Segmenter(rule_onnx, size=(20, 30), providers="cpu")([frame]).shape == (1, 20, 30)


@pytest.mark.parametrize("h,w,size", [(72, 96, [360, 480]),    # CamVid's 4:3: the model's own size
                                      (72, 128, [320, 544]),   # a 16:9 dashcam (was squeezed into 360x480)
                                      (128, 72, [544, 320]),   # a phone held upright
                                      (60, 150, [256, 672])])  # fmt: skip  # 2.5:1
def test_the_working_size_keeps_the_pictures_aspect(tmp_path, h, w, size):
    from conftest import rule_model

    model = rule_model(tmp_path / "m.onnx", input_size=(360, 480))
    clip = write_video(tmp_path / "c.mp4", split_frames(3, h=h, w=w))
    assert segment_video(clip, tmp_path / "o.mp4", model=model, quiet=True)["working_size"] == size
    given = segment_video(clip, tmp_path / "g.mp4", model=model, quiet=True, size=(360, 480), overwrite=True)
    assert given["working_size"] == [360, 480]  # a --size given is kept
    frame = split_frames(1, h=h, w=w)[0]
    assert Segmenter(model, providers="cpu")([frame]).shape == (1, *size)  # the library fits the same way


def test_working_size_takes_the_shape_pixels_are_shown_at():
    from roadseg.pipeline.infer import working_size

    assert working_size(1080, 1440, (360, 480), sample_aspect=4 / 3) == (320, 544)  # HDV: 16:9 on screen
    assert working_size(576, 720, (360, 480), sample_aspect=16 / 15) == (360, 480)  # PAL DVD: 4:3 on screen
    assert working_size(480, 640, (360, 480)) == (360, 480)
    assert working_size(0, 0, (360, 480)) == (360, 480)  # a live stream's size unknown until it delivers


def test_model_breaking_the_contract_is_refused(tmp_path):
    from conftest import rule_model

    bad = tmp_path / "bad.onnx"
    rule_model(bad)
    import onnx

    m = onnx.load(str(bad))
    del m.metadata_props[:]
    onnx.save(m, str(bad))
    with pytest.raises(ModelError, match="metadata lacks"):
        Segmenter(bad, providers="cpu")
    m = onnx.load(str(rule_model(tmp_path / "fixed.onnx")))
    for dim, size in zip(m.graph.input[0].type.tensor_type.shape.dim, (1, 32, 48)):
        dim.dim_value = size  # (an export without dynamic axes: refused at its first frame, in onnxruntime's words)
    onnx.save(m, str(tmp_path / "fixed.onnx"))
    with pytest.raises(ModelError, match=r"input 'frames' has a fixed shape \(1x32x48x3\); the contract takes any N"):
        Segmenter(tmp_path / "fixed.onnx", providers="cpu")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="not an ONNX model: "):
        Segmenter(tmp_path / "junk.onnx", providers="cpu")
    with pytest.raises(ModelError, match="not found"):
        Segmenter(tmp_path / "missing.onnx", providers="cpu")


@pytest.mark.parametrize("breach", ["labels are the red channel (0-255)", "labels at half the size"])
def test_a_model_whose_labels_break_the_contract_fails_the_run_in_one_line(split_video, tmp_path, breach):
    """Labels with no class (the masks then held 253, the class shares summed to 0.48) or at another size (stretched
    to the frame) were written as if right; the contract is checked on what the model returns too."""
    import onnx
    from conftest import rule_model
    from onnx import helper

    m = onnx.load(str(rule_model(tmp_path / "m.onnx")))
    nodes = list(m.graph.node)
    del m.graph.node[:]
    if breach.startswith("labels are"):  # (red, not red // 64)
        m.graph.node.extend([*nodes[:2], helper.make_node("Identity", ["red2"], ["labels"])])
    else:  # (every other row and column)
        m.graph.initializer.extend([onnx.numpy_helper.from_array(np.array(v, np.int64), n) for n, v in
                                    (("b0", [0, 0]), ("b1", [1 << 30, 1 << 30]), ("ax", [1, 2]), ("st", [2, 2]))])  # fmt: skip
        nodes[-1].output[0] = "full"
        m.graph.node.extend([*nodes, helper.make_node("Slice", ["full", "b0", "b1", "ax", "st"], ["labels"])])
    onnx.save(m, str(tmp_path / "m.onnx"))
    out = tmp_path / "o.mp4"
    with pytest.raises(PipelineError, match="m.onnx breaks the contract: " + (r"a label \d+ is no class of its 11"
                       if breach.startswith("labels are") else r"its labels came back \[1, 16, 16\] for frames")):  # fmt: skip
        segment_video(split_video, out, model=tmp_path / "m.onnx", quiet=True, masks_dir=str(tmp_path / "masks"))
    assert not out.exists()


def test_no_audio_drops_every_audio_stream(split_video, rule_onnx, tmp_path):
    out = tmp_path / "mute.mp4"
    stats = segment_video(split_video, out, model=rule_onnx, no_audio=True, quiet=True)
    assert read_video(out)["audio"] == [] and stats["audio_streams"] == 0 and stats["frames"] == 12
