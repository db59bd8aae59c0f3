"""Stage 3, fusion: one colour per point from its candidates, robust to the odd wrong one.

The candidate at the weighted median of luminance is the reference; candidates further than ``tolerance``
(relative to the frame's level, largest channel) from it are outliers (a chain that went through a passing
car or across an occlusion the round trip missed) and are dropped; the rest are averaged with their weights.
With one candidate per direction that agree this is the 1/distance blend of both directions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..flow.ops import largest_channel, luma
from .candidates import Candidates

#: ``gap`` recorded when every sample of one direction was rejected (a clear disagreement).
DISAGREE = 0.15


@dataclass
class Fused:
    """Per point: the fused colour and the cues the confidence stage reads."""

    values: np.ndarray
    found: np.ndarray
    #: Mean quality of the inliers (0 where nothing was found).
    align: np.ndarray
    #: Share of candidate weight rejected as outliers.
    rejected: np.ndarray
    #: Relative colour difference between the forward and the backward inliers (NaN: one direction only).
    gap: np.ndarray
    #: Frames to the nearest inlier (0: none found).
    nearest: np.ndarray

    def take_missing(self, other: Fused) -> None:
        """The points this fusion found nothing for take ``other``'s fusion where it found one, in place."""
        points = np.flatnonzero(other.found & ~self.found)
        for name in ("values", "found", "align", "rejected", "gap", "nearest"):
            getattr(self, name)[points] = getattr(other, name)[points]


def _first_of_each(groups: np.ndarray) -> np.ndarray:
    """Positions where a sorted ``groups`` array starts a new group."""
    starts = np.ones(len(groups), bool)
    starts[1:] = groups[1:] != groups[:-1]
    return np.flatnonzero(starts)


def _group_order(group: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Rows sorted by group, then by ``key`` within the group (one float sort, cheaper than a lexsort).

    The sort keys are never negative (nor -0.0: a group, a float, plus a unit is +0.0 at least), so their bits
    read as int64 are in the same order and NumPy's stable sort of the integers gives the same rows (~25 %
    faster at ~45 000 rows); a NaN key (unordered as bits) sorts as floats."""
    low, high = float(key.min()), float(key.max())
    unit = (key.astype(np.float64) - low) / ((high - low) * 1.001 + 1e-12)  # in [0, 1)
    composite = group.astype(np.float64) + unit
    if np.isnan(composite).any():
        return np.argsort(composite, kind="stable")
    return np.argsort(composite.view(np.int64), kind="stable")


def weighted_median_index(group: np.ndarray, key: np.ndarray, weight: np.ndarray, n: int) -> np.ndarray:
    """For each group 0..n-1, the row whose ``key`` is the weighted median of the group (-1: empty group)."""
    result = np.full(n, -1, np.intp)
    if len(group) == 0:
        return result
    order = _group_order(group, key)
    g, w = group[order], weight[order]
    total = np.bincount(g, w, minlength=n)
    cumulative = np.cumsum(w, dtype=np.float64)
    starts = _first_of_each(g)
    before = np.zeros(n, np.float64)
    before[g[starts]] = cumulative[starts] - w[starts]
    within = cumulative - before[g]
    reached = np.flatnonzero(within >= 0.5 * total[g] - 1e-9)
    first = reached[_first_of_each(g[reached])]
    result[g[first]] = order[first]
    return result


def fuse(
    candidates: Candidates,
    weight: np.ndarray,
    quality: np.ndarray,
    n: int,
    scale: float,
    tolerance: float = 0.25,
) -> Fused:
    """Fuse ``candidates`` for ``n`` points; ``scale`` is the frame's typical level (colour differences are
    relative to it), ``tolerance`` the relative distance to the reference beyond which a sample is dropped."""
    point = candidates.point
    values = np.zeros((n, 3), np.float32)
    align = np.zeros(n, np.float32)
    rejected = np.zeros(n, np.float32)
    gap = np.full(n, np.nan, np.float32)
    if len(point) == 0:
        return Fused(values, np.zeros(n, bool), align, rejected, gap, np.zeros(n, np.int16))
    reference = weighted_median_index(point, luma(candidates.value), weight, n)
    found = reference >= 0
    distance = largest_channel(np.abs(candidates.value - candidates.value[reference[point]])) / scale
    inlier = distance <= tolerance
    w_in = np.where(inlier, weight, 0.0)
    total = np.bincount(point, weight, minlength=n)
    # Per direction: inlier weight, weighted colour sums, and whether it had samples at all.
    sides = []
    for direction in (1, -1):
        side = candidates.direction == direction
        w_dir = np.where(side, w_in, 0.0)
        weight_sum = np.bincount(point, w_dir, minlength=n)
        sums = np.stack(
            [np.bincount(point, w_dir * candidates.value[:, c], minlength=n) for c in range(3)], 1
        )
        sides.append((weight_sum, sums, np.bincount(point, side, minlength=n) > 0))
    (w_f, sum_f, seen_f), (w_b, sum_b, seen_b) = sides
    kept = w_f + w_b
    safe = np.maximum(kept, 1e-12)
    values[:] = (sum_f + sum_b) / safe[:, None]
    align[:] = np.bincount(point, w_in * quality, minlength=n) / safe
    rejected[:] = np.where(total > 0, 1.0 - kept / np.maximum(total, 1e-12), 0.0)
    both = (w_f > 0) & (w_b > 0)
    forward = sum_f[both] / w_f[both][:, None]
    backward = sum_b[both] / w_b[both][:, None]
    gap[both] = largest_channel(np.abs(forward - backward)) / scale
    # Both directions saw the pixel but every sample of one side was outvoted: they disagree.
    gap[seen_f & seen_b & ~both] = DISAGREE
    # The nearest inlier's frames: the least over each point's inliers (one pass, no sort by point).
    unseen = np.iinfo(np.int16).max
    least = np.full(n, unseen, np.int16)
    np.minimum.at(least, point[inlier], candidates.steps[inlier].astype(np.int16))
    nearest = np.where(least < unseen, least, np.int16(0))
    values[~found] = 0.0
    return Fused(values.astype(np.float32), found, align, rejected.astype(np.float32), gap, nearest)
