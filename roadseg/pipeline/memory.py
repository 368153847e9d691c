"""The memory free for new work here, which every check of a run's memory asks (:func:`free_memory`)."""

from __future__ import annotations


def free_memory() -> int | None:
    """Bytes of memory free for new work (Linux's MemAvailable), or None where that is unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None
