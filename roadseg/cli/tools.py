"""The tools of ``roadseg``: info (for bug reports) and bench (frames/s side by side)."""

from __future__ import annotations

import click

from roadseg.cli.common import RegularFile, fail, handle_errors

#: The most intra-op threads bench asks onnxruntime for: --threads 100000 made it start threads for minutes, silent
#: (refused by click's range, one line)
MAX_THREADS = 1024


@click.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--model", help="Show what roadseg reads from this model instead (a file, or a shipped model's name): "
                              "input, classes and colours, void, scores, architecture, opset, size, and whether it "
                              "passes the contract (exit 1 where not).")  # fmt: skip
@handle_errors
def info_cmd(as_json, model) -> None:
    """Versions, onnxruntime providers, CPU features and the default model: paste it into bug reports; with --model,
    what roadseg reads from that model file and whether it passes the contract."""
    import json

    from roadseg.tools.info import collect, format_model, format_report, model_report

    if model is not None:
        report = model_report(model)
        click.echo(json.dumps(report, indent=2) if as_json else format_model(report))
        if report["contract"] != "passes":
            fail(report["contract"])
        return
    report = collect()
    click.echo(json.dumps(report, indent=2) if as_json else format_report(report))


@click.command("bench")
@click.option("--video", required=True, type=RegularFile(), help="Clip whose frames are used.")
@click.option("--frames", default=48, show_default=True, type=click.IntRange(min=1), help="Frames per timed run.")
@click.option("--repeats", default=3, show_default=True, type=click.IntRange(min=1), help="Timed runs per measurement after a warm-up (median and spread reported; fewer than 3 is warned of).")
@click.option("--batch", "batches", multiple=True, type=click.IntRange(min=1), default=(1, 4), show_default=True, help="Batch sizes for model-only runs.")
@click.option("--model", type=RegularFile(), help="Benchmark this model instead of the shipped ones.")
@click.option("--baseline", type=RegularFile(),
              help="Also time this model (e.g. a previous release's INT8 file) model-only beside the default; the ratio comes from the two timed in turn, round by round.")
@click.option("--checkpoint", type=RegularFile(), help="Checkpoint for the PyTorch eager row (default: random weights; speed is the same).")
@click.option("--no-native", is_flag=True, help="Skip model-only runs at the video's native size.")
@click.option("--no-torch", is_flag=True, help="Skip the PyTorch eager row.")
@click.option("--preset", default="superfast", show_default=True, help="x264 preset of the naive loop and the pipeline.")
@click.option("--threads", default=0, show_default=True, type=click.IntRange(0, MAX_THREADS),
              help="onnxruntime's and PyTorch's intra-op threads in every row and the machine peak (0: each one's default, one per physical core; onnxruntime's one per usable CPU where fewer may be used).")
@click.option("--out", default="bench-results", show_default=True, type=click.Path(file_okay=False),
              help="Folder for bench.json and bench.png (the repository's benchmarks/results holds the committed ones).")
@handle_errors
def bench_cmd(video, frames, repeats, batches, model, baseline, checkpoint, no_native, no_torch, preset, threads,
              out) -> None:  # fmt: skip
    """Frames/s side by side: onnxruntime model-only (per precision, provider, batch, size), PyTorch
    eager, a naive sequential loop and the threaded segment-video pipeline, on the same frames; the default model
    alone, the baseline, the loop and the pipeline timed in turn, round by round, for the ratios. States the machine,
    threads, load and time, and warns of runs too few, too short or too far apart to trust."""
    import json
    from pathlib import Path

    from roadseg.pipeline.session import OnnxSegmenter
    from roadseg.pipeline.sinks.base import check_writable
    from roadseg.pipeline.sinks.encoders import check_video_encoder, encoder_options
    from roadseg.tools.bench import run_bench
    from roadseg.tools.report import draw_chart, format_table

    models = {"custom": Path(model)} if model else None
    # before minutes of timing: a folder that cannot be made, a preset x264 has not, a baseline that is no model
    made = not Path(out).exists()
    Path(out).mkdir(parents=True, exist_ok=True)
    try:
        check_writable(Path(out) / "bench.json", f"write into {out}")  # (was found out after minutes of timing)
        encoder_options(check_video_encoder("libx264"), 23, preset)
        if baseline:
            OnnxSegmenter(baseline, providers="cpu")
        result = run_bench(video, frames=frames, repeats=repeats, batches=batches, native=not no_native,
                           torch_eager_=not no_torch, checkpoint=checkpoint, preset=preset, models=models,
                           baseline=baseline, threads=threads,
                           log=lambda m: click.echo(f"... {m}", err=True))  # fmt: skip
    except BaseException as exc:  # (was: an empty --out left by a bench refused or stopped)
        if made and not any(Path(out).iterdir()):
            Path(out).rmdir()
        if isinstance(exc, FileNotFoundError):
            fail(str(exc))
        raise
    (Path(out) / "bench.json").write_text(json.dumps(result, indent=1))
    chart = draw_chart(result, Path(out) / "bench.png")
    click.echo(format_table(result))
    click.echo(f"wrote {Path(out) / 'bench.json'}" + (f" and {chart}" if chart else " (no chart: pip install matplotlib)"))
