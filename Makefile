# The two README commands. Both create .venv with pinned torch (constraints.txt) where needed.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install -q -c constraints.txt

.PHONY: demo test venv browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

venv: $(BIN)/python

# Set up the runtime (no torch) and segment the shipped sample clip with the shipped model.
demo: venv
	$(PIP) .
	$(BIN)/segment-video sample_videos/road.mp4 -o out.mp4 -y

# Debian's chromium for the live-view browser test (installed when we are root with apt-get).
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "chromium is not installed: the browser test will be skipped"

# Set up everything (runtime + train + dev extras) and run the test suite.
test: venv browser
	$(PIP) -e ".[train,dev]"
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) build *.egg-info out.mp4
