"""A file played live, paced (:class:`~roadseg.pipeline.sources.capture.LiveSource`): each video packet given at
its time (:class:`Timetable`), afresh where its clock starts again (:func:`started_again`: a join, a loop), and its
video packets whose stamps alone are damaged put back in line before they are paced (:func:`in_line`), as
:class:`~roadseg.pipeline.sources.inline.InLine` puts a file's pictures read whole.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator

import av

from roadseg.pipeline.sources.base import Frame
from roadseg.pipeline.sources.clock import LEAP
from roadseg.pipeline.sources.inline import InLine
from roadseg.pipeline.sources.presented import Presented

log = logging.getLogger("roadseg")


def started_again(t: float, last: float) -> bool:
    """Whether the clock of a file played live started again at ``t`` seconds, its video packet before at ``last``:
    it stepped back more than :data:`RESTART`, or leapt more than :data:`~roadseg.pipeline.sources.clock.LEAP`
    ahead (a recording joined on whose clock ran on), which is not waited out, as a file read whole takes it out
    (:class:`~roadseg.pipeline.sources.clock.Clock`).

    >>> started_again(0.0, 2.0), started_again(102.0, 2.0), started_again(5.0, 2.0)  # a pause of 3 s is paced
    (True, True, False)
    """
    return t < last - RESTART or t > last + LEAP


class Timetable:
    """When each video packet of a file played live is due (``time.monotonic()``): at its stream time after the
    first's, read at ``now``; where its clock starts again (:func:`started_again`), a frame ``step`` after the last
    one due, the recording after it paced from there.

    >>> timetable = Timetable(step=0.04)
    >>> timetable.due(10.0, now=100.0), timetable.due(10.5, now=100.1), timetable.due(0.0, now=100.2)  # (0.0: a join)
    (100.0, 100.5, 100.54)
    """

    def __init__(self, step: float) -> None:
        self.step = step
        self._paced: tuple[float, float] | None = None  # (time.monotonic(), stream time) the file is paced from
        self._last, self._due = None, 0.0  # the last video packet's stream time, and when it was due

    def due(self, t: float, now: float) -> float:
        """When the video packet at stream time ``t``, read at ``now``, is due (later than that, the lag counts)."""
        if self._paced is None:
            self._paced = (now, t)
        elif started_again(t, self._last):  # (a join: the next recording is due a frame step after the last)
            self._paced = (self._due + self.step, t)
        self._last = t
        self._due = self._paced[0] + t - self._paced[1]
        return self._due


def in_line(packets: Iterator[av.Packet], step: float | None, presented: Presented | None = None) -> Iterator[av.Packet]:
    """A file's ``packets`` (in file order), each video packet whose timestamps alone are damaged moved back in line
    with the pictures around it, where :class:`~roadseg.pipeline.sources.inline.InLine` puts a file's pictures read
    whole (``step``: the frame step of the stream's rate, None where unknown), by its decoding time: the packets of
    a file played live are then paced, and their pictures tied to the capture clock, at their place (was: a first
    picture stamped 30 s on tied the clock there, the sound read before it 30 s before the recording; one stamped
    0.7 s ahead waited out, and the pictures after it played 0.7 s late). The file is read up to twice
    :data:`~roadseg.pipeline.sources.gaps.RUN` pictures ahead, its first RUN + 1 at its start, while InLine judges
    (a file at once, before its packets are paced: no latency; a pipe fed in real time waits for them); every packet
    keeps its place in the file's order. Where the file breaks off, what was read is passed first. At most
    :data:`MAX_JUDGING` packets wait: past that (a file whose video stops, or has a hole, while pictures are judged:
    its sound was all held, 472 of a 5-picture clip's 477 packets with 10 s of sound), the pictures held are judged
    by what came so far, as at the end, and everything held is passed. A presentation time damaged alone (a stream
    with B-frames, its decoding time in line) is put back after decoding, by ``presented``, whose pictures the line
    said at the end counts too.
    """
    line, held, judged = InLine(step), deque(), 0  # (held: packets in file order from the first not judged)

    def passed(frames: list[Frame]) -> Iterator[av.Packet]:
        nonlocal judged
        for frame in frames:
            packet, at = frame.image, frame.pts
            if (stamp := _stamp(packet)) is not None and at != stamp:
                if packet.dts is not None:  # (its presentation time moved as far: the damage moved the PES header's)
                    packet.dts = at
                if packet.pts is not None:
                    packet.pts += at - stamp
            judged += 1
        while held and (judged or not _judged(held[0])):
            if _judged(held[0]):
                judged -= 1
            yield held.popleft()

    try:
        for packet in packets:
            held.append(packet)
            if _judged(packet):
                yield from passed(line.take(Frame(0, packet, _stamp(packet), packet.time_base)))
            elif len(held) == 1:
                yield held.popleft()
            if len(held) >= MAX_JUDGING:  # (the pictures held judged as at the end: all of it passes)
                yield from passed(line.flush())
    except Exception:  # noqa: BLE001 - damage that breaks the demuxer: what was read goes first, then the error
        yield from passed(line.flush())
        raise
    yield from passed(line.flush())
    if n := line.retimed + (presented.retimed if presented is not None else 0):
        said = "1 picture with a damaged timestamp" if n == 1 else f"{n} pictures with damaged timestamps"
        log.warning("put %s back in line with the pictures around %s", said, "it" if n == 1 else "them")


def _stamp(packet: av.Packet) -> int | None:
    """The timestamp :func:`in_line` judges ``packet`` by: its decoding time, else its presentation time where its
    stream shows its pictures in the order they are decoded (a Matroska file's first pictures with B-frames have no
    decoding time, and their presentation times are out of order: two of them were taken for damage and moved).
    None: it passes as it came."""
    if packet.dts is not None:
        return packet.dts
    return None if packet.stream.codec_context.has_b_frames else packet.pts


def _judged(packet: av.Packet) -> bool:
    """Whether ``packet`` is one :func:`in_line` judges: a video packet with a picture in it."""
    return packet.stream is not None and packet.stream.type == "video" and packet.size > 0


MAX_JUDGING = 256  # packets in_line holds while pictures among them are judged (16 pictures at 25 frames/s with
# their sound hold about 50)
RESTART = 0.5  # seconds a stream's timestamps may step back before its clock counts as started again
