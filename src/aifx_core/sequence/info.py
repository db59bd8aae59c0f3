"""``aifx info INPUT``: what a sequence is, from one folder listing and the first frame's header.

Nothing else is opened, so it answers instantly on a 1000-frame shot; gaps are reported rather than raised
so that info is the tool to find them.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from ..errors import InputError
from .frames import (
    chosen_frames,
    format_frames,
    frame_gaps,
    frames_text,
    parse_frame_spec,
    split_trailing_range,
)
from .guard import check_regular_file
from .image import Unfilled, file_colour_channels, layer_of, unfilled_colour
from .imageinfo import ImageInfo, Window, window_size
from .imageio import read_info
from .pattern import FramePattern, parse_pattern, still_frame
from .reader import check_span, none_requested


def describe(spec: str | os.PathLike[str], frames: Iterable[int] | int | str | None = None) -> str:
    """A short multi-line report: pattern, frames and gaps, resolution, channels, compression, colourspace."""
    return _text(facts(spec, frames))


def facts(spec: str | os.PathLike[str], frames: Iterable[int] | int | str | None = None) -> dict[str, Any]:
    """What :func:`describe` reports, as JSON-ready data (``aifx info --json``, for pipeline scripts): the
    same reading, the same rules for what a fill changes and copies. ``frames``: a range text, a frame number
    or a list of them."""
    text, trailing = split_trailing_range(os.fspath(spec))
    frames = chosen_frames(os.fspath(spec), trailing, frames_text(frames))
    pattern = parse_pattern(text)
    found: dict[str, Any] = {"input": str(pattern), "kind": _kind_name(pattern)}
    if found["kind"] == "sequence":
        found["padding"] = pattern.padding
    found.update(_frame_facts(pattern, frames))
    info = read_info(pattern.path(found["read"]))
    filled, why = _fills(info)
    unfilled = _unfilled(info, filled)
    found.update(
        file=str(pattern.path(found["read"])),
        format=info.format,
        tiled=info.tiled,
        data_window=list(info.data_window),
        display_window=list(info.display_window),
        channels=dict(info.channels),
        fills=list(filled) if filled else None,
        fills_none_because=why,
        views={"filled": unfilled.hero, "copied": list(unfilled.views)} if unfilled.views else None,
        passes=list(unfilled.passes),
        compression=info.compression,
        colorspace=info.colorspace,
        colorspace_reason=info.colorspace_reason,
        parts=list(info.part_names) if info.parts > 1 else [],
        pages=info.parts if info.format != "exr" else 1,
    )
    return found


def _kind_name(pattern: FramePattern) -> str:
    return "still" if pattern.is_still else ("folder" if pattern.kind == "folder" else "sequence")


def _frame_facts(pattern: FramePattern, frames: str | None) -> dict[str, Any]:
    """The frames on disk, the gaps, the frames asked for and which frame's header is read (``read``)."""
    if pattern.is_still:
        file = pattern.path(0)
        if os.path.lexists(file):
            check_regular_file(file, "input")  # a device or FIFO is not "not found"
        if not file.is_file():
            raise InputError(f"{file}: not found; check the path")
        return {"read": still_frame(file)}
    on_disk = pattern.discover()
    if not on_disk:
        raise InputError(f"{pattern}: no frames found; check the path, name and padding")
    check_span(pattern, on_disk)
    found: dict[str, Any] = {
        "first": on_disk[0],
        "last": on_disk[-1],
        "on_disk": len(on_disk),
        "missing": frame_gaps(on_disk),
        "read": on_disk[0],
    }
    if pattern.kind == "folder":
        found["pattern"] = pattern.hash_form()
    if frames is not None:
        wanted = parse_frame_spec(frames)
        present = set(on_disk)
        if present.isdisjoint(wanted):
            # (as a fill's input says it: a report of the other frames' first header, "missing: none", told
            # nothing of the frames asked for)
            raise InputError(none_requested(pattern, wanted, on_disk, "frames", "check the frames asked for"))
        found["requested"] = wanted
        found["requested_missing"] = sorted(set(wanted) - present)
        found["read"] = next(f for f in wanted if f in present)
    return found


