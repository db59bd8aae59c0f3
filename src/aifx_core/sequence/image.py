"""The in-memory frame: named channels in their stored pixel type, plus the metadata to write them back.

Keeping each channel in the dtype it was stored in (half, float, uint for EXR; uint8/uint16 for PNG, TIFF, JPEG
and DPX) is what makes "nothing lost" cheap: pixels outside the mask are copied array-to-array, never converted.
Only the RGB a backend works on is lifted to float32 (exact for half), and only inside the mask is it written
back.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError

#: Names tried, in order, for the colour channels (first layer wins). Luminance-only images use ``Y``.
RGB_NAMES = ("R", "G", "B")
#: The layer filled in a file with no main layer and several layers with colour (Blender's beauty pass).
BEAUTY = "Combined"


#: How a layer's colour channels are spelt: ``diffuse.R`` (OpenEXR's, Blender's), ``diffuse.red`` (Nuke's Write
#: names a layer's channels as Nuke does), ``diffuse.r`` (lower case, as some renderers write them).
LAYER_RGB_SPELLINGS = (RGB_NAMES, ("red", "green", "blue"), ("r", "g", "b"))


def layer_rgb(names: Collection[str], layer: str) -> tuple[str, ...] | None:
    """The colour channels of ``layer`` among ``names`` (``diffuse.red``...), in the first spelling of
    :data:`LAYER_RGB_SPELLINGS` it holds all three of; None when it holds none whole."""
    for spelling in LAYER_RGB_SPELLINGS:
        found = tuple(f"{layer}.{c}" for c in spelling)
        if all(name in names for name in found):
            return found
    return None


def colour_alpha(channels: Iterable[str], colour: tuple[str, ...]) -> str | None:
    """The alpha beside the colour channels ``colour`` (:func:`colour_channels`): ``A`` of the main layer, a
    layer's ``A`` / ``alpha`` / ``a`` spelt as its colour is (``diffuse.red`` → ``diffuse.alpha``); None
    where the frame has none."""
    layer, _, red = colour[0].rpartition(".")
    spelt = {"red": "alpha", "r": "a"}.get(red, "A")
    name = f"{layer}.{spelt}" if layer else spelt
    return name if name in set(channels) else None


def colour_layers(channels: Mapping[str, np.ndarray] | Iterable[str]) -> list[str]:
    """The layers holding a red, green and blue (``ViewLayer.Combined`` of ``ViewLayer.Combined.R``...,
    ``diffuse`` of Nuke's ``diffuse.red``...), in file order."""
    return list(_layer_colours(channels))


def _layer_colours(channels: Mapping[str, np.ndarray] | Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Each layer holding a red, green and blue → those channels (:func:`layer_rgb`), in file order."""
    ordered = list(channels)
    names = set(ordered)
    found = {}
    for layer in dict.fromkeys(name.rsplit(".", 1)[0] for name in ordered if "." in name):
        rgb = layer_rgb(names, layer)
        if rgb is not None:
            found[layer] = rgb
    return found


def layer_of(colour: tuple[str, ...]) -> str:
    """The layer of a frame's colour channels (:func:`colour_channels`): ``""`` for the main layer."""
    return colour[0].rpartition(".")[0]


def stereo_views(attributes: Mapping[str, Any], parts: Iterable[Mapping[str, Any]] = ()) -> list[str]:
    """The views of a stereo (multi-view) EXR, the default one first: its ``multiView`` attribute, and the
    ``view`` attribute of its first part and of ``parts`` (the others: one view a part); [] otherwise."""
    views = [str(view) for view in attributes.get("multiView") or []]
    for part in [attributes, *parts]:
        view = part.get("view")
        if view is not None and str(view) not in views:
            views.append(str(view))
    return views


@dataclass(frozen=True)
class Unfilled:
    """Colour a fill leaves as it is, the object still in it: of a stereo plate the views other than ``hero``
    (the one filled), and ``passes``, the layers with ``R,G,B`` beside the filled one (render passes, AOVs),
    in the first part or in others (Blender 5 writes a part per pass)."""

    hero: str = ""
    views: tuple[str, ...] = ()
    passes: tuple[str, ...] = ()


def unfilled_colour(
    filled: tuple[str, ...],
    channels: Iterable[str],
    attributes: Mapping[str, Any],
    parts: Iterable[tuple[Mapping[str, Any], Iterable[str]]] = (),
) -> Unfilled:
    """What of a frame's colour a fill of ``filled`` (:func:`colour_channels`) leaves as it is: ``channels``
    and ``attributes`` are the first part's, ``parts`` the others' (attributes, channel names)."""
    parts = [(part, list(names)) for part, names in parts]
    names = list(channels)
    views = stereo_views(attributes, [part for part, _ in parts])
    hero = ""
    if len(views) > 1:
        hero = str(attributes["view"]) if attributes.get("view") is not None else views[0]
    others = tuple(view for view in views if view != hero) if hero else ()
    layers = colour_layers(names)
    for _, part_names in parts:
        layers += colour_layers(part_names)
    skip = {layer_of(filled), *others}
    return Unfilled(hero, others, tuple(layer for layer in dict.fromkeys(layers) if layer not in skip))


def colour_channels(channels: Iterable[str], source: Path | str | None = None) -> tuple[str, ...]:
    """The channels of a frame holding colour: ``R,G,B`` (or ``Y`` for luminance-only) of the main layer;
    raises (naming ``source``) if there are none.

    A file with no main layer (Blender's multilayer EXR: ``ViewLayer.Combined.R``..., one layer per render
    pass) has its colour in the one layer that holds ``R,G,B``, or where several do (the passes) in the one
    named ``Combined``, the beauty: that layer is filled, and every other channel is kept as it is."""
    names = list(channels)
    if all(name in names for name in RGB_NAMES):
        return RGB_NAMES
    if "Y" in names:
        _refuse_chroma(names, source)
        return ("Y",)
    colours = _layer_colours(names)
    layers = list(colours)
    beauty = [layer for layer in layers if layer.rsplit(".", 1)[-1] == BEAUTY]
    if len(layers) == 1 or len(beauty) == 1:
        return colours[layers[0] if len(layers) == 1 else beauty[0]]
    where = f"{source}: " if source else ""
    if layers:
        spelt = dict(zip(RGB_NAMES, (name.rsplit(".", 1)[1] for name in colours[layers[0]]), strict=True))
        spelt["A"] = {"red": "alpha", "r": "a"}.get(spelt["R"], "A")  # (its alpha, spelt alike)
        raise InputError(
            f"{where}no main layer (R,G,B) and {len(layers)} layers with colour ({', '.join(layers)}), none of "
            f"them named {BEAUTY}; write the one to fill as R,G,B (e.g. oiiotool IN --ch "
            f"{_renamed(names, layers[0] + '.', spelt.__getitem__)} -o OUT)"
        )
    lower = [name for name in ("r", "g", "b") if name in names]
    hint = f" (e.g. oiiotool IN --ch {_renamed(names, '', str.lower)} -o OUT)" if len(lower) == 3 else ""
    raise InputError(
        f"{where}no R,G,B (or Y) channels, found {', '.join(names) or 'none'}; "
        f"aifx fills the colour channels of the main layer, named R,G,B{hint}"
    )


#: The chroma channels of a luminance/chroma EXR (OpenEXR's ``RgbaYca``), beside its ``Y``.
CHROMA_NAMES = ("RY", "BY")


def _refuse_chroma(names: list[str], source: Path | str | None) -> None:
    """Refuse a luminance/chroma frame (``Y`` with ``RY``/``BY``, at full resolution; a sub-sampled one is refused
    from its header): the fill changes ``Y`` alone, so the removed object's colour stayed in RY/BY inside the
    hole, with exit 0. They cannot be filled as colour: they are signed differences from Y, not R,G,B, which
    the colourspace handling and the generative backends would treat as colour."""
    chroma = [name for name in CHROMA_NAMES if name in names]
    if chroma:
        where = f"{source}: " if source else ""
        raise InputError(
            f"{where}luminance/chroma EXR (Y, {', '.join(chroma)}): aifx fills Y only, and {', '.join(chroma)} "
            "would keep the removed object's colour in the hole; convert it to R,G,B first"
        )


def _renamed(names: list[str], prefix: str, spell: Any = str) -> str:
    """oiiotool's ``--ch`` list that writes ``prefix`` + R,G,B (spelt by ``spell``) as R,G,B, and an alpha as A
    where the file has one (the layer's, else the main one): a bare ``A`` that the file lacks is made by
    oiiotool as zeros, which as the fill's default matte (the plate's alpha) then covers nothing."""
    wanted = [f"{c}={prefix}{spell(c)}" for c in RGB_NAMES]
    if f"{prefix}{spell('A')}" in names:
        wanted.append(f"A={prefix}{spell('A')}")
    elif "A" in names:
        wanted.append("A")
    return ",".join(wanted)


def file_colour_channels(
    channels: Iterable[str],
    other_parts: Iterable[tuple[Any, Iterable[str]]],
    source: Path | str | None = None,
) -> tuple[str, ...]:
    """:func:`colour_channels` of a file's first part; where it has none but another part of a multi-part EXR
    does (``other_parts``: (attributes, channel names) of the parts after the first), the error names that
    part: aifx fills the first part, and "no R,G,B" alone sent the artist looking in the wrong place."""
    try:
        return colour_channels(channels, source)
    except InputError as exc:
        for attributes, names in other_parts:
            try:
                colour_channels(names)
            except InputError:
                continue
            part = attributes.get("name", "?")
            raise InputError(
                f"{exc}; its part {part!r} has colour, but aifx fills a file's first part: write that part "
                f"first (or alone: oiiotool IN --subimage {part} -o OUT)"
            ) from None
        raise


def to_float(plane: np.ndarray) -> np.ndarray:
    """A channel as float32: floats unchanged in value, uint8/uint16 scaled to 0..1."""
    if plane.dtype == np.uint8:
        return plane.astype(np.float32) / 255.0
    if plane.dtype == np.uint16:
        return plane.astype(np.float32) / 65535.0
    return plane.astype(np.float32)


def from_float(plane: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Inverse of :func:`to_float` for a target dtype: integers are rounded and clipped, floats cast."""
    dtype = np.dtype(dtype)
    if dtype == np.uint8 or dtype == np.uint16:
        top = 255.0 if dtype == np.uint8 else 65535.0
        # Clipped to 0..1 first, so Inf (and values far above 1) never overflow the multiply.
        return np.rint(np.clip(np.nan_to_num(plane, posinf=1.0, neginf=0.0), 0.0, 1.0) * top).astype(dtype)
    return plane.astype(dtype)


@dataclass
class Image:
    """One frame.

    ``channels`` maps channel names (``"R"``, ``"A"``, ``"diffuse.R"``, ``"Z"``...) to 2-D arrays of shape
    (height, width) in the stored dtype; insertion order is the file's channel order. ``header`` carries what
    the writer needs to reproduce the file (EXR attributes, compression, windows; bit depth for 8/16-bit
    formats) under format-specific keys; ``write_colorspace`` (an OCIO interop ID such as
    ``lin_rec709_scene``), where set, is the colourspace a write into *another* format names in the file
    (``colorInteropID`` in EXR, ``oiio:ColorSpace`` elsewhere; DPX keeps no name, so a linear one is marked by
    ``write_transfer``, its ``dpx:Transfer``): the values are not converted, so the file must say what they
    are. ``source`` is where it was read from, for error messages.
    """

    channels: dict[str, np.ndarray]
    header: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None

    @property
    def shape(self) -> tuple[int, int]:
        first = next(iter(self.channels.values()))
        return int(first.shape[0]), int(first.shape[1])

    @property
    def width(self) -> int:
        return self.shape[1]

    @property
    def height(self) -> int:
        return self.shape[0]

    def colour_names(self) -> tuple[str, ...]:
        """The channels holding colour (:func:`file_colour_channels`); raises if there are none."""
        return file_colour_channels(self.channels, self.header.get("other_parts") or [], self.source)

    def rgb(self) -> np.ndarray:
        """Colour as float32 (height, width, 3); a luminance image is repeated into three channels.

        Float channels come as stored (exact for half); 8/16-bit integer channels are scaled to 0..1.
        """
        names = self.colour_names()
        if len(names) == 1:
            names = names * 3
        height, width = self.shape
        out = np.empty((height, width, 3), np.float32)
        for c, name in enumerate(names):
            plane = self.channels[name]
            if plane.dtype.kind == "f":
                out[..., c] = (
                    plane  # (cast while interleaving: one pass, no float32 temporary; exact for half)
                )
            else:
                out[..., c] = to_float(plane)
        return out

    def with_channels(self, updates: dict[str, np.ndarray]) -> Image:
        """A copy with some channels replaced (arrays are not copied; order is kept)."""
        channels = dict(self.channels)
        channels.update(updates)
        return replace(self, channels=channels)
