"""OpenEXR read/write through the official ``OpenEXR`` Python bindings (3.3+ ``OpenEXR.File`` API).

Every channel is kept in its stored pixel type (half → float16, float → float32, uint → uint32) and every
header attribute is kept as the bindings give it, so read → write → read is bit-exact for lossless
compressions (none, rle, zips, zip, piz; pxr24 only for half/uint) and keeps custom attributes such as
``owner``, ``chromaticities``, ``timeCode`` or studio metadata.

``Image.header`` keys written by :func:`read_exr`:

* ``format``: ``"exr"``
* ``attributes``: every header attribute of the part that was read, by name, as the bindings return it
* ``compression``: its name (``"zip"``, ``"piz"``, ``"dwaa"``...)
* ``data_window`` / ``display_window``: ``(xmin, ymin, xmax, ymax)``; pixel arrays cover the data window
* ``parts`` / ``part_names``: how many parts the file has (the first is filled) and their names
* ``tiled``: whether the part was stored in tiles (it is written back tiled)
* ``plinear``: per part, the names of the channels flagged pLinear (written back flagged)
* ``colorspace`` / ``colorspace_reason``: see :func:`~aifx_core.sequence.imageinfo.guess_colorspace`

Multi-part files: the first part is the image; the others are kept whole in ``other_parts`` (attributes,
channels) and written back after it, untouched (a lossy one re-encoded as ZIP). Limits, stated rather than
hidden: deep and sub-sampled (luminance/chroma) images are refused with an
:class:`InputError`; mip/rip-mapped tiled files are written back as plain scanline files (level 0 only).
"""

from __future__ import annotations

import copyreg
import ctypes
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import OpenEXR

from ..errors import InputError
from .image import Image, to_float
from .imageinfo import ImageInfo, Window, guess_colorspace
from .quiet import decoder_messages_silenced
from .smpte import for_exr


#: Compression names accepted by :func:`write_exr`, e.g. ``"zip"`` → ``OpenEXR.ZIP_COMPRESSION``.
def compression_name(value: Any) -> str:
    """``OpenEXR.Compression.PIZ_COMPRESSION`` → ``"piz"`` (and ``NO_COMPRESSION`` → ``"none"``)."""
    name = str(getattr(value, "name", value)).removesuffix("_COMPRESSION").lower()
    return "none" if name == "no" else name


COMPRESSIONS: dict[str, Any] = {
    compression_name(name): value
    for name, value in OpenEXR.Compression.__members__.items()
    if name.endswith("_COMPRESSION")
}
#: What a new EXR is compressed with when neither the caller nor the source file says (lossless, common).
DEFAULT_COMPRESSION = "zip"
#: Compressions that change pixel values: never reused for a rewrite unless asked for.
LOSSY = {"dwaa", "dwab", "b44", "b44a"}
#: zlib level of ZIP and ZIPS writes (None: OpenEXR's own default, 4). As for PNG (``raster.PNG_ZIP_LEVEL``):
#: still lossless, the same pixels, files ~3-6 % larger; the encode is most of the writer thread's CPU
#: (measured on tennis: 432x240 half RGB 8.5-10 → 6.5 ms a frame, 1920x1080 130-160 → 88-103 ms). The
#: bindings have no per-file level (a ``zipCompressionLevel`` attribute is stored, not used), so it is set as
#: OpenEXRCore's process-wide default before a write (:func:`_use_zip_level`): every OpenEXR write in this
#: process then uses it.
EXR_ZIP_LEVEL: int | None = 1

# -- header values that can be copied and pickled --------------------------------------------------------
#
# A few attribute types of the bindings (time code, key code, tile description) cannot be pickled or
# deep-copied, which would make every Image read from a tiled or time-coded plate fail in copy.deepcopy or
# on its way to a worker process. They are registered with copyreg, rebuilt field by field.

_PICKLED_FIELDS = {
    "TimeCode": (
        "hours",
        "minutes",
        "seconds",
        "frame",
        "dropFrame",
        "colorFrame",
        "fieldPhase",
        "bgf0",
        "bgf1",
        "bgf2",
        "userData",
    ),
    # perfsPerCount first: the others are validated against it.
    "KeyCode": ("perfsPerCount", "perfsPerFrame", "perfOffset", "filmMfcCode", "filmType", "prefix", "count"),
    "TileDescription": ("xSize", "ySize", "mode", "roundingMode"),
}


