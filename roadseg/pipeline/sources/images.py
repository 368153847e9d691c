"""Image inputs: one image, a folder, or a glob pattern, as frames in name order. An image that cannot
be read among others (damaged, or not an image) is left out with one line naming it; the others are segmented.
One whose data is damaged but decodes (a JPEG cut short: its lower part grey) is segmented as it decoded, with
one line naming it and what the codec library said, which would otherwise reach the terminal raw.

Example:
    >>> is_image_input("frames/*.jpg"), is_image_input("photo.png"), is_image_input("dashcam.mp4")
    (True, True, False)
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from roadseg._stderr import caught_stderr, pass_on
from roadseg.errors import SourceError
from roadseg.pipeline.sources.base import Frame, VideoInfo
from roadseg.pipeline.suffixes import IMAGE_SUFFIXES, UNREAD_IMAGE_SUFFIXES, VIDEO_SUFFIXES

log = logging.getLogger("roadseg")

# What OpenCV's image codecs write on file descriptor 2 of damaged data: libjpeg's warnings (its JWRN_
# messages; at most one an image), libpng's messages, and OpenCV's log lines (which carry libtiff's).
_LIBJPEG = re.compile(r"(?:Corrupt JPEG data|Premature end of JPEG file|Invalid SOS parameters|Inconsistent progression"
                      r"|Unknown Adobe color transform|Warning: unknown JFIF|Application transferred too many).*")
_LIBPNG = re.compile(r"libpng (?:warning|error): (.*)")
_OPENCV = re.compile(r"\[ ?[A-Z]+:[^\]]*\] \S+ \S+:\d+ (\S+) (.*)")  # [ WARN:0@2.380] global grfmt_tiff.cpp:123 func text


def is_pattern(text: str) -> bool:
    """A glob pattern: glob characters in a name that is not there as it is (``clip [1080p].mp4``,
    as downloaders name files, is a file)."""
    return any(ch in text for ch in "*?[") and not Path(text).exists()


def is_image_input(spec: str | Path) -> bool:
    """An image file, a folder, or a glob pattern (rather than a video); a photo roadseg cannot read (HEIC) is
    one too, refused by :func:`image_paths`."""
    text = str(spec)
    if is_pattern(text):
        return True
    p = Path(text)
    return p.is_dir() or p.suffix.lower() in IMAGE_SUFFIXES + UNREAD_IMAGE_SUFFIXES


def image_paths(spec: str | Path) -> list[Path]:
    """The image files an image input names, sorted; SourceError if there are none, or if any is a photo
    roadseg cannot read (a HEIC among JPEGs is refused, not left out unsaid)."""
    text = str(spec)
    if is_pattern(text):
        import glob

        paths = [Path(p) for p in sorted(glob.glob(text))]
    elif Path(text).is_dir():
        paths = sorted(Path(text).iterdir())
    else:
        if not Path(text).exists():
            raise SourceError(f"input not found: {text}")
        paths = [Path(text)]
    if unread := [p for p in paths if p.suffix.lower() in UNREAD_IMAGE_SUFFIXES and p.is_file()]:
        what = (f"{text} is a HEIC/HEIF photo" if unread == [Path(text)] else
                f"{text} {'matches' if is_pattern(text) else 'holds'} {len(unread)} HEIC/HEIF photo{'s' if len(unread) > 1 else ''}")  # fmt: skip
        raise SourceError(f"{what}, which roadseg cannot read: convert {'it' if len(unread) == 1 else 'them'} to JPEG "
                          f"or PNG first (e.g. heif-convert {unread[0].name} {unread[0].stem}.jpg, from libheif)")  # fmt: skip
    found, paths = paths, [p for p in paths if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if not paths:
        videos = sum(p.suffix.lower() in VIDEO_SUFFIXES for p in found)
        if videos:
            verb = "matches" if is_pattern(text) else "holds"
            raise SourceError(f"{text} {verb} {videos} video{'s' if videos > 1 else ''} and no images: segment-video "
                              f"takes one video (--concat joins one camera's files into one output); for one output "
                              f"a video, roadseg batch {text!r} -o OUT_DIR")  # fmt: skip
        raise SourceError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {text}")
    return paths


def read_image(path: Path) -> np.ndarray:
    """An image file as RGB uint8 [H,W,3]; :class:`SourceError` naming the file if it cannot be read. One that
    decodes though its codec library found damaged data gets a warning line naming it and what that said."""
    with caught_stderr() as said:  # (the codec libraries print on file descriptor 2, below Python)
        try:
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        except cv2.error:  # (a damaged header: a size past OpenCV's bounds fails its assertion)
            bgr = None
    damage = _codec_messages(bytes(said), path)
    if damage and bgr is not None:
        log.warning("%s: damaged data (%s); segmented what decoded", path, "; ".join(damage))
    if bgr is None:  # (what the library said is why; the line says it cannot be read)
        if path.suffix.lower() == ".avif" and not cv2.haveImageWriter("x.avif"):  # (built without libavif)
            raise SourceError(f"cannot read image {path}: this OpenCV ({cv2.__version__}) has no AVIF codec; convert "
                              "it to PNG or JPEG, or install an opencv-python-headless built with one")  # fmt: skip
        raise SourceError(f"cannot read image {path} (damaged, or not an image)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _codec_messages(said: bytes, path: Path) -> list[str]:
    """What the codec libraries said of ``path`` in ``said``, each once, as ``library: message``; what they did
    not say (another thread's lines, written meanwhile) is passed on to standard error as it came."""
    messages, others = [], b""
    for raw in io.BytesIO(said).readlines():  # (by "\n" alone: a bar's "\r" is no line's end)
        line = raw.decode(errors="replace").strip()
        if not line:  # (OpenCV's message of a header it cannot read ends with an empty line)
            continue
        if jpeg := _LIBJPEG.fullmatch(line):
            message = f"libjpeg: {jpeg[0]}"
        elif png := _LIBPNG.fullmatch(line):
            message = f"libpng: {png[1]}"
        elif opencv := _OPENCV.fullmatch(line):
            text = opencv[2].removeprefix(f"{path}: ")  # (libtiff names the file where it has no function to name)
            message = f"libtiff: {text}" if opencv[1].startswith("TIFF_") else f"OpenCV: {text}"
        else:
            others += raw
            continue
        if message not in messages:
            messages.append(message)
    pass_on(others)
    return messages


class ImageSource:
    """Images as frames, in name order; ``names[i]`` is the file of frame ``i``; ``.info`` describes the first
    that reads. One that cannot be read is left out, said and counted in ``lost`` (frame ``i`` is then missing);
    :class:`SourceError` where none can."""

    live = False
    kind = "images"
    audio_streams = ()
    subtitle_streams = ()
    data_streams = ()
    audio_samples: dict = {}
    audio_dropped = 0
    subtitles_dropped = 0
    data_dropped = 0
    joins = 0
    sensor_boxes = ()

    def __init__(self, spec: str | Path) -> None:
        self.paths = image_paths(spec)
        self.names = [p.name for p in self.paths]
        self.lost = 0
        unread = []  # (said once one reads: where none does, the one error says it all)
        for at, path in enumerate(self.paths):
            try:
                self._at, self._first = at, read_image(path)
                break
            except SourceError as exc:
                if len(self.paths) == 1:
                    raise
                unread.append(exc)
        else:
            raise SourceError(f"cannot read any of the {len(self.paths)} images in {spec} (damaged, or not images)")
        for exc in unread:
            self._left_out(exc)
        h, w = self._first.shape[:2]
        self.info = VideoInfo(path=str(spec), width=w, height=h, fps=None, time_base=None, frames=len(self.paths),
                              duration=None, codec="image", pix_fmt="rgb24", audio_streams=0)  # fmt: skip

    def __enter__(self) -> ImageSource:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def expected_frames(self) -> int:
        return len(self.paths)

    def _left_out(self, exc: SourceError) -> None:
        self.lost += 1
        log.warning("%s; left out, the other images are segmented", exc)

    def __iter__(self) -> Iterator[Frame]:
        yield Frame(self._at, self._first, None, None)
        for i in range(self._at + 1, len(self.paths)):
            try:
                yield Frame(i, read_image(self.paths[i]), None, None)
            except SourceError as exc:
                self._left_out(exc)
