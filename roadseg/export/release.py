"""Build the shipped model files from a checkpoint, exactly as ``models/MODEL_CARD.md`` describes.

0. fold the **logit adjustment** into the network's head (``logit_adjust``: minus that times the log of
   the median-frequency class weights its run trained with; :func:`roadseg.train.data.logit_offsets`);
   the check run, where there is one, gets the same, from the frames it trained on;
1. export fp32 and verify parity with PyTorch on real val frames (at an untraced shape);
2. quantize a static INT8 (QDQ, per-channel) copy, calibrated on *train* frames of the data;
3. store the fp32 model's weights as float16 (fp32 compute) so that both fit the 80 MB budget,
   and verify parity again;
4. score both on the val split with the pipeline's own onnxruntime code and write the scores into
   each file's metadata and into ``eval.json``;
5. with ``check=``, the **generalization check**: the same recipe's run that held footage out of
   training (``TrainConfig.holdout``) is exported and quantized the same way and both precisions are
   scored on the held-out frames; those scores go into the metadata (``check_miou``) beside val.
   When the shipped checkpoint trained on val too (a final fit), its val score is recorded but
   flagged (``val_trained_on``): only the check says anything about unseen roads then.

``checkpoint`` is a run's ``.pt``, or a released fp32 ``.onnx`` (rebuilt, its own adjustment taken off
first, its recipe carried into the new files' metadata): a re-release of the same network. What the files'
metadata says of their making is :func:`roadseg.export.provenance.training_metadata`.

A checkpoint of a data folder's own classes (``classes.txt``: :mod:`roadseg.data.classset`) is released the same
way on that folder, its files named for it (:func:`file_names`) and carrying its classes and colours; the
checkpoint's classes must be the folder's. Both files' ``input_size`` is the size the network was trained at
(``train --size``, :func:`~roadseg.train.checkpoint.trained_size`; CamVid's 360x480), and the INT8 file is calibrated at it.

Example:
    >>> release("runs/final/last.pt", "../shared/camvid", "models", check="runs/check/last.pt")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import numpy as np
import onnx

from roadseg._startup import settle
from roadseg.contract import set_metadata
from roadseg.data.classset import ClassSet, from_state
from roadseg.errors import Interrupted, OutputError, reason_of
from roadseg.export import LOGIT_ADJUST
from roadseg.export.onnx import count_macs, export_onnx
from roadseg.export.provenance import training_metadata
from roadseg.export.quantize import CALIBRATION_METHODS, calibration_source, load_calibration_frames, quantize_int8
from roadseg.export.verify import untraced_batch, verify_parity
from roadseg.train.checkpoint import trained_size

FP32_NAME = "unet-r34-camvid.onnx"
INT8_NAME = "unet-r34-camvid-int8.onnx"
REPORT_NAME = "eval.json"


def file_names(classes: ClassSet, data: str | Path) -> tuple[str, str]:
    """The names of the two files a release writes: the shipped ones for CamVid's classes, else the data folder's.

    >>> from roadseg.data.classset import CAMVID, parse_classes
    >>> file_names(CAMVID, "../shared/camvid"), file_names(parse_classes("road\\ncar", "c.txt"), "/data/yard")
    (('unet-r34-camvid.onnx', 'unet-r34-camvid-int8.onnx'), ('unet-r34-yard.onnx', 'unet-r34-yard-int8.onnx'))
    """
    if classes.is_camvid:
        return FP32_NAME, INT8_NAME
    stem = f"unet-r34-{Path(data).resolve().name}"
    return f"{stem}.onnx", f"{stem}-int8.onnx"


def existing_outputs(out: str | Path, names: tuple[str, str] = (FP32_NAME, INT8_NAME)) -> list[Path]:
    """The files in ``out`` that a release there would replace: the two models (``names``) and ``eval.json``.

    >>> existing_outputs("/no/such/folder")
    []
    """
    return [Path(out) / name for name in (*names, REPORT_NAME) if (Path(out) / name).exists()]


def _val_frames(images: list[np.ndarray], count: int = 4) -> np.ndarray:
    """``count`` of val's ``images``, spread over it, cropped to 359x479: odd, so not the traced shape."""
    return untraced_batch([images[int(i)] for i in np.linspace(0, len(images) - 1, min(count, len(images)))])


