"""Spatial backends (one image from its own pixels) and what every fill backend is.

The registry that finds a backend by name, and the routing rule, live one floor up in :mod:`aifx_core.backends`.
"""

from .base import (
    Anchor,
    BackendContext,
    ChunkedFill,
    FillBackend,
    FramePacket,
    PerFrame,
    Span,
    SpatialBackend,
    SpatialFactory,
)

__all__ = [
    "Anchor",
    "BackendContext",
    "ChunkedFill",
    "FillBackend",
    "FramePacket",
    "PerFrame",
    "SpatialBackend",
    "SpatialFactory",
    "Span",
]
