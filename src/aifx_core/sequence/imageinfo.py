"""What a file is, from its header alone: size, windows, channels, compression, colourspace guess.

``aifx info`` and sequence checks read only this (no pixels), so they stay fast on long shots.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Window = tuple[int, int, int, int]


@dataclass
class ImageInfo:
    """Header facts about one image file.

    Windows are ``(xmin, ymin, xmax, ymax)`` inclusive, as EXR stores them; pixel arrays cover the data
    window. ``channels`` maps name → pixel type (``half``, ``float``, ``uint`` for EXR; ``uint8``,
    ``uint16``, ``float`` for PNG/TIFF/JPEG), in file order.
    """

    path: Path
    format: str
    data_window: Window
    display_window: Window
    channels: dict[str, str]
    compression: str | None = None
    colorspace: str = ""
    colorspace_reason: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    parts: int = 1
    part_names: list[str] = field(default_factory=list)
    #: The parts after the first: (attributes, channel names) of each, what it would carry through.
    other_parts: list[tuple[dict[str, Any], list[str]]] = field(default_factory=list)
    tiled: bool = False

    @property
    def width(self) -> int:
        return self.data_window[2] - self.data_window[0] + 1

    @property
    def height(self) -> int:
        return self.data_window[3] - self.data_window[1] + 1


def window_size(window: Window) -> tuple[int, int]:
    """(width, height) of an inclusive window."""
    return window[2] - window[0] + 1, window[3] - window[1] + 1


def guess_colorspace(fmt: str, attributes: Mapping[str, Any], dtype: str) -> tuple[str, str]:
    """(colourspace, why) for a file: the same guess the fill makes (:mod:`aifx_core.colour`), so what
    ``aifx info`` shows is what gets used."""
    from ..colour import explain_colorspace  # loads OCIO only when a header is described

    return explain_colorspace(attributes, is_float=fmt == "exr" or dtype not in ("uint8", "uint16"))
