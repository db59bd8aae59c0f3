"""What a frame pair's flow completion knows from its hole alone, kept while the next pairs have the same hole.

A static hole (a logo, a rig, nine squares) is the same in every pair of a shot, and a moving hole's frame is
B of one pair and A of the next: the distance to it, the crop around the holes, which holes' rings touch
(the groups), each group's ring and the depth inside were made again for every pair (~2-3 CPU ms a pair at
432x240 with nine holes). :func:`shared_distance` and :func:`geometry` keep the last few, found again by
comparing the hole itself (never a hash alone), and hand out read-only arrays: the same values as made anew.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np

from .motion import hole_distance
from .ops import float_grid


class _Recent:
    """The last ``size`` results of a function of a boolean hole and hashable settings (thread-safe)."""

    def __init__(self, size: int) -> None:
        self._items: deque[tuple[np.ndarray, Any, Any]] = deque(maxlen=size)
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def get(self, hole: np.ndarray, key: Any, make: Callable[[], Any]) -> Any:
        with self._lock:
            for held, held_key, value in self._items:
                if held_key == key and held.shape == hole.shape and np.array_equal(held, hole):
                    return value
        value = make()
        with self._lock:
            self._items.append((hole.copy(), key, value))
        return value


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


_DISTANCES = _Recent(3)  # (a moving hole: the union, and each frame's own for two pairs)
_GEOMETRIES = _Recent(2)
_DEPTHS = _Recent(2)


def forget() -> None:
    """Drop every hole kept (tests; a process that is done with a shot may free the few MB)."""
    _DISTANCES.clear()
    _GEOMETRIES.clear()
    _DEPTHS.clear()


def hole_depth(hole: np.ndarray) -> float:
    """How far (px) the hole's deepest pixel lies from its edge (half the thickness of its thickest part),
    kept for the next pairs with the same hole. The 5x5 mask, as :func:`.motion.hole_distance` (bit-exact)."""

    def depth() -> float:
        if not hole.any():
            return 0.0
        return float(cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 5).max())

    return float(_DEPTHS.get(hole, None, depth))


def shared_distance(hole: np.ndarray) -> np.ndarray:
    """:func:`.motion.hole_distance` of ``hole``, read-only, kept for the next pairs with the same hole."""
    return _DISTANCES.get(hole, None, lambda: _read_only(hole_distance(hole)))


@dataclass(frozen=True)
class Group:
    """Holes whose rings touch, in the crop: its box, its pixels (``own``), its ring (None: nothing around it
    to learn from), its hole pixels (``inner``), the fringe pixels that may vote for its labels on a fast pair
    (beyond ``vote_from`` of :func:`geometry`) and its hole proper (``core``), and the box's frame coordinates."""

    box: tuple[slice, slice]
    origin: tuple[int, int]
    own: np.ndarray
    ring: np.ndarray | None
    inner: np.ndarray
    voters: np.ndarray
    core: np.ndarray
    gy: np.ndarray
    gx: np.ndarray


@dataclass(frozen=True)
class Geometry:
    """The crop around every hole and its ring (``crop``, top-left ``origin``) and, over it: the distance to the
    holes (``near``), the completed region (``inside``: within ``gap``), what the rings reach, the groups, the
    rings together, the groups with nothing to learn from (``unknown``) and the depth inside the region."""

    origin: tuple[int, int]
    crop: tuple[slice, slice]
    near: np.ndarray
    inside: np.ndarray
    known: np.ndarray
    reach: np.ndarray
    groups: tuple[Group, ...]
    rings: np.ndarray
    unknown: np.ndarray
    depth: np.ndarray
    #: With ``step`` > 1 (the grid is every ``step``-th pixel of the frame): how its values come back to the
    #: frame's own grid (:class:`Upsampling`); None at step 1.
    full: Upsampling | None = None


@dataclass(frozen=True)
class Upsampling:
    """The frame's own pixels a coarse :class:`Geometry` completes, and where each lies on the coarse crop.

    ``index``: the flat frame indices (raster order) of the pixels within ``gap`` of the hole (at the frame's
    resolution: the region completed is the same as at step 1); ``near``: their distance to the hole;
    ``unknown``: the coarse ``unknown`` at each of them; ``xs``, ``ys``: each one's position on the coarse crop
    (for a bilinear read, :func:`.ops.sample_points`: coarse pixel (i, j) is the frame's pixel (step·i,
    step·j)). Only these pixels are read and written: a remap of the whole crop and masked copies into it cost
    about twice as much on nine squares."""

    index: np.ndarray
    near: np.ndarray
    unknown: np.ndarray
    xs: np.ndarray
    ys: np.ndarray


def geometry(
    hole: np.ndarray, distance: np.ndarray, gap: int, ring: int, vote_from: float, step: int = 1
) -> Geometry:
    """The completion's :class:`Geometry` of ``hole`` (``distance``: its :func:`.motion.hole_distance`),
    read-only, kept for the next pairs with the same hole and settings.

    ``step`` > 1: on every ``step``-th pixel of the frame (a pixel is in the coarse hole when any frame pixel
    of its ``step`` x ``step`` cell is), distances, depth and the grids (``gy``, ``gx``) still in the frame's
    pixels, so ``gap``, ``ring``, ``vote_from`` and every motion mean the same as at step 1; ``full`` says
    where the completed values go back on the frame's grid."""
    if step <= 1:
        return _GEOMETRIES.get(
            hole, (gap, ring, vote_from), lambda: _geometry(hole, distance, gap, ring, vote_from)
        )
    return _GEOMETRIES.get(
        hole,
        (gap, ring, vote_from, step),
        lambda: _coarse_geometry(hole, distance, gap, ring, vote_from, step),
    )


