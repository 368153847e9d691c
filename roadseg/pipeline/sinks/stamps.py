"""Where each picture goes on a video output's clock (:class:`Stamps`, a part of
:class:`~roadseg.pipeline.sinks.video.VideoSink`): its time (the input's, or a live recording's on the capture clock),
its timestamp, checked to follow the one before, or its place by count (MXF); where the output's timeline begins
(an AVI's empty chunks before its first picture), and what that does to the sound, told at the end.
"""

from __future__ import annotations

import logging
import math
from fractions import Fraction

import av

from roadseg.pipeline.sinks.audio import LEAP, write_error
from roadseg.pipeline.sinks.formats import NO_AUDIO_OFFSET
from roadseg.pipeline.sources import Frame

log = logging.getLogger("roadseg")
MAX_STEP = 3600.0  # seconds between two frames beyond which a timestamp is damage, not a pause
#: A live recording's clock (its pictures stamped on the capture clock, :attr:`Frame.clock`): MPEG's 90 kHz, as a
#: transport stream and RTP time theirs, a whole number of ticks a frame at 24, 25, 29.97, 30, 50, 59.94 and 60
#: frames/s, each picture's time kept to 11 µs. Was 1/1000: a steady 29.97 source's steps rounded to 33 and 34 ms,
#: an mp4 that stated 29.959 frames/s (30 fps: 29.995)
LIVE_TIME_BASE = Fraction(1, 90000)
#: The same for an encoder whose clock holds 16 bits (MPEG-4 part 2:
#: :data:`~roadseg.pipeline.sinks.rates.SHORT_CLOCK_ENCODERS`), on 1/fps where its clock is finer
SHORT_LIVE_TIME_BASE = Fraction(1, 60000)


def live_time_base(short_clock: bool) -> Fraction:
    """The time base a live recording's pictures are stamped in: :data:`LIVE_TIME_BASE`, or, for an encoder whose
    clock holds 16 bits (``short_clock``), :data:`SHORT_LIVE_TIME_BASE`. A frame step at 30000/1001 and at 25
    frames/s is a whole number of ticks in either:

    >>> [[step / live_time_base(short) for step in (Fraction(1001, 30000), Fraction(1, 25))] for short in (False, True)]
    [[Fraction(3003, 1), Fraction(3600, 1)], [Fraction(2002, 1), Fraction(2400, 1)]]
    """
    return SHORT_LIVE_TIME_BASE if short_clock else LIVE_TIME_BASE


