"""The model-side commands of ``roadseg``: export, soup, quantize, release, eval (train and pack-data:
:mod:`roadseg.cli.training`). Thin: parse, build a config, call the library."""

from __future__ import annotations

import math
import sys
from shlex import quote

import click

from roadseg.cli.common import (
    RegularFile,
    check_model_output,
    fail,
    handle_errors,
    needs_train_extra,
    staged,
    untouched,
)
from roadseg.cli.values import Finite, size_option
from roadseg.errors import Interrupted
from roadseg.export import LOGIT_ADJUST
from roadseg.export.quantize import CALIBRATION_METHODS  # numpy only at import: the runtime CLI loads it


@click.command("export")
@click.argument("checkpoint", type=RegularFile())
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The .onnx file to write.")
@click.option("--input-size", callback=size_option, help="Working size HxW written into the metadata [default: the size the checkpoint was "
                                    "trained at (train --size); 360x480 for one that records none].")
@click.option("--classes", metavar="NAME,NAME,...",
              help="Names of the network's classes in the order of its scores, for a checkpoint that does not record "
                   "them (the legend, --stats and the live view name them) [default: the checkpoint's, which train "
                   "records (its data's classes.txt, or CamVid's); CamVid's for one that records none].")
@click.option("--palette", metavar="RRGGBB,...", help="A colour (hex) for each class, in order [default: the "
              "checkpoint's; CamVid's for CamVid's classes; else one of its own for each].")
@click.option("--fp16-weights", is_flag=True, help="Store weights as float16 (half the file; compute stays fp32).")
@click.option("--half", is_flag=True, help="Compute in float16: the variant for GPUs (parity is checked against fp32 at 99.5 %).")
@click.option("--verify-images", type=click.Path(exists=True, file_okay=False),
              help="Folder of RGB images to verify parity on (default: random frames).")
@click.option("-y", "--overwrite", is_flag=True, help="Replace the output if it exists.")
@handle_errors
def export_cmd(checkpoint, output, input_size, classes, palette, fp16_weights, half, verify_images, overwrite) -> None:
    """Export a training checkpoint to the roadseg ONNX contract, then verify it.

    Verification runs onnx.checker and compares onnxruntime's labels with PyTorch's at a shape that
    was not traced; below 99.9% agreement the command fails and writes nothing.
    """
    try:
        from roadseg.export import verify
        from roadseg.export.onnx import export_onnx
        from roadseg.export.release import training_metadata
        from roadseg.export.verify import ExportCheckError, parity_line, verify_parity
        from roadseg.train.checkpoint import trained_size
        from roadseg.train.weights import load_checkpoint
    except ImportError as exc:
        needs_train_extra("export", exc)
    from pathlib import Path

    from roadseg.contract import parse_palette
    from roadseg.data.classset import from_state

    check_model_output(output, [checkpoint], overwrite, ".onnx")
    try:
        colours = parse_palette(palette) if palette else None
    except ValueError as exc:
        fail(f"--palette: {exc}")
    names = [c.strip() for c in classes.split(",")] if classes else None
    net, state = load_checkpoint(checkpoint)  # a file that is not one: ModelError, one line
    if state.get("classes"):  # (train records them: its data's)
        recorded = from_state(state)
        if names is not None and tuple(names) != recorded.names:
            fail(f"{checkpoint} records its classes ({', '.join(recorded.names)}): leave --classes out")
        names, colours = list(recorded.names), colours or [list(c) for c in recorded.palette]
    meta = training_metadata(state) if state.get("config") or state.get("soup") else {}
    frames = _verify_frames(verify_images) if verify_images else None  # (read before the file is written)
    try:
        with staged(output) as part:  # (the output is replaced only by a verified export)
            export_onnx(net, part, input_size=input_size or trained_size(state), classes=names, palette=colours, metadata=meta,
                        fp16_weights=fp16_weights, half=half)  # fmt: skip
            report = verify_parity(net, part, frames=frames,
                                   min_agreement=verify.HALF_MIN_AGREEMENT if half else verify.MIN_AGREEMENT)
    except ExportCheckError as exc:
        fail(f"{exc} (the export was removed; {output} is not written)")
    click.echo(f"wrote {output} ({Path(output).stat().st_size / 1e6:.1f} MB)")
    click.echo(parity_line(report))


