"""Why a rerun does again a video that an earlier run into the same OUT finished, its input as it was then
(:func:`~roadseg.batch.rerun.redone` says it where the input changed): an output it asks for that no run wrote, or
that is gone since, or the options or model that made one otherwise (:func:`why_again`); and why it tries again one
found damaged before (:func:`why_retried`: it, the model, the options or the reader changed since); said before any
work, one line a reason, naming the video, or counting the videos where several share it (:func:`say_again`).

Example:
    >>> options_changed({"crf": 23, "legend": False, "size": None}, {"crf": 30, "legend": True, "size": [320, 544]})
    ('--size unset → 320x544', '--legend off → on', '--crf 23 → 30')
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from roadseg.batch.done import KINDS, VIDEO_ONLY, last_writers, there
from roadseg.batch.results import OUTPUT_FIELDS, reader
from roadseg.batch.task import Task

#: How a line names each output
NAMES = {"video": "video", "masks": "masks", "stats": "stats.json"}
#: The option that adds each output to a run's
ADDED_BY = {"masks": "--masks", "stats": "--stats"}


@dataclass(frozen=True)
class Again:
    """Why a video done before is done again: the outputs asked for that no ``ok`` line wrote (``missing``), those
    removed since (``gone``), made of the input before it last changed (``stale``), the options that made the others
    otherwise (``changed``: :func:`options_changed`'s; ``""`` where its line does not record them), the model that
    did (``model``: ``"OLD → NEW"``), or its stats file written by a run of the other kind (``stats_of``: ``a --masks-only
    run`` or ``a run that wrote the video``: the file tells of the run that wrote it), or its video written under
    another name by the run that last did it (``elsewhere``: ``with --suffix .mp4``, or ``under another name``)."""

    missing: tuple[str, ...] = ()
    gone: tuple[str, ...] = ()
    stale: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    model: str = ""
    stats_of: str = ""
    elsewhere: str = ""


def why_again(history: Sequence[dict], task: Task, key: dict, model: str, wants: dict[str, str], fields: dict
              ) -> Again | None:  # fmt: skip
    """Why ``task``, whose last ``ok`` or ``error`` line (of ``history``, its input's lines) is ``ok`` and of its
    input as it is (``key``), is done again by a run that asks for ``wants`` (:func:`~roadseg.batch.done.wrote`'s)
    with the output options ``fields`` (:func:`~roadseg.batch.results.output_fields`'s) and ``model``; ``None``
    where it was not done so (never done, failed last, cut short, its input changed: each said otherwise).

    >>> ok = {"input": "/in/a.mp4", "output": "/nowhere/a.masks", "status": "ok", "size": 9, "model": "m",
    ...       "wrote": {"masks": "d"}}
    >>> why_again([ok], Task("/in/a.mp4", "/nowhere/a.mp4"), {"size": 9}, "m", {"video": "v"}, {})
    Again(missing=('video',), gone=(), stale=(), changed=(), model='', stats_of='', elsewhere='')
    """
    ended = [line for line in history if line.get("status") in ("ok", "error")]
    last = ended[-1] if ended else {}
    if last.get("status") != "ok" or history[-1].get("status") == "interrupted" or not key or any(
            last.get(k) != v for k, v in key.items()):  # fmt: skip
        return None
    if not isinstance(last.get("wrote"), dict):
        return _of_earlier_version(last, task, model)
    missing, gone, stale, changed, models, stats_of, elsewhere = [], [], [], {}, set(), "", ""  # (changed: ordered)
    writers, now = last_writers(history), json.loads(json.dumps(fields, default=str))
    for kind, path in zip(KINDS, task.final, strict=True):
        if kind not in wants or path is None:
            continue
        _, line, digest = writers.get(path) or (-1, {}, None)
        if digest is None and kind == "video" and (elsewhere := _elsewhere(last, task)):
            continue  # (its video under another name: not a --masks-only run's want of one)
        if digest is None:
            missing.append(kind)
        elif not there(path, kind):
            gone.append(kind)
        elif any(line.get(k) != v for k, v in key.items()):
            stale.append(kind)
        else:
            if line.get("model") != model:
                models.add(f"{line.get('model')} → {model}")
            before = line.get("options")
            if digest == wants[kind]:
                continue
            if kind == "stats" and str(line.get("output")).endswith(".masks") != task.masks_only:
                stats_of = "a run that wrote the video" if task.masks_only else "a --masks-only run"
            else:
                video = kind != "masks" and not task.masks_only  # (what shapes the masks, or a --masks-only run's stats)
                changed.update(dict.fromkeys((options_changed(before, now, video=video) if isinstance(before, dict)
                                              else ()) or [""]))  # fmt: skip
    if missing or gone or stale or changed or models or elsewhere:
        stats_of = ""  # (written again with the rest)
    why = Again(tuple(missing), tuple(gone), tuple(stale), tuple(changed), ", ".join(sorted(models)), stats_of,
                elsewhere)  # fmt: skip
    return why if why != Again() else None


@dataclass(frozen=True)
class Retried:
    """Why a video found damaged before (its last line an ``error`` with ``damaged``) is tried again though
    ``--retry-failed`` was not given: its input changed since (``changed_since``), or the model (``model``: ``"OLD →
    NEW"``), the options (``changed``: :func:`options_changed`'s, ``""`` where its line does not record them or only
    the outputs asked for differ) or the reader (``reader``: roadseg's and PyAV's versions, ``"OLD → NEW"``) it was
    read with (was: tried again unsaid, where a rerun changed ``--crf``)."""

    changed_since: bool = False
    model: str = ""
    changed: tuple[str, ...] = ()
    reader: str = ""


def why_retried(done: dict | None, task: Task, key: dict, model: str, settings: str, fields: dict) -> Retried | None:
    """Why ``task``, whose last line ``done`` found it damaged, is tried again by a run with the output options
    ``fields`` (:func:`~roadseg.batch.results.output_fields`'s), ``model`` and ``settings``
    (:func:`~roadseg.batch.results.settings_key`'s); ``None`` where it was not found damaged, or nothing changed
    (``--retry-failed`` asked for it).

    >>> bad = {"status": "error", "damaged": True, "output": "/o/a.mp4", "size": 9, "model": "m", "settings": "s",
    ...        "reader": reader(), "options": {"crf": 23}}
    >>> why_retried(bad, Task("/in/a.mp4", "/o/a.mp4"), {"size": 9}, "m", "t", {"crf": 30})
    Retried(changed_since=False, model='', changed=('--crf 23 → 30',), reader='')
    """
    if done is None or done.get("status") != "error" or not done.get("damaged"):
        return None
    changed: tuple[str, ...] = ()
    if done.get("settings") != settings:
        before, now = done.get("options"), json.loads(json.dumps(fields, default=str))
        video = not task.masks_only and not str(done.get("output")).endswith(".masks")  # (a --masks-only run's: none)
        changed = (options_changed(before, now, video=video) if isinstance(before, dict) else ()) or ("",)
    why = Retried(changed_since=not key or any(done.get(k) != v for k, v in key.items()),
                  model=f"{done.get('model')} → {model}" if done.get("model") != model else "", changed=changed,
                  reader=f"{done.get('reader')} → {reader()}" if done.get("reader") != reader() else "")  # fmt: skip
    return why if why != Retried() else None


def retried_line(why: Retried, names: list[str]) -> str:
    """The line :func:`say_again` says of the videos ``names``, found damaged before, tried again for ``why``.

    >>> retried_line(Retried(changed=("--crf 23 → 30",)), ["bad.mp4"])
    'bad.mp4: found damaged before with other options, tried again (--crf 23 → 30)'
    >>> retried_line(Retried(changed_since=True, model="a → b"), ["bad.mp4", "cut.mp4"])
    '2 videos found damaged before with another model and changed since are tried again (a → b)'
    """
    how = ["with another model"] if why.model else []
    how += ["with other options"] if why.changed else []
    how += ["by another roadseg or PyAV"] if why.reader else []
    how += ["changed since"] if why.changed_since else []
    said = " and ".join(how) if why.model or why.changed or why.reader else f"and {how[-1]}"
    told = "; ".join(filter(None, (why.model, ", ".join(filter(None, why.changed)), why.reader)))
    tail = f" ({told})" if told else ""
    if len(names) != 1:
        return f"{len(names)} videos found damaged before {said} are tried again{tail}"
    return f"{names[0]}: found damaged before {said}, tried again{tail}"


def _of_earlier_version(last: dict, task: Task, model: str) -> Again:
    """Why ``task`` is done again where ``last``, its last ``ok`` line, is of an earlier version (no ``wrote``, nor
    ``options``): its output removed since (where that line wrote it), none (a ``--masks-only`` line's video, a video
    run's masks) or one under another name (:func:`_elsewhere`), or its model, else its options, since the last line
    decided then (was: 'removed since' of an output that line never wrote: a --masks-only run's masks after a run
    that wrote the videos alone)."""
    kind, output = "masks" if task.masks_only else "video", str(last.get("output"))
    if output == task.output:
        if not there(Path(task.output), kind):
            return Again(gone=(kind,))
    elif task.masks_only:  # (that line wrote a video, its masks with it or none)
        if not there(Path(task.output), kind):
            return Again(missing=("masks",))
    else:
        return Again(missing=("video",)) if output.endswith(".masks") else Again(elsewhere=_elsewhere(last, task))
    if last.get("model") != model:
        return Again(model=f"{last.get('model')} → {model}")
    return Again(changed=("",))


def _elsewhere(last: dict, task: Task) -> str:
    """How ``last``, the last ``ok`` line of ``task``'s input, named the video it wrote where that is not ``task``'s
    (``with --suffix .mp4``: the run before wrote ``a.mp4``, this one writes ``a.mkv``; ``under another name``), else
    ``""`` (it wrote none: a ``--masks-only`` line's).

    >>> _elsewhere({"output": "/o/a.mp4"}, Task("/in/a.mp4", "/o/a.mkv")), _elsewhere({"output": "/o/a.masks"}, Task("/in/a.mp4", "/o/a.mp4"))
    ('with --suffix .mp4', '')
    """
    output = str(last.get("output"))
    if output.endswith(".masks") or output == task.output or (isinstance(last.get("wrote"), dict)
                                                              and "video" not in last["wrote"]):  # fmt: skip
        return ""
    before, now = Path(output), Path(task.output)
    return f"with --suffix {before.suffix}" if before.with_suffix("") == now.with_suffix("") else "under another name"


def options_changed(before: dict, now: dict, *, video: bool = True) -> tuple[str, ...]:
    """Each option of :data:`~roadseg.batch.results.OUTPUT_FIELDS` (without ``video``, not those that shape the
    video alone) that differs between the fields ``before`` (as a results line records them) and ``now``, as given to
    the command: ``--crf 23 → 30``."""
    shaping = [k for k in OUTPUT_FIELDS if video or k not in VIDEO_ONLY]
    return tuple(f"--{k.replace('_', '-')} {_shown(before.get(k))} → {_shown(now.get(k))}"
                 for k in shaping if _differs(before.get(k), now.get(k)))


def _differs(a: object, b: object) -> bool:
    """Whether two values of an option differ, unset (``None``, or ``False``: an option added later is left out of
    the fields where so, :func:`~roadseg.batch.results.output_fields`) being one value.

    >>> _differs(None, False), _differs(0, None), _differs(23, 30)
    (False, True, True)
    """
    a_unset, b_unset = a is None or a is False, b is None or b is False
    return a_unset != b_unset or (not a_unset and a != b)


def _shown(value: object) -> str:
    """An option's value as typed: on/off, unset, ``HxW``."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return "unset"
    if isinstance(value, list):
        return "x".join(map(str, value))
    return str(value)


def say_again(agains: list[tuple[str, Again | Retried]]) -> None:
    """One line a reason (:func:`again_line`, :func:`retried_line`), before any work, for the videos done before, or
    found damaged before, that this run does again (``agains``: each one's name, as
    :func:`~roadseg.batch.report.shown` names it, and why): was one line for all, ``3 videos done before with other
    options are done again``, where a run added ``--stats`` after a ``--masks-only`` one, and none where it wrote the
    videos after it, or an output was removed."""
    groups: dict[Again | Retried, list[str]] = {}
    for name, why in agains:
        groups.setdefault(why, []).append(name)
    for why, names in groups.items():
        line = retried_line(why, names) if isinstance(why, Retried) else again_line(why, names)
        print(line, file=sys.stderr, flush=True)


def again_line(why: Again, names: list[str]) -> str:
    """The line :func:`say_again` says of the videos ``names`` done again for the same reason ``why``: one names it.

    >>> again_line(Again(missing=("stats",)), ["a.mp4", "b.mp4"])
    '2 videos done before without --stats (no stats.json) are done again'
    >>> again_line(Again(missing=("video", "stats")), ["a.mp4"])
    'a.mp4: done before with --masks-only (no video) and without --stats (no stats.json), done again'
    >>> again_line(Again(changed=("--crf 23 → 30",)), ["a.mp4", "b.mp4"])
    '2 videos done before with other options are done again, their outputs replaced (--crf 23 → 30; another output folder keeps both)'
    >>> again_line(Again(gone=("video",)), ["a.mp4"])
    'a.mp4: done before with its video removed since, done again'
    """
    many = len(names) != 1
    its = "their" if many else "its"
    how = ["with another model"] if why.model else []
    how += ["with other options"] if why.changed else []
    if "video" in why.missing:
        how.append("with --masks-only (no video)")
    if added := [k for k in why.missing if k != "video"]:
        how.append(f"without {' or '.join(ADDED_BY[k] for k in added)} (no {' or '.join(NAMES[k] for k in added)})")
    for kinds, since in ((why.gone, "removed since"), (why.stale, "made before the input last changed")):
        if kinds:
            how.append(f"with {its} {' and '.join(NAMES[k] + 's' * (many and k == 'video') for k in kinds)} {since}")
    if why.stats_of:
        how.append(f"with {its} stats.json written by {why.stats_of}")
    if why.elsewhere:
        how.append(why.elsewhere)
    tail = f", {its} stats.json replaced (it tells of the run that wrote it)" if why.stats_of else ""
    if why.model or why.changed:
        what = "their outputs" if many else "its output"
        told = ", ".join(filter(None, (why.model, *why.changed)))
        tail = f", {what} replaced ({told}{'; ' * bool(told)}another output folder keeps both)"
    if many:
        return f"{len(names)} videos done before {' and '.join(how)} are done again{tail}"
    return f"{names[0]}: done before {' and '.join(how)}, done again{tail}"
