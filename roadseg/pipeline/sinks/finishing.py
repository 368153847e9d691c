"""Finishing a video output (:class:`Finishing`, a part of :class:`~roadseg.pipeline.sinks.video.VideoSink`): its
trailer and sensor boxes written, or, after a failed or interrupted run, the file kept where it plays (read back) or
removed.
"""

from __future__ import annotations

import contextlib

import av

from roadseg.errors import SinkError, reason_of
from roadseg.pipeline.sinks.audio import write_error
from roadseg.pipeline.sinks.readback import pictures
from roadseg.pipeline.sources.containers import file_url


class Finishing:
    """:class:`~roadseg.pipeline.sinks.video.VideoSink`'s end. Its state: ``container``, ``path``, ``to_stdout``,
    ``shown``, ``boxes``, ``written``, ``finalised``, ``_faulted`` (the encoder failed: the file is read back), and
    its :meth:`close`."""

    def _finalise(self) -> None:
        """Write the trailer, then the sensor boxes (after the media and its index, where BlackVue keeps them too)."""
        try:
            self.container.close()
        except (OSError, av.error.FFmpegError) as exc:
            raise write_error(exc, f"cannot finish {self.shown}") from None
        if self.boxes and not self.to_stdout:
            try:
                with open(self.path, "ab") as f:
                    f.writelines(self.boxes)
            except OSError as exc:
                raise SinkError(f"cannot finish {self.shown}: {reason_of(exc)}") from None
        self.finalised = True

    def finish(self, keep: bool) -> bool:
        """After a failed or interrupted run: finalise the frames written (``keep``), or remove the file.

        Returns whether a playable file with at least one frame was kept (on standard output: whether
        the stream was ended with its frames; it cannot be taken back): one whose trailer was written, even
        where the encoder then failed (its flush, or :meth:`close` before this), and, where the encoder failed,
        that opens again and plays (:meth:`_plays`): ``written`` is then the pictures it plays.
        """
        if keep and self.written > 0:
            with contextlib.suppress(SinkError):
                self.close()
            if self.finalised and self.written > 0 and not self._faulted:
                return True
            plays = self._plays() if self.finalised and self.written > 0 else 0
            if plays != 0:
                self.written = self.written if plays is None else plays
                return True
        try:
            self.close()
        except SinkError:
            pass
        self._remove()
        return False

    def _plays(self) -> int | None:
        """How many pictures the finished file plays, read back as a player reads it (:func:`pictures`): every
        packet demuxed to its end, its first picture and its last group of pictures decoded; 0 where none decodes
        or it does not open; None where it is out of reach (what went to standard output or into a named pipe: as
        it went). Was: its first picture alone decoded, and a file whose end was lost kept as holding every picture
        the encoder gave out."""
        if self.to_stdout or self.path.is_fifo():
            return None
        try:
            with av.open(file_url(self.path)) as back:
                return pictures(back)
        except Exception:  # noqa: BLE001 - PyAV raises IndexError (no video stream) as well as FFmpegError
            return 0

    def _remove(self) -> None:
        """Remove the file (what went to standard output or into a named pipe is out of reach; the pipe stays)."""
        if not self.to_stdout and not self.path.is_fifo():
            self.path.unlink(missing_ok=True)
