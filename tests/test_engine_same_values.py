"""The engine thread's shortcuts give the values of the general path, bit for bit: ``chain.hypot`` is NumPy's
``hypot``; a chain step that keeps every point, a steadying walk that follows every point and a ``Filled`` read
wholly inside its crop (no gathers, no masked scatters) give what the same points give among others that take
the general path (each point's values depend on its own position only)."""

from __future__ import annotations

import numpy as np
import pytest

from aifx_core.propagate.chain import Chain, hypot
from aifx_core.propagate.fallback import Along, Filled, Tolerances, steady

SIZE = (40, 80)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return (
        a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a.view(np.uint8), b.view(np.uint8)))
    )


@pytest.mark.parametrize("scale", [1e-30, 1e-3, 1.0, 40.0, 1e5, 1e18])
def test_hypot_is_numpys_bit_for_bit(scale: float) -> None:
    rng = np.random.default_rng(int(np.log10(scale)) + 40)
    a = (rng.standard_normal(200_000) * scale).astype(np.float32)
    b = (rng.standard_normal(200_000) * scale).astype(np.float32)
    assert _same(hypot(a, b), np.hypot(a, b))


def test_hypot_of_special_values_is_numpys() -> None:
    special = np.array(
        [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 3.4e38, -3.4e38, 1e-45, -1e-45, 1e-38], np.float32
    )
    a, b = (v.ravel() for v in np.meshgrid(special, special))
    with np.errstate(over="ignore"):
        assert _same(hypot(a, b), np.hypot(a, b))


def _flows(s: int, d: int) -> np.ndarray:
    """A smooth, non-uniform motion of about 2 px/frame (the backward flow undoes it roughly)."""
    ys, xs = np.mgrid[0 : SIZE[0], 0 : SIZE[1]].astype(np.float32)
    out = np.empty((*SIZE, 2), np.float32)
    out[..., 0] = d * (-2.0 + 0.3 * np.sin(xs / 7.0 + s))
    out[..., 1] = d * 0.4 * np.cos(ys / 5.0 - s)
    return out


def _fits(s: int, d: int) -> np.ndarray:
    ys, xs = np.mgrid[0 : SIZE[0], 0 : SIZE[1]].astype(np.float32)
    return (0.5 + 0.5 * np.sin(xs / 3.0) * np.cos(ys / 4.0)).astype(np.float32)


def test_a_step_that_keeps_every_point_equals_one_that_drops_another() -> None:
    rng = np.random.default_rng(3)
    xs = rng.uniform(20, 60, 300).astype(np.float32)
    ys = rng.uniform(8, 32, 300).astype(np.float32)
    # One more point at the left border: the motion takes it out of the frame on the first step.
    more_x, more_y = np.append(xs, np.float32(0.5)), np.append(ys, np.float32(20.0))
    alone = Chain(0, 1, xs, ys, _flows, SIZE, (1.0, 1.0), np.inf, fit=_fits)
    among = Chain(0, 1, more_x, more_y, _flows, SIZE, (1.0, 1.0), np.inf, fit=_fits)
    for _ in range(3):
        alone.step()
        among.step()
    assert len(alone) == len(xs) and len(among) == len(xs)  # (every step kept all of alone's points)
    for name in ("index", "x", "y", "fb", "travel", "fit"):
        assert _same(getattr(alone, name), getattr(among, name)), name
    assert float(alone.fb.max()) > 0 and float(alone.fit.max()) > 0  # (the values are not trivially 0)


def test_a_steadying_walk_of_every_point_inside_the_crop_equals_the_general_path() -> None:
    rng = np.random.default_rng(4)
    plate = rng.uniform(0.0, 1.0, (*SIZE, 3)).astype(np.float32)
    hole = np.zeros(SIZE, bool)
    hole[10:30, 30:50] = True
    hy, hx = np.nonzero(hole)
    fills = {j: rng.uniform(0.0, 1.0, (len(hy), 3)).astype(np.float32) for j in range(-2, 3)}
    readable = rng.uniform(0.2, 1.0, len(hy)).astype(np.float32)

    def neighbour(j: int) -> Filled:
        return Filled(plate, hole, hy, hx, fills[j], readable)

    def walk(start, direction, xs, ys, checked=True):
        def flows(s: int, d: int) -> np.ndarray:
            out = np.zeros((*SIZE, 2), np.float32)
            out[..., 0] = -1.0 * d
            out[..., 1] = 0.25 * d
            return out

        return Chain(start, direction, xs, ys, flows, SIZE, (1.0, 1.0), np.inf)

    # Points well inside the hole (their reads stay in the crop) and, for the general path, one near the left
    # border: it leaves the frame walking forward and reads the plate outside the crop walking back.
    inner = (hy >= 13) & (hy < 27) & (hx >= 33) & (hx < 47)
    xs, ys = hx[inner].astype(np.float32), hy[inner].astype(np.float32)
    n = len(xs)
    own = fills[0][inner]
    unsure = rng.uniform(0.0, 1.0, n).astype(np.float32)
    fetched = rng.uniform(0.0, 1.0, n).astype(np.float32)

    def run(x, y, o, u, f):
        one = np.ones(3, np.float32)
        along = Along(neighbour, lambda j: j in fills, walk, lambda s, t: one)
        return steady(0, x, y, o, u, f, along, 2, Tolerances(30.0, 2.0))

    alone = run(xs, ys, own, unsure, fetched)
    among = run(
        np.append(xs, np.float32(0.5)),
        np.append(ys, np.float32(20.0)),
        np.vstack([own, own[:1]]),
        np.append(unsure, np.float32(0.5)),
        np.append(fetched, np.float32(0.5)),
    )
    assert _same(alone, among[:n])
    assert not np.array_equal(alone, own)  # (the walk changed the values: the test reads the neighbours)

    # And a read wholly inside the crop equals the same points read together with one outside it.
    filled = neighbour(1)
    px, py = xs + np.float32(0.3), ys - np.float32(0.6)
    inside = filled.sample(px, py)
    mixed = filled.sample(np.append(px, np.float32(2.5)), np.append(py, np.float32(5.5)))
    assert _same(inside[0], mixed[0][:n]) and _same(inside[1], mixed[1][:n])


