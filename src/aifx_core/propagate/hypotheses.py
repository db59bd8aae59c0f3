"""Motion hypotheses for what propagation did not find, judged by the neighbouring frames (issue #10, whips).

Where an object the camera tracks (a car, a walker: unmasked, so it is the truth in the hole) stands in a hole
on a fast pan, the completed flow there is usually the ground's: one pair's ring cannot say how far into the
hole the object reaches, and the chains along the ground's motion find nothing or break. The neighbouring
frames can say it. A point of frame t moving with velocity v is seen at ``p + k·v`` in frame t + k (and with
the backward motion in t - k); under its own motion the frames that see it there show the same patch, under a
wrong one they show different things (other parts of the car, the ground beside it).

So each hole point that propagation found nothing for gets, besides the completed flow at the point, one
hypothesis per side (left, right, up, down): the measured flow nearest to it outside the completed region along
its row or column (an object entering the hole from a side brings its own motion from there). Each is followed
with constant velocity to t ± 1 .. t ± :data:`STEPS` and read there as a small patch (:data:`PATCH`) where it is
valid plate; a side hypothesis seen both ways in time whose samples agree well (:data:`AGREE`) and clearly better
than the completed flow's (:data:`MARGIN`) gives the point its colour.

Only points propagation found nothing for are asked (elsewhere the hypothesis of the layer *behind* is as
consistent across frames as the one in front, and replacing found values cost the static square its margin:
docs/method.md, "Fast whips", seventh pass), and only on fast frames (the frame's median motion at least
``chain.SLACK_FAST_PX``): under a slow camera a car entering a static square put crosser 0.13 dB lower. Only
frames within ``STEPS`` of t are read (the engine passes ``min(STEPS, radius)``), so the output is the same for
any window size; nothing is read from a hole or an unmasked mover (:func:`.chain.touches`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..flow import median_side, sample_points
from ..flow.ops import largest_channel, nearest_along_rows
from .candidates import Source
from .chain import SLACK_FAST_PX, BoxedFit, fit_positive

#: Frames each way a hypothesis is followed (constant velocity: the whip's pan accelerates 18 -> 34 px/frame,
#: and 3 or 4 frames each way measured worse).
STEPS = 2
#: Largest mean relative spread (largest channel, over the frame's level) of a hypothesis's samples that
#: counts as agreement.
AGREE = 0.16
#: A side's hypothesis is taken where its spread is below this share of the completed flow's (or the completed
#: flow's samples are fewer than two).
MARGIN = 0.7
#: Hypotheses this close to the completed flow (working px per frame, either direction) change nothing.
DIFFERENT_PX = 3.0
#: Offsets (full-resolution px) of the patch a hypothesis is judged on: one pixel's colour agrees under any
#: motion where the plate is flat or dark; a patch's texture does not.
PATCH = tuple((dy, dx) for dy in (-2, 0, 2) for dx in (-2, 0, 2))
_CENTRE = len(PATCH) // 2
_DY = np.array([dy for dy, _ in PATCH], np.float32)
_DX = np.array([dx for _, dx in PATCH], np.float32)
#: Sampling stride (working px) of the frame's motion for the fast-frame gate.
GATE_STRIDE = 8


@dataclass
class Chosen:
    """Points a side hypothesis gave a colour: their indices into the points asked and their colours."""

    index: np.ndarray
    values: np.ndarray


def nearest_outside(completed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per pixel, the column of the nearest pixel not ``completed`` to its left / right in its row, and the row
    of the nearest one above / below in its column (-1 where there is none)."""
    left, right = _along_rows(completed)
    up, down = _along_rows(completed.T)
    return left, right, up.T, down.T


