"""The checks of a run's options, made before anything is opened: an option set that cannot work is refused
in one :class:`~roadseg.errors.OutputError` line, a number that cannot be in one
:class:`~roadseg.errors.ArgumentError` line, a URL of no scheme roadseg reads in one
:class:`~roadseg.errors.SourceError` line (:func:`check`, which also tells whether the input is live).

Example:
    >>> check(SegmentOptions("sample_videos/road.mp4", "/tmp/road-seg.mp4", overwrite=True))
    False
    >>> check(SegmentOptions("sample_videos/road.mp4"))
    Traceback (most recent call last):
    roadseg.errors.OutputError: -o/--output or --masks-dir is required
    >>> check(SegmentOptions("sample_videos/road.mp4", masks_dir="/tmp/road-masks"))  # (masks only: nothing encoded)
    False
    >>> check(SegmentOptions("sample_videos/road.mp4", "/tmp/road-seg.mp4", max_frames=0))
    Traceback (most recent call last):
    roadseg.errors.ArgumentError: max_frames must be 1 or more (None: every frame), not 0
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import fields
from pathlib import Path
from typing import Any

from roadseg.errors import ArgumentError, OutputError, SourceError
from roadseg.pipeline.bounds import check_numbers, real_within
from roadseg.pipeline.connecting import connecting_for, input_said, unused_connecting
from roadseg.pipeline.options import SegmentOptions
from roadseg.pipeline.sinks import check_output_path, same_file
from roadseg.pipeline.sinks.base import check_writable
from roadseg.pipeline.sinks.encoders import check_video_encoder
from roadseg.pipeline.sinks.video import STDOUT
from roadseg.pipeline.sources import image_paths, is_image_input, is_live_input
from roadseg.pipeline.sources.concat import concat_paths
from roadseg.pipeline.sources.containers import redacted
from roadseg.pipeline.sources.opening import HTTP_SCHEMES, capture_args, unknown_scheme
from roadseg.pipeline.sources.probe import listed
from roadseg.pipeline.suffixes import AUDIO_SUFFIXES, IMAGE_SUFFIXES


def check(opts: SegmentOptions) -> bool:
    """Refuse option sets that cannot work, before anything is opened; return whether the input is live."""
    check_numbers(opts)
    check_hwaccel(opts.hwaccel)
    for name in ("output", "masks_dir", "stats", "model"):  # (was: output=5 a TypeError from pathlib, model=5 an
        if not isinstance(path := getattr(opts, name), str | os.PathLike | None):  # internal error)
            raise ArgumentError(f"{name} must be a path (a str or a pathlib.Path), not {path!r}")
    if opts.serve is not None:
        _check_serve(opts.serve)
    if unknown := unknown_scheme(str(opts.input)):  # (was: "--show and --serve are for live input", or the URL as a
        raise SourceError(unknown)  # path not found, a slash lost)
    live = opts.live or is_live_input(str(opts.input))
    if live and not (opts.show or opts.serve or opts.output or opts.masks_dir):  # (--masks-dir alone: masks as frames come)
        raise OutputError("a live run needs somewhere to go: --show, --serve HOST:PORT, -o FILE and/or --masks-dir DIR")
    if not live and (opts.show or opts.serve):
        raise OutputError("--show and --serve are for live input (a camera, a stream URL, or a file with --live)")
    if not opts.output and not opts.masks_dir and not live:  # (--masks-dir alone: masks only, nothing encoded; --stats
        raise OutputError("-o/--output or --masks-dir is required")  # alone is refused: a run that keeps no picture)
    camera = opts.camera_size or opts.camera_fps or opts.camera_format or opts.camera_audio
    if camera and capture_args(str(opts.input))[3] != "camera":
        raise OutputError("--camera-size, --camera-fps, --camera-format and --camera-audio are for a camera (0, "
                          f"/dev/video0); {opts.input} is not one")  # fmt: skip
    if live and not may_be_a_file(opts) and opts.start:  # (a URL's: once opened, run)
        raise OutputError("--start skips into a file; a live source starts now (--duration S records S seconds of it)")
    if opts.parts and not opts.concat:
        raise OutputError("parts are the files that concat joins; set concat too")
    if str(opts.input) == "-" and os.isatty(0):  # (was: a wait for a video that nobody could type, deaf to Ctrl-C)
        raise OutputError("- reads a video from standard input, which is a terminal here: pipe one in (ffmpeg -i IN "
                          "-f matroska - | segment-video - -o out.mp4) or name a file")  # fmt: skip
    if opts.concat and (live or str(opts.input) == "-"):
        raise OutputError("--concat joins video files (a folder, a quoted glob or @list.txt); not live or piped input")
    if opts.video_stream is not None and (live and not may_be_a_file(opts) or images(opts)):
        raise OutputError("--video-stream picks one of a video file's streams; it is not for live or image input")
    if opts.fps is not None and (live and not may_be_a_file(opts) or images(opts)):  # (a URL's: once opened, run)
        raise OutputError("--fps keeps fewer of a video file's frames; a live source is paced by its own clock (a "
                          "camera's rate: --camera-fps), and images are each segmented")  # fmt: skip
    if opts.height is not None and (live and not may_be_a_file(opts) or images(opts)):
        raise OutputError("--height scales a video file's frames as they are decoded; it is not for live or image input")
    _check_output(opts, live)
    video_only(opts)
    if opts.stats:
        _check_stats(opts, live)
    return live


#: FFmpeg's hardware device types (libavutil/hwcontext.c, FFmpeg 7.1): one of these that this machine lacks falls
#: back to the CPU with one line (a script written for another machine still runs); any other name is a typo
HWACCELS = ("cuda", "vaapi", "qsv", "vdpau", "videotoolbox", "d3d11va", "d3d12va", "dxva2", "drm", "opencl",
            "mediacodec", "vulkan", "amf")  # fmt: skip


def check_hwaccel(name: object) -> None:
    """Refuse a ``hwaccel`` (``--hwaccel``'s, any case) that is no FFmpeg hardware device type, in one line (was, in
    the library: ``hwaccel="cude"`` decoded on the CPU after a warning line, where ``--hwaccel cude`` is refused).

    >>> check_hwaccel("CUDA")
    >>> check_hwaccel("cude")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    roadseg.errors.ArgumentError: hwaccel must be an FFmpeg hardware decoder (one of cuda, vaapi, ...), not 'cude'
    """
    if name is None:
        return
    from av.codec.hwaccel import hwdevices_available

    here = hwdevices_available()
    if not (isinstance(name, str) and name.lower() in (*HWACCELS, *here)):
        raise ArgumentError(f"hwaccel must be an FFmpeg hardware decoder (one of {', '.join(HWACCELS)}; this FFmpeg "
                            f"is built with {', '.join(here) or 'none'}), not {name!r}")  # fmt: skip


def _check_serve(serve: object) -> None:
    """Refuse a ``serve`` that is no (host, port) (was: an internal error, ``serve="127.0.0.1:8080"`` too)."""
    host, port = serve if isinstance(serve, tuple | list) and len(serve) == 2 else (None, None)
    if not (isinstance(host, str) and isinstance(port, int) and real_within(port, 0, 65535)):
        raise ArgumentError(f"serve must be (host, port), a port from 0 to 65535 (0: any free one): ('127.0.0.1', 8080), "
                            f"not {serve!r}")  # fmt: skip


def _check_output(opts: SegmentOptions, live: bool) -> None:
    """Refuse an ``-o`` that cannot be written as asked (``-`` of images or to a terminal; a video named as an image or
    a sound, :func:`~roadseg.pipeline.sinks.check_output_path`'s refusals, one of the files ``--concat`` joins; a codec
    this FFmpeg cannot encode with), or a ``--masks-dir`` that is the output video's name."""
    if str(opts.output) == STDOUT:
        if not live and images(opts):
            raise OutputError("-o - writes a video stream to standard output; images are written to a file or folder")
        if os.isatty(1):
            raise OutputError("-o - writes a Matroska stream to standard output, which is a terminal here: pipe it "
                              "(segment-video IN -o - | ffplay -) or name a file")  # fmt: skip
    elif opts.output and (live or not images(opts)):
        name, suffix = Path(opts.output).name, Path(opts.output).suffix.lower()
        if suffix in IMAGE_SUFFIXES or suffix in AUDIO_SUFFIXES:
            kind = "an image" if suffix in IMAGE_SUFFIXES else "an audio file"
            raise OutputError(f"{name} is the name of {kind}, but a video input is written as a video: end it in "
                              ".mp4, .mkv, .mov, .webm or .gif (--masks-dir DIR writes one label PNG a frame)")  # fmt: skip
        check_output_path(Path(str(opts.input)), Path(opts.output), opts.overwrite)
        if (opts.concat and Path(opts.output).exists()  # (one not there yet is none of them)
                and any(same_file(p, opts.output) for p in concat_paths(opts.input, opts.parts))):  # fmt: skip
            raise OutputError(f"output {opts.output} is one of the files --concat joins; choose another path (the "
                              "input is never touched)")  # fmt: skip
    if opts.output and opts.codec and (live or not images(opts)):
        check_video_encoder(opts.codec)
    if (opts.masks_dir and opts.output and str(opts.output) != STDOUT and (live or not images(opts))
            and Path(opts.masks_dir).resolve() == Path(opts.output).resolve()):  # fmt: skip
        raise OutputError(f"--masks-dir {opts.masks_dir} is the output video's name; give the masks a folder of their "
                          "own (e.g. masks/)")  # (was: a folder made there, then "o.mp4: Is a directory")


