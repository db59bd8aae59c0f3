"""Which job options each built-in backend reads: what the adapters send and what they leave out.

The core refuses an option its backend does not read (a typo must never pass unseen), and a panel or node keeps
every setting the artist ever typed: Blender hides the Model and Prompt fields when the backend does not read
them, a Nuke knob keeps its value when the backend changes. So an adapter sends a setting only when the chosen
backend (or, for the temporal engine, its spatial backend) reads it. The core's options classes say which options
a backend reads, but an adapter cannot import them (no aifx-core in a DCC's Python); this table says the same,
and ``tests/test_protocol.py`` checks it against them.
"""

from __future__ import annotations

from typing import Any, Dict, FrozenSet, Optional

#: Options every backend reads (the routing rule's).
GENERAL = ("per_frame",)
#: The diffusers model loader's settings (``aifx_core.inpaint.models.LoaderOptions``).
_LOADER = (
    "dtype",
    "variant",
    "offload",
    "vae_tiling",
    "vae_slicing",
    "local_files_only",
    "cache_dir",
    "pipeline_class",
    "config",
)
_DIFFUSERS = _LOADER + (
    "model",
    "prompt",
    "negative_prompt",
    "steps",
    "guidance",
    "strength",
    "scheduler",
    "size",
    "margin",
)

#: Built-in backend -> the options it reads itself.
READS: Dict[str, FrozenSet[str]] = {
    "telea": frozenset({"telea_radius"}),
    "lama": frozenset({"model", "size", "margin"}),
    "diffusers": frozenset(_DIFFUSERS),
    "diffusers-every-frame": frozenset(_DIFFUSERS + ("every_frame_strength",)),
    "video-diffusion": frozenset(
        _LOADER
        + (
            "model",
            "prompt",
            "negative_prompt",
            "reference",
            "window",
            "overlap",
            "steps",
            "guidance",
            "size",
            "margin",
            "conditioning_scale",
            "max_sequence_length",
            "segment",
        )
    ),
    "propagate": frozenset(
        {
            "spatial_backend",
            "keyframes",
            "flow_preset",
            "flow_max_side",
            "radius",
            "keyframe_interval",
            "window",
            "consistency_tol",
            "exposure_match",
            "seam",
            "seam_ring",
            "candidates",
            "outlier_tol",
            "fallback_low",
            "fallback_high",
            "fallback_soften",
            "carry_low",
            "carry_high",
            "ring_low",
            "ring_high",
            "seen_plate",
        }
    ),
}
#: A backend that runs a spatial backend inside (its ``spatial_backend`` option) -> the one it runs by default.
HOSTS_SPATIAL: Dict[str, str] = {"propagate": "telea"}


def backend_reads(backend: str, spatial_backend: Optional[str] = None) -> Optional[FrozenSet[str]]:
    """The options ``backend`` reads, with those of the spatial backend it runs (``spatial_backend``, empty
    for its default); None for a backend this table does not know (a plugin: send its options as they are)."""
    own = READS.get(backend)
    if own is None:
        return None
    names = own | frozenset(GENERAL)
    if backend in HOSTS_SPATIAL:
        spatial = READS.get(spatial_backend or HOSTS_SPATIAL[backend])
        if spatial is None:
            return None
        names |= spatial
    return names


def read_options(
    backend: str, options: Dict[str, Any], spatial_backend: Optional[str] = None
) -> Dict[str, Any]:
    """``options`` less those ``backend`` (with its spatial backend) does not read; all of them for a backend
    this table does not know."""
    names = backend_reads(backend, spatial_backend)
    return dict(options) if names is None else {k: v for k, v in options.items() if k in names}
