"""Thin click commands: parse options, build a config, call the library."""

from __future__ import annotations

import sys

import click


def _size(value: str | None) -> tuple[int, int] | None:
    """Parse ``HxW`` (e.g. ``360x480``)."""
    if value is None:
        return None
    try:
        h, w = (int(v) for v in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not HxW, e.g. 360x480") from None
    if h <= 0 or w <= 0:
        raise click.BadParameter(f"{value!r}: height and width must be positive")
    return h, w


@click.group()
@click.version_option(package_name="roadseg")
def main() -> None:
    """roadseg: real-time semantic segmentation of driving video (U-Net-ResNet34, CamVid)."""


@main.command()
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False), help="CamVid folder (SegNet or fastai layout).")
@click.option("--out", default="runs/unet-r34", show_default=True, help="Run folder: checkpoints and logs.")
@click.option("--epochs", default=150, show_default=True)
@click.option("--batch-size", default=8, show_default=True)
@click.option("--crop", default="256x256", show_default=True, help="Training crop HxW.")
@click.option("--scale", default=(0.5, 1.5), nargs=2, type=float, show_default=True, help="Random scale range.")
@click.option("--lr", default=2e-3, show_default=True, help="Peak learning rate (AdamW).")
@click.option("--weight-decay", default=1e-2, show_default=True)
@click.option("--schedule", type=click.Choice(["onecycle", "cosine"]), default="onecycle", show_default=True)
@click.option("--class-weights", type=click.Choice(["median-freq", "none"]), default="median-freq", show_default=True)
@click.option("--amp", type=click.Choice(["auto", "on", "off"]), default="auto", show_default=True,
              help="bf16 autocast: auto = on CUDA and on CPUs with native bf16.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--encoder-weights", default="none", show_default=True, help="imagenet | PATH | none.")
