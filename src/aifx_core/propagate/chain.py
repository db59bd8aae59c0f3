"""Following pixels through a shot by chaining neighbour-to-neighbour flows.

A target frame's points are walked one frame at a time (t → t±1 → t±2 …; a lone frame cut off from both its
neighbours, which are of one shot, is stepped over: ``Pairs.over``). Each step samples the completed
flow at the current positions and checks it against the reverse flow (a round trip that does not come back
means the point is occluded or the flow is wrong there); failing points stop. Sampling happens at point
lists only, so the cost follows the hole's area, not the frame's, and colours are read once from the source
frame at the chained position (no repeated resampling blur).

Along the way every point accumulates what the confidence stage needs to judge a sample fetched at the end
of its chain: the round-trip error of each step (``fb``, working pixels, added in quadrature), how far it moved
(``travel``, working pixels) and the largest flow-completion fit residual it crossed (``fit``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..flow import median_side, sample_points


@dataclass(frozen=True, eq=False)
class BoxedFit:
    """A flow completion's fit map (working px, (H, W) float32), held as the box around its nonzero pixels with a
    margin of 0 (``box``, whose first pixel is map pixel (``y0``, ``x0``); ``shape``: the whole map's): the map is
    0 wherever the flow was measured, so outside the box every read is 0. A pair's two whole maps were 4 MB at
    1080p (working 960x540), ~75 MB of the 1080p peak over the ~19 pairs held; the boxes are hole-sized.

    :meth:`sample` is :func:`~aifx_core.flow.sample_points` on the whole map bit for bit: a bilinear read whose
    footprint touches a nonzero pixel lies inside the box with its footprint (the margin), and reads the same
    pixels at the same 1/32-pixel weights (an integer shift of a position inside the box is exact, and keeps
    OpenCV's position grid); any other read, on the whole map, reads 0s only, and on the box reads the margin's
    0s (replicated past its edge) or, at a frame edge the box shares, the same pixels as the whole map."""

    box: np.ndarray
    y0: int
    x0: int
    shape: tuple[int, int]

    #: Pixels of 0 kept around the nonzero pixels (a read's footprint is its floor pixel and the next: 1 is
    #: enough; 2 leaves one more).
    MARGIN = 2

    def sample(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """Bilinear samples (N,) at working-pixel positions, as ``sample_points`` on the whole map."""
        if self.box.size == 0:
            return np.zeros(len(xs), np.float32)
        if self.x0:
            xs = xs - np.float32(self.x0)
        if self.y0:
            ys = ys - np.float32(self.y0)
        return sample_points(self.box, xs, ys)

    def positive(self) -> np.ndarray:
        """The whole map's ``> 0`` (H, W) bool (made on each call: a hypothesis reads it once a fast frame)."""
        out = np.zeros(self.shape, bool)
        height, width = self.box.shape
        np.greater(self.box, 0, out=out[self.y0 : self.y0 + height, self.x0 : self.x0 + width])
        return out

    def full(self) -> np.ndarray:
        """The whole map (for tests and checks: the engine reads the box)."""
        out = np.zeros(self.shape, np.float32)
        height, width = self.box.shape
        out[self.y0 : self.y0 + height, self.x0 : self.x0 + width] = self.box
        return out


def box_fit(fit: np.ndarray) -> BoxedFit:
    """``fit`` as a :class:`BoxedFit`: the box around its pixels whose bits are not 0 (NaN and -0.0 included, so
    every value outside the box reads back as the whole map's +0.0), grown by ``MARGIN`` where the map has it."""
    height, width = fit.shape
    bits = fit.view(np.uint32)
    rows = np.flatnonzero(bits.any(axis=1))
    if len(rows) == 0:
        return BoxedFit(np.zeros((0, 0), np.float32), 0, 0, (height, width))
    cols = np.flatnonzero(bits[rows[0] : rows[-1] + 1].any(axis=0))
    margin = BoxedFit.MARGIN
    y0, y1 = max(int(rows[0]) - margin, 0), min(int(rows[-1]) + 1 + margin, height)
    x0, x1 = max(int(cols[0]) - margin, 0), min(int(cols[-1]) + 1 + margin, width)
    return BoxedFit(fit[y0:y1, x0:x1].copy(), y0, x0, (height, width))


def sample_fit(fit: np.ndarray | BoxedFit, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """``fit``'s bilinear samples at working-pixel positions (N,), whole map or box: the same values."""
    if isinstance(fit, BoxedFit):
        return fit.sample(xs, ys)
    return sample_points(fit, xs, ys)


def fit_positive(fit: np.ndarray | BoxedFit) -> np.ndarray:
    """Where ``fit`` is > 0 (H, W) bool, whole map or box: the same map."""
    if isinstance(fit, BoxedFit):
        return fit.positive()
    return fit > 0


#: ``fit(s, d)``: the completion's expected error (working pixels) of the flow from frame s to s + d, a whole
#: (H, W) float32 map or its :class:`BoxedFit`, or None when unknown (treated as 0).
FitLookup = Callable[[int, int], "np.ndarray | BoxedFit | None"]
#: Where both ends of a step lie in completed flow (both fit maps > 0), the round trip compares two guesses,
#: not a guess with a measurement, so it may miss by this share of the smaller of their expected errors on top
#: of the strict tolerance: on fast pans (see SLACK_FAST_PX) a hole's chains then survive its interior.
GUESS_SLACK = 0.5
#: ... but by no more than this (working px): a completion with nothing to learn from reports a huge error.
SLACK_CAP = 3.0
#: ... and only on a step whose points move at least this far (median, working px; the completion's
#: ``FAST_PX``): two completions of a fast, motion-blurred pair are coarse guesses, and the strict check stops
#: chains there for the guesses' coarseness, not for an occlusion. Under a slow camera a miss between two
#: completions is more often an unmasked mover next to the hole: ungated, the slack put 3 of 20 frames of
#: crosser's nine squares (1.3 px/frame) below Telea - 1 dB (docs/method.md "Large holes", "Fast whips").
SLACK_FAST_PX = 10.0


@dataclass(frozen=True)
class FirstStep:
    """A chain's first step (from its start one frame on), for every point it began with, as an unchecked chain
    (tolerance inf: the steadying's walks) takes it: where each point lands and what it accumulated, and which
    points such a chain keeps (``kept``: those that stay in the frame, with a round trip that is not NaN).

    A step's values at a point depend on that point's position alone except for the slack of the round-trip
    check, which an infinite tolerance makes moot: so the candidates' (checked) walk of a frame's hole, which
    makes the same first step for the same points, hands it to the steadying of that frame
    (:meth:`Chain.replay`) instead of it being made again."""

    x: np.ndarray
    y: np.ndarray
    fb: np.ndarray
    travel: np.ndarray
    fit: np.ndarray
    kept: np.ndarray


class Chain:
    """Points of frame ``start`` followed towards ``start + direction * k`` for k = 1, 2, …

    ``flow(s, d)`` returns the working-resolution flow from frame s to s + d (completed inside holes);
    ``scale`` = (sx, sy) working/full resolution. After :meth:`step`, ``index`` says which of the original
    points are still followed and ``x``, ``y`` where they are (full-resolution pixels) in frame ``current``.
    """

    def __init__(
        self,
        start: int,
        direction: int,
        xs: np.ndarray,
        ys: np.ndarray,
        flow: Callable[[int, int], np.ndarray],
        size: tuple[int, int],
        scale: tuple[float, float],
        tol: float,
        relative: float = 0.05,
        fit: FitLookup | None = None,
        linked: Callable[[int, int], bool] | None = None,
        over: Callable[[int], bool] | None = None,
    ) -> None:
        self.current = start
        self.direction = direction
        self.steps = 0
        self.index = np.arange(len(xs))
        self.x = np.asarray(xs, dtype=np.float32)
        self.y = np.asarray(ys, dtype=np.float32)
        #: Per followed point: round-trip error (steps added in quadrature), path length and largest fit residual (working px).
        self.fb = np.zeros(len(xs), np.float32)
        self.travel = np.zeros(len(xs), np.float32)
        self.fit = np.zeros(len(xs), np.float32)
        self._flow = flow
        self._fit = fit
        #: Whether two neighbouring frames are of one shot (None: always): no walk crosses a cut.
        self._linked = linked
        #: Whether a frame is stepped over (None: never): a frame cut off from both its neighbours that are of one
        #: shot (a flash), walked across by the flow between them (``flow(s, ±2)``, ``fit(s, ±2)``).
        self._over = over
        self._height, self._width = size
        self._sx, self._sy = scale
        self._tol = tol
        self._relative = relative
        #: Set before the first step to keep it (:attr:`first_step`, see :class:`FirstStep`).
        self.record = False
        self.first_step: FirstStep | None = None

    def __len__(self) -> int:
        return len(self.index)

    @property
    def next(self) -> int:
        """The frame the next :meth:`step` lands on: the neighbour, or the one beyond where the neighbour is
        stepped over (``over``; never the frame the walk starts at: a walk from such a frame stops at its cuts)."""
        nxt = self.current + self.direction
        if self._over is not None and self._over(nxt):
            nxt += self.direction
        return nxt

    def step(self) -> None:
        """Move every followed point one frame on (to :attr:`next`: over a stepped-over frame, two, by the flow
        between the two frames it joins); drop those that fail the round trip or leave the frame.

        Written for the engine's thread, which runs ~27 steps of ~11 000 points a frame on nine 35-px squares:
        in-place float32 arithmetic where a temporary is not needed (each operation rounds as the expression
        it replaces), :func:`hypot` for NumPy's, and no gathers when every point is kept."""
        nxt = self.next
        span = nxt - self.current  # (the direction, or twice it over a stepped-over frame)
        if self._linked is not None and not self._linked(self.current, nxt):
            self.keep(np.zeros(len(self.index), bool))  # across a cut: every walk ends here
            return
        forward = self._flow(self.current, span)
        backward = self._flow(nxt, -span)
        sx, sy = self._sx, self._sy
        xw = self.x + 0.5
        xw *= sx
        xw -= 0.5
        yw = self.y + 0.5
        yw *= sy
        yw -= 0.5
        f = sample_points(forward, xw, yw)
        fx, fy = f[:, 0], f[:, 1]
        # Where each point lands in the next frame (working px): the backward flow (and its fit) is read there.
        lx, ly = xw + fx, yw + fy
        b = sample_points(backward, lx, ly)
        bx, by = b[:, 0], b[:, 1]
        error = hypot(fx + bx, fy + by)
        moved = hypot(fx, fy)
        limit = hypot(bx, by)
        limit += moved
        limit *= self._relative
        wide = limit + np.float32(np.inf) if self.record and self.steps == 0 else None
        limit += self._tol
        x = fx / sx if sx != 1.0 else fx.copy()  # (x / 1 is x)
        x += self.x
        y = fy / sy if sy != 1.0 else fy.copy()
        y += self.y
        fit_of = self._fit
        fit_map = fit_of(self.current, span) if fit_of is not None else None
        if fit_map is not None:
            here = sample_fit(fit_map, xw, yw)
            self.fit = np.maximum(self.fit, here)
            fast = GUESS_SLACK > 0 and median_side(moved, SLACK_FAST_PX) > 0
            back_fit = fit_of(nxt, -span) if fast and fit_of is not None else None
            if back_fit is not None:
                # Both flows of the step completed: occlusion is not what a miss between them shows (the
                # landing on measured flow keeps the strict check); the miss still counts in ``fb``.
                there = sample_fit(back_fit, lx, ly)
                both = (here > 0) & (there > 0)
                limit = np.where(
                    both, limit + np.minimum(GUESS_SLACK * np.minimum(here, there), SLACK_CAP), limit
                )
        inside = x >= 0
        inside &= x <= self._width - 1
        inside &= y >= 0
        inside &= y <= self._height - 1
        keep = error <= limit
        keep &= inside
        fb = np.square(self.fb)
        fb += np.square(error)
        self.fb = np.sqrt(fb, out=fb)  # independent step errors add in quadrature
        moved += self.travel
        self.travel = moved
        self.x, self.y = x, y
        if self.record and self.steps == 0:
            # (an infinite tolerance keeps a point unless its round trip or its limit is NaN: the slack only
            # adds finite values to the limit)
            assert wide is not None
            kept = error <= wide
            kept &= inside
            self.first_step = FirstStep(x, y, self.fb, self.travel, self.fit, kept)
        if not keep.all():
            self.keep(keep)
        self.current = nxt
        self.steps += abs(span)

    def keep(self, mask: np.ndarray) -> None:
        """Stop following the points where ``mask`` is False (e.g. those that found enough sources)."""
        self.index, self.x, self.y = self.index[mask], self.x[mask], self.y[mask]
        self.fb, self.travel, self.fit = self.fb[mask], self.travel[mask], self.fit[mask]

    def replay(self, first: FirstStep | None, which: np.ndarray) -> bool:
        """Take the first step from ``first``, the first step of a chain that began with other points of the same
        frame, the same way (``which``: where this chain's points are among them), instead of making it again;
        the same values as :meth:`step` for an unchecked chain (tolerance inf). False (nothing done) when there
        is no such step to take."""
        if first is None or self.steps or self._tol != np.inf:
            return False
        kept = first.kept[which]
        self.index = self.index[kept]
        self.x, self.y = first.x[which][kept], first.y[which][kept]
        self.fb, self.travel, self.fit = (
            first.fb[which][kept],
            first.travel[which][kept],
            first.fit[which][kept],
        )
        nxt = self.next  # (the same frame the recorded step landed on: the same walk, the same frames)
        self.steps = abs(nxt - self.current)
        self.current = nxt
        return True


def hypot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.hypot`` of float32 arrays, bit for bit where glibc computes it (``hypotf``: the float64 sum of the
    squares, its square root rounded to float32), in ~2/3 of its time: the squares of float32 values are exact
    in float64 and cannot overflow there. Only where an input is infinite and the other NaN does that give NaN
    instead of inf; those (and any other NaN) are NumPy's own."""
    total = np.square(a, dtype=np.float64)
    total += np.square(b, dtype=np.float64)
    out = np.sqrt(total, out=total).astype(np.float32)
    bad = np.isnan(out)
    if bad.any():
        out[bad] = np.hypot(a[bad], b[bad])
    return out


#: OpenCV's reads (cv2.remap, bilinear or bicubic: :func:`~aifx_core.flow.sample_points`) take a float32 position
#: to the nearest 1/READ_STEPS px (half to even) before they mix the pixels from its floor.
READ_STEPS = 32
_HALF_STEP = 0.5 / READ_STEPS


def read_floor(positions: np.ndarray) -> np.ndarray:
    """The first pixel (intp) an OpenCV read at ``positions`` (px along one axis, ≥ 0) mixes: the floor of the
    position rounded to 1/:data:`READ_STEPS` px, as the read rounds it, not of the position itself.

    A position just short of a whole pixel (within 1/64 px: 68.9999) is read from that pixel on (69 and 70, the
    latter with no weight), the same pixels as the whole pixel itself; the floor of the position would say 68
    and 69. A flow made exact (:mod:`aifx_core.flow.rigid`) lands its chains on whole pixels give or take
    1e-4 px, and whether a read next to a hole counted as touching it then turned on that last digit: the
    floor's margin of one pixel right and below a hole came and went from frame to frame (a test clip's
    direction preference lost a column of its ring on some frames and not on others). With the read's own
    pixels it is the same for both.
    """
    # The read's floor is floor(rint(32 x) / 32), x the float32 position, rint half to even (cvRound); that is
    # floor(x + 1/64) exactly (a tie, 32 x = 32 k ± 1/2, rounds to the even 32 k), made in float64, where the
    # sum of a float32 and 1/64 is exact. (Positions are ≥ 0: truncation is the floor.)
    shifted = np.add(np.asarray(positions, np.float32), _HALF_STEP, dtype=np.float64)
    return shifted.astype(np.intp)


def touches(invalid: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """True where any of the four pixels a bilinear sample at (x, y) reads is ``invalid``.

    Checked on all four neighbours (not on the interpolated weight) so no fraction of a hole pixel, however
    small, can leak into a fill; the four the read itself mixes (from :func:`read_floor`). (A frame read many
    times reads its :func:`footprint` instead: :func:`touches_footprint`, the same answer.)
    """
    height, width = invalid.shape
    x0 = np.minimum(read_floor(xs), width - 1)
    y0 = np.minimum(read_floor(ys), height - 1)
    x1 = np.minimum(x0 + 1, width - 1)
    y1 = np.minimum(y0 + 1, height - 1)
    return invalid[y0, x0] | invalid[y0, x1] | invalid[y1, x0] | invalid[y1, x1]


@dataclass(frozen=True)
class Footprint:
    """A :func:`footprint` map, held as the box around its True pixels with a False margin (``grown``, whose
    first pixel is frame pixel (``y0``, ``x0``)): outside the box every read is False, so a frame keeps a few
    hole-sized bytes instead of a full-resolution map (2 MB at 1080p for each frame whose plate is held; the
    whole-frame maps were ~40 MB of the 1080p peak)."""

    grown: np.ndarray
    y0: int
    x0: int

    @cached_property
    def wide(self) -> Footprint:
        """:func:`widened`: a bicubic read's footprint (made once: a frame is read by every target near it)."""
        return widened(self)


#: A footprint with nothing blocked: one False pixel every position is clamped to.
_NOTHING = np.zeros((1, 1), bool)
_NOTHING.flags.writeable = False


def footprint(invalid: np.ndarray) -> Footprint:
    """Per pixel (x0, y0): whether a bilinear read whose floor is there touches ``invalid`` (the pixel, its right
    and lower neighbours and the one diagonally between; the last row and column repeat themselves, as
    :func:`touches` clamps). Made once per source frame, it turns :func:`touches`' four gathers and index
    arithmetic per point into one gather (:func:`touches_footprint`): a frame is read by every chain step of
    every target within the radius, and by the motion hypotheses' patches.

    Only the box around ``invalid`` is kept (:class:`Footprint`): the True pixels lie within one row above and one
    column left of ``invalid``'s box, and one more row and column of False on every side (where the frame has
    them) is what a position outside the box is clamped to."""
    height, width = invalid.shape
    rows = np.flatnonzero(invalid.any(axis=1))
    if len(rows) == 0:
        return Footprint(_NOTHING, 0, 0)
    cols = np.flatnonzero(invalid[rows[0] : rows[-1] + 1].any(axis=0))
    y0, y1 = max(int(rows[0]) - 2, 0), min(int(rows[-1]) + 2, height)
    x0, x1 = max(int(cols[0]) - 2, 0), min(int(cols[-1]) + 2, width)
    box = invalid[y0:y1, x0:x1]
    grown = box.copy()
    # (the box's last row and column hold no invalid pixel below or right of them unless they are the frame's)
    grown[:, :-1] |= box[:, 1:]
    grown[:-1] |= grown[1:]
    return Footprint(grown, y0, x0)


def widened(box: Footprint) -> Footprint:
    """A bicubic read's footprint from a bilinear read's (``box``, :func:`footprint`): per pixel (x0, y0), whether a
    read whose floor is there touches ``invalid`` anywhere in the 4x4 pixels it mixes (x0-1..x0+2, y0-1..y0+2,
    clamped to the frame as the read replicates its edge): the bilinear footprints at the four diagonal neighbours,
    whose 2x2 windows tile that one. The box grows by one pixel each way, so its edge is still False wherever it is
    not the frame's (a position clamped into a box at the frame's edge reads the same pixels the read does)."""
    height, width = box.grown.shape
    # Padded by two of its own edge each way, the box's pixel (r, c) is padded[r + 2, c + 2] and a position
    # clamped into it reads the same; the new box's (i, j) stands for the box's (i - 1, j - 1), whose diagonal
    # neighbours are padded[i or i + 2, j or j + 2].
    padded = np.pad(box.grown, 2, mode="edge")
    out = padded[: height + 2, : width + 2] | padded[: height + 2, 2:]
    out |= padded[2:, : width + 2]
    out |= padded[2:, 2:]
    return Footprint(out, box.y0 - 1, box.x0 - 1)


def touches_footprint(box: Footprint, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """:func:`touches` on an ``invalid`` map given by its :func:`footprint` (the same answer). Positions lie inside
    the frame (as :func:`touches` asks); one outside the box reads its False margin."""
    height, width = box.grown.shape
    rows = read_floor(ys)
    cols = read_floor(xs)
    if box.y0:
        rows -= box.y0
        np.maximum(rows, 0, out=rows)
    if box.x0:
        cols -= box.x0
        np.maximum(cols, 0, out=cols)
    np.minimum(rows, height - 1, out=rows)
    np.minimum(cols, width - 1, out=cols)
    # (one gather from the flat map: ~3x faster than NumPy's two-index gather, the same pixels)
    rows *= width
    rows += cols
    return box.grown.ravel().take(rows)