def _verify_frames(folder: str):
    from pathlib import Path

    from roadseg.data.camvid import read_rgb
    from roadseg.export.verify import untraced_batch

    paths = sorted(Path(folder).glob("*.png"))[:4] + sorted(Path(folder).glob("*.jpg"))[:4]
    if not paths:
        fail(f"no .png or .jpg images in {folder}")
    try:
        return untraced_batch([read_rgb(p) for p in paths[:4]])
    except ValueError as exc:  # (an image that does not decode)
        fail(f"--verify-images: {exc}")


@click.command("eval")
@click.argument("model", type=click.Path())
@click.option("--data", required=True, type=click.Path(),
              help="CamVid folder (SegNet or fastai layout), or one of your own classes: SegNet's layout with a "
                   "classes.txt (one class a line; MODEL must score those classes).")
@click.option("--split", type=click.Choice(["train", "val", "test"]),
              help="The split to score [default: val; train with --holdout].")
@click.option("--holdout", multiple=True, metavar="SEQ[:FRACTION]",
              help="Score only the frames of the split that train's --holdout holds out (a run's check), e.g. "
                   "--holdout 0006R0 --holdout 0001TP:0.33.")
@click.option("--size", callback=size_option, help="Working size HxW [default: about the model's input_size in pixels at each frame's aspect, "
                             "as segment-video runs it; for a checkpoint, the size it was trained at (train --size)].")
@click.option("--device", default="cpu", show_default=True, type=click.Choice(["auto", "cpu", "cuda"]),
              help="onnxruntime provider for an .onnx MODEL, PyTorch device for a .pt checkpoint; auto = cuda where "
                   "there is one.")
@click.option("--limit", type=click.IntRange(min=1), metavar="N",
              help="Score N of the split's frames, spread evenly over it (first and last included): of val, the "
                   "frames train --val-limit N scores.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (per-class IoU, mIoU, confusion matrix).")
@click.option("--tta", is_flag=True, help="Score the model as segment-video --tta runs it (mirror-image averaging; .onnx only).")
@click.option("--logit-adjust", default=0.0, show_default=True, type=Finite(min=0), metavar="A",
              help="Score a checkpoint as release --logit-adjust A would ship it (.pt only), e.g. to choose A on a check run.")
@handle_errors
def eval_cmd(model, data, split, holdout, size, device, limit, as_json, tta, logit_adjust) -> None:
    """Score MODEL (.onnx, or a .pt checkpoint) on a split of --data: per-class IoU, mIoU, pixel accuracy.

    mIoU is the mean over the data's classes (CamVid's 11, or its classes.txt's); void pixels are ignored.
    """
    import json

    from roadseg.train.evaluate import evaluate_model, format_table

    split = split or ("train" if holdout else "val")
    try:
        result = evaluate_model(model, data, split, size=size, device=device, limit=limit,
                                holdout=tuple(holdout), tta=tta, logit_adjust=logit_adjust,
                                progress=sys.stderr.isatty())  # fmt: skip
    except (FileNotFoundError, ValueError, RuntimeError) as exc:  # (RuntimeError: --device cuda without one)
        fail(str(exc))
    except ImportError as exc:
        needs_train_extra("scoring a checkpoint", exc)
    click.echo(json.dumps(result) if as_json else format_table(result))
    if limit is not None and limit > result["images"]:  # (on stderr: --json's output stays JSON)
        click.echo(f"--limit {limit}: {result['split']} has {result['images']} frames; all scored", err=True)


