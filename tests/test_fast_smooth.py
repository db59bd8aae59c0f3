"""On a fast frame the frame's own spatial fill is part smooth membrane (fallback_route.FAST_SMOOTH; issue #10,
whips): closer to a motion-blurred truth than the spatial backend alone, slow frames untouched, and the same
bits for any window size (the gate reads only the frame's own flows)."""

from __future__ import annotations

import numpy as np
from propagate_clips import hard_clip

from aifx_core.backends import create_backend
from aifx_core.flow import complete_flows
from aifx_core.inpaint import BackendContext, FramePacket
from aifx_core.progress import Reporter
from aifx_core.propagate import fallback_route, pairs


def _unsure(flows, hole, **options):  # noqa: ANN001, ANN202 - (the real completion, scored unsure in the hole)
    completed = complete_flows(flows, hole, **options)
    fit = np.where(hole, np.float32(40.0), np.float32(0.0)).astype(np.float32)
    return (*completed, fit, fit)


def _fill(clip, share: float, monkeypatch, window: int = 40) -> list[np.ndarray]:  # noqa: ANN001
    """The engine's output with the membrane's share ``share``; propagation is told the completed flow is
    unsure inside the holes, so the fill is mostly each frame's own spatial fill (what the share acts on)."""
    monkeypatch.setattr(pairs, "_complete_flows_scored", _unsure)
    monkeypatch.setattr(fallback_route, "FAST_SMOOTH", share)
    packets = [
        FramePacket(t, np.where(h[..., None], 0.0, f).astype(np.float32), h)
        for t, (f, h) in enumerate(zip(clip.frames, clip.holes, strict=True))
    ]
    backend = create_backend(
        "propagate",
        BackendContext(colorspace="sRGB", options=dict(window=window, radius=3, keyframe_interval=4)),
    )
    return [rgb for _, rgb in backend.fill(iter(packets), Reporter())]


def _error(clip, out: list[np.ndarray]) -> float:  # noqa: ANN001
    return float(np.mean([(rgb - clip.frames[t])[clip.holes[t]] ** 2 for t, rgb in enumerate(out)]))


def test_on_a_fast_blurred_pan_the_spatial_fill_is_part_membrane_and_closer_to_the_truth(monkeypatch) -> None:
    clip = hard_clip(n=8, pan=24.0, blur=True, crosser_speed=0.0, crosser_size=(1, 1))
    plain = _fill(clip, 0.0, monkeypatch)
    mixed = _fill(clip, 0.5, monkeypatch)
    assert not all(np.array_equal(a, b) for a, b in zip(plain, mixed, strict=True))
    assert _error(clip, mixed) < 0.95 * _error(clip, plain)
    for t, (a, b) in enumerate(zip(plain, mixed, strict=True)):
        np.testing.assert_array_equal(a[~clip.holes[t]], b[~clip.holes[t]])  # outside the hole: bit-exact
    np.testing.assert_array_equal(np.stack(_fill(clip, 0.5, monkeypatch, window=1)), np.stack(mixed))


def test_a_slow_pan_keeps_the_spatial_backends_fill(monkeypatch) -> None:
    clip = hard_clip(n=8, pan=3.0, blur=True, crosser_speed=0.0, crosser_size=(1, 1))
    np.testing.assert_array_equal(
        np.stack(_fill(clip, 0.0, monkeypatch)), np.stack(_fill(clip, 0.5, monkeypatch))
    )
