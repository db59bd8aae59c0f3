"""Regenerates ``docs/img/direction_choice.png``: the tennis crossed square, filled with and without the direction
choice (``propagate/direction.py``).

Run from the repository root: ``.venv/bin/python docs/img/make_direction_figure.py [frames [out.png]]`` (frames:
comma-separated, default ``29,30,31``). The benchmark's crossed square (a sixth of the frame high, on the player's
path, the player left in the plate, unmasked) is filled twice by the default engine: once with the direction
choice off (``direction.TOLERANCE = 0``: the plain weighted fusion) and once as shipped. Each row shows one frame,
a crop around the square enlarged 3x: the plate (the truth off the player), the plain fusion, the direction
choice. From frame 29 on the player's left foot comes down on ground that lay inside the square a few frames
before: for the square's points the forward chains fetch his sock, the backward ones the clay, and the seam ring
around the square shows clay (the plain fusion's pale stick and wedges).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np

from aifx_core.inpaint import BackendContext, FramePacket
from aifx_core.progress import Reporter
from aifx_core.propagate import PropagateBackend, direction

ROOT = Path(__file__).resolve().parents[2]
#: The research clips (``AIFX_DATA``, default: ``shared/data`` beside the repository, as /work/main has it).
DATA = Path(os.environ.get("AIFX_DATA", ROOT.parent / "shared" / "data")) / "tennis"
OUT = Path(__file__).resolve().parent / "direction_choice.png"
#: The benchmark's crossed square (``benchmarks/run_all.py``'s ``TENNIS_CROSSED``): top-left corner as shares.
CORNER = (0.093, 0.625)
ZOOM = 3


def load(last: int, corner: tuple[float, float] = CORNER) -> tuple[list[np.ndarray], np.ndarray]:
    """Frames 0..``last`` + 8 (the chains' reach past the last frame shown, as far as the clip goes) and the
    square (a sixth of the frame high, its top-left corner at ``corner``, shares of the frame)."""
    paths = sorted((DATA / "frames").glob("*.png"))[: last + 9]
    if not paths:
        raise SystemExit(
            f"no tennis frames in {DATA / 'frames'}; set AIFX_DATA to the folder holding tennis/"
        )
    frames = [cv2.imread(str(p))[..., ::-1].astype(np.float32) / 255.0 for p in paths]
    height, width = frames[0].shape[:2]
    side = max(4, height // 6)
    x0, y0 = int(width * corner[0]), int(height * corner[1])
    square = np.zeros((height, width), bool)
    square[y0 : y0 + side, x0 : x0 + side] = True
    return frames, square


def filled(
    frames: list[np.ndarray], square: np.ndarray, module: ModuleType, name: str, value: float
) -> list[np.ndarray]:
    """The engine's output with ``module.name`` set to ``value`` (the hole blanked, as the benchmark hands it)."""
    saved = getattr(module, name)
    setattr(module, name, value)
    try:
        backend = PropagateBackend(BackendContext(colorspace="sRGB"))
        packets = [
            FramePacket(t, np.where(square[..., None], 0.0, f).astype(np.float32), square)
            for t, f in enumerate(frames)
        ]
        return [rgb for _, rgb in backend.fill(packets, Reporter())]
    finally:
        setattr(module, name, saved)


def crop(image: np.ndarray, square: np.ndarray) -> np.ndarray:
    """The square and half its side around it, enlarged :data:`ZOOM` times, as 8-bit BGR."""
    ys, xs = np.nonzero(square)
    pad = (int(ys.max()) - int(ys.min()) + 1) // 2
    y0, y1 = max(int(ys.min()) - pad, 0), min(int(ys.max()) + pad + 1, image.shape[0])
    x0, x1 = max(int(xs.min()) - pad, 0), min(int(xs.max()) + pad + 1, image.shape[1])
    tile = np.clip(image[y0:y1, x0:x1] * 255.0, 0, 255).astype(np.uint8)[..., ::-1]
    return cv2.resize(tile, None, fx=ZOOM, fy=ZOOM, interpolation=cv2.INTER_NEAREST)


def sheet(rows: list[list[tuple[str, np.ndarray]]], square: np.ndarray, out: Path) -> None:
    """Writes rows of titled crops (:func:`crop`) around ``square`` as one PNG, white gaps between them."""
    lines = []
    for row in rows:
        tiles = []
        for title, image in row:
            tile = crop(image, square)  # (a new array: cv2.resize's)
            cv2.rectangle(tile, (0, 0), (tile.shape[1], 18), (0, 0, 0), -1)
            cv2.putText(tile, title, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
            tiles.append(tile)
        gap = np.full((tiles[0].shape[0], 4, 3), 255, np.uint8)
        lines.append(np.concatenate([part for tile in tiles for part in (tile, gap)][:-1], axis=1))
    between = np.full((4, lines[0].shape[1], 3), 255, np.uint8)
    whole = np.concatenate([part for line in lines for part in (line, between)][:-1], axis=0)
    cv2.imwrite(str(out), whole, [cv2.IMWRITE_PNG_COMPRESSION, 9])


def main(shown: list[int], out: Path = OUT) -> None:
    frames, square = load(max(shown))
    plain = filled(frames, square, direction, "TOLERANCE", 0.0)
    chosen = filled(frames, square, direction, "TOLERANCE", direction.TOLERANCE)
    rows = [
        [(f"plate, frame {t}", frames[t]), ("plain fusion", plain[t]), ("direction choice", chosen[t])]
        for t in shown
    ]
    sheet(rows, square, out)
    for t in shown:
        errors = [float(np.mean((run[t] - frames[t])[square] ** 2)) for run in (plain, chosen)]
        print(
            f"frame {t}: squared error in the square (player included) plain {errors[0]:.5f}, chosen {errors[1]:.5f}"
        )
    print(f"wrote {out}")


if __name__ == "__main__":
    main(
        [int(f) for f in sys.argv[1].split(",")] if len(sys.argv) > 1 else [29, 30, 31],
        Path(sys.argv[2]) if len(sys.argv) > 2 else OUT,
    )
