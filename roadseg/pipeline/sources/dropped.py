"""Pictures a decoder dropped without a word (:class:`Dropped`, kept by
:class:`~roadseg.pipeline.sources.file.VideoSource`): their packets reached it, so no step in the timestamps counts them
(:class:`~roadseg.pipeline.sources.gaps.Gaps`); the codecs whose decoders drop so are :data:`DROPS_SILENTLY`.
"""

from __future__ import annotations

import math  # noqa: F401 - (the doctests' math.inf)
from collections import deque

#: codecs whose decoder gives no picture for a packet of one only where it could not be decoded: FFmpeg's H.264
#: and HEVC decoders drop a picture whose reference pictures are missing, without an error; MPEG-1/2's the
#: pictures before the first I-picture, MPEG-4 part 2's a B-picture read after the picture that follows it.
#: (An MPEG-4 picture not coded, a camera's picture held, rightly gives none: it is no picture, :mod:`coded`)
DROPS_SILENTLY = frozenset({"h264", "hevc", "mpeg1video", "mpeg2video", "mpeg4"})
#: frames out whose times are kept, that a packet at one of them is a copy of (:class:`Dropped`): a chunk of the file
#: written twice comes a few pictures after the first (as :data:`~roadseg.pipeline.sources.gaps.OUT_OF_ORDER`'s seconds
#: at 60 frames/s)
COPIED = 240