#: the options that only shape the output (``-o``): its encoding, its picture and its sound; by field, their flags
VIDEO_ONLY = {"codec": "--codec", "crf": "--crf", "preset": "--preset", "mode": "--mode", "alpha": "--alpha",
              "legend": "--legend", "no_audio": "--no-audio", "camera_audio": "--camera-audio"}  # fmt: skip
#: of those, the flags that shape a live view (``--show``, ``--serve``) too: it is drawn as they say
VIEWED = ("--mode", "--alpha", "--legend")


def video_only(opts: SegmentOptions, given: Collection[str] = ()) -> None:
    """Refuse, in one line, the options this run does not use (was: taken and ignored, unsaid; then refused one kind at
    a time): of image input, with ``-o`` or not, those of a video (``--start``, ``--duration``, :data:`FOR_VIDEO`,
    ``--no-hud``); ``--no-hud`` wherever no view is shown (the live view's figures: never drawn into a recording, ``-o``
    or not); in a run of no ``-o``, those that only shape the output (:data:`VIDEO_ONLY`): in a masks-only run
    (``--masks-dir``, nothing shown) all of them; in a run that shows a live view (``--show``, ``--serve``), those it
    does not draw by (not :data:`VIEWED`); of any input, the options of a connection that do nothing for it
    (``--retries`` of a file: :func:`~roadseg.pipeline.connecting.unused_connecting`). Those at other than their
    defaults, and those ``given`` (fields the command line was given, at their default too: ``--crf 23``).

    >>> video_only(SegmentOptions("a.mp4", masks_dir="m", crf=30, legend=True))
    Traceback (most recent call last):
    roadseg.errors.OutputError: --crf and --legend shape the output video, which this run does not write (-o): --masks-dir alone writes the masks, encodes nothing and draws no overlay; leave them out, or add -o FILE
    >>> video_only(SegmentOptions("0", serve=("127.0.0.1", 8080), crf=30, legend=True))
    Traceback (most recent call last):
    roadseg.errors.OutputError: --crf shapes the output video, which this run does not write (-o): a live view (--show, --serve) is drawn, but nothing is encoded and no sound read; leave it out, or add -o FILE
    >>> video_only(SegmentOptions("a.mp4", "o.mp4", masks_dir="m", crf=30)), video_only(SegmentOptions("a.mp4", masks_dir="m"))
    (None, None)
    """
    live = opts.live or is_live_input(str(opts.input))
    shown = bool(opts.show or opts.serve)
    if shown and not live:
        return  # (a view of no live input: refused by :func:`check`, as such)
    pictures, flags = not live and images(opts), video_options(opts, given)
    video = [flag for flag, on in (("--start", opts.start), ("--duration", opts.duration)) if on] if pictures else []
    video += [flag for flag in flags if pictures and flag in FOR_VIDEO] + (["--no-hud"] if pictures and opts.no_hud else [])
    out = [] if opts.output or not (shown or opts.masks_dir) else [
        flag for flag in flags if flag not in video and not (shown and flag in VIEWED)]  # fmt: skip
    hud = ["--no-hud"] if opts.no_hud and not (shown or pictures) else []  # (with -o too: never in a recording)
    if (waits := unused_connecting(opts, given)) or video or out or hud:
        raise OutputError(_unused(opts, video, out, hud, "images" if pictures else "video", live, waits))


