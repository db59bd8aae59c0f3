"""Stage 5, seam: pixels fetched from other frames may differ in exposure or colour (flicker, a cloud, auto
gain). The difference between the frame's real pixels on a thin ring around the hole and what propagation
fetched for that same ring is measured and spread smoothly into the hole, per channel, as an offset field.

Offsets (not gains) because they stay well defined for scene-linear values near or below zero; the field is
smooth so texture comes from the source frames and only the low frequencies are corrected. What the smooth
offset cannot explain (the fetched ring is misaligned or shows something else) is the seam *residual*, one of
the confidence cues.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..flow import push_pull_fill
from ..flow.ops import largest_channel
from .boxes import Box
from .boxes import area as _area
from .boxes import bounds as _bounds
from .boxes import grown as _grown
from .boxes import inside as _inside
from .bridge import blind
from .fallback import smoothstep

if TYPE_CHECKING:
    from .options import PropagateOptions
    from .pairs import _Frame


#: Side (pixels) of the tiles in which points spread thinly over a large box (a wire matte from corner to
#: corner, small holes in opposite corners) are worked on, each with the work's reach around it, so that the
#: cost follows the points, not their extent.
TILE = 128

#: Pixels a point of a box may have before tiles are worth sorting the points for.
DENSE = 16


def _tiles(ys: np.ndarray, xs: np.ndarray, limit: Box, reach: int) -> list[tuple[Box, np.ndarray | slice]]:
    """Where to work on the points ``ys``, ``xs`` (in ``limit``, the image whose borders the work reflects):
    (region, the points it answers for). One region, ``limit`` itself, for every point (the compact hole of
    nearly every frame: the same image as ever), or, where that has more pixels, one per :data:`TILE` tile that
    holds points: the box around its points grown by ``reach`` (what the work reads around a point) within
    ``limit``, so that a region's edge either is ``limit``'s or lies ``reach`` away from its points."""
    if _area(limit) <= DENSE * len(ys):
        return [(limit, slice(None))]  # (a box that full: tiles could save little)
    columns = (limit[3] - limit[1]) // TILE + 1
    cell = ((ys - limit[0]) // TILE) * columns + (xs - limit[1]) // TILE
    order = np.argsort(cell, kind="stable")
    groups = np.split(order, np.flatnonzero(np.diff(cell[order])) + 1)
    regions = [_grown(_bounds(ys[group], xs[group], 0), reach, limit) for group in groups]
    if _area(limit) <= sum(_area(region) for region in regions):
        return [(limit, slice(None))]
    return list(zip(regions, groups, strict=True))


def ring(
    hole: np.ndarray, invalid: np.ndarray, width: int, points: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(ys, xs) of the valid pixels within ``width`` of the hole: the frame's own pixels the fill must match.
    ``points``: ``np.nonzero(hole)`` when the caller has it (a full-frame pass: ~0.2 ms at 432x240, each of
    the two or three times a frame it was made)."""
    ys, xs = np.nonzero(hole) if points is None else points
    if len(ys) == 0:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    frame: Box = (0, 0, hole.shape[0], hole.shape[1])
    limit = _grown(_bounds(ys, xs, 0), width + 1, frame)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1, 2 * width + 1))
    tiles = _tiles(ys, xs, limit, width + 1)
    if len(tiles) == 1:
        return _around(hole, invalid, kernel, limit)
    # Each tile's own hole pixels dilated in its region (which holds all they reach): their union is the
    # dilation of the whole hole, in row-major order as one image's np.nonzero gives it.
    keys = []
    for region, own in tiles:
        crop = np.zeros((region[2] - region[0], region[3] - region[1]), np.uint8)
        crop[ys[own] - region[0], xs[own] - region[1]] = 1
        ry, rx = np.nonzero(cv2.dilate(crop, kernel))
        ry, rx = ry + region[0], rx + region[1]
        keep = ~invalid[ry, rx]
        keys.append(ry[keep].astype(np.intp) * hole.shape[1] + rx[keep])
    ry, rx = np.divmod(np.unique(np.concatenate(keys)), hole.shape[1])
    return ry, rx


