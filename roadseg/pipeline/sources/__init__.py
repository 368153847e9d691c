"""Sources: where frames come from. One interface (:class:`~roadseg.pipeline.sources.base.Source`) for all.

A source is a context manager and an iterable of :class:`Frame` objects (and, for a video file,
the audio, subtitle and data packets to remux) with ``.info`` (a :class:`VideoInfo`), ``.live`` (``True``:
consume it through a newest-frame slot, dropping what the model cannot keep up with; ``False``:
block, never drop), ``.kind``, ``.lost``, ``.audio_streams`` (and ``.audio_samples``, a first packet
of each, to check that an output can carry them), ``.subtitle_streams``, ``.data_streams`` and ``expected_frames()``. The kinds:

* :class:`VideoSource` (``file.py``): a video file (or an http(s) URL of one), timestamps and audio kept;
* :class:`ImageSource` (``images.py``): an image, a folder or a glob;
* :class:`LiveSource` (``capture.py``; its input opened in ``opening.py``, a connection's reading in
  ``connection.py``, its pictures made upright at the first size in ``upright.py``, tied onto the capture clock in
  ``tying.py``, closed from another thread in ``closing.py``, a file's pacing in ``pacing.py``): a webcam, a stream
  URL, or a file played in real time.

All open media through :func:`open_container` (``containers.py``); what they share besides, by role: a
file's streams (``streams.py``), frame rates (``framerates.py``), packets' times (``packets.py``), decoded
pictures (``pictures.py``), and MP4 boxes and Matroska elements FFmpeg does not read (``boxes.py``, ``ebml.py``).
"""

from roadseg.pipeline.sources.base import Frame, Source, VideoInfo
from roadseg.pipeline.sources.capture import LiveSource, open_url
from roadseg.pipeline.sources.containers import open_container
from roadseg.pipeline.sources.file import VideoSource
from roadseg.pipeline.sources.images import ImageSource, image_paths, is_image_input, read_image
from roadseg.pipeline.sources.opening import capture_args, is_live_input, open_capture
from roadseg.pipeline.sources.streams import picture_stream

__all__ = [
    "Frame",
    "ImageSource",
    "LiveSource",
    "Source",
    "VideoInfo",
    "VideoSource",
    "capture_args",
    "image_paths",
    "is_image_input",
    "is_live_input",
    "open_capture",
    "open_container",
    "open_url",
    "picture_stream",
    "read_image",
]
