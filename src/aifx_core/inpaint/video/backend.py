"""The ``video-diffusion`` fill backend: a masked video-diffusion model (Wan VACE) over a whole shot.

Keyframe propagation is right for clean-ups, but an explosion, a creature or a collapsing facade must move by
itself, so this backend lets a video model see a whole window of frames and their masks at once. Read top to
bottom, one window:

1. gather ``window`` packets (the first ``known`` of them are the previous window's last results);
2. crop all frames to the union of the window's holes plus context, at about ``size × size`` model pixels with
   sides that are multiples of 16, and convert to the model's sRGB through OCIO (HDR soft-clipped reversibly);
3. hand the model the crop with the holes greyed out and masked, the known frames unmasked (mask 0), pad the
   frame count to 4k+1, and generate with a seed derived from the job's seed and the window's index;
4. resize back, convert back to the plate's colourspace, cap at the brightest known pixel of the window's
   crop or diffuse white (``fill_ceiling``: a white the model paints is not a highlight) and paste near the holes (the holes grown by
   :data:`PASTE_BAND` px: only there is anything composited); cross-fade the known frames
   linearly with the previous window's results; emit every frame the next window will not touch.

Memory holds one window of packets. Pixels outside the paste band are the input's, and the pipeline composites
only inside the feathered mask, so everything outside the hole stays bit-exact.

**Segments and farm chunks.** Each window is conditioned on the previous window's output, so windows chain
through the shot: a chunk could not reproduce its frames without the chunks before it. With ``segment=N`` the
chain restarts every N frames, counted from the shot's first frame (windows are planned per segment, seeds
numbered through the shot), so a chunk of whole segments (``chunk_context``; ``plan_chunks`` snaps chunk edges
there) is bit-identical to the same frames of a whole run by construction. Without segments the whole shot is
one chain: a chunk reads (and generates) the whole shot, exact but not cheaper.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from ...errors import InputError
from ...progress import Reporter
from ..base import BackendContext, FramePacket, Span
from ..crop import brightest_known, fill_ceiling
from ..models import (
    ModelIndex,
    PipelineRequest,
    declared_pipeline_class,
    is_masked_video,
    load_pipeline,
    refuse_nan,
    resolve_device,
    takes_mask,
    using,
)
from .crop import (
    VideoCrop,
    from_model_size,
    hole_to_model_size,
    model_shape,
    plan_video_crop,
    to_model_size,
)
from .limits import ModelLimits, is_shape_error, refusal
from .options import VideoOptions
from .windows import crossfade_weights, model_frame_count, plan_windows, window_seed

#: Model-space value of the pixels under the hole: neutral grey, so nothing of the removed object leaks in.
HOLE_GREY = 0.5


#: Pixels beyond the holes that get the model's result too: the composite's feather and the seam need them.
PASTE_BAND = 16


def paste_band(union: np.ndarray) -> np.ndarray:
    """The window's holes grown by :data:`PASTE_BAND` pixels (bool, same shape)."""
    import cv2

    size = 2 * PASTE_BAND + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    return cv2.dilate(union.astype(np.uint8), kernel) > 0


def check_masked_video(cls: type | None, model: str) -> None:
    """Refuse a pipeline class that is not masked video diffusion (its ``__call__`` takes no ``video`` and
    ``mask``, and it is no VACE pipeline): an image inpainting model would fail deep inside its first call
    on the window's frame list. None (not known yet) passes."""
    if cls is None or is_masked_video(cls):
        return
    if takes_mask(cls):
        fix = "for an image inpainting model use --backend diffusers"
    else:
        fix = "give a masked video model such as Wan 2.1 VACE (WanVACEPipeline)"
    raise InputError(
        f"video-diffusion: {model} is a {cls.__name__}, not a masked video pipeline (it takes no video and "
        f"mask); {fix}"
    )


def crossfade(previous: np.ndarray, new: np.ndarray, weight: float) -> np.ndarray:
    """``(1 - weight) * previous + weight * new`` where they differ; bit for bit ``new`` where they agree (the
    plate outside both windows' crops stays exact)."""
    mixed = ((1.0 - weight) * previous + weight * new).astype(np.float32)
    return np.where(previous == new, new, mixed)


