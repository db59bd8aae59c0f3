"""On a fast frame the frame's own spatial fill is part smooth membrane and part the plate interpolated along the
motion (fallback_route.FAST_SMOOTH, FAST_ALONG; issue #10, whips): closer to a motion-blurred truth than the
spatial backend alone, slow frames untouched, and the same bits for any window size (the gate reads only the
frame's own flows)."""

from __future__ import annotations

import numpy as np
from propagate_clips import hard_clip, hole_error, holed_packets, small_engine_fill

from aifx_core.flow import complete_flows, line_fill
from aifx_core.inpaint import BackendContext
from aifx_core.progress import Reporter
from aifx_core.propagate import fallback_route, pair_flow


def _unsure(flows, hole, **options):  # noqa: ANN001, ANN202 - (the real completion, scored unsure in the hole)
    completed = complete_flows(flows, hole, **options)
    fit = np.where(hole, np.float32(40.0), np.float32(0.0)).astype(np.float32)
    return (*completed, fit, fit)


def _fill(clip, share: float, monkeypatch, window: int = 40, along: float = 0.0) -> list[np.ndarray]:  # noqa: ANN001
    """The engine's output with the membrane's share ``share`` and the line's ``along``; propagation is told the
    completed flow is unsure inside the holes, so the fill is mostly each frame's own spatial fill (what the
    shares act on)."""
    monkeypatch.setattr(pair_flow, "_complete_flows_scored", _unsure)
    monkeypatch.setattr(fallback_route, "FAST_SMOOTH", share)
    monkeypatch.setattr(fallback_route, "FAST_ALONG", along)
    monkeypatch.setattr(fallback_route, "SLOW_SMOOTH", 0.0)  # (tests/test_slow_smooth.py)
    return small_engine_fill(clip, window)


def test_on_a_fast_blurred_pan_the_spatial_fill_is_part_membrane_and_closer_to_the_truth(monkeypatch) -> None:
    clip = hard_clip(n=8, pan=24.0, blur=True, crosser_speed=0.0, crosser_size=(1, 1))
    plain = _fill(clip, 0.0, monkeypatch)
    mixed = _fill(clip, 0.5, monkeypatch)
    assert not all(np.array_equal(a, b) for a, b in zip(plain, mixed, strict=True))
    assert hole_error(clip, mixed) < 0.95 * hole_error(clip, plain)
    for t, (a, b) in enumerate(zip(plain, mixed, strict=True)):
        np.testing.assert_array_equal(a[~clip.holes[t]], b[~clip.holes[t]])  # outside the hole: bit-exact
    np.testing.assert_array_equal(np.stack(_fill(clip, 0.5, monkeypatch, window=1)), np.stack(mixed))


def test_on_a_fast_pan_the_line_along_the_motion_brings_the_fill_closer_still(monkeypatch) -> None:
    clip = hard_clip(n=8, pan=24.0, blur=True, crosser_speed=0.0, crosser_size=(1, 1))
    membrane = hole_error(clip, _fill(clip, 1.0 / 3.0, monkeypatch))
    both = _fill(clip, 1.0 / 3.0, monkeypatch, along=1.0 / 3.0)
    assert hole_error(clip, both) < 0.98 * membrane  # (0.96 measured; 1.0 exactly without the line)
    once = _fill(clip, 1.0 / 3.0, monkeypatch, window=1, along=1.0 / 3.0)
    np.testing.assert_array_equal(np.stack(once), np.stack(both))


def test_a_slow_pan_keeps_the_spatial_backends_fill(monkeypatch) -> None:
    clip = hard_clip(n=8, pan=3.0, blur=True, crosser_speed=0.0, crosser_size=(1, 1))
    plain = np.stack(_fill(clip, 0.0, monkeypatch))
    np.testing.assert_array_equal(plain, np.stack(_fill(clip, 1.0 / 3.0, monkeypatch, along=1.0 / 3.0)))


