"""Several video files read as one: the one-minute files a dashcam writes of one drive.

FFmpeg's concat demuxer reads them back to back, so timestamps run on from file to file and the audio
with them; :func:`concat_source` returns an ordinary :class:`VideoSource` over it. The files must be
one camera's: the same video codec and size, the same audio (the demuxer would take another's
packets for the first file's codec) and their streams in one order (it puts a later file's stream N
where the first file's stream N is, whatever either is). Files of another camera or format, and one
that cannot be read at all (the last file of a drive, cut off when the power went), are left out
before any work, with one line; the camera most of the files come from is the one joined
(``batch --concat`` writes the others' as drives of their own: :func:`joins`). A dual
dashcam writes its front and rear files into one folder, often at one size: where every file's name
ends in a camera's letter or word (:data:`CAMERA_TAGS`: ``..._NF.MP4``, ``..._NR.MP4``;
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
import re
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

import av
import av.bitstream

from roadseg.errors import SourceError
from roadseg.pipeline.inputs import DRIVE_GAP, find_videos, gopro_recording
from roadseg.pipeline.sources.base import (
    MAX_SECONDS,
    VideoInfo,
    codec_of,
    open_container,
    packet_time,
    picture_stream,
    say_sensor_boxes,
    seconds,
    sensor_boxes,
)
from roadseg.pipeline.sources.clock import TS_DISCONT
from roadseg.pipeline.sources.file import VideoSource
from roadseg.pipeline.sources.inline import InLine, first_moved

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


#: What must agree between a camera's files (:func:`_agree`): (video codec, width, height), the audio codecs (None: a
#: stream without one, its header damaged) and the kinds of the streams in the file's order ("video", "audio", "data" ...).
Signature = tuple[tuple[str, int, int], tuple[str | None, ...], tuple[str, ...]]


class Placing(NamedTuple):
    """Where the concat demuxer puts a file on the join's timeline, and where it should. The demuxer shifts the file's
    timestamps by FFmpeg's start of it (the container's ``start_time``: the earliest of its streams' first stamps),
    to begin where the file before it ends, and starts the next one after FFmpeg's length of it (the container's
    ``duration``, from that start to its streams' latest end). Where a transport stream's first pictures' stamps
    alone were damaged (:func:`_placed`), FFmpeg's start and length are the damaged stamps': ``early`` says how many
    seconds FFmpeg's start lies before the file's true one (after it: below 0), ``length`` its seconds from its true
    start to its end; ``ffmpeg``, FFmpeg's length (None: unknown, or neither is known); ``moves``, the seconds those
    pictures' packets are moved by to put them back, by their number (:func:`~roadseg.pipeline.sources.inline.first_moved`)."""

    length: float | None
    ffmpeg: float | None
    early: float = 0.0
    moves: Mapping[int, float] = MappingProxyType({})


def _probe(path: Path) -> tuple[Signature, VideoInfo, Placing]:
    """The file's :data:`Signature`, :class:`VideoInfo` (its frames, seconds and tags) and :class:`Placing`, read in
    one opening."""
    with open_container(str(path)) as container:
        info = VideoInfo.from_container(container, str(path))
        audio = tuple(codec_of(a) for a in container.streams.audio)
        kinds = tuple(s.type for s in container.streams)
        if (video := picture_stream(container)) is not None and not _converts(video):
            raise SourceError(f"{path.name}: its H.264 setup (avcC) is damaged, and the join cannot read past it",
                              damaged=True)  # fmt: skip
        placing, info = _placed(container, video, info)
        return ((info.codec, info.width, info.height), audio, kinds), info, placing


