"""Raw H.264/HEVC/MPEG-2 streams as encoders and DVRs write them (``sources.order.ShownOrder``, ``sources.untimed``):
each picture, whose grey encodes its index, read once, in the order it shows, a frame step apart, over encoder settings
whose order counts differ (B-pyramids, intra refresh without IDR pictures after the first, MBAFF, slices, open groups
of pictures, temporal layers, a picture order count that wraps), and streams a DVR's dump begins mid-recording."""

import re

import av
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import encode_pictures

from roadseg.cli import segment_video_cmd
from roadseg.pipeline.sources import VideoSource
from roadseg.pipeline.sources.base import Frame
from roadseg.pipeline.sources.order import ShownOrder

RATE = 25
X264 = {"preset": "ultrafast", "crf": "8"}


def _x265(params: str) -> dict:
    return {"preset": "ultrafast", "x265-params": "log-level=error:qp=8:" + params}


#: (encoder, FFmpeg's raw muxer, options, height) by case
STREAMS = {
    "x264-mbaff": ("libx264", "h264", {**X264, "x264-params": "interlaced=1:tff=1:bframes=3:keyint=12"}, 64),
    "x264-intra-refresh": ("libx264", "h264", {**X264, "x264-params": "intra-refresh=1:keyint=12:bframes=0"}, 48),
    "x264-slices-strict-pyramid": ("libx264", "h264", {**X264, "x264-params": "slices=4:bframes=3:b-pyramid=strict"}, 48),
    "x264-open-gop": ("libx264", "h264", {**X264, "x264-params": "bframes=3:keyint=30:open-gop=1"}, 48),
    "x265-open-gop": ("libx265", "hevc", _x265("bframes=4:keyint=30:open-gop=1"), 48),
    "x265-idr-radl": ("libx265", "hevc", _x265("bframes=4:keyint=12:open-gop=0:radl=2"), 48),
    "x265-temporal-layers": ("libx265", "hevc", _x265("bframes=4:temporal-layers=3:keyint=25"), 48),
    "mpeg2-open-gop": ("mpeg2video", "mpeg2video", {"bf": "2", "g": "12", "b": "3M"}, 48),
}


