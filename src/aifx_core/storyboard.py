"""``aifx storyboard shots.yaml -o board/``: one text-to-image generation per shot, a contact sheet and a PDF.

A pre-production helper that uses the same model loading rules as the ``diffusers`` fill backend (hub id, local
folder or single checkpoint; HF cache; ``HF_HUB_OFFLINE``), with ``AutoPipelineForText2Image``. The YAML file::

    model: stabilityai/stable-diffusion-xl-base-1.0   # hub id, folder or .safetensors (relative to this file)
    steps: 30
    size: 1024            # pixel area of each image is about size × size, shaped to the shot's aspect
    guidance: 7.0         # optional
    seed: 0               # default for shots without one
    negative_prompt: text # default for shots without one
    shots:
      - name: "010"
        prompt: a lighthouse at dusk, wide establishing shot
        aspect: "2.39:1"  # or 16:9, 1.85, 4:3 ...
        camera: 24mm, slow push in
        seed: 42

writes ``board/NN_name.png`` per shot, ``board/contact_sheet.png`` and ``board/storyboard.pdf`` (the sheet, then
one page per shot with its prompt and camera note). Any mistake in the file is an InputError (exit 2).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import re
import textwrap
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from .arguments import PATH_OR_NAME, path_argument
from .errors import InputError
from .inpaint.models import LOADER_OPTIONS, ModelIndex, check_guidance
from .protocol.job import FillJob, check_current_folder

#: What to change in the shots file when the model returned NaN (see ``refuse_nan``).
NAN_ADVICE = "try dtype: float32 (or bfloat16) in the shots file"

TOP_KEYS = {
    "model",
    "steps",
    "size",
    "guidance",
    "seed",
    "negative_prompt",
    "scheduler",
    "title",
    "shots",
    *LOADER_OPTIONS,
}
SHOT_KEYS = {"name", "prompt", "negative_prompt", "seed", "aspect", "camera"}
#: Image sides are rounded to a multiple of 16 (Flux, SDXL) or 8 (SD), see ``size_multiple``.
MULTIPLE = 16


@dataclass
class Shot:
    name: str
    prompt: str
    negative_prompt: str | None
    seed: int
    aspect: float
    aspect_text: str
    camera: str
    #: Keys a caller allowed beyond the storyboard's own (``aifx previz``: ``image``, ``frames``).
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Board:
    options: dict[str, Any]
    steps: int
    size: int
    guidance: float | None
    title: str
    shots: list[Shot]


def parse_aspect(value: Any, where: str) -> float:
    """``"2.39:1"``, ``"16:9"``, ``"1.85"`` or a number → width / height."""
    text = str(value).strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*[:/x]\s*(\d+(?:\.\d+)?)", text)
    try:
        ratio = float(match.group(1)) / float(match.group(2)) if match else float(text)
    except (ValueError, ZeroDivisionError):
        ratio = float("nan")
    if not math.isfinite(ratio) or not 0.1 <= ratio <= 10:
        raise InputError(f"{where}: aspect {value!r} is not a ratio like 2.39:1, 16:9 or 1.85")
    return ratio


def image_size(aspect: float, size: int, multiple: int = MULTIPLE) -> tuple[int, int]:
    """(width, height) with about ``size``² pixels in the given aspect, sides multiples of ``multiple``."""
    width = math.sqrt(size * size * aspect)
    height = width / aspect
    return (
        max(multiple, int(round(width / multiple)) * multiple),
        max(multiple, int(round(height / multiple)) * multiple),
    )


def whole_number(value: Any, where: str, minimum: int = 0, maximum: int | None = None) -> int:
    """``value`` as a whole number from ``minimum`` (to ``maximum``, when given); anything else is an
    :class:`InputError` naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InputError(f"{where}: expected a whole number, got {value!r}")
    try:
        number = int(str(value))
    except ValueError:
        raise InputError(f"{where}: expected a whole number, got {value!r}") from None
    if maximum is not None and not minimum <= number <= maximum:
        raise InputError(f"{where}: must be within {minimum}..{maximum}, got {number}")
    if number < minimum:
        raise InputError(f"{where}: must be at least {minimum}")
    return number


