"""A pan over a repetitive texture (a brick wall): DIS may lock onto a repeat of the pattern, which used to send
every chain through the pair a brick away (the fill at Telea's level) or make the cut test take a continuous pan
for a cut (its frames then fell back to their spatial fill, and popped where that ended). The pair's global
motion now re-estimates a doubted flow (``propagate.pair_flow.estimate_pair``; docs/method.md, "Repetitive
textures")."""

from __future__ import annotations

import numpy as np
from propagate_clips import filled, texture

from aifx_core.flow import DISFlow, flow_gray
from aifx_core.propagate import pair_flow

HEIGHT, WIDTH = 108, 192
#: The hole: 40x36 px in the middle of the frame, static.
HOLE = (slice(40, 76), slice(69, 109))


def _wall(height: int, width: int, seed: int) -> np.ndarray:
    """Bricks 24x10 px (mortar 2 px), every other row offset by half a brick, with a little seeded grain: a
    pattern that repeats every (24, 0) and (12, 10) px."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    row = (ys // 10).astype(int)
    mortar = ((ys % 10) < 2) | (((xs + (row % 2) * 12) % 24) < 2)
    out = np.asarray((0.6, 0.3, 0.2), np.float32) + 0.1 * (texture(height, width, seed) - 0.5)
    out[mortar] = (0.8, 0.78, 0.75)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def _pan(count: int, step: tuple[int, int], seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """``count`` frames of the wall, the camera moving ``step`` (x, y) px a frame (the wall moves the other
    way: the true flow is ``-step``), and the static hole."""
    dx, dy = step
    wall = _wall(HEIGHT + dy * count + 2, WIDTH + dx * count + 2, seed)
    frames = [
        np.ascontiguousarray(wall[dy * t : dy * t + HEIGHT, dx * t : dx * t + WIDTH]) for t in range(count)
    ]
    hole = np.zeros((HEIGHT, WIDTH), bool)
    hole[HOLE] = True
    return frames, hole


def _inputs(frame: np.ndarray, hole: np.ndarray) -> pair_flow.FlowInput:
    """What the engine hands a pair's flow of one frame (at 192x108 the working size and the thumbnail are the
    frame's own)."""
    gray, small_hole = flow_gray(frame, hole, (HEIGHT, WIDTH), "sRGB")
    return pair_flow.FlowInput(gray, small_hole, hole, frame, hole)


def _off(flow: np.ndarray, truth: tuple[int, int], hole: np.ndarray) -> float:
    """Share of ``flow``'s vectors outside the hole (grown by 10 px) more than 1 px from ``truth``."""
    outside = np.ones(hole.shape, bool)
    outside[HOLE[0].start - 10 : HOLE[0].stop + 10, HOLE[1].start - 10 : HOLE[1].stop + 10] = False
    error = np.hypot(flow[..., 0] - truth[0], flow[..., 1] - truth[1])[outside]
    return float(np.mean(error > 1.0))


def test_a_pan_over_bricks_is_followed_and_never_taken_for_a_cut() -> None:
    frames, hole = _pan(8, (3, 1), seed=3)
    estimator = DISFlow(slow=True)  # (the engine's)
    inputs = [_inputs(f, hole) for f in frames]
    locked, cuts = 0, []
    for pair, (a, b) in enumerate(zip(inputs[:-1], inputs[1:], strict=True)):
        locked += _off(estimator.estimate(a.gray, b.gray), (-3, -1), hole) > 0.2
        forward, backward = pair_flow.estimate_pair(estimator, a, b)
        if pair_flow.is_cut(a, b, forward):
            cuts.append(pair)
        assert _off(forward, (-3, -1), hole) < 0.02, pair
        assert _off(backward, (3, 1), hole) < 0.02, pair
    assert cuts == []
    assert locked >= 2  # (DIS alone locks onto the pattern here: the test can fail)


def test_an_ordinary_pairs_flows_are_dis_own_bit_for_bit() -> None:
    """Only a doubted flow is estimated again: a pan over an ordinary texture keeps DIS's flows."""
    big = texture(HEIGHT, WIDTH + 20, 7)
    hole = np.zeros((HEIGHT, WIDTH), bool)
    hole[HOLE] = True
    a, b = (_inputs(np.ascontiguousarray(big[:, x : x + WIDTH]), hole) for x in (0, 4))
    estimator = DISFlow(slow=True)
    forward, backward = pair_flow.estimate_pair(estimator, a, b)
    np.testing.assert_array_equal(forward, estimator.estimate(a.gray, b.gray))
    np.testing.assert_array_equal(backward, estimator.estimate(b.gray, a.gray))


def test_a_fill_over_a_brick_wall_comes_from_the_other_frames() -> None:
    """A 4 px pan: DIS alone read every third pair as +7 px, the fill came out at Telea's level (about 15 dB
    in the hole, Telea 14); what the other frames saw is now brought in (28-37 dB)."""
    frames, hole = _pan(12, (4, 0), seed=3)
    out = filled("propagate", frames, [hole] * len(frames))
    telea = filled("telea", frames, [hole] * len(frames))

    def psnr(image: np.ndarray, truth: np.ndarray) -> float:
        return float(10 * np.log10(1.0 / np.mean((image - truth)[hole] ** 2)))

    scores = [psnr(o, f) for o, f in zip(out, frames, strict=True)]
    spatial = [psnr(o, f) for o, f in zip(telea, frames, strict=True)]
    assert min(scores) > 25.0, [round(s, 1) for s in scores]
    assert np.mean(scores) > np.mean(spatial) + 12.0
