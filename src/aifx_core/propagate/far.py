"""Far reach: what a frame ``radius`` back already recovered, read where a point's chain ends unfilled.

A chain stops after ``radius`` frames. Under a slow pan, background that slid under a static patch at the frame
edge (a broadcaster's bug, a burnt-in caption) was last seen more frames back than that: the chain of such a
point walks all ``radius`` frames through the patch without finding plate. But the frame where it stops filled
that very spot from *its* ``radius`` frames back, so its propagation (plates only) is read there instead: the
reach backward in time doubles, one level only (a frame's recovered pixels come from plates, never from another
frame's recovered pixels), so a frame's pixels still depend on a bounded span of frames (``2 * radius`` back)
and a whole-shot stream has every such frame's propagation made already (it goes forward): no plate is held
longer for it. Forward in time the same read would need the plates ``2 * radius`` ahead held: not done.

Only points nothing else was found for read it, so every pixel propagation filled before keeps its value; and
only where the frame's own propagation was sure there (found from plates with a confidence, from its fusion's
cues alone, of at least ``fallback_high``: its seam and ring checks depend on its other hole pixels and are not
used), at all four pixels a bilinear read touches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..flow import sample_points
from .candidates import Candidates, Frontier
from .confidence import pixel_confidence
from .fusion import Fused


@dataclass(frozen=True)
class Recovered:
    """What a frame's propagation recovered from plates in its hole, as the box around its sure pixels (first
    pixel at frame pixel (``y0``, ``x0``)): ``values`` (h, w, 3) float32 at the frame's own exposure, and ``sure``
    (h, w) bool. Hole-sized: a stream keeps ``radius`` and a few of them."""

    y0: int
    x0: int
    values: np.ndarray
    sure: np.ndarray


def recovered(ys: np.ndarray, xs: np.ndarray, fused: Fused, sure_from: float) -> Recovered | None:
    """The frame's recovered pixels, from its hole pixels (``ys``, ``xs``) and their fusion (rows in the same
    order, ring points after them ignored); None when none is sure."""
    n = len(ys)
    found = fused.found[:n]
    cues = pixel_confidence(fused.align[:n], fused.rejected[:n], fused.gap[:n], fused.nearest[:n])
    sure = found & (cues >= sure_from)
    if not sure.any():
        return None
    sy, sx = ys[sure], xs[sure]
    y0, x0 = int(sy.min()), int(sx.min())
    shape = (int(sy.max()) - y0 + 1, int(sx.max()) - x0 + 1)
    box = np.zeros((*shape, 3), np.float32)
    held = np.zeros(shape, bool)
    box[sy - y0, sx - x0] = fused.values[:n][sure]
    held[sy - y0, sx - x0] = True
    return Recovered(y0, x0, box, held)


def read(found: Recovered, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where bilinear reads at full-resolution positions (``xs``, ``ys``, inside the frame) touch only sure
    pixels (bool (N,)), and their values there ((M, 3), for those only)."""
    height, width = found.sure.shape
    cols = np.floor(xs).astype(np.intp) - found.x0
    rows = np.floor(ys).astype(np.intp) - found.y0
    # A read touches its floor pixel and the next one right and down (the next is itself at the frame's edge).
    inside = (cols >= 0) & (rows >= 0) & (cols < width) & (rows < height)
    ok = np.zeros(len(xs), bool)
    where = np.flatnonzero(inside)
    r, c = rows[where], cols[where]
    r1 = np.minimum(r + 1, height - 1)
    c1 = np.minimum(c + 1, width - 1)
    # (beyond the box's last row or column: sure only if the read's weight there is 0, i.e. on the last pixel)
    last_row = (r + 1 >= height) & (ys[where] - found.y0 > r)
    last_col = (c + 1 >= width) & (xs[where] - found.x0 > c)
    sure = found.sure
    ok[where] = sure[r, c] & sure[r, c1] & sure[r1, c] & sure[r1, c1] & ~last_row & ~last_col
    at_x, at_y = xs[ok] - np.float32(found.x0), ys[ok] - np.float32(found.y0)
    return ok, sample_points(found.values, at_x, at_y).astype(np.float32, copy=False)


def far_candidates(
    frontier: Frontier, missing: np.ndarray, found: Recovered, gain: np.ndarray, direction: int
) -> Candidates:
    """Candidates for the frontier's points that are ``missing`` (bool per target point: nothing found), read
    from what the frame it reached recovered (``found``), brought to the target's exposure by ``gain``. They
    count ``2 * steps`` frames away: the recovered value itself may have come that much further."""
    want = missing[frontier.point]
    if not want.any():
        return Candidates.empty()
    xs, ys = frontier.x[want], frontier.y[want]
    ok, values = read(found, xs, ys)
    count = int(ok.sum())
    return Candidates(
        frontier.point[want][ok],
        (values * gain).astype(np.float32, copy=False),
        np.full(count, direction, np.int8),
        np.full(count, 2 * frontier.steps, np.int16),
        frontier.fb[want][ok],
        frontier.travel[want][ok],
        frontier.fit[want][ok],
    )
