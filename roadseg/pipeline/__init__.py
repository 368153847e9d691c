"""The runtime: sources -> infer -> overlay -> sinks, threads owned by ``runner`` (no torch needed)."""

from roadseg.pipeline.infer import ModelError, OnnxSegmenter, Segmenter
from roadseg.pipeline.sinks import SinkError, VideoSink
from roadseg.pipeline.sources import Frame, SourceError, VideoInfo, VideoSource
from roadseg.pipeline.video import OutputError, PipelineError, SegmentOptions, segment_video

__all__ = [
    "Frame",
    "ModelError",
    "OnnxSegmenter",
    "OutputError",
    "PipelineError",
    "SegmentOptions",
    "Segmenter",
    "SinkError",
    "SourceError",
    "VideoInfo",
    "VideoSink",
    "VideoSource",
    "segment_video",
]
