"""Each stage of the propagate engine alone (candidates → confidence → fusion → fallback → seam), and the
engine on a hard synthetic clip: a fast blurred pan under static holes with an unmasked object crossing them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from propagate_clips import hard_clip, holed_packets

from aifx_core.backends import create_backend
from aifx_core.flow import sample_points
from aifx_core.inpaint import BackendContext, FramePacket
from aifx_core.progress import Reporter
from aifx_core.propagate import fallback_route, pair_flow, pairs
from aifx_core.propagate.candidates import Candidates, Source, gather
from aifx_core.propagate.chain import Chain, Footprint, footprint, touches, touches_footprint
from aifx_core.propagate.confidence import candidate_quality, candidate_weight, pixel_confidence
from aifx_core.propagate.fallback import Patched, blend_weights
from aifx_core.propagate.fusion import fuse, weighted_median_index
from aifx_core.propagate.seam import ring, ring_check, seam_residual


def _translating(shift: float, size=(40, 60)):
    """A chain factory for a plate translating ``shift`` px/frame to the left (flow = -shift everywhere)."""
    flow = np.zeros((*size, 2), np.float32)

    def flows(start: int, direction: int) -> np.ndarray:
        out = flow.copy()
        out[..., 0] = -shift * direction
        return out

    def chain(start, direction, xs, ys, checked=True):
        return Chain(start, direction, xs, ys, flows, size, (1.0, 1.0), 1.0 if checked else float("inf"))

    return chain


def test_candidates_keep_several_per_direction_and_never_read_blocked_pixels() -> None:
    size = (40, 60)
    images = {j: np.full((*size, 3), float(j), np.float32) for j in range(-6, 7)}
    blocked = {j: np.zeros(size, bool) for j in images}
    blocked[2][:, :] = True  # frame 2 is wholly covered by something passing: nothing may come from it

    def source(j: int) -> Source | None:
        return Source(images[j], blocked[j], np.ones(3, np.float32)) if j in images else None

    xs, ys = np.array([30.0, 31.0]), np.array([20.0, 20.0])
    found = gather(0, xs, ys, _translating(1.0), source, radius=6, per_direction=2)
    for point in (0, 1):
        mine = found.point == point
        assert sorted(found.value[mine][:, 0].tolist()) == [-2.0, -1.0, 1.0, 3.0]
        assert sorted(found.steps[mine].tolist()) == [1, 1, 2, 3]
    assert found.travel[found.steps == 3] == pytest.approx(3.0)
    single = gather(0, xs, ys, _translating(1.0), source, radius=6, per_direction=1)
    assert len(single) == 4 and set(single.value[:, 0].tolist()) == {-1.0, 1.0}


def _cands(point, values, direction, steps, fb=None, fit=None) -> Candidates:
    n = len(point)
    return Candidates(
        np.asarray(point, np.intp),
        np.asarray(values, np.float32),
        np.asarray(direction, np.int8),
        np.asarray(steps, np.int16),
        np.asarray(fb if fb is not None else np.zeros(n), np.float32),
        np.zeros(n, np.float32),
        np.asarray(fit if fit is not None else np.zeros(n), np.float32),
    )


def test_quality_falls_with_round_trip_error_and_fit_residual() -> None:
    c = _cands([0, 0, 0], np.zeros((3, 3)), [1, 1, 1], [1, 1, 1], fb=[0, 2, 0], fit=[0, 0, 6])
    quality = candidate_quality(c)
    assert quality[0] == pytest.approx(1.0) and quality[1] < 0.6 and quality[2] < quality[1]
    far = _cands([0, 0], np.zeros((2, 3)), [1, 1], [1, 4])
    weight = candidate_weight(far, candidate_quality(far))
    assert weight[0] == pytest.approx(4 * weight[1])


def test_weighted_median_index_picks_the_median_row_of_each_group() -> None:
    group = np.array([0, 0, 0, 1, 2, 2])
    key = np.array([5.0, 1.0, 3.0, 7.0, 1.0, 9.0])
    weight = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 5.0])
    assert weighted_median_index(group, key, weight, 4).tolist() == [2, 3, 5, -1]


def test_fusion_rejects_the_chain_that_went_through_a_passing_car() -> None:
    grey, car = [0.5, 0.5, 0.5], [0.9, 0.1, 0.1]
    # The nearest forward sample (heaviest) saw the car; three others agree on the background.
    c = _cands([0, 0, 0, 0, 1], [car, grey, grey, grey, grey], [1, 1, -1, -1, 1], [1, 2, 1, 2, 3])
    quality = candidate_quality(c)
    fused = fuse(c, candidate_weight(c, quality), quality, 3, scale=0.5)
    np.testing.assert_allclose(fused.values[0], grey, atol=1e-6)
    assert fused.rejected[0] == pytest.approx(1.0 / (1 + 0.5 + 1 + 0.5))
    assert fused.found.tolist() == [True, True, False]
    assert np.isnan(fused.gap[1]) and fused.gap[0] == pytest.approx(0.0)  # one direction only / agreeing
    assert fused.nearest.tolist() == [1, 3, 0]
    clean = pixel_confidence(fused.align, fused.rejected, fused.gap, fused.nearest)
    assert clean[2] == 0.0 and clean[1] < 1.0
    # A car seen by every candidate of one direction makes the directions disagree: confidence drops.
    split = _cands([0, 0, 0, 0], [car, car, grey, grey], [1, 1, -1, -1], [1, 2, 1, 2])
    q = candidate_quality(split)
    torn = fuse(split, candidate_weight(split, q), q, 1, scale=0.5)
    torn_conf = pixel_confidence(torn.align, torn.rejected, torn.gap, torn.nearest)
    assert np.isfinite(torn.gap[0]) and torn_conf[0] < 0.5 * clean[0]


def test_seam_residual_flags_misaligned_texture_not_a_colour_drift() -> None:
    rng = np.random.default_rng(1)
    plate = cv2.GaussianBlur(rng.random((60, 60)).astype(np.float32), (0, 0), 1.0)
    plate = np.repeat(plate[..., None], 3, axis=2)
    hole = np.zeros((60, 60), bool)
    hole[20:40, 20:40] = True
    ring = cv2.dilate(hole.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool) & ~hole
    ry, rx = np.nonzero(ring)
    hy, hx = np.nonzero(hole)
    real = plate[ry, rx]
    drift = seam_residual(hy, hx, ry, rx, real, real - 0.1, scale=0.5)
    shifted = np.roll(plate, 3, axis=1)[ry, rx]
    misaligned = seam_residual(hy, hx, ry, rx, real, shifted, scale=0.5)
    assert drift.max() < 0.02 and misaligned.mean() > 5 * max(drift.mean(), 1e-3)


def test_low_confidence_patch_blends_with_a_soft_ramp_not_a_cut() -> None:
    ys, xs = np.nonzero(np.ones((40, 40), bool))
    confidence = np.full(len(ys), 0.9, np.float32)
    patch = (ys >= 15) & (ys < 25) & (xs >= 15) & (xs < 25)
    confidence[patch] = 0.0
    found = np.ones(len(ys), bool)
    alpha = blend_weights(ys, xs, confidence, found, 0.1, 0.5, soften=3).reshape(40, 40)
    assert alpha[20, 20] < 0.2 and alpha[2, 2] == pytest.approx(1.0, abs=1e-3)
    assert np.abs(np.diff(alpha, axis=1)).max() < 0.25  # a ramp over several pixels, never a hard edge
    assert np.abs(np.diff(alpha, axis=0)).max() < 0.25
    found[:40] = False  # nothing found: nothing propagated to weigh
    assert (blend_weights(ys, xs, confidence, found, 0.1, 0.5)[:40] == 0).all()


def _hard_packets(clip):
    return holed_packets(clip.frames, clip.holes)


def _flow_outliers(
    forward: np.ndarray, backward: np.ndarray, hole: np.ndarray, side: str = "a", **_: object
) -> np.ndarray:
    """A real (if simple) detector of unmasked movers: flow far from the frame's median motion."""
    median = np.median(forward[~hole], axis=0)
    return (np.hypot(*(forward - median).transpose(2, 0, 1)) > 3.0) & ~hole


