"""The memory free for new work is what the process can get (roadseg/pipeline/memory.py): the smaller of MemAvailable
and the room its memory cgroups leave, and a refusal that the limit causes says it is the container's limit.

Was: MemAvailable alone, the host's inside a container, so a run the container's limit could not hold passed the
checks and the kernel's OOM killer ended it, exit 137 and no word."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import write_video

from roadseg.pipeline import infer
from roadseg.pipeline.memory import Free, free_memory, limit_said

GB = 10**9
MEM_AVAILABLE = 8_000_000  # kB: 8.192 GB


def _tree(tmp_path, cgroup: str, mount: str, files: dict, meminfo: bool = True) -> Path:
    """A /proc (meminfo, self/cgroup, self/mountinfo) and a cgroup file system under ``tmp_path``: ``mount`` is
    mountinfo's line after the mount point, ``files`` {path under the mount: text}."""
    proc, fs = tmp_path / "proc", tmp_path / "cgroup"
    (proc / "self").mkdir(parents=True)
    if meminfo:
        (proc / "meminfo").write_text(f"MemTotal:       16000000 kB\nMemAvailable:    {MEM_AVAILABLE} kB\n")
    (proc / "self" / "cgroup").write_text(cgroup)
    root, rest = mount.split(" ", 1)
    (proc / "self" / "mountinfo").write_text(f"22 1 0:21 / /proc rw - proc proc rw\n30 23 0:26 {root} {fs} {rest}\n")
    for name, text in files.items():
        (fs / name).parent.mkdir(parents=True, exist_ok=True)
        (fs / name).write_text(text)
    return proc


def _v2(limit: str, current: int, inactive: int, prefix: str = "") -> dict:
    return {f"{prefix}memory.max": limit, f"{prefix}memory.current": str(current),
            f"{prefix}memory.stat": f"anon 1\nfile 2\ninactive_file {inactive}\nactive_file 3\n"}  # fmt: skip


def test_a_v2_cgroup_limit_above_the_process_bounds_the_free_memory(tmp_path):
    """Nested limits: the pod's (2 GB, 1.5 GB used, 0.3 GB of it reclaimable page cache) leaves the least; the
    container's own says max; the one above it leaves more."""
    files = {**_v2("4000000000", GB, 0, "kube/"), **_v2("2000000000", 1_500_000_000, 300_000_000, "kube/pod/"),
             **_v2("max", 1_400_000_000, 0, "kube/pod/ctr/")}  # fmt: skip
    proc = _tree(tmp_path, "0::/kube/pod/ctr\n", "/ rw,nosuid - cgroup2 cgroup2 rw", files)
    free = free_memory(proc)
    assert (free, free.cgroup, free.limit) == (800_000_000, "/kube/pod", 2 * GB)
    assert limit_said(free) == " in this container's memory limit (cgroup /kube/pod, limited to 2.0 GB)"


def test_a_v1_memory_cgroup_mounted_at_its_own_path_bounds_the_free_memory(tmp_path):
    """Docker on cgroup v1 without a cgroup namespace: the memory line names /docker/abc, mounted with that root."""
    files = {"memory.limit_in_bytes": "1000000000\n", "memory.usage_in_bytes": "900000000\n",
             "memory.stat": "inactive_file 5\ntotal_inactive_file 200000000\n"}  # fmt: skip
    cgroup = "5:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n0::/\n"
    proc = _tree(tmp_path, cgroup, "/docker/abc rw - cgroup cgroup rw,memory", files)
    free = free_memory(proc)
    assert (free, free.cgroup, free.limit) == (300_000_000, "/docker/abc", GB)


@pytest.mark.parametrize("limit", ["max\n", "9223372036854771712\n", "99000000000\n"])
def test_no_limit_or_one_above_mem_available_leaves_mem_available(tmp_path, limit):
    proc = _tree(tmp_path, "0::/a\n", "/ rw - cgroup2 cgroup2 rw", _v2(limit, GB, 0, "a/"))
    free = free_memory(proc)
    assert (free, limit_said(free)) == (MEM_AVAILABLE * 1024, "")


@pytest.mark.parametrize("broken", ["memory.current", "memory.stat", "memory.max"])
def test_a_cgroup_whose_files_cannot_be_read_is_left_out(tmp_path, broken):
    files = _v2("1000000000", 0, 0, "a/")
    files[f"a/{broken}"] = "garbled\n" if broken == "memory.max" else "x"
    proc = _tree(tmp_path, "0::/a\n", "/ rw - cgroup2 cgroup2 rw", files)
    if broken == "memory.stat":  # (a directory where the file should be: unreadable, not garbled)
        (tmp_path / "cgroup" / "a" / "memory.stat").unlink()
        (tmp_path / "cgroup" / "a" / "memory.stat").mkdir()
    assert free_memory(proc) == MEM_AVAILABLE * 1024


def test_nothing_readable_is_none_and_a_limit_alone_is_said(tmp_path):
    assert free_memory(tmp_path / "nowhere") is None
    proc = _tree(tmp_path / "a", "0::/\n\ngarbage\n4:memory\n", "/ rw - cgroup2 cgroup2 rw", {}, meminfo=False)
    assert free_memory(proc) is None
    proc = _tree(tmp_path / "b", "0::/c\n", "/ - cgroup2", _v2("1000000000", 0, 0, "c/"), meminfo=False)
    (tmp_path / "b" / "proc" / "self" / "mountinfo").write_text("garbled\n30 23 0:26 / / rw\n")
    assert free_memory(proc) is None  # (no cgroup2 mount to find it under)
    proc = _tree(tmp_path / "d", "0::/c\n", "/ rw - cgroup2 cgroup2 rw", _v2("1000000000", 0, 0, "c/"), meminfo=False)
    assert (free_memory(proc), free_memory(proc).cgroup) == (GB, "/c")


