"""Image and video quality measures: PSNR, SSIM and the warping error E_warp.

Every function takes float images already brought to a display-referred 0..1 range (see :func:`display_unit`):
a scene-linear EXR compared as stored would let one bright highlight dominate the error, and E_warp is defined
on [0, 1] values. Each full-frame measure has an inside-the-hole variant (``mask``), because a fill only
changes the hole: averaged over the whole frame, a bad fill in a small hole looks like a good one.

E_warp follows Lai et al. 2018, "Learning Blind Video Temporal Consistency": frame t+1 is warped back to frame t
with optical flow, pixels that fail a forward-backward consistency check (occlusions, flow errors) are left out,
and E_warp is the mean squared difference over the remaining pixels; a sequence's E_warp is the mean over its
frame pairs. Flow comes from the reference (ground-truth) frames when there are any, so every result is judged
against the same true motion; without a reference it comes from the result itself, and in-hole E_warp then
measures flicker.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

#: Gaussian window of SSIM (Wang et al. 2004): 11x11, sigma 1.5, constants for a data range of 1.
_SSIM_SIGMA = 1.5
_SSIM_KSIZE = (11, 11)
_SSIM_C1 = (0.01 * 1.0) ** 2
_SSIM_C2 = (0.03 * 1.0) ** 2


def _as_float64(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    return image.astype(np.float64, copy=False)


def _check_pair(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    fa, fb = _as_float64(a), _as_float64(b)
    if fa.shape != fb.shape:
        raise ValueError(f"images differ in shape: {fa.shape} vs {fb.shape}")
    if mask is not None and np.asarray(mask).shape != fa.shape[:2]:
        raise ValueError(f"mask shape {np.asarray(mask).shape} does not match image {fa.shape[:2]}")
    return fa, fb


def display_unit(rgb: np.ndarray, colorspace: str | None = None) -> np.ndarray:
    """``rgb`` as float32 on [0, 1], display-encoded: what the metrics compare.

    With ``colorspace=None`` the values are taken as already display-encoded (sRGB PNGs) and only clipped.
    Otherwise they go through :func:`aifx_core.colour.to_model`, the same OCIO conversion (with its highlight
    roll-off for scene-linear plates) the fill models see, so HDR highlights do not dominate the error.
    NaN/Inf become 0 or 1.
    """
    values = np.nan_to_num(np.asarray(rgb, dtype=np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    if colorspace is not None:
        from .colour import to_model

        values = np.asarray(to_model(values, colorspace), dtype=np.float32)
    return np.clip(values, 0.0, 1.0)


# -- PSNR and SSIM ----------------------------------------------------------------------------------------


def mse(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean squared error over all channels, over ``mask`` pixels only when given (NaN for an empty mask)."""
    fa, fb = _check_pair(a, b, mask)
    diff = np.square(fa - fb)
    if mask is None:
        return float(diff.mean())
    sel = np.asarray(mask, dtype=bool)
    if not sel.any():
        return math.nan
    return float(diff[sel].mean())


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB; ``inf`` for identical images, NaN for an empty mask."""
    error = mse(a, b, mask)
    if math.isnan(error):
        return math.nan
    if error == 0.0:
        return math.inf
    return float(10.0 * math.log10(peak * peak / error))


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel SSIM (gaussian window, sigma 1.5), averaged over channels: (H, W).

    Computed in float32 (the variances of 0..1 data lose nothing that matters next to C2 = 9e-4) because it is
    the costliest measure on 1080p frames.
    """
    fa, fb = _check_pair(a, b, None)

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, _SSIM_KSIZE, _SSIM_SIGMA, borderType=cv2.BORDER_REFLECT)

    total = np.zeros(fa.shape[:2], np.float64)
    for c in range(fa.shape[-1]):
        x = np.ascontiguousarray(fa[..., c], dtype=np.float32)
        y = np.ascontiguousarray(fb[..., c], dtype=np.float32)
        mu_x, mu_y = blur(x), blur(y)
        var_x = blur(x * x) - mu_x * mu_x
        var_y = blur(y * y) - mu_y * mu_y
        cov = blur(x * y) - mu_x * mu_y
        num = (2.0 * mu_x * mu_y + _SSIM_C1) * (2.0 * cov + _SSIM_C2)
        den = (mu_x * mu_x + mu_y * mu_y + _SSIM_C1) * (var_x + var_y + _SSIM_C2)
        total += num / den
    return total / fa.shape[-1]