def _placed(container, video, info: VideoInfo) -> tuple[Placing, VideoInfo]:
    """The file's :class:`Placing`, and ``info`` with its video's seconds and frames counted from where its first
    pictures are put back, where the stamps of a transport stream's first pictures alone were damaged (judged by its
    first video packets as :class:`~roadseg.pipeline.sources.file.VideoSource` judges a file's own:
    :func:`~roadseg.pipeline.sources.inline.first_moved`). Its true start is then the earliest of its picture's put
    back and its other streams' starts, its end the latest of theirs (:func:`_video_end`)."""
    ffmpeg = container.duration / av.time_base if container.duration and container.duration > 0 else None
    if video is None or not container.format.flags & TS_DISCONT or container.start_time is None:
        return Placing(ffmpeg, ffmpeg), info
    packets, read = _video_packets(container, video), []

    def stamps() -> Iterator[tuple[int | None, Fraction]]:
        for packet in packets:
            read.append(packet)
            yield (packet.pts if packet.dts is None else packet.dts), packet.time_base

    moves = first_moved(stamps(), InLine.of(video))
    if not moves or (first := packet_time(read[0])) is None:
        return Placing(ffmpeg, ffmpeg), info
    first += moves[0]  # (where its pictures truly start)
    step = 1 / float(info.fps) if info.fps else 0.0
    video_end = _video_end(video, read, moves, packets, step)
    if video_end is None:
        return Placing(None, ffmpeg, moves=moves), info
    others = [s for s in container.streams if s.index != video.index and s.type not in ("subtitle", "data") and
              s.start_time is not None and s.time_base]  # fmt: skip
    start = min([first, *(seconds(s.start_time, s.time_base) for s in others)])
    end = max([video_end, *(seconds(s.start_time + s.duration, s.time_base) for s in others if s.duration is not None)])
    length = video_end - first
    if 0 < length < MAX_SECONDS:
        frames = video.frames if video.frames and video.frames > 0 else round(length * info.fps) if info.fps else None
        info = replace(info, duration=length, frames=frames)
    return Placing(end - start, ffmpeg, container.start_time / av.time_base - start, moves), info


def _video_packets(container, video) -> Iterator[av.Packet]:
    """The video ``video``'s packets that hold data, in the file's order, up to its end or damage that breaks the
    demuxer."""
    try:
        yield from (packet for packet in container.demux(video) if packet.size)
    except Exception:  # noqa: BLE001 - FFmpegError, PyAV's IndexError: what was read before it
        return


def _video_end(video, read: list[av.Packet], moved: Mapping[int, float], packets: Iterator[av.Packet],
               step: float) -> float | None:  # fmt: skip
    """Where the video's pictures end (seconds of the file's clock), its first ones (those of ``read`` that ``moved``
    moves) damaged: FFmpeg's end of the stream, but where that is the damaged pictures' end (FFmpeg counts the
    ends of a stream's packets after its first stamp alone: where its first pictures are stamped ahead of the rest,
    their end is the video's, or none is), the latest end of the others, read on to the end (``packets``: the rest;
    a file in which FFmpeg found the damaged ones at its end is small enough that it read it all)."""
    damaged = [t for n in moved if (t := _end_of(read[n], step)) is not None]
    if video.start_time is not None and video.duration is not None and damaged:
        end = seconds(video.start_time + video.duration, video.time_base)
        if end > max(damaged) + step / 2:
            return end
    ends = [_end_of(p, step) for p in (*(p for n, p in enumerate(read) if n not in moved), *packets)]
    return max((t for t in ends if t is not None), default=None)


def _end_of(packet: av.Packet, step: float) -> float | None:
    """Where ``packet``'s picture ends (seconds): its time, and its duration (else ``step``, a frame's)."""
    stamp = packet.pts if packet.pts is not None else packet.dts
    if stamp is None or not packet.time_base:
        return None
    return seconds(stamp + (packet.duration or 0), packet.time_base) + (0.0 if packet.duration else step)


