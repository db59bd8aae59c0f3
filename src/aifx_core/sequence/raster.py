"""PNG, TIFF, JPEG and DPX through OpenImageIO: 8/10/12/16-bit integer and float (TIFF) images.

Channels are named as OpenImageIO names them (``R,G,B`` / ``R,G,B,A`` / ``Y`` / ``Y,A``) and kept in the
stored dtype (uint8, uint16, float32; half TIFF stays float16). Alpha is read as stored, never premultiplied
or divided on the way through, so an RGBA round trip is bit-exact; it is written *unassociated* (as PNG stores
it), but a TIFF whose plate TIFF had associated (premultiplied) alpha is written associated again.

``Image.header`` keys written by :func:`read_raster`:

* ``format``: ``"png"``, ``"tiff"``, ``"jpeg"`` or ``"dpx"``
* ``dtype``: the stored sample type (``"uint8"``, ``"uint16"``, ``"float32"``...)
* ``bit_depth``: 8, 16 or 32
* ``attributes``: OpenImageIO metadata by name (``XResolution``/``YResolution``/``ResolutionUnit`` (DPI),
  ``ICCProfile``, ``Software``, ``oiio:ColorSpace``, a DPX's ``dpx:Transfer``, ``smpte:TimeCode``...); written
  back where the target format allows
* ``attribute_types``: the OpenImageIO type of each DPX/SMPTE item that is not a plain number or text (a
  timecode, a keycode), so it is written back as the same type
* ``byte_order``: a DPX's (``"big"``: ``SDPX``, as film scanners write them; ``"little"``: ``XPDS``), which a
  DPX written from it keeps (OpenImageIO does not report it, and would write the machine's)
* ``compression``: as OpenImageIO names it (``"zip"``, ``"lzw"``, ``"jpeg"``...)
* ``data_window`` / ``display_window``: both the frame at (0,0) (see :func:`_windows`); ``origin``: the
  file's pixel offset and full size as OpenImageIO reads them (PNG oFFs, TIFF XPosition/YPosition, DPX X/Y
  offset), None where there is none; written back to a file of the same format
* ``colorspace`` / ``colorspace_reason``: as for EXR

Bit depth of a write (no colour conversion happens here: values are only rescaled, see
:func:`~aifx_core.sequence.image.from_float`): an explicit ``bit_depth`` wins; else an image read from a
PNG/TIFF/JPEG keeps its depth when the target can store it; else PNG gets 16-bit, TIFF keeps float data as
float32 (lossless, HDR kept) and integer data as is, JPEG is always 8-bit. A DPX read and written as DPX keeps
its bits per sample (a 10-bit film scan stays 10-bit, its values exact: OpenImageIO widens 10 bits to 16 by
repeating the high bits and narrows them back by dropping them); others get 16-bit. Only colour and alpha are
written (JPEG: colour only); other channels (``Z``, ``diffuse.R``...) need EXR. Pixels are the data window.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import OpenImageIO as oiio

from ..errors import InputError
from .image import Image, from_float, to_float
from .imageinfo import ImageInfo, Window, guess_colorspace
from .quiet import decoder_messages_silenced
from .smpte import for_dpx

#: Format name for each extension handled here.
RASTER_FORMATS = {
    ".png": "png",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".dpx": "dpx",
}
#: Sample types each format can store, best first.
_FORMAT_DTYPES = {
    "png": (np.uint16, np.uint8),
    "tiff": (np.float32, np.uint16, np.uint8, np.float16),
    "jpeg": (np.uint8,),
    "dpx": (np.uint16, np.uint8),
}
_DEFAULT_COMPRESSION = {"png": "zip", "tiff": "zip", "jpeg": "jpeg:95", "dpx": "none"}
#: zlib level of a PNG write (``--compression zip:N`` picks another). libpng's default (6, with every row
#: filter tried) costs 46 ms per 432x240 frame and 0.8 s per 1080p frame; level 1 with the Paeth filter
#: 10 ms and 0.14 s, for files 5-20 % larger. Still lossless: a fill is written once and read a few times.
PNG_ZIP_LEVEL = 1
#: libpng's PNG_FILTER_PAETH: one filter for every row instead of trying all five.
_PNG_FILTER_PAETH = 0x80
# What a format is compressed with when its reader does not say (PNG is always deflate).
_IMPLIED_COMPRESSION = {"png": "zip", "jpeg": "jpeg", "dpx": "none"}
_DTYPE_FOR_BASETYPE = {
    oiio.UINT8: np.uint8,
    oiio.UINT16: np.uint16,
    oiio.HALF: np.float16,
    oiio.FLOAT: np.float32,
}
_TYPEDESC_FOR_DTYPE = {
    np.dtype(np.uint8): oiio.UINT8,
    np.dtype(np.uint16): oiio.UINT16,
    np.dtype(np.float16): oiio.HALF,
    np.dtype(np.float32): oiio.FLOAT,
}
# Metadata that describes how the source file was encoded (set fresh on write) or is derived from others.
_NOT_COPIED = {
    "oiio:BitsPerSample",
    "oiio:UnassociatedAlpha",
    "oiio:subimages",
    "planarconfig",
    "compression",
}
_NOT_COPIED_PREFIXES = ("ICCProfile:", "tiff:", "png:")
#: Metadata whose typed values (a timecode, a keycode: tuples) are written back with their type.
_TYPED_PREFIXES = ("dpx:", "smpte:")
#: Where a DPX header holds its image file name (SMPTE 268M: ASCII, NUL-padded), and its length.
_DPX_FILE_NAME_AT, _DPX_FILE_NAME_BYTES = 36, 100
#: A DPX's magic number and the byte order it means (the sniffer's magic numbers for DPX too).
DPX_BYTE_ORDERS = {b"SDPX": "big", b"XPDS": "little"}
#: Bits per sample of a packed integer file read as uint16 (a DPX scan), kept when written as DPX.
_PACKED_BITS = (10, 12)


def _error_text(obj: Any = None) -> str:
    text = (obj.geterror() if obj is not None else "") or oiio.geterror()
    return " ".join(text.split())[:300] or "unknown error"


def _config() -> oiio.ImageSpec:
    config = oiio.ImageSpec()
    config.attribute("oiio:UnassociatedAlpha", 1)
    return config


def _attributes(spec: oiio.ImageSpec) -> dict[str, Any]:
    return {p.name: p.value for p in spec.extra_attribs}


def _attribute_types(spec: oiio.ImageSpec) -> dict[str, str]:
    """The type of each DPX/SMPTE item that :func:`_copy_attribute` cannot tell from its value."""
    return {
        p.name: str(p.type)
        for p in spec.extra_attribs
        if p.name.startswith(_TYPED_PREFIXES) and not isinstance(p.value, (str, int, float))
    }


def _windows(spec: oiio.ImageSpec) -> tuple[Window, Window]:
    """(data window, display window): both the frame at (0,0). A PNG's pixel offset (oFFs), a TIFF's
    XPosition/YPosition or a DPX's X/Y offset is not a data window in a compositor's sense: Nuke and viewers
    show the pixels at (0,0). Read as one, every filled frame came out shifted (black rows, the matte applied
    to the shifted picture) or the plate was taken for a bigger one and its mask refused. The offset is kept
    as read (:func:`_origin`) and written back to a file of the same format."""
    frame = (0, 0, spec.width - 1, spec.height - 1)
    return frame, frame


#: The ImageSpec fields that hold a file's pixel offset and stated full size.
_ORIGIN_FIELDS = ("x", "y", "full_x", "full_y", "full_width", "full_height")
#: Those written back: what reads back as the plate read, TIFF and DPX alike. A TIFF has no full origin (its
#: reader says ``full_x = x`` where the full size is the image's, else 0), and OpenImageIO's writer stretches
#: the full size over a ``full_x`` it is given: a 64x48 plate at (10,5) came back as full 74x53 at (0,0).
_WRITTEN_ORIGIN = ("x", "y", "full_width", "full_height")


def _origin(spec: oiio.ImageSpec) -> dict[str, int] | None:
    """The file's pixel offset and full size as OpenImageIO reads them (``x``, ``y``, ``full_*``), or None
    where they say nothing (offset 0, full size the image's)."""
    found = {name: int(getattr(spec, name)) for name in _ORIGIN_FIELDS}
    plain = {"x": 0, "y": 0, "full_x": 0, "full_y": 0, "full_width": spec.width, "full_height": spec.height}
    if not found["full_width"] or not found["full_height"]:
        found["full_width"], found["full_height"] = spec.width, spec.height
    return None if found == plain else found


def _open(path: Path) -> oiio.ImageInput:
    with decoder_messages_silenced():
        source = oiio.ImageInput.open(str(path), _config())
    if source is None:
        raise InputError(f"{path}: not a readable image ({_error_text()}); re-render or re-copy the file")
    return source


#: Pages of a multi-page file counted (to say that there are more than one; the count stops here).
MAX_PAGES = 1000


def _images_in(source: oiio.ImageInput) -> int:
    """How many images (a multi-page TIFF's pages) the file holds; aifx reads the first. Leaves the reader
    on the first again."""
    count = 1
    while count < MAX_PAGES and source.seek_subimage(count, 0):
        count += 1
    source.seek_subimage(0, 0)
    return count


def read_raster_info(path: Path, fmt: str) -> ImageInfo:
    """Header facts without reading pixels."""
    source = _open(path)
    try:
        spec = source.spec()
        formats = list(spec.channelformats) or [spec.format] * spec.nchannels
        attributes = _attributes(spec)
        pages = _images_in(source)
    finally:
        source.close()
    dtype = np.dtype(_DTYPE_FOR_BASETYPE.get(spec.format.basetype, np.float32)).name
    data, display = _windows(spec)
    colorspace, reason = guess_colorspace(fmt, attributes, dtype)
    return ImageInfo(
        path=path,
        format=fmt,
        data_window=data,
        display_window=display,
        channels={
            name: _type_name(t, attributes.get("oiio:BitsPerSample"))
            for name, t in zip(spec.channelnames, formats, strict=False)
        },
        compression=spec.get_string_attribute("compression") or _IMPLIED_COMPRESSION.get(fmt),
        colorspace=colorspace,
        colorspace_reason=reason,
        attributes=attributes,
        parts=pages,
        tiled=spec.tile_width > 0,
    )


def _type_name(typedesc: oiio.TypeDesc, bits: Any = None) -> str:
    """``uint8``, ``uint16``, ``float``...; a 10- or 12-bit file (a DPX scan) read as uint16 says so."""
    dtype = _DTYPE_FOR_BASETYPE.get(typedesc.basetype)
    name = "float" if dtype is np.float32 else np.dtype(dtype).name if dtype else str(typedesc)
    return f"{bits}-bit, read as {name}" if dtype is np.uint16 and bits in _PACKED_BITS else name


def read_raster(path: Path, fmt: str, head: bytes = b"") -> Image:
    """All channels in the stored dtype (other integer depths, e.g. 32-bit TIFF, come as float32). ``head``:
    the file's first bytes as already read (a DPX's magic number says its byte order)."""
    source = _open(path)
    try:
        spec = source.spec()
        dtype = _DTYPE_FOR_BASETYPE.get(spec.format.basetype, np.float32)
        if fmt == "dpx":
            _check_dpx_whole(path, spec)
        source.geterror()  # (clears what opening left, so only the pixels' read counts below)
        with decoder_messages_silenced():
            pixels = source.read_image(0, 0, 0, spec.nchannels, _TYPEDESC_FOR_DTYPE[np.dtype(dtype)])
        # libtiff and libjpeg hand back the pixels of a file cut short (the missing rows as zeros or stale
        # memory: a float TIFF held +-3e38) and only set the reader's error ("TIFFReadEncodedStrip failed",
        # "Premature end of JPEG file"), so an error counts as much as no pixels.
        if pixels is None or source.has_error:
            raise InputError(
                f"{path}: {fmt.upper()} is truncated or damaged ({_error_text(source)}); re-render or re-copy it"
            )
        attributes = _attributes(spec)
        attribute_types = _attribute_types(spec)
        pages = _images_in(source)
    finally:
        source.close()
    pixels = np.asarray(pixels).reshape(spec.height, spec.width, spec.nchannels)
    names = list(spec.channelnames) or [f"C{i}" for i in range(spec.nchannels)]
    channels = {name: np.ascontiguousarray(pixels[:, :, i]) for i, name in enumerate(names)}
    data, display = _windows(spec)
    dtype_name = np.dtype(dtype).name
    colorspace, reason = guess_colorspace(fmt, attributes, dtype_name)
    header = {
        "format": fmt,
        "dtype": dtype_name,
        "bit_depth": np.dtype(dtype).itemsize * 8,
        "attributes": attributes,
        "attribute_types": attribute_types,
        "byte_order": DPX_BYTE_ORDERS.get(head[:4]) if fmt == "dpx" else None,
        "compression": spec.get_string_attribute("compression") or _IMPLIED_COMPRESSION.get(fmt),
        "data_window": data,
        "display_window": display,
        "origin": _origin(spec),
        "colorspace": colorspace,
        "colorspace_reason": reason,
        "parts": pages,  # (only the first is read and written: :func:`~aifx_core.pipeline` says so)
    }
    return Image(channels=channels, header=header, source=path)


#: Where a DPX header holds its image data offset and its total file size (uint32 in the header's byte order).
_DPX_DATA_OFFSET_AT, _DPX_FILE_SIZE_AT = 4, 16
#: A DPX header's "undefined" value for a uint32 field.
_DPX_UNDEFINED = 0xFFFFFFFF


def _check_dpx_whole(path: Path, spec: oiio.ImageSpec) -> None:
    """Refuse a DPX shorter than its header says. OpenImageIO reads a 10-bit DPX cut short without a word (the
    missing rows come back as whatever the buffer held), so the size is checked here: against the header's total
    file size where it is set, and in any case against the data offset plus the pixels packed as tightly as
    any DPX packing can hold them (a lower bound, right for headers that leave the size undefined)."""
    try:
        size = os.stat(path).st_size
        with open(path, "rb") as handle:
            head = handle.read(_DPX_FILE_SIZE_AT + 4)
    except OSError:
        return  # (the read that follows names what is wrong)
    order = DPX_BYTE_ORDERS.get(head[:4])
    if order is None or len(head) < _DPX_FILE_SIZE_AT + 4:
        return
    fmt = ">I" if order == "big" else "<I"
    (offset,) = struct.unpack_from(fmt, head, _DPX_DATA_OFFSET_AT)
    (total,) = struct.unpack_from(fmt, head, _DPX_FILE_SIZE_AT)
    bits = int(spec.get_int_attribute("oiio:BitsPerSample", 0)) or spec.format.size() * 8
    needed = (spec.width * spec.height * spec.nchannels * bits + 7) // 8
    if offset != _DPX_UNDEFINED:
        needed += offset
    if total not in (0, _DPX_UNDEFINED):
        needed = max(needed, total)
    if size < needed:
        raise InputError(
            f"{path}: DPX is truncated or damaged (the file is {size} bytes, its header says {needed}); "
            "re-render or re-copy it"
        )


def target_dtype(image: Image, fmt: str, bit_depth: int | None = None) -> np.dtype:
    """The sample type ``image`` is written with in ``fmt`` (see the module docstring for the rules)."""
    allowed = [np.dtype(d) for d in _FORMAT_DTYPES[fmt]]
    if bit_depth is not None:
        wanted = {8: np.uint8, 16: np.uint16, 32: np.float32}.get(bit_depth)
        if wanted is None or np.dtype(wanted) not in allowed:
            depths = sorted({d.itemsize * 8 for d in allowed if d != np.float16})
            raise InputError(
                f"{fmt.upper()} cannot store {bit_depth}-bit samples; use --bit-depth "
                + " or ".join(map(str, depths))
            )
        return np.dtype(wanted)
    header = image.header
    if header.get("format") in _FORMAT_DTYPES and header.get("dtype"):
        source = np.dtype(header["dtype"])
        if source in allowed:
            return source
    dtypes = {plane.dtype for plane in image.channels.values()}
    if len(dtypes) == 1 and next(iter(dtypes)) in allowed:
        return next(iter(dtypes))
    if fmt == "tiff" and any(d.kind == "f" for d in dtypes):
        return np.dtype(np.float32)
    return allowed[0] if fmt != "tiff" else np.dtype(np.uint16)


def _convert(plane: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if plane.dtype == dtype:
        return plane
    if dtype.kind == "f":
        return to_float(plane).astype(dtype)
    return from_float(to_float(plane), dtype)


def written_channels(image: Image, fmt: str) -> list[str]:
    """Channels a ``fmt`` file gets, in the order the format expects: colour (``R,G,B`` or ``Y``), then
    alpha for PNG/TIFF, then, for a TIFF from a TIFF plate, the plate's other samples in their order (a
    second matte, a spot channel: TIFF holds them as extra samples, unnamed, as it held them). Other channels
    are left out (the pipeline says so): PNG/JPEG cannot hold them, and a TIFF would lose their names."""
    try:
        names = list(image.colour_names())
    except InputError:
        found = ", ".join(image.channels) or "none"
        raise InputError(
            f"{fmt.upper()} needs colour channels but the image has no R,G,B (or Y), found {found}; "
            "write an EXR to keep these channels"
        ) from None
    if fmt != "jpeg" and "A" in image.channels:
        names.append("A")
    if fmt == "tiff" and image.header.get("format") == "tiff":
        names += [name for name in image.channels if name not in names]
    return names


def write_raster(
    path: Path,
    image: Image,
    fmt: str,
    compression: str | None = None,
    bit_depth: int | None = None,
    *,
    file_name: str | None = None,
) -> None:
    """Write a PNG/TIFF/JPEG/DPX (call through :func:`~aifx_core.sequence.imageio.write_image` for atomicity).

    ``file_name``: the file's name once in place, where ``path`` is the temp file it is renamed from; a DPX's header
    holds it (:func:`_set_dpx_file_name`)."""
    dtype = target_dtype(image, fmt, bit_depth)
    names = written_channels(image, fmt)
    pixels = np.stack([_convert(image.channels[n], dtype) for n in names], axis=-1)
    height, width = image.shape
    spec = oiio.ImageSpec(width, height, len(names), _TYPEDESC_FOR_DTYPE[dtype])
    spec.channelnames = tuple(names)
    spec.alpha_channel = names.index("A") if "A" in names else -1
    if image.header.get("format") in _FORMAT_DTYPES:
        types = image.header.get("attribute_types", {})
        for name, value in image.header.get("attributes", {}).items():
            if name in _NOT_COPIED or name.startswith(_NOT_COPIED_PREFIXES):
                continue
            _copy_attribute(spec, name, value, types.get(name))
    if image.header.get("format") == "exr" and fmt == "dpx":
        for name, (typename, value) in for_dpx(image.header.get("attributes", {})).items():
            _copy_attribute(spec, name, value, typename)  # (timecode, keycode, frame rate)
    if image.header.get("format") != fmt and image.header.get("write_colorspace"):
        spec.attribute("oiio:ColorSpace", str(image.header["write_colorspace"]))
    if fmt == "dpx" and image.header.get("format") != fmt and image.header.get("write_transfer"):
        spec.attribute("dpx:Transfer", str(image.header["write_transfer"]))  # DPX keeps no colourspace name
    bits = image.header.get("attributes", {}).get("oiio:BitsPerSample")
    if fmt == "dpx" and image.header.get("format") == "dpx" and dtype == np.uint16 and bits in _PACKED_BITS:
        spec.attribute("oiio:BitsPerSample", int(bits))  # a 10-bit scan stays 10-bit (exact, see above)
    if fmt == "dpx" and image.header.get("byte_order") in DPX_BYTE_ORDERS.values():
        spec.attribute("oiio:Endian", image.header["byte_order"])
    origin = _same_origin(image, fmt)
    if origin and fmt != "png":
        for name in _WRITTEN_ORIGIN:
            setattr(spec, name, origin[name])
    spec.attribute("oiio:UnassociatedAlpha", 0 if _associated_tiff(image, fmt, names) else 1)
    same_format = image.header.get("format") == fmt and image.header.get("compression")
    chosen = compression or (image.header["compression"] if same_format else _DEFAULT_COMPRESSION[fmt])
    spec.attribute("compression", chosen)
    if fmt == "png":
        _png_speed(spec, chosen)
    if fmt == "jpeg":
        _check_room_for_jpeg(path, pixels.nbytes)
    out = oiio.ImageOutput.create(str(path))
    if out is None:
        raise InputError(f"{path}: cannot write this image type ({_error_text()})")
    if not out.open(str(path), spec):
        raise OSError(f"{path}: cannot open for writing: {_error_text(out)}")
    ok = out.write_image(np.ascontiguousarray(pixels))
    closed = out.close()
    message = out.geterror()
    # libpng reports a short write (disk full) only through the error text, not the return values; a PNG small
    # enough for the file's buffer (a flat confidence sidecar: a few hundred bytes) reaches the disk only when it
    # is closed, an error OpenImageIO drops, and came out empty with no error at all (png_whole).
    cut = fmt == "png" and ok and closed and not png_whole(path)
    if not ok or not closed or "Write error" in message or cut:
        detail = " ".join(message.split())[:300] or (
            "the file came out cut short" if cut else "unknown error"
        )
        code = _write_errno(path)
        if code is not None:
            raise OSError(code, f"{os.strerror(code)} ({detail})", str(path))
        raise OSError(f"{path}: writing failed: {detail}")
    if origin and fmt == "png":
        _set_png_offset(path, origin["x"], origin["y"])
    if fmt == "dpx":
        _set_dpx_file_name(path, file_name or path.name)


#: The last 12 bytes of every whole PNG: its IEND chunk (length 0, type, CRC).
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def png_whole(path: Path) -> bool:
    """Does the PNG at ``path`` end with its IEND chunk, as every whole one does? One that lost its last buffer to
    a full disk is empty or cut short there."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            if handle.tell() < 8 + len(_PNG_END):
                return False
            handle.seek(-len(_PNG_END), os.SEEK_END)
            return handle.read() == _PNG_END
    except OSError:
        return False


def _same_origin(image: Image, fmt: str) -> dict[str, int] | None:
    """The pixel offset (and full size) a file is written with: its plate file's, for a file of the plate's
    format, so a fill keeps what the plate said (see :func:`_windows`); none for another format."""
    origin = image.header.get("origin")
    if not origin or image.header.get("format") != fmt or fmt == "jpeg":
        return None
    return dict(origin)


def _set_png_offset(path: Path, x: int, y: int) -> None:
    """Put a PNG plate's pixel offset back into the PNG OpenImageIO just wrote: its PNG writer always writes an
    oFFs chunk at (0,0) (it keeps no origin), so that chunk's body and checksum are rewritten in place, same
    length. Nothing is done where there is none (a writer that drops the chunk)."""
    with open(path, "r+b") as handle:
        handle.seek(8)  # (the PNG signature)
        while len(head := handle.read(8)) == 8:
            length, kind = struct.unpack(">I4s", head)
            if kind == b"IDAT":
                return
            if kind == b"oFFs" and length == 9:
                body = struct.pack(">iiB", x, y, 0)  # (unit 0: pixels)
                handle.write(body + struct.pack(">I", zlib.crc32(kind + body)))
                return
            handle.seek(length + 4, 1)


def _set_dpx_file_name(path: Path, name: str) -> None:
    """Put the frame's own file name into the DPX header's file name field (100 bytes at offset 36), where
    OpenImageIO's writer puts the name it was opened with: the hidden temp file's (``.c.1003.aifx-tmp-<pid>-
    <token>.dpx``), so no two runs gave the same bytes (a resumed output failed an md5 check against an
    uninterrupted run) and conform tools showed a file that does not exist. The base name, as the field is
    read against the file beside it: the same wherever the folder is mounted, and never cut at 100 bytes."""
    raw = name.encode("utf-8")[: _DPX_FILE_NAME_BYTES - 1].decode("utf-8", "ignore").encode("utf-8")
    with open(path, "r+b") as handle:
        handle.seek(_DPX_FILE_NAME_AT)
        handle.write(raw.ljust(_DPX_FILE_NAME_BYTES, b"\0"))


def _associated_tiff(image: Image, fmt: str, names: list[str]) -> bool:
    """Whether a TIFF is written with associated (premultiplied) alpha: when its plate TIFF was stored so.

    The values are read as stored either way (no premultiply or divide on the way through); the file must
    say what they are, or an associated plate comes back marked unassociated and every other reader
    multiplies its colour by alpha again, outside the mask too."""
    stored = image.header.get("attributes", {}).get("oiio:UnassociatedAlpha")
    return fmt == "tiff" and image.header.get("format") == "tiff" and "A" in names and stored != 1


#: The codecs a ``--compression`` may name per format (OpenImageIO's names; ``zip:N``, ``jpeg:Q`` carry a level).
#: OpenImageIO ignores a name it does not know, so a typo would write the default without a word.
COMPRESSIONS = {
    "png": ("zip", "none"),
    "tiff": ("zip", "lzw", "packbits", "none", "jpeg"),
    "jpeg": ("jpeg",),
    "dpx": ("none",),
}


def check_compression(fmt: str, compression: str) -> None:
    """Refuse a ``compression`` the ``fmt`` writer does not know (an :class:`InputError` naming those it
    does), before any frame is written."""
    name, colon, level = compression.strip().lower().partition(":")
    known = COMPRESSIONS.get(fmt, ())
    if name in known and (not colon or (level.isdigit() and name in ("zip", "jpeg"))):
        if fmt == "png":
            png_zip_level(compression)  # (a zlib level over 9 is refused there)
        return
    levels = {"zip": "zip:0 to zip:9", "jpeg": "jpeg:1 to jpeg:100"}
    named = ", ".join(f"{n} ({levels[n]})" if n in levels else n for n in known)
    raise InputError(f"--compression {compression}: {fmt.upper()} output takes {named}")


def png_zip_level(compression: str | None) -> int | None:
    """The zlib level a PNG write with ``compression`` uses (:data:`PNG_ZIP_LEVEL` for plain ``zip``, N for
    ``zip:N``); None for another codec name. A bad level is an :class:`InputError`."""
    name, _, level = (compression or "zip").partition(":")
    if name.strip().lower() != "zip":
        return None
    if not level:
        return PNG_ZIP_LEVEL
    if not (level.strip().isdigit() and 0 <= int(level) <= 9):
        raise InputError(f"PNG compression {compression!r}: use zip, zip:0 to zip:9 (zlib level) or none")
    return int(level)


def _png_speed(spec: oiio.ImageSpec, compression: str) -> None:
    """A fast zlib level and one row filter for PNG (see :data:`PNG_ZIP_LEVEL`)."""
    level = png_zip_level(compression)
    if level is None:
        return
    spec.attribute("png:compressionLevel", level)
    if ":" not in compression:
        spec.attribute("png:filter", _PNG_FILTER_PAETH)


def _check_room_for_jpeg(path: Path, raw_bytes: int) -> None:
    """libjpeg ends the whole process (``exit(1)``) when a write fails, so a full disk or a file size limit
    (``ulimit -f``) must be caught before the encoder starts: refuse unless there is room for the uncompressed
    pixels (a JPEG is never larger)."""
    need = raw_bytes + 32 * 1024
    if _file_size_limit() < need:
        raise OSError(errno.EFBIG, "File too large (the file size limit is below the JPEG's size)", str(path))
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        return
    if free < need:
        raise OSError(errno.ENOSPC, "No space left on device (not enough room for the JPEG)", str(path))


def _file_size_limit() -> float:
    """This process's limit on the size of a file it writes (``ulimit -f``, ``RLIMIT_FSIZE``), in bytes; infinite
    where there is none (or no such limit exists, Windows)."""
    try:
        import resource
    except ImportError:
        return float("inf")
    soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    return float("inf") if soft == resource.RLIM_INFINITY else float(soft)


#: How much :func:`_write_errno` appends to learn why a write failed: beyond any tmpfs page or disk block.
_PROBE_BLOCK, _PROBE_BLOCKS = 64 * 1024, 16


def _write_errno(path: Path) -> int | None:
    """The errno a write to the end of ``path`` (a file whose write just failed) gets now, else ``None``.

    libpng and libtiff report a failed write only as text ("Write error at position ..."), with no errno, and a
    full disk (ENOSPC), a quota (EDQUOT) and a file size limit (``ulimit -f``, EFBIG) each need their own advice:
    free space alone told none of them apart (a size limit, or a quota, on a disk with room was an internal
    error). So the write is tried again, up to 1 MiB past the file's end, and the file cut back to its size.
    ``None`` where that succeeds: the cause was not the disk.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    except OSError as exc:
        return exc.errno
    size = os.fstat(fd).st_size
    try:
        for _ in range(_PROBE_BLOCKS):
            os.write(fd, bytes(_PROBE_BLOCK))
        os.fsync(fd)
        return None
    except OSError as exc:
        return exc.errno
    finally:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, size)
        os.close(fd)


def _copy_attribute(spec: oiio.ImageSpec, name: str, value: Any, typename: str | None = None) -> None:
    """Set one metadata item on ``spec``, keeping its type (``typename`` where the value does not say it, see
    :func:`_attribute_types`); values OIIO cannot type are skipped."""
    if typename is not None:
        spec.attribute(name, oiio.TypeDesc(typename), value)
    elif isinstance(value, np.ndarray) and value.dtype == np.uint8:
        spec.attribute(name, oiio.TypeDesc(f"uint8[{value.size}]"), value)
    elif isinstance(value, (str, int, float)):
        spec.attribute(name, value)
