"""Bring your own model: a network with classes of its own exported by roadseg, and ONNX files made elsewhere
and adapted to the contract, each either run with its own names and colours or refused at load in one line
that says what is wrong and what the contract wants."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper

from roadseg import contract
from roadseg.errors import ModelError
from roadseg.pipeline.infer import Segmenter
from roadseg.pipeline.session import OnnxSegmenter

FIVE = ["road", "lane", "vehicle", "person", "background"]


def adapted(path: Path, *, classes=FIVE, in_name=contract.INPUT, in_type=TensorProto.UINT8, out_rank=3,
            out_type=TensorProto.UINT8, drop=(), **meta) -> Path:  # fmt: skip
    """An ONNX model made elsewhere and given the contract's names and metadata: label = R * len(classes) // 256,
    with one thing changed from what the contract wants where the arguments say."""
    n = len(classes)
    nodes = [
        helper.make_node("Slice", [in_name, "zero", "one", "three"], ["red"]),
        helper.make_node("Squeeze", ["red", "three"], ["red2"]),
        helper.make_node("Cast", ["red2"], ["redf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["redf", "k"], ["q"]),
        helper.make_node("Floor", ["q"], ["qf"]),
        *([helper.make_node("Unsqueeze", ["qf", "one"], ["qf4"])] if out_rank == 4 else []),
        helper.make_node("Cast", ["qf4" if out_rank == 4 else "qf"], [contract.OUTPUT], to=out_type),
    ]
    inits = [helper.make_tensor("zero", TensorProto.INT64, [1], [0]), helper.make_tensor("one", TensorProto.INT64, [1], [1]),
             helper.make_tensor("three", TensorProto.INT64, [1], [3]), helper.make_tensor("k", TensorProto.FLOAT, [], [n / 256])]  # fmt: skip
    out_shape = ["N", 1, "H", "W"] if out_rank == 4 else ["N", "H", "W"]
    graph = helper.make_graph(nodes, "own", [helper.make_tensor_value_info(in_name, in_type, ["N", "H", "W", 3])],
                              [helper.make_tensor_value_info(contract.OUTPUT, out_type, out_shape)], inits)  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    colours = [[(37 * i) % 256, (91 * i) % 256, (173 * i) % 256] for i in range(n)]
    md = contract.contract_metadata((64, 96), **{"classes": list(classes), "palette": colours, "ignore_index": 255, **meta})
    contract.set_metadata(model, {k: v for k, v in md.items() if k not in drop})
    onnx.save(model, str(path))
    return path


def refusal(path: Path) -> str:
    with pytest.raises(ModelError) as err:
        OnnxSegmenter(path, providers="cpu")
    message = str(err.value)
    assert "\n" not in message and message.startswith(path.name)
    return message


def test_a_model_of_its_own_classes_runs_with_its_names(tmp_path):
    seg = OnnxSegmenter(adapted(tmp_path / "own.onnx"), providers="cpu")
    frames = np.zeros((1, 8, 8, 3), np.uint8)
    frames[..., 0] = 255
    assert seg.classes == FIVE and seg.predict(frames).max() == 4 and seg.palette.shape == (5, 3)


@pytest.mark.parametrize("change, says", [
    ({"in_name": "input"}, r"no input named 'frames' \(it has input: uint8 \[N,H,W,3\]\); the contract wants "
                           r"uint8 \[N,H,W,3\] RGB pixels named 'frames'"),
    ({"in_type": TensorProto.FLOAT}, r"input 'frames' is float \[N,H,W,3\]; the contract wants uint8 \[N,H,W,3\] RGB "
                                     r"pixels \(0-255\): cast and normalise inside the graph"),
    ({"out_rank": 4}, r"output 'labels' is uint8 \[N,1,H,W\]; the contract wants uint8 \[N,H,W\]: one class index "
                      r"a pixel \(the argmax inside the graph\)"),
    ({"out_type": TensorProto.INT64}, r"output 'labels' is int64 \[N,H,W\]; the contract wants uint8 \[N,H,W\]"),
])  # fmt: skip
def test_inputs_and_outputs_that_break_the_contract_say_what_the_model_has(tmp_path, change, says):
    """'no uint8 [N,H,W,3] input named frames' alone left the user to find out which of the three was wrong."""
    assert re.search(says, refusal(adapted(tmp_path / "bad.onnx", **change)))


def test_a_fixed_size_says_how_to_wrap_it(tmp_path):
    path = adapted(tmp_path / "fixed.onnx")
    model = onnx.load(str(path))
    for dim, size in zip(model.graph.input[0].type.tensor_type.shape.dim, (1, 256, 320)):
        dim.dim_value = size
    onnx.save(model, str(path))
    assert refusal(path).endswith("export it with dynamic axes, or wrap the network's own file with "
                                  "roadseg.export.adapt.adapt_onnx (it resizes frames to a fixed size inside the graph)")


def test_missing_metadata_says_what_the_contract_wants(tmp_path):
    message = refusal(adapted(tmp_path / "bare.onnx", drop=("classes", "palette")))
    assert "metadata lacks classes, palette" in message
    assert "roadseg.contract.set_metadata" in message and "JSON" in message


@pytest.mark.parametrize("count", [257, 300])
def test_more_classes_than_uint8_labels_hold_is_refused_at_load(tmp_path, count):
    """300 classes loaded, then the overlay's colour table failed with a numpy broadcasting traceback."""
    message = refusal(adapted(tmp_path / "many.onnx", classes=[f"c{i}" for i in range(count)]))
    assert f"{count} classes" in message and "at most 256" in message


