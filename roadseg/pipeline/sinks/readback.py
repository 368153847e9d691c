"""The read-back check of a video output kept after its encoder failed: how many pictures it plays
(:func:`pictures`), as a player reads it.
"""

from __future__ import annotations

import av

#: The most packets of a group of pictures :func:`pictures` holds to decode later (x264's longest group is 250)
HELD = 300


def pictures(container: av.container.InputContainer) -> int:
    """The pictures the first video stream of ``container`` plays, found at a small cost: its packets demuxed to the
    end (no decoding) and counted, its first picture decoded and its last group of pictures (from its last keyframe
    to the end) decoded whole, where a file whose end was cut or damaged shows it; 0 where no picture decodes.

    A group's packets are held until the next keyframe, then counted as its pictures; a group is decoded as it comes
    until a picture has decoded (the first), and once it holds more than :data:`HELD` packets (memory stays bounded: a
    file without keyframes is decoded whole). A packet that does not decode gives no picture, as in a player, and the
    demuxer's error ends the file there. An mp4 whose last quarter is lost (its index, at its start, still counts 50):

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
    counted, held, size, shown, eager, first = 0, [], 0, 0, True, False

    def decode(packet: av.Packet | None) -> int:
        nonlocal first
        try:
            n = len(decoder.decode(packet))
        except (av.error.FFmpegError, ValueError):  # (damaged: no picture from it)
            return 0
        first = first or n > 0
        return n

    def group() -> int:  # (the pictures of the group that ends; the decoder left ready for the next)
        n = (shown if eager else sum(map(decode, held))) + decode(None)
        decoder.flush_buffers()
        return n

    try:
        for packet in container.demux(container.streams.video[0]):
            if packet.size == 0:
                continue
            if packet.is_keyframe and size:
                counted += group() if eager else len(held)
                held, size, shown, eager = [], 0, 0, not first
            size += 1
            if not eager:
                held.append(packet)
                if len(held) > HELD:  # (a long group: decoded from here on, not held)
                    eager, shown, held = True, sum(map(decode, held)), []
                continue
            waiting = not first
            shown += decode(packet)
            if waiting and len(held) == size - 1 < HELD:  # (until the first picture, its group is held too)
                held.append(packet)
                if first:  # (the first picture: its group decoded again at the end, if it is the last)
                    decoder.flush_buffers()
                    eager, shown = False, 0
            else:
                held = []
    except (av.error.FFmpegError, OSError):  # (a file cut short: a player stops there too)
        pass
    if size:
        counted += group()
    return counted if first else 0
