"""Unmasked movers next to a hole, as far as they may reach unseen: where a frame is not read as a source.

The mover detection (:func:`aifx_core.flow.moving_objects`) is blind next to a hole: the flow there is the
completion's (the hole's completed fringe carries the background's motion, whatever stands in it), the image
check leaves targets near the hole out, and a part of a mover that moves with the ground at that moment (a
planted foot, a wheel's contact with the road) agrees with the background in both cues. So a person who walks
up to the hole is marked from the knees up, 12-13 px away from it, and his feet at the hole are not. Yet the
band next to a hole is where its pixels are seen first as the camera moves on, so most of their samples are
read there: on tennis with a static square over frames 0-40 and the player unmasked, 0.8-1.2 thousand of the
~3 600 hole pixels of each of frames 5-13 (the player far from the square) took samples from his leg and shoe
standing next to it in frames 14-17 (2-8 px from the detected mover, 5-22 px from the hole): hard-edged
fragments pasted into the clay court (docs/method.md, "Twelfth pass (cross20)").

So within ``BAND_PX`` of a source frame's hole every pixel within ``REACH_PX`` of one of its movers (its *fringe*)
is not read either (the movers themselves, the hole and non-finite pixels are not read anyway): a point whose
chain lands there looks on to the next frames, and where no frame shows it clear it goes to the fallback route
(a blend, never a paste). Farther from the hole the detection sees, and the movers stay as detected.

A point of a target frame with a mover of its own within ``OWN_PX`` still reads fringes (a mover may stand in
its hole now, and what the other frames show next to it may be that mover; :func:`own_mover_distance`), and so
does every point of a fast frame, but not where the source's mover is nearer to the read than the target's own
mover is to the point by more than ``ADVANCE_PX`` (:func:`fringe_distance`): there the mover came onto that
ground after the target frame, and stood beside the hole then. On tennis rolling 0.4 degrees a frame with a
crossed square (``benchmarks/stress_variants.py``) the player's legs next to the square in frames 14-16 were
imported into frames 13-14, where he stood beside it, through both exemptions (docs/method.md, "Fourteenth pass
(cross22)").

Both rules measure distances to the marked movers, which stop ~10 px short of the hole. Where a mover marked at
that edge goes on into the blind band (a shin across the hole's edge), the pixels straight between it and the hole
are taken for it (:func:`hidden_movers`) and are read only by the points of a frame whose own movers go on into
its hole within ``OWN_PX`` of them (a car standing in the hole now: what the other frames show beside their holes
may be it); on a fast pair the marks next to the hole are DIS's drag of the pre-fill as often as a mover, and are
not carried on (docs/method.md, "Fifteenth pass (ext23)").

A mover standing mostly in a hole may show too little beside it to be marked at all, in every frame it does so;
the fringe has nothing to grow from there. But the frames around them see it coming out beside the hole: a chain
that, hidden in a hole, passes a mover marked beside it (:func:`beside_hidden`) refuses the blind band
(:func:`blind_band`) of the frames beyond, as a mover's advance (docs/method.md, "Twenty-fifth pass (cross39)");
of a frame that sees the mover going out of its hole along the walk, only the band next to what it marked, not
the far side of the hole, which the mover has left (docs/method.md, "Twenty-sixth pass (approach40)").
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: How far (working pixels) next to the hole a detected mover may continue unseen: about the completed fringe
#: (the hole grown by 4 + 10 working px) less the mover mask's own growth, rounded up.
REACH_PX = 12.0
#: The band around the hole (working pixels) where that is assumed: the fringe and a reach beyond it (a mover
#: marked at the fringe's edge may stand on both sides of it).
BAND_PX = 24.0
#: Hole (and ring) pixels of a target within this (working pixels) of one of its own movers are not refused the
#: fringe: where a mover stands in the hole now (a car passing through it), what the other frames show next to
#: it may be the truth. The detection starts seeing about 13 px from the hole, so this exempts the outer ~11 px.
OWN_PX = 24.0
#: A fringe pixel of a source frame is read for a point of a target whose own mover lies within ``OWN_PX`` only
#: if the source's mover is not nearer to it than the target's mover is to the point by more than this (working
#: pixels): where it is, the mover came onto that ground after the target frame (it walked up to and beside the
#: hole), so what stands there is the mover, not what the target's hole hides.
ADVANCE_PX = 6.0
#: How far from a hole (working pixels) the detection starts to see a mover: the completion's replaced fringe
#: (10 px, where the flow is the background's whatever stands there) and a margin. Nearer, a mover marked this
#: far out is carried straight on to the hole (:func:`hidden_movers`).
SEEN_FROM_PX = 10.0
#: On a fast frame the points farther than this (working pixels) from its own movers read the fringes whatever
#: stands there (its points cross the band in a step or two, and blurred plates' movers are the least sure);
#: nearer, a mover of its own may have come onto the ground the fringe shows since, as on a slow frame with
#: ``OWN_PX``: a fast camera takes it twice as far in the frames read.
FAST_OWN_PX = 48.0


@dataclass(frozen=True)
class FringeDistance:
    """Per pixel of a box around a frame's fringe (first pixel: frame pixel (``y0``, ``x0``)): the working-pixel
    distance from the fringe to the frame's nearest mover, the smallest over the four pixels a bilinear read
    whose floor is there touches (inf where it touches none)."""

    distance: np.ndarray
    y0: int
    x0: int

    def at(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """The distance for reads at (``xs``, ``ys``) (full-resolution pixels; inf outside the box)."""
        rows = ys.astype(np.intp) - self.y0
        cols = xs.astype(np.intp) - self.x0
        height, width = self.distance.shape
        inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
        out = np.full(len(xs), np.inf, np.float32)
        out[inside] = self.distance[rows[inside], cols[inside]]
        return out


@dataclass(frozen=True)
class BoxedMask:
    """A full-resolution bool map (``shape``) held as the box around its True pixels (``box``, whose first pixel
    is frame pixel (``y0``, ``x0``)): False outside it. A frame's hidden movers (:func:`hidden_movers`) lie within
    ``SEEN_FROM_PX`` of its hole, so a frame holds a few hole-sized bytes for them instead of a full-resolution map
    (2 MB at 1080p) for as long as it is held."""

    box: np.ndarray
    y0: int
    x0: int
    shape: tuple[int, int]

    @classmethod
    def of(cls, full: np.ndarray) -> BoxedMask:
        rows = np.flatnonzero(full.any(axis=1))
        if len(rows) == 0:
            return cls(np.zeros((0, 0), bool), 0, 0, (int(full.shape[0]), int(full.shape[1])))
        cols = np.flatnonzero(full[rows[0] : rows[-1] + 1].any(axis=0))
        y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        return cls(full[y0:y1, x0:x1].copy(), y0, x0, (int(full.shape[0]), int(full.shape[1])))

    def region(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """The full map's ``[y0:y1, x0:x1]`` (within the frame), as a new array."""
        out = np.zeros((y1 - y0, x1 - x0), bool)
        height, width = self.box.shape
        top, bottom = max(y0, self.y0), min(y1, self.y0 + height)
        left, right = max(x0, self.x0), min(x1, self.x0 + width)
        if top < bottom and left < right:
            out[top - y0 : bottom - y0, left - x0 : right - x0] = self.box[
                top - self.y0 : bottom - self.y0, left - self.x0 : right - self.x0
            ]
        return out


