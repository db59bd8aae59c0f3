"""The temporal fill engine (backend ``propagate``): flow-guided propagation over a sliding window.

The method is a pipeline of stages, one module each, named for what flows through them (docs/method.md):

1. :mod:`.candidates`: each hole pixel (and a seam ring around the hole) is followed forward and backward
   through chained, completed, consistency-checked flow (:mod:`.chain`); up to ``candidates`` samples per
   direction are read where it lands on valid plate (never a hole, never an unmasked moving object).
2. :mod:`.confidence`: every sample is scored (round-trip error, fit residual of the flow completion, travel);
   where a point's forward and backward samples disagree, the direction whose reads match the frame's own seam
   ring leads (:mod:`.direction`); after fusion every pixel gets a confidence from several cues.
3. :mod:`.fusion`: a weighted-median consensus rejects the odd wrong sample and averages the rest; on fast
   frames, points no sample was found for may take the colour of a side's motion hypothesis that the
   neighbouring frames agree on (:mod:`.hypotheses`: a tracked car entering the hole).
4. :mod:`.fallback`: where confidence is low, the result blends smoothly towards the keyframe route (what no
   neighbour saw, invented once per keyframe block by the spatial backend and carried by flow), and towards the
   frame's own spatial fill where the ring check says propagation is no better than a blur; put together per
   frame by :class:`.fallback_route.FallbackRoute`, and steadied in time along the flow.
5. :mod:`.seam`: a smooth offset field matches the fill to the frame's own pixels at the hole's edge (and the
   ring check, :func:`.seam.ring_share`, says how much of the frame's own spatial fill a pixel takes); where the
   frame is blurrier on that ring than what was fetched for it, the fetched values are first blurred to match
   (:mod:`.blur_match`).

Two modules hold what the stages read: :mod:`.pairs` (the frames, read ``window`` at a time, and the flow
between neighbours, computed once per pair in a background flow worker: :mod:`.pair_flow`) and :mod:`.keyframes`
(each block's keyframe and its fill, the anchors). Per frame the stages are put together by three: read packets →
pairs → candidates/confidence/fusion/seam (:class:`.propagation.Propagation`) → fallback route
(:class:`.fallback_route.FallbackRoute`) → steady → output (:mod:`.output`). This module is the backend and the
run's bookkeeping (:class:`_Run`: what is made in which order, kept and released), over bounded caches keyed by
position in the *shot* (counted from the shot's first frame, whichever frames a call reads). A frame's propagation depends only on frames within ``radius`` (and the movers of the first of
them, found with the frame before it), and where a point's backward chain went all ``radius`` frames without
finding plate, on what the propagation of the frame ``radius`` back recovered there (:mod:`.far`, :data:`FAR`:
``2 * radius`` back in all), and on a locked-off or handheld shot on the shot's seen plate (:mod:`.seen`: made
from the whole shot once, before any call, and given to each in ``Span.seen``); its ring check's spatial share
is smoothed over the frame before and after it (:data:`TEMPORAL`), and where it takes the fallback route it is
averaged along the flow with the unsteadied fills of the :data:`STEADY` frames either side, so its pixels depend on ``radius + TEMPORAL + STEADY``
frames each way; keyframe blocks are fixed by position in the shot and each block's
keyframe (the user's, else the member with the largest hole: a cheap cue known from the masks alone) and its
fill are decided once per shot, by the anchors stage (:meth:`PropagateBackend.anchors`) or, on a whole-shot
stream, as the blocks are reached (the same code, so the same pixels); a frame uses the keyframes of its own
and the adjacent blocks, at most ``2 * keyframe_interval - 2`` frames away (``+ STEADY`` for its neighbours').
So a chunk is exact when it reads

    positions [first - max(2 * radius + 2, 2 * keyframe_interval - 2) - STEADY - AROUND,
               last + max(radius + 1, 2 * keyframe_interval - 2) + STEADY + AROUND]

(clipped to the shot; :meth:`PropagateBackend.chunk_context`; :data:`AROUND`: what the flows across a blind frame and
a frame's matte-dropout verdict read beyond) and the shot's anchors. Nothing depends on how
packets are chunked, so ``window`` changes memory, never pixels, and at most ``window + overlap`` packets are
held (:attr:`PropagateBackend.overlap`).

**Threads.** The flow worker and the reading thread (:mod:`.pairs`) make only what depends on the frames
alone; their results are taken over in this thread when something reads them, so every read sees exactly
what the one-thread run (``AIFX_THREADS=1``) sees.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping

import numpy as np

from ..errors import InputError
from ..flow import DISFlow, FlowEstimator
from ..inpaint.base import Anchor, BackendContext, FramePacket, Span, SpatialBackend, SpatialFactory
from ..mask import DROPOUT_RUN
from ..progress import Reporter
from .bridge import REACH as BRIDGE
from .chain import Chain
from .fallback import Along
from .fallback_route import TEMPORAL, FallbackRoute, Propagated
from .options import PropagateOptions
from .output import steadied, written
from .pairs import ContextError, Pairs
from .propagation import Propagation
from .seen import SeenPlate, scan

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
#: Frames either side of an output whose propagation it reads (its ring check's share over TEMPORAL, its
#: fallback steadied over STEADY, each of those weighing its neighbours'): what ``_Run.release`` plans with.
NEAR = TEMPORAL + STEADY
#: A frame's confidence as the engine keeps it: (frame shape, hole rows, hole columns, the hole pixels' values).
Confidence = tuple[tuple[int, ...], np.ndarray, np.ndarray, np.ndarray]
#: Frames read beyond those an output's pixels read, either side: a pair's flows across a blind frame come from the
#: pairs up to ``bridge.REACH`` away (:mod:`.bridge`), and whether a frame's matte dropped out from the holes up
#: to ``mask.DROPOUT_RUN`` away (:func:`..mask.dropout_at`; one more at the shot's ends, which a chunk there
#: reads anyway).
AROUND = max(BRIDGE, DROPOUT_RUN)
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
        (a full-frame map each frame cost ~3 ms at 1080p, ~24 ms at 4K; read by ``--confidence``, by an EXR output
        for the frames whose plate carries an earlier fill's confidence, and by the benchmark)."""
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
        # (a propagation reads what the frame ``radius`` back recovered from its own ``radius`` back: FAR; + AROUND:
        # a pair across a blind frame reads the pairs BRIDGE away either side, :mod:`.bridge`, and a frame read
        # from is judged a matte dropout or not from the holes up to DROPOUT_RUN away, :func:`..mask.dropout_at`)
        back = 2 * radius if FAR else radius
        behind = max(back + 1 + TEMPORAL, 2 * interval - 2) + STEADY + AROUND
        return behind, max(radius + TEMPORAL, 2 * interval - 2) + STEADY + AROUND

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
        return max(0, block * self.options.keyframe_interval - back - 1 - AROUND)

    def seen_plate(self, packets: Iterable[FramePacket]) -> SeenPlate | None:
        """The shot's clean plate where its camera is locked off or handheld (:mod:`.seen`), from all its packets
        in order; hand it to every call of the shot as ``Span.seen``. None: the camera pans from the start (the
        reads stop at the first frame not registered), or no hole pixel is ever seen; also when the options turn
        it off (``seen_plate``)."""
        return scan(packets) if self.options.seen_plate else None

    def seen_plate_from(self, arrays: Mapping[str, np.ndarray]) -> SeenPlate:
        """A plate :meth:`seen_plate` made, from its arrays (``SeenPlate.arrays``; the anchors cache keeps them)."""
        return SeenPlate.from_arrays(arrays)

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
        run.pairs.cancel = reporter.cancel  # (also waited on inside a block's first decision: see Pairs)
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
        run = _Run(self, iter(packets), Span(span.shot, seen=span.seen))
        run.pairs.cancel = reporter.cancel
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
    (:class:`.pairs.Pairs`), and per frame the stages: its propagation (:attr:`propagation`, made in order and
    kept by :meth:`propagated`), its fill by the fallback route (:attr:`route`, which holds the keyframes,
    :class:`.keyframes.Keyframes`), steadied into its output (:meth:`result`, :mod:`.output`); each cached by
    position in the shot, and released (:meth:`release`, :meth:`evict`) as soon as no output still to make reads
    it."""

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
        #: Stage 4 over this call's propagation; it owns the call's keyframes (it fills their images).
        self.route = FallbackRoute(
            self.pairs, self.opt, self.propagated, self._chain, lambda: backend.spatial, span
        )
        self.keyframes = self.route.keyframes
        #: Stages 1-3 and 5 per frame (:meth:`propagated` orders and keeps them).
        self.propagation = Propagation(
            self.pairs, self.opt, self._chain, self.route.fast_motion, FAR, span.seen if span else None
        )
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

    # ------------------------------------------------------------------------------- walks along the flow
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
            over=pairs.over,
        )

    # ----------------------------------------------------------------------------------------- propagation
    def propagated(self, index: int) -> Propagated:
        """Propagation result of frame ``index`` (computed once, on demand)."""
        if index not in self.props:
            if not self.pairs.available(index):
                raise ContextError(f"position {index} is not in the shot")
            # The outputs' propagations before it are made first, in order (each is made once anyway): then
            # the frames only they would read can be released (see :meth:`release`).
            for k in self._due(index):
                self.props[k] = self.propagation.frame(k)
                self.release()
            self.props[index] = self.propagation.frame(index)
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
            if j not in self.propagation.recovered:
                return j
        return first

    # ----------------------------------------------------------------------------- steady → output
    def result(self, t: int) -> tuple[np.ndarray, Confidence]:
        """Frame t filled (steadied where unsure: :func:`.output.steadied`), and its confidence (see
        :attr:`PropagateBackend.last_confidence`)."""
        part = self.route.fallback(t)
        prop = self.propagated(t)
        frame = self.pairs.frames[t]
        self._ahead(t)
        if len(prop.ys) == 0:
            return frame.rgb, (frame.hole.shape, prop.ys, prop.xs, np.zeros(0, np.float32))
        # The candidates' walks made the first step of each direction for every hole pixel already: the
        # steadying's walks of its points take it from there (the same values; then it is dropped).
        first_steps, prop.first_steps = prop.first_steps, None
        along = Along(self.route.filled, self.pairs.available, self._chain, self.pairs.gain_between)
        assert self.pairs.scale is not None
        values = steadied(
            t, prop, part, frame.level, STEADY, along, first_steps, frame.movers, self.pairs.scale
        )
        self.backend._count(prop, part.alpha, part.share, part.counted)
        out = written(frame.rgb, prop.ys, prop.xs, values)
        return out, (frame.hole.shape, prop.ys, prop.xs, part.confidence)

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
        self.propagation.forget(next_output - NEAR - self.opt.radius)
        self.route.evict(next_output - STEADY)
        if self.next_output is not None:
            self.next_output = next_output
            self.release()
