"""A small stand-in for Foundry's ``nuke`` module, for testing the aifx plugin without Nuke.

It follows the documented Python API (learn.foundry.com/nuke/developers/.../pythondevguide) for exactly what
the plugin uses, and it is as strict as Nuke where Nuke bites:

- **Main thread.** With ``GUI`` on, knobs, nodes and module functions refuse calls from any thread but the main
  one; ``executeInMainThreadWithResult`` queues the call for the main thread (a test runs the queue with
  :func:`_run_main_loop`, as Nuke's event loop does) and, like Nuke's (``nuke/executeInMain.py``), prints an
  exception's traceback and returns ``None``. ``ProgressTask`` may be used from any thread.
- **Deleted nodes.** Like Nuke's, the Python object of a node that is gone (``delete``: the node, or a group
  holding it; every node of the script after ``scriptClear`` / ``scriptClose``) and of its knobs raises
  ``ValueError("A PythonObject is not attached to a node")`` at any call (:data:`DETACHED`).
- **Command line.** ``python -m nuke -t script.py args`` (see ``__main__.py``) strips a trailing frame range from
  ``sys.argv`` as Nuke does; the full command line stays in :data:`rawArgs`.
- **Bounding boxes.** Images carry a format (EXR display window) and a bbox (EXR data window); a Read of an EXR
  keeps the file's data window, a Crop sets the bbox to its box, and a Write of an EXR writes the input's bbox
  as the data window (Foundry's ``exrWriter.C``: ``bound`` from ``input->x(), y(), r(), t()``).
- **Proxy and views.** With the root's ``proxy`` on, Reads deliver images scaled by ``proxy_scale``, or their
  ``proxy`` file where one is set (Foundry's Read reference; the fake takes it as made at the proxy scale);
  ``execute`` renders every view of the root's ``views`` unless told which (a Write without ``%V`` in its path
  ends up with the last one); ``%V``/``%v`` in a Read's path become the view.
- **Knobs.** File knobs hold text; ``evaluate()`` performs the TCL substitutions Nuke does (``[getenv X]``,
  ``[value root.name]``, ``[file dirname ...]``), ``value()`` does not and gives a sequence in printf notation
  (``%04d``); a String_Knob's ``value()`` is evaluated too, its ``getText()`` is the text as typed. A ``Channel_Knob`` of the default
  depth (0: a layer) holds a layer, depth 1 one channel. Buttons (``PyScript_Knob``) share the line of the
  knob before them unless ``STARTLINE`` is set.
- **Channels and layers.** A script knows Nuke's default layers (``rgba``, ``depth``, ``mask``...); any other
  layer exists only once it is added (``nuke.Layer(name, channels)``, or a Read opening an EXR whose channel
  is ``layer.channel``). A channel knob refuses a channel or layer that does not exist, ``nuke.layers()`` /
  ``Node.channels()`` list what exists, and a saved script keeps the custom layers its knobs refer to (Nuke
  writes them as ``add_layer``; the others are dropped). ``Shuffle`` moves a layer's channels into rgba by
  position (old Shuffle: ``red red`` = the ``in`` layer's first channel).
- **Callbacks.** ``knobChanged`` callbacks (``addKnobChanged``) run only while the node's panel is open
  (``showControlPanel``; Foundry 13.2: "The purpose is to update other knobs in the control panel. Use
  addUpdateUI() for changes that should happen even when the panel is closed"), for what the artist does
  there, never for a Python ``setValue``, as in Nuke 14-16; playing 17.1 (:data:`NUKE_VERSION_MAJOR`,
  ``$AIFX_FAKE_NUKE_VERSION``) they run for every knob change, panel open or not
  (:func:`_knob_changed_by_any_change`): a test plays the artist with :func:`_user_set`
  and :func:`_user_connect` (the knob is then ``inputChange``); opening the panel calls them with the dummy
  knob ``showPanel``, closing it with ``hidePanel``. ``updateUI`` callbacks (``addUpdateUI``: "on every node
  when things change. This is done during idle") run only in the GUI, on every node, when a test plays
  Nuke's event loop going idle with :func:`_idle`.
  ``beforeRender`` callbacks (``addBeforeRender``, Write nodes) run in ``execute`` before the first frame with
  ``thisNode()`` the Write; one that raises aborts the render (Foundry: "If they throw an exception, the render
  aborts"), and ``execute`` raises it as a ``RuntimeError``.
- **Scripts.** ``scriptSave`` writes the graph (every node, knob and connection) to disk and ``scriptOpen``
  builds a new graph from that file alone: nothing held in memory survives.

``execute`` on a Write really renders: it pulls each frame through the graph and writes an EXR with OpenEXR,
so the aifx worker gets real input. Test helpers start with an underscore.
"""

from __future__ import annotations

import json
import os
import queue
import re
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import OpenEXR

GUI = False
WRITE_NON_DEFAULT_ONLY = 0x1
TO_SCRIPT = 0x2
STARTLINE = 0x1000
#: ``Node.dependencies`` masks (Foundry: "visible input pipes", "hidden input pipes", "expressions", link knobs).
INPUTS = 0x1
HIDDEN_INPUTS = 0x2
EXPRESSIONS = 0x4
LINKINPUTS = 0x8

#: The whole command line, as Nuke keeps it (``sys.argv`` may have lost a trailing frame range).
rawArgs: list[str] = []

# -- recorded state (tests read these) ---------------------------------------------------------------------------
execute_log: list[tuple[str, int, int]] = []
execute_views: list[list[str]] = []
progress_tasks: list[ProgressTask] = []
messages: list[str] = []
warnings: list[str] = []
opened_scripts: list[str] = []
menus: dict[str, Menu] = {}


class CancelledError(Exception):
    pass


# -- the main thread ---------------------------------------------------------------------------------------------

_main_calls: queue.Queue[tuple[Callable[..., Any], tuple, dict, threading.Event | None, list]] = queue.Queue()


def _check_thread(what: str) -> None:
    """Nuke's objects belong to its main thread; a GUI session must not touch them from another."""
    if GUI and threading.current_thread() is not threading.main_thread():
        raise RuntimeError(
            f"nuke: {what} called from thread {threading.current_thread().name}; Nuke calls must run in the "
            "main thread (nuke.executeInMainThreadWithResult)"
        )


class _MainThreadOnly:
    """Public attributes of knobs and nodes may only be used from the main thread (in a GUI session)."""

    def __getattribute__(self, name: str) -> Any:
        if not name.startswith("_"):
            _check_thread(f"{type(self).__name__}.{name}")
            _check_attached(self)
            if name in _KNOB_SETTERS and isinstance(self, Knob):
                return _telling_knob_changed(self, object.__getattribute__(self, name))
        return object.__getattribute__(self, name)


def executeInMainThread(call: Callable[..., Any], args: Any = (), kwargs: Any = None) -> None:
    """Queue ``call`` for the main thread and return at once (headless: call it now)."""
    if not GUI:
        call(*_as_tuple(args), **(kwargs or {}))
        return
    _main_calls.put((call, _as_tuple(args), dict(kwargs or {}), None, []))


def executeInMainThreadWithResult(call: Callable[..., Any], args: Any = (), kwargs: Any = None) -> Any:
    """Run ``call`` in the main thread and wait; an exception is printed and ``None`` returned, as in Nuke."""
    args = _as_tuple(args)
    if not GUI:
        return _call_printing_errors(call, args, dict(kwargs or {}))
    if threading.current_thread() is threading.main_thread():
        # Nuke's (executeInMain.py) queues the call and waits on an event only the main thread's event loop
        # sets: called from the main thread it hangs. A hang in a test is worse than this error.
        raise RuntimeError(
            "nuke.executeInMainThreadWithResult called from the main thread: Nuke would hang here (call the "
            "function directly)"
        )
    done = threading.Event()
    box: list = []
    _main_calls.put((call, args, dict(kwargs or {}), done, box))
    done.wait()
    return box[0] if box else None


