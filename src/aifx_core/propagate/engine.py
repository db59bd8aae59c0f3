"""The temporal fill engine (backend ``propagate``): flow-guided propagation over a sliding window.

The method is a pipeline of stages, one module each, named for what flows through them (docs/method.md):

1. :mod:`.candidates`: each hole pixel (and a seam ring around the hole) is followed forward and backward
   through chained, completed, consistency-checked flow (:mod:`.chain`); up to ``candidates`` samples per
   direction are read where it lands on valid plate (never a hole, never an unmasked moving object).
2. :mod:`.confidence`: every sample is scored (round-trip error, fit residual of the flow completion, travel);
   after fusion every pixel gets a confidence from several cues.
3. :mod:`.fusion`: a weighted-median consensus rejects the odd wrong sample and averages the rest.
4. :mod:`.fallback`: where confidence is low, the result blends smoothly towards the keyframe route (what no
   neighbour saw, invented once per keyframe block by the spatial backend and carried by flow).
5. :mod:`.seam`: a smooth offset field matches the fill to the frame's own pixels at the hole's edge.

Two modules hold what the stages read: :mod:`.pairs` (the frames, read ``window`` at a time, and the flow
between neighbours, computed once per pair in a background flow worker) and :mod:`.keyframes` (each block's
keyframe and its fill, the anchors). This module is the backend and, per frame, the orchestration
propagate → weights → fallback → result, over bounded caches keyed by position in the *shot* (counted from the
shot's first frame, whichever frames a call reads). A frame's propagation depends only on frames within ``radius`` (and the movers of the first of
them, found with the frame before it); its ring check's spatial share is smoothed over the frame before and
after it (:data:`TEMPORAL`), and where it takes the fallback route it is averaged along the flow with the
unsteadied fills of the :data:`STEADY` frames either side, so its pixels depend on ``radius + TEMPORAL + STEADY``
frames each way; keyframe blocks are fixed by position in the shot and each block's
keyframe (the user's, else the member with the largest hole: a cheap cue known from the masks alone) and its
fill are decided once per shot, by the anchors stage (:meth:`PropagateBackend.anchors`) or, on a whole-shot
stream, as the blocks are reached (the same code, so the same pixels); a frame uses the keyframes of its own
and the adjacent blocks, at most ``2 * keyframe_interval - 2`` frames away (``+ STEADY`` for its neighbours').
So a chunk is exact when it reads

    positions [first - max(radius + 2, 2 * keyframe_interval - 2) - STEADY,
               last + max(radius + 1, 2 * keyframe_interval - 2) + STEADY]

(clipped to the shot; :meth:`PropagateBackend.chunk_context`) and the shot's anchors. Nothing depends on how
packets are chunked, so ``window`` changes memory, never pixels, and at most ``window + overlap`` packets are
held (:attr:`PropagateBackend.overlap`).

**Threads.** The flow worker and the reading thread (:mod:`.pairs`) make only what depends on the frames
alone; their results are taken over in this thread when something reads them, so every read sees exactly
what the one-thread run (``AIFX_THREADS=1``) sees.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import InputError
from ..flow import DISFlow, FlowEstimator
from ..inpaint.base import Anchor, BackendContext, FramePacket, Span, SpatialBackend, SpatialFactory
from ..progress import Reporter
from .candidates import Source, gather
from .chain import Chain
from .confidence import candidate_quality, candidate_weight, pixel_confidence
from .fallback import Filled, blend_weights, carry, smoothstep, steady
from .fusion import fuse
from .keyframes import Keyframes
from .options import PropagateOptions
from .pairs import ContextError, Pairs, _Frame
from .seam import ring, ring_check, seam_match

__all__ = ["ContextError", "PropagateBackend"]

#: Fewest pixels (or 2 % of the hole) wanting a per-frame spatial fill before one is run.
MIN_SPATIAL = 32
#: Largest share of the frame's own spatial fill left out when the frame gets none (so the share never jumps
#: by more than this from one frame to the next when the fill starts or stops being run).
SHARE_SKIP = 0.05
#: The ring check's spatial share of a frame is averaged with that of this many frames before and after it
#: (weights 1-2-1), so a pixel's route changes smoothly in time as well as in space: a mover that reaches the
#: ring in one frame moves the blend by a quarter, then a half, then a quarter, not wholly at once. (The
#: propagation weight ``alpha`` is left as it is: it follows confidence cues that are smooth in time already,
#: and averaging it over a moving hole's neighbours cost 0.3 dB on tennis.)
TEMPORAL = 1
#: The fallback is only worth giving way to where it is surer than propagation. Where its keyframe content
#: is carried well (weight ``beta`` 1) the fallback thresholds stand; where it is wholly the frame's own
#: spatial fill (``beta`` 0: a blur) they are scaled by this, so a propagated value gives way to a blur only
#: at a quarter of the confidence (tennis, object-shaped hole: propagated pixels were closer to the truth
#: than the fallback in every confidence band; docs/method.md, section 4).
CARRY_TRUST = 0.25
#: Where a frame's fill takes the fallback route, it is averaged along the completed flow with the fills its
#: neighbours up to this many frames away made for themselves (:func:`.fallback.steady`), so what is invented
#: or fetched unsurely moves with the plate instead of boiling. A frame's pixels then depend on this many
#: frames more each way (``reach``, ``chunk_context``); 0 turns it off.
STEADY = 2
#: Misalignment (working px) at which a neighbour's value counts half: a blur is forgiving, and on a fast
#: pan the completed flow is often 10 px out where its round trip says so (docs/method.md, section 4).
STEADY_PX = 30.0
#: ... and for a propagated value of low confidence (texture: out of register, averaging blurs it). At 2
#: (like a candidate's) crosser kept 0 of 20 frames below Telea - 1 dB; at 30 tennis' object-shaped hole went
#: to 1.0x clean E_warp and whip's static square to 10x, but two crosser cases to 1 of 20 (docs/method.md, 4).
STEADY_TEXTURE_PX = 2.0
#: ... but on a fast pan (the walk's points move at least ``chain.SLACK_FAST_PX`` working px per step, median)
#: the fallback's own ``STEADY_PX``: there a low-confidence propagated value flips from frame to frame (the
#: whips' in-hole boil) and the completed flow inside the hole is coarse anyway, so holding it to 2 px kept the
#: boil. Slow walks (crosser's 1.3 px/frame, where 30 px for all put a car entering a square below Telea - 1
#: dB) keep 2 px. None: off (docs/method.md, "Fast whips", sixth pass).
STEADY_FAST_TEXTURE_PX: float | None = 30.0
#: Unmasked movers this close (pixels, square neighbourhood) to a pixel the spatial fill is asked for are hole
#: to it, farther ones are not. Telea (radius 5) reads ±5 px and marches its distance field ±5 px outside the
#: hole: with 16, the values at the asked pixels moved by < 1e-4 against handing it every mover (tennis, blob
#: and nine squares, 16 frames each; 10 already gave < 3e-4) while the fill took 41 -> 9 and 65 -> 40 ms.
MOVER_REACH = 16
#: Frames either side of an output whose propagation it reads (its ring check's share over TEMPORAL, its
#: fallback steadied over STEADY, each of those weighing its neighbours'): what ``_Run.release`` plans with.
NEAR = TEMPORAL + STEADY
#: Confidence bands reported in ``PropagateBackend.bands`` (share of hole pixels), lower bounds.
BANDS = (("high", 0.7), ("medium", 0.3), ("low", 0.0))


@dataclass
class _Propagated:
    """Frame t after propagation: hole pixel coordinates, fused values and how far to trust them."""

    ys: np.ndarray
    xs: np.ndarray
    values: np.ndarray
    found: np.ndarray
    #: Smooth seam offset at each hole pixel (zeros when seam matching is off or impossible).
    offset: np.ndarray
    #: Confidence (0..1) of each propagated pixel (0 where nothing was found).
    confidence: np.ndarray
    #: Weight of the propagated value against the fallback route (0..1, smooth in space).
    alpha: np.ndarray
    #: Share of the frame's own spatial fill in the result (0..1, smooth in space): high where propagation
    #: reproduced the frame's ring no better than a blur would (:func:`.seam.ring_check`).
    spatial: np.ndarray


@dataclass
class _Fallback:
    """Frame t's fill at its hole pixels before it is steadied in time, and what the route counters need."""

    values: np.ndarray  # (N, 3)
    kept: np.ndarray  # share of the propagated value in each pixel (the rest is the fallback route)
    confidence: np.ndarray  # the confidence output
    counted: np.ndarray  # indices the route counters call spatial where nothing is kept
    alpha: np.ndarray  # weight of the propagated value against the fallback route
    share: np.ndarray  # the ring check's share of the frame's own spatial fill (smoothed in time)
    #: The frame as its neighbours read it (made on first use, see ``_Run.filled``).
    filled: Filled | None = None


