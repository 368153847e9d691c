"""Frames in, labels out, at a working size: the frame-level API of roadseg and the pipeline's infer stage.

:class:`~roadseg.pipeline.session.OnnxSegmenter` wraps one session (frames in, labels out, at whatever size
it is given); ``Segmenter`` adds the working size: it resizes frames to about the model's ``input_size`` in
pixels at the frames' own aspect (or to a size you choose) and can bring labels back to the frame's size;
``infer_stage`` runs it on the pipeline's frames, a batch at a time.

Example:
    >>> import numpy as np
    >>> seg = Segmenter()                                   # the shipped default model
    >>> frame = np.zeros((540, 960, 3), np.uint8)
    >>> seg.segment(frame).shape                            # labels at the frame's size
    (540, 960)
    >>> seg.classes[3]
    'Road'
"""

from __future__ import annotations

import logging
import reprlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from roadseg.errors import ArgumentError, ModelError
from roadseg.pipeline.bounds import check_whole
from roadseg.pipeline.devices import default_model_path
from roadseg.pipeline.memory import free_memory, limit_said
from roadseg.pipeline.session import OnnxSegmenter
from roadseg.pipeline.timing import StageTimes

log = logging.getLogger("roadseg")

if TYPE_CHECKING:  # sources imports PyAV, which training and export on a machine without it never need
    from roadseg.pipeline.sources import Frame


def resize_frame(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``frame`` at ``size`` (height, width): area interpolation when shrinking, linear when growing."""
    h, w = size
    if frame.shape[:2] == (h, w):
        return frame
    shrink = frame.shape[0] * frame.shape[1] > h * w
    return cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def resize_labels(labels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Class indices brought to ``height`` x ``width`` (nearest neighbour: no invented classes)."""
    if labels.shape[:2] == (height, width):
        return labels
    return cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)


def checked_frame(frame: np.ndarray) -> np.ndarray:
    """``frame`` if it is a picture the model takes, uint8 RGB [H,W,3] (any strides: a view, a crop), else the
    one-line :class:`~roadseg.errors.ArgumentError` that says, at the caller's shape, what it is and how to make it one.

    >>> checked_frame(np.zeros((4, 6), np.uint8))
    Traceback (most recent call last):
    roadseg.errors.ArgumentError: a frame must be a uint8 RGB picture [H,W,3]; got a grayscale one [4,6]: cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    >>> checked_frame(None)
    Traceback (most recent call last):
    roadseg.errors.ArgumentError: a frame must be a uint8 RGB picture [H,W,3]; got None
    """
    given, frame = frame, np.asarray(frame)
    shape = f"[{','.join(map(str, frame.shape))}]"
    if frame.ndim == 0 or frame.dtype.kind in "OUSV":  # (was: "got an array []" for None or a path)
        said = "None" if given is None else f"{type(given).__name__} {reprlib.repr(given)}"
        what = said + (": read the picture first, cv2.imread(path)[..., ::-1]" if isinstance(given, str | Path) else "")
    elif frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 1):
        what = f"a grayscale one {shape}: cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)"
    elif frame.ndim == 3 and frame.shape[2] == 4:
        what = f"one of 4 channels {shape} (RGBA?): frame[..., :3]"
    elif frame.ndim == 4:
        what = f"a batch {shape}: segment(frame) takes one frame; seg(frames) a batch"
    elif frame.ndim != 3 or frame.shape[2] != 3:
        what = f"an array {shape}"
    elif frame.dtype != np.uint8:
        what = f"{frame.dtype} {shape}: convert it to 8 bits a channel"
    elif frame.size == 0:
        what = f"an empty one {shape}"
    else:
        return frame
    raise ArgumentError(f"a frame must be a uint8 RGB picture [H,W,3]; got {what}")


ENLARGED = 4  # a working size given with more than this many times the pictures' pixels is warned of
CPU_BYTES_PER_PIXEL = 125  # a CPU session's peak memory per input pixel: the shipped INT8 model (fp32: ~320)


def working_size(height: int, width: int, input_size: tuple[int, int],
                 sample_aspect: float | None = None) -> tuple[int, int]:  # fmt: skip
    """The size the network sees pictures of ``height`` x ``width`` at (pixels ``sample_aspect`` as wide
    as high, where not square): the model's ``input_size`` for pictures of its aspect, else about as
    many pixels at the picture's own aspect, sides multiples of 32 (the encoder's stride).

    Squeezed into CamVid's 4:3, objects are drawn narrower than the model learnt them: on CamVid val
    frames cut to 16:9 the shipped model scored 68.8 mIoU squeezed and 72.0 at its own aspect; cut
    upright (9:16, a phone held up) 53.5 and 71.2.

    >>> working_size(720, 960, (360, 480)), working_size(720, 1280, (360, 480)), working_size(1920, 1080, (360, 480))
    ((360, 480), (320, 544), (544, 320))
    """
    ih, iw = input_size
    if not (height > 0 and width > 0):  # (a stream that has not said its size before its first picture)
        return ih, iw
    aspect = width * float(sample_aspect or 1) / height
    if abs(aspect * ih / iw - 1) < 0.02:
        return ih, iw
    side = lambda x: max(32, round(x / 32) * 32)  # noqa: E731
    return side((ih * iw / aspect) ** 0.5), side((ih * iw * aspect) ** 0.5)


