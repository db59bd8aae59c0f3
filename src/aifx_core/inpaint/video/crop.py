"""Where a window of frames goes into the model: the union of its holes plus context, at the model's size.

A 4K plate with a 600 px explosion should cost a model call on that region at the model's own resolution, not
on the whole frame. The crop is the bounding box of every hole in the window (known frames included, so an
object that moves is covered in every frame) grown by a context margin and kept inside the plate; it is then
resized, keeping its aspect, to about ``size × size`` pixels with sides that are multiples of ``multiple``
(16 for Wan: VAE factor 8 × patch 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from ..crop import default_margin


@dataclass(frozen=True)
class VideoCrop:
    """A box of plate pixels (inside the plate) and the model-space size it is resized to."""

    top: int
    left: int
    height: int
    width: int
    model_height: int
    model_width: int

    def box(self) -> tuple[slice, slice]:
        return slice(self.top, self.top + self.height), slice(self.left, self.left + self.width)


def plan_video_crop(union: np.ndarray, size: int, multiple: int = 16, margin: int | None = None) -> VideoCrop:
    """The crop for a window whose holes OR together into ``union`` (bool H×W, at least one pixel)."""
    rows = np.flatnonzero(union.any(axis=1))
    cols = np.flatnonzero(union.any(axis=0))
    if rows.size == 0:
        raise ValueError("plan_video_crop needs a hole with at least one pixel")
    height, width = union.shape
    y0, y1 = int(rows[0]), int(rows[-1]) + 1
    x0, x1 = int(cols[0]), int(cols[-1]) + 1
    if margin is None:
        margin = default_margin(y1 - y0, x1 - x0)
    margin = max(int(margin), 0)
    top, bottom = max(y0 - margin, 0), min(y1 + margin, height)
    left, right = max(x0 - margin, 0), min(x1 + margin, width)
    box_h, box_w = bottom - top, right - left
    model_h, model_w = model_shape(box_h, box_w, size, multiple)
    return VideoCrop(top, left, box_h, box_w, model_h, model_w)


def model_shape(height: int, width: int, size: int, multiple: int = 16) -> tuple[int, int]:
    """(height, width) in model pixels of a ``height × width`` plate box at about ``size × size`` pixels,
    aspect kept, sides multiples of ``multiple``."""
    scale = math.sqrt(float(size) * float(size) / float(height * width))
    return (
        max(multiple, int(round(height * scale / multiple)) * multiple),
        max(multiple, int(round(width * scale / multiple)) * multiple),
    )


def to_model_size(image: np.ndarray, crop: VideoCrop) -> np.ndarray:
    """Resize a cropped float image to the model size (area-averaged when shrinking)."""
    size = (crop.model_width, crop.model_height)
    if (crop.height, crop.width) == (crop.model_height, crop.model_width):
        return image
    shrink = crop.model_height * crop.model_width < crop.height * crop.width
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def hole_to_model_size(hole: np.ndarray, crop: VideoCrop) -> np.ndarray:
    """Resize a cropped hole; a model pixel is hole if any plate pixel under it is (never shrink a hole)."""
    if (crop.height, crop.width) == (crop.model_height, crop.model_width):
        return hole.astype(bool)
    size = (crop.model_width, crop.model_height)
    area = cv2.resize(hole.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0
    nearest = cv2.resize(hole.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    return area | nearest


def from_model_size(image: np.ndarray, crop: VideoCrop) -> np.ndarray:
    """Resize a model-size result back to the crop's plate size."""
    if (crop.height, crop.width) == (crop.model_height, crop.model_width):
        return image
    grow = crop.height * crop.width > crop.model_height * crop.model_width
    size = (crop.width, crop.height)
    return cv2.resize(image, size, interpolation=cv2.INTER_CUBIC if grow else cv2.INTER_AREA)
