"""A ring layer seen on a narrow strip only moves by its strip's translation across the hole
(``flow.ring_layers.NARROW_LAYER``, docs/method.md "eleventh pass")."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from aifx_core.flow import ring_layers
from aifx_core.flow.ops import float_grid


def _post_ending_in_the_hole(
    seed: int, noise: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A far plane (1 px/frame) and a near post (5.5 px/frame, 48 px wide) that comes down from the top of the
    frame and ends inside a wide hole: the ring sees the post on one 16-px strip only. The flow carries an
    estimator's smooth noise (what lets eight homography parameters bend off the strip)."""
    height, width = 240, 320
    gy, gx = float_grid(0, height, 0, width)
    post = (gx >= 150) & (gx < 198) & (gy < 120)
    flow = np.zeros((height, width, 2), np.float32)
    flow[..., 0] = np.where(post, -5.5, -1.0)
    rng = np.random.default_rng(seed)
    flow += cv2.GaussianBlur(rng.normal(0.0, 1.0, (height, width, 2)).astype(np.float32), (0, 0), 3.0) * noise
    hole = np.zeros((height, width), bool)
    hole[60:180, 40:280] = True
    ring = (cv2.dilate(hole.astype(np.uint8), np.ones((33, 33), np.uint8)) > 0) & ~hole
    return flow, ring, hole, np.stack([gx, gy])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_layer_seen_on_a_strip_moves_by_the_strips_translation_across_the_hole(seed: int) -> None:
    flow, ring, hole, (gx, gy) = _post_ending_in_the_hole(seed, 0.2)
    motions = ring_layers._layer_motions(flow, ring, gx, gy, [], ring_layers.LayerSettings(), 3)
    post = [m for m in motions if np.median(m[hole][:, 0]) < -3.0]
    assert len(motions) == 2 and len(post) == 1
    inside = post[0][hole]
    # The homography fitted to the strip strayed 0.5-1.4 px from the post's motion over the hole.
    assert np.abs(inside - np.array([-5.5, 0.0], np.float32)).max() < 0.1
    assert np.ptp(inside, axis=0).max() < 1e-4  # one translation, the same everywhere


def test_a_strip_is_narrow_against_its_box_and_a_side_band_is_not() -> None:
    gy, gx = float_grid(0, 400, 0, 700)
    strip_x, strip_y = np.array([100.0, 140.0]), np.array([0.0, 90.0])  # 41 x 91 px of a 700 x 400 box
    assert ring_layers._narrow(strip_x, strip_y, gx, gy)
    band_x, band_y = np.array([0.0, 699.0]), np.array([0.0, 45.0])  # a side band: 46 of 400 px down
    assert not ring_layers._narrow(band_x, band_y, gx, gy)
    assert np.array_equal(
        ring_layers._translation(np.array([[1.0, 2.0], [np.nan, 0.0], [3.0, 4.0]])),
        np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 3.0], [0.0, 0.0, 1.0]]),
    )


def test_without_narrow_the_strip_keeps_its_homography() -> None:
    # What a fast pair (``narrow=False``, whip960: a strip there is mostly a tracked object's edge) still gets.
    flow, ring, hole, (gx, gy) = _post_ending_in_the_hole(2, 0.2)
    motions = ring_layers._layer_motions(flow, ring, gx, gy, [], ring_layers.LayerSettings(), 3, narrow=False)
    post = [m[hole] for m in motions if np.median(m[hole][:, 0]) < -3.0]
    assert post and max(float(np.ptp(inside, axis=0).max()) for inside in post) > 0.5