def test_a_crossing_object_is_never_painted_into_the_hole(monkeypatch) -> None:
    clip = hard_clip(n=14, pan=10.0, crosser_speed=-4.0)
    monkeypatch.setattr(pair_flow, "_moving_objects", _flow_outliers)
    backend = create_backend("propagate", BackendContext(colorspace="sRGB"))
    results = [rgb for _, rgb in backend.fill(_hard_packets(clip), Reporter())]
    telea = create_backend("telea", BackendContext(colorspace="sRGB"))
    spatial = [rgb for _, rgb in telea.fill(_hard_packets(clip), Reporter())]
    errors, spatial_errors, painted = [], [], 0
    for t, (ours, theirs) in enumerate(zip(results, spatial, strict=True)):
        scored = clip.holes[t] & ~clip.crosser[t]
        truth = clip.background[t][scored]
        errors.append(np.abs(ours[scored] - truth))
        spatial_errors.append(np.abs(theirs[scored] - truth))
        painted += int((np.abs(ours[scored] - truth).max(axis=1) > 0.25).sum())
    ours_mse = float(np.mean(np.concatenate(errors) ** 2))
    theirs_mse = float(np.mean(np.concatenate(spatial_errors) ** 2))
    assert painted == 0  # no pixel of the crosser (or anything else far from the truth) in the fill
    assert ours_mse < theirs_mse / 4  # and far better than a spatial fill
    assert backend.stats["propagated"] > 0


