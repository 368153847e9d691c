"""A raw H.264/HEVC stream (``.h264``, ``.hevc``, as some DVRs record), which holds no timestamps: its pictures are
placed by their count at the one rate it is read at, the one its SPS states, else FFmpeg's 25 frames/s
(``framerates.untimed_rate``), for --start and --duration (``sources.untimed.Untimed``) and in every output."""

import math
import re
from fractions import Fraction

import av
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import encode_numbered, read_video

from roadseg.cli import segment_video_cmd
from roadseg.pipeline.sources import VideoSource
from roadseg.pipeline.sources.base import Frame
from roadseg.pipeline.sources.concat import concat_source
from roadseg.pipeline.sources.numbering import FrameNumbers
from roadseg.pipeline.sources.order import ShownOrder
from roadseg.pipeline.sources.untimed import Untimed

PICTURES = 100  # 4 s at 25 frames/s
#: an x264 stream with B-frames and an IDR picture every second (read up to --start, those before not decoded), and
#: an x265 one, whose keyframes after the first are CRA pictures (an open group of pictures: decoded from its start)
ENCODERS = {
    ".h264": ("libx264", {"preset": "veryfast", "bf": "3", "g": "25", "crf": "10"}),
    ".hevc": ("libx265", {"preset": "ultrafast", "x265-params": "keyint=25:bframes=3:log-level=error"}),
}
NTSC_FILM = Fraction(24000, 1001)


def _raw_stream(path, rate):
    """:data:`PICTURES` pictures, each unlike the others (a bar that moves and a blue that grows), in a raw stream
    whose SPS states ``rate`` (x264's time_scale is twice it, a field's), or, None, no rate (at 25)."""
    codec, options = ENCODERS[path.suffix]
    if rate is None and codec == "libx265":
        options = {**options, "x265-params": options["x265-params"] + ":vui-timing-info=0"}
    with av.open(str(path), "w") as out:
        vs = out.add_stream(codec, rate=rate or 25)
        vs.width, vs.height, vs.pix_fmt, vs.options = 64, 48, "yuv420p", options
        encode_numbered(out, vs, PICTURES, 2)
    if rate is None and codec == "libx264":  # (x264 always writes it: taken out of its SPS, NAL unit type 7)
        sps = re.compile(rb"(?<=\x00\x00\x01\x67).*?(?=\x00\x00\x00?\x01)", re.S)
        path.write_bytes(sps.sub(lambda m: _untimed_sps(m.group()), path.read_bytes()))
    return path


