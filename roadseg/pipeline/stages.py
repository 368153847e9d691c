"""A run's stages as its options and sinks make them: their three names (:func:`stage_names`) and the last one,
the :class:`~roadseg.pipeline.writer.Writer` (:func:`build_writer`: its overlay, progress and sound as the run's
options and source say).

Example:
    >>> stage_names(False, [])                      # a file's run whose sinks take no picture: masks alone
    ('decode', 'infer', 'masks')
"""

from __future__ import annotations

import threading
from pathlib import Path

from roadseg.pipeline.infer import Segmenter
from roadseg.pipeline.options import SegmentOptions
from roadseg.pipeline.overlay import Overlay, palette_lut
from roadseg.pipeline.queues import LatestQueue
from roadseg.pipeline.sinks import Sink, VideoSink
from roadseg.pipeline.sinks.aspect import legend_aspect
from roadseg.pipeline.sources import Source
from roadseg.pipeline.timing import FrameStats, Progress, StageTimes
from roadseg.pipeline.writer import Writer, draws


def build_writer(opts: SegmentOptions, source: Source, seg: Segmenter, sinks: list[Sink], times: StageTimes,
                 stats: FrameStats, queue: LatestQueue | None, stop: threading.Event,
                 expected: int | None) -> Writer:  # fmt: skip
    """The last stage: the overlay drawn and written to ``sinks``, its :class:`Progress` (``.progress``) counting
    up to ``expected``."""
    overlay = Overlay(palette_lut(seg.palette), alpha=opts.alpha, mode=opts.mode,
                      legend=seg.classes if opts.legend else None,
                      sample_aspect=legend_aspect(next((s for s in sinks if isinstance(s, VideoSink)), None),
                                                  source.info.sample_aspect))  # fmt: skip
    progress = Progress(expected, Path(str(opts.input)).name or str(opts.input), enabled=not opts.quiet,
                        figures=stats.figures if source.live else None)  # fmt: skip
    return Writer(overlay, sinks, times, stats, progress, stop=stop, dropped=queue, max_frames=opts.max_frames,
                  seconds=opts.duration if source.live else None,
                  frame_step=None if source.live or not source.info.fps else float(1 / source.info.fps),
                  hud=source.live and not opts.no_hud, live=source.live,
                  shares=len(seg.classes) if opts.stats and not source.live else None,
                  sounds=len(source.audio_streams) if _on_disk(opts, source) else 0,
                  sample_aspect=source.info.sample_aspect)  # fmt: skip


def stage_names(live: bool, sinks: list[Sink]) -> tuple[str, str, str]:
    """The three stages' names: a live source's are captured and its pictures output (a window, a browser view, a
    recording), a file's decoded and encoded; the last is ``masks`` where no sink takes the picture (masks alone:
    nothing encoded nor shown; a live run's too: was ``output failed: ...`` of its full disk).

    >>> stage_names(True, []), stage_names(False, [])
    (('capture', 'infer', 'masks'), ('decode', 'infer', 'masks'))
    """
    last = "masks" if not draws(sinks) else "output" if live else "encode"
    return ("capture" if live else "decode", "infer", last)


def _on_disk(opts: SegmentOptions, source: Source) -> bool:
    """Whether the run reads a file on this machine, which a run cut short reads on in (not a pipe, whose writer may
    keep the next bytes waiting, nor a URL)."""
    return not source.live and Path(str(opts.input)).is_file()
