"""Model loading for the learned backends: where a model comes from, which device and dtype, and a cache.

Everything here imports torch/diffusers inside functions, so ``import aifx_core`` stays light and only a job
that asks for ``lama`` or ``diffusers`` pays for them.

A diffusers ``model`` is any of:

* a Hugging Face hub id (``stable-diffusion-v1-5/stable-diffusion-inpainting``,
  ``diffusers/stable-diffusion-xl-1.0-inpainting-0.1``, ``black-forest-labs/FLUX.1-Fill-dev``), fetched into
  and read from the usual HF cache (``HF_HOME`` / ``HF_HUB_CACHE``). With ``HF_HUB_OFFLINE=1`` or the
  ``local_files_only`` option nothing is fetched, and a model missing from the cache is an
  :class:`~aifx_core.errors.InputError` that says how to get it;
* a local folder in ``save_pretrained`` layout (``model_index.json`` at its top);
* a single checkpoint file (``.safetensors``/``.ckpt``) loaded with ``from_single_file`` (the class is guessed
  from the file name, or named by the ``pipeline_class`` option; ``config`` may point at a local diffusers
  folder holding the matching configs, which offline use needs).

Loaded pipelines are cached per process, keyed by everything that changes what was loaded (model, kind,
device, dtype, variant, memory options, the size and time of a local model's files and the snapshot a hub
id's cache names), so a 200-frame shot loads its model once and a model folder replaced on disk (or a hub id
downloaded again at a new revision) is loaded again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..options import Options, changes_pixels, option
from ..protocol.job import FillJob, absolute, is_device_name, windows_path

log = logging.getLogger(__name__)

#: File endings loaded with ``from_single_file``.
SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin")

_DTYPES = {
    "float32": "float32",
    "fp32": "float32",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
}
_OFFLOADS = ("none", "model", "sequential")
#: Accepted ``dtype`` and ``offload`` option values (checked before any model loads).
DTYPES = ("auto", *_DTYPES)
OFFLOADS = _OFFLOADS

_PIPELINES: dict[tuple, Any] = {}
_SCRIPTS: dict[tuple, Any] = {}
#: Cache key → when it was last handed out (``aifx serve`` unloads models idle for too long).
_LAST_USED: dict[tuple, float] = {}


#: Loads take turns: two threads asking for the same model at once loaded it twice, and accelerate's
#: empty-weights loading patches torch for the whole process while it runs, so one of the two failed
#: ("Unsupported device type 'meta'"), blaming a good model. Models already cached are handed out without it.
_LOADING = threading.RLock()
#: Guards the creation of a pipeline's own lock (see :func:`using`).
_LOCKS = threading.Lock()


def clear_cache() -> None:
    """Forget every loaded model (tests, or a long-lived worker that must free memory)."""
    _PIPELINES.clear()
    _SCRIPTS.clear()
    _LAST_USED.clear()


def cached_pipeline_count() -> int:
    return len(_PIPELINES)


def touch(model: Any) -> None:
    """Mark the cached pipeline or TorchScript module ``model`` used now. The backends call it on every use,
    not only when they fetch it at a job's start: ``aifx serve`` unloads what was idle for ``--idle-unload``
    seconds, and a model counted from its load dropped at the end of any job longer than that."""
    now = time.monotonic()
    for cache in (_PIPELINES, _SCRIPTS):
        for key, value in list(cache.items()):
            if value is model:
                _LAST_USED[key] = now


@contextmanager
def using(pipe: Any) -> Iterator[Any]:
    """Hold the cached pipeline ``pipe`` for one call, and mark it used (:func:`touch`).

    Fills running at once in one process (threads of a Python session) share one cached pipeline, and a call
    sets state on it: the scheduler a backend asked for is swapped in, and the scheduler and the pipeline keep
    per-call settings. Two calls at once mixed them (one failed, the other's frames silently differed from a
    lone run's), so calls on one pipeline take turns: each backend swaps its scheduler in and calls the
    pipeline inside this."""
    lock = getattr(pipe, "_aifx_lock", None)
    if lock is None:
        with _LOCKS:
            lock = getattr(pipe, "_aifx_lock", None)
            if lock is None:
                lock = threading.RLock()
                pipe._aifx_lock = lock
    with lock:
        touch(pipe)
        try:
            yield pipe
        finally:
            touch(pipe)


def touch_since(moment: float) -> None:
    """Mark every model used since ``moment`` (``time.monotonic()``) used now: the server's worker calls it
    when a job ends, since the job held its models until then (between two keyframes a model may sit unused
    for minutes while the frames around them are written)."""
    now = time.monotonic()
    for key, last in list(_LAST_USED.items()):
        if last >= moment:
            _LAST_USED[key] = now


def loaded_models() -> list[dict[str, Any]]:
    """What this process holds loaded: model, kind, device, dtype and seconds since last use."""
    now = time.monotonic()
    out: list[dict[str, Any]] = []
    for key in list(_PIPELINES):
        class_name, request = key[0], key[1]
        idle = round(now - _LAST_USED.get(key, now), 1)
        out.append(
            {
                "model": request.model,
                "kind": class_name,
                "device": request.device,
                "dtype": request.dtype,
                "idle_s": idle,
            }
        )
    for key in list(_SCRIPTS):
        idle = round(now - _LAST_USED.get(key, now), 1)
        out.append(
            {"model": key[0], "kind": "TorchScript", "device": key[3], "dtype": "float32", "idle_s": idle}
        )
    return out


def unload_idle(max_idle: float) -> int:
    """Forget models not used for ``max_idle`` seconds (a long-lived server's worker); returns how many."""
    cutoff = time.monotonic() - max_idle
    dropped = 0
    for cache in (_PIPELINES, _SCRIPTS):
        for key in [k for k in cache if _LAST_USED.get(k, 0.0) <= cutoff]:
            del cache[key]
            _LAST_USED.pop(key, None)
            dropped += 1
    return dropped


# -- device and dtype -------------------------------------------------------------------------------------


def resolve_device(requested: str | None) -> str:
    """``auto`` → ``cuda`` if there is a CUDA GPU, else ``mps`` (Apple), else ``cpu``; explicit names are
    checked so a missing GPU is a clear error, not a crash deep inside torch."""
    import torch

    name = (requested or "auto").strip().lower()
    if not is_device_name(name):
        raise InputError(f"device {requested!r}: expected auto, cpu, cuda, cuda:N or mps")
    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        return "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(
            f"device {requested!r}: this torch ({torch.__version__}) sees no CUDA GPU; use --device cpu"
        )
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise InputError(f"device {requested!r}: MPS is not available here; use --device cpu")
    return name


def resolve_dtype(device: str, requested: str | None, prefers_bfloat16: bool = False) -> str:
    """Name of the torch dtype: float32 on CPU (half precision is slow or unsupported there), float16 on a GPU,
    bfloat16 for models trained in it (Flux) where the GPU supports it; ``requested`` overrides."""
    if requested and str(requested).lower() != "auto":
        key = str(requested).lower()
        if key not in _DTYPES:
            raise InputError(f"dtype {requested!r}: expected auto, float32, float16 or bfloat16")
        return _DTYPES[key]
    if device == "cpu":
        return "float32"
    if prefers_bfloat16 and device.startswith("cuda"):
        import torch

        if torch.cuda.is_bf16_supported():
            return "bfloat16"
    return "float16"


def offline(options: dict[str, Any]) -> bool:
    """True when nothing may be downloaded: ``HF_HUB_OFFLINE`` is set, or the ``local_files_only`` option."""
    env = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    return env or _flag(options.get("local_files_only"))


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


# -- where a model comes from -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSource:
    """``kind`` is ``folder``, ``file`` or ``hub``; ``location`` the resolved path or the hub id."""

    kind: str
    location: str


def locate_model(model: Any, what: str = "model", cache_dir: str | None = None) -> ModelSource:
    """Classify ``model`` (see module doc); a path that does not exist is an InputError, not a hub lookup.
    ``cache_dir``: the hub cache the job reads (:func:`hub_cache`)."""
    if not model or not str(model).strip():
        raise InputError(
            f"no {what} given; pass --model with a hub id (e.g. stable-diffusion-v1-5/stable-diffusion-inpainting), "
            "a local diffusers folder or a .safetensors checkpoint"
        )
    text = str(model).strip()
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "model_index.json").is_file():
            checkpoint = ", or a single .safetensors checkpoint" if what == "model" else ""
            raise InputError(
                f"{path}: not a diffusers model folder (no model_index.json); pass the folder written by "
                f"save_pretrained or `hf download --local-dir`{checkpoint}"
            )
        return ModelSource("folder", str(path.resolve()))
    if path.is_file():
        if path.suffix.lower() not in SINGLE_FILE_SUFFIXES:
            raise InputError(
                f"{path}: not a model checkpoint; expected one of {', '.join(SINGLE_FILE_SUFFIXES)} or a folder"
            )
        return ModelSource("file", str(path.resolve()))
    if looks_like_path(text):
        raise InputError(
            f"{text}: no such model file or folder; check the path, or give a Hugging Face hub id"
        )
    folder = _local_parent(text)
    if folder is not None and hub_revision(text, cache_dir) is None:
        raise InputError(f"{text}: no such model folder ({folder}/ exists); check the path")
    return ModelSource("hub", text)