class Segmenter:
    """Frames in, labels out, at a working size: the frame-level API of roadseg.

    Args:
        model: an ONNX file, or an :class:`OnnxSegmenter` to share (its session is reused, not
            rebuilt); ``None`` picks the shipped default for the device (the CPU's where a GPU provider
            asked for falls back to the CPU).
        size: working (height, width); ``None``: fitted to the pictures' aspect at about the model's
            ``input_size`` in pixels (:func:`working_size`).
        providers: ``auto``, ``cpu``, ``cuda`` or ``tensorrt`` (ignored when ``model`` is a session).
        threads: onnxruntime intra-op threads (0 = default; ignored when ``model`` is a session).
        tta: flip test-time augmentation, two network passes a frame (ignored when ``model`` is a session).

    Frames are uint8 RGB [H,W,3], any size and strides (OpenCV's BGR: ``frame[..., ::-1]``, a view); anything else
    is one line, an :class:`~roadseg.errors.ArgumentError` (:func:`checked_frame`). ``segment`` gives one frame's
    labels at its own size, calling the segmenter gives a batch's at the working size (:func:`resize_labels` brings
    them back); ``classes`` and ``palette`` name and paint them (:class:`~roadseg.pipeline.overlay.Overlay`).
    One segmenter may be called from several threads at once (a camera's callback each): a call keeps no state
    on it, and its onnxruntime session runs calls side by side (on a CPU they share the cores: a batch is the
    cheaper way to more frames/s).

    >>> import numpy as np
    >>> from roadseg.pipeline.overlay import Overlay, palette_lut
    >>> seg = Segmenter("unet-r34-camvid-int8.onnx", providers="cpu")   # a shipped model by name, a path, or None
    >>> frame = np.zeros((719, 1279, 3), np.uint8)
    >>> labels = seg.segment(frame)
    >>> labels.shape, labels.dtype, seg.classes[3]
    ((719, 1279), dtype('uint8'), 'Road')
    >>> seg([frame, frame]).shape                           # a batch, at the working size for 16:9
    (2, 320, 544)
    >>> Overlay(palette_lut(seg.palette), alpha=0.5)(frame, labels).shape   # the class colours blended onto it
    (719, 1279, 3)
    """

    def __init__(
        self,
        model: str | Path | OnnxSegmenter | None = None,
        *,
        size: tuple[int, int] | None = None,
        providers: str = "auto",
        threads: int = 0,
        tta: bool = False,
    ) -> None:
        if size is not None and not (isinstance(size, Sequence | np.ndarray) and len(size) == 2
                                     and all(isinstance(n, int | np.integer) and n > 0 for n in size)):  # fmt: skip
            # (before the model is loaded: one line before any work; a single number too, was a TypeError)
            raise ArgumentError(f"size must be (height, width), two whole numbers over 0, not {size!r}")
        check_whole("threads", threads)  # (said as run's options are; was: -1 taken, "2" a TypeError from onnxruntime)
        if isinstance(model, OnnxSegmenter):
            self.model = model
        else:
            path = Path(model) if model is not None else default_model_path(providers)
            self.model = OnnxSegmenter(path, providers=providers, threads=threads, tta=tta)
            if model is None and self.model.providers[0] == "CPUExecutionProvider" and path != default_model_path("cpu"):
                # a GPU asked for that is not there: the CPU's default, as on any CPU (the GPU's fp32 file ran
                # 4.5x slower there than the INT8 one)
                self.model = OnnxSegmenter(default_model_path("cpu"), providers="cpu", threads=threads, tta=tta)
        self.fixed = size is not None  # a size given is kept whatever the pictures' shape
        self.given = self.fixed  # (a --size, not one fitted to the pictures: check_size warns of it alone)
        self.size: tuple[int, int] = (int(size[0]), int(size[1])) if size is not None else self.model.input_size
        # (an array's size: was, "The truth value of an array ... is ambiguous")
        self.classes = self.model.classes
        self.palette = self.model.palette

    def check_memory(self, batch: int = 1) -> None:
        """Refuse (:class:`ModelError`) a working size and batch that the network cannot hold in the memory
        free here, before any work (else the system kills the run with no word): on the CPU it needs
        about :data:`CPU_BYTES_PER_PIXEL` per pixel of a batch (twice that with ``tta``: the mirror images
        are in the batch too), the leanest model's cost, so what is refused cannot fit. A GPU session's
        memory is the GPU's, not checked here."""
        free = free_memory()
        if free is None or self.model.providers[0] != "CPUExecutionProvider":
            return
        h, w = self.size
        passes = 2 if self.model.tta else 1
        batch = 1 if self.model.one_at_a_time else batch  # (a model fixed at batch 1 runs the frames one by one)
        need = passes * batch * h * w * CPU_BYTES_PER_PIXEL
        if need > free:
            raise ModelError(f"working size {h}x{w} at batch {batch}{' with --tta' * (passes > 1)} needs about {_gb(need)} "
                             f"of memory for the network (~{CPU_BYTES_PER_PIXEL} bytes a pixel); {_gb(free)} is free"
                             f"{limit_said(free)}: choose a smaller --size or --batch")  # fmt: skip

    def check_size(self, height: int, width: int) -> None:
        """Warn in one line where a working size given (``--size``) has far more pixels than the pictures,
        ``height`` x ``width``, it enlarges (more than :data:`ENLARGED` times): no detail is added, and the
        network's time grows with the pixels (``--size 8000x8000`` on a 720p clip: a frame in ~2 minutes, and
        not a word). Not refused: enlarging a small picture somewhat can help the model see far objects;
        what the memory cannot hold, :meth:`check_memory` refuses."""
        h, w = self.size
        if self.given and height > 0 and width > 0 and h * w > ENLARGED * height * width:
            own = working_size(height, width, self.model.input_size)
            log.warning("--size %dx%d has %.0fx the pixels of the %dx%d pictures it enlarges: no detail is added, and "
                        "the network's time grows with the pixels (its own size for them: %dx%d)",
                        h, w, h * w / (height * width), height, width, *own)  # fmt: skip

    def fitted(self, height: int, width: int, sample_aspect: float | None = None) -> Segmenter:
        """This model at the working size for pictures of this shape (:func:`working_size`), sharing its
        session; itself where its size was given or already fits, or where its network is fixed at a size inside
        (:attr:`OnnxSegmenter.fixed_size`: frames resized once, to its ``input_size``, not again in the graph)."""
        if self.fixed or self.model.fixed_size:
            return self
        size = working_size(height, width, self.model.input_size, sample_aspect)
        if size == self.size:
            return self
        fitted = Segmenter(self.model, size=size)
        fitted.given = False  # (its own size for them, no --size: was warned of as one)
        return fitted

    def resize(self, frame: np.ndarray) -> np.ndarray:
        """A frame at the working size (area interpolation when shrinking)."""
        return resize_frame(frame, self.size)

    def __call__(self, frames: Iterable[np.ndarray]) -> np.ndarray:
        """Labels uint8 [N,h,w] at the working size (fitted to the first frame's shape unless a size was
        given) for a batch of RGB frames (each checked: :func:`checked_frame`; the memory: :meth:`check_memory`)."""
        if isinstance(frames, np.ndarray) and frames.ndim == 3 and frames.shape[2] in (1, 3, 4):  # (was: its rows
            # checked, "a grayscale one [1280,3]"; a grayscale batch [N,H,W] is told by each frame's check)
            raise ArgumentError(f"seg(frames) takes a batch, [N,H,W,3] or a list of frames; got "
                                f"[{','.join(map(str, frames.shape))}], one frame? seg.segment(frame), or seg([frame])")  # fmt: skip
        checked = [checked_frame(f) for f in frames]  # (any iterable: was, a generator a TypeError)
        if not checked:
            raise ArgumentError("no frames given")
        seg = self.fitted(*checked[0].shape[:2])
        seg.check_memory(len(checked))  # (as a run's: was, OpenCV's or onnxruntime's failed allocation, or a kill)
        return self.model.predict(np.stack([seg.resize(f) for f in checked]))

    def segment(self, frame: np.ndarray) -> np.ndarray:
        """Labels uint8 [H,W] of one RGB frame, at the frame's own size."""
        frame = checked_frame(frame)
        return resize_labels(self([frame])[0], *frame.shape[:2])


