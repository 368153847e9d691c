"""roadseg: real-time semantic segmentation of driving video.

The runtime (``roadseg.pipeline``) needs only onnxruntime, PyAV, numpy and OpenCV; training and
export (``roadseg.train``, ``roadseg.export``) need the ``train`` extra (torch) and load without PyAV. Errors
are one family, :class:`roadseg.errors.RoadsegError`.
"""

__version__ = "0.1.0"

# the function shadows the subpackage's name on ``roadseg``; import its modules as ``roadseg.batch.x``
from roadseg.batch import BatchOptions, batch  # noqa: E402
from roadseg.errors import RoadsegError  # noqa: E402
from roadseg.pipeline import HAS_VIDEO, RunResult, Segmenter, SegmentOptions  # noqa: E402

if HAS_VIDEO:  # training and export load without PyAV; the video runtime does not
    from roadseg.pipeline import run, segment_video

__all__ = ["BatchOptions", "RoadsegError", "RunResult", "SegmentOptions", "Segmenter", "__version__", "batch", "run",
           "segment_video"]  # fmt: skip
