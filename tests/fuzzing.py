"""Fuzzing helpers: small copies of a real clip with audio, seeded mutations of them, and one CLI run per case.

The base clips are the shipped Udacity highway clip re-encoded at 320x180 (H.264 + audio) into
mp4 (AAC, audio stream first like the original, index up front), Matroska (Opus) and MPEG-TS (AAC
in ADTS; and with 3 B-frames, :data:`B_FRAMED`), and as a phone's HDR clip (HEVC 10-bit tagged PQ/BT.2020, AAC) into mov. A case is ``(container, kind, seed)``; the same case always makes the same bytes.

Example:
    >>> import numpy as np
    >>> data = bytes(range(256)) * 64
    >>> mutate(data, "mp4", "truncate", np.random.default_rng(0)) == mutate(data, "mp4", "truncate",
    ...                                                                     np.random.default_rng(0))
    True
    >>> len(mutate(data, "ts", "tail", np.random.default_rng(1))) > len(data)
    True
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
import conftest
import cv2
import numpy as np

REAL_CLIP = Path(__file__).resolve().parents[1] / "sample_videos" / "udacity-highway-1280x720.mp4"
CONTAINERS = {"mp4": "aac", "mkv": "libopus", "ts": "aac", "mov": "aac", "avi": "pcm_s16le"}  # container -> audio codec of its base clip
HDR_TAGS = {"color_primaries": 9, "color_trc": 16, "colorspace": 9, "color_range": 1}  # BT.2020, PQ, limited range
KINDS = ("bitflip", "header", "tags", "fields", "audio", "truncate", "zero", "duplicate", "swap", "tail")
TS_KINDS = (*KINDS, "stamps")  # (MPEG-TS only: damaged PES timestamps; after KINDS, so that theirs keep their seeds)
STAMP_MOVES = (0.2, 0.7, 3.0, 30.0, 3600.0)  # seconds a damaged PES timestamp is moved by, either way (or to a wrap)
PTS_HZ, PTS_WRAP = 90000, 2**33  # MPEG-TS and MPEG-PS timestamps: a 90 kHz clock of 33 bits
# the TS base clip joined byte for byte with a copy of itself (``cat a.ts b.ts``), the copy's clock this many
# seconds on from its own: the same (it starts again where the first did) or 100 s on (a leap)
JOINS = {"cat": 0.0, "catleap": 100.0}
B_FRAMED = "tsb"  # the TS base clip encoded with 3 B-frames (x264 veryfast), as phones and cameras write: its
# pictures' PES headers carry a decoding time, so a presentation time alone can be damaged (``pts`` damage)
TITLE = "udacity highway (roadseg fuzz base)"

# bytes that precede fields worth breaking: sizes, rates, time bases, timestamps, indexes, codec setup
FIELD_MARKERS = {
    "mp4": (b"mvhd", b"tkhd", b"mdhd", b"hdlr", b"stsd", b"avcC", b"esds", b"stts", b"ctts", b"stss", b"stsc",
            b"stsz", b"stco", b"elst", b"sgpd", b"sbgp"),  # fmt: skip
    "mov": (b"mvhd", b"tkhd", b"mdhd", b"hdlr", b"stsd", b"hvcC", b"colr", b"esds", b"stts", b"ctts", b"stss",
            b"stsc", b"stsz", b"stco"),  # fmt: skip  # (colr: the colour tags HDR is read by)
    "mkv": (b"\x2a\xd7\xb1", b"\x44\x89", b"\x23\xe3\x83", b"\x63\xa2", b"\xb0", b"\xba", b"\xb5", b"\x9f",
            b"\x1f\x43\xb6\x75", b"\xe7", b"\xa3", b"\x1c\x53\xbb\x6b", b"\x11\x4d\x9b\x74", b"\x16\x54\xae\x6b"),  # fmt: skip
    "ts": (b"\x47\x40\x00", b"\x47\x50\x00", b"\x47\x41\x00", b"\x47\x41\x01", b"\x00\x00\x01\xe0",
           b"\x00\x00\x01\xc0"),  # fmt: skip
    "avi": (b"avih", b"strh", b"strf", b"idx1", b"00dc", b"01wb", b"\xff\xc0", b"\xff\xc4", b"\xff\xdb"),  # (+ JPEG SOF, DHT, DQT)
    # still images (make_base_images): their headers, chunks and tables
    "jpg": (b"\xff\xc0", b"\xff\xc4", b"\xff\xdb", b"\xff\xda", b"\xff\xe0", b"\xff\xdd"),  # SOF0 DHT DQT SOS APP0 DRI
    "png": (b"IHDR", b"IDAT", b"IEND", b"sRGB", b"pHYs"),
    "webp": (b"RIFF", b"WEBP", b"VP8 ", b"VP8L", b"VP8X"),
    "bmp": (b"BM", b"\x28\x00\x00\x00"),  # (the file header; the info header's size)
    "tif": (b"II*\x00", b"\x00\x01\x03\x00", b"\x01\x01\x03\x00", b"\x11\x01", b"\x17\x01", b"\x03\x01"),  # width,
    # height, strip offsets and sizes, compression tags
}
IMAGE_KINDS = ("bitflip", "header", "fields", "truncate", "zero", "duplicate", "swap", "tail")  # (no audio, no title)
EXTREMES = (0x00, 0xFF, 0x7F, 0x80, 0x01)
# where the output's sound may lie against the input's (fuzzing.sound_problems), seconds
TOLERANCE = 0.02  # copied packets keep their times (to a millisecond in Matroska); under one AAC packet (0.021 s)
REENCODED = 0.05  # re-encoded: the input codec's priming (AAC: 1024 samples) and the new one's (Opus: 312) and framing
LEFT_OUT = re.compile(r"audio stream #(\d+) \(.*(?:is left out|; writing the video without it)")  # (sinks.routes' lines)
RESTART = 0.5  # seconds a live source's clock may step back before it counts as started again (pacing.RESTART)
RUN_GAP = 1.0  # the base clips' sound has no gap; a timestamp damaged further away than this is not sound there
IN_LINE = 0.001  # seconds between one audio packet's end and the next one's start where the second goes on
MERGED = 1.5  # times a usual packet's sound that one holding AAC frames merged by a damaged ADTS length lasts
LEAP = 10.0  # seconds another stream may begin before the picture before its first stamps count as damaged, not the
# file's start (sources.clock.LEAP, as VideoSource._origin judges it)
PLAYED = 2  # frame steps an output's picture may play off the clean input's (its timestamps alone damaged: ts-stamps)


def make_base_clips(folder: Path, *, source: Path = REAL_CLIP, size: tuple[int, int] = (180, 320),
                    frames: int = 38) -> dict[str, Path]:  # fmt: skip
    """Re-encode ``source`` small into mp4, mkv and ts (and ts with B-frames: :data:`B_FRAMED`) with audio and text
    tags; return {container: path}."""
    folder.mkdir(parents=True, exist_ok=True)
    with av.open(str(source)) as c:
        fps = c.streams.video[0].average_rate or Fraction(25)
        images = [f.to_ndarray(format="rgb24", width=size[1], height=size[0]) for f in c.decode(video=0)][:frames]
    with av.open(str(source)) as c:
        samples = np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)  # fltp [channels, n]
        rate = c.streams.audio[0].sample_rate
    clips = {ext: _encode(folder / f"base.{ext}", images, fps, samples, rate, codec) for ext, codec in CONTAINERS.items()}
    return {**clips, B_FRAMED: _encode(folder / "base-b.ts", images, fps, samples, rate, "aac", b_frames=True)}


def _encode(path: Path, images: list[np.ndarray], fps: Fraction, samples: np.ndarray, rate: int, codec: str, *,
            b_frames: bool = False) -> Path:  # fmt: skip
    hdr = path.suffix == ".mov"  # a phone's clip: HEVC 10-bit, PQ (the HDR path), AAC
    mjpeg = path.suffix == ".avi"  # a cheap dashcam's clip: MJPEG (full range) and 16-bit PCM
    options = {"fflags": "+bitexact", **({"movflags": "faststart"} if path.suffix in (".mp4", ".mov") else {})}
    with av.open(str(path), "w", container_options=options) as out:  # bitexact: no random ids, same bytes each time
        out.metadata.update({"title": TITLE, "comment": "re-encoded from sample_videos/udacity-highway-1280x720.mp4"})
        audio_rate = 48000 if codec == "libopus" else rate
        aus = out.add_stream(codec, rate=audio_rate) if path.suffix == ".mp4" else None  # mp4: audio first
        vs = out.add_stream("libx265" if hdr else "mjpeg" if mjpeg else "libx264", rate=fps)
        vs.height, vs.width = images[0].shape[:2]
        vs.pix_fmt, vs.options = "yuv420p", {"preset": "ultrafast", "crf": "28", "g": "10"}
        if b_frames:  # (a camera's: pictures decoded before they show, whose PES headers carry a decoding time)
            vs.options = {"preset": "veryfast", "crf": "28", "g": "10", "bf": "3"}
        if mjpeg:
            vs.pix_fmt, vs.options = "yuvj420p", {"q:v": "8"}
        if hdr:
            vs.pix_fmt, vs.options = "yuv420p10le", {"preset": "ultrafast", "x265-params": "keyint=10:log-level=error"}
            for name, value in HDR_TAGS.items():
                setattr(vs.codec_context, name, value)
        vs.metadata["language"] = "eng"
        aus = aus or out.add_stream(codec, rate=audio_rate)
        aus.layout = "stereo"
        for i, img in enumerate(images):
            vf = av.VideoFrame.from_ndarray(img, format="rgb24")
            if hdr:  # (SDR pixels under HDR tags: the damage, not the picture, is what is tested)
                vf = vf.reformat(format="yuv420p10le")
                for name, value in HDR_TAGS.items():
                    setattr(vf, name, value)
            vf.pts, vf.time_base = i, 1 / fps
            out.mux(vs.encode(vf))
        out.mux(vs.encode(None))
        chunk = aus.codec_context.frame_size or 1024
        stereo = np.ascontiguousarray(np.resize(samples, (2, samples.shape[1])), dtype=np.float32)
        if audio_rate != rate:  # opus wants 48 kHz: a linear resample is fine for test audio
            t = np.arange(int(stereo.shape[1] * audio_rate / rate)) * rate / audio_rate
            stereo = np.stack([np.interp(t, np.arange(stereo.shape[1]), ch) for ch in stereo]).astype(np.float32)
        for s in range(0, stereo.shape[1] - chunk + 1, chunk):
            part = np.ascontiguousarray(stereo[:, s : s + chunk])
            if codec == "pcm_s16le":  # (interleaved 16-bit samples)
                part = np.round(np.clip(part, -1, 1) * 32767).astype(np.int16).T.reshape(1, -1)
            af = av.AudioFrame.from_ndarray(part, format="s16" if codec == "pcm_s16le" else "fltp", layout="stereo")
            af.sample_rate, af.pts, af.time_base = audio_rate, s, Fraction(1, audio_rate)
            out.mux(aus.encode(af))
        out.mux(aus.encode(None))
    return path


def make_cat_clips(ts: Path, folder: Path) -> dict[str, Path]:
    """The MPEG-TS base clip ``ts`` joined byte for byte with a copy of itself whose clock (timestamps and
    PCR) runs ``JOINS[name]`` seconds on from its own, as ``cat a.ts b.ts`` joins two recordings; {name: path}."""
    data, out = ts.read_bytes(), {}
    for name, later in JOINS.items():
        second = data
        if later:
            ticks = round(later * PTS_HZ)
            second = _pcr_moved(data, ticks)
            for stream_id in (0xC0, 0xE0):
                moves = dict.fromkeys(range(len(pes_headers(data, stream_id))), (lambda t, by=ticks: t + by, (True, True)))
                second = restamped(second, stream_id, moves)
        out[name] = folder / f"base-{name}.ts"
        out[name].write_bytes(data + second)
    return out


def _pcr_moved(data: bytes, ticks: int) -> bytes:
    """``data`` (MPEG-TS) with every PCR ``ticks`` (90 kHz) on."""
    b = bytearray(data)
    for at in range(0, len(b) - 187, 188):
        if b[at + 3] & 0x20 and b[at + 4] and b[at + 5] & 0x10:  # an adaptation field with a PCR
            p = at + 6
            v = (int.from_bytes(b[p : p + 5], "big") >> 7) + ticks
            v %= PTS_WRAP
            b[p : p + 5] = ((v << 7) | (b[p + 4] & 0x7F)).to_bytes(5, "big")
    return bytes(b)


def add_captions(base: Path, path: Path, cues: int = 7) -> Path:
    """A copy of ``base`` (mkv or mp4) with GPS captions, as some dashcams write: SubRip in mkv,
    mov_text in mp4; ``cues`` captions of 0.2 s each from 0, the same bytes each time."""
    captions = [(200 * i, f"N 51.{i:02d} W 0.10 {40 + i} km/h".encode()) for i in range(cues)]
    return conftest.add_captions(base, path, captions, options={"fflags": "+bitexact"})


def add_telemetry(base: Path, path: Path, samples: int = 4) -> Path:
    """A copy of ``base`` (mp4) with a GoPro's GPMF telemetry track and its timecode track; ``samples``
    of 0.5 s each from 0, the same bytes each time."""
    gpmf = [(500 * i, b"DEVC" + bytes(range(i, i + 60))) for i in range(samples)]
    return conftest.add_telemetry(base, path, gpmf, timecode=True, options={"fflags": "+bitexact"})


def mutate(data: bytes, container: str, kind: str, rng: np.random.Generator) -> bytes:
    """Damage ``data`` (a clip in ``container``) the way ``kind`` says, drawing every choice from ``rng``."""
    b, n = bytearray(data), len(data)
    if kind == "bitflip":  # 1-64 flipped bits anywhere
        for pos in rng.integers(0, n, int(rng.integers(1, 65))):
            b[pos] ^= 1 << int(rng.integers(0, 8))
    elif kind == "header":  # random bytes in the first 4 KB: ftyp+moov (faststart), EBML+tracks, PAT/PMT
        for pos in rng.integers(0, min(n, 4096), int(rng.integers(1, 17))):
            b[pos] = int(rng.integers(0, 256))
    elif kind == "tags":  # tags that are not valid text (and sometimes a broken tag length)
        at = data.find(TITLE.encode())
        if at < 0:
            at = int(rng.integers(0, min(n, 4096)))
        for pos in at + rng.integers(-8 if rng.random() < 0.3 else 0, len(TITLE), int(rng.integers(1, 9))):
            b[int(pos)] = int(rng.choice([0xFF, 0xFE, 0xC3, 0x80, 0x00, 0xED]))
    elif kind == "fields":  # absurd sizes, rates, time bases, timestamps and index entries
        for _ in range(int(rng.integers(1, 4))):
            marker = FIELD_MARKERS[container][int(rng.integers(0, len(FIELD_MARKERS[container])))]
            hits = _find_all(data, marker)
            if hits:
                at = hits[int(rng.integers(0, len(hits)))] + len(marker)
                for pos in at + rng.integers(0, 24, int(rng.integers(1, 9))):
                    if pos < n:
                        b[int(pos)] = EXTREMES[int(rng.integers(0, len(EXTREMES)))] if rng.random() < 0.7 else int(rng.integers(0, 256))
    elif kind == "audio":  # scramble the bytes around audio packets: their headers and timestamps
        spans = audio_spans(data, container)
        for i in rng.choice(len(spans), size=min(len(spans), int(rng.integers(1, 6))), replace=False):
            pos, _ = spans[int(i)]
            for p in pos + rng.integers(-24, 12, int(rng.integers(1, 7))):
                if 0 <= p < n:
                    b[int(p)] = int(rng.integers(0, 256))
    elif kind == "truncate":
        b = b[: int(rng.integers(0, n))]
    elif kind == "zero":
        s, length = int(rng.integers(0, n)), int(rng.integers(1, 8193))
        b[s : s + length] = bytes(len(b[s : s + length]))
    elif kind == "duplicate":
        s, length, at = int(rng.integers(0, n)), int(rng.integers(1, 16385)), int(rng.integers(0, n))
        b = b[:at] + b[s : s + length] + b[at:]
    elif kind == "swap":  # (a file under 16 KB, a still image: swapped chunks of at most half of it)
        length = int(rng.integers(16, min(8193, max(17, n // 2))))
        s1, s2 = sorted(int(x) for x in rng.choice(max(1, n - length), size=2, replace=False))
        s2 = max(s2, s1 + length)
        b[s1 : s1 + length], b[s2 : s2 + length] = data[s2 : s2 + length], data[s1 : s1 + length]
    elif kind == "tail":
        b += rng.integers(0, 256, int(rng.integers(1, 65537)), dtype=np.uint8).tobytes()
    elif kind == "stamps" and container in ("ts", B_FRAMED):
        b = bytearray(_stamps(data, rng, presented=container == B_FRAMED))
    else:
        raise ValueError(f"unknown mutation {kind!r}")
    return bytes(b)


def _stamps(data: bytes, rng: np.random.Generator, *, presented: bool = False) -> bytes:
    """``data`` (MPEG-TS) with the timestamps of 1-6 PES headers of its first audio or video stream damaged:
    the stream's first ones, a run of consecutive ones (each by its own amount, or all by one, as a
    chunk's clock), or ones anywhere; each moved by one of :data:`STAMP_MOVES` either way, or to just
    below the clock's wrap (reads as a little before 0, or 26.5 hours on). Where a header has a DTS,
    its PTS, its DTS or both; ``presented``: the video's PTS alone (the :data:`B_FRAMED` clip's, whose pictures'
    headers have a DTS: where it has none, the PTS is the decoding time too)."""
    stream_id = 0xC0 if rng.random() < 0.6 and not presented else 0xE0
    count = len(pes_headers(data, stream_id))
    k = min(count, int(rng.integers(1, 7)))
    where = rng.random()
    if where < 0.25:  # the first ones: nothing before them to tell where the stream is
        picked = list(range(k))
    elif where < 0.6:  # a burst
        first = int(rng.integers(0, count - k + 1))
        picked = list(range(first, first + k))
    else:
        picked = sorted(int(i) for i in rng.choice(count, size=k, replace=False))
    one = rng.random() < 0.5  # (a burst moved as one: its own clock for a while)
    moves, move = {}, None
    for n in picked:
        if move is None or not one:
            move = _stamp_move(rng)
        fields = (True, True) if rng.random() < 0.6 else (True, False) if rng.random() < 0.5 else (False, True)
        moves[n] = (move, (True, False) if presented else fields)
    return restamped(data, stream_id, moves)


def _stamp_move(rng: np.random.Generator):
    """How one damaged timestamp changes: ticks -> ticks."""
    if rng.random() < 0.15:  # to just below the wrap of the 33-bit clock
        below = int(rng.integers(1, PTS_HZ))
        return lambda ticks: PTS_WRAP - below
    ticks = round(float(rng.choice(STAMP_MOVES)) * PTS_HZ) * (1 if rng.random() < 0.5 else -1)
    return lambda old: old + ticks


def pes_headers(data: bytes, stream_id: int) -> list[tuple[int, bool]]:
    """(offset of its PTS field, whether a DTS field follows) of each PES of the stream of ``stream_id`` in
    ``data`` (MPEG-TS; 0xC0: the first audio stream, 0xE0: the first video stream) that has a PTS."""
    out = []
    for at in range(0, len(data) - 187, 188):
        ts = data[at : at + 188]
        if ts[0] != 0x47 or not ts[1] & 0x40:
            continue
        payload = 4 + (1 + ts[4] if ts[3] & 0x20 else 0)
        if ts[payload : payload + 4] == bytes([0, 0, 1, stream_id]) and ts[payload + 7] >> 6 in (2, 3):
            out.append((at + payload + 9, ts[payload + 7] >> 6 == 3))
    return out


def pes_moved(data: bytes, moves: dict[int, float], *, stream_id: int = 0xC0) -> bytes:
    """``data`` (MPEG-TS) with the timestamps (PTS, and DTS where there is one) of PES number n of the stream
    of ``stream_id`` (0xC0: the first audio stream, 0xE0: the first video stream) moved by ``moves[n]``
    seconds: damage to those headers."""
    changes = {n: ((lambda ticks, by=round(s * PTS_HZ): ticks + by), (True, True)) for n, s in moves.items()}
    return restamped(data, stream_id, changes)


def adts_merged(src: Path, dst: Path, n: int, frames: int) -> Path:
    """``src`` (MPEG-TS with AAC) with the ADTS header of audio PES number ``n`` damaged to say the length of
    ``frames`` frames: FFmpeg's parser reads them as one packet, timed as the first, which decodes to all."""
    data = bytearray(src.read_bytes())
    with av.open(str(src)) as c:
        sizes = [p.size for p in c.demux(c.streams.audio[0]) if p.size]
    length = sum(sizes[n : n + frames])
    field, has_dts = pes_headers(bytes(data), 0xC0)[n]
    at = field + (10 if has_dts else 5)  # (the PES's payload: its first ADTS header)
    assert data[at] == 0xFF and length < 2**13
    data[at + 3] = data[at + 3] & 0xFC | length >> 11
    data[at + 4], data[at + 5] = length >> 3 & 0xFF, data[at + 5] & 0x1F | (length & 7) << 5
    dst.write_bytes(bytes(data))
    return dst


