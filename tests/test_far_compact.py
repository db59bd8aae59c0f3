"""What a frame recovered (``propagate.far.Recovered``) is held as its sure pixels' values, not as a box of them,
and reads exactly what a bilinear read of the whole box would: the far reads' pixels do not change, only the
memory a stream holds (holes spread over the frame have a box of most of the frame)."""

from __future__ import annotations

import numpy as np

from aifx_core.flow import sample_points
from aifx_core.propagate.far import RingMembrane, read, recovered
from aifx_core.propagate.fusion import Fused

HEIGHT, WIDTH = 60, 90


def _spread_hole() -> np.ndarray:
    """Two squares far apart and a one-pixel speck: a box of most of the frame, mostly not hole."""
    hole = np.zeros((HEIGHT, WIDTH), bool)
    hole[5:17, 4:16] = True
    hole[40:55, 70:86] = True
    hole[30, 45] = True
    return hole


def _found(order: np.ndarray | None = None):
    rng = np.random.default_rng(3)
    ys, xs = np.nonzero(_spread_hole())
    n = len(ys)
    values = rng.random((n, 3), dtype=np.float32)
    confident = rng.random(n) > 0.05  # some hole pixels found nothing sure: not sure, never read
    if order is not None:  # the same pixels with the same values, in another order
        ys, xs, values, confident = ys[order], xs[order], values[order], confident[order]
    fused = Fused(
        values,
        confident,
        np.ones(n, np.float32),
        np.zeros(n, np.float32),
        np.full(n, np.nan, np.float32),
        np.ones(n, np.int16),
    )
    plate = rng.random((HEIGHT, WIDTH, 3), dtype=np.float32)
    return ys, xs, values, confident, recovered(ys, xs, fused, 0.01, RingMembrane(plate, ys, xs)), plate


def _box_read(sure, y0, x0, box, xs, ys):
    """The read as it was made on a whole box (brute force: every position on its own)."""
    height, width = sure.shape
    ok = np.zeros(len(xs), bool)
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        c, r = int(np.floor(x)) - x0, int(np.floor(y)) - y0
        if not (0 <= c < width and 0 <= r < height):
            continue
        if (r + 1 >= height and y - y0 > r) or (c + 1 >= width and x - x0 > c):
            continue
        r1, c1 = min(r + 1, height - 1), min(c + 1, width - 1)
        ok[i] = sure[r, c] and sure[r, c1] and sure[r1, c] and sure[r1, c1]
    return ok, sample_points(box, xs[ok] - np.float32(x0), ys[ok] - np.float32(y0))


def _positions(rng) -> tuple[np.ndarray, np.ndarray]:
    """Whole and fractional positions over the frame, on every box edge and a hair inside or past it."""
    xs = np.concatenate(
        [
            rng.uniform(0, WIDTH - 1, 2000),
            rng.uniform(3, 17, 2000),
            rng.uniform(69, 87, 2000),
            np.arange(WIDTH, dtype=np.float64),
        ]
    )
    ys = np.concatenate(
        [
            rng.uniform(0, HEIGHT - 1, 2000),
            rng.uniform(4, 18, 2000),
            rng.uniform(39, 56, 2000),
            np.full(WIDTH, 54.0),
        ]
    )
    edges_x = np.array([4, 15, 15.0001, 14.97, 70, 85, 85.02, 45, 45.5], np.float64)
    edges_y = np.array([5, 16, 16, 16.03, 40, 54, 54.0, 30, 30], np.float64)
    return (
        np.concatenate([xs, edges_x, np.floor(xs[:500])]).astype(np.float32),
        np.concatenate([ys, edges_y, np.floor(ys[:500])]).astype(np.float32),
    )


def test_the_recovered_pixels_read_exactly_as_the_whole_box_does() -> None:
    ys, xs, values, confident, found, plate = _found()
    assert found is not None and found.ring is not None
    # The box of the spread hole (rows 5-54, columns 4-85) and what was sure in it, as it was held before.
    sure = np.zeros((HEIGHT, WIDTH), bool)
    sure[ys[confident], xs[confident]] = True
    y0, x0 = int(ys[confident].min()), int(xs[confident].min())
    sure = sure[y0 : int(ys[confident].max()) + 1, x0 : int(xs[confident].max()) + 1]
    assert np.array_equal(found.sure, sure) and (found.y0, found.x0) == (y0, x0)
    box = np.zeros((*sure.shape, 3), np.float32)
    box[ys[confident] - y0, xs[confident] - x0] = values[confident]
    ring = np.zeros_like(box)
    ring[ys[confident] - y0, xs[confident] - x0] = RingMembrane(plate, ys, xs).at(np.flatnonzero(confident))
    at_x, at_y = _positions(np.random.default_rng(5))
    # All positions at once, and those of one square alone (the rows a read makes end inside the box then).
    subsets = [np.ones(len(at_x), bool), at_y < 20, (at_y > 38) & (at_y < 50), at_x > 60]
    for image, as_ring in ((box, False), (ring, True)):
        for subset in subsets:
            ok_box, got_box = _box_read(sure, y0, x0, image, at_x[subset], at_y[subset])
            ok, got = read(found, at_x[subset], at_y[subset], ring=as_ring)
            assert ok.sum() > 300 and np.array_equal(ok, ok_box)
            assert got.dtype == np.float32 and np.array_equal(got, got_box)  # bit for bit


def test_the_recovered_pixels_are_held_without_their_box_whatever_order_the_points_come_in() -> None:
    ys, xs, _, confident, found, _ = _found()
    assert found is not None and found.ring is not None
    held = found.values.shape == found.ring.shape == (int(confident.sum()), 3)
    box_bytes = found.sure.size * 3 * 4
    assert held and found.values.nbytes + found.ring.nbytes + found.sure.nbytes < 0.4 * 2 * box_bytes
    # The same pixels shuffled: held in the box's row-major order all the same, so every read is the same.
    order = np.random.default_rng(9).permutation(len(ys))
    *_, shuffled, _ = _found(order)
    assert shuffled is not None and shuffled.ring is not None
    at_x, at_y = _positions(np.random.default_rng(6))
    for as_ring in (False, True):
        ok, got = read(found, at_x, at_y, ring=as_ring)
        ok_s, got_s = read(shuffled, at_x, at_y, ring=as_ring)
        assert np.array_equal(ok, ok_s) and np.array_equal(got, got_s)
