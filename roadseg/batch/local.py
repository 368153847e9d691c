"""A local pool: ``workers`` processes on this machine, one video each at a time.

Each worker is a spawned process holding a :class:`~roadseg.batch.task.Worker` for its whole life,
talking to the driver over a pipe: a task in, a results line out. A worker that dies mid-video is
noticed through its process sentinel, reported as :class:`~roadseg.batch.driver.Lost` (so the driver
retries the video) and replaced; workers ignore SIGINT and SIGHUP, so Ctrl-C or a closed terminal reaches only the driver, which
stops them with :meth:`LocalPool.cancel`.

Example:
    >>> from roadseg.pipeline.options import SegmentOptions
    >>> with LocalPool(SegmentOptions(""), workers=1) as pool:  # doctest: +SKIP
    ...     pool.submit(Task("in.mp4", "out/in.mp4")); pool.poll(60)
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import socket
import sys
from multiprocessing.connection import Connection, wait
from typing import Any

from roadseg.batch.driver import Lost, Outcome
from roadseg.batch.errors import BatchError
from roadseg.batch.task import Task
from roadseg.errors import Interrupted
from roadseg.pipeline.options import SegmentOptions
from roadseg.pipeline.runner import leave_now

#: A worker's exit code where the caller's script, which spawn imports again in each worker, called
#: :func:`~roadseg.batch.api.batch` as it was imported (:func:`leave_if_importing_main`).
UNGUARDED = 78
UNGUARDED_HINT = ("a local worker exited on start: the script that called roadseg.batch calls it again as each "
                  "worker process imports it (multiprocessing's spawn runs the main module anew); put that call "
                  "under 'if __name__ == \"__main__\":'")  # fmt: skip


def leave_if_importing_main() -> None:
    """In a worker process still importing the caller's script (multiprocessing's spawn runs ``__main__``
    again in each, ``_inheriting`` meanwhile: what its own 'bootstrapping phase' check reads), a call of
    ``batch()`` is that script's unguarded one, not work: exit with :data:`UNGUARDED`, which the driver
    explains, rather than start a batch of its own (a traceback, and the driver's 'exited on start')."""
    if getattr(mp.process.current_process(), "_inheriting", False):
        raise SystemExit(UNGUARDED)


def _serve(conn: Connection, options: SegmentOptions, env: dict[str, str], driver: int) -> None:
    """A worker process: load the model once, then run tasks until told to stop (``None``), the driver
    stops it (SIGTERM) or the driver is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    if hasattr(signal, "SIGHUP"):  # and so is a closed terminal (sent to the whole group, as Ctrl-C is)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stopped)  # the video in hand is stopped and its temporary outputs removed
    os.environ.update(env)
    try:
        _stop_with(driver)
        from roadseg.batch.task import Worker

        try:
            worker = Worker(options, node=f"{socket.gethostname()}:{os.getpid()}")
        except Exception as exc:
            conn.send(("failed", str(exc) or exc.__class__.__name__))
            return
        conn.send(("ready", worker.info))
        while (task := conn.recv()) is not None:
            _state["running"] = True
            line = worker.run(task)
            _state["running"] = False
            conn.send(line)
    except (KeyboardInterrupt, Interrupted, EOFError, OSError):  # stopped, or the driver went away
        _state["stopping"] = True
        _leave()


def _leave() -> None:
    """A stopped worker leaves with ``os._exit``, as an idle one does (:func:`_stopped`): spawn's ``sys.exit``
    finalised the process beside a stopped run's threads that were still inside onnxruntime, whose pool's
    destructor then aborted it ("terminate called without an active exception" on the batch's stderr, 1 in 10
    runs of a double Ctrl-C on a loaded machine). Its results went to the driver already; nothing is left."""
    leave_now(0)


_state = {"running": False, "stopping": False}  # a video in hand in this worker process; being stopped


def _stopped(signum: int, frame: object) -> None:
    """SIGTERM: a video in hand is stopped as Ctrl-C stops one (its temporary outputs removed); an idle
    worker, or one already leaving (its driver gone: the pipe closed just before this signal), exits.
    The signal may come again while it stops (the kernel sends it as each of the dead driver's threads
    ends): then it is let be."""
    if _state["stopping"]:
        return
    if _state["running"]:
        _state["stopping"] = True
        raise KeyboardInterrupt
    os._exit(0)


def _stop_with(driver: int) -> None:
    """Have the kernel send this worker SIGTERM when ``driver`` dies (Linux): a driver killed outright
    (kill -9, the OOM killer) cannot stop its workers, which went on with their videos, put them in
    place without a results line and raced a rerun for the same names."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != driver:  # it died before that
        os.kill(os.getpid(), signal.SIGTERM)


class _Proc:
    """One worker process and what the driver knows about it."""

    def __init__(self, ctx: Any, options: SegmentOptions, env: dict[str, str]) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, options, env, os.getpid()), daemon=True)
        self.process.start()
        child.close()
        self.env = env
        self.ready = False
        self.task: Task | None = None
        self.info: dict = {}

    @property
    def node(self) -> str:
        return self.info.get("node") or f"{socket.gethostname()}:{self.process.pid}"

    def stop(self, timeout: float = 3.0) -> None:
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout)
        self.conn.close()


