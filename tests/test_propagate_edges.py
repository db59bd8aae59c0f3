"""Holes at the frame's edge under a pan: points whose chains leave the frame get a fill, never black.

Under a pan the chains that would carry a keyframe's fill to a hole touching the top or bottom edge, or to a
1-px wire across the frame, leave the frame; when too few such points were left for the frame's own spatial fill
(``fallback_route.MIN_SPATIAL``) they kept the zeros the fallback starts as: black pixels in the fill, 9 dB
below per-frame Telea on those frames.
"""

from __future__ import annotations

import numpy as np
import pytest
from propagate_clips import filled, pan


def _psnr(out: np.ndarray, truth: np.ndarray, hole: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / max(float(np.mean((out[hole] - truth[hole]) ** 2)), 1e-12)))


@pytest.mark.parametrize(
    "box",
    [
        pytest.param((0, 15, 60, 90), id="top edge"),
        pytest.param((75, 90, 60, 90), id="bottom edge"),
        pytest.param((44, 45, 0, 160), id="1-px wire across"),
    ],
)
def test_a_hole_at_the_frame_edge_under_a_pan_has_no_black_pixels(box: tuple[int, int, int, int]) -> None:
    frames = pan(20, (90, 160), 2)
    hole = np.zeros((90, 160), bool)
    y0, y1, x0, x1 = box
    hole[y0:y1, x0:x1] = True
    out = filled("propagate", frames, [hole] * len(frames))
    telea = filled("telea", frames, [hole] * len(frames))
    for t, (rgb, truth) in enumerate(zip(out, frames, strict=True)):
        # The plate is 0.1..0.9: a point near zero in every channel is a fill that was never made.
        dark = int((rgb[hole] < 0.02).all(-1).sum())
        assert dark == 0, f"frame {t}: {dark} black hole pixels"
        assert _psnr(rgb, truth, hole) > _psnr(telea[t], truth, hole) - 1.0, f"frame {t} below Telea"


@pytest.mark.filterwarnings("error")
def test_a_hole_over_nearly_the_whole_frame_fills_without_overflow() -> None:
    # 140x74 of 160x90: the flow completion's crop is all hole, whose distance transform is float32's largest
    # value; times the coarse grid's step it overflowed (RuntimeWarning), and the fit scores went NaN.
    frames = pan(8, (90, 160), 2)
    hole = np.zeros((90, 160), bool)
    hole[8:82, 10:150] = True
    out = filled("propagate", frames, [hole] * len(frames))
    assert all(np.isfinite(rgb).all() for rgb in out)
    for rgb, frame in zip(out, frames, strict=True):
        assert np.array_equal(rgb[~hole], frame[~hole])