def restamped(data: bytes, stream_id: int, changes: dict) -> bytes:
    """``data`` with PES number n of the stream of ``stream_id`` retimed by ``changes[n]`` = (a function of
    its timestamp in 90 kHz ticks, (whether to its PTS, whether to its DTS)), modulo the 33-bit wrap."""
    b = bytearray(data)
    for n, (field, has_dts) in enumerate(pes_headers(data, stream_id)):
        if n not in changes:
            continue
        change, which = changes[n]
        for h in [field + 5 * i for i in range(2 if has_dts else 1) if which[i] or not has_dts]:
            c = b[h : h + 5]
            v = ((c[0] >> 1) & 7) << 30 | c[1] << 22 | (c[2] >> 1) << 15 | c[3] << 7 | c[4] >> 1
            v = change(v) % PTS_WRAP
            b[h : h + 5] = bytes([c[0] & 0xF1 | (v >> 29) & 0xE, v >> 22 & 0xFF, (v >> 14) & 0xFE | 1,
                                  v >> 7 & 0xFF, (v << 1) & 0xFE | 1])  # fmt: skip
    return bytes(b)


def _find_all(data: bytes, marker: bytes) -> list[int]:
    hits, at = [], data.find(marker)
    while at >= 0:
        hits.append(at)
        at = data.find(marker, at + 1)
    return hits


