"""The network (torch.nn): U-Net with a ResNet34 encoder, and the preprocessing every consumer shares."""

from roadseg.model.preprocess import Preprocess
from roadseg.model.unet import UNetResNet34, build_model

__all__ = ["Preprocess", "UNetResNet34", "build_model"]
