"""Everything that touches ``nuke``: build the AIFill group, read it, write its inputs, show its result.

Kept small on purpose: the decisions live in :mod:`aifx_nuke.jobs` and :mod:`aifx_nuke.session`, which are
tested without Nuke. Only documented Python API is used (``nuke.nodes``, ``Group.begin/end``, knob classes,
``Node.input/setInput``, ``nuke.execute``, ``nuke.ProgressTask``, ``nuke.root()``, ``nuke.thisNode``,
``nuke.executeInMainThreadWithResult``).

Inside the group::

    Source ──► aifx_write_source           (raw EXR, disabled except while we execute it)
    Mask ────► aifx_write_mask
    Source ──► aifx_switch(0) ──► Output   (pass-through until the first render)
    aifx_result (Read, raw) ──► aifx_switch(1)
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, TypeVar, cast

import nuke

from . import jobs, knobs, session

F = TypeVar("F", bound=Callable[..., Any])

#: ``Node.writeKnobs`` flags: the knobs an artist changed, as script text (expressions and animation too).
_WRITE_KNOB_FLAGS = nuke.WRITE_NON_DEFAULT_ONLY | nuke.TO_SCRIPT


def _main_thread(method: F) -> F:
    """Run a Nuke call on Nuke's main thread: the GUI Render button renders in a background thread."""

    def call(*args: Any) -> Any:
        if nuke.GUI and threading.current_thread() is not threading.main_thread():
            return nuke.executeInMainThreadWithResult(method, args)
        return method(*args)

    call.__doc__ = method.__doc__
    return cast(F, call)


# -- building -------------------------------------------------------------------------------------------------


def _make_knob(spec: knobs.KnobSpec) -> nuke.Knob:
    maker = getattr(nuke, spec.kind)
    if spec.kind == "Enumeration_Knob":
        knob = maker(spec.name, spec.label, list(spec.values))
    elif spec.kind == "PyScript_Knob" or spec.kind == "Text_Knob":
        knob = maker(spec.name, spec.label, spec.default)
    else:
        knob = maker(spec.name, spec.label)
    if spec.kind not in ("PyScript_Knob", "Text_Knob"):
        knob.setValue(spec.default)
    knob.setTooltip(spec.tooltip)
    if spec.name == "cancel":
        knob.clearFlag(nuke.STARTLINE)  # beside Render
    return knob  # type: ignore[no-any-return]


def create_aifill(connect_selected: bool = True) -> nuke.Group:
    """Make an AIFill node (the toolbar command). ``connect_selected`` wires it under the selected node."""
    made = nuke.createNode("Group", inpanel=False) if connect_selected else nuke.nodes.Group()
    if not isinstance(made, nuke.Group):
        raise TypeError(f"nuke made a {made.Class()} for a Group")
    group = made
    group.setName(knobs.NODE_NAME + "1")  # Nuke uncollides: AIFill1, AIFill2...
    group.addKnob(nuke.Tab_Knob(knobs.TAB_NAME, "AIFill"))
    for spec in knobs.KNOBS:
        group.addKnob(_make_knob(spec))
    group.begin()
    try:
        source = nuke.nodes.Input(name=knobs.INPUT_SOURCE, number=0)
        mask = nuke.nodes.Input(name=knobs.INPUT_MASK, number=1)
        for name, upstream in ((knobs.WRITE_SOURCE, source), (knobs.WRITE_MASK, mask)):
            write = nuke.nodes.Write(
                name=name, file_type="exr", raw=True, create_directories=True, disable=True
            )
            write.setInput(0, upstream)
        read = nuke.nodes.Read(name=knobs.READ_RESULT, raw=True, on_error="error")
        switch = nuke.nodes.Switch(name=knobs.SWITCH_OUTPUT, which=0)
        switch.setInput(0, source)
        switch.setInput(1, read)
        nuke.nodes.Output().setInput(0, switch)
    finally:
        group.end()
    return group


# -- the host session.render talks to ----------------------------------------------------------------------------


