"""Reaching ``--start`` in a file (:class:`ToStart`, a part of :class:`~roadseg.pipeline.sources.file.VideoSource`):
a seek checked to land in time, or, where a file's clock may start again midway or files are joined, its packets
read up to there without decoding, those from the last keyframe before it decoded.
"""

from __future__ import annotations

from pathlib import Path

import av

from roadseg.pipeline.sources.packets import packet_time
from roadseg.pipeline.sources.untimed import idr

MAX_HELD = 600  # video packets held while a file is read up to --start undecoded (VideoSource._up_to_start)


class ToStart:
    """:class:`~roadseg.pipeline.sources.file.VideoSource`'s way to ``start``: its state is ``_held`` (the video
    packets since the last keyframe while read up to it, else None) and ``_sought`` (whether a seek moved the reading
    past the file's start: its first packets read are not where its video begins)."""

    _sought = False

    def _up_to_start(self, packet: av.Packet) -> list[av.Packet]:
        """The video packets to decode for ``packet``: itself, or where a file is read up to ``start``
        (:meth:`_read_to_start`: a file whose clock may start again midway, on its one timeline), none before,
        then those since the last keyframe. Its own clock repeats after a restart, so a seek by it may land in
        the wrong recording; reading its packets without decoding them costs little (demuxing only). The pictures
        from the keyframe before the last one are kept: with B-frames, some of them show after the last
        keyframe (and may be at ``start``), and an open GOP's first pictures refer to them."""
        held = self._held
        if held is None:
            return [packet]
        if self._decodes_from(packet):  # (a decoder starts at a keyframe: nothing before the one before this is needed)
            left = max((n for n, p in enumerate(held) if self._decodes_from(p)), default=len(held))
            del held[:left]
            if self._untimed is not None:
                self._untimed.skip(left)
        held.append(packet)
        t = packet_time(packet)
        if t is None and self._untimed is not None and packet.stream is not None:  # (a raw stream: by its count)
            t = self.origin + self._untimed.read()
        reached = packet.stream is None or (t is not None and t - self.origin >= self.start)
        if reached:
            self._held = None
            return held
        return [held.pop(0)] if len(held) > MAX_HELD else []  # (no keyframe for long: decode as it comes)

    def _decodes_from(self, packet: av.Packet) -> bool:
        """Whether the decoding may start at ``packet``: a keyframe; in a raw H.264/HEVC stream, whose pictures are
        placed by their count, an IDR picture (:func:`~roadseg.pipeline.sources.untimed.idr`)."""
        if self._untimed is None or not packet.is_keyframe:
            return packet.is_keyframe
        return idr(bytes(packet), self.stream.codec_context.name)

    def _seek(self) -> None:
        """Seek to where decoding reaches ``start``'s frame. A seek lands on the keyframe before its target
        in most files, but a transport stream lands on the packet at the target: pictures up to the next
        keyframe do not decode there. So each try is checked (the first picture that decodes must not
        be after ``start``) and the next starts further back, down to the beginning of the file. Where the video
        begins after ``start`` (:meth:`_first_keyframe_late`), the sound is sought there and the video read from its
        first picture (:meth:`_to_start_by_sound`)."""
        picture = self._stream_start()
        if picture is not None and self._shift <= picture:  # (a seek there lands on the first picture, past the sound
            return  # before it, which a file whose sound begins first holds ahead of it: read from the start, unsought)
        back = 0.0
        while True:
            at = max(self.origin, self._shift - back)
            try:
                self.container.seek(int(at * av.time_base), backward=True, any_frame=False)
            except (av.error.FFmpegError, OSError):
                if self._first_keyframe_late() is None:  # (else refused before the video's first keyframe: no damage)
                    raise
            if (keyframe := self._first_keyframe_late()) is not None:
                self._to_start_by_sound(keyframe)
                return
            if at <= self.origin:
                return
            if self._lands_in_time(stop=self._shift + 1.0):
                self.container.seek(int(at * av.time_base), backward=True, any_frame=False)  # back to before the check
                self._sought = True
                return
            back = max(1.0, 4 * back)

    def _first_keyframe_late(self) -> float | None:
        """Where the video's first keyframe lies (seconds of the file's clock), where that is at or after ``start``,
        as a Matroska file's index says once a seek read it (its Cues, or its clusters read in order from its start);
        else None. Its stream may say it starts earlier: where FFmpeg's probe decoded no picture of it (it begins more
        than 60 s after the sound, past :data:`~roadseg.pipeline.sources.containers.DEEP_PROBE`), it took the file's
        start for the video's. A seek to ``start`` by the video lands on that keyframe, past the sound before it, or,
        where the index holds that keyframe alone, is refused (was: 'cannot seek in ... (Operation not permitted);
        reading it from the beginning up to --start', and either way the sound up to the first picture left out).
        Not in other files: a transport stream's index holds the keyframes its seeks read, not its first, and an
        mp4's stream says where it starts."""
        s = self.stream
        entries = s.index_entries if "matroska" in self.container.format.name and s.time_base else ()
        first = float(entries[0].timestamp * s.time_base) if len(entries) else None
        return first if first is not None and self._shift <= first + 1e-6 else None

    def _to_start_by_sound(self, keyframe: float) -> None:
        """To ``start`` by the sound, where the file has any, else to the video's first ``keyframe`` (seconds of the
        file's clock), which lies after it (:meth:`_first_keyframe_late`): a seek by the video lands there, past the
        sound before it, or is refused. Not from the file's beginning, as where its stream says the video starts after
        ``start``: so, an mkv whose video began 600 s after its sound, cut with ``--start 595``, read its first 595 s of
        sound, the whole cut 0.71 s; sought, 0.07 s."""
        sound = [s for s in self.container.streams.audio if s.start_time is not None and s.time_base]
        if sound:
            first = min(sound, key=lambda s: s.start_time * s.time_base)
            self.container.seek(int(self._shift / first.time_base), backward=True, any_frame=False, stream=first)
        else:
            self.container.seek(int(keyframe * av.time_base), backward=True, any_frame=False)

    def _lands_in_time(self, stop: float) -> bool:
        """Whether the first picture decoded from here is at or before ``start`` (reading no further than
        packets at ``stop`` seconds of the file's own clock)."""
        packets = self.container.demux(self.stream)
        while True:
            try:
                packet = next(packets)
            except Exception:  # noqa: BLE001 - the end, or damage that breaks the demuxer: not in time here
                return False
            stamp = packet.pts if packet.dts is None else packet.dts
            if stamp is not None and packet.time_base and float(stamp * packet.time_base) > stop:
                return False
            try:
                frames = self.stream.decode(packet)
            except (av.error.FFmpegError, ValueError):
                continue
            for vf in frames:
                if vf.pts is not None and vf.time_base is not None:
                    return float(vf.pts * vf.time_base) <= self._shift + 1e-6

    def _video_start(self) -> float | None:
        """Where the video stream starts (seconds), if the container says so and no seek moved us."""
        return None if self.start and not self._read_to_start() else self._stream_start()  # (else not sought)

    def _read_to_start(self) -> bool:
        """Whether ``start`` is reached by reading up to it (:meth:`_up_to_start`), not by a seek: in a file whose
        clock may start again midway (:class:`Clock`), in files joined by FFmpeg's concat demuxer, which
        seeks only where its script says every file's length (roadseg's does not: a damaged file's may be wrong),
        in a raw H.264/HEVC stream, which has no timestamps to seek by (:class:`Untimed`: FFmpeg refused the seek,
        'cannot seek ... (Operation not permitted)', and read it from its start, every picture decoded), and in input
        read once (a pipe: an FLV read from one, refused a seek as FFmpeg read on to its end for a keyframe past
        ``start``, went back to no picture: 'no video frames after --start 1s')."""
        piped = not self.remote and not Path(self.path).is_file()
        return self.clock is not None or self.container.format.name == "concat" or self._untimed is not None or piped
