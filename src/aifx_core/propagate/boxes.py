"""Boxes around scattered points (a seam ring, a hole): the tiles :mod:`.seam` and :mod:`.blur_match` work
in, so their cost follows the points, not the extent of the box around them all."""

from __future__ import annotations

import numpy as np

#: A box (y0, x0, y1, x1: the ends excluded).
Box = tuple[int, int, int, int]


def bounds(ys: np.ndarray, xs: np.ndarray, pad: int) -> Box:
    """The box around the points ``ys``, ``xs``, grown by ``pad`` on every side."""
    return int(ys.min()) - pad, int(xs.min()) - pad, int(ys.max()) + 1 + pad, int(xs.max()) + 1 + pad


def area(box: Box) -> int:
    return (box[2] - box[0]) * (box[3] - box[1])


def grown(box: Box, by: int, limit: Box) -> Box:
    """``box`` grown by ``by`` pixels on every side, within ``limit``."""
    return (
        max(box[0] - by, limit[0]),
        max(box[1] - by, limit[1]),
        min(box[2] + by, limit[2]),
        min(box[3] + by, limit[3]),
    )


def inside(ys: np.ndarray, xs: np.ndarray, box: Box) -> np.ndarray:
    return (ys >= box[0]) & (ys < box[2]) & (xs >= box[1]) & (xs < box[3])
