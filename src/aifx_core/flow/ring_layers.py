"""The ring's motion layers: from the flow on one hole group's ring, the background's motion inside the hole.

Inside the hole we need the background's motion, and the ring around it is what shows it. The ring may see
several depth layers (parallax: a horizon or the edge of a post crossing the hole); one homography fitted to
all of it bends into a gradient between them, which has more RANSAC inliers than either layer, and fetches
pixels from the wrong one. So the ring is cut where its flow jumps (:func:`_ring_pieces`), each piece joins the
first layer (frame-wide, :func:`.motion.background_layers`, or already found here) that explains it, or is
fitted with RANSAC as a layer of its own (:func:`_layer_motions`); every ring pixel is labelled with the
closest layer and the labels are spread into the hole smoothly (:func:`_layered_base`). On a fast pair the
grown fringe's own flow votes for the labels of the hole too (an object the camera tracks may end inside it).

Pixels of an unmasked object moving against the background (:func:`.motion.moving_mask`) are kept off the
background's layers: a car entering the hole must not be spread across it as background. One seen on opposite
sides of the hole runs across it with its own motion (:func:`_spanning_mover`); with :data:`OBJECT_LAYERS` each
object on a fast ring is a layer of its own. :func:`group_motion` is this stage for one hole group, called by
:mod:`.completion` (which spreads what the layers miss, the ring's residual, inward).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from .fill import push_pull_fill
from .motion import JUMP, fit_homography, flow_jumps, homography_flow, inverse_homography
from .ops import channel_mask, float_grid, interleave, median_at_least, median_side, squared_distance

#: Growth of a ring's agreement tolerance with its motion (px per px of flow): fast, blurred flow is coarser.
MOTION_TOL = 0.03
#: ... beyond this motion (working px per frame); slower rings keep the strict tolerance (measured: growing it
#: from 0 px let a frame layer explain parallax rings, -0.2 dB on the parallax clip with a large hole). A pair
#: whose motion away from the holes is beyond it is fast for :mod:`.completion` too (its fringe grows).
FAST_PX = 10.0
#: Most ring samples an unmasked object's own motion is fitted to (RANSAC cost follows the samples).
OBJECT_SAMPLES = 300
#: Most RANSAC draws for the motion of an unmasked object spanning a hole (:func:`_spanning_mover`). Its fit
#: is kept only with half its samples inlying; RANSAC finds a model with that share within K draws but for
#: (1 - 0.5⁴)^K, 6e-5 at 150 (OpenCV's own confidence, 0.995, stops such a fit after ~83), so the other 350
#: of the default 500 are spent on fits that fail: two thirds of these fits on tennis nine squares, 8 of its
#: 9 CPU ms a pair. Measured: docs/method.md "Speed, eighth pass".
SPANNING_ITERATIONS = 150
#: Unmasked objects on a fast ring are layers of their own in the hole. Off by default for the same reason
#: as :data:`.completion.LANDING_PX` (measured together; docs/method.md "Fast whips").
OBJECT_LAYERS = False
#: A ring layer whose pieces span less than this share of their hole group's box across or down (a near
#: post crossing the ring: 24-42 of ~700 working px) moves by its pieces' median flow, not by the homography
#: fitted to them: eight parameters on a strip are held along it only, and the fit, carried across a hole
#: many times wider than the strip, strayed up to 10 px from the strip's own motion (parallax1920x1080
#: object-shaped). At 0.2 and 0.5 a ring's side band (its 16-px width against a 35-px square's ~95-px box)
#: counted as a strip too, and crosser's nine squares and whip's static square lost 0.1-0.2 dB. Slow pairs
#: only: on whip960's fast pan (its fringe grown, FAST_PX) a strip is mostly a tracked object's edge, and its
#: translation put the static square's frame 2 1.04 dB below Telea (docs/method.md, "eleventh pass").
NARROW_LAYER = 0.1
#: On a fast pair, a ring layer's own homography whose motion over its hole group's box leaves the range of the
#: ring's flows by more than this share of that range (plus :data:`STRAY_PX`) moves by its pieces' translation
#: instead (None: off). On a fast, motion-blurred pan DIS's flow around a large hole bends (drag, blur), the ring
#: falls into up to four pieces, and a homography fitted to one of them ran away across the hole: -350 to +230 px
#: where the camera moved 75-95 px on tennis blur6's object-shaped hole. A motion smooth over the box takes its
#: extremes on the ring (an affine one exactly), so a plausible layer is left alone. Slow pairs have
#: :data:`NARROW_LAYER` (with the check there crosser's nine squares got a frame below Telea - 1 dB). At 0.25 it
#: also took dollyball960's dolly layers (its removed ball over the 3x E_warp target), at 1.0 whip's moving blob
#: got a frame below Telea - 1 dB (docs/method.md "Thirteenth pass (fast21)").
STRAY_MARGIN: float | None = 1.5
#: ... plus this many working pixels (a slow ring's range is a few pixels: its noise is not a stray).
STRAY_PX = 2.0


@dataclass(frozen=True)
class LayerSettings:
    """What the ring's layers read of the completion's options (:class:`.completion._Settings` adds the rest;
    see :func:`.completion.complete_flows`)."""

    ransac_px: float = 1.5
    min_inliers: float = 0.5
    max_samples: int = 1500
    max_layers: int = 3
    #: The hole's motions are found on every ``step``-th pixel (1: all; see :data:`.completion.PAIR_STEP`).
    step: int = 1


def group_motion(
    flow: np.ndarray,
    ring: np.ndarray,
    inside: np.ndarray,
    moving: np.ndarray,
    frame_layers: list[np.ndarray],
    origin: tuple[int, int],
    opt: LayerSettings,
    fringe: tuple[np.ndarray, np.ndarray, float] | None = None,
    grids: tuple[np.ndarray, np.ndarray] | None = None,
    reverse: Spanned | None = None,
    narrow: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Spanned | None]:
    """One hole group's (background motion, where it explains the flow, per-pixel error of the model, what
    its ring showed of an unmasked object spanning the hole: None where no motion explained the ring) in the
    group's box (``origin`` its top-left in the frame). ``fringe``: (the grown fringe's pixels that may vote
    for the labels, the hole pixels those votes label, the tolerance of their flow to a layer's motion: the
    completion's ``FRINGE_VOTE`` · ``ransac_px``) on a fast pair (see :func:`_layered_base`);
    ``grids``: the box's frame coordinates (y, x), when the caller has them (:mod:`.holes`); ``reverse``: what
    the pair's other flow showed (the completion's ``SPANNING_FROM_FORWARD``): its object's inverse motion is checked instead of
    a fit, and no object is sought where it showed none; ``narrow``: a ring layer seen on a strip only moves by
    its translation (:data:`NARROW_LAYER`; a slow pair)."""
    height, width = ring.shape
    gy, gx = (
        grids
        if grids is not None
        else float_grid(origin[0], origin[0] + height, origin[1], origin[1] + width)
    )
    tol = 4.0 * opt.ransac_px  # what a layer's motion plausibly misses (parallax); beyond that, a flow error
    still = ring & ~moving
    if still.sum() >= 0.25 * ring.sum():
        motions = _layer_motions(
            flow, still, gx, gy, frame_layers, opt, max(1, min(opt.max_layers, 4)), narrow
        )
    elif frame_layers:  # a ring mostly covered by a moving object: trust the frame's background alone
        motions = [homography_flow(frame_layers[0], gx, gy)]
    else:
        motions = []
    # Each unmasked object on the ring is a layer of its own (at most four layers in all) where the camera is
    # fast; under a slow camera an object's extent inside is no better known, and chains along the ground
    # do not leave the hole at once: there it only continues across the hole, as everywhere (the spanning
    # rule, one fit to all movers on the ring: fitting the largest object alone cost crosser's moving blob
    # 1 dB).
    objects = (
        _object_layers(flow, ring & moving, gx, gy, opt, min(2, 4 - len(motions)))
        if OBJECT_LAYERS and motions and _ring_speed(flow, still) > FAST_PX
        else []
    )
    given = None if reverse is None or reverse.matrix is None else inverse_homography(reverse.matrix)
    spanning = (
        None
        if not motions or (reverse is not None and given is None)
        else _spanning_mover(flow, ring, moving, inside, gx, gy, opt, given)
    )
    finite = np.isfinite(flow[..., 0]) & np.isfinite(flow[..., 1])
    if not motions:  # nothing explains the ring: the flow itself is filled smoothly
        values = flow[(still if still.any() else ring) & finite]
        centre = np.median(values, axis=0) if len(values) else np.zeros(2, np.float32)
        error = np.hypot(flow[..., 0] - centre[0], flow[..., 1] - centre[1]).astype(np.float32)
        return np.zeros_like(flow), finite, np.nan_to_num(error, nan=tol, posinf=tol), None
    base, explained = _layered_base(
        flow,
        motions + [motion for motion, _ in objects],
        still,
        inside,
        tol,
        [own for _, own in objects],
        # (not with the objects' own layers, off by default: together they were not measured, and the
        # fringe's votes undo an entering object's labels; tests/test_flow_hard.py)
        None if objects else fringe,
    )
    if spanning is not None:
        # An unmasked object on both sides of the hole runs across it (a car the camera tracks, passing
        # the hole): between its two sides, its own motion continues, whatever the labels spread from the
        # ring say (they would let the ground below push into it).
        motion, across, _ = spanning
        np.copyto(base, motion, where=channel_mask(across & inside, 2))
    residual = flow - base
    error = np.minimum(np.hypot(residual[..., 0], residual[..., 1]), np.float32(tol))
    return (
        base,
        explained & finite,
        np.nan_to_num(error, nan=tol),
        Spanned(None if spanning is None else spanning[2]),
    )


@dataclass(frozen=True)
class Spanned:
    """What one flow's ring of a hole group showed of an unmasked object spanning the hole: its homography,
    None when it showed none (none on the ring, on one side only, or no motion that half of it follows)."""

    matrix: np.ndarray | None


def motion_beyond_fast(speeds: np.ndarray) -> float:
    """How far the median of ``speeds`` (px/frame) lies beyond :data:`FAST_PX` (0 at or below it, and for no
    speeds): how fast a ring's motion (its tolerance grows with it) or a pair's (:func:`.completion._fast_gap`:
    its fringe grows) is. Only a median beyond FAST_PX is found: below it, counting says so
    (:func:`.ops.median_at_least`)."""
    if not len(speeds):
        return 0.0
    return max(0.0, median_at_least(speeds, FAST_PX) - FAST_PX)


def _ring_speed(flow: np.ndarray, still: np.ndarray) -> float:
    """Median motion (px/frame) of the ring's background pixels: what makes the camera "fast" here."""
    return float(np.median(np.hypot(flow[still, 0], flow[still, 1]))) if still.any() else 0.0


