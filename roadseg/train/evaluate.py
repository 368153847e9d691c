"""Score a model on a split of CamVid or of a folder of its own classes: per-class IoU, mIoU over the data's
classes (CamVid's 11, or its ``classes.txt``'s), pixel accuracy. A model of other classes than the data's is refused.

ONNX models go through the pipeline's own :class:`~roadseg.pipeline.infer.Segmenter` (same resize,
same onnxruntime session), so the score is the score of what ``segment-video`` runs; PyTorch
checkpoints (``.pt``) go through :func:`roadseg.model.predict.predict` and need the ``train`` extra.
Both give labels at the working size, brought back to the label's size with the pipeline's
:func:`~roadseg.pipeline.infer.resize_labels`.

Example:
    >>> r = evaluate_model("models/unet-r34-camvid.onnx", "../shared/camvid", "val")   # doctest: +SKIP
    >>> print(format_table(r))                                                        # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path

import numpy as np

from roadseg.contract import file_kind
from roadseg.data.camvid import CamVid, fits_in_memory, spread
from roadseg.data.classset import CAMVID, ClassSet, counted, from_state
from roadseg.errors import not_a_regular_file
from roadseg.pipeline.infer import CPU_BYTES_PER_PIXEL, ENLARGED, resize_frame, resize_labels
from roadseg.train.metrics import confusion_matrix, scores

log = logging.getLogger("roadseg")


def _not_the_datas(path: Path, verb: str, names: tuple[str, ...] | None, count: int, classes: ClassSet) -> ValueError:
    """The one line that refuses to score a model of ``count`` classes (``names``, where known) on data of ``classes``."""
    return ValueError(f"{path.name} {verb} {counted(count, names)}, not {classes.describe()}: its labels cannot be scored against "
                      f"{'CamVid' if classes.is_camvid else 'the data'}'s")  # fmt: skip


def _onnx_predictor(path: Path, size, device: str, tta: bool = False, classes: ClassSet = CAMVID):
    """Labels at the working size through the pipeline's own Segmenter (same resize, same session)."""
    from roadseg.pipeline.infer import Segmenter

    seg = Segmenter(path, size=size, providers=device, tta=tta)
    if tuple(seg.classes) != classes.names:
        raise _not_the_datas(path, "segments", tuple(seg.classes), len(seg.classes), classes)
    return seg, seg.size


def _torch_predictor(path: Path, size, device: str, logit_adjust: float = 0.0, data=None, classes: ClassSet = CAMVID,
                     shape: tuple[int, int] | None = None):  # fmt: skip
    """Labels at the working size through the one torch frames -> labels path; with ``logit_adjust``, of the network as
    ``release --logit-adjust`` would ship it. ``size`` None: each frame's :func:`~roadseg.pipeline.infer.working_size`
    for the size the network was trained at (``train --size``), as its export runs it (was: the frame's own size, a
    run on 720x1280 frames trained at 360x640 scored at twice the scale it learnt). The size returned is that of
    frames of ``shape`` (the first's)."""
    from roadseg.model.predict import predict
    from roadseg.pipeline.infer import working_size
    from roadseg.train.checkpoint import trained_size
    from roadseg.train.engine import pick_device
    from roadseg.train.weights import adjust_logits, load_checkpoint

    dev = pick_device(device)
    net, state = load_checkpoint(path, device="cpu")
    n = int(net.head.out_channels)  # (was: a 5-class network scored as CamVid's, unsaid)
    recorded = from_state(state) if state.get("classes") or n == CAMVID.count else None  # (none recorded: CamVid's 11)
    if n != classes.count or (recorded is not None and recorded.names != classes.names):
        raise _not_the_datas(path, "scores", recorded and recorded.names, n, classes)
    if logit_adjust:
        if data is None:
            raise ValueError("a logit adjustment is computed from the run's training frames: give the CamVid folder")
        adjust_logits(net, state, data, logit_adjust)
    net = net.to(dev)
    trained = trained_size(state)
    h, w = size or (working_size(*shape, trained) if shape else trained)
    if dev.type == "cpu":  # (a GPU's memory is the GPU's; was: a hang or the system's kill at --size 9999x9999)
        fits_in_memory(h * w * CPU_BYTES_PER_PIXEL, f"scoring {path.name} at working size {h}x{w}")
    if size and shape and h * w > ENLARGED * shape[0] * shape[1]:  # (as segment-video's Segmenter.check_size says)
        log.warning("--size %dx%d has %.0fx the pixels of the %dx%d frames it enlarges: no detail is added, and the "
                    "network's time grows with the pixels (its own size for them: %dx%d)",
                    h, w, h * w / (shape[0] * shape[1]), *shape, *working_size(*shape, trained))  # fmt: skip

    def labels(images: list[np.ndarray]) -> list[np.ndarray]:
        return [predict(net, resize_frame(im, size or working_size(*im.shape[:2], trained))[None], device=dev)[0]
                for im in images]  # fmt: skip

    return labels, (h, w)


