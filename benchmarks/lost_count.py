"""How true the "N of about M frames could not be decoded" line is over the fuzz cases: for each case (built as
``tests/fuzzing.py`` builds it), the file is read through ``VideoSource`` as the pipeline reads it, and the count
told (``source.lost``, or the frames expected less those out where that is more, as ``outcome.run_result`` tells it) is
set against the pictures really missing: the clean file's pictures less the frames out (none where more came out).
Prints the cases told more (over) and the count of those told fewer (under). ``tsb`` (not by default) reads the
TS clip with B-frames (``fuzzing.B_FRAMED``), its one kind, ``stamps``; ``avi`` (a dashcam's MJPEG) and ``mov`` (a
phone's HEVC) are not read by default either. ``--fps N`` reads each file, the clean ones too, with that cap
(``VideoSource(fps=N)``): the pictures lost are then told as the slots they left empty.

    PYTHONPATH=. python benchmarks/lost_count.py --seeds 25 [--containers ts cat catleap mkv mp4 tsb avi mov] [--fps N] [-v]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

import av

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import fuzzing  # noqa: E402 - the tests' own cases

from roadseg.pipeline.outcome import told_lost  # noqa: E402
from roadseg.pipeline.sources.file import VideoSource  # noqa: E402


def told(path: Path, fps: float | None = None) -> tuple[int, int] | None:
    """(frames out, frames told lost, as a run tells them: :func:`~roadseg.pipeline.outcome.told_lost`) of ``path``
    read with ``--fps``' cap ``fps``; None where it is refused or breaks."""
    try:
        with VideoSource(str(path), fps=fps) as source:
            expected = source.expected_frames()
            frames = sum(1 for item in source if not isinstance(item, av.Packet))
            if expected and (known := source.expected_frames()) is not None:
                expected = known if source.restarted else min(expected, known)
            lost = source.lost
    except Exception:  # noqa: BLE001 - a refused file is the checker's, not this count's
        return None
    return frames, told_lost(expected, frames, lost)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=25)
    parser.add_argument("--containers", nargs="+", default=["ts", "cat", "catleap", "mkv", "mp4"])
    parser.add_argument("--fps", type=float, default=None, help="read with this cap (--fps), the clean files too")
    parser.add_argument("-v", action="store_true", help="every case's figures")
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bases = fuzzing.make_base_clips(work / "base")
        bases.update(fuzzing.make_cat_clips(bases["ts"], work / "base"))
        if args.fps is None:
            clean = {name: fuzzing.probe(path).frames for name, path in bases.items()}
        else:  # (the clean file's pictures the cap keeps)
            clean = {name: told(path, args.fps)[0] for name, path in bases.items()}
        over, under, cases = [], 0, 0
        for container in args.containers:
            ts = container in ("ts", *fuzzing.JOINS)
            kinds = ("stamps",) if container == fuzzing.B_FRAMED else fuzzing.TS_KINDS if ts else fuzzing.KINDS
            for kind in kinds:
                for seed in range(args.seeds):
                    name = f"{container}-{kind}-{seed}"
                    src = work / f"{name}.{'ts' if ts or container == fuzzing.B_FRAMED else container}"
                    src.write_bytes(fuzzing.case_bytes(bases[container], container, kind, seed))
                    got = told(src, args.fps)
                    src.unlink()
                    cases += 1
                    if got is None:
                        continue
                    missing = max(0, clean[container] - got[0])
                    if args.v:
                        print(f"{name}: {got[0]} out, {missing} missing, told {got[1]}")
                    if got[1] > missing:
                        over.append(f"{name} (told {got[1]}, {missing} missing)")
                    under += got[1] < missing
    print(f"{cases} cases: told more than missing in {len(over)}, fewer in {under}")
    for case in over:
        print("  over:", case)


if __name__ == "__main__":
    main()
