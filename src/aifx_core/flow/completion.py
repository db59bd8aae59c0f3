"""Flow completion: inside the hole, the flow we want is the background's motion, not the removed object's.

Camera motion over a background is well described by a homography per depth layer. Two sources tell us which:

* the whole frame: the background's layers are fitted once per flow away from every hole
  (:mod:`.motion`), and every hole checks them first (one fit shared by all holes, far more support than a
  ring, robust to a ring that is partly covered);
* the hole's ring: flow samples around the hole (beyond the fringe the pre-filled hole smears), which may see
  several layers and unmasked objects crossing the hole: :mod:`.ring_layers` finds each hole group's motion.

This module is the completion around that stage: the frame's layers and movers, the crop, the fringe (grown on a
fast pair, :func:`_fast_gap`), the grid (a slow pair's motions are found on every :data:`PAIR_STEP`-th pixel),
which ring samples are learned from, the residual and the expected error. Ring samples whose flow lands in (or
next to) the hole of the frame it points to are not learned from: the pre-filled hole verifies nothing, and
under a fast camera the estimator drags the flow around a hole towards the blob (:func:`_unverified`). What the
layer motions miss (parallax within a layer, non-rigid motion) is the ring's residual, spread smoothly inward.
When nothing explains the ring, the flow itself is filled smoothly.

Each hole (holes whose rings touch count as one) is completed in its own crop: cost follows the holes' area.
:func:`complete_flows_scored` also returns the completion's expected error per pixel (the *fit* maps).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np

from .fill import push_pull_fill
from .holes import Upsampling, geometry, hole_depth, shared_distance
from .motion import background_layers, hole_distance, moving_mask
from .ops import channel_mask, interleave, join_channels, sample_points
from .ring_layers import LayerSettings, Spanned, group_motion, motion_beyond_fast

#: Expected error (working px) reported where the completion had nothing to learn from.
UNKNOWN_FIT = 100.0
#: Growth of the replaced fringe around a hole with the pair's motion beyond :data:`.ring_layers.FAST_PX` (px
#: per px; see :func:`_fast_gap`). Measured on the whips (docs/method.md "Fast whips"): 0.25-0.4 all gain, 0.6
#: loses.
FAST_GAP = 0.3
#: Growth of the expected error with the distance to the ring (px per px): a model's extrapolation drifts.
DRIFT = 0.02
#: A flow landing within this many working pixels of the target frame's hole is not verified by anything
#: (negative: the check is off). Measured alone (without OBJECT_LAYERS, with which it was first tried and
#: switched off): docs/method.md "Fast whips".
LANDING_PX = 2.0
#: ... and such ring samples are left out only while this share of the ring remains to learn from.
MIN_VERIFIED = 0.3
#: For a frame pair's flows (``holes`` given: [A→B, B→A]) the backward flow's hole group takes the inverse of
#: the forward flow's unmasked object spanning the hole (kept where half its ring samples follow it, as a fit
#: is), and none where the forward flow's ring showed none, instead of a RANSAC fit of its own: the same
#: object seen from the other frame. Two thirds of these fits fail after all their draws (tennis nine
#: squares), so the backward flow's were half the fits' cost. Measured: docs/method.md "Speed, ninth pass".
SPANNING_FROM_FORWARD = True
#: Most layers one ring may be explained by on a fast pair (the replaced fringe grown): there DIS's drag
#: around the hole forms ring layers of its own, and with three at most an object the camera tracks (its own,
#: slower motion) was the one left out (whip960's left squares). Slow pairs keep ``max_layers``.
FAST_LAYERS = 4
#: On a fast pair the grown part of the fringe votes for the hole's layer labels where its own flow is
#: within this many times ``ransac_px`` of a layer's motion (0: off): the outer ring may miss where a
#: tracked object ends just outside the hole (docs/method.md "Fast whips", fifth pass).
FRINGE_VOTE = 2.0
#: ... from this many working pixels beyond the hole outwards (DIS's drag is worst next to the hole; measured on
#: the whips: from 8 px gains 0.2 dB on whip's static square over the fixed fringe's 10 px, from 6 px loses
#: the moving blob a frame, from 13 px loses 0.1 dB).
FRINGE_VOTE_FROM = 8.0
#: A frame pair's hole motions are found on every PAIR_STEP-th pixel (``step`` of :func:`complete_flows`,
#: passed by the pair flows of :mod:`..propagate.pairs`): DIS's ``medium`` preset computes its flow at half
#: resolution anyway (finest scale 1), and the completion's cost follows the pixels of the rings and holes.
#: The frame-wide background layers and mover masks stay on the frame's grid; distances, widths and motions
#: are in the frame's pixels either way. Measured: docs/method.md "Speed, tenth pass".
PAIR_STEP = 2
#: ... on a slow pair, and on a fast one whose replaced fringe grows by at most this many working pixels
#: (``_fast_gap``: motion up to FAST_PX + 3 / FAST_GAP = 20 px a frame). Faster pairs keep the frame's grid: there
#: the coarse grid lost whip's static square 0.28 dB (its pairs grow the fringe by 2-8 px; tennis's fast pairs by
#: 1-3). Measured: docs/method.md "Speed, tenth pass".
COARSE_FAST_GAP = 3
#: ... and only where the pair's hole is at most this many working pixels deep (its deepest pixel's distance
#: to its edge: parts up to ~128 px thick; tennis's holes with the player's matte are 32-58 deep, nine squares
#: 18). A deeper hole keeps the frame's grid: on the coarse grid dollyball960's removed ball (~200 px across,
#: 100 deep) lost in-hole steadiness, E_warp 2.84 -> 3.14x the clean clip's against a 3x target; at 32 tennis
#: lost the coarse grid's +0.2-0.4 dB. Measured: docs/method.md "Speed, tenth pass".
COARSE_MAX_DEPTH = 64.0


#: Flow within this many working px of a hole is not learned from (DIS smears the pre-filled hole outwards):
#: ``gap`` of :func:`complete_flows`.
GAP = 10


@dataclass(frozen=True)
class _Settings(LayerSettings):
    """The options of :func:`complete_flows`: the ring's layers' (:class:`.ring_layers.LayerSettings`) and the
    completion's own."""

    ring: int = 16
    gap: int = GAP
    exclude_movers: bool = True
    #: (a_gray, b_gray): the images the flows were estimated on, for moving objects the flow did not follow.
    images: tuple[np.ndarray, np.ndarray] | None = None
    #: (a_hole, b_hole): each frame's own hole (the hole completed is their union), when known; a flow is
    #: unverified where it lands in the hole of the frame it points to (the union when not given).
    holes: tuple[np.ndarray, np.ndarray] | None = None
    #: ``images`` through :func:`.motion.smoothed_grey`, when the caller has them (shared with its mover
    #: detection: each blurred once).
    smoothed: tuple[np.ndarray, np.ndarray] | None = None


