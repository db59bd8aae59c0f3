"""Small synthetic hard clips whose truth is known: a fast, motion-blurred pan under static holes, with an
unmasked textured object crossing the holes (what breaks a naive propagation: chains through the crosser,
and the crosser's pixels fetched as background).

Used by tests/test_propagate*.py and by the engine's evaluation scripts; numpy/OpenCV only (and the engine's
packet type and backend, for the fill helpers), seeded.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from aifx_core.backends import create_backend
from aifx_core.inpaint import BackendContext, FramePacket
from aifx_core.progress import Reporter


def holed_packets(frames: list[np.ndarray], holes: list[np.ndarray]) -> list[FramePacket]:
    """The frames as a backend receives them: each hole blanked to black (a fill cannot peek at the truth)."""
    return [
        FramePacket(t, np.where(h[..., None], 0.0, f).astype(np.float32), h)
        for t, (f, h) in enumerate(zip(frames, holes, strict=True))
    ]


def small_engine_fill(clip: HardClip, window: int = 40) -> list[np.ndarray]:
    """The propagate engine's output on ``clip`` with a short reach (radius 3, keyframes every 4 frames) and
    ``window``: what the spatial-fill tests compare, share against share."""
    backend = create_backend(
        "propagate",
        BackendContext(colorspace="sRGB", options=dict(window=window, radius=3, keyframe_interval=4)),
    )
    return [rgb for _, rgb in backend.fill(iter(holed_packets(clip.frames, clip.holes)), Reporter())]


def pan(n: int, size: tuple[int, int], speed: int, seed: int = 4) -> list[np.ndarray]:
    """A :func:`texture` plate panning ``speed`` px a frame to the left (the frame moves right over it)."""
    height, width = size
    big = texture(height, width + speed * n + 2, seed)
    return [np.ascontiguousarray(big[:, speed * t : speed * t + width]) for t in range(n)]


def filled(
    backend: str, frames: list[np.ndarray], holes: list[np.ndarray], **options: object
) -> list[np.ndarray]:
    """``backend``'s fill of the frames (each hole blanked to black first), per frame."""
    fill = create_backend(backend, BackendContext(colorspace="sRGB", options=dict(options)))
    return [rgb for _, rgb in fill.fill(iter(holed_packets(frames, holes)), Reporter())]


def hole_error(clip: HardClip, out: list[np.ndarray]) -> float:
    """Mean squared error of ``out`` against the clip's frames, inside the holes."""
    return float(np.mean([(rgb - clip.frames[t])[clip.holes[t]] ** 2 for t, rgb in enumerate(out)]))


#: The noise scales of :func:`texture` (cell size in px, weight) unless a clip asks for others.
CELLS = ((24, 0.45), (8, 0.35), (2, 0.2))
#: Coarser scales (cells of 32, 8 and 3 px): a ground DIS follows (the mover tests' plates).
GROUND_CELLS = ((32, 0.45), (8, 0.3), (3, 0.25))


def texture(
    height: int,
    width: int,
    seed: int,
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0),
    cells_and_weights: tuple[tuple[int, float], ...] = CELLS,
) -> np.ndarray:
    """Multi-scale smooth noise with fine detail (easy to track, hard to inpaint from the surroundings), in
    0.1..0.9."""
    rng = np.random.default_rng(seed)
    out = np.zeros((height, width, 3), np.float32)
    for cells, weight in cells_and_weights:
        small = rng.random((max(2, height // cells), max(2, width // cells), 3)).astype(np.float32)
        out += weight * cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    out = (out - out.min()) / max(1e-6, float(out.max() - out.min()))
    return np.clip(0.1 + 0.8 * out * np.asarray(tint, np.float32), 0.0, 1.0).astype(np.float32)


@dataclass
class HardClip:
    """Frames, holes (static squares) and where the unmasked crosser is (not background truth)."""

    frames: list[np.ndarray]
    holes: list[np.ndarray]
    crosser: list[np.ndarray]
    #: Frames of the same clip without the crosser (the background truth everywhere).
    background: list[np.ndarray]


def hard_clip(
    n: int = 16,
    size: tuple[int, int] = (96, 160),
    pan: float = 12.0,
    blur: bool = True,
    crosser_speed: float = -5.0,
    crosser_size: tuple[int, int] = (22, 30),
    holes: tuple[tuple[int, int, int], ...] = ((40, 30, 20), (40, 95, 20)),
    seed: int = 3,
) -> HardClip:
    """A background panning ``pan`` px/frame (box motion blur over half a frame when ``blur``), static square
    holes ``(y, x, side)``, and a textured rectangle moving ``crosser_speed`` px/frame in the image across
    the holes' rows, never masked."""
    height, width = size
    span = int(abs(pan) * (n + 1)) + width + 8
    background_tex = texture(height, span, seed)
    crosser_tex = texture(crosser_size[0], crosser_size[1], seed + 1, tint=(1.0, 0.35, 0.2))
    substeps = 6 if blur else 1
    frames, backgrounds, movers, masks = [], [], [], []
    for t in range(n):
        plates, plain = [], []
        for s in range(substeps):
            u = t + (s / substeps - 0.25) * 0.5 if blur else float(t)
            x0 = pan * u + 4
            shift = np.float32([[1, 0, -x0], [0, 1, 0]])
            bg = cv2.warpAffine(background_tex, shift, (width, height), flags=cv2.INTER_LINEAR)
            plain.append(bg)
            cx = width - 10 + crosser_speed * u * 2.0 - crosser_size[1]
            cy = holes[0][0] - 2
            place = np.float32([[1, 0, cx], [0, 1, cy]])
            obj = cv2.warpAffine(crosser_tex, place, (width, height), flags=cv2.INTER_LINEAR)
            alpha = cv2.warpAffine(
                np.ones(crosser_size, np.float32), place, (width, height), flags=cv2.INTER_LINEAR
            )[..., None]
            plates.append(bg * (1 - alpha) + obj * alpha)
        frame = np.mean(plates, axis=0).astype(np.float32)
        background = np.mean(plain, axis=0).astype(np.float32)
        frames.append(frame)
        backgrounds.append(background)
        movers.append(np.abs(frame - background).max(axis=-1) > 1e-3)
        hole = np.zeros((height, width), bool)
        for y, x, side in holes:
            hole[y : y + side, x : x + side] = True
        masks.append(hole)
    return HardClip(frames, masks, movers, backgrounds)
