"""What the join (:mod:`~roadseg.pipeline.sources.concat`) reads of each file before any work, in one opening:
its :data:`Signature` (what must agree between one camera's files: :func:`agree`), its :class:`VideoInfo` and its
:class:`Placing` (where the concat demuxer puts it on the join's timeline, and where it should); and the words the
lines that leave files out say of them. :mod:`~roadseg.pipeline.sources.drives` cuts a folder's files into drives
from the same reading (:func:`probe_each`: each file opened once).

Example:
    >>> v = ("h264", 64, 48, 0)
    >>> agree((v, ("aac",), ("video", "audio")), (v, (), ("video",))), named_files([Path(f"{n}.MP4") for n in range(5)])
    (True, '0.MP4, 1.MP4, 2.MP4 and 2 more')
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

import av
import av.bitstream

from roadseg.errors import SourceError
from roadseg.pipeline.sources.base import MAX_SECONDS, VideoInfo
from roadseg.pipeline.sources.clock import TS_DISCONT
from roadseg.pipeline.sources.containers import open_container
from roadseg.pipeline.sources.display import rotation_of
from roadseg.pipeline.sources.firstmoves import first_moved, sound_start
from roadseg.pipeline.sources.inline import InLine
from roadseg.pipeline.sources.packets import packet_time, seconds
from roadseg.pipeline.sources.streams import codec_of, framing, lone_length, picture_stream, stream_end

#: What must agree between a camera's files (:func:`agree`): (video codec, width, height, the degrees its display
#: matrix turns its pictures by: :func:`_turn`), the audio codecs (None: a stream without one, its header damaged) and
#: the kinds of the streams in the file's order ("video", "audio", "data" ...).
Signature = tuple[tuple[str, int, int, int], tuple[str | None, ...], tuple[str, ...]]


class Placing(NamedTuple):
    """Where the concat demuxer puts a file on the join's timeline, and where it should. The demuxer shifts the file's
    timestamps by FFmpeg's start of it (the container's ``start_time``: the earliest of its streams' first stamps),
    to begin where the file before it ends, and starts the next one after FFmpeg's length of it (the container's
    ``duration``, from that start to its streams' latest end). A file truly spans its pictures, and its sound where
    that reaches further than its codec's framing (:func:`_framed`: FFmpeg's span holds an AAC track's priming and
    padding); where a transport stream's first pictures' stamps alone were damaged (:func:`_placed`), FFmpeg's start
    and length are the damaged stamps'. ``early`` says how many seconds FFmpeg's start lies after the file's true one
    (before it: below 0), ``length`` its seconds from its true start to its end; ``ffmpeg``, FFmpeg's length (None:
    unknown, or neither is known); ``moves``, the seconds those pictures' packets are moved by to put them back, by
    their number (:func:`~roadseg.pipeline.sources.firstmoves.first_moved`)."""

    length: float | None
    ffmpeg: float | None
    early: float = 0.0
    moves: Mapping[int, float] = MappingProxyType({})


def probe_file(path: Path, *, placed: bool = True) -> tuple[Signature, VideoInfo, Placing]:
    """The file's :data:`Signature`, :class:`VideoInfo` (its frames, seconds and tags) and :class:`Placing`, read in
    one opening (its first picture decoded for its turn: :func:`_turn`). ``placed=False`` reads no packet of a transport
    stream: FFmpeg's start and length are taken as they are, damaged first stamps too (what a file's signature alone
    needs: ``batch --concat --gap inf``)."""
    with open_container(str(path)) as container:
        info = VideoInfo.from_container(container, str(path))
        audio = tuple(codec_of(a) for a in container.streams.audio)
        kinds = tuple(s.type for s in container.streams)
        if (video := picture_stream(container)) is not None and not _converts(video):
            raise SourceError(f"{path.name}: its H.264 setup (avcC) is damaged, and the join cannot read past it",
                              damaged=True)  # fmt: skip
        placing, info = _placed(container, video if placed else None, info)
        return ((info.codec, info.width, info.height, _turn(container, video)), audio, kinds), info, placing


def _turn(container, video) -> int:
    """The degrees (counterclockwise, 0-359) a player turns the file's pictures by: its first picture's display matrix
    (a phone's rotation tag), which the join keeps the first file's of for all (a file turned otherwise was written
    sideways, without a line). 0 where none decodes, and for a transport or program stream's (``TS_DISCONT``), whose
    container keeps none and whose packets :func:`_placed` has read on from its start."""
    if video is None or container.format.flags & TS_DISCONT:
        return 0
    try:
        picture = next(iter(container.decode(video)), None)
    except Exception:  # noqa: BLE001 - FFmpegError, a damaged file's: the rest of the probe tells of it
        return 0
    return rotation_of(picture)


def _placed(container, video, info: VideoInfo) -> tuple[Placing, VideoInfo]:
    """The file's :class:`Placing`, and ``info`` with its video's seconds and frames counted from where its first
    pictures are put back, where the stamps of a transport stream's first pictures alone were damaged (judged by its
    first video packets as :class:`~roadseg.pipeline.sources.file.VideoSource` judges a file's own:
    :func:`~roadseg.pipeline.sources.firstmoves.first_moved`). Its true start is then the earliest of its picture's put
    back and its other streams' starts, its end the latest of theirs (:func:`_video_end`)."""
    ffmpeg = container.duration / av.time_base if container.duration and container.duration > 0 else None
    if video is None or container.start_time is None:
        return Placing(ffmpeg, ffmpeg), info
    if not container.format.flags & TS_DISCONT:
        return _framed(container, video, ffmpeg), info
    packets, read = _video_packets(container, video), []

    def stamps() -> Iterator[tuple[int | None, Fraction]]:
        for packet in packets:
            read.append(packet)
            yield (packet.pts if packet.dts is None else packet.dts), packet.time_base

    moves = first_moved(stamps(), InLine.of(video), sound_start(container, video))
    if not moves or (first := packet_time(read[0])) is None:
        return _framed(container, video, ffmpeg), info
    first += moves[0]  # (where its pictures truly start)
    step = 1 / float(info.fps) if info.fps else 0.0
    video_end = _video_end(video, read, moves, packets, step)
    if video_end is None:
        return Placing(None, ffmpeg, moves=moves), info
    start, end = _bounds(container, video, first, video_end)
    length = video_end - first
    if 0 < length < MAX_SECONDS:
        frames = video.frames if video.frames and video.frames > 0 else round(length * info.fps) if info.fps else None
        info = replace(info, duration=length, frames=frames)
    return Placing(end - start, ffmpeg, container.start_time / av.time_base - start, moves), info


