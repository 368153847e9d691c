"""Which video files an INPUT names: a file, a folder (searched recursively), a glob or an ``@list.txt``.

A glob is ``"dash/**/*.mov"``; a list has one INPUT a line, relative to the list's folder (``#``
starts a comment). Each video keeps its place relative to the folder, glob base or list it came
from (``rel``), which is where batch writes its output; a file named on its own keeps its name.
``roadseg batch`` and ``segment-video --concat`` read INPUTs this one way.

Example:
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for p in ("a/b.mov", "a/c.MP4", "a/.hidden.mp4", "notes.txt"):
    ...     (root / p).parent.mkdir(parents=True, exist_ok=True); _ = (root / p).write_bytes(b"x")
    >>> [str(v.rel) for v in find_videos([root])]
    ['a/b.mov', 'a/c.MP4']
"""

from __future__ import annotations

import glob
import logging
import os
import re
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from urllib.parse import unquote, urlsplit

from roadseg.errors import SourceError
from roadseg.pipeline.suffixes import RAW_VIDEO_SUFFIXES, VIDEO_SUFFIXES

DRIVE_GAP = 60  # seconds of pause between files that begin another drive (batch --concat's default --gap)

log = logging.getLogger("roadseg")

# A folder or glob search takes VIDEO_SUFFIXES as video files, a glob RAW_VIDEO_SUFFIXES too; a file
# named explicitly is taken whatever its extension.
_GLOB_CHARS = "*?["


#: A GoPro's names: chapter CC of its recording NNNN is G?CCNNNN (HERO6 on: GH for H.264, GX for HEVC),
#: or GOPRNNNN for the first and GPCCNNNN for the next ones (HERO5 and before)
_GOPRO = re.compile(r"(G[HX])(\d\d)(\d{4})(\.\w+)", re.IGNORECASE)
_GOPRO_OLD = re.compile(r"(?:GOPR|GP(\d\d))(\d{4})(\.\w+)", re.IGNORECASE)


def gopro_recording(name: str) -> str | None:
    """The recording a GoPro's chapter file ``name`` belongs to (its prefix and number), or None.

    >>> gopro_recording("GX020042.MP4"), gopro_recording("gp010042.mp4"), gopro_recording("20261203_080000_NF.mp4")
    ('GX0042', 'GOPR0042', None)
    """
    if m := _GOPRO.fullmatch(name):
        return f"{m[1]}{m[3]}".upper()
    if m := _GOPRO_OLD.fullmatch(name):
        return f"GOPR{m[2]}"
    return None


def recording_order(name: str) -> str:
    """A key that sorts a camera's files (by ``name``) in the order it recorded them: the names' own order,
    but a GoPro's chapters of one recording follow each other (its names put the next recording's
    first chapter between them).

    >>> sorted(["GX010043.MP4", "GX020042.MP4", "GX010042.MP4"], key=recording_order)
    ['GX010042.MP4', 'GX020042.MP4', 'GX010043.MP4']
    >>> sorted(["GP010042.MP4", "GOPR0043.MP4", "GOPR0042.MP4", "2026_1203_080000_0001F.MP4"], key=recording_order)
    ['2026_1203_080000_0001F.MP4', 'GOPR0042.MP4', 'GP010042.MP4', 'GOPR0043.MP4']
    >>> sorted(["gp010042.mp4", "a.mp4", "gopr0042.mp4", "z.mp4"], key=recording_order)
    ['a.mp4', 'gopr0042.mp4', 'gp010042.mp4', 'z.mp4']
    """
    if m := _GOPRO.fullmatch(name):
        return f"{m[1]}{m[3]}{m[2]}{m[4]}"
    if m := _GOPRO_OLD.fullmatch(name):
        return f"{'gopr' if name[0].islower() else 'GOPR'}{m[2]}{m[1] or '00'}{m[3]}"
    return name


