"""The ground floor: everything that crosses a process boundary, defined once.

* :mod:`.job` — :class:`FillJob`, its JSON form and the rules every field must keep;
* :mod:`.errors` — the error kinds and the exit codes that carry them;
* :mod:`.events` — the progress/done/error/cancelled events a running job prints, and how to read them;
* :mod:`.client` — start ``python -m aifx_core run JOB --json-progress``, follow its events, cancel it.
* :mod:`.backend_options` — which job options each built-in backend reads (what an adapter sends).

Standard library only, Python 3.9 syntax (it runs inside Nuke 14 and Blender), and no import from the rest
of ``aifx_core``: the rest of the core imports this package, never the other way. The Blender extension and
the Nuke plugin carry a byte-identical copy of this folder, written and checked by ``utils/sync_protocol.py``.
"""

from __future__ import annotations

from .errors import AifxError, Cancelled, InputError
from .events import ProgressEvent
from .job import FillJob

__all__ = ["AifxError", "Cancelled", "FillJob", "InputError", "ProgressEvent"]