def seed_number(value: Any, where: str) -> int:
    """A shot's seed, in the range ``aifx fill --seed`` takes (the job's ``seed`` field, 0..4294967295): one
    rule for every command. Torch's generator took up to 2**64-1 and failed past it with a traceback after
    the model had loaded."""
    limits = next(spec.metadata for spec in fields(FillJob) if spec.name == "seed")
    return whole_number(value, where, int(limits["min"]), int(limits["max"]))


def optional_text(value: Any, where: str) -> str | None:
    """A text field that may be left out (``prompt``, ``negative_prompt``, ``camera``): one that is not text
    (a YAML list or mapping, a number) is refused here, naming the field. The pipeline refuses a list
    ``negative_prompt`` deep inside with a TypeError, and a list ``prompt`` or a mapping ``camera`` was sent
    to the model, or written on the sheet, as its Python text ("['lighthouse', 'dusk']")."""
    if value is None or isinstance(value, str):
        return value
    raise InputError(
        f"{where}: expected text, got {value!r}; write one line of text (in quotes if it is a number)"
    )


#: Plain scalars read as numbers: decimal only, as YAML 1.2 and an artist read them (YAML 1.1, PyYAML's rules,
#: reads ``010`` as octal 8, ``16:9`` as base-60 969, ``1_000`` as 1000 and ``0x10`` as 16).
_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$")
_FLOAT = re.compile(
    r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"
)


def yaml_loader() -> type:
    """PyYAML's safe loader, but ``name: 010`` stays the shot ``010`` and ``aspect: 16:9`` the ratio 16:9: a
    plain scalar is a number only when written in decimal; anything else is text as typed."""
    import yaml

    int_tag, float_tag = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"

    class AsTyped(yaml.SafeLoader):
        pass

    AsTyped.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in (int_tag, float_tag)]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    AsTyped.add_implicit_resolver(int_tag, _INT, list("-+0123456789"))
    AsTyped.add_implicit_resolver(float_tag, _FLOAT, list("-+0123456789."))
    return AsTyped


def files_beside(path: Path, options: dict[str, Any]) -> dict[str, str]:
    """The ``options`` of the shots file ``path`` that name files (:data:`~.inpaint.models.PATH_OPTIONS`:
    ``model``, ``config``, ``cache_dir``), read against the file's folder, as an artist writes them beside it:
    ``config`` and ``cache_dir`` were read against the folder the command ran in while ``model`` was read
    against the file's. A model or config that names nothing there is a hub id, kept as typed; a cache folder
    is always a folder. Absolute and ``~`` paths are kept."""
    from .inpaint.models import PATH_OPTIONS

    found = {}
    for name, kind in PATH_OPTIONS.items():
        value = options.get(name)
        if not isinstance(value, str) or not value.strip() or Path(value).expanduser().is_absolute():
            continue
        local = path.parent / value
        if kind == "path" or local.exists():
            found[name] = str(local)
    return found


