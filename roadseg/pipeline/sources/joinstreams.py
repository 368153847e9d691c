"""What a join keeps of its files' streams, and the lines that say what it leaves out, for
:func:`~roadseg.pipeline.sources.concat.concat_source`: the concat demuxer takes the first file's streams, so a later
file's streams past the first's are left out (:func:`late_streams`, said by :func:`fewer_streams` and
:func:`fewer_audio`), and the first file's audio streams that name no codec (a damaged header: :func:`blind_audio`)
are set up from a later file's (:func:`_stand_ins`) or left out (:func:`without_codec`).

Example:
    >>> late_streams([("video",), ("video", "audio")]), blind_audio([(None,), ("aac",)])
    ({1: 'audio'}, [0])
"""

from __future__ import annotations

import logging
from pathlib import Path

import av

from roadseg.errors import SourceError
from roadseg.pipeline.sources.containers import open_container
from roadseg.pipeline.sources.probe import listed
from roadseg.pipeline.sources.streams import codec_of

log = logging.getLogger("roadseg")


def blind_audio(sounds: list[tuple[str | None, ...]]) -> list[int]:
    """The first file's audio streams (by their place among its audio streams) that name no codec where a
    later file's name one. The concat demuxer takes the first file's: such a stream has neither the
    sound's parameters nor its setup (where the demuxer read ahead into the next file as it opened, aac
    at 0 Hz; else a stream of no kind), so the later files' sound can be neither copied nor decoded.

    >>> blind_audio([(None,), ("aac",), ("aac",)]), blind_audio([("aac",), (None,)]), blind_audio([(None,), (None,)])
    ([0], [], [])
    """
    return [i for i, codec in enumerate(sounds[0]) if codec is None and any(len(s) > i and s[i] for s in sounds[1:])]


def audio_indices(path: Path, places: list[int]) -> dict[int, int]:
    """The stream indices of the file's audio streams at ``places`` (among its audio streams), by place."""
    try:
        with open_container(str(path)) as container:
            return {i: container.streams.audio[i].index for i in places}
    except (SourceError, IndexError):
        return {}


def _stand_ins(paths: list[Path], places: list[int]) -> dict[int, av.stream.Stream]:
    """What the output's streams for the first file's audio at ``places``, which names no codec
    (:func:`blind_audio`), are set up from: the stream at that place of the first later file whose stream
    there names one, by its index, which must be the first file's (the join's streams are the first file's,
    and a packet is known by its index). Each is left open (:class:`VideoSource` closes it). A place that has
    none is not among them: that stream's sound cannot be placed (the others' can). The joined files' streams are in
    one order (:func:`~roadseg.pipeline.sources.probe.agree`), so a place has none only where the later files that name
    its codec cannot be opened again (taken off the card since they were probed)."""
    wanted, found = audio_indices(paths[0], places), {}
    for path in paths[1:]:
        if len(found) == len(wanted):
            break
        try:
            container = open_container(str(path))
        except SourceError:
            continue
        audio = container.streams.audio
        for place, index in wanted.items():
            if index not in found and place < len(audio) and codec_of(audio[place]) and audio[place].index == index:
                found[index] = audio[place]
        if all(s.container is not container for s in found.values()):
            container.close()
    return found


def without_codec(paths: list[Path], sounds: list[tuple[str | None, ...]], blind: list[int], start: float,
                   first_seconds: float | None) -> dict:  # fmt: skip
    """:class:`VideoSource`'s options for a join whose first file's audio streams at ``blind`` name no codec
    (:func:`blind_audio`; ``sounds``: each file's audio codecs), said in one line: each is set up from a later
    file's stream where one stands in for it (:func:`_stand_ins`: the first file's sound there is left out), and
    left out where none does; the first file's other audio streams are kept. Where none is kept, the audio is
    left out. ``start`` (--start) and ``first_seconds`` (the first file's length) say whether the first file's
    sound is in the output at all."""
    indices = audio_indices(paths[0], blind)  # (by place)
    stand_ins = _stand_ins(paths, blind)
    lost = [i for i in indices.values() if i not in stand_ins]
    kept = sum(c is not None for c in sounds[0]) + len(stand_ins)  # (the output's audio streams)
    log.warning("the first file joined, %s, has %s (a damaged header) where others have %s: %s", paths[0].name,
                _blind_streams(len(sounds[0]), list(indices.values())),
                ", ".join(dict.fromkeys(c for s in sounds[1:] for i, c in enumerate(s) if c and i in blind)),
                _blind_kept(len(sounds[0]), sorted(stand_ins), lost, kept, first_seconds is not None and
                            start >= first_seconds))  # fmt: skip
    if not kept:  # (what the demuxer makes of those streams is not told of again)
        return {"audio": False, "said": frozenset(indices.values())}
    return {"stand_ins": stand_ins, "said": frozenset(lost)}


def _numbered(indices: list[int]) -> str:
    """Streams by their index, for a line: ``#1``, ``#1 and #3``.

    >>> _numbered([2]), _numbered([1, 2, 4])
    ('#2', '#1, #2 and #4')
    """
    return listed([f"#{i}" for i in indices])


