"""Optical flow estimators (pluggable) and the preparation of plate frames for them.

Flow is estimated on an 8-bit perceptual grey image at a working resolution (long side ≤ ``max_side``), with
the hole pre-filled smoothly, so that neither HDR highlights nor the object being removed drive the motion
estimate; the result is completed inside the hole (:mod:`.completion`) and returned in full-resolution pixels.
"""

from __future__ import annotations

import hashlib
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from ..errors import InputError
from .completion import complete_flow
from .fill import push_pull_fill
from .motion import fit_homography, homography_flow
from .ops import float_grid, luma

#: DIS presets by name. ``medium`` measured best for propagation quality per second (see docs/method.md).
DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


_DIS_MIN_SIDE = 16

#: What DIS changes on a slow pair (a global motion found and under ``prealign_px``: not pre-aligned), by preset:
#: (patch stride, variational refinement iterations) instead of the preset's own (``medium``: 3 and 5). A pair
#: that moves a few pixels is DIS's home ground, where a sparser patch grid finds the same motion at ~75 % of the
#: cost (432x240: 10.7 -> 8.2 ms a call); pre-aligned (fast) pairs, and pairs whose global motion is unknown,
#: keep the preset. Fewer refinement iterations or a stride of 5 cost the crossing objects' cases 0.15-1.3 dB
#: (docs/method.md, "Speed, eleventh pass").
SLOW_SETTINGS: dict[str, tuple[int, int]] = {"medium": (4, 5)}


@runtime_checkable
class FlowEstimator(Protocol):
    """Anything that turns two same-sized uint8 grey images into an A→B flow (H, W, 2) float32 in pixels."""

    def estimate(self, a_gray: np.ndarray, b_gray: np.ndarray) -> np.ndarray: ...