def _along_rows(completed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel, the column of the nearest pixel not ``completed`` to its left / right in its row (-1: none)."""
    left, right = nearest_along_rows(~completed)
    return left, np.where(right >= completed.shape[1], -1, right)


def _side_motions(
    flow: np.ndarray, completed: np.ndarray, xi: np.ndarray, yi: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """For points at working pixels (xi, yi): per side (left, right, up, down), the measured motion there
    (N, 2) and whether the side has one (N,).

    Only the rows and columns the points lie in are scanned (:func:`nearest_outside`'s values there, for a
    fraction of the frame: a row's answer depends on that row alone)."""
    rows, in_row = np.unique(yi, return_inverse=True)
    cols, in_col = np.unique(xi, return_inverse=True)
    left, right = _along_rows(completed[rows])
    up, down = _along_rows(completed[:, cols].T)
    out = []
    for side, nearest in enumerate((left[in_row, xi], right[in_row, xi], up[in_col, yi], down[in_col, yi])):
        has = nearest >= 0
        at = np.maximum(nearest, 0)
        motion = flow[yi, at] if side < 2 else flow[at, xi]
        out.append((motion.astype(np.float32), has))
    return out


def _samples(
    t: int,
    xs: np.ndarray,
    ys: np.ndarray,
    forward: np.ndarray,
    backward: np.ndarray,
    scale: tuple[float, float],
    source: Callable[[int], Source | None],
    steps: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Colours (2·steps, P, N, 3) read at ``p + o + k·v`` for each patch offset o (the forward motion into
    t + k, the backward one into t - k; working px per frame), and whether each is valid plate (2·steps, P, N)."""
    sx, sy = scale
    n = len(xs)
    values = np.zeros((2 * steps, len(PATCH), n, 3), np.float32)
    valid = np.zeros((2 * steps, len(PATCH), n), bool)
    row = 0
    for direction, motion in ((1, forward), (-1, backward)):
        for k in range(1, steps + 1):
            frame = source(t + direction * k)
            if frame is not None:
                height, width = frame.invalid.shape
                # Every offset of every point at once: (P, N) positions.
                x = (xs + k * motion[:, 0] / sx)[None, :] + _DX[:, None]
                y = (ys + k * motion[:, 1] / sy)[None, :] + _DY[:, None]
                inside = np.isfinite(x + y) & (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)
                ok = inside.copy()
                ok[inside] = ~frame.touches(x[inside], y[inside])
                if ok.any():
                    values[row][ok] = sample_points(frame.image, x[ok], y[ok]) * frame.gain
                valid[row] = ok
            row += 1
    return values, valid


def _spread(values: np.ndarray, valid: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Per point: the mean colour of the valid samples at the patch's centre (N, 3), and the relative spread
    (each valid sample's largest-channel distance to the mean of its patch offset, averaged, over ``level``;
    inf with fewer than two valid samples at the centre)."""
    count = valid.sum(axis=0)  # (P, N)
    # (an invalid sample's values are 0: :func:`_samples` writes only valid ones)
    mean = values.sum(axis=0) / np.maximum(count, 1)[..., None]
    apart = values - mean[None]
    distance = largest_channel(np.abs(apart, out=apart))  # (S, P, N)
    usable = valid & (count >= 2)[None]
    total = np.where(usable, distance, np.float32(0.0)).sum(axis=(0, 1))
    spread = total / np.maximum(usable.sum(axis=(0, 1)), 1) / level
    spread = np.where(count[_CENTRE] >= 2, spread, np.inf)
    return mean[_CENTRE].astype(np.float32), spread.astype(np.float32)


def fast(flow: np.ndarray) -> bool:
    """Whether a frame's motion (working px, median over a grid of its flow) is at least ``SLACK_FAST_PX``."""
    grid = flow[::GATE_STRIDE, ::GATE_STRIDE].reshape(-1, 2)
    return median_side(np.hypot(grid[:, 0], grid[:, 1]), SLACK_FAST_PX) > 0


def fast_motion(
    t: int, flow: Callable[[int, int], np.ndarray], in_shot: Callable[[int], bool]
) -> np.ndarray | None:
    """Frame t's median motion (working px, x and y) if the frame is :func:`fast` (on its forward flow; the
    shot's last frame: on its backward flow), else None. Both are flows frame t's propagation reads anyway, so
    the answer is the same for any window."""
    if in_shot(t + 1):
        motion = flow(t, 1)
    elif in_shot(t - 1):
        motion = flow(t, -1)
    else:
        return None
    if not fast(motion):
        return None
    return np.median(motion[::GATE_STRIDE, ::GATE_STRIDE].reshape(-1, 2), axis=0)


def choose(
    t: int,
    xs: np.ndarray,
    ys: np.ndarray,
    flow: Callable[[int, int], np.ndarray],
    fit: Callable[[int, int], np.ndarray | BoxedFit | None],
    scale: tuple[float, float],
    source: Callable[[int], Source | None],
    level: float,
    steps: int = STEPS,
) -> Chosen | None:
    """Of the points (full-resolution ``xs``, ``ys`` of frame t), those a side hypothesis gives a colour (see
    the module docstring); None when frame t is not fast, lacks a neighbour either side, or its flows have no
    completion map (``fit`` None)."""
    if steps < 1 or len(xs) == 0 or source(t + 1) is None or source(t - 1) is None:
        return None
    forward, backward = flow(t, 1), flow(t, -1)
    fit_f, fit_b = fit(t, 1), fit(t, -1)
    if fit_f is None or fit_b is None or not fast(forward):
        return None
    sx, sy = scale
    height, width = forward.shape[:2]
    xi = np.clip(np.rint((xs + 0.5) * sx - 0.5).astype(np.intp), 0, width - 1)
    yi = np.clip(np.rint((ys + 0.5) * sy - 0.5).astype(np.intp), 0, height - 1)
    own_f, own_b = forward[yi, xi], backward[yi, xi]
    _, best = _spread(*_samples(t, xs, ys, own_f, own_b, scale, source, steps), level)
    base = best.copy()
    colour = np.zeros((len(xs), 3), np.float32)
    chosen = np.zeros(len(xs), bool)
    sides = zip(
        _side_motions(forward, fit_positive(fit_f), xi, yi),
        _side_motions(backward, fit_positive(fit_b), xi, yi),
        strict=True,
    )
    for (motion_f, has_f), (motion_b, has_b) in sides:
        off = np.maximum(np.hypot(*(motion_f - own_f).T), np.hypot(*(motion_b - own_b).T)) > DIFFERENT_PX
        ask = np.flatnonzero(has_f & has_b & off)
        if len(ask) == 0:
            continue
        values, valid = _samples(t, xs[ask], ys[ask], motion_f[ask], motion_b[ask], scale, source, steps)
        mean, spread = _spread(values, valid, level)
        both_ways = valid[:steps, _CENTRE].any(axis=0) & valid[steps:, _CENTRE].any(axis=0)
        better = both_ways & (spread <= AGREE) & (spread < MARGIN * base[ask]) & (spread < best[ask])
        where = ask[better]
        best[where] = spread[better]
        colour[where] = mean[better]
        chosen[where] = True
    index = np.flatnonzero(chosen)
    return Chosen(index, colour[index])
