"""Where the browser view (``--serve``, :mod:`~roadseg.pipeline.sinks.server`) is: an address as a URL writes it
(:func:`in_url`), this machine's address on its network (:func:`lan_address`), the line that says where to open the
view (:func:`where`), and what a refused address or port means (:func:`bind_hint`).

Example:
    >>> in_url("::1", 8080), where("127.0.0.1", 8080)
    ('[::1]:8080', 'at http://127.0.0.1:8080/')
"""

from __future__ import annotations

import contextlib
import errno
import socket


def in_url(host: str, port: int) -> str:
    """``host:port`` as a URL writes it: an IPv6 address in brackets.

    >>> in_url("127.0.0.1", 8080), in_url("::1", 8080)
    ('127.0.0.1:8080', '[::1]:8080')
    """
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def bind_hint(exc: OSError, host: str) -> str:
    """What a refused address or port means and what to do, after the system's words for it (none: those alone)."""
    if exc.errno == errno.EADDRNOTAVAIL:
        return (f" ({host} is not an address of this machine: --serve names where this one listens, 0.0.0.0 for all "
                "of them, not where the view is to be seen)")  # fmt: skip
    if exc.errno == errno.EADDRINUSE:
        return " (another program, or another roadseg, serves there: choose another port)"
    if exc.errno == errno.EACCES:
        return " (a port below 1024 needs root's rights: choose one above, 8080)"
    return ""


def lan_address(family: int = socket.AF_INET) -> str | None:
    """This machine's address on its network (the one its default route leaves by), IPv4's or, with ``family``
    ``socket.AF_INET6``, IPv6's (not a link-local one), or ``None`` where it has none (loopback only). Only the routing
    table is asked: ``connect`` on a UDP socket sends nothing."""
    # (TEST-NET-1, RFC 5737, and IPv6's documentation prefix, RFC 3849: routed by the table, never reached)
    far = "2001:db8::1" if family == socket.AF_INET6 else "192.0.2.1"
    with contextlib.suppress(OSError), socket.socket(family, socket.SOCK_DGRAM) as probe:
        probe.connect((far, 9))
        found = probe.getsockname()[0]
        return None if found.startswith(("127.", "0.", "::", "fe80:")) else found
    return None


def where(host: str, port: int, *, v6only: bool = False) -> str:
    """Where the view is, as the run's first line says it: an address of every interface (``0.0.0.0``, ``::``) is
    none a browser can open, so the URL another machine opens (by :func:`lan_address`, else this machine's name)
    and the one this machine opens are said instead. ``v6only``: the socket on ``::`` takes IPv6 alone
    (``net.ipv6.bindv6only=1``, or its ``IPV6_V6ONLY`` option): only IPv6 URLs are said, none made up.

    >>> where("127.0.0.1", 8080)
    'at http://127.0.0.1:8080/'
    """
    if host not in ("0.0.0.0", "::"):
        return f"at http://{in_url(host, port)}/"
    here = in_url("127.0.0.1" if host == "0.0.0.0" else "::1", port)
    if not v6only:
        return (f"on every address of this machine: open http://{in_url(lan_address() or socket.gethostname(), port)}/"
                f" from another machine (http://{here}/ on this one)")  # fmt: skip
    other = lan_address(socket.AF_INET6)
    said = "on every IPv6 address of this machine (its socket takes no IPv4: net.ipv6.bindv6only): open "
    if other is None:
        return (f"{said}http://{here}/ on this one; no IPv6 address of this machine on a network was found, so no "
                "other machine can open it (--serve 0.0.0.0:PORT serves IPv4)")  # fmt: skip
    return f"{said}http://{in_url(other, port)}/ from another machine (http://{here}/ on this one)"