def _durations(placed: Sequence[Placing]) -> tuple[list[float | None], list[float]]:
    """The ``duration`` of each file in the join's script (None: none, the demuxer's own, FFmpeg's length of it), so
    that each file's true start follows where the file before it truly ends (:class:`Placing`): the demuxer starts
    the next file that many seconds after it starts this one, and puts a file's FFmpeg start, not its true one, where
    it starts it. None where no file's first pictures were damaged. (The first file's true start lies as far after
    the join's 0 as its FFmpeg start lies before it: :class:`~roadseg.pipeline.sources.file.VideoSource` starts there,
    as in a file alone, and puts each file's damaged pictures back, its ``moves``.) A duration may be below 0 (a file
    shorter than the next one's damage: the demuxer takes it), but no file starts before the join's 0 (the demuxer
    refuses the script) nor where the one before it starts (it tells the files apart by where it starts them:
    ``FILE_TAGS``): such a file starts there, and the files after it follow it, later than they should. And so the
    seconds each file starts later than it should (VideoSource moves its packets back by as much, its ``shifts``).

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


def _converts(stream) -> bool:
    """Whether the concat demuxer takes the H.264 ``stream`` into the join: it turns a file's packets into Annex B
    with FFmpeg's h264_mp4toannexb (its ``auto_convert``), set up from the file's avcC, and reads no further where
    that filter refuses the file's (a damaged header: the rest of the drive lost). Other codecs pass as they are."""
    context = stream.codec_context
    extradata = (context.extradata or b"") if context is not None else b""
    if codec_of(stream) != "h264" or not extradata or extradata[:3] == b"\0\0\1" or extradata[:4] == b"\0\0\0\1":
        return True
    try:
        av.bitstream.BitStreamFilterContext("h264_mp4toannexb", stream)
    except (av.error.FFmpegError, ValueError):
        return False
    return True


def _codecs(sound: tuple[str | None, ...]) -> str:
    """The audio codecs of a file's signature, for a line ("none" where it has no audio)."""
    return ", ".join(c or "no codec" for c in sound) or "none"


