"""A model soup's checkpoint carries what its ingredients were trained at: their size (``train --size``)."""

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

torch = pytest.importorskip("torch")

from conftest import trained_like  # noqa: E402
from test_data import make_segnet  # noqa: E402

from roadseg.cli import main  # noqa: E402
from roadseg.export.onnx import export_onnx  # noqa: E402
from roadseg.pipeline.session import OnnxSegmenter  # noqa: E402
from roadseg.train.checkpoint import trained_size  # noqa: E402
from roadseg.train.weights import soup_checkpoint  # noqa: E402

TINY = {"decoder_channels": (32, 16, 16, 8)}


def _ingredients(tmp_path, *sizes):
    """Two "fine-tunes" of one network, exported at ``sizes`` (their input_size: the size each was trained at)."""
    return [export_onnx(trained_like(seed, **TINY), tmp_path / f"{seed}.onnx", input_size=size)
            for seed, size in enumerate(sizes)]  # fmt: skip


def test_a_soup_records_its_ingredients_size_and_its_export_says_it(tmp_path):
    """Ingredients trained at --size 48x80: the soup's export was written at 360x480 (its input_size: inference's
    working size), as a soup recorded no size."""
    files = _ingredients(tmp_path, (48, 80), (48, 80))
    data = make_segnet(tmp_path / "data", h=48, w=80)
    r = CliRunner().invoke(main, ["soup", *map(str, files), "--data", str(data), "-o", str(tmp_path / "soup.pt")])
    assert r.exit_code == 0, r.output
    assert trained_size(torch.load(tmp_path / "soup.pt", weights_only=False)) == (48, 80)
    r = CliRunner().invoke(main, ["export", str(tmp_path / "soup.pt"), "-o", str(tmp_path / "soup.onnx")])
    assert r.exit_code == 0, r.output
    assert OnnxSegmenter(tmp_path / "soup.onnx", providers="cpu").metadata["input_size"] == [48, 80]


def test_a_soup_of_ingredients_of_other_sizes_is_refused_naming_both(tmp_path):
    files = _ingredients(tmp_path, (48, 80), (64, 96))
    data = make_segnet(tmp_path / "data")
    r = CliRunner().invoke(main, ["soup", *map(str, files), "--data", str(data), "-o", str(tmp_path / "soup.pt")])
    assert r.exit_code == 1 and r.output.strip().splitlines() == [
        "Error: 0.onnx was trained at 48x80 but 1.onnx at 64x96: a soup averages files trained at one size"], r.output
    assert not (tmp_path / "soup.pt").exists()


def test_a_soups_batchnorms_are_calibrated_at_its_ingredients_size(tmp_path):
    """The 8 frames that set the soup's BN statistics are read at the size the ingredients were trained at, as a run
    reads them (was: at the data's own size, here twice that)."""
    files = _ingredients(tmp_path, (32, 48), (32, 48))
    rng = np.random.default_rng(0)
    frames = [np.clip(rng.integers(0, 256, (1, 1, 3)) + rng.integers(-60, 60, (64, 96, 3)), 0, 255).astype(np.uint8)
              for _ in range(4)]  # fmt: skip
    read_at_size = [np.ascontiguousarray(f.reshape(32, 2, 48, 2, 3).mean((1, 3)).round().astype(np.uint8)) for f in frames]
    native = torch.load(soup_checkpoint(files, None, frames, tmp_path / "a.pt"), weights_only=False)["model"]
    sized = torch.load(soup_checkpoint(files, None, read_at_size, tmp_path / "b.pt"), weights_only=False)["model"]
    for key in (k for k in native if k.endswith("running_var")):
        assert torch.allclose(native[key], sized[key], rtol=1e-2, atol=1e-3), key


def test_a_rebuilt_release_calibrates_its_batchnorms_at_the_files_size(tmp_path):
    """release X.onnx and --init X.onnx rebuild the file's network, its BNs set on 8 training frames: at the size the
    file was trained at (its input_size), as a run reads them (was: at the data's own size, here twice that)."""
    from roadseg.train.weights import rebuilt_release

    (file,) = _ingredients(tmp_path, (32, 48))
    rng = np.random.default_rng(1)
    frames = [np.clip(rng.integers(0, 256, (1, 1, 3)) + rng.integers(-60, 60, (64, 96, 3)), 0, 255).astype(np.uint8)
              for _ in range(4)]  # fmt: skip
    read_at_size = [cv2.resize(f, (48, 32), interpolation=cv2.INTER_AREA) for f in frames]  # (as CamVid(size=) reads)
    native, sized = rebuilt_release(file, frames)[1]["model"], rebuilt_release(file, read_at_size)[1]["model"]
    for key in (k for k in native if k.endswith("running_var")):
        assert torch.allclose(native[key], sized[key], rtol=1e-2, atol=1e-3), key
