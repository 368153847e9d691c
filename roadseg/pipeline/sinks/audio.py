"""Audio remuxing that a damaged audio stream cannot turn into a failed run (:class:`AudioRemux`).

Audio is copied packet for packet, or re-encoded, as :func:`~roadseg.pipeline.sinks.routes.routes` says each stream
goes in. A packet the muxer (or the decoder) refuses is dropped and counted, and the video goes on. Only an error of
the disk itself (full, read-only, I/O) fails the run (:func:`is_disk_error`).

Example:
    >>> import io, av
    >>> with av.open(io.BytesIO(), "w", format="mp4") as out:
    ...     remux = AudioRemux(out, [])
    >>> remux.dropped, remux.streams
    (0, {})
"""

from __future__ import annotations

import errno
from collections.abc import Mapping, Sequence

import av

from roadseg.errors import OutputClosed, SinkError, reason_of
from roadseg.pipeline.sinks.base import kept_tags
from roadseg.pipeline.sinks.pcm import RATE, FilledTrack
from roadseg.pipeline.sinks.routes import COUNTED, add_encoded, channel_layout, unwrapped
from roadseg.pipeline.sources.audio import one_adts_frame
from roadseg.pipeline.sources.streams import codec_of

#: seconds between one audio packet's end and the next one's start (in order, and no leap of a damaged timestamp)
#: that count as sound missing from the input (:attr:`AudioRemux.gaps`)
GAP, LEAP = 0.01, 10.0
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EIO, errno.EFBIG, errno.EDQUOT, errno.EROFS, errno.EPIPE})


def is_disk_error(exc: BaseException) -> bool:
    """An error of the file system (full, read-only, I/O), not of the data written.

    >>> is_disk_error(OSError(errno.ENOSPC, "No space left on device")), is_disk_error(ValueError("bad dts"))
    (True, False)
    """
    return getattr(exc, "errno", None) in DISK_ERRNOS


def write_error(exc: BaseException, what: str) -> SinkError:
    """The error for a write to an output that failed in its file system (:func:`is_disk_error`): ``what:
    reason``, or :class:`~roadseg.errors.OutputClosed` where the output is a pipe whose reader closed it (EPIPE).

    >>> type(write_error(BrokenPipeError(errno.EPIPE, "Broken pipe"), "cannot write audio to pipe:1")).__name__
    'OutputClosed'
    """
    if getattr(exc, "errno", None) == errno.EPIPE:
        return OutputClosed(f"{what}: its reader closed it")
    return SinkError(f"{what}: {reason_of(exc)}")


