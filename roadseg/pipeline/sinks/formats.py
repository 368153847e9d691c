"""What a video output's container is told: the live pipe's muxer settings (:data:`LIVE_PIPE`), the formats that
start audio with video or keep no picture's time, and how Apple's tags and HEVC are written in mp4 and mov.
"""

from __future__ import annotations

from collections.abc import Mapping

#: How a live recording goes to standard output: each packet written to the pipe as it is muxed (FFmpeg's own
#: 32 KB buffer held a small picture's packets back for dozens of frames) and each in a Matroska cluster of its
#: own (a cluster is written out whole, when the next packet begins another: a packet reaches the pipe as the
#: one after it is muxed), in the order they are muxed: FFmpeg's interleaving (``max_interleave_delta``, 10 s by
#: default) held each picture until sound of its time had come, and a live source's sound may come late or in chunks.
#: At 1 µs a packet waits only for the next one timed after it, and sound that comes late follows the pictures in the
#: stream (Matroska keeps each packet's time: a player plays them together). Measured (benchmarks/live_pipe_delay.py,
#: a file played live, from when each picture was paced to when it reached the reader, median / p95): sound stored 1 s
#: after its pictures 0.91 / 1.40 s, a second of pictures at once, now 0.083 / 0.091 s, one at a time; sound stored by
#: time 0.043 / 0.050 s, now 0.003 / 0.044 s; no sound 0.043 / 0.050 s, as before. A live run into a named pipe gets
#: them too (:func:`live_pipe_options`). A file run keeps FFmpeg's buffers, clusters and interleaving
LIVE_PIPE = {"flush_packets": "1", "cluster_time_limit": "0", "max_interleave_delta": "1"}
#: formats whose audio starts with their video whatever the input's timestamps say (AVI: a track's time
#: is its place in the file): audio that began later or earlier plays out of step there, said in one line. Their
#: negative timestamps are written as they are: FFmpeg's muxer moved every stream on by the sound's lead (an mp4's
#: AAC priming, sound from before the first picture), and AVI put as many empty chunks after the first picture: each
#: later one played that much late (0.04 s for the priming, 0.24 s for sound 0.2 s ahead). Each picture is at its
#: place there: FFmpeg reads a picture that has no time of its own (AVI holds none) at its place, but an H.264 one a
#: frame step later (its parser's guess; MPEG-4 part 2 and MJPEG at their place) unless the stream carries HRD timing,
#: which x264 writes there (:func:`~roadseg.pipeline.sinks.hrd.hrd_params`: at the level it marks without it)
NO_AUDIO_OFFSET = frozenset({"avi"})
#: formats whose negative timestamps are written as they are: :data:`NO_AUDIO_OFFSET`'s, and F4V (the mp4 muxer's own
#: edit lists, as in an mp4) and WTV (it stores them). Shifted on (FFmpeg's ``avoid_negative_ts``, by x264's B-pyramid
#: delay, two frame steps), their first picture read back at 0.08 s at 25 frames/s and an F4V's AAC at 0.058 s; now
#: both at 0.0, B-frames kept. (FLV cannot: its muxer starts it at the first packet's decoding time,
#: :data:`NO_REORDER_FORMATS`)
NEGATIVE_TIMES_KEPT = frozenset({*NO_AUDIO_OFFSET, "f4v", "wtv"})
#: formats whose reader runs AAC's packets together (WTV: 0.4 s of an mkv's AAC read back as packets of 246 and 3550
#: bytes), so that AAC decodes there only ADTS-framed (a transport stream's), which FFmpeg's encoder does not write:
#: raw AAC is neither copied nor re-encoded as AAC there, but goes in as the container's own (AC-3). Was: read back
#: as 'Invalid data found when processing input'
ADTS_AAC_ONLY = frozenset({"wtv"})
#: FFmpeg's MPEG program stream muxers (``.mpg``/``.mpeg``: ``mpeg``; ``.vob``: ``vob``; ``.dvd``: ``dvd``; ``svcd``,
#: ``vcd``). Their PES packets carry the time of the first picture that begins in them only: a pack of 2048 bytes holds
#: several small pictures, the others untimed, which FFmpeg times again from MPEG-1/2's and MPEG-4 part 2's frame rate
#: (on a frame clock) and from H.264's HRD timing, never from HEVC's (:data:`PROGRAM_STREAM_ENCODERS`)
PROGRAM_STREAMS = frozenset({"mpeg", "vob", "dvd", "svcd", "vcd"})
#: The encoders whose every picture FFmpeg (8.1, PyAV) reads back from a program stream with its time, in order:
#: MPEG-1/2, MPEG-4 part 2 (on a frame clock: on an mp4's 1/12800, 27 of 30 pictures read untimed) and x264's H.264
#: with HRD timing and no B-frames (:data:`HRD_TIMED`, :data:`NO_REORDER_FORMATS`; without, 28 of 30 untimed, its
#: length read as 0.02 s; with B-frames, at 1 frame/s a picture read after the next, 2 s late). Measured on a
#: 30-picture 128x96 clip, every other encoder's video came out unreadable or wrong: x265's HEVC 28 of 30 untimed with
#: any option (``bframes=0``, ``hrd=1``: FFmpeg never times HEVC again), VP8, VP9, AV1, MJPEG, FFV1, ProRes, PNG, GIF,
#: raw video and MS-MPEG4 read back as no picture at all, H.263 as a raw H.263 file without its sound
PROGRAM_STREAM_ENCODERS = frozenset({"mpeg1video", "mpeg2video", "mpeg4", "libx264"})
#: formats where FFmpeg reads an H.264 picture at its time only from the HRD timing x264 writes (an AVI or ASF: a frame
#: step late without it, 0.04 s at 25 frames/s; a program stream: untimed, :data:`PROGRAM_STREAMS`)
HRD_TIMED = frozenset({"avi", "asf", "asf_stream", *PROGRAM_STREAMS})
#: formats that keep no picture's time, only its place (AVI: its chunk; MXF: its edit unit), where FFmpeg reads H.264's
#: B-frames timed out of order (an AVI's first pictures at 0.04, 0.16, 0.12, 0.2 s), and program streams, where it reads
#: x264's B-frames out of place (at 1 frame/s the 12th picture at 18.5 s, after the 13th), and ASF (``.wmv``,
#: ``.asf``), which keeps a packet's presentation time only: x264's B-frames read back in decoding order (0.04, 0.08,
#: 0.16, 0.12, 0.28, 0.24 s), and FLV, which keeps them in order but starts at the first packet's decoding time: its first
#: picture read back at x264's B-pyramid delay (0.08 s at 25 frames/s; an AAC sound's priming at 0.059 s), now at 0.0
#: (AAC's: at its priming's end, 0.021 s, which FLV cannot mark). x264 writes none there
NO_REORDER_FORMATS = frozenset({"avi", "flv", "mxf", "mxf_d10", "mxf_opatom", "asf", "asf_stream", *PROGRAM_STREAMS})
#: What a strict DVD player takes, as FFmpeg's ``-target dvd`` sets it (fftools/ffmpeg_opt.c): MPEG video of 6 Mb/s on
#: average and 9 Mb/s at most through the decoder's 224 KiB buffer (1835008 bits), in 2048-byte packs multiplexed at
#: 10.08 Mb/s. Without them a noisy 720x576 clip's MPEG-2 came to 15.3 Mb/s (16.7 in its busiest second; 40 of 50
#: pictures more than that buffer held), its packs stating a mux rate of 441 Mb/s, and FFmpeg said "VBV buffer size
#: not set, using default size of 230KB"
DVD_VIDEO = {"b": "6000000", "maxrate": "9000000", "minrate": "0", "bufsize": "1835008"}
DVD_MUX = {"muxrate": "10080000", "packetsize": "2048"}
#: The formats written for a DVD (``.vob``, ``.dvd``) and the picture sizes DVD-Video holds (PAL's and NTSC's full,
#: 704-wide, half and SIF pictures): another size is written without :data:`DVD_VIDEO`, which a DVD player would not
#: play whatever its rate, and whose 9 Mb/s would cap a 1080p picture's quality for nothing
DVD_FORMATS = frozenset({"vob", "dvd"})
DVD_SIZES = frozenset({(720, 576), (704, 576), (352, 576), (352, 288), (720, 480), (704, 480), (352, 480), (352, 240)})
#: The sound a DVD player plays, as FFmpeg's ``-target dvd`` writes it: AC-3 at 48 kHz, 448 kb/s (DVD-Video holds 48 kHz
#: sound alone, or 96 kHz LPCM, and NTSC discs AC-3 or LPCM: MP2 is PAL's). A .vob's sound is written so whatever its
#: picture's size; AC-3 already at 48 kHz is copied as it is. Was: MP2 at the input's rate (44.1 kHz stayed 44.1 kHz)
DVD_AUDIO_CODEC, DVD_AUDIO_RATE, DVD_AUDIO_BITRATE = "ac3", 48000, 448000
#: Formats an output is written in where FFmpeg's guess from its name's ending is not the one its players expect:
#: ``.vob`` is a DVD's VOB (FFmpeg's ``vob`` muxer, 2048-byte packs), not the SVCD stream of 2324-byte packs that FFmpeg
#: took it for (its ``svcd`` muxer, the first that names ``vob``)
ENDING_FORMATS = {".vob": "vob"}
#: The namespace of the tags an iPhone (or any Apple camera) writes: its GPS position (``…location.ISO6709``),
#: make, model, software and local time (``…creationdate``). Where they are kept, the output's other tags
#: (a title) are QuickTime metadata keys too, as an iPhone writes them, not iTunes-style boxes.
APPLE_KEYS = "com.apple.quicktime."
#: Formats where HEVC is tagged ``hvc1`` (its parameter sets in the header), as Apple writes it: QuickTime, Safari
#: and an iPhone's Photos refuse FFmpeg's own tag, ``hev1``, and play ``hvc1``, as every other player does
HVC1_FORMATS = frozenset({"mp4", "mov"})


