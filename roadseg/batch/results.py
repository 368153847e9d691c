"""``OUT_DIR/results.jsonl``: one JSON line per finished attempt, written only by the driver.

Every line holds ``input``, ``output``, ``status`` (``ok`` | ``error`` | ``interrupted``: held by a
worker when Ctrl-C or SIGTERM came, nothing of it kept; its ``node`` that worker's, its ``seconds`` since it was sent there), ``frames`` (of the output kept: 0 where none is),
``frames_lost``, ``fps``, ``seconds``, ``node``, ``attempt`` and ``error``, each ``null`` where it is not known
(``frames_lost`` and ``fps`` of a video that failed, ``error`` of one that did not), plus what a rerun compares
(the input's ``size`` and ``mtime_ns``, the ``model`` and the output ``settings``) and ``time``; ``warnings``
where the run logged any (before it failed, too); ``removed``: an earlier run's masks and stats of the video that
an ``ok`` line's run removed (:mod:`roadseg.batch.outdated`). Lines of earlier versions lack ``frames_lost`` where the
video failed; every reader here takes a key a line lacks as ``null``. An attempt lost
with its worker is an ``error`` line with ``"retried": true`` when the video was sent again. A video
a rerun finds done gets no line (its ``ok`` line stands; the summary counts it as skipped), so a
nightly rerun over a finished archive adds nothing; files of earlier versions hold ``skipped`` lines
for those, which readers pass over. Nor does a video whose last line is an ``error`` with ``"damaged":
true`` (not a readable video) while it, the model, the settings and the :func:`reader` (the worker's that read it,
as its line records) are unchanged: it is not tried again
(:func:`is_damaged`) unless the batch is asked to (``retry_failed``, ``force``), and counts as an error.

Example:
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> with ResultsLog(out / "results.jsonl") as log:
    ...     log.write({"input": "/in/a.mp4", "status": "ok", "frames": 12})
    >>> latest_outcomes(out / "results.jsonl")["/in/a.mp4"]["frames"]
    12
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from roadseg.batch.errors import ResultsUnwritable
from roadseg.pipeline.options import SegmentOptions

#: The results log's name in the output folder.
RESULTS = "results.jsonl"

if TYPE_CHECKING:
    from roadseg.batch.task import Task

#: Options that change what a video's outputs contain (not how fast they are made).
OUTPUT_FIELDS = ("size", "alpha", "mode", "legend", "codec", "crf", "preset", "no_audio", "start", "duration", "video_stream",
                 "height", "tta", "fps")  # fmt: skip


class ResultsLog:
    """Append-only JSON lines, flushed (and synced) per line so a crash loses at most the line in progress."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        with self._said():
            if _ends_mid_line(self.path):  # a run killed mid-line: start a fresh line
                with open(self.path, "ab") as f:
                    f.write(b"\n")
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed by close())

    def write(self, line: dict) -> None:
        with self._said():
            self._file.write(json.dumps({**line, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}) + "\n")
            self._file.flush()
            os.fsync(self._file.fileno())

    @contextmanager
    def _said(self) -> Iterator[None]:
        """An OSError writing the log (a full disk) as :class:`~roadseg.batch.errors.ResultsUnwritable`, which names
        it: FFmpeg's outputs were not at fault."""
        try:
            yield
        except OSError as exc:
            raise ResultsUnwritable(self.path, exc) from None

    def close(self) -> None:
        with suppress(OSError):  # (what it could not write was said as it failed)
            self._file.close()

    def __enter__(self) -> ResultsLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _ends_mid_line(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            if f.tell() == 0:
                return False
            f.seek(-1, os.SEEK_END)
            return f.read(1) != b"\n"
    except FileNotFoundError:
        return False


def latest_outcomes(path: str | Path | list[dict]) -> dict[str, dict]:
    """The last ``ok`` or final ``error`` line per input (skipped lines and retried attempts ignored)."""
    latest: dict[str, dict] = {}
    for line in read_results(path):
        if line.get("status") in ("ok", "error") and not line.get("retried"):
            latest[str(line.get("input"))] = line
    return latest


def read_results(path: str | Path | list[dict]) -> list[dict]:
    """The lines of a results file (``[]`` if there is none; lines cut short by a crash left out), or
    ``path`` itself where it is such a list already (one reading for several questions)."""
    if isinstance(path, list):
        return path
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    lines = []
    for raw in text.splitlines():
        try:
            line = json.loads(raw)
        except ValueError:  # a line cut short by a crash
            continue
        if isinstance(line, dict):
            lines.append(line)
    return lines


def written_outputs(path: str | Path | list[dict]) -> set[str]:
    """Every output the lines of ``path`` name: what earlier runs wrote (or meant to) into this folder,
    never an input of the next run (an output folder that is the input folder: ``batch DCIM -o DCIM``)."""
    return {str(line.get("output")) for line in read_results(path)}


def input_key(path: str | Path, parts: Sequence[str | Path] = ()) -> dict:
    """What identifies an input's content cheaply: its size and modification time (``{}`` if missing).
    Of files joined (``parts``): their total size, the latest time and how many ``files`` they are."""
    if parts:
        keys = [input_key(p) for p in parts]
        if not all(keys):
            return {}
        return {"size": sum(k["size"] for k in keys), "mtime_ns": max(k["mtime_ns"] for k in keys), "files": len(keys)}
    try:
        st = os.stat(path)
    except OSError:
        return {}
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def output_fields(options: SegmentOptions) -> dict:
    """The options of :data:`OUTPUT_FIELDS`, those added later left out where unset (earlier runs' keys stay valid)."""
    fields = {k: v for k, v in asdict(options).items() if k in OUTPUT_FIELDS}
    fields["codec"] = fields["codec"] or "libx264"  # what no --codec means for an .mp4: the key stays as it was
    for newer in ("video_stream", "height", "tta", "fps"):  # options added later: unset, earlier runs' keys stay valid
        if fields[newer] in (None, False):
            del fields[newer]
    return fields


def digest(blob: dict) -> str:
    """A short digest of ``blob``'s JSON, its keys sorted."""
    return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()[:12]


def settings_key(options: SegmentOptions, *, masks: bool, stats: bool, masks_only: bool = False) -> str:
    """A short digest of the options that shape the outputs and which outputs are written: what a damaged video's
    line is compared by, and what tells a run done with other options (:func:`~roadseg.batch.done.wrote`'s digests tell what is done).
    ``masks_only`` (no video written) is in it where set.

    >>> o = SegmentOptions("")
    >>> settings_key(o, masks=True, stats=False) != settings_key(o, masks=True, stats=False, masks_only=True)
    True
    """
    fields = output_fields(options)
    if masks_only:  # (added later: unset, earlier runs' keys stay valid)
        fields["masks_only"] = True
    return digest({**fields, "masks": masks, "stats": stats})


def reader() -> str:
    """What reads the inputs in this process: roadseg's and PyAV's (FFmpeg's) versions. A damaged video's line
    records the one of the worker that read it (a Ray node may run another PyAV than the driver); a newer one may
    read a file an older one could not, so an upgrade tries damaged videos again (:func:`is_damaged`)."""
    from importlib.metadata import PackageNotFoundError, version

    from roadseg import __version__

    try:
        av = version("av")
    except PackageNotFoundError:  # (a driver without PyAV: its workers have it)
        av = "?"
    return f"roadseg {__version__}, av {av}"


def is_damaged(previous: dict | None, key: dict, model: str, settings: str) -> bool:
    """True when ``previous`` is an ``error`` line of an input whose own bytes were at fault (``damaged``:
    not a readable video) and the input, model, settings and reader are as they were: run again, it fails again.

    The line's reader (the worker's that read the file) is compared with this process's :func:`reader`, the
    driver's, which stands for what would read it now: the skip is decided before any worker starts (a rerun
    that finds every video done or damaged starts none). That is exact for a local pool, whose workers are
    spawned from the driver's Python, and for a Ray cluster whose nodes run the driver's versions, as a cluster
    is built to. Where a node runs another PyAV, the lines it wrote never match and its damaged videos are tried
    again on every run: an attempt spent again, never a file that a newer reader could read left unread. (Nodes
    upgraded while the driver is not go unnoticed until the driver is upgraded too.)"""
    return (
        previous is not None
        and previous.get("status") == "error"
        and bool(previous.get("damaged"))
        and previous.get("reader") == reader()
        and bool(key)
        and all(previous.get(k) == v for k, v in key.items())
        and previous.get("model") == model
        and previous.get("settings") == settings
    )


def is_done(previous: dict | None, output: Path, key: dict, model: str, settings: str) -> bool:
    """True when ``previous`` is an ``ok`` line for the same input, model and settings and the output exists (a
    masks folder's, ``batch --masks-only``: its ``masks.csv``)."""
    # (imported here: the sinks need PyAV, which import roadseg does not)
    from roadseg.pipeline.sinks.maskindex import INDEX_NAME

    return (
        previous is not None
        and previous.get("status") == "ok"
        and (output.is_file() or (output / INDEX_NAME).is_file())
        and bool(key)
        and all(previous.get(k) == v for k, v in key.items())
        and previous.get("model") == model
        and previous.get("settings") == settings
    )


def results_line(task: Task, worker_line: dict, key: dict, model: str, settings: str,
                 made: dict[str, str] | None = None, options: dict | None = None) -> dict:  # fmt: skip
    """A results line: the fields every line has first (``null`` where the worker's line has none: an ``error``
    line's ``frames_lost``), then what the worker and the driver add; an ``ok`` line's ``options`` (those that
    shape the outputs, :func:`output_fields`: a rerun with others says which changed) and ``wrote``: ``made``, what
    the run writes of each video (:func:`~roadseg.batch.done.wrote`); a damaged video's ``error`` line its
    ``options`` too.

    >>> from roadseg.batch.task import Task
    >>> line = results_line(Task("/in/a.mp4", "/o/a.mp4"), {"status": "error", "frames": 0, "error": "x"}, {}, "m", "s")
    >>> line["frames_lost"], line["fps"], line["attempt"]
    (None, None, 1)
    """
    line = {"input": task.input, "output": task.output, "status": worker_line["status"],
            "frames": worker_line.get("frames"), "frames_lost": worker_line.get("frames_lost"),
            "fps": worker_line.get("fps"), "seconds": worker_line.get("seconds"),
            "node": worker_line.get("node"), "attempt": worker_line.get("attempt", task.attempt),
            "error": worker_line.get("error")}  # fmt: skip
    extra = {k: v for k, v in worker_line.items() if k not in line and k != "model" and v not in (None, [])}
    if extra.get("damaged"):  # (a newer roadseg or PyAV tries it again: is_damaged)
        extra.setdefault("reader", reader())  # (the worker's that read it; this one's for a worker that said none)
    done = {"options": options, "wrote": made} if made and line["status"] == "ok" else {}
    if extra.get("damaged") and options is not None:  # (a rerun with others says which changed: again.why_retried)
        done = {"options": options}
    return {**line, **extra, **key, "model": model, "settings": settings, **done}
