"""Pure logic of the AIFill node: frame ranges, cache keys and folders, the job, colour.

Nothing here imports ``nuke``, so all of it is tested in a plain Python. The job is the core's ``FillJob``,
from the plugin's copy of the protocol floor (``aifx_protocol``, written by ``utils/sync_protocol.py``),
because Nuke's Python has no aifx-core; progress events are read with that copy's ``events`` module.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .aifx_protocol.backend_options import read_options
from .aifx_protocol.errors import InputError
from .aifx_protocol.frames import frame_token, hash_pattern, token_padding
from .aifx_protocol.job import FillJob

_VAR = re.compile(r"\$(?:(\w+)|\{([^}]*)\})")
_RANGE = re.compile(r"^\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*)?$")
#: The knobs of the Node tab every Nuke node has that only place, decorate or describe it in the DAG, the Dope
#: Sheet or its panel (a postage stamp, a bookmark, a help text, the Python its callbacks run): none changes
#: its pixels, so none is keyed (their lines of ``Node.writeKnobs()`` are dropped). Exact names: a knob that
#: merely starts like one (a gizmo's ``label_size``) may be read by an expression. Not ``disable`` nor the
#: lifetime knobs (``useLifetime``, ``lifetimeStart``, ``lifetimeEnd``): outside its lifetime a node is off.
DISPLAY_KNOBS = frozenset(
    {
        "xpos",
        "ypos",
        "selected",
        "tile_color",
        "gl_color",
        "label",
        "note_font",
        "note_font_size",
        "note_font_color",
        "hide_input",
        "postage_stamp",
        "postage_stamp_frame",
        "bookmark",
        "dope_sheet",
        "cached",
        "icon",
        "indicators",
        "help",
        "panel",
        "autolabel",
        "knobChanged",
        "onCreate",
        "onDestroy",
        "updateUI",
        "rootNodeUpdated",
    }
)
#: Nuke channel names in the rgba layer → the EXR channel names Nuke's Write node gives them.
_RGBA = {"red": "R", "green": "G", "blue": "B", "alpha": "A"}
#: Working spaces of Nuke's own colour management (no OCIO) and of ``nuke-default``: all scene-linear Rec.709.
_NUKE_LINEAR = {"", "linear", "scene_linear", "compositing_linear", "rendering"}


class RangeError(ValueError):
    """A frame range the artist typed cannot be read; the message says what to type."""


def parse_frame_range(text: str, default: tuple[int, int] | None = None) -> tuple[int, int]:
    """``"1001-1100"`` / ``"1001"`` → (first, last); empty text gives ``default`` (the input's range), and a
    range reaching past it is refused: Nuke holds a Read's first and last frame beyond its range, so a typo
    (``100-1100``) would fill and write hundreds of copies of one frame."""
    text = (text or "").strip()
    if not text:
        if default is None:
            raise RangeError("no frame range: type one such as 1001-1100 or connect the Source input")
        return int(default[0]), int(default[1])
    match = _RANGE.match(text)
    if not match:
        raise RangeError(f"frame range {text!r} is not first-last; type one such as 1001-1100")
    first = int(match.group(1))
    last = int(match.group(2)) if match.group(2) is not None else first
    if last < first:
        raise RangeError(f"frame range {text!r} ends before it starts; type first-last such as 1001-1100")
    if default is not None and (first < default[0] or last > default[1]):
        raise RangeError(
            f"frame range {text!r} reaches past the Source input's frames {default[0]}-{default[1]}; type a "
            "range within them, or leave it empty for all of them"
        )
    return first, last


def check_mask_range(mask: tuple[int, int] | None, first: int, last: int) -> None:
    """Refuse a Mask input whose frames do not cover ``first``-``last``: Nuke holds a Read's last frame past
    it, so the frames beyond a short matte would be filled with a stale hole. A one-frame still matte is fine.
    ``mask``: the Mask input's (first, last), None when it is not connected."""
    if mask is None or mask[0] == mask[1] or (mask[0] <= first and last <= mask[1]):
        return
    raise RangeError(
        f"the Mask input has frames {mask[0]}-{mask[1]} only, not all of {first}-{last} (Nuke would hold its "
        "first or last frame there); give the Mask every frame of the range, limit the frame range to it, or "
        "set its Read's before and after to black (an empty matte there)"
    )


def exr_channel(nuke_channel: str) -> str:
    """Nuke channel (``rgba.alpha``, ``mask.a``) → the channel name in the EXR our Write node writes."""
    layer, _, name = (nuke_channel or "rgba.alpha").partition(".")
    if layer == "rgba" and name in _RGBA:
        return _RGBA[name]
    return nuke_channel


def write_channels(nuke_channel: str) -> str:
    """Value of the Write node's ``channels`` knob that carries ``nuke_channel`` into the file."""
    return "rgba" if (nuke_channel or "rgba.alpha").startswith("rgba.") else "all"


def job_colorspace(override: str, color_management: str, ocio_config: str, working_space: str) -> str:
    """Colourspace of the node's pixels, for the job: the override knob, else the project's working space.

    The internal Writes and Read are ``raw``, so the cached EXRs hold Nuke's working-space values unchanged.
    Nuke's own colour management and the ``nuke-default`` config work in scene-linear Rec.709 (``linear``);
    OCIO configs name their working space (``ACEScg``, ``ACES - ACEScg``...), which aifx-core resolves with
    its ACES config (names, aliases and roles).
    """
    if override.strip():
        return override.strip()
    space = working_space.strip()
    if color_management.strip().lower() != "ocio" or ocio_config.strip() == "nuke-default":
        return "linear" if space.lower() in _NUKE_LINEAR else space
    return space or "scene_linear"


# -- cache ------------------------------------------------------------------------------------------------


def normalise_knobs(script: str) -> str:
    """``Node.writeKnobs()`` text without the :data:`DISPLAY_KNOBS` (moving or decorating a node in the DAG)."""
    keep = [line.strip() for line in script.splitlines() if line.strip()]
    return "\n".join(line for line in keep if line.split(" ", 1)[0] not in DISPLAY_KNOBS)


def _nameless(knobs: str) -> str:
    """Normalised knob lines without the ``name`` line (Nuke's ``writeKnobs`` may write the node's name knob)."""
    return "\n".join(line for line in knobs.splitlines() if line.split(" ", 1)[0] != "name")


def _digest(data: Any) -> str:
    blob = json.dumps(data, sort_keys=True, default=str).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]


