"""The read-back check of a video output kept after its encoder failed: how many pictures it plays
(:func:`pictures`), as a player reads it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import chain, groupby, islice
from operator import itemgetter

import av

#: The most packets of a group of pictures :func:`pictures` holds to decode later (x264's longest group is 250)
HELD = 300


def pictures(container: av.container.InputContainer) -> int:
    """The pictures the first video stream of ``container`` plays, found at a small cost: its packets demuxed to the
    end (no decoding) and counted, its first picture decoded and its last group of pictures (from its last keyframe
    to the end) decoded whole, where a file whose end was cut or damaged shows it; 0 where no picture decodes.

    Each group (:func:`_groups`) is held, up to :data:`HELD` packets, and counted by its packets once the next one
    comes, or decoded and counted by its pictures: each group until one gives the first picture (the group that
    does is held from its start), the last group, and a group longer than :data:`HELD` (decoded as it comes: memory
    stays bounded, and a file without keyframes is decoded whole). A packet that does not decode gives no picture,
    as in a player, and the demuxer's error ends the file there. An mp4 whose last quarter is lost (its index, at
    its start, still counts 50):

    >>> import os, numpy as np
    >>> from fractions import Fraction
    >>> from roadseg.pipeline.sinks.video import VideoSink
    >>> ramp = np.tile(np.arange(0, 256, 4, dtype=np.uint8)[None, :, None], (48, 1, 3))
    >>> with VideoSink("/tmp/doc-cut.mp4", width=64, height=48, fps=Fraction(25)) as sink:
    ...     for i in range(50):
    ...         sink.write(np.roll(ramp, 5 * i, axis=1))
    >>> os.truncate("/tmp/doc-cut.mp4", os.path.getsize("/tmp/doc-cut.mp4") * 3 // 4)
    >>> with av.open("/tmp/doc-cut.mp4") as back:
    ...     back.streams.video[0].frames, pictures(back)
    (50, 28)
    """
    decoder = container.streams.video[0].codec_context
    counted, first, last = 0, False, []
    for group in _groups(container):
        counted += len(last)  # (the group before, held whole, is not the last: its packets count)
        held, last = list(islice(group, HELD + 1)), []
        if not first:  # (the group that gives the first picture is then held, or decoded, as any other)
            first = _first_picture(decoder, held[:HELD])
            if not first:  # (none yet: the group decoded to its end, its pictures counted)
                shown = _decoded(decoder, chain(held[HELD:], group))
                first = shown > 0
                counted += shown
                continue
        if len(held) <= HELD:
            last = held
        else:  # (a long group: decoded as it comes)
            counted += _decoded(decoder, chain(held, group))
    if last:
        counted += _decoded(decoder, last)
    return counted if first else 0


def _groups(container: av.container.InputContainer) -> Iterator[Iterator[av.Packet]]:
    """The groups of pictures of the first video stream of ``container``, each its packets (empty ones left out)
    from a keyframe to the next (the first from the first packet), demuxed as they are read: to the end, or to the
    demuxer's error (a file cut short: a player stops there too)."""
    for _, group in groupby(_numbered(container), key=itemgetter(0)):
        yield map(itemgetter(1), group)


def _numbered(container: av.container.InputContainer) -> Iterator[tuple[int, av.Packet]]:
    """The packets of :func:`_groups`, each with the number of its group (the keyframes up to it)."""
    keyframes = 0
    try:
        for packet in container.demux(container.streams.video[0]):
            if packet.size:
                keyframes += packet.is_keyframe
                yield keyframes, packet
    except (av.error.FFmpegError, OSError):
        return


def _first_picture(decoder: av.CodecContext, packets: Iterable[av.Packet]) -> bool:
    """Decode ``packets`` until one gives a picture; whether one did (the decoder then emptied, ready to decode
    its group again from its start)."""
    for packet in packets:
        if _decode(decoder, packet):
            decoder.flush_buffers()
            return True
    return False


def _decoded(decoder: av.CodecContext, packets: Iterable[av.Packet]) -> int:
    """The pictures ``packets`` (a group, or its rest) give, with those the decoder held at their end; the decoder
    left ready for the next group."""
    shown = sum(_decode(decoder, packet) for packet in packets) + _decode(decoder, None)
    decoder.flush_buffers()
    return shown


def _decode(decoder: av.CodecContext, packet: av.Packet | None) -> int:
    """The pictures ``packet`` gives (None: those the decoder held); 0 where it does not decode (damaged)."""
    try:
        return len(decoder.decode(packet))
    except (av.error.FFmpegError, ValueError):
        return 0
