"""Thin click commands: parse options, build a config, call the library.

``segment-video`` lives here; the ``roadseg`` group's other commands are in ``cli_tools``.
"""

from __future__ import annotations

import click

from roadseg import cli_tools
from roadseg.cli_util import fail, parse_size


@click.group()
@click.version_option(package_name="roadseg")
def main() -> None:
    """roadseg: real-time semantic segmentation of driving video (U-Net-ResNet34, CamVid)."""


for _cmd in (cli_tools.train, cli_tools.export_cmd, cli_tools.quantize_cmd, cli_tools.release_cmd, cli_tools.eval_cmd,
             cli_tools.info_cmd, cli_tools.bench_cmd, cli_tools.pack_data_cmd):  # fmt: skip
    main.add_command(_cmd)


def _hostport(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        fail(f"--serve wants HOST:PORT (e.g. 127.0.0.1:8080), not {value!r}")
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
        fail(str(exc))
    except Interrupted as exc:
        fail(exc.message, 143 if exc.signal_name == "SIGTERM" else 130)
    except OSError as exc:  # e.g. the --serve port is taken
        fail(f"{exc.strerror or exc}")
    finally:
        signal.signal(signal.SIGTERM, previous)
    if stats_path:
        with open(stats_path, "w") as f:
            json.dump(result, f, indent=1)
    lat = result["latency_ms"]
    click.echo(f"live: {result['frames']} frames shown at {result['fps']} frames/s, {result['dropped']} dropped "
               f"({100 * result['drop_rate']:.0f}%), latency p50 {lat['p50']} ms p95 {lat['p95']} ms", err=True)  # fmt: skip


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
        _live(input, output, model=model, size=parse_size(size), alpha=alpha, mode=mode, legend=legend, providers=device,
              threads=threads, show=show, serve=_hostport(serve) if serve else None, record=output,
              overwrite=overwrite, retries=retries, retry_delay=retry_delay, max_frames=max_frames,
              hud=not no_hud, crf=crf, preset=preset, stats_path=stats)  # fmt: skip
        return
    if show or serve:
        fail("--show and --serve are for live input (a camera, a stream URL, or a file with --live)")
    if not output:
        fail("-o/--output is required")
    opts = SegmentOptions(model=model, size=parse_size(size), alpha=alpha, mode=mode, legend=legend, masks_dir=masks_dir,
                          frame_stats=stats is not None, batch=batch, providers=device, threads=threads, codec=codec,
                          crf=crf, preset=preset, audio=not no_audio, hwaccel=hwaccel, start=start, duration=duration,
                          overwrite=overwrite, progress=not quiet)  # fmt: skip
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        result = segment_video(input, output, opts)
    except (SourceError, OutputError, ModelError, SinkError, PipelineError) as exc:
        fail(str(exc))
    except Interrupted as exc:
        fail(exc.message, 143 if exc.signal_name == "SIGTERM" else 130)
    except KeyboardInterrupt as exc:
        fail("interrupted before any frame was written", 143 if isinstance(exc, _Terminated) else 130)
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
