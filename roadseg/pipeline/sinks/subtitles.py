"""Subtitle and data streams into the output: a dashcam's GPS and speed captions, a GoPro's GPMF
telemetry, a drone's KLV.

A subtitle or data stream is copied packet for packet where the output takes its codec (a data
stream: where it reads back as the same codec; GPMF goes into mp4 and mov, not into Matroska). A
text stream the output cannot take as it is (SubRip into mp4, mov_text into mkv) is carried over as
the text subtitle codec the output does take (mov_text in mp4/mov, SubRip in Matroska, WebVTT in WebM): each
cue's text is the same, only its framing changes (mov_text puts a 2-byte length before the text).
Anything else (a bitmap subtitle the output cannot carry, ASS styling outside Matroska) is left out,
with one line. A packet the muxer refuses is dropped and counted; only an error of the disk fails
the run.

Files joined (``--concat``, a drive) go on where the one before's pictures end, and a file's last
sample may run past them (a GoPro's 1-s GPMF sample, a caption of 0.2 s): it is cut to end where the
next file's first one starts (:meth:`SubtitleRemux.mux`: as an mp4's sample table cuts a data sample
short, but a mov_text cue that still ran put the next one after its end), and a sample that starts
before the one before it (a file's sample past its pictures) is put just after that one, with a
line that says how far (the muxer refused it as out of order: "damaged timing").

Example:
    >>> to_text("mov_text", b"\\x00\\x06N 51.5 + style boxes"), from_text("mov_text", b"N 51.5")
    (b'N 51.5', b'\\x00\\x06N 51.5')
"""

from __future__ import annotations

import io
import logging
from collections import Counter
from collections.abc import Sequence
from fractions import Fraction

import av

from roadseg.pipeline.sinks.audio import is_disk_error, write_error
from roadseg.pipeline.sinks.base import kept_tags
from roadseg.pipeline.sources.decoder import joined_part
from roadseg.pipeline.sources.streams import codec_of

log = logging.getLogger("roadseg")
#: Text subtitle codecs whose packets are plain UTF-8 text (mov_text: after a 2-byte length).
TEXT_CODECS = frozenset({"subrip", "srt", "text", "mov_text", "webvtt"})
#: The text subtitle codec each output format takes.
TEXT_CODEC_OF = {"mp4": "mov_text", "mov": "mov_text", "ipod": "mov_text", "3gp": "mov_text", "3g2": "mov_text",
                 "matroska": "subrip", "webm": "webvtt"}  # fmt: skip


#: The plainest ASS header: FFmpeg's text subtitle encoders will not open without one (they describe
#: the stream from it: mov_text's sample description), though the packets are written here as they come.
ASS_HEADER = (b"[Script Info]\r\nScriptType: v4.00+\r\nPlayResX: 384\r\nPlayResY: 288\r\n\r\n[V4+ Styles]\r\n"
              b"Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, "
              b"Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, "
              b"Alignment, MarginL, MarginR, MarginV, Encoding\r\n"
              b"Style: Default,Arial,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0\r\n\r\n"
              b"[Events]\r\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\r\n")  # fmt: skip


def add_text_stream(container, codec: str, time_base):
    """A ``codec`` text subtitle stream in ``container`` (before its header), packets in ``time_base``."""
    out = container.add_stream(codec)
    out.codec_context.subtitle_header = ASS_HEADER  # (PyAV >= 18, which roadseg requires)
    out.time_base = time_base
    return out


def to_text(codec: str, data: bytes) -> bytes:
    """The UTF-8 text of a text subtitle packet of ``codec``."""
    if codec == "mov_text":
        n = int.from_bytes(data[:2], "big")
        return data[2 : 2 + n]
    return data


def from_text(codec: str, text: bytes) -> bytes:
    """A packet of ``codec`` holding ``text``."""
    if codec == "mov_text":
        return len(text[:65535]).to_bytes(2, "big") + text[:65535]
    return text


