"""Timecode, keycode and frame rate across formats: an EXR's ``timeCode``/``keyCode``/``framesPerSecond``
as the OpenEXR bindings give them, a DPX's ``smpte:TimeCode``/``smpte:KeyCode``/``dpx:FrameRate`` as
OpenImageIO gives them.

Editorial needs them on every frame of a fill (conform, a plate matched back to its scan), and an output in
the other format used to drop them without a word. EXR and DPX hold all three; PNG, TIFF and JPEG none
through OpenImageIO, so the fill names what such an output drops (:func:`held`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import numpy as np
import OpenEXR

#: The formats that hold them.
KEEPING_FORMATS = ("exr", "dpx")
#: The whole rates whose NTSC form (``n * 1000/1001``) a DPX's decimal frame rate may stand for.
NTSC_RATES = (24, 30, 48, 60, 96, 120)
#: How near an NTSC rate a decimal one is taken for it: 23.98, two decimals of 23.976, is 0.004 off; no rate in
#: use is within 0.02 of one.
_NTSC_NEAR = 5e-3
#: How near a whole number a decimal rate is taken for it (a float32's rounding).
_WHOLE_NEAR = 1e-3
#: Each item as the user knows it, and its name in an EXR's and in a DPX's (OpenImageIO's) metadata.
_NAMES = (
    ("timecode", "timeCode", "smpte:TimeCode"),
    ("keycode", "keyCode", "smpte:KeyCode"),
    ("frame rate", "framesPerSecond", "dpx:FrameRate"),
)
#: The SMPTE 12M fields of a timecode word as EXR packs them (TV60, OpenImageIO's packing too): (name, first
#: bit, bits, BCD or a flag).
_TIME_FIELDS = (
    ("frame", 0, 6, True),
    ("dropFrame", 6, 1, False),
    ("colorFrame", 7, 1, False),
    ("seconds", 8, 7, True),
    ("fieldPhase", 15, 1, False),
    ("minutes", 16, 7, True),
    ("bgf0", 23, 1, False),
    ("hours", 24, 6, True),
    ("bgf1", 30, 1, False),
    ("bgf2", 31, 1, False),
)
#: An OpenImageIO keycode's seven numbers, in order, as OpenEXR.KeyCode names them.
_KEY_FIELDS = ("filmMfcCode", "filmType", "prefix", "count", "perfOffset", "perfsPerFrame", "perfsPerCount")


def held(attributes: Mapping[str, Any], fmt: str) -> list[str]:
    """Which of timecode, keycode and frame rate a ``fmt`` file's ``attributes`` hold, as the user says them."""
    column = 1 if fmt == "exr" else 2
    found = [names[0] for names in _NAMES if attributes.get(names[column]) is not None]
    if fmt == "dpx" and "frame rate" not in found and attributes.get("dpx:TemporalFrameRate"):
        found.append("frame rate")
    return found


def for_dpx(exr_attributes: Mapping[str, Any]) -> dict[str, tuple[str, Any]]:
    """An EXR's timecode, keycode and frame rate as DPX metadata: name → (OpenImageIO type, value)."""
    found: dict[str, tuple[str, Any]] = {}
    code = exr_attributes.get("timeCode")
    if code is not None:
        word = 0
        for name, first, _, bcd in _TIME_FIELDS:
            value = int(getattr(code, name))
            word |= ((value // 10 << 4 | value % 10) if bcd else value) << first
        found["smpte:TimeCode"] = ("timecode", np.array([word, int(code.userData)], np.uint32))
    key = exr_attributes.get("keyCode")
    if key is not None:
        found["smpte:KeyCode"] = ("keycode", np.array([int(getattr(key, n)) for n in _KEY_FIELDS], np.int32))
    rate = exr_attributes.get("framesPerSecond")
    if rate is not None:
        found["dpx:FrameRate"] = ("float", float(Fraction(rate)))
    return found


def for_exr(dpx_attributes: Mapping[str, Any]) -> dict[str, Any]:
    """A DPX's timecode, keycode and frame rate (OpenImageIO's items) as EXR header attributes; one whose
    numbers EXR refuses (a keycode of zeros, a scanner's filler) is not a timecode or keycode, and is left out."""
    found: dict[str, Any] = {}
    code, key = dpx_attributes.get("smpte:TimeCode"), dpx_attributes.get("smpte:KeyCode")
    if code is not None:
        word, user = (int(v) for v in code)
        time = OpenEXR.TimeCode()
        with contextlib.suppress(RuntimeError):
            for name, first, bits, bcd in _TIME_FIELDS:
                value = word >> first & ((1 << bits) - 1)
                setattr(time, name, (value >> 4) * 10 + (value & 15) if bcd else bool(value))
            time.userData = user
            found["timeCode"] = time
    if key is not None:
        numbers = dict(zip(_KEY_FIELDS, (int(v) for v in key), strict=True))
        film = OpenEXR.KeyCode()
        with contextlib.suppress(RuntimeError):
            for name in (
                "perfsPerCount",
                *_KEY_FIELDS,
            ):  # (perfsPerCount first: the others are checked against it)
                setattr(film, name, numbers[name])
            found["keyCode"] = film
    rate = dpx_attributes.get("dpx:FrameRate") or dpx_attributes.get("dpx:TemporalFrameRate")
    if rate:
        found["framesPerSecond"] = exact_rate(float(rate))
    return found


def exact_rate(rate: float) -> Fraction:
    """The rate a DPX's decimal frame rate stands for, as a fraction: an NTSC-family rate (23.976, 23.98,
    29.97, 47.952, 59.94, 119.88 and their float32 as scanners write them) is ``n * 1000/1001``, and a rate
    within a hair of a whole number is it; any other the nearest fraction over at most 1001. Rounded to the
    nearest fraction alone, 23.976 became 2997/125, which conform tools and a DPX read back do not take for
    24000/1001."""
    for frames in NTSC_RATES:
        ntsc = Fraction(frames * 1000, 1001)
        if abs(rate - ntsc) < _NTSC_NEAR:
            return ntsc
    whole = round(rate)
    if whole and abs(rate - whole) < _WHOLE_NEAR:
        return Fraction(whole)
    return Fraction(rate).limit_denominator(1001)
