"""Sinks: where output pictures go. One interface (:class:`~roadseg.pipeline.sinks.base.Sink`) for all.

A sink has ``write(image, frame)`` (the output picture and the
:class:`~roadseg.pipeline.sources.Frame` it came from: index, timestamps, capture time, labels),
``close()`` (idempotent, from any thread; the output is complete afterwards) and, if it keeps
audio, ``mux(packet)``. Every sink is a context manager; the run's writer loops over its sinks.
The kinds:

* :class:`VideoSink` (``video.py``): a video file, or the recording of a live run (capture times);
* :class:`ImageSink`, :class:`MaskSink` (``files.py``): output images, lossless label masks;
* :class:`WindowSink` (``window.py``): ``--show``;
* :class:`ServeSink` (``server.py``): ``--serve``, the browser view over MJPEG.
"""

from roadseg.pipeline.sinks.base import Sink, check_output_path, same_file
from roadseg.pipeline.sinks.encoders import encoder_usable, even_size
from roadseg.pipeline.sinks.files import ImageSink, MaskSink
from roadseg.pipeline.sinks.server import MjpegServer, ServeSink
from roadseg.pipeline.sinks.video import VideoSink
from roadseg.pipeline.sinks.window import WindowSink

__all__ = [
    "ImageSink",
    "MaskSink",
    "MjpegServer",
    "ServeSink",
    "Sink",
    "VideoSink",
    "WindowSink",
    "check_output_path",
    "encoder_usable",
    "even_size",
    "same_file",
]
