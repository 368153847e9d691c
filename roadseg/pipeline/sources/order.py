"""The order a raw stream's pictures show in, read from their packets' bytes (:class:`ShownOrder`): H.264's and HEVC's
picture order count, MPEG-1/2's ``temporal_reference``. A picture's place in a raw stream, which holds no timestamps,
is the pictures before it in that order (:class:`~roadseg.pipeline.sources.untimed.Untimed`): those of the IDR periods
(HEVC's BLA ones too, MPEG's groups of pictures) before its own, counted by their packets, and those of its own that
show before it, by how far its count lies from the period's first (a frame two apart in H.264 as encoders write it),
whether or not they decode. Counted by the pictures out of the decoder alone, one that did not decode (a damaged
packet) put every picture after it a frame early.

Example (MPEG-2: a group of an I-picture and two P-pictures, then one whose B-pictures, decoded after its I-picture,
show before it; the second group's first B-picture lost, its header unread):
    >>> order = ShownOrder("mpeg2video")
    >>> gop, picture = b"\\0\\0\\1\\xb8\\0\\0\\0\\0", lambda tr: b"\\0\\0\\1\\0" + bytes([tr >> 2, (tr & 3) << 6])
    >>> keys = [order.take(b) for b in (gop + picture(0), picture(1), picture(2), gop + picture(2), b"damage",
    ...                                 picture(1))]
    >>> keys[4], [order.place(k) for k in keys if k is not None]  # (the second group's I-picture, its second B-picture)
    (None, [0, 1, 2, 5, 4])
"""

from __future__ import annotations

import contextlib
import math
from collections import deque
from collections.abc import Iterator

from roadseg.pipeline.sources.numbering import HIGH_PROFILES, Bits

#: the pictures read last whose counts give a frame's step (:func:`step_of`), and those of its own a period's step is
#: given by alone (fewer: the periods' before too, as one damaged picture among them is told from their step), and
#: the others that must agree on a step for one picture apart from it to be left out
STEP_WINDOW, OWN_STEP, AGREE = 16, 5, 4


def step_of(apart) -> int:
    """A frame's step in a picture order count, as the pictures read last lie ``apart`` from their periods' first
    (nonzero): their greatest common divisor, or the one of all but one of them where at least :data:`AGREE` others
    agree on a greater one (that one a slice header damaged: its count's low bits garbage, odd where x264's go 2 a
    frame; a stream whose count goes 1 a frame has many odd).

    >>> step_of([6]), step_of([6, 2, 4]), step_of([6, 2, 4, 12, 31]), step_of([8, 4, 2, 1]), step_of([6, 2, 4, 1, 3])
    (6, 2, 2, 1, 1)
    """
    apart = list(apart)
    before, after = [0], [0]  # (the gcds of those before each one, of those after it)
    for a, b in zip(apart, reversed(apart)):
        before.append(math.gcd(before[-1], a))
        after.append(math.gcd(after[-1], b))
    if len(apart) <= AGREE:
        return before[-1]
    return max(math.gcd(before[i], after[len(apart) - 1 - i]) for i in range(len(apart)))


