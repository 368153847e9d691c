"""An AVI's H.264 and MPEG-4 part 2 pictures at the time they show (:class:`Reordered`, kept by
:class:`~roadseg.pipeline.sources.file.VideoSource`'s decoding). An AVI holds no presentation times: its timestamps
number its chunks, in decoding order (a picture held, an empty chunk, is no packet: the next one's number steps over
it), and FFmpeg guesses H.264's a frame on, as if delayed (its parser's, where no HRD timing SEI says otherwise): every
picture 0.04 s late at 25 frames/s against the sound, which starts at 0, and, with B-frames, each picture at its own
chunk's number, not in the order they show (0.04, 0.16, 0.12, 0.2, 0.08 ...). Each picture is shown at its own chunk's
number moved by as many frames as it shows after (or before) where it is decoded, as its bytes say
(:class:`~roadseg.pipeline.sources.order.ShownOrder`: H.264's picture order count; :class:`VopOrder`: MPEG-4 part 2's
own time, which FFmpeg reads a frame late too where it has B-frames, at its place without); one whose header cannot be
read (a field, damage) at its own chunk's number. (MJPEG is read at its place: not taken here.)

Example (MPEG-2's bytes, which say the order shown as H.264's do: an I-picture shown first, a P-picture decoded
before the B-picture it shows after; chunks numbered 0, 1, 2, FFmpeg's guesses one on; frames out in the order shown):
    >>> from types import SimpleNamespace as S
    >>> gop, picture = b"\\0\\0\\1\\xb8\\0\\0\\0\\0", lambda tr: b"\\0\\0\\1\\0" + bytes([tr >> 2, (tr & 3) << 6])
    >>> reordered, packets = Reordered("mpeg2video", None), [S(dts=n, duration=1, opaque=None) for n in range(3)]
    >>> for packet, data in zip(packets, (gop + picture(0), picture(2), picture(1))):
    ...     reordered.take(packet, data)
    >>> frames = [S(pts=p.dts + 1, time_base=1, opaque=p.opaque) for p in (packets[0], packets[2], packets[1])]
    >>> reordered.stamp(frames)
    >>> [f.pts for f in frames]
    [0, 1, 2]
"""

from __future__ import annotations

from collections import deque

from roadseg.pipeline.sources.coded import Coded
from roadseg.pipeline.sources.order import ShownOrder

#: codecs FFmpeg reads from an AVI a frame late (MPEG-4 part 2: where it has B-frames), whose pictures' order shown
#: their packets say
REORDERED = frozenset({"h264", "mpeg4"})
#: the last pictures taken that a picture's place is read among (:class:`VopOrder`): those decoded after it that show
#: before it, and before it that show after it, lie within a B-frame run or two of it
NEAR = 64
#: an MPEG-4 part 2 picture's (VOP's) start code
VOP_CODE = b"\0\0\1\xb6"


class Reordered:
    """The time an AVI's pictures of ``codec`` show, in ticks of its stream's time base (a chunk's): each packet taken
    in decoding order (:meth:`take`), each frame out stamped (:meth:`stamp`). ``extradata``: the stream's parameter
    sets, where they are Annex B (else read from the packets, as an AVI's H.264 holds them), or MPEG-4's video object
    layer."""

    def __init__(self, codec: str, extradata: bytes | None) -> None:
        self._order: ShownOrder | VopOrder = VopOrder(extradata) if codec == "mpeg4" else ShownOrder(codec)
        self._near: deque[tuple[int, int, int]] = deque(maxlen=NEAR)  # (H.264's: taken, period, picture order count)
        if isinstance(self._order, ShownOrder) and extradata and bytes(extradata).startswith((b"\0\0\1", b"\0\0\0\1")):
            self._order.parameter_sets(bytes(extradata))

    @classmethod
    def of(cls, container, stream, *, chunked: bool = False) -> Reordered | None:
        """One for video ``stream`` where it is of :data:`REORDERED` in an AVI ``container`` (``chunked``: one that
        joins AVI files, --concat); else None."""
        codec = stream.codec_context
        if not (chunked or container.format.name == "avi") or codec is None or codec.name not in REORDERED:
            return None
        return cls(codec.name, codec.extradata)

    def take(self, packet, data: bytes) -> None:
        """A video ``packet`` (``av.Packet``, its bytes ``data``) going to the decoder, in decoding order: its chunk's
        number, its place in decoding order and where its picture shows are kept as its ``opaque``, which the decoder
        hands on to its frame (``copy_opaque``)."""
        n, key = self._order.read, self._order.take(data)
        if isinstance(self._order, ShownOrder) and key is not None:  # (placed among those near it: shown_among)
            self._near.append(key := (n, *key))
        if packet.dts is not None and (key is not None or isinstance(self._order, ShownOrder)):
            packet.opaque = (packet.dts, n, key, packet.duration or 1)

    def stamp(self, frames: list) -> None:
        """Give the decoded ``frames`` (``av.VideoFrame``) the time they show, where their packet was taken. An H.264
        picture whose header could not be read is shown at its own chunk's number; an MPEG-4 one where FFmpeg put it (a
        frame late, but in the order shown, where a chunk's number may be a B-frame run early: an Xvid AVI whose video
        object layer, which says how many bits a picture's time takes, is in its first picture alone, read from a
        later keyframe by --start).

        >>> from types import SimpleNamespace as S
        >>> reordered, packet = Reordered("mpeg4", None), S(dts=1, duration=1, opaque=None)
        >>> reordered.take(packet, b"\\0\\0\\1\\xb6\\x50\\x30")  # (a P-picture's, its layer not read)
        >>> frame = S(pts=4, time_base=1, opaque=packet.opaque)
        >>> reordered.stamp([frame])
        >>> frame.pts
        4
        """
        for vf in frames:
            mark = vf.opaque
            if not isinstance(mark, tuple) or len(mark) != 4 or vf.time_base is None:
                continue
            chunk, n, key, step = mark
            moved = 0 if key is None or self._order.fields else self._place(key) - n
            vf.pts = chunk + moved * step


    def _place(self, key: tuple) -> int:
        """The place of the picture of ``key`` in the order shown: an H.264 picture's among those near it
        (:func:`shown_among`), not by its count's step from its period's first (ShownOrder's), which one damaged slice
        header read as an odd count halves: every picture after it, to the file's end, was stamped twice as far on)."""
        return self._order.place(key) if isinstance(self._order, VopOrder) else shown_among(self._near, key)


