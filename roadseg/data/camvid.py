"""CamVid in the two layouts people have on disk, both read as 11-class label maps, and a folder of one's own
classes in SegNet's layout.

* SegNet's 11-class release: ``train/``, ``trainannot/``, ``val/``, ``valannot/`` (``test/`` ...),
  label PNGs hold 0..10 and 11 for void (or 255). With a ``classes.txt`` in the root, the folder's own
  classes instead (:mod:`roadseg.data.classset`): label PNGs hold 0..C-1 and 255 for void.
* fastai's 32-class release: ``images/``, ``labels/`` (``NAME_P.png``), ``codes.txt``, ``valid.txt``;
  labels hold indices into ``codes.txt`` and are mapped onto the 11 classes with :data:`CAMVID32_TO_11`.

Example:
    >>> ds = CamVid("../shared/camvid", "val")            # doctest: +SKIP
    >>> image, label = ds[0]; image.shape, label.shape      # doctest: +SKIP
    ((360, 480, 3), (360, 480))
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from roadseg.classes import CLASSES, IGNORE_INDEX
from roadseg.data.classset import CAMVID, CLASSES_FILE, read_classes

#: The usual grouping of CamVid's 32 classes into the 11 scored ones; any other name is void.
CAMVID32_TO_11: dict[str, str] = {
    "Sky": "Sky",
    "Building": "Building", "Wall": "Building", "Tunnel": "Building", "Archway": "Building",
    "Bridge": "Building",
    "Column_Pole": "Pole", "TrafficCone": "Pole",
    "Road": "Road", "LaneMkgsDriv": "Road", "LaneMkgsNonDriv": "Road",
    "Sidewalk": "Pavement", "ParkingBlock": "Pavement", "RoadShoulder": "Pavement",
    "Tree": "Tree", "VegetationMisc": "Tree",
    "SignSymbol": "SignSymbol", "Misc_Text": "SignSymbol", "TrafficLight": "SignSymbol",
    "Fence": "Fence",
    "Car": "Car", "SUVPickupTruck": "Car", "Truck_Bus": "Car", "Train": "Car",
    "OtherMoving": "Car",
    "Pedestrian": "Pedestrian", "Child": "Pedestrian", "CartLuggagePram": "Pedestrian",
    "Animal": "Pedestrian",
    "Bicyclist": "Bicyclist", "MotorcycleScooter": "Bicyclist",
}  # fmt: skip

SPLITS = ("train", "val", "test")


def camvid32_lut(codes: list[str]) -> np.ndarray:
    """A 256-entry lookup table from 32-class indices (``codes.txt`` order) to 11-class labels."""
    lut = np.full(256, IGNORE_INDEX, np.uint8)
    for i, name in enumerate(codes):
        target = CAMVID32_TO_11.get(name)
        if target is not None:
            lut[i] = CLASSES.index(target)
    return lut


@dataclass(frozen=True)
class Sample:
    image: Path
    label: Path


def read_rgb(path: Path) -> np.ndarray:
    """Read an image file as uint8 RGB [H,W,3]; raise ``FileNotFoundError`` or ``ValueError``."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no such image: {path}")
    bgr = imread_quiet(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"cannot decode image: {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def imread_quiet(path: Path, flags: int) -> np.ndarray | None:
    """``cv2.imread`` without OpenCV's own log line for a file it cannot decode (``[ERROR:0@2.2] global
    grfmt_png.cpp:296 readHeader IHDR chunk shall be first ...``, printed above the one ``Error:`` line that says
    which file); None where it cannot."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        return cv2.imread(str(path), flags)
    finally:
        cv2.utils.logging.setLogLevel(level)


def read_label(path: Path) -> np.ndarray:
    """Read a single-channel label PNG as uint8 [H,W] (palette PNGs give their indices)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no such label: {path}")
    label = imread_quiet(path, cv2.IMREAD_UNCHANGED)
    if label is None:
        raise ValueError(f"cannot decode label: {path}")
    if label.ndim == 3 and _is_palette_png(path):  # (OpenCV expands a palette into colours)
        label = _palette_indices(path)
    if label.ndim == 3:
        raise ValueError(f"label {path} is a colour (RGB) picture ({label.shape[2]} channels): a label holds one class "
                         "index a pixel (0, 1, 2 ... in the order of the classes, 255 void), not their colours: write "
                         "masks as single-channel (or palette) PNGs of indices")  # fmt: skip
    if label.dtype != np.uint8:
        raise ValueError(f"label {path} holds {label.dtype.itemsize * 8}-bit values; expected 8-bit class indices")
    return label


def _is_palette_png(path: Path) -> bool:
    """Whether ``path`` is a PNG of colour type 3 (indexed: a palette, each pixel its index)."""
    with open(path, "rb") as f:
        head = f.read(26)
    return len(head) == 26 and head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR" and head[25] == 3


def _palette_indices(path: Path) -> np.ndarray:
    """The palette indices of an indexed PNG (PIL's mode ``P``, as VOC-style label files are), read with
    PyAV: uint8 [H,W]."""
    import av

    try:
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0))
    except (av.FFmpegError, StopIteration):
        raise ValueError(f"cannot decode label: {path}") from None
    if frame.format.name != "pal8":
        raise ValueError(f"cannot read the palette indices of label {path} ({frame.format.name})")
    plane = frame.planes[0]
    return np.frombuffer(plane, np.uint8).reshape(frame.height, plane.line_size)[:, : frame.width].copy()


