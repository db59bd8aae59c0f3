"""A pair's flow, from the pair's two frames alone: a pure function, so it may run in any thread or process.

:func:`pair_flow` makes what :class:`.pairs.Pairs` keeps of each neighbouring pair: DIS both ways
(:func:`estimate_pair`), completed inside the holes with the completion's fit (:func:`complete_pair`), the
unmasked movers the pair shows (:func:`_detect_movers`), the exposure gain between the two frames
(:func:`_exposure_gain`) and whether the two frames are of two shots at all (:func:`is_cut`). Nothing here
reads a fill result or any state of the run: the same arrays in give the same result out, in the flow worker's
thread, in the caller's (``AIFX_THREADS=1``) or in the helper process (``AIFX_FLOW_PROCESS=1``:
:class:`aifx_core.workers.Helper` calls :func:`_pair_flow_by_spec` by this module's dotted name, after copying
the settings of the modules in :data:`_SETTINGS`). Kept apart from :mod:`.pairs`, which streams the frames and
caches the pairs, so that it reads, tests and travels alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from ..flow import DISFlow, FlowEstimator, complete_flows, complete_flows_scored, motion, moving_objects, warp
from ..flow.completion import PAIR_STEP
from ..flow.holes import shared_distance
from ..flow.motion import smoothed_grey
from ..flow.ops import median_within
from ..workers import Helper, module_settings
from .chain import BoxedFit, box_fit

_UNIT = np.ones(3, np.float32)
#: The flow side's scored completion and mover detection; module-level so another (or none) can be put in:
#: None means fit 0 everywhere and no movers.
_complete_flows_scored: Callable[..., tuple[np.ndarray, ...]] | None = complete_flows_scored
_moving_objects: Callable[..., np.ndarray] | None = moving_objects

#: Modules whose settings the helper process copies before each pair (a caller may have changed them).
_SETTINGS = (
    "aifx_core.flow.completion",
    "aifx_core.flow.ring_layers",
    "aifx_core.flow.motion",
    "aifx_core.flow.estimator",
    "aifx_core.flow.fill",
    "aifx_core.flow.ops",
    __name__,
)


@dataclass
class FlowInput:
    """What a pair's flow needs of one frame (arrays only: it may cross to the helper process)."""

    gray: np.ndarray
    small_hole: np.ndarray
    #: The full-resolution hole (movers are never inside it).
    hole: np.ndarray
    thumb: np.ndarray
    thumb_hole: np.ndarray


@dataclass
class PairFlow:
    """What the flow worker makes of one frame pair (:func:`pair_flow`; see :meth:`.pairs.Pairs._pair_flow`)."""

    forward: np.ndarray
    backward: np.ndarray
    #: The completion's fit maps (forward, backward) as boxes (:class:`.chain.BoxedFit`), None when not estimated.
    fits: tuple[BoxedFit, BoxedFit] | None
    #: Movers by shot position (frame pair+1, and frame 0 with the first pair).
    movers: dict[int, np.ndarray]
    gain: np.ndarray
    #: The two frames are of two shots (:func:`is_cut`): nothing may cross the pair.
    cut: bool = False


def estimator_spec(estimator: FlowEstimator) -> tuple | None:
    """How the helper process builds the same estimator (DIS: its settings), None for any other: a Python
    caller's own estimator runs in the flow worker's thread."""
    if type(estimator) is not DISFlow:
        return None
    # (the slow pairs' settings as this estimator holds them: the helper's cached estimators are keyed by them)
    return ("dis", estimator.preset, estimator.prealign, estimator.prealign_px, estimator.slow)


#: The helper process's estimators by spec (kept between pairs: DIS's feature cache is keyed by content).
_ESTIMATORS: dict[tuple, FlowEstimator] = {}


def _pair_flow_by_spec(
    spec: tuple, size: tuple[int, int], exposure_match: bool, pair: int, a: FlowInput, b: FlowInput
) -> PairFlow:
    """:func:`pair_flow` with the estimator :func:`estimator_spec` describes (in the helper process)."""
    return pair_flow(_estimator_from_spec(spec), size, exposure_match, pair, a, b)


def same_in_helper() -> bool:
    """Whether the helper process computes what this process would: the flow side's own completion and mover
    detection are in place (another put in here, by a test or a caller, exists in this process only)."""
    return _complete_flows_scored is complete_flows_scored and _moving_objects is moving_objects


