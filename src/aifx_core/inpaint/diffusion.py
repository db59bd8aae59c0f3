"""The ``diffusers`` spatial backend: any inpainting pipeline diffusers can load, run on a crop around the hole.

SD 1.5/2 inpainting, SDXL inpainting (through ``AutoPipelineForInpainting``) and ``FluxFillPipeline`` all take
``image``, ``mask_image``, ``prompt``, ``height``/``width``, steps, guidance and a generator; we pass only the
arguments the loaded pipeline's ``__call__`` accepts (Flux has no negative prompt). Images go in and come out
as float numpy arrays (``output_type="np"``), so nothing is quantised to 8 bits on the way.

On a sequence this backend is meant to run under the temporal engine (``--backend propagate
--spatial-backend diffusers``): it is asked only for keyframes, and the same seed is used on every call so two
keyframes of a static hole get the same noise. ``aifx_core.generate`` has the "every frame" alternative.

Options (``BackendContext.options``): ``model`` (required), ``prompt``, ``negative_prompt``, ``steps`` (30),
``guidance`` (the pipeline's default), ``strength`` (1.0), ``scheduler`` (a diffusers scheduler class name),
``size`` (model square, default the model's native size), ``margin`` (context pixels around the hole),
``dtype``, ``variant``, ``offload`` (none/model/sequential), ``vae_tiling``, ``vae_slicing``,
``local_files_only``, ``cache_dir``, ``pipeline_class``, ``config`` (see :mod:`aifx_core.inpaint.models`).
"""

from __future__ import annotations

import difflib
import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from .base import BackendContext
from .crop import fill_through_crop, model_side, smaller_side
from .models import (
    LoaderOptions,
    ModelIndex,
    PipelineRequest,
    check_guidance,
    declared_pipeline_class,
    is_masked_video,
    load_pipeline,
    refuse_nan,
    resolve_device,
    scheduler_class_name,
    takes_mask,
    using,
)

DEFAULT_STEPS = 30


@dataclass(frozen=True)
class DiffusersOptions(LoaderOptions):
    """Every option of the ``diffusers`` backend, checked before the model loads: the model loader's
    (:class:`~aifx_core.inpaint.models.LoaderOptions`, listed first) and its own."""

    owner = "diffusers"

    #: Model: hub id, local folder or single checkpoint file (required).
    model: str | None = None
    #: What to generate in the hole.
    prompt: str = ""
    #: What not to generate.
    negative_prompt: str | None = None
    #: Denoising steps.
    steps: int = DEFAULT_STEPS
    #: Classifier-free guidance scale (default: the pipeline's own).
    guidance: float | None = None
    #: Img2img strength in (0, 1]: 1.0 generates from noise.
    strength: float = 1.0
    #: Diffusers scheduler class name, e.g. EulerDiscreteScheduler (default: the model's).
    scheduler: str | None = None
    #: Side of the square the model runs at (default: the model's native size).
    size: int | None = None
    #: Context pixels kept around the hole in the crop (default: chosen from the hole's size).
    margin: int | None = None

    def check(self) -> None:
        if self.steps < 1:
            raise InputError(f"option steps={self.steps}: expected at least 1")
        check_strength(self.strength, self.steps)
        check_guidance(self.guidance, f"{self.owner} option guidance")
        if self.size is not None and self.size < 8:
            raise InputError(f"option size={self.size}: expected at least 8 pixels")
        if self.margin is not None and self.margin < 0:
            raise InputError(f"option margin={self.margin}: expected 0 or more pixels")
        super().check()


def check_strength(strength: float, steps: int, name: str = "strength", flag: str = "--strength") -> None:
    """Refuse a strength outside (0, 1] or one that leaves no denoising step (``int(steps × strength)``);
    ``name`` and ``flag`` say which option it is (``every_frame_strength`` is checked the same way)."""
    if not 0.0 < strength <= 1.0:
        raise InputError(f"{name} {strength}: expected a value in (0, 1]")
    if int(steps * strength) < 1:
        raise InputError(
            f"{name} {strength} with steps {steps} leaves no denoising step; raise --steps or {flag}"
        )


def native_size(pipe: Any) -> int:
    """The square side the model was trained at: UNet ``sample_size`` × VAE factor (SD 1.5: 512, SDXL: 1024),
    or the pipeline's ``default_sample_size`` (Flux: 1024)."""
    factor = int(getattr(pipe, "vae_scale_factor", 8) or 8)
    unet = getattr(pipe, "unet", None)
    sample = getattr(getattr(unet, "config", None), "sample_size", None)
    if isinstance(sample, (list, tuple)):
        sample = max(sample)
    if sample is None:
        sample = getattr(pipe, "default_sample_size", None)
    return int(sample) * factor if sample else 1024


