"""CamVid loading and joint image/mask transforms (training side; needs no torch except the Dataset)."""
