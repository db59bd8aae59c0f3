"""Plates at the edge of what an EXR holds: values near float32's limit (±3.4e38, what a broken grade or a
bad conversion leaves). They are legal pixels: the temporal engine fills around them as around any other,
keeps every pixel outside the hole bit-exact, and its exposure matching ignores ratios that overflow."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
from shot_files import object_matte, plate_frame, read_exr, write_exr

FRAMES = range(1001, 1009)
HUGE = np.finfo(np.float32).max


def test_float32_max_values_fill_finite_and_leave_the_plate_bit_exact(tmp_path):
    for i, frame in enumerate(FRAMES):
        channels = {name: data.astype(np.float32) for name, data in plate_frame(i).items()}
        channels["R"][30:44, 40:60] = HUGE  # just below the moving hole's path
        channels["G"][30:44, 40:60] = -HUGE
        channels["B"][:, :8] = HUGE
        write_exr(tmp_path / f"plate.{frame}.exr", channels)
        cv2.imwrite(str(tmp_path / f"mask.{frame}.png"), object_matte(i))
    # The exposure matching's own arithmetic may warn of nothing: a warning there is an error (exit 3).
    strict = [f"-Werror::RuntimeWarning:aifx_core.propagate.{module}" for module in ("pairs", "engine")]
    done = subprocess.run(
        [sys.executable, *strict, "-m", "aifx_core", "fill", str(tmp_path / "plate.####.exr")]
        + ["-m", str(tmp_path / "mask.####.png"), "-o", str(tmp_path / "out" / "c.####.exr")]
        + ["-b", "propagate", "--dilate", "0", "--feather", "0"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    for frame in FRAMES:
        _, plate = read_exr(tmp_path / f"plate.{frame}.exr")
        _, out = read_exr(tmp_path / "out" / f"c.{frame}.exr")
        hole = cv2.imread(str(tmp_path / f"mask.{frame}.png"), cv2.IMREAD_GRAYSCALE) > 0
        assert sorted(out) == sorted(plate)
        for name in plate:
            assert out[name][~hole].tobytes() == plate[name][~hole].tobytes(), (frame, name)
        rgb = np.stack([out[c] for c in "RGB"], axis=-1)[hole]
        assert np.isfinite(rgb).all(), frame
