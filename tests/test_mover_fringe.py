"""An unmasked mover that reaches a static hole later is not imported into the frames before it came.

The mover detection is blind next to a hole (the flow there is the completion's) and to a part of a mover that
moves with the ground (a planted foot); the engine refuses sources next to the hole near a detected mover
(:mod:`aifx_core.propagate.mover_fringe`), and nothing is read where a mover marked at the edge of that blind band
goes on to the hole."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import pytest
from propagate_clips import holed_packets

from aifx_core.backends import create_backend
from aifx_core.inpaint import BackendContext
from aifx_core.progress import Reporter
from aifx_core.propagate.mover_fringe import fringe_distance, hidden_movers, mover_fringe, own_mover_distance

HEIGHT, WIDTH = 96, 176
#: The background moves this many px a frame to the left (a slow pan).
PAN = 3
#: The static square hole (rows, columns), on every frame.
HOLE = (slice(36, 68), slice(72, 112))
#: Frames in which the walker stands next to the hole; none before.
ARRIVES, LEAVES = 12, 18
BOB = 6


def _texture(height: int, width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    planes = [cv2.GaussianBlur(rng.random((height, width)).astype(np.float32), (0, 0), 1.5) for _ in range(3)]
    tex = np.stack(planes, -1)
    return ((tex - tex.min()) / (tex.max() - tex.min())).astype(np.float32)


def _walker_clip(n: int = 24) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Frames, holes and the background truth: a textured plate panning left, a static square hole, and from
    frame ``ARRIVES`` an unmasked magenta walker left of it: a foot planted on the ground right next to the hole
    (it moves with the plate) and a leg beside it that bobs up and down (a mover the detection finds)."""

    def draw(plate: np.ndarray, t: int, magenta: np.ndarray) -> None:
        if ARRIVES <= t < LEAVES:
            # The foot stands where the plate was at x 62-71 at arrival (1-10 px left of the hole), moving with it.
            x0 = 62 - PAN * (t - ARRIVES)
            plate[52:68, x0 : x0 + 10] = magenta[:16, :10]
            # The leg: 20 px wide, left of the foot, BOB px up and down in turn.
            y0 = 24 + BOB * (t % 2)
            plate[y0 : y0 + 40, x0 - 20 : x0] = magenta[4:44, 20:40]

    return _panning_clip(n, draw)


