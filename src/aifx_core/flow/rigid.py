"""A pair's background motion made exact: its layers refined on the images, the flow snapped to them.

DIS finds a pixel's motion to about 0.05 px, and its error is smooth over a patch: a chain of flows carries it
along, so a point chained over k frames lands ~0.05·k px off (a whole-pixel pan of 3 px/frame, 192x108: 0.05 px
after one frame, 0.5 after twelve), and every colour fetched from other frames is read between pixels, mixed
with its neighbour (an edge misregistered by a pixel after a few frames; a 50.0 highlight spread over four pixels).
A layer's homography fitted to that flow is no better (its translation 0.02-0.05 px off: DIS's error is not
noise around the truth, it leans). The two images say where the background went far more precisely: each layer
is refined by Gauss-Newton on the pair's grey images, over the pixels whose flow it explains (:func:`refine`;
a whole-pixel pan to ~1e-4 px), and the flow takes the refined layer's motion wherever it agrees with it over
its neighbourhood, as the images judge it on every :data:`GRID`-th pixel, and by its own flow (:func:`snap`):
DIS's smooth error goes, a mover, a parallax layer the homography does not follow or a gentle deformation keep
their own flow. The work is a pair's at the flow worker's pace (10-13 % of a 432x240 fill's CPU on the idle box
before the whole-frame passes went, docs/method.md): samples, not the frame, for the refinement, read from the
pixels around them; a grid for the judgement, its texture read from the grid pixels' neighbours.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from .motion import homography_flow
from .ops import float_grid

#: Most Gauss-Newton iterations of :func:`refine` (it converges in 2-4 from DIS's fit) ...
ITERATIONS = 8
#: ... stopping once a step moves the motion less than this (working px): twelve frames of chains then drift
#: ~0.01 px, under the 1/64 px at which a bilinear read (OpenCV's 1/32 px grid) is the pixel itself.
STOP_PX = 1e-3
#: Most samples a refinement compares (on a regular grid, every 8th pixel at 432x240: ~1600): its steps' work
#: follows them. 4000 took twice the time; tennis' hole PSNR with 2000 is within 0.04 dB of it.
MAX_SAMPLES = 2000
#: A pixel's flow within this of a layer (working px) is that layer's, and the refinement reads it.
INLIER_PX = 0.75
#: Fewest samples a refinement is made from.
MIN_SAMPLES = 400
#: The refinement may move a corner of the frame at most this far (working px) from where the flow's fit put it;
#: beyond, it is refused (it locked onto something else).
MAX_CORRECTION_PX = 0.75
#: :func:`agreement`: a pixel takes its layer's motion where its own flow is within ``OWN_PX`` of it (fully within
#: half that) and the mean difference over a ``LOCAL`` px square around it is within ``LOCAL_PX`` (fully within
#: half): DIS's error, smooth over a patch, averages out no better than that, while a deformation or a parallax
#: the layer does not follow is a mean difference of its own.
OWN_PX = 0.5
LOCAL_PX = 0.15
LOCAL = 9
#: Where the images can tell (:func:`agreement`): the layer's motion may leave more squared difference between
#: them than the flow's by what a misalignment of this much more (working px, in quadrature over the flow's own
#: error) leaves on the texture there (fully; none of it at twice the excess). A difference, not a ratio: a
#: render's noise or a plate's grain adds alike to both, and a ratio near 1 then let a layer 0.3 px off through.
WORSE_PX = 0.1
#: ... over a floor of a quarter of the grey images' step (1/255, as a 0..1 difference) per pixel ...
ROUNDING = 0.25 / 255.0
#: ... and be this far from the flow (working px; fully within half): beyond, it is something else moving.
OWN_MAX_PX = 1.0
#: :func:`refine` models the pair's light as one gain and offset. Where the light changes over part of the frame
#: only (a light flickering over its top, a cloud's shadow) it cannot, and the homography bends to take up the
#: difference: a static plate under a light flickering ±4 % over its top third (tests/test_seam_halo.py) was
#: refined 0.10-0.22 px off all over (DIS: 0.01-0.04 away from the light), and :func:`agreement`, judging by the
#: same wrong light, let the snap take it there. A refinement that leaves the mean difference over one of
#: ``LIGHT_BLOCKS`` x ``LIGHT_BLOCKS`` blocks of the frame (with ``LIGHT_MIN_SAMPLES`` samples) above what
#: ``LIGHT_PX`` of misalignment leaves on the samples' texture is refused: 1.18-1.25 px on that plate; at most
#: 0.30 on tennis' first 30 pairs, 0.06 on the tests' pans.
LIGHT_PX = 0.6
LIGHT_BLOCKS = 4
LIGHT_MIN_SAMPLES = 25
#: The share of the :data:`LOCAL` px square around a pixel both images must show for them to judge it.
MIN_COVERAGE = 1.0 / 3.0
#: The images judge a layer (:class:`Evidence`) on every GRID-th pixel each way, the :data:`LOCAL` px square
#: around a pixel by its 3x3 grid pixels (9 of its 81): a sixteenth of the work, which was ~40 % of the exact
#: layers' cost when every pixel was judged; the pixels between take their neighbours' share
#: (:func:`_upsampled`), held to their own flow. Tennis' hole PSNR: 0.07-0.08 dB under every pixel's judgement
#: with every second pixel judged, 0.02-0.03 dB more with every fourth.
GRID = 4


def _bilinear(image: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """``image`` (H, W, or H, W, C: then (N, C), each channel at the same weights) at float positions (within
    [0, W-1] x [0, H-1]), bilinear in float64 at their exact fractions (OpenCV's remap rounds a position to
    1/32 px, which would stop the refinement there)."""
    height, width = image.shape[:2]
    x0 = np.minimum(np.floor(xs).astype(np.intp), width - 2)
    y0 = np.minimum(np.floor(ys).astype(np.intp), height - 2)
    fx, fy = xs - x0, ys - y0
    flat = image.reshape(height * width, -1)
    if image.ndim == 3:
        fx, fy = fx[:, None], fy[:, None]
    else:
        flat = flat[:, 0]
    at = y0 * width + x0
    # (np.take: the same values as indexing, without its general machinery)
    top = np.take(flat, at, axis=0) * (1 - fx) + np.take(flat, at + 1, axis=0) * fx
    at += width
    bottom = np.take(flat, at, axis=0) * (1 - fx) + np.take(flat, at + 1, axis=0) * fx
    return top * (1 - fy) + bottom * fy


#: The 5-tap Gaussian (sigma 1) :func:`refine` compares the images through, as a 5x5 kernel (float64).
_GAUSSIAN = (
    cv2.getGaussianKernel(5, 1.0, ktype=cv2.CV_64F) * cv2.getGaussianKernel(5, 1.0, ktype=cv2.CV_64F).T
)


def _blurred_at(image: np.ndarray, columns: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``image`` (H, W) through a 5x5 Gaussian (sigma 1: ``cv2.GaussianBlur(image, (5, 5), 1.0)``, its border
    reflected as OpenCV's default) at the pixels ``columns``, ``rows`` (integer arrays), float64: the 25 pixels
    around each, gathered, instead of the whole frame blurred for a sample every 8th pixel."""
    height, width = image.shape
    taps = np.arange(-2, 3)
    across = _reflect(columns[:, None] + taps, width)
    down = _reflect(rows[:, None] + taps, height)
    patches = np.take(image.reshape(-1), down[:, :, None] * width + across[:, None, :]).astype(np.float64)
    return (patches * _GAUSSIAN).sum(axis=(1, 2))


