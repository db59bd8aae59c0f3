"""Mover detection marks what moves, not ground whose flow DIS got wrong (issue #10 item 3, docs/method.md
"Sixteenth pass (mover24)").

The engine refuses reads near detected movers; a false mark on clear ground beside a hole refuses the reads
that would fill it. DIS's flow is wrong where a pixel's match is hard to see: in a band along the frame's border
(tennis at 216x120, panning 5.5 px a frame: 1 px at the left edge) and on patches of ground. There B, sampled
along the background's motion, still matches A: the image says the ground did not move. A mover shows as
itself in A and as something else in B there (at least along its outline).
"""

from __future__ import annotations

import cv2
import numpy as np

from aifx_core.flow import moving_objects

HEIGHT, WIDTH = 160, 240


def _plate(seed: int, height: int, width: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    plate = cv2.GaussianBlur(rng.random((height, width)).astype(np.float32), (0, 0), 1.5)
    return (40 + 180 * (plate - plate.min()) / (plate.max() - plate.min())).astype(np.uint8)


def _panned_disc() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A textured ground panning +5 px (A→B flow) and a textured disc moving -8 px against it; a hole far off.

    Returns (A, B, the A→B flow as DIS gives it, the hole, the disc in A, the ground the flow got wrong: a
    band along the border and a patch).
    """
    ground, skin = _plate(3, HEIGHT, WIDTH + 40), _plate(11, 80, 80)
    a, b = ground[:, 25 : 25 + WIDTH].copy(), ground[:, 20 : 20 + WIDTH].copy()
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    disc = np.hypot(xs - 150.0, ys - 80.0) < 20.0
    a[disc] = skin[ys[disc] - 80 + 40, xs[disc] - 150 + 40]
    moved = np.hypot(xs - 142.0, ys - 80.0) < 20.0
    b[moved] = skin[ys[moved] - 80 + 40, xs[moved] - 142 + 40]
    flow = np.zeros((HEIGHT, WIDTH, 2), np.float32)
    flow[..., 0] = 5.0
    # The disc's flow, smeared 8 px over its edge onto the ground (DIS's patches straddle the edge).
    flow[np.hypot(xs - 150.0, ys - 80.0) < 28.0] = (-8.0, 0.0)
    # The first 6 columns: the motion DIS finds at the frame's border (tennis at half size: 1 px of 5.5).
    band = xs < 6
    flow[band] = (1.0, 0.0)
    # A patch of ground DIS gave a motion of its own (as on low-contrast ground): nothing there moves.
    patch = (np.abs(xs - 60.0) < 10) & (np.abs(ys - 130.0) < 10)
    flow[patch] = (-3.0, 4.0)
    hole = np.zeros((HEIGHT, WIDTH), bool)
    hole[60:100, 60:100] = True
    return a, b, flow, hole, disc, band | patch


def test_ground_the_background_motion_explains_is_not_marked() -> None:
    a, b, flow, hole, disc, wrong = _panned_disc()
    found = moving_objects(flow, -flow, hole, side="a", images=(a, b))
    # The disc stays marked (a missed mover is pasted into the hole: worse than a refused clear read).
    assert (found & disc).sum() > 0.9 * disc.sum()
    # Nothing where only the flow was wrong (both were marked before); the disc's own region may reach as far
    # as its smeared flow (8 px) and the mask's growth for a blurred edge.
    assert not (found & wrong).any()
    near = cv2.dilate(disc.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (31, 31))) > 0
    assert not (found & ~near).any()


def test_the_flow_alone_still_marks_what_it_sees() -> None:
    # Without images there is nothing to explain the flow with: the wrong flow counts, as before.
    a, b, flow, hole, disc, wrong = _panned_disc()
    found = moving_objects(flow, -flow, hole, side="a")
    assert (found & disc).sum() > 0.9 * disc.sum()
    assert (found & wrong).any()


def test_a_plain_mover_is_marked_whole() -> None:
    # A plain disc (a car's side, a shirt) moving less than its size: inside it B along the background's motion
    # is the disc again, explained; its outline is not, and the region it belongs to is kept whole.
    a, b, flow, hole, disc, _ = _panned_disc()
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    a[disc] = 200
    b[np.hypot(xs - 142.0, ys - 80.0) < 20.0] = 200
    found = moving_objects(flow, -flow, hole, side="a", images=(a, b))
    assert (found & disc).sum() > 0.95 * disc.sum()


def test_an_explained_piece_beside_a_mover_stays_marked() -> None:
    # A piece of flow that disagrees 6-16 px below the disc's region, all of it explained (a planted foot beside
    # the rest of the player): taken for a part of the same mover, not for ground the flow got wrong.
    a, b, flow, hole, disc, _ = _panned_disc()
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    piece = (np.abs(xs - 150.0) < 8) & (ys >= 114) & (ys < 124)
    flow[piece] = (-3.0, 4.0)
    found = moving_objects(flow, -flow, hole, side="a", images=(a, b))
    assert (found & piece).sum() > 0.8 * piece.sum()
