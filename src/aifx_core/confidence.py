"""The fill's confidence as an output a compositor can look at: where the fill is a guess.

``FillJob.confidence`` (``aifx fill --confidence``) asks for it. EXR outputs get an extra channel
``fill.confidence`` (float, 1 = the plate itself or background other frames saw, well aligned; 0 = invented
by the spatial route); PNG/TIFF/JPEG/DPX outputs, which cannot hold extra channels, get a grey 16-bit PNG sequence
in a ``confidence/`` folder beside the output, each named for its frame (``clean.1001.tif`` →
``confidence/clean.1001.tif.png``, :func:`sidecar_path`). The map follows the composite:
outside the feathered hole it is 1, inside it blends towards the backend's value by the same weight.

Backends say how sure they are through a ``last_confidence`` attribute (H, W float32, for the frame they last
returned; the ``propagate`` engine sets it); a backend without one fills every frame on its own, so its
hole is a guess (0).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError
from .sequence import (
    FORMATS,
    FramePattern,
    Image,
    ProtectedFiles,
    check_side_sequence,
    check_writable,
    write_image,
)

#: EXR channel name of the confidence map.
CHANNEL = "fill.confidence"
#: Folder (beside the output frames) of the confidence sequence for formats without extra channels.
FOLDER = "confidence"


def confidence_map(backend: Any, hole: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """The output confidence (H, W float32) of the frame ``backend`` last returned, composited by ``weight``."""
    reported = getattr(backend, "last_confidence", None)
    inside = np.zeros(hole.shape, np.float32) if reported is None else np.asarray(reported, np.float32)
    if inside.shape != hole.shape:
        inside = np.zeros(hole.shape, np.float32)
    w = np.clip(np.nan_to_num(weight), 0.0, 1.0).astype(np.float32)
    return (1.0 - w * (1.0 - np.clip(inside, 0.0, 1.0))).astype(np.float32)


def sidecar_path(target: str | Path) -> Path:
    """Where the confidence of output frame ``target`` goes when its format has no room for a channel: the
    frame's whole name plus ``.png`` (``confidence/clean.1001.tif.png``). Named by the stem alone, a TIFF and a
    JPEG output of one name in one folder shared their sidecars, and a run of one without ``--confidence``
    deleted the other's. The frame number stays the last digits before the extension, where Nuke's and
    Blender's file browsers find it (``confidence/clean.####.tif.png``)."""
    path = Path(target)
    return path.parent / FOLDER / (path.name + ".png")


def legacy_sidecar_path(target: str | Path) -> Path:
    """The name aifx gave the sidecar of ``target`` until 2026-12-06 (``confidence/clean.1001.png``), read
    when the new one is not there, so an output finished then keeps its confidence (sheet, eval, resume)."""
    path = Path(target)
    return path.parent / FOLDER / (path.stem + ".png")


def sidecar_of(target: str | Path) -> Path | None:
    """The sidecar file that holds the confidence of output frame ``target`` (its name, else the legacy one),
    None when neither is there."""
    for side in (sidecar_path(target), legacy_sidecar_path(target)):
        if side.is_file():
            return side
    return None


class Sidecars:
    """The confidence sequence of output ``out`` (a format without room for a channel): ``path(frame)`` is
    :func:`sidecar_path` of the output frame, what the guard's side-sequence check reads."""

    def __init__(self, out: FramePattern) -> None:
        self.out = out

    def path(self, frame: int) -> Path:
        return sidecar_path(self.out.path(frame))


def check_sidecars(out: FramePattern, frames: Iterable[int], protected: ProtectedFiles) -> None:
    """Before any work, for a job writing its confidence beside a non-EXR output: no confidence frame may land
    on a file the job reads (a second pass whose matte is the first pass's confidence, written into the same
    folder, overwrote its own mask) or on an output frame, and their folder must be one; then they are protected
    too (the contact sheet).
    Nothing to check for EXR (a channel)."""
    if not has_sidecars(out):
        return
    frames = list(frames)
    if frames:
        _check_folder(sidecar_path(out.path(frames[0])).parent, out)
    check_side_sequence(Sidecars(out), frames, "confidence", protected, "-o/--output")
    protected.add_frames(Sidecars(out), "confidence frame", frames)


def _check_folder(folder: Path, out: FramePattern) -> None:
    """The confidence folder is a folder (or not there yet) that can be written: a file or a broken link of that
    name stopped the run after the fill work with a FileExistsError traceback (exit 1). Whether frames can be
    written there is :func:`~.sequence.check_writable`'s rule, as for the output folder (which holds it when
    it is not there yet)."""
    if os.path.lexists(folder) and not folder.is_dir():
        what = "a broken link" if os.path.islink(folder) else "a file"
        raise InputError(
            f"{folder}: {what} named '{FOLDER}' is in the output folder, where the confidence frames of "
            f"{out} go; move or rename it, or write .exr (the confidence is then a channel of the frames)"
        )
    if folder.is_dir():
        check_writable(folder, create=False, what="confidence folder")


