"""Optical flow helpers: estimation with holes, completion, warping, consistency, smooth fill."""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest

from aifx_core.errors import InputError
from aifx_core.flow import (
    DISFlow,
    complete_flow,
    consistency_mask,
    estimate_flow,
    median_side,
    push_pull_fill,
    sample_points,
    warp,
)
from aifx_core.flow.motion import _mismatch
from aifx_core.flow.ops import (
    channel_mask,
    float_grid,
    interleave,
    join_channels,
    median_at_least,
    median_within,
)


def _texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    tex = cv2.GaussianBlur(rng.random((height, width)).astype(np.float32), (0, 0), 2.0)
    tex = (tex - tex.min()) / (tex.max() - tex.min())
    return np.repeat(tex[..., None], 3, axis=-1) * np.array([0.9, 0.7, 0.5], np.float32) + 0.05


def test_flow_completion_recovers_global_motion_inside_holes() -> None:
    big = _texture(220, 280)
    a = big[20:180, 20:240]
    b = big[23:183, 18:238]  # content of a at (x, y) is at (x + 2, y - 3) in b
    hole_a = np.zeros(a.shape[:2], bool)
    hole_a[50:110, 80:140] = True
    hole_b = np.zeros(a.shape[:2], bool)
    hole_b[60:120, 60:120] = True
    # Paint an "object" with its own motion into both holes: the completed flow must ignore it.
    a, b = a.copy(), b.copy()
    a[hole_a] = 0.95
    b[hole_b] = 0.95
    flow = estimate_flow(a, b, hole_a=hole_a, hole_b=hole_b, colorspace="sRGB")
    union = hole_a | hole_b
    error = np.linalg.norm(flow[union] - np.array([2.0, -3.0]), axis=-1)
    assert error.mean() < 0.3
    assert np.percentile(error, 99) < 1.0
    raw = estimate_flow(a, b, hole_a=hole_a, hole_b=hole_b, colorspace="sRGB", complete=False)
    assert np.linalg.norm(raw[union] - np.array([2.0, -3.0]), axis=-1).mean() > error.mean()


def test_complete_flow_reproduces_a_homography_field() -> None:
    height, width = 120, 160
    matrix = np.array([[1.01, 0.02, 3.0], [-0.01, 0.99, -2.0], [1e-5, 2e-5, 1.0]])
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    grid = np.stack([xs, ys], -1).reshape(-1, 1, 2)
    truth = cv2.perspectiveTransform(grid, matrix).reshape(height, width, 2) - np.stack([xs, ys], -1)
    truth = truth.astype(np.float32)
    hole = np.zeros((height, width), bool)
    cv2.circle(hole.view(np.uint8), (70, 60), 25, 1, -1)
    corrupted = truth.copy()
    corrupted[hole] = np.array([40.0, -40.0])  # the removed object's motion
    completed = complete_flow(corrupted, hole)
    assert np.abs(completed[hole] - truth[hole]).max() < 0.05
    far = cv2.dilate(hole.astype(np.uint8), np.ones((61, 61), np.uint8)) == 0
    np.testing.assert_array_equal(completed[far], corrupted[far])


def test_complete_flow_falls_back_to_smooth_fill_when_no_single_motion_fits() -> None:
    height, width = 80, 120
    flow = np.zeros((height, width, 2), np.float32)
    flow[:, :60] = (4.0, 0.0)
    flow[:, 60:] = (-4.0, 0.0)  # two motions meeting at the hole: no homography explains the ring
    hole = np.zeros((height, width), bool)
    hole[30:50, 50:70] = True
    completed = complete_flow(np.where(hole[..., None], 99.0, flow).astype(np.float32), hole)
    assert np.isfinite(completed).all()
    assert np.abs(completed[hole]).max() <= 4.0 + 1e-3  # an interpolation, never outside the ring's range
    assert completed[40, 51, 0] > completed[40, 68, 0]  # varies smoothly from the left motion to the right


