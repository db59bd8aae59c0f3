"""Mattes, holes and composite weights.

The user's matte (a mask sequence, a single still used for every frame, the plate's alpha, or any named
channel such as ``mask.Y``) becomes, per frame:

* a **hole** (:func:`make_hole`): the matte thresholded and grown by ``dilate`` pixels with a round kernel,
  so the object's soft edge, motion blur and shadow fringe are refilled too. This is what backends fill.
* a **weight** (:func:`feather_weight`): 1 inside the hole, falling linearly to 0 over ``feather`` pixels
  *outside* it, exactly 0 everywhere else. The composite blends only where the weight is above 0, so
  everything further away stays bit-identical to the plate.

Distances are exact Euclidean ones from OpenCV's distance transform, so a dilation by N is a true disc of
radius N and costs the same for N = 2 or N = 200.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from .errors import InputError
from .protocol import events
from .protocol.job import refuse_empty_path
from .sequence.frames import format_frames
from .sequence.image import Image, to_float
from .sequence.imageio import read_info
from .sequence.pattern import FramePattern, sequence_of_still
from .sequence.window import in_display_window


class _Sequence(Protocol):
    """What this module needs of :func:`aifx_core.sequence.open_sequence`'s result."""

    frames: list[int]
    pattern: FramePattern

    @property
    def is_still(self) -> bool: ...

    def read(self, frame: int) -> Image: ...

    def path(self, frame: int) -> Path: ...


def _open_mask_sequence(spec: str, plate_frames: list[int]) -> _Sequence:
    """The mask's frames among the plate's (missing ones are reported by :func:`open_mask`)."""
    from .sequence import open_sequence  # imported late: the sequence package loads the image readers

    return open_sequence(spec, frames=format_frames(plate_frames), skip_missing=True, role="mask")


# -- choosing and reading the matte -------------------------------------------------------------------------


def _find_channel(channels: Mapping[str, Any], name: str) -> str | None:
    """``name`` exactly, else a unique case-insensitive match (``a`` → ``A``)."""
    if name in channels:
        return name
    folded = [c for c in channels if c.lower() == name.lower()]
    return folded[0] if len(folded) == 1 else None


def _is_opaque(plane: np.ndarray) -> bool:
    top = {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}.get(plane.dtype, 1.0)
    return bool(np.all(plane == top))


def default_mask_channel(channels: Mapping[str, np.ndarray]) -> str:
    """The channel of a mask file that holds the matte: ``A`` if present, else ``R``, ``Y``, the first.

    An alpha that is opaque everywhere next to colour channels is skipped (an RGBA PNG whose matte is in its
    colour): a matte of all ones would fill the whole frame, which is never what a mask file means.
    """
    return _channel_choice(channels)[0]


def _channel_choice(channels: Mapping[str, np.ndarray]) -> tuple[str, bool]:
    """(:func:`default_mask_channel`'s answer, whether this frame alone can tell).

    It cannot when the alpha is opaque and the colour is one flat value below white: that is a Roto written
    as RGBA (colour black, the matte in alpha) on a frame where the roto covers the whole frame, or a matte
    painted in colour with an opaque alpha on a frame with nothing to remove. The other frames of the mask
    say which (see :meth:`MaskSource._auto_channel`).
    """
    alpha = _find_channel(channels, "A")
    colour = next((c for c in ("R", "Y") if c in channels), None)
    if alpha is not None and not (colour is not None and _is_opaque(channels[alpha])):
        return alpha, True
    if colour is not None:
        plane = channels[colour]
        flat = alpha is not None and not _is_opaque(plane) and bool(np.all(plane == plane.flat[0]))
        return colour, not flat
    return next(iter(channels)), True


