"""The model-side commands of ``roadseg``: train, export, soup, quantize, release, eval, pack-data.
Thin: parse, build a config, call the library."""

from __future__ import annotations

import os

import click

from roadseg.cli.common import Finite, check_model_output, fail, handle_errors, parse_size, staged
from roadseg.export import LOGIT_ADJUST
from roadseg.export.quantize import CALIBRATION_METHODS  # numpy only at import: the runtime CLI loads it


@click.command()
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False), help="CamVid folder (SegNet or fastai layout).")
@click.option("--out", help="Run folder: checkpoints and logs [default: runs/unet-r34; with --resume, the folder of the "
                            "last.pt resumed].")
@click.option("--epochs", type=click.IntRange(min=1), help="Length of the run in epochs [default: 150].")
@click.option("--minutes", type=Finite(min=0, min_open=True),
              help="Length of the run in minutes of wall time instead of epochs: the learning rate and the "
                   "--phase shares follow the clock, so the whole schedule fits the time on any machine "
                   "(a lent GPU of unknown speed). Evaluations count; loading the data does not.")
@click.option("--batch-size", default=8, show_default=True, type=click.IntRange(min=1), help="Crops per optimizer step.")
@click.option("--crop", default="256x256", show_default=True, help="Training crop HxW.")
@click.option("--scale", default=(0.5, 1.5), nargs=2, type=Finite(min=0, min_open=True), show_default=True, help="Random scale range.")
@click.option("--phase", "phases", multiple=True, metavar="EPOCHS:RES:HxW",
              help="Progressive resizing, repeatable, in order: EPOCHS epochs with frames scaled by RES and HxW "
                   "crops (e.g. --phase 300:0.5:176x240 --phase 100:1:352x480); the last runs to --epochs. "
                   "With --minutes the EPOCHS are shares of the time (3 and 1: the first three quarters).")
@click.option("--jitter", default=0.3, show_default=True, type=Finite(min=0), help="Brightness/contrast/saturation/hue jitter strength.")
@click.option("--gamma", default=0.0, show_default=True, type=Finite(min=0), help="Random gamma in [1/(1+G), 1+G] (dusk, glare).")
@click.option("--colour-cast", default=0.0, show_default=True, type=Finite(0, 1, max_open=True), help="Per-channel gain in [1-C, 1+C] (white balance).")
@click.option("--blur", default=0.0, show_default=True, type=Finite(0, 1), help="Probability of a Gaussian blur (sigma 0.3-1.5 px).")
@click.option("--noise", default=0.0, show_default=True, type=Finite(0, 1), help="Probability of Gaussian noise (sigma 2-10 levels).")
@click.option("--paste", default=0.0, show_default=True, type=Finite(0, 1),
              help="Probability of pasting another frame's poles, signs, fences, cars, pedestrians and bicyclists "
                   "onto a frame (copy-paste).")
@click.option("--ema", default=0.0, show_default=True, type=Finite(0, 1, max_open=True), help="EMA decay of the weights (0 = off); the EMA is what is scored and saved.")
@click.option("--decoder-channels", metavar="C1,C2,...",
              help="Decoder widths, deepest first: 4 blocks (head at stride 2) or 5 (head at full resolution) "
                   "[default: the shipped model's].")
@click.option("--stem-padding", type=click.Choice(["replicate", "zeros"]),
              help="Padding of the first conv; replicate lets the export fold normalisation into it "
                   "[default: the shipped model's].")
@click.option("--train-splits", default="train", show_default=True, help="Splits to train on, comma-separated (train,val: a final fit).")
@click.option("--holdout", multiple=True, metavar="SEQ[:FRACTION]",
              help="Hold a sequence (or its last FRACTION) out of training and score it as the check, e.g. "
                   "--holdout 0006R0 --holdout 0001TP:0.33.")
@click.option("--select", type=click.Choice(["auto", "check", "val", "last"]), default="auto", show_default=True,
              help="What best.pt is chosen by; auto = the check if there is a holdout, else val.")
