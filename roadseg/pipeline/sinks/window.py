"""The ``--show`` window (OpenCV HighGUI): q or Esc ends the run."""

from __future__ import annotations

import cv2
import numpy as np

from roadseg.errors import SinkError, StopRequested
from roadseg.pipeline.sinks.base import Sink
from roadseg.pipeline.sources import Frame


class WindowSink(Sink):
    """An OpenCV window; q or Esc ends the run. Needs a GUI build of OpenCV and a display."""

    name = "display"
    shows = True

    def __init__(self, title: str = "roadseg") -> None:
        self.title, self._closed = title, False
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        except cv2.error:
            raise SinkError("--show needs OpenCV with GUI support and a display: pip install opencv-python "
                            "(instead of opencv-python-headless), or use --serve HOST:PORT") from None  # fmt: skip

    def write(self, image: np.ndarray, frame: Frame) -> None:
        cv2.imshow(self.title, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
            raise StopRequested()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                cv2.destroyWindow(self.title)
            except cv2.error:
                pass