def has_sidecars(out: FramePattern) -> bool:
    """Does output ``out`` keep its confidence in a sidecar sequence (every format but EXR)?"""
    return out.extension != ".exr"


def carried(image: Image) -> bool:
    """Does plate frame ``image`` carry an earlier fill's confidence (a second pass over a first pass's EXRs, or
    chained AIFill nodes in Nuke)? Then the fill combines it with its own (:func:`attach`)."""
    return CHANNEL in image.channels


def carried_notice(frame: int, asked: bool) -> str:
    """The run's note that the plate's confidence channel was combined with this fill's."""
    how = (
        "the output's is the lower of the two"
        if asked
        else "the output keeps it, lowered where this fill is a guess"
    )
    return (
        f"note: plate frame {frame} already has a {CHANNEL} channel (an earlier fill's); {how}, so both "
        "fills' guesses show"
    )


def attach(image: Image, target: str | Path, confidence: np.ndarray) -> Image:
    """``image`` with the confidence added for writing to ``target``: as a channel for EXR, else written now
    as a 16-bit grey PNG in :func:`sidecar_path` (atomically) and ``image`` returned unchanged.

    A plate that already has a confidence channel (:func:`carried`) was filled before: the result is the lower of
    the two per pixel, so what the earlier fill guessed stays a guess (replaced, its hole read 1, sure); the
    channel keeps the plate's type where it is half."""
    earlier = image.channels.get(CHANNEL)
    if earlier is not None and earlier.shape == confidence.shape:
        confidence = np.fmin(confidence, np.clip(earlier.astype(np.float32), 0.0, 1.0))  # (NaN: this fill's)
    if Path(target).suffix.lower() == ".exr":
        kind = np.float16 if earlier is not None and earlier.dtype == np.float16 else np.float32
        return image.with_channels({CHANNEL: confidence.astype(kind)})
    side = sidecar_path(target)
    side.parent.mkdir(parents=True, exist_ok=True)
    grey = np.round(np.clip(confidence, 0.0, 1.0) * 65535.0).astype(np.uint16)
    write_image(side, Image(channels={"Y": grey}), bit_depth=16)
    return image


def forget(target: str | Path, protected: ProtectedFiles) -> None:
    """Remove the confidence sidecar of output frame ``target``, written by an earlier run, before a run without
    ``--confidence`` replaces the frame: the sheet and ``aifx eval`` show the sidecar with the frame, and a
    stale one showed the earlier fill's confidence for the new one.

    Never a file the job reads or writes (``protected``): a second pass whose matte is the first pass's
    confidence sequence had its mask frames deleted. The earlier name (:func:`legacy_sidecar_path`) is removed
    only when it can be this frame's alone (:func:`_legacy_is_own`)."""
    if Path(target).suffix.lower() == ".exr":
        return
    sides = [sidecar_path(target)]
    if _legacy_is_own(Path(target)):
        sides.append(legacy_sidecar_path(target))
    for side in sides:
        try:
            if protected.role_of(side) is not None:
                continue
        except InputError:  # (a symlink loop: not ours to remove)
            continue
        # (a file named ``confidence`` there holds no sidecar: NotADirectoryError stopped a run without the flag)
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            side.unlink()


def _legacy_is_own(target: Path) -> bool:
    """Can the earlier-named sidecar ``confidence/<stem>.png`` be ``target``'s only? That name was shared by
    every PNG/TIFF/JPEG/DPX frame of that stem in the folder: with another such frame beside ``target``
    (``clean.1001.png`` beside ``clean.1001.tif``) it may be that one's, and is left alone."""
    for extension in FORMATS:
        if extension == ".exr" or extension == target.suffix.lower():
            continue
        for name in {target.stem + extension, target.stem + extension.upper()}:
            if (target.parent / name).exists():
                return False
    return True


def read_confidence(image: Any, source: str | Path | None) -> np.ndarray | None:
    """The confidence stored with a result frame (its channel, or the sidecar PNG), None when there is none."""
    channels = getattr(image, "channels", None)
    if channels is not None and CHANNEL in channels:
        return np.asarray(channels[CHANNEL], np.float32)
    if source is None:
        return None
    side = sidecar_of(source)
    if side is None:
        return None
    from .sequence import read_image

    grey = read_image(side)
    plane = next(iter(grey.channels.values()))
    scale = 65535.0 if plane.dtype == np.uint16 else 255.0 if plane.dtype == np.uint8 else 1.0
    return plane.astype(np.float32) / scale
