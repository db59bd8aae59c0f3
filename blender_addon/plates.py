"""Turn what the artist has open (a Movie Clip, an Image sequence, or a path) into what the job needs.

Blender counts scene frames; the core counts file numbers. A :class:`Plate` keeps the mapping so the frame
range, the rasterised mask and the loaded result all line up with the source files.
"""

from __future__ import annotations

import glob
import os
import re
import struct
from dataclasses import dataclass
from typing import Any

import bpy

from .aifx_protocol.errors import InputError
from .aifx_protocol.frames import hash_pattern
from .jobs import SequenceName, split_sequence_path


class UserError(Exception):
    """Something the artist can fix; the operator reports it and returns CANCELLED."""


@dataclass
class Plate:
    name: str
    kind: str  # "clip", "image" or "path"
    pattern: str
    sequence: SequenceName | None
    #: The scene frame that shows file ``first_number``.
    first_scene_frame: int
    first_number: int
    #: The first and last file number the plate shows (None: a still, or nothing on disk).
    files: tuple[int, int] | None
    colorspace: str | None
    #: The library .blend a clip or image plate is linked from, as Blender stores its path ("" when local);
    #: None for a plate given by path, which has no datablock.
    library: str | None = None
    #: The datablock's ``session_uid``: what finds it again after a rename (or an undo that re-reads it).
    session_uid: int | None = None

    @property
    def datablock(self) -> Any:
        """The plate's Movie Clip or Image as it is now, looked up by its session id, else (nothing has it) by
        name and library; None for a path plate or once it is gone. Never held: the artist may delete the
        clip, or press Ctrl-Z (an undo re-reads a clip changed since), while the worker runs, and the reference
        taken when AI Fill was pressed then raised ``ReferenceError`` as the result was loaded (as
        :class:`~.masks.MaskRaster` holds scenes). Not by name first: a plate renamed meanwhile was taken for
        gone, and its result lost the link and aspect the held reference had kept."""
        if self.library is None:
            return None
        blocks = bpy.data.movieclips if self.kind == "clip" else bpy.data.images
        if self.session_uid is not None:
            found = next((block for block in blocks if block.session_uid == self.session_uid), None)
            if found is not None:
                return found
        return blocks.get((self.name, self.library or None))

    def file_number(self, scene_frame: int) -> int:
        return self.first_number + (scene_frame - self.first_scene_frame)

    def scene_frame(self, file_number: int) -> int:
        return self.first_scene_frame + (file_number - self.first_number)

    def scene_range(self) -> tuple[int, int] | None:
        """The scene frames that show the plate's files that are on disk (None: a still or no files).

        Its files mapped through :meth:`scene_frame`: a clip's Frame Duration counts its files, wherever its
        Frame Offset places them, so the span counted from the Start Frame asked a clip with an offset for
        files past its last (scene range 1-10, Frame Offset 2: files 6-7 missing) or before its first.
        """
        if self.files is None:
            return None
        first, last = self.files
        if self.sequence is not None:
            found = sequence_numbers(self.pattern)  # an Image User's Frames may run past the files
            if found:
                first, last = max(first, found[0]), min(last, found[-1])
        return self.scene_frame(first), self.scene_frame(last)

    def span_words(self) -> str:
        """Where the plate lies in the scene, for a range that misses it: its span, or, where the frames it
        shows hold none of its files (an Image User's Frames 1-100 over files 1001-1002), both, so the artist
        sees which to move."""
        span = self.scene_range()
        if span is not None and span[0] <= span[1]:
            return f"frames {span[0]}-{span[1]}"
        if self.files is None:
            return "its frames"
        first, last = self.files
        shown = f"it shows files {first}-{last} at scene frames {self.scene_frame(first)}-{self.scene_frame(last)}"
        found = sequence_numbers(self.pattern) if self.sequence is not None else []
        return shown + (f", its files on disk are {found[0]}-{found[-1]}" if found else "")

    @property
    def folder(self) -> str:
        return os.path.dirname(self.pattern)

    @property
    def stem(self) -> str:
        if self.sequence is not None:
            return self.sequence.stem
        base = os.path.splitext(os.path.basename(self.pattern))[0]
        return re.sub(r"[#%$@].*$", "", base).strip("._- ") or "plate"


