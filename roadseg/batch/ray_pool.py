"""A Ray pool: one long-lived worker actor per slot, fed file paths, a bounded number in flight each.

Each actor reserves ``cpus_per_worker`` CPUs and ``gpus_per_worker`` GPUs (Ray sets its
``CUDA_VISIBLE_DEVICES``), loads the model once when it starts and keeps it for its whole life.
Actors are spread over the nodes; the driver sends each at most ``in_flight`` paths (never frames:
decoded video is ~10x its file size and would swamp the object store) and collects results with
``ray.wait``. An actor whose process or node dies is dropped: the video it was running is reported
:class:`~roadseg.batch.driver.Lost` (the driver retries it on another actor), the ones queued behind
it go back unstarted. Actors that find no room when the batch starts join when a node with room does.

Example (a cluster already running; see the README's "On a real cluster"):
    >>> pool = RayPool("127.0.0.1:6379", SegmentOptions(""))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import deque
from typing import Any

from roadseg.batch.driver import Lost, Outcome
from roadseg.batch.errors import BatchError
from roadseg.batch.ray_connect import (
    answers,
    check_connected,
    head_gone,
    import_ray,
    join,
    restore_handlers,
    signal_handlers,
)
from roadseg.batch.ray_errors import inner_cause, went_down
from roadseg.batch.ray_worker import RayWorker
from roadseg.batch.task import Task
from roadseg.pipeline.options import SegmentOptions

log = logging.getLogger("roadseg")


class _Actor:
    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.info: dict = {}
        self.queue: deque[tuple[Any, Task]] = deque()  # (object ref, task) in submission order


class RayPool:
    """Worker actors on the Ray cluster at ``address`` (``host:port``, or ``auto`` for the local one).

    Args:
        workers: number of actors; default as many as the cluster's GPUs (or CPUs) allow.
        cpus_per_worker, gpus_per_worker: what each actor reserves.
        in_flight: paths queued at one actor at a time (2: the next one is there when one finishes).
        ready_timeout: seconds to wait for the first actor to be ready.
        sees: folders every worker must see (the output folder, an input's): a worker on a node without
            them does not start.
        ray_logs: also show Ray's own log lines and the workers' output on this process's stderr; by
            default they stay in Ray's log folder (``/tmp/ray/session_latest/logs`` on each node), and
            what Ray's native code prints while it connects goes to ``roadseg-driver-<pid>.log`` there.

    Where this process is connected to Ray already (the caller ran ``ray.init``), that connection is
    used and kept: ``address`` must then be ``auto`` or name that cluster (a BatchError otherwise, not
    a batch run on another cluster than the one named).

    Raises:
        BatchError: Ray is not installed, the cluster cannot be reached or has no room, a worker
            cannot start (a model missing on a node, say), or the connection made names another cluster.
    """

    def __init__(self, address: str, options: SegmentOptions, *, workers: int | None = None,
                 cpus_per_worker: float = 1.0, gpus_per_worker: float = 0.0, in_flight: int = 2,
                 ready_timeout: float = 300.0, sees: tuple[str, ...] = (), ray_logs: bool = False) -> None:  # fmt: skip
        self.ray = ray = import_ray()
        self.in_flight = max(1, in_flight)
        if cpus_per_worker <= 0 and gpus_per_worker <= 0:
            raise BatchError("a Ray worker reserves some CPUs or GPUs: --cpus-per-worker above 0")
        self._owns = not ray.is_initialized()
        self._address = address
        self._handlers: dict[int, Any] = {}
        self._terminated = ""  # (SIGTERM or SIGHUP, once one came)
        if self._owns:
            if address.startswith("ray://"):
                raise BatchError(f"{address}: Ray Client addresses are not taken; run the batch on a node of the "
                                 "cluster with --ray auto, or give the head's HOST:6379")  # fmt: skip
            keep = signal_handlers()  # (ray.init puts its own in, which ends the driver without its summary)
            try:
                self._address = join(ray, address, ray_logs=ray_logs)
            finally:
                restore_handlers(keep)
            self._handlers = keep
            self._note_signals()
        else:
            check_connected(ray, address)
        self._actors: list[_Actor] = []
        self._starting: dict[Any, _Actor] = {}  # info() refs of actors not ready yet
        self._options, self._sees, self.ready_timeout, self._stalled = options, tuple(sees), ready_timeout, None
        self._remote = ray.remote(RayWorker).options(num_cpus=cpus_per_worker, num_gpus=gpus_per_worker, max_restarts=0,
                                                     max_task_retries=0, scheduling_strategy="SPREAD")  # fmt: skip
        try:
            fit = self._slots(cpus_per_worker, gpus_per_worker)
            if workers and workers > fit:
                log.warning("the Ray cluster has room for %d of the %d workers asked for now; the others start when "
                            "nodes with room join", fit, workers)  # fmt: skip
            for _ in range(workers or fit):
                self._spawn()
            self._first_ready(ready_timeout)
        except BaseException:
            self.close()
            raise

    def _spawn(self) -> None:
        actor = _Actor(self._remote.remote(self._options, self._sees))
        self._actors.append(actor)
        self._starting[actor.handle.info.remote()] = actor

    def _slots(self, cpus: float, gpus: float) -> int:
        """How many workers the cluster's live nodes hold, node by node (an actor runs on one node);
        BatchError where no node holds one."""
        nodes = [n.get("Resources") or {} for n in self.ray.nodes() if n.get("Alive")]
        n = sum(min(int(r.get("CPU", 0) // cpus) if cpus else 1 << 30, int(r.get("GPU", 0) // gpus) if gpus else 1 << 30)
                for r in nodes)  # fmt: skip
        if n < 1:
            have = ", ".join(f"{r.get('CPU', 0):g} CPUs and {r.get('GPU', 0):g} GPUs" for r in nodes) or "no live node"
            raise BatchError(f"no node of the Ray cluster ({have}) has room for a worker of {cpus:g} CPUs and "
                             f"{gpus:g} GPUs")  # fmt: skip
        return n

    def _note_signals(self) -> None:
        """Remember a SIGTERM or SIGHUP before the handler in place runs: Ray turns the KeyboardInterrupt that handler
        raises inside ``ray.wait`` into a plain one, which would read as Ctrl-C (exit 130, not 143 or 129)."""
        if threading.current_thread() is not threading.main_thread():
            return

        def noted(signum: int, frame: Any) -> None:
            self._terminated = signal.Signals(signum).name
            self._handlers[signum](signum, frame)

        for sig, previous in self._handlers.items():
            if sig != signal.SIGINT and callable(previous):
                signal.signal(sig, noted)

    def _wait(self, refs: list, **kw) -> tuple[list, list]:
        try:
            return self.ray.wait(refs, **kw)
        except KeyboardInterrupt as exc:
            if self._terminated and not hasattr(exc, "signal_name"):
                exc.signal_name = self._terminated  # type: ignore[attr-defined]
            raise

    def _first_ready(self, timeout: float, grace: float = 10.0) -> None:
        """Wait until every actor is ready, or after ``grace`` s for at least one (the rest join later)."""
        starting = list(self._starting)
        ready, _ = self._wait(starting, num_returns=len(starting), timeout=grace)
        if not ready:
            ready, _ = self._wait(starting, num_returns=1, timeout=max(0.0, timeout - grace))
        if not ready:
            raise BatchError(f"no Ray worker became ready within {timeout:.0f} s (is there room on the cluster?)")
        self._welcome(ready, strict=True)

    def _welcome(self, refs: list, *, strict: bool = False) -> None:
        """Actors that answered ``info``: ready ones take tasks; one that failed to start is dropped, but at the start
        (``strict``) one whose ``__init__`` raised (a model missing on a node), or the last one, stops the batch."""
        for ref in refs:
            actor = self._starting.pop(ref)
            try:
                actor.info = self.ray.get(ref)
            except self.ray.exceptions.RayError as exc:
                self._actors.remove(actor)
                if getattr(exc, "actor_init_failed", True):
                    if strict:
                        raise BatchError(f"a Ray worker cannot start: {inner_cause(exc)}") from None
                    log.warning("a Ray worker could not start and was dropped: %s", inner_cause(exc))
                    continue
                ip, said = went_down(exc)
                if strict and not self._actors:
                    raise BatchError(f"no Ray worker could start: the last, on node {ip}, went down as it started "
                                     f"({said})") from None  # fmt: skip
                log.warning("a Ray worker on node %s went down as it started (%s); the batch goes on without it", ip, said)

    @property
    def info(self) -> list[dict]:
        return [a.info for a in self._actors if a.info]

    def _open(self) -> list[_Actor]:
        return [a for a in self._actors if a.info and len(a.queue) < self.in_flight]

    def can_take(self) -> bool:
        return bool(self._open())

    def busy(self) -> bool:
        return any(a.queue for a in self._actors)

    def alive(self) -> int:
        """Actors that can still take tasks; ones waiting for room count for ``ready_timeout`` s, said as it begins."""
        if any(a.info for a in self._actors) or not self._actors:
            self._stalled = None
            return len(self._actors)
        if self._stalled is None:
            log.warning("no Ray worker is left to take a video (their nodes went down, or no node has room): waiting up "
                        "to %.0f s for a node with room to join the cluster", self.ready_timeout)  # fmt: skip
            self._stalled = time.monotonic()
        return len(self._actors) if time.monotonic() - self._stalled < self.ready_timeout else 0

    def submit(self, task: Task) -> None:
        actor = min(self._open(), key=lambda a: len(a.queue))
        task = task.with_worker(str(actor.info["pid"]), actor.info.get("node") or "")
        actor.queue.append((actor.handle.run.remote(task), task))

    def poll(self, timeout: float) -> list[tuple[Task, Outcome]]:
        """Results that arrived within ``timeout`` s, in submission order per actor; deaths handled."""
        refs = [r for a in self._actors for r, _ in a.queue] + list(self._starting)
        if not refs:
            return []
        ready, _ = self._wait(refs, num_returns=1, timeout=timeout)
        if ready:
            ready, _ = self._wait(refs, num_returns=len(refs), timeout=0)
        done = set(ready)
        self._welcome([r for r in ready if r in self._starting])
        out: list[tuple[Task, Outcome]] = []
        for actor in list(self._actors):
            while actor.queue and actor.queue[0][0] in done:
                ref, task = actor.queue.popleft()
                try:
                    out.append((task, self.ray.get(ref)))
                except self.ray.exceptions.RayTaskError as exc:  # process_one itself raised: a bug, not a death
                    out.append((task, {"status": "error", "frames": 0, "node": actor.info.get("node"),
                                       "error": inner_cause(exc)}))  # fmt: skip
                except self.ray.exceptions.RayError as exc:
                    actor.queue.appendleft((ref, task))
                    out.extend(self._bury(actor, exc))
                    break
        return out

    def _bury(self, actor: _Actor, exc: Exception) -> list[tuple[Task, Outcome]]:
        """Drop a dead actor and ask for a replacement (it starts wherever there is room, if anywhere):
        its running task is lost, the ones queued behind it go back unstarted."""
        self._actors.remove(actor)
        self.ray.kill(actor.handle, no_restart=True)
        self._spawn()
        where = f"node {actor.info.get('ip', '?')} {actor.info.get('node', '?')[:8]}, pid {actor.info.get('pid')}"
        reason = f"{exc.__class__.__name__} ({where})"
        (_, running), *queued = actor.queue
        actor.queue.clear()
        return [(running, Lost(reason, actor.info.get("node")))] + [(task, None) for _, task in queued]

    def cancel(self) -> list[Task]:
        """Stop every actor now; return the tasks they held once their processes are gone. Where the head is gone,
        nothing is asked of it: a kill goes through it (none comes), and the wait for the tasks took its time."""
        held = [(r, t) for a in self._actors for r, t in a.queue]
        if self._answers():
            for actor in self._actors:
                self.ray.kill(actor.handle, no_restart=True)
            if held:  # wait until the killed actors' tasks fail, so none still writes a temporary file
                self.ray.wait([r for r, _ in held], num_returns=len(held), timeout=10)
        self._actors, self._starting = [], {}
        return [t for _, t in held]

    def close(self) -> None:
        """Stop the actors and leave the cluster (it keeps running); the caller's signal handlers are put back. Where
        the head is gone, nothing is asked of it (Ray would wait a minute, then end the process)."""
        if self._answers():
            for actor in getattr(self, "_actors", []):
                self.ray.kill(actor.handle, no_restart=True)
            if self._owns and self.ray.is_initialized():
                self.ray.shutdown()
        self._actors, self._starting = [], {}
        restore_handlers(getattr(self, "_handlers", {}))
        self._handlers = {}

    def _answers(self) -> bool:
        """Whether the head answers; where it does not, a connection of this pool's own is noted left to a head gone,
        for the command to leave without Ray's exit handler, which would wait for it: :func:`head_gone`."""
        if answers(getattr(self, "_address", "")):
            return True
        if getattr(self, "_owns", False):
            head_gone(self._address)
        return False

    def __enter__(self) -> RayPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

