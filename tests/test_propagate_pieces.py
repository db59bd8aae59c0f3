"""Pieces of the engine's per-frame stages that live outside its run and so are tested alone, on arrays whose
answer is known: how near a target point's own mover is as fringes are read (``mover_fringe.own_reach``), what
the plate around the hole says a point has (``far.RingMembrane.around``) and which pixels the steadying takes up
(``output.steadied``)."""

from __future__ import annotations

import numpy as np
import pytest

from aifx_core.propagate.fallback import Along
from aifx_core.propagate.fallback_route import Fallback, Propagated
from aifx_core.propagate.far import RingMembrane, ring_membrane
from aifx_core.propagate.mover_fringe import (
    FAST_OWN_PX,
    OWN_PX,
    BoxedMask,
    near_hidden,
    near_own_mover,
    own_reach,
)
from aifx_core.propagate.output import steadied


def test_own_reach_reads_every_fringe_on_a_fast_frame_and_only_near_its_mover_on_a_slow_one():
    movers = np.zeros((40, 200), bool)
    movers[10:20, 10:20] = True
    # (points 5 px right of the mover, between OWN_PX and FAST_OWN_PX from it, and far beyond both)
    middle = 19 + int((OWN_PX + FAST_OWN_PX) / 2)
    ys, xs = np.array([15, 15, 15]), np.array([24, middle, 190])
    slow = own_reach(movers, ys, xs, (1.0, 1.0), fast=False)
    fast = own_reach(movers, ys, xs, (1.0, 1.0), fast=True)
    assert slow is not None and fast is not None
    assert slow[0] == pytest.approx(5.0, abs=0.5) and slow[1] == np.inf and slow[2] == np.inf
    assert fast[0] == pytest.approx(5.0, abs=0.5) and np.isfinite(fast[1]) and fast[2] == -np.inf
    # (no mover: a slow frame's points are all far, a fast frame's all read every fringe)
    assert own_reach(None, ys, xs, (1.0, 1.0), fast=False) is None
    np.testing.assert_array_equal(own_reach(None, ys, xs, (1.0, 1.0), fast=True), np.full(3, -np.inf))
    # At half resolution (working px twice a full-resolution px) the same ground is twice as far.
    half = own_reach(movers, ys, xs, (0.5, 0.5), fast=False)
    assert half is not None and half[0] == pytest.approx(2.5, abs=0.5)
    np.testing.assert_array_equal(near_own_mover(movers, ys, xs, (1.0, 1.0)), [True, True, False])


def test_ring_values_are_the_membrane_in_the_hole_and_the_plate_on_the_ring():
    rng = np.random.default_rng(3)
    plate = rng.random((48, 64, 3), dtype=np.float32)
    hole = np.zeros((48, 64), bool)
    hole[20:28, 30:40] = True
    ys, xs = np.nonzero(hole)
    ring_ys, ring_xs = np.array([19, 30, 25]), np.array([30, 29, 41])
    all_ys, all_xs = np.concatenate([ys, ring_ys]), np.concatenate([xs, ring_xs])
    membrane = RingMembrane(plate, ys, xs)
    points = np.array([0, 5, len(ys), len(ys) + 2, 17])
    got = membrane.around(all_ys, all_xs, points)
    expected = ring_membrane(plate, ys, xs)
    np.testing.assert_array_equal(got[[0, 1, 4]], expected[[0, 5, 17]])
    np.testing.assert_array_equal(got[[2, 3]], plate[[19, 25], [30, 41]])
    # (the membrane is smooth: it is not the plate the hole pixels hold)
    assert not np.allclose(got[0], plate[ys[0], xs[0]])


def _frame(n: int, alpha: float, confidence: float) -> tuple[Propagated, Fallback]:
    ys, xs = np.full(n, 5), np.arange(n)
    values = np.linspace(0.1, 0.9, 3 * n, dtype=np.float32).reshape(n, 3)
    ones, zeros = np.ones(n, np.float32), np.zeros(n, np.float32)
    prop = Propagated(ys, xs, values, ones > 0, values * 0, ones * confidence, ones * alpha, zeros)
    return prop, Fallback(values, ones * alpha, ones * confidence, np.zeros(0, np.intp), ones * alpha, zeros)


def test_the_steadying_leaves_a_surely_propagated_fill_alone_and_walks_an_unsure_ones_points():
    walked: list[tuple[int, int]] = []

    class _Nowhere:
        def __len__(self) -> int:
            return 0  # (every point lost at once: nothing to average with)

    def chain(t: int, direction: int, xs: np.ndarray, ys: np.ndarray, checked: bool) -> _Nowhere:
        walked.append((direction, len(xs)))
        return _Nowhere()

    def never(*args: object) -> None:
        raise AssertionError("a neighbour was read")

    along = Along(never, never, chain, never)  # type: ignore[arg-type]
    prop, part = _frame(4, alpha=1.0, confidence=1.0)
    assert steadied(7, prop, part, 0.5, 2, along, None, None, (1.0, 1.0)) is part.values
    assert walked == []
    prop, part = _frame(4, alpha=0.0, confidence=0.0)  # (wholly the fallback route's: it boils)
    assert steadied(7, prop, part, 0.5, 0, along, None, None, (1.0, 1.0)) is part.values
    assert walked == []
    out = steadied(7, prop, part, 0.5, 2, along, None, None, (1.0, 1.0))
    np.testing.assert_array_equal(out, part.values)
    assert walked == [(-1, 4), (1, 4)]


def test_a_boxed_mask_reads_as_the_full_map_it_was_made_from():
    """A frame's hidden movers are held as their box (``mover_fringe.BoxedMask``): every region of it, and the
    distances its points measure to it, are the full map's, at the frame's edges and beyond the box too."""
    rng = np.random.default_rng(5)
    full = np.zeros((60, 90), bool)
    full[20:34, 50:71] = rng.random((14, 21)) > 0.6
    boxed = BoxedMask.of(full)
    assert boxed.box.shape == (14, 21) and boxed.box.size < full.size / 10
    for y0, y1, x0, x1 in (
        (0, 60, 0, 90),
        (25, 60, 60, 90),
        (0, 22, 0, 55),
        (30, 40, 0, 30),
        (21, 22, 52, 53),
    ):
        np.testing.assert_array_equal(boxed.region(y0, y1, x0, x1), full[y0:y1, x0:x1])
    ys, xs = np.nonzero(rng.random((60, 90)) > 0.97)
    for scale in ((1.0, 1.0), (0.5, 0.5)):
        np.testing.assert_array_equal(near_hidden(boxed, ys, xs, scale), near_hidden(full, ys, xs, scale))  # type: ignore[arg-type]
    empty = BoxedMask.of(np.zeros((60, 90), bool))
    assert not empty.region(0, 60, 0, 90).any() and near_hidden(empty, ys, xs, (1.0, 1.0)) is None