def size_multiple(pipe: Any) -> int:
    """Sides must divide by this: 8 for SD (VAE factor), 16 for Flux (2×2 latent packing), SD3 and SDXL."""
    name = type(pipe).__name__
    if "Flux" in name or "StableDiffusion3" in name or "XL" in name or hasattr(pipe, "transformer"):
        return 16
    return 8


def _compatibles(default: type | None) -> list[type]:
    """The scheduler classes diffusers says can replace ``default`` (itself included)."""
    get = getattr(default, "_get_compatibles", None)
    return list(get()) if callable(get) else []


def missing_packages(cls: Any) -> list[str]:
    """The optional packages a diffusers class needs that are not installed: diffusers exports a placeholder
    (a ``DummyObject`` listing them in ``_backends``) for a class whose packages are missing, e.g.
    LMSDiscreteScheduler without scipy, DPMSolverSDEScheduler without torchsde."""
    import importlib.util

    backends = getattr(cls, "_backends", None)
    if not isinstance(backends, (list, tuple)):
        return []
    return [str(b) for b in backends if importlib.util.find_spec(str(b)) is None]


def check_scheduler(name: str, default: type | None) -> Any:
    """The diffusers scheduler class ``name``, refused unless the model's own scheduler class ``default`` lists
    it as compatible: another family (flow matching on SD, Euler or DDIM on Flux) fails deep inside the
    pipeline's first step, after the model has loaded."""
    import diffusers

    compatible = sorted({cls.__name__ for cls in _compatibles(default)})
    usable = sorted({cls.__name__ for cls in _compatibles(default) if not missing_packages(cls)})
    choices = ", ".join(usable) or "a diffusers scheduler class"
    cls = getattr(diffusers, str(name), None)
    missing = missing_packages(cls)
    if missing:
        raise InputError(
            f"scheduler {name!r} needs the Python package {' and '.join(missing)}, which is not installed in "
            f"aifx's environment; pip install {' '.join(missing)} there, or use another scheduler ({choices})"
        )
    if cls is None or not isinstance(cls, type) or not issubclass(cls, diffusers.SchedulerMixin):
        close = difflib.get_close_matches(str(name), compatible, n=2)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise InputError(
            f"scheduler {name!r}: not a diffusers scheduler; {hint}for this model use one of {choices}"
        )
    if default is not None and compatible and cls.__name__ not in compatible:
        raise InputError(
            f"scheduler {name!r}: does not work with this model (it ships {default.__name__}); use one of "
            f"{choices}, or leave --scheduler out"
        )
    return cls


def model_scheduler_class(index: ModelIndex) -> type | None:
    """The scheduler class the model ships with, from its ``model_index.json`` (None when unknown before
    loading: a single checkpoint file)."""
    import diffusers

    name = scheduler_class_name(index)
    cls = getattr(diffusers, name, None) if name else None
    return cls if isinstance(cls, type) else None


def make_scheduler(pipe: Any, name: str | None) -> Any:
    """The scheduler ``name`` (a diffusers class name) configured from the model's own; None keeps the model's."""
    default = getattr(pipe, "_aifx_default_scheduler", None) or getattr(pipe, "scheduler", None)
    if not name:
        return default
    cls = check_scheduler(str(name), type(default) if default is not None else None)
    if default is None:
        raise InputError(f"scheduler {name!r}: this pipeline has no scheduler to replace")
    return cls.from_config(default.config)


def check_image_model(cls: type | None, model: str) -> None:
    """Refuse a masked video pipeline (Wan VACE): the image inpainting loader cannot map it ("AutoPipeline
    can't find a pipeline linked to WanVACEPipeline"), and ``video-diffusion`` is what runs it."""
    if cls is not None and is_masked_video(cls):
        raise InputError(
            f"{model} is a {cls.__name__}, a masked video model; run it with --backend video-diffusion"
        )


def check_inpainting_class(cls: type | None, model: str, named: bool) -> None:
    """Refuse a pipeline class that cannot inpaint (its ``__call__`` takes no ``mask_image``): named with
    ``pipeline_class``, StableDiffusionPipeline ran and dropped the image and mask (the hole filled from text
    alone) or failed on an inpainting UNet, and a video class failed inside the loader. ``named``: the user
    chose the class, so the message says which to choose instead."""
    if cls is None:
        return
    check_image_model(cls, model)
    if takes_mask(cls):
        return
    if "num_frames" in inspect.signature(cls.__call__).parameters:
        raise InputError(
            f"{model}: {cls.__name__} is a video pipeline; --backend diffusers fills images with an image "
            "inpainting pipeline (a masked video model such as Wan VACE runs with --backend video-diffusion)"
        )
    fix = (
        "name an inpainting class such as StableDiffusionInpaintPipeline with --option pipeline_class, or "
        "leave pipeline_class out"
        if named
        else "use an inpainting model"
    )
    raise InputError(f"{model}: {cls.__name__} cannot inpaint (it takes no mask); {fix}")


