"""Frame rates read from a video stream's header and timestamps: :func:`stated_rate`, the one :class:`VideoInfo`
holds as ``fps``, :func:`timed_rate`, the camera's rate its pictures come at (``timed_fps``), and
:func:`decoded_rate`, the one its codec says once a picture is decoded, :func:`step_rate`, the one its pictures are
judged a frame step apart at as it is read; a raw video stream's one rate for all of them, :func:`untimed_rate`; the
bounds outside which a rate is damage.

Example:
    >>> from types import SimpleNamespace as S
    >>> stream = S(average_rate=Fraction(30000, 1001), guessed_rate=Fraction(200), base_rate=None)
    >>> stated_rate(stream), timed_rate(stream)
    (Fraction(30000, 1001), Fraction(30000, 1001))
"""

from __future__ import annotations

from fractions import Fraction

from roadseg.pipeline.sources.untimed import UNTIMED_FORMATS

MIN_FPS, MAX_FPS = Fraction(1, 100), Fraction(10_000)  # nominal frame rates outside are damage
#: the fastest a camera records for playback at that rate (a phone's or an action camera's slow motion): a file
#: that states more is taken at the rate its timestamps come at, or at none where they do not say the same
#: (an mkv claiming 5000 frames/s of 25: its output was told 5000, and x264 wrote it as level 5.2 at 320x240,
#: 6.2 at 1080p, which some hardware decoders refuse)
CAMERA_FPS = Fraction(240)
#: cameras' frame rates (:func:`timed_rate`)
NOMINAL_RATES = tuple(map(Fraction, ("10 12 12.5 15 20 24000/1001 24 25 30000/1001 30 48 50 60000/1001 60 90 100 "
                                     "120000/1001 120 240").split()))  # fmt: skip
#: the rate FFmpeg reads a raw video stream that states none at (its demuxer's ``-framerate``)
RAW_FPS = Fraction(25)


def untimed_rate(stream) -> Fraction | None:
    """The one rate of video ``stream`` where it is a raw video stream, which holds no timestamps (FFmpeg's raw
    demuxers, :data:`~roadseg.pipeline.sources.untimed.UNTIMED_FORMATS`: H.264, HEVC, MPEG-1/2, MPEG-4 part 2, MJPEG
    ...; or raw H.264/HEVC streams joined by ``--concat``, to which FFmpeg's concat demuxer gives no start, as it gives
    any other file's): the rate its header states (an SPS's VUI timing, MPEG's sequence header, as FFmpeg's decoder
    reads it, :func:`decoded_rate`: H.264's ``time_scale`` over twice its ``num_units_in_tick``, x264's 60 and 1 for 30
    frames/s), where a camera's (:data:`CAMERA_FPS` at most), else FFmpeg's :data:`RAW_FPS` (a JPEG states none);
    None for any other stream. Not the demuxer's ``average_rate``, its ``-framerate``: 25 whatever the header says
    (a .m2v at 30 frames/s was written at 25, its 2 s 2.04 s long in an mkv). It places the stream's pictures for
    ``--start`` and ``--duration`` (:class:`~roadseg.pipeline.sources.untimed.Untimed`), and so times every output,
    as FFmpeg's own command line does by its parser's packet durations (was: 25 frames/s in an mp4 or mkv, the SPS's
    in an AVI or MXF: a DVR's 60 s at 30 frames/s lasted 72 s in the mp4). Not FFmpeg's ``guessed_rate``, 25 for H.264 at 120
    frames/s or HEVC at 240 (its demuxer's 25 is below 70, the header's rate above 210); nor ``base_rate``, H.264's
    field rate (60 for 30). An encoder given a 1/90000 s clock states 90000 frames/s (x264 without ``force-cfr``;
    its packets then last 0): 25.

    >>> from types import SimpleNamespace as S
    >>> raw = S(name="h264")
    >>> [untimed_rate(S(container=S(format=raw), codec_context=S(framerate=r))) for r in (30, None, 90000)]
    [Fraction(30, 1), Fraction(25, 1), Fraction(25, 1)]
    >>> joined = S(container=S(format=S(name="concat")), codec_context=S(name="hevc", framerate=Fraction(30)))
    >>> untimed_rate(S(**vars(joined), start_time=None)), untimed_rate(S(**vars(joined), start_time=0))
    (Fraction(30, 1), None)
    """
    container = getattr(stream, "container", None)
    name = container.format.name if container is not None else None
    if name == "concat" and stream.start_time is None and stream.codec_context is not None:  # (such streams joined)
        name = stream.codec_context.name
    if name not in UNTIMED_FORMATS:
        return None
    return decoded_rate(stream) or RAW_FPS


