"""The temporal fill engine: backend ``propagate`` (flow-guided propagation, keyframe spatial fill)."""

from .engine import PropagateBackend
from .options import PropagateOptions

__all__ = ["PropagateBackend", "PropagateOptions"]
