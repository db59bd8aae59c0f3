"""Frame ranges as artists type them (``1001-1100``, ``1001-1100x2``, ``1001-1010,1020``) and back.

The same compact form is used in both directions so that an error such as "frames 1005-1007,1010 missing"
can be pasted straight back into ``--frames``.
"""

from __future__ import annotations

import numbers
import os
import re
from collections.abc import Iterable

from ..errors import InputError

#: Refuse specs that would expand to more frames than this (a typo like ``1-10000000`` would eat memory).
MAX_FRAMES = 1_000_000

# One comma-separated item: a frame, or a range with an optional step. Frames may be negative, so the
# range dash is the one that follows a number: "-5--1" is -5 to -1, "1001-1100x2" steps by two.
_ITEM = re.compile(r"^(?P<start>-?\d+)(?:\s*-\s*(?P<end>-?\d+)(?:\s*[x:]\s*(?P<step>\d+))?)?$")


#: What the frames of a job are called in messages: a job file's field, not a flag nobody gave.
JOB_FRAMES = 'job field "frames"'


def parse_frame_spec(spec: str, name: str = "--frames") -> list[int]:
    """Frames named by ``spec``, sorted and without duplicates.

    Accepts ``1001``, ``1001-1100``, ``1001-1100x2`` (every second frame), ``-5--1`` (negative frames)
    and comma-separated lists of these. Anything else is an :class:`InputError` naming the bad part and where
    the spec came from, ``name`` (the flag, or :data:`JOB_FRAMES`).
    """
    frames: set[int] = set()
    for item in frame_spec_items(spec, name):
        if range_size(item) + len(frames) > MAX_FRAMES:
            raise InputError(f"{name} {spec!r}: more than {MAX_FRAMES} frames; check the range for a typo")
        frames.update(item)
    return sorted(frames)


def looks_like_frame_spec(text: str) -> bool:
    """Whether ``text`` is written as a frame spec (every comma-separated item a frame or a range, negative ones
    included: ``-3-2``, ``-5--1,0``), whatever its size: what the command line takes as ``--frames``' value
    although it starts with ``-`` (``aifx_core.cli``)."""
    return all(_ITEM.match(item.strip()) for item in text.split(","))