def blend_path(path: str, what: str) -> str:
    """``path`` as Blender resolves it, made absolute, refusing ``//`` (relative to the .blend) while the .blend
    is not saved: Blender then resolves it against the folder it was started in, so files would land somewhere
    unexpected. Absolute because the job saved beside the output is rerun from other folders (``aifx run``, a
    farm): a script's ``mask="masks/mask.####.png"`` (Blender leaves a path without ``//`` as it is) named other
    files there, or none."""
    if path.startswith("//") and not bpy.data.filepath:
        raise UserError(
            f"{what} {path} is relative to the .blend file (//), which is not saved yet; save the .blend first "
            "or choose an absolute folder"
        )
    return os.path.abspath(bpy.path.abspath(path))


def pattern_path(path: str, what: str) -> str:
    """A script's ``input=``, ``mask=`` or ``output=`` (:func:`blend_path`) with its frame token written as
    ``#`` (``clean.%04d.exr``, ``clean.$F4.exr`` -> ``clean.####.exr``, the protocol's reading, shared with the
    core): the add-on lists and names frames by ``#`` only, so a ``%04d`` output was never loaded as the
    result, and a run that failed part-way took it for empty and deleted its job file and mattes. An existing
    file is kept as it is (the core reads it as a still whatever its name holds; as the plate, one frame of a
    sequence beside it is filled for its one frame and refused for several, naming the sequence)."""
    path = blend_path(path, what)
    if os.path.isfile(path):
        return path
    try:
        return hash_pattern(path)
    except InputError as exc:  # $F4_v2, two tokens: the core's words
        raise UserError(str(exc)) from None


def stored_path(path: str, relative: bool | None = None) -> str:
    """``path`` as Blender's own Open stores it: relative to the saved .blend (``//``) when ``relative`` (by
    default the Relative Paths preference, on unless turned off), else absolute. Loaded absolute, the result
    of a fill into ``//fill/`` was the one file lost when the project folder moved."""
    if relative is None:
        relative = bool(bpy.context.preferences.filepaths.use_relative_paths)
    if not relative or not bpy.data.filepath:
        return path
    try:
        return bpy.path.relpath(path)
    except ValueError:  # another drive (Windows): no relative path reaches it
        return path


def library_path(block: Any) -> str:
    """The library .blend ``block`` is linked from, as Blender stores its path ("" when local, or for None):
    with the name, what finds it in ``bpy.data`` (a linked clip and a local one may share a name)."""
    library = getattr(block, "library", None)
    return library.filepath if library is not None else ""


def block_path(block: Any) -> str:
    """The absolute file path of a clip or image datablock. A datablock linked from another .blend (File >
    Link) keeps its ``//`` path relative to that library's folder, as Blender itself resolves it."""
    return bpy.path.abspath(block.filepath, library=block.library)


def _sequence_or_error(path: str, owner: str) -> SequenceName:
    sequence = split_sequence_path(path)
    if sequence is None:
        raise UserError(
            f"{owner}: {path} has no frame number; open a numbered image sequence (plate.0001.exr…)"
        )
    if not sequence_numbers(sequence.pattern):  # Blender shows such a clip pink; the core would blame padding
        raise UserError(
            f"{owner}: no frame of {sequence.pattern} is on disk (moved, renamed, deleted or not mounted?); "
            "point it at the frames again"
        )
    return sequence


