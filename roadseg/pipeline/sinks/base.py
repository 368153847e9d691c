"""The sink interface and what every sink shares.

Example:
    >>> kept_tags({"creation_time": "2026-06-01T08:30:00Z", "location": "+51.5007-000.1246/", "encoder": "Lavf62",
    ...            "DURATION-eng": "00:00:01.0", "major_brand": "qt  ", "_STATISTICS_TAGS": "BPS"})
    {'creation_time': '2026-06-01T08:30:00Z', 'location': '+51.5007-000.1246/'}
    >>> from pathlib import Path
    >>> check_output_path(Path("in.mp4"), Path("/no/such/folder/out.mp4"), overwrite=False)
    Traceback (most recent call last):
    roadseg.errors.OutputError: output folder /no/such/folder does not exist
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path

import numpy as np

from roadseg.errors import OutputError
from roadseg.pipeline.sinks.shown import Figures
from roadseg.pipeline.sources import Frame, VideoInfo

#: Outputs whose index (moov) is moved to the front when the file is finished: a browser or a player
#: reading over the network starts at once, and the file can be piped (``segment-video - ...``); written by
#: going back in the file, so never into a named pipe
FASTSTART = frozenset({".mp4", ".m4v", ".mov", ".3gp"})
#: The endings a video output is told to have, where its name tells no format
VIDEO_ENDINGS = ".mp4, .mkv, .mov, .webm, .gif"
#: Tags that describe how the input file itself was written (its brand, muxer, encoder, Matroska's
#: per-track statistics, a timecode that --start would make wrong), not what it holds: the output
#: writes its own or none.
OWN_TAGS = frozenset({"major_brand", "minor_version", "compatible_brands", "encoder", "vendor_id", "duration", "bps",
                      "number_of_frames", "number_of_bytes", "timecode", "rotate"})  # fmt: skip


def kept_tags(metadata: Mapping[str, str]) -> dict[str, str]:
    """The tags of an input container or stream that its output keeps, as FFmpeg keeps them by
    default: when and where it was recorded (``creation_time``, ``location``: GPS), the camera
    (``make``, ``model``), a title, a track's language. Each output format writes those it has a
    place for (mov and Matroska: all; mp4: title, comment, dates, location ...; an iPhone's own
    ``com.apple.quicktime.*`` keys: Matroska, and mp4 and mov as QuickTime metadata keys,
    :func:`~roadseg.pipeline.sinks.formats.apple_keys`). A key counts
    without its language (``DURATION-eng``); Matroska statistics (``_STATISTICS_*``) are left out.
    A track's name, which FFmpeg reads from mov and mp4 as ``name``, is written from ``title``."""
    kept = {k: v for k, v in metadata.items()
            if k and "\x00" not in k + v and not k.upper().startswith("_STATISTICS")
            and k.split("-")[0].lower() not in OWN_TAGS}  # fmt: skip
    if "name" in kept and "title" not in kept:
        kept["title"] = kept.pop("name")
    return kept


#: Tags that say when a recording began: FFmpeg's (UTC), and an iPhone's (its local time and offset)
DATE_TAGS = frozenset({"creation_time", "com.apple.quicktime.creationdate"})


