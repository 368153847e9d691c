"""Damage in one stream never costs another's output; damaged headers never cost a traceback.

Each test builds a small file, damages one thing on purpose (a timestamp, a codec parameter, a tag)
and checks what segment-video makes of it. ``test_fuzz.py`` does the same at random.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import audio_packets, encode_pictures, read_video, split_frames, write_video

from roadseg.pipeline import Frame, VideoSink, segment_video
from roadseg.pipeline.sinks import audio as sink_audio
from roadseg.pipeline.sinks.audio import AudioRemux

REAL_CLIP = Path(__file__).resolve().parents[1] / "sample_videos" / "udacity-highway-1280x720.mp4"


def _cli(src: Path, out: Path, model: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "roadseg", "segment", str(src), "-o", str(out), "--model", str(model), "-q", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def _pes_pts(pts: int) -> bytes:
    """The 5 bytes of an MPEG PES header's PTS field (PTS only)."""
    return bytes([0x21 | ((pts >> 29) & 0x0E), (pts >> 22) & 0xFF, 0x01 | ((pts >> 14) & 0xFE), (pts >> 7) & 0xFF,
                  0x01 | ((pts << 1) & 0xFE)])  # fmt: skip


def _retime_audio(ts: Path, changes: dict[int, int]) -> Path:
    """A copy of an MPEG-TS whose audio PES number ``i`` gets PTS ``changes[i]`` (90 kHz ticks)."""
    data = bytearray(ts.read_bytes())
    starts, at = [], data.find(b"\x00\x00\x01\xc0")
    while at >= 0:
        starts.append(at)
        at = data.find(b"\x00\x00\x01\xc0", at + 1)
    for i, pts in changes.items():
        assert data[starts[i] + 7] & 0xC0 == 0x80  # a PTS and no DTS
        data[starts[i] + 9 : starts[i] + 14] = _pes_pts(pts)
    out = ts.with_name("retimed.ts")
    out.write_bytes(bytes(data))
    return out


def test_audio_with_broken_timestamps_is_dropped_counted_and_the_video_kept(rule_onnx, tmp_path):
    ts = write_video(tmp_path / "a.ts", split_frames(50, h=96, w=128), audio_seconds=2.0)
    # one audio packet 10 hours ahead, one a second back, one repeated: each made the muxer refuse the
    # packet, which failed the run and removed the output
    first = int(av.open(str(ts)).streams.audio[0].start_time)
    bad = _retime_audio(ts, {20: first + 10 * 3600 * 90000, 40: first, 60: first + 59 * 1920})
    out, stats = tmp_path / "o.mp4", tmp_path / "s.json"
    r = _cli(bad, out, rule_onnx, "--stats", str(stats))
    assert r.returncode == 0, r.stderr
    dropped = json.loads(stats.read_text())["audio_dropped"]
    assert dropped == 3 and "dropped 3 damaged audio packets" in r.stderr and r.stderr.count("\n") == 2
    v = read_video(out)
    assert len(v["frames"]) == 50 and v["seconds"][-1] < 2.1  # no ten-hour stretch
    assert len(audio_packets(out)) == len(audio_packets(bad)) - 3


def test_audio_the_muxer_refuses_is_dropped_and_counted(tmp_path):
    ts = write_video(tmp_path / "a.ts", split_frames(10), audio_seconds=0.5)  # AAC in ADTS: a filter checks it
    with av.open(str(ts)) as src, av.open(str(tmp_path / "o.mp4"), "w") as out:
        remux = AudioRemux(out, src.streams.audio)
        for i, packet in enumerate(p for p in src.demux(src.streams.audio[0]) if p.size):
            if i == 5:
                packet = _garbled(packet)
            remux.mux(packet)
    assert remux.dropped == 1
    assert len(audio_packets(tmp_path / "o.mp4")) == len(audio_packets(ts)) - 1