def clip_plate(clip: bpy.types.MovieClip) -> Plate:
    """A Movie Clip of an image sequence; its file path is the first frame it shows."""
    if clip.source != "SEQUENCE":
        raise UserError(
            f"{clip.name}: is a movie file; aifx reads image sequences, so export it as EXR/PNG frames and open those"
        )
    path = block_path(clip)
    sequence = _sequence_or_error(path, clip.name)
    return Plate(
        name=clip.name,
        kind="clip",
        pattern=sequence.pattern,
        sequence=sequence,
        first_scene_frame=int(clip.frame_start),
        first_number=sequence.number + int(clip.frame_offset),
        # Blender counts the clip's files from the one it was opened at; the offset only moves them in time.
        files=(sequence.number, sequence.number + int(clip.frame_duration) - 1),
        colorspace=clip.colorspace_settings.name or None,
        library=library_path(clip),
        session_uid=int(clip.session_uid),
    )


def image_plate(image: bpy.types.Image, scene: bpy.types.Scene, image_user=None) -> Plate:
    """An Image datablock: a numbered sequence (frames mapped through the editor's Image User) or a still."""
    if image.source == "TILED":  # frames numbered 1001... are taken for UDIM tiles when opened
        raise UserError(
            f"{image.name}: is opened as UDIM tiles; set its Source to Image Sequence (Image Editor sidebar > "
            "Image), or untick UDIM Tiles when opening it"
        )
    if image.source not in {"SEQUENCE", "FILE"}:
        raise UserError(f"{image.name}: source is {image.source.lower()}; open an image sequence from disk")
    refuse_unlike_its_files(image, f"{image.name}:")
    path = block_path(image)
    colorspace = image.colorspace_settings.name or None
    if image.source == "FILE":
        return Plate(
            image.name,
            "image",
            path,
            None,
            scene.frame_start,
            0,
            None,
            colorspace,
            library_path(image),
            int(image.session_uid),
        )
    sequence = _sequence_or_error(path, image.name)
    if image_user is not None:
        # Blender shows file (scene_frame - frame_start + 1 + frame_offset) of an image sequence.
        first_scene, first_number = int(image_user.frame_start), 1 + int(image_user.frame_offset)
        files: tuple[int, int] | None = (first_number, first_number + int(image_user.frame_duration) - 1)
    else:
        first_scene, first_number = int(scene.frame_start), sequence.number
        found = sequence_numbers(sequence.pattern)
        files = (first_number, found[-1]) if found else None
    return Plate(
        image.name,
        "image",
        sequence.pattern,
        sequence,
        first_scene,
        first_number,
        files,
        colorspace,
        library_path(image),
        int(image.session_uid),
    )


def refuse_unlike_its_files(image: bpy.types.Image, who: str) -> None:
    """Refuse an Image (the plate, or the Matte: ``who`` names it as its other errors do) whose pixels in
    Blender need not be its files': the worker reads the files. With unsaved paint (clone-stamped in the Image
    Editor) the fill read the file on disk and brought back what was painted out; packed, Blender shows the
    copy in the .blend, and the file at its path may be gone or another. One check for both, so the plate and
    the Matte are refused alike and in the same words.

    Only what Blender reports: ``is_dirty`` reads the image's cached buffers, and pixels of an Image Sequence
    set from Python (``image.pixels``) leave it False (docs/blender.md section 4)."""
    if image.packed_file is not None:
        raise UserError(
            f"{who} is packed in the .blend, and AI Fill reads its files, which need not be what Blender shows; "
            "unpack it (File > External Data > Unpack Resources)"
        )
    if image.is_dirty:
        raise UserError(f"{who} has unsaved paint; save it (Image > Save) so AI Fill reads what you see")


def matte_path(image: bpy.types.Image) -> str:
    """The file (or ``####`` pattern) of an Image picked as the Matte; the worker reads the matte from disk.

    A matte painted or generated in Blender and never saved, or painted on since it was saved, or packed in
    the .blend, is refused: the worker would read no file (and fall back to the plate's alpha) or a stale one.
    """
    where = f"Matte '{image.name}'"
    if image.source in {"MOVIE", "TILED"}:
        kind = "a movie" if image.source == "MOVIE" else "UDIM tiles"
        raise UserError(
            f"{where} is {kind}; give the matte as an image or an image sequence (PNG, EXR...) on disk"
        )
    if image.source not in {"FILE", "SEQUENCE"} or not image.filepath:
        raise UserError(
            f"{where} is not an image file (it was made in Blender and never saved); save it in the Image "
            "Editor (Image > Save As) and press AI Fill again"
        )
    refuse_unlike_its_files(image, where)
    path = block_path(image)
    if image.source == "SEQUENCE":
        sequence = split_sequence_path(path)
        if sequence is not None:
            return sequence.pattern
    if not os.path.isfile(path):
        raise UserError(
            f"{where}: {path} is not on disk (moved or deleted?); point the image at its file again"
        )
    return path


