"""The frame's own spatial fill marches only the pixels whose output it moves (``spatial_core``)."""

from __future__ import annotations

import numpy as np

from aifx_core.inpaint.base import BackendContext
from aifx_core.inpaint.telea import TeleaBackend
from aifx_core.propagate import fallback_route
from aifx_core.propagate.fallback_route import SPATIAL_MIN, spatial_core


def _case(n: int = 6) -> dict[str, np.ndarray]:
    """``n`` hole pixels: the first three share-only, the rest in ``need`` (a carried fallback)."""
    rng = np.random.default_rng(3)
    return {
        "unsure": np.ones(n, bool),
        "share": np.zeros(n, np.float32),
        "alpha": np.ones(n, np.float32),
        "need": np.arange(3, n),
        "beta": np.ones(n - 3, np.float32),
        "known": rng.uniform(0.2, 0.8, (n, 3)).astype(np.float32),
        "carried": rng.uniform(0.2, 0.8, (n - 3, 3)).astype(np.float32),
        "found": np.ones(n, bool),
        "got": np.ones(n - 3, bool),
    }


def _core(case: dict[str, np.ndarray]) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    return spatial_core(**case)  # type: ignore[arg-type]


def test_a_pixel_the_spatial_fill_barely_moves_is_not_its_hole() -> None:
    case = _case()
    case["share"][:3] = [0.5 * SPATIAL_MIN, SPATIAL_MIN, 0.3]
    # need pixels: weight share + (1 - share)(1 - alpha)(1 - beta)
    case["alpha"][3:] = [0.9, 0.0, 0.5]
    case["beta"][:] = [0.9, 1.0, 0.5]  # weights 0.01, 0 and 0.25
    core, (left, values) = _core(case)
    assert core.tolist() == [False, True, True, False, False, True]
    assert left.tolist() == [0, 3, 4]
    # each keeps the value the blend gives it without a spatial fill
    assert np.allclose(values[0], case["known"][0])
    assert np.allclose(values[1], 0.9 * case["known"][3] + 0.1 * case["carried"][0])
    assert np.allclose(values[2], case["carried"][1])


def test_a_pixel_without_a_real_value_stays_hole_whatever_its_weight() -> None:
    case = _case()
    case["found"][0] = False  # share-only, nothing propagated
    case["got"][1] = False  # need, no keyframe content carried to it
    case["alpha"][4] = 0.0
    core, (left, _) = _core(case)
    assert core[0] and core[4]
    assert not core[[1, 2, 3, 5]].any() and left.tolist() == [1, 2, 3, 5]


def test_off_every_unsure_pixel_is_hole(monkeypatch) -> None:
    monkeypatch.setattr(fallback_route, "SPATIAL_MIN", 0.0)
    case = _case()
    case["unsure"][2] = False
    core, (left, _) = _core(case)
    assert core.tolist() == [True, True, False, True, True, True] and len(left) == 0


def test_the_output_stays_smooth_where_the_spatial_fill_stops_being_run() -> None:
    """A hole whose spatial share ramps from 0 to 0.6 across it: the pixels left out of Telea's hole take the
    propagated value, Telea marches from them; the blended output moves by less than SPATIAL_MIN of (Telea −
    propagated) where the route changes, and no step across the change is larger than the steps elsewhere."""
    height, width = 40, 80
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    plate = np.stack([0.3 + 0.004 * xs, 0.5 + 0.005 * ys, 0.4 + 0.1 * np.sin(xs / 11.0)], -1).astype(np.float32)
    hole = np.zeros((height, width), bool)
    hole[8:32, 10:70] = True
    hy, hx = np.nonzero(hole)
    propagated = plate[hy, hx] + 0.05 * np.sin(hy / 3.0)[:, None]  # close to the plate, not equal
    share = (0.6 * (hx - 10) / 59.0).astype(np.float32)
    n = len(hy)
    case = _case(n)
    case.update(
        unsure=share > 0.001,
        share=share,
        need=np.zeros(0, np.intp),
        beta=np.zeros(0, np.float32),
        carried=np.zeros((0, 3), np.float32),
        got=np.zeros(0, bool),
        known=propagated.astype(np.float32),
    )
    core, (left, values) = _core(case)
    assert 0 < len(left) < n and core.any()
    assert (share[left] < SPATIAL_MIN).all() and (share[core] >= SPATIAL_MIN).all()
    telea = TeleaBackend(BackendContext())

    def output(mask_points: np.ndarray, left: np.ndarray, values: np.ndarray) -> np.ndarray:
        image = plate.copy()
        image[hy, hx] = propagated
        image[hy[left], hx[left]] = values
        mask = np.zeros((height, width), bool)
        mask[hy[mask_points], hx[mask_points]] = True
        spatial = np.zeros_like(propagated)
        spatial[left] = values
        spatial[mask_points] = telea.inpaint(image, mask)[hy[mask_points], hx[mask_points]]
        out = plate.copy()
        out[hy, hx] = (1.0 - share[:, None]) * propagated + share[:, None] * spatial
        return out

    before = output(np.flatnonzero(case["unsure"]), left[:0], values[:0])
    after = output(np.flatnonzero(core), left, values)
    full = before[hy, hx] - propagated
    # left out: moved by less than SPATIAL_MIN of what Telea differed by
    moved = np.abs(after[hy[left], hx[left]] - before[hy[left], hx[left]])
    assert (moved <= SPATIAL_MIN * np.abs(full[left] / np.maximum(share[left, None], 1e-6)) + 1e-6).all()
    # no seam: horizontal steps across the column where the route changes are no larger than elsewhere
    edge = int(hx[left].max())
    steps = np.abs(np.diff(after[8:32, 10:70], axis=1)).max(axis=(0, 2))
    assert steps[edge - 10] <= 1.5 * np.median(steps) + 1e-3
    assert np.abs(after - before).max() < 0.05
