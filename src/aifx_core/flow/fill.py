"""Smooth scattered-data fill (push-pull): completes flow fields, pre-fills holes, spreads seam offsets.

A membrane (Laplace) fill is the textbook answer; push-pull over a Gaussian pyramid gives a visually similar,
smooth interpolation in O(pixels) with a handful of OpenCV calls, with no iterative solver whose cost grows
with the hole's size. Known pixels come back exactly.
"""

from __future__ import annotations

import cv2
import numpy as np

from .ops import channel_mask, interleave, largest_channel, nearest_along_rows


def push_pull_fill(
    values: np.ndarray, known: np.ndarray, *, saturation: float = 4.0, smooth: bool = False
) -> np.ndarray:
    """Return ``values`` with every pixel where ``known`` is False replaced by a smooth interpolation.

    ``values``: (H, W) or (H, W, C) float32 with C ≤ 4; ``known``: (H, W) bool. Unknown pixels may hold
    anything (NaN included). If nothing is known the result is all zeros. ``smooth`` interpolates from half
    resolution up (about 4x cheaper; for fields that are smooth anyway, such as flow residuals).
    """
    array = np.asarray(values, dtype=np.float32)
    squeeze = array.ndim == 2
    if squeeze:
        array = array[..., None]
    channels = array.shape[-1]
    weight = known.astype(np.float32)
    # (not array · weight: unknown pixels may hold NaN/Inf, and 0·NaN is still NaN)
    premult = np.zeros(array.shape, np.float32)
    where = channel_mask(known, channels)
    np.copyto(premult, array, where=where)  # (as np.where(known, array, 0), ~4x cheaper)
    levels: list[tuple[np.ndarray, np.ndarray]] = []
    v, w = premult, weight
    while min(w.shape[:2]) > 2:
        levels.append((v, w))
        vd = _as3(cv2.pyrDown(v), channels)
        wd = cv2.pyrDown(w)
        mean = vd / _wide(np.maximum(wd, np.float32(1e-12)), channels)
        w = np.minimum(wd * np.float32(saturation), np.float32(1.0))
        v = mean * _wide(w, channels)
    # Coarsest level: normalise whatever weight there is; all-unknown stays 0.
    estimate = v / _wide(np.maximum(w, np.float32(1e-12)), channels)
    if (w <= 0).any():
        estimate[w <= 0] = estimate[w > 0].mean(axis=0) if (w > 0).any() else 0.0
    for depth, (v_level, w_level) in reversed(list(enumerate(levels))):
        height, width = w_level.shape
        up = _as3(cv2.pyrUp(estimate, dstsize=(width, height)), channels)
        estimate = up if smooth and depth == 0 else v_level + _wide(np.float32(1.0) - w_level, channels) * up
    np.copyto(estimate, array, where=where)
    return estimate[..., 0] if squeeze else estimate


def line_fill(
    values: np.ndarray, known: np.ndarray, *, axis: int, default: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(``values`` (H, W, C) with every pixel where ``known`` is False replaced by the linear interpolation
    between the nearest known pixels before and after it along its row (``axis`` 1) or column (0), with one of
    them only by that one's value, with neither by ``default``'s; per pixel, the largest channel difference
    between those two ends (0 where there are not two)).

    What a blur along that axis leaves of a plate: a whip pan smears the plate along its motion, so across a
    hole the plate changes smoothly along the motion, not across it. Ends that differ much are two things (an
    object's edge and the ground): the caller may trust the line less there."""
    array = np.asarray(values, np.float32)
    fallback = np.asarray(default, np.float32)
    if axis == 0:
        array, fallback, known = array.swapaxes(0, 1), fallback.swapaxes(0, 1), known.T
    height, width = known.shape
    columns = np.arange(width)[None, :]
    before, after = nearest_along_rows(known)
    has_before, has_after = before >= 0, after < width
    rows = np.arange(height)[:, None]
    low = array[rows, np.maximum(before, 0)]
    high = array[rows, np.minimum(after, width - 1)]
    span = np.maximum(after - before, 1).astype(np.float32)
    weight = np.where(has_before & has_after, (columns - before) / span, has_after.astype(np.float32))
    weight = weight.astype(np.float32)
    channels = array.shape[-1]
    # (per-pixel factors and masks repeated over the channels first: NumPy's broadcast over a short last axis
    # is slow; the same values)
    out = _wide(np.float32(1.0) - weight, channels) * low + _wide(weight, channels) * high
    out = np.where(channel_mask(has_before | has_after, channels), out, fallback)
    out = np.where(channel_mask(known, channels), array, out)
    spread = np.abs(low - high)
    widest = largest_channel(spread) if channels == 3 else spread.max(axis=-1)
    ends = np.where(has_before & has_after, widest, np.float32(0.0))
    return (out.swapaxes(0, 1), ends.T) if axis == 0 else (out, ends)


def _wide(plane: np.ndarray, channels: int) -> np.ndarray:
    """A per-pixel (H, W) factor over ``channels``: the values of ``plane[..., None]``, made contiguous
    (:func:`.ops.interleave`), since NumPy's arithmetic with a broadcast, stride-0 last axis takes a slow path
    (a 113x182x4 division: 0.12 → 0.03 ms with the factor repeated first)."""
    return plane[..., None] if channels == 1 else interleave([plane] * channels)


def _as3(array: np.ndarray, channels: int) -> np.ndarray:
    """OpenCV drops a trailing axis of length 1; put it back."""
    return array[..., None] if array.ndim == 2 and channels == 1 else array