def test_confidence_map_is_one_outside_and_low_where_nothing_was_seen() -> None:
    clip = hard_clip(n=8, pan=0.0, blur=False, crosser_speed=0.0)  # locked off: nothing under the holes seen
    backend = create_backend("propagate", BackendContext(colorspace="sRGB"))
    for t, _rgb in backend.fill(_hard_packets(clip), Reporter()):
        confidence = backend.last_confidence
        assert confidence is not None and confidence.dtype == np.float32
        assert (confidence[~clip.holes[t]] == 1.0).all()
        assert confidence[clip.holes[t]].max() < 0.05
    assert backend.bands["low"] == sum(int(h.sum()) for h in clip.holes)
    panning = hard_clip(n=10, pan=3.0, blur=False, crosser_speed=0.0, crosser_size=(1, 1))
    backend = create_backend("propagate", BackendContext(colorspace="sRGB"))
    inside = [
        backend.last_confidence[h].mean()
        for (_, _), h in zip(backend.fill(_hard_packets(panning), Reporter()), panning.holes, strict=True)
    ]
    assert np.mean(inside) > 0.4


def test_an_unknown_flow_completion_hands_the_hole_to_the_fallback(monkeypatch) -> None:
    from aifx_core.flow import complete_flows

    def unsure(flows, hole, **options):
        completed = complete_flows(flows, hole, **options)
        fit = np.where(hole, np.float32(100.0), np.float32(0.0)).astype(np.float32)
        return (*completed, fit, fit)

    clip = hard_clip(n=10, pan=3.0, blur=False, crosser_speed=0.0, crosser_size=(1, 1))
    sure = create_backend("propagate", BackendContext(colorspace="sRGB"))
    list(sure.fill(_hard_packets(clip), Reporter()))
    monkeypatch.setattr(pair_flow, "_complete_flows_scored", unsure)
    backend = create_backend("propagate", BackendContext(colorspace="sRGB"))
    results = [rgb for _, rgb in backend.fill(_hard_packets(clip), Reporter())]
    total = sum(int(h.sum()) for h in clip.holes)
    assert sure.stats["propagated"] > 0.5 * total
    assert backend.stats["propagated"] < 0.05 * total  # nothing trusted where the flow was a guess
    assert backend.bands["low"] > 0.9 * total
    for rgb, frame in zip(results, clip.frames, strict=True):
        assert np.isfinite(rgb).all() and np.array_equal(rgb[~clip.holes[0]], frame[~clip.holes[0]])


def _square_with_ring(size: int = 60, side: int = 20, width: int = 4):
    hole = np.zeros((size, size), bool)
    start = (size - side) // 2
    hole[start : start + side, start : start + side] = True
    grown = cv2.dilate(hole.astype(np.uint8), np.ones((2 * width + 1, 2 * width + 1), np.uint8)).astype(bool)
    return hole, grown & ~hole


def test_ring_check_tells_a_rigid_background_from_content_other_frames_do_not_show() -> None:
    rng = np.random.default_rng(4)
    plate = cv2.GaussianBlur(rng.random((60, 60, 3)).astype(np.float32), (0, 0), 1.5)
    hole, ring = _square_with_ring()
    ry, rx = np.nonzero(ring)
    hy, hx = np.nonzero(hole)
    real = plate[ry, rx]
    # Rigid: another frame saw the same texture (a little noise and an exposure drift, which does not count).
    seen = real * 1.1 + rng.normal(0, 0.003, real.shape).astype(np.float32)
    rigid = ring_check(hy, hx, ry, rx, real, seen, scale=0.5)
    # Non-rigid: the other frames show the same kind of texture, but not this one (water, foliage).
    other = cv2.GaussianBlur(rng.random((60, 60, 3)).astype(np.float32), (0, 0), 1.5)[ry, rx]
    boiling = ring_check(hy, hx, ry, rx, real, other, scale=0.5)
    assert rigid.max() < 0.35 and boiling.mean() > 1.0 and boiling.min() > 0.7
    # An unmasked object on the ring's left side (the other frames show it elsewhere): the hole's left half
    # is judged no better than a blur, its right half keeps trusting propagation.
    crossing = rx < 25
    crossed = ring_check(hy, hx, ry, rx, real, seen, scale=0.5, crossing=crossing)
    left, right = crossed[hx < 25].mean(), crossed[hx >= 35].mean()
    assert left > 1.0 and right < 0.5 * left


