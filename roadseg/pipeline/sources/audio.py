"""Audio packets in file order, with the ones whose timestamps cannot be right taken out (and counted).

A muxer needs every packet of a stream to carry a dts, a pts not before it, and a dts that
increases. Damaged input breaks that in two ways: a packet with a wrong timestamp (none, a step
backwards, a leap far ahead), and packets that repeat or come out of order (a duplicated or moved
chunk: of two packets for one moment, the first read is kept). Following a leap would leave every
later packet "behind" it, so a packet that leaps (and a stream's first packet) is held until the
next one says whether the stream really goes on from there, and a leap is kept only if it is also
where the file is: near the time of the video packet read before it, or before the next one (a
stream's start may also lie behind the picture, as where a file keeps its audio after it; never
ahead of it, as a damaged first timestamp does). Where the picture's start is known, a stream that
begins before it is kept back until it reaches the picture by going on: one that leaps there instead
began with damaged timestamps, and those packets are dropped. A packet of AAC frames merged into one (a
damaged ADTS length: :class:`MergedFrames` measures its sound) whose timestamp does not fit is put where its
stream goes on, as its frames come next in the stream: dropping it would lose all of them (a stream's first, where
the sound went on before the timeline: a live source's clock that started again, ``goes_on``).

Example:
    >>> from fractions import Fraction
    >>> def packet(ms):
    ...     p = av.Packet(b"x")
    ...     p.pts, p.dts, p.time_base = ms, ms, Fraction(1, 1000)
    ...     return p
    >>> timeline = AudioTimeline()
    >>> kept = [p.dts for ms in (0, 20, 40, 90000, 60, 60, 30, 80) for p in timeline.take(packet(ms), 1, 0.05)]
    >>> kept, timeline.dropped
    ([0, 20, 40, 60, 80], 3)
    >>> [p.dts for ms in (5000, 5020) for p in timeline.take(packet(ms), 1, 4.9)]  # a gap, where the video is
    [5000, 5020]
    >>> after = AudioTimeline()  # a file that keeps its audio after its picture: read when the video is at 12 s
    >>> [p.dts for ms in (0, 20, 40) for p in after.take(packet(ms), 1, 12.0)], after.dropped
    ([0, 20, 40], 0)
    >>> ahead = AudioTimeline()  # a first timestamp damaged 30 s ahead: its packets go, the good ones stay
    >>> [p.dts for ms in (30000, 30020, 0, 20, 40) for p in ahead.take(packet(ms), 1, 0.0)]
    [0, 20, 40]
    >>> early = AudioTimeline(picture_start=0.0)  # the first timestamps damaged 0.7 s early, then the picture's
    >>> [p.dts for ms in (-700, -680, -660, 0, 20, 40) for p in early.take(packet(ms), 1, 0.0)], early.dropped
    ([0, 20, 40], 3)
    >>> [p.dts for ms in (-700, -680, -660, -640) for p in AudioTimeline(0.0).take(packet(ms), 1, 0.0)]  # kept back
    []
    >>> again = AudioTimeline(goes_on=0.5)  # a clock that started again, the sound before it gone on to 0.5 s
    >>> long = av.Packet(bytes([0xFF, 0xF1, 0x50, 0x80, 0x01, 0xBF, 0xFC]) + bytes(6))  # ADTS: merged frames, 0.64 s
    >>> long.pts, long.dts, long.duration, long.time_base = 3600000, 3600000, 640, Fraction(1, 1000)  # an hour on
    >>> [p.dts for p in again.take(long, 1, 0.0)]
    [500]
"""

from __future__ import annotations

from collections.abc import Iterator

import av

from roadseg.pipeline.sources.packets import seconds

GAP = 0.2  # seconds: a packet that starts within this of the previous one's end continues the stream
INTERLEAVE = 0.5  # seconds an audio packet may be away from the video packet read before it
MAX_PRELUDE = 500  # packets of a stream before the picture kept back at most (about 10 s of AAC)
AAC_FRAME = 1024  # samples an AAC frame holds
ADTS_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)  # by index


