"""A student's laptop of one CPU, simulated as ``taskset -c 0`` (or a container's cpuset): the run keeps to the CPUs
it may use."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import split_frames, write_video

pytestmark = pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                                reason="needs CPU affinity and 2 CPUs to pin a process to one of them")  # fmt: skip

#: A child pinned to one CPU that opens a session (with ``--threads`` as argv[2]) and runs it, then prints the CPUs
#: each of its threads may run on.
PINNED_SESSION = """
import json, os, sys
os.sched_setaffinity(0, {int(sys.argv[3])})  # (before numpy: the threads it starts as it loads inherit it)
import numpy as np
from roadseg.pipeline.session import OnnxSegmenter
seg = OnnxSegmenter(sys.argv[1], providers="cpu", threads=int(sys.argv[2]))  # (kept: its threads with it)
seg.predict(np.zeros((1, 64, 96, 3), np.uint8))
allowed = []
for tid in os.listdir("/proc/self/task"):
    with open(f"/proc/self/task/{tid}/status") as f:
        allowed += [line.split()[1] for line in f if line.startswith("Cpus_allowed_list")]
print(json.dumps(allowed))
"""


def test_a_session_pinned_to_one_cpu_keeps_its_threads_there(rule_onnx):
    """Under ``taskset -c 0`` on 2 CPUs onnxruntime's default (one thread a physical core, each pinned to its core)
    ran its second thread on CPU 1: a run told to use one CPU used two, and a 1-CPU trial timed a 2-CPU run. Now the
    default is one thread a usable CPU: as many threads as ``--threads 1`` starts, all on the one CPU."""
    one = min(os.sched_getaffinity(0))

    def allowed(threads: int) -> list[str]:
        cmd = [sys.executable, "-c", PINNED_SESSION, str(rule_onnx), str(threads), str(one)]
        return json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)

    default, single = allowed(0), allowed(1)
    assert set(default) == {str(one)} and len(default) == len(single), (default, single)  # was: ['0', '0', '1']


#: A child pinned to one CPU that prints the intra-op threads bench's machine peak asked onnxruntime for and those its
#: machine line says.
PINNED_BENCH = """
import json, os, sys
os.sched_setaffinity(0, {int(sys.argv[1])})
import onnxruntime as ort
asked = []
class Session(ort.InferenceSession):
    def __init__(self, model, opts=None, **kw):
        asked.append(opts.intra_op_num_threads)
        super().__init__(model, opts, **kw)
ort.InferenceSession = Session
from roadseg.tools import bench, peak
peak.machine_peak(sizes=(32,), repeats=1)
print(json.dumps([asked, bench._threads_said(0)]))
"""


def test_bench_pinned_to_one_cpu_times_and_says_one_thread():
    """`roadseg bench` under ``taskset -c 0`` said 'threads: onnxruntime default (one per physical core)' and timed
    its machine peak with onnxruntime's default, two threads of which one ran on the other CPU."""
    pytest.importorskip("onnx")  # (the peak's matmul models)
    one = min(os.sched_getaffinity(0))
    out = subprocess.run([sys.executable, "-c", PINNED_BENCH, str(one)], capture_output=True, text=True, check=True)
    asked, said = json.loads(out.stdout)
    assert set(asked) == {1} and said == 1, (asked, said)  # was: [0, 0], 'default (one per physical core)'


def test_info_pinned_to_one_cpu_says_the_threads_a_run_gets():
    """`roadseg info` said '(2 cores, 1 usable)' and nothing of the threads a run would then take; now the
    onnxruntime threads a run's session gets without --threads: 1 here."""
    one = min(os.sched_getaffinity(0))
    code = ("import os, sys; os.sched_setaffinity(0, {%d}); from roadseg.cli import main; "
            "sys.argv = ['roadseg', 'info']; main()") % one
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert ", 1 usable)\n" in out and "\n  onnxruntime threads  1 (--threads N sets them)\n" in out, out


def test_info_of_a_one_core_machine_says_1_core(monkeypatch):
    from roadseg.tools import info

    monkeypatch.setattr(info.os, "cpu_count", lambda: 1)
    monkeypatch.setattr(info.os, "sched_getaffinity", lambda pid: {0})
    text = info.format_report(info.collect())
    assert "(1 core, 1 usable)" in text and "onnxruntime threads  one per physical core" in text, text  # was: 1 cores


