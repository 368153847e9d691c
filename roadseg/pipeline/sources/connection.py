"""One connection of a live source (:class:`Connection`, a part of
:class:`~roadseg.pipeline.sources.capture.LiveSource`): its pictures decoded, each with when its packet was read (a
file played live paced as :mod:`~roadseg.pipeline.sources.pacing` says), and its audio packets, which
:class:`~roadseg.pipeline.sources.tying.Tying` ties onto the capture clock; and a reconnection that begins the same
media again from its start told. The first picture read ahead as the source opens (its display matrix), and each
made upright at the first size: :mod:`~roadseg.pipeline.sources.upright`.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterator

import av

from roadseg.errors import SourceError
from roadseg.pipeline.sources.audio import MergedFrames
from roadseg.pipeline.sources.decoder import Decoder
from roadseg.pipeline.sources.framerates import untimed_rate
from roadseg.pipeline.sources.pacing import Timetable, in_line
from roadseg.pipeline.sources.packets import packet_time
from roadseg.pipeline.sources.presented import Presented
from roadseg.pipeline.sources.retrying import REPLAYS
from roadseg.pipeline.sources.streams import codec_of, picture_stream
from roadseg.pipeline.sources.untimed import Untimed

log = logging.getLogger("roadseg")


class Connection:
    """:class:`~roadseg.pipeline.sources.capture.LiveSource`'s reading of one connection (``container``). Its
    state, set as the source opens: ``info``, ``spec``, ``shown``, ``kind``, ``pace``, ``stop``, ``reconnects``,
    ``lost``, ``video_read``, ``_audio``, ``_first_time``, ``_replays``, ``_may_replay``, ``_said_replay`` and
    ``_furthest_end``."""

    def _decoded(self) -> Iterator:
        """Decoded pictures, each with the ``time.monotonic()`` its packet was read at (as early as a picture's
        arrival can be known: decoding, and a decoder that holds pictures back, come after; a file played live
        gives each video packet at its time, as a camera would, from the first one on, and afresh where its
        clock starts again, :func:`started_again`; a file's pictures whose stamps alone are damaged put back in line
        first, :func:`in_line`), and the audio packets, in stream order; a corrupt packet is
        skipped and counted (``lost``, as a file source does), not taken for a lost stream. A codec that changes
        midway (a camera that restarted as MPEG-4, recordings joined with cat) is followed by :class:`Decoder`,
        where its bytes tell it. Where the decoder still refuses every packet for :data:`REFUSED` seconds of the stream,
        raises :class:`SourceError`, so that the connection is opened again (its decoder then the stream's
        codec's, as it reads there) or the run ends with one line."""
        stream, refused = picture_stream(self.container), Refusals(float(self.info.fps or 25))
        stream.thread_type = "SLICE"  # (frame threads hold a picture back a thread: lag, 0.6 s on 16 cores)
        decoder = Decoder(stream, self.spec, self.container.format, probe=True, shown=self.shown, thread_type="SLICE")
        audio = self._audio_kept()
        # AAC frames merged into one packet by a damaged ADTS length: timed as long as their sound, as a file's are,
        # so that the timeline puts one whose timestamp fits nowhere where its stream goes on (dropped, all its
        # frames were lost)
        merges = MergedFrames({s.index for s in audio if codec_of(s) == "aac"})
        read: dict[int | None, tuple[float, int | None]] = {}  # pts -> (when the packet was read, its dts), for the
        # pictures the decoder holds
        timetable = Timetable(1 / float(self.info.fps or 25))  # (when a file played live gives each video packet)
        untimed, count = _untimed(stream), itertools.count()  # (a raw stream's packets and pictures placed by their
        # count: paced and stamped so)
        failed: list[BaseException] = []  # (a read that failed, a lost stream: raised once the decoder is drained)
        packets, presented = self._in_line(stream, _ended(self.container.demux(stream, *audio), stream, failed))
        for packet in packets:
            if packet.stream.type == "audio":
                if packet.size:
                    merges.take(packet)
                    yield packet
                continue
            now = self.video_read = time.monotonic()
            placed = untimed.at(next(count)) if untimed is not None and packet.size else None
            t = packet_time(packet) if placed is None else float(placed * untimed.time_base)
            if self.pace and t is not None:
                now = timetable.due(t, now)  # (when it is due: later than that, the lag counts)
                if self.stop.wait(max(0.0, now - time.monotonic())):
                    return
            _note_read(read, packet, now, placed)
            for vf in self._decode(decoder, refused, packet, untimed):
                at, dts = read.pop(vf.pts, (now, None))
                yield from [(vf, at)] if presented is None else _presented(presented, vf, at, dts)
        if presented is not None:  # (a first picture that waited for the next: the stream's only one)
            yield from (item for item, _ in presented.flush())
        if failed:
            raise failed[0]

    def _audio_kept(self) -> list:
        """The connection's audio streams that are the ones recorded so far (:attr:`_audio`: each one's codec by its
        index); where a reconnected stream's are not, one line says so, and the recording goes on without the rest."""
        audio = [s for s in self.container.streams.audio if self._audio.get(s.index) == codec_of(s)]
        if len(audio) < len(self._audio) and self.reconnects:
            log.warning("the reconnected stream's audio is not the one recorded so far; going on without it")
            self._audio = {s.index: codec_of(s) for s in audio}
        return audio

    def _in_line(self, stream, packets: Iterator[av.Packet]) -> tuple[Iterator[av.Packet], Presented | None]:
        """``packets`` (of video ``stream``'s connection) to read, and what puts back a picture whose presentation
        time alone is damaged as it is decoded (None: not a file): a file's pictures whose stamps alone are damaged
        are put back in line first (:func:`in_line`), as a file read whole puts them. A raw H.264/HEVC stream's
        pictures have no stamps to damage: they are placed by their count (:func:`_untimed`; was: judged at
        FFmpeg's 25 frames/s whatever rate its SPS states)."""
        if self.kind != "file" or untimed_rate(stream) is not None:
            return packets, None
        fps = stream.average_rate or stream.guessed_rate
        step = 1 / float(fps) if fps else None
        presented = Presented(step)
        return in_line(packets, step, presented), presented

    def _decode(self, decoder: Decoder, refused: Refusals, packet: av.Packet, untimed: Untimed | None = None) -> list:
        """The pictures ``decoder`` gives for a video ``packet``: none where it refuses it, counted (:attr:`lost`,
        and in ``refused``); raises :class:`SourceError` once it refused every packet for :data:`REFUSED` seconds
        of the stream. A raw stream's (``untimed``) stamped at their place, by their count."""
        try:
            frames = decoder.decode(packet)
        except (av.error.FFmpegError, ValueError):
            self.lost += 1
            if (seconds := refused.add(packet)) >= REFUSED:
                raise SourceError(f"its decoder ({codec_of(decoder.stream)}) refused every video packet for "
                                  f"{seconds:.0f} s: damaged, or the stream's codec changed") from None  # fmt: skip
            return []
        if frames:
            refused.clear()
        if untimed is not None:
            untimed.stamp(frames)
        return frames

    def _note_replay(self, t: float, stamped: bool, first: bool) -> None:
        """Note the first connection's first picture time, from ``t``; and whether a reconnection's ``first`` picture
        began there again (the same media from its start: a file served without a length, said once), until a picture
        goes on past where every connection before it ended (a camera that restarted)."""
        if self._first_time is None:
            self._first_time = t
        elif (self._may_replay and stamped and first and self.reconnects
              and abs(t - self._first_time) < 1e-3):  # fmt: skip  # (made-up times start at 0 each time)
            if not self._said_replay:
                log.warning("%s began again from its start (a file served without a length?); it is recorded "
                            "again each time it is reopened, at most %s", self.shown,
                            "--retries times" if self.retries is not None else f"{REPLAYS} times (--retries forever)")
            self._replays = self._said_replay = True
        elif self._replays and self._furthest_end is not None and t > self._furthest_end + 1.0:
            self._replays = False  # (it went on past where the connections ended: a camera that restarted)


def _presented(presented: Presented, vf: av.VideoFrame, at: float, dts: int | None) -> list[tuple]:
    """(picture, when its packet was read) for ``vf``, read at ``at``, its packet decoded at ``dts`` (its time
    base's ticks), and any that waited before it, each retimed where ``presented`` put it back in line."""
    if vf.pts is None or not vf.time_base:
        return [(vf, at)]
    out = presented.take((vf, at), float(vf.pts * vf.time_base), None if dts is None else float(dts * vf.time_base))
    for (frame, _), t in out:
        if t != float(frame.pts * frame.time_base):
            frame.pts = round(t / frame.time_base)
    return [item for item, _ in out]


def _untimed(stream) -> Untimed | None:
    """Where video ``stream`` is a raw H.264/HEVC stream, which holds no timestamps: what places its packets and
    pictures by their count at its one rate (:func:`~roadseg.pipeline.sources.framerates.untimed_rate`), as a file
    read whole places them, so that it is paced and recorded at that rate when played live (was: not paced, 10 s at 10
    frames/s played in 0.3 s); None for any other stream.

    >>> from fractions import Fraction
    >>> from types import SimpleNamespace as S
    >>> raw = S(container=S(format=S(name="h264")), codec_context=S(framerate=Fraction(10)), time_base=Fraction(1, 90))
    >>> untimed = _untimed(raw)
    >>> untimed.rate, untimed.at(3), _untimed(S(container=S(format=S(name="mpegts"))))
    (Fraction(10, 1), 27, None)
    """
    rate = untimed_rate(stream)
    return Untimed(rate, stream.time_base) if rate and stream.time_base else None


def _note_read(read: dict, packet: av.Packet, at: float, placed: int | None = None) -> None:
    """Keep in ``read`` when video ``packet`` was read (``at``) and its dts, by its pts (a raw stream's: by where its
    count ``placed`` it), for the picture the decoder gives for it, maybe later; at most :data:`MAX_HELD` (packets
    that gave no picture: refused, or no pts)."""
    if packet.size:
        read.setdefault(packet.pts if placed is None else placed, (at, packet.dts))
        if len(read) > MAX_HELD:
            del read[next(iter(read))]


def _ended(packets: Iterator[av.Packet], stream, failed: list[BaseException]) -> Iterator[av.Packet]:
    """``packets`` of a connection, and where a read fails (a lost stream) the empty packet of video ``stream`` that
    ends them as a stream read to its end is ended, so that its decoder hands on the pictures it holds (a stream with
    B-frames lost 2 at each reconnect) with no read of the dead connection; the error kept in ``failed``, raised by
    the caller after them.

    >>> import io
    >>> from fractions import Fraction
    >>> video = av.open(io.BytesIO(), "w", format="mpegts").add_stream("mpeg2video", rate=25)
    >>> video.time_base = Fraction(1, 90000)
    >>> def lost():
    ...     yield av.Packet(b"x")
    ...     raise OSError(5, "Input/output error")
    >>> failed = []
    >>> [(p.size, p.stream and p.stream.type, p.time_base) for p in _ended(lost(), video, failed)], failed
    ([(1, None, None), (0, 'video', Fraction(1, 90000))], [OSError(5, 'Input/output error')])
    """
    try:
        yield from packets
    except (av.error.FFmpegError, OSError, IndexError) as exc:  # (IndexError: PyAV, on a stream found late)
        failed.append(exc)
        end = av.Packet()
        end.stream = stream
        if stream.time_base:  # (its pictures are timed in it, as the demuxer's end's are)
            end.time_base = stream.time_base
        yield end


class Refusals:
    """The video packets a decoder refused in a row: how many seconds of the stream they span, by the steps
    between their timestamps (a step that is missing, backwards or over a second, as damage makes, counts
    as one frame at ``fps``).

    >>> refused = Refusals(fps=25.0)
    >>> [refused.add(av.Packet(b"x")) for _ in range(3)], refused.clear(), refused.add(av.Packet(b"x"))
    ([0.04, 0.08, 0.12], None, 0.04)
    """

    def __init__(self, fps: float) -> None:
        self.frame = 1 / fps
        self.clear()

    def clear(self) -> None:
        self.seconds, self._last = 0.0, None

    def add(self, packet: av.Packet) -> float:
        t = packet_time(packet)
        step = None if t is None or self._last is None else t - self._last
        self.seconds += step if step is not None and 0 < step <= 1.0 else self.frame
        self._last = t if t is not None else self._last
        return self.seconds


MAX_HELD = 64  # read times of video packets kept for the pictures a decoder holds back
REFUSED = 5.0  # seconds of a stream whose every video packet its decoder refused before the connection counts as lost
