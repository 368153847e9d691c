"""How long a stopped run takes to finish its output, by picture size: what the 2 s a Ctrl-C is given goes to.

Part ``flush``: a :class:`~roadseg.pipeline.sinks.video.VideoSink` given ``--frames`` pictures of the sample clip
(scaled), then closed: the seconds its :meth:`~roadseg.pipeline.sinks.video.VideoSink.close` takes (x264's flush of
the pictures it holds for its B-frames, then the trailer, an mp4's index moved first), against the same encoder
without B-frames (``bf=0``: one picture held) in the same rounds, with each one's size and PSNR (the price of a
shorter stop for every run). Part ``faststart``: an mp4's trailer with its index moved first (the whole file copied
behind it) against one left at the end, by file size. Part ``stop``: ``segment-video`` with a rule model (``tests``'
``rule_model``; ``--model`` for another) sent SIGINT mid-run: seconds from the signal to the exit, and its ``--stats``
``finalise`` stage. Every figure is the median of ``--repeats`` runs after a warm-up; the load average is printed
beside each, as other work on the machine slows the flush as much as the size does.

    PYTHONPATH=. python benchmarks/stop_time.py [--sizes 720 1080 2160] [--parts flush faststart stop] [--repeats 3]
"""

from __future__ import annotations

import argparse
import glob
import json
import logging
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from conftest import rule_model  # noqa: E402 - the tests' own model

from roadseg.pipeline.sinks.video import VideoSink  # noqa: E402

SAMPLE = ROOT / "sample_videos" / "udacity-highway-1280x720.mp4"
WIDTHS = {720: 1280, 1080: 1920, 2160: 3840}


def pictures(height: int, n: int) -> list[np.ndarray]:
    """``n`` pictures of the sample clip (a highway, moving) scaled to ``height`` (16:9), RGB."""
    out = []
    with av.open(str(SAMPLE)) as c:
        for frame in c.decode(video=0):
            out.append(cv2.resize(frame.to_ndarray(format="rgb24"), (WIDTHS[height], height),
                                  interpolation=cv2.INTER_LINEAR))  # fmt: skip
            if len(out) == n:
                break
    return out


def psnr(path: Path, originals: list[np.ndarray]) -> float:
    """Mean PSNR of ``path``'s pictures against ``originals``."""
    with av.open(str(path)) as c:
        errors = [np.mean((f.to_ndarray(format="rgb24").astype(np.float32) - o) ** 2)
                  for f, o in zip(c.decode(video=0), originals)]  # fmt: skip
    return float(10 * np.log10(255**2 / max(np.mean(errors), 1e-9)))


class NoBFrames(VideoSink):
    """The baseline: x264 without B-frames (one picture held, not four)."""

    def _set_encoder(self) -> None:
        super()._set_encoder()
        self.stream.options = {**self.stream.options, "bf": "0"}


def closed(path: Path, images: list[np.ndarray], no_bframes: bool) -> tuple[float, int, float]:
    """(seconds ``close`` takes, pictures the encoder held then, seconds a picture's ``write`` took) of a sink given
    ``images``."""
    sink = (NoBFrames if no_bframes else VideoSink)(path, width=images[0].shape[1], height=images[0].shape[0],
                                                    fps=Fraction(25))  # fmt: skip
    t = time.perf_counter()
    for image in images:
        sink.write(image)
    written = (time.perf_counter() - t) / len(images)
    held = sink.written - sink._muxed
    t = time.perf_counter()
    sink.close()
    return time.perf_counter() - t, held, written


def flush_part(sizes: list[int], frames: int, repeats: int, work: Path) -> None:
    print("| size | encoder | pictures held | close s (median) | runs | write ms/picture | MB | PSNR dB | load |")
    print("|---|---|---|---|---|---|---|---|---|")
    for height in sizes:
        images = pictures(height, frames)
        runs: dict[bool, list[float]] = {False: [], True: []}
        writes: dict[bool, list[float]] = {False: [], True: []}
        held = {}
        for r in range(repeats + 1):  # (round 0: the warm-up)
            for no_b in (False, True):  # (in turn: both see the same load)
                seconds, held[no_b], write = closed(work / f"f{int(no_b)}.mp4", images, no_b)
                if r:
                    runs[no_b].append(seconds)
                    writes[no_b].append(write)
        for no_b in (False, True):
            path = work / f"f{int(no_b)}.mp4"
            print(f"| {height}p | x264 superfast{', bf=0 (baseline)' if no_b else ''} | {held[no_b]} | "
                  f"**{statistics.median(runs[no_b]):.3f}** | {', '.join(f'{s:.2f}' for s in runs[no_b])} | "
                  f"{statistics.median(writes[no_b]) * 1000:.0f} | "
                  f"{path.stat().st_size / 1e6:.2f} | {psnr(path, images):.2f} | {os.getloadavg()[0]:.1f} |")


