"""Stage 5's guard against a matte that is a little tight: the object's soft edge left on the seam ring.

A soft or motion-blurred edge, or a matte drawn a pixel or two inside the object, leaves a *halo* of the
object's colour on the plate just outside the hole. Propagation fetches the clean background for the ring (the
object has moved on in the other frames), so the ring's real-minus-fetched difference is the halo, all round the
hole, and the seam offset (:func:`.seam.seam_match`) would spread it into the whole fill: an object-coloured
ghost travelling with the object. The ring check (:func:`.seam.ring_share`) would also read it as propagation
getting the ring wrong and hand the hole to the frame's spatial fill, which is halo-tinted too.

A light change (flicker, a cloud, a shadow over the hole) is flat across a few pixels; an edge halo fades with
the distance from the object. So the difference is also measured on a band just beyond the ring
(:data:`BAND_PX` more pixels, fetched the same way): where the ring's difference (per distance from the hole,
averaged locally) departs from the band's by more than :data:`HALO_LOW` .. :data:`HALO_HIGH` of the frame's level
*and* is the larger of the two, the excess is the object's edge and is taken out of the ring's real values
before the seam and the ring check read them, where that holds round most of the ring (:data:`SHARE_LOW`):
a halo all round the hole is the masked object's, an edge on one side may be an unmasked object passing by.
Only ever towards the smaller correction: where the band differs
more than the ring (something in the band), nothing changes. The band is fetched only where that share test
could pass whatever the band holds (:func:`suspect`): most frames' rings differ on one side at most.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..flow.ops import largest_channel
from .fallback import smoothstep

#: The band beyond the seam ring the halo check fetches (pixels). 0: off.
BAND_PX = 3
#: The ring's local difference in excess of the band's (largest channel, relative to the frame's level) at which
#: the excess starts being taken for the object's edge, and at and above which it wholly is.
HALO_LOW = 0.01
HALO_HIGH = 0.03
#: The share of the ring (its found pixels, weighted as above) showing a halo at which the halo starts being
#: taken out, and at and above which it wholly is: a halo round most of the hole is the matte's object's (the
#: repro clips: 0.63-1; crosser's moving blob, a ball passing the hole's side: 0.02-0.58).
SHARE_LOW = 0.5
SHARE_HIGH = 0.8


def band(hole: np.ndarray, invalid: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(ys, xs) of the valid pixels more than ``width`` and at most ``width + BAND_PX`` from the hole."""
    ys, xs = np.nonzero(hole)
    if len(ys) == 0 or BAND_PX <= 0:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    pad = width + BAND_PX + 1
    y0, y1 = max(0, ys.min() - pad), min(hole.shape[0], ys.max() + pad + 1)
    x0, x1 = max(0, xs.min() - pad), min(hole.shape[1], xs.max() + pad + 1)
    crop = hole[y0:y1, x0:x1].astype(np.uint8)

    def grown(w: int) -> np.ndarray:
        if w == 0:
            return crop > 0
        return cv2.dilate(crop, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * w + 1, 2 * w + 1))) > 0

    around = grown(width + BAND_PX) & ~grown(width) & ~invalid[y0:y1, x0:x1]
    by, bx = np.nonzero(around)
    return by + y0, bx + x0


def suspect(ring_ys: np.ndarray, ring_xs: np.ndarray, diff: np.ndarray, scale: float, width: int) -> bool:
    """Whether :func:`without_halo` could take anything out of this ring whatever the band holds: only then is
    the band fetched and fused (doing that on every frame cost a tennis fill 10 % of its CPU, for nothing).

    Decided from the ring alone (``diff``: real − fetched at its found pixels), and never wrong: where the
    ring's local mean difference is the larger, its excess over the band's is at most twice it
    (|inner − outer| ≤ |inner| + |outer|), so each pixel's weight is at most ``smoothstep(HALO_LOW, HALO_HIGH,
    2 |inner|)``, and unless those bounds' mean round the ring passes :data:`SHARE_LOW` the share test leaves
    the ring as it is. A difference on one side only (something passing by, a shadow) fetches nothing."""
    if BAND_PX <= 0 or len(ring_ys) == 0:
        return False
    local = _local_means(ring_ys, ring_xs, diff, [np.ones(len(ring_ys), bool)], width)[0]
    most = smoothstep(HALO_LOW, HALO_HIGH, 2.0 * largest_channel(np.abs(local)) / max(scale, 1e-6))
    return bool(most.mean() > SHARE_LOW)


