"""How a live stream that drops is reconnected: the delay before each attempt (:func:`retry_delay_of`, doubling up
to :data:`MAX_DELAY`) and the line that says it (:func:`retry_line`), for a count of attempts (``--retries 5``) or
for ever (``--retries forever``: an unattended recorder whose camera may be gone for minutes), said then without
filling a log over hours. :class:`~roadseg.pipeline.sources.capture.LiveSource` reconnects with them.

Example:
    >>> retry_delay_of(0.05, 3), retry_line("end of stream", 0.05, 3, None, 1.0)
    (0.2, 'stream lost (end of stream); reconnecting in 0.2 s (attempt 3, for ever: Ctrl-C stops)')
"""

from __future__ import annotations


def retry_delay_of(first: float, attempt: int) -> float:
    """Seconds before reconnect ``attempt`` (1, 2, ...): ``first``, doubled at each, up to :data:`MAX_DELAY`.

    >>> [retry_delay_of(1.0, a) for a in (1, 2, 5, 6, 7)]
    [1.0, 2.0, 16.0, 30.0, 30.0]
    """
    return min(first * 2 ** min(attempt - 1, 64), MAX_DELAY)


def retry_line(reason: str, first: float, attempt: int, retries: int | None, lost_for: float, *,
               lost: str = "stream lost", again: str = "reconnecting") -> str | None:  # fmt: skip
    """The line that says reconnect ``attempt`` (of ``retries``; None: for ever; delays from ``first`` s) of a
    stream lost ``lost_for`` s ago, or None where it is not said: retrying for ever at the capped delay, the first
    such attempt is said, then every :data:`SAY_EVERY`-th (one line each 5 min, not one each 30 s, over hours of
    a camera gone). A source not there yet at the start says so in ``lost``, and ``again``
    (:mod:`~roadseg.pipeline.sources.waiting`).

    >>> retry_line("end of stream", 1.0, 1, 5, 0.0)
    'stream lost (end of stream); reconnecting in 1.0 s (attempt 1/5)'
    >>> retry_line("end of stream", 1.0, 2, None, 3.0)
    'stream lost (end of stream); reconnecting in 2.0 s (attempt 2, for ever: Ctrl-C stops)'
    >>> retry_line("end of stream", 1.0, 6, None, 40.0)
    'stream lost for 0.7 min (end of stream); reconnecting every 30 s (attempt 6, for ever: Ctrl-C stops)'
    >>> retry_line("end of stream", 1.0, 11, None, 300.0), retry_line("end of stream", 1.0, 20, None, 575.0)[:24]
    (None, 'stream lost for 9.6 min ')
    >>> retry_line("Connection refused", 0.5, 1, 3, 0.0, lost="stream rtsp://cam/1 not there yet", again="trying again")
    'stream rtsp://cam/1 not there yet (Connection refused); trying again in 0.5 s (attempt 1/3)'
    """
    delay = retry_delay_of(first, attempt)
    if retries is not None:
        return f"{lost} ({reason}); {again} in {delay:.1f} s (attempt {attempt}/{retries})"
    if delay < MAX_DELAY:
        return f"{lost} ({reason}); {again} in {delay:.1f} s (attempt {attempt}, for ever: Ctrl-C stops)"
    if attempt % SAY_EVERY and retry_delay_of(first, attempt - 1) >= MAX_DELAY:
        return None
    return (f"{lost} for {lost_for / 60:.1f} min ({reason}); {again} every {MAX_DELAY:g} s "
            f"(attempt {attempt}, for ever: Ctrl-C stops)")


MAX_DELAY = 30.0  # seconds a reconnect's delay doubles up to
SAY_EVERY = 10  # retrying for ever at MAX_DELAY: one line every this many attempts
REPLAYS = 5  # reconnects for ever (--retries forever) to what begins again from its start each time: a file, not a camera