def in_helper(worker: Helper, spec: tuple, *args: object) -> PairFlow:
    """:func:`_pair_flow_by_spec` run by the helper process ``worker`` (found there by this module's name), with
    the settings this process has for the modules of :data:`_SETTINGS`; raises
    :class:`aifx_core.workers.HelperUnavailable` when it cannot."""
    return worker.call(__name__, "_pair_flow_by_spec", spec, *args, settings=module_settings(_SETTINGS))


def _estimator_from_spec(spec: tuple) -> FlowEstimator:
    """The estimator :func:`estimator_spec` describes, made once per spec (in the helper process)."""
    estimator = _ESTIMATORS.get(spec)
    if estimator is None:
        _, preset, prealign, prealign_px, slow = spec
        # (the module's SLOW_SETTINGS are copied from the caller's before each pair: the same ``slow``)
        estimator = DISFlow(preset, prealign=prealign, prealign_px=prealign_px, slow=slow is not None)
        _ESTIMATORS[spec] = estimator
    return estimator


def pair_flow(
    estimator: FlowEstimator,
    size: tuple[int, int],
    exposure_match: bool,
    pair: int,
    a: FlowInput,
    b: FlowInput,
) -> PairFlow:
    """Pair ``pair``'s flows both ways (frame ``size`` at full resolution), completed in the holes, their
    fits, the movers they show and the exposure gain: a pure function of its arguments
    (:func:`estimate_pair`, then :func:`complete_pair`)."""
    return complete_pair(size, exposure_match, pair, a, b, estimate_pair(estimator, a, b))


def estimate_pair(estimator: FlowEstimator, a: FlowInput, b: FlowInput) -> tuple[np.ndarray, np.ndarray]:
    """The pair's flows as estimated, A→B and B→A (before completion)."""
    return estimator.estimate(a.gray, b.gray), estimator.estimate(b.gray, a.gray)


def complete_pair(
    size: tuple[int, int],
    exposure_match: bool,
    pair: int,
    a: FlowInput,
    b: FlowInput,
    estimated: tuple[np.ndarray, np.ndarray],
) -> PairFlow:
    """:func:`pair_flow` given the flows :func:`estimate_pair` made: completed in the holes, their fits, the
    movers they show and the exposure gain."""
    union = a.small_hole | b.small_hole
    forward, backward = estimated
    if is_cut(a, b, forward):
        # Nothing crosses the pair (:meth:`.pairs.Pairs.linked`); its flows are still read where a frame's own motion
        # is asked for (is the frame fast?): none. Its movers are what its flows show, as for any pair: the
        # frame after the cut may have no other pair ending at it.
        shown = (
            _detect_movers(size, pair, (a, b), forward, backward, union, completed=False)
            if _moving_objects
            else {}
        )
        still = np.zeros_like(forward)
        return PairFlow(still, still.copy(), None, shown, _UNIT, cut=True)
    fits: tuple[BoxedFit, BoxedFit] | None = None
    # The flow side's own completion hands on the frame layers it fitted; mover detection reuses them.
    layers: list[list[np.ndarray]] = []
    # The union's distance transform, made once for the completion and both mover detections (own functions).
    distance = shared_distance(union) if union.any() else None
    # The two grey images as the mover masks compare them, blurred once for the (up to four) masks of the pair
    # (the completion's own masks, and the movers': none without either).
    completes = union.any() and _complete_flows_scored is complete_flows_scored
    smoothed = (
        (smoothed_grey(a.gray), smoothed_grey(b.gray)) if completes or _moving_objects is not None else None
    )
    if union.any():
        if _complete_flows_scored is not None:
            own = (
                {"layers_out": layers, "distance": distance, "smoothed": smoothed, "step": PAIR_STEP}
                if _complete_flows_scored is complete_flows_scored
                else {}
            )
            forward, backward, fit_f, fit_b = _complete_flows_scored(
                [forward, backward],
                union,
                images=(a.gray, b.gray),
                holes=(a.small_hole, b.small_hole),
                **own,
            )
            fits = (box_fit(fit_f), box_fit(fit_b))  # (held as boxes: they are 0 away from the holes)
        else:
            forward, backward = complete_flows([forward, backward], union)
    movers: dict[int, np.ndarray] = {}
    if _moving_objects is not None:
        known = (layers[0], layers[1]) if len(layers) == 2 else None
        movers = _detect_movers(size, pair, (a, b), forward, backward, union, known, distance, smoothed)
    gain, trusted = _exposure_gain(a, b, forward) if exposure_match else (_UNIT, True)
    # A step in exposure that is not one gain over the frame links nothing across it (GAIN_AGREE_SHARE).
    return PairFlow(forward, backward, fits, movers, gain if trusted else _UNIT, cut=not trusted)


