import numpy as np
import pytest

from roadseg.train.metrics import confusion_matrix, scores


def test_confusion_matrix_by_hand():
    target = np.array([[0, 0, 1, 1], [2, 2, 2, 9]])
    pred = np.array([[0, 1, 1, 1], [2, 0, 2, 2]])
    cm = confusion_matrix(pred, target, num_classes=3, ignore_index=9)
    assert cm.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 2]]
    s = scores(cm)
    # IoU_c = TP / (TP + FP + FN): class0 1/(1+1+1), class1 2/(2+1+0), class2 2/(2+0+1)
    assert s["iou"] == pytest.approx([1 / 3, 2 / 3, 2 / 3])
    assert s["miou"] == pytest.approx(5 / 9)
    assert s["pixel_acc"] == pytest.approx(5 / 7)


def test_absent_class_is_not_averaged():
    cm = confusion_matrix(np.array([0, 0]), np.array([0, 0]), num_classes=3)
    s = scores(cm)
    assert s["miou"] == 1.0 and np.isnan(s["iou"][1])


def test_bad_predictions_are_errors():
    with pytest.raises(ValueError):
        confusion_matrix(np.array([5]), np.array([0]), num_classes=3)