def locate_config(config: str, cache_dir: str | None = None, is_offline: bool = False) -> ModelSource:
    """A single checkpoint's ``config`` (a diffusers model folder or a hub id holding its components' configs),
    checked as ``--model`` is (:func:`locate_model`) before anything loads, the error naming ``config``: a
    mistyped folder (``models/tiny-inpaintt`` beside ``models/``) was taken for a hub id, and the load's failure
    blamed on the checkpoint ("could not load it as a StableDiffusionInpaintPipeline ...; check the model").
    A checkpoint file is no config, and nor is a hub id not in the cache while downloads are off
    (``is_offline``), which the checkpoint's load was blamed for the same way."""
    try:
        source = locate_model(config, "config", cache_dir)
    except InputError as error:
        raise InputError(f"config {error}") from None
    if source.kind == "file":
        raise InputError(
            f"config {source.location}: a checkpoint file; config takes the folder (or hub id) of a diffusers "
            "model of the same architecture"
        )
    if source.kind == "hub" and is_offline and hub_revision(source.location, cache_dir) is None:
        raise InputError(
            f"config {source.location!r} is not in the Hugging Face cache and downloads are off (HF_HUB_OFFLINE=1 "
            f"or local_files_only), {_NOT_LOCAL}; download it first with `hf download {source.location}`, or "
            "point config at a local diffusers folder of the same architecture"
        )
    return source


def _local_parent(text: str) -> str | None:
    """The first part of an ``org/name`` value when it is a folder here: ``models/inpaint-typo`` beside a
    ``models/`` folder is a mistyped local path, which was looked up on the hub (some 25 s of retries
    without a network) and answered with `hf download models/inpaint-typo`. None when it names no folder."""
    first, sep, _ = text.partition("/")
    if not sep or not first:
        return None
    return first if Path(first).expanduser().is_dir() else None


def looks_like_path(text: str) -> bool:
    """True when a ``model`` value that names nothing on disk is a mistyped path, not a hub id: it starts with
    ``/``, ``.`` or ``~``, has a backslash, a drive colon (``Z:``) or more than one ``/``, or a checkpoint file
    ending (a hub id is ``org/name``)."""
    return (
        text.startswith(("/", ".", "~"))
        or "\\" in text
        or ":" in text
        or text.count("/") > 1
        or Path(text).suffix.lower() in SINGLE_FILE_SUFFIXES
    )


#: Backend options holding paths, by name (every backend shares one options namespace): ``"model"`` ones may be
#: a hub id instead (see :func:`locate_model`), ``"path"`` ones are always a path. The server checks them
#: against its roots, a job sent elsewhere makes them absolute, and the resume key holds them as the files they
#: name.
PATH_OPTIONS = {"model": "model", "config": "model", "cache_dir": "path", "reference": "path"}


def option_paths(options: dict) -> dict[str, str]:
    """The options of a job that name files or folders (hub ids left out), by option name."""
    found = {}
    for name, kind in PATH_OPTIONS.items():
        value = options.get(name)
        if not isinstance(value, str) or not value.strip():
            continue
        text = value.strip()
        if kind == "model" and not looks_like_path(text) and not Path(text).expanduser().exists():
            continue  # a hub id: fetched into (or read from) the server's own model cache
        found[name] = text
    return found


def absolute_option_paths(options: dict) -> dict[str, str]:
    """:func:`option_paths` made absolute against this process's working folder, ``~`` expanded to this user's
    home: the files they name as a run here reads them. One rule for the resume key (``--model models/lama.pt``
    here and the absolute path ``aifx submit`` and Ray send key the same) and for a job sent elsewhere
    (:func:`absolute_options`), as ``protocol.job.absolute_paths`` is for the file fields."""
    return {name: absolute(os.path.expanduser(value)) for name, value in option_paths(options).items()}


def relative_options(options: dict) -> dict[str, str]:
    """The options naming files or folders by a relative path (a model ``./Wan2.1-VACE``, a reference image),
    by option name: a job sent elsewhere (a farm task, a Ray worker, a server) reads them from another folder."""
    return {
        name: value
        for name, value in option_paths(options).items()
        if not Path(value).is_absolute()  # (``~/x`` too: this user's home, not the server's or a worker's)
    }


def absolute_options(job: FillJob) -> FillJob:
    """``job`` with its relative file options made absolute against this process's working folder, as
    :func:`~aifx_core.protocol.job.absolute_paths` does for its file fields (a Windows path off Windows is left
    as it is, for a server's ``--path-map``)."""
    relative = {k: v for k, v in relative_options(job.options).items() if not windows_path(v)}
    if not relative:
        return job
    absolute = {k: v for k, v in absolute_option_paths(job.options).items() if k in relative}
    return replace(job, options={**job.options, **absolute})


def _how_to_get(model_id: str) -> str:
    return (
        f"download it first with `hf download {model_id}` (`huggingface-cli download` on older huggingface_hub; "
        "it goes into the HF cache, HF_HOME), or pass a local model folder / .safetensors file with --model PATH"
    )


