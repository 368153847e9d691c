"""A local RTSP server for the live-input test (GStreamer's rtsp-server, Debian's python3-gi).

Run with the system python3: ``/usr/bin/python3 tests/rtsp_server.py PORT [audio]``; prints ``ready`` once
``rtsp://127.0.0.1:PORT/test`` serves a 128x96, 25 fps MJPEG-over-RTP test pattern (with ``audio``, and
a 440 Hz tone in G.711 A-law at 8 kHz, as many IP cameras send). Test helper only.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

Gst.init(None)
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(sys.argv[1])
factory = GstRtspServer.RTSPMediaFactory()
video = ("videotestsrc is-live=true pattern=ball ! video/x-raw,format=I420,width=128,height=96,framerate=25/1 "
         "! jpegenc quality=85 ! rtpjpegpay name=pay0 pt=26")
audio = " audiotestsrc is-live=true freq=440 ! audio/x-raw,rate=8000,channels=1 ! alawenc ! rtppcmapay name=pay1 pt=8"
factory.set_launch(f"( {video}{audio if sys.argv[2:] == ['audio'] else ''} )")
factory.set_shared(True)
server.get_mount_points().add_factory("/test", factory)
server.attach(None)
print("ready", flush=True)
GLib.MainLoop().run()