def detect_layout(root: Path) -> str:
    """``'segnet'`` or ``'fastai'``, from the folders present under ``root``."""
    if (root / "codes.txt").is_file() and (root / "labels").is_dir():
        return "fastai"
    if any((root / s).is_dir() and (root / f"{s}annot").is_dir() for s in SPLITS):
        return "segnet"
    if (root / CLASSES_FILE).is_file():
        raise FileNotFoundError(f"{root} has a {CLASSES_FILE} but not SegNet's layout beside it: expected train/ + "
                                "trainannot/ (and val/ + valannot/), an image and a same-named PNG label each")
    raise FileNotFoundError(
        f"{root} is not a CamVid folder: expected train/ + trainannot/ (SegNet layout) "
        "or images/ + labels/ + codes.txt (fastai layout)"
    )


class CamVid:
    """Image/label pairs of one split, labels in the convention of :attr:`classes` (CamVid's 11, 11 = void; or a
    ``classes.txt``'s C, C = void).

    Args:
        root: the dataset folder (either layout).
        split: ``train``, ``val`` or ``test``.
        size: optional (height, width) every sample is resized to (area for images, nearest for
            labels); fastai's 720x960 frames are usually read at (360, 480).
    """

    def __init__(self, root: str | Path, split: str, *, size: tuple[int, int] | None = None) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
        self.root = Path(root)
        self.split = split
        self.size = size
        self.layout = detect_layout(self.root)
        self.lut: np.ndarray | None = None
        #: the classes of the labels: a SegNet-layout folder's ``classes.txt``, else CamVid's
        self.classes = read_classes(self.root) if self.layout == "segnet" else CAMVID
        self.samples = self._segnet() if self.layout == "segnet" else self._fastai()
        if not self.samples:
            held = ": this copy has no test split (CamVid's is often held back)" if split == "test" else ""
            raise FileNotFoundError(f"no {split} images found in {self.root} ({self.layout} layout){held}")

    def _segnet(self) -> list[Sample]:
        images = self.root / self.split
        labels = self.root / f"{self.split}annot"
        if not images.is_dir():
            return []
        found = {p.stem: p for p in sorted(images.glob("*.jpg"))}  # (one image a frame: a PNG where both are)
        found.update((p.stem, p) for p in sorted(images.glob("*.png")))
        if found and not labels.is_dir():
            raise FileNotFoundError(f"{images} holds {len(found)} images but {labels} (their labels: a same-named "
                                    "PNG each) is missing")  # fmt: skip
        return [Sample(found[stem], labels / f"{stem}.png") for stem in sorted(found)]

    def _fastai(self) -> list[Sample]:
        codes = (self.root / "codes.txt").read_text().split()
        self.lut = camvid32_lut(codes)
        valid_file = self.root / "valid.txt"
        valid = {Path(n).name for n in valid_file.read_text().split()} if valid_file.is_file() else set()
        if self.split == "test":
            return []
        if self.split == "val" and not valid_file.is_file():
            raise FileNotFoundError(f"no val images in {self.root}: the fastai layout names them in valid.txt (an image "
                                    "file name a line), which it lacks (as fastai's camvid_tiny does); write one, or "
                                    "train with --holdout SEQ to score held-out frames instead")  # fmt: skip
        out = []
        for p in sorted((self.root / "images").glob("*.png")):
            if (p.name in valid) == (self.split == "val"):
                out.append(Sample(p, self.root / "labels" / f"{p.stem}_P.png"))
        return out

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        s = self.samples[i]
        image, label = read_rgb(s.image), read_label(s.label)
        if self.lut is not None:
            label = self.lut[label]
        elif label.max(initial=0) >= self.classes.count:
            label = self.classes.void_labels(label, s.label)
        if image.shape[:2] != label.shape:
            raise ValueError(f"{s.image.name}: image {image.shape[:2]} and label {label.shape} differ")
        if self.size is not None and image.shape[:2] != tuple(self.size):
            h, w = self.size
            image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
            label = cv2.resize(label, (w, h), interpolation=cv2.INTER_NEAREST)
        return image, label

    def split_off(self, holdout: tuple[str, ...]) -> tuple["CamVid", "CamVid"]:
        """(the frames a run with ``holdout`` trains on, the frames it holds out) of this split, as two
        views of it (:func:`split_holdout`); e.g. the held-out frames are a training run's check."""
        held = split_holdout([s.image.stem for s in self.samples], holdout)
        kept, out = copy.copy(self), copy.copy(self)
        kept.samples = [s for s, h in zip(self.samples, held) if not h]
        out.samples = [s for s, h in zip(self.samples, held) if h]
        return kept, out

    def load_all(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Every sample decoded into memory (CamVid train is ~190 MB at 360x480); ValueError, before any is read, where
        they cannot fit at ``size`` (:func:`fits_in_memory`)."""
        if self.size is not None:
            h, w = self.size
            fits_in_memory(len(self) * h * w * 4, f"{len(self)} {self.split} frames at {h}x{w}")
        pairs = [self[i] for i in range(len(self))]
        return [p[0] for p in pairs], [p[1] for p in pairs]


def fits_in_memory(need: int, what: str) -> None:
    """ValueError (one line) where ``need`` bytes for ``what`` are more than the memory free here, said before the
    work: a size of 99999x99999 (``train --size``, a model's ``input_size``) was OpenCV's traceback ('Insufficient
    memory'), or the system's kill, unsaid. Where the free memory is unknown, nothing is refused.

    >>> fits_in_memory(1, "a frame")
    >>> fits_in_memory(1 << 60, "a frame at 99999x99999")
    Traceback (most recent call last):
    ValueError: a frame at 99999x99999 needs about 1152921505 GB of memory; ... GB is free
    """
    from roadseg.pipeline.infer import free_memory
    from roadseg.pipeline.memory import limit_said

    free = free_memory()
    if free is not None and need > free:
        raise ValueError(f"{what} needs about {need / 1e9:.0f} GB of memory; {free / 1e9:.0f} GB is free{limit_said(free)}")


def spread(count: int, limit: int | None) -> list[int]:
    """The indices of ``limit`` of ``count`` frames spread evenly over them, the first and the last included (all of
    them for ``limit`` None or ``count`` or more): ``train --val-limit``'s frames of val, and ``eval --limit``'s.

    >>> spread(101, 5), spread(3, None), spread(3, 9)
    ([0, 25, 50, 75, 100], [0, 1, 2], [0, 1, 2])
    """
    if limit is None or limit >= count:
        return list(range(count))
    return [int(i) for i in np.linspace(0, count - 1, limit)]


def split_holdout(names: list[str], holdout: tuple[str, ...], *, missing_ok: bool = False) -> list[bool]:
    """Which of ``names`` (CamVid file stems, ``SEQ_FRAME``, of one split) are held out by ``holdout``.

    Each entry is a sequence (``"0006R0"``: all its frames) or ``"SEQ:FRACTION"`` (the last
    FRACTION of that sequence's frames in name order, e.g. ``"0001TP:0.33"``: later footage of a
    sequence whose start is trained on). A sequence with no frame in ``names`` is an error unless
    ``missing_ok`` (one split of several may lack it).

    Example:
        >>> split_holdout(["A_1", "A_2", "A_3", "B_1"], ("A:0.34",))
        [False, False, True, False]
    """
    held = [False] * len(names)
    for spec in holdout:
        seq, colon, frac = spec.partition(":")
        try:
            share = float(frac) if colon else 1.0
        except ValueError:
            share = float("nan")
        if not 0 < share <= 1:  # (nan too)
            raise ValueError(f"holdout {spec!r}: FRACTION is the share of the sequence held out, above 0 and at "
                             "most 1, e.g. 0001TP:0.33")  # fmt: skip
        idx = sorted((n, i) for i, n in enumerate(names) if n.split("_")[0] == seq)
        if not idx and not missing_ok:
            seqs = sorted({n.split("_")[0] for n in names})
            raise ValueError(f"holdout {spec!r}: no frames of sequence {seq!r} in the {len(names)} frames read (a "
                             f"frame's sequence is its name up to its first '_': {', '.join(seqs[:6])}"
                             f"{' ...' if len(seqs) > 6 else ''})")  # fmt: skip
        keep = len(idx) - round(len(idx) * share)
        for _, i in idx[keep:]:
            held[i] = True
    return held