def local_path(spec: str) -> str:
    """``spec`` where it is a ``file://`` URL (a file manager's or a browser's copy of a file) as the path it
    names, else as it is: ``file:///tmp/u/clip.mp4`` was "input not found: file:/tmp/u/clip.mp4".

    >>> local_path("file:///tmp/u/my%20clip.mp4"), local_path("file://localhost/tmp/a.mp4"), local_path("a.mp4")
    ('/tmp/u/my clip.mp4', '/tmp/a.mp4', 'a.mp4')
    """
    if not spec[:7].lower() == "file://":
        return spec
    url = urlsplit(spec)
    return unquote(url.path) if url.netloc in ("", "localhost") and url.path else spec  # (another host's: as typed)


@dataclass(frozen=True)
class Video:
    """One input video: its absolute ``path`` and its place ``rel`` under the output folder."""

    path: Path
    rel: PurePath


def find_videos(specs: Sequence[str | os.PathLike], *, exclude: Path | None = None,
                unsearched: list[str] | None = None) -> list[Video]:  # fmt: skip
    """Expand INPUTs into videos, in a stable order, each input once.

    A file found twice (a link to a video elsewhere in the search, a hard link such as a backup's snapshots
    make, or inputs that overlap) is taken once, by its device and inode: under its own name where the search
    found it so, not a symbolic link's (else as first found); those left out so are said in one line for all.

    Args:
        specs: files, folders, globs or ``@list.txt`` files.
        exclude: a folder never searched (the output folder, when it lies inside an input folder or
            glob base; an input inside it, ``batch data/raw -o data``, is searched whole).
        unsearched: where to note the folders that could not be listed (each also said in one line).

    Raises:
        SourceError: a list file cannot be read.
    """
    seen: dict[object, Video] = {}  # by the file itself
    twice: list[tuple[Video, object]] = []  # (left out, its file)
    skip = exclude.resolve() if exclude else None
    for video in _expand(specs, base=None, exclude=skip, unsearched=[] if unsearched is None else unsearched):
        real = _file_id(video.path)
        kept = seen.setdefault(real, video)
        if kept.path == video.path:
            continue
        if os.path.islink(kept.path) and not os.path.islink(video.path):  # the file itself: its name, not a link's
            seen[real], video = video, kept
        twice.append((video, real))
    if twice:
        (link, real), more = twice[0], f" and {len(twice) - 1} more" if len(twice) > 1 else ""
        log.warning("left out %s (the same file as %s)%s: a file found twice through a link is taken once",
                    link.path, seen[real].path, more)  # fmt: skip
    return list(seen.values())


def _file_id(path: Path) -> object:
    """What names one file whatever the path: its device and inode (symbolic and hard links alike), else,
    where it cannot be read, its real path."""
    try:
        st = os.stat(path)
    except OSError:
        return os.path.realpath(path)
    return (st.st_dev, st.st_ino)


def _expand(specs: Sequence[str | os.PathLike], *, base: Path | None, exclude: Path | None,
            unsearched: list[str]) -> Iterator[Video]:  # fmt: skip
    for spec in specs:
        text = local_path(str(spec))
        if text.startswith("@"):
            yield from _from_list(Path(text[1:]).expanduser(), exclude, unsearched)
            continue
        path = Path(text).expanduser()
        if base is not None and not path.is_absolute():
            path = base / path
        if any(c in text for c in _GLOB_CHARS) and not path.exists():
            yield from _from_glob(str(path), exclude, unsearched)
        elif path.is_dir():
            yield from _walk(path.resolve(), PurePath(), exclude, unsearched)
        else:  # a file, or a missing path that becomes an `error` line naming it
            yield Video(path.resolve(), _rel_of_file(Path(text), base))


def _rel_of_file(given: Path, base: Path | None) -> PurePath:
    """A file from a list keeps its relative path (``a/b.mov``); anything else keeps its name."""
    if base is not None and not given.is_absolute() and ".." not in given.parts:
        return PurePath(*[p for p in given.parts if p != "."])
    return PurePath(given.name)


