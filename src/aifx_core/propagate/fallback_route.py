"""Stage 4, the fallback route of one engine call: where propagation is unsure, what a frame's fill blends to.

:mod:`.fallback` holds the route's pieces (blend weights, carrying keyframes by flow, steadying in time); this
module puts them together per frame, over the frames' propagation (:class:`Propagated`, made by the engine):

* :meth:`FallbackRoute.weights`: the blend weights at the hole pixels, the ring check's share of the frame's
  own spatial fill smoothed over the frames before and after it (:data:`TEMPORAL`);
* :meth:`FallbackRoute.keyframe_image`: a keyframe's fill (propagation where it is sure, the spatial backend
  elsewhere), which :class:`.keyframes.Keyframes` keeps as the block's anchor;
* :meth:`FallbackRoute.fallback`: a frame's fill before it is steadied: propagation blended towards the keyframes
  carried to it by flow, and towards its own spatial fill where they were carried poorly or where the ring check
  says propagation is no better than a blur, offset to meet the sure pixels it borders (:mod:`.meet`);
* :meth:`FallbackRoute.filled`: that fill as its neighbours read it to steady theirs.

Each is computed once per frame, on demand, and cached by position in the shot like the engine's propagation.
:meth:`FallbackRoute.start` begins a frame's fill ahead of need: the spatial backend (Telea: native code, the
GIL released) then runs in a thread of its own (``aifx-spatial``) while the engine's thread steadies and
outputs the frames before it; the same values, computed in the same order.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ..flow import line_fill, push_pull_fill
from ..inpaint.base import Span, SpatialBackend
from ..workers import in_turn, overlap
from .chain import Chain, FirstStep
from .fallback import Filled, Patched, blend_weights, carry
from .hypotheses import fast_motion
from .keyframes import Keyframes
from .meet import meeting_offset
from .options import PropagateOptions
from .pairs import ContextError, Pairs

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
#: Unmasked movers this close (pixels, square neighbourhood) to a pixel the spatial fill is asked for are hole
#: to it, farther ones are not. Telea (radius 5) reads ±5 px and marches its distance field ±5 px outside the
#: hole: with 16, the values at the asked pixels moved by < 1e-4 against handing it every mover (tennis, blob
#: and nine squares, 16 frames each; 10 already gave < 3e-4) while the fill took 41 -> 9 and 65 -> 40 ms.
MOVER_REACH = 16
#: On a fast frame (median motion at least ``chain.SLACK_FAST_PX``: :func:`.hypotheses.fast`) the frame's own
#: spatial fill is this share a smooth membrane of the same pixels (push-pull, from what the spatial backend is
#: given), :data:`FAST_ALONG` the plate interpolated across the hole along the frame's motion, the rest the
#: backend's. A whip pan blurs the plate along its motion, so what no frame shows is smooth, along the motion
#: most; a per-frame fill's edges and streaks (Telea's) are sharper than that truth and differ from frame to
#: frame (the ring check's share carried 47-92 % of the whips' in-hole flicker: docs/method.md, "Flicker").
#: Slow frames are untouched. Measured in docs/method.md, "Fast whips", eighth pass. 0 and 0: off.
FAST_SMOOTH = 1.0 / 3.0
#: Share of a fast frame's own spatial fill that is :func:`.line_fill` along its motion (rows when its median
#: motion is more across than up or down, else columns), where the line's two ends agree within
#: :data:`FAST_ALONG_AGREE` of the frame's level; elsewhere that share stays the backend's (a row from a car's
#: edge to the ground is two things: ungated, the car entering whip's static square put 3 of 24 frames below
#: Telea − 1 dB).
FAST_ALONG = 1.0 / 3.0
#: ... of the frame's level (0.25 / 0.4 measured within 0.05 dB on the whips; 0.6 put the static square 2 of 24
#: frames below Telea − 1 dB).
FAST_ALONG_AGREE = 0.3
#: On a slow frame the frame's own spatial fill is this share the same smooth membrane, the rest the backend's.
#: Where no frame saw what is behind a hole, any fill is a guess, and the guess with the least squared error is
#: the smooth one: Telea continues the edges and texture around the hole into it, sharp and sure but rarely in
#: the right place, so its error is the truth's texture plus its own. Half of each, on the spatial fill alone
#: against the truth (every clip's static holes): +0.2 to +1.4 dB over Telea. Measured in docs/method.md,
#: "Sixteenth pass (smooth24)". 0: off.
SLOW_SMOOTH = 0.5
#: Spatial backends whose fill the membrane shares (and the line, on fast frames): Telea's, where it was measured.
#: A generative backend's (LaMa, diffusers) invents texture on purpose and was not measured: left as it is.
SMOOTHED = frozenset({"telea"})
#: Spatial backends whose fill of a frame started ahead of need (:meth:`FallbackRoute.start`) runs in the
#: ``aifx-spatial`` thread: Telea's (stateless, OpenCV releases the GIL). A model's (LaMa, diffusers) stays in
#: the engine's thread, as before.
AHEAD = frozenset({"telea"})
#: On a slow frame, unsure pixels whose output the frame's own spatial fill moves by less than this share of
#: (spatial fill − the rest of the blend) are not the spatial backend's hole (:func:`spatial_core`): they take
#: a smooth membrane of the same crop and hole instead (push-pull), which the backend then marches from.
#: Telea's cost is its hole's pixels (docs/method.md, speed, tenth pass (ch18b): tennis nine squares ~11 500 →
#: ~9 300 hole pixels a call). Fast frames keep the whole hole: cut there too, whip960's static square put 1 of
#: its 6 frames below Telea − 1 dB. 0: every unsure pixel is hole, as before.
SPATIAL_MIN = 0.05
#: Spatial backends whose hole is cut so (:data:`SPATIAL_MIN`): Telea's, where it was measured.
CUT = frozenset({"telea"})
#: Where propagation gives way (``alpha`` < 1), the fallback is offset smoothly to meet the surely propagated
#: pixels and the plate it borders (:mod:`.meet`): the frame's own spatial fill, made with the unsure pixels
#: masked, did not (tennis taken fast and blurred: a banner-blue block with hard edges in the wall). False: off.
MEET = True
#: ... on fast frames only (median motion at least ``chain.SLACK_FAST_PX``: :func:`.hypotheses.fast`). On a slow
#: frame the pixels it borders are more often an unmasked person standing by the hole, whom the offset then
#: pulled the fallback towards: schoolgirls at half size with the crossed squares went from 0 to 9 % of frames
#: below Telea - 1 dB (-1.4 dB on frames 74-76), and the slow clips of the quality gate lost up to 0.16 dB.
MEET_FAST_ONLY = True


@dataclass
class Propagated:
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
    #: reproduced the frame's ring no better than a blur would (:func:`.seam.ring_share`).
    spatial: np.ndarray
    #: The candidates' walks' first steps (per direction, for the hole pixels and then the ring), until the
    #: frame's steadying takes them (:meth:`.chain.Chain.replay`) and drops them.
    first_steps: dict[int, FirstStep] | None = None


@dataclass
class Fallback:
    """Frame t's fill at its hole pixels before it is steadied in time, and what the route counters need."""

    values: np.ndarray  # (N, 3)
    kept: np.ndarray  # share of the propagated value in each pixel (the rest is the fallback route)
    confidence: np.ndarray  # the confidence output
    counted: np.ndarray  # indices the route counters call spatial where nothing is kept
    alpha: np.ndarray  # weight of the propagated value against the fallback route
    share: np.ndarray  # the ring check's share of the frame's own spatial fill (smoothed in time)
    #: The frame as its neighbours read it (made on first use, see :meth:`FallbackRoute.filled`).
    filled: Filled | None = None


