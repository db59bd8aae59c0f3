"""The seam stage and a light change on one side of the hole (:mod:`aifx_core.propagate.light`): a broad, smooth
difference on the ring is matched, an object's colour on the ring still is not."""

from __future__ import annotations

import tracemalloc

import cv2
import numpy as np
import pytest
from propagate_clips import filled, pan, texture

from aifx_core.propagate import light
from aifx_core.propagate.light import light_arcs
from aifx_core.propagate.seam import ring

HEIGHT, WIDTH = 112, 192
CENTRE = (96, 56)


def _ellipse(axes: tuple[int, int]) -> np.ndarray:
    hole = np.zeros((HEIGHT, WIDTH), np.uint8)
    cv2.ellipse(hole, CENTRE, axes, 0, 0, 360, 1, -1)
    return hole > 0


def _light() -> np.ndarray:
    """A broad light left of the hole's centre: +80 % at its peak, a Gaussian fall-off of sigma 24 px."""
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    return (0.8 * np.exp(-((xx - CENTRE[0] + 22) ** 2 + (yy - CENTRE[1]) ** 2) / (2 * 24.0**2))).astype(
        np.float32
    )[..., None]


def _panning_plate(n: int, speed: int) -> list[np.ndarray]:
    """Fine noise over smooth noise, with bars and bands (edges a spatial fill cannot guess), panning."""
    span = WIDTH + speed * n + 2
    rng = np.random.default_rng(3)
    fine = np.stack(
        [cv2.GaussianBlur(rng.random((HEIGHT, span)).astype(np.float32), (0, 0), 1.5) for _ in range(3)], -1
    )
    fine = 0.1 + 0.5 * (fine - fine.min()) / (fine.max() - fine.min())
    smooth = 0.1 + 0.5 * pan(1, (HEIGHT, span), 0)[0]
    bars = ((np.arange(span) // 13) % 3)[None, :, None] * np.float32([0.12, 0.1, 0.08])
    bands = ((np.arange(HEIGHT) // 17) % 2)[:, None, None] * np.float32(0.1)
    big = np.clip(0.3 * fine + 0.3 * smooth + bars + bands, 0, 1).astype(np.float32)
    return [np.ascontiguousarray(big[:, speed * t : speed * t + WIDTH]) for t in range(n)]


def _seam_gradient(image: np.ndarray, edge: np.ndarray) -> float:
    gray = image.mean(axis=-1)
    return float(np.hypot(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))[edge].mean())


def test_a_broad_light_on_one_side_of_the_hole_is_matched_smoothly_not_cut() -> None:
    """A pan; every third frame a broad light brightens the hole's left side (a flash, a flickering practical).
    On those frames the fill must show no edge on the hole's boundary that the truth does not have, and carry
    most of the light into the lit part of the hole (before: the lit ring was left out of the seam as an
    unmasked object's, the fill stayed about as dark as the unlit frames it was read from: a dark crescent
    against the lit plate, the boundary's gradient ~1.3x the truth's, over 60 % of the light missing)."""
    n = 15
    base = _panning_plate(n, 4)
    light = _light()
    truth = [(f * (1.0 + light) if t % 3 == 0 else f).astype(np.float32) for t, f in enumerate(base)]
    hole = _ellipse((18, 14))
    out = filled("propagate", truth, [hole] * n)
    edge = (
        cv2.dilate(hole.astype(np.uint8), np.ones((3, 3), np.uint8))
        - cv2.erode(hole.astype(np.uint8), np.ones((3, 3), np.uint8))
    ) > 0
    lit = hole & (light[..., 0] > 0.4)
    assert lit.sum() > 100
    flashes = range(3, n - 1, 3)  # (the flash frames with unlit frames either side)
    missing = np.mean([(truth[t] - out[t])[lit].mean() / (truth[t] - base[t])[lit].mean() for t in flashes])
    ratio = np.mean([_seam_gradient(out[t], edge) / _seam_gradient(truth[t], edge) for t in flashes])
    assert ratio < 1.1 and missing < 0.5, (ratio, missing)


def _ring_points(hole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return ring(hole, hole, 4)


def test_light_arcs_take_a_smooth_light_not_an_objects_colour() -> None:
    """On the ring: a broad light over one side (its texture the background's, scaled) is light; a flat-coloured
    object over the same side (its edge soft, as motion blur leaves it) is not, nor is a textured one."""
    hole = _ellipse((20, 15))
    ry, rx = _ring_points(hole)
    fetched_image = 0.15 + 0.6 * texture(HEIGHT, WIDTH, 7)
    fetched = fetched_image[ry, rx]
    tol = 0.25 * float(np.median(fetched))

    def arcs(real_image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        real = real_image[ry, rx]
        outlier = np.abs(real - fetched).max(axis=1) > tol
        return light_arcs(ry, rx, real, fetched, outlier), outlier

    light, outlier = arcs(fetched_image * (1.0 + _light()))
    assert outlier.sum() > 50 and light[outlier].mean() > 0.9
    side = np.zeros((HEIGHT, WIDTH), np.float32)
    side[:, : CENTRE[0] - 6] = 1.0
    side = cv2.GaussianBlur(side, (0, 0), 2.5)[..., None]
    for colour in (
        np.float32([0.9, 0.2, 0.1]) + 0 * fetched_image,
        0.5 * texture(HEIGHT, WIDTH, 8, (1, 0.4, 0.2)),
    ):
        real_image = fetched_image * (1 - side) + colour * side
        light, outlier = arcs(real_image)
        assert outlier.sum() > 50 and not light.any()
    # No outlier: nothing to decide, nothing taken.
    assert not light_arcs(ry, rx, fetched, fetched, np.zeros(len(ry), bool)).any()


def _traced_light_arcs(*args: np.ndarray) -> tuple[np.ndarray, int]:
    """:func:`light_arcs` of ``args``, and the most memory (bytes, NumPy's arrays included) it held at once."""
    tracemalloc.start()
    try:
        result = light_arcs(*args)
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_light_arcs_cost_follows_the_ring_not_its_extent() -> None:
    """A wire matte corner to corner of an HD frame, and two small holes in opposite corners: the ring's bounding
    box is the whole frame, its points a few thousand. A light along the whole wire is still found, and the work
    holds memory for the ring's points only (before: a 7-channel float32 image of the box, blurred and rolled:
    220 MiB for the wire, ~1.2 s on every frame whose ring had an outlier; 940 MiB at 4K)."""
    height, width = 1080, 1920
    rng = np.random.default_rng(5)
    wire = np.zeros((height, width), np.uint8)
    cv2.line(wire, (50, 50), (width - 50, height - 50), 1, 6)
    corners = np.zeros((height, width), bool)
    corners[40:60, 40:60] = corners[height - 60 : height - 40, width - 60 : width - 40] = True
    for hole, lit in ((wire > 0, 1.0), (corners, 0.25)):
        ry, rx = ring(hole, hole, 3)
        fetched = (0.2 + 0.5 * rng.random((len(ry), 3))).astype(np.float32)
        # A broad light: +30-70 % varying over hundreds of pixels, on ``lit`` of the ring (by column).
        gain = np.where(rx < lit * width + 1, 1.5 + 0.2 * np.sin(rx / 150.0), 1.0)[:, None]
        real = (fetched * gain).astype(np.float32)
        outlier = np.abs(real - fetched).max(axis=1) > 0.05
        light, peak = _traced_light_arcs(ry, rx, real, fetched, outlier)
        assert outlier.sum() > 0.2 * len(ry) and light[outlier].mean() > 0.95
        assert peak < 4096 * len(ry), (len(ry), peak / 2**20)


def test_a_small_rings_light_arcs_read_from_an_image_are_the_searchs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ring whose box spans few pixels per point is looked up in an image of the box (light.DENSE_SPAN), for
    speed: the steadying's comparison runs the light's match on neighbours' rings as the seam does on the frame's
    (1.5 ms of its 2.9 on a 720-point ring went to the sorted search). The arcs must be the search's, bit for bit:
    rings of one to three discs, lights on one side, and a fifth of the ring replaced (an object)."""
    rng = np.random.default_rng(0)
    compared = 0
    for trial in range(60):
        hole = np.zeros((120, 200), np.uint8)
        for _ in range(int(rng.integers(1, 4))):
            centre = (int(rng.integers(0, 200)), int(rng.integers(0, 120)))
            cv2.circle(hole, centre, int(rng.integers(3, 30)), 1, -1)
        ring_ys, ring_xs = np.nonzero(cv2.dilate(hole, np.ones((7, 7), np.uint8)) - hole)
        real = (rng.random((len(ring_ys), 3)) + 0.1).astype(np.float32)
        lit = 1.0 + 0.6 * np.exp(-((ring_xs - ring_xs.mean() + 10) ** 2) / 200.0)
        fetched = (real * lit[:, None] * (1.0 + 0.05 * rng.standard_normal(real.shape))).astype(np.float32)
        if trial % 3 == 0:
            fetched[: len(fetched) // 5] = rng.random((len(fetched) // 5, 3))
        outlier = np.abs(real - fetched).max(axis=1) > 0.1
        dense = light_arcs(ring_ys, ring_xs, real, fetched, outlier)
        monkeypatch.setattr(light, "DENSE_SPAN", 0)
        searched = light_arcs(ring_ys, ring_xs, real, fetched, outlier)
        monkeypatch.undo()
        assert np.array_equal(dense, searched), trial
        compared += int(searched.any())
    assert compared >= 20, compared
