"""ONNX export (needs torch), parity verification, INT8 quantization."""

#: The release's logit adjustment (``release --logit-adjust``; :func:`roadseg.train.data.logit_offsets`),
#: chosen on a check run's held-out footage (models/MODEL_CARD.md): 0.25 / 0.5 / 0.75 / 1 moved that
#: check (39.85 without) +1.32 / +2.00 / +1.69 / +0.68 mIoU.
LOGIT_ADJUST = 0.5
