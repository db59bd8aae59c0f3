"""Colour: the plate's colourspace ↔ the sRGB-encoded space that image models expect.

Learned fill models (LaMa, diffusion VAEs) and optical flow were trained on sRGB-encoded photos in 0..1,
while a VFX plate is usually scene-linear EXR with highlights far above 1. We convert with OpenColorIO and a
*pinned* built-in config (:data:`OCIO_CONFIG_URI`) so results never depend on ``$OCIO`` or on which studio
config happens to be installed, and we squeeze scene values above 1 into 0..1 with a *reversible* soft clip so
a filled highlight comes back as a highlight.

Model space (:data:`MODEL_COLORSPACE`): Rec.709 primaries, sRGB transfer curve, values in [0, 1].

Scene-referred plates (scene-linear and log encodings) go: plate → ``Linear Rec.709 (sRGB)`` (OCIO) →
soft-clip shoulder (identity up to :data:`SOFT_CLIP_KNEE`, then a Reinhard-style curve approaching 1) → sRGB
curve. :func:`from_model` inverts each step, so ``from_model(to_model(x)) ≈ x`` (relative error < 1e-3 in
float32, ~1e-6 below 1) for every value in ``0 .. SOFT_CLIP_MAX`` (64); larger magnitudes (in linear Rec.709)
come back as :data:`LINEAR_LIMIT`, which is also what a model output of exactly 1.0 means. Both the shoulder
and the sRGB curve are odd-symmetric, so negative values (out-of-gamut colours, e.g. saturated ACEScg seen in
Rec.709) pass through invertibly as model values in (-1, 0); clip them yourself if a model needs exactly 0..1
(negatives then come back as 0). In model space NaN becomes 0 and ±Inf the limit; the composite never writes
a backend's values outside the hole, so NaN/Inf in the plate outside it are kept.

Display-referred plates (8/16-bit sRGB or Rec.709 video encodings) are converted by OCIO directly to the model
space with no shoulder, so an sRGB PNG is passed to a model unchanged, and a float display-referred plate's
values beyond 0..1 (a float sRGB TIFF's 1.5 or -0.2) pass on beyond [0, 1]. A display-referred space wider than
Rec.709 (``Display P3 - Display``, ``sRGB Encoded AP1``) has no shoulder either: its colours beyond Rec.709 land
outside [0, 1], unbounded (pure P3 green → (-2.91, 1.02, -1.02), pure AP1 green's red → -8.0), and a caller
that clips to 0..1 (:func:`~aifx_core.inpaint.crop.fill_through_crop`) shifts their hue before the model sees
them. ``Raw``/data colourspaces are passed through unchanged.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import PyOpenColorIO as OCIO

from .errors import AifxError, InputError

#: The one OCIO config every conversion uses: the newest ACES studio config OCIO 2.6 ships built in.
#: Pinned (not ``$OCIO``) so the same job gives the same pixels on every machine.
OCIO_CONFIG_URI = "ocio://studio-config-v5.0.0_aces-v2.1_ocio-v2.6"

#: What :func:`to_model` produces: Rec.709 primaries, sRGB-encoded.
MODEL_COLORSPACE = "sRGB Encoded Rec.709 (sRGB)"
#: The linear space the soft clip works in (same primaries as the model space).
LINEAR_COLORSPACE = "Linear Rec.709 (sRGB)"
#: Guess for float images without colour metadata: the EXR specification says that an image without a
#: ``chromaticities`` attribute has Rec.709 primaries, so scene-linear Rec.709, not ACEScg. ACEScg plates
#: should say so (``colorInteropID``/``chromaticities``) or be given with ``--colorspace ACEScg``.
DEFAULT_FLOAT_COLORSPACE = LINEAR_COLORSPACE
#: Guess for 8/16-bit integer images (PNG, JPEG, TIFF): sRGB-encoded Rec.709.
DEFAULT_INTEGER_COLORSPACE = MODEL_COLORSPACE

#: Linear values up to the knee are not touched by the soft clip (0.6 linear ≈ 0.8 sRGB-encoded).
SOFT_CLIP_KNEE = 0.6
#: Largest scene-linear value guaranteed to survive ``from_model(to_model(x))`` (relative error < 1e-3).
SOFT_CLIP_MAX = 64.0
#: Where the soft clip stops, in linear Rec.709: magnitudes above it come back as it, and so does a model
#: output of exactly 1.0. Wider than :data:`SOFT_CLIP_MAX` because a gamut change scales saturated channels
#: (ACEScg → Rec.709 by up to 1.7, ACES2065-1 by up to 2.5), and the guarantee is for the plate's values.
LINEAR_LIMIT = 4.0 * SOFT_CLIP_MAX

#: Short names people type, mapped to config colour spaces (the config's own names, aliases and roles such
#: as ``scene_linear`` are accepted too, case-insensitively).
ALIASES: dict[str, str] = {
    "linear": LINEAR_COLORSPACE,
    "lin": LINEAR_COLORSPACE,
    "linear_srgb": LINEAR_COLORSPACE,
    "srgb": MODEL_COLORSPACE,
    "srgb_texture": MODEL_COLORSPACE,
    # Rec.709 video files are viewed through a BT.1886 (gamma 2.4) display: that is the encoding they carry.
    "rec709": "Gamma 2.4 Encoded Rec.709",
    "rec.709": "Gamma 2.4 Encoded Rec.709",
    "acescg": "ACEScg",
    "aces": "ACES2065-1",
    "acescct": "ACEScct",
    "raw": "Raw",
    "non-color": "Raw",  # Blender's name for data (normals, masks, depth)
}

#: Header keys that may name a colourspace, in order of trust. ``colorInteropID`` is the OpenEXR 3.4+
#: standard attribute; the others are what OpenImageIO, Nuke and other tools write.
_HEADER_KEYS = ("colorInteropID", "colorSpace", "colorspace", "oiio:ColorSpace", "ocio:colorspace")
#: Header values that name a transfer curve but not the primaries (OpenImageIO writes "Linear").
_VAGUE_NAMES = {"linear", "lin", "scene_linear"}
#: OpenImageIO's name for a pure power curve ("Gamma2.2" for a PNG's gAMA chunk, "Gamma1.8"), read as the
#: config's "Gamma 2.2 Encoded Rec.709" where it has that curve (a PNG without cHRM has Rec.709 primaries).
_OIIO_GAMMA = re.compile(r"gamma\s*(\d)\.(\d)", re.IGNORECASE)
_FLOAT_EXTENSIONS = {".exr", ".hdr", ".pfm"}
_DISPLAY_ENCODINGS = {"sdr-video"}


@lru_cache(maxsize=1)
def config() -> OCIO.Config:
    """The pinned OCIO config (loaded once)."""
    try:
        return OCIO.Config.CreateFromFile(OCIO_CONFIG_URI)
    except OCIO.Exception as exc:
        raise AifxError(
            f"OpenColorIO {OCIO.__version__} does not ship the config {OCIO_CONFIG_URI} ({exc}); "
            "install opencolorio>=2.6"
        ) from None


# -- names ------------------------------------------------------------------------------------------------


def _lookup(name: str) -> str | None:
    """The config's colour space name for a name, alias or role, or None."""
    text = name.strip()
    if not text:
        return None
    cfg = config()
    text = ALIASES.get(text.lower(), text)
    space = cfg.getColorSpace(text)  # names, aliases, interop IDs and roles, case-insensitive
    if space is None and (gamma := _OIIO_GAMMA.fullmatch(text)):
        spaces = gamma_spaces(f"{gamma[1]}{gamma[2]}")
        return spaces[0] if spaces else None
    return space.getName() if space is not None else None


