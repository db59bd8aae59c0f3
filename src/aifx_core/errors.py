"""Compatibility alias: the error kinds live in :mod:`aifx_core.protocol.errors` (the ground floor)."""

from __future__ import annotations

from .protocol.errors import AifxError, Cancelled, InputError

__all__ = ["AifxError", "Cancelled", "InputError"]
