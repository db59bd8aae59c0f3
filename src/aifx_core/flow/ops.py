"""Warping, sampling and the forward-backward consistency check, shared by the flow and propagate code.

Flows are (H, W, 2) float32 in pixels, ``flow[y, x] = (dx, dy)``: pixel (x, y) of image A is seen at
(x + dx, y + dy) in image B. Backward warping B with the A→B flow therefore gives A's view of B.
"""

from __future__ import annotations

import cv2
import numpy as np

#: cv2.remap refuses maps with a side of SHRT_MAX or more: long point lists are sampled in rows this long.
_ROW = 16384


def identity_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return xs, ys


def warp(
    image: np.ndarray,
    flow: np.ndarray,
    *,
    interpolation: int = cv2.INTER_LINEAR,
    border: int = cv2.BORDER_REPLICATE,
) -> np.ndarray:
    """Backward warp: ``out[y, x] = image[y + dy, x + dx]`` with the flow ``(dx, dy)`` of the output grid."""
    height, width = flow.shape[:2]
    xs, ys = identity_grid(height, width)
    return cv2.remap(image, xs + flow[..., 0], ys + flow[..., 1], interpolation, borderMode=border)


def consistency_mask(
    fwd: np.ndarray, bwd: np.ndarray, tol: float = 1.0, *, relative: float = 0.05
) -> np.ndarray:
    """True where the A→B flow ``fwd`` and the B→A flow ``bwd`` agree (the pixel is not occluded in B).

    A pixel passes when ``|fwd + bwd(p + fwd)| <= tol + relative * (|fwd| + |bwd(p + fwd)|)``: a round trip
    must come back within ``tol`` pixels, loosened a little for fast motion where flow is less precise.
    Pixels whose target lies outside B fail.
    """
    back = warp(bwd, fwd, border=cv2.BORDER_CONSTANT)
    error = np.linalg.norm(fwd + back, axis=-1)
    limit = tol + relative * (np.linalg.norm(fwd, axis=-1) + np.linalg.norm(back, axis=-1))
    height, width = fwd.shape[:2]
    xs, ys = identity_grid(height, width)
    tx, ty = xs + fwd[..., 0], ys + fwd[..., 1]
    inside = (tx >= 0) & (tx <= width - 1) & (ty >= 0) & (ty <= height - 1)
    return (error <= limit) & inside


def sample_points(
    image: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
    *,
    interpolation: int = cv2.INTER_LINEAR,
    border: int = cv2.BORDER_REPLICATE,
) -> np.ndarray:
    """Sample ``image`` (H, W[, C]) at N float positions → (N[, C]); bilinear by default.

    Costs O(N), not O(H·W): the propagation engine only ever looks at hole pixels.
    """
    n = len(xs)
    channels = image.shape[2:] if image.ndim == 3 else ()
    if n == 0:
        return np.zeros((0, *channels), dtype=image.dtype)
    if n < _ROW:
        mx = np.asarray(xs, dtype=np.float32).reshape(1, n)
        my = np.asarray(ys, dtype=np.float32).reshape(1, n)
        return cv2.remap(image, mx, my, interpolation, borderMode=border).reshape(n, *channels)
    rows = -(-n // _ROW)
    mx = np.zeros(rows * _ROW, np.float32)
    my = np.zeros(rows * _ROW, np.float32)
    mx[:n], my[:n] = xs, ys
    out = cv2.remap(image, mx.reshape(rows, _ROW), my.reshape(rows, _ROW), interpolation, borderMode=border)
    return out.reshape(rows * _ROW, *channels)[:n]