def mover_fringe(movers: np.ndarray, hole: np.ndarray, scale: tuple[float, float]) -> np.ndarray | None:
    """The pixels within ``BAND_PX`` of ``hole`` and ``REACH_PX`` of ``movers`` that are neither (full-resolution
    (H, W) bool; ``scale``: working / full resolution, (sx, sy)), or None where there are none."""
    if not hole.any() or not movers.any():
        return None
    reach, band = _pixels(REACH_PX, scale), BAND_PX / _per_px(scale)
    height, width = hole.shape
    # The band lies within ``band`` of the hole's box; movers within ``reach`` of the band are all that reach it.
    y0, y1, x0, x1 = _hole_box(hole, int(np.ceil(band)) + reach + 1)
    crop = movers[y0:y1, x0:x1]
    if not crop.any():
        return None
    inside = hole[y0:y1, x0:x1]
    # (the whole hole lies in the crop, so the distances to it are the frame's own)
    distance = cv2.distanceTransform((~inside).astype(np.uint8), cv2.DIST_L2, 5)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
    added = cv2.dilate(crop.astype(np.uint8), kernel).view(bool)
    added &= (distance <= band) & ~inside & ~crop
    if not added.any():
        return None
    out = np.zeros((height, width), bool)
    out[y0:y1, x0:x1] = added
    return out