def test_a_slow_crosser_in_the_hole_follows_the_spatial_fill_not_the_background(monkeypatch) -> None:
    """Where an unmasked object stands in the hole, the truth is the object: the fill must be no worse than
    the frame's own spatial fill there (before the ring check: twice Telea's error, background pasted)."""
    clip = hard_clip(n=14, pan=10.0, crosser_speed=-1.5)
    monkeypatch.setattr(pair_flow, "_moving_objects", _flow_outliers)
    backend = create_backend("propagate", BackendContext(colorspace="sRGB"))
    results = [rgb for _, rgb in backend.fill(_hard_packets(clip), Reporter())]
    telea = create_backend("telea", BackendContext(colorspace="sRGB"))
    spatial = [rgb for _, rgb in telea.fill(_hard_packets(clip), Reporter())]
    ours, theirs, background = [], [], []
    for t, (rgb, blur) in enumerate(zip(results, spatial, strict=True)):
        covered = clip.holes[t] & clip.crosser[t]
        truth = clip.frames[t][covered]
        ours.append(rgb[covered] - truth)
        theirs.append(blur[covered] - truth)
        background.append(clip.background[t][covered] - truth)
    mse = [float(np.mean(np.concatenate(e) ** 2)) for e in (ours, theirs, background)]
    assert sum(len(e) for e in ours) > 1000  # the crosser does stand in the holes
    assert mse[0] < 1.15 * mse[1] and mse[0] < 0.5 * mse[2]
    assert backend.stats["spatial"] + backend.stats["blended"] > 0


def test_the_spatial_share_changes_smoothly_in_time_as_a_crosser_reaches_the_hole(monkeypatch) -> None:
    """A crosser reaching a hole's ring flips the ring check within a frame or two; the share a pixel takes
    of the spatial fill ramps (1-2-1 over neighbouring frames) instead of jumping wholly."""
    clip = hard_clip(n=14, pan=10.0, crosser_speed=-1.5)
    monkeypatch.setattr(pair_flow, "_moving_objects", _flow_outliers)
    raw: dict[int, np.ndarray] = {}
    smooth: dict[int, np.ndarray] = {}
    weights = fallback_route.FallbackRoute.weights

    def recording(route, t):
        alpha, share = weights(route, t)
        prop = route.propagated(t)
        for store, values in ((raw, prop.spatial), (smooth, share)):
            image = np.zeros(clip.holes[t].shape, np.float32)
            image[prop.ys, prop.xs] = values
            store[t] = image
        return alpha, share

    monkeypatch.setattr(fallback_route.FallbackRoute, "weights", recording)
    backend = create_backend("propagate", BackendContext(colorspace="sRGB"))
    list(backend.fill(_hard_packets(clip), Reporter()))
    hole = clip.holes[0]
    frames = sorted(smooth)
    raw_jump = np.abs(np.diff([raw[t][hole] for t in frames], axis=0)).max()
    smooth_jump = np.abs(np.diff([smooth[t][hole] for t in frames], axis=0)).max()
    assert raw_jump > 0.9  # the cue itself does flip
    assert smooth_jump <= 0.5 + 1e-6
    inner = frames[1:-1]
    for t in inner:  # the average, exactly (a static hole: every neighbour has the pixel)
        expected = 0.25 * (raw[t - 1] + 2 * raw[t] + raw[t + 1])
        np.testing.assert_allclose(smooth[t][hole], expected[hole], atol=1e-6)


def test_fallback_thresholds_scale_per_pixel_and_only_raise_the_propagated_weight() -> None:
    ys, xs = np.nonzero(np.ones((30, 30), bool))
    confidence = np.linspace(0.0, 0.1, len(ys)).astype(np.float32)
    found = np.ones(len(ys), bool)
    plain = blend_weights(ys, xs, confidence, found, 0.01, 0.06, soften=0)
    same = blend_weights(ys, xs, confidence, found, 0.01, 0.06, soften=0, scale=np.ones(len(ys), np.float32))
    np.testing.assert_allclose(same, plain, atol=1e-6)
    quarter = np.full(len(ys), 0.25, np.float32)
    scaled = blend_weights(ys, xs, confidence, found, 0.01, 0.06, soften=0, scale=quarter)
    # Thresholds a quarter as high: 0.0025 → 0.015 instead of 0.01 → 0.06.
    np.testing.assert_allclose(
        scaled, blend_weights(ys, xs, confidence, found, 0.0025, 0.015, soften=0), atol=1e-6
    )
    assert (scaled >= plain - 1e-6).all() and (scaled > plain + 0.1).any()
    softened = blend_weights(ys, xs, confidence, found, 0.01, 0.06, soften=3, scale=quarter)
    assert (softened >= blend_weights(ys, xs, confidence, found, 0.01, 0.06, soften=3) - 1e-6).all()