def _unreachable(exc: BaseException) -> bool:
    """Whether a hub error was caused by the network, not the id: diffusers words a refused connection as
    "does not appear to have a file named model_index.json", with huggingface_hub's "not in the cache and
    the hub cannot be reached" (``LocalEntryNotFoundError``) and the connection error behind it."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if _not_cached(cause) or isinstance(cause, (ConnectionError, TimeoutError)):
            return True
        if "Connect" in type(cause).__name__ or "Timeout" in type(cause).__name__:  # httpx, requests
            return True
        cause = cause.__cause__ or cause.__context__
    return False


@contextmanager
def _quiet_hub() -> Iterator[None]:
    """Leave out huggingface_hub's "local_dir_use_symlinks is deprecated" UserWarning: diffusers passes that
    argument on every hub download, and the artist can do nothing about it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*local_dir_use_symlinks.*", category=UserWarning)
        yield


#: Said of a hub id that failed: it names no local folder either (a path is looked up on disk first).
_NOT_LOCAL = "and there is no local folder of that name either"


def _hub_error(model_id: str, exc: Exception, is_offline: bool) -> InputError:
    if is_offline:
        return InputError(
            f"model {model_id!r} is not in the Hugging Face cache and downloads are off "
            f"(HF_HUB_OFFLINE=1 or local_files_only), {_NOT_LOCAL}; {_how_to_get(model_id)}"
        )
    if _unreachable(exc):
        return InputError(
            f"model {model_id!r} is not in the Hugging Face cache and the hub could not be reached (no network, "
            f"or a proxy or firewall in the way), {_NOT_LOCAL}; connect and run again, or {_how_to_get(model_id)}"
        )
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return InputError(
        f"model {model_id!r} could not be fetched from the Hugging Face hub ({reason}), {_NOT_LOCAL}; check "
        f"the id, run `hf auth login` for gated models, or {_how_to_get(model_id).split(', or ')[-1]}"
    )


def _model_index(source: ModelSource, is_offline: bool, cache_dir: str | None = None) -> dict[str, Any]:
    """The model's ``model_index.json`` (reads the cache or fetches that one file)."""
    from diffusers import DiffusionPipeline

    try:
        with _quiet_hub():
            config = DiffusionPipeline.load_config(
                source.location, local_files_only=is_offline, cache_dir=cache_dir
            )
    except (OSError, ValueError) as exc:
        if source.kind == "hub":
            raise _hub_error(source.location, exc, is_offline) from None
        raise InputError(f"{source.location}: unreadable model_index.json ({exc})") from None
    return dict(config)


class ModelIndex:
    """One job's ``model_index.json`` of the model ``request`` names, read at most once and handed to
    :func:`declared_pipeline_class`, :func:`scheduler_class_name` and :func:`load_pipeline`: each wants it, and
    with a hub id and downloads allowed each read can be a round trip to the hub (``aifx serve`` paid three per
    job, its model cached or not). Read on first use, so a job that needs none (a single checkpoint file, a
    named ``pipeline_class`` and no scheduler) reads none, and a read that fails raises where it did."""

    def __init__(self, request: PipelineRequest) -> None:
        self.request = request
        self.source = locate_model(request.model, cache_dir=request.cache_dir)
        if request.config:  # (checked with the model: a mistyped one was blamed on the checkpoint)
            locate_config(request.config, request.cache_dir, request.local_files_only)
        self._config: dict[str, Any] | None = None

    def config(self) -> dict[str, Any]:
        """The index's contents (reads the cache or fetches that one file, the first time only)."""
        if self._config is None:
            self._config = _model_index(self.source, self.request.local_files_only, self.request.cache_dir)
        return self._config

    def class_name(self) -> str:
        """The ``_class_name`` the index names (empty when it names none)."""
        return str(self.config().get("_class_name", ""))


def takes_mask(cls: type) -> bool:
    """Whether pipeline class ``cls`` inpaints: its ``__call__`` takes ``mask_image``. The one test for
    ``fill``'s diffusers backend (which needs such a class) and ``storyboard`` (which refuses one)."""
    import inspect

    return "mask_image" in inspect.signature(cls.__call__).parameters


def declared_pipeline_class(index: ModelIndex) -> type | None:
    """The diffusers pipeline class ``index.request`` will load, known without loading it (``pipeline_class``,
    or the ``_class_name`` of a folder's or cached hub model's ``model_index.json``), so a model of the wrong
    kind is refused before minutes of loading; None when only loading tells (a single checkpoint file, a
    class diffusers does not have)."""
    import diffusers

    if index.request.pipeline_class:
        name = index.request.pipeline_class
    elif index.source.kind == "file":
        return None
    else:
        name = index.class_name()
    cls = getattr(diffusers, name, None) if name else None
    return cls if isinstance(cls, type) else None


def is_masked_video(cls: type) -> bool:
    """Whether a pipeline class does masked video diffusion: a VACE pipeline, or one whose ``__call__`` takes
    ``video`` and ``mask`` (what ``video-diffusion`` hands it)."""
    import inspect

    if "VACE" in cls.__name__:
        return True
    return {"video", "mask"} <= set(inspect.signature(cls.__call__).parameters)


def scheduler_class_name(index: ModelIndex) -> str | None:
    """The scheduler class the model ships with, read from its ``model_index.json`` without loading it, so a
    scheduler that does not fit is refused before minutes of loading; None for a single checkpoint file (its
    scheduler is known once loaded) or an index that names none."""
    if index.source.kind == "file":
        return None
    entry = index.config().get("scheduler")
    if isinstance(entry, (list, tuple)) and len(entry) == 2 and entry[1]:
        return str(entry[1])
    return None


def _not_cached(exc: BaseException) -> bool:
    """huggingface_hub's "not in the local cache and downloads are off" (not a broken file's OSError)."""
    from huggingface_hub.utils import LocalEntryNotFoundError  # (also in huggingface_hub.errors since 0.24)

    return isinstance(exc, LocalEntryNotFoundError)


def _single_file_offline(path: str, class_name: str) -> InputError:
    """A single checkpoint holds weights only: diffusers fetches its components' configs from the hub, which
    offline it cannot, and its own message (a missing snapshot) does not say what to do."""
    return InputError(
        f"{path}: a single checkpoint file needs the configs of its model ({class_name}), and downloads are "
        "off (HF_HUB_OFFLINE=1 or local_files_only); point --option config=/path/to/folder at a local "
        "diffusers folder of the same architecture (or a hub id in the cache), or allow downloads"
    )


def _single_file_class(path: str, kind: str, requested: str | None) -> str:
    if requested:
        return requested
    name = Path(path).name.lower()
    if "flux" in name:
        return "FluxFillPipeline" if kind == "inpaint" else "FluxPipeline"
    if "xl" in name:
        return "StableDiffusionXLInpaintPipeline" if kind == "inpaint" else "StableDiffusionXLPipeline"
    return "StableDiffusionInpaintPipeline" if kind == "inpaint" else "StableDiffusionPipeline"


def _diffusers_class(name: str) -> Any:
    import diffusers

    cls = getattr(diffusers, name, None)
    if cls is None or not hasattr(cls, "from_pretrained"):
        raise InputError(
            f"pipeline_class {name!r}: not a diffusers pipeline class (e.g. StableDiffusionInpaintPipeline)"
        )
    return cls