#: Follows points from a frame through the chained pair flows: (start, direction, xs, ys, checked) → Chain.
ChainFactory = Callable[..., Chain]


class FallbackRoute:
    """The fallback route of one engine call (see the module docstring), over its frames (``pairs``) and their
    propagation (``propagated``, computed on demand by the engine). It owns the call's
    :class:`.keyframes.Keyframes`, whose keyframe images it fills (:meth:`keyframe_image`) and carries."""

    def __init__(
        self,
        pairs: Pairs,
        options: PropagateOptions,
        propagated: Callable[[int], Propagated],
        chain: ChainFactory,
        spatial: Callable[[], SpatialBackend],
        span: Span | None = None,
    ) -> None:
        self.pairs = pairs
        self.opt = options
        self.propagated = propagated
        self.chain = chain
        #: The spatial backend, asked for on first use (shots that propagation fills never load a model).
        self.spatial = spatial
        self.keyframes = Keyframes(pairs, options, self.keyframe_image, span)
        #: Per frame: its fill before it is steadied (``parts[j].filled`` is what j's neighbours read).
        self.parts: dict[int, Fallback] = {}
        #: Fills started ahead of need (:meth:`start`): what finishes each.
        self.started: dict[int, Callable[[], Fallback]] = {}
        #: The thread a started fill's spatial backend runs in (made on first use; none with AIFX_THREADS=1).
        self._ahead: ThreadPoolExecutor | None = None
        #: Per frame: :func:`.hypotheses.fast_motion` (asked by the ring check and the spatial fill).
        self._fast: dict[int, np.ndarray | None] = {}

    def fast_motion(self, t: int) -> np.ndarray | None:
        """Frame t's :func:`.hypotheses.fast_motion`, computed once (a function of t's flows, which do not change)."""
        if t not in self._fast:
            self._fast[t] = fast_motion(t, self.pairs.flow, self.pairs.available)
        return self._fast[t]

    def weights(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Frame t's blend weights at its hole pixels: (alpha, share), the share smoothed in time.

        ``alpha`` weighs propagation against the fallback route. ``share`` (the frame's own spatial fill, from
        the ring check) of frames t-1 and t+1 is read at t's pixels (image positions: the hole is where the
        matte is) and averaged 1-2-1 with t's own; where a neighbour has no hole pixel, or the shot no
        neighbour linked to t (:meth:`.pairs.Pairs.linked`), t's own value stands in.
        """
        prop = self.propagated(t)
        alpha, share = prop.alpha, prop.spatial
        if len(prop.ys) == 0 or TEMPORAL == 0:
            return alpha, share
        total = 2.0 * share
        y0, x0 = int(prop.ys.min()), int(prop.xs.min())
        shape = (int(prop.ys.max()) - y0 + 1, int(prop.xs.max()) - x0 + 1)
        for j in (t - 1, t + 1):
            # (a neighbour of another shot, or a frame stepped over (``Pairs.over``), says nothing of t's share)
            other = (
                self.propagated(j) if j >= 0 and self.pairs.available(j) and self.pairs.linked(j, t) else None
            )
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

    def keyframe_image(self, t: int) -> Patched:
        """Frame t filled as its block's keyframe: propagation where it is sure, the spatial backend elsewhere,
        blended by the same weights as any frame's fill (asked once per block by :class:`.keyframes.Keyframes`).
        Its plate is the frame's own, shared (:class:`.fallback.Patched`): only the hole is new."""
        prop = self.propagated(t)
        base = prop.values + prop.offset
        known = np.where(prop.found[:, None], base, 0.0)
        values = known.astype(np.float32)
        # The share of the propagated value: its weight against the fallback, less the ring check's share.
        alpha, share = self.weights(t)
        kept = alpha * (1.0 - share)
        need = np.nonzero(kept < 0.999)[0]
        # Its spatial fill runs in the ``aifx-spatial`` thread (:meth:`_spatial_fill` ahead) until the image is
        # first read: a block's keyframe is decided when the fill of the block before it is started, and read
        # from that block's keyframe on (on nine squares one output later), so the engine's thread need not wait
        # for it here (~4-8 ms of wall a frame on tennis nine squares). The same computation: the same values.
        asked = self._spatial_fill(t, known, need, ahead=True) if len(need) else None
        meet = self._meeting(t, prop, alpha, base) if len(need) else None

        def finish() -> np.ndarray:
            out = values
            if asked is not None:
                a = kept[need][:, None]
                spatial = asked()
                out[need] = a * base[need] + (1.0 - a) * spatial
                # Where propagation gives way (alpha), the spatial fill meets the sure pixels it borders; the ring
                # check's share of it stays as it is (:mod:`.meet`; ``around`` is None where it does not).
                low = np.flatnonzero(alpha[need] < 0.999)
                if len(low) and meet is not None:
                    points = need[low]
                    given = (1.0 - share[points]) * (1.0 - alpha[points])
                    out[points] += given[:, None] * meet(points, spatial[low])
            # (the plate is finite: the frame's ``source``; so is what is read outside the hole)
            if not np.isfinite(out).all():
                out = np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)
            return out

        return Patched(self.pairs.frames[t].smooth, prop.ys, prop.xs, finish)

    def _spatial_fill(
        self,
        t: int,
        values: np.ndarray,
        points: np.ndarray,
        ahead: bool = False,
        core: np.ndarray | None = None,
    ) -> Callable[[], np.ndarray]:
        """What gives the spatial backend's values at hole ``points`` of frame t, given ``values`` at every hole
        pixel. ``ahead`` (a fill started before it is needed): an :data:`AHEAD` backend runs in the
        ``aifx-spatial`` thread meanwhile, on copies (the rest runs here, when asked).

        Unmasked movers near those points are handed to the spatial backend as hole too (their values are not
        used), so a spatial fill never smears a passing car into the hole. Only their pixels within
        :data:`MOVER_REACH` of a point are: the rest change nothing at the points and only cost the backend time
        (a spatial fill's cost grows with its hole; on tennis the players' mover masks were 2-700x the pixels
        asked for). A backend that says how far beyond its hole it reads (``context_px``, Telea) gets only
        that crop of the frame: the same values, without copying a 4K frame twice for a small hole. On a fast
        frame the backend's values are blended with a smooth membrane of the same crop (:data:`FAST_SMOOTH`) and
        the plate interpolated along the frame's motion (:data:`FAST_ALONG`). ``core`` (per point; a :data:`CUT`
        backend): only those points (and the movers near them) are the backend's hole, the others take that
        membrane (:data:`SPATIAL_MIN`).
        """
        frame = self.pairs.frames[t]
        prop = self.propagated(t)
        ys, xs = prop.ys[points], prop.xs[points]
        height, width = frame.hole.shape
        backend = self.spatial()
        reach = getattr(backend, "context_px", None)
        if reach is None or len(ys) == 0:
            y0, y1, x0, x1 = 0, height, 0, width
        else:
            pad = int(reach) + MOVER_REACH
            y0, y1 = max(int(ys.min()) - pad, 0), min(int(ys.max()) + pad + 1, height)
            x0, x1 = max(int(xs.min()) - pad, 0), min(int(xs.max()) + pad + 1, width)
        image = frame.smooth[y0:y1, x0:x1].copy()
        inside = (prop.ys >= y0) & (prop.ys < y1) & (prop.xs >= x0) & (prop.xs < x1)
        image[prop.ys[inside] - y0, prop.xs[inside] - x0] = values[inside]
        ys, xs = ys - y0, xs - x0
        mask = np.zeros(image.shape[:2], dtype=bool)
        mask[ys, xs] = True
        name = getattr(backend, "name", None)
        inner = None
        if core is not None and name in CUT and not core.all():
            inner = np.zeros(image.shape[:2], dtype=bool)
            inner[ys[core], xs[core]] = True
        if frame.movers is not None and len(ys):
            mask |= movers_near(frame.movers[y0:y1, x0:x1], ys, xs, MOVER_REACH)
            if inner is not None and core is not None and core.any():
                inner |= movers_near(frame.movers[y0:y1, x0:x1], ys[core], xs[core], MOVER_REACH)
        smoothed = bool(len(ys)) and name in SMOOTHED
        motion = self.fast_motion(t) if smoothed and (FAST_SMOOTH > 0 or FAST_ALONG > 0) else None
        # (image and mask are this call's own: nothing else writes them)
        asked = (backend, image, mask, frame.packet.frame, ys, xs, motion, frame.level, inner, smoothed)
        if not (ahead and name in AHEAD and overlap()):
            return lambda: _spatial_values(*asked)
        if self._ahead is None:
            self._ahead = ThreadPoolExecutor(1, thread_name_prefix="aifx-spatial")
        running = self._ahead.submit(_spatial_values_in_turn, *asked)
        return running.result

    def _meets(self, t: int) -> bool:
        """Whether frame t's fallback is offset to meet what it borders (:data:`MEET`, :data:`MEET_FAST_ONLY`)."""
        return MEET and (not MEET_FAST_ONLY or self.fast_motion(t) is not None)

    def _meeting(
        self, t: int, prop: Propagated, alpha: np.ndarray, base: np.ndarray
    ) -> Callable[[np.ndarray, np.ndarray], np.ndarray] | None:
        """What gives the offsets (:func:`.meet.meeting_offset`) by which frame t's fallback values at hole points
        meet the pixels propagated wholly (``alpha``, their values ``base``) and the plate they border; None
        where the fallback does not meet them (:meth:`_meets`). What it reads of the frame (its plate and
        ``blocked`` map) is taken when the fill is set up, not when it is finished: a keyframe's image is
        finished when first read, and a fill started ahead when its frame is asked for, by then the frame's
        plate and hole may have been let go (a chunk's or an anchor's last frames)."""
        if not self._meets(t):
            return None
        frame = self.pairs.frames[t]
        plate, blocked = frame.smooth, frame.blocked

        def offsets(points: np.ndarray, values: np.ndarray) -> np.ndarray:
            sure = prop.found & (alpha >= 0.999)
            return meeting_offset(prop.ys, prop.xs, points, values, sure, base, plate, blocked)

        return offsets

    def fallback(self, t: int) -> Fallback:
        """Frame t's fill before it is steadied in time (computed once, on demand: its neighbours read it too)."""
        if t not in self.parts:
            finish = self.started.pop(t, None)
            if finish is None:
                if not self.pairs.available(t):
                    raise ContextError(f"position {t} is not in the shot")
                finish = self._fallback(t)
            self.parts[t] = finish()
        return self.parts[t]

    def start(self, t: int) -> None:
        """Begin frame t's fill (in the shot) ahead of need: all of it up to its spatial fill here, which then
        runs in the ``aifx-spatial`` thread (:data:`AHEAD` backends) until :meth:`fallback` asks for it.

        The engine starts the frame its next output's steadying will read, so that frame's Telea runs while
        this one is steadied and written (on nine 35-px squares it held the engine's thread ~24 ms a frame).
        A fill is the same computation started ahead or not: the same values."""
        if t not in self.parts and t not in self.started:
            self.started[t] = self._fallback(t, ahead=True)

    def close(self) -> None:
        """Finish a spatial fill still running (its result is dropped): no thread outlives the engine call."""
        self.started.clear()
        if self._ahead is not None:
            self._ahead.shutdown(wait=True)
            self._ahead = None

    def _fallback(self, t: int, ahead: bool = False) -> Callable[[], Fallback]:
        """What makes frame t's fill (see :meth:`fallback`); its spatial fill begins now (``ahead``: in the
        ``aifx-spatial`` thread, see :meth:`start`), the rest when it is called."""
        # Asked for every frame, needed or not: a whole-shot stream decides the blocks in order, while the
        # frames their keyframes need are still held.
        keyframes = self.keyframes.around(t)
        prop = self.propagated(t)
        alpha, share = self.weights(t)
        if len(prop.ys) == 0:
            none = np.zeros(0, np.float32)
            empty = Fallback(np.zeros((0, 3), np.float32), none, none, np.zeros(0, np.intp), alpha, share)
            return lambda: empty
        if t in keyframes:
            # A keyframe's fill is its image: propagation, its spatial fill and the ring check's share of it,
            # blended once (by the anchors stage, or as its block was reached).
            # What it invented there is the keyframe route, as in the frames it is carried to (counted so, the
            # per-frame route shares do not jump at keyframes); the ring check's share still counts as spatial.
            values = self.keyframes.keyframe_image(t).at(prop.ys, prop.xs)
            kept = alpha * (1.0 - share)
            made = Fallback(values, kept, kept * prop.confidence, np.zeros(0, np.intp), alpha, share)
            return lambda: made
        base = prop.values + prop.offset
        fallback = np.zeros_like(base)
        need = np.nonzero(alpha < 0.999)[0]
        beta = np.ones(len(need), np.float32)
        carried = fallback[need]
        got = np.zeros(len(need), bool)
        if len(need):
            carried, got, held = carry(
                t,
                prop.xs[need].astype(np.float32),
                prop.ys[need].astype(np.float32),
                keyframes,
                self.keyframes.keyframe_image,
                self.chain,
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
        asked: Callable[[], np.ndarray] | None = None
        # True where only the uncarried points take a spatial fill (below): it is then their whole fallback.
        orphans_only = False
        if poorly_carried or float(share.max()) >= SHARE_SKIP:
            unsure = share > 0.001
            unsure[need] = True
            spatial_points = np.flatnonzero(unsure)
            # The spatial backend sees only what propagation is sure of; every unsure pixel is hole. On a slow
            # frame, those whose output it would barely move are the membrane's, not the backend's (SPATIAL_MIN).
            known = np.where(prop.found[:, None], base, 0.0)
            core = None
            if self.fast_motion(t) is None:
                core = spatial_core(unsure, share, alpha, need, beta, prop.found, got)[spatial_points]
            asked = self._spatial_fill(t, known, spatial_points, ahead, core)
        else:
            share = np.zeros_like(share)
            # Points no keyframe was carried to (``got`` False: every chain left the frame or was lost) that
            # propagation did not wholly find have no fallback but this one: too few for the fill above, they
            # still get a spatial fill of their own (they alone the backend's hole; the other hole points are
            # read as their fill so far), never the zeros ``fallback`` starts as: a black edge under a pan.
            orphans = need[~got & (alpha[need] < 0.999)] if len(need) else need
            if len(orphans):
                spatial_points = orphans
                a = alpha[need][:, None]
                known = np.where(prop.found[:, None], base, 0.0)
                known[need] = a * known[need] + (1.0 - a) * carried
                asked = self._spatial_fill(t, known, orphans, ahead)
                orphans_only = True
        meet = self._meeting(t, prop, alpha, base) if len(need) else None

        def finish() -> Fallback:
            spatial = np.zeros_like(base)
            if asked is not None and orphans_only:
                spatial[spatial_points] = asked()
                fallback[spatial_points] = spatial[spatial_points]
            elif asked is not None:
                spatial[spatial_points] = asked()
                b = beta[:, None]
                fallback[need] = b * carried + (1.0 - b) * spatial[need]
            if meet is not None:
                # The fallback meets the surely propagated pixels (and the plate) it borders (:mod:`.meet`).
                low = need[alpha[need] < 0.999]
                if len(low):
                    fallback[low] += meet(low, fallback[low])
            a = alpha[:, None]
            values = a * base + (1.0 - a) * fallback
            s = share[:, None]
            values = (1.0 - s) * values + s * spatial
            counted = need[beta < 0.999] if len(spatial_points) and not orphans_only else spatial_points
            return Fallback(
                values, alpha * (1.0 - share), alpha * prop.confidence * (1.0 - share), counted, alpha, share
            )

        return finish

    def filled(self, j: int) -> Filled:
        """Frame j as its neighbours read it to steady their fill (its own fill, not yet steadied)."""
        part = self.fallback(j)
        if part.filled is None:
            frame, prop = self.pairs.frames[j], self.propagated(j)
            # Its hole is read where its fill is background: not where the ring check saw something the other
            # frames do not show (an object crossing the hole, water): that is not carried along the flow. A
            # fast walk step that averages the ring check's share too reads all of it (output.STEADY_FAST_SHARE).
            whole = np.ones(len(prop.ys), np.float32)
            part.filled = Filled(
                frame.smooth, frame.blocked, prop.ys, prop.xs, part.values, 1.0 - part.share, whole
            )
        return part.filled

    def evict(self, low: int) -> None:
        """Forget the fills before position ``low`` (no output still to make reads them)."""
        for key in [k for k in self.parts if k < low]:
            del self.parts[key]
        for key in [k for k in self._fast if k < low]:
            del self._fast[key]
        for key in [k for k in self.started if k < low]:
            del self.started[key]


def _spatial_values(
    backend: SpatialBackend,
    image: np.ndarray,
    mask: np.ndarray,
    frame: int,
    ys: np.ndarray,
    xs: np.ndarray,
    motion: np.ndarray | None,
    level: float,
    inner: np.ndarray | None = None,
    smoothed: bool = False,
) -> np.ndarray:
    """The spatial fill's values at crop points (``ys``, ``xs``): the backend's fill of ``image`` where ``mask``,
    for a :data:`SMOOTHED` backend blended with a smooth membrane (:data:`SLOW_SMOOTH`), on a fast frame
    (``motion``: its median motion) with the membrane and the plate interpolated along the motion instead (see
    :meth:`FallbackRoute._spatial_fill`). With ``inner`` (part of ``mask``) only that is the backend's hole: the
    rest of ``mask`` takes the membrane, read by the backend like the plate (it is made from the plate and the
    sure pixels only, so nothing of the hole is read as plate)."""
    slow_membrane = motion is None and smoothed and SLOW_SMOOTH > 0
    if inner is None:
        spatial = backend.inpaint(image, mask, frame=frame)
        wanted = motion is not None or slow_membrane
        smooth = push_pull_fill(image, ~mask, smooth=True) if wanted else image
    else:
        # The hole's pixels left out of the backend's (``inner``) hold the membrane, which it marches from.
        smooth = push_pull_fill(image, ~mask, smooth=True)
        held = np.where(mask[..., None], smooth, image)
        spatial = backend.inpaint(held, inner, frame=frame) if inner.any() else held
    if slow_membrane:
        membrane = np.float32(SLOW_SMOOTH)
        return (np.float32(1.0) - membrane) * spatial[ys, xs] + membrane * smooth[ys, xs]
    if motion is None:
        return spatial[ys, xs]
    along, ends = line_fill(image, ~mask, axis=1 if abs(motion[0]) >= abs(motion[1]) else 0, default=smooth)
    share = np.where(ends[ys, xs] <= FAST_ALONG_AGREE * level, np.float32(FAST_ALONG), np.float32(0.0))
    share = share[:, None]
    own = np.float32(1.0 - FAST_SMOOTH) - share
    return own * spatial[ys, xs] + np.float32(FAST_SMOOTH) * smooth[ys, xs] + share * along[ys, xs]


def _spatial_values_in_turn(*asked: Any) -> np.ndarray:
    """:func:`_spatial_values` of a fill started ahead, in the ``aifx-spatial`` thread: its own passes one after
    another (:func:`.workers.in_turn`: it is off the engine's critical path, and threads of their own cost the
    moving blob ~5 %)."""
    with in_turn():
        return _spatial_values(*asked)


def movers_near(movers: np.ndarray, ys: np.ndarray, xs: np.ndarray, reach: int) -> np.ndarray:
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


def spatial_core(
    unsure: np.ndarray,
    share: np.ndarray,
    alpha: np.ndarray,
    need: np.ndarray,
    beta: np.ndarray,
    found: np.ndarray,
    got: np.ndarray,
) -> np.ndarray:
    """Which unsure hole pixels the spatial backend fills (a mask over the hole pixels); the others take a
    smooth membrane (:func:`_spatial_values`).

    A pixel's output is ``(1 - w) * rest + w * spatial`` with the spatial fill's weight ``w`` = ``share`` +
    (1 − ``share``)(1 − ``alpha``)(1 − ``beta``) for the pixels of ``need`` (which blend a carried fallback)
    and ``share`` for the others. Where ``w`` < :data:`SPATIAL_MIN` the pixel is left out: its output moves by
    less than that share of (Telea − membrane), and the backend marches its core from the membrane, so the two
    meet without a seam. Left out only where the rest of its blend is a real value: found by propagation, and
    for a ``need`` pixel its keyframe content carried (``got``); elsewhere the spatial fill is all it has.
    """
    core = unsure.copy()
    if SPATIAL_MIN <= 0:
        return core
    weight = share.astype(np.float32)
    valid = found.copy()
    if len(need):
        s, a = share[need], alpha[need]
        weight[need] = s + (1.0 - s) * (1.0 - a) * (1.0 - beta)
        valid[need] = got
    return core & ~(valid & (weight < SPATIAL_MIN))