class DiffusersBackend:
    """Spatial backend around a cached diffusers inpainting pipeline."""

    name = "diffusers"

    def __init__(self, context: BackendContext) -> None:
        opts = DiffusersOptions.from_dict(context.options)  # checked before the model loads
        self.colorspace = context.colorspace
        self.seed = int(context.seed)
        self.device = resolve_device(context.device)
        request = PipelineRequest.from_options(context.options, context.device, kind="inpaint")
        named = bool(
            request.pipeline_class
        )  # else the auto class turns a text-to-image model into inpainting
        index = ModelIndex(request)  # read once for the checks and the loader
        declared = declared_pipeline_class(index)
        if named:
            check_inpainting_class(declared, str(opts.model), named)  # before loading
        else:
            check_image_model(declared, str(opts.model))
        if opts.scheduler:  # a scheduler that does not fit the model is refused before it loads
            check_scheduler(opts.scheduler, model_scheduler_class(index))
        self.pipe = load_pipeline(request, index)
        check_inpainting_class(type(self.pipe), str(opts.model), named)
        self.model = str(opts.model)
        self.prompt = opts.prompt or ""
        self.negative_prompt = opts.negative_prompt or None
        self.steps = opts.steps
        self.guidance = opts.guidance
        self.strength = opts.strength
        self.margin = opts.margin
        self.scheduler = make_scheduler(self.pipe, opts.scheduler)
        self.multiple = size_multiple(self.pipe)
        size = opts.size or native_size(self.pipe)
        self.model_size = model_side(size, self.multiple)
        self._accepts = set(inspect.signature(self.pipe.__call__).parameters)

    def inpaint(
        self, rgb: np.ndarray, hole: np.ndarray, *, frame: int | None = None, strength: float | None = None
    ) -> np.ndarray:
        """Fill ``hole``; ``strength`` below 1 starts from the pixels already in the hole (img2img) instead of
        pure noise, which is how the every-frame mode keeps a frame close to the previous one."""
        use = self.strength if strength is None else float(strength)
        check_strength(use, self.steps)

        def model_fill(model_rgb: np.ndarray, model_hole: np.ndarray) -> np.ndarray:
            return self.generate(model_rgb, model_hole, strength=use, frame=frame)

        return fill_through_crop(
            rgb, hole, self.colorspace, model_fill, self.model_size, self.multiple, self.margin
        )

    def call_arguments(
        self, model_rgb: np.ndarray, model_hole: np.ndarray, strength: float
    ) -> dict[str, Any]:
        """Keyword arguments for the pipeline on one model-size square (only those it accepts)."""
        import torch

        side = model_rgb.shape[0]
        wanted: dict[str, Any] = {
            "prompt": self.prompt,
            "image": model_rgb[None].astype(np.float32),
            "mask_image": model_hole[None, :, :, None].astype(np.float32),
            "height": side,
            "width": side,
            "num_inference_steps": self.steps,
            "strength": strength,
            # A CPU generator gives the same noise on every device, so a seed means the same picture anywhere.
            "generator": torch.Generator(device="cpu").manual_seed(self.seed),
            "output_type": "np",
        }
        if self.negative_prompt is not None:
            wanted["negative_prompt"] = self.negative_prompt
        if self.guidance is not None:
            wanted["guidance_scale"] = self.guidance
        return {key: value for key, value in wanted.items() if key in self._accepts}

    def generate(
        self,
        model_rgb: np.ndarray,
        model_hole: np.ndarray,
        strength: float | None = None,
        frame: int | None = None,
    ) -> np.ndarray:
        """Run the pipeline on a model-space square: float32 (S, S, 3) in [0, 1] → float32 (S, S, 3); NaN out
        (an overflowing half-precision VAE) is refused, naming ``frame``, rather than filled black."""
        import torch

        arguments = self.call_arguments(
            model_rgb, model_hole, self.strength if strength is None else strength
        )
        try:
            # A shared pipeline: the scheduler swap and the call take turns with other fills (see using()),
            # and mark it used (a long job's model is not idle for aifx serve's --idle-unload).
            with using(self.pipe), torch.inference_mode():
                if self.scheduler is not None:
                    self.pipe.scheduler = self.scheduler
                images = self.pipe(**arguments).images
        except torch.OutOfMemoryError:
            raise InputError(self._memory_advice(model_rgb.shape[0])) from None
        result = np.asarray(images[0], dtype=np.float32)
        refuse_nan(result, self.model, "diffusers" if frame is None else f"frame {frame}")
        return result

    def _memory_advice(self, side: int) -> str:
        """One line for a GPU that ran out of memory (exit 2, as video-diffusion): what was asked and the
        options that make it fit, from the cheapest in quality to the dearest."""
        smaller = smaller_side(side, self.multiple)
        return (
            f"out of GPU memory generating a {side}x{side} fill with {self.model}; make it fit with "
            "--option offload=model, --option vae_tiling=true, --option dtype=float16 (bfloat16 for Flux) or "
            f"a smaller --option size={smaller}"
        )
