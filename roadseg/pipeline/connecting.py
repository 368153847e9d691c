"""The options of a live source's connection, and where each acts: ``--retries`` and ``--retry-delay`` where a camera
or a stream URL is opened (an http(s) URL too, which is read as a file once it opens with a length): the wait at the
start for one not there yet, and a stream's reconnects; ``--stream-timeout`` there, and in a file played ``--live``,
whose open and each read time out after it. Elsewhere (a file read whole, standard input, a named pipe, images,
``--concat``'s files) they do nothing, and are refused (:func:`unused_connecting`), in the one line of
:func:`~roadseg.pipeline.checks.video_only` (was: taken and ignored, unsaid).

Example:
    >>> unused_connecting(SegmentOptions("sample_videos/road.mp4", "o.mp4", retries=3, stream_timeout=2.0))
    ['--retries', '--stream-timeout']
    >>> unused_connecting(SegmentOptions("sample_videos/road.mp4", "o.mp4", live=True, retries=3, stream_timeout=2.0))
    ['--retries']
    >>> unused_connecting(SegmentOptions("0", show=True, retries=None)), unused_connecting(SegmentOptions("a.mp4"))
    ([], [])
"""

from __future__ import annotations

import glob
import os
from collections.abc import Collection
from dataclasses import fields

from roadseg.pipeline.options import SegmentOptions
from roadseg.pipeline.sources.images import is_image_input, is_pattern
from roadseg.pipeline.sources.opening import is_live_input, unknown_scheme

#: the options of a live source's connection; by field, their flags
CONNECTING = {"retries": "--retries", "retry_delay": "--retry-delay", "stream_timeout": "--stream-timeout"}


def unused_connecting(opts: SegmentOptions, given: Collection[str] = ()) -> list[str]:
    """The flags of :data:`CONNECTING` that do nothing for the input of ``opts``, of those it sets to other than their
    defaults and those ``given`` (fields the command line was given, at their default too: ``--retries 5``), in
    their order there: ``--retries`` and ``--retry-delay`` but for a camera or a stream URL (a file played ``--live``
    is opened once, never waited for nor reconnected), ``--stream-timeout`` but for live input (a file played
    ``--live`` too). None for a URL of a scheme roadseg does not read, nor for an input that is not there (a file,
    an image's too, or a glob that names none): they are refused as such (``unknown scheme``; ``input not found``,
    ``no images``, as it is opened; was, of a missing ``x.png``: ``--retries is for ...; x.png is images``).

    >>> unused_connecting(SegmentOptions("a.mp4"), ["retry_delay"]), unused_connecting(SegmentOptions("rtps://c/1", retries=1))
    ([], [])
    >>> unused_connecting(SegmentOptions("x.png", retries=1)), unused_connecting(SegmentOptions("none/*.png", retries=1))
    ([], [])
    >>> unused_connecting(SegmentOptions("sample_videos/road.mp4"), ["retry_delay"])
    ['--retry-delay']
    """
    spec = str(opts.input)
    connected = is_live_input(spec)  # (a camera, a stream URL: an http(s) one too, read as a file or not)
    if unknown_scheme(spec) or not (connected or spec == "-" or opts.concat or _there(spec)):
        return []
    acts = {"retries": connected, "retry_delay": connected, "stream_timeout": connected or opts.live}
    defaults = {f.name: f.default for f in fields(SegmentOptions)}
    return [flag for name, flag in CONNECTING.items()
            if not acts[name] and (name in given or getattr(opts, name) != defaults[name])]  # fmt: skip


def _there(spec: str) -> bool:
    """Whether path ``spec`` names something there: a file or folder (a link, where what it leads to is: one to
    nothing is said not found, as the opening says it; was refused its ``--retries`` as a file), or a glob of images
    that matches one.

    >>> _there("roadseg"), _there("roadseg/*.py"), _there("x.png"), _there("none/*.png")
    (True, True, False, False)
    """
    # (a pattern alone is globbed: a plain name is matched as a link, to nothing too)
    return os.path.exists(spec) or is_pattern(spec) and next(glob.iglob(spec), None) is not None


def connecting_for(flags: Collection[str]) -> list[tuple[list[str], str]]:
    """Of the connection's ``flags``, (those, what they are for) as the line that refuses them says it.

    >>> connecting_for(["--retries", "--stream-timeout"])  # doctest: +NORMALIZE_WHITESPACE
    [(['--retries'], 'a camera or a stream URL (its wait at the start, its reconnects)'),
     (['--stream-timeout'], 'a camera, a stream URL or a file played --live (how long its open and each read may take)')]
    """
    waits = [flag for flag in flags if flag != "--stream-timeout"]
    return [(named, what) for named, what in (
        (waits, "a camera or a stream URL (its wait at the start, its reconnects)"),
        ([f for f in flags if f == "--stream-timeout"],
         "a camera, a stream URL or a file played --live (how long its open and each read may take)")) if named]  # fmt: skip


def input_said(opts: SegmentOptions, pictures: bool = False) -> str:
    """What the input of ``opts`` is, where the options of a connection do nothing: images (``pictures``: as the
    caller found; else by their names), ``--live`` or not (was, with ``--live``: 'a file played --live' of a folder of
    images), standard input played ``--live`` (was: 'read as a file' then too) or not, a file.

    >>> input_said(SegmentOptions("clip.mp4", live=True)), input_said(SegmentOptions("-"))
    ('is a file played --live, opened once and never reconnected', 'is standard input, read as a file')
    >>> input_said(SegmentOptions("-", live=True)), input_said(SegmentOptions("frames/*.png", live=True))
    ('is standard input played --live, opened once and never reconnected', 'is images')
    """
    once = "played --live, opened once and never reconnected"
    return ("names files joined by --concat" if opts.concat else "is images" if pictures or is_image_input(str(opts.input))
            else f"is standard input {once}" if str(opts.input) == "-" and opts.live
            else "is standard input, read as a file" if str(opts.input) == "-"
            else f"is a file {once}" if opts.live else "is a file")  # fmt: skip
