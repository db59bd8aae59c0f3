"""The sharp read of candidates' colours: a bicubic sample held within its four pixels' range, taken where the chain
is sure and the 4x4 pixels it mixes are all readable (``candidates.Source.colours``, ``chain.widened``)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from aifx_core.flow import sample_points, sample_points_sharp
from aifx_core.propagate import candidates
from aifx_core.propagate.candidates import Source
from aifx_core.propagate.chain import footprint, touches_footprint, widened


def _texture(height: int = 48, width: int = 64, dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
    """Fine but band-limited detail (periods of 3.3 to 7 px) sampled at the pixels, moved by (dx, dy): what a
    bilinear read softens between pixels."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    x, y = x + dx, y + dy
    grey = 0.5 + 0.2 * np.sin(1.9 * x + 0.3 * y) + 0.15 * np.sin(0.9 * y - 1.1 * x) + 0.1 * np.cos(1.4 * y)
    return np.stack([grey, 0.8 * grey, 1.2 - grey], axis=-1).astype(np.float32)


def _window_touches(invalid: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """By brute force: whether the 4x4 pixels around each read's floor (clamped to the frame) hold ``invalid``: the
    floor of the position OpenCV reads, rounded to 1/32 px (0.99 is read as 1)."""
    height, width = invalid.shape
    out = np.zeros(len(xs), bool)
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        x0, y0 = round(float(x) * 32) // 32, round(float(y) * 32) // 32
        rows = np.clip(np.arange(y0 - 1, y0 + 3), 0, height - 1)
        cols = np.clip(np.arange(x0 - 1, x0 + 3), 0, width - 1)
        out[i] = invalid[np.ix_(rows, cols)].any()
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_widened_footprint_is_the_4x4_window_around_each_reads_floor(seed: int) -> None:
    rng = np.random.default_rng(seed)
    height, width = 30, 41
    invalid = np.zeros((height, width), bool)
    invalid[rng.integers(0, height, 6), rng.integers(0, width, 6)] = True
    invalid[10:14, 5:9] = True
    if seed == 1:  # holes on the frame's edges: the read replicates them, the box must too
        invalid[0, 17] = invalid[height - 1, 3] = invalid[12, width - 1] = invalid[20, 0] = True
    if seed == 2:
        invalid[:] = False
        invalid[15, 20] = True
    ys, xs = np.mgrid[0:height, 0:width].reshape(2, -1).astype(np.float32)
    for dx, dy in ((0.0, 0.0), (0.5, 0.25), (0.99, 0.7)):
        px = np.minimum(xs + dx, width - 1).astype(np.float32)
        py = np.minimum(ys + dy, height - 1).astype(np.float32)
        got = touches_footprint(widened(footprint(invalid)), px, py)
        np.testing.assert_array_equal(got, _window_touches(invalid, px, py))
    assert (
        footprint(invalid).wide.grown.shape == widened(footprint(invalid)).grown.shape
    )  # (cached, the same)


def test_nothing_blocked_widens_to_nothing_blocked() -> None:
    empty = footprint(np.zeros((12, 9), bool))
    xs, ys = np.array([0.0, 8.0, 4.5], np.float32), np.array([0.0, 11.0, 6.2], np.float32)
    assert not touches_footprint(widened(empty), xs, ys).any()


def test_the_sharp_read_is_exact_at_whole_pixels_and_nearer_the_truth_between_them() -> None:
    image = _texture()
    ys, xs = np.mgrid[4:44, 4:60].reshape(2, -1).astype(np.float32)
    np.testing.assert_array_equal(sample_points_sharp(image, xs, ys), image[ys.astype(int), xs.astype(int)])
    # Between the pixels: the truth at (x + 0.5, y + 0.25) is the same texture sampled there.
    truth = _texture(dx=0.5, dy=0.25)[ys.astype(int), xs.astype(int)]
    sharp = sample_points_sharp(image, xs + 0.5, ys + 0.25)
    soft = sample_points(image, xs + 0.5, ys + 0.25)
    sharp_error = float(np.sqrt(np.mean((sharp - truth) ** 2)))
    soft_error = float(np.sqrt(np.mean((soft - truth) ** 2)))
    assert sharp_error < 0.8 * soft_error


def test_the_sharp_read_never_leaves_the_range_of_its_four_pixels() -> None:
    image = np.zeros((20, 20, 3), np.float32)
    image[:, 10:] = 1.0  # a hard edge: an unheld bicubic read rings past both sides of it
    image[:, 14:] = 0.2
    xs = np.linspace(7.0, 16.0, 91).astype(np.float32)
    ys = np.full_like(xs, 9.3)
    raw = sample_points(image, xs, ys, interpolation=cv2.INTER_CUBIC)
    assert raw.min() < -0.01 and raw.max() > 1.01  # what the hold is for
    held = sample_points_sharp(image, xs, ys)
    x0 = xs.astype(int)
    low = np.minimum(image[9, x0], image[9, np.minimum(x0 + 1, 19)])
    high = np.maximum(image[9, x0], image[9, np.minimum(x0 + 1, 19)])
    assert np.all(held >= low) and np.all(held <= high)


def test_a_sure_chain_reads_sharp_an_unsure_one_soft_and_no_read_mixes_the_hole() -> None:
    image = _texture()
    invalid = np.zeros(image.shape[:2], bool)
    invalid[20:30, 30:40] = True
    image[invalid] = 1e6  # what a hole holds must never reach a colour
    frame = Source(image, invalid, np.ones(3, np.float32), footprint(invalid))
    # Far from the hole; then 1.5 px from it, where a bilinear read is clear and a 4x4 one is not.
    far_x, far_y = np.array([8.5, 50.25], np.float32), np.array([8.5, 40.75], np.float32)
    near_x, near_y = np.array([28.5, 35.0], np.float32), np.array([24.0, 18.5], np.float32)
    xs, ys = np.concatenate([far_x, near_x]), np.concatenate([far_y, near_y])
    assert not touches_footprint(footprint(invalid), xs, ys).any()
    zero = np.zeros(4, np.float32)
    sure = frame.colours(xs, ys, zero, zero)
    soft = sample_points(image, xs, ys)
    np.testing.assert_allclose(sure[:2], sample_points_sharp(image, far_x, far_y), rtol=0, atol=1e-6)
    assert np.abs(sure[:2] - soft[:2]).max() > 1e-3  # (the sharp read differs here)
    np.testing.assert_array_equal(sure[2:], soft[2:])
    assert sure.max() < 2.0
    # A chain a few pixels unsure of where it is reads (almost) bilinear.
    unsure = frame.colours(far_x, far_y, np.full(2, 20.0, np.float32), np.zeros(2, np.float32))
    np.testing.assert_allclose(unsure, soft[:2], rtol=0, atol=0.02 * np.abs(sure[:2] - soft[:2]).max())
    lost = frame.colours(far_x, far_y, np.zeros(2, np.float32), np.full(2, 20.0, np.float32))
    np.testing.assert_allclose(lost, unsure, rtol=0, atol=1e-6)


def test_the_fringe_and_hidden_movers_are_kept_out_of_a_sharp_read() -> None:
    image = _texture()
    nothing = np.zeros(image.shape[:2], bool)
    mover = nothing.copy()
    mover[10:20, 10:20] = True
    xs, ys = np.array([20.5, 40.5], np.float32), np.array([15.0, 30.0], np.float32)
    zero = np.zeros(2, np.float32)
    soft = sample_points(image, xs, ys)
    assert not touches_footprint(footprint(mover), xs, ys).any()  # (a bilinear read may take both)
    for field in ("fringe", "hidden"):
        frame = Source(
            image, nothing, np.ones(3, np.float32), footprint(nothing), **{field: footprint(mover)}
        )
        got = frame.colours(xs, ys, zero, zero)
        np.testing.assert_array_equal(got[0], soft[0])  # its 4x4 pixels reach the mover's box
        np.testing.assert_allclose(got[1], sample_points_sharp(image, xs[1:], ys[1:])[0], rtol=0, atol=1e-6)


def test_sharp_px_zero_reads_bilinear_bit_for_bit(monkeypatch) -> None:
    image = _texture()
    invalid = np.zeros(image.shape[:2], bool)
    frame = Source(image, invalid, np.ones(3, np.float32), footprint(invalid))
    xs, ys = np.array([8.5, 50.25], np.float32), np.array([8.5, 40.75], np.float32)
    zero = np.zeros(2, np.float32)
    monkeypatch.setattr(candidates, "SHARP_PX", 0.0)
    np.testing.assert_array_equal(frame.colours(xs, ys, zero, zero), sample_points(image, xs, ys))
