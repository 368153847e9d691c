"""roadseg: real-time semantic segmentation of driving video.

The runtime (``roadseg.pipeline``) needs only onnxruntime, PyAV, numpy and OpenCV; training and
export (``roadseg.train``, ``roadseg.export``) need the ``train`` extra (torch).
"""

__version__ = "0.1.0"

from roadseg.pipeline import Segmenter, SegmentOptions, segment_video  # noqa: E402

__all__ = ["SegmentOptions", "Segmenter", "__version__", "segment_video"]
