"""How much of a model's accuracy survives light it did not see: CamVid val under photometric shifts.

CamVid's test split (held back) is partly dusk footage; val is daylight. This scores ONNX models side
by side on the same val frames as they are and with deterministic shifts that stand in for dusk,
glare, a colour cast, and a soft, noisy sensor. It is a proxy, not the test split: a real dusk frame
also has lights, motion blur and other cars.

    .venv/bin/python benchmarks/photometric_shift.py --data ../shared/camvid MODEL.onnx [MODEL.onnx ...]

``--tta`` adds a row per model scored as ``segment-video --tta`` runs it (mirror-image averaging).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

import cv2
import numpy as np

from roadseg.data.camvid import CamVid
from roadseg.train.evaluate import evaluate_model


def _gamma(img: np.ndarray, gamma: float, gain: float = 1.0) -> np.ndarray:
    x = (img.astype(np.float32) / 255.0) ** gamma * gain
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _soft_noisy(img: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(0)
    x = cv2.GaussianBlur(img, (5, 5), 1.2).astype(np.float32) + rng.normal(0, 8, img.shape)
    return np.clip(x, 0, 255).astype(np.uint8)


#: name -> frame transform (RGB uint8 -> RGB uint8); deterministic, so runs compare exactly
SHIFTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "as is": lambda im: im,
    "dusk (gamma 1.8, x0.6)": lambda im: _gamma(im, 1.8, 0.6),
    "glare (gamma 0.6, x1.2)": lambda im: _gamma(im, 0.6, 1.2),
    "warm cast (R x1.15, B x0.8)": lambda im: np.clip(im * np.array([1.15, 1.0, 0.8]), 0, 255).astype(np.uint8),
    "soft + noisy": _soft_noisy,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--data", required=True)
    ap.add_argument("--split", default="val")
    ap.add_argument("--limit", type=int, default=None, help="score only the first N frames")
    ap.add_argument("--json", help="write the table here too")
    ap.add_argument("--tta", action="store_true", help="also score each model with flip test-time augmentation")
    args = ap.parse_args()
    ds = CamVid(args.data, args.split)
    n = len(ds) if args.limit is None else min(args.limit, len(ds))
    pairs = [ds[i] for i in range(n)]
    images, labels = [p[0] for p in pairs], [p[1] for p in pairs]
    table: dict[str, dict[str, float]] = {}
    for name, shift in SHIFTS.items():
        shifted = [shift(im) for im in images]
        for model in args.models:
            for tta in (False, True) if args.tta else (False,):
                r = evaluate_model(model, None, f"{args.split} ({name})", samples=(shifted, labels), tta=tta)
                table.setdefault(r["model"], {})[name] = round(100 * r["miou"], 2)
    width = max(len(m) for m in table)
    print(f"mIoU on {n} {args.split} frames".ljust(width), *(f"{s:>28}" for s in SHIFTS))
    for model, row in table.items():
        print(model.ljust(width), *(f"{row[s]:>28.2f}" for s in SHIFTS))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"split": args.split, "frames": n, "miou": table}, f, indent=1)


if __name__ == "__main__":
    main()