#: of :data:`VIDEO_ONLY`, the flags that do nothing for images, ``-o`` or not: a video's encoder and its sound
FOR_VIDEO = ("--codec", "--crf", "--preset", "--no-audio", "--camera-audio")


def _unused(opts: SegmentOptions, video: list[str], out: list[str], hud: list[str], noun: str, live: bool,
            waits: Collection[str] = ()) -> str:  # fmt: skip
    """The line of :func:`video_only` that refuses the flags of a ``video`` for images, a connection's that do nothing
    here (``waits``), those that shape the output (``noun``) this run does not write (``out``) and ``--no-hud``
    (``hud``) where no view is shown, saying what to do.

    >>> _unused(SegmentOptions("f/", masks_dir="m"), ["--crf"], ["--legend"], [], "images", False).split(": ")[0]
    '--crf is for video; f/ is images, and --legend shapes the output images, which this run does not write (-o)'
    >>> _unused(SegmentOptions("0", masks_dir="m"), [], ["--crf"], ["--no-hud"], "video", True).split("; ")[1]
    'leave them out, or add -o FILE (for --crf) and --show or --serve (for --no-hud)'
    """
    fors = [f"{listed(f)} {'is' if len(f) == 1 else 'are'} for {what}" for f, what in [(video, "video"),
            *connecting_for(waits)] if f]  # fmt: skip
    said = [f"{', and '.join(fors)}; {opts.input} {input_said(opts, noun == 'images')}"] if fors else []
    if out:
        said.append(f"{listed(out)} shape{'s' if len(out) == 1 else ''} the output {noun}, which this run does not "
                    "write (-o)")  # fmt: skip
    if hud:
        said.append("--no-hud leaves the frames/s and latency figures off a live view (--show, --serve), which this run "
                    "does not show")  # fmt: skip
    if not (out or hud):
        return said[0]
    named = [*video, *waits, *out, *hud]
    adds = [(what, flags) for what, flags in (("-o FILE", out), ("--show or --serve", hud if live else [])) if flags]
    add = " and ".join(what if flags == named else f"{what} (for {listed(flags)})" for what, flags in adds)
    why = ("a live view (--show, --serve) is drawn, but nothing is encoded and no sound read" if opts.show or opts.serve
           else "its recording (-o) never has them" if opts.output  # (--no-hud alone: -o takes the rest)
           else "--masks-dir alone writes the masks and draws nothing" if not out  # fmt: skip
           else "--masks-dir alone writes the masks, encodes nothing and draws no overlay")
    return (f"{', and '.join(said)}: {why}; leave {'it' if len(named) == 1 else 'them'} out"
            f"{f', or add {add}' if add else ''}")