def _object_layers(
    flow: np.ndarray, on_ring: np.ndarray, gx: np.ndarray, gy: np.ndarray, opt: LayerSettings, most: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(motion over the box, its ring pixels) of each unmasked object on the ring (a connected piece of at
    least 24 pixels, largest first, at most ``most``): its own motion, a homography fitted to its ring pixels.

    In the hole it is a layer like the background's: the hole pixels the labels give it follow the object (a
    car the camera tracks, standing in or passing the hole), not the ground under it. Where it ends inside
    is a guess from the ring, as for every layer; chains along the object's motion find it where it was
    outside the hole, or nothing (movers are no source elsewhere), never the ground's pixels.
    """
    if most <= 0 or on_ring.sum() < 24:
        return []
    count, labels, stats, _ = cv2.connectedComponentsWithStats(on_ring.astype(np.uint8), connectivity=8)
    sizes = stats[:, cv2.CC_STAT_AREA].copy()
    sizes[0] = 0
    sparse = replace(opt, max_samples=OBJECT_SAMPLES)  # (an object's motion is simple: fewer samples do)
    out: list[tuple[np.ndarray, np.ndarray]] = []
    for k in np.argsort(-sizes, kind="stable"):
        if sizes[k] < 24 or len(out) >= most:
            break
        own = labels == k
        my, mx = np.nonzero(own)
        matrix = _fit_homography_to(flow, my, mx, gx[my, mx], gy[my, mx], sparse)
        if matrix is None:
            continue
        motion = homography_flow(matrix, gx, gy)
        if np.isfinite(motion).all():
            out.append((motion, own))
    return out


def _spanning_mover(
    flow: np.ndarray,
    ring: np.ndarray,
    moving: np.ndarray,
    inside: np.ndarray,
    gx: np.ndarray,
    gy: np.ndarray,
    opt: LayerSettings,
    given: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(motion over the box, where it spans the hole, its homography) of an unmasked object on the ring on
    opposite sides of the hole, or None. An object seen on one side only may end anywhere inside (it is not
    spread: issue #10's crossers); one on both sides runs across the hole between them. None too when it
    spans no pixel of ``inside`` (the group's hole): then its motion would not be used, and its fit costs a
    RANSAC. ``given``: a homography checked instead of a fit (kept with half the samples inlying, as a fit
    is)."""
    on_ring = ring & moving
    if on_ring.sum() * opt.step * opt.step < 24:  # (24 frame pixels)
        return None
    across = _between(on_ring, ring)
    if not (across & inside).any():
        return None
    my, mx = np.nonzero(on_ring)
    px, py = gx[my, mx], gy[my, mx]
    matrix = (
        _fit_homography_to(flow, my, mx, px, py, opt, iterations=SPANNING_ITERATIONS)
        if given is None
        else _checked(given, flow, my, mx, px, py, opt)
    )
    if matrix is None:
        return None
    motion = homography_flow(matrix, gx, gy)
    return (motion, across, matrix) if np.isfinite(motion).all() else None


