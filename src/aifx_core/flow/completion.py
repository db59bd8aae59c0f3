"""Flow completion: inside the hole, the flow we want is the background's motion, not the removed object's.

Camera motion over a background is well described by a homography per depth layer, so the motion is learned
from flow samples on a ring around the hole. The ring may see several layers (parallax: a horizon or the edge
of a post crossing the hole); one homography fitted to all of it bends into a gradient between the layers and
fetches pixels from the wrong one. So the ring is cut where its flow jumps, the pieces are grouped into up to
``max_layers`` layers with one homography each, every ring pixel is labelled with the layer whose motion is
closest to its flow, and the labels are spread into the hole smoothly (push-pull of per-layer indicators, so
a boundary entering on one side and leaving on the other is continued roughly straight across). Each hole
pixel takes its layer's motion; with one layer this is the ring's dominant RANSAC homography. What the motions
miss (parallax within a layer, non-rigid motion) is the ring's residual, spread smoothly inward with a
push-pull (membrane-like) fill. When no homography explains the ring, the flow itself is filled smoothly.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from .fill import push_pull_fill


def complete_flow(flow: np.ndarray, hole: np.ndarray, **options: Any) -> np.ndarray:
    """Return a copy of ``flow`` (H, W, 2) whose values inside ``hole`` (H, W bool) are completed.

    Flow within ``gap`` pixels of the hole is replaced too: patch-based estimators smear the pre-filled hole
    outwards (more with fast motion), so the ring the motion is learned from starts beyond that fringe.
    ``options`` are those of :func:`complete_flows`.
    """
    return complete_flows([flow], hole, **options)[0]


def complete_flows(
    flows: list[np.ndarray],
    hole: np.ndarray,
    *,
    ring: int = 16,
    gap: int = 10,
    ransac_px: float = 1.5,
    min_inliers: float = 0.5,
    max_samples: int = 1500,
    max_layers: int = 3,
) -> list[np.ndarray]:
    """:func:`complete_flow` for several flows sharing one hole (forward and backward of a frame pair).

    ``max_layers`` (at most 4) bounds how many motions the ring may be explained by.
    """
    max_layers = max(1, min(max_layers, 4))
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
    tol = 4.0 * ransac_px  # what a layer's motion plausibly misses (parallax); beyond that, a flow error
    bases, residuals = [], []
    residual_known = known.copy()
    for flow in flows:
        crop_flow = flow[y0:y1, x0:x1]
        motions = _layer_motions(crop_flow, ring_mask, grid, ransac_px, min_inliers, max_samples, max_layers)
        if motions:
            base, explained = _layered_base(crop_flow, motions, ring_mask, inside, tol)
            residual_known &= explained
        else:
            base = np.zeros_like(crop_flow)
        bases.append(base)
        residuals.append(crop_flow - base)
    if not (residual_known & ring_mask).any():
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


def _layer_motions(
    flow: np.ndarray,
    ring_mask: np.ndarray,
    grid: np.ndarray,
    ransac_px: float,
    min_inliers: float,
    max_samples: int,
    max_layers: int,
) -> list[np.ndarray]:
    """Flows (over the whole crop) of the motions of the layers the ring sees, dominant first; [] if poor.

    Layers are told apart by where the ring's flow jumps, not by RANSAC alone: a homography is flexible
    enough to fit two translating layers at once (a gradient from one to the other across the hole), and
    it would have more inliers than either true layer. So the ring is cut where the flow changes faster
    than any camera motion makes it (``JUMP`` px per px), and its pieces are grouped: a piece joins the
    first layer whose motion explains it, else it starts a new one.
    """
    # A layer must cover a few percent of the ring: a smaller piece is more likely a flow error than a layer.
    min_layer = max(12, int(0.04 * ring_mask.sum()))
    ys, xs = np.nonzero(ring_mask)  # work on the ring's samples, not on the whole crop
    samples = flow[ys, xs]
    points = np.stack([xs, ys], axis=-1).astype(np.float32)
    layers: list[tuple[np.ndarray, np.ndarray]] = []  # (homography, member samples)
    pieces = _ring_pieces(flow, ring_mask, ys, xs, min_layer)
    for piece in pieces if len(pieces) > 1 else []:  # (one piece: one layer, fitted below)
        for k, (matrix, members) in enumerate(layers):
            error = np.hypot(*(samples[piece] - _motion(matrix, points[piece])).T)
            if float(np.median(error)) < 0.5 * ransac_px:
                layers[k] = (matrix, members | piece)
                break
        else:
            if len(layers) < max_layers:
                fitted = _fit_homography_to(flow, ys[piece], xs[piece], ransac_px, max_samples)
                if fitted is not None:
                    layers.append((fitted, piece))
    if len(layers) > 1:
        # Refit each layer on all its pieces (more support, better conditioned than its first piece).
        refits = [_fit_homography_to(flow, ys[m], xs[m], ransac_px, max_samples) for _, m in layers]
        matrices = [r if r is not None else m for r, (m, _) in zip(refits, layers, strict=True)]
    else:  # one layer: the dominant homography of the whole ring, as robust as it gets
        dominant = _fit_homography_to(flow, ys, xs, ransac_px, max_samples, min_inliers)
        matrices = [] if dominant is None else [dominant]
    motions = [_motion(matrix, grid.reshape(-1, 2)).reshape(grid.shape) for matrix in matrices]
    return [motion for motion in motions if np.isfinite(motion).all()]


def _motion(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The flow (N, 2) of homography ``matrix`` at ``points`` (N, 2)."""
    mapped = cv2.perspectiveTransform(points.reshape(-1, 1, 2), matrix).reshape(-1, 2)
    return (mapped - points).astype(np.float32)