def _from_list(path: Path, exclude: Path | None, unsearched: list[str]) -> Iterator[Video]:
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"cannot read the input list {path}: {getattr(exc, 'strerror', None) or exc}") from None
    entries = [line.strip() for line in lines]
    entries = [e for e in entries if e and not e.startswith("#")]
    yield from _expand(entries, base=path.resolve().parent, exclude=exclude, unsearched=unsearched)


def _from_glob(pattern: str, exclude: Path | None, unsearched: list[str]) -> Iterator[Video]:
    parts = Path(pattern).parts
    fixed = next(i for i, part in enumerate(parts) if any(c in part for c in _GLOB_CHARS))
    root = Path(*parts[:fixed]) if fixed else Path(".")
    matches = sorted(
        glob.glob(pattern, recursive=True),
        key=lambda m: os.path.join(os.path.dirname(m), recording_order(os.path.basename(m))),
    )
    if not matches:
        log.warning("%s matches nothing", pattern)
    if exclude is not None and _excluded(root, exclude):  # the glob's base is inside the output folder
        exclude = None
    for match in map(Path, matches):
        rel = PurePath(os.path.relpath(match, root))
        if _excluded(match, exclude):
            continue
        if match.is_dir():
            yield from _walk(match.resolve(), rel, exclude, unsearched)
        elif match.suffix.lower() in VIDEO_SUFFIXES | RAW_VIDEO_SUFFIXES and not _special(match):
            yield Video(match.resolve(), rel)


def _walk(folder: Path, prefix: PurePath, exclude: Path | None, unsearched: list[str]) -> Iterator[Video]:
    """Video files under ``folder`` (recursively, hidden entries and ``exclude`` left out), sorted by path
    (in a folder: :func:`recording_order`). A link to a folder elsewhere (another disk's) is searched
    under the link's name, each real folder once; one to a folder inside ``folder`` is searched there."""
    found, searched = [], {folder}
    for root, dirs, files in os.walk(folder, followlinks=True, onerror=lambda exc: _unsearchable(exc, unsearched)):
        here = Path(root)
        dirs[:] = [d for d in dirs if not d.startswith(".") and _search(here / d, folder, exclude, searched)]
        found += [here / f for f in files
                  if not f.startswith(".") and Path(f).suffix.lower() in VIDEO_SUFFIXES and not _special(here / f)]
    for path in sorted(found, key=lambda p: (*p.relative_to(folder).parent.parts, recording_order(p.name))):
        yield Video(path, prefix / path.relative_to(folder))


def _unsearchable(exc: OSError, unsearched: list[str]) -> None:
    """A folder that cannot be listed (another user's, a stale network mount): one line, as its videos
    are left out, and noted in ``unsearched``."""
    log.warning("cannot search %s: %s; its videos are left out", exc.filename, exc.strerror or exc)
    unsearched.append(str(exc.filename))


def _search(sub: Path, folder: Path, exclude: Path | None, searched: set[Path]) -> bool:
    """Whether :func:`_walk` goes into ``sub``: not the output folder, not a folder searched already
    (a loop of links), not a link into ``folder``'s own tree (searched under its own name)."""
    real = sub.resolve()
    if real == exclude or real in searched or (sub.is_symlink() and (real == folder or folder in real.parents)):
        return False
    searched.add(real)
    return True


def _special(path: Path) -> bool:
    """A named pipe, socket or device found by a search: reading it may wait forever for a writer, and
    it is no recorded video. (One that is not there, a link to a file moved away, is taken: its error
    line names it.)"""
    try:
        return not stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def _excluded(path: Path, exclude: Path | None) -> bool:
    if exclude is None:
        return False
    path = path.resolve()
    return path == exclude or exclude in path.parents