def _checked(
    matrix: np.ndarray,
    flow: np.ndarray,
    ys: np.ndarray,
    xs: np.ndarray,
    px: np.ndarray,
    py: np.ndarray,
    opt: LayerSettings,
    min_inliers: float = 0.5,
) -> np.ndarray | None:
    """``matrix`` when at least ``min_inliers`` of the samples :func:`_fit_homography_to` would fit follow it
    within ``ransac_px`` (RANSAC's own inlier test), else None."""
    samples = _samples(flow, ys, xs, px, py, opt)
    if samples is None:
        return None
    src, moved = samples
    if not np.isfinite(moved).all():
        return None
    delta = moved - homography_flow(matrix, src[:, 0], src[:, 1])
    squared = delta[:, 0] * delta[:, 0] + delta[:, 1] * delta[:, 1]
    return matrix if (squared <= np.float32(opt.ransac_px**2)).mean() >= min_inliers else None


def _between(marked: np.ndarray, ring: np.ndarray) -> np.ndarray:
    """Pixels whose nearest ring pixels on both sides, along their row or along their column, are ``marked``
    (an object on opposite sides of the hole spans it there; one seen on one side only may end anywhere)."""
    # The nearest ring pixel on one side is the last one before, so a running maximum of (4 · its position +
    # its code: 1 ring, 2 marked) carries its code in the low two bits (one int32 pass a side, no gather).
    code = np.where(ring, np.where(marked, 2, 1), 0).astype(np.int32)
    out = np.zeros(ring.shape, bool)
    for axis in (0, 1):
        length = ring.shape[axis]
        position = (4 * np.arange(length, dtype=np.int32)).reshape((-1, 1) if axis == 0 else (1, -1))
        before = np.maximum.accumulate(np.where(ring, position + code, 0), axis=axis)
        # (the far side: positions counted from the other end, the running maximum taken backwards)
        after_key = np.where(ring, (4 * length - position) + code, 0)
        after = np.flip(np.maximum.accumulate(np.flip(after_key, axis), axis=axis), axis)
        out |= ((before & 3) == 2) & ((after & 3) == 2)
    return out & ~ring


