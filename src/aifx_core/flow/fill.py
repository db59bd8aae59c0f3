"""Smooth scattered-data fill (push-pull), used to complete flow fields, pre-fill holes and spread seam offsets.

A membrane (Laplace) fill is the textbook answer; push-pull over a Gaussian pyramid gives a visually similar,
smooth interpolation in O(pixels) with a handful of OpenCV calls, with no iterative solver whose cost grows
with the hole's size. Known pixels come back exactly.
"""

from __future__ import annotations

import cv2
import numpy as np


def push_pull_fill(values: np.ndarray, known: np.ndarray, *, saturation: float = 4.0) -> np.ndarray:
    """Return ``values`` with every pixel where ``known`` is False replaced by a smooth interpolation.

    ``values``: (H, W) or (H, W, C) float32 with C ≤ 4; ``known``: (H, W) bool. Unknown pixels may hold
    anything (NaN included). If nothing is known the result is all zeros.
    """
    array = np.asarray(values, dtype=np.float32)
    squeeze = array.ndim == 2
    if squeeze:
        array = array[..., None]
    weight = known.astype(np.float32)
    premult = np.where(known[..., None], array, 0.0).astype(np.float32)
    levels: list[tuple[np.ndarray, np.ndarray]] = []
    v, w = premult, weight
    while min(w.shape[:2]) > 2:
        levels.append((v, w))
        vd = _as3(cv2.pyrDown(v), v.shape[-1])
        wd = cv2.pyrDown(w)
        mean = vd / np.maximum(wd, 1e-12)[..., None]
        w = np.minimum(wd * saturation, 1.0).astype(np.float32)
        v = (mean * w[..., None]).astype(np.float32)
    # Coarsest level: normalise whatever weight there is; all-unknown stays 0.
    estimate = v / np.maximum(w, 1e-12)[..., None]
    estimate[w <= 0] = estimate[w > 0].mean(axis=0) if (w > 0).any() else 0.0
    for v_level, w_level in reversed(levels):
        h, wd_ = w_level.shape
        up = _as3(cv2.pyrUp(estimate, dstsize=(wd_, h)), v_level.shape[-1])
        estimate = v_level + (1.0 - w_level)[..., None] * up
    out = np.where(known[..., None], array, estimate).astype(np.float32)
    return out[..., 0] if squeeze else out


def _as3(array: np.ndarray, channels: int) -> np.ndarray:
    """OpenCV drops a trailing axis of length 1; put it back."""
    return array[..., None] if array.ndim == 2 and channels == 1 else array
