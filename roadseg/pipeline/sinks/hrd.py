"""H.264 that FFmpeg reads at its place in an AVI (:func:`hrd_params`): x264's HRD timing, at the level x264 picks
for the stream without it, and that level's own rate and buffer.

An AVI keeps no picture's time, only its chunk's number, and FFmpeg (8.1: ffplay, ``ffmpeg -i``, PyAV) reads an
H.264 picture there a frame step late unless the stream carries HRD timing SEI (its parser's guess: each picture shown
a frame after it is decoded; MPEG-4 part 2 and MJPEG at their place): every picture after the sound, 0.04 s at 25
frames/s, a whole second at ``--fps 1``. With x264's ``nal-hrd`` each picture says it is shown as it is decoded.
``nal-hrd`` needs a VBV cap, and x264 picks the level from it (a cap that never binds, 800 Mb/s, marked a 1080p stream
level 6.2 where it was 4.0, which some hardware decoders refuse): the cap is that level's own maximum, so the level
stays the one x264 marks without it, and the cap binds only a stream beyond what its level allows. Lossless H.264
(``--crf 0``: x264's constant quantiser 0) takes no VBV cap, so no HRD timing: it is read a frame late
(:func:`read_late`).
"""

from __future__ import annotations

import functools
from fractions import Fraction

import av
from av.codec.context import Flags

#: Each H.264 level's (``level_idc``) greatest rate (kb/s) and coded picture buffer (kb) for the Baseline and Main
#: profiles (H.264 table A-1; x264's own, which it checks a VBV cap against); 9 is level 1b
LEVEL_LIMITS = {9: (128, 350), 10: (64, 175), 11: (192, 500), 12: (384, 1000), 13: (768, 2000), 20: (2000, 2000),
                21: (4000, 4000), 22: (4000, 4000), 30: (10000, 10000), 31: (14000, 14000), 32: (20000, 20000),
                40: (20000, 25000), 41: (50000, 62500), 42: (50000, 62500), 50: (135000, 135000),
                51: (240000, 240000), 52: (240000, 240000), 60: (240000, 240000), 61: (240000, 240000),
                62: (240000, 240000)}  # fmt: skip
#: How many times those a profile (``profile_idc``) may take (table A-2: High 1.25, High 10 3, High 4:2:2 and
#: 4:4:4 4; x264's ``cbp_factor``)
PROFILE_FACTOR = {100: Fraction(5, 4), 110: Fraction(3), 122: Fraction(4), 244: Fraction(4)}


def hrd_params(options: dict[str, str], width: int, height: int, fps: Fraction, pix_fmt: str) -> str:
    """x264's ``x264-params`` for a stream of ``options`` (crf, preset ...) at that size, rate and pixel format that
    FFmpeg reads at each picture's place in an AVI: HRD timing SEI (``nal-hrd``), its VBV cap at the level x264 marks
    without it (:func:`profile_level`), which is kept.

    >>> hrd_params({"preset": "superfast", "crf": "23", "bf": "0"}, 1920, 1080, Fraction(25), "yuv420p")
    'level=40:nal-hrd=vbr:vbv-maxrate=25000:vbv-bufsize=31250'
    """
    profile, level = profile_level(tuple(sorted(options.items())), width, height, Fraction(fps), pix_fmt)
    rate, buffer = LEVEL_LIMITS.get(level, LEVEL_LIMITS[62])
    factor = PROFILE_FACTOR.get(profile, Fraction(1))
    return f"level={level}:nal-hrd=vbr:vbv-maxrate={int(rate * factor)}:vbv-bufsize={int(buffer * factor)}"


def read_late(options: dict[str, str]) -> bool:
    """Whether x264 with ``options`` writes no HRD timing all the same, so that FFmpeg reads each picture of an AVI a
    frame step late: lossless (crf 0, 8-bit: constant quantiser 0), which x264 encodes without the VBV cap that
    ``nal-hrd`` needs (it says "VBV is incompatible with constant QP, ignored").

    >>> read_late({"crf": "0", "preset": "superfast"}), read_late({"crf": "1", "preset": "superfast"})
    (True, False)
    """
    return options.get("crf") == "0" or options.get("qp") == "0"


@functools.cache
def profile_level(options: tuple[tuple[str, str], ...], width: int, height: int, fps: Fraction,
                  pix_fmt: str) -> tuple[int, int]:  # fmt: skip
    """The profile and level (``profile_idc``, ``level_idc``) x264 marks a stream of ``options`` with: read from the
    sequence parameter set it writes as it opens (a few ms, nothing encoded).

    >>> profile_level((("crf", "23"), ("preset", "superfast")), 640, 480, Fraction(25), "yuv420p")
    (100, 30)
    """
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, pix_fmt
    codec.time_base, codec.framerate = 1 / fps, fps
    codec.flags |= Flags.global_header  # (the parameter sets in its extradata)
    codec.options = dict(options)
    codec.open()
    header = bytes(codec.extradata or b"")
    at = header.find(b"\x00\x00\x01\x67")  # (the sequence parameter set: profile, constraints, level)
    if at < 0 or len(header) < at + 7:
        return 100, 62
    return header[at + 4], header[at + 6]
