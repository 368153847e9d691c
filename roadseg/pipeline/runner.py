"""The one place that starts threads: a chain of stages joined by bounded queues (and :func:`spawn`).

Its queues' operations (each polls the stop event) and the newest-frame slot: :mod:`~roadseg.pipeline.queues`.

A stage is a generator function over an input iterator, so batching and pass-through are natural.
Guarantees: every queue is bounded (a full queue blocks its producer: no item is dropped); one
end-of-stream sentinel; an exception in any stage after the producer sets the stop event, every other
stage ends at its next queue operation, and :func:`run_stages` re-raises it as :class:`StageFailed`;
the producer's exception (an unplugged camera, damaged input) ends its items as their end would, so
what it delivered before still goes through to the consumer, and is re-raised then; Ctrl-C sets the
stop event and every thread is joined with a timeout, so no path can hang.

Example:
    >>> out = []
    >>> run_stages(lambda: range(5), lambda xs: (x * 10 for x in xs), consumer=lambda xs: out.extend(xs))
    False
    >>> out
    [0, 10, 20, 30, 40]
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from roadseg.pipeline.queues import END, POLL, drain, put

T = TypeVar("T")
LEAVE = 0.1  # seconds a producer that is left (``run_stages``' ``leave``) still gets after the run stops


class StageFailed(RuntimeError):
    """A pipeline stage raised; ``error`` is the original exception, ``stage`` where it happened.

    The runner's own carrier: :func:`roadseg.pipeline.run.run` turns it into a
    :class:`~roadseg.errors.PipelineError` that says what was kept.
    """

    def __init__(self, stage: str, error: BaseException) -> None:
        super().__init__(f"{stage}: {error}")
        self.stage = stage
        self.error = error


def spawn(target: Callable[[], None], name: str, track: set[threading.Thread] | None = None) -> threading.Thread:
    """Start a daemon thread for a service beside the stages (the MJPEG server, a run's stop watched while its source
    opens); its owner stops and joins it.
    ``track``: a set the thread is put in before it starts (so a Ctrl-C that comes while it starts still finds it)."""
    thread = threading.Thread(target=target, name=f"roadseg-{name}", daemon=True)
    if track is not None:
        track.add(thread)
    thread.start()
    return thread


#: Threads of :func:`call_interruptibly` still inside their call (each takes itself out as it ends).
_calls: set[threading.Thread] = set()


def abandoned_calls() -> list[threading.Thread]:
    """:func:`call_interruptibly` calls still running (e.g. inside ``av.open``) after their caller was interrupted: a
    process that exits now must not run interpreter finalisation beside one (PyAV's I/O callbacks re-enter Python and
    can crash a finalising interpreter): the CLI leaves with ``os._exit`` then. (A call whose caller still waits counts
    too: nothing exits while it does.)"""
    return [t for t in list(_calls) if t.is_alive()]


def abandon(thread: threading.Thread) -> None:
    """Count ``thread``, left inside a blocking call that its owner could not wait out, in :func:`abandoned_calls`."""
    _calls.add(thread)


def leave_now(code: int) -> None:
    """Flush stdout and stderr, then leave with ``os._exit(code)``: no interpreter finalisation, which can crash
    beside a thread still inside PyAV's or onnxruntime's C code (:func:`abandoned_calls`, a stopped batch
    worker's run)."""
    with contextlib.suppress(OSError, ValueError):  # (a closed or broken stream: the exit code still tells)
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def call_interruptibly(fn: Callable[[], T], name: str, cleanup: Callable[[T], None] | None = None) -> T:
    """Return ``fn()`` (or raise its exception), run in a thread of its own so that Ctrl-C reaches the caller.

    For blocking calls that swallow signals while they wait (PyAV opening a network stream). If the caller is
    interrupted first (also while the thread starts), the call is left to finish on its own (see
    :func:`abandoned_calls`) and ``cleanup`` gets what it returns (e.g. closes the container nobody will read)."""
    done = threading.Event()
    box: dict[str, Any] = {}
    lock = threading.Lock()

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            box["error"] = exc
        with lock:
            done.set()
            abandoned = box.get("abandoned", False)
        if abandoned and "value" in box and cleanup is not None:
            cleanup(box["value"])
        _calls.discard(threading.current_thread())

    try:
        spawn(target, name, track=_calls)
        while not done.wait(POLL):
            pass
    except KeyboardInterrupt:
        with lock:
            finished, box["abandoned"] = done.is_set(), True
        if finished and "value" in box and cleanup is not None:
            cleanup(box["value"])  # it came just in time, but nobody will use it now
        raise
    if "error" in box:
        raise box["error"]
    return box["value"]


def _forward(make: Callable[[], Iterable[Any]], out: queue.Queue, stop: threading.Event) -> None:
    """Put the items of ``make()`` on ``out`` until they end or ``stop`` is set; always end with the
    end marker (also when ``make`` raises), so the next thread finishes."""
    try:
        for item in make():
            if not put(out, item, stop):
                return
    finally:
        put(out, END, stop)


def _guarded(name: str, body: Callable[[], None], errors: list, stop: threading.Event | None,
             done: threading.Event) -> Callable[[], None]:  # fmt: skip
    """A thread target that records the failure of ``body`` as :class:`StageFailed` and stops the run
    (unless ``stop`` is None: the producer's items end, and the stages after it finish them); ``done`` is
    set as it ends."""

    def target() -> None:
        try:
            body()
        except BaseException as exc:  # noqa: BLE001 - travels to the caller
            errors.append(StageFailed(name, exc))
            if stop is not None:
                stop.set()
        finally:
            done.set()

    return target


def _join_all(threads: list[threading.Thread], done: list[threading.Event], stop: threading.Event,
              join_timeout: float, leave: threading.Event | None = None,
              cancel: threading.Event | None = None) -> bool:  # fmt: skip
    """Wait for every thread (``done``: each one's end, set by its target); on Ctrl-C stop the run, give the
    threads ``join_timeout`` s, re-raise. ``leave`` (set): once the other threads are done, the run is stopped,
    and the producer (``threads[0]``) gets :data:`LEAVE` s more, then is left to end on its own (in
    :data:`_calls`: see :func:`abandoned_calls`); given at all, the producer gets no more than that after a
    Ctrl-C either. ``cancel`` (set, looked at every :data:`~roadseg.pipeline.queues.POLL` s): the run is stopped
    and waited for as any other end of it; returned: whether it was what stopped the run.

    Waits on the events, never in ``Thread.join``: a Ctrl-C that interrupts a join marks the thread joined as
    stopped on CPython 3.11 (bpo-45274's clean-up), so the joins after it returned at once while a stage was
    still inside onnxruntime, and the interpreter, finalised beside it, aborted ('terminate called')."""
    cancelled = False
    try:
        for ended in done[1:]:
            while not ended.wait(POLL):
                cancelled = cancelled or _cancelled(cancel, stop)
        while not done[0].wait(POLL) and not (leave is not None and leave.is_set()):
            cancelled = cancelled or _cancelled(cancel, stop)
        if not done[0].is_set():
            stop.set()
            if not done[0].wait(LEAVE):
                _calls.add(threads[0])
        _exited(threads, done)
    except KeyboardInterrupt:
        stop.set()
        _wait_out(threads, done, time.monotonic() + join_timeout, leave is not None)
        raise
    return cancelled


def _cancelled(cancel: threading.Event | None, stop: threading.Event) -> bool:
    """Stop the run where ``cancel`` is set and nothing stopped it before; whether this did."""
    if cancel is None or not cancel.is_set() or stop.is_set():
        return False
    stop.set()
    return True


def _wait_out(threads: list[threading.Thread], done: list[threading.Event], deadline: float, leave: bool) -> None:
    """After a Ctrl-C: give the stopped threads until ``deadline`` (the producer, where it may be left,
    :data:`LEAVE` s), deaf to another Ctrl-C or SIGTERM (an impatient user's second one cut this wait short, and
    the interpreter was finalised beside an inference call: 'terminate called', exit -6). A thread still
    inside its call then is counted in :data:`_calls`: the CLI leaves with ``os._exit`` (:func:`abandoned_calls`)."""
    producer_until = None
    while True:
        try:
            for ended in done[1:]:
                ended.wait(max(0.0, deadline - time.monotonic()))
            producer_until = producer_until or (time.monotonic() + LEAVE if leave else deadline)
            done[0].wait(max(0.0, producer_until - time.monotonic()))
            _exited(threads, done)
            break
        except KeyboardInterrupt:
            continue  # (the first signal is the one the caller raises)
    _calls.update(t for t, ended in zip(threads, done) if not ended.is_set())


def _exited(threads: list[threading.Thread], done: list[threading.Event]) -> None:
    """Wait (:data:`LEAVE` s at most) for each thread whose body has ended (``done`` set) to be gone, polled, not joined
    (bpo-45274, :func:`_join_all`): was, one still exiting as ``run_stages`` returned, in a caller's
    ``threading.enumerate()`` (3 of 24 runs stopped by a Ctrl-C)."""
    until = time.monotonic() + LEAVE
    while any(t.is_alive() for t, ended in zip(threads, done) if ended.is_set()) and time.monotonic() < until:
        time.sleep(0.001)


def _chain(producer: Callable[[], Iterable[Any]], stages: tuple[Callable[[Iterator[Any]], Iterable[Any]], ...],
           consumer: Callable[[Iterator[Any]], None], queue_size: int, first_queue: queue.Queue | None,
           names: tuple[str, ...] | None, stop: threading.Event,
           errors: list[StageFailed]) -> tuple[list[threading.Thread], list[threading.Event]]:  # fmt: skip
    """The threads of :func:`run_stages` (not started), joined by queues of ``queue_size`` (the first ``first_queue``,
    where given), and the event each sets as it ends; each records its failure in ``errors`` (:func:`_guarded`)."""
    n = len(stages)
    names = names or ("source", *(f"stage{i + 1}" for i in range(n)), "sink")
    queues = [queue.Queue(maxsize=queue_size) for _ in range(n + 1)]
    if first_queue is not None:
        queues[0] = first_queue
    bodies = [lambda: _forward(producer, queues[0], stop)]
    for i, stage in enumerate(stages):
        bodies.append(lambda i=i, stage=stage: _forward(lambda: stage(drain(queues[i], stop)), queues[i + 1], stop))
    bodies.append(lambda: consumer(drain(queues[n], stop)))
    done = [threading.Event() for _ in bodies]
    threads = [threading.Thread(target=_guarded(name, body, errors, stop if i else None, done[i]),
                                name=f"roadseg-{name}", daemon=True) for i, (name, body) in enumerate(zip(names, bodies))]
    return threads, done


def run_stages(
    producer: Callable[[], Iterable[Any]],
    *stages: Callable[[Iterator[Any]], Iterable[Any]],
    consumer: Callable[[Iterator[Any]], None],
    queue_size: int = 8,
    stop: threading.Event | None = None,
    join_timeout: float = 2.0,
    names: tuple[str, ...] | None = None,
    first_queue: queue.Queue | None = None,
    leave: threading.Event | None = None,
    cancel: threading.Event | None = None,
) -> bool:
    """Run ``producer -> stages... -> consumer``, each in its own thread; return when all are done: whether
    ``cancel`` stopped them.

    Args:
        producer: returns the source iterable (called inside its thread).
        stages: generator functions ``f(items) -> items``.
        consumer: drains the last queue (e.g. writes a file); it should finalise its output when its
            input ends, which also happens when the run is stopped.
        queue_size: bound of every queue between two threads.
        stop: an event the caller may set to stop the run early (a fresh one by default).
        join_timeout: seconds to wait for threads after a stop before giving up on them.
        names: thread/stage names for messages (default ``source, stage1.., sink``).
        first_queue: the queue after the producer; a :class:`LatestQueue` makes a live source drop
            stale frames instead of blocking.
        leave: once set (with :func:`end` on ``first_queue``: a live run's ``--duration`` is up while its
            source waits in a read of a stalled stream, which cannot be cut short), return when the stages
            after the producer are done, without waiting for a producer that stays inside its call; its
            source must then let it finish on its own (``LiveSource.close``). Given at all, a producer that
            is still inside its call :data:`LEAVE` s after a Ctrl-C is left so too.
        cancel: an event of another thread's (a library caller's stop): once set, ``stop`` is set (``cancel`` is
            never set here, so one may stop many runs), by the thread that waits for the stages, within
            :data:`~roadseg.pipeline.queues.POLL` s; the stages end as after ``stop``, and are waited for.

    Raises:
        StageFailed: the first exception raised by any stage (the producer's once the others have
            finished what it delivered).
        KeyboardInterrupt: after stopping and joining, if the caller's thread was interrupted.
    """
    stop = stop or threading.Event()
    errors: list[StageFailed] = []
    threads, done = _chain(producer, stages, consumer, queue_size, first_queue, names, stop, errors)
    cancelled = _cancelled(cancel, stop)  # (set before: the stages start stopped, and end at once)
    for i, t in enumerate(threads):
        try:
            t.start()
        except BaseException:  # (a Ctrl-C while they start: those started stopped and waited out, as after a stop)
            stop.set()
            _ = [ended.set() for ended in done[i + 1 :]]  # (never started)
            _wait_out(threads, done, time.monotonic() + join_timeout, leave is not None)
            raise
    cancelled = _join_all(threads, done, stop, join_timeout, leave, cancel) or cancelled
    if errors:
        raise errors[0]
    return cancelled
