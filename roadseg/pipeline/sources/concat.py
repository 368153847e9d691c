"""Several video files read as one: the one-minute files a dashcam writes of one drive.

FFmpeg's concat demuxer reads them back to back, so timestamps run on from file to file and the audio
with them; :func:`concat_source` returns an ordinary :class:`VideoSource` over it. The files must be
one camera's: the same video codec and size, the same audio (the demuxer would take another's
packets for the first file's codec) and their streams in one order (it puts a later file's stream N
where the first file's stream N is, whatever either is). Files of another camera or format, and one
that cannot be read at all (the last file of a drive, cut off when the power went), are left out
before any work, with one line; the camera most of the files come from is the one joined
(``batch --concat`` writes the others' as drives of their own: :func:`~roadseg.pipeline.sources.drives.joins`). A dual
dashcam writes its front and rear files into one folder, often at one size: where every file's name
ends in a camera's letter or word (:data:`~roadseg.pipeline.sources.cameras.CAMERA_TAGS`: ``..._NF.MP4``, ``..._NR.MP4``;
``...0003F.MP4``, ``...0004R.MP4``; ``...-front.mp4``, ``...-back.mp4``), the front camera's files
are joined and the others left out, with one line; a glob picks another (``"DCIM/*R.MP4"``), and
``batch --concat`` writes each camera's as drives of their own too.

Example:
    >>> concat_list([Path("/drive/a.mp4"), Path("/drive/it's.mp4")])
    "ffconcat version 1.0\\nfile '/drive/a.mp4'\\nfile '/drive/it'\\\\''s.mp4'\\n"
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import av

from roadseg.errors import SourceError
from roadseg.pipeline.inputs import DRIVE_GAP, find_videos
from roadseg.pipeline.sources.base import codec_of, open_container, say_sensor_boxes, sensor_boxes
from roadseg.pipeline.sources.cameras import _one_camera, _one_view
from roadseg.pipeline.sources.drives import _cut
from roadseg.pipeline.sources.file import VideoSource
from roadseg.pipeline.sources.probe import Placing, _listed, _named, _probe

log = logging.getLogger("roadseg")


def concat_paths(spec: str | Path, parts: Sequence[str | Path] = ()) -> list[Path]:
    """The video files a folder (searched recursively), a glob or an ``@list.txt`` names, in name
    order (the order a dashcam numbers its files in; a GoPro's chapters in recording order), or
    ``parts`` as they are where given (``spec`` then only names them); SourceError if there are none
    or none is there (one missing among others, a link to a file moved away, is left out by
    :func:`concat_source` as a file that cannot be read is)."""
    paths = [Path(p) for p in parts] if parts else [v.path for v in find_videos([str(spec)])]
    if paths and not any(p.exists() for p in paths):
        raise SourceError(f"input not found: {paths[0]}")
    if not paths:
        raise SourceError(f"no video files in {spec} to join (--concat)")
    return paths


def concat_list(paths: list[Path], durations: Sequence[float | None] = ()) -> str:
    """An ffconcat script of ``paths`` (absolute; quotes escaped as the concat demuxer reads them), each file
    followed by the ``duration`` that ``durations`` gives it, where it gives one (:func:`_durations`: the demuxer
    starts the next file that many seconds after this one's start; else after this one's length as FFmpeg reads it).

    >>> concat_list([Path("/d/a.ts"), Path("/d/b.ts")], [1.054, None]).splitlines()[1:]
    ["file '/d/a.ts'", 'duration 1.054000', "file '/d/b.ts'"]
    """
    lines = []
    for n, path in enumerate(paths):
        lines.append("file '" + str(path.resolve()).replace("'", "'\\''") + "'\n")
        if n < len(durations) and durations[n] is not None:
            lines.append(f"duration {durations[n]:.6f}\n")
    return "ffconcat version 1.0\n" + "".join(lines)


def _durations(placed: Sequence[Placing]) -> tuple[list[float | None], list[float]]:
    """The ``duration`` of each file in the join's script (None: none, the demuxer's own, FFmpeg's length of it), so
    that each file's true start follows where the file before it truly ends
    (:class:`~roadseg.pipeline.sources.probe.Placing`): the demuxer starts the next file that many seconds after it
    starts this one, and puts a file's FFmpeg start, not its true one, where it starts it. None where no file's first
    pictures were damaged. (The first file's true start lies as far after the join's 0 as its FFmpeg start lies before
    it: :class:`~roadseg.pipeline.sources.file.VideoSource` starts there, as in a file alone, and puts each file's
    damaged pictures back, its ``moves``.) A duration may be below 0 (a file shorter than the next one's damage: the
    demuxer takes it), but no file starts before the join's 0 (the demuxer refuses the script) nor where the one before
    it starts (it tells the files apart by where it starts them: ``FILE_TAGS``): such a file starts there, and the files
    after it follow it, later than they should. And so the seconds each file starts later than it should (VideoSource
    moves its packets back by as much, its ``shifts``).

    >>> _durations([Placing(4.032, 4.032), Placing(4.032, 7.01, -2.978), Placing(4.032, 4.032)])
    ([1.054, None, None], [0.0, 0.0, 0.0])
    >>> _durations([Placing(4.032, 4.032), Placing(4.032, 5.141), Placing(4.032, 4.032)])
    ([None, 4.032, None], [0.0, 0.0, 0.0])
    >>> _durations([Placing(2.0, 2.0), Placing(2.0, 5.0, -3.0), Placing(4.0, 5.0), Placing(2.0, 5.0, -3.0)])
    ([1e-06, None, 1.0, None], [0.0, 1.000001, 1.000001, 1.000001])
    """
    early = [p.early for p in placed] + [0.0]
    out: list[float | None] = []
    late = [0.0]  # (of each file)
    at: float | None = 0.0  # where the demuxer starts the file (None: where FFmpeg's length of one before it ends)
    for n, p in enumerate(placed):
        want, later = None if p.length is None else p.length + early[n + 1] - early[n], 0.0  # (the next file)
        if want is not None and at is not None and want < 1e-6 - at:
            later, want = 1e-6 - at - want, 1e-6 - at
        if want is not None and abs(want) < 1e-6:
            later, want = later + 1e-6 - want, 1e-6
        if want is None or p.ffmpeg is not None and abs(want - p.ffmpeg) < 1e-6:
            out.append(None)
            at = None if at is None or p.ffmpeg is None else at + p.ffmpeg
        else:
            out.append(round(want, 6))
            at = None if at is None else at + round(want, 6)
        late.append(late[-1] + later)
    return out, [round(t, 6) for t in late[:-1]]


def _blind_audio(sounds: list[tuple[str | None, ...]]) -> list[int]:
    """The first file's audio streams (by their place among its audio streams) that name no codec where a
    later file's name one. The concat demuxer takes the first file's: such a stream has neither the
    sound's parameters nor its setup (where the demuxer read ahead into the next file as it opened, aac
    at 0 Hz; else a stream of no kind), so the later files' sound can be neither copied nor decoded.

    >>> _blind_audio([(None,), ("aac",), ("aac",)]), _blind_audio([("aac",), (None,)]), _blind_audio([(None,), (None,)])
    ([0], [], [])
    """
    return [i for i, codec in enumerate(sounds[0]) if codec is None and any(len(s) > i and s[i] for s in sounds[1:])]


def _audio_indices(path: Path, places: list[int]) -> dict[int, int]:
    """The stream indices of the file's audio streams at ``places`` (among its audio streams), by place."""
    try:
        with open_container(str(path)) as container:
            return {i: container.streams.audio[i].index for i in places}
    except (SourceError, IndexError):
        return {}