SCORE_KEYS = ("miou", "iou", "pixel_acc", "images", "working_size")


def release(checkpoint: str | Path, data: str | Path, out: str | Path, *, check: str | Path | None = None,
            calib_frames: int = 64, calib_method: str = CALIBRATION_METHODS[0],
            min_int8_agreement: float = 0.98, logit_adjust: float = LOGIT_ADJUST, overwrite: bool = False,
            progress: bool = False) -> dict:  # fmt: skip
    """Write ``out/unet-r34-camvid.onnx`` and ``out/unet-r34-camvid-int8.onnx`` (:func:`file_names`); return their scores.
    Both are built and scored in a temporary folder inside ``out`` and moved into place together at
    the end: a release that fails (a checkpoint that is not a check, INT8 too far from fp32, Ctrl-C)
    leaves ``out`` as it was. Files of an earlier release in ``out`` (:func:`existing_outputs`) are
    replaced only with ``overwrite``; without it the release is refused before any work
    (:class:`~roadseg.errors.OutputError` naming them). ``progress``: a line on standard error as each step begins
    (:func:`_steps`; the whole takes minutes), and, where standard error is a terminal, ``eval``'s bar of the frames
    while a file is scored."""
    from roadseg.data.camvid import CamVid

    val_set = CamVid(data, "val")
    classes = val_set.classes
    fp32_name, int8_name = file_names(classes, data)
    taken = existing_outputs(out, (fp32_name, int8_name))  # (before any work: export, quantize and scoring take minutes)
    if taken and not overwrite:
        raise OutputError(f"release would replace {', '.join(map(str, taken))}; "
                          "pass -y/--overwrite to replace them, or give another --out")  # fmt: skip
    step = _steps(6 + (check is not None), sys.stderr if progress else None)
    step(f"reading {checkpoint} and the data (val: {len(val_set)} frames)")
    net, state = source_network(checkpoint, data)
    if (has := from_state(state)).names != classes.names:
        raise ValueError(f"{checkpoint} scores {has.describe()}, not {classes.describe()}: release it on its own data")
    out = Path(out)
    with _into(out):
        return _build(net, state, data, out, val_set, has, (fp32_name, int8_name), check, calib_frames, calib_method,
                      min_int8_agreement, logit_adjust, step, progress)  # fmt: skip


