"""What AI Fill fills, and with which Mask, when the artist does not name them: one rule for the panel's
button, the Clip / Image menu entry and F3, so they never disagree.

After a fill the editor shows the result ("<plate> AI Fill"), so the next press (after Esc, or after editing
the Mask) would fill the fill. Each result names the clip or image it was filled from in a custom property
(an ID pointer: it follows a rename and is cleared when the source is deleted), and the editor's result
stands for that source. A script that names a result (``clip=``, ``image=``) still fills that result.
"""

from __future__ import annotations

from typing import Any

import bpy

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
