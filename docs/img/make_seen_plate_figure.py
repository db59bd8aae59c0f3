"""Regenerates ``docs/img/seen_plate.png``: the schoolgirls clip (a locked-off shot) with the girls removed, with
and without the shot's seen plate (``aifx_core.propagate.seen``), then the same clip as a handheld shot, then as a
tripod bumped aside early in the shot.

Run from the repository root: ``.venv/bin/python docs/img/make_seen_plate_figure.py [out.png]``. Two girls stand
still for half the shot; what they hide is seen only once they walk off, further away than any chain reaches.
Columns: the plate, the fill without the seen plate (``seen_plate: false``), the fill with it (the default); rows:
frames 5 and 20, then frames 5 and 20 of the handheld version (:func:`handheld`: each frame moved at random up to
:data:`SHAKE` px, as the benchmark's ``shake`` variant; the plate is registered), then of the bumped version
(:func:`bumped`: frame 5 is before the bump, in a stretch too short to see anything twice; frame 20 reads the
plate of the stretch that begins once the camera is still again), cropped to the middle of the frame (the whole
frame where it is small).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from aifx_core.inpaint import BackendContext, FramePacket
from aifx_core.inpaint.base import Span
from aifx_core.mask import make_hole
from aifx_core.progress import Reporter
from aifx_core.propagate import PropagateBackend

ROOT = Path(__file__).resolve().parents[2]
#: The research clips (``AIFX_DATA``, default: ``shared/data`` beside the repository, as /work/main has it).
DATA = Path(os.environ.get("AIFX_DATA", ROOT.parent / "shared" / "data")) / "schoolgirls"
OUT = Path(__file__).resolve().parent / "seen_plate.png"
#: Frames shown, and the crop (rows, columns) at 432x240 (scaled to the clip's size).
FRAMES = (5, 20)
CROP = ((0.25, 0.96), (0.35, 0.9))
#: The handheld version's shake: a random shift of up to this many pixels each way, new every frame, of the frame
#: scaled up 15 % (so no border shows); mattes move with the picture.
SHAKE = 6.0
#: The bumped version: from this share of the shot on, the camera stands this share of the frame's height aside
#: (beyond what the pass registers to the first frame), the frame scaled up 30 % so no border shows.
BUMP_AT, BUMP = 0.125, 0.2


def load() -> tuple[list[np.ndarray], list[np.ndarray]]:
    frames, holes = [], []
    for path in sorted((DATA / "frames").glob("*.png")):
        frames.append(cv2.imread(str(path))[..., ::-1].astype(np.float32) / 255.0)
        matte = cv2.imread(str(DATA / "masks" / path.name), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0
        holes.append(make_hole(matte, 0.5, 4))  # as ``aifx fill`` makes it (dilate 4)
    if not frames:
        raise SystemExit(
            f"no schoolgirls frames in {DATA / 'frames'}; set AIFX_DATA to the folder holding it"
        )
    return frames, holes


def _through_camera(
    frames: list[np.ndarray],
    holes: list[np.ndarray],
    zoom: float,
    shift: Callable[[int], tuple[float, float]],
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The shot through a camera that scales each frame up by ``zoom`` about its centre (so no border shows) and
    moves frame t by ``shift(t)`` (x, y) px; mattes move with the picture."""
    height, width = frames[0].shape[:2]
    size = (width, height)
    moved_frames, moved_holes = [], []
    for t, (frame, hole) in enumerate(zip(frames, holes, strict=True)):
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), 0.0, zoom)
        matrix[:, 2] += shift(t)
        moved_frames.append(cv2.warpAffine(frame, matrix, size, borderMode=cv2.BORDER_REFLECT))
        matte = cv2.warpAffine(hole.astype(np.uint8), matrix, size, flags=cv2.INTER_NEAREST)
        moved_holes.append(matte.astype(bool))
    return moved_frames, moved_holes


def handheld(frames: list[np.ndarray], holes: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The shot as a hand would have held the camera (see :data:`SHAKE`; ``benchmarks/stress_variants.py``)."""

    def shake(t: int) -> tuple[float, float]:
        dx, dy = np.random.default_rng(500 + t).uniform(-SHAKE, SHAKE, 2)
        return float(dx), float(dy)

    return _through_camera(frames, holes, 1.15, shake)


def bumped(frames: list[np.ndarray], holes: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The shot on a tripod bumped aside early on (see :data:`BUMP`)."""
    aside = BUMP * frames[0].shape[0]
    return _through_camera(frames, holes, 1.3, lambda t: (aside if t >= BUMP_AT * len(frames) else 0.0, 0.0))


def filled(frames: list[np.ndarray], holes: list[np.ndarray], seen: bool) -> dict[int, np.ndarray]:
    """The engine's fill of the shot, with the shot's seen plate made first as the pipeline does (or off)."""
    backend = PropagateBackend(BackendContext(colorspace="sRGB", options={"seen_plate": seen}))

    def packets():
        return (FramePacket(t, f, h) for t, (f, h) in enumerate(zip(frames, holes, strict=True)))

    span = Span(tuple(range(len(frames))), seen=backend.seen_plate(packets()))
    return {t: rgb for t, rgb in backend.fill(packets(), Reporter(), span) if t in FRAMES}


def main(out: Path = OUT) -> None:
    frames, holes = load()
    shown = [t for t in FRAMES if t < len(frames)]
    height, width = frames[0].shape[:2]
    (r0, r1), (c0, c1) = CROP
    rows = slice(int(r0 * height), int(r1 * height)) if height >= 120 else slice(0, height)
    cols = slice(int(c0 * width), int(c1 * width)) if width >= 200 else slice(0, width)
    gap = np.full((rows.stop - rows.start, 4, 3), 1.0, np.float32)
    lines = []
    for shot, shot_holes in ((frames, holes), handheld(frames, holes), bumped(frames, holes)):
        without, with_plate = filled(shot, shot_holes, False), filled(shot, shot_holes, True)
        for t in shown:
            tiles = [shot[t][rows, cols], without[t][rows, cols], with_plate[t][rows, cols]]
            lines.append(np.concatenate([tiles[0], gap, tiles[1], gap, tiles[2]], axis=1))
            lines.append(np.full((4, lines[-1].shape[1], 3), 1.0, np.float32))
    sheet = np.concatenate(lines[:-1], axis=0)
    cv2.imwrite(str(out), np.uint8(np.clip(sheet, 0, 1) * 255 + 0.5)[..., ::-1])
    print(f"wrote {out} (frames {', '.join(map(str, shown))}, locked off, handheld and bumped)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
