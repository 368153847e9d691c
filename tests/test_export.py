import json

import numpy as np
import onnx
import pytest

torch = pytest.importorskip("torch")

from conftest import trained_like  # noqa: E402

from roadseg.export.onnx import TRACE_SHAPE, export_onnx  # noqa: E402
from roadseg.export.verify import (  # noqa: E402
    HALF_MIN_AGREEMENT,
    VERIFY_SHAPE,
    ExportCheckError,
    parity_line,
    verify_parity,
)
from roadseg.pipeline.session import OnnxSegmenter  # noqa: E402


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    net = trained_like(0)
    path = export_onnx(net, tmp_path_factory.mktemp("m") / "m.onnx", input_size=(360, 480), metadata={"val_miou": 1.5})
    return net, path


def test_contract_io_and_metadata(exported):
    net, path = exported
    model = onnx.load(str(path))
    (inp,) = model.graph.input
    (out,) = model.graph.output
    assert inp.name == "frames" and inp.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim] == ["N", "H", "W", 3]
    assert out.name == "labels" and out.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert [d.dim_param for d in out.type.tensor_type.shape.dim] == ["N", "H", "W"]
    meta = {p.key: json.loads(p.value) for p in model.metadata_props}
    assert meta["classes"][3] == "Road" and meta["palette"][3] == [128, 64, 128]
    assert meta["ignore_index"] == 11 and meta["input_size"] == [360, 480] and meta["val_miou"] == 1.5
    # enough to rebuild a trainable net from the file (roadseg.model.unfold)
    assert meta["model_config"]["decoder_channels"] == list(net.config["decoder_channels"])
    assert meta["normalisation_folded"] is (net.config["stem_padding"] == "replicate")


def test_parity_at_untraced_shapes(exported):
    net, path = exported
    assert VERIFY_SHAPE[1:3] != TRACE_SHAPE[1:3]
    report = verify_parity(net, path)
    assert report["agreement"] >= 0.999
    seg = OnnxSegmenter(path, providers="cpu")
    labels = seg.predict(np.random.default_rng(1).integers(0, 256, (3, 45, 61, 3), dtype=np.uint8))
    assert labels.shape == (3, 45, 61) and labels.dtype == np.uint8
    assert len(np.unique(labels)) > 1  # a real map, not a constant


def test_parity_check_fails_for_a_different_network(exported):
    _, path = exported
    with pytest.raises(ExportCheckError, match="agree on"):
        verify_parity(trained_like(1), path)


def test_fp16_weights_halve_the_file_and_keep_parity(exported, tmp_path):
    net, path = exported
    half = export_onnx(net, tmp_path / "half.onnx", fp16_weights=True)
    assert half.stat().st_size < 0.6 * path.stat().st_size
    assert verify_parity(net, half)["agreement"] >= 0.999


def test_half_variant_computes_in_fp16_and_keeps_parity(exported, tmp_path):
    net, _ = exported
    path = export_onnx(net, tmp_path / "half.onnx", half=True)
    model = onnx.load(str(path))
    conv_weights = {n.input[1] for n in model.graph.node if n.op_type == "Conv"}
    dtypes = {i.data_type for i in model.graph.initializer if i.name in conv_weights}
    assert dtypes == {onnx.TensorProto.FLOAT16}
    assert json.loads({p.key: p.value for p in model.metadata_props}["precision"]) == "fp16"
    assert verify_parity(net, path, min_agreement=HALF_MIN_AGREEMENT)["agreement"] >= HALF_MIN_AGREEMENT
    assert next(net.parameters()).dtype == torch.float32  # the caller's net is untouched


def test_io_binding_path_gives_the_same_labels(exported):
    _, path = exported
    frames = np.random.default_rng(3).integers(0, 256, (2, 45, 61, 3), dtype=np.uint8)
    plain = OnnxSegmenter(path, providers="cpu").predict(frames)
    bound = OnnxSegmenter(path, providers="cpu", io_binding=True)
    assert bound.io_binding and np.array_equal(bound.predict(frames), plain)


def test_folded_stem_exports_without_a_float_pre_pass_and_keeps_parity(tmp_path):
    net = trained_like(2, decoder_channels=(64, 32, 32, 16), stem_padding="replicate")
    path = export_onnx(net, tmp_path / "folded.onnx")
    model = onnx.load(str(path))
    ops = [n.op_type for n in model.graph.node]
    first_conv = ops.index("Conv")
    assert "Mul" not in ops[:first_conv] and "Add" not in ops[:first_conv]  # normalisation lives in conv1
    assert verify_parity(net, path)["agreement"] >= 0.999  # against net(Preprocess(frames)) in PyTorch


