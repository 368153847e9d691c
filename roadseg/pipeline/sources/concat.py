"""Several video files read as one: the one-minute files a dashcam writes of one drive.

FFmpeg's concat demuxer reads them back to back, so timestamps run on from file to file and the audio
with them; :func:`concat_source` returns an ordinary :class:`VideoSource` over it. The files must be
one camera's: the same video codec and size, the same audio (the demuxer would take another's
packets for the first file's codec) and their streams in one order (it puts a later file's stream N
where the first file's stream N is, whatever either is). Files of another camera or format, and one
that cannot be read at all (the last file of a drive, cut off when the power went), are left out
before any work, with one line; the camera most of the files come from is the one joined
(``batch --concat`` writes the others' as drives of their own: :func:`~roadseg.pipeline.sources.drives.joins`). A dual
dashcam writes its front and rear files into one folder, often at one size: where every file's name
ends in a camera's letter or word (:data:`~roadseg.pipeline.sources.cameras.CAMERA_TAGS`: ``..._NF.MP4``, ``..._NR.MP4``;
``...0003F.MP4``, ``...0004R.MP4``; ``...-front.mp4``, ``...-back.mp4``), the front camera's files
are joined and the others left out, with one line; a glob picks another (``"DCIM/*R.MP4"``), and
``batch --concat`` writes each camera's as drives of their own too.

Example:
    >>> concat_list([Path("/drive/a.mp4"), Path("/drive/it's.mp4")])
    "ffconcat version 1.0\\nfile '/drive/a.mp4'\\nfile '/drive/it'\\\\''s.mp4'\\n"
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from roadseg.errors import SourceError
from roadseg.pipeline.inputs import DRIVE_GAP, find_videos
from roadseg.pipeline.sources.boxes import say_sensor_boxes, sensor_boxes
from roadseg.pipeline.sources.cameras import one_camera, one_view
from roadseg.pipeline.sources.containers import open_container
from roadseg.pipeline.sources.drives import cut_drives
from roadseg.pipeline.sources.file import VideoSource
from roadseg.pipeline.sources.joinstreams import (
    audio_indices,
    blind_audio,
    fewer_audio,
    fewer_streams,
    late_streams,
    without_codec,
)
from roadseg.pipeline.sources.probe import Placing, named_files, probe_file

log = logging.getLogger("roadseg")


def concat_paths(spec: str | Path, parts: Sequence[str | Path] = ()) -> list[Path]:
    """The video files a folder (searched recursively), a glob or an ``@list.txt`` names, in name
    order (the order a dashcam numbers its files in; a GoPro's chapters in recording order), or
    ``parts`` as they are where given (``spec`` then only names them); SourceError if there are none
    or none is there (one missing among others, a link to a file moved away, is left out by
    :func:`concat_source` as a file that cannot be read is)."""
    paths = [Path(p) for p in parts] if parts else [v.path for v in find_videos([str(spec)])]
    if paths and not any(p.exists() for p in paths):
        raise SourceError(f"input not found: {paths[0]}")
    if not paths:
        raise SourceError(f"no video files in {spec} to join (--concat)")
    return paths


def concat_list(paths: list[Path], durations: Sequence[float | None] = ()) -> str:
    """An ffconcat script of ``paths`` (absolute; quotes escaped as the concat demuxer reads them), each file
    followed by the ``duration`` that ``durations`` gives it, where it gives one (:func:`_durations`: the demuxer
    starts the next file that many seconds after this one's start; else after this one's length as FFmpeg reads it).

    >>> concat_list([Path("/d/a.ts"), Path("/d/b.ts")], [1.054, None]).splitlines()[1:]
    ["file '/d/a.ts'", 'duration 1.054000', "file '/d/b.ts'"]
    """
    lines = []
    for n, path in enumerate(paths):
        lines.append("file '" + str(path.resolve()).replace("'", "'\\''") + "'\n")
        if n < len(durations) and durations[n] is not None:
            lines.append(f"duration {durations[n]:.6f}\n")
    return "ffconcat version 1.0\n" + "".join(lines)


def _durations(placed: Sequence[Placing]) -> tuple[list[float | None], list[float]]:
    """The ``duration`` of each file in the join's script (None: none, the demuxer's own, FFmpeg's length of it), so
    that each file's true start follows where the file before it truly ends
    (:class:`~roadseg.pipeline.sources.probe.Placing`): the demuxer starts the next file that many seconds after it
    starts this one, and puts a file's FFmpeg start, not its true one, where it starts it. None where FFmpeg's length
    is the true one (no file's first pictures damaged, nor its sound's priming or padding past them). (The first file's true start lies as far after the join's 0 as its FFmpeg start lies before
    it: :class:`~roadseg.pipeline.sources.file.VideoSource` starts there, as in a file alone, and puts each file's
    damaged pictures back, its ``moves``.) A duration may be below 0 (a file shorter than the next one's damage: the
    demuxer takes it), but no file starts before the join's 0 (the demuxer refuses the script) nor where the one before
    it starts (it tells the files apart by where it starts them: ``FILE_TAGS``): such a file starts there, and the files
    after it follow it, later than they should. And so the seconds each file starts later than it should (VideoSource
    moves its packets back by as much, its ``shifts``).

    >>> _durations([Placing(4.032, 4.032), Placing(4.032, 7.01, -2.978), Placing(4.032, 4.032)])
    ([1.054, None, None], [0.0, 0.0, 0.0])
    >>> _durations([Placing(4.032, 4.032), Placing(4.032, 5.141), Placing(4.032, 4.032)])
    ([None, 4.032, None], [0.0, 0.0, 0.0])
    >>> _durations([Placing(2.0, 2.0), Placing(2.0, 5.0, -3.0), Placing(4.0, 5.0), Placing(2.0, 5.0, -3.0)])
    ([1e-06, None, 1.0, None], [0.0, 1.000001, 1.000001, 1.000001])
    """
    early = [p.early for p in placed] + [0.0]
    out: list[float | None] = []
    late = [0.0]  # (of each file)
    at: float | None = 0.0  # where the demuxer starts the file (None: where FFmpeg's length of one before it ends)
    for n, p in enumerate(placed):
        want, later = None if p.length is None else p.length + early[n + 1] - early[n], 0.0  # (the next file)
        if want is not None and at is not None and want < 1e-6 - at:
            later, want = 1e-6 - at - want, 1e-6 - at
        if want is not None and abs(want) < 1e-6:
            later, want = later + 1e-6 - want, 1e-6
        if want is None or p.ffmpeg is not None and abs(want - p.ffmpeg) < 1e-6:
            out.append(None)
            at = None if at is None or p.ffmpeg is None else at + p.ffmpeg
        else:
            out.append(round(want, 6))
            at = None if at is None else at + round(want, 6)
        late.append(late[-1] + later)
    return out, [round(t, 6) for t in late[:-1]]


#: The concat demuxer's option that tags each packet with its file's start and length on the joined timeline
#: (``lavf.concatdec.start_time``, ``duration``): where a file begins, its decoder starts afresh
#: (:class:`~roadseg.pipeline.sources.decoder.Decoder`).
FILE_TAGS = {"segment_time_metadata": "1"}


def _readable(spec: str | Path, parts: Sequence[str | Path]) -> tuple[list[Path], dict, dict, dict]:
    """The files :func:`concat_paths` names that can be read, each with its signature, info and placing
    (:func:`~roadseg.pipeline.sources.probe.probe_file`); one that cannot is left out, with one line. SourceError where
    none can."""
    paths, signatures, infos, placings = [], [], {}, {}
    for path in concat_paths(spec, parts):
        try:
            signature, infos[path], placings[path] = probe_file(path)
        except SourceError as exc:  # the drive's last file, cut off when the power went: the rest are joined
            log.warning("left out of the join: %s", str(exc))
            continue
        paths.append(path)
        signatures.append(signature)
    if not paths:
        raise SourceError(f"no readable video files in {spec} to join (--concat)")
    signature_of = dict(zip(paths, signatures))
    return paths, signature_of, infos, placings


def _opened_join(paths: list[Path], placings: dict, hwaccel: str | None):
    """The concat demuxer's container of ``paths`` (their script, :func:`concat_list`, in a temporary file gone once it
    is opened), and the seconds each file starts later than it should (:func:`_durations`)."""
    fd, script = tempfile.mkstemp(suffix=".ffconcat", prefix="roadseg-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            durations, behind = _durations([placings[p] for p in paths])
            f.write(concat_list(paths, durations))
        container = open_container(script, format="concat", options={"safe": "0", **FILE_TAGS}, hwaccel=hwaccel)
    finally:
        os.unlink(script)  # (the demuxer reads the whole script as it opens)
    return container, behind


def concat_source(spec: str | Path, parts: Sequence[str | Path] = (), **kw) -> VideoSource:
    """A :class:`VideoSource` reading the videos ``spec`` names (or ``parts``, :func:`concat_paths`)
    back to back (``kw``: its options).
    Its ``info`` counts the frames and seconds of all of them and has the first file's tags (its
    ``creation_time``: when the drive began)."""
    paths, signature_of, infos, placings = _readable(spec, parts)
    paths = one_view(paths)
    paths = one_camera(paths, [signature_of[p] for p in paths])
    first, most = len(signature_of[paths[0]][1]), max(len(signature_of[p][1]) for p in paths)
    late = late_streams([signature_of[p][2] for p in paths])
    said = {i: kind for i, kind in late.items() if kind != "audio" or kw.get("audio", True)}
    if any(kind != "audio" for kind in said.values()):  # (the audio among them named too)
        log.warning("the first file joined, %s, %s", paths[0].name, fewer_streams(len(signature_of[paths[0]][2]), said))
    elif kw.get("audio", True) and most > first:
        log.warning("the first file joined, %s, %s", paths[0].name, fewer_audio(first, most))
    if blind := blind_audio([signature_of[p][1] for p in paths]):
        if kw.get("audio", True):
            kw.update(without_codec(paths, [signature_of[p][1] for p in paths], blind, kw.get("start", 0.0),
                                     infos[paths[0]].duration))  # fmt: skip
        else:  # (what the demuxer makes of those streams is not told of with --no-audio)
            kw["said"] = frozenset(audio_indices(paths[0], blind).values())
    if len(cut := cut_drives(paths, infos, DRIVE_GAP)) > 1:
        log.warning("the files hold %d drives (the recording paused for more than %d s, or the clock went back, "
                    "before %s); they are joined into one video (roadseg batch --concat writes one a drive)",
                    len(cut), DRIVE_GAP, named_files([part[0] for part in cut[1:]]))  # fmt: skip
    kept = [infos[p] for p in paths]
    say_sensor_boxes([box for p in paths for box in sensor_boxes(p)], "the joined files")
    container, behind = _opened_join(paths, placings, kw.pop("hwaccel", None))
    chunked = all(Path(p).suffix.lower() == ".avi" for p in paths)  # (their empty chunks: held pictures)
    moves = [placings[p].moves for p in paths]  # (each file's damaged first pictures, put back as the join reads them)
    source = VideoSource(str(spec), container=container, chunked=chunked, moves=moves, shifts=[-t for t in behind], **kw)
    source.joins, source.late_said = len(paths) - 1, bool(late)  # (the later files' streams past the first's: said above)
    frames = [i.frames for i in kept]
    seconds = [i.duration for i in kept]
    source.info = replace(source.info, frames=sum(frames) if all(frames) else None,
                          duration=sum(seconds) if all(seconds) else None,
                          tags=kept[0].tags, video_tags=kept[0].video_tags)  # (the drive began with the first file)  # fmt: skip
    # (the demuxer's video has the first file's Matroska DURATION tag: taken for the join's length, a later file's
    # subtitles a second past it were left out as damaged)
    source._length = source.info.duration
    return source