def audio_spans(data: bytes, container: str) -> list[tuple[int, int]]:
    """(byte offset, size) of the audio packets of an intact clip, as its demuxer reports them."""
    import io

    with av.open(io.BytesIO(data), format={"mkv": "matroska", "ts": "mpegts"}.get(container, container)) as c:
        return [(p.pos, p.size) for p in c.demux(c.streams.audio[0]) if p.size and p.pos is not None and p.pos >= 0]


Spans = tuple[tuple[float, float], ...]  # (start, end) of each audio packet with data, seconds, in file order


@dataclass(frozen=True)
class Media:
    """What PyAV alone reads from a file: the ground truth a run is judged by."""

    frames: int  # video frames decoded packet by packet, skipping what fails (0: nothing, or not a video)
    audio: int  # audio packets with data
    video_start: float | None = None  # seconds of the first frame decoded (None: none, or none with a time)
    sound: tuple[Spans, ...] = ()  # per audio stream, in the file's order: where each packet's sound lies, as decoded
    audio_streams: tuple[int, ...] = ()  # those streams' indices in the file
    video_end: float | None = None  # seconds of the last frame decoded
    frame_times: tuple[float, ...] = ()  # seconds of each frame decoded with a time, in decoding order
    lead: int = 0  # frames decoded without a time before the first with one (a damaged first timestamp)
    copies: int = 0  # audio packets with data whose timestamp repeats an earlier one's of their stream (a chunk
    # written twice: an output holds one of them)
    tail: float | None = None  # where the clock steps back: how far the sound read with the last run of frames
    # runs past its latest frame (:func:`_tail`)
    primed: float = 0.0  # seconds of a first audio packet stamped before 0 that decodes to no sound: an encoder's
    # priming, which an mp4's edit list trims; an output without one (mkv, ts, avi) keeps it, before the picture