def test_warp_follows_the_flow() -> None:
    image = _texture(40, 50)
    flow = np.zeros((40, 50, 2), np.float32)
    flow[..., 0] = 3.0
    flow[..., 1] = -2.0
    warped = warp(image, flow)
    np.testing.assert_allclose(warped[5:35, 0:40], image[3:33, 3:43], atol=1e-6)


def test_consistency_mask_rejects_occluded_pixels() -> None:
    height, width = 40, 60
    fwd = np.zeros((height, width, 2), np.float32)
    bwd = np.zeros((height, width, 2), np.float32)
    fwd[10:20, 10:20, 0] = 6.0  # a square moves 6 px right over a static background
    bwd[10:20, 16:26, 0] = -6.0
    mask = consistency_mask(fwd, bwd, tol=1.0)
    assert mask[10:20, 10:20].all()  # the square itself is seen in both frames
    assert not mask[10:20, 20:26].any()  # background the square covers in B: occluded
    assert mask[25:, :].all() and mask[:, 30:].all()


def test_sample_points_matches_remap_of_the_whole_image() -> None:
    image = _texture(30, 40)
    rng = np.random.default_rng(1)
    xs = rng.uniform(0, 39, 5000).astype(np.float32)
    ys = rng.uniform(0, 29, 5000).astype(np.float32)
    values = sample_points(image, xs, ys)
    x0, y0 = int(np.floor(xs[0])), int(np.floor(ys[0]))
    fx, fy = xs[0] - x0, ys[0] - y0
    expected = (
        (1 - fx) * (1 - fy) * image[y0, x0]
        + fx * (1 - fy) * image[y0, x0 + 1]
        + (1 - fx) * fy * image[y0 + 1, x0]
        + fx * fy * image[y0 + 1, x0 + 1]
    )
    np.testing.assert_allclose(values[0], expected, atol=0.02)
    assert values.shape == (5000, 3)


def test_float_grid_is_mgrid_in_float32() -> None:
    for y0, y1, x0, x1, step in (
        (0, 240, 0, 432, 1),
        (5, 37, 11, 90, 1),
        (0, 1080, 0, 1920, 4),
        (3, 4, 0, 1, 2),
    ):
        ys, xs = float_grid(y0, y1, x0, x1, step)
        want_y, want_x = np.mgrid[y0:y1:step, x0:x1:step].astype(np.float32)
        assert ys.dtype == xs.dtype == np.float32
        assert np.array_equal(ys, want_y) and np.array_equal(xs, want_x)


@pytest.mark.parametrize("n", [16384, 16385, 40000])
def test_sample_points_in_rows_is_bit_identical_to_short_lists(n: int) -> None:
    """Long point lists are sampled in rows (cv2.remap refuses sides of SHRT_MAX): a point's value must not
    depend on how the list was laid out, to the bit (the engine's output may not either)."""
    image = _texture(60, 80)
    rng = np.random.default_rng(n)
    xs = rng.uniform(-2, 81, n).astype(np.float32)
    ys = rng.uniform(-2, 61, n).astype(np.float32)
    whole = sample_points(image, xs, ys)
    pieces = np.concatenate(
        [sample_points(image, xs[i : i + 999], ys[i : i + 999]) for i in range(0, n, 999)]
    )
    assert whole.shape == (n, 3)
    assert np.array_equal(whole, pieces)


def _median_side_of_numpy(values: np.ndarray, threshold: float) -> int:
    with warnings.catch_warnings():  # the median of nothing warns and is NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        median = float(np.median(values))
    return 1 if median >= threshold else -1 if median < threshold else 0


