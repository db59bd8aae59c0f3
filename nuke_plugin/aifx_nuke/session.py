"""One render of an AIFill node, written against a small :class:`Host` instead of ``nuke``.

The Render button, the farm entry point (``render.py``) and the tests all run :func:`render`; only the host
differs (:class:`aifx_nuke.nodes.NukeHost` talks to Nuke). The order is: settings → frame range → cache keys →
reuse a finished result, else write the inputs (unless cached) → run ``aifx run job.json --json-progress`` in
the aifx Python → follow its progress with cancel → point the node's Read at the result.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from . import jobs, knobs
from .aifx_protocol import events
from .aifx_protocol.client import WorkerProcess
from .aifx_protocol.errors import AifxError, InputError
from .aifx_protocol.remote import RemoteWorker, check_server_url


class RenderError(Exception):
    """A render could not finish; the message is one line for the artist (it goes on the status line)."""


class InputsCancelled(Exception):
    """The artist cancelled while the inputs were written: Nuke's own progress bar of a write, or the AIFill's
    progress dialog (or the node's Cancel, a farm's SIGTERM) between the Source and Mask writes. A cancel, not
    an error: no message box, the status says it, Render starts again; the message says what was being written."""


class NodeDeleted(Exception):
    """The node was deleted, or its script closed, while it rendered (Nuke refuses every call on it then): the
    worker, if one was started, is stopped and nothing is written on the node; the message is the node's name."""

    def __init__(self, name: str, worker_stopped: bool = False) -> None:
        super().__init__(name)
        #: Whether a worker had started (and was stopped): what the artist is told differs (:meth:`line`).
        self.worker_stopped = worker_stopped

    def line(self) -> str:
        """What the Error Console says (after ``AIFill <name>: ``): no worker to speak of while the inputs were
        written."""
        return GONE if self.worker_stopped else GONE_BEFORE_WORKER


#: What the Error Console says about a node deleted while its worker ran (after ``AIFill <name>: ``).
GONE = (
    "deleted (or its script closed) while it rendered; its aifx worker is stopped and the frames it finished "
    "stay in the cache"
)
#: The same, deleted before its worker started (while its inputs were written): nothing was filled.
GONE_BEFORE_WORKER = "deleted (or its script closed) before its aifx worker started; nothing was filled"


class ProgressLike(Protocol):
    """What :func:`render` needs from ``nuke.ProgressTask``."""

    def setMessage(self, message: str) -> Any: ...  # noqa: N802 (Nuke's names)

    def setProgress(self, percent: int) -> Any: ...  # noqa: N802

    def isCancelled(self) -> Any: ...  # noqa: N802


class Host(Protocol):
    """The node and the Nuke session, as :func:`render` sees them."""

    node_name: str
    #: What identifies the node while it renders, whatever it is renamed to (the Cancel button finds it by this).
    render_key: Hashable

    def settings(self, keyed_only: bool = False) -> dict[str, Any]:
        """The settings; ``keyed_only``: without :data:`jobs.UNKEYED_SETTINGS`, which a check of a shown result
        never needs (one of them that cannot be read must not forget a good fill)."""

    def input_range(self) -> tuple[int, int] | None: ...

    def mask_connected(self) -> bool: ...

    def mask_range(self) -> tuple[int, int] | None: ...

    def upstream(self) -> list[tuple[str, str, str, str]]: ...

    def colour_settings(self) -> tuple[str, str, str]: ...

    def script_path(self) -> str: ...

    def write_inputs(
        self,
        paths: jobs.CachePaths,
        first: int,
        last: int,
        write_mask: bool,
        cancelled: Callable[[], bool] | None = None,
    ) -> None: ...

    def show_result(self, pattern: str, first: int, last: int, confidence: bool = False) -> None: ...

    def clear_result(self) -> bool: ...

    def shown_result(self) -> tuple[str, int, int] | None: ...

    def set_status(self, text: str) -> None: ...

    def status(self) -> str: ...

    def check_attached(self) -> None:
        """Raise :class:`NodeDeleted` when the node is gone."""

    def warn(self, text: str) -> None: ...

    def progress(self, title: str) -> ProgressLike: ...