def _detect_movers(
    size: tuple[int, int],
    pair: int,
    frames: tuple[FlowInput, FlowInput],
    forward: np.ndarray,
    backward: np.ndarray,
    union: np.ndarray,
    layers: tuple[list[np.ndarray], list[np.ndarray]] | None = None,
    distance: np.ndarray | None = None,
    smoothed: tuple[np.ndarray, np.ndarray] | None = None,
    *,
    completed: bool = True,
) -> dict[int, np.ndarray]:
    """Unmasked moving objects of frame pair+1 (and of frame 0 with the first pair), at full resolution, by
    position.

    Each frame's movers come from one pair only (the one that ends at it), so they do not depend on
    how the shot is read. ``layers``: the forward and backward flows' background layers when the
    completion fitted them already; ``distance``: the union's :func:`.motion.hole_distance`, when made;
    ``smoothed``: the two frames' grey images through :func:`.motion.smoothed_grey` (A, B), when made.
    ``completed``: the flows are completed in the holes (not a cut's raw flows), so the image check looks up to
    :data:`.motion.IMAGE_NEAR_PX` from the hole: a mover standing mostly in the hole shows only a sliver there.
    """
    assert _moving_objects is not None
    height, width = size
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    a, b = frames
    found: dict[int, np.ndarray] = {}
    blurred = (None, None) if smoothed is None else (smoothed[::-1], smoothed)
    wanted = [
        (pair + 1, b, backward, forward, (b.gray, a.gray), layers and (layers[1], layers[0]), blurred[0])
    ]
    if pair == 0:
        wanted.append((0, a, forward, backward, (a.gray, b.gray), layers, blurred[1]))
    for index, frame, ahead, back, images, known, smooth in wanted:
        own: dict[str, object] = {}
        if _moving_objects is moving_objects:
            own = {"distance": distance} if distance is not None else {}
            if known:
                own["layers"] = known
            if smooth is not None:
                own["smoothed"] = smooth
            if completed:
                own["image_near"] = motion.IMAGE_NEAR_PX
        small = np.asarray(_moving_objects(ahead, back, union, side="a", images=images, **own), bool)
        if not small.any():
            continue
        full = cv2.resize(small.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST)
        found[index] = (cv2.dilate(full, kernel) > 0) & ~frame.hole
    return found


#: A pair is a cut when frame B, warped onto frame A, correlates with A less than these (log luminance of the
#: thumbnails, over what both show): under CUT_DENSE by the pair's own flow, and under CUT_COARSE by that flow
#: smoothed over an eighth of the frame (DIS, free at every pixel, makes two unrelated textures look alike;
#: no smooth motion does). Every pair of the benchmark's clips (tennis, schoolgirls, the 1080p parallax, the
#: Cycles whips, crosser, dollyball, nonrigid water and foliage) gave at least 0.958 and 0.698 (crosser's
#: walker and car, which the smoothed flow does not follow); a cut from tennis to schoolgirls 0.39 and 0.17,
#: two unrelated noise textures 0.51 and 0.28. Taking a pair for a cut only makes its frames fall back to
#: their spatial fill; missing one pastes another shot into the hole.
CUT_DENSE = 0.9
CUT_COARSE = 0.5
#: ... and only when at least this share of the thumbnail, and this many pixels, are seen by both (a frame
#: nearly all hole says nothing).
CUT_MIN_SHARE = 0.2
CUT_MIN_PIXELS = 256


def _thumb_flow(a: FlowInput, forward: np.ndarray) -> np.ndarray:
    """The pair's forward flow at the thumbnails' size (in thumbnail pixels)."""
    height, width = a.thumb.shape[:2]
    flow: np.ndarray = cv2.resize(forward, (width, height), interpolation=cv2.INTER_AREA)
    flow[..., 0] *= width / forward.shape[1]
    flow[..., 1] *= height / forward.shape[0]
    return flow


