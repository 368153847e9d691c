"""A copy of CamVid small enough to carry (``roadseg pack-data``): images as JPEG, labels as lossless PNG, in SegNet's
layout, made under a hidden name and renamed when whole.

Example:
    >>> from pathlib import Path
    >>> pack(Path("/nonexistent/camvid"), Path("/tmp/packed"))
    Traceback (most recent call last):
    FileNotFoundError: ...
"""

from __future__ import annotations

from pathlib import Path

import cv2

from roadseg.data.camvid import CamVid, imread_quiet, read_label
from roadseg.data.classset import CAMVID, CLASSES_FILE
from roadseg.errors import Interrupted, OutputError, reason_of


def pack(src: str | Path, dst: str | Path, *, splits=("train", "val"), quality: int = 95) -> int:
    """Copy CamVid (either layout; written in SegNet's, fastai's 32 classes mapped onto the 11) with
    images as JPEG (labels stay lossless PNG): ~36 MB for train+val, small enough to carry to a GPU
    machine. Returns the number of images written. A label holding a value that is not one of the classes is refused
    as training would refuse it (:meth:`~roadseg.data.classset.ClassSet.void_labels`; was: packed, and found on the
    GPU box). Nothing is left of a copy that fails or is stopped (Ctrl-C): ``dst`` appears whole or not at all."""
    import shutil

    src, dst = Path(src), Path(dst)
    sets = [CamVid(src, split) for split in splits]  # FileNotFoundError (one line) for a folder that is not CamVid
    if dst.exists() and (not dst.is_dir() or any(dst.iterdir())):  # (SRC itself, an earlier copy ...)
        raise OutputError(f"{dst} exists and is not empty: pack into a new folder")
    part = dst.with_name(f".{dst.name}.part")  # (renamed to dst when every image is in: nothing half-made)
    n = 0
    try:
        shutil.rmtree(part, ignore_errors=True)
        _make_folders(part, splits, dst)
        for split, ds in zip(splits, sets):
            for s in ds.samples:
                image = imread_quiet(s.image, cv2.IMREAD_COLOR) if s.image.is_file() else None
                if image is None:
                    raise ValueError(f"cannot decode image: {s.image}")
                label = read_label(s.label)  # (FileNotFoundError, ValueError: one line)
                label = label if ds.lut is None else ds.lut[label]  # (fastai's 32 classes, as the 11)
                ds.classes.void_labels(label, s.label)  # (a value that is no class: ValueError, one line)
                _write(part / split / f"{s.image.stem}.jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
                _write(part / f"{split}annot" / f"{s.image.stem}.png", label, [])
                n += 1
        if (src / CLASSES_FILE).is_file() and sets[0].classes != CAMVID:  # (a folder of its own classes: they go too)
            shutil.copyfile(src / CLASSES_FILE, part / CLASSES_FILE)
        if dst.exists():
            dst.rmdir()  # (empty)
        part.rename(dst)
    except (FileNotFoundError, ValueError) as exc:  # (a source image or label missing or damaged)
        raise ValueError(f"{exc} (nothing was packed)") from None
    except OSError as exc:
        raise OutputError(f"cannot create {dst}: {reason_of(exc)} (nothing was packed)") from None
    except KeyboardInterrupt as exc:  # (Ctrl-C, SIGTERM: was "Error: interrupted", what was left unsaid)
        raise Interrupted.of(exc, f"nothing was packed ({dst} is as it was)") from None
    finally:
        shutil.rmtree(part, ignore_errors=True)
    return n


def _make_folders(part: Path, splits, dst: Path) -> None:
    """The copy's folders under ``part``; OutputError naming ``dst`` where they cannot be made (was: a folder that
    could not be made, ``/proc/.pk.part``, said as a source file missing, in Python's words)."""
    try:
        for split in splits:
            (part / split).mkdir(parents=True)
            (part / f"{split}annot").mkdir()
    except OSError as exc:
        raise OutputError(f"cannot create {dst}: {reason_of(exc)} (nothing was packed)") from None


def _write(path: Path, picture, options: list) -> None:
    """``cv2.imwrite``, an OSError where it fails, saying the disk is full where it is (cv2 says only False)."""
    import shutil

    if not cv2.imwrite(str(path), picture, options):
        full = shutil.disk_usage(path.parent).free < 1 << 20
        raise OSError(f"cannot write {path}" + (": no space left on device" if full else ""))
