"""Long runs: memory stays flat over 20,000 frames (the whole pipeline: decode, infer, overlay, encode)."""

import json
import subprocess
import sys
from fractions import Fraction

import av
import numpy as np
import pytest

FRAMES = 20_000


def write_long_video(path, n: int) -> None:
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=50)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        vs.options = {"preset": "ultrafast", "crf": "30"}
        base = np.zeros((48, 64, 3), np.uint8)
        base[:, :32, 0] = 255
        for i in range(n):
            img = base.copy()
            img[i % 48, :, 1] = 200
            vf = av.VideoFrame.from_ndarray(img, format="rgb24")
            vf.pts, vf.time_base = i, Fraction(1, 50)
            out.mux(vs.encode(vf))
        out.mux(vs.encode(None))


#: The run measured, in a process of its own: its resident memory sampled every 0.1 s from its start to its end (in
#: the test process, after a thousand other tests, the heap they left and any thread one left running counted too:
#: in a CI run its resident memory stood at 1.57 GB and grew 929 MB while this ran, where alone, or after all of
#: test_live.py, the run grew 8-14 MB)
RUN = """
import json, sys, threading, time
from roadseg.pipeline import segment_video
def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20
samples, done = [], threading.Event()
def sample():
    while not done.is_set():
        samples.append(rss_mb())
        time.sleep(0.1)
sampler = threading.Thread(target=sample, daemon=True)
sampler.start()
try:
    stats = segment_video(sys.argv[1], sys.argv[2], model=sys.argv[3], quiet=True, masks_dir=None, stats=None,
                          preset="ultrafast")
finally:
    done.set()
    sampler.join()
print(json.dumps({"frames": stats["frames"], "fps": stats["fps"], "samples": samples}))
"""


@pytest.mark.timeout(600)
def test_memory_stays_flat_over_20000_frames(rule_onnx, tmp_path):
    src = tmp_path / "long.mp4"
    write_long_video(src, FRAMES)
    r = subprocess.run([sys.executable, "-c", RUN, str(src), str(tmp_path / "o.mp4"), str(rule_onnx)],
                       capture_output=True, text=True, timeout=540)
    assert r.returncode == 0, r.stderr[-2000:]
    run = json.loads(r.stdout.strip().splitlines()[-1])
    samples = run["samples"]
    assert run["frames"] == FRAMES
    warm = samples[len(samples) // 10]  # after warm-up: queues full, encoder lookahead primed
    growth = max(samples[len(samples) // 10 :]) - warm
    print(f"RSS after warm-up {warm:.1f} MB, max growth {growth:.1f} MB over {FRAMES} frames, {run['fps']} frames/s")
    assert growth < 50
