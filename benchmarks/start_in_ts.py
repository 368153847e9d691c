"""What ``--start`` near the end of a long MPEG-TS costs, against what a seek by the file's own clock would.

A transport stream is read up to ``--start`` without decoding (``VideoSource._up_to_start``), as its clock
may start again midway and ``--start`` counts on its one timeline (DEVELOPERS.md). This builds a TS of
``--minutes`` of small frames (128x96, 25 frames/s, AAC) and times, interleaved, median of ``--repeats`` after a
round not counted (the warm-up):

* ``VideoSource``: its first frame at ``--start`` (the end of the file less 10 s), and the 2-s window read;
* demux only: every packet before ``--start`` read, nothing done with it (the floor of reading up to it);
* own-clock seek: ``container.seek`` there and the first picture decoded (what a seek would cost).

    PYTHONPATH=. python benchmarks/start_in_ts.py --minutes 10 --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import split_frames, write_video  # noqa: E402 - the tests' own writer

from roadseg.pipeline.sources.file import VideoSource  # noqa: E402
from roadseg.tools.report import machine_line  # noqa: E402


def source(path: Path, start: float) -> tuple[float, float]:
    t0 = time.perf_counter()
    with VideoSource(path, start=start, duration=2.0) as src:
        first = time.perf_counter() - t0
        sum(1 for _ in src)
    return first, time.perf_counter() - t0


def demux_only(path: Path, start: float) -> float:
    t0 = time.perf_counter()
    with av.open(str(path)) as c:
        end = c.start_time / av.time_base + start
        for p in c.demux():
            if p.stream.type == "video" and p.dts is not None and float(p.dts * p.time_base) >= end:
                break
    return time.perf_counter() - t0


def seek(path: Path, start: float) -> float:
    t0 = time.perf_counter()
    with av.open(str(path)) as c:
        c.seek(int(c.start_time + start * av.time_base), backward=True, any_frame=False)
        next(c.decode(video=0))
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(machine_line())
    with tempfile.TemporaryDirectory() as tmp:
        n, base = int(args.minutes * 60 * 25), split_frames(50, h=96, w=128)
        path = write_video(Path(tmp) / "long.ts", [np.roll(base[i % 50], i // 50, axis=1) for i in range(n)],
                           audio_seconds=n / 25)  # fmt: skip
        start = n / 25 - 10.0
        with av.open(str(path)) as c:
            packets = sum(1 for _ in c.demux())
        print(f"{args.minutes:g} min of 128x96 TS, {path.stat().st_size / 1e6:.1f} MB, {packets} packets; --start {start:g}")
        runs: dict[str, list[float]] = {"first frame": [], "window read": [], "demux only": [], "own-clock seek": []}
        for r in range(args.repeats + 1):
            first, whole = source(path, start)
            took = {"first frame": first, "window read": whole, "demux only": demux_only(path, start),
                    "own-clock seek": seek(path, start)}  # fmt: skip
            for what, seconds in took.items() if r else ():  # (round 0: the warm-up)
                runs[what].append(seconds)
        for what, times in runs.items():
            print(f"{what:>15}: {statistics.median(times):.3f} s (of {', '.join(f'{t:.2f}' for t in times)})")


if __name__ == "__main__":
    main()
