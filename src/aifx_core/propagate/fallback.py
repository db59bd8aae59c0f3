"""Stage 4, fallback: where propagation is unsure, blend towards the keyframe/spatial route, never cut.

What no neighbour saw, and what propagation found only with low confidence, is invented once per keyframe
block by the spatial backend on the block's keyframe (the user's, else the frame with the largest hole: a cue
the masks give without propagating the block, so the shot's keyframes are decided once, cheaply, by the
anchors stage and every farm chunk reads them)
and carried to the other frames by the same chained flow, cross-fading between the keyframes before and
after (:func:`carry`), so the invented part moves with the plate instead of boiling.

Carrying keyframe content is only as good as the flow that carries it: where those chains are poor (a fast,
blurred pan), the fallback itself blends towards a spatial fill of the frame (:func:`carry` reports the
quality), so the result is never worse than a blur. Conversely, propagation gives way to a fallback that
is mostly such a blur only at a lower confidence (``scale`` in :func:`blend_weights`, engine ``CARRY_TRUST``).

What the fallback gives a frame, and what propagation fetched with little confidence, is made per frame and
would boil; :func:`steady` averages it along the flow with the neighbours' own (unsteadied) fills
(:class:`Filled`), so it moves with the plate, and reads only frames within a fixed reach (chunks stay exact).

A pixel's share of its propagated value (``alpha``, :func:`blend_weights`) follows its confidence through a
smoothstep and is blurred, so the transition between the routes is a soft ramp over a few pixels, never a
hard-edged block. Confidence comes
from smooth cues (chain errors, consensus, seam residual), so alpha also changes smoothly from frame to frame.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ..flow import median_side, sample_points
from ..flow.ops import largest_channel
from .chain import SLACK_FAST_PX, Chain
from .confidence import FIT_SHARE, MISALIGN_PX, TRAVEL_SHARE


def smoothstep(low: float, high: float, value: np.ndarray) -> np.ndarray:
    u = np.clip((value - low) / max(high - low, 1e-6), 0.0, 1.0)
    return (u * u * (3.0 - 2.0 * u)).astype(np.float32)


def blend_weights(
    ys: np.ndarray,
    xs: np.ndarray,
    confidence: np.ndarray,
    found: np.ndarray,
    low: float,
    high: float,
    soften: int = 3,
    scale: np.ndarray | None = None,
) -> np.ndarray:
    """Per hole point, the weight (0..1) of the propagated value against the fallback route.

    ``smoothstep(low, high, confidence)`` (both thresholds times ``scale`` per point when given), then a normalised Gaussian of ``soften`` pixels over the found
    points and the plate around the hole (which counts as 1: it is real), so a low-confidence patch ramps
    into its surroundings, but no higher than the same Gaussian over the found points alone (or the point's own
    share): the plate does not lift the points of a thin hole that nothing sure is near; pixels propagation did not find stay 0 and do not pull their neighbours down (their
    fallback is offset to meet those neighbours: :mod:`.meet`).
    """
    if scale is None:
        share = smoothstep(low, high, confidence)
    else:
        share = smoothstep(0.0, 1.0, (confidence - low * scale) / np.maximum((high - low) * scale, 1e-6))
    alpha = np.where(found, share, 0.0).astype(np.float32)
    if len(ys) == 0 or soften <= 0 or bool((alpha[found] >= 1.0).all()):
        return alpha
    pad = 3 * soften
    y0, x0 = int(ys.min()) - pad, int(xs.min()) - pad
    shape = (int(ys.max()) - y0 + pad + 1, int(xs.max()) - x0 + pad + 1)
    canvas = np.ones(shape, np.float32)
    weight = np.ones(shape, np.float32)
    canvas[ys - y0, xs - x0] = alpha
    weight[ys - y0, xs - x0] = found
    blurred = cv2.GaussianBlur(canvas * weight, (0, 0), soften, borderType=cv2.BORDER_REPLICATE)
    norm = cv2.GaussianBlur(weight, (0, 0), soften, borderType=cv2.BORDER_REPLICATE)
    out = np.clip(blurred[ys - y0, xs - x0] / np.maximum(norm[ys - y0, xs - x0], 1e-6), 0.0, 1.0)
    # The plate lifts a point no higher than the found points around it alone say (the same Gaussian without
    # the plate; a point's own share stays a floor): next to a thin hole (a wire mesh, specks) the plate fills
    # most of the Gaussian, and points of confidence ~0 came back at ~0.8, misregistered values written nearly
    # whole (docs/method.md, *Thin holes*).
    own = np.zeros(shape, np.float32)
    own[ys - y0, xs - x0] = found
    alone = cv2.GaussianBlur(canvas * own, (0, 0), soften, borderType=cv2.BORDER_REPLICATE)
    count = cv2.GaussianBlur(own, (0, 0), soften, borderType=cv2.BORDER_REPLICATE)
    around = alone[ys - y0, xs - x0] / np.maximum(count[ys - y0, xs - x0], 1e-6)
    out = np.minimum(out, np.maximum(around, alpha))
    return np.where(found, out, 0.0).astype(np.float32)


class Patched:
    """A frame's plate with its hole filled (a keyframe's image), read like that whole image: held as the plate
    itself, shared with the frame while the frame holds it, and a copy of the box around the hole with the fill
    written in. A keyframe image kept as a whole copy was 25 MB at 1080p, and the ~4 a run holds are read while
    their frames' plates are held too (~95 MB of the 1080p peak); the box is a few hole-sized bytes.

    ``sample`` is :func:`~aifx_core.flow.sample_points` on the whole image, and ``at`` its pixels, bit for bit: a
    bilinear read whose 2x2 footprint may touch the hole reads the box (OpenCV's remap puts a position on a
    1/32-pixel grid, which an integer shift of the box keeps), any other reads the plate, which is the image
    there. The plate is never written to (the engine copies before it writes).

    ``values`` may be a callable that gives them: it is called on the first read (a keyframe image whose spatial
    fill runs in another thread meanwhile is waited for only when something reads it)."""

    #: Pixels of plate kept around the hole's box: a read near it (2 px, below) stays inside with its footprint.
    MARGIN = 3

    def __init__(
        self,
        plate: np.ndarray,
        ys: np.ndarray,
        xs: np.ndarray,
        values: np.ndarray | Callable[[], np.ndarray],
    ) -> None:
        height, width = plate.shape[:2]
        self.plate = plate
        self.shape = plate.shape
        self._pending: tuple[np.ndarray, np.ndarray, Callable[[], np.ndarray]] | None = None
        if len(ys) == 0:
            self.hole = (0, 0, 0, 0)
            self.y0 = self.x0 = 0
            self._box = plate[:0, :0].copy()
            return
        top, left = int(ys.min()), int(xs.min())
        bottom, right = int(ys.max()) + 1, int(xs.max()) + 1
        #: The hole's box (y0, y1, x0, x1): outside it the image is the plate.
        self.hole = (top, bottom, left, right)
        margin = self.MARGIN
        self.y0, self.x0 = max(top - margin, 0), max(left - margin, 0)
        self._box = plate[self.y0 : min(bottom + margin, height), self.x0 : min(right + margin, width)].copy()
        if callable(values):
            self._pending = (ys, xs, values)
        else:
            self._box[ys - self.y0, xs - self.x0] = values

    @property
    def box(self) -> np.ndarray:
        """The copy of the plate around the hole's box, with the fill written in (made on the first read)."""
        if self._pending is not None:
            ys, xs, make = self._pending
            self._box[ys - self.y0, xs - self.x0] = make()
            self._pending = None
        return self._box

    def at(self, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """The image's pixels at integer positions (N, 3)."""
        height, width = self.box.shape[:2]
        inside = (ys >= self.y0) & (ys < self.y0 + height) & (xs >= self.x0) & (xs < self.x0 + width)
        if inside.all():
            return self.box[ys - self.y0, xs - self.x0]
        out = self.plate[ys, xs]
        out[inside] = self.box[ys[inside] - self.y0, xs[inside] - self.x0]
        return out

    def sample(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """Bilinear samples at float positions inside the frame (N, 3), as ``sample_points`` on the whole image."""
        top, bottom, left, right = self.hole
        # A read's footprint is the columns of its 1/32-rounded position and the next: within 2 px of the box.
        near = (xs >= left - 2) & (xs < right + 1) & (ys >= top - 2) & (ys < bottom + 1)
        if self.box.size == 0 or not near.any():
            return sample_points(self.plate, xs, ys)
        if near.all():
            return sample_points(self.box, xs - np.float32(self.x0), ys - np.float32(self.y0))
        out = np.empty((len(xs), 3), self.plate.dtype)
        out[near] = sample_points(self.box, xs[near] - np.float32(self.x0), ys[near] - np.float32(self.y0))
        far = ~near
        out[far] = sample_points(self.plate, xs[far], ys[far])
        return out

    def hole_values(self, hole: np.ndarray) -> np.ndarray:
        """The image at ``hole``'s pixels, in ``image[hole]``'s order."""
        height, width = self.box.shape[:2]
        return self.box[hole[self.y0 : self.y0 + height, self.x0 : self.x0 + width]]


def choose_keyframe(members: Sequence[int], need: Sequence[int], user: Sequence[bool]) -> int | None:
    """The block's keyframe: the user's (first one), else the member with the largest ``need`` (its hole's
    pixel count; first on ties), else None (no hole in the block: nothing to invent)."""
    for index, wanted in zip(members, user, strict=True):
        if wanted:
            return index
    if need and max(need) > 0:
        return members[int(np.argmax(need))]  # argmax takes the first maximum: deterministic
    return None


def carry(
    t: int,
    xs: np.ndarray,
    ys: np.ndarray,
    keyframes: Sequence[int],
    image: Callable[[int], Patched],
    chain: Callable[[int, int, np.ndarray, np.ndarray, bool], Chain],
    gain: Callable[[int, int], np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keyframe content at points (``xs``, ``ys``) of frame t: (values (N, 3), got (N,) bool, quality (N,)).

    First along consistency-checked chains; what those lose (the chain crossed an occlusion or a flow error)
    is carried by the completed flow alone, which still moves with the plate, unlike a per-frame spatial fill.
    Keyframes before and after t are cross-faded by 1/temporal distance. ``quality`` (0..1) is how well the
    carrying chains held (round-trip error, fit residual, travel, as for a candidate; unchecked chains count
    their failed round trips too): a keyframe carried far through a fast, blurred pan is no better than a blur.
    """
    n = len(xs)
    values = np.zeros((n, 3), np.float32)
    quality = np.zeros(n, np.float32)
    got = np.zeros(n, bool)
    if t in keyframes:
        values[:] = image(t).at(ys.astype(np.intp), xs.astype(np.intp))
        got[:] = True
        quality[:] = 1.0
        return values, got, quality
    for checked in (True, False):
        missing = np.nonzero(~got)[0]
        if len(missing) == 0:
            break
        accum = np.zeros((len(missing), 3), dtype=np.float32)
        weight = np.zeros(len(missing), dtype=np.float32)
        sure = np.zeros(len(missing), dtype=np.float32)
        mx, my = xs[missing].astype(np.float32), ys[missing].astype(np.float32)
        for key in keyframes:
            way = 1 if key > t else -1
            walk = chain(t, way, mx, my, checked)
            # (bounded: each step moves on; a walk that steps over the keyframe, a frame cut off from both its
            # neighbours, ends past it, unused)
            while (key - walk.current) * way > 0 and len(walk):
                walk.step()
            if walk.current != key or len(walk) == 0:
                continue
            w = 1.0 / abs(key - t)
            accum[walk.index] += w * gain(key, t) * image(key).sample(walk.x, walk.y)
            weight[walk.index] += w
            error = walk.fb + FIT_SHARE * walk.fit + TRAVEL_SHARE * walk.travel
            sure[walk.index] += w / (1.0 + (error / MISALIGN_PX) ** 2)
        ok = weight > 0
        values[missing[ok]] = accum[ok] / weight[ok][:, None]
        quality[missing[ok]] = sure[ok] / weight[ok]
        got[missing[ok]] = True
    return values, got, quality


class Filled:
    """A frame as its neighbours read it when they steady their fill: its plate, with its own (not yet steadied)
    fill in the hole, where it may be read (``readable``, 0..1: never an unmasked mover, so a passing car is
    not carried into a neighbour's hole). Only a crop around the hole is copied (premultiplied by
    ``readable``); elsewhere the plate itself is read, so memory stays at a few hole-sized crops."""

    def __init__(
        self,
        plate: np.ndarray,
        blocked: np.ndarray,
        ys: np.ndarray,
        xs: np.ndarray,
        values: np.ndarray,
        readable: np.ndarray,
        readable_fast: np.ndarray | None = None,
    ) -> None:
        height, width = blocked.shape
        self.plate = plate
        self._blocked = blocked
        #: ``blocked`` * 255 as uint8, sampled bilinearly (the blocked share) where a read falls outside the crop;
        #: made on the first such read (a full-frame pass: 2 MB at 1080p, and most steps read inside the crop).
        self._blocked_255: np.ndarray | None = None
        # The crop holds the hole and one pixel around it, so a bilinear footprint outside the crop's inner part
        # never touches the hole.
        self.y0 = self.x0 = self.y1 = self.x1 = 0
        if len(ys):
            self.y0, self.x0 = max(int(ys.min()) - 1, 0), max(int(xs.min()) - 1, 0)
            self.y1, self.x1 = min(int(ys.max()) + 2, height), min(int(xs.max()) + 2, width)
        self._box = np.s_[self.y0 : self.y1, self.x0 : self.x1]
        self._holes = (ys - self.y0, xs - self.x0)
        #: The fill at the hole's pixels, as the plate's dtype holds it: a crop is made from the plate (held and
        #: never written) and these when first read, so no crop-sized copy is held for a crop never read.
        self._values = np.asarray(values).astype(plate.dtype)
        self._readable = (readable,) if readable_fast is None else (readable, readable_fast)
        #: Per readable map, the crop premultiplied by it with the weight as a fourth channel (made on first use:
        #: the fast one is read only by fast walk steps).
        self._crops: list[np.ndarray | None] = [None] * len(self._readable)

    def _crop(self, which: int) -> np.ndarray:
        made = self._crops[which]
        if made is None:
            image = self.plate[self._box].copy()
            image[self._holes] = self._values
            weight = 1.0 - self._blocked[self._box].astype(np.float32)
            weight[self._holes] = self._readable[which]
            made = np.concatenate([image * weight[..., None], weight[..., None]], axis=-1)
            made = self._crops[which] = made.astype(np.float32, copy=False)
        return made

    def _in_crop(self, xs: np.ndarray, ys: np.ndarray, fast: bool) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`sample` at positions inside the crop: (values normalised by their share, share)."""
        got = sample_points(self._crop(len(self._crops) - 1 if fast else 0), xs - self.x0, ys - self.y0)
        share = got[:, 3]
        return got[:, :3] / np.maximum(share, 1e-6)[:, None], share

    def sample(self, xs: np.ndarray, ys: np.ndarray, fast: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(values (N, 3), share (N,)): bilinear samples at full-resolution positions, normalised by the share of
        each sample's footprint that was readable (0 where none was); ``fast``: read the hole at
        ``readable_fast`` (when given), as a fast walk step does."""
        near = (xs >= self.x0) & (xs < self.x1 - 1) & (ys >= self.y0) & (ys < self.y1 - 1)
        if near.all():
            # (most steps read inside the crop: no masked gathers and scatters)
            values, share = self._in_crop(xs, ys, fast)
            return values, np.where(share > 1e-3, share, 0.0).astype(np.float32)
        values = np.zeros((len(xs), 3), np.float32)
        share = np.zeros(len(xs), np.float32)
        if near.any():
            values[near], share[near] = self._in_crop(xs[near], ys[near], fast)
        far = ~near
        if far.any():
            far_x, far_y = xs[far], ys[far]
            values[far] = sample_points(self.plate, far_x, far_y)
            if self._blocked_255 is None:
                self._blocked_255 = self._blocked.astype(np.uint8) * np.uint8(255)
            share[far] = 1.0 - sample_points(self._blocked_255, far_x, far_y).astype(np.float32) / 255.0
        return values, np.where(share > 1e-3, share, 0.0).astype(np.float32)


@dataclass(frozen=True)
class Along:
    """What :func:`steady` reads of the shot around the frame it steadies.

    ``neighbours(j)``: frame j's :class:`Filled` (its own unsteadied fill, and its plate outside the hole);
    ``exists(j)``: whether the shot has frame j; ``chain(t, direction, xs, ys, checked)``: a walk of points
    from frame t along the completed flow; ``gain(j, t)``: frame j's exposure relative to t's (per channel);
    ``first(walk)``: takes a walk's first step from one made already (:meth:`.chain.Chain.replay`, the same
    values), or says it cannot (False: the walk steps itself).
    """

    neighbours: Callable[[int], Filled]
    exists: Callable[[int], bool]
    chain: Callable[[int, int, np.ndarray, np.ndarray, bool], Chain]
    gain: Callable[[int, int], np.ndarray]
    first: Callable[[Chain], bool] | None = None


@dataclass(frozen=True)
class Tolerances:
    """How much of a neighbour's value :func:`steady` takes, by how far its walk may have strayed.

    ``misalign_px``: the tolerance of the fallback's share (a blur misplaced by a few pixels is the same blur);
    ``texture_px``: of low-confidence propagated texture (out of register it is a blur); ``own_weight``: the
    frame's own value's weight.

    ``fast_texture_px``: the texture tolerance of a walk step whose points have moved at least
    ``chain.SLACK_FAST_PX`` working px per step so far (median over the points still followed): on a fast,
    motion-blurred pan fetched texture of low confidence boils like the fallback, and is averaged like it.
    ``fast_own_weight`` (with it): the frame's own weight at points some such fast step followed; the boil
    there is the frame's own value, so it counts less against what its neighbours made. ``fast_agree``: on such
    a step a neighbour's sample of the ring check's share counts 1 / (1 + (d / ``fast_agree``)²), d its largest
    channel difference from the frame's own value (see ``fast_spatial`` of :func:`steady`);
    ``fast_fallback_agree``: so does a neighbour's sample of the fallback's share there (``unsure``): on a fast
    pan the completed flow inside the hole may be tens of pixels out and read something else (tennis taken fast:
    the court read into the wall, a frame 3.8 dB below per-frame Telea); the boil is averaged, that barely is.

    ``texture_per_motion``: on the other steps the texture tolerance is at least this times the walk's median
    motion per step (working px): the completed flow errs in proportion to the motion, so on a dolly of 6 px a
    frame 2 px held back texture that only boils; a slow walk (under ``texture_px`` per step) is unchanged.
    """

    misalign_px: float
    texture_px: float
    own_weight: float = 2.0
    fast_texture_px: float | None = None
    fast_own_weight: float | None = None
    fast_agree: float = np.inf
    #: Near a mover of the frame (``steady``'s ``near_mover``) a fast step's sample of a propagated value counts
    #: 1 / (1 + (d / ``mover_agree``)²), d its largest channel difference from the frame's own value.
    mover_agree: float = np.inf
    texture_per_motion: float | None = None
    fast_fallback_agree: float = np.inf


def _apart(values: np.ndarray, own: np.ndarray) -> np.ndarray:
    """Per sample, its largest channel difference from the frame's own value (a non-finite sample: 1e6; it is not
    usable anyway and gets weight 0)."""
    with np.errstate(over="ignore", invalid="ignore"):
        apart = largest_channel(np.abs(values - own))
    return np.nan_to_num(apart, nan=1e6, posinf=1e6)


def steady(
    t: int,
    xs: np.ndarray,
    ys: np.ndarray,
    own: np.ndarray,
    unsure: np.ndarray,
    fetched: np.ndarray,
    along: Along,
    reach: int,
    tolerances: Tolerances,
    fast_spatial: np.ndarray | None = None,
    near_mover: np.ndarray | None = None,
) -> np.ndarray:
    """Frame t's fill at points (``xs``, ``ys``), averaged along the flow with its neighbours' where it is unsure.

    What the fallback invents (a spatial fill, made per frame) and what propagation fetches with little
    confidence change from frame to frame, where the plate moves on steadily: they boil. So each point is
    followed by the completed flow to the frames up to ``reach`` away (those the shot has: ``along.exists``),
    the neighbour's own fill (or plate, where the point lands outside its hole) is read there
    (``along.neighbours(j)``), and the values are averaged with the frame's own (weight ``own_weight``). A
    neighbour's weight is 1/distance times the readable share of its sample times how well the flow held (the
    chain's expected misalignment e, scored like a carried keyframe's): ``unsure`` (the point's fallback share)
    counts at 1 / (1 + (e / ``misalign_px``)²), a blur misplaced by a few pixels being the same blur, and
    ``fetched`` (its propagated share times its lack of confidence) at 1 / (1 + (e / ``texture_px``)²): texture
    averaged out of register is a blur. A point with neither keeps its value exactly. Only frames within
    ``reach`` and their unsteadied fills are read, so a frame's output does not depend on where a chunk starts.
    The tolerances, and how fast walks differ, are :class:`Tolerances`'.

    ``fast_spatial`` (with ``tolerances.fast_texture_px``): a weight per point like ``unsure``'s, counted on
    fast steps only (the ring check's share: on a fast pan a per-frame spatial fill that boils), each
    neighbour's sample weighed by its agreement with the frame's own value (``tolerances.fast_agree``); such a
    step reads the neighbours' whole holes (``Filled``'s ``readable_fast``).

    ``near_mover`` (per point, or None: none): where frame t's own mover is near, on a fast step a neighbour's
    sample of the ``fetched`` share counts as far as it agrees with the frame's own value
    (``tolerances.mover_agree``): the neighbours' fills there may hold the mover where it stood in their holes.
    """
    if len(xs) == 0 or reach <= 0:
        return own
    total = tolerances.own_weight * own.astype(np.float32)
    weight = np.full(len(xs), tolerances.own_weight, np.float32)
    fast = np.zeros(len(xs), bool)  # points some fast walk step followed
    for direction in (-1, 1):
        walk = along.chain(t, direction, xs.astype(np.float32), ys.astype(np.float32), False)
        for _ in range(reach):
            if len(walk) == 0:
                break
            # (the neighbour, or the frame beyond one the walk steps over: within ``reach`` still)
            distance = abs(walk.next - t)
            if distance > reach or not along.exists(walk.next):
                break
            if not (walk.steps == 0 and along.first is not None and along.first(walk)):
                walk.step()
            if len(walk) == 0:
                break
            quick = (
                tolerances.fast_texture_px is not None
                and median_side(walk.travel, SLACK_FAST_PX * distance) > 0
            )
            # (a fast step that averages the ring check's share too reads the neighbours' whole holes)
            whole = quick and fast_spatial is not None
            with np.errstate(over="ignore", invalid="ignore"):  # plates may hold values near float32's limit
                values, share = along.neighbours(walk.current).sample(walk.x, walk.y, whole)
                values = along.gain(walk.current, t) * values
            finite = np.isfinite(values)
            usable = finite[:, 0] & finite[:, 1] & finite[:, 2]  # (a strided all(axis=1) costs ~5x)
            # Every point still followed (the walk is unchecked: it drops only points leaving the frame): the
            # per-point arrays are read and written whole instead of through the index, the same values.
            every = len(walk) == len(xs)
            at = slice(None) if every else walk.index
            error = walk.fb + FIT_SHARE * walk.fit + TRAVEL_SHARE * walk.travel
            held = unsure[at] / (1.0 + (error / tolerances.misalign_px) ** 2)
            texture = tolerances.texture_px
            apart: np.ndarray | None = None  # (on a fast step: each sample's difference from the frame's own)
            if quick:
                assert tolerances.fast_texture_px is not None
                texture = tolerances.fast_texture_px
                fast[at] = True
                if fast_spatial is not None or np.isfinite(tolerances.fast_fallback_agree):
                    apart = _apart(values, own[at])
                    if np.isfinite(tolerances.fast_fallback_agree):
                        held = held / (1.0 + (apart / tolerances.fast_fallback_agree) ** 2)
                    if fast_spatial is not None:
                        agree = 1.0 / (1.0 + (apart / tolerances.fast_agree) ** 2)
                        held += agree * fast_spatial[at] / (1.0 + (error / tolerances.misalign_px) ** 2)
            elif tolerances.texture_per_motion is not None and len(walk.travel):
                # (the completed flow errs in proportion to the motion: a walk's own step is its tolerance)
                texture = max(
                    texture, tolerances.texture_per_motion * float(np.median(walk.travel)) / distance
                )
            taken = fetched[at] / (1.0 + (error / texture) ** 2)
            if quick and near_mover is not None and np.isfinite(tolerances.mover_agree):
                # Near a mover of frame t the neighbours' fills may hold it, where it stood in their holes: on a
                # fast step a propagated value's sample counts as far as it agrees with the frame's own value.
                mover = near_mover[at]
                if mover.any():
                    if apart is None:
                        apart = _apart(values, own[at])
                    taken = np.where(mover, taken / (1.0 + (apart / tolerances.mover_agree) ** 2), taken)
            held += taken
            every_usable = bool(usable.all())
            w = held * share / distance
            if not every_usable:
                w = np.where(usable, w, 0)
                values = np.where(usable[:, None], values, 0.0)
            with np.errstate(over="ignore", invalid="ignore"):
                total[at] += w[:, None] * values
            weight[at] += w
    if tolerances.fast_own_weight is not None and fast.any():
        # (the frame's own value counts less where a fast walk followed the point: take the difference off)
        less = np.where(fast, np.float32(tolerances.own_weight - tolerances.fast_own_weight), np.float32(0.0))
        total -= less[:, None] * own
        weight -= less
    with np.errstate(over="ignore", invalid="ignore"):
        out = total / weight[:, None]
    # A sum that overflowed (huge but legal plate values) keeps the frame's own value.
    return np.where(np.isfinite(out).all(axis=1)[:, None], out, own).astype(np.float32)
