"""Background that other frames saw comes back as they saw it: a whole-pixel pan is a copy.

A scene-linear EXR plate moved by an exact (3, 1) px a frame, a hole every part of which the frames within the
radius show: the truth in the hole is a copy of pixels of the neighbouring frames. DIS found the motion to
~0.05 px and the chains carried that error along (0.5 px after twelve frames), so every colour was read between
pixels, mixed with its neighbour: 28-57 % of the hole within 1e-3 of the truth, a one-pixel misregistration
around every edge, and the 50.0 highlights spread over four pixels (max error 14-39; on this clip 3-16 % and
7-22). Each pair's background motion is now refined on its images and the flow takes it where it agrees
(:mod:`aifx_core.flow.rigid`): every pixel of these frames' holes comes back within 1e-3 (error 0 here).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from cli_runner import aifx
from propagate_clips import texture
from shot_files import read_exr, write_exr

HEIGHT, WIDTH, FRAMES = 80, 144, 16
#: The pan, px a frame (x, y): whole pixels.
STEP = (3, 1)


def _canvas() -> np.ndarray:
    """A scene-linear texture with specular dots of 50.0 and patches of -0.05 (a grade's negatives) on it."""
    height, width = HEIGHT + STEP[1] * FRAMES + 4, WIDTH + STEP[0] * FRAMES + 4
    canvas = texture(height, width, seed=5) ** 2.2
    rng = np.random.default_rng(2)
    for _ in range(24):
        x, y = int(rng.integers(50, width - 50)), int(rng.integers(20, height - 24))
        cv2.circle(canvas, (x, y), 1, (50.0, 50.0, 50.0), -1)
        canvas[y + 4 : y + 6, x - 5 : x - 2] = -0.05
    return canvas.astype(np.float32)


def _shot(folder: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """``folder/plate.####.exr`` (float) panning over :func:`_canvas` and ``folder/mask.####.png`` (a 22x18
    square in every frame): the truths and the matte."""
    canvas = _canvas()
    matte = np.zeros((HEIGHT, WIDTH), np.uint8)
    matte[30:48, 60:82] = 255
    truths = []
    for t in range(FRAMES):
        x, y = STEP[0] * t, STEP[1] * t
        truth = canvas[y : y + HEIGHT, x : x + WIDTH]
        plate = truth.copy()
        plate[matte > 0] = (0.0, 0.0, 5.0)  # the object: nothing of it may come back
        write_exr(folder / f"plate.{t:04d}.exr", {"RGB": plate})
        cv2.imwrite(str(folder / f"mask.{t:04d}.png"), matte)
        truths.append(truth)
    return truths, matte > 0


def test_a_whole_pixel_pan_fills_the_hole_with_the_exact_background(tmp_path: Path) -> None:
    truths, matte = _shot(tmp_path)
    done = aifx(
        "fill",
        str(tmp_path / "plate.####.exr"),
        "-m",
        str(tmp_path / "mask.####.png"),
        "-o",
        str(tmp_path / "out" / "clean.####.exr"),
    )
    assert done.returncode == 0, done.stderr
    # (the hole as filled: the matte grown by the default --dilate 4)
    hole = cv2.dilate(matte.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))) > 0
    exact, worst = [], []
    # Frames 2-13: every hole pixel is seen by a frame within the radius (12) on one side or the other.
    for t in range(2, FRAMES - 2):
        _, channels = read_exr(tmp_path / "out" / f"clean.{t:04d}.exr")
        out = np.stack([channels[c] for c in "RGB"], -1).astype(np.float32)
        error = np.abs(out - truths[t]).max(-1)[hole]
        exact.append(float((error < 1e-3).mean()))
        worst.append(float(error.max()))
    assert min(exact) > 0.99, [round(e, 3) for e in exact]
    assert max(worst) < 0.05, [round(w, 3) for w in worst]