def _takes(format_name: str, add, codec: str, kind: str = "subtitle") -> bool:
    """Whether a ``format_name`` output writes the ``kind`` stream ``add(container)`` adds (of
    ``codec``) as one that reads back as such: MPEG-TS takes SubRip, but as an opaque data stream
    that no player shows, and MPEG-PS as a subtitle stream that reads back as DVD bitmaps (dvdsub). A text
    or data stream is checked with a packet written and read back (as its own codec, or a text subtitle
    as text: only then can a reader find it)."""
    buffer = io.BytesIO()
    try:
        with av.open(buffer, "w", format=format_name) as probe:
            out = add(probe)
            probe.start_encoding()
            if codec in TEXT_CODECS or kind == "data":
                sample = av.Packet(from_text(codec, b"roadseg"))
                sample.pts = sample.dts = 0
                sample.duration, sample.time_base, sample.stream = 1, out.time_base, out
                probe.mux(sample)
    except Exception:  # noqa: BLE001 - "format does not support codec", damaged parameters ...
        return False
    buffer.seek(0)
    try:
        with av.open(buffer, format=format_name) as back:
            return any(s.type == kind and _same_codec(codec_of(s), codec) for s in back.streams)
    except Exception:  # noqa: BLE001 - a header alone does not read back in every format (Matroska): written is enough
        return kind != "data"


def _same_codec(read: str | None, written: str) -> bool:
    """Whether a stream written as ``written`` that reads back as ``read`` is the same: the same codec, or both text.

    >>> _same_codec("srt", "subrip"), _same_codec("dvdsub", "subrip"), _same_codec("bin_data", "bin_data")
    (True, False, True)
    """
    return read == written or (read in TEXT_CODECS and written in TEXT_CODECS)


def plan(streams: Sequence, format_name: str) -> list[tuple[object, str | None]]:
    """How a ``format_name`` output takes each subtitle or data stream: ``(stream, None)`` copied as it
    is, ``(stream, codec)`` carried over as the text codec ``codec``; a stream in neither is left out.
    One warning line for each not copied."""
    fmt = format_name.split(",")[0]
    routes: list[tuple[object, str | None]] = []
    for stream in streams:
        codec = codec_of(stream) or "no codec"
        if _takes(fmt, lambda c, s=stream: c.add_stream_from_template(s), codec, stream.type):
            routes.append((stream, None))
            continue
        target = TEXT_CODEC_OF.get(fmt)
        if codec in TEXT_CODECS and target and _takes(fmt, lambda c, t=target, s=stream: add_text_stream(c, t, s.time_base),
                                                      target):  # fmt: skip
            log.warning("subtitle stream #%d (%s) goes into %s as %s (the same text)", stream.index, codec, fmt, target)
            routes.append((stream, target))
            continue
        log.warning("%s stream #%d (%s) cannot go into %s; writing the output without it", stream.type, stream.index,
                    codec, fmt)  # fmt: skip
    return routes


