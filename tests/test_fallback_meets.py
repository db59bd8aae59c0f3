"""The fallback meets the surely propagated pixels it borders (``propagate.meet``): no hard-edged block where
propagation gives way to the frame's own spatial fill (issue #10: "never leave a hard-edged block").

The clip: a locked-off plate of three bands (blue above a grey wall above an orange court, textured), a
static strip of hole that no frame shows (the keyframe route's: the spatial fill) and, beside it, a block of
hole sweeping across the wall that the other frames show (propagated surely). Where the ring check gives the
frame's own spatial fill a share of the propagated pixels (here asked for with ``ring_low`` 0, as on fast,
blurred footage), that fill is made with them masked: the strip is filled from the band above as much as from
the wall beside it, and met the propagated wall with a step (0.04-0.05 of the plate's range on average along
the edge, beyond the plate's own).
"""

from __future__ import annotations

import numpy as np
import pytest
from propagate_clips import texture

from aifx_core.backends import create_backend
from aifx_core.inpaint.base import BackendContext, FramePacket
from aifx_core.progress import Reporter
from aifx_core.propagate import fallback_route, pair_flow
from aifx_core.propagate.meet import meeting_offset

HEIGHT, WIDTH = 64, 112
#: The strip no frame shows, and the sweeping block's rows (both reach from the blue band into the wall).
STRIP = (slice(12, 42), slice(56, 66))
#: Rows of the wall where the strip's left edge (columns 55 | 56) is compared.
WALL = slice(22, 42)


@pytest.fixture(autouse=True)
def _flows_as_dis_estimates(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ring check gives the frame's own spatial fill a share only where propagation misses the ring: on this
    locked-off plate DIS's own error (~0.05 px) did; with its background layer made exact on the images
    (``pair_flow.EXACT_LAYERS``) nothing misses, no spatial fill is made and there is no step to meet. The step
    is what is tested here, so the flows are DIS's."""
    monkeypatch.setattr(pair_flow, "EXACT_LAYERS", False)


def _plate() -> np.ndarray:
    bands = np.zeros((HEIGHT, WIDTH, 3), np.float32)
    bands[:20] = (0.15, 0.25, 0.75)
    bands[20:44] = (0.45, 0.42, 0.40)
    bands[44:] = (0.75, 0.40, 0.25)
    return np.clip(bands + 0.15 * (texture(HEIGHT, WIDTH, 5) - 0.5), 0.0, 1.0).astype(np.float32)


def _holes(n: int) -> list[np.ndarray]:
    holes = []
    for t in range(n):
        hole = np.zeros((HEIGHT, WIDTH), bool)
        hole[STRIP] = True
        hole[12:42, 8 + 4 * t : 38 + 4 * t] = True
        holes.append(hole)
    return holes


def _edge_steps(n: int = 12) -> list[float]:
    """Per frame whose sweeping block borders the strip: the mean step across the strip's left edge along the
    wall beyond the plate's own (largest channel)."""
    plate, holes = _plate(), _holes(n)
    context = BackendContext(colorspace="linear", seed=0, options={"ring_low": 0.0, "ring_high": 0.5})
    backend = create_backend("propagate", context)
    packets = []
    for t, hole in enumerate(holes):
        rgb = plate.copy()
        rgb[hole] = 0.0
        packets.append(FramePacket(frame=t, rgb=rgb, hole=hole))
    steps = []
    for t, out in backend.fill(packets, Reporter()):
        rows = np.flatnonzero(holes[t][WALL, 55]) + WALL.start
        if len(rows) == len(range(WALL.start, WALL.stop)):  # the block is beside the strip all along the wall
            made = np.abs(out[rows, 55] - out[rows, 56]).max(axis=1)
            own = np.abs(plate[rows, 55] - plate[rows, 56]).max(axis=1)
            steps.append(float((made - own).mean()))
    return steps


def test_where_propagation_gives_way_the_fallback_meets_the_propagated_pixels_beside_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # (the clip is locked off: its frames are slow, where the meeting is off by default; see the next test)
    monkeypatch.setattr(fallback_route, "MEET_FAST_ONLY", False)
    steps = _edge_steps()
    assert len(steps) >= 4
    # Before: 0.03-0.045 in frames 6-9 (the strip filled from the blue band as well as from the wall).
    assert max(steps) < 0.01, steps


def test_off_the_step_is_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fallback_route, "MEET_FAST_ONLY", False)
    monkeypatch.setattr(fallback_route, "MEET", False)
    assert max(_edge_steps()) > 0.02


def test_slow_frames_are_not_offset_by_default() -> None:
    """On a slow frame what the fallback borders is more often an unmasked person standing by the hole, whom the
    offset pulled the fallback towards (schoolgirls, crossed squares): the default meets on fast frames only, so
    this locked-off clip keeps its step."""
    assert fallback_route.MEET_FAST_ONLY
    assert max(_edge_steps()) > 0.02


def test_the_offset_is_the_neighbours_mean_at_the_edge_and_zero_beside_the_plate_alone() -> None:
    # A 1x6 row of hole: 2 sure pixels (value 1) then 4 fallback pixels (value 0), the plate (0) around it.
    plate = np.zeros((3, 8, 3), np.float32)
    blocked = np.zeros((3, 8), bool)
    blocked[1, 1:7] = True
    ys, xs = np.full(6, 1), np.arange(1, 7)
    sure = np.array([True, True, False, False, False, False])
    base = np.where(sure[:, None], 1.0, 0.0).astype(np.float32)
    need = np.flatnonzero(~sure)
    offset = meeting_offset(ys, xs, need, np.zeros((4, 3), np.float32), sure, base, plate, blocked)
    # The first fallback pixel has one sure neighbour and two plate neighbours above and below... (3x3 box:
    # 1 sure + 6 plate of value 0) and the last borders only plate: its offset is 0.
    assert offset[0, 0] == pytest.approx(1.0 / 7.0, rel=1e-5)
    assert offset[-1, 0] == pytest.approx(0.0, abs=1e-6)
    assert (np.diff(offset[:, 0]) <= 1e-6).all()  # falling smoothly away from the sure pixels
    # Beside the plate alone (no sure hole pixel) nothing is offset.
    alone = meeting_offset(
        ys, xs, np.arange(6), np.ones((6, 3), np.float32), np.zeros(6, bool), base, plate, blocked
    )
    assert not alone.any()