def infer_stage(items: Iterator, seg: Segmenter, batch: int, times: StageTimes, *, refit: bool = False) -> Iterator:
    """The infer stage: frames -> the same frames with ``labels`` (working size), ``batch`` at a time.

    ``refit``: each frame at the working size of its own shape (:meth:`Segmenter.fitted`; a folder of
    photos of several shapes), a batch ending where that size changes; else every frame at ``seg``'s.
    Anything that is not a :class:`~roadseg.pipeline.sources.Frame` (audio packets) passes straight through.
    """
    from roadseg.pipeline.sources import Frame

    pending: list[Frame] = []
    now = seg

    def flush() -> Iterator[Frame]:
        with times.measure("resize", len(pending)):
            small = np.stack([now.resize(f.image) for f in pending])
        with times.measure("infer", len(pending)):
            labels = now.model.predict(small)
        yield from (replace(f, labels=lab) for f, lab in zip(pending, labels))
        pending.clear()

    for item in items:
        if not isinstance(item, Frame):
            yield item
            continue
        if refit:
            fit = seg.fitted(*item.image.shape[:2])
            if fit.size != now.size and pending:
                yield from flush()
            now = fit
        pending.append(item)
        if len(pending) >= batch:
            yield from flush()
    if pending:
        yield from flush()


def _gb(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n < 1e10 else f"{n / 1e9:.0f} GB"
