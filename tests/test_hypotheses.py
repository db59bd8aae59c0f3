"""Motion hypotheses for what propagation did not find (propagate/hypotheses.py): a tracked object entering a
static hole on a fast pan, where the completed flow inside is the ground's (the whips' failure)."""

from __future__ import annotations

import cv2
import numpy as np

from aifx_core.propagate.candidates import Source
from aifx_core.propagate.hypotheses import _side_motions, choose, nearest_outside

WIDTH, HEIGHT, FRAMES, TARGET = 200, 64, 5, 2
HOLE = (slice(16, 48), slice(70, 110))  # rows, columns of the hole in the target frame
BAND = (20, 44)  # rows of the object
OBJECT_LEFT, OBJECT_LENGTH = 24, 70  # the object's left end in frame 0 and its length


def _texture(seed: int, width: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.random((HEIGHT, width, 3)).astype(np.float32)
    return cv2.GaussianBlur(noise, (0, 0), 1.0) * 0.8 + 0.1


def _scene(ground_px: int, object_px: int) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Frames of a pan moving the ground ``ground_px`` and the object ``object_px`` per frame (rightwards), the
    object's mask per frame, and the true forward flow per frame."""
    ground, thing = _texture(1, 1000), _texture(2, 1000)
    columns = np.arange(WIDTH)
    frames, masks, flows = [], [], []
    for k in range(FRAMES):
        image = ground[:, columns - ground_px * k + 500].copy()
        left = OBJECT_LEFT + object_px * k
        inside = (columns >= left) & (columns < left + OBJECT_LENGTH)
        mask = np.zeros((HEIGHT, WIDTH), bool)
        mask[BAND[0] : BAND[1], inside] = True
        image[mask] = thing[:, columns - object_px * k + 500][mask]
        flow = np.zeros((HEIGHT, WIDTH, 2), np.float32)
        flow[..., 0] = np.where(mask, object_px, ground_px)
        frames.append(image)
        masks.append(mask)
        flows.append(flow)
    return frames, masks, flows


def _choose(ground_px: int, object_px: int):  # noqa: ANN202 - (test helper)
    frames, masks, flows = _scene(ground_px, object_px)
    hole = np.zeros((HEIGHT, WIDTH), bool)
    hole[HOLE] = True
    completed = cv2.dilate(hole.astype(np.uint8), np.ones((21, 21), np.uint8)).astype(bool)
    fit = completed.astype(np.float32)  # the completion's expected error: > 0 where it guessed

    def flow(index: int, direction: int) -> np.ndarray:
        # Measured outside the completed region; inside, the completion gave everything the ground's motion.
        truth = flows[index] if direction > 0 else -flows[index]
        guess = np.array([ground_px, 0.0], np.float32) * direction
        return np.where(completed[..., None], guess, truth).astype(np.float32)

    def source(index: int) -> Source | None:
        if not 0 <= index < FRAMES:
            return None
        invalid = hole if index == TARGET else np.zeros_like(hole)
        return Source(frames[index], invalid, np.ones(3, np.float32))

    ys, xs = np.nonzero(hole)
    level = float(np.median(np.abs(frames[TARGET])))
    chosen = choose(TARGET, xs, ys, flow, lambda i, d: fit, (1.0, 1.0), source, level)
    return chosen, xs, ys, frames[TARGET], masks[TARGET]


def test_an_object_entering_the_hole_takes_its_own_motion_from_the_frames_that_see_it():
    """The object (8 px/frame) ends inside the hole of a 24 px/frame pan; the completed flow there is the
    ground's. Most of the object's part of the hole gets the object's colour at that point (the neighbouring
    frames agree along its motion, not along the ground's), and the ground's part is left alone."""
    chosen, xs, ys, truth, mask = _choose(24, 8)
    assert chosen is not None
    on_object = mask[ys, xs]
    picked = np.zeros(len(xs), bool)
    picked[chosen.index] = True
    assert picked[on_object].mean() > 0.6
    assert picked[~on_object].mean() < 0.05
    error = np.abs(chosen.values - truth[ys[chosen.index], xs[chosen.index]]).max(axis=1)
    assert np.median(error) < 0.02 and np.mean(error < 0.1) > 0.95


def test_a_slow_frame_is_left_to_propagation():
    """Under a slow camera (4 px/frame, below chain.SLACK_FAST_PX) nothing is asked: a car entering a static
    square there is what the hypotheses got wrong on crosser."""
    chosen, *_ = _choose(4, 1)
    assert chosen is None


def test_nearest_outside_finds_the_first_measured_pixel_each_way():
    completed = np.zeros((5, 7), bool)
    completed[1:4, 2:5] = True
    left, right, up, down = nearest_outside(completed)
    assert left[2, 3] == 1 and right[2, 3] == 5 and up[2, 3] == 0 and down[2, 3] == 4
    assert left[2, 0] == 0  # a measured pixel is its own nearest
    edge = np.ones((3, 3), bool)
    left, right, up, down = nearest_outside(edge)
    assert (left == -1).all() and (right == -1).all() and (up == -1).all() and (down == -1).all()


def test_through_the_engine_nothing_comes_from_a_hole_and_the_window_changes_nothing(monkeypatch):
    """A static hole on the fast pan, a sentinel colour planted in every frame's hole: the engine's output
    never shows the sentinel, and is bit-identical for window sizes 1 and 40 (the hypotheses read only frames
    within 2 of the target, inside the radius). On this clean synthetic pan the chains find almost every point,
    so every other point's fused sample is dropped first (the same points in both runs): the hypotheses are
    asked there and give some of them a side's colour."""
    from aifx_core.backends import create_backend
    from aifx_core.inpaint import BackendContext, FramePacket
    from aifx_core.progress import Reporter
    from aifx_core.propagate import propagation

    frames, _, _ = _scene(24, 8)
    frames = frames + _scene(24, 8)[0]  # ten frames: the pan and the object start over half way
    hole = np.zeros((HEIGHT, WIDTH), bool)
    hole[HOLE] = True
    sentinel = np.array([7.0, -5.0, 9.0], np.float32)
    packets = [
        FramePacket(t, np.where(hole[..., None], sentinel, f).astype(np.float32), hole)
        for t, f in enumerate(frames)
    ]
    taken = []
    plain = propagation.choose

    def counted(*args, **kwargs):  # noqa: ANN202 - (a spy on the real function)
        chosen = plain(*args, **kwargs)
        taken.append(0 if chosen is None else len(chosen.index))
        return chosen

    monkeypatch.setattr(propagation, "choose", counted)
    fuse = propagation.fuse

    def fewer(*args, **kwargs):  # noqa: ANN202 - (the real fusion, every other point dropped)
        fused = fuse(*args, **kwargs)
        fused.found[::2] = False
        fused.values[::2] = 0.0
        return fused

    monkeypatch.setattr(propagation, "fuse", fewer)
    outputs = {}
    for window in (1, 40):
        backend = create_backend(
            "propagate",
            BackendContext(colorspace="sRGB", options=dict(window=window, radius=3, keyframe_interval=4)),
        )
        outputs[window] = list(backend.fill(iter(packets), Reporter()))
    assert sum(taken) > 0
    for (fa, a), (fb, b) in zip(outputs[1], outputs[40], strict=True):
        assert fa == fb
        np.testing.assert_array_equal(a, b)
        filled = a[hole]
        assert filled.max() < 1.5 and filled.min() > -0.5


def test_side_motions_scan_only_the_points_rows_and_columns_and_agree_with_the_whole_frame():
    """``_side_motions`` reads the nearest measured pixel each way from the points' own rows and columns only;
    what it finds is what ``nearest_outside`` over the whole frame finds there."""
    rng = np.random.default_rng(7)
    for size in ((1, 1), (4, 9), (30, 41)):
        for share in (0.2, 0.7, 1.0):
            completed = rng.random(size) < share
            flow = rng.standard_normal((*size, 2)).astype(np.float32)
            xi, yi = rng.integers(0, size[1], 60), rng.integers(0, size[0], 60)
            whole = nearest_outside(completed)
            for side, (motion, has) in enumerate(_side_motions(flow, completed, xi, yi)):
                at = whole[side][yi, xi]
                assert np.array_equal(has, at >= 0)
                expected = flow[yi, np.maximum(at, 0)] if side < 2 else flow[np.maximum(at, 0), xi]
                assert np.array_equal(motion, expected)
