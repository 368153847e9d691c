"""Where each video of a batch writes its output (which videos: :mod:`roadseg.pipeline.inputs`).

Outputs keep the inputs' layout relative to the folder, glob base or list they came from:
``IN/a/b.mov`` -> ``OUT_DIR/a/b.mp4``; a file named on its own lands at ``OUT_DIR/<name>.mp4``.

Example:
    >>> import tempfile, pathlib
    >>> from roadseg.pipeline.inputs import find_videos
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for p in ("a/b.mov", "a/c.MP4"):
    ...     (root / p).parent.mkdir(parents=True, exist_ok=True); _ = (root / p).write_bytes(b"x")
    >>> [str(p.relative_to(root)) for p in plan_outputs(find_videos([root]), root / "out").values()]
    ['out/a/b.mp4', 'out/a/c.mp4']
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from roadseg.batch.errors import BatchError
from roadseg.pipeline.inputs import Video


def plan_outputs(videos: Sequence[Video], out_dir: Path, suffix: str = ".mp4") -> dict[Video, Path]:
    """Map each video to ``out_dir/rel`` with ``suffix``; refuse collisions and outputs that are inputs.

    Raises:
        BatchError: two inputs would share an output, or an output would replace an input.
    """
    out_dir = out_dir.resolve()
    owners: dict[Path, Video] = {}
    inputs = {v.path for v in videos}
    for video in videos:
        target = out_dir / video.rel.with_suffix(suffix)
        if target in owners:
            raise BatchError(f"{owners[target].path} and {video.path} would both be written to {target}; "
                             "rename one or give them separately")  # fmt: skip
        if target in inputs:
            raise BatchError(f"the output {target} would replace an input; choose another output folder")
        owners[target] = video
    return {v: t for t, v in owners.items()}