def load_board(
    path: Path,
    overrides: dict[str, Any] | None = None,
    top_keys: set[str] = TOP_KEYS,
    shot_keys: set[str] = SHOT_KEYS,
) -> Board:
    """Read and check ``path``; ``overrides`` (from the command line) win over the file's top-level keys.

    ``top_keys``/``shot_keys`` are the keys allowed (``aifx previz`` allows a few more); keys beyond the
    storyboard's own stay in :attr:`Board.options` and :attr:`Shot.extra` for the caller to read."""
    import yaml

    check_current_folder(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file; pass the shots YAML file")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml_loader())  # a safe loader
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = " ".join(str(exc).split())
        raise InputError(f"{path}: not valid YAML ({first}); fix the file") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping with 'model' and 'shots' at the top level")
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    unknown = sorted(set(map(str, data)) - top_keys)
    if unknown:
        raise InputError(
            f"{path}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(top_keys))}"
        )
    model = data.get("model")
    if not model:
        raise InputError(f"{path}: no 'model'; give a hub id, a local diffusers folder or a checkpoint file")
    options = {
        k: v for k, v in data.items() if k not in {"shots", "steps", "size", "guidance", "seed", "title"}
    }
    given = {k for k, v in (overrides or {}).items() if v is not None}
    options.update(files_beside(path, {k: v for k, v in options.items() if k not in given}))
    shots_data = data.get("shots")
    if not isinstance(shots_data, list) or not shots_data:
        raise InputError(f"{path}: 'shots' must be a non-empty list of shots (each with name and prompt)")
    default_seed = seed_number(data.get("seed", 0), f"{path}: seed")
    default_negative = optional_text(data.get("negative_prompt"), f"{path}: negative_prompt")
    shots: list[Shot] = []
    names: set[str] = set()
    for index, item in enumerate(shots_data, start=1):
        where = f"{path}: shot {index}"
        if not isinstance(item, dict):
            raise InputError(f"{where}: expected a mapping with name and prompt")
        unknown = sorted(set(map(str, item)) - shot_keys)
        if unknown:
            raise InputError(
                f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(shot_keys))}"
            )
        if isinstance(item.get("name"), (bool, float)):  # 1.10 would be 1.1, yes True
            raise InputError(f"{where}: name {item['name']!r} reads as a value, not text; write it in quotes")
        if isinstance(item.get("name"), (list, dict)):  # its Python text ("['a', 'b']") was the name
            optional_text(item["name"], f"{where}: name")
        name = str(item.get("name") or "").strip()
        prompt = (optional_text(item.get("prompt"), f"{where}: prompt") or "").strip()
        if not name or not prompt:
            raise InputError(f"{where}: every shot needs a 'name' and a 'prompt'")
        if name in names:
            raise InputError(f"{where}: shot name {name!r} is used twice; names must be unique")
        names.add(name)
        aspect_text = str(item.get("aspect", "16:9"))
        shots.append(
            Shot(
                name=name,
                prompt=prompt,
                negative_prompt=optional_text(
                    item.get("negative_prompt", default_negative), f"{where}: negative_prompt"
                ),
                seed=seed_number(item.get("seed", default_seed), f"{where}: seed"),
                aspect=parse_aspect(aspect_text, where),
                aspect_text=aspect_text,
                camera=optional_text(item.get("camera"), f"{where}: camera") or "",
                extra={k: v for k, v in item.items() if k not in SHOT_KEYS},
            )
        )
    guidance = data.get("guidance")
    try:
        guidance = None if guidance is None else float(guidance)
    except (TypeError, ValueError):
        raise InputError(f"{path}: guidance {guidance!r} is not a number") from None
    check_guidance(guidance, f"{path}: guidance")
    return Board(
        options=options,
        steps=whole_number(data.get("steps", 30), f"{path}: steps", minimum=1),
        size=whole_number(data.get("size", 512), f"{path}: size", minimum=MULTIPLE),
        guidance=guidance,
        title=str(data.get("title") or path.stem),
        shots=shots,
    )


def _save_png(rgb8: np.ndarray, path: Path) -> None:
    from PIL import Image as PILImage

    PILImage.fromarray(rgb8).save(path, format="PNG")


def _kept(char: str) -> bool:
    """Whether a file name keeps ``char``: letters and digits of any script, with their accents and vowel signs
    (combining marks), and ``_ . -``. Everything else (spaces, ``/ \\ : * ? " < > |`` that Windows or a path
    cannot hold, control characters, emoji) becomes ``_``."""
    return char.isalnum() or char in "_.-" or unicodedata.category(char)[0] == "M"