@pytest.mark.parametrize("channels", [1, 2, 3])
def test_channel_mask_copies_what_a_broadcast_mask_copies(channels: int) -> None:
    rng = np.random.default_rng(channels)
    mask = rng.random((37, 53)) < 0.4
    source = rng.standard_normal((37, 53, channels)).astype(np.float32)
    wide = channel_mask(mask, channels)
    assert wide.shape == (37, 53, channels) and wide.dtype == bool
    broadcast, full = np.zeros_like(source), np.zeros_like(source)
    np.copyto(broadcast, source, where=mask[..., None])
    np.copyto(full[5:, 3:], source[5:, 3:], where=wide[5:, 3:])  # (a view, as the completion writes)
    broadcast[:5], broadcast[:, :3] = 0, 0
    np.testing.assert_array_equal(full, broadcast)
    assert full[5:, 3:][~mask[5:, 3:]].max() == 0 and (full[mask] != 0).any()


@pytest.mark.parametrize(
    "dtype", [np.bool_, np.uint8, np.int16, np.int32, np.float32, np.float64, np.float16, np.int64]
)
def test_interleave_and_join_channels_are_numpys_stack_and_concatenate(dtype: type) -> None:
    """OpenCV's merge where it takes the dtype (the same array as NumPy's, NaN and odd shapes included), NumPy's
    own elsewhere: the completion and the fills must not move a pixel."""
    rng = np.random.default_rng(7)
    for shape in [(37, 53), (1, 9), (9, 1), (0, 4), (11,), (3, 4, 5)]:
        planes = [(rng.standard_normal(shape) * 3).astype(dtype) for _ in range(4)]
        if np.dtype(dtype).kind == "f" and planes[0].size:
            planes[1].flat[0] = np.nan
        for count in (1, 2, 3, 4):
            got, want = interleave(planes[:count]), np.stack(planes[:count], axis=-1)
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_array_equal(got, want)
        if len(shape) == 2:
            fields = [np.stack(planes[:2], axis=-1), planes[2][..., None], np.stack(planes[1:], axis=-1)]
            got, want = join_channels(fields), np.concatenate(fields, axis=-1)
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_array_equal(got, want)
    # A strided view (a crop, as the completion passes) and a mask repeated over channels.
    base = rng.random((40, 60)) < 0.5
    view = base[3:31:2, 5:50]
    np.testing.assert_array_equal(channel_mask(view, 3), np.repeat(view[..., None], 3, axis=-1))
    assert channel_mask(view, 3).flags.c_contiguous


def test_median_side_answers_as_numpys_median_does() -> None:
    """Ties, straddling middle values, values on the threshold, odd and even sizes, NaN, empty: the counted
    answer is the one ``np.median`` gives (the chains' and the completion's checks must not move a pixel)."""
    rng = np.random.default_rng(3)
    checked = 0
    for n in (*range(0, 9), 10, 11, 64, 65, 1000, 1001):
        for dtype in (np.float32, np.float64, np.int32):
            for trial in range(12):
                if dtype is np.int32:
                    values = rng.integers(0, 6, n).astype(dtype)
                    threshold = float(rng.integers(0, 7)) + (0.5 if trial % 2 else 0.0)
                else:
                    # Few distinct values near the threshold, so ties and straddles are common.
                    threshold = 10.0 if trial % 3 else float(np.float32(0.1))
                    steps = rng.integers(-3, 4, n)
                    values = (threshold + steps * np.float32(1e-6) * threshold).astype(dtype)
                    if trial % 4 == 0:
                        values = rng.normal(threshold, 1.0, n).astype(dtype)
                if trial == 11 and n > 0 and dtype is not np.int32:
                    values[rng.integers(0, n)] = np.nan
                assert median_side(values, threshold) == _median_side_of_numpy(values, threshold), (
                    n,
                    dtype,
                    trial,
                )
                checked += 1
    # Two middle values whose float32 mean rounds onto the threshold from either side.
    pair = np.array([9.999999, 10.000001], np.float32)
    assert median_side(pair, 10.0) == _median_side_of_numpy(pair, 10.0)
    assert median_side(np.array([1.0, np.inf]), 5.0) == 1
    assert median_side(np.zeros(0, np.float32), 1.0) == 0
    assert checked > 500


