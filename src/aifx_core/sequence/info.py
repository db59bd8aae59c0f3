"""``aifx info INPUT``: what a sequence is, from one folder listing and the first frame's header.

Nothing else is opened, so it answers instantly on a 1000-frame shot; gaps are reported rather than raised
so that info is the tool to find them.
"""

from __future__ import annotations

import os
from collections import defaultdict

from ..errors import InputError
from .frames import format_frames, frame_gaps, parse_frame_spec, split_trailing_range
from .guard import check_regular_file
from .image import Unfilled, colour_channels, layer_of, unfilled_colour
from .imageinfo import ImageInfo, Window, window_size
from .imageio import read_info
from .pattern import FramePattern, parse_pattern, still_frame


def describe(spec: str | os.PathLike[str], frames: str | None = None) -> str:
    """A short multi-line report: pattern, frames and gaps, resolution, channels, compression, colourspace."""
    text, trailing = split_trailing_range(os.fspath(spec))
    frames = frames if frames is not None else trailing
    pattern = parse_pattern(text)
    lines = [f"input:       {pattern}  ({_kind(pattern)})"]
    first = _frames_section(pattern, frames, lines)
    info = read_info(pattern.path(first))
    lines.extend(_header_lines(info))
    return "\n".join(lines)


def _kind(pattern: FramePattern) -> str:
    if pattern.is_still:
        return "single image, used for every frame"
    if pattern.kind == "folder":
        return "folder of frames"
    return f"sequence, {pattern.padding}-digit padding"


def _frames_section(pattern: FramePattern, frames: str | None, lines: list[str]) -> int:
    """Append the frame lines; return the frame whose header is read."""
    if pattern.is_still:
        file = pattern.path(0)
        if os.path.lexists(file):
            check_regular_file(file, "input")  # a device or FIFO is not "not found"
        if not file.is_file():
            raise InputError(f"{file}: not found; check the path")
        return still_frame(file)
    on_disk = pattern.discover()
    if not on_disk:
        raise InputError(f"{pattern}: no frames found; check the path, name and padding")
    if pattern.kind == "folder":
        lines.append(f"pattern:     {pattern.hash_form()}")
    span = f"{on_disk[0]}-{on_disk[-1]}" if len(on_disk) > 1 else str(on_disk[0])
    lines.append(f"frames:      {span} ({len(on_disk)} on disk)")
    gaps = frame_gaps(on_disk)
    lines.append(
        f"missing:     {format_frames(gaps, max_parts=40)} ({len(gaps)} frame{'s' if len(gaps) > 1 else ''})"
        if gaps
        else "missing:     none"
    )
    if frames is not None:
        wanted = parse_frame_spec(frames)
        absent = sorted(set(wanted) - set(on_disk))
        status = f"{format_frames(absent, max_parts=40)} not on disk" if absent else "all on disk"
        lines.append(f"requested:   {format_frames(wanted)} ({status})")
        present = [f for f in wanted if f in set(on_disk)]
        if present:
            return present[0]
    return on_disk[0]


def _window_text(window: Window) -> str:
    width, height = window_size(window)
    return f"{width}x{height} ({window[0]},{window[1]})-({window[2]},{window[3]})"


def _channel_text(channels: dict[str, str]) -> str:
    """``R,G,B,A (half), Z (float)``: channels grouped by pixel type, in file order."""
    groups: dict[str, list[str]] = defaultdict(list)
    for name, kind in channels.items():
        groups[kind].append(name)
    return ", ".join(f"{','.join(names)} ({kind})" for kind, names in groups.items())


def _filled_text(info: ImageInfo) -> str:
    """The channels a fill changes (:func:`.image.colour_channels`), or why there are none."""
    try:
        names = colour_channels(info.channels)
    except InputError as exc:
        return f"nothing: {exc}"
    layer = layer_of(names)
    return f"{layer}.{{{','.join(n.rpartition('.')[2] for n in names)}}}" if layer else ",".join(names)


def _unfilled(info: ImageInfo) -> Unfilled:
    """The views and colour passes a fill copies as they are (:func:`.image.unfilled_colour`); none where
    the frame has no colour to fill."""
    try:
        filled = colour_channels(info.channels)
    except InputError:
        return Unfilled()
    return unfilled_colour(filled, info.channels, info.attributes, info.other_parts)


def _header_lines(info: ImageInfo) -> list[str]:
    lines = [f"format:      {info.format.upper()}" + ("  (tiled)" if info.tiled else "")]
    if info.data_window == info.display_window:
        lines.append(f"resolution:  {_window_text(info.data_window)}")
    else:
        lines.append(f"resolution:  display window {_window_text(info.display_window)}")
        lines.append(f"             data window    {_window_text(info.data_window)}")
    lines.append(f"channels:    {_channel_text(info.channels)}")
    lines.append(f"fills:       {_filled_text(info)}")
    unfilled = _unfilled(info)
    if unfilled.views:
        lines.append(
            f"views:       {unfilled.hero} (filled), {', '.join(unfilled.views)} (copied as they are)"
        )
    if unfilled.passes:
        lines.append(f"passes:      {', '.join(unfilled.passes)} (colour, copied as they are)")
    lines.append(f"compression: {info.compression or 'unknown'}")
    lines.append(f"colourspace: {info.colorspace}  ({info.colorspace_reason})")
    if info.parts > 1:
        names = ", ".join(n or "(unnamed)" for n in info.part_names)
        lines.append(
            f"parts:       {info.parts} ({names}); the first is filled, the others copied as they are"
        )
    return lines
