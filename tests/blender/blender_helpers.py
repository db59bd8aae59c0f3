"""Helpers shared by the Blender extension tests (read results with OpenEXR/OpenCV, not through Blender)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import OpenEXR

REPO = Path(__file__).resolve().parents[2]


def read_exr_rgb(path: Path) -> np.ndarray:
    """Float32 (H, W, 3) from an EXR, read with OpenEXR directly (not through aifx or Blender)."""
    with OpenEXR.File(str(path), separate_channels=True) as exr:
        channels = {name: channel.pixels.astype(np.float32) for name, channel in exr.channels().items()}
    return np.dstack([channels[name] for name in ("R", "G", "B")])


def read_png_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return bgr[..., ::-1].astype(np.float32) / 255.0


def matte_box(path: Path, margin: int = 3) -> tuple[int, int, int, int]:
    """Pixel bounding box (x0, y0, x1, y1) of a 0/255 matte, grown by ``margin``."""
    ys, xs = np.nonzero(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) > 127)
    return int(xs.min()) - margin, int(ys.min()) - margin, int(xs.max()) + margin, int(ys.max()) + margin
