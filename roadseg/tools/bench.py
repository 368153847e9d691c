"""``roadseg bench``: model-only, PyTorch eager, a naive loop and the threaded pipeline, on the same frames.

Every figure is a median over ``repeats`` timed runs after a warm-up, and the ratios compare runs
made in the same process, so they survive a noisy machine; the default model and a ``baseline`` are
also timed in turn, round by round (:func:`interleaved`), for the one ratio a release is judged by.
Rows whose runs differ by more than :data:`~roadseg.tools.report.SPREAD` (fastest over slowest) are named
where the result is shown (:mod:`~roadseg.tools.report`): a busy machine.

Example:
    >>> r = run_bench("sample_videos/road.mp4", frames=8, repeats=1, batches=(1,), torch_eager_=False)  # doctest: +SKIP
    >>> r["ratios"]["pipeline_over_model"]                                                             # doctest: +SKIP
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np

from roadseg.errors import Interrupted, SourceError
from roadseg.pipeline.infer import Segmenter, working_size
from roadseg.pipeline.options import SegmentOptions
from roadseg.pipeline.overlay import Overlay, palette_lut
from roadseg.pipeline.run import run
from roadseg.pipeline.session import DEFAULT_MODELS, OnnxSegmenter, models_dir, resolve_device
from roadseg.pipeline.sinks import VideoSink
from roadseg.pipeline.sources import Frame, VideoSource, picture_stream
from roadseg.tools.peak import floor, machine_peak


def median_fps(fn: Callable[[], int | tuple[int, float]], repeats: int, warmup: int = 1) -> dict:
    """Run ``fn`` ``warmup`` + ``repeats`` times; it returns the frames it processed (and, optionally,
    the seconds that count, when its own set-up should not). ``spread``: the fastest run over the slowest."""
    for _ in range(warmup):
        fn()
    rates, seconds = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        n, dt = out if isinstance(out, tuple) else (out, time.perf_counter() - t0)
        rates.append(n / dt)
        seconds.append(dt / n)
    return {"fps": round(statistics.median(rates), 2), "ms_per_frame": round(1000 * statistics.median(seconds), 2),
            "runs": [round(r, 2) for r in rates], "spread": round(max(rates) / min(rates), 3)}  # fmt: skip


def read_frames(video: str | Path, count: int) -> tuple[list[np.ndarray], dict]:
    with VideoSource(video, audio=False) as src:
        frames = [f.image for f, _ in zip((x for x in src if isinstance(x, Frame)), range(count))]
        info = {"width": src.info.width, "height": src.info.height, "fps": float(src.info.fps or 0)}
    return frames, info


def model_only(path: Path, frames: list[np.ndarray], size: tuple[int, int], batch: int, device: str,
               repeats: int) -> dict:  # fmt: skip
    """session.run alone on frames already at ``size``."""
    seg = Segmenter(path, size=size, providers=device)
    small = np.stack([seg.resize(f) for f in frames])
    n = len(small) - len(small) % batch

    def once() -> int:
        for i in range(0, n, batch):
            seg.model.predict(small[i : i + batch])
        return n

    return {**median_fps(once, repeats), "provider": seg.model.providers[0]}


def interleaved(paths: dict[str, Path], frames: list[np.ndarray], size: tuple[int, int], repeats: int) -> dict:
    """``session.run`` alone (CPU, batch 1, at ``size``) for each model in turn, round after round, after a
    warm-up of each: a machine whose speed drifts (2x from day to day here, and within a run) slows both
    alike. Per model the median frames/s; ``ratio``: the median over the rounds of the first model's
    frames/s over the second's."""
    segs = {name: Segmenter(path, size=size, providers="cpu") for name, path in paths.items()}
    small = np.stack([next(iter(segs.values())).resize(f) for f in frames])

    def once(seg: Segmenter) -> float:
        t0 = time.perf_counter()
        for i in range(len(small)):
            seg.model.predict(small[i : i + 1])
        return len(small) / (time.perf_counter() - t0)

    for seg in segs.values():
        once(seg)
    rounds = [{name: once(seg) for name, seg in segs.items()} for _ in range(repeats)]
    first, second = list(segs)[:2]
    result = {name: {"fps": round(statistics.median(r[name] for r in rounds), 2),
                     "runs": [round(r[name], 2) for r in rounds]} for name in segs}  # fmt: skip
    return {**result, "ratio": round(statistics.median(r[first] / r[second] for r in rounds), 3),
            "size": f"{size[0]}x{size[1]}"}  # fmt: skip


