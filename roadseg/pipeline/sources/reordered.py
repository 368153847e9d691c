"""An AVI's H.264 pictures at the time they show (:class:`Reordered`, kept by
:class:`~roadseg.pipeline.sources.file.VideoSource`'s decoding). An AVI holds no presentation times: its timestamps
number its chunks, in decoding order (a picture held, an empty chunk, is no packet: the next one's number steps over
it), and FFmpeg guesses H.264's a frame on, as if delayed (its parser's, where no HRD timing SEI says otherwise): every
picture 0.04 s late at 25 frames/s against the sound, which starts at 0, and, with B-frames, each picture at its own
chunk's number, not in the order they show (0.04, 0.16, 0.12, 0.2, 0.08 ...). Each picture is shown at its own chunk's
number moved by as many frames as it shows after (or before) where it is decoded, as its bytes say
(:class:`~roadseg.pipeline.sources.order.ShownOrder`: H.264's picture order count); one whose header cannot be read (a
field, damage) at its own chunk's number. (MPEG-4 part 2 and MJPEG are read at their place: not taken here.)

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

from roadseg.pipeline.sources.order import ShownOrder

#: codecs FFmpeg reads from an AVI a frame late, whose pictures' order shown their packets say
REORDERED = frozenset({"h264"})


class Reordered:
    """The time an AVI's pictures of ``codec`` show, in ticks of its stream's time base (a chunk's): each packet taken
    in decoding order (:meth:`take`), each frame out stamped (:meth:`stamp`). ``extradata``: the stream's parameter
    sets, where they are Annex B (else read from the packets, as an AVI's H.264 holds them)."""

    def __init__(self, codec: str, extradata: bytes | None) -> None:
        self._order = ShownOrder(codec)
        if extradata and bytes(extradata).startswith((b"\0\0\1", b"\0\0\0\1")):
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
        if packet.dts is not None:
            packet.opaque = (packet.dts, n, key, packet.duration or 1)

    def stamp(self, frames: list) -> None:
        """Give the decoded ``frames`` (``av.VideoFrame``) the time they show, where their packet was taken."""
        for vf in frames:
            mark = vf.opaque
            if not isinstance(mark, tuple) or len(mark) != 4 or vf.time_base is None:
                continue
            chunk, n, key, step = mark
            moved = 0 if key is None or self._order.fields else self._order.place(key) - n
            vf.pts = chunk + moved * step
