"""A file's first pictures whose stamps alone were damaged, put back where their pictures lead before the file's start
is taken from them (:class:`FirstPictures`, a part of :class:`~roadseg.pipeline.sources.file.VideoSource`): a
transport stream's first video packets read ahead and judged as :class:`~roadseg.pipeline.sources.inline.InLine` will
judge their pictures, the presentation times of a stream with B-frames by the order a decoder shows them in, and
the packets moved as they are read, a joined file's (--concat) by the moves and shifts its probe judged.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from fractions import Fraction

import av

from roadseg.pipeline.sources.clock import TS_DISCONT
from roadseg.pipeline.sources.decoder import joined_part
from roadseg.pipeline.sources.firstmoves import first_moved, sound_start
from roadseg.pipeline.sources.framerates import step_rate, untimed_rate
from roadseg.pipeline.sources.gaps import OFF_LINE
from roadseg.pipeline.sources.packets import packet_time, seconds


class FirstPictures:
    """:class:`~roadseg.pipeline.sources.file.VideoSource`'s first-pictures repairs. Its state, set as the source
    opens (:meth:`_set_up_first_pictures`): ``_ahead`` (the packets read to judge the first ones, then an error met
    or the end), ``_first_pts`` (where the first video packets' damaged presentation times alone are put, by number),
    ``_presented_by`` (the seconds the first is moved by so), ``_moves`` and ``_shifts`` (by joined file: the seconds
    its first video packets, and all its packets, are moved by), ``_part``, ``_video_read`` and ``_put_at`` (what
    :meth:`_put_back` follows)."""

    def _set_up_first_pictures(self, moves: Sequence[Mapping[int, float]], shifts: Sequence[float], own_file: bool,
                               remote: bool) -> None:
        """The state of :class:`FirstPictures`: the first pictures whose stamps alone were damaged, judged here where
        the file is its own (``own_file``) or ``remote``, else as --concat's probe judged them (``moves``,
        ``shifts``)."""
        self._ahead: list[av.Packet | Exception | None] = []  # packets read to judge the first ones, in turn the errors
        # met and the end (None) where reading them met it: read first (_demux)
        # the seconds the first video packets are moved by, by their number, where their stamps alone were damaged, of
        # the file (of each file joined), and those the first is moved by (before the file's start: it follows)
        # (an http(s) URL's container, opened by open_url, is the file's own too)
        self._first_pts: dict[int, int] = {}  # where the first video packets' damaged presentation times alone are put
        self._presented_by = 0.0  # the seconds the first is moved by so (_first_presented)
        self._moves = list(moves) or [self._first_pictures_moved() if own_file or remote else {}]
        self._first_moved = self._moves[0].get(0, 0.0) or self._presented_by
        self._video_read = 0  # video packets read of the file (_put_back)
        self._part: tuple[int, str | None] = (0, None)  # the joined file read (its number, where the join starts it)
        self._shifts = list(shifts)
        self._moving = any(self._moves) or any(self._shifts) or bool(self._first_pts)
        self._put_at: set[int] = set()  # the pts those put back are at: their pictures are put back in line

    def _first_pictures_moved(self) -> dict[int, float]:
        """Where :class:`InLine` puts the first pictures back in line, where the stamps of a transport stream's first
        pictures alone were damaged: FFmpeg takes the first for where the stream starts, and the file's start (the
        output's 0, and the sound dropped before it) followed it, as the sound and the frames expected followed
        their packets. Its first video packets are read and judged as their pictures will be (:func:`first_moved`: the
        seconds their packets are moved by, by their number); none where none moves, or the file's clock cannot jump
        (its stamps are kept as they are: :class:`Clock`). The packets read to judge them, and an error met reading
        them, are kept in turn (:attr:`_ahead`), for :meth:`_packets` to read first: the file is demuxed once, so a pipe
        (standard input) or an http(s) URL is judged as a file on disk is. --concat's join is judged file by file as
        its files are probed (``moves``: :mod:`~roadseg.pipeline.sources.probe`)."""
        if not self.container.format.flags & TS_DISCONT or untimed_rate(self.stream) is not None:  # (a raw stream's
            return {}  # pictures have no stamps to damage: FFmpeg's raw MPEG-4 demuxer says its clock may jump)
        sound = sound_start(self.container, self.stream)
        if not (moves := first_moved(self._first_video_stamps(), self._in_line(), sound)):  # (the first in line by its stamp:
            self._presented_by = self._first_presented()  # its presentation time alone may be damaged)
        return moves

    def _first_presented(self) -> float:
        """The seconds the stream's start moves by where the presentation times alone of a transport stream's first
        pictures were damaged (H.264 with B-frames: their decoding times in line, :meth:`_first_pictures_moved`),
        one of them found so by lying before its decoding time or more than OFF_LINE after it. The packets read ahead
        (:attr:`_ahead`) are decoded once more, numbered, to see the order they show in (the decoder's: a B-frame
        decoded after the picture it shows before); shown in that order, the pictures go on a frame step apart from
        where most of those in range say the first lies, and each that lies off that line by more than half a step
        is put on it (:attr:`_first_pts`, by number; one without a decoding time of its own, its decoding time too),
        none where most keep no line (a hole among them). FFmpeg takes
        the first's for where the stream starts: 0.7 s back, a wrap of the clock before 0, the whole sound was dropped
        as over LEAP before it ("dropped 73 damaged audio packets"); the first two 30 s on left an output that does
        not decode; the first four moved left the first pictures playing off the rest, and the sound with them."""
        video = [p for p in self._ahead if isinstance(p, av.Packet) and p.stream.index == self.stream.index and p.size]
        fps, s = step_rate(self.stream), self.stream
        if not video or not fps or s.start_time is None or not s.time_base or s.codec_context is None:
            return 0.0
        step, tb = 1 / float(fps), video[0].time_base

        def sane(p: av.Packet) -> bool:
            return p.pts is not None and p.dts is not None and -step / 2 <= seconds(p.pts - p.dts, tb) <= OFF_LINE

        if all(p.pts is None or p.dts is None or sane(p) for p in video):
            return 0.0
        shown, ticks = self._shown_order(video), round(step / tb)
        if len(shown) < 2 or ticks <= 0:
            return 0.0
        in_range = [(k, n) for k, n in enumerate(shown) if sane(video[n])]
        firsts = Counter(video[n].pts - k * ticks for k, n in in_range)
        first, most = firsts.most_common(1)[0] if firsts else (None, 0)
        if most < 2 or 2 * most <= len(in_range):  # (no line most of them keep: a hole among them)
            return 0.0
        for k, n in enumerate(shown):
            p = video[n]
            if p.pts is not None and abs(p.pts - (first + k * ticks)) > ticks / 2:
                self._first_pts[n] = first + k * ticks
        if not self._first_pts:
            return 0.0
        return seconds(first, tb) - seconds(s.start_time, s.time_base)

    def _shown_order(self, video: list[av.Packet]) -> list[int]:
        """The numbers of the ``video`` packets (the first read, in decoding order) in the order their pictures show,
        as a decoder of their codec of its own gives them, numbered in turn; those that decode to no picture left out,
        and those it still holds at the end (a picture read after them may show before them)."""
        codec = self.stream.codec_context
        try:
            ctx = av.CodecContext.create(codec.name, "r")
            ctx.thread_count = 1  # (frame threads hold a picture back a thread: 17 on 16 cores, more than are read)
            if codec.extradata:
                ctx.extradata = codec.extradata
            order = []
            for n, p in enumerate(video):
                numbered = av.Packet(bytes(p))
                numbered.pts = n
                with contextlib.suppress(av.error.FFmpegError, ValueError):
                    order += [f.pts for f in ctx.decode(numbered)]
        except (av.error.FFmpegError, ValueError):
            return []
        return [n for n in order if n is not None and 0 <= n < len(video)]

    def _first_video_stamps(self) -> Iterator[tuple[int | None, Fraction]]:
        """The (stamp, time base) of the file's video packets in decoding order (as :func:`packet_time`), every packet
        read kept in turn (:attr:`_ahead`), and the end or an error met reading them (judged by what came before it)."""
        packets = self.container.demux(*self._streams_read())
        while True:
            try:
                packet = next(packets)
            except StopIteration:  # (the demuxer has passed its end: no other is to read on after them)
                self._ahead.append(None)
                return
            except Exception as exc:  # noqa: BLE001 - damage that breaks the demuxer: judged by what was read before it
                self._ahead.append(exc)
                if not isinstance(exc, IndexError):  # (PyAV's, on a packet of a stream found after the start: read on)
                    return
                packets = self.container.demux(*self._streams_read())
                continue
            self._ahead.append(packet)
            if packet.stream.index == self.stream.index and packet.size:
                yield (packet.pts if packet.dts is None else packet.dts), packet.time_base

    def _put_back(self, packet: av.Packet) -> None:
        """Move ``packet``, where it is one of the file's first video packets whose stamps alone were damaged
        (:meth:`_first_pictures_moved`; in --concat's join, one of a joined file's, told by where the join starts the
        file it came from), to where :class:`InLine` puts its picture, before the :class:`Clock` judges them: by their
        damaged stamps it may take a step back among them for pictures to put after the step ahead before it, which
        keeps the first pictures seconds off the line the file's start is moved to. (Left to InLine, a later joined
        file's came back to the line a frame step after the picture before them, not where the file's own lead.)"""
        start = joined_part(packet).get("lavf.concatdec.start_time") if len(self._moves) > 1 else None
        if start is not None and start != self._part[1]:  # (the next joined file's first packet)
            self._part, self._video_read = (self._part[0] + (self._part[1] is not None), start), 0
        shift = self._shifts[self._part[0]] if self._part[0] < len(self._shifts) else 0.0
        if shift and packet.time_base:  # (the file's every packet)
            ticks = round(shift / packet.time_base)
            packet.pts = None if packet.pts is None else packet.pts + ticks
            packet.dts = None if packet.dts is None else packet.dts + ticks
        if not packet.size or packet.stream.index != self.stream.index:
            return
        n, self._video_read = self._video_read, self._video_read + 1
        if n in self._first_pts and not self._part[0]:  # (its presentation time alone: _first_presented; without a
            packet.dts = self._first_pts[n] if packet.dts == packet.pts else packet.dts  # decoding time of its own,
            packet.pts = self._first_pts[n]  # the same)
            self._put_at.add(packet.pts)
            return
        moves = self._moves[self._part[0]] if self._part[0] < len(self._moves) else {}
        if (moved := moves.get(n)) is None or packet_time(packet) is None:
            return
        by = round(moved / packet.time_base)
        packet.pts = None if packet.pts is None else packet.pts + by
        packet.dts = None if packet.dts is None else packet.dts + by
        if by and packet.pts is not None:
            self._put_at.add(packet.pts)

    def _demux(self, streams: tuple) -> Iterator[av.Packet]:
        """The demuxer's packets of ``streams`` (none: every stream's), those read ahead first (:attr:`_ahead`): an
        error met reading them raised in its turn, as the demuxer raised it (the next call goes on after it), and
        where they reached the end, none after them. A raw stream's packets (:attr:`_untimed`) without the timestamps
        FFmpeg's parser guessed for them, each taken where its picture shows
        (:meth:`~roadseg.pipeline.sources.untimed.Untimed.take`)."""
        while self._ahead:
            item = self._ahead.pop(0)
            if item is None:
                return
            if isinstance(item, Exception):
                raise item
            yield item
        if self._untimed is None:
            yield from self.container.demux(*streams)
            return
        codec = self.stream.codec_context
        codec.copy_opaque = True  # (its packets' opaque, where each picture shows: Untimed.take, to its frame)
        for packet in self.container.demux(*streams):
            packet.pts = packet.dts = None
            if packet.size and packet.stream is not None and packet.stream.index == self.stream.index:
                self._untimed.take(packet, codec.name)
            yield packet
