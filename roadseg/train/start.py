"""The network a training run starts from (:func:`starting_model`): ``--init``'s (a whole network: an exported
roadseg fp32 ``.onnx`` rebuilt, or a checkpoint; its classes must be the data's and its architecture becomes the
run's), or a new one whose encoder ``--encoder-weights`` fills (ImageNet's, a state dict file, an ``.onnx``'s encoder).

The files themselves are read by :mod:`roadseg.train.weights`.

Example:
    >>> cfg, net = starting_model(cfg, images, fresh=True, classes=classes)   # doctest: +SKIP
    >>> load_encoder_weights(net, "imagenet")                              # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import torch

from roadseg.data.classset import CAMVID, ClassSet, counted
from roadseg.errors import ModelError, reason_of
from roadseg.model import build_model
from roadseg.train.weights import calibration_batch, load_checkpoint, rebuilt_release, recorded_classes

if TYPE_CHECKING:
    from roadseg.train.config import TrainConfig

IMAGENET_URL = "https://download.pytorch.org/models/resnet34-b627a593.pth"


def initial_model(spec: str, images: list[np.ndarray]) -> torch.nn.Module:
    """The network ``--init`` starts from: an exported roadseg fp32 ``.onnx`` (:func:`rebuilt_release`: BNs
    calibrated on ``images``, without its release's logit adjustment) or a checkpoint (its EMA weights
    where it has them). Its architecture is the run's."""
    if spec.endswith(".onnx"):
        return rebuilt_release(spec, images)[0]
    return load_checkpoint(spec)[0]


def load_encoder_weights(model, spec: str, images: list[np.ndarray] | None = None) -> None:
    """Load the encoder's weights: ``imagenet`` (torch.hub URL), a torchvision-named state dict file,
    an exported roadseg ``.onnx`` model (its encoder; ``images`` calibrate its BNs), or ``none``."""
    if spec == "none":
        return
    if spec.endswith(".onnx"):
        from roadseg.model.unfold import unet_from_onnx

        sd = unet_from_onnx(spec, calibration_batch(images or [])).encoder.state_dict()
    elif spec == "imagenet":
        try:
            sd = torch.hub.load_state_dict_from_url(IMAGENET_URL, progress=True, map_location="cpu")
        except Exception as exc:  # URLError, HTTPError, timeouts: all mean "could not fetch"
            raise RuntimeError(
                f"could not download ImageNet weights from {IMAGENET_URL} ({exc.__class__.__name__}); "
                "offline? download resnet34-b627a593.pth elsewhere and pass --encoder-weights PATH"
            ) from None
    else:
        try:
            sd = torch.load(spec, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - not a pickle, a pickle of something else, cut short ...
            raise ModelError(f"cannot read encoder weights {spec}: {exc.__class__.__name__}: {reason_of(exc)}") from None
        sd = sd.get("state_dict", sd) if isinstance(sd, dict) else sd
        if not isinstance(sd, dict):
            raise ModelError(f"{spec} holds no state dict of encoder weights (a {type(sd).__name__})")
    missing, unexpected = model.encoder.load_state_dict(sd, strict=False)
    unexpected = [k for k in unexpected if not k.startswith("fc.")]
    if missing or unexpected:
        raise RuntimeError(f"encoder weights do not fit: missing {missing[:3]}, unexpected {unexpected[:3]}")


def starting_model(cfg: TrainConfig, images: list[np.ndarray], fresh: bool,
                   classes: ClassSet = CAMVID) -> tuple[TrainConfig, torch.nn.Module]:  # fmt: skip
    """The network a run of ``classes`` starts from, and the config it records: ``--init``'s (whose architecture
    then becomes the run's, so ``--resume`` rebuilds it; its classes must be the data's), or a new one with
    ``--encoder-weights``. A resumed run (``fresh`` False) gets its weights from the checkpoint afterwards."""
    if fresh and cfg.init != "none":
        if cfg.encoder_weights != "none":
            raise ValueError("--init starts the whole network; it cannot be combined with --encoder-weights")
        net = initial_model(cfg.init, images)
        count, names = net.config["num_classes"], recorded_classes(cfg.init)
        if count != classes.count or names not in (None, classes.names):
            raise ValueError(f"{cfg.init} has {counted(count, names)}, the data has {classes.describe()}: --init starts a run of "
                             "the classes it scores")  # fmt: skip
        _same_architecture(cfg, net.config)
        return replace(cfg, model={k: v for k, v in net.config.items() if k != "num_classes"}), net.train()
    model = build_model({"num_classes": classes.count, **cfg.model})
    if fresh:
        load_encoder_weights(model, cfg.encoder_weights, images)
    return cfg, model


def _same_architecture(cfg: TrainConfig, config: dict) -> None:
    """ValueError where the run asks for another architecture than ``--init``'s file has: ``--init released.onnx
    --decoder-channels 32,16,8,8`` trained the file's own decoder without a word."""
    for key, asked in cfg.model.items():
        has = config.get(key)
        if (tuple(asked) if isinstance(asked, list) else asked) != has:
            shown = ",".join(map(str, has)) if isinstance(has, tuple) else has
            raise ValueError(f"{cfg.init} has --{key.replace('_', '-')} {shown}: --init starts the run from its "
                             "network as it is; leave the option out")  # fmt: skip
