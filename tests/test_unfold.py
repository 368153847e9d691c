"""Rebuilding a trainable net from an exported file (warm starts from a previous release)."""

import numpy as np
import onnx
import pytest

torch = pytest.importorskip("torch")

from conftest import trained_like  # noqa: E402

from roadseg.export.onnx import export_onnx  # noqa: E402
from roadseg.export.quantize import quantize_int8  # noqa: E402
from roadseg.model import UNetResNet34  # noqa: E402
from roadseg.model.preprocess import Preprocess  # noqa: E402
from roadseg.model.unfold import folded_convs, unet_from_onnx, unet_soup  # noqa: E402
from roadseg.pipeline.session import OnnxSegmenter  # noqa: E402
from roadseg.train.start import load_encoder_weights  # noqa: E402

TINY = {"decoder_channels": (32, 16, 16, 8)}


def _frames(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (n, 1, 1, 3))  # per-frame colour plus texture: not pure noise
    return np.clip(base + rng.integers(-60, 60, (n, 64, 96, 3)), 0, 255).astype(np.uint8)


def _logits(net, frames: np.ndarray) -> torch.Tensor:
    with torch.no_grad():
        return net(Preprocess()(torch.from_numpy(frames)))


@pytest.mark.parametrize("stem", ["replicate", "zeros"])
def test_rebuilt_net_computes_what_the_file_computes(tmp_path, stem):
    net = trained_like(0, stem_padding=stem, **TINY)
    path = export_onnx(net, tmp_path / "m.onnx", input_size=(64, 96), fp16_weights=True)
    frames = _frames(4)
    calib = Preprocess()(torch.from_numpy(_frames(4, seed=1)))
    rebuilt = unet_from_onnx(str(path), calib)
    assert rebuilt.config == net.config
    # eval mode: the same function as the original net, up to the fp16-stored weights
    assert torch.allclose(_logits(rebuilt, frames), _logits(net, frames), atol=0.05, rtol=0.02)
    labels = OnnxSegmenter(path, providers="cpu").predict(frames)
    assert (_logits(rebuilt, frames).argmax(1).numpy() == labels).mean() > 0.99
    # training mode on the calibration batch: batch statistics equal the running ones, same function
    rebuilt.train()
    with torch.no_grad():
        train_mode = rebuilt(calib)
    rebuilt.eval()
    with torch.no_grad():
        eval_mode = rebuilt(calib)
    assert torch.allclose(train_mode, eval_mode, atol=1e-3, rtol=1e-3)


def test_a_file_without_config_metadata_is_read_from_its_conv_shapes(tmp_path):
    net = trained_like(1, stem_padding="zeros", **TINY)  # as every export before the metadata was
    path = export_onnx(net, tmp_path / "m.onnx", input_size=(64, 96))
    model = onnx.load(str(path))  # strip what older exports did not record
    keep = [p for p in model.metadata_props if p.key not in ("model_config", "normalisation_folded")]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    onnx.save(model, str(tmp_path / "old.onnx"))
    calib = Preprocess()(torch.from_numpy(_frames(2)))
    rebuilt = unet_from_onnx(str(tmp_path / "old.onnx"), calib)
    assert rebuilt.config["decoder_channels"] == TINY["decoder_channels"]
    frames = _frames(2, seed=3)
    assert torch.allclose(_logits(rebuilt, frames), _logits(net, frames), atol=1e-3, rtol=1e-3)


def test_a_new_decoder_starts_from_a_released_encoder(tmp_path):
    old = trained_like(2, stem_padding="replicate", **TINY)
    path = export_onnx(old, tmp_path / "old.onnx", input_size=(64, 96))
    new = UNetResNet34(11, decoder_channels=(16, 16, 8, 8), stem_padding="replicate")
    load_encoder_weights(new, str(path), list(_frames(4)))
    frames = _frames(2, seed=4)
    new.eval()
    with torch.no_grad():
        feats_new = new.encoder(Preprocess()(torch.from_numpy(frames)))[-1]
        feats_old = old.encoder(Preprocess()(torch.from_numpy(frames)))[-1]
    assert torch.allclose(feats_new, feats_old, atol=1e-3, rtol=1e-3)


def test_quantized_and_foreign_files_are_refused(tmp_path):
    net = trained_like(3, **TINY)
    path = export_onnx(net, tmp_path / "m.onnx", input_size=(64, 96))
    q = quantize_int8(path, tmp_path / "q.onnx", _frames(2))
    calib = Preprocess()(torch.from_numpy(_frames(2)))
    # (was: "warm starts need the fp32 file", which soup and a release of an .onnx showed too)
    with pytest.raises(ValueError, match=r"a quantized model\? rebuilding a network from a file .* needs the fp32 file"):
        unet_from_onnx(str(q), calib)
    with pytest.raises(ValueError, match="convs"):
        unet_from_onnx(str(path), calib, config={"num_classes": 11, "decoder_channels": (32, 16, 16, 8, 8)})
    with pytest.raises(ValueError, match="calibrate"):
        load_encoder_weights(UNetResNet34(11, **TINY), str(path), None)


def test_a_soup_is_the_weighted_mean_of_its_ingredients_folded_convs(tmp_path):
    # two "fine-tunes" of one network: the same net with different weights and BN statistics
    a, b = (export_onnx(trained_like(s, stem_padding="replicate", **TINY), tmp_path / f"{s}.onnx", input_size=(64, 96))
            for s in (4, 5))  # fmt: skip
    calib = Preprocess()(torch.from_numpy(_frames(4, seed=1)))
    soup = export_onnx(unet_soup([str(a), str(b)], [3, 1], calib), tmp_path / "soup.onnx", input_size=(64, 96))
    (ca, _), (cb, _), (cs, config) = folded_convs(str(a)), folded_convs(str(b)), folded_convs(str(soup))
    assert config["decoder_channels"] == TINY["decoder_channels"] and len(cs) == len(ca) == 45
    for (wa, ba), (wb, bb), (ws, bs) in zip(ca, cb, cs):
        assert np.allclose(ws, 0.75 * wa + 0.25 * wb, atol=1e-4)
        assert np.allclose(bs, 0.75 * ba + 0.25 * bb, atol=1e-4)
    # a soup of one file with itself computes what the file computes
    same = unet_soup([str(a), str(a)], None, calib)
    frames = _frames(3, seed=6)
    labels = OnnxSegmenter(a, providers="cpu").predict(frames)
    assert (_logits(same, frames).argmax(1).numpy() == labels).mean() > 0.99


def test_a_soup_of_different_networks_or_bad_weights_is_refused(tmp_path):
    a = export_onnx(trained_like(6, **TINY), tmp_path / "a.onnx", input_size=(64, 96))
    other = export_onnx(trained_like(7, decoder_channels=(32, 16, 8, 8)), tmp_path / "o.onnx", input_size=(64, 96))
    q = quantize_int8(a, tmp_path / "q.onnx", _frames(2))
    calib = Preprocess()(torch.from_numpy(_frames(2)))
    with pytest.raises(ValueError, match="not the same network"):
        unet_soup([str(a), str(other)], None, calib)
    with pytest.raises(ValueError, match=r"quantized model\? .*\(train --init, soup, .*needs the fp32 file"):
        unet_soup([str(a), str(q)], None, calib)
    with pytest.raises(ValueError, match="at least two"):
        unet_soup([str(a)], None, calib)
    for weights in ([1.0], [1.0, -1.0], [0.0, 0.0]):
        with pytest.raises(ValueError, match="weights"):
            unet_soup([str(a), str(a)], weights, calib)
