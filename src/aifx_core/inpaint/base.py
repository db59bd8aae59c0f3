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

from collections.abc import Callable, Iterable, Iterator, Mapping
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


@dataclass(frozen=True)
class Anchor:
    """One keyframe block's decision, made once for the shot (the anchors stage) and read by every chunk.

    ``keyframe`` is the block's keyframe as a frame number (None: nothing in the block to invent); ``values``
    are the keyframe's filled hole pixels, float32 (N, 3) in ``np.nonzero(hole)`` order, so a chunk rebuilds
    the keyframe image from the plate it reads anyway; ``hole`` fingerprints that hole (pixel count and hash),
    so an anchor is never applied to a mask it was not made for.
    """

    keyframe: int | None
    values: np.ndarray | None = None
    hole: str = ""


@dataclass(frozen=True)
class Span:
    """What one :meth:`ChunkedFill.fill` call makes out of a shot (exact chunks).

    Positions in the shot count from ``shot[0]``, whichever frames a call reads, so a frame's pixels depend
    on the shot, never on the chunk. The packets handed in are a contiguous run of the shot (the chunk's
    frames plus the context :meth:`ChunkedFill.chunk_context` asks for); only ``outputs`` are yielded.
    """

    #: Every frame number of the shot, in order (the job's frames, not the chunk's).
    shot: tuple[int, ...]
    #: Frame numbers to yield (None: every packet).
    outputs: frozenset[int] | None = None
    #: Block index → :class:`Anchor` from the anchors stage (None: decided while streaming, whole shot only).
    anchors: Mapping[int, Anchor] | None = None
    #: Called with each block's anchor as it is decided while streaming (the pipeline caches them).
    on_anchor: Callable[[int, Anchor], None] | None = None
    #: The shot's clean plate where its camera is locked off or handheld (a backend's own ``seen_plate`` of the
    #: whole shot, e.g. :class:`aifx_core.propagate.seen.SeenPlate`), the same for every call of the shot; None: none.
    seen: Any = None


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


@runtime_checkable
class ChunkedFill(Protocol):
    """A fill backend whose frames can be made in chunks, bit-identical to a whole-shot run.

    ``chunk_context(first, last, length)`` gives the shot positions (inclusive) to read so that positions
    ``first..last`` of a ``length``-frame shot come out exactly as in a whole run; ``fill(packets, reporter,
    span)`` then yields ``span.outputs`` only. Backends with global decisions (keyframes) also have
    ``anchors(packets, reporter, span)``: the anchors stage over the whole shot, yielding ``(block, Anchor)``.
    """

    name: str

    def chunk_context(self, first: int, last: int, length: int) -> tuple[int, int]: ...

    def fill(
        self, packets: Iterable[FramePacket], reporter: Reporter, span: Span | None = None
    ) -> Iterator[tuple[int, np.ndarray]]: ...


class PerFrame:
    """Runs a spatial backend on each frame on its own: no temporal consistency, for comparison or stills."""

    #: Needs no other frames: the pipeline feeds it only the frames still to do.
    temporal = False

    def __init__(self, spatial: SpatialBackend, name: str | None = None) -> None:
        self.spatial = spatial
        # A plugin class needs no ``name`` of its own: the registry passes its entry point's name.
        self.name = name or getattr(spatial, "name", None) or type(spatial).__name__

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
