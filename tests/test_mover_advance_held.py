"""Ground next to a hole that a source shows beside a detected mover is still read for the points that find
nothing else, where it agrees with the plate around the target's hole.

The sources' movers next to a hole are blind, grown and sometimes false (at half size a tennis court's edge is
marked beside the hole in a third of the frames), so "the source's mover is nearer to this ground than the
target's mover is to the point" (``mover_fringe.ADVANCE_PX``) refuses clear ground too; where a point then finds
no other sample it went to the spatial fallback (docs/method.md, "Fifteenth pass (half23)")."""

from __future__ import annotations

import cv2
import numpy as np
from test_mover_fringe import _filled

HEIGHT, WIDTH = 96, 208
#: The background moves this many px a frame to the left; the hole is wider than ``radius`` frames of it.
PAN = 3
HOLE = (slice(36, 68), slice(80, 140))
#: A magenta body left of the hole on every frame, ``GAP`` px from it, ``BODY`` px wide, bobbing ``BOB`` px up and
#: down in turn: the detection finds it (grown ~10 px towards the hole), so the hole's left points have a mover
#: within ``OWN_PX`` and may read the sources' fringes, and the reads beyond the fringe land on the body.
GAP, BODY, BOB = 24, 24, 6


def _texture(height: int, width: int, seed: int) -> np.ndarray:
    """Smooth noise in 0..1 (blurred at sigma 2: a ground whose pixels stay near the membrane around a hole)."""
    rng = np.random.default_rng(seed)
    planes = [cv2.GaussianBlur(rng.random((height, width)).astype(np.float32), (0, 0), 2.0) for _ in range(3)]
    tex = np.stack(planes, -1)
    return ((tex - tex.min()) / (tex.max() - tex.min())).astype(np.float32)


def _clip(n: int = 20) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Frames, holes and background truth: a gently textured ground panning left under a static hole, and the
    bobbing body left of it on every frame. The ground under the hole's left part is seen later only left of
    the hole: in the band beside the body, then behind it (earlier it was still in the hole)."""
    ground = 0.4 + 0.2 * _texture(HEIGHT, WIDTH + PAN * n + 2, 0)
    skin = _texture(HEIGHT, BODY, 1)
    body = np.stack([0.4 + 0.6 * skin[..., 0], 0.1 * skin[..., 1], 0.4 + 0.6 * skin[..., 2]], -1)
    edge = HOLE[1].start - GAP
    frames, holes, truth = [], [], []
    for t in range(n):
        plate = np.ascontiguousarray(ground[:, PAN * t : PAN * t + WIDTH]).astype(np.float32)
        truth.append(plate.copy())
        y0 = 8 + BOB * (t % 2)
        plate[y0 : y0 + 80, edge - BODY : edge] = body[:80]
        frames.append(plate)
        hole = np.zeros((HEIGHT, WIDTH), bool)
        hole[HOLE] = True
        holes.append(hole)
    return frames, holes, truth


def _body_in_hole(out: np.ndarray, hole: np.ndarray) -> int:
    """How many hole pixels show the body's colour (green near 0, red and blue high)."""
    return int(((out[..., 1] < 0.15) & (out[..., 0] > 0.35) & (out[..., 2] > 0.35) & hole).sum())


def test_ground_beside_a_sources_mover_is_read_where_nothing_else_was_found() -> None:
    """The hole's left columns (the body within ``OWN_PX`` of them) see their ground later only in the band
    beside the body (its fringe) and then behind it: from 3 frames on, the body is nearer to those reads than to
    the points by more than ``ADVANCE_PX``, and earlier reads still touch the hole. Main refused every such read
    and left these points to the spatial fallback (40.4 dB); they read the ground (45.5 dB), and never the body."""
    frames, holes, truth = _clip()
    results = _filled(frames, holes)
    assert sum(_body_in_hole(out, hole) for out, hole in zip(results, holes, strict=True)) == 0
    left = np.zeros((HEIGHT, WIDTH), bool)
    left[HOLE[0], HOLE[1].start : HOLE[1].start + 10] = True
    error = np.concatenate([(out[left] - tr[left]).ravel() for out, tr in zip(results, truth, strict=True)])
    assert 10 * np.log10(1.0 / np.mean(error**2)) > 43.5