# -- pipelines ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoaderOptions(Options):
    """How a diffusers model is loaded: the options every command or backend that loads one accepts, declared
    once. The ``diffusers`` backend's options extend this class, the ``video-diffusion`` backend, storyboards
    and previz accept these names, and :class:`PipelineRequest` takes its defaults from here."""

    owner = "model loader"

    #: Weights' precision: auto, float32, float16 or bfloat16.
    dtype: str = "auto"
    #: Weights variant to load, e.g. fp16.
    variant: str | None = None
    #: CPU offload to save GPU memory: none, model or sequential.
    offload: str = option("none", pixels=False)
    #: Decode the latents in tiles (less memory for large crops).
    vae_tiling: bool = False
    #: Decode the batch one image at a time (less memory).
    vae_slicing: bool = option(False, pixels=False)
    #: Never download: use only the local cache (also HF_HUB_OFFLINE=1).
    local_files_only: bool = option(False, pixels=False)
    #: Hugging Face cache folder instead of the default (e.g. a shared farm cache).
    cache_dir: str | None = option(None, pixels=False)
    #: Diffusers pipeline class for a single checkpoint file.
    pipeline_class: str | None = None
    #: Config folder or hub id for a single checkpoint file.
    config: str | None = None

    def check(self) -> None:
        if self.offload.lower() not in OFFLOADS:
            raise InputError(f"offload {self.offload!r}: expected one of {', '.join(OFFLOADS)}")
        if self.dtype.lower() not in DTYPES:
            raise InputError(f"dtype {self.dtype!r}: expected auto, float32, float16 or bfloat16")

    @classmethod
    def read(cls, options: dict[str, Any]) -> LoaderOptions:
        """The loader's options out of a backend's or storyboard's options (others ignored; ``None`` = default)."""
        return cls.from_dict({k: v for k, v in options.items() if k in LOADER_OPTIONS and v is not None})


def check_guidance(guidance: float | None, where: str) -> None:
    """Refuse a classifier-free guidance scale that is not a finite number, 0 or more (None: the pipeline's
    own). diffusers checks none of it: NaN gives no guidance at all or a black picture, a negative scale an
    inverted one, infinity NaN pixels that were blamed on half precision. One check for the ``diffusers`` and
    ``video-diffusion`` options, storyboards and previz; ``where`` names the setting (``video-diffusion option
    guidance``, ``shots.yaml: guidance``)."""
    if guidance is not None and not (math.isfinite(guidance) and guidance >= 0):
        raise InputError(f"{where}={guidance}: expected a number, 0 or more")


#: Names of the loader options (the fields of :class:`LoaderOptions`).
LOADER_OPTIONS = tuple(spec.name for spec in fields(LoaderOptions))
_LOADER = LoaderOptions()


@dataclass(frozen=True)
class PipelineRequest:
    """What to load; every field is part of the cache key. The loader fields' defaults are
    :class:`LoaderOptions`'."""

    model: str
    #: ``inpaint``, ``text2image``, ``video`` (masked video, e.g. Wan VACE) or ``text2video`` (previz).
    kind: str = "inpaint"
    device: str = "auto"
    dtype: str = _LOADER.dtype
    variant: str | None = _LOADER.variant
    #: ``none``, ``model`` (``enable_model_cpu_offload``) or ``sequential`` (``enable_sequential_cpu_offload``).
    offload: str = _LOADER.offload
    vae_tiling: bool = _LOADER.vae_tiling
    vae_slicing: bool = _LOADER.vae_slicing
    local_files_only: bool = _LOADER.local_files_only
    #: Hugging Face hub cache folder to use instead of the default (``HF_HUB_CACHE``), e.g. a shared farm cache.
    cache_dir: str | None = _LOADER.cache_dir
    pipeline_class: str | None = _LOADER.pipeline_class
    config: str | None = _LOADER.config
    #: The scheduler class asked for (``--scheduler``). Loaded in place of the model's own only where this
    #: diffusers lacks that one's class (:func:`load_pipeline` keys on it then only); else swapped in per call.
    scheduler: str | None = None

    @classmethod
    def from_options(cls, options: dict[str, Any], device: str, kind: str = "inpaint") -> PipelineRequest:
        loader = LoaderOptions.read(options)  # typed and checked, with the defaults declared there
        return cls(
            model=str(options.get("model") or ""),
            kind=kind,
            device=device,
            dtype=loader.dtype,
            variant=loader.variant or None,
            offload=loader.offload.lower(),
            vae_tiling=loader.vae_tiling,
            vae_slicing=loader.vae_slicing,
            local_files_only=loader.local_files_only or offline({}),  # HF_HUB_OFFLINE=1 too
            cache_dir=loader.cache_dir or None,
            pipeline_class=loader.pipeline_class or None,
            config=loader.config or None,
            scheduler=str(options.get("scheduler") or "") or None,
        )


#: Files whose change means another model in the same folder (weights, and what says how they fit together).
_MODEL_FILES = (*SINGLE_FILE_SUFFIXES, ".json", ".gguf")


def files_stamp(source: ModelSource, cache_dir: str | None = None) -> tuple:
    """Name, size and modification time of a local model's files (a folder's ``model_index.json`` and its
    components' weights and configs, or the single checkpoint), part of the cache key: a folder replaced
    with another model (a new version copied over the old path) is loaded again, as a LaMa file is, instead
    of a long-lived process (``aifx serve``, a Python session) filling with the old one. For a hub id, the
    snapshot its cache's ``refs/main`` names (:func:`hub_revision`; the cache is addressed by content, so the
    snapshot is what was loaded): ``hf download`` of a new revision moves it. Empty for a hub id not cached.
    Stat-based, never a hash of the weights: a model copied without its times counts as another."""
    if source.kind == "hub":
        revision = hub_revision(source.location, cache_dir)
        return (("revision", revision),) if revision else ()
    root = Path(source.location)
    files = [root] if source.kind == "file" else [*root.glob("*"), *root.glob("*/*")]
    stamp = []
    for file in files:
        if file.suffix.lower() not in _MODEL_FILES:
            continue
        try:
            info = file.stat()
        except OSError:
            continue  # removed while we looked: the loader says what is missing
        stamp.append((str(file.relative_to(root)) if file != root else "", info.st_size, info.st_mtime_ns))
    return tuple(sorted(stamp))


def hub_cache(cache_dir: str | None = None) -> Path:
    """The Hugging Face hub cache folder, as huggingface_hub finds it (``cache_dir``, ``HF_HUB_CACHE``,
    ``HF_HOME``/hub, ``~/.cache/huggingface/hub``), read from the environment now: a long-lived process may
    be given another one than the one it started with."""
    if cache_dir:
        return Path(cache_dir).expanduser()
    hub = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if hub:
        return Path(hub).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or "~/.cache", "huggingface"
    )
    return Path(home).expanduser() / "hub"


