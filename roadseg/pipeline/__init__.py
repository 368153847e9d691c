"""The runtime: sources -> infer -> overlay -> sinks, threads owned by ``runner``, one ``run`` (no torch needed).

``HAS_VIDEO`` is False where PyAV is missing: then only the model side (``OnnxSegmenter``, ``SegmentOptions``) is
here, which is all that training, export and eval use.
"""

from roadseg.errors import (
    Interrupted,
    ModelError,
    OutputError,
    PipelineError,
    RoadsegError,
    SinkError,
    SourceError,
)
from roadseg.pipeline.infer import Segmenter
from roadseg.pipeline.options import RunResult, SegmentOptions
from roadseg.pipeline.session import OnnxSegmenter

try:  # PyAV is the video I/O; without it the model side (infer, options) still loads, as training and export need
    import av  # noqa: F401
except ImportError:  # a GPU box with torch but no PyAV (see DEVELOPERS.md); tested in a subprocess by test_train
    HAS_VIDEO = False
else:
    HAS_VIDEO = True
    from roadseg.pipeline.run import run, segment_video
    from roadseg.pipeline.sinks import VideoSink
    from roadseg.pipeline.sources import Frame, VideoInfo, VideoSource

__all__ = [
    "Frame",
    "Interrupted",
    "ModelError",
    "OnnxSegmenter",
    "OutputError",
    "PipelineError",
    "RoadsegError",
    "RunResult",
    "SegmentOptions",
    "Segmenter",
    "SinkError",
    "SourceError",
    "VideoInfo",
    "VideoSink",
    "VideoSource",
    "run",
    "segment_video",
]
