"""roadseg batch on a real two-node Ray cluster. Run ONLY by test_batch_ray.py, inside a network namespace.

Ray binds to the machine's outward address even when told 127.0.0.1; inside ``unshare -n`` (loopback
only) every node is 127.0.0.1 and no packet leaves the namespace. The head and the worker node are
separate ``ray start --block`` processes with one CPU each, in their own process groups, stopped by
signalling those groups (never ``ray stop``, never by name).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import (
    as_from_a_terminal,
    batch_results,
    frame_count,
    part_files,
    rule_model,
    split_frames,
    wait_for,
    write_video,
)

pytestmark = pytest.mark.skipif(os.environ.get("ROADSEG_RAY_NETNS") != "1",
                                reason="runs inside the network namespace test_batch_ray.py makes")  # fmt: skip

PORT = 6379
ADDRESS = f"127.0.0.1:{PORT}"
RAY = str(Path(sys.executable).with_name("ray"))
# the head's GCS declares a silent node dead after 3 missed 0.5 s health checks (default: 5 x 3 s)
FAST_DEATH = {"RAY_health_check_period_ms": "500", "RAY_health_check_failure_threshold": "3",
              "RAY_health_check_initial_delay_ms": "0"}  # fmt: skip


class Node:
    """One ``ray start --block`` process and everything it starts, in a process group of its own."""

    def __init__(self, name: str, args: list[str], temp: Path, env: dict[str, str] | None = None) -> None:
        self.log = temp / f"{name}.log"
        cmd = [RAY, "start", "--block", "--num-cpus", "1", "--num-gpus", "0", "--disable-usage-stats",
               "--object-store-memory", str(100 << 20), "--temp-dir", str(temp / name), *args]  # fmt: skip
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                         env={**os.environ, **FAST_DEATH, **(env or {})})  # fmt: skip

    def kill(self) -> None:
        """The node dies at once: SIGKILL to its whole process group."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        """SIGTERM to the group, then SIGKILL if it is still draining after a few seconds."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()

    def owns(self, pid: int) -> bool:
        """Whether ``pid`` descends from this node's ``ray start`` (its raylet's workers do)."""
        while pid > 1:
            if pid == self.proc.pid:
                return True
            try:
                pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                return False
        return False