def test_a_replayed_first_step_is_the_unchecked_step() -> None:
    """The candidates' (checked) walk keeps its first step for every point it began with; an unchecked walk of
    some of those points that replays it ends where its own step would, with the same values, also where the
    checked walk dropped points (a tight tolerance) and where the flow is NaN (the unchecked walk drops those)."""
    rng = np.random.default_rng(5)
    xs = rng.uniform(0, 79, 400).astype(np.float32)
    ys = rng.uniform(0, 39, 400).astype(np.float32)

    def flows(s: int, d: int) -> np.ndarray:
        out = _flows(s, d)
        out[5:8, 10:20] = np.nan
        return out

    checked = Chain(0, 1, xs, ys, flows, SIZE, (1.0, 1.0), 0.05, fit=_fits)
    checked.record = True
    checked.step()
    first = checked.first_step
    assert first is not None
    assert len(checked) < int(first.kept.sum()) < len(xs)  # (the tolerance and the NaN and border both drop)
    which = np.sort(rng.choice(len(xs), 250, replace=False))
    own = Chain(0, 1, xs[which], ys[which], flows, SIZE, (1.0, 1.0), np.inf, fit=_fits)
    replayed = Chain(0, 1, xs[which], ys[which], flows, SIZE, (1.0, 1.0), np.inf, fit=_fits)
    own.step()
    assert replayed.replay(first, which)
    assert (replayed.current, replayed.steps) == (own.current, own.steps)
    for name in ("index", "x", "y", "fb", "travel", "fit"):
        assert _same(getattr(replayed, name), getattr(own, name)), name
    # ... and it goes on as its own would.
    own.step()
    replayed.step()
    for name in ("index", "x", "y", "fb", "travel", "fit"):
        assert _same(getattr(replayed, name), getattr(own, name)), name
    # A checked walk, or one that has stepped, does not replay.
    strict = Chain(0, 1, xs[which], ys[which], flows, SIZE, (1.0, 1.0), 1.0, fit=_fits)
    assert not strict.replay(first, which) and not own.replay(first, which)


def test_the_fusion_order_is_by_group_then_key_and_stable() -> None:
    """``_group_order`` sorts the bits of its float keys as integers: the rows of a stable sort of the floats."""
    from aifx_core.propagate.fusion import _group_order

    def as_floats(group: np.ndarray, key: np.ndarray) -> np.ndarray:
        low, high = float(key.min()), float(key.max())
        unit = (key.astype(np.float64) - low) / ((high - low) * 1.001 + 1e-12)
        return np.argsort(group.astype(np.float64) + unit, kind="stable")

    rng = np.random.default_rng(6)
    group = rng.integers(0, 500, 20_000)
    key = rng.integers(0, 7, 20_000).astype(np.float32) / 3  # (many equal keys in a group: ties)
    order = _group_order(group, key)
    assert np.array_equal(order, np.lexsort((np.arange(len(group)), key, group)))
    assert np.array_equal(order, as_floats(group, key))
    key[3] = np.nan  # (the float sort's order, whatever it is)
    with np.errstate(invalid="ignore"):
        assert np.array_equal(_group_order(group, key), as_floats(group, key))


def test_a_keyframe_image_made_on_first_read_reads_as_one_made_at_once() -> None:
    """``Patched`` given a callable for its values calls it once, on the first read, and reads bit for bit as one
    given the values."""
    from aifx_core.propagate.fallback import Patched

    rng = np.random.default_rng(8)
    plate = rng.uniform(0.0, 1.0, (*SIZE, 3)).astype(np.float32)
    hole = np.zeros(SIZE, bool)
    hole[10:30, 30:50] = True
    hy, hx = np.nonzero(hole)
    values = rng.uniform(0.0, 1.0, (len(hy), 3)).astype(np.float32)
    calls: list[int] = []

    def make() -> np.ndarray:
        calls.append(1)
        return values

    lazy, eager = Patched(plate, hy, hx, make), Patched(plate, hy, hx, values)
    assert not calls
    xs = rng.uniform(0, SIZE[1] - 1, 500).astype(np.float32)
    ys = rng.uniform(0, SIZE[0] - 1, 500).astype(np.float32)
    assert _same(lazy.sample(xs, ys), eager.sample(xs, ys)) and calls == [1]
    assert _same(lazy.at(hy, hx), eager.at(hy, hx)) and _same(lazy.at(hy, hx), values)
    assert _same(lazy.hole_values(hole), eager.hole_values(hole)) and calls == [1]
