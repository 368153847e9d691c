"""Whether an audio stream can be copied into an output as it is (:func:`_probe`, for
:func:`~roadseg.pipeline.sinks.routes.routes`): tried alone in an in-memory output, read back as that sound and, into AVI,
timed as it was.
"""

from __future__ import annotations

import contextlib
import io

import av

from roadseg.pipeline.sinks.formats import ADTS_AAC_ONLY
from roadseg.pipeline.sources.audio import adts_framed
from roadseg.pipeline.sources.streams import codec_of


def _probe(stream, format_name: str, sample: av.Packet | None, config: bytes | None = None) -> None:
    """Copy ``stream`` (its setup ``config`` where given) and its ``sample`` into an in-memory ``format_name``
    output (into AVI twice, a packet's time apart); raise where it fails, or where the output would not read back
    as that sound (:func:`_reads_back`), nor (AVI) its second packet a packet's time after the first
    (:func:`_timed_by_bytes`), nor (WTV) raw AAC (:data:`~.formats.ADTS_AAC_ONLY`)."""
    raw = sample is None or not adts_framed(bytes(memoryview(sample)[:2]))
    if format_name in ADTS_AAC_ONLY and codec_of(stream) == "aac" and raw:
        raise ValueError(f"{format_name} reads AAC back only ADTS-framed")
    later = _packet_ticks(stream, sample) if format_name == "avi" and sample is not None else 0
    with av.open(written := io.BytesIO(), "w", format=format_name) as probe:
        out = probe.add_stream_from_template(stream)
        if config is not None:
            out.codec_context.extradata = config
        probe.start_encoding()
        if sample is not None:
            with contextlib.suppress(Exception):  # one damaged packet says nothing about the stream
                probe.mux(_copy(sample, out))
                if later:
                    probe.mux(_copy(sample, out, later=later))
    if not _reads_back(written, format_name, stream):
        raise ValueError(f"{format_name} would not mark it as {_codec_name(stream)} sound")
    if later and _timed_by_bytes(written, sample, later):
        raise ValueError("avi would time its packets by their bytes, as its header's block size")


def _packet_ticks(stream, sample: av.Packet) -> int:
    """How long ``sample``, a packet of ``stream``, lasts in its time base's ticks: its duration, else its codec's
    frame (AVI's AAC packets have none); 0 where neither is known (PCM)."""
    if sample.duration or sample.time_base is None:
        return sample.duration or 0
    cc = stream.codec_context
    return round(cc.frame_size / cc.sample_rate / sample.time_base) if cc.frame_size and cc.sample_rate else 0


def _timed_by_bytes(written: io.BytesIO, sample: av.Packet, later: int) -> bool:
    """Whether the AVI probe output ``written``, two copies of ``sample`` ``later`` ticks apart, reads back with the
    second elsewhere: its header's sample size is the input's block size (AVI's WAVEFORMATEX, which FFmpeg keeps
    for a copy and writes as the sample size too), so packets of AAC or MPEG audio, whose sizes vary, are timed by
    their bytes (an AVI dashcam's 1 s of AAC was 0.26 s long, four packets a time; MP2's a frame early)."""
    try:
        with av.open(io.BytesIO(written.getvalue()), format="avi") as back:
            times = [p.pts * p.time_base for p in back.demux(audio=0) if p.pts is not None]
    except Exception:  # noqa: BLE001 - not judged where it does not read back
        return False
    step = later * sample.time_base
    return len(times) == 2 and abs(times[1] - times[0] - step) > step / 2


def _reads_back(written: io.BytesIO, format_name: str, stream) -> bool:
    """Whether the probe output ``written`` reads back with ``stream``'s codec as an audio stream. A
    transport stream takes PCM, FLAC or ALAC packets but marks them as private data (or another
    codec), which no player plays as sound. One that does not read back at all is not judged here."""
    try:
        with av.open(io.BytesIO(written.getvalue()), format=format_name) as back:
            if not back.streams:  # (an mp4 track without a sample, where no packet was at hand, reads back as none)
                return True
            found = {_family(s.codec_context.name) for s in back.streams if s.type == "audio"}
    except Exception:  # noqa: BLE001 - a header alone does not read back in every format
        return True
    return _family(_codec_name(stream)) in found


def _family(codec: str) -> str:
    """A codec's name, MPEG audio's layers as one (mp4 and MPEG-TS mark MP2 and MP3 alike; FFmpeg's
    decoders are ``mp3float`` and so on): ``_family("mp2") == _family("mp3float")``."""
    return "mpeg audio" if codec.removesuffix("float") in ("mp1", "mp2", "mp3") else codec


def _copy(packet: av.Packet, stream, later: int = 0) -> av.Packet:
    """A copy of ``packet`` for ``stream`` (muxing rebases a packet's timestamps in place), ``later`` ticks on."""
    copy = av.Packet(bytes(packet))
    copy.pts, copy.dts = (None if t is None else t + later for t in (packet.pts, packet.dts))
    copy.time_base, copy.stream, copy.duration = packet.time_base, stream, packet.duration
    return copy


def _codec_name(stream) -> str:
    return codec_of(stream) or "no codec"
