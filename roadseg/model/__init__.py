"""The network (torch.nn): U-Net with a ResNet34 encoder, the preprocessing every consumer shares, and the
one frames -> labels path (``roadseg.model.predict``)."""

from roadseg.model.predict import FramesToLabels, predict
from roadseg.model.preprocess import Preprocess
from roadseg.model.unet import UNetResNet34, build_model

__all__ = ["FramesToLabels", "Preprocess", "UNetResNet34", "build_model", "predict"]