def _layer_motions(
    flow: np.ndarray,
    ring_mask: np.ndarray,
    gx: np.ndarray,
    gy: np.ndarray,
    frame_layers: list[np.ndarray],
    opt: LayerSettings,
    max_layers: int,
    narrow: bool = True,
) -> list[np.ndarray]:
    """Flows (over the crop) of the motions of the layers the ring sees, dominant first; [] if poor.

    Layers are told apart by where the ring's flow jumps, not by RANSAC alone: a homography is flexible
    enough to fit two translating layers at once (a gradient from one to the other across the hole), and
    it would have more inliers than either true layer. So the ring is cut where the flow changes faster
    than any camera motion makes it (``JUMP`` px per px), and its pieces are grouped: a piece joins the
    first layer whose motion explains it (the frame's background layers are tried first: no fit needed),
    else it starts a new one. With ``narrow``, a layer of the ring's own whose pieces are a strip of the box
    (:func:`_narrow`) moves by their median flow: a homography fitted to a strip is held along it only.
    """
    # A layer must cover a few percent of the ring: a smaller piece is more likely a flow error than a layer.
    min_layer = max(12, int(0.04 * ring_mask.sum()))
    ys, xs = np.nonzero(ring_mask)  # work on the ring's samples, not on the whole crop
    samples = flow[ys, xs]
    px, py = gx[ys, xs], gy[ys, xs]
    # Flow on fast, blurred frames is less precise: the tolerance grows with the motion (as the frame's layers').
    finite = np.isfinite(samples[:, 0]) & np.isfinite(samples[:, 1])  # (not a reduction over a length-2 axis)
    moved = samples if finite.all() else samples[finite]
    inlier = opt.ransac_px + MOTION_TOL * motion_beyond_fast(np.hypot(moved[:, 0], moved[:, 1]))
    agree = 0.5 * inlier

    def explains(matrix: np.ndarray, piece: np.ndarray | slice) -> bool:
        error = np.hypot(*(samples[piece] - homography_flow(matrix, px[piece], py[piece])).T)
        return median_side(error, agree) < 0 and (error < inlier).mean() >= 0.5

    pieces = _ring_pieces(flow, ring_mask, ys, xs, min_layer, opt.step)
    matrices: list[np.ndarray] = []
    supports: list[np.ndarray | slice] = []
    if len(pieces) > 1:
        # (homography, member samples, frame-wide, grown: pieces joined it after its fit)
        layers: list[tuple[np.ndarray, np.ndarray, bool, bool]] = []
        for piece in pieces:
            for k, (matrix, members, wide, _) in enumerate(layers):
                if explains(matrix, piece):
                    layers[k] = (matrix, members | piece, wide, True)
                    break
            else:
                if len(layers) >= max_layers:
                    continue
                frame_wide = next((m for m in frame_layers if explains(m, piece)), None)
                if frame_wide is not None:
                    layers.append((frame_wide, piece, True, False))
                    continue
                fitted = _fit_homography_to(flow, ys[piece], xs[piece], px[piece], py[piece], opt)
                if fitted is not None and narrow and _narrow(px[piece], py[piece], gx, gy):
                    fitted = _translation(samples[piece])
                if fitted is not None:
                    layers.append((fitted, piece, False, False))
        # Refit the ring's own layers on all their pieces (more support, better conditioned than the first).
        # A layer no piece joined would be refitted on the very samples of its fit (RANSAC is deterministic:
        # the same homography), so it keeps that fit.
        for matrix, members, wide, grown in layers:
            refit = (
                None
                if wide or not grown
                else _fit_homography_to(flow, ys[members], xs[members], px[members], py[members], opt)
            )
            if refit is not None and narrow and _narrow(px[members], py[members], gx, gy):
                refit = _translation(samples[members])
            matrices.append(matrix if refit is None else refit)
            supports.append(members)
    if len(matrices) <= 1:  # one layer: a frame-wide one that explains the ring, or the ring's dominant fit
        frame_wide = next((m for m in frame_layers if explains(m, slice(None))), None)
        dominant = (
            frame_wide
            if frame_wide is not None
            else _fit_homography_to(flow, ys, xs, px, py, opt, opt.min_inliers)
        )
        matrices = [] if dominant is None else [dominant]
        supports = [slice(None)] * len(matrices)
    motions = [homography_flow(matrix, gx, gy) for matrix in matrices]
    if STRAY_MARGIN is not None and not narrow and len(moved):
        # On a fast pair (``narrow`` off) a homography fitted to the ring's pieces that runs away inside the
        # hole (eight parameters on a blurred, dragged side of the pan) moves by its pieces' translation; a
        # frame-wide layer is kept.
        for k, matrix in enumerate(matrices):
            if not any(matrix is layer for layer in frame_layers) and _strays(motions[k], moved):
                motions[k] = homography_flow(_translation(samples[supports[k]]), gx, gy)
    return [motion for motion in motions if np.isfinite(motion).all()]