class VideoDiffusionBackend:
    """``create_backend("video-diffusion", context)``; see the module docstring."""

    name = "video-diffusion"
    #: Needs every frame in order: windows are cut by position in the shot.
    temporal = True

    def __init__(self, context: BackendContext, pipe: Any = None) -> None:
        self.options = VideoOptions.from_dict(dict(context.options))
        self.options.check_files()
        self.loader_options = dict(context.options)
        self.colorspace = context.colorspace
        self.seed = int(context.seed)
        self.device = context.device
        self._pipe = pipe
        self._reference: Any = None
        self._limits: ModelLimits | None = None
        #: Most packets held at once during the last :meth:`fill` (bounded by the window).
        self.max_held = 0
        #: Model calls of the last :meth:`fill` (windows with no hole are passed through without one).
        self.calls = 0

    # -- model ---------------------------------------------------------------------------------------------
    @property
    def pipe(self) -> Any:
        """Loaded on the first window that has a hole: a shot with empty masks never loads the model."""
        if self._pipe is None:
            resolve_device(self.device)  # a missing GPU is a clear error before any loading
            request = PipelineRequest.from_options(self.loader_options, self.device, kind="video")
            index = ModelIndex(request)  # read once for the check and the loader
            check_masked_video(declared_pipeline_class(index), self.options.model)  # before loading
            pipe = load_pipeline(request, index)
            check_masked_video(type(pipe), self.options.model)
            self._pipe = pipe
        return self._pipe

    @property
    def limits(self) -> ModelLimits:
        """The loaded model's size rules (read from its config once)."""
        if self._limits is None:
            self._limits = ModelLimits.of(self.pipe)
        return self._limits

    def reference_image(self) -> Any:
        """The ``reference`` option as a PIL image in model space (read once)."""
        if self.options.reference is None:
            return None
        if self._reference is None:
            from PIL import Image as PILImage

            from ...colour import guess_colorspace, to_model
            from ...sequence import read_image

            image = read_image(self.options.reference)
            model = to_model(image.rgb(), guess_colorspace(image, self.options.reference))
            self._reference = PILImage.fromarray(np.clip(np.rint(model * 255.0), 0, 255).astype(np.uint8))
        return self._reference

    # -- the shot ------------------------------------------------------------------------------------------
    def segment_length(self, length: int) -> int:
        """Frames per independent segment of a ``length``-frame shot (all of it without segments)."""
        return self.options.segment or max(length, 1)

    def chunk_context(self, first: int, last: int, length: int) -> tuple[int, int]:
        """Positions to read for positions ``first..last``: the whole segments they lie in."""
        size = self.segment_length(length)
        return first // size * size, min(length - 1, (last // size + 1) * size - 1)

    def fill(
        self, packets: Iterable[FramePacket], reporter: Reporter, span: Span | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(frame, result)`` for every packet, or with a ``span`` (whole segments of the shot) for
        ``span.outputs`` only."""
        window, overlap = self.options.window, self.options.overlap
        source = iter(packets)
        first = next(source, None)
        if first is None:
            return
        source = itertools.chain([first], source)
        if span is not None:
            length = len(span.shot)
            start = span.shot.index(first.frame)
        else:
            length = len(packets) if hasattr(packets, "__len__") else 0  # type: ignore[arg-type]
            start = 0
        size = self.segment_length(length) if (self.options.segment or length) else None
        if size is not None and start % size:
            raise ValueError(f"frame {first.frame}: a chunk must start at a segment's first frame")
        per_segment = len(plan_windows(size, window, overlap)) if size else 0
        windows = per_segment * (-(-length // size)) if size and length else 0
        self.max_held = 0
        self.calls = 0
        segment = start // size if size else 0
        outputs = span.outputs if span is not None else None
        while True:
            part = itertools.islice(source, size) if size else source
            emitted = 0
            for frame, result in self._fill_segment(part, reporter, segment * per_segment, windows):
                emitted += 1
                if outputs is None or frame in outputs:
                    yield frame, result
            if not size or emitted < size:
                return
            segment += 1

    def _fill_segment(
        self, packets: Iterator[FramePacket], reporter: Reporter, index: int, windows: int
    ) -> Iterator[tuple[int, np.ndarray]]:
        """One chain of overlapping windows; ``index`` numbers its first window in the shot (for the seed)."""
        window, overlap = self.options.window, self.options.overlap
        source = packets
        buffer: list[FramePacket] = []
        carry: list[np.ndarray] = []  # the previous window's results for the frames it shares with the next
        exhausted = False
        while True:
            before = len(buffer)
            while len(buffer) < window and not exhausted:
                packet = next(source, None)
                if packet is None:
                    exhausted = True
                else:
                    buffer.append(packet)
            self.max_held = max(self.max_held, len(buffer))
            if len(buffer) == before:  # nothing new: the carried frames are final as they are
                for packet, result in zip(buffer, carry, strict=True):
                    yield packet.frame, result
                return
            reporter.cancel.raise_if_cancelled()
            reporter(
                "generate",
                index,
                windows,
                buffer[0].frame,
                f"window {index + 1}: frames {buffer[0].frame}-{buffer[-1].frame}",
            )
            results = self.generate_window(buffer, carry, index)
            for j, weight in enumerate(crossfade_weights(len(carry))):
                results[j] = crossfade(carry[j], results[j], weight)
            last = exhausted
            keep = 0 if last else min(overlap, len(buffer))
            for packet, result in zip(
                buffer[: len(buffer) - keep], results[: len(buffer) - keep], strict=True
            ):
                yield packet.frame, result
            if last:
                return
            buffer, carry = buffer[len(buffer) - keep :], results[len(results) - keep :]
            index += 1

    def generate_window(
        self, packets: list[FramePacket], known: list[np.ndarray], index: int
    ) -> list[np.ndarray]:
        """Full-frame results for one window; ``known[j]`` replaces packet j's plate as unmasked conditioning."""
        from ...colour import from_model, to_model

        count = len(packets)
        frames = [known[j] if j < len(known) else packets[j].rgb for j in range(count)]
        holes = [packets[j].hole if j >= len(known) else None for j in range(count)]
        if not any(hole is not None and hole.any() for hole in holes):
            return [np.asarray(frame, dtype=np.float32).copy() for frame in frames]
        union = np.logical_or.reduce([packet.hole for packet in packets])
        crop = plan_video_crop(
            union, self.options.size, multiple=self.size_multiple(), margin=self.options.margin
        )
        where = f"window {index + 1} (frames {packets[0].frame}-{packets[-1].frame})"
        self.check_fits(count, crop, where)
        rows, cols = crop.box()
        video = np.empty((count, crop.model_height, crop.model_width, 3), np.float32)
        mask = np.zeros((count, crop.model_height, crop.model_width, 1), np.float32)
        brightest = -np.inf
        for j in range(count):
            # Resize in the plate's (linear) values, then convert only the model-size image: OCIO and the
            # shoulder cost per pixel, and a 1080p crop is several times the model's size.
            plate_crop = np.nan_to_num(
                np.asarray(frames[j][rows, cols], dtype=np.float32), posinf=0.0, neginf=0.0
            )
            small = to_model_size(np.ascontiguousarray(plate_crop), crop)
            video[j] = np.clip(to_model(small, self.colorspace), 0.0, 1.0)
            hole = holes[j]
            context = ~hole[rows, cols] if hole is not None else np.ones(plate_crop.shape[:2], bool)
            brightest = max(brightest, brightest_known(plate_crop, context))
            if hole is not None:
                model_hole = hole_to_model_size(hole[rows, cols], crop)
                video[j][model_hole] = HOLE_GREY
                mask[j, ..., 0] = model_hole
        generated = self.run_model(video, mask, crop, window_seed(self.seed, index), where)
        # Only pixels near a hole are ever composited (hole + feather), so only they are converted back.
        band = paste_band(union[rows, cols])
        ceiling = np.float32(fill_ceiling(brightest, self.colorspace))
        results = []
        for j in range(count):
            back = np.clip(from_model_size(generated[j], crop), 0.0, 1.0)
            result = np.asarray(frames[j], dtype=np.float32).copy()
            region = result[rows, cols]
            region[band] = np.minimum(from_model(back[band], self.colorspace), ceiling)
            results.append(result)
        return results

    def size_multiple(self) -> int:
        """Model sides divide by VAE factor × patch size (Wan: 8 × 2 = 16)."""
        return self.limits.multiple

    def check_fits(self, count: int, crop: VideoCrop, where: str) -> None:
        """Before generating: the window's frame count and model size are within what the loaded model's
        position table covers; otherwise an :class:`InputError` naming ``window``/``size`` and what fits."""
        limits = self.limits
        references = 1 if self.options.reference is not None else 0
        frames = model_frame_count(count, limits.temporal)
        model = self.options.model
        if not limits.frames_fit(frames, references):
            largest = limits.largest_frames(references) or 0
            extra = f" plus {references} reference image" if references else ""
            fix = (
                f"use --window {largest} or less (and an --overlap below it)"
                if largest
                else "drop --reference"
            )
            raise InputError(
                f"video-diffusion: {where}: window={self.options.window} asks {model} for {frames} frames"
                f"{extra}, but it takes at most {largest} frames a call ({limits.reason}); {fix}"
            )
        if not limits.side_fits(crop.model_height, crop.model_width):
            fits = limits.largest_size(
                self.options.size, lambda size: model_shape(crop.height, crop.width, size, limits.multiple)
            )
            fix = f"use --option size={fits} or less" if fits else "use a model made for larger frames"
            raise InputError(
                f"video-diffusion: {where}: size={self.options.size} makes the window's "
                f"{crop.width}x{crop.height} crop {crop.model_width}x{crop.model_height} model pixels, but "
                f"{model} takes at most {limits.max_side} pixels a side ({limits.reason}); {fix}"
            )

    def call_arguments(
        self, video: np.ndarray, mask: np.ndarray, crop: VideoCrop, seed: int
    ) -> dict[str, Any]:
        """Keyword arguments for the pipeline (only those its ``__call__`` accepts)."""
        import torch

        temporal = int(getattr(self.pipe, "vae_scale_factor_temporal", 4) or 4)
        frames = model_frame_count(len(video), temporal)
        if frames > len(video):  # repeat the last frame (and its mask) up to the model's frame count
            pad = frames - len(video)
            video = np.concatenate([video, np.repeat(video[-1:], pad, axis=0)])
            mask = np.concatenate([mask, np.repeat(mask[-1:], pad, axis=0)])
        wanted: dict[str, Any] = {
            "prompt": self.options.prompt,
            "video": [video],
            "mask": [mask],
            "height": crop.model_height,
            "width": crop.model_width,
            "num_frames": frames,
            "num_inference_steps": self.options.steps,
            "conditioning_scale": self.options.conditioning_scale,
            # A CPU generator gives the same noise on every device: a seed means the same element anywhere.
            "generator": torch.Generator(device="cpu").manual_seed(seed),
            "output_type": "np",
        }
        if self.options.negative_prompt is not None:
            wanted["negative_prompt"] = self.options.negative_prompt
        if self.options.guidance is not None:
            wanted["guidance_scale"] = self.options.guidance
        if self.options.max_sequence_length is not None:
            wanted["max_sequence_length"] = self.options.max_sequence_length
        reference = self.reference_image()
        if reference is not None:
            wanted["reference_images"] = [reference]
        accepts = set(inspect.signature(self.pipe.__call__).parameters)
        if reference is not None and "reference_images" not in accepts:
            raise InputError(
                f"{self.options.model}: this pipeline takes no reference image; drop --reference or use a "
                "VACE model"
            )
        return {key: value for key, value in wanted.items() if key in accepts}

    def run_model(
        self, video: np.ndarray, mask: np.ndarray, crop: VideoCrop, seed: int, where: str = "a window"
    ) -> np.ndarray:
        """One model call: float32 (N, h, w, 3) in [0, 1] → the same shape; says how to fit when memory runs
        out or when the model refuses the window's shape."""
        import torch

        arguments = self.call_arguments(video, mask, crop, seed)
        try:
            # A shared pipeline: calls take turns with other fills and mark it used (see using()).
            with using(self.pipe), torch.inference_mode():
                output = self.pipe(**arguments)
        except torch.OutOfMemoryError:
            raise InputError(self._memory_advice(len(video), crop)) from None
        except RuntimeError as error:
            if not is_shape_error(error):
                raise  # a real internal error: keep its traceback
            # The model's config declared no limit (check_fits passed) but it refused the request's shape:
            # the cause is kept on the exception for Python callers; the CLI prints this one line.
            raise InputError(
                refusal(
                    f"video-diffusion: {where}",
                    self.options.model,
                    arguments.get("num_frames", len(video)),
                    crop.model_width,
                    crop.model_height,
                    f"model pixels (size={self.options.size}, window={self.options.window})",
                    error,
                    "a smaller --option size=N or --window N",
                )
            ) from error
        frames = np.asarray(output.frames, dtype=np.float32)
        frames = frames[0] if frames.ndim == 5 else frames
        self.calls += 1
        refuse_nan(frames[: len(video)], self.options.model, f"video-diffusion: {where}")
        if frames.shape[1:3] != (crop.model_height, crop.model_width):
            raise RuntimeError(
                f"model returned frames of {frames.shape[1:3]}, expected {crop.model_height}x"
                f"{crop.model_width}"
            )
        return frames[: len(video)]

    def _memory_advice(self, frames: int, crop: VideoCrop) -> str:
        latent_tokens = (frames // 4 + 1) * (crop.model_height // 16) * (crop.model_width // 16)
        return (
            f"out of memory generating {frames} frames at {crop.model_width}x{crop.model_height} model pixels "
            f"({latent_tokens} latent tokens); make it fit with --option window={max(self.options.overlap + 1, frames // 2)}, "
            f"--option size={max(16, self.options.size * 3 // 4)}, --option offload=model, --option vae_tiling=true "
            "or --option dtype=bfloat16"
        )
