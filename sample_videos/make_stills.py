"""Render the README's two pictures from the real sample clip with the shipped model.

* ``docs/overlay.png``: one frame of ``segment-video --legend`` on the Udacity highway clip;
* ``docs/live-view.png``: the browser live view (``--serve``) of the same clip, as headless Chromium
  shows it (the clip is looped to 15 s so that the page has frames and figures to show).

Run it again whenever the shipped model changes (``make stills``); it is not part of CI. The
second picture needs ``chromium`` on PATH (``make test`` installs it as root).

    .venv/bin/python sample_videos/make_stills.py [--frame 19] [--width 640]
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import av
import cv2

HERE = Path(__file__).resolve().parent
CLIP = HERE / "udacity-highway-1280x720.mp4"
DOCS = HERE.parent / "docs"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]  # fmt: skip


def overlay_still(out: Path, work: Path, frame: int, width: int) -> None:
    """Segment the clip as a user would (overlay and legend) and keep one frame, ``width`` pixels wide."""
    from roadseg import segment_video

    video = work / "overlay.mp4"
    segment_video(CLIP, video, legend=True, crf=16, overwrite=True, quiet=True)
    with av.open(str(video)) as c:
        image = next(f for i, f in enumerate(c.decode(video=0)) if i == frame).to_ndarray(format="bgr24")
    _save(out, image, width)


def live_view(out: Path, work: Path, width: int) -> None:
    """Serve the looped clip with ``--live --serve`` and screenshot the page with headless Chromium."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium is not on PATH (make test installs it as root); docs/live-view.png not made")
    looped = _loop(CLIP, work / "looped.mp4", times=10)
    port = _free_port()
    cmd = [sys.executable, "-m", "roadseg", "segment", str(looped), "--live", "--serve", f"127.0.0.1:{port}", "-q"]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_frames(port, frames=20, timeout=60)
        shot = work / "page.png"
        subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={work / 'profile'}", "--window-size=1000,720",
                        "--virtual-time-budget=3000", "--timeout=6000", f"--screenshot={shot}",
                        f"http://127.0.0.1:{port}/"], capture_output=True, timeout=120, check=True)  # fmt: skip
        _save(out, cv2.imread(str(shot)), width)
    finally:
        server.terminate()
        server.wait(timeout=10)


def _loop(src: Path, dst: Path, times: int) -> Path:
    """``src``'s video packets ``times`` over, one after another (a longer clip for the live view)."""
    with av.open(str(src)) as i, av.open(str(dst), "w") as o:
        stream = i.streams.video[0]
        out = o.add_stream_from_template(stream)
        packets = [p for p in i.demux(stream) if p.size]
        span = max(p.pts + p.duration for p in packets) - min(p.pts for p in packets)
        for k in range(times):
            for p in packets:
                copy = av.Packet(bytes(p))
                copy.pts, copy.dts, copy.time_base = p.pts + k * span, p.dts + k * span, p.time_base
                copy.is_keyframe, copy.stream = p.is_keyframe, out
                o.mux(copy)
    return dst


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_frames(port: int, frames: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats.json", timeout=2) as r:
                if json.load(r).get("frames", 0) >= frames:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the live view on port {port} showed no frames within {timeout:.0f} s")


def _save(out: Path, bgr, width: int) -> None:
    h, w = bgr.shape[:2]
    small = cv2.resize(bgr, (width, round(h * width / w)), interpolation=cv2.INTER_AREA)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), small, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {out} ({small.shape[1]}x{small.shape[0]}, {out.stat().st_size // 1024} KB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frame", type=int, default=19, help="frame of the clip for the overlay still")
    parser.add_argument("--width", type=int, default=640, help="width of both pictures in pixels")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        overlay_still(DOCS / "overlay.png", Path(tmp), args.frame, args.width)
        live_view(DOCS / "live-view.png", Path(tmp), args.width)


if __name__ == "__main__":
    main()