def test_a_light_over_part_of_a_static_plate_is_not_taken_for_motion() -> None:
    """A static plate whose top third a light brightens by 8 % between the frames: one gain and offset cannot
    explain the pair, and the refinement bent the homography 0.1-0.2 px to take up the difference (the snap then
    moved DIS's 0.01-0.04 px flow off by that much where the light never was). It is refused now."""
    from aifx_core.flow import rigid

    rng = np.random.default_rng(3)
    height, width = 64, 112
    plate = cv2.GaussianBlur(rng.random((height, width)).astype(np.float32), (0, 0), 2.0)
    plate = 0.25 + 0.5 * (plate - plate.min()) / (plate.max() - plate.min())
    light = cv2.GaussianBlur(
        (np.arange(height) < 24).astype(np.float32)[:, None].repeat(width, 1), (0, 0), 1.5
    )
    a, b = plate * (1 - 0.04 * light), plate * (1 + 0.04 * light)
    still = np.eye(3)
    clear = np.ones((height, width), bool)
    assert rigid.refine(a, b, still, np.zeros((height, width, 2), np.float32), clear, clear) is None
    # The same plate moved by a whole pixel under one light: refined to the pixel.
    moved = np.roll(plate, -1, axis=1)
    guess = np.array([[1.0, 0.0, -0.95], [0.0, 1.0, 0.03], [0.0, 0.0, 1.0]])
    flow = np.broadcast_to(np.float32([-0.95, 0.03]), (height, width, 2))
    found = rigid.refine(plate, moved, guess, flow, clear, clear)
    assert found is not None
    assert np.abs(found[0][:2] - np.array([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]])).max() < 0.01


def test_a_mover_between_the_judged_grid_pixels_keeps_its_own_flow() -> None:
    """The images judge a layer on every fourth pixel each way (``rigid.GRID``: a sixteenth of the work) and the
    pixels between take their neighbours' share; a mover a pixel wide on a column between them (its flow 1.5 px
    off the layer's) is not seen by the judged pixels, and only its own flow (held within ``rigid.OWN_MAX_PX``)
    keeps it from being moved onto the layer with them (it was, with the share alone). The background around
    it takes the layer's motion exactly."""
    from aifx_core.flow import rigid

    rng = np.random.default_rng(4)
    height, width = 48, 80
    canvas = cv2.GaussianBlur(rng.random((height + 8, width + 8)).astype(np.float32), (0, 0), 1.5)
    canvas = (canvas - canvas.min()) / (canvas.max() - canvas.min())
    # A pan of (2, 1) px: b(x + 2, y + 1) = a(x, y).
    a, b = canvas[4 : 4 + height, 4 : 4 + width], canvas[3 : 3 + height, 2 : 2 + width]
    pan = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0], [0.0, 0.0, 1.0]])
    motion = rigid.layer_flow(pan, (height, width))
    # DIS's smooth error (~0.04 px) over the layer, and the mover's column
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    flow = motion + 0.04 * np.stack([np.sin(xs / 9.0), np.cos(ys / 7.0)], -1).astype(np.float32)
    column = 31  # (between two judged columns)
    flow[:, column, 0] += 1.5
    clear = np.ones((height, width), bool)
    evidence = rigid.Evidence.of(a, b, 1.0, 0.0, clear, clear, rigid.on_grid(motion))
    moved = rigid.snap(flow, [motion], [evidence])
    assert np.array_equal(moved[:, column], flow[:, column])
    inner = (slice(8, height - 8), slice(8, column - 2))
    assert np.array_equal(moved[inner], motion[inner])


def test_the_completion_given_the_layers_it_would_fit_completes_alike() -> None:
    """A pair's exact layers fit its flows' background layers once and hand them to the completion
    (``layers``), which then fits none: given the layers it would fit itself, it completes the same flows bit
    for bit and hands on the same layers."""
    from aifx_core.flow import background_layers, completion
    from aifx_core.flow.motion import hole_distance

    height, width = 72, 128
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    forward = np.stack([2.0 + 0.01 * xs, 1.0 - 0.005 * ys], -1).astype(np.float32)
    backward = -forward
    hole = np.zeros((height, width), bool)
    hole[28:46, 50:74] = True
    forward[hole] = 0.0
    backward[hole] = 0.0
    usable = hole_distance(hole) > completion.GAP
    layers = [background_layers(forward, usable), background_layers(backward, usable)]
    assert layers[0] and layers[1]
    fitted: list = []
    given: list = []
    alone = completion.complete_flows_scored([forward, backward], hole, layers_out=fitted)
    shared = completion.complete_flows_scored([forward, backward], hole, layers_out=given, layers=layers)
    assert len(alone) == len(shared) == 4
    for one, other in zip(alone, shared, strict=True):
        assert np.array_equal(one, other)
    assert [len(mine) for mine in fitted] == [len(theirs) for theirs in given]
    for mine, theirs in zip(fitted, given, strict=True):
        assert all(np.array_equal(p, q) for p, q in zip(mine, theirs, strict=True))