class ShownOrder:
    """Follow a raw stream of ``codec`` packet by packet, in decoding order (:meth:`take`: each packet a picture), and
    give the place of a picture among all of them in the order they show (:meth:`place`). An H.264 stream's periods
    begin at its IDR pictures, its pictures ordered by their picture order count (type 0: its low bits in the slice
    header, the high ones followed from the reference picture before; type 2: in decoding order); an HEVC stream's at
    its IDR and BLA pictures (the high bits followed from the last picture of temporal layer 0 that is neither a
    leading one nor unreferenced: its CRA pictures go on counting); an MPEG-1/2 stream's
    at its group of pictures headers, ordered by its ``temporal_reference`` (10 bits: its wrap followed as a picture
    order count's, from the I- or P-picture before). A stream
    begun mid-period (a DVR's dump begun mid-recording: no IDR picture, its parameter sets read at a later keyframe)
    has its first period begin at its first picture whose count is read, counted from the least count read (those
    before it, unread, all show before that keyframe; those after it that show before it are read before it shows), its
    high bits followed from that first one; so is an HEVC BLA or IDR_W_RADL picture's (its leading pictures). A frame's
    step in the count is its period's: the greatest its pictures read last lie apart by from its first (an encoder's
    picture order count goes 2 a frame; a picture shows once those before it are decoded, so those are read by then),
    but for one of them alone where the others agree on a greater one (:func:`step_of`: a slice header damaged into an
    odd count halved it to the stream's end), those of the periods before counted too while it has read fewer than
    :data:`OWN_STEP` (one damaged among its first so told too; a recording joined to one whose step differs takes its
    own after those). Any other codec's, or a picture whose header cannot be read (damaged, a parameter set not read, a field, picture order count of type 1),
    has no key: None."""

    def __init__(self, codec: str) -> None:
        self.codec = codec
        self.read = 0  # the pictures (packets) taken
        # (the last counts read, from their period's first; how many of them are of the period last begun)
        self._apart: deque[int] = deque(maxlen=STEP_WINDOW)
        self._own = 0
        # (the pictures taken before it, its first's count, whether it floats: begun where it was not opened, the
        # stream cut mid-period, or at an HEVC BLA or IDR_W_RADL picture, whose leading pictures show before it, and
        # its count's step a frame: step_of its last counts, and of the periods' before while it has read few)
        self._periods: list[tuple[int, int | None, bool, int]] = []
        self._sps: dict[int, tuple] = {}  # by id: H.264's (frame_num bits, POC type, its lsb bits, frames alone, a
        # separate colour plane), HEVC's (its POC's lsb bits, a separate colour plane)
        self._pps: dict[int, tuple[int, ...]] = {}  # by id: its sps id (HEVC: and what its slice headers hold)
        # the picture order count's high bits and low ones of the last reference picture (MPEG: its temporal_reference)
        self._msb = self._lsb = 0
        self._anchored = False  # (whether a count was read since the stream's start: its high bits followed from it)
        self.fields = False  # whether a field was read (PAFF: a frame's two fields may come in two packets, which the
        # periods' bases count as two pictures: its keys are then not to be used)

    def take(self, data: bytes) -> tuple[int, int] | None:
        """The (period, count) of the picture in packet ``data``, the next in decoding order; None where unread."""
        self.read += 1
        key = None
        if not self._periods:  # (the stream's start, until a picture opens a period: a stream cut mid-period floats)
            self._period(floating=True)
        with contextlib.suppress(IndexError, ValueError):  # (a header too damaged to read: no key)
            key = self._mpeg(data) if self.codec in ("mpeg1video", "mpeg2video") else self._coded(data)
        if key is None:
            return None
        base, first, floating, step = self._periods[-1]
        if first is None and floating:  # (its first picture read: those before it, unread, show before it)
            base, first = self.read - 1, key
        elif first is None:  # (where an MPEG group's count begins, 0; an IDR picture's)
            first = 0 if self.codec != "h264" else key
        if key != first:
            self._apart.append(abs(key - first))
            self._own += 1
            step = step_of(list(self._apart)[-self._own :] if self._own >= OWN_STEP else self._apart)
        self._periods[-1] = base, min(first, key) if floating else first, floating, step  # (the least read: pictures
        return len(self._periods) - 1, key  # that show before one are read before it shows)

    def parameter_sets(self, data: bytes) -> None:
        """Read the parameter sets in ``data`` (a stream's extradata, Annex B), which is no picture taken."""
        with contextlib.suppress(IndexError, ValueError):
            self._coded(data)

    def place(self, key: tuple[int, int]) -> int:
        """The place of the picture of ``key`` (:meth:`take`'s) in the order the stream's pictures show: the pictures
        of the periods before its own, and the frame steps it lies after its own period's first."""
        period, count = key
        base, first, _, step = self._periods[period]
        return base + max(0, count - (first or 0)) // (step or 1)

    def _period(self, *, floating: bool = False) -> None:
        """The picture taken last begins a period (``floating``: its pictures placed from the least count read in it,
        not from its first's)."""
        if self._periods and self._periods[-1][:2] == (self.read - 1, None):  # (the stream's start, opened here)
            self._periods.pop()
        self._own = 0
        self._periods.append((self.read - 1, None, floating, 0))

    def _mpeg(self, data: bytes) -> int | None:
        at = data.find(b"\0\0\1\0")
        if at < 0:
            return None
        tr, b_picture = data[at + 4] << 2 | data[at + 5] >> 6, (data[at + 5] >> 3 & 7) == 3
        if 0 <= data.find(b"\0\0\1\xb8") < at:  # (a group of pictures' header first: its count from 0)
            self._period()
            self._msb, self._lsb, self._anchored = 0, 0, True
        return self._counted(tr, 10, kept=not b_picture)  # (a group longer than 1024 pictures: on past the wrap)

    def _coded(self, data: bytes) -> int | None:
        return self._h264(data) if self.codec == "h264" else self._hevc(data) if self.codec == "hevc" else None

    def _h264(self, data: bytes) -> int | None:
        for unit in _units(data):
            kind = unit[0] & 0x1F
            if kind == 7:
                self._read_sps(Bits(unit[1:]))
            elif kind == 8:
                bits = Bits(unit[1:16])
                pps = bits.ue()  # (read before its sps id: an assignment evaluates its value first)
                self._pps[pps] = (bits.ue(),)
            elif kind in (1, 5):
                return self._slice(Bits(unit[1:]), idr=kind == 5, ref=bool(unit[0] >> 5 & 3))
        return None

    def _hevc(self, data: bytes) -> int | None:
        for unit in _units(data):
            kind = unit[0] >> 1 & 0x3F
            if kind == 33:
                self._read_hevc_sps(Bits(unit[2:]))
            elif kind == 34:
                bits = Bits(unit[2:16])
                pps = bits.ue()
                self._pps[pps] = (bits.ue(), bits.u(1), bits.u(1), bits.u(3))  # (sps, dependent slices, output flag,
            elif kind <= 9 or 16 <= kind <= 21:  # extra slice header bits) - a picture's slice
                return self._hevc_slice(Bits(unit[2:]), kind, zero=(unit[1] & 7) == 1)
        return None

    def _read_sps(self, bits: Bits) -> None:
        profile = bits.u(8)
        bits.u(16)  # constraint flags, level
        sps, separate = bits.ue(), False
        if profile in HIGH_PROFILES:
            chroma = bits.ue()
            separate = chroma == 3 and bool(bits.u(1))
            bits.ue(), bits.ue(), bits.u(1)  # bit depths, lossless bypass
            if bits.u(1):  # (scaling matrices: not read)
                return
        frame_bits, kind = bits.ue() + 4, bits.ue()
        lsb_bits = bits.ue() + 4 if kind == 0 else 0
        if kind == 1:  # (not followed: its pictures have no key)
            self._sps[sps] = (frame_bits, kind, 0, True, separate)
            return
        bits.ue(), bits.u(1), bits.ue(), bits.ue()  # reference frames, gaps allowed, width, height
        self._sps[sps] = (frame_bits, kind, lsb_bits, bool(bits.u(1)), separate)

    def _slice(self, bits: Bits, *, idr: bool, ref: bool) -> int | None:
        if bits.ue() != 0:  # (first_mb_in_slice: a picture's later slices)
            return None
        bits.ue()  # slice type
        sps = self._sps.get(self._pps.get(bits.ue(), (-1,))[0])
        if sps is None or sps[1] == 1:
            return None
        frame_bits, kind, lsb_bits, frames_alone, separate = sps
        if separate:
            bits.u(2)
        bits.u(frame_bits)  # frame_num
        if not frames_alone and bits.u(1):  # (a field: its two fields' order is not followed)
            self.fields = True
            return None
        if idr:
            bits.ue()  # idr_pic_id
            self._period()
            self._msb, self._lsb, self._anchored = 0, 0, True
        if kind == 2:  # (shown in decoding order: counted from the stream's start, as the pictures taken)
            return 2 * (self.read - 1)
        return self._counted(bits.u(lsb_bits), lsb_bits, kept=ref or idr)

    def _counted(self, lsb: int, lsb_bits: int, *, kept: bool) -> int:
        """The picture order count whose low ``lsb_bits`` are ``lsb``: its high ones followed from the last picture
        kept (``kept``: a reference picture; HEVC's of the lowest temporal layer, not a leading one)."""
        most, msb = 1 << lsb_bits, self._msb
        if not self._anchored:  # (the first count read: the stream cut where no IDR picture opened it)
            self._msb, self._lsb, self._anchored = 0, lsb, True
            return lsb
        if lsb < self._lsb and self._lsb - lsb >= most // 2:
            msb += most
        elif lsb > self._lsb and lsb - self._lsb > most // 2:
            msb -= most
        if kept:
            self._msb, self._lsb = msb, lsb
        return msb + lsb

    def _read_hevc_sps(self, bits: Bits) -> None:
        bits.u(4)  # video parameter set id
        layers = bits.u(3)  # (sub-layers less one)
        bits.u(1 + 96)  # temporal id nesting, the general profile, tier and level
        present = [(bits.u(1), bits.u(1)) for _ in range(layers)]
        bits.u(2 * (8 - layers) if layers else 0)
        for profile, level in present:
            bits.u(88 * profile + 8 * level)
        sps = bits.ue()
        separate = bits.ue() == 3 and bool(bits.u(1))
        bits.ue(), bits.ue()  # width, height
        if bits.u(1):  # conformance window
            _ = [bits.ue() for _ in range(4)]
        bits.ue(), bits.ue()  # bit depths
        self._sps[sps] = (bits.ue() + 4, separate)

    def _hevc_slice(self, bits: Bits, kind: int, *, zero: bool) -> int | None:
        if not bits.u(1):  # (first_slice_segment_in_pic_flag: a picture's later slices)
            return None
        if kind >= 16:  # (an IRAP picture's no_output_of_prior_pics_flag)
            bits.u(1)
        pps = self._pps.get(bits.ue())
        sps = self._sps.get(pps[0]) if pps is not None else None
        if pps is None or sps is None:
            return None
        bits.u(pps[3])  # extra slice header bits
        bits.ue()  # slice type
        bits.u(pps[2] + 2 * sps[1])  # pic_output_flag, colour_plane_id
        if kind in (19, 20):  # (an IDR picture: its count 0, a period begun; an IDR_W_RADL one's leading pictures,
            self._period(floating=kind == 19)  # read after it, count below 0: they show before it)
            self._msb, self._lsb, self._anchored = 0, 0, True
            return 0
        lsb = bits.u(sps[0])
        if 16 <= kind <= 18 or kind == 21 and not self._anchored:  # (a BLA picture, or the first CRA: no high bits)
            self._msb, self._lsb, self._anchored = 0, lsb, True
            if kind != 21:  # (its leading pictures, read after it, show before it)
                self._period(floating=True)
            return lsb
        leading_or_unkept = 6 <= kind <= 9 or kind < 16 and kind % 2 == 0
        return self._counted(lsb, sps[0], kept=zero and not leading_or_unkept)



def _units(data: bytes) -> Iterator[bytes]:
    """The NAL units of an Annex B access unit ``data``, each no more than its first 64 bytes, where the header fields
    read lie (the next start code sought there, then on from there: a slice is not scanned to its end).

    >>> list(_units(b"\\0\\0\\0\\1\\x67\\x42\\0\\0\\1\\x65" + bytes(100) + b"\\0\\0\\1\\x41\\x9a"))[::2]
    [b'gB', b'A\\x9a']
    """
    at = data.find(b"\0\0\1")
    while 0 <= at < len(data) - 3:
        after = data.find(b"\0\0\1", at + 3, at + 67)
        yield data[at + 3 : at + 67 if after < 0 else after]
        at = after if after >= 0 else data.find(b"\0\0\1", at + 65)
