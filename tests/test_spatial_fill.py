"""The engine's per-frame spatial fill costs what the pixels asked for cost, not what the frame holds."""

from __future__ import annotations

import numpy as np

from aifx_core.inpaint.base import BackendContext
from aifx_core.inpaint.telea import TeleaBackend
from aifx_core.propagate.fallback_route import MOVER_REACH, movers_near


def _plate(height: int, width: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    smooth = np.stack([np.sin(xs / 9.0), np.cos(ys / 7.0), np.sin((xs + ys) / 13.0)], axis=-1)
    return (0.5 + 0.4 * smooth + 0.05 * rng.standard_normal((height, width, 3))).astype(np.float32) * 3.0


def test_telea_on_its_context_crop_gives_the_same_values() -> None:
    """``context_px`` is a promise: the hole's box plus that margin is all Telea reads (also at the frame's
    edge), so the engine may hand it that crop of a large frame."""
    telea = TeleaBackend(BackendContext())
    rgb = _plate(120, 200)
    for top, left in ((40, 70), (0, 0), (100, 180)):
        hole = np.zeros((120, 200), bool)
        hole[top : top + 17, left : left + 20] = True
        hole[top + 5 : top + 9, max(left - 6, 0) : left + 26] = True
        whole = telea.inpaint(rgb, hole)
        ys, xs = np.nonzero(hole)
        m = telea.context_px
        y0, x0 = max(ys.min() - m, 0), max(xs.min() - m, 0)
        y1, x1 = ys.max() + m + 1, xs.max() + m + 1
        crop = telea.inpaint(rgb[y0:y1, x0:x1].copy(), hole[y0:y1, x0:x1])
        assert np.array_equal(crop[ys - y0, xs - x0], whole[ys, xs])
    # ...and a margin one pixel short of it is not the same thing (the promise is not vacuous).
    hole = np.zeros((120, 200), bool)
    hole[50:70, 90:110] = True
    ys, xs = np.nonzero(hole)
    m = telea.context_px - 4
    short = telea.inpaint(
        rgb[50 - m : 70 + m, 90 - m : 110 + m].copy(), hole[50 - m : 70 + m, 90 - m : 110 + m]
    )
    assert not np.array_equal(short[ys - 50 + m, xs - 90 + m], telea.inpaint(rgb, hole)[ys, xs])


def test_only_movers_near_the_asked_pixels_are_handed_to_the_spatial_fill() -> None:
    movers = np.zeros((100, 300), bool)
    movers[10:60, 20:50] = True  # a player next to the asked pixels
    movers[10:60, 200:260] = True  # another far away
    ys, xs = np.mgrid[30:40, 60:70]
    near = movers_near(movers, ys.ravel(), xs.ravel(), MOVER_REACH)
    assert not near[:, 150:].any()  # the far one is left out whole
    # the near one within reach of the points (a square neighbourhood), not beyond
    assert near[30, 49] and near[30 - MOVER_REACH, 60 - MOVER_REACH] and not near[30, 60 - MOVER_REACH - 1]
    assert not (near & ~movers).any()
    assert not movers_near(movers, np.array([90]), np.array([150]), MOVER_REACH).any()