def _strays(motion: np.ndarray, shown: np.ndarray) -> bool:
    """Whether ``motion`` (a layer's flow over the hole group's box) leaves the range of the flows its ring
    shows (``shown``, (N, 2) finite) by more than :data:`STRAY_MARGIN` of that range plus :data:`STRAY_PX`, on
    either axis. A motion that is smooth over the box takes its extremes on the ring around the hole (an affine
    one exactly), so only a fit that runs away inside the hole leaves it."""
    assert STRAY_MARGIN is not None
    low, high = shown.min(axis=0), shown.max(axis=0)
    margin = STRAY_MARGIN * float((high - low).max()) + STRAY_PX
    flat = motion.reshape(-1, 2)
    return bool((flat.min(axis=0) < low - margin).any() or (flat.max(axis=0) > high + margin).any())


def _narrow(px: np.ndarray, py: np.ndarray, gx: np.ndarray, gy: np.ndarray) -> bool:
    """Whether samples at frame positions (``px``, ``py``) span less than :data:`NARROW_LAYER` of the box whose
    frame positions are ``gx``, ``gy`` across or down: too narrow to hold a homography over the box."""
    width = float(gx.max() - gx.min()) + 1.0
    height = float(gy.max() - gy.min()) + 1.0
    across = float(px.max() - px.min()) + 1.0
    down = float(py.max() - py.min()) + 1.0
    return across < NARROW_LAYER * width or down < NARROW_LAYER * height