def torch_eager(frames: list[np.ndarray], size: tuple[int, int], repeats: int, checkpoint: str | None,
                compile_: bool = False) -> dict:  # fmt: skip
    """The same network in PyTorch (what a user would write): preprocessing, forward, argmax."""
    import torch

    from roadseg.model import build_model
    from roadseg.model.predict import FramesToLabels
    from roadseg.pipeline.infer import resize_frame

    if checkpoint:
        from roadseg.train.weights import load_checkpoint

        net, _ = load_checkpoint(checkpoint)
    else:
        net = build_model().eval()  # speed does not depend on the weights
    graph = FramesToLabels(torch.compile(net) if compile_ else net).eval()
    small = [resize_frame(f, size) for f in frames]

    @torch.inference_mode()
    def once() -> int:
        for f in small:
            graph(torch.from_numpy(f)[None])
        return len(small)

    return {**median_fps(once, repeats), "threads": torch.get_num_threads()}


def naive_loop(video: str | Path, model: Path, count: int, repeats: int, preset: str,
               size: tuple[int, int] | None = None) -> dict:  # fmt: skip
    """read -> resize -> infer -> overlay -> write, one frame at a time, one thread (the peer)."""
    seg = Segmenter(model, size=size, providers="cpu")
    overlay = Overlay(palette_lut(seg.palette))

    def once() -> int:
        with tempfile.TemporaryDirectory() as tmp, av.open(str(video)) as c:
            s = picture_stream(c)
            sink = VideoSink(Path(tmp) / "naive.mp4", width=s.codec_context.width, height=s.codec_context.height,
                             fps=s.average_rate, preset=preset)  # fmt: skip
            n = 0
            for vf in c.decode(s):
                img = vf.to_ndarray(format="rgb24")
                sink.write(overlay(img, seg([img])[0]))
                n += 1
                if n == count:
                    break
            sink.close()
        return n

    return median_fps(once, repeats)


def pipeline(video: str | Path, model: Path, count: int, fps: float, repeats: int, preset: str,
             size: tuple[int, int] | None = None) -> dict:  # fmt: skip
    """The threaded segment-video run (:func:`roadseg.pipeline.run.run`) on the same frames, one model
    session for every repeat (as a batch worker keeps it); also its per-stage ms."""
    stages: list[dict] = []
    seg = Segmenter(model, size=size, providers="cpu")

    def once() -> tuple[int, float]:
        with tempfile.TemporaryDirectory() as tmp:
            opts = SegmentOptions(video, Path(tmp) / "p.mp4", duration=(count - 0.5) / fps, quiet=True, preset=preset)
            try:
                r = run(opts, segmenter=seg)
            except Interrupted as exc:  # (its message names the timed output, which goes with its folder)
                raise Interrupted("interrupted", signal_name=exc.signal_name) from None
        stages.append(r.stages)
        return r.frames, r.seconds  # first frame in to last frame out; not the session set-up

    result = median_fps(once, repeats)
    result["stages_ms"] = {k: v["ms_per_item"] for k, v in stages[-1].items() if v["count"]}
    return result


def shipped_models() -> dict[str, Path]:
    folder = models_dir()
    names = {"int8": DEFAULT_MODELS["cpu"][0], "fp32": DEFAULT_MODELS["cpu"][1]}
    return {k: folder / v for k, v in names.items() if (folder / v).is_file()}


