"""Spatial backends (one image from its own pixels) and what every fill backend is.

The registry that finds a backend by name, and the routing rule, live one floor up in :mod:`aifx_core.backends`.
"""

from .base import (
    BackendContext,
    FillBackend,
    FramePacket,
    PerFrame,
    SpatialBackend,
    SpatialFactory,
)

__all__ = [
    "BackendContext",
    "FillBackend",
    "FramePacket",
    "PerFrame",
    "SpatialBackend",
    "SpatialFactory",
]