class ConsoleProgress:
    """Progress for ``nuke -t`` / farm logs: one printed line per change instead of a dialog."""

    def __init__(self, title: str, stream: Any = None) -> None:
        self.title = title
        self.stream = stream if stream is not None else sys.stdout
        self.percent = 0
        self.message = ""

    def setMessage(self, message: str) -> None:  # noqa: N802
        self.message = message
        self._print()

    def setProgress(self, percent: int) -> None:  # noqa: N802
        if percent != self.percent:
            self.percent = percent
            self._print()

    def isCancelled(self) -> bool:  # noqa: N802
        return False

    def _print(self) -> None:
        self.stream.write(f"{self.title}: {self.percent:3d}% {self.message}\n")
        self.stream.flush()


@dataclass
class Outcome:
    """What a render did: ``reused`` a cached result, ``cancelled``, or filled ``written`` frames."""

    result: str
    first: int
    last: int
    reused: bool = False
    cancelled: bool = False
    written: int = 0
    #: What the core asks the artist to check (``warning: the hole covers 96 % of frame 1004...``).
    notices: tuple[str, ...] = ()


#: The core's notices name its command-line flags; on the node the same things are knobs.
_KNOB_WORDS: list[tuple[str, str]] = [
    (events.CHECK_HOLE, "check the Mask input, invert mask and dilate"),
    (events.CHECK_EMPTY_MASK, "check the Mask input, mask channel and invert mask"),
]

#: The core's flags that are knobs of the node, by knob name (the label shown is the knob's own, from
#: :data:`.knobs.KNOBS`). Flags with no knob (``--threshold``, ``--option offload=...``) stay as they are.
_FLAG_KNOBS: list[tuple[str, str]] = [
    ("--mask-channel", "mask_channel"),
    ("--invert-mask", "invert_mask"),
    ("--backend", "backend"),
    ("--model", "model"),
    ("--reference", "reference"),
    ("--window", "window"),
    ("--overlap", "overlap"),
    ("--option size=", "model_size"),
    ("--option window=", "window"),
    ("--seed", "seed"),
    ("--steps", "steps"),
    ("--strength", "strength"),
    ("--dilate", "dilate"),
    ("--feather", "feather"),
    ("--frames", "frame_range"),
    ("--colorspace", "colorspace"),
]
_LABELS = knobs.LABELS
#: Phrases that read better turned whole than flag by flag.
_KNOB_PHRASES: list[tuple[str, str]] = [
    (r"\bpass --model PATH to\b", f"set {_LABELS['model']} to the path of"),
    (r"\bpass --model with\b", f"set {_LABELS['model']} to"),
    (r"\b(check|limit|keep) --frames\b", rf"\1 the {_LABELS['frame_range']}"),
    # (the core's frame refusals name the flag and the job's field too: the knob is both)
    (re.escape(events.LIMIT_FRAMES), f"limit the {_LABELS['frame_range']}"),
    (re.escape(events.CHECK_FRAMES), f"check the {_LABELS['frame_range']}"),
    # (the core's mask refusals name the flag and the job's field: the knob is both)
    (re.escape(events.PICK_MASK_CHANNEL), f"set {_LABELS['mask_channel']} to one of them"),
    # (the core's note about a hole over semi-transparent alpha: the node is the fill)
    (re.escape(events.UNPREMULTIPLY), "unpremultiply before AIFill and premultiply after"),
    (
        re.escape(events.GIVE_MASK),
        f"connect the Mask input or set {_LABELS['mask_channel']} to the channel that holds the matte",
    ),
]