def _as_matte(plane: np.ndarray) -> np.ndarray:
    """A channel as float32 0..1 (8/16-bit scaled; NaN → 0; values outside 0..1 clipped)."""
    matte = to_float(plane)
    if plane.dtype == np.uint8 or plane.dtype == np.uint16:
        return matte  # (already finite, float32 and within 0..1)
    return np.clip(np.nan_to_num(matte, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0).astype(np.float32)


#: Fewest pixels at 1 that make an 8/16-bit mask holding only 0 and 1 a label image (a soft matte's faintest edge
#: alone can hold a few 1s).
LABEL_PIXELS = 16


def _refuse_label_image(plane: np.ndarray, path: Any, threshold: float, what: str = "mask") -> None:
    """Refuse an 8/16-bit mask whose values are only 0 and 1 (a 0/1 label image, as numpy or a segmentation
    tool writes it) when 1 reads below ``threshold``: as a matte 1 is 1/255 (or 1/65535), so nothing would be
    filled and the run would write the plate back unchanged, frame after frame, without a word. ``what`` names
    the plane in the message (a mask file, or the plate's alpha used as the mask)."""
    if plane.dtype != np.uint8 and plane.dtype != np.uint16:
        return
    top = 255 if plane.dtype == np.uint8 else 65535
    if threshold <= 0 or threshold <= 1 / top or int(plane.max()) != 1:
        return
    if int(np.count_nonzero(plane)) < LABEL_PIXELS:
        return
    raise InputError(
        f"{path}: the {8 if top == 255 else 16}-bit {what} holds only 0 and 1 (a 0/1 label image?): read as a "
        f"matte 1 is 1/{top}, below --threshold {threshold:g}, so the mask would be empty; save the {what} as "
        f"0/{top} (black/white) or pass --threshold 0 (any non-zero value is hole)"
    )


class MaskSource:
    """Where a shot's matte comes from; :meth:`matte` gives float32 (H, W) in 0..1 for a plate frame.

    Build it with :func:`open_mask`, which checks up front that a mask sequence covers the plate's frames;
    sizes are checked per frame as mattes are read.
    """

    def __init__(
        self,
        plate: _Sequence,
        *,
        mask: _Sequence | None = None,
        spec: str | None = None,
        channel: str | None = None,
        invert: bool = False,
        threshold: float = 0.5,
    ) -> None:
        self.plate = plate
        #: The job's threshold: a 0/1 label mask is refused when its 1 would fall below it.
        self.threshold = threshold
        self.mask = mask
        self.spec = spec
        self.channel = channel
        self.invert = invert
        self._static: np.ndarray | None = None
        self._plate_shape: tuple[int, int] | None = None
        #: The channel the mask's frames that can tell chose, for those that cannot (see _auto_channel).
        self._shot_channel: str | None = None
        #: Whether the plate's first frame has an opaque alpha (see _opaque_plate_alpha); None until needed.
        self._first_alpha_opaque: bool | None = None
        #: One-line notes about the matte for the run's end (:func:`held_frame_note`).
        self.notices: list[str] = []

    def check_channel(self) -> None:
        """Refuse a ``channel`` asked for (``--mask-channel``) that the first mask frame (or plate frame, for a
        plate channel) does not have, from its header, with the line its first matte would raise: before any
        work (an ``aifx serve`` submit, not the worker's first frame). A header that cannot be read is left to
        the read of the frame, which names what is wrong with it."""
        if self.channel is None:
            return
        source = self.mask if self.mask is not None else self.plate
        path = source.path(source.frames[0])
        try:
            channels = read_info(path).channels
        except (InputError, OSError):
            return
        if _find_channel(channels, self.channel) is None:
            # The frame's own read raises it: the line its first matte gives, channels in the file's order
            # (a header lists them as OpenImageIO sorts them), which Blender and Nuke reword.
            self.matte(source.frames[0])

    @property
    def is_static(self) -> bool:
        """True when one still matte is used for every frame."""
        return self.mask is not None and self.mask.is_still

    def describe(self) -> str:
        """Where the matte comes from, for messages and logs."""
        if self.mask is None:
            return f"plate channel {self.channel or 'A'}"
        return f"{self.spec} (channel {self.channel or 'auto'})"

    def matte(self, frame: int, plate_image: Image | None = None) -> np.ndarray:
        """The matte of ``frame`` as float32 (H, W) in 0..1, inverted if asked.

        Pass ``plate_image`` when the plate frame is already in memory: it is then not read again (plate
        alpha) and its size is what the mask is checked against.
        """
        if self.mask is None:  # (the plate's alpha, in the frame as the fill sees it: its display window)
            image = plate_image if plate_image is not None else in_display_window(self.plate.read(frame))
            matte = self._from_plate(image, frame)
        else:
            matte = self._from_mask(frame)
            self._check_size(matte, frame, plate_image)
        return 1.0 - matte if self.invert else matte

    def _from_plate(self, image: Image, frame: int) -> np.ndarray:
        where = image.source or self.plate.path(frame)
        name = _find_channel(image.channels, self.channel or "A")
        if name is None:
            found = ", ".join(image.channels) or "none"
            if self.channel is None:
                raise InputError(
                    f"{where}: no alpha channel to use as the mask (channels: {found}); {events.GIVE_MASK}"
                )
            raise InputError(
                f"{where}: no channel {self.channel!r} (channels: {found}); {events.PICK_MASK_CHANNEL}"
            )
        plane = image.channels[name]
        if self.channel is None and _is_opaque(plane) and not self.invert and self._opaque_plate_alpha():
            raise InputError(
                f"{where}: the alpha is opaque everywhere, so as a mask it would fill the whole frame; "
                f"{events.GIVE_MASK}"
            )
        _refuse_label_image(plane, where, self.threshold, "alpha" if self.channel is None else "mask channel")
        return _as_matte(plane)

    def is_plate_channel(self, image: Image, name: str) -> bool:
        """Whether the matte is the plate's channel ``name`` (no mask sequence, the mask channel that one): a
        plate's alpha read as the matte holds the hole, not the plate's coverage."""
        return self.mask is None and _find_channel(image.channels, self.channel or "A") == name

    def _opaque_plate_alpha(self) -> bool:
        """Whether the plate's alpha is no matte at all: opaque on the shot's first frame too. A frame opaque
        everywhere is then a plate whose alpha is coverage (a --mask forgotten); where the first frame's alpha
        holds a matte, a later opaque frame is a frame masked whole, filled with the 100 % notice, not a stop
        mid-shot. Decided from the first frame, so a farm chunk decides as a whole run."""
        if self._first_alpha_opaque is None:
            first = self.plate.read(self.plate.frames[0])
            name = _find_channel(first.channels, "A")
            self._first_alpha_opaque = name is None or _is_opaque(first.channels[name])
        return self._first_alpha_opaque

    def _from_mask(self, frame: int) -> np.ndarray:
        assert self.mask is not None
        if self._static is not None:
            return self._static
        source_frame = self.mask.frames[0] if self.mask.is_still else frame
        image = in_display_window(self.mask.read(source_frame))  # a Roto-sized bbox EXR covers the frame
        if self.channel is None:
            name = self._auto_channel(image.channels)
        else:
            found = _find_channel(image.channels, self.channel)
            if found is None:
                raise InputError(
                    f"{self.mask.path(source_frame)}: no channel {self.channel!r} "
                    f"(channels: {', '.join(image.channels) or 'none'}); {events.PICK_MASK_CHANNEL}"
                )
            name = found
        plane = image.channels[name]
        _refuse_label_image(plane, self.mask.path(source_frame), self.threshold)
        matte = _as_matte(plane)
        if self.mask.is_still:
            self._static = matte
        return matte

    def _auto_channel(self, channels: Mapping[str, np.ndarray]) -> str:
        """The matte's channel in a mask file with none asked for: the frame's own choice where it can tell,
        else the choice of the mask's first frame that can (looked for in frame order from the mask's start,
        so a farm chunk chooses as a whole run does), else the frame's own. One frame masked whole by a Roto
        written as RGBA would otherwise read its black colour as the matte and be written back unfilled."""
        name, decided = _channel_choice(channels)
        if decided:
            return name
        if self._shot_channel is None:
            assert self.mask is not None
            chosen = (
                name  # (set once, after the scan: another reader meanwhile scans too, never reads a guess)
            )
            for frame in self.mask.frames:
                other, other_decided = _channel_choice(in_display_window(self.mask.read(frame)).channels)
                if other_decided:
                    chosen = other
                    break
            self._shot_channel = chosen
        return self._shot_channel if self._shot_channel in channels else name

    def _check_size(self, matte: np.ndarray, frame: int, plate_image: Image | None) -> None:
        if plate_image is not None:
            shape = plate_image.shape
        else:
            if self._plate_shape is None:
                self._plate_shape = in_display_window(self.plate.read(self.plate.frames[0])).shape
            shape = self._plate_shape
        if matte.shape != shape:
            assert self.mask is not None
            mask_file = self.mask.path(self.mask.frames[0] if self.mask.is_still else frame)
            plate_file = plate_image.source if plate_image is not None and plate_image.source else None
            plate_file = plate_file or self.plate.path(frame)
            first = self.plate.frames[0]
            role = getattr(self.plate, "role", "plate")  # (aifx eval checks a mask against the result)
            if plate_image is not None and frame != first:
                # The mask may be right and this plate frame the odd one out (a re-render at another size).
                if self._plate_shape is None:
                    self._plate_shape = in_display_window(self.plate.read(first)).shape
                if matte.shape == self._plate_shape:
                    raise InputError(
                        f"{plate_file}: {role} frame {frame} is {shape[1]}x{shape[0]} but the shot's first frame "
                        f"{self.plate.path(first)} (and the mask) are {matte.shape[1]}x{matte.shape[0]}; all "
                        "frames of a shot must have one size: re-render or re-copy it"
                    )
            raise InputError(
                f"{mask_file}: mask is {matte.shape[1]}x{matte.shape[0]} but {role} {plate_file} is "
                f"{shape[1]}x{shape[0]} (frame {frame}); give a mask the size of the {role}"
                + _proxy_hint(matte.shape, shape, mask_file)
            )


def _proxy_hint(mask: tuple[int, ...], plate: tuple[int, ...], mask_file: Any) -> str:
    """What to do with a mask that is the plate at a smaller scale (a proxy-resolution roto): how much smaller
    and the line that scales it; ``""`` for a mask of another shape (a crop, another plate's)."""
    (height, width), (full_height, full_width) = mask[:2], plate[:2]
    if not (0 < width < full_width and 0 < height < full_height):
        return ""
    scale = full_width / width
    if abs(full_height / height - scale) * height > 1:  # another aspect: not the same picture made smaller
        return ""
    text = f"1/{scale:g}" if scale == round(scale) else f"{100 / scale:.0f} %"
    return (
        f"; it looks like a {text}-resolution (proxy) mask: render it at full resolution, or scale it up "
        f"(e.g. oiiotool {Path(str(mask_file)).name} --resize {full_width}x{full_height} -o FULL.png)"
    )


def open_mask(
    spec: str | None, channel: str | None, plate: Any, invert: bool = False, threshold: float = 0.5
) -> MaskSource:
    """The matte source of a job.

    ``spec`` is a mask sequence/pattern, a single image (a static mask for every frame), or ``None`` for
    the plate's own alpha (or the plate channel ``channel``, e.g. ``"mask.Y"``). ``channel`` picks the mask
    file's channel (default: see :func:`default_mask_channel`). A mask sequence must have every frame of the
    plate, else :class:`InputError` lists the missing ones. ``threshold`` is the job's (see
    :func:`_refuse_label_image`).
    """
    if spec is None:
        return MaskSource(plate, channel=channel, invert=invert, threshold=threshold)
    refuse_empty_path(  # a script's unset variable (-m "$MASK"): the plate's alpha would be filled
        spec,
        "mask",
        '-m "" or "mask": ""',
        "(null in a job file) to use the plate's alpha, or give a mask such as mask.####.png",
    )
    mask = _open_mask_sequence(str(spec), list(plate.frames))
    if not mask.is_still:
        have = set(mask.frames)
        missing = [f for f in plate.frames if f not in have]
        if missing:
            raise InputError(
                f"{spec}: mask frames {format_frames(missing)} missing (the plate has "
                f"{format_frames(plate.frames)}); render the mask for those frames or {events.LIMIT_FRAMES}"
            )
    source = MaskSource(plate, mask=mask, spec=str(spec), channel=channel, invert=invert, threshold=threshold)
    note = held_frame_note(str(spec), mask, list(plate.frames))
    if note is not None:
        source.notices.append(note)
    return source


def held_frame_note(spec: str, mask: _Sequence, frames: list[int]) -> str | None:
    """The note for a still matte that is one frame of a mask sequence beside it (``-m m/mask.1001.png``), held
    over a shot of several frames: typed for the sequence, it held one hole while the object moved on, without a
    word. A hold matte can be meant (a logo, a rig that stays put), so it is a note, not a refusal."""
    if not mask.is_still or len(frames) < 2:
        return None
    sequence = sequence_of_still(mask.pattern)
    if sequence is None:
        return None
    return (
        f"note: the mask {spec} is one frame of the sequence {sequence} beside it, held as the matte of every "
        f"frame ({format_frames(frames)}); if what it covers moves, give {sequence} as the mask"
    )


# -- hole and weight -----------------------------------------------------------------------------------------


def _distance_to(region: np.ndarray) -> np.ndarray:
    """Exact Euclidean distance (float32) of every pixel to the nearest True pixel of ``region``.

    OpenCV's exact transform is off by float rounding (~1e-6) in a way that depends on the image size; the
    squared distance between pixel centres is a whole number, so it is snapped to one. The distance is then
    the same whatever crop it is computed on, and a pixel exactly ``dilate`` away is always in the hole."""
    outside = np.ascontiguousarray((~region).astype(np.uint8))
    distance = cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return np.sqrt(np.rint(distance * distance))


def _around(region: np.ndarray, margin: int) -> tuple[slice, slice]:
    """The bounding box of ``region``'s True pixels grown by ``margin`` (clipped to the frame).

    Within that box the distance to the nearest True pixel is the same as over the whole frame (every True
    pixel is inside it), so a distance that only matters up to ``margin`` is computed on the box alone: a
    small hole on a 1080p or 4K plate costs its own size, not the frame's."""
    rows, cols = np.flatnonzero(region.any(axis=1)), np.flatnonzero(region.any(axis=0))
    height, width = region.shape
    return (
        slice(max(int(rows[0]) - margin, 0), min(int(rows[-1]) + margin + 1, height)),
        slice(max(int(cols[0]) - margin, 0), min(int(cols[-1]) + margin + 1, width)),
    )


def make_hole(matte: np.ndarray, threshold: float = 0.5, dilate: int = 0) -> np.ndarray:
    """Pixels to refill (bool): matte >= ``threshold`` (``0`` means any non-zero), grown by ``dilate`` pixels.

    Growing is a dilation with a disc: a pixel joins the hole if its centre is within ``dilate`` pixels
    (Euclidean) of a thresholded pixel. An empty matte gives an all-False hole.
    """
    # (NaN compares False either way, as 0 does: no cleaning needed)
    values = np.asarray(matte, dtype=np.float32)
    core = values > 0 if threshold <= 0 else values >= threshold
    if dilate <= 0 or not core.any():
        return core
    box = _around(core, math.ceil(dilate) + 1)
    hole = np.zeros(core.shape, dtype=bool)
    hole[box] = _distance_to(core[box]) <= float(dilate)
    return hole


def feather_weight(hole: np.ndarray, feather: int = 0) -> np.ndarray:
    """Composite weight (float32): 1 in ``hole``, ``1 - d / (feather + 1)`` at distance ``d`` outside it.

    So ``feather`` pixels around the hole blend fill and plate (for ``feather=2``: 2/3, 1/3), and the weight is
    exactly 0 from ``feather + 1`` pixels away, which is where the plate is kept bit for bit.
    """
    hole = np.asarray(hole, dtype=bool)
    if feather <= 0 or not hole.any():
        return hole.astype(np.float32)
    box = _around(hole, feather + 2)  # the weight is 0 from feather + 1 pixels away
    weight = np.zeros(hole.shape, dtype=np.float32)
    near = 1.0 - _distance_to(hole[box]) / np.float32(feather + 1)
    weight[box] = np.clip(near, 0.0, 1.0)
    return weight


# -- a matte that drops out for a frame or two ---------------------------------------------------------------

#: A run of at most this many consecutive frames whose hole is empty, next to frames that have one, is a matte
#: dropout (a forgotten roto key: the object is in those frames' plates, unmasked): between two frames with a
#: hole, or at either end of the shot next to two. A longer run is the object gone (it left, is hidden, is not
#: there yet). A frame's verdict reads the holes up to this many frames either side (one more at the shot's
#: ends), which the engine's chunk context covers (``PropagateBackend.reach``).
DROPOUT_RUN = 2
#: The fastest the object may move, as a share of the frame's long side per two frames (the larger of the two
#: directed distances between holes): between the holes either side of a run its way is shared over the run's
#: frames (around one missing frame they lie within a tenth of the long side), at the shot's ends the two
#: nearest holes give its speed. Faster, they are two objects: one leaving and one coming.
DROPOUT_REACH = 0.1
#: Where a frame's object may be: each hole it is judged from grown by the object's speed times the frames
#: between them, and this many pixels.
DROPOUT_GROW = 4


def dropout_regions(
    before: Sequence[np.ndarray], length: int, after: Sequence[np.ndarray]
) -> list[np.ndarray] | None:
    """Where the unmasked object may be in each of ``length`` consecutive frames whose holes are empty, else
    None (not a dropout: see :data:`DROPOUT_RUN`, :data:`DROPOUT_REACH`).

    ``before``: the holes of the frames before the run, nearest last (none: the run starts the shot);
    ``after``: those after it, nearest first (none: it ends the shot). Between two holes the object moved the
    way between them, shared over the run's frames; at a shot's end it goes on at the speed of the two nearest
    holes, unless it may have left the frame by then (an object that enters or leaves). The object is in those
    frames' plates, so what lies there must never be read as background: the ``propagate`` engine reads
    nothing of it (a forgotten key pasted the object into every other frame's fill), and the pipeline names
    the frames."""
    if not 1 <= length <= DROPOUT_RUN or not (before or after):
        return None
    if before and after:  # frame k is k + 1 frames from the hole before, length - k from the one after
        holes, steps = [before[-1], after[0]], length + 1
        frames_to = [[k + 1, length - k] for k in range(length)]
    else:  # the shot's first (last) frames: on from the nearest hole, at the two nearest holes' speed
        holes, steps = ([*after[:2]] if after else [*before[-1:-3:-1]]), 1
        frames_to = [[length - k if after else k + 1] for k in range(length)]
    if len(holes) < 2 or not (holes[0].any() and holes[1].any()):
        return None
    cap = DROPOUT_REACH * max(holes[0].shape) / 2  # (the fastest the object may move a frame)
    box = _around(holes[0] | holes[1], math.ceil(DROPOUT_GROW + cap * length) + 1)
    near, far = _distance_to(holes[0][box]), _distance_to(holes[1][box])
    speed = max(float(far[holes[0][box]].max()), float(near[holes[1][box]].max())) / steps
    if speed > cap or (steps == 1 and _to_edge(holes[0]) <= speed * length):
        return None
    regions = []
    for frames in frames_to:
        region = np.zeros(holes[0].shape, dtype=bool)
        for distance, apart in zip((near, far), frames, strict=False):  # (a shot's end: the nearest only)
            region[box] |= distance <= DROPOUT_GROW + speed * apart
        regions.append(region)
    return regions


def dropout_region(before: np.ndarray, here: np.ndarray, after: np.ndarray) -> np.ndarray | None:
    """Where frame ``here``'s unmasked object may be when its hole alone drops out between ``before``'s and
    ``after``'s (:func:`dropout_regions` for one frame), else None."""
    regions = None if here.any() else dropout_regions([before], 1, [after])
    return None if regions is None else regions[0]


def dropout_at(
    hole_of: Callable[[int], np.ndarray | None], position: int, length: int | None
) -> tuple[int, list[np.ndarray]] | None:
    """The dropout (:func:`dropout_regions`) that shot position ``position`` is in: the position of its first
    frame and where each of its frames' object may be; else None.

    ``hole_of(p)``: the hole at shot position ``p``, None where it is not known (a frame not read); ``length``:
    the shot's (None: not known yet). A verdict that would read a hole not known is None too: the engine and
    the pipeline judge a frame from what they read, and read far enough around a frame before reading it."""
    here = hole_of(position)
    if here is None or here.any():
        return None
    first, last = _run_end(hole_of, position, -1, length), _run_end(hole_of, position, 1, length)
    if first is None or last is None or last - first >= DROPOUT_RUN:
        return None
    starts, stops = first == 0, length is not None and last == length - 1
    if starts and stops:
        return None
    # (at a shot's end, the two nearest holes on the other side: they give the object's speed)
    before = _known(hole_of, [] if starts else range(max(first - 1 - stops, 0), first))
    after = _known(hole_of, [] if stops else [p for p in (last + 1, last + 2)[: 1 + starts] if p != length])
    regions = None if before is None or after is None else dropout_regions(before, last - first + 1, after)
    return None if regions is None else (first, regions)


def _known(hole_of: Callable[[int], np.ndarray | None], positions: Iterable[int]) -> list[np.ndarray] | None:
    """The holes at ``positions``, None when one is not known."""
    holes = [hole_of(p) for p in positions]
    return None if any(hole is None for hole in holes) else [hole for hole in holes if hole is not None]


def dropouts_read(
    hole_of: Callable[[int], np.ndarray | None], position: int, length: int | None
) -> list[tuple[int, list[np.ndarray]]]:
    """The dropouts (:func:`dropout_at`) whose verdict reads shot position ``position`` last, once it is read
    (frames read in order): a run ending just before it, one at the shot's start ending two before it (it reads
    two holes after), one ending the shot with it."""

    def holed(p: int) -> bool | None:
        hole = hole_of(p) if p >= 0 else None
        return None if hole is None else bool(hole.any())

    ending = [position - 1] if holed(position) and holed(position - 1) is False else []
    if (
        position - 2 < DROPOUT_RUN
        and holed(position)
        and holed(position - 1)
        and holed(position - 2) is False
    ):
        ending.append(position - 2)
    if holed(position) is False and length is not None and position == length - 1:
        ending.append(position)
    found = [dropout_at(hole_of, index, length) for index in ending]
    return [dropout for dropout in found if dropout is not None]


def _run_end(
    hole_of: Callable[[int], np.ndarray | None], position: int, step: int, length: int | None
) -> int | None:
    """The last position from ``position`` on, ``step`` by ``step``, whose hole is empty (the shot's end at
    the latest); None where a hole on the way is not known, or past :data:`DROPOUT_RUN` frames."""
    end = position
    for _ in range(DROPOUT_RUN):
        beyond = end + step
        if beyond < 0 or (length is not None and beyond >= length):
            return end
        hole = hole_of(beyond)
        if hole is None:
            return None
        if hole.any():
            return end
        end = beyond
    return None


def _to_edge(hole: np.ndarray) -> int:
    """Pixels between ``hole``'s bounding box and the nearest edge of the frame."""
    rows, cols = np.flatnonzero(hole.any(axis=1)), np.flatnonzero(hole.any(axis=0))
    height, width = hole.shape
    return int(min(rows[0], cols[0], height - 1 - rows[-1], width - 1 - cols[-1]))
