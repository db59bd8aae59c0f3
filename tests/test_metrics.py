"""PSNR, SSIM and E_warp against cases whose answer is known by hand."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from aifx_core import metrics


def texture(height: int = 120, width: int = 160, seed: int = 0) -> np.ndarray:
    """Smooth random texture on 0..1: trackable by optical flow, not flat."""
    rng = np.random.default_rng(seed)
    big = cv2.GaussianBlur(rng.random((height + 40, width + 40, 3)).astype(np.float32), (0, 0), 2.0)
    big = (big - big.min()) / (big.max() - big.min())
    return big


def test_psnr_identical_is_inf_and_ssim_is_one():
    a = texture()[:100, :100]
    assert metrics.psnr(a, a) == math.inf
    assert metrics.ssim(a, a) == pytest.approx(1.0, abs=1e-12)


def test_psnr_of_a_constant_offset_is_exact():
    a = np.full((10, 12, 3), 0.4, np.float32)
    # MSE = 0.1^2 = 0.01 -> 10*log10(1/0.01) = 20 dB; with peak 2: 10*log10(4/0.01)
    assert metrics.psnr(a, a + 0.1) == pytest.approx(20.0, abs=1e-4)
    assert metrics.psnr(a, a + 0.1, peak=2.0) == pytest.approx(10 * math.log10(400.0), abs=1e-4)


def test_psnr_of_gaussian_noise_matches_its_variance():
    rng = np.random.default_rng(1)
    a = np.full((256, 256, 3), 0.5)
    b = a + rng.normal(0.0, 0.02, a.shape)
    # E[(a-b)^2] = sigma^2 -> PSNR = -10 log10(4e-4) = 33.98 dB
    assert metrics.psnr(a, b) == pytest.approx(-10 * math.log10(0.02**2), abs=0.05)


def test_hole_psnr_uses_only_hole_pixels():
    a = np.full((20, 20, 3), 0.5)
    b = a.copy()
    hole = np.zeros((20, 20), bool)
    hole[5:10, 5:10] = True
    b[~hole] = 0.0  # large errors, all outside the hole
    assert metrics.psnr(a, b, hole) == math.inf
    b = a.copy()
    b[hole] += 0.1  # error only inside: 20 dB in the hole, diluted by the area over the frame
    assert metrics.psnr(a, b, hole) == pytest.approx(20.0, abs=1e-6)
    assert metrics.psnr(a, b) == pytest.approx(20.0 + 10 * math.log10(400 / 25), abs=1e-6)
    assert math.isnan(metrics.psnr(a, b, np.zeros((20, 20), bool)))


def test_ssim_of_two_flat_images_follows_the_formula():
    a = np.full((32, 32, 3), 0.3)
    b = np.full((32, 32, 3), 0.6)
    c1 = 0.01**2
    expected = (2 * 0.3 * 0.6 + c1) / (0.3**2 + 0.6**2 + c1)  # variances are 0: the contrast term is 1
    assert metrics.ssim(a, b) == pytest.approx(expected, rel=1e-4)  # float32 maps


def test_ssim_drops_with_noise_and_hole_ssim_ignores_outside():
    rng = np.random.default_rng(2)
    a = texture(seed=3)
    noisy = np.clip(a + rng.normal(0, 0.05, a.shape), 0, 1)
    noisier = np.clip(a + rng.normal(0, 0.2, a.shape), 0, 1)
    assert 1.0 > metrics.ssim(a, noisy) > metrics.ssim(a, noisier)
    b = a.copy()
    b[:, :60] = noisier[:, :60]  # damage the left part only
    hole = np.zeros(a.shape[:2], bool)
    hole[20:80, 120:180] = True  # far (more than the 11 px window) from the damage
    assert metrics.ssim(a, b, hole) == pytest.approx(1.0, abs=1e-9)
    assert metrics.ssim(a, b) < 0.9


def test_warping_error_is_near_zero_for_a_translation():
    big = texture(seed=4)
    frame_t = big[10:130, 10:170]
    frame_next = big[10:130, 13:173]  # the camera panned 3 px: content moves 3 px left
    motion = metrics.estimate_motion(frame_t, frame_next)
    assert motion.valid.mean() > 0.9
    assert np.median(motion.flow[..., 0]) == pytest.approx(-3.0, abs=0.1)
    assert metrics.warping_error(frame_t, frame_next) < 1e-4


def test_warping_error_measures_flicker():
    rng = np.random.default_rng(5)
    big = texture(seed=6)
    frame_t = big[10:130, 10:170]
    frame_next = big[10:130, 13:173]
    motion = metrics.estimate_motion(frame_t, frame_next)
    sigma = 0.05
    flicker = np.clip(frame_next + rng.normal(0, sigma, frame_next.shape), 0, 1)
    error = metrics.warping_error(frame_t, flicker, motion)
    # Bilinear warping averages neighbouring noise a little, so the error is a bit under sigma^2.
    assert 0.4 * sigma**2 < error < 1.2 * sigma**2
    assert error > 100 * metrics.warping_error(frame_t, frame_next, motion)


def test_in_hole_warping_error_uses_only_hole_pixels():
    rng = np.random.default_rng(7)
    big = texture(seed=8)
    frame_t = big[10:130, 10:170]
    clean_next = big[10:130, 12:172]
    motion = metrics.estimate_motion(frame_t, clean_next)
    hole = np.zeros(frame_t.shape[:2], bool)
    hole[40:80, 60:100] = True
    noise = rng.normal(0, 0.1, clean_next.shape)
    # Noise far outside the hole (the warp samples 2 px to the side): in-hole E_warp stays ~0.
    far = np.ones(hole.shape, bool)
    far[30:90, 50:110] = False
    outside_only = np.clip(clean_next + noise * far[..., None], 0, 1)
    full, inside = metrics.warping_errors(frame_t, outside_only, motion, hole)
    assert inside < 1e-4 < full
    # Noise inside the hole only: the hole value is large, the full-frame one diluted by the area.
    inside_only = np.clip(clean_next + noise * hole[..., None], 0, 1)
    full, inside = metrics.warping_errors(frame_t, inside_only, motion, hole)
    assert inside > 5e-3
    assert full < inside * hole.mean() * 2


def test_sequence_scorer_averages_pairs_and_skips_what_it_cannot_measure():
    big = texture(seed=9)
    frames = [big[10:130, 10 + 2 * t : 170 + 2 * t] for t in range(4)]
    hole = np.zeros(frames[0].shape[:2], bool)
    hole[50:70, 50:70] = True
    scorer = metrics.SequenceScorer()
    for t, frame in enumerate(frames):
        scorer.add(t, frame, None, hole)
    summary = scorer.summary()
    assert math.isnan(summary["psnr"]) and math.isnan(summary["ssim_hole"])  # no reference given
    assert math.isnan(scorer.frames[-1].ewarp)  # the last frame has no next frame
    pairs = [f.ewarp for f in scorer.frames[:-1]]
    assert summary["ewarp"] == pytest.approx(sum(pairs) / 3)
    assert summary["ewarp_hole"] < 1e-3

    with_truth = metrics.SequenceScorer()
    for t, frame in enumerate(frames):
        result = frame.copy()
        result[hole] = 0.5
        with_truth.add(t, result, frame, hole)
    s = with_truth.summary()
    assert s["psnr_hole"] < s["psnr"] < math.inf
    assert s["ssim_hole"] < s["ssim"] < 1.0


def test_display_unit_clips_display_values_and_encodes_linear_ones():
    values = np.array([[[-0.5, 0.5, 3.0]]], np.float32)
    assert metrics.display_unit(values).tolist() == [[[0.0, 0.5, 1.0]]]
    grey = np.full((1, 1, 3), 0.18, np.float32)
    encoded = metrics.display_unit(grey, "Linear Rec.709 (sRGB)")
    assert encoded[0, 0, 0] == pytest.approx(0.4613, abs=0.01)  # sRGB encoding of 18% grey
    hdr = np.full((1, 1, 3), 50.0, np.float32)
    assert 0.9 < metrics.display_unit(hdr, "Linear Rec.709 (sRGB)")[0, 0, 0] <= 1.0


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError):
        metrics.psnr(np.zeros((4, 4, 3)), np.zeros((4, 5, 3)))
    with pytest.raises(ValueError):
        metrics.ssim(np.zeros((4, 4, 3)), np.zeros((4, 4, 3)), np.zeros((3, 3), bool))


def test_sequence_psnr_skips_frames_identical_to_the_reference():
    rng = np.random.default_rng(3)
    truth = rng.random((32, 32, 3)).astype(np.float32)
    noisy = np.clip(truth + rng.normal(0, 0.05, truth.shape), 0, 1).astype(np.float32)
    scorer = metrics.SequenceScorer()
    scorer.add(0, truth.copy(), truth)  # nothing filled on this frame: infinite PSNR
    scorer.add(1, noisy, truth)
    summary = scorer.summary()
    assert math.isfinite(summary["psnr"])
    assert summary["psnr"] == pytest.approx(metrics.psnr(noisy, truth))
