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
from roadseg.model.unfold import unet_from_onnx  # noqa: E402
from roadseg.pipeline.infer import OnnxSegmenter  # noqa: E402
from roadseg.train.weights import load_encoder_weights  # noqa: E402

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
    with pytest.raises(ValueError, match="quantized"):
        unet_from_onnx(str(q), calib)
    with pytest.raises(ValueError, match="convs"):
        unet_from_onnx(str(path), calib, config={"num_classes": 11, "decoder_channels": (32, 16, 16, 8, 8)})
    with pytest.raises(ValueError, match="calibrate"):
        load_encoder_weights(UNetResNet34(11, **TINY), str(path), None)
