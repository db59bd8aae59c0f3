"""Stage 5's guard for a frame blurrier than its sources: a jolt, a shake, a focus pull in a sharp shot.

Propagation copies the other frames' pixels into the hole. Where the frame itself is motion-blurred (the camera
jolted during its exposure) and its neighbours are not, that pastes crisp detail into a soft frame, with a visible
edge where the hole ends. The seam ring tells both sharpnesses: the frame's own pixels there, and what was fetched
for the same pixels from the other frames. Their gradients' second moments (2 x 2 structure tensors) give, per
direction u, the share of the fetched high-pass energy the frame keeps, ``u' S_real u / u' S_fetched u``; its least
value over u and the direction it is least in come from the generalised eigenproblem of the two tensors. A motion
blur takes most of the energy along the motion and less across it; a defocus takes it alike in every direction.

Where that least share is :data:`GATE` or more (the sharpnesses match: nearly every frame) nothing more is done.
Otherwise the fetched values (the hole's and the ring's) are blurred by a kernel fitted on the ring: a line of
length L along the lost direction (a motion blur), over an isotropic Gaussian of sigma s where the line alone
leaves them sharper across it than the frame (a defocus, a shake). L is fitted to the energy kept along the
direction, then s to the energy kept across it and L again, each by bisection of a monotone measure, on the ring
pixels whose kernel falls on fetched values only (a truncated kernel blurs less, and its changing support makes
edges of its own; a band beyond the ring, fetched too, changed the repros by under 0.35 dB and cost a tennis fill
with a square hole 0.85 s of CPU). Near the hole's edge the kernel is truncated the same way. The blur is kept
only where it brings the fetched ring nearer the frame's own. A frame sharper than its sources (a still frame
between blurred ones) is left as it was: it is not sharpened.

Both work on the points, not on images of their extent (:class:`_Grid`, :class:`_Tiling`): a wire matte from corner
to corner of a 4K frame, or two small holes in opposite corners, has few pixels in a box the size of the frame
(before: 80 MiB on every frame, and 453 MiB and 6-7 s of CPU where the match ran, for the 4K wire).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from .boxes import Box
from .boxes import area as _area
from .boxes import bounds as _bounds
from .boxes import grown as _grown
from .boxes import inside as _inside

#: The least share of the fetched ring's high-pass energy (in any direction) the frame's own ring may keep
#: before the fetched values are blurred to match it. A frame as sharp as its sources measures about 1 (0.97-1.04
#: on the tester's sharp pan; the fetched values are interpolated and averaged, if anything a little softer than
#: a plate). 0.7 rather than 0.5 took the pan jolted over 7 px (0.53: 30.6 -> 37.8 dB) and whip static square's
#: softer frames (+0.03 dB), and lost 0.01 dB on the shaky repro.
GATE = 0.7
#: Share kept across the blur direction below which an isotropic Gaussian is fitted too.
ACROSS = 0.8
#: Longest line (pixels) and widest Gaussian (sigma, pixels) fitted.
MAX_LENGTH = 32.0
MAX_SIGMA = 5.0
#: Bisection steps of each fit.
STEPS = 7
#: Share of the kernel that must fall on known (fetched) pixels for a ring pixel to be measured.
COVER = 0.98
#: Ring pixels with gradients to measure, fewest, for the check to judge anything.
MIN_PIXELS = 64


#: Side (pixels) of the tiles in which points spread thinly over a large extent (a wire matte from corner to
#: corner, small holes in opposite corners) are convolved, each with the kernel's reach around it, so that the cost
#: follows their pixels, not their extent.
TILE = 128


def _reach(length: float, sigma: float) -> int:
    """Half the side of :func:`kernel`'s square: the pixels it reaches on either side of its centre."""
    return int(np.ceil(length / 2 + 3 * sigma)) + 1


#: The farthest any fitted kernel reaches.
REACH = _reach(MAX_LENGTH, MAX_SIGMA)