def video_options(opts: SegmentOptions, given: Collection[str] = ()) -> list[str]:
    """The flags of :data:`VIDEO_ONLY` that ``opts`` sets to other than their defaults, or that were ``given`` (fields
    the command line was given, at their default too), in their order there.

    >>> video_options(SegmentOptions("a.mp4", crf=30, legend=True)), video_options(SegmentOptions("a.mp4"), ["crf"])
    (['--crf', '--legend'], ['--crf'])
    """
    defaults = {f.name: f.default for f in fields(SegmentOptions)}
    return [flag for name, flag in VIDEO_ONLY.items() if name in given or getattr(opts, name) != defaults[name]]


def may_be_a_file(opts: SegmentOptions) -> bool:
    """Whether the input is an http(s) URL that is read as a file where it opens with a length (a file on a web
    server: :func:`~roadseg.pipeline.sources.capture.open_url`), nobody watching it live (``--live``, ``--show``,
    ``--serve``).

    >>> may_be_a_file(SegmentOptions("https://cdn/clip.mp4")), may_be_a_file(SegmentOptions("https://cdn/a", live=True))
    (True, False)
    """
    return not (opts.live or opts.show or opts.serve) and str(opts.input).lower().startswith(HTTP_SCHEMES)


def file_only(opts: SegmentOptions) -> list[str]:
    """The options given that only a video file takes (refused for live input before it is opened; an http(s) URL's,
    :func:`may_be_a_file`, once it opens as a live stream: :func:`refuse_live_url`).

    >>> file_only(SegmentOptions("https://cdn/clip.mp4", start=5.0, height=720, fps=12)), file_only(SegmentOptions("a"))
    (['--start', '--fps', '--height'], [])
    """
    given = (("--start", opts.start), ("--fps", opts.fps is not None), ("--height", opts.height is not None),
             ("--video-stream", opts.video_stream is not None))  # fmt: skip
    return [name for name, on in given if on]


