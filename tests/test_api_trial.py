"""A trial of the library as a notebook or an embedding tool meets it (frames of every shape, many runs in one
process, runs in threads, Ctrl-C mid-run): what it found wrong, each with the test that failed before."""

from __future__ import annotations

import sys
import threading

from roadseg.pipeline.session import OnnxSegmenter


def test_loading_a_model_leaves_the_processs_stdout_alone(rule_onnx):
    """Was: ``sys.stdout`` replaced by a StringIO while a session loaded (the whole process's: another thread's
    prints lost), and two loads in two threads at once left it replaced for good: every print after went nowhere."""
    before, seen = sys.stdout, set()
    loaded = threading.Event()

    def load() -> None:
        try:
            for _ in range(3):
                OnnxSegmenter(rule_onnx, providers="cpu")
        finally:
            loaded.set()

    loader = threading.Thread(target=load)
    loader.start()
    while not loaded.is_set():
        seen.add(id(sys.stdout))
    loader.join()
    assert seen == {id(before)} and sys.stdout is before
