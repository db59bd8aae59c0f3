"""A pair's fit maps are held as boxes (``chain.BoxedFit``: the box around the nonzero pixels with a margin of 0)
and read as the whole maps, bit for bit: samples anywhere (inside and outside the frame, on and off the 1/32-pixel
grid, NaN and infinite positions), ``> 0`` and the map itself; a chain walked on the boxes equals one walked on the
whole maps. A box without its margin, or shifted by a pixel, reads other values (the checks can fail)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from aifx_core.flow import sample_points
from aifx_core.propagate.chain import BoxedFit, Chain, box_fit, fit_positive, sample_fit

SIZE = (48, 72)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return (
        a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a.view(np.uint8), b.view(np.uint8)))
    )


def _map(rows: slice, cols: slice, seed: int) -> np.ndarray:
    """A fit map: 0 except in a block, where it is positive and varied (with a NaN, an inf and a -0.0 in it)."""
    rng = np.random.default_rng(seed)
    fit = np.zeros(SIZE, np.float32)
    block = fit[rows, cols]
    block[...] = rng.uniform(0.5, 30.0, block.shape).astype(np.float32)
    if block.size >= 9:
        block.flat[1], block.flat[4], block.flat[7] = np.nan, np.inf, -0.0
    return fit


#: Nonzero blocks: in the middle, on each border, in a corner, one pixel, the whole map, none.
BLOCKS = {
    "middle": (slice(18, 30), slice(25, 41)),
    "top": (slice(0, 7), slice(20, 35)),
    "bottom": (slice(40, 48), slice(10, 30)),
    "left": (slice(10, 22), slice(0, 9)),
    "right": (slice(15, 33), slice(60, 72)),
    "corner": (slice(43, 48), slice(66, 72)),
    "pixel": (slice(20, 21), slice(30, 31)),
    "whole": (slice(0, 48), slice(0, 72)),
    "none": (slice(0, 0), slice(0, 0)),
}


def _positions(fit: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions over the frame and a little beyond, on pixel centres and edges, within 1/64 px of them, around
    the nonzero block's edges, and NaN, infinite and huge ones."""
    height, width = fit.shape
    rng = np.random.default_rng(seed)
    xs = [
        rng.uniform(-3, width + 3, 4000),
        rng.integers(-2, width + 2, 600) + rng.choice([0, 0.5, 1 / 64, -1 / 64], 600),
    ]
    ys = [
        rng.uniform(-3, height + 3, 4000),
        rng.integers(-2, height + 2, 600) + rng.choice([0, 0.5, 1 / 64, -1 / 64], 600),
    ]
    rows, cols = np.nonzero(fit.view(np.uint32))
    if len(rows):
        # Around the block's edges: every offset from 3 px outside to 1 px inside, in steps of 1/64.
        offsets = np.arange(-3.0, 1.0, 1 / 64)
        for edge_x in (cols.min() - offsets, cols.max() + offsets):
            xs.append(edge_x)
            ys.append(rng.uniform(rows.min() - 3, rows.max() + 3, len(edge_x)))
        for edge_y in (rows.min() - offsets, rows.max() + offsets):
            ys.append(edge_y)
            xs.append(rng.uniform(cols.min() - 3, cols.max() + 3, len(edge_y)))
    special = np.array([np.nan, np.inf, -np.inf, 1e6, -1e6, 5.0, 0.0], np.float32)
    sx, sy = (v.ravel() for v in np.meshgrid(special, special))
    xs.append(sx)
    ys.append(sy)
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.float32)


@pytest.mark.parametrize("name", list(BLOCKS))
def test_a_boxed_fit_reads_as_the_whole_map(name: str) -> None:
    rows, cols = BLOCKS[name]
    fit = _map(rows, cols, seed=len(name))
    boxed = box_fit(fit)
    xs, ys = _positions(fit, seed=len(name) + 100)
    assert _same(boxed.sample(xs, ys), sample_points(fit, xs, ys))
    assert _same(sample_fit(boxed, xs, ys), sample_fit(fit, xs, ys))
    assert _same(boxed.positive(), fit > 0) and _same(fit_positive(boxed), fit_positive(fit))
    assert _same(boxed.full(), fit)
    # Only the box (and its margin) is held.
    if name in ("whole",):
        assert boxed.box.shape == SIZE
    elif name == "none":
        assert boxed.box.size == 0
    else:
        assert boxed.box.size <= (rows.stop - rows.start + 4) * (cols.stop - cols.start + 4) < fit.size


def test_a_box_without_its_margin_or_shifted_reads_other_values(monkeypatch) -> None:
    """The check above can fail: a box cut at the nonzero pixels (no margin) replicates them past its edge, and a
    box one pixel off reads its neighbours."""
    fit = _map(*BLOCKS["middle"], seed=1)
    xs, ys = _positions(fit, seed=2)
    whole = sample_points(fit, xs, ys)
    boxed = box_fit(fit)
    assert not _same(replace(boxed, x0=boxed.x0 + 1).sample(xs, ys), whole)
    assert not _same(replace(boxed, y0=boxed.y0 - 1).sample(xs, ys), whole)
    monkeypatch.setattr(BoxedFit, "MARGIN", 0)
    assert not _same(box_fit(fit).sample(xs, ys), whole)


def _flows(s: int, d: int) -> np.ndarray:
    """A fast pan (about 12 px/frame, so a step reads both ends' fits) with some variation."""
    ys, xs = np.mgrid[0 : SIZE[0], 0 : SIZE[1]].astype(np.float32)
    out = np.empty((*SIZE, 2), np.float32)
    out[..., 0] = d * (12.0 + 0.4 * np.sin(xs / 5.0 + s))
    out[..., 1] = d * 0.5 * np.cos(ys / 6.0 - s)
    return out


_WHOLE = {
    (s, d): _map(slice(14 + s, 30 + s), slice(10 + 4 * s, 50 + 4 * s), seed=7 * s + d + 3)
    for s in range(4)
    for d in (1, -1)
}
_BOXED = {key: box_fit(fit) for key, fit in _WHOLE.items()}


def test_a_chain_on_boxed_fits_equals_one_on_the_whole_maps() -> None:
    rng = np.random.default_rng(5)
    xs = rng.uniform(0, 30, 500).astype(np.float32)
    ys = rng.uniform(0, SIZE[0] - 1, 500).astype(np.float32)
    for tol in (np.inf, 0.5):
        whole = Chain(0, 1, xs, ys, _flows, SIZE, (1.0, 1.0), tol, fit=lambda s, d: _WHOLE.get((s, d)))
        boxed = Chain(0, 1, xs, ys, _flows, SIZE, (1.0, 1.0), tol, fit=lambda s, d: _BOXED.get((s, d)))
        for _ in range(3):
            whole.step()
            boxed.step()
            for name in ("index", "x", "y", "fb", "travel", "fit"):
                assert _same(getattr(whole, name), getattr(boxed, name)), name
        assert np.nanmax(whole.fit) > 0  # (the chain crossed the fits)
