"""Joint image/mask augmentation in numpy/OpenCV: what moves the image moves the mask.

Example:
    >>> import numpy as np
    >>> aug = TrainTransform(crop=(64, 96))
    >>> img, lab = aug(np.zeros((90, 120, 3), np.uint8), np.zeros((90, 120), np.uint8), np.random.default_rng(0))
    >>> img.shape, lab.shape
    ((64, 96, 3), (64, 96))
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from roadseg.classes import CLASSES, IGNORE_INDEX

#: What copy-paste moves between frames: small and thin objects, whose surroundings change from one
#: street to the next (the street itself, sky and buildings stay where the frame has them). CamVid's classes:
#: a run on classes of its own refuses ``--paste`` (:func:`roadseg.train.data.load_data`).
PASTE_CLASSES: tuple[int, ...] = tuple(
    CLASSES.index(c) for c in ("Pole", "SignSymbol", "Fence", "Car", "Pedestrian", "Bicyclist")
)


def random_scale(image: np.ndarray, label: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    h, w = label.shape
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interp = cv2.INTER_LINEAR if scale >= 1 else cv2.INTER_AREA
    return cv2.resize(image, size, interpolation=interp), cv2.resize(
        label, size, interpolation=cv2.INTER_NEAREST
    )


def random_crop(
    image: np.ndarray, label: np.ndarray, crop: tuple[int, int], rng: np.random.Generator, void: int = IGNORE_INDEX
) -> tuple[np.ndarray, np.ndarray]:
    """Crop to ``crop`` (h, w); pads first (image with 0, label with ``void``) if the image is smaller."""
    ch, cw = crop
    h, w = label.shape
    ph, pw = max(0, ch - h), max(0, cw - w)
    if ph or pw:
        image = cv2.copyMakeBorder(image, 0, ph, 0, pw, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        label = cv2.copyMakeBorder(label, 0, ph, 0, pw, cv2.BORDER_CONSTANT, value=void)
        h, w = label.shape
    y = int(rng.integers(0, h - ch + 1))
    x = int(rng.integers(0, w - cw + 1))
    return image[y : y + ch, x : x + cw], label[y : y + ch, x : x + cw]


def photometric(image: np.ndarray, rng: np.random.Generator, strength: float, *, gamma: float = 0.0,
                colour_cast: float = 0.0) -> np.ndarray:  # fmt: skip
    """Random brightness, contrast, saturation, hue, gamma and colour cast, on a uint8 RGB image.

    ``strength`` sets brightness/contrast/saturation (x[1-s, 1+s]) and hue (±18·s degrees/2);
    ``gamma`` draws a gamma in [1/(1+g), 1+g] (dusk, overcast, glare move mid-tones, not just
    levels); ``colour_cast`` scales each channel by [1-c, 1+c] (white balance, street lights).
    """
    if strength <= 0 and gamma <= 0 and colour_cast <= 0:
        return image
    img = image.astype(np.float32)
    if colour_cast > 0:
        img = img * rng.uniform(1 - colour_cast, 1 + colour_cast, size=3).astype(np.float32)
    if strength > 0:
        img = img * rng.uniform(1 - strength, 1 + strength)  # brightness
        mean = img.mean()
        img = (img - mean) * rng.uniform(1 - strength, 1 + strength) + mean  # contrast
        grey = img.mean(axis=2, keepdims=True)
        img = (img - grey) * rng.uniform(1 - strength, 1 + strength) + grey  # saturation
    img = np.clip(img, 0, 255)
    if gamma > 0:
        g = float(np.exp(rng.uniform(-np.log1p(gamma), np.log1p(gamma))))
        img = 255.0 * (img / 255.0) ** g
    img = img.astype(np.uint8)
    shift = int(rng.integers(-int(18 * strength), int(18 * strength) + 1)) if strength > 0 else 0
    if shift:
        hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
        hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + shift) % 180).astype(np.uint8)
        img = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    return img


def degrade(image: np.ndarray, rng: np.random.Generator, *, blur: float = 0.0, noise: float = 0.0) -> np.ndarray:
    """With probability ``blur`` a Gaussian blur (sigma 0.3-1.5 px: focus, motion, compression);
    with probability ``noise`` Gaussian sensor noise (sigma 2-10 levels: dusk, small sensors)."""
    if blur > 0 and rng.random() < blur:
        image = cv2.GaussianBlur(image, (0, 0), sigmaX=float(rng.uniform(0.3, 1.5)))
    if noise > 0 and rng.random() < noise:
        sigma = float(rng.uniform(2.0, 10.0))
        noisy = image.astype(np.float32) + rng.normal(0.0, sigma, image.shape).astype(np.float32)
        image = np.clip(noisy, 0, 255).astype(np.uint8)
    return image


def paste_objects(
    image: np.ndarray, label: np.ndarray, donor_image: np.ndarray, donor_label: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Copy-paste: the donor's pixels of some of its :data:`PASTE_CLASSES` laid over ``image`` and ``label``.

    Each object class the donor shows is taken with probability 1/2 (at least one). Image and donor are
    the same size (both already cropped).

    Example:
        >>> img, lab = np.zeros((2, 2, 3), np.uint8), np.full((2, 2), 3, np.uint8)
        >>> don, dlab = np.full((2, 2, 3), 9, np.uint8), np.array([[8, 3], [3, 3]], np.uint8)
        >>> out, olab = paste_objects(img, lab, don, dlab, np.random.default_rng(0))
        >>> olab.tolist(), out[0, 0].tolist(), out[1, 1].tolist()
        ([[8, 3], [3, 3]], [9, 9, 9], [0, 0, 0])
    """
    present = [c for c in PASTE_CLASSES if (donor_label == c).any()]
    if not present:
        return image, label
    chosen = [c for c in present if rng.random() < 0.5] or [present[int(rng.integers(len(present)))]]
    mask = np.isin(donor_label, chosen)
    return np.where(mask[..., None], donor_image, image), np.where(mask, donor_label, label)


