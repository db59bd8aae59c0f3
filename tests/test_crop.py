"""Crop-to-mask maths: the square sent to a model, at odd plate sizes, at borders, for small plates and for holes
larger than the model size; and the round trip through model space."""

from __future__ import annotations

import numpy as np
import pytest

from aifx_core.colour import from_model, to_model
from aifx_core.inpaint.crop import (
    extract,
    fill_through_crop,
    hole_to_model_size,
    paste,
    plan_crop,
    to_model_size,
)


def _hole(height: int, width: int, rows: slice, cols: slice) -> np.ndarray:
    hole = np.zeros((height, width), bool)
    hole[rows, cols] = True
    return hole


def _covers(window, hole: np.ndarray) -> bool:
    rows, cols = window.plate_box()
    inside = np.zeros_like(hole)
    inside[rows, cols] = True
    return bool(inside[hole].all())


def test_small_hole_in_odd_plate_is_seen_at_native_size_around_the_hole():
    hole = _hole(301, 477, slice(140, 151), slice(230, 247))
    window = plan_crop(hole, model_size=64, multiple=8)
    assert window.side == 64 and window.scale == 1.0
    assert window.top >= 0 and window.top + 64 <= 301 and window.left >= 0 and window.left + 64 <= 477
    assert _covers(window, hole)
    # centred on the hole (within a pixel)
    assert abs((window.top + 32) - 145.5) <= 1 and abs((window.left + 32) - 238.5) <= 1


@pytest.mark.parametrize(
    ("rows", "cols", "expect_top", "expect_left"),
    [
        (slice(0, 5), slice(0, 7), 0, 0),  # top-left corner
        (slice(196, 201), slice(290, 299), 201 - 64, 299 - 64),  # bottom-right corner
        (slice(0, 3), slice(150, 160), 0, None),  # top edge only
    ],
)
def test_window_is_clamped_inside_the_plate_at_borders(rows, cols, expect_top, expect_left):
    hole = _hole(201, 299, rows, cols)
    window = plan_crop(hole, model_size=64, multiple=8)
    assert window.top == expect_top
    if expect_left is not None:
        assert window.left == expect_left
    assert window.plate_box()[0] == slice(window.top, window.top + 64)
    assert _covers(window, hole)
    square = extract(np.arange(201 * 299, dtype=np.float32).reshape(201, 299), window)
    assert square.shape == (64, 64)