def _framed(container, video, ffmpeg: float | None) -> Placing:
    """The :class:`Placing` of a file whose stamps are whole: FFmpeg's start and length, but where its pictures and
    sound span them (:func:`_bounds`): where an AAC track's priming and padding (a frame before the first picture, part
    of one after the last: a transport stream keeps both, a Matroska file its padding) made them 21-32 ms longer, the
    next file's first picture came that much more than a frame step after this one's last. A file of one picture lasts
    a frame step at the rate its codec states (:func:`~roadseg.pipeline.sources.streams.lone_length`; FFmpeg's length
    of it is one at its guess of the rate: a field's, half a frame step). FFmpeg's where the end of the pictures or of
    a sound is unknown (:func:`~roadseg.pipeline.sources.streams.stream_end`), or, where Matroska tags give some, the
    latest of the streams' ends is not FFmpeg's end (the file's own length, which a muxer writes as the latest of them:
    a damaged tag; a subtitle stream may have a length of its own in FFmpeg, from its last cue: a 12-s mkv whose last
    caption ran 0.1 s past its pictures was taken for damaged by the tags alone, its next file 0.1 s late)."""
    sound = [s for s in container.streams if s.type == "audio" and s.start_time is not None and s.time_base]
    if video.start_time is None or not video.time_base or (last := stream_end(video)) is None or \
            any(stream_end(s) is None for s in sound):  # fmt: skip
        return Placing(ffmpeg, ffmpeg)
    ends = [t for s in container.streams if (t := stream_end(s)) is not None]
    tagged = any(s.duration is None for s in container.streams if stream_end(s) is not None)  # (Matroska's: no length)
    if tagged and (ffmpeg is None or abs(max(ends) - container.start_time / av.time_base - ffmpeg) > 0.002):
        return Placing(ffmpeg, ffmpeg)
    first = seconds(video.start_time, video.time_base)
    start, end = _bounds(container, video, first, first + lone_length(video, last - first))
    return Placing(end - start, ffmpeg, container.start_time / av.time_base - start)


