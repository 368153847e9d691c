"""``roadseg bench``: model-only, PyTorch eager, a naive loop and the threaded pipeline, on the same frames.

Every figure is a median over ``repeats`` timed runs after a warm-up. The ratios come from runs timed in turn,
round by round (:func:`in_turn`): the default model alone, a ``baseline`` model alone, the naive loop and the
pipeline, so a machine whose speed drifts slows each alike. The result states when, where (CPU, usable CPUs, load
average, library versions, threads) and with which settings it was taken, and ``warnings``
(:func:`~roadseg.tools.report.warnings_of`): runs too few or too short to mean anything, rows whose runs differ by
more than :data:`~roadseg.tools.report.SPREAD`, fewer frames than asked, a model above the measured peak.

Example:
    >>> r = run_bench("sample_videos/road.mp4", frames=8, repeats=1, batches=(1,), torch_eager_=False)  # doctest: +SKIP
    >>> r["ratios"]["pipeline_over_model"]                                                             # doctest: +SKIP
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import av
import numpy as np

from roadseg.errors import Interrupted, SourceError, install_extra
from roadseg.pipeline.devices import resolve_device
from roadseg.pipeline.infer import Segmenter
from roadseg.pipeline.model_files import DEFAULT_MODELS, models_dir
from roadseg.pipeline.options import SegmentOptions
from roadseg.pipeline.overlay import Overlay, palette_lut
from roadseg.pipeline.run import run
from roadseg.pipeline.session import OnnxSegmenter, intra_op_threads
from roadseg.pipeline.sinks import VideoSink
from roadseg.pipeline.sources import Frame, VideoSource, picture_stream
from roadseg.tools.bench_timing import Timed, in_turn, load_average, median_fps, round_ratio
from roadseg.tools.peak import floor, machine_peak
from roadseg.tools.report import warnings_of


def read_frames(video: str | Path, count: int) -> tuple[list[np.ndarray], dict]:
    with VideoSource(video, audio=False) as src:
        frames = [f.image for f, _ in zip((x for x in src if isinstance(x, Frame)), range(count))]
        sar = src.info.sample_aspect  # (pixels' width:height where not square: anamorphic)
        info = {"width": src.info.width, "height": src.info.height, "fps": float(src.info.fps or 0),
                "sample_aspect": float(sar) if sar else None}  # fmt: skip
    return frames, info


def model_once(seg: Segmenter, small: np.ndarray, batch: int) -> Timed:
    """One timed run of session.run alone over ``small`` (frames already at the model's size), ``batch`` at a time."""
    n = len(small) - len(small) % batch

    def once() -> tuple[int, float]:
        t0 = time.perf_counter()
        for i in range(0, n, batch):
            seg.model.predict(small[i : i + batch])
        return n, time.perf_counter() - t0

    return once


def model_only(path: Path | OnnxSegmenter, frames: list[np.ndarray], size: tuple[int, int], batch: int, device: str,
               repeats: int, threads: int = 0) -> dict:  # fmt: skip
    """session.run alone on frames already at ``size`` (``threads``: onnxruntime's intra-op threads, 0 its default;
    ``path`` a session to share, else a file); ``one_at_a_time`` where a batch of more ran frame by frame (a model
    of batch 1: :attr:`OnnxSegmenter.one_at_a_time`)."""
    seg = Segmenter(path, size=size, providers=device, threads=threads)
    seg.check_memory(batch)  # (a size the memory cannot hold: one line; was OpenCV's traceback)
    small = np.stack([seg.resize(f) for f in frames])
    r = {**median_fps(model_once(seg, small, batch), repeats), "provider": seg.model.providers[0]}
    return r | ({"one_at_a_time": True} if batch > 1 and seg.model.one_at_a_time else {})


def torch_eager(frames: list[np.ndarray], size: tuple[int, int], repeats: int, checkpoint: str | None,
                compile_: bool = False, config: dict | None = None, threads: int = 0) -> dict:  # fmt: skip
    """The same network in PyTorch (what a user would write): preprocessing, forward, argmax; ``config``: the
    network's (an ONNX file's ``model_config``), ``threads``: PyTorch's intra-op threads (0: its default)."""
    import torch

    from roadseg.model import build_model
    from roadseg.model.predict import FramesToLabels
    from roadseg.pipeline.infer import resize_frame

    if checkpoint:
        from roadseg.train.weights import load_checkpoint

        net, _ = load_checkpoint(checkpoint)
    else:
        net = build_model(config).eval()  # speed does not depend on the weights
    graph = FramesToLabels(torch.compile(net) if compile_ else net).eval()
    small = [resize_frame(f, size) for f in frames]

    @torch.inference_mode()
    def once() -> int:
        for f in small:
            graph(torch.from_numpy(f)[None])
        return len(small)

    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        return {**median_fps(once, repeats), "threads": torch.get_num_threads()}
    finally:
        torch.set_num_threads(before)


def naive_once(video: str | Path, seg: Segmenter, count: int, preset: str) -> Timed:
    """One timed run of read -> resize -> infer -> overlay -> write, one frame at a time in one Python thread (the
    peer; onnxruntime's own threads as in the pipeline), from the first frame decoded to the output closed, as the
    pipeline's run is timed (not opening the input and the encoder)."""
    overlay = Overlay(palette_lut(seg.palette))

    def once() -> tuple[int, float]:
        with tempfile.TemporaryDirectory() as tmp, av.open(str(video)) as c:
            s = picture_stream(c)
            sink = VideoSink(Path(tmp) / "naive.mp4", width=s.codec_context.width, height=s.codec_context.height,
                             fps=s.average_rate, preset=preset)  # fmt: skip
            n, t0 = 0, time.perf_counter()
            for vf in c.decode(s):
                img = vf.to_ndarray(format="rgb24")
                sink.write(overlay(img, seg([img])[0]))
                n += 1
                if n == count:
                    break
            sink.close()
            return n, time.perf_counter() - t0

    return once


def pipeline_once(video: str | Path, seg: Segmenter, count: int, fps: float, preset: str, stages: list[dict]) -> Timed:
    """One timed run of the threaded segment-video run (:func:`roadseg.pipeline.run.run`) over the first ``count``
    frames (its first ``count`` / ``fps`` seconds), with ``seg``'s session (one for every run, as a batch worker keeps it); its per-stage ms go to ``stages``."""

    def once() -> tuple[int, float]:
        with tempfile.TemporaryDirectory() as tmp:
            opts = SegmentOptions(video, Path(tmp) / "p.mp4", duration=(count - 0.5) / fps, quiet=True, preset=preset)
            try:
                r = run(opts, segmenter=seg)
            except Interrupted as exc:  # (its message names the timed output, which goes with its folder)
                raise Interrupted("interrupted", signal_name=exc.signal_name) from None
        stages.append(r.stages)
        return r.frames, r.seconds  # first frame in to output closed; not the session set-up, nor the opening

    return once


def shipped_models() -> dict[str, Path]:
    folder = models_dir()
    names = {"int8": DEFAULT_MODELS["cpu"][0], "fp32": DEFAULT_MODELS["cpu"][1]}
    return {k: folder / v for k, v in names.items() if (folder / v).is_file()}


def run_bench(video: str | Path, *, frames: int = 48, repeats: int = 3, batches=(1, 4), native: bool = True,
              torch_eager_: bool = True, checkpoint: str | None = None, preset: str = "superfast",
              models: dict[str, Path] | None = None, baseline: str | Path | None = None, threads: int = 0,
              log: Callable[[str], None] = lambda m: None) -> dict:  # fmt: skip
    """All measurements, side by side, in one process; ``threads``: onnxruntime's and PyTorch's intra-op threads in
    every row (0: each one's default, one per physical core).

    The default model's model-only run (CPU, batch 1, working size), the naive loop and the pipeline are timed in
    turn, round by round (:func:`in_turn`; ``interleaved`` in the result), with ``baseline`` (another contract model,
    e.g. the previous release's INT8 file) where given: the ratios come from those rounds. ``warnings``: what makes
    the figures doubtful (:func:`~roadseg.tools.report.warnings_of`).
    """
    from roadseg.tools.info import collect

    settings = {"frames": frames, "repeats": repeats, "batches": list(batches), "native": native, "torch": torch_eager_,
                "preset": preset, "checkpoint": checkpoint, "baseline": None if baseline is None else str(baseline),
                "threads": threads}  # fmt: skip
    when, load = datetime.now(timezone.utc).isoformat(timespec="seconds"), [load_average()]
    models = models or shipped_models()
    if not models:
        raise FileNotFoundError("no models to benchmark: ship models/ or pass --model")
    imgs, vinfo = read_frames(video, frames)
    if len(imgs) < max(batches):
        raise SourceError(f"{len(imgs)} frames read from {video}, fewer than --batch {max(batches)} needs: "
                          "raise --frames, or use a longer clip")  # fmt: skip
    default_model = models.get("int8") or next(iter(models.values()))
    precision = _precision(models, default_model)
    turns, working = _timed_in_turn(video, default_model, baseline, imgs, vinfo, (repeats, threads), preset, log)
    size = turns["size"]
    given = {(precision, size, 1): turns["default"]}
    rows = _model_only_rows(models, imgs, [working] + ([(vinfo["height"], vinfo["width"])] if native else []), batches,
                            (repeats, threads), log, given=given)  # fmt: skip
    if baseline is not None:
        base_rows = _model_only_rows({"baseline": Path(baseline)}, imgs, [working], batches, (repeats, threads), log, ["cpu"],
                                     given={("baseline", size, 1): turns["baseline"]})  # fmt: skip
        rows += [{**r, "model": str(baseline)} for r in base_rows]
    common = {"precision": precision, "device": "cpu", "size": size, "batch": 1}
    config = OnnxSegmenter(default_model, providers="cpu").metadata.get("model_config") if torch_eager_ else None
    if torch_eager_ and not (checkpoint or config):
        log(f"{default_model.name} has no model_config: PyTorch eager skipped (it would time another network)")
    elif torch_eager_:
        try:
            log("pytorch eager")
            r = torch_eager(imgs, working, repeats, checkpoint, config=config, threads=threads)
            rows.append({"what": "pytorch eager", **common, "precision": "fp32", **r})
        except ImportError:
            log("torch not installed: PyTorch eager skipped")
    rows.append({"what": "naive loop (sequential)", **common, **turns["naive"]})
    rows.append({"what": "segment-video pipeline", **common, **turns["pipeline"]})
    ratios = {"pipeline_over_model": round_ratio(turns, "pipeline", "default"),
              "pipeline_over_naive": round_ratio(turns, "pipeline", "naive")}  # fmt: skip
    if baseline is not None:
        ratios["model_over_baseline"] = turns["ratio"] = round_ratio(turns, "default", "baseline")
        models = {**models, "baseline": Path(baseline)}
    log("machine peak (onnxruntime matmul)")
    try:
        fl = floor(rows, models, machine_peak(threads=threads), working)
    except ImportError:  # (onnx, which writes its matmul models, is in the train extra)
        log(f"onnx not installed ({install_extra('train')}): machine peak skipped")
        fl = {}
    machine = collect()
    result = {"video": str(video), "video_info": vinfo, "frames": len(imgs), "repeats": repeats, "settings": settings,
              "when": when, "load_average": [*load, load_average()], "cpus_usable": machine["cpu"]["usable"],
              "threads": {"onnxruntime": _threads_said(threads)}, "working_size": list(working), "rows": rows,
              "ratios": ratios, "floor": fl, "machine": machine, "interleaved": turns}  # fmt: skip
    return {**result, "warnings": warnings_of(result)}


def _threads_said(threads: int) -> int | str:
    """onnxruntime's intra-op threads as bench.json and its machine line say them: ``threads`` where given, else
    those of :func:`~roadseg.pipeline.session.intra_op_threads` (a process pinned to fewer CPUs than the machine has:
    one a usable CPU; was: 'default (one per physical core)', which one CPU of two ran past its affinity).

    >>> _threads_said(3)
    3
    """
    return intra_op_threads(threads) or "default (one per physical core)"


def _timed_in_turn(video: str | Path, model: Path, baseline: str | Path | None, imgs: list[np.ndarray], vinfo: dict,
                   runs: tuple[int, int], preset: str, log: Callable[[str], None]) -> tuple[dict, tuple[int, int]]:  # fmt: skip
    """``model`` alone, ``baseline`` alone (where given), the naive loop and the pipeline, in turn (:func:`in_turn`), on
    the CPU at batch 1 and the working size (what segment-video sees this clip at: about the model's input_size in
    pixels, at the clip's aspect as shown; a network fixed at a size inside, its ``input_size``: :meth:`Segmenter.fitted`), with
    one session of ``model`` for all three of its runs; and that size. ``runs``: (timed rounds, onnxruntime's threads)."""
    repeats, threads = runs
    session = OnnxSegmenter(model, providers="cpu", threads=threads)
    working = Segmenter(session).fitted(vinfo["height"], vinfo["width"], vinfo["sample_aspect"]).size
    seg, size = Segmenter(session, size=working), f"{working[0]}x{working[1]}"
    seg.check_memory(1)  # (before any timing: a model whose input_size the memory cannot hold was OpenCV's traceback)
    small, stages = np.stack([seg.resize(f) for f in imgs]), []
    fns = {"default": model_once(seg, small, 1)}
    if baseline is not None:
        fns["baseline"] = model_once(Segmenter(baseline, size=working, providers="cpu", threads=threads), small, 1)
    fns["naive"] = naive_once(video, seg, len(imgs), preset)
    fns["pipeline"] = pipeline_once(video, seg, len(imgs), vinfo["fps"] or 30.0, preset, stages)
    log(f"{', '.join(fns)} in turn ({size}, batch 1, CPU)")
    turns = {**in_turn(fns, repeats), "size": size}
    turns["pipeline"]["stages_ms"] = {k: v["ms_per_item"] for k, v in stages[-1].items() if v["count"]}
    return turns, working


def _model_only_rows(models: dict[str, Path], imgs, sizes, batches, runs: tuple[int, int], log: Callable[[str], None],
                     devices: list[str] | None = None, given: dict | None = None) -> list[dict]:  # fmt: skip
    """onnxruntime model-only rows for every model x device x size x batch (CUDA where it is usable), one session for
    each model x device (a model of batch 1 says so once); ``runs``: (timed runs, onnxruntime's threads); those
    ``given`` by (model, size, batch) on the CPU were timed already (:func:`in_turn`)."""
    devices = devices or ["cpu"] + (["cuda"] if resolve_device("auto") == "cuda" else [])
    rows = []
    for precision, path in models.items():
        for device in devices:
            session = None
            for size in sizes:
                for batch in batches:
                    key = (precision, f"{size[0]}x{size[1]}", batch)
                    if device == "cpu" and key in (given or {}):
                        r = {**given[key], "provider": "CPUExecutionProvider"}  # type: ignore[index]
                    else:
                        log(f"model-only {precision} {device} {size[0]}x{size[1]} batch {batch}")
                        session = session or OnnxSegmenter(path, providers=device, threads=runs[1])
                        r = model_only(session, imgs, size, batch, device, *runs)
                    rows.append({"what": "onnxruntime model-only", "precision": precision, "device": device,
                                 "size": key[1], "batch": batch, **r})  # fmt: skip
    return rows


def _precision(models: dict[str, Path], path: Path) -> str:
    return next(k for k, v in models.items() if v == path)