class SubtitleRemux:
    """Copy (or carry over as the output's text codec) the packets of the input subtitle and data
    streams that :func:`plan` routes into ``container``, before its header is written.

    ``dropped`` counts the packets the muxer refused, by stream type (``subtitle``, ``data``);
    ``moved`` those put after the one before them (:meth:`_write`), and ``most_moved`` the seconds
    the furthest of them was moved by; :meth:`mux` raises :class:`~roadseg.errors.SinkError` only for
    disk errors. :meth:`flush` writes what is held and says what was dropped or moved.
    """

    def __init__(self, container, routes: Sequence[tuple[object, str | None]]) -> None:
        self.container = container
        self.routes: dict[int, tuple[object, str, str | None]] = {}  # index -> (out, its codec, codec it becomes)
        self.dropped: Counter[str] = Counter()
        self.moved: Counter[str] = Counter()
        self.most_moved: dict[str, float] = {}
        self._held: dict[int, tuple[av.Packet, str | None]] = {}  # by input stream: a joined file's last packet
        self._last: dict[int, Fraction] = {}  # by input stream: where the last packet written starts (seconds)
        for stream, target in routes:
            if target is None:
                self.routes[stream.index] = (container.add_stream_from_template(stream), codec_of(stream), None)
            else:
                out = add_text_stream(container, target, stream.time_base)
                self.routes[stream.index] = (out, codec_of(stream), target)
            self.routes[stream.index][0].metadata.update(kept_tags(stream.metadata))  # (a caption track's language)

    def mux(self, packet: av.Packet) -> None:
        """Write one packet of a stream given at construction; packets of other streams are ignored. A packet of
        files joined by FFmpeg's concat demuxer (which tags each with its file) is held until the next one of its
        stream comes, or one of any stream after its end (:meth:`passed`): where the next of its stream is of the
        next file and starts before the held one ends, the held one is cut to end there (the next file starts where
        the one before's pictures end, and a file's last sample may run past them)."""
        index = packet.stream.index
        route = self.routes.get(index)
        if route is None:
            return
        self.passed(packet)
        out, source, target = route
        if packet.pts is None:
            self.dropped[packet.stream.type] += 1
            return
        if source == "mov_text" and not to_text(source, bytes(packet)):
            return  # an empty sample between two cues: an mp4/mov output fills its own gaps, others need none
        part = joined_part(packet).get("lavf.concatdec.start_time")  # (its file, where files are joined)
        if target is not None:
            copy = av.Packet(from_text(target, to_text(source, bytes(packet))))
            copy.pts, copy.dts, copy.duration = packet.pts, packet.pts, packet.duration
            copy.time_base = packet.time_base
            packet = copy
        packet.stream = out
        if (held := self._held.pop(index, None)) is not None:
            self._write(index, _cut(held[0], packet) if held[1] != part else held[0])
        if part is None:
            self._write(index, packet)
        else:
            self._held[index] = (packet, part)

    def passed(self, packet: av.Packet) -> None:
        """Write the packets held (:meth:`mux`) that end where ``packet``, of any stream, sound too, starts or before:
        none need be cut now, and a sparse stream's are not held back from the muxer's interleaving (a cue held until
        the next one, a minute on, would be written after the minute's pictures)."""
        if packet.pts is None or not packet.time_base or not self._held:
            return
        at = _start(packet)
        for index, (held, _) in list(self._held.items()):
            if _start(held) + Fraction(held.duration or 0) * held.time_base <= at:
                self._write(index, self._held.pop(index)[0])

    def flush(self, shown: str) -> None:
        """Write the packets held (:meth:`mux`), and say what the muxer of ``shown`` refused and what was moved."""
        for index in list(self._held):
            self._write(index, self._held.pop(index)[0])
        for kind, n in sorted(self.moved.items()):
            log.warning("%d %s packet%s started before the one before (where files join, or its timing is damaged): "
                        "placed just after it, up to %.3f s later; every one is kept", n, kind, "s"[: n != 1],
                        self.most_moved[kind])  # fmt: skip
        for kind, n in sorted(self.dropped.items()):
            log.warning("dropped %d %s packets that %s refused (damaged timing); the rest are kept", n, kind, shown)

    def _write(self, index: int, packet: av.Packet) -> None:
        """Mux ``packet`` (of input stream ``index``), first put a tick after the last one written of its stream where
        it starts at or before it (the muxer refuses one before: "damaged timing"; at a join, the file before's sample
        that starts past its pictures, after the next file's first one), and moved so counted."""
        start = _start(packet)
        last = self._last.get(index)
        if last is not None and start <= last and packet.time_base:
            ticks = int(last / packet.time_base) + 1 - (packet.dts if packet.dts is not None else packet.pts)
            packet.pts += ticks
            packet.dts = None if packet.dts is None else packet.dts + ticks
            kind = packet.stream.type
            self.moved[kind] += 1
            self.most_moved[kind] = max(self.most_moved.get(kind, 0.0), float(ticks * packet.time_base))
            start = _start(packet)
        self._last[index] = start
        try:
            self.container.mux(packet)
        except (OSError, av.error.FFmpegError, ValueError) as exc:
            if is_disk_error(exc):
                raise write_error(exc, f"cannot write {packet.stream.type} packets to {self.container.name}") from None
            self.dropped[packet.stream.type] += 1  # refused by the muxer: damaged data, or a timestamp before the last


def _start(packet: av.Packet) -> Fraction:
    """Where ``packet`` starts (seconds): its decoding time, else its presentation time."""
    return Fraction(packet.dts if packet.dts is not None else packet.pts) * packet.time_base


def _cut(held: av.Packet, after: av.Packet) -> av.Packet:
    """``held``, the last packet of a joined file, cut to end where ``after``, the next file's first of its stream,
    starts (or a tick after ``held``'s start, where ``after`` starts at or before it: :meth:`SubtitleRemux._write`
    puts it there), where it ran on past that.

    >>> held, after = av.Packet(b"GPMF"), av.Packet(b"GPMF")
    >>> held.pts = held.dts = 900; held.duration, held.time_base = 500, Fraction(1, 1000)
    >>> after.pts = after.dts = 1000; after.time_base = Fraction(1, 1000)
    >>> _cut(held, after).duration
    100
    """
    if not held.duration or not held.time_base or not after.time_base:
        return held
    start = max(_start(after), _start(held) + held.time_base)
    if _start(held) + Fraction(held.duration) * held.time_base > start:
        held.duration = int((start - _start(held)) / held.time_base)
    return held