def _translation(samples: np.ndarray) -> np.ndarray:
    """The homography of a translation by the median of the flow ``samples`` (N, 2) (their finite ones)."""
    finite = samples[np.isfinite(samples[:, 0]) & np.isfinite(samples[:, 1])]
    shift = np.median(finite, axis=0) if len(finite) else np.zeros(2)
    return np.array([[1.0, 0.0, float(shift[0])], [0.0, 1.0, float(shift[1])], [0.0, 0.0, 1.0]])


def _ring_pieces(
    flow: np.ndarray, ring_mask: np.ndarray, ys: np.ndarray, xs: np.ndarray, min_size: int, step: int = 1
) -> list[np.ndarray]:
    """The ring cut where the flow jumps: the pieces of at least ``min_size`` pixels as masks over the ring's
    samples (``ys``, ``xs``), largest first (ties by position: deterministic). ``step``: the flow is on every
    ``step``-th pixel (a jump per frame pixel is ``step`` times larger per sample)."""
    jump = flow_jumps(flow) if step <= 1 else flow_jumps(flow, step * JUMP)
    count, labels = cv2.connectedComponents((ring_mask & ~jump).astype(np.uint8), connectivity=4)
    sizes = np.bincount(labels.ravel(), minlength=count)
    sizes[0] = 0
    big = np.nonzero(sizes >= min_size)[0]
    order = big[np.argsort(-sizes[big], kind="stable")]
    ring_labels = labels[ys, xs]
    return [ring_labels == k for k in order]


def _fit_homography_to(
    flow: np.ndarray,
    ys: np.ndarray,
    xs: np.ndarray,
    px: np.ndarray,
    py: np.ndarray,
    opt: LayerSettings,
    min_inliers: float = 0.5,
    iterations: int = 500,
) -> np.ndarray | None:
    """The homography RANSAC fits to ``flow`` at crop pixels (``xs``, ``ys``), frame positions (``px``,
    ``py``) in at most ``iterations`` draws; None if poor (fewer than ``min_inliers`` inliers)."""
    samples = _samples(flow, ys, xs, px, py, opt)
    if samples is None:
        return None
    src, moved = samples
    dst = src + moved
    if not np.isfinite(dst).all():
        return None
    matrix, inliers = fit_homography(src, dst, opt.ransac_px, iterations)
    return None if matrix is None or inliers.mean() < min_inliers else matrix