@click.command("quantize")
@click.argument("model", type=RegularFile())
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The INT8 .onnx file to write.")
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False), help="CamVid folder, or one of your own classes (a classes.txt): calibration frames come from its train split, "
                   "at the model's input_size.")
@click.option("--frames", "count", default=64, show_default=True, type=click.IntRange(min=1), help="Number of calibration frames.")
@click.option("--method", default=CALIBRATION_METHODS[0], show_default=True, type=click.Choice(CALIBRATION_METHODS),
              help="How activation ranges are set; the input's pixels keep 0..255 under every method.")
@click.option("--holdout", multiple=True, metavar="SEQ[:FRACTION]",
              help="Calibrate only on frames outside train's --holdout, so that the run's check stays unseen.")
@click.option("-y", "--overwrite", is_flag=True, help="Replace the output if it exists.")
@handle_errors
def quantize_cmd(model, output, data, count, method, holdout, overwrite) -> None:
    """Static INT8 (QDQ, per-channel) copy of an fp32 contract MODEL, calibrated on train frames of --data."""
    from pathlib import Path

    from roadseg.data.classset import read_classes
    from roadseg.errors import ModelError
    from roadseg.export.quantize import calibration_source, cannot_quantize, load_calibration_frames, quantize_int8
    from roadseg.pipeline.session import OnnxSegmenter

    try:
        import onnx  # noqa: F401 - what reads the graph, and onnxruntime's quantizer, need (a runtime-only install lacks)
    except ImportError as exc:
        needs_train_extra("quantize", exc)
    check_model_output(output, [model], overwrite, ".onnx")
    if (why := cannot_quantize(model)) is not None:  # (a file that is not ONNX: one line)
        fail(f"cannot quantize {model}: {why}")
    checked = OnnxSegmenter(model, providers="cpu")  # a file that is not a contract model: one line, before any work
    classes, size = checked.classes, tuple(checked.metadata["input_size"])
    try:
        frames = load_calibration_frames(data, count, holdout=tuple(holdout), size=size)
        source = calibration_source(data)
        scored = tuple(classes) == read_classes(data).names  # (eval scores a model of the data's classes alone)
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    try:
        with staged(output) as part:  # (the output is replaced only by a file that obeys the contract)
            quantize_int8(model, part, frames, method=method, source=source)
            OnnxSegmenter(part, providers="cpu")
    except ValueError as exc:  # onnxruntime's calibrator on a graph it cannot quantize
        fail(f"cannot quantize {model}: {exc}")
    except ModelError as exc:
        fail(f"quantized model breaks the contract: {exc}")
    path = Path(output)
    score = (f"; score it with: roadseg eval {quote(str(path))} --data {quote(data)}"
             + "".join(f" --holdout {quote(h)}" for h in holdout) if scored else "")  # (quoted: pasted into a shell)
    click.echo(f"wrote {path} ({Path(path).stat().st_size / 1e6:.1f} MB){score}")


@click.command("release")
@click.argument("checkpoint", type=RegularFile())
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False),
              help="CamVid folder, or the folder of the checkpoint's own classes (classes.txt): the files are then "
                   "named for it, unet-r34-FOLDER.onnx and unet-r34-FOLDER-int8.onnx.")
