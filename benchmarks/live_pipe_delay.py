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

Each layout runs under the Matroska options of the live pipe now (:data:`~roadseg.pipeline.sinks.video.LIVE_PIPE`)
and as they were (``BEFORE``), in turn, round by round, for ratios on one machine:

    PYTHONPATH=. python benchmarks/live_pipe_delay.py --seconds 8 --rounds 3
"""

from __future__ import annotations

import argparse
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

from roadseg.pipeline.sinks.video import LIVE_PIPE  # noqa: E402

BEFORE = {"flush_packets": "1", "cluster_time_limit": "0"}  # LIVE_PIPE before max_interleave_delta was set
CHILD = """
import json, os, sys
import roadseg.pipeline.sinks.video as v
v.LIVE_PIPE = json.loads(os.environ["LIVE_PIPE_OPTIONS"])
write = v.VideoSink.write
def told(self, image, frame=None):  # when the first picture written was paced (time.monotonic(): the machine's clock)
    if self.written == 0 and frame is not None:
        print("captured", frame.captured, file=sys.stderr, flush=True)
    write(self, image, frame)
v.VideoSink.write = told
from roadseg.cli import main
main()
"""  # fmt: skip


def run_once(clip: Path, model: Path, options: dict) -> dict:
    """One live run of ``clip`` to a pipe under Matroska ``options``: its pictures' delays and bursts."""
    env = {**os.environ, "LIVE_PIPE_OPTIONS": json.dumps(options)}
    cmd = [sys.executable, "-c", CHILD, "segment", str(clip), "--model", str(model), "-o", "-", "-q", "--live"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    data, reads = bytearray(), []  # (offset after the read, when it came)

    def read() -> None:
        fd = proc.stdout.fileno()
        while chunk := os.read(fd, 1 << 16):
            reads.append((len(data) + len(chunk), time.monotonic()))
            data.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    reader.join(10)
    assert proc.returncode == 0, err
    paced = float(err.split("captured ", 1)[1].split()[0])
    found = matroska_blocks(bytes(data))
    came = [(ms, next(t for end, t in reads if end > last)) for track, ms, last in found if track == 1]
    delays = sorted(1000 * (t - paced - ms / 1000) for ms, t in came)
    gaps = [b - a for (_, a), (_, b) in zip(came, came[1:])]
    return {"pictures": len(came), "audio_blocks": sum(track == 2 for track, _, _ in found),
            "median_ms": statistics.median(delays), "p95_ms": delays[int(0.95 * (len(delays) - 1))],
            "max_ms": delays[-1], "burst_share": sum(g < 0.005 for g in gaps) / len(gaps)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=8.0, help="the clip's length (under 10 s: interleaved by time)")
    ap.add_argument("--chunk", type=float, default=1.0, help="seconds of sound stored after their pictures")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = rule_model(work / "rule.onnx")
        frames = split_frames(round(25 * args.seconds), h=120, w=160)
        timely = write_video(work / "timely.mkv", frames, audio_seconds=args.seconds)
        clips = {"no sound": write_video(work / "silent.mkv", frames), "sound by time": timely,
                 f"sound {args.chunk:g} s late": sound_late(timely, work / "late.mkv", args.chunk)}  # fmt: skip
        results: dict[str, dict[str, list[dict]]] = {name: {"before": [], "now": []} for name in clips}
        for _ in range(args.rounds):
            for name, clip in clips.items():
                for label, options in (("before", BEFORE), ("now", LIVE_PIPE)):
                    results[name][label].append(run_once(clip, model, options))
    print(f"{'layout':<18} {'options':<7} {'median ms':>9} {'p95 ms':>7} {'max ms':>7} {'bursts':>6}  pictures, audio blocks")
    for name, by in results.items():
        for label, runs in by.items():
            print(f"{name:<18} {label:<7} {statistics.median(r['median_ms'] for r in runs):9.1f} "
                  f"{statistics.median(r['p95_ms'] for r in runs):7.1f} {max(r['max_ms'] for r in runs):7.1f} "
                  f"{statistics.median(r['burst_share'] for r in runs):6.2f}  "
                  f"{[(r['pictures'], r['audio_blocks']) for r in runs]}")  # fmt: skip
    print(json.dumps(results))


if __name__ == "__main__":
    main()
