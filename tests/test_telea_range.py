"""Telea on scene-linear plates maps each channel onto 16 bits for OpenCV: one bright pixel (a CG firefly, a sun
glint) near the hole must not set that mapping's step for the whole fill. Before, the range was every known
pixel's within 8 px of the hole: a 60000 pixel 7 px away made the red fill of a 0.15-0.25 wall one flat 0.169
(green, the same wall, a gradient) and a 2000 one banded it into 4 values up to 0.26."""

from __future__ import annotations

import numpy as np
import pytest
from cli_runner import aifx
from shot_files import read_exr, write_exr

from aifx_core.inpaint.telea import encoding_range

HEIGHT, WIDTH = 48, 64
HOLE = (slice(18, 30), slice(20, 32))


def _fill_wall(tmp_path, hot_at: tuple[int, int], hot: float) -> tuple[dict, dict]:
    """A smooth scene-linear wall (0.15-0.25, the same in R, G and B) with one pixel of ``hot`` in red at
    ``hot_at``, filled by per-frame Telea with no dilation: (the plate's channels, the output's)."""
    xx = np.mgrid[0:HEIGHT, 0:WIDTH][1].astype(np.float32)
    grey = (0.15 + 0.1 * xx / WIDTH).astype(np.float32)
    red = grey.copy()
    red[hot_at] = hot
    write_exr(tmp_path / "plate.1001.exr", {"R": red, "G": grey.copy(), "B": grey.copy()})
    matte = np.zeros((HEIGHT, WIDTH), np.float32)
    matte[HOLE] = 1.0
    write_exr(tmp_path / "mask.1001.exr", {"Y": matte})
    done = aifx(
        "fill", str(tmp_path / "plate.####.exr"), "-m", str(tmp_path / "mask.####.exr"),
        "-o", str(tmp_path / "out" / "clean.####.exr"), "-b", "telea", "--dilate", "0", "--feather", "0",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    _, plate = read_exr(tmp_path / "plate.1001.exr")
    _, out = read_exr(tmp_path / "out" / "clean.1001.exr")
    for name in plate:  # outside the hole: bit-exact, the hot pixel included
        keep = np.ones((HEIGHT, WIDTH), bool)
        keep[HOLE] = False
        assert out[name][keep].tobytes() == plate[name][keep].tobytes(), name
    return plate, out


@pytest.mark.parametrize("hot", [60000.0, 2000.0, 100.0, -60000.0])
def test_a_hot_pixel_beyond_telea_reach_leaves_the_fill_as_without_it(tmp_path, hot):
    # 7 px right of the hole (columns 20-31): beyond the 5 px (+1 for a gradient) Telea reads.
    _, out = _fill_wall(tmp_path, (24, 38), hot)
    red, green = out["R"][HOLE], out["G"][HOLE]
    assert np.unique(green).size > 100  # the wall's gradient, filled
    assert np.array_equal(red, green), (red.min(), red.max(), np.unique(red).size)


@pytest.mark.parametrize("hot", [60000.0, -60000.0])
def test_a_hot_pixel_telea_reads_neither_bands_the_fill_nor_lifts_it_past_its_surroundings(tmp_path, hot):
    # 2 px right of the hole: Telea reads it, so it lifts (or lowers) the red fill near it, but the fill keeps the
    # wall's gradient in fine steps, within what surrounds the hole.
    plate, out = _fill_wall(tmp_path, (24, 33), hot)
    red, green = out["R"][HOLE], out["G"][HOLE]
    # The hot pixel is clamped for the encoding to the wall's bulk widened to 1.0 (never to the pixel itself):
    # the fill stays within that range, and next to the hot pixel it lies beyond green (the same wall).
    ring = plate["R"][12:36, 14:38]
    wall = ring[ring != hot]
    top, bottom = wall.min() + 1.0, wall.max() - 1.0
    assert (red.max() <= top + 1e-4) if hot > 0 else (red.min() >= bottom - 1e-4), (red.min(), red.max())
    assert ring.min() <= red.min() and red.max() <= ring.max()
    beside = np.s_[6, -1]  # (24, 31): the hole pixel 2 px left of the hot one
    assert (red[beside] - green[beside]) * np.sign(hot) > 0.05, (red[beside], green[beside])
    assert np.unique(red).size > 100, np.unique(red)
    far = np.s_[:, :3]  # the hole's left quarter, 10 px and more from the hot pixel: the wall's own fill
    assert np.abs(red[far] - green[far]).max() < 1e-3, np.abs(red[far] - green[far]).max()


@pytest.mark.parametrize("hot", [60000.0, -60000.0])
def test_a_block_of_hot_pixels_beside_the_hole_does_not_band_the_fill(tmp_path, hot):
    """A 2x2 block of hot pixels (a stuck sensor cluster, a firefly blurred by the debayer) 1 px from the hole:
    4 connected pixels, more than the 3 that were clamped as lone, so it set the red fill's 16-bit step (0.9 for
    60000: the fill banded into a few flat values, 2 where the wall's gradient gives green over 100). A compact
    group, shorter than the ring Telea reads is deep, is lone; a line crossing the ring is as long as the ring
    is deep (:func:`test_a_thin_bright_line_crossing_a_large_hole_is_carried_in_not_clamped`)."""
    plate, out = _fill_wall(tmp_path, (slice(24, 26), slice(33, 35)), hot)
    red, green = out["R"][HOLE], out["G"][HOLE]
    assert np.unique(red).size > 100, np.unique(red)
    ring = plate["R"][12:36, 14:38]
    assert ring.min() <= red.min() and red.max() <= ring.max()
    far = np.s_[:, :3]  # the hole's left quarter, 10 px and more from the block: the wall's own fill
    assert np.abs(red[far] - green[far]).max() < 1e-3, np.abs(red[far] - green[far]).max()


def test_only_lone_outliers_far_from_the_bulk_are_clamped_for_the_encoding():
    dot = np.zeros(400, np.float32)
    dot[7] = 1.0  # one white pixel on black in a 0..1 plate: kept (any plate in 0..1 is encoded as before)
    assert encoding_range(dot) == (0.0, 1.0)
    window = np.full(400, 0.2, np.float32)
    window[:120] = 50.0  # a bright area, 30 % of the ring: its own values, not outliers
    assert encoding_range(window) == pytest.approx((0.2, 49.8))
    firefly = np.linspace(0.15, 0.25, 400, dtype=np.float32)
    firefly[100] = 60000.0
    lo, scale = encoding_range(firefly)
    assert lo == pytest.approx(0.15) and scale < 64 * 0.1 + 1e-3  # the bulk's 1024 steps, not 0.9 a step


@pytest.mark.parametrize(("size", "width", "expected"), [(120, 2, 6.0), (60, 1, 4.2)])
def test_a_thin_bright_line_crossing_a_large_hole_is_carried_in_not_clamped(tmp_path, size, width, expected):
    """A lit cable (10.0 scene-linear) crossing a large hole in a dim wall (0.05-0.10) is under 1 % of the ring
    Telea reads: it was clamped for the encoding as a lone outlier, and Telea carried it into the hole at 1.63
    (2 px, 120 px hole) and 1.02 (1 px, 60 px hole) instead of 6.02 and 4.23. Only groups of at most 3 pixels
    are lone; the line's pixels in the ring are a group of its width times the ring's depth."""
    side = size + 40
    xx = np.mgrid[0:side, 0:side][1].astype(np.float32)
    wall = (0.05 + 0.05 * xx / side).astype(np.float32)
    wall[:, side // 2 : side // 2 + width] = 10.0
    write_exr(tmp_path / "plate.1001.exr", {"R": wall, "G": wall, "B": wall})
    matte = np.zeros((side, side), np.float32)
    matte[20 : 20 + size, 20 : 20 + size] = 1.0
    write_exr(tmp_path / "mask.1001.exr", {"Y": matte})
    done = aifx(
        "fill", str(tmp_path / "plate.####.exr"), "-m", str(tmp_path / "mask.####.exr"),
        "-o", str(tmp_path / "out" / "clean.####.exr"), "-b", "telea", "--dilate", "0", "--feather", "0",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    _, out = read_exr(tmp_path / "out" / "clean.1001.exr")
    line = out["R"][20 : 20 + size, side // 2 : side // 2 + width]
    # Where the line enters the hole, as the fill over the ring's full range (6.02 and 4.23), far above 1.0.
    assert line[:3].max() > expected, line[:3].max()
    keep = matte == 0
    assert out["R"][keep].tobytes() == wall[keep].tobytes()
