"""Read and write one image file, whatever its type, with errors a user can act on.

Reading dispatches on the extension after checking the file is there, readable, non-empty and really of
that type (its magic number), so a PNG renamed ``.exr`` or a zero-byte frame from a crashed render is named
as such instead of surfacing as a library traceback. Writing dispatches on the *output* extension and is
atomic (see :mod:`.atomic`): a frame on disk is never half-written.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

from ..errors import InputError
from .atomic import atomic_write, disk_error, longest_temp_name
from .exr import COMPRESSIONS as EXR_COMPRESSIONS
from .exr import compression_named, read_exr, read_exr_info, resolve_compression, write_exr
from .guard import broken_symlink, check_regular_file
from .image import Image
from .imageinfo import ImageInfo
from .raster import (
    COMPRESSIONS,
    DPX_BYTE_ORDERS,
    RASTER_FORMATS,
    check_compression,
    png_zip_level,
    read_raster,
    read_raster_info,
    target_dtype,
    write_raster,
    written_channels,
)
from .window import in_display_window

#: Format name for every extension aifx reads and writes.
FORMATS = {".exr": "exr", **RASTER_FORMATS}

# Leading bytes of each format, to tell a damaged file from a mislabelled one.
_MAGIC = {
    "exr": (b"\x76\x2f\x31\x01",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "tiff": (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"),
    "jpeg": (b"\xff\xd8\xff",),
    "dpx": tuple(DPX_BYTE_ORDERS),
}
_EXTENSION_FOR = {"exr": ".exr", "png": ".png", "tiff": ".tif", "jpeg": ".jpg", "dpx": ".dpx"}


def format_for(path: str | os.PathLike[str]) -> str:
    """The format name (``exr``, ``png``, ``tiff``, ``jpeg``, ``dpx``) for a file name; unknown →
    :class:`InputError`."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        shown = f"'{suffix}'" if suffix else "(no extension)"
        raise InputError(f"{path}: unsupported image type {shown}; aifx reads and writes {known}")
    return FORMATS[suffix]


def sniff_format(head: bytes) -> str | None:
    """The format whose magic number ``head`` starts with, or ``None``."""
    for fmt, magics in _MAGIC.items():
        if any(head.startswith(m) for m in magics):
            return fmt
    return None


def _check_readable(path: Path) -> tuple[str, bytes]:
    """Everything that can be wrong with a file before a decoder sees it; returns its format and its first bytes."""
    fmt = format_for(path)
    try:
        info = os.stat(path)
    except OSError:
        info = None  # reported below by open(), with the usual messages
    if info is not None and not stat.S_ISREG(info.st_mode) and not stat.S_ISDIR(info.st_mode):
        check_regular_file(path, "image")  # a FIFO would block open() forever, a device never ends
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except FileNotFoundError:
        broken = broken_symlink(path)
        if broken is not None:
            raise broken from None
        raise InputError(f"{path}: file not found; check the path") from None
    except IsADirectoryError:
        raise InputError(
            f"{path}: is a folder, not an image; give a file or a pattern like plate.####.exr"
        ) from None
    except PermissionError:
        raise InputError(f"{path}: cannot read (permission denied); check the file's permissions") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(f"{path}: is a symlink loop; fix the link") from None
        raise InputError(
            f"{path}: cannot read ({exc.strerror or exc}); check the file and the disk"
        ) from None
    if not head:
        raise InputError(
            f"{path}: file is empty (0 bytes), probably from an interrupted render or copy; re-render or re-copy it"
        )
    actual = sniff_format(head)
    if actual is None:
        raise InputError(
            f"{path}: not a valid {fmt.upper()} file (wrong magic number); it is damaged, re-render or re-copy it"
        )
    if actual != fmt:
        raise InputError(
            f"{path}: is a {actual.upper()} file named {path.suffix}; rename it to {_EXTENSION_FOR[actual]}"
        )
    return fmt, head


def read_image(path: str | os.PathLike[str]) -> Image:
    """One frame: every channel in its stored dtype plus the header needed to write it back."""
    path = Path(path)
    fmt, head = _check_readable(path)
    return read_exr(path) if fmt == "exr" else read_raster(path, fmt, head)


