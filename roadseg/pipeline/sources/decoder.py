"""The decoder of a file's video stream, which follows the stream where its codec changes midway: two
recordings joined byte for byte (``cat a.ts b.ts``) from cameras that encode differently, H.264 and
then MPEG-4 under one stream of an MPEG-TS. FFmpeg's demuxer reads the new codec from the stream's
table, but the decoder opened with the file stays the first one and refuses every picture after.

In a format that allows it (FFmpeg's ``AVFMT_TS_DISCONT``: MPEG-TS, MPEG-PS), where a packet is
refused, the file is opened again at the keyframe before it (such a stream reads from any packet) to
see the stream's codec there; input that cannot be opened again (a pipe: ``probe=True``) has the packets
since that keyframe probed as FFmpeg probes a raw stream (H.264, MPEG-4 part 2 ... tell themselves by their
bytes). If it is another codec, a decoder of it decodes the pictures from that keyframe on, and one line
says so. Otherwise the packet was damage, and the refusal is passed on (the source counts it).

Files joined by FFmpeg's concat demuxer (``--concat``) are decoded each as if alone: where the
packets come from the next file, the decoder gives up the pictures it still holds and starts afresh
(each file's own SPS and PPS come with its keyframes, the demuxer's ``auto_convert``). One decoder
carried across would keep the first file's state: where a file's SPS says pictures are reordered and
the file's before did not (a damaged header, joined:mp4-header-9), FFmpeg's H.264 decoder took the
new file's first pictures for late ones of the old and dropped them, 7 of 38.

Example:
    >>> import av
    >>> with av.open("sample_videos/road.mp4") as c:
    ...     decoder = Decoder(c.streams.video[0], "sample_videos/road.mp4", c.format)
    ...     frames = [f for p in c.demux(video=0) for f in decoder.decode(p if p.size else None)]
    >>> len(frames), decoder.codec, len(decoder._gop)  # (an mp4's codec does not change: no packets kept)
    (150, 'h264', 0)
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import av

from roadseg.pipeline.sources.clock import TS_DISCONT
from roadseg.pipeline.sources.streams import codec_of

log = logging.getLogger("roadseg")
MAX_LOOKS = 16  # times a file is opened again to see whether its codec changed (refusals are mostly damage)
MAX_GOP = 300  # packets kept since the last keyframe, to decode again with a new codec's decoder
PROBED = 8  # packets from the keyframe on whose bytes are probed for their codec (input not opened again)


def joined_part(packet: av.Packet) -> dict[str, str]:
    """What FFmpeg's concat demuxer tags ``packet`` with (see concat.FILE_TAGS): where the file it came from
    begins on the joined timeline and how long it is, in microseconds ({} where it is not tagged so). The
    first file begins at 0, every later one after it.

    >>> joined_part(av.Packet(b"\\0"))
    {}
    """
    data = packet.get_sidedata("strings_metadata")
    words = bytes(data).split(b"\0") if data else []
    return {k.decode(): v.decode() for k, v in zip(words[::2], words[1::2]) if k}


class Decoder:
    """Decode ``stream`` of the file at ``path`` (of ``format``, an ``av.ContainerFormat``), following a change
    of its codec where the format allows one."""

    def __init__(self, stream, path: str, format, *, probe: bool = False, shown: str | None = None,
                 thread_type: str = "AUTO") -> None:  # fmt: skip
        self.stream, self.path, self.format_name = stream, path, format.name
        self.shown, self.thread_type = shown or Path(path).name, thread_type  # (the line's name; the new decoder's)
        self._probe = probe  # where ``path`` is not a file to open again: probe the packets' bytes
        self._follows = bool(format.flags & TS_DISCONT)
        self._context = None  # a decoder made here, where the codec changed (else the stream's own decodes)
        self.codec = codec_of(stream)
        self._gop: list[av.Packet] = []  # the packets since the last keyframe, that keyframe first
        self._looked: set[int] = set()  # file positions of the keyframes looked at
        self._parts = format.name == "concat"  # (files joined: each packet says which, see concat.FILE_TAGS)
        self._part: dict[str, str] | None = None  # the file being decoded, as its packets say
        self._pending: list = []  # the last file's last pictures, until a call returns them
        #: where the frames the last call returned of a file joined after another begin (those before it are the
        #: file before's: drained), None where that call began no file after another
        self.parted: int | None = None

    def decode(self, packet: av.Packet | None) -> list:
        """The frames ``packet`` completes (None: drain); raises as PyAV does where it is refused and the
        codec did not change."""
        began = packet is not None and self._parts and self._next_file(packet)
        self.parted = None
        if packet is not None and self._follows:  # (kept only where the codec may change: 4K's 300 are 60 MB)
            if packet.is_keyframe:
                self._gop = []
            if len(self._gop) < MAX_GOP:
                self._gop.append(packet)
        try:
            frames = self._decoded(packet)
        except (av.error.FFmpegError, ValueError):
            frames = self._changed()
            if frames is None:
                raise
        self.parted = len(self._pending) if began else None
        frames, self._pending = self._pending + frames, []
        return frames

    def _next_file(self, packet: av.Packet) -> bool:
        """Where ``packet`` is the first of the next joined file: drain the decoder into ``_pending`` and
        start it afresh; whether it is (the first file's first packet is not)."""
        part = joined_part(packet) or None
        if part is None or part == self._part:
            return False
        began = self._part is not None
        if began:
            context = self._context or self.stream.codec_context
            try:
                drained = self._decoded(None)
            except (av.error.FFmpegError, ValueError):
                drained = []  # (nothing more came out: its pictures' loss shows in the count of frames)
            for f in drained:
                f.time_base = self.stream.time_base  # (drained without a packet: PyAV gives them none)
            self._pending += drained
            context.flush_buffers()
        self._part = part
        return began

    def _changed(self) -> list | None:
        """Where the stream's codec changed at the last keyframe: the old decoder's last pictures and those
        since that keyframe, by a decoder of the new codec, which decodes on; None where it did not change."""
        key = self._gop[0] if self._gop else None
        if key is None or not key.is_keyframe or key.pos is None or key.pos < 0 or key.pos in self._looked:
            return None
        if not self._follows or len(self._looked) >= MAX_LOOKS:
            return None
        if Path(self.path).is_file():
            codec = self._codec_at(key.pos)
        elif self._probe:
            codec = _probed(self._gop)
            if codec is None and len(self._gop) < PROBED:
                return None  # (too few bytes to tell yet: probed again at the next packet refused)
        else:
            return None
        self._looked.add(key.pos)
        if codec is None or codec == self.codec:
            return None
        try:
            context = av.CodecContext.create(codec, "r")
            context.thread_type = self.thread_type
            frames = [f for p in self._gop for f in context.decode(p)]
        except (av.error.FFmpegError, ValueError):
            return None
        try:
            frames = self._decoded(None) + frames  # (what the old decoder still held comes first)
        except (av.error.FFmpegError, ValueError):
            pass
        at = "" if key.pts is None or not key.time_base else f" at {float(key.pts * key.time_base):.2f} s"
        log.warning("%s: its video changes from %s to %s%s (recordings joined?); decoding on as %s",
                    self.shown, self.codec, codec, at, codec)  # fmt: skip
        self._context, self.codec = context, codec
        for f in frames:
            f.time_base = self.stream.time_base  # (a decoder made here has no time base of its own)
        return frames

    def _codec_at(self, pos: int) -> str | None:
        """The codec of this stream (by its id: a transport stream's PID) where the file is read from ``pos``."""
        try:
            with open(self.path, "rb") as f:
                f.seek(pos)
                with av.open(f, format=self.format_name, metadata_errors="replace") as there:
                    same = [s for s in there.streams.video if s.id == self.stream.id]
                    return codec_of(same[0]) if same else None
        except Exception:  # noqa: BLE001 - whatever does not read there says nothing of a change
            return None

    def _decoded(self, packet: av.Packet | None) -> list:
        if self._context is None:
            return self.stream.decode(None) if packet is None else packet.decode()  # (the stream's own decoder)
        frames = self._context.decode(packet)
        for f in frames:
            f.time_base = self.stream.time_base
        return frames


def _probed(packets: list[av.Packet]) -> str | None:
    """The video codec FFmpeg's probe finds in the bytes of ``packets`` read as a raw stream, or None."""
    try:
        with av.open(io.BytesIO(b"".join(bytes(p) for p in packets[:PROBED])), metadata_errors="replace") as raw:
            return codec_of(raw.streams.video[0]) if raw.streams.video else None
    except Exception:  # noqa: BLE001 - bytes that probe as nothing say nothing of a change
        return None
