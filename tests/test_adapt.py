"""adapt_onnx: what it records of a network made elsewhere (its batch fixed at 1, its size fixed inside)."""

from __future__ import annotations

import json

import pytest
import test_own_model as own
from click.testing import CliRunner

from roadseg.cli import main
from roadseg.export.adapt import adapt_onnx
from roadseg.pipeline.session import OnnxSegmenter


@pytest.mark.parametrize("batch_one", [True, False])
def test_adapt_onnx_records_a_network_of_batch_one_as_one_frame_at_a_time(tmp_path, batch_one):
    """A network exported at [1,3,H,W] (batch 1 in its graph) was wrapped with frames [N,H,W,3]: nothing in the file
    said it took one frame at a time (info --model was silent), and a run found it only as its first batch of more
    failed in the graph. Its frames are now fixed at [1,H,W,3], which the contract's check knows at load."""
    mine = own.flattened(tmp_path) if batch_one else adapt_onnx(own.theirs(tmp_path / "theirs.onnx", size=(64, 80)),
                                                                tmp_path / "mine.onnx", classes=["r", "g", "b"])  # fmt: skip
    seg = OnnxSegmenter(mine, providers="cpu")
    assert seg.one_at_a_time is (True if batch_one else None)  # (known at load, before any batch)
    assert seg.predict(own.coloured(45, 61)).shape == (3, 45, 61)  # (run frame by frame: no failed batch first)
    r = CliRunner().invoke(main, ["info", "--model", str(mine)])
    assert r.exit_code == 0, r.output
    assert ("one frame at a time (its batch is fixed at 1)" in r.output) is batch_one, r.output
    rep = json.loads(CliRunner().invoke(main, ["info", "--model", str(mine), "--json"]).output)
    assert rep["input"]["one_at_a_time"] is batch_one and rep["input"]["shape"][0] == (1 if batch_one else "?")
