"""Write a fill into a frame without touching anything it should not.

Only the colour channels change (the main layer's; in a file without one, the beauty layer's:
:meth:`.Image.colour_names`), and only where the weight is above 0. Everywhere else the
output arrays hold the input's values bit for bit, in their stored dtype: NaN, Inf, negatives, values above 1,
alpha, depth and every other layer. That is the promise that lets a compositor drop an aifx result over the
plate without a second matte.
"""

from __future__ import annotations

import numpy as np

from .sequence.image import Image, from_float, to_float


def composite(original: Image, fill_rgb: np.ndarray, weight: np.ndarray) -> Image:
    """``original`` with ``fill_rgb`` blended in: ``out = orig·(1-w) + fill·w`` where ``w > 0``.

    ``fill_rgb`` is float32 (H, W, 3) in the plate's values (a luminance-only plate gets the mean of the three
    channels); ``weight`` is float32 (H, W), see :func:`aifx_core.mask.feather_weight`. The blend is done in
    float32 and stored back in each channel's dtype (8/16-bit rounded and clipped). Where ``w >= 1`` the fill
    replaces the plate outright, and a non-finite plate value inside the weight (NaN/Inf the backend could not
    use) is replaced by the fill rather than spreading into it. Other channels and the header are passed on
    as the same objects.
    """
    names = original.colour_names()
    height, width = original.shape
    fill = np.asarray(fill_rgb)
    if fill.shape != (height, width, 3):
        raise ValueError(
            f"fill is {fill.shape}, expected {(height, width, 3)} for {original.source or 'frame'}"
        )
    weight = np.asarray(weight)
    if weight.shape != (height, width):
        raise ValueError(f"weight is {weight.shape}, expected {(height, width)}")
    region = weight > 0  # NaN weights count as 0
    if not region.any():
        return original.with_channels({})

    w = weight[region].astype(np.float32)
    fill_at = fill[region].astype(np.float32)  # (n, 3)
    planes = [fill_at[:, i] for i in range(3)] if len(names) == 3 else [fill_at.mean(axis=1)]
    updates: dict[str, np.ndarray] = {}
    for name, new in zip(names, planes, strict=True):
        stored = original.channels[name]
        old = to_float(stored[region])
        replace = (w >= 1.0) | ~np.isfinite(old)
        blended = np.where(replace, 0.0, old) * (1.0 - w) + new * w
        blended = np.where(replace, new, blended).astype(np.float32)
        out = stored.copy()
        with np.errstate(over="ignore"):  # a half channel keeps fills above 65504 as Inf, like any half write
            out[region] = from_float(blended, stored.dtype)
        updates[name] = out
    return original.with_channels(updates)
