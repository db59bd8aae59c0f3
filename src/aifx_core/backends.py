"""Every fill backend by name: the registry, the built-in backends, the routing rule, and plugins.

This module stands above ``inpaint/``, ``propagate/`` and ``generate``: it is the only place that knows them
all, so none of them imports another's registry (``inpaint/`` never imports ``propagate/`` or ``generate``;
``propagate`` is handed its spatial backend factory). Heavy backends are registered by ``"module:attribute"``
text and imported only when asked for, so listing backends never loads torch.

Third-party backends are found through the entry-point group ``aifx.backends`` (the way OpenTimelineIO finds
adapter plugins). In the plugin's ``pyproject.toml``::

    [project.entry-points."aifx.backends"]
    my-fill = "my_package.backend:MyFill"

The entry point loads either a :class:`Backend` (full control: kind, options, docs) or a class: one with an
``inpaint(rgb, hole, *, frame=None)`` method is a spatial backend, one with ``fill(packets, reporter)`` a
whole-shot backend; either is built as ``cls(context)``. The entry point's name is the backend's name.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

from .inpaint.base import BackendContext, FillBackend, PerFrame, SpatialBackend
from .options import changes_pixels, read_bool, unknown_options
from .protocol.errors import InputError

#: The entry-point group third-party packages register backends in.
ENTRY_POINT_GROUP = "aifx.backends"
SPATIAL, FILL = "spatial", "fill"
#: Options every backend accepts, read by the routing rule (they change pixels, so they stay in the resume key).
GENERAL_OPTIONS = {
    "per_frame": "run a backend routed to keyframes (lama, diffusers) on every frame on its own, not under the "
    "engine",
}


@dataclass(frozen=True)
class Backend:
    """One registered backend: how to build it, and what the routing rule needs to know about it."""

    name: str
    #: ``"spatial"`` (fills one image from its own pixels) or ``"fill"`` (fills a whole shot).
    kind: str
    #: ``factory(context)`` builds the backend; ``"module:attribute"`` text is imported on first use.
    factory: Callable[[BackendContext], Any] | str
    #: One line for ``aifx backends``.
    doc: str = ""
    #: Invents content (a model: LaMa, diffusers, video diffusion), what ``aifx backends`` shows as generative.
    generative: bool = False
    #: On a sequence it runs under the temporal engine, asked only for keyframes (the routing rule,
    #: :func:`route`). None: a generative spatial backend (``lama``, ``diffusers``, a plugin's), as before the
    #: two were told apart; a whole-shot backend that invents (``video-diffusion``) fills the shot itself.
    keyframes_on_sequences: bool | None = None
    #: Where it came from: ``"aifx"`` or the plugin's distribution name.
    source: str = "aifx"
    #: Its options dataclass (with ``from_dict``; ``"module:attribute"`` text is imported on first use); None
    #: for a plugin that declares none (its options are then passed through unchecked).
    options: type | str | None = None
    #: Options for Python callers only (objects, not JSON), e.g. the engine's ``flow_estimator``.
    python_options: tuple[str, ...] = ()
    #: Runs a spatial backend inside (named by its ``spatial_backend`` option): that one's options apply too.
    hosts_spatial: bool = False
    #: Other option names it reads and checks itself (e.g. model-loader settings); may be ``"module:attribute"``.
    accepts: tuple[str, ...] | str = ()
    #: Returns the plate's own values outside the hole, its fill meeting the plate at the hole's edge: the
    #: composite's feather, which blends the backend's pixels into the plate *outside* the hole, then blends
    #: the plate with itself, and ``--feather`` changes nothing (the run says so when it is set).
    keeps_plate: bool = False

    def __post_init__(self) -> None:
        if self.keyframes_on_sequences is None:
            object.__setattr__(self, "keyframes_on_sequences", self.generative and self.kind == SPATIAL)

    def build(self, context: BackendContext) -> Any:
        return _load(self.factory)(context)

    def options_class(self) -> type | None:
        return None if self.options is None else _load(self.options)


def _load(target: Any) -> Any:
    if isinstance(target, str):
        module, _, attribute = target.partition(":")
        return getattr(importlib.import_module(module), attribute)
    return target


_REGISTRY: dict[str, Backend] = {}
#: Plugins whose entry point failed to load: name → one line saying why (reported when the name is asked for).
_BROKEN: dict[str, str] = {}
_discovered = False


def register(backend: Backend) -> None:
    """Add (or replace) a backend."""
    if backend.kind not in (SPATIAL, FILL):
        raise ValueError(f"backend {backend.name!r}: kind must be 'spatial' or 'fill', not {backend.kind!r}")
    _REGISTRY[backend.name] = backend
    _BROKEN.pop(backend.name, None)


def register_spatial(
    name: str, factory: Callable[[BackendContext], SpatialBackend] | str, **kwargs: Any
) -> None:
    """Register a spatial backend; it is also usable as a per-frame fill backend of the same name."""
    register(Backend(name, SPATIAL, factory, **kwargs))


def register_fill(name: str, factory: Callable[[BackendContext], FillBackend] | str, **kwargs: Any) -> None:
    """Register a whole-shot (temporal) fill backend."""
    register(Backend(name, FILL, factory, **kwargs))


# -- built-in backends ---------------------------------------------------------------------------------------


def _propagate(context: BackendContext) -> FillBackend:
    from .propagate import PropagateBackend

    return PropagateBackend(context, spatial_factory=create_spatial)


def _every_frame(context: BackendContext) -> FillBackend:
    from .generate import EveryFrameDiffusion

    return EveryFrameDiffusion(context, spatial=create_spatial("diffusers", context))


register_fill(
    "propagate",
    _propagate,
    doc="temporal engine: brings in background other frames saw along the flow; invents only the rest",
    options="aifx_core.propagate.options:PropagateOptions",
    python_options=("flow_estimator",),
    hosts_spatial=True,
    keeps_plate=True,
)
register_spatial(
    "telea",
    "aifx_core.inpaint.telea:TeleaBackend",
    doc="OpenCV Telea inpainting, model-free",
    options="aifx_core.inpaint.telea:TeleaOptions",
    keeps_plate=True,
)
register_spatial(
    "lama",
    "aifx_core.inpaint.lama:LamaBackend",
    doc="LaMa TorchScript model (--model FILE); keyframes only on a sequence",
    generative=True,
    options="aifx_core.inpaint.lama:LamaOptions",
)
register_spatial(
    "diffusers",
    "aifx_core.inpaint.diffusion:DiffusersBackend",
    doc="diffusers inpainting pipeline (--model, --prompt); keyframes only on a sequence",
    generative=True,
    options="aifx_core.inpaint.diffusion:DiffusersOptions",
)
register_fill(
    "video-diffusion",
    "aifx_core.inpaint.video:VideoDiffusionBackend",
    doc="masked video diffusion (e.g. Wan VACE) over overlapping windows: elements that move by themselves",
    generative=True,
    options="aifx_core.inpaint.video.options:VideoOptions",
    accepts="aifx_core.inpaint.video.options:LOADER_OPTIONS",
)
register_fill(
    "diffusers-every-frame",
    _every_frame,
    doc="diffusers on every frame, each started from the previous result warped along the flow",
    generative=True,
    options="aifx_core.generate:EveryFrameOptions",
)


# -- plugins ---------------------------------------------------------------------------------------------------


def _entry_points() -> list[Any]:
    from importlib.metadata import entry_points

    return list(entry_points(group=ENTRY_POINT_GROUP))


def _from_plugin(name: str, loaded: Any, source: str) -> Backend:
    if isinstance(loaded, Backend):
        return loaded if loaded.name == name else replace(loaded, name=name)
    doc = ((getattr(loaded, "__doc__", None) or "").strip().splitlines() or [""])[0]
    if callable(getattr(loaded, "inpaint", None)):
        return Backend(name, SPATIAL, loaded, doc=doc, source=source)
    if callable(getattr(loaded, "fill", None)):
        return Backend(name, FILL, loaded, doc=doc, source=source)
    raise TypeError("expected an aifx_core.backends.Backend, or a class with inpaint() or fill()")


def discover(force: bool = False) -> None:
    """Register the backends installed packages declare under ``aifx.backends`` (once per process).

    A plugin that fails to import does not break the other backends: its name is kept with the reason,
    which is the error a job that asks for it gets.
    """
    global _discovered
    if _discovered and not force:
        return
    _discovered = True
    for point in _entry_points():
        if point.name in _REGISTRY and _REGISTRY[point.name].source == "aifx":
            continue  # a plugin cannot shadow a built-in backend
        source = getattr(getattr(point, "dist", None), "name", None) or point.value
        try:
            register(_from_plugin(point.name, point.load(), source))
        except Exception as exc:  # a broken plugin: say so when it is asked for
            _BROKEN[point.name] = f"backend {point.name!r} from {source} failed to load ({exc})"
            print(f"aifx: warning: {_BROKEN[point.name]}", file=sys.stderr)


# -- looking up, routing and building ---------------------------------------------------------------------------


def available_backends() -> list[str]:
    discover()
    return sorted(_REGISTRY)


def get(name: str) -> Backend:
    """The registered backend called ``name``; an unknown name is an :class:`InputError` listing the known."""
    discover()
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name in _BROKEN:
        raise InputError(f"{_BROKEN[name]}; reinstall the plugin or choose another backend")
    raise InputError(
        f"unknown backend {name!r}; choose one of {', '.join(available_backends())} (aifx backends)"
    )


def is_per_frame(name: str) -> bool:
    """True for a backend whose frames do not depend on the other frames of the run (a spatial one)."""
    return get(name).kind == SPATIAL


def per_frame(options: dict[str, Any], owner: str = "backend") -> bool:
    """The ``per_frame`` option as a bool, read with the words every other bool option takes ("false", "off"
    are false): it was read by truthiness, so ``"per_frame": "false"`` in a job turned the keyframe route off
    without a word. A value that is no true/false word is an :class:`InputError` naming the option."""
    return read_bool("per_frame", options.get("per_frame", False), owner)


def _typed_general(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with the general options as the values they are read as (``per_frame`` a bool), so the
    resume key holds what runs: ``"false"`` and ``false`` key the same, and a JSON bool keys as before."""
    if "per_frame" not in options or isinstance(options["per_frame"], bool):
        return options
    return {**options, "per_frame": per_frame(options)}


