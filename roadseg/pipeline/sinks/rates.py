"""The rate an output that times its pictures by the frame is written at (MXF, AVI, MPEG-1/2, MPEG-4 part 2 on a fine
clock): the input's pictures' rate where its muxer and encoder take it, else one within 0.1 %, a whole multiple or
divisor of it, or the nearest they take (:func:`clock_rate`), asked of the FFmpeg at hand.
"""

from __future__ import annotations

import contextlib
import functools
import io
from fractions import Fraction

import av

from roadseg.pipeline.sinks.formats import PROGRAM_STREAMS
from roadseg.pipeline.sinks.routes import COUNTED

#: Ogg: a page's last picture alone carries its time (its granule position, which counts frames), the others read
#: back a frame apart before it; on a clock finer than the frame FFmpeg read a VP8 stream's first two pictures both at
#: 0.04 s (pts 511 and 512 of 1/12800), and a variable-rate input's pictures up to a frame step off their times. Its
#: pictures go at their times' places on the frame clock, a gap filled with the picture before, as MXF's
#: (:data:`~roadseg.pipeline.sinks.routes.COUNTED`), its sound as any other output's
FILLED = frozenset({"ogg", "ogv"})
#: Encoders and containers that keep a constant frame rate and take their clock from it (MPEG-1/2 know
#: only the standard rates; AVI counts frames, and so does MXF, :data:`COUNTED`; a program stream's untimed pictures are
#: read on it, :data:`~roadseg.pipeline.sinks.formats.PROGRAM_STREAMS`): their frames are timed at 1/fps, not
#: on the input's clock (1/90000 of a transport stream, 1/1000 of Matroska); MPEG-4 part 2 so only where that clock
#: is finer than its 16 bits hold. Ogg (``.ogv``) too (:data:`FILLED`)
FRAME_CLOCK_ENCODERS = frozenset({"mpeg1video", "mpeg2video", "h263", "h263p"})
FRAME_CLOCK_FORMATS = frozenset({"avi", *COUNTED, *PROGRAM_STREAMS, *FILLED})
SHORT_CLOCK_ENCODERS = frozenset({"mpeg4", "msmpeg4", "msmpeg4v2"})  # (on 1/fps only where the clock is finer than 1/65535)


#: Frame rates an MXF file holds: those FFmpeg's MXF muxer (8.1) writes a header for, the broadcast ones, their
#: doubles and a few more (each asked of the muxer at hand: :func:`_mxf_takes`)
MXF_RATES = tuple(map(Fraction, ("24000/1001 24 25 30000/1001 30 48000/1001 48 50 60000/1001 60 72000/1001 72 75 "
                                 "90000/1001 90 96000/1001 96 100 120000/1001 120").split()))  # fmt: skip


def clock_rate(fps: Fraction, encoder: str, format_name: str) -> Fraction:
    """The rate an output that times its pictures by the frame is written at, for pictures that come at ``fps``
    (:func:`~roadseg.pipeline.sources.framerates.timed_rate`): ``fps`` where its muxer and encoder take it, else one within
    0.1 % of it, else a whole multiple or divisor of it (:func:`evenly`: each picture repeated as often, or one in so
    many kept, so motion stays smooth; the nearest such), else the nearest rate they do (MXF and MPEG-1/2 know only
    some: FFmpeg's own command line picks the nearest). Asked of FFmpeg 8.1's MXF muxer (PyAV): 15 frames/s is written
    at 30, 12.5 at 25, 10 at 30 and 20 at 60 (was: all four at 23.976, the nearest, where the pictures were shown for
    one frame or two, or two or three, unevenly: a judder in steady motion).

    >>> clock_rate(Fraction(2997, 100), "libx264", "mxf"), clock_rate(Fraction(90), "libx264", "mxf")
    (Fraction(30000, 1001), Fraction(90, 1))
    >>> [str(clock_rate(Fraction(r), "libx264", "mxf")) for r in ("15", "25/2", "10", "20", "15000/1001", "200", "27")]
    ['30', '25', '30', '60', '30000/1001', '100', '25']
    >>> clock_rate(Fraction(15), "mpeg1video", "mpeg"), clock_rate(Fraction(15), "mpeg2video", "matroska")
    (Fraction(30, 1), Fraction(15, 1))
    >>> clock_rate(Fraction(51, 2), "mpeg4", "avi")
    Fraction(51, 2)
    """
    if format_name in COUNTED:
        rates, takes = MXF_RATES, _mxf_takes
    elif encoder in FRAME_CLOCK_ENCODERS:
        rates = tuple(map(Fraction, av.Codec(encoder, "w").frame_rates or ()))  # (PyAV gives AVRationals)
        takes = functools.partial(_encoder_takes, encoder)
    else:
        return fps
    near = sorted(rates, key=lambda r: abs(r - fps))
    close = [r for r in near if abs(r - fps) <= fps / 1000]
    even = sorted((r for r in rates if evenly(fps, r)), key=lambda r: max(r / fps, fps / r))
    return next((r for r in (fps, *close, *even, *near) if takes(r)), fps)


def evenly(fps: Fraction, rate: Fraction) -> int | None:
    """How many times each picture that comes at ``fps`` is shown at ``rate`` (negative: one in how many is kept),
    where that is a whole number; None where it is not (some pictures shown a frame longer than the rest).

    >>> evenly(Fraction(15), Fraction(30)), evenly(Fraction(200), Fraction(100)), evenly(Fraction(15), Fraction(24))
    (2, -2, None)
    """
    if not fps or not rate:
        return None
    if (rate / fps).denominator == 1:
        return int(rate / fps)
    return -int(fps / rate) if (fps / rate).denominator == 1 else None


@functools.cache
def _encoder_takes(encoder: str, rate: Fraction) -> bool:
    """Whether ``encoder`` opens for video at ``rate`` (MPEG-1 refuses all but 8 rates; a few ms)."""
    codec = av.CodecContext.create(encoder, "w")
    codec.width, codec.height, codec.pix_fmt = 64, 64, "yuv420p"
    codec.time_base, codec.framerate = 1 / rate, rate
    try:
        codec.open()
    except Exception:  # noqa: BLE001 - "Invalid argument" is the answer
        return False
    finally:
        with contextlib.suppress(Exception):
            codec.close()
    return True


@functools.cache
def _mxf_takes(rate: Fraction) -> bool:
    """Whether FFmpeg's MXF muxer writes a header for video at ``rate`` (a few ms, in memory)."""
    probe = av.open(io.BytesIO(), "w", format="mxf")
    try:
        video = probe.add_stream(probe.default_video_codec, rate=rate)
        video.width, video.height = 64, 64
        probe.start_encoding()
    except Exception:  # noqa: BLE001 - "Invalid argument" from the header is the answer
        return False
    finally:
        with contextlib.suppress(Exception):
            probe.close()  # (the trailer of a stream without packets: MXF refuses it)
    return True