def without_halo(
    hole: np.ndarray,
    ring_ys: np.ndarray,
    ring_xs: np.ndarray,
    real: np.ndarray,
    ring_diff: np.ndarray,
    ring_found: np.ndarray,
    band_ys: np.ndarray,
    band_xs: np.ndarray,
    band_diff: np.ndarray,
    scale: float,
    width: int,
) -> np.ndarray:
    """The ring's ``real`` values (N_ring, 3) with the object's soft edge taken out (see the module docstring).

    ``ring_diff``: real − fetched on the ring (``ring_found``: where propagation found something); ``band_ys``,
    ``band_xs``, ``band_diff``: the same at the band's found pixels. Outliers count on both sides: something
    unmasked crossing the ring crosses the band too and is left alone, a halo fades before the band.
    """
    if len(band_ys) == 0 or not ring_found.any():
        return real
    ys = np.concatenate([ring_ys[ring_found], band_ys])
    xs = np.concatenate([ring_xs[ring_found], band_xs])
    diff = np.concatenate([ring_diff[ring_found], band_diff]).astype(np.float32)
    n = int(ring_found.sum())
    means = _local_means(ys, xs, diff, [np.arange(len(ys)) < n, np.arange(len(ys)) >= n], width)
    inner, outer = means[0][:n], means[1][:n]
    level = max(scale, 1e-6)
    excess = largest_channel(np.abs(inner - outer)) / level
    larger = largest_channel(np.abs(inner)) > largest_channel(np.abs(outer))
    weight = np.where(larger, smoothstep(HALO_LOW, HALO_HIGH, excess), 0.0).astype(np.float32)
    # A tight matte leaves its halo round most of the hole; an unmasked object's soft edge touching one side of
    # the ring (a ball passing by) looks the same there, and the ring check must still see it.
    weight *= smoothstep(SHARE_LOW, SHARE_HIGH, np.asarray(weight.mean()))
    if not weight.any():
        return real
    # Taken out per shell: what the ring's pixels at this distance show beyond the band, locally. Each ring
    # pixel's distance from the hole, in whole pixels (1 .. width): the halo fades with it.
    shell = np.zeros(len(ys), np.intp)
    shell[:n] = _shells(hole, ring_ys[ring_found], ring_xs[ring_found], width)
    per_shell = _local_means(ys, xs, diff, [shell == d for d in range(1, width + 1)], width)
    own = np.stack([per_shell[d - 1][np.arange(n), :] for d in range(1, width + 1)])
    halo = own[shell[:n] - 1, np.arange(n)] - outer
    out = real.copy()
    out[ring_found] = real[ring_found] - weight[:, None] * halo
    return out


def _shells(hole: np.ndarray, ys: np.ndarray, xs: np.ndarray, width: int) -> np.ndarray:
    """Distance (whole pixels, 1 .. ``width``) of each point from the hole."""
    pad = width + 2
    y0, y1 = max(0, int(ys.min()) - pad), min(hole.shape[0], int(ys.max()) + pad + 1)
    x0, x1 = max(0, int(xs.min()) - pad), min(hole.shape[1], int(xs.max()) + pad + 1)
    outside = (~hole[y0:y1, x0:x1]).astype(np.uint8)
    distance = cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return np.clip(np.ceil(distance[ys - y0, xs - x0] - 0.5), 1, width).astype(np.intp)


def _local_means(
    ys: np.ndarray, xs: np.ndarray, values: np.ndarray, groups: list[np.ndarray], width: int
) -> list[np.ndarray]:
    """Per group (a bool mask over the points): the mean of ``values`` (N, 3) over the group's points within
    ``width + BAND_PX + 1`` pixels (a box), at every point (N, 3); 0 where the group has none near."""
    radius = width + BAND_PX + 1
    y0, x0 = int(ys.min()), int(xs.min())
    shape = (int(ys.max()) - y0 + 1, int(xs.max()) - x0 + 1)
    size = (2 * radius + 1, 2 * radius + 1)
    out = []
    for group in groups:
        image = np.zeros((*shape, 4), np.float32)
        image[ys[group] - y0, xs[group] - x0, :3] = values[group]
        image[ys[group] - y0, xs[group] - x0, 3] = 1.0
        box = cv2.blur(image, size, borderType=cv2.BORDER_CONSTANT)[ys - y0, xs - x0]
        out.append(np.where(box[:, 3:] > 1e-6, box[:, :3] / np.maximum(box[:, 3:], 1e-6), 0.0))
    return out
