"""The ``lama`` spatial backend: a LaMa TorchScript export (e.g. big-lama.pt) that the user supplies.

Calling convention of the big-lama export: ``model(image, mask)`` with ``image`` float (1, 3, H, W) in [0, 1]
sRGB-encoded, ``mask`` float (1, 1, H, W) in {0, 1}, H and W multiples of 8; it returns (1, 3, H, W) in [0, 1].
LaMa was trained on 256–512 px crops, so like the diffusion backend it runs on one square around the hole
(:mod:`aifx_core.inpaint.crop`), 512 px by default, converted to model space and back.

Options: ``model`` (path to the .pt file, required), ``size`` (square side, default 512, rounded to 8),
``margin`` (context pixels around the hole).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from ..options import Options
from .base import BackendContext
from .crop import fill_through_crop, model_side, smaller_side
from .models import NAN_CAUSE, load_torchscript, refuse_nan, resolve_device, touch
from .video.limits import is_shape_error

DEFAULT_SIZE = 512
MULTIPLE = 8
#: How an allocator that is not CUDA's says it ran out (the CPU's DefaultCPUAllocator, MPS).
_OUT_OF_MEMORY = re.compile(r"out of memory|can't allocate memory|failed to allocate", re.IGNORECASE)


#: A model that builds tensors on CUDA itself (a device baked into an export made on a GPU), run elsewhere.
_CUDA_TIED = re.compile(r"'CUDA' backend|CUDA device|Torch not compiled with CUDA|expected device cuda|"
                        r"same device", re.IGNORECASE)  # fmt: skip
#: The header TorchScript puts above every error raised inside a scripted model, and the error's own line.
_INTERPRETER = "The following operation failed in the TorchScript interpreter"
_ERROR_LINE = re.compile(r"^\w*(?:Error|Exception): (.+)$", re.MULTILINE)


def interpreter_reason(text: str) -> str:
    """The line that says what went wrong: an error raised inside a TorchScript model starts with the same
    header ("The following operation failed in the TorchScript interpreter.") and two tracebacks, and ends
    with the error's own ``RuntimeError: ...`` line, which is the one to quote."""
    line = text.splitlines()[0] if text else ""
    if text.startswith(_INTERPRETER):
        found = _ERROR_LINE.findall(text)
        line = str(found[-1]).strip() if found else line
    # torch's device errors go on to list every backend it knows: the first sentence says it
    return line.split(". ")[0] if len(line) > 200 else line


def _nan_advice(dtype: Any) -> tuple[str, str]:
    """What to do, and the likely cause, when an export of weights ``dtype`` returned NaN. LaMa takes no dtype
    option (it runs in its export's precision), so the diffusers advice ("try --option dtype=float32") named an
    option lama refuses. A half export is told to use a float32 one; a float32 export is given finite inputs in
    0..1, so one that returns NaN is itself broken."""
    import torch

    if dtype != torch.float32:
        return (
            f"it is a {str(dtype).replace('torch.', '')} export; use a float32 export of the model",
            NAN_CAUSE,
        )
    return (
        "export the model again, or use another LaMa export such as big-lama.pt",
        "a float32 export, so no half-precision overflow: the export itself is broken",
    )


def _weights_dtype(module: Any) -> Any:
    """The floating dtype of a TorchScript module's weights (float32 when it has none)."""
    import torch

    for tensor in [*module.parameters(), *module.buffers()]:
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


def _pad_to_multiple(array: np.ndarray, multiple: int) -> np.ndarray:
    height, width = array.shape[:2]
    pads = [(0, -height % multiple), (0, -width % multiple)] + [(0, 0)] * (array.ndim - 2)
    if pads[0][1] == 0 and pads[1][1] == 0:
        return array
    return np.pad(array, pads, mode="symmetric")


@dataclass(frozen=True)
class LamaOptions(Options):
    owner = "lama"

    #: TorchScript file of the LaMa model (e.g. big-lama.pt).
    model: str | None = None
    #: Side of the square the model runs at (rounded down to a multiple of 8).
    size: int = DEFAULT_SIZE
    #: Context pixels kept around the hole in the crop (default: chosen from the hole's size).
    margin: int | None = None

    def check(self) -> None:
        if self.size < MULTIPLE:
            raise InputError(f"lama option size={self.size}: expected at least {MULTIPLE} pixels")
        if self.margin is not None and self.margin < 0:
            raise InputError(f"lama option margin={self.margin}: expected 0 or more pixels")