@click.option("--eval-every", default=1, show_default=True, help="Evaluate on val every N epochs.")
@click.option("--workers", default=1, show_default=True, help="DataLoader worker processes.")
@click.option("--seed", default=0, show_default=True)
@click.option("--max-steps", default=None, type=int, help="Cap steps per epoch (smoke runs).")
@click.option("--resume", type=click.Path(exists=True, dir_okay=False), help="Continue from a last.pt exactly.")
def train(resume, crop, **opts) -> None:
    """Train U-Net-ResNet34 on CamVid; keeps last.pt, best.pt (by val mIoU) and log.csv in --out."""
    try:
        from roadseg.train.loop import TrainConfig
        from roadseg.train.loop import train as run_training
    except ImportError as exc:
        _fail(f"training needs the train extra (pip install 'roadseg[train]'): {exc}")
    cfg = TrainConfig(crop=_size(crop), **opts)
    try:
        result = run_training(cfg, resume=resume)
    except (RuntimeError, FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    click.echo(f"best val mIoU {100 * result['best_miou']:.2f} at epoch {result['best_epoch']}")


def _hostport(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        _fail(f"--serve wants HOST:PORT (e.g. 127.0.0.1:8080), not {value!r}")
    return host, int(port)


def _live(spec: str, output: str | None, *, stats_path: str | None, **kw) -> None:
    """The live branch of segment-video."""
    import json
    import signal

    from roadseg.pipeline import ModelError, OutputError, PipelineError, SinkError, SourceError
    from roadseg.pipeline.live import LiveOptions
    from roadseg.pipeline.live_run import run_live
    from roadseg.pipeline.video import Interrupted

    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        result = run_live(spec, LiveOptions(**kw))
    except (SourceError, OutputError, ModelError, SinkError, PipelineError) as exc:
        _fail(str(exc))
    except Interrupted as exc:
        _fail(exc.message, 143 if exc.signal_name == "SIGTERM" else 130)
    except OSError as exc:  # e.g. the --serve port is taken
        _fail(f"{exc.strerror or exc}")
    finally:
        signal.signal(signal.SIGTERM, previous)
    if stats_path:
        with open(stats_path, "w") as f:
            json.dump(result, f, indent=1)
    lat = result["latency_ms"]
    click.echo(f"live: {result['frames']} frames shown at {result['fps']} frames/s, {result['dropped']} dropped "
               f"({100 * result['drop_rate']:.0f}%), latency p50 {lat['p50']} ms p95 {lat['p95']} ms", err=True)  # fmt: skip


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


@main.command("export")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The .onnx file to write.")
@click.option("--input-size", default="360x480", show_default=True, help="Working size HxW written into the metadata.")
@click.option("--fp16-weights", is_flag=True, help="Store weights as float16 (half the file; compute stays fp32).")
@click.option("--verify-images", type=click.Path(exists=True, file_okay=False),
              help="Folder of RGB images to verify parity on (default: random frames).")
def export_cmd(checkpoint, output, input_size, fp16_weights, verify_images) -> None:
    """Export a training checkpoint to the roadseg ONNX contract, then verify it.

    Verification runs onnx.checker and compares onnxruntime's labels with PyTorch's at a shape that
    was not traced; below 99.9% agreement the command fails and removes the file.
    """
    try:
        from roadseg.export.onnx import export_onnx
        from roadseg.export.verify import ExportCheckError, verify_parity
        from roadseg.train.loop import load_checkpoint
    except ImportError as exc:
        _fail(f"export needs the train extra (pip install 'roadseg[train]'): {exc}")
    import json
    from pathlib import Path

    try:
        net, state = load_checkpoint(checkpoint)
    except Exception as exc:  # a pickle that is not a checkpoint, missing keys ...
        _fail(f"cannot read checkpoint {checkpoint}: {exc.__class__.__name__}: {exc}")
    meta = {}
    if isinstance(state.get("best_miou"), float) and state["best_miou"] >= 0:
        meta["val_miou"] = round(100 * state["best_miou"], 2)
        meta["epoch"] = state.get("best_epoch")
    if state.get("config"):
        meta["training"] = {k: state["config"].get(k) for k in ("epochs", "batch_size", "crop", "lr", "seed")}
        meta["training_data"] = "CamVid 11-class train split (367 images, 360x480)"
    path = export_onnx(net, output, input_size=_size(input_size), metadata=meta, fp16_weights=fp16_weights)
    frames = _verify_frames(verify_images) if verify_images else None
    try:
        report = verify_parity(net, path, frames=frames)
    except ExportCheckError as exc:
        Path(path).unlink(missing_ok=True)
        _fail(f"{exc} (removed {path})")
    size_mb = Path(path).stat().st_size / 1e6
    click.echo(f"wrote {path} ({size_mb:.1f} MB); parity {json.dumps(report)}")


def _verify_frames(folder: str):
    import numpy as np

    from roadseg.data.camvid import read_rgb
    from pathlib import Path

    paths = sorted(Path(folder).glob("*.png"))[:4] + sorted(Path(folder).glob("*.jpg"))[:4]
    if not paths:
        _fail(f"no .png or .jpg images in {folder}")
    images = [read_rgb(p) for p in paths[:4]]
    h = min(i.shape[0] for i in images)
    w = min(i.shape[1] for i in images)
    return np.stack([i[: h - (1 if h % 2 == 0 else 0), : w - (1 if w % 2 == 0 else 0)] for i in images])


@main.command("eval")
@click.argument("model", type=click.Path())
@click.option("--data", required=True, type=click.Path(), help="CamVid folder (SegNet or fastai layout).")
@click.option("--split", default="val", show_default=True, type=click.Choice(["train", "val", "test"]))
@click.option("--size", help="Working size HxW [default: the model's input_size; native for checkpoints].")
@click.option("--device", default="cpu", show_default=True, type=click.Choice(["auto", "cpu", "cuda"]))
@click.option("--limit", type=int, help="Score only the first N images.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (per-class IoU, mIoU, confusion matrix).")
def eval_cmd(model, data, split, size, device, limit, as_json) -> None:
    """Score MODEL (.onnx, or a .pt checkpoint) on a CamVid split: per-class IoU, mIoU, pixel accuracy.

    mIoU is the mean over the 11 classes; void pixels are ignored.
    """
    import json

    from roadseg.pipeline.infer import ModelError
    from roadseg.train.evaluate import evaluate_model, format_table

    try:
        result = evaluate_model(model, data, split, size=_size(size), device=device, limit=limit)
    except (FileNotFoundError, ModelError, ValueError) as exc:
        _fail(str(exc))
    except ImportError as exc:
        _fail(f"scoring a checkpoint needs the train extra (pip install 'roadseg[train]'): {exc}")
    click.echo(json.dumps(result) if as_json else format_table(result))


@main.command("quantize")
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False), help="CamVid folder: calibration frames come from its train split.")
@click.option("--frames", "count", default=64, show_default=True, help="Number of calibration frames.")
@click.option("--method", default="minmax", show_default=True, type=click.Choice(["minmax", "percentile", "entropy"]))
def quantize_cmd(model, output, data, count, method) -> None:
    """Static INT8 (QDQ, per-channel) copy of an fp32 contract MODEL, calibrated on CamVid train frames."""
    from pathlib import Path

    from roadseg.export.quantize import load_calibration_frames, quantize_int8
    from roadseg.pipeline.infer import ModelError, OnnxSegmenter

    frames = load_calibration_frames(data, count)
    path = quantize_int8(model, output, frames, method=method)
    try:
        OnnxSegmenter(path, providers="cpu")  # still obeys the contract
    except ModelError as exc:
        Path(path).unlink(missing_ok=True)
        _fail(f"quantized model breaks the contract: {exc}")
    click.echo(f"wrote {path} ({Path(path).stat().st_size / 1e6:.1f} MB); score it with: roadseg eval {path} --data {data}")