#: TCL or an expression in a knob that reads a node's name (``[value name]``, ``[value Plate.name]``,
#: ``[python {nuke.thisNode().name()}]``), not the script's (``[value root.name]``, keyed with the project): a
#: slate or a burn-in makes pixels of it.
_READS_A_NAME = re.compile(r"[\[{][^\]}]*?(?<!root\.)\bname\b")


def inputs_key(
    upstream: Sequence[Sequence[str]], first: int, last: int, mask_channel: str, mask_connected: bool
) -> str:
    """Identity of the written inputs: each upstream node (class, knobs) and the frame range.

    ``upstream`` rows are ``(input label, class, name, writeKnobs text)``; the order of the walk is kept. A
    node's name makes no pixels: renaming the plate's Read (``Plate`` → ``BG_v2``) keeps its fill. Where a knob
    upstream reads a name (:data:`_READS_A_NAME`), every name is keyed, the rows as they were before names were
    left out (such a script keeps its key).
    """
    texts = [normalise_knobs(str(row[3])) for row in upstream]
    named = any(_READS_A_NAME.search(text) for text in texts)
    rows = [
        [str(row[0]), str(row[1]), str(row[2]), text]
        if named
        else [str(row[0]), str(row[1]), _nameless(text)]
        for row, text in zip(upstream, texts)
    ]
    return _digest(
        {"upstream": rows, "first": first, "last": last, "channel": mask_channel, "mask": mask_connected}
    )


def fill_key(inputs: str, job: FillJob) -> str:
    """Identity of the result: the inputs plus every job field (paths left out)."""
    fields = {k: v for k, v in job.to_dict().items() if k not in ("input", "output", "mask")}
    return _digest({"inputs": inputs, "job": fields})