def test_a_palette_longer_than_uint8_labels_hold_is_refused_at_load(tmp_path):
    path = adapted(tmp_path / "wide.onnx", palette=[[1, 2, 3]] * 300)
    assert "at most 256" in refusal(path)


def test_256_classes_load_and_colour(tmp_path):
    from roadseg.pipeline.overlay import palette_lut

    seg = OnnxSegmenter(adapted(tmp_path / "full.onnx", classes=[f"c{i}" for i in range(256)]), providers="cpu")
    assert palette_lut(seg.palette).shape == (256, 3)


def test_distinct_palette_gives_each_class_its_own_colour():
    colours = contract.distinct_palette(256)
    assert len({tuple(c) for c in colours}) == 256 and all(len(c) == 3 for c in colours)
    assert contract.distinct_palette(5) == colours[:5]


def test_parse_palette_reads_hex_colours_and_says_what_it_wants():
    assert contract.parse_palette("ff00ff, #00FF80") == [[255, 0, 255], [0, 255, 128]]
    with pytest.raises(ValueError, match=r"'red' is not a colour: RRGGBB in hex, e.g. 804080"):
        contract.parse_palette("ff00ff,red")


def _five(seed: int):
    """A random 5-class U-Net of tiny decoder widths, with BN statistics as training leaves them (needs torch)."""
    torch = pytest.importorskip("torch")
    from roadseg.model import UNetResNet34

    torch.manual_seed(seed)
    net = UNetResNet34(5, decoder_channels=(16, 8, 8, 8))
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.3, 0.3)
            m.running_var.uniform_(0.5, 2.0)
    return net.eval()


def test_export_refuses_a_network_of_other_classes_without_their_names(tmp_path):
    """A 5-class network was written with CamVid's 11 names and colours: its legend, --stats and eval named
    classes it does not have, without a word."""
    from roadseg.export.onnx import export_onnx

    with pytest.raises(ModelError, match=r"scores 5 classes, not CamVid's 11: name them \(export --classes"):
        export_onnx(_five(0), tmp_path / "m.onnx")
    with pytest.raises(ModelError, match=r"scores 5 classes, but 3 names were given"):
        export_onnx(_five(0), tmp_path / "m.onnx", classes=["a", "b", "c"])
    with pytest.raises(ModelError, match=r"scores 5 classes, but a name was empty"):
        export_onnx(_five(0), tmp_path / "m.onnx", classes=["a", "b", "", "d", "e"])
    with pytest.raises(ModelError, match=r"2 colours for 5 classes"):
        export_onnx(_five(0), tmp_path / "m.onnx", classes=FIVE, palette=[[0, 0, 0], [1, 1, 1]])
    with pytest.raises(ModelError, match=r"1 colour for 5 classes"):
        export_onnx(_five(0), tmp_path / "m.onnx", classes=FIVE, palette=[[0, 0, 0]])
    assert not (tmp_path / "m.onnx").exists()