def path_plate(pattern: str, colorspace: str | None) -> Plate:
    """A path or ``####`` pattern given by a script; scene frame N is file number N (the VFX convention).

    One numbered file of a longer sequence stands for the whole sequence, as a Movie Clip's path does.
    ``//`` (next to the .blend) is refused while the .blend is unsaved, and the path is made absolute, its
    frame token as ``#`` (:func:`pattern_path`).
    """
    path = pattern_path(pattern, "Input")
    if "#" not in path:
        single = split_sequence_path(path)
        if single is not None and os.path.isfile(path) and len(sequence_numbers(single.pattern)) > 1:
            path = single.pattern
    sequence = split_sequence_path(path.replace("#", "0")) if "#" in path else None
    numbers = sequence_numbers(path)
    first = numbers[0] if numbers else 0
    return Plate(
        name=sequence.stem if sequence else os.path.splitext(os.path.basename(path))[0],
        kind="path",
        pattern=path,
        sequence=sequence,
        first_scene_frame=first,
        first_number=first,
        files=(first, numbers[-1]) if numbers else None,
        colorspace=colorspace,
    )


def sequence_numbers(pattern: str) -> list[int]:
    """File numbers on disk for a ``####`` pattern (empty for a still or when nothing matches)."""
    match = re.search(r"#+(?!.*#)", pattern)
    if not match:
        return []
    head, tail = pattern[: match.start()], pattern[match.end() :]
    numbers = []
    for path in glob.glob(glob.escape(head) + "[0-9]*" + glob.escape(tail)):
        digits = path[len(head) : len(path) - len(tail)]
        if digits.isdigit():
            numbers.append(int(digits))
    return sorted(numbers)


def first_file(plate: Plate) -> str:
    """A frame of the plate that exists on disk (to read its size)."""
    if "#" not in plate.pattern:
        return plate.pattern
    numbers = sequence_numbers(plate.pattern)
    if not numbers:
        raise UserError(f"{plate.name}: no frames found for {plate.pattern}; check the path")
    from .jobs import pattern_frame_path

    return pattern_frame_path(plate.pattern, numbers[0])


#: An EXR window (x0, y0, x1, y1), inclusive pixel bounds, y down.
Window = tuple[int, int, int, int]


def exr_windows(path: str) -> tuple[Window, Window] | None:
    """(data window, display window) from an EXR file's header (its first part), or None for another file
    type or a header without them.

    Blender shows an EXR's data window, pixel for pixel (``clip.size`` is its size), while the core fills in
    the display window: a Mask drawn over a cropped or overscan plate is rasterised at the data window and
    placed in the display window (:class:`~.masks.MaskRaster`). Read here because Blender's API does not say
    where the data window lies; the header is a list of ``name\0type\0size value`` attributes."""
    windows: dict[str, Window] = {}
    try:
        with open(path, "rb") as handle:
            if handle.read(8)[:4] != b"\x76\x2f\x31\x01":
                return None
            for _ in range(1000):  # a header holds a few dozen attributes; a damaged one never ends
                name = _c_string(handle)
                if not name:
                    break
                kind = _c_string(handle)
                size = int.from_bytes(handle.read(4), "little")
                value = handle.read(size)
                if kind == b"box2i" and name in (b"dataWindow", b"displayWindow") and len(value) == 16:
                    numbers = struct.unpack("<4i", value)
                    windows[name.decode()] = (numbers[0], numbers[1], numbers[2], numbers[3])
    except OSError:
        return None
    if set(windows) != {"dataWindow", "displayWindow"}:
        return None
    return windows["dataWindow"], windows["displayWindow"]


