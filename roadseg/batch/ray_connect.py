"""The driver joins a Ray cluster (:func:`join`): its head checked, then ``ray.init`` (:func:`connect`) with Ray's
native lines sent to its log folder (:func:`native_lines_to_ray_logs`) and the caller's signal handlers kept
(:func:`signal_handlers`, :func:`restore_handlers`); a connection the caller made checked against the address given
(:func:`check_connected`); whether a head still answers before anything is asked of it (:func:`answers`).

Example (an address that names no host and port is not probed):
    >>> answers("auto")
    True
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from roadseg._stderr import caught_stderr
from roadseg.batch.errors import BatchError
from roadseg.batch.ray_head import Head, check_reachable, hostport
from roadseg.errors import install_extra
from roadseg.pipeline.runner import call_interruptibly

INSTALL_HINT = f"--ray needs Ray ({install_extra('ray')})"


def import_ray() -> Any:
    """``ray``, or a one-line :class:`BatchError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise BatchError(INSTALL_HINT) from None
    return ray


def join(ray: Any, address: str, *, ray_logs: bool) -> str:
    """Join the Ray cluster at ``address``: its head checked (:func:`~roadseg.batch.ray_head.check_reachable`), then
    :func:`connect`, Ray's native lines kept off stderr (:func:`native_lines_to_ray_logs`, unless ``ray_logs``). A
    head that asks for no token is given to ``ray.init`` by its address: given ``auto``, Ray turns its token
    authentication on where this machine holds a token (``~/.ray/auth_token``, which any local ``ray start --head``
    leaves), and the driver then refused the cluster's calls ("no Ray worker could start ... The actor never ran").

    Returns:
        the head's ``host:port`` (``auto`` resolved).

    Raises:
        BatchError: in one line, where the head cannot be reached, asks for a token not sent, or Ray's token
            authentication is on here without a token.
    """
    head = Head(address)
    try:
        with native_lines_to_ray_logs(ray, keep=ray_logs):  # (also Ray's as it resolves `auto`: was on stderr)
            head = check_reachable(address)
            connect(ray, head.address if head.tokenless else address, ray_logs=ray_logs)
    except ray.exceptions.AuthenticationError as exc:  # (RAY_AUTH_MODE=token, no token: where the check could not tell)
        raise BatchError(f"cannot reach a Ray cluster at {address}: {exc.message.rstrip('.')} (RAY_AUTH_MODE=token "
                         "here): put the cluster's token (`ray get-auth-token` on the head prints it) in RAY_AUTH_TOKEN "
                         "or ~/.ray/auth_token, or unset RAY_AUTH_MODE where it asks for none") from None  # fmt: skip
    except (ConnectionError, RuntimeError, ValueError) as exc:
        if head.hint:
            raise BatchError(f"the Ray cluster at {address} asks for a token: {head.hint}") from None
        raise BatchError(f"cannot reach a Ray cluster at {address}: {str(exc).splitlines()[0]}") from None
    return head.address


def connect(ray: Any, address: str, *, ray_logs: bool) -> None:
    """``ray.init`` at ``address``. Connecting to a cluster, it runs in a thread of its own so that a Ctrl-C reaches
    the caller at once: Ray's native code waits out a head that stops answering as it connects (40 s, deaf to
    Ctrl-C), and past roadseg's check (:func:`~roadseg.batch.ray_head.check_reachable`) that can still happen.
    Interrupted, the connection is left to finish on its own (the command leaves without waiting for it:
    :func:`~roadseg.pipeline.runner.abandoned_calls`) and is closed if it comes. (In that thread Ray puts no SIGTERM
    handler in, which roadseg would take out again; the warning it logs about it is left out.) ``local`` (a cluster
    of this process's own) starts on this thread: its processes are told to die with the thread that started them."""
    def init() -> None:
        ray.init(address=address, log_to_driver=ray_logs, logging_level=logging.INFO if ray_logs else logging.WARNING)

    if address == "local":
        init()
        return
    said = logging.getLogger("ray._private.worker")  # (where ray.init logs from; another Ray version: no harm)
    quiet = _Without("SIGTERM handler is not set")
    said.addFilter(quiet)
    try:
        call_interruptibly(init, "ray-init", cleanup=lambda _: ray.shutdown())
    finally:
        said.removeFilter(quiet)


class _Without(logging.Filter):
    """Leaves out the log records whose message starts with ``start``."""

    def __init__(self, start: str) -> None:
        super().__init__()
        self.start = start

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.start)


@contextlib.contextmanager
def native_lines_to_ray_logs(ray: Any, *, keep: bool) -> Iterator[None]:
    """While ``ray.init`` connects, what Ray's native code prints on stderr (below Python, on file
    descriptor 2: "Failed to determine local IP via external connectivity ..." where no outward route
    is found) goes to ``roadseg-driver-<pid>.log`` in Ray's log folder, not between the batch's lines
    (once connected, Ray writes the driver's own log there itself). ``keep``: left on stderr."""
    if keep:
        yield
        return
    lines = bytearray()
    try:
        with caught_stderr() as lines:
            yield
    finally:
        folder = _logs_folder(ray)
        if lines and folder:  # (where the connection failed, BatchError says why in one line)
            with contextlib.suppress(OSError), open(Path(folder) / f"roadseg-driver-{os.getpid()}.log", "ab") as f:
                f.write(lines)


def _logs_folder(ray: Any) -> str | None:
    """This node's Ray log folder, once connected (``/tmp/ray/session_.../logs``), else None."""
    try:
        return ray._private.worker._global_node.get_logs_dir_path() if ray.is_initialized() else None
    except AttributeError:  # (a private path of Ray's: another version may keep it elsewhere)
        return None


def check_connected(ray: Any, address: str) -> None:
    """Where the caller connected to Ray before, ``address`` must be ``auto`` or that cluster's (the same
    host, or both hosts this machine's, and the same port): BatchError otherwise. (Was: the address
    ignored without a word, the batch run on whichever cluster the caller had joined.)"""
    connected = ray.get_runtime_context().gcs_address
    given, there = hostport(address), hostport(connected)
    if address == "auto" or address == connected or given is None or there is None or (
            given[1] == there[1] and (_ip(given[0]) == _ip(there[0]) or _local(given[0]) and _local(there[0]))):  # fmt: skip
        return
    raise BatchError(f"this process is connected to the Ray cluster at {connected} already (ray.init was called "
                     f"before), not {address}: pass ray='auto' to use that connection, or call ray.shutdown() "
                     "first")  # fmt: skip


def _ip(host: str) -> str | None:
    try:
        return socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)[0][4][0]
    except (OSError, IndexError):
        return None


def _local(host: str) -> bool:
    """Whether ``host`` is an address of this machine (one a socket can be bound to)."""
    ip = _ip(host)
    if ip is None:
        return False
    try:
        with socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET) as probe:
            probe.bind((ip, 0))
        return True
    except OSError:
        return False


def answers(address: str) -> bool:
    """Whether something accepts connections at ``host:port`` (True for ``auto`` and other forms)."""
    if (where := hostport(address)) is None:
        return True
    try:
        socket.create_connection(where, timeout=2).close()
        return True
    except OSError:
        return False


_head_gone: list[str] = []  # heads (their addresses) found gone as a pool of this process closed


def head_gone(address: str | None = None) -> bool:
    """Whether a pool of this process found its head gone as it closed (note one: ``address``), its connection
    left open: Ray's exit handler then waits for that head (6 s after the batch's summary, in the trial), so the
    command leaves with ``os._exit`` once its summary is out.

    >>> head_gone()
    False
    """
    if address is not None:
        _head_gone.append(address)
    return bool(_head_gone)


def signal_handlers() -> dict[int, Any]:
    """SIGINT's, SIGTERM's and SIGHUP's handlers now (on the main thread; elsewhere none can be set)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if sig}


def restore_handlers(handlers: dict[int, Any]) -> None:
    for sig, handler in handlers.items():
        if handler is not None:
            signal.signal(sig, handler)
