"""Real damaged image files, made from good ones, as they turn up on shared storage.

Each maker takes a good file (written by a real encoder) and derives one kind of damage from its bytes,
so the readers are tested against the failures pipelines actually meet: renders killed mid-write, copies
cut short, headers overwritten, files renamed to the wrong extension, zero-byte placeholders.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import OpenEXR
import OpenImageIO as oiio


def write_good_exr(path: Path, width: int = 64, height: int = 48, tiled: bool = False) -> Path:
    """A half RGB EXR (no compression, so truncation cuts pixel data rather than a compressed block)."""
    rng = np.random.default_rng(7)
    plane = rng.random((height, width)).astype(np.float16)
    header: dict = {"compression": OpenEXR.NO_COMPRESSION, "type": OpenEXR.scanlineimage}
    if tiled:
        tiles = OpenEXR.TileDescription()
        tiles.xSize, tiles.ySize = 16, 16
        header.update(type=OpenEXR.tiledimage, tiles=tiles)
    OpenEXR.File(header, {"R": plane, "G": plane, "B": plane}).write(str(path))
    return path


def write_good_png(path: Path, width: int = 64, height: int = 48) -> Path:
    pixels = np.random.default_rng(8).integers(0, 256, (height, width, 3), dtype=np.uint8)
    out = oiio.ImageOutput.create(str(path))
    out.open(str(path), oiio.ImageSpec(width, height, 3, oiio.UINT8))
    out.write_image(pixels)
    out.close()
    return path


def write_good_raster(
    path: Path, typedesc: str, compression: str | None = None, bits: int | None = None
) -> Path:
    """A 64x48 RGB TIFF/DPX/JPEG of noise as OpenImageIO writes it (``bits=10``: a 10-bit DPX scan)."""
    pixels = np.random.default_rng(10).random((48, 64, 3)).astype(np.float32)
    spec = oiio.ImageSpec(64, 48, 3, typedesc)
    if compression:
        spec.attribute("compression", compression)
    if bits:
        spec.attribute("oiio:BitsPerSample", bits)
    out = oiio.ImageOutput.create(str(path))
    out.open(str(path), spec)
    out.write_image(pixels)
    out.close()
    return path


def truncated(good: Path, dest: Path, keep: float = 0.5) -> Path:
    """The first ``keep`` fraction of ``good``: a render or copy that stopped part-way."""
    data = good.read_bytes()
    dest.write_bytes(data[: int(len(data) * keep)])
    return dest


def garbage_header(good: Path, dest: Path) -> Path:
    """The right magic number followed by noise: a header overwritten on disk."""
    data = bytearray(good.read_bytes())
    noise = np.random.default_rng(9).integers(0, 256, 200, dtype=np.uint8).tobytes()
    data[4 : 4 + len(noise)] = noise
    dest.write_bytes(bytes(data))
    return dest


def wrong_magic(good: Path, dest: Path) -> Path:
    """Good data whose first bytes are not the format's magic number."""
    data = bytearray(good.read_bytes())
    data[:4] = b"GIF8"
    dest.write_bytes(bytes(data))
    return dest


def zero_length(dest: Path) -> Path:
    dest.write_bytes(b"")
    return dest


def renamed(good: Path, dest: Path) -> Path:
    """The same bytes under another extension (a PNG saved as ``.exr``)."""
    dest.write_bytes(good.read_bytes())
    return dest


def damaged_set(folder: Path) -> dict[str, Path]:
    """Every kind of damage, one file each, named after the damage."""
    folder.mkdir(parents=True, exist_ok=True)
    good_exr = write_good_exr(folder / "good.exr")
    good_tiled = write_good_exr(folder / "good_tiled.exr", tiled=True)
    good_png = write_good_png(folder / "good.png")
    good_rasters = {
        "tiff_u16": write_good_raster(folder / "good_u16.tif", "uint16", "none"),
        "tiff_float_zip": write_good_raster(folder / "good_float.tif", "float", "zip"),
        "dpx_10bit": write_good_raster(folder / "good_10bit.dpx", "uint16", bits=10),
        "jpeg": write_good_raster(folder / "good.jpg", "uint8"),
    }
    files = {
        "truncated_exr": truncated(good_exr, folder / "truncated.exr"),
        "truncated_exr_end": truncated(good_exr, folder / "truncated_end.exr", keep=0.97),
        "truncated_tiled_exr": truncated(good_tiled, folder / "truncated_tiled.exr"),
        "truncated_exr_header": truncated(good_exr, folder / "truncated_header.exr", keep=0.02),
        "garbage_header_exr": garbage_header(good_exr, folder / "garbage.exr"),
        "wrong_magic_exr": wrong_magic(good_exr, folder / "wrong_magic.exr"),
        "zero_length_exr": zero_length(folder / "empty.exr"),
        "png_named_exr": renamed(good_png, folder / "really_png.exr"),
        "exr_named_png": renamed(good_exr, folder / "really_exr.png"),
        "truncated_png": truncated(good_png, folder / "truncated.png"),
        "zero_length_png": zero_length(folder / "empty.png"),
        "wrong_magic_png": wrong_magic(good_png, folder / "wrong_magic.png"),
    }
    for kind, good in good_rasters.items():
        files[f"truncated_{kind}"] = truncated(good, folder / f"truncated_{good.name}")
    for path in (good_exr, good_tiled, good_png, *good_rasters.values()):
        os.unlink(path)
    return files