def test_median_at_least_is_numpys_median_beyond_its_floor() -> None:
    """Below the floor the floor itself, at or above it (and with NaN) ``np.median``'s value, to the bit: what
    the completion's speed checks and the mover mask's threshold use in place of a median."""
    rng = np.random.default_rng(5)
    for n in (1, 2, 3, 10, 11, 1000, 1001):
        for trial in range(20):
            floor = 10.0 if trial % 2 else 3.0
            values = rng.normal(floor, 2.0 if trial % 3 else 1e-5, n).astype(np.float32)
            if trial == 19:
                values[0] = np.nan
            median = float(np.median(values))
            got = median_at_least(values, floor)
            if median < floor:
                assert got == floor
            else:
                assert got == median or (np.isnan(got) and np.isnan(median))
                assert type(got) is float
    # Below the floor, the floor: so max(0, · - floor) and max(floor, ·) answer as with the median.
    assert median_at_least(np.array([1.0, 2.0, 30.0], np.float32), 10.0) == 10.0
    assert median_at_least(np.array([11.0, 12.0], np.float32), 10.0) == 11.5


def test_median_within_answers_as_numpys_median_does() -> None:
    """``abs(median) <= limit`` by counting: the same answer as ``np.median`` at the float32 values next to
    both limits, on ties, odd and even sizes and NaN (the exposure gain's "no gain" test)."""
    rng = np.random.default_rng(1)
    checked = 0
    for n in (1, 2, 3, 4, 10, 11, 1000, 1001):
        for trial in range(60):
            centre = (0.004, -0.004, 0.0, 0.01, -0.01)[trial % 5]
            scale = (1e-9, 1e-6, 1e-3, 0.1)[trial % 4]
            values = (centre + rng.normal(0.0, scale, n)).astype(np.float32)
            if trial % 7 == 0:  # (ties: half of them one float32 step away)
                values[:] = np.float32(centre)
                values[: n // 2] = np.nextafter(np.float32(centre), np.float32(1))
            if trial % 20 == 1:
                values[0] = np.nan
            assert median_within(values, 0.004) == (abs(float(np.median(values))) <= 0.004), (n, trial)
            checked += 1
    assert median_within(np.array([0.5, -0.001, 0.002], np.float64), 0.004)
    assert checked == 480


@pytest.mark.parametrize("typical", [1.0, 2.9, 3.0, 3.1, 6.0])
def test_mismatch_threshold_as_with_the_median(typical: float) -> None:
    """The mover mask's image check: where B along the flow differs from A by more than max(12, 4 × the
    median difference); below a median of 3 the median itself is never found, and the mask is the same."""
    rng = np.random.default_rng(int(typical * 10))
    height, width, step = 60, 80, 2
    a = rng.uniform(0, 255, (height, width)).astype(np.float32)
    noise = rng.normal(0.0, typical * 1.4826, (height, width)).astype(np.float32)
    b = a + np.abs(noise) * np.where(rng.random((height, width)) < 0.5, 1, -1).astype(np.float32)
    b[20:30, 20:40] += 60.0  # (an object the flow did not follow)
    ys, xs = float_grid(0, height, 0, width, step)
    flow = np.zeros((*xs.shape, 2), np.float32)
    distance = np.full((height, width), 1e6, np.float32)
    got, typical_found = _mismatch((a, b), flow, xs, ys, distance, 5.0, 4.0, step)
    difference = np.abs(a[::step, ::step] - b[::step, ::step])
    median = float(np.median(difference))
    expected = difference > max(12.0, 4.0 * median)
    np.testing.assert_array_equal(got, expected)
    assert got[10:15, 10:20].all()
    # ... and the frame's typical difference, at least 12 / 4 (what mover detection's explained samples read)
    assert typical_found >= 3.0 - 1e-6
    if median > 3.0:
        assert typical_found == pytest.approx(median, rel=1e-6)


def test_push_pull_fill_keeps_known_pixels_and_interpolates_smoothly() -> None:
    ramp = np.tile(np.linspace(0.0, 1.0, 64, dtype=np.float32), (48, 1))
    known = np.ones(ramp.shape, bool)
    known[16:32, 20:44] = False
    holey = np.where(known, ramp, np.nan).astype(np.float32)
    filled = push_pull_fill(holey, known)
    np.testing.assert_array_equal(filled[known], ramp[known])
    assert np.isfinite(filled).all()
    assert np.abs(filled[~known] - ramp[~known]).max() < 0.1
    assert (np.diff(filled[24, 18:46]) > -0.01).all()  # follows the ramp instead of a flat patch


@pytest.mark.parametrize("colorspace", ["Linear Rec.709 (sRGB)", "sRGB Encoded Rec.709 (sRGB)", "Raw"])
def test_tone_map_of_half_values_is_the_direct_path_bit_for_bit(colorspace: str) -> None:
    """The flow grey's tone map looks half-float plates up in a table (estimator._half_table); every half
    value (NaN, ±inf, denormals, highlights far above 1 included), in shuffled frames of odd sizes, must give
    the same bits as the colour conversion itself, and a frame with a value that is no half must too."""
    from aifx_core.colour import to_model
    from aifx_core.flow.estimator import _half_table, _tone_map

    assert _half_table(colorspace) is not None
    every = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float32)
    rng = np.random.default_rng(3)
    for size in (1, 7, 21846, 40001):
        frame = rng.permutation(np.resize(every, 3 * size)).reshape(-1, 3)
        if size == 7:
            frame[3, 1] = 1.0 + 2.0**-20  # no half: the whole frame takes the direct path
        with np.errstate(all="ignore"):
            direct = np.clip(to_model(frame, colorspace), 0.0, 1.0)
            looked_up = _tone_map(frame, colorspace)
        assert looked_up.dtype == np.float32
        np.testing.assert_array_equal(looked_up.view(np.uint32), direct.view(np.uint32))
    assert _half_table("ACEScg") is None  # an OCIO matrix: no table, the direct path


