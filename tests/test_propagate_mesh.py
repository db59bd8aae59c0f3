"""A dense thin matte (a wire mesh, a fence, speckle): where propagation is unsure of every wire pixel, the plate
around the wires must not lift its share, or misregistered fetched values are written nearly whole and the fill
is worse than a per-frame blur."""

from __future__ import annotations

import math

import numpy as np
from propagate_clips import holed_packets, texture

from aifx_core.backends import create_backend
from aifx_core.inpaint import BackendContext
from aifx_core.progress import Reporter
from aifx_core.propagate.fallback import blend_weights


def test_the_plate_does_not_lift_unsure_points_of_a_thin_hole() -> None:
    # A 2-px wire through the plate, every point found with confidence 0.001 (below fallback_low 0.01): the
    # plate on both sides filled most of the 3-px Gaussian and gave the points a share of ~0.8.
    ys, xs = np.nonzero(np.pad(np.ones((2, 40), bool), 20))
    found = np.ones(len(ys), bool)
    alpha = blend_weights(ys, xs, np.full(len(ys), 0.001, np.float32), found, 0.01, 0.06, soften=3)
    assert alpha.max() == 0.0
    # Next to sure points the ramp is as before: they and the plate lift their neighbours.
    confidence = np.where(xs < 40, 1.0, 0.001).astype(np.float32)
    alpha = blend_weights(ys, xs, confidence, found, 0.01, 0.06, soften=3)
    assert alpha[xs == 40].min() > 0.3 and alpha[xs >= 52].max() < 0.01
    assert (np.diff(alpha[ys == 20]) <= 0).all() and np.abs(np.diff(alpha[ys == 20])).max() < 0.5


def _psnr(out: np.ndarray, truth: np.ndarray, hole: np.ndarray) -> float:
    return 10 * math.log10(1 / float(np.mean((np.clip(out[hole], 0, 1) - truth[hole]) ** 2)))


def test_a_wire_mesh_over_a_pan_fills_no_worse_than_per_frame_telea() -> None:
    # 160x90, a texture panning 2 px a frame under a diamond mesh of 2-px wires every 20 px (19 % of the frame):
    # the chains' flow is biased by the static mesh and their confidence ~0 everywhere; propagate scored
    # 30.1 dB against Telea's 32.5 (33.7 with the plate's lift bounded).
    height, width, frames = 90, 160, 12
    wide = texture(height, width + 2 * frames, seed=1)
    clip = [np.ascontiguousarray(wide[:, 2 * t : 2 * t + width]) for t in range(frames)]
    yy, xx = np.mgrid[:height, :width]
    mesh = (((xx + yy) % 20) < 2) | (((xx - yy) % 20) < 2)
    scores = {}
    for name in ("propagate", "telea"):
        backend = create_backend(name, BackendContext(colorspace="sRGB", seed=0, options={}))
        out = [rgb for _, rgb in backend.fill(iter(holed_packets(clip, [mesh] * frames)), Reporter())]
        scores[name] = np.mean([_psnr(o, f, mesh) for o, f in zip(out, clip, strict=True)])
    assert scores["propagate"] >= scores["telea"], scores