def step_rate(stream, most: Fraction | None = None) -> Fraction | None:
    """The rate at which video ``stream``'s pictures are taken to come a frame step apart as they are read (where
    :class:`~roadseg.pipeline.sources.inline.InLine` puts pictures back in line, the span of the file read, its
    pictures lost: :class:`~roadseg.pipeline.sources.gaps.Gaps`): a raw stream's :func:`untimed_rate`, else the
    header's ``average_rate``, else FFmpeg's ``guessed_rate``, the first no faster than ``most`` where given (not a
    .ts's 90 kHz tick); None where none is. A raw stream's ``average_rate`` is its demuxer's 25 whatever it states.

    >>> from types import SimpleNamespace as S
    >>> raw = S(container=S(format=S(name="h264")), codec_context=S(framerate=Fraction(120)), average_rate=25)
    >>> ts = S(container=S(format=S(name="mpegts")), average_rate=Fraction(90000), guessed_rate=Fraction(30))
    >>> step_rate(raw), step_rate(ts), step_rate(ts, MAX_FPS)
    (Fraction(120, 1), Fraction(90000, 1), Fraction(30, 1))
    """
    if (raw := untimed_rate(stream)) is not None:
        return raw
    return next((r for r in (stream.average_rate, stream.guessed_rate) if r and (most is None or r <= most)), None)


def stated_rate(stream) -> Fraction | None:
    """The frame rate of video ``stream``: the one its header states (``average_rate``) or else the one its
    first pictures' timestamps come at (``guessed_rate``), whichever is a camera's (:data:`CAMERA_FPS` at
    most); a faster one only where the two agree (not the 1/1000 s tick of a short or VFR Matroska file's
    timestamps, where FFmpeg finds no rate in them); None where none is within :data:`MIN_FPS` - :data:`MAX_FPS`.
    A stated rate twice the timed one is a field rate (interlaced H.264 whose header times it by the field: x264
    given a field's time base), the pictures' the timed one (was: 50 frames/s read, 50 frames expected of 25, a
    .mkv output stated at 50 frames/s). A raw video stream's is its :func:`untimed_rate`.

    >>> from types import SimpleNamespace as S
    >>> stated_rate(S(average_rate=Fraction(50), guessed_rate=Fraction(25)))
    Fraction(25, 1)
    """
    if (raw := untimed_rate(stream)) is not None:
        return raw
    stated, timed = (Fraction(r) if r and MIN_FPS <= r <= MAX_FPS else None for r in (stream.average_rate,
                                                                                     stream.guessed_rate))  # fmt: skip
    if stated and timed and stated == 2 * timed:  # (a field rate: two fields a picture)
        return timed
    return next((r for r in (stated, timed) if r and r <= CAMERA_FPS), stated if stated == timed else None)


def timed_rate(stream) -> Fraction | None:
    """The camera's rate that video ``stream``'s pictures come at: FFmpeg's ``guessed_rate`` (from the steps between
    its first pictures) where that is one of :data:`NOMINAL_RATES`, else the one of them within 2 % of the header's
    average (timestamps that jitter: FFmpeg finds 200 frames/s in 30 at 1/600 s, each picture up to 2 ticks late), else
    :func:`stated_rate`. The average alone is not: a picture too many or a second of them missing moves it (25.5
    frames/s for 2 s at 25 with one extra picture, 16.7 for 3 s with a 1-s gap, a phone's 29.87 at 30). Where the
    guess is twice the average's rate, the average's (FFmpeg may guess the field rate of interlaced video). A raw
    video stream's, which has no timestamps, is its :func:`untimed_rate`.

    >>> from types import SimpleNamespace as S
    >>> [timed_rate(S(guessed_rate=Fraction(g), average_rate=Fraction(a), base_rate=None)) for g, a in
    ...  (("200", "29.86"), ("25", "16.67"), ("50", "25"), ("50", "50"))]
    [Fraction(30000, 1001), Fraction(25, 1), Fraction(25, 1), Fraction(50, 1)]
    """

    if (raw := untimed_rate(stream)) is not None:
        return raw

    def nominal(rate, within: float) -> Fraction | None:
        near = min(NOMINAL_RATES, key=lambda r: abs(r - rate)) if rate else None
        return near if near is not None and abs(near - rate) <= within * near else None

    guessed, average = nominal(stream.guessed_rate, 0.001), nominal(stream.average_rate, 0.02)
    if guessed and average and guessed == 2 * average:  # (a field rate: interlaced fields, two a picture)
        return average
    return guessed or average or stated_rate(stream)


def decoded_rate(stream) -> Fraction | None:
    """The frame rate ``stream``'s codec says once a picture of it is decoded (H.264's and HEVC's timing in their VUI,
    MPEG-2's sequence header), where a camera's (:data:`CAMERA_FPS` at most); None where it says none. FFmpeg's
    probe of a .ts read from a pipe whose video begins 15 s after its sound decoded no picture and found no rate
    (its MXF output written at 30 frames/s, 60 frames of its 50 pictures at 25)."""
    rate = stream.codec_context.framerate if stream.codec_context is not None else None
    return Fraction(rate) if rate and MIN_FPS <= rate <= CAMERA_FPS else None
