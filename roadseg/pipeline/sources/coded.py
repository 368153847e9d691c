"""Whether a video packet holds a picture its decoder must give a frame for, read from its start codes: what
:class:`~roadseg.pipeline.sources.dropped.Dropped` waits for. MPEG-1 and MPEG-2 give a frame for each picture, but a
field picture's two fields may come in two packets; an MPEG-4 part 2 picture not coded (``vop_coded`` 0: a
camera's picture held, an encoder's frame skipped) rightly gives none, and a packet of two pictures (DivX's packed
B-frames) gives its second a packet later. H.264's and HEVC's packets are each taken for a picture (where one
may be a field is told by the frames out, and H.264's slices: :mod:`numbering`).

Example (an MPEG-4 stream whose pictures' times take 5 bits: a picture coded, then one not coded):
    >>> coded = Coded(None)
    >>> coded.increment = 5
    >>> vop = lambda flag: b"\\0\\0\\1\\xb6" + bytes([0b01_0_1_0000, 0b1_1_00_0000 | flag << 5])
    >>> coded.picture(vop(1), "mpeg4"), coded.picture(vop(0), "mpeg4"), coded.picture(vop(1) * 2, "mpeg4")
    (True, False, None)
"""

from __future__ import annotations

from roadseg.pipeline.sources.numbering import Bits

#: MPEG start codes' last byte: a picture (MPEG-1/2), an extension (MPEG-2), a VOP, a group of VOPs and a video
#: object layer's range (MPEG-4 part 2)
PICTURE, EXTENSION, VOP, GOV, LAYERS = 0x00, 0xB5, 0xB6, 0xB3, range(0x20, 0x30)
#: an MPEG-4 B-VOP's coding type
B_VOP = 2
#: MPEG-2's picture coding extension, and the picture structure of a frame (not a field)
CODING_EXTENSION, FRAME = 8, 3
#: JPEG's start-of-image, start-of-scan and end-of-image markers: an MJPEG picture's, one at least where damaged
JPEG_MARKERS = (b"\xff\xd8", b"\xff\xda", b"\xff\xd9")
#: codecs whose FFmpeg decoder, given a P-picture whose reference is missing (a stream begun mid-GOP, a DVR's dump
#: begun mid-recording), makes a grey one to stand in for it and, with B-frames, gives that out as a frame of its own,
#: of no picture type (:func:`stand_in`)
STANDS_IN = frozenset({"mpeg4"})


def no_picture(data, codec: str) -> bool:
    """Whether a video packet's ``data`` holds nothing of a picture of ``codec``, so that its decoder's refusing it
    loses none: an MJPEG packet with none of JPEG's markers (an AVI whose damaged index points at its own entries
    as chunks: `avi-fields-19`, 16 of them refused, told 16 lost where 1 picture was missing). Other codecs: False
    (an MPEG-4 picture's one start code may be the damaged part of it).

    >>> entries = b"01wb\\x10\\0\\0\\0\\x1a[\\x06\\0\\x92\\r\\0\\0"  # (an index entry: a chunk's id, flags, place, size)
    >>> no_picture(entries * 2, "mjpeg"), no_picture(b"\\xff\\xd8\\xff\\xdb", "mjpeg"), no_picture(entries, "mpeg4")
    (True, False, False)
    """
    return codec == "mjpeg" and not any(marker in bytes(data) for marker in JPEG_MARKERS)


def stand_in(frame, codec: str) -> bool:
    """Whether a ``frame`` (``av.VideoFrame``) out of the decoder of ``codec`` is no picture of the stream: the grey
    one FFmpeg's MPEG-4 part 2 decoder made to stand in for the missing reference of the first P-picture of a stream
    begun mid-GOP, given out (with B-frames, the picture before the one decoded comes out) without a picture type,
    as no picture it decodes is. Counted, it was one frame more than the stream's pictures and put every picture a
    frame late in a raw stream (a raw .m4v dump of 80 pictures: "... of about 81 frames could not be decoded").

    >>> from types import SimpleNamespace as S
    >>> stand_in(S(pict_type=0), "mpeg4"), stand_in(S(pict_type=2), "mpeg4"), stand_in(S(pict_type=0), "h264")
    (True, False, False)
    """
    return codec in STANDS_IN and int(frame.pict_type) == 0  # (AV_PICTURE_TYPE_NONE)


def _codes(data: bytes) -> list[tuple[int, int]]:
    """(the byte after each start code ``00 00 01``, where the code ends) in ``data``."""
    found, at = [], data.find(b"\0\0\1")
    while 0 <= at < len(data) - 3:
        found.append((data[at + 3], at + 4))
        at = data.find(b"\0\0\1", at + 3)
    return found


