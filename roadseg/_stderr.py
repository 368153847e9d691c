"""What native code (a C library inside OpenCV, Ray's core) writes straight on file descriptor 2, caught
for a while instead of shown, so that roadseg can say it in its own words or put it elsewhere.

Python's ``sys.stderr`` cannot catch it: libjpeg and libpng ``fprintf(stderr, ...)``, below Python.
File descriptor 2 is the whole process's, so what any other thread writes meanwhile is caught too: the
caller passes on what is not its own (:func:`pass_on`). One catch at a time (a second one inside the
first would put back the first one's file, not the terminal): the others wait.

Example:
    >>> with caught_stderr() as said:
    ...     _ = os.write(2, b"from C\\n")
    >>> bytes(said)
    b'from C\\n'
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_held = threading.Lock()


@contextmanager
def caught_stderr() -> Iterator[bytearray]:
    """File descriptor 2 into a temporary file while the block runs; the bytes yielded hold what came, once
    the block ends (an exception too)."""
    said = bytearray()
    with _held, tempfile.TemporaryFile() as caught:
        sys.stderr.flush()  # (what Python wrote before is not the block's)
        saved = os.dup(2)
        try:
            os.dup2(caught.fileno(), 2)
            yield said
        finally:  # (a Ctrl-C too: the terminal gets its stderr back)
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            said += caught.read()


def pass_on(data: bytes) -> None:
    """Write ``data`` (caught, but not the catcher's: another thread's) on standard error as it came."""
    while data:
        data = data[os.write(2, data) :]
