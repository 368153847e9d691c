"""Picture files: the output images of an image input, and lossless label masks (``--masks-dir``).

Example:
    >>> ImageSink("/tmp/seg.png", ["photo.jpg"]).target(0).name
    'seg.png'
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from roadseg.errors import OutputError, SinkError, reason_of
from roadseg.pipeline.infer import resize_labels
from roadseg.pipeline.sinks.base import Sink
from roadseg.pipeline.sinks.finishing import remove_leftovers
from roadseg.pipeline.sinks.maskindex import Earlier, MaskIndex, earlier_run
from roadseg.pipeline.sinks.picture import write_picture
from roadseg.pipeline.sources import Frame
from roadseg.pipeline.suffixes import IMAGE_SUFFIXES, VIDEO_SUFFIXES

log = logging.getLogger("roadseg")

#: names that a folder of output images is not given by mistake
FILE_SUFFIXES = VIDEO_SUFFIXES.union(IMAGE_SUFFIXES)


class ImageSink(Sink):
    """Write output pictures as image files: into a folder (one per input name) or one file.

    Args:
        path: a folder (created if missing) or, for a single input image, a file name.
        names: the input file names; outputs keep their stems (``.png`` unless ``path`` is a file).

    The hidden part of a picture that a killed run was writing there (:func:`write_picture`) is removed.

    An image that cannot be written (a full disk) fails the run (``SinkError``), the images before it kept:
    :func:`write_picture` raises the disk's error, where ``cv2.imwrite`` returned True and the run exit 0.
    """

    name = "encode"
    label = "images"

    def __init__(self, path: str | Path, names: list[str]) -> None:
        self.path, self.names = Path(path), names
        self.single = len(names) == 1 and self.path.suffix != "" and not self.path.is_dir()
        if self.single and not cv2.haveImageWriter(str(self.path)):
            raise OutputError(f"cannot write an image as {self.path.name}: name an image file (.png, .jpg ...) or a folder")
        if not self.single and not self.path.is_dir() and self.path.suffix.lower() in FILE_SUFFIXES:
            raise OutputError(f"{len(names)} images are written into a folder, but {self.path} names a file; "
                              "give a folder (e.g. segmented/)")  # fmt: skip
        self.made = not self.single and not self.path.exists()  # (a folder made here: removed where none is written)
        if not self.single:
            try:
                self.path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise SinkError(f"cannot create output folder {self.path}: {reason_of(exc)}") from None
        remove_leftovers(self.path, every=not self.single)  # (the picture a killed run was writing: was, kept hidden)
        self.written = 0

    def target(self, index: int) -> Path:
        return self.path if self.single else self.path / (Path(self.names[index]).stem + ".png")

    def targets(self) -> list[Path]:
        return [self.target(i) for i in range(len(self.names))]

    def check_targets(self, inputs: Sequence[Path], overwrite: bool) -> None:
        """Refuse, before any work, to replace an input image (-y or not), to write two ``inputs`` (the
        images, in the order of ``names``) to one file, or to replace an existing output without -y."""
        refuse_targets(self.targets(), inputs, "output")
        existing = next((target for target in self.targets() if target.exists()), None)
        if existing is not None and not overwrite:
            raise OutputError(f"output {existing} exists; pass -y/--overwrite to replace it")

    def write(self, image: np.ndarray, frame: Frame) -> None:
        target = self.target(frame.index)
        try:
            write_picture(target, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        except OSError as exc:  # (was: cv2.imwrite into a full disk returned True, the run exit 0)
            kept = "" if os.path.lexists(target) else " (no part of it is kept)"
            raise SinkError(f"cannot write {target}: {reason_of(exc)}{kept}") from None
        self.written += 1

    def finish(self, keep: bool) -> bool:
        """Images already written stay; returns whether there are any. A folder made for them where none was written
        (a run stopped or interrupted before its first frame) is removed, if it is still empty (was: left empty)."""
        self.close()
        return self.written > 0

    def close(self) -> None:
        """A folder made for the images where none was written is removed, if it is still empty: also where the run
        was refused before any work, as a mask that would replace an input image is (was: left empty there)."""
        if not self.written and self.made:
            with contextlib.suppress(OSError):
                self.path.rmdir()


class MaskSink(Sink):
    """One lossless 8-bit PNG per frame in ``folder``, pixel value = class index, at the frame's size.

    Files are named after the input images (``names``) or numbered in the order they are written
    (``000000.png``): the Nth mask is the output's Nth frame (a live run's frames that the model skipped
    are in neither; numbered by capture, the names had gaps and did not line up with the recording). The
    output picture passed to ``write`` is not used, the frame's labels are. A video's numbered masks already
    in ``folder`` (an earlier run's) are refused before any work unless ``overwrite``, which removes them
    first: the folder holds this run's masks only, one per frame (a shorter rerun left the earlier run's
    past its last frame, misaligned with the output). ``masks.csv`` beside them says which frame each is
    (:class:`~roadseg.pipeline.sinks.maskindex.MaskIndex`: its time, or its input image's name). An earlier run's
    ``masks.csv`` needs ``overwrite`` too, whatever the run (was: replaced without a word, its masks unlisted); with it,
    an image run keeps the lines of an image run's index whose masks are still there and that it does not write (was:
    dropped, the masks left unlisted) or that say what its own will (written as the index opens: a killed rerun's names
    them; was, written at :meth:`close`), and any other index is replaced, said in one line where it is not a video run's
    replaced by a video run's: a video run's masks go as above; an image run's stay, being named as no video's are
    (:func:`~roadseg.pipeline.sinks.maskindex.earlier_run`; an image run's -y acts at its first mask).

    A mask that cannot be written (a full disk) ends the masks, not the run: ``failed`` says why, the file it
    left is removed, those before it stay and the other outputs go on (:meth:`left` says what is there); where the
    masks are ``alone``, the run's only output (``--masks-dir`` without ``-o``), it fails the run (``SinkError``). The
    PNG is written by :func:`write_picture`, whose errors are the disk's. In a ``live`` run (hours long: its
    end may be far off) the failure is also said at once, in one logged line. A folder made here is removed at
    :meth:`close` where no mask was written (as an image output's: :meth:`ImageSink.finish`).
    """

    name = "masks"
    pictured = False  # (the frame's labels are written, not the picture: a run of masks alone draws no overlay)

    def __init__(self, folder: str | Path, names: list[str] | None = None, *, overwrite: bool = False,
                 live: bool = False, alone: bool = False) -> None:  # fmt: skip
        self.folder, self.names, self.live, self.overwrite, self.alone = Path(folder), names, live, overwrite, alone
        self.written, self.failed = 0, None
        self.index: MaskIndex | None = None  # (opened at the first mask: a run refused or stopped before leaves it be)
        self.made = not self.folder.exists()  # (a folder made here: removed at :meth:`close` where none is written)
        self.done: set[str] = set()  # (the masks this run wrote)
        mine = {self.target(i).name: name for i, name in enumerate(names)} if names else None
        self.earlier = earlier_run(self.folder, mine) if self.folder.is_dir() else Earlier()
        if not names and not overwrite and self.earlier.refusal:
            raise OutputError(self.earlier.refusal)
        if not overwrite:
            self.earlier = Earlier(self.earlier.refusal)  # (nothing of it goes, nothing is said)
        self.listed = {line[0] for line in self.earlier.kept}  # (an earlier run's masks whose lines say what ours will)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if not names:  # (an image run's at its first mask: it is refused after this where its masks would replace
                self._clear()  # an input image)
            remove_leftovers(self.folder, every=True)  # (the mask a killed run was writing)
        except OSError as exc:
            raise SinkError(f"cannot create masks folder {self.folder}: {reason_of(exc)}") from None

    def _clear(self) -> None:
        """Remove what -y replaces of the earlier run's (:class:`~roadseg.pipeline.sinks.maskindex.Earlier`), once,
        saying so where it is not a video run's replaced by a video run."""
        if self.earlier.warning:
            log.warning("%s", self.earlier.warning)
        for path in self.earlier.remove:
            path.unlink(missing_ok=True)
        self.earlier.remove, self.earlier.warning = [], ""

    def close(self) -> None:
        """A folder made for the masks where none was written (a run stopped, interrupted or failed before its first
        frame) is removed, if it is still empty (was: left empty, where the run's last line said no mask was kept),
        and so is the index opened for the masks where none was written."""
        if self.index is not None:
            with contextlib.suppress(OSError):
                kept = self.earlier.kept
                for line in self.earlier.pending:  # (an earlier run's masks of this run's names, of other images,
                    # that it did not write)
                    if line[0] not in self.done and (self.folder / line[0]).is_file():
                        self.index.copy(line)
                        kept.append(line)
                self.earlier.pending = []
                self.index.close(remove=not (self.written or kept))
        if not self.written and self.made:
            with contextlib.suppress(OSError):
                self.folder.rmdir()

    def target(self, index: int) -> Path:
        return self.folder / f"{Path(self.names[index]).stem if self.names else f'{index:06d}'}.png"

    def check_targets(self, inputs: Sequence[Path], outputs: Sequence[Path]) -> None:
        """For image input (``inputs``, in the order of ``names``): refuse, before any work, masks that
        would replace an input image or an output image (``--masks-dir`` the output folder), or that two
        inputs would share, and, without ``overwrite``, an earlier run's mask of an image's name (was: replaced
        without a word, where the output images and a video's masks need -y)."""
        if self.names:
            targets = [self.target(i) for i in range(len(self.names))]
            refuse_targets(targets, inputs, "mask", outputs=outputs)
            existing = next((target for target in targets if target.exists()), None)
            if existing is not None and not self.overwrite:
                raise OutputError(f"mask {existing} exists (an earlier run's?); pass -y/--overwrite to replace it, or "
                                  "give another folder")  # fmt: skip
            if self.earlier.refusal and not self.overwrite:  # (was: its index replaced, the earlier masks unlisted)
                raise OutputError(self.earlier.refusal)

    def write(self, image: np.ndarray, frame: Frame) -> None:
        assert frame.labels is not None, "masks are written from inferred frames"
        if self.failed is not None:
            return
        target = self.target(frame.index if self.names else self.written)
        try:
            self._clear()  # (an image run's -y over a video run's masks, at its first mask)
            labels = resize_labels(frame.labels, *frame.image.shape[:2])
            write_picture(target, labels, then=lambda: self._line(target, frame))  # (its line, then the mask in place)
            self.done.add(target.name)
        except OSError as exc:
            if self.index is not None:
                self.index.drop(target.name)  # (its line, where the mask could not be put in place after it)
            if self.alone:  # (nothing else was asked for: the run fails here, not segments on for nothing)
                raise SinkError(f"cannot write mask {target}: {reason_of(exc)}") from None
            self.failed = f"cannot write mask {target}: {reason_of(exc)}"
            if self.live:  # (was: said at the run's end only)
                log.warning("masks stopped: %s; %s; the run goes on without them", self.failed, self.left())
            return
        self.written += 1

    def _line(self, target: Path, frame: Frame) -> None:
        """The line of the mask ``target``, flushed once the mask is whole, before it is put in place (killed between:
        a line of a mask not there, where it was a mask without its line), the index opened at the first."""
        if self.index is None:
            self.index = MaskIndex(self.folder, "images" if self.names else "live" if self.live else "file", self.names,
                                   self.earlier.kept)  # fmt: skip
        if target.name not in self.listed:  # (its line is there, written as the index opened)
            self.index.add(target.name, frame)

    def told(self) -> str:
        """What a run stopped midway left of the masks (they stay as written), their own failure before it; "" where
        none was written and none failed."""
        if not (self.written or self.failed):
            return ""
        return (f"masks failed before: {self.failed}; " if self.failed else "") + self.left()

    def left(self) -> str:
        """What the folder holds, for a run's last line: ``the masks of the first 5 frames are kept in masks
        (000000.png to 000004.png)``; of input images, ``5 masks are kept in masks``."""
        n, folder = self.written, self.folder
        if not n:
            return f"no mask was written to {folder}"
        if self.names:
            return f"{n} mask{' is' if n == 1 else 's are'} kept in {folder}"
        if n == 1:
            return f"the mask of the first frame is kept in {folder} ({self.target(0).name})"
        return f"the masks of the first {n} frames are kept in {folder} ({self.target(0).name} to {self.target(n - 1).name})"


def refuse_targets(targets: list[Path], inputs: Sequence[Path], what: str, *, outputs: Sequence[Path] = ()) -> None:
    """Refuse picture files (``targets[i]`` written from ``inputs[i]``) that would replace an input
    image, that two inputs would share (``a.jpg`` and ``a.png`` -> ``a.png``) or that are ``outputs``."""
    taken = {_file_id(p) for p in inputs} - {None}
    written = {p.resolve() for p in outputs}
    first: dict[Path, Path] = {}
    for source, target in zip(inputs, targets):
        if target in first:
            raise OutputError(f"{first[target].name} and {source.name} would both be written to {target}; "
                              "rename one of them")  # fmt: skip
        first[target] = source
        if _file_id(target) in taken:
            raise OutputError(f"{what} {target} is an input image; choose another path (the input is never touched)")
        if target.resolve() in written:
            raise OutputError(f"{what} {target} would replace the output image of that name; give --masks-dir a "
                              "folder of its own")  # fmt: skip


def _file_id(path: Path) -> tuple[int, int] | None:
    """The device and inode of a file (one file however it is named or linked), or None if it is not there."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino
