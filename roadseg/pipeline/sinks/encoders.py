"""What a video encoder is told: which one (and whether it opens here), its constant-quality options,
its pixel format (a palette for GIF), the colour matrix a stream is tagged with, an even size where
that format needs one.

Example:
    >>> encoder_options("libx264", crf=23, preset="superfast")
    {'crf': '23', 'preset': 'superfast'}
    >>> even_size(127, 96)
    (128, 96)
"""

from __future__ import annotations

from fractions import Fraction

import av
import av.filter
from av.video.reformatter import ColorRange, Colorspace

from roadseg.errors import SinkError
from roadseg.pipeline.sinks.formats import PROGRAM_STREAM_ENCODERS, PROGRAM_STREAMS

HARDWARE_ENCODERS = ("_nvenc", "_qsv", "_vaapi", "_amf", "_videotoolbox")


def encoder_usable(codec: str, width: int = 64, height: int = 48) -> str | None:
    """``None`` if ``codec`` opens here, else the reason (a hardware encoder without its device)."""
    import io

    try:
        with av.open(io.BytesIO(), mode="w", format="mp4") as probe:
            stream = probe.add_stream(codec, rate=30)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.codec_context.open()
    except Exception as exc:  # PermissionError, FFmpegError, ValueError: all mean "not here"
        return str(exc).split("\n")[0] or exc.__class__.__name__
    return None


#: Encoders with a constant-quality ``crf`` option, and its range (8-bit output).
CRF_RANGE = {"libx264": (0, 51), "libx265": (0, 51), "libvpx": (4, 63), "libvpx-vp9": (0, 63),
             "libsvtav1": (0, 63), "libaom-av1": (0, 63)}  # fmt: skip
#: FFmpeg's MPEG-style encoders: no ``crf``, but a constant quantiser (``qscale``, 1-31) instead.
QSCALE_ENCODERS = ("mpeg4", "mpeg2video", "mpeg1video", "mjpeg", "msmpeg4", "msmpeg4v2", "h263", "h263p", "flv",
                   "wmv1", "wmv2")  # fmt: skip
X26X_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
                "placebo")  # fmt: skip


#: Endings of MPEG program streams (FFmpeg's ``mpeg``, ``svcd`` and ``dvd`` muxers), which players expect MPEG-1/2
#: video in: their video is MPEG-2 by default (H.264, which FFmpeg writes in them too, played in ffplay alone, most
#: of its pictures' PES packets without a time: 28 of 30)
PROGRAM_STREAM_ENDINGS = frozenset({".mpg", ".mpeg", ".vob", ".dvd"})


def default_encoders(suffix: str) -> tuple[str | None, ...]:
    """The video encoders an output whose name ends with ``suffix`` is tried with where no ``--codec`` is asked for, in
    order (None: the container's own, for one that cannot hold H.264: VP9 in WebM): MPEG-2 in an MPEG program stream
    (:data:`PROGRAM_STREAM_ENDINGS`), else H.264.

    >>> default_encoders(".MPG"), default_encoders(".ts"), default_encoders("")
    (('mpeg2video', None), ('libx264', None), ('libx264', None))
    """
    return ("mpeg2video" if suffix.lower() in PROGRAM_STREAM_ENDINGS else "libx264", None)


def check_program_stream(encoder: str, format_name: str, shown: str) -> None:
    """:class:`SinkError` in one line where ``encoder``'s video goes into an MPEG program stream (``format_name``, one
    of :data:`~roadseg.pipeline.sinks.formats.PROGRAM_STREAMS`) that FFmpeg reads back without its pictures' times
    or not at all (:data:`~roadseg.pipeline.sinks.formats.PROGRAM_STREAM_ENCODERS`; was: written without a word).

    >>> check_program_stream("libx264", "mpeg", "o.mpg")  # (x264's H.264 goes in timed: nothing said)
    >>> check_program_stream("libx265", "vob", "o.vob")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    roadseg.errors.SinkError: --codec libx265 cannot go into an MPEG program stream (o.vob): FFmpeg reads hevc's ...
    """
    if format_name in PROGRAM_STREAMS and encoder not in PROGRAM_STREAM_ENCODERS:
        raise SinkError(f"--codec {encoder} cannot go into an MPEG program stream ({shown}): FFmpeg reads "
                        f"{av.Codec(encoder, 'w').canonical_name}'s pictures back from it without their times or "
                        "not at all; .mkv holds it (a program stream holds MPEG-1/2, mpeg4 or libx264)")  # fmt: skip


def encoder_name(codec: str) -> str | None:
    """The encoder FFmpeg opens for ``codec`` (``h264`` -> ``libx264``), None if there is none."""
    try:
        return av.Codec(codec, "w").name
    except Exception:  # noqa: BLE001 - UnknownCodecError, or no encoder built in
        return None