def route(name: str, options: dict[str, Any], frame_count: int) -> tuple[str, dict[str, Any]]:
    """The backend that really runs, and its options: the routing rule, in one place.

    A generative spatial backend on a sequence runs under the temporal engine, which asks it only for what no
    frame saw, on keyframes, and carries that through the shot (so the fill does not flicker); set
    ``options["per_frame"] = True`` to run it on every frame on its own instead.
    """
    backend = get(name)
    options = dict(_typed_general(options))
    if backend.keyframes_on_sequences and frame_count > 1 and not per_frame(options):
        options.setdefault("spatial_backend", name)
        return "propagate", options
    return name, options


def spatial_name(backend: Backend, options: dict[str, Any]) -> str | None:
    """The spatial backend a hosting backend (the temporal engine) runs with ``options``: the job's
    ``spatial_backend``, else its options class's default (None when it declares neither)."""
    cls = backend.options_class()
    default = next((f.default for f in fields(cls) if f.name == "spatial_backend"), None) if cls else None
    chosen = options.get("spatial_backend") or default
    return None if chosen is None else str(chosen)


def _option_classes(name: str, options: dict[str, Any]) -> tuple[list[type], set[str], set[str]] | None:
    """The options classes that apply when ``name`` runs with ``options`` (None: a plugin that declares none),
    the other option names it reads and checks itself, and the Python-only option names it accepts."""
    backend = get(name)
    cls = backend.options_class()
    if cls is None:
        return None
    classes, accepts, python = [cls], set(_load(backend.accepts)), set(backend.python_options)
    if backend.hosts_spatial:
        spatial = get(str(spatial_name(backend, options)))
        if spatial.options_class() is None:
            return None
        classes.append(spatial.options_class())  # type: ignore[arg-type]
        accepts |= set(_load(spatial.accepts))
        python |= set(spatial.python_options)
    return classes, accepts, python


