"""What a Ray head's address answers, asked before ``ray.init``: one line now where Ray would retry.

Ray's driver retries a head that does not answer as it expects for a long time in native code, deaf to
Ctrl-C (a quarter of an hour where something else listens on the port), and a head that asks for a token
the driver does not send (Ray's token authentication, ``RAY_AUTH_MODE=token``) is retried for 20 s and
then reported as "Failed to connect to Ray cluster". A head's GCS is a gRPC server, so these checks speak
HTTP/2 to it: first its SETTINGS, then one call (``GetClusterId``, which asks nothing of the cluster) with
and without the token this machine holds. A head that asks for no token is one to reach without: a driver that
runs with Ray's token authentication refuses such a cluster's calls, and its workers never start.

Example (nothing listens on port 1):
    >>> check_reachable("127.0.0.1:1")
    Traceback (most recent call last):
    roadseg.batch.errors.BatchError: cannot reach a Ray cluster at 127.0.0.1:1: Connection refused
"""

from __future__ import annotations

import os
import socket
import struct
import time
from pathlib import Path
from typing import NamedTuple

from roadseg.batch.errors import BatchError

#: Seconds the Ray head's address is given to accept the driver's connection, and then to answer it
ANSWER_WITHIN = 5.0
#: The bytes an HTTP/2 client opens a connection with (RFC 9113, 3.4): the preface and an empty SETTINGS frame
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
#: How this machine gives Ray the cluster's token
TOKEN_HOW = ("set RAY_AUTH_MODE=token, with the cluster's token (`ray get-auth-token` on the head prints it) in "
             "RAY_AUTH_TOKEN or ~/.ray/auth_token")  # fmt: skip


class Head(NamedTuple):
    """What :func:`check_reachable` found at a Ray head's address."""

    #: the cluster's ``host:port`` (``auto`` resolved as Ray resolves it)
    address: str
    #: where the head asks for a token that this machine holds but Ray would not send, how to have it sent: the
    #: line for a failed connection; else ""
    hint: str = ""
    #: whether the head answered a call that carried no token: it asks for none
    tokenless: bool = False


def check_reachable(address: str) -> Head:
    """What the Ray head at ``address`` answers (:class:`Head`), after checking that one answers there.

    Raises:
        BatchError: nothing accepts the connection, or what does closes it or says nothing within
            :data:`ANSWER_WITHIN` s (a busy head may too), answers as no Ray head does, asks for a token this
            machine does not hold or holds another of, or asks for none while ``RAY_AUTH_MODE=token`` is set here.
    """
    if address == "auto":
        try:
            from ray._private.services import canonicalize_bootstrap_address_or_die

            address = canonicalize_bootstrap_address_or_die("auto")
        except (ImportError, AttributeError, ConnectionError, RuntimeError, ValueError):
            return Head(address)  # (ray.init says what it finds, at once, where there is nothing)
    if (where := hostport(address)) is None:
        return Head(address)
    tls = os.environ.get("RAY_USE_TLS", "0").lower() in ("1", "true")  # (a TLS head: the connection is all we try)
    port = "its GCS port, 6379 unless set otherwise"
    try:
        conn = socket.create_connection(where, timeout=ANSWER_WITHIN)
    except OSError as exc:
        raise BatchError(f"cannot reach a Ray cluster at {address}: {exc.strerror or exc}") from None
    with conn:
        if tls:
            return Head(address)
        try:
            conn.sendall(HTTP2_PREFACE)  # a Ray head's GCS is a gRPC server: it answers with HTTP/2 SETTINGS
            reply = conn.recv(9)
        except TimeoutError:
            raise BatchError(f"{address} accepts connections but did not answer in {ANSWER_WITHIN:g} s: not a Ray "
                             f"head, or one too busy to answer ({port})") from None  # fmt: skip
        except OSError:  # (reset: closed before it read what was sent)
            reply = b""
    if not reply:
        raise BatchError(f"{address} accepts connections but closed one without answering: not a Ray head ({port})")
    if len(reply) < 4 or reply[3] != 0x04:
        raise BatchError(f"{address} answers, but not as a Ray head ({port})")
    return _check_token(where, address)


