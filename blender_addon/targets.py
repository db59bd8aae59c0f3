"""What AI Fill fills, and with which Mask, when the artist does not name them: one rule for the panel's
button, the Clip / Image menu entry and F3, so they never disagree.

After a fill the editor shows the result ("<plate> AI Fill"), so the next press (after Esc, or after editing
the Mask) would fill the fill. Each result names the clip or image it was filled from in a custom property
(an ID pointer: it follows a rename and is cleared when the source is deleted), and the editor's result
stands for that source. A script that names a result (``clip=``, ``image=``) still fills that result.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

import bpy

from .plates import block_path

#: Custom property on an AI Fill result: the Movie Clip or Image it was filled from.
SOURCE_PROP = "aifx_source"


def tag_result(result: bpy.types.ID, source: bpy.types.ID | None) -> None:
    """Mark ``result`` as the AI Fill of ``source`` (nothing for a plate given by path)."""
    if source is not None and source.id_type == result.id_type and source != result:
        result[SOURCE_PROP] = source


def fill_source(block: Any) -> Any:
    """The clip or image ``block`` was filled from when it is an AI Fill result, else ``block`` itself."""
    if block is None:
        return None
    source = block.get(SOURCE_PROP)
    if isinstance(source, bpy.types.ID) and source.id_type == block.id_type:
        return source
    return block


def editor_mask(settings: Any, space: Any) -> bpy.types.Mask | None:
    """The Mask to fill with: the panel's Mask field, else the Mask the editor shows (its Mask mode)."""
    chosen = getattr(settings, "mask", None) if settings is not None else None
    return chosen if chosen is not None else getattr(space, "mask", None)


def shows_output(block: Any, output: str) -> bool:
    """Whether the clip or image ``block`` shows files of ``output`` (same folder and name, any frame): a
    rerun's result then refreshes it. Comparing with one file (the lowest number on disk) made a second
    result ("... AI Fill.001") when a rerun filled frames before the earlier ones."""
    path = os.path.normpath(block_path(block))
    token = re.search(r"#+(?!.*#)", output)
    if token is None:
        return path == os.path.normpath(output)
    # Any number of digits: '#' (a $F output) names frame 1001 clean.1001.exr, as '####' does.
    head, tail = os.path.normpath(output[: token.start()] + "\0" + output[token.end() :]).split("\0")
    digits = path[len(head) : len(path) - len(tail)]
    return path.startswith(head) and path.endswith(tail) and digits.isdigit()


def earlier_result(blocks: Iterable[Any], output: str, source: Any = None) -> Any:
    """The clip or image an earlier fill loaded ``output`` into, found by its files (and, among those, the one
    tagged as ``source``'s result), never by name: a result the artist renamed ("sh010 clean") was loaded
    again beside itself, and every press into a second Output Folder added "... AI Fill.001", ".002"...
    (the name belonged to the first folder's result). A block linked from another .blend is not reused."""
    found = [block for block in blocks if block.library is None and shows_output(block, output)]
    tagged = [block for block in found if source is not None and block.get(SOURCE_PROP) == source]
    return (tagged or found or [None])[0]
