"""``python -m nuke -t script.py [args]`` and ``python -m nuke -x [-F range] comp.nk``: Nuke's command line.

As Nuke does at startup, the ``init.py`` of every folder on ``NUKE_PATH`` runs first (with the folder on
``sys.path``). Then:

- ``-t script.py args``: run the script. Foundry's command-line guide: Nuke passes the arguments after ``-t`` to
  the script in ``sys.argv``, "the only exception to this is if the last argument is a number or frame range"
  (``1,20``, ``1001-1100``): that one is stripped from ``sys.argv``; all arguments stay in ``nuke.rawArgs``.
- ``-x [-F first-last[xstep]] comp.nk``: open the script and execute its enabled Write nodes (default range: the
  root's);
  a render error prints ``ERROR`` and exits 1.
"""

from __future__ import annotations

import os
import re
import runpy
import sys

import nuke

#: A number or a frame range as Nuke reads one at the end of a command line.
FRAME_RANGE = re.compile(r"^-?\d+(?:[-,]-?\d+(?:x\d+)?)?$")
#: ``-F``'s range: ``first``, ``first-last`` or ``first-last x step`` (Foundry: "-F first-last[xstep]").
F_RANGE = re.compile(r"^(-?\d+)(?:[-,](-?\d+)(?:x(\d+))?)?$")


def _startup() -> None:
    for folder in filter(None, os.environ.get("NUKE_PATH", "").split(os.pathsep)):
        if folder not in sys.path:
            sys.path.append(folder)
        init = os.path.join(folder, "init.py")
        if os.path.isfile(init):
            runpy.run_path(init, run_name="__main__")


def _execute(args: list[str]) -> int:
    frames = None
    if len(args) >= 2 and args[0] == "-F":
        frames, args = args[1], args[2:]
    if len(args) != 1:
        sys.exit("usage: python -m nuke -x [-F first-last] comp.nk")
    nuke.scriptOpen(args[0])
    root = nuke.root()
    first, last = int(root["first_frame"].value()), int(root["last_frame"].value())
    step = 1
    if frames:
        match = F_RANGE.match(frames)
        if not match:
            sys.exit(f"-F {frames}: not a frame range (first-last or first-lastxstep)")
        first = int(match.group(1))
        last = int(match.group(2) or first)
        step = int(match.group(3) or 1)
    try:
        for write in nuke.allNodes("Write"):
            if not write["disable"].value():
                nuke.execute(write, first, last, step)
    except RuntimeError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("-t", "-x"):
        sys.exit("usage: python -m nuke -t script.py [args] | -x [-F first-last] comp.nk")
    nuke.rawArgs[:] = ["Nuke", *argv]
    _startup()
    if argv[0] == "-x":
        return _execute(argv[1:])
    script, args = argv[1], argv[2:]
    if args and FRAME_RANGE.match(args[-1]):
        args = args[:-1]
    sys.argv[:] = [script, *args]
    runpy.run_path(script, run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
