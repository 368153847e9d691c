"""``segment-video`` (also ``roadseg segment``): parse the options into a SegmentOptions, call ``run``."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from roadseg.cli.common import file_options, handle_errors, model_options
from roadseg.cli.values import Finite, input_path, parse_hostport, parse_size
from roadseg.pipeline.options import STREAM_TIMEOUT, RunResult, SegmentOptions


class Retries(click.ParamType):
    """``--retries``: a count, 0 or more, or ``forever`` (None).

    >>> Retries().convert("3", None, None), Retries().convert("Forever", None, None)
    (3, None)
    """

    name = "count|forever"

    def convert(self, value, param, ctx):
        if value is None or isinstance(value, int):
            return value
        if str(value).strip().lower() == "forever":
            return None
        if str(value).strip().isdecimal():
            return int(value)
        self.fail(f"{value!r} is not a count of reconnects (0, 1, 2, ...) or 'forever'", param, ctx)


def extra_words(command: str, given: dict, extra: list[str]) -> str:
    """What to type instead, for words past ``segment``'s one INPUT: click said only "Got unexpected extra
    argument (out.mp4)" to an output named without ``-o``, and named one file of a glob the shell expanded.

    A word that is not a file yet, after an INPUT and no ``-o``, is taken for the output; anything else
    for more inputs.

    >>> extra_words("segment-video", {"input": "my clip.mp4", "output": None}, ["/no/out.mp4"]).split(": ")
    ['Got unexpected extra argument (/no/out.mp4)', 'name the output with -o', "segment-video 'my clip.mp4' -o /no/out.mp4"]
    >>> extra_words("segment-video", {"input": "a.jpg", "output": "seg/"}, ["b.jpg", "c.jpg"]).split(";")[0]
    'Got unexpected extra arguments (b.jpg c.jpg): segment-video takes one INPUT'
    """
    said = f"Got unexpected extra argument{'s' if len(extra) > 1 else ''} ({' '.join(extra)})"
    if len(extra) == 1 and given.get("output") is None and not Path(extra[0]).exists():
        return f"{said}: name the output with -o: {command} {shlex.quote(str(given.get('input')))} -o {shlex.quote(extra[0])}"
    return (f'{said}: {command} takes one INPUT; quote a glob ("frames/*.jpg") so that the shell passes it on whole, '
            "or name the folder (--concat joins one camera's videos into one; roadseg batch segments many)")


class _OneInput(click.Command):
    """``segment``'s parsing: words past its one INPUT are refused with :func:`extra_words`' hint."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.allow_extra_args = True  # (then refused here, with the hint, rather than by click without one)
        rest = super().parse_args(ctx, args)
        if rest and not ctx.resilient_parsing:
            ctx.fail(extra_words(ctx.command_path, ctx.params, rest))
        return rest


#: where a value that was not given comes from
_DEFAULTS = (click.core.ParameterSource.DEFAULT, click.core.ParameterSource.DEFAULT_MAP, None)


def _summary(result: RunResult, masks_dir: str | None = None, shown: bool = False) -> str:
    """The run's last line; a run of ``masks_dir``'s masks alone (no ``-o``, nor a live view) names their folder; a live
    run says whether its frames were ``shown`` (``--show``, ``--serve``) and where they were written (was: "shown",
    where a live run of ``-o`` alone showed none).

    >>> _summary(RunResult("a.mp4", None, "file", 38, 3.2, 11.9), "m1")
    'wrote masks to m1: 38 frames in 3.2 s (11.9 frames/s)'
    >>> _summary(RunResult("a.mp4", "out.mp4", "file", 50, 33.1, 1.51, realtime=0.0252))  # (its pace, the video's own)
    'wrote out.mp4: 50 frames in 33.1 s (1.5 frames/s, 0.025x real time)'
    >>> _summary(RunResult("0", None, "file", 38, 3.2, 11.9, latency_ms={"p50": 30, "p95": 41}), "m1")
    'live: wrote masks to m1: 38 frames at 11.9 frames/s, 0 dropped (0%), latency p50 30 ms p95 41 ms'
    >>> _summary(RunResult("0", None, "file", 1, 0.1, None, latency_ms={"p50": 30, "p95": 30}), None, shown=True)
    'live: 1 frame shown, 0 dropped (0%), latency p50 30 ms p95 30 ms'
    >>> _summary(RunResult("0", "o.mp4", "file", 25, 1.0, 25.0, latency_ms={"p50": 30, "p95": 30})).split(",")[0]
    'live: wrote o.mp4: 25 frames at 25.0 frames/s'
    >>> _summary(RunResult("0", "-", "file", 25, 1.0, 25.0, latency_ms={"p50": 30, "p95": 30}), None, True)[:54]
    'live: 25 frames shown and written to standard output a'
    """
    name = None if result.output is None else result.output if result.output != "-" else "standard output"
    if result.latency_ms is not None:
        lat = result.latency_ms
        rate = f" at {result.fps} frames/s" if result.fps is not None else ""  # (none for a single frame)
        frames = f"{result.frames} frame{'' if result.frames == 1 else 's'}"
        said = (f"wrote masks to {masks_dir}: {frames}" if masks_dir else
                f"{frames} shown{f' and written to {name}' if name else ''}" if shown else f"wrote {name}: {frames}")  # fmt: skip
        return (f"live: {said}{rate}, {result.dropped} dropped "
                f"({100 * result.drop_rate:.0f}%), latency p50 {lat['p50']} ms p95 {lat['p95']} ms")  # fmt: skip
    noun = "image" if result.kind == "images" else "frame"
    count = f"{result.frames} {noun}{'' if result.frames == 1 else 's'}"
    if result.output is None and masks_dir:  # (masks alone)
        name = f"masks to {masks_dir}"
    pace = "" if result.realtime is None else f", {result.realtime:.2g}x real time" if result.realtime < 1 else \
        f", {result.realtime:.1f}x real time"  # fmt: skip
    return f"wrote {name}: {count} in {result.seconds:.1f} s ({result.fps or 0:.1f} frames/s{pace})"