def ours(temp: Path) -> list[int]:
    """Processes whose command line names this cluster's temp folder (raylets, GCS, workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if str(temp).encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def count_nodes() -> int:
    code = f"import ray; ray.init(address='{ADDRESS}', logging_level='error'); print(len([n for n in ray.nodes() if n['Alive']]))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    return int(run.stdout.strip() or 0)


@pytest.fixture(scope="module")
def cluster():
    temp = Path(os.environ["ROADSEG_RAY_TMP"])
    head = Node("head", ["--head", f"--port={PORT}", "--include-dashboard=false"], temp)
    worker = None
    try:
        wait_for(lambda: _listening(PORT), 60)
        worker = Node("worker", [f"--address={ADDRESS}"], temp)
        wait_for(lambda: count_nodes() == 2, 60, step=1.0)
        yield {"head": head, "worker": worker}
    finally:
        for node in filter(None, (worker, head)):
            node.stop()
        wait_for(lambda: not ours(temp), 15, fail=False)
        for pid in ours(temp):  # what outlived its raylet: ours by its unique temp path
            os.kill(pid, signal.SIGKILL)


def _listening(port: int) -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> dict:
    """Six small clips (two with audio, odd frame counts), one broken file, the rule model."""
    root = tmp_path_factory.mktemp("work")
    inputs = root / "in"
    frames = {"a/c0.mp4": 31, "a/c1.mov": 17, "b/c2.mkv": 23, "b/d/c3.mp4": 29, "c4.mp4": 13, "c5.mp4": 19}
    for rel, n in frames.items():
        (inputs / rel).parent.mkdir(parents=True, exist_ok=True)
        write_video(inputs / rel, split_frames(n, 96, 128), audio_seconds=0.7 if rel.endswith("0.mp4") else 0)
    (inputs / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 16)
    return {"root": root, "inputs": inputs, "frames": frames, "model": rule_model(root / "rule.onnx")}


def batch_cmd(inputs: Path, out: Path, model: Path, *extra: str, address: str = ADDRESS) -> list[str]:
    return [sys.executable, "-m", "roadseg", "batch", str(inputs), "-o", str(out), "--ray", address,
            "--model", str(model), *extra]  # fmt: skip



def test_spreads_over_both_nodes_exact_frames_error_line_no_temps(cluster, work) -> None:
    out = work["root"] / "out"
    run = subprocess.run(batch_cmd(work["inputs"], out, work["model"]), capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr  # the broken file
    lines = batch_results(out)
    ok = [line for line in lines if line["status"] == "ok"]
    assert len(ok) == 6 and len({line["node"] for line in ok}) == 2, lines  # both nodes did work
    for rel, n in work["frames"].items():
        target = out / Path(rel).with_suffix(".mp4")
        assert frame_count(target) == n and any(line["output"] == str(target) and line["frames"] == n for line in ok)
    (bad,) = [line for line in lines if line["status"] == "error"]
    assert bad["input"].endswith("broken.mp4") and "not a readable video" in bad["error"]
    assert not (out / "broken.mp4").exists() and not part_files(out)
    assert "ok 6 · error 1 · skipped 0" in run.stderr and "broken.mp4: error" in run.stderr
    # Ray's own lines stay in its log folder (was: its native "[date W pid] network_util.cc: Failed to
    # determine local IP ..." line first, wherever no outward route is found, as here)
    assert not [line for line in run.stderr.splitlines() if RAY_LINE.match(line)], run.stderr


def test_a_relative_model_path_is_the_drivers_and_auto_adds_no_line_of_rays(cluster, work) -> None:
    """``--model`` relative to the driver's folder names the same file on every node (Ray's workers do
    not run in the driver's folder). ``--ray auto`` (here: ``RAY_ADDRESS``, as a node of several clusters
    would set it) keeps Ray's native lines off stderr too (was: "network_util.cc: Failed to determine local IP"
    first, printed as Ray resolved ``auto``, before the connection whose lines go to Ray's log folder)."""
    out = work["root"] / "out-rel"
    run = subprocess.run(batch_cmd(work["inputs"], out, Path(work["model"].name), address="auto"),
                         cwd=work["model"].parent, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "RAY_ADDRESS": ADDRESS})  # fmt: skip
    assert run.returncode == 1 and "ok 6 · error 1 · skipped 0" in run.stderr, run.stderr
    assert not [line for line in run.stderr.splitlines() if RAY_LINE.match(line)], run.stderr


#: a line of Ray's own: native ("[2026-12-05 00:27:53,009 W 6827 6827] network_util.cc: ..."), Python logging
#: ("2026-12-05 00:27:53,009 INFO worker.py: ...") or a worker's output passed on ("(raylet) ...", "(RayWorker pid=7) ...")
RAY_LINE = re.compile(r"^(\[\d{4}-\d\d-\d\d |\d{4}-\d\d-\d\d |\((raylet|\w+ pid=\d+))")


def test_ray_logs_shows_rays_own_lines_and_a_connection_made_before_is_used_or_refused(cluster, work) -> None:
    out = work["root"] / "out-logs"
    run = subprocess.run(batch_cmd(work["inputs"], out, work["model"], "--ray-logs", "-q"), capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert run.returncode == 1 and "ok 6 · error 1" in run.stderr, run.stderr
    assert "Connecting to existing Ray cluster" in run.stderr, run.stderr  # (Ray's own line, asked for)
    assert "SIGTERM handler is not set" not in run.stderr, run.stderr  # (ray.init runs in a thread: roadseg's doing)
    # library use: the caller joined the cluster itself; another address is refused, not ignored
    code = f"""if True:
        import sys, ray, roadseg
        inputs, out, model = sys.argv[1:]
        ray.init(address="{ADDRESS}", logging_level="error")
        try:
            roadseg.batch(inputs, out, ray="127.0.0.1:1", model=model)
        except roadseg.RoadsegError as exc:
            print("refused:", exc)
        for address in ("auto", "localhost:{PORT}"):
            summary = roadseg.batch(inputs, out, ray=address, model=model, quiet=True, force=True)
            print(address, summary.ok, ray.is_initialized())
    """
    args = [str(work["inputs"]), str(work["root"] / "out-api"), str(work["model"])]
    api = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)
    assert api.returncode == 0, api.stderr
    assert api.stdout.splitlines() == [  # (was: the batch run on the cluster joined before, 127.0.0.1:1 ignored)
        f"refused: this process is connected to the Ray cluster at {ADDRESS} already (ray.init was called before), "
        "not 127.0.0.1:1: pass ray='auto' to use that connection, or call ray.shutdown() first",
        "auto 6 True", f"localhost:{PORT} 6 True"], api.stdout  # fmt: skip


