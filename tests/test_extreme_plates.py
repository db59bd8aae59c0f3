"""Plates at the edge of what an EXR holds: values near float32's limit (±3.4e38, what a broken grade or a
bad conversion leaves). They are legal pixels: the temporal engine fills around them as around any other,
keeps every pixel outside the hole bit-exact, and none of its arithmetic overflows: the engine reads magnitudes
beyond ``aifx_core.propagate.pairs.LARGEST`` as that, so no RuntimeWarning is raised anywhere (the fill runs
with every RuntimeWarning an error)."""

from __future__ import annotations

import os
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
        channels["R"][20:30, 40:60] = -HUGE if i % 2 else HUGE  # both signs in one channel, flickering
        channels["G"][::7, 70:74] = HUGE  # thin stripes the hole passes over
        write_exr(tmp_path / f"plate.{frame}.exr", channels)
        cv2.imwrite(str(tmp_path / f"mask.{frame}.png"), object_matte(i))
    # No arithmetic may overflow anywhere (fusion, seam, push-pull fills, exposure matching, the flow helper
    # process): every RuntimeWarning is an error, which fails the fill.
    strict = "error::RuntimeWarning"
    done = subprocess.run(
        [sys.executable, "-W", strict, "-m", "aifx_core", "fill", str(tmp_path / "plate.####.exr")]
        + ["-m", str(tmp_path / "mask.####.png"), "-o", str(tmp_path / "out" / "c.####.exr")]
        + ["-b", "propagate", "--dilate", "0", "--feather", "0"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONWARNINGS": strict},
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "Warning" not in done.stderr, done.stderr
    for frame in FRAMES:
        _, plate = read_exr(tmp_path / f"plate.{frame}.exr")
        _, out = read_exr(tmp_path / "out" / f"c.{frame}.exr")
        hole = cv2.imread(str(tmp_path / f"mask.{frame}.png"), cv2.IMREAD_GRAYSCALE) > 0
        assert sorted(out) == sorted(plate)
        for name in plate:
            assert out[name][~hole].tobytes() == plate[name][~hole].tobytes(), (frame, name)
        rgb = np.stack([out[c] for c in "RGB"], axis=-1)[hole]
        assert np.isfinite(rgb).all(), frame
