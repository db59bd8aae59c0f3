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
    where there is no outlier.

    Only the arcs' points and their neighbours are looked at, by position (:class:`_RingPixels`), not in an
    image of the ring's bounding box: a wire matte corner to corner, or two small holes in opposite corners,
    made that box the whole frame, 1.2 s and 220 MiB an HD frame for a few outliers where a ball crossed the
    wire. The arithmetic is the box image's: a 7 x 7 box of the ring's points (BORDER_CONSTANT), slopes to the
    four neighbours inside the ring's bounding box, 8-connected arcs."""
    light = np.zeros(len(ring_ys), bool)
    if not outlier.any():
        return light
    pixels = _RingPixels(ring_ys, ring_xs, RADIUS + 1)
    # Logs with a floor (as the seam's gain mode) so that near-black pixels do not dominate them.
    eps = np.maximum(0.05 * np.median(np.abs(real), axis=0), 1e-4)
    log_real = np.log(np.maximum(real, 0) + eps)
    log_fetched = np.log(np.maximum(fetched, 0) + eps)
    ratio = (log_real - log_fetched).astype(np.float32)
    # Arcs: the outliers grown by RADIUS along the ring (so an arc's ends, where an object's edge steps, are its).
    members = np.flatnonzero(pixels.near(pixels.keys[outlier], RADIUS))
    arc = _arcs(pixels, pixels.keys[members])
    edge, rough = _steps(pixels, members, ratio, log_fetched.astype(np.float32))
    size = np.bincount(arc)
    lit = (np.bincount(arc, weights=edge) <= EDGE_SHARE * size) & (
        np.bincount(arc, weights=rough) / size <= 1.0 - SMOOTH_SHARE
    )
    light[members] = lit[arc] & ~rough
    return light


#: A :class:`_Lookup` over keys spanning at most this many times as many pixels as it has keys answers from an
#: image of the span (a small ring: the sorted search of its boxes' rows was most of a light match, 1.5 ms of the
#: steadying's 2.9 on a 720-point ring); a wider one (a wire matte corner to corner) searches.
DENSE_SPAN = 64


class _Lookup:
    """Where each of a set of integer keys (pixel positions) is: a sorted search, so that finding a pixel's
    neighbours costs per point looked up, not per pixel of an image around them; or, where the keys span few
    pixels (``span``: they lie in 0..span-1; :data:`DENSE_SPAN`), an image of the span holding each key's index:
    the same answers."""

    def __init__(self, keys: np.ndarray, span: int | None = None) -> None:
        self.order = np.argsort(keys, kind="stable")
        self.sorted = keys[self.order]
        self._table: np.ndarray | None = None
        if span is not None and len(keys) and span <= DENSE_SPAN * len(keys):
            table = np.full(span, -1, np.int64)
            table[keys[::-1]] = np.arange(len(keys) - 1, -1, -1)  # (the first of equal keys, as the search)
            self._table = table

    def find(self, keys: np.ndarray) -> np.ndarray:
        """Per key, the index of the same key in the set; -1 where it is not there."""
        table = self._table
        if table is not None:
            inside = (keys >= 0) & (keys < len(table))
            return np.where(inside, table[np.clip(keys, 0, len(table) - 1)], -1)
        at = np.minimum(np.searchsorted(self.sorted, keys), len(self.sorted) - 1)
        return np.where(self.sorted[at] == keys, self.order[at], -1)


class _RingPixels(_Lookup):
    """The ring's points keyed by position within their bounding box, with ``pad`` pixels round it so that
    a key plus :meth:`offset` of up to ``pad`` either way is the neighbour's key, never another row's pixel."""

    def __init__(self, ys: np.ndarray, xs: np.ndarray, pad: int) -> None:
        self.y0, self.x0, self.pad = int(ys.min()), int(xs.min()), pad
        self.shape = (int(ys.max()) - self.y0 + 1, int(xs.max()) - self.x0 + 1)
        self.stride = self.shape[1] + 2 * pad
        self.keys = (ys.astype(np.int64) - self.y0 + pad) * self.stride + (
            xs.astype(np.int64) - self.x0 + pad
        )
        super().__init__(self.keys, self.span)

    @property
    def span(self) -> int:
        """How many keys the padded box has (every key is below it)."""
        return (self.shape[0] + 2 * self.pad) * self.stride

    def offset(self, dy: int, dx: int) -> int:
        """What a key changes by ``dy`` rows and ``dx`` columns away (both within ``pad``)."""
        return dy * self.stride + dx

    def inside(self, keys: np.ndarray) -> np.ndarray:
        """Whether each key is a pixel of the ring's bounding box (the box image's own pixels)."""
        y, x = np.divmod(keys, self.stride)
        return (
            (y >= self.pad)
            & (y < self.pad + self.shape[0])
            & (x >= self.pad)
            & (x < self.pad + self.shape[1])
        )

    def row(self, keys: np.ndarray, dy: int, radius: int) -> np.ndarray:
        """The ring points ``dy`` rows from each of ``keys`` and up to ``radius`` columns either side: their
        indices ((2 ``radius`` + 1, K), left to right), -1 where there is none. A row of a box at a time, so
        that a search covers many points (a call per offset cost more than the search) in bounded memory."""
        steps = np.arange(-radius, radius + 1, dtype=np.int64) + self.offset(dy, 0)
        return self.find(keys[None, :] + steps[:, None])

    def near(self, keys: np.ndarray, radius: int) -> np.ndarray:
        """Per ring point, whether it is within ``radius`` (a square) of one of ``keys``: a dilation."""
        near = np.zeros(len(self.keys), bool)
        for dy in range(-radius, radius + 1):
            found = self.row(keys, dy, radius)
            near[found[found >= 0]] = True
        return near