class Coded:
    """Read a stream's packets in decode order: :meth:`picture` says whether each holds a picture that must come
    out of the decoder. ``extradata`` is the stream's codec private data (an MPEG-4 one's video object layer, which
    says how many bits a picture's time takes; a transport stream's comes in its packets).

    An MPEG-4 picture's own time (:attr:`time`): a B-picture counts its whole seconds on from the reference picture
    before the last, shown before it (an I-picture at 0 s + 24/25, a P-picture 1 s on, the B-picture between):

    >>> coded = Coded(None)
    >>> coded.increment = 5
    >>> def vop(kind, on, increment):  # (coded, and stuffed to the next byte)
    ...     bits = f"{kind:02b}" + "1" * on + "0" + "1" + f"{increment:05b}" + "1" + "1"
    ...     return b"\\0\\0\\1\\xb6" + int(bits + "0" * (-len(bits) % 8), 2).to_bytes(-(-len(bits) // 8), "big")
    >>> [coded.picture(vop(*v), "mpeg4") and coded.time for v in [(0, 0, 24), (1, 1, 2), (2, 1, 0), (1, 0, 5)]]
    [(0, 24), (1, 2), (1, 0), (1, 5)]

    >>> picture, frame, top_field = b"\\0\\0\\1\\0\\0\\0", b"\\0\\0\\1\\xb5\\x8f\\xff\\xf3", b"\\0\\0\\1\\xb5\\x8f\\xff\\xf1"
    >>> [Coded(None).picture(data, "mpeg2video") for data in (picture + frame, picture + top_field, picture * 2, frame)]
    [True, None, None, False]
    """

    def __init__(self, extradata: bytes | None) -> None:
        self.increment: int | None = None  # bits of an MPEG-4 picture's vop_time_increment (its layer's)
        # the last MPEG-4 picture's own time, (whole seconds, vop_time_increment), as its decoder counts it (None:
        # not read): a chunk of an AVI written twice is stamped anew by its number, but its picture keeps this
        self.time: tuple[int, int] | None = None
        self.unread = False  # whether the last packet's VOP could not be read (damaged: its time not known)
        self.b_picture = False  # whether the last MPEG-4 picture read is a B-picture (shown before the one read before)
        self._seconds = (0, 0)  # the whole seconds of the reference pictures (I, P) before and last, in decode order
        if extradata:
            self._layers(bytes(extradata))

    def picture(self, data, codec: str) -> bool | None:
        """Whether the packet's ``data`` holds a picture that gives a frame (True) or none (False: an MPEG-4
        picture not coded, or no picture at all); None where it cannot be told by one packet: an MPEG-2 field
        picture, two pictures in one packet, or MPEG-4 whose layer was not read. Other codecs: True."""
        if codec in ("mpeg1video", "mpeg2video"):
            return self._mpeg2(bytes(data))
        if codec == "mpeg4":
            return self._mpeg4(bytes(data))
        return True

    @staticmethod
    def _mpeg2(data: bytes) -> bool | None:
        codes = _codes(data)
        for code, end in codes:  # (a picture coding extension: its structure, in its third byte's last two bits)
            if code == EXTENSION and end + 3 <= len(data) and data[end] >> 4 == CODING_EXTENSION:
                if data[end + 2] & 3 != FRAME:
                    return None
        pictures = sum(code == PICTURE for code, _ in codes)
        return None if pictures > 1 else bool(pictures)  # (two in one packet: which frame is whose is not known)

    def _mpeg4(self, data: bytes) -> bool | None:
        self._layers(data)
        self.time, self.unread, self.b_picture = None, False, False
        codes = _codes(data)
        for code, end in codes:  # (a group of VOPs: its time code's whole seconds are those the next picture counts on from)
            if code == GOV and end + 3 <= len(data):
                bits = Bits(data[end : end + 3], rbsp=False)
                hours, minutes, marker, secs = bits.u(5), bits.u(6), bits.u(1), bits.u(6)
                if marker:
                    self._seconds = (self._seconds[0], secs + 60 * (minutes + 60 * hours))
        vops = [end for code, end in codes if code == VOP]
        if len(vops) > 1 or vops and self.increment is None:
            return None
        if not vops:
            self.unread = not codes  # (no start code at all: a picture whose own was damaged)
            return False
        try:
            bits = Bits(data[vops[0] : vops[0] + 16], rbsp=False)
            kind, on = bits.u(2), 0
            self.b_picture = kind == B_VOP
            while bits.u(1):  # modulo_time_base: whole seconds on (a B-picture's from the reference before the last)
                on += 1
            marker, increment, marker2 = bits.u(1), bits.u(self.increment), bits.u(1)
            before, last = self._seconds
            if kind != B_VOP:
                self._seconds = (last, last + on)
            self.time = ((before if kind == B_VOP else last) + on, increment) if marker and marker2 else None
            self.unread = self.time is None
            return bool(marker and marker2 and bits.u(1))  # vop_coded (damaged markers: none told)
        except IndexError:
            self.unread = True
            return False

    def _layers(self, data: bytes) -> None:
        """Read the bits of a picture's time from each MPEG-4 video object layer header in ``data``."""
        for code, end in _codes(data):
            if code not in LAYERS:
                continue
            try:
                bits = Bits(data[end : end + 32], rbsp=False)
                bits.u(9)  # random_accessible_vol, video_object_type_indication
                verid = 1
                if bits.u(1):  # is_object_layer_identifier: its verid and priority
                    verid = bits.u(4)
                    bits.u(3)
                if bits.u(4) == 15:  # aspect_ratio_info: extended, its width and height
                    bits.u(16)
                if bits.u(1) and (bits.u(4) & 1):  # vol_control_parameters: chroma, low_delay, vbv_parameters
                    bits.u(79)
                if bits.u(2) == 3 and verid != 1:  # video_object_layer_shape: grayscale, its extension
                    bits.u(4)
                marker, resolution, marker2 = bits.u(1), bits.u(16), bits.u(1)
                if marker and marker2 and resolution:  # (vop_time_increment_resolution: bits up to it, less 1)
                    self.increment = max(1, (resolution - 1).bit_length())
            except IndexError:
                continue