def hidden_movers(movers: np.ndarray, hole: np.ndarray, scale: tuple[float, float]) -> np.ndarray | None:
    """The pixels nearer ``hole`` than ``SEEN_FROM_PX`` whose way straight out from it meets ``movers`` at that
    distance (full-resolution (H, W) bool; ``scale``: working / full resolution), or None where there are none:
    a mover as it goes on, unseen, up to the hole. Other frames read nothing there but for their points near
    where their own movers go on into their holes (:func:`near_hidden`).

    The detection is blind next to a hole (see the module's docstring): on tennis every 6th frame with a
    crossed square, 0 of the player's 555 pixels within 8 px of the hole were marked in frame 6, where his shin
    stands across the hole's edge, and all of them 12-40 px out; frame 5's hole read that shin (a hard-edged
    fragment, 1.1 dB below per-frame Telea) through the exemptions the fringe grants a frame whose own mover is
    near (hole RMSE 0.079; now 0.059, 1.4 dB above Telea). Carried straight out, not grown: the ground beside
    the mover is not taken with it, and the target's own movers (what the fringe's exemptions measure) stay as
    detected (carried on as well, they exempted more points and let a stepping walker's foot in again). A mover
    that stops within ~16 px of the hole is marked to ~10 px (the mask's growth) and takes the ground between
    with it.
    """
    if not hole.any() or not movers.any():
        return None
    seen = SEEN_FROM_PX / _per_px(scale)
    height, width = hole.shape
    y0, y1, x0, x1 = _hole_box(hole, int(np.ceil(seen)) + 2)
    crop = movers[y0:y1, x0:x1]
    if not crop.any():
        return None
    # (the whole hole lies in the crop, so the distances to it are the frame's own)
    distance = cv2.distanceTransform((~hole[y0:y1, x0:x1]).astype(np.uint8), cv2.DIST_L2, 5)
    ys, xs = np.nonzero((distance > 0) & (distance < seen) & ~crop)
    if not len(ys):
        return None
    # The way out from the hole: the distance's gradient (central differences; none on a ridge between holes).
    rows, cols = crop.shape
    gx = distance[ys, np.minimum(xs + 1, cols - 1)] - distance[ys, np.maximum(xs - 1, 0)]
    gy = distance[np.minimum(ys + 1, rows - 1), xs] - distance[np.maximum(ys - 1, 0), xs]
    norm = np.hypot(gx, gy)
    way = norm > 1e-3
    ys, xs, gx, gy, norm = ys[way], xs[way], gx[way], gy[way], norm[way]
    ahead = (seen - distance[ys, xs]) / norm
    ty = np.clip(np.rint(ys + gy * ahead), 0, rows - 1).astype(np.intp)
    tx = np.clip(np.rint(xs + gx * ahead), 0, cols - 1).astype(np.intp)
    hit = crop[ty, tx]
    if not hit.any():
        return None
    out = np.zeros((height, width), bool)
    out[ys[hit] + y0, xs[hit] + x0] = True
    return out


