"""Seam matching: pixels fetched from other frames may differ in exposure or colour (flicker, a cloud, auto
gain). The difference between the frame's real pixels on a thin ring around the hole and what propagation
fetched for that same ring is measured and spread smoothly into the hole, per channel, as an offset field.

Offsets (not gains) because they stay well defined for scene-linear values near or below zero; the field is
smooth so texture comes from the source frames and only the low frequencies are corrected.
"""

from __future__ import annotations

import numpy as np

from ..flow import push_pull_fill


def seam_offsets(
    hole_ys: np.ndarray,
    hole_xs: np.ndarray,
    ring_ys: np.ndarray,
    ring_xs: np.ndarray,
    ring_offset: np.ndarray,
) -> np.ndarray:
    """Offsets (N_hole, 3) at the hole pixels, interpolated from ``ring_offset`` (N_ring, 3) on the ring.

    Work is limited to the bounding box of the hole and ring.
    """
    if len(ring_ys) == 0 or len(hole_ys) == 0:
        return np.zeros((len(hole_ys), 3), dtype=np.float32)
    y0 = int(min(hole_ys.min(), ring_ys.min()))
    x0 = int(min(hole_xs.min(), ring_xs.min()))
    y1 = int(max(hole_ys.max(), ring_ys.max())) + 1
    x1 = int(max(hole_xs.max(), ring_xs.max())) + 1
    values = np.zeros((y1 - y0, x1 - x0, 3), dtype=np.float32)
    known = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    values[ring_ys - y0, ring_xs - x0] = ring_offset
    known[ring_ys - y0, ring_xs - x0] = True
    # Median-clamp so a few misregistered edge pixels cannot tint the whole hole.
    limit = 3.0 * np.median(np.abs(ring_offset), axis=0) + 1e-6
    values = np.clip(values, -limit, limit)
    field = push_pull_fill(values, known, smooth=True)
    return field[hole_ys - y0, hole_xs - x0]