def _rebuild_attribute(type_name: str, fields: tuple[tuple[str, Any], ...]) -> Any:
    """Inverse of the copyreg reducers below (module level, so pickle can find it)."""
    value = getattr(OpenEXR, type_name)()
    for name, field_value in fields:
        setattr(value, name, field_value)
    return value


def _register_reducers() -> None:
    for type_name, names in _PICKLED_FIELDS.items():
        cls = getattr(OpenEXR, type_name, None)
        if cls is None:
            continue

        def reduce(value: Any, type_name: str = type_name, names: tuple[str, ...] = names) -> Any:
            return _rebuild_attribute, (type_name, tuple((n, getattr(value, n)) for n in names))

        copyreg.pickle(cls, reduce)


_register_reducers()

_PIXEL_TYPE_NAMES = {np.dtype(np.float16): "half", np.dtype(np.float32): "float", np.dtype(np.uint32): "uint"}
# Attributes the bindings derive from the channels and the file layout when writing.
_DERIVED_ATTRIBUTES = ("channels", "chunkCount", "version")


def _window(value: Any) -> Window:
    lo, hi = value
    return int(lo[0]), int(lo[1]), int(hi[0]), int(hi[1])


def _window_attribute(window: Window) -> tuple[np.ndarray, np.ndarray]:
    return (np.array(window[:2], dtype=np.int32), np.array(window[2:], dtype=np.int32))


#: How the bindings refuse an attribute type they do not know (``deepImageState``, which Nuke and Houdini
#: write on flattened deep renders): OpenImageIO reads such a file and drops the attribute on a rewrite.
_UNSUPPORTED = "unsupported attribute type:"


