"""The background's motion over a whole frame, and what moves against it.

A frame pair's flow outside the hole is mostly camera motion over the background: one homography per depth
layer explains it. These layers, fitted once per flow on samples from the whole frame (not only a hole's
ring), are the prior that flow completion checks first (one fit shared by every hole, with far more support
than any ring), and what an unmasked moving object (a car, a person, a dust cloud crossing the frame) is told
apart by: its flow disagrees with every background layer. Such an object must neither be spread across a
hole as background (completion keeps it off the ring fit) nor be copied into a hole from another frame (the
engine refuses it as a source): :func:`moving_objects`.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from .ops import channel_mask, float_grid, interleave, median_at_least, median_side, squared_distance

#: Most motions a frame's background is explained by (a dominant one plus parallax layers).
MAX_BACKGROUND_LAYERS = 2


def homography_flow(matrix: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """The flow (..., 2) float32 that homography ``matrix`` gives points (``xs``, ``ys``) (any equal shapes).

    Plain numpy arithmetic: the same numbers for a ring's samples and for a whole grid.
    """
    h = matrix.astype(np.float64)
    w = h[2, 0] * xs + h[2, 1] * ys + h[2, 2]
    if w.size and not np.abs(w).min() >= 1e-9:  # (a rare near-singular point: only then the guarded copy)
        w = np.where(np.abs(w) < 1e-9, 1e-9, w)
    mx = (h[0, 0] * xs + h[0, 1] * ys + h[0, 2]) / w
    my = (h[1, 0] * xs + h[1, 1] * ys + h[1, 2]) / w
    return interleave([(mx - xs).astype(np.float32), (my - ys).astype(np.float32)])


def fit_homography(
    src: np.ndarray, dst: np.ndarray, ransac_px: float, iterations: int = 500
) -> tuple[np.ndarray | None, np.ndarray]:
    """RANSAC homography src → dst (N, 2) (seeded: bit-reproducible) and its inlier mask.

    ``iterations``: the most RANSAC draws (a run capped at K draws is the first K of a longer one: the same
    seed, the same draws)."""
    if len(src) < 8:
        return None, np.zeros(len(src), bool)
    cv2.setRNGSeed(0)
    matrix, inliers = cv2.findHomography(
        src, dst, cv2.RANSAC, ransac_px, maxIters=iterations, confidence=0.995
    )
    if matrix is None or inliers is None or not np.isfinite(matrix).all():
        return None, np.zeros(len(src), bool)
    return matrix, inliers.ravel().astype(bool)


def inverse_homography(matrix: np.ndarray) -> np.ndarray | None:
    """The inverse of homography ``matrix`` (the same motion seen from the other frame); None when there is none
    (singular, or not finite).

    By the adjugate, element by element, not ``np.linalg.inv``: LAPACK goes to OpenBLAS, whose worker threads
    then spin beside the fill (25-30 CPU ms a 432x240 frame on nine squares, measured; as with ``ops.luma``)."""
    m = np.asarray(matrix, np.float64)
    adjugate = np.array(
        [
            [
                m[1, 1] * m[2, 2] - m[1, 2] * m[2, 1],
                m[0, 2] * m[2, 1] - m[0, 1] * m[2, 2],
                m[0, 1] * m[1, 2] - m[0, 2] * m[1, 1],
            ],
            [
                m[1, 2] * m[2, 0] - m[1, 0] * m[2, 2],
                m[0, 0] * m[2, 2] - m[0, 2] * m[2, 0],
                m[0, 2] * m[1, 0] - m[0, 0] * m[1, 2],
            ],
            [
                m[1, 0] * m[2, 1] - m[1, 1] * m[2, 0],
                m[0, 1] * m[2, 0] - m[0, 0] * m[2, 1],
                m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0],
            ],
        ]
    )
    determinant = m[0, 0] * adjugate[0, 0] + m[0, 1] * adjugate[1, 0] + m[0, 2] * adjugate[2, 0]
    if not np.isfinite(determinant) or abs(determinant) < 1e-12 * max(1.0, float(np.abs(m).max()) ** 3):
        return None
    inverse = adjugate / determinant
    return inverse if np.isfinite(inverse).all() else None


def background_layers(
    flow: np.ndarray,
    usable: np.ndarray,
    *,
    ransac_px: float = 1.5,
    max_samples: int = 600,
    max_layers: int = MAX_BACKGROUND_LAYERS,
    min_share: float = 0.2,
) -> list[np.ndarray]:
    """Homographies explaining ``flow`` (H, W, 2) where ``usable`` (H, W bool), dominant first; [] if none.

    A homography is flexible enough to bend from one translating layer to another (a gradient), and such a
    bent fit has more RANSAC inliers than either layer. So, as on a hole's ring, the frame is first cut where
    the flow jumps (:func:`flow_jumps`); the largest pieces are fitted one by one (a piece that a layer
    already explains is skipped), and each layer is refitted on the samples closest to it. The dominant
    motion must explain 30 % of the samples, each further layer ``min_share`` (a parallax layer is a large
    part of the frame; something smaller that moves differently is an object, see :func:`moving_objects`).
    Samples lie on a regular grid (deterministic); the tolerance grows a little with the motion, since flow
    on fast, blurred frames is less precise.
    """
    # Pieces are cut on a coarse grid (every 2nd to 4th pixel: a layer is far larger than that).
    grid = coarse_step(usable.shape)
    sub_flow, sub_usable = flow[::grid, ::grid], usable[::grid, ::grid]
    smooth = (
        sub_usable
        & ~flow_jumps(sub_flow, grid * JUMP)
        & np.isfinite(sub_flow[..., 0])
        & np.isfinite(sub_flow[..., 1])
    )
    count, labels = cv2.connectedComponents(smooth.astype(np.uint8), connectivity=4)
    step = max(1, int(np.sqrt(sub_usable.sum() / max(1, max_samples))))
    ys, xs = np.nonzero(smooth[::step, ::step])
    if len(xs) < 24:
        return []
    ys, xs = ys * step, xs * step
    src = np.stack([xs, ys], axis=-1).astype(np.float32) * float(grid)
    moved = sub_flow[ys, xs]
    piece = labels[ys, xs]
    speed = float(np.median(np.hypot(moved[:, 0], moved[:, 1])))
    tol = ransac_px + 0.03 * speed
    sizes = np.bincount(piece, minlength=count)
    sizes[0] = 0
    candidates: list[tuple[np.ndarray, int]] = []  # (homography, samples of the piece it was fitted on)
    for k in np.argsort(-sizes, kind="stable")[:8]:
        members = piece == k
        if sizes[k] < 24 or len(candidates) >= max_layers + 1:
            break
        if any(
            median_side(_homography_errors(m, src[members], moved[members]), 0.5 * ransac_px) < 0
            for m, _ in candidates
        ):
            continue
        matrix, inliers = fit_homography(src[members], src[members] + moved[members], tol)
        if matrix is not None and inliers.mean() >= 0.5:
            candidates.append((matrix, int(members.sum())))
    if not candidates:
        return []
    # Each sample goes to the closest candidate (within tol); layers are kept by support, largest first.
    errors = np.stack([_homography_errors(m, src, moved) for m, _ in candidates])
    closest = np.argmin(errors, axis=0)
    near = errors.min(axis=0) < tol
    support = np.array([(near & (closest == k)).sum() for k in range(len(candidates))])
    layers: list[np.ndarray] = []
    for k in np.argsort(-support, kind="stable"):
        if support[k] < (0.3 if not layers else min_share) * len(src) or len(layers) >= max_layers:
            break
        matrix, fitted_on = candidates[k]
        if support[k] > 2 * fitted_on:  # refit on all its samples: much more support than its first piece
            members = near & (closest == k)
            refit, _ = fit_homography(src[members], src[members] + moved[members], tol)
            matrix = refit if refit is not None else matrix
        layers.append(matrix)
    return layers


#: Flow change (working px per px) above which flow is cut into layers: camera motion changes far slower.
JUMP = 0.25


def flow_jumps(flow: np.ndarray, jump: float = JUMP) -> np.ndarray:
    """Where ``flow`` changes faster than ``jump`` px per px (a layer boundary: camera motion changes slower).

    (A 3x3 Sobel is 8x the per-pixel change; the channels are compared one by one: a max over a length-2 last
    axis is a slow strided reduction in numpy.)
    """
    steep = np.maximum(np.abs(cv2.Sobel(flow, cv2.CV_32F, 1, 0)), np.abs(cv2.Sobel(flow, cv2.CV_32F, 0, 1)))
    return np.maximum(steep[..., 0], steep[..., 1]) > 8.0 * jump


def _homography_errors(matrix: np.ndarray, points: np.ndarray, moved: np.ndarray) -> np.ndarray:
    """Distance between the flow samples ``moved`` at ``points`` (N, 2) and the homography's motion there."""
    delta = moved - homography_flow(matrix, points[:, 0], points[:, 1])
    return np.hypot(delta[:, 0], delta[:, 1])


