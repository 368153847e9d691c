"""A file's packets decoded and its pictures made frames (:class:`Decoding`, a part of
:class:`~roadseg.pipeline.sources.file.VideoSource`): what goes into the decoder and comes out of it counted (pictures
it drops without a word: :class:`~roadseg.pipeline.sources.gaps.Dropped`), and each picture kept made an upright RGB
frame at the first one's size (scaled where --height asks: :func:`scaled_size`; one line where a later one's differs),
but those ``--fps`` leaves out (:class:`~roadseg.pipeline.sources.fpscap.FpsCap`), never converted.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from roadseg.pipeline.sources.base import Frame
from roadseg.pipeline.sources.coded import no_picture, stand_in
from roadseg.pipeline.sources.decoder import Decoder
from roadseg.pipeline.sources.display import as_shown, matrix_of, rotation_of
from roadseg.pipeline.sources.fields import bottom_first
from roadseg.pipeline.sources.fpscap import FpsCap
from roadseg.pipeline.sources.framerates import untimed_rate
from roadseg.pipeline.sources.packets import seconds
from roadseg.pipeline.sources.pictures import rgb_picture, scaled_to
from roadseg.pipeline.sources.reordered import Reordered
from roadseg.pipeline.sources.untimed import Untimed

log = logging.getLogger("roadseg")
#: seconds off a tick of the video's clock within which a shift is taken as on it (a start found by the first
#: timestamps, kept to the microsecond, or a 90 kHz clock's 11 µs ticks: nothing the eye or ear tells apart)
ON_TICK = 1e-4
#: seconds past --duration's end from which a picture that does not decode is none of the window's (within: one whose
#: packet's time is off its own by a B-frame run, or a frame where FFmpeg guesses it, as in an AVI), where the frame
#: step is not known; where it is, :data:`BEYOND_STEPS` of them, where fewer
BEYOND = 1.0
#: frame steps past --duration's end from which a picture that does not decode is none of the window's (a B-frame run
#: of 3, and the frame FFmpeg's time of an AVI's picture lies late by)
BEYOND_STEPS = 4


def shifted_clock(shift: float, time_base) -> tuple[Fraction | None, int]:
    """The clock a file's pictures are stamped on once ``shift`` seconds are taken off their times (``--start``, and
    where the file's clock starts), and the ticks of it ``shift`` is, where ``shift`` is no whole number of the video's
    ``time_base`` ticks (within :data:`ON_TICK`): a whole fraction of it (of at most a thousandth) where it is; else
    ``(None, 0)``, the pictures moved by ``shift`` rounded to their clock. So each picture keeps its time to the sound's
    (was: the sound moved by ``shift``, the pictures by it rounded: an AVI's, whose clock ticks a frame, cut from 0.1 s
    at 25 frames/s, 0.08 s, each picture 0.02 s after its sound).

    >>> shifted_clock(0.1, Fraction(1, 25)), shifted_clock(0.5, Fraction(1, 12800))
    ((Fraction(1, 50), 5), (None, 0))
    >>> shifted_clock(9.978667, Fraction(1, 90000))  # (a transport stream's start, kept to the microsecond)
    (None, 0)
    """
    if not shift or not time_base:
        return None, 0
    ticks = shift / time_base
    if abs(ticks - round(ticks)) * time_base < ON_TICK:
        return None, 0
    ticks = Fraction(ticks).limit_denominator(1000)
    return Fraction(time_base) / ticks.denominator, ticks.numerator


def scaled_size(height: int, width: int, target: int, *, upright: bool = False) -> tuple[int, int] | None:
    """The (height, width) to decode a ``height`` x ``width`` stored picture at so that, turned upright
    (``upright``: it is shown turned by 90°), it is ``target`` pixels high, the other side by its aspect
    and even; None where it is not higher than that already (never enlarged).

    >>> scaled_size(2160, 3840, 1080), scaled_size(1080, 1920, 720), scaled_size(2160, 3840, 1080, upright=True)
    ((1080, 1920), (720, 1280), (608, 1080))
    >>> scaled_size(720, 1280, 1080) is None
    True
    """
    shown_h, shown_w = (width, height) if upright else (height, width)
    if target >= shown_h:
        return None
    new_w = max(2, round(shown_w * target / shown_h / 2) * 2)
    return (new_w, target) if upright else (target, new_w)


class Decoding:
    """:class:`~roadseg.pipeline.sources.file.VideoSource`'s decoding (:meth:`_decode`) and its frames
    (:meth:`_frame`). Its state, set as the source opens (:meth:`_set_up_decoding`): ``decoder``, ``lost``,
    ``_cut_clock`` and ``_cut_ticks`` (:func:`shifted_clock`), ``_drained``, ``decoded``, ``rotation``, ``mirrored``,
    ``_display``, ``unreadable``, ``_size``, ``_stored``, ``height``,
    ``_scaled``, ``cap`` (``--fps``: :class:`FpsCap`) and ``_untimed`` (a raw stream's pictures placed by their count), ``_reordered`` (an AVI's H.264 and
    MPEG-4 pictures at the time they show); and the source's ``path``, ``container``, ``stream``,
    ``origin``, ``end``, ``_shift``, ``dropped``, ``_coded``, ``_numbers``, ``_retimed`` and ``_put_at``."""

    def _set_up_decoding(self, height: int | None, chunked: bool = False, fps: float | None = None) -> None:
        """The decoder, and what decoding counts and finds: pictures lost and decoded, the turn and size of the
        picture (scaled to ``height``), why reading stopped early; ``chunked``: the container joins AVI files
        (--concat); ``fps``: the pictures kept a second (--fps; None: all)."""
        self.lost = 0
        self._cut_clock, self._cut_ticks = shifted_clock(self._shift, self.stream.time_base)  # (the pictures' clock, cut)
        self._drained = False  # whether an empty packet has drained the decoder
        self._went_past = False  # whether a packet past the window's end went into it (_past)
        self.decoder = Decoder(self.stream, self.path, self.container.format, probe=True)  # (follows a change of codec)
        self.decoded = 0
        self.any_out = False  # whether the decoder gave any picture, one before --start too
        self.rotation = 0
        self.mirrored = False  # (where the display matrix flips the picture: a front camera's)
        # the display matrix (rotation, matrix) read off the first picture, and again where its angle changes: read
        # off each, it kept every picture alive until Python's cycle collector ran (PyAV ties a frame whose
        # side_data is read to it: a 4K run held 3.0 GB, 1.25 GB without)
        self._display: tuple[int, tuple[int, ...] | None] | None = None
        self.unreadable: str | None = None  # why reading stopped early, where damaged data broke the demuxer
        self._size: tuple[int, int] | None = None
        self._stored: tuple[int, int] | None = None  # the first picture's size as stored (width, height)
        self.height = height
        self._scaled: tuple[int, int] | None = None  # the stored picture's size to decode at, where --height scales it
        self.cap = FpsCap(fps)  # (the pictures --fps leaves out: before they are converted, not lost)
        # a raw H.264/HEVC stream's pictures, which have no times, placed by their count (at the rate its SPS states,
        # else FFmpeg's 25 frames/s: untimed_rate, the rate its outputs are timed at)
        rate, tb = untimed_rate(self.stream), self.stream.time_base
        self._untimed = Untimed(rate, tb) if rate and tb else None
        # an AVI's H.264 and MPEG-4 pictures, which FFmpeg reads a frame late, at the time they show (by their chunks'
        # numbers)
        self._reordered = Reordered.of(self.container, self.stream, chunked=chunked)
        if self._reordered is not None:
            self.stream.codec_context.copy_opaque = True  # (a packet's opaque, where its picture shows, to its frame)

    def _decode(self, packet: av.Packet) -> list:
        drained = self._drained
        self._drained = drained or not packet.size  # (an empty packet drains the decoder, for good)
        codec = self.decoder.codec  # (the one the packet goes to, where it changes with it)
        past = self._past(packet)  # (past the window's end, not its loss)
        if self._reordered is not None and packet.size and packet.stream is not None:
            self._reordered.take(packet, bytes(packet))
        try:
            frames = self.decoder.decode(packet if packet.stream is not None else None)
        except (av.error.FFmpegError, ValueError):
            # (a second empty packet, after a join's end, finds it drained: no loss; nor is one that holds no picture)
            if (not drained and not packet.size or packet.size and not no_picture(packet, codec)) and not past:
                self.lost += 1  # corrupt data: keep what decodes, count what does not
            if not drained and not packet.size:  # (refused as it was drained: what it held never comes out)
                self.dropped.refused_drain()
            return []
        if packet.size and packet.stream is not None and not packet.is_discard:  # (a picture went in)
            t = None if packet.pts is None else seconds(packet.pts, packet.time_base)
            picture = self._coded.picture(packet, codec)
            if not self.dropped.timed and self._coded.unread:  # (an AVI's picture whose own time was not read)
                picture = None
            self.dropped.went_in(t, codec, picture=picture, own=self._coded.time if codec == "mpeg4" else None)
        frames = [f for f in frames if not stand_in(f, codec)]  # (the decoder's grey stand-in is no picture)
        self.any_out = self.any_out or bool(frames)
        times = [None if f.pts is None or f.time_base is None else float(f.pts * f.time_base) for f in frames]
        # (an interlaced picture may be two fields in two packets: HEVC's, and H.264's but where its slices were all
        # read to be frames, MBAFF; MPEG's field pictures are told by their packets, Coded)
        codec = self.decoder.codec
        framed = codec == "h264" and self._numbers is not None and self._numbers.fields is False
        fields = codec == "hevc" or codec == "h264" and not framed
        self.dropped.came_out(times, codec, fields=fields and any(f.interlaced_frame for f in frames))
        if self._reordered is not None:  # (at the time it shows: Dropped's went by FFmpeg's, as its packets' times)
            self._reordered.stamp(frames)
        if self._untimed is not None:  # (a raw stream's: at their place, for the window and the output)
            self._untimed.stamp(frames)
        return frames

    def _past(self, packet: av.Packet) -> bool:
        """Whether ``packet`` is timed :data:`BEYOND_STEPS` frame steps (:data:`BEYOND` s at most) past --duration's
        end: read on for the window's sound (:data:`~roadseg.pipeline.sources.reading.SOUND_BEHIND`) or for its
        pictures shown after their packets (:data:`~roadseg.pipeline.sources.reading.PAST_END`), a picture of it that
        does not decode is not the window's (was told lost: a window of 25 pictures beside 0.5 s of sound, damage 1.4 s
        past it, '5 of about 30 frames could not be decoded'; then damage 3-7 frames past an mp4's window, read on 10
        pictures: 'mp4-duplicate-2' cut at 0.4-1.2 s told 6 lost of its 20, all out). A drain (no time): where such a
        packet went in before it, the pictures it holds are past the window too."""
        if not packet.size:
            return self._went_past
        t = None if packet.pts is None or packet.time_base is None else seconds(packet.pts, packet.time_base)
        beyond = min(BEYOND, BEYOND_STEPS * self._frame_step) if self._frame_step else BEYOND
        past = self.end is not None and t is not None and t - self.origin >= self.end + beyond
        self._went_past = self._went_past or past
        return past

    def _say_resized(self, vf: av.VideoFrame) -> None:
        """One line, the first time a picture's stored size is not the first's (recordings of two resolutions joined
        with cat, a damaged picture header): it is scaled to the first's, as a live source's is."""
        if self._stored is not None and (vf.width, vf.height) != self._stored:
            log.warning("%s's picture changed size from %dx%d to %dx%d; scaling it to the first size",
                        Path(self.path).name, *self._stored, vf.width, vf.height)  # fmt: skip
            self._stored = None  # (said once)

    def _frame(self, picture: Frame) -> Frame | None:
        """The upright RGB picture of a decoded one (:meth:`_decoded`: its image the ``av.VideoFrame``), at the size
        of the first, at the picture's time (where :class:`InLine` put it, counted); None (counted) if it will not
        convert, or where ``--fps`` leaves it out (counted apart: :class:`FpsCap`)."""
        if not self.cap.keeps(picture.time):
            return None
        vf = picture.image
        rotation = rotation_of(vf)
        if self.height and self._size is None:
            self._scaled = scaled_size(vf.height, vf.width, self.height, upright=rotation in (90, 270))
        try:
            image = rgb_picture(vf, self._scaled, bottom_first(self.stream))
        except (av.error.FFmpegError, ValueError):
            self.lost += 1
            return None
        if self._display is None or self._display[0] != rotation:
            self._display = rotation, matrix_of(vf)
        shown, mirrored = as_shown(image, rotation, self._display[1])
        if shown is not image:
            self.rotation, self.mirrored = rotation, mirrored
            image = np.ascontiguousarray(shown)
        if self._size is None:
            self._size, self._stored = image.shape[:2], (vf.width, vf.height)
        else:  # damaged or changed stream parameters midway: keep the first size
            self._say_resized(vf)
            image = scaled_to(image, self._size)
        pts = picture.pts
        self._retimed += pts != vf.pts or vf.pts in self._put_at  # (put back in line)
        self._put_at.discard(vf.pts)
        tb = vf.time_base
        if pts is not None and self._shift and tb is not None:
            if self._cut_clock is not None and tb == self.stream.time_base:  # (:func:`shifted_clock`)
                pts, tb = pts * round(tb / self._cut_clock) - self._cut_ticks, self._cut_clock
            else:
                pts -= round(self._shift / tb)
        frame = Frame(self.decoded, image, pts, tb)
        self.decoded += 1
        return frame
