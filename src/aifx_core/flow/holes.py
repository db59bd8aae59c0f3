"""What a frame pair's flow completion knows from its hole alone, kept while the next pairs have the same hole.

A static hole (a logo, a rig, nine squares) is the same in every pair of a shot, and a moving hole's frame is
B of one pair and A of the next: the distance to it, the crop around the holes, which holes' rings touch
(the groups), each group's ring and the depth inside were made again for every pair (~2-3 CPU ms a pair at
432x240 with nine holes). :func:`shared_distance` and :func:`geometry` keep the last few, found again by
comparing the hole itself (never a hash alone), and hand out read-only arrays: the same values as made anew.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
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


def forget() -> None:
    """Drop every hole kept (tests; a process that is done with a shot may free the few MB)."""
    _DISTANCES.clear()
    _GEOMETRIES.clear()


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


def geometry(hole: np.ndarray, distance: np.ndarray, gap: int, ring: int, vote_from: float) -> Geometry:
    """The completion's :class:`Geometry` of ``hole`` (``distance``: its :func:`.motion.hole_distance`),
    read-only, kept for the next pairs with the same hole and settings."""
    return _GEOMETRIES.get(
        hole, (gap, ring, vote_from), lambda: _geometry(hole, distance, gap, ring, vote_from)
    )


def _geometry(hole: np.ndarray, distance: np.ndarray, gap: int, ring: int, vote_from: float) -> Geometry:
    height, width = hole.shape
    ys, xs = np.nonzero(hole)
    margin = gap + ring + 1
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