def shown_among(near, key: tuple) -> int:
    """The place in the order shown of the picture of ``key`` (its place in decoding order, its period, its time or
    count), among the pictures ``near`` it (keys alike): its own place, less those of its period taken before it that
    show after it, plus those taken after it that show before it.

    >>> near = [(0, 0, 0), (1, 0, 6), (2, 0, 2), (3, 0, 4), (4, 1, 0)]  # (I0 P6 B2 B4, then an IDR picture)
    >>> [shown_among(near, key) for key in near]
    [0, 3, 1, 2, 4]
    """
    n, period, time = key
    near = [(m, t) for m, p, t in near if p == period]
    return n + sum(m > n and t < time for m, t in near) - sum(m < n and t > time for m, t in near)


class VopOrder:
    """The order an AVI's MPEG-4 part 2 pictures show in, as :class:`~roadseg.pipeline.sources.order.ShownOrder` says
    H.264's, from each picture's own time (:class:`~roadseg.pipeline.sources.coded.Coded`: its whole seconds and
    ``vop_time_increment``): a picture's place is its own in decoding order, less the pictures taken before it that show
    after it, plus those taken after it that show before it (in an AVI, a picture held, its time stepped over, is
    an empty chunk, no packet: counted so, it steps neither). A reference picture (I, P) whose time is not past the
    last one's begins a period (a file joined after another, by --concat, whose times start again): the pictures of
    one period all show before the next's. A packet of two pictures (DivX's packed B-frames: a reference picture,
    then the B-picture shown before it) is its reference's, and the packet after it (a placeholder, a picture not
    coded), out of which FFmpeg's decoder gives the B-picture, is the B-picture's.

    >>> vop = lambda kind, inc: b"\\0\\0\\1\\xb6" + int(f"{kind:02b}01{inc:05b}1100000", 2).to_bytes(2, "big")
    >>> order = VopOrder(None)
    >>> order.increment = 5
    >>> keys = [order.take(vop(*v)) for v in [(0, 0), (1, 3), (2, 1), (2, 2), (0, 0), (1, 2), (2, 1)]]
    >>> [order.place(key) for key in keys]  # (I0 P3 B1 B2, then a file joined: I0 P2 B1)
    [0, 3, 1, 2, 4, 6, 5]
    >>> keys = [order.take(data) for data in (vop(0, 4), vop(1, 6) + vop(2, 5), vop(1, 6))]  # (packed, a placeholder)
    >>> [order.place(key) for key in keys]
    [7, 9, 8]
    """

    def __init__(self, extradata: bytes | None) -> None:
        self._coded = Coded(extradata)
        self.read = 0  # the pictures (packets) taken
        self.fields = False  # (as ShownOrder's: whether the order is not followed; it always is)
        self._near: deque[tuple[int, int, tuple[int, int]]] = deque(maxlen=NEAR)  # (taken, period, time)
        self._period, self._last = 0, (-1, 0)  # (the last reference picture's time)
        self._packed: tuple[int, int] | None = None  # the time of the B-picture of a packed packet, for the next

    @property
    def increment(self) -> int | None:
        """Bits of a picture's ``vop_time_increment``, as the stream's video object layer says."""
        return self._coded.increment

    @increment.setter
    def increment(self, bits: int | None) -> None:
        self._coded.increment = bits

    def take(self, data: bytes) -> tuple[int, int, tuple[int, int]] | None:
        """A packet's ``data``, in decoding order: the key of its picture for :meth:`place` (None where its time
        cannot be read)."""
        n, self.read = self.read, self.read + 1
        packed, self._packed = self._packed, None
        second = data.find(VOP_CODE, data.find(VOP_CODE) + 1) if VOP_CODE in data else -1
        if packed is not None:  # (the placeholder: FFmpeg decodes the B-picture held out of it)
            time, b_picture = packed, True
        else:
            time, b_picture = self._time(data[:second] if second > 0 else data)
            if second > 0:
                self._packed = self._time(data[second:])[0]
        if time is None:
            return None
        if not b_picture:
            self._period += time <= self._last
            self._last = time
        self._near.append(key := (n, self._period, time))
        return key

    def _time(self, data: bytes) -> tuple[tuple[int, int] | None, bool]:
        """The own time of the one picture in ``data`` (None: not read) and whether it is a B-picture."""
        self._coded.picture(data, "mpeg4")
        return self._coded.time, self._coded.b_picture

    def place(self, key: tuple[int, int, tuple[int, int]]) -> int:
        """The place of the picture of ``key`` (:meth:`take`'s) in the order the stream's pictures show."""
        return shown_among(self._near, key)