class AudioTimeline:
    """Per audio stream: pass packets whose timestamps a muxer can take, drop the others and count them."""

    def __init__(self, picture_start: float | None = None, *, goes_on: float | None = None) -> None:
        self.dropped = 0
        self.picture_start = picture_start  # where the video stream starts (seconds), where known: see _pass
        # where the sound went on before this timeline (seconds, on its clock), where it had: a live source's clock
        # that started again. A packet of merged frames read first goes there, as it does after the stream's last
        self.goes_on = goes_on
        self._last: dict[int, tuple[float, float]] = {}  # stream -> (start, end) in seconds of the last packet passed
        self._held: dict[int, tuple[av.Packet, float | None]] = {}  # stream -> (packet, video time then)
        self._prelude: dict[int, list[av.Packet]] = {}  # stream -> its first packets, before the picture, kept back

    def take(self, packet: av.Packet, stream: int, video: float | None) -> Iterator[av.Packet]:
        """The packets to pass now for ``packet`` of ``stream``: none, it, or a held one and it.

        ``video``: the time (seconds) of the last video packet read (before the first: where the
        video stream starts, or ``None`` if unknown).
        """
        span = _span(packet)
        if span is None:
            self.dropped += 1
            return
        if stream in self._held:
            held, held_video = self._held.pop(stream)
            held_span = _span(held)
            seen = [v for v in (held_video, video) if v is not None]  # the video's time when it was read, and now
            near = not seen or min(abs(held_span[0] - v) for v in seen) <= INTERLEAVE
            # a stream's start may lie behind the picture (a file that keeps its audio after it), never ahead
            behind = stream not in self._last and (not seen or held_span[0] <= max(seen) + INTERLEAVE)
            if _continues(held_span, span[0]) and (near or behind):
                if stream in self._last and stream in self._prelude:  # (a leap from sound before the picture to
                    self.dropped += len(self._prelude.pop(stream))  # where it is: that sound was damage)
                yield from self._pass(held, stream)  # the stream goes on from there, next to the picture
            else:
                self.dropped += 1  # the held packet was damage
        last = self._last.get(stream)
        if last is not None and _continues(last, span[0]):
            yield from self._pass(packet, stream)
        elif (end := self.goes_on if last is None else last[1]) is not None and merged(packet):
            _retimed(packet, end)  # (its frames come next in the stream, whatever its stamp says)
            yield from self._pass(packet, stream)
        elif last is not None and span[0] <= last[0]:
            self.dropped += 1  # backwards or repeated: a muxer would refuse it
        else:
            self._held[stream] = (packet, video)  # a stream's first packet, or a leap: the next packet decides

    def flush(self) -> Iterator[av.Packet]:
        """At the end of the input: a held packet that leapt has no successor to vouch for it and is
        dropped (it could stretch the output by hours); a stream's only packet is passed."""
        for stream, (packet, _) in list(self._held.items()):
            if stream in self._last:
                self.dropped += 1
            else:
                yield from self._pass(packet, stream)
        self._held.clear()
        for prelude in self._prelude.values():
            yield from prelude
        self._prelude.clear()

    def _pass(self, packet: av.Packet, stream: int) -> Iterator[av.Packet]:
        """Pass ``packet``; but a stream that begins more than INTERLEAVE before the picture (its prelude) is
        kept back until it reaches the picture by going on (then passed), or leaps to it (then dropped:
        damaged first timestamps, which an mp4's edit list would cut with the good sound after them), or
        the input ends, or it holds :data:`MAX_PRELUDE` packets (then passed)."""
        first, span = stream not in self._last, _span(packet)
        self._last[stream] = span
        prelude = self._prelude.get(stream)
        before = self.picture_start is not None and span[0] < self.picture_start - INTERLEAVE
        if first and before:
            self._prelude[stream] = [packet]
        elif prelude is not None and before and len(prelude) < MAX_PRELUDE:
            prelude.append(packet)
        elif prelude is not None:
            yield from self._prelude.pop(stream)
            yield packet
        else:
            yield packet


class MergedFrames:
    """Per AAC stream in ADTS framing (MPEG-TS's): the length of a packet's sound where it holds many frames.
    A damaged ADTS length (or PES) makes FFmpeg's parser merge the frames after it into one packet, which
    decodes to all of them in turn (seconds of sound) but is timed as one frame: the stream's next packet
    then looks like a step back (:class:`~roadseg.pipeline.sources.clock.Clock`), and a timestamp damaged
    with it leaves its frames nowhere (:class:`AudioTimeline`). Such a packet gets the duration of what it
    decodes to. Only a packet whose framing gives cause is decoded (not the one frame its header says, or
    that header again within it), by a decoder of its own, not the stream's.

    >>> header = bytes([0xFF, 0xF1, 0x50, 0x80, 0x01, 0xBF, 0xFC])  # ADTS, 13 bytes long
    >>> suspect(av.Packet(header + bytes(6))), suspect(av.Packet(header + bytes(6) + header + bytes(6)))
    (False, True)
    """

    def __init__(self, streams: set[int]) -> None:
        self.streams = streams  # the indices of the AAC streams to measure
        self._decoders: dict[int, av.CodecContext] = {}

    def take(self, packet: av.Packet) -> None:
        """Give ``packet`` the duration of the sound it decodes to, where that is more than one frame."""
        index = packet.stream_index
        if index not in self.streams or not suspect(packet) or not packet.time_base:
            return
        decoder = self._decoders.setdefault(index, av.CodecContext.create("aac", "r"))
        try:
            frames = decoder.decode(packet)
        except (av.error.FFmpegError, ValueError):
            return  # (what its decoder refuses, the output's copy drops: sinks.audio.AudioRemux)
        if len(frames) > 1 and frames[0].sample_rate:
            samples = sum(frame.samples for frame in frames)
            packet.duration = round(samples / frames[0].sample_rate / packet.time_base)