def shot_file_name(index: int, name: str) -> str:
    """``NN_name.png``: the shot's name as typed, less what a file name cannot hold, so a previz ``image:
    board/02_灯台.png`` names it (letters of other scripts were once dropped: 02_shot.png). In NFC (é one
    character), whatever the keyboard or file gave. An ASCII name keeps the file name it always had; ``NN``
    keeps apart names that become the same file name (``a b`` and ``a_b``, ``🎬`` and ``✂``: ``shot``)."""
    text = "".join(char if _kept(char) else " " for char in unicodedata.normalize("NFC", name))
    safe = re.sub(r" +", "_", text).strip("._") or "shot"
    return f"{index:02d}_{safe}.png"


def output_folder(output: Path) -> Path:
    """``output`` checked writable before the model loads (minutes): a bad ``-o`` (the shot file itself,
    another file, a read-only folder) was a traceback after the load. A folder not there yet is made only when
    the first picture is (a board refused before then leaves nothing behind); the folder it goes in is checked."""
    from .sequence.imageio import check_writable

    output = Path(output).expanduser()
    above = output
    while not above.exists() and above.parent != above:
        above = above.parent
    if above != output and not above.is_dir():
        raise InputError(
            f"{output}: cannot make this output folder, {above} is a file; choose another folder"
        )
    check_writable(above, create=False)
    return output


@contextlib.contextmanager
def writing(output: Path) -> Iterator[None]:
    """A file that cannot be written (a name taken by a folder, permissions changed mid-run) is one line naming
    it, not a traceback; full disks and read-only filesystems are already worded so by ``atomic_write``."""
    try:
        yield
    except OSError as exc:
        where = exc.filename2 or exc.filename or output  # a rename names its target second
        raise InputError(
            f"{where}: cannot write it ({exc.strerror or exc}); check that folder's permissions and free space, "
            "or choose another -o folder"
        ) from None


def generate_board(board: Board, output: Path, device: str = "auto") -> list[Path]:
    """Generate every shot into ``output``; returns the files written (images, sheet, PDF)."""
    import inspect

    import torch

    from .inpaint.diffusion import make_scheduler, size_multiple
    from .inpaint.models import PipelineRequest, load_pipeline, refuse_nan, using
    from .sequence.atomic import atomic_write

    output = output_folder(output)  # before minutes of loading
    request = PipelineRequest.from_options(board.options, device, kind="text2image")
    model_index = ModelIndex(request)  # read once for the check and the loader
    check_text_to_image(model_index)  # before minutes of loading
    pipe = load_pipeline(request, model_index)
    parts = [getattr(getattr(pipe, part, None), "config", None) for part in ("unet", "vae")]
    refuse_inpainting(type(pipe), unet_takes_mask(*parts), request.model)
    scheduler = make_scheduler(pipe, board.options.get("scheduler"))
    accepts = set(inspect.signature(pipe.__call__).parameters)
    multiple = size_multiple(pipe)
    images: list[tuple[Shot, np.ndarray, Path]] = []
    for index, shot in enumerate(board.shots, start=1):
        width, height = image_size(shot.aspect, board.size, multiple)
        wanted: dict[str, Any] = {
            "prompt": shot.prompt,
            "negative_prompt": shot.negative_prompt,
            "width": width,
            "height": height,
            "num_inference_steps": board.steps,
            "generator": torch.Generator(device="cpu").manual_seed(shot.seed),
            "output_type": "np",
        }
        if board.guidance is not None:
            wanted["guidance_scale"] = board.guidance
        arguments = {k: v for k, v in wanted.items() if k in accepts and v is not None}
        try:
            with using(pipe), torch.inference_mode():  # a shared pipeline: calls take turns (see using())
                if scheduler is not None:
                    pipe.scheduler = scheduler
                picture = np.asarray(pipe(**arguments).images[0], dtype=np.float32)
        except torch.OutOfMemoryError:
            raise InputError(memory_advice(shot, board, f"a {width}x{height} image")) from None
        refuse_nan(picture, board.options.get("model"), f"shot {shot.name}", NAN_ADVICE)
        rgb8 = np.clip(np.rint(picture * 255.0), 0, 255).astype(np.uint8)
        output.mkdir(parents=True, exist_ok=True)  # (with the first picture: see output_folder)
        file = output / shot_file_name(index, shot.name)
        atomic_write(file, partial(_save_png, rgb8))
        images.append((shot, rgb8, file))
    sheet = output / "contact_sheet.png"
    pdf = output / "storyboard.pdf"
    write_sheet_and_pdf(board.title, images, sheet, pdf)
    return [file for _, _, file in images] + [sheet, pdf]