@dataclass(frozen=True)
class TrainTransform:
    """Random scale, random crop, horizontal flip, photometric jitter and degradation, applied jointly.

    Args:
        crop: (height, width) of the output.
        scale: range the image is rescaled by before cropping.
        flip: probability of a horizontal flip.
        jitter: strength of the photometric jitter (0 disables it).
        gamma, colour_cast: see :func:`photometric`; blur, noise: see :func:`degrade`.
        paste: probability that a donor frame, when one is given, has its objects pasted in
            (:func:`paste_objects`), after both are scaled, cropped and flipped and before the
            photometric steps, so pasted objects take the frame's light.
        void: the label value of void, what a crop larger than the frame is padded with.
    """

    crop: tuple[int, int] = (256, 256)
    scale: tuple[float, float] = (0.5, 1.5)
    flip: float = 0.5
    jitter: float = 0.3
    gamma: float = 0.0
    colour_cast: float = 0.0
    blur: float = 0.0
    noise: float = 0.0
    paste: float = 0.0
    void: int = IGNORE_INDEX

    def geometric(
        self, image: np.ndarray, label: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Random scale, crop and flip."""
        image, label = random_scale(image, label, float(rng.uniform(*self.scale)))
        image, label = random_crop(image, label, self.crop, rng, self.void)
        if rng.random() < self.flip:
            image, label = image[:, ::-1], label[:, ::-1]
        return image, label

    def __call__(
        self, image: np.ndarray, label: np.ndarray, rng: np.random.Generator,
        donor: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        image, label = self.geometric(image, label, rng)
        if donor is not None and self.paste > 0 and rng.random() < self.paste:
            image, label = paste_objects(image, label, *self.geometric(*donor, rng), rng)
        image = photometric(np.ascontiguousarray(image), rng, self.jitter, gamma=self.gamma,
                            colour_cast=self.colour_cast)  # fmt: skip
        image = degrade(image, rng, blur=self.blur, noise=self.noise)
        return image, np.ascontiguousarray(label)
