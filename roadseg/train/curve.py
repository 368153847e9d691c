"""Training curves for the model card: val and check mIoU (and train loss) of runs, from their log.jsonl.

    python -m roadseg.train.curve runs/check runs/final -o models/training_curve.png --csv models/training_log.csv
    python -m roadseg.train.curve runs/base runs/finetune --chain -o curve.png   # a fine-tune (--init) after its base

Each run is a folder written by :func:`roadseg.train.loop.train`; its label in the legend is the
folder name. ``--chain`` plots the runs one after another (each starts where the previous one ended),
for a run that started from another's weights. ``--csv`` concatenates the runs' ``log.csv`` files
(with a ``run`` column) into one.

Example:
    >>> rows = read_log("runs/check")              # doctest: +SKIP
    >>> plot(["runs/check", "runs/final"], "curve.png")   # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path


def read_log(run: str | Path) -> list[dict]:
    """The rows of ``run/log.jsonl``; a resumed run's repeated epochs keep their last entry."""
    rows: dict[int, dict] = {}
    for line in (Path(run) / "log.jsonl").read_text().splitlines():
        row = json.loads(line)
        rows[row["epoch"]] = row
    return [rows[e] for e in sorted(rows)]


def series(runs: list[str | Path], chain: bool = False) -> list[tuple[str, list[dict]]]:
    """Each run's name and rows; with ``chain`` a run's epochs continue from the previous run's last."""
    out, offset = [], 0
    for run in runs:
        rows = [{**r, "epoch": r["epoch"] + offset} for r in read_log(run)]
        out.append((Path(run).name, rows))
        if chain and rows:
            offset = rows[-1]["epoch"]
    return out


def plot(runs: list[str | Path], out: str | Path, chain: bool = False) -> Path:
    """One PNG: mIoU (val solid, check dashed) per run on the left axis, train loss on the right."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    loss_ax = ax.twinx()
    for i, (name, rows) in enumerate(series(runs, chain)):
        colour = f"C{i}"
        for key, style, what in (("miou", "-", "val"), ("check_miou", "--", "check (held out)")):
            pts = [(r["epoch"], 100 * r[key]) for r in rows if r.get(key) is not None]
            if pts:
                ax.plot(*zip(*pts), style, color=colour, label=f"{name}: {what} mIoU")
        loss_ax.plot([r["epoch"] for r in rows], [r["train_loss"] for r in rows], ":", color=colour, alpha=0.5,
                     label=f"{name}: train loss")  # fmt: skip
    ax.set_xlabel("epoch (runs one after another)" if chain else "epoch")
    ax.set_ylabel("mIoU (%)")
    loss_ax.set_ylabel("train loss")
    ax.grid(alpha=0.3)
    handles = ax.get_legend_handles_labels()
    extra = loss_ax.get_legend_handles_labels()
    # beside the axes, not on them: with several runs it would hide their later curves
    ax.legend(handles[0] + extra[0], handles[1] + extra[1], fontsize=8, loc="upper left", bbox_to_anchor=(1.15, 1))
    fig.tight_layout()
    fig.savefig(out, bbox_inches="tight")
    plt.close(fig)
    return Path(out)


def merge_csv(runs: list[str | Path], out: str | Path) -> Path:
    """The runs' log.csv rows in one file, with the run's folder name in a first ``run`` column."""
    with open(out, "w", newline="") as f:
        writer = None
        for run in runs:
            with open(Path(run) / "log.csv", newline="") as src:
                for row in csv.DictReader(src):
                    row = {"run": Path(run).name, **row}
                    if writer is None:
                        writer = csv.DictWriter(f, fieldnames=list(row))
                        writer.writeheader()
                    writer.writerow(row)
    return Path(out)


def main() -> None:
    ap = argparse.ArgumentParser(description="Plot training runs' val and check mIoU.")
    ap.add_argument("runs", nargs="+")
    ap.add_argument("-o", "--output", default="training_curve.png")
    ap.add_argument("--chain", action="store_true",
                    help="Plot the runs one after another (a fine-tune started with --init after its base run).")
    ap.add_argument("--csv", help="Also write the runs' log.csv rows into this one file.")
    args = ap.parse_args()
    print(plot(args.runs, args.output, chain=args.chain))
    if args.csv:
        print(merge_csv(args.runs, args.csv))


if __name__ == "__main__":
    main()
