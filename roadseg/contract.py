"""The ONNX contract every roadseg model obeys, in one place and without torch.

input ``frames``: uint8 [N,H,W,3] RGB, any N/H/W (or N fixed at 1: run one frame at a time); output ``labels``:
uint8 [N,H,W]; metadata_props hold JSON strings, at least :data:`REQUIRED_METADATA`. Export and quantization write the metadata
with :func:`contract_metadata` and :func:`set_metadata`; inference checks a loaded session with
:func:`check_session`.

Example:
    >>> meta = contract_metadata((360, 480))
    >>> sorted(set(REQUIRED_METADATA) - set(meta))
    []
    >>> parse_metadata(meta, "m.onnx")["input_size"]
    [360, 480]
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from roadseg.classes import CAMVID_SIZE, CLASSES, IGNORE_INDEX, PALETTE
from roadseg.errors import ModelError, reason_of

INPUT = "frames"
OUTPUT = "labels"
REQUIRED_METADATA = ("classes", "palette", "ignore_index", "input_size")


def file_kind(path: Any) -> str | None:
    """``"checkpoint"`` (a torch file: a zip, or a pickle of older torch), ``"onnx"`` (a protobuf that starts
    as a ModelProto does: its ``ir_version``) or ``None``, by a file's first bytes: to tell a user who named
    one where the other is wanted what it is.

    Example:
        >>> import pathlib, tempfile
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "best.pt"; _ = p.write_bytes(b"PK\x03\x04...")
        >>> file_kind(p)
        'checkpoint'
    """
    try:
        with open(path, "rb") as f:
            head = f.read(2)
    except OSError:
        return None
    if head[:2] == b"PK" or head[:1] == b"\x80":
        return "checkpoint"
    if len(head) == 2 and head[0] == 0x08 and 0 < head[1] < 0x20:
        return "onnx"
    return None


def not_onnx(path: Any) -> ModelError | None:
    """The one-line error for a training checkpoint named where an ONNX model is wanted, else None."""
    if file_kind(path) != "checkpoint":
        return None
    return ModelError(f"{path} is a training checkpoint, not an ONNX model: export it first "
                      f"(roadseg export {path} -o model.onnx)")  # fmt: skip


def not_checkpoint(path: Any, hint: str = "a run's best.pt or last.pt") -> ModelError | None:
    """The one-line error for an ONNX model named where a training checkpoint is wanted, else None."""
    return ModelError(f"{path} is an ONNX model, not a training checkpoint ({hint})") if file_kind(path) == "onnx" else None


def read_onnx(path: Any, *, load_external_data: bool = True) -> Any:
    """``onnx.load`` of a file someone named, or a one-line :class:`ModelError` if it is not an ONNX model."""
    import onnx

    try:
        return onnx.load(str(path), load_external_data=load_external_data)
    except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError, OSError, ...
        raise not_onnx(path) or ModelError(
            f"cannot read ONNX model {path}: {exc.__class__.__name__}: {reason_of(exc)}") from None


def contract_metadata(input_size: tuple[int, int] = CAMVID_SIZE, **extra: Any) -> dict[str, str]:
    """The metadata_props of a roadseg model (values are JSON strings); ``extra`` adds or overrides keys. Classes of
    its own (``classes=[...]``) get, unless given, a colour of their own each (:func:`distinct_palette`) and the
    label after the last as void, as CamVid's 11 have (not CamVid's colours and void, which may be one of theirs).

    >>> json.loads(contract_metadata(classes=["road", "car"])["palette"]), contract_metadata(classes=["a"])["ignore_index"]
    ([[128, 0, 0], [0, 128, 0]], '1')
    """
    from roadseg import __version__

    own = list(extra.get("classes", CLASSES)) != list(CLASSES)
    meta = {
        "classes": list(CLASSES),
        "palette": distinct_palette(len(extra["classes"])) if own else [list(c) for c in PALETTE],
        "ignore_index": len(extra["classes"]) if own else IGNORE_INDEX,
        "input_size": list(input_size),
        "roadseg_version": __version__,
        **extra,
    }
    return {k: json.dumps(v) for k, v in meta.items()}


def set_metadata(model: Any, meta: Mapping[str, str]) -> None:
    """Write ``meta`` into an ``onnx.ModelProto``'s metadata_props, replacing keys that exist."""
    existing = {p.key: p for p in model.metadata_props}
    for key, value in meta.items():
        if key in existing:
            existing[key].value = value
        else:
            model.metadata_props.add(key=key, value=value)


