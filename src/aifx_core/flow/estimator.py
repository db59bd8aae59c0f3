"""Optical flow estimators (pluggable) and the preparation of plate frames for them.

Flow is estimated on an 8-bit perceptual grey image at a working resolution (long side ≤ ``max_side``), with
the hole pre-filled smoothly, so that neither HDR highlights nor the object being removed drive the motion
estimate; the result is completed inside the hole (:mod:`.completion`) and returned in full-resolution pixels.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from ..errors import InputError
from .completion import complete_flow
from .fill import push_pull_fill

#: DIS presets by name. ``medium`` measured best for propagation quality per second (see docs/method.md).
DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


_DIS_MIN_SIDE = 16


@runtime_checkable
class FlowEstimator(Protocol):
    """Anything that turns two same-sized uint8 grey images into an A→B flow (H, W, 2) float32 in pixels."""

    def estimate(self, a_gray: np.ndarray, b_gray: np.ndarray) -> np.ndarray: ...


class DISFlow:
    """OpenCV's Dense Inverse Search: CPU-only, no weights, tens of milliseconds per 1K frame."""

    def __init__(self, preset: str = "medium") -> None:
        if preset not in DIS_PRESETS:
            raise InputError(f"flow preset {preset!r} is unknown; choose one of {', '.join(DIS_PRESETS)}")
        self.preset = preset
        self._dis = cv2.DISOpticalFlow_create(DIS_PRESETS[preset])  # type: ignore[attr-defined]

    def estimate(self, a_gray: np.ndarray, b_gray: np.ndarray) -> np.ndarray:
        height, width = a_gray.shape[:2]
        if min(height, width) >= _DIS_MIN_SIDE:
            return self._dis.calc(a_gray, b_gray, None)
        # DIS refuses tiny images (a side under 12 px): pad by edge replication, then crop the flow back.
        pad_y, pad_x = max(0, _DIS_MIN_SIDE - height), max(0, _DIS_MIN_SIDE - width)
        a = cv2.copyMakeBorder(a_gray, 0, pad_y, 0, pad_x, cv2.BORDER_REPLICATE)
        b = cv2.copyMakeBorder(b_gray, 0, pad_y, 0, pad_x, cv2.BORDER_REPLICATE)
        return np.ascontiguousarray(self._dis.calc(a, b, None)[:height, :width])


def working_size(height: int, width: int, max_side: int) -> tuple[int, int]:
    """(height, width) at which flow is computed: native up to ``max_side``, else scaled down."""
    scale = min(1.0, max_side / max(height, width))
    return max(8, round(height * scale)), max(8, round(width * scale))


def _tone_map(rgb: np.ndarray, colorspace: str | None) -> np.ndarray:
    """Float RGB as stored → perceptual 0..1 values: aifx's model space if colour.py can, else a soft log."""
    if colorspace is not None:
        try:
            from ..colour import to_model

            return np.clip(to_model(rgb, colorspace), 0.0, 1.0)
        except Exception:  # noqa: BLE001 - colour module missing or colourspace unknown: fall back
            pass
    clean = np.nan_to_num(np.maximum(rgb, 0.0), nan=0.0, posinf=64.0)
    if clean.max(initial=0.0) <= 1.0:
        return clean  # looks display-referred already
    return np.log1p(16.0 * clean) / np.log1p(16.0 * 64.0)


def flow_gray(
    rgb: np.ndarray,
    hole: np.ndarray | None,
    size: tuple[int, int],
    colorspace: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Frame (float RGB as stored, or uint8 grey) → (uint8 grey at ``size`` with the hole pre-filled, bool hole).

    The hole is dilated by 4 working pixels so the object's fringe does not leak into the flow either.
    """
    height, width = size
    small = rgb if rgb.shape[:2] == size else cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
    if small.ndim == 2 and small.dtype == np.uint8:
        gray = small.astype(np.float32) / 255.0
    else:
        tone = _tone_map(np.asarray(small, dtype=np.float32), colorspace)
        gray = (tone @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)).astype(np.float32)
    if hole is None or not hole.any():
        small_hole = np.zeros(size, dtype=bool)
    else:
        h8 = cv2.resize(hole.astype(np.uint8) * 255, (width, height), interpolation=cv2.INTER_AREA) > 0
        small_hole = cv2.dilate(h8.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
        gray = push_pull_fill(gray, ~small_hole, smooth=True)
    return np.clip(np.rint(gray * 255.0), 0, 255).astype(np.uint8), small_hole


def estimate_flow(
    a: np.ndarray,
    b: np.ndarray,
    *,
    hole_a: np.ndarray | None = None,
    hole_b: np.ndarray | None = None,
    estimator: FlowEstimator | None = None,
    max_side: int = 960,
    colorspace: str | None = None,
    complete: bool = True,
) -> np.ndarray:
    """Flow from frame ``a`` to frame ``b`` (H, W, 2) float32 in pixels of the input resolution.

    ``a``/``b`` are float RGB as stored (or uint8 grey). Inside ``hole_a`` ∪ ``hole_b`` the flow is the
    background's motion (completed from around the union), not the removed object's: pixels of ``a`` that land
    in ``b``'s hole would otherwise follow the pre-filled blob.
    """
    height, width = a.shape[:2]
    size = working_size(height, width, max_side)
    ga, ha = flow_gray(a, hole_a, size, colorspace)
    gb, hb = flow_gray(b, hole_b, size, colorspace)
    flow = (estimator or DISFlow()).estimate(ga, gb)
    if complete and (ha.any() or hb.any()):
        flow = complete_flow(flow, ha | hb)
    return upscale_flow(flow, (height, width))


def upscale_flow(flow: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a flow field to ``size`` (height, width) and rescale its vectors to the new pixel units."""
    height, width = size
    if flow.shape[:2] == size:
        return flow
    sy, sx = height / flow.shape[0], width / flow.shape[1]
    big: np.ndarray = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
    big[..., 0] *= sx
    big[..., 1] *= sy
    return big
