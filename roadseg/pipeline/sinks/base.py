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

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from roadseg.errors import OutputError
from roadseg.pipeline.sources import Frame

#: Tags that describe how the input file itself was written (its brand, muxer, encoder, Matroska's
#: per-track statistics, a timecode that --start would make wrong), not what it holds: the output
#: writes its own or none.
OWN_TAGS = frozenset({"major_brand", "minor_version", "compatible_brands", "encoder", "vendor_id", "duration", "bps",
                      "number_of_frames", "number_of_bytes", "timecode", "rotate"})  # fmt: skip


def codec_of(stream) -> str | None:
    """The codec name of an input stream (a data stream has no codec context; a timecode track no codec)."""
    return getattr(stream.codec_context, "name", None) or getattr(stream, "name", None)


def kept_tags(metadata: Mapping[str, str]) -> dict[str, str]:
    """The tags of an input container or stream that its output keeps, as FFmpeg keeps them by
    default: when and where it was recorded (``creation_time``, ``location``: GPS), the camera
    (``make``, ``model``), a title, a track's language. Each output format writes those it has a
    place for (mov and Matroska: all; mp4: title, comment, dates, location ...). A key counts
    without its language (``DURATION-eng``); Matroska statistics (``_STATISTICS_*``) are left out.
    A track's name, which FFmpeg reads from mov and mp4 as ``name``, is written from ``title``."""
    kept = {k: v for k, v in metadata.items()
            if k and "\x00" not in k + v and not k.upper().startswith("_STATISTICS")
            and k.split("-")[0].lower() not in OWN_TAGS}  # fmt: skip
    if "name" in kept and "title" not in kept:
        kept["title"] = kept.pop("name")
    return kept


class Sink:
    """The sink interface; ``name`` is the stage its time is charged to in the run's timings."""

    name = "write"

    def write(self, image: np.ndarray, frame: Frame) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Finish the output; safe to call more than once, from any thread."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def check_output_path(src: Path, dst: Path, overwrite: bool) -> None:
    """Refuse outputs that would touch the input, clobber a file without -y, or cannot be made."""
    if dst.exists() and src.exists() and dst.resolve() == src.resolve():
        raise OutputError(f"output {dst} is the input file; choose another path (the input is never touched)")
    if dst.is_dir():
        raise OutputError(f"output {dst} is a folder; name the video to write in it, e.g. {dst / (src.stem + '.mp4')}")
    if dst.is_file() and not overwrite:
        raise OutputError(f"output {dst} exists; pass -y/--overwrite to replace it")
    if not dst.parent.is_dir():
        raise OutputError(f"output folder {dst.parent} does not exist")
    existed = dst.exists()
    try:  # find out now, not after minutes of work, that the file cannot be written
        with open(dst, "ab"):
            pass
    except OSError as exc:
        raise OutputError(f"cannot create output {dst}: {exc.strerror or exc}") from None
    if not existed:
        dst.unlink(missing_ok=True)
