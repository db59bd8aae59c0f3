"""An exposure step of more than 2x between two frames (a light switched off, an auto-exposure jump, a flash).

A pair's gain was held within 2x (log 0.7): chains across a 0.3x step carried the other side's plate at 0.5x,
and the fill was 15-20 % too dark or bright over the whole shot. One gain over the frame is now taken as
measured; a step that is not (a light on part of the frame) links nothing across it.
"""

from __future__ import annotations

import numpy as np
import pytest
from propagate_clips import filled, pan


def _hole() -> np.ndarray:
    hole = np.zeros((90, 160), bool)
    hole[35:59, 60:84] = True
    return hole


def _level_errors(out: list[np.ndarray], truth: list[np.ndarray], hole: np.ndarray) -> list[float]:
    """Per frame, how far the fill's mean level in the hole is from the truth's (relative)."""
    return [abs(float(o[hole].mean()) / float(f[hole].mean()) - 1.0) for o, f in zip(out, truth, strict=True)]


@pytest.mark.parametrize("step", [0.3, 3.0])
def test_a_global_exposure_step_keeps_the_fill_at_each_frames_level(step: float) -> None:
    frames = [f * np.float32(1.0 if t < 8 else step) for t, f in enumerate(pan(16, (90, 160), 2))]
    hole = _hole()
    out = filled("propagate", frames, [hole] * len(frames))
    errors = _level_errors(out, frames, hole)
    assert max(errors) < 0.03, [round(e, 3) for e in errors]


def test_a_light_on_part_of_the_frame_links_nothing_across_it() -> None:
    # An HDR plate (0.05 to 20) whose top 60 % is lit 3x from frame 8 on; the hole is in the part left as it
    # was. Its texture hides the light from the cut test; one gain for the frame (3x, the median; 2x when held
    # at the old bound) brightened what the frames on the other side carry into the hole by 20-75 %.
    frames = [np.exp(6.0 * f - 3.0).astype(np.float32) for f in pan(16, (90, 160), 2)]
    for t in range(8, 16):
        frames[t] = frames[t].copy()
        frames[t][:54] *= np.float32(3.0)
    hole = np.zeros((90, 160), bool)
    hole[64:86, 60:84] = True
    out = filled("propagate", frames, [hole] * len(frames))
    errors = _level_errors(out, frames, hole)
    assert max(errors) < 0.08, [round(e, 3) for e in errors]