def test_the_layers_read_from_the_pixels_they_need_what_the_whole_frame_passes_gave() -> None:
    """The exact layers' work is a pair's at the flow worker's pace, and each whole-frame pass of it counted
    (10-13 % of a 432x240 fill's CPU): the refinement blurred both frames and made the moved frame's two
    central-difference planes and their merge, the evidence two Sobels of each frame a layer, for a sample
    every 8th pixel or a judge every 4th. They are now read from the pixels around those positions only; what
    they read is what the planes gave (float32 rounding apart), on frames whose sides are no multiple of the
    grid too, at their borders and at a position on the last row or column."""
    from aifx_core.flow import rigid

    rng = np.random.default_rng(6)
    for height, width in ((48, 80), (37, 53)):
        image = cv2.GaussianBlur(rng.random((height, width)).astype(np.float32), (0, 0), 1.2)
        # The refinement's reads: bilinear, at exact fractions, of the image and its central differences.
        planes = cv2.merge(
            [
                image,
                cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=1, scale=0.5),
                cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=1, scale=0.5),
            ]
        )
        xs = np.concatenate([rng.uniform(1, width - 2, 500), [1.0, width - 2.0, 7.25]])
        ys = np.concatenate([rng.uniform(1, height - 2, 500), [height - 2.0, 1.0, height - 2.0]])
        value, along_x, along_y = rigid._with_gradient(image, xs, ys)
        assert np.abs(np.stack([value, along_x, along_y], -1) - rigid._bilinear(planes, xs, ys)).max() < 1e-6
        # Its samples of the first frame, through the 5x5 Gaussian, at every pixel (the border's included).
        rows, columns = np.nonzero(np.ones((height, width), bool))
        blurred = cv2.GaussianBlur(image, (5, 5), 1.0)[rows, columns]
        assert np.abs(rigid._blurred_at(image, columns, rows) - blurred).max() < 1e-6
        # The evidence's texture: a gain times the central differences, on the grid.
        along_x, along_y = rigid._grid_gradient(image, 0.8)
        for got, dx, dy in ((along_x, 1, 0), (along_y, 0, 1)):
            made = rigid.on_grid(cv2.Sobel(image, cv2.CV_32F, dx, dy, ksize=1, scale=0.4))
            assert got.shape == made.shape and np.abs(got - made).max() < 1e-6


def test_the_snap_gives_the_flow_or_the_layer_exactly_where_the_share_says_none_or_all() -> None:
    """The snap blends the flow and the layer's motion with one OpenCV call (its weights scaled by a power of two
    that its 1e-5 guard does not move): a pixel the layer does not explain keeps its flow bit for bit, one it
    explains fully takes the layer's motion bit for bit, and one between lies between them."""
    from aifx_core.flow import rigid

    height, width = 40, 64
    pan = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0], [0.0, 0.0, 1.0]])
    motion = rigid.layer_flow(pan, (height, width))
    flow = motion.copy()
    flow[:, 40:, 0] += 3.0  # a mover: far from the layer, kept
    flow[:, 25, 1] += np.float32(0.3)  # one column 0.3 px off (the ramp runs from 0.25 to 0.5 px): between
    moved = rigid.snap(flow, [motion])
    assert np.array_equal(moved[:, 44:], flow[:, 44:])
    assert np.array_equal(moved[:, :10], motion[:, :10])
    middle = moved[:, 25, 1]
    assert (middle > motion[:, 25, 1]).all() and (middle < flow[:, 25, 1]).all()