class Dropped:
    """Pictures whose packets reached the decoder but that never came out of it, and that it raised no error for:
    FFmpeg's H.264 decoder drops a picture whose reference pictures are missing (chunks of the file swapped, a
    reference picture's packet damaged) without a word, as its MPEG decoders do (:data:`DROPS_SILENTLY`). They
    have packets where they belong, so no step in the timestamps (:class:`~roadseg.pipeline.sources.gaps.Gaps`) counts
    them, and the packets the decoder refused are counted where they were.

    A picture is known by its presentation time: one whose packet went in and that no frame came out at, the
    decoder drained at the end (its reorder delay is none then), was dropped. A packet at the time of a frame
    that came out already, or of one gone in, is a copy (a chunk of the file written twice: the decoder drops it
    as a picture it has), not one more picture. A packet without a time is none either: where damage splits a
    transport stream's picture in two, its parser gives the second part without one, and the frame comes out of
    it, without a time too (from a PES whose header was lost). So a frame that comes out without a time, or at one
    no picture waits at, may be any picture waiting: those are one fewer, as is a drain the decoder refused (the
    error, counted as one picture lost, was of one it held: :meth:`refused_drain`); beyond those waiting, such a frame
    is of a picture told lost already, and takes one off those (:meth:`count`). A packet that holds no picture
    to come out (an MPEG-4 picture not coded) waits for none. Counted where they lie in ``window``; not where the
    codec changed midway (the new decoder decodes again the packets since the keyframe), nor where a picture may
    be two fields, or a packet two pictures (which frame is whose is not known): interlaced H.264 frames but where
    its slices say each picture is a frame (MBAFF, not PAFF), HEVC's, an MPEG-2 field picture, DivX's packed
    B-frames. Where a packet's timestamp is not its picture's time (``timed`` False: an AVI's count its chunks, so
    a chunk written twice takes times of its own, and its copies that the decoder drops would wait, as its frames
    come out numbered in turn), MPEG-4 part 2's pictures are counted by the time each holds in its start codes
    (``own``: a copy's is its picture's, :class:`~roadseg.pipeline.sources.coded.Coded`) and the frames out by
    their number; other codecs' not at all.

    >>> dropped = Dropped((0.0, math.inf))
    >>> for t, out in [(0.00, [0.00]), (0.04, []), (0.08, [0.04]), (0.12, []), (0.16, []), (0.08, []), (0.20, []),
    ...                (None, [None])]:  # (0.12 dropped; 0.08 written twice; 0.20's picture split, out without a time)
    ...     dropped.went_in(t, "h264")
    ...     dropped.came_out(out, "h264")
    >>> dropped.came_out([0.08, 0.16], "h264")  # (drained)
    >>> dropped.count()
    1
    """

    def __init__(self, window: tuple[float, float], *, timed: bool = True) -> None:
        self.window = window  # (seconds on the one timeline, as :class:`~roadseg.pipeline.sources.gaps.Gaps`'s)
        self.timed = timed
        self._waiting: set[float] = set()  # the times of pictures gone in that no frame came out at yet
        self._out: deque[float] = deque(maxlen=COPIED)  # the times of the last frames out (their copies may follow)
        self._unmatched = 0  # frames out without a time, or at one no picture waited at
        self._refused = 0  # drains the decoder refused (each the error of a picture waiting, where one waits)
        self._codec: str | None = None  # the codec the first packet was decoded by
        self._counts = True  # (no longer where the codec changed or a picture may be two fields)
        # not timed: the own times of the last pictures gone in (their copies may follow), and the pictures and the
        # frames counted in the window
        self._own: deque[tuple[int, int]] = deque(maxlen=COPIED)
        self._in = self._came = 0

    def _within(self, t: float | None) -> bool:
        return t is None or self.window[0] - 1e-6 <= t < self.window[1] - 1e-6  # (without a time: in any)

    def went_in(self, t: float | None, codec: str, *, picture: bool | None = True,
                own: tuple[int, int] | None = None) -> None:  # fmt: skip
        """A packet decoded by ``codec``, to be shown at ``t`` seconds (None: unknown): whether it holds a picture
        that gives a frame (:class:`~roadseg.pipeline.sources.coded.Coded`; False: none, None: unknown), and, not
        timed, the time its picture holds (MPEG-4 part 2's: None, not read)."""
        self._codec = self._codec or codec
        self._counts = self._counts and codec == self._codec and picture is not None
        if not self.timed:
            self._counts = self._counts and (own is not None or not picture)
            if picture and own is not None and own not in self._own and self._within(t):
                self._in += 1
            if picture and own is not None:
                self._own.append(own)
            return
        if picture and t is not None and self._within(t) and t not in self._out:
            self._waiting.add(t)

    def came_out(self, times: list[float | None], codec: str, *, fields: bool = False) -> None:
        """Frames shown at ``times`` came out of the decoder, which is now of ``codec``; ``fields``: whether one
        may be two fields each come in a packet of its own."""
        self._counts = self._counts and codec == self._codec and not fields
        if not self.timed:
            self._came += sum(1 for _ in filter(self._within, times))
            return
        for t in filter(self._within, times):
            if t in self._waiting:
                self._waiting.remove(t)
            else:
                self._unmatched += 1
            self._out.append(t)

    def refused_drain(self) -> None:
        """The decoder raised as it was drained (a threaded one's error of a picture it held): the pictures it held
        never come out and wait here, the one that error is counted for among them (one fewer)."""
        self._refused += 1

    def count(self, told: int = 0) -> int:
        """The pictures dropped, the decoder drained, where ``told`` were counted lost already (packets the decoder
        refused, holes in the stamps: :class:`~roadseg.pipeline.sources.gaps.Gaps`): the frames out that no picture
        waited at beyond those waiting are of pictures told lost (a packet the decoder refused, and still gave a
        concealed frame for; a picture whose stamp was lost, or damaged to another's, which left a hole), and take as
        many off them: negative. A drain refused takes one off the pictures waiting only, where one waits (its error is
        no frame out).

        >>> dropped = Dropped((0.0, math.inf))  # (0.04 refused, counted lost, and out all the same; then 0.08)
        >>> for t, out in [(0.00, [0.00]), (0.08, [0.04, 0.08])]:
        ...     dropped.went_in(t, "h264")
        ...     dropped.came_out(out, "h264")
        >>> dropped.count(told=1)
        -1
        """
        if not self._counts or self._codec not in DROPS_SILENTLY or not self.timed and self._codec != "mpeg4":
            return 0
        if not self.timed:  # (the pictures gone in less the frames out: those beyond them are of pictures told lost)
            waiting = self._in - self._came
            return max(-told, waiting - min(self._refused, max(0, waiting)))
        waiting = len(self._waiting) - min(self._refused, len(self._waiting))
        return max(-told, waiting - self._unmatched)
