"""The ``propagate`` backend's settings, read from ``BackendContext.options`` with defaults and checks."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from ..flow import DIS_PRESETS
from ..options import option

#: How a switch is written on a command line (``--option seen_plate=off``); anything else is refused.
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


#: The widest seam ring: its dilation kernel grows with the square of it (the seam's own reach stops at 64).
MAX_SEAM_RING = 64


@dataclass(frozen=True)
class PropagateOptions:
    #: Spatial backend for what no frame saw (run on keyframes, then propagated; per frame as a last resort).
    spatial_backend: str = "telea"
    #: Frame numbers the user wants filled spatially (one per keyframe block at most; the first one wins).
    keyframes: tuple[int, ...] = ()
    #: OpenCV DIS preset: ``ultrafast``, ``fast`` or ``medium``.
    flow_preset: str = "medium"
    #: Flow is computed with the long side at most this many pixels (vectors are rescaled).
    flow_max_side: int = 960
    #: How many frames before and after a frame its pixels may be fetched from (chained flow).
    radius: int = 12
    #: Frames are grouped in blocks of this many (by position in the shot); each block gets at most one
    #: automatic keyframe, the member with the largest matte area (hole pixel count; the first on ties).
    keyframe_interval: int = 4
    #: Packets are read this many at a time. Changes memory, never the result.
    window: int = option(4, pixels=False)
    #: Forward-backward round-trip tolerance in working-resolution pixels (plus 5% of the motion).
    consistency_tol: float = 1.0
    #: Match each source frame's exposure to the target's (per-channel gain chained along the flow).
    exposure_match: bool = True
    #: Seam matching: ``offset`` (smooth per-channel offset from a ring around the hole), ``gain`` (the same
    #: as a multiplicative field) or ``none``.
    seam: str = "offset"
    #: Ring width (pixels, 0 to 64) sampled around the hole for seam matching.
    seam_ring: int = 4
    #: Samples kept per direction for each hole pixel (the nearest ones); more lets the fusion outvote a
    #: chain that went through something passing by.
    candidates: int = 2
    #: A sample further than this from the consensus (relative to the frame's level) is an outlier.
    outlier_tol: float = 0.25
    #: Confidence at or below which a pixel takes the fallback (keyframe/spatial) route wholly.
    fallback_low: float = 0.01
    #: Confidence at or above which a pixel keeps its propagated value wholly (smoothstep blend in between).
    fallback_high: float = 0.06
    #: The blend between the routes is softened over this many pixels (no hard-edged blocks).
    fallback_soften: int = 3
    #: Keyframe content carried with a chain quality at or below this gives way to a spatial fill of the frame.
    carry_low: float = 0.2
    #: Keyframe content carried with a chain quality at or above this is used as is (blended in between).
    carry_high: float = 0.5
    #: Propagation's error on the frame's own ring as a share of a blur's (the ring's local contrast) at which
    #: the result starts blending towards the frame's spatial fill: other frames that do not show what is
    #: here (non-rigid content, something crossing the hole) are no better than a blur.
    ring_low: float = 0.5
    #: That ratio at and above which the result is the frame's spatial fill wholly (smoothstep in between).
    ring_high: float = 1.0
    #: On a locked-off or handheld shot, hole pixels no chain reaches take what the shot showed there whenever the
    #: hole left it clear (a clean plate built in one pass over the shot: :mod:`aifx_core.propagate.seen`).
    seen_plate: bool = True

    def chunk_step(self, count: int) -> int:
        """Farm chunks may start at any frame: each reads the context it needs (exact, see the engine)."""
        return 1

    @classmethod
    def from_dict(cls, options: dict[str, Any]) -> PropagateOptions:
        known = {name for name in cls.__dataclass_fields__}
        values = {key: value for key, value in options.items() if key in known}
        if "keyframes" in values:
            values["keyframes"] = _keyframes(values["keyframes"])
        for name in ("spatial_backend", "flow_preset", "seam"):
            if name in values and not isinstance(values[name], str):
                raise InputError(f"propagate option {name}={values[name]!r}: expected a name (text)")
        try:
            for name in (
                "flow_max_side",
                "radius",
                "keyframe_interval",
                "window",
                "seam_ring",
                "candidates",
                "fallback_soften",
            ):
                if name in values:
                    values[name] = _whole(name, values[name])
            for name in (
                "consistency_tol",
                "outlier_tol",
                "fallback_low",
                "fallback_high",
                "carry_low",
                "carry_high",
                "ring_low",
                "ring_high",
            ):
                if name in values:
                    values[name] = _number(name, values[name])
            for name in ("exposure_match", "seen_plate"):
                if isinstance(values.get(name), str):  # from a command line: "false", "0", "off"
                    word = values[name].strip().lower()
                    if word not in _TRUE + _FALSE:
                        raise InputError(
                            f"{name}={values[name]!r}: give true or false (also 1/0, yes/no, on/off)"
                        )
                    values[name] = word in _TRUE
        except (TypeError, ValueError) as error:
            raise InputError(f"propagate options: {error}; give whole numbers for sizes and counts") from None
        result = cls(**values)
        result.check()
        return result

    def check(self) -> None:
        if self.flow_preset not in DIS_PRESETS:
            raise InputError(
                f"flow_preset {self.flow_preset!r} is unknown; choose one of {', '.join(DIS_PRESETS)}"
            )
        if self.seam not in ("gain", "offset", "none"):
            raise InputError(f"seam {self.seam!r} is unknown; choose 'gain', 'offset' or 'none'")
        if not 0.0 <= self.fallback_low < self.fallback_high <= 1.0:
            raise InputError(
                f"fallback_low={self.fallback_low}, fallback_high={self.fallback_high}: "
                "need 0 <= fallback_low < fallback_high <= 1"
            )
        if not 0.0 <= self.carry_low < self.carry_high <= 1.0:
            raise InputError(
                f"carry_low={self.carry_low}, carry_high={self.carry_high}: need 0 <= carry_low < carry_high <= 1"
            )
        if not 0.0 <= self.ring_low < self.ring_high:
            raise InputError(
                f"ring_low={self.ring_low}, ring_high={self.ring_high}: need 0 <= ring_low < ring_high"
            )
        if self.outlier_tol <= 0:
            raise InputError(f"outlier_tol={self.outlier_tol} must be positive")
        for name in ("radius", "keyframe_interval", "window", "candidates"):
            if getattr(self, name) < 1:
                raise InputError(f"propagate option {name}={getattr(self, name)} must be at least 1")
        if not 0 <= self.seam_ring <= MAX_SEAM_RING:  # (-1 failed in OpenCV; 10**6 asked it for terabytes)
            raise InputError(
                f"propagate option seam_ring={self.seam_ring}: give a width from 0 to {MAX_SEAM_RING} pixels"
            )
        if self.fallback_soften < 0:
            raise InputError(
                f"propagate option fallback_soften={self.fallback_soften}: give 0 or more pixels"
            )
        if self.flow_max_side < 32:
            raise InputError(f"flow_max_side={self.flow_max_side} is too small; use 256 or more")
        if self.consistency_tol <= 0:
            raise InputError(f"consistency_tol={self.consistency_tol} must be positive (pixels)")


def _keyframes(value: Any) -> tuple[int, ...]:
    """The ``keyframes`` option: a frame number or a list (tuple, set) of them, sorted. Each is a whole number
    (a NumPy one too, never a NumPy bool); ``1001.5`` or ``true`` is refused, not cut to 1001 or read as frame 1.
    A NumPy array is refused with the fix (the job must hold JSON data: it is saved and sent to farms)."""
    example = "give a list of frame numbers, e.g. [1001, 1040]"
    if hasattr(value, "tolist") and not isinstance(value, numbers.Integral):
        raise InputError(f"keyframes {value!r}: {example} (a NumPy array: pass array.tolist())")
    if value is None or (isinstance(value, str) and not value.strip()):
        return ()  # (as if not given)
    if isinstance(value, (str, numbers.Integral)):
        value = [value]
    if not isinstance(value, (list, tuple, set, frozenset)):
        raise InputError(f"keyframes {value!r}: {example}")
    frames = set()
    for item in value:
        if isinstance(item, bool) or not isinstance(item, (str, numbers.Real)):
            raise InputError(f"keyframes: {item!r} is not a frame number; {example}")
        try:
            frames.add(_whole("keyframes", item))
        except InputError:
            raise InputError(f"keyframes: {item!r} is not a whole frame number; {example}") from None
    return tuple(sorted(frames))


def _whole(name: str, value: Any) -> int:
    """An option that counts (frames, pixels): a whole number, from JSON or a command line (``"12"``); ``2.5``
    or ``true`` is refused, not cut to 2 or read as 1. A NumPy integer counts (never a NumPy bool)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value)
    raise InputError(f"propagate option {name}={value!r}: expected a whole number")


def _number(name: str, value: Any) -> float:
    """A tolerance or a share: a finite number (NaN passed every range check after it)."""
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise InputError(f"propagate option {name}={value!r}: expected a number")
    return number
