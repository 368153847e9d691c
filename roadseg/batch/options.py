"""How a batch runs (:class:`BatchOptions`), and its options checked before any work: the outputs' name
ending, their encoder, and the model the workers will load (what a rerun compares).

Example:
    >>> BatchOptions(workers=2).in_flight, video_suffix("MKV")
    (2, '.mkv')
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from roadseg.batch.errors import BatchError
from roadseg.batch.task import model_key
from roadseg.pipeline.inputs import DRIVE_GAP
from roadseg.pipeline.options import SegmentOptions
from roadseg.pipeline.suffixes import VIDEO_SUFFIXES


@dataclass(frozen=True)
class BatchOptions:
    """How a batch runs (what each video gets is a :class:`~roadseg.pipeline.options.SegmentOptions`,
    whose ``input`` and ``output`` the batch sets per video; ``masks`` and ``stats`` here are flags).

    Attributes:
        workers: worker processes (local) or actors (Ray); ``None`` = what the machine or cluster can feed.
        ray: a Ray cluster address (``host:port`` or ``auto``); ``None`` = a local pool. Where the caller
            ran ``ray.init`` already, that connection is used: ``auto`` or that cluster's address, else
            a BatchError (:class:`~roadseg.batch.ray_pool.RayPool`).
        cpus_per_worker, gpus_per_worker: what each Ray actor reserves.
        in_flight: paths queued at one Ray actor at a time.
        retries: how often a video whose worker died is sent again.
        force: redo videos a previous run finished (and those it found damaged).
        retry_failed: try again a video whose last run found it damaged (not a readable video) though it,
            the model, the settings and the roadseg and PyAV versions that read it are unchanged; without
            it, such a video counts as an error with no new line (``summary.unchanged``).
        masks, stats: also write ``b.masks/`` (label PNGs) and ``b.stats.json`` beside ``b.mp4``.
        masks_only: write ``b.masks/`` (and ``b.stats.json`` with ``stats``) and no video: nothing encoded, no
            overlay drawn (``segment --masks-dir`` alone); implies ``masks``. The options that shape the video only
            (``codec``, ``crf``, ``mode``, ``legend`` ..., ``suffix``) are refused (:func:`check_masks_only`).
        suffix: the outputs' name ending, which picks their container (``.mkv`` keeps PCM audio and
            SubRip captions as they are; ``.mov`` or ``.mkv`` take a lossless mask video, ``--codec ffv1``).
        quiet: no bar (on a terminal) or per-video lines (in a log); the summary only.
        ray_logs: also show Ray's own log lines and the workers' output (by default they stay in Ray's
            log folder on each node); with ``ray`` only.
        concat: join each folder's videos, in name order (a GoPro's chapters in turn), into one output
            ``OUT/<folder>.mp4`` (a dashcam's drive a folder: ``segment-video --concat`` per folder); a dual
            dashcam's rear, inside and side cameras' files (by their names) each camera's into
            ``OUT/<folder>/<its first file's name>.mp4``.
        gap: with ``concat``, a pause of more than this many seconds between one file's end and the
            next one's start begins a new drive (:func:`~roadseg.pipeline.sources.drives.drives`), as do
            its files of another camera or format than those joined
            (:func:`~roadseg.pipeline.sources.drives.joins`); a folder of several drives gets
            ``OUT/<folder>/<first file's name>.mp4`` for each. ``inf``: each folder is one drive in time.
    """

    workers: int | None = None
    ray: str | None = None
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0
    in_flight: int = 2
    retries: int = 2
    force: bool = False
    retry_failed: bool = False
    masks: bool = False
    stats: bool = False
    masks_only: bool = False
    suffix: str = ".mp4"
    quiet: bool = False
    ray_logs: bool = False
    concat: bool = False
    gap: float = DRIVE_GAP

    def __post_init__(self) -> None:
        """Refuse a ``cpus_per_worker`` past :data:`~roadseg.pipeline.bounds.MAX_THREADS` in one BatchError line,
        before any work: it became each worker's ``threads``, which every worker then refused in words of an option
        the caller never gave; and ``workers`` that is no whole number 1 or more, as ``--workers`` refuses it (was:
        ``0`` ran as ``None``, ``-1`` started none, ``1.5`` a TypeError traceback), and ``in_flight`` and ``retries``
        as ``--in-flight`` (1 or more) and ``--retries`` (0 or more) refuse them.

        >>> BatchOptions(cpus_per_worker=2000)
        Traceback (most recent call last):
        roadseg.batch.errors.BatchError: cpus_per_worker must be a number from 0 to 1024, not 2000
        """
        from roadseg.pipeline.bounds import MAX_THREADS

        cpus = self.cpus_per_worker
        if isinstance(cpus, bool) or not isinstance(cpus, (int, float)) or not 0 <= cpus <= MAX_THREADS:
            raise BatchError(f"cpus_per_worker must be a number from 0 to {MAX_THREADS}, not {cpus!r}")
        if self.workers is not None and not _whole(self.workers, 1):
            raise BatchError("workers must be a whole number, 1 or more (None: as many as the machine or cluster can "
                             f"feed), not {self.workers!r}")  # fmt: skip
        for name, low in (("in_flight", 1), ("retries", 0)):  # (as --in-flight and --retries refuse them)
            if not _whole(value := getattr(self, name), low):
                raise BatchError(f"{name} must be a whole number, {low} or more, not {value!r}")


def _whole(value: object, low: int) -> bool:
    """Whether ``value`` is a whole number (not a bool) of ``low`` or more."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def video_suffix(suffix: str) -> str:
    """``suffix`` as a video file's name ending (``mkv`` -> ``.mkv``); BatchError if it is none."""
    normal = "." + suffix.lower().lstrip(".")
    if normal not in VIDEO_SUFFIXES | {".gif"}:
        raise BatchError(f"--suffix {suffix} is not the ending of a video file; one of .mp4, .mkv, .mov, .webm, .avi, "
                         ".ts, .gif ...")  # fmt: skip
    return normal


def check_masks_only(sopts: SegmentOptions, bopts: BatchOptions, given: Collection[str] = ()) -> None:
    """With ``masks_only``, refuse the options that shape the video it does not write, as ``segment --masks-dir``
    alone refuses them (:func:`~roadseg.pipeline.checks.video_only`: those at other than their defaults and those
    ``given``, the fields the command line was given, ``--crf 23`` too), and a ``suffix`` (``"suffix"`` given too):
    one BatchError line before any work.

    >>> check_masks_only(SegmentOptions("", crf=30), BatchOptions(masks_only=True))
    Traceback (most recent call last):
    roadseg.batch.errors.BatchError: --crf shapes the output video, which --masks-only does not write: it writes the masks, encodes nothing and draws no overlay; leave it out, or leave out --masks-only
    >>> check_masks_only(SegmentOptions("", crf=30), BatchOptions())  # (a video is written: it takes them)
    """
    from roadseg.pipeline.checks import video_options
    from roadseg.pipeline.sources.probe import listed

    if not bopts.masks_only:
        return
    if named := video_options(sopts, given):
        one = len(named) == 1
        raise BatchError(f"{listed(named)} shape{'s' if one else ''} the output video, which --masks-only does not "
                         "write: it writes the masks, encodes nothing and draws no overlay; leave "
                         f"{'it' if one else 'them'} out, or leave out --masks-only")  # fmt: skip
    if "suffix" in given or bopts.suffix != BatchOptions.suffix:
        raise BatchError(f"--suffix {bopts.suffix} names the output videos, which --masks-only does not write: it "
                         "writes OUT_DIR/a/b.masks/; leave it out, or leave out --masks-only")  # fmt: skip


#: the fields of a live run, which a batch of video files never makes: by field, their flags
LIVE_ONLY = {"live": "--live", "show": "--show", "serve": "--serve", "retries": "--retries",
             "retry_delay": "--retry-delay", "stream_timeout": "--stream-timeout", "no_hud": "--no-hud",
             "camera_size": "--camera-size", "camera_fps": "--camera-fps", "camera_format": "--camera-format",
             "camera_audio": "--camera-audio", "pace": "pace"}  # fmt: skip


def check_live_only(sopts: SegmentOptions) -> None:
    """Options of a live run (:data:`LIVE_ONLY`) at other than their defaults fail the batch once, before any work:
    a batch reads video files, each as a file (was: ``show=True`` or ``stream_timeout=10`` an error line for every
    video in turn, the same one).

    >>> check_live_only(SegmentOptions("", show=True, stream_timeout=10.0))
    Traceback (most recent call last):
    roadseg.batch.errors.BatchError: --show and --stream-timeout are for a live run (a camera, a stream, --live); a batch reads video files: leave them out
    """
    from roadseg.pipeline.sources.probe import listed

    default = SegmentOptions("")
    if named := [flag for name, flag in LIVE_ONLY.items() if getattr(sopts, name) != getattr(default, name)]:
        raise BatchError(f"{listed(named)} {'is' if len(named) == 1 else 'are'} for a live run (a camera, a stream, "
                         f"--live); a batch reads video files: leave {'it' if len(named) == 1 else 'them'} out")  # fmt: skip


#: the fields of SegmentOptions the batch sets for each video (its input, and its outputs by ``out_dir``)
PER_VIDEO = ("input", "output", "masks_dir", "stats", "parts")


def check_per_video(sopts: SegmentOptions) -> None:
    """Fields the batch sets for each video (:data:`PER_VIDEO`) given anyway fail the batch once, before any work (was:
    ``output="x.mp4"`` taken and ignored, unsaid); the command line has no such options.

    >>> check_per_video(SegmentOptions("", output="x.mp4"))
    Traceback (most recent call last):
    roadseg.batch.errors.BatchError: output is each video's, which batch names by out_dir (OUT_DIR/<its path>.mp4); leave it out (masks=True, stats=True: beside each output)
    """
    from roadseg.pipeline.sources.probe import listed

    if named := [name for name in PER_VIDEO if getattr(sopts, name)]:
        one = len(named) == 1
        raise BatchError(f"{listed(named)} {'is' if one else 'are'} each video's, which batch names by out_dir "
                         f"(OUT_DIR/<its path>.mp4); leave {'it' if one else 'them'} out (masks=True, stats=True: "
                         "beside each output)")  # fmt: skip


def check_numbers(sopts: SegmentOptions) -> None:
    """A number the command line's options could not be given (``start=-1``, ``alpha=2``, ``crf="20"``:
    :func:`~roadseg.pipeline.bounds.check_numbers`), or a ``hwaccel`` that is no FFmpeg hardware decoder
    (:func:`~roadseg.pipeline.checks.check_hwaccel`), fails the batch once, before any work, not every video in turn
    (was: an error line each, the same one).

    >>> check_numbers(SegmentOptions("", start=-1.0))
    Traceback (most recent call last):
    roadseg.batch.errors.BatchError: start must be a number, 0 or more, not -1.0
    """
    from roadseg.errors import ArgumentError
    from roadseg.pipeline.bounds import check_numbers as checked
    from roadseg.pipeline.checks import check_hwaccel

    try:
        checked(sopts)
        check_hwaccel(sopts.hwaccel)
    except ArgumentError as exc:
        raise BatchError(str(exc)) from None


def check_encoder(sopts: SegmentOptions, suffix: str) -> None:
    """An encoder that is not there or not a video one, or a crf or preset the outputs' encoder
    (``.mp4``: libx264 unless ``codec``) cannot take, fails the batch once, before any work, not every
    video in turn. (Without ``codec`` another container may choose its own encoder, VP9 for
    ``.webm``: each video checks its own then.)"""
    from roadseg.errors import SinkError
    from roadseg.pipeline.sinks.encoders import check_video_encoder, encoder_options

    try:
        encoder = check_video_encoder(sopts.codec or "libx264")
        if sopts.codec or suffix in (".mp4", ".mkv", ".mov"):  # (where no codec means libx264)
            encoder_options(encoder, sopts.crf, sopts.preset)
    except SinkError as exc:
        raise BatchError(str(exc)) from None


def workers_model_key(sopts: SegmentOptions, bopts: BatchOptions) -> str:
    """The model the workers will load, as ``name@sha256``: what a rerun compares."""
    from roadseg.errors import ModelError
    from roadseg.pipeline.devices import default_model_path, resolve_device

    if sopts.model:
        path = model_file(sopts.model)
    else:  # (local workers asked for a GPU this machine lacks run on the CPU, with its default model)
        device = ("cuda" if bopts.gpus_per_worker else "cpu") if bopts.ray else (
            sopts.device if resolve_device("auto") == "cuda" else "cpu")  # fmt: skip
        try:
            path = default_model_path(device)
        except ModelError as exc:
            raise BatchError(str(exc)) from None
    try:
        return model_key(path)
    except OSError as exc:
        raise BatchError(f"cannot read the model {path}: {exc.strerror or exc}") from None


def model_file(model: str) -> Path:
    """The ``--model`` file, or a BatchError in ``segment``'s words: a file not there, a folder (was: "cannot
    read the model ...: No such file or directory", and an empty output folder left)."""
    from roadseg.errors import ModelError
    from roadseg.pipeline.model_files import check_model_file

    try:
        return check_model_file(model)
    except ModelError as exc:
        raise BatchError(str(exc)) from None


def resolve_options(options: BatchOptions | None, segment: SegmentOptions | None, kw: dict):
    names = {f.name for f in fields(BatchOptions)}
    unknown = set(kw) - names - {f.name for f in fields(SegmentOptions)}
    if unknown:
        raise TypeError(f"batch() got unexpected keyword arguments: {', '.join(sorted(unknown))}")
    bopts = replace(options or BatchOptions(), **{k: v for k, v in kw.items() if k in names})
    sopts = SegmentOptions(
        **{**asdict(segment or SegmentOptions("")), **{k: v for k, v in kw.items() if k not in names}}
    )
    return bopts, sopts