def test_rerun_skips_every_finished_video(cluster, work) -> None:
    out = work["root"] / "out"
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.mp4")}
    seen = len(batch_results(out))
    run = subprocess.run(batch_cmd(work["inputs"], out, work["model"]), capture_output=True, text=True, timeout=120)
    new = batch_results(out)[seen:]
    assert new == [], run.stderr  # the six done, and the damaged file unchanged since: in the summary, no line
    assert "ok 0 · error 1 · skipped 6 · damaged and unchanged, not tried again 1" in run.stderr, run.stderr
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.mp4")} == before and not part_files(out)


def test_concat_joins_each_folder_into_one_output(cluster, work) -> None:
    out = work["root"] / "joined"
    run = subprocess.run(batch_cmd(work["inputs"], out, work["model"], "--concat"), capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert run.returncode == 0 and "ok 4 · error 0" in run.stderr, run.stderr
    expect = {"a.mp4": 31 + 17, "b.mp4": 23, "b/d.mp4": 29, "in.mp4": 13 + 19}  # (in: the files directly in it)
    assert {str(p.relative_to(out)): frame_count(p) for p in out.rglob("*.mp4")} == expect
    assert "] in: ok, 32 frames" in run.stderr and "\nin: left out of the join: not a readable video" in run.stderr and not part_files(out)
    assert {line["files"] for line in batch_results(out)} == {1, 2, 3}


def long_videos(root: Path, name: str) -> Path:
    """A folder of four 300-frame 640x480 clips: a batch of them runs long enough to be stopped midway."""
    inputs = root / name
    inputs.mkdir()
    write_video(inputs / "v0.mp4", split_frames(300, 480, 640))
    for i in range(1, 4):
        shutil.copy(inputs / "v0.mp4", inputs / f"v{i}.mp4")
    return inputs


def _stopped_midway(cluster: dict, work: dict, name: str, stop, *, inputs: Path | None = None, when=None,
                    address: str = ADDRESS, extra: tuple[str, ...] = (), within: float = 60
                    ) -> tuple[int, str, Path, list[str]]:  # fmt: skip
    """A batch driver over ``inputs`` (four long clips by default) at ``address``, in its own process group,
    ``stop(proc)`` once ``when(proc, out)`` holds (by default: once its workers write .part files): (its exit
    status, its stderr, its output folder, what is left in its group once it ended: "pid name"). It must end
    ``within`` seconds of ``stop``."""
    inputs = inputs or long_videos(work["root"], name)
    out = work["root"] / f"out-{name}"
    midway = when is None
    when = when or (lambda proc, out: part_files(out) if out.exists() else None)
    # (as from a terminal: a suite run under nohup passed its SIGHUP ignored on, which a command keeps so, by design:
    # the dropped-SSH-session test saw the batch run to its end, exit 0)
    proc = subprocess.Popen(batch_cmd(inputs, out, work["model"], *extra, address=address), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=as_from_a_terminal)  # fmt: skip
    try:
        wait_for(lambda: when(proc, out) or proc.poll() is not None, 90)
        assert proc.poll() is None, proc.communicate()[1]
        assert actors(cluster) or not midway, "no worker actor runs"
        stop(proc)
        try:
            _, err = proc.communicate(timeout=within)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the driver still ran {within:g} s after it was stopped")
        # (the driver's group once it has ended: nothing it started may linger there; what it started with --ray local
        # ends with it, in a moment)
        wait_for(lambda: not in_group(proc.pid), 10, fail=False)
        left = [f"{pid} {_name(pid)}" for pid in in_group(proc.pid)]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    return proc.returncode, err, out, left


def test_sigterm_or_sighup_to_the_driver_ends_it_as_143_or_129_with_its_summary_and_nothing_partial(cluster, work
                                                                                                     ) -> None:  # fmt: skip
    # the driver alone, as a job scheduler stops it
    code, err, out, _ = _stopped_midway(cluster, work, "term", lambda proc: proc.send_signal(signal.SIGTERM))
    # (was: exit 1, Ray's "SIGTERM received" dump, no summary, two .part files left)
    assert code == 143 and "Error: interrupted:" in err and "results:" in err, err
    assert not part_files(out) and count_nodes() == 2  # the cluster runs on
    # its SSH session dropped (SIGHUP to the group, as the terminal's) (was: 130, as if Ctrl-C, Ray's plain
    # KeyboardInterrupt out of ray.wait)
    code, err, out, left = _stopped_midway(cluster, work, "hup", lambda proc: os.killpg(proc.pid, signal.SIGHUP))
    assert code == 129 and "Error: interrupted:" in err and "results:" in err and not left, err
    assert not part_files(out) and count_nodes() == 2


def test_ctrl_c_in_the_drivers_terminal_ends_it_as_130_with_its_summary_and_nothing_partial(cluster, work) -> None:
    """Ctrl-C in a terminal: SIGINT to the whole foreground process group, the driver and all it started there.
    Each video a worker held gets an ``interrupted`` line naming its worker's node (a Ray node id) and the seconds
    since it was sent there (one queued behind another, ``--in-flight``, counts its wait), within the driver's life."""
    t0 = time.monotonic()
    code, err, out, left = _stopped_midway(cluster, work, "int", ctrl_c)
    lived = time.monotonic() - t0
    assert_stopped_by_ctrl_c(cluster, code, err, out, left)
    lines = batch_results(out)
    assert {line["status"] for line in lines} <= {"ok", "interrupted"}, lines
    held = [line for line in lines if line["status"] == "interrupted"]
    assert held and all(re.fullmatch(r"[0-9a-f]{56}", line["node"] or "") and 0 < (line["seconds"] or 0) < lived
                        for line in held), (lived, held)  # fmt: skip


def ctrl_c(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGINT)


def assert_stopped_by_ctrl_c(cluster: dict, code: int, err: str, out: Path, left: list) -> None:
    """130, its summary and one ``Error: interrupted:`` line, no traceback, nothing partial, nothing left in its
    process group or on the cluster, which runs on."""
    said = [line for line in err.splitlines() if line.startswith("Error:")]
    assert code == 130 and "results:" in err and "Traceback" not in err, err
    assert len(said) == 1 and said[0].startswith("Error: interrupted:"), err
    assert not part_files(out) and not left, left
    wait_for(lambda: not actors(cluster), 15, fail=False)  # its actors go with it: ray.kill, not left to the nodes
    assert not actors(cluster) and count_nodes() == 2  # the cluster runs on


def small_videos(root: Path, name: str) -> Path:
    """A folder of two 11-frame clips."""
    inputs = root / name
    inputs.mkdir()
    for i in range(2):
        write_video(inputs / f"s{i}.mp4", split_frames(11, 96, 128))
    return inputs


def assert_rerun_finishes(work: dict, inputs: Path, out: Path, address: str = ADDRESS) -> None:
    run = subprocess.run(batch_cmd(inputs, out, work["model"], address=address), capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert run.returncode == 0 and "ok 2 · error 0 · skipped 0" in run.stderr, run.stderr
    assert sorted(p.name for p in out.glob("*.mp4")) == ["s0.mp4", "s1.mp4"] and not part_files(out)


class HeldGCS:
    """A port in front of the head's GCS that passes its first connection on (roadseg's check that a Ray head
    answers) and holds the next ones, silent: a head that stops answering as the driver connects. :meth:`close`
    shuts every socket it made and joins its threads (closing a listening socket does not wake ``accept()``)."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.server.getsockname()[1]}"
        self.held: list[socket.socket] = []
        self.sockets: list[socket.socket] = []  # (those it passes on, both ends)
        self.threads = [threading.Thread(target=self._serve, daemon=True)]
        self.threads[0].start()

    def _serve(self) -> None:
        for n in itertools.count():
            try:
                conn, _ = self.server.accept()
            except OSError:  # (shut down)
                return
            if n:
                self.held.append(conn)
                continue
            gcs = socket.create_connection(("127.0.0.1", PORT))
            self.sockets += [conn, gcs]
            for a, b in ((conn, gcs), (gcs, conn)):
                self.threads.append(threading.Thread(target=self._pump, args=(a, b), daemon=True))
                self.threads[-1].start()

    @staticmethod
    def _pump(a: socket.socket, b: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := a.recv(65536):
                b.sendall(data)
        with contextlib.suppress(OSError):
            b.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        for sock in (self.server, *self.held, *self.sockets):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in list(self.threads):
            thread.join(timeout=2)


def inside_ray_init(proc: subprocess.Popen) -> bool:
    """Whether the driver's file descriptor 2 is a file: roadseg points it at one only while it connects (its check
    that a Ray head answers, then ``ray.init``)."""
    with contextlib.suppress(OSError):
        return not os.readlink(f"/proc/{proc.pid}/fd/2").startswith("pipe:")
    return False


def test_ctrl_c_while_the_driver_connects_ends_it_at_once_and_a_rerun_finishes(cluster, work) -> None:
    """Ctrl-C inside ``ray.init``, held there by a head that stopped answering after roadseg's check."""
    gcs = HeldGCS()
    inputs = small_videos(work["root"], "init")
    try:
        code, err, out, left = _stopped_midway(cluster, work, "init", ctrl_c, inputs=inputs, address=gcs.address,
                                               when=lambda proc, out: gcs.held and inside_ray_init(proc),
                                               within=15)  # fmt: skip
    finally:
        gcs.close()
    # (was: Ctrl-C unheard for 40 s, until Ray's connection gave up in its native code)
    assert_stopped_by_ctrl_c(cluster, code, err, out, left)
    assert "interrupted 2" in err and not list(out.glob("*.mp4")), err
    assert_rerun_finishes(work, inputs, out)


def test_ctrl_c_while_the_workers_start_ends_it_as_130_and_a_rerun_finishes(cluster, work) -> None:
    """Ctrl-C while the driver waits for its workers: three asked of a cluster with room for two, so that it
    waits (10 s) for the third, never placed, once the two are up."""
    inputs = small_videos(work["root"], "start")
    up = lambda proc, out: len(actors(cluster)) == 2 and not part_files(out)  # noqa: E731
    code, err, out, left = _stopped_midway(cluster, work, "start", ctrl_c, inputs=inputs, when=up,
                                           extra=("--workers", "3"))  # fmt: skip
    assert_stopped_by_ctrl_c(cluster, code, err, out, left)
    assert "room for 2 of the 3 workers" in err and "interrupted 2" in err and not list(out.glob("*.mp4")), err
    assert_rerun_finishes(work, inputs, out)


def test_ctrl_c_while_the_driver_starts_a_cluster_of_its_own_leaves_none_of_it(cluster, work, monkeypatch) -> None:
    """``--ray local``: Ctrl-C while ``ray.init`` starts a cluster for the driver alone (its GCS up, the rest
    starting), whose processes are in the driver's process group."""
    temp = Path(os.environ["ROADSEG_RAY_TMP"]) / "local"  # (its processes' command lines name it)
    monkeypatch.setenv("RAY_TMPDIR", str(temp))
    # (a new local cluster turns on Ray's token auth and writes ~/.ray/auth_token, after which clusters started
    # with `ray start` on this machine refuse a driver without it: this test's own cluster included)
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    monkeypatch.setenv("HOME", str(temp))
    inputs = small_videos(work["root"], "local")
    gcs = lambda proc, out: inside_ray_init(proc) and any(_name(pid) == "gcs_server" for pid in in_group(proc.pid))  # noqa: E731
    code, err, out, left = _stopped_midway(cluster, work, "local", ctrl_c, inputs=inputs, address="local", when=gcs)
    assert_stopped_by_ctrl_c(cluster, code, err, out, left)
    assert "interrupted 2" in err and not ours(temp), ours(temp)
    assert_rerun_finishes(work, inputs, out, address="local")  # (started on a thread that ends, its GCS would die with it)
    assert not ours(temp), ours(temp)  # (the driver shut its cluster down)


def _name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def actors(cluster: dict) -> list[int]:
    """The cluster's roadseg worker actors (Ray titles an actor's process ``ray::RayWorker...``)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(b"ray::RayWorker"):
                found.append(int(entry.name))
        except OSError:
            pass
    return [pid for pid in found if any(node.owns(pid) for node in cluster.values())]


def in_group(pgid: int) -> list[int]:
    """Processes in process group ``pgid``, not counting those that ended and wait to be reaped (the processes of a
    cluster that ``ray.init`` started for the driver end with it and are reaped by init)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split() if entry.name.isdigit() else []
            if fields and int(fields[2]) == pgid and fields[0] != "Z":
                found.append(int(entry.name))
        except (OSError, IndexError, ValueError):
            pass
    return found


def test_a_head_that_asks_for_a_token_is_one_line_naming_the_token_missing_or_wrong_and_the_right_one_runs(
        work, tmp_path) -> None:  # fmt: skip
    """A head started with Ray's token authentication (``RAY_AUTH_MODE=token``). Was, for each: "cannot reach a
    Ray cluster at ...: Failed to connect to Ray cluster" after 20 s of Ray's retries."""
    import time

    token, port = "roadseg-test-token-0123456789", PORT + 11
    head = Node("tokenhead", ["--head", f"--port={port}", "--include-dashboard=false"],
                Path(os.environ["ROADSEG_RAY_TMP"]),
                env={"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token})  # fmt: skip
    home = tmp_path / "home"
    (home / ".ray").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")} | {"HOME": str(home)}
    held = home / ".ray" / "auth_token"
    how = ("set RAY_AUTH_MODE=token, with the cluster's token (`ray get-auth-token` on the head prints it) in "
           "RAY_AUTH_TOKEN or ~/.ray/auth_token")  # fmt: skip
    inputs = small_videos(work["root"], "token")

    def batch(name: str, **more: str) -> tuple[subprocess.CompletedProcess, float]:
        t0 = time.monotonic()
        run = subprocess.run(batch_cmd(inputs, tmp_path / name, work["model"], address=f"127.0.0.1:{port}"),
                             capture_output=True, text=True, timeout=120, env=env | more)  # fmt: skip
        return run, time.monotonic() - t0

    try:
        wait_for(lambda: _listening(port), 60)
        none, took = batch("none")
        assert none.returncode == 1 and took < 15, (took, none.stderr)
        assert none.stderr.strip() == (f"Error: the Ray cluster at 127.0.0.1:{port} asks for a token (Ray's token "
                                       f"authentication) and this machine holds none: {how}"), none.stderr  # fmt: skip
        held.write_text("another-token\n")
        wrong, took = batch("wrong", RAY_AUTH_MODE="token")
        assert wrong.returncode == 1 and took < 15, (took, wrong.stderr)
        assert wrong.stderr.strip() == (f"Error: the Ray cluster at 127.0.0.1:{port} refuses the token in {held} "
                                        f"(not this cluster's): {how}"), wrong.stderr  # fmt: skip
        wrong, _ = batch("wrong", RAY_AUTH_TOKEN="yet-another")  # (RAY_AUTH_TOKEN before the file, as Ray reads them)
        assert "refuses the token in RAY_AUTH_TOKEN (not this cluster's)" in wrong.stderr, wrong.stderr
        held.write_text(token + "\n")
        unsent, _ = batch("unsent")  # (Ray 2.60 sends a token only with RAY_AUTH_MODE=token; a later Ray may)
        assert unsent.returncode == 0 or unsent.stderr.strip() == (
            f"Error: the Ray cluster at 127.0.0.1:{port} asks for a token: set RAY_AUTH_MODE=token for Ray to send "
            f"the one in {held}"), unsent.stderr  # fmt: skip
        right, _ = batch("right", RAY_AUTH_MODE="token")
        assert right.returncode == 0 and "ok 2 · error 0 · skipped 0" in right.stderr, right.stderr
    finally:
        head.stop()


def test_a_token_this_machine_holds_is_not_sent_to_a_cluster_that_asks_for_none(cluster, work, tmp_path) -> None:
    """A driver whose home holds ``~/.ray/auth_token`` (any local ``ray start --head`` or ``--ray local`` leaves one)
    and the suite's cluster, started without tokens. Its ``HOST:PORT`` ran; ``auto``, found as ``ray start`` records
    its cluster, did not: Ray turned its token authentication on for the token held, the driver refused the
    cluster's calls, and the batch said "no Ray worker could start ... The actor never ran". ``RAY_AUTH_MODE=token``
    is one line saying to unset it (was that same line; with no token held, Ray's AuthenticationError traceback)."""
    home = tmp_path / "home"
    (home / ".ray").mkdir(parents=True)
    (home / ".ray" / "auth_token").write_text("a-local-clusters-token\n")
    found = tmp_path / "found"  # (RAY_TMPDIR: where `auto` reads ray/ray_current_cluster, as `ray start` writes it)
    (found / "ray").mkdir(parents=True)
    (found / "ray" / "ray_current_cluster").write_text(ADDRESS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_AUTH", "RAY_ADDRESS"))} | {"HOME": str(home)}
    inputs = small_videos(work["root"], "held")

    def batch(name: str, address: str = ADDRESS, **more: str) -> subprocess.CompletedProcess:
        return subprocess.run(batch_cmd(inputs, tmp_path / name, work["model"], address=address), capture_output=True,
                              text=True, timeout=120, env=env | more)  # fmt: skip

    for name, address, more in (("given", ADDRESS, {}), ("auto", "auto", {"RAY_TMPDIR": str(found)})):
        run = batch(name, address, **more)
        assert run.returncode == 0 and "ok 2 · error 0 · skipped 0" in run.stderr, (name, run.stderr)
    for home_of in (home, tmp_path):  # (a token held; none)
        run = batch("mode", RAY_AUTH_MODE="token", HOME=str(home_of))
        assert run.returncode == 1 and run.stderr.strip() == (
            f"Error: the Ray cluster at {ADDRESS} asks for no token (Ray's token authentication is off there) and "
            "RAY_AUTH_MODE=token here makes Ray refuse its calls: unset RAY_AUTH_MODE, or set it to disabled, for "
            "this command"), run.stderr  # fmt: skip
    assert not (tmp_path / "mode").exists()


def test_a_port_that_is_no_ray_head_and_a_worker_no_node_holds_are_one_line_each(cluster, work) -> None:
    import http.server
    import time

    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        cmd = batch_cmd(work["inputs"], work["root"] / "o-http", work["model"])
        cmd[cmd.index("--ray") + 1] = f"127.0.0.1:{server.server_port}"
        t0 = time.monotonic()
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)  # (was: 14 minutes, deaf to Ctrl-C)
    finally:
        server.shutdown()
    assert run.returncode == 1 and time.monotonic() - t0 < 30, run.stderr
    assert run.stderr.strip() == f"Error: 127.0.0.1:{server.server_port} answers, but not as a Ray head (its GCS " \
                                 "port, 6379 unless set otherwise)"  # fmt: skip
    big = subprocess.run(batch_cmd(work["inputs"], work["root"] / "o-big", work["model"], "--cpus-per-worker", "2"),
                         capture_output=True, text=True, timeout=60)  # (was: a wait for room that never comes)
    said = [line for line in big.stderr.splitlines() if not line.startswith("[")]  # (not Ray's own log lines)
    assert big.returncode == 1 and said == ["Error: no node of the Ray cluster (1 CPUs and 0 GPUs, 1 CPUs and 0 GPUs) "
                                            "has room for a worker of 2 CPUs and 0 GPUs"], big.stderr  # fmt: skip
    assert not list((work["root"] / "o-big").rglob("*.mp4"))


def test_killing_the_worker_node_mid_run_finishes_everything_on_the_head(cluster, work) -> None:
    inputs = work["root"] / "long"
    inputs.mkdir()
    write_video(inputs / "v0.mp4", split_frames(300, 480, 640), audio_seconds=1.0)
    for i in range(1, 6):
        shutil.copy(inputs / "v0.mp4", inputs / f"v{i}.mp4")
    out = work["root"] / "out-kill"
    worker: Node = cluster["worker"]
    proc = subprocess.Popen(batch_cmd(inputs, out, work["model"]), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)  # fmt: skip
    try:
        part = wait_for(lambda: next((p for p in part_files(out) if worker.owns(_pid(p))), None) if out.exists() else None, 90)
        worker.kill()  # mid-video on the worker node
        wait_for(lambda: not Path(f"/proc/{_pid(part)}").exists(), 15)  # its actor went down with it
        _, err = proc.communicate(timeout=150)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, err
    lines = batch_results(out)
    lost = [line for line in lines if line.get("retried")]
    assert lost and all("worker lost mid-video" in line["error"] for line in lost), lines
    assert f"ok 6 · error 0 · skipped 0 · sent again after its worker was lost {len(lost)} · " in err, err
    dead = lost[0]["node"]
    for line in lost:  # each lost video was finished by the head
        (redo,) = [r for r in lines if r["input"] == line["input"] and r["status"] == "ok"]
        assert redo["node"] != dead and redo["attempt"] == line["attempt"] + 1
    assert sorted(line["output"] for line in lines if line["status"] == "ok") == sorted(
        str(out / f"v{i}.mp4") for i in range(6)
    )
    assert all(frame_count(out / f"v{i}.mp4") == 300 for i in range(6)) and not part_files(out)


def _pid(part: Path) -> int:
    return int(part.name.split(".part-")[1].split("-")[0])
