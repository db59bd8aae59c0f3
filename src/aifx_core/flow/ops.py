"""Warping, sampling and the forward-backward consistency check, shared by the flow and propagate code.

Flows are (H, W, 2) float32 in pixels, ``flow[y, x] = (dx, dy)``: pixel (x, y) of image A is seen at
(x + dx, y + dy) in image B. Backward warping B with the A→B flow therefore gives A's view of B.
"""

from __future__ import annotations

import cv2
import numpy as np

#: cv2.remap refuses maps with a side of SHRT_MAX or more: long point lists are sampled in rows this long.
_ROW = 16384


def float_grid(y0: int, y1: int, x0: int, x1: int, step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(ys, xs): float32 pixel coordinates of rows ``y0:y1`` and columns ``x0:x1`` (every ``step``-th), as
    ``np.mgrid[y0:y1, x0:x1].astype(np.float32)`` (the same values: whole numbers, exact in float32) without
    the float64 grids and their cast (fresh pages on every call: ~2 ms a frame in the flow completion)."""
    ys = np.arange(y0, y1, step, dtype=np.float32)
    xs = np.arange(x0, x1, step, dtype=np.float32)
    grid_y, grid_x = np.meshgrid(ys, xs, indexing="ij")
    return grid_y, grid_x


#: Rec.709 luma weights (R, G, B).
LUMA = (0.2126, 0.7152, 0.0722)


def luma(rgb: np.ndarray) -> np.ndarray:
    """Rec.709 luma of float32 RGB (..., 3) → (...) float32, as ``(r·wr + g·wg) + b·wb`` element by element.

    Not ``rgb @ weights``: a matrix product goes to BLAS, and OpenBLAS splits one over a frame between its
    threads, whose worker then spins for a while after every call. On an idle 2-core machine that spinning
    took 38-63 CPU ms a 432x240 frame beside the fill's own threads (the flow grey once a frame, fusion's
    reference luma once a frame): with it gone the tennis moving blob went from 83-101 to 68-83 ms a frame
    end to end (docs/method.md, speed sixth pass). The plain arithmetic also gives the same bits on every
    machine, where a BLAS kernel's rounding depends on the CPU it picks.
    """
    r, g, b = (np.float32(w) for w in LUMA)
    out = rgb[..., 0] * r
    out += rgb[..., 1] * g
    out += rgb[..., 2] * b
    return out


def nearest_along_rows(known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel of ``known`` (H, W bool), the column of the nearest known pixel at or before it in its row
    (-1 where none) and at or after it (W where none): one running maximum and one running minimum a row.
    (Columns: pass ``known.T`` and transpose the answers.)"""
    width = known.shape[1]
    columns = np.arange(width)[None, :]
    before = np.maximum.accumulate(np.where(known, columns, -1), axis=1)
    after = np.minimum.accumulate(np.where(known, columns, width)[:, ::-1], axis=1)[:, ::-1]
    return before, after


def largest_channel(values: np.ndarray) -> np.ndarray:
    """The largest of the last axis's three channels (..., 3) → (...): as ``values.max(axis=-1)``, NaN
    included, without NumPy's slow strided reduction over a length-3 axis (~1.5 % of a 432x240 nine-squares
    fill went there). Fusion, the seam, the steadying and the motion hypotheses compare colours by it."""
    return np.maximum(np.maximum(values[..., 0], values[..., 1]), values[..., 2])


def channel_mask(mask: np.ndarray, channels: int) -> np.ndarray:
    """``mask`` (H, W) repeated over ``channels`` into a contiguous (H, W, channels) bool array, for a masked
    ``np.copyto`` into a multi-channel image: with ``mask[..., None]`` (a broadcast, stride-0 mask) NumPy takes
    a slow path, ~4-8x the time of the copy itself (a 171x310 flow crop: 0.9 → 0.27 ms). Same values (made by
    :func:`interleave`)."""
    if channels == 1:
        return mask[..., None]  # (a length-1 axis: no broadcast, nothing to gain)
    return interleave([mask] * channels)


#: dtypes OpenCV's ``merge`` takes (bool travels as uint8: the same bytes).
_MERGE_DTYPES = frozenset(
    np.dtype(t) for t in (np.uint8, np.int8, np.uint16, np.int16, np.int32, np.float32, np.float64)
)


