"""Flow completion: inside the hole, the flow we want is the background's motion, not the removed object's.

Camera motion over a background is well described by a homography near the hole, so we fit one with RANSAC
to flow samples on a ring around the hole and evaluate it inside; what the homography misses (parallax, a
second plane) is the ring's residual, spread smoothly inward with a push-pull (membrane-like) fill. When the
fit is poor (too few inliers: the ring sees several motions), the homography is dropped and the flow itself
is filled smoothly.
"""

from __future__ import annotations

import cv2
import numpy as np

from .fill import push_pull_fill


def complete_flow(
    flow: np.ndarray,
    hole: np.ndarray,
    *,
    ring: int = 16,
    gap: int = 10,
    ransac_px: float = 1.5,
    min_inliers: float = 0.5,
    max_samples: int = 1500,
) -> np.ndarray:
    """Return a copy of ``flow`` (H, W, 2) whose values inside ``hole`` (H, W bool) are completed.

    Flow within ``gap`` pixels of the hole is replaced too: patch-based estimators smear the pre-filled hole
    outwards (more with fast motion), so the ring the motion is learned from starts beyond that fringe.
    """
    return complete_flows(
        [flow],
        hole,
        ring=ring,
        gap=gap,
        ransac_px=ransac_px,
        min_inliers=min_inliers,
        max_samples=max_samples,
    )[0]


def complete_flows(
    flows: list[np.ndarray],
    hole: np.ndarray,
    *,
    ring: int = 16,
    gap: int = 10,
    ransac_px: float = 1.5,
    min_inliers: float = 0.5,
    max_samples: int = 1500,
) -> list[np.ndarray]:
    """:func:`complete_flow` for several flows sharing one hole (forward and backward of a frame pair)."""
    if not hole.any():
        return list(flows)
    height, width = hole.shape
    # Work on the hole's bounding box plus a margin: cost follows the hole, not the frame.
    ys, xs = np.nonzero(hole)
    margin = gap + ring + max(ring, (int(ys.ptp()) + int(xs.ptp())) // 4)
    y0, y1 = max(0, ys.min() - margin), min(height, ys.max() + margin + 1)
    x0, x1 = max(0, xs.min() - margin), min(width, xs.max() + margin + 1)
    # Distance to the hole: one linear-time transform instead of two large dilations.
    outside = (~hole[y0:y1, x0:x1]).astype(np.uint8)
    # (the 5x5 mask, not DIST_MASK_PRECISE: that one is multi-threaded and not bit-reproducible)
    distance = cv2.distanceTransform(outside, cv2.DIST_L2, 5)
    inside = distance <= gap
    known = ~inside
    if not known.any():
        return list(flows)  # the hole covers everything we can see: nothing to learn the motion from
    ring_mask = known & (distance <= gap + ring)
    gx, gy = np.meshgrid(np.arange(x1 - x0, dtype=np.float32), np.arange(y1 - y0, dtype=np.float32))
    grid = np.stack([gx, gy], axis=-1)
    bases, residuals = [], []
    residual_known = known.copy()
    for flow in flows:
        crop_flow = flow[y0:y1, x0:x1]
        base, fitted = _homography_flow(crop_flow, ring_mask, grid, ransac_px, min_inliers, max_samples)
        residual = crop_flow - base
        if fitted:
            # Spread only what the homography plausibly misses (parallax); outliers are flow errors.
            residual_known &= np.hypot(residual[..., 0], residual[..., 1]) < 4.0 * ransac_px
        bases.append(base)
        residuals.append(residual)
    if not residual_known.any():
        residual_known = known
    # One push-pull for all flows (up to two flows share a 4-channel pass).
    completed = []
    for start in range(0, len(flows), 2):
        group = residuals[start : start + 2]
        filled = push_pull_fill(np.concatenate(group, axis=-1), residual_known, smooth=True)
        for offset, flow in enumerate(flows[start : start + 2]):
            out = flow.copy()
            region = out[y0:y1, x0:x1]
            completion = bases[start + offset] + filled[..., 2 * offset : 2 * offset + 2]
            region[inside] = completion[inside]
            completed.append(out)
    return completed


def _homography_flow(
    flow: np.ndarray,
    ring_mask: np.ndarray,
    grid: np.ndarray,
    ransac_px: float,
    min_inliers: float,
    max_samples: int,
) -> tuple[np.ndarray, bool]:
    """(the flow of the ring's dominant homography over the whole crop, True) or (zeros, False) if poor."""
    failed = np.zeros_like(flow), False
    ys, xs = np.nonzero(ring_mask)
    if len(xs) < 12:
        return failed
    step = max(1, len(xs) // max_samples)  # deterministic subsampling: same input, same output
    ys, xs = ys[::step], xs[::step]
    src = np.stack([xs, ys], axis=-1).astype(np.float32)
    dst = src + flow[ys, xs]
    if not np.isfinite(dst).all():
        return failed
    cv2.setRNGSeed(0)
    matrix, inliers = cv2.findHomography(src, dst, cv2.RANSAC, ransac_px, maxIters=500, confidence=0.995)
    if matrix is None or inliers is None or inliers.mean() < min_inliers or not np.isfinite(matrix).all():
        return failed
    mapped = cv2.perspectiveTransform(grid.reshape(-1, 1, 2), matrix).reshape(grid.shape)
    result = (mapped - grid).astype(np.float32)
    return (result, True) if np.isfinite(result).all() else failed
