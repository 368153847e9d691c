"""Flip test-time augmentation (--tta): a graph rewrite that averages each frame's class scores with
its mirror image's, checked against the same sums computed here, on tiny models and the shipped ones."""

from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from conftest import read_video, write_video
from onnx import TensorProto, helper, numpy_helper

from roadseg import contract
from roadseg.cli import segment_video_cmd
from roadseg.errors import ModelError
from roadseg.pipeline.devices import default_model_path
from roadseg.pipeline.infer import Segmenter
from roadseg.pipeline.session import OnnxSegmenter
from roadseg.pipeline.tta import _scores_argmax, flip_tta

RNG = np.random.default_rng(0)


def conv_model(path: Path, kernel: np.ndarray) -> Path:
    """A contract model whose class scores are one convolution of the RGB frame (``kernel``
    [C,3,1,K], K odd, zero padding), labels their argmax: the row-wise sums numpy can redo."""
    k = kernel.shape[-1]
    nodes = [
        helper.make_node("Cast", [contract.INPUT], ["f"], to=TensorProto.FLOAT),
        helper.make_node("Transpose", ["f"], ["x"], perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["x", "w"], ["scores"], pads=[0, k // 2, 0, k // 2]),
        helper.make_node("ArgMax", ["scores"], ["idx"], axis=1, keepdims=0),
        helper.make_node("Cast", ["idx"], [contract.OUTPUT], to=TensorProto.UINT8),
    ]
    graph = helper.make_graph(
        nodes, "conv",
        [helper.make_tensor_value_info(contract.INPUT, TensorProto.UINT8, ["N", "H", "W", 3])],
        [helper.make_tensor_value_info(contract.OUTPUT, TensorProto.UINT8, ["N", "H", "W"])],
        [numpy_helper.from_array(kernel.astype(np.float32), "w")],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    contract.set_metadata(model, contract.contract_metadata((16, 24), macs=1000))
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def conv_scores(frames: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """What conv_model computes before its argmax: [N,C,H,W]."""
    k = kernel.shape[-1]
    x = np.pad(frames.astype(np.float64), ((0, 0), (0, 0), (k // 2, k // 2), (0, 0)))
    w = frames.shape[2]
    return sum(np.einsum("nhwi,ci->nchw", x[:, :, j : j + w], kernel[:, :, 0, j]) for j in range(k))


def test_scores_are_averaged_with_the_mirror_images_put_back(tmp_path):
    kernel = RNG.normal(size=(5, 3, 1, 3))  # asymmetric: a pixel's scores lean on its left and right neighbours
    path = conv_model(tmp_path / "conv.onnx", kernel)
    frames = RNG.integers(0, 256, (3, 13, 17, 3), dtype=np.uint8)
    plain = OnnxSegmenter(path, providers="cpu").predict(frames)
    tta = OnnxSegmenter(path, providers="cpu", tta=True).predict(frames)
    mirrored = conv_scores(frames[:, :, ::-1], kernel)[..., ::-1]
    assert tta.shape == plain.shape == (3, 13, 17) and tta.dtype == np.uint8
    assert np.array_equal(plain, conv_scores(frames, kernel).argmax(1))
    assert np.array_equal(tta, (conv_scores(frames, kernel) + mirrored).argmax(1))
    assert (tta != plain).mean() > 0.05  # the second pass changed labels: it was not left out


def test_a_pixelwise_model_gives_the_same_labels(tmp_path):
    """Scores of each pixel alone are the same in the mirror image, once put back where they belong:
    a rewrite that forgot to mirror them back would give mirrored labels here."""
    path = conv_model(tmp_path / "pixel.onnx", RNG.normal(size=(4, 3, 1, 1)))
    frames = RNG.integers(0, 256, (2, 9, 14, 3), dtype=np.uint8)
    plain = OnnxSegmenter(path, providers="cpu").predict(frames)
    assert not np.array_equal(plain, plain[:, :, ::-1])
    assert np.array_equal(OnnxSegmenter(path, providers="cpu", tta=True).predict(frames), plain)


def test_the_rewrite_keeps_the_contract_and_says_what_it_did(tmp_path):
    path = conv_model(tmp_path / "conv.onnx", RNG.normal(size=(3, 3, 1, 3)))
    seg = OnnxSegmenter(path, providers="cpu", tta=True)
    assert seg.metadata["tta"] == "flip" and seg.metadata["macs"] == 2000  # two passes
    assert seg.input_size == (16, 24) and seg.tta
    model = flip_tta(onnx.load(str(path)))
    onnx.checker.check_model(model)
    with pytest.raises(ModelError, match="already rewritten"):
        flip_tta(model)


def test_a_model_without_an_argmax_is_refused_in_one_line(split_video, rule_onnx, tmp_path):
    with pytest.raises(ModelError, match="argmax of class scores"):
        OnnxSegmenter(rule_onnx, providers="cpu", tta=True)
    r = CliRunner().invoke(segment_video_cmd, [str(split_video), "-o", str(tmp_path / "o.mp4"), "--model",
                                  str(rule_onnx), "--tta", "-q"])  # fmt: skip
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert [ln for ln in r.output.splitlines() if ln.strip()] == [
        "Error: rule.onnx: --tta needs labels computed as the argmax of class scores; this model's are not"
    ]
    assert not (tmp_path / "o.mp4").exists()


def test_segment_video_and_eval_run_it(tmp_path):
    path = conv_model(tmp_path / "conv.onnx", RNG.normal(size=(5, 3, 1, 3)))
    frames = [RNG.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(6)]
    video = write_video(tmp_path / "in.mp4", frames)
    for flags, name in (([], "plain.mp4"), (["--tta"], "tta.mp4")):
        r = CliRunner().invoke(segment_video_cmd, [str(video), "-o", str(tmp_path / name), "--model", str(path),
                                      "--mode", "mask", "--crf", "0", "-q", *flags])  # fmt: skip
        assert r.exit_code == 0, r.output
    plain_frames, tta_frames = read_video(tmp_path / "plain.mp4")["frames"], read_video(tmp_path / "tta.mp4")["frames"]
    assert len(plain_frames) == len(tta_frames) == 6
    assert any(not np.array_equal(a, b) for a, b in zip(plain_frames, tta_frames))
    # a batch worker runs it too (its own process, its own session), and a rerun without it redoes the video
    import roadseg

    out = tmp_path / "batch"
    for tta in (True, False):
        summary = roadseg.batch(video, out, model=str(path), tta=tta, mode="mask", crf=0, workers=1, quiet=True)
        assert (summary.ok, summary.skipped) == (1, 0)
        got = read_video(out / "in.mp4")["frames"]
        assert len(got) == 6 and all(np.array_equal(a, b) for a, b in zip(got, tta_frames if tta else plain_frames))
    # eval scores what --tta runs: labels made by the averaged scores score 1.0 with it, less without
    from roadseg.train.evaluate import evaluate_model

    want = list(OnnxSegmenter(path, providers="cpu", tta=True).predict(np.stack(frames)))
    assert evaluate_model(path, None, "x", samples=(frames, want), size=(48, 64), tta=True)["miou"] == 1.0
    assert evaluate_model(path, None, "x", samples=(frames, want), size=(48, 64))["miou"] < 0.95


def test_a_batch_rerun_with_tta_redoes_the_videos():
    from roadseg.batch.results import settings_key
    from roadseg.pipeline.options import SegmentOptions

    plain = settings_key(SegmentOptions(""), masks=False, stats=False)
    assert plain == "541d28b2120b"  # as before --tta existed: earlier results stay valid
    assert settings_key(SegmentOptions("", tta=True), masks=False, stats=False) != plain


def test_the_memory_check_counts_the_mirror_images(split_video, tmp_path):
    path = conv_model(tmp_path / "conv.onnx", RNG.normal(size=(3, 3, 1, 3)))
    args = [str(split_video), "-o", str(tmp_path / "o.mp4"), "--model", str(path), "--size", "3000x4000", "--batch", "128"]  # fmt: skip
    plain = CliRunner().invoke(segment_video_cmd, args).output
    tta = CliRunner().invoke(segment_video_cmd, [*args, "--tta"]).output
    assert "at batch 128 needs about 192 GB" in plain and "at batch 128 with --tta needs about 384 GB" in tta, tta
    assert not (tmp_path / "o.mp4").exists()


def test_a_segmenter_given_to_a_run_must_match_its_tta(split_video, tmp_path):
    from roadseg.pipeline.options import SegmentOptions
    from roadseg.pipeline.run import run

    path = conv_model(tmp_path / "conv.onnx", RNG.normal(size=(3, 3, 1, 3)))
    with pytest.raises(ModelError, match="tta"):
        run(
            SegmentOptions(split_video, tmp_path / "o.mp4", tta=True, quiet=True),
            segmenter=Segmenter(path, providers="cpu"),
        )
    assert not (tmp_path / "o.mp4").exists()


def test_an_exported_network_at_a_size_it_pads(tmp_path):
    """The real export (cast, normalisation, padding to the encoder's stride, crop, argmax inside):
    each half of the batch is its own full prediction, so odd sizes and N > 1 come out right."""
    pytest.importorskip("torch")
    from conftest import trained_like

    from roadseg.export.onnx import export_onnx

    path = export_onnx(trained_like(0), tmp_path / "net.onnx", input_size=(64, 96))
    model = onnx.load(str(path))
    scores = _scores_argmax(model.graph, "net").input[0]
    model.graph.output.append(helper.make_tensor_value_info(scores, TensorProto.FLOAT, None))
    import onnxruntime as ort

    probe = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    frames = RNG.integers(0, 256, (3, 45, 61, 3), dtype=np.uint8)
    s = probe.run([scores], {contract.INPUT: np.concatenate([frames, frames[:, :, ::-1]])})[0]
    want = (s[:3] + s[3:, :, :, ::-1]).argmax(1)
    got = OnnxSegmenter(path, providers="cpu", tta=True).predict(frames)
    assert (got == want).mean() > 0.999 and (got != s[:3].argmax(1)).any()


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_the_shipped_models_take_it(device):
    """Both shipped files (INT8 for the CPU, fp32 for a GPU) rewrite, and on a real street the mirror
    image moves labels only here and there."""
    camvid = Path(__file__).resolve().parents[2] / "shared" / "camvid" / "val"
    if not camvid.is_dir():
        pytest.skip(f"no CamVid val at {camvid}")
    import cv2

    frame = cv2.cvtColor(cv2.imread(str(sorted(camvid.glob("*.png"))[0])), cv2.COLOR_BGR2RGB)
    path = default_model_path(device)
    plain = Segmenter(path, providers="cpu")([frame])
    tta = Segmenter(path, providers="cpu", tta=True)([frame])
    assert tta.shape == plain.shape == (1, 360, 480)
    assert 0.95 < (tta == plain).mean() < 1
