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
    crop_hole: np.ndarray = hole[y0:y1, x0:x1].astype(np.uint8)
    if gap > 0:
        crop_hole = cv2.dilate(
            crop_hole, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * gap + 1, 2 * gap + 1))
        )
    inside = crop_hole > 0
    known = ~inside
    if not known.any():
        return list(flows)  # the hole covers everything we can see: nothing to learn the motion from
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * ring + 1, 2 * ring + 1))
    ring_mask = (cv2.dilate(crop_hole, kernel) > 0) & known
    completed = []
    for flow in flows:
        crop_flow = flow[y0:y1, x0:x1]
        base, fitted = _homography_flow(crop_flow, ring_mask, ransac_px, min_inliers, max_samples)
        residual = crop_flow - base
        residual_known = known
        if fitted:
            # Spread only what the homography plausibly misses (parallax); outliers are flow errors.
            residual_known = known & (np.linalg.norm(residual, axis=-1) < 4.0 * ransac_px)
            if not residual_known.any():
                residual_known = known
        residual = push_pull_fill(residual, residual_known)
        out = flow.copy()
        region = out[y0:y1, x0:x1]
        region[inside] = (base + residual)[inside]
        completed.append(out)
    return completed


def _homography_flow(
    flow: np.ndarray, ring_mask: np.ndarray, ransac_px: float, min_inliers: float, max_samples: int
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
    height, width = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    grid = np.stack([gx, gy], axis=-1).reshape(-1, 1, 2)
    mapped = cv2.perspectiveTransform(grid, matrix).reshape(height, width, 2)
    result = (mapped - np.stack([gx, gy], axis=-1)).astype(np.float32)
    return (result, True) if np.isfinite(result).all() else failed