@click.command("segment", cls=_OneInput, no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("input", type=click.Path(), callback=input_path)
@click.option("-o", "--output", type=click.Path(), help="Output video (.mp4; \"-\": a Matroska stream on standard output, to pipe into ffplay or ffmpeg), image file/folder for image input, or the recording of a live run; not needed with --masks-dir (masks only).")
@model_options
@click.option("--masks-dir", type=click.Path(file_okay=False), help="Write one lossless label PNG per frame (pixel = class index) and masks.csv (beside OUTPUT; without -o, masks only: nothing encoded, no overlay drawn, the options of the output video refused), which frame each is (its time in seconds; an image input's name); a folder of an earlier run's masks needs -y, which replaces them.")
@click.option("--stats", type=click.Path(dir_okay=False), help="Write run statistics (frames/s, per-stage timings, frames lost, damaged audio, subtitle and data packets dropped; per-frame class shares for files; latency (from when a frame was read, to when it was shown) and drops for live input) as JSON.")
@file_options(live=True)
@click.option("--concat", is_flag=True, help="INPUT names several video files (a folder, a quoted glob or @list.txt), read back to back, in name order (a GoPro's chapters in recording order), into one OUTPUT: a dashcam's one-minute files of one drive (one camera's: the same codec, size, audio and order of streams; a dual dashcam's front files, where the names say the camera: _F, _R, -front, -back ...).")
@click.option("-y", "--overwrite", is_flag=True, help="Replace OUTPUT if it exists.")
@click.option("-q", "--quiet", is_flag=True, help="No progress (a bar on a terminal, a line every few seconds in a log).")
@click.option("--live", is_flag=True, help="Treat INPUT as a camera: a file plays in real time, newest frame only.")
@click.option("--show", is_flag=True, help="Live: show the overlay in a window (q/Esc quits; needs a GUI OpenCV). A view (--show, --serve) without -o encodes nothing and reads no sound: --codec, --crf, --preset, --no-audio and --camera-audio are refused.")
@click.option("--serve", metavar="HOST:PORT", callback=lambda ctx, param, v: parse_hostport(v),
              help="Live: serve the overlay to browsers at http://HOST:PORT/ (MJPEG); an IPv6 HOST in brackets: [::1]:8080.")
@click.option("--max-frames", type=click.IntRange(min=1), help="Stop after this many frames.")
@click.option("--retries", default=5, show_default=True, type=Retries(), help="Live: reconnect attempts when a stream drops (ends, or sends no data for --stream-timeout), or 'forever': until Ctrl-C, --duration or --max-frames (an unattended recorder; a line every 10 attempts once the delay is 30 s). A stream or camera not there yet at the start (connection refused, timed out, a server's 5XX, no /dev/videoN yet) is waited for with as many tries; one refused for good (401/403, an http(s) 404, unknown host, not a camera) is not; 0: neither is retried. A camera or a stream URL's (an http(s) URL of a file too: its server waited for); refused for a file (with --live too), standard input and images.")
@click.option("--retry-delay", default=1.0, show_default=True, type=Finite(min=0), help="Live: first reconnect delay in seconds, and first wait for a stream or camera not there yet at the start (doubles at each attempt, up to 30 s; above 0 with --retries forever). Where --retries acts; refused elsewhere.")
@click.option("--stream-timeout", default=STREAM_TIMEOUT, show_default=True, type=Finite(min=0, min_open=True), metavar="SECONDS", help="Live: seconds a camera or stream may take to open, and may send no data, before it is taken as lost (and, with --retries, reconnected): more for a camera that goes quiet on purpose (one that sends only on motion) or a slow link, less to notice a loss sooner. A camera's, a stream URL's and a file's or standard input's played --live; refused for those read whole and images.")
@click.option("--no-hud", is_flag=True, help="Live: no frames/s and latency text on the window's and the browser view's picture (a recording never gets it); refused where no view is shown (-o, --masks-dir alone), and for image input.")
@click.option("--camera-size", metavar="WxH", callback=lambda ctx, param, v: parse_size(v, "WxH", "1280x720"),
              help="Camera: the picture size to ask for, width x height as cameras are sold (1280x720) [default: the camera's current].")
@click.option("--camera-fps", type=Finite(min=0, min_open=True), help="Camera: the frames/s to ask for.")
@click.option("--camera-format", metavar="NAME", help="Camera: its own format to ask for (mjpeg, yuyv422, h264): many USB cameras give 720p at 30 frames/s only as mjpeg.")
@click.option("--camera-audio", metavar="FORMAT:DEVICE", help="Camera: record this sound device with it (a webcam's microphone is a device of its own): alsa:default, alsa:hw:1,0.")
@click.version_option(package_name="roadseg")  # (segment-video is a command of its own: --version as any has)
@handle_errors
def segment_video_cmd(**options) -> None:  # fmt: skip
    """Segment every frame of INPUT (--fps N: at most N a second) and write OUTPUT with class colours (H.264 mp4 by
    default).

    INPUT is a video file ("-": standard input, a streamable format such as mkv; with --concat a
    folder, quoted glob or @list.txt of one camera's files, joined into one video), or an image, a
    folder of images or a quoted glob ("frames/*.jpg"), in which case OUTPUT is an image file or a
    folder. A video output keeps the input's frame count (unless --fps), size (unless --height), timestamps, audio,
    subtitles, telemetry (a GoPro's GPMF, into mp4 or mov) and tags (creation time, GPS location).
    Ctrl-C, SIGTERM or a closed terminal (SIGHUP) finalises a playable file of the frames done. With --masks-dir
    and no -o, only the label masks are written (nothing is encoded).

    Live: INPUT is a webcam index (0), a device (/dev/video0, or udev's lasting name of one: /dev/v4l/by-id/...), a
    stream URL (rtsp://, rtmp://, http://, srt://; udp://0.0.0.0:5000 listens for an MPEG-TS stream sent to that port)
    or, with --live, a file played as if it were a camera. Frames the model cannot keep up with are dropped at the
    source (newest frame wins); --show, --serve, -o and --masks-dir (masks as frames come, nothing encoded) work alone
    or together.

    \b
    Examples:
      segment-video dashcam.mp4 -o out.mp4
      segment-video dashcam.mp4 -o out.mp4 --mode side-by-side --legend --start 60 --duration 30
      segment-video "frames/*.png" -o segmented/ --masks-dir labels/
      segment-video dashcam.mp4 --masks-dir labels/
      segment-video "DCIM/2026_1203_08*.MP4" --concat -o drive.mp4
      segment-video 0 --show
      segment-video dashcam.mp4 --live --serve 127.0.0.1:8080 -o live.mp4
      segment-video rtsp://robot/cam --masks-dir labels/
    """
    from roadseg._startup import settle
    from roadseg.pipeline.checks import VIDEO_ONLY, video_only
    from roadseg.pipeline.connecting import CONNECTING
    from roadseg.pipeline.realtime import slow_hint
    from roadseg.pipeline.run import run

    opts, ctx = SegmentOptions(**options), click.get_current_context()
    video_only(opts, [name for name in (*VIDEO_ONLY, *CONNECTING) if ctx.get_parameter_source(name) not in _DEFAULTS])  # (--crf 23 too)
    result = run(opts, finalised=settle)  # (a Ctrl-C after that costs a whole output nothing)
    shown = bool(options["show"] or options["serve"])
    alone = not (options["output"] or shown)  # (masks alone: nothing shown nor encoded)
    if hint := slow_hint(result, opts):  # (before the last line, which stays the run's summary)
        click.echo(hint, err=True)
    click.echo(_summary(result, options["masks_dir"] if alone else None, shown), err=True)