def moved_dates(tags: Mapping[str, str], seconds: float) -> dict[str, str]:
    """``tags`` with their ``creation_time`` (and an iPhone's local ``com.apple.quicktime.creationdate``)
    moved on by ``seconds``: when the first frame of a clip cut at ``--start`` was recorded (a dashcam's
    footage is matched to its GPS log or an incident by it), written as it was. One that does not parse
    as an ISO date is kept as it is.

    >>> moved_dates({"creation_time": "2026-06-01T08:30:00.000000Z", "title": "a"}, 90.5)
    {'creation_time': '2026-06-01T08:31:30.500000Z', 'title': 'a'}
    >>> moved_dates({"creation_time": "2026-06-01 08:30:00+02:00"}, 1), moved_dates({"creation_time": "noon"}, 1)
    ({'creation_time': '2026-06-01T08:30:01+02:00'}, {'creation_time': 'noon'})
    >>> moved_dates({"com.apple.quicktime.creationdate": "2026-06-01T10:30:00+0200"}, 90.6)
    {'com.apple.quicktime.creationdate': '2026-06-01T10:31:31+0200'}
    >>> moved_dates({"creation_time": "2026-06-01T08:30:00.250000+0000"}, 1), moved_dates({"creation_time": "9999-12-31T23:59:59+0000"}, 0.6)
    ({'creation_time': '2026-06-01T08:30:01.250000+00:00'}, {'creation_time': '9999-12-31T23:59:59+0000'})
    """
    moved = dict(tags)
    for key, value in tags.items():
        if not seconds or key.lower() not in DATE_TAGS:
            continue
        text = value.strip()
        try:
            when = datetime.fromisoformat(text) + timedelta(seconds=seconds)
            if text.endswith("Z"):
                moved[key] = when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            elif "." not in text and len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():  # Apple's: 10:30:00+0200
                moved[key] = (when + timedelta(microseconds=500_000)).strftime("%Y-%m-%dT%H:%M:%S%z")
            else:
                moved[key] = when.isoformat()
        except (ValueError, OverflowError):
            continue
    return moved


def timecode_at(info: VideoInfo, start: float) -> str | None:
    """The input video's timecode moved on to the first frame kept (``--start``), or None."""
    tc = next((v for k, v in info.video_tags.items() if k.lower() == "timecode"), None)
    return shift_timecode(tc, start, info.fps) if tc and info.fps else None


