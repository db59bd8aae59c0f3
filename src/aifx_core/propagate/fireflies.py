"""Fireflies: lone plate pixels far brighter than everything around them, capped in what the fill reads.

A path-traced plate carries fireflies (one pixel at 1e4 or 1e8 where its neighbours hold 0.5), and so does a
scene-linear plate a grade pushed too far. Outside the hole they are the plate's, written back bit-exact like
every other pixel. Inside the hole they must not count: the engine's smooth fields (the ring membrane, the
spatial fill's push-pull, the seam's correction) average hundreds of plate pixels in linear light, so a single
1e8 pixel 14 px from the hole raised a whole square of fill by about 340, a glowing blob where a per-frame
Telea fill, which reads only a few pixels next to the hole, stays clean.

So the smooth fields read a copy of the plate (``_Frame.smooth``) that holds each such pixel capped at
:data:`FIREFLY` times the larger of its eight neighbours' largest magnitude and the frame's level, and never below
display white (1): a highlight two pixels wide keeps its value (its neighbour is as bright), a star in a dark
display-referred plate keeps its 1.0, and a plate whose values stay within 0..1 (every 8- and 16-bit plate) is
read exactly as it is. So do the spatial fill, the fallback's meeting offset, the keyframe carry and the
steadying, which invent or average. What the chains copy from other frames reads the plate itself
(``_Frame.source``): a star, a city light or an LED in a scene-linear plate is lone in space too, and the cap
dimmed it 5-50x in the fill; it moves with the plate, so the other frames show it where the chains land, and a
render's firefly, lone in time as well, is one sample among a point's several and is dropped by the fusion as
an outlier.
"""

from __future__ import annotations

import cv2
import numpy as np

#: A pixel is a firefly where one of its channels' magnitude exceeds this many times both the largest magnitude
#: of that channel among its eight neighbours and the frame's level; it is read as that bound (sign kept).
FIREFLY = 16.0

#: The eight neighbours (the centre left out: a pixel is not its own neighbour).
_AROUND = np.array([[1, 1, 1], [1, 0, 1], [1, 1, 1]], np.uint8)


def tame_fireflies(rgb: np.ndarray, level: float, peak: float) -> np.ndarray | None:
    """``rgb`` (H, W, 3, finite) with its fireflies capped, or None when it has none.

    ``level``: the frame's typical magnitude (its median); ``peak``: its largest magnitude, which the caller has
    already measured: a frame whose peak stays under ``FIREFLY × level`` (and 1) has no firefly, and costs
    nothing more.
    """
    floor = max(level, 1e-6)
    if peak <= max(FIREFLY * floor, 1.0):
        return None
    magnitude = np.abs(rgb).astype(np.float32, copy=False)
    # (cv2.dilate takes the largest of each channel over the kernel, separately per channel; its default border
    # counts nothing outside the frame)
    around = np.asarray(cv2.dilate(magnitude, _AROUND), np.float32)
    bound = np.maximum(np.float32(FIREFLY) * np.maximum(around, np.float32(floor)), np.float32(1.0))
    wild = magnitude > bound
    if not wild.any():
        return None
    return np.where(wild, np.copysign(bound, rgb), rgb).astype(np.float32, copy=False)