def _call_printing_errors(call: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    try:
        return call(*args, **kwargs)
    except Exception:
        traceback.print_exc()
        return None


def _run_main_loop(thread: threading.Thread, timeout: float = 120.0) -> None:
    """The test's main thread serves queued calls until ``thread`` ends (Nuke's event loop does this)."""
    import time

    deadline = time.monotonic() + timeout
    while thread.is_alive() or not _main_calls.empty():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{thread.name} still running after {timeout} s")
        try:
            call, args, kwargs, done, box = _main_calls.get(timeout=0.02)
        except queue.Empty:
            continue
        box.append(_call_printing_errors(call, args, kwargs))
        if done is not None:
            done.set()


def _as_tuple(args: Any) -> tuple:
    return args if isinstance(args, tuple) else (args,)


# -- deleted nodes and closed scripts ----------------------------------------------------------------------------

#: What Nuke raises (as a ValueError) for any call on the Python object of a node that no longer exists: deleted
#: (``nuke.delete``, the artist's Delete key, the group holding it deleted) or gone with its script
#: (``scriptClear``, ``scriptClose``). Public tools guard against it (Cryptomatte's ``_limbo_state``, the
#: ``safeNode`` helpers catch this ValueError).
DETACHED = "A PythonObject is not attached to a node"


def _check_attached(item: Any) -> None:
    """A deleted node's (or its knob's) Python object refuses every call, as Nuke's does."""
    if object.__getattribute__(item, "__dict__").get("_detached"):
        raise ValueError(DETACHED)


def _detach(node: Node) -> None:
    """``node``, the nodes inside it (a Group's) and all their knobs stop being any node's."""
    stack = [node]
    while stack:
        here = stack.pop()
        object.__setattr__(here, "_detached", True)
        for knob in here._knobs.values():
            object.__setattr__(knob, "_detached", True)
        if isinstance(here, Group):
            stack.extend(here._children)


def scriptClear(resetToCompiledDefaults: bool = False, clearUserKnobs: bool = False) -> None:  # noqa: N802, N803
    """Foundry: "Clears a Nuke script and resets all the root knobs to user defined knob defaults" (the fake's
    root knobs go back to those it was made with; ``clearUserKnobs`` removes the root's user knobs). Every node
    of the script goes: their Python objects raise ``ValueError(DETACHED)`` from then on. The root stays the
    root (``nuke.root()``)."""
    global _selected
    _check_thread("nuke.scriptClear")
    for node in list(_root._children):
        _detach(node)
    _root._children.clear()
    for name, knob in list(_root._knobs.items()):
        if name in _root._user:
            if clearUserKnobs:
                _root.removeKnob(knob)
            continue
        knob._value = _root._defaults[name]
        knob._expression = None
    _context[:] = [_root]
    _selected = None
    _reset_layers()


def scriptClose(*args: Any, **kwargs: Any) -> bool:  # noqa: N802
    """Close the current script (File > Close; Nuke asks to save a modified one first, the fake does not): its
    nodes go as with :func:`scriptClear`. True when closed."""
    _check_thread("nuke.scriptClose")
    scriptClear()
    return True


# -- the Nuke version played: knobChanged -------------------------------------------------------------------------

#: The Nuke version the fake plays (Nuke's ``nuke.NUKE_VERSION_MAJOR`` / ``MINOR``); ``_reset`` takes it from
#: ``$AIFX_FAKE_NUKE_VERSION`` (``17.1``), else 16.0. What differs between the versions docs/nuke.md supports is
#: when ``knobChanged`` runs (:func:`_knob_changed_by_any_change`).
NUKE_VERSION_MAJOR = 16
NUKE_VERSION_MINOR = 0

#: The knob methods that change a knob's value (what a Python script or the plugin calls).
_KNOB_SETTERS = frozenset({"setValue", "setValues", "setExpression", "clearAnimated"})


def _knob_changed_by_any_change() -> bool:
    """Whether ``knobChanged`` runs for every change of a knob. Foundry's ``addKnobChanged``, 13.2: "Add code to
    execute when the user changes a knob ... The purpose is to update other knobs in the control panel. Use
    addUpdateUI() for changes that should happen even when the panel is closed" (the fake: the artist's edits in
    an open panel); 17.1: "This callback is triggered for any knob change, including changes made
    programmatically and changes that occur even when the Properties panel is closed"."""
    return (NUKE_VERSION_MAJOR, NUKE_VERSION_MINOR) >= (17, 1)


def _telling_knob_changed(knob: Knob, method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` (a knob's setter), then, where the version played says so, the knobChanged callbacks of its
    node with ``thisKnob()`` the knob."""

    def call(*args: Any, **kwargs: Any) -> Any:
        result = method(*args, **kwargs)
        node = knob._node
        if _knob_changed_by_any_change() and node is not None and not node.__dict__.get("_detached"):
            _run_node_callbacks(_knob_changed, node, knob)
        return result

    return call


def _version_from_environment() -> None:
    """``$AIFX_FAKE_NUKE_VERSION`` (``17.1``) → the version played (a test run playing another Nuke)."""
    global NUKE_VERSION_MAJOR, NUKE_VERSION_MINOR
    major, _, minor = os.environ.get("AIFX_FAKE_NUKE_VERSION", "16.0").partition(".")
    NUKE_VERSION_MAJOR, NUKE_VERSION_MINOR = int(major), int(minor or 0)


# -- knobs -------------------------------------------------------------------------------------------------------


class Knob(_MainThreadOnly):
    _default: Any = ""
    _startline = True

    def __init__(self, name: str, label: str | None = None, *args: Any) -> None:
        self._name = name
        self._label = label or name
        self._value = self._default
        self._tooltip = ""
        self._flags = STARTLINE if self._startline else 0
        self._node: Node | None = None
        self._expression: str | None = None

    def name(self) -> str:
        return self._name

    def label(self) -> str:
        return self._label

    def value(self) -> Any:
        return self._value

    def getValue(self) -> Any:
        return self._value

    def setValue(self, value: Any) -> bool:
        self._value = value
        return True

    def setTooltip(self, text: str) -> None:
        self._tooltip = text

    def tooltip(self) -> str:
        return self._tooltip

    def setFlag(self, flag: int) -> None:
        self._flags |= flag

    def clearFlag(self, flag: int) -> None:
        self._flags &= ~flag

    def getFlag(self, flag: int) -> bool:
        return bool(self._flags & flag)

    def Class(self) -> str:
        return type(self).__name__

    def node(self) -> Node | None:
        return self._node

    def toScript(self) -> str:
        return "{{" + self._expression + "}}" if self._expression else str(self._value)

    def setExpression(self, expression: str, index: int = -1, view: str | None = None) -> bool:
        """An expression evaluated per frame (Nuke's syntax; the fake knows ``frame``, numbers, comparisons,
        ``||``/``&&`` and ``?:``-free arithmetic)."""
        _expression_value(expression, 0)  # refuse what the fake cannot evaluate now, not at render time
        self._expression = expression
        return True

    def hasExpression(self, index: int = -1) -> bool:
        return self._expression is not None

    def isAnimated(self, channel: int = -1) -> bool:
        """Keys or an expression (the fake has no keys: an expression)."""
        return self._expression is not None

    def clearAnimated(self, channel: int = -1) -> bool:
        self._expression = None
        return True

    def _at(self, frame: int) -> Any:
        """The value at ``frame``: the expression's result, else the value."""
        return self._value if self._expression is None else _expression_value(self._expression, frame)


def _expression_value(expression: str, frame: int) -> float:
    """A Nuke expression of ``frame`` (``frame < 1010 || frame > 1050``) → its number (True is 1)."""
    text = expression.replace("||", " or ").replace("&&", " and ")
    if not re.fullmatch(r"[\sframe0-9.<>=!()+\-*/andor]*", text):
        raise ValueError(f"the fake cannot evaluate the expression {expression!r}")
    return float(eval(text, {"__builtins__": {}}, {"frame": frame}))  # noqa: S307 (checked above)


class Int_Knob(Knob):
    _default = 0

    def setValue(self, value: Any) -> bool:
        self._value = int(value)
        return True


class Double_Knob(Knob):
    _default = 0.0

    def setValue(self, value: Any) -> bool:
        self._value = float(value)
        return True


class Boolean_Knob(Knob):
    _default = False

    def setValue(self, value: Any) -> bool:
        self._value = bool(value)
        return True


class BBox_Knob(Knob):
    """x, y, r, t in Nuke's pixel coordinates (origin bottom left)."""

    _default: Any = (0.0, 0.0, 1.0, 1.0)

    def setValue(self, value: Any, index: int = -1) -> bool:
        if index >= 0:
            values = list(self._value)
            values[index] = float(value)
            self._value = tuple(values)
        else:
            self._value = tuple(float(v) for v in value)
            if len(self._value) != 4:
                raise ValueError(f"{self._name}: a box has 4 values")
        return True

    def toScript(self) -> str:
        return "{" + " ".join(f"{v:g}" for v in self._value) + "}"


class String_Knob(Knob):
    """Text. Foundry's String_Knob (12.2 Python reference): ``value()`` "Get the evaluated value of this knob as
    a string" (TCL substituted: ``[getenv SHOW]``; a bracket that is no command, or one never closed, fails),
    ``getText()`` "Get the non-evaluated value of this knob"."""

    def setValue(self, value: Any) -> bool:
        self._value = str(value)
        return True

    def value(self) -> str:
        return _tcl_substitute(str(self._value))

    def getValue(self) -> str:
        return self.value()

    def getText(self) -> str:
        return str(self._value)


class EvalString_Knob(String_Knob):
    def evaluate(self) -> str:
        """The text with Nuke's TCL substitutions done (``getText()`` gives the text as typed)."""
        return _tcl_substitute(str(self._value))


class File_Knob(EvalString_Knob):
    """A file path. Foundry's ``File_Knob.value()`` / ``getValue()`` (7.0 and 12.2 Python reference): "Returns
    the string on this knob, will be normalized to technical notation if sequence (%4d)": ``plate.####.exr``
    reads ``plate.%04d.exr``. The text as typed is what the knob holds: what a saved script (``toScript``,
    ``writeKnobs``) keeps and what ``evaluate()`` substitutes in."""

    def value(self) -> str:
        return re.sub(r"#+", lambda m: f"%0{len(m.group(0))}d", str(self._value))

    def getValue(self) -> str:
        return self.value()


class Channel_Knob(Knob):
    """Depth 0 (the default, Nuke's 4 channels) selects a layer; depth 1 selects one channel.

    Like Nuke's, it takes only a channel (or layer) the script knows: add a layer before using it."""

    _default = "none"

    def __init__(self, name: str, label: str | None = None, depth: int = 0) -> None:
        super().__init__(name, label)
        self._depth = int(depth)

    def depth(self) -> int:
        return self._depth

    def setValue(self, value: Any) -> bool:
        text = str(value)
        if self._depth == 1:
            _require_channel(text, self._name)
            self._value = text
        else:
            self._value = text.split(".", 1)[0]
            _require_layer(self._value, self._name)
        return True


class ChannelMask_Knob(Knob):
    """A set of channels (a Write's ``channels``, a Shuffle's ``in``/``out``): ``all``, ``none`` or a layer."""

    def setValue(self, value: Any) -> bool:
        text = str(value)
        if text not in ("all", "none"):
            _require_layer(text, self._name)
        self._value = text
        return True


class Text_Knob(Knob):
    def __init__(self, name: str, label: str | None = None, text: str = "") -> None:
        super().__init__(name, label)
        self._value = text


class Tab_Knob(Knob):
    pass


class Enumeration_Knob(Knob):
    def __init__(self, name: str, label: str | None = None, values: list[str] | None = None) -> None:
        super().__init__(name, label)
        self._values = list(values or [])
        self._value = self._values[0] if self._values else ""

    def values(self) -> list[str]:
        return list(self._values)

    def numValues(self) -> int:
        return len(self._values)

    def setValues(self, items: list[str]) -> None:
        """(Re)initialise the menu (Foundry). Nuke holds the selection as an index: the item at the old index
        (the first item when the menu is shorter) is selected after, so set the value again by name."""
        index = self._values.index(self._value) if self._value in self._values else 0
        self._values = [str(item) for item in items]
        self._value = self._values[index] if index < len(self._values) else (self._values or [""])[0]

    def setValue(self, value: Any) -> bool:
        if isinstance(value, int) and not isinstance(value, bool):
            value = self._values[value]
        if value not in self._values:
            raise ValueError(f"Bad value for {self._name} : {value}")
        self._value = value
        return True


class PyScript_Knob(Knob):
    _startline = False  # a button sits beside the knob before it unless STARTLINE is set

    def __init__(self, name: str, label: str | None = None, command: str = "") -> None:
        super().__init__(name, label)
        self._value = command

    def command(self) -> str:
        return str(self._value)

    def execute(self) -> None:
        """Run the button's Python with ``nuke.thisNode()`` = the knob's node, as Nuke does."""
        global _this
        previous, _this = _this, self._node
        try:
            exec(self.command(), {})
        finally:
            _this = previous


def _tcl_substitute(text: str) -> str:
    """The few TCL commands artists put in file knobs, as TCL substitutes them: one pass left to right, a
    command's result never read again (a ``[getenv]`` value holding a bracket is text), ``\\[`` and ``\\]``
    a bracket as text, and a ``[`` never closed in the text an error ("missing close-bracket")."""
    result, _ = _tcl_scan(text, 0, text, nested=False)
    return result


def _tcl_scan(text: str, start: int, whole: str, nested: bool) -> tuple[str, int]:
    """Substitute ``text`` from ``start`` up to the ``]`` closing a command (``nested``) or its end; returns the
    substituted text and where the scan stopped. (Only ``\\[``, ``\\]`` are unescaped: the fake keeps any
    other backslash, a Windows path's.)"""
    out: list[str] = []
    index = start
    while index < len(text):
        char = text[index]
        if char == "\\" and text[index + 1 : index + 2] in ("[", "]"):
            out.append(text[index + 1])
            index += 2
        elif char == "[":
            command, index = _tcl_scan(text, index + 1, whole, nested=True)
            out.append(_tcl_command(command, whole))
        elif char == "]" and nested:
            return "".join(out), index + 1
        else:
            out.append(char)
            index += 1
    if nested:
        raise RuntimeError(f"missing close-bracket in {whole!r}")
    return "".join(out), index


def _tcl_command(line: str, whole: str) -> str:
    """The result of one command (its words already substituted)."""
    command, _, arg = line.strip().partition(" ")
    arg = arg.strip()
    if command == "getenv":
        return os.environ.get(arg, "")
    if command == "value" and arg == "root.name":
        return _root.name()
    if command == "file" and arg.startswith("dirname "):
        return os.path.dirname(arg[len("dirname ") :].strip())
    raise RuntimeError(f"invalid command name {command!r} in {whole!r}")


# -- channels and layers -------------------------------------------------------------------------------------

#: Nuke's default layers and their channels (``nuke.layers()`` in a new script, in this order).
_DEFAULT_LAYERS: dict[str, list[str]] = {
    "rgb": ["rgba.red", "rgba.green", "rgba.blue"],
    "rgba": ["rgba.red", "rgba.green", "rgba.blue", "rgba.alpha"],
    "alpha": ["rgba.alpha"],
    "depth": ["depth.Z"],
    "motion": ["forward.u", "forward.v", "backward.u", "backward.v"],
    "forward": ["forward.u", "forward.v"],
    "backward": ["backward.u", "backward.v"],
    "disparity": ["disparityL.x", "disparityL.y", "disparityR.x", "disparityR.y"],
    "disparityL": ["disparityL.x", "disparityL.y"],
    "disparityR": ["disparityR.x", "disparityR.y"],
    "mask": ["mask.a"],
    "rotopaint_mask": ["rotopaint_mask.a"],
}
#: The script's layers: the defaults plus those added since it was made or opened.
_layers: dict[str, list[str]] = {}


def _all_channels() -> list[str]:
    seen: dict[str, None] = {}
    for names in _layers.values():
        seen.update(dict.fromkeys(names))
    return list(seen)


def _require_channel(name: str, knob: str) -> None:
    if name != "none" and name not in _all_channels():
        raise ValueError(f"{knob}: there is no channel {name!r}; add its layer first (nuke.Layer)")


def _require_layer(name: str, knob: str) -> None:
    if name not in _layers:
        raise ValueError(f"{knob}: there is no layer {name!r}; add it first (nuke.Layer)")


class Layer:
    """``nuke.Layer(name, channels)`` adds the layer (and channels) if the script lacks them; ``nuke.Layer(name)``
    is an existing layer. Channels are ``layer.channel`` (Nuke 11-12 also took bare ``channel`` names)."""

    def __init__(self, name: str, channels: list[str] | None = None) -> None:
        _check_thread("nuke.Layer")
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
            raise ValueError(f"bad layer name {name!r}")
        self._name = name
        if channels is None:
            _require_layer(name, "nuke.Layer")
            return
        wanted = [c if "." in c else f"{name}.{c}" for c in channels]
        if name in _DEFAULT_LAYERS:
            extra = [c for c in wanted if c not in _DEFAULT_LAYERS[name]]
            if extra:
                raise ValueError(f"cannot add {extra[0]} to Nuke's built-in layer {name}")
            return
        held = _layers.setdefault(name, [])
        for channel in wanted:
            if channel.split(".", 1)[0] != name and channel not in _all_channels():
                raise ValueError(f"{channel}: no such channel for layer {name}")
            if channel not in held:
                held.append(channel)

    def name(self) -> str:
        return self._name

    def channels(self) -> list[str]:
        return list(_layers.get(self._name, []))

    def setName(self, newName: str) -> None:
        if self._name in _DEFAULT_LAYERS:
            raise ValueError(f"cannot rename Nuke's built-in layer {self._name}")
        _layers[newName] = [newName + "." + c.split(".", 1)[1] for c in _layers.pop(self._name)]
        self._name = newName

    def visible(self) -> bool:
        return True


def layers(node: Node | None = None) -> list[str]:
    """Every layer of the script, or the layers ``node`` outputs (what the Viewer's channel menu lists)."""
    _check_thread("nuke.layers")
    if node is None:
        return list(_layers)
    present = set(node.channels())
    return [name for name, names in _layers.items() if any(c in present for c in names)]


def channels(n: Node | None = None) -> list[str]:
    """Every channel of the script, or those ``n`` outputs (deprecated in Nuke for ``Node.channels``)."""
    _check_thread("nuke.channels")
    return _all_channels() if n is None else n.channels()


def _exr_channel(name: str) -> str:
    """An EXR channel name → Nuke's channel, adding the layer as Nuke's EXR reader does (Foundry's NDK example
    ``ExrChannelNameToNuke.cpp``: ``layer.channel``, other characters of the layer become ``_``, a layer's
    ``R``/``G``/``B``/``A`` become ``red``/``green``/``blue``/``alpha``): ``fill.confidence`` → layer ``fill``."""
    known = {"R": "rgba.red", "G": "rgba.green", "B": "rgba.blue", "A": "rgba.alpha", "Z": "depth.Z"}
    if name in known:
        return known[name]
    layer, dot, rest = name.rpartition(".")
    if dot and layer and layer not in _DEFAULT_LAYERS:
        layer = re.sub(r"[^A-Za-z0-9_]", "_", layer)
        rest = {"R": "red", "G": "green", "B": "blue", "A": "alpha"}.get(rest, rest)
        channel = f"{layer}.{rest}"
        held = _layers.setdefault(layer, [])
        if channel not in held:
            held.append(channel)
        return channel
    return name


# -- nodes ------------------------------------------------------------------------------------------------------


class _ShuffleSource_Knob(Enumeration_Knob):
    """A Shuffle output's source: the ``in`` layer's 1st..4th channel (``red``..``alpha``), ``black``, ``white``."""

    def __init__(self, name: str, label: str | None = None) -> None:
        super().__init__(name, label, ["red", "green", "blue", "alpha", "black", "white"])


class _Button_Knob(PyScript_Knob):
    """A built-in button of a node (a Read's ``reload``): ``execute()`` does the node's own work, no Python."""

    def execute(self) -> None:
        _check_thread(f"{self._name}.execute")


class _Hold_Knob(Enumeration_Knob):
    """A Read's ``before``/``after``: what it shows outside first..last."""

    def __init__(self, name: str, label: str | None = None) -> None:
        super().__init__(name, label, ["hold", "loop", "bounce", "black"])


def _Menu_Knob(*items: str) -> type[Enumeration_Knob]:  # noqa: N802 (a knob class, as Nuke names them)
    """An Enumeration_Knob class with a fixed menu (a built-in knob that refuses an item Nuke does not offer)."""

    class Menu_Knob(Enumeration_Knob):
        def __init__(self, name: str, label: str | None = None) -> None:
            super().__init__(name, label, list(items))

    return Menu_Knob


#: The Write's EXR compression menu and what each writes (exrWriter's ``cnames`` / ``ctypes``).
_EXR_COMPRESSIONS = (
    "none",
    "Zip (1 scanline)",
    "Zip (16 scanlines)",
    "PIZ Wavelet (32 scanlines)",
    "RLE",
    "B44",
    "B44A",
    "DWAA",
    "DWAB",
)
_EXR_COMPRESSION_TYPES = dict(
    zip(
        _EXR_COMPRESSIONS,
        (
            OpenEXR.NO_COMPRESSION,
            OpenEXR.ZIPS_COMPRESSION,
            OpenEXR.ZIP_COMPRESSION,
            OpenEXR.PIZ_COMPRESSION,
            OpenEXR.RLE_COMPRESSION,
            OpenEXR.B44_COMPRESSION,
            OpenEXR.B44A_COMPRESSION,
            OpenEXR.DWAA_COMPRESSION,
            OpenEXR.DWAB_COMPRESSION,
        ),
        strict=True,
    )
)
#: The Write's EXR ``metadata`` menu (exrWriter's ``metadata_modes``; the knob lists the default first).
_EXR_METADATA = (
    "default metadata",
    "no metadata",
    "default metadata and exr/*",
    "all metadata except input/*",
    "all metadata",
)
#: The Write's EXR ``interleave`` menu: "channels" writes each layer to a part of its own.
_EXR_INTERLEAVE = ("channels, layers and views", "channels and layers", "channels")

#: Built-in knobs (name → default) of the node classes the plugin and tests use; other classes accept any.
_CLASS_KNOBS: dict[str, dict[str, Any]] = {
    "Read": {
        "file": File_Knob,
        # Foundry's Read reference (12.2, "Read Tab"): ``proxy``, the file read instead of ``file`` "if proxy mode
        # is on and the required resolution is less than or equal to the proxy format" (``proxy_format``), and
        # ``localizationPolicy``, local copies "for faster access times". None changes a full-resolution pixel.
        "proxy": File_Knob,
        "proxy_format": "1024 778 0 0 1024 778 1 1K_Super_35(full-ap)",
        "localizationPolicy": (
            _Menu_Knob("on", "from auto-localize path", "on demand", "off"),
            "from auto-localize path",
        ),
        "first": 1,
        "last": 1,
        "origfirst": 1,
        "origlast": 1,
        # The Read's "frame" row (Foundry, "Changing the Relation Between the Current Frame and the Frame Read
        # In"): ``expression`` (``frame`` a TCL expression of the frame read at each frame; empty: that frame),
        # ``start at`` (the first frame of the range is shown at frame ``frame``), ``offset`` (every frame
        # ``frame`` frames later). The node's range (``firstFrame``) moves with it; ``first``/``last`` stay the
        # files'. See :func:`_read_shift`.
        "frame_mode": (_Menu_Knob("expression", "start at", "offset"), "expression"),
        "frame": (String_Knob, ""),
        # Buttons (Foundry's Read Tab): ``reload`` reads the files again; ``updateLocalization`` ("Update")
        # localizes them again where localizationPolicy is "on demand". The fake keeps no file in memory and
        # localizes nothing: each pull reads the file, so both change no pixel here.
        "reload": _Button_Knob,
        "updateLocalization": _Button_Knob,
        "raw": False,
        "on_error": "error",
        "colorspace": "default",
        "disable": False,
        # Outside first..last a Read shows its first/last frame ("hold", the default), or loops, or is black.
        **{name: (_Hold_Knob, "hold") for name in ("before", "after")},
    },
    "Write": {
        "file": File_Knob,
        "file_type": "",
        "channels": (ChannelMask_Knob, "rgb"),
        "datatype": "16 bit half",
        # exrWriter's knobs (Foundry NDK ``exrWriter.cpp``: ``cnames``, ``metadata_modes``), at Nuke's defaults.
        "compression": (_Menu_Knob(*_EXR_COMPRESSIONS), "Zip (1 scanline)"),
        "metadata": (_Menu_Knob(*_EXR_METADATA), "default metadata"),
        "interleave": (_Menu_Knob(*_EXR_INTERLEAVE), "channels, layers and views"),
        "autocrop": False,
        "raw": False,
        "create_directories": False,
        "disable": False,
        "colorspace": "default",
    },
    "Shuffle": {
        "in": (ChannelMask_Knob, "rgba"),
        "out": (ChannelMask_Knob, "rgba"),
        **{name: (_ShuffleSource_Knob, name) for name in ("red", "green", "blue", "alpha")},
        "disable": False,
    },
    "Crop": {"box": BBox_Knob, "reformat": False, "intersect": False, "crop": True, "disable": False},
    "Input": {"number": 0},
    "Output": {},
    "Switch": {"which": 0, "disable": False},
    "Dot": {},
    # Time nodes: TimeOffset shows its input ``time_offset`` frames later (range moved), FrameRange sets the
    # range it reports (pixels pass through).
    "TimeOffset": {"time_offset": 0, "disable": False},
    "FrameRange": {"first_frame": 1, "last_frame": 1, "disable": False},
    "Group": {"disable": False},
    "Root": {
        # The script's path (``nuke.root().name()``, "Root" while unsaved) and the current frame: Nuke saves
        # both in the script's Root block (``name /shots/comp.nk``, ``frame 1001``) and writeKnobs gives them.
        "name": File_Knob,
        "frame": 1,
        "first_frame": 1,
        "last_frame": 100,
        "colorManagement": "Nuke",
        "OCIO_config": "nuke-default",
        "workingSpaceLUT": "linear",
        "customOCIOConfigPath": "",
        # The default LUTs a Read whose colorspace is "default" uses, by file type (Nuke's defaults).
        "int8Lut": "sRGB",
        "int16Lut": "sRGB",
        "logLut": "Cineon",
        "floatLut": "linear",
        # Where a relative file path (a Read's, a Write's) is looked for; often TCL
        # (``[python {nuke.script_directory()}]``, the Script Directory button), so it follows a Save As.
        "project_directory": File_Knob,
        "proxy": False,
        "proxy_scale": 0.5,
        "views": "main",
    },
}


#: The Node tab every node but the Root has: where it sits and how the DAG draws it (position, colours, label,
#: font, a thumbnail, a bookmark, the Dope Sheet, the cache checkbox, an icon, the indicators Nuke draws), its
#: help, and the Python of its own callbacks. Off or empty by default, as a new node has them; only a Read's and
#: the image generators' ``postage_stamp`` is on (Nuke draws their thumbnail): see :data:`_POSTAGE_STAMPED`.
_NODE_TAB: dict[str, Any] = {
    "xpos": 0,
    "ypos": 0,
    "selected": False,
    "tile_color": 0,
    "gl_color": 0,
    "label": "",
    "note_font": "",
    "note_font_size": 14,
    "note_font_color": 0,
    "hide_input": False,
    "cached": False,
    "dope_sheet": False,
    "bookmark": False,
    "postage_stamp": False,
    "postage_stamp_frame": 0,
    "icon": (File_Knob, ""),  # (a file browser on the Node tab: a File_Knob, as a Read's file is)
    "indicators": 0,
    "help": "",
    "autolabel": "",
    "knobChanged": "",
    "onCreate": "",
    "onDestroy": "",
    "updateUI": "",
}
#: Classes whose ``postage_stamp`` is on when made (a Read shows its image as a thumbnail in the DAG).
_POSTAGE_STAMPED = frozenset({"Read", "Constant", "CheckerBoard2", "ColorBars", "ColorWheel"})


class Node(_MainThreadOnly):
    def __init__(self, cls: str, parent: Group | None) -> None:
        self._class = cls
        self._parent = parent
        self._knobs: dict[str, Knob] = {}
        self._defaults: dict[str, Any] = {}
        self._user: list[str] = []
        self._inputs: list[Node | None] = []
        self._name = ""
        self._panel_open = False
        if cls != "Root":
            for name, default in _NODE_TAB.items():
                self._add_builtin(name, default)
            self._add_builtin("postage_stamp", cls in _POSTAGE_STAMPED)
        for name, default in _CLASS_KNOBS.get(cls, {}).items():
            self._add_builtin(name, default)
        if parent is not None:
            self.setName(cls + "1")
            parent._children.append(self)

    def _add_builtin(self, name: str, default: Any) -> None:
        if isinstance(default, tuple) and default and isinstance(default[0], type):
            knob = default[0](name)  # (knob class, default value)
            knob.setValue(default[1])
        elif isinstance(default, type):
            knob = default(name)
        else:
            kind: type[Knob] = {bool: Boolean_Knob, int: Int_Knob, float: Double_Knob}.get(
                type(default), String_Knob
            )
            knob = kind(name)
            knob.setValue(default)
        knob._node = self
        self._knobs[name] = knob
        self._defaults[name] = knob._value

    # identity
    def Class(self) -> str:
        return self._class

    def name(self) -> str:
        return self._name

    def fullName(self) -> str:
        parent = self._parent
        if parent is None or isinstance(parent, Root):
            return self._name
        return parent.fullName() + "." + self._name

    def setName(self, name: str, uncollide: bool = True, updateExpressions: bool = False) -> None:
        siblings = {n._name for n in (self._parent._children if self._parent else []) if n is not self}
        if name in siblings:
            if not uncollide:
                raise ValueError(f"{name} already exists")
            stem, digits = re.match(r"^(.*?)(\d*)$", name).groups()  # type: ignore[union-attr]
            number = int(digits or 0) + 1
            while f"{stem}{number}" in siblings:
                number += 1
            name = f"{stem}{number}"
        self._name = name

    # knobs
    def knob(self, name: str) -> Knob | None:
        return self._knobs.get(name)

    def knobs(self) -> dict[str, Knob]:
        return dict(self._knobs)

    def __getitem__(self, name: str) -> Knob:
        _check_thread(f"Node[{name!r}]")
        _check_attached(self)
        if name not in self._knobs:
            raise NameError(f"knob {name} does not exist")
        return self._knobs[name]

    def addKnob(self, knob: Knob) -> None:
        knob._node = self
        self._knobs[knob._name] = knob
        self._user.append(knob._name)

    def removeKnob(self, knob: Knob) -> None:
        """Remove a user knob (a node's own knobs cannot be removed)."""
        if knob._name not in self._user or self._knobs.get(knob._name) is not knob:
            raise ValueError(f"{self._name}: {knob._name} is not a user knob of this node")
        del self._knobs[knob._name]
        self._user.remove(knob._name)
        knob._node = None

    def writeKnobs(self, flags: int = 0) -> str:
        """The knobs that differ from their defaults, as ``name value`` lines (user knobs always)."""
        lines = []
        for name, knob in self._knobs.items():
            if isinstance(knob, (PyScript_Knob, Tab_Knob, Text_Knob)):
                continue
            if (
                name in self._defaults
                and knob._value == self._defaults[name]
                and knob._expression is None
                and flags & WRITE_NON_DEFAULT_ONLY
            ):
                continue
            lines.append(f"{name} {knob.toScript()}")
        return "\n".join(lines)

    def parent(self) -> Group | None:
        """The group the node is in (``nuke.root()`` at the top level)."""
        return self._parent

    # inputs
    def dependencies(self, what: int) -> list[Node]:
        """The nodes this one refers to, as Nuke's: its connected inputs (``INPUTS``/``HIDDEN_INPUTS``) and the
        nodes its knobs' expressions read (``EXPRESSIONS``: ``{{Tracker1.translate.x}}``). Like Nuke's, an
        ``Input`` node inside a group has no inputs: what feeds the group is not among its dependencies."""
        found: list[Node] = []
        if what & (INPUTS | HIDDEN_INPUTS):
            found.extend(n for n in self._inputs if n is not None)
        if what & EXPRESSIONS:
            for knob in self._knobs.values():
                found.extend(self._expression_nodes(knob.toScript()))
        unique: list[Node] = []
        for node in found:
            if all(node is not other for other in unique):
                unique.append(node)
        return unique

    def _expression_nodes(self, text: str) -> list[Node]:
        """Nodes named in the ``{...}`` expressions of a knob's script text: ``Name.knob`` in the node's own
        group; ``parent`` is the group the node is in (Foundry's knob names: ``root.Group1.Blur1.size``, a
        group's name then a node in it), so ``parent.knob`` (a gizmo's insides reading its knob) names that
        group and ``parent.Name.knob`` a node in it, each further ``parent`` one group up; ``root.Name.knob``
        from the top (``root.knob``: the project)."""
        found = []
        for expression in re.findall(r"\{([^{}]*)\}", text):
            for path in re.findall(r"\b([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)", expression):
                parts = path.split(".")
                group: Group | None = self._parent
                ups = 0
                while parts and parts[0] in ("parent", "root"):
                    if parts[0] == "root":
                        group = _root
                    elif ups:  # (the first ``parent`` is the node's own group)
                        group = group._parent if group else None
                    ups += parts[0] == "parent"
                    parts = parts[1:]
                node = group.node(parts[0]) if group is not None and parts else None
                if node is None and len(parts) < len(path.split(".")):
                    node = group  # ``parent.seed``: a knob of the group itself
                if node is not None:
                    found.append(node)
        return found

    def input(self, index: int) -> Node | None:
        return self._inputs[index] if index < len(self._inputs) else None

    # the Properties panel (GUI)
    def showControlPanel(self, forceFloat: bool = False) -> None:
        """Open the node's panel: knobChanged with the dummy knob ``showPanel``, then for the artist's edits."""
        if not self._panel_open:
            self._panel_open = True
            _run_node_callbacks(_knob_changed, self, _dummy_knob(self, "showPanel"))

    def hideControlPanel(self) -> None:
        if self._panel_open:
            _run_node_callbacks(_knob_changed, self, _dummy_knob(self, "hidePanel"))
            self._panel_open = False

    def shown(self) -> bool:
        """Whether the node's panel is open."""
        return self._panel_open

    def inputs(self) -> int:
        return len(self._inputs)

    def setInput(self, index: int, node: Node | None) -> bool:
        while len(self._inputs) <= index:
            self._inputs.append(None)
        self._inputs[index] = node
        while self._inputs and self._inputs[-1] is None:
            self._inputs.pop()
        return True

    # frame range and format
    def firstFrame(self) -> int:
        if self._class == "Read":
            return int(self._knobs["first"]._value) + _read_shift(self)
        if self._class == "FrameRange" and not self._knobs["disable"]._value:
            return int(self._knobs["first_frame"]._value)
        upstream = self._upstream()
        found = upstream.firstFrame() if upstream else int(_root._knobs["first_frame"]._value)
        return found + self._time_offset()

    def lastFrame(self) -> int:
        if self._class == "Read":
            return int(self._knobs["last"]._value) + _read_shift(self)
        if self._class == "FrameRange" and not self._knobs["disable"]._value:
            return int(self._knobs["last_frame"]._value)
        upstream = self._upstream()
        found = upstream.lastFrame() if upstream else int(_root._knobs["last_frame"]._value)
        return found + self._time_offset()

    def _time_offset(self) -> int:
        """A TimeOffset's frames later (0 for any other node, or disabled)."""
        if self._class != "TimeOffset" or self._knobs["disable"]._value:
            return 0
        return int(self._knobs["time_offset"]._value)

    def format(self) -> Format:
        """The output format (what a Write's display window will be), at the node's first frame."""
        image = _render(self, self.firstFrame())
        return Format(image.width, image.height)

    def proxy(self) -> bool:
        return bool(_root._knobs["proxy"]._value)

    def metadata(self, key: str | None = None, time: float | None = None, view: str | None = None) -> Any:
        """Foundry: the node's metadata at ``time`` (the first frame if not given): a dict, or ``key``'s value
        (None when it has none). The fake's: a Read's ``input/filename`` and its EXR header as ``exr/*``."""
        found = _render(self, self.firstFrame() if time is None else time).metadata
        return dict(found) if key is None else found.get(key)

    def channels(self) -> list[str]:
        """The channels this node outputs (at its first frame), in the script's channel order."""
        try:
            present = set(_render(self, self.firstFrame()).channels)
        except RuntimeError:  # an erroring node outputs nothing
            return []
        ordered = [c for c in _all_channels() if c in present]
        return ordered + sorted(present - set(ordered))

    def _upstream(self, frame: int | None = None) -> Node | None:
        """The node this one passes on at ``frame`` (None: the first frame of the script)."""
        if frame is None:
            frame = int(_root._knobs["first_frame"]._value)
        disable = self._knobs.get("disable")
        if disable is not None and disable._at(frame):  # a disabled node passes its input 0 through
            return self.input(0)
        if self._class == "Input" and isinstance(self._parent, Group):
            return self._parent.input(int(self._knobs["number"]._value))
        if isinstance(self, Group) and not isinstance(self, Root):
            output = next((c for c in self._children if c._class == "Output"), None)
            return output.input(0) if output else None
        if self._class == "Switch":  # (Foundry: a larger ``which`` than the inputs picks the last input)
            return self.input(min(max(int(self._knobs["which"]._at(frame)), 0), max(self.inputs() - 1, 0)))
        return self.input(0)


class Group(Node):
    def __init__(self, cls: str, parent: Group | None) -> None:
        self._children: list[Node] = []
        super().__init__(cls, parent)

    def begin(self) -> Group:
        _context.append(self)
        return self

    def end(self) -> None:
        if _context[-1] is not self:
            raise RuntimeError("end() without matching begin()")
        _context.pop()

    def __enter__(self) -> Group:
        return self.begin()

    def __exit__(self, *exc: object) -> None:
        self.end()

    def nodes(self) -> list[Node]:
        return list(self._children)

    def node(self, name: str) -> Node | None:
        head, _, rest = name.partition(".")
        for child in self._children:
            if child._name == head:
                if not rest:
                    return child
                return child.node(rest) if isinstance(child, Group) else None
        return None


class Gizmo(Group):
    """A gizmo: a Group whose class is the gizmo's name and whose insides and knobs come from its ``.gizmo``
    file on the plugin path (a test installs one with :func:`_install_gizmo`). Like Nuke's, a saved script keeps
    only its name, knob values and inputs (Foundry: "Saved scripts only contain the name and control settings
    for the gizmo"): reopened, its insides are the file's again, whatever was changed in them."""

    def command(self) -> str:
        return self._class

    def filename(self) -> str:
        return f"{self._class}.gizmo"


#: Installed gizmos: class name → the exported group (as ``_dump`` writes it). Survives ``_reset(gizmos=True)``.
_gizmos: dict[str, dict[str, Any]] = {}


def _install_gizmo(group: Group, cls: str) -> None:
    """The artist's "Export as gizmo" of ``group`` as ``cls``, and the file put on every session's plugin path."""
    _gizmos[cls] = {**_dump(group), "class": cls}


def _new_gizmo(cls: str, parent: Group) -> Gizmo:
    gizmo = Gizmo(cls, parent)
    _load(gizmo, _gizmos[cls])
    return gizmo


class Root(Group):
    @property
    def _script(self) -> str:
        """The script's path, held by the root's ``name`` knob as in Nuke; "Root" while unsaved."""
        return str(self._knobs["name"]._value) or "Root"

    @_script.setter
    def _script(self, path: str) -> None:
        self._knobs["name"]._value = "" if path == "Root" else path

    def name(self) -> str:
        return self._script

    def fullName(self) -> str:
        return "root"


@dataclass(frozen=True)
class Format:
    _width: int
    _height: int

    def width(self) -> int:
        return self._width

    def height(self) -> int:
        return self._height


class Nodes:
    """``nuke.nodes.Blur(size=3)``: make a node in the current group and set knobs, without connecting."""

    def __getattr__(self, cls: str) -> Callable[..., Node]:
        def make(**knobs: Any) -> Node:
            _check_thread(f"nuke.nodes.{cls}")
            return _make(cls, knobs)

        return make


nodes = Nodes()


def _make(cls: str, knobs: dict[str, Any]) -> Node:
    parent = _context[-1]
    if cls in _gizmos:
        node: Node = _new_gizmo(cls, parent)
    else:
        node = Group(cls, parent) if cls == "Group" else Node(cls, parent)
    for name, value in knobs.items():
        if name == "name":
            node.setName(value)
        elif node.knob(name) is not None:
            node[name].setValue(value)
        elif cls in _CLASS_KNOBS:
            raise ValueError(f"{cls} has no knob named {name}")
        else:
            node._add_builtin(name, value)
    _apply_knob_defaults(node, set(knobs))
    return node


#: ``knobDefault`` values: ``Class.knob`` or ``Class.filetype.knob`` → the value's text (a studio's menu.py).
_knob_defaults: dict[str, str] = {}


def knobDefault(classknob: str, value: str | None = None) -> str | None:  # noqa: N802 (Nuke's name)
    """Foundry: "Set a default value for knob_name in all nodes of class class_name"; ``Class.knob``, or
    ``Class.filetype.knob`` for a file type's knobs (``Write.exr.compression``). Nodes made from then on get it,
    unless made with that knob given; so do the knobs of nodes a script opens that it did not save (Nuke saves
    a knob only when it is not at its default). With one argument: the value set, or None."""
    _check_thread("nuke.knobDefault")
    if value is None:
        return _knob_defaults.get(classknob)
    _knob_defaults[classknob] = str(value)
    return None


def _apply_knob_defaults(node: Node, given: set[str]) -> None:
    """Give ``node``'s built-in knobs not in ``given`` their ``knobDefault`` (it becomes their default)."""
    file_type = node._knobs.get("file_type")
    keys = [f"{node._class}.{{}}"]
    if file_type is not None and file_type._value:
        keys.append(f"{node._class}.{file_type._value}.{{}}")
    for name, knob in node._knobs.items():
        if name in given or name in node._user:
            continue
        for key in keys:
            text = _knob_defaults.get(key.format(name))
            if text is None:
                continue
            if isinstance(knob, Boolean_Knob):
                knob.setValue(text.strip().lower() in ("1", "true", "yes", "on"))
            elif isinstance(knob, (Int_Knob, Double_Knob)):
                knob.setValue(float(text))
            else:
                knob.setValue(text)
            node._defaults[name] = knob._value


def createNode(typ: str, knobs: str = "", inpanel: bool = True) -> Node:
    """Make a node and connect it below the selected node, as the Tab menu does."""
    _check_thread("nuke.createNode")
    node = _make(typ, {})
    if _selected is not None and _selected._parent is node._parent:
        node.setInput(0, _selected)
    return node


def root() -> Root:
    _check_thread("nuke.root")
    return _root


def thisKnob() -> Knob:
    _check_thread("nuke.thisKnob")
    if _this_knob is None:
        raise RuntimeError("nuke.thisKnob() called outside a knobChanged callback")
    return _this_knob


def thisNode() -> Node:
    _check_thread("nuke.thisNode")
    if _this is None:
        raise RuntimeError("nuke.thisNode() called outside a knob callback")
    return _this


def toNode(name: str) -> Node | None:
    _check_thread("nuke.toNode")
    return _context[-1].node(name) if _context[-1] is not _root else _root.node(name)


def allNodes(
    filter: str | None = None, group: Group | None = None, recurseGroups: bool = False
) -> list[Node]:
    _check_thread("nuke.allNodes")
    found: list[Node] = []
    for child in (group or _context[-1]).nodes():
        if filter is None or child.Class() == filter:
            found.append(child)
        if recurseGroups and isinstance(child, Group):
            found.extend(allNodes(filter, child, True))
    return found


def delete(node: Node) -> None:
    """Remove ``node`` from its group; what it fed loses that input. Its Python object, those of the nodes
    inside it and of their knobs are no node's from then on (:func:`_detach`)."""
    _check_thread("nuke.delete")
    parent = node._parent
    if parent is not None:
        parent._children.remove(node)
        for other in parent._children:
            for index, upstream in enumerate(other._inputs):
                if upstream is node:
                    other._inputs[index] = None
    _detach(node)


def views() -> list[str]:
    """The root's views (``main`` for a mono script, ``left``/``right`` for stereo)."""
    _check_thread("nuke.views")
    return [line.split()[0] for line in str(_root._knobs["views"]._value).splitlines() if line.strip()]


def message(text: str) -> None:
    _check_thread("nuke.message")
    messages.append(text)


def warning(text: str) -> None:
    """A line in the Error Console; Nuke prints it on the terminal too (``nuke -t``: the farm's log)."""
    _check_thread("nuke.warning")
    warnings.append(text)
    print(f"Warning: {text}", file=sys.stderr)


class ProgressTask:
    """Records messages and percentages; a test cancels by setting ``_cancel_after`` (isCancelled calls).

    Like Nuke's, it is made to be used from a render thread: no main-thread check.
    """

    _cancel_after: int | None = None

    def __init__(self, title: str) -> None:
        self.title = title
        self.messages: list[str] = []
        self.progress: list[int] = []
        self.cancel_checks = 0
        progress_tasks.append(self)

    def setMessage(self, text: str) -> None:
        self.messages.append(text)

    def setProgress(self, percent: int) -> None:
        self.progress.append(int(percent))

    def isCancelled(self) -> bool:
        self.cancel_checks += 1
        return ProgressTask._cancel_after is not None and self.cancel_checks > ProgressTask._cancel_after


class Menu:
    def __init__(self, name: str) -> None:
        self._name = name
        self.items: dict[str, Any] = {}

    def name(self) -> str:
        return self._name

    def addMenu(self, name: str, **kwargs: Any) -> Menu:
        return self.items.setdefault(name, Menu(name))

    def addCommand(self, name: str, command: Any = None, shortcut: str = "", **kwargs: Any) -> Menu:
        self.items[name] = command
        return self

    def findItem(self, name: str) -> Any:
        return self.items.get(name)


def menu(name: str) -> Menu:
    return menus.setdefault(name, Menu(name))


# -- scripts on disk ---------------------------------------------------------------------------------------------


_on_script_load: list[tuple[Callable[..., Any], tuple, dict]] = []
#: ``(call, args, kwargs, nodeClass)`` of addKnobChanged / addUpdateUI / addBeforeRender.
_knob_changed: list[tuple[Callable[..., Any], tuple, dict, str]] = []
_update_ui: list[tuple[Callable[..., Any], tuple, dict, str]] = []
_before_render_calls: list[tuple[Callable[..., Any], tuple, dict, str]] = []


def addKnobChanged(
    call: Callable[..., Any], args: Any = (), kwargs: Any = None, nodeClass: str = "*", node: Any = None
) -> None:
    """Run ``call`` when the artist changes a knob of a ``nodeClass`` node in its open panel (see the module
    doc)."""
    _knob_changed.append((call, _as_tuple(args), dict(kwargs or {}), nodeClass))


def addUpdateUI(call: Callable[..., Any], args: Any = (), kwargs: Any = None, nodeClass: str = "*") -> None:
    """Run ``call`` on every ``nodeClass`` node when the GUI goes idle after a change (:func:`_idle`)."""
    _update_ui.append((call, _as_tuple(args), dict(kwargs or {}), nodeClass))


def addBeforeRender(
    call: Callable[..., Any], args: Any = (), kwargs: Any = None, nodeClass: str = "Write"
) -> None:
    """Run ``call`` before a ``nodeClass`` node renders (``execute``, the Render dialog, ``nuke -x``)."""
    _before_render_calls.append((call, _as_tuple(args), dict(kwargs or {}), nodeClass))


def _run_node_callbacks(
    calls: list[tuple[Callable[..., Any], tuple, dict, str]], node: Node, knob: Knob | None
) -> None:
    global _this, _this_knob
    previous = (_this, _this_knob)
    _this, _this_knob = node, knob
    try:
        for call, args, kwargs, node_class in list(calls):
            if node_class in ("*", node.Class()):
                call(*args, **kwargs)
    finally:
        _this, _this_knob = previous


def _before_render(write: Node) -> None:
    try:
        _run_node_callbacks(_before_render_calls, write, None)
    except Exception as exc:  # Nuke aborts the render with the callback's error
        raise RuntimeError(str(exc)) from None


def _dummy_knob(node: Node, name: str) -> Knob:
    """What ``thisKnob()`` is for an event that is no knob's (``showPanel``, ``inputChange``)."""
    knob = Knob(name)
    knob._node = node
    return knob


def _user_set(knob: Knob, value: Any) -> None:
    """The artist changes a knob (in the node's panel, or a knob linked to it): its value, then the
    knobChanged callbacks if the node's panel is open (17.1: ``setValue`` ran them, panel open or not) (test
    helper)."""
    knob.setValue(value)
    assert knob._node is not None
    if knob._node._panel_open and not _knob_changed_by_any_change():
        _run_node_callbacks(_knob_changed, knob._node, knob)


def _user_connect(node: Node, index: int, upstream: Node | None) -> None:
    """The artist connects an input in the DAG: knobChanged with the knob ``inputChange``, if the node's panel
    is open (17.1: open or not, "changes that occur even when the Properties panel is closed") (test helper)."""
    node.setInput(index, upstream)
    if node._panel_open or _knob_changed_by_any_change():
        _run_node_callbacks(_knob_changed, node, _dummy_knob(node, "inputChange"))


def _idle() -> None:
    """Nuke's GUI event loop goes idle after a change: the updateUI callbacks run on every node, those inside
    groups too (test helper). ``nuke -t`` and ``nuke -x`` have no such loop."""
    if not GUI:
        raise RuntimeError("nuke: updateUI runs only in the GUI's event loop (set nuke.GUI)")
    _check_thread("nuke._idle")
    for node in allNodes(group=_root, recurseGroups=True):
        _run_node_callbacks(_update_ui, node, None)


def addOnScriptLoad(
    call: Callable[..., Any], args: Any = (), kwargs: Any = None, nodeClass: str = "Root"
) -> None:
    """Run ``call`` after each script is loaded (``scriptOpen``), in every mode (GUI, -t, -x)."""
    _on_script_load.append((call, _as_tuple(args), dict(kwargs or {})))


def scriptSave(filename: str | None = None) -> bool:
    """Write the whole graph to ``filename`` (default: the open script's name)."""
    _check_thread("nuke.scriptSave")
    path = filename or _root._script
    if not path or path == "Root":
        raise RuntimeError("script has no name: use scriptSaveAs")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("#! fake nuke script (tests/nuke/fake_nuke)\n")
        json.dump({**_dump(_root), "add_layer": _referenced_layers(_root)}, handle, indent=1)
    _root._script = path
    return True


def scriptSaveAs(filename: str | None = None, overwrite: int = -1) -> None:
    scriptSave(filename)


def scriptOpen(filename: str) -> None:
    """Replace the open graph by the one ``filename`` holds (what ``scriptSave`` wrote)."""
    global _root, _context
    _check_thread("nuke.scriptOpen")
    if not os.path.isfile(filename):
        raise RuntimeError(f"{filename}: No such file or directory")
    with open(filename, encoding="utf-8") as handle:
        first = handle.readline()
        if not first.startswith("#! fake nuke script"):
            raise RuntimeError(f"{filename}: not a Nuke script")
        data = json.load(handle)
    opened_scripts.append(filename)
    _root = Root("Root", None)
    _root._name = "root"
    _context = [_root]
    _reset_layers()
    for name, names in data.get("add_layer", {}).items():
        _layers[name] = list(names)
    _load(_root, data)
    _root._script = filename
    for call, args, kwargs in list(_on_script_load):
        call(*args, **kwargs)


#: What ``nodeCopy("%clipboard%")`` copied.
_clipboard: list[str] = []


def nodeCopy(s: str) -> None:
    """Copy the selected node (the fake selects one) as script text to file ``s``, or to the clipboard with
    ``%clipboard%``: its knobs and insides, not its connections (Nuke's keeps only those among copied nodes)."""
    _check_thread("nuke.nodeCopy")
    if _selected is None:
        raise RuntimeError("nuke.nodeCopy: no node selected")
    text = json.dumps(_dump(_selected))
    if s == "%clipboard%":
        _clipboard[:] = [text]
    else:
        with open(s, "w", encoding="utf-8") as handle:
            handle.write(text)


def nodePaste(s: str) -> Node | None:
    """Paste what :func:`nodeCopy` copied into the current group: renamed if its name is taken, its input 0
    on the selected node (as Nuke pastes below the selection), its other inputs empty; the pasted node is then
    the selection. No callbacks run (an AIFill's onScriptLoad is for opening a script)."""
    global _selected
    _check_thread("nuke.nodePaste")
    if s == "%clipboard%":
        text = _clipboard[0] if _clipboard else ""
    else:
        with open(s, encoding="utf-8") as handle:
            text = handle.read()
    if not text:
        return None
    data = json.loads(text)
    group = _context[-1]
    holder = Group("Group", None)
    _load(holder, {"knobs": {}, "user": [], "children": [{**data, "inputs": []}]})
    pasted = holder._children[0]
    pasted._parent = group
    pasted.setName(pasted._name)
    group._children.append(pasted)
    if _selected is not None and _selected._parent is group:
        pasted.setInput(0, _selected)
    _selected = pasted
    return pasted


def _referenced_layers(group: Group) -> dict[str, list[str]]:
    """The custom layers some channel knob in the script uses: what Nuke saves as ``add_layer`` lines (it
    drops the channels no knob refers to)."""
    used: set[str] = set()
    stack: list[Node] = [group]
    while stack:
        node = stack.pop()
        for knob in node._knobs.values():
            if isinstance(knob, (Channel_Knob, ChannelMask_Knob)):
                used.add(str(knob._value).split(".", 1)[0])
        if isinstance(node, Group):
            stack.extend(node._children)
    return {
        name: list(names) for name, names in _layers.items() if name in used and name not in _DEFAULT_LAYERS
    }


def _dump(node: Node) -> dict[str, Any]:
    knobs = {}
    user = []
    for name, knob in node._knobs.items():
        value = list(knob._value) if isinstance(knob._value, tuple) else knob._value
        if name in node._user:
            extra = {"values": knob._values} if isinstance(knob, Enumeration_Knob) else {}
            if isinstance(knob, Channel_Knob):
                extra = {"depth": knob._depth}
            user.append(
                {
                    "kind": type(knob).__name__,
                    "name": name,
                    "label": knob._label,
                    "value": value,
                    "tooltip": knob._tooltip,
                    "flags": knob._flags,
                    **extra,
                }
            )
        elif knob._expression is not None:
            knobs[name] = {"expression": knob._expression}
        else:
            knobs[name] = value
    data: dict[str, Any] = {
        "class": node._class,
        "name": node._name,
        "knobs": knobs,
        "user": user,
        "inputs": [None if n is None else n._name for n in node._inputs],
    }
    if isinstance(node, Gizmo):  # its knob values only: its insides and own knobs are in the .gizmo file
        defined = {spec["name"] for spec in _gizmos.get(node._class, {}).get("user", [])}
        data["user"] = [spec for spec in user if spec["name"] not in defined]
        data["values"] = {spec["name"]: spec["value"] for spec in user if spec["name"] in defined}
        data["gizmo"] = True
    elif isinstance(node, Group):
        data["children"] = [_dump(child) for child in node._children]
    return data


def _load(group: Group, data: dict[str, Any]) -> None:
    _restore_knobs(group, data)
    made = []
    for child in data.get("children", []):
        node: Node
        if child.get("gizmo"):
            if child["class"] not in _gizmos:
                raise RuntimeError(f"unknown command {child['class']} (no such gizmo or plug-in)")
            node = _new_gizmo(child["class"], group)
            _restore_knobs(node, child)
            for name, value in child["values"].items():
                if name in node._knobs:
                    node._knobs[name]._value = tuple(value) if isinstance(value, list) else value
        elif "children" in child:
            node = Group(child["class"], group)
            _load(node, child)
        else:
            node = Node(child["class"], group)
            builtin = dict(node._defaults)
            _restore_knobs(node, child)
            # A real .nk holds only the knobs not at their default: the others take this session's knobDefault.
            _apply_knob_defaults(node, {n for n, v in child["knobs"].items() if _saved(builtin.get(n)) != v})
        node._name = child["name"]
        made.append((node, child))
    for node, child in made:
        for index, name in enumerate(child["inputs"]):
            node.setInput(index, None if name is None else group.node(name))


def _saved(value: Any) -> Any:
    """A knob value as ``_dump`` saves it (a tuple as a list)."""
    return list(value) if isinstance(value, tuple) else value


def _restore_knobs(node: Node, data: dict[str, Any]) -> None:
    for name, value in data["knobs"].items():
        if isinstance(value, dict):  # an expression (``which {{frame < 1010}}`` in a .nk)
            node._knobs[name]._expression = value["expression"]
            continue
        if name not in node._knobs:
            node._add_builtin(name, value)
        node._knobs[name]._value = tuple(value) if isinstance(value, list) else value
    for spec in data["user"]:
        kind = globals()[spec["kind"]]
        if spec["kind"] == "Enumeration_Knob":
            knob = kind(spec["name"], spec["label"], spec["values"])
        elif spec["kind"] == "Channel_Knob":
            knob = kind(spec["name"], spec["label"], spec["depth"])
        else:
            knob = kind(spec["name"], spec["label"])
        knob._value = spec["value"]
        knob._tooltip = spec["tooltip"]
        knob._flags = spec["flags"]
        node.addKnob(knob)


# -- execute: a tiny renderer ------------------------------------------------------------------------------------


@dataclass
class _Image:
    """A frame: ``width`` x ``height`` format and the channels over ``bbox`` (x0, y0, x1, y1: pixels, top-down,
    end exclusive; the EXR data window relative to the display window)."""

    width: int
    height: int
    bbox: tuple[int, int, int, int]
    channels: dict[str, np.ndarray]
    #: What ``Node.metadata()`` shows: a Read's file (``input/filename``) and its EXR header (``exr/<name>``).
    metadata: dict[str, Any] = field(default_factory=dict)

    def full(self) -> dict[str, np.ndarray]:
        """The channels over the format: black outside the bbox, the overscan cut."""
        out = {}
        x0, y0, x1, y1 = self.bbox
        for name, plane in self.channels.items():
            full = np.zeros((self.height, self.width), np.float32)
            fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x1, self.width), min(y1, self.height)
            if fx1 > fx0 and fy1 > fy0:
                full[fy0:fy1, fx0:fx1] = plane[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]
            out[name] = full
        return out


#: The view being executed; None outside execute (the first view, as a Viewer shows it).
_view: str | None = None


def execute(
    nameOrNode: Node | str,
    start: int,
    end: int,
    incr: int = 1,
    views: list[str] | None = None,
    continueOnError: bool = False,
) -> None:
    """Render a Write over the frames, for ``views`` (default: every view of the script, in order)."""
    global _view
    _check_thread("nuke.execute")
    node = toNode(nameOrNode) if isinstance(nameOrNode, str) else nameOrNode
    if node is None or node.Class() != "Write":
        raise RuntimeError(f"{nameOrNode} is not a Write node")
    if node["disable"].value():
        raise RuntimeError(f"{node.name()}: node is disabled")
    wanted = list(views) if views else globals()["views"]()
    unknown = [v for v in wanted if v not in globals()["views"]()]
    if unknown:
        raise RuntimeError(f"unknown view {unknown[0]}")
    _before_render(node)
    execute_log.append((node.fullName(), start, end))
    execute_views.append(wanted)
    global _cancel_execute_after
    try:
        for view in wanted:
            _view = view
            for frame in range(start, end + 1, incr):
                if _cancel_execute_after is not None:
                    if _cancel_execute_after <= 0:  # the artist pressed Cancel on the render's progress bar
                        _cancel_execute_after = None
                        raise RuntimeError("Cancelled")
                    _cancel_execute_after -= 1
                _write_frame(node, frame)
    finally:
        _view = None


#: Frames ``execute`` writes before the artist cancels its progress bar (a test sets it; None: never).
_cancel_execute_after: int | None = None


def _frame_path(pattern: str, frame: int) -> str:
    view = _view or globals()["views"]()[0]
    pattern = pattern.replace("%V", view).replace("%v", view[:1])
    pattern = re.sub(r"#+", lambda m: f"%0{len(m.group(0))}d", pattern)
    return pattern % frame if "%" in pattern else pattern


def _pull(node: Node | None, frame: int) -> dict[str, np.ndarray]:
    """Channels (Nuke names, float32) of ``node`` at ``frame`` over its format (test helper)."""
    return _render(node, frame).full()


def _render(node: Node | None, frame: int) -> _Image:
    if node is None:
        raise RuntimeError("input not connected")
    cls = node._class
    if cls == "Read":
        path = node._knobs["file"].evaluate()  # type: ignore[attr-defined]
        held = _read_frame(node, frame)
        # Proxy mode reads the proxy file where one is set (the fake's are made at the proxy scale).
        proxy = node._knobs["proxy"].evaluate() if _root._knobs["proxy"]._value else ""  # type: ignore[attr-defined]
        if proxy.strip() and held is not None:
            return _read_image(_frame_path(_in_project(proxy), held))
        if not path.strip():
            raise RuntimeError(f"{node._name}: Read error: no file name")
        path = _in_project(path)
        if held is None:  # before/after "black": the format, nothing in it
            image = _read_image(_frame_path(path, int(node._knobs["first"]._value)))
            return _Image(
                image.width,
                image.height,
                (0, 0, 0, 0),
                {k: v[:0, :0] for k, v in image.channels.items()},
                image.metadata,
            )
        image = _read_image(_frame_path(path, held))
        return _proxy_scaled(image) if _root._knobs["proxy"]._value else image
    if cls == "Crop" and not node._knobs["disable"]._value:
        return _crop(node, _render(node.input(0), frame))
    if cls == "Shuffle" and not node._knobs["disable"]._value:
        return _shuffle(node, _render(node.input(0), frame))
    if cls == "TimeOffset":  # frame f shows its input's frame f - offset
        return _render(node.input(0), frame - node._time_offset())
    return _render(node._upstream(frame), frame)


def _in_project(path: str) -> str:
    """A file knob's evaluated path as Nuke opens it: a relative one lies in the project directory (Foundry:
    "The common relative path used to reference the full file path is defined in the project_directory knob");
    with none set, Nuke's working directory."""
    if os.path.isabs(path):
        return path
    folder = _root._knobs["project_directory"].evaluate()  # type: ignore[attr-defined]
    return os.path.join(folder, path) if folder else path


def filename(node: Node, i: int = 0) -> str | None:
    """Foundry: "the current filename, based on the root.proxy settings and which of the fullsize/proxy filenames
    are filled in. All expansion of commands and variables is done. However by default it will still have %04d
    sequences in it, use REPLACE". A relative path stays relative (Nuke looks for it in the project directory
    when it opens it, as :func:`_render` does). A group's: its Writes'; None when there is no file name. The
    fake has no current frame: ``i`` (REPLACE) is refused."""
    _check_thread("nuke.filename")
    if i:
        raise NotImplementedError("the fake nuke has no current frame: nuke.filename(node, REPLACE)")
    if isinstance(node, Group):
        writes = allNodes("Write", node, recurseGroups=True)
        return filename(writes[0], i) if writes else None
    knob = node._knobs.get("file")
    if not isinstance(knob, File_Knob):
        return None
    proxy = node._knobs.get("proxy")
    text = knob.evaluate()
    if _root._knobs["proxy"]._value and isinstance(proxy, File_Knob) and proxy._value:
        text = proxy.evaluate()
    return text or None


def _read_shift(read: Node) -> int:
    """How many frames later a Read shows its files than their numbers (its ``frame_mode`` and ``frame``):
    ``offset`` N, N; ``start at`` N, N - first; ``expression``, 0 (the fake takes no expression but the empty
    one, "the frame itself": it refuses another rather than read the wrong files)."""
    mode, text = read._knobs["frame_mode"]._value, str(read._knobs["frame"].value()).strip()
    if mode == "offset":
        return int(float(text or 0))
    if mode == "start at":
        return int(float(text or read._knobs["first"]._value)) - int(read._knobs["first"]._value)
    if text and text != "frame":
        raise NotImplementedError(f"the fake nuke reads no frame expression ({read._name}: {text!r})")
    return 0


def _read_frame(read: Node, frame: int) -> int | None:
    """The file frame a Read shows at ``frame``: shifted by its ``frame_mode`` (:func:`_read_shift`); outside
    first..last its ``before``/``after`` decide (Nuke's default "hold" repeats the first/last frame); None for
    "black"."""
    frame -= _read_shift(read)
    first, last = int(read._knobs["first"]._value), int(read._knobs["last"]._value)
    if first <= frame <= last:
        return frame
    mode = read._knobs["before" if frame < first else "after"]._value
    length = last - first + 1
    if mode == "hold":
        return first if frame < first else last
    if mode == "loop":
        return first + (frame - first) % length
    if mode == "bounce":
        step = (frame - first) % (2 * length - 2) if length > 1 else 0
        return first + (step if step < length else 2 * length - 2 - step)
    return None


def _shuffle(node: Node, image: _Image) -> _Image:
    """Old Shuffle: output ``out``'s i-th channel takes the ``in`` layer's channel named by the i-th source knob
    (``red`` = the first channel of ``in``...); a channel the input lacks is black. Other channels pass."""
    source = _layers.get(node._knobs["in"]._value, [])
    target = _layers.get(node._knobs["out"]._value, [])
    planes = dict(image.channels)
    height, width = image.bbox[3] - image.bbox[1], image.bbox[2] - image.bbox[0]
    order = ["red", "green", "blue", "alpha"]
    for index, channel in enumerate(target[:4]):
        pick = node._knobs[order[index]]._value
        if pick in ("black", "white"):
            planes[channel] = np.full((height, width), 1.0 if pick == "white" else 0.0, np.float32)
            continue
        position = order.index(pick)
        name = source[position] if position < len(source) else None
        planes[channel] = (
            image.channels[name].copy() if name in image.channels else np.zeros((height, width), np.float32)
        )
    return _Image(image.width, image.height, image.bbox, planes, dict(image.metadata))


def _proxy_scaled(image: _Image) -> _Image:
    scale = float(_root._knobs["proxy_scale"]._value)
    x0, y0, x1, y1 = (int(round(v * scale)) for v in image.bbox)
    size = (max(1, x1 - x0), max(1, y1 - y0))
    planes = {k: cv2.resize(v, size, interpolation=cv2.INTER_AREA) for k, v in image.channels.items()}
    width, height = int(round(image.width * scale)), int(round(image.height * scale))
    return _Image(width, height, (x0, y0, x0 + size[0], y0 + size[1]), planes, dict(image.metadata))


def _crop(node: Node, image: _Image) -> _Image:
    """Crop: the bbox becomes the box (intersected with the input's with ``intersect``); ``reformat`` makes
    the box the format too (its bottom-left corner the origin)."""
    x, y, r, t = (int(round(v)) for v in node._knobs["box"]._value)
    box = (x, image.height - t, r, image.height - y)  # Nuke's bottom-up box → top-down pixels
    if node._knobs["intersect"]._value:
        b = image.bbox
        box = (max(box[0], b[0]), max(box[1], b[1]), min(box[2], b[2]), min(box[3], b[3]))
    planes = {}
    for name, plane in image.channels.items():
        out = np.zeros((max(0, box[3] - box[1]), max(0, box[2] - box[0])), np.float32)
        ix0, iy0 = max(box[0], image.bbox[0]), max(box[1], image.bbox[1])
        ix1, iy1 = min(box[2], image.bbox[2]), min(box[3], image.bbox[3])
        if ix1 > ix0 and iy1 > iy0:
            src = plane[iy0 - image.bbox[1] : iy1 - image.bbox[1], ix0 - image.bbox[0] : ix1 - image.bbox[0]]
            out[iy0 - box[1] : iy1 - box[1], ix0 - box[0] : ix1 - box[0]] = src
        planes[name] = out
    if node._knobs["reformat"]._value:
        top = image.height - t  # the new format's top row, in the input's top-down pixels
        top_box = (box[0] - x, box[1] - top, box[2] - x, box[3] - top)
        return _Image(r - x, t - y, top_box, planes, dict(image.metadata))
    return _Image(image.width, image.height, box, planes, dict(image.metadata))


def _read(path: str) -> dict[str, np.ndarray]:
    """The channels of an image file over its format (test helper)."""
    return _read_image(path).full()


def _window_of(header: dict[str, Any]) -> tuple[int, ...]:
    return tuple(int(v) for corner in header["dataWindow"] for v in corner)


def _read_image(path: str) -> _Image:
    if not os.path.exists(path):
        raise RuntimeError(f"Read error: {path}: No such file or directory")
    if path.lower().endswith(".exr"):
        with OpenEXR.File(path, separate_channels=True) as exr:
            header = exr.header()
            (dx0, dy0), (dx1, dy1) = (tuple(int(v) for v in p) for p in header["displayWindow"])
            (wx0, wy0), (wx1, wy1) = (tuple(int(v) for v in p) for p in header["dataWindow"])
            planes = {}
            for part in exr.parts:  # (Nuke's reader shows the channels of every part)
                if _window_of(part.header) != _window_of(header):
                    raise NotImplementedError(f"the fake reads parts of one data window only: {path}")
                planes.update(
                    {_exr_channel(k): np.asarray(v.pixels, np.float32) for k, v in part.channels.items()}
                )
            # (inside the ``with``: the header empties when the file closes)
            metadata = {
                "input/filename": path,
                **{f"exr/{k}": v for k, v in header.items() if k != "channels"},
            }
        bbox = (wx0 - dx0, wy0 - dy0, wx1 + 1 - dx0, wy1 + 1 - dy0)
        return _Image(dx1 - dx0 + 1, dy1 - dy0 + 1, bbox, planes, metadata)
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    planes = image.astype(np.float32) / (65535.0 if image.dtype == np.uint16 else 255.0)
    if planes.ndim == 2:
        planes = np.dstack([planes] * 3)
    out = {"rgba.red": planes[..., 2], "rgba.green": planes[..., 1], "rgba.blue": planes[..., 0]}
    if planes.shape[2] == 4:  # like Nuke, an RGB file has no alpha channel at all
        out["rgba.alpha"] = planes[..., 3]
    height, width = planes.shape[:2]
    return _Image(width, height, (0, 0, width, height), out, {"input/filename": path})


def _write_frame(write: Node, frame: int) -> None:
    """An EXR whose data window is the input's bbox and display window its format, as exrWriter does, with the
    Write's ``compression``, ``metadata`` (see :func:`_metadata_attributes`), ``interleave`` ("channels": each
    layer in a part of its own) and ``autocrop`` (the data window shrunk to the pixels that are not zero)."""
    image = _render(write.input(0), frame)
    channels = image.channels
    wanted = write["channels"].value()
    rgba = {"rgba.red": "R", "rgba.green": "G", "rgba.blue": "B", "rgba.alpha": "A"}
    names = list(channels) if wanted == "all" else [c for c in _layers.get(wanted, []) if c in channels]
    dtype = np.float16 if write["datatype"].value() == "16 bit half" else np.float32
    path = _frame_path(_in_project(write["file"].evaluate()), frame)
    if write["create_directories"].value():
        os.makedirs(os.path.dirname(path), exist_ok=True)
    x0, y0, x1, y1 = image.bbox
    if write["autocrop"].value() and names:
        used = np.any([channels[n] != 0 for n in names], axis=0)
        rows, cols = np.flatnonzero(used.any(axis=1)), np.flatnonzero(used.any(axis=0))
        if rows.size:
            top, left = rows[0], cols[0]
            channels = {n: channels[n][top : rows[-1] + 1, left : cols[-1] + 1] for n in names}
            x0, y0, x1, y1 = x0 + left, y0 + top, x0 + cols[-1] + 1, y0 + rows[-1] + 1
    header = {
        "compression": _EXR_COMPRESSION_TYPES[write["compression"].value()],
        "type": OpenEXR.scanlineimage,
        "dataWindow": (np.array([x0, y0], np.int32), np.array([x1 - 1, y1 - 1], np.int32)),
        "displayWindow": (
            np.array([0, 0], np.int32),
            np.array([image.width - 1, image.height - 1], np.int32),
        ),
    }
    for name, value in _metadata_attributes(write["metadata"].value(), image.metadata).items():
        header.setdefault(name, value)
    out = {rgba.get(n, n): np.ascontiguousarray(channels[n].astype(dtype)) for n in names}
    if write["interleave"].value() != "channels":
        OpenEXR.File(header, out).write(path)
        return
    layers: dict[str, dict[str, np.ndarray]] = {}
    for name in names:
        layers.setdefault(name.split(".", 1)[0], {})[rgba.get(name, name)] = out[rgba.get(name, name)]
    parts = [OpenEXR.Part({**header, "name": layer}, planes, layer) for layer, planes in layers.items()]
    OpenEXR.File(parts).write(path)


#: Header attributes the writer sets itself: an ``exr/*`` key of these is never written from metadata.
_WRITER_OWN = {"channels", "compression", "dataWindow", "displayWindow", "lineOrder", "type", "tiles", "name"}
#: What "default metadata" writes (Foundry: "timecode, edgecode, frame rate and exposure"), as EXR attributes.
_DEFAULT_METADATA = {"timeCode", "keyCode", "framesPerSecond", "expTime"}


def _metadata_attributes(mode: str, metadata: dict[str, Any]) -> dict[str, Any]:
    """The EXR attributes a Write's ``metadata`` mode writes (exrWriter's ``metadataToExrHeader``): ``exr/*``
    as the attribute it names from "default metadata and exr/*" on, other keys as ``nuke/<key>`` from "all
    metadata except input/*" on (``input/*`` only with "all metadata"). The fake's "default metadata" keeps
    the four attributes it names when the input's EXR had them."""
    found: dict[str, Any] = {}
    if mode == "no metadata":
        return found
    rank = _EXR_METADATA.index(mode)  # (the menu's order: default, no, default + exr/*, all but input/*, all)
    for key, value in metadata.items():
        if key.startswith("exr/"):
            name = key[len("exr/") :]
            if name in _WRITER_OWN or (rank < 2 and name not in _DEFAULT_METADATA):
                continue
        elif rank >= 4 or (rank == 3 and not key.startswith("input/")):
            name = f"nuke/{key}"
        else:
            continue
        found[name] = value
    return found


# -- session state ------------------------------------------------------------------------------------------------

_root: Root
_context: list[Group]
_this: Node | None = None
_this_knob: Knob | None = None
_selected: Node | None = None


def _reset(gizmos: bool = False) -> None:
    """Fresh, empty script (a test fixture calls this before each test); ``gizmos``: keep the installed gizmos
    and knob defaults (a new session on the same machine)."""
    global _root, _context, _this, _this_knob, _selected, GUI
    if not gizmos:
        _gizmos.clear()
        _knob_defaults.clear()  # (the machine's menu.py sets them again in each session)
    GUI = False
    _version_from_environment()
    _root = Root("Root", None)
    _root._name = "root"
    _root._script = "Root"
    _context = [_root]
    _this = _selected = _this_knob = None
    _reset_layers()
    ProgressTask._cancel_after = None
    global _cancel_execute_after
    _cancel_execute_after = None
    for log in (execute_log, execute_views, progress_tasks, messages, warnings, opened_scripts):
        log.clear()
    while not _main_calls.empty():
        _main_calls.get_nowait()
    menus.clear()
    _on_script_load.clear()
    _knob_changed.clear()
    _update_ui.clear()
    _before_render_calls.clear()


def _reset_layers() -> None:
    _layers.clear()
    _layers.update({name: list(names) for name, names in _DEFAULT_LAYERS.items()})


def _select(node: Node | None) -> None:
    global _selected
    _selected = node


_reset()