def test_audio_the_decoder_refuses_when_re_encoding_is_dropped_and_counted(tmp_path):
    ts = write_video(tmp_path / "a.ts", split_frames(10), audio_seconds=0.5)
    with av.open(str(ts)) as src, av.open(str(tmp_path / "o.webm"), "w") as out:
        remux = AudioRemux(out, [], [(src.streams.audio[0], "opus")])  # webm cannot carry AAC
        packets = [p for p in src.demux(src.streams.audio[0]) if p.size]
        for i, packet in enumerate(packets):
            remux.mux(_garbled(packet, b"\xff") if i == 5 else packet)  # not AAC: the decoder refuses it
        remux.flush()
    assert remux.dropped == 1
    with av.open(str(tmp_path / "o.webm")) as c:
        a = c.streams.audio[0]
        assert a.codec_context.name == "opus"
        seconds = sum(f.samples for p in c.demux(a) for f in p.decode()) / a.codec_context.sample_rate
    assert seconds == pytest.approx(1024 * (len(packets) - 1) / 48000, abs=0.03)  # the rest, re-encoded


def _garbled(packet: av.Packet, byte: bytes = b"\x00") -> av.Packet:
    copy = av.Packet(byte * len(bytes(packet)))  # zeros: no ADTS header
    copy.pts, copy.dts, copy.time_base, copy.stream = packet.pts, packet.dts, packet.time_base, packet.stream
    return copy


def test_an_audio_stream_that_cannot_be_copied_is_re_encoded_with_one_line(rule_onnx, tmp_path):
    data = bytearray(write_video(tmp_path / "o.mkv", split_frames(10), audio_seconds=0.4, audio_codec="libopus").read_bytes())
    at = data.find(b"OpusHead") - 3
    assert data[at : at + 2] == b"\x63\xa2"  # CodecPrivate: Opus's setup
    data[at : at + 2] = b"\x7f\x7f"  # now an element nobody knows: an Opus stream without its setup
    bad = tmp_path / "no-setup.mkv"
    bad.write_bytes(bytes(data))
    out = tmp_path / "o.mp4"  # mp4 writes its stream descriptions last: the trailer failed, the file was lost
    r = _cli(bad, out, rule_onnx)
    assert r.returncode == 0, r.stderr
    assert "audio stream #1 (opus) cannot be copied" in r.stderr and "re-encoding it as aac" in r.stderr
    assert r.stderr.count("\n") == 2  # that line and the summary
    v = read_video(out)
    assert len(v["frames"]) == 10 and [a[0] for a in v["audio"]] == ["aac"]
    assert _audio_seconds(out) == pytest.approx(0.4, abs=0.05)  # the sound itself, not a stub


def _audio_seconds(path: Path) -> float:
    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        return sum(f.samples for p in c.demux(a) for f in p.decode()) / a.codec_context.sample_rate


def test_an_audio_stream_that_neither_copies_nor_decodes_leaves_the_video_alone_with_one_line(rule_onnx, tmp_path):
    data = write_video(tmp_path / "o.mkv", split_frames(10), audio_seconds=0.4, audio_codec="libopus").read_bytes()
    assert data.count(b"A_OPUS") == 1
    bad = tmp_path / "unknown.mkv"
    bad.write_bytes(data.replace(b"A_OPUS", b"A_QQQQ"))  # a codec nobody knows
    out = tmp_path / "o.mp4"
    r = _cli(bad, out, rule_onnx)
    assert r.returncode == 0, r.stderr
    assert "audio stream #1 (no codec) cannot be copied" in r.stderr and "writing the video without it" in r.stderr
    v = read_video(out)
    assert len(v["frames"]) == 10 and v["audio"] == []


@pytest.mark.parametrize("source,codec,says", [
    # G.711 from an IP camera (mu-law in a mov): mp4 has no place for it; this was a refusal, then left out
    ("cam.mov", "pcm_mulaw", "audio stream #1 (pcm_mulaw) cannot be copied"),
    # a cheap dashcam's MJPEG + PCM AVI: PCM was copied into the mp4 as ISO PCM ('ipcm'), which many
    # players (Firefox, QuickTime) do not play
    ("cam.avi", "pcm_s16le", "audio stream #1 (pcm_s16le) in mp4 would be ISO PCM")])  # fmt: skip
