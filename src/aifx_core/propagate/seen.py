"""The seen plate: on a locked-off or handheld shot, what every pixel showed whenever the hole left it clear.

Chains reach ``radius`` frames each way (:mod:`.far` twice that, backward only). On a tripod shot a person who
stands still for forty frames and then walks off hides background that other frames saw, but further away than
any chain goes: the fill there was invented (keyframe and spatial route) and changed to the real background
once a chain reached it. An artist builds a clean plate for such a shot; this is that clean plate, made by the
caller in one pass over the whole shot before the fill (:func:`scan`; the pipeline keeps it with the shot's anchors,
so farm chunks make it once), handed to every engine call of the shot (:attr:`.inpaint.base.Span.seen`), and read
only where propagation found nothing (:func:`seen_candidates`).

Per pixel it keeps the first and the last clear sighting (the pixel at least :data:`CLEAR_PX` from that frame's
hole) and their frames. A pixel counts as seen where the two are at least :data:`MIN_SPAN` frames apart and agree
(:data:`AGREE`): a car or a person that passed it in one of them (nothing of those is masked) shows as a
disagreement, and the pixel is left to the other routes.

Background seen only briefly (the shot's first frames before an object arrived on it for good; a camera that
showed a spot for three frames, moved off and came back to it; a gap between two occlusions) counts from
:data:`SHORT_SPAN` frames apart where every sighting in the span agreed with the first, not only the last: the
pass also keeps how far each sighting less than :data:`MIN_SPAN` frames after a pixel's first departed from it
(one more array; past a stretch's first frames only the pixels newly revealed cost). Three sightings leave more
to chance than two far apart, so:

* a mover that passed changes the values frame to frame and departs; one of a single colour that covered the
  pixel for the whole span agrees with itself there, but its edges moved: a pixel within :data:`STIRRED_PX` of
  a departed one reads with that departure as its gap, and a flat area (:data:`FLAT`: a car's side, not a
  textured ground) that reaches a departed pixel is given up whole;
* a car parked from the shot's start, hidden by the masked object and then driven off, agrees with itself in
  the span; its part beside the hole shows it leave (its two sightings disagree), and the flat area it reaches
  is given up the same way (a plain wall next to a passer-by goes with it: the spatial route fills a flat area
  well);
* grain and a registered frame's bilinear resampling differ pixel by pixel, a mover and a light change over an
  area: the sightings are compared smoothed (:data:`DEPART_SIGMA`), so grain does not make agreement fail;
* an exposure change within the span departs (given up, as safe); one since the span is the read's ring check's
  (:data:`RING_AGREE`), as for a long span, and the seam matches what is left;
* a still object whose roto is missing on three frames or more (two or fewer are masked,
  :func:`_dropouts_masked`) shows in them, and they agree: a span first seen in a frame whose hole is empty
  where the frame registered before it had one (the matte vanished) is not read;
* a roto begun three frames late on the shot's first frames, ended as early at its end or missing mid-shot
  while another object keeps the frame's hole shows the object clear, agreeing, as background seen before an
  object arrived does: but the object stands under the hole in the frame next to the span, where an object that
  arrived differs from the background it hides. A span whose sightings agree with that (the same smoothed
  comparison; the first registered frame whose hole covers the pixel after its last sighting, the last before
  its first: :meth:`_Stretch._beside`) is not read, so neither is a flat object over a background of its colour
  nor the hole's dilated margin (it shows the background). What stands under a hole is only compared; a value
  there that is not finite or far out of the first frame's range (a sentinel) agrees;
* a stretch registered over fewer than :data:`MIN_SPAN` frames (a pan's first frames, a tripod bumped early)
  makes no plate: its frames are within a chain's reach of each other.

The plate is kept in the first frame's pixels. Each next frame is registered to the first (a rotation and a shift:
a shaking or slowly drifting hand; else any affine map: a push-in; ECC from a phase correlation's start) and must
show the same content there (:data:`STILL_CHANGE`); a registration that moves no corner more than :data:`STILL_PX`
counts as still, so a tripod shot is neither resampled nor read resampled (its exact values come back). A frame
that is not registered (a jolt, a flash, someone passing the lens; a pan or a push-in past :data:`MAX_DRIFT`, a
cut, a light change) is neither read from nor read; the frames after it are registered again. :data:`MAX_MISSES`
such frames in a row end the pass (a shot that pans from its start makes no plate, after a few reads), unless the
camera is still again somewhere else (:data:`SETTLE`, a tripod bumped): a new stretch of the shot begins there,
with a plate of its own in its own first frame's pixels (:attr:`SeenPlate.later`), read by its frames.
The plate depends on the whole shot and nothing else, so every chunk of it, any window and a resumed run read the
same values.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from functools import cached_property

import cv2
import numpy as np

from ..flow import push_pull_fill
from ..flow.estimator import thumbnail_translation, working_size
from ..flow.ops import largest_channel
from ..inpaint.base import FramePacket
from ..mask import DROPOUT_RUN, dropouts_read
from .far import RingMembrane, ring_agreement, ring_box, ring_membrane
from .fusion import Fused

#: Thumbnails for the stillness check are at most this many pixels a side (as the flow's pre-alignment's).
THUMBNAIL = 160
#: A sighting is clear this far (pixels) from its frame's hole: a matte's edge holds the object's blur and hair.
CLEAR_PX = 3
#: The first and last clear sightings must be at least this many frames apart (a pixel seen in one short gap
#: could hold a slow unmasked mover in both).
MIN_SPAN = 8
#: A pixel seen over a shorter span (at least this many frames apart: three sightings where none was missed)
#: counts where every sighting in it, and every one of the pixels about it (:data:`STIRRED_PX`) seen that
#: briefly, agreed with its first (see the module docstring).
SHORT_SPAN = 2
#: How far (pixels) about a briefly seen pixel a departed sighting spoils it: a mover's edges.
STIRRED_PX = 6
#: A briefly seen pixel lies in a flat area where its smoothed first sightings vary by less than this share of
#: the agreement's tolerance within a pixel (:meth:`_Stretch._spoiled`): an area of one colour, as a car's side,
#: not a textured ground (the tests' texture: 1 % of it below 0.5 of the tolerance).
FLAT = 0.25
#: The sightings of a short span are compared smoothed by a Gaussian of this sigma (pixels): grain and a
#: bilinear resampling differ pixel by pixel (:meth:`_Stretch._depart`).
DEPART_SIGMA = 1.5
#: A briefly seen pixel agrees with what a hole next to its sightings showed where a pixel within this many
#: agrees (:meth:`_Stretch._beside`): that frame is registered apart from the sightings, and a still object
#: appearing where the first frame had a hole pulls a registration by a third of a pixel (the tests' tripod
#: shot), which along a sharp edge of it, smoothed, differs by more than the tolerance for two pixels.
SLACK_PX = 2
#: The two sightings differing by this share of the target frame's level (largest channel) halve the read's quality.
AGREE = 0.1
#: Largest distance (full-resolution pixels) a frame's registration moves a corner at which the frame counts as
#: still (read, and read from, as it is). ECC on schoolgirls (a tripod) finds at most 0.1 px; on the locked-off
#: shot of waving water and bushes (``nonrigid``) it wanders to 0.9 px, and there the two sightings disagree anyway.
STILL_PX = 0.25
#: Largest change of a registered frame's thumbnail from the first frame's, as a share of its contrast (median
#: absolute differences over the pixels clear of both holes, the exposure matched): a light change, a cut, a layer
#: the registration did not follow. Locked off: schoolgirls at most 0.05, nonrigid 0.11.
STILL_CHANGE = 0.2
#: A frame is registered while no corner lies further than this share of the frame's short side from where the
#: first frame had it (beyond, too little of the first frame's view is left to read).
MAX_DRIFT = 0.15
#: Long side (pixels) of the frames the registration is found on (its shift is scaled back up).
REGISTER_SIDE = 480
#: ECC's correlation (0..1) below which a frame is not registered.
REGISTER_MIN_CC = 0.8
#: Each frame is registered with a rotation and a shift (a hand) and with any affine map (a push-in also scales);
#: the rotation and shift is kept unless the affine map's scale moves a corner further than this, about the centre:
#: on a tripod shot the affine scale wanders (schoolgirls: 0.3 px at a corner, against the rotation and shift's
#: 0.1), and there a still frame must be read exactly; on a push-in the rotation and shift alone passes the
#: content check for a few frames while it misses the zoom by over a pixel.
ZOOM_PX = 0.5
#: An affine map that shears or stretches (moves a corner, about the centre, this far from the nearest rotation
#: and scale) is refused: a camera does not, and such a fit can hold a logo fixed in frame still while following a
#: pan (the tests' shot: 2 px at 64 wide).
SHEAR_PX = 1.0
#: Frames in a row that may fail to register before the pass ends (a pan ends it this many frames on).
MAX_MISSES = 8
#: A camera that left its stretch's view and then shows the same view (consecutive frames within
#: :data:`SETTLED_PX`, a phase correlation at :data:`REGISTER_SIDE`) this many frames in a row begins a new
#: stretch there (a bumped tripod; a hand or a pan is not still).
SETTLE = 3
SETTLED_PX = 1.0
#: Most stretches the pass begins (each holds a full-resolution plate; the pass ends with the last).
MAX_STRETCHES = 3
#: The plate's ring membrane around the target's hole differing from the target's own by this share of its level
#: halves the read's quality (:func:`.far.ring_agreement`): a light change, or a camera bumped since.
RING_AGREE = 0.5


#: A plate's arrays: dtype and trailing shape beyond (H, W).
_ARRAYS: dict[str, tuple[type, tuple[int, ...]]] = {
    "first": (np.float32, (3,)),
    "last": (np.float32, (3,)),
    "first_at": (np.int32, ()),
    "last_at": (np.int32, ()),
    "gap": (np.float32, ()),
}
#: The prefix of a later stretch's arrays (:meth:`SeenPlate.arrays`).
_LATER = "later."


@dataclass(frozen=True)
class SeenPlate:
    """A shot's clean plate (see the module docstring), at full resolution in the first frame's pixels."""

    #: (H, W, 3) float32: the first and the last clear sighting of each pixel.
    first: np.ndarray
    last: np.ndarray
    #: (H, W) int32: their shot positions (-1: never clear).
    first_at: np.ndarray
    last_at: np.ndarray
    #: (H, W) float32: their largest channel difference; where they are less than MIN_SPAN frames apart, the
    #: largest smoothed departure of a sighting from the first within STIRRED_PX (NaN: the pixel is not seen).
    gap: np.ndarray
    #: (N, 2, 3) float64: for each shot position the affine map from the first frame's pixels to its own (NaN:
    #: not registered, the plate is not read there); None: locked off, every frame in the first frame's pixels.
    warps: np.ndarray | None = None
    #: The plate of the shot's next stretch (the camera still again elsewhere), in its own first frame's pixels:
    #: read by the frames this one did not register. None: no later stretch.
    later: SeenPlate | None = None

    @cached_property
    def values(self) -> np.ndarray:
        """(H, W, 3) float32: the mean of the two sightings (what the ring membranes compare), made once: every
        frame that reads the plate compares a membrane of it."""
        return (0.5 * (self.first + self.last)).astype(np.float32)

    def arrays(self) -> dict[str, np.ndarray]:
        """Its arrays by name, as :meth:`from_arrays` takes them back (the anchors cache keeps them); a later
        stretch's under the prefix :data:`_LATER`."""
        arrays = {name: getattr(self, name) for name in _ARRAYS}
        if self.warps is not None:
            arrays["warps"] = self.warps
        if self.later is not None:
            arrays.update({_LATER + name: array for name, array in self.later.arrays().items()})
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> SeenPlate:
        """The plate :meth:`arrays` gave; ValueError if they are not such a plate's."""
        try:
            values = {name: np.asarray(arrays[name]) for name in _ARRAYS}
        except KeyError as missing:
            raise ValueError(f"seen plate: no {missing} array") from None
        shape = values["gap"].shape
        for name, (dtype, channels) in _ARRAYS.items():
            array = values[name]
            if array.dtype != dtype or array.shape != (*shape, *channels):
                raise ValueError(f"seen plate: {name} is {array.dtype} {array.shape}")
        warps = arrays.get("warps")
        if warps is not None:
            warps = np.asarray(warps)
            if warps.dtype != np.float64 or warps.ndim != 3 or warps.shape[1:] != (2, 3):
                raise ValueError(f"seen plate: warps is {warps.dtype} {warps.shape}")
        later = {name[len(_LATER) :]: array for name, array in arrays.items() if name.startswith(_LATER)}
        return cls(**values, warps=warps, later=cls.from_arrays(later) if later else None)

    def framed(
        self, t: int, box: tuple[int, int, int, int] | None = None
    ) -> tuple[SeenPlate, tuple[int, int]] | None:
        """The plate in shot position ``t``'s pixels, and the pixel its (0, 0) is at: itself and (0, 0) where that
        frame is still, else resampled over ``box`` (``y0, y1, x0, x1`` of the frame; default all of it: a
        1080p frame's whole plate costs ~60 ms); where this stretch did not register ``t``, the later stretch's
        (:attr:`later`), else None. Values are resampled
        bilinearly; a pixel next to one not seen is not seen; sightings' frames are the nearest pixel's."""
        if self.warps is None:
            return self, (0, 0)
        if t >= len(self.warps) or not np.isfinite(self.warps[t]).all():
            return None if self.later is None else self.later.framed(t, box)
        if _still(self.warps[t], self.shape):
            return self, (0, 0)
        y0, y1, x0, x1 = box if box is not None else (0, self.shape[0], 0, self.shape[1])
        matrix = self.warps[t].copy()
        matrix[:, 2] -= (x0, y0)  # (the box's pixel (0, 0) is the frame's (x0, y0))
        size = (x1 - x0, y1 - y0)

        def warped(image: np.ndarray, interpolation: int) -> np.ndarray:
            return cv2.warpAffine(
                image,
                matrix,
                size,
                flags=interpolation,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=(np.nan,) * 4,
            )

        def frame_of(at: np.ndarray) -> np.ndarray:
            moved = warped(at.astype(np.float32), cv2.INTER_NEAREST)
            return np.where(np.isfinite(moved), moved, -1).astype(np.int32)

        plate = SeenPlate(
            warped(self.first, cv2.INTER_LINEAR),
            warped(self.last, cv2.INTER_LINEAR),
            frame_of(self.first_at),
            frame_of(self.last_at),
            warped(self.gap, cv2.INTER_LINEAR),
        )
        return plate, (y0, x0)

    def at(self, t: int, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """At pixels (``ys``, ``xs``) of shot position ``t``: the sighting nearer to it in time."""
        nearer_first = np.abs(t - self.first_at[ys, xs]) <= np.abs(self.last_at[ys, xs] - t)
        return np.where(nearer_first[:, None], self.first[ys, xs], self.last[ys, xs]).astype(np.float32)

    @property
    def shape(self) -> tuple[int, int]:
        height, width = self.first.shape[:2]
        return height, width


def _grey(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A tone-mapped grey for the stillness check (scene-linear and display plates alike), and where all three
    channels are finite (their sum is)."""
    total = rgb[..., 0] + rgb[..., 1] + rgb[..., 2]
    finite = np.isfinite(total)
    linear = np.maximum(np.nan_to_num(total, nan=0.0, posinf=3.0, neginf=0.0), 0.0) / np.float32(3.0)
    return (linear / (1.0 + linear)).astype(np.float32, copy=False), finite


def _thumbnail(image: np.ndarray) -> np.ndarray:
    """``image`` shrunk to a long side of at most :data:`THUMBNAIL` (area average)."""
    height, width = working_size(image.shape[0], image.shape[1], THUMBNAIL)
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def _corner_moves(matrix: np.ndarray, shape: tuple[int, ...]) -> float:
    """The largest distance (pixels) an affine ``matrix`` moves a corner of a frame of ``shape``."""
    height, width = shape[:2]
    xs = np.array([0, width - 1, 0, width - 1], np.float64)
    ys = np.array([0, 0, height - 1, height - 1], np.float64)
    dx = matrix[0, 0] * xs + matrix[0, 1] * ys + matrix[0, 2] - xs
    dy = matrix[1, 0] * xs + matrix[1, 1] * ys + matrix[1, 2] - ys
    return float(np.hypot(dx, dy).max())


def _sheared(matrix: np.ndarray, shape: tuple[int, ...]) -> float:
    """How far (pixels) the shear and stretch of an affine ``matrix`` (its linear part less the nearest rotation
    and scale) move a corner of a frame of ``shape`` about its centre."""
    height, width = shape[:2]
    (a, b), (c, d) = matrix[0, :2], matrix[1, :2]
    stretch, shear = 0.5 * (a - d), 0.5 * (b + c)  # (a rotation and scale has a == d and b == -c)
    half_x, half_y = 0.5 * (width - 1), 0.5 * (height - 1)
    return float(
        max(
            np.hypot(stretch * x + shear * y, shear * x - stretch * y)
            for x, y in ((half_x, half_y), (half_x, -half_y))
        )
    )


def _zoomed(matrix: np.ndarray, shape: tuple[int, ...]) -> float:
    """How far (pixels) the scale of an affine ``matrix`` (the mean of its axes' lengths) moves a corner of a
    frame of ``shape`` about its centre."""
    height, width = shape[:2]
    scale = 0.5 * (np.hypot(matrix[0, 0], matrix[1, 0]) + np.hypot(matrix[0, 1], matrix[1, 1]))
    return float(abs(scale - 1.0) * 0.5 * np.hypot(width - 1, height - 1))


def _still(matrix: np.ndarray, shape: tuple[int, ...]) -> bool:
    """Whether a registration moves no corner further than :data:`STILL_PX`: read as it is."""
    return _corner_moves(matrix, shape) <= STILL_PX


@dataclass(frozen=True)
class _Reference:
    """What every frame is registered against, made once from the shot's first frame."""

    #: Its grey (:func:`_grey`), the hole filled smooth, and its hole.
    grey: np.ndarray
    hole: np.ndarray
    #: The grey at :data:`REGISTER_SIDE` (ECC's template) and as a thumbnail (the content check's).
    small: np.ndarray
    thumbnail: np.ndarray

    @classmethod
    def of(cls, grey: np.ndarray, hole: np.ndarray) -> _Reference:
        filled = push_pull_fill(grey, ~hole) if hole.any() else grey
        height, width = working_size(grey.shape[0], grey.shape[1], REGISTER_SIDE)
        small = cv2.resize(filled, (width, height), interpolation=cv2.INTER_AREA)
        return cls(filled, hole, small, _thumbnail(filled))


@dataclass
class _View:
    """A frame as the pass sees it: its grey (:func:`_grey`) and hole, and (made when first asked) the grey at
    :data:`REGISTER_SIDE` with the hole filled smooth: ECC's input, and what the jolt and settle checks
    compare (a hole filled from its own frame holds no motion of the other's)."""

    grey: np.ndarray
    hole: np.ndarray

    @cached_property
    def small(self) -> np.ndarray:
        height, width = working_size(self.grey.shape[0], self.grey.shape[1], REGISTER_SIDE)
        small = cv2.resize(self.grey, (width, height), interpolation=cv2.INTER_AREA)
        hole = cv2.resize(self.hole.astype(np.float32), (width, height), interpolation=cv2.INTER_AREA) > 0
        # (shown as ECC's own mask instead, the hole made ECC diverge from a good start)
        return push_pull_fill(small, ~hole) if hole.any() else small

    def shift_from(self, small: np.ndarray) -> np.ndarray | None:
        """The translation (x, y; full-resolution pixels) of this view from ``small`` (another view's or the
        reference's :attr:`small`), by phase correlation; None where there is no clear one."""
        moved = thumbnail_translation(small, self.small, REGISTER_SIDE)
        if moved is None:
            return None
        return moved[:2, 2] * (self.grey.shape[1] / small.shape[1])


def _registration(reference: _Reference, view: _View) -> np.ndarray | None:
    """The affine map from the first frame's pixels to this frame's (``view``; a rotation and shift or an
    affine map, see :data:`ZOOM_PX`), or None where it is not registered: no clear translation, or for both
    models ECC fails or correlates below :data:`REGISTER_MIN_CC`, a corner moves further than
    :data:`MAX_DRIFT`, the map shears (:data:`SHEAR_PX`), or the registered content changed by more than
    :data:`STILL_CHANGE`. Both holes show the first frame's values in the translation's images (a hole moving
    over the frame is no motion of the camera); ECC sees this frame's hole filled smooth."""
    grey, hole = view.grey, view.hole
    either = hole | reference.hole
    guess = thumbnail_translation(reference.grey, np.where(either, reference.grey, grey))
    if guess is None:
        return None
    shape = grey.shape
    scale = min(1.0, REGISTER_SIDE / max(shape))
    small = view.small
    start = np.array([[1, 0, guess[0, 2] * scale], [0, 1, guess[1, 2] * scale]], np.float32)
    fits = []
    for motion in (cv2.MOTION_EUCLIDEAN, cv2.MOTION_AFFINE):
        matrix = _ecc(reference.small, small, start, motion)
        if matrix is not None:
            matrix[:, 2] /= scale
            if _corner_moves(matrix, shape) <= MAX_DRIFT * min(shape) and _sheared(matrix, shape) <= SHEAR_PX:
                fits.append(matrix)
    # A zoom the rotation and shift cannot follow comes first; else the rotation and shift, then the affine map.
    fits.sort(key=lambda matrix: -1 if _zoomed(matrix, shape) > ZOOM_PX else 0)
    for matrix in fits:
        if _still(matrix, shape):
            matrix = np.eye(2, 3)
        if not _changed(reference, grey, hole, matrix):
            return matrix
    return None


def _ecc(reference: np.ndarray, grey: np.ndarray, start: np.ndarray, motion: int) -> np.ndarray | None:
    """ECC's map (float64, 2x3) from ``reference``'s pixels to ``grey``'s of the ``motion`` model from ``start``,
    or None: it fails, or correlates below :data:`REGISTER_MIN_CC`."""
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 60, 1e-4)
    try:
        cc, found = cv2.findTransformECC(  # type: ignore[call-overload]  # (no mask: the stubs want one)
            reference, grey, start.copy(), motion, criteria, None, 3
        )
    except cv2.error:
        return None
    if not (cc >= REGISTER_MIN_CC and np.isfinite(found).all()):
        return None
    return found.astype(np.float64)


def _changed(reference: _Reference, grey: np.ndarray, hole: np.ndarray, matrix: np.ndarray) -> bool:
    """Whether the frame (``grey``, registered by ``matrix``) shows other content than the first frame: its
    thumbnail differs by more than :data:`STILL_CHANGE` of the reference's contrast over the pixels clear of
    both holes, the exposure matched (a light change; a moving layer that holds the registration)."""
    size = (grey.shape[1], grey.shape[0])
    back = cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR
    if _still(matrix, grey.shape):
        registered, inside = grey, hole
    else:
        registered = cv2.warpAffine(grey, matrix, size, flags=back, borderMode=cv2.BORDER_REPLICATE)
        inside = cv2.warpAffine((~hole).astype(np.uint8), matrix, size, flags=back | cv2.INTER_NEAREST) == 0
    clear = _thumbnail((~(inside | reference.hole)).astype(np.float32)) > 0.99
    if clear.sum() < 16:
        return True  # (nothing to compare: not known to be the same)
    before, now = reference.thumbnail[clear], _thumbnail(registered)[clear]
    now = now * (np.median(before) / max(float(np.median(now)), 1e-6))
    contrast = float(np.median(np.abs(before - np.median(before))))
    return float(np.median(np.abs(now - before))) > STILL_CHANGE * max(contrast, 1e-6)


def _dropouts_masked(packets: Iterable[FramePacket]) -> Iterator[FramePacket]:
    """The packets in order, a matte dropout's frames (:func:`..mask.dropouts_read`: a forgotten roto key) with
    where their object may be added to their hole: its first and last sightings would agree (an object standing
    still, its roto missing on the shot's first and last frames) and be kept as background. A frame whose hole
    is empty is held until every verdict that reads it is made (:data:`..mask.DROPOUT_RUN` + 1 frames on), and
    the frames after it with it; the others pass at once."""
    holes: dict[int, np.ndarray] = {}
    held: dict[int, FramePacket] = {}

    def judge(position: int, length: int | None) -> None:
        for first, regions in dropouts_read(holes.get, position, length):
            for index, region in enumerate(regions, first):
                if index in held:
                    held[index] = replace(held[index], hole=held[index].hole | region)

    position = -1
    for position, packet in enumerate(packets):
        holes[position] = packet.hole
        holes.pop(position - DROPOUT_RUN - 2, None)
        held[position] = packet
        judge(position, None)
        for index in list(held):
            if index > position - DROPOUT_RUN - 1 and not holes[index].any():
                break
            yield held.pop(index)
    judge(position, position + 1)  # (the shot's end is known now)
    yield from held.values()


def scan(packets: Iterable[FramePacket]) -> SeenPlate | None:
    """The shot's :class:`SeenPlate` from all its packets in order, or None: the frames change size, or no
    pixel was seen twice far enough apart (or over a short span, every sighting agreeing). Reads stop after :data:`MAX_MISSES` frames in a row that are not
    registered (the plate is not read from there on), or once :data:`MAX_STRETCHES` stretches are made."""
    plates: list[SeenPlate | None] = []
    stretch: _Stretch | None = None
    misses = settled = 0
    away = np.inf  # (how far the last frame missed lay from the last one registered)
    previous: _View | None = None
    exhausted = True
    for index, packet in enumerate(_dropouts_masked(packets)):
        rgb = packet.rgb
        grey, finite = _grey(rgb)
        view = _View(grey, packet.hole)
        matrix: np.ndarray | None = np.eye(2, 3)
        if stretch is None:
            stretch = _Stretch(index, view)
        elif grey.shape != stretch.reference.grey.shape:
            return None
        else:
            # After a miss a frame is tried only where it came back at least halfway to the last one registered
            # (a jolt over; a flash or a blur gone): each try costs two ECCs, ~20 ms each at REGISTER_SIDE, and
            # a pan that left the view only goes further.
            distance = stretch.distance(view) if misses else 0.0
            matrix = _registration(stretch.reference, view) if not misses or distance < 0.5 * away else None
            if matrix is None:
                misses += 1
                away = distance if misses > 1 else stretch.distance(view)
                still = previous is not None and _within(view.shift_from(previous.small), SETTLED_PX)
                settled = settled + 1 if still else 0
                previous = view
                if settled < SETTLE:
                    if misses > MAX_MISSES:
                        exhausted = False
                        break
                    continue
                # Still again elsewhere: this stretch ends, the next begins with this frame.
                plates.append(stretch.plate(complete=False))
                if len(plates) >= MAX_STRETCHES:
                    stretch, exhausted = None, False
                    break
                stretch, matrix = _Stretch(index, view), np.eye(2, 3)
        misses = settled = 0
        previous = view
        assert matrix is not None
        stretch.add(index, rgb, finite, packet.hole, matrix)
    if stretch is not None:
        plates.append(stretch.plate(complete=exhausted and misses == 0))
    later = None
    for plate in reversed(plates):
        if plate is not None:
            later = replace(plate, later=later)
    return later


def _within(shift: np.ndarray | None, pixels: float) -> bool:
    """Whether a translation (:meth:`_View.shift_from`) is known and at most ``pixels`` long."""
    return shift is not None and float(np.hypot(shift[0], shift[1])) <= pixels


class _Stretch:
    """A stretch of the shot registered to its first frame: its sightings as they come (:func:`scan`)."""

    def __init__(self, start: int, view: _View) -> None:
        self.start = start
        self.reference = _Reference.of(view.grey, view.hole)
        height, width = view.grey.shape
        self.first = np.zeros((height, width, 3), np.float32)
        self.last = np.zeros((height, width, 3), np.float32)
        self.first_at = np.full((height, width), -1, np.int32)
        self.last_at = np.full((height, width), -1, np.int32)
        #: Per shot position from 0: its registration (NaN before the stretch and where a frame was missed).
        self.warps: list[np.ndarray] = []
        self._kernel = np.ones((2 * CLEAR_PX + 1, 2 * CLEAR_PX + 1), np.uint8)
        #: Where the last registered frame's centre lies from the first frame's (x, y; pixels).
        self.last_centre = np.zeros(2)
        #: Per pixel, how far (largest channel) its clear sightings less than MIN_SPAN frames after its first
        #: departed from that first one (the only sightings a short span holds: :meth:`plate`).
        self.departed = np.zeros((height, width), np.float32)
        #: The last shot position registered.
        self.end = start
        #: The stretch's first frame's level (median magnitude of its clear values, every 4th pixel each way):
        #: what a short span's departures are judged against (:meth:`_spoiled`), as :data:`AGREE` judges the
        #: gap against the reading frame's.
        self.level = 1.0
        #: The shot positions whose hole was empty where the last frame registered before had one: the matte
        #: vanished there (:meth:`plate`).
        self.vanished: list[int] = []
        self._holed = False
        #: Per pixel not seen yet, what the last registered frame whose hole covered it showed there (where
        #: :attr:`covered`): what its first sighting is compared with (:meth:`_beside`).
        self.under = np.zeros((height, width, 3), np.float32)
        self.covered = np.zeros((height, width), bool)
        #: Per pixel, whether the hole after its last clear sighting was compared with it (:meth:`_beside`).
        self.compared = np.zeros((height, width), bool)
        #: Per pixel, the smallest smoothed difference of its sightings from what a hole next to them (in time)
        #: showed there (inf: none compared): a roto begun late or ended early shows the object itself there.
        self.beside = np.full((height, width), np.inf, np.float32)
        #: Per channel, the range of the stretch's first frame's clear values widened by its largest channel's
        #: range (or its level, if more) each way: a value under a hole outside it is no picture but a sentinel
        #: (:meth:`_beside`); an arriving object brighter or darker than anything in the first frame is not.
        self.low = np.full(3, -np.inf, np.float32)
        self.high = np.full(3, np.inf, np.float32)

    def distance(self, view: _View) -> float:
        """How far (pixels) a frame (its translation from the first) lies from the last one registered (inf:
        no clear translation)."""
        shift = view.shift_from(self.reference.small)
        return np.inf if shift is None else float(np.hypot(*(shift - self.last_centre)))

    def add(
        self, index: int, rgb: np.ndarray, finite: np.ndarray, hole: np.ndarray, matrix: np.ndarray
    ) -> None:
        """Shot position ``index`` (registered by ``matrix``): its clear pixels are sightings."""
        height, width = hole.shape
        x, y = (width - 1) / 2, (height - 1) / 2
        self.last_centre = matrix[:, 0] * x + matrix[:, 1] * y + matrix[:, 2] - (x, y)
        self.warps += [np.full((2, 3), np.nan)] * (index - len(self.warps))
        self.warps.append(matrix)
        self.end = index
        holed = bool(hole.any())
        if self._holed and not holed:
            self.vanished.append(index)
        self._holed = holed
        clear = (
            ~cv2.dilate(hole.astype(np.uint8), self._kernel).view(bool) if hole.any() else np.ones_like(hole)
        )
        clear &= finite
        cover = hole
        if not _still(matrix, hole.shape):
            rgb, clear = _registered(rgb, clear, matrix)
            cover = _registered_hole(hole, matrix)
        if index == self.start and clear[::4, ::4].any():
            sample = rgb[::4, ::4][clear[::4, ::4]]
            self.level = max(float(np.median(np.abs(sample))), 1e-6)
            low, high = sample.min(axis=0), sample.max(axis=0)
            wide = max(self.level, float((high - low).max()))
            self.low, self.high = low - wide, high + wide
        self._depart(index, rgb, clear)
        new = clear & (self.first_at < 0)
        # What a hole next to a sighting showed (after the last sighting: the first hole since; before the first:
        # the last hole), compared with it before the sightings move on.
        after = cover & (self.last_at >= 0) & ~self.compared & (self.last_at - self.first_at < MIN_SPAN)
        self._beside(after, rgb, self.last)
        self.compared |= after
        self._beside(new & self.covered, self.under, rgb)
        np.copyto(self.first, rgb, where=new[..., None])
        self.first_at[new] = index
        np.copyto(self.last, rgb, where=clear[..., None])
        self.last_at[clear] = index
        self.compared &= ~clear
        before = cover & (self.first_at < 0)
        if before.any():
            np.copyto(self.under, rgb, where=before[..., None])
            self.covered |= before

    def _depart(self, index: int, rgb: np.ndarray, clear: np.ndarray) -> None:
        """Keep in :attr:`departed` how far this frame's clear sightings (``rgb`` where ``clear``, in the first
        frame's pixels) lie from the first sightings of pixels first seen less than :data:`MIN_SPAN` frames
        before (only those can still end in a short span, so after the stretch's first frames few pixels cost),
        both smoothed (:data:`DEPART_SIGMA`; over those pixels alone): grain and a registered frame's bilinear
        resampling differ pixel by pixel, a mover or a light change over an area."""
        recent = clear & (self.first_at >= 0) & (index - self.first_at < MIN_SPAN)
        if recent.any():
            self.departed[recent] = np.maximum(self.departed[recent], _smoothed_gap(rgb, self.first, recent))

    def _beside(self, where: np.ndarray, hidden: np.ndarray, sighted: np.ndarray) -> None:
        """Keep in :attr:`beside` how far the sightings (``sighted``) of pixels ``where`` lie from what a hole next
        to them in time showed there (``hidden``), compared as :meth:`_depart` compares (smoothed over those
        pixels; a pixel agrees where one within :data:`SLACK_PX` does). A roto begun late, ended early or missing
        mid-shot leaves the object clear next to its hole: the sightings are the object, which the hole shows
        too; an object that arrived differs from the background it hides. A value there that is not finite or
        lies far out of the first frame's range (:attr:`low`: a sentinel) is no picture: it counts as agreeing
        (not read), and the smoothing does not spread it. Only compared: nothing under a hole is kept."""
        if not where.any():
            return
        values = hidden[where]
        with np.errstate(invalid="ignore"):
            shown = (np.isfinite(values) & (values >= self.low) & (values <= self.high)).all(axis=-1)
        gap = np.zeros(len(values), np.float32)
        if shown.any():
            picture = np.zeros_like(where)
            picture[where] = shown
            gap[shown] = _smoothed_gap(hidden, sighted, picture)
        # (a pixel agrees where one compared within SLACK_PX does)
        box = _around(where)
        plane = np.full(where[box].shape, np.inf, np.float32)
        plane[where[box]] = gap
        side = 2 * SLACK_PX + 1
        gap = cv2.erode(plane, np.ones((side, side), np.uint8))[where[box]]
        self.beside[where] = np.minimum(self.beside[where], gap)

    def plate(self, complete: bool) -> SeenPlate | None:
        """Its plate, or None where no pixel was seen twice far enough apart, or the stretch registered frames
        over less than :data:`MIN_SPAN` (a pan's first frames, a tripod bumped early: every frame is within
        a chain's reach of the others). ``complete``: the stretch is the whole shot, every frame registered
        (then a locked-off one keeps no registrations: read as it is)."""
        span = self.last_at - self.first_at
        sighted = self.first_at >= 0
        long = sighted & (span >= MIN_SPAN)
        short = sighted & (span >= SHORT_SPAN) & ~long
        if self.end - self.start < MIN_SPAN or not (long.any() or short.any()):
            return None
        gap = np.full(span.shape, np.nan, np.float32)
        gap[long] = largest_channel(np.abs(self.first[long] - self.last[long]))
        brief = sighted & (span >= 1) & ~long
        # A span first seen as the matte vanished is a roto key missing for three frames or more (two or fewer
        # are masked: _dropouts_masked), the object standing still: three frames of it agree. A span whose
        # sightings agree with what a hole next to it showed there is the object a roto begun late or ended
        # early left clear (an object that arrived differs from the background it hides).
        short &= ~self._spoiled(brief, long) & ~np.isin(self.first_at, self.vanished)
        short &= ~(self.beside <= AGREE * self.level)
        if short.any():
            gap[short] = self._stirred(brief)[short]
        still = complete and self.start == 0 and all(_still(matrix, span.shape) for matrix in self.warps)
        warps = None if still else np.stack(self.warps)
        return SeenPlate(self.first, self.last, self.first_at, self.last_at, gap, warps)

    def _spoiled(self, brief: np.ndarray, long: np.ndarray) -> np.ndarray:
        """Where a ``brief``ly seen pixel (seen twice or more, less than :data:`MIN_SPAN` frames apart) may hold
        an unmasked mover: one of its sightings departed from its first by more than :data:`AGREE` of the
        stretch's level, or it lies in a flat area (smoothed first sightings varying less than :data:`FLAT` of
        that within a pixel) that reaches such a pixel or a ``long``-seen one whose two sightings disagree, or
        within the smoothing's reach of that area. A car of one colour that covered the pixel for the whole
        short span agrees with itself there; its edges moved, or, parked at the start and gone later, its parts
        beside the hole disagree."""
        tolerance = AGREE * self.level
        moved = brief & (self.departed > tolerance)
        ends = largest_channel(np.abs(self.first - self.last))
        moved |= long & (ends > tolerance)
        if not moved.any():
            return moved
        smooth = cv2.GaussianBlur(self.first, (0, 0), DEPART_SIGMA)
        step = np.ones((3, 3), np.uint8)
        rough = largest_channel(cv2.dilate(smooth, step) - cv2.erode(smooth, step))
        flat = (brief | long) & (rough < FLAT * tolerance)
        _count, labels = cv2.connectedComponents(flat.astype(np.uint8), connectivity=8)
        reached = np.unique(labels[cv2.dilate(moved.astype(np.uint8), step).view(bool) & flat])
        spoiled = moved | np.isin(labels, reached[reached > 0])
        # (and the rim the smoothing made rough: an area's edge lies this far outside what counts as flat)
        side = 2 * int(np.ceil(2 * DEPART_SIGMA) + 1) + 1
        return brief & cv2.dilate(spoiled.astype(np.uint8), np.ones((side, side), np.uint8)).view(bool)

    def _stirred(self, brief: np.ndarray) -> np.ndarray:
        """Per pixel, the largest departure (:attr:`departed`) of the ``brief``ly seen pixels (seen twice or more,
        less than :data:`MIN_SPAN` frames apart) within :data:`STIRRED_PX`: an unmasked mover of one colour
        that covered a pixel for a whole short span changed the pixels about it (its edges) in that span."""
        departed = np.where(brief, self.departed, np.float32(0.0))
        side = 2 * STIRRED_PX + 1
        return cv2.dilate(departed, np.ones((side, side), np.uint8))


def _registered(rgb: np.ndarray, clear: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A frame and its clear pixels in the first frame's pixels (``matrix``: first frame → this frame); a pixel
    is clear where its whole bilinear footprint lay clear inside the frame."""
    size = (rgb.shape[1], rgb.shape[0])
    back = cv2.WARP_INVERSE_MAP
    moved = cv2.warpAffine(rgb, matrix, size, flags=back | cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    # A footprint touching an unclear pixel or the border averages to less than one.
    share = cv2.warpAffine(
        clear.astype(np.float32), matrix, size, flags=back | cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    return moved, share >= 1.0 - 1e-6


def _registered_hole(hole: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """A frame's hole in the first frame's pixels (``matrix``: first frame → this frame): where over half of a
    pixel's bilinear footprint lay in it (the values :func:`_registered` gives there are mostly the hole's)."""
    size = (hole.shape[1], hole.shape[0])
    flags = cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR
    share = cv2.warpAffine(hole.astype(np.float32), matrix, size, flags=flags, borderMode=cv2.BORDER_CONSTANT)
    return share > 0.5


def _around(where: np.ndarray) -> tuple[slice, slice]:
    """The box of ``where``'s pixels, grown by the reach of a Gaussian of :data:`DEPART_SIGMA`."""
    ys, xs = np.nonzero(where)
    pad = int(np.ceil(3 * DEPART_SIGMA))
    return np.s_[max(0, ys.min() - pad) : ys.max() + pad + 1, max(0, xs.min() - pad) : xs.max() + pad + 1]


def _smoothed_gap(now: np.ndarray, then: np.ndarray, where: np.ndarray) -> np.ndarray:
    """For each pixel of ``where`` (in :func:`numpy.nonzero`'s order), the largest channel of the difference
    ``now - then`` smoothed by a Gaussian of :data:`DEPART_SIGMA` over ``where``'s pixels alone (a normalised
    convolution: the mean difference over them about each): grain and a registered frame's bilinear resampling
    differ pixel by pixel, a mover, a light change or another object over an area. Values outside ``where`` are
    not read (a NaN there spreads nothing)."""
    box = _around(where)
    inside = where[box]
    with np.errstate(invalid="ignore"):
        difference = np.where(inside[..., None], now[box] - then[box], np.float32(0.0))
    differs = cv2.GaussianBlur(difference, (0, 0), DEPART_SIGMA, borderType=cv2.BORDER_CONSTANT)
    weight = cv2.GaussianBlur(inside.astype(np.float32), (0, 0), DEPART_SIGMA, borderType=cv2.BORDER_CONSTANT)
    return largest_channel(np.abs(differs[inside])) / np.maximum(weight[inside], 1e-6)


def seen_candidates(
    t: int,
    plate: SeenPlate,
    fused: Fused,
    ys: np.ndarray,
    xs: np.ndarray,
    own_ring: RingMembrane,
    level: float,
) -> None:
    """The hole points (``ys``, ``xs``: the first points of ``fused``; its seam-ring points follow) of shot
    position ``t`` that the fusion found nothing for take the plate's sighting nearer in time where it saw them,
    in place (the plate read through the frame's registration, :meth:`SeenPlate.framed`). Quality: the two
    sightings' agreement (:data:`AGREE`) times the agreement of the plate's ring membrane with the target's
    (``own_ring``: its :class:`.far.RingMembrane`; :data:`RING_AGREE`)."""
    missing = np.flatnonzero(~fused.found[: len(ys)])
    if len(missing) == 0:
        return
    # The plate in this frame's pixels (resampled where the camera moved, over what the ring check reads).
    framed = plate.framed(t, ring_box(ys, xs, plate.shape)[0])
    if framed is None:
        return
    plate, (y0, x0) = framed
    ys, xs = ys - y0, xs - x0
    gap = plate.gap[ys[missing], xs[missing]]
    seen = np.isfinite(gap)
    if not seen.any():
        return
    points = missing[seen]
    gap = gap[seen]
    scale = max(AGREE * level, 1e-6)
    quality = 1.0 / (1.0 + (gap / scale) ** 2)
    # The plate's own ring membrane around this hole, against the frame's: the same light, the same framing.
    theirs = ring_membrane(plate.values, ys, xs, points)
    quality = quality * ring_agreement(theirs, own_ring.at(points), level, RING_AGREE)
    keep = quality >= 0.05
    if not keep.any():
        return
    points, quality, gap = points[keep], quality[keep], gap[keep]
    fused.values[points] = plate.at(t, ys[points], xs[points])
    fused.found[points] = True
    fused.align[points] = quality.astype(np.float32)
    fused.rejected[points] = 0.0
    fused.gap[points] = (gap / max(level, 1e-6)).astype(np.float32)
    fused.nearest[points] = 1
