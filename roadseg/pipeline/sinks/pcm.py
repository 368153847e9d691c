"""Sound for an output that pairs its audio with its pictures by count (MXF): 48 kHz PCM that covers the
whole video, each sample where the input's sound is, counted from the first picture.

FFmpeg's MXF muxer takes 48 kHz PCM only and reads no timestamp: it numbers each stream's packets 0, 1, 2 ...
as they come, cuts the sound into one picture's worth each (its ``pcm_rechunk`` filter), and ends the file
with the last picture that has sound beside it. Copied as it came, sound that began after the first picture,
or had a hole, played early, and a video longer than its sound lost its last pictures. A
:class:`FilledTrack` puts each decoded frame at its place from the first picture: silence before it where
the sound begins late or has a hole (up to :data:`LEAP`; further is a damaged timestamp, and the sound
follows on), what lies before the first picture or over sound already there cut off, and at the end silence
up to the last picture (the muxer cuts what runs past it). Until the first picture is known, it holds the newest
:data:`HOLD` seconds of sound only (what came before them lies before that picture in any file that interleaves its
streams within FFmpeg's own bound, and would be cut there).

Example:
    >>> import io
    >>> from fractions import Fraction
    >>> with av.open(io.BytesIO(), "w", format="mxf") as out:
    ...     video = out.add_stream("mpeg2video", rate=25)
    ...     video.width, video.height = 64, 48
    ...     track = FilledTrack(out, "mono", "pcm_s16le", out.mux)
    ...     track.start(0.0)
    ...     for i in range(5):
    ...         picture = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
    ...         picture.pts, picture.time_base = i, Fraction(1, 25)
    ...         out.mux(video.encode(picture))
    ...     out.mux(video.encode(None))
    ...     track.finish(5 / 25)  # no sound came: 0.2 s of silence, one picture's worth beside each
    >>> track.samples
    9600
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import av
import numpy as np

RATE = 48000  # the only sample rate FFmpeg's MXF muxer takes
#: seconds a frame may lie off the end of the sound so far and still follow on (timestamps' rounding)
SLACK = 0.002
#: seconds of a hole in the sound (or of its late start) beyond which a timestamp is damage: the sound follows on
LEAP = 10.0
#: seconds of sound held until the first picture is known: the newest, the older going as more comes (FFmpeg's muxers
#: interleave streams within 10 s, ``max_interleave_delta``; was: all of it, 15.4 s of a file whose video began 15 s in)
HOLD = 10.0


def pcm_encoder(stream) -> str:
    """The PCM an input audio ``stream`` goes into MXF as: 16-bit where its samples are (16-bit PCM, G.711,
    ...), else 24-bit (AAC, Opus, FLAC and 24-bit PCM decode to more than 16 bits)."""
    name = stream.codec_context.format.name if stream.codec_context.format else ""
    return "pcm_s16le" if name.rstrip("p") in ("u8", "s16") else "pcm_s24le"


def _silence(fmt: str, layout, rate: int, samples: int) -> av.AudioFrame:
    frame = av.AudioFrame(format=fmt, layout=layout, samples=samples)
    for plane in frame.planes:
        plane.update(bytes(plane.buffer_size))
    frame.sample_rate = rate
    return frame


def _seconds(frame: av.AudioFrame) -> float:
    return frame.samples / (frame.sample_rate or RATE)


def _cut(frame: av.AudioFrame, start: int) -> av.AudioFrame:
    """``frame`` without its first ``start`` samples (each sample of a packed format holds every channel).

    >>> packed = av.AudioFrame.from_ndarray(np.arange(8, dtype=np.int16)[None], format="s16", layout="stereo")
    >>> planar = av.AudioFrame.from_ndarray(np.arange(8, dtype=np.float32).reshape(2, 4), format="fltp", layout="stereo")
    >>> _cut(packed, 1).to_ndarray().tolist(), _cut(planar, 3).to_ndarray().tolist()
    ([[2, 3, 4, 5, 6, 7]], [[3.0], [7.0]])
    """
    data = frame.to_ndarray()
    step = 1 if frame.format.is_planar else len(frame.layout.channels)
    cut = av.AudioFrame.from_ndarray(np.ascontiguousarray(data[:, start * step :]), format=frame.format.name,
                                     layout=frame.layout)  # fmt: skip
    cut.sample_rate = frame.sample_rate
    return cut


class FilledTrack:
    """One audio stream of an MXF output: decoded frames in (:meth:`push`, on the input's clock), 48 kHz PCM
    packets out (to ``write``), in step with the pictures counted from the first (:meth:`start`) and as
    long as they are (:meth:`finish`).

    Args:
        container: the output, before its header is written.
        layout: the input's channel layout (kept: MXF takes any).
        encoder: ``pcm_s16le`` or ``pcm_s24le`` (:func:`pcm_encoder`).
        write: where each packet goes (a muxer's ``mux``, or one that counts what it refuses).
    """

    def __init__(self, container, layout, encoder: str, write: Callable[[av.Packet], None]) -> None:
        self.out = container.add_stream(encoder, rate=RATE)
        self.out.layout = layout
        self._format = self.out.codec_context.codec.audio_formats[0].name  # s16, or s32 for 24-bit
        self._write = write
        self._resampler: av.AudioResampler | None = None
        self._zero: float | None = None  # the first picture's time, seconds on the input's clock
        self._held: deque[av.AudioFrame] = deque()  # frames decoded before the first picture was known
        self.held = 0.0  # seconds of sound in them (up to HOLD and a frame)
        self._end = 0.0  # where the sound so far ends, seconds from the first picture
        self.samples = 0  # 48 kHz samples encoded

    def start(self, zero: float) -> None:
        """The first picture's time (seconds, on the clock of the frames pushed): the sound's 0."""
        if self._zero is None:
            self._zero = zero
            held, self._held, self.held = self._held, deque(), 0.0
            for frame in held:
                self.push(frame)

    def push(self, frame: av.AudioFrame) -> None:
        """Place one decoded frame: after silence where it begins later than the sound so far ends, cut where
        it begins earlier (before the first picture, or over sound already placed)."""
        if self._zero is None:
            self._hold(frame)
            return
        at = self._end if frame.time is None else float(frame.time) - self._zero
        rate = frame.sample_rate
        if SLACK < at - self._end <= LEAP:  # (further: a damaged timestamp, and the sound follows on)
            hole = round((at - self._end) * rate)
            self._resample(_silence(frame.format.name, frame.layout, rate, hole))
            self._end += hole / rate
        elif at < self._end - SLACK:
            start = round((self._end - at) * rate)
            if start >= frame.samples:
                return
            frame = _cut(frame, start)
        self._resample(frame)
        self._end += frame.samples / rate

    def _hold(self, frame: av.AudioFrame) -> None:
        """Hold ``frame`` until the first picture is known, and let go of the oldest held while the newer ones
        span :data:`HOLD` seconds (sound that far before the first picture would be cut)."""
        self._held.append(frame)
        self.held += _seconds(frame)
        while self.held - _seconds(self._held[0]) >= HOLD:
            self.held -= _seconds(self._held.popleft())

    def finish(self, end: float) -> None:
        """Encode what is still held, then silence up to ``end`` (seconds from the first picture: where the
        last one ends), and flush the encoder. Without a first picture, nothing is written."""
        if self._zero is None:
            return
        if self._resampler is not None:
            self._encode(self._resampler.resample(None))
        while (missing := round(end * RATE) - self.samples) > 0:
            self._encode([_silence(self._format, self.out.layout, RATE, min(missing, RATE))])
        for packet in self.out.encode(None):
            self._write(packet)

    def _resample(self, frame: av.AudioFrame) -> None:
        frame.pts = None  # (placed by its order: the resampler times nothing)
        if self._resampler is None:
            self._resampler = av.AudioResampler(format=self._format, layout=self.out.layout, rate=RATE)
        try:
            frames = self._resampler.resample(frame)
        except ValueError:  # a frame of another rate or layout than the ones before (a stream that changed)
            frames = self._resampler.resample(None)
            self._resampler = av.AudioResampler(format=self._format, layout=self.out.layout, rate=RATE)
            frames += self._resampler.resample(frame)
        self._encode(frames)

    def _encode(self, frames) -> None:
        for frame in frames:
            frame.pts, frame.time_base = self.samples, self.out.codec_context.time_base
            self.samples += frame.samples
            for packet in self.out.encode(frame):
                self._write(packet)