def unet_takes_mask(unet_config: Any, vae_config: Any) -> bool:
    """Whether a UNet takes more channels than the VAE's latents (SD inpainting: 4 latents + 4 masked-image
    latents + 1 mask = 9): AutoPipelineForText2Image wraps such a model and fails on the first step. The
    configs are a loaded part's ``config`` or a folder's ``config.json`` (a dict)."""

    def value(config: Any, name: str) -> Any:
        return config.get(name) if isinstance(config, dict) else getattr(config, name, None)

    channels, latents = value(unet_config, "in_channels"), value(vae_config, "latent_channels")
    return isinstance(channels, int) and isinstance(latents, int) and channels != latents


def refuse_inpainting(cls: type | None, masked_unet: bool, model: str) -> None:
    """An :class:`InputError` for an inpainting model (an *Inpaint*/*Fill* class, one whose ``__call__``
    takes ``mask_image``, or a UNet built for a mask): it cannot make a picture from text alone."""
    from .inpaint.models import takes_mask

    name = cls.__name__ if cls is not None else ""
    if "Inpaint" in name or "Fill" in name or (cls is not None and takes_mask(cls)) or masked_unet:
        kind = f"a {name}, an inpainting model" if name else "an inpainting model"
        raise InputError(
            f"{model} is {kind}; aifx storyboard needs a text-to-image model (e.g. "
            "stabilityai/stable-diffusion-xl-base-1.0): give another model, or use this one with aifx fill"
        )


def check_text_to_image(index: ModelIndex) -> None:
    """Refuse an inpainting model before it loads: from the class its ``model_index.json`` (or
    ``pipeline_class``) names and, for a local folder, its UNet's and VAE's configs. ``index``: the job's
    model index, handed on to the loader."""
    import json

    from .inpaint.models import declared_pipeline_class

    source = index.source
    configs: list[Any] = [None, None]
    if source.kind == "folder":
        for number, part in enumerate(("unet", "vae")):
            with contextlib.suppress(OSError, ValueError):  # the loader names a broken folder
                configs[number] = json.loads(
                    (Path(source.location) / part / "config.json").read_text("utf-8")
                )
    refuse_inpainting(declared_pipeline_class(index), unet_takes_mask(*configs), index.request.model)


def memory_advice(shot: Shot, board: Board, what: str, smaller: str = "") -> str:
    """What to change in the shots file when generating ``what`` for ``shot`` ran out of device memory
    (``smaller``: what else the file can make smaller)."""
    return (
        f"shot {shot.name}: out of memory generating {what} (size {board.size}); make it fit with a smaller "
        f"size: (e.g. size: {max(16, board.size * 3 // 4)} or --size){smaller}, or offload: model, vae_tiling: "
        "true or dtype: bfloat16 in the shots file"
    )