def _text(found: dict[str, Any]) -> str:
    """:func:`facts` as the report ``aifx info`` prints."""
    kinds = {"still": "single image, used for every frame", "folder": "folder of frames"}
    kind = kinds.get(found["kind"]) or f"sequence, {found['padding']}-digit padding"
    lines = [f"input:       {found['input']}  ({kind})"]
    if "first" in found:
        if "pattern" in found:
            lines.append(f"pattern:     {found['pattern']}")
        span = f"{found['first']}-{found['last']}" if found["on_disk"] > 1 else str(found["first"])
        lines.append(f"frames:      {span} ({found['on_disk']} on disk)")
        gaps = found["missing"]
        lines.append(
            f"missing:     {format_frames(gaps, max_parts=40)} ({len(gaps)} frame{'s' if len(gaps) > 1 else ''})"
            if gaps
            else "missing:     none"
        )
        if "requested" in found:
            absent = found["requested_missing"]
            status = f"{format_frames(absent, max_parts=40)} not on disk" if absent else "all on disk"
            lines.append(f"requested:   {format_frames(found['requested'])} ({status})")
    lines.append(f"format:      {found['format'].upper()}" + ("  (tiled)" if found["tiled"] else ""))
    data, display = tuple(found["data_window"]), tuple(found["display_window"])
    if data == display:
        lines.append(f"resolution:  {_window_text(data)}")
    else:
        lines.append(f"resolution:  display window {_window_text(display)}")
        lines.append(f"             data window    {_window_text(data)}")
    lines.append(f"channels:    {_channel_text(found['channels'])}")
    lines.append(f"fills:       {_filled_text(found['fills'], found['fills_none_because'])}")
    if found["views"]:
        views = found["views"]
        lines.append(
            f"views:       {views['filled']} (filled), {', '.join(views['copied'])} (copied as they are)"
        )
    if found["passes"]:
        lines.append(f"passes:      {', '.join(found['passes'])} (colour, copied as they are)")
    lines.append(f"compression: {found['compression'] or 'unknown'}")
    lines.append(f"colourspace: {found['colorspace']}  ({found['colorspace_reason']})")
    if found["pages"] > 1:
        lines.append(
            f"pages:       {found['pages']}; the first is filled and written, the others are dropped"
        )
    if found["parts"]:
        names = ", ".join(n or "(unnamed)" for n in found["parts"])
        lines.append(
            f"parts:       {len(found['parts'])} ({names}); the first is filled, the others copied as they are"
        )
    return "\n".join(lines)


def _window_text(window: Window) -> str:
    width, height = window_size(window)
    return f"{width}x{height} ({window[0]},{window[1]})-({window[2]},{window[3]})"


def _channel_text(channels: dict[str, str]) -> str:
    """``R,G,B,A (half), Z (float)``: channels grouped by pixel type, in file order."""
    groups: dict[str, list[str]] = defaultdict(list)
    for name, kind in channels.items():
        groups[kind].append(name)
    return ", ".join(f"{','.join(names)} ({kind})" for kind, names in groups.items())


def _fills(info: ImageInfo) -> tuple[tuple[str, ...], str | None]:
    """The channels a fill changes (:func:`.image.file_colour_channels`), or none and why."""
    try:
        return file_colour_channels(info.channels, info.other_parts), None
    except InputError as exc:
        return (), str(exc)


def _filled_text(names: list[str] | None, why: str | None) -> str:
    if not names:
        return f"nothing: {why}"
    layer = layer_of(tuple(names))
    return f"{layer}.{{{','.join(n.rpartition('.')[2] for n in names)}}}" if layer else ",".join(names)


def _unfilled(info: ImageInfo, filled: tuple[str, ...]) -> Unfilled:
    """The views and colour passes a fill copies as they are (:func:`.image.unfilled_colour`); none where
    the frame has no colour to fill."""
    if not filled:
        return Unfilled()
    return unfilled_colour(filled, info.channels, info.attributes, info.other_parts)
