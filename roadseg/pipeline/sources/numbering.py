"""H.264's own count of the pictures it keeps for reference (``frame_num``): a skip in it marks pictures lost.

An encoder numbers each reference picture one on from the last (from 0 at an IDR picture), so a decoder can
tell when one went missing; a camera that holds a picture encodes nothing for it and skips no number. Where
the container marks nothing (Matroska, MP4), that skip is what tells a picture lost from one held
(:class:`~roadseg.pipeline.sources.gaps.Gaps`). Whether a picture is a field (``field_pic_flag``: its two
fields may come in two packets) is read on the way (:class:`~roadseg.pipeline.sources.dropped.Dropped`). Only the
slice header's first fields and the parameter sets are read; a stream whose parameter sets allow gaps
(``gaps_in_frame_num_value_allowed_flag``), or that this cannot read, marks nothing.

Example (pictures of one slice each, a NAL unit with a 4-byte length; frame_num is 4 bits here, 3 is missing):
    >>> numbers = FrameNumbers(None)
    >>> numbers.log2, numbers.lengths = {0: (4, False)}, 4
    >>> numbers.pps = {0: 0}
    >>> slice_ = lambda n: bytes([0, 0, 0, 2, 0x41, 0b1110_0001 | n << 1])  # first_mb 0, a P slice, pps 0, n
    >>> [numbers.skipped(slice_(n)) for n in (1, 2, 4, 5)], numbers.fields  # (frames alone: no field read)
    ([False, False, True, False], False)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

#: profiles whose sequence parameter set carries the chroma format, bit depths and scaling lists
HIGH_PROFILES = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}


class Bits:
    """An H.264 RBSP read bit by bit (emulation prevention bytes taken out; ``rbsp`` False: an MPEG-4 header, as it
    is): fixed-width and Exp-Golomb fields."""

    def __init__(self, data: bytes, *, rbsp: bool = True) -> None:
        self.data = data.replace(b"\0\0\3", b"\0\0") if rbsp else data
        self.pos = 0

    def u(self, n: int) -> int:
        value = 0
        for _ in range(n):
            byte = self.data[self.pos >> 3]  # (IndexError past the end: the caller gives up on the unit)
            value = value << 1 | (byte >> (7 - (self.pos & 7)) & 1)
            self.pos += 1
        return value

    def ue(self) -> int:
        zeros = 0
        while not self.u(1):
            zeros += 1
            if zeros > 31:
                raise ValueError("not an Exp-Golomb code")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


class FrameNumbers:
    """Follow an H.264 stream's ``frame_num`` packet by packet (decode order): :meth:`skipped` says where it
    skips reference pictures. ``extradata`` is the stream's codec private data: an ``avcC`` record (Matroska,
    MP4: NAL units with a length before each) or Annex B (start codes); None or empty, Annex B with the
    parameter sets in the stream. A damaged record gives what it holds before the damage.

    >>> FrameNumbers(bytes([1, 0x64, 0, 0x1F, 0xFF, 0xE1, 0, 80, 0x67])).log2  # an SPS of 80 bytes, cut at 1
    {}
    """

    def __init__(self, extradata: bytes | None) -> None:
        self.lengths = 0  # bytes of each NAL unit's length (avcC), or 0 for start codes
        self.log2: dict[int, tuple[int, bool]] = {}  # sps id: (bits of frame_num, whether it has a separate colour plane)
        self.gaps_allowed: set[int] = set()  # sps ids whose frame_num may skip by design
        self.pps: dict[int, int] = {}  # pps id: its sps id
        self.fielded: set[int] = set()  # sps ids whose pictures may be fields (frame_mbs_only_flag 0, or unread)
        # whether a picture read was a field (PAFF: its two fields may come in two packets); None until the first
        # slice of a picture is read, False while none was
        self.fields: bool | None = None
        self._last: int | None = None  # frame_num of the last reference picture (0 after an IDR)
        if extradata and extradata[0] == 1 and len(extradata) > 6:  # avcC
            self.lengths = (extradata[4] & 3) + 1
            for unit in self._record(extradata):
                self._unit(unit)
        elif extradata:
            for unit in self._units(memoryview(extradata), 0):
                self._unit(unit)

    @staticmethod
    def _record(extradata: bytes) -> list[bytes]:
        """The parameter sets an avcC record holds (those before any damage that cuts it short)."""
        units, at = [], 5
        for mask in (0x1F, 0xFF):  # sequence parameter sets, then picture parameter sets
            if at >= len(extradata):
                break
            count, at = extradata[at] & mask, at + 1
            for _ in range(count):
                size = int.from_bytes(extradata[at : at + 2], "big")
                if at + 2 + size > len(extradata):
                    return units
                units.append(extradata[at + 2 : at + 2 + size])
                at += 2 + size
        return units

    def skipped(self, data) -> bool:
        """Whether the picture in ``data`` (one packet, or a buffer of it) follows a gap in the reference
        pictures' numbers. Its units are read up to its first slice."""
        for unit in self._units(memoryview(data), self.lengths):
            if unit and unit[0] & 0x1F in (1, 5):
                return self._unit(unit)
            self._unit(unit)
        return False

    @staticmethod
    def _units(data: memoryview, lengths: int) -> Iterator[bytes]:
        if not lengths:  # (start codes: each unit runs to the next, its header fields within its first bytes)
            raw = bytes(data)
            at = raw.find(b"\0\0\1")
            while at >= 0:
                after = raw.find(b"\0\0\1", at + 3)
                yield raw[at + 3 : min(at + 3 + 64, len(raw) if after < 0 else after)]
                at = after
            return
        at = 0
        while at + lengths <= len(data):
            size = int.from_bytes(data[at : at + lengths], "big")
            yield bytes(data[at + lengths : at + lengths + min(size, 64)])  # (the header fields read lie within)
            at += lengths + size

    def _unit(self, unit: bytes) -> bool:
        """Take one NAL unit in; True where it begins a picture whose frame_num skips."""
        if not unit:
            return False
        kind, ref = unit[0] & 0x1F, unit[0] >> 5 & 3
        try:
            if kind == 7:
                self._sps(Bits(unit[1:64]))
            elif kind == 8:
                bits = Bits(unit[1:16])
                pps = bits.ue()  # (read before its sps id: an assignment evaluates its value first)
                self.pps[pps] = bits.ue()
            elif kind in (1, 5):
                return self._slice(Bits(unit[1:32]), idr=kind == 5, ref=bool(ref))
        except (IndexError, ValueError):  # (a unit too damaged to read: it marks nothing)
            return False
        return False

    def _sps(self, bits: Bits) -> None:
        profile = bits.u(8)
        bits.u(16)  # constraint flags, level
        sps = bits.ue()
        separate = False
        if profile in HIGH_PROFILES:
            chroma = bits.ue()
            if chroma == 3:
                separate = bool(bits.u(1))
            bits.ue(), bits.ue(), bits.u(1)  # bit depths, lossless bypass
            if bits.u(1):  # scaling matrices
                for i in range(8 if chroma != 3 else 12):
                    if bits.u(1):
                        last = following = 8
                        for _ in range(16 if i < 6 else 64):
                            if following:
                                following = (last + bits.se() + 256) % 256
                            last = following or last
        log2 = bits.ue() + 4
        order = bits.ue()
        if order == 0:
            bits.ue()
        elif order == 1:
            bits.u(1), bits.se(), bits.se()
            for _ in range(bits.ue()):
                bits.se()
        bits.ue()  # reference frames
        if bits.u(1):
            self.gaps_allowed.add(sps)
        else:
            self.gaps_allowed.discard(sps)
        self.log2[sps] = (log2, separate)
        self.fielded.add(sps)  # (until its frame_mbs_only_flag is read: a slice's field_pic_flag follows frame_num)
        bits.ue(), bits.ue()  # width, height
        if bits.u(1):  # frame_mbs_only_flag: frames alone (neither fields nor MBAFF)
            self.fielded.discard(sps)

    def _slice(self, bits: Bits, *, idr: bool, ref: bool) -> bool:
        if bits.ue() != 0:  # (a picture's later slices: its first said it all)
            return False
        bits.ue()  # slice type
        sps = self.pps.get(bits.ue())
        if sps is None or sps not in self.log2:
            return False
        log2, separate = self.log2[sps]
        if separate:
            bits.u(2)
        number = bits.u(log2)
        last, skipped = self._last, False
        if idr:
            last = None
        elif last is not None and sps not in self.gaps_allowed:
            skipped = number not in (last, (last + 1) % (1 << log2))
        if ref or idr:
            self._last = 0 if idr else number
        if not self.fields:  # (field_pic_flag, where the sequence allows fields; a slice cut short tells nothing)
            with contextlib.suppress(IndexError):
                self.fields = sps in self.fielded and bool(bits.u(1))
        return skipped
