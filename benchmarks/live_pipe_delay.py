"""How late a live run's pictures reach a reader of ``-o -`` (standard output, Matroska), with and without sound.

A Matroska file of ``--seconds`` of 160x120 pictures at 25 frames/s is played ``--live`` (paced at its own rate) by
``python -m roadseg segment FILE --live -o -`` with a tiny rule model (inference costs next to nothing), in three
layouts: no sound; AAC stored beside its pictures (by time, as a muxer interleaves it); and AAC stored late, each
``--chunk`` seconds of it after the pictures of those seconds (as a camera or a network stream may send its sound).
A reader thread on the pipe notes when each read came; each picture's block is given the time its last byte came,
and its delay is that less when it was paced: the first picture's capture time (``Frame.captured``, which the run
prints; ``time.monotonic()`` is the machine's clock) plus its timestamp (the capture clock from the first picture).
The delay holds the pipeline's (decode, inference, encode), the same for both options. Bursts: the share of
pictures that came within 5 ms of the one before (paced, they are 40 ms apart).

Each layout runs under the Matroska options of the live pipe now (:data:`~roadseg.pipeline.sinks.formats.LIVE_PIPE`)
and as they were (``BEFORE``), in turn, round by round, for ratios on one machine:

    PYTHONPATH=. python benchmarks/live_pipe_delay.py --seconds 8 --rounds 3

``--output fifo`` writes into a named pipe (``mkfifo``, no suffix: Matroska) that the reader thread opens, as
``ffplay /tmp/x.fifo`` would, and ``--output fifo.ts`` into one named ``.ts`` (MPEG-TS: each picture's PES, timed by
its PTS from the first one's); there "before" is a named pipe as it was written before it got the live pipe's
settings (:func:`~roadseg.pipeline.sinks.formats.live_pipe_options`): FFmpeg's buffers and interleaving, and x264 not
tuned for zero latency (its B-frames held each picture for the ones after it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import matroska_blocks, rule_model, sound_late, split_frames, write_video  # noqa: E402 - the tests' own

from roadseg.pipeline.sinks.formats import LIVE_PIPE  # noqa: E402
from roadseg.tools.report import machine_line  # noqa: E402

BEFORE = {"flush_packets": "1", "cluster_time_limit": "0"}  # LIVE_PIPE before max_interleave_delta was set
CHILD = """
import json, os, sys
import roadseg.pipeline.sinks.formats as f
import roadseg.pipeline.sinks.video as v
f.LIVE_PIPE = json.loads(os.environ["LIVE_PIPE_OPTIONS"])  # (where live_pipe_options looks it up)
if os.environ.get("FIFO_BEFORE"):  # a named pipe written as a file is (as before live_pipe_options)
    v.VideoSink._live_pipe = lambda self: self.wall_clock and self.to_stdout
write = v.VideoSink.write
def told(self, image, frame=None):  # when the first picture written was paced (time.monotonic(): the machine's clock)
    if self.written == 0 and frame is not None:
        print("captured", frame.captured, file=sys.stderr, flush=True)
    write(self, image, frame)
