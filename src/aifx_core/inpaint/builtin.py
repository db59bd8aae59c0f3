"""Registers the backends that ship with aifx. Heavy ones import their dependencies lazily."""

from __future__ import annotations

from ..generate import EveryFrameDiffusion
from ..propagate import PropagateBackend
from .base import register_fill, register_spatial
from .diffusion import DiffusersBackend
from .lama import LamaBackend
from .telea import TeleaBackend
from .video import VideoDiffusionBackend

register_spatial("telea", TeleaBackend)
register_spatial("diffusers", DiffusersBackend)
register_spatial("lama", LamaBackend)
register_fill("diffusers-every-frame", EveryFrameDiffusion)
register_fill("propagate", PropagateBackend)
register_fill("video-diffusion", VideoDiffusionBackend)
