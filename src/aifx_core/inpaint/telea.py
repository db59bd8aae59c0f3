"""OpenCV's Telea inpainting, made safe for scene-linear plates.

``cv2.inpaint`` takes 8-bit colour or single-channel 16-bit/float images, and its Telea mode returns garbage
on float32 (OpenCV 4.11: values far outside the input range). So each channel is mapped linearly onto 16 bits
using the range of the pixels Telea actually reads (a ring of its radius plus one around the hole), inpainted,
and mapped back: HDR values keep ~1/65535 of the local range of precision instead of being clipped to 8 bits.
A lone outlier in that ring (a CG firefly, a hot pixel or a small block of them: see :func:`ring_range`; far
from the rest) would set the step for the whole fill, so the range is the bulk's, widened up to :data:`_SPAN_PER_BULK`
times its spread (at least 1.0 and the bulk's magnitude), and lone values beyond it are clamped for the encoding
only: the fill stays within what surrounds the hole and the plate is not touched. A larger group beyond it (a thin
bright line crossing the hole) widens the range to its values, so Telea carries it in. Only the hole's bounding box (plus the ring) is
processed, so a small hole on a 4K plate costs a small crop.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import cv2
import numpy as np

from ..errors import InputError
from ..options import Options
from ..workers import concurrently
from .base import BackendContext

_TOP = 65535.0
#: The share (percent) of the ring's pixels at each end that may lie beyond the bulk range and be clamped.
_TAIL_PERCENT = 1.0
#: How many times the bulk's spread (p1..p99) the encoding range may span before outliers are clamped: the
#: bulk keeps at least 65535 / 64 = 1024 steps. Never narrower than 1.0 nor the bulk's magnitude, so a plate
#: in 0..1 (display-referred, 8/16-bit) or a bright area's own values are never clamped.
_SPAN_PER_BULK = 64.0
#: The most connected pixels beyond that range that are clamped as one lone outlier (:func:`ring_range`): a
#: larger group (a thin line crossing the ring) widens the range to its values, unless it is compact.
_LONE_PX = 3
#: The longest side (pixels) of a compact group beyond that range that is clamped as lone too (a 2x2 or 3x3
#: block of hot pixels), when it is shorter than the ring is deep: a line crossing the ring is as long as that.
_LONE_SIDE = 3


@dataclass(frozen=True)
class TeleaOptions(Options):
    owner = "telea"

    #: Pixels around each hole pixel that OpenCV's Telea method samples.
    telea_radius: float = 5.0

    def check(self) -> None:
        if self.telea_radius <= 0:
            raise InputError(
                f"telea option telea_radius={self.telea_radius}: expected a positive number of pixels"
            )


class TeleaBackend:
    name = "telea"

    def __init__(self, context: BackendContext) -> None:
        self.radius = TeleaOptions.from_dict(context.options).telea_radius

    @property
    def context_px(self) -> int:
        """How far (pixels) beyond the hole's bounding box :meth:`inpaint` reads: a caller that wants a few
        pixels of a large frame may hand it just the crop of the bounding box plus this margin (same values)."""
        return int(self.radius) + 3

    @property
    def reach_px(self) -> int:
        """How far (pixels) from the hole OpenCV's Telea reads known pixels: its radius (rounded, so at most the
        next integer) plus one for a gradient. The 16-bit range is taken over this ring only, so a value Telea
        never reads cannot coarsen the fill."""
        return math.ceil(self.radius) + 1

    def inpaint(self, rgb: np.ndarray, hole: np.ndarray, *, frame: int | None = None) -> np.ndarray:
        out = rgb.copy()
        if not hole.any():
            return out
        margin, reach = self.context_px, self.reach_px
        # Each part of the hole is marched in its own crop (see :func:`_parts`): the same values as one march of
        # the whole, since nothing Telea reads for one part lies near another, at the cost of the parts' crops
        # only (nine scattered squares: about a fifth of their union's bounding box).
        parts = _parts(hole, margin)
        holes = [hole[y0:y1, x0:x1] for y0, y1, x0, x1 in parts]
        masks = [part.astype(np.uint8) for part in holes]
        kernel = np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)
        rings = [cv2.dilate(mask, kernel).view(bool) & ~part for mask, part in zip(masks, holes, strict=True)]
        passes = []
        for c in range(rgb.shape[-1]):
            planes = [rgb[y0:y1, x0:x1, c] for y0, y1, x0, x1 in parts]
            # The 16-bit range is the whole ring's (the union of the parts' rings: no part's ring holds another
            # part's pixels), so each part is encoded as one crop of the whole would be.
            lo, scale = ring_range(planes, rings, reach)
            encoded = [_encode(plane, lo, scale) for plane in planes]
            passes.append(partial(_march, encoded, masks, holes, self.radius, lo, scale))
        # The channels' passes are independent and OpenCV releases the GIL in them: they run at once (each the
        # same computation as alone, so the same values), instead of three in a row on the engine's thread.
        for c, decoded in enumerate(concurrently(passes, "aifx-telea")):
            for (y0, y1, x0, x1), part, values in zip(parts, holes, decoded, strict=True):
                out[y0:y1, x0:x1, c][part] = values
        return out


def encoding_range(known: np.ndarray) -> tuple[float, float]:
    """(lo, scale): the values [lo, lo + scale] of a channel that its 16-bit encoding spans, from the ring's
    values ``known`` (non-finite ones ignored). The ring's full range where it spans at most
    :data:`_SPAN_PER_BULK` times the spread of its bulk (all but :data:`_TAIL_PERCENT` at each end), else the
    bulk widened on both sides to that span and cut at the ring's extremes: a lone firefly of 60000 next to a
    0.2 wall would otherwise leave the fill a step of 0.9, one flat value. Always within the ring's range, so
    a fill of encoded values never exceeds what surrounds it."""
    values = known[np.isfinite(known)]
    if not values.size:
        return 0.0, 1.0
    darkest, brightest = float(values.min()), float(values.max())
    lo, hi = darkest, brightest
    if hi - lo <= 1.0:  # (never clamped, the span being at least 1: no percentiles for a plate in 0..1)
        return lo, (hi - lo) or 1.0
    # The bulk's ends, rounded inward (a lone outlier is not interpolated into a small ring's bulk): one
    # partition for both, the same values as np.percentile's "higher" and "lower".
    last = values.size - 1
    ends = (math.ceil(last * _TAIL_PERCENT / 100.0), math.floor(last * (100.0 - _TAIL_PERCENT) / 100.0))
    low, high = (float(v) for v in np.partition(values, ends)[list(ends)])
    span = max(_SPAN_PER_BULK * (high - low), 1.0, abs(low), abs(high))
    if hi - lo > span:
        lo = max(darkest, low - (span - (high - low)) / 2.0)
        hi = min(brightest, lo + span)
        lo = max(darkest, hi - span)  # (the slack one side does not need goes to the other)
    return lo, (hi - lo) or 1.0


def ring_range(
    planes: Sequence[np.ndarray], rings: Sequence[np.ndarray], depth: int = 0
) -> tuple[float, float]:
    """(lo, scale) of one channel's 16-bit encoding from the pixels Telea reads (each crop's ``ring``, ``depth``
    pixels deep): the bulk's range (:func:`encoding_range`), widened to every ring pixel beyond it that is not
    lone. Lone, and clamped for the encoding: in a group of connected pixels beyond the bulk's range of at most
    :data:`_LONE_PX` (a firefly, a hot pixel), or one whose bounding box's longer side is at most
    :data:`_LONE_SIDE` and shorter than ``depth`` (a 2x2 block of hot pixels beside the hole set the fill's step
    to 0.9, bands of a few flat values). A thin bright line crossing a large hole (a lit cable, 10.0 on a
    0.05-0.10 wall) is under 1 % of the ring but its width times the ring's depth: clamped, Telea carried it in
    at 1.6, not 6."""
    known = np.concatenate([plane[ring] for plane, ring in zip(planes, rings, strict=True)])
    lo, scale = encoding_range(known)
    hi, widened = lo + scale, False
    for plane, ring in zip(planes, rings, strict=True):
        with np.errstate(invalid="ignore"):
            beyond = ring & np.isfinite(plane) & ((plane < lo) | (plane > hi))
        if not beyond.any():
            continue
        _, labels, stats, _ = cv2.connectedComponentsWithStats(beyond.astype(np.uint8), connectivity=8)
        grouped = beyond & ~_lone(stats, depth)[labels]
        if grouped.any():
            values = plane[grouped]
            lo, hi, widened = min(lo, float(values.min())), max(hi, float(values.max())), True
    return (lo, (hi - lo) or 1.0) if widened else (lo, scale)


def _lone(stats: np.ndarray, depth: int) -> np.ndarray:
    """Per connected group (``connectedComponentsWithStats``' ``stats``): whether it is lone (see
    :func:`ring_range`), by its pixel count or its compact bounding box in a ring ``depth`` pixels deep."""
    side = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    compact = (side <= _LONE_SIDE) & (side < depth)
    return (stats[:, cv2.CC_STAT_AREA] <= _LONE_PX) | compact


def _encode(plane: np.ndarray, lo: float, scale: float) -> np.ndarray:
    """A channel's crop mapped linearly from [lo, lo + scale] onto 16 bits (non-finite values clamped)."""
    unit = np.nan_to_num((plane - lo) / scale, nan=0.0, posinf=1.0, neginf=0.0)
    return np.clip(np.rint(unit * _TOP), 0, _TOP).astype(np.uint16)