def test_propagation_gives_way_only_to_a_fallback_surer_than_itself(monkeypatch) -> None:
    """The flow is right but scored unsure (a fit residual of 20 px in the hole), so propagated values have a low
    confidence (about 0.02) and so has the keyframe content carried along the same flow: the fallback is mostly
    the frame's own blur. Propagation must not give way to that blur (as it did with the thresholds alone):
    the fallback thresholds are scaled by how well the fallback was carried."""
    from aifx_core.flow import complete_flows

    def unsure(flows, hole, **options):
        completed = complete_flows(flows, hole, **options)
        fit = np.where(hole, np.float32(20.0), np.float32(0.0)).astype(np.float32)
        return (*completed, fit, fit)

    clip = hard_clip(n=10, pan=3.0, blur=False, crosser_speed=0.0, crosser_size=(1, 1))
    monkeypatch.setattr(pair_flow, "_complete_flows_scored", unsure)
    trust = fallback_route.CARRY_TRUST
    assert trust < 1.0

    def run(carry_trust: float):
        monkeypatch.setattr(fallback_route, "CARRY_TRUST", carry_trust)
        backend = create_backend("propagate", BackendContext(colorspace="sRGB"))
        results = [rgb for _, rgb in backend.fill(_hard_packets(clip), Reporter())]
        error = np.concatenate([(rgb - clip.background[t])[clip.holes[t]] for t, rgb in enumerate(results)])
        return float(np.mean(error**2)), backend.stats

    plain_mse, plain = run(1.0)  # the thresholds alone: every hole pixel blends towards the fallback
    mse, stats = run(trust)
    assert plain["propagated"] == 0 and stats["propagated"] > 0
    assert mse < 0.5 * plain_mse


def _first_pair_inputs() -> tuple[tuple[int, int], list]:
    """The frame size and the two frames' flow inputs (grey, working hole, hole, thumbnail, its hole) of a
    two-frame hard clip, as :func:`.pair_flow.pair_flow` takes them."""
    from aifx_core.flow import flow_gray

    clip = hard_clip(n=2)
    height, width = clip.frames[0].shape[:2]
    inputs = []
    for rgb, hole in zip(clip.frames, clip.holes, strict=True):
        gray, small = flow_gray(rgb, hole, (height, width), "sRGB")
        inputs.append(pair_flow.FlowInput(gray, small, hole, rgb, hole))
    return (height, width), inputs


def test_a_pair_makes_its_holes_distance_transform_once(monkeypatch) -> None:
    """Counted, not timed: the union hole's distance transform is made once per pair and shared by the flow
    completion and the mover detections (the first pair runs two: frames 0 and 1); it was made five times.
    A next pair with the same hole (a static hole) makes none: it is kept (:mod:`aifx_core.flow.holes`),
    with the completion's crop, groups and rings, and gives the same flows."""
    from aifx_core.flow import DISFlow, completion, holes, motion

    (height, width), inputs = _first_pair_inputs()
    made: list[np.ndarray] = []
    real = motion.hole_distance

    def counting(hole: np.ndarray) -> np.ndarray:
        made.append(hole.copy())
        return real(hole)

    for module in (motion, completion, pairs, holes):
        monkeypatch.setattr(module, "hole_distance", counting, raising=False)
    holes.forget()
    done = pair_flow.pair_flow(DISFlow(), (height, width), False, 0, inputs[0], inputs[1])
    union = inputs[0].small_hole | inputs[1].small_hole
    assert union.any() and done.fits is not None
    assert sum(np.array_equal(hole, union) for hole in made) == 1
    again = pair_flow.pair_flow(DISFlow(), (height, width), False, 0, inputs[0], inputs[1])
    assert sum(np.array_equal(hole, union) for hole in made) == 1
    assert np.array_equal(again.forward, done.forward) and np.array_equal(
        again.fits[1].full(), done.fits[1].full()
    )
    holes.forget()
    fresh = pair_flow.pair_flow(DISFlow(), (height, width), False, 0, inputs[0], inputs[1])
    assert sum(np.array_equal(hole, union) for hole in made) == 2
    assert np.array_equal(fresh.backward, done.backward) and np.array_equal(
        fresh.fits[0].full(), done.fits[0].full()
    )