def test_audio_an_mp4_cannot_hold_or_play_is_re_encoded_and_a_mov_copies_it(rule_onnx, tmp_path, source, codec, says):
    src = write_video(tmp_path / source, split_frames(5), audio_seconds=0.2, audio_codec=codec)
    r = _cli(src, tmp_path / "o.mp4", rule_onnx)
    assert r.returncode == 0, r.stderr
    assert says in r.stderr and "re-encoding it as aac" in r.stderr
    v = read_video(tmp_path / "o.mp4")
    assert len(v["frames"]) == 5 and [a[0] for a in v["audio"]] == ["aac"]
    assert _audio_seconds(tmp_path / "o.mp4") == pytest.approx(_audio_seconds(src), abs=0.03)
    r = _cli(src, tmp_path / "o.mov", rule_onnx)  # mov carries both: copied
    assert r.returncode == 0 and "re-encoding" not in r.stderr
    assert [a[0] for a in read_video(tmp_path / "o.mov")["audio"]] == [codec]


def test_a_transport_streams_aac_is_copied_into_avi(rule_onnx, tmp_path):
    # was: "audio stream #1 (aac) cannot be copied (Invalid argument); re-encoding it as aac", a second lossy
    # generation: AVI holds AAC as mp4 does (raw, its setup in the header), which ADTS framing gave no setup for
    src = write_video(tmp_path / "cam.ts", split_frames(25), audio_seconds=1.0)
    r = _cli(src, tmp_path / "o.avi", rule_onnx)
    assert r.returncode == 0 and "audio" not in r.stderr, r.stderr
    with av.open(str(src)) as c:
        sent = [bytes(p)[7:] for p in c.demux(c.streams.audio[0]) if p.size]  # (each behind its 7-byte ADTS header)
    with av.open(str(tmp_path / "o.avi")) as c:
        a = c.streams.audio[0]
        assert (a.codec_context.name, a.codec_context.extradata) == ("aac", bytes([0x11, 0x88]))  # LC, 48 kHz, mono
        assert [bytes(p) for p in c.demux(a) if p.size] == sent  # copied as they were
    assert _audio_seconds(tmp_path / "o.avi") == pytest.approx(_audio_seconds(src), abs=0.03)


@pytest.mark.parametrize("codec,name", [("flac", "flac"), ("libopus", "opus")])
def test_flac_or_opus_into_mp4_is_re_encoded_as_aac_and_an_mkv_copies_it(rule_onnx, tmp_path, codec, name):
    # a phone's or an action camera's Opus, a recorder's FLAC: copied into the mp4 as they were ('fLaC', 'Opus'
    # sample entries), which many players of mp4 video do not play; now AAC, as PCM is, with one line
    src = write_video(tmp_path / "cam.mkv", split_frames(5), audio_seconds=0.2, audio_codec=codec)
    r = _cli(src, tmp_path / "o.mp4", rule_onnx)
    assert r.returncode == 0, r.stderr
    assert f"audio stream #1 ({name}) in mp4 is sound many players do not play there (write .mkv to keep it); " \
           "re-encoding it as aac" in r.stderr and r.stderr.count("\n") == 2, r.stderr
    v = read_video(tmp_path / "o.mp4")
    assert len(v["frames"]) == 5 and [a[0] for a in v["audio"]] == ["aac"]  # (was: [name])
    assert _audio_seconds(tmp_path / "o.mp4") == pytest.approx(_audio_seconds(src), abs=0.03)
    r = _cli(src, tmp_path / "o.mkv", rule_onnx)  # Matroska is their own container: copied
    assert r.returncode == 0 and "re-encoding" not in r.stderr
    assert [a[0] for a in read_video(tmp_path / "o.mkv")["audio"]] == [name]


@pytest.mark.parametrize("layout,source,name,codec", [("5.1", "cam.mov", "o.mp4", "aac"), ("quad", "cam.mov", "o.mp4", "aac"),
                                                       ("5.1", "cam.mov", "o.webm", "opus"),
                                                       ("quad", "cam.mkv", "o.mp4", "aac")])  # fmt: skip
