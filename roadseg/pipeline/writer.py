"""A run's last stage, :class:`Writer`: each frame overlaid and written to every sink, the packets beside the
pictures muxed (held back where the run may be cut short), the figures and progress kept, the sinks closed;
:func:`~roadseg.pipeline.stages.build_writer` makes a run's from its options.

Example:
    >>> import numpy as np
    >>> from roadseg.pipeline.overlay import palette_lut
    >>> class Shapes(Sink):
    ...     def write(self, image, frame): print(image.shape)
    >>> writer = Writer(Overlay(palette_lut([[0, 0, 0], [255, 0, 0]])), [Shapes()], StageTimes(), FrameStats(),
    ...                 Progress(1, "clip", enabled=False), stop=threading.Event(), dropped=None, max_frames=None,
    ...                 hud=False, shares=None)
    >>> writer([Frame(0, np.zeros((2, 3, 3), np.uint8), 0, None, labels=np.zeros((2, 3), np.uint8))])
    (2, 3, 3)
    >>> writer.stats.frames
    1
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from fractions import Fraction

from roadseg.errors import SinkError, StopRequested
from roadseg.pipeline.overlay import Overlay, class_shares
from roadseg.pipeline.queues import LatestQueue
from roadseg.pipeline.sinks import Sink
from roadseg.pipeline.sinks.shown import Figures, as_shown
from roadseg.pipeline.sources import Frame
from roadseg.pipeline.sources.packets import packet_time
from roadseg.pipeline.timing import FrameStats, Progress, StageTimes

HELD_PACKETS = 4096  # audio, subtitle and data packets a run holds until the pictures reach them (it may be cut
# short: --max-frames, Ctrl-C)
READ_ON = 0.5  # seconds a file's run cut short reads on for the sound of its pictures that is stored behind them
BEHIND = 10.0  # seconds of pictures past the last one written that it reads through at most


class Reading:
    """A file's items as the producer thread reads them (``items``), for a :class:`Writer` whose run is cut short
    (:meth:`rest`): the packets read that it has not had (waiting between the stages), then the reading itself.

    >>> reading = Reading(["a", "b", "c"])
    >>> next(reading), list(reading.rest(1.0)), next(reading, "ended")
    ('a', ['a', 'b', 'c'], 'ended')
    """

    def __init__(self, items: Iterable) -> None:
        self._items, self._lock, self._taken = iter(items), threading.Lock(), False
        self.unseen: deque = deque()  # the packets read that the writer has not had, in their order

    def __iter__(self) -> Reading:
        return self

    def __next__(self):
        with self._lock:
            if self._taken:  # (the writer reads on: the producer's items end)
                raise StopIteration
            item = next(self._items)
            if not isinstance(item, Frame):
                self.unseen.append(item)
            return item

    def seen(self, packet) -> None:
        """The writer has ``packet`` (the packets reach it in the order they were read)."""
        while self.unseen and self.unseen.popleft() is not packet:
            pass

    def rest(self, timeout: float) -> Iterator | None:
        """The packets the writer has not had, then the items not read yet; the producer's items end here. None
        where the producer is still inside a read ``timeout`` s on."""
        if not self._lock.acquire(timeout=timeout):
            return None
        self._taken = True
        self._lock.release()
        unseen = list(self.unseen)
        self.unseen.clear()
        return _chained(unseen, self._items)


def _chained(first: list, then: Iterator) -> Iterator:
    yield from first
    yield from then


class Writer:
    """The last stage: overlay, every sink, figures, progress; closes the sinks when its input ends. The views
    (a sink whose ``shows``) are given the picture as it plays (``sample_aspect``: an anamorphic source's stretched
    to its display shape) and a live run's figures drawn over it then (the HUD:
    :func:`~roadseg.pipeline.sinks.shown.as_shown`), made once for them all (the browser view alone makes it in its
    own threads: :meth:`Sink.show`). The
    overlay is drawn only where a sink uses the picture (a sink whose ``pictured`` is False, the masks', does not:
    a masks-only run draws none; at 720p it costs about as much as encoding it).

    Audio packets go to the sinks that have ``mux``. A window's q/Esc, ``max_frames`` or a live run's
    ``seconds`` (by the frames' capture clock, from the first one) sets ``stop``,
    which ends the whole run normally. Packets timed after the pictures written so far wait for them (at most
    :data:`HELD_PACKETS`), so that an output cut short (``max_frames``, ``seconds``, Ctrl-C: a live run's usual end,
    a file's too) has its sound end with its last picture (``frame_step``: a file's nominal frame duration, for its
    first): a file keeps its sound up to a second or more ahead of its pictures (an MP4's, stored a second at a
    time, the shipped sample clip's all before its first picture; was: a file's run stopped by Ctrl-C after 5 frames
    kept 1.4 s of sound beside 0.2 s of pictures), and a live stream's
    sound comes before the pictures inference holds. At the input's end they all go in. The sound a file on disk
    stores behind its pictures is read on for, where its run is cut short (:meth:`_read_on`, from :meth:`read`'s
    :class:`Reading`).
    """

    def __init__(self, overlay: Overlay, sinks: list[Sink], times: StageTimes, stats: FrameStats, progress: Progress,
                 *, stop: threading.Event, dropped: LatestQueue | None, max_frames: int | None,
                 seconds: float | None = None, hud: bool, live: bool = False,
                 shares: int | None, frame_step: float | None = None, sounds: int = 0,
                 sample_aspect: Fraction | None = None) -> None:  # fmt: skip
        self.sample_aspect = sample_aspect  # (the pictures' pixels' width:height: the views show them at that shape)
        self.overlay, self.sinks, self.times, self.stats, self.progress = overlay, sinks, times, stats, progress
        self.muxers = [s for s in sinks if hasattr(s, "mux")]
        self.drawn = draws(sinks)  # (masks alone: no overlay drawn)
        # (a view that shows its picture in this thread, the window: it is made here, once, and every view given it;
        # was: made again by the browser view beside it, in its clients' threads)
        self.shown_here = any(sink.shows and not sink.shows_later for sink in sinks)
        self.stop, self.queue, self.max_frames, self.hud, self.shares = stop, dropped, max_frames, hud, shares
        self.seconds, self._t0 = seconds, None
        self.per_frame: list[dict] | None = [] if shares else None
        self.held: deque = deque()  # packets ahead of the pictures
        self.live = live  # (a file's packets that start before a picture go in before it, as it stores them)
        self._step, self._shown = frame_step or 0.0, None  # (where the pictures written so far end: seconds, on the
        # input's clock; a live one's on the capture clock, as its packets are)
        self._last: float | None = None  # the last picture's time
        self.sounds, self.reading = sounds, None  # (a file's audio streams, and its :class:`Reading`: :meth:`read`)

    def read(self, items: Iterable) -> Reading:
        """A file's ``items`` (the producer's) as a :class:`Reading`, which this writer reads on where the run is cut
        short, for the sound of the pictures written that is stored behind them."""
        self.reading = Reading(items)
        return self.reading

    def __call__(self, items: Iterator) -> None:
        try:
            for item in items:
                if isinstance(item, Frame):
                    if not self.live and not self.stop.is_set():
                        self._release(until=item.time)
                    self.write(item)
                    self._release()
                    continue
                if self.reading is not None:
                    self.reading.seen(item)
                self._take(item)
        except StopRequested:
            self.stop.set()
        except BaseException:
            _close_all(self.sinks, quiet=True)  # the first error is the one to report
            raise
        if self.stop.is_set():
            self._read_on()
        self._release(everything=not self.stop.is_set())  # (the end of the input: all of it; --max-frames: up to its
        # last picture)
        with self.times.measure("finalise", 0):
            _close_all(self.sinks)

    def _take(self, packet) -> None:
        """Hold a packet with a time (one after the last picture of a run stopped is cut), mux one without."""
        if (t := packet_time(packet)) is None:
            self._mux(packet)
        elif not (self.stop.is_set() and self._shown is not None and t >= self._shown):
            self.held.append(packet)
            self._release()

    def _read_on(self) -> None:
        """A file's run cut short (Ctrl-C, ``max_frames``): hold the packets read that did not reach it and read on
        (:data:`READ_ON` s, :data:`BEHIND` s of pictures, :data:`HELD_PACKETS` at most; no picture written) until
        each of its ``sounds`` has passed the pictures written, whose sound a file may store after them (was: a
        Matroska file storing its sound 2 s behind kept 0 to 2 s less sound than pictures at a Ctrl-C)."""
        deadline = time.monotonic() + READ_ON
        read = self.reading is not None and self.sounds and self._shown is not None
        rest = self.reading.rest(READ_ON) if read else None
        passed: set[int] = set()  # the audio streams read past the pictures
        with contextlib.suppress(Exception):  # (the input's damage is not this run's end)
            for item in rest or ():
                if isinstance(item, Frame):
                    t = item.clock if item.clock is not None else item.time
                    if t is not None and t >= self._shown + BEHIND:
                        break
                elif (t := packet_time(item)) is not None and t < self._shown:
                    self.held.append(item)
                elif t is not None and item.stream is not None and item.stream.type == "audio":
                    passed.add(item.stream.index)
                if len(passed) >= self.sounds or len(self.held) > HELD_PACKETS or time.monotonic() > deadline:
                    break

    def _release(self, everything: bool = False, until: float | None = None) -> None:
        """Mux the held packets that start before the pictures written so far end (``until``: before then; all of
        them at the input's end), and the oldest beyond :data:`HELD_PACKETS`; at a stop, drop those after that end.
        A file's sound stored before its first picture goes in before it (AVI starts its tracks together, and is
        told how far the sound leads)."""
        held, limit = self.held, self._shown if until is None else until
        while held and (everything or len(held) > HELD_PACKETS or (limit is not None and packet_time(held[0]) < limit)):
            self._mux(held.popleft())
        if self.stop.is_set() and not everything:  # (those before it behind one after it too: a stream stored
            for packet in held:  # ahead of the pictures beside one stored behind them)
                if limit is not None and packet_time(packet) < limit:
                    self._mux(packet)
            held.clear()

    def _mux(self, packet) -> None:
        for sink in self.muxers:
            sink.mux(packet)

    def write(self, frame: Frame) -> None:
        if self.seconds is not None and (at := frame.clock if frame.clock is not None else frame.captured) is not None:
            self._t0 = at if self._t0 is None else self._t0
            if at - self._t0 >= self.seconds:
                raise StopRequested  # (a live run's --duration: this frame is past it)
        out = frame.image  # (what a sink that does not use the picture, ``pictured`` False, is passed: masks)
        if self.drawn:
            with self.times.measure("overlay"):
                out = self.overlay(frame.image, frame.labels)
        now = time.monotonic()
        latency = None if frame.captured is None else now - frame.captured
        self.stats.dropped = self.queue.dropped if self.queue is not None else 0
        self.stats.add(now, frame.captured, frame.clock)
        # (the views' live figures, which a recording does not keep)
        figures = Figures(self.stats.fps, 1000 * latency, self.stats.dropped) if self.hud and latency is not None \
            else None  # fmt: skip
        shown = None  # (the views' picture, at the shape it plays at, its figures drawn then: made once, for all)
        for sink in self.sinks:
            with self.times.measure(sink.name):
                if not sink.shows:
                    sink.write(out, frame)
                elif not self.shown_here:  # (the browser view alone: made in its clients' threads, not this one)
                    sink.show(out, frame, figures, self.sample_aspect)
                else:
                    shown = as_shown(out, self.sample_aspect, figures) if shown is None else shown
                    sink.write(shown, frame)
        if self.per_frame is not None:
            self.per_frame.append({"index": frame.index, "time": frame.time,
                                   "shares": class_shares(frame.labels, self.shares)})  # fmt: skip
        self.progress.update()
        if (t := frame.clock if frame.clock is not None else frame.time) is not None:
            step = t - self._last if self._last is not None and 0 < t - self._last <= 1.0 else self._step
            self._last, self._shown = t, max(self._shown or t, t + step)
        if self.max_frames and self.stats.frames >= self.max_frames:
            self.stop.set()

    def dropped(self, counter: str) -> int:
        """Packets the muxing sinks dropped, by their ``counter`` (``audio_dropped``, ``subtitles_dropped`` ...)."""
        return sum(getattr(sink, counter, 0) for sink in self.muxers)


def _close_all(sinks: list[Sink], quiet: bool = False) -> None:
    """Close every sink even if one fails; raise the first failure unless ``quiet``."""
    errors: list[SinkError] = []
    for sink in sinks:
        try:
            sink.close()
        except SinkError as exc:
            errors.append(exc)
    if errors and not quiet:
        raise errors[0]


def draws(sinks: list[Sink]) -> bool:
    """Whether a run of ``sinks`` draws the overlay: one of them uses the picture (``Sink.pictured``; masks alone do
    not)."""
    return any(s.pictured for s in sinks)