@main.command("release")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False), help="CamVid folder.")
@click.option("--out", default="models", show_default=True, type=click.Path(file_okay=False))
@click.option("--calib-frames", default=64, show_default=True, help="INT8 calibration frames (train split).")
def release_cmd(checkpoint, data, out, calib_frames) -> None:
    """Build the shipped models from CHECKPOINT: fp16-stored fp32 + INT8, verified and scored on val."""
    import json

    try:
        from roadseg.export.release import release
    except ImportError as exc:
        _fail(f"release needs the train extra (pip install 'roadseg[train]'): {exc}")
    try:
        report = release(checkpoint, data, out, calib_frames=calib_frames)
    except RuntimeError as exc:
        _fail(str(exc))
    click.echo(json.dumps(report, indent=2))


@main.command("pack-data")
@click.argument("src", type=click.Path(exists=True, file_okay=False))
@click.argument("dst", type=click.Path(file_okay=False))
@click.option("--quality", default=95, show_default=True, help="JPEG quality of the images.")
def pack_data_cmd(src, dst, quality) -> None:
    """Copy CamVid train+val with JPEG images (labels stay PNG), small enough to carry to a GPU box."""
    from roadseg.data.camvid import pack

    n = pack(src, dst, quality=quality)
    click.echo(f"packed {n} images into {dst}")


@main.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def info_cmd(as_json) -> None:
    """Versions, onnxruntime providers, CPU features and the default model: paste it into bug reports."""
    import json

    from roadseg.info import collect, format_report

    report = collect()
    click.echo(json.dumps(report, indent=2) if as_json else format_report(report))


