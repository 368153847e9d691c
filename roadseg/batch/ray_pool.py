"""A Ray pool: one long-lived worker actor per slot, fed file paths, a bounded number in flight each.

Each actor reserves ``cpus_per_worker`` CPUs and ``gpus_per_worker`` GPUs (Ray sets its
``CUDA_VISIBLE_DEVICES``), loads the model once when it starts and keeps it for its whole life.
Actors are spread over the nodes; the driver sends each at most ``in_flight`` paths (never frames:
decoded video is ~10x its file size and would swamp the object store) and collects results with
``ray.wait``. An actor whose process or node dies is dropped: the video it was running is reported
:class:`~roadseg.batch.driver.Lost` (the driver retries it on another actor), the ones queued behind
it go back unstarted. Actors that find no room when the batch starts join when a node with room does.

Example (a cluster already running; see the README's "Batch on a Ray cluster"):
    >>> pool = RayPool("127.0.0.1:6379", SegmentOptions(""))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import socket
import time
from collections import deque
from typing import Any

from roadseg.batch.driver import Lost, Outcome
from roadseg.batch.errors import BatchError
from roadseg.batch.task import Task, Worker
from roadseg.pipeline.options import SegmentOptions

log = logging.getLogger("roadseg")
INSTALL_HINT = "--ray needs Ray: pip install 'roadseg[ray]'"


def import_ray() -> Any:
    """``ray``, or a one-line :class:`BatchError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise BatchError(INSTALL_HINT) from None
    return ray


class RayWorker:
    """The actor: a :class:`~roadseg.batch.task.Worker` on whichever node Ray placed it."""

    def __init__(self, options: SegmentOptions) -> None:
        import ray

        self.worker = Worker(options, node=ray.get_runtime_context().get_node_id())
        self.worker.info["ip"] = ray.util.get_node_ip_address()

    def info(self) -> dict:
        return self.worker.info

    def run(self, task: Task) -> dict:
        return self.worker.run(task)


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

    Raises:
        BatchError: Ray is not installed, the cluster cannot be reached or has no room, or a worker
            cannot start (a model missing on a node, say).
    """

    def __init__(self, address: str, options: SegmentOptions, *, workers: int | None = None,
                 cpus_per_worker: float = 1.0, gpus_per_worker: float = 0.0, in_flight: int = 2,
                 ready_timeout: float = 300.0) -> None:  # fmt: skip
        self.ray = ray = import_ray()
        self.in_flight = max(1, in_flight)
        self._owns = not ray.is_initialized()
        if self._owns:
            _check_reachable(address)
            try:
                ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise BatchError(f"cannot reach a Ray cluster at {address}: {str(exc).splitlines()[0]}") from None
        self._actors: list[_Actor] = []
        self._starting: dict[Any, _Actor] = {}  # info() refs of actors not ready yet
        self._options, self.ready_timeout, self._stalled = options, ready_timeout, None
        self._remote = ray.remote(RayWorker).options(num_cpus=cpus_per_worker, num_gpus=gpus_per_worker, max_restarts=0,
                                                     max_task_retries=0, scheduling_strategy="SPREAD")  # fmt: skip
        try:
            for _ in range(workers or self._slots(cpus_per_worker, gpus_per_worker)):
                self._spawn()
            self._first_ready(ready_timeout)
        except BaseException:
            self.close()
            raise

    def _spawn(self) -> None:
        actor = _Actor(self._remote.remote(self._options))
        self._actors.append(actor)
        self._starting[actor.handle.info.remote()] = actor

    def _slots(self, cpus: float, gpus: float) -> int:
        total = self.ray.cluster_resources()
        n = int(total.get("GPU", 0) // gpus) if gpus else int(total.get("CPU", 0) // cpus)
        if n < 1:
            have = f"{total.get('CPU', 0):g} CPUs, {total.get('GPU', 0):g} GPUs"
            raise BatchError(f"the Ray cluster ({have}) has no room for a worker of {cpus:g} CPUs and {gpus:g} GPUs")
        return n

    def _first_ready(self, timeout: float, grace: float = 10.0) -> None:
        """Wait until every actor is ready, or after ``grace`` s for at least one (the rest join later)."""
        starting = list(self._starting)
        ready, _ = self.ray.wait(starting, num_returns=len(starting), timeout=grace)
        if not ready:
            ready, _ = self.ray.wait(starting, num_returns=1, timeout=max(0.0, timeout - grace))
        if not ready:
            raise BatchError(f"no Ray worker became ready within {timeout:.0f} s (is there room on the cluster?)")
        self._welcome(ready, strict=True)

    def _welcome(self, refs: list, *, strict: bool = False) -> None:
        """Actors that answered ``info``: ready ones take tasks; one that failed to start is dropped."""
        for ref in refs:
            actor = self._starting.pop(ref)
            try:
                actor.info = self.ray.get(ref)
            except self.ray.exceptions.RayError as exc:
                self._actors.remove(actor)
                reason = _cause(exc)
                if strict:
                    raise BatchError(f"a Ray worker cannot start: {reason}") from None
                log.warning("a Ray worker could not start and was dropped: %s", reason)

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
        """Actors that can still take tasks; ones waiting for room count for ``ready_timeout`` s at most."""
        if any(a.info for a in self._actors) or not self._actors:
            self._stalled = None
            return len(self._actors)
        self._stalled = self._stalled or time.monotonic()
        return len(self._actors) if time.monotonic() - self._stalled < self.ready_timeout else 0

    def submit(self, task: Task) -> None:
        actor = min(self._open(), key=lambda a: len(a.queue))
        task = task.with_worker(str(actor.info["pid"]))
        actor.queue.append((actor.handle.run.remote(task), task))

    def poll(self, timeout: float) -> list[tuple[Task, Outcome]]:
        """Results that arrived within ``timeout`` s, in submission order per actor; deaths handled."""
        refs = [r for a in self._actors for r, _ in a.queue] + list(self._starting)
        if not refs:
            return []
        ready, _ = self.ray.wait(refs, num_returns=1, timeout=timeout)
        if ready:
            ready, _ = self.ray.wait(refs, num_returns=len(refs), timeout=0)
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
                                       "error": _cause(exc)}))  # fmt: skip
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
        """Stop every actor now; return the tasks they held once their processes are gone."""
        held = [(r, t) for a in self._actors for r, t in a.queue]
        for actor in self._actors:
            self.ray.kill(actor.handle, no_restart=True)
        if held:  # wait until the killed actors' tasks fail, so none still writes a temporary file
            self.ray.wait([r for r, _ in held], num_returns=len(held), timeout=10)
        self._actors, self._starting = [], {}
        return [t for _, t in held]

    def close(self) -> None:
        for actor in getattr(self, "_actors", []):
            self.ray.kill(actor.handle, no_restart=True)
        self._actors, self._starting = [], {}
        if self._owns and self.ray.is_initialized():
            self.ray.shutdown()

    def __enter__(self) -> RayPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _check_reachable(address: str) -> None:
    """Fail in one line now, rather than after Ray's long connection retries, when nothing listens there."""
    host, _, port = address.rpartition(":")
    if address == "auto" or not host or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise BatchError(f"cannot reach a Ray cluster at {address}: {exc.strerror or exc}") from None


def _cause(exc: BaseException) -> str:
    """The first line of what went wrong inside Ray, without its traceback."""
    cause = getattr(exc, "cause", None) or exc
    text = str(cause).strip().splitlines()
    return text[-1] if text else cause.__class__.__name__
