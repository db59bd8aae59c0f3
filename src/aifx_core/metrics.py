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
    """Per-pixel SSIM (gaussian window, sigma 1.5), averaged over channels: (H, W) float64."""
    fa, fb = _check_pair(a, b, None)

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, _SSIM_KSIZE, _SSIM_SIGMA, borderType=cv2.BORDER_REFLECT)

    maps = []
    for c in range(fa.shape[-1]):
        x = np.ascontiguousarray(fa[..., c])
        y = np.ascontiguousarray(fb[..., c])
        mu_x, mu_y = blur(x), blur(y)
        var_x = blur(x * x) - mu_x * mu_x
        var_y = blur(y * y) - mu_y * mu_y
        cov = blur(x * y) - mu_x * mu_y
        num = (2.0 * mu_x * mu_y + _SSIM_C1) * (2.0 * cov + _SSIM_C2)
        den = (mu_x * mu_x + mu_y * mu_y + _SSIM_C1) * (var_x + var_y + _SSIM_C2)
        maps.append(num / den)
    return np.mean(maps, axis=0)


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


def _gray8(image: np.ndarray) -> np.ndarray:
    unit = np.clip(_as_float64(image), 0.0, 1.0)
    gray = unit.mean(axis=-1)
    return np.ascontiguousarray(np.rint(gray * 255.0).astype(np.uint8))


def _dis() -> cv2.DISOpticalFlow:
    flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return flow


def _sample(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``image`` looked up at (x + dx, y + dy): bilinear, edges replicated."""
    h, w = flow.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    map_x = grid_x + flow[..., 0]
    map_y = grid_y + flow[..., 1]
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def estimate_motion(frame_t: np.ndarray, frame_next: np.ndarray) -> Motion:
    """Flow from frame t to t+1 (OpenCV DIS on display-encoded grey) and its forward-backward valid mask.

    The check is Sundaram et al. 2010's, as used for E_warp's occlusion masks:
    ``|F(x) + B(x + F(x))|^2 < 0.01 (|F(x)|^2 + |B(x + F(x))|^2) + 0.5``; pixels whose target leaves the frame
    are invalid too.
    """
    g0, g1 = _gray8(frame_t), _gray8(frame_next)
    dis = _dis()
    forward = dis.calc(g0, g1, None)
    backward = dis.calc(g1, g0, None)
    back_at_target = _sample(backward, forward)
    loop = forward + back_at_target
    lhs = np.square(loop).sum(axis=-1)
    rhs = 0.01 * (np.square(forward).sum(axis=-1) + np.square(back_at_target).sum(axis=-1)) + 0.5
    h, w = forward.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    tx, ty = grid_x + forward[..., 0], grid_y + forward[..., 1]
    inside = (tx >= 0) & (tx <= w - 1) & (ty >= 0) & (ty <= h - 1)
    return Motion(flow=forward, valid=(lhs < rhs) & inside)


def warp_back(frame_next: np.ndarray, motion: Motion) -> np.ndarray:
    """Frame t+1 warped onto frame t's pixel grid."""
    src = np.ascontiguousarray(_as_float64(frame_next).astype(np.float32))
    warped = _sample(src, motion.flow)
    return warped.reshape(src.shape)


def warping_error(
    frame_t: np.ndarray,
    frame_next: np.ndarray,
    motion: Motion | None = None,
    mask: np.ndarray | None = None,
) -> float:
    """E_warp of one frame pair: mean squared difference between frame t and warped frame t+1 over the
    pixels that are valid (and inside ``mask``, frame t's hole, when given). NaN when no pixel qualifies.

    ``motion`` defaults to flow estimated on this pair; pass the reference's motion to judge a result
    against the true motion.
    """
    ft, fn = _check_pair(frame_t, frame_next, mask)
    if motion is None:
        motion = estimate_motion(ft, fn)
    valid = motion.valid
    if mask is not None:
        valid = valid & np.asarray(mask, dtype=bool)
    if not valid.any():
        return math.nan
    diff = np.square(ft - warp_back(fn, motion).astype(np.float64))
    return float(diff[valid].mean())


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
    ``motion`` may be given to reuse flow computed once for several results of the same clip.
    """

    def __init__(self) -> None:
        self.frames: list[FrameScores] = []
        self._prev: tuple[np.ndarray, np.ndarray | None, np.ndarray | None] | None = None

    def add(
        self,
        frame: int,
        result: np.ndarray,
        reference: np.ndarray | None = None,
        hole: np.ndarray | None = None,
        motion_from_prev: Motion | None = None,
    ) -> FrameScores:
        scores = FrameScores(frame)
        if reference is not None:
            scores.psnr = psnr(result, reference)
            scores.ssim = ssim(result, reference)
            if hole is not None and np.any(hole):
                scores.psnr_hole = psnr(result, reference, hole)
                scores.ssim_hole = ssim(result, reference, hole)
        if self._prev is not None:
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
            previous.ewarp = warping_error(prev_result, result, motion)
            if prev_hole is not None and np.any(prev_hole):
                previous.ewarp_hole = warping_error(prev_result, result, motion, prev_hole)
        self._prev = (result, reference, hole)
        self.frames.append(scores)
        return scores

    def summary(self) -> dict[str, float]:
        """Sequence means (NaN-skipping); E_warp is the mean over frame pairs."""
        names = ("psnr", "psnr_hole", "ssim", "ssim_hole", "ewarp", "ewarp_hole")
        return {name: nanmean([getattr(f, name) for f in self.frames]) for name in names}
