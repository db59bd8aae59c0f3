"""Stage 6's guard for neighbours of another light or sharpness: the steadying compares each with the frame's ring.

:func:`.fallback.steady` averages a frame's unsure fill along the flow with the fills its neighbours made for
themselves. Those carry their own light and sharpness: a flash frame's fill was darkened by its unlit neighbours
and lightened theirs (a +80 % light on every third frame of a pan: the frames between the flashes lost 0.5-4.0 dB),
and a frame jolted into a motion blur, whose fill was blurred to match it (:mod:`.blur_match`), softened its sharp
neighbours' fills while theirs sharpened its own. The frame's seam ring tells how a neighbour differs: the ring's
points are walked to the neighbour along the same flow as the hole's, and what the neighbour shows there is
compared with the frame's own ring (:class:`RingMatch`):

* light: the log ratio of the frame's ring to the neighbour's, clamped and spread smoothly into the hole as the
  seam spreads its field (:func:`.seam.seam_match`, ``gain``; a light on one side of the hole is matched unclamped,
  :mod:`.light`), multiplies the neighbour's samples, where it departs from 1 by more than :data:`LIGHT_LOW`
  (a smoothstep up to :data:`LIGHT_HIGH`): nothing changes where the two frames' light agrees;
* sharpness: the least and the largest share of the neighbour's high-pass energy the frame's ring keeps in a
  direction (:func:`.blur_match.lost`, on the log of the values, which a smooth light leaves alone) give the
  neighbour's weight a factor that falls from 1 where the two differ by more than :data:`SHARP_LOW` (in log
  share; the blur match's own gate) to :data:`SHARP_FLOOR` at :data:`SHARP_HIGH`.

Only on slow walk steps: on a fast one (a whip pan, 20-50 px a frame) the completed flow around the hole is often
10 px out, and what the ring reads there tells nothing of light or blur (weighed by it, the whips' fills boiled:
in-hole E_warp +15-36 %).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .blur_match import MIN_PIXELS, Grid, lost
from .chain import Chain
from .fallback import Filled, Relation, smoothstep
from .light import seam_points
from .seam import ring_field, spread

#: Largest departure of the spread light ratio's log from 0 (per channel) at which a neighbour's samples are
#: left as they are, and the one from which they are brought wholly into the frame's light (smoothstep between).
LIGHT_LOW = 0.03
LIGHT_HIGH = 0.08
#: The log of the share of high-pass energy kept (either way) below which a neighbour counts as sharp as the
#: frame (the blur match's gate, 0.7), and the one at which its weight is :data:`SHARP_FLOOR` of what it was
#: (smoothstep between). At log(1 / 0.5) the jolt repro's sharp neighbours gained 0.2-0.9 dB more, but tennis with
#: a static square (a broadcast whose own motion blur varies: 1.2-2.0 between neighbours) lost up to 0.3 dB a frame.
SHARP_LOW = float(-np.log(0.7))
SHARP_HIGH = float(-np.log(0.4))
SHARP_FLOOR = 0.0
#: Ring points whose sample differs from the frame's by more than this many seam outlier tolerances show something
#: else (a mover, an occlusion): the sharpness is compared without them. (The seam's own 1 left out the sharp
#: edges a blur changes most: the jolt's 7 px measured 1.7x, not 2.5x.)
SHARP_TOL = 2.0


class RingMatch:
    """Frame t's seam ring, as :func:`.fallback.steady` compares each neighbour with it (see the module docstring).

    ``hole_ys``, ``hole_xs``: the points steadied; ``ring_ys``, ``ring_xs``: the ring's; ``real``: the frame's plate
    there (as its neighbours read theirs: the plate with its fireflies capped); ``tolerance``: the seam's outlier
    tolerance (``outlier_tol`` times the frame's level); ``walk(direction)``: a walk of the ring's points along the
    completed flow, and ``first`` (or None) its first step taken from the candidates' (:meth:`.chain.Chain.replay`);
    ``own``: the frame as its neighbours read it (:class:`.fallback.Filled`)."""

    def __init__(
        self,
        hole_ys: np.ndarray,
        hole_xs: np.ndarray,
        ring_ys: np.ndarray,
        ring_xs: np.ndarray,
        real: np.ndarray,
        tolerance: float,
        walk: Callable[[int], Chain],
        own: Filled,
        first: Callable[[Chain], bool] | None = None,
    ) -> None:
        self.hole_ys, self.hole_xs = hole_ys, hole_xs
        self.ring_ys, self.ring_xs = ring_ys, ring_xs
        self.real = real.astype(np.float32)
        self.tolerance = tolerance
        self._walk = walk
        self.first = first
        self.own = own
        self._grid = Grid.of(ring_ys, ring_xs) if len(ring_ys) >= MIN_PIXELS else None
        self._eps = np.maximum(0.05 * np.median(np.abs(self.real), axis=0), 1e-4) if len(real) else None

    def walk(self, direction: int) -> Chain:
        """A walk of the ring's points from the frame, ``direction`` (-1, 1) in time."""
        return self._walk(direction)

    def relate(self, walk: Chain, neighbour: Filled, gain: np.ndarray) -> Relation:
        """How the neighbour the ring's ``walk`` reached (``neighbour``: its plate and unsteadied fill, brought to
        the frame's exposure by ``gain``, the frame-wide exposure gain) differs from the frame there."""
        if len(walk) == 0 or self._eps is None:
            return Relation()
        values, share = neighbour.sample(walk.x, walk.y)
        with np.errstate(over="ignore", invalid="ignore"):
            values = gain * values
        readable = (share > 0.5) & np.isfinite(values).all(axis=1)
        sampled = np.zeros_like(self.real)
        sampled[walk.index[readable]] = values[readable]
        seen = np.zeros(len(self.real), bool)
        seen[walk.index[readable]] = True
        if seen.sum() < MIN_PIXELS:
            return Relation()
        # Ring points whose sample shows something else (a mover, an occlusion) tell neither relation; a smooth
        # light on one side of the hole is kept (:func:`.light.seam_points`).
        usable, light = seam_points(self.ring_ys, self.ring_xs, self.real, sampled, seen, self.tolerance)
        loose = seen & (np.abs(self.real - sampled).max(axis=1) <= SHARP_TOL * self.tolerance)
        return Relation(self._light(sampled, usable, light), self._sharpness(walk, sampled, loose))

    def _light(self, sampled: np.ndarray, usable: np.ndarray, light: np.ndarray) -> np.ndarray | None:
        """Per hole point, the factor bringing the neighbour's samples into the frame's light (None: none)."""
        if usable.sum() < MIN_PIXELS:
            return None
        field = ring_field("gain", self.real[usable], sampled[usable], light[usable])
        if float(np.abs(field).max()) < 0.99 * LIGHT_LOW:
            return None  # (the spread is a weighted mean of the ring's values: it reaches LIGHT_LOW nowhere)
        log_gain = spread(
            self.hole_ys, self.hole_xs, self.ring_ys[usable], self.ring_xs[usable], field.astype(np.float32)
        )
        taken = smoothstep(LIGHT_LOW, LIGHT_HIGH, np.abs(log_gain))
        if not taken.any():
            return None
        return np.exp(taken * log_gain).astype(np.float32)

    def _sharpness(self, walk: Chain, sampled: np.ndarray, seen: np.ndarray) -> float:
        """The factor of the neighbour's weight for how much blurrier or sharper than the frame it is."""
        if self._grid is None or self._eps is None or seen.sum() < MIN_PIXELS:
            return 1.0
        # The neighbour was read bilinearly at fractional positions, which softens fine texture: the frame's own
        # ring is read at the same fractions of a pixel (its own unsteadied fill where that reaches the hole).
        at = walk.index
        fx, fy = walk.x - np.floor(walk.x), walk.y - np.floor(walk.y)
        own, share = self.own.sample(self.ring_xs[at] + fx, self.ring_ys[at] + fy)
        real = np.zeros_like(self.real)
        real[at] = own
        seen = seen.copy()
        seen[at[share <= 0.5]] = False
        if seen.sum() < MIN_PIXELS:
            return 1.0
        s_real = self._grid.tensor(_log_gray(real, self._eps), seen)
        s_sampled = self._grid.tensor(_log_gray(sampled, self._eps), seen)
        least, largest, _ = lost(s_real, s_sampled)
        apart = max(-np.log(max(least, 1e-6)), np.log(max(largest, 1e-6)))
        return float(1.0 - (1.0 - SHARP_FLOOR) * smoothstep(SHARP_LOW, SHARP_HIGH, np.array(apart)))


def _log_gray(values: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """The log of the values' mean channel (plus a small share of the ring's level): a smooth light multiplies the
    values, so it adds to this only a smooth field, which the forward differences barely see."""
    return np.log(np.maximum(values, 0.0).mean(axis=1) + float(eps.mean())).astype(np.float32)
