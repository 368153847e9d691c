"""How a run's pace compares with its video's own (:func:`own_pace`: ``--stats``' ``video_fps``, ``realtime`` and
``frame_size``), and, where a run fell far behind it, the one line that names its slowest stage and what would speed
that stage up (:func:`slow_hint`).

A file's run is slow where it went at under :data:`SLOW` of real time (2 s of 1080p60 in 33 s on one CPU: 0.06x); a
live run where it dropped over :data:`DROPPED` of its frames to keep up; either only where it ran :data:`LONG` or
more (a run of a second or two is hardly worth speeding up, and its start weighs on its pace). The stages run side
by side, so the one that takes the most time a frame sets the pace.

Example:
    >>> r = RunResult("a.mp4", "o.mp4", "file", 50, 33.1, 1.51, video_fps=25.0, realtime=0.06, frame_size=[1080, 1920],
    ...               working_size=[320, 544], stages={"decode": {"seconds": 2.0}, "infer": {"seconds": 30.5}})
    >>> slow_hint(r, SegmentOptions("a.mp4", "o.mp4"))
    'hint: 0.06x real time: the model is the slowest stage (610 ms a frame, where 40 ms keeps up): try --size 256x416 (a smaller working size than 320x544) or --fps 12'
"""

from __future__ import annotations

import math
from pathlib import Path

from roadseg.pipeline.model_files import DEFAULT_MODELS
from roadseg.pipeline.options import RunResult, SegmentOptions

#: a file's run at under this fraction of real time is told how to go faster
SLOW = 0.5
#: a live run that dropped over this share of its frames is told how to keep more
DROPPED = 0.5
#: the seconds a run takes before its slowness is told
LONG = 3.0
#: the heights ``--height`` is suggested at, the highest below the frames' own
HEIGHTS = (1440, 1080, 720, 540, 360)
#: what the stages' names are told as (the model's resizing is its own)
_NAMES = {"resize": "model", "infer": "model", "decode": "decoding", "encode": "encoding", "overlay": "overlay",
          "masks": "writing the masks", "display": "showing the frames", "write": "writing the images"}  # fmt: skip


def own_pace(source, opts: SegmentOptions, frames: int, seconds: float) -> dict:
    """``video_fps`` (a file's own frames/s: its pictures', or ``--fps``' cap where lower), ``realtime`` (the run's
    frames/s over it) and ``frame_size`` (the frames' [height, width], ``--height`` taken in) of a file's run; None
    (and []) for images and live runs, where they do not apply, and where the file states no rate.

    >>> from types import SimpleNamespace as S
    >>> src = S(live=False, kind="file", info=S(fps=60, timed_fps=None, height=1080, width=1920))
    >>> own_pace(src, SegmentOptions("a.mp4", fps=30), 50, 33.1)
    {'video_fps': 30.0, 'realtime': 0.0504, 'frame_size': [1080, 1920]}
    """
    info = None if source.live or source.kind == "images" else source.info
    rate = info and (info.timed_fps or info.fps)
    if not rate:
        return {"video_fps": None, "realtime": None, "frame_size": []}
    rate = float(min(rate, opts.fps or math.inf))
    realtime = round(frames / seconds / rate, 4) if seconds > 0 else None
    return {"video_fps": round(rate, 3), "realtime": realtime, "frame_size": [info.height, info.width]}


