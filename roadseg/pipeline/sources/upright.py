"""A live source's pictures upright and at their first size (:class:`Upright`, a part of
:class:`~roadseg.pipeline.sources.capture.LiveSource`): the first picture read ahead as the source opens, for its
display matrix (a phone's video turned or mirrored: :mod:`~roadseg.pipeline.sources.display`), which each picture
is then turned by; and a picture whose size changed scaled to the first. What it reads ahead is
:class:`~roadseg.pipeline.sources.connection.Connection`'s, which the first connection hands on first.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import replace

import av
import numpy as np

from roadseg.errors import SourceError
from roadseg.pipeline.runner import call_interruptibly
from roadseg.pipeline.sources.display import as_shown, matrix_of, told
from roadseg.pipeline.sources.pictures import rgb_picture, scaled_to
from roadseg.pipeline.sources.tying import MAX_WAITING

log = logging.getLogger("roadseg")


class Upright:
    """:class:`~roadseg.pipeline.sources.capture.LiveSource`'s pictures as they are shown. Its state, set as the
    source opens: ``_opening``, ``_turned`` and ``_resized``, ``audio_samples`` (the first audio packet of each
    stream, read ahead); and the source's ``kind``, ``info``, ``shown``, ``container``, ``close()`` and
    ``_decoded()``."""

    def _set_up_first_picture(self) -> None:
        """Read the first picture ahead, but for a camera (:meth:`_upright`: its display matrix), closing the
        source where that fails (Ctrl-C: the container is closed as the read ahead ends)."""
        self._opening: Iterator | None = None  # the first connection's items, its first picture read ahead
        self._turned = False  # the pictures are shown turned or mirrored (a phone's video, piped, served or played)
        if self.kind != "camera":  # (a camera has no display matrix: its first frame is not waited for)
            try:
                self._turned = self._upright()
            except KeyboardInterrupt:
                raise  # (the container is closed as the read ahead ends: :meth:`_upright`)
            except BaseException:
                self.close()
                raise

    def _picture(self, vf: av.VideoFrame, bottom: bool) -> np.ndarray:
        """``vf``'s RGB picture (an interlaced one's first field: the ``bottom`` one where the stream says so),
        turned as it is shown (where :attr:`_turned`) and at the first size (:meth:`_sized`)."""
        image = rgb_picture(vf, bottom_first=bottom)
        if self._turned:
            rotation = float(vf.rotation or 0)
            if rotation != self._display[0]:  # (read off each picture, PyAV's side_data kept it alive until a collection)
                self._display = rotation, matrix_of(vf)
            image = np.ascontiguousarray(as_shown(image, *self._display)[0])
        return self._sized(image)

    def _upright(self) -> bool:
        """Whether the pictures are shown turned or mirrored (:mod:`~roadseg.pipeline.sources.display`): if so,
        one line says so and :attr:`info` takes the size they are shown at (the outputs are made at it). The
        display matrix comes with a decoded picture, so the first is decoded now (:meth:`_read_ahead`: a pipe
        or a URL cannot be opened a second time to look), and the first connection hands it on first."""
        held = call_interruptibly(self._read_ahead, "open", lambda _: self.container.close())
        self.audio_samples = {p.stream_index: p for p in reversed(held) if isinstance(p, av.Packet)}  # (the first)
        first = next((item[0] for item in held if isinstance(item, tuple)), None)
        if first is None:
            return False
        rotation, matrix = float(first.rotation or 0), matrix_of(first)
        self._display = rotation, matrix  # (the display matrix each picture is turned by: read again where its angle changes)
        probe = np.zeros((2, 3, 1), np.uint8)  # (a picture of no size: how the matrix turns it, no more)
        shown, mirrored = as_shown(probe, rotation, matrix)
        if shown is probe:
            return False
        log.warning("%s", told(round(rotation) % 360, mirrored))
        if shown.shape[0] != probe.shape[0]:
            sar = self.info.sample_aspect
            self.info = replace(self.info, width=self.info.height, height=self.info.width,
                                sample_aspect=1 / sar if sar else sar)  # fmt: skip
        return True

    def _read_ahead(self) -> list:
        """What :meth:`_decoded` gives up to and with the first picture (or :data:`MAX_WAITING` audio packets
        without one), kept in :attr:`_opening` with the rest of the connection after it (an error met on the
        way: raised there, where the connection's are)."""
        items, held = self._decoded(), []
        try:
            for item in items:
                held.append(item)
                if isinstance(item, tuple) or len(held) >= MAX_WAITING:
                    break
        except (av.error.FFmpegError, OSError, IndexError, SourceError) as exc:
            self._opening = _then_raise(held, exc)
            return held
        self._opening = itertools.chain(held, items)
        return held

    def _sized(self, image):
        """``image`` at the size the stream said when it was opened (what the outputs were made for): a
        camera whose settings changed, a reconnected stream's other resolution or a damaged picture
        header is scaled to it, with one line the first time."""
        want = (self.info.height, self.info.width)
        if image.shape[:2] == want or not all(want):
            return image
        if not self._resized:
            self._resized = True
            log.warning("%s's picture changed size from %dx%d to %dx%d; scaling it to the first size", self.shown,
                        want[1], want[0], image.shape[1], image.shape[0])  # fmt: skip
        return scaled_to(image, want)


def _then_raise(items: list, exc: BaseException) -> Iterator:
    """``items``, then ``exc`` raised."""
    yield from items
    raise exc
