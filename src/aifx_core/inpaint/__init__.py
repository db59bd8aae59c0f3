"""Fill backends: spatial (one image) and temporal (a whole shot)."""

from .base import (
    BackendContext,
    FillBackend,
    FramePacket,
    PerFrame,
    SpatialBackend,
    available_backends,
    create_backend,
    create_spatial,
    register_fill,
    register_spatial,
)

__all__ = [
    "BackendContext",
    "FillBackend",
    "FramePacket",
    "PerFrame",
    "SpatialBackend",
    "available_backends",
    "create_backend",
    "create_spatial",
    "register_fill",
    "register_spatial",
]