def beside_hidden(movers: np.ndarray, hole: np.ndarray, scale: tuple[float, float]) -> np.ndarray | None:
    """The hole pixels within ``BAND_PX`` of ``movers`` (full-resolution (H, W) bool; ``scale``: working / full
    resolution), or None where there are none: where a point hidden in the hole has a detected mover beside it.
    (The detection marks a mover from ~10 px out of the hole, so ``REACH_PX`` from it reaches barely into the
    hole; a mover coming out of the hole may still stand over its first ~12 px: the band's width, the fringe
    and its reach, takes those. On the tester's 10 px/frame crosser ``REACH_PX`` left its frames 25-26 1.2 dB
    below per-frame Telea: the chains passed the mover 15-18 px from it.)

    A chain walking in a direction in which the mover goes into the hole (:func:`going_in`) that passes such a
    point while it is hidden has met a mover that, in the frames it reaches beyond, stands further in the hole
    and may show in their blind band, unmarked
    (:func:`blind_band`, :func:`.candidates.gather`): a person walking out of a static hole on the side the
    background is fetched from stands mostly in the hole a few frames before, showing only slivers beside it
    that the detection cannot see (docs/method.md, "Twenty-fifth pass (cross39)")."""
    if not hole.any() or not movers.any():
        return None
    reach = _pixels(BAND_PX, scale)
    height, width = hole.shape
    y0, y1, x0, x1 = _hole_box(hole, reach)
    crop = movers[y0:y1, x0:x1]
    if not crop.any():
        return None
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
    near = cv2.dilate(crop.astype(np.uint8), kernel).view(bool) & hole[y0:y1, x0:x1]
    if not near.any():
        return None
    out = np.zeros((height, width), bool)
    out[y0:y1, x0:x1] = near
    return out


#: How much nearer the hole (working px, :func:`mover_gap`) a frame's movers must stand than its previous
#: frame's to count as going into it on in time, or further to count as leaving it (:func:`going_in`).
GOING_PX = 1.0


def mover_gap(movers: np.ndarray | None, hole: np.ndarray, scale: tuple[float, float]) -> float | None:
    """How far (working px) the pixels of ``movers`` within twice ``BAND_PX`` of ``hole`` lie from it on
    average (full-resolution (H, W) bool; ``scale``: working / full resolution), None where there are none:
    where a frame's movers stand by its hole, to tell which way they go (:func:`going_in`)."""
    if movers is None or not hole.any() or not movers.any():
        return None
    reach = 2 * _pixels(BAND_PX, scale)
    y0, y1, x0, x1 = _hole_box(hole, reach)
    crop = movers[y0:y1, x0:x1]
    if not crop.any():
        return None
    distance = cv2.distanceTransform((~hole[y0:y1, x0:x1]).astype(np.uint8), cv2.DIST_L2, 5)[crop]
    distance = distance[distance <= reach]
    return float(distance.mean() * _per_px(scale)) if len(distance) else None


def going_in(gap: float | None, before: float | None, earlier: float | None = None) -> tuple[int, ...]:
    """The walking directions (+1: on in time, -1: back) in which a frame's movers beside its hole go further in,
    from how far they stand from it (``gap``, :func:`mover_gap`) and how far the previous frame's did
    (``before``; where that is within ``GOING_PX``, the frame's before it, ``earlier``: a person coming out of
    the hole grows out of it, its near edge staying at the hole, and its mean distance changes by less than a pixel
    in some frames: the tester's 10 px/frame crosser, frames 17, 20 and 21). Nearer now: on in time (a chain
    walking on meets them in the hole's band beyond); further now: back in time (a person walking out of the
    hole: the frames before show its slivers); about as far over both: neither, a mover standing by the hole
    (the tennis player beside the crossed square, frames 29-44, refused both ways, lost 0.2-2.4 dB); the
    previous frame without movers near the hole (a mover just come out of it, or just come near it): both."""
    if gap is None or before is None:
        return (1, -1)
    if abs(gap - before) <= GOING_PX and earlier is not None:
        before = earlier
    if gap < before - GOING_PX:
        return (1,)
    if gap > before + GOING_PX:
        return (-1,)
    return ()