def complete_flow(flow: np.ndarray, hole: np.ndarray, **options: Any) -> np.ndarray:
    """Return a copy of ``flow`` (H, W, 2) whose values inside ``hole`` (H, W bool) are completed.

    Flow within ``gap`` pixels of the hole is replaced too: patch-based estimators smear the pre-filled hole
    outwards (more with fast motion), so the ring the motion is learned from starts beyond that fringe.
    ``options`` are those of :func:`complete_flows`.
    """
    return complete_flows([flow], hole, **options)[0]


def complete_flows(flows: list[np.ndarray], hole: np.ndarray, **options: Any) -> list[np.ndarray]:
    """:func:`complete_flow` for several flows sharing one hole (forward and backward of a frame pair).

    Options: ``ring`` (16) and ``gap`` (10) working pixels (on a fast pair, median motion beyond
    ``FAST_PX``, the gap grows by ``FAST_GAP`` px per px of motion beyond it: :func:`_fast_gap`), ``ransac_px`` (1.5), ``min_inliers`` (0.5),
    ``max_samples`` (1500), ``max_layers`` (3, at most 4: how many motions one ring may be explained by; ``FAST_LAYERS`` on a fast
    pair),
    ``exclude_movers`` (True: keep objects moving against the background off the ring fit; each is a layer
    of its own), ``images`` (``(a_gray, b_gray)``, the uint8 images the flows were estimated on: recommended,
    so that objects the flow did not follow are found too; see :func:`.motion.moving_mask`) and ``holes``
    (``(a_hole, b_hole)``, each frame's own hole when the flows are a pair [A→B, B→A, ...]: ring samples
    landing in the other frame's hole are not learned from; without it, in the union). ``smoothed``:
    ``images`` through :func:`.motion.smoothed_grey`, when the caller has them (not blurred again). ``step``
    (1): find the hole's motions on every ``step``-th pixel (``PAIR_STEP`` for a frame pair's flows) where the
    pair is slow or barely fast (``COARSE_FAST_GAP``); the flow outside the completed region is the flow given,
    bit for bit, at any step.
    """
    return _complete(flows, hole, _Settings(**options))[0]