def faststart_part(megabytes: list[int], repeats: int, work: Path) -> None:
    print("\n| file MB | trailer, index moved first s (median) | trailer, index at the end s | load |")
    print("|---|---|---|---|")
    template = work / "t.mp4"
    with av.open(str(template), "w") as out:  # (pictures of noise: about 1 MB a packet)
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt, vs.options = 1920, 1080, "yuv420p", {"preset": "ultrafast", "crf": "10"}
        for i, image in enumerate(np.random.default_rng(0).integers(0, 256, (10, 1080, 1920, 3), dtype=np.uint8)):
            f = av.VideoFrame.from_ndarray(image, format="rgb24")
            f.pts = i
            out.mux(vs.encode(f))
        out.mux(vs.encode(None))
    with av.open(str(template)) as c:
        packets = [p for p in c.demux(c.streams.video[0]) if p.dts is not None]
        for mb in megabytes:
            runs: dict[bool, list[float]] = {True: [], False: []}
            for r in range(repeats + 1):
                for first in (True, False):
                    path = work / "fs.mp4"
                    out = av.open(str(path), "w", options={"movflags": "+faststart"} if first else {})
                    stream = out.add_stream_from_template(c.streams.video[0])
                    i = size = 0
                    while size < mb * 1e6:
                        p = packets[i % len(packets)]
                        q = av.Packet(bytes(p))
                        q.stream, q.time_base, q.pts = stream, p.time_base, p.pts + (i // len(packets)) * 5120
                        q.dts, q.is_keyframe = p.dts + (i // len(packets)) * 5120, p.is_keyframe
                        out.mux(q)
                        i, size = i + 1, size + q.size
                    t = time.perf_counter()
                    out.close()
                    if r:
                        runs[first].append(time.perf_counter() - t)
                    path.unlink()
            print(f"| {mb} | **{statistics.median(runs[True]):.3f}** | {statistics.median(runs[False]):.3f} | "
                  f"{os.getloadavg()[0]:.1f} |")


def clip(height: int, n: int, path: Path) -> Path:
    """The sample clip scaled to ``height``, ``n`` pictures (repeated), x264 with 48 kHz AAC sound."""
    images = pictures(height, min(n, 120))
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt, vs.options = WIDTHS[height], height, "yuv420p", {"preset": "ultrafast"}
        au = out.add_stream("aac", rate=48000)
        au.layout = "mono"
        apts = 0
        for i in range(n):
            f = av.VideoFrame.from_ndarray(images[i % len(images)], format="rgb24")
            f.pts = i
            out.mux(vs.encode(f))
            while apts < (i + 1) * 48000 / 25:
                af = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
                af.sample_rate, af.pts = 48000, apts
                out.mux(au.encode(af))
                apts += 1024
        out.mux(vs.encode(None))
        out.mux(au.encode(None))
    return path


def stopped(src: Path, model: Path, work: Path, after: float) -> tuple[float, float, int]:
    """(seconds from SIGINT to the exit, the ``finalise`` stage's seconds, frames kept) of ``segment-video`` on
    ``src``, signalled ``after`` s once its output is there."""
    out, stats = work / "o.mp4", work / "s.json"
    cmd = [sys.executable, "-m", "roadseg", "segment", str(src), "-o", str(out), "--model", str(model), "-q", "-y",
           "--stats", str(stats)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    deadline = time.monotonic() + 120
    while not glob.glob(str(work / ".o.mp4.part-*")) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(after)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    seconds = time.monotonic() - t0
    if proc.returncode != 130:
        raise RuntimeError(f"exit {proc.returncode}: {err[-500:]}")
    figures = json.loads(stats.read_text())
    return seconds, figures["stages"]["finalise"]["seconds"], figures["frames"]


def stop_part(sizes: list[int], repeats: int, model: Path | None, work: Path) -> None:
    model = model or rule_model(work / "rule.onnx")
    print(f"\n`segment-video --model {model.name}`, SIGINT 3 s into its output:\n")
    print("| size | signal to exit s (median) | runs | finalise s (median) | frames kept | load |")
    print("|---|---|---|---|---|---|")
    for height in sizes:
        src = clip(height, {720: 750, 1080: 500}.get(height, 150), work / f"in{height}.mp4")
        runs = [stopped(src, model, work, 3.0) for _ in range(repeats + 1)][1:]
        print(f"| {height}p | **{statistics.median(r[0] for r in runs):.2f}** | "
              f"{', '.join(f'{r[0]:.2f}' for r in runs)} | {statistics.median(r[1] for r in runs):.2f} | "
              f"{', '.join(str(r[2]) for r in runs)} | {os.getloadavg()[0]:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[720, 1080, 2160], choices=sorted(WIDTHS))
    parser.add_argument("--parts", nargs="+", default=["flush", "faststart", "stop"])
    parser.add_argument("--frames", type=int, default=60, help="pictures given to the sink before it is closed")
    parser.add_argument("--megabytes", type=int, nargs="+", default=[100, 500, 2000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", type=Path, help="for the stop part [default: a rule model, whose inference is "
                        "nothing]")  # fmt: skip
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start\n")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if "flush" in args.parts:
            flush_part(args.sizes, args.frames, args.repeats, work)
        if "faststart" in args.parts:
            faststart_part(args.megabytes, args.repeats, work)
        if "stop" in args.parts:
            stop_part(args.sizes, args.repeats, args.model, work)


if __name__ == "__main__":
    main()
