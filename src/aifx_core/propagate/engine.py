"""The temporal fill engine (backend ``propagate``): flow-guided propagation over a sliding window.

The method is a pipeline of stages, one module each, named for what flows through them (docs/method.md):

1. :mod:`.candidates`: each hole pixel (and a seam ring around the hole) is followed forward and backward
   through chained, completed, consistency-checked flow (:mod:`.chain`); up to ``candidates`` samples per
   direction are read where it lands on valid plate (never a hole, never an unmasked moving object).
2. :mod:`.confidence`: every sample is scored (round-trip error, fit residual of the flow completion, travel);
   after fusion every pixel gets a confidence from several cues.
3. :mod:`.fusion`: a weighted-median consensus rejects the odd wrong sample and averages the rest; on fast
   frames, points no sample was found for may take the colour of a side's motion hypothesis that the
   neighbouring frames agree on (:mod:`.hypotheses`: a tracked car entering the hole).
4. :mod:`.fallback`: where confidence is low, the result blends smoothly towards the keyframe route (what no
   neighbour saw, invented once per keyframe block by the spatial backend and carried by flow), and towards the
   frame's own spatial fill where the ring check says propagation is no better than a blur; put together per
   frame by :class:`.fallback_route.FallbackRoute`, and steadied in time along the flow.
5. :mod:`.seam`: a smooth offset field matches the fill to the frame's own pixels at the hole's edge (and the
   ring check, :func:`.seam.ring_share`, says how much of the frame's own spatial fill a pixel takes).

Two modules hold what the stages read: :mod:`.pairs` (the frames, read ``window`` at a time, and the flow
between neighbours, computed once per pair in a background flow worker) and :mod:`.keyframes` (each block's
keyframe and its fill, the anchors). This module is the backend and, per frame, the pipeline: read packets →
pairs → candidates/confidence/fusion/seam (:meth:`_Run.propagated`) → fallback route (:attr:`_Run.route`) →
steady → output (:meth:`_Run.result`), over bounded caches keyed by position in the *shot* (counted from the
shot's first frame, whichever frames a call reads). A frame's propagation depends only on frames within ``radius`` (and the movers of the first of
them, found with the frame before it), and where a point's backward chain went all ``radius`` frames without
finding plate, on what the propagation of the frame ``radius`` back recovered there (:mod:`.far`, :data:`FAR`:
``2 * radius`` back in all); its ring check's spatial share is smoothed over the frame before and
after it (:data:`TEMPORAL`), and where it takes the fallback route it is averaged along the flow with the
unsteadied fills of the :data:`STEADY` frames either side, so its pixels depend on ``radius + TEMPORAL + STEADY``
frames each way; keyframe blocks are fixed by position in the shot and each block's
keyframe (the user's, else the member with the largest hole: a cheap cue known from the masks alone) and its
fill are decided once per shot, by the anchors stage (:meth:`PropagateBackend.anchors`) or, on a whole-shot
stream, as the blocks are reached (the same code, so the same pixels); a frame uses the keyframes of its own
and the adjacent blocks, at most ``2 * keyframe_interval - 2`` frames away (``+ STEADY`` for its neighbours').
So a chunk is exact when it reads

    positions [first - max(2 * radius + 2, 2 * keyframe_interval - 2) - STEADY - bridge.REACH,
               last + max(radius + 1, 2 * keyframe_interval - 2) + STEADY + bridge.REACH]

(clipped to the shot; :meth:`PropagateBackend.chunk_context`) and the shot's anchors. Nothing depends on how
packets are chunked, so ``window`` changes memory, never pixels, and at most ``window + overlap`` packets are
held (:attr:`PropagateBackend.overlap`).

**Threads.** The flow worker and the reading thread (:mod:`.pairs`) make only what depends on the frames
alone; their results are taken over in this thread when something reads them, so every read sees exactly
what the one-thread run (``AIFX_THREADS=1``) sees.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

import numpy as np

from ..errors import InputError
from ..flow import DISFlow, FlowEstimator
from ..inpaint.base import Anchor, BackendContext, FramePacket, Span, SpatialBackend, SpatialFactory
from ..progress import Reporter
from .bridge import REACH as BRIDGE
from .candidates import Candidates, Frontier, Source, gather
from .chain import Chain, FirstStep
from .confidence import candidate_quality, candidate_weight, pixel_confidence
from .fallback import Along, Tolerances, blend_weights, steady
from .fallback_route import TEMPORAL, FallbackRoute, Propagated
from .far import Recovered, RingMembrane, far_candidates, recovered, ring_agreement
from .fusion import Fused, fuse
from .hypotheses import STEPS as HYPOTHESIS_STEPS
from .hypotheses import choose
from .mover_fringe import FAST_OWN_PX, OWN_PX, own_mover_distance
from .options import PropagateOptions
from .pairs import ContextError, Pairs
from .seam import ring, ring_share, seam_match

__all__ = ["ContextError", "PropagateBackend"]

#: Points nothing was found for whose backward chain went all ``radius`` frames read what that frame's propagation
#: recovered there (:mod:`.far`): twice the reach backward in time, for what slid under a patch at the frame edge
#: under a slow pan. A frame's pixels then depend on ``radius`` frames more behind (``reach``). False: off.
FAR = True
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
#: On a slow frame a read refused only because the source's mover came nearer (:data:`.mover_fringe.ADVANCE_PX`)
#: is still taken for a point that found nothing else, where it agrees with the plate around the target's hole:
#: its largest channel within this share of the frame's level of the hole's ring membrane (:meth:`_Run._held`;
#: the stepping walker's magenta foot is refused at 0.5, not at 0.75). 0: off.
HELD_AGREE = 0.5
#: Where propagation found nothing on a fast frame, a side's motion hypothesis the neighbouring frames agree on
#: supplies the colour (:mod:`.hypotheses`; docs/method.md, "Fast whips", seventh pass). False: off.
HYPOTHESES = True
#: ... with this quality (the ``align`` cue) in its confidence: its samples agree, but along a guessed motion.
HYPOTHESIS_QUALITY = 0.8
#: On a fast frame (:func:`.hypotheses.fast_motion`) the ring check's thresholds (``ring_low``, ``ring_high``)
#: are this many times the options': propagation has to look this much worse than a blur on the ring before the
#: frame's own spatial fill takes a share. Whip nine squares 26.24 -> 26.30 dB (+3.04 over Telea), static 26.12 ->
#: 26.23; 1.2 gained more but left whip's static square frame 15 and whip960's static square frame 2 within
#: 0.1-0.2 dB of Telea − 1 dB, and 1.4 put the static square 2 of 24 frames below it (docs/method.md, "Fast
#: whips", eighth pass). 1: off.
RING_FAST = 1.1
#: Frames either side of an output whose propagation it reads (its ring check's share over TEMPORAL, its
#: fallback steadied over STEADY, each of those weighing its neighbours'): what ``_Run.release`` plans with.
NEAR = TEMPORAL + STEADY
#: A frame's confidence as the engine keeps it: (frame shape, hole rows, hole columns, the hole pixels' values).
Confidence = tuple[tuple[int, ...], np.ndarray, np.ndarray, np.ndarray]
#: Confidence bands reported in ``PropagateBackend.bands`` (share of hole pixels), lower bounds.
BANDS = (("high", 0.7), ("medium", 0.3), ("low", 0.0))


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
        #: What :attr:`last_confidence` is made of: the frame's shape, its hole pixels and their confidence.
        self._confidence: Confidence | None = None
        self._confidence_map: np.ndarray | None = None

    @property
    def last_confidence(self) -> np.ndarray | None:
        """Confidence map (H, W) float32 of the frame last yielded by :meth:`fill`: 1 outside the hole, in the
        hole the propagated share times its confidence (0: invented by the spatial route). Made when asked for
        (a full-frame map each frame cost ~3 ms at 1080p, and only ``--confidence`` and the benchmark read it)."""
        if self._confidence_map is None and self._confidence is not None:
            shape, ys, xs, values = self._confidence
            shown = np.ones(shape, np.float32)
            shown[ys, xs] = values
            self._confidence_map = shown
        return self._confidence_map

    @property
    def spatial(self) -> SpatialBackend:
        if self._spatial is None:  # created on first use: shots that propagation fills never load a model
            self._spatial = self.spatial_factory(self.options.spatial_backend, self.context)
        return self._spatial

    @property
    def reach(self) -> tuple[int, int]:
        """Frames before and after an output that its pixels depend on (see the module docstring)."""
        radius, interval = self.options.radius, self.options.keyframe_interval
        # (a propagation reads what the frame ``radius`` back recovered from its own ``radius`` back: FAR; + BRIDGE:
        # a pair across a blind frame reads the pairs that far either side, :mod:`.bridge`)
        back = 2 * radius if FAR else radius
        behind = max(back + 1 + TEMPORAL, 2 * interval - 2) + STEADY + BRIDGE
        return behind, max(radius + TEMPORAL, 2 * interval - 2) + STEADY + BRIDGE

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
        back = 2 * self.options.radius if FAR else self.options.radius
        return max(0, block * self.options.keyframe_interval - back - 1 - BRIDGE)

    def blocks(self, length: int) -> int:
        """Keyframe blocks of a ``length``-frame shot."""
        return -(-length // self.options.keyframe_interval)

    def _reset(self) -> None:
        self.stats = dict.fromkeys(self.stats, 0)
        self.bands = dict.fromkeys(self.bands, 0)
        self.max_held = 0
        self.max_plates = 0
        self.max_flows = 0

    def _count(
        self, prop: Propagated, alpha: np.ndarray, share: np.ndarray, spatial_points: np.ndarray
    ) -> None:
        """Add frame ``prop``'s hole pixels to :attr:`stats` (by route) and :attr:`bands` (by confidence)."""
        stats = self.stats
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
            self.bands[name] += int(band.sum())
            below &= ~band

    def fill(
        self, packets: Iterable[FramePacket], reporter: Reporter, span: Span | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(frame, rgb)`` for every packet, or with a ``span`` for ``span.outputs`` only."""
        self._reset()
        run = _Run(self, iter(packets), span)
        try:
            yield from self._fill(run, packets, span, reporter)
            run.keyframes.flush()  # (the anchors of keyframe images nothing read)
        except GeneratorExit:
            # The caller stopped reading (it has its frames, or it is cancelled): the blocks decided are still the
            # shot's, and their images are made or being made; a failure here is not the caller's to see.
            with contextlib.suppress(Exception):
                run.keyframes.flush()
            raise
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
            self._confidence, self._confidence_map = confidence, None
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
    (:class:`.pairs.Pairs`), and per frame the stages: its propagation (:meth:`propagated`), its fill by the
    fallback route (:attr:`route`, which holds the keyframes, :class:`.keyframes.Keyframes`), steadied into its
    output (:meth:`result`); each cached by position in the shot, and released (:meth:`release`,
    :meth:`evict`) as soon as no output still to make reads it."""

    def __init__(
        self, backend: PropagateBackend, packets: Iterator[FramePacket], span: Span | None = None
    ) -> None:
        self.backend = backend
        self.opt = backend.options
        # Python callers may plug in any FlowEstimator (e.g. a learned one); job files pick a DIS preset.
        custom = backend.context.options.get("flow_estimator")
        estimator: FlowEstimator = (
            custom if isinstance(custom, FlowEstimator) else DISFlow(self.opt.flow_preset, slow=True)
        )
        self.pairs = Pairs(self.opt, backend.context.colorspace, estimator, packets, span)
        self.props: dict[int, Propagated] = {}
        #: Per position: what its propagation recovered from plates (:mod:`.far`), kept ``radius`` and a few frames.
        self.recovered: dict[int, Recovered | None] = {}
        #: Stage 4 over this call's propagation; it owns the call's keyframes (it fills their images).
        self.route = FallbackRoute(
            self.pairs, self.opt, self.propagated, self._chain, lambda: backend.spatial, span
        )
        self.keyframes = self.route.keyframes
        #: A fill's next output position (None: the anchors stage, which releases nothing early) and the
        #: positions whose propagation its outputs ask for (None: every one from ``next_output - NEAR`` on).
        self.next_output: int | None = None
        self.near: set[int] | None = None
        #: The fill's outputs (None: every position of the shot from the first on).
        self.outputs: set[int] | None = None

    def start_outputs(self, wanted: list[int] | None, first: int) -> None:
        """A fill begins: its outputs are ``wanted`` (positions), or every position from ``first`` on."""
        self.next_output = wanted[0] if wanted else first
        if wanted is not None:
            self.near = {k for o in wanted for k in range(o - NEAR, o + NEAR + 1)}
            self.outputs = set(wanted)

    def close(self) -> None:
        """Stop the reading thread, the flow worker (see :meth:`.pairs.Pairs.close`) and a spatial fill
        started ahead (:meth:`.fallback_route.FallbackRoute.close`)."""
        try:
            self.route.close()
        finally:
            self.pairs.close()

    def _is_output(self, index: int) -> bool:
        """Whether position ``index`` is an output of this fill (so its fill is made in any case)."""
        if self.outputs is not None:
            return index in self.outputs and self.pairs.available(index)
        return self.pairs.available(index)

    def _ahead(self, t: int) -> None:
        """Before output t is steadied: start the fills after it up to the next output's last steadying
        neighbour (t+1 … t+STEADY+1, in order; all but the last are started already after the first output)
        ahead of need (:meth:`.fallback_route.FallbackRoute.start`): each frame's spatial fill runs in its own
        thread while t and t+1 are steadied and written, and is joined when a steadying first reads it. Only
        fills of outputs, which are made in any case, and each started in order (what runs in the engine's
        thread runs in the same order as without): what is computed, and its values, are as without; only
        when it is computed moves."""
        last = t + STEADY + 1
        if STEADY <= 0 or not all(self._is_output(j) for j in range(t + 1, last + 1)):
            return
        for j in range(t + 1, last + 1):
            self.route.start(j)

    # --------------------------------------------------------------------------- what propagation reads
    def _chain(
        self, start: int, direction: int, xs: np.ndarray, ys: np.ndarray, checked: bool = True
    ) -> Chain:
        pairs = self.pairs
        assert pairs.size is not None
        tol = self.opt.consistency_tol if checked else float("inf")
        return Chain(
            start,
            direction,
            xs,
            ys,
            pairs.flow,
            pairs.size,
            pairs.scale,
            tol,
            fit=pairs.fit,
            linked=pairs.linked,
        )

    def _source(self, target: int, fringes: bool = True) -> Callable[[int], Source | None]:
        """Frame ``target``'s sources: ``fringes``, with the movers' fringes (:mod:`.mover_fringe`)."""

        def source(index: int) -> Source | None:
            if index < 0 or not self.pairs.available(index) or not self.pairs.linked(index, target):
                return None  # (not in the shot, or across a cut: another shot's frame)
            frame = self.pairs.frames[index]
            return Source(
                frame.source,
                frame.blocked,
                self.pairs.gain_between(index, target),
                frame.footprint,
                frame.fringe if fringes else None,
                frame.fringe_distance if fringes else None,
                frame.hidden,
            )

        return source

    # ----------------------------------------------------------------------------------------- propagation
    def propagated(self, index: int) -> Propagated:
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
        ``radius`` before the first one not made yet is released; a propagation still to make also reads what the
        frame ``radius`` before it recovered (:mod:`.far`), made then if it is not kept (a chunk's first frames:
        :meth:`_recovered_from`). Nothing changes pixels; a plate read after its release raises
        :class:`ContextError`.
        """
        if self.next_output is None:
            return  # (the anchors stage: one propagation per block, nothing made in order)
        radius = self.opt.radius
        first = self._first_unmade()
        low = min(self.next_output - STEADY, self._recovered_from(first) - radius)
        deciding = self.keyframes.reads_from(self.props.__contains__)
        if deciding is not None:
            low = min(low, self._recovered_from(deciding + radius) - radius)
        pending = self.keyframes.unbuilt(self.pairs.loaded - 1)
        self.pairs.release(lambda j: j >= low or j in pending)
        # Flows: chains of the propagations not made yet, of the keyframes still to fill (as for the plates),
        # of the steadying of the outputs to come, and of the fallbacks not made yet, which carry the keyframe
        # at or before them (at most the previous block's start).
        unmade = max(self.next_output - STEADY, self.pairs.base)
        while unmade in self.route.parts:
            unmade += 1
        interval = self.opt.keyframe_interval
        self.pairs.forget_flows(min(low, (unmade // interval - 1) * interval))

    def _recovered_from(self, first: int) -> int:
        """The first position whose propagation (``radius`` either side) the propagations from ``first`` on may
        still make: ``first``, or the first frame ``radius`` before one of them whose recovered pixels (:mod:`.far`)
        are not kept (a chunk's first frames; a whole-shot stream made them all)."""
        if not FAR:
            return first
        for j in range(max(first - self.opt.radius, self.pairs.base), first):
            if j not in self.recovered:
                return j
        return first

    def _propagate(self, t: int) -> Propagated:
        """Stages candidates → confidence → fusion → seam for frame t (the fallback route is :attr:`route`'s)."""
        frame = self.pairs.frames[t]
        ys, xs, ring_ys, ring_xs = self._points(t)
        n_hole = len(ys)
        if n_hole == 0:
            self.recovered[t] = None
            empty = np.zeros((0, 3), dtype=np.float32)
            none = np.zeros(0, np.float32)
            return Propagated(ys, xs, empty, np.zeros(0, bool), empty, none, none, none)
        all_ys = np.concatenate([ys, ring_ys])
        all_xs = np.concatenate([xs, ring_xs])
        first_steps: dict[int, FirstStep] = {}
        frontiers: dict[int, Frontier] = {}
        membrane = RingMembrane(frame.source, ys, xs)
        fused = self._fused(t, all_xs, all_ys, membrane, first_steps, frontiers)
        self.recovered[t] = recovered(ys, xs, fused, self.opt.fallback_high, membrane)
        self._far(t, frontiers, fused, frame.level, all_ys, all_xs, membrane)
        values = fused.values[:n_hole]
        real = frame.source[ring_ys, ring_xs]
        fetched = fused.values[n_hole:]
        # Ring pixels whose fetched value is far from the plate's show something the fill must not match
        # (an unmasked object passing the hole, a misregistered edge): the seam ignores them.
        usable = fused.found[n_hole:] & (
            np.abs(real - fetched).max(axis=1) <= self.opt.outlier_tol * frame.level
        )
        opt = self.opt
        if RING_FAST != 1.0 and self.route.fast_motion(t) is not None:
            opt = replace(opt, ring_low=opt.ring_low * RING_FAST, ring_high=opt.ring_high * RING_FAST)
        share = ring_share(frame, opt, ys, xs, ring_ys, ring_xs, real, fetched, fused.found[n_hole:])
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
        return Propagated(ys, xs, values, found, offset, confidence, alpha, share, first_steps)

    def _points(self, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Frame t's hole pixels and the seam ring's (rows, columns of each): the points its chains follow."""
        frame = self.pairs.frames[t]
        hole = frame.hole
        ys, xs = np.nonzero(hole)
        if len(ys) == 0 or self.opt.seam == "none":
            return ys, xs, np.zeros(0, np.intp), np.zeros(0, np.intp)
        ring_ys, ring_xs = ring(hole, frame.blocked, self.opt.seam_ring, (ys, xs))
        return ys, xs, ring_ys, ring_xs

    def _fused(
        self,
        t: int,
        xs: np.ndarray,
        ys: np.ndarray,
        membrane: RingMembrane,
        first_steps: dict[int, FirstStep] | None = None,
        frontiers: dict[int, Frontier] | None = None,
    ) -> Fused:
        """Frame t's points (``xs``, ``ys``: its hole pixels, then its seam ring's; ``membrane``: its ring membrane
        at the hole pixels) fused from the plates within ``radius`` (and the motion hypotheses)."""
        frame = self.pairs.frames[t]
        # Next to another frame's hole, where its movers may reach unseen, nothing is read for a point unless a
        # mover of frame t itself is near it, and then not where the other frame's mover came nearer
        # (:mod:`.mover_fringe`). A fast frame's points leave the band next to a hole within a step or two, and
        # on blurred plates the movers are least sure: its points far from its own movers read the fringes.
        own = self._own_mover(t, ys, xs)
        held: list[Candidates] = []
        candidates = gather(
            t,
            xs,
            ys,
            self._chain,
            self._source(t),
            self.opt.radius,
            self.opt.candidates,
            first_steps,
            own,
            frontiers,
            # (a fast frame's points leave the band in a step or two, and its blurred plates' colours agree
            # with most things: there the refused reads stay refused)
            held if self.route.fast_motion(t) is None else None,
            self._own_hidden(t, ys, xs),
        )
        quality = candidate_quality(candidates)
        weight = candidate_weight(candidates, quality)
        fused = fuse(candidates, weight, quality, len(ys), frame.level, self.opt.outlier_tol)
        if held:
            self._held(t, held[0], fused, ys, xs, membrane)
        self._hypotheses(t, xs, ys, fused, frame.level)
        return fused

    def _held(
        self, t: int, held: Candidates, fused: Fused, ys: np.ndarray, xs: np.ndarray, membrane: RingMembrane
    ) -> None:
        """The points nothing was found for take the reads a source's mover advance refused them
        (:meth:`.candidates.Source.refused`) where those agree with the plate around frame t's hole (its ring
        membrane; a seam-ring point: its own plate), in place: a mover's advance is judged on detected movers, and
        next to a hole those are blind, grown and sometimes false, so the ground beside them is often clear."""
        frame = self.pairs.frames[t]
        if HELD_AGREE <= 0 or len(held) == 0:
            return
        around = self._ring_values(t, ys, xs, membrane, held.point)
        agreement = ring_agreement(held.value, around, frame.level, HELD_AGREE)
        keep = agreement >= 0.5
        if not keep.any():
            return
        chosen = held.select(keep)
        quality = candidate_quality(chosen) * agreement[keep]
        fused.take_missing(
            fuse(
                chosen, candidate_weight(chosen, quality), quality, len(ys), frame.level, self.opt.outlier_tol
            )
        )

    def _ring_values(
        self, t: int, ys: np.ndarray, xs: np.ndarray, membrane: RingMembrane, points: np.ndarray
    ) -> np.ndarray:
        """What the plate around frame t's hole says its ``points`` (indices into ``ys``, ``xs``: the hole pixels
        first, then the seam ring's) have: a hole point the hole's ring ``membrane``, a seam-ring point (plate)
        its own value."""
        plate = self.pairs.frames[t].source
        out = plate[ys[points], xs[points]].astype(np.float32)
        inside = np.flatnonzero(points < len(membrane))
        out[inside] = membrane.at(points[inside])
        return out

    def _own_mover(self, t: int, ys: np.ndarray, xs: np.ndarray) -> np.ndarray | None:
        """Per point of frame t, how far its own mover lies (working px) as the sources' mover fringes are read
        (:meth:`.candidates.Source.touches`): within ``OWN_PX`` (a fast frame: ``FAST_OWN_PX``), inf beyond (a fast
        frame: -inf, every fringe is read); None: inf for every point."""
        frame = self.pairs.frames[t]
        assert self.pairs.scale is not None
        fast = self.route.fast_motion(t) is not None
        own = own_mover_distance(frame.movers, ys, xs, self.pairs.scale, FAST_OWN_PX if fast else OWN_PX)
        if fast:
            own = (
                np.full(len(ys), -np.inf, np.float32) if own is None else np.where(own < np.inf, own, -np.inf)
            )
        return own

    def _own_hidden(self, t: int, ys: np.ndarray, xs: np.ndarray) -> np.ndarray | None:
        """Per point of frame t, whether its own movers go on unseen into its hole within ``OWN_PX`` of it (such a
        point reads the other frames' hidden movers: the mover may stand in its hole now); None: for none."""
        frame = self.pairs.frames[t]
        assert self.pairs.scale is not None
        near = own_mover_distance(frame.hidden_pixels, ys, xs, self.pairs.scale, OWN_PX)
        return None if near is None else near < np.inf

    def _near_mover(self, t: int, ys: np.ndarray, xs: np.ndarray) -> np.ndarray | None:
        """Per point of frame t, whether one of its own movers lies within ``FAST_OWN_PX`` (None: for none)."""
        assert self.pairs.scale is not None
        own = own_mover_distance(self.pairs.frames[t].movers, ys, xs, self.pairs.scale, FAST_OWN_PX)
        return None if own is None else own < np.inf

    def _recovered(self, j: int) -> Recovered | None:
        """What frame j's propagation recovered from plates (:mod:`.far`): kept when j was propagated, else
        made now (its plates within ``radius`` are read)."""
        if j not in self.recovered:
            ys, xs, ring_ys, ring_xs = self._points(j)
            found = None
            if len(ys):
                # (the same points as its propagation follows: a walk's slack reads their median motion)
                all_ys, all_xs = np.concatenate([ys, ring_ys]), np.concatenate([xs, ring_xs])
                membrane = RingMembrane(self.pairs.frames[j].source, ys, xs)
                found = recovered(
                    ys, xs, self._fused(j, all_xs, all_ys, membrane), self.opt.fallback_high, membrane
                )
            self.recovered[j] = found
        return self.recovered[j]

    def _far(
        self,
        t: int,
        frontiers: dict[int, Frontier],
        fused: Fused,
        level: float,
        ys: np.ndarray,
        xs: np.ndarray,
        membrane: RingMembrane,
    ) -> None:
        """The points nothing was found for whose backward chain went all ``radius`` frames read what that frame
        recovered there (:mod:`.far`), in place. ``ys``, ``xs``: frame t's points (its hole pixels first, then
        the seam ring's), whose fusion ``fused`` is; ``membrane``: its ring membrane at the hole pixels."""
        frontier = frontiers.get(-1)
        if not FAR or frontier is None or len(frontier.point) == 0:
            return
        missing = ~fused.found
        if not missing[frontier.point].any():
            return
        j = t - frontier.steps
        found = self._recovered(j)
        if found is None:
            return

        def own_ring(points: np.ndarray) -> np.ndarray:
            return self._ring_values(t, ys, xs, membrane, points)

        far, agreement = far_candidates(
            frontier, missing, found, self.pairs.gain_between(j, t), -1, own_ring, level
        )
        if len(far) == 0:
            return
        # A far read gives way where the plate around the hole changed since (:data:`.far.RING_AGREE`).
        quality = candidate_quality(far) * agreement
        fused.take_missing(
            fuse(far, candidate_weight(far, quality), quality, len(missing), level, self.opt.outlier_tol)
        )

    def _hypotheses(self, t: int, xs: np.ndarray, ys: np.ndarray, fused: Fused, level: float) -> None:
        """Give the points propagation found nothing for the colour of a side's motion hypothesis where the
        neighbouring frames clearly agree on it (:mod:`.hypotheses`; fast frames only), in place."""
        missing = np.flatnonzero(~fused.found)
        if not HYPOTHESES or len(missing) == 0:
            return
        assert self.pairs.scale is not None
        chosen = choose(
            t,
            xs[missing],
            ys[missing],
            self.pairs.flow,
            self.pairs.fit,
            self.pairs.scale,
            # (a fast frame's hypotheses do not refuse the fringes either)
            self._source(t, fringes=self.route.fast_motion(t) is None),
            level,
            min(HYPOTHESIS_STEPS, self.opt.radius),
        )
        if chosen is None or len(chosen.index) == 0:
            return
        points = missing[chosen.index]
        fused.values[points] = chosen.values
        fused.found[points] = True
        fused.align[points] = HYPOTHESIS_QUALITY
        fused.rejected[points] = 0.0
        fused.gap[points] = 0.0  # seen both ways in time, and agreeing
        fused.nearest[points] = 1

    # ----------------------------------------------------------------------------- steady → output
    def result(self, t: int) -> tuple[np.ndarray, Confidence]:
        """Frame t filled, and its confidence (see :attr:`PropagateBackend.last_confidence`)."""
        part = self.route.fallback(t)
        prop = self.propagated(t)
        frame = self.pairs.frames[t]
        self._ahead(t)
        if len(prop.ys) == 0:
            return frame.rgb, (frame.hole.shape, prop.ys, prop.xs, np.zeros(0, np.float32))
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
        # The candidates' walks made the first step of each direction for every hole pixel already: the
        # steadying's walks of its points take it from there (the same values; then it is dropped).
        first_steps, prop.first_steps = prop.first_steps, None
        if STEADY > 0 and len(points):
            # Where the fill is not wholly and surely propagated it is averaged along the flow with the
            # neighbours' own fills, so what is invented or fetched unsurely moves with the plate, not boiling.
            values = values.copy()
            along = Along(
                self.route.filled,
                self.pairs.available,
                self._chain,
                self.pairs.gain_between,
                None
                if not first_steps
                else lambda walk: walk.replay(first_steps.get(walk.direction), points),
            )
            tolerances = Tolerances(
                STEADY_PX,
                STEADY_TEXTURE_PX,
                fast_texture_px=STEADY_FAST_TEXTURE_PX,
                fast_own_weight=STEADY_FAST_OWN,
                fast_agree=STEADY_FAST_AGREE * frame.level,
                mover_agree=STEADY_MOVER_AGREE * frame.level,
                texture_per_motion=STEADY_TEXTURE_PER_MOTION,
                fast_fallback_agree=np.inf
                if STEADY_FAST_FALLBACK_AGREE is None
                else STEADY_FAST_FALLBACK_AGREE * frame.level,
            )
            values[points] = steady(
                t,
                prop.xs[points],
                prop.ys[points],
                part.values[points],
                unsure[points],
                fetched[points],
                along,
                STEADY,
                tolerances,
                fast_spatial=None if own_fill is None else own_fill[points],
                near_mover=self._near_mover(t, prop.ys[points], prop.xs[points]),
            )
        self.backend._count(prop, part.alpha, part.share, part.counted)
        return self._output(t, values, part.confidence)

    def _output(self, t: int, values: np.ndarray, confidence: np.ndarray) -> tuple[np.ndarray, Confidence]:
        """Frame t with ``values`` in its hole, and its confidence (the hole pixels' ``confidence``)."""
        frame, prop = self.pairs.frames[t], self.props[t]
        out = frame.rgb.copy()
        out[prop.ys, prop.xs] = values
        return out, (frame.hole.shape, prop.ys, prop.xs, confidence)

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
        for key in [k for k in self.recovered if k < next_output - NEAR - self.opt.radius]:
            del self.recovered[key]
        self.route.evict(next_output - STEADY)
        if self.next_output is not None:
            self.next_output = next_output
            self.release()