def test_export_and_segment_a_network_of_its_own_classes(tmp_path, split_video):
    """The user's whole path: a checkpoint of 5 classes, `roadseg export --classes --palette`, then segment-video
    with --legend, --masks-dir and --stats: the file's names and colours everywhere, masks holding 0-4."""
    import cv2
    import torch

    from roadseg.cli import main

    net = _five(1)
    torch.save({"model": net.state_dict(), "model_config": net.config}, tmp_path / "five.pt")
    model = tmp_path / "five.onnx"
    r = CliRunner().invoke(main, ["export", str(tmp_path / "five.pt"), "-o", str(model), "--classes", ",".join(FIVE),
                                  "--palette", "804080,ffff00,0000ff,ff0000,000000"])  # fmt: skip
    assert r.exit_code == 0, r.output
    meta = {p.key: json.loads(p.value) for p in onnx.load(str(model)).metadata_props}
    assert meta["classes"] == FIVE and meta["palette"][0] == [128, 64, 128] and meta["ignore_index"] == 5
    assert meta["architecture"] == "unet-resnet34" and meta["model_config"]["num_classes"] == 5
    stats = tmp_path / "stats.json"
    r = CliRunner().invoke(main, ["segment", str(split_video), "-o", str(tmp_path / "out.mp4"), "--model", str(model),
                                  "--legend", "--masks-dir", str(tmp_path / "masks"), "--stats", str(stats), "-q"])  # fmt: skip
    assert r.exit_code == 0, r.output
    got = json.loads(stats.read_text())
    assert got["classes"] == FIVE and all(len(f["shares"]) == 5 for f in got["per_frame"])
    mask = cv2.imread(str(tmp_path / "masks" / "000000.png"), cv2.IMREAD_UNCHANGED)
    assert mask.dtype == np.uint8 and mask.max() <= 4


def test_export_gives_own_classes_distinct_colours_without_a_palette(tmp_path):
    from roadseg.export.onnx import export_onnx

    path = export_onnx(_five(2), tmp_path / "m.onnx", classes=FIVE)
    meta = {p.key: json.loads(p.value) for p in onnx.load(str(path)).metadata_props}
    assert meta["palette"] == contract.distinct_palette(5) and meta["ignore_index"] == 5


def test_export_of_another_network_does_not_call_it_a_unet(tmp_path):
    """Any torch network (normalised float NCHW -> class scores) goes through the same export; its file said
    architecture unet-resnet34 whatever it was."""
    torch = pytest.importorskip("torch")
    from roadseg.export.onnx import export_onnx

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 3, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(3, 5, 1))
    path = export_onnx(net, tmp_path / "m.onnx", classes=FIVE)
    meta = {p.key: json.loads(p.value) for p in onnx.load(str(path)).metadata_props}
    assert "architecture" not in meta and meta["classes"] == FIVE
    assert OnnxSegmenter(path, providers="cpu").predict(np.zeros((2, 33, 47, 3), np.uint8)).shape == (2, 33, 47)


