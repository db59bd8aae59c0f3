"""A ring layer's own homography may not carry the hole's motion beyond what the ring shows
(``flow.completion.STRAY_MARGIN``, docs/method.md "Thirteenth pass (fast21)")."""

from __future__ import annotations

import cv2
import numpy as np

from aifx_core.flow import completion
from aifx_core.flow.ops import float_grid

HEIGHT, WIDTH = 240, 320


def _pan_with_a_dragged_side(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A fast pan (30 px/frame) around a wide hole whose left side (the ring's band there and beyond) shows a
    slower motion that bends in perspective: DIS dragged towards a pre-filled hole on a blurred frame. A
    homography fitted to that band is moderate on it (4-11 px) and runs away across the hole (its denominator
    nears 0 at the hole's far side). The flow carries an estimator's smooth noise."""
    gy, gx = float_grid(0, HEIGHT, 0, WIDTH)
    flow = np.zeros((HEIGHT, WIDTH, 2), np.float32)
    flow[..., 0] = 30.0
    side = gx < 80
    local = gx - 40.0
    w = 1.0 - local / 260.0  # 0 at x = 300: the homography X -> X / w runs away across the hole
    flow[..., 0] = np.where(side, 4.0 + local / w - local, flow[..., 0])
    rng = np.random.default_rng(seed)
    flow += cv2.GaussianBlur(rng.normal(0.0, 1.0, (HEIGHT, WIDTH, 2)).astype(np.float32), (0, 0), 3.0) * 0.2
    hole = np.zeros((HEIGHT, WIDTH), bool)
    hole[50:190, 80:260] = True
    ring = (cv2.dilate(hole.astype(np.uint8), np.ones((33, 33), np.uint8)) > 0) & ~hole
    return flow, ring, hole, np.stack([gx, gy])


def test_a_ring_layer_fitted_to_a_side_does_not_run_away_across_the_hole() -> None:
    for seed in (0, 1, 2):
        flow, ring, hole, (gx, gy) = _pan_with_a_dragged_side(seed)
        motions = completion._layer_motions(flow, ring, gx, gy, [], completion._Settings(), 4, narrow=False)
        assert len(motions) >= 2
        shown = flow[ring]
        low, high = shown.min(axis=0), shown.max(axis=0)
        for motion in motions:
            inside = motion[hole]
            assert (inside >= low - 15.0).all() and (inside <= high + 15.0).all()


def test_a_plausible_layer_keeps_its_homography() -> None:
    # A zoom seen all round the ring: inside the hole its motion lies between the ring's, and stays a homography.
    gy, gx = float_grid(0, HEIGHT, 0, WIDTH)
    flow = np.stack([0.08 * (gx - 160.0) + 12.0, 0.08 * (gy - 120.0)], axis=-1).astype(np.float32)
    hole = np.zeros((HEIGHT, WIDTH), bool)
    hole[60:180, 100:220] = True
    ring = (cv2.dilate(hole.astype(np.uint8), np.ones((33, 33), np.uint8)) > 0) & ~hole
    box = np.s_[44:196, 84:236]  # the ring's box, as the completion's hole group passes it
    motions = completion._layer_motions(
        flow[box], ring[box], gx[box], gy[box], [], completion._Settings(), 4, narrow=False
    )
    assert len(motions) == 1
    assert np.abs(motions[0] - flow[box]).max() < 0.05
