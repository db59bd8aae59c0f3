"""Telea marches each part of a hole in its own crop (``telea._parts``): the values of one march over the whole
hole's bounding box, bit for bit, when parts lie apart, near each other, touch the frame's edge or see NaN."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from aifx_core.inpaint.base import BackendContext
from aifx_core.inpaint.telea import _TOP, TeleaBackend, _parts, ring_range


def _one_march(rgb: np.ndarray, hole: np.ndarray, radius: float = 5.0) -> np.ndarray:
    """The whole hole's Telea in one crop of its bounding box (what ``inpaint`` did before the parts), its
    16-bit range from the ring Telea reads (radius + 1)."""
    out, margin, reach = rgb.copy(), int(radius) + 3, int(np.ceil(radius)) + 1
    ys, xs = np.nonzero(hole)
    y0, y1 = max(ys.min() - margin, 0), min(ys.max() + margin + 1, hole.shape[0])
    x0, x1 = max(xs.min() - margin, 0), min(xs.max() + margin + 1, hole.shape[1])
    crop_hole = hole[y0:y1, x0:x1]
    mask = crop_hole.astype(np.uint8)
    ring = cv2.dilate(mask, np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)).astype(bool) & ~crop_hole
    for c in range(rgb.shape[-1]):
        plane = rgb[y0:y1, x0:x1, c]
        lo, scale = ring_range([plane], [ring], reach)
        unit = np.nan_to_num((plane - lo) / scale, nan=0.0, posinf=1.0, neginf=0.0)
        encoded = np.clip(np.rint(unit * _TOP), 0, _TOP).astype(np.uint16)
        filled = cv2.inpaint(encoded, mask, radius, cv2.INPAINT_TELEA)
        out[y0:y1, x0:x1, c][crop_hole] = (filled.astype(np.float32) / _TOP * scale + lo)[crop_hole]
    return out


@pytest.mark.parametrize("seed", range(40))
def test_parts_marched_apart_equal_one_march(seed: int) -> None:
    rng = np.random.default_rng(seed)
    height, width = int(rng.integers(30, 160)), int(rng.integers(30, 240))
    rgb = cv2.GaussianBlur(rng.random((height, width, 3), dtype=np.float32) * 40.0, (0, 0), 2.0)
    rgb += rng.random((height, width, 3), dtype=np.float32)
    if seed % 5 == 0:
        rgb[rng.random((height, width)) < 0.01] = np.nan
    hole = np.zeros((height, width), bool)
    for _ in range(int(rng.integers(2, 12))):  # squares and bars, some near each other, some at the edge
        y, x = int(rng.integers(0, height)), int(rng.integers(0, width))
        hole[y : y + int(rng.integers(1, 20)), x : x + int(rng.integers(1, 20))] = True
    hole |= rng.random((height, width)) < (0.003 if seed % 3 == 0 else 0.0)  # scattered single pixels
    got = TeleaBackend(BackendContext()).inpaint(rgb, hole)
    assert np.array_equal(got.view(np.uint32), _one_march(rgb, hole).view(np.uint32))


def test_parts_closer_than_twice_the_reach_are_marched_together() -> None:
    hole = np.zeros((60, 200), bool)
    hole[20:30, 10:20] = True
    hole[20:30, 37:47] = True  # 17 columns from the first: 2 x 8 + 1, the closest that is still apart
    hole[20:30, 63:73] = True  # 16 from the second: merged with it
    hole[50:55, 150:160] = True
    crops = _parts(hole, 8)
    assert sorted(crops) == [(12, 38, 2, 28), (12, 38, 29, 81), (42, 60, 142, 168)]


def test_merged_parts_are_merged_again_with_what_their_union_reaches() -> None:
    hole = np.zeros((90, 60), bool)
    hole[10:20, 10:20] = True  # a
    hole[20:60, 30:40] = True  # b: 10 columns from a, rows touching: merged with it
    hole[70:75, 0:5] = True  # c: 50 rows from a, 25 columns from b, but 10 rows and 5 columns from a ∪ b
    assert _parts(hole, 8) == [(2, 83, 0, 48)]


def test_scattered_pixels_each_in_exactly_one_crop() -> None:
    rng = np.random.default_rng(7)
    hole = rng.random((300, 500)) < 0.0005  # ~90 single pixels: ~60 parts, some merged in chains
    crops = _parts(hole, 8)
    assert 1 < len(crops) < hole.sum()
    assert sum(int(hole[y0:y1, x0:x1].sum()) for y0, y1, x0, x1 in crops) == int(hole.sum())