def _samples(
    flow: np.ndarray, ys: np.ndarray, xs: np.ndarray, px: np.ndarray, py: np.ndarray, opt: LayerSettings
) -> tuple[np.ndarray, np.ndarray] | None:
    """The samples a motion is fitted to or checked on: (frame positions (N, 2) float32, their flow (N, 2)),
    every ``step``-th of at most ``opt.max_samples`` (deterministic: same input, same output); None under 12."""
    if len(xs) < 12:
        return None
    step = max(1, len(xs) // opt.max_samples)
    src = np.stack([px[::step], py[::step]], axis=-1).astype(np.float32)
    return src, flow[ys[::step], xs[::step]]


def _layered_base(
    flow: np.ndarray,
    motions: list[np.ndarray],
    ring_mask: np.ndarray,
    inside: np.ndarray,
    tol: float,
    objects: list[np.ndarray] | None = None,
    fringe: tuple[np.ndarray, np.ndarray, float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(per-pixel motion of the layer each pixel belongs to, where that motion explains the flow within tol).

    Known pixels take the motion closest to their flow; hole pixels the layer whose ring labels, spread
    inward, weigh most at that point. ``objects``: the ring pixels of the last ``len(objects)`` motions
    (unmasked objects' own layers), labelled with their layer whatever their flow. (Loops over layers rather than stacked arrays: this runs on every
    frame pair, and reductions over a short last axis are slow in numpy.)

    ``fringe``: (voters, core, tolerance). On a fast pair the ring starts beyond a grown fringe, and an object
    the camera tracks may end inside that fringe: the ring then sees the ground on that side, and the labels
    spread the ground into the object (whip, static square, pair 14: the car's rear end 3-15 px from the
    hole, 14 px median flow error in the hole). So the voters (the fringe beyond the completion's
    ``FRINGE_VOTE_FROM``, movers excluded) whose own flow is within the tolerance of a layer's motion vote too,
    for the labels of ``core`` (the hole) only; the fringe itself keeps the ring's labels (DIS's drag is worst there, and its labels from its own votes cost whip960 0.2 dB).
    """
    if len(motions) == 1:
        residual = flow - motions[0]
        return motions[0], np.hypot(residual[..., 0], residual[..., 1]) < tol
    best = squared_distance(flow, motions[0])
    label = np.zeros(best.shape, np.uint8)
    for k in range(1, len(motions)):
        error = squared_distance(flow, motions[k])
        closer = error < best
        np.copyto(best, error, where=closer)
        label[closer] = k
    explained = best < tol * tol
    votes = ring_mask & explained
    first = len(motions) - len(objects or [])
    for k, own in enumerate(objects or []):
        label[own] = first + k
        votes |= own
    fringe_voters = None  # the fringe's voters whose own flow a layer explains (None: none does)
    if fringe is not None:
        fringe_voters = fringe[0] & (best < fringe[2] * fringe[2])
        if not fringe_voters.any():
            fringe_voters = None
    own_label = label if fringe_voters is None else label.copy()  # (both spreads read the ring's labels)
    np.copyto(label, _spread_labels(own_label, votes, len(motions)), where=inside)
    if fringe is not None and fringe_voters is not None:
        np.copyto(label, _spread_labels(own_label, votes | fringe_voters, len(motions)), where=fringe[1])
    base = motions[0].copy()
    for k in range(1, len(motions)):
        np.copyto(base, motions[k], where=channel_mask(label == k, 2))
    return base, explained


def _spread_labels(label: np.ndarray, votes: np.ndarray, count: int) -> np.ndarray:
    """Per pixel, the layer whose voters (``label`` where ``votes``), spread smoothly, weigh most there."""
    indicators = interleave([((label == k) & votes).astype(np.float32) for k in range(count)])
    spread = push_pull_fill(indicators, votes, smooth=True)  # (≤ 4 layers: one pass)
    strongest = spread[..., 0].copy()
    spread_label = np.zeros_like(label)
    for k in range(1, count):
        stronger = spread[..., k] > strongest
        np.copyto(strongest, spread[..., k], where=stronger)
        spread_label[stronger] = k
    return spread_label