def slow_hint(result: RunResult, opts: SegmentOptions) -> str | None:
    """The one line for a run that fell far behind (:data:`SLOW`, :data:`DROPPED`): its slowest stage, ms a frame,
    and the one or two options that speed that stage up; None for a run fast enough, a quiet one and images.

    >>> live = RunResult("0", None, "camera", 9, 4.0, 2.2, dropped=111, drop_rate=0.925, latency_ms={"p50": 400},
    ...                  working_size=[360, 480], model="m/unet-r34-camvid.onnx", providers=["CPUExecutionProvider"],
    ...                  stages={"infer": {"seconds": 3.6}, "display": {"seconds": 0.1}})
    >>> slow_hint(live, SegmentOptions("0", show=True))
    'hint: 92% of the frames dropped: the model is the slowest stage (400 ms a frame): try the default INT8 model (leave out --model) or --size 288x384 (a smaller working size than 360x480)'
    >>> slow_hint(RunResult("a.mp4", "o.mp4", "file", 50, 10.0, 5.0, realtime=2.0), SegmentOptions("a.mp4"))
    """
    if opts.quiet or result.kind == "images" or not result.frames or result.seconds < LONG:
        return None
    if result.latency_ms is not None:
        if result.drop_rate <= DROPPED:
            return None
        said = f"{100 * result.drop_rate:.0f}% of the frames dropped"
    elif result.realtime is None or result.realtime >= SLOW:
        return None
    else:
        said = f"{result.realtime:.2g}x real time"
    per_stage: dict[str, float] = {}
    for stage, t in result.stages.items():
        if stage in _NAMES:
            per_stage[_NAMES[stage]] = per_stage.get(_NAMES[stage], 0.0) + 1000 * t["seconds"] / result.frames
    if not per_stage:
        return None
    name, ms = max(per_stage.items(), key=lambda kv: kv[1])
    keeps_up = f", where {1000 / result.video_fps:.0f} ms keeps up" if result.video_fps else ""
    levers = _levers(name, result, opts)[:2]
    tried = f": try {' or '.join(levers)}" if levers else ""
    return f"hint: {said}: the {name} is the slowest stage ({ms:.0f} ms a frame{keeps_up}){tried}"


def _levers(name: str, result: RunResult, opts: SegmentOptions) -> list[str]:
    """What speeds up stage ``name``, the likeliest first."""
    live = result.latency_ms is not None
    height = _lower_height(result.frame_size[0] if result.frame_size else None)
    smaller = [] if live or height is None else [f"--height {height}"]
    if name == "model":
        fp32 = DEFAULT_MODELS["cpu"][1]  # (the shipped fp32 model, where the INT8 one is the CPU's default)
        on_gpu = any(p.startswith(("CUDA", "Tensorrt")) for p in result.providers)
        levers = ["the default INT8 model (leave out --model)"] if Path(result.model).name == fp32 and not on_gpu else []
        if size := _smaller_size(result.working_size):
            hw = f"{size[0]}x{size[1]}"
            levers.append(f"--size {hw} (a smaller working size than {'x'.join(map(str, result.working_size))})")
        if not live and result.video_fps and result.video_fps >= 10:
            levers.append(f"--fps {int(result.video_fps // 2)}")
        return levers + ([] if on_gpu else ["a GPU (--device cuda)"])
    if name == "decoding":
        return smaller + ["--hwaccel (a hardware decoder: cuda, qsv, vaapi ...)"]
    if name == "encoding" and opts.preset != "ultrafast" and (opts.codec or "libx264") in ("libx264", "libx265"):
        return [f"--preset ultrafast (now {opts.preset})"] + smaller
    if name == "showing the frames" or live:
        return ["a smaller picture (a camera's --camera-size)"] if result.kind == "camera" else []
    return smaller


def _lower_height(height: int | None) -> int | None:
    """The height ``--height`` is suggested at: the highest of :data:`HEIGHTS` below ``height``.

    >>> _lower_height(1080), _lower_height(2160), _lower_height(360)
    (720, 1440, None)
    """
    return next((h for h in HEIGHTS if height is not None and h < height), None)


def _smaller_size(size: list[int]) -> tuple[int, int] | None:
    """A working size of about two thirds the pixels of ``size`` (HxW), each side a multiple of 32.

    >>> _smaller_size([320, 544]), _smaller_size([360, 480]), _smaller_size([64, 64])
    ((256, 416), (288, 384), None)
    """
    if len(size) != 2:
        return None
    smaller = tuple(max(32, int(side * 0.8) // 32 * 32) for side in size)
    return None if smaller == tuple(size) or min(smaller) < 64 else smaller
