"""The scripts that draw docs/img figures from the engine still run against it (one lost an attribute of the
engine once and stayed broken): each is run on a tiny clip of its own, writing to a temporary file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
from shot_files import object_matte, plate_frame

REPO = Path(__file__).resolve().parents[1]


def run_figure_script(name: str, data: Path, *args: str) -> np.ndarray:
    """Run ``docs/img/<name>`` with ``AIFX_DATA=data`` and ``args`` (the last one: the figure it writes); the
    figure it wrote."""
    done = subprocess.run(
        [sys.executable, str(REPO / "docs" / "img" / name), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "AIFX_DATA": str(data)},
    )
    assert done.returncode == 0, done.stderr
    sheet = cv2.imread(args[-1])
    assert sheet is not None
    return sheet


def write_tennis(data: Path, masks: bool = False) -> None:
    """A stand-in for ``$AIFX_DATA/tennis``: 8 frames of 64x48 in ``frames/`` (and the object's mattes in
    ``masks/``)."""
    frames = data / "tennis" / "frames"
    frames.mkdir(parents=True)
    if masks:
        (data / "tennis" / "masks").mkdir()
    for i in range(8):
        channels = plate_frame(i)
        rgb = np.stack([np.nan_to_num(channels[c], nan=0.0, posinf=1.0, neginf=0.0) for c in "BGR"], -1)
        cv2.imwrite(str(frames / f"{i:05d}.png"), np.uint8(np.clip(rgb, 0, 1) * 255))
        if masks:
            cv2.imwrite(str(data / "tennis" / "masks" / f"{i:05d}.png"), object_matte(i))


def test_method_figure_script_runs_on_a_small_clip(tmp_path):
    """``make_method_figure.py`` reads ``$AIFX_DATA/tennis/{frames,masks}/*.png``: here 8 frames of 64x48."""
    write_tennis(tmp_path, masks=True)
    sheet = run_figure_script("make_method_figure.py", tmp_path, "3", str(tmp_path / "method.png"))
    assert sheet.shape == (2 * 48 + 4, 3 * 64 + 8, 3)


def test_seen_plate_figure_script_runs_on_a_small_locked_off_clip(tmp_path):
    """``make_seen_plate_figure.py`` reads ``$AIFX_DATA/schoolgirls/{frames,masks}/*.png``: here 8 frames of 64x48
    under a still camera (the plate of frame 0 throughout), a square walking across it; the script shakes it and
    bumps it too."""
    frames, masks = tmp_path / "schoolgirls" / "frames", tmp_path / "schoolgirls" / "masks"
    frames.mkdir(parents=True)
    masks.mkdir()
    channels = plate_frame(0)
    still = np.stack([np.nan_to_num(channels[c], nan=0.0, posinf=1.0, neginf=0.0) for c in "BGR"], -1)
    for i in range(8):
        cv2.imwrite(str(frames / f"{i:05d}.png"), np.uint8(np.clip(still, 0, 1) * 255))
        cv2.imwrite(str(masks / f"{i:05d}.png"), object_matte(i))
    sheet = run_figure_script("make_seen_plate_figure.py", tmp_path, str(tmp_path / "seen_plate.png"))
    # Frame 5 only (the clip has 8 frames): locked off, then handheld, then bumped.
    assert sheet.shape == (3 * 48 + 2 * 4, 3 * 64 + 8, 3)


def test_direction_figure_script_runs_on_a_small_clip(tmp_path):
    """``make_direction_figure.py`` reads ``$AIFX_DATA/tennis/frames/*.png``: here 8 frames of 64x48. Its square
    (a sixth of the height, 8 px, at 5, 30) with half its side around it is 16x16 px, shown 3x: two rows of three."""
    write_tennis(tmp_path)
    sheet = run_figure_script("make_direction_figure.py", tmp_path, "3,4", str(tmp_path / "direction.png"))
    assert sheet.shape == (2 * 48 + 4, 3 * 48 + 8, 3)


def test_sharp_figure_script_runs_on_a_small_clip(tmp_path):
    """``make_sharp_figure.py`` reads ``$AIFX_DATA/tennis/frames/*.png``: here 8 frames of 64x48. Its square (8 px,
    at 28, 3) with half its side around it is 16 px wide and 15 high (the frame's top cuts it), shown 3x: two rows
    of five."""
    write_tennis(tmp_path)
    sheet = run_figure_script("make_sharp_figure.py", tmp_path, "3,4", str(tmp_path / "sharp.png"))
    assert sheet.shape == (2 * 45 + 4, 5 * 48 + 4 * 4, 3)


def test_the_farm_figure_and_text_show_the_engines_reach():
    """docs/farm.md and its figure said 14 frames before and 13 after a chunk long after the engine's reach
    grew to 30 and 17: the figure records the reach it was drawn with (rerun docs/img/make_farm_figure.py),
    the text names the same numbers."""
    from PIL import Image

    from aifx_core.backends import create_backend
    from aifx_core.inpaint import BackendContext

    behind, ahead = create_backend("propagate", BackendContext()).reach
    with Image.open(REPO / "docs" / "img" / "farm_chunks.png") as figure:
        assert figure.text.get("Description") == f"reach {behind} before, {ahead} after"
    text = (REPO / "docs" / "farm.md").read_text(encoding="utf-8")
    assert f"reads {behind} frames of context before and {ahead} after them" in text  # the figure's alt text
    assert f"{behind} frames before and {ahead} after a run of frames" in text  # resume
    assert f"reach on both sides ({behind + ahead} frames with the defaults)" in text
    assert f"`1 + {behind + ahead} / n`" in text
    for n, times in ((50, "1.94x"), (100, "1.47x"), (20, "3.35x")):
        assert f"{1 + (behind + ahead) / n:.2f}x" == times and times in text
