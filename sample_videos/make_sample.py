"""Render the sample clip: a procedurally drawn drive down a street, with an engine-hum audio track.

Nothing here comes from a dataset: sky, buildings, trees, poles, pavement, a road with moving lane
marks and a few cars are drawn with OpenCV, and a synthetic hum is encoded as AAC. The clip is
meant for trying the tool and for tests, not for judging accuracy (use CamVid for that).

    python sample_videos/make_sample.py                      # sample_videos/road.mp4, 960x540, 5 s
    python sample_videos/make_sample.py -o my.mp4 --seconds 20 --size 1280x720 --fps 30000/1001
"""

from __future__ import annotations

import argparse
from fractions import Fraction

import av
import cv2
import numpy as np


def draw_frame(t: float, w: int, h: int, rng_seed: int = 7) -> np.ndarray:
    """One RGB frame of the drive at time ``t`` seconds."""
    rng = np.random.default_rng(rng_seed)
    img = np.zeros((h, w, 3), np.uint8)
    horizon = int(h * 0.45)
    # sky: a vertical gradient
    grad = np.linspace(0, 1, horizon)[:, None, None]
    img[:horizon] = ((1 - grad) * np.array([110, 160, 225]) + grad * np.array([200, 215, 235])).astype(np.uint8)
    vx, speed = w // 2, 120.0  # vanishing point, scroll speed in px/s at the bottom
    # buildings on both sides, scrolling outward
    for side in (-1, 1):
        for k in range(12):
            base = (k * 160 + speed * t * 1.5) % (12 * 160)
            x0 = int(vx + side * (40 + base * 0.35))
            bw = int(30 + base * 0.18)
            top = int(horizon - 40 - base * 0.35 - rng.integers(0, 60))
            col = tuple(int(c) for c in rng.integers(90, 170, 3))
            xa, xb = sorted((x0, x0 + side * bw))
            cv2.rectangle(img, (xa, max(0, top)), (xb, horizon + int(base * 0.12)), col, -1)
            for wy in range(max(0, top) + 10, horizon, 18):  # windows
                cv2.line(img, (xa + 4, wy), (xb - 4, wy), (60, 70, 90), 3)
    # pavement and road (a trapezoid)
    road = np.array([[vx - 20, horizon], [vx + 20, horizon], [w + w // 3, h], [-w // 3, h]], np.int32)
    walk_l = np.array([[vx - 20, horizon], [vx - 35, horizon], [-w, h], [-w // 3, h]], np.int32)
    walk_r = np.array([[vx + 20, horizon], [vx + 35, horizon], [2 * w, h], [w + w // 3, h]], np.int32)
    img[horizon:] = (70, 110, 60)
    cv2.fillPoly(img, [walk_l, walk_r], (170, 160, 150))
    cv2.fillPoly(img, [road], (95, 90, 100))
    # dashed centre line moving towards the viewer
    for k in range(8):
        z = ((k / 8) + t * 0.6) % 1.0
        y0, y1 = horizon + (h - horizon) * z**2, horizon + (h - horizon) * min(1, (z + 0.05) ** 2)
        half = 2 + 10 * z
        cv2.fillPoly(img, [np.array([[vx - half, y0], [vx + half, y0], [vx + half, y1], [vx - half, y1]], np.int32)],
                     (235, 235, 235))  # fmt: skip
    # trees and poles along the pavement
    for k in range(6):
        z = ((k / 6) + t * 0.3) % 1.0
        y = int(horizon + (h - horizon) * z**2)
        s = 4 + 70 * z**2
        for side in (-1, 1):
            x = int(vx + side * (40 + (w * 0.75) * z**2))
            cv2.line(img, (x, y), (x, int(y - 6 * s)), (60, 60, 60), max(1, int(s / 6)))  # pole
            cv2.circle(img, (x + side * int(2 * s), int(y - 4 * s)), int(1.5 * s), (40, 120, 40), -1)  # tree
    # cars ahead, drifting slowly
    for _k, (lane, phase, col) in enumerate([(-0.5, 0.1, (180, 30, 30)), (0.55, 0.55, (30, 60, 170)),
                                            (-0.45, 0.8, (220, 220, 220))]):  # fmt: skip
        z = 0.25 + 0.5 * ((phase + 0.07 * t) % 1.0)
        y = int(horizon + (h - horizon) * z**2)
        cw = int(20 + 260 * z**2)
        x = int(vx + lane * (w * 0.7) * z**2)
        cv2.rectangle(img, (x - cw // 2, y - int(cw * 0.7)), (x + cw // 2, y), col, -1)
        cv2.rectangle(img, (x - cw // 3, y - int(cw * 0.65)), (x + cw // 3, y - int(cw * 0.4)), (40, 50, 60), -1)
        for wx in (x - cw // 3, x + cw // 3):
            cv2.circle(img, (wx, y), max(2, cw // 8), (20, 20, 20), -1)
    # sensor noise, so the encoder sees something camera-like
    noise = np.random.default_rng(int(t * 1000)).integers(-6, 7, img.shape, dtype=np.int16)
    return np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def write_clip(path: str, *, seconds: float, width: int, height: int, fps: Fraction, audio: bool = True) -> int:
    """Write the clip; returns the number of video frames."""
    n = int(round(seconds * fps))
    with av.open(path, "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.options = {"crf": "26", "preset": "medium"}
        sr = 48000
        if audio:
            aus = out.add_stream("aac", rate=sr)
            aus.layout = "stereo"
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(draw_frame(float(i / fps), width, height), format="rgb24")
            frame.pts = i
            frame.time_base = 1 / fps
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
        if audio:
            t = np.arange(int(seconds * sr)) / sr
            hum = 0.2 * np.sin(2 * np.pi * 90 * t) * (1 + 0.3 * np.sin(2 * np.pi * 0.5 * t))
            samples = np.stack([hum, hum]).astype(np.float32)
            for start in range(0, samples.shape[1], 1024):
                chunk = np.ascontiguousarray(samples[:, start : start + 1024])
                af = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
                af.sample_rate, af.pts, af.time_base = sr, start, Fraction(1, sr)
                out.mux(aus.encode(af))
            out.mux(aus.encode(None))
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", default="sample_videos/road.mp4")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--size", default="960x540", help="WxH")
    ap.add_argument("--fps", default="30", help="frame rate, e.g. 30 or 30000/1001")
    ap.add_argument("--no-audio", action="store_true")
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.lower().split("x"))
    n = write_clip(a.output, seconds=a.seconds, width=w, height=h, fps=Fraction(a.fps), audio=not a.no_audio)
    print(f"wrote {a.output}: {n} frames, {w}x{h} at {a.fps} fps")


if __name__ == "__main__":
    main()
