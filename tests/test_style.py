"""The code base stays ruff-clean (lint and format) and mypy-clean (the core, see pyproject.toml), as the
developers' guide asks."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _ruff() -> list[str]:
    exe = Path(sys.executable).with_name("ruff")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("ruff")
    if not found:
        pytest.fail("ruff is not installed: install the [dev] extra")
    return [found]


@pytest.mark.parametrize("args", [["check", "--output-format", "concise"], ["format", "--check"]])
def test_ruff(args):
    done = subprocess.run([*_ruff(), *args, "."], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_on_the_core():
    """``mypy`` with no arguments checks what pyproject.toml's ``[tool.mypy]`` lists (the core, minus the parts
    being reworked); the Nuke plugin is checked against types-nuke in tests/nuke."""
    done = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=REPO, capture_output=True, text=True, timeout=1800
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success" in done.stdout