def read_info(path: str | os.PathLike[str]) -> ImageInfo:
    """Header facts (size, windows, channels, compression, colourspace guess) without reading pixels."""
    path = Path(path)
    fmt, _ = _check_readable(path)
    return read_exr_info(path) if fmt == "exr" else read_raster_info(path, fmt)


def rounded_to_half(output: str | os.PathLike[str], plate: str | os.PathLike[str]) -> bool:
    """Whether the EXR ``output`` made from ``plate`` holds as half a channel the plate stores in more than 8
    bits (a 16-bit PNG or TIFF, a 10/12-bit DPX scan, read as uint16): how aifx before 2026-12-06 wrote such a
    plate. Half holds 11 bits, so most samples of those frames, outside the mask too, are off the plate's code;
    an EXR of such a plate is float now (every code kept), and a resumed shot must not mix the two. A file that
    cannot be read says False: the run's own checks name it."""
    try:
        if "half" not in read_info(output).channels.values():
            return False
        return any(kind.endswith("uint16") for kind in read_info(plate).channels.values())
    except (InputError, OSError):
        return False


def write_image(
    path: str | os.PathLike[str],
    image: Image,
    compression: str | None = None,
    *,
    bit_depth: int | None = None,
    before_replace: Callable[[Path], None] | None = None,
) -> Path:
    """Write ``image`` atomically in the format of ``path``'s extension; returns the path written.

    ``compression`` is a codec name (EXR: ``zip``, ``piz``, ``dwaa``, ``none``...; PNG/TIFF: ``zip``,
    ``lzw``, ``none``; JPEG: ``jpeg:95``); by default the source file's is kept when the format is the
    same. ``bit_depth`` (8, 16, 32) applies to PNG/TIFF/JPEG only. An image read from PNG/TIFF/JPEG/DPX and
    written as EXR is scaled to 0..1, 8-bit as half and 16-bit (10/12-bit DPX too) as float, every code kept; a
    float image written as PNG/JPEG is clipped to 0..1 and quantised (no colour transform is applied here). A format without windows gets the image's display window
    (:func:`~.window.in_display_window`: a bbox padded, overscan cropped), not its data window at the origin.
    """
    path = Path(path)
    fmt = format_for(path)
    if fmt != "exr":
        image = in_display_window(image)
    _check_can_write(path, fmt, image, compression, bit_depth)
    if fmt == "exr":
        atomic_write(path, lambda temp: write_exr(temp, image, compression), before_replace)
    else:
        atomic_write(
            path,
            lambda temp: write_raster(temp, image, fmt, compression, bit_depth, file_name=path.name),
            before_replace,
        )
    return path


def check_output_compression(fmt: str, compression: str | None) -> None:
    """A job's ``compression`` for an output in ``fmt`` (``FORMATS``' word: ``"exr"``, ``"png"``...), checked
    before anything is read or written. An EXR name was checked only by the writer, at the first frame: after
    the shot's seen-plate pass and a fill, with the output folder and manifest made and every farm chunk
    failing apart."""
    if compression is None:
        return
    if not compression.strip():
        raise InputError(
            'the compression is empty (--compression "" or "compression": ""); leave it out (null in a job file) '
            "to keep the plate's, or name one such as zip"
        )
    if fmt == "exr":
        if compression_named(compression) is None:
            raise InputError(
                f"--compression {compression}: EXR output takes {', '.join(sorted(EXR_COMPRESSIONS))}"
            )
    elif fmt in COMPRESSIONS:
        check_compression(fmt, compression)


def _check_can_write(
    path: Path, fmt: str, image: Image, compression: str | None, bit_depth: int | None
) -> None:
    """Settings the target cannot take, reported against the target file (not the writer's temp file)."""
    try:
        if not image.channels:
            raise InputError("nothing to write (the image has no channels)")
        if fmt == "exr":
            if bit_depth is not None:
                raise InputError("bit depth is set by the channels for EXR (half/float); leave it out")
            resolve_compression(compression, image.header)
        else:
            target_dtype(image, fmt, bit_depth)
            written_channels(image, fmt)
            if fmt == "png":
                png_zip_level(compression)
    except InputError as exc:
        message = str(exc)
        if image.source is not None:
            message = message.replace(f"{image.source}: ", "")
        raise InputError(f"{path}: {message}") from None