def json_or_text(value: str) -> Any:
    """A metadata value as its JSON says, or as it is where it is none: contract keys hold JSON; other tools (e.g. the
    quantizer) may add plain strings.

    >>> json_or_text("[64, 96]"), json_or_text("fp16 weights")
    ([64, 96], 'fp16 weights')
    """
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def distinct_palette(count: int) -> list[list[int]]:
    """``count`` (at most 256) RGB colours, each its own: PASCAL VOC's colour map from its second entry (its first is
    black), for classes that come without colours.

    Example:
        >>> distinct_palette(3)
        [[128, 0, 0], [0, 128, 0], [128, 128, 0]]
    """
    colours = []
    for index in range(1, count + 1):
        rgb = [0, 0, 0]
        for shift in range(8):
            for channel in range(3):
                rgb[channel] |= ((index >> (3 * shift + channel)) & 1) << (7 - shift)
        colours.append(rgb)
    return colours


def parse_palette(text: str) -> list[list[int]]:
    """Comma-separated colours in hex (``RRGGBB``, ``#`` optional) as ``[[r, g, b], ...]``; ValueError names one
    that is not.

    Example:
        >>> parse_palette("804080, #ffff00")
        [[128, 64, 128], [255, 255, 0]]
    """
    colours = []
    for item in (part.strip() for part in text.split(",")):
        digits = item.removeprefix("#")
        if len(digits) != 6 or any(c not in "0123456789abcdefABCDEF" for c in digits):
            raise ValueError(f"{item!r} is not a colour: RRGGBB in hex, e.g. 804080")
        colours.append([int(digits[i : i + 2], 16) for i in (0, 2, 4)])
    return colours


#: What :func:`parse_metadata` says a model that lacks a required key should have.
_WANTED = ("the contract wants JSON strings in metadata_props: classes (names in label order), palette ([R, G, B] a "
           "class), ignore_index (the label of void pixels), input_size ([H, W]); "
           "roadseg.contract.set_metadata(model, contract_metadata((H, W), classes=[...], palette=[...])) writes them")
#: Labels are uint8: no more classes (or colours) than 256.
MAX_CLASSES = 256


def parse_metadata(raw: Mapping[str, str], name: str) -> dict:
    """Decode metadata_props and check the required keys; :class:`ModelError` names what is wrong."""
    missing = [k for k in REQUIRED_METADATA if k not in raw]
    if missing:
        raise ModelError(f"{name}: metadata lacks {', '.join(missing)}: {_WANTED}")
    meta = {k: json_or_text(v) for k, v in raw.items()}
    bad = [k for k in REQUIRED_METADATA if isinstance(meta[k], str)]
    if bad:
        raise ModelError(f"{name}: metadata {', '.join(bad)} is not JSON")
    classes, palette, size = meta["classes"], meta["palette"], meta["input_size"]
    if not (isinstance(classes, list) and classes and all(isinstance(c, str) for c in classes)):
        raise ModelError(f"{name}: metadata classes is not a list of class names")
    for key, values in (("classes", classes), ("palette", palette)):
        if isinstance(values, list) and len(values) > MAX_CLASSES:
            raise ModelError(f"{name}: metadata {key} holds {len(values)} {'classes' if key == 'classes' else 'colours'}; "
                             f"labels are uint8, so a contract model has at most {MAX_CLASSES}")  # fmt: skip
    if not (isinstance(palette, list) and len(palette) >= len(classes) and all(
            isinstance(c, list) and len(c) == 3 and all(isinstance(v, int) and 0 <= v <= 255 for v in c)
            for c in palette)):  # fmt: skip
        raise ModelError(f"{name}: metadata palette is not an RGB colour (0-255) for each class")
    if size_pair(size) is None:
        raise ModelError(f"{name}: metadata input_size is not a working size [height, width] in pixels")
    if not isinstance(meta["ignore_index"], int):
        raise ModelError(f"{name}: metadata ignore_index is not a class index")
    return meta