def test_a_pair_blurs_its_two_grey_images_once(monkeypatch) -> None:
    """Counted, not timed: the mover masks' smoothed grey images (a 5x5 Gaussian of each frame) are made once
    per pair and shared by the completion's two mover masks and the mover detections (the first pair runs
    two); each mask blurred both images itself before (eight blurs on the first pair)."""
    import cv2

    from aifx_core.flow import DISFlow

    (height, width), inputs = _first_pair_inputs()
    blurred: list[np.ndarray] = []
    real = cv2.GaussianBlur

    def counting(image: np.ndarray, ksize, sigma, *args, **kwargs) -> np.ndarray:
        if tuple(ksize) == (5, 5) and image.dtype == np.uint8:
            blurred.append(image)
        return real(image, ksize, sigma, *args, **kwargs)

    monkeypatch.setattr(cv2, "GaussianBlur", counting)
    done = pair_flow.pair_flow(DISFlow(), (height, width), False, 0, inputs[0], inputs[1])
    assert done.fits is not None
    assert len(blurred) == 2
    assert {id(image) for image in blurred} == {id(inputs[0].gray), id(inputs[1].gray)}
    # With neither the completion nor the mover detection (hooks set to None), nothing reads them: no blur.
    blurred.clear()
    monkeypatch.setattr(pair_flow, "_complete_flows_scored", None)
    monkeypatch.setattr(pair_flow, "_moving_objects", None)
    done = pair_flow.pair_flow(DISFlow(), (height, width), False, 0, inputs[0], inputs[1])
    assert done.fits is None and not done.movers and blurred == []


def test_a_frames_blocked_map_is_made_once_per_movers_and_dropped_with_its_plate() -> None:
    """``_Frame.blocked`` (read on every access to a frame as a source) is cached while the plate is held: the
    same read-only array each time, remade when the movers change, not kept once the plate is released."""
    size = (8, 10)
    invalid = np.zeros(size, bool)
    invalid[2:4, 2:4] = True
    rgb = np.zeros((*size, 3), np.float32)
    frame = pairs._Frame(
        FramePacket(1, rgb, invalid), rgb, invalid, np.zeros(size, np.uint8), invalid, rgb, invalid, 1.0
    )
    assert frame.blocked is invalid  # (no movers: the invalid map itself)
    movers = np.zeros(size, bool)
    movers[5, 5:8] = True
    frame.movers = movers
    first = frame.blocked
    assert np.array_equal(first, invalid | movers) and not first.flags.writeable
    assert frame.blocked is first
    frame.movers = other = np.zeros(size, bool)
    other[0, 0] = True
    assert np.array_equal(frame.blocked, invalid | other) and frame.blocked is not first
    frame.release()
    assert np.array_equal(frame.blocked, invalid | other) and frame.blocked is not frame.blocked


def _whole(box: Footprint, shape: tuple[int, int]) -> np.ndarray:
    """A footprint's map over the whole frame (its box, False elsewhere)."""
    whole = np.zeros(shape, bool)
    height, width = box.grown.shape
    whole[box.y0 : box.y0 + height, box.x0 : box.x0 + width] = box.grown
    return whole


def test_a_footprint_answers_touches_with_one_read() -> None:
    """``chain.footprint`` grows a map by a bilinear read's 2x2 footprint (the last row and column clamped, as
    ``touches`` clamps), so one read of it says what ``touches``' four reads say, at every position; it keeps
    only the box around the map's pixels, which positions outside it read as False."""
    rng = np.random.default_rng(3)
    for size in ((1, 1), (1, 6), (6, 1), (9, 13), (30, 40)):
        for share in (0.0, 0.05, 0.3, 0.8):
            for box in (np.s_[:, :], np.s_[12:15, 20:22], np.s_[0:2, 35:], np.s_[27:, 0:1], np.s_[5:6, 39:]):
                invalid = np.zeros(size, bool)
                invalid[box] = rng.random(invalid[box].shape) < share
                ys, xs = np.mgrid[0 : size[0] : 0.25, 0 : size[1] : 0.25]
                xs, ys = xs.ravel().astype(np.float32), ys.ravel().astype(np.float32)
                expected = touches(invalid, xs, ys)
                assert np.array_equal(touches_footprint(footprint(invalid), xs, ys), expected)
                source = Source(
                    np.zeros((*size, 3), np.float32), invalid, np.ones(3, np.float32), footprint(invalid)
                )
                assert np.array_equal(source.touches(xs, ys), expected)
    # One invalid pixel blocks the reads whose floor is it, left of it, above it, or diagonally above-left.
    single = np.zeros((40, 50), bool)
    single[20, 30] = True
    held = footprint(single)
    assert np.argwhere(_whole(held, single.shape)).tolist() == [[19, 29], [19, 30], [20, 29], [20, 30]]
    assert held.grown.shape == (4, 4)  # (the box and its False margin, not the frame)
    assert footprint(np.zeros((40, 50), bool)).grown.shape == (1, 1)


