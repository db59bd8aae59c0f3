"""OpenCV's Telea inpainting, per channel in float32 so scene-linear values above 1 survive.

``cv2.inpaint`` takes 8-bit 3-channel images or single-channel float32 ones; running each channel as float32
avoids quantising an HDR plate to 8 bits.
"""

from __future__ import annotations

import cv2
import numpy as np

from .base import BackendContext


class TeleaBackend:
    name = "telea"

    def __init__(self, context: BackendContext) -> None:
        self.radius = float(context.options.get("telea_radius", 5))

    def inpaint(self, rgb: np.ndarray, hole: np.ndarray, *, frame: int | None = None) -> np.ndarray:
        mask = hole.astype(np.uint8)
        clean = np.where(hole[..., None], 0.0, np.nan_to_num(rgb, nan=0.0, posinf=0.0, neginf=0.0))
        planes = [
            cv2.inpaint(
                np.ascontiguousarray(clean[..., c], dtype=np.float32), mask, self.radius, cv2.INPAINT_TELEA
            )
            for c in range(rgb.shape[-1])
        ]
        return np.stack(planes, axis=-1)