#: What a Python-only option takes, and what a job gives instead (for the refusal of one given in a job).
_PYTHON_OPTION_HINTS = {"flow_estimator": ("a Python FlowEstimator object", "in a job use flow_preset")}
#: What a Python-only option takes, said to a Python caller who gave another object.
_PYTHON_OPTION_OBJECTS = {
    "flow_estimator": "a FlowEstimator object: one with an estimate(a_gray, b_gray) method, such as "
    "aifx_core.flow.DISFlow('fast')"
}
#: The values a job file or ``--option`` can hold: never the Python object a Python-only option takes.
_JSON_TYPES = (str, int, float, bool, list, dict, type(None))


def _python_value_taken(name: str, value: Any) -> bool:
    """Whether Python-only option ``name`` takes ``value``. ``flow_estimator`` takes a
    :class:`~aifx_core.flow.estimator.FlowEstimator` (an object with ``estimate``, not its class): the engine
    falls back to DIS for anything else, so a function, a tuple or a NumPy number was ignored without a word. A
    plugin's Python-only option, whose type only the plugin knows, takes anything a job cannot hold."""
    if name == "flow_estimator":
        from .flow.estimator import FlowEstimator  # (here: listing backends loads no OpenCV)

        return isinstance(value, FlowEstimator) and not isinstance(value, type)
    return not isinstance(value, _JSON_TYPES)