def in_knob_words(message: str) -> str:
    """``message`` (a notice or an error of the core) as the node's knobs say it: ``pass --model PATH`` reads
    ``set model to PATH``, ``--invert-mask`` reads ``invert mask``."""
    for flags, words in _KNOB_WORDS:
        message = message.replace(flags, words)
    for pattern, words in _KNOB_PHRASES:
        message = re.sub(pattern, words, message)
    for flag, name in _FLAG_KNOBS:
        label, option = _LABELS[name], re.escape(flag)
        if flag.endswith("="):  # ``--option size=512``: the value follows the name
            message = re.sub(rf"\b(?:pass|use) {option}", f"set {label} to ", message)
            message = message.replace(flag, f"{label} ")
            continue
        message = re.sub(rf"\b(?:pass|use) {option}[ =]", f"set {label} to ", message)
        message = re.sub(rf"\bdrop {option}\b", f"clear {label}", message)
        message = re.sub(rf"(?:\ban? )?{option}(?![\w-])", label, message)
    return message


#: The EXR channel names the internal Writes give Nuke's channels (``jobs.exr_channel``), back to Nuke's.
_NUKE_CHANNELS = {"R": "rgba.red", "G": "rgba.green", "B": "rgba.blue", "A": "rgba.alpha", "Z": "depth.Z"}


def _nuke_channel(name: str) -> str:
    """An EXR channel of a cache file (``A``, ``fill.confidence``) as the artist's Nuke names it."""
    return _NUKE_CHANNELS.get(name, name)


def in_node_words(message: str, paths: jobs.CachePaths, mask_connected: bool) -> str:
    """A core error about the cache files as the node's artist sees it: ``.../mask.1001.exr`` reads ``the Mask
    input at frame 1001`` (the Source's, when the mask channel is taken from it) and the EXR channels the
    internal Writes made (``A``, ``R``) read as Nuke's (``rgba.alpha``, ``rgba.red``)."""
    inputs = [(paths.source, "Source")]
    inputs.append((paths.mask, "Mask" if mask_connected else "Source"))
    for pattern, label in inputs:
        frame_file = re.escape(pattern).replace("\\#\\#\\#\\#", "####").replace("####", r"(-?\d+)")
        message = re.sub(frame_file, rf"the {label} input at frame \1", message)
    message = re.sub(r"no channel '([^']*)'", lambda m: f"no channel {_nuke_channel(m.group(1))}", message)
    return re.sub(
        r"\(channels: ([^)]*)\)",
        lambda m: "(channels: " + ", ".join(_nuke_channel(c.strip()) for c in m.group(1).split(",")) + ")",
        message,
    )


# Renders in flight, by the host's render_key (not the name: the artist may rename the node while it renders).
_ACTIVE: dict[Hashable, threading.Event] = {}
_ACTIVE_LOCK = threading.Lock()


def request_cancel(key: Hashable) -> bool:
    """Ask the render of the node ``key`` identifies to stop; False when none is running."""
    with _ACTIVE_LOCK:
        event = _ACTIVE.get(key)
    if event is None:
        return False
    event.set()
    return True


def is_rendering(key: Hashable) -> bool:
    with _ACTIVE_LOCK:
        return key in _ACTIVE


def plan(
    host: Host, frame_range: str | None, environ: Mapping[str, str]
) -> tuple[jobs.CachePaths, jobs.FillJob, str, int, int]:
    """Everything decided before any file is written: (paths, job, python, first, last)."""
    settings = host.settings()
    first, last = _frames(host, settings, frame_range)
    python = _worker_python(settings, environ)
    _check_server(settings, environ)
    paths, job = _keyed_job(host, settings, first, last, environ)
    return paths, job, python, first, last


def _check_server(settings: Mapping[str, Any], environ: Mapping[str, str]) -> None:
    """A server URL the protocol client would refuse (``gpu-box:8765``, no ``http://``), refused before the
    inputs are written: found only when the job was sent, it cost a write of every Source and Mask frame."""
    server = jobs.server_settings(settings, environ)
    if server is None:
        return
    try:
        check_server_url(server[0])
    except AifxError as exc:
        where = _LABELS["server_url"] if str(settings.get("server_url", "")).strip() else "$AIFX_SERVER"
        raise RenderError(f"{exc}; set {where} to one such as http://gpu-box:8765") from None