#: File name limit where the filesystem does not say (``pathconf``): 255 bytes on every common one.
NAME_MAX = 255


def check_names_fit(
    output: str, folder: str | os.PathLike[str], plain: Iterable[str], atomic: Iterable[str]
) -> None:
    """Refuse up front the names ``output`` (the pattern, for the message) makes in ``folder`` that its
    filesystem cannot hold: ``plain`` names as they are, and ``atomic`` ones (frames, the manifest) also as the
    longer hidden temp file :func:`atomic_write` writes first.

    Long shot names are common in pipelines; without this a 230-character output name failed on its first file
    (the lock, or a frame's temp file) with a traceback, or after minutes of work.
    """
    try:
        limit = int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        limit = NAME_MAX
    names = list(plain) + [n for name in atomic for n in (name, longest_temp_name(name))]
    longest = max(names, key=lambda name: len(os.fsencode(name)))
    size = len(os.fsencode(longest))
    if size > limit:
        raise InputError(
            f"{output}: the output file name is too long: the resume and temp files aifx writes beside the "
            f"frames would have {size}-byte names, over the filesystem's limit of {limit}; shorten the output "
            f"name by {size - limit} characters or more"
        )


def missing_folders(folder: str | os.PathLike[str]) -> list[Path]:
    """``folder`` and the folders above it that are not there yet, deepest first: what :func:`check_writable`
    is about to make for a run, and so all that the run may take away again (:func:`remove_made_folders`)."""
    made = []
    path = Path(os.path.abspath(os.path.expanduser(folder)))
    while not os.path.lexists(path) and path.parent != path:
        made.append(path)
        path = path.parent
    return made


def remove_made_folders(made: Iterable[Path]) -> None:
    """Remove the folders a run made (``made``: :func:`missing_folders` before it made them, deepest first)
    while each is empty, so a run stopped before it wrote into them leaves no empty folder behind. A folder
    holding anything (a frame, another run's lock file) stops the walk: it and the folders above it are kept."""
    for folder in made:
        try:
            folder.rmdir()
        except OSError:
            return


def check_writable(folder: str | os.PathLike[str], create: bool = True, what: str = "output folder") -> Path:
    """Make sure frames can be written into ``folder`` (created if missing), before any work is done.

    A job that fails on its first write after minutes of model loading is a poor experience, so the CLI
    calls this up front. Raises :class:`InputError` naming the folder (as ``what``) and the fix. The one rule
    for "can frames be written here": a file written and removed, which a full disk, a read-only mount or a
    server's permissions refuse where ``os.access`` says yes.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: {what} is a file; choose a folder")
    if not folder.exists():
        if not create:
            raise InputError(f"{folder}: {what} does not exist; create it or pass another")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            friendly = disk_error(folder, exc)
            reason = exc.strerror or str(exc)
            raise (
                friendly
                or InputError(
                    f"{folder}: cannot create the {what} ({reason}); check the path and the permissions of "
                    "the folder above it, or choose another folder"
                )
            ) from None
    probe = folder / f".aifx-write-test-{os.getpid()}"
    try:
        # Made anew, never opened in place: a link planted under the name (the pid of a server's worker is
        # known for days) had the probe truncate the file it names. Unlinking removes a link, not its target.
        with contextlib.suppress(FileNotFoundError):
            probe.unlink()
        with os.fdopen(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as handle:
            handle.write(b"aifx")
    except OSError as exc:
        if exc.errno is not None and disk_error(folder, exc) is not None:
            raise InputError(
                f"{folder}: {what} is not writable ({exc.strerror}); fix its permissions, free space, "
                "or choose another folder"
            ) from None
        raise InputError(
            f"{folder}: cannot write into the {what} ({exc.strerror or exc}); choose another folder"
        ) from None
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
    return folder
