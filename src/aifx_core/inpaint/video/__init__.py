"""Masked video diffusion over a shot (backend ``video-diffusion``): elements that move by themselves.

:mod:`.windows` cuts the shot into overlapping windows, :mod:`.crop` places each window's crop at the model's
size, :mod:`.options` checks the settings, :mod:`.backend` runs the model window after window.
"""

from .backend import VideoDiffusionBackend
from .options import VideoOptions

__all__ = ["VideoDiffusionBackend", "VideoOptions"]
