"""The training commands of ``roadseg``: train (a run on CamVid or a folder of its own classes) and pack-data (CamVid small enough to carry
to a GPU box). Thin: parse, build a config, call the library."""

from __future__ import annotations

import functools
import os

import click
from click.core import ParameterSource

from roadseg.cli.common import RegularFile, fail, handle_errors, needs_train_extra
from roadseg.cli.values import Finite, parse_size, size_option
from roadseg.train.config import MAX_SCALE, MAX_SIDE, MAX_WIDTH, usable_workers


@click.command()
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False),
              help="CamVid folder (SegNet or fastai layout), or one of your own classes: SegNet's layout (train/, "
                   "trainannot/, val/, valannot/) with a classes.txt, one class a line (NAME [#RRGGBB]), label value "
                   "= line index, 255 = void; the checkpoints record the classes and their colours.")
@click.option("--out", type=click.Path(file_okay=False),
              help="Run folder: checkpoints and logs [default: runs/unet-r34; with --resume, the folder of the last.pt "
                   "resumed].")
@click.option("--epochs", type=click.IntRange(min=1), help="Length of the run in epochs [default: 150].")
@click.option("--minutes", type=Finite(min=0, min_open=True),
              help="Length of the run in minutes of wall time instead of epochs: the learning rate and the "
                   "--phase shares follow the clock, so the whole schedule fits the time on any machine "
                   "(a lent GPU of unknown speed). Evaluations count; loading the data does not.")
@click.option("--batch-size", default=8, show_default=True, type=click.IntRange(min=1),
              help="Crops per optimizer step: at most the training frames. A step that clearly needs more memory "
                   "than is free (about 1250 bytes a pixel of the batch's crops in fp32, 650 in bf16, at the shipped "
                   "decoder) is refused before any frame is read, one that needs most of it is warned of.")
@click.option("--size", default="360x480", show_default=True, callback=size_option,
              help="HxW every frame (and label map) is read at before augmentation; CamVid's is the default. Give your "
                   "footage's own aspect, e.g. 360x640 for 16:9: export and release write it as the model's input_size, "
                   "which segment-video's working size follows. --crop and each --phase's crop must fit it. Each "
                   f"side at most {MAX_SIDE}.")
@click.option("--crop", default="256x256", show_default=True, callback=size_option, help="Training crop HxW (at most --size).")
@click.option("--scale", default=(0.5, 1.5), nargs=2, type=Finite(0, MAX_SCALE, min_open=True), show_default=True,
              help="Random scale range LOW HIGH of the frames (after a --phase's RES).")
@click.option("--phase", "phases", multiple=True, metavar="EPOCHS:RES:HxW",
              help="Progressive resizing, repeatable, in order: EPOCHS epochs with frames scaled by RES and HxW "
                   "crops (e.g. --phase 300:0.5:176x240 --phase 100:1:352x480); the last runs to --epochs. "
                   "With --minutes the EPOCHS are shares of the time (3 and 1: the first three quarters). EPOCHS 1 "
                   f"or more; RES above 0 and at most {MAX_SCALE}.")
@click.option("--jitter", default=0.3, show_default=True, type=Finite(min=0), help="Brightness/contrast/saturation/hue jitter strength.")
@click.option("--gamma", default=0.0, show_default=True, type=Finite(min=0), help="Random gamma in [1/(1+G), 1+G] (dusk, glare).")
@click.option("--colour-cast", default=0.0, show_default=True, type=Finite(0, 1, max_open=True), help="Per-channel gain in [1-C, 1+C] (white balance).")
@click.option("--blur", default=0.0, show_default=True, type=Finite(0, 1), help="Probability of a Gaussian blur (sigma 0.3-1.5 px).")
@click.option("--noise", default=0.0, show_default=True, type=Finite(0, 1), help="Probability of Gaussian noise (sigma 2-10 levels).")
@click.option("--paste", default=0.0, show_default=True, type=Finite(0, 1),
              help="Probability of pasting another frame's poles, signs, fences, cars, pedestrians and bicyclists "
                   "onto a frame (copy-paste); CamVid's classes only (refused with a classes.txt).")
@click.option("--ema", default=0.0, show_default=True, type=Finite(0, 1, max_open=True), help="EMA decay of the weights (0 = off); the EMA is what is scored and saved.")
@click.option("--decoder-channels", metavar="C1,C2,...", callback=lambda c, p, v: _widths(v),
              help=f"Decoder widths, deepest first, each from 1 to {MAX_WIDTH}: 4 blocks (head at stride 2) or 5 (head at "
                   "full resolution) [default: the shipped model's].")