def hub_revision(model_id: str, cache_dir: str | None = None) -> str | None:
    """The snapshot (commit) of ``model_id`` a load without a revision reads from the cache: the one its
    ``refs/main`` names. None when the model is not cached."""
    ref = hub_cache(cache_dir) / f"models--{model_id.replace('/', '--')}" / "refs" / "main"
    try:
        return ref.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def model_fingerprint(options: dict[str, Any]) -> str | None:
    """A short fingerprint of the files a job's options name that change its pixels (every option of
    :data:`PATH_OPTIONS` but those declared ``pixels=False``, such as ``cache_dir``): the model and, for a
    single checkpoint, its ``config``, by :func:`files_stamp` of a folder or file or the cached snapshot of a hub
    id; a ``reference`` image by its size and content (as a mask file is: an element saved again unchanged is the
    same one). The manifest keeps it with each frame's plate and mask, so a resume after the weights at the same
    path were replaced (or a hub id's cache moved to a new revision, or the reference image was updated) refuses
    the finished frames as made from other inputs, as it refuses a re-rendered plate; without the reference in
    it, one shot was made from two references. None when the options name no such file, or none that can be
    found (the backend says why when it reads it; a hub id not cached yet has nothing to compare). A job naming
    no reference keeps the fingerprint it had before references were in it."""
    from ..sequence.identity import source_identity

    stamps: list[list[Any]] = []
    for name in fingerprinted_options(options):
        value = str(options[name]).strip()
        if PATH_OPTIONS[name] == "path":
            identity = source_identity(Path(value).expanduser(), by_content=True)
            if identity is not None:
                stamps.append([name, "file", identity])
            continue
        try:
            source = locate_model(value)
        except InputError:
            continue
        stamp = files_stamp(source, options.get("cache_dir") or None)
        if stamp:
            stamps.append([name, source.kind, [list(entry) for entry in stamp]])
    if not stamps:
        return None
    return hashlib.sha256(json.dumps(stamps).encode()).hexdigest()[:16]


def fingerprinted_options(options: dict[str, Any]) -> list[str]:
    """The options :func:`model_fingerprint` stamps the files of, in :data:`PATH_OPTIONS` order: those of a job
    that name a file or a model and change pixels (``cache_dir`` only says where the hub cache is, whose
    snapshot a hub id's stamp names already)."""
    quiet = {spec.name for spec in fields(LoaderOptions) if not changes_pixels(spec)}
    return [
        name
        for name in PATH_OPTIONS
        if name not in quiet and isinstance(options.get(name), str) and options[name].strip()
    ]


def fingerprinted_files(options: dict[str, Any]) -> str:
    """What :func:`model_fingerprint` covers, as a resume refusal names it: ``the model M`` and, when the job
    names one, ``or its reference R`` (the fingerprint is one digest: which of them changed is not known)."""
    names = fingerprinted_options(options)
    model = str(options.get("model") or "").strip()
    words = [f"the model {model}" if model else "the model"]
    words += [f"its {name} {str(options[name]).strip()}" for name in names if PATH_OPTIONS[name] == "path"]
    return " or ".join(words)


def load_pipeline(request: PipelineRequest, index: ModelIndex | None = None) -> Any:
    """The diffusers pipeline for ``request``, loaded once per process; ``index``: the job's
    :class:`ModelIndex` of ``request``, when its checks before loading have read it already."""
    if index is None:
        index = ModelIndex(request)
    source = index.source
    device = resolve_device(request.device)
    if source.kind == "file":
        class_name = _single_file_class(source.location, request.kind, request.pipeline_class)
    else:
        class_name = request.pipeline_class or index.class_name()
    request = _with_scheduler(request, index)
    dtype_name = resolve_dtype(device, request.dtype, prefers_bfloat16="Flux" in class_name)
    key = (
        class_name,
        replace(request, model=source.location, device=device, dtype=dtype_name),
        files_stamp(source, request.cache_dir),
    )
    if key in _PIPELINES:
        _LAST_USED[key] = time.monotonic()
        return _PIPELINES[key]
    check_components(index)
    with _LOADING:
        return _load_pipeline(key, index, request, class_name, device, dtype_name)


#: What a tokenizer cannot do without: its vocabulary (``vocab.json``, ``tokenizer.json``, ``spiece.model``...).
_VOCABULARY = ("vocab", "tokenizer.json", "merges", ".model", ".tiktoken")


def component_folders(config: dict[str, Any]) -> list[tuple[str, str]]:
    """The components a ``model_index.json`` (``config``) names with a class (``("tokenizer", "CLIPTokenizer")``);
    those it names ``[null, null]`` (no safety checker) and its settings (``requires_safety_checker``) are none."""
    named = []
    for name, entry in config.items():
        if name.startswith("_") or not isinstance(entry, (list, tuple)) or len(entry) != 2:
            continue
        if entry[0] and entry[1]:
            named.append((name, str(entry[1])))
    return named


def _component_gap(folder: Path, class_name: str) -> str | None:
    """What ``folder`` (one component of a model) lacks: None when it holds what loading it needs, a config or
    weights file, and for a tokenizer a vocabulary file."""
    if not folder.is_dir():
        return "missing"
    files = [f.name.lower() for f in folder.iterdir() if f.is_file() and not f.name.startswith(".")]
    if not any(name.endswith(_MODEL_FILES + (".txt", ".model")) for name in files):
        return "empty" if not files else "without a config or weights file"
    if "Tokenizer" in class_name and not any(part in name for name in files for part in _VOCABULARY):
        return "without its vocabulary (vocab.json, tokenizer.json or *.model)"
    return None


def check_components(index: ModelIndex, loaded: bool = False) -> None:
    """Refuse a model whose components' folders lack their files (before loading, where it can): a folder
    copied without ``tokenizer/`` (or an interrupted download) loaded without a word, since transformers builds
    an empty tokenizer, and the first frame crashed inside the pipeline (OverflowError, "internal error"); a
    missing ``vae/`` was worded "no file named config.json found in directory", and in the hub cache "not in
    the Hugging Face cache". Checked where loading reads them: the model's folder, the hub snapshot in the cache, or
    a single checkpoint's ``config`` (its components' configs and vocabulary). A single checkpoint without
    ``config`` takes the configs of the hub model diffusers picks from its keys: :func:`check_single_file`.

    The check never downloads: a hub snapshot with downloads on is checked once ``loaded`` (the load fetched
    what it lacked with the job's variant and patterns where the hub answered, and fell back to the cache as it
    is where not); fetching it here fetched every plain weight before an fp16 load, or a single checkpoint's
    config repo's weights, which from_single_file never reads. Everything else is checked before loading."""
    request = index.request
    if loaded != _checked_once_loaded(index):
        return
    if index.source.kind == "file":
        if not request.config:
            check_single_file(index.source.location, request)
            return
        source = locate_config(request.config, request.cache_dir, request.local_files_only)
        try:
            config = _model_index(source, request.local_files_only or loaded, request.cache_dir)
        except InputError:  # (a hub id it cannot read now: the load says so, naming the config)
            return
    else:
        source, config = index.source, index.config()
    root = Path(source.location) if source.kind == "folder" else _hub_snapshot(source.location, request)
    if root is None:
        return
    for name, class_name in component_folders(config):
        gap = _component_gap(root / name, class_name)
        if gap is not None:
            raise InputError(_component_refusal(source, root, (name, class_name, gap), index))


#: What diffusers fetches of the hub model that gives a single checkpoint its configs (``from_single_file``).
_CONFIG_PATTERNS = ("*.json", "*.txt", "*.model")


