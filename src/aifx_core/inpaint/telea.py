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
        ys, xs = np.nonzero(hole)
        y0, y1 = max(ys.min() - margin, 0), min(ys.max() + margin + 1, hole.shape[0])
        x0, x1 = max(xs.min() - margin, 0), min(xs.max() + margin + 1, hole.shape[1])
        crop_hole = hole[y0:y1, x0:x1]
        mask = crop_hole.astype(np.uint8)
        ring = cv2.dilate(mask, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)).astype(bool) & ~crop_hole
        ranges, encoded = [], []
        for c in range(rgb.shape[-1]):
            plane = rgb[y0:y1, x0:x1, c]
            known = plane[ring & np.isfinite(plane)]
            lo, hi = (float(known.min()), float(known.max())) if known.size else (0.0, 1.0)
            scale = (hi - lo) or 1.0
            unit = np.nan_to_num((plane - lo) / scale, nan=0.0, posinf=1.0, neginf=0.0)
            encoded.append(np.clip(np.rint(unit * _TOP), 0, _TOP).astype(np.uint16))
            ranges.append((lo, scale))
        # The channels' passes are independent and OpenCV releases the GIL in them: they run at once (each the
        # same computation as alone, so the same values), instead of three in a row on the engine's thread.
        passes = [partial(cv2.inpaint, plane, mask, self.radius, cv2.INPAINT_TELEA) for plane in encoded]
        for c, (filled, (lo, scale)) in enumerate(
            zip(concurrently(passes, "aifx-telea"), ranges, strict=True)
        ):
            decoded = filled.astype(np.float32) / _TOP * scale + lo
            out[y0:y1, x0:x1, c][crop_hole] = decoded[crop_hole]
        return out