def _stand_ins(paths: list[Path], places: list[int]) -> dict[int, av.stream.Stream]:
    """What the output's streams for the first file's audio at ``places``, which names no codec
    (:func:`_blind_audio`), are set up from: the stream at that place of the first later file whose stream
    there names one, by its index, which must be the first file's (the join's streams are the first file's,
    and a packet is known by its index). Each is left open (:class:`VideoSource` closes it). A place that has
    none is not among them: that stream's sound cannot be placed (the others' can). The joined files' streams are in
    one order (:func:`~roadseg.pipeline.sources.probe._agree`), so a place has none only where the later files that name
    its codec cannot be opened again (taken off the card since they were probed)."""
    wanted, found = _audio_indices(paths[0], places), {}
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


def _without_codec(paths: list[Path], sounds: list[tuple[str | None, ...]], blind: list[int], start: float,
                   first_seconds: float | None) -> dict:  # fmt: skip
    """:class:`VideoSource`'s options for a join whose first file's audio streams at ``blind`` name no codec
    (:func:`_blind_audio`; ``sounds``: each file's audio codecs), said in one line: each is set up from a later
    file's stream where one stands in for it (:func:`_stand_ins`: the first file's sound there is left out), and
    left out where none does; the first file's other audio streams are kept. Where none is kept, the audio is
    left out. ``start`` (--start) and ``first_seconds`` (the first file's length) say whether the first file's
    sound is in the output at all."""
    indices = _audio_indices(paths[0], blind)  # (by place)
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
    return _listed([f"#{i}" for i in indices])


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
    """What becomes of a join's audio where the first file's streams name no codec (:func:`_without_codec`), for
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


def _fewer_audio(first: int, most: int) -> str:
    """What the line says of a join whose first file has ``first`` audio streams where another has ``most``.

    >>> _fewer_audio(0, 1)
    "has no audio where others have 1 stream: the join takes the first file's streams, so their audio is left out (a glob or @list.txt can start where it has sound)"
    >>> _fewer_audio(1, 3)
    "has 1 audio stream where others have 3: the join takes the first file's streams, so their 2nd and 3rd audio streams are left out, the rest kept (a glob or @list.txt can start where it has them)"
    """
    if not first:
        return (f"has no audio where others have {most} stream{'s'[: most != 1]}: the join takes the first file's "
                "streams, so their audio is left out (a glob or @list.txt can start where it has sound)")  # fmt: skip
    late = [f"{n}{'nd' if n == 2 else 'rd' if n == 3 else 'th'}" for n in range(first + 1, most + 1)]
    one = len(late) == 1
    return (f"has {first} audio stream{'s'[: first != 1]} where others have {most}: the join takes the first file's "
            f"streams, so their {_listed(late)} audio "
            f"stream{'' if one else 's'} {'is' if one else 'are'} left out, the rest kept (a glob or @list.txt can "
            f"start where it has {'it' if one else 'them'})")  # fmt: skip


def _late_streams(kinds: list[tuple[str, ...]]) -> dict[int, str]:
    """The kinds of the later files' streams past the first file's, by number (the first file that has one names
    it), from each file's kinds (:data:`~roadseg.pipeline.sources.probe.Signature`): the join takes the first file's
    streams, and leaves these out.

    >>> _late_streams([("video", "audio"), ("video", "audio", "subtitle"), ("video",), ("video", "audio", "data", "data")])
    {2: 'subtitle', 3: 'data'}
    """
    late: dict[int, str] = {}
    for own in kinds[1:]:
        for index in range(len(kinds[0]), len(own)):
            late.setdefault(index, own[index])
    return dict(sorted(late.items()))


def _fewer_streams(first: int, late: dict[int, str]) -> str:
    """What the line says of a join whose first file has ``first`` streams where others have those of ``late`` too
    (:func:`_late_streams`).

    >>> _fewer_streams(2, {2: "subtitle"})
    "has 2 streams where others have 3: the join takes the first file's streams, so their subtitle stream #2 is left out (a glob or @list.txt can start where it has it)"
    >>> _fewer_streams(2, {2: "audio", 3: "data"}).split("streams, ")[-1]
    'so their audio stream #2 and data stream #3 are left out (a glob or @list.txt can start where it has them)'
    """
    named = [f"{kind} stream #{index}" for index, kind in late.items()]
    one = len(named) == 1
    return (f"has {first} stream{'s'[: first != 1]} where others have {max(late) + 1}: the join takes the first "
            f"file's streams, so their {_listed(named)} "
            f"{'is' if one else 'are'} left out (a glob or @list.txt can start where it has {'it' if one else 'them'})")  # fmt: skip


#: The concat demuxer's option that tags each packet with its file's start and length on the joined timeline
#: (``lavf.concatdec.start_time``, ``duration``): where a file begins, its decoder starts afresh
#: (:class:`~roadseg.pipeline.sources.decoder.Decoder`).
FILE_TAGS = {"segment_time_metadata": "1"}


def concat_source(spec: str | Path, parts: Sequence[str | Path] = (), **kw) -> VideoSource:
    """A :class:`VideoSource` reading the videos ``spec`` names (or ``parts``, :func:`concat_paths`)
    back to back (``kw``: its options).
    Its ``info`` counts the frames and seconds of all of them and has the first file's tags (its
    ``creation_time``: when the drive began)."""
    paths, signatures, infos, placings = [], [], {}, {}
    for path in concat_paths(spec, parts):
        try:
            signature, infos[path], placings[path] = _probe(path)
        except SourceError as exc:  # the drive's last file, cut off when the power went: the rest are joined
            log.warning("left out of the join: %s", str(exc))
            continue
        paths.append(path)
        signatures.append(signature)
    if not paths:
        raise SourceError(f"no readable video files in {spec} to join (--concat)")
    signature_of = dict(zip(paths, signatures))
    paths = _one_view(paths)
    paths = _one_camera(paths, [signature_of[p] for p in paths])
    first, most = len(signature_of[paths[0]][1]), max(len(signature_of[p][1]) for p in paths)
    late = _late_streams([signature_of[p][2] for p in paths])
    said = {i: kind for i, kind in late.items() if kind != "audio" or kw.get("audio", True)}
    if any(kind != "audio" for kind in said.values()):  # (the audio among them named too)
        log.warning("the first file joined, %s, %s", paths[0].name, _fewer_streams(len(signature_of[paths[0]][2]), said))
    elif kw.get("audio", True) and most > first:
        log.warning("the first file joined, %s, %s", paths[0].name, _fewer_audio(first, most))
    if blind := _blind_audio([signature_of[p][1] for p in paths]):
        if kw.get("audio", True):
            kw.update(_without_codec(paths, [signature_of[p][1] for p in paths], blind, kw.get("start", 0.0),
                                     infos[paths[0]].duration))  # fmt: skip
        else:  # (what the demuxer makes of those streams is not told of with --no-audio)
            kw["said"] = frozenset(_audio_indices(paths[0], blind).values())
    if len(cut := _cut(paths, infos, DRIVE_GAP)) > 1:
        log.warning("the files hold %d drives (the recording paused for more than %d s, or the clock went back, "
                    "before %s); they are joined into one video (roadseg batch --concat writes one a drive)",
                    len(cut), DRIVE_GAP, _named([part[0] for part in cut[1:]]))  # fmt: skip
    kept = [infos[p] for p in paths]
    say_sensor_boxes([box for p in paths for box in sensor_boxes(p)], "the joined files")
    fd, script = tempfile.mkstemp(suffix=".ffconcat", prefix="roadseg-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            durations, behind = _durations([placings[p] for p in paths])
            f.write(concat_list(paths, durations))
        container = open_container(script, format="concat", options={"safe": "0", **FILE_TAGS},
                                   hwaccel=kw.pop("hwaccel", None))  # fmt: skip
    finally:
        os.unlink(script)  # (the demuxer reads the whole script as it opens)
    chunked = all(Path(p).suffix.lower() == ".avi" for p in paths)  # (their empty chunks: held pictures)
    moves = [placings[p].moves for p in paths]  # (each file's damaged first pictures, put back as the join reads them)
    source = VideoSource(str(spec), container=container, chunked=chunked, moves=moves, shifts=[-t for t in behind], **kw)
    source.joins, source.late_said = len(paths) - 1, bool(late)  # (the later files' streams past the first's: said above)
    frames = [i.frames for i in kept]
    seconds = [i.duration for i in kept]
    source.info = replace(source.info, frames=sum(frames) if all(frames) else None,
                          duration=sum(seconds) if all(seconds) else None,
                          tags=kept[0].tags, video_tags=kept[0].video_tags)  # (the drive began with the first file)  # fmt: skip
    return source
