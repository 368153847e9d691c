"""Tools beside the pipeline: ``bench`` (frames/s side by side) and ``info`` (what to paste into a bug report)."""