class DISFlow:
    """OpenCV's Dense Inverse Search: CPU-only, no weights, tens of milliseconds per 1K frame.

    ``prealign`` (default on): DIS finds motions of a few pixels per pyramid level; a camera whipping at 30 px
    a frame over motion-blurred plates breaks it. So the global motion is found first from features (ORB
    corners matched both ways, RANSAC homography: :func:`global_motion`), ``b`` is warped onto ``a`` with it,
    DIS estimates only the small residual, and the two are composed. Used when the global motion is at least
    ``prealign_px`` working pixels (slower shots are DIS's home ground and stay as they were). The global
    motion is first sought as a translation by phase correlation of thumbnails (a fraction of a millisecond;
    blur does not disturb it, both frames carry it); only when that has no clear peak are features matched.
    ``slow`` (the propagate engine's; off by default, so that the benchmark's E_warp and any other caller keep
    the preset's flow): a pair whose global motion is found and under ``prealign_px`` runs DIS with the preset's
    :data:`SLOW_SETTINGS`, decided from the two images alone, so each pair's flow stays a function of its two
    frames, whatever the window.
    """

    def __init__(
        self, preset: str = "medium", *, prealign: bool = True, prealign_px: float = 4.0, slow: bool = False
    ) -> None:
        if preset not in DIS_PRESETS:
            raise InputError(f"flow preset {preset!r} is unknown; choose one of {', '.join(DIS_PRESETS)}")
        self.preset = preset
        self.prealign = prealign
        self.prealign_px = prealign_px
        #: The settings slow pairs run with (:data:`SLOW_SETTINGS`), None where they keep the preset.
        self.slow = SLOW_SETTINGS.get(preset) if slow and prealign else None
        self._dis = cv2.DISOpticalFlow_create(DIS_PRESETS[preset])  # type: ignore[attr-defined]
        self._slow_dis = None
        if self.slow is not None:
            stride, refine = self.slow
            self._slow_dis = cv2.DISOpticalFlow_create(DIS_PRESETS[preset])  # type: ignore[attr-defined]
            self._slow_dis.setPatchStride(stride)
            self._slow_dis.setVariationalRefinementIterations(refine)
        self._features = _FeatureCache()
        #: The last translations :meth:`translation` found, with the very images they were found for.
        self._translations: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []

    def estimate(self, a_gray: np.ndarray, b_gray: np.ndarray) -> np.ndarray:
        if self.prealign and min(a_gray.shape[:2]) >= 64:
            matrix = self.translation(a_gray, b_gray)
            if (
                matrix is None
            ):  # no single clear translation (zoom, rotation, little texture): ask the features
                matrix = global_motion(a_gray, b_gray, self._features)
            if matrix is not None:
                if _mean_displacement(matrix, a_gray.shape[:2]) >= self.prealign_px:
                    return self._prealigned(a_gray, b_gray, matrix)
                if self._slow_dis is not None:
                    return self._slow_dis.calc(a_gray, b_gray, None)  # (sides of 64 and more: no padding)
        return self._calc(a_gray, b_gray)

    def translation(self, a_gray: np.ndarray, b_gray: np.ndarray) -> np.ndarray | None:
        """:func:`thumbnail_translation` of the two images, kept for the last two pairs asked (by the images'
        identity, never their ids: the same arrays give the same answer, and a pair's flows ask it twice)."""
        for a, b, matrix in self._translations:
            if a is a_gray and b is b_gray:
                return None if matrix is None else matrix.copy()
        matrix = thumbnail_translation(a_gray, b_gray)
        self._translations = [
            *self._translations[-1:],
            (a_gray, b_gray, None if matrix is None else matrix.copy()),
        ]
        return matrix

    def global_motions(self, a_gray: np.ndarray, b_gray: np.ndarray) -> list[np.ndarray]:
        """The pair's global motions as homographies, each a guess of its own: the matched features' motion
        (:func:`global_motion`: the more precise where found) and the thumbnails' translation
        (:meth:`translation`); none for images too small to pre-align."""
        if min(a_gray.shape[:2]) < 64:
            return []
        found = [global_motion(a_gray, b_gray, self._features), self.translation(a_gray, b_gray)]
        return [m for m in found if m is not None]

    def aligned(self, a_gray: np.ndarray, b_gray: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        """DIS with ``b`` pre-aligned onto ``a`` by the homography ``matrix`` whatever its size (the estimate's
        pre-alignment, asked for): the flow of a pair whose own estimate is doubted (a repetitive texture:
        ``propagate.pair_flow.estimate_pair``)."""
        return self._prealigned(a_gray, b_gray, matrix)

    def _prealigned(self, a_gray: np.ndarray, b_gray: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        """DIS on ``a`` and ``b`` warped onto ``a`` by ``matrix``; the residual composed with the homography."""
        height, width = a_gray.shape[:2]
        if np.allclose(matrix[2], (0.0, 0.0, 1.0)) and np.allclose(matrix[:2, :2], np.eye(2)):
            # A translation (what phase correlation finds): x + r in the shifted b is x + r + t in b.
            shift = matrix[:2, 2]
            moved = np.array([[1.0, 0.0, shift[0]], [0.0, 1.0, shift[1]]], np.float64)
            warped = cv2.warpAffine(
                b_gray,
                moved,
                (width, height),
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_REPLICATE,
            )
            residual = self._calc(a_gray, warped)
            residual += shift.astype(np.float32)
            return residual
        warped = cv2.warpPerspective(
            b_gray,
            matrix,
            (width, height),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
        residual = self._calc(a_gray, warped)
        ys, xs = float_grid(0, height, 0, width)
        # Pixel x of a matches x + r in the warped b, which is H(x + r) in b: flow = H(x + r) - x.
        px, py = xs + residual[..., 0], ys + residual[..., 1]
        return (homography_flow(matrix, px, py) + residual).astype(np.float32)

    def _calc(self, a_gray: np.ndarray, b_gray: np.ndarray) -> np.ndarray:
        height, width = a_gray.shape[:2]
        if min(height, width) >= _DIS_MIN_SIDE:
            return self._dis.calc(a_gray, b_gray, None)
        # DIS refuses tiny images (a side under 12 px): pad by edge replication, then crop the flow back.
        pad_y, pad_x = max(0, _DIS_MIN_SIDE - height), max(0, _DIS_MIN_SIDE - width)
        a = cv2.copyMakeBorder(a_gray, 0, pad_y, 0, pad_x, cv2.BORDER_REPLICATE)
        b = cv2.copyMakeBorder(b_gray, 0, pad_y, 0, pad_x, cv2.BORDER_REPLICATE)
        return np.ascontiguousarray(self._dis.calc(a, b, None)[:height, :width])


class _FeatureCache:
    """ORB keypoints and descriptors of the last few images, keyed by content (each frame is used by two
    pairs and both directions: detecting once saves three detections; a content key keeps it exact)."""

    #: Features are detected on images with a long side up to this (enough for a global motion; cheaper).
    max_side = 480

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self.entries: dict[bytes, tuple[np.ndarray, np.ndarray | None]] = {}
        self.orb = cv2.ORB_create(  # type: ignore[attr-defined]  # in OpenCV, not in its stubs
            nfeatures=600, scaleFactor=1.3, nlevels=4, edgeThreshold=15, fastThreshold=5
        )

    def __call__(self, gray: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        key = hashlib.blake2b(np.ascontiguousarray(gray).data, digest_size=16).digest() + bytes(
            str(gray.shape), "ascii"
        )
        if key not in self.entries:
            height, width = gray.shape[:2]
            scale = min(1.0, self.max_side / max(height, width))
            small = (
                gray
                if scale == 1.0
                else cv2.resize(
                    gray, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA
                )
            )
            keypoints, descriptors = self.orb.detectAndCompute(small, None)
            points = np.array([k.pt for k in keypoints], np.float32).reshape(-1, 2) / np.float32(scale)
            if len(self.entries) >= self.size:
                self.entries.pop(next(iter(self.entries)))
            self.entries[key] = (points, descriptors)
        return self.entries[key]


def global_motion(
    a_gray: np.ndarray, b_gray: np.ndarray, features: _FeatureCache | None = None, *, ransac_px: float = 2.0
) -> np.ndarray | None:
    """The dominant (camera) motion a → b as a homography; None if the images do not agree on one.

    From ORB features matched both ways (RANSAC; at least 15 consistent matches, a third of all). Heavy motion
    blur leaves few corners; then the translation found by phase correlation (both frames carry the same blur,
    which a correlation does not mind) is used when its peak is clear.
    """
    features = features or _FeatureCache()
    points_a, desc_a = features(a_gray)
    points_b, desc_b = features(b_gray)
    if desc_a is not None and desc_b is not None and len(points_a) >= 20 and len(points_b) >= 20:
        matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(desc_a, desc_b)
        if len(matches) >= 20:
            matches = sorted(matches, key=lambda m: (m.distance, m.queryIdx))  # deterministic order
            src = points_a[[m.queryIdx for m in matches]]
            dst = points_b[[m.trainIdx for m in matches]]
            matrix, inliers = fit_homography(src, dst, ransac_px)
            if matrix is not None and inliers.sum() >= 15 and inliers.mean() >= 1 / 3:
                return matrix
    return _phase_translation(a_gray, b_gray)


#: Phase-correlation peak (0..1) below which the translation is not trusted.
PHASE_MIN_RESPONSE = 0.15


def thumbnail_translation(a_gray: np.ndarray, b_gray: np.ndarray, side: int = 160) -> np.ndarray | None:
    """The translation a → b (as a homography) from a phase correlation of thumbnails (long side ``side``;
    DIS refines what that misses); None when the peak is weak (no single dominant translation)."""
    height, width = a_gray.shape[:2]
    scale = min(1.0, side / max(height, width))
    size = (max(8, round(width * scale)), max(8, round(height * scale)))
    a, b = (cv2.resize(g, size, interpolation=cv2.INTER_AREA).astype(np.float32) for g in (a_gray, b_gray))
    matrix = _phase_translation(a, b)
    if matrix is not None:
        matrix[0, 2] *= width / size[0]
        matrix[1, 2] *= height / size[1]
    return matrix


def _phase_translation(a_gray: np.ndarray, b_gray: np.ndarray) -> np.ndarray | None:
    """The translation a → b by phase correlation (Hann-windowed), as a homography; None if the peak is weak."""
    height, width = a_gray.shape[:2]
    window = cv2.createHanningWindow((width, height), cv2.CV_32F)
    (dx, dy), response = cv2.phaseCorrelate(a_gray.astype(np.float32), b_gray.astype(np.float32), window)
    if not (response >= PHASE_MIN_RESPONSE and np.isfinite(dx) and np.isfinite(dy)):
        return None
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


def _mean_displacement(matrix: np.ndarray, shape: tuple[int, ...]) -> float:
    """Mean displacement (px) a homography gives the corners and centre of an image of ``shape``."""
    height, width = shape[:2]
    xs = np.array([0, width - 1, 0, width - 1, width / 2], np.float32)
    ys = np.array([0, 0, height - 1, height - 1, height / 2], np.float32)
    return float(np.hypot(*homography_flow(matrix, xs, ys).T).mean())


def working_size(height: int, width: int, max_side: int) -> tuple[int, int]:
    """(height, width) at which flow is computed: native up to ``max_side``, else scaled down."""
    scale = min(1.0, max_side / max(height, width))
    return max(8, round(height * scale)), max(8, round(width * scale))


def _tone_map(rgb: np.ndarray, colorspace: str | None) -> np.ndarray:
    """Float RGB as stored → perceptual 0..1 values: aifx's model space if colour.py can, else a soft log."""
    if colorspace is not None:
        table = _half_table(colorspace)
        if table is not None:
            bits = _half_bits(rgb)
            if bits is not None:  # every value a half: look it up
                return np.take(table, bits)
        try:
            from ..colour import to_model

            return np.clip(to_model(rgb, colorspace), 0.0, 1.0)
        except Exception:  # noqa: BLE001 - colour module missing or colourspace unknown: fall back
            pass
    clean = np.nan_to_num(np.maximum(rgb, 0.0), nan=0.0, posinf=64.0)
    if clean.max(initial=0.0) <= 1.0:
        return clean  # looks display-referred already
    return np.log1p(16.0 * clean) / np.log1p(16.0 * 64.0)


def _half_bits(rgb: np.ndarray) -> np.ndarray | None:
    """The half-float bits (uint16) of every value of float32 ``rgb`` when each is exactly a half, else None (a
    NaN never is; a value beyond half's range becomes inf, which is not it either).

    A value that is a half converts to it and back to itself under any rounding, so only the check matters:
    OpenCV's ``convertFp16`` (the CPU's F16C instructions) does both conversions in ~0.03 ms a 432x240 frame
    where NumPy's ``astype(float16)`` and back took ~1.1 (it converts in software); NumPy where OpenCV lacks it.
    """
    convert = getattr(cv2, "convertFp16", None)
    if convert is not None and rgb.dtype == np.float32 and rgb.flags.c_contiguous and rgb.size:
        bits = convert(rgb)
        back = convert(bits)
        if bits.shape == rgb.shape and back.shape == rgb.shape:  # (else OpenCV folded an axis: not expected)
            return bits.view(np.uint16) if np.array_equal(back, rgb) else None
    with np.errstate(over="ignore"):
        half = rgb.astype(np.float16)
    return half.view(np.uint16) if np.array_equal(half.astype(np.float32), rgb) else None


#: :func:`_half_table` by colourspace (None: no table for it).
_HALF_TABLES: dict[str, np.ndarray | None] = {}


def _half_table(colorspace: str) -> np.ndarray | None:
    """The tone map of every half-float value (65536 float32, indexed by the half's bits), for a colourspace
    whose conversion to model space works on each value alone; None for any other.

    Half-float plates (the usual EXR) hold at most 65536 distinct values, and the tone map of a 432x240 frame
    (the sRGB curve's power on every value) cost ~4-9 ms a frame; a lookup costs well under one. The table is
    the same functions on the same float32 values, so it gives the same bits: a colourspace qualifies only
    when its OCIO step is a no-op (a matrix or LUT mixes channels, or may round differently in OCIO's
    vectorised and scalar paths), so what is left is NumPy element by element (tested against the direct
    path on every half value).
    """
    if colorspace not in _HALF_TABLES:
        table = None
        try:
            from ..colour import is_elementwise, to_model

            if is_elementwise(colorspace):
                values = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16)
                padded = np.zeros(3 * 21846, np.float32)  # (to_model takes RGB triplets: 65538 values)
                padded[: 1 << 16] = values
                with np.errstate(all="ignore"):
                    table = np.clip(to_model(padded.reshape(-1, 3), colorspace), 0.0, 1.0).ravel()[: 1 << 16]
                table = np.ascontiguousarray(table, dtype=np.float32)
        except Exception:  # noqa: BLE001 - colour module missing or colourspace unknown: the direct path
            table = None
        _HALF_TABLES[colorspace] = table
    return _HALF_TABLES[colorspace]


def flow_gray(
    rgb: np.ndarray,
    hole: np.ndarray | None,
    size: tuple[int, int],
    colorspace: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Frame (float RGB as stored, or uint8 grey) → (uint8 grey at ``size`` with the hole pre-filled, bool hole).

    The hole is dilated by 4 working pixels so the object's fringe does not leak into the flow either.
    """
    height, width = size
    small = rgb if rgb.shape[:2] == size else cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
    if small.ndim == 2 and small.dtype == np.uint8:
        gray = small.astype(np.float32) / 255.0
    else:
        tone = _tone_map(np.asarray(small, dtype=np.float32), colorspace)
        gray = luma(tone).astype(np.float32, copy=False)
    if hole is None or not hole.any():
        small_hole = np.zeros(size, dtype=bool)
    else:
        h8 = cv2.resize(hole.astype(np.uint8) * 255, (width, height), interpolation=cv2.INTER_AREA) > 0
        small_hole = cv2.dilate(h8.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
        gray = push_pull_fill(gray, ~small_hole, smooth=True)
    return np.clip(np.rint(gray * 255.0), 0, 255).astype(np.uint8), small_hole


def estimate_flow(
    a: np.ndarray,
    b: np.ndarray,
    *,
    hole_a: np.ndarray | None = None,
    hole_b: np.ndarray | None = None,
    estimator: FlowEstimator | None = None,
    max_side: int = 960,
    colorspace: str | None = None,
    complete: bool = True,
) -> np.ndarray:
    """Flow from frame ``a`` to frame ``b`` (H, W, 2) float32 in pixels of the input resolution.

    ``a``/``b`` are float RGB as stored (or uint8 grey). Inside ``hole_a`` ∪ ``hole_b`` the flow is the
    background's motion (completed from around the union), not the removed object's: pixels of ``a`` that land
    in ``b``'s hole would otherwise follow the pre-filled blob.
    """
    height, width = a.shape[:2]
    size = working_size(height, width, max_side)
    ga, ha = flow_gray(a, hole_a, size, colorspace)
    gb, hb = flow_gray(b, hole_b, size, colorspace)
    flow = (estimator or DISFlow()).estimate(ga, gb)
    if complete and (ha.any() or hb.any()):
        flow = complete_flow(flow, ha | hb)
    return upscale_flow(flow, (height, width))


def upscale_flow(flow: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a flow field to ``size`` (height, width) and rescale its vectors to the new pixel units."""
    height, width = size
    if flow.shape[:2] == size:
        return flow
    sy, sx = height / flow.shape[0], width / flow.shape[1]
    big: np.ndarray = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
    big[..., 0] *= sx
    big[..., 1] *= sy
    return big