@click.option("--stem-padding", type=click.Choice(["replicate", "zeros"]),
              help="Padding of the first conv; replicate lets the export fold normalisation into it "
                   "[default: the shipped model's].")
@click.option("--train-splits", default="train", show_default=True, help="Splits to train on, comma-separated (train,val: a final fit).")
@click.option("--holdout", multiple=True, metavar="SEQ[:FRACTION]",
              help="Hold a sequence (frames whose names agree up to their first '_') or its last FRACTION out of "
                   "training and score it as the check, e.g. "
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
                   "e.g. to fine-tune or final-fit the shipped model; its architecture is the run's (another "
                   "--decoder-channels or --stem-padding is refused).")
@click.option("--eval-every", default=1, show_default=True, type=click.IntRange(min=1),
              help="Score val and the check every N epochs, and at the run's last.")
@click.option("--val-limit", type=click.IntRange(min=1), metavar="N",
              help="Score val on N of its frames, spread evenly over it (first and last included), the same N "
                   "every epoch so that the epochs compare [default: all; CamVid's 101 take about 1 s each on 2 "
                   "CPU cores]. The log's val_subset column, the console, the curve and best.pt say it was a "
                   "subset; the check (--holdout) is scored whole.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=0),
              help="DataLoader worker processes (0: the frames are read in the training process); more than the CPUs "
                   "this process may use are cut to one per CPU, with a warning.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**32 - 1), help="Seed of the weights' initialisation, the frames' order, the crops and the augmentation.")
@click.option("--max-steps", default=None, type=click.IntRange(min=1), help="Cap steps per epoch (smoke runs).")
@click.option("--resume", type=RegularFile(),
              help="Continue from a run's last.pt exactly: its saved recipe goes on; --data, --device, --workers, "
                   "--out are this machine's, and --epochs (or --minutes) where given: without, the run's own; other "
                   "options given are not used (one line names them).")
@click.option("-y", "--overwrite", is_flag=True,
              help="Start afresh in an --out that holds another run: its checkpoints and logs are removed first.")
@handle_errors
def train(resume, overwrite, size, crop, phases, decoder_channels, stem_padding, train_splits, holdout, epochs, minutes,
          **opts) -> None:  # fmt: skip
    """Train U-Net-ResNet34 on CamVid or your own classes; keeps last.pt, best.pt (by check or val mIoU) and log.csv
    in --out."""
    if epochs is not None and minutes is not None:
        raise click.UsageError("a run lasts --epochs or --minutes, not both")
    try:
        from roadseg.train.config import TrainConfig
        from roadseg.train.loop import train as run_training
    except ImportError as exc:
        needs_train_extra("training", exc)
    if opts["init"] != "none" and not os.path.isfile(opts["init"]):
        raise click.BadParameter(f"{opts['init']!r} is not a file (an exported fp32 .onnx or a .pt)", param_hint="--init")
    if os.path.exists(opts["encoder_weights"]) and not os.path.isfile(opts["encoder_weights"]):  # (a FIFO: a hang)
        raise click.BadParameter(f"{opts['encoder_weights']!r} is not a regular file (a FIFO, a device ...): name the "
                                 "file itself", param_hint="--encoder-weights")  # fmt: skip
    model: dict = {} if stem_padding is None else {"stem_padding": stem_padding}
    if decoder_channels is not None:
        model["decoder_channels"] = decoder_channels
    if opts["scale"][0] > opts["scale"][1]:
        raise click.BadParameter(f"{opts['scale'][0]:g} {opts['scale'][1]:g}: the smaller scale comes first",
                                 param_hint="--scale")  # fmt: skip
    opts["workers"] = usable_workers(opts["workers"], "--workers")
    if opts["out"] is None:  # (a resumed run goes on in its own folder unless told otherwise)
        opts["out"] = (os.path.dirname(resume) or ".") if resume else "runs/unet-r34"
    if os.path.realpath(opts["out"]) == os.path.realpath(opts["data"]):  # (was: checkpoints among the frames, exit 0)
        raise click.BadParameter(f"{opts['out']} is the --data folder: the run's checkpoints and logs would sit among "
                                 "its frames; give another --out", param_hint="--out")  # fmt: skip
    cfg = TrainConfig(size=size, crop=crop, phases=tuple(_phase(p) for p in phases), holdout=tuple(holdout),
                      train_splits=tuple(s.strip() for s in train_splits.split(",")), model=model,
                      epochs=epochs or 150, minutes=minutes or 0.0, **opts)  # fmt: skip
    try:
        result = run_training(cfg, resume=resume, overwrite=overwrite, same_length=epochs is None and minutes is None,
                              on_resume=functools.partial(_say_resumed, click.get_current_context()))  # fmt: skip
    except (RuntimeError, FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    best = "-" if result["best_miou"] is None else f"{100 * result['best_miou']:.2f} mIoU"
    subset = result["val_subset"] and result["select"] == "val"  # (a best by the check or last is val's no more)
    subset = f" (on a {result['val_subset']}-frame subset of val: --val-limit)" if subset else ""
    click.echo(f"best {best}{subset} at epoch {result['best_epoch']}")


#: what a resumed run takes from the resuming command; every other option is the run's saved recipe
_RESUMING_MACHINES = ("data", "out", "device", "workers", "epochs", "minutes", "resume", "overwrite")


def _say_resumed(ctx: click.Context, epoch: int, cfg) -> None:
    """One line saying what a resumed run goes on from (a resume said nothing before its first epoch's line),
    then :func:`_say_unused_recipe`'s."""
    length = f"(of a {cfg.minutes:g}-minute run)" if cfg.minutes else f"of {cfg.epochs}"
    click.echo(f"roadseg: resuming {ctx.params['resume']} after epoch {epoch} {length}, into {cfg.out}", err=True)
    _say_unused_recipe(ctx)


def _say_unused_recipe(ctx: click.Context) -> None:
    """One line naming the recipe options given to ``--resume``, which the run does not use: ``--resume
    last.pt --lr 1e-4`` went on at the saved rate without a word. Said once the run is set up (a resume refused
    is its one error line)."""
    given = [max(p.opts, key=len) for p in ctx.command.params
             if p.name not in _RESUMING_MACHINES and ctx.get_parameter_source(p.name) == ParameterSource.COMMANDLINE]  # fmt: skip
    if given:
        why = "; its val frames stay the run's, so that best.pt is chosen on scores that compare" * ("--val-limit" in given)
        click.echo(f"roadseg: {', '.join(given)} not used: a resumed run goes on with the recipe it was started "
                   f"with (--data, --device, --workers, --out and --epochs or --minutes are this command's){why}", err=True)  # fmt: skip


def _phase(value: str) -> tuple[int, float, int, int]:
    """``EPOCHS:RES:HxW`` -> (epochs, resolution, crop_h, crop_w).

    >>> _phase("300:0.5:176x240")
    (300, 0.5, 176, 240)
    >>> _phase("1:99:32x32")
    Traceback (most recent call last):
    click.exceptions.BadParameter: '1:99:32x32' is not EPOCHS:RES:HxW (EPOCHS 1 or more, RES above 0 and at most 4), e.g. 300:0.5:176x240
    """
    try:
        epochs, res, crop = value.split(":")
        h, w = parse_size(crop)
        if int(epochs) < 1 or not 0 < float(res) <= MAX_SCALE:
            raise ValueError
        return int(epochs), float(res), h, w
    except (ValueError, TypeError, click.BadParameter):
        raise click.BadParameter(f"{value!r} is not EPOCHS:RES:HxW (EPOCHS 1 or more, RES above 0 and at most "
                                 f"{MAX_SCALE:g}), e.g. 300:0.5:176x240", param_hint="--phase") from None  # fmt: skip


def _widths(value: str | None) -> tuple[int, ...] | None:
    """``--decoder-channels`` ``C1,C2,...`` -> the widths: 4 or 5 of them, each from 1 to :data:`MAX_WIDTH`.

    >>> _widths("128,64,48,32")
    (128, 64, 48, 32)
    >>> _widths("99999,64,48,32")
    Traceback (most recent call last):
    click.exceptions.BadParameter: '99999,64,48,32' is not 4 or 5 widths from 1 to 1024, e.g. 128,64,48,32
    """
    if value is None:
        return None
    try:
        widths = tuple(int(c) for c in value.split(","))
    except ValueError:
        widths = ()
    if len(widths) not in (4, 5) or not all(1 <= c <= MAX_WIDTH for c in widths):
        raise click.BadParameter(f"{value!r} is not 4 or 5 widths from 1 to {MAX_WIDTH}, e.g. 128,64,48,32",
                                 param_hint="--decoder-channels")  # fmt: skip
    return widths


@click.command("pack-data")
@click.argument("src", type=click.Path(exists=True, file_okay=False))
@click.argument("dst", type=click.Path(file_okay=False))
@click.option("--quality", default=95, show_default=True, type=click.IntRange(1, 100), help="JPEG quality of the images.")
@handle_errors
def pack_data_cmd(src, dst, quality) -> None:
    """Copy CamVid's train+val, or a folder's of its own classes (its classes.txt goes too), with JPEG images (labels
    stay PNG), small enough to carry to a GPU box."""
    from roadseg.data.pack import pack

    try:
        n = pack(src, dst, quality=quality)
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    click.echo(f"packed {n} images into {dst}")