def test_sound_of_more_than_two_channels_keeps_each_channel_when_re_encoded(rule_onnx, tmp_path, layout, source, name,
                                                                            codec):  # fmt: skip
    # a camera's surround PCM, an in-cabin microphone array's channels: each its own after re-encoding (was: mixed
    # down to stereo, with 're-encoding it as aac' alone said). Matroska's PCM names no channels: taken as FFmpeg
    # takes that many (4: 4.0)
    n = av.AudioLayout(layout).nb_channels
    src = _surround_pcm(tmp_path / source, layout)
    segment_video(src, tmp_path / name, model=rule_onnx, quiet=True)
    with av.open(str(tmp_path / name)) as c:
        a = c.streams.audio[0]
        assert (a.codec_context.name, a.codec_context.channels) == (codec, n)
        sound = np.concatenate([f.to_ndarray().reshape(n, -1) if f.format.is_planar else f.to_ndarray().reshape(-1, n).T
                                for f in c.decode(a)], axis=1)  # fmt: skip
    loudness = np.sqrt((sound.astype(np.float64) ** 2).mean(axis=1))
    assert loudness[2] > 0.1 and np.delete(loudness, 2).max() < loudness[2] / 20, loudness


@pytest.mark.parametrize("layout,source,name,said", [("5.1.4", "cam.mov", "o.mp4", "its 10 channels (5.1.4) mixed down"),
                                                      ("7.1.4", "cam.mkv", "o.webm", "its 12 channels mixed down")])
def test_sound_of_channels_the_encoder_takes_no_layout_of_is_said_to_be_mixed_down(rule_onnx, tmp_path, layout,
                                                                                   source, name, said):  # fmt: skip
    # more than 8 channels (a microphone array's, a 5.1.4 mix): AAC and Opus take no such layout, and the sound was
    # mixed down to stereo with 're-encoding it as aac' alone said
    src = _surround_pcm(tmp_path / source, layout)
    r = _cli(src, tmp_path / name, rule_onnx)
    assert r.returncode == 0 and r.stderr.count("\n") == 2, r.stderr  # one line, and the summary
    codec = "aac" if name.endswith(".mp4") else "opus"
    assert f"re-encoding it as {codec}, {said} to stereo ({codec} takes no such layout)\n" in r.stderr, r.stderr
    with av.open(str(tmp_path / name)) as c:
        assert (c.streams.audio[0].codec_context.name, c.streams.audio[0].codec_context.channels) == (codec, 2)


def _surround_pcm(src: Path, layout: str) -> Path:
    """5 pictures and 0.2 s of PCM sound in ``layout``, a tone on its third channel alone (Matroska's PCM
    keeps no channel names)."""
    n = av.AudioLayout(layout).nb_channels
    with av.open(str(src), "w") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt, vs.options = 64, 48, "yuv420p", {"preset": "ultrafast"}
        aus = out.add_stream("pcm_s16le", rate=48000)
        aus.layout = layout
        encode_pictures(out, vs, split_frames(5))
        tone = (8000 * np.sin(2 * np.pi * 440 * np.arange(9600) / 48000)).astype(np.int16)
        samples = np.zeros((9600, n), np.int16)
        samples[:, 2] = tone  # sound on the third channel alone
        af = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout=layout)
        af.sample_rate, af.pts = 48000, 0
        out.mux(aus.encode(af))
        out.mux(aus.encode(None))
    return src


def test_a_header_the_audio_breaks_is_written_again_without_it(split_video, rule_onnx, tmp_path, monkeypatch, caplog):
    # fault injection: a stream that passed the check (all do here) and then breaks the real header
    monkeypatch.setattr(sink_audio.AudioRemux, "__init__", _remux_that_breaks_the_header)
    out = tmp_path / "o.mp4"
    with caplog.at_level("WARNING", logger="roadseg"):
        stats = segment_video(split_video, out, model=rule_onnx, quiet=True)
    assert "the audio cannot be copied into" in caplog.text and "writing the video alone" in caplog.text
    assert stats["frames"] == 12 and read_video(out)["audio"] == []


_REMUX_INIT = sink_audio.AudioRemux.__init__  # (the real one, before a test patches it)


def _remux_that_breaks_the_header(self, container, streams, reencoded=(), configs=None) -> None:
    _REMUX_INIT(self, container, [])  # (an AudioRemux of no stream, whatever attributes it has)
    if streams:
        out = container.add_stream_from_template(streams[0])
        out.codec_context.sample_rate = 0  # the mp4 header cannot describe it