def test_quantize_calibrates_on_a_folder_of_other_classes(tmp_path):
    """quantize read each calibration frame's label too, and refused a folder whose masks hold classes past
    CamVid's 11 ('label ... holds class 15'), though calibration uses the images alone; then it told the user to
    score the file with eval, which refuses a model of other classes."""
    import cv2

    torch = pytest.importorskip("torch")
    from roadseg.cli import main
    from roadseg.export.onnx import export_onnx

    data = tmp_path / "data"
    for folder in ("train", "trainannot"):
        (data / folder).mkdir(parents=True)
    for i in range(3):
        image = np.random.default_rng(i).integers(0, 256, (90, 120, 3), np.uint8)
        cv2.imwrite(str(data / "train" / f"f{i}.png"), image)
        cv2.imwrite(str(data / "trainannot" / f"f{i}.png"), np.full((90, 120), 15, np.uint8))
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 5, 1))
    model = export_onnx(net, tmp_path / "own.onnx", classes=FIVE)
    r = CliRunner().invoke(main, ["quantize", str(model), "-o", str(tmp_path / "own-int8.onnx"), "--data", str(data),
                                  "--frames", "2"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "wrote" in r.output and "roadseg eval" not in r.output
    assert OnnxSegmenter(tmp_path / "own-int8.onnx", providers="cpu").classes == FIVE


def theirs(path: Path, *, size=("H", "W"), labels_out: bool = False, opset: int = 13) -> Path:
    """A network as another tool exports one: float [N,3,H,W] in ("input"), its class scores the channels
    themselves ("logits", 3 classes: the brightest channel wins), or their argmax as int64 labels."""
    nodes = [helper.make_node("Identity", ["input"], ["logits"] if not labels_out else ["s"])]
    if labels_out:
        nodes.append(helper.make_node("ArgMax", ["s"], ["logits"], axis=1, keepdims=0))
    out = helper.make_tensor_value_info("logits", TensorProto.INT64 if labels_out else TensorProto.FLOAT,
                                        ["N", *size] if labels_out else ["N", 3, *size])  # fmt: skip
    graph = helper.make_graph(nodes, "theirs", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, *size])],
                              [out])  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7
    onnx.save(model, str(path))
    return path


def coloured(h: int, w: int) -> np.ndarray:
    """Frames [3,h,w,3]: pure red, green and blue."""
    return np.stack([np.broadcast_to(np.eye(3, dtype=np.uint8)[i] * 200, (h, w, 3)) for i in range(3)])


@pytest.mark.parametrize("size, labels_out", [(("H", "W"), False), ((64, 80), False), ((64, 80), True)])
def test_adapt_onnx_wraps_a_network_made_elsewhere(tmp_path, size, labels_out):
    """A float NCHW network of another tool, dynamic or fixed at its own size, scores or int64 labels out: once
    adapted, it runs under the contract at any frame size, with its names and colours."""
    from roadseg.export.adapt import adapt_onnx

    path = adapt_onnx(theirs(tmp_path / "theirs.onnx", size=size, labels_out=labels_out), tmp_path / "mine.onnx",
                      classes=["red", "green", "blue"], mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))  # fmt: skip
    seg = OnnxSegmenter(path, providers="cpu")
    got = seg.predict(coloured(45, 61))
    assert got.shape == (3, 45, 61) and [int(np.median(g)) for g in got] == [0, 1, 2]
    assert seg.classes == ["red", "green", "blue"] and seg.palette.tolist() == contract.distinct_palette(3)
    assert seg.input_size == ((64, 80) if size == (64, 80) else (360, 480))
    # (a fixed network's every picture at its size, resized once: a 16:9 one was fitted to 64x96, then resized again)
    assert Segmenter(seg).fitted(720, 1280).size == ((64, 80) if size == (64, 80) else (320, 544))
    assert seg.fixed_size == (size if size == (64, 80) else None)


