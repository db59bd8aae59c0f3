"""On a slow frame the spatial fill marches only the pixels whose output it moves (``spatial_core``); the
others take a smooth membrane, which it marches from."""

from __future__ import annotations

import numpy as np

from aifx_core.flow import push_pull_fill
from aifx_core.inpaint.base import BackendContext
from aifx_core.inpaint.telea import TeleaBackend
from aifx_core.propagate import fallback_route
from aifx_core.propagate.fallback_route import SPATIAL_MIN, _spatial_values, spatial_core


def _case(n: int = 6) -> dict[str, np.ndarray]:
    """``n`` hole pixels, all unsure: the first three share-only, the rest in ``need`` (a carried fallback)."""
    return {
        "unsure": np.ones(n, bool),
        "share": np.zeros(n, np.float32),
        "alpha": np.ones(n, np.float32),
        "need": np.arange(3, n),
        "beta": np.ones(n - 3, np.float32),
        "found": np.ones(n, bool),
        "got": np.ones(n - 3, bool),
    }


def test_a_pixel_the_spatial_fill_barely_moves_is_not_its_hole() -> None:
    case = _case()
    case["share"][:3] = [0.5 * SPATIAL_MIN, SPATIAL_MIN, 0.3]
    # need pixels: weight share + (1 - share)(1 - alpha)(1 - beta)
    case["alpha"][3:] = [0.9, 0.0, 0.5]
    case["beta"][:] = [0.9, 1.0, 0.5]  # weights 0.01, 0 and 0.25
    assert spatial_core(**case).tolist() == [False, True, True, False, False, True]  # type: ignore[arg-type]
    case["unsure"][2] = False  # a sure pixel is never the backend's hole
    assert spatial_core(**case).tolist() == [False, True, False, False, False, True]  # type: ignore[arg-type]


def test_a_pixel_whose_blend_has_no_real_value_stays_hole_whatever_its_weight() -> None:
    case = _case()
    case["found"][0] = False  # share-only, nothing propagated
    case["got"][1] = False  # need, no keyframe content carried to it
    case["alpha"][4] = 0.0
    core = spatial_core(**case)  # type: ignore[arg-type]
    assert core.tolist() == [True, False, False, False, True, False]


def test_off_every_unsure_pixel_is_hole(monkeypatch) -> None:
    monkeypatch.setattr(fallback_route, "SPATIAL_MIN", 0.0)
    case = _case()
    case["unsure"][2] = False
    assert spatial_core(**case).tolist() == [True, True, False, True, True, True]  # type: ignore[arg-type]


class _Recording(TeleaBackend):
    """Telea, remembering the holes it was handed."""

    holes: list[np.ndarray]

    def inpaint(self, rgb: np.ndarray, hole: np.ndarray, *, frame: int | None = None) -> np.ndarray:
        self.holes.append(hole.copy())
        return super().inpaint(rgb, hole, frame=frame)


def test_the_output_stays_smooth_where_the_spatial_fill_stops_being_run() -> None:
    """A hole whose spatial share ramps from 0.6 to 0 and back across it, the propagated values close to the plate but
    not equal: the pixels under SPATIAL_MIN never enter Telea's hole; their output moves by less than
    SPATIAL_MIN of the largest spatial change; no step across the column where the route changes is larger
    than the steps elsewhere; and the membrane reads nothing of the hole (a sentinel there changes nothing)."""
    height, width = 40, 80
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    plate = np.stack([0.3 + 0.004 * xs, 0.5 + 0.005 * ys, 0.4 + 0.1 * np.sin(xs / 11.0)], -1).astype(
        np.float32
    )
    hole = np.zeros((height, width), bool)
    hole[8:32, 10:70] = True
    hy, hx = np.nonzero(hole)
    propagated = (plate[hy, hx] + 0.05 * np.sin(hy / 3.0)[:, None]).astype(np.float32)
    share = (0.6 * np.abs(hx - 40) / 30.0).astype(np.float32)  # a band of low share down the middle
    case = _case(len(hy))
    case.update(
        unsure=share > 0.001,
        share=share,
        need=np.zeros(0, np.intp),
        beta=np.zeros(0, np.float32),
        got=np.zeros(0, bool),
    )
    points = np.flatnonzero(case["unsure"])
    core = spatial_core(**case)[points]  # type: ignore[arg-type]
    assert (~core).any() and core.any()
    assert (share[points][~core] < SPATIAL_MIN).all() and (share[points][core] >= SPATIAL_MIN).all()
    telea = _Recording(BackendContext())
    telea.holes = []
    py, px = hy[points], hx[points]
    mask = np.zeros((height, width), bool)
    mask[py, px] = True
    inner = np.zeros((height, width), bool)
    inner[py[core], px[core]] = True

    def fill(inner: np.ndarray | None, sentinel: float = 0.0) -> np.ndarray:
        """The spatial fill over the hole's box (the propagated value where it is not asked)."""
        image = plate.copy()
        image[hy, hx] = propagated
        image[py, px] = sentinel  # the unsure pixels' values are never read
        spatial = propagated.copy()
        spatial[points] = _spatial_values(telea, image, mask, 0, py, px, None, 1.0, inner)
        box = np.zeros((height, width, 3), np.float32)
        box[hy, hx] = spatial
        return box[8:32, 10:70]

    before, after = fill(None), fill(inner)
    assert np.array_equal(telea.holes[-1], inner)  # the left-out pixels were not Telea's hole
    assert np.array_equal(fill(inner, sentinel=1e6), after)
    # the left-out pixels hold the membrane of the same crop and hole
    image = plate.copy()
    image[hy, hx] = propagated
    membrane = push_pull_fill(image, ~mask, smooth=True)[8:32, 10:70]
    cut = (~inner & mask)[8:32, 10:70]
    assert np.array_equal(after[cut], membrane[cut])
    # the output: (1 - share) * propagated + share * spatial moves by less than SPATIAL_MIN of the spatial
    # change at the left-out pixels
    weight = share.reshape(24, 60)[..., None]
    moved = np.abs(weight * (after - before))[cut]
    assert moved.max() <= SPATIAL_MIN * np.abs(after - before)[cut].max()
    # no seam in the spatial fill itself: the steps across the column where the route changes are no larger
    # than the steps elsewhere (Telea marches its core from the membrane)
    band = hx[points[~core]] - 10
    steps = np.abs(np.diff(after, axis=1)).max(axis=(0, 2))
    assert max(steps[band.min() - 1], steps[band.max()]) <= np.median(steps)  # Telea's own cut there: ~1.1x