def test_a_frames_footprint_is_made_once_per_movers_and_dropped_with_its_plate() -> None:
    """``_Frame.footprint`` (read by every chain step that reads the frame) is kept like ``blocked``: made once
    per movers, read-only, and not kept once the plate is released."""
    size = (8, 10)
    invalid = np.zeros(size, bool)
    invalid[2:4, 2:4] = True
    rgb = np.zeros((*size, 3), np.float32)
    frame = pairs._Frame(
        FramePacket(1, rgb, invalid), rgb, invalid, np.zeros(size, np.uint8), invalid, rgb, invalid, 1.0
    )
    first = frame.footprint
    assert _same(first, footprint(invalid))
    assert not first.grown.flags.writeable
    assert frame.footprint is first
    frame.movers = movers = np.zeros(size, bool)
    movers[6, 6] = True
    second = frame.footprint
    assert second is not first and _same(second, footprint(invalid | movers))
    assert frame.footprint is second
    frame.release()
    assert _same(frame.footprint, second) and frame.footprint is not frame.footprint


@pytest.mark.parametrize("order", ["plate first", "flows first"])
def test_a_frames_hole_is_dropped_once_its_plate_and_flow_inputs_are(order: str) -> None:
    """The full-resolution hole and ``invalid`` map of a frame are dropped when both its plate is released and
    its pairs' flows are made (in either order), not before: the flows read the hole, a source's ``blocked``
    reads ``invalid``. Afterwards every read of them (``hole``, ``invalid``, ``blocked``, a pair's flow input)
    is a ContextError, never an empty array; the frame number stays."""
    size = (8, 10)
    hole = np.zeros(size, bool)
    hole[2:4, 2:4] = True
    rgb = np.zeros((*size, 3), np.float32)
    frame = pairs._Frame(FramePacket(7, rgb, hole), rgb, hole, np.zeros(size, np.uint8), hole, rgb, hole, 1.0)
    frame.movers = np.zeros(size, bool)
    first, second = (frame.release, frame.drop_flow_input)[:: 1 if order == "plate first" else -1]
    first()
    assert frame.hole is hole and frame.invalid is hole and frame.hole_held
    assert np.array_equal(frame.blocked, hole)
    second()
    assert not frame.hole_held and frame.packet.frame == 7 and frame.packet.hole.size == 0
    for read in (
        lambda: frame.hole,
        lambda: frame.invalid,
        lambda: frame.blocked,
        lambda: pairs._flow_input(frame),
    ):
        with pytest.raises(pairs.ContextError):
            read()


def _same(a: Footprint, b: Footprint) -> bool:
    return (a.y0, a.x0) == (b.y0, b.x0) and np.array_equal(a.grown, b.grown)


def test_fusion_takes_the_nearest_inlier_not_the_nearest_sample() -> None:
    """``nearest`` is the fewest frames to an inlier of the point (an outlier nearer does not count; 0: none)."""
    grey, car = [0.5, 0.5, 0.5], [0.9, 0.1, 0.1]
    c = _cands(
        [0, 0, 0, 0, 1, 1], [car, grey, grey, grey, grey, grey], [1, 1, -1, -1, -1, 1], [1, 3, 4, 2, 5, 4]
    )
    quality = candidate_quality(c)
    fused = fuse(c, candidate_weight(c, quality), quality, 3, scale=0.5)
    assert fused.nearest.tolist() == [2, 4, 0] and fused.nearest.dtype == np.int16
    rng = np.random.default_rng(5)
    n, m = 40, 300
    point = rng.integers(0, n - 5, m)
    values = rng.choice([0.2, 0.21, 0.9], size=(m, 1)) * np.ones((1, 3))
    c = _cands(point, values, rng.choice([1, -1], m), rng.integers(1, 13, m))
    quality = candidate_quality(c)
    weight = candidate_weight(c, quality)
    fused = fuse(c, weight, quality, n, scale=0.5)
    reference = weighted_median_index(point, c.value[:, 0], weight, n)
    for p in range(n):
        rows = np.flatnonzero(point == p)
        inliers = [r for r in rows if abs(c.value[r, 0] - c.value[reference[p], 0]) / 0.5 <= 0.25]
        assert fused.nearest[p] == (min(c.steps[r] for r in inliers) if inliers else 0)


