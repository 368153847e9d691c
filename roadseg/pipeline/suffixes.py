"""File extensions roadseg tells media by (case-insensitive). Constants only: ``import roadseg`` (batch)
reads them without PyAV or OpenCV.

Example:
    >>> ".webm" in VIDEO_SUFFIXES, ".png" in IMAGE_SUFFIXES
    (True, True)
"""

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".avif")
#: photos roadseg has no reader for (OpenCV has none; FFmpeg 7.1+ gives a tiled HEIC, as phones write them, as its
#: tiles in streams apart and a stream group PyAV does not read, not as one picture: from its documentation, not run,
#: there is no HEIC encoder here): an input named so is refused in one line that says to convert it
UNREAD_IMAGE_SUFFIXES = (".heic", ".heif")
#: taken as video files by a batch's folder or glob search, and as the name of a file, not a folder,
#: when images are written
VIDEO_SUFFIXES = frozenset(".mp4 .m4v .mov .mkv .webm .avi .ts .mts .m2ts .mpg .mpeg .flv .wmv .3gp .mxf .ogv".split())
#: raw video streams (H.264 and HEVC, as some DVRs record them; H.266, MPEG-1/2, VC-1, MJPEG): they hold no times,
#: and are read at the rate their header states, else FFmpeg's 25 frames/s
#: (:func:`~roadseg.pipeline.sources.framerates.untimed_rate`); a batch takes them where named or matched by a glob,
#: not in a folder search, where such a camera's stream often lies beside its .mp4 copy of the same name (raw MPEG-4's
#: .m4v is a video file's: Apple's MP4)
RAW_VIDEO_SUFFIXES = frozenset(".h264 .264 .h265 .265 .hevc .h266 .266 .vvc .m1v .m2v .mpv .vc1 .mjpeg .mjpg".split())
#: audio-only containers: never a video output's name
AUDIO_SUFFIXES = frozenset(".wav .mp3 .aac .flac .opus .m4a .wma .aiff".split())
