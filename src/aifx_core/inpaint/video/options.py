"""The ``video-diffusion`` backend's settings, read from ``BackendContext.options`` and checked up front.

Everything is checked before a frame is read or a model loaded, so ``--option overlap=100`` with a window of 81
fails at once, not after minutes of loading.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ...errors import InputError
from ..models import LOADER_OPTIONS, LoaderOptions, check_guidance
from .windows import check_window

__all__ = ["LOADER_OPTIONS", "VideoOptions"]


@dataclass(frozen=True)
class VideoOptions:
    #: Diffusers folder, hub id or checkpoint of a masked video pipeline (e.g. a Wan 2.1 VACE model). Required.
    model: str = ""
    #: What to generate inside the mask, e.g. "a car explodes, fireball and black smoke".
    prompt: str = ""
    #: What not to generate.
    negative_prompt: str | None = None
    #: Image of the element to generate (a creature's look, a reference explosion), given to the model as a
    #: reference image when the pipeline takes one (Wan VACE does).
    reference: str | None = None
    #: Frames the model sees at once (Wan: 81; rounded up to 4k+1 for the model by repeating the last frame).
    window: int = 81
    #: Frames shared by consecutive windows: the previous window's result conditions the next one there, and
    #: the two are cross-faded.
    overlap: int = 16
    #: Denoising steps per window.
    steps: int = 30
    #: Classifier-free guidance; None keeps the pipeline's default (Wan: 5.0).
    guidance: float | None = None
    #: The crop is resized (aspect kept) to about size × size model pixels: Wan 480p models ~640, 720p ~960.
    size: int = 640
    #: Context pixels around the union of a window's holes; None: a quarter of its longer side (≥ 16).
    margin: int | None = None
    #: How strongly the known frames and the mask steer the model (VACE ``conditioning_scale``).
    conditioning_scale: float = 1.0
    #: Longest prompt in tokens (None: the pipeline's default).
    max_sequence_length: int | None = None
    #: Frames after which the continuation conditioning restarts (0: never, the whole shot is one chain of
    #: windows). The shot is cut into independent segments of this many frames, counted from its first frame:
    #: farm chunks of whole segments run in parallel and are exact, at the price of a fresh invention (a
    #: visible change) at each segment's first frame. Choose a multiple of ``window - overlap`` plus
    #: ``overlap`` so every window is full, and place the restarts where the element allows one.
    segment: int = 0

    def chunk_step(self, count: int) -> int:
        """Farm chunks of a ``count``-frame shot are whole segments (all of it without segments)."""
        return self.segment or count

    @classmethod
    def from_dict(cls, options: dict[str, Any]) -> VideoOptions:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known - set(LOADER_OPTIONS) - {"per_frame"})
        if unknown:
            choices = ", ".join(sorted(known | set(LOADER_OPTIONS)))
            raise InputError(
                f"video-diffusion: unknown option(s) {', '.join(unknown)}; known options: {choices}"
            )
        values: dict[str, Any] = {}
        for name, convert in (
            ("model", str),
            ("prompt", str),
            ("negative_prompt", str),
            ("reference", str),
            ("window", int),
            ("overlap", int),
            ("steps", int),
            ("guidance", float),
            ("size", int),
            ("margin", int),
            ("conditioning_scale", float),
            ("max_sequence_length", int),
            ("segment", int),
        ):
            raw = options.get(name)
            if raw is None or raw == "":
                continue
            if convert is int and (
                isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer())
            ):
                raise InputError(f"video-diffusion option {name}={raw!r}: expected a whole number")
            if convert is str and not isinstance(raw, str):
                raise InputError(f"video-diffusion option {name}={raw!r}: expected a string")
            try:
                values[name] = convert(raw)
            except (TypeError, ValueError, OverflowError):
                raise InputError(
                    f"video-diffusion option {name}={raw!r}: expected a {convert.__name__}"
                ) from None
        LoaderOptions.read(options)  # the loader's options are checked now too, not when the model loads
        result = cls(**values)
        result.check()
        return result

    def check_files(self) -> None:
        """The ``reference`` image exists: checked when the backend is made, on the machine that runs it,
        before the model loads. Not in :meth:`check`, which also runs where the shot's storage may not be
        mounted (a Ray driver, a host planning farm chunks)."""
        if self.reference is not None and not Path(self.reference).expanduser().is_file():
            raise InputError(
                f"video-diffusion option reference={self.reference}: no such image file; check the path given "
                "with --reference"
            )

    def check(self) -> None:
        """The one place the options' values are judged (:meth:`from_dict` only converts them), so options
        built directly are refused the same way as those read from the command line or a job file."""
        if not self.model:
            raise InputError(
                "video-diffusion needs a model: --model PATH_OR_HUB_ID (a diffusers folder of a masked video "
                "pipeline such as Wan 2.1 VACE)"
            )
        try:
            check_window(self.window, self.overlap)
        except ValueError as error:
            raise InputError(f"video-diffusion: {error}") from None
        if self.steps < 1:
            raise InputError(f"video-diffusion option steps={self.steps}: expected at least 1")
        if self.size < 16:
            raise InputError(f"video-diffusion option size={self.size}: expected at least 16 pixels")
        if self.margin is not None and self.margin < 0:
            raise InputError(f"video-diffusion option margin={self.margin}: expected 0 or more pixels")
        if self.segment < 0:
            raise InputError(
                f"video-diffusion option segment={self.segment}: expected 0 (none) or a frame count"
            )
        if self.max_sequence_length is not None and self.max_sequence_length < 1:
            raise InputError("video-diffusion option max_sequence_length: expected at least 1 token")
        # diffusers checks neither: NaN conditioning gives a black fill, negative guidance an inverted one.
        check_guidance(self.guidance, "video-diffusion option guidance")
        if not math.isfinite(self.conditioning_scale):
            raise InputError(
                f"video-diffusion option conditioning_scale={self.conditioning_scale}: expected a number "
                "(1.0 by default)"
            )
