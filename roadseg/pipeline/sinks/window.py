"""The ``--show`` window (OpenCV HighGUI): q, Esc or its close button ends the run."""

from __future__ import annotations

import os
import re
import sys

import cv2
import numpy as np

from roadseg.errors import SinkError, StopRequested
from roadseg.pipeline.sinks.base import Sink
from roadseg.pipeline.sources import Frame


class WindowSink(Sink):
    """An OpenCV window; q, Esc or its close button ends the run (a window closed is taken for closed once its
    backend has said it is shown: one that cannot tell, -1, is never taken for closed). Needs a GUI build of OpenCV
    and a display."""

    name = "display"
    shows = True

    def __init__(self, title: str = "roadseg", *, serving: bool = False) -> None:
        """``serving``: the run serves its view in a browser too (``--serve``), which a refusal then points to."""
        self.title, self._closed, self._seen = title, False, False
        instead = ("leave out --show: --serve shows the view in a browser" if serving else
                   "use --serve HOST:PORT and open the view in a browser")  # fmt: skip
        if gui_backend() is not None and no_display():  # (Qt's would end the process, no line said why: SIGABRT)
            raise SinkError("--show needs a display, and this session has none (DISPLAY and WAYLAND_DISPLAY are not "
                            f"set: an ssh session without -X?): {instead}")  # fmt: skip
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        except cv2.error:
            raise SinkError("--show needs OpenCV with GUI support and a display: pip install opencv-python "
                            f"(instead of opencv-python-headless), or {instead}") from None  # fmt: skip

    def write(self, image: np.ndarray, frame: Frame) -> None:
        cv2.imshow(self.title, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
            raise StopRequested()
        shown = self._visible() >= 1
        if self._seen and not shown:  # (closed: the next imshow would open it again)
            raise StopRequested()
        self._seen = self._seen or shown

    def _visible(self) -> float:
        """What the backend says of the window's ``WND_PROP_VISIBLE``: 1 shown, 0 (or -1, gone) closed, -1 where it
        cannot tell (one that raises too)."""
        try:
            return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE)
        except cv2.error:
            return -1.0

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                cv2.destroyWindow(self.title)
            except cv2.error:
                pass


def gui_backend() -> str | None:
    """The GUI backend this OpenCV was built with (``QT5``, ``GTK3`` ...), None for none (``opencv-python-headless``).

    >>> gui_backend() is None or gui_backend().isupper()
    True
    """
    found = re.search(r"^\s*GUI:\s*(\S+)", cv2.getBuildInformation(), re.MULTILINE)
    return None if found is None or found[1] == "NONE" else found[1]


def no_display(platform: str | None = None, env: dict | None = None) -> bool:
    """Whether no window can be opened here: a Linux (or BSD) session without X11's ``DISPLAY`` nor Wayland's (a
    robot's ssh session); macOS and Windows need none.

    >>> no_display("linux", {}), no_display("linux", {"DISPLAY": ":0"}), no_display("darwin", {})
    (True, False, False)
    """
    env, platform = os.environ if env is None else env, sys.platform if platform is None else platform
    return platform not in ("darwin", "win32", "cygwin") and not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))
