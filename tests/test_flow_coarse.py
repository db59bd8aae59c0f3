"""Flow completion on a coarse grid (``step``, :data:`aifx_core.flow.completion.PAIR_STEP`): a slow pair's hole
motions are found on every 2nd pixel and brought back to the frame's grid inside the completed region only."""

from __future__ import annotations

import cv2
import numpy as np

from aifx_core.flow import complete_flows, complete_flows_scored, holes
from aifx_core.flow.motion import hole_distance
from aifx_core.flow.ring_layers import FAST_PX


def _homography_field(height: int, width: int, matrix: np.ndarray) -> np.ndarray:
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    grid = np.stack([xs, ys], -1).reshape(-1, 1, 2)
    moved = cv2.perspectiveTransform(grid, matrix).reshape(height, width, 2)
    return (moved - np.stack([xs, ys], -1)).astype(np.float32)


def _squares(height: int, width: int) -> np.ndarray:
    hole = np.zeros((height, width), bool)
    for y in (30, 110):
        for x in (40, 150, 261):  # (odd and even edges: the coarse grid must not lose a hole pixel)
            hole[y : y + 35, x : x + 35] = True
    return hole


def test_a_coarse_completion_recovers_a_slow_homography_and_keeps_the_flow_outside_bit_for_bit() -> None:
    height, width = 180, 330
    # (a zoom of 2 %: a pixel's misplacement between the grids would cost 0.02 px)
    matrix = np.array([[1.02, 0.004, -2.0], [-0.003, 1.02, -1.5], [4e-6, 6e-6, 1.0]])
    forward = _homography_field(height, width, matrix)
    backward = _homography_field(height, width, np.linalg.inv(matrix))
    hole = _squares(height, width)
    given = [np.where(hole[..., None], np.float32(40.0), f).astype(np.float32) for f in (forward, backward)]
    out = complete_flows_scored([g.copy() for g in given], hole, holes=(hole, hole), step=2)
    distance = hole_distance(hole)
    full = complete_flows_scored([g.copy() for g in given], hole, holes=(hole, hole), step=1)
    assert not np.array_equal(out[0], full[0])  # (the coarse grid was used)
    for completed, source, truth in zip(out[:2], given, (forward, backward), strict=True):
        error = np.hypot(*np.moveaxis(completed - truth, -1, 0))
        assert error[hole].max() < 0.01, error[hole].max()
        # Beyond the completed region (the gap around the holes) every value is the one given.
        np.testing.assert_array_equal(completed[distance > 10], source[distance > 10])
        assert not np.array_equal(completed[hole], source[hole])
    for fit in out[2:]:
        assert (fit[distance > 10] == 0).all() and np.isfinite(fit).all() and (fit[hole] > 0).all()


def test_a_coarse_completion_keeps_two_layers_apart_across_the_hole() -> None:
    # Parallax: a far plane (2 px/frame) above a slanted horizon, a nearer band (5 px/frame) below it.
    height, width = 160, 200
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    horizon = 70.0 + 0.2 * (xs - 100.0)
    truth = np.zeros((height, width, 2), np.float32)
    truth[..., 0] = np.where(ys > horizon, -5.0, -2.0)
    hole = np.zeros((height, width), bool)
    hole[45:105, 70:130] = True
    corrupted = np.where(hole[..., None], 30.0, truth).astype(np.float32)
    completed = complete_flows([corrupted], hole, step=2)[0]
    error = np.hypot(*np.moveaxis(completed - truth, -1, 0))
    off_boundary = hole & (np.abs(ys - horizon) > 6)
    assert np.median(error[off_boundary]) < 0.1
    assert (error[off_boundary] < 0.5).mean() > 0.95


def _pan(speed: float) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """A pan at ``speed`` px a frame over six square holes, completed on the coarse and on the full grid."""
    height, width = 180, 330
    forward = _pan_field(height, width, speed)
    hole = _squares(height, width)
    given = np.where(hole[..., None], np.float32(-30.0), forward).astype(np.float32)
    coarse = complete_flows_scored([given.copy(), -given], hole, step=2)
    full = complete_flows_scored([given.copy(), -given], hole, step=1)
    return coarse, full