def complete_flows_scored(
    flows: list[np.ndarray],
    hole: np.ndarray,
    *,
    layers_out: list | None = None,
    distance: np.ndarray | None = None,
    layers: list[list[np.ndarray]] | None = None,
    **options: Any,
) -> tuple[np.ndarray, ...]:
    """:func:`complete_flows` plus each completion's expected error: ``(*completed, *fits)``.

    For a pair ``[forward, backward]`` that is ``(forward, backward, fit_forward, fit_backward)``. A fit is a
    float32 (H, W) map in working-resolution pixels: 0 where the flow is measured; inside the completed region
    the ring's fit residual of the chosen motion model spread inward, growing with the distance to the ring
    (``· (1 + d / ring) + DRIFT · d``), so large holes and poorly explained rings score high; ``UNKNOWN_FIT``
    where nothing around the hole could be learned from.

    ``layers_out``: a list that receives, per flow, the frame's background layers (homographies, dominant
    first; see :func:`.motion.background_layers`) the completion fitted (on the flow as estimated, away from the
    hole), so a caller need not fit them again (e.g. :func:`.motion.moving_objects`'s ``layers``); nothing is
    added when ``hole`` is empty. ``distance``: :func:`.motion.hole_distance` of ``hole`` when the caller has it
    (it is read, never written), so the pair's mover detection and its completion share one transform.
    ``layers``: per flow, those background layers when the caller fitted them already (as here: beyond the
    ``gap`` from the hole, :func:`.motion.background_layers`' defaults), so they are not fitted again; a frame
    pair's exact layers fit them on the flows as estimated, before the flows are snapped to the refined layers
    (:func:`aifx_core.propagate.pair_flow.complete_pair`).
    """
    completed, fits = _complete(flows, hole, _Settings(**options), layers_out, distance, layers)
    return (*completed, *fits)


