"""Build the extension zip with Blender's own extension builder.

    python blender_addon/build.py [--output-dir dist] [--blender /path/to/blender]

With ``--blender`` (or ``$BLENDER``) it runs ``blender --command extension build``; otherwise it runs the
same builder script shipped in the ``bpy`` wheel (``bpy/<version>/scripts/addons_core/bl_pkg/cli/
blender_ext.py``), which needs only the standard library, with Blender's own tag list (as Blender passes
it). Prints the path of the zip.
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

SOURCE_DIR = Path(__file__).resolve().parent


def find_builder() -> Path | None:
    """``blender_ext.py`` from the installed ``bpy`` wheel, found without importing bpy."""
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        found = sorted(
            glob.glob(os.path.join(root, "*", "scripts", "addons_core", "bl_pkg", "cli", "blender_ext.py"))
        )
        if found:
            return Path(found[-1])
    return None


def valid_tags_file(builder: Path) -> Path | None:
    """Blender's own list of extension tags, shipped beside the builder (what ``blender --command extension``
    validates the manifest's ``tags`` against; the bare builder script checks none unless given it)."""
    scripts = builder.parents[3]  # <version>/scripts/addons_core/bl_pkg/cli/blender_ext.py
    found = scripts / "modules" / "_bpy_internal" / "extensions" / "tags.py"
    return found if found.is_file() else None


def build(output_dir: Path, blender: str | None = None) -> Path:
    output_dir.mkdir(parents=True, exist_ok=True)
    args = ["build", "--source-dir", str(SOURCE_DIR), "--output-dir", str(output_dir)]
    if blender:
        command = [blender, "--factory-startup", "--command", "extension", *args]
    else:
        builder = find_builder()
        if builder is None:
            raise SystemExit(
                "cannot find Blender's extension builder: pip install bpy, or pass --blender PATH"
            )
        tags = valid_tags_file(builder)
        if tags is None:
            raise SystemExit(f"cannot find Blender's tag list beside {builder}; pass --blender PATH")
        command = [sys.executable, str(builder), *args, "--valid-tags", str(tags)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"extension build failed:\n{done.stdout}{done.stderr}")
    zips = sorted(output_dir.glob("aifx-*.zip"), key=lambda p: p.stat().st_mtime)
    if not zips:
        raise SystemExit(f"extension build wrote no zip:\n{done.stdout}")
    return zips[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output-dir", type=Path, default=SOURCE_DIR.parent / "dist")
    parser.add_argument("--blender", default=os.environ.get("BLENDER"), help="Blender executable (optional)")
    options = parser.parse_args(argv)
    print(build(options.output_dir, options.blender))
    return 0


if __name__ == "__main__":
    sys.exit(main())