def _reflect(index: np.ndarray, size: int) -> np.ndarray:
    """Indices beyond ``[0, size)`` reflected back without repeating the border pixel (OpenCV's default border)."""
    return np.abs((size - 1) - np.abs((size - 1) - index))


#: :func:`_with_gradient`'s twelve neighbours of a position's top-left pixel, by their offsets in rows and
#: columns: the 2x2 it is read between and the pixel beyond each of them that its central differences need.
_AROUND = ((-1, 0), (-1, 1), (0, -1), (0, 0), (0, 1), (0, 2), (1, -1), (1, 0), (1, 1), (1, 2), (2, 0), (2, 1))


def _with_gradient(
    image: np.ndarray, xs: np.ndarray, ys: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``image`` (H, W) float32 at float positions within [1, W-2] x [1, H-2], with its central differences
    (``(I[x+1] - I[x-1]) / 2`` each way), each bilinear at the positions' exact fractions, float64: what
    :func:`_bilinear` reads of the image and its two central-difference planes, from the twelve pixels around
    each position (:data:`_AROUND`) in one gather, without making the planes over the whole frame (they and
    their merge were a fifth of a refinement's work). A neighbour beyond the frame, read only with weight 0
    (a position on the last row or column), is clipped to it."""
    height, width = image.shape
    x0 = np.minimum(np.floor(xs).astype(np.intp), width - 2)
    y0 = np.minimum(np.floor(ys).astype(np.intp), height - 2)
    fx, fy = xs - x0, ys - y0
    offsets = _offsets(width)
    near = np.take(image.reshape(-1), (y0 * width + x0)[None, :] + offsets[:, None], mode="clip")
    (up0, up1, left0, p00, p01, right0, left1, p10, p11, right1, down0, down1) = near.astype(np.float64)
    wx, wy = 1.0 - fx, 1.0 - fy
    value = (p00 * wx + p01 * fx) * wy + (p10 * wx + p11 * fx) * fy
    across = ((p01 - left0) * wx + (right0 - p00) * fx) * wy + ((p11 - left1) * wx + (right1 - p10) * fx) * fy
    down = ((p10 - up0) * wx + (p11 - up1) * fx) * wy + ((down0 - p00) * wx + (down1 - p01) * fx) * fy
    return value, across * 0.5, down * 0.5


@functools.lru_cache(maxsize=8)
def _offsets(width: int) -> np.ndarray:
    """:data:`_AROUND` as offsets in a frame ``width`` px wide, flattened."""
    return np.array([row * width + column for row, column in _AROUND], np.intp)


def _product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The 3x3 matrix product ``a · b``, element-wise (``@`` goes to BLAS, whose worker threads then spin)."""
    return (a[:, :, None] * b[None, :, :]).sum(axis=1)


def _samples(
    matrix: np.ndarray, flow: np.ndarray, usable: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """Where :func:`refine` compares the images (columns, rows; float64): the ``usable`` pixels whose ``flow``
    the layer ``matrix`` explains (within :data:`INLIER_PX`), on a grid coarse enough to leave at most
    :data:`MAX_SAMPLES` of them; None when fewer than :data:`MIN_SAMPLES` are left."""
    step = max(1, int(np.ceil(np.sqrt(usable.sum() / MAX_SAMPLES))))
    ys, xs = np.nonzero(usable[::step, ::step])
    ys, xs = ys * step, xs * step
    explained = homography_flow(matrix, xs.astype(np.float64), ys.astype(np.float64)) - flow[ys, xs]
    near = np.hypot(explained[:, 0], explained[:, 1]) <= INLIER_PX
    if near.sum() < MIN_SAMPLES:
        return None
    return xs[near].astype(np.float64), ys[near].astype(np.float64)


def refine(
    a: np.ndarray,
    b: np.ndarray,
    matrix: np.ndarray,
    flow: np.ndarray,
    usable_a: np.ndarray,
    usable_b: np.ndarray,
) -> tuple[np.ndarray, float, float] | None:
    """The homography (3x3 float64, ``a``'s working px → ``b``'s) near ``matrix`` that brings grey image ``b``
    (float32, (H, W)) onto ``a`` best over the pixels of ``usable_a`` (bool) whose ``flow`` (H, W, 2) it
    explains (:func:`_samples`), with a gain and an offset between them (an exposure change: ``b`` ≈ gain · ``a`` +
    offset), landing only where ``usable_b`` (bool): (matrix, gain, offset). None when too few samples remain,
    it does not converge or it moves a corner more than :data:`MAX_CORRECTION_PX`.
    """
    height, width = a.shape
    samples = _samples(matrix, flow, usable_a)
    if samples is None:
        return None
    xs, ys = samples
    # (``a`` is read at its samples' own pixels only: blurred there, not over the whole frame)
    smooth_b = cv2.GaussianBlur(b, (5, 5), 1.0)
    values_a = _blurred_at(a, xs.astype(np.intp), ys.astype(np.intp))
    # Normalised coordinates (centre 0, half-size 1) keep the eight parameters' scales alike.
    cx, cy, s = (width - 1) / 2.0, (height - 1) / 2.0, max(width, height) / 2.0
    norm = np.array([[1 / s, 0, -cx / s], [0, 1 / s, -cy / s], [0, 0, 1]])
    unnorm = np.array([[s, 0, cx], [0, s, cy], [0, 0, 1]])
    h = _product(_product(norm, np.asarray(matrix, np.float64) / matrix[2, 2]), unnorm)
    h /= h[2, 2]
    u, v = (xs - cx) / s, (ys - cy) / s
    gain, offset = 1.0, 0.0
    blocked = cv2.dilate((~usable_b).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    for _ in range(ITERATIONS):
        d = h[2, 0] * u + h[2, 1] * v + 1.0
        mx = (h[0, 0] * u + h[0, 1] * v + h[0, 2]) / d
        my = (h[1, 0] * u + h[1, 1] * v + h[1, 2]) / d
        px, py = mx * s + cx, my * s + cy
        inside = (px >= 1) & (px <= width - 2) & (py >= 1) & (py <= height - 2)
        inside[inside] = ~blocked[np.rint(py[inside]).astype(np.intp), np.rint(px[inside]).astype(np.intp)]
        if inside.sum() < MIN_SAMPLES:
            return None
        kept = np.flatnonzero(inside)
        px, py, uu, vv, dd, mxx, myy, values = (q.take(kept) for q in (px, py, u, v, d, mx, my, values_a))
        read, gx, gy = _with_gradient(smooth_b, px, py)
        gx *= s
        gy *= s
        residual = read - (gain * values + offset)
        # Huber weights: a pixel the layer does not explain after all (a mover's edge) counts less.
        scale = 1.4826 * float(np.median(np.abs(residual))) + 1e-6
        weight = np.minimum(1.0, 2.0 * scale / np.maximum(np.abs(residual), 1e-12))
        gu, gv = gx / dd, gy / dd
        # The Jacobian's ten columns (eight of the homography, the gain, the offset) and the residual, weighted.
        rows = np.empty((len(uu), 11))
        np.multiply(gu, uu, out=rows[:, 0])
        np.multiply(gu, vv, out=rows[:, 1])
        rows[:, 2] = gu
        np.multiply(gv, uu, out=rows[:, 3])
        np.multiply(gv, vv, out=rows[:, 4])
        rows[:, 5] = gv
        across = -(gu * mxx + gv * myy)
        np.multiply(across, uu, out=rows[:, 6])
        np.multiply(across, vv, out=rows[:, 7])
        np.negative(values, out=rows[:, 8])
        rows[:, 9] = -1.0
        rows[:, 10] = residual
        # (OpenCV's products and solver, not NumPy's: BLAS and LAPACK wake OpenBLAS's spinning worker threads)
        rows *= np.sqrt(weight)[:, None]
        both = cv2.mulTransposed(rows, True)
        solved, delta = cv2.solve(both[:10, :10], -both[:10, 10:], flags=cv2.DECOMP_CHOLESKY)
        if not solved:
            return None
        delta = delta.ravel()
        h[0, 0] += delta[0]
        h[0, 1] += delta[1]
        h[0, 2] += delta[2]
        h[1, 0] += delta[3]
        h[1, 1] += delta[4]
        h[1, 2] += delta[5]
        h[2, 0] += delta[6]
        h[2, 1] += delta[7]
        gain += delta[8]
        offset += delta[9]
        if np.abs(delta[:8]).max() * s < STOP_PX:
            break
    refined = _product(_product(unnorm, h), norm)
    refined /= refined[2, 2]
    if not np.isfinite(refined).all():
        return None
    # One motion for two (a homography bent between two layers, each explained within INLIER_PX) leaves more
    # between the images than the flow itself does, by more than WORSE_PX of misalignment on the samples'
    # texture: such a layer is no layer.
    flow_x = xs[inside] + flow[ys[inside].astype(np.intp), xs[inside].astype(np.intp), 0]
    flow_y = ys[inside] + flow[ys[inside].astype(np.intp), xs[inside].astype(np.intp), 1]
    landed = (flow_x >= 0) & (flow_x <= width - 1) & (flow_y >= 0) & (flow_y <= height - 1)
    measured = _bilinear(smooth_b, flow_x[landed], flow_y[landed]) - (
        gain * values_a[inside][landed] + offset
    )
    # (means, not medians: noise adds alike to both and cancels in the mean difference, which the texture turns
    # into a misalignment; a layer bent between two leaves most of its samples a little worse, which a median
    # of the difference, near 0 where noise leads, hides: the parallax clip's 0.26 px passed it)
    excess = float(np.mean(np.square(residual[landed])) - np.mean(np.square(measured)))
    texture = float(np.mean(np.square(gx[landed]) + np.square(gy[landed]))) / (s * s)
    if excess > texture * WORSE_PX**2:
        return None
    if _lit_apart(xs[inside], ys[inside], residual, (height, width)) > LIGHT_PX * np.sqrt(texture):
        return None
    corners_x = np.array([0.0, width - 1.0, 0.0, width - 1.0])
    corners_y = np.array([0.0, 0.0, height - 1.0, height - 1.0])
    moved = homography_flow(refined, corners_x, corners_y) - homography_flow(matrix, corners_x, corners_y)
    if not np.hypot(moved[:, 0], moved[:, 1]).max() <= MAX_CORRECTION_PX:
        return None
    return refined, gain, offset


def _lit_apart(xs: np.ndarray, ys: np.ndarray, residual: np.ndarray, shape: tuple[int, int]) -> float:
    """The largest mean of ``residual`` (at the samples ``xs``, ``ys`` of a ``shape`` frame) over any of
    :data:`LIGHT_BLOCKS` x :data:`LIGHT_BLOCKS` blocks of the frame holding :data:`LIGHT_MIN_SAMPLES` of them:
    how far one gain and offset leave a part of the frame, which grain and noise average out of and a light
    change over that part does not."""
    height, width = shape
    column = np.minimum((xs * (LIGHT_BLOCKS / width)).astype(np.intp), LIGHT_BLOCKS - 1)
    row = np.minimum((ys * (LIGHT_BLOCKS / height)).astype(np.intp), LIGHT_BLOCKS - 1)
    block = row * LIGHT_BLOCKS + column
    count = np.bincount(block, minlength=LIGHT_BLOCKS * LIGHT_BLOCKS)
    total = np.bincount(block, residual, minlength=LIGHT_BLOCKS * LIGHT_BLOCKS)
    held = count >= LIGHT_MIN_SAMPLES
    return float(np.abs(total[held] / count[held]).max()) if held.any() else 0.0


def layer_flow(matrix: np.ndarray, shape: tuple[int, int], grid: int = 1) -> np.ndarray:
    """The flow (h, w, 2) float32 homography ``matrix`` gives every ``grid``-th pixel each way of a ``shape``
    frame (every pixel by default).

    OpenCV's ``perspectiveTransform`` of the pixels' own float32 positions (:func:`_positions`), less them:
    the flow to ~2e-5 px at 432 px (the positions' float32 rounding), a third of the work of NumPy's broadcast
    rows and columns with a per-pixel division (~1 ms a 432x240 frame)."""
    positions = _positions(shape, grid)
    moved = cv2.perspectiveTransform(positions.reshape(-1, 1, 2), np.asarray(matrix, np.float64))
    return cv2.subtract(moved.reshape(positions.shape), positions)


@functools.lru_cache(maxsize=8)
def _positions(shape: tuple[int, int], grid: int = 1) -> np.ndarray:
    """The own positions (h, w, 2) float32 (x, y; frame px) of every ``grid``-th pixel each way of a ``shape``
    frame, read-only: a flow there plus this is OpenCV's remap map into the frame."""
    ys, xs = float_grid(0, shape[0], 0, shape[1], grid)
    positions = np.ascontiguousarray(np.stack([xs, ys], -1), dtype=np.float32)
    positions.flags.writeable = False
    return positions


def on_grid(image: np.ndarray) -> np.ndarray:
    """``image`` (H, W, ...) at every :data:`GRID`-th pixel each way, from the first: ``image[::GRID, ::GRID]``,
    contiguous (by OpenCV's nearest resize where the frame's sides are multiples of the grid, the same pixels:
    NumPy's copy of a strided two-channel view costs several times more)."""
    height, width = image.shape[:2]
    if height % GRID == 0 and width % GRID == 0:
        return cv2.resize(image, (width // GRID, height // GRID), interpolation=cv2.INTER_NEAREST)
    return np.ascontiguousarray(image[::GRID, ::GRID])


def _grid_gradient(image: np.ndarray, gain: float) -> tuple[np.ndarray, np.ndarray]:
    """``gain`` times the central differences of ``image`` (H, W) float32, ``(I[x+1] - I[x-1]) / 2`` each way, at
    every :data:`GRID`-th pixel each way (float32, the frame's border reflected as OpenCV's Sobel reflects it):
    read from the grid pixels' four neighbours (:func:`_grid_neighbours`, one gather), not made over the whole
    frame and then thinned (four Sobels of the frame a layer)."""
    right, left, below, above = image.reshape(-1).take(_grid_neighbours((image.shape[0], image.shape[1])))
    scale = np.float32(0.5 * gain)
    return (right - left) * scale, (below - above) * scale


@functools.lru_cache(maxsize=8)
def _grid_neighbours(shape: tuple[int, int]) -> np.ndarray:
    """Where in a ``shape`` frame, flattened, the right, left, lower and upper neighbours of its :data:`GRID`
    pixels lie ((4, h, w): reflected at the border without repeating it, as OpenCV's default border does)."""
    height, width = shape
    rows, columns = np.arange(0, height, GRID)[:, None], np.arange(0, width, GRID)[None, :]
    return np.stack(
        [
            rows * width + _reflect(columns + 1, width),
            rows * width + _reflect(columns - 1, width),
            _reflect(rows + 1, height) * width + columns,
            _reflect(rows - 1, height) * width + columns,
        ]
    ).astype(np.intp)


def _box(grid: int) -> tuple[int, int]:
    """The :data:`LOCAL` px square as a box of samples on a ``grid`` (every ``grid``-th pixel): 9 at 1, 3 at 4."""
    side = (LOCAL - 1) // grid + 1
    return side, side


@dataclass(frozen=True)
class Evidence:
    """What the pair's images say of one layer (:func:`agreement`), judged on every :data:`GRID`-th pixel each
    way of ``a``: the grey images (float32 0..1) of the flow's frame (``a``, on the grid: ``a`` at ``b``'s
    exposure, ``expected`` = gain · a + offset) and of the frame it points to (``b``, whole), the grid's own
    positions in the frame, the grid pixels both show under the layer's motion (``seen``, float32 1 or 0:
    :func:`shown`) and their share of the :data:`LOCAL` px square around each (``coverage``)."""

    b: np.ndarray
    positions: np.ndarray
    #: ``a`` at ``b``'s exposure (gain · a + offset) on the grid, made once: each :meth:`unexplained` compares it.
    expected: np.ndarray
    seen: np.ndarray
    coverage: np.ndarray
    #: Per grid pixel, the mean over the seen grid pixels of the square around it of ``a``'s squared gradient at
    #: ``b``'s exposure (per working px): what a misalignment of 1 px leaves between the images there.
    texture: np.ndarray

    @classmethod
    def of(
        cls,
        a: np.ndarray,
        b: np.ndarray,
        gain: float,
        offset: float,
        usable_a: np.ndarray,
        usable_b: np.ndarray,
        motion: np.ndarray,
    ) -> Evidence:
        """The evidence on the layer ``motion`` (on the grid: :func:`layer_flow` with ``grid`` :data:`GRID`) of
        the images ``a``, ``b`` (whole frames), where each is ``usable``."""
        positions = _positions(a.shape, GRID)
        seen = shown(on_grid(usable_a.view(np.uint8)) > 0, usable_b, positions + motion)
        box = _box(GRID)
        grad_x, grad_y = _grid_gradient(a, gain)
        texture = cv2.blur((grad_x * grad_x + grad_y * grad_y) * seen, box, borderType=cv2.BORDER_REFLECT)
        coverage = cv2.blur(seen, box, borderType=cv2.BORDER_REFLECT)
        grid_a = on_grid(a)
        expected = cv2.addWeighted(grid_a, gain, grid_a, 0.0, offset)
        return cls(b, positions, expected, seen, coverage, texture)

    def unexplained(self, flow: np.ndarray) -> np.ndarray:
        """Per grid pixel of ``a``, the mean over the ``seen`` grid pixels of the :data:`LOCAL` px around it of
        the squared difference between ``a`` (at ``b``'s exposure) and ``b`` read where ``flow`` (on the grid)
        takes it (over the square's area: two flows' are compared over the same pixels)."""
        read = cv2.remap(  # type: ignore[call-overload]  # (a two-channel map and no second: the stubs want one)
            self.b, self.positions + flow, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        difference = cv2.subtract(read, self.expected)
        squared = cv2.multiply(cv2.multiply(difference, difference), self.seen)
        return cv2.blur(squared, _box(GRID), borderType=cv2.BORDER_REFLECT)


def shown(usable_a: np.ndarray, usable_b: np.ndarray, landing: np.ndarray) -> np.ndarray:
    """The pixels of ``a`` (float32, ``usable_a``'s shape: 1 or 0) that are ``usable_a`` and whose ``landing``
    (their positions in ``b`` under a motion, (h, w, 2) float32) lies inside ``b`` on its ``usable_b`` pixels:
    where the two images can judge a motion."""
    landed = cv2.remap(  # type: ignore[call-overload]  # (a two-channel map and no second: the stubs want one)
        usable_b.astype(np.uint8),
        landing,
        None,
        cv2.INTER_NEAREST,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    return ((landed > 0) & usable_a).astype(np.float32)


def _ramp(value: np.ndarray, full: float) -> np.ndarray:
    """1 where ``value`` (float32) is within ``full``, falling linearly to 0 at twice that (float32; by OpenCV's
    element-wise ops: 2 - value / full, then cut at 1 and at 0 by thresholds, a fraction of NumPy's in-place
    multiply, add, minimum and maximum on a frame)."""
    out = cv2.addWeighted(value, -1.0 / full, value, 0.0, 2.0)
    cv2.threshold(out, 1.0, 0.0, cv2.THRESH_TRUNC, dst=out)
    cv2.threshold(out, 0.0, 0.0, cv2.THRESH_TOZERO, dst=out)
    return out


def _length(vectors: np.ndarray) -> np.ndarray:
    """The length of each of ``vectors`` ((h, w, 2) float32), (h, w) float32: OpenCV's magnitude of the two
    channels taken out one by one (``cv2.split`` of a two-channel frame costs twice as much as both)."""
    return cv2.magnitude(cv2.extractChannel(vectors, 0), cv2.extractChannel(vectors, 1))


def agreement(flow: np.ndarray, motion: np.ndarray, evidence: Evidence | None = None) -> np.ndarray:
    """Per pixel, how much ``flow`` is the layer's ``motion`` (both (h, w, 2)), float32 (h, w) in [0, 1].

    Where ``evidence`` says (``flow`` and ``motion`` then on its grid, :data:`GRID`), by the images: 1 where the
    layer's motion brings ``b`` onto ``a`` over the :data:`LOCAL` px around the pixel about as well as the flow
    does (the squared difference it leaves exceeds the flow's by at most what :data:`WORSE_PX` of misalignment
    leaves on the texture there, plus the grey's rounding), falling to 0 at twice that, and its flow within
    :data:`OWN_MAX_PX` of the layer's (fully within half); judged where the pixel and :data:`MIN_COVERAGE` of
    the square around it are :attr:`Evidence.seen`. Elsewhere (in a hole, where the images cannot tell; every
    pixel without ``evidence``), by the flow alone: 1 where it is within half of :data:`OWN_PX` and its mean
    difference over :data:`LOCAL` px within half of :data:`LOCAL_PX`, falling to 0 at the whole of either."""
    difference = cv2.subtract(flow, motion)
    own = _length(difference)
    local = cv2.blur(difference, _box(1 if evidence is None else GRID), borderType=cv2.BORDER_REFLECT)
    share = cv2.multiply(_ramp(own, 0.5 * OWN_PX), _ramp(_length(local), 0.5 * LOCAL_PX))
    if evidence is not None:
        allowed = evidence.texture * np.float32(WORSE_PX**2) + np.float32(ROUNDING**2) * evidence.coverage
        excess = evidence.unexplained(motion) - evidence.unexplained(flow)
        judged = _ramp(excess / (allowed + np.float32(1e-20)), 1.0) * _ramp(own, 0.5 * OWN_MAX_PX)
        judges = ((evidence.seen > 0) & (evidence.coverage >= MIN_COVERAGE)).view(np.uint8)
        cv2.copyTo(judged, judges, share)
    return share


#: :func:`snap` blends with weights ``share`` and ``1 - share`` times this: a power of two, so that scaling by it
#: is exact and OpenCV's ``blendLinear`` (which divides by the weights' sum plus 1e-5) divides by it exactly.
_BLEND_SCALE = float(2**17)


def _upsampled(share: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A share judged on the grid (:data:`GRID`, a power of 2) brought to every pixel of a ``shape`` frame: each
    grid pixel keeps its share, the pixels between take their neighbours' (``cv2.pyrUp`` per halving: the same
    grid, [1 6 1]/8 weights, so a run of ones stays exactly 1)."""
    height, width = shape
    step = GRID
    while step > 1:
        step //= 2
        share = cv2.pyrUp(share, dstsize=(-(-width // step), -(-height // step)))
    return share


def snap(
    flow: np.ndarray,
    motions: list[np.ndarray],
    evidence: list[Evidence] | None = None,
    within: np.ndarray | None = None,
    in_place: bool = False,
) -> np.ndarray:
    """``flow`` (H, W, 2) moved onto the layer motions (each (H, W, 2)) it agrees with (:func:`agreement`, with
    each layer's ``evidence`` where given: judged on its grid, brought to every pixel by :func:`_upsampled` and
    held there to the pixel's own flow within :data:`OWN_MAX_PX`; the most agreeing where several do): fully
    where it agrees fully, not at all where it does not. ``within`` (bool (H, W), judged by the flow alone):
    only there, and with ``in_place`` into ``flow`` itself (a copy of the frame saved where the caller owns it)."""
    if not motions:
        return flow
    if within is not None:
        if not within.any():
            return flow
        rows, cols = np.flatnonzero(within.any(axis=1)), np.flatnonzero(within.any(axis=0))
        box = (
            slice(max(int(rows[0]) - LOCAL, 0), int(rows[-1]) + LOCAL + 1),
            slice(max(int(cols[0]) - LOCAL, 0), int(cols[-1]) + LOCAL + 1),
        )
        out = flow if in_place else flow.copy()
        snapped = snap(np.ascontiguousarray(flow[box]), [np.ascontiguousarray(m[box]) for m in motions])
        np.copyto(out[box], snapped, where=within[box][..., None])
        return out
    judged = [
        _share(flow, motion, None if evidence is None else evidence[k]) for k, motion in enumerate(motions)
    ]
    share = judged[0]
    best = motions[0]
    if len(motions) > 1:
        best = best.copy()
        for k in range(1, len(motions)):
            cv2.copyTo(motions[k], (judged[k] > share).view(np.uint8), best)
            share = np.maximum(share, judged[k])
    # best · share + flow · (1 - share), by OpenCV's blend of the two-channel frames with one-channel weights
    # (NumPy's broadcasts of a (H, W, 1) share, or OpenCV's ops on it doubled, cost a frame several times more),
    # its weights scaled by a power of two that its own 1e-5 in their sum does not move: exactly the layer's where
    # it agrees fully, exactly the flow where not at all.
    weight = np.multiply(share, np.float32(_BLEND_SCALE))
    moved: np.ndarray = cv2.blendLinear(
        best, flow, weight, cv2.addWeighted(weight, -1.0, weight, 0.0, _BLEND_SCALE)
    )
    return moved


def _share(flow: np.ndarray, motion: np.ndarray, evidence: Evidence | None) -> np.ndarray:
    """:func:`agreement` of ``flow`` with the layer ``motion`` at every pixel (both (H, W, 2)): by the flow alone
    without ``evidence``; with it judged on the evidence's grid, :func:`_upsampled`, and held to the pixel's own
    flow (a mover's pixel between two grid pixels of background is not moved)."""
    if evidence is None:
        return agreement(flow, motion)
    judged = _upsampled(agreement(on_grid(flow), on_grid(motion), evidence), (flow.shape[0], flow.shape[1]))
    return cv2.multiply(judged, _ramp(_length(cv2.subtract(flow, motion)), 0.5 * OWN_MAX_PX))