def _complete(
    flows: list[np.ndarray],
    hole: np.ndarray,
    opt: _Settings,
    layers_out: list | None = None,
    distance: np.ndarray | None = None,
    fitted: list[list[np.ndarray]] | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    height, width = hole.shape
    fits = [np.zeros((height, width), np.float32) for _ in flows]
    if not hole.any():  # (nothing fitted: layers_out stays as it was)
        return list(flows), fits
    if distance is None:
        distance = hole_distance(hole)
    usable = distance > opt.gap
    # The frame's background layers (one fit per flow, shared by every hole) and what moves against them.
    frame_layers, movers = [], []
    for j, flow in enumerate(flows):
        layers = background_layers(flow, usable, ransac_px=opt.ransac_px) if fitted is None else fitted[j]
        frame_layers.append(layers)
        if opt.exclude_movers and layers:
            # Flow j runs A→B for even j (forward), B→A for odd j (backward).
            pair = None if opt.images is None else (opt.images if j % 2 == 0 else opt.images[::-1])
            smooth = None if opt.smoothed is None else (opt.smoothed if j % 2 == 0 else opt.smoothed[::-1])
            movers.append(moving_mask(flow, hole, layers, distance=distance, images=pair, smoothed=smooth))
        else:
            movers.append(np.zeros((height, width), bool))
    if layers_out is not None:
        layers_out.extend(frame_layers)
    # One crop around all holes and their rings (cost follows the holes, not the frame: nothing beyond the
    # rings is learned from) for the smooth fills; motions are found per hole group (holes whose rings
    # touch), each from its own ring.
    gap = opt.gap + _fast_gap(flows, usable)
    fast = gap > opt.gap
    if fast and 1 < opt.max_layers < FAST_LAYERS:  # (a caller asking for one motion gets one)
        opt = replace(opt, max_layers=FAST_LAYERS)
    # (what the hole alone decides, kept while the next pairs have the same hole: :mod:`.holes`)
    # (the coarse grid up to a fringe grown by COARSE_FAST_GAP: on the fastest whip pairs it lost 0.28 dB, where
    # DIS's drag, the grown fringe and its votes are a few pixels wide)
    coarse = opt.step > 1 and gap - opt.gap <= COARSE_FAST_GAP and hole_depth(hole) <= COARSE_MAX_DEPTH
    step = opt.step if coarse else 1
    opt = replace(opt, step=step)
    geo = geometry(hole, distance, gap, opt.ring, FRINGE_VOTE_FROM, step)
    (y0, x0), crop = geo.origin, geo.crop
    near, inside, known, reach = geo.near, geo.inside, geo.known, geo.reach
    crops = [_coarse(flow, step, crop) for flow in flows]
    moving = [_coarse(mask, step, crop) for mask in movers]
    # Flow j runs A→B for even j, so it lands in B's hole; B→A for odd j.
    if LANDING_PX >= 0:
        landing = (
            [distance, distance]
            if opt.holes is None
            else [distance if np.array_equal(own, hole) else shared_distance(own) for own in opt.holes[::-1]]
        )
        unverified = [_unverified(crops[j], (y0, x0), landing[j % 2], step) for j in range(len(flows))]
    else:  # (the check is off: nothing to compute)
        unverified = [np.zeros(near.shape, bool) for _ in flows]
    bases = [np.zeros_like(c) for c in crops]
    errors = [np.zeros(near.shape, np.float32) for _ in flows]
    learn = np.zeros(near.shape, bool)  # where residuals are learned from: the rings, minus movers
    # Where errors are learned from: the whole rings (movers on the ring make the completion a guess: their
    # disagreement with the model counts); groups with nothing around them to learn from are unknown.
    rings, unknown = geo.rings, geo.unknown
    # (flows [A→B, B→A, ...], a slow pair: under a fast camera the sides' movers are DIS's drag and blur as
    # much as an object, and each flow's own fit was worth 0.8 dB on whip's static square)
    derive = SPANNING_FROM_FORWARD and opt.holes is not None and not fast
    for group in geo.groups:
        box, own, ring = group.box, group.own, group.ring
        if ring is None:
            continue
        group_learn = ring.copy()
        spanned: Spanned | None = None  # (what the forward flow's ring showed of a spanning object)
        for j, layers in enumerate(frame_layers):
            verified = ring & ~unverified[j][box]
            seen = verified if verified.sum() >= MIN_VERIFIED * ring.sum() else ring
            # (on a fast pair, the grown fringe's own flow may vote for the labels of the hole itself)
            votes = (
                (group.voters & ~moving[j][box], group.core, FRINGE_VOTE * opt.ransac_px)
                if fast and FRINGE_VOTE > 0
                else None
            )
            base, explained, error, found = group_motion(
                crops[j][box],
                seen,
                group.inner,
                moving[j][box],
                layers,
                group.origin,
                opt,
                votes,
                (group.gy, group.gx),
                spanned if derive and j % 2 == 1 else None,
                narrow=not fast,
            )
            spanned = found
            np.copyto(bases[j][box], base, where=channel_mask(own, 2))
            np.copyto(errors[j][box], error, where=own)
            group_learn &= explained
        if not group_learn.any():
            group_learn = ring
        learn[box] |= group_learn
    for j in range(len(flows)):
        learn &= ~moving[j] & ~unverified[j] & np.isfinite(crops[j][..., 0]) & np.isfinite(crops[j][..., 1])
    if not learn.any():
        learn = known & (reach > 0) & ~unknown
        for crop_flow in crops:
            learn &= np.isfinite(crop_flow[..., 0]) & np.isfinite(crop_flow[..., 1])
    residuals = [c - b for c, b in zip(crops, bases, strict=True)]
    filled = _push_pull_channels(residuals, learn)
    depth = geo.depth
    spread = _coarse_spread(errors, rings if rings.any() else learn, max(1, 4 // step))
    if geo.full is not None:
        with np.errstate(all="ignore"):  # (summed everywhere, written only where done)
            values = [b + f for b, f in zip(bases, filled, strict=True)]
        scores = [s * (1.0 + depth / opt.ring) + DRIFT * depth for s in spread]
        for score in scores:
            score[unknown] = UNKNOWN_FIT
        return _upsampled(flows, movers, geo.full, values, scores, opt.gap if gap > opt.gap else None)
    completed = []
    for j, flow in enumerate(flows):
        out = flow.copy()
        region = out[crop]
        done = inside & ~unknown  # (where nothing could be learned, the flow is left as it was)
        if gap > opt.gap:  # the grown fringe keeps an unmasked mover's own flow
            done &= ~(moving[j] & (near > opt.gap))
        with np.errstate(all="ignore"):  # (summed everywhere, written only where done)
            np.copyto(region, bases[j] + filled[j], where=channel_mask(done, 2))
        completed.append(out)
        fit = spread[j] * (1.0 + depth / opt.ring) + DRIFT * depth
        fit[unknown] = UNKNOWN_FIT
        fits[j][crop][inside] = fit[inside]
    return completed, fits


def _coarse(array: np.ndarray, step: int, crop: tuple[slice, slice]) -> np.ndarray:
    """Every ``step``-th pixel of ``array`` (contiguous: OpenCV reads it), or ``array`` itself at step 1."""
    if step <= 1:
        return array[crop]
    return np.ascontiguousarray(array[::step, ::step][crop])


def _upsampled(
    flows: list[np.ndarray],
    movers: list[np.ndarray],
    full: Upsampling,
    values: list[np.ndarray],
    scores: list[np.ndarray],
    fringe_gap: int | None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The completion on a coarse grid brought back to the frame's: each flow (a copy) takes the coarse
    crop's ``values`` (bilinear between coarse pixels) where the frame's own pixels are within the gap of the
    hole and a ring was learned from, and nowhere else (every other pixel is the flow given, bit for bit);
    each fit map takes ``scores`` there. ``fringe_gap``: on a fast pair, the fixed gap beyond which the grown
    fringe keeps an unmasked mover's own flow (None: a slow pair)."""
    height, width = flows[0].shape[:2]
    known = ~full.unknown
    completed, fits = [], []
    for j, flow in enumerate(flows):
        out = flow.copy()
        up = sample_points(values[j], full.xs, full.ys).astype(out.dtype, copy=False)
        here = known
        if fringe_gap is not None:
            here = known & ~(movers[j].reshape(-1)[full.index] & (full.near > fringe_gap))
        if out.dtype == np.float32:
            # (a pixel's two float32 values moved as one 64-bit word: NumPy's fancy indexing of 2-element
            # rows took 1.7 of this function's 3.2 ms a nine-squares pair)
            _words(out.reshape(-1, 2))[full.index[here]] = _words(up)[here]
        else:
            out.reshape(-1, 2)[full.index[here]] = up[here]
        completed.append(out)
        fit = np.zeros(height * width, np.float32)
        fit[full.index] = sample_points(scores[j], full.xs, full.ys)
        fits.append(fit.reshape(height, width))
    return completed, fits


def _words(pairs: np.ndarray) -> np.ndarray:
    """A C-contiguous (N, 2) float32 array's rows as N 64-bit words (a view: writing them writes the floats)."""
    return pairs.view(np.uint64).reshape(-1)


def _fast_gap(flows: list[np.ndarray], usable: np.ndarray) -> int:
    """Extra working pixels of fringe replaced around the holes of a fast pair (0 up to
    :data:`.ring_layers.FAST_PX`).

    Under a fast camera DIS drags the plate's flow around a pre-filled hole further out than the fixed
    ``gap`` (the pre-fill sits still while the plate moves 20-50 px), and chains that land in that fringe
    of the other frame fail their round trip there. The speed is the median motion of the first flow away
    from the holes (every 4th pixel: it is a robust statistic of the whole frame)."""
    if FAST_GAP <= 0 or not flows:
        return 0
    sample = flows[0][::4, ::4][usable[::4, ::4]]
    sample = sample[np.isfinite(sample).all(axis=1)]
    if not len(sample):
        return 0
    return int(round(FAST_GAP * motion_beyond_fast(np.hypot(sample[:, 0], sample[:, 1]))))


def _unverified(flow: np.ndarray, origin: tuple[int, int], landing: np.ndarray, step: int = 1) -> np.ndarray:
    """Where a crop's flow (crop top-left at ``origin``) lands within ``LANDING_PX`` of the hole it points
    to (``landing``: the distance to it over the frame); a flow leaving the frame is left as it is.

    Nothing verifies such a flow: the estimator matched it against the pre-filled hole. Under a fast camera
    a static hole's pre-fill sits in two places of the pre-aligned pair, and DIS drags the plate's flow
    around it towards the blob (measured on the `whip` clip: 0-3 px instead of 30-35 px, tens of pixels
    upstream of the hole), so the side of the ring the camera moves towards the hole taught the completion
    a motion nothing in the shot has.
    """
    height, width = flow.shape[:2]
    # (coordinates as a row and a column, broadcast: the same sums as with whole grids)
    gx = np.arange(origin[1], origin[1] + width, dtype=np.float32)[None, :]
    gy = np.arange(origin[0], origin[0] + height, dtype=np.float32)[:, None]
    if step > 1:  # (a coarse crop: its pixels' positions on the frame, where ``landing`` is)
        gx, gy = gx * np.float32(step), gy * np.float32(step)
    tx, ty = gx + flow[..., 0], gy + flow[..., 1]
    lands = cv2.remap(landing, tx, ty, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=(1e6,))
    return ~(lands > LANDING_PX)


def _push_pull_channels(fields: list[np.ndarray], known: np.ndarray) -> list[np.ndarray]:
    """Smooth push-pull fill of several (H, W, C) fields, packed four channels to a pass."""
    stacked = join_channels(fields)
    out = np.concatenate(
        [
            push_pull_fill(stacked[..., start : start + 4], known, smooth=True).reshape(*known.shape, -1)
            for start in range(0, stacked.shape[-1], 4)
        ],
        axis=-1,
    )
    sizes = np.cumsum([f.shape[-1] for f in fields])[:-1]
    return np.split(out, sizes, axis=-1)


def _coarse_spread(fields: list[np.ndarray], known: np.ndarray, factor: int = 4) -> list[np.ndarray]:
    """Smooth fill of several (H, W) error maps from ``known``, at 1/``factor`` resolution (errors are smooth
    at that scale anyway; 16x cheaper), back at full size. Known pixels keep their local average."""
    height, width = known.shape
    small = (max(1, width // factor), max(1, height // factor))
    weight = cv2.resize(known.astype(np.float32), small, interpolation=cv2.INTER_AREA)
    stacked = interleave([np.where(known, f, np.float32(0)).astype(np.float32) for f in fields])
    sums = cv2.resize(stacked, small, interpolation=cv2.INTER_AREA).reshape(small[1], small[0], -1)
    mean = sums / np.maximum(weight, np.float32(1e-6))[..., None]
    filled = push_pull_fill(mean, weight > 0.0)
    up = cv2.resize(filled, (width, height), interpolation=cv2.INTER_LINEAR).reshape(height, width, -1)
    return [up[..., k] for k in range(len(fields))]