def evaluate_model(model: str | Path, data: str | Path | None, split: str = "val", *, size=None,
                   device: str = "cpu", batch: int = 4, limit: int | None = None,
                   samples: tuple[list, list] | None = None, holdout: tuple[str, ...] = (), tta: bool = False,
                   logit_adjust: float = 0.0, progress: bool = False, classes: ClassSet = CAMVID) -> dict:  # fmt: skip
    """Confusion-matrix scores of ``model`` (``.onnx`` or a ``.pt`` checkpoint) on ``split``, over the data's classes
    (``data``'s, or ``classes`` for ``samples``); ValueError for a model of other classes.

    ``holdout`` scores only the frames of ``split`` that a training run with that ``--holdout`` held
    out (its check, e.g. ``("0006R0", "0001TP:0.33")`` of ``train``). ``tta``: as ``segment-video --tta``
    runs the model (.onnx only). ``logit_adjust``: score a checkpoint as ``release --logit-adjust`` would
    ship it (.pt only: a released file carries its own). ``limit``: score that many frames spread evenly over the
    split, the first and the last included (:func:`~roadseg.data.camvid.spread`: of val, the frames ``train
    --val-limit`` scores), said in the result's ``split``. ``samples`` (images, labels)
    scores those frames instead of reading ``split`` from ``data``; ``split`` then only names them.
    ``progress``: a bar of the frames scored on standard error, cleared when done (a CPU takes a minute or more
    for CamVid's 101 val frames).
    """
    model = _model_file(model)
    pairs_at, n, split, classes = _frames(data, split, samples, holdout, limit, classes)
    onnx = model.suffix.lower() == ".onnx" or file_kind(model) == "onnx"  # (model.ONNX, or an export named m.pt)
    if onnx and logit_adjust:
        raise ValueError(f"{model.name} carries the logit adjustment it was released with; --logit-adjust is for checkpoints")
    if onnx:
        predict, used_size = _onnx_predictor(model, size, device, tta, classes)
        if n:  # (the first frame's working size, before any work: was OpenCV's traceback for one that cannot fit)
            predict.fitted(*pairs_at(0)[0].shape[:2]).check_memory(min(batch, n))
            predict.check_size(*pairs_at(0)[0].shape[:2])
    elif tta:
        raise ValueError(f"tta scores an .onnx model as segment-video --tta runs it; export {model.name} first")
    else:
        shape = pairs_at(0)[1].shape if n else None
        predict, used_size = _torch_predictor(model, size, device, logit_adjust, data, classes, shape)
    t0 = time.perf_counter()
    cm = _confusion(predict, pairs_at, n, batch, classes, f"scoring {split}", progress)
    result = scores(cm)
    result.update({
        "model": str(model) + (" --tta" if tta else "") + (f" --logit-adjust {logit_adjust}" if logit_adjust else ""), "split": split, "images": n, "working_size": list(used_size) if used_size else None,
        "classes": list(classes.names), "seconds": round(time.perf_counter() - t0, 2),
        "confusion_matrix": cm.tolist(),
    })  # fmt: skip
    return result


def _model_file(model: str | Path) -> Path:
    """``model`` as a path; FileNotFoundError where it is a folder, not there, or not a regular file."""
    model = Path(model)
    if model.is_dir():  # (was "model not found: runs", of a folder that is there)
        raise FileNotFoundError(f"{model} is a folder, not a model file (an .onnx, or a run's best.pt)")
    if not model.is_file():  # (a FIFO, a device: there, but no file to read a model from)
        raise FileNotFoundError(not_a_regular_file(model) if model.exists()
                                else f"model not found: {model}")  # fmt: skip
    return model


def _frames(data: str | Path | None, split: str, samples: tuple[list, list] | None, holdout: tuple[str, ...],
            limit: int | None, classes: ClassSet):  # fmt: skip
    """The frames :func:`evaluate_model` scores: a function of ``i`` (0 .. n-1) giving the i-th (image, label), their
    count ``n``, ``split`` as the result names it, and the data's classes (``classes``, for ``samples``)."""
    if samples is None:
        ds = CamVid(data, split)
        classes = ds.classes
        if holdout:
            ds = ds.split_off(holdout)[1]
            split = f"{split}, held out by {' '.join(holdout)}"
        total, read = len(ds), ds.__getitem__
    else:
        total, read = len(samples[0]), lambda i: (samples[0][i], samples[1][i])  # noqa: E731
    picked = spread(total, limit)  # (train --val-limit's frames: the two scores compare)
    n = len(picked)
    if n < total:
        split = f"{split}, {n} of its {total} frames spread evenly"
    return (lambda i: read(picked[i])), n, split, classes


def _confusion(predict, pairs_at, n: int, batch: int, classes: ClassSet, desc: str, progress: bool) -> np.ndarray:
    """The confusion matrix of ``predict``'s labels, each brought to its label's size, of the ``n`` frames that
    ``pairs_at`` gives, ``batch`` at a time; ``progress``: a bar named ``desc`` on standard error, cleared when done."""
    from tqdm import tqdm

    cm = np.zeros((classes.count, classes.count), np.int64)
    # (built only where shown: tqdm starts its monitor thread, kept for the rest of the process, for a disabled bar
    # too; was: scoring without a bar left a tqdm_monitor thread running in a library caller's process)
    with tqdm(total=n, desc=desc, unit="frame", leave=False) if progress else contextlib.nullcontext() as bar:
        for start in range(0, n, batch):
            pairs = [pairs_at(i) for i in range(start, min(start + batch, n))]
            preds = predict([p[0] for p in pairs])
            for pred, (_, label) in zip(preds, pairs):
                cm += confusion_matrix(resize_labels(pred, *label.shape), label, classes.count, classes.ignore_index)
            if bar is not None:
                bar.update(len(pairs))
    return cm


def format_table(result: dict) -> str:
    """A per-class IoU table for people."""
    lines = [f"{result['model']} on {result['split']} ({result['images']} images)", f"{'class':<12} {'IoU':>7}"]
    for name, iou in zip(result["classes"], result["iou"]):
        lines.append(f"{name:<12} {'-' if iou != iou else f'{100 * iou:6.2f}':>7}")
    lines.append(f"{'mIoU':<12} {100 * result['miou']:7.2f}")
    lines.append(f"{'pixel acc':<12} {100 * result['pixel_acc']:7.2f}")
    return "\n".join(lines)
