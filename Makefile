# The two README commands. Both create .venv with pinned torch (constraints.txt) where needed.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install -q -c constraints.txt

.PHONY: demo test venv browser stills clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

venv: $(BIN)/python

# Set up the runtime (no torch) and segment the shipped real sample clip with the shipped model.
demo: venv
	$(PIP) .
	$(BIN)/segment-video sample_videos/udacity-highway-1280x720.mp4 -o out.mp4 -y

# The README's pictures (docs/overlay.png, docs/live-view.png) from the sample clip and the shipped
# model; run again after the model changes. Not part of CI; the live view needs chromium.
stills: venv
	$(PIP) -e .
	$(BIN)/python sample_videos/make_stills.py

# Debian packages for two live tests: chromium (the browser view) and GStreamer's RTSP server (RTSP
# input). Installed when we are root with apt-get; otherwise those two tests are skipped.
TEST_DEBS := chromium gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-base gstreamer1.0-plugins-good
browser:
	@if command -v chromium >/dev/null 2>&1 && /usr/bin/python3 -c "import gi; gi.require_version('GstRtspServer', '1.0')" 2>/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(TEST_DEBS) >/dev/null; } || \
	  echo "could not install $(TEST_DEBS): their tests will be skipped"; \
	else echo "not root: chromium / GStreamer RTSP server not installed, their tests will be skipped"; fi

# Set up everything (runtime + train + dev extras) and run the test suite.
test: venv browser
	$(PIP) -e ".[train,dev,ray]"
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) build *.egg-info out.mp4
