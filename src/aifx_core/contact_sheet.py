"""Before/after contact sheets: one PNG that shows what a fill did, at a glance, in review or in a ticket.

Rows are versions (plate, result, truth, mask), columns are frames. Float images are tone-mapped through
:func:`aifx_core.colour.to_display_uint8` (OCIO to sRGB with a highlight roll-off), so a scene-linear plate looks
on the sheet as it does to the fill models.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

import cv2
import numpy as np

from .colour import convert, guess_colorspace, to_display_uint8
from .confidence import read_confidence
from .errors import InputError
from .metrics import display_unit
from .sequence import Image, atomic_write, check_writable
from .sequence.window import in_display_window

if TYPE_CHECKING:
    from .sequence.pattern import FramePattern

#: Width of one thumbnail in pixels; the height follows the frame's aspect ratio.
THUMB_WIDTH = 360
_LABEL_WIDTH = 120
_TITLE_HEIGHT = 28
_GAP = 4
_BACKGROUND = (32, 32, 32)
_TEXT = (230, 230, 230)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


class _Readable(Protocol):
    """What the sheet needs of a sequence: its frame numbers and ``read(frame) -> Image``."""

    @property
    def frames(self) -> Sequence[int]: ...

    def read(self, frame: int) -> Any: ...


def to_display_rgb8(image: np.ndarray, colorspace: str | None) -> np.ndarray:
    """(H, W, 3) uint8 RGB for display; a 2-D array (mask, weight) is shown as grey."""
    array = np.asarray(image)
    if array.ndim == 2 or (array.ndim == 3 and array.shape[-1] == 1):
        grey = array.reshape(array.shape[:2])
        if grey.dtype == bool:
            grey = grey.astype(np.float32)
        unit = np.clip(np.nan_to_num(grey.astype(np.float32)), 0.0, 1.0)
        return np.repeat(np.rint(unit * 255.0).astype(np.uint8)[..., None], 3, axis=-1)
    if array.dtype == np.uint8:
        return array[..., :3]
    if colorspace is None:
        return np.rint(display_unit(array[..., :3]) * 255.0).astype(np.uint8)
    return to_display_uint8(array[..., :3].astype(np.float32), colorspace)


def _thumbnail(rgb8: np.ndarray, width: int) -> np.ndarray:
    h, w = rgb8.shape[:2]
    height = max(1, round(h * width / w))
    interpolation = cv2.INTER_AREA if width < w else cv2.INTER_LINEAR
    return cv2.resize(rgb8, (width, height), interpolation=interpolation)


def _put_text(canvas: np.ndarray, text: str, x: int, y: int, max_width: int) -> None:
    scale = 0.5
    while scale > 0.3 and cv2.getTextSize(text, _FONT, scale, 1)[0][0] > max_width:
        scale -= 0.05
    cv2.putText(canvas, text, (x, y), _FONT, scale, _TEXT, 1, cv2.LINE_AA)


def render_contact_sheet(
    rows: list[tuple[str, list[np.ndarray]]],
    column_titles: list[str],
    colorspace: str | None = None,
    thumb_width: int = THUMB_WIDTH,
) -> np.ndarray:
    """The sheet as an (H, W, 3) uint8 RGB array (see :func:`write_contact_sheet`)."""
    if not rows or not any(images for _, images in rows):
        raise InputError("contact sheet: nothing to show; give at least one row with one image")
    columns = max(len(images) for _, images in rows)
    thumbs = [
        [_thumbnail(to_display_rgb8(img, colorspace), thumb_width) for img in images] for _, images in rows
    ]
    row_heights = [max((t.shape[0] for t in row), default=1) for row in thumbs]
    width = _LABEL_WIDTH + columns * (thumb_width + _GAP) + _GAP
    height = _TITLE_HEIGHT + sum(h + _GAP for h in row_heights) + _GAP
    canvas = np.empty((height, width, 3), dtype=np.uint8)
    canvas[:] = _BACKGROUND
    for c, title in enumerate(column_titles[:columns]):
        _put_text(
            canvas,
            title,
            _LABEL_WIDTH + c * (thumb_width + _GAP) + _GAP,
            _TITLE_HEIGHT - 9,
            thumb_width,
        )
    y = _TITLE_HEIGHT
    for (label, _), row, row_height in zip(rows, thumbs, row_heights, strict=True):
        _put_text(canvas, label, 6, y + row_height // 2 + 5, _LABEL_WIDTH - 10)
        for c, thumb in enumerate(row):
            x = _LABEL_WIDTH + c * (thumb_width + _GAP) + _GAP
            canvas[y : y + thumb.shape[0], x : x + thumb.shape[1]] = thumb
        y += row_height + _GAP
    return canvas


def write_contact_sheet(
    path: str | Path,
    rows: list[tuple[str, list[np.ndarray]]],
    column_titles: list[str],
    colorspace: str | None = None,
    thumb_width: int = THUMB_WIDTH,
    *,
    stale_after: float = 300.0,
) -> Path:
    """Write a labelled PNG grid: one row per ``(label, images)``, one column per title.

    Images are float RGB in ``colorspace`` (scene-linear is tone-mapped), uint8 RGB, or 2-D masks shown as
    grey. The file is written atomically (temp file + rename), so a crash never leaves half a PNG; the temp
    file a killed write left is removed by the next write once ``stale_after`` seconds old (0: the caller alone
    writes this sheet now, as a fill alone on its output does; see :func:`~.sequence.atomic.atomic_write`).
    """
    target = Path(path)
    canvas = render_contact_sheet(rows, column_titles, colorspace, thumb_width)
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    if not ok:
        raise InputError(f"{target}: could not encode the contact sheet as PNG")
    check_writable(target.parent)
    atomic_write(target, lambda tmp: tmp.write_bytes(encoded.tobytes()), stale_after=stale_after)
    return target


def pick_frames(frames: Sequence[int], count: int = 4) -> list[int]:
    """Up to ``count`` evenly spaced frames, first and last included."""
    frames = list(frames)
    if len(frames) <= count:
        return frames
    picks = np.linspace(0, len(frames) - 1, count).round().astype(int)
    return [frames[i] for i in sorted(set(picks.tolist()))]


def _colour_of(image: Any) -> np.ndarray:
    return image.rgb() if hasattr(image, "rgb") else np.asarray(image)


def _framed(image: Any) -> Any:
    """A frame as read, in its display window: an EXR with overscan or a bbox as its data window is shown as the
    frame the fill and its hole are in (each was shown at its data window's size, framed unlike the others,
    and the hole's outline was left off where the sizes differed)."""
    return in_display_window(image) if isinstance(image, Image) else image


def _mask_at(mask: Any, frame: int) -> np.ndarray:
    if hasattr(mask, "matte"):
        return np.asarray(mask.matte(frame))
    if callable(mask) and not hasattr(mask, "read"):
        return np.asarray(mask(frame))
    if isinstance(mask, dict):
        return np.asarray(mask[frame])
    image = _framed(mask.read(frame) if frame in mask.frames else mask.read(mask.frames[0]))
    rgb = _colour_of(image)
    return rgb.max(axis=-1) if rgb.ndim == 3 else rgb


def no_confidence_tile(shape: Sequence[int]) -> np.ndarray:
    """The confidence row's tile for a frame written without confidence: hatched grey, where black would read
    as "all of it invented" (white is sure, black a guess)."""
    height, width = int(shape[0]), int(shape[1])
    yy, xx = np.mgrid[0:height, 0:width]
    stripe = max(2, min(height, width) // 12)
    return np.where((xx + yy) // stripe % 2 == 0, 0.35, 0.5).astype(np.float32)


def _check_plate_size(plate_seq: Any, plates: list[Any], results: list[Any], frames: list[int]) -> None:
    """The before row must show the plate the result was made from: one of another size was accepted, drawn
    without the hole's outline (which no longer fits it)."""
    for plate, result, frame in zip(plates, results, frames, strict=True):
        plate_shape, result_shape = np.shape(_colour_of(plate))[:2], np.shape(_colour_of(result))[:2]
        if plate_shape != result_shape:
            where = plate_seq.path(frame) if callable(getattr(plate_seq, "path", None)) else "plate"
            raise InputError(
                f"{where}: plate is {plate_shape[1]}x{plate_shape[0]} but the result is "
                f"{result_shape[1]}x{result_shape[0]}; pass the plate the fill was made from"
            )


def overlay_hole(rgb8: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """The frame with the hole's outline drawn in red, so a reviewer sees where the fill is."""
    hole8 = np.asarray(hole, dtype=bool).astype(np.uint8)
    if hole8.shape != rgb8.shape[:2]:
        return rgb8
    contours, _ = cv2.findContours(hole8, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out = np.ascontiguousarray(rgb8.copy())
    thickness = max(1, rgb8.shape[1] // 400)
    cv2.drawContours(out, contours, -1, (255, 40, 40), thickness, cv2.LINE_AA)
    return out


def before_after_sheet(
    path: str | Path,
    plate_seq: _Readable | None,
    result_seq: _Readable | str | Path | FramePattern,
    frames: Sequence[int],
    mask: Any = None,
    *,
    reference_seq: _Readable | None = None,
    colorspace: str | None = None,
    count: int = 4,
    reference_colorspace: str | None = None,
    stale_after: float = 300.0,
) -> Path:
    """Write a before/after sheet at up to ``count`` evenly spaced ``frames``.

    Rows: ``before`` (the plate, hole outlined in red when ``mask`` is given), ``after`` (the result),
    ``confidence`` (when the result carries one, see :mod:`aifx_core.confidence`: white = sure), ``truth``
    (``reference_seq``, when given) and ``mask``. ``mask`` is a sequence (``.frames``/``.read``; a single
    frame serves every frame), a callable ``frame -> array`` or a dict. ``colorspace`` defaults to a guess from
    the result's pixel type (float = scene-linear); ``reference_colorspace`` (the truth row's own, when it is
    stored otherwise) defaults to it. ``stale_after``: see :func:`write_contact_sheet`.
    """
    chosen = pick_frames(frames, count)
    if not chosen:
        raise InputError(f"{path}: no frames to put on the contact sheet")
    if hasattr(result_seq, "read"):
        readable = cast(_Readable, result_seq)
    else:  # an output pattern: open what was written
        from .sequence import open_sequence

        readable = open_sequence(str(result_seq), frames=",".join(str(f) for f in chosen))
    if isinstance(mask, (str, Path)):
        from .mask import open_mask

        mask = open_mask(str(mask), None, plate_seq if plate_seq is not None else readable)
    results = [_framed(readable.read(f)) for f in chosen]
    space = colorspace or guess_colorspace(results[0])
    holes = [(_mask_at(mask, f) > 0.5) for f in chosen] if mask is not None else None
    rows: list[tuple[str, list[np.ndarray]]] = []
    if plate_seq is not None:
        plates = [_framed(plate_seq.read(f)) for f in chosen]
        _check_plate_size(plate_seq, plates, results, chosen)
        before = [to_display_rgb8(_colour_of(plate), space) for plate in plates]
        if holes is not None:
            before = [overlay_hole(img, hole) for img, hole in zip(before, holes, strict=True)]
        rows.append(("before", before))
    rows.append(("after", [_colour_of(img) for img in results]))
    where = getattr(readable, "path", None)
    confidences = [
        read_confidence(img, where(f) if callable(where) else None)
        for img, f in zip(results, chosen, strict=True)
    ]
    if any(c is not None for c in confidences):
        blank = no_confidence_tile(results[0].shape if hasattr(results[0], "shape") else (1, 1))
        rows.append(("confidence", [c if c is not None else blank for c in confidences]))
    if reference_seq is not None:
        truth_space = reference_colorspace or space
        truth = [convert(_colour_of(_framed(reference_seq.read(f))), truth_space, space) for f in chosen]
        rows.append(("truth", [to_display_rgb8(img, space) for img in truth]))  # as the result is shown
    if holes is not None:
        rows.append(("mask", [h.astype(np.float32) for h in holes]))
    return write_contact_sheet(path, rows, [f"frame {f}" for f in chosen], space, stale_after=stale_after)
