"""Finishing a video output (:class:`Finishing`, a part of :class:`~roadseg.pipeline.sinks.video.VideoSink`): its
trailer and sensor boxes written (what it waits for told where that is slow: :data:`SLOW_FINISH`), or, after a failed
or interrupted run, the file kept where it plays (read back) or removed; a file written under a temporary name
(:func:`temporary_name`) renamed onto its own when it is kept.

Example:
    >>> str(temporary_name(Path("/out/o.mp4"), 4242))
    '/out/.o.mp4.part-4242.mp4'
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import av

from roadseg.errors import SinkError, reason_of
from roadseg.pipeline.runner import spawn
from roadseg.pipeline.sinks.audio import write_error
from roadseg.pipeline.sinks.readback import pictures
from roadseg.pipeline.sources.containers import file_url

log = logging.getLogger("roadseg")

#: Seconds finishing an output (the encoder's flush, the trailer) may take before the user is told what it waits for:
#: a Ctrl-C stops a run within 2 s, but not at 4K on 2 cores, where x264's 4 held pictures alone take 0.4-1 s
#: (``benchmarks/stop_time.py``)
SLOW_FINISH = 1.0

#: What a temporary output's name holds after the final name (``.o.mp4.part-<pid>.mp4``), as ``batch`` names its own
PART = ".part-"


def temporary_name(path: Path, pid: int | None = None) -> Path:
    """The hidden sibling of ``path`` a run writes it under until it is finished (``pid``: this process's), with its
    ending, which tells the format."""
    return path.with_name(f".{path.name}{PART}{os.getpid() if pid is None else pid}{path.suffix}")


def written_whole(output: str, live: bool) -> bool:
    """Whether a run's video ``output`` is written under a :func:`temporary_name` and renamed when finished: a file's
    run into a file (one there or not). Not a live recording, which is written under its own name as it comes (one
    cut off by a power cut or ``kill -9`` is where its maker looks for it, and can be watched as it grows), nor
    standard output (``-``), a named pipe, a device or a link (written through), nor a name that is a temporary one
    already (``batch``'s).

    >>> written_whole("o.mp4", False), written_whole("o.mp4", True), written_whole("-", False)
    (True, False, False)
    >>> written_whole("/dev/null", False), written_whole("out/.o.mp4.part-7-1.mp4", False)
    (False, False)
    """
    path = Path(output)
    there = path.exists() or path.is_symlink()
    own = path.name.startswith(".") and PART in path.name
    return not live and output != "-" and not own and not (there and (path.is_symlink() or not path.is_file()))


def remove_leftovers(path: Path, *, every: bool = False) -> None:
    """Remove the temporary files of ``path`` that runs killed before they finished left (a power cut, ``kill -9``):
    those of a process no longer running (``every``: of every file in the folder ``path``, a masks folder's:
    :func:`~roadseg.pipeline.sinks.picture.part_name`). Nothing else there is touched."""
    folder, prefix = (path, ".") if every else (path.parent, f".{path.name}{PART}")
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            pid = entry.name.rpartition(PART)[2].split("-")[0].split(".")[0]
            if entry.name.startswith(prefix) and PART in entry.name and pid.isascii() and pid.isdigit() and not _running(int(pid)) \
                    and entry.is_file():  # fmt: skip
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # (another user's: running)
        return True
    return True


class Finishing:
    """:class:`~roadseg.pipeline.sinks.video.VideoSink`'s end. Its state: ``container``, ``path``, ``file`` (where it
    is written: ``path``, or its :func:`temporary_name` until :meth:`commit`), ``to_stdout``, ``shown``, ``boxes``,
    ``written``, ``_muxed``, ``finalised``, ``placed`` (None until the file is settled: put in place, True, or
    removed, False), ``_faulted`` (the encoder failed: the file is read back), ``_finishing`` (what
    finishing waits for: :meth:`_told_if_slow`), and its :meth:`close`."""

    def _finalise(self) -> None:
        """Write the trailer, then the sensor boxes (after the media and its index, where BlackVue keeps them too)."""
        try:
            self.container.close()
        except (OSError, av.error.FFmpegError) as exc:
            raise write_error(exc, f"cannot finish {self.shown}") from None
        if self.boxes and not self.to_stdout:
            try:
                with open(self.file, "ab") as f:
                    f.writelines(self.boxes)
            except OSError as exc:
                raise SinkError(f"cannot finish {self.shown}: {reason_of(exc)}") from None
        self.finalised = True

    @contextlib.contextmanager
    def _told_if_slow(self) -> Iterator[None]:
        """While the block finishes the file: where it is not done within :data:`SLOW_FINISH` s, one line on what it
        waits for (``_finishing``, as the block goes on), from a thread beside it (the flush is one call into the
        encoder, which cannot say how far it is). Was: a Ctrl-C's 2 s passed in silence at 4K."""
        done = threading.Event()
        held = self.written - self._muxed  # (pictures given to the encoder, not out yet: x264's B-frame delay)
        self._finishing = f"{held} picture{'' if held == 1 else 's'} still being encoded"

        def tell() -> None:
            if not done.wait(SLOW_FINISH):
                log.warning("finishing %s: %s...", self.shown, self._finishing)

        thread = spawn(tell, "finishing")
        try:
            yield
        finally:
            done.set()
            thread.join()

    def __exit__(self, *exc) -> None:
        """Closed (the file finalised where it is written). ``cut_short`` (as after :meth:`finish`): an error passed
        through the ``with`` block before it was closed, its pictures not all written (what a run's last error says
        of it: :func:`~roadseg.pipeline.outcome.unforeseen`). A file settled already (:meth:`finish`) is not closed
        again: where closing it failed, it failed in :meth:`finish` (was: raised again here, in place of the run's
        error)."""
        self.cut_short = exc[0] is not None and not self._closed
        if self.placed is None:  # (settled: closed before, or given up on where closing it failed)
            self.close()

    def finish(self, keep: bool) -> bool:
        """After a failed or interrupted run: finalise the frames written (``keep``), or remove the file.

        Returns whether a playable file with at least one frame was kept (on standard output: whether
        the stream was ended with its frames; it cannot be taken back): one whose trailer was written, even
        where the encoder then failed (its flush, or :meth:`close` before this), and, where the encoder failed,
        that opens again and plays (:meth:`_plays`): ``written`` is then the pictures it plays. Once the file is
        settled (put in place by :meth:`commit`, or removed), it is left so, and what was done is returned
        (``placed``): a run's last error, whatever raised it, can say what is left without undoing it. A fault nothing
        foresaw that keeping it meets (in closing, reading back or :meth:`commit`: a bug, met again here) removes it
        (one whole under its own name is kept): was, raised out of here, the file left under its temporary name.
        """
        if self.placed is not None:
            return self.placed
        self.cut_short = True
        try:
            if keep and self.written > 0 and self._kept():
                return True
        except Exception:  # noqa: BLE001 - a fault nothing foresaw, met again as it is cleaned up (a bug): settled all the same
            log.debug("keeping %s failed", self.shown, exc_info=True)
            if self.finalised and self.written > 0 and not self._faulted and self.file == self.path:  # (whole, in place)
                self.placed = True
                return True
        with contextlib.suppress(Exception):  # (its error is told already; one not foreseen: the file goes all the same)
            self.close()
        self._remove()
        self.placed = False
        return False

    def _kept(self) -> bool:
        """:meth:`finish`'s ``keep``: whether the file, closed, plays and was put in place."""
        with contextlib.suppress(SinkError):
            self.close()
        if self.finalised and self.written > 0 and not self._faulted:
            return self._renamed()
        plays = self._plays() if self.finalised and self.written > 0 else 0
        if plays != 0:
            self.written = self.written if plays is None else plays
            return self._renamed()
        return False

    def commit(self) -> None:
        """Put the finished file in place: rename its temporary file onto ``path`` (what was there before is replaced
        only now). :class:`SinkError` where it cannot be, the temporary file removed."""
        if self.file != self.path:
            try:
                os.replace(self.file, self.path)
            except OSError as exc:
                self._remove()
                self.placed = False
                raise SinkError(f"cannot finish {self.shown}: {reason_of(exc)}") from None
            self.file = self.path
        self.placed = True

    def _renamed(self) -> bool:
        """:meth:`commit` after a failure: whether the file was put in place."""
        try:
            self.commit()
        except SinkError:
            return False
        return True

    def _plays(self) -> int | None:
        """How many pictures the finished file plays, read back as a player reads it (:func:`pictures`): every
        packet demuxed to its end, its first picture and its last group of pictures decoded; 0 where none decodes
        or it does not open; None where it is out of reach (what went to standard output or into a named pipe: as
        it went). Was: its first picture alone decoded, and a file whose end was lost kept as holding every picture
        the encoder gave out."""
        if self.to_stdout or self.file.is_fifo():
            return None
        try:
            with av.open(file_url(self.file)) as back:
                return pictures(back)
        except Exception:  # noqa: BLE001 - PyAV raises IndexError (no video stream) as well as FFmpegError
            return 0

    def _remove(self) -> None:
        """Remove the file (what went to standard output or into a named pipe is out of reach; the pipe stays); one
        written under a temporary name leaves what ``path`` holds as it was."""
        if not self.to_stdout and not self.file.is_fifo():
            self.file.unlink(missing_ok=True)