def test_tags_that_are_not_text_are_read_not_a_traceback(rule_onnx, tmp_path):
    src = write_video(tmp_path / "tags.mp4", split_frames(4), metadata={"title": "TITLE-TO-BREAK"})
    src.write_bytes(src.read_bytes().replace(b"TITLE-TO-BREAK", b"\xff\xfe\xc3TO-BREAK\xed\x80\x80"))
    r = _cli(src, tmp_path / "o.mp4", rule_onnx)  # this was a UnicodeDecodeError traceback when opening
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert len(read_video(tmp_path / "o.mp4")["frames"]) == 4


def test_video_timestamps_that_leap_hours_do_not_cost_the_output(rule_onnx, tmp_path):
    # timestamps that jump 11 days (damaged, or reset midway): the mp4 muxer refused them and the run failed
    pts = [0, 40, 80, 10**9, 10**9 + 40, 10**9 + 80]
    src = write_video(tmp_path / "leap.mkv", split_frames(6), pts=pts, time_base=Fraction(1, 1000))
    stats = segment_video(src, tmp_path / "o.mp4", model=rule_onnx, quiet=True)
    v = read_video(tmp_path / "o.mp4")
    assert stats["frames"] == len(v["frames"]) == 6
    assert v["seconds"] == pytest.approx([0, 0.04, 0.08, 0.12, 0.16, 0.2], abs=2e-3)  # on at the nominal rate


def test_one_frame_with_a_wild_timestamp_takes_the_next_slot(tmp_path):
    tb = Fraction(1, 1000)
    with VideoSink(tmp_path / "o.mp4", width=64, height=48, fps=Fraction(25), time_base=tb) as sink:
        for i, pts in enumerate([0, 40, 10**8, 120, 160, 160, -5000]):  # ahead, repeated, far back
            sink.write(np.zeros((48, 64, 3), np.uint8), Frame(i, None, pts, tb))
    assert read_video(tmp_path / "o.mp4")["seconds"] == pytest.approx([0, 0.04, 0.08, 0.12, 0.16, 0.161, 0.201])


def test_clean_audio_loses_nothing(rule_onnx, tmp_path):
    for src, kw in [(REAL_CLIP, {}), (REAL_CLIP, {"start": 0.5, "duration": 0.6}),
                    (write_video(tmp_path / "a.ts", split_frames(25), audio_seconds=1.0), {})]:  # fmt: skip
        out = tmp_path / "o.mp4"
        stats = segment_video(src, out, model=rule_onnx, size=(36, 64), overwrite=True, quiet=True, **kw)
        assert stats["audio_dropped"] == 0, (src, kw)
        if not kw:
            assert len(audio_packets(out)) == len(audio_packets(src))


@pytest.mark.timeout(60)
def test_a_damaged_file_played_live_ends_instead_of_replaying_forever(rule_onnx, tmp_path):
    src = write_video(tmp_path / "clip.mp4", split_frames(40, h=96, w=128))
    with av.open(str(src)) as c:
        packet = [p for p in c.demux(video=0) if p.size][20]
    data = bytearray(src.read_bytes())
    data[packet.pos : packet.pos + packet.size] = bytes(packet.size)  # one frame the decoder rejects
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    # the decoder's error was taken for a lost stream: the file reopened ("reconnected") from its start,
    # delivered frames (earning its retries back) and failed again, forever
    r = _cli(bad, tmp_path / "rec.mp4", rule_onnx, "--live")  # (--retry-delay: refused, a file is never reconnected)
    assert r.returncode == 0 and "reconnecting" not in r.stderr, r.stderr
    assert 0 < len(read_video(tmp_path / "rec.mp4")["frames"]) < 40


