"""Compatibility alias: :class:`FillJob` lives in :mod:`aifx_core.protocol.job` (the ground floor)."""

from __future__ import annotations

from .protocol.job import JOB_FORMAT_VERSION, MAX_JOB_BYTES, FillJob, read_job_text

__all__ = ["JOB_FORMAT_VERSION", "MAX_JOB_BYTES", "FillJob", "read_job_text"]
