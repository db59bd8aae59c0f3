"""A small stand-in for Foundry's ``nuke`` module, for testing the aifx plugin without Nuke.

It follows the documented Python API (learn.foundry.com/nuke/developers/.../pythonreference) for exactly
what the plugin uses: knob classes with ``value``/``setValue``, nodes with knobs, inputs and ``writeKnobs``,
``Group.begin/end``, ``nuke.nodes.<Class>(**knobs)``, ``createNode``, ``toNode``, ``allNodes``, ``root()``,
``thisNode()`` (set while a ``PyScript_Knob`` executes), ``execute``, ``ProgressTask``, ``scriptOpen``,
``executeInMainThread[WithResult]``, ``menu``. ``execute`` on a Write really renders: it pulls each frame
through the graph (Read → Input/Switch/Output/Group/Dot → Write) and writes a small EXR with OpenEXR, so the
aifx worker gets real input. Test helpers start with an underscore.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import OpenEXR

GUI = False
WRITE_NON_DEFAULT_ONLY = 0x1
TO_SCRIPT = 0x2
STARTLINE = 0x1000

# -- recorded state (tests read these) ---------------------------------------------------------------------------
execute_log: list[tuple[str, int, int]] = []
progress_tasks: list[ProgressTask] = []
messages: list[str] = []
opened_scripts: list[str] = []
menus: dict[str, Menu] = {}


class CancelledError(Exception):
    pass


# -- knobs -------------------------------------------------------------------------------------------------------


class Knob:
    _default: Any = ""

    def __init__(self, name: str, label: str | None = None, *args: Any) -> None:
        self._name = name
        self._label = label or name
        self._value = self._default
        self._tooltip = ""
        self._flags = STARTLINE
        self._node: Node | None = None

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
        return str(self._value)


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


class String_Knob(Knob):
    def setValue(self, value: Any) -> bool:
        self._value = str(value)
        return True


class File_Knob(String_Knob):
    pass


class Channel_Knob(String_Knob):
    _default = "none"


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

    def setValue(self, value: Any) -> bool:
        if isinstance(value, int) and not isinstance(value, bool):
            value = self._values[value]
        if value not in self._values:
            raise ValueError(f"Bad value for {self._name} : {value}")
        self._value = value
        return True


class PyScript_Knob(Knob):
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


# -- nodes ------------------------------------------------------------------------------------------------------

#: Built-in knobs (name → default) of the node classes the plugin and tests use; other classes accept any.
_CLASS_KNOBS: dict[str, dict[str, Any]] = {
    "Read": {
        "file": "",
        "first": 1,
        "last": 1,
        "origfirst": 1,
        "origlast": 1,
        "raw": False,
        "on_error": "error",
        "colorspace": "default",
        "disable": False,
    },
    "Write": {
        "file": "",
        "file_type": "",
        "channels": "rgb",
        "datatype": "16 bit half",
        "compression": "Zip (1 scanline)",
        "raw": False,
        "create_directories": False,
        "disable": False,
        "colorspace": "default",
    },
    "Input": {"number": 0},
    "Output": {},
    "Switch": {"which": 0, "disable": False},
    "Dot": {},
    "Group": {},
    "Root": {
        "first_frame": 1,
        "last_frame": 100,
        "colorManagement": "Nuke",
        "OCIO_config": "nuke-default",
        "workingSpaceLUT": "linear",
        "customOCIOConfigPath": "",
    },
}


class Node:
    def __init__(self, cls: str, parent: Group | None) -> None:
        self._class = cls
        self._parent = parent
        self._knobs: dict[str, Knob] = {}
        self._defaults: dict[str, Any] = {}
        self._inputs: list[Node | None] = []
        self._name = ""
        for name, default in _CLASS_KNOBS.get(cls, {}).items():
            self._add_builtin(name, default)
        if parent is not None:
            self.setName(cls + "1")
            parent._children.append(self)

    def _add_builtin(self, name: str, default: Any) -> None:
        kind: type[Knob] = {bool: Boolean_Knob, int: Int_Knob, float: Double_Knob}.get(
            type(default), String_Knob
        )
        knob = kind(name)
        knob.setValue(default)
        knob._node = self
        self._knobs[name] = knob
        self._defaults[name] = default

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
        if name not in self._knobs:
            raise NameError(f"knob {name} does not exist")
        return self._knobs[name]

    def addKnob(self, knob: Knob) -> None:
        knob._node = self
        self._knobs[knob.name()] = knob

    def writeKnobs(self, flags: int = 0) -> str:
        """The knobs that differ from their defaults, as ``name value`` lines (user knobs always)."""
        lines = []
        for name, knob in self._knobs.items():
            if isinstance(knob, (PyScript_Knob, Tab_Knob, Text_Knob)):
                continue
            if (
                name in self._defaults
                and knob.value() == self._defaults[name]
                and flags & WRITE_NON_DEFAULT_ONLY
            ):
                continue
            lines.append(f"{name} {knob.toScript()}")
        return "\n".join(lines)

    # inputs
    def input(self, index: int) -> Node | None:
        return self._inputs[index] if index < len(self._inputs) else None

    def inputs(self) -> int:
        return len(self._inputs)

    def setInput(self, index: int, node: Node | None) -> bool:
        while len(self._inputs) <= index:
            self._inputs.append(None)
        self._inputs[index] = node
        while self._inputs and self._inputs[-1] is None:
            self._inputs.pop()
        return True

    # frame range
    def firstFrame(self) -> int:
        if self._class == "Read":
            return int(self["first"].value())
        upstream = self.input(0)
        return upstream.firstFrame() if upstream else int(root()["first_frame"].value())

    def lastFrame(self) -> int:
        if self._class == "Read":
            return int(self["last"].value())
        upstream = self.input(0)
        return upstream.lastFrame() if upstream else int(root()["last_frame"].value())


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
            if child.name() == head:
                if not rest:
                    return child
                return child.node(rest) if isinstance(child, Group) else None
        return None

    def _input_node(self, number: int) -> Node | None:
        for child in self._children:
            if child.Class() == "Input" and int(child["number"].value()) == number:
                return child
        return None


class Root(Group):
    def name(self) -> str:
        return self._script

    def fullName(self) -> str:
        return "root"


class Nodes:
    """``nuke.nodes.Blur(size=3)``: make a node in the current group and set knobs, without connecting."""

    def __getattr__(self, cls: str) -> Callable[..., Node]:
        def make(**knobs: Any) -> Node:
            return _make(cls, knobs)

        return make


nodes = Nodes()


def _make(cls: str, knobs: dict[str, Any]) -> Node:
    parent = _context[-1]
    node: Node = Group(cls, parent) if cls == "Group" else Node(cls, parent)
    for name, value in knobs.items():
        if name == "name":
            node.setName(value)
        elif node.knob(name) is not None:
            node[name].setValue(value)
        elif cls in _CLASS_KNOBS:
            raise ValueError(f"{cls} has no knob named {name}")
        else:
            node._add_builtin(name, value)
    return node


def createNode(typ: str, knobs: str = "", inpanel: bool = True) -> Node:
    """Make a node and connect it below the selected node, as the Tab menu does."""
    node = _make(typ, {})
    if _selected is not None and _selected._parent is node._parent:
        node.setInput(0, _selected)
    return node


def root() -> Root:
    return _root


def thisNode() -> Node:
    if _this is None:
        raise RuntimeError("nuke.thisNode() called outside a knob callback")
    return _this


def toNode(name: str) -> Node | None:
    return _context[-1].node(name) if _context[-1] is not _root else _root.node(name)


def allNodes(
    filter: str | None = None, group: Group | None = None, recurseGroups: bool = False
) -> list[Node]:
    found: list[Node] = []
    for child in (group or _context[-1]).nodes():
        if filter is None or child.Class() == filter:
            found.append(child)
        if recurseGroups and isinstance(child, Group):
            found.extend(allNodes(filter, child, True))
    return found


def scriptOpen(filename: str) -> None:
    """Opening a script here keeps the graph the test built; it records the call and names the root."""
    if not os.path.isfile(filename):
        raise RuntimeError(f"{filename}: No such file or directory")
    opened_scripts.append(filename)
    _root._script = filename


def message(text: str) -> None:
    messages.append(text)


def executeInMainThread(call: Callable[..., Any], args: Any = (), kwargs: Any = None) -> None:
    call(*_as_tuple(args), **(kwargs or {}))


def executeInMainThreadWithResult(call: Callable[..., Any], args: Any = (), kwargs: Any = None) -> Any:
    return call(*_as_tuple(args), **(kwargs or {}))


def _as_tuple(args: Any) -> tuple:
    return args if isinstance(args, tuple) else (args,)


class ProgressTask:
    """Records messages and percentages; a test cancels by setting ``_cancel_after`` (isCancelled calls)."""

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


# -- execute: a tiny renderer ------------------------------------------------------------------------------------


def execute(nameOrNode: Node | str, start: int, end: int, incr: int = 1) -> None:
    node = toNode(nameOrNode) if isinstance(nameOrNode, str) else nameOrNode
    if node is None or node.Class() != "Write":
        raise RuntimeError(f"{nameOrNode} is not a Write node")
    if node["disable"].value():
        raise RuntimeError(f"{node.name()}: node is disabled")
    execute_log.append((node.fullName(), start, end))
    for frame in range(start, end + 1, incr):
        _write_frame(node, frame)


def _frame_path(pattern: str, frame: int) -> str:
    pattern = re.sub(r"#+", lambda m: f"%0{len(m.group(0))}d", pattern)
    return pattern % frame if "%" in pattern else pattern


def _pull(node: Node | None, frame: int) -> dict[str, np.ndarray]:
    """Channels (Nuke names, float32) of ``node`` at ``frame``."""
    if node is None:
        raise RuntimeError("input not connected")
    cls = node.Class()
    if cls == "Read":
        return _read(_frame_path(node["file"].value(), frame))
    if cls == "Input":
        parent = node._parent
        assert isinstance(parent, Group)
        return _pull(parent.input(int(node["number"].value())), frame)
    if cls == "Switch":
        return _pull(node.input(int(node["which"].value())), frame)
    if isinstance(node, Group):
        output = next((c for c in node.nodes() if c.Class() == "Output"), None)
        return _pull(output.input(0) if output else None, frame)
    return _pull(node.input(0), frame)


def _read(path: str) -> dict[str, np.ndarray]:
    if not os.path.exists(path):
        raise RuntimeError(f"Read error: {path}: No such file or directory")
    if path.lower().endswith(".exr"):
        names = {"R": "rgba.red", "G": "rgba.green", "B": "rgba.blue", "A": "rgba.alpha"}
        with OpenEXR.File(path, separate_channels=True) as exr:
            return {names.get(k, k): np.asarray(v.pixels, np.float32) for k, v in exr.channels().items()}
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    planes = image.astype(np.float32) / (65535.0 if image.dtype == np.uint16 else 255.0)
    if planes.ndim == 2:
        planes = np.dstack([planes] * 3)
    out = {"rgba.red": planes[..., 2], "rgba.green": planes[..., 1], "rgba.blue": planes[..., 0]}
    if planes.shape[2] == 4:  # like Nuke, an RGB file has no alpha channel at all
        out["rgba.alpha"] = planes[..., 3]
    return out


def _write_frame(write: Node, frame: int) -> None:
    channels = _pull(write.input(0), frame)
    wanted = write["channels"].value()
    rgba = {"rgba.red": "R", "rgba.green": "G", "rgba.blue": "B", "rgba.alpha": "A"}
    if wanted == "all":
        names = list(channels)
    else:
        names = [
            c for c in rgba if c in channels and c.split(".")[1][0] in ("rgba" if wanted == "rgba" else "rgb")
        ]
    dtype = np.float16 if write["datatype"].value() == "16 bit half" else np.float32
    out = {rgba.get(n, n): np.ascontiguousarray(channels[n].astype(dtype)) for n in names}
    path = _frame_path(write["file"].value(), frame)
    if write["create_directories"].value():
        os.makedirs(os.path.dirname(path), exist_ok=True)
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    OpenEXR.File(header, out).write(path)


# -- session state ------------------------------------------------------------------------------------------------

_root: Root
_context: list[Group]
_this: Node | None = None
_selected: Node | None = None


def _reset() -> None:
    """Fresh, empty script (a test fixture calls this before each test)."""
    global _root, _context, _this, _selected, GUI
    _root = Root("Root", None)
    _root._name = "root"
    _root._script = "Root"
    _context = [_root]
    _this = _selected = None
    GUI = False
    ProgressTask._cancel_after = None
    for log in (execute_log, progress_tasks, messages, opened_scripts):
        log.clear()
    menus.clear()


def _select(node: Node | None) -> None:
    global _selected
    _selected = node


_reset()
