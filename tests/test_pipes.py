"""Standard input and named pipes as INPUT while they send nothing: Ctrl-C and SIGTERM end the run at once (FFmpeg
waited in ``open()`` or ``read()``, deaf to both, until the pipe sent something or ended), an empty one is said in
one line, and a terminal is refused before anything is opened."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import pytest
from conftest import read_video, split_frames, write_video

#: what a thread of the run waits in while its input sends nothing (Linux's names in /proc/PID/task/TID/wchan): a
#: read of the pipe (``anon_pipe_read`` on newer kernels), the open of a named pipe without a writer, or a wait for
#: either to be readable
WAITS = ("pipe_read", "wait_for_partner", "fifo_open", "poll_schedule_timeout", "do_select", "do_sys_poll")


def _segment(source: str, out: Path, model: Path, **kw) -> subprocess.Popen:
    """``segment SOURCE -o OUT`` started as a user would start it."""
    cmd = [sys.executable, "-m", "roadseg", "segment", source, "-o", str(out), "--model", str(model)]
    return subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, **kw)


def _until_waiting(proc: subprocess.Popen, timeout: float = 60.0) -> None:
    """Return once a thread of ``proc`` waits on its input (:data:`WAITS`), and a second more; fail, saying so, where
    ``proc`` ended first or none waited within ``timeout`` s (was: the test went on to signal it all the same)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        try:
            waits = [Path(f"/proc/{proc.pid}/task/{t}/wchan").read_text() for t in os.listdir(f"/proc/{proc.pid}/task")]
        except OSError:  # (a thread gone as it was listed)
            waits = []
        if any(wait in w for w in waits for wait in WAITS):
            time.sleep(1.0)
            return
        time.sleep(0.1)
    if proc.poll() is None:
        proc.kill()
    _, err = proc.communicate()
    raise AssertionError(f"no thread of the run waited on its input within {timeout} s (exit {proc.returncode}): {err}")


def _stopped(proc: subprocess.Popen, sig: signal.Signals) -> tuple[int | None, float, str]:
    """(exit code, seconds taken, stderr) of ``proc`` sent ``sig``: None where it still ran 5 s later (then killed)."""
    sent = time.monotonic()
    proc.send_signal(sig)
    try:
        code = proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = None
    return code, time.monotonic() - sent, proc.communicate()[1]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_standard_input_that_sends_nothing_yet_stops_at_ctrl_c_and_sigterm(rule_onnx, tmp_path, sig):
    out = tmp_path / "out.mp4"
    proc = _segment("-", out, rule_onnx, stdin=subprocess.PIPE)  # (its writer, this test, sends nothing yet)
    try:
        _until_waiting(proc)
        code, took, err = _stopped(proc, sig)
    finally:
        proc.stdin.close()
    # was: still waiting 5 s later; the signal lost once data or its end came ("Invalid data found", exit 1)
    assert code == 128 + sig and took < 3, (code, took, err)
    assert err == "Error: interrupted before any frame was written\n" and not out.exists(), err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("writer", [False, True])
def test_a_named_pipe_that_sends_nothing_yet_stops_at_ctrl_c_and_sigterm(rule_onnx, tmp_path, sig, writer):
    fifo, out = tmp_path / "in.fifo", tmp_path / "out.mp4"
    os.mkfifo(fifo)
    proc = _segment(str(fifo), out, rule_onnx, stdin=subprocess.DEVNULL)
    held = None
    try:
        _until_waiting(proc)  # (without a writer: FFmpeg's open() of the pipe waits for one)
        if writer:  # (a writer that sends nothing yet: the read waits)
            held = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            time.sleep(1.0)
        code, took, err = _stopped(proc, sig)
    finally:
        if held is not None:
            os.close(held)
    assert code == 128 + sig and took < 3, (code, took, err)  # was: SIGINT lost, waiting in open() for a writer
    assert err == "Error: interrupted before any frame was written\n" and not out.exists(), err


@pytest.mark.parametrize("given", ["empty pipe", "/dev/null", "empty file"])
def test_an_empty_standard_input_is_said_in_one_line(rule_onnx, tmp_path, given):
    out = tmp_path / "out.mp4"
    if given == "empty pipe":  # (: | segment-video - -o out.mp4)
        read, write = os.pipe()
        os.close(write)
        stdin = os.fdopen(read, "rb")
    else:
        (tmp_path / "empty").touch()
        stdin = open(os.devnull if given == "/dev/null" else tmp_path / "empty", "rb")
    with stdin:
        proc = _segment("-", out, rule_onnx, stdin=stdin)
        err = proc.communicate(timeout=60)[1]
    # was: "Error: not a readable video: pipe:0 (Invalid data found when processing input)"
    assert proc.returncode == 1 and err == "Error: standard input ended before any video came (0 bytes)\n", err
    assert not out.exists()


