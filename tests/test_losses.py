import numpy as np
import pytest

torch = pytest.importorskip("torch")

from roadseg.classes import IGNORE_INDEX, NUM_CLASSES  # noqa: E402
from roadseg.train.losses import lovasz_softmax, training_loss  # noqa: E402
from roadseg.train.metrics import confusion_matrix, scores  # noqa: E402


def _one_hot(pred: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.one_hot(pred, NUM_CLASSES).permute(0, 3, 1, 2).float()


def test_lovasz_on_hard_predictions_is_one_minus_miou():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, NUM_CLASSES, (2, 12, 16))
    labels[0, 0, :NUM_CLASSES] = np.arange(NUM_CLASSES)  # every class present, so both means run over all 11
    pred = np.where(rng.random(labels.shape) < 0.6, labels, rng.integers(0, NUM_CLASSES, labels.shape))
    labels[1, 5:8] = IGNORE_INDEX  # void pixels count for neither
    want = 1 - scores(confusion_matrix(pred, labels, NUM_CLASSES, IGNORE_INDEX))["miou"]
    got = lovasz_softmax(_one_hot(torch.from_numpy(pred)), torch.from_numpy(labels), stride=1)
    assert got.item() == pytest.approx(want, abs=1e-6)
    perfect = lovasz_softmax(_one_hot(torch.from_numpy(np.where(labels == IGNORE_INDEX, 0, labels))),
                             torch.from_numpy(labels), stride=1)  # fmt: skip
    assert perfect.item() == pytest.approx(0.0, abs=1e-7)


def test_lovasz_gives_void_pixels_no_gradient_and_pushes_towards_the_label():
    torch.manual_seed(0)
    logits = torch.randn(1, NUM_CLASSES, 8, 8, requires_grad=True)
    labels = torch.randint(0, NUM_CLASSES, (1, 8, 8))
    labels[0, :3] = IGNORE_INDEX
    lovasz_softmax(logits.softmax(1), labels, stride=1).backward()
    assert torch.all(logits.grad[0, :, :3] == 0)
    assert logits.grad[0, :, 3:].abs().sum() > 0
    # descending the gradient raises the true class's logit
    true = logits.grad[0, :, 3:].gather(0, labels[0, 3:].unsqueeze(0))
    assert (true < 0).float().mean() > 0.9
    # stride 2 reads only every second pixel of each axis
    logits.grad = None
    lovasz_softmax(logits.softmax(1), labels, stride=2).backward()
    assert torch.all(logits.grad[0, :, 1::2] == 0) and torch.all(logits.grad[0, :, :, 1::2] == 0)


def test_the_weight_switches_the_term_on():
    torch.manual_seed(0)
    labels = [np.random.default_rng(0).integers(0, NUM_CLASSES, (16, 16)).astype(np.uint8)]
    logits = torch.randn(2, NUM_CLASSES, 16, 16)
    y = torch.randint(0, NUM_CLASSES, (2, 16, 16))
    ce = training_loss(labels, "cpu")(logits, y)
    both = training_loss(labels, "cpu", lovasz=3.0)(logits, y)
    assert both.item() == pytest.approx(ce.item() + 3.0 * lovasz_softmax(logits.softmax(1), y).item(), rel=1e-6)
    only_void = torch.full((2, 16, 16), IGNORE_INDEX)
    assert lovasz_softmax(logits.softmax(1), only_void).item() == 0.0