def _around(
    hole: np.ndarray, invalid: np.ndarray, kernel: np.ndarray, box: Box
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`ring` in one image of ``box`` (the hole's box grown by the width and a pixel)."""
    y0, x0, y1, x1 = box
    crop = hole[y0:y1, x0:x1].astype(np.uint8)
    around = (cv2.dilate(crop, kernel) > 0) & ~invalid[y0:y1, x0:x1]
    ry, rx = np.nonzero(around)
    return ry + y0, rx + x0


def spread(
    hole_ys: np.ndarray,
    hole_xs: np.ndarray,
    ring_ys: np.ndarray,
    ring_xs: np.ndarray,
    ring_values: np.ndarray,
) -> np.ndarray:
    """Values (N_hole, C ≤ 4) at the hole pixels, interpolated smoothly from ``ring_values`` (N_ring, C).

    Work is limited to the bounding box of the hole and ring.
    """
    channels = ring_values.shape[1]
    if len(ring_ys) == 0 or len(hole_ys) == 0:
        return np.zeros((len(hole_ys), channels), dtype=np.float32)
    y0 = int(min(hole_ys.min(), ring_ys.min()))
    x0 = int(min(hole_xs.min(), ring_xs.min()))
    y1 = int(max(hole_ys.max(), ring_ys.max())) + 1
    x1 = int(max(hole_xs.max(), ring_xs.max())) + 1
    values = np.zeros((y1 - y0, x1 - x0, channels), dtype=np.float32)
    known = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    values[ring_ys - y0, ring_xs - x0] = ring_values
    known[ring_ys - y0, ring_xs - x0] = True
    field = push_pull_fill(values, known, smooth=True)
    return field[hole_ys - y0, hole_xs - x0]


def seam_match(
    mode: str,
    hole_ys: np.ndarray,
    hole_xs: np.ndarray,
    ring_ys: np.ndarray,
    ring_xs: np.ndarray,
    real: np.ndarray,
    fetched: np.ndarray,
    hole_values: np.ndarray,
    scale: float,
    light: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The offset (N_hole, 3) to add to the fetched ``hole_values`` so they meet the ring's ``real`` pixels,
    and the seam residual (N_hole,) of :func:`seam_residual` (None when the ring is empty).

    ``mode``: ``offset`` (additive field), ``gain`` (multiplicative field in log space, expressed as an
    offset) or ``none`` (no offset; the residual is still measured). One push-pull spreads both. ``light``
    (per ring point, or None: none): a smooth light change (:mod:`.light`), exempt from the clamp.
    """
    n = len(hole_ys)
    if len(ring_ys) == 0 or n == 0:
        return np.zeros((n, 3), np.float32), None
    left = ring_mismatch(ring_ys, ring_xs, real, fetched, scale)[:, None]
    if mode == "none":
        return np.zeros((n, 3), np.float32), spread(hole_ys, hole_xs, ring_ys, ring_xs, left)[:, 0]
    if mode == "gain":
        # Exposure-like changes are multiplicative: match log gain, spread it, express it as offset.
        eps = np.maximum(0.05 * np.median(np.abs(real), axis=0), 1e-4)
        ratio = (np.maximum(real, 0) + eps) / (np.maximum(fetched, 0) + eps)
        field = np.clip(np.log(ratio), -0.7, 0.7)
    else:
        field = real - fetched
    limit = 3.0 * np.median(np.abs(field), axis=0) + 1e-6  # so a few misregistered pixels cannot tint it all
    clamped = np.clip(field, -limit, limit)
    if light is not None and light.any():
        clamped[light] = field[light]
    both = np.concatenate([clamped, left], axis=1).astype(np.float32)
    spread_both = spread(hole_ys, hole_xs, ring_ys, ring_xs, both)
    offset = spread_both[:, :3]
    if mode == "gain":
        offset = hole_values * (np.exp(offset) - 1.0)
    return offset.astype(np.float32), spread_both[:, 3]


def ring_mismatch(
    ring_ys: np.ndarray,
    ring_xs: np.ndarray,
    real: np.ndarray,
    fetched: np.ndarray,
    scale: float,
    radius: int = 3,
) -> np.ndarray:
    """Per ring pixel, the relative (real - fetched) mismatch that a smooth offset cannot explain.

    The differences minus their local mean (a normalised box of ``radius`` px over the ring): a colour
    drift leaves nothing, fetched texture that does not line up with the plate's (misaligned, or something
    else entirely) does. The magnitude (largest channel) is averaged the same way. Computed in the box around
    the ring or, where that box is mostly empty (a wire matte from corner to corner, small holes in opposite
    corners), in the :data:`TILE` tiles that hold ring pixels, each with the two boxes' reach around it
    (:func:`_tiles`): the cost follows the ring's pixels, not its extent.
    """
    limit = _bounds(ring_ys, ring_xs, 0)
    mismatch = np.zeros(len(ring_ys), np.float32)
    diff = (real - fetched).astype(np.float32)
    tiles = _tiles(ring_ys, ring_xs, limit, 2 * radius)
    for region, own in tiles:
        near = own if len(tiles) == 1 else np.flatnonzero(_inside(ring_ys, ring_xs, region))
        mismatch[own] = _mismatch_in(region, ring_ys, ring_xs, diff, own, near, radius)
    return mismatch / scale


def _mismatch_in(
    region: Box,
    ring_ys: np.ndarray,
    ring_xs: np.ndarray,
    diff: np.ndarray,
    own: np.ndarray | slice,
    near: np.ndarray | slice,
    radius: int,
) -> np.ndarray:
    """:func:`ring_mismatch` (before the division by the scale) at the ring points ``own``, from an image of
    ``region`` holding the points ``near`` (every ring point within twice ``radius`` of those, as the two
    box blurs read: the region's edges that are not the ring's box's lie that far away, so their reflected
    border reaches none of the values read at ``own``)."""
    y0, x0 = region[0], region[1]
    shape = (region[2] - y0, region[3] - x0)
    image = np.zeros((*shape, 3), np.float32)
    known = np.zeros(shape, np.float32)
    image[ring_ys[near] - y0, ring_xs[near] - x0] = diff[near]
    known[ring_ys[near] - y0, ring_xs[near] - x0] = 1.0
    size = (2 * radius + 1, 2 * radius + 1)
    weight = np.maximum(cv2.blur(known, size), 1e-6)
    local = cv2.blur(image, size) / weight[..., None]
    left = largest_channel(np.abs(image - local)) * known
    at = ring_ys[own] - y0, ring_xs[own] - x0
    return (cv2.blur(left, size) / weight)[at]


def seam_residual(
    hole_ys: np.ndarray,
    hole_xs: np.ndarray,
    ring_ys: np.ndarray,
    ring_xs: np.ndarray,
    real: np.ndarray,
    fetched: np.ndarray,
    scale: float,
) -> np.ndarray:
    """:func:`ring_mismatch` spread smoothly into the hole (N_hole,): a confidence cue."""
    if len(ring_ys) == 0 or len(hole_ys) == 0:
        return np.zeros(len(hole_ys), np.float32)
    left = ring_mismatch(ring_ys, ring_xs, real, fetched, scale)[:, None].astype(np.float32)
    return spread(hole_ys, hole_xs, ring_ys, ring_xs, left)[:, 0]


def ring_check(
    hole_ys: np.ndarray,
    hole_xs: np.ndarray,
    ring_ys: np.ndarray,
    ring_xs: np.ndarray,
    real: np.ndarray,
    fetched: np.ndarray,
    scale: float,
    crossing: np.ndarray | None = None,
    radius: int = 8,
    crossing_error: float = 0.25,
) -> np.ndarray:
    """Per hole pixel, how well propagation reproduced the frame's own ring compared with a blur (N_hole,).

    The ring is the one place where the truth of a propagated value is known: its pixels were fetched from
    other frames along the same kind of chains as the hole's. Their error there (the fetched ring against the
    real one, after a hole-wide colour drift is removed, so exposure is not counted) is compared with what a
    smooth spatial fill would get wrong: the ring's own local contrast (:func:`ring_mismatch` against zero,
    over ``radius``). Both are spread smoothly into the hole and divided: well below 1 where other frames show
    what is here (the rigid background behind a hole), about 1 or more where they do not: content that
    changes in ways the flow does not explain (water, foliage, smoke) or something on the ring that the other
    frames show elsewhere (an unmasked object crossing the hole). ``crossing`` marks ring pixels known to be
    such an object (unmasked movers): they count as fetched wrong by ``crossing_error · scale`` at least.
    """
    n = len(hole_ys)
    if len(ring_ys) == 0 or n == 0:
        return np.zeros(n, np.float32)
    diff = real - fetched
    drift = np.median(diff, axis=0)
    error = largest_channel(np.abs(diff - drift)) / scale
    if crossing is not None:
        error = np.where(crossing, np.maximum(error, crossing_error), error)
    contrast = ring_mismatch(ring_ys, ring_xs, real, np.zeros_like(real), scale, radius)
    both = np.stack([error, contrast], axis=1).astype(np.float32)
    spread_both = spread(hole_ys, hole_xs, ring_ys, ring_xs, both)
    return (spread_both[:, 0] / np.maximum(spread_both[:, 1], 1e-3)).astype(np.float32)


def ring_share(
    frame: _Frame,
    options: PropagateOptions,
    ys: np.ndarray,
    xs: np.ndarray,
    ring_ys: np.ndarray,
    ring_xs: np.ndarray,
    real: np.ndarray,
    fetched: np.ndarray,
    found: np.ndarray,
) -> np.ndarray:
    """Per hole pixel of ``frame``, the share of its own spatial fill (0..1, see :func:`ring_check`).

    Every ring pixel propagation found counts (also those the seam offset ignores as outliers: they are
    exactly what the other frames do not show here), and so do unmasked movers next to the hole, which
    the other frames show elsewhere: something crossing the hole.
    """
    if blind(len(ys), frame.hole.size):
        # A frame that shows (nearly) nothing: its own spatial fill is a smear of the few pixels it shows, and
        # its ring too small to judge propagation by (docs/method.md, "A frame masked (nearly) whole").
        return np.zeros(len(ys), np.float32)
    ry, rx, real, fetched = ring_ys[found], ring_xs[found], real[found], fetched[found]
    crossing = np.zeros(len(ry), bool)
    if frame.movers is not None and options.seam_ring > 0:
        my, mx = ring(frame.hole, frame.invalid, options.seam_ring, (ys, xs))
        on = frame.movers[my, mx]
        if on.any():
            my, mx = my[on], mx[on]
            plate = frame.source[my, mx]
            ry, rx = np.concatenate([ry, my]), np.concatenate([rx, mx])
            real, fetched = np.concatenate([real, plate]), np.concatenate([fetched, plate])
            crossing = np.concatenate([crossing, np.ones(len(my), bool)])
    # A blur's error grows with the distance into the hole: judge it at the hole's depth.
    depth = _depth(frame.hole, ys, xs)
    radius = int(np.clip(depth / 2, 2 * options.seam_ring, 64))
    ratio = ring_check(ys, xs, ry, rx, real, fetched, frame.level, crossing, radius, options.outlier_tol)
    return smoothstep(options.ring_low, options.ring_high, ratio)


def _depth(hole: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> float:
    """The largest distance (pixels) from a hole pixel to the nearest pixel outside the hole."""
    y0, x0 = max(int(ys.min()) - 1, 0), max(int(xs.min()) - 1, 0)
    crop = hole[y0 : int(ys.max()) + 2, x0 : int(xs.max()) + 2].astype(np.uint8)
    return float(cv2.distanceTransform(crop, cv2.DIST_L2, 3).max())