def _named(paths: list[Path]) -> str:
    """The first three file names of ``paths``, and how many more, for a line that leaves them out."""
    return ", ".join(p.name for p in paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")


def _agree(a: Signature, b: Signature) -> bool:
    """Whether files of signatures ``a`` and ``b`` join rightly: the same video codec and size, audio codecs that
    agree as far as both files have audio (a damaged header may add or lose a stream, or leave one without a codec:
    None, which agrees with any), and streams of the same kinds at each number both files have. The concat demuxer
    puts a later file's stream N where the first file's stream N is, whatever either is (a telemetry track before
    the audio: its packets written as sound, the sound as telemetry); one file may have streams past the other's.

    >>> v = ("h264", 64, 48)
    >>> _agree((v, ("aac",), ("video", "audio")), (v, (None,), ("video", "audio", "data")))
    True
    >>> _agree((v, ("aac",), ("video", "audio")), (v, ("aac",), ("video", "data", "audio")))
    False
    """
    return (a[0] == b[0] and all(x == y or None in (x, y) for x, y in zip(a[1], b[1]))
            and all(x == y for x, y in zip(a[2], b[2])))  # fmt: skip


def _described(signature: Signature, other: Signature) -> str:
    """A file's ``signature`` for the line that leaves it out beside ``other``'s: its streams' order only where
    the two differ in it.

    >>> v = ("h264", 64, 48)
    >>> _described((v, ("aac",), ("video", "data", "audio")), (v, ("aac",), ("video", "audio")))
    'h264 64x48, audio aac, streams video/data/audio'
    >>> _described((("h264", 128, 96), (), ("video",)), (v, ("aac",), ("video", "audio")))
    'h264 128x96, audio none'
    """
    (codec, width, height), sound, kinds = signature
    order = f", streams {'/'.join(kinds)}" if any(x != y for x, y in zip(kinds, other[2])) else ""
    return f"{codec} {width}x{height}, audio {_codecs(sound)}{order}"


def _one_camera(paths: list[Path], signatures: list[Signature]) -> list[Path]:
    """The files of the camera most of them come from (:func:`_camera`). The others are left out, with one line;
    where as many files are of another camera or format (a drive of two files, one of each), the line says that
    the first file's were taken, and how to join the others."""
    kept, tie = _camera(signatures)
    first = signatures[kept.index(True)]
    if other := [p for p, k in zip(paths, kept) if not k]:
        theirs = signatures[kept.index(False)]
        how = ("; as many files are of each, and the first file's are joined (a glob or @list.txt that names those "
               "left out joins theirs; roadseg batch --concat writes each as a drive of its own)") if tie else ""
        log.warning("left out of the join: %d file%s of another camera or format (%s, where the others are %s): %s%s",
                    len(other), "s"[: len(other) != 1], _described(theirs, first), _described(first, theirs),
                    _named(other), how)  # fmt: skip
    return [p for p, k in zip(paths, kept) if k]


def _camera(signatures: list[Signature]) -> tuple[list[bool], bool]:
    """Which files of ``signatures`` the join takes: those that agree (:func:`_agree`) with the file most of them
    agree with (the first such), and with the first of them, whose streams the join takes; and whether as many
    agree with one that is left out (a tie, which the first to come wins).

    >>> v = ("h264", 64, 48)
    >>> va, vda = (v, ("aac",), ("video", "audio")), (v, ("aac",), ("video", "data", "audio"))
    >>> _camera([vda, va, vda]), _camera([va, vda])
    (([True, False, True], False), ([True, False], True))
    """
    counts = Counter(signatures)  # (a card's folder may hold a thousand files, of a few signatures)
    agreeing = {s: sum(n for t, n in counts.items() if _agree(s, t)) for s in counts}
    main = max(counts, key=agreeing.__getitem__)  # (of as many, the first to come)
    first = next(s for s in signatures if _agree(s, main))
    tie = any(n == agreeing[main] and not _agree(s, main) for s, n in agreeing.items())
    return [_agree(s, main) and _agree(s, first) for s in signatures], tie


def _formats(paths: list[Path], signatures: dict[Path, Signature]) -> list[tuple[list[Path], str]]:
    """``paths`` (one camera's files of a drive) as ``batch --concat`` writes them: the files :func:`concat_source`
    joins, then, where it would leave some out as of another camera or format (another codec, size, audio or order
    of streams), those it joins of the rest, and so on: each a drive of its own, none of the footage lost. Those
    that cannot be read (not in ``signatures``) stay with the first, which leaves them out with its line. Each with
    what its results line says of it (empty where the drive is whole).

    >>> v = ("h264", 64, 48)
    >>> va, vda = (v, ("aac",), ("video", "audio")), (v, ("aac",), ("video", "data", "audio"))
    >>> a, b, c, d = (Path(n) for n in ("0800_NF.MP4", "0801_NF.MP4", "0802_NF.MP4", "0803_NF.MP4"))
    >>> [[p.name for p in part] for part, _ in _formats([a, b, c, d], {a: vda, b: va, c: vda})]
    [['0800_NF.MP4', '0802_NF.MP4', '0803_NF.MP4'], ['0801_NF.MP4']]
    """
    rest = [p for p in paths if p in signatures]
    parts = []
    while rest:
        kept, _ = _camera([signatures[p] for p in rest])
        parts.append([p for p, k in zip(rest, kept) if k])
        rest = [p for p, k in zip(rest, kept) if not k]
    if len(parts) < 2:
        return [(paths, "")]
    first = set(parts[0])  # (a card's folder may hold a thousand files)
    head = [p for p in paths if p in first or p not in signatures]
    ours, apart = signatures[parts[0][0]], [p for part in parts[1:] for p in part]
    theirs, many = signatures[apart[0]], len(parts) > 2
    said = [(head,
             f"written apart, as {'drives of their' if many else 'a drive of its'} own: {len(apart)} "
             f"file{'s'[: len(apart) != 1]} of another camera or format ({_described(theirs, ours)}, where the others "
             f"are {_described(ours, theirs)}): {_named(apart)}")]  # fmt: skip
    for part in parts[1:]:
        mine = signatures[part[0]]
        said.append((part, f"a drive of its own, apart from {parts[0][0].name}'s: its files are of another camera or "
                           f"format ({_described(mine, ours)}, where that drive's are {_described(ours, mine)})"))  # fmt: skip
    return said


class Join(NamedTuple):
    """A drive as ``batch --concat`` writes it (:func:`joins`): its ``files``, what its results line says of it
    (``said``), and whether they are another camera's than the one :func:`concat_source` joins of their drive
    (``apart``: the dashcam's rear, inside or side camera's, by their names)."""

    files: list[Path]
    said: tuple[str, ...] = ()
    apart: bool = False


def _cameras(paths: list[Path], signatures: dict[Path, Signature]) -> list[Join]:
    """One drive's ``paths`` as ``batch --concat`` writes them: the files of the camera :func:`concat_source` joins
    (the front one's where every name says which camera recorded it: :func:`_one_view`), then each other camera's
    files as drives of their own (``apart``), where it leaves them out; each camera's cut by :func:`_formats`. A
    file that cannot be read goes with its camera's, else with the first drive, whose worker leaves it out with
    its line. (Was: the other cameras' files left out, their footage in no output.)

    >>> v, w = (("h264", 64, 48), ("aac",), ("video", "audio")), (("h264", 32, 24), (), ("video",))
    >>> f, r, g, s = (Path(n) for n in ("0800_NF.MP4", "0800_NR.MP4", "0801_NF.MP4", "0801_NR.MP4"))
    >>> [([p.name for p in join.files], join.apart) for join in _cameras([f, r, g, s], {f: v, r: w, g: v, s: w})]
    [(['0800_NF.MP4', '0801_NF.MP4'], False), (['0800_NR.MP4', '0801_NR.MP4'], True)]
    >>> i, j, k, m, n = (Path(n) for n in ("0800_I.MP4", "0800_R.MP4", "0801_I.MP4", "0801_R.MP4", "0802_R.MP4"))
    >>> [[p.name for p in join.files] for join in _cameras([i, j, k, m, n], {i: v, j: w, k: v, m: w, n: v})]
    [['0800_R.MP4', '0801_R.MP4'], ['0802_R.MP4'], ['0800_I.MP4', '0801_I.MP4']]
    """
    views = {p: camera_view(p.stem) for p in paths}
    main = _main_view([views[p] for p in paths if p in signatures])  # (as the worker chooses: of those it reads)
    if main is None:
        return [Join(part, tuple(filter(None, [words]))) for part, words in _formats(paths, signatures)]
    cameras = sorted(dict.fromkeys(views[p] for p in paths if p in signatures), key=lambda view: view != main)
    group = {p: views[p] if views[p] in cameras else main for p in paths}
    ours = _formats([p for p in paths if group[p] == main], signatures)
    others = [(view, part, words) for view in cameras[1:]
              for part, words in _formats([p for p in paths if group[p] == view], signatures)]  # fmt: skip
    head, words = ours[0]
    apart = [p for p in paths if group[p] != main]
    kinds = _listed(cameras[1:])  # type: ignore[arg-type]
    joined = [Join(head, (*filter(None, [words]),
                          f"written apart, as {'a drive of its' if len(others) == 1 else 'drives of their'} own: "
                          f"{len(apart)} file{'s'[: len(apart) != 1]} of the dashcam's {kinds} camera"
                          f"{'s'[: len(cameras) > 2]} (the {main} camera's are joined here): {_named(apart)}")),
              *(Join(part, tuple(filter(None, [words]))) for part, words in ours[1:])]  # fmt: skip
    first = next(p for p in head if p in signatures).name
    for view, part, words in others:
        joined.append(Join(part, (f"a drive of its own, apart from {first}'s: the dashcam's {view} camera's files, "
                                  f"where that drive's are its {main} camera's", *filter(None, [words])), apart=True))  # fmt: skip
    return joined


#: How a dashcam ends a file's name to say which of its cameras recorded it: one letter, after a letter
#: for the kind of recording (BlackVue ``..._NF``/``_EF``/``_PR``) or before one for its quality (Nextbase
#: ``..._FH``/``_RL``) or alone (Viofo ``..._0003F``, 70mai ``...B``), or a word (Tesla ``...-front``,
#: ``-back``, ``-left_repeater``, ``-left_pillar``). The front camera's come first.
CAMERA_TAGS = {"f": "front", "front": "front", "r": "rear", "rear": "rear", "b": "rear", "back": "rear",
               "i": "inside", "inside": "inside", "interior": "inside", "cabin": "inside", "left": "left",
               "left_repeater": "left", "right": "right", "right_repeater": "right",
               "left_pillar": "left pillar", "right_pillar": "right pillar"}  # fmt: skip
_TAIL = re.compile(r"[a-z]+(?:_[a-z]+)*$")


def camera_view(name: str) -> str | None:
    """The camera a dashcam's file ``name`` says recorded it (see :data:`CAMERA_TAGS`), or None.

    >>> [camera_view(n) for n in ("2026_1203_080000_0003F", "20261203_080000_NR", "2026-12-03_08-00-00-left_repeater")]
    ['front', 'rear', 'left']
    >>> camera_view("GX010042"), camera_view("part_a"), camera_view("drive_rear_view")
    (None, None, None)
    >>> camera_view("221203_080000_001_FH"), camera_view("221203_080000_001_RL"), camera_view("x-right_pillar")
    ('front', 'rear', 'right pillar')
    """
    tail = _TAIL.search(name.lower())
    word = tail.group(0) if tail else ""
    if len(word) == 2:  # the kind, then the camera (BlackVue's NF); or the camera, then its quality (Nextbase's FH)
        word = word[-1] if word[-1] in CAMERA_TAGS else word[0]
    return CAMERA_TAGS.get(word)


def _main_view(views: list[str | None]) -> str | None:
    """The camera whose files are joined where the names say which recorded each and more than one
    did: the front one, else the one most files are from; None where the names do not all say."""
    if len(set(views)) < 2 or None in views:
        return None
    return "front" if "front" in views else max(views, key=lambda v: (views.count(v), -views.index(v)))  # type: ignore[arg-type]


def first_of_view(paths: Sequence[Path]) -> Path:
    """The first of ``paths`` that :func:`concat_source` would join by the names (the front camera's, where
    they say): what ``batch --concat`` names a drive after.

    >>> first_of_view([Path("2026-12-03_08-00-00-back.mp4"), Path("2026-12-03_08-00-00-front.mp4")]).name
    '2026-12-03_08-00-00-front.mp4'
    """
    views = [camera_view(p.stem) for p in paths]
    main = _main_view(views)
    return next(p for p, view in zip(paths, views) if main is None or view == main)


def _one_view(paths: list[Path]) -> list[Path]:
    """The front camera's files where every name says which camera recorded it (:func:`camera_view`) and
    more than one camera's are here (joined, the drive would flip between them at every file); else
    ``paths``. The others are left out, with one line. Chosen before :func:`_one_camera`: a front camera
    at 4K beside two at 1080p is still the one joined.

    >>> [p.name for p in _one_view([Path("0800_NF.MP4"), Path("0800_NR.MP4"), Path("0801_EF.MP4")])]
    ['0800_NF.MP4', '0801_EF.MP4']
    >>> len(_one_view([Path("part_a.mp4"), Path("part_b.mp4"), Path("part_c.mp4")]))  # (not a camera's names)
    3
    """
    views = [camera_view(p.stem) for p in paths]
    if (main := _main_view(views)) is None:
        return paths
    other = [p for p, view in zip(paths, views) if view != main]
    names = _named(other)
    kinds = list(dict.fromkeys(v for v in views if v != main))
    theirs = _listed(kinds)
    log.warning("left out of the join: %d file%s of the dashcam's %s camera%s (the %s camera's are joined; a glob "
                "that matches one camera's names picks another; roadseg batch --concat writes each camera's as a drive of its "
                "own): %s", len(other), "s"[: len(other) != 1], theirs,
                "s"[: " and " in theirs], main, names)  # fmt: skip
    return [p for p, view in zip(paths, views) if view == main]


#: A date and time in a file's name, as dashcams write when a recording began: ``20261203_080000``
#: (BlackVue), ``2026_1203_080000`` (Viofo), ``2026-12-03_08-00-00`` (Tesla), ``20261203T080000``.
_NAME_TIME = re.compile(r"(?<!\d)(20\d\d)[-_]?(\d\d)[-_]?(\d\d)[-_T ]?(\d\d)[-_.:]?(\d\d)[-_.:]?(\d\d)(?!\d)")


def named_time(name: str) -> datetime | None:
    """When a file's ``name`` says its recording began (the camera's clock), or None.

    >>> [str(named_time(n)) for n in ("2026_1203_080000_0003F", "20261203_080000_NR", "2026-12-03_08-00-00-front")]
    ['2026-12-03 08:00:00', '2026-12-03 08:00:00', '2026-12-03 08:00:00']
    >>> named_time("GX010042"), named_time("20261399_250000")
    (None, None)
    """
    for m in _NAME_TIME.finditer(name):
        try:
            return datetime(*map(int, m.groups()))  # type: ignore[misc]
        except ValueError:  # (digits that are not a date: a counter)
            continue
    return None


def _tagged_time(tags: dict) -> datetime | None:
    """A file's ``creation_time`` tag as a naive UTC time, or None."""
    value = next((v for k, v in tags.items() if k.lower() == "creation_time"), None)
    try:
        when = datetime.fromisoformat(str(value).strip())  # (3.11 reads a trailing Z as UTC)
    except ValueError:
        return None
    return when.astimezone(timezone.utc).replace(tzinfo=None) if when.tzinfo else when


def drives(paths: Sequence[Path], gap: float) -> list[list[Path]]:
    """``paths`` (one folder's, in the order the camera recorded them:
    :func:`~roadseg.pipeline.inputs.recording_order`) cut into drives: a new one begins where the
    recording paused for more than ``gap`` seconds between one file's end and the next one's start, or
    where the clock goes back. When a file began is read from the names where every name holds a date
    and time (:func:`named_time`), else from the files' ``creation_time`` tags; a file without one (an
    unreadable file, cut off when the power went) goes on with the drive before it, as do up to three
    in a row whose tags would put them outside the drive that the files around them make (damaged); a
    GoPro's chapters, which it tags with their recording's start, run on one after another. Where
    neither tells, the files are one drive. A camera that writes every drive into one folder (most SD
    cards) so gets an output per drive from ``batch --concat``."""
    paths = list(paths)
    if len(paths) < 2 or gap == float("inf"):
        return [paths]
    return _cut(paths, {path: info for path, (_, info, _) in _probed(paths).items()}, gap)


def joins(paths: Sequence[Path], gap: float) -> list[Join]:
    """What ``batch --concat`` writes of one folder's ``paths`` (in the order the camera recorded them): its
    :func:`drives`, each cut again by camera (:func:`_cameras`: the dashcam's rear, inside or side camera's files,
    which :func:`concat_source` leaves out, a drive of their own) and by format (:func:`_formats`: those of another
    codec, size, audio or order of streams, which it would leave out too), each with what its results line says of
    that (nothing where the drive is whole). Each file's header is read once, with ``gap`` ``inf`` too (the folder
    one drive in time, its cameras and formats apart).

    >>> joins([Path("only.mp4")], 60) == [Join([Path("only.mp4")])]  # (one file: nothing read)
    True
    """
    paths = list(paths)
    if len(paths) < 2:
        return [Join(paths)]
    probed = _probed(paths)
    infos = {path: info for path, (_, info, _) in probed.items()}
    signatures = {path: signature for path, (signature, _, _) in probed.items()}
    cut = [paths] if gap == float("inf") else _cut(paths, infos, gap)
    return [part for drive in cut for part in _cameras(drive, signatures)]


def _probed(paths: list[Path]) -> dict[Path, tuple[Signature, VideoInfo, Placing]]:
    """:func:`_probe` of each of ``paths`` that can be read."""
    probed = {}
    for path in paths:
        try:
            probed[path] = _probe(path)
        except SourceError:
            pass
    return probed


def _cut(paths: list[Path], infos: dict[Path, VideoInfo], gap: float) -> list[list[Path]]:
    """:func:`drives` of files already probed (``infos``: the readable ones)."""
    named = [named_time(p.stem) for p in paths]
    seconds = _lengths(paths, infos)
    starts = named if all(named) else _unless_stray([_tagged_time(infos[p].tags) if p in infos else None
                                                     for p in paths], seconds, gap)  # fmt: skip
    groups: list[list[Path]] = []
    last: tuple[datetime, float] | None = None  # when the drive's latest file began, and its seconds
    recording = None  # the GoPro recording it is a chapter of
    for path, start, length in zip(paths, starts, seconds):
        chapter = start is not None and last is not None and start == last[0] and recording is not None and \
            gopro_recording(path.name) == recording  # fmt: skip
        if start is not None and last is not None:
            pause = (start - last[0]).total_seconds() - last[1]
            if pause > gap or start < last[0]:
                groups.append([])
        if not groups:
            groups.append([])
        groups[-1].append(path)
        if start is not None and not chapter:
            last, recording = (start, length), gopro_recording(path.name)
        elif last is not None:  # its time unknown, or its recording's (a GoPro's next chapter): the drive runs on
            last = (last[0], last[1] + length)
    return groups


def _lengths(paths: list[Path], infos: dict[Path, VideoInfo]) -> list[float]:
    """Each file's seconds; an unreadable one's (cut off, damaged) guessed from its size at the bytes a
    second of the nearest readable file of its camera before it (else after it), so a drive runs on
    through it."""

    def rate(p: Path) -> float | None:
        seconds = infos[p].duration if p in infos else None
        return _size(p) / seconds if seconds else None

    rates, views = [rate(p) for p in paths], [camera_view(p.stem) for p in paths]
    lengths = []
    for i, path in enumerate(paths):
        if path in infos:
            lengths.append(infos[path].duration or 0.0)
            continue
        nearest = [*range(i - 1, -1, -1), *range(i + 1, len(paths))]  # (before it, then after it)
        near = next((rates[j] for j in nearest if rates[j] and views[j] == views[i]), None)  # its camera's
        near = near or next((rates[j] for j in nearest if rates[j]), None)
        lengths.append(_size(path) / near if near else 0.0)
    return lengths


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


#: The most files in a row whose tags :func:`_unless_stray` drops (a damaged run, not a drive of its own).
STRAY_RUN = 3


def _unless_stray(starts: list[datetime | None], seconds: list[float], gap: float) -> list[datetime | None]:
    """``starts`` (from tags, in the camera's file order) less those that cannot be right: up to
    :data:`STRAY_RUN` files in a row whose times follow neither the file before them nor lead to the
    one after them, where those two follow each other within the run's seconds and ``gap`` (damaged
    tags, or a clock read wrongly), were recorded between them and go on with that drive. A file
    without a time (unreadable) may be in the run. A file that begins or ends the list keeps its time:
    a drive of its own is as likely; so does one that follows its neighbour on one side (a clock set
    back at power-up).

    >>> t = [datetime(2026, 12, 3, 8, 0, s) for s in (0, 1, 2, 3)]
    >>> _unless_stray([t[0], datetime(1970, 1, 1), t[2]], [1.0] * 3, 60) == [t[0], None, t[2]]
    True
    >>> (_unless_stray([t[0], datetime(1970, 1, 1), None, datetime(2038, 1, 19), t[3]], [1.0] * 5, 60)
    ...               == [t[0], None, None, None, t[3]])  # two damaged tags, an unreadable file beside them
    True
    >>> _unless_stray([t[0], datetime(2026, 12, 3, 9), datetime(2026, 12, 3, 10)], [1.0] * 3, 60)[1] is not None
    True
    >>> None in _unless_stray([t[0], t[1], t[0], t[1]], [1.0] * 4, 60)  # a clock that starts again at 08:00:00
    False
    """

    def follows(a: int, b: int) -> bool:  # b began after a, within the seconds between them and the gap
        return starts[b] >= starts[a] and (starts[b] - starts[a]).total_seconds() <= sum(seconds[a:b]) + gap  # type: ignore[operator]

    kept = list(starts)
    for a in range(len(starts) - 2):
        if kept[a] is None:
            continue
        run = []  # the tagged files after a that do not follow it
        for b in range(a + 1, min(a + STRAY_RUN + 2, len(starts))):
            if starts[b] is None:
                continue
            if follows(a, b):
                if not any(follows(r, b) for r in run):
                    for r in run:
                        kept[r] = None
                break
            run.append(b)
    return kept


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
    one order (:func:`_agree`), so a place has none only where the later files that name its codec cannot be opened
    again (taken off the card since they were probed)."""
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


def _listed(words: list[str]) -> str:
    """``words`` as a line lists them: ``a``, ``a and b``, ``a, b and c``.

    >>> _listed(["front"]), _listed(["rear", "inside"]), _listed(["#1", "#2", "#4"])
    ('front', 'rear and inside', '#1, #2 and #4')
    """
    return " and ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)


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
    it), from each file's kinds (:data:`Signature`): the join takes the first file's streams, and leaves these out.

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