def squared_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b|² per pixel of two (H, W, 2) flows (two planes, no reduction over the short last axis)."""
    dx = a[..., 0] - b[..., 0]
    dy = a[..., 1] - b[..., 1]
    return dx * dx + dy * dy


def interleave(planes: list[np.ndarray]) -> np.ndarray:
    """``np.stack(planes, axis=-1)`` (planes of one shape and dtype): the same array, made by OpenCV's
    ``merge`` where it can. NumPy interleaves channels one element at a time (a 225x364 crop's two 2-channel
    flows into four channels: 0.83 ms, ``np.repeat`` of a mask into four: 0.20 ms), ``merge`` in vector
    code (0.08 and 0.007 ms)."""
    first = planes[0]
    dtype = first.dtype
    merged = np.dtype(np.uint8) if dtype == np.bool_ else dtype
    if (
        len(planes) < 2
        or first.size == 0
        or merged not in _MERGE_DTYPES
        or any(plane.shape != first.shape or plane.dtype != dtype for plane in planes)
    ):
        return np.stack(planes, axis=-1)
    # (OpenCV takes 2-D planes: any other shape travels as one column)
    flat = [
        np.ascontiguousarray(plane).view(merged).reshape(first.shape if first.ndim == 2 else (-1, 1))
        for plane in planes
    ]
    out = cv2.merge(flat)
    return out.reshape(*first.shape, len(planes)).view(dtype)


def join_channels(fields: list[np.ndarray]) -> np.ndarray:
    """``np.concatenate(fields, axis=-1)`` of (H, W, C) fields of one dtype (the same array), by OpenCV's
    ``merge`` where it can (see :func:`interleave`)."""
    first = fields[0]
    if (
        len(fields) < 2
        or first.ndim != 3
        or first.size == 0
        or first.dtype not in _MERGE_DTYPES
        or any(f.ndim != 3 or f.shape[:2] != first.shape[:2] or f.dtype != first.dtype for f in fields)
        or sum(f.shape[2] for f in fields) > 512  # (OpenCV's most channels)
    ):
        return np.concatenate(fields, axis=-1)
    out = cv2.merge([np.ascontiguousarray(f) for f in fields])
    return out.reshape(*first.shape[:2], -1)


def warp(
    image: np.ndarray,
    flow: np.ndarray,
    *,
    interpolation: int = cv2.INTER_LINEAR,
    border: int = cv2.BORDER_REPLICATE,
) -> np.ndarray:
    """Backward warp: ``out[y, x] = image[y + dy, x + dx]`` with the flow ``(dx, dy)`` of the output grid."""
    height, width = flow.shape[:2]
    ys, xs = float_grid(0, height, 0, width)
    return cv2.remap(image, xs + flow[..., 0], ys + flow[..., 1], interpolation, borderMode=border)


def consistency_mask(
    fwd: np.ndarray, bwd: np.ndarray, tol: float = 1.0, *, relative: float = 0.05
) -> np.ndarray:
    """True where the A→B flow ``fwd`` and the B→A flow ``bwd`` agree (the pixel is not occluded in B).

    A pixel passes when ``|fwd + bwd(p + fwd)| <= tol + relative * (|fwd| + |bwd(p + fwd)|)``: a round trip
    must come back within ``tol`` pixels, loosened a little for fast motion where flow is less precise.
    Pixels whose target lies outside B fail.
    """
    back = warp(bwd, fwd, border=cv2.BORDER_CONSTANT)
    error = np.linalg.norm(fwd + back, axis=-1)
    limit = tol + relative * (np.linalg.norm(fwd, axis=-1) + np.linalg.norm(back, axis=-1))
    height, width = fwd.shape[:2]
    ys, xs = float_grid(0, height, 0, width)
    tx, ty = xs + fwd[..., 0], ys + fwd[..., 1]
    inside = (tx >= 0) & (tx <= width - 1) & (ty >= 0) & (ty <= height - 1)
    return (error <= limit) & inside


def sample_points(
    image: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
    *,
    interpolation: int = cv2.INTER_LINEAR,
    border: int = cv2.BORDER_REPLICATE,
) -> np.ndarray:
    """Sample ``image`` (H, W[, C]) at N float positions → (N[, C]); bilinear by default.

    Costs O(N), not O(H·W): the propagation engine only ever looks at hole pixels.
    """
    n = len(xs)
    channels = image.shape[2:] if image.ndim == 3 else ()
    if n == 0:
        return np.zeros((0, *channels), dtype=image.dtype)
    if n < _ROW:
        mx = np.asarray(xs, dtype=np.float32).reshape(1, n)
        my = np.asarray(ys, dtype=np.float32).reshape(1, n)
        return cv2.remap(image, mx, my, interpolation, borderMode=border).reshape(n, *channels)
    # Rows as even as they can be (each output depends on its own position only, so the layout changes
    # nothing): the padding is under a row's count, not up to a whole row of _ROW samples.
    rows = -(-n // _ROW)
    row = -(-n // rows)
    mx = np.zeros(rows * row, np.float32)
    my = np.zeros(rows * row, np.float32)
    mx[:n], my[:n] = xs, ys
    out = cv2.remap(image, mx.reshape(rows, row), my.reshape(rows, row), interpolation, borderMode=border)
    return out.reshape(rows * row, *channels)[:n]


def sample_points_sharp(image: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Bicubic samples of ``image`` (H, W, C) at N float positions → (N, C), each held within the range of the four
    pixels a bilinear read there would mix (no overshoot past what is there: a dark line next to a bright one
    does not ring). A bilinear read is a local average that softens fine texture at half-pixel positions and
    not at whole ones, so a fill fetched from sub-pixel positions blurs by a different amount from frame to
    frame; this one keeps what the source frame shows. It reads the 4x4 pixels around the position's floor
    (replicated past the frame's edge), where :func:`sample_points` reads 2x2."""
    height, width = image.shape[:2]
    cubic = sample_points(image, xs, ys, interpolation=cv2.INTER_CUBIC)
    x0 = np.minimum(xs.astype(np.intp), width - 1)
    y0 = np.minimum(ys.astype(np.intp), height - 1)
    right = np.where(x0 < width - 1, 1, 0)
    below = np.where(y0 < height - 1, width, 0)
    flat = image.reshape(height * width, -1)
    at = y0 * width + x0
    # (``take`` of flat rows: ~4x faster than fancy indexing, the same pixels)
    corners = [flat.take(at + step, axis=0) for step in (0, right, below, below + right)]
    low = np.minimum(np.minimum(corners[0], corners[1]), np.minimum(corners[2], corners[3]))
    high = np.maximum(np.maximum(corners[0], corners[1]), np.maximum(corners[2], corners[3]))
    return np.minimum(np.maximum(cubic.reshape(len(xs), -1), low), high).reshape(cubic.shape)


