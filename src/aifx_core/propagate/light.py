"""Stage 5's guard for a light change on one side of the hole: a smooth difference on the ring is not an outlier.

The seam (:func:`.seam.seam_match`) leaves out the ring pixels whose fetched value is far from the plate's (more
than ``outlier_tol`` of the frame's level): they show something the fill must not match, an unmasked object passing
the hole. A broad light on one side of the hole (a flashing practical, lightning, a torch sweeping by) differs as
much there, and left out it left the seam offset nothing to match on the lit side: the fill stayed as dark as the
frames it was fetched from, a hard dark crescent against the lit plate.

The two differ in shape. Light multiplies what is there, so the log ratio of real to fetched is smooth along the
ring: it changes over tens of pixels, and the background's texture cancels out of it. An object's colour replaces
what is there: the ratio steps where the object begins, on the plate's side, and carries the object's and the
background's texture. So each arc of outliers (with :data:`RADIUS` pixels of the ring either side, where a step
would be) is taken for light where the ratio's average over :data:`RADIUS` pixels steps by :data:`SLOPE` a pixel
or more with the plate stepping and the fetched values not on at most :data:`EDGE_SHARE` of it (a patch fetched
from another lit frame, or a highlight the light clipped, steps on the fetched side: not an edge), and its pixels'
own departure from that average is under :data:`ROUGH` on :data:`SMOOTH_SHARE` of it. Its smooth pixels are
matched by the seam, unclamped (the 3 × median clamp is for a few misregistered pixels, not for a light on a
third of the ring); its rough ones stay out. The ring check (:func:`.seam.ring_share`) is left as it was.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..flow.ops import largest_channel

#: Box radius (pixels) of the log ratio's local average, and how far beyond an arc of outliers its ends are read.
RADIUS = 3
#: Largest change per pixel of that average (natural log of the ratio, largest channel) an arc may show to be
#: light: a +80 % light with a Gaussian fall-off of sigma 30 px changes it by at most ~0.012 per pixel; an
#: object's edge, even blurred over 8 px, by ~0.1 (a log step of 0.7 or more: a colour, not a tint).
SLOPE = 0.03
#: A pixel's departure from that average (same units) under which it is smooth: misregistered texture under the
#: same light stays well below it, an object's texture over the background's does not.
ROUGH = 0.1
#: Share of an arc's pixels that must be smooth for it to be light.
SMOOTH_SHARE = 0.8
#: Share of an arc's pixels at which the ratio may step on the plate's side (an edge there, not in the fetched
#: values) for it still to be light.
EDGE_SHARE = 0.02


def seam_points(
    ring_ys: np.ndarray,
    ring_xs: np.ndarray,
    real: np.ndarray,
    fetched: np.ndarray,
    found: np.ndarray,
    tolerance: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Which seam ring points the seam matches, and which of those are a light change (both (N,) bool).

    Points propagation found whose fetched value is within ``tolerance`` of the plate's (largest channel), and
    those beyond it on an arc of light (:func:`light_arcs`): matched unclamped (:func:`.seam.seam_match`)."""
    outlier = np.abs(real - fetched).max(axis=1) > tolerance
    light = np.zeros(len(ring_ys), bool)
    light[found] = light_arcs(ring_ys[found], ring_xs[found], real[found], fetched[found], outlier[found])
    return found & (~outlier | light), light


def light_arcs(
    ring_ys: np.ndarray,
    ring_xs: np.ndarray,
    real: np.ndarray,
    fetched: np.ndarray,
    outlier: np.ndarray,
) -> np.ndarray:
    """Per ring point (the found ones: ``real``, ``fetched`` (N, 3) there), whether it is on an arc of ``outlier``
    points that is a smooth light change (see the module docstring), and smooth itself. All False, for nothing,
    where there is no outlier."""
    light = np.zeros(len(ring_ys), bool)
    if not outlier.any():
        return light
    y0, x0 = int(ring_ys.min()), int(ring_xs.min())
    shape = (int(ring_ys.max()) - y0 + 1, int(ring_xs.max()) - x0 + 1)
    py, px = ring_ys - y0, ring_xs - x0
    # Logs with a floor (as the seam's gain mode) so that near-black pixels do not dominate them.
    eps = np.maximum(0.05 * np.median(np.abs(real), axis=0), 1e-4)
    log_real = np.log(np.maximum(real, 0) + eps)
    log_fetched = np.log(np.maximum(fetched, 0) + eps)
    ratio = (log_real - log_fetched).astype(np.float32)
    image = np.zeros((*shape, 7), np.float32)
    image[py, px, :3] = ratio
    image[py, px, 3:6] = log_fetched
    image[py, px, 6] = 1.0
    size = (2 * RADIUS + 1, 2 * RADIUS + 1)
    box = cv2.blur(image, size, borderType=cv2.BORDER_CONSTANT)
    known = box[..., 6] > 1e-6
    mean = np.where(known[..., None], box[..., :6] / np.maximum(box[..., 6:], 1e-6), 0.0).astype(np.float32)
    slope_ratio = _slope(mean[..., :3], known)[py, px]
    slope_fetched = _slope(mean[..., 3:], known)[py, px]
    # Where the ratio steps, which side stepped: the plate (an object's edge: it begins here) or the fetched
    # values (they came from another frame here, or a lit highlight clipped): light is smooth on the plate.
    edge = (slope_ratio >= SLOPE) & (slope_fetched < 0.5 * slope_ratio)
    rough = largest_channel(np.abs(ratio - mean[py, px, :3])) >= ROUGH
    # Arcs: the outliers grown by RADIUS along the ring (so an arc's ends, where an object's edge steps, are its).
    on = np.zeros(shape, np.uint8)
    on[py[outlier], px[outlier]] = 1
    grown = np.zeros(shape, np.uint8)
    grown[py, px] = cv2.dilate(on, np.ones(size, np.uint8))[py, px]
    count, labels = cv2.connectedComponents(grown, connectivity=8)
    arc = labels[py, px]
    for label in range(1, count):
        members = arc == label
        n = int(members.sum())
        if edge[members].sum() <= EDGE_SHARE * n and rough[members].mean() <= 1.0 - SMOOTH_SHARE:
            light |= members & ~rough
    return light


def _slope(mean: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Per pixel, the largest change per pixel of ``mean`` (H, W, 3) to a neighbour (along rows or columns) where
    both are ``known``; 0 where neither neighbour is."""
    slope = np.zeros(known.shape, np.float32)
    for axis in (0, 1):
        for shift in (-1, 1):
            other = np.roll(mean, shift, axis)
            ok = np.roll(known, shift, axis) & known
            edge = [slice(None)] * 2
            edge[axis] = slice(0, 1) if shift == 1 else slice(-1, None)
            ok[tuple(edge)] = False
            step = largest_channel(np.abs(other - mean))
            slope = np.maximum(slope, np.where(ok, step, 0.0))
    return slope
