"""Render one AIFill node headless, for the farm: the same code path as the Render button.

    nuke -t <plugin>/aifx_nuke/render.py /shots/sh010/comp.nk AIFill1 1001-1100
    nuke -t <plugin>/aifx_nuke/render.py /shots/sh010/comp.nk AIFill1 frames=1001-1100

Nuke strips a trailing frame range from ``sys.argv``; the arguments are read from ``nuke.rawArgs``.
The script is opened from disk and not saved: the comp's own render reads the result once the script is
saved with the node rendered (until then the node's output is an error, never the unfilled plate).
Exit codes: 0 done (or cached), 1 render failed (an unexpected error too: one line, no traceback), 2 bad arguments (or not a script Nuke opens), 130 cancelled. Progress goes to stdout one
line per change, so farm logs show it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator

_HERE = os.path.dirname(os.path.abspath(__file__))
if __package__ in (None, ""):
    # Run as a script (nuke -t): import the package, not its modules as top-level names.
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
    sys.path.insert(0, os.path.dirname(_HERE))

from aifx_nuke import jobs  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """``argv``: the arguments after render.py (default: the command line Nuke was started with)."""
    import nuke

    if argv is None:
        argv = jobs.farm_arguments(sys.argv, nuke.rawArgs)
    try:
        script, name, frames = jobs.parse_farm_args(argv)
    except jobs.RangeError as exc:
        print(f"aifx: error: {exc}", file=sys.stderr)
        return 2

    stop = threading.Event()
    with _stopped_by_signals(stop):
        return _open_and_render(script, name, frames, stop)


@contextlib.contextmanager
def _stopped_by_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM (a farm cancelling the task) and Ctrl-C set ``stop`` instead of killing Nuke's Python mid-call:
    the render stops its worker (no frame cut, finished frames kept) and the task exits 130."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    wanted = (signal.SIGTERM, signal.SIGINT)
    previous = {number: signal.signal(number, lambda *_: stop.set()) for number in wanted}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _open_and_render(script: str, name: str, frames: str | None, stop: threading.Event) -> int:
    """Open ``script`` and render its node ``name``: the exit code."""
    import nuke

    from aifx_nuke import nodes, session

    try:
        nuke.scriptOpen(script)
    except RuntimeError as exc:  # what Nuke raises for a file it cannot read as a script, and for load errors
        reason = jobs.last_line(exc, "cannot be read").replace(f"{script}: ", "")
        # (a real script whose load failed, e.g. a gizmo or plug-in missing on this machine, raises it too)
        print(
            f"aifx: error: {script}: Nuke cannot open it ({reason}); give the .nk path of the comp, and make "
            "the gizmos and plug-ins it uses available to this Nuke",
            file=sys.stderr,
        )
        return 2
    try:
        outcome = None if stop.is_set() else nodes.render_node(nodes.find_node(name), frames, cancel=stop)
    except session.RenderError as exc:
        print(f"aifx: error: {name}: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: the farm log still gets one line and the task fails, no traceback
        detail = jobs.last_line(exc, "no message")
        print(
            f"aifx: error: {name}: the render stopped on an unexpected error ({type(exc).__name__}: {detail}); "
            "report it to whoever looks after aifx, with this line",
            file=sys.stderr,
        )
        return 1
    if outcome is None or outcome.cancelled:
        print(f"aifx: {name} cancelled", file=sys.stderr)
        return 130
    how = "reused the cache" if outcome.reused else f"filled {outcome.written} frame(s)"
    print(f"aifx: {name} frames {outcome.first}-{outcome.last}: {how} -> {outcome.result}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
