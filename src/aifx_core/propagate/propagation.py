"""Stages 1-3 and 5 for one frame: what its hole pixels read from the other frames, fused and matched at the seam.

A frame's *propagation* (:class:`.fallback_route.Propagated`) is made of the stages the engine's docstring lists,
in this order, for its hole pixels and a seam ring around the hole (:meth:`Propagation.points`):

1. candidates: each point is followed along the chained pair flows (:mod:`.chain`) to the frames within
   ``radius``, whose plates are read where it lands clear (:func:`.candidates.gather`; a frame as a source is
   :meth:`Propagation.source`: never its hole, its movers or, unless the point's own mover is near, their fringes:
   :mod:`.mover_fringe`);
2. confidence: each sample is scored (:mod:`.confidence`), and where the forward and the backward samples of a
   point disagree, the direction whose reads match the frame's own seam ring leads (:mod:`.direction`);
3. fusion: a weighted median per point (:mod:`.fusion`); then the points nothing was found for get, in turn, the
   reads a source's mover advance refused where they agree with the plate around the hole (:data:`HELD_AGREE`),
   what the frame ``radius`` back recovered where their backward chain ended (:mod:`.far`), on fast frames
   a side's motion hypothesis (:mod:`.hypotheses`), and on a locked-off or handheld shot the shot's clean
   plate (:mod:`.seen`, read through the frame's registration);
5. seam: where the frame's own ring is blurrier than what was fetched for it (a jolt's motion blur), the fetched
   values are blurred to match (:mod:`.blur_match`); the object's soft edge a tight matte left on the ring is
   taken out (:mod:`.halo`), a smooth offset
   matches the fused values to the frame's own ring (:func:`.seam.seam_match`), the ring
   check says how much of its own spatial fill each pixel takes (:func:`.seam.ring_share`), and each pixel's
   confidence and weight against the fallback route follow (:func:`.confidence.pixel_confidence`,
   :func:`.fallback.blend_weights`).

It reads the frames and flows (:class:`.pairs.Pairs`) and nothing of the run that asks for it but what it is
given: a walk along the flows (``chain``) and whether a frame is fast (``fast_motion``). What each frame
recovered from plates (:attr:`Propagation.recovered`, read by the far reads ``radius`` later) is kept here; the
engine, which knows what is still to come, forgets it (:meth:`Propagation.forget`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from .blur_match import match_blur, ring_blur
from .candidates import Candidates, Frontier, Source, gather
from .chain import FirstStep
from .confidence import candidate_quality, candidate_weight, pixel_confidence
from .direction import prefer_matching_direction
from .fallback import blend_weights
from .fallback_route import ChainFactory, Propagated
from .far import Recovered, RingMembrane, far_candidates, recovered, ring_agreement
from .fusion import Fused, fuse
from .halo import band, suspect, without_halo
from .hypotheses import STEPS as HYPOTHESIS_STEPS
from .hypotheses import choose
from .light import seam_points
from .mover_fringe import near_hidden, own_reach
from .options import PropagateOptions
from .pairs import Pairs
from .seam import ring, ring_share, seam_match
from .seen import SeenPlate, seen_candidates

#: On a slow frame a read refused only because the source's mover came nearer (:data:`.mover_fringe.ADVANCE_PX`)
#: is still taken for a point that found nothing else, where it agrees with the plate around the target's hole:
#: its largest channel within this share of the frame's level of the hole's ring membrane (:meth:`Propagation._held`;
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


class Propagation:
    """The propagation of the frames of one engine call (see the module docstring), one frame at a time
    (:meth:`frame`)."""

    def __init__(
        self,
        pairs: Pairs,
        options: PropagateOptions,
        chain: ChainFactory,
        fast_motion: Callable[[int], np.ndarray | None],
        far: bool = True,
        seen: SeenPlate | None = None,
    ) -> None:
        self.pairs = pairs
        self.opt = options
        self.chain = chain
        self.fast_motion = fast_motion
        #: Whether points nothing was found for read what the frame ``radius`` back recovered (:mod:`.far`).
        self.far = far
        #: The shot's clean plate (:mod:`.seen`; None: the camera pans, or not given): read last, where nothing
        #: else was found.
        self.seen = seen
        #: Per position: what its propagation recovered from plates (:mod:`.far`), kept ``radius`` and a few frames.
        self.recovered: dict[int, Recovered | None] = {}

    def forget(self, low: int) -> None:
        """Forget what the frames before position ``low`` recovered (no propagation still to make reads it)."""
        for key in [k for k in self.recovered if k < low]:
            del self.recovered[key]

    def source(self, target: int, fringes: bool = True) -> Callable[[int], Source | None]:
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
                frame.beside if fringes else None,
                (lambda: frame.band(self.pairs.scale)) if fringes else None,
                frame.ways,
                (lambda: frame.band_by_movers(self.pairs.scale)) if fringes else None,
            )

        return source

    def frame(self, t: int) -> Propagated:
        """Frame t's propagation: stages candidates → confidence → fusion → seam (the fallback route is
        :class:`.fallback_route.FallbackRoute`'s)."""
        frame = self.pairs.frames[t]
        ys, xs, ring_ys, ring_xs = self.points(t)
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
        membrane = RingMembrane(frame.smooth, ys, xs)
        fused = self._fused(t, all_xs, all_ys, membrane, first_steps, frontiers)
        self.recovered[t] = recovered(ys, xs, fused, self.opt.fallback_high, membrane)
        self._far(t, frontiers, fused, frame.level, all_ys, all_xs, membrane)
        if self.seen is not None and self.seen.shape == frame.hole.shape:
            seen_candidates(t, self.seen, fused, ys, xs, membrane, frame.level)
        real = frame.source[ring_ys, ring_xs]
        # A frame blurrier than what was fetched for it (a jolt in a sharp shot) gets it blurred to match
        # (:mod:`.blur_match`; nothing is done where the ring's sharpness matches).
        on = fused.found[n_hole:]
        blur = ring_blur(real[on], fused.values[n_hole:][on], ring_ys[on], ring_xs[on])
        if blur is not None:
            match_blur(blur, ys, xs, ring_ys, ring_xs, fused.values, fused.found, real)
        values = fused.values[:n_hole]
        fetched = fused.values[n_hole:]
        # Ring pixels whose fetched value is far from the plate's show something the fill must not match
        # (an unmasked object passing the hole, a misregistered edge): the seam ignores them.
        # Not a smooth light change on one side of the hole, though (:mod:`.light`): that is matched, unclamped.
        usable, light = seam_points(
            ring_ys, ring_xs, real, fetched, fused.found[n_hole:], self.opt.outlier_tol * frame.level
        )
        # The object's soft edge left on the ring by a tight matte is taken out first (:mod:`.halo`).
        real = self._without_halo(t, ring_ys, ring_xs, real, fetched, fused.found[n_hole:])
        opt = self.opt
        if RING_FAST != 1.0 and self.fast_motion(t) is not None:
            opt = replace(opt, ring_low=opt.ring_low * RING_FAST, ring_high=opt.ring_high * RING_FAST)
        share = ring_share(frame, opt, ys, xs, ring_ys, ring_xs, real, fetched, fused.found[n_hole:])
        real, fetched = real[usable], fetched[usable]
        ry, rx = ring_ys[usable], ring_xs[usable]
        offset, residual = seam_match(
            self.opt.seam, ys, xs, ry, rx, real, fetched, values, frame.level, light[usable]
        )
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

    def _without_halo(
        self,
        t: int,
        ring_ys: np.ndarray,
        ring_xs: np.ndarray,
        real: np.ndarray,
        fetched: np.ndarray,
        found: np.ndarray,
    ) -> np.ndarray:
        """Frame t's ring values ``real`` with a halo of the object's colour taken out (:func:`.halo.without_halo`):
        the band beyond the ring is fetched only where the ring alone says a halo could be taken out."""
        frame = self.pairs.frames[t]
        width = self.opt.seam_ring
        diff = real - fetched
        if not suspect(ring_ys[found], ring_xs[found], diff[found], frame.level, width):
            return real
        band_ys, band_xs = band(frame.hole, frame.blocked, width)
        if len(band_ys) == 0:
            return real
        none = np.zeros(0, np.intp)
        fused = self._fused(t, band_xs, band_ys, RingMembrane(frame.smooth, none, none))
        band_diff = frame.source[band_ys, band_xs] - fused.values
        clear = fused.found
        return without_halo(
            frame.hole,
            ring_ys,
            ring_xs,
            real,
            diff,
            found,
            band_ys[clear],
            band_xs[clear],
            band_diff[clear],
            frame.level,
            width,
        )

    def points(self, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
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
        own = own_reach(frame.movers, ys, xs, self.pairs.scale, self.fast_motion(t) is not None)
        held: list[Candidates] = []
        candidates = gather(
            t,
            xs,
            ys,
            self.chain,
            self.source(t),
            self.opt.radius,
            self.opt.candidates,
            first_steps,
            own,
            frontiers,
            # (a fast frame's points leave the band in a step or two, and its blurred plates' colours agree
            # with most things: there the refused reads stay refused)
            held if self.fast_motion(t) is None else None,
            near_hidden(frame.hidden_pixels, ys, xs, self.pairs.scale),
        )
        quality = candidate_quality(candidates)
        weight = candidate_weight(candidates, quality)
        # Where the two directions disagree, the one that matches the frame's seam ring leads (:mod:`.direction`).
        weight = prefer_matching_direction(
            candidates, weight, frame.source, ys, xs, len(membrane), frame.level
        )
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
        around = membrane.around(ys, xs, held.point)
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

    def _recovered(self, j: int) -> Recovered | None:
        """What frame j's propagation recovered from plates (:mod:`.far`): kept when j was propagated, else
        made now (its plates within ``radius`` are read)."""
        if j not in self.recovered:
            ys, xs, ring_ys, ring_xs = self.points(j)
            found = None
            if len(ys):
                # (the same points as its propagation follows: a walk's slack reads their median motion)
                all_ys, all_xs = np.concatenate([ys, ring_ys]), np.concatenate([xs, ring_xs])
                membrane = RingMembrane(self.pairs.frames[j].smooth, ys, xs)
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
        if not self.far or frontier is None or len(frontier.point) == 0:
            return
        missing = ~fused.found
        if not missing[frontier.point].any():
            return
        j = t - frontier.steps
        found = self._recovered(j)
        if found is None:
            return

        def own_ring(points: np.ndarray) -> np.ndarray:
            return membrane.around(ys, xs, points)

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
            self.source(t, fringes=self.fast_motion(t) is None),
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