def test_adapt_onnx_feeds_bgr_and_refuses_what_it_cannot_wrap(tmp_path):
    from roadseg.export.adapt import adapt_onnx

    path = adapt_onnx(theirs(tmp_path / "theirs.onnx"), tmp_path / "bgr.onnx", classes=["b", "g", "r"], bgr=True,
                      palette=[[0, 0, 255], [0, 255, 0], [255, 0, 0]], input_size=(96, 128), val_miou=61.2)  # fmt: skip
    seg = OnnxSegmenter(path, providers="cpu")
    assert seg.predict(coloured(20, 30))[:, 0, 0].tolist() == [2, 1, 0] and seg.metadata["val_miou"] == 61.2
    two = helper.make_graph([helper.make_node("Add", ["a", "b"], ["c"])], "two",
                            [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", 3, "H", "W"]) for n in "ab"],
                            [helper.make_tensor_value_info("c", TensorProto.FLOAT, ["N", 3, "H", "W"])])  # fmt: skip
    onnx.save(helper.make_model(two, opset_imports=[helper.make_opsetid("", 13)]), str(tmp_path / "two.onnx"))
    with pytest.raises(ModelError, match=r"two.onnx: adapt_onnx wraps a network of one float input \[N,3,H,W\]; it has a"):
        adapt_onnx(tmp_path / "two.onnx", tmp_path / "x.onnx", classes=["x"])
    with pytest.raises(ModelError, match=r"theirs.onnx scores 3 classes, but 2 names were given"):
        adapt_onnx(tmp_path / "theirs.onnx", tmp_path / "x.onnx", classes=["x", "y"])


def test_readmes_adapt_onnx_runs_as_written(tmp_path, monkeypatch):
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    code = re.search(r"### Bring your own model\n.*?```python\n(.*?)```", readme, re.S).group(1)
    code = "\n".join(line.removeprefix("  ") for line in code.splitlines())
    rng = np.random.default_rng(0)
    conv = helper.make_node("Conv", ["input", "w"], ["logits"])
    graph = helper.make_graph([conv], "theirs", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 64, 80])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 5, 64, 80])],
                              [helper.make_tensor("w", TensorProto.FLOAT, [5, 3, 1, 1], rng.normal(size=15).tolist())])  # fmt: skip
    monkeypatch.chdir(tmp_path)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7  # (onnx's own default, IR 14 in onnx 1.23, is newer than onnxruntime 1.31 reads)
    onnx.save(model, "theirs.onnx")
    exec(compile(code, "README.md", "exec"), {})
    seg = OnnxSegmenter(tmp_path / "mine.onnx", providers="cpu")
    assert seg.classes == ["road", "lane", "car", "person", "background"] and seg.input_size == (64, 80)
    assert seg.predict(rng.integers(0, 256, (2, 37, 51, 3), np.uint8)).shape == (2, 37, 51)


@pytest.mark.parametrize("change, says", [
    ("ir_version", "m.onnx: Unsupported model IR version: 14, max supported IR version: "),
    ("op", "m.onnx: This is an invalid model. In Node, "),
])  # fmt: skip
def test_a_model_onnxruntime_cannot_load_is_said_without_its_source_and_signatures(tmp_path, change, says):
    """A file saved by a newer onnx (IR 14) than onnxruntime reads was 'Load model from m.onnx failed:/onnxruntime_src/
    onnxruntime/core/graph/model.cc:256 onnxruntime::Model::Model(onnx::ModelProto&&, ...) Unsupported ...'."""
    model = onnx.load(str(adapted(tmp_path / "m.onnx")))
    if change == "ir_version":
        model.ir_version = 14
    else:
        model.graph.node[3].op_type = "Mull"
    onnx.save(model, str(tmp_path / "m.onnx"))
    with pytest.raises(ModelError) as err:
        OnnxSegmenter(tmp_path / "m.onnx", providers="cpu")
    assert str(err.value).startswith(f"cannot load model {tmp_path}/{says}") and "onnxruntime_src" not in str(err.value) and "\n" not in str(err.value)


def test_contract_metadata_gives_classes_of_their_own_their_own_colours_and_void(tmp_path):
    """contract_metadata(classes=[20 names]) kept CamVid's 11 colours (the model was then refused at load: 'palette is
    not an RGB colour for each class') and CamVid's void, 11, one of its classes."""
    names = [f"c{i}" for i in range(20)]
    path = tmp_path / "twenty.onnx"
    model = onnx.load(str(adapted(path, classes=names)))
    contract.set_metadata(model, contract.contract_metadata((64, 96), classes=names))
    onnx.save(model, str(path))
    seg = OnnxSegmenter(path, providers="cpu")
    assert seg.palette.tolist() == contract.distinct_palette(20) and seg.metadata["ignore_index"] == 20


