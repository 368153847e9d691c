"""A packet's time: its decoding time in seconds (:func:`packet_time`), ticks of a time base in seconds
without Fractions (:func:`seconds`), and a packet moved in time (:func:`retimed`).

Example:
    >>> packet = av.Packet(b"x")
    >>> packet.time_base, packet.pts, packet.dts = Fraction(1, 90000), 9000, 9000
    >>> packet_time(packet), packet_time(retimed(packet, 2.0)), packet.pts
    (0.1, 2.1, 189000)
"""

from __future__ import annotations

from fractions import Fraction

import av


def retimed(packet: av.Packet, shift: float) -> av.Packet:
    """``packet`` with its timestamps moved by ``shift`` seconds (a live source's: stream time -> capture clock)."""
    ticks = round(shift / packet.time_base)
    packet.pts += ticks
    packet.dts += ticks
    return packet


def packet_time(packet: av.Packet) -> float | None:
    """A packet's decoding time (its presentation time where it has none), in seconds of its stream's clock;
    None where it has neither or no time base."""
    stamp = packet.pts if packet.dts is None else packet.dts
    tb = packet.time_base
    return None if stamp is None or not tb else seconds(stamp, tb)


def seconds(ticks: int, time_base: Fraction) -> float:
    """``ticks`` of ``time_base`` in seconds: the float that ``float(ticks * time_base)`` gives (an int divided
    by an int is correctly rounded, as a Fraction's float is), without building Fractions, which cost most of
    the time of reading a file up to --start (:meth:`~roadseg.pipeline.sources.file.VideoSource._up_to_start`).

    >>> from fractions import Fraction
    >>> seconds(1234567, Fraction(1, 90000)) == float(1234567 * Fraction(1, 90000)), seconds(-1024, Fraction(1, 48000))
    (True, -0.021333333333333333)
    """
    return ticks * time_base.numerator / time_base.denominator
