"""Training curves for the model card: val and check mIoU (and train loss) of runs, from their logs.

    python -m roadseg.train.curve runs/check runs/final -o models/training_curve.png --csv models/training_log.csv
    python -m roadseg.train.curve runs/base runs/finetune --chain -o curve.png   # a fine-tune (--init) after its base
    python -m roadseg.train.curve models/training_log.csv runs/next --chain -o c.png --csv log.csv   # one stage more

Each run is a folder written by :func:`roadseg.train.loop.train` (read from its ``log.jsonl``); its
label in the legend is the folder name. A ``.csv`` written by ``--csv`` stands for the runs it holds,
in order, so a lineage whose run folders are gone can be extended by its next stage. ``--chain``
plots the runs one after another (each starts where the previous one ended), for a run that started
from another's weights. ``--csv`` concatenates the runs' ``log.csv`` rows (with a ``run`` column)
into one.

Example:
    >>> rows = read_log("runs/check")              # doctest: +SKIP
    >>> plot(["runs/check", "runs/final"], "curve.png")   # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import sys
from pathlib import Path

from roadseg.errors import reason_of


def _last_per_epoch(rows) -> list[dict]:
    """Rows in epoch order; a resumed run's repeated epochs keep their last entry."""
    by_epoch = {row["epoch"]: row for row in rows}
    return [by_epoch[e] for e in sorted(by_epoch)]


def read_log(run: str | Path) -> list[dict]:
    """The rows of ``run/log.jsonl``; a resumed run's repeated epochs keep their last entry."""
    return _last_per_epoch(json.loads(line) for line in (Path(run) / "log.jsonl").read_text().splitlines())


def csv_runs(source: str | Path) -> list[tuple[str, list[dict]]]:
    """Each run's name and ``log.csv`` rows (strings, as written): a run folder's own, or every run in a
    ``.csv`` that :func:`merge_csv` wrote, in the order it holds them."""
    source = Path(source)
    if source.suffix != ".csv":
        with open(source / "log.csv", newline="") as f:
            return [(source.name, list(csv.DictReader(f)))]
    with open(source, newline="") as f:
        rows = list(csv.DictReader(f))
    # a run is a block of consecutive rows, so two runs of one name apart in the file stay two runs
    return [(name, [{k: v for k, v in row.items() if k != "run"} for row in block])
            for name, block in itertools.groupby(rows, key=lambda row: row["run"])]  # fmt: skip


def _logged_runs(source: str | Path) -> list[tuple[str, list[dict]]]:
    """Each run's name and log rows as :func:`read_log` gives them, for a run folder or a merged ``.csv``."""
    if Path(source).suffix != ".csv":
        return [(Path(source).name, read_log(source))]

    def parse(row: dict) -> dict:
        return {**{k: float(v) if v else None for k, v in row.items()}, "epoch": int(row["epoch"])}

    return [(name, _last_per_epoch(parse(row) for row in rows)) for name, rows in csv_runs(source)]


def series(runs: list[str | Path], chain: bool = False) -> list[tuple[str, list[dict]]]:
    """Each run's name and rows (a merged ``.csv`` gives each run it holds); with ``chain`` a run's
    epochs continue from the previous run's last."""
    out, offset = [], 0
    for name, logged in (run for source in runs for run in _logged_runs(source)):
        rows = [{**r, "epoch": r["epoch"] + offset} for r in logged]
        out.append((name, rows))
        if chain and rows:
            offset = rows[-1]["epoch"]
    return out


def val_label(rows: list[dict]) -> str:
    """The legend's name of a run's val curve: ``val``, or what subset of val its rows were scored on (``train
    --val-limit``), so that it is not read as val's score.

    >>> val_label([{"miou": 0.5}]), val_label([{"miou": 0.5, "val_subset": 20.0}])
    ('val', 'val (20-frame subset)')
    """
    subsets = sorted({int(r["val_subset"]) for r in rows if r.get("val_subset")})
    return "val" if not subsets else f"val ({'/'.join(map(str, subsets))}-frame subset)"


def plot(runs: list[str | Path], out: str | Path, chain: bool = False) -> Path:
    """One PNG: mIoU (val solid, check dashed) per run on the left axis, train loss on the right; a val scored on
    a subset (``train --val-limit``) is named so in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    loss_ax = ax.twinx()
    for i, (name, rows) in enumerate(series(runs, chain)):
        colour = f"C{i}"
        for key, style, what in (("miou", "-", val_label(rows)), ("check_miou", "--", "check (held out)")):
            pts = [(r["epoch"], 100 * r[key]) for r in rows if r.get(key) is not None]
            if pts:
                ax.plot(*zip(*pts), style, color=colour, label=f"{name}: {what} mIoU")
        loss_ax.plot([r["epoch"] for r in rows], [r["train_loss"] for r in rows], ":", color=colour, alpha=0.5,
                     label=f"{name}: train loss")  # fmt: skip
    ax.set_xlabel("epoch (runs one after another)" if chain else "epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # (a short run's ticks fell between its epochs)
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


def _distinct(name: str, taken: list[str]) -> str:
    """``name``, or ``name (2)``, ``name (3)`` … if it is taken already."""
    n = 1
    label = name
    while label in taken:
        n += 1
        label = f"{name} ({n})"
    return label


def merge_csv(runs: list[str | Path], out: str | Path) -> Path:
    """The runs' log.csv rows in one file, with the run's folder name in a first ``run`` column (a merged
    ``.csv`` among ``runs`` gives its runs as they are). A name already used gets `` (2)``, `` (3)`` …,
    so every run reads back as its own. All sources are read before ``out`` is written, so ``out`` may
    be one of them."""
    labels: list[str] = []
    rows = []
    for name, table in (run for source in runs for run in csv_runs(source)):
        labels.append(_distinct(name, labels))
        rows += [{"run": labels[-1], **row} for row in table]
    with open(out, "w", newline="") as f:
        if rows:
            # every run's columns: an older run's log lacks the newer ones (val_subset), which stay empty there
            writer = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for row in rows for k in row)))
            writer.writeheader()
            writer.writerows(rows)
    return Path(out)


def main() -> None:
    ap = argparse.ArgumentParser(description="Plot training runs' val and check mIoU.")
    ap.add_argument("runs", nargs="+", help="Run folders, or .csv files written by --csv (their runs, in order).")
    ap.add_argument("-o", "--output", default="training_curve.png")
    ap.add_argument("--chain", action="store_true",
                    help="Plot the runs one after another (a fine-tune started with --init after its base run).")
    ap.add_argument("--csv", help="Also write the runs' log.csv rows into this one file.")
    args = ap.parse_args()
    try:
        import matplotlib  # noqa: F401  (neither the runtime nor the train extra installs it)
    except ImportError:  # (was a traceback ending in ModuleNotFoundError)
        sys.exit("Error: drawing training curves needs matplotlib, which roadseg's train extra does not install "
                 "(pip install matplotlib)")  # fmt: skip
    try:
        print(plot(args.runs, args.output, chain=args.chain))
        if args.csv:
            print(merge_csv(args.runs, args.csv))
    except OSError as exc:  # (a folder that is not a run: one line, not a traceback)
        sys.exit(f"Error: {exc.filename}: {reason_of(exc)} (give run folders, which hold log.jsonl and log.csv, "
                 "or .csv files written by --csv)")  # fmt: skip


if __name__ == "__main__":
    main()
