"""roadseg: real-time semantic segmentation of driving video.

The runtime (``roadseg.pipeline``) needs only onnxruntime, PyAV, numpy and OpenCV; training and
export (``roadseg.train``, ``roadseg.export``) need the ``train`` extra (torch) and load without PyAV. Errors
are one family, :class:`roadseg.errors.RoadsegError`. A run in a thread of its own is stopped by :func:`run`'s ``stop``
event and followed by its ``on_progress``. README.md's "Python API" says more.

Example (frames in memory: :class:`Segmenter`; files: :func:`segment_video`, :func:`run`, :func:`batch`):
    >>> import numpy as np
    >>> seg = Segmenter()                                   # the shipped default model
    >>> frame = np.zeros((719, 1279, 3), np.uint8)          # uint8 RGB [H,W,3]; OpenCV's BGR: frame[..., ::-1]
    >>> labels = seg.segment(frame)                         # class indices at the frame's size
    >>> labels.shape, seg.classes[3]
    ((719, 1279), 'Road')
    >>> segment_video("sample_videos/road.mp4", "/tmp/road-seg.mp4", duration=0.2, overwrite=True, quiet=True)["frames"]
    6
"""

__version__ = "0.1.0"

from roadseg._startup import guard  # noqa: E402

guard()  # first: where this is the command line, a Ctrl-C while the rest loads (a second) ends it in one line

# the function shadows the subpackage's name on ``roadseg``: import its modules as ``from roadseg.batch import x``
# (``import roadseg.batch.x as y`` and the attribute ``roadseg.batch.x`` reach the function, which has no ``x``)
from roadseg.batch import BatchOptions, batch  # noqa: E402
from roadseg.errors import RoadsegError  # noqa: E402
from roadseg.pipeline import HAS_VIDEO, RunResult, Segmenter, SegmentOptions  # noqa: E402

if HAS_VIDEO:  # training and export load without PyAV; the video runtime does not
    from roadseg.pipeline import run, segment_video

__all__ = ["BatchOptions", "RoadsegError", "RunResult", "SegmentOptions", "Segmenter", "__version__", "batch", "run",
           "segment_video"]  # fmt: skip