def _check_python_only(options: dict[str, Any], python: set[str]) -> None:
    """A Python-only option given a value it does not take (a job's ``--option flow_estimator='"raft"'``, a
    function in place of an estimator) is refused: the backend fell back to its default without a word."""
    for name in sorted(python & set(options)):
        value = options[name]
        if _python_value_taken(name, value):
            continue
        if isinstance(value, _JSON_TYPES):
            what, instead = _PYTHON_OPTION_HINTS.get(name, ("a Python object", "leave it out of the job"))
            raise InputError(f"option {name} takes {what} (Python API only); {instead}")
        takes = _PYTHON_OPTION_OBJECTS.get(name, "a Python object")
        given = (
            f"the class {value.__name__}, not one made of it"
            if isinstance(value, type)
            else f"a value of type {type(value).__name__}"
        )
        raise InputError(f"option {name} takes {takes}; it was given {given}")


def check_options(name: str, options: dict[str, Any]) -> None:
    """Refuse unknown options (naming the known ones) and bad values, in milliseconds: before any frame is
    read or model loaded. A job may run on a still or a sequence, which the routing rule treats apart, so an
    option is known when either route reads it, and values are checked for both. Python-only options are
    left out of the known ones named (a job cannot give them) and refused with a value a job can hold."""
    known: set[str] = set(GENERAL_OPTIONS)
    python: set[str] = set()
    checks = []
    per_frame(options, name)  # a general option's value, checked as the routing rule reads it
    for frame_count in (1, 2):
        routed, routed_options = route(name, options, frame_count)
        found = _option_classes(routed, routed_options)
        if found is None:
            return  # a plugin without declared options: its options go through unchecked
        classes, accepts, python_only = found
        known |= {f.name for cls in classes for f in fields(cls)} | accepts
        python |= python_only
        checks += [(cls, routed_options) for cls in classes]
    unknown_options(set(options) - python, known - python, f"backend {name!r}")
    _check_python_only(options, python)
    for cls, routed_options in checks:
        cls.from_dict(routed_options)  # type: ignore[attr-defined]