def test_a_keyframe_image_reads_as_the_whole_filled_frame() -> None:
    """``fallback.Patched`` (a keyframe's image: the shared plate and a box around the hole with the fill) gives
    what the whole filled frame gives, bit for bit: ``sample`` as ``sample_points`` on it, at positions all over
    the frame and within 1/64 px of pixel edges (OpenCV rounds a position to 1/32 px first), and ``at`` /
    ``hole_values`` as indexing it; holes in the middle, on every border, and none."""
    rng = np.random.default_rng(11)
    height, width = 30, 41
    plate = rng.random((height, width, 3), dtype=np.float32)
    plate_before = plate.copy()
    grid = np.mgrid[0 : height - 1 : 0.37, 0 : width - 1 : 0.29].reshape(2, -1).astype(np.float32)
    edges = np.arange(width, dtype=np.float32)[:, None] + np.float32([-1 / 64, -1 / 128, 0, 1 / 64, 1 / 32])
    ey = np.repeat(np.float32(height // 2), edges.size)
    ys = np.concatenate([grid[0], ey, rng.random(500, np.float32) * (height - 1)])
    xs = np.concatenate(
        [grid[1], np.clip(edges.ravel(), 0, width - 1), rng.random(500, np.float32) * (width - 1)]
    )
    for box in (
        np.s_[10:14, 15:21],
        np.s_[0:3, 0:5],
        np.s_[26:, 37:],
        np.s_[:, 20:22],
        np.s_[5:6, 40:],
        None,
    ):
        hole = np.zeros((height, width), bool)
        if box is not None:
            hole[box] = rng.random(hole[box].shape) < 0.8
            hole[box][0, 0] = True
        hy, hx = np.nonzero(hole)
        values = rng.random((len(hy), 3), dtype=np.float32) * 5
        whole = plate.copy()
        whole[hole] = values
        image = Patched(plate, hy, hx, values)
        assert np.array_equal(image.sample(xs, ys), sample_points(whole, xs, ys))
        # (points all near the hole, and all far from it: the paths that read only the box, only the plate)
        near_x, near_y = hx.astype(np.float32) + 0.6, hy.astype(np.float32) - 0.3
        near_x, near_y = np.minimum(near_x, width - 1), np.maximum(near_y, 0)
        assert np.array_equal(image.sample(near_x, near_y), sample_points(whole, near_x, near_y))
        far = (np.abs(xs - 20) > 25) if box is None else slice(0, 3)
        assert np.array_equal(image.sample(xs[far], ys[far]), sample_points(whole, xs[far], ys[far]))
        iy, ix = ys.astype(np.intp), xs.astype(np.intp)
        assert np.array_equal(image.at(iy, ix), whole[iy, ix])
        assert np.array_equal(image.at(hy, hx), whole[hy, hx])
        assert np.array_equal(image.hole_values(hole), whole[hole])
        if box is not None and box != np.s_[:, 20:22]:
            assert image.box.size < whole.size // 4  # (the box around the hole, not the frame)
    assert np.array_equal(plate, plate_before)  # (the shared plate is never written)


def test_the_seam_ring_from_the_holes_points_is_the_ring_of_the_hole() -> None:
    """``seam.ring`` given the hole's ``np.nonzero`` (which the engine has made already) finds what it finds
    from the hole itself: holes in the middle, on the borders, two apart; the invalid pixels left out."""
    rng = np.random.default_rng(7)
    for box in (np.s_[10:14, 15:21], np.s_[0:3, 0:5], np.s_[26:, 37:], np.s_[:, 20:22]):
        hole = np.zeros((30, 41), bool)
        hole[box] = rng.random(hole[box].shape) < 0.7
        hole[3, 30] = True
        invalid = hole | (rng.random(hole.shape) < 0.1)
        for width in (1, 4):
            expected = ring(hole, invalid, width)
            given = ring(hole, invalid, width, np.nonzero(hole))
            assert all(np.array_equal(a, b) for a, b in zip(given, expected, strict=True))
            assert len(expected[0]) and not invalid[expected].any()


def test_a_read_a_hair_either_side_of_a_whole_pixel_touches_what_it_reads() -> None:
    """OpenCV reads a position rounded to 1/32 px: 3.9999 is read as 4 (pixel 4, and 5 with no weight), as 4.0001
    is. The touch test took the floor of the position itself (3: pixels 3 and 4), so a chain landing on a whole
    pixel beside a hole, as exact layers land them, was refused or not by its last digit."""
    invalid = np.zeros((5, 8), bool)
    invalid[:, 5] = True
    xs = np.float32([3.9999, 4.0, 4.0001, 3.98])
    ys = np.full(4, 2.0, np.float32)
    image = np.arange(40, dtype=np.float32).reshape(5, 8)[..., None].repeat(3, -1)
    assert sample_points(image, xs[:3], ys[:3])[:, 0].tolist() == [20.0, 20.0, 20.0]  # (pixel 4 alone)
    expected = [True, True, True, False]  # (3.98: pixels 3 and 4, read so)
    assert touches(invalid, xs, ys).tolist() == expected
    assert touches_footprint(footprint(invalid), xs, ys).tolist() == expected
