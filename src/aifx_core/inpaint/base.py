"""What a fill backend is (the registry that finds one by name is :mod:`aifx_core.backends`).

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


#: Builds a spatial backend by name (``aifx_core.backends.create_spatial``): handed to the temporal engine, so
#: no backend package needs the registry that stands above them all.
SpatialFactory = Callable[[str, BackendContext], SpatialBackend]