def _grey(i: int, height: int) -> np.ndarray:
    """Picture ``i``: its top half's grey the index's low 5 bits, its bottom half's the rest (up to 1087)."""
    img = np.zeros((height, 64, 3), np.uint8)
    img[: height // 2], img[height // 2 :] = 16 + (i % 32) * 7, 16 + (i // 32) * 7
    return img


def _index(img: np.ndarray) -> int:
    """The index :func:`_grey` wrote in ``img``."""
    top, bottom = np.split(img[:, :, 1].astype(float), 2)
    return round((bottom.mean() - 16) / 7) * 32 + round((top.mean() - 16) / 7)


def _encode(folder, case: str, pictures: int, repeat_headers: bool = False, first: int = 0):
    """``pictures`` pictures of :func:`_grey` (from index ``first``) in a raw stream of ``case`` (:data:`STREAMS`); ``repeat_headers``: the
    parameter sets again at each keyframe, as a DVR writes them, so that a dump begun mid-recording decodes."""
    codec, muxer, options, height = STREAMS[case]
    path = folder / f"cam.{ {'h264': 'h264', 'hevc': 'hevc', 'mpeg2video': 'm2v'}[muxer]}"
    if repeat_headers and codec != "mpeg2video":  # (which writes its sequence header at each group)
        key = "x265-params" if codec == "libx265" else "x264-params"
        options = {**options, key: options[key] + ":repeat-headers=1"}
    with av.open(str(path), "w", format=muxer) as out:
        vs = out.add_stream(codec, rate=RATE, options=options)
        vs.width, vs.height, vs.pix_fmt = 64, height, "yuv420p"
        encode_pictures(out, vs, (_grey(first + i, height) for i in range(pictures)))
    return path


def _read(path, start=0.0, duration=None) -> list[tuple[int, float]]:
    """(index, time) of each picture a VideoSource gives of ``path``."""
    with VideoSource(str(path), audio=False, start=start, duration=duration) as src:
        assert src.info.fps == RATE
        return [(_index(item.image), item.time) for item in src if isinstance(item, Frame)]


@pytest.mark.parametrize(("case", "pictures"), [(c, 75) for c in STREAMS] + [("x264-slices-strict-pyramid", 300)])
def test_each_picture_of_a_raw_stream_is_read_once_a_frame_step_apart(tmp_path, case, pictures):
    # (300 pictures: x264's picture order count, its low 6 bits here, wraps every 32, an IDR picture at 250. x265's
    # IDR_W_RADL pictures' leading ones, whose count is below 0, were placed with it: two pictures at one time, and a
    # window a frame on)
    path = _encode(tmp_path, case, pictures)
    assert _read(path) == [(i, pytest.approx(i / RATE, abs=1e-6)) for i in range(pictures)]
    window = _read(path, start=1.1, duration=0.8)  # (pictures 28 to 47)
    assert window == [(i, pytest.approx(i / RATE - 1.1, abs=1e-6)) for i in range(28, 48)]


def _packets(path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(video=0) if p.size]


def _cut(path, cut: int):
    """``path``'s raw stream from its packet ``cut`` on (decoding order), as a DVR's dump begun mid-recording."""
    path.write_bytes(b"".join(_packets(path)[cut:]))
    return path


@pytest.mark.parametrize(("case", "cut"), [("x264-open-gop", 10), ("x264-intra-refresh", 10), ("x265-open-gop", 10),
                                           ("x265-open-gop", 26), ("mpeg2-open-gop", 5)])  # fmt: skip
def test_a_raw_stream_begun_mid_recording_places_its_pictures_among_those_it_holds(tmp_path, case, cut):
    # a dump begun at packet ``cut`` holds the pictures after those of its first ``cut`` packets (all shown before
    # the first it decodes, at its keyframe): each at its index less ``cut``. Was: with no IDR picture in it, x264's
    # open-gop and intra-refresh pictures were placed from the first read whose header said its count (picture 30 at
    # 0 s, 0.08 s), x265's from its count since the IDR before the cut (30 at 1.2 s, cut at its CRA picture too); so
    # --start 1 gave pictures 55-79, or 30-49 at 0.2 s, not 35-59
    path = _cut(_encode(tmp_path, case, 90, repeat_headers=True), cut)
    read = _read(path)
    assert 50 < len(read) < 90 - cut and read[0][0] > cut + 3  # (past the pictures its first packets held)
    assert read == [(i, pytest.approx((i - cut) / RATE, abs=1e-6)) for i, _ in read]
    assert [i for i, _ in read] == sorted({i for i, _ in read})
    window = _read(path, start=1, duration=1)
    assert window == [(i, pytest.approx((i - cut) / RATE - 1, abs=1e-6)) for i in range(25 + cut, 50 + cut)]


def test_a_dump_begun_mid_recording_tells_the_pictures_before_its_first_keyframe(rule_onnx, tmp_path):
    # (they could not be decoded: told, and the output begins where its first picture shows, 0.8 s in)
    path = _cut(_encode(tmp_path, "x264-open-gop", 90, repeat_headers=True), 10)
    out = tmp_path / "o.mkv"
    r = CliRunner().invoke(segment_video_cmd, [str(path), "-o", str(out), "--model", str(rule_onnx)])
    assert r.exit_code == 0, r.output
    with av.open(str(out)) as c:
        times = [float(f.time) for f in c.decode(video=0)]
    assert re.search(rf"(\d+) of about {90 - 10} frames could not be decoded", r.output), r.output
    told = int(re.search(r"(\d+) of about", r.output).group(1))
    assert told == 90 - 10 - len(times) and times[0] == pytest.approx(0.8, abs=1e-3)
    assert times == pytest.approx([0.8 + n / RATE for n in range(len(times))], abs=1e-3)


def test_a_raw_hevc_stream_spliced_at_a_bla_picture_places_its_leading_pictures_before_it(tmp_path):
    # (an editor's cut: a recording's open group of pictures joined after another's end, its CRA picture made a BLA
    # one, whose leading pictures, not decoded, show before it): was, a BLA picture's period counted from 0, picture
    # 126 (26 packets in) at 70, not 40, 26 frames late
    first = _packets(_encode(tmp_path, "x265-open-gop", 40))
    (tmp_path / "b").mkdir()
    second = _packets(_encode(tmp_path / "b", "x265-open-gop", 60, repeat_headers=True, first=100))
    cra = next(n for n, data in enumerate(second) if n and b"\0\0\1\x2a\x01" in data)  # (NAL unit type 21)
    bla = second[cra].replace(b"\0\0\1\x2a\x01", b"\0\0\1\x20\x01", 1)  # (type 16: a BLA with leading ones)
    path = tmp_path / "spliced.hevc"
    path.write_bytes(b"".join(first + [bla] + second[cra + 1 :]))
    read = _read(path)
    assert [i for i, _ in read[:40]] == list(range(40)) and read[40][0] >= 100 + cra, read[40]
    assert read == [(i, pytest.approx((i if i < 40 else 40 + i - 100 - cra) / RATE, abs=1e-6)) for i, _ in read]


def test_an_mpeg2_group_longer_than_its_temporal_reference_is_placed_across_its_wrap():
    # (temporal_reference, 10 bits, wraps at 1024 in a group that long; FFmpeg's encoder opens a group every 600
    # pictures at most, so the headers are built here: I, then a P before the two B-pictures that show before it).
    # Was: a wrap was read as a new group at the P-picture after it, the B-pictures before it, of counts near 1024,
    # placed a group on (picture 1023 at 2046), the next B-picture a third group
    order = ShownOrder("mpeg2video")

    def picture(shown: int, kind: int) -> bytes:  # (a picture header: temporal_reference, picture_coding_type)
        tr = shown % 1024
        return b"\0\0\1\0" + bytes([tr >> 2, (tr & 3) << 6 | kind << 3, 0])

    decoding = [(0, 1), (1, 2)] + [(n + d, 2 if d == 0 else 3) for n in range(4, 1200, 3) for d in (0, -2, -1)]
    keys = [order.take((b"\0\0\1\xb8\0\0\0\0" if not n else b"") + picture(shown, kind))
            for n, (shown, kind) in enumerate(decoding)]  # fmt: skip
    assert [order.place(k) for k in keys] == [shown for shown, _ in decoding]
