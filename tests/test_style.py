"""The code base stays ruff-clean (lint and format), as the developers' guide asks."""

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