@pytest.mark.parametrize("method", ["percentile", "minmax", "entropy"])
def test_int8_of_a_folded_model_reads_pixels_exactly_and_agrees(tmp_path, method):
    """Whatever sets the other activations' ranges, the first conv reads the 0..255 pixels at scale 1: a
    percentile clips their range (scale ~0.9995) without the pin in ``pixel_tensors``."""
    from onnx import numpy_helper

    from roadseg.export.quantize import pixel_tensors, quantize_int8

    net = trained_like(2, decoder_channels=(256, 128, 64, 32), stem_padding="replicate")
    path = export_onnx(net, tmp_path / "folded.onnx")
    rng = np.random.default_rng(0)
    q = quantize_int8(path, tmp_path / "int8.onnx", rng.integers(0, 256, (8, 64, 96, 3), dtype=np.uint8),
                      method=method)  # fmt: skip
    assert len(pixel_tensors(onnx.load(str(path)))) == 1  # the first conv's padded input
    model = onnx.load(str(q))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    first = next(n for n in model.graph.node if n.op_type == "QuantizeLinear")
    assert inits[first.input[1]] == pytest.approx(1.0) and inits[first.input[2]] == 0  # uint8 pixels, unchanged
    frames = rng.integers(0, 256, (2, 45, 61, 3), dtype=np.uint8)
    fp32, int8 = OnnxSegmenter(path, providers="cpu").predict(frames), OnnxSegmenter(q, providers="cpu").predict(frames)
    assert (fp32 == int8).mean() >= 0.99


def _int8_weights(model: onnx.ModelProto) -> list[np.ndarray]:
    from onnx import numpy_helper

    return [numpy_helper.to_array(i) for i in model.graph.initializer if i.data_type == onnx.TensorProto.INT8]


def test_int8_weights_fit_7_bits_and_the_fp16_stored_file_quantizes_like_fp32(tmp_path):
    """7-bit weights keep AVX2 CPUs (no VNNI) from saturating int16 pair sums (quantize.py docstring);
    the shipped fp32 file stores its weights as fp16 and must quantize as the fp32 export does."""
    from roadseg.export.quantize import quantize_int8

    net = trained_like(2, decoder_channels=(64, 32, 32, 16), stem_padding="replicate")
    rng = np.random.default_rng(0)
    calib = rng.integers(0, 256, (8, 64, 96, 3), dtype=np.uint8)
    full = quantize_int8(export_onnx(net, tmp_path / "fp32.onnx"), tmp_path / "a.onnx", calib)
    half = export_onnx(net, tmp_path / "half.onnx", fp16_weights=True)
    from_half = quantize_int8(half, tmp_path / "b.onnx", calib)
    for q in (full, from_half):
        weights = _int8_weights(onnx.load(str(q)))
        assert len(weights) >= 20  # every conv's weights are int8 (none left behind a Cast)
        assert max(int(np.abs(w).max()) for w in weights) == 64  # the 7-bit range, used to its end
    frames = rng.integers(0, 256, (2, 45, 61, 3), dtype=np.uint8)
    a, b = OnnxSegmenter(full, providers="cpu").predict(frames), OnnxSegmenter(from_half, providers="cpu").predict(frames)
    assert (a == b).mean() >= 0.99


@pytest.mark.parametrize("vnni", [False, True])
def test_int8_precision_mode_is_on_where_the_cpu_has_no_vnni(tmp_path, monkeypatch, vnni):
    import roadseg.pipeline.session as session

    path = export_onnx(trained_like(1, decoder_channels=(32, 16, 16, 8)), tmp_path / "m.onnx")
    monkeypatch.setattr(session, "_has_vnni", lambda: vnni)
    opts = OnnxSegmenter(path, providers="cpu").session.get_session_options()
    if vnni:
        with pytest.raises(RuntimeError, match="does not have configuration"):
            opts.get_session_config_entry("session.x64quantprecision")
    else:
        assert opts.get_session_config_entry("session.x64quantprecision") == "1"


@pytest.mark.parametrize("agreement, says", [(1.0, " on 100% of pixels"), (1 - 1e-6, " on over 99.999% of pixels"),
                                             (0.99995, " on 99.995% of pixels")])
def test_the_parity_line_says_100_percent_only_where_every_pixel_agrees(agreement, says):
    """One pixel in a million apart read "100.000%": rounded to 3 decimals, as if all agreed."""
    line = parity_line({"shape": list(VERIFY_SHAPE), "agreement": agreement, "min_agreement": 0.999})
    assert says in line and "100.000" not in line, line
