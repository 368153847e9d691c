"""What the browser view's two MJPEG streams send: each picture as a part of ``/stream.mjpg`` (for any MJPEG client:
its length and ``X-Timestamp``, as mjpg-streamer's) or of ``/view.mjpg`` (the page's: drawn by a browser as it comes),
and the limit on what may wait unsent in a connection.

Example:
    >>> part(b"JPEG", b"", view=True)
    b'JPEG\\r\\n--frame\\r\\nContent-Type: image/jpeg\\r\\n\\r\\n'
"""

from __future__ import annotations

import contextlib
import socket
from typing import NamedTuple

#: bytes of the stream that may wait in a connection's send buffer, unsent: a browser on a slow link is sent the
#: newest picture once it has taken the last, not pictures the system queued for it seconds ago
UNSENT = 16 * 1024
#: the streams' boundary line, sent before the first part and right after each picture (as mjpg-streamer does)
BOUNDARY = b"--frame\r\n"
#: a part's headers in the page's stream, ``/view.mjpg``: sent with the boundary right after each picture, before the
#: next is there (so with no length and no time of its own). Chromium draws a part once the next part's headers have
#: come: a stream that sent them with the next picture showed every picture a picture late (0.04 s at 25
#: frames/s, a second at one a second; a picture sent once and no more, never)
VIEW_HEAD = b"Content-Type: image/jpeg\r\n\r\n"


class Picture(NamedTuple):
    """A picture as the streams send it: its JPEG and its ``X-Timestamp`` header line (or ``b""``)."""

    jpeg: bytes
    stamp: bytes


def part(jpeg: bytes, stamp: bytes, *, view: bool) -> bytes:
    """A picture as a part of ``/view.mjpg`` (``view``: the JPEG, the boundary and the next part's headers, see
    :data:`VIEW_HEAD`) or of ``/stream.mjpg`` (its headers, length and time, the JPEG and the boundary).

    >>> part(b"JPEG", b"X-Timestamp: 1.500000\\r\\n", view=False)
    b'Content-Type: image/jpeg\\r\\nContent-Length: 4\\r\\nX-Timestamp: 1.500000\\r\\n\\r\\nJPEG\\r\\n--frame\\r\\n'
    >>> part(b"JPEG", b"X-Timestamp: 1.500000\\r\\n", view=True)
    b'JPEG\\r\\n--frame\\r\\nContent-Type: image/jpeg\\r\\n\\r\\n'
    """
    if view:
        return b"%b\r\n%b%b" % (jpeg, BOUNDARY, VIEW_HEAD)
    return b"Content-Type: image/jpeg\r\nContent-Length: %d\r\n%b\r\n%b\r\n%b" % (len(jpeg), stamp, jpeg, BOUNDARY)


def unsent_at_most(sock: socket.socket, size: int) -> None:
    """Let a write to ``sock`` wait while more than ``size`` bytes of it are unsent (``TCP_NOTSENT_LOWAT``; where the
    system has no such option, a send buffer of about that size): else the system queues megabytes of pictures for a
    client that reads slower than they come, and it sees them ever later (10 s behind after 15 s, and growing).

    >>> with socket.socket() as s:
    ...     unsent_at_most(s, 16384)
    """
    lowat = getattr(socket, "TCP_NOTSENT_LOWAT", None)
    with contextlib.suppress(OSError):  # (not a TCP socket: nothing to limit)
        sock.setsockopt(*((socket.IPPROTO_TCP, lowat) if lowat else (socket.SOL_SOCKET, socket.SO_SNDBUF)), size)
