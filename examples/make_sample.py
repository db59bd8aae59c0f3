"""Generate the bundled sample shot in ``examples/shot/`` (deterministic: same bytes every run).

A brick wall with a lit window (scene-linear values 4-16) pans slowly left while a dark ball on a boom pole
swings across in front of it. Writes, for frames 1001-1030 at 320x180:

* ``plate.####.exr``: half-float RGBA, ZIP, with ``owner`` and ``aifx:sample`` string attributes;
  alpha is 1 everywhere (a camera plate), so the mask comes from the separate files;
* ``mask.####.png``: 8-bit matte of the ball and pole (anti-aliased edge);
* ``truth.####.exr``: the same wall without the ball (half RGB), for ``aifx eval``.

Only numpy, OpenCV and OpenEXR are used, so the sample does not depend on aifx itself::

    python examples/make_sample.py            # writes examples/shot/
    python examples/make_sample.py OUT_DIR    # somewhere else
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import OpenEXR

WIDTH, HEIGHT = 320, 180
FIRST, LAST = 1001, 1030
SEED = 1001
#: Pixels the wall moves left per frame (whole pixels: the truth is then the wall itself, not a resampling).
PAN = 1
BRICK_W, BRICK_H, MORTAR = 32, 14, 2


def wall(rng: np.random.Generator) -> np.ndarray:
    """The whole wall the camera pans over, float32 (HEIGHT, WIDTH + pan, 3), scene-linear Rec.709."""
    width = WIDTH + PAN * (LAST - FIRST) + 1
    yy, xx = np.mgrid[0:HEIGHT, 0:width]
    row = yy // BRICK_H
    shifted = xx + (row % 2) * (BRICK_W // 2)
    col = shifted // BRICK_W
    mortar = ((yy % BRICK_H) < MORTAR) | ((shifted % BRICK_W) < MORTAR)
    # One colour per brick (reds and browns), plus a soft grain; values quantised to 1/128 keep ZIP small.
    tints = rng.uniform(0.75, 1.25, size=(row.max() + 1, col.max() + 1)).astype(np.float32)
    brick = np.array([0.32, 0.12, 0.07], np.float32) * tints[row, col][..., None]
    grain = cv2.GaussianBlur(rng.normal(0.0, 1.0, (HEIGHT, width)).astype(np.float32), (0, 0), 1.2)
    brick = brick * (1.0 + 0.25 * grain[..., None])
    image = np.where(mortar[..., None], np.array([0.18, 0.17, 0.15], np.float32), brick)
    # Soft light falloff from the top right, like a practical off screen.
    image = image * (0.55 + 0.6 * (xx / width) * (1.0 - 0.4 * yy / HEIGHT))[..., None]
    # A lit window: warm interior gradient from 4 to 16, dark frame bars, and a hot lamp spot.
    x0, x1, y0, y1 = 150, 214, 40, 110
    inside = (xx >= x0) & (xx < x1) & (yy >= y0) & (yy < y1)
    glow = 4.0 + 12.0 * ((yy - y0) / (y1 - y0)).clip(0, 1)
    light = np.stack([glow, glow * 0.85, glow * 0.6], axis=-1).astype(np.float32)
    bars = ((xx - x0) % 32 < 3) | ((yy - y0) % 35 < 3)
    image = np.where((inside & ~bars)[..., None], light, image)
    image = np.where((inside & bars)[..., None], np.float32(0.03), image)
    return (np.round(image * 128.0) / 128.0).astype(np.float32)


def ball_and_pole(index: int) -> tuple[np.ndarray, np.ndarray]:
    """Coverage (float32 0..1, anti-aliased) and colour of the moving object for frame ``index`` (0-based)."""
    t = index / (LAST - FIRST)
    cx = 40.0 + 240.0 * t
    cy = 95.0 + 12.0 * np.sin(t * np.pi * 2.0)
    radius = 17.0
    scale = 4  # supersample the coverage for a soft, realistic edge
    ys, xs = np.mgrid[0 : HEIGHT * scale, 0 : WIDTH * scale].astype(np.float32)
    xs, ys = (xs + 0.5) / scale, (ys + 0.5) / scale
    ball = (xs - cx) ** 2 + (ys - cy) ** 2 <= radius**2
    pole = (np.abs(xs - cx) <= 2.0) & (ys <= cy)
    fine = (ball | pole).astype(np.float32)
    coverage = fine.reshape(HEIGHT, scale, WIDTH, scale).mean(axis=(1, 3))
    # A dark, slightly shaded ball lit from the top right.
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    shade = 0.02 + 0.05 * np.clip(((xx - cx) - (yy - cy)) / (2 * radius) + 0.5, 0, 1)
    colour = np.stack([shade, shade * 0.95, shade * 0.9], axis=-1).astype(np.float32)
    return coverage.astype(np.float32), colour


def write_exr(path: Path, channels: dict[str, np.ndarray], **attributes: str) -> None:
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage, **attributes}
    # The bindings take each array's buffer as is: slices of an (H, W, 3) array must be made contiguous.
    channels = {name: np.ascontiguousarray(plane) for name, plane in channels.items()}
    with OpenEXR.File(header, channels) as exr:
        exr.write(str(path))


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    world = wall(rng)
    for index, frame in enumerate(range(FIRST, LAST + 1)):
        x = index * PAN
        background = world[:, x : x + WIDTH]
        coverage, colour = ball_and_pole(index)
        plate = background * (1.0 - coverage[..., None]) + colour * coverage[..., None]
        half = plate.astype(np.float16)
        attributes = {"owner": "aifx examples", "aifx:sample": f"ball on a boom, frame {frame}"}
        write_exr(
            out / f"plate.{frame:04d}.exr",
            {"R": half[..., 0], "G": half[..., 1], "B": half[..., 2], "A": np.ones_like(half[..., 0])},
            **attributes,
        )
        truth = background.astype(np.float16)
        write_exr(
            out / f"truth.{frame:04d}.exr", {"R": truth[..., 0], "G": truth[..., 1], "B": truth[..., 2]}
        )
        matte = np.round(coverage * 255.0).astype(np.uint8)
        cv2.imwrite(str(out / f"mask.{frame:04d}.png"), matte)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "shot")
