"""Shared test fixtures: the research clip in ../shared/data and small helpers to make real files."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def tennis() -> Path:
    """Folder with ``frames/00000.png…`` and ``masks/00000.png…`` (70 frames, 432x240)."""
    root = SHARED_DATA / "tennis"
    if not (root / "frames").is_dir():
        pytest.skip(f"shared test data not found at {root}")
    return root
