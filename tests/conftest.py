"""Fixtures that build tiny real media and tiny real models in tmp_path (nothing downloaded), and the check that
fails a test which leaves a thread running (no_thread_left_running)."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
import traceback
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from roadseg import contract

collect_ignore = ["rtsp_server.py"]  # a helper run by Debian's python3, not a test module

#: Seconds a test's threads get, after it, to end before the test fails for leaving them running.
THREADS_GRACE = 2.0
#: Seconds a call roadseg abandoned by design gets (``runner.abandoned_calls``: a read of a stalled stream, an open
#: that Ctrl-C left, which cannot be cut short from Python): it ends on its own, by FFmpeg's timeout at the latest.
ABANDONED_GRACE = 5.0 + 1.0  # (options.STREAM_TIMEOUT, the default --stream-timeout: the read and open timeout, and a second)
#: Modules whose threads are not judged: Ray starts threads of its own that live as long as its driver.
THREADS_EXEMPT = {"test_batch_ray"}
#: Threads a library starts once and keeps for the rest of the process, whichever test started it: tqdm's monitor
#: (one per process, woken every 10 s to look at the open bars; the first test to show a bar starts it).
PROCESS_THREADS = {"tqdm_monitor"}


def _where(thread: threading.Thread) -> str:
    """``thread``'s name, target and innermost frames: what tells whose it is."""
    target = getattr(thread, "_target", None)
    what = getattr(target, "__qualname__", target) if target else f"{type(thread).__qualname__}.run"
    frame = sys._current_frames().get(thread.ident)
    stack = "".join(traceback.format_stack(frame, limit=4)) if frame else "  (no frame)\n"
    return f"{thread.name} ({what}):\n{stack}"


def threads_left(before: set[threading.Thread], grace: float = THREADS_GRACE) -> list[threading.Thread]:
    """The threads alive now that were not in ``before``, once each has had until ``grace`` s from now to end
    (a join with a deadline; :data:`ABANDONED_GRACE` for a call roadseg abandoned, which ends on its own)."""
    from roadseg.pipeline.runner import abandoned_calls

    new = [t for t in threading.enumerate() if t not in before and t.name not in PROCESS_THREADS]
    start = time.monotonic()
    for t in new:
        t.join(max(0.0, start + grace - time.monotonic()))
    abandoned = [t for t in new if t in set(abandoned_calls())]
    for t in abandoned:
        t.join(max(0.0, start + max(grace, ABANDONED_GRACE) - time.monotonic()))
    return [t for t in new if t.is_alive()]


@pytest.fixture(autouse=True)
def no_thread_left_running(request):
    """Fail a test that leaves a thread running after it (a server it never shut down, a run's reader that
    outlived its run): in one pytest process such threads, and what they hold, pile up to the end of the run
    (six servers' threads of test_live.py's stalled streams did). Cheap: a set of the threads before, and a join
    of those started since."""
    if getattr(getattr(request.node, "module", None), "__name__", None) in THREADS_EXEMPT:  # (a doctest has none)
        yield
        return
    before = set(threading.enumerate())
    yield
    left = threads_left(before)
    if left:
        pytest.fail(f"{len(left)} thread(s) left running {THREADS_GRACE} s after the test:\n"
                    + "\n".join(map(_where, left)), pytrace=False)  # fmt: skip


