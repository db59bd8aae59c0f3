"""What a fill backend is, and how one is found by name.

Two kinds, because temporal consistency is the product:

* a :class:`SpatialBackend` fills one image from its own pixels (OpenCV Telea, LaMa, a diffusion model);
* a :class:`FillBackend` fills a whole shot, frame after frame, and may look at other frames (``propagate``).

Any spatial backend becomes a (per-frame) fill backend through :class:`PerFrame`; the temporal engine takes a
spatial backend for what no frame ever saw. Backends never touch files or pixels outside the hole: they get
float32 RGB as stored (scene-linear HDR allowed) and a boolean hole, and return float32 RGB; the composite
step decides what is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..errors import InputError
from ..progress import Reporter


@dataclass
class FramePacket:
    """One frame on its way through a backend."""

    frame: int
    #: (height, width, 3) float32, values as stored in the plate (may exceed 1 or be negative).
    rgb: np.ndarray
    #: (height, width) bool, True where pixels must be invented (already thresholded and dilated).
    hole: np.ndarray


@dataclass
class BackendContext:
    """Job-wide settings every backend may need."""

    #: OCIO name of the plate's colourspace (``"scene_linear"``-like for EXR, ``"sRGB"``-like for 8-bit).
    colorspace: str = "ACEScg"
    seed: int = 0
    device: str = "auto"
    options: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class SpatialBackend(Protocol):
    """Fills one image from its own pixels."""

    name: str

    def inpaint(self, rgb: np.ndarray, hole: np.ndarray, *, frame: int | None = None) -> np.ndarray:
        """Return float32 (H, W, 3); pixels outside ``hole`` may be anything (the composite ignores them)."""
        ...


@runtime_checkable
class FillBackend(Protocol):
    """Fills a shot. Must yield ``(frame, rgb)`` for every packet, in the order received, and hold only a
    bounded window of frames in memory (packets are read lazily from disk)."""

    name: str

    def fill(
        self, packets: Iterable[FramePacket], reporter: Reporter
    ) -> Iterator[tuple[int, np.ndarray]]: ...


class PerFrame:
    """Runs a spatial backend on each frame on its own: no temporal consistency, for comparison or stills."""

    #: Needs no other frames: the pipeline feeds it only the frames still to do.
    temporal = False

    def __init__(self, spatial: SpatialBackend) -> None:
        self.spatial = spatial
        self.name = spatial.name

    def fill(self, packets: Iterable[FramePacket], reporter: Reporter) -> Iterator[tuple[int, np.ndarray]]:
        for packet in packets:
            reporter.cancel.raise_if_cancelled()
            if packet.hole.any():
                yield packet.frame, self.spatial.inpaint(packet.rgb, packet.hole, frame=packet.frame)
            else:
                yield packet.frame, packet.rgb


SpatialFactory = Callable[[BackendContext], SpatialBackend]
FillFactory = Callable[[BackendContext], FillBackend]

_SPATIAL: dict[str, SpatialFactory] = {}
_FILL: dict[str, FillFactory] = {}


def register_spatial(name: str, factory: SpatialFactory) -> None:
    """Register a spatial backend; it is also usable as a per-frame fill backend of the same name."""
    _SPATIAL[name] = factory


def register_fill(name: str, factory: FillFactory) -> None:
    """Register a whole-shot (temporal) fill backend."""
    _FILL[name] = factory


def _ensure_builtin_backends() -> None:
    # Imported here so that registering costs nothing until a backend is asked for, and heavy
    # dependencies (torch) load only with the backend that needs them.
    from . import builtin  # noqa: F401


def available_backends() -> list[str]:
    _ensure_builtin_backends()
    return sorted(set(_SPATIAL) | set(_FILL))


def is_per_frame(name: str) -> bool:
    """True for a backend whose frames do not depend on the other frames of the run (a spatial one)."""
    _ensure_builtin_backends()
    return name in _SPATIAL and name not in _FILL


def create_spatial(name: str, context: BackendContext) -> SpatialBackend:
    _ensure_builtin_backends()
    if name not in _SPATIAL:
        raise InputError(f"unknown spatial backend {name!r}; choose one of {', '.join(sorted(_SPATIAL))}")
    return _SPATIAL[name](context)


def create_backend(name: str, context: BackendContext) -> FillBackend:
    """The fill backend called ``name``: a temporal one, or a spatial one run per frame."""
    _ensure_builtin_backends()
    if name in _FILL:
        return _FILL[name](context)
    if name in _SPATIAL:
        return PerFrame(_SPATIAL[name](context))
    raise InputError(f"unknown backend {name!r}; choose one of {', '.join(available_backends())}")
