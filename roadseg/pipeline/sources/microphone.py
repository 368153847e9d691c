"""A camera's sound from a sound device (``--camera-audio alsa:default``): a webcam's picture and its
microphone are two devices, and Video4Linux2 carries no sound.

The device is any FFmpeg audio input, ``FORMAT:DEVICE``: ``alsa:default`` (on most desktops ALSA's
default goes through PulseAudio or PipeWire), ``alsa:hw:1,0`` (a USB camera's microphone, card 1),
``oss:/dev/dsp``; ``lavfi:sine=frequency=440,arealtime`` is a test tone delivered in real time. It
is read in a thread of its own (:func:`~roadseg.pipeline.runner.spawn`) into a bounded queue, its
packets timed on the capture clock the frames are timed on (``time.monotonic``: the first packet
ties the device's clock to its arrival), and the camera's :class:`~roadseg.pipeline.sources.LiveSource`
hands them on between frames.

Example:
    >>> with AudioInput("lavfi:sine=frequency=440:sample_rate=8000,arealtime") as mic:
    ...     time.sleep(0.3)
    ...     packets = mic.take()
    >>> mic.stream.codec_context.name, len(packets) > 0, packets[0].pts > 0
    ('pcm_s16le', True, True)
"""

from __future__ import annotations

import logging
import queue
import threading
import time

import av

from roadseg.errors import SourceError, reason_of
from roadseg.pipeline.runner import abandon, spawn
from roadseg.pipeline.sources.packets import retimed

log = logging.getLogger("roadseg")
MAX_WAITING = 512  # packets read and not yet handed on (seconds of sound): past that, new ones are dropped and counted
JOIN_TIMEOUT = 2.0  # seconds to wait for the reading thread at the end


class AudioInput:
    """An FFmpeg audio input (``FORMAT:DEVICE``) read in the background; :meth:`take` what has come.

    Raises :class:`SourceError` (one line) where the device cannot be opened or has no sound.
    ``dropped`` counts packets that waited past ``MAX_WAITING``; a device that stops (unplugged)
    ends the sound with one line, and the run goes on without it.
    """

    def __init__(self, spec: str) -> None:
        fmt, _, device = spec.partition(":")
        if not fmt or not device:
            raise SourceError(f"--camera-audio wants FORMAT:DEVICE (alsa:default, alsa:hw:1,0), not {spec!r}")
        self.spec = spec
        try:
            self.container = av.open(device, format=fmt, timeout=(5.0, 5.0))
        except Exception as exc:  # noqa: BLE001 - unknown format, busy or missing device: one line
            raise SourceError(f"cannot open audio input {spec}: {reason_of(exc)}") from None
        if not self.container.streams.audio:
            self.container.close()
            raise SourceError(f"audio input {spec} has no sound")
        self.stream = self.container.streams.audio[0]
        self.dropped = 0
        self._queue: queue.Queue[av.Packet] = queue.Queue(maxsize=MAX_WAITING)
        self._stop, self._done = threading.Event(), threading.Event()
        self._thread = spawn(self._read, "audio-input")

    def __enter__(self) -> AudioInput:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def take(self) -> list[av.Packet]:
        """The packets read since the last call, in order, timed on the capture clock."""
        packets = []
        while True:
            try:
                packets.append(self._queue.get_nowait())
            except queue.Empty:
                return packets

    def close(self) -> None:
        """Stop reading; the device is closed once its thread has let go of it (never under it). Waited for on an
        event, not in ``Thread.join``: a Ctrl-C that interrupts a join leaves CPython 3.11 reporting the thread
        stopped (bpo-45274), and a later close closed the device under its read. One still reading is left to
        end on its own (:func:`~roadseg.pipeline.runner.abandoned_calls`: the CLI leaves with ``os._exit``)."""
        self._stop.set()
        try:
            done = self._done.wait(JOIN_TIMEOUT)
        except KeyboardInterrupt:
            abandon(self._thread)
            raise
        if done:
            self.container.close()
        else:
            abandon(self._thread)

    def _read(self) -> None:
        shift: float | None = None  # capture time minus the device's time, in seconds
        try:
            for packet in self.container.demux(self.stream):
                if self._stop.is_set():
                    return
                if packet.pts is None or not packet.size:
                    continue
                end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                shift = time.monotonic() - end if shift is None else shift  # (a packet arrives once it is full)
                packet.dts = packet.pts
                try:
                    self._queue.put_nowait(retimed(packet, shift))
                except queue.Full:
                    self.dropped += 1
        except Exception as exc:  # noqa: BLE001 - a device that goes away must not end the run
            if not self._stop.is_set():
                log.warning("audio input %s stopped (%s); recording on without sound", self.spec, reason_of(exc))
        finally:
            self._done.set()
