"""Which way in time to trust where the two disagree: the one whose reads match the frame's own seam ring.

A point's forward candidates come from later frames, its backward ones from earlier frames. Where something
unmasked stood in one of those spans and not in the other (a player's foot planted on the ground just after the
target frame, a ball that rolled through just before it), one direction fetches that thing as background and the
fusion blends it with the other direction's ground (tennis crossed square, frames 25-33: a pale stick where the
foot will stand). Moving, it is refused as a mover; standing, nothing in the frame pair marks it.

The seam ring says which direction is right *now*: its pixels are the target frame's own, and its points are
followed and fused like the hole's (:mod:`.propagation`). Per point and direction, the weighted mean of its
candidates is compared with the frame there; each direction's error is spread from the ring into the hole
(:func:`.seam.spread`), and at every point both directions reached, the candidates of the direction that
matches the ring worse lose weight by ``g(worse) / g(better)``, ``g(e) = 1 / (1 + (e / TOLERANCE)²)``. Where both
match equally (a static background, or rippling water that neither can follow) nothing changes.

A ring point's own error is left out of its own choice (the errors of the ring points around it within
:data:`SIGMA_PX`, Gaussian-weighted, decide): chosen by its own match, every ring point would match, and the ring
check (:func:`.seam.ring_share`), which judges propagation on those very points, would trust it everywhere
(``nonrigid``'s static squares: −0.10 dB with the point's own error, −0.03 without).
"""

from __future__ import annotations

import cv2
import numpy as np

from ..flow.ops import largest_channel
from .candidates import Candidates
from .seam import spread

#: Error (share of the frame's level, largest channel) at which a direction's match counts half. 0: off.
TOLERANCE = 0.05
#: Gaussian radius (pixels) of the ring points whose errors choose for a ring point.
SIGMA_PX = 4.0


def direction_means(
    candidates: Candidates, weight: np.ndarray, n: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per direction (forward, then backward): each point's candidate weight and weighted mean colour (n, 3)."""
    point = candidates.point
    means = []
    for direction in (1, -1):
        w = np.where(candidates.direction == direction, weight, 0.0)
        total = np.bincount(point, w, minlength=n)
        sums = np.stack([np.bincount(point, w * candidates.value[:, c], minlength=n) for c in range(3)], 1)
        means.append((total, sums / np.maximum(total, 1e-12)[:, None]))
    return means


def prefer_matching_direction(
    candidates: Candidates,
    weight: np.ndarray,
    plate: np.ndarray,
    ys: np.ndarray,
    xs: np.ndarray,
    n_hole: int,
    level: float,
) -> np.ndarray:
    """``weight`` with the candidates of the direction that matches the seam ring worse scaled down (see the
    module docstring). ``ys``, ``xs``: the target's points, its ``n_hole`` hole pixels first, then its seam
    ring's; ``plate``: the target frame. Unchanged where there is no ring or no point both directions reached."""
    n = len(ys)
    if TOLERANCE <= 0 or n == n_hole or len(candidates) == 0:
        return weight
    (w_f, mean_f), (w_b, mean_b) = direction_means(candidates, weight, n)
    both = (w_f > 0) & (w_b > 0)
    if not both.any() or not both[n_hole:].any():
        return weight
    # Each direction's error on the ring points both reached.
    ring = n_hole + np.flatnonzero(both[n_hole:])
    real = plate[ys[ring], xs[ring]].astype(np.float32)
    scale = max(level, 1e-6)
    errors = np.stack(
        [largest_channel(np.abs(mean[ring] - real)) / scale for mean in (mean_f, mean_b)], axis=1
    ).astype(np.float32)
    error = np.zeros((n, 2), np.float32)
    error[:n_hole] = spread(ys[:n_hole], xs[:n_hole], ys[ring], xs[ring], errors)
    error[ring] = _others(ys[ring], xs[ring], errors)
    # (an error is held under a million tolerances: on a near-black frame with a few huge values it reaches 1e18
    # levels, whose square overflows float32)
    g = 1.0 / (1.0 + (np.minimum(error, 1e6 * TOLERANCE) / TOLERANCE) ** 2)
    best = g.max(axis=1)
    # Where neither side comes within a thousand tolerances of the ring there is nothing to choose between.
    ratio = np.where(best[:, None] >= 1e-6, g / np.maximum(best, 1e-6)[:, None], 1.0)
    rows = np.flatnonzero(both[candidates.point])
    points = candidates.point[rows]
    side = np.where(candidates.direction[rows] == 1, 0, 1)
    weight = weight.copy()
    weight[rows] *= ratio[points, side].astype(np.float32)
    return weight


def _others(ys: np.ndarray, xs: np.ndarray, values: np.ndarray) -> np.ndarray:
    """At each of the points (``ys``, ``xs``): the Gaussian-weighted mean (:data:`SIGMA_PX`) of ``values`` (N, C)
    over the *other* points (its own where no other is near)."""
    y0, x0 = int(ys.min()), int(xs.min())
    shape = (int(ys.max()) - y0 + 1, int(xs.max()) - x0 + 1)
    channels = values.shape[1]
    image = np.zeros((*shape, channels + 1), np.float32)
    image[ys - y0, xs - x0, :channels] = values
    image[ys - y0, xs - x0, channels] = 1.0
    size = int(6 * SIGMA_PX) | 1
    kernel = cv2.getGaussianKernel(size, SIGMA_PX)
    centre = float(kernel.max()) ** 2
    blurred = cv2.GaussianBlur(image, (size, size), SIGMA_PX, borderType=cv2.BORDER_CONSTANT)
    at = blurred[ys - y0, xs - x0]
    others = at[:, channels] - centre
    near = others > 1e-4
    out = values.copy()
    out[near] = (at[near, :channels] - centre * values[near]) / others[near, None]
    return out