def coarse_hole(hole: np.ndarray, step: int) -> np.ndarray:
    """``hole`` on every ``step``-th pixel: a coarse pixel (i, j) is in it when any frame pixel of the cell
    starting at (step·i, step·j) is (so no hole pixel is between coarse known pixels)."""
    height, width = hole.shape
    rows, cols = -(-height // step), -(-width // step)
    padded = np.zeros((rows * step, cols * step), bool)
    padded[:height, :width] = hole
    return padded.reshape(rows, step, cols, step).any(axis=(1, 3))


def _coarse_geometry(
    hole: np.ndarray, distance: np.ndarray, gap: int, ring: int, vote_from: float, step: int
) -> Geometry:
    # The frame's own distances at the coarse pixels: the ring, the fringe and the depth's edge are the frame's,
    # sampled (a distance transform of the coarse hole moved the ring by up to a pixel on two sides: measured,
    # dollyball static square 33.92 against 34.01 dB). The coarse hole only bounds the crop.
    sampled = np.ascontiguousarray(distance[::step, ::step])
    coarse = _geometry(coarse_hole(hole, step), sampled, gap, ring, vote_from, step)
    (y0, x0), near = coarse.origin, coarse.near
    height, width = hole.shape
    rows, cols = near.shape
    crop = (
        slice(step * y0, min(height, step * (y0 + rows))),
        slice(step * x0, min(width, step * (x0 + cols))),
    )
    near_crop = distance[crop]
    ry, rx = np.nonzero(near_crop <= gap)
    fy, fx = ry + crop[0].start, rx + crop[1].start
    map_y = fy.astype(np.float32) / np.float32(step) - np.float32(y0)
    map_x = fx.astype(np.float32) / np.float32(step) - np.float32(x0)
    nearest = (
        np.minimum(np.rint(map_y), rows - 1).astype(np.intp),
        np.minimum(np.rint(map_x), cols - 1).astype(np.intp),
    )
    up = Upsampling(
        _read_only(fy * width + fx),
        _read_only(near_crop[ry, rx]),
        _read_only(coarse.unknown[nearest]),
        _read_only(map_x),
        _read_only(map_y),
    )
    return replace(coarse, full=up)


def _geometry(
    hole: np.ndarray, distance: np.ndarray, gap: int, ring: int, vote_from: float, step: int = 1
) -> Geometry:
    height, width = hole.shape
    ys, xs = np.nonzero(hole)
    margin = gap + ring + 1 if step == 1 else -(-(gap + ring) // step) + 1
    y0, y1 = max(0, int(ys.min()) - margin), min(height, int(ys.max()) + margin + 1)
    x0, x1 = max(0, int(xs.min()) - margin), min(width, int(xs.max()) + margin + 1)
    crop = (slice(y0, y1), slice(x0, x1))
    near = distance[crop].copy()
    inside = near <= gap
    known = ~inside
    reach = (near <= gap + ring).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(reach, connectivity=8)
    rings = np.zeros(near.shape, bool)
    unknown = np.zeros(near.shape, bool)
    groups = []
    for k in range(1, count):
        x, y, w, h = (int(v) for v in stats[k, :4])
        box = (slice(y, y + h), slice(x, x + w))
        own = labels[box] == k
        ring_mask = known[box] & own
        has_ring = bool(ring_mask.any())
        if has_ring:
            rings[box] |= ring_mask
        else:
            unknown[box] |= own
        inner = own & inside[box]
        gy, gx = float_grid(y0 + y, y0 + y + h, x0 + x, x0 + x + w)
        if step > 1:  # (the frame's own coordinates of the coarse pixels)
            gy, gx = gy * np.float32(step), gx * np.float32(step)
        groups.append(
            Group(
                box,
                (y0 + y, x0 + x),
                _read_only(own),
                _read_only(ring_mask) if has_ring else None,
                _read_only(inner),
                _read_only(inner & (near[box] > vote_from)),
                _read_only(own & (near[box] <= 0)),
                _read_only(gy),
                _read_only(gx),
            )
        )
    depth = cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_L2, 5)
    # A crop that is all hole (a hole over nearly the whole frame) has no pixel to measure from: OpenCV gives
    # float32's largest value, which the step and the fit scores overflowed into inf and NaN. No depth within
    # the crop exceeds its diagonal, so this bound changes no other depth.
    depth = np.minimum(depth, np.float32(math.hypot(*depth.shape)))
    if step > 1:  # (in the frame's pixels)
        depth = depth * np.float32(step)
    return Geometry(
        (y0, x0),
        crop,
        _read_only(near),
        _read_only(inside),
        _read_only(known),
        _read_only(reach),
        tuple(groups),
        _read_only(rings),
        _read_only(unknown),
        _read_only(depth),
    )
