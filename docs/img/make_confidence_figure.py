"""Regenerates ``docs/img/nuke_confidence.png``: the ``fill.confidence`` channel of a fill, as Nuke shows it.

Run from the repository root: ``.venv/bin/python docs/img/make_confidence_figure.py [frame]``. It fills the
bundled sample shot (``examples/shot``) with ``aifx fill --confidence`` (the ``propagate`` backend, what the
AIFill node runs with *confidence* on) and draws, for one frame: the filled rgba, its ``fill.confidence``
channel (white = sure, black = a guess) and the fill graded red by ``1 - confidence`` (what a Grade masked by
the inverted channel shows). The picture is made from the very EXR the node's Read outputs.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import OpenEXR

ROOT = Path(__file__).resolve().parents[2]
SHOT = ROOT / "examples" / "shot"
OUT = Path(__file__).resolve().parent / "nuke_confidence.png"


def srgb(linear: np.ndarray) -> np.ndarray:
    """Scene-linear → 8-bit sRGB for the page (clipped at 1, as a viewer with the sRGB LUT shows it)."""
    x = np.clip(linear, 0.0, 1.0)
    encoded = np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)
    return np.round(encoded * 255.0).astype(np.uint8)


def label(image: np.ndarray, text: str) -> np.ndarray:
    out = image.copy()
    cv2.putText(out, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def main(frame: int = 1020) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "fill.####.exr"
        command = [sys.executable, "-m", "aifx_core", "fill", str(SHOT / "plate.####.exr")]
        command += ["-m", str(SHOT / "mask.####.png"), "-o", str(out), "--confidence"]
        subprocess.run(command, check=True)
        with OpenEXR.File(str(out).replace("####", str(frame)), separate_channels=True) as exr:
            channels = {k: np.array(v.pixels, np.float32) for k, v in exr.channels().items()}
    rgb = np.dstack([channels[c] for c in ("R", "G", "B")])
    confidence = channels["fill.confidence"]
    grey = np.round(np.clip(confidence, 0, 1) * 255).astype(np.uint8)
    unsure = (1.0 - np.clip(confidence, 0, 1))[..., None]
    tinted = rgb * (1 - 0.7 * unsure) + np.array([1.0, 0.05, 0.05]) * 0.7 * unsure
    panels = [
        label(srgb(rgb), "AIFill: rgba"),
        label(np.dstack([grey] * 3), "fill.confidence"),
        label(srgb(tinted), "graded by 1 - fill.confidence"),
    ]
    cv2.imwrite(str(OUT), np.hstack(panels)[..., ::-1])
    print(OUT)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
