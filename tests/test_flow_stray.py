"""A ring layer's own homography may not carry the hole's motion far beyond what the ring shows
(``flow.ring_layers.STRAY_MARGIN``, docs/method.md "Thirteenth pass (fast21)")."""

from __future__ import annotations

import cv2
import numpy as np

from aifx_core.flow import ring_layers
from aifx_core.flow.motion import homography_flow
from aifx_core.flow.ops import float_grid

HEIGHT, WIDTH = 240, 320


def _ring_and_hole() -> tuple[np.ndarray, np.ndarray]:
    hole = np.zeros((HEIGHT, WIDTH), bool)
    hole[60:180, 100:220] = True
    ring = (cv2.dilate(hole.astype(np.uint8), np.ones((33, 33), np.uint8)) > 0) & ~hole
    return ring, hole


def test_a_fit_whose_denominator_vanishes_inside_the_hole_strays_and_a_smooth_motion_does_not() -> None:
    # The ring of a 30 px/frame pan whose left side was dragged to 4-10 px (blurred DIS beside a pre-filled hole).
    gy, gx = float_grid(0, HEIGHT, 0, WIDTH)
    ring, hole = _ring_and_hole()
    shown = np.where((gx < 100)[..., None], np.float32([7.0, 0.0]), np.float32([30.0, 0.0]))[ring]
    shown[::7, 0] -= 3.0
    # A homography fitted to the dragged side that is the identity at its inner edge (x = 84) and whose
    # denominator 1 - (x - 84) / 130 vanishes at x = 214, inside the hole.
    runaway = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [-1.0 / 130.0, 0.0, 1.0 + 84.0 / 130.0]])
    far = homography_flow(runaway, gx[hole], gy[hole])
    assert np.abs(far[np.isfinite(far)]).max() > 200.0  # (what main carried into the hole)
    assert ring_layers._strays(homography_flow(runaway, gx, gy), shown)
    # The pan itself, and a motion within the ring's range plus its span, are left alone.
    assert not ring_layers._strays(np.broadcast_to(np.float32([30.0, 0.0]), (HEIGHT, WIDTH, 2)), shown)
    assert not ring_layers._strays(np.broadcast_to(np.float32([45.0, 5.0]), (HEIGHT, WIDTH, 2)), shown)
    assert ring_layers._strays(np.broadcast_to(np.float32([90.0, 0.0]), (HEIGHT, WIDTH, 2)), shown)


def test_a_plausible_layer_keeps_its_homography() -> None:
    # A zoom seen all round the ring on a fast pair: inside the hole its motion lies between the ring's, and stays
    # the fitted homography (no translation put in its place).
    gy, gx = float_grid(0, HEIGHT, 0, WIDTH)
    flow = np.stack([0.08 * (gx - 160.0) + 12.0, 0.08 * (gy - 120.0)], axis=-1).astype(np.float32)
    ring, _ = _ring_and_hole()
    box = np.s_[44:196, 84:236]  # the ring's box, as the completion's hole group passes it
    motions = ring_layers._layer_motions(
        flow[box], ring[box], gx[box], gy[box], [], ring_layers.LayerSettings(), 4, narrow=False
    )
    assert len(motions) == 1
    assert np.abs(motions[0] - flow[box]).max() < 0.05