def _hole_box(hole: np.ndarray, pad: int) -> tuple[int, int, int, int]:
    """The box (y0, y1, x0, x1: ends excluded) around ``hole``'s pixels grown by ``pad`` on every side, within
    the frame: the crop a hole's neighbourhood is worked on in, so the cost follows the hole, not the frame."""
    height, width = hole.shape
    rows, cols = np.flatnonzero(hole.any(axis=1)), np.flatnonzero(hole.any(axis=0))
    y0, y1 = max(int(rows[0]) - pad, 0), min(int(rows[-1]) + pad + 1, height)
    x0, x1 = max(int(cols[0]) - pad, 0), min(int(cols[-1]) + pad + 1, width)
    return y0, y1, x0, x1


def blind_band(
    hole: np.ndarray, scale: tuple[float, float], movers: np.ndarray | None = None
) -> np.ndarray | None:
    """The pixels within ``BAND_PX`` of ``hole`` that are not hole (full-resolution (H, W) bool; ``scale``:
    working / full resolution), or None without a hole: where the mover detection is blind. With ``movers``
    (the frame's), only those within ``BAND_PX`` of them: next to what the detection marked, where a mover it
    sees in part may show its unmarked slivers (the band's width, as for :func:`beside_hidden`)."""
    if not hole.any():
        return None
    band = BAND_PX / _per_px(scale)
    height, width = hole.shape
    y0, y1, x0, x1 = _hole_box(hole, int(np.ceil(band)) + 1)
    inside = hole[y0:y1, x0:x1]
    # (the whole hole lies in the crop, so the distances to it are the frame's own)
    distance = cv2.distanceTransform((~inside).astype(np.uint8), cv2.DIST_L2, 5)
    blind = (distance <= band) & ~inside
    if movers is not None:
        reach = _pixels(BAND_PX, scale)
        # (every mover within ``reach`` of the crop lies in the crop grown by it)
        gy0, gy1 = max(y0 - reach, 0), min(y1 + reach, height)
        gx0, gx1 = max(x0 - reach, 0), min(x1 + reach, width)
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
        near = cv2.dilate(movers[gy0:gy1, gx0:gx1].astype(np.uint8), kernel).view(bool)
        blind &= near[y0 - gy0 : y1 - gy0, x0 - gx0 : x1 - gx0]
    out = np.zeros((height, width), bool)
    out[y0:y1, x0:x1] = blind
    return out


def fringe_distance(movers: np.ndarray, fringe: np.ndarray, scale: tuple[float, float]) -> FringeDistance:
    """How far (working pixels) each pixel of ``fringe`` lies from ``movers``, for :meth:`FringeDistance.at`."""
    rows = np.flatnonzero(fringe.any(axis=1))
    cols = np.flatnonzero(fringe.any(axis=0))
    reach = _pixels(REACH_PX, scale) + 2
    height, width = fringe.shape
    # (one row and column above and left: a read there touches the box's first pixels)
    y0, y1 = max(int(rows[0]) - 1, 0), min(int(rows[-1]) + 2, height)
    x0, x1 = max(int(cols[0]) - 1, 0), min(int(cols[-1]) + 2, width)
    # Every mover within the fringe's reach of the box lies in the box grown by the reach.
    gy0, gy1 = max(y0 - reach, 0), min(y1 + reach, height)
    gx0, gx1 = max(x0 - reach, 0), min(x1 + reach, width)
    grown = movers[gy0:gy1, gx0:gx1]
    distance = cv2.distanceTransform((~grown).astype(np.uint8), cv2.DIST_L2, 5) * _per_px(scale)
    distance = distance[y0 - gy0 : y1 - gy0, x0 - gx0 : x1 - gx0]
    distance[~fringe[y0:y1, x0:x1]] = np.inf
    # A read whose floor is (y, x) touches (y..y+1, x..x+1): the smallest of the four (the last row and column
    # repeat themselves, as reads are clamped).
    padded = np.pad(distance, ((0, 1), (0, 1)), mode="edge")
    touched = np.minimum(
        np.minimum(padded[:-1, :-1], padded[:-1, 1:]), np.minimum(padded[1:, :-1], padded[1:, 1:])
    )
    return FringeDistance(touched.astype(np.float32), y0, x0)


