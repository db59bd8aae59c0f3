"""What the command line prints while a job runs: its progress (JSON lines on stdout, a bar on a terminal, or
nothing) and the one line for a stdout that does not take it. Shared by ``aifx fill``/``run`` (:mod:`.cli`) and
``aifx submit`` (:mod:`.submit`), so neither imports the other's private names; an entry point's module, above
:mod:`.progress` (which the backends read, and which may not import :mod:`.workers`)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from .progress import stdout_for_events
from .protocol import events
from .protocol.errors import InputError
from .protocol.events import ProgressEvent

#: Where ``--json-progress`` events go while stdout is kept for them alone (:func:`events_alone_on_stdout`);
#: None: ``sys.stdout``.
_events_out: TextIO | None = None


@contextlib.contextmanager
def events_alone_on_stdout(json_progress: bool) -> Iterator[None]:
    """With ``--json-progress``, stdout holds the events alone while inside: everything else printed to it goes
    to stderr (:func:`~aifx_core.progress.stdout_for_events`, as ``aifx serve``'s worker keeps its protocol).
    Ray prints a dead worker's ``(raylet) A worker died ...`` paragraph to ``sys.stdout``, in colour, which broke
    "one JSON object per line". Without a real stdout (a host's capture, ``>&-``) nothing changes."""
    global _events_out
    try:
        real = json_progress and sys.stdout is not None and sys.stdout.fileno() == 1
    except (AttributeError, OSError, ValueError):
        real = False
    if not real:
        yield
        return
    with stdout_for_events() as out:
        _events_out = out
        try:
            yield
        finally:
            _events_out = None


def emit_event(payload: dict) -> None:
    """One event, one line, in one write: SIGTERM (cancel) raises between bytecodes, so a line written piecewise
    could be cut and glued to the ``cancelled`` event after it, and the reader would lose both. The write is also
    shielded: the handler only sets the cancel flag inside it, and the next progress check raises."""
    from .workers import signal_shield  # (here: ``import aifx_core`` stays light in a DCC's Python)

    stream = _events_out if _events_out is not None else sys.stdout
    if stream is None:  # (started with stdout closed, `>&-`)
        raise InputError(_events_unwritable("it is closed"))
    with signal_shield():
        data = (events.encode(payload) + "\n").encode("utf-8")
        try:
            stream.flush()
            try:
                fd = stream.fileno()
            except (AttributeError, OSError, ValueError):  # not a real file (captured in a test, embedded)
                stream.write(data.decode("utf-8"))
                stream.flush()
                return
            while data:
                data = data[os.write(fd, data) :]
        except BrokenPipeError:
            raise  # (its reader went away: main stops quietly, _reader_gone)
        except OSError as exc:  # a full disk (> /dev/full), a closed descriptor
            raise InputError(_events_unwritable(exc.strerror or exc)) from None


def stdout_unwritable(what: str, why: object, them: str, then: str) -> str:
    """The one line for ``what`` that stdout does not take (``why``: a full disk, a closed descriptor), every
    command's in the same words; ``them`` names it again, ``then`` ends the line."""
    return f"cannot write {what} to stdout ({why}); point stdout at a pipe or file that takes {them}{then}"


def _events_unwritable(why: object) -> str:
    """The one line for progress events that cannot be written (the frames written so far are kept)."""
    return stdout_unwritable(
        "the progress events", why, "them", ", or leave out --json-progress (frames written so far are kept)"
    )


class ProgressPrinter:
    """Context manager giving the progress callback: JSON lines, a tqdm bar on a terminal, or nothing."""

    def __init__(self, json_progress: bool, openjd: Callable[[dict], None] | None = None) -> None:
        """``openjd``: where a farm task's events go as OpenJD's stdout protocol (the command line's writer,
        which knows the farm module this floor may not import); None: not a farm task."""
        self.json_progress = json_progress
        self.openjd = openjd
        self.bar: Any = None

    def __enter__(self) -> Callable[[ProgressEvent], None]:
        if self.json_progress:
            return lambda event: emit_event(event.to_dict())
        if self.openjd is not None:
            openjd = self.openjd
            return lambda event: openjd(event.to_dict())
        if sys.stderr is None or not sys.stderr.isatty():  # (no stderr, 2>&-: no terminal either)
            return lambda event: None
        return self._draw

    def _draw(self, event: ProgressEvent) -> None:
        """The bar counts frames written; it is drawn from the first event on, the stages before the first
        write (the seen plate, the anchors: seconds to minutes on a long shot) shown beside it, not silence."""
        from tqdm import tqdm

        overall = event.stage == events.OVERALL_STAGE
        if self.bar is None:
            total = event.total if overall else None
            self.bar = tqdm(total=total, unit="frame", desc="aifx fill", file=sys.stderr)
        if not overall:
            where = f" {event.frame}" if event.frame is not None else ""
            self.bar.set_postfix_str(f"{event.stage}{where}")
            return
        if self.bar.total != event.total:
            self.bar.total = event.total
        self.bar.update(event.index - self.bar.n)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()