def _panning_clip(
    n: int, draw: Callable[[np.ndarray, int, np.ndarray], None], jumps: dict[int, int] | None = None
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Frames, holes and the background truth of a textured plate panning ``PAN`` px a frame left under the
    static hole ``HOLE``; ``draw(plate, t, magenta)`` puts frame t's unmasked magenta mover on its plate.
    ``jumps``: frames the plate moves by so many px since the one before instead."""
    steps = [0] + [(jumps or {}).get(t, PAN) for t in range(1, n)]
    offsets = np.cumsum(steps)
    ground = 0.15 + 0.7 * _texture(HEIGHT, WIDTH + int(offsets[-1]) + PAN + 2, 0)
    skin = _texture(64, 40, 1)
    magenta = np.stack([0.8 + 0.2 * skin[..., 0], 0.05 * skin[..., 1], 0.8 + 0.2 * skin[..., 2]], -1)
    frames, holes, truth = [], [], []
    for t in range(n):
        plate = np.ascontiguousarray(ground[:, offsets[t] : offsets[t] + WIDTH])
        truth.append(plate.copy())
        draw(plate, t, magenta)
        frames.append(plate)
        hole = np.zeros((HEIGHT, WIDTH), bool)
        hole[HOLE] = True
        holes.append(hole)
    return frames, holes, truth


def test_the_fringe_lies_only_next_to_the_hole_near_a_mover() -> None:
    hole = np.zeros((80, 120), bool)
    hole[30:50, 40:60] = True
    movers = np.zeros_like(hole)
    movers[30:50, 73:80] = True  # 14 px right of the hole: where the detection starts seeing
    movers[0:4, 0:4] = True  # far from the hole
    fringe = mover_fringe(movers, hole, (1.0, 1.0))
    assert fringe is not None
    assert not (fringe & (hole | movers)).any()
    assert fringe[35:45, 62:73].all()  # between the hole and the mover
    assert not fringe[:20, :20].any()  # the far mover has none
    assert not fringe[:, 85:].any()  # nor the near one beyond the band
    # No mover near the hole: no fringe.
    lone = np.zeros_like(hole)
    lone[0:4, 110:114] = True
    assert mover_fringe(lone, hole, (1.0, 1.0)) is None
    # At half working resolution the reach and the band are twice as many frame pixels.
    wide = mover_fringe(movers, hole, (0.5, 0.5))
    assert wide is not None and wide.sum() > fringe.sum()


def test_a_targets_own_movers_exempt_the_points_near_them() -> None:
    movers = np.zeros((80, 120), bool)
    movers[30:50, 73:80] = True
    ys, xs = np.array([40, 40, 40]), np.array([59, 50, 20])  # 14, 23 and 53 px from the mover
    near = own_mover_distance(movers, ys, xs, (1.0, 1.0))
    assert near is not None and np.allclose(near[:2], [14, 23], atol=0.5) and near[2] == np.inf
    assert own_mover_distance(movers, ys[2:], xs[2:], (1.0, 1.0)) is None
    assert own_mover_distance(None, ys, xs, (1.0, 1.0)) is None
    # At half working resolution the same frame pixels are half as many working pixels (53 px: 26.5 > OWN_PX).
    half = own_mover_distance(movers, ys, xs, (0.5, 0.5))
    assert half is not None and np.allclose(half[:2], [7, 11.5], atol=0.5) and half[2] == np.inf


def test_the_fringe_distance_is_the_nearest_movers_for_a_bilinear_read() -> None:
    hole = np.zeros((80, 120), bool)
    hole[30:50, 40:60] = True
    movers = np.zeros_like(hole)
    movers[30:50, 73:80] = True
    fringe = mover_fringe(movers, hole, (1.0, 1.0))
    assert fringe is not None
    distance = fringe_distance(movers, fringe, (1.0, 1.0))
    xs, ys = np.array([72.0, 65.0, 64.5, 10.0]), np.array([40.0, 40.0, 40.0, 10.0])
    # A read touches its pixel and the next one right (and below): at 72 only 72 is fringe (73 is the mover), 1 px
    # from it; at 65 the nearer of 65 and 66, 7 px; at 64.5 of 64 and 65, 8 px; outside the fringe: inf.
    assert np.allclose(distance.at(xs, ys), [1, 7, 8, np.inf], atol=0.1)


def _filled(frames: list[np.ndarray], holes: list[np.ndarray]) -> list[np.ndarray]:
    """The default backend's fill of the clip, every frame."""
    backend = create_backend("propagate", BackendContext(colorspace="sRGB"))
    packets = holed_packets(frames, holes)
    return [rgb for _, rgb in backend.fill(packets, Reporter())]


def _magenta_in_hole(out: np.ndarray, hole: np.ndarray, plate: np.ndarray) -> int:
    """How many hole pixels show the walker's colour (green near 0 where the plate has at least 0.15); the
    pixels outside the hole must be the plate's, bit for bit."""
    assert np.array_equal(out[~hole], plate[~hole])
    return int(((out[..., 1] < 0.1) & (out[..., 0] > 0.5) & (out[..., 2] > 0.5) & hole).sum())


def test_the_marks_are_made_in_the_flow_worker_with_the_same_fill(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each frame's fringe and hidden movers are made beside its pair's flow in the flow worker, not on the
    engine's thread (on nine squares that thread bounds the run, and they were ~5 % of it); the fill is bit for
    bit the one-thread run's (``AIFX_THREADS=1``: everything in the caller). Fails on the code before (the
    marks were made where the engine took the pair over, on its own thread)."""
    from aifx_core.propagate import pairs

    on_main: list[bool] = []
    plain = pairs.mover_fringe

    def recorded(*args: Any) -> Any:
        on_main.append(threading.current_thread() is threading.main_thread())
        return plain(*args)

    monkeypatch.setattr(pairs, "mover_fringe", recorded)
    frames, holes, _ = _walker_clip()
    threaded = _filled(frames, holes)
    assert on_main and not any(on_main)
    monkeypatch.setenv("AIFX_THREADS", "1")
    on_main.clear()
    alone = _filled(frames, holes)
    assert on_main and all(on_main)
    assert len(threaded) == len(alone) == len(frames)
    for t, (mine, one) in enumerate(zip(threaded, alone, strict=True)):
        assert np.array_equal(mine, one), t


def test_a_walker_arriving_later_is_not_pasted_into_the_hole_before() -> None:
    frames, holes, truth = _walker_clip()
    results = _filled(frames, holes)
    pasted = [_magenta_in_hole(results[t], holes[t], frames[t]) for t in range(ARRIVES)]
    assert sum(pasted) == 0, pasted
    error = np.concatenate([(results[t][holes[t]] - truth[t][holes[t]]).ravel() for t in range(ARRIVES)])
    assert 10 * np.log10(1.0 / np.mean(error**2)) > 30.0, (
        "the frames before it came are filled from the plate the other frames saw"
    )


#: The stepping walker: a body a detection finds (it bobs) ``BODY_X`` px from the left and a foot between it and
#: the hole, planted on the ground for 4 frames (moving with the plate) from ``FOOT_X``, then set down again.
BODY_X, FOOT_X = 40, 64


def _stepping_walker_clip(n: int = 24) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Frames, holes and the background truth: the panning plate and static hole of :func:`_walker_clip` with a
    walker beside the hole on every frame, never in it: a bobbing body 16 px left of it and a foot 1-17 px from
    it that stands on each piece of ground for 4 frames. The ground a foot stands on was in the hole 1-3
    frames before, when the foot stood elsewhere (next to the hole, where the detection does not see it)."""

    def draw(plate: np.ndarray, t: int, magenta: np.ndarray) -> None:
        y0 = 14 + 6 * (t % 2)
        plate[y0 : y0 + 40, BODY_X : BODY_X + 16] = magenta[:40, 20:36]
        x0 = FOOT_X - PAN * (t % 4)
        plate[56:72, x0 : x0 + 8] = magenta[40:56, :8]

    return _panning_clip(n, draw)


def test_a_walker_beside_the_hole_is_not_imported_from_where_it_stood_later() -> None:
    """The walker's own movers are near the hole on every frame (its points may read the other frames' mover
    fringes: a mover may stand in the hole now), yet the foot next to the hole in frames 1-3 later stands on
    ground its hole hides now, nearer its body than the body is to those points now: it came there since.
    Main before cross22 pasted 18-31 walker pixels into 13 of the 24 holes (hole PSNR 24.5 dB); now none
    (27.9 dB)."""
    frames, holes, truth = _stepping_walker_clip()
    results = _filled(frames, holes)
    pasted = [
        _magenta_in_hole(out, hole, plate) for out, hole, plate in zip(results, holes, frames, strict=True)
    ]
    assert sum(pasted) == 0, pasted
    error = np.concatenate(
        [(out[hole] - plate[hole]).ravel() for out, hole, plate in zip(results, holes, truth, strict=True)]
    )
    assert 10 * np.log10(1.0 / np.mean(error**2)) > 26.5


def test_a_mover_at_the_blind_bands_edge_is_carried_straight_on_to_the_hole() -> None:
    hole = np.zeros((80, 120), bool)
    hole[30:50, 40:60] = True
    movers = np.zeros_like(hole)
    movers[36:44, 68:100] = True  # marked from 8 px right of the hole out (a leg going into it)
    movers[0:30, 4:20] = True  # a body 20 px left of the hole: the detection sees it whole
    hidden = hidden_movers(movers, hole, (1.0, 1.0))
    assert hidden is not None
    assert hidden[36:44, 60:68].all()  # between the leg and the hole: the leg, unseen
    assert not (hidden & (hole | movers)).any()
    assert not hidden[:36, :].any() and not hidden[44:, :].any()  # straight on: the ground beside it is not
    # At half working resolution the band is twice as many frame pixels: the leg marked from 8 px is within it
    # (16 working px would be), the body at 20 frame px (10 working px) is at its edge.
    wide = hidden_movers(movers, hole, (0.5, 0.5))
    assert wide is not None and wide[36:44, 60:68].all()
    # No mover within the band's reach: none.
    far = np.zeros_like(hole)
    far[36:44, 80:100] = True
    assert hidden_movers(far, hole, (1.0, 1.0)) is None


#: The sweeping leg: rows it moves down a frame, its height, and how far (px) it reaches into the hole; the
#: camera jumps ``JUMP`` px into the frames ``JUMPS`` (3 px a frame otherwise: a hand-held step, a clip's every
#: 6th frame).
SWEEP, LEG_TALL, LEG_INTO, JUMP, JUMPS = 4, 8, 8, 12, (2, 3, 14, 15)


def _sweeping_leg_clip(n: int = 24) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Frames, holes and the background truth: the panning plate and static hole of :func:`_walker_clip` with a
    horizontal leg from 32 px left of the hole into it, sweeping down ``SWEEP`` px a frame (a mover the
    detection finds, but only from ~10 px out from the hole: nearer, the flow is the completion's), and a
    camera that jumps now and then. The ground next to the hole's left edge, which the leg covers in the next
    frames, was in the hole 1-2 frames before, when the leg stood higher: a point there has its own leg near (it
    may read the fringes), and the next frames' leg is no nearer that ground than its own is to it."""

    def draw(plate: np.ndarray, t: int, magenta: np.ndarray) -> None:
        y0 = 6 + SWEEP * (t % 12)
        rows = max(0, min(LEG_TALL, HEIGHT - y0))
        plate[y0 : y0 + rows, 40 : 72 + LEG_INTO] = magenta[:rows, : 32 + LEG_INTO]

    return _panning_clip(n, draw, dict.fromkeys(JUMPS, JUMP))


def test_a_leg_going_into_the_hole_is_not_imported_where_it_stood_only_later() -> None:
    """None of the leg's pixels reaches hole pixels whose ground it covered only in other frames (those 2 px and
    more from where it is in the frame itself: a spatial fill may blur the frame's own leg into its edge). Frame
    3 (the camera jumped into it: its own movers are not carried on to its hole) read the leg standing across the
    hole's edge in frames 4-5, unmarked there; main before ext23 pasted 18 leg pixels into the holes (16 into frame
    3; hole PSNR of the ground 30.7 dB over the clip); now none (32.1 dB)."""
    frames, holes, truth = _sweeping_leg_clip()
    results = _filled(frames, holes)
    pasted, errors = [], []
    for out, hole, plate, ground in zip(results, holes, frames, truth, strict=True):
        own = np.abs(plate - ground).sum(axis=-1) > 0
        beside = cv2.dilate(own.astype(np.uint8), np.ones((5, 5), np.uint8)).view(bool)
        magenta = (out[..., 1] < 0.1) & (out[..., 0] > 0.5) & (out[..., 2] > 0.5)
        assert np.array_equal(out[~hole], plate[~hole])
        pasted.append(int((magenta & hole & ~beside).sum()))
        errors.append((out[hole & ~own] - ground[hole & ~own]).ravel())
    assert sum(pasted) == 0, pasted
    assert 10 * np.log10(1.0 / np.mean(np.concatenate(errors) ** 2)) > 31.0