def write_video(
    path: Path,
    frames: list[np.ndarray],
    *,
    fps: Fraction = Fraction(25),
    codec: str = "libx264",
    pts: list[int] | None = None,
    time_base: Fraction | None = None,
    audio_seconds: float = 0.0,
    pix_fmt: str = "yuv420p",
    rotation: int = 0,
    options: dict | None = None,
    audio_codec: str = "aac",
    metadata: dict | None = None,
    offset: float = 0.0,
    sample_aspect: Fraction | None = None,
    audio_rate: int = 48000,
) -> Path:
    """Encode RGB frames (and optionally a mono sine-wave track at ``audio_rate``, AAC unless ``audio_codec`` says)
    with PyAV.

    ``offset``: seconds added to every timestamp (a transport stream's clock that does not start at 0)."""
    with av.open(str(path), "w", options=options or {}) as out:
        out.metadata.update(metadata or {})
        vs = out.add_stream(codec, rate=fps)
        vs.height, vs.width = frames[0].shape[:2]
        vs.pix_fmt = pix_fmt
        if rotation:
            vs.set_display_rotation(rotation)
        if sample_aspect:
            vs.codec_context.sample_aspect_ratio = sample_aspect  # (non-square pixels: anamorphic video)
        if codec == "libx264":
            vs.options = {"crf": "12", "preset": "ultrafast"}
        tb = time_base or 1 / fps
        vs.codec_context.time_base = tb
        aus = None
        if audio_seconds:
            aus = out.add_stream(audio_codec, rate=audio_rate)
            aus.layout = "mono"
        for i, img in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(img, format="rgb24")
            vf.pts = (pts[i] if pts else i) + round(offset / tb)
            vf.time_base = tb
            out.mux(vs.encode(vf))
        out.mux(vs.encode(None))
        if aus is not None:
            n, chunk = int(audio_rate * audio_seconds), aus.codec_context.frame_size or 1024
            wave = (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / audio_rate)).astype(np.float32)[None]
            fmt = aus.codec_context.codec.audio_formats[0].name  # fltp (AAC), s16 (Opus, PCM) ...
            samples = (wave * 32767).astype(np.int16) if fmt == "s16" else wave
            for s in range(0, n, chunk):
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, s : s + chunk]), format=fmt, layout="mono")
                af.sample_rate, af.pts, af.time_base = audio_rate, s + round(offset * audio_rate), Fraction(1, audio_rate)
                out.mux(aus.encode(af))
            out.mux(aus.encode(None))
    return path


def add_captions(base: Path, path: Path, cues, *, options: dict | None = None) -> Path:
    """A copy of ``base`` (mkv or mp4) at ``path`` with a text subtitle track of ``cues``, (start ms,
    text) pairs of 0.2 s each, as some dashcams write their GPS: SubRip in mkv, mov_text in mp4."""
    from roadseg.pipeline.sinks.subtitles import add_text_stream, from_text

    codec = "mov_text" if path.suffix == ".mp4" else "subrip"
    with av.open(str(base)) as src, av.open(str(path), "w", container_options=options or {}) as out:
        streams = {s.index: out.add_stream_from_template(s) for s in src.streams}
        captions = add_text_stream(out, codec, Fraction(1, 1000))
        for packet in src.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
        for start, text in cues:
            packet = av.Packet(from_text(codec, text))
            packet.pts = packet.dts = start
            packet.duration, packet.time_base, packet.stream = 200, Fraction(1, 1000), captions
            out.mux(packet)
    return path


def add_telemetry(base: Path, path: Path, samples, *, timecode: bool = False, options: dict | None = None) -> Path:
    """A copy of ``base`` at ``path`` (mp4 or mov) with a GoPro-style telemetry track: a GPMF data
    stream (``gpmd``) of ``samples``, (start ms, bytes) pairs of 0.5 s each; with ``timecode``, also the
    timecode track (``tmcd``, a data stream without a codec) that cameras write."""
    with av.open(str(base)) as src, av.open(str(path), "w", container_options=options or {}) as out:
        streams = {s.index: out.add_stream_from_template(s) for s in src.streams}
        if timecode:
            streams[src.streams.video[0].index].metadata["timecode"] = "01:00:00:00"
        gpmf = out.add_data_stream(codec_name="bin_data")
        gpmf.codec_tag, gpmf.time_base = "gpmd", Fraction(1, 1000)
        for packet in src.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
        for start, data in samples:
            packet = av.Packet(data)
            packet.pts = packet.dts = start
            packet.duration, packet.time_base, packet.stream = 500, Fraction(1, 1000), gpmf
            out.mux(packet)
    return path


def encode_pictures(out, stream, images, pix_fmt: str | None = None) -> None:
    """Encode RGB ``images`` (an iterable) into ``stream`` of the open container ``out``, the i-th at pts i (in
    ``pix_fmt`` where given), and flush the encoder."""
    for i, img in enumerate(images):
        vf = av.VideoFrame.from_ndarray(img, format="rgb24")
        vf = vf.reformat(format=pix_fmt) if pix_fmt else vf
        vf.pts = i
        out.mux(stream.encode(vf))
    out.mux(stream.encode(None))