def run_unprivileged(code: str, *args: str) -> subprocess.CompletedProcess[str] | None:
    """Run ``python -c code args`` as a user that file permissions apply to.

    As a normal user that is this user. As root (containers, CI) permissions are not enforced, so the code
    runs as ``nobody`` through ``setpriv``; ``None`` when that is not possible (the caller skips).
    """
    command = [sys.executable, "-c", code, *args]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            return None
        command = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def shared_temp_folder() -> Path:
    """A fresh folder any user can enter (pytest's tmp_path is private to the user running the tests)."""
    folder = Path(tempfile.mkdtemp(prefix="aifx-perm-"))
    folder.chmod(0o755)
    return folder


def claimed_exr(dest: Path, width: int, height: int, deep: bool) -> Path:
    """A tiny EXR whose header *claims* a huge (or deep) image, as a damaged header does: written byte by byte
    (the bindings refuse to write such a file), with an offset table and no pixel data."""
    import struct

    def attribute(name: str, kind: str, data: bytes) -> bytes:
        return name.encode() + b"\0" + kind.encode() + b"\0" + struct.pack("<i", len(data)) + data

    def box(x1: int, y1: int) -> bytes:
        return struct.pack("<iiii", 0, 0, x1, y1)

    channels = b"".join(n.encode() + b"\0" + struct.pack("<iBBBBii", 1, 0, 0, 0, 0, 1, 1) for n in "BGR")
    header = b"\x76\x2f\x31\x01" + struct.pack("<I", 2 | (0x800 if deep else 0))
    header += attribute("channels", "chlist", channels + b"\0")
    header += attribute("compression", "compression", b"\0")
    header += attribute("dataWindow", "box2i", box(width - 1, height - 1))
    header += attribute("displayWindow", "box2i", box(width - 1, height - 1))
    header += attribute("lineOrder", "lineOrder", b"\0")
    header += attribute("pixelAspectRatio", "float", struct.pack("<f", 1))
    header += attribute("screenWindowCenter", "v2f", struct.pack("<ff", 0, 0))
    header += attribute("screenWindowWidth", "float", struct.pack("<f", 1))
    if deep:
        header += attribute("type", "string", b"deepscanline")
        header += attribute("version", "int", struct.pack("<i", 1))
        header += attribute("chunkCount", "int", struct.pack("<i", height))
        header += attribute("maxSamplesPerPixel", "int", struct.pack("<i", 4))
    header += b"\0"
    start = len(header) + 8 * height
    table = b"".join(struct.pack("<Q", start + 32 * i) for i in range(height))
    dest.write_bytes(header + table + bytes(64))
    return dest


def with_attribute(good: Path, dest: Path, name: str, kind: str, data: bytes) -> Path:
    """``good`` (a single-part scanline EXR without compression, :func:`write_good_exr`) with one more header
    attribute, its offset table moved on: written byte by byte, as the bindings cannot write every type (a
    flattened deep render's ``deepImageState``)."""
    import struct

    raw = good.read_bytes()
    at = 8
    while raw[at] != 0:  # each attribute: name NUL type NUL size data; the header ends with a NUL
        at = raw.index(b"\0", raw.index(b"\0", at) + 1) + 1
        at += 4 + struct.unpack_from("<i", raw, at)[0]
    extra = name.encode() + b"\0" + kind.encode() + b"\0" + struct.pack("<i", len(data)) + data
    (low, high) = OpenEXR.File(str(good), header_only=True).parts[0].header["dataWindow"]
    rows = int(high[1] - low[1] + 1)
    table = struct.unpack_from(f"<{rows}Q", raw, at + 1)
    moved = struct.pack(f"<{rows}Q", *(offset + len(extra) for offset in table))
    dest.write_bytes(raw[:at] + extra + raw[at : at + 1] + moved + raw[at + 1 + 8 * rows :])
    return dest
