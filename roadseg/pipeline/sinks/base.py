"""The sink interface and what every sink shares.

Example:
    >>> from pathlib import Path
    >>> check_output_path(Path("in.mp4"), Path("/no/such/folder/out.mp4"), overwrite=False)
    Traceback (most recent call last):
    roadseg.errors.OutputError: output folder /no/such/folder does not exist
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from roadseg.errors import OutputError
from roadseg.pipeline.sources import Frame


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
