"""Stage 2, confidence: how much to trust each candidate, and then each fused pixel.

A candidate is a colour read at the end of a chain of flows. Its expected misalignment (working pixels) is
the round-trip errors along the chain (added in quadrature), plus the largest flow-completion fit residual it crossed
(where the flow inside a hole was a guess), plus a small share of the distance it travelled (flow errors
grow with motion). Its weight in the fusion is that quality over the number of frames travelled (measured
before: 1/distance is smoother in time than 1/distance² or nearest-only, at the same PSNR).

A fused pixel's confidence multiplies five cues, each in [0, 1]:

* ``align``: the inliers' mean quality (round trip, fit residual, travel);
* ``consensus``: how much candidate weight the fusion had to reject as outliers (a chain through a car);
* ``agreement``: whether the forward and the backward inliers agree (one direction only: unconfirmed);
* ``reach``: how many frames away the nearest inlier was;
* ``seam``: how well the fill matches the frame's own pixels on a ring just outside the hole (the residual
  left after the smooth seam offset, spread inward).

Colour differences are relative to the frame's typical level, so scene-linear and display plates score alike.
"""

from __future__ import annotations

import numpy as np

from .candidates import Candidates

#: Expected misalignment (working pixels) at which a candidate's quality is one half.
MISALIGN_PX = 2.0
#: Share of the flow completion's expected error (its fit residual, working pixels) counted as misalignment:
#: the residual is a pessimistic bound (measured on tennis, counting all of it halved the confidence of
#: pixels that were in fact well aligned and cost 1.8 dB through needless blending).
FIT_SHARE = 0.5
#: Share of the travelled distance expected as flow error.
TRAVEL_SHARE = 0.02
#: Relative colour difference at which agreement and seam cues fall to 1/e.
COLOUR_TOL = 0.15
#: Frames to the nearest inlier at which ``reach`` is one half.
REACH_FRAMES = 12.0
#: ``agreement`` when only one direction saw the pixel (nothing confirms it, nothing contradicts it).
UNCONFIRMED = 0.8


def candidate_quality(candidates: Candidates) -> np.ndarray:
    """Per candidate, 1 / (1 + (e / MISALIGN_PX)²) with e its expected misalignment in working pixels."""
    error = candidates.fb + FIT_SHARE * candidates.fit + TRAVEL_SHARE * candidates.travel
    return (1.0 / (1.0 + (error / MISALIGN_PX) ** 2)).astype(np.float32)


def candidate_weight(candidates: Candidates, quality: np.ndarray) -> np.ndarray:
    """Fusion weight: quality over frames travelled."""
    return (quality / np.maximum(candidates.steps, 1)).astype(np.float32)


def pixel_confidence(
    align: np.ndarray,
    rejected: np.ndarray,
    gap: np.ndarray,
    nearest: np.ndarray,
    seam_residual: np.ndarray | None = None,
) -> np.ndarray:
    """Combine the cues (see the module docstring) into one confidence per point, 0 where nothing was found.

    ``rejected``: share of candidate weight rejected by the fusion; ``gap``: relative colour difference
    between the forward and backward inliers (NaN when only one direction has any); ``nearest``: frames to
    the nearest inlier (0: none); ``seam_residual``: relative seam residual (None: not measured).
    """
    consensus = 1.0 - np.clip(rejected, 0.0, 1.0)
    agreement = np.where(np.isnan(gap), UNCONFIRMED, np.exp(-((np.nan_to_num(gap) / COLOUR_TOL) ** 2)))
    reach = 1.0 / (1.0 + (nearest / REACH_FRAMES) ** 2)
    confidence = align * consensus * agreement * reach
    if seam_residual is not None:
        confidence = confidence * np.exp(-((seam_residual / COLOUR_TOL) ** 2))
    return np.where(nearest > 0, confidence, 0.0).astype(np.float32)