def range_size(frames: range) -> int:
    """How many numbers ``frames`` holds, counted, not by ``len()``: a range past ``sys.maxsize`` (a typo'd
    ``1001-10010000000000000000``) made ``len()`` raise OverflowError, a traceback instead of the typo refusal."""
    return max(0, -((frames.start - frames.stop) // frames.step))


def frame_spec_items(spec: str, name: str = "--frames") -> list[range]:
    """The comma-separated items of ``spec`` as ranges, as written (``1001-1100x2`` is ``range(1001, 1101, 2)``),
    each checked as :func:`parse_frame_spec` says. Their union is the frames; the items themselves matter where a
    span means the frames a shot has between its ends (``pipeline.select_frames``)."""
    text = spec.strip()
    if not text:
        raise InputError(f"{name} is empty; give frames like 1001-1100 or 1001-1010,1020")
    items: list[range] = []
    for raw in text.split(","):
        item = raw.strip()
        match = _ITEM.match(item)
        if match is None:
            raise InputError(
                f"{name} {spec!r}: cannot read {item!r}; use frames like 1001-1100, 1001-1100x2 or 1001,1005"
            )
        try:
            start = int(match["start"])
            end = int(match["end"]) if match["end"] is not None else start
            step = int(match["step"]) if match["step"] is not None else 1
        except ValueError:  # (a number of thousands of digits, which int() refuses to read)
            shown = spec if len(spec) <= 60 else spec[:57] + "..."
            raise InputError(
                f"{name} {shown!r}: a number thousands of digits long; check the range for a typo"
            ) from None
        if step < 1:
            raise InputError(f"{name} {spec!r}: step in {item!r} must be 1 or more")
        if end < start:
            raise InputError(f"{name} {spec!r}: range {item!r} runs backwards; write it as {end}-{start}")
        items.append(range(start, end + 1, step))
    return items


def frames_text(frames: Iterable[int] | int | str | None, name: str = "frames") -> str | None:
    """``frames`` as a Python caller gives them (a range text, one frame number, or a list of them; None: all)
    as range text: what ``info`` and ``evaluate`` take, as ``fill`` does (they failed with an AttributeError
    on ``1001`` or ``[1001, 1002]``)."""
    if frames is None or isinstance(frames, str):
        return frames
    found = frame_numbers(frames, name)
    if not found:
        raise InputError(
            f"{name} {frames!r}: give frame numbers (e.g. [1001, 1002]) or a range text ('1001-1010')"
        )
    return format_frames(found)


def frame_numbers(frames: Iterable[int] | int, name: str = "frames") -> list[int]:
    """Frame numbers as a Python caller gives them (one number, or a list or tuple of them) as a list of ints.

    The one reading for :func:`frames_text` and ``pipeline.select_frames``: a numpy integer (from
    ``np.arange``) is a frame number; ``True`` or text in a list is refused in one line, not a traceback.
    An empty list gives ``[]``: each caller says what an empty choice means to it."""
    if _is_frame_number(frames):
        return [int(frames)]  # type: ignore[arg-type]
    items = list(frames) if isinstance(frames, Iterable) and not isinstance(frames, (str, bytes)) else None
    if items is None or not all(_is_frame_number(f) for f in items):
        raise InputError(
            f"{name} {frames!r}: give frame numbers (e.g. [1001, 1002]) or a range text ('1001-1010')"
        )
    return [int(f) for f in items]


def _is_frame_number(value: object) -> bool:
    """A whole number that is not a bool (Python's or numpy's)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def format_frames(frames: Iterable[int], max_parts: int | None = None) -> str:
    """The compact form of a set of frames: ``[1001, 1002, 1003, 1020]`` → ``"1001-1003,1020"``.

    Runs of consecutive frames become ``a-b`` and runs of three or more with an even step ``a-bxN`` (every
    other frame missing reads ``1001-1099x2``, not fifty numbers). The result parses back to the same frames
    with :func:`parse_frame_spec`. ``max_parts`` shortens very irregular sets for messages
    (``"1,5,9,... (+40 more frames)"``); such text no longer parses. An empty input gives ``""``.
    """
    ordered = sorted(set(frames))
    parts: list[str] = []
    counts: list[int] = []
    i = 0
    while i < len(ordered):
        j = i
        if i + 1 < len(ordered):
            step = ordered[i + 1] - ordered[i]
            while j + 1 < len(ordered) and ordered[j + 1] - ordered[j] == step:
                j += 1
            if step > 1 and j - i < 2:
                j = i  # two frames a step apart are clearer listed: "4,6", not "4-6x2"
        if i == j:
            parts.append(str(ordered[i]))
        else:
            step = ordered[i + 1] - ordered[i]
            parts.append(f"{ordered[i]}-{ordered[j]}" + (f"x{step}" if step > 1 else ""))
        counts.append(j - i + 1)
        i = j + 1
    if max_parts is not None and len(parts) > max_parts:
        hidden = sum(counts[max_parts:])
        return ",".join(parts[:max_parts]) + f",... (+{hidden} more frames)"
    return ",".join(parts)


def split_trailing_range(spec: str) -> tuple[str, str | None]:
    """``"plate.####.exr 1001-1100"`` (as Nuke's file browser shows a sequence) → ``("plate.####.exr",
    "1001-1100")``; a spec without a trailing range, or naming an existing file, comes back unchanged."""
    parts = spec.strip().rsplit(None, 1)
    if len(parts) != 2 or os.path.exists(spec):
        return spec, None
    head, tail = parts
    if all(_ITEM.match(item) for item in tail.split(",")):
        return head, tail
    return spec, None


def chosen_frames(spec: str, trailing: str | None, frames: str | None, name: str = "--frames") -> str | None:
    """The frames asked of ``spec``: ``frames`` (the flag or job field ``name``), which may narrow the range
    after its pattern (``trailing``, :func:`split_trailing_range`), or that range. ``frames`` naming frames
    outside it is an :class:`InputError`: ``'plate.####.exr 1001-1002' --frames 1004-1005`` dropped the
    pattern's range without a word."""
    if frames is None or trailing is None:
        return frames if frames is not None else trailing
    outside = sorted(set(parse_frame_spec(frames, name)) - set(parse_frame_spec(trailing, spec)))
    if outside:
        raise InputError(
            f"{spec}: {name} {frames} asks for frames outside the range after the pattern ({trailing}), first "
            f"{outside[0]}; give the frames once, or {name} within {trailing}"
        )
    return frames


def frame_gaps(frames: Iterable[int]) -> list[int]:
    """Frames missing between the first and last of ``frames`` (the holes in a rendered range)."""
    present = set(frames)
    if not present:
        return []
    return [f for f in range(min(present), max(present) + 1) if f not in present]