@click.option("--lr", default=2e-3, show_default=True, type=Finite(min=0, min_open=True), help="Peak learning rate (AdamW).")
@click.option("--weight-decay", default=1e-2, show_default=True, type=Finite(min=0), help="AdamW's decoupled weight decay.")
@click.option("--schedule", type=click.Choice(["onecycle", "cosine"]), default="onecycle", show_default=True,
              help="Learning-rate schedule over the run: one-cycle (10 % warm-up to --lr, then down) or cosine "
                   "annealing from --lr.")
@click.option("--class-weights", type=click.Choice(["median-freq", "none"]), default="median-freq", show_default=True,
              help="Cross-entropy class weights: median-freq (SegNet's balancing: rare classes weigh more) or none.")
@click.option("--lovasz", default=0.0, show_default=True, type=Finite(min=0), metavar="W",
              help="Add W times a Lovász-softmax term (a smooth 1 - mIoU) to the cross-entropy; 0 = off.")
@click.option("--amp", type=click.Choice(["auto", "on", "off"]), default="auto", show_default=True,
              help="bf16 autocast: auto = on CUDA and on CPUs with native bf16.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="Where PyTorch trains: auto = cuda where torch sees a GPU, else cpu.")
@click.option("--encoder-weights", default="none", show_default=True, help="imagenet | PATH | none. PATH: a torchvision-named ResNet34 state dict, or an exported roadseg "
                   "fp32 .onnx model whose encoder starts the run (a new decoder on a released encoder).")
@click.option("--init", default="none", show_default=True, metavar="PATH|none",
              help="Start the whole network from an exported roadseg fp32 .onnx model or a checkpoint (.pt), "
                   "e.g. to fine-tune or final-fit the shipped model; its architecture is the run's.")
@click.option("--eval-every", default=1, show_default=True, type=click.IntRange(min=1), help="Evaluate (val and check) every N epochs.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=0), help="DataLoader worker processes.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the weights' initialisation, the frames' order, the crops and the augmentation.")
@click.option("--max-steps", default=None, type=click.IntRange(min=1), help="Cap steps per epoch (smoke runs).")
@click.option("--resume", type=click.Path(exists=True, dir_okay=False),
              help="Continue from a run's last.pt exactly: its saved recipe goes on; --data, --device, --workers, "
                   "--out are this machine's, and --epochs (or --minutes) where given: without, the run's own.")
@click.option("-y", "--overwrite", is_flag=True,
              help="Start afresh in an --out that holds another run: its checkpoints and logs are removed first.")
@handle_errors
def train(resume, overwrite, crop, phases, decoder_channels, stem_padding, train_splits, holdout, epochs, minutes,
          **opts) -> None:  # fmt: skip
    """Train U-Net-ResNet34 on CamVid; keeps last.pt, best.pt (by check or val mIoU) and log.csv in --out."""
    if epochs is not None and minutes is not None:
        raise click.UsageError("a run lasts --epochs or --minutes, not both")
    try:
        from roadseg.train.loop import TrainConfig
        from roadseg.train.loop import train as run_training
    except ImportError as exc:
        fail(f"training needs the train extra (pip install 'roadseg[train]'): {exc}")
    if opts["init"] != "none" and not os.path.isfile(opts["init"]):
        raise click.BadParameter(f"{opts['init']!r} is not a file (an exported fp32 .onnx or a .pt)", param_hint="--init")
    model: dict = {} if stem_padding is None else {"stem_padding": stem_padding}
    if decoder_channels is not None:
        try:
            model["decoder_channels"] = tuple(int(c) for c in decoder_channels.split(","))
        except ValueError:
            model["decoder_channels"] = (0,)
        if min(model["decoder_channels"]) < 1:
            raise click.BadParameter(f"{decoder_channels!r} is not a list of widths, e.g. 128,64,48,32",
                                     param_hint="--decoder-channels")  # fmt: skip
    if opts["scale"][0] > opts["scale"][1]:
        raise click.BadParameter(f"{opts['scale'][0]:g} {opts['scale'][1]:g}: the smaller scale comes first",
                                 param_hint="--scale")  # fmt: skip
    if opts["out"] is None:  # (a resumed run goes on in its own folder unless told otherwise)
        opts["out"] = (os.path.dirname(resume) or ".") if resume else "runs/unet-r34"
    cfg = TrainConfig(crop=parse_size(crop), phases=tuple(_phase(p) for p in phases), holdout=tuple(holdout),
                      train_splits=tuple(s.strip() for s in train_splits.split(",")), model=model,
                      epochs=epochs or 150, minutes=minutes or 0.0, **opts)  # fmt: skip
    try:
        result = run_training(cfg, resume=resume, overwrite=overwrite,
                              same_length=epochs is None and minutes is None)  # fmt: skip
    except (RuntimeError, FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    best = "-" if result["best_miou"] is None else f"{100 * result['best_miou']:.2f} mIoU"
    click.echo(f"best {best} at epoch {result['best_epoch']}")


def _phase(value: str) -> tuple[int, float, int, int]:
    """``EPOCHS:RES:HxW`` -> (epochs, resolution, crop_h, crop_w)."""
    try:
        epochs, res, crop = value.split(":")
        h, w = parse_size(crop)
        if int(epochs) < 1 or not 0 < float(res) < 100:
            raise ValueError
        return int(epochs), float(res), h, w
    except (ValueError, TypeError, click.BadParameter):
        raise click.BadParameter(f"{value!r} is not EPOCHS:RES:HxW (EPOCHS 1 or more, RES above 0), e.g. "
                                 "300:0.5:176x240", param_hint="--phase") from None  # fmt: skip


@click.command("export")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The .onnx file to write.")
@click.option("--input-size", default="360x480", show_default=True, help="Working size HxW written into the metadata.")
@click.option("--fp16-weights", is_flag=True, help="Store weights as float16 (half the file; compute stays fp32).")
@click.option("--half", is_flag=True, help="Compute in float16: the variant for GPUs (parity is checked against fp32 at 99.5 %).")
@click.option("--verify-images", type=click.Path(exists=True, file_okay=False),
              help="Folder of RGB images to verify parity on (default: random frames).")
@click.option("-y", "--overwrite", is_flag=True, help="Replace the output if it exists.")
@handle_errors
def export_cmd(checkpoint, output, input_size, fp16_weights, half, verify_images, overwrite) -> None:
    """Export a training checkpoint to the roadseg ONNX contract, then verify it.

    Verification runs onnx.checker and compares onnxruntime's labels with PyTorch's at a shape that
    was not traced; below 99.9% agreement the command fails and writes nothing.
    """
    try:
        from roadseg.export import verify
        from roadseg.export.onnx import export_onnx
        from roadseg.export.release import training_metadata
        from roadseg.export.verify import ExportCheckError, verify_parity
        from roadseg.train.weights import load_checkpoint
    except ImportError as exc:
        fail(f"export needs the train extra (pip install 'roadseg[train]'): {exc}")
    import json
    from pathlib import Path

    check_model_output(output, [checkpoint], overwrite, ".onnx")
    net, state = load_checkpoint(checkpoint)  # a file that is not one: ModelError, one line
    meta = training_metadata(state) if state.get("config") or state.get("soup") else {}
    frames = _verify_frames(verify_images) if verify_images else None  # (read before the file is written)
    try:
        with staged(output) as part:  # (the output is replaced only by a verified export)
            export_onnx(net, part, input_size=parse_size(input_size), metadata=meta, fp16_weights=fp16_weights,
                        half=half)  # fmt: skip
            report = verify_parity(net, part, frames=frames,
                                   min_agreement=verify.HALF_MIN_AGREEMENT if half else verify.MIN_AGREEMENT)
    except ExportCheckError as exc:
        fail(f"{exc} (the export was removed; {output} is not written)")
    path = Path(output)
    size_mb = Path(path).stat().st_size / 1e6
    click.echo(f"wrote {path} ({size_mb:.1f} MB); parity {json.dumps(report)}")


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
@click.option("--data", required=True, type=click.Path(), help="CamVid folder (SegNet or fastai layout).")
@click.option("--split", type=click.Choice(["train", "val", "test"]),
              help="The split to score [default: val; train with --holdout].")
@click.option("--holdout", multiple=True, metavar="SEQ[:FRACTION]",
              help="Score only the frames of the split that train's --holdout holds out (a run's check), e.g. "
                   "--holdout 0006R0 --holdout 0001TP:0.33.")
@click.option("--size", help="Working size HxW [default: the model's input_size; native for checkpoints].")
@click.option("--device", default="cpu", show_default=True, type=click.Choice(["auto", "cpu", "cuda"]),
              help="onnxruntime provider for an .onnx MODEL, PyTorch device for a .pt checkpoint; auto = cuda where "
                   "there is one.")
@click.option("--limit", type=click.IntRange(min=1), help="Score only the first N images.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (per-class IoU, mIoU, confusion matrix).")
@click.option("--tta", is_flag=True, help="Score the model as segment-video --tta runs it (mirror-image averaging; .onnx only).")
@click.option("--logit-adjust", default=0.0, show_default=True, type=Finite(min=0), metavar="A",
              help="Score a checkpoint as release --logit-adjust A would ship it (.pt only), e.g. to choose A on a check run.")
@handle_errors
def eval_cmd(model, data, split, holdout, size, device, limit, as_json, tta, logit_adjust) -> None:
    """Score MODEL (.onnx, or a .pt checkpoint) on a CamVid split: per-class IoU, mIoU, pixel accuracy.

    mIoU is the mean over the 11 classes; void pixels are ignored.
    """
    import json

    from roadseg.train.evaluate import evaluate_model, format_table

    split = split or ("train" if holdout else "val")
    try:
        result = evaluate_model(model, data, split, size=parse_size(size), device=device, limit=limit,
                                holdout=tuple(holdout), tta=tta, logit_adjust=logit_adjust)  # fmt: skip
    except (FileNotFoundError, ValueError, RuntimeError) as exc:  # (RuntimeError: --device cuda without one)
        fail(str(exc))
    except ImportError as exc:
        fail(f"scoring a checkpoint needs the train extra (pip install 'roadseg[train]'): {exc}")
    click.echo(json.dumps(result) if as_json else format_table(result))


@click.command("quantize")
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The INT8 .onnx file to write.")
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False), help="CamVid folder: calibration frames come from its train split.")
@click.option("--frames", "count", default=64, show_default=True, type=click.IntRange(min=1), help="Number of calibration frames.")
@click.option("--method", default=CALIBRATION_METHODS[0], show_default=True, type=click.Choice(CALIBRATION_METHODS),
              help="How activation ranges are set; the input's pixels keep 0..255 under every method.")
@click.option("--holdout", multiple=True, metavar="SEQ[:FRACTION]",
              help="Calibrate only on frames outside train's --holdout, so that the run's check stays unseen.")
@click.option("-y", "--overwrite", is_flag=True, help="Replace the output if it exists.")
@handle_errors
def quantize_cmd(model, output, data, count, method, holdout, overwrite) -> None:
    """Static INT8 (QDQ, per-channel) copy of an fp32 contract MODEL, calibrated on CamVid train frames."""
    from pathlib import Path

    from roadseg.errors import ModelError
    from roadseg.export.quantize import cannot_quantize, load_calibration_frames, quantize_int8
    from roadseg.pipeline.session import OnnxSegmenter

    check_model_output(output, [model], overwrite, ".onnx")
    if (why := cannot_quantize(model)) is not None:  # (a file that is not ONNX: one line)
        fail(f"cannot quantize {model}: {why}")
    OnnxSegmenter(model, providers="cpu")  # a file that is not a contract model: one line, before any work
    try:
        frames = load_calibration_frames(data, count, holdout=tuple(holdout))
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    try:
        with staged(output) as part:  # (the output is replaced only by a file that obeys the contract)
            quantize_int8(model, part, frames, method=method)
            OnnxSegmenter(part, providers="cpu")
    except ValueError as exc:  # onnxruntime's calibrator on a graph it cannot quantize
        fail(f"cannot quantize {model}: {exc}")
    except ModelError as exc:
        fail(f"quantized model breaks the contract: {exc}")
    path = Path(output)
    click.echo(f"wrote {path} ({Path(path).stat().st_size / 1e6:.1f} MB); score it with: roadseg eval {path} --data {data}"
               + "".join(f" --holdout {h}" for h in holdout))


@click.command("release")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False), help="CamVid folder.")
@click.option("--out", default="models", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the two model files (moved in together once both are built and scored) and eval.json.")
@click.option("--calib-frames", default=64, show_default=True, type=click.IntRange(min=1), help="INT8 calibration frames (train split).")
@click.option("--calib-method", default=CALIBRATION_METHODS[0], show_default=True,
              type=click.Choice(CALIBRATION_METHODS), help="INT8 calibration method (as quantize --method).")
@click.option("--check", type=click.Path(exists=True, dir_okay=False),
              help="The same recipe's run with footage held out (its best.pt): scored on that footage, fp32 and INT8.")
@click.option("--logit-adjust", default=LOGIT_ADJUST, show_default=True, type=Finite(min=0), metavar="A",
              help="Take back part of the median-frequency class weighting: add -A x log(weight) to each class's "
                   "scores, folded into the head (0 = off; chosen on a check run).")
@handle_errors
def release_cmd(checkpoint, data, out, calib_frames, calib_method, check, logit_adjust) -> None:
    """Build the shipped models from CHECKPOINT: fp16-stored fp32 + INT8, verified and scored on val.

    CHECKPOINT is a run's .pt, or a released fp32 .onnx (rebuilt without its own logit adjustment, its
    recipe kept): a re-release of the same network.
    """
    import json

    try:
        from roadseg.export.release import release
    except ImportError as exc:
        fail(f"release needs the train extra (pip install 'roadseg[train]'): {exc}")
    try:
        report = release(checkpoint, data, out, calib_frames=calib_frames, calib_method=calib_method, check=check,
                         logit_adjust=logit_adjust)  # fmt: skip
    except (RuntimeError, ValueError, FileNotFoundError) as exc:
        fail(str(exc))
    click.echo(json.dumps(report, indent=2))


@click.command("soup")
@click.argument("models", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
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
        fail(f"soup needs the train extra (pip install 'roadseg[train]'): {exc}")
    if weights and len(weights) != len(models):
        raise click.BadParameter(f"{len(models)} models need {len(models)} weights, got {len(weights)}",
                                 param_hint="--weight")  # fmt: skip
    check_model_output(output, models, overwrite, ".pt")
    try:
        ds = CamVid(data, "train")
        images = [ds[i][0] for i in calibration_indices(len(ds))]  # the 8 frames the BNs are calibrated on
        path = soup_checkpoint(list(models), list(weights) or None, images, output)
    except (ValueError, FileNotFoundError) as exc:
        fail(str(exc))
    click.echo(f"wrote {path} from {len(models)} models; score it with: roadseg eval {path} --data {data}")


@click.command("pack-data")
@click.argument("src", type=click.Path(exists=True, file_okay=False))
@click.argument("dst", type=click.Path(file_okay=False))
@click.option("--quality", default=95, show_default=True, type=click.IntRange(1, 100), help="JPEG quality of the images.")
@handle_errors
def pack_data_cmd(src, dst, quality) -> None:
    """Copy CamVid train+val with JPEG images (labels stay PNG), small enough to carry to a GPU box."""
    from roadseg.data.camvid import pack

    try:
        n = pack(src, dst, quality=quality)
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    click.echo(f"packed {n} images into {dst}")
