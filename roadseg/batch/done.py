"""Which outputs of a video an earlier run wrote into OUT and this one takes for done: each ``ok`` results line records
what it wrote (``wrote``: :func:`wrote`), and a video is done where each output a run asks for was last written so with
the same options that shape it, and is there (:func:`done_line`), so runs with and without ``--masks-only`` into one OUT
redo only what is missing; lines of earlier versions keep the last-line rule (:func:`done_before`).

Example:
    >>> sorted(wrote(SegmentOptions(""), masks=True, stats=False))
    ['masks', 'video']
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from roadseg.batch.results import digest, is_done, latest_outcomes, output_fields, read_results
from roadseg.pipeline.options import SegmentOptions

if TYPE_CHECKING:
    from roadseg.batch.task import Task


#: Of :data:`~roadseg.batch.results.OUTPUT_FIELDS`, those that shape only the video: not the masks (``--masks-only`` refuses them)
VIDEO_ONLY = ("alpha", "mode", "legend", "codec", "crf", "preset", "no_audio")
#: What a run writes of a video, in :class:`~roadseg.batch.task.Paths`' order
KINDS = ("video", "masks", "stats")


def wrote(options: SegmentOptions, *, masks: bool, stats: bool, masks_only: bool = False) -> dict[str, str]:
    """What a run writes of each video (``video``, ``masks``, ``stats``), each with a digest of what shapes it: a
    results line records it as ``wrote``, and a later run takes an output for done by it (:func:`done_line`). The
    masks are shaped by the options that are not the video's alone (a run with ``--masks`` and one with
    ``--masks-only`` write the same ``b.masks/``); the stats file tells of the run that wrote it (its output, its
    frames/s), so it is shaped by all of them and by whether a video was written.

    >>> o = SegmentOptions("")
    >>> a, b = wrote(o, masks=True, stats=True), wrote(o, masks=True, stats=True, masks_only=True)
    >>> sorted(a), sorted(b), a["masks"] == b["masks"], a["stats"] == b["stats"]
    (['masks', 'stats', 'video'], ['masks', 'stats'], True, False)
    """
    fields = output_fields(options)
    video, shared = digest(fields), digest({k: v for k, v in fields.items() if k not in VIDEO_ONLY})
    kinds = {"video": video} if not masks_only else {}
    if masks:
        kinds["masks"] = shared
    if stats:
        kinds["stats"] = digest({**fields, "masks_only": True}) if masks_only else video
    return kinds


def recorded(options: SegmentOptions, *, masks_only: bool = False) -> dict:
    """The options an ``ok`` line records (``options``), that shape what its run writes: with ``masks_only`` not the
    video's own, which such a run refuses; a rerun with others says which changed (:mod:`roadseg.batch.again`).

    >>> sorted(recorded(SegmentOptions(""), masks_only=True))
    ['duration', 'size', 'start']
    """
    return {k: v for k, v in output_fields(options).items() if not (masks_only and k in VIDEO_ONLY)}


def done_line(history: Sequence[dict], task: Task, key: dict, model: str, wants: dict[str, str]) -> dict | None:
    """The ``ok`` line that wrote the last of the outputs ``task`` asks for (``wants``: :func:`wrote`'s), where each
    was last written by an ``ok`` line of this input (as it is) and model that records it (``wrote``) with the same
    digest, and is there still; else ``None``. ``history``: the lines of this input, in order. An ``error`` line,
    and one of an earlier version (no ``wrote``), may have written any output of its task: none before it counts.
    So a ``--masks-only`` run between two that write the videos does not undo them, nor they it.

    >>> from roadseg.batch.task import Task
    >>> ok = {"input": "/in/a.mp4", "output": "/nowhere/a.mp4", "status": "ok", "model": "m", "wrote": {"video": "v"}}
    >>> done_line([ok], Task("/in/a.mp4", "/nowhere/a.mp4"), {}, "m", {"video": "v"}) is None  # (no output there)
    True
    """
    writers = last_writers(history)
    last: tuple[int, dict] = (-1, {})
    for kind, path in zip(KINDS, task.final, strict=True):
        if kind not in wants:
            continue
        i, line, digest = writers.get(path) or (-1, {}, None)
        if (digest != wants[kind] or not there(path, kind) or line.get("model") != model or not key
                or any(line.get(k) != v for k, v in key.items())):  # fmt: skip
            return None
        last = max(last, (i, line), key=lambda w: w[0])
    return last[1] or None


def last_writers(history: Sequence[dict]) -> dict[Path, tuple[int, dict, str] | None]:
    """Of each output path an ``ok`` or ``error`` line of ``history`` names, the last that wrote it: its index, the
    line and the digest it records (:func:`wrote`); ``None`` where that is an ``error`` line or one of an earlier
    version (no ``wrote``), which may have written any output of its task.

    >>> ok = {"input": "/in/a.mp4", "output": "/o/a.mp4", "status": "ok", "wrote": {"video": "v"}}
    >>> {str(p): w and w[2] for p, w in last_writers([ok, {**ok, "status": "error"}, {**ok, "status": "interrupted"}]).items()}
    {'/o/a.mp4': None, '/o/a.masks': None, '/o/a.stats.json': None}
    """
    from roadseg.batch.task import Task

    writers: dict[Path, tuple[int, dict, str] | None] = {}
    for i, line in enumerate(history):
        status, output = line.get("status"), str(line.get("output"))
        if status not in ("ok", "error"):  # (interrupted: nothing of it kept; skipped: lines of earlier versions)
            continue
        made = line.get("wrote") if status == "ok" and isinstance(line.get("wrote"), dict) else None
        paths = Task(str(line.get("input")), output, masks=True, stats=True, masks_only=output.endswith(".masks")).final
        for kind, path in zip(KINDS, paths, strict=True):
            if path is not None and (made is None or kind in made):
                writers[path] = (i, line, made[kind]) if made is not None else None
    return writers


def owners(lines: Sequence[dict]) -> dict[str, dict]:
    """Of each output path, the last ``ok`` line of any input to write it: the outputs its ``wrote`` records (one of
    an earlier version, no ``wrote``: its ``output`` alone); a path a later ``ok`` line removed (``removed``) has
    none. What :func:`~roadseg.batch.rerun.check_owners` and :func:`~roadseg.batch.outdated.outdated` ask of OUT.

    >>> a = {"input": "/cam1/a.mp4", "output": "/o/a.mp4", "status": "ok", "wrote": {"video": "v", "masks": "k"}}
    >>> b = {"input": "/cam2/a.mp4", "output": "/o/a.masks", "status": "ok", "wrote": {"masks": "k"}}
    >>> {p: line["input"] for p, line in owners([a, b]).items()}
    {'/o/a.mp4': '/cam1/a.mp4', '/o/a.masks': '/cam2/a.mp4'}
    """
    from roadseg.batch.task import Task

    found: dict[str, dict] = {}
    for line in lines:
        if line.get("status") != "ok":
            continue
        for path in line.get("removed") or ():
            found.pop(str(path), None)
        output, made = str(line.get("output")), line.get("wrote")
        paths = Task(str(line.get("input")), output, masks=True, stats=True, masks_only=output.endswith(".masks")).final
        for kind, path in zip(KINDS, paths, strict=True):
            if path is not None and (kind in made if isinstance(made, dict) else str(path) == output):
                found[str(path)] = line
    return found


def there(path: Path, kind: str) -> bool:
    """Whether the output ``path`` of ``kind`` is there: a masks folder by its ``masks.csv``."""
    from roadseg.pipeline.sinks.maskindex import INDEX_NAME

    return (path / INDEX_NAME).is_file() if kind == "masks" else path.is_file()


def histories(path: str | Path | list[dict]) -> dict[str, list[dict]]:
    """The lines of each input, in order."""
    lines: dict[str, list[dict]] = {}
    for line in read_results(path):
        lines.setdefault(str(line.get("input")), []).append(line)
    return lines


def done_before(history: Sequence[dict], task: Task, key: dict, model: str, settings: str, wants: dict[str, str]
                ) -> dict | None:  # fmt: skip
    """The ``ok`` line by which ``task`` is done (:func:`done_line`); where this input's last ``ok`` line is of an
    earlier version (no ``wrote``), its last line decides, as it did then (:func:`is_done`)."""
    oks = [line for line in history if line.get("status") == "ok"]
    if oks and "wrote" not in oks[-1]:
        latest = latest_outcomes(list(history)).get(task.input)
        return latest if is_done(latest, Path(task.output), key, model, settings) else None
    return done_line(history, task, key, model, wants)
