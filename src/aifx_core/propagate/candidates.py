"""Stage 1, candidates: for each point of a target frame, the background samples other frames saw.

Each point (a hole pixel, or a seam-ring pixel that is matched along with the hole) is followed forward and
backward through the shot (:class:`.chain.Chain`, up to ``radius`` frames each way). Wherever the chained
position and the four pixels a bilinear read touches are valid plate in that frame (not a hole, not NaN/Inf,
not an unmasked moving object), the colour is read once, brought to the target frame's exposure, and kept as
a candidate with what its chain went through. Not only the nearest source per direction is kept but up to
``per_direction`` of them: one chain that went through a passing car is then outvoted in :mod:`.fusion`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..flow import sample_points, sample_points_sharp
from .chain import Chain, FirstStep, Footprint, footprint, touches, touches_footprint
from .mover_fringe import ADVANCE_PX, FringeDistance

#: How sure a chain must be for its sample to be read sharp: the sharp read's share is
#: ``1 / (1 + doubt² / SHARP_PX²)``, ``doubt²`` the chain's round-trip error squared plus the largest flow-completion
#: residual it crossed squared (working px). A bilinear read softens fine texture by how far between pixels it
#: falls, so where the chain is sure a sharp read is nearer the truth (tennis: +0.5 dB); where it may be a pixel
#: or more off, a soft read of the wrong place is nearer than a sharp one (a blur's error is the smaller, as
#: the fallback's is). 0: always bilinear.
SHARP_PX = 2.0


@dataclass
class Source:
    """What a frame offers as a source: its RGB, where nothing may be read, and the gain to the target."""

    image: np.ndarray
    invalid: np.ndarray
    gain: np.ndarray
    #: ``invalid``'s :func:`.chain.footprint`, when the frame keeps one (read by :meth:`touches`).
    footprint: Footprint | None = None
    #: Where the frame's movers may reach unseen next to its hole (:mod:`.mover_fringe`), as a footprint: not read
    #: either, except for the points a target's own movers are near. None: nothing there.
    fringe: Footprint | None = None
    #: How far the fringe lies from the frame's movers (:func:`.mover_fringe.fringe_distance`).
    fringe_distance: FringeDistance | None = None
    #: Where its movers go on unseen up to its hole (:func:`.mover_fringe.hidden_movers`), as a footprint: read
    #: only by the points a target's own hidden movers are near. None: nothing there.
    hidden: Footprint | None = None
    #: The hole pixels its movers stand beside and go into (:func:`.mover_fringe.beside_hidden`), as footprints by
    #: the walking direction in which they do: a walk so that passes there refuses the blind :attr:`band` of the
    #: frames beyond (:func:`gather`). None: none.
    beside: dict[int, Footprint] | None = None
    #: Its blind band (:func:`.mover_fringe.blind_band`) as a footprint, made when first asked (None: no band).
    band: Callable[[], Footprint | None] | None = None
    #: The walking directions in which its movers go into its hole (:func:`.mover_fringe.going_in`; empty where
    #: none stand near it): a walk that passed a mover hidden is refused only :attr:`band_by_movers` where they
    #: go out of it along the walk, else the whole :attr:`band` (:func:`_after_mover`).
    ways: tuple[int, ...] = ()
    #: The part of :attr:`band` within ``BAND_PX`` of its movers (:func:`.mover_fringe.blind_band`), made when
    #: first asked (None: nothing).
    band_by_movers: Callable[[], Footprint | None] | None = None

    def colours(self, xs: np.ndarray, ys: np.ndarray, fb: np.ndarray, fit: np.ndarray) -> np.ndarray:
        """The frame's colours (N, 3) at chained positions whose reads were not refused: bilinear, with a sharp
        read (:func:`~aifx_core.flow.sample_points_sharp`) blended in by how sure the chain is (:data:`SHARP_PX`;
        ``fb``, ``fit``: its round-trip error and completion residual, working px) wherever the 4x4 pixels the
        sharp read mixes are all readable (:func:`.chain.widened`): none of the hole, the fringe or hidden movers,
        whatever the point may read of them bilinearly."""
        values = sample_points(self.image, xs, ys)
        if SHARP_PX <= 0 or len(xs) == 0:
            return values
        blocked = touches_footprint((self.footprint or footprint(self.invalid)).wide, xs, ys)
        for extra in (self.fringe, self.hidden):
            if extra is not None:
                blocked |= touches_footprint(extra.wide, xs, ys)
        if blocked.all():
            return values
        # (every point clear, as far from a hole most are: no gathers)
        clear = np.flatnonzero(~blocked) if blocked.any() else slice(None)
        doubt = np.square(fb[clear])
        doubt += np.square(fit[clear])
        doubt /= np.float32(SHARP_PX**2)
        doubt += np.float32(1.0)
        share = np.reciprocal(doubt)[:, None]
        linear = values[clear]
        values[clear] = linear + share * (sample_points_sharp(self.image, xs[clear], ys[clear]) - linear)
        return values

    def touches(
        self,
        xs: np.ndarray,
        ys: np.ndarray,
        own: np.ndarray | None = None,
        own_hidden: np.ndarray | None = None,
    ) -> np.ndarray:
        """:func:`.chain.touches` on ``invalid`` and the fringe: True where a bilinear read at (x, y) would touch
        them. ``own`` (per point, or None: inf for all) is how far (working px) the target's own mover lies from
        the point: the fringe is read where this frame's mover is not nearer to the read than that by more than
        ``ADVANCE_PX`` (it did not come onto that ground after the target frame); inf: never, -inf: always. The
        frame's hidden movers are read only where ``own_hidden`` (per point, or None: for none) is True: the
        target's own movers go on into its hole near the point."""
        hit, advanced = self.refused(xs, ys, own, own_hidden)
        return hit | advanced

    def refused(
        self,
        xs: np.ndarray,
        ys: np.ndarray,
        own: np.ndarray | None = None,
        own_hidden: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """What :meth:`touches` refuses, in two parts: reads touching ``invalid`` or a fringe the point may not
        read at all, and the reads refused only because this frame's mover came nearer (``ADVANCE_PX``) or goes on
        unseen there (its hidden movers): valid plate otherwise, which may be taken back where it agrees with the
        target's ring (``held``)."""
        if self.footprint is None:
            hit = touches(self.invalid, xs, ys)
        else:
            hit = touches_footprint(self.footprint, xs, ys)
        advanced = np.zeros(len(xs), bool)
        if self.fringe is not None:
            near = touches_footprint(self.fringe, xs, ys)
            if own is not None:
                asked = np.flatnonzero(near & (own < np.inf))
                if len(asked):
                    if self.fringe_distance is None:
                        distance = np.full(len(asked), np.inf, np.float32)
                    else:
                        distance = self.fringe_distance.at(xs[asked], ys[asked])
                    came = distance + ADVANCE_PX < own[asked]
                    near[asked] = False
                    advanced[asked] = came
            hit |= near
        if self.hidden is not None:
            unseen = touches_footprint(self.hidden, xs, ys)
            if own_hidden is not None:
                unseen &= ~own_hidden
            advanced |= unseen
        return hit, advanced & ~hit


@dataclass
class Candidates:
    """Every sample fetched for the points of one target frame, one row per sample (flat arrays)."""

    #: Which point (index into the target's point list) the sample is for.
    point: np.ndarray
    #: (M, 3) float32 colour, already at the target frame's exposure.
    value: np.ndarray
    #: +1 (from a later frame) or -1 (from an earlier one).
    direction: np.ndarray
    #: Frames between target and source.
    steps: np.ndarray
    #: Chain's round-trip error (in quadrature over its steps), path length and largest completion fit residual (working pixels).
    fb: np.ndarray
    travel: np.ndarray
    fit: np.ndarray

    def __len__(self) -> int:
        return len(self.point)

    def select(self, which: np.ndarray) -> Candidates:
        """The rows ``which`` (bool or indices) picks."""
        return Candidates(*(getattr(self, name)[which] for name in _FIELDS))

    @classmethod
    def concat(cls, parts: list[Candidates]) -> Candidates:
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, name) for p in parts]) for name in _FIELDS))

    @classmethod
    def empty(cls) -> Candidates:
        return cls(
            np.zeros(0, np.intp),
            np.zeros((0, 3), np.float32),
            np.zeros(0, np.int8),
            np.zeros(0, np.int16),
            np.zeros(0, np.float32),
            np.zeros(0, np.float32),
            np.zeros(0, np.float32),
        )