@pytest.mark.parametrize("codec", ["libx264", "mpeg4"])
def test_frames_damaged_at_the_very_end_are_counted_as_lost(tmp_path, codec):
    # with frame threads a decoder says so only as it is drained by the empty packet at the end
    from roadseg.pipeline.sources.file import VideoSource

    rng = np.random.default_rng(0)
    clean = write_video(tmp_path / "clean.mkv", [rng.integers(0, 255, (64, 64, 3), np.uint8) for _ in range(12)],
                        codec=codec)  # fmt: skip
    with av.open(str(clean)) as src, av.open(str(tmp_path / "bad.mkv"), "w") as out:
        stream = out.add_stream_from_template(src.streams.video[0])
        packets = [p for p in src.demux(src.streams.video[0]) if p.size]
        for n, p in enumerate(packets):
            data = bytes(p) if n < len(packets) - 2 else bytes(p)[:4] + rng.integers(0, 255, p.size - 4, np.uint8).tobytes()
            q = av.Packet(data)
            q.pts, q.dts, q.time_base, q.stream, q.is_keyframe = p.pts, p.dts, p.time_base, stream, p.is_keyframe
            out.mux(q)
    source = VideoSource(tmp_path / "bad.mkv", audio=False)
    frames = sum(1 for _ in source)
    assert frames + source.lost >= 11 and source.lost >= 1, (frames, source.lost)


@pytest.mark.parametrize("source,out", [("bc.mkv", "o.mp4"), ("bc.ts", "o.mp4"), ("bc.mkv", "o.ts"), ("dvb.ts", "o.mpg")])
def test_mpeg_audio_is_copied_where_a_container_marks_its_layers_alike(rule_onnx, tmp_path, source, out):
    # MP2 (broadcast, DVB recordings) reads back from mp4 and MPEG-TS as MP3, the same family: no re-encoding
    src = write_video(tmp_path / source, split_frames(5), audio_seconds=0.2, audio_codec="mp2")
    r = _cli(src, tmp_path / out, rule_onnx)
    assert r.returncode == 0 and "re-encoding" not in r.stderr, r.stderr
    assert audio_packets(tmp_path / out)[0][2] == audio_packets(src)[0][2]  # the packet itself


def test_a_stray_copy_of_later_pictures_does_not_end_duration_early(rule_onnx, tmp_path):
    # a transport stream of 40 intra pictures (0.04 s apart) with the packets of pictures 30-31 (1.2 s) copied
    # in again after picture 10, as a damaged card's duplicated chunk: --duration 0.8 keeps pictures 0-19
    clean = tmp_path / "clean.ts"
    with av.open(str(clean), "w") as out:
        vs = out.add_stream("libx264", rate=25, options={"g": "1", "preset": "ultrafast"})
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        encode_pictures(out, vs, (np.full((48, 64, 3), i * 6, np.uint8) for i in range(40)))
    with av.open(str(clean)) as c:
        pos = [p.pos for p in c.demux(video=0) if p.size]  # (each picture's first 188-byte TS packet)
    data = clean.read_bytes()
    damaged = tmp_path / "damaged.ts"
    damaged.write_bytes(data[: pos[11]] + data[pos[30] : pos[32]] + data[pos[11] :])
    stats = segment_video(damaged, tmp_path / "o.mp4", model=rule_onnx, quiet=True, duration=0.8)
    assert len(read_video(tmp_path / "o.mp4")["frames"]) == stats["frames"] == 20  # was 11: stopped at the copy



