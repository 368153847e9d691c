"""A raw video stream's pictures placed by their count (:class:`Untimed`, kept by
:class:`~roadseg.pipeline.sources.file.VideoSource`). Such a stream (``.h264``, ``.hevc``, as some DVRs record; or
several joined by ``--concat``; ``.m2v``, raw MPEG-4, MJPEG) holds no timestamps, and FFmpeg's demuxer gives H.264's
and HEVC's none (their packets' and pictures' ``pts`` are None) and refuses a seek in them (the others' are its parser's
guesses, dropped: :data:`UNTIMED_FORMATS`). Its one rate is the one its header states, else FFmpeg's 25 frames/s
(:func:`~roadseg.pipeline.sources.framerates.untimed_rate`), and ``--start`` and ``--duration`` count its pictures at
that rate: the stream is read up to ``--start`` (its packets by their count in the file, those before the last
keyframes not decoded), and each picture out of the decoder is stamped at its place, which every output keeps.
(Was: no picture had a time, so ``--start 1`` kept none, 'no video frames after --start 1s', after a warning that
the file cannot be sought, and ``--duration`` kept them all.)

Example (a picture every 0.04 s, on FFmpeg's 1/1200000 s clock of a raw stream):
    >>> from fractions import Fraction
    >>> untimed = Untimed(Fraction(25), Fraction(1, 1200000))
    >>> [untimed.read() for _ in range(3)], untimed.skip(2), untimed.at(0), untimed.at(1)
    ([0.0, 0.04, 0.08], None, 96000, 144000)
    >>> untimed.window(1.0, 2.0, pictures=50), untimed.window(1.0, None, pictures=30), untimed.window(0.5, 1.5)
    (25, 5, 25)
"""

from __future__ import annotations

import math
from fractions import Fraction

from roadseg.pipeline.sources.coded import Coded
from roadseg.pipeline.sources.order import ShownOrder
from roadseg.pipeline.sources.reordered import VopOrder

#: FFmpeg's demuxers of raw video elementary streams, which hold no timestamps and whose header's rate
#: (``average_rate``) is the demuxer's ``-framerate``, 25: H.264's and HEVC's packets have none, and other codecs'
#: have those FFmpeg's parser guesses from their first packets, dropped (:meth:`~roadseg.pipeline.sources.firsts.
#: FirstPictures._demux`: raw MPEG-2's began a frame late, raw MPEG-1's skipped a frame once its probe ended)
UNTIMED_FORMATS = frozenset("h264 hevc vvc evc mpegvideo m4v h261 h263 vc1 cavsvideo avs2 avs3 dirac mjpeg mjpeg_2000 "
                            "dnxhd ingenient".split())
#: H.264's and HEVC's NAL unit types of a picture's slices, and those of an IDR picture's (HEVC's: with decodable
#: leading pictures, or none)
SLICES = {"h264": range(1, 6), "hevc": range(32)}
IDR = {"h264": (5,), "hevc": (19, 20)}


#: codecs whose pictures' order shown their packets say (:class:`~roadseg.pipeline.sources.order.ShownOrder`; MPEG-4
#: part 2's by each picture's own time, :class:`~roadseg.pipeline.sources.reordered.VopOrder`)
ORDERED = frozenset({"h264", "hevc", "mpeg1video", "mpeg2video", "mpeg4"})
#: intra-only codecs, whose every picture begins those after it: a raw stream of them is decoded from the one before
#: ``--start``, as from an IDR (:func:`idr`; not H.261/H.263, without B-pictures, whose raw parser takes every picture
#: for a keyframe: decoded from their start)
WHOLE_KEYFRAMES = frozenset("mjpeg jpeg2000 dnxhd".split())


def idr(data: bytes, codec: str) -> bool:
    """Whether a raw stream's keyframe ``data`` (a packet) of ``codec`` begins its pictures: an Annex B access unit's
    IDR picture (its first slice's NAL unit type), an MPEG-1/2 I-picture first in its group's order (its
    ``temporal_reference`` 0), any keyframe of :data:`WHOLE_KEYFRAMES`. The pictures after one in decoding order all
    show after it, so a raw stream's pictures are placed by their count from one (:class:`Untimed`); not from another
    keyframe (FFmpeg's: an H.264 I-picture with a recovery point, an HEVC CRA, an open MPEG-2 group's I-picture after
    its B-pictures), whose leading pictures show before it and, decoded from it, are dropped (an x265 stream cut with
    ``--start`` placed its pictures a frame early). Another codec's stream is decoded from its start.

    >>> aud, sps, start = b"\\0\\0\\0\\1\\x09\\xf0", b"\\0\\0\\0\\1\\x67\\x42", b"\\0\\0\\1"
    >>> idr(aud + sps + start + b"\\x65\\x88", "h264"), idr(start + b"\\x41\\x9a", "h264")
    (True, False)
    >>> idr(start + b"\\x26\\x01", "hevc"), idr(start + b"\\x2a\\x01", "hevc")  # (an IDR; a CRA)
    (True, False)
    >>> gop = start + b"\\xb8\\0\\x08\\0\\0"  # (an I-picture first shown; one after 2 B-pictures)
    >>> idr(gop + start + b"\\0\\0\\x0f", "mpeg2video"), idr(gop + start + b"\\0\\x80\\x0f", "mpeg2video")
    (True, False)
    >>> idr(b"\\xff\\xd8", "mjpeg"), idr(start + b"\\xb6", "mpeg4")
    (True, False)
    """
    if codec in WHOLE_KEYFRAMES:
        return True
    if codec in ("mpeg1video", "mpeg2video"):  # (its first picture header: 10 bits of temporal_reference)
        at = data.find(b"\0\0\1\0")
        return 0 <= at < len(data) - 5 and (data[at + 4] << 2 | data[at + 5] >> 6) == 0
    slices, at = SLICES.get(codec), data.find(b"\0\0\1")
    while slices is not None and 0 <= at < len(data) - 3:
        header = data[at + 3]
        kind = header & 0x1F if codec == "h264" else header >> 1 & 0x3F
        if kind in slices:
            return kind in IDR[codec]
        at = data.find(b"\0\0\1", at + 3)
    return False


