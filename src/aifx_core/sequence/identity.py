"""Whether an input file is still the one a frame was made from: its identity (size and modification time, and
for content-compared files a digest), kept by the output's manifest and by the anchors cache.

A plate frame is known by its size and time (a stat), plus a content digest in the manifest's record, so a plate
copied without its times is still the same frame; a mask file by its size and content (mattes are written again
unchanged). Here, below both users, so the manifest and the anchors cache compare files the same way.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any


def source_identity(path: Path, by_content: bool = False) -> list[Any] | None:
    """What says an input file is still the one a frame was made from (None: it is gone).

    A plate frame is known here by its size and modification time: a re-render, a replaced file or a new
    version behind a symlink changes them, and a stat is all it costs (the anchors cache fingerprints every
    plate of the shot this way at the start of each run). A mask file is known by its size and content (SHA-256;
    mattes are small): tools write mattes again unchanged (Blender's add-on rasterises its Mask on every run),
    and a rerun after that must still resume. The manifest's record of a plate frame adds its content digest
    (:func:`plate_identity`), so a plate copied without its times is still recognised on resume.
    """
    try:
        info = os.stat(path)
        if not by_content:
            return [info.st_size, info.st_mtime_ns]
        digest = content_digest(path)
    except OSError:
        return None
    return [info.st_size, digest]


def plate_identity(path: Path, digest: Callable[[Path], str] | None = None) -> list[Any] | None:
    """A plate frame's record in the manifest: size, modification time and content digest (None: gone).

    Size and time decide while they are what was recorded (no read). The digest decides when only the time
    moved: plates copied without their times (``cp`` without ``-p``, a sync tool, a restore from backup) are
    the same frames, and a resume after such a copy used to be refused until ``--overwrite`` threw every
    finished frame away. Hashing costs one more read of a plate frame the run has just read (in the page
    cache; ~5 ms a 1080p half-float frame, 0.2 ms at 432x240), on the writer thread (hashlib releases the GIL).
    """
    try:
        info = os.stat(path)
        content = (digest or content_digest)(path)
    except OSError:
        return None
    return [info.st_size, info.st_mtime_ns, content]


def same_plate(
    path: Path,
    recorded: list[Any] | None,
    now: list[Any] | None,
    digest: Callable[[Path], str] | None = None,
) -> bool:
    """Whether the plate frame at ``path`` (its size and time ``now``, :func:`source_identity`) is the one
    ``recorded`` (:func:`plate_identity`; a manifest written before digests were kept holds size and time
    only, compared as they were; None on both sides: gone then and now). ``digest``: how its content is
    hashed (default :func:`content_digest`; a manifest passes its memo)."""
    if recorded is None or now is None:
        return recorded is None and now is None
    if len(recorded) < 2 or now[0] != recorded[0]:
        return False
    if now[1] == recorded[1]:
        return True
    if len(recorded) < 3:
        return False
    try:
        return (digest or content_digest)(path) == recorded[2]
    except OSError:
        return False


def content_digest(path: Path) -> str:
    """SHA-256 of a file's content (the first 32 hex digits), read in 1 MB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:32]