def moving_mask(
    flow: np.ndarray,
    hole: np.ndarray,
    layers: list[np.ndarray],
    *,
    tol_px: float = 2.0,
    relative: float = 0.15,
    near_hole: float = 5.0,
    min_area: float = 0.0008,
    parallel_deg: float = 20.0,
    grow: int = 3,
    step: int | None = None,
    distance: np.ndarray | None = None,
    images: tuple[np.ndarray, np.ndarray] | None = None,
    mismatch_level: float = 4.0,
    smoothed: tuple[np.ndarray, np.ndarray] | None = None,
    explained: bool = False,
    image_near: float | None = None,
) -> np.ndarray:
    """Where ``flow`` (one direction) moves against all background ``layers``, outside ``hole``.

    A pixel disagrees when its flow is more than ``tol_px + relative·|background motion|`` from the closest
    layer's. Disagreeing regions are opened (flow noise), and a connected region counts when it covers at least
    ``min_area`` of the frame and is not a parallax layer: a static layer nearer or farther than the dominant
    one moves along the same direction as it (within ``parallel_deg``, at least 0.3x as fast), an object
    crossing the frame in general does not. The flow within ``near_hole`` working pixels of the hole is the
    pre-filled hole's smear, not an object, and is not looked at, nor is flow whose background motion leaves
    the frame (it has nothing to match). Regions are found on every ``step``-th pixel (by default a grid
    about 240 samples wide: objects are far larger than that), and the mask is grown by ``grow`` pixels at
    full resolution (flow is blurred at an object's edge) but never covers the hole itself. ``distance`` (to the
    hole) may be passed when the caller has it already.

    ``images`` (A and B as the uint8 grey images the flow was estimated on) adds what the flow alone cannot
    see: an object the estimator did not follow (DIS often gives a fast, low-contrast object the background's
    motion). Where B, sampled along the flow, differs from A by more than ``mismatch_level`` times the
    frame's median difference (and at least 12 grey levels), the flow does not explain the image there;
    such regions count whatever their flow: a parallax layer is one whose own motion explains the image
    (less than 20 % of it mismatched). ``smoothed``: ``images`` through :func:`smoothed_grey`, when the
    caller has them (a frame pair's three mover masks read the same two; a blur each costs a pass).

    ``explained`` (with ``images``; :func:`moving_objects` sets it): a coarse sample where B, sampled along the
    background's own motion, matches A (within :data:`EXPLAINED_GREY` grey levels, or :data:`EXPLAINED_LEVEL`
    times the frame's typical difference; not where that lands by B's hole) gives no evidence of motion,
    whatever its flow says. DIS's flow is often wrong where a pixel's match is hard to see: in a band along the
    frame's border (tennis at 216x120 panning 5.5 px a frame: 1 px at the left edge) and on plain or repetitive
    ground. So a region counts only where at least :data:`EVIDENCE_SHARE` of its samples (and
    :data:`EVIDENCE_SAMPLES`) are not explained, or within :data:`EVIDENCE_REACH_PX` of a region that does;
    and within :data:`BORDER_BAND` of the frame's border the explained samples are left out of every region.
    Elsewhere a region is kept whole: a plain mover (a car's side, a shirt) moving less than its own size is
    explained inside and shows only along its outline.

    ``image_near`` (with ``images``; None: ``near_hole``): how near the hole the image check looks, for a
    ``flow`` already completed there (:data:`IMAGE_NEAR_PX`). Completed, the flow next to the hole is the
    background's motion, not the pre-fill's smear, so B along it unlike A is evidence of a mover; and a mover
    that stands mostly in the hole shows only a sliver beside it.
    """
    height, width = hole.shape
    if not layers:
        return np.zeros((height, width), bool)
    if distance is None:
        distance = hole_distance(hole)
    step = coarse_step(hole.shape) if step is None else step
    sub = flow[::step, ::step]
    xs, ys = _grid(height, width, step)
    best = np.full(xs.shape, np.inf, np.float32)
    background = np.zeros(sub.shape, np.float32)
    for matrix in layers:
        motion = homography_flow(matrix, xs, ys)
        error = squared_distance(sub, motion)
        closer = error < best
        np.copyto(best, error, where=closer)
        np.copyto(background, motion, where=channel_mask(closer, 2))
    speed = np.hypot(background[..., 0], background[..., 1])
    limit = tol_px + relative * speed
    # Where the background leaves the frame there is nothing to match: the flow there is arbitrary.
    tx, ty = xs + background[..., 0], ys + background[..., 1]
    lands = (tx >= 0) & (tx <= width - 1) & (ty >= 0) & (ty <= height - 1)
    look = (distance[::step, ::step] > near_hole) & lands
    candidate = look & ~(best <= limit * limit)  # (NaN flow disagrees too)
    mismatch = None
    explained_at = None
    if images is not None:
        pair = smoothed if smoothed is not None else (smoothed_grey(images[0]), smoothed_grey(images[1]))
        mismatch, typical = _mismatch(pair, sub, xs, ys, distance, near_hole, mismatch_level, step)
        if image_near is None or image_near == near_hole:
            mismatch &= look
        else:
            mismatch &= (distance[::step, ::step] > image_near) & lands
        candidate |= mismatch
        if explained:
            explained_at = _background_explains(pair, tx, ty, step, typical, distance, near_hole)
    candidate = cv2.morphologyEx(candidate.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(candidate, connectivity=8)
    area = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
    big = area * step * step >= max(24.0, min_area * height * width)
    big[0] = False
    if not big.any():
        return np.zeros((height, width), bool)
    members = big[labels]
    label = labels[members]
    fx, fy, bx, by = (
        np.bincount(label, weights=values[members], minlength=count) / np.maximum(area, 1.0)
        for values in (
            np.nan_to_num(sub[..., 0]),
            np.nan_to_num(sub[..., 1]),
            background[..., 0],
            background[..., 1],
        )
    )
    f_norm, b_norm = np.hypot(fx, fy), np.hypot(bx, by)
    cos = (fx * bx + fy * by) / np.maximum(f_norm * b_norm, 1e-9)
    parallax = (b_norm > 1.0) & (cos > np.cos(np.radians(parallel_deg))) & (f_norm > 0.3 * b_norm)
    if mismatch is not None:
        unexplained = np.bincount(label, weights=mismatch[members].astype(np.float64), minlength=count)
        parallax &= unexplained < 0.2 * np.maximum(area, 1.0)
    keep = big & ~parallax
    if not keep.any():
        return np.zeros((height, width), bool)
    if explained_at is not None:
        # A region counts only with evidence of its own: samples the background's motion does not explain.
        shown = np.bincount(labels[(candidate > 0) & ~explained_at], minlength=count)
        evident = keep & (shown >= np.maximum(EVIDENCE_SAMPLES, EVIDENCE_SHARE * area))
        if evident.any() and (keep & ~evident).any():
            # (a region within reach of one with evidence is taken for a part of the same mover: a planted foot
            # the background's motion explains, beside the rest of the player)
            reach = max(1, round(EVIDENCE_REACH_PX / step))
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
            around = cv2.dilate(evident[labels].astype(np.uint8), kernel) > 0
            evident |= keep & (np.bincount(labels[around], minlength=count) > 0)
        keep = evident
        if not keep.any():
            return np.zeros((height, width), bool)
    small = keep[labels].astype(np.uint8)
    if explained_at is not None:
        # In the border band the flow is no evidence: what the background explains there is left out (and
        # what is left of a region, opened again).
        band = (
            (xs < BORDER_BAND)
            | (ys < BORDER_BAND)
            | (xs > width - 1 - BORDER_BAND)
            | (ys > height - 1 - BORDER_BAND)
        )
        if (small.astype(bool) & explained_at & band).any():
            small &= ~(explained_at & band)
            small = cv2.morphologyEx(small, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    mask = cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST)
    size = 2 * (grow + step // 2) + 1
    mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))) > 0
    return mask & ~hole


