"""Synthetic hard clips whose motion is known exactly: a fast, motion-blurred pan with an unmasked object
crossing static holes, and a dolly with a large, fast masked ball (the 1080p case of issue #10).

The camera is a scale + translation of a large textured plate (so the background's true flow is an exact
affine map per frame pair); the crossing object is a textured disc moving in screen space against the pan.
Motion blur averages sub-frame renders over the shutter interval. Everything is seeded.

Used by ``benchmarks/bench_flow.py`` (flow endpoint error before/after, completion error, timing) and, at
small sizes, by ``tests/test_flow_hard.py``.
"""

from __future__ import annotations

import cv2
import numpy as np

SEED = 20261203


#: Noise scales (cell size in px, weight) of a plate with large structures, and of a fine-grained one (snow,
#: gravel, foliage: little for a coarse pyramid level to lock on, the hard case for DIS at 30 px/frame).
COARSE = ((64, 0.45), (16, 0.3), (4, 0.25))
FINE = ((24, 0.15), (6, 0.35), (2, 0.5))


def plate_texture(
    rng: np.random.Generator, height: int, width: int, scales: tuple[tuple[int, float], ...] = COARSE
) -> np.ndarray:
    """Multi-scale noise plus hard-edged blobs and strokes: trackable corners for features, like a real set."""
    out = np.zeros((height, width, 3), np.float32)
    for cells, weight in scales:
        small = rng.random((max(2, height // cells), max(2, width // cells), 3)).astype(np.float32)
        out += weight * cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    out = (out - out.min()) / max(1e-6, float(out.max() - out.min()))
    out = 0.2 + 0.6 * out
    for _ in range(width * height // 1500):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        colour = tuple(float(c) for c in rng.uniform(0.05, 0.95, 3))
        size = int(rng.integers(2, 9))
        if rng.random() < 0.5:
            cv2.rectangle(out, (x, y), (x + size, y + int(rng.integers(2, 9))), colour, -1)
        else:
            cv2.line(out, (x, y), (x + int(rng.integers(-12, 12)), y + int(rng.integers(-12, 12))), colour, 1)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


class CameraClip:
    """A camera over a big plate: frame t shows plate point ``scale[t] · p + offset[t]`` at pixel p.

    ``crosser``: an unmasked textured disc (centre, radius, velocity in screen px/frame) drawn over the plate.
    ``ball``: a masked disc (the object to remove) with its own screen motion; ``hole(t)`` is its matte.
    ``squares``: static square holes (x, y, side).
    """

    def __init__(
        self,
        width: int,
        height: int,
        count: int,
        offsets: np.ndarray,
        scales: np.ndarray,
        *,
        blur: float = 0.5,
        crosser: tuple[float, float, float, float, float] | None = None,
        ball: tuple[float, float, float, float, float] | None = None,
        squares: tuple[tuple[int, int, int], ...] = (),
        texture: tuple[tuple[int, float], ...] = COARSE,
        seed: int = SEED,
    ) -> None:
        self.width, self.height, self.count = width, height, count
        self.offsets = np.asarray(offsets, np.float64)  # (count, 2): plate position of pixel (0, 0)
        self.scales = np.asarray(scales, np.float64)
        self.blur = blur  # shutter fraction of the frame interval
        rng = np.random.default_rng(seed)
        span = self.offsets.max(axis=0) - self.offsets.min(axis=0)
        reach = self.scales.max()
        self.origin = self.offsets.min(axis=0) - 8.0
        tex_w = int(width * reach + span[0] + 80)
        tex_h = int(height * reach + span[1] + 80)
        self.plate = plate_texture(rng, tex_h, tex_w, texture)
        self.crosser = crosser
        self.crosser_texture = plate_texture(rng, 128, 128)[..., ::-1].copy()
        self.ball = ball
        self.squares = squares

    # -- camera and objects at (fractional) time s -----------------------------------------------------
    def _camera(self, s: float) -> tuple[float, np.ndarray]:
        i = int(np.clip(np.floor(s), 0, self.count - 2))
        u = s - i
        scale = (1 - u) * self.scales[i] + u * self.scales[i + 1]
        offset = (1 - u) * self.offsets[i] + u * self.offsets[i + 1]
        return float(scale), offset

    def _disc(self, spec: tuple[float, float, float, float, float], s: float) -> tuple[float, float, float]:
        x, y, radius, vx, vy = spec
        return x + vx * s, y + vy * s, radius

    def _render(self, s: float) -> np.ndarray:
        scale, offset = self._camera(s)
        matrix = np.array([[scale, 0, offset[0] - self.origin[0]], [0, scale, offset[1] - self.origin[1]]])
        out = cv2.warpAffine(
            self.plate, matrix, (self.width, self.height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        )
        for spec, texture in ((self.crosser, self.crosser_texture), (self.ball, None)):
            if spec is None:
                continue
            cx, cy, radius = self._disc(spec, s)
            alpha = np.zeros((self.height, self.width), np.float32)
            cv2.circle(
                alpha, (round(cx * 16), round(cy * 16)), round(radius * 16), (1.0,), -1, cv2.LINE_AA, 4
            )
            if texture is None:
                colour = np.array([0.9, 0.25, 0.1], np.float32)
                layer = np.broadcast_to(colour, out.shape)
            else:
                tex_matrix = np.array([[128 / (2 * radius), 0, -(cx - radius) * 128 / (2 * radius)]])
                tex_matrix = np.vstack(
                    [tex_matrix, [0, 128 / (2 * radius), -(cy - radius) * 128 / (2 * radius)]]
                )
                layer = cv2.warpAffine(
                    texture, tex_matrix, (self.width, self.height), borderMode=cv2.BORDER_REFLECT
                )
            out = out * (1 - alpha[..., None]) + layer * alpha[..., None]
        return out

    def frame(self, t: int) -> np.ndarray:
        """Frame ``t`` (H, W, 3) float32 0..1, motion-blurred over ``blur`` of the frame interval."""
        if self.blur <= 0:
            return self._render(float(t)).astype(np.float32)
        speed = np.abs(self.offsets[min(t + 1, self.count - 1)] - self.offsets[max(t - 1, 0)]).max() / 2
        samples = int(np.clip(np.ceil(speed * self.blur), 1, 24))
        times = t + self.blur * (np.arange(samples) / max(1, samples - 1) - 0.5) if samples > 1 else [t]
        return np.mean([self._render(float(s)) for s in times], axis=0).astype(np.float32)

    # -- truth -------------------------------------------------------------------------------------------
    def background_flow(self, t: int, direction: int = 1) -> np.ndarray:
        """True flow of the plate from frame t to t + direction (H, W, 2)."""
        s0, o0 = self._camera(float(t))
        s1, o1 = self._camera(float(t + direction))
        ys, xs = np.mgrid[0 : self.height, 0 : self.width].astype(np.float64)
        fx = (s0 * xs + o0[0] - o1[0]) / s1 - xs
        fy = (s0 * ys + o0[1] - o1[1]) / s1 - ys
        return np.stack([fx, fy], axis=-1).astype(np.float32)

    def _disc_mask(
        self, spec: tuple[float, float, float, float, float] | None, t: float, grow: float
    ) -> np.ndarray:
        mask = np.zeros((self.height, self.width), np.uint8)
        if spec is not None:
            cx, cy, radius = self._disc(spec, t)
            cv2.circle(mask, (round(cx), round(cy)), round(radius + grow), (1,), -1)
        return mask > 0

    def crosser_mask(self, t: int, grow: float = 0.0) -> np.ndarray:
        """Where the unmasked crossing object is in frame t (grown by its blur: half a frame of motion)."""
        blur = 0.0 if self.crosser is None else self.blur * 0.5 * float(np.hypot(*self.crosser[3:]))
        return self._disc_mask(self.crosser, float(t), grow + blur)

    def flow(self, t: int, direction: int = 1) -> np.ndarray:
        """True flow t → t + direction, the crossing object included."""
        flow = self.background_flow(t, direction)
        if self.crosser is not None:
            flow[self._disc_mask(self.crosser, float(t), 0.0)] = np.array(self.crosser[3:]) * direction
        return flow

    def hole(self, t: int, grow: float = 4.0) -> np.ndarray:
        """The matte: the masked ball (grown by ``grow`` plus its motion blur) and the static squares."""
        blur = 0.0 if self.ball is None else self.blur * 0.5 * float(np.hypot(*self.ball[3:]))
        mask = self._disc_mask(self.ball, float(t), grow + blur)
        for x, y, side in self.squares:
            mask[y : y + side, x : x + side] = True
        return mask


def fast_pan(
    width: int = 432,
    height: int = 240,
    count: int = 12,
    *,
    nine: bool = False,
    speed: tuple[float, float] = (20.0, 35.0),
    seed: int = SEED,
) -> CameraClip:
    """The rally case: a camera whipping at 20-35 px/frame (with a little vertical shake), motion blur on,
    static 35-px square holes (three, or nine with ``nine``), and an unmasked disc crossing them against the
    pan at 10 px/frame."""
    rng = np.random.default_rng(seed)
    k = width / 432
    speeds = rng.uniform(*speed, count) * k
    shake = rng.uniform(-3, 3, count) * k
    offsets = np.stack([np.cumsum(speeds), np.cumsum(shake) + 40 * k], axis=-1)
    side = round(35 * k)
    if nine:
        squares = tuple(
            (round(width * fx) - side // 2, round(height * fy) - side // 2, side)
            for fy in (0.25, 0.5, 0.75)
            for fx in (0.2, 0.5, 0.8)
        )
    else:
        squares = tuple(
            (round(width * fx) - side // 2, round(height * 0.5) - side // 2, side) for fx in (0.3, 0.55, 0.8)
        )
    crosser = (0.1 * width, 0.5 * height, 24 * k, 10 * k, 0.0)
    return CameraClip(
        width,
        height,
        count,
        offsets,
        np.ones(count),
        crosser=crosser,
        squares=squares,
        texture=FINE,
        seed=seed,
    )


def large_ball(width: int = 1920, height: int = 1080, count: int = 16, *, seed: int = SEED) -> CameraClip:
    """The 1080p case: a camera dolly (slow push-in + pan) and a masked ball a third of the frame high
    crossing at 75 px/frame (at 1920 wide; scaled with the width)."""
    k = width / 1920
    t = np.arange(count)
    scales = 1.0 - 0.003 * t
    offsets = np.stack([12 * k * t + 0.0015 * t * width, 2 * k * t + 0.0015 * t * height], axis=-1)
    ball = (0.15 * width, 0.55 * height, height / 6, 75 * k, -4 * k)
    return CameraClip(width, height, count, offsets, scales, ball=ball, seed=seed)
