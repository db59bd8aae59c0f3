"""Far reach: what a frame ``radius`` back already recovered, read where a point's chain ends unfilled.

A chain stops after ``radius`` frames. Under a slow pan, background that slid under a static patch at the frame
edge (a broadcaster's bug, a burnt-in caption) was last seen more frames back than that: the chain of such a
point walks all ``radius`` frames through the patch without finding plate. But the frame where it stops filled
that very spot from *its* ``radius`` frames back, so its propagation (plates only) is read there instead: the
reach backward in time doubles, one level only (a frame's recovered pixels come from plates, never from another
frame's recovered pixels), so a frame's pixels still depend on a bounded span of frames (``2 * radius`` back)
and a whole-shot stream has every such frame's propagation made already (it goes forward): no plate is held
longer for it. Forward in time the same read would need the plates ``2 * radius`` ahead held: not done.

Only points nothing else was found for read it, so every pixel propagation filled before keeps its value; and
only where the frame's own propagation was sure there (found from plates with a confidence, from its fusion's
cues alone, of at least ``fallback_high``: its seam and ring checks depend on its other hole pixels and are not
used), at all four pixels a bilinear read touches. A far read's quality falls where the plate around the hole
changed since that frame (:data:`RING_AGREE`): a person now standing beside the hole.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from ..flow import push_pull_fill, sample_points
from ..flow.ops import largest_channel
from .candidates import Candidates, Frontier
from .confidence import pixel_confidence
from .fusion import Fused

#: A far read is trusted as far as the plate around the hole it was recovered in agrees with the target's: the
#: two frames' ring membranes (:func:`ring_membrane`; the earlier one read at the same position as the value)
#: differing by this share of the target's level halve its quality (:func:`ring_agreement`), so the fallback
#: takes over smoothly. A far read spans up to ``2 * radius`` frames inside the hole; beside an unmasked person
#: who came to stand by the hole since, far reads were 1-3 px misplaced and what the earlier frame recovered
#: there was itself 0.13-0.18 off (schoolgirls pushed in, crossed squares: 15 % of frames below Telea − 1 dB,
#: 0 % with this). The changed ring flags them; it is not their cause, and it also flags good far reads where a
#: person stands by the hole (the same clip's static square: −0.13 dB; 0.5 cost it 0.66): docs/method.md,
#: "Fourteenth pass (carry22)". 0: off.
RING_AGREE = 1.0
#: Pixels of plate around the hole's box that :func:`ring_membrane` is made from.
RING_MARGIN = 3
#: :func:`ring_membrane` is made at most this many pixels a side (the box shrunk by a whole factor): a membrane
#: is smooth, and at full resolution it cost ~20 ms a frame for nine squares at 1080p (0.5 ms at 432x240).
RING_SIDE = 256


def ring_box(ys: np.ndarray, xs: np.ndarray, shape: tuple[int, ...]) -> tuple[tuple[int, int, int, int], int]:
    """The box ``(y0, y1, x0, x1)`` of a frame of ``shape`` that :func:`ring_membrane` reads for hole pixels
    (``ys``, ``xs``; at least one), and the whole factor it shrinks that box by (see there)."""
    height, width = shape[:2]
    side = max(int(ys.max()) - int(ys.min()), int(xs.max()) - int(xs.min())) + 1
    factor = -(-side // RING_SIDE)
    margin = max(RING_MARGIN, 2 * factor)
    y0, x0 = max(int(ys.min()) - margin, 0), max(int(xs.min()) - margin, 0)
    y1, x1 = min(int(ys.max()) + margin + 1, height), min(int(xs.max()) + margin + 1, width)
    return (y0, y1, x0, x1), factor


def ring_membrane(
    plate: np.ndarray, ys: np.ndarray, xs: np.ndarray, at: np.ndarray | None = None
) -> np.ndarray:
    """At hole pixels (``ys``, ``xs``; only those indexed by ``at`` when given): a smooth membrane (push-pull) of
    the plate in the hole's box and the :data:`RING_MARGIN` pixels around it, the hole unknown ((N, 3)): the low
    frequencies the plate around the hole says each hole pixel has, whatever was put in it. A box longer than
    :data:`RING_SIDE` is shrunk by a whole factor first (its margin widened to two shrunk pixels; a shrunk pixel
    is plate where all of it is)."""
    if len(ys) == 0 or (at is not None and len(at) == 0):
        return np.zeros((0, 3), np.float32)
    (y0, y1, x0, x1), factor = ring_box(ys, xs, plate.shape[:2])
    known = np.ones((y1 - y0, x1 - x0), bool)
    known[ys - y0, xs - x0] = False
    if at is not None:
        ys, xs = ys[at], xs[at]
    if factor == 1:
        membrane = push_pull_fill(plate[y0:y1, x0:x1], known)
        return np.ascontiguousarray(membrane[ys - y0, xs - x0], dtype=np.float32)
    size = (-(-(x1 - x0) // factor), -(-(y1 - y0) // factor))
    small = cv2.resize(plate[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA)
    plate_share = cv2.resize(known.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    membrane = push_pull_fill(small, plate_share >= 1.0 - 1e-6)
    at_x = ((xs - x0).astype(np.float32) + 0.5) / factor - 0.5
    at_y = ((ys - y0).astype(np.float32) + 0.5) / factor - 0.5
    return sample_points(membrane, at_x, at_y).astype(np.float32, copy=False)


class RingMembrane:
    """A frame's :func:`ring_membrane` at its hole pixels (``ys``, ``xs``), made when first read: one frame's
    recovered pixels, far reads and held reads (``Propagation._held``) read the same membrane, one push-pull a
    frame instead of one each (~14 ms a call for nine squares at 1080p). The values are those
    :func:`ring_membrane` gives at any subset of the points."""

    def __init__(self, plate: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> None:
        self.plate, self.ys, self.xs = plate, ys, xs
        self._values: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ys)

    def at(self, points: np.ndarray) -> np.ndarray:
        """The membrane at hole points ``points`` (indices into ``ys``, ``xs``), (M, 3) float32."""
        if self._values is None:
            self._values = ring_membrane(self.plate, self.ys, self.xs)
        return self._values[points]

    def around(self, ys: np.ndarray, xs: np.ndarray, points: np.ndarray) -> np.ndarray:
        """What the plate around the hole says the frame's ``points`` (indices into ``ys``, ``xs``: its hole
        pixels first, as this membrane's, then its seam ring's) have: a hole point the membrane, a seam-ring
        point (plate) its own value."""
        out = self.plate[ys[points], xs[points]].astype(np.float32)
        inside = np.flatnonzero(points < len(self))
        out[inside] = self.at(points[inside])
        return out


def ring_agreement(
    earlier: np.ndarray, own: np.ndarray, level: float, share: float | None = None
) -> np.ndarray:
    """Per point (0..1): ``1 / (1 + (d / (share × level))²)`` of the largest channel of |``earlier`` −
    ``own``| (two ring membranes, :func:`ring_membrane`, at the same exposure, or values against one);
    ``share``: :data:`RING_AGREE` by default, 0 or less: all 1."""
    share = RING_AGREE if share is None else share
    if share <= 0:
        return np.ones(len(own), np.float32)
    d = largest_channel(np.abs(earlier - own)) / max(share * level, 1e-6)
    return (1.0 / (1.0 + d * d)).astype(np.float32)


@dataclass(frozen=True)
class Recovered:
    """What a frame's propagation recovered from plates in its hole: ``sure`` (h, w) bool, the box around its sure
    pixels (first pixel at frame pixel (``y0``, ``x0``)), and per sure pixel, in ``sure``'s row-major order, its
    ``values`` (M, 3) float32 at the frame's own exposure. Kept as the sure pixels' values, not as a box of them:
    a stream keeps ``radius`` and a few of these, and the box of holes spread over the frame (nine squares,
    tracking markers) is most of the frame (as two float32 RGB boxes a frame they were 1.8 GB of a 4K removal's peak)."""

    y0: int
    x0: int
    sure: np.ndarray
    values: np.ndarray
    #: :func:`ring_membrane` of the frame at the same pixels (None: not made).
    ring: np.ndarray | None = None

    @cached_property
    def _row_starts(self) -> np.ndarray:
        """Index in ``values`` of each box row's first sure pixel (and the count after the last row)."""
        starts = np.zeros(self.sure.shape[0] + 1, np.intp)
        np.cumsum(np.count_nonzero(self.sure, axis=1), out=starts[1:])
        return starts

    def rows(self, first: int, stop: int, ring: bool = False) -> np.ndarray:
        """Box rows ``first`` to ``stop`` (exclusive) as an image: the sure pixels' values (their ``ring`` values),
        0 elsewhere: what a bilinear read of the box reads there."""
        per_pixel = self.values if not ring else self.ring
        assert per_pixel is not None
        starts = self._row_starts
        band = np.zeros((stop - first, self.sure.shape[1], 3), np.float32)
        band[self.sure[first:stop]] = per_pixel[starts[first] : starts[stop]]
        return band


def recovered(
    ys: np.ndarray, xs: np.ndarray, fused: Fused, sure_from: float, membrane: RingMembrane | None = None
) -> Recovered | None:
    """The frame's recovered pixels, from its hole pixels (``ys``, ``xs``) and their fusion (rows in the same
    order, ring points after them ignored); None when none is sure. With its ring ``membrane`` at those pixels
    (and :data:`RING_AGREE`), that too."""
    n = len(ys)
    found = fused.found[:n]
    cues = pixel_confidence(fused.align[:n], fused.rejected[:n], fused.gap[:n], fused.nearest[:n])
    sure = found & (cues >= sure_from)
    if not sure.any():
        return None
    sy, sx = ys[sure], xs[sure]
    y0, x0 = int(sy.min()), int(sx.min())
    shape = (int(sy.max()) - y0 + 1, int(sx.max()) - x0 + 1)
    held = np.zeros(shape, bool)
    held[sy - y0, sx - x0] = True
    # The sure pixels in the box's row-major order (a hole's pixels come so from np.nonzero; any order is taken).
    keys = (sy - y0).astype(np.intp) * shape[1] + (sx - x0)
    order = slice(None) if bool(np.all(keys[1:] > keys[:-1])) else np.argsort(keys, kind="stable")
    values = np.ascontiguousarray(fused.values[:n][sure][order], dtype=np.float32)
    ring = None
    if membrane is not None and RING_AGREE > 0:
        ring = np.ascontiguousarray(membrane.at(np.flatnonzero(sure))[order], dtype=np.float32)
    return Recovered(y0, x0, held, values, ring)


def read(
    found: Recovered, xs: np.ndarray, ys: np.ndarray, ring: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Where bilinear reads at full-resolution positions (``xs``, ``ys``, inside the frame) touch only sure
    pixels (bool (N,)), and their values there ((M, 3), for those only); their ``ring`` values instead when
    asked."""
    height, width = found.sure.shape
    cols = np.floor(xs).astype(np.intp) - found.x0
    rows = np.floor(ys).astype(np.intp) - found.y0
    # A read touches its floor pixel and the next one right and down (the next is itself at the frame's edge).
    inside = (cols >= 0) & (rows >= 0) & (cols < width) & (rows < height)
    ok = np.zeros(len(xs), bool)
    where = np.flatnonzero(inside)
    r, c = rows[where], cols[where]
    r1 = np.minimum(r + 1, height - 1)
    c1 = np.minimum(c + 1, width - 1)
    # (beyond the box's last row or column: sure only if the read's weight there is 0, i.e. on the last pixel)
    last_row = (r + 1 >= height) & (ys[where] - found.y0 > r)
    last_col = (c + 1 >= width) & (xs[where] - found.x0 > c)
    sure = found.sure
    ok[where] = sure[r, c] & sure[r, c1] & sure[r1, c] & sure[r1, c1] & ~last_row & ~last_col
    if not ok.any():
        return ok, np.zeros((0, 3), np.float32)
    # Only the rows the reads touch are made: shifted by a whole row the positions read the same pixels with the
    # same weights (a float32 position less a smaller whole number is exact, and the border rows are the box's).
    first = int(rows[ok].min())
    stop = min(int(rows[ok].max()) + 2, height)
    at_x = xs[ok] - np.float32(found.x0)
    at_y = ys[ok] - np.float32(found.y0) - np.float32(first)
    return ok, sample_points(found.rows(first, stop, ring), at_x, at_y).astype(np.float32, copy=False)


def far_candidates(
    frontier: Frontier,
    missing: np.ndarray,
    found: Recovered,
    gain: np.ndarray,
    direction: int,
    own_ring: Callable[[np.ndarray], np.ndarray] | None = None,
    level: float = 1.0,
) -> tuple[Candidates, np.ndarray]:
    """Candidates for the frontier's points that are ``missing`` (bool per target point: nothing found), read
    from what the frame it reached recovered (``found``), brought to the target's exposure by ``gain``. They
    count ``2 * steps`` frames away: the recovered value itself may have come that much further. With
    ``own_ring`` (what gives the target's :func:`ring_membrane` at given points of it) and ``found.ring``, also each
    candidate's :func:`ring_agreement` (ones otherwise), which scales its quality."""
    want = missing[frontier.point]
    if not want.any():
        return Candidates.empty(), np.ones(0, np.float32)
    xs, ys = frontier.x[want], frontier.y[want]
    ok, values = read(found, xs, ys)
    count = int(ok.sum())
    points = frontier.point[want][ok]
    agreement = np.ones(count, np.float32)
    if own_ring is not None and found.ring is not None and count:
        _, earlier = read(found, xs[ok], ys[ok], ring=True)
        agreement = ring_agreement(earlier * gain, own_ring(points), level)
    candidates = Candidates(
        points,
        (values * gain).astype(np.float32, copy=False),
        np.full(count, direction, np.int8),
        np.full(count, 2 * frontier.steps, np.int16),
        frontier.fb[want][ok],
        frontier.travel[want][ok],
        frontier.fit[want][ok],
    )
    return candidates, agreement