def test_line_fill_interpolates_along_rows_or_columns_and_says_how_far_apart_the_ends_are() -> None:
    height, width = 6, 10
    ramp = np.tile(np.arange(width, dtype=np.float32)[None, :, None], (height, 1, 3))
    known = np.ones((height, width), bool)
    known[1:5, 3:7] = False
    default = np.full_like(ramp, -1.0)
    holed = np.where(known[..., None], ramp, 99.0)
    rows, ends = line_fill(holed, known, axis=1, default=default)
    np.testing.assert_allclose(rows, ramp, atol=1e-6)  # (a ramp along the rows comes back exactly)
    assert np.allclose(ends[1:5, 3:7], 5.0) and np.all(ends[known] == 0.0)  # (ends at columns 2 and 7)
    columns, ends = line_fill(holed, known, axis=0, default=default)
    np.testing.assert_allclose(columns, ramp, atol=1e-6)  # (constant down each column)
    assert np.all(ends == 0.0)
    edge = np.ones((height, width), bool)
    edge[2, 6:] = False  # a hole reaching the right border: the value before it
    one, ends = line_fill(ramp, edge, axis=1, default=default)
    np.testing.assert_allclose(one[2, 6:], 5.0)
    assert np.all(ends[2, 6:] == 0.0)
    none = np.ones((height, width), bool)
    none[3, :] = False  # nothing known along the row: the default
    out, _ = line_fill(ramp, none, axis=1, default=default)
    np.testing.assert_allclose(out[3], -1.0)


def test_a_fast_frames_ring_check_asks_propagation_to_look_worse_before_its_spatial_fill_takes_a_share(
    monkeypatch,
) -> None:
    """propagation.RING_FAST scales the ring check's thresholds on fast frames only (a 24 px/frame pan: every frame;
    a 3 px/frame pan: none)."""
    from aifx_core.propagate import engine, propagation

    seen: list[tuple[float, float]] = []
    plain = propagation.ring_share

    def spy(frame, options, *args):  # noqa: ANN001, ANN202 - (a spy on the real function)
        seen.append((options.ring_low, options.ring_high))
        return plain(frame, options, *args)

    monkeypatch.setattr(propagation, "ring_share", spy)
    defaults = engine.PropagateOptions()
    for pan, scale in ((24.0, propagation.RING_FAST), (3.0, 1.0)):
        seen.clear()
        _fill(hard_clip(n=6, pan=pan, blur=True, crosser_speed=0.0, crosser_size=(1, 1)), 0.0, monkeypatch)
        assert seen and set(seen) == {(defaults.ring_low * scale, defaults.ring_high * scale)}
    assert propagation.RING_FAST > 1.0


def test_a_generative_spatial_backends_fill_is_left_as_it_is(monkeypatch) -> None:
    """Only Telea's fill (fallback_route.SMOOTHED) is shared with the membrane (SLOW_SMOOTH too) and the line: another spatial
    backend's (here one painting a flat grey, standing in for LaMa or diffusers) is the same with and without."""
    from aifx_core.propagate import PropagateBackend

    class Grey:
        name = "grey"

        def inpaint(self, rgb: np.ndarray, hole: np.ndarray, *, frame: int | None = None) -> np.ndarray:
            return np.where(hole[..., None], np.float32(0.4), rgb).astype(np.float32)

    clip = hard_clip(n=6, pan=24.0, blur=True, crosser_speed=0.0, crosser_size=(1, 1))
    monkeypatch.setattr(pair_flow, "_complete_flows_scored", _unsure)
    packets = holed_packets(clip.frames, clip.holes)
    outputs = []
    for share in (0.0, 1.0 / 3.0):
        monkeypatch.setattr(fallback_route, "FAST_SMOOTH", share)
        monkeypatch.setattr(fallback_route, "FAST_ALONG", share)
        monkeypatch.setattr(fallback_route, "SLOW_SMOOTH", share)
        backend = PropagateBackend(
            BackendContext(colorspace="sRGB"), spatial_factory=lambda name, context: Grey()
        )
        outputs.append(np.stack([rgb for _, rgb in backend.fill(iter(packets), Reporter())]))
    np.testing.assert_array_equal(outputs[0], outputs[1])
    assert np.isclose(outputs[0][0][clip.holes[0]], 0.4, atol=0.05).mean() > 0.3  # (the grey is used)
