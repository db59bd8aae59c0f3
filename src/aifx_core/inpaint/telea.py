"""OpenCV's Telea inpainting, made safe for scene-linear plates.

``cv2.inpaint`` takes 8-bit colour or single-channel 16-bit/float images, and its Telea mode returns garbage
on float32 (OpenCV 4.11: values far outside the input range). So each channel is mapped linearly onto 16 bits
using the range of the pixels Telea actually reads (a ring around the hole), inpainted, and mapped back: HDR
values keep ~1/65535 of the local range of precision instead of being clipped to 8 bits. Only the hole's
bounding box (plus the ring) is processed, so a small hole on a 4K plate costs a small crop.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import cv2
import numpy as np

from ..errors import InputError
from ..options import Options
from ..workers import concurrently
from .base import BackendContext

_TOP = 65535.0


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

    def inpaint(self, rgb: np.ndarray, hole: np.ndarray, *, frame: int | None = None) -> np.ndarray:
        out = rgb.copy()
        if not hole.any():
            return out
        margin = self.context_px
        # Each part of the hole is marched in its own crop (see :func:`_parts`): the same values as one march of
        # the whole, since nothing Telea reads for one part lies near another, at the cost of the parts' crops
        # only (nine scattered squares: about a fifth of their union's bounding box).
        parts = _parts(hole, margin)
        holes = [hole[y0:y1, x0:x1] for y0, y1, x0, x1 in parts]
        masks = [part.astype(np.uint8) for part in holes]
        kernel = np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)
        rings = [cv2.dilate(mask, kernel).view(bool) & ~part for mask, part in zip(masks, holes, strict=True)]
        passes = []
        for c in range(rgb.shape[-1]):
            planes = [rgb[y0:y1, x0:x1, c] for y0, y1, x0, x1 in parts]
            # The 16-bit range is the whole ring's (the union of the parts' rings: no part's ring holds another
            # part's pixels), so each part is encoded as one crop of the whole would be.
            known = [plane[ring & np.isfinite(plane)] for plane, ring in zip(planes, rings, strict=True)]
            known = [k for k in known if k.size]
            lo, hi = (
                (min(float(k.min()) for k in known), max(float(k.max()) for k in known))
                if known
                else (0.0, 1.0)
            )
            scale = (hi - lo) or 1.0
            encoded = [_encode(plane, lo, scale) for plane in planes]
            passes.append(partial(_march, encoded, masks, holes, self.radius, lo, scale))
        # The channels' passes are independent and OpenCV releases the GIL in them: they run at once (each the
        # same computation as alone, so the same values), instead of three in a row on the engine's thread.
        for c, decoded in enumerate(concurrently(passes, "aifx-telea")):
            for (y0, y1, x0, x1), part, values in zip(parts, holes, decoded, strict=True):
                out[y0:y1, x0:x1, c][part] = values
        return out


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