def check_video_encoder(codec: str) -> str:
    """The encoder FFmpeg opens for ``codec`` (``h264`` -> ``libx264``), or :class:`SinkError` in one
    line where this FFmpeg has no such encoder or it is not a video one (``--codec aac``)."""
    try:
        found = av.Codec(codec, "w")
    except Exception:  # noqa: BLE001 - UnknownCodecError, or no encoder built in
        raise SinkError(f"no video encoder {codec!r} in this FFmpeg (PyAV's build); `roadseg info` lists the "
                        "usual ones it has") from None  # fmt: skip
    if found.type != "video":
        raise SinkError(f"--codec {codec}: {found.name} is an {found.type} encoder, not a video one")
    return found.name


def qscale_of(crf: int) -> int:
    """The MPEG quantiser whose step matches H.264's at QP ``crf`` (step 0.625 * 2^(QP/6) = 2 * q),
    so ``--crf`` means about the same picture for mpeg4 or mjpeg as for x264.

    >>> [qscale_of(crf) for crf in (0, 18, 23, 28, 51)]
    [1, 2, 4, 8, 31]
    """
    return min(31, max(1, round(0.3125 * 2 ** (crf / 6))))


def encoder_options(name: str, crf: int, preset: str) -> dict[str, str]:
    """The options encoder ``name`` opens with: quality ``crf``, at a speed that keeps up with the model.

    A ``crf`` outside the encoder's range or a preset x264/x265 does not know raises :class:`SinkError`
    (FFmpeg would say "Numerical result out of range", or x264 clamp it silently).

    >>> encoder_options("libvpx-vp9", 23, "superfast")["deadline"]
    'realtime'
    >>> encoder_options("libx264", 60, "superfast")
    Traceback (most recent call last):
    roadseg.errors.SinkError: crf 60 is out of libx264's range 0-51
    """
    if name in CRF_RANGE and not CRF_RANGE[name][0] <= crf <= CRF_RANGE[name][1]:
        raise SinkError(f"crf {crf} is out of {name}'s range {CRF_RANGE[name][0]}-{CRF_RANGE[name][1]}")
    if name in ("libx264", "libx265"):
        if preset not in X26X_PRESETS:
            raise SinkError(f"preset {preset!r} is not one of {name}'s: {', '.join(X26X_PRESETS)}")
        # x265 prints a banner of some 20 lines on stderr unless told otherwise
        return {"crf": str(crf), "preset": preset, **({"x265-params": "log-level=error"} if name == "libx265" else {})}
    if name in ("libvpx", "libvpx-vp9"):
        # libvpx's default ("good", constrained bitrate) encodes ~15x slower than x264 superfast:
        # constant quality at its real-time speed instead
        return {"crf": str(crf), "b": "0", "deadline": "realtime", "cpu-used": "8",
                **({"row-mt": "1"} if name == "libvpx-vp9" else {})}  # fmt: skip
    if name in QSCALE_ENCODERS:  # (their default is a 200 kb/s bitrate: blocky at any real size)
        q = str(qscale_of(crf))
        return {"qmin": q, "qmax": q}
    hardware = next((suffix for suffix in HARDWARE_ENCODERS if name.endswith(suffix)), None)
    if hardware:
        return hardware_quality(hardware, crf)
    return {"crf": str(crf)}


def hardware_quality(kind: str, crf: int) -> dict[str, str]:
    """A GPU encoder's options for about the picture x264 gives at ``crf`` (H.264's QP scale, 0-51):
    each has its own constant-quality mode and none knows ``crf`` (without these, nvenc encodes at
    its default 2 Mb/s, blocky at 1080p). Not measured here (no such device): the option names are
    FFmpeg's for each encoder.

    >>> hardware_quality("_nvenc", 23), hardware_quality("_qsv", 23)
    ({'rc': 'vbr', 'cq': '23', 'b': '0'}, {'global_quality': '23'})
    """
    if not 0 <= crf <= 51:
        raise SinkError(f"crf {crf} is out of the hardware encoders' range 0-51")
    q = str(max(1, crf))  # (nvenc's cq 0 and qsv's 0 mean "the encoder's default", not lossless)
    return {
        "_nvenc": {"rc": "vbr", "cq": q, "b": "0"},  # constant quality, no bitrate cap
        "_qsv": {"global_quality": q},  # ICQ
        "_vaapi": {"rc_mode": "CQP", "qp": q},
        "_amf": {"rc": "cqp", "qp_i": q, "qp_p": q, "qp_b": q},
    }.get(kind, {})  # videotoolbox: its own default (its quality scale is not H.264's)

#: RGB formats of 8 bits a colour, in order of preference: a lossless codec keeps every pixel's colour in them
LOSSLESS_RGB = ("rgb24", "bgr0", "gbrp", "bgr24", "bgra", "rgba")