def with_b_frames(path: Path, n: int) -> Path:
    """``n`` pictures at 25 fps in H.264 with 3 B-frames (a phone's, a GoPro's), and as long a sound (AAC), in the
    container ``path``'s suffix names (in MPEG-TS a picture decoded before it shows has a decoding time in its PES
    header too)."""
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=25, options={"bf": "3", "g": "25", "x264-params": "scenecut=0"})
        vs.height, vs.width = 96, 128
        aus = out.add_stream("aac", rate=48000, layout="mono")
        encode_pictures(out, vs, split_frames(n, h=96, w=128))
        wave = (0.3 * np.sin(2 * np.pi * 440 * np.arange(48000 * n // 25) / 48000)).astype(np.float32)[None]
        for s in range(0, wave.shape[1], 1024):
            af = av.AudioFrame.from_ndarray(np.ascontiguousarray(wave[:, s : s + 1024]), format="fltp", layout="mono")
            af.sample_rate, af.pts, af.time_base = 48000, s, Fraction(1, 48000)
            out.mux(aus.encode(af))
        out.mux(aus.encode(None))
    return path


def split_frames(n: int, h: int = 48, w: int = 64) -> list[np.ndarray]:
    """Left half red (R=255), right half dark (R=0); a moving grey bar keeps frames distinct."""
    frames = []
    for i in range(n):
        img = np.zeros((h, w, 3), np.uint8)
        img[:, : w // 2, 0] = 255
        img[(i * 3) % h, :, 1] = 128
        frames.append(img)
    return frames


def encode_numbered(out, vs, n: int, step: int) -> None:
    """Encode ``n`` pictures (:func:`split_frames`, each one's blue ``step`` times its number: each unlike the others)
    into the video stream ``vs`` of ``out``, stamped 0, 1, 2 ... in its rate's steps, and flush the encoder."""
    frames = split_frames(n, h=vs.height, w=vs.width)
    for i, img in enumerate(frames):
        img[:, :, 2] = step * i
    encode_pictures(out, vs, frames)


def write_late_video(path, lead: int = 2, keyint: int | None = None):
    """Sound from 0 s to ``lead`` + 2 s, pictures from ``lead`` s (50 at 25 frames/s, a keyframe every ``keyint``
    where given): a recording whose sound began first."""
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        vs.options = {"preset": "ultrafast"} | ({"g": str(keyint)} if keyint else {})
        aus = out.add_stream("aac", rate=48000)
        aus.layout = "mono"
        for k in range(0, (lead + 2) * 48000, 1024):
            af = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            af.sample_rate, af.pts = 48000, k
            out.mux(aus.encode(af))
        out.mux(aus.encode(None))
        for i, img in enumerate(split_frames(50)):
            vf = av.VideoFrame.from_ndarray(img, format="rgb24")
            vf.pts = 25 * lead + i
            out.mux(vs.encode(vf))
        out.mux(vs.encode(None))
    return path


def read_video(path: Path) -> dict:
    """What a checker needs: frames (RGB), pts, size, rate, codec, audio streams."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        info = {
            "codec": v.codec_context.name,
            "pix_fmt": v.codec_context.format.name,
            "width": v.codec_context.width,
            "height": v.codec_context.height,
            "rate": v.average_rate,
            "time_base": v.time_base,
            "audio": [(a.codec_context.name, a.duration, a.time_base) for a in c.streams.audio],
        }
        frames, pts = [], []
        for f in c.decode(video=0):
            frames.append(f.to_ndarray(format="rgb24"))
            pts.append(f.pts)
        info["frames"], info["pts"] = frames, pts
        info["seconds"] = [None if p is None else float(p * v.time_base) for p in pts]  # (an MPEG-PS's may be None)
    return info


def wait_for(predicate, timeout: float = 60.0, step: float = 0.02, *, fail: bool = True):
    """Poll ``predicate`` until it returns something true (returned) or ``timeout`` s pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    if fail:
        raise AssertionError(f"timed out after {timeout} s")


def mid_run(proc, parts, size: int, timeout: float = 60.0) -> None:
    """Return once one of ``parts()`` (a run's temporary outputs) holds ``size`` bytes while ``proc`` still runs: the
    moment a test signals a run "mid-run". Fail, saying so, where the run ended first (a machine fast enough to finish
    before the signal: its input is too short) or ``timeout`` s passed (was: the wait fell through and the test went
    on to signal a finished run, failing on what followed)."""

    def held(path: Path) -> int:
        try:
            return path.stat().st_size
        except FileNotFoundError:  # (renamed onto its own name as the run finished)
            return 0

    wait_for(lambda: proc.poll() is not None or any(held(p) >= size for p in parts()), timeout, fail=False)
    if proc.poll() is not None:
        raise AssertionError(f"the run ended (exit {proc.returncode}) before its output held {size} bytes: not mid-run")
    if not any(held(p) >= size for p in parts()):
        proc.kill()
        raise AssertionError(f"the run's output held no {size} bytes after {timeout} s (the run killed)")


def frame_count(path: Path) -> int:
    """Frames a video really decodes to (not what its header claims)."""
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def batch_results(out: Path) -> list[dict]:
    """The lines of a batch's ``results.jsonl``."""
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def part_files(out: Path) -> list[Path]:
    """Temporary outputs (``.b.mp4.part-...``) anywhere under a batch's output folder."""
    return [p for p in out.rglob("*") if ".part-" in p.name]


def rule_model(path: Path, *, input_size=(32, 48), metadata: dict | None = None) -> Path:
    """A contract model with a known rule: label = floor(R / 64), i.e. R=255 -> 3 (Road), R=0 -> 0 (Sky)."""
    nodes = [
        helper.make_node("Slice", [contract.INPUT, "starts", "ends", "axes"], ["red"]),
        helper.make_node("Squeeze", ["red", "axes"], ["red2"]),
        helper.make_node("Cast", ["red2"], ["redf"], to=TensorProto.FLOAT),
        helper.make_node("Div", ["redf", "k"], ["q"]),
        helper.make_node("Floor", ["q"], ["qf"]),
        helper.make_node("Cast", ["qf"], [contract.OUTPUT], to=TensorProto.UINT8),
    ]
    inits = [
        helper.make_tensor("starts", TensorProto.INT64, [1], [0]),
        helper.make_tensor("ends", TensorProto.INT64, [1], [1]),
        helper.make_tensor("axes", TensorProto.INT64, [1], [3]),
        helper.make_tensor("k", TensorProto.FLOAT, [], [64.0]),
    ]
    graph = helper.make_graph(
        nodes,
        "rule",
        [helper.make_tensor_value_info(contract.INPUT, TensorProto.UINT8, ["N", "H", "W", 3])],
        [helper.make_tensor_value_info(contract.OUTPUT, TensorProto.UINT8, ["N", "H", "W"])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    contract.set_metadata(model, contract.contract_metadata(input_size, **(metadata or {})))
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.fixture
def rule_onnx(tmp_path: Path) -> Path:
    return rule_model(tmp_path / "rule.onnx")


@pytest.fixture
def split_video(tmp_path: Path) -> Path:
    return write_video(tmp_path / "split.mp4", split_frames(12), audio_seconds=0.5)


def audio_packets(path: Path) -> list[tuple[int, int, bytes]]:
    """(pts, duration, payload) of every audio packet: a remux must keep all of them, priming included."""
    with av.open(str(path)) as c:
        return [(p.pts, p.duration, bytes(p)) for p in c.demux(c.streams.audio[0]) if p.pts is not None]


def sound_spans(path: Path) -> list[tuple[float, float]]:
    """Where each audio packet's sound lies (seconds), as decoded: a packet of merged frames plays all of them."""
    with av.open(str(path)) as c:
        out = []
        for p in c.demux(c.streams.audio[0]):
            frames = p.decode() if p.size else []
            if frames and frames[0].time is not None:
                out.append((float(frames[0].time), float(frames[0].time) + sum(f.samples for f in frames) / 48000))
        return out



def sound_late(src: Path, path: Path, chunk: float) -> Path:
    """A Matroska copy of ``src`` at ``path`` whose sound of each ``chunk`` seconds is stored after the pictures of
    those seconds, as a camera or a network stream may send it: a file played ``--live`` gives it that late
    (``max_interleave_delta`` 1 µs keeps the packets in the order given, not by time)."""
    with av.open(str(src)) as c:
        packets = [p for p in c.demux() if p.dts is not None]
        with av.open(str(path), "w", options={"max_interleave_delta": "1"}) as out:
            streams = {s.index: out.add_stream_from_template(s) for s in c.streams}
            at = {id(p): float(p.dts * p.time_base) for p in packets}
            for k in range(int(max(at.values()) / chunk) + 1):
                for kind in ("video", "audio"):
                    for p in packets:
                        if p.stream.type == kind and k * chunk <= at[id(p)] < (k + 1) * chunk:
                            p.stream = streams[p.stream.index]
                            out.mux(p)
    return path


def _vint(data: bytes, i: int, *, marker: bool = False) -> tuple[int, int]:
    """An EBML variable-length integer at ``data[i]`` (with its length marker: an element ID): (value, length)."""
    length = next(n for n in range(1, 9) if data[i] & (0x80 >> (n - 1)))
    value = data[i] if marker else data[i] & (0xFF >> length)
    for b in data[i + 1 : i + length]:
        value = value << 8 | b
    return value, length


def matroska_blocks(data: bytes) -> list[tuple[int, int, int]]:
    """(track, timestamp in ms, offset of its last byte) of each block of a Matroska stream, in stream order: the
    order a reader of a pipe gets them in (a pipe's Segment is of unknown size; each Cluster is of known size)."""
    containers, found = {0x18538067, 0x1F43B675, 0xA0}, []  # Segment, Cluster, BlockGroup

    def walk(i: int, end: int, cluster: int) -> int:
        while i < end:
            ident, n = _vint(data, i, marker=True)
            size, m = _vint(data, i + n)
            body = i + n + m
            stop = end if size == (1 << (7 * m)) - 1 else min(end, body + size)  # (all ones: unknown size)
            if ident in containers:
                cluster = walk(body, stop, cluster)
            elif ident == 0xE7:  # the Cluster's Timestamp
                cluster = int.from_bytes(data[body:stop], "big")
            elif ident in (0xA3, 0xA1):  # SimpleBlock, Block: track, then its time from the Cluster's (int16)
                track, k = _vint(data, body)
                found.append((track, cluster + int.from_bytes(data[body + k : body + k + 2], "big", signed=True), stop - 1))
            i = stop
        return cluster

    walk(0, len(data), 0)
    return found

def trained_like(seed: int, **config):
    """A random UNetResNet34 (11 classes, ``config``) in eval mode with non-trivial BN statistics,
    scales and shifts, as training leaves them, so labels are not a constant map (needs torch)."""
    import torch

    from roadseg.model import UNetResNet34

    torch.manual_seed(seed)
    net = UNetResNet34(11, **config)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
            m.running_mean.uniform_(-0.3, 0.3)
            m.running_var.uniform_(0.5, 2.0)
    return net.eval()


def as_from_a_terminal() -> None:
    """A subprocess's ``preexec_fn``: Ctrl-C and a hang-up act on it as in a terminal session (their defaults),
    whatever this test run inherited (under ``nohup`` SIGHUP is ignored, and a command keeps it so, by design)."""
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


@pytest.fixture
def every_frame_taken(monkeypatch):
    """The live run's newest-frame slot made to keep every frame, in order (none skipped), for a test of what a live
    run records: where a busy machine's model came late to its first frame, the slot skipped the first pictures, the
    recording began at a later one, and the sound before it was rightly left out (CI: 93 packets where 95 were
    counted). The slot's own tests use the real one."""
    from roadseg.pipeline.queues import LatestQueue

    run_module = sys.modules["roadseg.pipeline.run"]  # (the package's ``run`` is the function)
    monkeypatch.setattr(run_module, "LatestQueue", lambda keep=None, **kw: LatestQueue(keep=lambda item: True, **kw))