@click.option("--out", default="models", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the two model files (moved in together once both are built and scored) and eval.json.")
@click.option("--calib-frames", default=64, show_default=True, type=click.IntRange(min=1), help="INT8 calibration frames (train split).")
@click.option("--calib-method", default=CALIBRATION_METHODS[0], show_default=True,
              type=click.Choice(CALIBRATION_METHODS), help="INT8 calibration method (as quantize --method).")
@click.option("--check", type=RegularFile(),
              help="The same recipe's run with footage held out (its best.pt): scored on that footage, fp32 and INT8.")
@click.option("--logit-adjust", default=LOGIT_ADJUST, show_default=True, type=Finite(min=0), metavar="A",
              help="Take back part of the median-frequency class weighting: add -A x log(weight) to each class's "
                   "scores, folded into the head (0 = off; chosen on a check run).")
@click.option("-y", "--overwrite", is_flag=True, help="Replace the model files and eval.json in --out if they exist.")
@handle_errors
def release_cmd(checkpoint, data, out, calib_frames, calib_method, check, logit_adjust, overwrite) -> None:
    """Build the shipped models from CHECKPOINT: fp16-stored fp32 + INT8, verified and scored on val.

    CHECKPOINT is a run's .pt, or a released fp32 .onnx (rebuilt without its own logit adjustment, its
    recipe kept): a re-release of the same network. It takes minutes: a line on stderr as each step begins,
    and on a terminal a bar of the frames while a file is scored.
    """
    from pathlib import Path

    try:
        from roadseg.export.release import REPORT_NAME, release
    except ImportError as exc:
        needs_train_extra("release", exc)
    try:  # (files in --out without -y: refused by release before any work, an OutputError's one line)
        report = release(checkpoint, data, out, calib_frames=calib_frames, calib_method=calib_method, check=check,
                         logit_adjust=logit_adjust, overwrite=overwrite, progress=True)  # fmt: skip
    except (RuntimeError, ValueError, FileNotFoundError) as exc:
        fail(str(exc))
    for name, scores in report.items():  # (the files' entries: the others are parity checks and the check run)
        if isinstance(scores, dict) and "megabytes" in scores:
            click.echo(f"wrote {Path(out) / name}: {scores['megabytes']} MB, val mIoU {100 * scores['miou']:.2f} "
                       f"({scores['images']} frames)")  # fmt: skip
    click.echo(f"per-class IoU, parity and check scores: {Path(out) / REPORT_NAME}")


@click.command("soup")
@click.argument("models", nargs=-1, required=True, type=RegularFile())
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The checkpoint (.pt) to write.")
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False),
              help="CamVid folder: 8 train frames set the BatchNorm statistics of the rebuilt net.")
@click.option("--weight", "weights", multiple=True, type=Finite(min=0),
              help="One per model, in order (normalised to sum to 1) [default: equal].")
@click.option("-y", "--overwrite", is_flag=True, help="Replace the output if it exists.")
@handle_errors
def soup_cmd(models, output, data, weights, overwrite) -> None:
    """Average exported fp32 MODELS of one network (fine-tunes of one release) into a checkpoint: a model soup.

    Every conv, its BatchNorm folded in, becomes the weighted mean of that conv in the MODELS. The
    checkpoint records its ingredients; score it with eval, ship it with release.
    """
    try:
        from roadseg.data.camvid import CamVid
        from roadseg.train.weights import calibration_indices, soup_checkpoint
    except ImportError as exc:
        needs_train_extra("soup", exc)
    if weights and len(weights) != len(models):
        raise click.BadParameter(f"{len(models)} models need {len(models)} weights, got {len(weights)}",
                                 param_hint="--weight")  # fmt: skip
    if weights and not math.isfinite(sum(weights)):  # (1e308 twice: normalised by an infinite sum, every weight 0)
        raise click.BadParameter(f"{' + '.join(f'{w:g}' for w in weights)} has no finite sum to normalise them by: "
                                 "give them on a smaller scale (1 2, not 1e308 2e308)", param_hint="--weight")  # fmt: skip
    check_model_output(output, models, overwrite, ".pt")
    try:
        ds = CamVid(data, "train")
        images = [ds[i][0] for i in calibration_indices(len(ds))]  # the 8 frames the BNs are calibrated on
        path = soup_checkpoint(list(models), list(weights) or None, images, output)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:  # (RuntimeError: the checkpoint not written)
        fail(str(exc))
    except KeyboardInterrupt as exc:
        raise Interrupted.of(exc, untouched(output)) from None
    click.echo(f"wrote {path} from {len(models)} models; score it with: roadseg eval {quote(str(path))} --data {quote(data)}")


