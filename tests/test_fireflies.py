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


def _starfield(stars: bool, flicker: bool) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """A dark scene-linear sky (0.03-0.05) panning 2 px a frame under a static hole: (frames, holes, points).

    ``stars``: 300 one-pixel stars of 5, 20 or 50 on the sky, moving with it (point lights: what the fill must
    keep); ``flicker``: a render's fireflies of 1e4 to 1e8, at new places each frame (lone in time too), 12 a
    frame in the band the chains read around the hole. ``points``: per frame, where a star is inside the hole."""
    rng = np.random.default_rng(7)
    sky = (0.03 + 0.02 * texture(HEIGHT + 20, WIDTH + 2 * FRAMES + 20, seed=2)[..., :1]).astype(np.float32)
    sky = np.repeat(sky, 3, axis=2)
    if stars:
        for _ in range(300):
            sky[rng.integers(0, sky.shape[0]), rng.integers(0, sky.shape[1])] = rng.choice([5.0, 20.0, 50.0])
    hole = np.zeros((HEIGHT, WIDTH), bool)
    hole[HOLE] = True
    band = np.argwhere(cv2.dilate(hole.astype(np.uint8), np.ones((41, 41), np.uint8)).astype(bool) & ~hole)
    band = band[(band % 3 == 0).all(axis=1)]  # (never two side by side: that is a highlight, not a firefly)
    frames, points = [], []
    for t in range(FRAMES):
        frame = sky[10 : 10 + HEIGHT, 2 * t : 2 * t + WIDTH].copy()
        shown = np.zeros_like(hole)
        for other in range(FRAMES):  # (the sky moves 2 px a frame left: x here is x - 2 (other - t) there)
            shown |= ~np.roll(hole, 2 * (t - other), axis=1)
        points.append(hole & shown & (frame[..., 0] > 1.0))
        if flicker:
            for y, x in band[rng.choice(len(band), 12, replace=False)]:
                frame[y, x] = 10.0 ** rng.uniform(4, 8)
        frames.append(frame)
    return frames, [hole] * FRAMES, points


def test_stars_moving_with_the_plate_keep_their_value_in_the_fill() -> None:
    # One-pixel stars are lone in space like a render's fireflies, but they move with the plate: the other
    # frames show them where the chains land, and the fill copies them as they are (the cap dimmed them to ~1,
    # 5-50x too dark; only the smooth fields read the capped plate).
    frames, holes, points = _starfield(stars=True, flicker=False)
    out = _fill(frames, holes)
    ratios = np.concatenate(
        [o[p][:, 0] / f[p][:, 0] for o, f, p in zip(out[1:], frames[1:], points[1:], strict=True)]
    )
    assert len(ratios) > 20
    assert np.median(ratios) > 0.5, f"median output/truth {np.median(ratios):.3f}"
    for out_t, frame, hole in zip(out, frames, holes, strict=True):
        assert np.array_equal(out_t[~hole], frame[~hole])


def test_fireflies_new_every_frame_are_not_copied_into_the_fill() -> None:
    # A render's fireflies are lone in time: a chain that lands on one reads what this frame never held.
    calm = _fill(*_starfield(stars=False, flicker=False)[:2])
    frames, holes, _ = _starfield(stars=False, flicker=True)
    hot = _fill(frames, holes)
    for t, (out, clean, hole) in enumerate(zip(hot, calm, holes, strict=True)):
        assert np.abs(out[hole] - clean[hole]).max() < 0.5, f"frame {t}"