class Stamps:
    """:class:`~roadseg.pipeline.sinks.video.VideoSink`'s picture times. Its state: ``wall_clock``, ``shown``,
    ``container``, ``stream``, ``fps``, ``_timed``, ``_counted``, ``_previous`` and ``audio`` (where the sound starts and lacks; set as it opens),
    ``written``, ``_t0`` (a live recording's first frame's capture time), ``_last_pts``, ``_last_dts`` (the last
    packet's decoding time), ``_first`` (the first
    picture's time, seconds), ``_origin`` and ``_lead`` (the timestamp written as 0; an AVI's empty chunks before the
    first picture, seconds)."""

    def _time(self, frame: Frame | None) -> Fraction | float | None:
        """``frame``'s time, seconds: on the capture clock from the first frame (``wall_clock``), else on the
        input's; None where it has none."""
        at = None if frame is None else frame.clock if frame.clock is not None else frame.captured
        if self.wall_clock and at is not None:
            self._t0 = at if self._t0 is None else self._t0
            return at - self._t0
        if frame is None or frame.pts is None or frame.time_base is None:
            return None
        return frame.pts * Fraction(frame.time_base)

    def _timestamp(self, at: Fraction | float | None) -> int:
        """The encoder's timestamp of a picture at ``at`` seconds (None: a frame step after the picture before, the
        first at 0; was: its count by the rate, a first picture's later time not counted: a transport stream's picture
        whose PTS was lost, after one at 0.181 s, went at 0.2 s, and on an AVI's frame clock on that one's frame, left
        out), a half tick rounded up:
        pictures half a frame off an output's frame clock (a cut's window that begins between two) each keep a frame
        of their own (was: rounded half to even, two in a row on one frame, and one of them left out: an AVI of a 1-s
        cut at 25 frames/s from 0.5 s held 13 of its 25 pictures).

        >>> from types import SimpleNamespace
        >>> clock = SimpleNamespace(stream=SimpleNamespace(codec_context=SimpleNamespace(time_base=Fraction(1, 25))))
        >>> [Stamps._timestamp(clock, Fraction(2 * k + 1, 50)) for k in range(4)]
        [1, 2, 3, 4]
        """
        tb = self.stream.codec_context.time_base
        if at is None and self._last_pts is not None:
            return self._last_pts + self._origin + max(1, round(1 / (self.fps * tb)))
        ticks = (Fraction(self.written) / self.fps if at is None else at) / tb
        return math.floor(ticks + Fraction(1, 2) if isinstance(ticks, Fraction) else ticks + 0.5)

    def _slot(self, at: Fraction | float | None) -> int | None:
        """Where a picture at ``at`` seconds goes in an output that times its pictures by their count (MXF): its
        time's place at the rate, counted from the first picture, the one before it repeated up to there; None where
        that place is taken (it came a frame or more early: left out). One without a time, or a leap further than
        :data:`~roadseg.pipeline.sinks.audio.LEAP` ahead or a second back (damage), follows on, as the sound does
        there. So the pictures keep in step with the sound of a variable-rate input, or one that misses pictures
        (was: a second of them missing put every later one a second early)."""
        if at is None or not self.written:
            return self.written
        slot = round((at - self._first) * self.fps)
        if not -self.fps <= slot - self.written <= LEAP * self.fps:
            return self.written
        return slot if slot >= self.written else None

    def _last_shown(self) -> None:
        """An output that times its pictures by their count (MXF), written at a multiple of the rate they come at:
        its last picture repeated as often as each before it, so that it is shown for a step of the input's rate as
        they are, and the file lasts its pictures' count times that step (was: shown once, its 15 frames/s pictures
        at 30 ended a 30th of a second early, its stated length one such frame short of the input's). Any other
        output timed by the frame gives each picture that step as its duration (:meth:`VideoSink._encode`)."""
        if self._counted and self._previous is not None:
            for _ in range(round(self.fps / self._timed) - 1):
                self._picture(self._previous, self.written)

    def _begin(self, pts: int, at: Fraction | float | None = None) -> None:
        """The first picture, at ``pts`` (``at`` seconds): an MXF output's sound is placed from it (from ``at``); an
        AVI's timeline starts with it, after as many empty chunks as the frame steps, to the nearest (half a step up),
        by which the sound muxed so far began before it (up to :data:`~roadseg.pipeline.sinks.audio.LEAP`): AVI starts
        every track at its first chunk, and wrote a later first picture at 0 all the same, with as many empty chunks
        after it (the pictures after it played late). Each picture so plays within half a frame of its sound (was:
        whole steps, up to a frame early: a cut from 0.29 s at 25 frames/s, its first picture 0.03 s after its sound,
        at 0 beside it). The lead is counted from the picture's own time, not from ``pts``, rounded to the frame clock
        already (was: rounded twice, a picture 0.5 s after its AAC sound began, at 12.5 frames, went 14 frames on,
        0.039 s late)."""
        tb = self.stream.codec_context.time_base
        self._first = float(at) if self._counted and at is not None else float(pts * tb)  # (MXF: as the sound is timed)
        self.audio.start(self._first)
        if self.container.format.name not in NO_AUDIO_OFFSET:
            return
        shown = self._first if at is None else float(at)  # (its own time: ``pts`` is rounded to the frame clock)
        lead = shown - min(self.audio.starts.values(), default=shown)
        steps = math.floor(lead * self.fps + 0.5 + 1e-6) if 0 < lead <= LEAP else 0
        self._lead = steps / self.fps
        self._origin = pts - round(self._lead / tb)
        video = self.container.streams.video[0]  # (``stream`` itself; a test's fault injection wraps that one)
        for step in range(round(self._lead / tb)):  # (tb is 1 / fps there)
            empty = av.Packet(b"")
            empty.pts = empty.dts = step
            empty.time_base, empty.stream = tb, video
            try:
                self.container.mux(empty)
            except (OSError, av.error.FFmpegError) as exc:
                raise write_error(exc, f"cannot write {self.shown}") from None

    def _checked(self, pts: int) -> int:
        """A timestamp the encoder and muxer take: after the last one, and not hours away from it.

        A duplicate or slightly earlier timestamp moves one tick on (on a frame clock such a picture is left out
        before: :meth:`_write`); one that leaps far either way
        (damaged, or reset midway) becomes the next frame at the nominal rate.
        """
        last = self._last_pts
        if last is None:
            return pts
        tb = self.stream.codec_context.time_base
        far = min(round(MAX_STEP / tb), 2**30)  # mp4 keeps sample durations in 32 bits
        if pts - last > far or last - pts > round(1 / tb):  # (more than a second backwards)
            return last + max(1, round(1 / (self.fps * tb)))
        return last + 1 if pts <= last else pts

    def _decoding_time(self, packet: av.Packet) -> None:
        """Give the encoder's ``packet`` a decoding time the muxer takes where the encoder's could be none: after the
        last packet's, not after its own presentation time, and, the first, not over :data:`MAX_STEP` before it;
        otherwise the last one's a frame step on (at most its presentation time), or, the first, its presentation
        time. x265 (FFmpeg's libx265) gives a clip shorter than its B-frames' delay, one or two pictures, values it
        never set (dts 1373590189732195832 for pts 0): mp4 and mov refused them, and the whole output was lost
        (``Invalid argument``, ``Not yet implemented in FFmpeg``), one run in three.

        >>> from types import SimpleNamespace
        >>> sink = SimpleNamespace(fps=Fraction(25), _last_dts=None,
        ...                        stream=SimpleNamespace(codec_context=SimpleNamespace(time_base=Fraction(1, 12800))))
        >>> packets = [SimpleNamespace(pts=0, dts=-2**59), SimpleNamespace(pts=512, dts=-2**59 + 512)]
        >>> for packet in packets:
        ...     Stamps._decoding_time(sink, packet)
        >>> [packet.dts for packet in packets]
        [0, 512]
        """
        pts, dts, last = packet.pts, packet.dts, self._last_dts
        if pts is None:
            return
        tb = self.stream.codec_context.time_base
        if dts is None or dts > pts or (dts <= last if last is not None else pts - dts > MAX_STEP / tb):
            step = max(1, round(1 / (self.fps * tb)))
            dts = packet.dts = pts if last is None else max(min(pts, last + step), last + 1)
        self._last_dts = dts

    def _on_recording_clock(self, packet: av.Packet) -> bool:
        """Move a live source's packet (timed on the capture clock, as its frames are) onto the recording's,
        which starts at its first frame; False for one from before that frame (not part of the recording)."""
        if self._t0 is None or packet.dts is None or packet.pts is None:
            return False
        shift = round(self._t0 / packet.time_base)
        packet.pts, packet.dts = packet.pts - shift, packet.dts - shift
        return packet.dts >= 0

    def _tell_offsets(self) -> None:
        """One line for each audio stream that began 0.1 s or more before or after the video, and one for each
        with 0.1 s or more of sound missing between its packets, in a format that starts them together and plays
        a track's sound back to back (:data:`NO_AUDIO_OFFSET`)."""
        if self.container.format.name not in NO_AUDIO_OFFSET or self.wall_clock or self._first is None:
            return
        for index, start in sorted(self.audio.starts.items()):
            offset = start - (self._first - self._lead)
            if abs(offset) >= 0.1:
                log.warning("audio stream #%d begins %.2f s %s the video; %s starts them together, so there it "
                            "plays %.2f s %s (write .mkv or .mp4 to keep them in step)", index, abs(offset),
                            "after" if offset > 0 else "before", self.container.format.name.upper(), abs(offset),
                            "early" if offset > 0 else "late")  # fmt: skip
        for index, missing in sorted(self.audio.gaps.items()):
            if missing >= 0.1:
                log.warning("audio stream #%d has %.2f s of sound missing between its packets (damaged input); %s "
                            "plays its sound back to back, so there what follows plays up to %.2f s early (write .mkv "
                            "or .mp4 to keep them in step)", index, missing, self.container.format.name.upper(),
                            missing)  # fmt: skip