def _correlation_onto_a(a: FlowInput, b: FlowInput, flow: np.ndarray) -> float | None:
    """How frame B's thumbnail, warped onto A's by ``flow`` (thumbnail px), correlates with A's (log
    luminance, over the pixels both show); None where too few are shown, or one side is flat."""
    warped = warp(b.thumb, flow, border=cv2.BORDER_CONSTANT)
    known = warp((~b.thumb_hole).astype(np.float32), flow, border=cv2.BORDER_CONSTANT) >= 1.0
    both = known & ~a.thumb_hole
    if int(both.sum()) < max(CUT_MIN_PIXELS, CUT_MIN_SHARE * both.size):
        return None
    here = np.log1p(np.maximum(a.thumb.mean(axis=-1)[both], 0.0, dtype=np.float64))
    there = np.log1p(np.maximum(warped.mean(axis=-1)[both], 0.0, dtype=np.float64))
    here -= here.mean()
    there -= there.mean()
    # (element-wise sums, not np.dot: a BLAS call wakes OpenBLAS, whose spinning workers cost ~40 CPU ms a
    # frame on an idle machine: tests/test_style.py)
    scale = float(np.sqrt(float((here * here).sum()) * float((there * there).sum())))
    if not np.isfinite(scale) or scale <= 1e-12:
        return None  # a flat frame (black leader, a fade's end) correlates with nothing: no evidence
    return float((here * there).sum()) / scale


def is_cut(a: FlowInput, b: FlowInput, forward: np.ndarray) -> bool:
    """Whether frames A and B are of two shots: B, warped onto A by the flow estimated between them and by
    that flow smoothed, does not look like A (see :data:`CUT_DENSE`). Log luminance makes the test blind to
    exposure and grade; a pair it cannot judge (too little seen, a flat frame) is no cut."""
    flow = _thumb_flow(a, forward)
    dense = _correlation_onto_a(a, b, flow)
    if dense is None or dense >= CUT_DENSE:
        return False
    coarse = _correlation_onto_a(a, b, cv2.GaussianBlur(flow, (0, 0), max(flow.shape[:2]) / 8))
    return coarse is not None and coarse < CUT_COARSE


#: A pair's exposure gain (per channel, log) is trusted up to this as measured (the median of the log ratios:
#: exposure flicker, a grade's breathing) ...
GAIN_LOG_FREE = 0.7
#: ... and beyond it (an exposure step of more than 2x between two frames: a light switched off, an auto
#: exposure jump, a flash) only where it is one gain over the frame: at least this share of the log ratios
#: nearer the median than half the step (a global step under grain: 0.99 and more on 160x90 frames with
#: noise of 0.03 on a 0.3x step; a light on 40 % of the frame: 0.6). Such a pair takes its gain as measured;
#: any other is not linked (:attr:`PairFlow.cut`: nothing crosses it), each side then filled from its own
#: frames: a gain held at the bound was 15-20 % off over the whole shot. docs/method.md, "Exposure steps".
GAIN_AGREE_SHARE = 0.8


def _exposure_gain(a: FlowInput, b: FlowInput, forward: np.ndarray) -> tuple[np.ndarray, bool]:
    """Per-channel gain g with ``b·g ≈ a`` over the background both frames see (robust median of log
    ratios on thumbnails), and whether it can be trusted (False: a step beyond :data:`GAIN_LOG_FREE` that is
    not one gain over the frame: :data:`GAIN_AGREE_SHARE`). Exposure flicker and auto gain are multiplicative, so this is HDR-safe."""
    flow = _thumb_flow(a, forward)
    warped = warp(b.thumb, flow, border=cv2.BORDER_CONSTANT)
    warped_hole = warp(b.thumb_hole.astype(np.float32), flow, border=cv2.BORDER_CONSTANT) > 0
    level = max(float(np.median(np.abs(a.thumb))), 1e-6)
    valid = ~a.thumb_hole & ~warped_hole
    gain = np.ones(3, np.float32)
    trusted = True
    for c in range(3):
        ok = valid & (a.thumb[..., c] > 0.02 * level) & (warped[..., c] > 0.02 * level)
        if ok.sum() >= 64:
            # A plate may hold values near float32's limit (±3.4e38, a bad grade): their ratios overflow
            # (inf, inf/inf: nan, tiny/huge: 0) and say nothing of exposure; only finite positive ones count.
            with np.errstate(over="ignore", invalid="ignore"):
                ratio = a.thumb[..., c][ok] / warped[..., c][ok]
            ratio = ratio[np.isfinite(ratio) & (ratio > 0)]
            if len(ratio) < 64:
                continue
            logs = np.log(ratio)
            if median_within(logs, 0.004):  # (the usual case: no gain, and no median found for it)
                continue
            log_ratio = float(np.median(logs))
            if abs(log_ratio) > GAIN_LOG_FREE:
                agree = float(np.mean(np.abs(logs - log_ratio) < 0.5 * abs(log_ratio)))
                if agree < GAIN_AGREE_SHARE:
                    trusted = False
                    log_ratio = float(np.clip(log_ratio, -GAIN_LOG_FREE, GAIN_LOG_FREE))
            gain[c] = np.exp(log_ratio) if abs(log_ratio) > 0.004 else 1.0
    return gain, trusted
