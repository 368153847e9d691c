"""Training, scoring and exporting on a data folder of its own classes (a ``classes.txt`` beside SegNet's layout)."""

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

torch = pytest.importorskip("torch")

from test_data import _png  # noqa: E402

from roadseg.cli import main  # noqa: E402
from roadseg.data.camvid import CamVid  # noqa: E402
from roadseg.data.pack import pack  # noqa: E402

CLASSES_TXT = "road #804080\nlane\ncar #ff0000\n"
NAMES = ["road", "lane", "car"]
SMALL = ["--decoder-channels", "32,16,16,8,8"]


def make_own(root: Path, n: int = 3, h: int = 64, w: int = 96, classes: str = CLASSES_TXT) -> Path:
    """A SegNet-layout folder of 3 classes of its own: road below, a lane strip, a car box, a void corner (255)."""
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for i in range(n):
            label = np.zeros((h, w), np.uint8)
            label[h // 2 :, :] = 0
            label[: h // 2, :] = 1
            label[10:30, 20 + 5 * i : 50 + 5 * i] = 2
            label[:4, :4] = 255
            image = rng.integers(0, 40, (h, w, 3), dtype=np.uint8) + (60 * label[..., None] % 200).astype(np.uint8)
            _png(root / split / f"0001TP_{i:06d}.png", image)
            _png(root / f"{split}annot" / f"0001TP_{i:06d}.png", label)
    (root / "classes.txt").write_text(classes)
    return root


def _train(data: Path, out: Path, *extra: str):
    return CliRunner().invoke(main, ["train", "--data", str(data), "--out", str(out), "--epochs", "1", "--max-steps",
                                     "2", "--crop", "64x64", "--batch-size", "2", "--workers", "0", "--amp", "off",
                                     "--device", "cpu", *SMALL, *extra])  # fmt: skip


@pytest.fixture(scope="module")
def own_run(tmp_path_factory):
    """A 1-epoch, 2-step run on 3 classes of the folder's own: (data, run folder)."""
    tmp = tmp_path_factory.mktemp("own")
    data = make_own(tmp / "mydata")
    r = _train(data, tmp / "run")
    assert r.exit_code == 0, r.output
    return data, tmp / "run"


def test_classes_txt_names_the_classes_their_colours_and_void():
    from roadseg.data.classset import parse_classes

    own = parse_classes(CLASSES_TXT, "classes.txt")
    assert own.names == tuple(NAMES) and own.count == 3 and own.ignore_index == 3
    assert own.palette[0] == (128, 64, 128) and own.palette[2] == (255, 0, 0) and own.palette[1] != own.palette[0]
    for text, says in (("road\n\ncar\n", "line 2: no name"), ("road\nroad\n", "line 2: class 'road' twice"),
                       ("road #12\n", "line 1: '12' is not a colour"), ("", "names 0 classes")):  # fmt: skip
        with pytest.raises(ValueError, match=says):
            parse_classes(text, "classes.txt")


def test_a_class_name_with_a_comma_is_refused_naming_the_file_line_and_name():
    """Names are listed with commas (messages, export --classes): 'road, paved' read as two classes there."""
    from roadseg.data.classset import parse_classes

    with pytest.raises(ValueError) as err:
        parse_classes("sky\nroad, paved #804080\n", "my/classes.txt")
    assert str(err.value) == ("my/classes.txt line 2: class name 'road, paved' holds a comma; names are listed with "
                              "commas (messages, export --classes): give it another name")  # fmt: skip
    # spaces within a name are a name's own (traffic light), as are other characters
    assert parse_classes("traffic light\nroad-side (paved)\n", "c.txt").names == ("traffic light", "road-side (paved)")


def test_numbered_lines_0_to_c_minus_1_name_the_classes_without_their_numbers():
    """Other tools list classes as '0 road' (or '0: road'): that was a class named '0 road'."""
    from roadseg.data.classset import parse_classes

    for text in ("0 road #804080\n1 lane\n2 car #ff0000\n", "0: road #804080\n1:lane\n2\tcar #ff0000\n"):
        assert parse_classes(text, "c.txt") == parse_classes(CLASSES_TXT, "c.txt"), text
    assert parse_classes("0\n1\n", "c.txt").names == ("0", "1")  # (a number alone is a name)
    # a list not numbered from its first line keeps a name's leading number (was refused as a mix)
    assert parse_classes("road\n2 wheelers #ff0000\n", "c.txt").names == ("road", "2 wheelers")
    assert parse_classes("2 wheelers\nroad\n", "c.txt").names == ("2 wheelers", "road")
    assert parse_classes("0 30 km/h\n1 50 km/h\n", "c.txt").names == ("30 km/h", "50 km/h")  # (as the line says)
    # a dot, a bracket or a dash after the number is numbering too (was: classes named '0. road', '1 - lane' ...)
    for text in ("0. road #804080\n1. lane\n2. car #ff0000\n", "0 - road #804080\n1 - lane\n2 - car #ff0000\n",
                 "0) road #804080\n1)  lane\n2)\tcar #ff0000\n", "0. road #804080\n1 - lane\n2: car #ff0000\n"):
        assert parse_classes(text, "c.txt") == parse_classes(CLASSES_TXT, "c.txt"), text
    assert parse_classes("0. 30 km/h\n1. 50 km/h\n", "c.txt").names == ("30 km/h", "50 km/h")
    # ... under the same rules: not numbered from the first line, a name keeps its number; a decimal is a name's
    assert parse_classes("road\n2. wheelers\n3 - wheelers\n", "c.txt").names == ("road", "2. wheelers",
                                                                                "3 - wheelers")  # fmt: skip
    assert parse_classes("0.5 m pole\n1.5 m pole\n", "c.txt").names == ("0.5 m pole", "1.5 m pole")
    for text, said in (
        # a list numbered from 1: told so, not to keep '1 road' as a name (was: "... its line's: '0 1 road'")
        ("1 road\n2 car\n", "c.txt numbers its lines from 1 ('1 road'), but a class's label value is its line's "
                            "index, from 0: number them 0, 1, 2 ... ('0 road') or not at all"),
        ("1 road\n3 car\n", "c.txt line 1 is numbered 1, but its label value is its index, 0: number the lines 0, 1, "
                            "2 ... in order, or not at all (a name that begins with a number after its line's: "
                            "'0 1 road')"),
        # names that begin with a number, every one (speed signs): the line says how to keep them (was: 'or not at
        # all', where the lines were not numbered)
        ("30 km/h\n50 km/h\n", "c.txt line 1 is numbered 30, but its label value is its index, 0: number the lines "
                              "0, 1, 2 ... in order, or not at all (a name that begins with a number after its "
                              "line's: '0 30 km/h')"),
        ("0 road\ncar\n", "c.txt line 2 ('car') is not numbered, but line 1 is: number every line (0 road, 1 car ...) "
                          "or none"),
        ("1. road\n2. car\n", "c.txt numbers its lines from 1 ('1. road'), but a class's label value is its line's "
                              "index, from 0: number them 0, 1, 2 ... ('0. road') or not at all"),
        ("0. road\ncar\n", "c.txt line 2 ('car') is not numbered, but line 1 is: number every line (0 road, 1 car "
                            "...) or none"),
        ("0 road\n\n1 car\n", "c.txt line 2: no name; one class a line, NAME [#RRGGBB], its label value the line's "
                             "index"),  # (a blank line is no class, as in a list not numbered: was 'is not numbered')
    ):  # fmt: skip
        with pytest.raises(ValueError) as err:
            parse_classes(text, "c.txt")
        assert str(err.value) == said


def test_a_folder_of_its_own_classes_reads_them_and_255_as_void(tmp_path):
    from roadseg.data.classset import CAMVID, read_classes

    root = make_own(tmp_path / "d")
    ds = CamVid(root, "train")
    assert ds.classes.names == tuple(NAMES) and ds.classes.source == str(root / "classes.txt")
    label = ds[0][1]
    assert label[0, 0] == 3 and set(np.unique(label)) == {0, 1, 2, 3}
    (root / "classes.txt").unlink()  # without classes.txt: CamVid's, as before (255 is void, 11)
    assert read_classes(root) == CAMVID and CamVid(root, "train")[0][1][0, 0] == 11


def test_a_label_value_that_is_not_one_of_its_classes_is_refused_in_one_line_naming_the_file(tmp_path):
    root = make_own(tmp_path / "d")
    bad = root / "trainannot" / "0001TP_000001.png"
    label = np.zeros((64, 96), np.uint8)
    label[5, 5] = 7
    _png(bad, label)
    with pytest.raises(ValueError) as info:
        CamVid(root, "train")[1]
    assert str(info.value) == (f"label {bad} holds class 7; {root / 'classes.txt'} lists 3 classes: labels are 0-2 "
                               "and 255 (void)")  # fmt: skip
    r = _train(root, tmp_path / "run")
    assert r.exit_code == 1 and r.output.strip().splitlines() == [f"Error: {info.value}"], r.output


def test_train_on_own_classes_records_them_and_logs_a_column_a_class(own_run):
    _, run = own_run
    for name in ("best.pt", "last.pt"):
        state = torch.load(run / name, map_location="cpu", weights_only=False)
        assert state["classes"] == NAMES and state["palette"][0] == [128, 64, 128] and state["palette"][2] == [255, 0, 0]
        assert state["model_config"]["num_classes"] == 3
    header = next(csv.reader((run / "log.csv").open()))
    assert header[-6:] == ["iou_road", "iou_lane", "iou_car", "check_iou_road", "check_iou_lane", "check_iou_car"]
    assert len(json.loads((run / "log.jsonl").read_text().splitlines()[0])["iou"]) == 3


def test_eval_scores_the_datas_classes_by_name(own_run):
    data, run = own_run
    r = CliRunner().invoke(main, ["eval", str(run / "best.pt"), "--data", str(data), "--json"])
    assert r.exit_code == 0, r.output
    result = json.loads(r.output)
    assert result["classes"] == NAMES and len(result["iou"]) == 3 and np.array(result["confusion_matrix"]).shape == (3, 3)
    table = CliRunner().invoke(main, ["eval", str(run / "best.pt"), "--data", str(data)]).output
    assert [line.split()[0] for line in table.splitlines()[2:5]] == NAMES


def test_export_takes_the_classes_from_the_checkpoint_and_the_file_runs_and_scores(own_run, tmp_path):
    from roadseg.pipeline.infer import Segmenter

    data, run = own_run
    out = tmp_path / "mine.onnx"
    r = CliRunner().invoke(main, ["export", str(run / "best.pt"), "-o", str(out)])
    assert r.exit_code == 0, r.output
    seg = Segmenter(out)
    assert list(seg.classes) == NAMES and [list(c) for c in seg.palette[:3]][::2] == [[128, 64, 128], [255, 0, 0]]
    assert seg.segment(np.zeros((64, 96, 3), np.uint8)).max() < 3
    r = CliRunner().invoke(main, ["eval", str(out), "--data", str(data), "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["classes"] == NAMES, r.output
    r = CliRunner().invoke(main, ["export", str(run / "best.pt"), "-o", str(tmp_path / "x.onnx"), "--classes", "a,b,c"])
    assert r.exit_code == 1 and "records its classes (road, lane, car): leave --classes out" in r.output


def test_eval_of_a_model_of_other_classes_than_the_datas_is_refused_naming_both(own_run, tmp_path):
    from roadseg.model import UNetResNet34

    data, run = own_run
    net = UNetResNet34(11, decoder_channels=(32, 16, 16, 8, 8))
    torch.save({"model": net.state_dict(), "model_config": net.config}, tmp_path / "camvid.pt")
    r = CliRunner().invoke(main, ["eval", str(tmp_path / "camvid.pt"), "--data", str(data)])
    assert r.exit_code == 1 and r.output == (
        f"Error: camvid.pt scores 11 classes (Sky, Building, Pole, Road ...), not the 3 of {data / 'classes.txt'} "
        "(road, lane, car): its labels cannot be scored against the data's\n"), r.output
    other = make_own(tmp_path / "other", classes="road\nlane\nbike\n")  # (as many classes, other names)
    r = CliRunner().invoke(main, ["eval", str(run / "best.pt"), "--data", str(other)])
    assert r.exit_code == 1 and "best.pt scores 3 classes (road, lane, car), not the 3 of" in r.output, r.output


def test_paste_and_a_camvid_init_are_refused_with_own_classes(own_run, tmp_path):
    data, _ = own_run
    r = _train(data, tmp_path / "a", "--paste", "0.5")
    assert r.exit_code == 1 and "--paste copies CamVid's poles" in r.output and "leave --paste out" in r.output
    from roadseg.model import UNetResNet34

    net = UNetResNet34(11, decoder_channels=(32, 16, 16, 8, 8))
    torch.save({"model": net.state_dict(), "model_config": net.config}, tmp_path / "camvid.pt")
    r = _train(data, tmp_path / "b", "--init", str(tmp_path / "camvid.pt"))
    assert r.exit_code == 1 and "camvid.pt has 11 classes, the data has the 3 of" in r.output, r.output
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_init_and_resume_of_own_classes_go_on(own_run, tmp_path):
    data, run = own_run
    r = _train(data, tmp_path / "ft", "--init", str(run / "best.pt"))
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["train", "--data", str(data), "--resume", str(run / "last.pt"), "--epochs", "2",
                                  "--out", str(tmp_path / "more")])  # fmt: skip
    assert r.exit_code == 0, r.output
    other = make_own(tmp_path / "other", classes="road\nlane\nbike\n")
    r = CliRunner().invoke(main, ["train", "--data", str(other), "--resume", str(run / "last.pt"), "--epochs", "2",
                                  "--out", str(tmp_path / "other-run")])  # fmt: skip
    assert r.exit_code == 1 and "the run resumed scores the 3 of the checkpoint (road, lane, car)" in r.output, r.output


def test_pack_carries_the_classes_txt(tmp_path):
    root = make_own(tmp_path / "d", n=1)
    assert pack(root, tmp_path / "packed") == 2
    assert (tmp_path / "packed" / "classes.txt").read_text() == CLASSES_TXT
    assert CamVid(tmp_path / "packed", "val").classes.names == tuple(NAMES)


def test_release_of_own_classes_names_its_files_for_the_data_and_carries_the_classes(own_run, tmp_path, capsys):
    from roadseg.export.release import release
    from roadseg.pipeline.session import OnnxSegmenter

    data, run = own_run
    r = CliRunner().invoke(main, ["release", str(run / "best.pt"), "--data", str(data), "--out", str(tmp_path / "m"),
                                  "--calib-frames", "2"])  # fmt: skip
    assert r.exit_code == 0, r.output
    report = json.loads((tmp_path / "m" / "eval.json").read_text())
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["eval.json", "unet-r34-mydata-int8.onnx",
                                                                  "unet-r34-mydata.onnx"]  # fmt: skip
    # it says what it wrote and how the files scored, in percent as eval does (was: the raw report, fractions)
    lines = r.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines[:2]] == [f"wrote {tmp_path / 'm' / n}" for n in
                                                          ("unet-r34-mydata.onnx", "unet-r34-mydata-int8.onnx")]
    miou = 100 * report["unet-r34-mydata.onnx"]["miou"]
    assert f"val mIoU {miou:.2f} ({report['unet-r34-mydata.onnx']['images']} frames)" in lines[0]
    assert lines[2:] == [f"per-class IoU, parity and check scores: {tmp_path / 'm' / 'eval.json'}"]
    # and, on stderr, each step as it begins, with the seconds so far (was: silence, 140 s of it on CamVid)
    steps = [re.fullmatch(r"release (\d)/6 \[\d+ s\]: (.*)", line) for line in r.stderr.splitlines()]
    assert [m and m[1] for m in steps] == list("123456"), r.stderr
    assert [m[2] for m in steps] == [
        f"reading {run / 'best.pt'} and the data (val: 3 frames)", "exporting fp32, parity with PyTorch on 3 val frames",
        "quantizing INT8 (percentile calibration on train frames, 2 at most), agreement with fp32",
        "storing the fp32 weights as float16, parity with PyTorch", "scoring unet-r34-mydata.onnx on val's 3 frames",
        "scoring unet-r34-mydata-int8.onnx on val's 3 frames"]  # fmt: skip
    for name in ("unet-r34-mydata.onnx", "unet-r34-mydata-int8.onnx"):
        meta = OnnxSegmenter(tmp_path / "m" / name, providers="cpu").metadata
        assert meta["classes"] == NAMES and meta["palette"][2] == [255, 0, 0] and len(meta["val_iou"]) == 3
        assert meta["training_data"].startswith("mydata, 3 classes of its own (road, lane, car)")
        assert "license_note" not in meta and len(meta["logit_adjustment"]["offsets"]) == 3
        assert len(report[name]["iou"]) == 3
    # a re-release of the released file (rebuilt from it) keeps its classes, and --init starts a run from it
    release(tmp_path / "m" / "unet-r34-mydata.onnx", data, tmp_path / "again", calib_frames=2, min_int8_agreement=0.0)
    assert capsys.readouterr().err == ""  # (the library says its steps where asked: progress=True)
    meta = OnnxSegmenter(tmp_path / "again" / "unet-r34-mydata.onnx", providers="cpu").metadata
    assert meta["classes"] == NAMES and meta["palette"][2] == [255, 0, 0] and meta["rebuilt_from"]["file"]
    r = _train(data, tmp_path / "ft", "--init", str(tmp_path / "m" / "unet-r34-mydata.onnx"))
    assert r.exit_code == 0, r.output
    from roadseg.model import UNetResNet34

    net = UNetResNet34(11, decoder_channels=(32, 16, 16, 8, 8))
    torch.save({"model": net.state_dict(), "model_config": net.config}, tmp_path / "camvid.pt")
    with pytest.raises(ValueError, match="camvid.pt scores CamVid's 11 .*, not the 3 of .*: release it on its own data"):
        release(tmp_path / "camvid.pt", data, tmp_path / "n")
    assert not (tmp_path / "n").exists()


def test_a_half_copy_of_an_own_class_run_keeps_its_classes(own_run, tmp_path):
    from roadseg.train.weights import half_copy

    data, run = own_run
    half_copy(run / "best.pt", tmp_path / "half.pt")
    r = CliRunner().invoke(main, ["eval", str(tmp_path / "half.pt"), "--data", str(data), "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["classes"] == NAMES, r.output


def test_quantize_of_an_own_class_export_says_how_to_score_it_on_its_data(own_run, tmp_path):
    data, run = own_run
    assert CliRunner().invoke(main, ["export", str(run / "best.pt"), "-o", str(tmp_path / "m.onnx")]).exit_code == 0
    r = CliRunner().invoke(main, ["quantize", str(tmp_path / "m.onnx"), "-o", str(tmp_path / "q.onnx"), "--data",
                                  str(data), "--frames", "2"])  # fmt: skip
    assert r.exit_code == 0 and r.output.rstrip().endswith(f"score it with: roadseg eval {tmp_path / 'q.onnx'} --data {data}")
    from roadseg.pipeline.session import OnnxSegmenter

    said = OnnxSegmenter(tmp_path / "q.onnx", providers="cpu").metadata["calibration"]  # (was: "2 CamVid train frames")
    assert said == "2 train frames of mydata (its classes.txt: road, lane, car), percentile"


def test_own_frames_train_eval_and_export_at_the_size_given(tmp_path):
    """16:9-ish frames (96x160) trained at their own size (--size): the label maps read at it, the checkpoint's
    recipe and the exported file's input_size say it, and eval scores the file at it (was: read squashed into
    360x480, the file's input_size 360x480, and eval's working size 320x544 for these frames)."""
    from roadseg.pipeline.session import OnnxSegmenter
    from roadseg.train.data import load_data
    from roadseg.train.loop import TrainConfig, tuples

    data = make_own(tmp_path / "wide", h=96, w=160)
    r = _train(data, tmp_path / "run", "--size", "96x160")
    assert r.exit_code == 0, r.output
    state = torch.load(tmp_path / "run" / "best.pt", map_location="cpu", weights_only=False)
    cfg = TrainConfig(**tuples(state["config"]))
    assert cfg.size == (96, 160)
    frames = load_data(cfg)
    assert {lab.shape for lab in frames["train"][1] + frames["val"][1]} == {(96, 160)}
    assert np.array_equal(frames["train"][1][0], CamVid(data, "train")[0][1])  # (as in the file: not resized)
    r = CliRunner().invoke(main, ["export", str(tmp_path / "run" / "best.pt"), "-o", str(tmp_path / "w.onnx")])
    assert r.exit_code == 0, r.output
    assert OnnxSegmenter(tmp_path / "w.onnx", providers="cpu").metadata["input_size"] == [96, 160]
    for model in ("w.onnx", "run/best.pt"):  # (the checkpoint was scored at its frames' size: the same here)
        r = CliRunner().invoke(main, ["eval", str(tmp_path / model), "--data", str(data), "--json"])
        assert r.exit_code == 0 and json.loads(r.output)["working_size"] == [96, 160], r.output
    from roadseg.export.provenance import training_metadata

    assert "train at 96x160" in training_metadata(state)["training_data"]
    assert list(training_metadata(state)["training"]["size"]) == [96, 160]
    from roadseg.export.release import release

    report = release(tmp_path / "run" / "best.pt", data, tmp_path / "m", calib_frames=2, min_int8_agreement=0.0)
    for name in ("unet-r34-wide.onnx", "unet-r34-wide-int8.onnx"):  # (was: input_size 360x480, calibrated at it)
        meta = OnnxSegmenter(tmp_path / "m" / name, providers="cpu").metadata
        assert meta["input_size"] == [96, 160] and report[name]["working_size"] == [96, 160]
    assert meta["calibration"] == "2 train frames of wide (its classes.txt: road, lane, car), percentile"


def test_eval_scores_a_checkpoint_at_the_size_it_was_trained_at(tmp_path):
    """A run on 96x160 frames trained at --size 48x80: eval of its checkpoint runs frames at 48x80, as its export would
    (was: at the frames' own 96x160, twice the scale the network learnt), and scores what the training log did."""
    data = make_own(tmp_path / "wide", h=96, w=160)
    r = _train(data, tmp_path / "run", "--size", "48x80", "--crop", "48x64")
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["eval", str(tmp_path / "run" / "best.pt"), "--data", str(data), "--json"])
    assert r.exit_code == 0, r.output
    result = json.loads(r.output)
    logged = json.loads((tmp_path / "run" / "log.jsonl").read_text().splitlines()[-1])
    assert result["working_size"] == [48, 80] and result["miou"] == pytest.approx(logged["miou"], abs=0.02)


def test_crops_that_do_not_fit_the_size_are_refused_in_one_line(tmp_path):
    data = make_own(tmp_path / "wide", n=1, h=96, w=160)
    for extra, said in ((["--crop", "128x128"], "--crop 128x128 does not fit the frames, read at --size 96x160: give a "
                                                "crop of at most 96x160"),
                        (["--phase", "1:0.5:64x64"], "--phase crop 64x64 at resolution 0.5 does not fit the frames, read "
                                                     "at --size 96x160: give a crop of at most 48x80")):  # fmt: skip
        r = _train(data, tmp_path / "run", "--size", "96x160", *extra)
        assert r.exit_code == 1 and r.output.strip().splitlines() == [f"Error: {said}"], r.output
        assert not (tmp_path / "run").exists()


def test_camvids_default_size_is_unchanged(own_run, tmp_path):
    """Without --size a run reads frames at CamVid's 360x480 (the shipped recipe replays), and its export says so."""
    from roadseg.pipeline.session import OnnxSegmenter

    data, run = own_run
    state = torch.load(run / "best.pt", map_location="cpu", weights_only=False)
    assert list(state["config"]["size"]) == [360, 480]
    assert CliRunner().invoke(main, ["export", str(run / "best.pt"), "-o", str(tmp_path / "m.onnx")]).exit_code == 0
    assert OnnxSegmenter(tmp_path / "m.onnx", providers="cpu").metadata["input_size"] == [360, 480]


def test_a_classes_txt_saved_with_a_bom_and_crlf_names_its_first_class_plainly(tmp_path):
    """Windows Notepad's UTF-8 starts the file with a BOM: the first class was named '\\ufeffroad'."""
    from roadseg.data.classset import read_classes

    (tmp_path / "classes.txt").write_bytes("road #804080\r\nlane\r\ncar\r\n\r\n".encode("utf-8-sig"))
    own = read_classes(tmp_path)
    assert own.names == ("road", "lane", "car") and own.palette[0] == (128, 64, 128)


def test_a_classes_txt_of_one_class_is_refused_as_a_model_of_it_learns_nothing():
    """Softmax over one class is always it (loss 0 from the first step): road vs the rest is two classes."""
    from roadseg.data.classset import parse_classes

    with pytest.raises(ValueError, match="names 1 classes.*2 to 255"):
        parse_classes("road\n", "classes.txt")
    assert parse_classes("road\nother\n", "classes.txt").count == 2


def test_a_colour_coded_label_is_refused_saying_labels_hold_class_indices(tmp_path):
    from roadseg.data.camvid import read_label

    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[:4] = (128, 64, 128)
    _png(tmp_path / "l.png", rgb)
    with pytest.raises(ValueError, match=r"l\.png is a colour \(RGB\) picture.*class index.*255 void"):
        read_label(tmp_path / "l.png")


def test_a_holdout_of_no_frames_says_what_a_sequence_is_and_names_those_there():
    from roadseg.data.camvid import split_holdout

    with pytest.raises(ValueError, match=r"'f00'.*name up to its first '_'.*f000, f001"):
        split_holdout(["f000", "f001"], ("f00",))


def test_a_folder_of_own_classes_not_in_segnets_layout_is_not_called_a_camvid_folder(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "classes.txt").write_text(CLASSES_TXT)
    with pytest.raises(FileNotFoundError) as err:
        CamVid(tmp_path, "train")
    assert "CamVid" not in str(err.value) and "classes.txt" in str(err.value) and "trainannot/" in str(err.value)