def default_cache_root(script_path: str, temp_dir: str) -> str:
    """``aifx_cache`` beside the saved script; in the temp folder for an unsaved (Root) script."""
    if script_path and script_path != "Root":
        return os.path.join(os.path.dirname(os.path.abspath(script_path)), "aifx_cache")
    return os.path.join(temp_dir, "aifx_cache")


def absolute_cache_root(cache_root: str, script_path: str) -> str:
    """A relative *cache folder* made absolute beside the saved script (as the default is): left relative it
    would be resolved against whatever folder Nuke or the farm started in, not where the Read looks.
    Refused for an unsaved script, which has no folder."""
    if os.path.isabs(cache_root):
        return cache_root
    if not script_path or script_path == "Root":
        raise RangeError(
            f"cache folder {cache_root!r} is relative and the script is not saved; save the script (the folder "
            "is then beside it) or type an absolute cache folder"
        )
    return os.path.join(os.path.dirname(os.path.abspath(script_path)), cache_root)


_FILL_PREFIX = "fill_"


@dataclass(frozen=True)
class CachePaths:
    """Where one render's files live: inputs under ``<root>/<node>/<inputs key>``, results one level deeper."""

    inputs_dir: str
    result_dir: str

    @classmethod
    def make(cls, root: str, node_name: str, inputs: str, fill: str) -> CachePaths:
        inputs_dir = os.path.join(root, node_name, inputs)
        return cls(inputs_dir, os.path.join(inputs_dir, _FILL_PREFIX + fill))

    @property
    def keys(self) -> tuple[str, str]:
        """(inputs key, fill key): what the result is the fill of, wherever the cache folder is."""
        return os.path.basename(self.inputs_dir), os.path.basename(self.result_dir)[len(_FILL_PREFIX) :]

    @property
    def source(self) -> str:
        return os.path.join(self.inputs_dir, "source.####.exr").replace("\\", "/")

    @property
    def mask(self) -> str:
        return os.path.join(self.inputs_dir, "mask.####.exr").replace("\\", "/")

    @property
    def inputs_done(self) -> str:
        return os.path.join(self.inputs_dir, "inputs.done")

    @property
    def result(self) -> str:
        return os.path.join(self.result_dir, "result.####.exr").replace("\\", "/")

    @property
    def job(self) -> str:
        return os.path.join(self.result_dir, "job.json")

    @property
    def result_done(self) -> str:
        return os.path.join(self.result_dir, "result.done")


def result_keys(pattern: str) -> tuple[str, str] | None:
    """``.../<inputs key>/fill_<fill key>/result.####.exr`` (a result Read's file; ``result.%04d.exr`` as Nuke's
    ``File_Knob.value()`` gives it) → (inputs key, fill key); None for any other path. The keys say what the
    result is the fill of, whichever folder holds it."""
    try:
        pattern = hash_pattern(pattern.replace("\\", "/"))
    except InputError:  # two frame tokens: no result of ours
        return None
    result_dir = os.path.dirname(pattern)
    fill_dir = os.path.basename(result_dir)
    if os.path.basename(pattern) != "result.####.exr" or not fill_dir.startswith(_FILL_PREFIX):
        return None
    return os.path.basename(os.path.dirname(result_dir)), fill_dir[len(_FILL_PREFIX) :]


def frame_path(pattern: str, frame: int) -> str:
    """``/c/source.####.exr`` (or ``source.%04d.exr``, as Nuke gives a file knob back) and 1001 →
    ``/c/source.1001.exr``: the file name's frame token read by the protocol's rules (:mod:`.frames`)."""
    folder, name = os.path.split(pattern)
    token = frame_token(name, pattern)
    if token is None:
        return pattern
    number = f"{frame:0{token_padding(token)}d}"
    return os.path.join(folder, name[: token.start()] + number + name[token.end() :])