@main.command("bench")
@click.option("--video", required=True, type=click.Path(exists=True, dir_okay=False), help="Clip whose frames are used.")
@click.option("--frames", default=48, show_default=True, help="Frames per timed run.")
@click.option("--repeats", default=3, show_default=True, help="Timed runs per measurement (median reported).")
@click.option("--batch", "batches", multiple=True, type=int, default=(1, 4), show_default=True, help="Batch sizes for model-only runs.")
@click.option("--model", type=click.Path(exists=True, dir_okay=False), help="Benchmark this model instead of the shipped ones.")
@click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False), help="Checkpoint for the PyTorch eager row (default: random weights; speed is the same).")
@click.option("--no-native", is_flag=True, help="Skip model-only runs at the video's native size.")
@click.option("--no-torch", is_flag=True, help="Skip the PyTorch eager row.")
@click.option("--preset", default="superfast", show_default=True, help="x264 preset of the naive loop and the pipeline.")
@click.option("--out", default="benchmarks/results", show_default=True, type=click.Path(file_okay=False), help="Folder for bench.json and bench.png.")
def bench_cmd(video, frames, repeats, batches, model, checkpoint, no_native, no_torch, preset, out) -> None:
    """Frames/s side by side: onnxruntime model-only (per precision, provider, batch, size), PyTorch
    eager, a naive single-threaded loop and the threaded segment-video pipeline, on the same frames."""
    import json
    from pathlib import Path

    from roadseg.bench import draw_chart, format_table, run_bench

    models = {"custom": Path(model)} if model else None
    try:
        result = run_bench(video, frames=frames, repeats=repeats, batches=batches, native=not no_native,
                           torch_eager_=not no_torch, checkpoint=checkpoint, preset=preset, models=models,
                           log=lambda m: click.echo(f"... {m}", err=True))  # fmt: skip
    except FileNotFoundError as exc:
        _fail(str(exc))
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "bench.json").write_text(json.dumps(result, indent=1))
    chart = draw_chart(result, Path(out) / "bench.png")
    click.echo(format_table(result))
    click.echo(f"wrote {Path(out) / 'bench.json'}" + (f" and {chart}" if chart else " (no chart: pip install matplotlib)"))


class _Terminated(KeyboardInterrupt):
    signal_name = "SIGTERM"


def _on_sigterm(signum, frame) -> None:
    raise _Terminated()


