"""The seam stage and a frame blurrier than its sources (:mod:`aifx_core.propagate.blur_match`): a jolt's motion
blur in a sharp shot is matched inside the hole, not pasted over with the neighbours' crisp detail; a frame that
is as sharp as its sources, or sharper, is left alone."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import cv2
import numpy as np
from propagate_clips import filled

from aifx_core.propagate.blur_match import RingBlur, match_blur, ring_blur
from aifx_core.propagate.seam import ring

HEIGHT, WIDTH = 112, 192
CENTRE = (96, 56)


def _ellipse(axes: tuple[int, int]) -> np.ndarray:
    hole = np.zeros((HEIGHT, WIDTH), np.uint8)
    cv2.ellipse(hole, CENTRE, axes, 0, 0, 360, 1, -1)
    return hole > 0


def _scene(width: int, seed: int = 5) -> np.ndarray:
    """Fine detail (noise of sigma 1 px) over bars, bands and smooth noise: a blur of a few pixels shows."""
    rng = np.random.default_rng(seed)
    fine = np.stack(
        [cv2.GaussianBlur(rng.random((HEIGHT, width)).astype(np.float32), (0, 0), 1.0) for _ in range(3)], -1
    )
    fine = (fine - fine.min()) / (fine.max() - fine.min())
    smooth = cv2.resize(rng.random((HEIGHT // 16, width // 16, 3)).astype(np.float32), (width, HEIGHT))
    bars = ((np.arange(width) // 9) % 3)[None, :, None] * np.float32([0.12, 0.1, 0.08])
    bands = ((np.arange(HEIGHT) // 11) % 2)[:, None, None] * np.float32(0.1)
    return np.clip(0.1 + 0.35 * fine + 0.25 * smooth + bars + bands, 0, 1).astype(np.float32)


def _jolted_pan(n: int, speed: int, jolt: int, blur: int) -> list[np.ndarray]:
    """A sharp pan whose frame ``jolt`` is motion-blurred over ``blur`` pixels along the pan (the camera jolted
    during that exposure)."""
    pad = blur
    big = _scene(WIDTH + speed * n + 2 * pad)
    frames = []
    for t in range(n):
        x0 = pad + speed * t
        shifts = range(-(blur // 2), blur // 2 + 1) if t == jolt else (0,)
        frames.append(np.mean([big[:, x0 + s : x0 + s + WIDTH] for s in shifts], axis=0).astype(np.float32))
    return frames


def _edge(hole: np.ndarray) -> np.ndarray:
    grow = cv2.dilate(hole.astype(np.uint8), np.ones((3, 3), np.uint8))
    return (grow - cv2.erode(hole.astype(np.uint8), np.ones((3, 3), np.uint8))) > 0


def _gradient(image: np.ndarray) -> np.ndarray:
    gray = image.mean(axis=-1)
    return np.hypot(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))


def _motion_blur(image: np.ndarray, length: int, vertical: bool) -> np.ndarray:
    k = np.full((1, length), 1.0 / length, np.float32)
    return cv2.filter2D(image, -1, k.T if vertical else k, borderType=cv2.BORDER_REFLECT)


def _psnr(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((a - b)[where] ** 2)))


def test_a_motion_blurred_frame_in_a_sharp_pan_gets_a_fill_as_soft_as_itself() -> None:
    """A pan whose middle frame is motion-blurred along it over 13 px (a jolt). Its fill must be nearer the truth
    than the neighbours' crisp pixels blurred over half that length would be (before: the crisp pixels were
    pasted in, about as far from the truth as a blur of a quarter of it), with no edge on the hole's boundary
    that the truth does not have, and nothing outside the hole changed."""
    n, jolt, length = 13, 6, 13
    truth = _jolted_pan(n, 4, jolt, length)
    hole = _ellipse((20, 16))
    out = filled("propagate", truth, [hole] * n)
    sharp = _jolted_pan(n, 4, -1, length)[jolt]  # (the scene under the jolted frame, unblurred)
    halfway = _motion_blur(sharp, length // 2, False)
    assert _psnr(out[jolt], truth[jolt], hole) > _psnr(halfway, truth[jolt], hole)
    edge = _edge(hole)
    assert _gradient(out[jolt])[edge].mean() < 1.1 * _gradient(truth[jolt])[edge].mean()
    assert all(np.array_equal(out[t][~hole], truth[t][~hole]) for t in range(n))


def _ring_of(hole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return ring(hole, hole, 4)


def test_ring_blur_finds_a_blur_and_its_direction_and_leaves_a_sharper_frame_alone() -> None:
    """On the ring: a frame blurred along x or y (a motion blur) is found blurrier than the sharp values fetched
    for it, in that direction; the same frame as what was fetched, or sharper (a still frame between blurred
    ones), is left alone (None: nothing done)."""
    hole = _ellipse((20, 15))
    ry, rx = _ring_of(hole)
    sharp = _scene(WIDTH)
    for vertical in (False, True):
        blurred = _motion_blur(sharp, 11, vertical)
        found = ring_blur(blurred[ry, rx], sharp[ry, rx], ry, rx)
        assert found is not None
        assert abs(found.direction[1 if vertical else 0]) > 0.95, found
        assert ring_blur(sharp[ry, rx], blurred[ry, rx], ry, rx) is None
    assert ring_blur(sharp[ry, rx], sharp[ry, rx], ry, rx) is None


def test_match_blur_fits_the_frames_motion_blur_and_blurs_only_the_fetched_values() -> None:
    """Given the sharp scene fetched for the hole and its ring, and a frame blurred along x by a known length, the
    blur fitted on the ring brings the hole's values near the blurred truth, in place; a ring and hole fetched
    from the frame itself are not changed (no blur is found)."""
    hole = _ellipse((20, 15))
    ys, xs = np.nonzero(hole)
    ry, rx = _ring_of(hole)
    all_ys, all_xs = np.concatenate([ys, ry]), np.concatenate([xs, rx])
    sharp = _scene(WIDTH)
    truth = _motion_blur(sharp, 13, False)
    real = truth[ry, rx]
    values = sharp[all_ys, all_xs].copy()
    found = np.ones(len(all_ys), bool)
    blur = ring_blur(real, values[len(ys) :], ry, rx)
    assert blur is not None
    assert match_blur(blur, ys, xs, ry, rx, values, found, real)
    before = np.abs(sharp[ys, xs] - truth[ys, xs]).mean()
    after = np.abs(values[: len(ys)] - truth[ys, xs]).mean()
    assert after < 0.4 * before, (before, after)
    assert ring_blur(real, truth[ry, rx], ry, rx) is None


#: A 4K frame (rows, columns).
UHD = (2160, 3840)


def _peak(call: Callable[[], object]) -> tuple[object, int]:
    """What ``call`` returns, and the most memory (bytes) it held at once: NumPy's arrays, OpenCV's results among
    them (OpenCV's own scratch is not traced)."""
    tracemalloc.start()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _tiled_scene() -> tuple[np.ndarray, np.ndarray]:
    """The sharp scene and the same blurred along x over 11 px (a jolt), tiled over a frame of any size by
    indexing modulo its size: values at a few points of a 4K frame without an image of it."""
    sharp = _scene(WIDTH)
    return sharp, _motion_blur(sharp, 11, False)


def _blur_costs(hole: np.ndarray) -> tuple[int, int, int]:
    """The points of ``hole`` and its ring, and the most memory :func:`ring_blur` and :func:`match_blur` held on
    a frame blurred over the sharp scene fetched for it (checked to find the blur and keep the match)."""
    ys, xs = np.nonzero(hole)
    ry, rx = _ring_of(hole)
    sharp, blurred = _tiled_scene()
    real = blurred[ry % HEIGHT, rx % WIDTH]
    values = sharp[np.concatenate([ys, ry]) % HEIGHT, np.concatenate([xs, rx]) % WIDTH]
    found = np.ones(len(values), bool)
    blur, ring_peak = _peak(lambda: ring_blur(real, values[len(ys) :], ry, rx))
    assert isinstance(blur, RingBlur)
    kept, match_peak = _peak(lambda: match_blur(blur, ys, xs, ry, rx, values, found, real))
    assert kept is True
    return len(values), ring_peak, match_peak


def test_the_blur_check_and_match_work_on_the_rings_pixels_not_on_its_extent() -> None:
    """``ring_blur`` runs on every frame, ``match_blur`` on a blurred one; both made images of the box around the
    whole ring (and hole), so a ring with few pixels spread over the frame cost as much as a hole filling it: on a
    4K frame a 3 px wire matte from corner to corner (21,700 hole and 36,000 ring pixels) held 80 MiB in
    ``ring_blur`` (0.07 s, every frame) and 453 MiB in ``match_blur`` (6.2 s of CPU); two discs of radius 10 in
    opposite corners, 78 and 448 MiB against 0.1 MiB for the two side by side. The memory held now follows the
    points: under 1 KiB a point on the wire, and the discs cost the same in the corners as side by side."""
    wire = np.zeros(UHD, np.uint8)
    cv2.line(wire, (5, 5), (UHD[1] - 6, UHD[0] - 6), 1, 3)
    points, ring_peak, match_peak = _blur_costs(wire > 0)
    assert ring_peak < 1024 * points and match_peak < 1024 * points, (points, ring_peak, match_peak)
    costs = []
    for centres in (
        ((20, 20), (UHD[1] - 21, UHD[0] - 21)),
        ((UHD[1] // 2, UHD[0] // 2), (UHD[1] // 2 + 40, UHD[0] // 2)),
    ):
        discs = np.zeros(UHD, np.uint8)
        for centre in centres:  # (x, y)
            cv2.circle(discs, centre, 10, 1, -1)
        costs.append(_blur_costs(discs > 0))
    (points, far_ring, far_match), (_, near_ring, near_match) = costs
    assert far_ring < 2 * near_ring + 64 * points and far_match < 2 * near_match + 64 * points, costs