class PropagateBackend:
    """``create_backend("propagate", context)``; see the module docstring for the method."""

    name = "propagate"

    def __init__(self, context: BackendContext, spatial_factory: SpatialFactory | None = None) -> None:
        self.context = context
        self.options = PropagateOptions.from_dict(dict(context.options))
        #: Builds the spatial backend by name; ``aifx_core.backends`` hands in its registry's (Telea alone without).
        self.spatial_factory = spatial_factory or _telea_only
        self._spatial: SpatialBackend | None = None
        #: Largest number of packets held at once during the last :meth:`fill` (for tests and benchmarks).
        self.max_held = 0
        #: Largest number of those packets held at once with their full-resolution RGB (the others' plates
        #: are released once nothing left to compute reads them: ``_Run.release``).
        self.max_plates = 0
        #: ... and most frame pairs' flows (and fits) held at once.
        self.max_flows = 0
        #: Hole pixels by route during the last :meth:`fill`: wholly propagated, blended between propagation
        #: and the fallback, wholly from keyframes, wholly from a per-frame spatial fill.
        self.stats = {"propagated": 0, "blended": 0, "keyframe": 0, "spatial": 0}
        #: Hole pixels by confidence band (:data:`BANDS`) during the last :meth:`fill`.
        self.bands = {name: 0 for name, _ in BANDS}
        #: Confidence map (H, W) float32 of the frame last yielded by :meth:`fill`: 1 outside the hole, in the
        #: hole the propagated share times its confidence (0: invented by the spatial route).
        self.last_confidence: np.ndarray | None = None

    @property
    def spatial(self) -> SpatialBackend:
        if self._spatial is None:  # created on first use: shots that propagation fills never load a model
            self._spatial = self.spatial_factory(self.options.spatial_backend, self.context)
        return self._spatial

    @property
    def reach(self) -> tuple[int, int]:
        """Frames before and after an output that its pixels depend on (see the module docstring)."""
        radius, interval = self.options.radius, self.options.keyframe_interval
        behind = max(radius + 1 + TEMPORAL, 2 * interval - 2) + STEADY
        return behind, max(radius + TEMPORAL, 2 * interval - 2) + STEADY

    @property
    def overlap(self) -> int:
        """Packets held besides the read window: the reach behind, and ahead the reach plus what deciding the
        next block's keyframe reads while streaming (its block and ``radius + TEMPORAL`` beyond)."""
        behind, _ = self.reach
        return behind + 2 * self.options.keyframe_interval + self.options.radius + 1 + TEMPORAL + STEADY

    def chunk_context(self, first: int, last: int, length: int) -> tuple[int, int]:
        """Shot positions to read so that positions ``first..last`` of a ``length``-frame shot come out exactly
        as in a whole-shot run (given the shot's anchors): the reach on either side, clipped to the shot."""
        behind, ahead = self.reach
        return max(0, first - behind), min(length - 1, last + ahead)

    def anchor_start(self, block: int) -> int:
        """The first shot position the anchors stage reads to decide ``block`` (and the blocks after it)."""
        return max(0, block * self.options.keyframe_interval - self.options.radius - 1)

    def blocks(self, length: int) -> int:
        """Keyframe blocks of a ``length``-frame shot."""
        return -(-length // self.options.keyframe_interval)

    def _reset(self) -> None:
        self.stats = dict.fromkeys(self.stats, 0)
        self.bands = dict.fromkeys(self.bands, 0)
        self.max_held = 0
        self.max_plates = 0
        self.max_flows = 0

    def fill(
        self, packets: Iterable[FramePacket], reporter: Reporter, span: Span | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(frame, rgb)`` for every packet, or with a ``span`` for ``span.outputs`` only."""
        self._reset()
        run = _Run(self, iter(packets), span)
        try:
            yield from self._fill(run, packets, span, reporter)
        finally:
            run.close()  # a flow still running is finished, none waiting is started: no thread outlives it

    def _fill(
        self, run: _Run, packets: Iterable[FramePacket], span: Span | None, reporter: Reporter
    ) -> Iterator[tuple[int, np.ndarray]]:
        if span is not None and span.outputs is not None:
            wanted = sorted(run.pairs.position(f) for f in span.outputs)
            total = len(wanted)
        else:
            wanted = None
            total = len(packets) if hasattr(packets, "__len__") else 0  # type: ignore[arg-type]
        count = 0
        index = run.pairs.base
        run.start_outputs(wanted, index)
        while True:
            if wanted is not None:
                if count >= len(wanted):
                    break
                index = wanted[count]
                if not run.pairs.available(index):
                    raise ContextError(f"output position {index} was not read")
            elif not run.pairs.available(index):
                break
            frame_number = run.pairs.frame(index).packet.frame
            reporter("propagate", count, total, frame_number)
            run.pairs.read_ahead()  # the flows of the coming pairs run in the flow worker while this frame is filled
            result, confidence = run.result(index)
            count += 1
            following = wanted[count] if wanted is not None and count < len(wanted) else index + 1
            run.evict(following)
            self.max_held = max(self.max_held, run.pairs.max_held)
            self.max_plates = max(self.max_plates, run.pairs.max_plates)
            self.max_flows = max(self.max_flows, run.pairs.max_flows)
            self.last_confidence = confidence
            yield frame_number, result
            index += 1
        self.max_held = max(self.max_held, run.pairs.max_held)
        self.max_plates = max(self.max_plates, run.pairs.max_plates)
        self.max_flows = max(self.max_flows, run.pairs.max_flows)

    def anchors(
        self, packets: Iterable[FramePacket], reporter: Reporter, span: Span
    ) -> Iterator[tuple[int, Anchor]]:
        """The anchors stage: every keyframe block's keyframe and its fill, in block order, over the shot.

        It propagates one frame per block (the keyframe) and runs the spatial backend there once; the other
        frames are read for the flow that propagation follows. Chunks then read these instead of deciding.
        Blocks in ``span.anchors`` (cached already) are skipped; the packets may start at the first missing
        block's :meth:`anchor_start`.
        """
        self._reset()
        run = _Run(self, iter(packets), Span(span.shot))
        try:
            yield from self._anchors(run, span, reporter)
        finally:
            run.close()

    def _anchors(self, run: _Run, span: Span, reporter: Reporter) -> Iterator[tuple[int, Anchor]]:
        total = self.blocks(len(span.shot))
        interval = self.options.keyframe_interval
        known = span.anchors or {}
        for block in range(total):
            if block in known or block * interval < run.pairs.base:
                continue  # cached already (the packets start where the first missing block needs them)
            reporter.cancel.raise_if_cancelled()
            reporter("anchors", block, total, span.shot[block * interval])
            run.pairs.read_ahead()
            anchor = run.keyframes.anchor(block)
            run.evict((block + 1) * interval)
            self.max_held = max(self.max_held, run.pairs.max_held)
            yield block, anchor


def _depth(hole: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> float:
    """The largest distance (pixels) from a hole pixel to the nearest pixel outside the hole."""
    y0, x0 = max(int(ys.min()) - 1, 0), max(int(xs.min()) - 1, 0)
    crop = hole[y0 : int(ys.max()) + 2, x0 : int(xs.max()) + 2].astype(np.uint8)
    return float(cv2.distanceTransform(crop, cv2.DIST_L2, 3).max())


def _telea_only(name: str, context: BackendContext) -> SpatialBackend:
    from ..inpaint.telea import TeleaBackend

    if name != "telea":
        raise InputError(
            f"spatial backend {name!r} needs the registry: build the engine with "
            "aifx_core.backends.create_backend('propagate', context)"
        )
    return TeleaBackend(context)


class _Run:
    """One :meth:`PropagateBackend.fill` (or anchors) call: the frames and pair flows it reads
    (:class:`.pairs.Pairs`), the keyframes it uses (:class:`.keyframes.Keyframes`), and per frame the stages
    propagate → weights → fallback → result, cached by position in the shot."""

    def __init__(
        self, backend: PropagateBackend, packets: Iterator[FramePacket], span: Span | None = None
    ) -> None:
        self.backend = backend
        self.opt = backend.options
        # Python callers may plug in any FlowEstimator (e.g. a learned one); job files pick a DIS preset.
        custom = backend.context.options.get("flow_estimator")
        estimator: FlowEstimator = (
            custom if isinstance(custom, FlowEstimator) else DISFlow(self.opt.flow_preset)
        )
        self.pairs = Pairs(self.opt, backend.context.colorspace, estimator, packets, span)
        self.keyframes = Keyframes(self.pairs, self.opt, self._fill_keyframe, span)
        self.props: dict[int, _Propagated] = {}
        #: Per frame: its fill before it is steadied (``parts[j].filled`` is what j's neighbours read).
        self.parts: dict[int, _Fallback] = {}
        #: A fill's next output position (None: the anchors stage, which releases nothing early) and the
        #: positions whose propagation its outputs ask for (None: every one from ``next_output - NEAR`` on).
        self.next_output: int | None = None
        self.near: set[int] | None = None

    def start_outputs(self, wanted: list[int] | None, first: int) -> None:
        """A fill begins: its outputs are ``wanted`` (positions), or every position from ``first`` on."""
        self.next_output = wanted[0] if wanted else first
        if wanted is not None:
            self.near = {k for o in wanted for k in range(o - NEAR, o + NEAR + 1)}

    def close(self) -> None:
        """Stop the reading thread and the flow worker (see :meth:`.pairs.Pairs.close`)."""
        self.pairs.close()

    # ----------------------------------------------------------------------------------------- propagation
    def _chain(
        self, start: int, direction: int, xs: np.ndarray, ys: np.ndarray, checked: bool = True
    ) -> Chain:
        assert self.pairs.size is not None
        tol = self.opt.consistency_tol if checked else float("inf")
        return Chain(
            start,
            direction,
            xs,
            ys,
            self.pairs.flow,
            self.pairs.size,
            self.pairs.scale,
            tol,
            fit=self.pairs.fit,
        )

    def _blocked(self, frame: _Frame) -> np.ndarray:
        """Where nothing may be read from ``frame``: its hole, non-finite pixels and unmasked movers."""
        return frame.invalid if frame.movers is None else (frame.invalid | frame.movers)

    def _source(self, target: int) -> Callable[[int], Source | None]:
        def source(index: int) -> Source | None:
            if index < 0 or not self.pairs.available(index):
                return None
            frame = self.pairs.frames[index]
            return Source(frame.source, self._blocked(frame), self.pairs.gain_between(index, target))

        return source

    # ----------------------------------------------------------------------------------------- propagation
    def propagated(self, index: int) -> _Propagated:
        """Propagation result of frame ``index`` (computed once, on demand)."""
        if index not in self.props:
            if not self.pairs.available(index):
                raise ContextError(f"position {index} is not in the shot")
            # The outputs' propagations before it are made first, in order (each is made once anyway): then
            # the frames only they would read can be released (see :meth:`release`).
            for k in self._due(index):
                self.props[k] = self._propagate(k)
                self.release()
            self.props[index] = self._propagate(index)
            self.release()
        return self.props[index]

    def _wanted_prop(self, k: int) -> bool:
        """Whether an output still to make asks for frame k's propagation (its own, or its neighbours')."""
        assert self.next_output is not None
        return k >= self.next_output - NEAR and (self.near is None or k in self.near)

    def _due(self, index: int) -> list[int]:
        """The propagations the outputs still ask for that lie before ``index`` and are not made yet."""
        if self.next_output is None or not self._wanted_prop(index):
            return []
        start = max(self.next_output - NEAR, self.pairs.base)
        return [k for k in range(start, index) if k not in self.props and self._wanted_prop(k)]

    def _first_unmade(self) -> int:
        """The first position at or after ``next_output - NEAR`` whose propagation an output may still ask for
        and that is not made yet (``next_output - NEAR`` when none is known to be wanted)."""
        assert self.next_output is not None
        k = max(self.next_output - NEAR, self.pairs.base)
        while k in self.props or (k < self.pairs.loaded and not self._wanted_prop(k)):
            k += 1
        return k

    def release(self) -> None:
        """Release the plates (full-resolution RGB) that nothing this fill may still compute reads.

        Frame j's plate is read by the propagation of frames within ``radius`` of it (as a source), by its own
        propagation, fallback, steadying neighbours and output (j from ``next_output - STEADY`` on), by a
        keyframe image rebuilt from the anchors, and by the keyframe blocks still to decide (their keyframe's
        propagation and its neighbours'). Propagations already made read nothing again, so a frame more than
        ``radius`` before the first one not made yet is released. Nothing changes pixels; a plate read after
        its release raises :class:`ContextError`.
        """
        if self.next_output is None:
            return  # (the anchors stage: one propagation per block, nothing made in order)
        radius = self.opt.radius
        low = min(self.next_output - STEADY, self._first_unmade() - radius)
        deciding = self.keyframes.reads_from(self.props.__contains__)
        if deciding is not None:
            low = min(low, deciding)
        pending = self.keyframes.unbuilt(self.pairs.loaded - 1)
        self.pairs.release(lambda j: j >= low or j in pending)
        # Flows: chains of the propagations not made yet, of the keyframes still to fill (as for the plates),
        # of the steadying of the outputs to come, and of the fallbacks not made yet, which carry the keyframe
        # at or before them (at most the previous block's start).
        unmade = max(self.next_output - STEADY, self.pairs.base)
        while unmade in self.parts:
            unmade += 1
        interval = self.opt.keyframe_interval
        self.pairs.forget_flows(min(low, (unmade // interval - 1) * interval))

    def _propagate(self, t: int) -> _Propagated:
        """Stages candidates → confidence → fusion → seam for frame t (the fallback is applied in result)."""
        frame = self.pairs.frames[t]
        hole = frame.packet.hole
        ys, xs = np.nonzero(hole)
        n_hole = len(ys)
        if n_hole == 0:
            empty = np.zeros((0, 3), dtype=np.float32)
            none = np.zeros(0, np.float32)
            return _Propagated(ys, xs, empty, np.zeros(0, bool), empty, none, none, none)
        if self.opt.seam == "none":
            ring_ys, ring_xs = np.zeros(0, np.intp), np.zeros(0, np.intp)
        else:
            ring_ys, ring_xs = ring(hole, self._blocked(frame), self.opt.seam_ring)
        all_ys = np.concatenate([ys, ring_ys])
        all_xs = np.concatenate([xs, ring_xs])
        candidates = gather(
            t, all_xs, all_ys, self._chain, self._source(t), self.opt.radius, self.opt.candidates
        )
        quality = candidate_quality(candidates)
        weight = candidate_weight(candidates, quality)
        fused = fuse(candidates, weight, quality, len(all_ys), frame.level, self.opt.outlier_tol)
        values = fused.values[:n_hole]
        real = frame.source[ring_ys, ring_xs]
        fetched = fused.values[n_hole:]
        # Ring pixels whose fetched value is far from the plate's show something the fill must not match
        # (an unmasked object passing the hole, a misregistered edge): the seam ignores them.
        usable = fused.found[n_hole:] & (
            np.abs(real - fetched).max(axis=1) <= self.opt.outlier_tol * frame.level
        )
        share = self._spatial_share(t, ys, xs, ring_ys, ring_xs, real, fetched, fused.found[n_hole:])
        real, fetched = real[usable], fetched[usable]
        ry, rx = ring_ys[usable], ring_xs[usable]
        offset, residual = seam_match(self.opt.seam, ys, xs, ry, rx, real, fetched, values, frame.level)
        confidence = pixel_confidence(
            fused.align[:n_hole],
            fused.rejected[:n_hole],
            fused.gap[:n_hole],
            fused.nearest[:n_hole],
            residual,
        )
        found = fused.found[:n_hole]
        alpha = blend_weights(
            ys, xs, confidence, found, self.opt.fallback_low, self.opt.fallback_high, self.opt.fallback_soften
        )
        return _Propagated(ys, xs, values, found, offset, confidence, alpha, share)

    def _spatial_share(
        self,
        t: int,
        ys: np.ndarray,
        xs: np.ndarray,
        ring_ys: np.ndarray,
        ring_xs: np.ndarray,
        real: np.ndarray,
        fetched: np.ndarray,
        found: np.ndarray,
    ) -> np.ndarray:
        """Per hole pixel, the share of the frame's own spatial fill (see :func:`.seam.ring_check`).

        Every ring pixel propagation found counts (also those the seam offset ignores as outliers: they are
        exactly what the other frames do not show here), and so do unmasked movers next to the hole, which
        the other frames show elsewhere: something crossing the hole.
        """
        frame = self.pairs.frames[t]
        ry, rx, real, fetched = ring_ys[found], ring_xs[found], real[found], fetched[found]
        crossing = np.zeros(len(ry), bool)
        if frame.movers is not None and self.opt.seam_ring > 0:
            my, mx = ring(frame.packet.hole, frame.invalid, self.opt.seam_ring)
            on = frame.movers[my, mx]
            if on.any():
                my, mx = my[on], mx[on]
                plate = frame.source[my, mx]
                ry, rx = np.concatenate([ry, my]), np.concatenate([rx, mx])
                real, fetched = np.concatenate([real, plate]), np.concatenate([fetched, plate])
                crossing = np.concatenate([crossing, np.ones(len(my), bool)])
        # A blur's error grows with the distance into the hole: judge it at the hole's depth.
        depth = _depth(frame.packet.hole, ys, xs)
        radius = int(np.clip(depth / 2, 2 * self.opt.seam_ring, 64))
        ratio = ring_check(ys, xs, ry, rx, real, fetched, frame.level, crossing, radius, self.opt.outlier_tol)
        return smoothstep(self.opt.ring_low, self.opt.ring_high, ratio)

    def _composed(self, t: int, values: np.ndarray) -> np.ndarray:
        frame = self.pairs.frames[t]
        prop = self.props[t]
        image = frame.source.copy()
        image[prop.ys, prop.xs] = values
        return image

    def _spatial_fill(self, t: int, values: np.ndarray, points: np.ndarray) -> np.ndarray:
        """The spatial backend's values at hole ``points`` of frame t, given ``values`` at every hole pixel.

        Unmasked movers near those points are handed to the spatial backend as hole too (their values are not
        used), so a spatial fill never smears a passing car into the hole. Only their pixels within
        :data:`MOVER_REACH` of a point are: the rest change nothing at the points and only cost the backend time
        (a spatial fill's cost grows with its hole; on tennis the players' mover masks were 2-700x the pixels
        asked for). A backend that says how far beyond its hole it reads (``context_px``, Telea) gets only
        that crop of the frame: the same values, without copying a 4K frame twice for a small hole.
        """
        frame = self.pairs.frames[t]
        prop = self.props[t]
        ys, xs = prop.ys[points], prop.xs[points]
        height, width = frame.packet.hole.shape
        reach = getattr(self.backend.spatial, "context_px", None)
        if reach is None or len(ys) == 0:
            y0, y1, x0, x1 = 0, height, 0, width
        else:
            pad = int(reach) + MOVER_REACH
            y0, y1 = max(int(ys.min()) - pad, 0), min(int(ys.max()) + pad + 1, height)
            x0, x1 = max(int(xs.min()) - pad, 0), min(int(xs.max()) + pad + 1, width)
        image = frame.source[y0:y1, x0:x1].copy()
        inside = (prop.ys >= y0) & (prop.ys < y1) & (prop.xs >= x0) & (prop.xs < x1)
        image[prop.ys[inside] - y0, prop.xs[inside] - x0] = values[inside]
        ys, xs = ys - y0, xs - x0
        mask = np.zeros(image.shape[:2], dtype=bool)
        mask[ys, xs] = True
        if frame.movers is not None and len(ys):
            mask |= _movers_near(frame.movers[y0:y1, x0:x1], ys, xs, MOVER_REACH)
        spatial = self.backend.spatial.inpaint(image, mask, frame=frame.packet.frame)
        return spatial[ys, xs]

    def weights(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Frame t's blend weights at its hole pixels: (alpha, share), the share smoothed in time.

        ``alpha`` weighs propagation against the fallback route. ``share`` (the frame's own spatial fill, from
        the ring check) of frames t-1 and t+1 is read at t's pixels (image positions: the hole is where the
        matte is) and averaged 1-2-1 with t's own; where a neighbour has no hole pixel, or the shot no
        neighbour, t's own value stands in.
        """
        prop = self.propagated(t)
        alpha, share = prop.alpha, prop.spatial
        if len(prop.ys) == 0 or TEMPORAL == 0:
            return alpha, share
        total = 2.0 * share
        y0, x0 = int(prop.ys.min()), int(prop.xs.min())
        shape = (int(prop.ys.max()) - y0 + 1, int(prop.xs.max()) - x0 + 1)
        for j in (t - 1, t + 1):
            other = self.propagated(j) if j >= 0 and self.pairs.available(j) else None
            if other is None or len(other.ys) == 0:
                total = total + share
                continue
            inside = (
                (other.ys >= y0) & (other.ys < y0 + shape[0]) & (other.xs >= x0) & (other.xs < x0 + shape[1])
            )
            oy, ox = other.ys[inside] - y0, other.xs[inside] - x0
            held = np.zeros(shape, bool)
            near = np.zeros(shape, np.float32)
            held[oy, ox] = True
            near[oy, ox] = other.spatial[inside]
            mine = held[prop.ys - y0, prop.xs - x0]
            total = total + np.where(mine, near[prop.ys - y0, prop.xs - x0], share)
        return alpha, (0.25 * total).astype(np.float32)

    def _fill_keyframe(self, t: int) -> np.ndarray:
        prop = self.propagated(t)
        base = prop.values + prop.offset
        known = np.where(prop.found[:, None], base, 0.0)
        image = self._composed(t, known)
        # The share of the propagated value: its weight against the fallback, less the ring check's share.
        alpha, share = self.weights(t)
        kept = alpha * (1.0 - share)
        need = np.nonzero(kept < 0.999)[0]
        if len(need):
            spatial = self._spatial_fill(t, known, need)
            a = kept[need][:, None]
            image[prop.ys[need], prop.xs[need]] = a * base[need] + (1.0 - a) * spatial
        image = np.asarray(image, np.float32)
        if not np.isfinite(
            image
        ).all():  # (one check: nan_to_num's three full-frame masks cost ~0.1 s at 1080p)
            image = np.nan_to_num(image, nan=0.0, posinf=0.0, neginf=0.0)
        return image

    # -------------------------------------------------------------------------------------------- fallback
    def fallback(self, t: int) -> _Fallback:
        """Frame t's fill before it is steadied in time (computed once, on demand: its neighbours read it too)."""
        if t not in self.parts:
            if not self.pairs.available(t):
                raise ContextError(f"position {t} is not in the shot")
            self.parts[t] = self._fallback(t)
        return self.parts[t]

    def _fallback(self, t: int) -> _Fallback:
        # Asked for every frame, needed or not: a whole-shot stream decides the blocks in order, while the
        # frames their keyframes need are still held.
        keyframes = self.keyframes.around(t)
        prop = self.propagated(t)
        alpha, share = self.weights(t)
        if len(prop.ys) == 0:
            none = np.zeros(0, np.float32)
            return _Fallback(np.zeros((0, 3), np.float32), none, none, np.zeros(0, np.intp), alpha, share)
        if t in keyframes:
            # A keyframe's fill is its image: propagation, its spatial fill and the ring check's share of it,
            # blended once (by the anchors stage, or as its block was reached).
            # What it invented there is the keyframe route, as in the frames it is carried to (counted so, the
            # per-frame route shares do not jump at keyframes); the ring check's share still counts as spatial.
            values = self.keyframes.keyframe_image(t)[prop.ys, prop.xs]
            kept = alpha * (1.0 - share)
            return _Fallback(values, kept, kept * prop.confidence, np.zeros(0, np.intp), alpha, share)
        base = prop.values + prop.offset
        fallback = np.zeros_like(base)
        need = np.nonzero(alpha < 0.999)[0]
        beta = np.ones(len(need), np.float32)
        carried = fallback[need]
        if len(need):
            carried, got, held = carry(
                t,
                prop.xs[need].astype(np.float32),
                prop.ys[need].astype(np.float32),
                keyframes,
                self.keyframes.keyframe_image,
                self._chain,
                self.pairs.gain_between,
            )
            # Where the carrying chains held poorly, the fallback blends towards the frame's own spatial fill.
            beta = blend_weights(
                prop.ys[need],
                prop.xs[need],
                held,
                got,
                self.opt.carry_low,
                self.opt.carry_high,
                self.opt.fallback_soften,
            )
            if CARRY_TRUST < 1.0:
                # Propagation gives way to the fallback at a confidence scaled by how much of the fallback is
                # carried keyframe content rather than the frame's own blur (see CARRY_TRUST). Lower thresholds
                # only raise alpha, so every pixel they touch is among ``need`` and has its fallback.
                scale = np.ones(len(alpha), np.float32)
                scale[need] = CARRY_TRUST + (1.0 - CARRY_TRUST) * beta
                alpha = blend_weights(
                    prop.ys,
                    prop.xs,
                    prop.confidence,
                    prop.found,
                    self.opt.fallback_low,
                    self.opt.fallback_high,
                    self.opt.fallback_soften,
                    scale,
                )
            fallback[need] = carried
        # Pixels that take some of the frame's own spatial fill: a poorly carried fallback, or a propagated
        # value no better than a blur (``share``). A few stray poorly carried pixels are not worth a spatial
        # fill of the frame (it costs as much as a big one); a share below SHARE_SKIP changes nothing visible.
        poorly_carried = int((beta < 0.5).sum()) >= max(MIN_SPATIAL, 0.02 * len(prop.ys))
        spatial_points = np.zeros(0, np.intp)
        spatial = np.zeros_like(base)
        if poorly_carried or float(share.max()) >= SHARE_SKIP:
            unsure = share > 0.001
            unsure[need] = True
            spatial_points = np.flatnonzero(unsure)
            # The spatial backend sees only what propagation is sure of; every unsure pixel is hole.
            known = np.where(prop.found[:, None], base, 0.0)
            spatial[spatial_points] = self._spatial_fill(t, known, spatial_points)
            b = beta[:, None]
            fallback[need] = b * carried + (1.0 - b) * spatial[need]
        else:
            share = np.zeros_like(share)
        a = alpha[:, None]
        values = a * base + (1.0 - a) * fallback
        s = share[:, None]
        values = (1.0 - s) * values + s * spatial
        counted = need[beta < 0.999] if len(spatial_points) else spatial_points
        return _Fallback(
            values, alpha * (1.0 - share), alpha * prop.confidence * (1.0 - share), counted, alpha, share
        )

    def filled(self, j: int) -> Filled:
        """Frame j as its neighbours read it to steady their fill (its own fill, not yet steadied)."""
        part = self.fallback(j)
        if part.filled is None:
            frame, prop = self.pairs.frames[j], self.props[j]
            # Its hole is read where its fill is background: not where the ring check saw something the other
            # frames do not show (an object crossing the hole, water): that is not carried along the flow.
            part.filled = Filled(
                frame.source, self._blocked(frame), prop.ys, prop.xs, part.values, 1.0 - part.share
            )
        return part.filled

    def _in_shot(self, j: int) -> bool:
        return j >= 0 and self.pairs.available(j)

    # ---------------------------------------------------------------------------------------------- result
    def result(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Frame t filled, and its confidence map (1 outside the hole)."""
        part = self.fallback(t)
        prop = self.propagated(t)
        frame = self.pairs.frames[t]
        if len(prop.ys) == 0:
            return frame.rgb, np.ones(frame.packet.hole.shape, np.float32)
        values = part.values
        # How unsure each pixel is: the fallback's share, and a propagated value's lack of confidence (fetched
        # along unsure chains, it boils too); not the ring check's share: what the other frames do not show
        # (an object crossing the hole) is not averaged along the background's flow.
        unsure = (1.0 - part.share) * (1.0 - part.alpha)
        fetched = (1.0 - part.share) * part.alpha * (1.0 - prop.confidence)
        points = np.flatnonzero(unsure + fetched > 0.001)
        if STEADY > 0 and len(points):
            # Where the fill is not wholly and surely propagated it is averaged along the flow with the
            # neighbours' own fills, so what is invented or fetched unsurely moves with the plate, not boiling.
            values = values.copy()
            values[points] = steady(
                t,
                prop.xs[points],
                prop.ys[points],
                part.values[points],
                unsure[points],
                fetched[points],
                self.filled,
                self._in_shot,
                self._chain,
                self.pairs.gain_between,
                STEADY,
                STEADY_PX,
                STEADY_TEXTURE_PX,
                fast_texture_px=STEADY_FAST_TEXTURE_PX,
            )
        self._count(prop, part.alpha, part.share, part.counted)
        return self._output(t, values, part.confidence)

    def _output(self, t: int, values: np.ndarray, confidence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Frame t with ``values`` in its hole, and the confidence map (1 outside the hole)."""
        frame, prop = self.pairs.frames[t], self.props[t]
        out = frame.rgb.copy()
        out[prop.ys, prop.xs] = values
        shown = np.ones(frame.packet.hole.shape, np.float32)
        shown[prop.ys, prop.xs] = confidence
        return out, shown

    def _count(
        self, prop: _Propagated, alpha: np.ndarray, share: np.ndarray, spatial_points: np.ndarray
    ) -> None:
        stats = self.backend.stats
        kept = alpha * (1.0 - share)
        whole = kept >= 0.999
        spatial = np.zeros(len(alpha), bool)
        spatial[spatial_points] = True
        none = (alpha <= 0.001) & (share <= 0.001)
        wholly_spatial = (share >= 0.999) | (none & spatial)
        stats["propagated"] += int(whole.sum())
        stats["blended"] += int((~whole & ~none & ~wholly_spatial).sum())
        stats["keyframe"] += int((none & ~spatial).sum())
        stats["spatial"] += int(wholly_spatial.sum())
        shown = kept * prop.confidence
        below = np.ones(len(alpha), bool)
        for name, low in BANDS:
            band = below & (shown >= low)
            self.backend.bands[name] += int(band.sum())
            below &= ~band

    # -------------------------------------------------------------------------------------------- eviction
    def evict(self, next_output: int) -> None:
        """Forget what no later output (at ``next_output`` or after) can need: frames and flows more than the
        reach behind it, propagation results before it, keyframe images before the previous block."""
        behind, _ = self.backend.reach
        self.pairs.evict(next_output - behind)
        interval = self.opt.keyframe_interval
        self.keyframes.evict(((next_output - STEADY) // interval - 1) * interval)
        for key in [k for k in self.props if k < next_output - TEMPORAL - STEADY]:
            del self.props[key]
        for key in [k for k in self.parts if k < next_output - STEADY]:
            del self.parts[key]
        if self.next_output is not None:
            self.next_output = next_output
            self.release()


def _movers_near(movers: np.ndarray, ys: np.ndarray, xs: np.ndarray, reach: int) -> np.ndarray:
    """The pixels of ``movers`` within ``reach`` pixels (square neighbourhood) of any point (ys, xs)."""
    height, width = movers.shape
    y0, y1 = max(int(ys.min()) - reach, 0), min(int(ys.max()) + reach + 1, height)
    x0, x1 = max(int(xs.min()) - reach, 0), min(int(xs.max()) + reach + 1, width)
    near = np.zeros_like(movers)
    crop = movers[y0:y1, x0:x1]
    if crop.any():
        points = np.zeros(crop.shape, np.uint8)
        points[ys - y0, xs - x0] = 1
        grown = cv2.dilate(points, np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)).view(bool)
        near[y0:y1, x0:x1] = crop & grown
    return near
