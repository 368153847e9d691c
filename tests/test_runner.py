"""The runner never hangs: failures anywhere end the run promptly with the original error."""

import itertools
import threading
import time

import pytest

from roadseg.pipeline.queues import LatestQueue
from roadseg.pipeline.runner import StageFailed, run_stages


def test_items_flow_in_order_through_bounded_queues():
    out = []
    run_stages(lambda: range(100), lambda xs: (x + 1 for x in xs), consumer=out.extend, queue_size=2)
    assert out == list(range(1, 101))


def test_failing_source_ends_the_run():
    def source():
        yield 1
        raise OSError("disk went away")

    with pytest.raises(StageFailed) as info:
        run_stages(source, lambda xs: xs, consumer=lambda xs: list(xs))
    assert info.value.stage == "source" and isinstance(info.value.error, OSError)


@pytest.mark.timeout(10)
def test_what_a_failing_source_delivered_still_reaches_the_consumer():
    """A camera unplugged after a burst: the frames it gave before are recorded, then its error is raised."""
    got = []

    def source():
        yield from range(5)
        raise OSError("No such device")

    def slow_consumer(xs):
        time.sleep(0.3)  # the source has failed long before
        got.extend(xs)

    with pytest.raises(StageFailed) as info:
        run_stages(source, lambda xs: (x * 2 for x in xs), consumer=slow_consumer, queue_size=8)
    assert info.value.stage == "source" and got == [0, 2, 4, 6, 8]


@pytest.mark.timeout(10)
def test_failing_consumer_while_producer_blocks_on_full_queue():
    """supervision's hang: the reader blocks on a full queue after the callback died."""

    def consumer(items):
        next(iter(items))
        raise ValueError("encoder broke")

    t0 = time.monotonic()
    with pytest.raises(StageFailed) as info:
        run_stages(lambda: iter(range(10**9)), lambda xs: xs, consumer=consumer, queue_size=1)
    assert info.value.stage == "sink" and time.monotonic() - t0 < 3


@pytest.mark.timeout(10)
def test_failing_middle_stage_with_endless_source():
    def stage(xs):
        for x in xs:
            if x == 5:
                raise RuntimeError("inference failed")
            yield x

    with pytest.raises(StageFailed, match="inference failed"):
        run_stages(lambda: iter(range(10**9)), stage, consumer=lambda xs: [None for _ in xs], queue_size=1)


@pytest.mark.timeout(10)
def test_stop_event_ends_the_run_and_the_consumer_finishes():
    stop = threading.Event()
    finished = []

    def consumer(items):
        for i, _ in enumerate(items):
            if i == 3:
                stop.set()
        finished.append(True)  # the sink's chance to finalise its file

    run_stages(lambda: iter(range(10**9)), lambda xs: xs, consumer=consumer, stop=stop)
    assert finished == [True]


def test_call_interruptibly_returns_raises_and_cleans_up_what_comes_too_late():
    import _thread

    from roadseg.pipeline.runner import abandoned_calls, call_interruptibly

    assert call_interruptibly(lambda: 42, "t") == 42
    with pytest.raises(OSError, match="refused"):
        call_interruptibly(lambda: (_ for _ in ()).throw(OSError("refused")), "t")
    cleaned, release = threading.Event(), threading.Event()

    def slow() -> str:
        release.wait(10)  # (blocks until the Ctrl-C was seen: on a loaded machine a fixed sleep could end first)
        return "container"

    timer = threading.Timer(0.05, _thread.interrupt_main)  # Ctrl-C while the call blocks
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        call_interruptibly(slow, "t", cleanup=lambda c: cleaned.set())
    assert [t.name for t in abandoned_calls()] == ["roadseg-t"]  # still running: the CLI must not finalise beside it
    release.set()
    assert cleaned.wait(5)  # the late result was closed, not leaked
    deadline = time.monotonic() + 2
    while abandoned_calls() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not abandoned_calls()