class NukeHost:
    """One AIFill node as :class:`aifx_nuke.session.Host`."""

    def __init__(self, node: nuke.Node) -> None:
        if not isinstance(node, nuke.Group) or node.knob("aifx_env") is None:
            raise session.RenderError(f"{node.name()} is not an AIFill node")
        self.node = node
        self.node_name = node.fullName()

    def _inner(self, name: str) -> nuke.Node:
        inner = self.node.node(name)
        if inner is None:
            raise session.RenderError(f"{self.node_name} has no internal node {name}; make a new AIFill")
        return inner

    @_main_thread
    def settings(self) -> dict[str, Any]:
        return {name: self.node[name].value() for name in knobs.SETTING_NAMES}

    @_main_thread
    def input_range(self) -> tuple[int, int] | None:
        source = self.node.input(0)
        return None if source is None else (source.firstFrame(), source.lastFrame())

    @_main_thread
    def mask_connected(self) -> bool:
        return self.node.input(1) is not None

    @_main_thread
    def upstream(self) -> list[tuple[str, str, str, str]]:
        rows: list[tuple[str, str, str, str]] = []
        seen: set[str] = set()
        for label, index in ((knobs.INPUT_SOURCE, 0), (knobs.INPUT_MASK, 1)):
            stack = [self.node.input(index)]
            while stack:
                node = stack.pop()
                if node is None or node.fullName() in seen:
                    continue
                seen.add(node.fullName())
                rows.append((label, node.Class(), node.fullName(), node.writeKnobs(_WRITE_KNOB_FLAGS)))
                if isinstance(node, nuke.Group):
                    rows.extend(
                        (label, n.Class(), n.fullName(), n.writeKnobs(_WRITE_KNOB_FLAGS))
                        for n in node.nodes()
                    )
                stack.extend(node.input(i) for i in reversed(range(node.inputs())))
        return rows

    @_main_thread
    def colour_settings(self) -> tuple[str, str, str]:
        root = nuke.root()
        values = []
        for name in ("colorManagement", "OCIO_config", "workingSpaceLUT"):
            knob = root.knob(name)
            values.append("" if knob is None else str(knob.value()))
        return values[0], values[1], values[2]

    @_main_thread
    def script_path(self) -> str:
        return str(nuke.root().name())

    @_main_thread
    def write_inputs(self, paths: jobs.CachePaths, first: int, last: int, write_mask: bool) -> None:
        channel = str(self.node["mask_channel"].value())
        source_channels = "rgba" if write_mask else jobs.write_channels(channel)
        todo = [(knobs.INPUT_SOURCE, knobs.WRITE_SOURCE, paths.source, source_channels, "32 bit float")]
        if write_mask:
            todo.append(
                (knobs.INPUT_MASK, knobs.WRITE_MASK, paths.mask, jobs.write_channels(channel), "16 bit half")
            )
        os.makedirs(paths.inputs_dir, exist_ok=True)
        for label, name, pattern, channels, datatype in todo:
            write = self._inner(name)
            write["file"].setValue(pattern)
            write["channels"].setValue(channels)
            write["datatype"].setValue(datatype)
            write["disable"].setValue(False)
            try:
                nuke.execute(write, first, last)
            except RuntimeError as exc:  # what nuke.execute raises for a render error or a cancel
                message = str(exc).strip().splitlines()[-1] if str(exc).strip() else "render failed"
                raise session.RenderError(
                    f"writing the {label} input, frames {first}-{last}: {message}; check what feeds {label}"
                ) from None
            finally:
                write["disable"].setValue(True)

    @_main_thread
    def show_result(self, pattern: str, first: int, last: int) -> None:
        read = self._inner(knobs.READ_RESULT)
        read["file"].setValue(pattern)
        for name, value in (("first", first), ("last", last), ("origfirst", first), ("origlast", last)):
            read[name].setValue(value)
        self._inner(knobs.SWITCH_OUTPUT)["which"].setValue(1)

    @_main_thread
    def set_status(self, text: str) -> None:
        self.node["status"].setValue(text)

    def progress(self, title: str) -> session.ProgressLike:
        return nuke.ProgressTask(title) if nuke.GUI else session.ConsoleProgress(title)


# -- entry points ------------------------------------------------------------------------------------------------


def render_node(node: nuke.Node, frame_range: str | None = None) -> session.Outcome:
    """Render one AIFill node in this thread: what the farm entry point and scripts call."""
    return session.render(NukeHost(node), frame_range)


def on_render_button() -> threading.Thread | None:
    """Render button: in the GUI the render runs in a thread so Nuke stays live; headless it blocks."""
    node = nuke.thisNode()
    if not nuke.GUI:
        render_node(node)
        return None
    host = NukeHost(node)

    def run() -> None:
        try:
            session.render(host)
        except session.RenderError as exc:
            nuke.executeInMainThread(nuke.message, args=(f"AIFill {host.node_name}: {exc}",))

    thread = threading.Thread(target=run, name=f"aifx-{host.node_name}", daemon=True)
    thread.start()
    return thread


def on_cancel_button() -> bool:
    """Cancel button: stop this node's render (the worker finishes no partial frame)."""
    node = nuke.thisNode()
    stopped = session.request_cancel(node.fullName())
    if not stopped:
        node["status"].setValue("nothing to cancel")
    return stopped


def find_node(name: str) -> nuke.Node:
    """``AIFill1`` or ``Group1.AIFill1`` → the node, or a one-line error naming what exists."""
    node = nuke.toNode(name)
    if node is None or node.knob("aifx_env") is None:
        found = [n.fullName() for n in nuke.allNodes("Group", recurseGroups=True) if n.knob("aifx_env")]
        names = ", ".join(found) or "none"
        raise session.RenderError(
            f"no AIFill node named {name} in {nuke.root().name()}; AIFill nodes: {names}"
        )
    return node