def pixel_options(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` without those the backends that run say never change pixels (for the resume key)."""
    quiet = set()
    for frame_count in (1, 2):
        found = _option_classes(*route(name, options, frame_count))
        for cls in (found or ([], set(), set()))[0]:
            quiet |= {f.name for f in fields(cls) if not changes_pixels(f)}
    return {k: v for k, v in _typed_general(options).items() if k not in quiet}


def create_spatial(name: str, context: BackendContext) -> SpatialBackend:
    """The spatial backend called ``name`` (the temporal engine's factory for what no frame saw)."""
    backend = get(name)
    if backend.kind != SPATIAL:
        spatial = sorted(n for n, b in _REGISTRY.items() if b.kind == SPATIAL)
        raise InputError(f"{name!r} is not a spatial backend; choose one of {', '.join(spatial)}")
    return backend.build(context)


def create_backend(name: str, context: BackendContext) -> FillBackend:
    """The fill backend called ``name``: a whole-shot one, or a spatial one run per frame."""
    backend = get(name)
    built = backend.build(context)
    return built if backend.kind == FILL else PerFrame(built, backend.name)


# -- aifx backends ---------------------------------------------------------------------------------------------


def describe_backends() -> list[dict[str, Any]]:
    """Every backend with its kind, doc and options (name, default, doc, whether it changes pixels)."""
    from .options import defaults, option_docs

    out = []
    for name in available_backends():
        backend = _REGISTRY[name]
        cls = backend.options_class()
        rows = []
        if cls is not None:
            docs, values = option_docs(cls), defaults(cls)
            for spec in fields(cls):
                rows.append(
                    {
                        "name": spec.name,
                        "default": values.get(spec.name),
                        "doc": docs.get(spec.name, ""),
                        "pixels": changes_pixels(spec),
                    }
                )
        out.append(
            {
                "name": name,
                "kind": backend.kind,
                "doc": backend.doc,
                "generative": backend.generative,
                "keyframes_on_sequences": backend.keyframes_on_sequences,
                "source": backend.source,
                "options": rows,
                "python_options": list(backend.python_options),
                "hosts_spatial": backend.hosts_spatial,
                "accepts": sorted(_load(backend.accepts)),
            }
        )
    return out


def register_cli(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "backends", help="list the fill backends, their options, defaults and docs (plugins included)"
    )
    parser.add_argument("name", nargs="?", help="show only this backend")
    parser.add_argument("--json", action="store_true", help="print JSON (for tools and adapters)")
    parser.set_defaults(handler=_cmd_backends)


def _cmd_backends(args: Any) -> int:
    import json

    listing = describe_backends()
    if args.name:
        get(args.name)  # an unknown name is an InputError listing the known ones
        listing = [b for b in listing if b["name"] == args.name]
    if args.json:
        print(json.dumps({"backends": listing, "general_options": GENERAL_OPTIONS}, indent=2, default=repr))
        return 0
    lines = []
    for backend in listing:
        tags = [backend["kind"]] + (["generative"] * backend["generative"])
        if backend["source"] != "aifx":
            tags.append(f"plugin {backend['source']}")
        lines.append(f"{backend['name']} ({', '.join(tags)}): {backend['doc']}")
        for row in backend["options"]:
            note = "" if row["pixels"] else " [speed/memory only]"
            lines.append(
                f"    {row['name']} = {json.dumps(row['default'], default=repr)}{note}  {row['doc']}"
            )
        for name in backend["python_options"]:
            lines.append(f"    {name}  (Python API only)")
        if backend["accepts"]:
            lines.append(f"    also reads: {', '.join(backend['accepts'])}")
        if backend["hosts_spatial"]:
            lines.append("    also takes the options of its spatial_backend (e.g. --prompt for diffusers)")
        if backend["keyframes_on_sequences"]:
            lines.append(
                "    on a sequence it runs under propagate, on keyframes (per_frame=true: every frame)"
            )
        lines.append("")
    lines.append("Every backend also takes: " + "; ".join(f"{k}: {v}" for k, v in GENERAL_OPTIONS.items()))
    lines.append("Set options with the named flags (--steps, --prompt...) or --option KEY=VALUE.")
    print("\n".join(lines))
    return 0