def test_camvid_s_refusal_says_the_container_s_limit(monkeypatch):
    from roadseg.data.camvid import fits_in_memory

    monkeypatch.setattr(infer, "free_memory", lambda: Free(1_200_000_000, "/docker/abc", 2 * GB))
    with pytest.raises(ValueError, match=r"^a frame needs about 5 GB of memory; 1 GB is free in this container's "
                                         r"memory limit \(cgroup /docker/abc, limited to 2.0 GB\)$"):  # fmt: skip
        fits_in_memory(5 * GB, "a frame")


# --- in a real cgroup, where this machine lets the tests make one ---------------------------------------------------


def _own_memory_cgroup() -> Path | None:
    """Where a child memory cgroup can be made: cgroup v2's root (a child of the root may have the memory controller
    whatever processes the root holds), or this process's own v1 memory cgroup; None where there is neither."""
    unified = Path("/sys/fs/cgroup")
    if "memory" in _read(unified / "cgroup.controllers").split():
        return unified
    for line in _read(Path("/proc/self/cgroup")).splitlines():
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(",") and (unified / "memory" / path.lstrip("/")).is_dir():
            return unified / "memory" / path.lstrip("/")
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


@pytest.fixture
def in_cgroup():
    """Run a command in a new memory cgroup with a limit, ``in_cgroup(limit, cmd) -> (CompletedProcess, name)``; the
    cgroups made are removed once their processes end. Skipped where the machine does not let this process make one."""
    parent, made = _own_memory_cgroup(), []
    if parent is None or not os.access(parent, os.W_OK):
        pytest.skip("no writable memory cgroup here (cgroup v2's root with the memory controller, or v1's memory)")

    def run(limit: int, cmd: list[str]):
        child = parent / f"roadseg-test-{os.getpid()}-{len(made)}"
        try:
            child.mkdir()
        except OSError as e:
            pytest.skip(f"cannot make a memory cgroup under {parent}: {e}")
        made.append(child)
        v2 = (child / "memory.max").exists()
        if v2 and "memory" not in _read(parent / "cgroup.subtree_control").split():
            pytest.skip(f"the memory controller is not enabled for {parent}'s children")
        (child / ("memory.max" if v2 else "memory.limit_in_bytes")).write_text(str(limit))
        wrapped = ["sh", "-c", f'echo $$ > {child / "cgroup.procs"} && exec "$@"', "sh", *cmd]
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
        done = subprocess.run(wrapped, capture_output=True, text=True, timeout=240, env=env)
        return done, child.name

    yield run
    for child in made:
        child.rmdir()  # (its processes have ended: subprocess.run waited for them)


def test_free_memory_in_a_cgroup_is_what_its_limit_leaves(in_cgroup):
    code = "from roadseg.pipeline.memory import free_memory; f = free_memory(); print(f, getattr(f, 'cgroup', None))"
    done, name = in_cgroup(300_000_000, [sys.executable, "-c", code])
    assert done.returncode == 0, done.stderr
    free, cgroup = done.stdout.split()
    assert 0 < int(free) <= 300_000_000 and cgroup.endswith("/" + name), done.stdout


def test_segment_video_refuses_a_size_the_container_s_limit_cannot_hold_and_says_so(in_cgroup, tmp_path):
    """--size 4000x4000 needs ~2 GB with the shipped model on the CPU: refused under a 700 MB limit (was: let
    through by the host's free memory, then 'Killed' by the kernel's OOM killer as it ran, exit 137 and no word)."""
    clip = write_video(tmp_path / "in.mp4", [np.zeros((48, 64, 3), np.uint8)] * 2)
    cmd = [sys.executable, "-m", "roadseg", "segment", str(clip), "-o", str(tmp_path / "out.mp4"), "--size",
           "4000x4000", "-q"]  # fmt: skip
    done, name = in_cgroup(700_000_000, cmd)
    assert done.returncode == 1 and done.stderr.count("\n") == 1, (done.returncode, done.stderr)
    assert "needs about 2.0 GB of memory for the network" in done.stderr, done.stderr
    assert "is free in this container's memory limit (cgroup /" in done.stderr and f"/{name}, limited to 0.7 GB)" \
        in done.stderr and done.stderr.endswith(": choose a smaller --size or --batch\n"), done.stderr


def test_train_refuses_a_run_the_container_s_limit_cannot_hold_and_says_so(in_cgroup, tmp_path):
    """torch and the network alone are reckoned at 1 GB: a 1 GB limit that torch's import has partly used is
    refused before any frame is read (was: the host's free memory let it through)."""
    pytest.importorskip("torch")
    from test_data import make_segnet

    data = make_segnet(tmp_path / "data", n=4, h=40, w=48)
    cmd = [sys.executable, "-m", "roadseg", "train", "--data", str(data), "--out", str(tmp_path / "run"),
           "--epochs", "1", "--batch-size", "2", "--crop", "32x32", "--size", "40x48", "--device", "cpu"]  # fmt: skip
    done, name = in_cgroup(1_000_000_000, cmd)
    line = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
    assert done.returncode == 1 and line.startswith("Error: the run needs about 1.0 GB of memory"), done.stderr
    assert f"/{name}, limited to 1.0 GB): lower --batch-size" in line, line
