import pytest

torch = pytest.importorskip("torch")

from roadseg.model import Preprocess, UNetResNet34  # noqa: E402
from roadseg.model.unet import fold_normalisation  # noqa: E402
from roadseg.train.start import load_encoder_weights  # noqa: E402


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return UNetResNet34(11).eval()


@pytest.mark.parametrize("hw", [(360, 480), (45, 61), (97, 131), (33, 32), (1, 1)])
def test_output_shape_any_size(net, hw):  # the default: four blocks, the head at stride 2
    assert len(net.decoder) == 4 and net.config["stem_padding"] == "replicate"
    with torch.no_grad():
        out = net(torch.randn(2, 3, *hw))
    assert out.shape == (2, 11, *hw)


@pytest.mark.parametrize("hw", [(360, 480), (45, 61), (1, 1)])
def test_five_block_decoder_ends_at_full_resolution_and_keeps_any_size(hw):
    torch.manual_seed(0)
    net = UNetResNet34(11, decoder_channels=(256, 128, 64, 32, 16), stem_padding="zeros").eval()
    assert len(net.decoder) == 5 and net.config["stem_padding"] == "zeros"
    with torch.no_grad():
        assert net(torch.randn(1, 3, *hw)).shape == (1, 11, *hw)


def test_decoder_needs_four_or_five_blocks():
    with pytest.raises(ValueError, match="4 or 5 blocks"):
        UNetResNet34(11, decoder_channels=(64, 32, 16))


def test_normalisation_folds_exactly_into_a_replicate_padded_stem():
    torch.manual_seed(0)
    net = UNetResNet34(11, decoder_channels=(32, 16, 16, 8), stem_padding="replicate").eval()
    pre = Preprocess()
    frames = torch.randint(0, 256, (2, 37, 53, 3), dtype=torch.uint8)  # odd: the /32 padding is exercised
    raw = frames.permute(0, 3, 1, 2).float()
    with torch.no_grad():
        want = net(pre(frames))
        got = fold_normalisation(net, pre.scale, pre.shift)(raw)
    assert torch.allclose(got, want, atol=1e-3 * want.abs().max())
    with pytest.raises(ValueError, match="replicate"):  # zero padding would change the border
        fold_normalisation(UNetResNet34(11, stem_padding="zeros"), pre.scale, pre.shift)


def test_encoder_names_match_torchvision_resnet34(net, tmp_path):
    keys = set(net.encoder.state_dict())
    for k in ["conv1.weight", "bn1.running_var", "layer1.0.conv1.weight", "layer1.2.bn2.bias",
              "layer2.0.downsample.0.weight", "layer2.0.downsample.1.running_mean",
              "layer3.5.conv2.weight", "layer4.2.bn2.weight"]:  # fmt: skip
        assert k in keys
    assert not any(k.startswith("layer3.6") or k.startswith("layer4.3") for k in keys)  # 3-4-6-3 blocks
    # a torchvision-style state dict (with the classifier) loads through --encoder-weights PATH
    sd = {k: torch.full_like(v, 0.5) if v.is_floating_point() else v for k, v in net.encoder.state_dict().items()}
    sd["fc.weight"], sd["fc.bias"] = torch.zeros(1000, 512), torch.zeros(1000)
    torch.save(sd, tmp_path / "resnet34.pth")
    fresh = UNetResNet34(11)
    load_encoder_weights(fresh, str(tmp_path / "resnet34.pth"))
    assert torch.all(fresh.encoder.layer4[2].conv2.weight == 0.5)


def test_encoder_weights_that_do_not_fit_fail_clearly(tmp_path):
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, tmp_path / "partial.pth")
    with pytest.raises(RuntimeError, match="do not fit"):
        load_encoder_weights(UNetResNet34(11), str(tmp_path / "partial.pth"))


def test_preprocess_normalises_like_imagenet():
    x = torch.tensor([[[[255, 0, 124]]]], dtype=torch.uint8)
    y = Preprocess()(x).flatten()
    want = torch.tensor([(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (124 / 255 - 0.406) / 0.225])
    assert torch.allclose(y, want, atol=1e-5)