def _build(net, state: dict, data, out: Path, val_set, has: ClassSet, names: tuple[str, str], check, calib_frames: int,
           calib_method: str, min_int8_agreement: float, logit_adjust: float, step, progress: bool) -> dict:  # fmt: skip
    """:func:`release`'s work once its inputs are read and ``out`` is made: build, check and score both files (and the
    check run's) in a temporary folder in ``out``, then move them and ``eval.json`` in; their scores."""
    from roadseg.train.evaluate import evaluate_model
    from roadseg.train.weights import adjust_logits

    classes, (fp32_name, int8_name) = val_set.classes, names
    size = trained_size(state)  # (the file's input_size: inference's working size follows what training saw)
    named = {"classes": list(has.names), "palette": [list(c) for c in has.palette], "input_size": size}
    meta = {**training_metadata(state), "macs": count_macs(net, size),
            **({"license_note": "trained on CamVid (research use)"} if classes.is_camvid else {}),
            **adjust_logits(net, state, data, logit_adjust)}  # fmt: skip
    val = val_set.load_all()  # (read once: parity frames and both files' scores)
    frames = _val_frames(val[0])
    report: dict = {}
    with tempfile.TemporaryDirectory(prefix=".release-", dir=out) as tmp:  # out/ changes only when all is done
        tmp = Path(tmp)
        if check is not None:  # (first: a checkpoint that cannot be a check fails before any work)
            step(f"the check run {check}: export, INT8, both scored on the frames it held out")
            report["check"] = _check_scores(check, data, tmp, calib_frames, calib_method, logit_adjust, progress)
        step(f"exporting fp32, parity with PyTorch on {len(frames)} val frames")
        fp32 = export_onnx(net, tmp / "fp32.onnx", metadata=meta, **named)
        report["fp32_parity"] = verify_parity(net, fp32, frames=frames)
        step(f"quantizing INT8 ({calib_method} calibration on train frames, {calib_frames} at most), agreement "
             "with fp32")
        int8 = quantize_int8(fp32, tmp / int8_name, load_calibration_frames(data, calib_frames, size=size),
                             method=calib_method, source=calibration_source(data))  # fmt: skip
        report["int8_parity"] = _agreement(fp32, int8, frames)
        if report["int8_parity"] < min_int8_agreement:
            raise RuntimeError(f"INT8 agrees with fp32 on only {100 * report['int8_parity']:.2f}% of labels")
        step("storing the fp32 weights as float16, parity with PyTorch")
        half = export_onnx(net, tmp / fp32_name, metadata={**meta, "precision": "fp32 compute, fp16-stored weights"},
                           fp16_weights=True, **named)  # fmt: skip
        report["fp16_weights_parity"] = verify_parity(net, half, frames=frames)
        for name, precision in ((fp32_name, "fp32"), (int8_name, "int8")):
            step(f"scoring {name} on val's {len(val[0])} frames")
            result = evaluate_model(tmp / name, None, "val", samples=val, classes=classes,
                                    progress=progress and sys.stderr.isatty())  # fmt: skip
            report[name] = {k: result[k] for k in SCORE_KEYS}
            scores = {"val_miou": round(100 * result["miou"], 2), "val_iou": [round(100 * v, 2) for v in result["iou"]]}
            if "check" in report:
                c = report["check"][precision]
                scores.update(check_miou=round(100 * c["miou"], 2), check_iou=[round(100 * v, 2) for v in c["iou"]],
                              check_split=report["check"]["about"])  # fmt: skip
            model = onnx.load(str(tmp / name))
            set_metadata(model, {k: json.dumps(v) for k, v in scores.items()})
            onnx.save(model, str(tmp / name))
            report[name]["megabytes"] = round((tmp / name).stat().st_size / 1e6, 1)
        (tmp / REPORT_NAME).write_text(json.dumps(report, indent=2))  # (in with the files: a full disk keeps out/ whole)
        settle()  # (the work is whole: a Ctrl-C from here, as the files move in or the temporary folder goes, is let be;
        for name in (fp32_name, int8_name, REPORT_NAME):  # it said "out is as it was" with the files in, and left
            os.replace(tmp / name, out / name)  # .release-*)
    return report


