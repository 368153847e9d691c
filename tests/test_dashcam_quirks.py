"""What real dashcams', phones' and action cameras' files do that the other tests' clips do not: each test a quirk
found by an audit of such files (built here with PyAV), that was not handled before."""


import av
import numpy as np
import pytest
from av.video.reformatter import Colorspace
from click.testing import CliRunner
from conftest import encode_pictures, sound_late, write_video

from roadseg.classes import PALETTE
from roadseg.cli import segment_video_cmd


def _bars(width: int, height: int) -> tuple[np.ndarray, int]:
    """A picture of the class colours as upright bars, and each bar's width."""
    step = width // len(PALETTE)
    img = np.zeros((height, width, 3), np.uint8)
    for i, colour in enumerate(PALETTE):
        img[:, i * step : (i + 1) * step] = colour
    return img, step


def _as_played(path) -> np.ndarray:
    """The first picture of ``path`` as a player shows it: converted by the matrix its stream is tagged with, or,
    untagged, by the one players take for its size (BT.709 for HD, BT.601 for SD)."""
    with av.open(str(path)) as c:
        vf = next(c.decode(video=0))
    if vf.colorspace == 2:  # unspecified
        hd = vf.width > 1024 or vf.height > 576
        return vf.to_ndarray(format="rgb24", src_colorspace=Colorspace.ITU709 if hd else Colorspace.ITU601)
    return vf.to_ndarray(format="rgb24")


@pytest.mark.parametrize("name,codec", [("o.avi", "mpeg4"), ("o.avi", "msmpeg4"), ("o.mpg", "mpeg1video"),
                                        ("o.mp4", None), ("o.webm", None)])  # fmt: skip