def _blind_streams(count: int, indices: list[int]) -> str:
    """What a line says the first file has, of its ``count`` audio streams, where those of ``indices`` name no codec.

    >>> _blind_streams(1, [1]), _blind_streams(2, [1, 2])
    ('an audio stream that names no codec', '2 audio streams that name no codec')
    >>> _blind_streams(2, [2]), _blind_streams(3, [1, 3])
    ('audio stream #2 that names no codec', 'audio streams #1 and #3 that name no codec')
    """
    if count == 1:
        return "an audio stream that names no codec"
    if len(indices) == count:
        return f"{count} audio streams that name no codec"
    one = len(indices) == 1
    return f"audio stream{'' if one else 's'} {_numbered(indices)} that name{'s' if one else ''} no codec"


def _blind_kept(count: int, stood_in: list[int], lost: list[int], kept: int, before_start: bool) -> str:
    """What becomes of a join's audio where the first file's streams name no codec (:func:`without_codec`), for
    its line: ``count``, the first file's audio streams; ``stood_in``, the indices of those set up from a later
    file's; ``lost``, of those that cannot be; ``kept``, the output's audio streams; ``before_start``, whether the
    first file lies before --start (its sound is then in no output).

    >>> _blind_kept(1, [1], [], 1, False)
    "its sound is left out (silent in the output), the other files' kept"
    >>> _blind_kept(1, [1], [], 1, True)
    "its sound lies before --start (not in the output), the other files' is kept"
    >>> _blind_kept(2, [], [2], 1, False)
    "#2 is left out of the output (no later file's audio stream #2 could be read to set it up from); its other audio is kept"
    """
    if not kept:
        return "the join takes the first file's streams, so the audio is left out (a glob or @list.txt can start after it)"
    said = []
    if stood_in:
        on = "" if count == 1 else f" on {_numbered(stood_in)}"
        said.append(f"its sound{on} lies before --start (not in the output), the other files' is kept" if before_start
                    else f"its sound{on} is left out (silent in the output), the other files' kept")  # fmt: skip
    if lost:
        them = _numbered(lost)
        one = len(lost) == 1
        said.append(f"{them} {'is' if one else 'are'} left out of the output (no later file's audio stream{'' if one else 's'} "
                    f"{them} could be read to set {'it' if one else 'them'} up from)")  # fmt: skip
    if kept > len(stood_in):  # (streams that name their codec)
        said.append("its other audio is kept")
    return "; ".join(said)


def fewer_audio(first: int, most: int) -> str:
    """What the line says of a join whose first file has ``first`` audio streams where another has ``most``.

    >>> fewer_audio(0, 1)
    "has no audio where others have 1 stream: the join takes the first file's streams, so their audio is left out (a glob or @list.txt can start where it has sound)"
    >>> fewer_audio(1, 3)
    "has 1 audio stream where others have 3: the join takes the first file's streams, so their 2nd and 3rd audio streams are left out, the rest kept (a glob or @list.txt can start where it has them)"
    """
    if not first:
        return (f"has no audio where others have {most} stream{'s'[: most != 1]}: the join takes the first file's "
                "streams, so their audio is left out (a glob or @list.txt can start where it has sound)")  # fmt: skip
    late = [f"{n}{'nd' if n == 2 else 'rd' if n == 3 else 'th'}" for n in range(first + 1, most + 1)]
    one = len(late) == 1
    return (f"has {first} audio stream{'s'[: first != 1]} where others have {most}: the join takes the first file's "
            f"streams, so their {listed(late)} audio "
            f"stream{'' if one else 's'} {'is' if one else 'are'} left out, the rest kept (a glob or @list.txt can "
            f"start where it has {'it' if one else 'them'})")  # fmt: skip


def late_streams(kinds: list[tuple[str, ...]]) -> dict[int, str]:
    """The kinds of the later files' streams past the first file's, by number (the first file that has one names
    it), from each file's kinds (:data:`~roadseg.pipeline.sources.probe.Signature`): the join takes the first file's
    streams, and leaves these out.

    >>> late_streams([("video", "audio"), ("video", "audio", "subtitle"), ("video",), ("video", "audio", "data", "data")])
    {2: 'subtitle', 3: 'data'}
    """
    late: dict[int, str] = {}
    for own in kinds[1:]:
        for index in range(len(kinds[0]), len(own)):
            late.setdefault(index, own[index])
    return dict(sorted(late.items()))


def fewer_streams(first: int, late: dict[int, str]) -> str:
    """What the line says of a join whose first file has ``first`` streams where others have those of ``late`` too
    (:func:`late_streams`).

    >>> fewer_streams(2, {2: "subtitle"})
    "has 2 streams where others have 3: the join takes the first file's streams, so their subtitle stream #2 is left out (a glob or @list.txt can start where it has it)"
    >>> fewer_streams(2, {2: "audio", 3: "data"}).split("streams, ")[-1]
    'so their audio stream #2 and data stream #3 are left out (a glob or @list.txt can start where it has them)'
    """
    named = [f"{kind} stream #{index}" for index, kind in late.items()]
    one = len(named) == 1
    return (f"has {first} stream{'s'[: first != 1]} where others have {max(late) + 1}: the join takes the first "
            f"file's streams, so their {listed(named)} "
            f"{'is' if one else 'are'} left out (a glob or @list.txt can start where it has {'it' if one else 'them'})")  # fmt: skip