def _untimed_sps(payload: bytes) -> bytes:
    """An x264 SPS's ``payload`` (after its NAL header) without its VUI's timing (timing_info_present_flag 0): High
    profile, no scaling lists, picture order count of type 0 or 2."""
    bits, at = "".join(f"{b:08b}" for b in payload.replace(b"\0\0\3", b"\0\0")), 24

    def u(n=1):
        nonlocal at
        at += n
        return int(bits[at - n : at], 2)

    def ue():
        zeros = bits.index("1", at) - at
        return u(2 * zeros + 1) - 1

    ue()  # (seq_parameter_set_id)
    if payload[0] in (100, 110, 122, 244):  # (chroma format, bit depths, a flag, scaling lists)
        _ = (ue() == 3 and u(), ue(), ue(), u(), u() and pytest.fail("scaling lists"))
    _ = (ue(), ue() == 0 and ue(), ue(), u(), ue(), ue(), u() or u(), u())  # (frame numbers ... frame_mbs_only, 8x8)
    _ = (u() and [ue() for _ in range(4)], u() or pytest.fail("no VUI"))  # (cropping)
    _ = (u() and u(8) == 255 and u(32), u() and u(), u() and (u(4), u() and u(24)), u() and (ue(), ue()))
    assert u(), "no timing to take out"
    bits = bits[: at - 1] + "0" + bits[at + 65 :].rstrip("0")[:-1] + "1"  # (the rest of the VUI, its stop bit)
    size, out = -(-len(bits) // 8), bytearray()
    for byte in int(bits.ljust(size * 8, "0"), 2).to_bytes(size, "big"):  # (emulation prevention again)
        out += b"\3" if out[-2:] == b"\0\0" and byte <= 3 else b""
        out.append(byte)
    return bytes(out)


@pytest.fixture(scope="module")
def raw_streams(tmp_path_factory):
    """:func:`_raw_stream` of a suffix and rate, made once, and its pictures decoded whole (RGB)."""
    made, folder = {}, tmp_path_factory.mktemp("raw")

    def raw(suffix, rate=Fraction(25)):
        if (suffix, rate) not in made:
            path = _raw_stream(folder / f"dvr{len(made)}{suffix}", rate)
            with av.open(str(path)) as c:
                made[suffix, rate] = path, [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        return made[suffix, rate]

    return raw


def test_a_stream_made_without_timing_states_no_rate(raw_streams):
    # (the helper's streams: FFmpeg's decoder reads the rate of one, none of the others, which it reads at 25)
    for suffix in ENCODERS:
        with av.open(str(raw_streams(suffix, Fraction(30))[0])) as timed, av.open(str(raw_streams(suffix, None)[0])) as c:
            assert (timed.streams.video[0].codec_context.framerate, c.streams.video[0].codec_context.framerate) == (
                30, None)  # fmt: skip
            assert c.streams.video[0].average_rate == 25 and len(raw_streams(suffix, None)[1]) == PICTURES


@pytest.mark.parametrize("suffix", [".h264", ".hevc"])
@pytest.mark.parametrize("rate", [Fraction(25), Fraction(30)])
@pytest.mark.parametrize(("start", "duration"), [(1, None), (0, 1), (1.5, 1), (3.3, 1), (2.02, None), (3.2, None)])
def test_a_raw_streams_window_is_its_pictures_at_its_rate(raw_streams, suffix, rate, start, duration):
    # was: its pictures had no time, so --start kept none ('no video frames after --start 1s', after 'cannot seek in
    # ... (Operation not permitted)') and --duration all of them; then counted at 25 frames/s whatever the SPS said
    path, pictures = raw_streams(suffix, rate)
    assert len(pictures) == PICTURES
    with VideoSource(str(path), audio=False, start=start, duration=duration) as src:
        frames = [item for item in src if isinstance(item, Frame)]
        expected = src.expected_frames()
    first = math.ceil(start * rate - 1e-6)
    last = PICTURES if duration is None else min(PICTURES, math.ceil((start + duration) * rate - 1e-6))
    if rate == 25:  # (the count, once by hand: 75, 25, 25, 17, 49, 20)
        assert last - first == {1: 75, 0: 25, 1.5: 25, 3.3: 17, 2.02: 49, 3.2: 20}[start]
    assert (len(frames), expected, src.lost) == (last - first, last - first, 0)
    for n, frame in enumerate(frames):  # (the pictures at their place: the same as decoded whole)
        assert np.array_equal(frame.image, pictures[first + n]), (first, n)


@pytest.mark.parametrize(("rate", "window"), [(Fraction(25), 50), (Fraction(30), 60)])
def test_a_raw_stream_expects_the_frames_of_its_window_as_it_opens(raw_streams, rate, window):
    # (the progress bar's count: none where the stream's end bounds the window, as FFmpeg knows no length of it)
    path, _ = raw_streams(".h264", rate)
    with VideoSource(str(path), audio=False, start=1, duration=2) as src:
        assert src.expected_frames() == window
    with VideoSource(str(path), audio=False, start=1) as src:
        assert src.expected_frames() is None
        assert sum(isinstance(item, Frame) for item in src) == src.expected_frames() == PICTURES - rate
    with VideoSource(str(path), audio=False, start=3) as src:  # (read up to --start: the pictures before the IDR
        assert sum(isinstance(item, Frame) for item in src) == PICTURES - 3 * rate  # before its own not decoded)
        assert 3 * rate - 25 <= src._untimed._skipped < 3 * rate, src._untimed._skipped  # (an IDR every 25 at most)


@pytest.mark.parametrize(("suffix", "rate"), [(".h264", Fraction(25)), (".hevc", Fraction(25)), (".h264", Fraction(30)),
                                              (".hevc", NTSC_FILM)])  # fmt: skip
def test_a_raw_stream_is_cut_on_the_command_line(rule_onnx, tmp_path, raw_streams, suffix, rate):
    out = tmp_path / "o.mp4"
    args = [str(raw_streams(suffix, rate)[0]), "-o", str(out), "--model", str(rule_onnx), "--start", "1", "--duration",
            "2"]  # fmt: skip
    r = CliRunner().invoke(segment_video_cmd, args)
    assert r.exit_code == 0 and "cannot seek" not in r.output and "could not be decoded" not in r.output, r.output
    with av.open(str(out)) as c:
        times = [float(f.time) for f in c.decode(video=0)]
    first, end = math.ceil(rate - 1e-6), math.ceil(3 * rate - 1e-6)  # (a picture at 1 s or after, before 3 s, at its
    assert times == pytest.approx([n / rate - 1 for n in range(first, end)], abs=1e-4), times  # time after 1 s)


@pytest.mark.parametrize(("suffix", "rate", "container"), [
    (".h264", Fraction(30), "mp4"), (".h264", Fraction(30), "mkv"), (".h264", Fraction(30), "avi"),
    (".h264", Fraction(30), "mxf"), (".hevc", Fraction(30), "mp4"), (".hevc", Fraction(30), "avi"),
    (".h264", NTSC_FILM, "mp4"), (".h264", NTSC_FILM, "mxf"), (".hevc", NTSC_FILM, "mkv"),
    (".h264", None, "mp4"), (".h264", None, "avi"), (".hevc", None, "mkv"), (".hevc", None, "mxf")])  # fmt: skip
def test_every_output_of_a_raw_stream_is_at_the_rate_its_sps_states(rule_onnx, tmp_path, raw_streams, suffix, rate,
                                                                    container):  # fmt: skip
    # (else FFmpeg's 25 frames/s, where it states none) was: 25 frames/s in an mp4 or mkv, the SPS's in an AVI or
    # MXF: a DVR's 30 frames/s lasted 20 % longer (its 4 s, 100 pictures: 3.33 s in the AVI, 4 s in the mp4)
    out = tmp_path / f"o.{container}"
    r = CliRunner().invoke(segment_video_cmd, [str(raw_streams(suffix, rate)[0]), "-o", str(out), "--model",
                                               str(rule_onnx), "-q"])  # fmt: skip
    assert r.exit_code == 0 and r.output.startswith("wrote ") and len(r.output.splitlines()) == 1, r.output
    rate = rate or 25
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        times = [float(f.time) for f in c.decode(v)]
        assert abs(v.average_rate - rate) < rate / 1000, v.average_rate
        assert c.duration / av.time_base == pytest.approx(PICTURES / rate, abs=1.01 / rate)  # (to the last's end or
    # start), the pictures a frame apart from the first, at 0 (an AVI's too: was 1/rate, FFmpeg read its H.264 a frame
    # late before it carried HRD timing)
    assert times[0] == pytest.approx(0, abs=1e-3), times[0]
    assert [t - times[0] for t in times] == pytest.approx([n / rate for n in range(PICTURES)], abs=1e-3), times


def test_start_past_a_raw_streams_end_fails_in_one_line(rule_onnx, tmp_path, raw_streams):
    path = raw_streams(".h264")[0]
    r = CliRunner().invoke(segment_video_cmd, [str(path), "-o", str(tmp_path / "o.mp4"), "--model", str(rule_onnx),
                                               "--start", "5"])  # fmt: skip
    assert r.exit_code == 1 and r.output == f"Error: no video frames after --start 5s in {path}\n", r.output
    assert not (tmp_path / "o.mp4").exists()


def test_a_raw_stream_at_a_rate_mxf_does_not_hold_shows_each_picture_at_its_time(rule_onnx, tmp_path, raw_streams):
    # 10 frames/s: written at 30, MXF's nearest multiple of it, each picture 3 times (was: once each, the pictures
    # without a time taken one a frame: the stream's 10 s played in 3.3 s)
    out = tmp_path / "o.mxf"
    r = CliRunner().invoke(segment_video_cmd, [str(raw_streams(".h264", Fraction(10))[0]), "-o", str(out), "--model",
                                               str(rule_onnx)])  # fmt: skip
    assert r.exit_code == 0 and "holds no video at 10 frames/s; written at 30" in r.output, r.output
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        assert (v.average_rate, sum(1 for _ in c.decode(v))) == (30, 3 * PICTURES)  # (was: the last picture once)


@pytest.mark.parametrize("suffix", [".h264", ".hevc"])
def test_raw_streams_joined_are_placed_at_the_rate_their_sps_states(raw_streams, tmp_path, suffix):
    # --concat of a DVR's raw files, cut across the join (was: 'no video frames after --start 3s': the joined stream's
    # pictures had no time)
    path, pictures = raw_streams(suffix, Fraction(30))
    for name in "ab":
        (tmp_path / f"{name}{suffix}").write_bytes(path.read_bytes())
    with concat_source(str(tmp_path / f"*{suffix}"), audio=False, start=3, duration=2) as src:
        frames = [item for item in src if isinstance(item, Frame)]
        assert (src.info.fps, src.info.timed_fps, len(frames), src.expected_frames(), src.lost) == (30, 30, 60, 60, 0)
    for n, frame in enumerate(frames):  # (pictures 90 to 149 of the join: the first file's last 10, the next's 50)
        assert np.array_equal(frame.image, pictures[(90 + n) % PICTURES]), n
        assert frame.time == pytest.approx(n / 30)  # (from --start)


@pytest.mark.parametrize("container", ["mp4", "avi"])
def test_raw_streams_joined_are_written_at_the_rate_their_sps_states(rule_onnx, tmp_path, raw_streams, container):
    # (was: 25 frames/s in an mp4, 30 in an AVI, their 8 s 9.6 s long in the mp4)
    path = raw_streams(".h264", Fraction(30))[0]
    for name in "ab":
        (tmp_path / f"{name}.h264").write_bytes(path.read_bytes())
    out = tmp_path / f"o.{container}"
    r = CliRunner().invoke(segment_video_cmd, [str(tmp_path / "*.h264"), "--concat", "-o", str(out), "--model",
                                               str(rule_onnx), "-q"])  # fmt: skip
    assert r.exit_code == 0, r.output
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        times = [float(f.time) for f in c.decode(v)]
        assert v.average_rate == 30 and len(times) == 2 * PICTURES
    assert [t - times[0] for t in times] == pytest.approx([n / 30 for n in range(2 * PICTURES)], abs=1e-3)


@pytest.mark.parametrize("rate", [Fraction(10), Fraction(60), Fraction(120)])
def test_a_raw_streams_pictures_are_judged_a_frame_step_apart_at_its_one_rate(raw_streams, rate):
    # (framerates.step_rate: InLine's step, the span's and the Gaps' frame, as --start and the outputs count its
    # pictures; was: FFmpeg's average_rate, its demuxer's 25, whatever the SPS said: nothing retimed, each picture
    # stamped in line by its count, but two rates for one stream)
    with VideoSource(str(raw_streams(".h264", rate)[0]), audio=False) as src:
        steps = (src._frame_step, src._in_line().step, src._gaps._frame)
        frames = [item for item in src if isinstance(item, Frame)]
    assert steps == pytest.approx((1 / rate,) * 3), steps
    assert [f.time for f in frames] == pytest.approx([n / rate for n in range(PICTURES)], abs=1e-6)
    assert (src._retimed, src.lost) == (0, 0)


#: the slice NAL units' headers, by suffix: H.264's of a picture (reference or not), HEVC's of a trailing or leading one
SLICE_UNITS = {".h264": rb"\x00\x00\x01([\x01\x21\x41\x61])", ".hevc": rb"\x00\x00\x01([\x00-\x13])\x01"}


def _damaged(clean, path, reference: bool, fill: bytes = bytes(7)):
    """``clean`` raw H.264/HEVC stream's packets written to ``path``, the slice header of one picture past its middle
    that is a reference picture, or one that is not (a B-picture), damaged so that FFmpeg's decoder refuses it: its
    first fields zeroed, or set to ``fill`` (all ones: its picture order count's low bits all ones, odd)."""
    with av.open(str(clean)) as c:
        packets = [bytes(p) for p in c.demux(video=0) if p.size]
    slices = [re.search(SLICE_UNITS[clean.suffix], p) for p in packets]
    kinds = [s and (s.group(1)[0] >> 5 > 0 if clean.suffix == ".h264" else s.group(1)[0] >> 1 & 1) for s in slices]
    n = next(n for n in range(PICTURES // 2, PICTURES) if slices[n] and bool(kinds[n]) == reference)
    at = slices[n].end() + 1  # (past the slice header's first byte: its first fields zeroed)
    packets[n] = packets[n][:at] + fill + packets[n][at + 7 :]
    path.write_bytes(b"".join(packets))


def _grouped(path, bframes: int = 2):
    """A raw H.264/HEVC stream (by ``path``'s suffix) of :data:`PICTURES` at 25 frames/s, an IDR picture every 25,
    ``bframes`` B-pictures in each group, none a reference; each picture's blue its number twice."""
    b = f"bframes={bframes}:b-adapt=0:b-pyramid=0"
    options = {".h264": {"preset": "veryfast", "g": "25", "crf": "10", "x264-params": b},
               ".hevc": {"preset": "ultrafast", "x265-params": f"keyint=25:{b}:log-level=error"}}
    with av.open(str(path), "w") as out:
        vs = out.add_stream(ENCODERS[path.suffix][0], rate=25)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        vs.options = options[path.suffix]
        encode_numbered(out, vs, PICTURES, 2)
    return path


@pytest.mark.parametrize("suffix", [".h264", ".hevc"])
@pytest.mark.parametrize("reference", [False, True])
def test_a_raw_streams_pictures_after_one_that_does_not_decode_keep_their_place(tmp_path, suffix, reference):
    # placed where their picture order count says they show (sources.order), a picture that did not decode leaves
    # its place empty (was: counted by the pictures out, every one after it a frame early to the stream's end: 50 of
    # 99; an HEVC reference picture's, whose 23 pictures after it that refer to it are dropped, 25 of 76, the last at
    # 3.00 s of 3.96)
    clean = _grouped(tmp_path / f"clean{suffix}")
    with av.open(str(clean)) as c:
        pictures = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    _damaged(clean, tmp_path / f"dvr{suffix}", reference)
    with VideoSource(str(tmp_path / f"dvr{suffix}"), audio=False) as src:
        frames = [item for item in src if isinstance(item, Frame)]
    assert len(frames) == PICTURES - 1 or reference and len(frames) < PICTURES - 1
    places = [round(f.time * 25) for f in frames]
    assert places == sorted(set(places)) and places[-1] == PICTURES - 1, places  # (the last at its place: 3.96 s)
    for frame, place in zip(frames, places, strict=True):  # (each picture the one at its place; after a reference
        if not reference or place > 75:  # picture lost, those after it that refer to it are not, to the next IDR)
            assert np.array_equal(frame.image, pictures[place]), place


@pytest.mark.parametrize("suffix", [".h264", ".hevc"])
@pytest.mark.parametrize(("bframes", "reference"), [(2, False), (2, True), (0, True)])
def test_a_raw_streams_pictures_after_one_whose_count_reads_odd_keep_their_place(tmp_path, suffix, bframes, reference):
    # one slice header damaged so that its picture order count reads odd (x264's go 2 a frame) no longer makes the
    # count's step a frame 1 to the stream's end (sources.order.step_of; was: every picture after it, and those
    # decoded after it, two frames apart in their IDR period, each period's overrunning the next's: 2.12, 2.2 ...
    # 2.84 s, then 2.56, 2.64 ...; the last of 99 at 4.08 s: 40 steps of two frames, 5 back, not one step). x265's
    # go 1 a frame: its step is 1 whatever the damage, as x264's without B-frames (picture order count of type 2).
    clean = _grouped(tmp_path / f"clean{suffix}", bframes)
    with av.open(str(clean)) as c:
        pictures = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    # (a B-picture's damaged, or a P-picture's: those after it, to the next IDR picture, refer to it)
    _damaged(clean, tmp_path / f"dvr{suffix}", reference, fill=b"\xff" * 7)
    with VideoSource(str(tmp_path / f"dvr{suffix}"), audio=False) as src:
        frames = [item for item in src if isinstance(item, Frame)]
    places = [round(f.time * 25) for f in frames]
    assert places == sorted(set(places)) and places[-1] == PICTURES - 1, places
    assert len(frames) == PICTURES - 1 or reference and len(frames) < PICTURES - 1, places
    for frame, place in zip(frames, places, strict=True):
        if not reference or place >= 75 or place < 50:
            assert np.array_equal(frame.image, pictures[place]), place


def _h264_unit(kind: int, fields: list[tuple[str, int, int]]) -> bytes:
    """An Annex B NAL unit of type ``kind`` (a reference one) whose RBSP holds ``fields``: ("u", bits, value) or
    ("ue", 0, value), then a stop bit (no emulation prevention: the values here make no 0 0 0-3 run)."""
    bits = ""
    for coding, n, value in fields:  # (Exp-Golomb: as many zeros as the bits of value + 1 after the first)
        bits += format(value, f"0{n}b") if coding == "u" else "0" * ((value + 1).bit_length() - 1) + f"{value + 1:b}"
    bits += "1"
    bits += "0" * (-len(bits) % 8)
    return b"\0\0\1" + bytes([0x60 | kind]) + int(bits, 2).to_bytes(len(bits) // 8, "big")


def test_a_raw_h264_stream_with_fields_in_packets_of_their_own_is_placed_by_its_pictures_count():
    # a field (PAFF: a frame's two fields may come in two packets) counts as a picture in the packets that begin
    # each IDR period: a frame after the next IDR picture, placed by its key, went a place on (3, not 2); once a
    # field is read, the pictures are placed by their count, as those before it were (the same places, the stream
    # whole so far)
    sps = _h264_unit(7, [("u", 8, 77), ("u", 16, 0), ("ue", 0, 0), ("ue", 0, 0), ("ue", 0, 0), ("ue", 0, 0),
                         ("ue", 0, 1), ("u", 1, 0), ("ue", 0, 3), ("ue", 0, 3), ("u", 1, 0)])  # fmt: skip
    pps = _h264_unit(8, [("ue", 0, 0), ("ue", 0, 0)])

    def picture(idr: bool, frame_num: int, field: int | None, poc: int) -> bytes:  # (a slice of I, P or field)
        head = [("ue", 0, 0), ("ue", 0, 7 if idr else 5), ("ue", 0, 0), ("u", 4, frame_num)]
        head += [("u", 1, 0)] if field is None else [("u", 1, 1), ("u", 1, field)]
        return _h264_unit(5 if idr else 1, head + ([("ue", 0, 0)] if idr else []) + [("u", 4, poc)])

    packets = [sps + pps + picture(True, 0, None, 0), picture(False, 1, 0, 2), picture(False, 1, 1, 3),
               picture(True, 0, None, 0)]  # fmt: skip
    untimed = Untimed(Fraction(25), Fraction(1, 25))
    keys = []
    for data in packets:
        packet = av.Packet(data)
        untimed.take(packet, "h264")
        keys.append(packet.opaque)
    assert keys[0] == (0, 0) and keys[1] is keys[2] is None and keys[3] == (1, 0)  # (the headers read as built)
    frames = []  # (out of the decoder: the first frame, the field pair, the second IDR frame)
    for key in (keys[0], None, keys[3]):
        vf = av.VideoFrame(16, 16, "yuv420p")
        vf.time_base, vf.opaque = Fraction(1, 25), key
        frames.append(vf)
    untimed.stamp(frames)
    assert [vf.pts for vf in frames] == [0, 1, 2] and untimed.pictures == 3


@pytest.mark.parametrize(("first", "second"), [(2, 1), (1, 2), (2, 2)])
def test_recordings_joined_whose_picture_order_counts_step_unlike_are_each_placed_by_its_own_step(first, second):
    # the step a frame is each IDR period's (sources.order.ShownOrder: was the stream's, the greatest common divisor
    # of all counts read: a recording whose count goes 2 a frame joined to one going 1 was placed, once the second's
    # read, twice as far on, and the second joined to the first all its pictures); a picture is placed as its
    # decoded picture shows, a few pictures after it is read: here once all are
    sps = _h264_unit(7, [("u", 8, 77), ("u", 16, 0), ("ue", 0, 0), ("ue", 0, 4), ("ue", 0, 0), ("ue", 0, 4),
                         ("ue", 0, 1), ("u", 1, 0), ("ue", 0, 3), ("ue", 0, 3), ("u", 1, 1)])  # fmt: skip
    pps = _h264_unit(8, [("ue", 0, 0), ("ue", 0, 0)])

    def picture(idr: bool, poc: int) -> bytes:  # (frame_num and the count's low bits 8 bits each)
        head = [("ue", 0, 0), ("ue", 0, 7 if idr else 5), ("ue", 0, 0), ("u", 8, 0)]
        return _h264_unit(5 if idr else 1, head + ([("ue", 0, 0)] if idr else []) + [("u", 8, poc)])

    order, keys = ShownOrder("h264"), []
    for step in (first, second):  # (12 pictures each: I0 P2 B1 P4 B3 ... in frames)
        frames = [0] + [f for i in range(1, 12, 2) for f in ((i + 1, i) if i + 1 < 12 else (i,))]
        keys += [order.take((sps + pps if not keys else b"") + picture(not n, step * f)) for n, f in enumerate(frames)]
    assert [order.place(key) for key in keys] == [p + 12 * half for half in (0, 1) for p in frames]


def test_a_lost_picture_is_told_in_a_stream_whose_picture_parameter_set_is_not_numbered_as_its_sequence_one():
    # frame_num's skip (numbering.FrameNumbers): a PPS's ids were read in the wrong order (its sps id taken for its
    # own), so a stream whose PPS is 1 and SPS 0 told no lost picture at all
    sps = _h264_unit(7, [("u", 8, 77), ("u", 16, 0), ("ue", 0, 0), ("ue", 0, 0), ("ue", 0, 0), ("ue", 0, 0),
                         ("ue", 0, 1), ("u", 1, 0), ("ue", 0, 3), ("ue", 0, 3), ("u", 1, 1)])  # fmt: skip
    pps = _h264_unit(8, [("ue", 0, 1), ("ue", 0, 0)])

    def picture(idr: bool, frame_num: int) -> bytes:  # (a frame's slice referring to PPS 1)
        head = [("ue", 0, 0), ("ue", 0, 7 if idr else 5), ("ue", 0, 1), ("u", 4, frame_num)]
        return _h264_unit(5 if idr else 1, head + ([("ue", 0, 0)] if idr else []) + [("u", 4, 2 * frame_num)])

    numbers = FrameNumbers(None)
    told = [numbers.skipped(data) for data in (sps + pps + picture(True, 0), picture(False, 1), picture(False, 2),
                                                picture(False, 4), picture(False, 5))]  # fmt: skip
    assert told == [False, False, False, True, False]


def test_pictures_a_raw_stream_lost_are_told(rule_onnx, tmp_path):
    # a raw stream knows its pictures only once read (its packets: sources.order), and the run now asks it then: an
    # HEVC reference picture that did not decode, and the 23 that refer to it, were lost untold (76 of 100 written)
    _damaged(_grouped(tmp_path / "clean.hevc"), tmp_path / "dvr.hevc", reference=True)
    r = CliRunner().invoke(segment_video_cmd, [str(tmp_path / "dvr.hevc"), "-o", str(tmp_path / "o.mp4"), "--model",
                                               str(rule_onnx)])  # fmt: skip
    assert r.exit_code == 0, r.output
    written = len(read_video(tmp_path / "o.mp4")["frames"])
    assert written < PICTURES - 1 and f"{PICTURES - written} of about {PICTURES} frames" in r.output, r.output
