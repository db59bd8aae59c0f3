"""Fireflies (lone pixels thousands of times brighter than their neighbours, as a path tracer leaves them) near
the hole: the fill must not glow with them, and the plate keeps them bit-exact outside the hole."""

from __future__ import annotations

import cv2
import numpy as np
from propagate_clips import holed_packets, texture

from aifx_core.backends import create_backend
from aifx_core.inpaint import BackendContext
from aifx_core.progress import Reporter
from aifx_core.propagate.fireflies import FIREFLY, tame_fireflies

HEIGHT, WIDTH, FRAMES = 96, 160, 8
HOLE = (slice(36, 60), slice(64, 96))
#: Two dead pixels of a render, 14 px left of the hole and 12 px above it (R only, and all three channels).
SPOTS = ((44, 50, (0,)), (24, 80, (0, 1, 2)))


def _pan(fireflies: float | None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A slow pan (1.5 px a frame) under a static hole, scene-linear, with fireflies of ``fireflies``."""
    wide = texture(HEIGHT, WIDTH + 20, seed=5)
    frames, holes = [], []
    for t in range(FRAMES):
        shift = np.float32([[1, 0, -1.5 * t], [0, 1, 0]])
        frame = cv2.warpAffine(wide, shift, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR)[:, :WIDTH].copy()
        if fireflies is not None:
            for y, x, channels in SPOTS:
                frame[y, x, list(channels)] = fireflies
        hole = np.zeros((HEIGHT, WIDTH), bool)
        hole[HOLE] = True
        frames.append(frame.astype(np.float32))
        holes.append(hole)
    return frames, holes


def _fill(frames: list[np.ndarray], holes: list[np.ndarray]) -> list[np.ndarray]:
    backend = create_backend("propagate", BackendContext(colorspace="ACEScg", options={}))
    return [rgb for _, rgb in backend.fill(iter(holed_packets(frames, holes)), Reporter())]


def test_a_firefly_near_the_hole_does_not_light_up_the_fill() -> None:
    clean = _fill(*_pan(None))
    frames, holes = _pan(1e8)
    hot = _fill(frames, holes)
    for t, (out, calm, frame, hole) in enumerate(zip(hot, clean, frames, holes, strict=True)):
        # (without the cap the ring membrane and the spatial fill's push-pull spread the 1e8 pixel over the
        # square: tens to hundreds added to every hole pixel)
        assert np.abs(out[hole] - calm[hole]).max() < 0.5, f"frame {t}"
        assert np.array_equal(out[~hole], frame[~hole]), f"frame {t}: the plate must stay bit-exact"
        assert out[44, 50, 0] == np.float32(1e8)


def test_only_lone_pixels_far_above_their_neighbours_and_the_level_are_capped() -> None:
    rgb = np.full((20, 20, 3), 0.5, np.float32)
    rgb[5, 5] = 1e6  # a firefly
    rgb[10, 10:12, 1] = 1e6  # a highlight two pixels wide: each has an equally bright neighbour
    rgb[15, 15, 2] = -1e6  # a negative one (a broken grade)
    rgb[2, 17] = 6.0  # bright but within FIREFLY times its neighbours
    tamed = tame_fireflies(rgb, level=0.5, peak=1e6)
    assert tamed is not None
    bound = np.float32(FIREFLY * 0.5)
    assert np.array_equal(tamed[5, 5], [bound] * 3)
    assert tamed[15, 15, 2] == -bound and tamed[15, 15, 0] == np.float32(0.5)
    untouched = np.ones((20, 20), bool)
    untouched[5, 5] = untouched[15, 15] = False
    assert np.array_equal(tamed[untouched], rgb[untouched])
    assert rgb[5, 5, 0] == np.float32(1e6)  # the plate itself is never changed


def test_a_display_referred_plate_is_read_as_it_is() -> None:
    # A star in a dark 0..1 plate is far above its neighbours and the level, and still no firefly.
    rgb = np.full((16, 16, 3), 0.01, np.float32)
    rgb[8, 8] = 1.0
    assert tame_fireflies(rgb, level=0.01, peak=1.0) is None
    # Nor is anything in a frame whose peak stays under FIREFLY times its level.
    rgb[8, 8] = 3.0
    assert tame_fireflies(rgb, level=0.2, peak=3.0) is None