def refuse_live_url(given: list[str], url: str, live: Any) -> None:
    """Refuse the file-only options ``given`` (:func:`file_only`) of the http(s) ``url`` that opened as a live stream
    (``live``, its container: it says no length), in one line that says what to do, the container closed; nothing
    where none is given or it is a file (was: every http(s) URL refused them, a file on a web server too, before it
    was opened).

    >>> refuse_live_url([], "http://cam/live.ts", object()), refuse_live_url(["--start"], "http://cdn/clip.mp4", None)
    (None, None)
    """
    if not given or live is None:
        return
    live.close()
    raise OutputError(f"{listed(given)} {'is' if len(given) == 1 else 'are'} for a video file, and {redacted(url)} plays as a "
                      "live stream (the server says no length; a live source is read as it comes, paced by its own "
                      "clock): where it is a file, download it first (curl -o clip.mp4 URL) and give the file")  # fmt: skip


def _check_stats(opts: SegmentOptions, live: bool) -> None:
    """Refuse a ``--stats`` file that would replace the input, the output or the model (it was written
    over the input video, after the run), or that cannot be written (found out after the run)."""
    stats = Path(opts.stats)
    if not stats.parent.is_dir():
        raise OutputError(f"folder {stats.parent} for --stats does not exist")
    inputs: list[Path] = []
    if stats.exists() and not live and str(opts.input) != "-":  # (one not there yet is no input)
        inputs = (concat_paths(opts.input, opts.parts) if opts.concat else image_paths(opts.input) if images(opts)
                  else [Path(str(opts.input))])  # fmt: skip
    named = [(p, "the input") for p in inputs] + [(opts.output, "the output"), (opts.model, "the model")]
    if taken := next((what for path, what in named if path and str(path) != STDOUT and same_file(stats, path)), None):
        raise OutputError(f"--stats {stats} is {taken}; name a file of its own for the statistics (e.g. stats.json)")
    check_writable(stats, f"write --stats {stats}")


def images(opts: SegmentOptions) -> bool:
    """Whether the input is images (a folder or glob of videos joined by --concat is not)."""
    return not opts.concat and is_image_input(opts.input)
