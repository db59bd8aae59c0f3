"""The frame token in a sequence's file name, read the one way the core and the adapters share.

``plate.####.exr`` / ``plate.@@@@.exr`` (one character per digit), ``plate.%04d.exr`` / ``plate.%d.exr``
(printf) and ``plate.$F4.exr`` / ``plate.$F.exr`` / ``plate.${F4}.exr`` (Houdini) name the same files. The core's
:mod:`aifx_core.sequence.pattern` reads patterns with these rules; an adapter that lists or names output files
itself (Blender's, which knows only ``#``) settles a pattern to its ``#`` form with :func:`hash_pattern`, so a
``%04d`` output was not missed when the result was loaded, nor taken for empty when a run failed part-way.
"""

from __future__ import annotations

import os
import re
from typing import Optional

from .errors import InputError

#: The image file types aifx reads and writes (an output must end with one), lower case with their dot.
IMAGE_EXTENSIONS = (".exr", ".png", ".tif", ".tiff", ".jpg", ".jpeg", ".dpx")

#: One frame token: ####, @@@@, %04d / %d, $F4 / $F / ${F4}.
FRAME_TOKEN = re.compile(r"#+|@+|%0?(\d*)d|\$\{F(\d*)\}|\$F(\d*)(?![A-Za-z0-9_])")
# $F, digits, then a letter or _: Houdini reads ``$F4_v2`` as the variable ``F4_v2``, not ``$F4`` and ``_v2``.
_STUCK = re.compile(r"\$F(\d+)([A-Za-z_]\w*)")


def frame_token(name: str, text: str) -> Optional["re.Match[str]"]:
    """The one frame token in the file name ``name`` (None: a still); ``text`` is the path as given, for the
    message. Raises :class:`InputError` for ``$F4_v2`` (a Houdini variable, not a token) or two tokens."""
    stuck = _STUCK.search(name)
    if stuck:
        digits, rest = stuck.groups()
        raise InputError(
            f"{text}: $F{digits}{rest} reads as the variable F{digits}{rest} (as Houdini reads it), not the frame "
            f"token $F{digits} then {rest}; write ${{F{digits}}}{rest} or {'#' * int(digits)}{rest}"
        )
    tokens = list(FRAME_TOKEN.finditer(name))
    if len(tokens) > 1:
        raise InputError(
            f"{text}: more than one frame token ({', '.join(t.group() for t in tokens)}); keep one, e.g. plate.####.exr"
        )
    return tokens[0] if tokens else None


def token_padding(token: "re.Match[str]") -> int:
    """The digits a token asks for: one per ``#`` or ``@``, the number in ``%04d`` / ``$F4``, else 1."""
    text = token.group()
    if text[0] in "#@":
        return len(text)
    digits = next((g for g in token.groups() if g), "")
    return int(digits) if digits else 1


def hash_pattern(path: str) -> str:
    """``path`` with its file name's frame token written as ``#`` (``clean.%04d.exr`` and ``clean.$F4.exr`` ->
    ``clean.####.exr``); a path with no token is returned as it is. Raises :class:`InputError` as
    :func:`frame_token` does."""
    folder, name = os.path.split(path)
    token = frame_token(name, path)
    if token is None:
        return path
    return os.path.join(folder, name[: token.start()] + "#" * token_padding(token) + name[token.end() :])


def output_extension(path: str) -> str:
    """The extension of the output pattern or file ``path`` (lower case, with its dot; "" for none): what
    follows its frame token's last one, as the core reads a pattern (``shot.####.XYZ`` is ``.xyz``)."""
    name = os.path.basename(path)
    tokens = list(FRAME_TOKEN.finditer(name))
    tail = name[tokens[-1].end() :] if tokens else name
    return os.path.splitext("x" + tail)[1].lower()


def refuse_output_type(path: str, extension: str) -> None:
    """Refuse an output whose ``extension`` is no file type aifx writes, in one line naming ``path``: the core's
    output check, and the Blender add-on's at the press (the worker refused it only after the Mask had been
    rasterised, its mattes written)."""
    if extension not in IMAGE_EXTENSIONS:
        known = ", ".join(sorted(IMAGE_EXTENSIONS))
        shown = f"'{extension}'" if extension else "no extension"
        raise InputError(f"{path}: output has {shown}; end it with one of {known}, e.g. clean.####.exr")