def own_mover_distance(
    movers: np.ndarray | BoxedMask | None,
    ys: np.ndarray,
    xs: np.ndarray,
    scale: tuple[float, float],
    within: float = OWN_PX,
) -> np.ndarray | None:
    """Per point (``ys``, ``xs``: a target's hole and ring pixels), the working-pixel distance to the target's
    own nearest mover where it is within ``within`` (``OWN_PX``; the engine passes ``FAST_OWN_PX`` on a fast
    frame: there the mover may stand in the hole now, and what the other frames show next to it may be it), inf
    elsewhere. None when no point is that near."""
    if movers is None or len(ys) == 0:
        return None
    reach = _pixels(within, scale)
    height, width = movers.shape
    y0, y1 = max(int(ys.min()) - reach, 0), min(int(ys.max()) + reach + 1, height)
    x0, x1 = max(int(xs.min()) - reach, 0), min(int(xs.max()) + reach + 1, width)
    crop = movers.region(y0, y1, x0, x1) if isinstance(movers, BoxedMask) else movers[y0:y1, x0:x1]
    if not crop.any():
        return None
    distance = cv2.distanceTransform((~crop).astype(np.uint8), cv2.DIST_L2, 5)[ys - y0, xs - x0]
    near = distance <= reach
    if not near.any():
        return None
    return np.where(near, distance * _per_px(scale), np.inf).astype(np.float32)


def own_reach(
    movers: np.ndarray | None, ys: np.ndarray, xs: np.ndarray, scale: tuple[float, float], fast: bool
) -> np.ndarray | None:
    """Per point of a target (``ys``, ``xs``; ``movers``: its own), how far its own mover lies (working px) as the
    sources' mover fringes are read (:meth:`.candidates.Source.touches`): within ``OWN_PX`` (a ``fast`` frame:
    ``FAST_OWN_PX``), inf beyond (a fast frame: -inf, every fringe is read); None: inf for every point."""
    own = own_mover_distance(movers, ys, xs, scale, FAST_OWN_PX if fast else OWN_PX)
    if fast:
        own = np.full(len(ys), -np.inf, np.float32) if own is None else np.where(own < np.inf, own, -np.inf)
    return own


def near_hidden(
    hidden: BoxedMask | None, ys: np.ndarray, xs: np.ndarray, scale: tuple[float, float]
) -> np.ndarray | None:
    """Per point of a target, whether its own movers go on unseen into its hole (``hidden``, the target's
    :func:`hidden_movers`) within ``OWN_PX`` of it (such a point reads the other frames' hidden movers: the mover
    may stand in its hole now); None: for none."""
    near = own_mover_distance(hidden, ys, xs, scale, OWN_PX)
    return None if near is None else near < np.inf


def near_own_mover(
    movers: np.ndarray | None, ys: np.ndarray, xs: np.ndarray, scale: tuple[float, float]
) -> np.ndarray | None:
    """Per point of a target, whether one of its own ``movers`` lies within ``FAST_OWN_PX`` (None: for none)."""
    own = own_mover_distance(movers, ys, xs, scale, FAST_OWN_PX)
    return None if own is None else own < np.inf


def _per_px(scale: tuple[float, float]) -> float:
    """Working pixels per full-resolution pixel (the smaller axis)."""
    return max(min(scale), 1e-6)


def _pixels(working: float, scale: tuple[float, float]) -> int:
    """``working`` pixels as a whole number of full-resolution pixels (at least 1)."""
    return max(int(round(working / _per_px(scale))), 1)
