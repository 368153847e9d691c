"""Class names the legend's font cannot draw (OpenCV's Hershey fonts: ASCII alone): drawn in their ASCII spelling or
as their class index, said in one line; the text outputs keep them as they are."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import read_video, rule_model, split_frames, write_video

from roadseg.cli import main
from roadseg.pipeline.legend_text import ascii_spelling, legend_names, legend_note
from roadseg.pipeline.overlay import Overlay, palette_lut, render_legend

OWN = ["Straße", "piéton", "Ångström", "道路"]
#: What the legend draws of them.
DRAWN = ["Strasse", "pieton", "Angstrom", "class 3"]
LUT = palette_lut([(200, 40, 40), (40, 200, 40), (40, 40, 200), (200, 200, 40)])


def own_model(path):
    """A tiny contract model (conftest's ``rule_model``) whose classes are :data:`OWN`: names its legend spells
    otherwise."""
    return rule_model(path, metadata={"classes": OWN})


@pytest.mark.parametrize("name, drawn", [
    ("road", "road"), ("piéton", "pieton"), ("Ångström", "Angstrom"), ("Straße", "Strasse"), ("GROẞE", "GROSSE"),
    ("cæsar", "caesar"), ("Ørsted", "Orsted"), ("œuvre", "oeuvre"), ("Łódź", "Lodz"), ("đường", "duong"),
    ("þorn", "thorn"), ("Iğdır", "Igdir"), ("Ħal", "Hal"), ("ﬁeld", "field"), ("car’s", "car's"),
    ("lane—left", "lane-left"), ("ǿ", "o"), ("道路", None), ("улица", None), ("δρόμος", None), ("road 道", None),
    ("tab\there", None), ("\u0301", None)])  # fmt: skip
def test_a_name_is_spelt_in_ascii_where_it_can_be(name, drawn):
    assert ascii_spelling(name) == drawn


def test_the_legend_draws_each_name_in_ascii_or_as_its_class_index():
    assert legend_names(OWN) == DRAWN
    assert legend_names(["road", "class 7"]) == ["road", "class 7"]  # (a name of that form is left as it is)
    assert legend_names(["道路", "улица", "sky"]) == ["class 0", "class 1", "sky"]


def test_the_note_names_each_class_drawn_otherwise_and_counts_past_six():
    assert legend_note(["road", "sky"]) is None
    assert legend_note(OWN) == ("legend: 4 class names drawn otherwise (its font is ASCII only): 'Straße' as "
                                "'Strasse', 'piéton' as 'pieton', 'Ångström' as 'Angstrom', '道路' as 'class 3'")  # fmt: skip
    many = legend_note(["sky", *(f"道{i}" for i in range(9))])
    assert many.startswith("legend: 9 class names drawn otherwise") and many.endswith("'道5' as 'class 6' and 3 more")


def test_render_legend_draws_the_ascii_spelling_not_question_marks():
    """cv2.putText drew 'Straße' as 'Stra?e' and '道路' as '??'."""
    own, spelt = render_legend(OWN, LUT, 360, 640), render_legend(DRAWN, LUT, 360, 640)
    assert own is not None and spelt is not None
    assert own[0].shape == spelt[0].shape and np.array_equal(own[0], spelt[0])
    marks = render_legend(["Stra?e", "pi?ton", "?ngstr?m", "??"], LUT, 360, 640)
    assert marks[0].shape != own[0].shape or not np.array_equal(marks[0], own[0])


def test_the_overlay_says_its_one_line_when_made_and_none_for_ascii_names(caplog):
    frame, labels = np.zeros((360, 640, 3), np.uint8), np.zeros((45, 80), np.uint8)
    with caplog.at_level(logging.INFO, logger="roadseg"):
        overlay = Overlay(LUT, legend=OWN)
        assert [r.getMessage() for r in caplog.records] == [legend_note(OWN)]
        for _ in range(3):
            overlay(frame, labels)
        Overlay(LUT, legend=None)(frame, labels)
        Overlay(LUT, legend=DRAWN)(frame, labels)
    assert [r.getMessage() for r in caplog.records] == [legend_note(OWN)]


def _said(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("roadseg: ")]


def test_segment_legend_of_own_names_draws_them_in_ascii_and_keeps_them_in_stats_and_info(tmp_path):
    """A model trained on the user's own classes, names not in ASCII: segment --legend drew 'Stra?e' and '??'."""
    src = write_video(tmp_path / "in.mp4", split_frames(4, h=240, w=320))
    own = own_model(tmp_path / "own.onnx")
    spelt = rule_model(tmp_path / "spelt.onnx", metadata={"classes": DRAWN})
    runs = {}
    for model in (own, spelt):
        out, stats = tmp_path / f"{model.stem}.mp4", tmp_path / f"{model.stem}.json"
        r = CliRunner().invoke(main, ["segment", str(src), "-o", str(out), "--model", str(model), "--legend",
                                      "--stats", str(stats), "--crf", "0", "-q"])  # fmt: skip
        assert r.exit_code == 0, r.output
        runs[model.stem] = read_video(out)["frames"], json.loads(stats.read_text()), _said(r.stderr)
    (drawn, stats, said), (expected, spelt_stats, spelt_said) = runs["own"], runs["spelt"]
    assert said == [f"roadseg: {legend_note(OWN)}"] and not spelt_said
    assert all(np.abs(a.astype(int) - b).max() <= 2 for a, b in zip(drawn, expected))  # the same legend, pixel for pixel
    assert stats["classes"] == OWN and spelt_stats["classes"] == DRAWN  # --stats keeps the names as they are
    r = CliRunner().invoke(main, ["segment", str(src), "-o", str(tmp_path / "plain.mp4"), "--model", str(own), "-q"])
    assert r.exit_code == 0 and not _said(r.stderr)  # (no --legend: nothing to say)
    r = CliRunner().invoke(main, ["info", "--model", str(own)])
    assert r.exit_code == 0, r.output
    assert all(f": {name}  #" in r.output for name in OWN), r.output  # info --model too