class LamaBackend:
    name = "lama"

    def __init__(self, context: BackendContext) -> None:
        options = LamaOptions.from_dict(context.options)
        self.colorspace = context.colorspace
        self.device = resolve_device(context.device)
        self.model = load_torchscript(options.model, self.device)
        self.model_path = str(options.model)
        self.margin = options.margin
        self.model_size = model_side(options.size, MULTIPLE)

    def inpaint(self, rgb: np.ndarray, hole: np.ndarray, *, frame: int | None = None) -> np.ndarray:
        def model_fill(model_rgb: np.ndarray, model_hole: np.ndarray) -> np.ndarray:
            return self.generate(model_rgb, model_hole, frame=frame)

        return fill_through_crop(
            rgb, hole, self.colorspace, model_fill, self.model_size, MULTIPLE, self.margin
        )

    def generate(self, model_rgb: np.ndarray, model_hole: np.ndarray, frame: int | None = None) -> np.ndarray:
        """Run the TorchScript model on a model-space square (any size; padded to a multiple of 8 here); NaN
        out is refused, naming ``frame``, rather than filled black."""
        import torch

        height, width = model_hole.shape
        image = _pad_to_multiple(model_rgb.astype(np.float32), MULTIPLE)
        mask = _pad_to_multiple(model_hole.astype(np.float32), MULTIPLE)
        # In the export's own precision: an fp16 export refused float32 input ("Input type ... and weight type
        # ... should be the same"); the result goes back to float32 below.
        dtype = _weights_dtype(self.model)
        image_t = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None].to(
            self.device, dtype
        )
        mask_t = torch.from_numpy(np.ascontiguousarray(mask))[None, None].to(self.device, dtype)
        touch(self.model)  # in use: a long job's model is not idle (aifx serve's --idle-unload)
        try:
            with torch.inference_mode():
                out = self.model(image_t, mask_t)
        except torch.OutOfMemoryError:
            raise InputError(self._memory_advice(image_t.shape[-1])) from None
        except RuntimeError as error:
            text = str(error).strip()
            reason = interpreter_reason(text)
            if _OUT_OF_MEMORY.search(text):  # the CPU's (or MPS's) allocator, which is not OutOfMemoryError
                raise InputError(self._memory_advice(image_t.shape[-1], gpu=False)) from None
            if _CUDA_TIED.search(reason) and not str(self.device).startswith("cuda"):
                raise InputError(
                    f"{self.model_path}: this export was made for CUDA and cannot run on {self.device} "
                    f"({reason}); use --device cuda, or re-export the model on the CPU"
                ) from None
            if "argument" in reason:  # the user's file refused big-lama's calling convention
                raise self._wrong_kind(reason) from None
            if is_shape_error(error):
                side = image_t.shape[-1]
                raise InputError(
                    f"{self.model_path}: the model refused a {side}x{side} square ({reason}); an export traced "
                    "at one size runs at that size only: pass it with --option size=N (512 for big-lama.pt), "
                    "or use a LaMa export called as model(image, mask) at any size"
                ) from None
            raise  # a device or CUDA fault, or an aifx bug: an internal error with its traceback
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != tuple(image_t.shape):
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise self._wrong_kind(f"it returned {got} for an image of {tuple(image_t.shape)}")
        result = out[0].float().clamp(0.0, 1.0).permute(1, 2, 0).cpu().numpy()[:height, :width]
        where = "lama" if frame is None else f"frame {frame}"
        refuse_nan(result, self.model_path, where, *_nan_advice(dtype))
        return np.ascontiguousarray(result)

    def _memory_advice(self, side: int, gpu: bool = True) -> str:
        """One line for a GPU (or, ``gpu=False``, the CPU) that ran out of memory (exit 2, as the other learned
        backends)."""
        smaller = smaller_side(side, MULTIPLE)
        where = "GPU memory" if gpu else "memory"
        return (
            f"out of {where} filling a {side}x{side} square with {self.model_path}; make it fit with a smaller "
            f"--option size={smaller}" + (", or run it on the CPU with --device cpu" if gpu else "")
        )

    def _wrong_kind(self, what: str) -> InputError:
        """A TorchScript file that is not called like big-lama (one input, another output size, one channel)
        is the user's file to replace, not an aifx bug: say so, with the calling convention it must have."""
        return InputError(
            f"{self.model_path}: not a LaMa model ({what}); --backend lama needs a TorchScript export called as "
            "model(image, mask), image (1,3,H,W) and mask (1,1,H,W) in 0..1, that returns a (1,3,H,W) image "
            "of the same size, such as big-lama.pt"
        )