def suspect(packet: av.Packet) -> bool:
    """Whether an ADTS ``packet`` may hold more than one AAC frame: it is not what its header says
    (:func:`one_adts_frame`), or its header's fixed part (sync word, profile, rate, channels) comes again
    within it. (Raw data that holds those bytes by chance costs a decode that finds one frame.)"""
    data = bytes(packet)
    if len(data) < 7 or not adts_framed(data):
        return False
    if _adts_length(data) != len(data):  # (not what its header says)
        return True
    at = data.find(data[:3], 7)
    while at >= 0:
        if at + 4 <= len(data) and data[at + 3] & 0xF0 == data[3] & 0xF0:
            return True
        at = data.find(data[:3], at + 1)
    return False


def merged(packet: av.Packet) -> bool:
    """Whether an ADTS ``packet`` lasts more than one frame and a half (:class:`MergedFrames` measured it)."""
    head = bytes(memoryview(packet)[:7])
    rate_index = head[2] >> 2 & 0x0F if len(head) == 7 and adts_framed(head) else len(ADTS_RATES)
    if rate_index >= len(ADTS_RATES) or not packet.duration or not packet.time_base:
        return False
    return seconds(packet.duration, packet.time_base) > 1.5 * AAC_FRAME / ADTS_RATES[rate_index]


def one_adts_frame(packet: av.Packet) -> bool:
    """Whether an AAC ``packet`` is no more and no less than its ADTS header (MPEG-TS's framing) says, as
    FFmpeg's parser cuts them; a raw AAC packet (mp4, Matroska) has no header and passes.

    >>> header = bytes([0xFF, 0xF1, 0x50, 0x80, 0x01, 0xBF, 0xFC])  # ADTS, 13 bytes long
    >>> one_adts_frame(av.Packet(header + bytes(6))), one_adts_frame(av.Packet(b"\\xff" + header + bytes(565)))
    (True, False)
    >>> one_adts_frame(av.Packet(b"\\x21\\x10\\x05"))  # raw AAC
    True
    """
    head = bytes(memoryview(packet)[:6])
    if len(head) < 6 or head[0] != 0xFF or head[1] & 0xF0 != 0xF0:  # (no sync word: raw AAC, whose first
        return True  # element is never the END that 0xFFF would be)
    return _adts_length(head) == packet.size


def adts_framed(data: bytes) -> bool:
    """Whether ``data`` begins with an ADTS header's sync word (MPEG-4 or -2, layer 0)."""
    return len(data) >= 2 and data[0] == 0xFF and data[1] & 0xF6 == 0xF0


def _adts_length(head: bytes) -> int:
    """The frame length, header included, that an ADTS header (its first 6 bytes at least) states."""
    return (head[3] & 0x03) << 11 | head[4] << 3 | head[5] >> 5


class EditList:
    """Per audio stream: the packets an MP4/MOV's edit list shows. A clip trimmed without re-encoding (an
    iPhone's trim, ``ffmpeg -ss -c copy``) keeps the sound before its cut in the file, packets the demuxer
    flags as discarded; passed on, an output without an edit list of its own (mkv, ts) played that sound
    and began its picture that much late. The last packet cut before each one shown is passed, as AAC's
    priming is: the decoder's pre-roll (an mp4 output's edit list cuts it again; files joined by --concat
    each have their own).

    >>> from types import SimpleNamespace
    >>> packets = [SimpleNamespace(n=n, is_discard=cut) for n, cut in enumerate([True, True, False, False, True])]
    >>> edits = EditList()
    >>> [p.n for p in packets for p in edits.take(p, 1)]
    [1, 2, 3]
    """

    def __init__(self) -> None:
        self._cut: dict[int, av.Packet] = {}  # stream -> its last packet cut, since the last one shown

    def take(self, packet: av.Packet, stream: int) -> list[av.Packet]:
        """The packets to pass now for ``packet`` of ``stream``."""
        if packet.is_discard:
            self._cut[stream] = packet
            return []
        held = self._cut.pop(stream, None)
        return [packet] if held is None else [held, packet]


def _span(packet: av.Packet) -> tuple[float, float] | None:
    """(dts, dts + duration) in seconds, or None when the timestamps cannot be muxed (missing, pts before dts)."""
    pts, dts, tb = packet.pts, packet.dts, packet.time_base
    if pts is None or dts is None or not tb or pts < dts:
        return None
    start = seconds(dts, tb)
    return start, start + seconds(packet.duration or 0, tb)


def _continues(previous: tuple[float, float], start: float) -> bool:
    return previous[0] < start <= previous[1] + GAP


def _retimed(packet: av.Packet, start: float) -> None:
    """Move ``packet``'s timestamps (pts and dts alike) so that it starts at ``start`` seconds."""
    ticks = round(start / packet.time_base) - packet.dts
    packet.pts, packet.dts = packet.pts + ticks, packet.dts + ticks
