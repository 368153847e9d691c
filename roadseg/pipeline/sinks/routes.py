"""How each audio stream goes into an output (:func:`routes`), tried alone in memory, so that one damaged stream
never costs the others, nor the video.

A stream is copied packet for packet where it can be (tried: :mod:`~roadseg.pipeline.sinks.copytrial`). One the
output cannot carry (G.711 into mp4, AAC into webm, raw AAC into WTV), or would time wrong (an AVI's AAC or MPEG
audio into an AVI: :func:`~roadseg.pipeline.sinks.copytrial._timed_by_bytes`), or carries where many players do not
play it (PCM, FLAC or Opus into mp4), is re-encoded into a codec it can (AAC, else Opus, else the container's own;
WTV's own where it would be AAC), and one line says so (MXF takes 48 kHz PCM only, filled with silence to cover the
video: :data:`COUNTED`; a DVD's VOB AC-3 at 48 kHz only: :func:`_into_dvd`); a stream that can be neither copied nor
decoded is left out, with one line. The remuxing itself: :class:`~roadseg.pipeline.sinks.audio.AudioRemux`.

Example:
    >>> routes([], "mp4")
    ([], [], {})
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping, Sequence

import av

from roadseg.errors import reason_of
from roadseg.pipeline.sinks.copytrial import _codec_name, _probe
from roadseg.pipeline.sinks.formats import (
    ADTS_AAC_ONLY,
    DVD_AUDIO_BITRATE,
    DVD_AUDIO_CODEC,
    DVD_AUDIO_RATE,
    DVD_FORMATS,
)
from roadseg.pipeline.sinks.pcm import RATE, pcm_encoder
from roadseg.pipeline.sources.audio import ADTS_RATES, adts_framed
from roadseg.pipeline.sources.streams import codec_of

log = logging.getLogger("roadseg")
REENCODE = ("aac", "libopus")  # tried in this order before the container's own audio codec
#: FFmpeg's usual layout of that many channels (``av_channel_layout_default``), which its resampler takes channels
#: that have no names for (Matroska's PCM): re-encoded so, each stays its own (AAC band-limits an LFE channel)
USUAL_LAYOUTS = {3: "2.1", 4: "4.0", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}
#: what an encoder that takes no layout of a stream's channels (more than it holds) mixes them down to: AC-3 (a DVD's)
#: to 5.1, the most it holds (was: stereo, a 7.1 film's surround lost); others to stereo (:func:`channel_layout`)
DOWNMIX = {"ac3": "5.1"}
#: outputs that take PCM audio only as ISO PCM ('ipcm'), which many players (Firefox, QuickTime) do not play:
#: PCM is re-encoded there, not copied (mov and mkv carry PCM as players expect)
PCM_SHY = frozenset({"mp4", "ipod", "3gp", "3g2", "f4v", "ismv"})
#: the PCM those outputs take as ISO PCM (not 8-bit, nor G.711's, which they do not take at all)
ISO_PCM = frozenset(f"pcm_{kind}{end}" for kind in ("s16", "s24", "s32", "f32", "f64") for end in ("le", "be"))
#: codecs that those outputs hold but that many players of mp4 video do not play there (a QA report names Apple's
#: and Windows' own players among them): re-encoded there as PCM is, as AAC, which all of them play (Matroska
#: carries them as players expect, WebM Opus; FFmpeg's mov takes neither, and re-encodes them anyway)
MP4_SHY = frozenset({"flac", "opus"})
#: outputs that pair sound and picture by their count, whatever the timestamps say, and cut the video where the
#: sound ends (MXF): every audio stream goes in as 48 kHz PCM placed from the first picture and filled with
#: silence to cover the video (:class:`~roadseg.pipeline.sinks.pcm.FilledTrack`)
COUNTED = frozenset({"mxf", "mxf_d10", "mxf_opatom"})


def routes(streams: Sequence, format_name: str, samples: Mapping[int, av.Packet] | None = None
           ) -> tuple[list, list[tuple[object, str]], dict[int, bytes]]:  # fmt: skip
    """How a ``format_name`` output takes each audio stream: ``(copied, reencoded, configs)``, the second
    as (stream, encoder) pairs; a stream in neither is left out. One warning line for each not copied.
    ``configs``: the copied streams of ADTS-framed AAC (MPEG-TS's) that go in raw, as a format that
    takes AAC only with its setup in the header wants it (AVI), each with that setup (:func:`adts_config`).

    Each stream is tried alone in an in-memory output: created, header written, its packet from
    ``samples`` (input stream index -> a packet, if one was read) muxed, trailer written (an mp4
    describes its streams only there). So one damaged stream never costs the others, nor the video.
    """
    copied, reencoded, configs = [], [], {}
    if format_name in COUNTED:
        return copied, _into_pcm(streams, format_name), configs
    for stream in streams:
        if format_name in DVD_FORMATS and not _dvd_ready(stream):
            if (encoder := _into_dvd(stream, format_name)) is not None:
                reencoded.append((stream, encoder))
            continue
        if _codec_name(stream) in ISO_PCM and (encoder := _shy(stream, format_name)) is not None:
            reencoded.append((stream, encoder))  # (re-encoded whether or not it could be copied: not tried)
            continue
        sample = (samples or {}).get(stream.index)
        try:
            try:
                _probe(stream, format_name, sample)
            except Exception:  # noqa: BLE001
                config = adts_config(sample) if sample is not None and codec_of(stream) == "aac" else None
                if config is None or stream.codec_context.extradata:
                    raise
                _probe(stream, format_name, unwrapped(sample), config)  # (then its error is the one told)
                configs[stream.index] = config
        except Exception as exc:  # noqa: BLE001 - damaged parameters fail in PyAV as well as in FFmpeg
            why = f"audio stream #{stream.index} ({_codec_name(stream)}) cannot be copied ({_refused(exc, format_name)})"
            encoder = _encoder_for(stream, format_name)
            if encoder is None:
                log.warning("%s; writing the video without it", why)
            else:
                log.warning("%s; re-encoding it as %s%s", why, encoder, mixed_down(stream, encoder))
                reencoded.append((stream, encoder))
            continue
        if (encoder := _shy(stream, format_name)) is not None:
            reencoded.append((stream, encoder))
            continue
        copied.append(stream)
    return copied, reencoded, configs


def _refused(exc: Exception, format_name: str) -> str:
    """Why a copy into a ``format_name`` output failed, as a line tells it: FFmpeg's bare errno of a muxer that refuses
    a codec without a word PyAV keeps (MPEG-PS's AAC: 'Invalid argument', as if the file were damaged) as the
    format's refusal.

    >>> _refused(av.error.ArgumentError(22, "Invalid argument"), "mpeg"), _refused(ValueError("no codec"), "mp4")
    ('mpeg does not take it as it is', 'no codec')
    """
    bare = isinstance(exc, av.error.ArgumentError | av.error.PatchWelcomeError)
    return f"{format_name} does not take it as it is" if bare else reason_of(exc)


def _shy(stream, format_name: str) -> str | None:
    """The encoder ``stream`` is re-encoded with where a ``format_name`` output would carry it where many players do
    not play it (PCM, FLAC or Opus into mp4: :data:`PCM_SHY`, :data:`MP4_SHY`), said in one line; None where it is
    not such a stream, or does not decode. Linear PCM (:data:`ISO_PCM`) is judged before a copy is tried: an AVI's
    stereo, whose channels have no names, cannot be copied into mp4, and the line said 'cannot be copied (Invalid
    argument)'."""
    codec = _codec_name(stream)
    if format_name not in PCM_SHY or not (codec.startswith("pcm_") or codec in MP4_SHY):
        return None
    if (encoder := _encoder_for(stream, format_name)) is not None:
        why = "would be ISO PCM, which many players do not play" if codec.startswith("pcm_") else (
            "is sound many players do not play there (write .mkv to keep it)")  # fmt: skip
        log.warning("audio stream #%d (%s) in %s %s; re-encoding it as %s%s", stream.index, codec, format_name, why,
                    encoder, mixed_down(stream, encoder))  # fmt: skip
    return encoder


def _into_pcm(streams: Sequence, format_name: str) -> list[tuple[object, str]]:
    """(stream, PCM encoder) pairs for the ``streams`` that decode, into a :data:`COUNTED` output, which holds
    48 kHz PCM only; one line for each that is not so already, and for each left out."""
    pairs = []
    for stream in streams:
        try:
            stream.codec_context.open(strict=False)
        except Exception:  # noqa: BLE001 - damaged parameters
            log.warning("audio stream #%d (%s) cannot be decoded, and %s holds PCM only; writing the video without it",
                        stream.index, _codec_name(stream), format_name.upper())  # fmt: skip
            continue
        encoder = pcm_encoder(stream)
        if _codec_name(stream) != encoder or stream.codec_context.sample_rate != RATE:
            log.warning("audio stream #%d (%s) goes into %s as %s at 48 kHz, the only sound it holds", stream.index,
                        _codec_name(stream), format_name.upper(), encoder)  # fmt: skip
        pairs.append((stream, encoder))
    return pairs


def _dvd_ready(stream) -> bool:
    """Whether ``stream`` is sound a DVD player plays as it is (AC-3 at 48 kHz: :data:`~.formats.DVD_AUDIO_CODEC`)."""
    return _codec_name(stream) == DVD_AUDIO_CODEC and stream.codec_context.sample_rate == DVD_AUDIO_RATE


def _into_dvd(stream, format_name: str) -> str | None:
    """The encoder ``stream`` goes into a DVD's ``format_name`` output with where it is not AC-3 at 48 kHz already
    (FFmpeg's ``-target dvd``: was MP2 at the input's rate, which no NTSC player plays, nor any at 44.1 kHz), said in
    one line; None, also said, where it does not decode."""
    what = f"audio stream #{stream.index} ({_codec_name(stream)}, {stream.codec_context.sample_rate} Hz)"
    if (encoder := _encoder_for(stream, format_name)) is None:
        log.warning("%s is not a DVD's sound and cannot be decoded; writing the video without it", what)
    else:
        log.warning("%s is not a DVD's sound; re-encoding it as %s at %d kHz, %d kb/s%s", what, encoder,
                    DVD_AUDIO_RATE // 1000, DVD_AUDIO_BITRATE // 1000, mixed_down(stream, encoder))  # fmt: skip
    return encoder


def _encoder_for(stream, format_name: str) -> str | None:
    """The first audio encoder a ``format_name`` output opens with ``stream`` decodable, or None (a DVD's: AC-3
    alone; a WTV's: not AAC, :data:`~.formats.ADTS_AAC_ONLY`)."""
    try:
        stream.codec_context.open(strict=False)  # a stream whose setup is damaged may not decode at all
    except Exception:  # noqa: BLE001
        return None
    names = (DVD_AUDIO_CODEC,) if format_name in DVD_FORMATS else REENCODE + (None,)
    for name in (n for n in names if not (format_name in ADTS_AAC_ONLY and n == "aac")):
        try:
            with av.open(io.BytesIO(), "w", format=format_name) as probe:
                out = add_encoded(probe, stream, name)
                probe.start_encoding()
                return out.codec_context.codec.canonical_name  # "opus", not "libopus": it names the encoder too
        except Exception:  # noqa: BLE001 - not in this container, or not with these parameters
            continue
    return None


def add_encoded(container, stream, name: str | None):
    """An audio stream of encoder ``name`` (None: the container's own) in ``container`` for ``stream``'s
    sound: its rate where the encoder takes it (else 48 kHz), its channels as :func:`channel_layout` has them; in a
    DVD's VOB at 48 kHz and 448 kb/s (:data:`~.formats.DVD_AUDIO_RATE`), resampled there where need be."""
    codec = av.codec.Codec(name or container.default_audio_codec, "w")
    dvd = container.format.name in DVD_FORMATS
    rate = DVD_AUDIO_RATE if dvd else _rate(stream, codec)
    out = container.add_stream(codec.name, rate=rate)
    out.layout = channel_layout(stream, codec, rate)
    if dvd:
        out.bit_rate = DVD_AUDIO_BITRATE
    return out


def _rate(stream, codec) -> int:
    """``stream``'s sample rate where encoder ``codec`` takes it, else 48 kHz, else the highest it takes."""
    rate = stream.codec_context.sample_rate or 48000
    rates = codec.audio_rates
    if rates and rate not in rates:
        rate = 48000 if 48000 in rates else max(rates)
    return rate


def channel_layout(stream, codec, rate: int):
    """The channel layout encoder ``codec`` is given for ``stream``'s sound: its own where the encoder takes
    it (5.1 stays 5.1), else mono, or what it mixes down to (:data:`DOWNMIX`, stereo; :func:`mixed_down` says so)."""
    channels = stream.codec_context.channels
    # (a layout of unnamed channels, as Matroska's PCM has: taken as FFmpeg's usual one of that many)
    for layout in (stream.codec_context.layout, USUAL_LAYOUTS.get(channels)) if channels > 2 else ():
        if layout is not None and _takes_layout(codec, layout, rate):
            return layout
    if channels == 1:
        return "mono"
    down = DOWNMIX.get(codec.name, "stereo")
    return down if channels > av.AudioLayout(down).nb_channels else "stereo"


def mixed_down(stream, encoder: str) -> str:
    """``, its N channels (layout) mixed down to stereo (...)`` (AC-3: to 5.1) where ``encoder`` takes no layout
    of ``stream``'s channels (more than 8 for AAC and Opus: 5.1.4, 7.1.4; more than 6 for AC-3), else ``""``: what
    the line that tells of its re-encoding adds."""
    channels = stream.codec_context.channels
    if channels <= 2:
        return ""
    codec = av.codec.Codec(encoder, "w")
    kept = channel_layout(stream, codec, _rate(stream, codec))
    if av.AudioLayout(kept).nb_channels >= channels:
        return ""
    named = stream.codec_context.layout.name
    named = "" if named == f"{channels} channels" else f" ({named})"  # (Matroska's PCM: no names)
    return f", its {channels} channels{named} mixed down to {kept} ({encoder} takes no such layout)"


def _takes_layout(codec, layout, rate: int) -> bool:
    """Whether encoder ``codec`` opens with channel ``layout`` at ``rate``."""
    try:
        context = av.CodecContext.create(codec, "w")
        context.sample_rate, context.layout, context.format = rate, layout, codec.audio_formats[0]
        context.open()
    except Exception:  # noqa: BLE001 - FFmpegError (a layout it does not take), ValueError
        return False
    return True


def adts_config(packet: av.Packet) -> bytes | None:
    """The AudioSpecificConfig that an ADTS-framed AAC ``packet``'s header describes (object type, rate,
    channels), as mp4 and AVI hold it in their header; None for raw AAC, or where the header leaves the
    channels to the frame (an in-band configuration) or holds more than one frame.

    >>> adts_config(av.Packet(bytes([0xFF, 0xF1, 0x4C, 0x40, 0x01, 0xBF, 0xFC]))).hex()  # LC, 48 kHz, mono
    '1188'
    >>> adts_config(av.Packet(b"\\x21\\x10\\x05")) is None  # raw AAC
    True
    """
    head = bytes(memoryview(packet)[:7])
    if len(head) < 7 or not adts_framed(head):
        return None
    kind, rate, channels = (head[2] >> 6) + 1, head[2] >> 2 & 0x0F, (head[2] & 1) << 2 | head[3] >> 6
    if not channels or rate >= len(ADTS_RATES) or head[6] & 0x03:
        return None
    return (kind << 11 | rate << 7 | channels << 3).to_bytes(2, "big")


def unwrapped(packet: av.Packet) -> av.Packet | None:
    """An ADTS-framed AAC ``packet`` without its header, as raw AAC (None if it has none)."""
    if adts_config(packet) is None:
        return None
    raw = av.Packet(bytes(packet)[7 if memoryview(packet)[1] & 1 else 9 :])  # (9 with a CRC)
    raw.pts, raw.dts, raw.time_base, raw.duration = packet.pts, packet.dts, packet.time_base, packet.duration
    raw.is_keyframe = packet.is_keyframe
    return raw
