"""``--feather`` blends what a backend returns *outside* the hole into the plate: propagate and telea return the
plate itself there, so for them it changes nothing, and a run that raises it says so (a tester raised it to soften
an edge and got byte-identical frames, with no word)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from cli_runner import aifx
from shot_files import fill_args, make_shot, shot_job

from aifx_core import fill
from aifx_core.sequence.imageio import read_image

FRAMES = range(1001, 1005)


def _frames(folder: Path) -> list[np.ndarray]:
    """Every channel of every frame, stacked."""
    images = [read_image(folder / f"c.{frame:04d}.exr") for frame in FRAMES]
    return [np.stack([image.channels[name] for name in sorted(image.channels)]) for image in images]


@pytest.mark.parametrize("backend", ["telea", "propagate"])
def test_a_raised_feather_is_named_as_changing_nothing_where_the_backend_keeps_the_plate(tmp_path, backend):
    shot = make_shot(tmp_path / "shot", FRAMES)
    plain = fill(shot_job(shot, tmp_path / "f2" / "c.####.exr", backend=backend))
    soft = fill(shot_job(shot, tmp_path / "f8" / "c.####.exr", backend=backend, feather=8))
    # What the note says is true: the frames are the same, byte for byte in their pixels.
    for a, b in zip(_frames(tmp_path / "f2"), _frames(tmp_path / "f8"), strict=True):
        assert np.array_equal(a, b, equal_nan=True)
    said = [n for n in soft.notices if n.startswith("note: feather 8")]
    assert len(said) == 1 and f"with the {backend} backend" in said[0] and "--dilate" in said[0], soft.notices
    assert not [n for n in plain.notices if "feather" in n], plain.notices  # the default: nothing to say
    lower = fill(shot_job(shot, tmp_path / "f0" / "c.####.exr", backend=backend, feather=0))
    assert not [n for n in lower.notices if "feather" in n], lower.notices  # a harder edge is what it does


def test_the_command_line_prints_the_feather_note(tmp_path):
    shot = make_shot(tmp_path / "shot", FRAMES)
    done = aifx(*fill_args(shot, tmp_path / "o" / "c.####.exr", "--feather", "6"))
    assert done.returncode == 0, done.stderr
    assert 'note: feather 6 (--feather or "feather") changes nothing with the telea backend' in " ".join(
        done.stderr.split()
    )


@pytest.mark.parametrize("backend", ["telea", "propagate"])
def test_the_confidence_of_a_backend_that_keeps_the_plate_does_not_follow_the_feather(tmp_path, backend):
    """The note says the feather changes nothing: with ``--confidence`` it changed ``fill.confidence`` (telea
    reports none, so the feathered band outside the hole, the plate itself, was marked unsure: a reviewer
    counted 744 pixels a frame). The plate kept around the hole is sure, whatever the feather."""
    shot = make_shot(tmp_path / "shot", FRAMES)
    for feather in (2, 8):
        fill(
            shot_job(
                shot,
                tmp_path / f"f{feather}" / "c.####.exr",
                backend=backend,
                feather=feather,
                confidence=True,
            )
        )
    for frame in FRAMES:
        two = read_image(tmp_path / "f2" / f"c.{frame:04d}.exr").channels
        eight = read_image(tmp_path / "f8" / f"c.{frame:04d}.exr").channels
        assert np.array_equal(two["fill.confidence"], eight["fill.confidence"]), frame
        mask = cv2.imread(str(shot / f"mask.{frame:04d}.png"), cv2.IMREAD_GRAYSCALE)
        near = cv2.dilate((mask > 127).astype(np.uint8), np.ones((25, 25), np.uint8)) > 0
        grown = cv2.dilate((mask > 127).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0  # (--dilate 4)
        band = near & ~grown  # outside the hole, within the raised feather's reach
        assert band.any() and (eight["fill.confidence"][band] == 1.0).all(), frame