def is_marked_done(marker: str, first: int, last: int, pattern: str) -> bool:
    """A marker file exists for this range and every frame it promises is on disk."""
    try:
        with open(marker, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return False
    if data.get("first") != first or data.get("last") != last:
        return False
    return all(os.path.exists(frame_path(pattern, f)) for f in range(first, last + 1))


def mark_done(marker: str, first: int, last: int, **extra: Any) -> None:
    """Written last, so a crash or cancel never leaves a marker for incomplete files."""
    os.makedirs(os.path.dirname(marker), exist_ok=True)
    tmp = marker + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump({"first": first, "last": last, **extra}, handle)
    os.replace(tmp, marker)


# -- job ----------------------------------------------------------------------------------------------------


def backend_options(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Only the options the chosen backend reads, so an unused knob never changes the cache key or the job."""
    backend = settings["backend"]
    spatial = settings.get("spatial_backend", "auto")
    chosen = spatial if backend == "propagate" and spatial and spatial != "auto" else None
    options: dict[str, Any] = {}
    if chosen:
        options["spatial_backend"] = chosen
    if str(settings.get("model", "")).strip():  # sent only where read: a knob left set for another backend
        options["model"] = str(settings["model"]).strip()
    if backend == "diffusers" or (backend == "propagate" and spatial == "diffusers"):
        options["prompt"] = str(settings.get("prompt", ""))
        options["negative_prompt"] = str(settings.get("negative_prompt", ""))
        options["steps"] = int(settings.get("steps", 30))
        options["strength"] = float(settings.get("strength", 1.0))
    if backend == "video-diffusion":
        options["prompt"] = str(settings.get("prompt", ""))
        options["negative_prompt"] = str(settings.get("negative_prompt", ""))
        options["steps"] = int(settings.get("steps", 30))
        options["window"] = int(settings.get("window", 81))
        options["overlap"] = int(settings.get("overlap", 16))
        options["size"] = int(settings.get("model_size", 640))
        if str(settings.get("reference", "")).strip():
            options["reference"] = str(settings["reference"]).strip()
    return read_options(backend, options, chosen)


#: The settings that decide where and how a fill runs, never which fill is right: no key holds them, so nothing
#: that checks a shown result reads them (a bad one stops only a render that uses it).
UNKEYED_SETTINGS = frozenset({"cache_dir", "aifx_env", "server_url"})

#: The knobs that reach the job only as an option of a backend that reads them (:func:`backend_options`); every
#: other setting is read by every backend (or decides where and how the fill runs).
OPTION_KNOBS = ("model", "reference")


def knob_is_read(settings: Mapping[str, Any], name: str) -> bool:
    """Whether the chosen backend reads setting ``name``: a model left set for lama is not read by telea, so
    what it holds must not stop telea's render (the adapter asks before refusing a knob it cannot evaluate)."""
    if name not in OPTION_KNOBS:
        return True
    return name in backend_options({**settings, name: "set"})


def build_job(
    settings: Mapping[str, Any],
    paths: CachePaths,
    first: int,
    last: int,
    colorspace: str,
    mask_connected: bool,
) -> FillJob:
    """The job for one render: the node's settings, the cache paths, and lossless ``zip`` for the cache EXRs."""
    return FillJob(
        input=paths.source,
        output=paths.result,
        mask=paths.mask if mask_connected else None,
        mask_channel=exr_channel(str(settings.get("mask_channel", "rgba.alpha"))),
        frames=f"{first}-{last}",
        backend=settings["backend"],
        options=backend_options(settings),
        invert_mask=bool(settings.get("invert_mask", False)),
        dilate=int(settings.get("dilate", 4)),
        feather=int(settings.get("feather", 2)),
        colorspace=colorspace,
        compression="zip",
        seed=int(settings.get("seed", 0)),
        confidence=bool(settings.get("confidence", False)),
    )


def save_job(job: FillJob, path: str) -> None:
    """Check the job (one line naming a bad setting) and write it atomically."""
    job.validate()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    job.save(path)


def resolve_python(knob_value: str, environ: Mapping[str, str]) -> str:
    """The aifx Python: the *aifx environment* knob (``$VARS`` and ``~`` expanded), else ``$AIFX_PYTHON``."""
    value = (knob_value or "").strip() or environ.get("AIFX_PYTHON", "")
    return os.path.expanduser(expand_vars(value, environ)) if value else ""


def expand_vars(text: str, environ: Mapping[str, str]) -> str:
    """``$NAME`` / ``${NAME}`` from ``environ`` (unknown names are left as typed, like ``os.path.expandvars``)."""
    return _VAR.sub(lambda m: environ.get(m.group(1) or m.group(2), m.group(0)), text)


def server_settings(settings: Mapping[str, Any], environ: Mapping[str, str]) -> tuple[str, str] | None:
    """(URL, token) of the ``aifx serve`` machine to run on: the node's knob or ``$AIFX_SERVER``; the token
    only from ``$AIFX_TOKEN`` (a token saved in a script would travel with every copy of it). None: run here."""
    url = str(settings.get("server_url", "")).strip() or environ.get("AIFX_SERVER", "").strip()
    return (url, environ.get("AIFX_TOKEN", "")) if url else None


def worker_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """Nuke's environment minus what points a Python at Nuke's own libraries (the worker is another Python)."""
    drop = {"PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONNOUSERSITE"}
    env = {k: v for k, v in environ.items() if k not in drop}
    env["PYTHONUNBUFFERED"] = "1"
    return env


# -- progress -------------------------------------------------------------------------------------------------

#: Share of the progress bar the input writes take; the worker fills the rest (``events.percent(e, WRITE_SHARE)``).
WRITE_SHARE = 10


# -- farm ---------------------------------------------------------------------------------------------------


def last_line(exc: BaseException, empty: str) -> str:
    """The last line of an exception's text, or ``empty`` when it has none.

    Nuke's RuntimeErrors (``nuke.execute``, ``nuke.scriptOpen``) carry the render or load log, whose last line
    says what failed: the artist and the farm log get that one line, not the log."""
    text = str(exc).strip()
    return text.splitlines()[-1] if text else empty


FARM_USAGE = "usage: nuke -t <plugin>/aifx_nuke/render.py SCRIPT.nk NODE [FIRST-LAST | frames=FIRST-LAST]"


def farm_arguments(argv: Sequence[str], raw_args: Sequence[str]) -> list[str]:
    """The arguments after ``render.py`` as typed: from ``nuke.rawArgs`` when it holds the script.

    ``nuke -t render.py comp.nk AIFill1 1001-1100`` strips a trailing number or frame range from ``sys.argv``
    (Foundry's command-line guide); ``nuke.rawArgs`` keeps the whole command line.
    """
    script = argv[0] if argv else ""
    if script:
        for index, arg in enumerate(raw_args):
            if arg == script or os.path.basename(arg) == os.path.basename(script):
                return [str(a) for a in raw_args[index + 1 :]]
    return [str(a) for a in argv[1:]]


def parse_farm_args(argv: Sequence[str]) -> tuple[str, str, str | None]:
    """``comp.nk AIFill1 [1001-1100 | frames=1001-1100]`` → (script, node, range text or None: the node's own).

    ``1001,1100`` (Nuke's command-line spelling) is read as ``1001-1100``.
    """
    args = [a for a in argv if a.strip()]
    named = [a for a in args if a.startswith("frames=")]
    args = [a for a in args if not a.startswith("frames=")]
    if len(named) > 1 or len(args) not in (2, 3) or (named and len(args) == 3):
        raise RangeError("expected a script, a node name and an optional frame range; " + FARM_USAGE)
    script, node = args[0], args[1]
    if not os.path.isfile(script):
        raise RangeError(f"{script}: no such Nuke script; give the .nk path the farm can read")
    frames = named[0][len("frames=") :] if named else (args[2] if len(args) == 3 else None)
    if frames is not None:
        first, last = parse_frame_range(re.sub(r"^(-?\d+),(-?\d+)$", r"\1-\2", frames.strip()))
        frames = f"{first}-{last}"
    return script, node, frames
