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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

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


@dataclass
class _Box:
    """The box around a frame's hole and ring points, and the points' positions in it."""

    y0: int
    x0: int
    shape: tuple[int, int]
    py: np.ndarray
    px: np.ndarray

    @classmethod
    def around(cls, ys: np.ndarray, xs: np.ndarray, pad: int) -> _Box:
        y0, x0 = int(ys.min()) - pad, int(xs.min()) - pad
        shape = (int(ys.max()) - y0 + 1 + pad, int(xs.max()) - x0 + 1 + pad)
        return cls(y0, x0, shape, ys - y0, xs - x0)

    def image(self, values: np.ndarray, where: np.ndarray) -> np.ndarray:
        """``values`` (N,) or (N, C) at the points ``where`` is True, zero elsewhere, as an image of the box."""
        out = np.zeros(self.shape + values.shape[1:], np.float32)
        out[self.py[where], self.px[where]] = values[where]
        return out


def tensor(gray: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The 2 x 2 second moment of ``gray``'s forward differences (x, y) over the pixels where they lie in ``mask``
    (element-wise sums: no BLAS call in the core, tests/test_style.py)."""
    inside = mask[:-1, :-1] & mask[:-1, 1:] & mask[1:, :-1]
    dx = (gray[:-1, 1:] - gray[:-1, :-1])[inside].astype(np.float64)
    dy = (gray[1:, :-1] - gray[:-1, :-1])[inside].astype(np.float64)
    xy = float((dx * dy).sum())
    return np.array([[float((dx * dx).sum()), xy], [xy, float((dy * dy).sum())]])


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
    half = int(np.ceil(length / 2 + 3 * sigma)) + 1
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
    points are the ring's found ones; a few small arrays, so it costs nothing where the sharpness matches."""
    if len(ring_ys) < MIN_PIXELS:
        return None
    box = _Box.around(ring_ys, ring_xs, 1)
    everywhere = np.ones(len(ring_ys), bool)
    mask = box.image(np.ones(len(ring_ys), np.float32), everywhere) > 0
    s_real = tensor(box.image(real.mean(axis=1), everywhere), mask)
    s_fetched = tensor(box.image(fetched.mean(axis=1), everywhere), mask)
    least, largest, direction = lost(s_real, s_fetched)
    return RingBlur(least, largest, direction) if least < GATE else None


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
    nearer the frame's own."""
    n_hole = len(ys)
    all_ys, all_xs = np.concatenate([ys, ring_ys]), np.concatenate([xs, ring_xs])
    box = _Box.around(all_ys, all_xs, 1)
    on_ring = np.zeros(len(all_ys), bool)
    on_ring[n_hole:] = found[n_hole:]
    ring_mask = box.image(np.ones(len(all_ys), np.float32), on_ring) > 0
    real_gray = box.image(np.concatenate([np.zeros(n_hole, np.float32), real.mean(axis=1)]), on_ring)
    weight = box.image(np.ones(len(all_ys), np.float32), found)
    gray = box.image(values.mean(axis=1), found)
    motion = blur.direction
    across = np.array([-motion[1], motion[0]])

    def kept(length: float, sigma: float, u: np.ndarray) -> float:
        """The blurred fetched ring's energy along ``u`` over the frame's own, where the kernel is all known."""
        blurred, cover = _convolve(gray, weight, kernel(length, sigma, motion))
        mask = ring_mask & (cover >= COVER)
        return along(tensor(blurred, mask), u) / max(along(tensor(real_gray, mask), u), 1e-30)

    sigma = 0.0
    length = _bisect(lambda n: kept(n, 0.0, motion), MAX_LENGTH)
    if kept(length, 0.0, across) > 1.0 / ACROSS:
        # The line alone leaves the fetched ring sharper across it than the frame's: a defocus, or a shake.
        sigma = _bisect(lambda s: kept(length, s, across), MAX_SIGMA)
        length = _bisect(lambda n: kept(n, sigma, motion), length)
    blurred = _convolve(box.image(values, found), weight, kernel(length, sigma, motion))[0][box.py, box.px]
    ring = on_ring[n_hole:]
    before = np.abs(values[n_hole:][ring] - real[ring]).mean()
    after = np.abs(blurred[n_hole:][ring] - real[ring]).mean()
    if after >= before:
        return False
    values[found] = blurred[found]
    return True
