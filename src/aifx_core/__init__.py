"""aifx-core: temporally consistent AI fill for VFX image sequences.

The public API is small: describe a shot with :class:`FillJob` and run it with :func:`fill`; :func:`info` says
what a sequence is (``aifx info --json``: frames, gaps, windows, channels, what a fill changes)::

    from aifx_core import FillJob, fill, info
    frames = info("plate.####.exr")["missing"]
    fill(FillJob(input="plate.####.exr", mask="roto.####.png", output="clean.####.exr"))

Heavy modules load only when used, so ``import aifx_core`` stays fast in a DCC's Python.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .progress import CancelToken
from .protocol.errors import AifxError, Cancelled, InputError
from .protocol.events import ProgressEvent
from .protocol.job import FillJob

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .pipeline import FillResult, fill
    from .sequence.info import facts as info

__all__ = [
    "AifxError",
    "CancelToken",
    "Cancelled",
    "FillJob",
    "FillResult",
    "InputError",
    "ProgressEvent",
    "__version__",
    "fill",
    "info",
]


def __getattr__(name: str) -> Any:
    if name in ("fill", "FillResult"):
        from . import pipeline

        return getattr(pipeline, name)
    if name == "info":
        from .sequence.info import facts

        return facts
    raise AttributeError(f"module 'aifx_core' has no attribute {name!r}")
