"""``roadseg batch``: parse the options into BatchOptions + SegmentOptions, call :func:`roadseg.batch.batch`."""

from __future__ import annotations

import sys

import click

from roadseg.cli.common import file_options, handle_errors, model_options
from roadseg.cli.values import Finite, named_path
from roadseg.pipeline.bounds import MAX_THREADS


def _number(value: float, param: click.Parameter) -> float:
    if value != value:  # (FloatRange lets nan through)
        raise click.BadParameter("nan is not a number of seconds", param=param)
    return value


@click.command("batch", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("inputs", nargs=-1, required=True, callback=named_path)
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False), callback=named_path,
              help="Output folder: the inputs' layout with .mp4 (or --suffix) files (--masks-only: .masks folders), and results.jsonl.")
@click.option("--workers", type=click.IntRange(min=1),
              help="Worker processes (local) or actors (Ray) [default: one per GPU, else one per 4 CPUs this process may use; "
                   "Ray: as many as the cluster has room for].")
@click.option("--ray", "ray_address", metavar="ADDRESS", help="Run on the Ray cluster at HOST:PORT, 'auto' (the one this machine is a node of), or 'local' (a "
                   "one-machine cluster started for this run, gone when it ends).")
@click.option("--cpus-per-worker", default=1.0, show_default=True, type=Finite(0, MAX_THREADS, min_open=True), help="Ray: CPUs each worker reserves.")
@click.option("--gpus-per-worker", default=0.0, show_default=True, type=Finite(min=0), help="Ray: GPUs each worker reserves.")
@click.option("--ray-logs", is_flag=True, help="Ray: also show Ray's own log lines and the workers' output here [default: they stay in Ray's log folder on each node, /tmp/ray/session_latest/logs].")
@click.option("--in-flight", default=2, show_default=True, type=click.IntRange(min=1), help="Ray: paths queued at one worker.")
@click.option("--retries", default=2, show_default=True, type=click.IntRange(min=0), help="Times a video whose worker died is sent again.")
@click.option("--concat", is_flag=True, help="Join each folder's videos, in name order (a GoPro's chapters in recording order), into one output OUT_DIR/<folder>.mp4: a dashcam's one-minute files of a drive (as segment-video --concat joins them: one camera's, the front one's where the names say); a folder that holds several drives (--gap) gets one output per drive, and its files of another camera or format than those joined (another codec, size, audio or order of streams, which segment-video --concat leaves out) are a drive of their own, as are a dual dashcam's rear, inside and side cameras' files (each camera's named OUT_DIR/<folder>/<its first file>.mp4; the front camera's keeps OUT_DIR/<folder>.mp4), as their results lines say.")
@click.option("--gap", default=60.0, show_default=True, metavar="SECONDS", type=click.FloatRange(min=0), callback=lambda c, p, v: _number(v, p),
              help="With --concat: a pause longer than this many seconds between one file's end and the next one's start "
                   "(by the times in the files' names, else their creation_time) begins a new drive; a folder of several "
                   "drives gets OUT_DIR/<folder>/<first file's name>.mp4 for each (a drive done before under its "
                   "other name is renamed, not redone). inf: a folder is one drive in time (its files of another format still apart).")