def test_half_bits_are_found_for_every_half_and_for_nothing_else() -> None:
    """The tone map's table is indexed by each value's half-float bits (estimator._half_bits: OpenCV's F16C
    conversion there and back, NumPy where OpenCV lacks it): every half that is not NaN (denormals, ±0, ±inf,
    highlights) gives NumPy's own bits, in frames of any shape, and a frame with one NaN or one value that is
    no half (between two halves, beyond half's range) gives None, so it takes the direct path."""
    from aifx_core.flow.estimator import _half_bits

    every = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float32)
    halves = every[~np.isnan(every)]
    rng = np.random.default_rng(5)
    for shape in ((len(halves) // 3, 3), (7, 11, 3), (5, 9), (1, 1, 3)):
        frame = np.ascontiguousarray(rng.permutation(np.resize(halves, int(np.prod(shape)))).reshape(shape))
        bits = _half_bits(frame)
        assert bits is not None and bits.dtype == np.uint16
        np.testing.assert_array_equal(bits, frame.astype(np.float16).view(np.uint16))
        for odd in (np.nan, 1.0 + 2.0**-20, 70000.0, -1e-9):
            spoiled = frame.copy()
            spoiled.flat[len(spoiled.flat) // 2] = odd
            assert _half_bits(spoiled) is None
        assert _half_bits(np.asfortranarray(frame)) is not None  # (NumPy's path)


def test_luma_is_elementwise_arithmetic_not_a_blas_product() -> None:
    """The flow grey and fusion's reference take luma as (r·wr + g·wg) + b·wb in float32, element by element
    (flow.ops.luma): a ``@`` with the weights would go to BLAS, whose spinning worker threads cost a core's
    share on an idle machine, and whose rounding differs from this in a fifth of the values (so this fails
    if the product comes back). HDR, negative and odd shapes included."""
    from aifx_core.flow.estimator import flow_gray
    from aifx_core.flow.ops import LUMA, luma

    rng = np.random.default_rng(5)
    rgb = (rng.standard_normal((37, 53, 3)) * rng.choice([0.1, 1.0, 300.0], (37, 53, 1))).astype(np.float32)
    r, g, b = (np.float32(w) for w in LUMA)
    expected = (rgb[..., 0] * r + rgb[..., 1] * g) + rgb[..., 2] * b
    out = luma(rgb)
    assert out.dtype == np.float32 and out.shape == (37, 53)
    np.testing.assert_array_equal(out.view(np.uint32), expected.view(np.uint32))
    np.testing.assert_array_equal(luma(rgb.reshape(-1, 3)), expected.ravel())  # (fusion's candidate list)
    tone = np.clip(np.abs(rgb) / 300.0, 0.0, 1.0)  # (a display-referred frame: the tone map keeps it)
    gray, _ = flow_gray(tone, None, (37, 53))
    np.testing.assert_array_equal(gray, np.clip(np.rint(luma(tone) * 255.0), 0, 255).astype(np.uint8))


def test_flow_survives_hdr_and_nan_values() -> None:
    a = _texture(64, 80) * 40.0
    b = np.roll(a, 2, axis=1)
    a[5, 5] = np.nan
    b[10, 10] = np.inf
    flow = estimate_flow(a, b, colorspace="ACEScg")
    assert np.isfinite(flow).all()
    assert abs(float(np.median(flow[8:56, 8:70, 0])) - 2.0) < 0.3


def test_unknown_preset_is_an_input_error() -> None:
    with pytest.raises(InputError, match="preset"):
        DISFlow("turbo")


def test_dis_handles_images_smaller_than_its_patches() -> None:
    a = np.random.default_rng(0).integers(0, 255, (9, 9), dtype=np.uint8)
    flow = DISFlow().estimate(a, a)
    assert flow.shape == (9, 9, 2) and np.isfinite(flow).all()


def test_complete_flow_keeps_layers_apart_where_a_boundary_crosses_the_hole() -> None:
    # Parallax: a far plane (2 px/frame) above a slanted horizon, a nearer band (5 px/frame) below it. One
    # homography fitted to the whole ring would blend the two into a gradient across the hole.
    height, width = 160, 200
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    horizon = 70.0 + 0.2 * (xs - 100.0)
    below = ys > horizon
    truth = np.zeros((height, width, 2), np.float32)
    truth[..., 0] = np.where(below, -5.0, -2.0)
    hole = np.zeros((height, width), bool)
    hole[45:105, 70:130] = True
    corrupted = np.where(hole[..., None], 30.0, truth).astype(np.float32)
    completed = complete_flow(corrupted, hole)
    error = np.hypot(*np.moveaxis(completed - truth, -1, 0))
    off_boundary = hole & (np.abs(ys - horizon) > 6)
    assert np.median(error[off_boundary]) < 0.1
    assert (error[off_boundary] < 0.5).mean() > 0.95


def test_complete_flow_falls_back_to_smooth_fill_on_an_incoherent_ring() -> None:
    # Flow noise with no motion to find (no homography, no layers): the completion must stay an interpolation.
    rng = np.random.default_rng(3)
    flow = rng.uniform(-3.0, 3.0, (80, 120, 2)).astype(np.float32)
    hole = np.zeros((80, 120), bool)
    hole[30:50, 50:70] = True
    completed = complete_flow(np.where(hole[..., None], 99.0, flow).astype(np.float32), hole)
    assert np.isfinite(completed).all()
    assert np.abs(completed[hole]).max() <= 3.0 + 1e-3
    assert completed[hole].std() < 1.0  # smooth, not the noise's own spread (1.7)


def test_between_marks_what_lies_between_two_marked_ring_pixels() -> None:
    """ring_layers._between (a running maximum that carries the nearest ring pixel's code) against its
    definition, walked pixel by pixel: a pixel off the ring is between where its nearest ring pixels on both
    sides, along its row or along its column, are marked. Random rings and marks, ties at the edges."""
    from aifx_core.flow.ring_layers import _between

    def reference(marked: np.ndarray, ring: np.ndarray) -> np.ndarray:
        height, width = ring.shape
        out = np.zeros(ring.shape, bool)
        for y in range(height):
            for x in range(width):
                if ring[y, x]:
                    continue
                for line, marks, at in ((ring[y, :], marked[y, :], x), (ring[:, x], marked[:, x], y)):
                    before = [i for i in range(at) if line[i]]
                    after = [i for i in range(at + 1, len(line)) if line[i]]
                    if before and after and marks[before[-1]] and marks[after[0]]:
                        out[y, x] = True
        return out

    rng = np.random.default_rng(11)
    for _ in range(60):
        height, width = (int(v) for v in rng.integers(1, 24, 2))
        ring = rng.random((height, width)) < rng.random()
        marked = rng.random((height, width)) < rng.random()
        assert np.array_equal(_between(marked, ring), reference(marked, ring))


def test_a_holes_geometry_is_kept_read_only_and_found_again_only_for_the_same_hole() -> None:
    """:mod:`aifx_core.flow.holes` keeps what a pair's completion makes from its hole alone: the next pair with
    the same hole gets the same arrays (read-only: no caller can change what the next one reads), a hole that
    differs in one pixel or other settings gets its own, equal to one made anew."""
    from aifx_core.flow import holes
    from aifx_core.flow.motion import hole_distance

    holes.forget()
    hole = np.zeros((120, 200), bool)
    hole[10:20, 10:22] = True
    hole[80:95, 150:165] = True
    distance = holes.shared_distance(hole)
    assert distance is holes.shared_distance(hole.copy()) and not distance.flags.writeable
    assert np.array_equal(distance, hole_distance(hole))
    kept = holes.geometry(hole, distance, 10, 16, 8.0)
    assert kept is holes.geometry(hole.copy(), distance, 10, 16, 8.0)
    assert (
        len(kept.groups) == 2 and not kept.inside.flags.writeable and not kept.groups[0].ring.flags.writeable
    )
    other = hole.copy()
    other[94, 164] = False
    changed = holes.geometry(other, holes.shared_distance(other), 10, 16, 8.0)
    wider = holes.geometry(hole, distance, 12, 16, 8.0)
    assert changed is not kept and wider is not kept and wider.inside.sum() > kept.inside.sum()
    holes.forget()
    fresh = holes.geometry(hole, hole_distance(hole), 10, 16, 8.0)
    assert fresh is not kept and fresh.crop == kept.crop
    for name in ("near", "inside", "reach", "rings", "unknown", "depth"):
        assert np.array_equal(getattr(fresh, name), getattr(kept, name)), name
    for a, b in zip(fresh.groups, kept.groups, strict=True):
        assert a.box == b.box and np.array_equal(a.ring, b.ring) and np.array_equal(a.voters, b.voters)


def test_the_inverse_homography_has_one_public_home() -> None:
    """``propagate.pair_flow`` inverted a pair's global motion with ``flow.ring_layers._inverse``, another module's
    private helper, imported under a public name: the helper lives beside the other homography helpers in
    ``flow.motion`` as ``inverse_homography``, the one both use. It undoes the motion (a point moved and moved
    back lands where it was) and is None where there is no inverse."""
    from aifx_core.flow import motion, ring_layers
    from aifx_core.propagate import pair_flow

    assert pair_flow.inverse_homography is motion.inverse_homography is ring_layers.inverse_homography
    matrix = np.array([[1.02, 0.03, 4.5], [-0.01, 0.98, -3.0], [2e-5, -1e-5, 1.0]])
    inverse = motion.inverse_homography(matrix)
    assert inverse is not None
    ys, xs = float_grid(0, 40, 0, 60, 7)
    there = motion.homography_flow(matrix, xs, ys)
    back = motion.homography_flow(inverse, xs + there[..., 0], ys + there[..., 1])
    np.testing.assert_allclose(there + back, 0.0, atol=1e-3)
    assert motion.inverse_homography(np.zeros((3, 3))) is None
    assert motion.inverse_homography(np.array([[1.0, 2.0, 0.0], [2.0, 4.0, 0.0], [0.0, 0.0, 1.0]])) is None