def test_a_ctrl_c_while_the_calls_thread_starts_still_leaves_the_call_abandoned(monkeypatch):
    """The signal comes while ``Thread.start`` waits for the new thread (a stream on loopback connects at
    once): the CLI must still see the call running, or it finalises the interpreter beside PyAV (exit -11
    in 7 of 200 SIGINT/SIGTERM runs of the live-signal test)."""
    from roadseg.pipeline.runner import abandoned_calls, call_interruptibly

    start = threading.Thread.start

    def start_then_interrupted(self):
        start(self)
        raise KeyboardInterrupt

    cleaned = threading.Event()
    monkeypatch.setattr(threading.Thread, "start", start_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        call_interruptibly(lambda: (time.sleep(0.3), "container")[1], "t", cleanup=lambda c: cleaned.set())
    monkeypatch.undo()
    assert [t.name for t in abandoned_calls()] == ["roadseg-t"]
    assert cleaned.wait(2)  # the late result was closed, not leaked


@pytest.mark.timeout(20)
def test_a_ctrl_c_while_the_stages_start_stops_those_started(monkeypatch):
    """The signal comes while ``run_stages`` starts its threads (under a millisecond a run): the ones started ran on
    unstopped, an endless source for good, while the caller finalised its output."""
    start, started = threading.Thread.start, []

    def second_start_interrupted(self):
        if started:
            raise KeyboardInterrupt
        start(self)
        started.append(self)

    monkeypatch.setattr(threading.Thread, "start", second_start_interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_stages(itertools.count, lambda xs: xs, consumer=lambda xs: list(xs), queue_size=2)
    monkeypatch.undo()
    assert [t.name for t in started] == ["roadseg-source"] and not started[0].is_alive()


def test_a_live_queue_drops_stale_frames_but_keeps_audio_in_order_and_bounded():
    q = LatestQueue(keep=lambda item: isinstance(item, str), max_kept=3)
    for item in (1, "a", 2, "b", "c", 3, "d", 4):
        q.put(item)
    assert [q.get() for _ in range(4)] == ["b", "c", "d", 4]  # "a" went to make room; frames 1-3 were replaced
    assert (q.dropped, q.overflow) == (3, 1)
    q.put("e")
    q.put(5)
    assert [q.get(), q.get()] == ["e", 5]


@pytest.mark.timeout(20)
def test_a_ctrl_c_while_main_waits_still_waits_for_a_stage_inside_a_c_call():
    """Ctrl-C came while main waited in ``Thread.join`` for a stage inside onnxruntime (a call that releases the
    GIL, as ``time.sleep`` does): CPython 3.11 then marks that thread stopped (bpo-45274's clean-up), the
    joins after the stop returned at once, and ``segment-video`` left while the call still ran, to end
    'terminate called without an active exception' (exit -6, not 130)."""
    import os
    import signal

    finished = threading.Event()

    def infer(items):
        for item in items:
            time.sleep(0.6)  # (the stage is inside its "C call" when Ctrl-C comes)
            finished.set()
            yield item

    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        run_stages(lambda: range(3), infer, consumer=lambda xs: list(xs), join_timeout=5.0)
    timer.join()
    assert finished.is_set()  # (the stage's call ended before the run returned)


@pytest.mark.timeout(20)
def test_a_second_ctrl_c_while_the_run_stops_still_waits_for_a_stage_inside_a_c_call():
    """An impatient user's second Ctrl-C came while main gave the stopped stages their time: it cut that wait
    short, and ``segment-video --tta`` with the shipped model left while inference still ran, to end
    'terminate called without an active exception' (exit -6, not 130). The first signal is the one raised."""
    import os
    import signal

    finished = threading.Event()

    def infer(items):
        for item in items:
            time.sleep(0.8)  # (the stage is inside its "C call" when both come)
            finished.set()
            yield item

    timers = [threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT)) for delay in (0.2, 0.4)]
    for timer in timers:
        timer.start()
    with pytest.raises(KeyboardInterrupt):
        run_stages(lambda: range(3), infer, consumer=lambda xs: list(xs), join_timeout=5.0)
    for timer in timers:
        timer.join()
    assert finished.is_set()  # (the stage's call ended before the run returned)


def test_a_stage_still_inside_its_call_when_the_stop_times_out_is_left_as_abandoned():
    """A stage whose call outlasts ``join_timeout`` after a Ctrl-C (one long inference call): the CLI must not
    finalise the interpreter beside it, so it is counted in :func:`abandoned_calls` (``os._exit`` then)."""
    import os
    import signal

    from roadseg.pipeline.runner import abandoned_calls

    release = threading.Event()

    def infer(items):
        for item in items:
            release.wait(5)
            yield item

    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        run_stages(lambda: range(3), infer, consumer=lambda xs: list(xs), join_timeout=0.3, names=("s", "slow", "k"))
    timer.join()
    assert [t.name for t in abandoned_calls()] == ["roadseg-slow"]
    release.set()
    deadline = time.monotonic() + 5
    while abandoned_calls() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not abandoned_calls()


@pytest.mark.timeout(10)
def test_a_callers_cancel_stops_the_stages_and_says_so_and_is_left_as_it_was():
    """``cancel`` (run's ``stop``): set midway, the stages end within a poll and run_stages returns True; never set,
    or set only once the stages ended, False; set before, nothing flows. It is never cleared, so one may stop many."""
    cancel, got = threading.Event(), []

    def consumer(xs):
        for x in xs:
            got.append(x)
            if x == 3:
                cancel.set()

    t0 = time.monotonic()
    assert run_stages(itertools.count, lambda xs: xs, consumer=consumer, cancel=cancel) is True  # (endless)
    assert time.monotonic() - t0 < 2.0 and got[:4] == [0, 1, 2, 3] and cancel.is_set()
    assert run_stages(lambda: range(3), lambda xs: xs, consumer=lambda xs: list(xs), cancel=threading.Event()) is False
    got.clear()
    assert run_stages(lambda: range(1000), lambda xs: xs, consumer=got.extend, cancel=cancel) is True
    assert got == []  # (set before: the stages start stopped)