@click.option("--force", is_flag=True, help="Redo videos a previous run finished (and those it found damaged); one redone without --masks or --stats has the masks and stats.json batch wrote of it before removed once it is done, where they would not tell of its new output (masks that still match, and a --masks-only run's, stay).")
@click.option("--retry-failed", is_flag=True, help="Try again videos a previous run found damaged (not a readable video) though they, the model, the settings and the roadseg and PyAV versions are unchanged [default: counted as errors again, with no new results line].")
@click.option("--masks", is_flag=True, help="Also write OUT_DIR/a/b.masks/ (one label PNG per frame, and masks.csv: which frame each is, by its time in seconds).")
@click.option("--masks-only", is_flag=True, help="Write OUT_DIR/a/b.masks/ (one label PNG per frame and masks.csv) and no video: nothing encoded, no overlay drawn (segment --masks-dir alone); implies --masks. Refuses the options that shape the video (--codec, --crf, --preset, --mode, --alpha, --legend, --no-audio, --suffix). A masks folder appears only when complete; a rerun skips those done so (and one without --masks-only does not).")
@click.option("--stats", is_flag=True, help="Also write OUT_DIR/a/b.stats.json (per-frame class shares, stage timings).")
@click.option("--suffix", default=".mp4", show_default=True, help="The outputs' name ending, which picks their container: .mkv keeps PCM, FLAC and Opus audio and SubRip captions as they are (mp4 re-encodes such audio as AAC); .mkv or .mov take a lossless mask video (--mode mask --codec ffv1).")
@model_options
@file_options(live=False)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or per-video lines; only the summary.")
@handle_errors
def batch_cmd(inputs, out_dir, workers, ray_address, ray_logs, cpus_per_worker, gpus_per_worker, in_flight, retries, concat, gap, force, retry_failed, masks,
              masks_only, stats, suffix, model, size, mode, alpha, legend, tta, start, duration, batch, device, threads, codec, crf, preset,
              no_audio, hwaccel, height, fps, video_stream, quiet) -> None:  # fmt: skip
    """Segment many videos into OUT_DIR, keeping their relative layout (IN/a/b.mov -> OUT_DIR/a/b.mp4).

    INPUTS are video files, folders (searched recursively), quoted globs ("dash/**/*.mov"; "dvr/*.264"
    for raw H.264/HEVC streams, which a folder search leaves out) or
    @list.txt (one path a line); not standard input ("-"): a video piped in is segment-video's. Each output appears only when complete; OUT_DIR/results.jsonl gets a
    line per video run; a rerun skips finished videos, adding no line (--force redoes them), says why it
    does one again (its input changed, an output missing or removed, another model, which options changed), and leaves
    damaged ones unchanged since they failed, counted as errors (--retry-failed tries them). Exit code
    1 if any video failed, a folder could not be searched or INPUTS hold no video, 0 where every video was
    done before, 130 on Ctrl-C (143 SIGTERM, 129 a closed terminal; finished outputs stay, unfinished ones are removed; once every
    video is recorded, a Ctrl-C cuts nothing short and the exit code is the work's).

    \b
    Examples:
      roadseg batch dashcam/ -o segmented/
      roadseg batch drives/ --concat -o segmented/      # drives/2026-12-03/*.MP4 -> segmented/2026-12-03.mp4
      roadseg batch DCIM/ --concat -o segmented/        # DCIM/Movie/<each drive's files> -> segmented/Movie/<its first file>.mp4
      roadseg batch dashcam/ --masks-only -o labels/     # dashcam/a/b.mov -> labels/a/b.masks/, no video
      roadseg batch "archive/**/*.mp4" @more.txt -o /shared/out --ray auto --gpus-per-worker 1
    """
    from roadseg.batch import BatchInterrupted, BatchOptions
    from roadseg.batch import batch as run_batch
    from roadseg.pipeline.options import SegmentOptions

    bopts = BatchOptions(workers=workers, ray=ray_address, cpus_per_worker=cpus_per_worker,
                         gpus_per_worker=gpus_per_worker, in_flight=in_flight, retries=retries, force=force, retry_failed=retry_failed, concat=concat, gap=gap,
                         masks=masks, masks_only=masks_only, stats=stats, suffix=suffix, quiet=quiet, ray_logs=ray_logs)  # fmt: skip
    sopts = SegmentOptions("", model=model, size=size, alpha=alpha, mode=mode, legend=legend, tta=tta, batch=batch, device=device,
                           threads=threads, codec=codec, crf=crf, preset=preset, no_audio=no_audio, hwaccel=hwaccel,
                           start=start, duration=duration, video_stream=video_stream, height=height, fps=fps)  # fmt: skip
    _check_masks_only(sopts, bopts)
    try:
        summary = run_batch(list(inputs), out_dir, bopts, sopts)
    except BatchInterrupted as exc:  # the table first, then handle_errors' one Error line and 130/143
        click.echo(f"{exc.summary.table()}\nresults: {exc.summary.results}", err=True)
        _leave_if_head_gone(exc.exit_code, f"Error: {exc}")
        raise
    click.echo(summary.table(), err=True)
    click.echo(f"results: {summary.results}", err=True)
    _leave_if_head_gone(1 if summary.failed else 0)
    if summary.failed:
        raise SystemExit(1)


def _check_masks_only(sopts, bopts) -> None:
    """With --masks-only, refuse the video's options given on the command line, at their default too (--crf 23), as
    segment --masks-dir alone does (:func:`~roadseg.batch.options.check_masks_only`)."""
    from roadseg.batch.options import check_masks_only
    from roadseg.pipeline.checks import VIDEO_ONLY

    ctx = click.get_current_context()
    given = [name for name in (*VIDEO_ONLY, "suffix") if name in ctx.params and ctx.get_parameter_source(name) not in
             (click.core.ParameterSource.DEFAULT, click.core.ParameterSource.DEFAULT_MAP, None)]  # fmt: skip
    check_masks_only(sopts, bopts, given)


def _leave_if_head_gone(code: int, said: str = "") -> None:
    """Leave with ``os._exit(code)`` where the batch's Ray head died (``ray_connect.head_gone``), ``said`` (a stopped
    batch's Error line) first: Ray's exit handler would wait for it, 6 s after the summary (was; a stopped batch's
    5.7 s after its Error line)."""
    ray_connect = sys.modules.get("roadseg.batch.ray_connect")  # (imported only where the batch ran on Ray)
    if ray_connect is not None and ray_connect.head_gone():
        from roadseg.pipeline.runner import leave_now

        if said:
            try:
                click.echo(said, err=True)
            except OSError:  # (stderr went with its terminal: a hang-up; the exit code still tells)
                pass
        leave_now(code)
