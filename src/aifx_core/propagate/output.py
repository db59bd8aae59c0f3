"""Stage 6 for one frame: its fill steadied in time where it is unsure, written into its plate.

A frame's fill before this (:class:`.fallback_route.Fallback`: propagation blended towards the fallback route
and the frame's own spatial fill) is made per frame; where it is not wholly and surely propagated it changes
from frame to frame while the plate moves on steadily: it boils. So those pixels are averaged along the
completed flow with the fills the neighbours up to the engine's ``STEADY`` frames away made for themselves
(:func:`.fallback.steady`), by how unsure each pixel is: the fallback's share and a propagated value's lack of
confidence, on a fast walk the ring check's share too (:data:`STEADY_FAST_SHARE`); the tolerances below say how
much of a neighbour's value counts. Then the frame's hole is written (:func:`written`); outside it the plate is
untouched, bit for bit.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .chain import FirstStep
from .fallback import Along, Tolerances, steady
from .fallback_route import Fallback, Propagated
from .mover_fringe import near_own_mover

#: Misalignment (working px) at which a neighbour's value counts half: a blur is forgiving, and on a fast
#: pan the completed flow is often 10 px out where its round trip says so (docs/method.md, section 4).
STEADY_PX = 30.0
#: ... and for a propagated value of low confidence (texture: out of register, averaging blurs it). At 2
#: (like a candidate's) crosser kept 0 of 20 frames below Telea - 1 dB; at 30 tennis' object-shaped hole went
#: to 1.0x clean E_warp and whip's static square to 10x, but two crosser cases to 1 of 20 (docs/method.md, 4).
STEADY_TEXTURE_PX = 2.0
#: ... and at least the walk's median motion per step times this (None: off): the completed flow errs in proportion
#: to the motion, so on dollyball960's 6 px/frame dolly 2 px held back low-confidence texture that boils there
#: (removal 3.02x -> 2.84x clean E_warp, +0.10 dB); walks under 2 px per step (crosser, nonrigid) are unchanged
#: (docs/method.md, section 4, "Flicker").
STEADY_TEXTURE_PER_MOTION: float | None = 1.0
#: ... but on a fast pan (the walk's points move at least ``chain.SLACK_FAST_PX`` working px per step, median)
#: the fallback's own ``STEADY_PX``: there a low-confidence propagated value flips from frame to frame (the
#: whips' in-hole boil) and the completed flow inside the hole is coarse anyway, so holding it to 2 px kept the
#: boil. Slow walks (crosser's 1.3 px/frame, where 30 px for all put a car entering a square below Telea - 1
#: dB) keep 2 px. None: off (docs/method.md, "Fast whips", sixth pass).
STEADY_FAST_TEXTURE_PX: float | None = 30.0
#: ... and there the frame's own value weighs this much in the average instead of 2 (``fallback.steady``'s
#: ``own_weight``): on the whips the boil is the frame's own value. Own weight 1 for every walk put a car entering
#: crosser's static square below Telea - 1 dB (docs/method.md, section 4); fast walks only (sixth pass).
STEADY_FAST_OWN: float | None = 1.0
#: ... and there the ring check's share (the frame's own spatial fill, which is not averaged on slow walks: there
#: it marks an object crossing the hole) is averaged too, weighted this much against the fallback's share and
#: by its agreement with the frame's own value (:data:`STEADY_FAST_AGREE`). On the whips that share carried 58-92 %
#: of the in-hole E_warp, unsteadied. None: off (docs/method.md, section 4, "Flicker").
STEADY_FAST_SHARE: float | None = 0.5
#: A neighbour's value counts 1 / (1 + (d / (this x the frame's level))²) there, d its largest channel difference
#: from the frame's own: a boil is averaged, an object the neighbours do not show (whip's ball entering the static
#: square) barely is. Without it whip960's nine squares lost 0.7 dB.
STEADY_FAST_AGREE = 0.5
#: ... and so does a neighbour's sample of the fallback's share on such a step, at this x the frame's level (None:
#: off): the completed flow inside the hole of a 50 px/frame pan read the court into the wall (tennis taken fast,
#: blur6 frame 8: unsteadied 32.0 dB, steadied 26.0, per-frame Telea 28.3; now 27.6). At 0.5 it was 29.0 but
#: whip960's static / nine squares lost 0.07 / 0.10 dB and flickered 16.7x -> 19.4x / 7.1x -> 8.5x clean E_warp;
#: at 1.0 they lose 0.01 / 0.03 (17.4x / 7.5x). Slow walks are unchanged (docs/method.md, section 4, thirteenth pass).
STEADY_FAST_FALLBACK_AGREE: float | None = 1.0
#: Near a mover of the frame's own (within ``mover_fringe.FAST_OWN_PX``) a fast step's neighbour sample of the
#: ``fetched`` share counts 1 / (1 + (d / (this × level))²), d its difference from the frame's own value: the
#: neighbours' fills there hold the mover where it stood in their holes (tennis rolling 0.4 degrees a frame with a
#: crossed square: the player's leg in frame 16's hole steadied into frame 14, where he stood beside it; the
#: fill before the steadying 33.0 dB, after it 26.0, now 31.9, Telea 26.4; docs/method.md, "Fourteenth pass (cross22)").
STEADY_MOVER_AGREE = 0.25


def steadied(
    t: int,
    prop: Propagated,
    part: Fallback,
    level: float,
    reach: int,
    along: Along,
    first_steps: dict[int, FirstStep] | None,
    movers: np.ndarray | None,
    scale: tuple[float, float],
) -> np.ndarray:
    """Frame t's fill at its hole pixels (``prop``'s), its fallback-route fill ``part`` averaged along the flow
    with its neighbours' own up to ``reach`` frames away (``along``: what the shot around it gives; 0: none)
    where it is unsure. ``level``: the frame's typical level; ``first_steps``: its candidates' walks' first step
    each way for its hole pixels, taken up by the steadying's walks (:meth:`.chain.Chain.replay`, the same
    values); ``movers``: its own movers, at ``scale`` (working per full-resolution px)."""
    values = part.values
    # How unsure each pixel is: the fallback's share, and a propagated value's lack of confidence (fetched
    # along unsure chains, it boils too); not the ring check's share: what the other frames do not show
    # (an object crossing the hole) is not averaged along the background's flow.
    unsure = (1.0 - part.share) * (1.0 - part.alpha)
    fetched = (1.0 - part.share) * part.alpha * (1.0 - prop.confidence)
    # On a fast walk the ring check's share is averaged too (STEADY_FAST_SHARE).
    own_fill = None
    if STEADY_FAST_SHARE is not None and STEADY_FAST_TEXTURE_PX is not None:
        own_fill = STEADY_FAST_SHARE * part.share
    points = np.flatnonzero(unsure + fetched + (0.0 if own_fill is None else own_fill) > 0.001)
    if reach <= 0 or not len(points):
        return values
    # Where the fill is not wholly and surely propagated it is averaged along the flow with the neighbours'
    # own fills, so what is invented or fetched unsurely moves with the plate, not boiling.
    values = values.copy()
    if first_steps:
        along = replace(along, first=lambda walk: walk.replay(first_steps.get(walk.direction), points))
    tolerances = Tolerances(
        STEADY_PX,
        STEADY_TEXTURE_PX,
        fast_texture_px=STEADY_FAST_TEXTURE_PX,
        fast_own_weight=STEADY_FAST_OWN,
        fast_agree=STEADY_FAST_AGREE * level,
        mover_agree=STEADY_MOVER_AGREE * level,
        texture_per_motion=STEADY_TEXTURE_PER_MOTION,
        fast_fallback_agree=np.inf
        if STEADY_FAST_FALLBACK_AGREE is None
        else STEADY_FAST_FALLBACK_AGREE * level,
    )
    values[points] = steady(
        t,
        prop.xs[points],
        prop.ys[points],
        part.values[points],
        unsure[points],
        fetched[points],
        along,
        reach,
        tolerances,
        fast_spatial=None if own_fill is None else own_fill[points],
        near_mover=near_own_mover(movers, prop.ys[points], prop.xs[points], scale),
    )
    return values


def written(rgb: np.ndarray, ys: np.ndarray, xs: np.ndarray, values: np.ndarray) -> np.ndarray:
    """A copy of the frame's plate ``rgb`` with ``values`` at its hole pixels (``ys``, ``xs``)."""
    out = rgb.copy()
    out[ys, xs] = values
    return out
