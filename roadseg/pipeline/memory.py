"""The memory free for new work here, which every check of a run's memory asks (:func:`free_memory`): the smaller of
Linux's MemAvailable and what each memory cgroup the process is in, from its own up to the root, has left.

In a container (Docker, Kubernetes, a systemd slice, a Ray worker's) MemAvailable is the host's: a run the container's
limit cannot hold passed the checks and was ended by the kernel's OOM killer, exit 137 and no word. A cgroup's room
is its limit less its usage plus the page cache it can reclaim (``inactive_file``, as Kubernetes' working set
counts it): cgroup v2's ``memory.max``, ``memory.current``, ``memory.stat``; v1's ``memory.limit_in_bytes``,
``memory.usage_in_bytes``, ``memory.stat``'s ``total_inactive_file``. No limit (``max``, v1's 2**63) bounds nothing.

Example:
    >>> free = free_memory()
    >>> free is None or free > 0
    True
    >>> limit_said(Free(10**9, "/kubepods/pod1", 2 * 10**9))
    " in this container's memory limit (cgroup /kubepods/pod1, limited to 2.0 GB)"
"""

from __future__ import annotations

from pathlib import Path

#: Each cgroup version's files: limit, usage, and memory.stat's reclaimable page cache
FILES = {2: ("memory.max", "memory.current", "inactive_file"),
         1: ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")}  # fmt: skip


class Free(int):
    """Bytes free for new work, with the cgroup whose memory limit leaves no more (``cgroup`` and its ``limit``; None
    where the machine's MemAvailable is what bounds them)."""

    cgroup: str | None
    limit: int | None

    def __new__(cls, free: int, cgroup: str | None = None, limit: int | None = None) -> Free:
        self = super().__new__(cls, max(free, 0))
        self.cgroup, self.limit = cgroup, limit
        return self


def free_memory(proc: Path = Path("/proc")) -> int | None:
    """Bytes of memory free for new work (a :class:`Free`): the smaller of ``proc``'s MemAvailable and the room of
    every memory cgroup this process is in; None where none of them can be read."""
    known = [Free(room, name, limit) for name, limit, room in cgroup_rooms(proc)]
    available = mem_available(proc)
    known += [Free(available)] if available is not None else []
    return min(known, default=None)


def limit_said(free: int) -> str:
    """What bounds ``free`` (of :func:`free_memory`), to follow "N GB is free": nothing for the machine's memory;
    the cgroup and its limit where a container's (a cgroup's) limit is what leaves no more, so that what to raise is
    that limit, not the machine's memory."""
    cgroup = getattr(free, "cgroup", None)
    if cgroup is None:
        return ""
    return f" in this container's memory limit (cgroup {cgroup}, limited to {free.limit / 1e9:.1f} GB)"


def mem_available(proc: Path) -> int | None:
    """Linux's MemAvailable in ``proc``/meminfo, in bytes; None where it cannot be read."""
    try:
        for line in (proc / "meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def cgroup_rooms(proc: Path) -> list[tuple[str, int, int]]:
    """(cgroup, limit, bytes it has left) for each memory cgroup of ``proc``/self with a limit, its own and each above
    it, in v2's unified hierarchy and v1's memory one; those whose files cannot be read are left out."""
    rooms = []
    for version, path, directory, point in _memory_cgroups(proc):
        while True:
            room = _room(directory, FILES[version])
            if room is not None:
                rooms.append((path, *room))
            if directory == point:
                break
            path, directory = str(Path(path).parent), directory.parent
    return rooms


def _memory_cgroups(proc: Path) -> list[tuple[int, str, Path, Path]]:
    """(version, path, directory, mount point) of this process's memory cgroup in each hierarchy it is in
    (/proc/self/cgroup), found under that hierarchy's mount (/proc/self/mountinfo)."""
    try:
        lines = (proc / "self" / "cgroup").read_text().splitlines()
        mounts = (proc / "self" / "mountinfo").read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        number, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        version = 2 if number == "0" and controllers == "" else 1 if "memory" in controllers.split(",") else None
        mount = _mount(mounts, version) if version else None
        if mount is not None and path.startswith("/") and "/.." not in path:  # (not one outside its namespace)
            root, point = mount
            inside = path[len(root):] if path == root or path.startswith(root.rstrip("/") + "/") else path
            found.append((version, path, Path(point) / inside.lstrip("/"), Path(point)))
    return found


def _mount(mounts: list[str], version: int) -> tuple[str, str] | None:
    """(root, mount point) of the cgroup2 hierarchy (``version`` 2) or of v1's memory controller in ``mounts``."""
    for line in mounts:
        fields, _, after = line.partition(" - ")
        fields, after = fields.split(), after.split()
        if len(fields) < 5 or len(after) < 3:
            continue
        kind = after[0] == "cgroup2" if version == 2 else after[0] == "cgroup" and "memory" in after[2].split(",")
        if kind:
            return fields[3].replace("\\040", " "), fields[4].replace("\\040", " ")
    return None


def _room(directory: Path, files: tuple[str, str, str]) -> tuple[int, int] | None:
    """(limit, limit - usage + reclaimable page cache) of the cgroup at ``directory``; None where it has no limit
    (``max``, or more than any machine holds) or its files cannot be read."""
    try:
        limit = (directory / files[0]).read_text().strip()
        if limit == "max" or int(limit) >= 1 << 60:
            return None
        usage = int((directory / files[1]).read_text())
        stat = dict(line.split()[:2] for line in (directory / "memory.stat").read_text().splitlines() if " " in line)
        return int(limit), int(limit) - usage + int(stat.get(files[2], 0))
    except (OSError, ValueError):
        return None