@dataclass(frozen=True)
class Frontier:
    """The points a walk followed through all ``radius`` frames without finding a sample in that direction:
    where they are in the last frame it reached (full-resolution pixels) and what their chains went through.
    What that frame's own propagation recovered there is the only thing left to read for them
    (:mod:`.far`)."""

    #: Frames between the target and where the points are (``radius``).
    steps: int
    #: Which points (indices into the target's point list).
    point: np.ndarray
    x: np.ndarray
    y: np.ndarray
    fb: np.ndarray
    travel: np.ndarray
    fit: np.ndarray


#: Frames past a point's first sample in a direction within which further samples are looked for.
SEARCH_ON = 2

_FIELDS = ("point", "value", "direction", "steps", "fb", "travel", "fit")


def gather(
    start: int,
    xs: np.ndarray,
    ys: np.ndarray,
    chain: Callable[[int, int, np.ndarray, np.ndarray], Chain],
    source: Callable[[int], Source | None],
    radius: int,
    per_direction: int,
    first_steps: dict[int, FirstStep] | None = None,
    own: np.ndarray | None = None,
    frontiers: dict[int, Frontier] | None = None,
    held: list[Candidates] | None = None,
    own_hidden: np.ndarray | None = None,
) -> Candidates:
    """Candidates for the points (``xs``, ``ys``, full-resolution pixels) of frame ``start``.

    ``chain(start, direction, xs, ys)`` makes a :class:`Chain`; ``source(j)`` is frame j as a source, or
    None when the shot has no frame j. A point stops being followed in a direction once it has
    ``per_direction`` samples there, ``SEARCH_ON`` frames after its first, when its chain breaks, or after
    ``radius`` frames. ``first_steps``: each direction's first step is kept there (:class:`.chain.FirstStep`).
    ``own``: per point, how far the target's own mover lies (working px; what :meth:`Source.touches` reads of
    the sources' mover fringes; None: inf for every point, the fringes are not read).
    ``frontiers``: each direction's :class:`Frontier`, when its walk went all ``radius`` frames.
    ``held``: the reads refused only by the sources' mover advance (:meth:`Source.refused`) of the points that
    found no sample in either direction are appended there (one :class:`Candidates`), not returned.
    ``own_hidden``: per point, whether the target's own movers go on into its hole near it (it reads the sources'
    hidden movers, :mod:`.mover_fringe`; None: no point does).
    """
    parts: list[Candidates] = []
    kept: list[Candidates] = []
    found = np.zeros(len(xs), bool)
    for direction in (1, -1):
        walk = chain(start, direction, xs.astype(np.float32), ys.astype(np.float32))
        # Whether each point, hidden in a hole on the way, passed a mover beside it (:func:`_after_mover`).
        passed: np.ndarray | None = None
        walk.record = first_steps is not None
        hits = np.zeros(len(xs), np.int16)
        first = np.full(len(xs), np.iinfo(np.int16).max, np.int32)
        for _ in range(radius):
            if len(walk) == 0:
                break
            landing = walk.next  # (a frame stepped over is not read: the walk lands beyond it)
            frame = source(landing) if abs(landing - start) <= radius else None
            if frame is None:
                break
            walk.step()
            refused, advanced = frame.refused(
                walk.x,
                walk.y,
                None if own is None else own[walk.index],
                None if own_hidden is None else own_hidden[walk.index],
            )
            if passed is not None:
                advanced |= _after_mover(frame, walk, passed, direction) & ~refused
            beside = None if frame.beside is None else frame.beside.get(direction)
            if beside is not None:
                # (what this frame's mover stands beside counts for the frames beyond, not for its own reads)
                meets = touches_footprint(beside, walk.x, walk.y)
                if meets.any():
                    if passed is None:
                        passed = np.zeros(len(xs), bool)
                    passed[walk.index[meets]] = True
            if held is not None and advanced.any():
                kept.append(_sample(frame, walk, advanced, direction))
            ok = ~(refused | advanced)
            if not ok.any():
                continue
            point = walk.index[ok]
            values = frame.colours(walk.x[ok], walk.y[ok], walk.fb[ok], walk.fit[ok]) * frame.gain
            count = len(point)
            parts.append(
                Candidates(
                    point,
                    values.astype(np.float32, copy=False),
                    np.full(count, direction, np.int8),
                    np.full(count, walk.steps, np.int16),
                    walk.fb[ok],
                    walk.travel[ok],
                    walk.fit[ok],
                )
            )
            hits[point] += 1
            found[point] = True
            first[point] = np.minimum(first[point], walk.steps)
            # Further samples are looked for only a few frames past the first (they cost chain steps).
            walk.keep((hits[walk.index] < per_direction) & (walk.steps < first[walk.index] + SEARCH_ON))
        if first_steps is not None and walk.first_step is not None:
            first_steps[direction] = walk.first_step
        if frontiers is not None and walk.steps == radius and len(walk):
            none = hits[walk.index] == 0
            frontiers[direction] = Frontier(
                radius,
                walk.index[none],
                walk.x[none],
                walk.y[none],
                walk.fb[none],
                walk.travel[none],
                walk.fit[none],
            )
    if held is not None and kept:
        spare = Candidates.concat(kept)
        lone = ~found[spare.point]
        if lone.any():
            held.append(spare.select(lone))
    return Candidates.concat(parts)


