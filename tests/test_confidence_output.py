"""The fill's confidence as an output: EXR channel, PNG sidecar sequence, CLI flag, contact sheet row."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
from shot_files import make_shot, read_exr, shot_job

from aifx_core import fill
from aifx_core.confidence import CHANNEL, sidecar_path
from aifx_core.contact_sheet import before_after_sheet
from aifx_core.mask import feather_weight, make_hole
from aifx_core.sequence import open_sequence

FRAMES = range(1001, 1009)


def _weight(shot, frame, job) -> np.ndarray:
    matte = cv2.imread(str(shot / f"mask.{frame:04d}.png"), cv2.IMREAD_UNCHANGED).astype(np.float32) / 255
    return feather_weight(make_hole(matte, job.threshold, job.dilate), job.feather)


def test_exr_output_gets_a_confidence_channel_only_when_asked(tmp_path) -> None:
    shot = make_shot(tmp_path / "shot", FRAMES, empty_mask_frames=(1004,))
    plain = shot_job(shot, tmp_path / "plain" / "clean.####.exr", backend="propagate")
    fill(plain)
    assert CHANNEL not in read_exr(tmp_path / "plain" / "clean.1002.exr")[1]
    job = shot_job(shot, tmp_path / "out" / "clean.####.exr", backend="propagate", confidence=True)
    fill(job)
    inside = []
    for frame in FRAMES:
        _, out = read_exr(tmp_path / "out" / f"clean.{frame:04d}.exr")
        _, plain_out = read_exr(tmp_path / "plain" / f"clean.{frame:04d}.exr")
        for name in ("R", "G", "B", "A", "Z"):  # the confidence changes nothing else
            assert np.array_equal(out[name].view(np.uint8), plain_out[name].view(np.uint8))
        confidence = out[CHANNEL].astype(np.float32)
        weight = _weight(shot, frame, job)
        assert (confidence[weight == 0] == 1.0).all()
        assert ((confidence >= 0) & (confidence <= 1)).all()
        if weight.max() > 0:
            inside.append(float(confidence[weight >= 1].mean()))
    # The plate pans and the hole moves: other frames saw most of what it hides.
    assert np.mean(inside) > 0.3 and min(inside) < 1.0


def test_png_output_gets_a_confidence_sequence_and_telea_is_a_guess(tmp_path) -> None:
    shot = make_shot(tmp_path / "shot", FRAMES)
    job = shot_job(shot, tmp_path / "out" / "clean.####.png", backend="telea", confidence=True)
    fill(job)
    for frame in FRAMES:
        side = sidecar_path(tmp_path / "out" / f"clean.{frame:04d}.png")
        grey = cv2.imread(str(side), cv2.IMREAD_UNCHANGED)
        assert grey.dtype == np.uint16 and grey.ndim == 2
        weight = _weight(shot, frame, job)
        assert (grey[weight == 0] == 65535).all()
        assert (grey[weight >= 1] == 0).all()  # a per-frame spatial fill is invented everywhere


def test_cli_flag_and_contact_sheet_row(tmp_path) -> None:
    shot = make_shot(tmp_path / "shot", FRAMES)
    out = tmp_path / "out" / "clean.####.exr"
    args = [
        "fill",
        str(shot / "plate.####.exr"),
        "-m",
        str(shot / "mask.####.png"),
        "-o",
        str(out),
    ]
    done = subprocess.run(
        [sys.executable, "-m", "aifx_core", *args, "--confidence"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert CHANNEL in read_exr(tmp_path / "out" / "clean.1003.exr")[1]
    result = open_sequence(str(out))
    with_row = before_after_sheet(
        tmp_path / "with.png", None, result, list(FRAMES), mask=shot / "mask.####.png"
    )
    plain = tmp_path / "plain" / "clean.####.exr"
    fill(shot_job(shot, plain))
    without = before_after_sheet(
        tmp_path / "without.png",
        None,
        open_sequence(str(plain)),
        list(FRAMES),
        mask=shot / "mask.####.png",
    )
    taller = cv2.imread(str(with_row)).shape[0] - cv2.imread(str(without)).shape[0]
    assert taller > 20  # one more row of thumbnails: the confidence


def test_a_fill_without_confidence_over_one_with_it_leaves_no_stale_sidecar(tmp_path) -> None:
    """Re-filled with --overwrite and no --confidence, a PNG output kept the earlier run's confidence/ frames,
    and the contact sheet and aifx eval showed them as the new fill's confidence."""
    shot = make_shot(tmp_path / "shot", FRAMES)
    output = tmp_path / "out" / "clean.####.png"
    fill(shot_job(shot, output, confidence=True))
    assert all(sidecar_path(tmp_path / "out" / f"clean.{f:04d}.png").exists() for f in FRAMES)
    fill(shot_job(shot, output, overwrite=True))
    assert not any(sidecar_path(tmp_path / "out" / f"clean.{f:04d}.png").exists() for f in FRAMES)