@contextmanager
def _into(out: Path) -> Iterator[None]:
    """``out`` made (with its parents) for the block; where the block fails or is stopped, the folders it made are
    removed while empty (was: an empty ``--out`` left by a release that failed or was stopped), and a Ctrl-C (an
    :class:`~roadseg.errors.Interrupted`) or a file that cannot be written (an :class:`~roadseg.errors.OutputError`)
    says what is left of ``out`` (was: ``Error: interrupted``, ``Error: No space left on device``)."""
    from roadseg.train.checkpoint import made_folders, remove_made

    made = made_folders(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # (was Python's '[Errno 2] No such file or directory: ...')
        raise OutputError(f"cannot create {out}: {reason_of(exc)}") from None
    try:
        yield
    except BaseException as exc:
        left = (f"{out}, which the release made, is removed" if remove_made(made) else
                f"{out} is as it was" if not made else f"{out} is left as the release made it")  # fmt: skip
        if isinstance(exc, KeyboardInterrupt):
            raise Interrupted.of(exc, left) from None
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write into {out}: {reason_of(exc)}; {left}") from None
        raise


def _steps(total: int, stream: TextIO | None) -> Callable[[str], None]:
    """``step(what)``, called as each of ``total`` steps begins: ``release 3/6 [41 s]: what`` on ``stream`` (the
    seconds since the first step; None: silent), above any bar on the way (tqdm's write).

    >>> step = _steps(2, sys.stdout)
    >>> step("reading"); step("scoring")
    release 1/2 [0 s]: reading
    release 2/2 [0 s]: scoring
    """
    from tqdm import tqdm

    t0, begun = time.monotonic(), [0]

    def step(what: str) -> None:
        begun[0] += 1
        if stream is not None:
            tqdm.write(f"release {begun[0]}/{total} [{time.monotonic() - t0:.0f} s]: {what}", file=stream)

    return step


def source_network(checkpoint: str | Path, data: str | Path) -> tuple:
    """(network, state) of what ``release`` ships: a run's checkpoint, or a released fp32 ``.onnx``
    rebuilt without its logit adjustment (:func:`roadseg.train.weights.rebuilt_release`, BNs set on 8
    train frames of ``data``)."""
    from roadseg.train.weights import calibration_indices, load_checkpoint, rebuilt_release

    if Path(checkpoint).suffix != ".onnx":
        return load_checkpoint(checkpoint)
    from roadseg.data.camvid import CamVid

    ds = CamVid(data, "train")
    return rebuilt_release(checkpoint, [ds[i][0] for i in calibration_indices(len(ds))])


def _check_scores(check: str | Path, data: str | Path, tmp: Path, calib_frames: int, calib_method: str,
                  logit_adjust: float, progress: bool = False) -> dict:  # fmt: skip
    """Score the check run (same recipe, footage held out) on its held-out frames, fp32 and INT8, with
    the release's logit adjustment (from the frames the check run trained on)."""
    from roadseg.train.config import TrainConfig, tuples
    from roadseg.train.data import load_data
    from roadseg.train.evaluate import evaluate_model
    from roadseg.train.weights import adjust_logits, load_checkpoint

    net, state = load_checkpoint(check)
    cfg = TrainConfig(**{**tuples(state["config"]), "data": str(data)})
    if not cfg.holdout:
        raise ValueError(f"{check} held nothing out of training (no holdout in its config): it cannot be a check")
    loaded = load_data(cfg, only_check=True)
    held, classes = loaded["check"], loaded["classes"]
    adjust_logits(net, state, data, logit_adjust)
    fp32 = export_onnx(net, tmp / "check-fp32.onnx", classes=list(classes.names), input_size=cfg.size)
    calib = load_calibration_frames(data, calib_frames, holdout=cfg.holdout, size=cfg.size)  # frames the check run trained on
    int8 = quantize_int8(fp32, tmp / "check-int8.onnx", calib, method=calib_method, source=calibration_source(data))
    about = (f"{len(held[0])} frames held out of training ({', '.join(cfg.holdout)}), scored on the same recipe's "
             f"run without them (epoch {state.get('best_epoch')})")  # fmt: skip
    result = {"about": about, "holdout": list(cfg.holdout), "logit_adjust": logit_adjust}
    for key, path in (("fp32", fp32), ("int8", int8)):
        r = evaluate_model(path, None, "check", samples=held, classes=classes, progress=progress and sys.stderr.isatty())
        result[key] = {k: r[k] for k in SCORE_KEYS}
    return result


def _agreement(a: Path, b: Path, frames: np.ndarray) -> float:
    from roadseg.pipeline.session import OnnxSegmenter

    la = OnnxSegmenter(a, providers="cpu").predict(frames)
    lb = OnnxSegmenter(b, providers="cpu").predict(frames)
    return float((la == lb).mean())
