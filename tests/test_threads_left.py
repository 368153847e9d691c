"""conftest's ``no_thread_left_running``: a test that leaves a thread running fails, naming it; one whose threads end
in time passes. Run as pytest runs it: a pytest of its own over a copy of conftest.py and a few tests."""

import shutil
import subprocess
import sys
from pathlib import Path

TESTS = '''
import threading
import time

import roadseg.pipeline.runner as runner

never = threading.Event()


def test_a_server_never_shut_down():
    threading.Thread(target=never.wait, name="never-shut-down", daemon=True).start()


def test_a_thread_that_ends_within_the_grace():
    threading.Thread(target=time.sleep, args=(0.3,), name="soon-done", daemon=True).start()


def test_a_call_abandoned_by_design_that_ends_on_its_own():
    thread = threading.Thread(target=time.sleep, args=(2.5,), name="left-read", daemon=True)
    runner.abandon(thread)
    thread.start()


def test_a_thread_joined_by_the_test():
    thread = threading.Thread(target=time.sleep, args=(0.1,))
    thread.start()
    thread.join()
'''


def test_a_thread_left_running_fails_its_test_and_is_named(tmp_path):
    shutil.copy(Path(__file__).with_name("conftest.py"), tmp_path / "conftest.py")
    (tmp_path / "test_leaks.py").write_text(TESTS)
    r = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", str(tmp_path)],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
    out = r.stdout
    assert r.returncode == 1 and "4 passed, 1 error" in out, out
    assert "ERROR test_leaks.py::test_a_server_never_shut_down" in out, out
    assert "1 thread(s) left running 2.0 s after the test:\nnever-shut-down (Event.wait):" in out, out
    assert "in wait\n    signaled = self._cond.wait(timeout)" in out  # (where it waits: its innermost frames)
    assert "soon-done" not in out and "left-read" not in out
