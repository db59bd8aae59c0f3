"""The direction that matches the seam ring leads where forward and backward disagree (propagate/direction.py)."""

from __future__ import annotations

import numpy as np
import pytest
from propagate_clips import holed_packets, texture

from aifx_core.backends import create_backend
from aifx_core.inpaint import BackendContext
from aifx_core.progress import Reporter
from aifx_core.propagate import direction
from aifx_core.propagate.candidates import Candidates


def _candidates(point: np.ndarray, value: np.ndarray, side: np.ndarray) -> Candidates:
    count = len(point)
    return Candidates(
        point.astype(np.intp),
        value.astype(np.float32),
        side.astype(np.int8),
        np.full(count, 2, np.int16),
        np.zeros(count, np.float32),
        np.zeros(count, np.float32),
        np.zeros(count, np.float32),
    )


def _square(plate_value: float, forward: float, backward: float):
    """A 6x6 hole in a flat 20x20 plate of ``plate_value``, its 2-px ring after it; each point one forward
    candidate of ``forward`` and one backward of ``backward`` (grey)."""
    plate = np.full((20, 20, 3), plate_value, np.float32)
    hole = np.zeros((20, 20), bool)
    hole[7:13, 7:13] = True
    ring = np.zeros_like(hole)
    ring[5:15, 5:15] = True
    ring &= ~hole
    ys = np.concatenate([np.nonzero(hole)[0], np.nonzero(ring)[0]])
    xs = np.concatenate([np.nonzero(hole)[1], np.nonzero(ring)[1]])
    n = len(ys)
    point = np.concatenate([np.arange(n), np.arange(n)])
    value = np.concatenate([np.full((n, 3), forward), np.full((n, 3), backward)])
    side = np.concatenate([np.ones(n), -np.ones(n)])
    return plate, ys, xs, int(hole.sum()), _candidates(point, value, side)


def test_the_direction_that_misses_the_ring_loses_weight_in_and_around_the_hole():
    plate, ys, xs, n_hole, found = _square(0.5, forward=0.9, backward=0.5)
    weight = np.ones(len(found), np.float32)
    out = direction.prefer_matching_direction(found, weight, plate, ys, xs, n_hole, level=0.5)
    forward = found.direction == 1
    assert np.array_equal(out[~forward], weight[~forward])  # the matching side keeps its weight
    # the other: its ring error is 0.8 of the level, 16 tolerances: g = 1 / 257 of the matching side's
    assert out[forward].max() < 0.01
    assert out[forward].min() > 0.0  # scaled down, never dropped


def test_directions_that_match_alike_keep_their_weights():
    plate, ys, xs, n_hole, found = _square(0.5, forward=0.6, backward=0.4)
    weight = np.linspace(0.1, 1.0, len(found)).astype(np.float32)
    out = direction.prefer_matching_direction(found, weight, plate, ys, xs, n_hole, level=0.5)
    np.testing.assert_allclose(out, weight, rtol=1e-5)  # (equal errors: a ratio of one, but for rounding)


def test_no_ring_or_off_changes_nothing(monkeypatch: pytest.MonkeyPatch):
    plate, ys, xs, n_hole, found = _square(0.5, forward=0.9, backward=0.5)
    weight = np.ones(len(found), np.float32)
    inside = found.select(found.point < n_hole)
    alone = direction.prefer_matching_direction(
        inside, weight[: len(inside)], plate, ys[:n_hole], xs[:n_hole], n_hole, 0.5
    )
    assert np.array_equal(alone, weight[: len(inside)])
    monkeypatch.setattr(direction, "TOLERANCE", 0.0)
    assert np.array_equal(
        direction.prefer_matching_direction(found, weight, plate, ys, xs, n_hole, 0.5), weight
    )


def test_huge_values_on_a_dark_frame_leave_the_weights_finite_and_nonzero():
    """A near-black frame (level 1e-6) whose samples hold 2^40 (what a broken grade leaves, as read): the errors are
    ~1e18 levels, whose square overflows float32; neither side is near the ring, so both keep their weights."""
    plate, ys, xs, n_hole, found = _square(0.0, forward=2.0**40, backward=-(2.0**40))
    weight = np.ones(len(found), np.float32)
    with np.errstate(over="raise", invalid="raise"):
        out = direction.prefer_matching_direction(found, weight, plate, ys, xs, n_hole, level=1e-6)
    assert np.array_equal(out, weight)


def test_a_ring_point_is_chosen_for_by_the_points_around_it_not_by_itself():
    ys = np.array([10, 10, 10, 30])
    xs = np.array([10, 11, 12, 30])
    values = np.array([[0.0], [1.0], [0.0], [5.0]], np.float32)
    others = direction._others(ys, xs, values)
    assert others[1, 0] == pytest.approx(0.0, abs=1e-6)  # its neighbours' 0, not its own 1
    assert others[0, 0] == pytest.approx(others[2, 0])  # symmetric neighbours
    assert 0.2 < others[0, 0] < 0.8  # the 1 one pixel away and the 0 two pixels away, Gaussian-weighted
    assert others[3, 0] == 5.0  # alone: its own


def _planted(count: int = 24, arrive: int = 12, pan: int = 2):
    """A textured ground panning ``pan`` px a frame under a static 20-px square hole, and a magenta block that
    lands on the ground at frame ``arrive`` straddling the hole's left edge and then rides with the ground, never
    masked (a foot planted where the hole was): frames, the ground without the block, holes."""
    height, width = 96, 160
    ground = texture(height, width + pan * count + 8, seed=5)
    hole = np.zeros((height, width), bool)
    hole[38:58, 70:90] = True
    frames, truth = [], []
    for t in range(count):
        view = ground[:, pan * t : pan * t + width]
        frame = view.copy()
        if t >= arrive:
            moved = pan * (t - arrive)
            frame[40:56, max(60 - moved, 0) : max(78 - moved, 0)] = (0.95, 0.15, 0.85)
        frames.append(frame)
        truth.append(view)
    return frames, truth, [hole] * count


def _hole_errors(frames, truth, holes) -> list[float]:
    backend = create_backend("propagate", BackendContext(colorspace="sRGB", options={}))
    out = [rgb for _, rgb in backend.fill(iter(holed_packets(frames, holes)), Reporter())]
    return [float(np.mean((rgb - truth[t])[holes[t]] ** 2)) for t, rgb in enumerate(out)]


def test_a_block_planted_later_is_not_fetched_into_the_frames_before_it_landed(
    monkeypatch: pytest.MonkeyPatch,
):
    """Before frame 12 the forward chains of the square's left half reach frames where the block stands on that
    ground; the backward ones reach bare ground, and the ring around the hole is bare ground: the fill before the
    landing follows the backward side (about 0.6x the squared error of the plain fusion over frames 6-11)."""
    frames, truth, holes = _planted()
    preferred = _hole_errors(frames, truth, holes)
    monkeypatch.setattr(direction, "TOLERANCE", 0.0)
    plain = _hole_errors(frames, truth, holes)
    before = slice(6, 12)
    assert np.mean(preferred[before]) < 0.75 * np.mean(plain[before])
    assert max(preferred[10:12]) < 0.6 * min(plain[10:12])
