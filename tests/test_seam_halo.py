"""The seam stage and a matte a little tighter than the object (:mod:`aifx_core.propagate.halo`): the object's soft
edge left on the ring must not be spread into the fill, a light change on the ring still must."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import aifx_core.propagate.propagation as propagation
from aifx_core.backends import create_backend
from aifx_core.inpaint import BackendContext, FramePacket
from aifx_core.progress import Reporter
from aifx_core.propagate.halo import band, suspect, without_halo
from aifx_core.propagate.seam import ring

MAGENTA = np.array([0.95, 0.1, 0.6], np.float32)


def _plate(height: int, width: int) -> np.ndarray:
    rng = np.random.default_rng(3)
    planes = [cv2.GaussianBlur(rng.random((height, width)).astype(np.float32), (0, 0), 2.0) for _ in range(3)]
    tex = np.stack(planes, -1)
    return (0.25 + 0.5 * (tex - tex.min()) / (tex.max() - tex.min())).astype(np.float32)


def _disc(height: int, width: int, centre: tuple[float, float], radius: float) -> np.ndarray:
    image = np.zeros((height, width), np.float32)
    cv2.circle(
        image, (round(centre[0] * 16), round(centre[1] * 16)), round(radius * 16), (1.0,), -1, cv2.LINE_AA, 4
    )
    return image


def _fill(frames: list[np.ndarray], holes: list[np.ndarray], **options: object) -> list[np.ndarray]:
    backend = create_backend("propagate", BackendContext(colorspace="sRGB", options=options))
    packets = [FramePacket(1001 + t, f, h) for t, (f, h) in enumerate(zip(frames, holes, strict=True))]
    return [rgb for _, rgb in backend.fill(packets, Reporter())]


def test_a_soft_object_edge_outside_a_tight_matte_does_not_tint_the_fill() -> None:
    """A magenta disc (r 8) with a soft edge (Gaussian sigma 2.5, as motion blur or a soft matte edge gives)
    crosses a static plate; its matte (r 11) leaves the faint edge on the seam ring. Other frames saw the clean
    background, so the fill must come out as clean as with the seam offset off, not a magenta ghost (before:
    ~7 dB worse than that)."""
    height, width, n = 64, 112, 12
    plate = _plate(height, width)
    frames, holes, truth = [], [], []
    for t in range(n):
        centre = (20 + 6 * t, 32)
        alpha = cv2.GaussianBlur(_disc(height, width, centre, 9), (0, 0), 2.5)[..., None]
        frames.append((plate * (1 - alpha) + MAGENTA * alpha).astype(np.float32))
        holes.append(_disc(height, width, centre, 11) > 0.5)
        truth.append(plate)

    def psnr(outputs: list[np.ndarray]) -> float:
        error = np.concatenate([(o[h] - p[h]).ravel() for o, p, h in zip(outputs, truth, holes, strict=True)])
        return float(10 * np.log10(1.0 / np.mean(error**2)))

    default, off = psnr(_fill(frames, holes)), psnr(_fill(frames, holes, seam="none"))
    assert default > off - 1.0, (default, off)


def test_the_halo_is_taken_out_of_the_ring_but_a_light_change_is_kept() -> None:
    """On the ring's real values: a difference that fades with the distance from the hole (the object's edge) is
    taken out; one flat across ring and band (a light change, which the seam offset is for) is left as it is."""
    height, width = 80, 80
    hole = _disc(height, width, (40, 40), 12) > 0.5
    invalid = hole  # (the engine passes the frame's blocked pixels, its hole among them)
    ry, rx = ring(hole, invalid, 4)
    by, bx = band(hole, invalid, 4)
    distance = cv2.distanceTransform((~hole).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    fetched = _plate(height, width)
    fading = (0.3 * np.exp(-distance / 1.5))[..., None] * (MAGENTA - 0.5)
    for extra, kept in (
        (fading, False),
        (np.full((height, width, 3), 0.08, np.float32) * [1, -1, 0.5], True),
    ):
        real = fetched + extra
        out = without_halo(
            hole,
            ry,
            rx,
            real[ry, rx],
            (real - fetched)[ry, rx],
            np.ones(len(ry), bool),
            by,
            bx,
            (real - fetched)[by, bx],
            0.5,
            4,
        )
        expected = real[ry, rx] if kept else fetched[ry, rx]
        err = np.abs(out - expected)
        assert err.max() < 0.01, (kept, err.max())


def test_a_ring_that_differs_on_one_side_fetches_no_band(monkeypatch: pytest.MonkeyPatch) -> None:
    """A light flickering (±4 %) over the top of a moving hole's ring: the ring differs from what was fetched for
    it on about a quarter of its length, never round most of it, so no halo can be taken out and the band beyond
    the ring must not be fetched (before: fetched and fused on every frame, for nothing: +10 % of a tennis
    fill's CPU). The fill is the same as with the band fetched on every frame."""
    height, width, n = 64, 112, 12
    plate = _plate(height, width)
    top = (np.arange(height) < 24).astype(np.float32)[:, None].repeat(width, 1)
    light = cv2.GaussianBlur(top, (0, 0), 1.5)[..., None]
    frames = [(plate * (1 + 0.04 * (-1) ** t * light)).astype(np.float32) for t in range(n)]
    holes = [_disc(height, width, (20 + 6 * t, 36), 10) > 0.5 for t in range(n)]
    fetched = []

    def counted_band(*args: np.ndarray | int) -> tuple[np.ndarray, np.ndarray]:
        fetched.append(1)
        return band(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(propagation, "band", counted_band)
    gated = _fill(frames, holes)
    assert not fetched
    monkeypatch.setattr(propagation, "suspect", lambda *args: True)
    always = _fill(frames, holes)
    assert len(fetched) == n
    for a, b in zip(gated, always, strict=True):
        assert np.array_equal(a, b)


def test_no_halo_is_taken_out_where_the_ring_alone_says_none_can_be() -> None:
    """:func:`suspect` decides before the band is fetched, so it must never say no where :func:`without_halo`
    would change the ring, whatever the band holds: a fading halo on a growing share of the ring, with a band
    that is clean, the same or (the worst case for the bound) just under the ring's opposite."""
    height, width = 80, 80
    hole = _disc(height, width, (40, 40), 12) > 0.5
    ry, rx = ring(hole, hole, 4)
    by, bx = band(hole, hole, 4)
    yy, xx = np.mgrid[0:height, 0:width]
    angle = np.arctan2(yy - 40, xx - 40)
    distance = cv2.distanceTransform((~hole).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    fetched = _plate(height, width)
    said_yes = taken_out = 0
    for share in np.linspace(0.2, 1.0, 9):
        sector = cv2.GaussianBlur((np.abs(angle) <= share * np.pi).astype(np.float32), (0, 0), 2.0)
        for amplitude in (0.01, 0.02, 0.05):
            halo = (amplitude * sector * np.exp(-(distance - 1) / 4))[..., None] * np.float32([1, -0.5, 0.3])
            for outside in (0.0, 1.0, -0.99):
                real = fetched + halo
                band_diff = outside * (amplitude * sector[..., None] * np.float32([1, -0.5, 0.3]))
                ring_diff = (real - fetched)[ry, rx]
                out = without_halo(
                    hole,
                    ry,
                    rx,
                    real[ry, rx],
                    ring_diff,
                    np.ones(len(ry), bool),
                    by,
                    bx,
                    band_diff[by, bx],
                    0.5,
                    4,
                )
                changed = not np.array_equal(out, real[ry, rx])
                if suspect(ry, rx, ring_diff, 0.5, 4):
                    said_yes += 1
                    taken_out += changed
                else:
                    assert not changed, (share, amplitude, outside)
    assert 0 < taken_out < said_yes < 81