def test_eval_refuses_a_network_of_other_classes_as_a_checkpoint_and_as_an_onnx_file(tmp_path):
    # was: a 5-class checkpoint scored against CamVid's 11 classes unsaid (mIoU 4.02); its .onnx was refused
    import torch

    from roadseg.export.onnx import export_onnx
    from roadseg.train.evaluate import evaluate_model

    net = _five(2)
    torch.save({"model": net.state_dict(), "model_config": net.config}, tmp_path / "five.pt")
    export_onnx(net, tmp_path / "five.onnx", input_size=(32, 48), classes=FIVE)
    samples = ([np.zeros((32, 48, 3), np.uint8)], [np.zeros((32, 48), np.uint8)])
    for name in ("five.pt", "five.onnx"):
        with pytest.raises(ValueError, match="cannot be scored against CamVid's"):
            evaluate_model(tmp_path / name, None, samples=samples)


def batch_one(path: Path, *, fixed: bool = False, shape=(1, 0, 0)) -> Path:
    """:func:`adapted` (label = R * 5 // 256) with batch 1 in it: its input ``frames`` fixed at [1,H,W,3] (``fixed``),
    or, as many exports have it, a Reshape of its labels to a constant ``shape`` (0: that dimension kept)."""
    model = onnx.load(str(adapted(path)))
    if fixed:
        model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
    else:
        model.graph.node[-1].output[0] = "unshaped"
        model.graph.node.append(helper.make_node("Reshape", ["unshaped", "batch1"], [contract.OUTPUT]))
        model.graph.initializer.append(helper.make_tensor("batch1", TensorProto.INT64, [3], list(shape)))
    onnx.save(model, str(path))
    return path


def reds(n: int, h: int = 8, w: int = 8) -> np.ndarray:
    """``n`` frames [n,h,w,3], each of one red (0, 60, 120 ...): labels 0, 1, 2 ... (:func:`adapted`)."""
    return np.stack([np.full((h, w, 3), (60 * i) % 256, np.uint8) for i in range(n)])


@pytest.mark.parametrize("fixed, why", [(False, "batch 1 baked into its graph"),
                                        (True, "its input 'frames' is fixed at batch 1")])  # fmt: skip
def test_a_model_of_batch_one_runs_a_batch_one_frame_at_a_time_and_says_so_once(tmp_path, caplog, fixed, why):
    """A batch of more than one frame failed in onnxruntime's words ('The input tensor cannot be reshaped to the
    requested shape. Input shape:{2,...}, requested shape:{1,...}'), and a file of input [1,H,W,3] was refused
    at load ('has a fixed shape (1x?x?x3)')."""
    seg = Segmenter(batch_one(tmp_path / "one.onnx", fixed=fixed), providers="cpu")
    assert seg.model.one_at_a_time is (True if fixed else None)  # (known at load only from the input's shape)
    with caplog.at_level("WARNING", logger="roadseg"):
        assert seg.model.predict(reds(4))[:, 0, 0].tolist() == [0, 1, 2, 3]
        assert len(seg(list(reds(3)))) == 3 and seg.model.one_at_a_time
    assert [r.getMessage() for r in caplog.records] == [f"one.onnx takes one frame at a time ({why}): a batch of 4 "
                                                        "runs as 4 runs of 1"]  # fmt: skip


def test_a_batch_run_that_fails_one_frame_at_a_time_too_is_the_models_error(tmp_path):
    seg = OnnxSegmenter(batch_one(tmp_path / "bad.onnx", shape=(1, 5, 5)), providers="cpu")
    with pytest.raises(Exception, match=r"Input shape:\{2,8,8\}, requested shape:\{1,5,5\}"):  # (the batch's, not a frame's)
        seg.predict(reds(2))
    assert seg.one_at_a_time is None