def test_plate_smaller_than_model_size_is_padded_by_mirroring_and_pasted_back_exactly():
    height, width = 37, 51
    hole = _hole(height, width, slice(10, 20), slice(5, 9))
    window = plan_crop(hole, model_size=64, multiple=8)
    assert window.side == 64
    assert window.top == -((64 - height) // 2) and window.left == -((64 - width) // 2)
    plate = np.random.default_rng(0).random((height, width, 3)).astype(np.float32)
    square = extract(plate, window)
    assert square.shape == (64, 64, 3)
    rows, cols = window.window_box()
    assert np.array_equal(square[rows, cols], plate)
    # the padding mirrors the plate: the row above the plate is the plate's first row
    assert np.array_equal(square[rows.start - 1, cols], plate[0])
    # the hole is mirrored too, so a mirrored object is filled, not used as context
    hole_square = extract(hole, window)
    assert hole_square.sum() > hole.sum()
    marked = square + 1.0
    assert np.array_equal(paste(plate, marked, window), plate + 1.0)


def test_hole_larger_than_model_size_gets_a_larger_square_downscaled_to_the_model_size():
    hole = _hole(1080, 1920, slice(200, 900), slice(600, 1500))
    window = plan_crop(hole, model_size=512, multiple=8, margin=40)
    assert window.side == 984  # 900 px box + 2 × 40 margin = 980, rounded up to a multiple of 8
    assert window.side % 8 == 0 and window.scale < 1.0
    assert _covers(window, hole)
    square = extract(np.zeros((1080, 1920, 3), np.float32), window)
    assert to_model_size(square, window).shape == (512, 512, 3)


def test_multiple_of_16_and_margin_rounding():
    hole = _hole(400, 400, slice(100, 101), slice(100, 101))
    window = plan_crop(hole, model_size=48, multiple=16, margin=30)
    assert window.side == 64  # 1 + 60 rounded up to 16
    with pytest.raises(ValueError):
        plan_crop(hole, model_size=50, multiple=16)
    with pytest.raises(ValueError):
        plan_crop(np.zeros((10, 10), bool), model_size=16, multiple=8)


def test_a_one_pixel_hole_survives_downscaling():
    hole = _hole(600, 600, slice(0, 500), slice(0, 1))
    hole[599, 599] = True
    window = plan_crop(hole, model_size=64, multiple=8, margin=0)
    assert window.side == 600 and window.scale < 0.11
    small = hole_to_model_size(extract(hole, window), window)
    assert small.shape == (64, 64)
    assert small[-1, -1] and small[:, 0].sum() >= 50


def test_fill_through_crop_calls_the_model_once_at_model_size_and_keeps_the_rest_bit_exact():
    rng = np.random.default_rng(1)
    plate = rng.random((90, 130, 3)).astype(np.float32) * 4.0  # HDR values above 1
    plate[0, 0] = np.nan
    plate[89, 129] = np.inf
    hole = _hole(90, 130, slice(40, 50), slice(60, 70))
    calls = []

    def model_fill(rgb, model_hole):
        calls.append((rgb.shape, model_hole.shape, float(rgb.min()), float(rgb.max())))
        return np.where(model_hole[..., None], 0.5, rgb).astype(np.float32)

    out = fill_through_crop(plate, hole, "linear", model_fill, model_size=64)
    assert len(calls) == 1
    shape, hole_shape, low, high = calls[0]
    assert shape == (64, 64, 3) and hole_shape == (64, 64) and low >= 0.0 and high <= 1.0
    window = plan_crop(hole, 64)
    outside = np.ones((90, 130), bool)
    outside[window.plate_box()] = False
    assert np.array_equal(out[outside], plate[outside], equal_nan=True)
    assert np.isnan(out[0, 0]).all() and np.isinf(out[89, 129]).all()
    # inside the hole: model value 0.5 converted back to scene-linear
    expected = from_model(np.full((1, 1, 3), 0.5, np.float32), "linear")[0, 0]
    assert np.allclose(out[hole], expected, atol=1e-4)
    # inside the square but outside the hole: the model space round trip of the plate (HDR survives)
    ring = ~hole & ~outside
    assert np.allclose(out[ring], plate[ring], rtol=2e-3, atol=1e-4)
    assert out[ring].max() > 3.0


def test_empty_hole_returns_a_copy_without_calling_the_model():
    plate = np.ones((20, 20, 3), np.float32)

    def boom(rgb, hole):
        raise AssertionError("model must not run")

    out = fill_through_crop(plate, np.zeros((20, 20), bool), "sRGB", boom, 16)
    assert np.array_equal(out, plate) and out is not plate


def test_4k_plate_with_a_300px_hole_runs_one_512_square():
    hole = _hole(2160, 3840, slice(1000, 1300), slice(2000, 2300))
    window = plan_crop(hole, model_size=512, multiple=8)
    assert window.side == 512 and window.scale == 1.0
    assert _covers(window, hole)
    model_pixels = window.model_size**2
    assert model_pixels / (2160 * 3840) < 0.04


def test_model_space_conversion_of_the_crop_matches_colour_module():
    plate = np.linspace(0, 8, 64 * 64 * 3, dtype=np.float32).reshape(64, 64, 3)
    hole = _hole(64, 64, slice(30, 34), slice(30, 34))
    seen = {}

    def model_fill(rgb, model_hole):
        seen["rgb"] = rgb.copy()
        return rgb

    fill_through_crop(plate, hole, "ACEScg", model_fill, 64)
    assert np.allclose(seen["rgb"], np.clip(to_model(plate, "ACEScg"), 0, 1), atol=1e-6)


def _white(rgb, model_hole):
    """A model that paints white (diffusers clamps to [0, 1]: any white it paints comes back as exactly 1)."""
    return np.ones_like(rgb)


def test_a_white_fill_on_a_plate_without_highlights_is_diffuse_white_not_256():
    rng = np.random.default_rng(2)
    plate = (0.9 * rng.random((80, 96, 3))).astype(np.float32)  # scene-linear, nothing above 0.9
    hole = _hole(80, 96, slice(30, 50), slice(40, 60))
    for colorspace in ("linear", "ACEScg"):
        out = fill_through_crop(plate, hole, colorspace, _white, model_size=64)
        assert out[hole].max() <= 1.0 + 1e-5, colorspace  # was 256 (model 1.0 = LINEAR_LIMIT)
        assert out[hole].min() >= 0.99, colorspace  # still white, and neutral
    outside = _outside_window_of(hole, 64)
    assert np.array_equal(out[outside], plate[outside])


def test_a_white_fill_may_reach_the_highlights_beside_the_hole_but_not_a_removed_one():
    plate = np.full((80, 96, 3), 0.3, np.float32)
    hole = _hole(80, 96, slice(30, 50), slice(40, 60))
    plate[30:50, 40:60] = 500.0  # the lamp being removed: not context
    out = fill_through_crop(plate, hole, "linear", _white, model_size=64)
    assert out[hole].max() <= 1.0 + 1e-5
    plate[26:29, 40:60] = 20.0  # a sunlit edge just above the hole
    out = fill_through_crop(plate, hole, "linear", _white, model_size=64)
    assert out[hole].min() > 19.0 and out[hole].max() <= 20.0 + 1e-4


def _outside_window_of(hole, size):
    outside = np.ones(hole.shape, bool)
    outside[plan_crop(hole, size).plate_box()] = False
    return outside
