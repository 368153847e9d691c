"""The frames a file promises, counted as it is read (:class:`Expected`, a part of
:class:`~roadseg.pipeline.sources.file.VideoSource`): the span of its video's one timeline, the joins of recordings
in it, pictures lost (:class:`~roadseg.pipeline.sources.gaps.Gaps`) and an AVI's empty chunks (pictures held).
"""

from __future__ import annotations

import math

import av

from roadseg.pipeline.sources.base import MAX_SECONDS
from roadseg.pipeline.sources.gaps import HOLE, OFF_LINE, RUN, within
from roadseg.pipeline.sources.pace import Pace
from roadseg.pipeline.sources.streams import tag_duration


class Expected:
    """:class:`~roadseg.pipeline.sources.file.VideoSource`'s count of the frames expected and lost: its state is
    ``_span``, ``_off``, ``_recording``, ``_last_dts``, ``held`` and ``pace`` (set as the source opens:
    :meth:`_set_up_expected`), and ``_earliest``, the time of the earliest video packet read (:meth:`_begins`)."""

    _earliest: float | None = None

    def _set_up_expected(self, chunked: bool) -> None:
        """The state of :class:`Expected` (the frames the file promises, counted as it is read); ``chunked``: an
        AVI's empty chunks are pictures held, as --concat says of a join of AVI files."""
        self._length = self._video_length()
        self._span: tuple[float, float] | None = None  # (first, end) of the video packets read, on the one timeline
        self._off: tuple[float, float, int] | None = None  # (start, end, count) of the video packets in a row off
        # the span, until they count or the packets come back to it
        self._read = False  # whether the file was read to its end (or to --duration's)
        self._recording = -1  # the recording joined in the file the last video packet was of (Clock.recording)
        self.pace = Pace()  # (the rate its pictures came at: expected_frames, where the file has no count)
        # an AVI's empty chunks: a picture held for one more frame (a dashcam's MJPEG that fell behind), which its
        # frame count counts and its demuxer reads as no packet (the next one's timestamp steps over them)
        self.chunked = chunked or self.container.format.name == "avi"
        self.held = 0
        self._last_dts: int | None = None

    def expected_frames(self) -> int | None:
        """Frames the container promises between ``start`` and ``start + duration`` (None when unknown), less
        an AVI's empty chunks read (:attr:`held`: pictures held, not lost). A file
        whose clock may start again midway (:class:`Clock`) promises, once read to its end, no more than its
        video's one timeline spans: its length is read from timestamps, which pauses in its clock taken out
        or one damaged stamp stretch; a hole where pictures were lost stays in the span (where its first pictures'
        stamps were damaged, put back in line, the span alone: FFmpeg's length runs from the first). Pictures that
        begin after the sound are counted from where they begin (:meth:`_begins`) to where their track ends
        (:meth:`_track_end`), no later than the file."""
        promised = self._promised() if self._closed is None else self._closed[0]
        return None if promised is None else max(0, promised - self.held)

    @property
    def _counts_own(self) -> bool:
        """Whether the file counts its pictures itself (an mp4's index), so that a step in its timeline where no loss
        is marked is no picture of that count, to a keyframe too: a pause (:class:`Gaps`, taken out of a window's
        frames expected: a window over a camera's step to a keyframe, or over one in MPEG-4 part 2, whose pictures
        are not numbered, told '3 of about 23 frames could not be decoded', the whole file none). Not an AVI's, whose
        empty chunks are pictures held (:attr:`held`)."""
        return (self.stream.frames or 0) > 0 and not self.chunked

    @property
    def restarted(self) -> bool:
        """Whether the file's clock was found to start again midway (recordings joined, :class:`Clock`): the frames
        expected once it is read (:meth:`expected_frames`) are its timeline's, not FFmpeg's count at its opening."""
        return self.clock is not None and self.clock.restarts > 0

    def _promised(self) -> int | None:
        if self._untimed is not None:  # (a raw stream's pictures, placed by their count: those of the window, and
            known = self._untimed.pictures if self._read else None  # once read, no more than the stream held)
            return self._untimed.window(self.start, self.end, known)
        info = self.info
        if info.frames is None or info.fps is None:
            return None
        length, most = info.duration, info.frames
        if self.clock is not None and self._read and self._span is not None and not self.unreadable:
            spanned = self._span[1] - self._span[0]
            length = spanned if length is None else min(length, spanned)
            # (FFmpeg's length and count run from the first pictures' damaged stamp; where the clock started again,
            # from the first recording's first stamp to the last one's last: cat a.ts a.ts, 38 of 76 pictures)
            if self._moves[0] or self.restarted:
                length, most = spanned, None
        fps = float(info.fps)
        paced = self._read and not self.unreadable and not (self.stream.frames or 0) > 0  # (a count by the rate)
        if paced:
            fps = min(fps, self.pace.rate(fps) or fps)
        begins = self._begins()  # (pictures that begin after the sound: seconds of the file's clock)
        lead = min(max(0.0, begins - self.origin), MAX_SECONDS) if begins is not None else 0.0
        known = length and begins is not None and not self.restarted  # (FFmpeg's length of a clock that started again
        ends_at = self._track_end(begins, lead) if known else None  # is one recording's)
        if ends_at is not None:
            length = min(length, ends_at - begins)
        if not length and self.end is None:
            return info.frames
        pauses = self._paused(lead, lead + length) if length and not paced and most is not None else 0.0
        counted = pauses > 0  # (its count is of the pictures its length holds less its pauses: _counted_rate)
        if counted:
            fps = self._counted_rate(most, length - pauses)
        step = 1 / (fps if counted else float(info.fps))  # (the window's first picture and the one after its last:
        first = _picture_at(self.start, lead, step) if length else self.start  # _picture_at)
        ends = self.end
        if length:
            ends = lead + length if self.end is None else min(lead + length, _picture_at(self.end, lead, step))
        shown = max(0.0, ends - first) - (self._paused(first, ends) if paced or counted else 0.0)
        count = round(max(0.0, shown) * fps)
        return count if most is None else min(most, count)

    def _paused(self, first: float, ends: float) -> float:
        """Seconds between ``first`` and ``ends`` (from the file's start) in which no picture is due: the pauses of
        the recording (:class:`Pace`'s, and the shorter ones where nothing marks a loss, :class:`Gaps`'), each from
        a frame step after the picture it begins at to the next (pictures at 0.76 s and 1.0 s at 25 frames/s hold
        5 frame steps of none, not 6), and the gaps of recordings joined (:meth:`Pace.paused`, whole)."""
        stated = float(self.info.fps or 0)
        rate = (self.pace.rate(stated) or stated) if stated else None
        step = 1 / rate if rate else 0.0
        pauses = [*self.pace.pauses, *(self._gaps.pauses if self._gaps is not None else ())]
        origin = [0.0] * len(self.pace.pauses) + [self.origin] * (len(pauses) - len(self.pace.pauses))
        shrunk = [(a - o + step, b - o) for (a, b), o in zip(pauses, origin, strict=True) if b - a > step]
        return within(shrunk, first, ends) + within(self.pace.joins, first, ends)

    def _counted_rate(self, count: int, shown: float) -> float:
        """The rate a file that counts its pictures (an mp4's index) holds them at: its ``count`` over the seconds
        of its length ``shown`` (less the pauses found in what was read of it). Not its average over its whole length,
        which spreads a pause over all of it: a window over a step of 0.24 s with no picture in it, in a clip of 2.2 s
        that holds 50 pictures at 25 frames/s, expected 23 of its 20 ('3 of about 23 frames could not be decoded',
        where the whole file's run told none lost), and one beside it fewer than it holds."""
        return count / shown if shown > 0 else float(self.info.fps)

    def _begins(self) -> float | None:
        """Where the video begins, seconds of the file's clock: where its stream starts (:meth:`_stream_start`), or,
        once it was read from its start, where its earliest packet was (:meth:`_spanned`), where that is more than
        :data:`OFF_LINE` later. FFmpeg takes the file's start for the video's where its probe reads no picture of it:
        an mkv whose video began 15 s after its sound told '376 of about 426 frames could not be decoded' of its 50,
        all decoded (no pictures are due before its first), as one does whose video begins past what
        :data:`~roadseg.pipeline.sources.containers.DEEP_PROBE` reads (60 s), or a .ts read from a pipe (probed once). Not
        nearer: the first packets' decoding times lie before their pictures' with B-frames, and a damaged mp4's first
        packet may lie a frame after where its index says the stream starts (`mp4-fields-5`)."""
        said, earliest = self._stream_start(), self._earliest
        if not self._read or self._sought or earliest is None or said is not None and earliest - said <= OFF_LINE:
            return said
        return earliest

    def _track_end(self, begins: float, lead: float) -> float | None:
        """Where the video's track ends, seconds of the file's clock, where the file says (None: its length alone
        says): a Matroska file FFmpeg wrote (Lavf) in its ``DURATION`` tag (mkvmerge writes the length there, which
        the stream's length takes), else, where the video ``begins`` after its sound (``lead``), the file's end, its
        longest stream's (a length that runs from the file's start, as FFmpeg's of a stream it probed no picture
        of, ends there). The tag, where earlier: the sound's last AAC frame runs on past the last picture (was: 51
        frames expected of an mkv's 50 that began 15 s after its sound, 26 of 25 with ``--start 16``)."""
        end = self.origin + self.container.duration / av.time_base if self.container.duration else None
        tag = tag_duration(self.stream.metadata.get("DURATION"))
        if "matroska" in self.container.format.name and str(self.container.metadata.get("ENCODER", "")).startswith(
                "Lavf") and tag is not None and tag > begins:  # fmt: skip
            return tag if end is None else min(end, tag)
        return end if lead else None

    def _joined_at(self, t: float) -> bool:
        """Whether the video packet at ``t`` is the first of a recording joined after another (the :class:`Clock`
        moved the video anew): the step to it from the span's end, but for the frame steps whole within it, is the
        join's own gap, no picture's (taken out of the frames expected, and out of the pace: the clean cat joins
        leave 0.95 of a frame step, which a lower pace took in; where pictures beside the join were lost, the
        step was a hole, and one frame more was expected: `catleap-swap-20`, told 9 of 8 missing)."""
        recording = self.clock.recording(self.stream.index) if self.clock is not None else -1
        joined, self._recording = recording != self._recording, recording
        if joined and self._span is not None and self._frame_step and t > self._span[1]:
            gap = (t - self._span[1]) % self._frame_step
            self.pace.joined(t - gap - self.origin, t - self.origin)
        return joined

    def _take_gaps(self, packet: av.Packet, t: float | None, joined: bool = False) -> None:
        """Follow the video ``packet``, at ``t`` seconds, for pictures lost and pauses (:class:`Gaps`), in the
        window or not (a pause may begin before it); those lost are counted where they lie in it. ``joined``:
        it is the first of a recording joined after another (:meth:`_joined_at`)."""
        if self._gaps is None or not packet.size:
            return
        skipped = self._numbers is not None and self.decoder.codec == "h264" and self._numbers.skipped(packet)
        if self._passed is not None and self._passed.over:  # (passed over damage since the last video packet)
            skipped, self._passed.over = True, False
        discarded = self._discarded is not None and self._discarded.take(packet.pos)
        if t is not None:
            lost = self._gaps.lost
            self._gaps.take(t, packet.is_corrupt, key=packet.is_keyframe, skipped=skipped, joined=joined,
                            discarded=discarded)  # fmt: skip
            self.lost += self._gaps.lost - lost

    def _count_held(self, packet: av.Packet) -> None:
        """Count an AVI's empty chunks before ``packet`` that lie in the window (:attr:`held`): its timestamps
        count chunks, so one that steps over others follows a picture held for more frames."""
        if not self.chunked or packet.dts is None:
            return
        last, self._last_dts = self._last_dts, packet.dts
        if last is None or packet.dts <= last + 1:
            return
        tb = packet.time_base  # (a chunk's timestamp is its number)
        first, end = max(last + 1, math.ceil((self.start + self.origin) / tb - 1e-6)), packet.dts
        if self.end is not None:  # (chunks at or after the window's end are not in it)
            end = min(end, math.ceil((self.end + self.origin) / tb - 1e-6))
        self.held += max(0, end - first)

    def _spanned(self, t: float, duration: float) -> None:
        """Widen the span of the video's timeline read so far (:meth:`expected_frames`) to a packet at ``t``.
        The first packet counts once the next goes on from it, and packets more than :data:`OFF_LINE` before
        the span, or more than :data:`HOLE` frame steps after its end, once more than :data:`RUN` went on from
        each other (or, within OFF_LINE after it, the file ended with them): a damaged stamp, or a run of them
        that the packets come back from (:class:`InLine` puts those pictures back), does not stretch the span
        (nor the frames expected; `ts-stamps-20`, a picture stamped 0.7 s ahead before the last: 54 expected of
        38, now 38). Where the :class:`Clock` found the packets before to be damage (a run of first timestamps
        broken), the span starts anew, but for the first packets put back (:meth:`_first_pictures_moved`). The
        earliest packet's time is kept whatever its stamp (:meth:`_begins`: the video begins no earlier)."""
        self._earliest = t if self._earliest is None else min(self._earliest, t)
        damaged = self.clock is not None and self.clock.first_damaged(self.stream.index)
        if damaged and not self._moves[0]:
            self._span = self._off = None
        off, self._off = self._off, None
        ahead = HOLE * self._frame_step if self._frame_step else OFF_LINE  # (a hole's or less: in line)
        if self._span is not None and self._span[0] - OFF_LINE <= t <= self._span[1] + ahead:
            self._widen(t, t + duration)  # (back in the span: what lay off it was damage)
            return
        end, n = t + duration, 1
        if off is not None and abs(t - off[1]) <= OFF_LINE:  # (goes on from the packets off the span)
            t, end, n = min(t, off[0]), max(end, off[1]), off[2] + 1
        if n > (1 if self._span is None else RUN):
            self._widen(t, end)
        else:
            self._off = (t, end, n)

    def _widen(self, t: float, end: float) -> None:
        first, last = self._span or (t, end)
        self._span = (min(first, t), max(last, end))


def _picture_at(t: float, lead: float, step: float) -> float:
    """Where the first picture at or after ``t`` lies (seconds from the file's start), the video beginning ``lead``
    seconds in, a picture every ``step`` seconds: ``lead`` where it begins after ``t``. The frames expected between
    two such are whole (a .ts whose video begins at 15.02 s: ``--start 16`` expected 26 of its 25 pictures after it).

    >>> [round(_picture_at(t, 15.0213, 0.04), 4) for t in (16.0, 15.5, 17.0, 1.0)], _picture_at(16.0, 15.0, 0.04)
    ([16.0213, 15.5013, 17.0213, 15.0213], 16.0)
    """
    if t <= lead:
        return lead
    return lead + math.ceil((t - lead) / step - 1e-6) * step