def _setup_logging() -> None:
    import logging

    class Echo(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            click.echo(f"roadseg: {record.getMessage()}", err=True)

    logger = logging.getLogger("roadseg")
    if not any(type(h).__name__ == "Echo" for h in logger.handlers):
        logger.addHandler(Echo())
    logger.setLevel(logging.INFO)
    logger.propagate = False


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("input", type=click.Path())
@click.option("-o", "--output", type=click.Path(), help="Output video (.mp4), image file/folder for image input, or the recording of a live run.")
@click.option("--model", type=click.Path(), help="ONNX model file [default: the shipped model; INT8 on CPU].")
@click.option("--size", help="Working size HxW the network sees [default: the model's input_size].")
@click.option("--mode", default="overlay", show_default=True, type=click.Choice(["overlay", "mask", "side-by-side"]),
              help="Blend colours onto the frame, colours alone, or frame | overlay side by side.")
@click.option("--alpha", default=0.5, show_default=True, type=click.FloatRange(0, 1), help="Weight of the class colours.")
@click.option("--legend", is_flag=True, help="Draw the class colours and names on every frame.")
@click.option("--masks-dir", type=click.Path(file_okay=False), help="Also write one lossless label PNG per frame (pixel = class index).")
@click.option("--stats", type=click.Path(dir_okay=False), help="Write run statistics (per-frame class shares, per-stage timings) as JSON.")
@click.option("--start", default=0.0, type=click.FloatRange(min=0), help="Seconds to skip at the start.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), help="Seconds to process after --start.")
@click.option("--batch", default=1, show_default=True, type=click.IntRange(1, 256), help="Frames per inference call.")
@click.option("--device", default="auto", show_default=True, type=click.Choice(["auto", "cpu", "cuda", "tensorrt"]))
@click.option("--threads", default=0, show_default=True, help="onnxruntime intra-op threads (0 = one per core).")
@click.option("--codec", default="libx264", show_default=True, help="Video encoder (libx264, libx265, libsvtav1, libvpx-vp9, mpeg4).")
@click.option("--crf", default=23, show_default=True, help="Encoder quality (lower = better, bigger).")
@click.option("--preset", default="superfast", show_default=True, help="x264/x265 speed preset (ultrafast: faster, ~1.5x bigger files; veryfast: ~0.55x the size, slower).")
@click.option("--no-audio", is_flag=True, help="Drop the audio (by default every audio stream is copied untouched).")
@click.option("--hwaccel", help="Decode on a hardware device (cuda, qsv, vaapi ...); falls back to the CPU with a warning.")
@click.option("-y", "--overwrite", is_flag=True, help="Replace OUTPUT if it exists.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.option("--live", is_flag=True, help="Treat INPUT as a camera: a file plays in real time, newest frame only.")
@click.option("--show", is_flag=True, help="Live: show the overlay in a window (q/Esc quits; needs a GUI OpenCV).")
@click.option("--serve", metavar="HOST:PORT", help="Live: serve the overlay to browsers at http://HOST:PORT/ (MJPEG).")
@click.option("--max-frames", type=click.IntRange(min=1), help="Live: stop after this many frames are shown.")
@click.option("--retries", default=5, show_default=True, help="Live: reconnect attempts when a stream drops.")
@click.option("--retry-delay", default=1.0, show_default=True, help="Live: first reconnect delay in seconds (doubles).")
@click.option("--no-hud", is_flag=True, help="Live: no frames/s and latency text on the picture.")
def segment_video_cmd(input, output, model, size, mode, alpha, legend, masks_dir, stats, start, duration, batch,
                      device, threads, codec, crf, preset, no_audio, hwaccel, overwrite, quiet, live, show, serve,
                      max_frames, retries, retry_delay, no_hud) -> None:  # fmt: skip
    """Segment every frame of INPUT and write OUTPUT with class colours (H.264 mp4 by default).

    INPUT is a video file, or an image, a folder of images or a quoted glob ("frames/*.jpg"), in
    which case OUTPUT is an image file or a folder. A video output keeps the input's frame count,
    size, timestamps and audio. Ctrl-C or SIGTERM finalises a playable file of the frames done.

    Live: INPUT is a webcam index (0), a device (/dev/video0), a stream URL (rtsp://, rtmp://,
    http://) or, with --live, a file played as if it were a camera. Frames the model cannot keep up
    with are dropped at the source (newest frame wins); --show, --serve and -o work alone or together.

    \b
    Examples:
      segment-video dashcam.mp4 -o out.mp4
      segment-video dashcam.mp4 -o out.mp4 --mode side-by-side --legend --start 60 --duration 30
      segment-video "frames/*.png" -o segmented/ --masks-dir labels/
      segment-video 0 --show
      segment-video dashcam.mp4 --live --serve 127.0.0.1:8080 -o live.mp4
    """
    import json
    import signal

    from roadseg.pipeline import ModelError, OutputError, PipelineError, SinkError, SourceError
    from roadseg.pipeline.video import Interrupted, SegmentOptions, segment_video

    _setup_logging()
    from roadseg.pipeline.live import is_live_input

    if live or is_live_input(input):
        _live(input, output, model=model, size=_size(size), alpha=alpha, mode=mode, legend=legend, providers=device,
              threads=threads, show=show, serve=_hostport(serve) if serve else None, record=output,
              overwrite=overwrite, retries=retries, retry_delay=retry_delay, max_frames=max_frames,
              hud=not no_hud, crf=crf, preset=preset, stats_path=stats)  # fmt: skip
        return
    if show or serve:
        _fail("--show and --serve are for live input (a camera, a stream URL, or a file with --live)")
    if not output:
        _fail("-o/--output is required")
    opts = SegmentOptions(model=model, size=_size(size), alpha=alpha, mode=mode, legend=legend, masks_dir=masks_dir,
                          frame_stats=stats is not None, batch=batch, providers=device, threads=threads, codec=codec,
                          crf=crf, preset=preset, audio=not no_audio, hwaccel=hwaccel, start=start, duration=duration,
                          overwrite=overwrite, progress=not quiet)  # fmt: skip
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        result = segment_video(input, output, opts)
    except (SourceError, OutputError, ModelError, SinkError, PipelineError) as exc:
        _fail(str(exc))
    except Interrupted as exc:
        _fail(exc.message, 143 if exc.signal_name == "SIGTERM" else 130)
    except KeyboardInterrupt as exc:
        _fail("interrupted before any frame was written", 143 if isinstance(exc, _Terminated) else 130)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if stats:
        with open(stats, "w") as f:
            json.dump(result, f, indent=1)
    click.echo(
        f"wrote {result['output']}: {result['frames']} frames in {result['seconds']:.1f} s "
        f"({result['fps']:.1f} frames/s)",
        err=True,
    )