def test_standard_input_that_is_a_terminal_is_refused_at_once(rule_onnx, tmp_path):
    out = tmp_path / "out.mp4"
    leader, follower = pty.openpty()
    try:
        proc = _segment("-", out, rule_onnx, stdin=follower)
        err = proc.communicate(timeout=60)[1]  # was: a wait, forever, for a video nobody can type
    finally:
        os.close(follower)
        os.close(leader)
    assert proc.returncode == 1 and err.count("\n") == 1, err
    assert err.startswith("Error: - reads a video from standard input, which is a terminal here: pipe one in"), err
    assert not out.exists()


def test_a_pipe_that_stalls_midway_stops_at_ctrl_c_and_keeps_what_was_written(rule_onnx, tmp_path):
    clip = write_video(tmp_path / "clip.mkv", split_frames(200, h=96, w=128), audio_seconds=8)
    out = tmp_path / "out.mkv"
    proc = _segment("-", out, rule_onnx, stdin=subprocess.PIPE)
    data = clip.read_bytes()
    try:
        proc.stdin.buffer.write(data[: len(data) // 2])  # (about 100 frames; then nothing more)
        proc.stdin.buffer.flush()
        _until_waiting(proc)
        time.sleep(3.0)  # (its frames done: the read of the pipe waits)
        code, took, err = _stopped(proc, signal.SIGINT)
    finally:
        proc.stdin.close()
    assert code == 130 and took < 3 and err.count("\n") == 1, (code, took, err)
    assert err.startswith("Error: interrupted: finalised a playable") and out.exists(), err
    assert 0 < len(read_video(out)["frames"]) < 200


def test_a_named_pipe_that_sends_no_video_is_said_in_one_line(rule_onnx, tmp_path):
    fifo, out = tmp_path / "in.fifo", tmp_path / "out.mp4"
    os.mkfifo(fifo)
    proc = _segment(str(fifo), out, rule_onnx, stdin=subprocess.DEVNULL)
    try:
        fifo.write_bytes(os.urandom(5000))  # (its writer then gone)
        err = proc.communicate(timeout=30)[1]
    except subprocess.TimeoutExpired:  # was: opened again to look for an mp4's boxes, waiting for another writer
        proc.kill()
        err = proc.communicate()[1]
    assert proc.returncode == 1 and err.count("\n") == 1, (proc.returncode, err)
    assert err.startswith(f"Error: not a readable video: {fifo} (") and not out.exists(), err


def test_a_batch_of_a_named_pipe_that_sends_nothing_yet_stops_at_once(rule_onnx, tmp_path):
    fifo, out = tmp_path / "in.mp4", tmp_path / "out"
    os.mkfifo(fifo)
    cmd = [sys.executable, "-m", "roadseg", "batch", str(fifo), "-o", str(out), "--model", str(rule_onnx)]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    held, end = None, time.monotonic() + 60
    try:
        while held is None and time.monotonic() < end and proc.poll() is None:
            try:  # (a writer can open the pipe once a worker has it open for reading)
                held = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                time.sleep(0.1)
        time.sleep(1.0)
        code, took, err = _stopped(proc, signal.SIGTERM)
    finally:
        if held is not None:
            os.close(held)
    # was: 3.3 s, the worker deaf to the driver's SIGTERM until the driver killed it after its 3 s
    assert held is not None and code == 143 and took < 2.5, (code, took, err)
    assert err.endswith("Error: interrupted: 1 video unfinished, their partial outputs removed; the same command again "
                        "does them, skipping those finished\n"), err
    assert not list(out.glob("*.mp4*")), list(out.iterdir())


def test_a_pipe_that_stalls_before_its_first_picture_stops_at_ctrl_c(rule_onnx, tmp_path):
    clip = write_video(tmp_path / "clip.mkv", split_frames(200, h=96, w=128), audio_seconds=8)
    with av.open(str(clip)) as c:  # (its header and 7 pictures whole: enough for FFmpeg's probe, too few for the
        cut = [p.pos for p in c.demux(video=0)][8] - 56  # first picture the source reads as it opens, whatever the
    # CPUs: it was 8 whole and a ninth, which a decoder of frame threads (2 CPUs: 3, holding 2 pictures back) kept
    # short of what the open reads, but one of a single thread (1 CPU, taskset -c 0) did not: the run wrote 9 frames)
    out = tmp_path / "out.mkv"
    proc = _segment("-", out, rule_onnx, stdin=subprocess.PIPE)
    try:
        proc.stdin.buffer.write(clip.read_bytes()[:cut])
        proc.stdin.buffer.flush()
        _until_waiting(proc)
        time.sleep(2.0)
        code, took, err = _stopped(proc, signal.SIGINT)
    finally:
        proc.stdin.close()
    # was: still waiting 5 s later, in the first picture's read on the main thread
    assert code == 130 and took < 3, (code, took, err)
    assert err == "Error: interrupted before any frame was written\n" and not out.exists(), err


@pytest.mark.parametrize("writer_first", [True, False])
def test_a_named_pipe_whose_writer_sends_nothing_is_said_in_one_line(rule_onnx, tmp_path, writer_first):
    fifo, out = tmp_path / "in.fifo", tmp_path / "out.mp4"
    os.mkfifo(fifo)
    if writer_first:  # (mkfifo p; (exec 3>p; exec 3>&-) &; segment-video p ...: its open waits for the reader)
        proc = subprocess.Popen(["sh", "-c", f"exec 3>'{fifo}'; exec 3>&-"])
        reader = _segment(str(fifo), out, rule_onnx, stdin=subprocess.DEVNULL)
        proc.wait(timeout=60)
    else:
        reader = _segment(str(fifo), out, rule_onnx, stdin=subprocess.DEVNULL)
        _until_waiting(reader)
        end = time.monotonic() + 60
        while reader.poll() is None and time.monotonic() < end:
            try:  # (a writer can open the pipe once the run has it open for reading)
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
                break
            except OSError:
                time.sleep(0.1)
    try:
        err = reader.communicate(timeout=60)[1]
    except subprocess.TimeoutExpired:
        reader.kill()
        err = reader.communicate()[1]
    # was: "Error: not a readable video: .../in.fifo (Invalid data found when processing input)"
    assert reader.returncode == 1, (reader.returncode, err)
    assert err == f"Error: the pipe {fifo} ended before any video came (0 bytes: its writer sent nothing)\n", err
    assert not list(tmp_path.glob("out*")), list(tmp_path.iterdir())


#: a library caller's run of a named pipe that no writer opens, stopped by Ctrl-C: the threads it leaves
LIBRARY_CALL = """
import sys, threading
import roadseg.errors
try:
    roadseg.segment_video(sys.argv[1], sys.argv[2], model=sys.argv[3], quiet=True)
except roadseg.errors.Interrupted as exc:
    print(type(exc).__name__, [t.name for t in threading.enumerate() if t is not threading.main_thread()])
"""


def test_a_library_run_of_a_named_pipe_stopped_by_ctrl_c_leaves_no_thread_waiting_on_it(rule_onnx, tmp_path):
    fifo, out = tmp_path / "in.fifo", tmp_path / "out.mp4"
    os.mkfifo(fifo)
    cmd = [sys.executable, "-c", LIBRARY_CALL, str(fifo), str(out), str(rule_onnx)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _until_waiting(proc)
    proc.send_signal(signal.SIGINT)
    try:
        said, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        said, err = proc.communicate()
    code = proc.returncode
    # was: "Interrupted ['roadseg-open', 'roadseg-open']": daemon threads, in the FIFO's open() until a writer came
    # (the interpreter left all the same), which then read what that writer sent for nobody
    assert code == 0 and said == "Interrupted []\n", (code, said, err)
    assert not out.exists()


@pytest.mark.parametrize("given", ["-", "/dev/stdin"])
def test_a_batch_of_standard_input_is_refused_in_one_line(rule_onnx, tmp_path, given):
    out = tmp_path / "out"
    clip = write_video(tmp_path / "clip.mkv", split_frames(6, h=48, w=64))
    cmd = [sys.executable, "-m", "roadseg", "batch", given, "-o", str(out), "--model", str(rule_onnx)]
    with clip.open("rb") as data:
        feeder = subprocess.Popen(["cat"], stdin=data, stdout=subprocess.PIPE)
        proc = subprocess.run(cmd, stdin=feeder.stdout, capture_output=True, text=True, timeout=120)
        feeder.stdout.close()
        feeder.wait(timeout=60)
    # was: "-: error, input not found" (input /cwd/-, output OUT/-.mp4), and for /dev/stdin the driver's
    # /proc/PID/fd/pipe:[N], which no worker can open, with the summary table and results.jsonl
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1, (proc.returncode, proc.stderr)
    assert proc.stderr.startswith(f"Error: {given} is ") and f"use segment-video {given} -o OUT.mp4" in proc.stderr
    assert not out.exists()


#: LIBRARY_CALL, its threads named once they have had 2 s to end (conftest's grace: ``threads_left``)
LIBRARY_CALL_GRACE = LIBRARY_CALL.replace("    print(", """    for t in threading.enumerate():
        t.join(2.0) if t is not threading.current_thread() else None
    print(""")


@pytest.mark.parametrize("named", [False, True])
def test_a_library_run_of_a_pipe_that_stalls_in_its_header_leaves_no_thread_at_ctrl_c(rule_onnx, tmp_path, named):
    clip = write_video(tmp_path / "clip.mkv", split_frames(50, h=96, w=128))
    out, fifo = tmp_path / "out.mp4", tmp_path / "in.fifo"
    source = str(fifo) if named else "-"
    if named:
        os.mkfifo(fifo)
    cmd = [sys.executable, "-c", LIBRARY_CALL_GRACE, source, str(out), str(rule_onnx)]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL if named else subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    writer = open(fifo, "wb") if named else proc.stdin.buffer  # (its header's first 300 bytes, then nothing more)
    try:
        writer.write(clip.read_bytes()[:300])
        writer.flush()
        time.sleep(2.0)  # (the open reads them and waits for more)
        proc.send_signal(signal.SIGINT)
        try:  # (not communicate(): it would close standard input, which ends the read)
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    finally:
        said, err = proc.stdout.read(), proc.stderr.read()
        writer.close()
        proc.wait()
    # was: "Interrupted ['roadseg-open', 'roadseg-open']": the open's threads, in FFmpeg's read of the pipe until its
    # writer sent more or closed it (then reading it for nobody)
    assert proc.returncode == 0 and said == "Interrupted []\n", (proc.returncode, said, err)
    assert not out.exists()


def test_a_library_run_of_a_pipe_cut_short_leaves_no_thread_while_its_writer_stays(rule_onnx, tmp_path):
    # the relay that passes the pipe on to the open (sources.relay) ends once the run's container is closed, its
    # writer still there and silent
    from conftest import threads_left

    from roadseg.pipeline import segment_video

    clip = write_video(tmp_path / "clip.mkv", split_frames(60, h=96, w=128))
    fifo, out = tmp_path / "in.fifo", tmp_path / "out.mp4"
    os.mkfifo(fifo)
    writer = subprocess.Popen(["sh", "-c", f"exec 3> '{fifo}'; cat '{clip}' >&3; exec sleep 60"])
    # (its whole clip, then it holds the pipe open, silent)
    before = set(threading.enumerate())
    try:
        result = segment_video(fifo, out, model=rule_onnx, quiet=True, max_frames=5)
        left = [t.name for t in threads_left(before)]  # (before its writer goes: that would end the relay)
    finally:
        writer.kill()
        writer.wait()
    assert result["frames"] == 5 and len(read_video(out)["frames"]) == 5
    assert left == [], left


def test_standard_input_that_is_a_file_is_read_as_a_file_its_index_at_its_end(rule_onnx, tmp_path):
    # `segment-video - < camera.mp4`: a camera writes its MP4's index (moov) after the media data, which a pipe cannot
    # be read back to; standard input that is a file can, and needs no relay (it never stalls)
    import numpy as np

    noise = np.random.default_rng(0).integers(0, 255, (30, 240, 320, 3), dtype=np.uint8)
    clip = write_video(tmp_path / "camera.mp4", list(noise))
    with open(clip, "rb") as f:
        data = f.read()
    assert data.find(b"mdat") < data.find(b"moov") and len(data) > 1 << 20  # (beyond what FFmpeg holds to read back)
    out = tmp_path / "out.mp4"
    with open(clip, "rb") as stdin:
        proc = _segment("-", out, rule_onnx, stdin=stdin)
        err = proc.communicate(timeout=120)[1]
    # was: 'no decodable video frames in standard input: an MP4/MOV read from a pipe can be decoded only if its index
    # (moov) comes before its media data...'
    assert proc.returncode == 0, err
    assert len(read_video(out)["frames"]) == 30


def test_the_relay_waits_without_spinning_for_a_slow_reader_once_its_writer_has_gone():
    # the input's last bytes: its writer sent them and closed it (POLLHUP, which poll says whatever it is asked), the
    # relay holds some it cannot pass on yet (FFmpeg still decoding what came before)
    from roadseg.pipeline.sources.relay import Relay

    writer = subprocess.Popen(["head", "-c", "120000", "/dev/zero"], stdout=subprocess.PIPE)
    source = os.dup(writer.stdout.fileno())
    writer.stdout.close()
    relay = Relay(source)
    ours = relay.taken()
    try:
        writer.wait(timeout=10)
        time.sleep(0.2)
        before = time.process_time()
        time.sleep(1.0)  # (the reader busy)
        spent = time.process_time() - before
        with os.fdopen(ours, "rb") as read:
            assert len(read.read()) == 120000
    finally:
        relay.end()
    assert spent < 0.2, spent  # was: 0.75-1.0 s of a core, poll answering at once (the input's POLLHUP) all along