def _arcs(pixels: _RingPixels, keys: np.ndarray) -> np.ndarray:
    """Per point (``keys`` of ``pixels``' points), a label 0..n-1 of its 8-connected piece, as
    cv2.connectedComponents gives on an image of them: a union-find over the neighbour pairs."""
    lookup = _Lookup(keys, pixels.span)
    index = np.arange(len(keys))
    pairs = [
        (index, lookup.find(keys + pixels.offset(dy, dx))) for dy, dx in ((0, 1), (1, -1), (1, 0), (1, 1))
    ]
    a = np.concatenate([mine[theirs >= 0] for mine, theirs in pairs])
    b = np.concatenate([theirs[theirs >= 0] for _, theirs in pairs])
    parent = index.copy()
    for _ in range(len(keys)):  # bounded: a round with a pair in two pieces joins two of them at least
        root_a, root_b = parent[a], parent[b]
        apart = root_a != root_b
        if not apart.any():
            break
        high, low = np.maximum(root_a[apart], root_b[apart]), np.minimum(root_a[apart], root_b[apart])
        np.minimum.at(parent, high, low)
        parent = _roots(parent)
    return np.unique(parent, return_inverse=True)[1].reshape(-1)


def _roots(parent: np.ndarray) -> np.ndarray:
    """``parent`` (each index's parent, never above it) with each index pointing at its root."""
    for _ in range(len(parent)):  # bounded: the chains halve each time
        up = parent[parent]
        if np.array_equal(up, parent):
            break
        parent = up
    return parent


def _steps(
    pixels: _RingPixels, members: np.ndarray, ratio: np.ndarray, log_fetched: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per point of ``members`` (indices of ``pixels``' points), whether the ratio's local average steps there
    with the plate stepping (an edge) and whether the point departs from that average by :data:`ROUGH` or more
    (rough): the average, its slope to the four neighbours and the departure as the box image gave them."""
    keys = pixels.keys[members]
    around = (0, pixels.offset(1, 0), pixels.offset(-1, 0), pixels.offset(0, 1), pixels.offset(0, -1))
    targets = keys[:, None] + np.array(around, np.int64)
    unique, inverse = np.unique(targets, return_inverse=True)
    mean, known = _box_mean(pixels, unique, np.concatenate([ratio, log_fetched], axis=1))
    mean, known = (
        mean[inverse.reshape(-1)].reshape(*targets.shape, 6),
        known[inverse.reshape(-1)].reshape(targets.shape),
    )
    # A neighbour counts where the box saw a point round it and it is in the ring's bounding box (no wrap).
    ok = known[:, 1:] & pixels.inside(targets[:, 1:])
    slope_ratio = _slope(mean[..., :3], ok)
    slope_fetched = _slope(mean[..., 3:], ok)
    # Where the ratio steps, which side stepped: the plate (an object's edge: it begins here) or the fetched
    # values (they came from another frame here, or a lit highlight clipped): light is smooth on the plate.
    edge = (slope_ratio >= SLOPE) & (slope_fetched < 0.5 * slope_ratio)
    rough = largest_channel(np.abs(ratio[members] - mean[:, 0, :3])) >= ROUGH
    return edge, rough


def _box_mean(pixels: _RingPixels, keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At each of ``keys`` (pixels, on the ring or not), the mean of ``values`` (N, C) float32 over the ring's
    points in the (2 :data:`RADIUS` + 1)² box round it, in float32 (C), and whether there is any: what
    cv2.blur on an image of the points with a count channel, divided by that channel, gave (double sums)."""
    # A row of zeros last: index -1, where there is no ring point, adds nothing.
    padded = np.concatenate([values, np.zeros((1, values.shape[1]), values.dtype)]).astype(np.float64)
    sums = np.zeros((len(keys), values.shape[1]), np.float64)
    count = np.zeros(len(keys), np.float64)
    for dy in range(-RADIUS, RADIUS + 1):
        for found in pixels.row(keys, dy, RADIUS):
            sums += padded[found]
            count += found >= 0
    scale = 1.0 / (2 * RADIUS + 1) ** 2
    box = (sums * scale).astype(np.float32)
    weight = (count * scale).astype(np.float32)[:, None]
    known = weight[:, 0] > 1e-6
    mean = np.where(known[:, None], box / np.maximum(weight, 1e-6), 0.0).astype(np.float32)
    return mean, known


def _slope(mean: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Per point, the largest change per pixel of ``mean`` (N, 5, 3: the point's, then its four neighbours')
    to a neighbour where ``ok`` (N, 4); 0 where none is."""
    step = largest_channel(np.abs(mean[:, 1:] - mean[:, :1]))
    return np.where(ok, step, np.float32(0.0)).max(axis=1, initial=np.float32(0.0))
