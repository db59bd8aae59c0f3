"""Crop-to-mask: run an image model on a square around the hole at the model's native size, not on the plate.

A 4K plate with a 300 px hole should cost one 512–1024 px model call, and a diffusion model generates its
best detail at the size it was trained at. So every learned spatial backend (``lama``, ``diffusers``) fills
through :func:`fill_through_crop`:

1. :func:`plan_crop`: the hole's bounding box plus a context ``margin``, squared up to at least the model size
   (so a small hole is seen 1:1, at native resolution), rounded up to a ``multiple`` (8 for SD, 16 for
   Flux/SDXL), centred on the hole and slid back inside the plate at borders. When the plate is smaller than
   the square, the square is centred on the plate and the outside is filled by mirroring the plate (and the
   hole, so a mirrored object is filled too, not copied as context).
2. :func:`extract`, convert the crop to model space (``aifx_core.colour.to_model``: sRGB-encoded 0..1, HDR
   soft-clipped reversibly), resize it to the model size (only a hole larger than the model size makes the
   square larger than that: it is then *downscaled*, so a huge hole costs one model call at lower detail).
3. the model fills the ``model_size`` square; the result is resized back, converted back with ``from_model``,
   capped at the context's brightest value (:func:`fill_ceiling`) and pasted into a copy of the plate. Outside the square the returned frame *is* the input, bit for bit;
   inside it the model's pixels are returned everywhere (the composite blends them in the feathered mask only).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

#: Model callback: (model-space RGB float32 (S, S, 3) in [0, 1], hole bool (S, S)) -> float32 (S, S, 3).
ModelFill = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class CropWindow:
    """A ``side`` × ``side`` square of plate coordinates (it may stick out of the plate), fed to the model at
    ``model_size`` × ``model_size``."""

    top: int
    left: int
    side: int
    model_size: int
    plate_height: int
    plate_width: int

    @property
    def scale(self) -> float:
        """Model pixels per plate pixel: 1 for a hole that fits the model size, below 1 for larger holes."""
        return self.model_size / self.side

    def plate_box(self) -> tuple[slice, slice]:
        """The part of the plate the square covers (rows, columns)."""
        rows = slice(max(self.top, 0), min(self.top + self.side, self.plate_height))
        cols = slice(max(self.left, 0), min(self.left + self.side, self.plate_width))
        return rows, cols

    def window_box(self) -> tuple[slice, slice]:
        """Where :meth:`plate_box` lies inside the square."""
        rows, cols = self.plate_box()
        return (
            slice(rows.start - self.top, rows.stop - self.top),
            slice(cols.start - self.left, cols.stop - self.left),
        )


def _round_up(value: float, multiple: int) -> int:
    return int(math.ceil(value / multiple) * multiple)


def model_side(size: int, multiple: int) -> int:
    """``size`` rounded down to a multiple of ``multiple``, one multiple at least: the square side a model runs
    at (the ``size`` option of diffusers and LaMa)."""
    return max(multiple, size // multiple * multiple)


def smaller_side(side: int, multiple: int) -> int:
    """The ``size`` an out-of-memory message suggests after a ``side`` square did not fit: three quarters of it,
    as a side the model runs at, so diffusers and LaMa advise alike."""
    return model_side(side * 3 // 4, multiple)


def default_margin(box_height: int, box_width: int) -> int:
    """Context around the hole: a quarter of its longer side, at least 16 px (the model needs surroundings to
    match; more is free while the square is still at the model size)."""
    return max(16, int(round(0.25 * max(box_height, box_width))))


def _place(centre: float, side: int, plate: int) -> int:
    """First coordinate of a ``side`` span centred on ``centre`` and slid inside ``[0, plate)``; a span longer
    than the plate is centred on the plate instead (the outside is padded)."""
    if side >= plate:
        return -((side - plate) // 2)
    start = int(round(centre - side / 2))
    return min(max(start, 0), plate - side)


def plan_crop(hole: np.ndarray, model_size: int, multiple: int = 8, margin: int | None = None) -> CropWindow:
    """The square to send to the model for ``hole`` (bool H×W with at least one True pixel)."""
    if model_size <= 0 or model_size % multiple:
        raise ValueError(f"model size {model_size} must be a positive multiple of {multiple}")
    rows = np.flatnonzero(hole.any(axis=1))
    cols = np.flatnonzero(hole.any(axis=0))
    if rows.size == 0:
        raise ValueError("plan_crop needs a hole with at least one pixel")
    y0, y1 = int(rows[0]), int(rows[-1]) + 1
    x0, x1 = int(cols[0]), int(cols[-1]) + 1
    if margin is None:
        margin = default_margin(y1 - y0, x1 - x0)
    need = max(y1 - y0, x1 - x0) + 2 * max(int(margin), 0)
    side = _round_up(max(need, model_size), multiple)
    height, width = hole.shape
    return CropWindow(
        top=_place((y0 + y1) / 2, side, height),
        left=_place((x0 + x1) / 2, side, width),
        side=side,
        model_size=model_size,
        plate_height=height,
        plate_width=width,
    )


def extract(image: np.ndarray, window: CropWindow) -> np.ndarray:
    """The square of ``image`` (H×W or H×W×C), mirrored (symmetric padding) where it leaves the plate."""
    rows, cols = window.plate_box()
    inside = image[rows, cols]
    pad_rows = (rows.start - window.top, window.top + window.side - rows.stop)
    pad_cols = (cols.start - window.left, window.left + window.side - cols.stop)
    if pad_rows == (0, 0) and pad_cols == (0, 0):
        return inside.copy()
    pads = [pad_rows, pad_cols] + [(0, 0)] * (image.ndim - 2)
    return np.pad(inside, pads, mode="symmetric")


def to_model_size(square: np.ndarray, window: CropWindow) -> np.ndarray:
    """Resize an extracted float square to the model size (area-averaged when shrinking)."""
    if window.side == window.model_size:
        return square
    size = (window.model_size, window.model_size)
    return cv2.resize(square, size, interpolation=cv2.INTER_AREA)


def hole_to_model_size(hole_square: np.ndarray, window: CropWindow) -> np.ndarray:
    """Resize a hole square to the model size; a model pixel is hole if any plate pixel under it is."""
    if window.side == window.model_size:
        return hole_square.astype(bool)
    size = (window.model_size, window.model_size)
    return cv2.resize(hole_square.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0


def from_model_size(square: np.ndarray, window: CropWindow) -> np.ndarray:
    """Resize a model-size result back to the square's plate size."""
    if window.side == window.model_size:
        return square
    size = (window.side, window.side)
    return cv2.resize(square, size, interpolation=cv2.INTER_CUBIC)