def run_bench(video: str | Path, *, frames: int = 48, repeats: int = 3, batches=(1, 4), native: bool = True,
              torch_eager_: bool = True, checkpoint: str | None = None, preset: str = "superfast",
              models: dict[str, Path] | None = None, baseline: str | Path | None = None,
              log: Callable[[str], None] = lambda m: None) -> dict:  # fmt: skip
    """All measurements, side by side, in one process.

    ``baseline``: another contract model (e.g. the previous release's INT8 file) measured model-only at
    the working size as the default is (its rows), and against the default in turn, round by round
    (:func:`interleaved`), which gives the ratio ``model_over_baseline``.
    """
    from roadseg.tools.info import collect

    models = models or shipped_models()
    if not models:
        raise FileNotFoundError("no models to benchmark: ship models/ or pass --model")
    imgs, vinfo = read_frames(video, frames)
    if len(imgs) < max(batches):
        raise SourceError(f"{len(imgs)} frames read from {video}, fewer than --batch {max(batches)} needs: "
                          "raise --frames, or use a longer clip")  # fmt: skip
    default_model = models.get("int8") or next(iter(models.values()))
    # what segment-video sees this clip at: about the model's input_size in pixels, at the clip's aspect
    working = working_size(vinfo["height"], vinfo["width"], OnnxSegmenter(default_model, providers="cpu").input_size)
    sizes = [working] + ([(vinfo["height"], vinfo["width"])] if native else [])
    rows = _model_only_rows(models, imgs, sizes, batches, repeats, log)
    turns = None
    if baseline is not None:
        base_rows = _model_only_rows({"baseline": Path(baseline)}, imgs, [working], batches, repeats, log, ["cpu"])
        rows += [{**r, "model": str(baseline)} for r in base_rows]
        log("model-only default and baseline in turn")
        turns = interleaved({"default": default_model, "baseline": Path(baseline)}, imgs, working, repeats)
    if torch_eager_:
        try:
            log("pytorch eager")
            r = torch_eager(imgs, working, repeats, checkpoint)
            rows.append({"what": "pytorch eager", "precision": "fp32", "device": "cpu",
                         "size": f"{working[0]}x{working[1]}", "batch": 1, **r})  # fmt: skip
        except ImportError:
            log("torch not installed: PyTorch eager skipped")
    log("naive single-threaded loop")
    naive = naive_loop(video, default_model, frames, repeats, preset, working)
    rows.append({"what": "naive loop (1 thread)", "precision": _precision(models, default_model), "device": "cpu",
                 "size": f"{working[0]}x{working[1]}", "batch": 1, **naive})  # fmt: skip
    log("threaded pipeline")
    pipe = pipeline(video, default_model, frames, vinfo["fps"] or 30.0, repeats, preset, working)
    rows.append({"what": "segment-video pipeline", "precision": _precision(models, default_model), "device": "cpu",
                 "size": f"{working[0]}x{working[1]}", "batch": 1, **pipe})  # fmt: skip
    ratios = _ratios(rows, pipe, naive, _precision(models, default_model), f"{working[0]}x{working[1]}")
    if turns is not None:
        ratios["model_over_baseline"] = turns["ratio"]
    if baseline is not None:
        models = {**models, "baseline": Path(baseline)}
    log("machine peak (onnxruntime matmul)")
    try:
        fl = floor(rows, models, machine_peak(), f"{working[0]}x{working[1]}")
    except ImportError:  # (onnx, which writes its matmul models, is in the train extra)
        log("onnx not installed (pip install 'roadseg[train]'): machine peak skipped")
        fl = {}
    return {"video": str(video), "video_info": vinfo, "frames": len(imgs), "repeats": repeats,
            "working_size": list(working), "rows": rows, "ratios": ratios, "floor": fl, "machine": collect(),
            **({"interleaved": turns} if turns is not None else {})}  # fmt: skip


def _model_only_rows(models: dict[str, Path], imgs, sizes, batches, repeats: int, log: Callable[[str], None],
                     devices: list[str] | None = None) -> list[dict]:  # fmt: skip
    """onnxruntime model-only rows for every model x device x size x batch (CUDA where it is usable)."""
    devices = devices or ["cpu"] + (["cuda"] if resolve_device("auto") == "cuda" else [])
    rows = []
    for precision, path in models.items():
        for device in devices:
            for size in sizes:
                for batch in batches:
                    log(f"model-only {precision} {device} {size[0]}x{size[1]} batch {batch}")
                    r = model_only(path, imgs, size, batch, device, repeats)
                    rows.append({"what": "onnxruntime model-only", "precision": precision, "device": device,
                                 "size": f"{size[0]}x{size[1]}", "batch": batch, **r})  # fmt: skip
    return rows


def _ratios(rows: list[dict], pipe: dict, naive: dict, precision: str, size: str) -> dict:
    """Pipeline over model-only and over the naive loop (batch 1, CPU, working size)."""
    bound = next(r for r in rows if r["what"] == "onnxruntime model-only" and r["batch"] == 1
                 and r["device"] == "cpu" and r["size"] == size and r["precision"] == precision)  # fmt: skip
    ratios = {"pipeline_over_model": round(pipe["fps"] / bound["fps"], 3),
              "pipeline_over_naive": round(pipe["fps"] / naive["fps"], 3)}  # fmt: skip
    return ratios


def _precision(models: dict[str, Path], path: Path) -> str:
    return next(k for k, v in models.items() if v == path)