def check_single_file(path: str, request: PipelineRequest) -> None:
    """Check a single checkpoint given without ``config`` before loading it, as far as its header tells:
    a ``.safetensors`` file whose header does not read or whose weights it cuts short (an interrupted copy),
    a PyTorch file that is neither a zip nor a pickle, and, with downloads off, the hub model diffusers takes
    its configs from (picked from the weights' names, ``infer_diffusers_model_type``) missing from the cache or
    one of its components' configs missing there. Each was found only by the load, after reading gigabytes:
    "could not load it as ..." or "needs the configs of its model", never which model's configs."""
    keys = _checkpoint_keys(path)
    picked = _config_model(keys) if keys is not None else None
    if picked is None or not request.local_files_only:
        return  # (with downloads on, the load fetches what the cache lacks)
    repo, model_type = picked
    why = f"{path}: a single checkpoint file takes its configs from the hub model {repo!r} (diffusers reads "
    get = (
        f"download them with `hf download {repo} --include {' '.join(repr(p) for p in _CONFIG_PATTERNS)}`, or "
        "point --option config=/path/to/folder at a local diffusers folder of the same architecture"
    )
    revision = hub_revision(repo, request.cache_dir)
    if revision is None:
        raise InputError(
            f"{why}its weights as the {model_type!r} type), which is not in the Hugging Face cache and downloads are off "
            f"(HF_HUB_OFFLINE=1 or local_files_only); {get}, or allow downloads"
        )
    root = hub_cache(request.cache_dir) / f"models--{repo.replace('/', '--')}" / "snapshots" / revision
    try:
        index = json.loads((root / "model_index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise InputError(
            f"{why}its weights as the {model_type!r} type), whose model_index.json does not read in {root}; {get}"
        ) from None
    for name, class_name in component_folders(index):
        gap = _component_gap(root / name, class_name)
        if gap is not None:
            raise InputError(
                f"{why}its weights as the {model_type!r} type), whose {name}/ ({class_name}) is {gap} in {root}; {get}"
            )


def _checkpoint_keys(path: str) -> dict[str, Any] | None:
    """The tensors of a single checkpoint by name, each with its ``shape``, read from a ``.safetensors``
    header (kilobytes: the weights are not read); None for a PyTorch file (``.ckpt``, ``.pt``...), whose
    names only loading it tells, once it is checked to be a zip or a pickle at all."""
    from types import SimpleNamespace

    again = "copy or download it again"
    with open(path, "rb") as file:
        head = file.read(8)
        if not path.lower().endswith(".safetensors"):
            if not head.startswith((b"PK\x03\x04", b"\x80")):
                raise InputError(f"{path}: not a PyTorch checkpoint (neither a zip nor a pickle); {again}")
            return None
        size = os.fstat(file.fileno()).st_size
        length = int.from_bytes(head, "little") if len(head) == 8 else -1
        if not 0 < length <= size - 8:
            raise InputError(f"{path}: not a .safetensors checkpoint (its header does not read); {again}")
        try:
            header = json.loads(file.read(length))
            tensors = {k: v for k, v in header.items() if k != "__metadata__"}
            end = max((int(v["data_offsets"][1]) for v in tensors.values()), default=0)
            shapes = {k: SimpleNamespace(shape=tuple(int(n) for n in v["shape"])) for k, v in tensors.items()}
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            raise InputError(
                f"{path}: not a .safetensors checkpoint (its header does not read); {again}"
            ) from None
    if 8 + length + end > size:
        raise InputError(
            f"{path}: truncated: its header names {8 + length + end} bytes, the file holds {size} (an interrupted "
            f"copy or download?); {again}"
        )
    return shapes


def _config_model(keys: dict[str, Any]) -> tuple[str, str] | None:
    """The hub model (and diffusers' name of the model type) whose configs ``from_single_file`` loads a
    checkpoint of these tensors with; None where diffusers tells no such model or it is in a subfolder."""
    try:
        from diffusers.loaders.single_file_utils import (
            DIFFUSERS_DEFAULT_PIPELINE_PATHS,
            infer_diffusers_model_type,
        )

        model_type = infer_diffusers_model_type(keys)
        found = DIFFUSERS_DEFAULT_PIPELINE_PATHS[model_type]
    except (ImportError, KeyError, AttributeError, IndexError, TypeError):
        return None
    if found.get("subfolder"):
        return None
    return str(found["pretrained_model_name_or_path"]), str(model_type)


def _checked_once_loaded(index: ModelIndex) -> bool:
    """Whether :func:`check_components` checks ``index``'s model after loading it: where what it checks is a
    hub snapshot (the model's, or a single checkpoint's ``config``) and downloads are on, so the load may
    fetch what the cache lacks."""
    request = index.request
    if request.local_files_only:
        return False
    if index.source.kind == "file":
        return bool(request.config) and locate_config(str(request.config), request.cache_dir).kind == "hub"
    return index.source.kind == "hub"


def _hub_snapshot(model_id: str, request: PipelineRequest) -> Path | None:
    """The snapshot of hub model ``model_id`` in the cache as it is now, never fetched (the job's variant
    passed, as the load passes it). None where there is none: loading says why (:func:`_hub_error`)."""
    from diffusers import DiffusionPipeline

    try:
        with _quiet_hub():
            folder = DiffusionPipeline.download(
                model_id, cache_dir=request.cache_dir, local_files_only=True, variant=request.variant
            )
    except (OSError, ValueError):
        return None
    return Path(folder)


def _component_refusal(
    source: ModelSource,
    root: Path,
    component: tuple[str, str, str],
    index: ModelIndex,
) -> str:
    """The one line for ``component`` (its folder's name, its class, what it lacks) of ``source``, a model or
    a single checkpoint's config, in ``root`` (the folder, or the hub snapshot)."""
    name, class_name, gap = component
    config = index.source.kind == "file"  # (a single checkpoint's components are its config's)
    if source.kind == "hub":
        again = "or allow downloads" if index.request.local_files_only else "once the hub can be reached"
        return (
            f"{'config' if config else 'model'} {source.location!r} is incomplete in the Hugging Face cache: its "
            f"{name}/ ({class_name}) is {gap} in {root}; download it again with `hf download {source.location}`, "
            f"{again}"
        )
    return (
        f"{'config ' if config else ''}{root / name}/: {gap}, but model_index.json names {article(class_name)} "
        f"{class_name} there; copy the model's whole folder again (or download it again)"
    )


def missing_scheduler(index: ModelIndex) -> str | None:
    """The scheduler class the model's ``model_index.json`` names when this diffusers has no class of that name
    (a model made with a newer diffusers); None when it has it, or the index names none."""
    import diffusers

    name = scheduler_class_name(index)
    return name if name and not isinstance(getattr(diffusers, name, None), type) else None


def _newer_diffusers(what: str, name: str, kind: str) -> str:
    """The advice for a model naming a class this diffusers lacks: its version, and what to do."""
    import diffusers

    also = (
        ", or pick one with --scheduler"
        if what == "scheduler" and kind not in ("video", "text2video")
        else ""
    )
    return (
        f"this model's {what} {name} needs a newer diffusers (have {diffusers.__version__}); upgrade diffusers "
        f"in aifx's environment{also}"
    )


def _with_scheduler(request: PipelineRequest, index: ModelIndex) -> PipelineRequest:
    """``request`` with the scheduler it asks for kept only where it is loaded in place of the model's own: the
    model names a scheduler class this diffusers lacks (its loader fails on it: "diffusers has no class ...").
    Such a model without ``--scheduler`` is refused before loading, saying why; elsewhere the scheduler is
    swapped in per call and leaves the cache key, so one cached pipeline serves every scheduler."""
    missing = missing_scheduler(index) if index.source.kind != "file" else None
    if missing is None:
        return replace(request, scheduler=None) if request.scheduler else request
    if not request.scheduler:
        raise InputError(f"{index.source.location}: {_newer_diffusers('scheduler', missing, request.kind)}")
    return request


def _scheduler_in_place(source: ModelSource, request: PipelineRequest) -> Any:
    """The scheduler ``request`` names, configured from the model's own ``scheduler/scheduler_config.json``
    (the settings its training used), for a model whose own scheduler class this diffusers lacks."""
    import diffusers

    cls = getattr(diffusers, str(request.scheduler), None)
    if not isinstance(cls, type) or not issubclass(cls, diffusers.SchedulerMixin):
        raise InputError(f"scheduler {request.scheduler!r}: not a diffusers scheduler; check --scheduler")
    config = cls.load_config(
        source.location,
        subfolder="scheduler",
        local_files_only=request.local_files_only,
        cache_dir=request.cache_dir,
    )
    return cls.from_config(config)


def _load_pipeline(
    key: tuple, index: ModelIndex, request: PipelineRequest, class_name: str, device: str, dtype_name: str
) -> Any:
    """:func:`load_pipeline`'s loading, one at a time (``_LOADING``): another thread may have loaded it since."""
    import torch

    source = index.source
    _LAST_USED[key] = time.monotonic()
    if key in _PIPELINES:
        return _PIPELINES[key]
    for stale in [k for k in _PIPELINES if k[:2] == key[:2]]:  # the same path held another model: free it
        del _PIPELINES[stale]
        _LAST_USED.pop(stale, None)

    kwargs: dict[str, Any] = {
        _dtype_keyword(): getattr(torch, dtype_name),
        "local_files_only": request.local_files_only,
        "cache_dir": request.cache_dir,
    }
    if request.variant:
        kwargs["variant"] = request.variant
    log.info("loading %s (%s) on %s as %s", source.location, class_name, device, dtype_name)
    try:
        with _quiet_hub():
            pipe = _from_source(source, class_name, request, kwargs)
    except InputError:
        raise
    except Exception as exc:  # a broken or foreign file is the user's to fix, whatever the library raises
        lacking = re.search(r"has no class `?(\w+)`?", str(exc))
        if (
            lacking
        ):  # a class of a newer diffusers (a component the index names: the scheduler is checked first)
            what = "scheduler" if "Scheduler" in lacking.group(1) else "component"
            raise InputError(
                f"{source.location}: {_newer_diffusers(what, lacking.group(1), request.kind)}"
            ) from None
        if source.kind == "hub" and isinstance(exc, (OSError, ValueError)):
            raise _hub_error(source.location, exc, request.local_files_only) from None
        if source.kind == "file" and request.local_files_only and not request.config and _not_cached(exc):
            raise _single_file_offline(source.location, class_name) from None
        advice = (
            _variant_advice(source, request.variant) if source.kind == "folder" and request.variant else None
        )
        if advice:
            raise InputError(advice) from None
        only = weight_variants(source) if source.kind == "folder" and not request.variant else []
        if only:
            raise InputError(
                f"{source.location}: the folder holds only {' and '.join(only)} weights (no plain ones); add "
                f"--option variant={only[0]}"
            ) from None
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        # Video pipelines have no auto class to override: naming another class is no fix there.
        hint = (
            ""
            if request.kind in ("video", "text2video")
            else ", or name the class with --option pipeline_class=..."
        )
        raise InputError(
            f"{source.location}: could not load it as {article(class_name)} {class_name} ({first}); check the "
            f"model{hint}"
        ) from None
    check_components(index, loaded=True)  # (a hub snapshot with downloads on: as the load left it)
    try:
        _place(pipe, device, request)
    except torch.OutOfMemoryError:
        if not _free_others(device, key):
            raise InputError(
                _loading_memory_advice(source.location, class_name, device, request.offload, dtype_name)
            ) from None
        log.warning("out of memory placing %s on %s: freed the other models cached there, trying again",
                    source.location, device)  # fmt: skip
        try:
            _place(pipe, device, request)
        except torch.OutOfMemoryError:
            raise InputError(
                _loading_memory_advice(source.location, class_name, device, request.offload, dtype_name)
            ) from None
    # The scheduler the model shipped with: backends that ask for another one swap it per call on this
    # shared pipeline, and the others put this one back.
    pipe._aifx_default_scheduler = getattr(pipe, "scheduler", None)
    pipe._aifx_lock = threading.RLock()  # calls on this shared pipeline take turns (see using())
    if hasattr(pipe, "set_progress_bar_config"):
        pipe.set_progress_bar_config(disable=True)  # aifx reports progress itself
    if source.kind == "hub":  # a load with downloads on may have fetched a new revision: keyed as loaded
        _LAST_USED.pop(key, None)
        key = (*key[:2], files_stamp(source, request.cache_dir))
        _LAST_USED[key] = time.monotonic()
    _PIPELINES[key] = pipe
    return pipe


def _free_others(device: str, keep: tuple) -> bool:
    """Forget the models cached on ``device`` other than ``keep`` and hand their memory back to the device, so a
    long-lived process (``aifx serve``) that holds the last job's model can load another that fits alone; True
    when there was one. A model another fill still uses stays with it and is loaded again when asked for."""
    dropped = 0
    for key in list(_PIPELINES):
        if key != keep and key[1].device == device:
            _PIPELINES.pop(key, None)
            _LAST_USED.pop(key, None)
            dropped += 1
    for key in list(_SCRIPTS):
        if key[3] == device:
            _SCRIPTS.pop(key, None)
            _LAST_USED.pop(key, None)
            dropped += 1
    if dropped:
        import gc

        import torch

        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return dropped > 0


def _loading_memory_advice(model: str, class_name: str, device: str, offload: str, dtype: str) -> str:
    """One line for a device too small to hold the model (exit 2), worded as the out-of-memory lines of a
    generation: what was asked and what makes it fit, cheapest in quality first."""
    fixes = {"none": ["--option offload=model"], "model": ["--option offload=sequential"]}.get(offload, [])
    if dtype == "float32":
        fixes.append("--option dtype=float16 (bfloat16 for Flux)")
    fits = [*fixes, "a smaller model"]
    how = ", ".join(fits[:-1]) + " or " + fits[-1] if fixes else fits[0]
    return f"out of GPU memory loading {model} ({class_name}, {dtype}) onto {device}; make it fit with {how}"


def weight_variants(source: ModelSource) -> list[str]:
    """The variants (``fp16``, ``bf16``) of a model folder whose components have weights only in variant files
    (``unet/diffusion_pytorch_model.fp16.safetensors``, no plain one): without ``variant`` diffusers looks for
    the plain files and says only "no file named diffusion_pytorch_model.bin". Empty when plain weights are
    there."""
    plain, variants = _weight_files(source)
    return [] if plain else sorted(variants)


def _weight_files(source: ModelSource) -> tuple[bool, set[str]]:
    """Whether a model folder's components have plain weight files, and the variants their other weight files
    are (``unet/diffusion_pytorch_model.fp16.safetensors``: ``fp16``)."""
    plain = False
    variants: set[str] = set()
    for file in Path(source.location).glob("*/*"):
        if file.suffix.lower() not in (".safetensors", ".bin"):
            continue
        parts = file.name.split(".")
        if len(parts) >= 3:  # name.fp16.safetensors, or a shard: name.fp16-00001-of-00002.safetensors
            variants.add(parts[-2].split("-")[0])
        else:
            plain = True
    return plain, variants


def _variant_advice(source: ModelSource, variant: str) -> str | None:
    """What to do when a folder has no weights of the ``variant`` asked for (diffusers says only "no such
    modeling files are available", and the error once advised pipeline_class); None when it has them."""
    plain, variants = _weight_files(source)
    if variant in variants:
        return None
    if plain:
        return f"{source.location}: the folder has no {variant} weights; leave out --option variant"
    if variants:
        others = sorted(variants)
        return (
            f"{source.location}: the folder has no {variant} weights (only {' and '.join(others)}); use "
            f"--option variant={others[0]}"
        )
    return None


def article(word: str) -> str:
    """``a`` or ``an`` before a class name: an AutoencoderKL, a StableDiffusionPipeline."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def _dtype_keyword() -> str:
    """``dtype`` on diffusers versions that renamed it (``torch_dtype`` warns there), else ``torch_dtype``."""
    try:
        from diffusers.utils.deprecation_utils import _resolve_dtype  # noqa: F401
    except ImportError:
        return "torch_dtype"
    return "dtype"


def _from_source(
    source: ModelSource, class_name: str, request: PipelineRequest, kwargs: dict[str, Any]
) -> Any:
    from diffusers import AutoPipelineForInpainting, AutoPipelineForText2Image, DiffusionPipeline

    if request.scheduler and source.kind != "file":  # (see _with_scheduler)
        # Given as None, diffusers loads no scheduler (a scheduler object passed is checked against the class
        # the index names, which this diffusers lacks); the one asked for is put in its place once loaded.
        scheduler = _scheduler_in_place(source, request)
        pipe = _from_source(
            source, class_name, replace(request, scheduler=None), {**kwargs, "scheduler": None}
        )
        pipe.register_modules(scheduler=scheduler)
        return pipe
    if source.kind == "file":
        cls = _diffusers_class(class_name)
        if request.config:
            kwargs["config"] = request.config
        return cls.from_single_file(source.location, **kwargs)
    if request.pipeline_class:
        return _diffusers_class(class_name).from_pretrained(source.location, **kwargs)
    if request.kind == "text2image":
        return AutoPipelineForText2Image.from_pretrained(source.location, **kwargs)
    if request.kind in ("video", "text2video"):
        # Video pipelines (WanVACEPipeline, WanPipeline, LTX, CogVideoX) have no auto class: load what the
        # folder's model_index.json names.
        return DiffusionPipeline.from_pretrained(source.location, **kwargs)
    if "Inpaint" in class_name or "Fill" in class_name:
        # Already an inpainting pipeline (e.g. FluxFillPipeline, which the auto class does not map): load as is.
        return DiffusionPipeline.from_pretrained(source.location, **kwargs)
    return AutoPipelineForInpainting.from_pretrained(source.location, **kwargs)


def _place(pipe: Any, device: str, request: PipelineRequest) -> None:
    """Move to the device, or let accelerate stream weights to it (only meaningful on a GPU)."""
    if request.offload != "none" and device != "cpu":
        if request.offload == "model":
            pipe.enable_model_cpu_offload(device=device)
        else:
            pipe.enable_sequential_cpu_offload(device=device)
    else:
        if request.offload != "none":
            log.warning("offload=%s ignored on the CPU", request.offload)
        pipe.to(device)
    vae = getattr(pipe, "vae", None)
    if vae is not None:
        if request.vae_tiling and hasattr(vae, "enable_tiling"):
            vae.enable_tiling()
        if request.vae_slicing and hasattr(vae, "enable_slicing"):
            vae.enable_slicing()


def execution_device(pipe: Any, fallback: str) -> str:
    """Where the pipeline computes (with offload the modules live on the CPU between calls)."""
    device = getattr(pipe, "_execution_device", None)
    return str(device) if device is not None else fallback


# -- what a model returned --------------------------------------------------------------------------------

#: What to change when a model returned NaN: the usual cause is a half-precision overflow (an fp16 VAE).
NAN_ADVICE = "try --option dtype=float32 (or bfloat16)"
#: The usual cause of NaN out of a model, said with the advice.
NAN_CAUSE = "half-precision overflow?"


def refuse_nan(values: Any, model: Any, where: str, advice: str = NAN_ADVICE, cause: str = NAN_CAUSE) -> None:
    """Raise an :class:`InputError` when a model's output holds NaN or infinity.

    Clipping keeps NaN and the colour conversion turns it into 0, so without this a model that overflowed
    (float16 weights are the usual cause) gives a silently black fill, which the temporal engine then carries
    into the frames around its keyframe. ``where`` names the frame, window or shot; ``cause`` and ``advice``
    what likely went wrong and what to change (a backend without a ``dtype`` option says its own)."""
    import numpy as np

    if not np.isfinite(np.asarray(values, dtype=np.float32)).all():
        raise InputError(f"{where}: {model} produced NaN (not-a-number) pixels ({cause}); {advice}")


# -- TorchScript (LaMa) ------------------------------------------------------------------------------------


def load_torchscript(path: Any, device: str, what: str = "LaMa model") -> Any:
    """A TorchScript module from ``path`` on ``device``, in eval mode, loaded once per process per file."""
    import torch

    if not path:
        raise InputError(
            f"no {what} given; pass --model PATH to a TorchScript export (e.g. big-lama.pt from the "
            "IOPaint/lama-cleaner releases)"
        )
    file = Path(str(path)).expanduser()
    if file.is_dir():
        found = sorted(p.name for p in file.glob("*.pt"))[:3]
        inside = f" (it holds {', '.join(found)})" if found else ""
        raise InputError(
            f"{file}: a folder{inside}; --model takes the {what}'s TorchScript .pt file itself, e.g. "
            f"{file / (found[0] if found else 'big-lama.pt')}"
        )
    if not file.is_file():
        raise InputError(
            f"{file}: no such {what} file; pass --model PATH to a TorchScript export such as big-lama.pt"
        )
    stat = file.stat()
    key = (str(file.resolve()), stat.st_mtime_ns, stat.st_size, device)
    _LAST_USED[key] = time.monotonic()
    if key in _SCRIPTS:
        return _SCRIPTS[key]
    try:
        with warnings.catch_warnings():  # torch 2.9+ marks TorchScript deprecated; LaMa ships as TorchScript
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(file), map_location=device)
    except (RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"{file}: not a TorchScript file ({first}); export the model with torch.jit"
        ) from None
    module.eval()
    _SCRIPTS[key] = module
    return module