def gamma_spaces(curve: str) -> list[str]:
    """The config's colour spaces of the pure power curve ``curve`` (``"22"``: gamma 2.2), by their aliases
    (``g22_rec709``, ``g26_p3d65_display``): Rec.709 primaries first (a PNG's gAMA without cHRM), then the
    others. OpenImageIO's "Gamma2.6" was a name the config did not know (taken as sRGB, with advice to pass
    'ARRI LogC4'): the config has gamma 2.6 only with P3-D65 primaries, the DCI masters' curve."""
    found: list[tuple[bool, str]] = []
    for space in config().getColorSpaces():
        aliases = [alias.lower() for alias in space.getAliases()]
        if any(alias.startswith(f"g{curve}_") for alias in aliases):
            found.append((f"g{curve}_rec709" not in aliases, space.getName()))
    return [name for _other, name in sorted(found, key=lambda pair: pair[0])]


def colorspace_choices() -> list[str]:
    """Every name :func:`resolve_colorspace` accepts: short aliases, roles and the config's colour spaces."""
    cfg = config()
    names = list(ALIASES) + list(cfg.getRoleNames())
    for space in cfg.getColorSpaces():
        names.append(space.getName())
        names.extend(space.getAliases())
    return names


def resolve_colorspace(name: str) -> str:
    """The config's canonical name for ``name`` (a colour space name, alias, role, or a short alias such as
    ``linear``, ``srgb``, ``rec709``, ``ACEScg``); unknown names raise :class:`InputError` with choices."""
    found = _lookup(name)
    if found is not None:
        return found
    close = difflib.get_close_matches(name, colorspace_choices(), n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise InputError(
        f"unknown colourspace {name!r}; {hint}choose one of {', '.join(sorted(set(ALIASES) | {'scene_linear'}))} "
        f"or any colour space of {OCIO_CONFIG_URI}"
    )


def interop_id(name: str) -> str:
    """The colour space's interop ID (``lin_rec709_scene``, ``srgb_rec709_scene``, ``lin_ap1_scene``...): the
    name OpenEXR's ``colorInteropID`` and OpenImageIO use for it; the config's name where it has none."""
    space = config().getColorSpace(name)
    found = space.getInteropID() if space is not None else ""
    return found or name


def check_colorspace(name: str | None) -> None:
    """A colourspace a job or command names must be one the config knows, checked before anything is read or
    written. An empty name (``--colorspace "$CS"`` with CS unset in a wrapper script, ``"colorspace": ""`` in a
    generated job) used to mean "guess" silently while a blank one was an unknown name: both are refused,
    saying how to ask for the guess (None: the guess)."""
    if name is None:
        return
    if not name.strip():
        raise InputError(
            'the colourspace is empty (--colorspace "" or "colorspace": ""); leave it out (null in a job file) to '
            "take the file's own (its header's, else scene-linear for EXR and sRGB for 8-bit files), or name one "
            "such as ACEScg"
        )
    resolve_colorspace(name)


def is_scene_referred(colorspace: str) -> bool:
    """True for scene-linear and log colourspaces: those get the soft clip on the way to model space."""
    space = config().getColorSpace(resolve_colorspace(colorspace))
    if space.isData():
        return False
    return space.getEncoding() not in _DISPLAY_ENCODINGS


def is_linear(colorspace: str) -> bool:
    """True for a scene-linear colourspace (OCIO encoding ``scene-linear``): what a DPX's ``Linear`` transfer
    says of its values."""
    space = config().getColorSpace(resolve_colorspace(colorspace))
    return not space.isData() and space.getEncoding() == "scene-linear"


def _is_data(colorspace: str) -> bool:
    return bool(config().getColorSpace(colorspace).isData())


def is_elementwise(colorspace: str) -> bool:
    """Whether :func:`to_model` of ``colorspace`` maps each value on its own with NumPy alone (no OCIO step):
    data, model space itself, or a scene-referred space whose conversion to scene linear is a no-op."""
    name = resolve_colorspace(colorspace)
    if _is_data(name):
        return True
    target = LINEAR_COLORSPACE if is_scene_referred(name) else MODEL_COLORSPACE
    return name == target or bool(_processor(name, target).isNoOp())


# -- guessing ---------------------------------------------------------------------------------------------


def _header_of(source: Any) -> Mapping[str, Any]:
    header = getattr(source, "header", source)
    return header if isinstance(header, Mapping) else {}


def _attributes(header: Mapping[str, Any]) -> dict[str, Any]:
    """The header's attributes by lower-case name: file attributes (``header["attributes"]`` or any nested
    format dict) win over top-level keys. A reader's own derived guess (a top-level ``colorspace`` next to a
    ``colorspace_reason``) is not an attribute of the file and is ignored."""
    top = {str(k).lower(): v for k, v in header.items() if not isinstance(v, Mapping)}
    if "colorspace_reason" in top:
        top.pop("colorspace", None)
    nested: dict[str, Any] = {}
    for value in header.values():
        if isinstance(value, Mapping):
            nested.update({str(k).lower(): v for k, v in value.items() if str(k).lower() not in nested})
    return {**top, **nested}


def _from_chromaticities(by_key: Mapping[str, Any]) -> str | None:
    chroma = by_key.get("chromaticities")
    if chroma is not None:
        try:
            import OpenEXR

            interop = OpenEXR.chromaticitiesToColorInteropID(tuple(float(v) for v in chroma))
        except Exception:  # malformed attribute: fall back to the other rules
            interop = None
        if interop:
            return _lookup(interop)
    if by_key.get("acesimagecontainerflag") == 1:
        return "ACES2065-1"
    return None


#: Why an EXR whose ``chromaticities`` match no standard space is taken as scene-linear Rec.709 (``aifx info``
#: prints it, a fill says it in a note).
UNKNOWN_PRIMARIES = (
    "the file's chromaticities (primaries) are of no standard space, a camera's own gamut perhaps, so its values "
    "are taken as scene-linear Rec.709: pass --colorspace with the plate's, e.g. 'Linear ARRI Wide Gamut 3'"
)


class _HeaderSays(NamedTuple):
    """What a header says of its colourspace (rules 1 and 2 of :func:`guess_colorspace`)."""

    #: The colourspace the header says, or None.
    colorspace: str | None
    #: Whether that rests on chromaticities of no standard space (:data:`UNKNOWN_PRIMARIES`).
    unknown_primaries: bool
    #: The first name the header gives that the pinned config does not know (a studio config's
    #: ``LogC4_AWG4``, Blender's ``Filmic Log``), where it names no space the config knows outright.
    unknown_name: str | None = None


def _from_header(header: Mapping[str, Any]) -> _HeaderSays:
    """Rules 1 and 2 of :func:`guess_colorspace` in one walk over the header, with what the guess could not
    follow (chromaticities of no standard space, a name the config does not know), so a note follows the very
    rule that decided."""
    by_key = _attributes(header)
    unknown_name: str | None = None
    for key in _HEADER_KEYS:
        value = by_key.get(key.lower())
        if not isinstance(value, str) or value.strip().lower() in ("", "unknown"):
            continue
        found = _lookup(value)
        if found is None:
            unknown_name = unknown_name or value.strip()
            continue
        if value.strip().lower() in _VAGUE_NAMES:
            # "linear" says nothing about primaries; EXR chromaticities do, and without them the EXR default
            # (Rec.709) holds: "scene_linear" is a role, ACEScg in the pinned config but whatever the writer's
            # config made it, so it is not taken as the pinned config's.
            primaries, unknown = _by_primaries(by_key)
            return _HeaderSays(primaries or DEFAULT_FLOAT_COLORSPACE, unknown, unknown_name)
        return _HeaderSays(
            found, False
        )  # a space named outright wins over the chromaticities and other names
    return _HeaderSays(*_by_primaries(by_key), unknown_name)


def _by_primaries(by_key: Mapping[str, Any]) -> tuple[str | None, bool]:
    """(:func:`_from_chromaticities`, whether the file has chromaticities that matched no standard space)."""
    found = _from_chromaticities(by_key)
    return found, found is None and by_key.get("chromaticities") is not None


def _extension_of(extension: str | Path | None) -> str:
    """``".exr"`` from ``"exr"``, ``".EXR"`` or a path such as ``"shot/plate.1001.exr"``; ``""`` from None."""
    if extension is None:
        return ""
    text = str(extension).strip().lower()
    if not text:
        return ""
    is_bare = "/" not in text and "\\" not in text and "." not in text.lstrip(".")
    if is_bare and not isinstance(extension, Path):
        return text if text.startswith(".") else "." + text
    return Path(text).suffix


def _read_exr_header(path: Path) -> Mapping[str, Any]:
    try:
        import OpenEXR

        with OpenEXR.File(str(path), header_only=True) as exr:
            return dict(exr.header())  # copied while open: closing the file empties the dict
    except Exception:  # unreadable or missing: the extension rule still gives a sensible guess
        return {}


#: ``dpx:Transfer`` values (OpenImageIO's names) of a log-encoded DPX: film scans and log camera plates.
LOG_DPX_TRANSFERS = frozenset({"Printing density", "Logarithmic"})


def explain_colorspace(attributes: Mapping[str, Any], is_float: bool) -> tuple[str, str]:
    """(colourspace, why) from a file's attributes and sample type: the guess :func:`guess_colorspace`
    makes, with the reason ``aifx info`` prints beside it."""
    says = _from_header({"attributes": attributes})
    colorspace = says.colorspace or (DEFAULT_FLOAT_COLORSPACE if is_float else DEFAULT_INTEGER_COLORSPACE)
    doubt = colorspace_doubt(attributes, is_float)
    if doubt is not None and doubt.kind == "log_transfer":
        return colorspace, f"integer data; {doubt.text}"  # (what the guess rests on, then the log transfer)
    if doubt is not None:
        return colorspace, doubt.text
    if says.colorspace is not None:
        return colorspace, "from the file's colourspace metadata"
    if is_float:
        return colorspace, "float data without colourspace metadata"
    return colorspace, "integer data without colourspace metadata"  # (8, 10, 12 or 16 bits)


def log_transfer(attributes: Mapping[str, Any]) -> str | None:
    """A DPX's log transfer (``dpx:Transfer``, :data:`LOG_DPX_TRANSFERS`), or None."""
    transfer = str(attributes.get("dpx:Transfer", ""))
    return transfer if transfer in LOG_DPX_TRANSFERS else None


class Doubt(NamedTuple):
    """What in a file's header the colourspace guess cannot follow (:func:`colorspace_doubt`)."""

    #: Which rule: ``"log_transfer"`` (a log DPX), ``"unknown_name"`` (a name the config does not know),
    #: ``"unknown_primaries"`` (chromaticities of no standard space) or ``"gamma_primaries"`` (a gamma curve
    #: the config has with other primaries than Rec.709 only): how a caller words it, not by its text.
    kind: Literal["log_transfer", "unknown_name", "unknown_primaries", "gamma_primaries"]
    #: The sentence ``aifx info`` prints as the reason and a fill as its note.
    text: str


def colorspace_doubt(attributes: Mapping[str, Any], is_float: bool) -> Doubt | None:
    """Why the colourspace a file without ``--colorspace`` is taken in is a guess its own header contradicts,
    or None: a log DPX transfer where the integer guess is sRGB, a colourspace name the pinned config does not
    know, chromaticities of no standard space. ``aifx info`` prints it as the guess's reason and a fill says it
    in a note. The log transfer is checked first: OpenImageIO names a "Logarithmic" DPX "KodakLog", a name the
    config does not know, and the transfer is what says how to fix it."""
    says = _from_header({"attributes": attributes})
    transfer = log_transfer(attributes)
    # A log DPX keeps the integer guess: its header names a kind of curve, not the camera's or scanner's space.
    if says.colorspace is None and not is_float and transfer is not None:
        return Doubt(
            "log_transfer",
            f"the DPX says its transfer is {transfer} (log): pass --colorspace with its log space, "
            "e.g. 'ADX10' or 'ARRI LogC3 (EI800)', for backends that work in scene-linear",
        )
    if says.unknown_name is not None:
        taken = says.colorspace or (DEFAULT_FLOAT_COLORSPACE if is_float else DEFAULT_INTEGER_COLORSPACE)
        return Doubt(
            "unknown_name",
            f"the file names its colourspace {says.unknown_name!r}, which aifx's config does not know; taken as "
            f"{taken}: pass --colorspace with the plate's as the config names it, e.g. 'ARRI LogC4' or 'Raw'",
        )
    if says.unknown_primaries:
        return Doubt("unknown_primaries", UNKNOWN_PRIMARIES)
    return _gamma_doubt(attributes, says.colorspace)


def _gamma_doubt(attributes: Mapping[str, Any], taken: str | None) -> Doubt | None:
    """The doubt of a file naming only a gamma curve (OpenImageIO's ``Gamma2.6``) that the config has with
    other primaries than Rec.709 only, which it was taken in (:func:`gamma_spaces`): the curve is right, the
    primaries a guess (a PNG without cHRM is Rec.709)."""
    by_key = _attributes({"attributes": attributes})
    for key in _HEADER_KEYS:
        value = by_key.get(key.lower())
        if not isinstance(value, str) or not (gamma := _OIIO_GAMMA.fullmatch(value.strip())):
            continue
        spaces = gamma_spaces(f"{gamma[1]}{gamma[2]}")
        if not spaces or taken != spaces[0] or config().getColorSpace(f"g{gamma[1]}{gamma[2]}_rec709"):
            return None
        return Doubt(
            "gamma_primaries",
            f"the file names only its curve, {value.strip()!r}, which aifx's config has with other primaries than "
            f"Rec.709 only; taken as {taken}: pass --colorspace with the plate's if its primaries are others (a "
            "PNG without cHRM is Rec.709's)",
        )
    return None


def guess_colorspace(source: Any = None, extension: str | Path | None = None) -> str:
    """Best guess of the colourspace of an image, for when the user gave none.

    ``source`` is an :class:`~aifx_core.sequence.image.Image`, a header dict, or a path (EXR headers are read);
    ``extension`` is an extension (``".exr"``, ``"png"``) or a file path, used when ``source`` has no path.
    Rules, first match wins:

    1. a colourspace named in the header and known to the config: ``colorInteropID`` (OpenEXR 3.4+),
       ``colorSpace``, ``oiio:ColorSpace``, ``ocio:colorspace`` (in ``header["attributes"]`` or top level);
       a vague name (``Linear``, ``scene_linear``) means linear with the primaries of rule 2, else Rec.709;
    2. EXR ``chromaticities`` matching a standard linear space (Rec.709, AP1 = ACEScg, AP0, P3, Rec.2020);
       ``acesImageContainerFlag`` = 1 means ACES2065-1;
    3. float data (EXR, HDR, float TIFF) → :data:`DEFAULT_FLOAT_COLORSPACE` (scene-linear Rec.709, the EXR
       default primaries);
    4. anything else (8/16-bit PNG, JPEG, TIFF) → :data:`DEFAULT_INTEGER_COLORSPACE` (sRGB-encoded).
    """
    header: Mapping[str, Any] = {}
    path: Path | None = None
    if isinstance(source, (str, Path)):
        path = Path(source)
    else:
        header = _header_of(source)
        raw_path = getattr(source, "source", None)
        path = Path(raw_path) if raw_path else None
    ext = _extension_of(extension) or (path.suffix.lower() if path else "")
    if path is not None and not header and ext == ".exr":
        header = _read_exr_header(path)
    found = _from_header(header).colorspace
    if found is not None:
        return found
    is_float = _holds_floats(source)
    if is_float is not None:
        return DEFAULT_FLOAT_COLORSPACE if is_float else DEFAULT_INTEGER_COLORSPACE
    return DEFAULT_FLOAT_COLORSPACE if ext in _FLOAT_EXTENSIONS else DEFAULT_INTEGER_COLORSPACE


def _holds_floats(source: Any) -> bool | None:
    """Whether an image as read (an :class:`~aifx_core.sequence.image.Image`) holds float data, or None for
    anything without channels."""
    channels = getattr(source, "channels", None)
    if not isinstance(channels, Mapping) or not channels:
        return None
    return any(np.issubdtype(plane.dtype, np.floating) for plane in channels.values())


def doubt_of(image: Any) -> Doubt | None:
    """:func:`colorspace_doubt` of an image as read: its header's attributes, float if any channel is."""
    return colorspace_doubt(_header_of(image).get("attributes", {}), bool(_holds_floats(image)))


# -- conversion -------------------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _processor(src: str, dst: str) -> OCIO.CPUProcessor:
    """A cached float32 CPU processor; lossless optimisation keeps round trips at float precision."""
    proc = config().getProcessor(src, dst)
    return proc.getOptimizedCPUProcessor(OCIO.BIT_DEPTH_F32, OCIO.BIT_DEPTH_F32, OCIO.OPTIMIZATION_LOSSLESS)


def _apply(src: str, dst: str, rgb: np.ndarray) -> np.ndarray:
    out = np.array(rgb, dtype=np.float32, order="C", copy=True)
    if src == dst or out.size == 0:
        return out
    proc = _processor(src, dst)
    if not proc.isNoOp():
        pixels = out.reshape(-1, 3)  # a view: OCIO writes through it in place
        proc.apply(OCIO.PackedImageDesc(pixels, pixels.shape[0], 1, 3))
    return out


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    array = np.asarray(rgb)
    if array.ndim < 1 or array.shape[-1] != 3:
        raise ValueError(f"expected an (..., 3) RGB array, got shape {array.shape}")
    return array


def _odd_piecewise(
    x: np.ndarray, split: float, low: Any, high: Any, *, exact_high: bool = False
) -> np.ndarray:
    """``sign(x)·f(|x|)`` with ``f = low`` up to ``split`` and ``high`` above (float32 throughout).

    Both pieces are evaluated everywhere and the right one picked: the same values as evaluating each only
    where it applies, at less than half the time (boolean indexing dominated; a piece may overflow or divide
    by zero where it does not apply, hence the silenced warnings). ``exact_high``: ``high`` uses only
    correctly rounded arithmetic (+, -, ·, /, min), so its value at a pixel does not depend on which others
    it is computed with; then, where few pixels lie above ``split`` (a plate's highlights), it is computed
    for those alone."""
    a = np.abs(x, dtype=np.float32)
    above = a > split
    with np.errstate(all="ignore"):
        if not above.any():  # (one piece everywhere: the other need not be evaluated at all)
            out = low(a)
        elif above.all():
            out = high(a)
        elif exact_high and 4 * int(np.count_nonzero(above)) < a.size:
            picked = np.flatnonzero(above)
            out = np.array(low(a), dtype=np.float32, order="C")
            out.reshape(-1)[picked] = high(a.ravel()[picked])
        else:
            out = np.where(above, high(a), low(a))
    return np.copysign(out, x).astype(np.float32, copy=False)


def _shoulder(lin: np.ndarray) -> np.ndarray:
    """Identity up to the knee, then ``k + (1-k)·t/(1+t)`` with ``t = (|x|-k)/(1-k)``: C1-smooth, below 1.

    Odd-symmetric, so out-of-gamut negatives are bounded the same way highlights are.
    """
    k = np.float32(SOFT_CLIP_KNEE)

    def compress(a: np.ndarray) -> np.ndarray:
        t = (np.minimum(a, np.float32(LINEAR_LIMIT)) - k) / (1 - k)
        return k + (1 - k) * (t / (1 + t))

    return _odd_piecewise(lin, SOFT_CLIP_KNEE, lambda a: a, compress, exact_high=True)


def _unshoulder(y: np.ndarray) -> np.ndarray:
    k = np.float32(SOFT_CLIP_KNEE)
    top = _shoulder(np.array([LINEAR_LIMIT], np.float32))[0]

    def expand(a: np.ndarray) -> np.ndarray:
        u = (np.minimum(a, top) - k) / (1 - k)
        return k + (1 - k) * (u / (1 - u))

    return _odd_piecewise(y, SOFT_CLIP_KNEE, lambda a: a, expand, exact_high=True)


def _srgb_encode(lin: np.ndarray) -> np.ndarray:
    """The sRGB curve (IEC 61966-2-1), mirrored for negatives so it stays invertible."""
    return _odd_piecewise(
        lin,
        0.0031308,
        lambda a: a * np.float32(12.92),
        lambda a: np.float32(1.055) * a ** np.float32(1 / 2.4) - np.float32(0.055),
    )


def _srgb_decode(enc: np.ndarray) -> np.ndarray:
    return _odd_piecewise(
        enc,
        0.04045,
        lambda a: a / np.float32(12.92),
        lambda a: ((a + np.float32(0.055)) / np.float32(1.055)) ** np.float32(2.4),
    )


def _finite(values: np.ndarray, limit: float) -> np.ndarray:
    """``values`` (float32, the caller's own copy) with NaN → 0 and ±Inf → ±``limit``, in place; plates are
    almost always finite, and one check is far cheaper than ``np.nan_to_num``'s three masks and copy."""
    if not np.isfinite(values).all():
        np.nan_to_num(values, copy=False, nan=0.0, posinf=limit, neginf=-limit)
    return values


def convert(rgb: np.ndarray, src: str, dst: str) -> np.ndarray:
    """Values (..., 3) in colourspace ``src`` as values of ``dst`` (float32): the plain OCIO conversion, no roll-off
    or clip, so two pictures stored in different spaces can be compared in one (NaN → 0, ±Inf → ±the limit)."""
    clean = _finite(_check_rgb(rgb).astype(np.float32), LINEAR_LIMIT)
    return _apply(resolve_colorspace(src), resolve_colorspace(dst), clean)


def to_model(rgb: np.ndarray, colorspace: str) -> np.ndarray:
    """Plate values (..., 3) in ``colorspace`` → float32 sRGB-encoded Rec.709 for models (see module doc).

    Scene-referred input lands in (-1, 1): values above 1 are soft-clipped reversibly up to
    :data:`SOFT_CLIP_MAX`, negatives (out-of-gamut colours, e.g. saturated ACEScg) map into (-1, 0) (mirrored
    curves); NaN → 0, ±Inf → ±the limit. Display-referred input lands in [0, 1] only for values in 0..1 of a
    Rec.709-gamut display space: a float plate's values beyond 0..1 pass on unbounded (sRGB (1.5, -0.2, 0.5)
    stays as it is), and so do a wider display space's saturated colours (pure ``Display P3 - Display`` green
    → (-2.91, 1.02, -1.02)): clip, or compress the gamut, where a model needs exactly 0..1.
    """
    name = resolve_colorspace(colorspace)
    array = _check_rgb(rgb)
    clean = _finite(array.astype(np.float32), LINEAR_LIMIT)
    if _is_data(name):
        return clean
    if not is_scene_referred(name):
        return _apply(name, MODEL_COLORSPACE, clean)
    lin = _apply(name, LINEAR_COLORSPACE, clean)
    lin = _finite(lin, LINEAR_LIMIT)
    return _srgb_encode(_shoulder(lin)).astype(np.float32)


def from_model(srgb: np.ndarray, colorspace: str) -> np.ndarray:
    """Inverse of :func:`to_model`: model-space float32 (..., 3) → values in ``colorspace`` (float32)."""
    name = resolve_colorspace(colorspace)
    array = _finite(_check_rgb(srgb).astype(np.float32), 1.0)
    if _is_data(name):
        return array
    if not is_scene_referred(name):
        return _apply(MODEL_COLORSPACE, name, array)
    return _apply(LINEAR_COLORSPACE, name, _unshoulder(_srgb_decode(array)))


def scene_white(colorspace: str) -> float:
    """The largest channel of diffuse white (scene-linear Rec.709 1, 1, 1) as a value of ``colorspace``; 1.0
    for display-referred and data spaces. What a fill may reach in a plate whose context has no highlights
    (about 1.0 in ACEScg, 0.55 in ACEScct)."""
    name = resolve_colorspace(colorspace)
    if not is_scene_referred(name):
        return 1.0
    return float(np.max(_apply(LINEAR_COLORSPACE, name, np.ones((1, 3), np.float32))))


def to_display_uint8(rgb: np.ndarray, colorspace: str) -> np.ndarray:
    """A PNG-ready preview (..., 3) uint8: model space (highlights rolled off, not clipped hard), 0..255."""
    model = to_model(rgb, colorspace)
    return np.clip(np.rint(model * 255.0), 0, 255).astype(np.uint8)
