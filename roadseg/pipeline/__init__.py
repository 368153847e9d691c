"""The runtime: sources -> infer -> overlay -> sinks, threads owned by ``runner``, one ``run`` (no torch needed)."""

from roadseg.errors import (
    Interrupted,
    ModelError,
    OutputError,
    PipelineError,
    RoadsegError,
    SinkError,
    SourceError,
)
from roadseg.pipeline.infer import OnnxSegmenter, Segmenter
from roadseg.pipeline.options import RunResult, SegmentOptions
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