def display_canvas(plate: Plate, size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """Where the picture Blender shows (``size``: an EXR's data window) lies in the frame the core fills (its
    display window): (x, y of the data window's top-left corner in the display window, display width,
    height); None when they are the same (every other file type)."""
    if os.path.splitext(plate.pattern)[1].lower() != ".exr":
        return None
    windows = exr_windows(first_file(plate))
    if windows is None or windows[0] == windows[1]:
        return None
    data, display = windows
    if (data[2] - data[0] + 1, data[3] - data[1] + 1) != tuple(size):
        return None  # not the picture Blender showed: the core says what does not fit
    return (
        data[0] - display[0],
        data[1] - display[1],
        display[2] - display[0] + 1,
        display[3] - display[1] + 1,
    )


def _c_string(handle: Any) -> bytes:
    """The bytes up to the next NUL (an EXR attribute's name or type, at most 255 bytes)."""
    text = b""
    while len(text) < 256:
        char = handle.read(1)
        if char in (b"", b"\0"):
            break
        text += char
    return text


#: Formats Blender may read with straight (unassociated) alpha; EXR, DPX and the rest are premultiplied or opaque.
_STRAIGHT_FORMATS = {".png", ".tif", ".tiff"}


def alpha_mode(plate: Plate) -> str | None:
    """How Blender reads the plate's alpha (``'STRAIGHT'``, ``'PREMUL'``...): an Image plate's own Alpha mode;
    for a clip or a path, Blender's reading of its first file when that is a PNG or TIFF with an alpha
    channel (an Image of it, as Blender opens it: four channels report 32 bits, or 128 for 16-bit), else None.

    The core copies the plate's values into the result as stored, and Blender reads an EXR as premultiplied:
    the EXR result of a straight-alpha plate showed several times too bright where alpha is below 1."""
    block = plate.datablock
    if isinstance(block, bpy.types.Image):
        return str(block.alpha_mode)
    if os.path.splitext(plate.pattern)[1].lower() not in _STRAIGHT_FORMATS:
        return None
    try:
        image = bpy.data.images.load(first_file(plate), check_existing=False)
    except (RuntimeError, UserError):
        return None  # unreadable: the core names the file
    try:
        return str(image.alpha_mode) if image.depth in (32, 128) else None
    finally:
        bpy.data.images.remove(image)


def read_alpha_as(block: Any, mode: str | None) -> None:
    """Have Blender read the Image ``block``'s alpha as ``mode`` (the plate's, :func:`alpha_mode`; None: as it
    is): the EXR result holds a straight-alpha plate's values as stored, and Blender takes an EXR for
    premultiplied (several times too bright where alpha is below 1)."""
    if mode is not None and block.alpha_mode != mode:
        block.alpha_mode = mode


def plate_size(plate: Plate) -> tuple[int, int]:
    """Pixel size of the plate, from its datablock or by loading one frame."""
    block = plate.datablock
    if block is not None and tuple(block.size)[0] > 0:
        return int(block.size[0]), int(block.size[1])
    path = first_file(plate)
    image = bpy.data.images.load(path, check_existing=False)
    try:
        width, height = int(image.size[0]), int(image.size[1])
    finally:
        bpy.data.images.remove(image)
    if width <= 0 or height <= 0:
        # An EXR with more than RGBA (an AI Fill result with its confidence pass) opens as a MULTILAYER
        # image, which has no size through Python; a Movie Clip of the same file reads its first layer.
        clip = bpy.data.movieclips.load(path, check_existing=False)
        try:
            width, height = int(clip.size[0]), int(clip.size[1])
        finally:
            bpy.data.movieclips.remove(clip)
    if width <= 0 or height <= 0:
        raise UserError(f"{plate.name}: cannot read the size of {path}; check that Blender can open it")
    return width, height