def _after_mover(frame: Source, walk: Chain, passed: np.ndarray, direction: int) -> np.ndarray:
    """Per point of ``walk``, whether its read of ``frame`` is refused as a mover's: it passed, hidden in a hole
    on the way, a mover beside it (``passed``, per point of the target; :attr:`Source.beside`), and lands in this
    frame's blind band (:attr:`Source.band`), where that mover may stand unmarked. A person walking out of a
    static hole on the side the background is fetched from stands mostly in the hole in the frames before it
    leaves, showing only slivers the detection cannot see beside it: the later frames' chains left the hole
    there and pasted those slivers, hard-edged, for 5-8 frames after the person had gone (docs/method.md,
    "Twenty-fifth pass (cross39)"). Refused so, the read is still taken back where nothing else was found
    and it agrees with the plate around the target's hole (``held``).

    Where the frame's movers are seen near its hole going out of it along the walk (``direction``), only the
    band within ``BAND_PX`` of what was marked: a mover the detection sees coming out shows its unmarked
    slivers next to that, not on the far side of the hole, which it has left. (The whole band cost the
    tester's 30 px/frame crosser, seen in every frame it stood near the hole, the walks' clean reads across
    the hole from it, 0.1-1.9 dB in frames 3-12 and 18-27, and tennis's crossed square 0.4-2.0 dB in frames
    37-42, the player stepping about beside it: docs/method.md, "Twenty-sixth pass (approach40)".) The whole
    band where they are not seen near it (a mover standing in the hole, showing slivers: the tester's
    5 px/frame crosser, frames 12-18), go in along the walk, or stand (none refused wherever they are seen
    and do not go in along the walk, tennis's crossed square lost 0.7-4.7 dB in frames 23-32; only the band
    next to the marks also where they stand, ``nonrigid``'s squares 0.04-0.06 dB)."""
    hit = passed[walk.index]
    made = frame.band_by_movers if frame.ways == (-direction,) else frame.band
    if made is None or not hit.any():
        return np.zeros(len(hit), bool)
    band = made()
    if band is None:
        return np.zeros(len(hit), bool)
    at = np.flatnonzero(hit)
    hit[at] = touches_footprint(band, walk.x[at], walk.y[at])
    return hit


def _sample(frame: Source, walk: Chain, which: np.ndarray, direction: int) -> Candidates:
    """The samples of ``frame`` at the walk's points ``which`` (bool per point of the walk)."""
    values = frame.colours(walk.x[which], walk.y[which], walk.fb[which], walk.fit[which]) * frame.gain
    count = int(which.sum())
    return Candidates(
        walk.index[which],
        values.astype(np.float32, copy=False),
        np.full(count, direction, np.int8),
        np.full(count, walk.steps, np.int16),
        walk.fb[which],
        walk.travel[which],
        walk.fit[which],
    )