def median_side(values: np.ndarray, threshold: float) -> int:
    """Where the median of ``values`` lies against ``threshold``: 1 at or above, -1 below, 0 when there is
    none (empty, or NaN among the values): the same answer as comparing ``float(np.median(values))``.

    Decided by counting, O(n) with no partition: the per-step and per-piece checks of the chains and the
    completion only ask on which side of a threshold a median lies, and ``np.median`` cost ~5 ms a frame
    there (432x240, nine squares). Where the two middle values straddle the threshold they are found and
    averaged as ``np.median`` does (in the values' dtype), so the answer is exact, not approximate.
    """
    flat = np.asarray(values).ravel()
    n = flat.size
    if n == 0:
        return 0
    below = flat < threshold
    count = int(np.count_nonzero(below))
    if count + int(np.count_nonzero(flat >= threshold)) != n:  # a NaN is neither: np.median gives NaN
        return 0
    half = n // 2
    if n % 2:
        return 1 if count <= half else -1
    # Even: the median is the mean of the sorted values at half - 1 and half. Both on one side (rounding is
    # monotone, and twice a float is exact, so their mean stays on that side) or one each (computed).
    if count <= half - 1:
        return 1
    if count >= half + 1:
        return -1
    low, high = flat[below].max(), flat[~below].min()
    middle = np.mean(np.array([low, high], dtype=flat.dtype))
    return 1 if float(middle) >= threshold else -1


def median_within(values: np.ndarray, limit: float) -> bool:
    """Whether ``abs(float(np.median(values))) <= limit`` for float32 ``values``, decided by counting
    (:func:`median_side`) where it can; ``np.median`` itself where it cannot (empty, NaN)."""
    flat = np.asarray(values)
    if flat.dtype != np.float32:
        return bool(abs(float(np.median(flat))) <= limit)
    # A float32 median m has m > limit exactly when m >= up (the least float32 above limit), and m < -limit
    # exactly when m <= -up, that is m < the float32 just above -up.
    up = np.float32(limit)
    if float(up) <= limit:
        up = np.nextafter(up, np.float32(np.inf))
    low = np.nextafter(-up, np.float32(np.inf))
    above, below = median_side(flat, float(up)), median_side(flat, float(low))
    if above == 0 or below == 0:
        return bool(abs(float(np.median(flat))) <= limit)
    return above < 0 and below > 0


def median_at_least(values: np.ndarray, floor: float) -> float:
    """``float(np.median(values))`` where that is at or above ``floor``, else ``floor`` itself (``np.median``'s
    answer where :func:`median_side` cannot tell: empty, or NaN among the values).

    For a median that is only used beyond a floor (``max(0, median - floor)``, ``max(floor, median)``): below
    it, counting (:func:`median_side`) says so without the partition a median costs (~0.7 ms on the ~25 000
    samples of a 432x240 frame's coarse grid); the answer is the same either way."""
    side = median_side(values, floor)
    if side < 0:
        return floor
    return float(np.median(values))