def _bounds(container, video, first: float, last: float) -> tuple[float, float]:
    """Where the file truly starts and ends (seconds of its clock), its pictures from ``first`` to ``last``: there,
    unless its sound starts before or ends after them by more than its codec frames it
    (:func:`~roadseg.pipeline.sources.streams.framing`: an AAC encoder's priming and padding), the earliest and latest
    of its sound's (a sound that the camera recorded before or after its pictures). Not its subtitles' or data's, which
    FFmpeg's length holds: a telemetry sample that runs past the pictures is cut where the next file's first one
    starts, as it is written (:class:`~roadseg.pipeline.sinks.subtitles.SubtitleRemux`)."""
    others = [s for s in container.streams if s.index != video.index and s.type not in ("subtitle", "data") and
              s.start_time is not None and s.time_base]  # fmt: skip
    starts = [t for s in others if (t := seconds(s.start_time, s.time_base)) < first - framing(s)]
    ends = [t for s in others if (t := stream_end(s)) is not None and t > last + framing(s)]
    return min([first, *starts]), max([last, *ends])


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


def named_files(paths: list[Path]) -> str:
    """The first three file names of ``paths``, and how many more, for a line that leaves them out."""
    return ", ".join(p.name for p in paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")


def agree(a: Signature, b: Signature) -> bool:
    """Whether files of signatures ``a`` and ``b`` join rightly: the same video codec, size and turn, audio codecs that
    agree as far as both files have audio (a damaged header may add or lose a stream, or leave one without a codec:
    None, which agrees with any), and streams of the same kinds at each number both files have. The concat demuxer
    puts a later file's stream N where the first file's stream N is, whatever either is (a telemetry track before
    the audio: its packets written as sound, the sound as telemetry); one file may have streams past the other's.

    >>> v = ("h264", 64, 48, 0)
    >>> agree((v, ("aac",), ("video", "audio")), (v, (None,), ("video", "audio", "data")))
    True
    >>> agree((v, ("aac",), ("video", "audio")), (v, ("aac",), ("video", "data", "audio")))
    False
    """
    return (a[0] == b[0] and all(x == y or None in (x, y) for x, y in zip(a[1], b[1]))
            and all(x == y for x, y in zip(a[2], b[2])))  # fmt: skip


def described(signature: Signature, other: Signature) -> str:
    """A file's ``signature`` for the line that leaves it out beside ``other``'s: its streams' order only where
    the two differ in it.

    >>> v = ("h264", 64, 48, 0)
    >>> described((v, ("aac",), ("video", "data", "audio")), (v, ("aac",), ("video", "audio")))
    'h264 64x48, audio aac, streams video/data/audio'
    >>> described((("h264", 128, 96, 0), (), ("video",)), (v, ("aac",), ("video", "audio")))
    'h264 128x96, audio none'
    >>> described((("h264", 64, 48, 90), (), ("video",)), (v, (), ("video",)))
    'h264 64x48 turned 90°, audio none'
    """
    (codec, width, height, turn), sound, kinds = signature
    order = f", streams {'/'.join(kinds)}" if any(x != y for x, y in zip(kinds, other[2])) else ""
    turned = f" turned {turn}°" if turn else ""
    return f"{codec} {width}x{height}{turned}, audio {_codecs(sound)}{order}"


def probe_each(paths: list[Path], *, placed: bool = True) -> dict[Path, tuple[Signature, VideoInfo, Placing]]:
    """:func:`probe_file` of each of ``paths`` that can be read."""
    probed = {}
    for path in paths:
        try:
            probed[path] = probe_file(path, placed=placed)
        except SourceError:
            pass
    return probed


def listed(words: list[str]) -> str:
    """``words`` as a line lists them: ``a``, ``a and b``, ``a, b and c``.

    >>> listed(["front"]), listed(["rear", "inside"]), listed(["#1", "#2", "#4"])
    ('front', 'rear and inside', '#1, #2 and #4')
    """
    return " and ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)