def probe(path: Path, window: tuple[float, float] | None = None, *, origin: float | None = None) -> Media:
    """Decode ``path``'s first video stream and its audio, packet by packet, skipping what fails; a
    demuxer that fails midway ends the reading there (after draining the decoder). segment-video may
    refuse only where frames is 0. ``window``: only the frames and audio packets from ``start`` for
    ``duration`` seconds, counted from the file's first timestamp (``--start``, ``--duration``), or from
    ``origin`` (seconds of its clock) where given (:func:`window_origin`).
    """
    frames, seen, packets, sound = 0, [], 0, {}  # (seen: each frame's time, None where it has none)
    copies, stamps, primed = 0, set(), 0.0  # (stamps: (stream, pts) of the audio packets read)
    heard, at, read = [], [], {}  # the sound of every audio packet read, in file order; how much of it was read
    # when each frame's packet was (read: by the packet's pts)
    try:
        with av.open(str(path), metadata_errors="replace") as c:
            if not c.streams.video:
                return Media(0, 0)
            stream = c.streams.video[0]
            stream.thread_type = "AUTO"
            sound = {a.index: [] for a in c.streams.audio}
            first = max(0.0, (c.start_time or 0) / av.time_base) if origin is None else origin
            within, shown = _within(window, first), _within(window, first, end=1e-6)  # (sound; pictures)
            try:
                for packet in c.demux(stream, *c.streams.audio):
                    if packet.stream.type == "audio":
                        if not within(None if packet.pts is None else packet.pts * packet.time_base):
                            continue
                        packets += packet.size > 0
                        copies += packet.size > 0 and (packet.stream.index, packet.pts) in stamps
                        stamps.add((packet.stream.index, packet.pts))
                        sound[packet.stream.index] += (spans := _sound(packet, sound[packet.stream.index]))
                        if not spans and not sound[packet.stream.index] and packet.size and (packet.pts or 0) < 0:
                            primed = max(primed, float((packet.duration or 0) * packet.time_base))
                        heard += spans
                        continue
                    read[packet.pts] = len(heard)
                    try:
                        frames += _count([f for f in packet.decode() if shown(f.time)], seen, at, read)
                    except av.FFmpegError:
                        pass
            except Exception:  # noqa: BLE001 - a damaged file may break the demuxer (or PyAV) in any way
                try:
                    frames += _count([f for f in stream.decode(None) if shown(f.time)], seen, at, read)
                except Exception:  # noqa: BLE001
                    pass
    except (av.FFmpegError, OSError, ValueError):
        pass
    times = [t for t in seen if t is not None]
    return Media(frames, packets, times[0] if times else None, tuple(map(tuple, sound.values())), tuple(sound),
                 max(times) if times else None, tuple(times), seen.index(times[0]) if times else 0, copies,
                 _tail(seen, at, heard), primed)  # fmt: skip


def _tail(seen: list[float | None], at: list[int], heard: Spans) -> float | None:
    """Where the frame times ``seen`` (decoding order) step back more than :data:`RESTART` (a live
    source's clock then started again: tied anew, the recording goes on from there), how far the sound
    read since the frame before the last step (``heard``, file order; ``at[n]``: how much of it had
    been read when frame n came) runs past the latest frame after it: a recording's sound may run that
    far past its last frame. Sound more than :data:`RUN_GAP` from those frames is no sound there.
    None where the clock never steps back."""
    timed = [(t, n) for t, n in zip(seen, at) if t is not None]
    steps = [k for k in range(1, len(timed)) if timed[k][0] < max(t for t, _ in timed[:k]) - RESTART]
    if not steps:
        return None
    run = [t for t, _ in timed[steps[-1] :]]
    ends = [b for a, b in heard[timed[steps[-1] - 1][1] :] if min(run) - RUN_GAP <= a <= max(run) + RUN_GAP]
    return max(ends) - max(run) if ends else None


def _within(window: tuple[float, float] | None, origin: float, *, end: float = 0.0):
    """Whether a time (seconds of the file's clock, None: unknown) lies in ``window`` (start, duration)
    counted from ``origin``, as segment-video's --start and --duration count (every time without one);
    ``end``: seconds before the window's end that count as past it (a picture's: 1e-6, as the tool's, for a
    clock hours on, where a picture on the end reads a rounding below it).

    >>> _within((0.4, 0.8), 95443.739022, end=1e-6)(95443.739022 + 1.2), _within((0.4, 0.8), 0.0)(1.19)
    (False, True)
    """
    if window is None:
        return lambda t: True
    start, duration = window
    return lambda t: t is not None and start - 1e-6 <= float(t) - origin < start + duration - end