def live_pipe_options(format_name: str) -> dict[str, str]:
    """:data:`LIVE_PIPE`, less what ``format_name``'s muxer does not take (the cluster's limit is Matroska's own): a
    named pipe named ``.ts`` is an MPEG-TS stream, which writes each packet as it comes (FFmpeg's interleaving and its
    32 KB buffer held them as they held Matroska's).

    >>> live_pipe_options("mpegts")
    {'flush_packets': '1', 'max_interleave_delta': '1'}
    """
    return {k: v for k, v in LIVE_PIPE.items() if k != "cluster_time_limit" or format_name in ("matroska", "webm")}


def apple_keys(tags: Mapping[str, str]) -> bool:
    """Whether ``tags`` hold Apple's own keys, which an mp4 or mov output keeps only written as Apple
    writes them (QuickTime metadata keys: FFmpeg's ``movflags use_metadata_tags``; its default drops them).

    >>> apple_keys({"com.apple.quicktime.location.ISO6709": "+51.5007-000.1246+010.000/"}), apple_keys({"title": "a"})
    (True, False)
    """
    return any(key.lower().startswith(APPLE_KEYS) for key in tags)


def apple_cased(tags: Mapping[str, str]) -> dict[str, str]:
    """``tags`` with Apple's keys spelt as Apple spells them: Matroska writes every tag's name in capitals,
    and an iPhone's file that passed through one (``ffmpeg ... -f matroska -``) would give them so.

    >>> apple_cased({"COM.APPLE.QUICKTIME.LOCATION.ISO6709": "+51.5-000.1/", "TITLE": "a"})
    {'com.apple.quicktime.location.ISO6709': '+51.5-000.1/', 'TITLE': 'a'}
    """

    def spelt(key: str) -> str:
        return key.lower().replace(".iso6709", ".ISO6709") if key.lower().startswith(APPLE_KEYS) else key

    return {spelt(key): value for key, value in tags.items()}