def test_a_model_that_batches_runs_a_batch_once_and_none_at_load(tmp_path):
    seg = OnnxSegmenter(adapted(tmp_path / "own.onnx"), providers="cpu")
    runs = []
    run = seg.session.run
    seg.session.run = lambda *a, **k: runs.append(1) or run(*a, **k)
    assert seg.predict(reds(3))[:, 0, 0].tolist() == [0, 1, 2] and runs == [1] and seg.one_at_a_time is None


def test_another_fixed_batch_is_refused(tmp_path):
    model = onnx.load(str(adapted(tmp_path / "two.onnx")))
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 2
    onnx.save(model, str(tmp_path / "two.onnx"))
    assert "has a fixed shape (2x?x?x3); the contract takes any N (or N fixed at 1), H and W" in refusal(tmp_path / "two.onnx")


def flattened(tmp_path: Path) -> Path:
    """An exported network fixed at [1,3,64,80] that flattens with a constant batch of 1 (``theirs.onnx``), wrapped by
    adapt_onnx (``mine.onnx``)."""
    from roadseg.export.adapt import adapt_onnx

    flat = [helper.make_node("Reshape", ["input", "flat"], ["f"]), helper.make_node("Reshape", ["f", "back"], ["logits"])]
    graph = helper.make_graph(flat, "theirs", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 64, 80])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3, 64, 80])],
                              [helper.make_tensor("flat", TensorProto.INT64, [3], [1, 3, -1]),
                               helper.make_tensor("back", TensorProto.INT64, [4], [1, 3, 64, 80])])  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    onnx.save(model, str(tmp_path / "theirs.onnx"))
    return adapt_onnx(tmp_path / "theirs.onnx", tmp_path / "mine.onnx", classes=["red", "green", "blue"])


def test_a_network_of_batch_one_made_elsewhere_segments_a_clip_at_batch_4(tmp_path):
    """An exported network fixed at [1,3,H,W] that flattens with a constant batch of 1, wrapped by adapt_onnx: its
    `segment --batch 4` stopped at the first batch ('Error: infer failed: Fail: [ONNXRuntimeError] ... Input
    shape:{4,3,64,80}, requested shape:{1,3,64,80}; removed the unfinished output')."""
    from conftest import split_frames, write_video

    from roadseg.cli import main

    mine = flattened(tmp_path)
    clip = write_video(tmp_path / "clip.mp4", split_frames(10, h=72, w=128))
    stats = tmp_path / "stats.json"
    r = CliRunner().invoke(main, ["segment", str(clip), "-o", str(tmp_path / "out.mp4"), "--model", str(mine), "--batch",
                                  "4", "--stats", str(stats)])  # fmt: skip
    assert r.exit_code == 0, r.output
    said = [line for line in r.output.splitlines() if "one frame at a time" in line]
    assert said == ["roadseg: mine.onnx takes one frame at a time (its input 'frames' is fixed at batch 1): a batch of 4 "
                    "runs as 4 runs of 1"]  # (adapt_onnx fixes frames at batch 1 where the network's input is)
    assert len(json.loads(stats.read_text())["per_frame"]) == 10


def test_the_memory_a_model_of_batch_one_needs_is_one_frames(tmp_path, monkeypatch):
    """--batch 8 of a model that runs one frame at a time was refused for the memory of 8 frames at once."""
    from roadseg.pipeline import infer

    monkeypatch.setattr(infer, "free_memory", lambda: 2 * 64 * 96 * infer.CPU_BYTES_PER_PIXEL)
    infer.Segmenter(batch_one(tmp_path / "one.onnx", fixed=True), providers="cpu").check_memory(8)
    with pytest.raises(ModelError, match="working size 64x96 at batch 8 needs about"):
        infer.Segmenter(adapted(tmp_path / "own.onnx"), providers="cpu").check_memory(8)


def test_a_batch_whose_labels_come_back_as_one_frames_runs_one_frame_at_a_time(tmp_path):
    """A Reshape to [1, H, -1] gives a batch of 3 one frame's labels 3 times as wide: 'breaks the contract: its labels
    came back [1, 8, 24] for frames [3, 8, 8, 3]', where each frame alone is labelled right."""
    seg = OnnxSegmenter(batch_one(tmp_path / "wide.onnx", shape=(1, 0, -1)), providers="cpu")
    assert seg.predict(reds(3))[:, 0, 0].tolist() == [0, 1, 2] and seg.one_at_a_time


