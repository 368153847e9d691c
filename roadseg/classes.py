"""CamVid classes and palette: the single source of truth for names, colours and normalisation.

Example:
    >>> from roadseg.classes import CLASSES, PALETTE, IGNORE_INDEX
    >>> CLASSES[3], PALETTE[3], IGNORE_INDEX
    ('Road', (128, 64, 128), 11)
"""

from __future__ import annotations

#: The 11 scored CamVid classes in label-index order (SegNet's 11-class release).
CLASSES: tuple[str, ...] = (
    "Sky",
    "Building",
    "Pole",
    "Road",
    "Pavement",
    "Tree",
    "SignSymbol",
    "Fence",
    "Car",
    "Pedestrian",
    "Bicyclist",
)

#: RGB colour per class, SegNet's own visualisation colours.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (128, 128, 128),
    (128, 0, 0),
    (192, 192, 128),
    (128, 64, 128),
    (60, 40, 222),
    (128, 128, 0),
    (192, 128, 128),
    (64, 64, 128),
    (64, 0, 128),
    (64, 64, 0),
    (0, 128, 192),
)

#: Label value of unlabelled (void) pixels: ignored by the loss and the metric.
IGNORE_INDEX: int = 11
VOID_COLOUR: tuple[int, int, int] = (0, 0, 0)
NUM_CLASSES: int = len(CLASSES)

#: ImageNet statistics, RGB, for inputs scaled to [0, 1]. Only the export bakes them into the graph.
MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

#: (height, width) of CamVid frames: the default training and working size.
CAMVID_SIZE: tuple[int, int] = (360, 480)