def window_origin(damaged: Path, clean: Path) -> float | None:
    """Where segment-video counts ``--start`` from in ``damaged``, a copy of ``clean`` whose timestamps alone were
    damaged (ts-stamps), in seconds of ``damaged``'s clock, as ``VideoSource._origin`` does: the earliest stream's
    start, the picture's where InLine puts it (``clean``'s first picture, on ``damaged``'s clock); but the picture's
    own where another stream begins more than :data:`LEAP` before it (that stream's first stamps damaged: the sound
    an hour on, read a wrap of the clock before the picture). None where the two cannot be told apart that way
    (not as many pictures decode): FFmpeg's start, as :func:`probe` counts by itself."""
    given, got = probe(clean), probe(damaged)
    if len(given.frame_times) != len(got.frame_times) or not given.frame_times:
        return None
    # (the clock's shift from the clean file's: most pictures' stamps are undamaged, a wrap moves them all)
    shift = float(np.median(np.subtract(got.frame_times, given.frame_times)))
    picture = given.video_start + shift
    with av.open(str(damaged), metadata_errors="replace") as c:
        others = [float(s.start_time * s.time_base) for s in c.streams.audio if s.start_time is not None and s.time_base]
    first = min(picture, *others)
    return picture if first > 0 and picture - first > LEAP else max(0.0, first)


def _count(decoded, seen: list[float | None], at: list[int], read: dict) -> int:
    """How many ``decoded`` frames there are; their times (None: none) are added to ``seen``, and to ``at``
    how much sound had been read when their packets were (``read``: by pts)."""
    seen += [None if f.time is None else float(f.time) for f in decoded]
    at += [read.get(f.pts, max(read.values(), default=0)) for f in decoded]
    return len(decoded)