def smoothed_grey(image: np.ndarray) -> np.ndarray:
    """A grey image as :func:`moving_mask` compares it: a 5x5 Gaussian (sigma 1), float32 (noise, and the 1-px
    jitter of sampling blurred texture)."""
    return cv2.GaussianBlur(image, (5, 5), 1.0).astype(np.float32)


def _mismatch(
    smoothed: tuple[np.ndarray, np.ndarray],
    flow: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
    distance: np.ndarray,
    near_hole: float,
    level: float,
    step: int,
) -> tuple[np.ndarray, float]:
    """On the coarse grid (``xs``, ``ys``, with ``flow`` sampled there): where B along the flow is far from A,
    and the frame's typical difference (at least 12 / ``level``).

    ``smoothed``: A and B through :func:`smoothed_grey`; targets near a hole compare with its smooth pre-fill
    and are left out.
    """
    a, b = smoothed
    tx, ty = xs + flow[..., 0], ys + flow[..., 1]
    seen = cv2.remap(b, tx, ty, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    difference = np.abs(a[::step, ::step] - seen)
    clear = cv2.remap(distance, tx, ty, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE) > near_hole + 2
    # (a typical difference below 12 / level leaves the threshold at 12: then its median is not needed)
    floor = 12.0 / level if level > 0 else 0.0
    if not clear.any():
        typical = 0.0
    elif level > 0 and level * floor <= 12.0:
        typical = median_at_least(difference[clear], floor)
    else:
        typical = float(np.median(difference[clear]))
    return (difference > max(12.0, level * typical)) & clear, typical


#: How near a hole (working pixels) :func:`moving_mask`'s image check looks on a completed flow (``image_near``):
#: beyond the reach of the 5x5 smoothing (:func:`smoothed_grey`), which would mix in the hole's pre-fill. A
#: mover standing mostly in the hole shows only a sliver beside it: a textured disc crossing a static hole
#: (192x108) left 473 pixels outside it, 9-14 px wide, and at ``near_hole`` (5) the sliver beyond was too thin
#: to survive the opening; unmarked, it was read as background into the holes of the next ten frames.
IMAGE_NEAR_PX = 3.0

#: A region of disagreeing flow counts as a mover only where at least this many of its coarse samples ...
EVIDENCE_SAMPLES = 4
#: ... and this share of them are not explained by the background's motion (:func:`moving_mask`'s ``explained``).
EVIDENCE_SHARE = 0.1
#: ... unless it lies within this many working pixels of a region that has (a part of the same mover: tennis
#: step6, frame 6, the player's planted foot beside the square, explained, 10-16 px from the rest of him).
EVIDENCE_REACH_PX = 16.0
#: Working pixels along the frame's border where DIS's flow is no evidence of motion (tennis at 216x120
#: panning 5.5 px a frame: 1 px at the left edge, 6-16 px wide): a sample there the background explains is not
#: marked, whatever region it belongs to.
BORDER_BAND = 12.0

#: A coarse sample is explained by the background's motion (:func:`moving_mask`'s ``explained``) where B along
#: that motion is within this many grey levels of A (smoothed) ...
EXPLAINED_GREY = 4.0
#: ... or within this many times the frame's typical difference along the flow (grain, codecs, flicker; that
#: is at least 3 grey levels, so clean footage is explained within 4.5).
EXPLAINED_LEVEL = 1.5


def _background_explains(
    smoothed: tuple[np.ndarray, np.ndarray],
    tx: np.ndarray,
    ty: np.ndarray,
    step: int,
    typical: float,
    distance: np.ndarray,
    near_hole: float,
) -> np.ndarray:
    """On the coarse grid: where B, sampled at the background's targets (``tx``, ``ty``), matches A.

    A target in or near B's hole (within ``near_hole`` + 2 of it, by the pair's hole ``distance``) shows the
    smooth pre-fill, which matches anything plain: it explains nothing.
    """
    a, b = smoothed
    tx, ty = tx.astype(np.float32), ty.astype(np.float32)
    seen = cv2.remap(b, tx, ty, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    clear = cv2.remap(distance, tx, ty, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE) > near_hole + 2
    return (np.abs(a[::step, ::step] - seen) <= max(EXPLAINED_GREY, EXPLAINED_LEVEL * typical)) & clear


def coarse_step(shape: tuple[int, ...]) -> int:
    """Sampling step of the frame-wide analyses: a grid about 240 samples across (at least every 2nd pixel)."""
    return max(2, round(max(shape[:2]) / 240))


@functools.lru_cache(maxsize=8)
def _grid(height: int, width: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (xs, ys) of every ``step``-th pixel of an (H, W) frame (cached, read-only)."""
    ys, xs = float_grid(0, height, 0, width, step)
    xs.flags.writeable = ys.flags.writeable = False
    return xs, ys


def moving_objects(
    forward: np.ndarray,
    backward: np.ndarray,
    hole: np.ndarray,
    *,
    side: str = "both",
    ransac_px: float = 1.5,
    gap: int = 10,
    images: tuple[np.ndarray, np.ndarray] | None = None,
    layers: tuple[list[np.ndarray], list[np.ndarray]] | None = None,
    distance: np.ndarray | None = None,
    smoothed: tuple[np.ndarray, np.ndarray] | None = None,
    **options: float,
) -> np.ndarray:
    """Pixels outside ``hole`` whose motion disagrees with the background's motion layers (H, W bool).

    ``forward`` is the A→B flow on A's grid, ``backward`` the B→A flow on B's grid, ``hole`` the pair's hole
    (both frames' holes, at the flows' resolution). An unmasked object crossing the frame (car, person, dust
    cloud) is where it is in A according to ``forward`` and in B according to ``backward``; ``side`` picks
    ``"a"``, ``"b"`` or ``"both"`` (the union, default: every pixel of the pair that shows the object). Other
    ``options`` are those of :func:`moving_mask`. Background layers are fitted away from the hole (beyond
    ``gap`` pixels, where the pre-filled hole does not smear the flow). ``images``: ``(a_gray, b_gray)``, the
    uint8 grey images the flows were estimated on (recommended: finds objects the flow did not follow).
    ``layers``: the background layers of ``forward`` and ``backward`` when the caller has them already (e.g.
    from :func:`.completion.complete_flows_scored`'s ``layers_out``): they are not fitted again.
    ``distance``: :func:`hole_distance` of ``hole`` when the caller has it (read only): not computed again.
    ``smoothed``: ``images`` through :func:`smoothed_grey` when the caller has them: not blurred again.
    """
    if side not in ("a", "b", "both"):
        raise ValueError(f"side must be 'a', 'b' or 'both', not {side!r}")
    if distance is None:
        distance = hole_distance(hole)
    usable = distance > gap  # (measured flow there, not smeared from the pre-filled hole)
    out = np.zeros(hole.shape, bool)
    pairs = (None, None) if images is None else (images, images[::-1])
    blurred = (None, None) if smoothed is None else (smoothed, smoothed[::-1])
    known = (None, None) if layers is None else layers
    for name, flow, seen, smooth, fitted in (
        ("a", forward, pairs[0], blurred[0], known[0]),
        ("b", backward, pairs[1], blurred[1], known[1]),
    ):
        if side in (name, "both"):
            found = background_layers(flow, usable, ransac_px=ransac_px) if fitted is None else fitted
            out |= moving_mask(
                flow,
                hole,
                found,
                images=seen,
                distance=distance,
                smoothed=smooth,
                explained=True,
                **options,  # type: ignore[arg-type]
            )
    return out


def hole_distance(hole: np.ndarray) -> np.ndarray:
    """Distance (float32 px) of every pixel to the nearest hole pixel (0 inside; large when there is none).

    The 5x5 mask, not DIST_MASK_PRECISE: that one is multi-threaded and not bit-reproducible.
    """
    if not hole.any():
        return np.full(hole.shape, np.float32(1e6), np.float32)
    return cv2.distanceTransform((~hole).astype(np.uint8), cv2.DIST_L2, 5)
