"""Long runs: memory stays flat over 20,000 frames (the whole pipeline: decode, infer, overlay, encode)."""

import threading
import time
from fractions import Fraction

import av
import numpy as np
import pytest

from roadseg.pipeline import segment_video

FRAMES = 20_000


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


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


@pytest.mark.timeout(600)
def test_memory_stays_flat_over_20000_frames(rule_onnx, tmp_path):
    src = tmp_path / "long.mp4"
    write_long_video(src, FRAMES)
    samples: list[float] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append(rss_mb())
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        stats = segment_video(src, tmp_path / "o.mp4", model=rule_onnx, quiet=True, masks_dir=None,
                              stats=None, preset="ultrafast")  # fmt: skip
    finally:
        done.set()
        sampler.join()
    assert stats["frames"] == FRAMES
    warm = samples[len(samples) // 10]  # after warm-up: queues full, encoder lookahead primed
    growth = max(samples[len(samples) // 10 :]) - warm
    print(f"RSS after warm-up {warm:.1f} MB, max growth {growth:.1f} MB over {FRAMES} frames, {stats['fps']} frames/s")
    assert growth < 50
