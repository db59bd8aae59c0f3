"""A small real shot for the exact-chunk tests: EXR plates panning, PNG mattes with a sliding square (what it
hid is seen in other frames) and one glued to the plate's pan (nothing under it is ever seen: keyframes)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from shot_files import HEIGHT, WIDTH, frame_bytes, plate_frame, write_exr

from aifx_core import FillJob, fill

FIRST, COUNT = 1001, 30
ENGINE = {"radius": 3, "keyframe_interval": 4}


def matte(i: int) -> np.ndarray:
    """A square sliding back and forth (propagation finds what it hid) and one glued to the plate's pan."""
    matte = np.zeros((HEIGHT, WIDTH), np.uint8)
    x = 8 + int(abs((i % 16) - 8) * 4)
    matte[8:18, x : x + 10] = 255
    glued = 40 - int(1.5 * i) % 30
    matte[28:38, glued : glued + 8] = 255
    return matte


def chunk_shot(folder: Path, count: int = COUNT) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        write_exr(folder / f"plate.{FIRST + i:04d}.exr", plate_frame(i))
        cv2.imwrite(str(folder / f"mask.{FIRST + i:04d}.png"), matte(i))
    return folder


#: Backends that run under the temporal engine on a sequence (the generative ones are routed there).
TEMPORAL = ("propagate", "diffusers", "lama")


def chunk_job(shot: Path, out: Path, backend: str = "propagate", **options) -> FillJob:
    options = {**ENGINE, **options} if backend in TEMPORAL else options
    return FillJob(
        input=str(shot / "plate.####.exr"),
        mask=str(shot / "mask.####.png"),
        output=str(out / "clean.####.exr"),
        backend=backend,
        options=options,
    )


def pixels(out: Path, frame: int) -> dict[str, bytes]:
    return frame_bytes(out / "clean.####.exr", frame)


def assert_same(a: Path, b: Path, frames) -> None:
    for frame in frames:
        assert pixels(a, frame) == pixels(b, frame), f"frame {frame} differs from the whole run"


def fill_in_chunks(shot: Path, out: Path, chunks: list[str]) -> list[int]:
    """Fill ``shot`` into ``out`` one ``--frames`` chunk after another (as farm tasks would): the frames written."""
    written: list[int] = []
    for chunk in chunks:
        written += fill(chunk_job(shot, out), frames=chunk).written
    return written