class LocalPool:
    """``workers`` worker processes; ``envs[i]`` is set in worker ``i`` (e.g. ``CUDA_VISIBLE_DEVICES``).

    Raises:
        BatchError: a worker cannot start (a broken model, say) or none is ready in ``ready_timeout`` s.
    """

    def __init__(self, options: SegmentOptions, workers: int, *, envs: list[dict[str, str]] | None = None,
                 ready_timeout: float = 120.0) -> None:  # fmt: skip
        self._ctx = mp.get_context("spawn")
        self._options = options
        self._procs = [_Proc(self._ctx, options, (envs or [{}] * workers)[i]) for i in range(workers)]
        try:
            for proc in self._procs:
                if not proc.conn.poll(ready_timeout):
                    raise BatchError(f"a local worker did not start within {ready_timeout:.0f} s")
                self._greet(proc)
        except BaseException:
            self.cancel()
            raise

    @property
    def info(self) -> list[dict]:
        return [p.info for p in self._procs if p.ready]

    def _greet(self, proc: _Proc) -> None:
        try:
            kind, payload = proc.conn.recv()
        except EOFError:
            proc.process.join(5)  # (its exit code: None until it is reaped)
            if proc.process.exitcode == UNGUARDED:
                raise BatchError(UNGUARDED_HINT) from None
            raise BatchError(f"a local worker exited on start (code {proc.process.exitcode})") from None
        if kind == "failed":
            raise BatchError(f"a worker cannot start: {payload}")
        proc.ready, proc.info = True, payload

    def can_take(self) -> bool:
        return any(p.ready and p.task is None and p.process.is_alive() for p in self._procs)

    def busy(self) -> bool:
        return any(p.task is not None for p in self._procs)

    def alive(self) -> int:
        return sum(p.process.is_alive() for p in self._procs)

    def submit(self, task: Task) -> None:
        proc = next(p for p in self._procs if p.ready and p.task is None and p.process.is_alive())
        proc.task = task.with_worker(str(proc.process.pid), proc.node)
        proc.conn.send(proc.task)

    def poll(self, timeout: float) -> list[tuple[Task, Outcome]]:
        """Wait up to ``timeout`` s for results, deaths and replacement workers coming up."""
        waiting = [p for p in self._procs if p.task is not None or not p.ready]
        handles = [h for p in waiting for h in (p.conn, p.process.sentinel)]
        if handles:
            wait(handles, timeout)
        out: list[tuple[Task, Outcome]] = []
        for proc in waiting:
            if proc.conn.poll():
                try:
                    message = proc.conn.recv()
                except EOFError:
                    message = None
                if message is not None and not proc.ready:
                    self._welcome(proc, message)
                    continue
                if message is not None and proc.task is not None:
                    out.append((proc.task, message))
                    proc.task = None
                    continue
            if not proc.process.is_alive():
                out.extend(self._bury(proc))
        return out

    def _welcome(self, proc: _Proc, message: tuple) -> None:
        kind, payload = message
        if kind == "ready":
            proc.ready, proc.info = True, payload

    def _bury(self, proc: _Proc) -> list[tuple[Task, Outcome]]:
        """A worker died: report its task lost and start a replacement (only for one that held a task)."""
        proc.process.join()
        lost = proc.task
        proc.task, proc.ready = None, False
        proc.conn.close()
        self._procs.remove(proc)
        if lost is None:
            return []
        self._procs.append(_Proc(self._ctx, self._options, proc.env))
        reason = f"worker process {proc.process.pid} exited (code {proc.process.exitcode})"
        return [(lost, Lost(reason, proc.node))]

    def cancel(self) -> list[Task]:
        """Stop every worker now; return the tasks they held (their temporary files are the caller's)."""
        held = [p.task for p in self._procs if p.task is not None]
        for proc in self._procs:
            proc.stop()
        self._procs = []
        return held

    def close(self) -> None:
        """Let idle workers finish and exit; stop the rest."""
        for proc in self._procs:
            if proc.process.is_alive() and proc.task is None:
                try:
                    proc.conn.send(None)
                except OSError:
                    pass
        for proc in self._procs:
            proc.process.join(5)
            proc.stop()
        self._procs = []

    def __enter__(self) -> LocalPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