def _open(path: Path, header_only: bool) -> Any:
    """Open with the bindings, turning their failures into :class:`InputError` naming the file.

    A truncated file does not raise in the bindings: they print warnings and return no parts, which is
    reported here (the warnings are kept off the terminal, see :mod:`.quiet`).
    """
    try:
        with decoder_messages_silenced():
            exr = OpenEXR.File(str(path), separate_channels=True, header_only=header_only)
    except (RuntimeError, ValueError, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if reason.startswith("Unable to open"):  # the bindings' only words for a header they cannot parse
            raise InputError(
                f"{path}: EXR header is damaged (its attributes cannot be read); re-render or re-copy the file"
            ) from None
        if reason.startswith(_UNSUPPORTED):  # a sound file (oiiotool reads it) with an attribute of that type
            kind = reason.removeprefix(_UNSUPPORTED).strip()
            raise InputError(
                f"{path}: aifx's EXR reader cannot read the file's {kind} attribute (the image itself is fine); "
                f"write the frames without it, e.g. oiiotool IN --eraseattrib {kind} -o OUT"
            ) from None
        raise InputError(f"{path}: not a readable EXR ({reason}); re-render or re-copy the file") from None
    if not exr.parts or exr.parts[0].part_index != 0:
        raise InputError(
            f"{path}: EXR is truncated or damaged (pixel data unreadable); re-render or re-copy it"
        )
    return exr


#: Largest width or height accepted (OpenEXR allows more; no plate is this big, a damaged header often is).
MAX_SIDE = 1 << 17
#: Largest frame accepted, counted at 4 bytes a sample (the header alone does not give pixel types).
MAX_FRAME_BYTES = 16 << 30


def _check_supported(path: Path, attributes: Mapping[str, Any]) -> None:
    """Refuse from the header alone, before any pixel is read: deep and sub-sampled images, and data windows
    that are absurd or bigger than :data:`MAX_FRAME_BYTES` (a damaged header claiming millions of pixels
    would otherwise cost seconds and gigabytes before failing). ``aifx info`` and ``aifx fill`` share it."""
    storage = attributes.get("type")
    if storage in (OpenEXR.deepscanline, OpenEXR.deeptile):
        raise InputError(
            f"{path}: deep EXR images are not supported; flatten it first (e.g. Nuke DeepToImage)"
        )
    for channel in attributes.get("channels", []):
        try:
            channel.name  # noqa: B018 - a damaged header can hold names that are not text
        except UnicodeDecodeError:
            raise InputError(
                f"{path}: EXR header is damaged (a channel name is not text); re-render or re-copy the file"
            ) from None
        if channel.xSampling != 1 or channel.ySampling != 1:
            raise InputError(
                f"{path}: channel {channel.name} is sub-sampled (luminance/chroma EXR); "
                "convert it to full-resolution RGB first"
            )
    if "dataWindow" not in attributes:
        raise InputError(f"{path}: EXR header has no data window; re-render or re-copy the file")
    x0, y0, x1, y1 = _window(attributes["dataWindow"])
    width, height = x1 - x0 + 1, y1 - y0 + 1
    if width < 1 or height < 1 or width > MAX_SIDE or height > MAX_SIDE:
        raise InputError(
            f"{path}: EXR header claims a {width}x{height} image, which no plate is (damaged header?); "
            "re-render or re-copy the file"
        )
    samples = width * height * max(1, len(attributes.get("channels", [])))
    if samples * 4 > MAX_FRAME_BYTES:
        raise InputError(
            f"{path}: EXR is {width}x{height} with {len(attributes.get('channels', []))} channels, over the "
            f"{MAX_FRAME_BYTES >> 30} GB a frame may use; crop it or write fewer channels"
        )


def _part_names(exr: Any) -> list[str]:
    names = []
    for part in exr.parts:
        names.append(str(part.header.get("name", "")))
    return names


def _part_header(part: Any) -> tuple[dict[str, Any], list[str]]:
    """A part's attributes (less its channel list) and its channel names, from the header alone."""
    attributes = dict(part.header)
    return {k: v for k, v in attributes.items() if k != "channels"}, [
        c.name for c in attributes.get("channels", [])
    ]


def read_exr_info(path: Path) -> ImageInfo:
    """Header facts of the first part, without reading pixels."""
    exr = _open(path, header_only=True)
    attributes = dict(exr.parts[0].header)
    _check_supported(path, attributes)
    data_window = _window(attributes["dataWindow"])
    channels = _channel_types(path, [c.name for c in attributes.get("channels", [])])
    colorspace, reason = guess_colorspace("exr", attributes, "float")
    return ImageInfo(
        path=path,
        format="exr",
        data_window=data_window,
        display_window=_window(attributes.get("displayWindow", attributes["dataWindow"])),
        channels=channels,
        compression=compression_name(attributes.get("compression", "none")),
        colorspace=colorspace,
        colorspace_reason=reason,
        attributes={k: v for k, v in attributes.items() if k != "channels"},
        parts=len(exr.parts),
        part_names=_part_names(exr),
        other_parts=[_part_header(part) for part in exr.parts[1:]],
        tiled=attributes.get("type") == OpenEXR.tiledimage,
    )


def _channel_types(path: Path, names: list[str]) -> dict[str, str]:
    """Pixel type per channel from the header alone.

    The bindings give no pixel types without reading pixels, so OpenImageIO reads the header for this; the
    names come back in OIIO's order (R, G, B, A first), which is also the friendlier order to show.
    """
    import OpenImageIO as oiio

    found: dict[str, str] = {}
    with decoder_messages_silenced():
        source = oiio.ImageInput.open(str(path))
    if source is not None:
        spec = source.spec()
        formats = list(spec.channelformats) or [spec.format] * spec.nchannels
        found = {name: str(fmt) for name, fmt in zip(spec.channelnames, formats, strict=False)}
        source.close()
    else:
        oiio.geterror()  # clear it; the names below still say what is there
    return {name: found[name] for name in found if name in names} | {
        name: "?" for name in names if name not in found
    }


def read_exr(path: Path) -> Image:
    """Every channel of the first part in its stored dtype, plus every header attribute."""
    _check_supported(path, dict(_open(path, header_only=True).parts[0].header))  # before any pixel
    exr = _open(path, header_only=False)
    part = exr.parts[0]
    attributes = dict(part.header)
    _check_supported(path, attributes)
    data_window = _window(attributes["dataWindow"])
    channels = {name: np.ascontiguousarray(channel.pixels) for name, channel in part.channels.items()}
    colorspace, reason = guess_colorspace("exr", attributes, "float")
    header = {
        "format": "exr",
        "attributes": {k: v for k, v in attributes.items() if k != "channels"},
        "compression": compression_name(attributes.get("compression", "none")),
        "data_window": data_window,
        "display_window": _window(attributes.get("displayWindow", attributes["dataWindow"])),
        "parts": len(exr.parts),
        "part_names": _part_names(exr),
        "tiled": attributes.get("type") == OpenEXR.tiledimage,
        "colorspace": colorspace,
        "colorspace_reason": reason,
        "plinear": [_plinear(p) for p in exr.parts],
    }
    if not channels:
        raise InputError(f"{path}: EXR has no channels; re-render it")
    if len(exr.parts) > 1:
        header["other_parts"] = [_carried_part(path, other) for other in exr.parts[1:]]
    return Image(channels=channels, header=header, source=path)


def _plinear(part: Any) -> list[str]:
    """The names of a part's channels flagged pLinear (perceptually linear: a hint to lossy codecs such as
    B44), so that the output flags them too (every flag was written as 0)."""
    return sorted(name for name, channel in part.channels.items() if channel.pLinear)


def _carried_part(path: Path, part: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A part after the first, kept whole so the output carries it through untouched."""
    attributes = dict(part.header)
    name = attributes.get("name", part.part_index)
    if attributes.get("type") in (OpenEXR.deepscanline, OpenEXR.deeptile):
        raise InputError(
            f"{path}: part {name!r} is deep and cannot be carried through; split it off first "
            "(e.g. oiiotool --subimage)"
        )
    channels = {n: np.ascontiguousarray(c.pixels) for n, c in part.channels.items()}
    return {k: v for k, v in attributes.items() if k != "channels"}, channels


def resolve_compression(name: str | None, header: Mapping[str, Any]) -> Any:
    """The OpenEXR compression for a write: the caller's name, else the source file's, else zip."""
    if name is None:
        attributes = header.get("attributes", {}) if header.get("format") == "exr" else {}
        if "compression" in attributes:
            return attributes["compression"]
        name = header.get("compression") if header.get("format") == "exr" else None
        name = name or DEFAULT_COMPRESSION
    found = compression_named(name)
    if found is None:
        raise InputError(f"unknown EXR compression {name!r}; use one of {', '.join(sorted(COMPRESSIONS))}")
    return found


def compression_named(name: str) -> Any | None:
    """The OpenEXR compression a caller's ``name`` means (any case, spaces around it ignored: ``" PIZ "``), or
    None where EXR has none of that name: the one rule for the writer and for a job's check before its run
    (:func:`~aifx_core.sequence.imageio.check_output_compression`), which words its refusal for the job."""
    return COMPRESSIONS.get(compression_name(name.strip().upper()))


def _exr_plane(plane: np.ndarray) -> np.ndarray:
    """A channel in a pixel type EXR stores, scaled to 0..1 from an integer plate and every code kept: 8-bit
    becomes half (each of 256 codes comes back exact), 16-bit (a 10/12-bit DPX scan read as 16) float, since
    half holds 11 bits: written as half, most samples of a 16-bit plate moved, outside the mask too."""
    if plane.dtype in _PIXEL_TYPE_NAMES:
        return np.ascontiguousarray(plane)
    if plane.dtype == np.uint8:
        return np.ascontiguousarray(to_float(plane).astype(np.float16))
    if plane.dtype == np.uint16:
        return np.ascontiguousarray(to_float(plane).astype(np.float32))
    return np.ascontiguousarray(plane.astype(np.float32))


def exr_attributes(image: Image, compression: str | None) -> dict[str, Any]:
    """The header to write ``image`` with: the source EXR's attributes, windows fitted to the pixels."""
    header = image.header
    from_exr = header.get("format") == "exr"
    attributes: dict[str, Any] = dict(header.get("attributes", {})) if from_exr else {}
    for name in _DERIVED_ATTRIBUTES:
        attributes.pop(name, None)
    height, width = image.shape
    x0, y0 = (header.get("data_window") or (0, 0, 0, 0))[:2]
    data_window = (x0, y0, x0 + width - 1, y0 + height - 1)
    display_window = header.get("display_window") or data_window
    attributes["dataWindow"] = _window_attribute(data_window)
    attributes["displayWindow"] = _window_attribute(tuple(display_window))  # type: ignore[arg-type]
    attributes["compression"] = resolve_compression(compression, header)
    if not from_exr and header.get("write_colorspace"):
        attributes["colorInteropID"] = str(header["write_colorspace"])
    if header.get("format") == "dpx":
        attributes.update(for_exr(header.get("attributes", {})))  # (timecode, keycode, frame rate)
    return _storage_for_write(attributes)


def _storage_for_write(attributes: dict[str, Any]) -> dict[str, Any]:
    tiles = attributes.get("tiles")
    storage = attributes.get("type", OpenEXR.scanlineimage)
    if storage != OpenEXR.tiledimage or tiles is None or tiles.mode != OpenEXR.ONE_LEVEL:
        # Scanline output (also for mip-mapped sources, whose other levels were not read).
        attributes.pop("tiles", None)
        attributes["type"] = OpenEXR.scanlineimage
        if attributes.get("lineOrder") == OpenEXR.RANDOM_Y:
            attributes["lineOrder"] = OpenEXR.INCREASING_Y
    return attributes


def _other_part(attributes: dict[str, Any], channels: dict[str, np.ndarray], plinear: list[str]) -> Any:
    """A part carried through untouched (its own header, pixels and pLinear flags); a lossy compression
    becomes ZIP."""
    attributes = {k: v for k, v in attributes.items() if k not in _DERIVED_ATTRIBUTES}
    if compression_name(attributes.get("compression", "none")) in LOSSY:
        attributes["compression"] = COMPRESSIONS[DEFAULT_COMPRESSION]
    return OpenEXR.Part(
        _storage_for_write(attributes), _flagged(channels, plinear), str(attributes.get("name", ""))
    )


def _flagged(channels: dict[str, np.ndarray], plinear: list[str]) -> dict[str, Any]:
    """``channels`` for the bindings, those named in ``plinear`` as channels flagged pLinear."""
    return {
        name: OpenEXR.Channel(plane, 1, 1, True) if name in plinear else plane
        for name, plane in channels.items()
    }


#: OpenEXRCore's ``exr_set_default_zip_compression_level`` (exported by the bindings' module), False where
#: it cannot be found (then writes keep the library's default level); None until first looked up.
_ZIP_LEVEL_SETTER: Any = None
#: The level last set through it (``-1``: the library's default).
_zip_level_set: int | None = None


def _zip_level_setter() -> Any:
    """OpenEXRCore's setter of the default zip level, or False where the bindings do not export it."""
    global _ZIP_LEVEL_SETTER
    if _ZIP_LEVEL_SETTER is None:
        try:
            setter = ctypes.CDLL(OpenEXR.__file__).exr_set_default_zip_compression_level
            setter.argtypes, setter.restype = [ctypes.c_int], None
            _ZIP_LEVEL_SETTER = setter
        except (OSError, AttributeError, TypeError):
            _ZIP_LEVEL_SETTER = False
    return _ZIP_LEVEL_SETTER


def _use_zip_level() -> None:
    """Make :data:`EXR_ZIP_LEVEL` OpenEXRCore's default zip level (once per value; a no-op without the setter)."""
    global _zip_level_set
    level = -1 if EXR_ZIP_LEVEL is None else int(EXR_ZIP_LEVEL)
    if level != _zip_level_set:
        setter = _zip_level_setter()
        if setter:
            setter(level)
            _zip_level_set = level


def write_exr(path: Path, image: Image, compression: str | None = None) -> None:
    """Write a single-part EXR (call through :func:`~aifx_core.sequence.imageio.write_image` for atomicity).

    ``compression`` is a name from :data:`COMPRESSIONS`; by default the source file's is kept. ZIP and ZIPS
    are written at :data:`EXR_ZIP_LEVEL`.
    """
    if not image.channels:
        raise InputError(f"{path}: nothing to write (the image has no channels)")
    _use_zip_level()
    attributes = exr_attributes(image, compression)
    channels = _flagged(
        {name: _exr_plane(plane) for name, plane in image.channels.items()}, _plinear_of(image, 0)
    )
    others = (image.header.get("other_parts") or []) if image.header.get("format") == "exr" else []
    if not others:
        OpenEXR.File(attributes, channels).write(str(path))
        return
    name = _multipart_name(image) or "rgba"
    parts = [OpenEXR.Part(attributes, channels, name)]
    parts += [_other_part(dict(a), c, _plinear_of(image, i)) for i, (a, c) in enumerate(others, 1)]
    OpenEXR.File(parts).write(str(path))


def _plinear_of(image: Image, part: int) -> list[str]:
    """The channels of part ``part`` its plate EXR flagged pLinear (none from another format)."""
    flags = (image.header.get("plinear") or []) if image.header.get("format") == "exr" else []
    return list(flags[part]) if part < len(flags) else []


def _multipart_name(image: Image) -> str:
    names = image.header.get("part_names") or []
    return str(image.header.get("attributes", {}).get("name") or (names[0] if names else ""))


def pixel_type_name(dtype: np.dtype) -> str:
    """``float16`` → ``"half"``, as EXR tools say it; other dtypes by their numpy name."""
    return _PIXEL_TYPE_NAMES.get(np.dtype(dtype), np.dtype(dtype).name)