def _frames(host: Host, settings: Mapping[str, Any], frame_range: str | None) -> tuple[int, int]:
    """The frames to fill: ``frame_range`` (the farm's), else the knob's, else the Source's; the Mask's cover them."""
    text = settings.get("frame_range", "") if frame_range is None else frame_range
    try:
        first, last = jobs.parse_frame_range(str(text), host.input_range())
        jobs.check_mask_range(host.mask_range(), first, last)
    except jobs.RangeError as exc:
        raise RenderError(str(exc)) from None
    return first, last


def _worker_python(settings: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    """The aifx Python that runs the fill; checked only to run one (showing a cached result needs none)."""
    python = jobs.resolve_python(str(settings.get("aifx_env", "")), environ)
    if jobs.server_settings(settings, environ) is None:  # with a server, no aifx Python is needed here
        if not python:
            raise RenderError(
                "no aifx environment: set 'aifx environment' to the python of an environment with aifx-core "
                "(or set $AIFX_PYTHON, or an aifx server)"
            )
        if not os.path.exists(python):
            raise RenderError(
                f"aifx Python not found at {python}: install aifx-core in a virtualenv and point to its python"
            )
    return python


def _keyed_job(
    host: Host, settings: Mapping[str, Any], first: int, last: int, environ: Mapping[str, str]
) -> tuple[jobs.CachePaths, jobs.FillJob]:
    """The cache folders (keyed on the inputs and settings) and the job: all a cached result is found by."""
    inputs, draft = _draft(host, settings, first, last)
    colorspace, mask_connected = draft.colorspace or "", draft.mask is not None
    cache_root = os.path.expanduser(jobs.expand_vars(str(settings.get("cache_dir", "")).strip(), environ))
    if not cache_root:
        cache_root = jobs.default_cache_root(host.script_path(), tempfile.gettempdir())
    try:
        cache_root = jobs.absolute_cache_root(cache_root, host.script_path())
    except jobs.RangeError as exc:
        raise RenderError(str(exc)) from None
    folder = host.node_name.replace(".", "_")
    paths = jobs.CachePaths.make(cache_root, folder, inputs, jobs.fill_key(inputs, draft))
    job = jobs.build_job(settings, paths, first, last, colorspace, mask_connected)
    try:
        job.validate()
    except InputError as exc:
        raise RenderError(in_knob_words(str(exc))) from None
    return paths, job


def _draft(host: Host, settings: Mapping[str, Any], first: int, last: int) -> tuple[str, jobs.FillJob]:
    """(inputs key, the job with no cache paths): what a fill is keyed on, with no cache folder read."""
    colorspace = jobs.job_colorspace(str(settings.get("colorspace", "")), *host.colour_settings())
    mask_connected = host.mask_connected()
    inputs = jobs.inputs_key(
        host.upstream(), first, last, str(settings.get("mask_channel", "")), mask_connected
    )
    return inputs, jobs.build_job(settings, jobs.CachePaths("", ""), first, last, colorspace, mask_connected)


def _keys(host: Host, settings: Mapping[str, Any], first: int, last: int) -> tuple[str, str]:
    """(inputs key, fill key) of a fill of these frames (:attr:`jobs.CachePaths.keys`): what a shown result is
    checked against, wherever the cache folder is (so it needs no cache folder, aifx environment or server)."""
    inputs, draft = _draft(host, settings, first, last)
    return inputs, jobs.fill_key(inputs, draft)


def attach_cached(host: Host, environ: Mapping[str, str] | None = None) -> bool:
    """Show a finished result of the node's current inputs and settings, if the cache has one; write nothing.

    Run when a script opens: a farm task (``render.py``) fills the cache but does not save the script. The comp
    machine needs no aifx Python for this: only the key.
    """
    try:
        settings = host.settings()
        first, last = _frames(host, settings, None)
        paths, job = _keyed_job(host, settings, first, last, os.environ if environ is None else environ)
    except RenderError as exc:
        reason = f"not rendered: {exc}"  # (what to fix, whether or not it rendered when saved)
        _forget_on_load(host, reason, interrupted=reason)
        return False
    shown = host.shown_result()
    result = _finished_result(paths, first, last, shown)
    if result is None:
        if shown is not None and jobs.result_keys(shown[0]) == paths.keys:
            _forget_on_load(host, not_found(paths))
        else:
            _forget_on_load(host, STALE)
        return False
    host.show_result(result, first, last, job.confidence)
    host.set_status(f"done: frames {first}-{last} (found in the cache when the script opened)")
    return True


def _finished_result(
    paths: jobs.CachePaths, first: int, last: int, shown: tuple[str, int, int] | None
) -> str | None:
    """The finished fill of these keys and frames: in the node's cache folder, else the one its Read shows
    (``shown``: ``Host.shown_result()``, asked by the caller, which may want it again).

    The keys name what a result is the fill of; the folder holding it does not: a script saved showing a result
    and opened from another folder (the default cache folder is beside the script), a node renamed since (its
    name is a folder of the cache) or a cache folder knob changed keep their finished fill."""
    if jobs.is_marked_done(paths.result_done, first, last, paths.result):
        return paths.result
    if shown is None or shown[1:] != (first, last) or jobs.result_keys(shown[0]) != paths.keys:
        return None
    done = os.path.join(os.path.dirname(shown[0]), os.path.basename(paths.result_done))
    return shown[0] if jobs.is_marked_done(done, first, last, shown[0]) else None


def _forget_on_load(host: Host, status: str, interrupted: str | None = None) -> None:
    """:func:`_forget_result` for a script just opened; a status that a render in flight left in it (saved or
    autosaved while the node wrote its inputs or ran its worker: ``rendering 1001-1003``) becomes
    ``interrupted`` (default :data:`INTERRUPTED`) too: no render runs in a script just opened, and none would
    ever change it."""
    if host.clear_result():
        host.set_status(status)
    elif _in_flight(host.status()):
        host.set_status(INTERRUPTED if interrupted is None else interrupted)


#: What the node says while a render runs (:func:`_fill`): writing its inputs, then running its worker.
WRITING_INPUTS = "writing inputs"
RENDERING = "rendering"


def _in_flight(status: str) -> bool:
    """Whether ``status`` is one a render shows while it runs (``writing inputs 1001-1003``, ``rendering ...``)."""
    return re.fullmatch(rf"(?:{WRITING_INPUTS}|{RENDERING}) -?\d+--?\d+", status.strip()) is not None


#: The status of a node whose script was saved while it rendered, opened again with no result of it cached.
INTERRUPTED = "not rendered: the script was saved while this node rendered; press Render (or run render.py)"


def not_found(paths: jobs.CachePaths) -> str:
    """The status of a node whose inputs and settings are those of its saved result, which is gone."""
    root = os.path.dirname(os.path.dirname(paths.inputs_dir))
    return (
        f"not rendered: no finished result of these inputs and settings under {root} (the cache was moved or "
        "cleared); press Render (or run render.py), or set the cache folder to where the result is"
    )


#: The status of a node whose saved result is not the fill of its inputs and settings any more.
STALE = "not rendered: the inputs or settings changed since the last render; press Render (or run render.py)"


#: The status of a node whose result was forgotten because the artist changed a setting or an input since.
CHANGED_SETTING = "not rendered: a setting changed since the last render; press Render (or run render.py)"
CHANGED_INPUT = (
    "not rendered: an input was reconnected since the last render; press Render (or run render.py)"
)


def on_setting_changed(host: Host, input_changed: bool = False) -> bool:
    """The artist changed one of the node's settings or reconnected an input (seen by knobChanged or updateUI,
    in the adapter): forget the shown result when it is not the fill of the settings now; True when it was
    forgotten.

    Runs in Nuke's main thread on an edit, so a setting stays cheap: no upstream walk, no file read. The shown
    result's path holds its inputs key, so the fill key of the new settings is compared on that key alone
    (a knob the backend does not read leaves the result alone). What feeds an input changed (``input_changed``,
    rare: a rewire, a node above renamed): the key is made as :func:`check_shown` makes it, one walk, and the
    result kept only when it is the fill of the inputs now (a renamed Read: names are not keyed; the plate put
    back). An upstream change (a Read versioned up) is not seen here: :func:`check_shown` refuses it before a
    render."""
    shown = host.shown_result()
    if shown is None:
        return False
    if input_changed:
        if _fill_of_inputs_now(host, shown):
            return False
        _forget_result(host, CHANGED_INPUT)
        return True
    pattern, first, last = shown
    keys = jobs.result_keys(pattern)
    try:
        settings = host.settings(keyed_only=True)
        same_range = _frames(host, settings, None) == (first, last)
        colorspace = jobs.job_colorspace(str(settings.get("colorspace", "")), *host.colour_settings())
        draft = jobs.build_job(
            settings, jobs.CachePaths("", ""), first, last, colorspace, host.mask_connected()
        )
        same = same_range and keys is not None and jobs.fill_key(keys[0], draft) == keys[1]
    except (RenderError, ValueError, TypeError, KeyError):
        same = False
    if not same:
        _forget_result(host, CHANGED_SETTING)
    return not same


def _fill_of_inputs_now(host: Host, shown: tuple[str, int, int]) -> bool:
    """Whether ``shown`` (the node's result) is the fill of its inputs and settings now, as a Render of the
    same frames would key it (the upstream walk), and those are the frames a Render would fill."""
    pattern, first, last = shown
    try:
        settings = host.settings(keyed_only=True)
        if _frames(host, settings, None) != (first, last):
            return False
        keys = _keys(host, settings, first, last)
    except (RenderError, ValueError, TypeError, KeyError):
        return False
    return jobs.result_keys(pattern) == keys


def check_shown(host: Host) -> str | None:
    """beforeRender: None when the node shows no result (its output errors by itself) or the fill of its
    inputs and settings now; else why not, with the shown result forgotten (a comp must not render an old fill).

    The key is made over the shown frames, as a render of them would make it: an upstream node changed in this
    session (a plate versioned up, a roto edited) gives another inputs key."""
    shown = host.shown_result()
    if shown is None:
        return None
    pattern, first, last = shown
    try:
        keys = _keys(host, host.settings(keyed_only=True), first, last)
    except RenderError as exc:
        reason = f"cannot check its result: {exc}"
    else:
        if jobs.result_keys(pattern) == keys:
            return None
        reason = (
            "its inputs or settings changed since its render; press Render on it (or run render.py) first"
        )
    _forget_result(host, f"not rendered: {reason}")
    return reason


def _forget_result(host: Host, status: str) -> None:
    """A script saved after a render keeps its Read on that result: when the node's inputs or settings have
    changed since (or cannot be read), the Read goes back to its error, so a comp fails instead of rendering
    the old fill (docs/nuke.md, Farm rendering). A node that never showed a result keeps its status."""
    if host.clear_result():
        host.set_status(status)


def render(
    host: Host,
    frame_range: str | None = None,
    environ: Mapping[str, str] | None = None,
    poll_interval: float = 0.1,
    cancel: threading.Event | None = None,
) -> Outcome:
    """Render one AIFill node (see the module doc); raises :class:`RenderError` with the status line set.

    ``cancel``: set it to stop the render (the farm's SIGTERM and Ctrl-C do); the Cancel button sets its own."""
    environ = os.environ if environ is None else environ
    cancel = threading.Event() if cancel is None else cancel
    with _ACTIVE_LOCK:
        if host.render_key in _ACTIVE:
            raise RenderError(f"{host.node_name} is already rendering: wait for it or press Cancel")
        _ACTIVE[host.render_key] = cancel
    try:
        return _render(host, frame_range, environ, poll_interval, cancel)
    except RenderError as exc:
        host.set_status(f"error: {exc}")
        raise
    finally:
        with _ACTIVE_LOCK, contextlib.suppress(ValueError):  # (Nuke may refuse to hash a deleted node)
            _ACTIVE.pop(host.render_key, None)


def _render(
    host: Host,
    frame_range: str | None,
    environ: Mapping[str, str],
    poll_interval: float,
    cancel: threading.Event,
) -> Outcome:
    paths, job, python, first, last = plan(host, frame_range, environ)
    cached = _finished_result(paths, first, last, host.shown_result())
    if cached is not None:
        host.show_result(cached, first, last, job.confidence)
        host.set_status(f"done: frames {first}-{last} (cached, nothing changed)")
        return Outcome(cached, first, last, reused=True)

    outcome = _fill(host, paths, job, python, first, last, environ, poll_interval, cancel)
    if outcome.cancelled:
        return outcome
    if not _still_current(host, paths, first, last, frame_range):
        # Kept in the cache (Render finds it again if the setting goes back), but not shown: it is the fill of
        # the settings the render started with, not of those the panel shows now.
        host.clear_result()
        host.set_status(CHANGED_DURING_RENDER)
        return outcome
    host.show_result(paths.result, first, last, job.confidence)
    for (
        notice
    ) in outcome.notices:  # the worker's stderr reaches no artist: the Error Console and farm logs do
        host.warn(notice)
    done = f"done: frames {first}-{last} ({outcome.written} filled now)"
    host.set_status("; ".join([done, *outcome.notices]))
    return outcome


#: The status of a node whose setting (or input) changed while it rendered: its fill is not shown.
CHANGED_DURING_RENDER = (
    "not rendered: a setting changed during the render; press Render again (the finished fill is kept in the "
    "cache)"
)


def _still_current(
    host: Host,
    paths: jobs.CachePaths,
    first: int,
    last: int,
    frame_range: str | None,
) -> bool:
    """Whether ``paths``' result is still the fill of the node's frames, inputs and settings now: in the GUI the
    artist may change a setting (dilate 4 to 12), reconnect an input or edit upstream while it renders, and
    showing it then would say "done" over the fill of the old ones."""
    try:
        settings = host.settings(keyed_only=True)
        now = _frames(host, settings, frame_range)
        keys = _keys(host, settings, now[0], now[1])
    except RenderError:
        return False
    return now == (first, last) and keys == paths.keys


@contextlib.contextmanager
def _cache_folder(paths: jobs.CachePaths) -> Iterator[None]:
    """A cache folder that cannot be written (a file, read-only, a full disk) is a one-line error naming it
    and the knob, not a traceback. Around the cache writes only: an OSError elsewhere (starting the aifx Python)
    is not the cache folder's."""
    try:
        yield
    except OSError as exc:
        where = exc.filename or os.path.dirname(os.path.dirname(paths.inputs_dir))
        raise RenderError(
            f"cannot write the cache folder ({where}): {exc.strerror or exc}; set {_LABELS['cache_dir']} to a "
            "folder this machine can write"
        ) from None


def _fill(
    host: Host,
    paths: jobs.CachePaths,
    job: jobs.FillJob,
    python: str,
    first: int,
    last: int,
    environ: Mapping[str, str],
    poll_interval: float,
    cancel: threading.Event,
) -> Outcome:
    """Write the inputs (unless cached) and run the worker; the caller shows its result."""
    task = host.progress(f"AIFill {host.node_name}")

    def stop_asked() -> bool:
        """The progress dialog's Cancel or the node's (or the farm's SIGTERM): asked before each step."""
        return cancel.is_set() or bool(task.isCancelled())

    if not _inputs_cached(paths, first, last, job.mask is not None):
        task.setMessage(f"writing Source and Mask, frames {first}-{last}")
        host.set_status(f"{WRITING_INPUTS} {first}-{last}")
        try:
            with _cache_folder(paths):
                host.write_inputs(paths, first, last, job.mask is not None, stop_asked)
        except InputsCancelled as exc:
            host.set_status(f"cancelled while writing {exc}: nothing filled yet, Render starts again")
            return Outcome(paths.result, first, last, cancelled=True)
        missing = [
            p
            for p in _input_patterns(paths, job.mask is not None)
            if not os.path.exists(jobs.frame_path(p, first))
        ]
        if missing:
            raise RenderError(f"writing the inputs made no {missing[0]}; check the Source/Mask inputs render")
        with _cache_folder(paths):
            jobs.mark_done(paths.inputs_done, first, last)
    task.setProgress(jobs.WRITE_SHARE)
    if stop_asked():  # asked while the inputs were written: start no worker
        host.set_status("cancelled: finished frames are kept, Render resumes")
        return Outcome(paths.result, first, last, cancelled=True)

    with _cache_folder(paths):
        jobs.save_job(job, paths.job)
    host.set_status(f"{RENDERING} {first}-{last}")
    server = jobs.server_settings(host.settings(), environ)
    worker: WorkerProcess | RemoteWorker
    try:
        if server:
            with _cache_folder(paths):  # (it reads the job file from the cache folder to send it)
                worker = RemoteWorker(server[0], server[1], paths.job).start()
        else:
            worker = _local_worker(python, paths, environ)
    except AifxError as exc:  # the server refused the job or could not be reached
        raise RenderError(in_knob_words(str(exc))) from None
    cancelled = _follow(worker, task, cancel, poll_interval, host.check_attached)
    final = worker.final or {}
    if cancelled or final.get("event") == events.CANCELLED:
        host.set_status("cancelled: finished frames are kept, Render resumes")
        return Outcome(paths.result, first, last, cancelled=True)
    if worker.returncode != 0 or final.get("event") != events.DONE:
        raise RenderError(in_node_words(in_knob_words(worker.error_message()), paths, job.mask is not None))
    with _cache_folder(paths):
        jobs.mark_done(paths.result_done, first, last)
    written = len(final.get("written") or [])
    notices = [in_knob_words(notice) for notice in events.notices(final)]
    task.setProgress(100)
    return Outcome(paths.result, first, last, written=written, notices=tuple(notices))


def _local_worker(python: str, paths: jobs.CachePaths, environ: Mapping[str, str]) -> WorkerProcess:
    """The aifx worker started on this machine; an aifx environment that does not run (a folder, a file that is
    not executable) is named, not taken for the cache folder's fault."""
    try:
        return WorkerProcess(python, paths.job, env=jobs.worker_environment(environ)).start()
    except OSError as exc:
        raise RenderError(
            f"cannot run the aifx Python at {python} ({exc.strerror or exc}); set {_LABELS['aifx_env']} to the "
            "python executable of an environment with aifx-core"
        ) from None


def _input_patterns(paths: jobs.CachePaths, with_mask: bool) -> Sequence[str]:
    return [paths.source, paths.mask] if with_mask else [paths.source]


def _inputs_cached(paths: jobs.CachePaths, first: int, last: int, with_mask: bool) -> bool:
    return all(
        jobs.is_marked_done(paths.inputs_done, first, last, p) for p in _input_patterns(paths, with_mask)
    )


def _follow(
    worker: WorkerProcess | RemoteWorker,
    task: ProgressLike,
    cancel: threading.Event,
    poll_interval: float,
    check_attached: Callable[[], None],
) -> bool:
    """Forward the worker's events to the progress task until it ends; True when the artist cancelled.

    ``check_attached`` (:meth:`Host.check_attached`) raises :class:`NodeDeleted` once the node is gone: its
    Cancel button went with it, so the worker is stopped here (it finishes no partial frame). So it is on any
    other failure while it runs (a call Nuke's main thread did not run): raised past here with the worker still
    running, the node would count as not rendering, and Render again would start a second worker on the same
    cache folder."""
    while True:
        try:
            running = worker.running()
            for event in worker.poll():
                if event.get("event") == events.PROGRESS:
                    task.setMessage(events.describe(event))
                percent = events.percent(event, jobs.WRITE_SHARE)
                if percent is not None:
                    task.setProgress(percent)
            check_attached()
            asked = task.isCancelled() or cancel.is_set()
        except BaseException as exc:
            worker.cancel()
            worker.wait()
            if isinstance(exc, NodeDeleted):
                exc.worker_stopped = True
            raise
        if asked:
            worker.cancel()
            worker.wait()
            return True
        if not running:
            worker.wait()
            return False
        time.sleep(poll_interval)