def ssim(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean SSIM of the channels; with ``mask``, the mean of the SSIM map over the mask (NaN if empty)."""
    if mask is not None:
        _check_pair(a, b, mask)
    values = ssim_map(a, b)
    if mask is None:
        return float(values.mean())
    sel = np.asarray(mask, dtype=bool)
    if not sel.any():
        return math.nan
    return float(values[sel].mean())


# -- Warping error ----------------------------------------------------------------------------------------


@dataclass
class Motion:
    """How frame t maps onto frame t+1: ``flow[y, x] = (dx, dy)`` such that pixel (x, y) of frame t is seen at
    (x + dx, y + dy) in frame t+1, and ``valid`` (H, W bool) where that passed the forward-backward check."""

    flow: np.ndarray
    valid: np.ndarray


def estimate_motion(frame_t: np.ndarray, frame_next: np.ndarray) -> Motion:
    """Flow from frame t to t+1 at full resolution and its forward-backward valid mask.

    Flow and warping are :mod:`aifx_core.flow`'s (OpenCV DIS on perceptual grey), the same the temporal
    engine uses, so there is one flow implementation in aifx. The occlusion test is the one E_warp is defined
    with (Lai et al. 2018, after Sundaram et al. 2010), not the engine's looser one:
    ``|F(x) + B(x + F(x))|^2 < 0.01 (|F(x)|^2 + |B(x + F(x))|^2) + 0.5``; pixels whose target leaves the frame
    are invalid too.
    """
    from .flow import estimate_flow, warp

    ft = np.clip(_as_float64(frame_t), 0.0, 1.0).astype(np.float32)
    fn = np.clip(_as_float64(frame_next), 0.0, 1.0).astype(np.float32)
    native = max(ft.shape[:2])
    forward = estimate_flow(ft, fn, max_side=native, complete=False)
    backward = estimate_flow(fn, ft, max_side=native, complete=False)
    back_at_target = warp(backward, forward)
    lhs = np.square(forward + back_at_target).sum(axis=-1)
    rhs = 0.01 * (np.square(forward).sum(axis=-1) + np.square(back_at_target).sum(axis=-1)) + 0.5
    h, w = forward.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    tx, ty = grid_x + forward[..., 0], grid_y + forward[..., 1]
    inside = (tx >= 0) & (tx <= w - 1) & (ty >= 0) & (ty <= h - 1)
    return Motion(flow=forward, valid=(lhs < rhs) & inside)


def warp_back(frame_next: np.ndarray, motion: Motion) -> np.ndarray:
    """Frame t+1 warped onto frame t's pixel grid (bilinear, edges replicated)."""
    from .flow import warp

    src = np.ascontiguousarray(_as_float64(frame_next).astype(np.float32))
    return warp(src, motion.flow).reshape(src.shape)


def warping_errors(
    frame_t: np.ndarray,
    frame_next: np.ndarray,
    motion: Motion | None = None,
    mask: np.ndarray | None = None,
) -> tuple[float, float]:
    """E_warp of one frame pair over the whole frame and inside ``mask`` (frame t's hole), warping once.

    Each is the mean squared difference between frame t and warped frame t+1 over the pixels that passed the
    consistency check (and are in the mask); NaN when no pixel qualifies (or no mask is given, for the second).
    ``motion`` defaults to flow estimated on this pair; pass the reference's motion to judge a result against
    the true motion.
    """
    ft, fn = _check_pair(frame_t, frame_next, mask)
    if motion is None:
        motion = estimate_motion(ft, fn)
    per_pixel = np.square(ft - warp_back(fn, motion).astype(np.float64)).mean(axis=-1)
    valid = motion.valid
    full = float(per_pixel[valid].mean()) if valid.any() else math.nan
    if mask is None:
        return full, math.nan
    inside = valid & np.asarray(mask, dtype=bool)
    return full, float(per_pixel[inside].mean()) if inside.any() else math.nan


def warping_error(
    frame_t: np.ndarray,
    frame_next: np.ndarray,
    motion: Motion | None = None,
    mask: np.ndarray | None = None,
) -> float:
    """E_warp of one frame pair (inside ``mask`` when given); see :func:`warping_errors`."""
    full, hole = warping_errors(frame_t, frame_next, motion, mask)
    return full if mask is None else hole


def nanmean(values: list[float]) -> float:
    """Mean of the finite-or-inf values that are not NaN (NaN when there are none); inf stays inf."""
    kept = [v for v in values if not math.isnan(v)]
    if not kept:
        return math.nan
    return float(np.mean(kept))


# -- Whole sequences, one frame at a time -----------------------------------------------------------------


@dataclass
class FrameScores:
    """Measures of one frame; the ``ewarp_*`` ones describe the pair (this frame, next frame)."""

    frame: int
    psnr: float = math.nan
    psnr_hole: float = math.nan
    ssim: float = math.nan
    ssim_hole: float = math.nan
    ewarp: float = math.nan
    ewarp_hole: float = math.nan

    def to_dict(self) -> dict[str, float | int | str | None]:
        return {k: json_number(v) for k, v in self.__dict__.items()}


def json_number(value: float | int) -> float | int | str | None:
    """A value strict JSON can hold: NaN (not measured) becomes null, infinity (identical images) "inf"."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


class SequenceScorer:
    """Scores a result sequence frame by frame, holding only the previous frame (so any length fits in memory).

    Call :meth:`add` in frame order with display-encoded 0..1 frames. With a ``reference`` the PSNR/SSIM are
    computed and E_warp uses the reference's motion; without one, only E_warp (on the result's own motion).
    ``motion_from_prev`` (previous frame -> this one) may be given to reuse flow computed once for several
    results of the same clip. In-hole E_warp of a pair uses the earlier frame's hole.

    ``step`` (the sequence's frame step, e.g. the smallest gap between the frames scored) leaves out pairs
    further apart: across a gap in the frames scored (``--frames 1001-1010,1020``) the picture has moved on,
    and that pair's error, counted as if the frames were neighbours, raised the sequence's E_warp.
    """

    def __init__(self, step: int | None = None) -> None:
        self.frames: list[FrameScores] = []
        self._prev: tuple[np.ndarray, np.ndarray | None, np.ndarray | None] | None = None
        self._step = step

    def add(
        self,
        frame: int,
        result: np.ndarray,
        reference: np.ndarray | None = None,
        hole: np.ndarray | None = None,
        motion_from_prev: Motion | None = None,
    ) -> FrameScores:
        scores = FrameScores(frame)
        has_hole = hole is not None and bool(np.any(hole))
        if reference is not None:
            scores.psnr = psnr(result, reference)
            values = ssim_map(result, reference)
            scores.ssim = float(values.mean())
            if has_hole:
                scores.psnr_hole = psnr(result, reference, hole)
                scores.ssim_hole = float(values[np.asarray(hole, dtype=bool)].mean())
        if self._prev is not None and (self._step is None or frame - self.frames[-1].frame <= self._step):
            prev_result, prev_reference, prev_hole = self._prev
            motion = motion_from_prev
            if motion is None:
                source = (
                    (prev_reference, reference)
                    if reference is not None and prev_reference is not None
                    else None
                )
                motion = estimate_motion(*source) if source else estimate_motion(prev_result, result)
            previous = self.frames[-1]
            previous.ewarp, previous.ewarp_hole = warping_errors(prev_result, result, motion, prev_hole)
        self._prev = (result, reference, hole)
        self.frames.append(scores)
        return scores

    def summary(self) -> dict[str, float]:
        """Sequence means (NaN-skipping); E_warp is the mean over frame pairs.

        A frame identical to the reference has an infinite PSNR (nothing was filled there, e.g. the object
        covered the whole hole); it says nothing about fill quality, so PSNR means skip such frames unless
        every frame is identical.
        """
        names = ("psnr", "psnr_hole", "ssim", "ssim_hole", "ewarp", "ewarp_hole")
        summary = {name: nanmean([getattr(f, name) for f in self.frames]) for name in names}
        for name in ("psnr", "psnr_hole"):
            finite = [getattr(f, name) for f in self.frames if math.isfinite(getattr(f, name))]
            if finite:
                summary[name] = nanmean(finite)
        return summary