class Untimed:
    """The place of a raw stream's pictures at ``rate`` frames/s, in ticks of ``time_base``: the video packets read
    (:meth:`read`, in decoding order, while the stream is read up to ``--start``), those of them never decoded
    (:meth:`skip`) and the pictures out of the decoder, in presentation order (:meth:`stamp`). A picture's place is
    where it shows among all the stream's packets, as its bytes say (:meth:`take`: H.264's and HEVC's picture order
    count, MPEG's ``temporal_reference``, :class:`~roadseg.pipeline.sources.order.ShownOrder`; MPEG-4 part 2's own
    time, :class:`~roadseg.pipeline.sources.reordered.VopOrder`), so that a packet that does not decode leaves its place
    empty (a raw MPEG-4 dump begun at a B-picture, which its decoder gives no frame for, put every picture after it a
    frame early); where they say none (another codec, a field), the packets never decoded
    and the pictures before it: decoding starts at a keyframe, which, in a closed group of pictures, as cameras
    write, follows as many pictures as packets (a packet that does not decode puts the pictures after it a frame
    early)."""

    def __init__(self, rate: Fraction, time_base: Fraction) -> None:
        self.rate, self.time_base = Fraction(rate), Fraction(time_base)
        self._read = self._skipped = self._out = 0
        self._order: ShownOrder | VopOrder | None = None
        self._coded = Coded(None)  # (which packets of a codec not ORDERED, or MPEG-4's, hold a picture: take)
        self._taken = 0  # those packets

    def take(self, packet, codec: str) -> None:
        """A video ``packet`` (``av.Packet``) of ``codec`` read, in decoding order, every one of the stream, decoded or
        not: where its bytes say where its picture shows (:class:`~roadseg.pipeline.sources.order.ShownOrder`), that
        key is kept as its ``opaque``, which the decoder hands on to its frame (``copy_opaque``) for :meth:`stamp`."""
        if codec == "mpeg4" or codec not in ORDERED:  # (a packet a picture, but an MPEG-4 picture not coded: held)
            self._taken += self._coded.picture(bytes(packet), codec) is not False
        if codec not in ORDERED:
            return
        if self._order is None:
            self._order = VopOrder(None) if codec == "mpeg4" else ShownOrder(codec)
        if (key := self._order.take(bytes(packet))) is not None:
            packet.opaque = key

    def read(self) -> float:
        """The time (seconds from the stream's start) of the video packet read now, by the packets read before it."""
        self._read += 1
        return (self._read - 1) / float(self.rate)

    def skip(self, packets: int) -> None:
        """Count ``packets`` read and left undecoded (before the keyframe before ``--start``'s)."""
        self._skipped += packets

    def at(self, n: int) -> int:
        """The timestamp (ticks of ``time_base``) of the picture ``n`` places after the last undecoded packet."""
        return round((self._skipped + n) / self.rate / self.time_base)

    def stamp(self, frames: list) -> None:
        """Give the decoded ``frames`` (``av.VideoFrame``, in order) their place: where its packet's bytes said
        (:meth:`take`), else by their count; over any time FFmpeg's parser guessed for them (a raw MPEG-2 stream's,
        played live: a frame late, raw MPEG-1's a frame on where FFmpeg's probe ended, recorded off the count that
        paced them, two pictures 0.002 s apart)."""
        for vf in frames:
            if vf.time_base is not None:
                key = vf.opaque if self._ordered() else None
                place = self._skipped + self._out if key is None else self._order.place(key)
                vf.pts = round(place / self.rate / self.time_base)
            self._out += 1

    @property
    def pictures(self) -> int:
        """The pictures placed so far: those out of the decoder and those before them never decoded, or the packets
        taken (:meth:`take`), those that did not decode among them (a raw MPEG-4 dump begun mid-GOP: its first
        B-pictures, their references missing, give no frame; was: "... of about 78" of its 80 pictures)."""
        packets = self._order.read if self._ordered() and isinstance(self._order, ShownOrder) else self._taken
        return max(self._skipped + self._out, packets)

    def _ordered(self) -> bool:
        """Whether the pictures are placed where their bytes say: not where a field was read (its packets count two
        pictures for a frame whose fields came in two: placed by their count, as the pictures before it, keyed or
        not, were in a stream whole so far)."""
        return self._order is not None and not self._order.fields

    def window(self, start: float, end: float | None, pictures: int | None = None) -> int | None:
        """The pictures placed from ``start`` to ``end`` seconds (None: the stream's end), of a stream of ``pictures``
        (None: not known, read no further than ``end``); None where neither bounds it."""
        first = math.ceil(start * self.rate - 1e-6)
        last = pictures if end is None else math.ceil(end * self.rate - 1e-6)
        if last is None:
            return None
        return max(0, (last if pictures is None else min(last, pictures)) - first)