class AudioRemux:
    """Copy the packets of the input audio ``streams`` into ``container`` and re-encode those of
    ``reencoded``; drop (and count) what the muxer or the decoder refuses.

    Args:
        container: an output container, before its header is written.
        streams: input audio streams to copy (:func:`routes` says which).
        reencoded: (input stream, encoder) pairs to decode and encode again.
        configs: copied streams of ADTS-framed AAC to write raw, each with its setup (:func:`routes`).

    ``dropped`` counts the packets refused; :meth:`mux` raises :class:`SinkError` only for disk errors.
    (A source gives packets in file order; :class:`~roadseg.pipeline.sources.audio.AudioTimeline`
    already takes out those whose timestamps cannot be right.) :meth:`flush` before the trailer.
    """

    def __init__(self, container, streams: Sequence, reencoded: Sequence[tuple[object, str]] = (),
                 configs: Mapping[int, bytes] | None = None) -> None:  # fmt: skip
        self.container = container
        self.streams, self.encoders, self.filled = {}, {}, {}
        self._raw = dict(configs or {})  # copied ADTS-framed AAC that goes in raw: stream -> its setup
        encoder_of = {a.index: name for a, name in reencoded}
        counted = container.format.name in COUNTED
        for a in sorted((*streams, *(a for a, _ in reencoded)), key=lambda a: a.index):  # (the input's order:
            if a.index in encoder_of and counted:  # its first track stays the one players pick)
                name = encoder_of[a.index]
                track = FilledTrack(container, channel_layout(a, av.codec.Codec(name, "w"), RATE), name, self._write)
                self.filled[a.index] = (a.codec_context, track)
                out = track.out
            elif a.index in encoder_of:
                out = add_encoded(container, a, encoder_of[a.index])
                self.encoders[a.index] = (a.codec_context, out)
            else:
                out = self.streams[a.index] = container.add_stream_from_template(a)
                if a.index in self._raw:
                    out.codec_context.extradata = self._raw[a.index]
            out.metadata.update(kept_tags(a.metadata))  # (language, title: which track is which)
        self._aac = {a.index for a in streams if codec_of(a) == "aac"}  # (copied AAC: ADTS framing checked)
        self._checks: dict[int, av.CodecContext] = {}  # stream -> a decoder that tries a packet of odd framing
        self.dropped = 0
        self.starts: dict[int, float] = {}  # input stream index -> its first packet's time, seconds
        self.gaps: dict[int, float] = {}  # input stream index -> seconds of sound missing between its packets
        self._ends: dict[int, float] = {}  # (where each stream's packets so far end)

    def mux(self, packet: av.Packet) -> None:
        """Copy (or re-encode) one packet of a stream given at construction; others are ignored.

        A packet is known by its own ``stream_index``, never by reading its input stream: a live
        source's connection may have closed since the packet was read (a dropped stream, reopened).
        """
        index = packet.stream_index
        if packet.pts is not None and packet.time_base and index not in self.starts and (
                index in self.encoders or index in self.streams):  # fmt: skip
            self.starts[index] = float(packet.pts * packet.time_base)
        if index in self.starts and packet.pts is not None and packet.time_base and packet.duration:
            self._missing(index, float(packet.pts * packet.time_base), float(packet.duration * packet.time_base))
        if index in self.encoders:
            self._reencode(packet, *self.encoders[index])
            return
        if index in self.filled:
            self._fill(packet, *self.filled[index])
            return
        out = self.streams.get(index)
        if out is None:
            return
        if packet.dts is None or not self._decodes(packet):  # (no dts: a muxer would make up timestamps for it)
            self.dropped += 1
            return
        if index in self._raw and (packet := unwrapped(packet)) is None:  # (a packet that lost its header)
            self.dropped += 1
            return
        packet.stream = out
        self._write(packet)

    def _missing(self, index: int, start: float, length: float) -> None:
        """Count in :attr:`gaps` the sound missing before a packet of ``start`` and ``length`` seconds."""
        end = self._ends.get(index)
        if end is not None and GAP < start - end <= LEAP:
            self.gaps[index] = self.gaps.get(index, 0.0) + start - end
        self._ends[index] = max(start + length, end or start + length)

    def _decodes(self, packet: av.Packet) -> bool:
        """Whether a copied ``packet`` decodes, where its framing gives cause to ask: an AAC packet that is
        not the one frame its ADTS header says (:func:`one_adts_frame`). A damaged PES merges frames into one
        packet: behind a stray byte (the input's decoder refuses it, but copied into an mp4 it decodes to
        all of them at one time: 44 frames, 0.94 s of sound in 0.02 s), or after a damaged header (which
        decodes, in turn, as the input's decoder plays it)."""
        index = packet.stream_index
        if index not in self._aac or one_adts_frame(packet):
            return True
        decoder = self._checks.setdefault(index, av.CodecContext.create("aac", "r"))
        try:
            return bool(decoder.decode(packet))
        except (av.error.FFmpegError, ValueError):
            return False

    def start(self, zero: float) -> None:
        """The first picture's time (seconds, on the packets' clock), from which the filled streams of a
        :data:`COUNTED` output place their sound."""
        for _, track in self.filled.values():
            track.start(zero)

    def flush(self, end: float = 0.0) -> None:
        """Write what the decoders and encoders of re-encoded streams still hold (at the end, before
        the trailer); the filled streams of a :data:`COUNTED` output with silence up to ``end`` (seconds
        from the first picture: where the last one ends)."""
        for decoder, track in self.filled.values():
            self._fill(None, decoder, track)
            try:
                track.finish(end)
            except (av.error.FFmpegError, ValueError):
                self.dropped += 1
        for decoder, out in self.encoders.values():
            try:
                frames = decoder.decode(None)
            except (av.error.FFmpegError, ValueError):
                frames = []
            for frame in frames:
                self._encode(out, frame)
            self._encode(out, None)

    def _fill(self, packet: av.Packet | None, decoder, track: FilledTrack) -> None:
        """Decode ``packet`` (None: what the decoder holds) into a filled stream; count what fails."""
        try:
            for frame in decoder.decode(packet):
                track.push(frame)
        except (av.error.FFmpegError, ValueError):
            self.dropped += packet is not None  # damaged data the decoder (or the resampler) refuses

    def _reencode(self, packet: av.Packet, decoder, out) -> None:
        try:
            frames = decoder.decode(packet)
        except (av.error.FFmpegError, ValueError):
            self.dropped += 1  # damaged data the decoder refuses
            return
        for frame in frames:
            self._encode(out, frame)

    def _encode(self, out, frame) -> None:
        try:
            packets = out.encode(frame)
        except (av.error.FFmpegError, ValueError):
            self.dropped += 1
            return
        for packet in packets:
            self._write(packet)

    def _write(self, packet: av.Packet) -> None:
        try:
            self.container.mux(packet)
        except (OSError, av.error.FFmpegError, ValueError) as exc:
            if is_disk_error(exc):
                raise write_error(exc, f"cannot write audio to {self.container.name}") from None
            self.dropped += 1  # refused by the muxer (or its bitstream filter): damaged data