def _sound(packet: av.Packet, before: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """[(start, end)] in seconds of the sound the audio ``packet`` decodes to ([] where none does); a frame
    without a time follows the one before it. What decodes, not what the packet says: a damaged ADTS
    header can make one packet of 0.02 s hold a second of frames, all of them played."""
    try:
        decoded = packet.decode()
    except Exception:  # noqa: BLE001 - damaged audio fails in FFmpeg and in PyAV alike
        return []
    out = []
    for f in decoded:
        start = float(f.time) if f.time is not None else (out or before)[-1][1] if (out or before) else None
        if start is not None and f.sample_rate:
            out.append((start, start + f.samples / f.sample_rate))
    return [(min(a for a, _ in out), max(b for _, b in out))] if out else []


@dataclass
class Outcome:
    """What one segment-video run on a mutated file did."""

    case: str
    input: Media
    returncode: int | None  # None: it hung (killed at the timeout)
    stderr: str
    output: Media | None  # None: no output file
    stats: dict | None
    seconds: float
    live: bool = False  # played with --live: frames may be skipped, and sound from before the first frame kept is not recorded
    trimmed: bool = False  # with --start and --duration (``input`` is what lies between them)
    parts: tuple[Media, Media] | None = None  # two recordings joined with cat: each as PyAV reads it alone
    clean: Media | None = None  # the input before only its timestamps were damaged: when its pictures play (a
    # join's: where its first picture starts)

    def problems(self) -> list[str]:
        """Everything that breaks the rules: no hang, no traceback, exit 0 or one final ``Error:`` line
        and exit 1, a refusal only where nothing decodes, otherwise a playable output of what decodes,
        and no audio lost without a word."""
        out, err, given, got = [], self.stderr, self.input, self.output
        lines = [line for line in err.splitlines() if line.strip()]
        if self.returncode is None:
            out.append("hang")
        if "Traceback" in err or "Fatal Python error" in err:
            out.append("traceback")
        if self.returncode not in (None, 0, 1):
            out.append(f"exit code {self.returncode}")
        errors = [line for line in lines if line.startswith("Error:")]
        if self.returncode == 1 and (len(errors) != 1 or lines[-1] != errors[0]):
            out.append("exit 1 without exactly one final Error: line")
        if self.returncode == 0 and errors:
            out.append("Error: line on success")
        if given.frames and self.returncode == 1:
            out.append(f"refused although {given.frames} frames decode")
        if got is not None and got.frames == 0:
            out.append("an output file that does not decode")
        if self.returncode == 0 and not self.live and (got is None or got.frames < given.frames - max(1, given.frames // 20)):
            out.append(f"{given.frames} frames decode but the output holds {got and got.frames}")
        if self.returncode == 0 and self.live and got is None:
            out.append("no recording")
        dropped = (self.stats or {}).get("audio_dropped", 0)
        if dropped and "damaged audio packet" not in err:
            out.append("audio packets dropped without the warning line")
        reencoded = "re-encoding it as" in err  # (packets of another codec: counted otherwise)
        if got is not None and self.live and not reencoded:
            kept = given.audio - dropped
            if got.audio > kept or (kept >= 20 and got.frames > 1 and got.audio < kept // 2):
                out.append(f"{given.audio} audio packets in, {dropped} dropped, but {got.audio} recorded")
        elif got is not None and not reencoded and self.trimmed:  # (packets dropped outside the window count too;
            # a copy of a packet stored far from the window, before the point sought, is not read: nor counted)
            if not given.audio - given.copies - dropped <= got.audio <= given.audio:
                out.append(f"{given.audio} audio packets in the window, {dropped} dropped, but {got.audio} out")
        elif got is not None and not reencoded and got.audio != given.audio - dropped:
            out.append(f"{given.audio} audio packets in, {dropped} dropped, but {got.audio} out")
        if got is not None and reencoded and given.audio > dropped and not got.audio:
            out.append(f"{given.audio} audio packets in, {dropped} dropped, but none out after re-encoding")
        if self.returncode == 0 and got is not None:
            left_out = {int(i) for i in LEFT_OUT.findall(err)}
            references = joined_references(given, *self.parts) if self.parts else untimed_first(given)
            if self.clean is not None:  # (the first pictures' stamps damaged: where they were, as the output has them)
                references += [replace(r, video_start=self.clean.video_start) for r in references]
            found = [sound_problems(expected, got, dropped, live=self.live, reencoded=reencoded, left_out=left_out)
                     for expected in references]  # fmt: skip
            out += next((f for f in found if not f), found[0])
        if self.returncode == 0 and got is not None and self.clean is not None and not self.parts:
            out += picture_problems(self.clean, got)  # (a join's output is one timeline, the clean file two)
        if got is not None:
            out += order_problems(got)
        return out


def order_problems(got: Media) -> list[str]:
    """An output's video frames, as decoded, each presented after the one before: how many are not (on a time
    already shown, or before it). Frame counts and sound alone passed 19 frames at one time.

    >>> order_problems(Media(4, 0, frame_times=(0.0, 0.04, 0.08, 0.12)))
    []
    >>> order_problems(Media(5, 0, frame_times=(0.0, 0.04, 0.04, 0.04, 0.02)))
    ['3 of 5 video frames out not after the one before (frame 2 at 0.040 s, after 0.040 s)']
    """
    times = got.frame_times
    latest = list(itertools.accumulate(times, max))  # (the latest time shown by each frame)
    late = [n for n in range(1, len(times)) if times[n] <= latest[n - 1]]
    if not late:
        return []
    n = late[0]
    return [f"{len(late)} of {len(times)} video frames out not after the one before (frame {n} at {times[n]:.3f} s, "
            f"after {latest[n - 1]:.3f} s)"]  # fmt: skip


def picture_problems(clean: Media, got: Media) -> list[str]:
    """When the output's pictures play against the ``clean`` input's (whose timestamps alone were damaged), each
    counted from the first: within :data:`PLAYED` frame steps. Not judged where the frames differ in number
    (the counts judge that).

    >>> clean = Media(5, 0, frame_times=(1.4, 1.44, 1.48, 1.52, 1.56))
    >>> picture_problems(clean, Media(5, 0, frame_times=(0.0, 0.04, 0.08, 0.12, 0.16)))
    []
    >>> picture_problems(clean, Media(5, 0, frame_times=(0.0, 0.04, 5.08, 5.12, 5.16)))
    ["picture 2 plays at 5.080 s from the first, the clean input's at 0.080 s"]
    """
    if len(clean.frame_times) != len(got.frame_times) or len(clean.frame_times) < 2:
        return []
    given, played = sorted(clean.frame_times), sorted(got.frame_times)
    step = float(np.median(np.diff(given)))
    off = [n for n, (a, b) in enumerate(zip(given, played)) if abs(b - played[0] - (a - given[0])) > PLAYED * step]
    return [f"picture {n} plays at {played[n] - played[0]:.3f} s from the first, the clean input's at "
            f"{given[n] - given[0]:.3f} s" for n in off[:1]]  # fmt: skip


def untimed_first(given: Media) -> list[Media]:
    """What the output of ``given`` may be judged by: ``given``, and where its first frames have no time (their
    timestamps damaged), ``given`` with its picture starting those frames earlier, a frame step each: where
    segment-video places them (their time by the frame rate), not where the first frame with a time is."""
    if not given.lead or len(given.frame_times) < 2:
        return [given]
    step = float(np.median(np.diff(sorted(given.frame_times))))
    return [given, replace(given, video_start=given.video_start - given.lead * step)]


def joined_references(whole: Media, first: Media, second: Media) -> list[Media]:
    """What the output of two recordings joined with cat (``whole``, read by PyAV as ``first`` and
    ``second`` alone) must hold: one timeline, the second recording moved to follow on from the first,
    sound and picture by one move. A join leaves a gap, or an overlap, of under a packet in one of
    them, as a recording's sound rarely ends with its picture: so two references, the second's picture
    moved to follow the first's (its last frame, one frame step on), or its sound the first's (by the
    packets in place: :func:`_in_place`). A stream that one part alone has (damage that makes a stream
    appear midway, which segment-video leaves out) is no stream of the join; one that the whole file has from
    the start (damage that makes a stream appear in the first) is, with the sound of that part alone.
    ``whole`` alone where a part has no picture or the parts' audio streams are not the whole's."""
    streams = list(whole.audio_streams)
    if first.video_start is None or second.video_start is None or (len(first.sound) != len(second.sound) and not (
            set(streams) <= set(first.audio_streams) | set(second.audio_streams))):  # fmt: skip
        return [whole]
    if len(first.sound) != len(second.sound):  # (a stream of one part alone: left out, or that part's sound alone)
        first, second = _streams(first, streams), _streams(second, streams)
    shown, then = _picture_run(first.frame_times), _picture_run(second.frame_times)
    step = float(np.median(np.diff(shown))) if len(shown) > 1 else 0.0
    moves = [shown[-1] + step - then[0]]
    for a, b in zip(first.sound, second.sound):
        if _sound_run(a) and _sound_run(b):
            a, b = _merges_placed(a), _merges_placed(b)
            moves.append(max(e for _, e in _sound_run(_in_place(a))) - min(s for s, _ in _sound_run(_in_place(b))))
    return [Media(whole.frames, whole.audio, first.video_start,
                  tuple(a + tuple((s + move, e + move) for s, e in b) for a, b in zip(first.sound, second.sound)),
                  first.audio_streams, (second.video_end or 0) + move) for move in moves[:2]]  # fmt: skip


def _streams(media: Media, indices: list[int]) -> Media:
    """``media`` with the sound of its audio streams of ``indices`` alone (none where it has no such stream)."""
    sound = dict(zip(media.audio_streams, media.sound))
    return replace(media, sound=tuple(sound.get(i, ()) for i in indices), audio_streams=tuple(indices))


def _merges_placed(spans: Spans) -> Spans:
    """``spans`` (in file order) with each packet that holds the sound of many (AAC frames merged into one by a
    damaged ADTS length: more than :data:`MERGED` times the usual packet's) and whose timestamp lies out of
    line put where the one before ends: the base clips' sound has no gap, so its frames, next in the stream,
    lie there. In line: where the one before ends, or up to :data:`RUN_GAP` after it by a whole number of
    usual packets (those between lost); elsewhere its timestamp was damaged with it.

    >>> _merges_placed(((0.0, 0.25), (0.25, 0.5), (9.0, 10.0), (1.5, 1.75)))  # 4 packets' sound stamped 9 s on
    ((0.0, 0.25), (0.25, 0.5), (0.5, 1.5), (1.5, 1.75))
    >>> _merges_placed(((0.0, 0.25), (0.25, 0.5), (0.6, 1.6), (1.6, 1.85)))[2]  # 0.1 s late: off the packets' grid
    (0.5, 1.5)
    >>> _merges_placed(((0.0, 0.25), (0.25, 0.5), (0.75, 1.75), (1.75, 2.0)))[2]  # one packet lost before it
    (0.75, 1.75)
    """
    usual = float(np.median([b - a for a, b in spans])) if spans else 0.0
    out = list(spans)
    for n in range(1, len(out)):
        (start, end), before = out[n], out[n - 1][1]
        lost = (start - before) / usual if usual else 0.0  # (packets between, where it is in line)
        if end - start > MERGED * usual and not (-IN_LINE <= start - before <= RUN_GAP
                                                   and abs(lost - round(lost)) * usual <= IN_LINE):  # fmt: skip
            out[n] = (before, before + end - start)
    return tuple(out)


def _in_place(spans: Spans) -> Spans:
    """The ``spans`` (in file order) less those whose timestamp was damaged: such a packet goes on from
    neither the one before it nor into the one after it (within :data:`IN_LINE`), and lies out of order
    with one of them, even where it was moved by less than :data:`RUN_GAP` (which its run keeps); all of
    them where that leaves none. Packets next to lost ones (a gap, in order) stay. The one before a packet
    is the last one kept where the packet before it was damaged (a last packet after one stamped ahead).

    >>> _in_place(((0.0, 0.02), (0.02, 0.04), (-0.66, -0.64), (0.06, 0.08), (0.08, 0.1)))  # the third 0.7 s early
    ((0.0, 0.02), (0.02, 0.04), (0.06, 0.08), (0.08, 0.1))
    >>> _in_place(((0.0, 0.02), (0.04, 0.06), (0.06, 0.08)))  # the second lost
    ((0.0, 0.02), (0.04, 0.06), (0.06, 0.08))
    >>> _in_place(((0.0, 0.02), (0.02, 0.04), (2.94, 2.96), (0.06, 0.08)))  # the third 2.9 s late, the last in place
    ((0.0, 0.02), (0.02, 0.04), (0.06, 0.08))
    """
    kept = []
    for n, (start, end) in enumerate(spans):
        before = spans[n - 1] if not n or spans[n - 1] in kept[-1:] else kept[-1] if kept else spans[n - 1]
        back = before[1] - start if n else float("-inf")  # (over 0: the one before ends after it starts)
        ahead = spans[n + 1][0] - end if n + 1 < len(spans) else float("inf")  # (under 0: the next starts before)
        if abs(back) <= IN_LINE or abs(ahead) <= IN_LINE or (back < 0 < ahead):
            kept.append((start, end))
    return tuple(kept) or spans


def _picture_run(times: tuple[float, ...]) -> list[float]:
    """The largest run of frame ``times`` (sorted) without a gap of :data:`RUN_GAP` (a picture whose
    timestamp was damaged is no picture there)."""
    runs: list[list[float]] = []
    for t in sorted(times):
        if not runs or t > runs[-1][-1] + RUN_GAP:
            runs.append([])
        runs[-1].append(t)
    return max(runs, key=len) if runs else []


def sound_problems(given: Media, got: Media, dropped: int, *, live: bool = False, reencoded: bool = False,
                   left_out: set[int] = frozenset()) -> list[str]:  # fmt: skip
    """Where each output audio stream's sound lies against the input's, both as decoded and counted from
    their first video frame.

    The input's sound is its largest run of packets without a gap of :data:`RUN_GAP` (a timestamp
    damaged seconds away is no sound there). The output's starts where the input's does and ends where
    it ends, within :data:`TOLERANCE` (:data:`REENCODED` where re-encoded), except that each of the
    ``dropped`` packets may have been one at either end, with all the sound it decodes to: the start may
    be as late as the input's ``dropped``-th packet, the end as early as its ``dropped``-th from last.
    Live (``live``), the recording begins with its first frame: a packet that began before it is not
    recorded, nor counted, and no sound lies past the input's end, but for as much as the recording's
    pictures run longer than the input's (a clock that steps back is tied anew to the capture clock), or
    past the recording's last picture by as much as the input's sound does past its last run of pictures
    (:attr:`Media.tail`: the recording ends with that run, tied anew, not with the input's latest picture).
    The output's sound may start as much earlier as the input's priming (:attr:`Media.primed`), which an
    output without an edit list keeps. The output's streams are the input's in order, less those ``left_out`` (input indices) and, where
    that leaves more than the output has, those without sound.
    """
    kept = [s for s, i in zip(given.sound, given.audio_streams or range(len(given.sound))) if i not in left_out]
    if len(kept) != len(got.sound):  # (a stream without sound is no track in some outputs: an mp4's is left out)
        kept = [s for s in kept if s]
    if given.video_start is None or got.video_start is None or len(kept) != len(got.sound):
        return []  # (no time to count from, or streams that do not pair up: the packet counts judge them)
    tol, out = REENCODED if reencoded else TOLERANCE, []
    for i, (spans_in, spans_out) in enumerate(zip(kept, got.sound)):
        spans_in = sorted((a - given.video_start, b - given.video_start) for a, b in _sound_run(_merges_placed(spans_in)))
        if not spans_in or not spans_out:
            continue  # (no sound in, or none out: the packet counts judge that)
        start = min(a for a, _ in spans_out) - got.video_start
        end = max(b for _, b in spans_out) - got.video_start
        if live:  # (a packet from before the recording's first frame is not recorded, nor counted: not even its end)
            spans_in = [s for s in spans_in if s[1] > 0] or spans_in[-1:]
        k = min(dropped, len(spans_in) - 1)
        first, last = spans_in[0][0], max(b for _, b in spans_in)
        latest_start, earliest_end = spans_in[k][1 if live else 0], sorted(b for _, b in spans_in)[-1 - k]
        if live and None not in (given.video_end, got.video_end):  # (a clock tied anew stretches the recording)
            last += max(0.0, (got.video_end - got.video_start) - (given.video_end - given.video_start))
            if given.tail is not None:  # (and its sound runs on past the recording's last frame as the last
                last = max(last, got.video_end - got.video_start + given.tail)  # run's runs past that run's)
        where = f"audio stream {i}: the input's sound lies at {first:.3f}-{last:.3f} s from its first frame"
        if start < (-tol if live else first - tol - given.primed) or start > latest_start + tol:
            out.append(f"{where}, the output's starts at {start:.3f} s ({dropped} packets dropped)")
        if end > last + tol or (not live and end < earliest_end - tol):
            out.append(f"{where}, the output's ends at {end:.3f} s ({dropped} packets dropped)")
    return out


def _sound_run(spans: Spans) -> Spans:
    """The largest run of ``spans`` (sorted by start) without a gap of :data:`RUN_GAP` seconds."""
    runs, end = [], float("-inf")  # (end: where the run so far ends)
    for span in sorted(spans):
        if span[0] > end + RUN_GAP:
            runs.append([])
        runs[-1].append(span)
        end = max(end, span[1]) if len(runs[-1]) > 1 else span[1]
    return tuple(max(runs, key=len)) if runs else ()


def run_case(base: Path, container: str, kind: str, seed: int, model: Path, work: Path, *,
             timeout: float = 60.0, output: str = "mp4", live: bool = False,
             trim: tuple[float, float] | None = None, stdin: bool = False) -> Outcome:  # fmt: skip
    """Mutate ``base`` as the case says, run the real ``segment-video`` on it in a subprocess (into an
    ``output`` file: webm re-encodes AAC audio; ``live``: played as if it were a camera, ``--live``;
    ``trim``: ``--start`` and ``--duration``; ``stdin``: read from standard input, ``-``), check the result."""
    name = f"{container}-{kind}-{seed}"
    suffix = "ts" if container in JOINS or container == B_FRAMED else container
    src, out, stats = work / f"{name}.{suffix}", work / f"{name}-out.{output}", work / f"{name}.json"
    src.write_bytes(case_bytes(base, container, kind, seed))
    parts = _parts(src, base, work) if container in JOINS else None
    cmd = [sys.executable, "-m", "roadseg", "segment", "-" if stdin else str(src), "-o", str(out), "--model", str(model), "-y", "-q",
           "--stats", str(stats), *(["--live"] if live else []),
           *(["--start", str(trim[0]), "--duration", str(trim[1])] if trim else [])]  # fmt: skip
    t0 = time.perf_counter()
    try:
        # (a pipe, as `cat src | segment-video -`: standard input that is a file is read as a file, seeking in it;
        # else inherited, as before)
        with subprocess.Popen(["cat", str(src)], stdout=subprocess.PIPE) if stdin else contextlib.nullcontext() as cat:
            given = cat.stdout if stdin else None
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, errors="replace", stdin=given,
                                  env={**os.environ, "PYTHONFAULTHANDLER": "1"})  # fmt: skip
        code, err = proc.returncode, proc.stderr
    except subprocess.TimeoutExpired as exc:
        code = None
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
    seconds = time.perf_counter() - t0
    clean = probe(base, trim) if kind == "stamps" else None  # (of a join: its first picture's start alone)
    origin = window_origin(src, base) if kind == "stamps" and trim else None  # (where the tool counts --start from)
    outcome = Outcome(name, probe(src, trim, origin=origin), code, err, probe(out) if out.exists() else None,
                      json.loads(stats.read_text()) if stats.exists() else None, round(seconds, 2), live,
                      trim is not None, parts, clean)  # fmt: skip
    for p in (src, out, stats):
        p.unlink(missing_ok=True)
    return outcome


def _parts(src: Path, base: Path, work: Path) -> tuple[Media, Media]:
    """The two recordings of ``src``, a damaged copy of ``base`` (two of one length joined with cat), each
    as PyAV reads it alone: split where the second begins (moved on by a chunk written twice before it)."""
    damaged, intact = src.read_bytes(), base.read_bytes()
    at = len(intact) // 2
    moved = at + len(damaged) - len(intact)
    if len(damaged) > len(intact) and damaged[moved : moved + 376] == intact[at : at + 376]:
        at = moved
    at = min(at, len(damaged))
    media = []
    for n, data in enumerate((damaged[:at], damaged[at:])):
        part = work / f"{src.stem}-part{n}.ts"
        part.write_bytes(data)
        media.append(probe(part))
        part.unlink()
    return media[0], media[1]


def run_joined_case(base: Path, container: str, kind: str, seed: int, model: Path, work: Path, *,
                    timeout: float = 90.0) -> list[str]:  # fmt: skip
    """Three files of one drive joined with ``--concat``, the middle one damaged as the case says: what
    breaks the rules (as :meth:`Outcome.problems`, and: the damaged file never costs the others' frames)."""
    folder = work / f"joined-{container}-{kind}-{seed}"
    folder.mkdir()
    damaged = case_bytes(base, container, kind, seed)
    for name, data in (("a", base.read_bytes()), ("b", damaged), ("c", base.read_bytes())):
        (folder / f"{name}.{container}").write_bytes(data)
    out = work / f"joined-{container}-{kind}-{seed}.mp4"
    cmd = [sys.executable, "-m", "roadseg", "segment", str(folder), "--concat", "-o", str(out), "--model", str(model),
           "-y", "-q"]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, errors="replace")
        code, err = proc.returncode, proc.stderr
    except subprocess.TimeoutExpired:
        code, err = None, ""
    whole, middle = probe(base), probe(folder / f"b.{container}")
    got = probe(out) if out.exists() else None
    problems = Outcome(folder.name, Media(2 * whole.frames + middle.frames, 0), code, err, got, None, 0).problems()
    problems = [p for p in problems if "audio packets in" not in p]  # (joins drop overlapping audio; said)
    if code == 0 and got is not None and got.frames < 2 * whole.frames + middle.frames - 2:
        problems.append(f"{2 * whole.frames} frames of the intact files and {middle.frames} of the damaged one, "
                        f"but {got.frames} out")  # fmt: skip
    shutil.rmtree(folder)
    out.unlink(missing_ok=True)
    return problems


def make_base_images(clip: Path, folder: Path, count: int = 4) -> dict[str, list[Path]]:
    """The first ``count`` frames of ``clip`` as still images in jpg, png, webp, bmp and tif
    (the formats of FIELD_MARKERS' image markers), the same bytes each time; {format: paths}, ``f0.jpg`` ..."""
    folder.mkdir(parents=True, exist_ok=True)
    with av.open(str(clip)) as c:
        frames = [f.to_ndarray(format="bgr24") for f, _ in zip(c.decode(video=0), range(count))]
    out: dict[str, list[Path]] = {}
    for fmt, params in (("jpg", [cv2.IMWRITE_JPEG_QUALITY, 85]), ("png", []), ("webp", [cv2.IMWRITE_WEBP_QUALITY, 80]),
                        ("bmp", []), ("tif", [])):  # fmt: skip
        out[fmt] = [folder / f"f{i}.{fmt}" for i in range(count)]
        for path, frame in zip(out[fmt], frames):
            cv2.imwrite(str(path), frame, params)
    return out


def run_image_case(images: list[Path], fmt: str, kind: str, seed: int, model: Path, work: Path, *,
                   folder: bool = True, timeout: float = 60.0) -> list[str]:  # fmt: skip
    """One of ``images`` (number ``seed`` % their count) damaged as the case says, segmented alone
    (``folder`` False) or in a folder with the others: what breaks the rules (a hang, a traceback, an exit
    or Error: line out of rule; an image that reads without its output, of its size; one that does not read
    with an output, or not named; a refusal of a single image that reads; a line on stderr not roadseg's, a
    codec library's own)."""
    name = f"{'folder' if folder else 'image'}-{fmt}-{kind}-{seed}"
    src, out = work / name, work / f"{name}-out"
    src.mkdir()
    bad = seed % len(images) if folder else 0
    for n, path in enumerate(images if folder else images[:1]):
        data = path.read_bytes()
        (src / path.name).write_bytes(case_bytes(path, fmt, kind, seed) if n == bad else data)
    given = sorted(src.iterdir())
    cmd = [sys.executable, "-m", "roadseg", "segment", str(src if folder else given[0]),
           "-o", str(out if folder else out.with_suffix(".png")), "--model", str(model), "-y", "-q"]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, errors="replace")
        outcome = Outcome(name, Media(0, 0), proc.returncode, proc.stderr, Media(1, 0), None, 0)
    except subprocess.TimeoutExpired:
        outcome = Outcome(name, Media(0, 0), None, "", None, None, 0)
    problems = outcome.problems()  # (its exit and its lines; the images are judged below)
    raw = [line for line in outcome.stderr.splitlines() if line.strip() and not line.startswith(("roadseg: ", "Error: ", "wrote "))]
    if raw:  # (a codec library's own line, "Premature end of JPEG file", where roadseg's should say it)
        problems.append(f"a line not roadseg's: {raw[0]!r}")
    for path in given:
        want, target = _image_shape(path), out / f"{path.stem}.png" if folder else out.with_suffix(".png")
        got = _image_shape(target) if target.exists() else None
        if want is not None and got != want and not (not folder and outcome.returncode == 1):
            problems.append(f"{path.name} reads ({want[1]}x{want[0]}) but its output is {got}")
        if want is not None and not folder and outcome.returncode == 1:
            problems.append(f"refused although {path.name} reads")
        if want is None and target.exists():
            problems.append(f"{path.name} does not read, but has an output")
        if want is None and path.name not in outcome.stderr:
            problems.append(f"{path.name} does not read, and is not named")
    shutil.rmtree(src)
    shutil.rmtree(out, ignore_errors=True)
    out.with_suffix(".png").unlink(missing_ok=True)
    return problems


def _image_shape(path: Path) -> tuple[int, ...] | None:
    try:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    except cv2.error:  # (a size in a damaged header past OpenCV's bounds)
        return None
    return None if image is None else image.shape[:2]


def case_bytes(base: Path, container: str, kind: str, seed: int) -> bytes:
    """The mutated copy of ``base`` that case ``container-kind-seed`` runs on."""
    joined = container in JOINS  # (a TS: its damage is a TS's; the B-framed clip's stamps kind, a PTS's alone)
    return mutate(base.read_bytes(), "ts" if joined else container, kind, np.random.default_rng([seed, TS_KINDS.index(kind)]))


if __name__ == "__main__":  # write one case's input to look at: python tests/fuzzing.py ts-audio-3 /tmp/fuzz
    name, folder = sys.argv[1], Path(sys.argv[2])
    container, kind, seed = name.split("-")
    bases = make_base_clips(folder / "base")
    bases.update(make_cat_clips(bases["ts"], folder / "base"))
    src = folder / f"{name}.{'ts' if container in JOINS or container == B_FRAMED else container}"
    src.write_bytes(case_bytes(bases[container], container, kind, int(seed)))
    print(src)
