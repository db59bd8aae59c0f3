"""Registers the backends that ship with aifx. Heavy ones import their dependencies lazily."""

from __future__ import annotations

from .base import register_spatial
from .telea import TeleaBackend

register_spatial("telea", TeleaBackend)
