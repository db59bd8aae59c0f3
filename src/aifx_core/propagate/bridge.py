"""Flows across a (nearly) blind frame: the pair's motion taken from the neighbouring pairs' motion.

A frame whose hole covers (nearly) all of it (a matte over the whole frame while something passes the lens, a
flash or damaged frame masked whole to be rebuilt) gives DIS nothing to track: its grey image is the push-pull
blob the hole is pre-filled with, so its pairs' flows are noise (tennis with frame 5 masked but for a 40x60
corner: the pair's forward flow had a median of 39 px and a 5-95 % spread of 210 px where the camera moves
1-7 px a frame), and the flow completion has no ring (or a corner's) to learn the hole's motion from. Every
chain through such a pair then stops or lands elsewhere, and the frame came out black or as a smear of its ring.

Such a pair (one of its frames :func:`blind`) takes instead the flows of the nearest pairs before and after it
(at most :data:`REACH` pairs away) whose frames both see enough, averaged by 1/(pairs away): the camera's motion
changes little over a few frames, and it is the motion the frames around it measured. Its fit (the expected
error the chains score, :class:`.chain.BoxedFit`) is half the two sides' disagreement plus :data:`BASE_PX`, or
with one side only :data:`ONE_SIDE` of its motion plus :data:`BASE_PX`: propagation is as sure as the
neighbours' motion is steady. Pixels only: what reads a pair (chains, hypotheses) reads these flows instead; a
pair's bridge depends on the frames ``REACH`` pairs either side, which the engine's reach adds
(``engine.PropagateBackend.reach``), so windows and chunks give the same pixels.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .chain import BoxedFit, box_fit

#: A frame is blind when its hole covers at least this share of it: too little is left to tell its motion.
BLIND_SHARE = 0.7
#: Pairs looked at either side of a blind pair for one whose frames both see (the reach it adds).
REACH = 2
#: Expected error (working px) of a bridged flow where the neighbours agree.
BASE_PX = 0.5
#: ... and the share of its motion when only one side has a good pair (extrapolated, not interpolated).
ONE_SIDE = 0.25

#: Expected error (working px) of a pair with no good pair within reach either side (no motion is assumed).
UNKNOWN_PX = 8.0

Flows = tuple[np.ndarray, np.ndarray]


def blind(hole_area: int, frame_area: int) -> bool:
    """Whether a frame whose hole covers ``hole_area`` of ``frame_area`` pixels is too covered to track."""
    return hole_area >= BLIND_SHARE * frame_area


def bridge(
    pair: int,
    good: Callable[[int], Flows | None],
    cut: Callable[[int], bool],
    shape: tuple[int, ...],
) -> tuple[Flows, tuple[BoxedFit, BoxedFit]]:
    """Pair ``pair``'s flows (forward, backward) and fits from the nearest good pairs within :data:`REACH`
    (``good(p)``: pair p's flows when both its frames see, else None; the search stops at a pair where
    ``cut(p)``, asked after ``good(p)``: the motion of another shot says nothing). With none (a long run of
    blind frames), no motion, expected :data:`UNKNOWN_PX` out: chains through it are scored as the guesses
    they are (``shape``: a flow's, (H, W, 2) at working resolution)."""
    sides: list[tuple[float, Flows]] = []
    for step in (-1, 1):
        for away in range(1, REACH + 1):
            flows = good(pair + step * away)
            if flows is not None:
                sides.append((1.0 / away, flows))
                break
            if cut(pair + step * away):
                break
    if not sides:
        still = np.zeros(shape, np.float32)
        unknown = box_fit(np.full(shape[:2], UNKNOWN_PX, np.float32))
        return (still, still), (unknown, unknown)
    total = sum(weight for weight, _ in sides)
    made: list[np.ndarray] = []
    fits: list[BoxedFit] = []
    for which in (0, 1):
        fields = [flows[which] for _, flows in sides]
        mean = np.zeros_like(fields[0], np.float32)
        for (weight, _), field in zip(sides, fields, strict=True):
            mean += np.float32(weight / total) * field
        if len(fields) == 2:
            error = 0.5 * np.linalg.norm(fields[0] - fields[1], axis=-1)
        else:
            error = ONE_SIDE * np.linalg.norm(mean, axis=-1)
        made.append(mean)
        fits.append(box_fit((error + BASE_PX).astype(np.float32)))
    return (made[0], made[1]), (fits[0], fits[1])