def _check_token(where: tuple[str, int], address: str) -> Head:
    """BatchError where the head asks for a token that this machine does not hold or holds another of, or asks
    for none while ``RAY_AUTH_MODE=token`` is set here (Ray's driver then refuses the cluster's calls: "no Ray
    worker could start ... The actor never ran"); how to have Ray send it where this machine holds it but Ray
    would not send it (a line to add if ``ray.init`` fails: Ray 2.60 sends it only with ``RAY_AUTH_MODE=token``;
    later versions may by default)."""
    refused = _refused_unauthenticated(where, None)
    if refused is False and os.environ.get("RAY_AUTH_MODE", "").lower() == "token":
        raise BatchError(f"the Ray cluster at {address} asks for no token (Ray's token authentication is off there) "
                         "and RAY_AUTH_MODE=token here makes Ray refuse its calls: unset RAY_AUTH_MODE, or set it to "
                         "disabled, for this command")  # fmt: skip
    if refused is not True:
        return Head(address, tokenless=refused is False)  # (or said nothing clear: ray.init goes on as before)
    token, source = token_here()
    if token is None:
        raise BatchError(f"the Ray cluster at {address} asks for a token (Ray's token authentication) and this "
                         f"machine holds none: {TOKEN_HOW}")  # fmt: skip
    if _refused_unauthenticated(where, token):
        raise BatchError(f"the Ray cluster at {address} refuses the token in {source} (not this cluster's): "
                         f"{TOKEN_HOW}")  # fmt: skip
    if os.environ.get("RAY_AUTH_MODE", "").lower() != "token":
        return Head(address, f"set RAY_AUTH_MODE=token for Ray to send the one in {source}")
    return Head(address)


def token_here() -> tuple[str | None, str]:
    """The token Ray would read on this machine and where it is (its order: ``RAY_AUTH_TOKEN``, the file
    ``RAY_AUTH_TOKEN_PATH`` names, ``~/.ray/auth_token``), or None."""
    if token := os.environ.get("RAY_AUTH_TOKEN", "").strip():
        return token, "RAY_AUTH_TOKEN"
    named = os.environ.get("RAY_AUTH_TOKEN_PATH")
    path = Path(named) if named else Path.home() / ".ray" / "auth_token"
    try:
        token = path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None, str(path)
    return token or None, str(path)


def _refused_unauthenticated(where: tuple[str, int], token: str | None) -> bool | None:
    """Whether the gRPC server at ``where`` refuses a call for want of a token (grpc-status 16,
    UNAUTHENTICATED), sent with ``token`` (or without); None where it said nothing this can read (it
    closed, sent no status in plain text, or did not answer within :data:`ANSWER_WITHIN` s).

    A refused call is answered with one HEADERS frame that ends the stream (no DATA); gRPC's encoder
    writes the status's name and value as plain literals."""
    headers = b"".join(_literal(name, value) for name, value in (
        (":method", "POST"), (":scheme", "http"), (":path", "/ray.rpc.NodeInfoGcsService/GetClusterId"),
        (":authority", "%s:%d" % where), ("content-type", "application/grpc"), ("te", "trailers"),
        *((("authorization", f"Bearer {token}"),) if token else ())))  # fmt: skip
    call = _frame(1, 0x4, 1, headers) + _frame(0, 0x1, 1, bytes(5))  # (END_HEADERS; an empty message, END_STREAM)
    try:
        with socket.create_connection(where, timeout=ANSWER_WITHIN) as conn:
            conn.sendall(HTTP2_PREFACE + _frame(4, 0x1, 0, b"") + call)  # (and the server's SETTINGS acknowledged)
            for kind, flags, stream, payload in _frames(conn, time.monotonic() + ANSWER_WITHIN):
                if stream != 1:
                    continue
                if kind == 0:  # DATA: an answer
                    return False
                if kind == 1 and flags & 0x1:  # HEADERS that end the stream before any DATA: refused
                    return True if b"grpc-status\x0216" in payload else None
                if kind == 3:  # RST_STREAM
                    return None
    except (OSError, ValueError):
        return None
    return None


def _literal(name: str, value: str) -> bytes:
    """One HPACK header field, a literal not indexed, neither string Huffman-coded (RFC 7541, 6.2.2)."""
    out = b"\x00"
    for text in (name.encode(), value.encode()):
        out += _length(len(text)) + text
    return out


def _length(n: int) -> bytes:
    """An HPACK string's length: a 7-bit prefix integer (RFC 7541, 5.1)."""
    if n < 127:
        return bytes([n])
    out, n = [127], n - 127
    while n >= 128:
        out.append(n % 128 + 128)
        n //= 128
    return bytes([*out, n])


def _frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def _frames(conn: socket.socket, until: float):
    """The HTTP/2 frames read from ``conn`` (kind, flags, stream, payload) until it closes or ``until``."""
    data = b""
    while (left := until - time.monotonic()) > 0:
        conn.settimeout(left)
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
        if len(data) > 1 << 20:  # (no answer of a head's is this long)
            return
        while len(data) >= 9 and len(data) >= 9 + (size := int.from_bytes(data[:3], "big")):
            yield data[3], data[4], int.from_bytes(data[5:9], "big") & 0x7FFFFFFF, data[9 : 9 + size]
            data = data[9 + size :]


def hostport(address: str) -> tuple[str, int] | None:
    """``host:port`` as a socket address; None for ``auto`` and other forms."""
    host, _, port = address.rpartition(":")
    return (host, int(port)) if host and port.isdecimal() else None