#: Flow change (working px per px) above which the ring is cut into pieces: camera motion changes far slower.
JUMP = 0.25


def _ring_pieces(
    flow: np.ndarray, ring_mask: np.ndarray, ys: np.ndarray, xs: np.ndarray, min_size: int
) -> list[np.ndarray]:
    """The ring cut where the flow jumps: the pieces of at least ``min_size`` pixels as masks over the ring's
    samples (``ys``, ``xs``), largest first (ties by position: deterministic)."""
    # (a 3x3 Sobel is 8x the per-pixel change; the channels are compared one by one: a max over a
    # length-2 last axis is a slow strided reduction in numpy)
    steep = np.maximum(np.abs(cv2.Sobel(flow, cv2.CV_32F, 1, 0)), np.abs(cv2.Sobel(flow, cv2.CV_32F, 0, 1)))
    jump = np.maximum(steep[..., 0], steep[..., 1]) > 8.0 * JUMP
    count, labels = cv2.connectedComponents((ring_mask & ~jump).astype(np.uint8), connectivity=4)
    sizes = np.bincount(labels.ravel(), minlength=count)
    sizes[0] = 0
    big = np.nonzero(sizes >= min_size)[0]
    order = big[np.argsort(-sizes[big], kind="stable")]
    ring_labels = labels[ys, xs]
    return [ring_labels == k for k in order]


def _fit_homography_to(
    flow: np.ndarray,
    ys: np.ndarray,
    xs: np.ndarray,
    ransac_px: float,
    max_samples: int,
    min_inliers: float = 0.5,
) -> np.ndarray | None:
    """The homography RANSAC fits to ``flow`` at pixels (``xs``, ``ys``); None if poor (fewer than
    ``min_inliers`` inliers)."""
    if len(xs) < 12:
        return None
    step = max(1, len(xs) // max_samples)  # deterministic subsampling: same input, same output
    ys, xs = ys[::step], xs[::step]
    src = np.stack([xs, ys], axis=-1).astype(np.float32)
    dst = src + flow[ys, xs]
    if not np.isfinite(dst).all():
        return None
    matrix, inliers = _fit_homography(src, dst, ransac_px)
    return None if matrix is None or inliers.mean() < min_inliers else matrix


def _fit_homography(
    src: np.ndarray, dst: np.ndarray, ransac_px: float
) -> tuple[np.ndarray | None, np.ndarray]:
    """RANSAC homography src → dst (seeded: bit-reproducible) and its inlier mask."""
    cv2.setRNGSeed(0)
    matrix, inliers = cv2.findHomography(src, dst, cv2.RANSAC, ransac_px, maxIters=500, confidence=0.995)
    if matrix is None or inliers is None or not np.isfinite(matrix).all():
        return None, np.zeros(len(src), bool)
    return matrix, inliers.ravel().astype(bool)


def _layered_base(
    flow: np.ndarray, motions: list[np.ndarray], ring_mask: np.ndarray, inside: np.ndarray, tol: float
) -> tuple[np.ndarray, np.ndarray]:
    """(per-pixel motion of the layer each pixel belongs to, where that motion explains the flow within tol).

    Known pixels take the motion closest to their flow; hole pixels the layer whose ring labels, spread
    inward, weigh most at that point. (Loops over layers rather than stacked arrays: this runs on every
    frame pair, and reductions over a short last axis are slow in numpy.)
    """
    if len(motions) == 1:
        residual = flow - motions[0]
        return motions[0], np.hypot(residual[..., 0], residual[..., 1]) < tol
    best = _squared_distance(flow, motions[0])
    label = np.zeros(best.shape, np.uint8)
    for k in range(1, len(motions)):
        error = _squared_distance(flow, motions[k])
        closer = error < best
        np.copyto(best, error, where=closer)
        label[closer] = k
    explained = best < tol * tol
    votes = ring_mask & explained
    indicators = np.stack([((label == k) & votes).astype(np.float32) for k in range(len(motions))], axis=-1)
    spread = push_pull_fill(indicators, votes, smooth=True)  # (≤ 4 layers: one pass)
    strongest = spread[..., 0].copy()
    spread_label = np.zeros_like(label)
    for k in range(1, len(motions)):
        stronger = spread[..., k] > strongest
        np.copyto(strongest, spread[..., k], where=stronger)
        spread_label[stronger] = k
    np.copyto(label, spread_label, where=inside)
    base = motions[0].copy()
    for k in range(1, len(motions)):
        np.copyto(base, motions[k], where=(label == k)[..., None])
    return base, explained


def _squared_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b|² per pixel of two (H, W, 2) flows."""
    dx = a[..., 0] - b[..., 0]
    dy = a[..., 1] - b[..., 1]
    return dx * dx + dy * dy
