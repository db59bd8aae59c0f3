"""Regenerates ``docs/img/method.png``: how ``propagate`` fills one frame of the tennis clip.

Run from the repository root: ``.venv/bin/python docs/img/make_method_figure.py [frame [out.png]]``. It removes
the player (the clip's own masks, dilated like ``aifx fill`` does) and shows, for one frame: the plate, the
hole, what flow-guided propagation fetched from other frames (magenta: nothing seen within the radius), where
keyframe or spatial fill supplied the rest, the result, and the engine's per-pixel confidence (what
``aifx fill --confidence`` writes).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import cv2
import numpy as np

from aifx_core.inpaint import BackendContext, FramePacket
from aifx_core.progress import Reporter
from aifx_core.propagate import PropagateBackend

ROOT = Path(__file__).resolve().parents[2]
#: The research clips (``AIFX_DATA``, default: ``shared/data`` beside the repository, as /work/main has it).
DATA = Path(os.environ.get("AIFX_DATA", ROOT.parent / "shared" / "data")) / "tennis"
OUT = Path(__file__).resolve().parent / "method.png"


def load() -> tuple[list[np.ndarray], list[np.ndarray]]:
    frames, holes = [], []
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (11, 11))
    for path in sorted((DATA / "frames").glob("*.png")):
        frames.append(cv2.imread(str(path))[..., ::-1].astype(np.float32) / 255.0)
        mask = cv2.imread(str(DATA / "masks" / path.name), cv2.IMREAD_GRAYSCALE) > 127
        holes.append(cv2.dilate(mask.astype(np.uint8), kernel) > 0)
    if not frames:
        raise SystemExit(
            f"no tennis frames in {DATA / 'frames'}; set AIFX_DATA to the folder holding tennis/"
        )
    return frames, holes


def main(index: int = 35, out: Path = OUT) -> None:
    frames, holes = load()
    backend = PropagateBackend(BackendContext(colorspace="sRGB"))
    # Propagation alone: radius so large that no keyframe is needed would hide step 4, so ask the engine
    # for its intermediate result of this frame directly, then run the whole backend for the result.
    from aifx_core.propagate.engine import _Run

    run = _Run(
        backend, iter([FramePacket(t, f, h) for t, (f, h) in enumerate(zip(frames, holes, strict=True))])
    )
    run.pairs.available(index)
    prop = run.propagated(index)
    propagated = frames[index].copy()
    propagated[prop.ys, prop.xs] = prop.values + prop.offset
    propagated[prop.ys[~prop.found], prop.xs[~prop.found]] = (1.0, 0.0, 1.0)
    packets = [FramePacket(t, f, h) for t, (f, h) in enumerate(zip(frames, holes, strict=True))]
    result, confidence = frames[index], np.ones(holes[index].shape, np.float32)
    for t, rgb in backend.fill(packets, Reporter()):
        if t == index:  # (the engine keeps the confidence map of the frame it just yielded)
            result, confidence = rgb, backend.last_confidence
    unseen = np.zeros(holes[index].shape, bool)
    unseen[prop.ys[~prop.found], prop.xs[~prop.found]] = True
    spatial = result.copy()
    spatial[holes[index] & ~unseen] *= 0.35  # dim what propagation filled; keep keyframe/spatial fill bright
    hole_view = frames[index].copy()
    hole_view[holes[index]] = hole_view[holes[index]] * 0.3 + np.array([0.7, 0.0, 0.0])
    trust = frames[index] * 0.35
    shown = np.uint8(np.clip(confidence[holes[index]], 0, 1) * 255)[:, None]
    trust[holes[index]] = cv2.applyColorMap(shown, cv2.COLORMAP_VIRIDIS)[:, 0, ::-1] / 255.0
    panels = [
        ("frame", frames[index]),
        ("hole (dilated matte)", hole_view),
        ("propagated (magenta: unseen)", propagated),
        ("keyframe / spatial fill", spatial),
        ("result", result),
        ("confidence: 0 (dark) .. 1 (yellow)", trust),
    ]
    tiles = []
    for title, image in panels:
        tile = np.clip(image * 255.0, 0, 255).astype(np.uint8)[..., ::-1].copy()
        cv2.rectangle(tile, (0, 0), (tile.shape[1], 20), (0, 0, 0), -1)
        cv2.putText(tile, title, (6, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(tile)
    gap = np.full((tiles[0].shape[0], 4, 3), 255, np.uint8)
    top = np.concatenate([tiles[0], gap, tiles[1], gap, tiles[2]], axis=1)
    bottom = np.concatenate([tiles[3], gap, tiles[4], gap, tiles[5]], axis=1)
    sheet = np.concatenate([top, np.full((4, top.shape[1], 3), 255, np.uint8), bottom], axis=0)
    cv2.imwrite(str(out), sheet, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {out} (frame {index}: {prop.found.mean():.0%} of the hole propagated)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 35, Path(sys.argv[2]) if len(sys.argv) > 2 else OUT)
