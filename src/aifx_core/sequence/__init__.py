"""Image sequences: frame patterns, frame ranges, reading and atomic writing (EXR first).

Entry points: :func:`open_sequence` (check an input up front), :func:`output_pattern`, :func:`read_image` /
:func:`write_image` (one frame, atomic), :func:`describe` (``aifx info``).
"""

from .atomic import atomic_write, clean_stale_temps
from .frames import (
    JOB_FRAMES,
    format_frames,
    frame_gaps,
    frame_numbers,
    frame_spec_items,
    parse_frame_spec,
    split_trailing_range,
)
from .guard import (
    ProtectedFiles,
    check_frame_paths,
    check_regular_file,
    check_side_output,
    check_side_sequence,
    protected_inputs,
)
from .image import Image, from_float, to_float
from .imageinfo import ImageInfo
from .imageio import (
    FORMATS,
    check_names_fit,
    check_writable,
    missing_folders,
    read_image,
    read_info,
    remove_made_folders,
    write_image,
)
from .info import describe
from .pattern import FramePattern, beside_output, earlier_beside, parse_pattern
from .reader import Sequence, check_outside_input_folder, open_sequence, output_pattern

__all__ = [
    "FORMATS",
    "FramePattern",
    "Image",
    "ImageInfo",
    "ProtectedFiles",
    "Sequence",
    "atomic_write",
    "beside_output",
    "earlier_beside",
    "check_regular_file",
    "check_frame_paths",
    "check_side_output",
    "check_side_sequence",
    "check_names_fit",
    "check_writable",
    "missing_folders",
    "remove_made_folders",
    "clean_stale_temps",
    "describe",
    "format_frames",
    "frame_gaps",
    "frame_numbers",
    "from_float",
    "open_sequence",
    "output_pattern",
    "check_outside_input_folder",
    "parse_frame_spec",
    "frame_spec_items",
    "JOB_FRAMES",
    "parse_pattern",
    "protected_inputs",
    "read_image",
    "read_info",
    "split_trailing_range",
    "to_float",
    "write_image",
]
