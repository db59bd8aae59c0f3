"""Keep the adapters' copies of the protocol floor byte-identical to ``src/aifx_core/protocol``.

    python utils/sync_protocol.py --check   # exit 1 and list every drifted, missing or stale file
    python utils/sync_protocol.py --fix     # rewrite the copies from the source

A DCC's Python has no aifx-core, so the Blender extension and the Nuke plugin each carry the protocol package
(job, errors, events, client) under their own name. Like diffusers' ``utils/check_copies.py``, this is the one
tool that writes those copies, and a test runs ``--check``: edit ``src/aifx_core/protocol/`` only, then
``--fix``. The package uses relative imports only, so a copy works under any package name.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = Path("src/aifx_core/protocol")
#: Where each adapter carries its copy (relative to the repository root).
COPIES = (Path("blender_addon/aifx_protocol"), Path("nuke_plugin/aifx_nuke/aifx_protocol"))


def source_files(repo: Path = REPO) -> dict[str, bytes]:
    """The package's modules by file name (only ``*.py``: no caches)."""
    return {path.name: path.read_bytes() for path in sorted((repo / SOURCE).glob("*.py"))}


def drift(repo: Path = REPO) -> list[str]:
    """One line per copy file that is missing, differs from the source, or no longer exists in the source."""
    wanted = source_files(repo)
    problems = []
    for copy in COPIES:
        folder = repo / copy
        for name, blob in wanted.items():
            target = folder / name
            if not target.is_file():
                problems.append(f"{copy / name}: missing")
            elif target.read_bytes() != blob:
                problems.append(f"{copy / name}: differs from {SOURCE / name}")
        if folder.is_dir():
            problems += [
                f"{copy / p.name}: not in {SOURCE}"
                for p in sorted(folder.glob("*.py"))
                if p.name not in wanted
            ]
    return problems


def fix(repo: Path = REPO) -> list[str]:
    """Rewrite every copy from the source; returns the files written or removed."""
    wanted = source_files(repo)
    changed = []
    for copy in COPIES:
        folder = repo / copy
        folder.mkdir(parents=True, exist_ok=True)
        for name, blob in wanted.items():
            target = folder / name
            if not target.is_file() or target.read_bytes() != blob:
                target.write_bytes(blob)
                changed.append(str(copy / name))
        for stale in sorted(folder.glob("*.py")):
            if stale.name not in wanted:
                stale.unlink()
                changed.append(f"{copy / stale.name} (removed)")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="report drift, exit 1 if any")
    mode.add_argument("--fix", action="store_true", help="rewrite the copies from the source")
    args = parser.parse_args(argv)
    if args.fix:
        for line in fix():
            print(f"wrote {line}")
        return 0
    problems = drift()
    for line in problems:
        print(line, file=sys.stderr)
    if problems:
        print("run: python utils/sync_protocol.py --fix", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