def test_a_damaged_photo_that_decodes_gets_roadsegs_line_not_libjpegs(rule_onnx, tmp_path):
    """libjpeg writes its warning straight on file descriptor 2 ("Premature end of JPEG file", beside roadseg's
    lines); roadseg says it in one line naming the photo, which is segmented as it decoded, alone or in a folder."""
    import cv2

    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("a.jpg", "photo.jpg"):
        cv2.imwrite(str(folder / name), cv2.cvtColor(split_frames(1, 96, 128)[0], cv2.COLOR_RGB2BGR))
    photo = folder / "photo.jpg"
    photo.write_bytes(photo.read_bytes()[: photo.stat().st_size * 2 // 3])  # (libjpeg decodes what is there)
    for src, out, made in ((photo, tmp_path / "seg.png", ["seg.png"]), (folder, tmp_path / "segs", ["a.png", "photo.png"])):
        r = _cli(src, out, rule_onnx)
        assert r.returncode == 0, r.stderr
        said = [line for line in r.stderr.splitlines() if not line.startswith("wrote ")]
        assert said == [f"roadseg: {photo}: damaged data (libjpeg: Premature end of JPEG file); segmented what decoded"], \
            r.stderr  # fmt: skip
        assert sorted(p.name for p in (out.parent.glob(out.name) if out.suffix else out.iterdir())) == made


def test_what_another_thread_writes_while_a_photo_decodes_is_passed_on_as_it_came(tmp_path, monkeypatch, capfdbinary,
                                                                                 caplog):  # fmt: skip
    """File descriptor 2 is the process's: a line another thread writes while libjpeg's warning is caught is
    caught too, and must reach standard error unchanged, not be lost or taken for the photo's."""
    import cv2

    from roadseg.pipeline.sources.images import read_image

    photo = tmp_path / "photo.jpg"
    cv2.imwrite(str(photo), cv2.cvtColor(split_frames(1, 96, 128)[0], cv2.COLOR_RGB2BGR))
    photo.write_bytes(photo.read_bytes()[: photo.stat().st_size * 2 // 3])
    imread = cv2.imread

    def beside_another_thread(*args):
        os.write(2, b"\r 40%|####      | another thread's progress bar")  # (no newline: a bar redrawn in place)
        os.write(2, b"\nanother thread's line\n")
        return imread(*args)

    monkeypatch.setattr(cv2, "imread", beside_another_thread)
    with caplog.at_level("WARNING", logger="roadseg"):
        assert read_image(photo).shape == (96, 128, 3)
    err = capfdbinary.readouterr().err
    other = b"\r 40%|####      | another thread's progress bar\nanother thread's line\n"
    # (after it, roadseg's own warning where an earlier test gave its logger a handler on stderr, as the CLI does)
    assert err.startswith(other) and all(b"damaged data (libjpeg: " in line for line in err[len(other):].splitlines()), err
    assert [r.getMessage() for r in caplog.records] == [
        f"{photo}: damaged data (libjpeg: Premature end of JPEG file); segmented what decoded"]


@pytest.mark.parametrize("suffix", [".avi", ".mkv"])
def test_a_picture_whose_timestamp_was_lost_goes_a_frame_step_after_the_one_before(rule_onnx, tmp_path, suffix):
    # a transport stream's 6th PES header with its PTS flags zeroed (damage): its picture decodes with no time. Was
    # placed at its count by the rate (0.2 s), not from the first picture's time (0.021 s, after the AAC's priming):
    # in an AVI that slot was the picture before's, and it was left out (19 pictures, "wrote ...: 20 frames"); in an
    # mkv it came 0.019 s after the one before
    src = write_video(tmp_path / "cam.ts", split_frames(20), audio_seconds=0.8)
    data = bytearray(src.read_bytes())
    at = -1
    for _ in range(6):
        at = data.index(b"\x00\x00\x01\xe0", at + 1)
    data[at + 7] = 0  # (PTS_DTS_flags: none; the 10 bytes that held them read as header stuffing)
    src.write_bytes(bytes(data))
    with av.open(str(src)) as c:
        assert [p.pts for p in c.demux(video=0)].index(None) == 5
    segment_video(src, out := tmp_path / f"o{suffix}", model=rule_onnx, quiet=True)
    with av.open(str(out)) as c:
        times = [float(f.time) for f in c.decode(video=0)]
    assert len(times) == 20, times
    assert times[5] - times[4] == pytest.approx(0.04, abs=0.002), times


def test_a_file_with_no_picture_that_decodes_is_told_so_with_start_too(rule_onnx, tmp_path):
    # cut off inside its first picture: none decodes. With --start it was told "no video frames after --start 0.4s in
    # cut.mkv; it lasts 1.0 s", as if it had pictures before 0.4 s (after "cannot seek": its index was cut off, so it
    # was decoded from its start). (A file read up to --start undecoded, a .ts, cannot tell: it is told as before.)
    src = write_video(tmp_path / "cam.mkv", split_frames(25, h=96, w=128), audio_seconds=1.0)
    with av.open(str(src)) as c:
        first = next(p for p in c.demux(video=0) if p.size)
        end = first.pos + first.size // 2
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(src.read_bytes()[:end])
    for extra in ([], ["--start", "0.4"]):
        r = _cli(cut, tmp_path / "o.mp4", rule_onnx, *extra)
        assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
        assert r.stderr.splitlines()[-1] == f"Error: no decodable video frames in {cut}", r.stderr