def _described(arg: Any) -> str:
    """An onnxruntime input or output as the contract's words put one: ``uint8 [N,H,W,3]``."""
    kind = arg.type.removeprefix("tensor(").removesuffix(")")
    return f"{kind} [{','.join('?' if d is None else str(d) for d in arg.shape or [])}]"


def size_pair(value: Any) -> tuple[int, int] | None:
    """A decoded metadata value as a (height, width) in pixels where it is one (a list of two ints above 0: what
    ``input_size`` and ``fixed_size`` hold), else None.

    >>> size_pair([360, 480]), size_pair([360]), size_pair("360x480")
    ((360, 480), None, None)
    """
    ok = isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) and v > 0 for v in value)
    return (value[0], value[1]) if ok else None


def fixed_size(meta: Mapping[str, Any]) -> tuple[int, int] | None:
    """The (height, width) decoded metadata say a model's network is fixed at inside (``fixed_size``: ``adapt_onnx``
    writes it), else None.

    >>> fixed_size({"fixed_size": [288, 288]}), fixed_size({})
    ((288, 288), None)
    """
    return size_pair(meta.get("fixed_size"))


def batch_fixed(session: Any) -> bool:
    """Whether an onnxruntime session's ``frames`` input takes one frame at a time: its batch fixed at 1 (the
    contract's check refuses another fixed batch)."""
    f = {i.name: i for i in session.get_inputs()}.get(INPUT)
    return f is not None and bool(f.shape) and f.shape[0] == 1


def check_session(session: Any, name: str) -> dict:
    """Check an onnxruntime session's inputs, outputs and metadata; return the decoded metadata. Each breach is one
    :class:`ModelError` line that says what the model has and what the contract wants."""
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name: o for o in session.get_outputs()}
    pixels = "the contract wants uint8 [N,H,W,3] RGB pixels"
    f = inputs.get(INPUT)
    if f is None:
        has = ", ".join(f"{n}: {_described(i)}" for n, i in inputs.items())
        raise ModelError(f"{name}: no input named '{INPUT}' (it has {has}); {pixels} named '{INPUT}'")
    if f.type != "tensor(uint8)" or len(f.shape) != 4 or isinstance(f.shape[3], int) and f.shape[3] != 3:
        raise ModelError(f"{name}: input '{INPUT}' is {_described(f)}; {pixels} (0-255): cast and normalise inside "
                         "the graph")  # fmt: skip
    if isinstance(f.shape[0], int) and f.shape[0] != 1 or any(isinstance(d, int) for d in f.shape[1:3]):
        # (else a run fails at its first frame, in onnxruntime's words; a batch fixed at 1 is run one frame at a time)
        shape = "x".join(str(d) if isinstance(d, int) else "?" for d in f.shape)
        raise ModelError(f"{name}: input '{INPUT}' has a fixed shape ({shape}); the contract takes any N (or N fixed at 1), H and W: "
                         "export it with dynamic axes, or wrap the network's own file with roadseg.export.adapt.adapt_onnx "
                         "(it resizes frames to a fixed size inside the graph)")  # fmt: skip
    o = outputs.get(OUTPUT)
    labels = "the contract wants uint8 [N,H,W]: one class index a pixel (the argmax inside the graph)"
    if o is None:
        has = ", ".join(f"{n}: {_described(i)}" for n, i in outputs.items())
        raise ModelError(f"{name}: no output named '{OUTPUT}' (it has {has}); {labels}, named '{OUTPUT}'")
    if o.type != "tensor(uint8)" or len(o.shape) != 3:
        raise ModelError(f"{name}: output '{OUTPUT}' is {_described(o)}; {labels}")
    return parse_metadata(session.get_modelmeta().custom_metadata_map, name)
