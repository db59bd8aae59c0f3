"""Stage 5's seam work on a matte with few pixels spread over a large frame (a wire from corner to corner, small
holes in opposite corners) costs what its pixels cost, not what the box around them would."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import cv2
import numpy as np

from aifx_core.propagate.seam import _mismatch_in, _tiles, ring, ring_mismatch

#: A 4K frame (rows, columns).
UHD = (2160, 3840)


def _peak(call: Callable[[], object]) -> tuple[object, int]:
    """What ``call`` returns, and the most memory (bytes) it held at once: NumPy's arrays, OpenCV's results among
    them (OpenCV's own scratch is not traced)."""
    tracemalloc.start()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _wire() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 3 px wire matte from corner to corner of a 4K frame, and its seam ring's points (4 px)."""
    matte = np.zeros(UHD, np.uint8)
    cv2.line(matte, (5, 5), (UHD[1] - 6, UHD[0] - 6), 1, 3)
    hole = matte > 0
    ry, rx = ring(hole, hole, 4)
    return hole, ry, rx


def test_the_ring_mismatch_of_a_wire_matte_costs_what_its_pixels_cost() -> None:
    """``ring_mismatch`` (the seam residual, on every frame, and the ring check's contrast) built three float32
    images of the box around the whole ring: for the 4K wire (36,000 ring pixels) 443 MiB and 0.85-1.2 s of CPU,
    as much as a hole filling the frame. Now under 1 KiB a ring point; the values as before (a ring's mismatch
    minus its local mean: zero for a plain colour drift, the misaligned texture's where it does not line up)."""
    _, ry, rx = _wire()
    rng = np.random.default_rng(1)
    real = rng.random((len(ry), 3)).astype(np.float32)
    drift = real + np.float32(0.2)
    left, held = _peak(lambda: ring_mismatch(ry, rx, real, drift, 0.1))
    assert held < 1024 * len(ry), (len(ry), held)
    assert isinstance(left, np.ndarray) and left.shape == (len(ry),)
    assert float(np.abs(left).max()) < 1e-4
    misaligned = ring_mismatch(ry, rx, real, np.roll(real, 1, axis=0), 0.1)
    assert float(np.median(misaligned)) > 1.0


def test_the_ring_of_a_wire_matte_costs_what_its_pixels_cost() -> None:
    """``ring`` (two or three times a frame) dilated a crop of the hole's whole box: 24 MiB for the 4K wire, the
    same for two discs in opposite corners. Now under 256 bytes a ring point, and the same pixels in the same
    (row-major) order as a dilation of the whole frame's matte gives."""
    hole, _, _ = _wire()
    points = np.nonzero(hole)
    (ry, rx), held = _peak(lambda: ring(hole, hole, 4, points))
    assert isinstance(ry, np.ndarray) and isinstance(rx, np.ndarray)
    assert held < 256 * len(ry), (len(ry), held)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))
    ey, ex = np.nonzero(cv2.dilate(hole.astype(np.uint8), kernel).astype(bool) & ~hole)
    assert np.array_equal(ry, ey) and np.array_equal(rx, ex)


def test_the_ring_mismatch_in_tiles_is_the_one_of_the_whole_box_to_the_bit() -> None:
    """Where the ring is sparse enough for tiles (an HD wire matte, two discs in opposite corners), each ring
    pixel's mismatch is the same, bit for bit, as the one image of the ring's box (the old computation) gives:
    the regions reach twice the blur radius around their pixels, or end where the box does."""
    rng = np.random.default_rng(5)
    for draw in (
        lambda m: cv2.line(m, (3, 7), (1915, 1070), 1, 2),
        lambda m: (cv2.circle(m, (12, 12), 9, 1, -1), cv2.circle(m, (1900, 1060), 9, 1, -1)),
    ):
        matte = np.zeros((1080, 1920), np.uint8)
        draw(matte)
        hole = matte > 0
        invalid = hole | (rng.random(hole.shape) < 0.2)
        ry, rx = ring(hole, invalid, 3)
        real = rng.random((len(ry), 3)).astype(np.float32)
        fetched = (real + rng.normal(0, 0.1, real.shape)).astype(np.float32)
        for radius in (3, 8):
            box = (int(ry.min()), int(rx.min()), int(ry.max()) + 1, int(rx.max()) + 1)
            whole = _mismatch_in(box, ry, rx, real - fetched, slice(None), slice(None), radius) / 0.3
            tiled = ring_mismatch(ry, rx, real, fetched, 0.3, radius)
            assert len(_tiles(ry, rx, box, 2 * radius)) > 1
            assert tiled.dtype == whole.dtype and np.array_equal(tiled, whole)
