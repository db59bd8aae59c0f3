"""A pair's flow, from the pair's two frames alone: a pure function, so it may run in any thread or process.

:func:`pair_flow` makes what :class:`.pairs.Pairs` keeps of each neighbouring pair: DIS both ways
(:func:`estimate_pair`), snapped to its background layers refined on the two images where they explain it as
well (:func:`exact_layers`: a whole-pixel pan is then followed exactly), completed inside the holes with the
completion's fit (:func:`complete_pair`), the unmasked movers the pair shows (:func:`_detect_movers`), the
exposure gain between the two frames
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

from ..flow import (
    DISFlow,
    FlowEstimator,
    complete_flows,
    complete_flows_scored,
    motion,
    moving_objects,
    rigid,
    warp,
)
from ..flow.completion import GAP, PAIR_STEP
from ..flow.holes import shared_distance
from ..flow.motion import homography_flow, inverse_homography, smoothed_grey
from ..flow.ops import float_grid, median_within
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
    "aifx_core.flow.rigid",
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
    """The pair's flows as estimated, A→B and B→A (before completion), each estimated again from the pair's global
    motion where it is doubted (:func:`_realigned`: a repetitive texture)."""
    forward, backward = estimator.estimate(a.gray, b.gray), estimator.estimate(b.gray, a.gray)
    if not isinstance(estimator, DISFlow) or not estimator.prealign:
        # (another estimator, or one asked not to use global motions: as it estimated)
        return forward, backward
    here, there = _Side.of(a), _Side.of(b)
    forward, forward_motion = _realigned(estimator, (a, here), (b, there), forward)
    backward, backward_motion = _realigned(estimator, (b, there), (a, here), backward)
    # One direction re-estimated, the other not doubted: that one may sit on a repeat that matches as well (the
    # pattern's blemishes aside), while the pair's motion is now known; it takes that motion where it brings
    # the frame on as well.
    # (inverted by the adjugate, motion's helper: np.linalg wakes OpenBLAS's spinning workers)
    if forward_motion is not None and backward_motion is None:
        reverse = inverse_homography(forward_motion)
        if reverse is not None:
            backward = _agreeing(estimator, (b, there), (a, here), backward, reverse)
    elif backward_motion is not None and forward_motion is None:
        reverse = inverse_homography(backward_motion)
        if reverse is not None:
            forward = _agreeing(estimator, (a, here), (b, there), forward, reverse)
    return forward, backward


#: A flow that brings the other frame onto its own with a correlation under this (:meth:`_Side.onto`) is doubted
#: and estimated again from the pair's global motions (:func:`_realigned`). Every pair of the benchmark's clips
#: scores at least 0.958 (the cut test's measure); DIS locked onto a brick wall's repeat 0.67-0.88.
REALIGN_BELOW = 0.95
#: ... and a re-estimate replaces it only where it scores better by this much; where the measure cannot tell
#: two flows apart (within this), the one that follows the pair's global motion is taken.
REALIGN_GAIN = 0.02
#: A flow that scores well is still doubted where most of it is more than REPEAT_PX working px away from the
#: thumbnails' translation while that one rigid motion brings B on nearly as well (within RIGID_SLACK: the
#: translation is found to a third of a pixel or so, which costs a sharp pattern's score much), and the
#: estimator's own global motions (found to a tenth of a pixel) disagree with it too while one of them does as
#: well: two motions that far apart explaining the pair alike is what a repeating pattern does.
REPEAT_PX = 3.0
RIGID_SLACK = 0.1


@dataclass
class _Side:
    """One frame of a pair as the re-estimate judges a flow: its thumbnail's log luminance (the cut test's
    measure, made once per frame) and where it shows the plate."""

    frame: FlowInput
    log: np.ndarray
    seen: np.ndarray

    @classmethod
    def of(cls, frame: FlowInput) -> _Side:
        # (the channels' mean by cv2.transform: NumPy's mean over a length-3 last axis is several times slower)
        luminance = cv2.transform(
            np.ascontiguousarray(frame.thumb, np.float32), np.full((1, 3), 1 / 3, np.float32)
        )
        log = np.log1p(np.maximum(luminance, 0.0))
        return cls(frame, log, (~frame.thumb_hole).astype(np.float32))

    def onto(self, other: _Side, flow: np.ndarray) -> float | None:
        """:meth:`onto_thumb` for ``flow`` at the working size (working px), brought to the thumbnail's by
        sampling (:func:`_thumb_flow`'s INTER_LINEAR: the re-estimate scores several flows a pair)."""
        return self.onto_thumb(other, _thumb_flow(flow, self.log, cv2.INTER_LINEAR))

    def onto_rigid(self, other: _Side, matrix: np.ndarray) -> float | None:
        """:meth:`onto` for the homography ``matrix`` (working px), made on the thumbnails' grid."""
        height, width = self.log.shape[:2]
        scale_x, scale_y = self.frame.gray.shape[1] / width, self.frame.gray.shape[0] / height
        ys, xs = float_grid(0, height, 0, width)
        flow = homography_flow(matrix, (xs + 0.5) * scale_x - 0.5, (ys + 0.5) * scale_y - 0.5)
        flow[..., 0] /= scale_x
        flow[..., 1] /= scale_y
        return self.onto_thumb(other, flow)

    def onto_thumb(self, other: _Side, flow: np.ndarray) -> float | None:
        """How ``other``'s thumbnail, warped onto this frame's by ``flow`` (thumbnail px), correlates with it:
        log luminance (the log taken before the warp, once per frame), over the pixels both show; None where
        too few are shown (:data:`CUT_MIN_SHARE`, :data:`CUT_MIN_PIXELS`), or one side is flat. The one
        measure of both the cut test (:func:`is_cut`) and the re-estimate (:func:`_realigned`), so that
        :data:`REALIGN_BELOW` and :data:`CUT_DENSE` speak of the same number."""
        warped = warp(other.log, flow, border=cv2.BORDER_CONSTANT)
        both = (warp(other.seen, flow, border=cv2.BORDER_CONSTANT) >= 1.0) & (self.seen > 0)
        if int(both.sum()) < max(CUT_MIN_PIXELS, CUT_MIN_SHARE * both.size):
            return None
        here = self.log[both].astype(np.float64)
        there = warped[both].astype(np.float64)
        here -= here.mean()
        there -= there.mean()
        # (element-wise sums, not np.dot: a BLAS call wakes OpenBLAS, whose spinning workers cost ~40 CPU ms a
        # frame on an idle machine: tests/test_style.py)
        scale = float(np.sqrt(float((here * here).sum()) * float((there * there).sum())))
        if not np.isfinite(scale) or scale <= 1e-12:
            return None  # a flat frame (black leader, a fade's end) correlates with nothing: no evidence
        return float((here * there).sum()) / scale


def _realigned(
    estimator: DISFlow,
    first: tuple[FlowInput, _Side],
    second: tuple[FlowInput, _Side],
    flow: np.ndarray,
) -> tuple[np.ndarray, np.ndarray | None]:
    """``flow`` (A→B, ``first`` to ``second``), or DIS pre-aligned by one of the pair's global motions
    (``estimator``'s) where ``flow`` is doubted and that brings B onto A better; with the
    global motion taken, None where none was.

    On a repetitive texture (a brick wall, tiles, a fence, a grille) DIS's coarse-to-fine search may lock onto a
    repeat of the pattern over much of the frame (a 4 px pan over 24 px bricks read as +7 px): every chain
    through the pair then lands a brick away, and the cut test, which expects a wrong flow to be ragged, may
    take the pair for a cut (a continuous pan's frames then fall back to their spatial fill, and pop where that
    ends). A global motion (the matched features' homography, the thumbnails' phase correlation) weighs the
    whole frame at once, the pattern's blemishes and the frame's edges included, and is less easily fooled;
    pre-aligned by it, DIS measures only what is left. Judged by the cut test's measure (:meth:`_Side.onto`:
    blind to exposure and to the holes). A flow is doubted where it brings B on badly (under
    :data:`REALIGN_BELOW`; a re-estimate must then do better by :data:`REALIGN_GAIN`), or where it sits a
    repeat away from the pair's global motion (:data:`REPEAT_PX`; a re-estimate that follows a global motion is
    then taken where it does about as well). No flow of the benchmark's clips is replaced: their flows are
    unchanged, bit for bit. A pure function of the pair's frames."""
    (a, here), (b, there) = first, second
    score = here.onto(there, flow)
    if score is None:
        return flow, None
    if score < REALIGN_BELOW:
        # (only a global motion that itself brings B on better is worth a DIS run: on grain, noise or soft
        # plates every flow scores low and no rigid motion does better, so nothing is estimated again)
        best = score + REALIGN_GAIN
        found = [
            m for m in estimator.global_motions(a.gray, b.gray) if (here.onto_rigid(there, m) or -1.0) >= best
        ]
    else:
        # (cheap signs first, most pairs stop here: the thumbnails' translation; then the estimator's own)
        shift = estimator.translation(a.gray, b.gray)
        if shift is None or _follows(flow, shift, a.small_hole, REPEAT_PX, 0.5):
            return flow, None
        rigid = here.onto_rigid(there, shift)
        if rigid is None or rigid < score - RIGID_SLACK:
            return flow, None
        found = estimator.global_motions(a.gray, b.gray)
        if any(_follows(flow, matrix, a.small_hole, REPEAT_PX, 0.5) for matrix in found):
            return flow, None
        best = score - REALIGN_GAIN
        found = [matrix for matrix in found if (here.onto_rigid(there, matrix) or -1.0) >= best]
    taken = None
    for matrix in found:
        candidate = estimator.aligned(a.gray, b.gray, matrix)
        candidate_score = here.onto(there, candidate)
        if candidate_score is not None and candidate_score >= best:
            flow, best, taken = candidate, candidate_score, matrix
    return flow, taken


def _agreeing(
    estimator: DISFlow,
    first: tuple[FlowInput, _Side],
    second: tuple[FlowInput, _Side],
    flow: np.ndarray,
    matrix: np.ndarray,
) -> np.ndarray:
    """``flow`` (A→B), or DIS pre-aligned by ``matrix`` (the motion the pair's other direction was re-estimated
    with, inverted) where ``flow`` does not follow it and that brings B onto A as well, within
    :data:`REALIGN_GAIN` (what the measure cannot tell apart: a repeat that matches the pattern but for its
    blemishes may even score a little higher, the frames' edges and holes cropping another share; then the
    pair's two directions agreeing decides)."""
    (a, here), (b, there) = first, second
    if _follows(flow, matrix, a.small_hole):
        return flow
    candidate = estimator.aligned(a.gray, b.gray, matrix)
    found, score = here.onto(there, candidate), here.onto(there, flow)
    return candidate if found is not None and (score is None or found >= score - REALIGN_GAIN) else flow


#: A flow follows a global motion where at least FOLLOW_SHARE of its vectors outside the hole (on a grid every
#: :data:`FOLLOW_STEP` working px) are within FOLLOW_PX working px of it.
FOLLOW_PX = 2.0
FOLLOW_SHARE = 0.9
FOLLOW_STEP = 8


def _follows(
    flow: np.ndarray,
    matrix: np.ndarray,
    hole: np.ndarray,
    near: float = FOLLOW_PX,
    share: float = FOLLOW_SHARE,
) -> bool:
    """Whether ``flow`` outside ``hole`` moves as the homography ``matrix`` does: at least ``share`` of its
    vectors within ``near`` working px."""
    step = FOLLOW_STEP
    ys, xs = float_grid(0, flow.shape[0], 0, flow.shape[1], step)
    seen = ~hole[::step, ::step]
    if not seen.any():
        return True
    off = flow[::step, ::step][seen] - homography_flow(matrix, xs[seen], ys[seen])
    return float(np.mean(np.hypot(off[:, 0], off[:, 1]) <= near)) >= share


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
    # With the exact layers, the flows' background layers are fitted once, on the flows as estimated, and shared
    # by the refinement, the completion and the mover detection (the refined ones in their places): those two
    # fitted their own on the snapped flows, ~1 ms a 432x240 pair each.
    fitted = _background_layers(forward, backward, distance, union.shape) if EXACT_LAYERS else None
    exact = exact_layers(a, b, forward, union, fitted[0]) if fitted is not None else None
    if exact is not None and fitted is not None:
        forward, backward = exact.snap(forward, backward)
        fitted = exact.layers(fitted)
    if union.any():
        if _complete_flows_scored is not None:
            own = (
                {
                    "layers_out": layers,
                    "distance": distance,
                    "smoothed": smoothed,
                    "step": PAIR_STEP,
                    "layers": fitted,
                }
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
    if exact is not None:
        # (inside the holes the completion's flow, learnt from the snapped flow around them, by the flow alone)
        # (in place: the completed flows are this pair's own)
        forward = rigid.snap(forward, exact.forwards, within=union, in_place=True)
        backward = rigid.snap(backward, exact.backwards, within=union, in_place=True)
    movers: dict[int, np.ndarray] = {}
    if _moving_objects is not None:
        shared = layers if len(layers) == 2 else fitted
        known = (shared[0], shared[1]) if shared is not None else None
        movers = _detect_movers(size, pair, (a, b), forward, backward, union, known, distance, smoothed)
    gain, trusted = _exposure_gain(a, b, forward) if exposure_match else (_UNIT, True)
    # A step in exposure that is not one gain over the frame links nothing across it (GAIN_AGREE_SHARE).
    return PairFlow(forward, backward, fits, movers, gain if trusted else _UNIT, cut=not trusted)


#: Whether a pair's flow takes its background layers' motion refined on the images where it agrees with them
#: (:func:`exact_layers`), before its completion (which then learns the refined motion) and, in the holes, after.
#: False: DIS's flow as completed.
EXACT_LAYERS = True


@dataclass
class ExactLayers:
    """A pair's background layers refined on its images (:func:`exact_layers`): each layer's motion both ways
    and the evidence the images give on it."""

    forwards: list[np.ndarray]
    backwards: list[np.ndarray]
    evidence_f: list[rigid.Evidence]
    evidence_b: list[rigid.Evidence]
    #: By its place among the forward flow's background layers, each refined layer's homography both ways.
    refined: dict[int, tuple[np.ndarray, np.ndarray]]

    def layers(self, fitted: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
        """The pair's background layers as fitted on its flows (forward's, backward's) with each refined one
        in its place (backward's by the same place where both flows show as many layers): what the snapped
        flows show, for their completion and mover detection."""
        forward, backward = list(fitted[0]), list(fitted[1])
        for k, (matrix, reverse) in self.refined.items():
            forward[k] = matrix
            if len(backward) == len(forward):
                backward[k] = reverse
        return [forward, backward]

    def snap(self, forward: np.ndarray, backward: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The pair's flows (as estimated) snapped to the layers where the images (else the flows) agree."""
        return (
            rigid.snap(forward, self.forwards, self.evidence_f),
            rigid.snap(backward, self.backwards, self.evidence_b),
        )


def _background_layers(
    forward: np.ndarray, backward: np.ndarray, distance: np.ndarray | None, shape: tuple[int, int]
) -> list[list[np.ndarray]]:
    """The background layers (:func:`aifx_core.flow.motion.background_layers`) of the pair's two flows, fitted
    where the completion and the mover detection fit them: beyond the completion's gap from the holes
    (``distance``, their distance transform; None: no hole)."""
    usable = distance > GAP if distance is not None else np.ones(shape, bool)
    return [motion.background_layers(forward, usable), motion.background_layers(backward, usable)]


def exact_layers(
    a: FlowInput, b: FlowInput, forward: np.ndarray, union: np.ndarray, found: list[np.ndarray]
) -> ExactLayers | None:
    """The pair's background layers ``found`` in the forward flow as estimated (:func:`_background_layers`),
    each refined on the grey images over the pixels clear of both holes that it explains
    (:func:`aifx_core.flow.rigid.refine`); None where none could be."""
    shape = (forward.shape[0], forward.shape[1])
    grey_a = a.gray.astype(np.float32) / np.float32(255.0)
    grey_b = b.gray.astype(np.float32) / np.float32(255.0)
    clear_a, clear_b = ~a.small_hole, ~b.small_hole
    exact = ExactLayers([], [], [], [], {})
    for k, matrix in enumerate(found):
        refined = rigid.refine(grey_a, grey_b, matrix, forward, ~union, clear_b)
        reverse = inverse_homography(refined[0]) if refined is not None else None
        if refined is None or reverse is None or abs(refined[1]) < 1e-3:
            continue
        matrix, gain, offset = refined
        exact.refined[k] = (matrix, reverse)
        motion_f, motion_b = rigid.layer_flow(matrix, shape), rigid.layer_flow(reverse, shape)
        exact.forwards.append(motion_f)
        exact.backwards.append(motion_b)
        grid_f, grid_b = rigid.on_grid(motion_f), rigid.on_grid(motion_b)
        exact.evidence_f.append(rigid.Evidence.of(grey_a, grey_b, gain, offset, clear_a, clear_b, grid_f))
        exact.evidence_b.append(
            rigid.Evidence.of(grey_b, grey_a, 1.0 / gain, -offset / gain, clear_b, clear_a, grid_b)
        )
    return exact if exact.forwards else None


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


def _thumb_flow(flow: np.ndarray, thumb: np.ndarray, interpolation: int = cv2.INTER_AREA) -> np.ndarray:
    """``flow`` (working px) at the size of ``thumb`` (a thumbnail, or what is made from one), in thumbnail px.

    ``interpolation``: INTER_AREA (the flow averaged over each thumbnail pixel, as the thumbnail averages the
    frame) for the cut test and the exposure gain (the cut test's thresholds were measured so; the gain reaches
    the pixels); INTER_LINEAR (sampled at the thumbnail's pixels: a fifth of the cost, 0.15 against 0.84 ms for a
    960x540 flow) for the re-estimate, which scores several flows a pair (:meth:`_Side.onto`). A parameter,
    not one interpolation for all: either choice would change numbers the other side was measured with."""
    height, width = thumb.shape[:2]
    small: np.ndarray = cv2.resize(flow, (width, height), interpolation=interpolation)
    small[..., 0] *= width / flow.shape[1]
    small[..., 1] *= height / flow.shape[0]
    return small


#: A frame is flat (black leader, a slug between shots, a fade's end) where its thumbnail's luminance over what
#: it shows spans at most this share of its mean (all of it where it is black). Picture spans far more, however
#: dim or soft: the last frame of the fade tester's fade to black that still holds picture (8-bit, codes 0-18)
#: spans 2.2x its mean, a shot graded to 15 % contrast 0.76x.
FLAT_SPREAD = 0.004


def flat(frame: FlowInput) -> bool:
    """Whether ``frame`` shows no picture: its thumbnail's luminance is one value (within :data:`FLAT_SPREAD` of
    its mean) over what it shows, judged where it shows enough (:data:`CUT_MIN_SHARE`, :data:`CUT_MIN_PIXELS`;
    a frame nearly all hole is never flat). A flat frame carries nothing of the shot around it: the cut test
    could not correlate it with anything and took it for no cut, so chains walked through a black slug from one
    shot into the next, and a cut to black fetched a ghost of the picture into its first black frames."""
    seen = ~frame.thumb_hole
    count = int(seen.sum())
    if count < max(CUT_MIN_PIXELS, CUT_MIN_SHARE * seen.size):
        return False
    # (the channels' mean as _Side.of takes it; min and max, not percentiles: a hot pixel on black makes the
    # frame no longer flat, and then the correlation, which a lone spike does not pass, tells the cut)
    luminance = cv2.transform(
        np.ascontiguousarray(frame.thumb, np.float32), np.full((1, 3), 1 / 3, np.float32)
    )
    shown = luminance.reshape(seen.shape)[seen]
    low, high = float(shown.min()), float(shown.max())
    if not (np.isfinite(low) and np.isfinite(high)):
        return False
    return high - low <= FLAT_SPREAD * abs(float(shown.mean()))


def is_cut(a: FlowInput, b: FlowInput, forward: np.ndarray) -> bool:
    """Whether frames A and B are of two shots: one of them is :func:`flat` (no picture: nothing of the shot
    around it, so nothing may cross it, and a flat frame takes its own spatial fill, exact there), or B, warped
    onto A by the flow estimated between them and by that flow smoothed, does not look like A (see
    :data:`CUT_DENSE`). Log luminance makes the test blind to exposure and grade; a pair it cannot judge (too
    little seen) is no cut."""
    if flat(a) or flat(b):
        return True
    here, there = _Side.of(a), _Side.of(b)
    flow = _thumb_flow(forward, a.thumb)
    dense = here.onto_thumb(there, flow)
    if dense is None or dense >= CUT_DENSE:
        return False
    coarse = here.onto_thumb(there, cv2.GaussianBlur(flow, (0, 0), max(flow.shape[:2]) / 8))
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
#: ... nor where the brighter frame is clipped: at least CLIPPED_SHARE of what both see lies within CLIP_NEAR of
#: its largest value. Its highlights stopped at the peak while the gain went on, so its values are not the other
#: frame's times the gain (the fill tester's flash: tennis x2.5 in 8-bit, 27-66 % of the flash frame's thumbnail
#: at the peak per channel, 0.2-0.3 % of the frames around it; the ratios still agreed, 0.41-0.59 and 1.7-2.4
#: per channel, and chains fetched the clipped flash, rescaled, into every frame of the shot).
CLIPPED_SHARE = 0.05
CLIP_NEAR = 0.99


def _clipped(values: np.ndarray) -> bool:
    """Whether ``values`` (one channel of a frame, over what both frames of a pair see) stop at a peak: at least
    :data:`CLIPPED_SHARE` of them within :data:`CLIP_NEAR` of their largest."""
    peak = float(values.max())
    return peak > 0 and float(np.mean(values >= CLIP_NEAR * peak)) >= CLIPPED_SHARE


def _exposure_gain(a: FlowInput, b: FlowInput, forward: np.ndarray) -> tuple[np.ndarray, bool]:
    """Per-channel gain g with ``b·g ≈ a`` over the background both frames see (robust median of log
    ratios on thumbnails), and whether it can be trusted (False: a step beyond :data:`GAIN_LOG_FREE` that is
    not one gain over the frame: :data:`GAIN_AGREE_SHARE`, or whose brighter frame is clipped:
    :data:`CLIPPED_SHARE`). Exposure flicker and auto gain are multiplicative, so this is HDR-safe."""
    flow = _thumb_flow(forward, a.thumb)
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
                brighter = (a.thumb[..., c] if log_ratio > 0 else warped[..., c])[ok]
                if agree < GAIN_AGREE_SHARE or _clipped(brighter):
                    trusted = False
                    log_ratio = float(np.clip(log_ratio, -GAIN_LOG_FREE, GAIN_LOG_FREE))
            gain[c] = np.exp(log_ratio) if abs(log_ratio) > 0.004 else 1.0
    return gain, trusted
