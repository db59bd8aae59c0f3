"""What frame size and frame count a loaded video model can take, read from its own config.

A video transformer holds a position table of fixed length per axis (Wan: ``rope_max_seq_len`` rotary rows for
time, height and width, over patches of the VAE's latents). A request past it does not degrade gracefully: the
pipeline fails deep inside with a tensor-shape error. Real Wan checkpoints have 1024 rows (16384 px a side), but
a small or custom model can have far fewer, so the backend and ``aifx previz`` check the request against these
limits before generating and name the option (``size``, ``window``, ``frames``) and the values that would fit.

:func:`is_shape_error` is the safety net for a model whose config declares no limit: a shape/size
``RuntimeError`` from inside the pipeline call is the model refusing the request, reported as bad input.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: Words of torch's and diffusers' shape/size complaints ("shape '[1, 34, 1, -1]' is invalid for input of size
#: 128", "The size of tensor a (34) must match the size of tensor b (32)", "mat1 and mat2 shapes cannot be
#: multiplied"). Anything else (device, dtype, CUDA faults) stays an internal error with its traceback.
_SHAPE_WORDS = re.compile(r"\b(shapes?|sizes?)\b", re.IGNORECASE)


def is_shape_error(error: BaseException) -> bool:
    """True for a ``RuntimeError`` about tensor shapes or sizes (not out-of-memory, which says what to free)."""
    import torch

    if not isinstance(error, RuntimeError) or isinstance(error, torch.OutOfMemoryError):
        return False
    return bool(_SHAPE_WORDS.search(str(error)))


def refusal(
    subject: str,
    model: Any,
    frames: int,
    width: Any,
    height: Any,
    setting: str,
    error: BaseException,
    advice: str,
) -> str:
    """The one line saying that a model refused a request's shape (:func:`is_shape_error`): who asked
    (``subject``), how many frames at what size and ``setting`` (the options that made it), the model's own
    first line, and ``advice`` (what to make smaller)."""
    return (
        f"{subject}: {model} refused {frames} frames at {width}x{height} {setting}: "
        f"{str(error).splitlines()[0]}; try {advice}, or a model made for this size"
    )


def _config_value(config: Any, name: str) -> Any:
    if config is None:
        return None
    if isinstance(config, dict):
        return config.get(name)
    return getattr(config, name, None)


@dataclass(frozen=True)
class ModelLimits:
    """Size rules of one loaded video pipeline."""

    #: VAE spatial factor × patch size: model sides divide by it (Wan: 8 × 2 = 16).
    multiple: int
    #: VAE temporal factor: frame counts are ``k * temporal + 1`` (Wan: 4).
    temporal: int
    #: Largest model side in pixels the transformer's position table covers; None: no declared limit.
    max_side: int | None = None
    #: Largest latent frame count (reference images included) it covers; None: no declared limit.
    max_latent_frames: int | None = None
    #: Where the limits come from, for messages ("rope_max_seq_len=32 × patch 2 × VAE 8").
    reason: str = ""

    @classmethod
    def of(cls, pipe: Any) -> ModelLimits:
        spatial = int(getattr(pipe, "vae_scale_factor_spatial", 8) or 8)
        temporal = int(getattr(pipe, "vae_scale_factor_temporal", 4) or 4)
        configs = [
            getattr(getattr(pipe, name, None), "config", None) for name in ("transformer", "transformer_2")
        ]
        configs = [config for config in configs if config is not None]
        first = configs[0] if configs else None
        patch = _config_value(first, "patch_size") or (1, 2, 2)
        if isinstance(patch, int):  # CogVideoX/LTX style: a spatial patch plus an optional temporal one
            patch_t, patch_hw = int(_config_value(first, "patch_size_t") or 1), int(patch)
        else:
            patch_t, patch_hw = int(patch[0]), min(int(p) for p in patch[-2:])
        rows = [_config_value(config, "rope_max_seq_len") for config in configs]
        rows = [int(r) for r in rows if r]
        if not rows:
            return cls(spatial * patch_hw, temporal)
        table = min(rows)
        return cls(
            multiple=spatial * patch_hw,
            temporal=temporal,
            max_side=table * patch_hw * spatial,
            max_latent_frames=table * patch_t,
            reason=f"its transformer's rope_max_seq_len={table} × patch {patch_hw} × VAE {spatial}",
        )

    def latent_frames(self, frames: int, references: int = 0) -> int:
        return (frames - 1) // self.temporal + 1 + references

    def frames_fit(self, frames: int, references: int = 0) -> bool:
        return (
            self.max_latent_frames is None or self.latent_frames(frames, references) <= self.max_latent_frames
        )

    def largest_frames(self, references: int = 0) -> int | None:
        """Most frames one call can take (a ``k * temporal + 1`` count; 0 when none fit); None: no limit."""
        if self.max_latent_frames is None:
            return None
        return max(0, (self.max_latent_frames - references - 1) * self.temporal + 1)

    def side_fits(self, height: int, width: int) -> bool:
        return self.max_side is None or max(height, width) <= self.max_side

    def largest_size(self, size: int, shape_for: Callable[[int], tuple[int, int]]) -> int | None:
        """The largest ``size`` option below ``size`` whose (height, width) from ``shape_for`` fits; None if
        no size of 16 or more does."""
        low, high = 16, size - 1
        if high < low or not self.side_fits(*shape_for(low)):
            return None
        while low < high:  # model sides grow with size: bisect for the last one that fits
            middle = (low + high + 1) // 2
            if self.side_fits(*shape_for(middle)):
                low = middle
            else:
                high = middle - 1
        return low
