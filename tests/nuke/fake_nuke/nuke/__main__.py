"""``python -m nuke -t script.py [args]``: run a script the way ``nuke -t`` does.

Foundry's command-line guide: Nuke passes the arguments after ``-t`` to the script in ``sys.argv``, "the only
exception to this is if the last argument is a number or frame range" (``1,20``, ``1001-1100``, ``1-10x2``): that
one is stripped from ``sys.argv``; all arguments stay in ``nuke.rawArgs``.
"""

from __future__ import annotations

import re
import runpy
import sys

import nuke

#: A number or a frame range as Nuke reads one at the end of a command line.
FRAME_RANGE = re.compile(r"^-?\d+(?:[-,]-?\d+(?:x\d+)?)?$")


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[0] != "-t":
        sys.exit("usage: python -m nuke -t script.py [args]")
    nuke.rawArgs[:] = ["Nuke", *argv]
    script, args = argv[1], argv[2:]
    if args and FRAME_RANGE.match(args[-1]):
        args = args[:-1]
    sys.argv[:] = [script, *args]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
