"""Whether a video output plays at the shape of an anamorphic input's pictures (non-square pixels: 1440x1080 HDV,
720x576 DV and DVD): mp4 and mov tag the pixels' shape in their header whatever the codec; Matroska, WebM, AVI and
MPEG-TS only where the codec carries it in its own stream (H.264, HEVC, MPEG-4; MPEG-1/2 as one of their few display
shapes), as PyAV cannot set the container's own tag (FFmpeg's ``AVStream.sample_aspect_ratio``): VP9, AV1 and FFV1
there play with square pixels, squeezed (a line says so: :meth:`~roadseg.pipeline.sinks.opening.Opening._tell_shape`),
and their legend is drawn for square pixels (:func:`legend_aspect`).

Example:
    >>> ratio(Fraction(16, 9)), ratio(Fraction(4, 3))
    ('16:9', '4:3')
"""

from __future__ import annotations

import io
from fractions import Fraction
from typing import TYPE_CHECKING

import av
import numpy as np

if TYPE_CHECKING:
    from roadseg.pipeline.sinks.video import VideoSink

#: formats that tag the pixels' shape in their header, whatever the codec (mp4's and mov's ``pasp`` box)
TAGGED_FORMATS = frozenset({"mp4", "mov"})


def ratio(value: Fraction) -> str:
    """``value`` as a shape is written, ``W:H``."""
    return f"{value.numerator}:{value.denominator}"


def carries_aspect(format_name: str, stream, sample_aspect: Fraction) -> bool:
    """Whether a ``format_name`` output of ``stream`` (an output video stream: its encoder, size, pixel format and
    options) plays with pixels ``sample_aspect`` wide: :data:`TAGGED_FORMATS` do; any other is tried, a black picture
    encoded so into memory and read back (within 1 %: MPEG-2 holds the display shape, rounded); True where that cannot
    be tried.

    >>> with av.open(io.BytesIO(), "w", format="webm") as out:
    ...     vp9 = out.add_stream("libvpx-vp9", rate=25, options={"deadline": "realtime", "cpu-used": "8"})
    ...     vp9.width, vp9.height, vp9.pix_fmt = 144, 108, "yuv420p"
    ...     carries_aspect("webm", vp9, Fraction(4, 3)), carries_aspect("mp4", vp9, Fraction(4, 3))
    (False, True)
    """
    if format_name in TAGGED_FORMATS:
        return True
    cc = stream.codec_context
    try:
        with av.open(written := io.BytesIO(), "w", format=format_name) as probe:
            tried = probe.add_stream(cc.name, rate=25, options=dict(stream.options))
            tried.width, tried.height, tried.pix_fmt = cc.width, cc.height, cc.pix_fmt
            tried.codec_context.sample_aspect_ratio = sample_aspect
            black = av.VideoFrame.from_ndarray(np.zeros((cc.height, cc.width, 3), np.uint8), format="rgb24")
            for packet in tried.encode(black.reformat(format=cc.pix_fmt)) + tried.encode(None):
                probe.mux(packet)
        with av.open(io.BytesIO(written.getvalue())) as back:
            got = back.streams.video[0].sample_aspect_ratio
    except Exception:  # noqa: BLE001 - an encoder or format that cannot be tried so: not judged
        return True
    return got is not None and abs(float(got) / float(sample_aspect) - 1) < 0.01


def legend_aspect(written: VideoSink | None, sample_aspect: Fraction | None) -> Fraction | None:
    """The pixels' width:height a run's legend is drawn for (:class:`~roadseg.pipeline.overlay.Overlay`, once for
    every sink): the ``written`` video's as it plays (its ``plays_aspect``: None, square, where its format and codec
    cannot tag an anamorphic source's, VP9 in WebM, FFV1 in Matroska), where there is one, else the source's
    (``sample_aspect``: the views show the picture at its display shape).

    The file is what is kept, so a view beside a file that cannot tag the source's pixels gets the file's legend,
    stretched with the picture to its display shape (4/3 as wide on HDV); the file plays it right (was: drawn for
    the display shape into a file that plays with square pixels: squeezed twice, 3/4 as wide on HDV).

    >>> legend_aspect(None, Fraction(4, 3))
    Fraction(4, 3)
    """
    return sample_aspect if written is None else written.plays_aspect
