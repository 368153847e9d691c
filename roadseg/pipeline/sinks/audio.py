"""Audio remuxing that a damaged audio stream cannot turn into a failed run.

A stream whose codec parameters the output cannot carry is left out (one line says so); a packet
the muxer refuses is dropped and counted, and the video goes on. Only an error of the disk itself
(full, read-only, I/O) fails the run.

Example:
    >>> import io, av
    >>> with av.open(io.BytesIO(), "w", format="mp4") as out:
    ...     remux = AudioRemux(out, [])
    >>> remux.dropped, remux.streams
    (0, {})
"""

from __future__ import annotations

import contextlib
import errno
import io
import logging
from collections.abc import Mapping, Sequence

import av

from roadseg.errors import SinkError, reason_of

log = logging.getLogger("roadseg")
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EIO, errno.EFBIG, errno.EDQUOT, errno.EROFS, errno.EPIPE})


def is_disk_error(exc: BaseException) -> bool:
    """An error of the file system (full, read-only, I/O), not of the data written.

    >>> is_disk_error(OSError(errno.ENOSPC, "No space left on device")), is_disk_error(ValueError("bad dts"))
    (True, False)
    """
    return getattr(exc, "errno", None) in DISK_ERRNOS


def copyable(streams: Sequence, format_name: str, samples: Mapping[int, av.Packet] | None = None) -> list:
    """The audio ``streams`` a ``format_name`` output can carry; one warning line for each that it cannot.

    Each stream is tried alone in an in-memory output: created, header written, its packet from
    ``samples`` (input stream index -> a packet, if one was read) muxed, trailer written (an mp4
    describes its streams only there). So one damaged stream never costs the others, nor the video.
    """
    kept = []
    for stream in streams:
        try:
            with av.open(io.BytesIO(), "w", format=format_name) as probe:
                out = probe.add_stream_from_template(stream)
                probe.start_encoding()
                if (sample := (samples or {}).get(stream.index)) is not None:
                    with contextlib.suppress(Exception):  # one damaged packet says nothing about the stream
                        probe.mux(_copy(sample, out))
        except Exception as exc:  # noqa: BLE001 - damaged parameters fail in PyAV as well as in FFmpeg
            log.warning("audio stream #%d (%s) cannot be copied (%s); writing the video without it",
                        stream.index, _codec_name(stream), reason_of(exc))  # fmt: skip
            continue
        kept.append(stream)
    return kept


def _copy(packet: av.Packet, stream) -> av.Packet:
    """A copy of ``packet`` for ``stream`` (muxing rebases a packet's timestamps in place)."""
    copy = av.Packet(bytes(packet))
    copy.pts, copy.dts, copy.time_base, copy.stream = packet.pts, packet.dts, packet.time_base, stream
    return copy


def _codec_name(stream) -> str:
    return getattr(stream.codec_context, "name", None) or "no codec"


class AudioRemux:
    """Copy the packets of the input audio ``streams`` into ``container``; drop (and count) what it refuses.

    Args:
        container: an output container, before its header is written.
        streams: input audio streams that :func:`copyable` kept.

    ``dropped`` counts the packets refused; :meth:`mux` raises :class:`SinkError` only for disk errors.
    (A source gives packets in file order; :class:`~roadseg.pipeline.sources.audio.AudioTimeline`
    already takes out those whose timestamps cannot be right.)
    """

    def __init__(self, container, streams: Sequence) -> None:
        self.container = container
        self.streams = {a.index: container.add_stream_from_template(a) for a in streams}
        self.dropped = 0

    def mux(self, packet: av.Packet) -> None:
        """Copy one packet (of a stream given at construction; others are ignored)."""
        out = self.streams.get(packet.stream.index)
        if out is None:
            return
        if packet.dts is None:  # a muxer would make up timestamps for it
            self.dropped += 1
            return
        packet.stream = out
        try:
            self.container.mux(packet)
        except (OSError, av.error.FFmpegError, ValueError) as exc:
            if is_disk_error(exc):
                raise SinkError(f"cannot write audio to {self.container.name}: {reason_of(exc)}") from None
            self.dropped += 1  # refused by the muxer (or its bitstream filter): damaged data