@pytest.mark.parametrize("size", [(320, 240), (1280, 720)])
def test_colours_play_right_in_sd_and_hd_whether_or_not_the_stream_can_carry_its_colour_tags(rule_onnx, tmp_path,
                                                                                              name, codec, size):
    # a VGA rear camera written as MPEG-4 AVI for an old player: MPEG-4 part 2 in AVI, and MPEG-1, carry no colour
    # tags, and a player takes an SD stream for BT.601; converted by BT.709, the colours came out up to 22 off
    # (CamVid's pavement 60,40,222 as 58,56,237)
    w, h = size
    img, step = _bars(w, h)
    src = tmp_path / "rear.mkv"
    with av.open(str(src), "w") as out:
        vs = out.add_stream("libx264", rate=25, options={"crf": "0", "preset": "ultrafast"})
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv444p"
        vs.codec_context.colorspace = 1
        vf = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv444p", dst_colorspace="ITU709")
        vf.colorspace, vf.pts = 1, 0
        out.mux(vs.encode(vf))
        out.mux(vs.encode(None))
    out = tmp_path / name
    args = [str(src), "-o", str(out), "--model", str(rule_onnx), "-q", "--alpha", "0", "--crf", "1"]
    r = CliRunner().invoke(segment_video_cmd, args + (["--codec", codec] if codec else []))
    assert r.exit_code == 0, r.output
    shown = _as_played(out)
    err = max(np.abs(shown[h // 2, i * step + step // 2].astype(int) - c).max() for i, c in enumerate(PALETTE))
    assert err <= 6, (err, name, codec, size)




def _wide_gamut_clip(path, colours, w=192, h=64):
    """A 10-bit HEVC clip in BT.2020's primaries but SDR's transfer (BT.2020-10: BT.709's curve), as a camera in a
    10-bit mode that is not HDR records it, of ``colours`` (BT.709 RGB) as bars; and each bar's width."""
    from roadseg.pipeline.sources import hdr

    step = w // len(colours)
    light = (np.array(colours, np.float64) / 255.0) ** hdr.GAMMA  # BT.709 RGB to display light
    wide = np.clip(light @ np.linalg.inv(hdr.BT2020_TO_BT709.astype(np.float64)).T, 0, 1) ** (1 / hdr.GAMMA)
    img = np.zeros((h, w, 3), np.uint16)
    for i, c in enumerate(wide):
        img[:, i * step : (i + 1) * step] = np.round(c * 65535)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx265", rate=25, options={"x265-params": "lossless=1:log-level=error"})
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p10le"
        cc = vs.codec_context
        cc.color_primaries, cc.color_trc, cc.colorspace, cc.color_range = hdr.BT2020, 14, hdr.BT2020, 1
        for k in range(2):
            vf = av.VideoFrame.from_ndarray(img, format="rgb48le").reformat(
                format="yuv420p10le", dst_colorspace=hdr.BT2020, dst_color_range=1)
            vf.color_primaries, vf.color_trc, vf.colorspace, vf.color_range = hdr.BT2020, 14, hdr.BT2020, 1
            vf.pts = k
            out.mux(vs.encode(vf))
        out.mux(vs.encode(None))
    return path, step


def test_a_ten_bit_clip_in_bt2020_colours_that_is_not_hdr_is_segmented_in_the_colours_it_shows(rule_onnx, tmp_path,
                                                                                                caplog):
    # read as if its primaries were BT.709's, such a clip's colours came out washed out: orange (200, 120, 40) as
    # (174, 125, 70), CamVid's pavement (60, 40, 222) as (84, 55, 187)
    from roadseg.pipeline.sources import LiveSource, VideoSource

    colours = [(200, 120, 40), (60, 40, 222), (128, 128, 128), (30, 30, 30), (90, 200, 70), (128, 64, 128)]
    src, step = _wide_gamut_clip(tmp_path / "cam.mp4", colours)
    for source in (VideoSource(src, audio=False), LiveSource(str(src), pace=False)):
        with source as s:
            got = next(iter(s)).image
        assert max(np.abs(got[32, i * step + step // 2].astype(int) - c).max() for i, c in enumerate(colours)) <= 4
    assert caplog.text.count("cam.mp4 is in BT.2020's colours: segmenting and writing it in BT.709's") == 2
    out = tmp_path / "o.mp4"
    r = CliRunner().invoke(segment_video_cmd, [str(src), "-o", str(out), "--model", str(rule_onnx), "-q", "--alpha", "0",
                                               "--crf", "1"])  # fmt: skip
    assert r.exit_code == 0, r.output
    shown = _as_played(out)
    assert max(np.abs(shown[32, i * step + step // 2].astype(int) - c).max() for i, c in enumerate(colours)) <= 5


def _recording(path, size, first: int, n: int = 10) -> None:
    """``n`` MPEG-2 pictures of ``size`` (width, height) in a transport stream, numbered from ``first``."""
    with av.open(str(path), "w") as out:
        vs = out.add_stream("mpeg2video", rate=25)
        vs.width, vs.height, vs.pix_fmt = *size, "yuv420p"
        for i in range(n):
            img, _ = _bars(*size)
            vf = av.VideoFrame.from_ndarray(img, format="rgb24")
            vf.pts = first + i
            out.mux(vs.encode(vf))
        out.mux(vs.encode(None))


@pytest.mark.parametrize("live", [False, True])
def test_a_file_whose_picture_size_changes_midway_says_so_once(rule_onnx, tmp_path, live):
    # a dashcam's recordings joined with cat after its resolution was changed: the later pictures are scaled to the
    # first size (the output's), which a live source said and a file did not (a 4:3 picture stretched to 16:9 unsaid)
    _recording(tmp_path / "a.ts", (176, 96), 0)
    _recording(tmp_path / "b.ts", (128, 96), 10)
    src = tmp_path / "drive.ts"
    src.write_bytes((tmp_path / "a.ts").read_bytes() + (tmp_path / "b.ts").read_bytes())
    out = tmp_path / "o.mp4"
    args = [str(src), "-o", str(out), "--model", str(rule_onnx), "-q"] + (["--live"] if live else [])
    r = CliRunner().invoke(segment_video_cmd, args)
    assert r.exit_code == 0, r.output
    assert r.output.count("drive.ts's picture changed size from 176x96 to 128x96; scaling it to the first size") == 1, \
        r.output
    with av.open(str(out)) as c:
        assert {(f.width, f.height) for f in c.decode(video=0)} == {(176, 96)}


def test_a_file_of_three_cameras_names_each_other_one_it_can_segment_instead(rule_onnx, tmp_path):
    # a dashcam of front, rear and cabin cameras in one file: the line named --video-stream 1 alone
    src = tmp_path / "tri.mp4"
    with av.open(str(src), "w") as out:
        cameras = [out.add_stream("libx264", rate=25, options={"preset": "ultrafast"}) for _ in range(3)]
        for vs, (w, h) in zip(cameras, ((128, 96), (64, 48), (48, 32))):
            vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        for vs in cameras:
            encode_pictures(out, vs, [_bars(vs.width, vs.height)[0]] * 3)
    run = lambda *a: CliRunner().invoke(segment_video_cmd, [str(src), "--model", str(rule_onnx), "-q", *a])  # noqa: E731
    r = run("-o", str(tmp_path / "front.mp4"))
    assert r.exit_code == 0 and ("left out of the output: 2 video streams (h264) (--video-stream 1 or 2 segments that "
                                 "video stream instead)") in r.output, r.output  # fmt: skip
    r = run("-o", str(tmp_path / "rear.mp4"), "--video-stream", "1")
    assert r.exit_code == 0 and "(--video-stream 0 or 2 segments that video stream instead)" in r.output, r.output


def test_a_thumbnail_track_ahead_of_the_video_is_not_what_is_segmented(rule_onnx, tmp_path):
    # a camera's mp4 whose first video track is a one-picture JPEG thumbnail, not flagged as a cover: FFmpeg's choice
    # (the first track, the default), so the output was that one picture, its 1 s of sound beside it
    src = tmp_path / "cam.mp4"
    with av.open(str(src), "w") as out:
        thumb = out.add_stream("mjpeg", rate=25)
        thumb.width, thumb.height, thumb.pix_fmt = 64, 48, "yuvj420p"
        vs = out.add_stream("libx264", rate=25, options={"preset": "ultrafast"})
        vs.width, vs.height, vs.pix_fmt = 128, 96, "yuv420p"
        aus = out.add_stream("aac", rate=48000, layout="mono")
        vf = av.VideoFrame.from_ndarray(_bars(64, 48)[0], format="rgb24").reformat(format="yuvj420p")
        vf.pts = 0
        out.mux(thumb.encode(vf))
        out.mux(thumb.encode(None))
        encode_pictures(out, vs, [_bars(128, 96)[0]] * 25)
        for k in range(0, 48000, 1024):
            af = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            af.sample_rate, af.pts = 48000, k
            out.mux(aus.encode(af))
        out.mux(aus.encode(None))
    out = tmp_path / "o.mp4"
    r = CliRunner().invoke(segment_video_cmd, [str(src), "-o", str(out), "--model", str(rule_onnx), "-q"])
    assert r.exit_code == 0 and "a video stream (mjpeg) (--video-stream 0 segments" in r.output, r.output
    with av.open(str(out)) as c:
        assert [(f.width, f.height) for f in c.decode(video=0)] == [(128, 96)] * 25


def _sound_times(path) -> list[float]:
    """The times of the first audio stream's packets, in seconds, as FFmpeg reads them."""
    with av.open(str(path)) as c:
        return [float(p.pts * p.time_base) for p in c.demux(audio=0) if p.pts is not None]


@pytest.mark.parametrize("codec,rate", [("aac", 48000), ("mp2", 44100)])
def test_compressed_sound_of_an_avi_copied_into_an_avi_keeps_its_length(rule_onnx, tmp_path, codec, rate):
    # an AVI dashcam's AAC or MPEG audio: its header's block size, copied into an AVI output, was written as its
    # sample size, which times the packets by their bytes: 1 s of AAC read back as 0.26 s, four packets a frame
    # step apart; MP2's first two at once, the rest a frame early. PyAV cannot clear the block size: re-encoded
    src = tmp_path / "cam.avi"
    with av.open(str(src), "w") as out:
        vs = out.add_stream("mjpeg", rate=25)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuvj420p"
        aus = out.add_stream(codec, rate=rate, layout="mono")
        encode_pictures(out, vs, [_bars(64, 48)[0]] * 25, pix_fmt="yuvj420p")
        size = aus.codec_context.frame_size
        wave = (0.3 * np.sin(np.arange(rate) / 10)).astype(np.float32)
        for k in range(0, rate, size):
            data = wave[None, k : k + size] if codec == "aac" else (wave[None, k : k + size] * 32767).astype(np.int16)
            af = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format=aus.codec_context.format.name,
                                            layout="mono")  # fmt: skip
            af.sample_rate, af.pts = rate, k
            out.mux(aus.encode(af))
        out.mux(aus.encode(None))
    out = tmp_path / "o.avi"
    r = CliRunner().invoke(segment_video_cmd, [str(src), "-o", str(out), "--model", str(rule_onnx), "-q"])
    assert r.exit_code == 0, r.output
    assert f"audio stream #1 ({codec}) cannot be copied (avi would time its packets by their bytes" in r.output
    want, got = _sound_times(src), _sound_times(out)  # (re-encoded: AAC's frames, from the same start)
    steps = np.diff(got)
    assert got[0] == want[0] and steps.max() - steps.min() < 0.001, got[:6]
    assert got[-1] + steps[0] == pytest.approx(want[-1] + want[1] - want[0], abs=0.05), (got[-1], want[-1])


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
@pytest.mark.parametrize("window", [("1.0", "0.4"), ("0.2", "1.0")])
def test_a_window_of_a_file_whose_sound_is_stored_a_second_behind_its_pictures_keeps_its_sound(rule_onnx, tmp_path,
                                                                                                suffix, window):
    # a camera that writes its file a second at a time, each second's pictures before its sound (a fragmented mp4's
    # fragments, an mp4 of 1-s chunks): the reading stopped 10 pictures past the window's end, before the sound of
    # its last second, and the output of --start 1 --duration 0.4 had no audio stream at all
    made = write_video(tmp_path / "made.mp4", [_bars(64, 48)[0]] * 75, audio_seconds=3.0)
    src = sound_late(made, tmp_path / f"cam{suffix}", chunk=1.0)
    out = tmp_path / "o.mp4"
    r = CliRunner().invoke(segment_video_cmd, [str(src), "-o", str(out), "--model", str(rule_onnx), "-q",
                                               "--start", window[0], "--duration", window[1]])  # fmt: skip
    assert r.exit_code == 0, r.output
    with av.open(str(out)) as c:
        assert c.streams.audio, "no audio stream"
        frames = list(c.decode(audio=0))
    begin, end = float(frames[0].time), float(frames[-1].time) + frames[-1].samples / frames[-1].sample_rate
    assert begin == pytest.approx(0.0, abs=0.03) and end == pytest.approx(float(window[1]), abs=0.05), (begin, end)


def test_a_window_read_on_for_its_sound_does_not_tell_of_damage_past_it(rule_onnx, tmp_path):
    # a file whose sound ends before the window's end (a microphone switched off) is read on past the window, up to
    # SOUND_BEHIND, for sound that never comes: pictures damaged 1.4 s past the window were told lost ('5 of about 30
    # frames could not be decoded'), the window's 25 all written
    made = write_video(tmp_path / "made.mkv", [_bars(64, 48)[0]] * 125, audio_seconds=0.5)
    src = tmp_path / "cam.mkv"
    with av.open(str(made)) as c, av.open(str(src), "w") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in c.streams}
        for packet in (p for p in c.demux() if p.size):
            damaged = packet.stream.type == "video" and 2.4 <= packet.pts * packet.time_base < 2.56
            copy = av.Packet(b"\0\0\0\1\x41\xff\xff" if damaged else bytes(packet))
            copy.stream, copy.pts, copy.dts = streams[packet.stream.index], packet.pts, packet.dts
            copy.time_base, copy.is_keyframe = packet.time_base, packet.is_keyframe
            out.mux(copy)
    r = CliRunner().invoke(segment_video_cmd, [str(src), "-o", str(tmp_path / "o.mkv"), "--model", str(rule_onnx),
                                               "--duration", "1"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "could not be decoded" not in r.output and "25 frames" in r.output, r.output


def test_a_window_past_where_the_sound_ends_is_not_read_on_for_it(tmp_path, monkeypatch):
    # a clip whose microphone stopped at 0.5 s, whose mp4 header says so: --start 2 --duration 1 read on 3 s of
    # pictures past the window's end (SOUND_BEHIND) for sound that never comes, not the 10 pictures a window reads on
    from roadseg.pipeline.sources import VideoSource
    from roadseg.pipeline.sources.decoding import Decoding

    src = write_video(tmp_path / "mic-off.mp4", [_bars(64, 48)[0]] * 250, audio_seconds=0.5)
    real, packets = Decoding._decode, []
    monkeypatch.setattr(Decoding, "_decode", lambda self, packet: packets.append(packet.pts) or real(self, packet))
    with VideoSource(src, start=2.0, duration=1.0) as source:
        frames = [item for item in source if hasattr(item, "image")]
    assert len(frames) == 25 and len(packets) < 75 + 25, len(packets)  # (to the window's end: 75; past it: 10, not 75)