def shift_timecode(timecode: str, seconds: float, fps) -> str | None:
    """``timecode`` (``HH:MM:SS:FF``, or drop-frame ``HH:MM:SS;FF`` at 29.97 or 59.94 frames/s) moved
    on by ``seconds`` at ``fps``: the timecode of the first frame of a clip cut at ``--start``, so an
    editor lines the output up with its source. None if it does not parse.

    >>> shift_timecode("01:00:00:00", 0.4, 25), shift_timecode("00:59:59;28", 4 / 29.97, 29.97)
    ('01:00:00:10', '01:00:00;02')
    >>> shift_timecode("00:00:59;29", 1 / 29.97, 29.97), shift_timecode("10:00", 1, 25)
    ('00:01:00;02', None)
    >>> shift_timecode("01:00:00:0\u00b2", 1, 25)  # (a file's tag of a superscript two: was int()'s ValueError)
    """
    parts = timecode.replace(";", ":").replace(".", ":").split(":")
    nominal = round(float(fps)) if fps else 0
    if len(parts) != 4 or not all(p.isdecimal() for p in parts) or nominal <= 0:
        return None
    h, m, s, f = map(int, parts)
    drop = (2 if nominal == 30 else 4 if nominal == 60 else 0) if ";" in timecode or "." in timecode else 0
    minutes = 60 * h + m
    frame = ((minutes * 60) + s) * nominal + f - drop * (minutes - minutes // 10)
    frame += round(seconds * float(fps))
    if drop:  # back to a label: two (four) labels are skipped each minute but every tenth
        per10, per_minute = nominal * 600 - 9 * drop, nominal * 60 - drop
        tens, rest = divmod(frame, per10)
        frame += 9 * drop * tens + (drop * ((rest - drop) // per_minute) if rest > drop else 0)
    f, total = frame % nominal, frame // nominal
    sep = ";" if drop else ":"
    return f"{total // 3600 % 24:02d}:{total // 60 % 60:02d}:{total % 60:02d}{sep}{f:02d}"


class Sink:
    """The sink interface; ``name`` is the stage its time is charged to in the run's timings; ``shows``: a
    view for people (a window, the browser view), whose picture gets a live run's figures (the HUD), which
    a recording or masks do not; ``pictured``: it uses the picture drawn (the overlay), which masks do not (their
    frame's labels are written): a run whose sinks none use it draws none (:func:`~roadseg.pipeline.writer.draws`).
    A view is given its pictures as shown (:func:`~roadseg.pipeline.sinks.shown.as_shown`), made once in the run's
    writer thread for all of them; ``shows_later``: a view given them as drawn instead (:meth:`show`), which makes
    them in threads of its own (the browser view: its clients'), where no other view has them made."""

    name = "write"
    shows = False
    shows_later = False
    pictured = True

    def write(self, image: np.ndarray, frame: Frame) -> None:
        raise NotImplementedError

    def show(self, image: np.ndarray, frame: Frame, figures: Figures | None = None,
             sample_aspect: Fraction | float | None = None) -> None:  # fmt: skip
        """A view that ``shows_later``: ``image`` as drawn, in its stored pixels (``sample_aspect`` as wide as high;
        left as it is), to show at its display shape with the live ``figures`` drawn after
        (:func:`~roadseg.pipeline.sinks.shown.as_shown`), made so in its own threads."""
        raise NotImplementedError

    def close(self) -> None:
        """Finish the output; safe to call more than once, from any thread."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether ``a`` and ``b`` name one file, so that writing one overwrites the other: the same path
    spelt otherwise, a link to it or another hard link of it (one not there yet: the same path)."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):  # (one of them is not there yet)
        return Path(a).resolve() == Path(b).resolve()


def check_output_path(src: Path, dst: Path, overwrite: bool) -> None:
    """Refuse outputs that would touch the input, clobber a file without -y, or cannot be made."""
    if dst.exists() and src.exists() and same_file(dst, src):  # (a hard link too: was read while it was written)
        raise OutputError(f"output {dst} is the input file; choose another path (the input is never touched)")
    if dst.is_dir():
        raise OutputError(f"output {dst} is a folder; name the video to write in it, e.g. {dst / (src.stem + '.mp4')}")
    if dst.is_file() and not overwrite:
        raise OutputError(f"output {dst} exists; pass -y/--overwrite to replace it")
    if not dst.parent.is_dir():
        _no_folder(dst)
    if not dst.suffix and not dst.exists():  # (was: "cannot tell a video format from the name newdir", after the model)
        raise OutputError(f"output {dst} has no ending that tells a video format ({VIDEO_ENDINGS} ...); a folder of that "
                          f"name does not exist: make it, and name the video in it (e.g. {dst / (src.stem + '.mp4')})")
    if dst.is_fifo():  # (a named pipe: opening it to see is the one rendezvous its reader waits for, then EOF)
        if dst.suffix.lower() in FASTSTART:
            raise OutputError(f"output {dst} is a named pipe, and {dst.suffix} writes its index at the end, going "
                              "back in the file: name the pipe .mkv or .ts (or give it no suffix: Matroska, as -o - "
                              "writes)")  # fmt: skip
        return
    check_writable(dst, f"create output {dst}")


def write_whole(path: str | Path, text: str) -> None:
    """Write ``text`` to the file ``path`` whole: under a hidden temporary name beside it, renamed onto it once
    written (what was there is replaced only then; a run killed meanwhile leaves it as it was). A pipe, a device or
    a link is written as it is. ``OSError`` as :meth:`~pathlib.Path.write_text` raises it.

    >>> write_whole("/tmp/doc-stats.json", "{}"); Path("/tmp/doc-stats.json").read_text()
    '{}'
    """
    path = Path(path)
    if (path.exists() or path.is_symlink()) and (path.is_symlink() or not path.is_file()):
        path.write_text(text)
        return
    temp = path.with_name(f".{path.name}.part-{os.getpid()}")
    try:
        temp.write_text(text)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def _no_folder(dst: Path) -> None:
    """:class:`OutputError` for an output whose folder is not there: the first part of it that is a file, where one
    is (``text.mp4/o.mp4``), else the folder."""
    for folder in reversed(dst.parents):
        if folder.exists() and not folder.is_dir():
            raise OutputError(f"output {dst}: {folder} is a file, not a folder")
    raise OutputError(f"output folder {dst.parent} does not exist")


def check_writable(path: Path, what: str) -> None:
    """Find out now, not after minutes of work, that ``path`` cannot be written: :class:`OutputError`
    ("cannot ``what``: why"). The file is left as it was (one that was not there is not)."""
    existed = path.exists()
    try:
        with open(path, "ab"):
            pass
    except OSError as exc:
        raise OutputError(f"cannot {what}: {exc.strerror or exc}") from None
    if not existed:
        path.unlink(missing_ok=True)
