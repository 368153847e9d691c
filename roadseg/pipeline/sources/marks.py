"""Bytes of a file lost without a trace, read from where its packets lie: marks of pictures lost for
:class:`~roadseg.pipeline.sources.gaps.Gaps` where the demuxer marks nothing. A Matroska demuxer passes over damage to
the next cluster (:class:`PassedOver`); an MPEG-TS demuxer discards bytes out of step with its 188-byte packets, and a
PES whose header is lost (:class:`Discarded`).
"""

from __future__ import annotations

#: bytes between two packets of a Matroska file past which its demuxer passed over damage to find the next
#: cluster: the elements between two blocks take a few dozen (a cluster's start, a block group's fields)
PASSED_OVER = 1024


class PassedOver:
    """Whether a Matroska demuxer passed over bytes that gave no packet since :attr:`over` was last reset: where
    it cannot read an element (damage), it looks for the next cluster, and the packets between are lost without
    a trace, the pictures after them beginning at a keyframe as a burst of a motion-triggered camera does. Every
    packet of the file, of every stream, is taken in the order read; their places and sizes show the bytes
    between them.

    >>> passed = PassedOver()
    >>> for pos, size in [(100, 500), (612, 300), (912, 40), (912, 40), (5000, 300)]:  # two frames laced in a block
    ...     passed.take(pos, size)
    ...     passed.over
    False
    False
    False
    False
    True
    """

    def __init__(self) -> None:
        self.over = False
        self._at: int | None = None  # the place of the last packet read
        self._end: int | None = None  # where it (and the frames laced with it) ends

    def take(self, pos: int | None, size: int) -> None:
        """The next packet read, at byte ``pos`` of the file (None or -1: unknown), ``size`` bytes."""
        if pos is None or pos < 0 or not size:
            return
        if pos == self._at and self._end is not None:  # (frames laced in one block share its place)
            self._end += size
            return
        if self._end is not None and pos - self._end > PASSED_OVER:
            self.over = True
        self._at, self._end = pos, pos + size


#: bytes of a transport stream's packet, and the byte each begins with (:class:`Discarded`)
TS_PACKET, TS_SYNC = 188, 0x47
#: bytes between two video packets of a transport stream past which :class:`Discarded` reads none of them (a
#: bound on what it holds: a picture takes a few hundred kB at most, with the sound between)
SCANNED = 16 << 20


class Discarded:
    """Whether the MPEG-TS demuxer discarded bytes of the file between two video packets, read from the file's own
    transport packets (188 bytes each): bytes out of step with them (damage it searched on past for the next one,
    as zeroed ones), or a packet of the video's PID that begins a PES but whose PES header is not there (damage: it
    skips that PES, a picture, to the next). The pictures in them are lost without a trace but the step over them,
    and where they lay just before a keyframe FFmpeg marks nothing: the continuity counters did not jump (a PES
    header damaged, every TS packet there; or zeroed ones 16 to a counter's turn), or jumped where recordings
    joined with ``cat`` jump too, at a keyframe (a camera that goes on with its clock into its next file leaves the
    time it took to start it, a step as long as a loss's). A join is whole packets in step, with PES headers.
    Each video packet is taken in the order read, at its place (FFmpeg's: its PES's first TS packet); the
    packets from the one before are read, up to :data:`SCANNED` bytes.

    >>> import io
    >>> def ts(pid, start, payload):
    ...     return bytes([TS_SYNC, start << 6 | pid >> 8, pid & 255, 0x10]) + payload.ljust(184, b"\\xff")
    >>> pes, rest = ts(256, 1, b"\\0\\0\\1\\xe0"), ts(256, 0, b"")
    >>> data = pes + rest + ts(257, 1, b"\\0\\0\\1\\xc0") + pes + bytes(188) + pes + ts(256, 1, b"\\0\\1\\1\\xe0") + pes
    >>> discarded = Discarded(io.BytesIO(data), 256)
    >>> [discarded.take(188 * n) for n in (0, 3, 5, 7)]  # (in step; zeroed bytes before 5; a PES header damaged)
    [False, False, True, True]
    """

    def __init__(self, file, pid: int) -> None:
        self._file = file  # (binary, seekable: the file's own bytes)
        self._pid = pid
        self._at: int | None = None  # the place of the last video packet taken

    @classmethod
    def of(cls, path: str, pid: int) -> Discarded | None:
        """One reading the file at ``path`` (the video's PID ``pid``), where it is a file of 188-byte transport
        packets from its start (None: a pipe, a URL, M2TS' 192-byte ones, other bytes before them, a PID that is
        no PES's)."""
        try:
            file = open(path, "rb")  # noqa: SIM115 - held open while the file is read: close()
        except OSError:
            return None
        head = file.read(2 * TS_PACKET + 1)
        in_step = len(head) > 2 * TS_PACKET and head[0] == head[TS_PACKET] == head[2 * TS_PACKET] == TS_SYNC
        if not in_step or not 0x20 <= pid < 0x1FFF or not file.seekable():
            file.close()
            return None
        return cls(file, pid)

    def close(self) -> None:
        self._file.close()

    def take(self, pos: int | None) -> bool:
        """The next video packet, at byte ``pos`` of the file (None or -1: unknown): whether bytes were discarded
        since the one before."""
        if pos is None or pos < 0 or self._at is not None and pos <= self._at:
            return False
        at, self._at = self._at, pos
        if at is None or pos - at > SCANNED:
            return False
        self._file.seek(at)
        data = self._file.read(pos - at)
        for i in range(0, len(data), TS_PACKET):
            if data[i] != TS_SYNC or i + TS_PACKET > len(data):  # (out of step: bytes it searched on past)
                return True
            pid, flags = (data[i + 1] & 0x1F) << 8 | data[i + 2], data[i + 3]
            if pid != self._pid or not data[i + 1] & 0x40 or not flags & 0x10 or flags & 0xC0:
                continue  # (not the video's, begins no PES, no payload, or scrambled)
            payload = i + 4 + (1 + data[i + 4] if flags & 0x20 else 0)  # (after its adaptation field)
            if payload + 3 <= i + TS_PACKET and data[payload : payload + 3] != b"\0\0\1":
                return True
        return False
