"""The seen plate: on a locked-off shot, what every pixel showed whenever the hole left it clear.

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
disagreement, and the pixel is left to the other routes. The shot counts as locked off while each frame's
thumbnail lies within :data:`STILL_PX` of the first frame's (phase correlation) and shows the same content
(:data:`STILL_CHANGE`); the first frame that moves
ends the pass: no plate (a panning shot costs two reads). The plate depends on the whole shot and nothing else,
so every chunk of it, any window and a resumed run read the same values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from ..flow import push_pull_fill
from ..flow.estimator import thumbnail_translation
from ..flow.ops import largest_channel
from ..inpaint.base import FramePacket
from .far import RingMembrane, ring_agreement, ring_membrane
from .fusion import Fused

#: Thumbnails for the stillness check are at most this many pixels a side (as the flow's pre-alignment's).
THUMBNAIL = 160
#: A sighting is clear this far (pixels) from its frame's hole: a matte's edge holds the object's blur and hair.
CLEAR_PX = 3
#: The first and last clear sightings must be at least this many frames apart (a pixel seen in one short gap
#: could hold a slow unmasked mover in both).
MIN_SPAN = 8
#: The two sightings differing by this share of the target frame's level (largest channel) halve the read's quality.
AGREE = 0.1
#: Largest thumbnail translation (full-resolution pixels) from the first frame at which the shot is still. The
#: phase correlation of a locked-off shot of waving water and bushes (``nonrigid``) wanders past 1 px, so it
#: counts as moving; given a plate (2 px) it gained nothing there (+0.001 dB: the two sightings disagree).
STILL_PX = 1.0
#: ... and largest change of the thumbnail from the first frame's, as a share of its contrast (median absolute
#: differences over the pixels clear of both holes, the exposure matched): a static light or logo can hold the
#: correlation's peak on a moving shot. Locked off: schoolgirls at most 0.05, nonrigid 0.11; a slow pan (crosser)
#: 0.18 a frame after the first, 0.4 by the fourth; a texture panned 1.5 px: 0.27.
STILL_CHANGE = 0.2
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


@dataclass(frozen=True)
class SeenPlate:
    """A shot's clean plate (see the module docstring), at full resolution in the frames' display window."""

    #: (H, W, 3) float32: the first and the last clear sighting of each pixel.
    first: np.ndarray
    last: np.ndarray
    #: (H, W) int32: their shot positions (-1: never clear).
    first_at: np.ndarray
    last_at: np.ndarray
    #: (H, W) float32: their largest channel difference (NaN where the pixel was not seen twice far enough apart).
    gap: np.ndarray

    @cached_property
    def values(self) -> np.ndarray:
        """(H, W, 3) float32: the mean of the two sightings (what the ring membranes compare), made once: every
        frame that reads the plate compares a membrane of it."""
        return (0.5 * (self.first + self.last)).astype(np.float32)

    def arrays(self) -> dict[str, np.ndarray]:
        """Its arrays by name, as :meth:`from_arrays` takes them back (the anchors cache keeps them)."""
        return {name: getattr(self, name) for name in _ARRAYS}

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
        return cls(**values)

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
    height, width = image.shape[:2]
    scale = min(1.0, THUMBNAIL / max(height, width))
    size = (max(8, round(width * scale)), max(8, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _moved(reference: np.ndarray, reference_hole: np.ndarray, grey: np.ndarray, hole: np.ndarray) -> bool:
    """Whether a frame's grey lies more than :data:`STILL_PX` from the first frame's (``reference``, its hole
    filled smooth), or no clear translation is found, or its content changed by more than
    :data:`STILL_CHANGE`. Both holes show the reference's values in both images: a hole moving over the frame
    is no motion of the camera."""
    either = hole | reference_hole
    matrix = thumbnail_translation(reference, np.where(either, reference, grey))
    if matrix is None or max(abs(matrix[0, 2]), abs(matrix[1, 2])) > STILL_PX:
        return True
    clear = _thumbnail((~either).astype(np.float32)) > 0.99
    if clear.sum() < 16:
        return True  # (nothing to compare: not known to be still)
    before, now = _thumbnail(reference)[clear], _thumbnail(grey)[clear]
    now = now * (np.median(before) / max(float(np.median(now)), 1e-6))
    contrast = float(np.median(np.abs(before - np.median(before))))
    return float(np.median(np.abs(now - before))) > STILL_CHANGE * max(contrast, 1e-6)


def scan(packets: Iterable[FramePacket]) -> SeenPlate | None:
    """The shot's :class:`SeenPlate` from all its packets in order, or None: the camera moves, the frames change
    size, or no pixel was seen twice far enough apart. Reads stop at the first frame that moves."""
    first = last = None
    first_at = last_at = None
    reference: np.ndarray | None = None
    reference_hole = np.zeros((0, 0), bool)
    kernel = np.ones((2 * CLEAR_PX + 1, 2 * CLEAR_PX + 1), np.uint8)
    for index, packet in enumerate(packets):
        rgb = packet.rgb
        grey, finite = _grey(rgb)
        hole = packet.hole
        if reference is None:
            reference_hole = hole
            reference = push_pull_fill(grey, ~hole) if hole.any() else grey
            height, width = grey.shape
            first = np.zeros((height, width, 3), np.float32)
            last = np.zeros((height, width, 3), np.float32)
            first_at = np.full((height, width), -1, np.int32)
            last_at = np.full((height, width), -1, np.int32)
        else:
            if grey.shape != reference.shape:
                return None
            if _moved(reference, reference_hole, grey, hole):
                return None
        assert first is not None and last is not None and first_at is not None and last_at is not None
        clear = ~cv2.dilate(hole.astype(np.uint8), kernel).view(bool) if hole.any() else np.ones_like(hole)
        clear &= finite
        new = clear & (first_at < 0)
        np.copyto(first, rgb, where=new[..., None])
        first_at[new] = index
        np.copyto(last, rgb, where=clear[..., None])
        last_at[clear] = index
    if reference is None or first is None or first_at is None or last_at is None:
        return None
    seen = (first_at >= 0) & (last_at - first_at >= MIN_SPAN)
    if not seen.any():
        return None
    assert last is not None
    gap = np.full(seen.shape, np.nan, np.float32)
    gap[seen] = largest_channel(np.abs(first[seen] - last[seen]))
    return SeenPlate(first, last, first_at, last_at, gap)


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
    in place. Quality: the two sightings' agreement (:data:`AGREE`) times the agreement of the plate's ring
    membrane with the target's (``own_ring``: its :class:`.far.RingMembrane`; :data:`RING_AGREE`)."""
    missing = np.flatnonzero(~fused.found[: len(ys)])
    if len(missing) == 0:
        return
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