def pixel_format(codec) -> str:
    """yuv420p, which every player takes, where ``codec`` encodes it; else the codec's own first choice
    (MJPEG: full-range yuvj420p, ProRes: 4:2:2 10-bit), except that a codec of 8-bit colours that
    takes a palette gets one (GIF: each frame its own 256 colours, see :class:`FramePalette`), and a
    codec that is only lossless (FFV1, PNG, UT Video, HuffYUV) gets RGB: yuv420p's shared colour of
    four pixels blended a mask's class colours at every edge (145 colours in a 12-colour mask).

    >>> [pixel_format(av.Codec(name, "w")) for name in ("libx264", "mjpeg", "gif", "ffv1", "png", "utvideo")]
    ['yuv420p', 'yuvj420p', 'pal8', 'bgr0', 'rgb24', 'gbrp']
    """
    formats = [f.name for f in codec.video_formats or ()]
    if formats and formats[0] in ("rgb8", "bgr8") and "pal8" in formats:
        return "pal8"
    if getattr(codec, "lossless", False) and not getattr(codec, "lossy", True):
        if rgb := next((f for f in LOSSLESS_RGB if f in formats), None):
            return rgb
    return formats[0] if formats and (formats[0] == "yuvj420p" or "yuv420p" not in formats) else "yuv420p"


class FramePalette:
    """RGB frames to 8-bit palette frames, each with the 256 colours that fit it best (FFmpeg's
    palettegen and paletteuse, one palette a frame, no dithering). GIF's fixed 3-3-2-bit RGB moved a
    class colour by up to 52 levels (PSNR 21 on the sample clip; with its own palette 38), where a
    mask's dozen colours now come out exact.

    Frames go in with :meth:`push` and come out (the same timestamps) from it and from :meth:`flush`.
    """

    def __init__(self, width: int, height: int, time_base: Fraction) -> None:
        self.graph = av.filter.Graph()
        source = self.graph.add_buffer(width=width, height=height, format="rgb24", time_base=time_base)
        split, use = self.graph.add("split"), self.graph.add("paletteuse", "new=1:dither=none")
        generate = self.graph.add("palettegen", "stats_mode=single:reserve_transparent=0")
        source.link_to(split)
        split.link_to(use, 0, 0)
        split.link_to(generate, 1, 0)
        generate.link_to(use, 0, 1)
        use.link_to(self.graph.add("buffersink"))
        self.graph.configure()

    def push(self, frame: av.VideoFrame | None) -> list[av.VideoFrame]:
        """The palette frames ready after ``frame`` (None: the end; all that are left)."""
        self.graph.push(frame)
        out = []
        while True:
            try:
                out.append(self.graph.pull())
            except (av.error.BlockingIOError, av.error.EOFError):
                return out

    def flush(self) -> list[av.VideoFrame]:
        return self.push(None)


def tag_colour(context) -> tuple[Colorspace, ColorRange] | None:
    """Tag a YUV encoder's output with the matrix and range its pictures are converted by, and return
    them; None for an RGB or palette format (no matrix). For video codecs, limited range, by the matrix a
    player takes an untagged stream of its size for (:func:`sd_size`: BT.601 for SD, BT.709 for HD; the
    primaries and transfer BT.709's), so the colours play right where the tags do not get through (MPEG-4
    part 2 in AVI, MPEG-1, a player that reads none: an SD stream converted by BT.709 played up to 22 off);
    MJPEG's full-range yuvj formats are BT.601, as JPEG is. Untagged, a player takes HD pictures for
    BT.709 and SD ones for BT.601, so colours converted by swscale's default (BT.601) came out shifted
    in HD (CamVid's Building red 128,0,0 showed as 138,12,0)."""
    fmt = av.VideoFormat(context.pix_fmt)
    if fmt.is_rgb or fmt.has_palette or len(fmt.components) < 3:
        return None
    if fmt.name.startswith("yuvj"):
        context.colorspace, context.color_range = 5, ColorRange.JPEG  # (5: BT.470BG, i.e. BT.601)
        return Colorspace.ITU601, ColorRange.JPEG
    context.color_primaries = context.color_trc = 1  # BT.709 in both tables
    context.color_range = ColorRange.MPEG
    if sd_size(context.width, context.height):
        context.colorspace = 6  # SMPTE 170M: BT.601's matrix
        return Colorspace.ITU601, ColorRange.MPEG
    context.colorspace = 1
    return Colorspace.ITU709, ColorRange.MPEG


def sd_size(width: int, height: int) -> bool:
    """Whether a picture of this size is SD, which players convert by BT.601 where its stream names no matrix
    (HD, wider than 1024 or taller than 576, by BT.709).

    >>> sd_size(640, 480), sd_size(720, 576), sd_size(1280, 720), sd_size(1024, 768)
    (True, True, False, False)
    """
    return width <= 1024 and height <= 576


def even_size(width: int, height: int, pix_fmt: str = "yuv420p") -> tuple[int, int]:
    """The size an encoder of ``pix_fmt`` takes: where one colour sample is shared by two pixels across
    (4:2:0, 4:2:2) or down (4:2:0), an odd side is padded by one pixel (edge replicated); RGB, 4:4:4 and
    a palette (GIF) take any size.

    >>> even_size(641, 479, "yuv422p10le"), even_size(641, 479, "bgr0"), even_size(641, 479, "pal8")
    ((642, 479), (641, 479), (641, 479))
    """
    fmt = av.VideoFormat(pix_fmt)
    step_w, step_h = 4 // fmt.chroma_width(4), 4 // fmt.chroma_height(4)
    return -(-width // step_w) * step_w, -(-height // step_h) * step_h
