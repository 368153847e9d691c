"""Several video files read as one: the one-minute files a dashcam writes of one drive.

FFmpeg's concat demuxer reads them back to back, so timestamps run on from file to file and the audio
with them; :func:`concat_source` returns an ordinary :class:`VideoSource` over it. The files must be
one camera's: the same video codec and size and the same audio. One that is not is refused, by
name, before any work (the demuxer would take its packets for the first file's codec); one that
cannot be read at all (the last file of a drive, cut off when the power went) is left out, with one
line. A dual dashcam writes its front and rear files into one folder: give a glob that picks one
camera (``"DCIM/*_F.MP4"``).

Example:
    >>> concat_list([Path("/drive/a.mp4"), Path("/drive/it's.mp4")])
    "ffconcat version 1.0\\nfile '/drive/a.mp4'\\nfile '/drive/it'\\\\''s.mp4'\\n"
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import replace
from pathlib import Path

from roadseg.errors import SourceError
from roadseg.pipeline.sources.base import VideoInfo, open_container, picture_stream
from roadseg.pipeline.sources.file import VideoSource

log = logging.getLogger("roadseg")


def concat_paths(spec: str | Path) -> list[Path]:
    """The video files a folder (searched recursively), a glob or an ``@list.txt`` names, in name
    order (the order a dashcam numbers its files in); SourceError if there are none."""
    from roadseg.batch.errors import BatchError
    from roadseg.batch.inputs import find_videos

    try:
        videos = find_videos([str(spec)])
    except BatchError as exc:
        raise SourceError(str(exc)) from None
    paths = [v.path for v in videos]
    if missing := next((p for p in paths if not p.is_file()), None):
        raise SourceError(f"input not found: {missing}")
    if not paths:
        raise SourceError(f"no video files in {spec} to join (--concat)")
    return paths


def concat_list(paths: list[Path]) -> str:
    """An ffconcat script of ``paths`` (absolute; quotes escaped as the concat demuxer reads them)."""
    lines = "".join("file '" + str(p.resolve()).replace("'", "'\\''") + "'\n" for p in paths)
    return "ffconcat version 1.0\n" + lines


def _signature(path: Path) -> tuple[str, int, int, tuple[str, ...]]:
    """What must be the same in every file: video codec and size, the audio codecs."""
    with open_container(str(path)) as container:
        s = picture_stream(container)
        audio = tuple(a.codec_context.name for a in container.streams.audio)
        return s.codec_context.name, s.codec_context.width, s.codec_context.height, audio


def concat_source(spec: str | Path, **kw) -> VideoSource:
    """A :class:`VideoSource` reading the videos ``spec`` names back to back (``kw``: its options).
    Its ``info`` counts the frames and seconds of all of them and has the first file's tags (its
    ``creation_time``: when the drive began)."""
    paths, signatures = [], []
    for path in concat_paths(spec):
        try:
            signatures.append(_signature(path))
            paths.append(path)
        except SourceError as exc:  # the drive's last file, cut off when the power went: the rest are joined
            log.warning("left out of the join: %s", str(exc))
    if not paths:
        raise SourceError(f"no readable video files in {spec} to join (--concat)")
    first = signatures[0]
    for path, this in zip(paths[1:], signatures[1:]):
        if this != first:
            def say(sig):
                return f"{sig[0]} {sig[1]}x{sig[2]}, audio {', '.join(sig[3]) or 'none'}"

            raise SourceError(f"--concat joins one camera's files, but {path.name} is {say(this)} where "
                              f"{paths[0].name} is {say(first)}")  # fmt: skip
    infos = [VideoInfo.from_path(p) for p in paths]
    fd, script = tempfile.mkstemp(suffix=".ffconcat", prefix="roadseg-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(concat_list(paths))
        container = open_container(script, format="concat", options={"safe": "0"}, hwaccel=kw.pop("hwaccel", None))
    finally:
        os.unlink(script)  # (the demuxer reads the whole script as it opens)
    source = VideoSource(str(spec), container=container, **kw)
    source.joins = len(paths) - 1
    frames = [i.frames for i in infos]
    seconds = [i.duration for i in infos]
    source.info = replace(source.info, frames=sum(frames) if all(frames) else None,
                          duration=sum(seconds) if all(seconds) else None,
                          tags=infos[0].tags, video_tags=infos[0].video_tags)  # (the drive began with the first file)  # fmt: skip
    return source