def _march(
    encoded: list[np.ndarray],
    masks: list[np.ndarray],
    holes: list[np.ndarray],
    radius: float,
    lo: float,
    scale: float,
) -> list[np.ndarray]:
    """One channel's Telea fill of each part's crop, decoded at that part's hole pixels only (the rest of the
    crop is not read)."""
    decoded = []
    for plane, mask, part in zip(encoded, masks, holes, strict=True):
        filled = cv2.inpaint(plane, mask, radius, cv2.INPAINT_TELEA)
        decoded.append(filled[part].astype(np.float32) / _TOP * scale + lo)
    return decoded


def _parts(hole: np.ndarray, margin: int) -> list[tuple[int, int, int, int]]:
    """Crops (y0, y1, x0, x1) of ``hole``'s parts, each a part's bounding box plus ``margin``, where Telea can
    march each part alone. Telea reads, for a hole pixel, pixels within its radius (plus one for a gradient)
    and a distance map that reaches as far: less than ``margin``. Parts whose boxes lie within 2 x margin + 1
    of each other are merged until none do, so no crop holds another part's pixels and no two parts' reads
    meet; a march's order among equally distant pixels is by distance, then raster order, which a crop keeps.

    The merging is by the connected regions of the boxes grown by ``margin`` (two grown boxes touch exactly
    when the boxes are that close), repeated on the merged boxes until their number holds: a few image passes
    however many parts a scattered mask has (pairwise merging grew with their cube: 0.7 s for 600 pixels)."""
    height, width = hole.shape
    count, _, stats, _ = cv2.connectedComponentsWithStats(hole.astype(np.uint8), connectivity=8)
    x0, y0 = stats[1:, 0], stats[1:, 1]
    boxes = np.stack([y0, y0 + stats[1:, 3], x0, x0 + stats[1:, 2]], axis=1)
    while len(boxes) > 1:
        grown = np.zeros((height, width), np.uint8)
        for top, bottom, left, right in boxes.tolist():
            grown[max(top - margin, 0) : bottom + margin, max(left - margin, 0) : right + margin] = 1
        count, labels = cv2.connectedComponents(grown, connectivity=8)
        if count - 1 == len(boxes):
            break
        group = labels[boxes[:, 0], boxes[:, 2]] - 1  # (a box's own corner lies in its grown region)
        merged = np.empty((count - 1, 4), boxes.dtype)
        merged[:, 0] = merged[:, 2] = np.iinfo(boxes.dtype).max
        merged[:, 1] = merged[:, 3] = np.iinfo(boxes.dtype).min
        np.minimum.at(merged[:, 0], group, boxes[:, 0])
        np.maximum.at(merged[:, 1], group, boxes[:, 1])
        np.minimum.at(merged[:, 2], group, boxes[:, 2])
        np.maximum.at(merged[:, 3], group, boxes[:, 3])
        boxes = merged
    return [
        (
            max(top - margin, 0),
            min(bottom + margin, height),
            max(left - margin, 0),
            min(right + margin, width),
        )
        for top, bottom, left, right in boxes.tolist()
    ]