def _sheet_figure(title: str, images: list[tuple[Shot, np.ndarray, Path]]):
    from matplotlib.figure import Figure

    columns = min(3, len(images))
    rows = math.ceil(len(images) / columns)
    figure = Figure(figsize=(4.2 * columns, 3.4 * rows + 0.6))
    figure.suptitle(title, fontsize=14)
    for index, (shot, rgb8, _file) in enumerate(images):
        axes = figure.add_subplot(rows, columns, index + 1)
        axes.imshow(rgb8)
        axes.set_xticks([])
        axes.set_yticks([])
        axes.set_title(f"{shot.name}  ({shot.aspect_text})", fontsize=10)
        if shot.camera:
            axes.set_xlabel(textwrap.fill(shot.camera, 48), fontsize=8)
    figure.tight_layout()
    return figure


def _shot_page(shot: Shot, rgb8: np.ndarray):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8.27, 5.8))
    axes = figure.add_axes((0.05, 0.3, 0.9, 0.62))
    axes.imshow(rgb8)
    axes.set_xticks([])
    axes.set_yticks([])
    axes.set_title(shot.name, fontsize=14)
    lines = [f"Prompt: {shot.prompt}"]
    if shot.camera:
        lines.append(f"Camera: {shot.camera}")
    lines.append(f"Aspect {shot.aspect_text}, seed {shot.seed}")
    text = "\n".join(textwrap.fill(line, 100) for line in lines)
    figure.text(0.05, 0.25, text, fontsize=9, va="top")
    return figure


def write_sheet_and_pdf(
    title: str, images: list[tuple[Shot, np.ndarray, Path]], sheet: Path, pdf: Path
) -> None:
    """Contact sheet PNG (names and camera notes under the frames) and a PDF: the sheet, then a page a shot."""
    from matplotlib.backends.backend_pdf import PdfPages

    from .fonts import drawing
    from .sequence.atomic import atomic_write

    def write_pdf(temp: Path) -> None:
        with PdfPages(temp) as document:
            document.savefig(sheet_figure)
            for shot, rgb8, _file in images:
                document.savefig(_shot_page(shot, rgb8))

    texts = [title, *(text for shot, _, _ in images for text in shot_texts(shot))]
    with drawing(texts, "the contact sheet and the PDF"):
        sheet_figure = _sheet_figure(title, images)
        atomic_write(sheet, lambda temp: sheet_figure.savefig(temp, dpi=100, format="png"))
        atomic_write(pdf, write_pdf)


def shot_texts(shot: Shot) -> list[str]:
    """What the sheets write about ``shot`` (for :func:`aifx_core.fonts.drawing`)."""
    return [shot.name, shot.aspect_text, shot.camera, shot.prompt]


def model_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The shot file's top-level keys the command line overrides (``aifx storyboard`` and ``aifx previz``)."""
    overrides: dict[str, Any] = {"model": args.model, "steps": args.steps, "size": args.size}
    if args.local_files_only:
        overrides["local_files_only"] = True
    return overrides


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The options both shot-list commands take: which model, how many steps, what size, where it runs."""
    path_argument(
        parser, "--model", kind=PATH_OR_NAME, help="override the file's model (hub id, folder or checkpoint)"
    )
    parser.add_argument("--steps", type=int, help="override the file's steps")
    parser.add_argument("--size", type=int, help="override the file's size (pixel area ≈ size²)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps")
    parser.add_argument(
        "--local-files-only", action="store_true", help="never download (like HF_HUB_OFFLINE=1)"
    )


def run_storyboard(args: argparse.Namespace) -> int:
    board = load_board(Path(args.shots), model_overrides(args))
    with writing(Path(args.output)):
        written = generate_board(board, Path(args.output), device=args.device)
    for file in written:
        print(file)
    return 0


def register_cli(subparsers: Any) -> None:
    """Adds ``aifx storyboard``."""
    parser = subparsers.add_parser(
        "storyboard",
        help="generate one image per shot from a YAML shot list, plus a contact sheet and a PDF",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    path_argument(parser, "shots", help="shots YAML file (model, steps, size and a list of shots)")
    path_argument(parser, "-o", "--output", required=True, help="folder for the PNGs, contact sheet and PDF")
    add_model_arguments(parser)
    parser.set_defaults(handler=run_storyboard)