def paste(plate: np.ndarray, square: np.ndarray, window: CropWindow) -> np.ndarray:
    """A copy of ``plate`` with the square's in-plate part replaced by ``square``."""
    out = plate.copy()
    rows, cols = window.plate_box()
    win_rows, win_cols = window.window_box()
    out[rows, cols] = square[win_rows, win_cols]
    return out


def brightest_known(values: np.ndarray, known: np.ndarray) -> float:
    """The largest finite channel value of ``values`` (H×W×3) where ``known`` (H×W); -inf when there is none."""
    context = np.asarray(values)[np.asarray(known, dtype=bool)]
    finite = context[np.isfinite(context)]
    return float(finite.max()) if finite.size else -math.inf


def fill_ceiling(brightest: float, colorspace: str) -> float:
    """The brightest plate value a fill may have: the context's ``brightest`` (:func:`brightest_known`), or
    diffuse white if that is higher.

    The soft clip's inverse is steep near its top (model 0.99 is scene 7.3, 1.0 is ``LINEAR_LIMIT``, 256) and
    diffusers clamps its output to [0, 1], so any white a model paints would come back as a blazing highlight
    on a plate that has none: fireflies that propagation carries through the shot. Capped here, a fill is
    brighter than diffuse white only where the context around the hole has highlights. One number for all
    channels, in the plate's own values (not model space, where a gamut change lifts saturated channels), so
    a capped white stays neutral.
    """
    from ..colour import scene_white

    return max(brightest, scene_white(colorspace))


def fill_through_crop(
    rgb: np.ndarray,
    hole: np.ndarray,
    colorspace: str,
    model_fill: ModelFill,
    model_size: int,
    multiple: int = 8,
    margin: int | None = None,
) -> np.ndarray:
    """Fill ``hole`` of ``rgb`` (plate values, float32 H×W×3) with ``model_fill`` run on one model-size square.

    Returns float32 H×W×3 equal to ``rgb`` outside the square (NaN/Inf and values > 1 included). An empty hole
    returns a copy of ``rgb`` without calling the model.
    """
    from ..colour import from_model, to_model

    plate = np.asarray(rgb, dtype=np.float32)
    hole = np.asarray(hole, dtype=bool)
    if not hole.any():
        return plate.copy()
    window = plan_crop(hole, model_size, multiple, margin)
    square, hole_square = extract(plate, window), extract(hole, window)
    model_rgb = np.clip(to_model(square, colorspace), 0.0, 1.0).astype(np.float32)
    model_rgb = np.ascontiguousarray(to_model_size(model_rgb, window))
    model_hole = hole_to_model_size(hole_square, window)
    filled = np.asarray(model_fill(model_rgb, model_hole), dtype=np.float32)
    if filled.shape != model_rgb.shape:
        raise RuntimeError(f"model returned {filled.shape}, expected {model_rgb.shape}")
    filled = np.clip(from_model_size(filled, window), 0.0, 1.0)
    ceiling = fill_ceiling(brightest_known(square, ~hole_square), colorspace)
    back = np.minimum(from_model(filled, colorspace), np.float32(ceiling))
    return paste(plate, back.astype(np.float32), window)