@pytest.mark.parametrize("batch", ["1", "4"])
def test_tta_of_a_network_of_batch_one_says_in_one_line_why_it_cannot_run(tmp_path, batch):
    """--tta runs each frame with its mirror image as one batch of 2: a network with a batch of 1 baked into its graph
    failed at its first frame, at any --batch, in onnxruntime's words ('Error: infer failed: Fail: [ONNXRuntimeError]
    : 1 : FAIL : ... Input shape:{2,3,64,80}, requested shape:{1,3,64,80}')."""
    from conftest import split_frames, write_video

    from roadseg.cli import main

    mine = flattened(tmp_path)
    clip = write_video(tmp_path / "clip.mp4", split_frames(4, h=72, w=128))
    r = CliRunner().invoke(main, ["segment", str(clip), "-o", str(tmp_path / "out.mp4"), "--model", str(mine), "--tta",
                                  "--batch", batch])  # fmt: skip
    assert r.exit_code == 1 and "ONNXRuntimeError" not in r.output, r.output
    assert "mine.onnx takes one frame at a time (batch 1 baked into its graph), and --tta runs each frame with its " \
        "mirror image as one batch of 2: run it without --tta" in r.output, r.output
    assert CliRunner().invoke(main, ["segment", str(clip), "-o", str(tmp_path / "out.mp4"), "-y", "--model", str(mine),
                                     "--batch", batch]).exit_code == 0  # fmt: skip


def test_a_model_of_batch_one_runs_one_frame_at_a_time_with_io_binding_too(tmp_path):
    """With io_binding (a GPU session's default) onnxruntime says every failed run as a bare RuntimeError ('Error in
    execution: ... requested shape:{1,8,8}'), its kind lost: a batch of a model of batch 1 failed as before, on every
    GPU. (io_binding on the CPU here: the same calls.)"""
    seg = OnnxSegmenter(batch_one(tmp_path / "one.onnx"), providers="cpu", io_binding=True)
    assert seg.predict(reds(4))[:, 0, 0].tolist() == [0, 1, 2, 3] and seg.one_at_a_time
    bad = OnnxSegmenter(batch_one(tmp_path / "bad.onnx", shape=(1, 5, 5)), providers="cpu", io_binding=True)
    with pytest.raises(Exception, match=r"Input shape:\{2,8,8\}, requested shape:\{1,5,5\}"):  # (the batch's error)
        bad.predict(reds(2))
    assert bad.one_at_a_time is None


def test_an_empty_batch_of_a_model_fixed_at_batch_one_is_no_labels(tmp_path, caplog):
    """A model that batches gives labels [0,H,W] for no frames; one whose input is fixed at batch 1 raised numpy's
    'ValueError: need at least one array to concatenate'."""
    seg = OnnxSegmenter(batch_one(tmp_path / "one.onnx", fixed=True), providers="cpu")
    with caplog.at_level("WARNING", logger="roadseg"):
        labels = seg.predict(np.zeros((0, 8, 8, 3), np.uint8))
    assert labels.shape == (0, 8, 8) and labels.dtype == np.uint8 and not caplog.records


def test_tta_whose_plain_session_cannot_load_again_leaves_the_runs_error_as_it_was(tmp_path, monkeypatch):
    """The plain session that tells a --tta failure's cause is built only as the run fails: where it cannot be (the
    memory gone), its error replaced the run's own."""
    import roadseg.pipeline.session as session

    seg = OnnxSegmenter(flattened(tmp_path), providers="cpu", tta=True)

    def gone(*args, **kwargs):
        raise ModelError("cannot load model: out of memory")

    monkeypatch.setattr(session, "OnnxSegmenter", gone)
    with pytest.raises(Exception, match=r"Input shape:\{2,3,64,80\}, requested shape:\{1,3,64,80\}"):
        seg.predict(reds(1, 64, 80))