@dataclass
class _Grid:
    """Points in row-major order, each with the point right of it and the point below it (-1: none): the forward
    differences of values at the points, without an image of their extent (a ring from corner to corner of a 4K
    frame has few pixels). The order is the one a boolean mask of an image selects in, so the moment sums
    (:meth:`tensor`) add the same numbers in the same order as over an image of the box around the points."""

    order: np.ndarray
    right: np.ndarray
    down: np.ndarray

    @classmethod
    def of(cls, ys: np.ndarray, xs: np.ndarray) -> _Grid:
        y, x = ys.astype(np.int64) - int(ys.min()), xs.astype(np.int64) - int(xs.min())
        width = int(x.max()) + 2  # (a point's right neighbour never wraps to the next row)
        key = y * width + x
        order = np.argsort(key, kind="stable")
        ordered = key[order]

        def neighbour(step: int) -> np.ndarray:
            at = np.minimum(np.searchsorted(ordered, ordered + step), len(ordered) - 1)
            return np.where(ordered[at] == ordered + step, order[at], -1)

        return cls(order, neighbour(1), neighbour(width))

    def tensor(self, gray: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The 2 x 2 second moment of the forward differences (x, y) of ``gray`` (float32, at the points) over the
        points where it and both neighbours lie in ``mask`` (element-wise sums: no BLAS call in the core,
        tests/test_style.py)."""
        inside = mask[self.order] & (self.right >= 0) & (self.down >= 0)
        at, right, down = self.order[inside], self.right[inside], self.down[inside]
        both = mask[right] & mask[down]
        at, right, down = at[both], right[both], down[both]
        dx = (gray[right] - gray[at]).astype(np.float64)
        dy = (gray[down] - gray[at]).astype(np.float64)
        xy = float((dx * dy).sum())
        return np.array([[float((dx * dx).sum()), xy], [xy, float((dy * dy).sum())]])


@dataclass
class _Tile:
    """A box whose points a convolution answers for (``own``: their places in the answer, and their rows and
    columns in ``region``), and the known points it reads (``near``: indices, and their rows and columns) in the
    region: the box grown by :data:`REACH`. ``weight``: the region's image of the known points."""

    box: Box
    region: Box
    own: np.ndarray
    own_yx: tuple[np.ndarray, np.ndarray]
    near: np.ndarray
    near_yx: tuple[np.ndarray, np.ndarray]
    weight: np.ndarray

    @classmethod
    def of(
        cls,
        box: Box,
        region: Box,
        own: np.ndarray,
        at: np.ndarray,
        near: np.ndarray,
        ys: np.ndarray,
        xs: np.ndarray,
    ) -> _Tile:
        """The tile of ``box`` in ``region`` whose own points are ``at`` (indices into ``ys``, ``xs``), answered
        for at places ``own``, and reads the points ``near``."""
        own_yx = ys[at] - region[0], xs[at] - region[1]
        near_yx = ys[near] - region[0], xs[near] - region[1]
        weight = np.zeros((region[2] - region[0], region[3] - region[1]), np.float32)
        weight[near_yx] = 1.0
        return cls(box, region, own, own_yx, near, near_yx, weight)

    def image(self, values: np.ndarray) -> np.ndarray:
        """The region's image of ``values`` (N,) or (N, C) at the known points, zero elsewhere."""
        image = np.zeros(self.weight.shape + values.shape[1:], np.float32)
        image[self.near_yx] = values[self.near]
        return image

    def convolve(self, image: np.ndarray, k: np.ndarray, limit: Box) -> tuple[np.ndarray, np.ndarray]:
        """:func:`_convolve` of the region's ``image`` over the tile's box grown by ``k``'s reach (within ``limit``;
        no kernel reaches beyond the region: :data:`REACH`), at the tile's own points."""
        w0, w1, w2, w3 = _grown(self.box, k.shape[0] // 2, limit)
        dy, dx = w0 - self.region[0], w1 - self.region[1]
        window = slice(dy, w2 - self.region[0]), slice(dx, w3 - self.region[1])
        num, cover = _convolve(image[window], self.weight[window], k)
        at = self.own_yx[0] - dy, self.own_yx[1] - dx
        return num[at], cover[at]


@dataclass
class _Tiling:
    """Where :func:`match_blur` convolves the values at its points: in one image of the box around them all, padded
    by a pixel (the compact hole of nearly every frame), or, where that box is mostly empty (a wire matte from
    corner to corner, small holes in opposite corners), in the :data:`TILE` tiles that hold points to answer for,
    each with the kernel's reach around it: whichever has fewer pixels. Off the points every image is zero (the
    convolutions' constant border), so a tile gives its points what the whole box gave them, within the rounding
    of OpenCV's DFT of another size."""

    limit: Box
    tiles: list[_Tile]

    @classmethod
    def of(cls, ys: np.ndarray, xs: np.ndarray, known: np.ndarray, answer: np.ndarray) -> _Tiling:
        """The tiling that answers for the points ``answer`` (indices into ``ys``, ``xs``), in that order, from those
        ``known``."""
        limit = _bounds(ys, xs, 1)
        readable = np.flatnonzero(known)
        columns = (limit[3] - limit[1]) // TILE + 1
        cell = ((ys[answer] - limit[0]) // TILE) * columns + (xs[answer] - limit[1]) // TILE
        order = np.argsort(cell, kind="stable")
        groups = np.split(order, np.flatnonzero(np.diff(cell[order])) + 1)
        boxes = [_bounds(ys[answer[group]], xs[answer[group]], 0) for group in groups]
        regions = [_grown(box, REACH, limit) for box in boxes]
        if _area(limit) <= sum(_area(region) for region in regions):
            return cls(limit, [_Tile.of(limit, limit, np.arange(len(answer)), answer, readable, ys, xs)])
        tiles = []
        for box, region, own in zip(boxes, regions, groups, strict=True):
            near = readable[_inside(ys[readable], xs[readable], region)]
            tiles.append(_Tile.of(box, region, own, answer[own], near, ys, xs))
        return cls(limit, tiles)

    def images(self, values: np.ndarray) -> Iterator[np.ndarray]:
        """Each tile's image of ``values`` (N,) or (N, C), in turn: what :meth:`convolve` blurs."""
        return (tile.image(values) for tile in self.tiles)

    def convolve(
        self, images: Iterable[np.ndarray], k: np.ndarray, shape: tuple[int, ...]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``images`` blurred by ``k`` over the known points only (normalised), at the points answered for
        (``shape``: their number, then the values' channels), and the share of ``k`` each found known
        (:func:`_convolve`, tile by tile)."""
        blurred, cover = np.zeros(shape, np.float32), np.zeros(shape[0], np.float32)
        for tile, image in zip(self.tiles, images, strict=True):
            blurred[tile.own], cover[tile.own] = tile.convolve(image, k, self.limit)
        return blurred, cover


def along(moment: np.ndarray, u: np.ndarray) -> float:
    """The energy ``u' S u`` of a 2 x 2 second moment ``S`` along the unit direction ``u`` (x, y)."""
    return float(moment[0, 0] * u[0] * u[0] + 2.0 * moment[0, 1] * u[0] * u[1] + moment[1, 1] * u[1] * u[1])


def lost(real: np.ndarray, fetched: np.ndarray) -> tuple[float, float, np.ndarray]:
    """From the real and fetched rings' tensors: the least and the largest share of the fetched energy that the
    real ring keeps in a direction (the roots of det(S_real - share S_fetched) = 0), and the unit direction
    (x, y) of the least (the blur's), solved in closed form."""
    (r11, r12), (_, r22) = real
    (f11, f12), (_, f22) = fetched
    a = f11 * f22 - f12 * f12
    if a <= 1e-12 * max(f11 * f22, 1e-30):
        return (
            1.0,
            1.0,
            np.array([1.0, 0.0]),
        )  # (nothing fetched varies in some direction: nothing to compare)
    b = -(r11 * f22 + r22 * f11 - 2.0 * r12 * f12)
    c = r11 * r22 - r12 * r12
    root = float(np.sqrt(max(b * b - 4.0 * a * c, 0.0)))
    least, largest = (-b - root) / (2.0 * a), (-b + root) / (2.0 * a)
    # (S_real - least S_fetched) u = 0: u is orthogonal to either row; the longer row is the surer.
    rows = np.array([[r11 - least * f11, r12 - least * f12], [r12 - least * f12, r22 - least * f22]])
    row = rows[int(np.argmax(np.abs(rows).sum(axis=1)))]
    direction = np.array([-row[1], row[0]])
    norm = float(np.hypot(direction[0], direction[1]))
    if norm <= 0.0:
        direction, norm = np.array([1.0, 0.0]), 1.0  # (the same share every way: no direction to prefer)
    return float(least), float(largest), direction / norm


def kernel(length: float, sigma: float, direction: np.ndarray) -> np.ndarray:
    """A normalised line of ``length`` pixels along ``direction`` (x, y), convolved with a Gaussian of ``sigma``."""
    half = _reach(length, sigma)
    size = 2 * half + 1
    k: np.ndarray = np.zeros((size, size), np.float32)
    steps = max(2, int(np.ceil(2 * length)) + 1)
    for s in np.linspace(-length / 2, length / 2, steps):
        x, y = half + s * direction[0], half + s * direction[1]
        ix, iy = int(np.floor(x)), int(np.floor(y))
        fx, fy = x - ix, y - iy
        k[iy, ix] += (1 - fx) * (1 - fy)
        k[iy, ix + 1] += fx * (1 - fy)
        k[iy + 1, ix] += (1 - fx) * fy
        k[iy + 1, ix + 1] += fx * fy
    if sigma > 0:
        k = cv2.GaussianBlur(k, (size, size), sigma, borderType=cv2.BORDER_CONSTANT)
    return k / k.sum()


def _convolve(image: np.ndarray, weight: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``image`` (zero where ``weight`` is) blurred by ``k`` over the known pixels only (normalised), and the
    share of ``k`` each pixel found known."""
    num = cv2.filter2D(image, -1, k, borderType=cv2.BORDER_CONSTANT)
    cover = cv2.filter2D(weight, -1, k, borderType=cv2.BORDER_CONSTANT)
    safe = np.maximum(cover, 1e-6)
    return num / (safe[..., None] if num.ndim == 3 else safe), cover


def _bisect(measure: Callable[[float], float], high: float) -> float:
    """The parameter in [0, ``high``] at which the decreasing ``measure`` falls to 1 (bisection)."""
    low = 0.0
    if measure(high) >= 1.0:
        return high
    for _ in range(STEPS):
        mid = 0.5 * (low + high)
        if measure(mid) > 1.0:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


@dataclass
class RingBlur:
    """How much blurrier the frame's own ring is than what was fetched for it (:func:`ring_blur`)."""

    #: The least and the largest share of the fetched ring's high-pass energy the frame's ring keeps in a direction.
    least: float
    largest: float
    #: The unit direction (x, y) of the least: a motion blur's.
    direction: np.ndarray


def ring_blur(
    real: np.ndarray, fetched: np.ndarray, ring_ys: np.ndarray, ring_xs: np.ndarray
) -> RingBlur | None:
    """The ring check of the module docstring: None (nothing to do) unless the frame's ring (``real``, N x 3) keeps
    under :data:`GATE` of the high-pass energy of what was fetched for it (``fetched``) in some direction. The
    points are the ring's found ones; a few arrays of them (no image of their extent), so it costs nothing where
    the sharpness matches."""
    if len(ring_ys) < MIN_PIXELS:
        return None
    grid = _Grid.of(ring_ys, ring_xs)
    everywhere = np.ones(len(ring_ys), bool)
    s_real = grid.tensor(real.mean(axis=1).astype(np.float32), everywhere)
    s_fetched = grid.tensor(fetched.mean(axis=1).astype(np.float32), everywhere)
    least, largest, direction = lost(s_real, s_fetched)
    return RingBlur(least, largest, direction) if least < GATE else None


def _fitted(
    blur: RingBlur,
    all_ys: np.ndarray,
    all_xs: np.ndarray,
    n_hole: int,
    values: np.ndarray,
    found: np.ndarray,
    real: np.ndarray,
) -> tuple[float, float]:
    """The length and the sigma of the kernel along ``blur``'s direction that leaves the fetched ring as sharp as
    the frame's own (:func:`match_blur`'s arguments, the hole's points and the ring's concatenated)."""
    ring_ys, ring_xs = all_ys[n_hole:], all_xs[n_hole:]
    on_ring = found[n_hole:]
    grid = _Grid.of(ring_ys, ring_xs)
    tiling = _Tiling.of(all_ys, all_xs, found, np.arange(n_hole, len(all_ys)))
    gray = list(tiling.images(values.mean(axis=1)))
    real_gray = real.mean(axis=1).astype(np.float32)
    motion = blur.direction
    across = np.array([-motion[1], motion[0]])

    def kept(length: float, sigma: float, u: np.ndarray) -> float:
        """The blurred fetched ring's energy along ``u`` over the frame's own, where the kernel is all known."""
        blurred, cover = tiling.convolve(gray, kernel(length, sigma, motion), ring_ys.shape)
        mask = on_ring & (cover >= COVER)
        return along(grid.tensor(blurred, mask), u) / max(along(grid.tensor(real_gray, mask), u), 1e-30)

    sigma = 0.0
    length = _bisect(lambda n: kept(n, 0.0, motion), MAX_LENGTH)
    if kept(length, 0.0, across) > 1.0 / ACROSS:
        # The line alone leaves the fetched ring sharper across it than the frame's: a defocus, or a shake.
        sigma = _bisect(lambda s: kept(length, s, across), MAX_SIGMA)
        length = _bisect(lambda n: kept(n, sigma, motion), length)
    return length, sigma


def match_blur(
    blur: RingBlur,
    ys: np.ndarray,
    xs: np.ndarray,
    ring_ys: np.ndarray,
    ring_xs: np.ndarray,
    values: np.ndarray,
    found: np.ndarray,
    real: np.ndarray,
) -> bool:
    """Blur the fetched ``values`` (N_hole + N_ring x 3: at the hole's points ``ys``, ``xs``, then the ring's;
    ``found`` where propagation found one) in place, by the kernel fitted so that on the ring (the frame's own
    values there ``real``, N_ring x 3) they keep as much high-pass energy along and across ``blur``'s direction as
    the frame's own (see the module docstring). False, nothing changed, where that does not bring the fetched ring
    nearer the frame's own. The work follows the points, not their extent (:class:`_Tiling`, :class:`_Grid`)."""
    n_hole = len(ys)
    all_ys, all_xs = np.concatenate([ys, ring_ys]), np.concatenate([xs, ring_xs])
    length, sigma = _fitted(blur, all_ys, all_xs, n_hole, values, found, real)
    tiling = _Tiling.of(all_ys, all_xs, found, np.arange(len(all_ys)))
    blurred = tiling.convolve(tiling.images(values), kernel(length, sigma, blur.direction), values.shape)[0]
    on_ring = found[n_hole:]
    before = np.abs(values[n_hole:][on_ring] - real[on_ring]).mean()
    after = np.abs(blurred[n_hole:][on_ring] - real[on_ring]).mean()
    if after >= before:
        return False
    values[found] = blurred[found]
    return True