def _pan_field(height: int, width: int, speed: float) -> np.ndarray:
    """A pan at ``speed`` px a frame with a 1 % zoom (no two pixels' motions alike)."""
    matrix = np.array([[1.01, 0.0, speed - 1.65], [0.0, 1.01, -0.9], [0.0, 0.0, 1.0]])
    return _homography_field(height, width, matrix)


def test_a_fast_pair_is_completed_on_the_frames_own_grid() -> None:
    # (the fringe grows by 0.3 px per px beyond FAST_PX: 4 px here, beyond COARSE_FAST_GAP)
    coarse, full = _pan(FAST_PX + 14.0)
    for a, b in zip(coarse, full, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_pair_just_beyond_fast_is_still_completed_on_the_coarse_grid() -> None:
    # (a fringe grown by 2 px: within COARSE_FAST_GAP)
    coarse, full = _pan(FAST_PX + 7.0)
    assert not np.array_equal(coarse[0], full[0])
    hole = _squares(180, 330)
    truth = _pan_field(180, 330, FAST_PX + 7.0)
    assert np.abs(coarse[0][hole] - truth[hole]).max() < 0.01


def test_the_coarse_geometry_samples_the_frames_ring() -> None:
    """The coarse grid's distances are the frame's own at its pixels (its ring is the frame's ring, sampled),
    and the completed region on the frame's grid is the one at step 1."""
    holes.forget()
    hole = _squares(180, 330)
    distance = holes.shared_distance(hole)
    fine = holes.geometry(hole, distance, 10, 16, 8.0)
    coarse = holes.geometry(hole, distance, 10, 16, 8.0, 2)
    assert coarse is holes.geometry(hole.copy(), distance, 10, 16, 8.0, 2) and coarse is not fine
    (y0, x0), near = coarse.origin, coarse.near
    rows, cols = near.shape
    np.testing.assert_array_equal(near, distance[2 * y0 : 2 * (y0 + rows) : 2, 2 * x0 : 2 * (x0 + cols) : 2])
    full = coarse.full
    assert full is not None and fine.full is None
    assert len(full.index) == fine.inside.sum() == (distance <= 10).sum()
    np.testing.assert_array_equal(full.index, np.flatnonzero(distance <= 10))
    for group in coarse.groups:  # (frame coordinates of the coarse pixels)
        assert group.gy[0, 0] == 2 * group.origin[0] and group.gx[0, 1] == 2 * group.origin[1] + 2
    holes.forget()


def test_a_hole_deeper_than_the_limit_keeps_the_frames_grid() -> None:
    # A disc ~2 x (COARSE_MAX_DEPTH + 6) px across (dollyball960's removed ball is ~200): step 2 is asked for,
    # the frame's grid is used, so the result is that of step 1 bit for bit; a disc within the limit is not.
    from aifx_core.flow.completion import COARSE_MAX_DEPTH

    def completed(radius: int, step: int) -> list[np.ndarray]:
        size = 2 * radius + 80
        matrix = np.array([[1.01, 0.0, -1.5], [0.0, 1.01, -1.0], [0.0, 0.0, 1.0]])
        flows = [_homography_field(size, size, m) for m in (matrix, np.linalg.inv(matrix))]
        hole = np.zeros((size, size), np.uint8)
        cv2.circle(hole, (size // 2, size // 2), radius, (1,), -1)
        mask = hole.astype(bool)
        assert (holes.hole_depth(mask) > COARSE_MAX_DEPTH) == (radius > COARSE_MAX_DEPTH + 1)
        given = [np.where(mask[..., None], np.float32(40.0), f).astype(np.float32) for f in flows]
        return complete_flows_scored(given, mask, holes=(mask, mask), step=step)

    deep = int(COARSE_MAX_DEPTH) + 6
    for coarse, full in zip(completed(deep, 2), completed(deep, 1), strict=True):
        np.testing.assert_array_equal(coarse, full)
    shallow = int(COARSE_MAX_DEPTH) - 8
    assert not np.array_equal(completed(shallow, 2)[0], completed(shallow, 1)[0])