#: A child pinned to one CPU that runs ``roadseg segment`` with the arguments after argv[1] (the CPU).
PINNED_CLI = """
import os, sys
os.sched_setaffinity(0, {int(sys.argv[1])})
from roadseg.cli import main
sys.argv = ["roadseg", "segment", *sys.argv[2:]]
main()
"""


@pytest.mark.parametrize("threads", [4, 1])
def test_more_threads_than_usable_cpus_are_taken_and_said_in_one_line(rule_onnx, tmp_path, threads):
    """``--threads 4`` under ``taskset -c 0`` was taken silently: four threads took turns on one CPU. It is still
    taken (oversubscription is legal), and one line says so, naming the CPUs this process may use; ``--threads 1``
    says nothing."""
    clip, one = write_video(tmp_path / "clip.mp4", split_frames(4)), min(os.sched_getaffinity(0))
    cmd = [sys.executable, "-c", PINNED_CLI, str(one), str(clip), "-o", str(tmp_path / "o.mp4"), "--model",
           str(rule_onnx), "--device", "cpu", "--threads", str(threads), "-q"]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True)
    said = [line for line in r.stderr.splitlines() if "--threads" in line]
    assert r.returncode == 0 and (tmp_path / "o.mp4").exists(), r.stderr
    assert said == ([f"roadseg: --threads 4 is more than the 1 CPU this process may use (of the machine's {os.cpu_count()}: "
                     "taskset, a container's cpuset): its threads take turns on them (--threads 0 fits them to the "
                     "CPUs)"] if threads > 1 else []), r.stderr  # fmt: skip


#: A child pinned to one CPU that prints bench's warnings of a result made as ``run_bench`` makes it (its machine's
#: CPUs, and those this process may use, read there), its load average at start argv[2].
PINNED_LOAD = """
import json, os, sys
os.sched_setaffinity(0, {int(sys.argv[1])})
from roadseg.tools.info import cpu_info
from roadseg.tools.report import warnings_of
cpu = cpu_info()
result = {"frames": 60, "repeats": 3, "rows": [], "load_average": [float(sys.argv[2])] * 2, "cpus_usable": cpu["usable"],
          "machine": {"cpu": cpu}}
print(json.dumps(warnings_of(result)))
"""


def test_the_load_average_warning_compares_the_machines_load_with_the_machines_cpus():
    """bench's warning compared the machine's load average with the CPUs this process may use: under ``taskset -c 0``
    it said 'the load average was 3.1 on 1 CPU' of a load on the machine's 2 (and on 8 cores warned of a load of 1,
    another job on the other 7). Now the machine's load against the machine's CPUs, the process's said beside."""
    one, cores = min(os.sched_getaffinity(0)), os.cpu_count()

    def said(load: float) -> list[str]:
        out = subprocess.run([sys.executable, "-c", PINNED_LOAD, str(one), str(load)], capture_output=True, text=True,
                             check=True)  # fmt: skip
        return [w for w in json.loads(out.stdout) if "load average" in w]

    busy = round(max(0.5, cores / 4) + 1, 2)
    assert said(busy) == [f"the load average was {busy} on {cores} CPUs as the run began (the machine's; this process "
                          "may use 1 of them): other work shared the machine (compare the ratios, each from rounds "
                          "timed in turn, not frames/s)"]  # fmt: skip  # (was: 'on 1 CPU')
    assert said(round(max(0.5, cores / 4) - 0.1, 2)) == []


def test_a_load_the_pinned_process_shares_no_cpu_of_is_judged_by_the_machines_cpus():
    from roadseg.tools.report import warnings_of

    result = {"frames": 60, "repeats": 3, "rows": [], "load_average": [1.5, 1.5], "cpus_usable": 1,
              "machine": {"cpu": {"cores": 8, "usable": 1}}}  # fmt: skip
    assert not [w for w in warnings_of(result) if "load average" in w]  # (was: 'the load average was 1.5 on 1 CPU')
    assert [w for w in warnings_of({**result, "load_average": [2.5, 2.5]}) if "load average" in w]