v.VideoSink.write = told
from roadseg.cli import main
main()
"""  # fmt: skip


def ts_pictures(data: bytes) -> list[tuple[int, int, int]]:
    """(1, timestamp in ms from the first picture's, offset of its last byte) of each video PES of an MPEG-TS stream
    (FFmpeg's first video PID, 0x100), in stream order, as :func:`matroska_blocks` gives a Matroska stream's pictures."""
    found = []  # [pts in 90 kHz ticks, offset of the last byte of its last TS packet]
    for at in range(0, len(data) - 187, 188):
        ts = data[at : at + 188]
        if ts[0] != 0x47 or (ts[1] & 0x1F) << 8 | ts[2] != 0x100:
            continue
        if ts[1] & 0x40:  # (a PES begins: its PTS)
            p = 4 + (1 + ts[4] if ts[3] & 0x20 else 0) + 9
            pts = (ts[p] >> 1 & 7) << 30 | ts[p + 1] << 22 | (ts[p + 2] >> 1) << 15 | ts[p + 3] << 7 | ts[p + 4] >> 1
            found.append([pts, 0])
        if found:
            found[-1][1] = at + 187
    first = min((pts for pts, _ in found), default=0)
    return [(1, (pts - first) // 90, last) for pts, last in found]


def run_once(clip: Path, model: Path, options: dict, output: str = "-", before: bool = False) -> dict:
    """One live run of ``clip`` to a pipe under Matroska ``options`` (``output`` a named pipe's path: as it was
    written ``before`` or now): its pictures' delays and bursts."""
    env = {**os.environ, "LIVE_PIPE_OPTIONS": json.dumps(options), **({"FIFO_BEFORE": "1"} if before else {})}
    cmd = [sys.executable, "-c", CHILD, "segment", str(clip), "--model", str(model), "-o", output, "-q", "--live"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE if output == "-" else subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env)  # fmt: skip
    data, reads = bytearray(), []  # (offset after the read, when it came)

    def read() -> None:
        with open(output, "rb", buffering=0) if output != "-" else contextlib.nullcontext(proc.stdout) as pipe:
            while chunk := os.read(pipe.fileno(), 1 << 16):
                reads.append((len(data) + len(chunk), time.monotonic()))
                data.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    reader.join(10)
    assert proc.returncode == 0, err
    paced = float(err.split("captured ", 1)[1].split()[0])
    found = ts_pictures(bytes(data)) if output.endswith(".ts") else matroska_blocks(bytes(data))
    came = [(ms, next(t for end, t in reads if end > last)) for track, ms, last in found if track == 1]
    delays = sorted(1000 * (t - paced - ms / 1000) for ms, t in came)
    gaps = [b - a for (_, a), (_, b) in zip(came, came[1:])]
    return {"pictures": len(came), "audio_blocks": sum(track == 2 for track, _, _ in found),  # (none counted in TS)
            "median_ms": statistics.median(delays), "p95_ms": delays[int(0.95 * (len(delays) - 1))],
            "max_ms": delays[-1], "burst_share": sum(g < 0.005 for g in gaps) / len(gaps)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=8.0, help="the clip's length (under 10 s: interleaved by time)")
    ap.add_argument("--chunk", type=float, default=1.0, help="seconds of sound stored after their pictures")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--output", choices=("-", "fifo", "fifo.ts"), default="-",
                    help="standard output, or a named pipe (no suffix: Matroska; .ts: MPEG-TS)")  # fmt: skip
    args = ap.parse_args()
    print(machine_line(), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        output = "-" if args.output == "-" else str(work / args.output)
        if output != "-":
            os.mkfifo(output)
        model = rule_model(work / "rule.onnx")
        frames = split_frames(round(25 * args.seconds), h=120, w=160)
        timely = write_video(work / "timely.mkv", frames, audio_seconds=args.seconds)
        clips = {"no sound": write_video(work / "silent.mkv", frames), "sound by time": timely,
                 f"sound {args.chunk:g} s late": sound_late(timely, work / "late.mkv", args.chunk)}  # fmt: skip
        results: dict[str, dict[str, list[dict]]] = {name: {"before": [], "now": []} for name in clips}
        for _ in range(args.rounds):
            for name, clip in clips.items():
                for label, options in (("before", BEFORE if output == "-" else LIVE_PIPE), ("now", LIVE_PIPE)):
                    results[name][label].append(run_once(clip, model, options, output, label == "before"))
    print(f"medians over {args.rounds} round(s) of each run's median and p95 delay; max: of all runs; bursts: the share"
          " of pictures within 5 ms of the one before")  # fmt: skip
    print(f"{'layout':<18} {'options':<7} {'median ms':>9} {'p95 ms':>7} {'max ms':>7} {'bursts':>6}  pictures, audio blocks")
    for name, by in results.items():
        for label, runs in by.items():
            print(f"{name:<18} {label:<7} {statistics.median(r['median_ms'] for r in runs):9.1f} "
                  f"{statistics.median(r['p95_ms'] for r in runs):7.1f} {max(r['max_ms'] for r in runs):7.1f} "
                  f"{statistics.median(r['burst_share'] for r in runs):6.2f}  "
                  f"{[(r['pictures'], r['audio_blocks']) for r in runs]}")  # fmt: skip
    short = sorted({f"{name} {label}" for name, by in results.items() for label, runs in by.items()
                    for r in runs if r["pictures"] < len(frames)})  # fmt: skip
    if short:  # (a delay is of the pictures that came: one that never did is in no median)
        print(f"warning: fewer than the clip's {len(frames)} pictures reached the reader in: {', '.join(short)}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
