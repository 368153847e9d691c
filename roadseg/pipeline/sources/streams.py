"""What a container's streams are: the video stream a file is about (:func:`picture_stream`, not a cover
picture), each stream's codec, pixel shape and length (:func:`stream_length`, a Matroska ``DURATION`` tag where
its header says none), and its video streams listed for a message; for the join's probe
(:mod:`~roadseg.pipeline.sources.probe`), where a stream ends (:func:`stream_end`), how far a sound may reach past
the pictures as its codec frames it (:func:`framing`) and how long a lone picture lasts (:func:`lone_length`).

Example:
    >>> import av
    >>> with av.open("sample_videos/road.mp4") as container:
    ...     s = picture_stream(container)
    ...     codec_of(s), is_cover(s), sample_aspect(s), video_streams(container)
    ('h264', False, None, '0: h264 960x540')
"""

from __future__ import annotations

from fractions import Fraction

import av

from roadseg.pipeline.sources.framerates import MAX_FPS, MIN_FPS
from roadseg.pipeline.sources.packets import seconds


def codec_of(stream) -> str | None:
    """The codec name of an input stream (a data stream has no codec context; a timecode track no codec)."""
    return getattr(stream.codec_context, "name", None) or getattr(stream, "name", None)


def sample_aspect(stream) -> Fraction | None:
    """The shape of ``stream``'s pixels, width:height, as a player reads it (FFmpeg's guess: the
    container's, else the codec's), where they are not square: 4:3 for 1440x1080 HDV, 32:27 for 16:9
    NTSC DVD. None for square pixels, none stated, or a value no picture has (damage)."""
    sar = stream.sample_aspect_ratio
    return Fraction(sar) if sar and sar != 1 and Fraction(1, 10) <= sar <= 10 else None


def tag_duration(value: str | None) -> float | None:
    """Seconds of a ``HH:MM:SS.fraction`` duration tag (Matroska writes one per track), None if unreadable.

    >>> tag_duration("00:01:02.500000000"), tag_duration("garbage"), tag_duration(None)
    (62.5, None, None)
    """
    try:
        h, m, sec = str(value).split(":")
        return int(h) * 3600 + int(m) * 60 + float(sec)
    except ValueError:
        return None


def stream_length(s) -> float | None:
    """A stream's own length in seconds as its header says, or, in Matroska, its ``DURATION`` tag (the
    container's may be the longer audio's, or stretched by a subtitle's damaged timestamp); None if
    neither says. Not checked: a damaged header may make it absurd."""
    if s.duration is not None and s.time_base is not None:
        return float(s.duration * s.time_base)
    return tag_duration(s.metadata.get("DURATION"))


def is_cover(stream) -> bool:
    """Whether a stream is a cover picture (an attached picture: one still, not the video)."""
    return stream.type == "video" and bool(stream.disposition & av.stream.Disposition.attached_pic)


def picture_stream(container, number: int | None = None):
    """The video stream a file is about, or None: not a cover picture (attached picture), nor a track whose header
    counts one picture beside one of more (a thumbnail track not flagged as a cover: in an mp4 whose first video
    track it is, FFmpeg's choice, and the output was that one picture), and, among several (a rear camera), the one
    FFmpeg's own choice would play; ``number``: the file's video stream of that number instead, counted from 0 as
    FFmpeg's ``-map 0:v:N`` counts (None if there is no such stream or it is a cover picture)."""
    if number is not None:
        video = list(container.streams.video)
        chosen = video[number] if 0 <= number < len(video) else None
        return None if chosen is None or is_cover(chosen) else chosen
    moving = [s for s in container.streams.video if not is_cover(s)]
    moving = [s for s in moving if s.frames != 1] or moving  # (0: no count in the header)
    if not moving:
        return None
    best = container.streams.best("video")
    return next((s for s in moving if best is not None and s.index == best.index), moving[0])


def video_streams(container) -> str:
    """The file's video streams for a message: ``0: h264 1920x1080, 1: h264 1280x720``."""

    def one(n: int, s) -> str:
        cc = s.codec_context  # (None, or without a name, where the stream's header is damaged)
        shape = f" {cc.width}x{cc.height}" if cc is not None and cc.width else ""
        return f"{n}: {getattr(cc, 'name', None) or 'unknown codec'}{shape}" + (" (a cover picture)" if is_cover(s) else "")

    return ", ".join(one(n, s) for n, s in enumerate(container.streams.video)) or "none"


def stream_end(stream) -> float | None:
    """Where ``stream`` ends (seconds of its file's clock): its start and FFmpeg's length of it, else the end that a
    Matroska muxer tags it with (``DURATION``: FFmpeg's and mkvmerge's; FFmpeg gives its streams no length of their
    own); None where neither is known.

    >>> from types import SimpleNamespace as S
    >>> stream_end(S(start_time=0, duration=None, time_base=Fraction(1, 1000), metadata={"DURATION": "00:01:00.040000000"}))
    60.04
    """
    if stream.start_time is not None and stream.duration is not None and stream.time_base:
        return seconds(stream.start_time + stream.duration, stream.time_base)
    return tag_duration(stream.metadata.get("DURATION"))


def framing(stream) -> float:
    """Seconds by which a sound ``stream`` may reach past the pictures at either end as its codec frames it: two of its
    frames (its codec's frame size, else an AAC frame's 1024 samples, at its rate; an AAC encoder's priming is one, and
    its first stamp may lie up to another off the first picture's, which a 29.97 frames/s picture's time base rounds),
    and a millisecond of rounding (that alone for another stream, or where a sound's rate is unknown).

    >>> from types import SimpleNamespace as S
    >>> sound = S(type="audio", codec_context=S(frame_size=1024, sample_rate=48000))
    >>> framing(sound), framing(S(type="data", codec_context=None))
    (0.043666666666666666, 0.001)
    """
    context = stream.codec_context if stream.type == "audio" else None
    if context is None or not context.sample_rate:
        return 0.001
    return 2 * (context.frame_size or 1024) / context.sample_rate + 0.001


def lone_length(video, length: float) -> float:
    """The seconds ``video``'s pictures last, ``length`` by FFmpeg: a frame step at the rate its codec states (its
    H.264 or MPEG-2 header's, the step its one packet lasts) where FFmpeg's is one step at its guess of the rate, a
    lone picture, whose header times fields: twice the picture's, 0.02 s of a picture at 25 frames/s. Else ``length``.

    >>> from types import SimpleNamespace as S
    >>> [lone_length(S(codec_context=S(framerate=Fraction(25)), guessed_rate=Fraction(50)), n) for n in (0.02, 0.8)]
    [0.04, 0.8]
    """
    context, guessed = video.codec_context, video.guessed_rate
    rate = context.framerate if context is not None else None
    if not rate or not guessed or not MIN_FPS <= rate <= MAX_FPS or length > 1 / guessed + 1e-6:
        return length
    return max(length, float(1 / rate))
