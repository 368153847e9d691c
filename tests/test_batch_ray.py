"""roadseg batch --ray against a real two-node cluster, run inside a network namespace of its own.

Ray binds to the machine's outward address even when told 127.0.0.1, and tests may only talk to
loopback. So this test runs ``ray_cluster_suite.py`` in a child pytest under ``unshare -n`` (root
only) with loopback up: there every node is 127.0.0.1. It is skipped, in one line, where that is not
possible. Afterwards no process of the cluster may be left.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

SUITE = Path(__file__).with_name("ray_cluster_suite.py")


def netns_problem() -> str | None:
    """Why the Ray tests cannot run here, or None."""
    if importlib.util.find_spec("ray") is None:
        return "Ray is not installed (in roadseg's checkout: pip install -c constraints.txt \".[ray]\")"
    if os.geteuid() != 0:
        return "unshare -n needs root"
    if not (shutil.which("unshare") and shutil.which("ip")):
        return "needs unshare (util-linux) and ip (iproute2)"
    if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode != 0:
        return "unshare -n is not permitted here"
    return None


def leftovers(temp: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if (
                entry.name.isdigit()
                and int(entry.name) != os.getpid()
                and temp.encode() in (entry / "cmdline").read_bytes()
            ):
                pids.append(int(entry.name))
        except OSError:
            pass
    return pids


def ray_zombies() -> list[int]:
    """Exited raylet / GCS processes not yet reaped (their ``ray start`` parent was killed)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
            name, state = stat[stat.find("(") + 1 : stat.rfind(")")], stat[stat.rfind(")") + 2 : stat.rfind(")") + 3]
            if name in ("raylet", "gcs_server") and state == "Z":
                pids.append(int(entry.name))
        except OSError:
            pass
    return pids


@pytest.mark.ray
@pytest.mark.timeout(290)
def test_ray_two_node_cluster_in_a_network_namespace() -> None:
    problem = netns_problem()
    if problem:
        pytest.skip(f"Ray cluster tests: {problem}")
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's unix socket paths have a length limit
    cmd = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh",
           sys.executable, "-m", "pytest", str(SUITE), "-q", "-x", "-p", "no:cacheprovider", "-o", "addopts=",
           "--timeout=270"]  # fmt: skip
    # (a home of its own: a ~/.ray/auth_token that a local cluster left on this machine, `ray start --head` or
    # `batch --ray local` run by hand, makes Ray refuse the suite's drivers, which bring no token, and its cluster
    # never counted two nodes: "timed out after 60 s")
    os.mkdir(home := os.path.join(temp, "home"))
    env = {**os.environ, "ROADSEG_RAY_NETNS": "1", "ROADSEG_RAY_TMP": temp, "HOME": home}
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=285, env=env, cwd=SUITE.parents[1])
    finally:
        deadline = time.monotonic() + 15
        while leftovers(temp) and time.monotonic() < deadline:
            time.sleep(0.2)
        stray = leftovers(temp)
        for pid in stray:
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(temp, ignore_errors=True)
        while ray_zombies() and time.monotonic() < deadline + 10:  # dead raylets wait for init to reap them
            time.sleep(0.2)
    tail = (run.stdout + run.stderr)[-6000:]
    assert run.returncode == 0, tail
    assert re.search(r"\b14 passed\b", run.stdout) and "skipped" not in run.stdout, tail
    assert not stray, f"Ray processes outlived the cluster: {stray}"
