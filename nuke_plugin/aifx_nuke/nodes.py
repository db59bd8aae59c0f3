"""Everything that touches ``nuke``: build the AIFill group, read it, write its inputs, show its result.

Kept small on purpose: the decisions live in :mod:`aifx_nuke.jobs` and :mod:`aifx_nuke.session`, which are
tested without Nuke. Only documented Python API is used (``nuke.nodes``, ``Group.begin/end``, knob classes,
``Node.input/setInput``, ``nuke.execute``, ``nuke.ProgressTask``, ``nuke.root()``, ``nuke.thisNode``,
``nuke.executeInMainThreadWithResult``).

Inside the group::

    Source ──► aifx_crop_source ──► aifx_write_source   (an EXR's data window is its input's bbox, its display
    Mask ────► aifx_crop_mask ────► aifx_write_mask      window the format: the Source's Crop is disabled, so its
                                                         overscan is kept; the Mask's reformats it to the Source's
                                                         format, the frame the fill works in)
    aifx_result (Read, raw) ──► aifx_range ──► Output    (errors until a result exists: never the raw plate)
    aifx_outside (Read) ───────►┘ (Switch)               (after a render, frames outside the filled ones: an error)

The cache Writes stay disabled except while we execute them, so ``nuke -x`` never runs them.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import stat
import threading
from collections.abc import Hashable, Iterator
from typing import TYPE_CHECKING, Any, Callable, TypeVar, cast

import nuke

if TYPE_CHECKING:  # (typing.TypeGuard is Python 3.10; Nuke 14 runs 3.9)
    from typing_extensions import TypeGuard

from . import jobs, knobs, session
from .aifx_protocol.errors import InputError
from .aifx_protocol.frames import hash_pattern

F = TypeVar("F", bound=Callable[..., Any])

#: ``Node.writeKnobs`` flags: the knobs an artist changed, as script text (expressions and animation too).
_WRITE_KNOB_FLAGS = nuke.WRITE_NON_DEFAULT_ONLY | nuke.TO_SCRIPT


#: What ``nuke.execute`` raises (as a RuntimeError) when the artist cancels its progress bar.
NUKE_CANCELLED = "Cancelled"


def _main_thread(method: F) -> F:
    """Run a Nuke call on Nuke's main thread: the GUI Render button renders in a background thread.

    ``nuke.executeInMainThreadWithResult`` prints an exception and returns ``None``, so the call is wrapped to
    return ``(ok, value or exception)`` and the exception is raised again here, in the render thread. A node
    deleted (or its script closed) meanwhile is :class:`session.NodeDeleted`, not a bug (:func:`_detached`).
    """

    def call(*args: Any, **kwargs: Any) -> Any:
        bound = functools.partial(method, **kwargs) if kwargs else method
        try:
            if not (nuke.GUI and threading.current_thread() is not threading.main_thread()):
                return bound(*args)
            outcome = nuke.executeInMainThreadWithResult(_captured, (bound, args))
            if not isinstance(outcome, tuple):
                raise session.RenderError(f"Nuke did not run {method.__name__} in its main thread")
            ok, value = outcome
            if not ok:
                raise value
            return value
        except ValueError as exc:
            if not _detached(exc):
                raise
            raise session.NodeDeleted(str(getattr(args[0], "node_name", "the AIFill"))) from None

    call.__doc__ = method.__doc__
    call.__name__ = method.__name__
    return cast(F, call)


#: What Nuke raises (a ValueError) for any call on the Python object of a node that no longer exists: deleted by
#: the artist (the AIFill or a group holding it) or gone with its script (File > Close, ``nuke.scriptClear``).
_DETACHED = "A PythonObject is not attached to a node"


def _detached(exc: ValueError) -> bool:
    """Whether ``exc`` is Nuke's refusal of a call on a node that is gone (not a bad value given to a knob)."""
    return _DETACHED in str(exc)


def _captured(method: Callable[..., Any], args: tuple[Any, ...]) -> tuple[bool, Any]:
    """``(True, result)`` or ``(False, exception)``: what crosses back from the main thread."""
    try:
        return True, method(*args)
    except Exception as exc:  # handed to the render thread, which raises it
        return False, exc


# -- building -------------------------------------------------------------------------------------------------


def _make_knob(spec: knobs.KnobSpec) -> nuke.Knob:
    maker = getattr(nuke, spec.kind)
    if spec.kind == "Enumeration_Knob":
        knob = maker(spec.name, spec.label, list(spec.values))
    elif spec.kind == "PyScript_Knob" or spec.kind == "Text_Knob":
        knob = maker(spec.name, spec.label, spec.default)
    elif spec.kind == "Channel_Knob":
        knob = maker(spec.name, spec.label, 1)  # depth 1: one channel (the default depth picks a layer)
    else:
        knob = maker(spec.name, spec.label)
    if spec.kind not in ("PyScript_Knob", "Text_Knob"):
        knob.setValue(spec.default)
    knob.setTooltip(spec.tooltip)
    if spec.name == "render":
        knob.setFlag(nuke.STARTLINE)  # a button joins the line of the knob before it unless told otherwise
    if spec.name == "cancel":
        knob.clearFlag(nuke.STARTLINE)  # beside Render
    return knob  # type: ignore[no-any-return]


def update_knobs(node: nuke.Node) -> list[str]:
    """Bring an AIFill from an older script up to today's knobs; the names of those changed.

    A script keeps the user knobs a node had when it was saved, and an Enumeration's menu items too: an AIFill
    made before a knob existed (``reference``, ``window``... since f444323) would have no such knob, and its
    *backend* menu would never offer a newer backend. Missing knobs are added at their defaults (what the older
    plugin sent, so its fill and cache key are unchanged), at the end of the aifx tab; menus get today's items,
    the chosen one kept (one no longer offered stays in the menu, so the render names it)."""
    changed = []
    for spec in knobs.KNOBS:
        knob = node.knob(spec.name)
        if knob is None:
            node.addKnob(_make_knob(spec))
            changed.append(spec.name)
        elif isinstance(knob, nuke.Enumeration_Knob):
            value = str(knob.value())
            items = [*spec.values, *([] if value in spec.values else [value])]
            if list(knob.values()) != items:
                knob.setValues(items)
                knob.setValue(value)  # Nuke keeps the selection's index, not its item
                changed.append(spec.name)
    return changed


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
        for crop_name, write_name, upstream in (
            (knobs.CROP_SOURCE, knobs.WRITE_SOURCE, source),
            (knobs.CROP_MASK, knobs.WRITE_MASK, mask),
        ):
            # The EXR writer takes the data window from its input's bbox (a Roto's small one, overscan) and
            # the display window from its format (a Roto's is the project's): a Crop that reformats to the
            # Source's format (the box is set before each write) makes both files the same full frame.
            crop = nuke.nodes.Crop(name=crop_name, reformat=True, intersect=False, crop=True)
            crop.setInput(0, upstream)
            write = nuke.nodes.Write(
                name=write_name, file_type="exr", raw=True, create_directories=True, disable=True
            )
            write.setInput(0, crop)
        read = nuke.nodes.Read(name=knobs.READ_RESULT, raw=True, on_error="error", file=knobs.NOT_RENDERED)
        nuke.nodes.Output().setInput(0, _range_switch(read))
    finally:
        group.end()
    return group


#: The knobs that hold free text (what to paint), read as typed: every other text knob names a path, a hub id, a
#: range, a colourspace or a URL, which a studio may spell with TCL (``[getenv MODELS]/big-lama.pt``), as it
#: does a Read's path, so those are read evaluated, as before.
FREE_TEXT_KNOBS = frozenset({"prompt", "negative_prompt"})


def _setting(knob: nuke.Knob) -> Any:
    """A setting knob's value for the job: evaluated (TCL, as Nuke evaluates a Read's path), but free text as
    typed. Foundry's ``String_Knob.value()`` is "the evaluated value" (TCL substituted), so a prompt
    ``a neon sign reading [OPEN]`` would be run as the command ``OPEN``; ``getText()`` is the text."""
    if isinstance(knob, nuke.File_Knob):
        return knob.evaluate()
    if isinstance(knob, nuke.String_Knob) and knob.name() in FREE_TEXT_KNOBS:
        return knob.getText()
    return knob.value()


def _not_evaluated(name: str, text: str, error: str) -> str:
    """The one line for a knob whose text Nuke cannot evaluate as TCL, in the node's words."""
    label = knobs.LABELS[name]
    return (
        f"{label}: cannot evaluate {text!r} ({error}); Nuke runs what {label} holds in [brackets] as TCL: fix "
        "the command or take the brackets out, or escape them as \\[ \\]"
    )


def _set_range(read: nuke.Node, first: int, last: int) -> None:
    """A Read's frame range (``first``/``last`` and the file's ``origfirst``/``origlast``): what the node
    reports as its range (``Node.firstFrame``), and so what any node below it sees. Each file is shown at its
    own frame (``frame_mode`` expression, ``frame`` empty): a studio's ``knobDefault("Read.frame_mode",
    "start at")`` (``Read.frame`` 1) reached these Reads too and showed the filled frames 1001-1003 at 1-3."""
    for name, value in (("first", first), ("last", last), ("origfirst", first), ("origlast", last)):
        read[name].setValue(value)
    read["frame_mode"].setValue("expression")
    read["frame"].setValue("")


def _range_switch(read: nuke.Node) -> nuke.Node:
    """The Switch between the result Read (0) and a Read that errors naming the filled frames (1), in the
    current group: :meth:`NukeHost.show_result` drives ``which`` by ``frame``."""
    outside = nuke.nodes.Read(name=knobs.READ_OUTSIDE, on_error="error", file=knobs.NOT_RENDERED)
    switch = nuke.nodes.Switch(name=knobs.SWITCH_RANGE)
    switch.setInput(0, read)
    switch.setInput(1, outside)
    return switch


# -- the host session.render talks to ----------------------------------------------------------------------------

#: The cache Writes' EXR knobs, set before each write: a studio's ``knobDefault("Write.exr.compression",
#: "DWAA")`` reaches every Write made (and every knob a script saved at its default), so the cache would be
#: lossy (pixels outside the hole changed), lose the plate's metadata (the Write's "default metadata" keeps
#: only timecode, edgecode, frame rate and exposure; the core carries the header into the result), put each
#: layer in a part of its own (the core reads the first part: a mask channel of another layer not found) or
#: shrink the data window. Names and items as Foundry's exrWriter has them.
_CACHE_WRITE_KNOBS: tuple[tuple[str, Any], ...] = (
    ("compression", "Zip (1 scanline)"),
    ("metadata", "all metadata"),
    ("interleave", "channels, layers and views"),
    ("autocrop", False),
)


def is_aifill(node: nuke.Node | None) -> TypeGuard[nuke.Group]:
    """The one test of "is an AIFill node": a Group (an exported gizmo too: ``nuke.Gizmo`` is a Group whose
    ``Class()`` is the gizmo's name, so never test the class name) with the AIFill knobs."""
    return isinstance(node, nuke.Group) and node.knob("aifx_env") is not None


def all_aifills() -> list[nuke.Node]:
    """Every AIFill node of the script, inside groups too (whatever their class: a gizmo's is its name)."""
    return [node for node in nuke.allNodes(group=nuke.root(), recurseGroups=True) if is_aifill(node)]


#: What :meth:`NukeHost.state` returns.
_State = tuple[tuple[tuple[str, ...], ...], tuple[tuple[str, Any], ...]]

#: Result path → the states of a node in which it rightly shows that result: the one it was shown in, and those
#: checked since (a knob the backend does not read changed). Kept by result, not by node: a pasted copy shows
#: the same result and is held to the inputs it was made of; a renamed node keeps it. One Nuke session's.
_SHOWN_IN: dict[str, set[_State]] = {}


class NukeHost:
    """One AIFill node as :class:`aifx_nuke.session.Host`."""

    def __init__(self, node: nuke.Node) -> None:
        if not is_aifill(node):
            raise session.RenderError(f"{node.name()} is not an AIFill node")
        self.node = node
        self.node_name = node.fullName()
        # Nuke's Node compares and hashes by the node it wraps (nuke.thisNode() in the Cancel button is another
        # wrapper of the same node): the key stays the node's through a rename.
        self.render_key: Hashable = node

    def _inner(self, name: str) -> nuke.Node:
        inner = self.node.node(name)
        if inner is None:
            raise session.RenderError(f"{self.node_name} has no internal node {name}; make a new AIFill")
        return inner

    def _source_format(self) -> nuke.Format:
        """The Source input's format (main thread, full resolution: called inside the methods below)."""
        source = self.node.input(0)
        if source is None:
            raise session.RenderError(f"{self.node_name} has no Source input; connect the plate")
        try:
            return source.format()
        except RuntimeError as exc:
            raise session.RenderError(
                f"the Source input has no image: {exc}; check what feeds Source"
            ) from None

    @_main_thread
    def settings(self, keyed_only: bool = False) -> dict[str, Any]:
        """Knob values; file knobs evaluated (``[getenv SHOW]/cache``), as Nuke evaluates a Read's path, and the
        text knobs but the free text (:func:`_setting`).

        A knob whose TCL does not evaluate (a model file named ``big-lama[v2].pt``: ``v2`` is no command) is a
        :class:`session.RenderError` naming the knob, unless the chosen backend does not read it
        (:func:`jobs.knob_is_read`: a model under telea): options reach the job only where read, so such a knob
        blocks nothing, and its text as typed stands in for it.

        ``keyed_only``: only the settings a fill is keyed on, without :data:`jobs.UNKEYED_SETTINGS` (cache folder,
        aifx environment, aifx server): what checks a shown result reads, so that one of those that does not
        evaluate stops a render that uses it, never forgets a good fill."""
        values: dict[str, Any] = {}
        failed: dict[str, str] = {}
        for spec in knobs.KNOBS:
            if not spec.setting or (keyed_only and spec.name in jobs.UNKEYED_SETTINGS):
                continue
            knob = self.node.knob(spec.name)
            if (
                knob is None
            ):  # an AIFill from an older script not updated yet (update_knobs): what it sent then
                values[spec.name] = spec.default
                continue
            try:
                values[spec.name] = _setting(knob)
            except (RuntimeError, ValueError) as exc:  # (what TCL that fails raises, as _file_paths takes it)
                if isinstance(exc, ValueError) and _detached(exc):
                    raise
                values[spec.name] = knob.getText() if isinstance(knob, nuke.String_Knob) else spec.default
                failed[spec.name] = jobs.last_line(exc, "TCL error")
        for name, error in failed.items():
            if jobs.knob_is_read(values, name):
                raise session.RenderError(_not_evaluated(name, str(values[name]), error))
        return values

    @_main_thread
    def input_range(self) -> tuple[int, int] | None:
        source = self.node.input(0)
        return None if source is None else (source.firstFrame(), source.lastFrame())

    def _source_held(self, frame: int) -> bool:
        """Whether Nuke shows the Source's one frame ``frame`` at every frame (a still: a DMP, a clean plate).

        Only when every Read above the Source is one frame, held before and after it (not black: an empty
        Source there). A FrameRange set to one frame of a longer plate still passes the other frames' pixels
        through: its Read spans many frames, so it is not held. A TimeOffset moves a still's frame number
        (1 at the Read, 1002 at the Source) but Nuke still holds it, so the Read's frame is not compared with
        ``frame``. Otherwise holding the fill would freeze one frame over the plate, which the range Switch
        exists to prevent."""
        source = self.node.input(0)
        if source is None:
            return False
        reads = _reads_above(source)
        return bool(reads) and all(
            read.firstFrame() == read.lastFrame()
            and read["before"].value() != "black"
            and read["after"].value() != "black"
            for read in reads
        )

    @_main_thread
    def mask_connected(self) -> bool:
        return self.node.input(1) is not None

    @_main_thread
    def mask_range(self) -> tuple[int, int] | None:
        """The Mask input's frames where Nuke would hold a matte past them: None when nothing is held there
        (no Read above it: a Roto or Constant is made for any frame, its range only the project's; a Read
        set to black before and after: an empty matte there, as the artist asked)."""
        mask = self.node.input(1)
        if mask is None:
            return None
        holding = [
            read
            for read in _reads_above(mask)
            if not (read["before"].value() == "black" and read["after"].value() == "black")
        ]
        return (mask.firstFrame(), mask.lastFrame()) if holding else None

    @_main_thread
    def upstream(self) -> list[tuple[str, str, str, str]]:
        """Every node the written inputs depend on, as cache-key rows, in a fixed order (see :func:`_feeds`).

        The node itself is never walked (an expression may name it): its Read changes with each render."""
        rows: list[tuple[str, str, str, str]] = []
        keyed = {self.node.fullName()}  # nodes whose row is in
        walked = {self.node.fullName()}  # nodes whose pixel feeds are walked too
        relative = False  # a file path that Nuke looks for in the project directory
        with _full_resolution():  # (nuke.filename gives a Read's proxy file in proxy mode)
            for label, index in ((knobs.INPUT_SOURCE, 0), (knobs.INPUT_MASK, 1)):
                stack: list[tuple[nuke.Node | None, bool]] = [(self.node.input(index), True)]
                while stack:
                    node, pixels = stack.pop()
                    if node is None or node.fullName() in (walked if pixels else keyed):
                        continue
                    if node.fullName() not in keyed:
                        keyed.add(node.fullName())
                        paths, relative_here = ([], False) if _in_aifill(node) else _file_paths(node)
                        relative = relative or relative_here
                        text = "\n".join([_knob_lines(node), *paths])
                        rows.append((label, node.Class(), node.fullName(), text))
                    if pixels:
                        walked.add(node.fullName())
                    feeds = _feeds(node) if pixels else []
                    links = [(linked, False) for linked in _linked(node)]
                    stack.extend(reversed([*((feed, True) for feed in feeds), *links]))
            if self.node.input(0) is not None:
                # What the written inputs depend on besides the nodes: the full-resolution format and the view.
                size = self._source_format()
                project = [f"format {size.width()}x{size.height()}", f"view {_hero()}", *_colour_lines()]
                if relative:
                    project.append(f"project_directory {_project_directory()}")
                rows.append(("Project", "Root", "root", "\n".join(project)))
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
    def write_inputs(
        self,
        paths: jobs.CachePaths,
        first: int,
        last: int,
        write_mask: bool,
        cancelled: Callable[[], bool] | None = None,
    ) -> None:
        """Source with every channel (the core fills rgb and carries alpha, depth, AOVs and the rest through, so
        the node's output keeps the plate's layers), the Mask with the channel that marks the hole.

        ``cancelled`` is asked between the two writes: a Cancel pressed on the AIFill's progress dialog while
        the Source was written skips the Mask's (raised as :class:`session.InputsCancelled`)."""
        channel = str(self.node["mask_channel"].value())
        todo = [(knobs.INPUT_SOURCE, knobs.WRITE_SOURCE, paths.source, "all", "32 bit float")]
        if write_mask:
            todo.append(
                (knobs.INPUT_MASK, knobs.WRITE_MASK, paths.mask, jobs.write_channels(channel), "16 bit half")
            )
        os.makedirs(paths.inputs_dir, exist_ok=True)
        with _full_resolution():
            size = self._source_format()
            box = (0, 0, size.width(), size.height())
            for index, (label, name, pattern, channels, datatype) in enumerate(todo):
                if index and cancelled is not None and cancelled():
                    raise session.InputsCancelled(f"the inputs, frames {first}-{last}")
                crop = self._inner(knobs.CROP_SOURCE if name == knobs.WRITE_SOURCE else knobs.CROP_MASK)
                crop["box"].setValue(box)
                # The Source is written as it is: its bbox (overscan too) is the file's data window, its format
                # the display window; the core fills the frame and carries what lies outside it through. The
                # Mask is cut and reformatted to the Source's format (a Roto's format is the project's).
                crop["disable"].setValue(name == knobs.WRITE_SOURCE)
                write = self._inner(name)
                write["file"].setValue(pattern)
                write["channels"].setValue(channels)
                write["datatype"].setValue(datatype)
                for knob, value in _CACHE_WRITE_KNOBS:
                    write[knob].setValue(value)
                write["disable"].setValue(False)
                try:
                    nuke.execute(write, first, last, views=[_hero()])
                except RuntimeError as exc:  # what nuke.execute raises for a render error or a cancel
                    message = jobs.last_line(exc, "render failed")
                    if message == NUKE_CANCELLED:  # the artist stopped Nuke's own progress bar
                        raise session.InputsCancelled(f"the {label} input, frames {first}-{last}") from None
                    raise session.RenderError(
                        f"writing the {label} input, frames {first}-{last}: {message}; check what feeds {label}"
                    ) from None
                finally:
                    write["disable"].setValue(True)

    @_main_thread
    def show_result(self, pattern: str, first: int, last: int, confidence: bool = False) -> None:
        """Point the result Read at the filled frames, and the range Switch at an error outside them (held at
        every frame when they are a still Source's one frame that Nuke holds there, :meth:`_source_held`). With ``confidence`` the files carry the EXR channel
        ``fill.confidence``, which the Read outputs as layer ``fill``: the layer is added to the script first,
        so the Viewer's channel menu and a Shuffle's ``in`` can name it before a frame has been read."""
        if confidence:
            nuke.Layer(knobs.CONFIDENCE_LAYER, [knobs.CONFIDENCE_CHANNEL])
        read = self._inner(knobs.READ_RESULT)
        read["file"].setValue(pattern)
        _set_range(read, first, last)
        switch = self.node.node(knobs.SWITCH_RANGE) or self._add_range_switch(read)
        whole_source = self.input_range() == (first, last)
        outside = self._inner(knobs.READ_OUTSIDE)
        outside["file"].setValue(knobs.outside_range(first, last, whole_source))
        # The node's frame range is its Switch's input's: outside the filled frames (the project's first frame
        # 1 before a plate of 1001-1100) this Read's. At its default 1-1 an AIFill below refused the range.
        _set_range(outside, first, last)
        if whole_source and first == last and self._source_held(first):
            # A still Source (a DMP, a clean plate: one file) is held by Nuke at every frame: so is its fill.
            switch["which"].clearAnimated()
            switch["which"].setValue(0)
        else:
            # Whole frames outside only: a TimeBlur, a motion-blurred ScanlineRender or a Retime downstream asks
            # for sub-frames around the first and last filled frames (1000.75, 1003.25), which the Read shows.
            switch["which"].setExpression(f"frame <= {first - 1} || frame >= {last + 1}")
        _SHOWN_IN.setdefault(pattern, set()).add(self.state())

    @_main_thread
    def state(self) -> _State:
        """The node as a cheap look sees it: what feeds its Source and Mask (:func:`_input_chain`), its setting
        values. (By name: Nuke's node wrappers are made anew by each call.)"""
        inputs = tuple(_input_chain(self.node.input(index)) for index in (0, 1))
        return inputs, tuple(sorted(self.settings(keyed_only=True).items()))

    @_main_thread
    def clear_result(self) -> bool:
        """Point the result Read back at its not-rendered error; True when it showed a result until now."""
        read = self._inner(knobs.READ_RESULT)
        switch = self.node.node(knobs.SWITCH_RANGE)
        if switch is not None:
            switch["which"].clearAnimated()
            switch["which"].setValue(0)
        if read["file"].value() == knobs.NOT_RENDERED:
            return False
        read["file"].setValue(knobs.NOT_RENDERED)
        return True

    @_main_thread
    def shown_result(self) -> tuple[str, int, int] | None:
        """(file, first, last) of the result Read; None until it shows a result. The file as
        :meth:`show_result` was given it (``result.####.exr``): Nuke's ``File_Knob.value()`` gives a sequence in
        printf notation (``result.%04d.exr``), which would read as another result."""
        read = self._inner(knobs.READ_RESULT)
        pattern = str(read["file"].value())
        if pattern == knobs.NOT_RENDERED:
            return None
        with contextlib.suppress(InputError):  # (two frame tokens: typed by hand, no result of ours)
            pattern = hash_pattern(pattern)
        return pattern, int(read["first"].value()), int(read["last"].value())

    def _add_range_switch(self, read: nuke.Node) -> nuke.Node:
        """An AIFill made before the range Switch existed (an older script) gets it on its next result."""
        output = next((n for n in self.node.nodes() if n.Class() == "Output"), None)
        if output is None:
            raise session.RenderError(f"{self.node_name} has no internal Output; make a new AIFill")
        self.node.begin()
        try:
            switch = _range_switch(read)
        finally:
            self.node.end()
        output.setInput(0, switch)
        return switch

    @_main_thread
    def set_status(self, text: str) -> None:
        self.node["status"].setValue(text)

    @_main_thread
    def status(self) -> str:
        return str(self.node["status"].value())

    @_main_thread
    def check_attached(self) -> None:
        """Raise :class:`session.NodeDeleted` once the node is gone (deleted, its script closed): the render
        asks between the worker's polls, so nothing else would stop the worker."""
        self.node.Class()

    @_main_thread
    def warn(self, text: str) -> None:
        """A line in Nuke's Error Console (the terminal, headless), for what the artist should check."""
        nuke.warning(f"AIFill {self.node_name}: {text}")

    def progress(self, title: str) -> session.ProgressLike:
        return nuke.ProgressTask(title) if nuke.GUI else session.ConsoleProgress(title)


#: Project Settings ▸ Color knobs that change what a Read turns a plate into (the working space the inputs are
#: written in): the colour management, the OCIO config (a custom one's path), the working space and the default
#: LUTs a Read set to ``default`` uses. Read only where the root has them (they differ between Nuke versions).
_COLOUR_KNOBS = (
    "colorManagement",
    "OCIO_config",
    "customOCIOConfigPath",
    "workingSpaceLUT",
    "int8Lut",
    "int16Lut",
    "logLut",
    "floatLut",
)


def _colour_lines() -> list[str]:
    """``name value`` of each colour knob the root has: changing one rewrites the inputs (cache key)."""
    root = nuke.root()
    knobs_here = ((name, root.knob(name)) for name in _COLOUR_KNOBS)
    return [f"{name} {knob.value()}" for name, knob in knobs_here if knob is not None]


def _reads_above(node: nuke.Node) -> list[nuke.Node]:
    """The Reads whose pixels reach ``node``: through every input (a Copy's A input too), from an ``Input``
    inside a group to what feeds the group there, and into a group through its ``Output``."""
    found: list[nuke.Node] = []
    seen: set[str] = set()
    stack: list[nuke.Node | None] = [node]
    while stack:
        here = stack.pop()
        if here is None or here.fullName() in seen:
            continue
        seen.add(here.fullName())
        if here.Class() == "Read":
            found.append(here)
            continue
        if isinstance(here, nuke.Group):  # its pixels are its Output's
            stack.extend(n for n in here.nodes() if n.Class() == "Output")
            continue
        stack.extend(here.input(i) for i in range(here.inputs()))
        stack.append(_outside_feed(here))
    return found


def _outside_feed(node: nuke.Node) -> nuke.Node | None:
    """What feeds the group at an ``Input`` node inside it (its ``number``); None for any other node.

    An ``Input`` has no inputs of its own: a walk up a group's insides would stop there."""
    if node.Class() != "Input":
        return None
    parent = node.parent()
    return None if parent is None else parent.input(int(node["number"].value()))


def _in_aifill(node: nuke.Node) -> bool:
    """Whether ``node`` is an AIFill or inside one (an AIFill above this one, in a chain).

    Its file knobs are not what it shows: its Reads hold placeholder names until a render (``aifx_outside``,
    ``aifx_result``'s not-rendered text, relative names Nuke never opens) and then the result's absolute path,
    whose text (keyed by ``writeKnobs``) names the fill; its cache folder and aifx environment are no pixels.
    Keying their paths would put the project directory into every chained AIFill's key (a Save As made the
    lower fill stale)."""
    here: nuke.Node | None = node
    while here is not None:
        if is_aifill(here):
            return True
        here = here.parent()
    return False


#: A key line for a file knob whose text is not the path Nuke opens: what that path holds
#: (``aifx_path file contents 812345 bytes 3f2a...``), or the path where it cannot be read.
_PATH_LINE = "aifx_path"

#: Bytes read at the start, the middle and the end of a file for its identity: enough to tell one shot's
#: plate from another's (grain, metadata), cheap on Nuke's main thread (once per TCL file knob per key).
_SAMPLE = 16 * 1024


def _file_paths(node: nuke.Node) -> tuple[list[str], bool]:
    """Key lines for the node's file knobs whose text is not the path Nuke opens, and whether a path is relative.

    ``writeKnobs`` holds a file knob's text: ``[getenv SHOT_ROOT]/plates/...`` or ``[file dirname [value
    root.name]]/../plates/...`` reads another shot's plate after the environment changes or a Save As into the
    next shot's folder, with the same text. Such a knob is keyed on what the evaluated path (TCL substituted, the
    frame token kept: a Read's ``nuke.filename``) holds, not on the path: the farm and a workstation that mount
    the same storage at different places (``/mnt/show``, ``/Volumes/show``, each its own ``SHOT_ROOT``) must
    make one key, or the farm's fill is never found by the comp (docs/nuke.md, the farm). Where the file cannot
    be read the evaluated path is keyed. Only where the path differs from the text: a script of plain paths
    keeps the key it had before these lines existed (its cache stays found). The proxy file is never read for
    the fill (the inputs are written at full resolution), so it is not keyed."""
    lines: list[str] = []
    relative = False
    found = node.knobs()  # (a wrapper for every knob of the node: made once, not once per knob)
    for name in sorted(found):
        knob = found[name]
        if not isinstance(knob, nuke.File_Knob) or name == "proxy" or name in jobs.DISPLAY_KNOBS:
            continue  # (the Node tab's icon is a picture for the DAG, not a file the node reads)
        text = str(knob.value())
        try:
            if name == "file":
                path = nuke.filename(node) or ""
            elif (
                "[" in text or "$" in text
            ):  # TCL (other file knobs: evaluate() may put in the current frame)
                path = str(knob.evaluate())
            else:
                path = text
        except (
            RuntimeError,
            ValueError,
        ) as exc:  # TCL that fails: the Read errors when the inputs are written
            lines.append(f"{_PATH_LINE} {name} not evaluated: {exc}")
            continue
        if path.strip() and not os.path.isabs(path):
            relative = True
        if _as_printf(path) != _as_printf(text):
            identity = _contents(_first_file(node, path)) if os.path.isabs(path) else None
            lines.append(f"{_PATH_LINE} {name} {identity or path}")
    return lines, relative


def _first_file(node: nuke.Node, path: str) -> str:
    """The file ``path`` names at the node's first frame (a Read's ``first``) in the hero view: ``####``,
    ``%04d``, ``%V`` and ``%v`` filled in. A node with no ``first`` knob: the path as it is."""
    view = _hero()
    path = path.replace("%V", view).replace("%v", view[:1])
    knob = node.knob("first")
    if knob is None:
        return path
    frame = int(knob.value())
    path = re.sub(r"#+", lambda m: f"{frame:0{len(m.group(0))}d}", path)
    return re.sub(r"%(0\d+)?d", lambda m: f"{frame:{m.group(1) or ''}d}", path)


def _contents(path: str) -> str | None:
    """``contents <size> bytes <digest of its start, middle and end>`` of a regular file; None when it
    cannot be read (missing, a folder, no permission): the caller keys the path then.

    Bytes, not the file's mtime or inode: those differ between two mounts of the same storage (an NFS and an SMB
    client, to a second or a 100 ns), and an mtime is too coarse to tell two shots' plates written by one
    ingest apart."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # (a FIFO would block Nuke's main thread)
            return None
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            digest = hashlib.sha256()
            for offset in sorted({0, max(0, size // 2 - _SAMPLE // 2), max(0, size - _SAMPLE)}):
                handle.seek(offset)
                digest.update(handle.read(_SAMPLE))
    except OSError:
        return None
    return f"contents {size} bytes {digest.hexdigest()[:16]}"


def _as_printf(path: str) -> str:
    """``plate.####.exr`` as ``plate.%04d.exr`` (Nuke may give a sequence either way)."""
    return re.sub(r"#+", lambda m: f"%0{len(m.group(0))}d", path)


def _project_directory() -> str:
    """Where Nuke looks for a relative file path (the root's *project directory*, evaluated: it is often
    ``[python {nuke.script_directory()}]``, which a Save As moves)."""
    knob = nuke.root().knob("project_directory")
    if knob is None:
        return ""
    return str(knob.evaluate() if isinstance(knob, nuke.EvalString_Knob) else knob.value())


#: ``Node.dependencies``: the pipes a node's pixels come through (hidden ones too).
_PIXEL_DEPENDENCIES = nuke.INPUTS | nuke.HIDDEN_INPUTS
#: ``Node.dependencies``: the nodes whose knobs a node's knobs read (``{{Tracker1.translate.x}}``, link knobs).
_KNOB_DEPENDENCIES = nuke.EXPRESSIONS | nuke.LINKINPUTS


def _feeds(node: nuke.Node) -> list[nuke.Node | None]:
    """What ``node``'s pixels come from, inputs first: the cache key must change when any of it does.

    An ``Input`` inside a group has no inputs of its own (the walk would stop at the AIFill's group): it goes on
    with what feeds the group there. A group's nodes are walked like any other, so nested groups are too. The
    nodes its knobs read are :func:`_linked`, not here: their pixels are not the node's.
    """
    feeds: list[nuke.Node | None] = [node.input(i) for i in range(node.inputs())]
    feeds.append(_outside_feed(node))
    if isinstance(node, nuke.Group):
        feeds.extend(node.nodes())
    piped = node.dependencies(_PIXEL_DEPENDENCIES)
    return [*feeds, *sorted(piped, key=lambda n: n.fullName())]


def _linked(node: nuke.Node) -> list[nuke.Node]:
    """The nodes ``node``'s knobs read by expression or link knob (a Transform driven by ``Tracker1.translate``,
    a Roto linked to a Tracker, a gizmo's insides reading ``parent.gain``, ``root.format``) and that are no pixel
    feed of it: re-tracking must redo the inputs. Only their knobs matter (and what those read in turn), not
    their pixels: a group or the project named this way is keyed on its own knobs, never on the nodes in it
    (which would put the nodes downstream of the AIFill, and the comp's Write, into its key)."""
    piped = {n.fullName() for n in node.dependencies(_PIXEL_DEPENDENCIES)}
    linked = [n for n in node.dependencies(_KNOB_DEPENDENCIES) if n.fullName() not in piped]
    return sorted(linked, key=lambda n: n.fullName())


#: The project's knobs that change with what the artist does, not with any pixel: the current frame, and the
#: script's path (a Save As). Keyed where an expression reads ``root.<knob>``, they would make its fill stale.
_ROOT_SESSION_KNOBS = ("frame", "name")


#: A Read's knobs that change how fast it reads, or what it reads in proxy mode, never a full-resolution pixel
#: (Foundry's Read reference: ``proxy``, the file read instead when proxy mode is on and the resolution asked for
#: is at most ``proxy_format``; ``localizationPolicy``, local copies "for faster access times"). The inputs are
#: written at full resolution (:func:`_full_resolution`): keyed, the proxies arriving made the fill stale.
_READ_SPEED_KNOBS = ("proxy", "proxy_format", "localizationPolicy")


def _knob_lines(node: nuke.Node) -> str:
    """``node``'s changed knobs as script text (``writeKnobs``), for its cache-key row; the project's without
    :data:`_ROOT_SESSION_KNOBS`, a Read's without :data:`_READ_SPEED_KNOBS`."""
    text = node.writeKnobs(_WRITE_KNOB_FLAGS)
    dropped: tuple[str, ...]
    if isinstance(node, nuke.Root):
        dropped = _ROOT_SESSION_KNOBS
    elif node.Class() == "Read":
        dropped = _READ_SPEED_KNOBS
    else:
        return text
    lines = text.splitlines()
    return "\n".join(line for line in lines if line.strip().split(" ", 1)[0] not in dropped)


@contextlib.contextmanager
def _full_resolution() -> Iterator[None]:
    """Proxy mode off while inputs are measured and written: the fill works on full-resolution pixels."""
    knob = nuke.root().knob("proxy")
    was = bool(knob.value()) if knob is not None else False
    if was and knob is not None:
        knob.setValue(False)
    try:
        yield
    finally:
        if was and knob is not None:
            knob.setValue(True)


def _hero() -> str:
    """The view the inputs are written for: the first of the script's views (``main`` in a mono script).

    A Write executes every view by default and, with no ``%V`` in its path, each view overwrites the last.
    """
    return nuke.views()[0]


# -- entry points ------------------------------------------------------------------------------------------------


def render_node(
    node: nuke.Node, frame_range: str | None = None, cancel: threading.Event | None = None
) -> session.Outcome:
    """Render one AIFill node in this thread: what the farm entry point and scripts call (``cancel``: set it
    to stop the render)."""
    host = NukeHost(node)
    update_knobs(node)
    return session.render(host, frame_range, cancel=cancel)


def on_render_button() -> threading.Thread | None:
    """Render button: in the GUI the render runs in a thread so Nuke stays live; headless it blocks."""
    node = nuke.thisNode()
    if not nuke.GUI:
        render_node(node)
        return None
    host = NukeHost(node)
    update_knobs(node)  # (a node pasted from an older script: no script load updated it)

    def run() -> None:
        try:
            session.render(host)
        except session.NodeDeleted as exc:  # the artist deleted it: no message box, nothing to write on it
            nuke.executeInMainThread(nuke.warning, args=(f"AIFill {host.node_name}: {exc.line()}",))
        except session.RenderError as exc:
            nuke.executeInMainThread(nuke.message, args=(f"AIFill {host.node_name}: {exc}",))
        except Exception as exc:  # a bug must still reach the artist, not die with the thread
            text = f"error: {type(exc).__name__}: {exc}"
            nuke.executeInMainThread(host.set_status, args=(text,))
            nuke.executeInMainThread(nuke.message, args=(f"AIFill {host.node_name}: {text}",))

    thread = threading.Thread(target=run, name=f"aifx-{host.node_name}", daemon=True)
    thread.start()
    return thread


def on_cancel_button() -> bool:
    """Cancel button: stop this node's render (the worker finishes no partial frame); False when none runs.

    With nothing running the status is left as it is: a late click must not replace ``done: frames ...`` (and
    the notices it ends with, which the script saves) by a word about the click."""
    return session.request_cancel(nuke.thisNode())


def attach_cached_results() -> list[str]:
    """onScriptLoad (init.py): point every AIFill node at a finished result of its inputs, if cached.

    Never stops a script from opening: a node that cannot be planned (no aifx Python on this machine, no
    Source) keeps its Read, which errors until a result exists.
    """
    found = []
    for node in all_aifills():
        try:
            update_knobs(node)
            if session.attach_cached(NukeHost(node)):
                found.append(node.fullName())
        except Exception as exc:  # opening the script matters more than the shortcut
            print(f"aifx: {node.fullName()}: not looking for a cached result: {exc}")
    return found


#: The AIFill knobs whose change may make the shown result another fill's (those that reach the job or key).
_RESULT_KNOBS = frozenset(knobs.SETTING_NAMES) - jobs.UNKEYED_SETTINGS


def on_knob_changed() -> None:
    """knobChanged (init.py; Nuke 14-16 call it for the artist's edits in an open panel, in the main thread):
    an AIFill whose setting changed or whose input was reconnected stops showing a result that is not its fill
    now, at once. With the panel closed :func:`on_update_ui` does it when Nuke goes idle."""
    name = nuke.thisKnob().name()  # (called for every knob of every node: the cheap test first)
    if name not in _RESULT_KNOBS and name != "inputChange":
        return
    node = nuke.thisNode()
    if is_aifill(node):
        _watch(NukeHost(node))


def on_update_ui() -> None:
    """updateUI (init.py; the GUI calls it on every node whenever it goes idle after a change, panel open or
    not): an AIFill reconnected in the DAG, or whose setting changed outside its panel (a linked knob, the
    Script Editor), stops showing a result that is not its fill now."""
    node = nuke.thisNode()  # (called for every node on every change: the cheap test first)
    if not is_aifill(node):
        return
    try:
        _watch(NukeHost(node))
    except session.RenderError:  # its insides deleted by hand: Render says so, not the console at every idle
        return


def _watch(host: NukeHost) -> None:
    """Forget the shown result when what feeds an input or a setting changed so that the fill would differ
    (:func:`aifx_nuke.session.on_setting_changed`; else the state is remembered as checked). Cheap while nothing
    changed: the names of what feeds the two inputs (through Dots and the like, :func:`_input_chain`) and the
    knob values, looked up in :data:`_SHOWN_IN`. Names that differ (a rewire, or a node above renamed) are
    decided by the cache key, once: a renamed plate Read keeps the fill, another plate forgets it.

    A result this session never showed (a node pasted from another session) counts as reconnected. An upstream
    edit is not seen here: :func:`check_before_render` refuses it."""
    shown = host.shown_result()
    if shown is None:
        return
    known = _SHOWN_IN.setdefault(shown[0], set())
    try:
        state = host.state()
    except session.RenderError:  # a setting read as TCL that fails: no fill is of it; Render names the knob
        session.on_setting_changed(host)
        return
    if state in known:
        return
    reconnected = state[0] not in {inputs for inputs, _ in known}
    if not session.on_setting_changed(host, input_changed=reconnected):
        known.add(state)


def check_before_render() -> None:
    """beforeRender (init.py; every Write render: the GUI, ``nuke.execute``, ``nuke -x``): refuse to render
    while an AIFill the Write reads shows a result that is not the fill of its inputs and settings now (a
    plate versioned up in this session). Nuke aborts the render with this error."""
    write = nuke.thisNode()
    stale = []
    for node in _aifills_upstream(write):
        reason = session.check_shown(NukeHost(node))
        if reason is not None:
            stale.append(f"{node.fullName()}: {reason}")
    if stale:
        raise RuntimeError(f"AIFill: not rendering {write.fullName()}: " + "; ".join(stale))


def _aifills_upstream(write: nuke.Node) -> list[nuke.Node]:
    """The AIFill nodes ``write``'s pixels depend on (walked as the cache key walks), nearest first; the AIFill
    holding ``write`` (its own input Writes) is not one of them."""
    found: list[nuke.Node] = []
    owner = write.parent()
    seen = {write.fullName()}
    if is_aifill(owner):
        seen.add(owner.fullName())
    stack: list[nuke.Node | None] = list(reversed(_feeds(write)))
    while stack:
        node = stack.pop()
        if node is None or node.fullName() in seen:
            continue
        seen.add(node.fullName())
        passed = _passed_through(node)
        if is_aifill(node) and passed is None:
            found.append(node)
        stack.extend(reversed(_feeds(node) if passed is None else [passed]))
    return found


def _passed_through(node: nuke.Node) -> nuke.Node | None:
    """The one node whose pixels ``node`` passes on untouched, where that is all it renders
    (:func:`_pass_route`); None otherwise (every feed is walked then).

    An AIFill behind a Switch's other input (a comparison with the plate) or disabled is not rendered by the
    Write: it must neither refuse the render nor lose its fill."""
    passes, upstream = _pass_route(node)
    return upstream if passes else None


#: Classes that render their input 0 untouched: a Dot (a bend in a pipe) and a NoOp (Foundry: it does nothing;
#: a holder of user knobs).
_PASS_CLASSES = frozenset({"Dot", "NoOp"})


def _pass_route(node: nuke.Node) -> tuple[bool, nuke.Node | None]:
    """``(True, upstream)`` where all ``node`` renders is the pixels of one other node, ``upstream`` (None when
    that pipe is empty): a Dot's or NoOp's input, a disabled node's input 0, a Switch's chosen input (Nuke takes
    the last input for a larger ``which``), an ``Input`` inside a group's feed of the group there.
    ``(False, None)`` for a node that makes pixels of its own, and where the knob that decides is animated or
    an expression (another frame may pick another input)."""
    disable = node.knob("disable")
    if disable is not None and not _animated(disable) and disable.value():
        return True, node.input(0)
    if node.Class() in _PASS_CLASSES:
        return True, node.input(0)
    if node.Class() == "Input" and node.parent() is not None:
        return True, _outside_feed(node)
    which = node.knob("which")
    if node.Class() == "Switch" and which is not None and not _animated(which) and node.inputs():
        return True, node.input(min(max(int(which.value()), 0), node.inputs() - 1))
    return False, None


def _input_chain(node: nuke.Node | None) -> tuple[str, ...]:
    """The full names of ``node`` (what is plugged into an AIFill's input) and of the nodes it passes on
    untouched (:func:`_pass_route`), up to the first that makes pixels of its own: what the input is, as a cheap
    look can tell. Comps route pipes through Dots: the plate above a Dot is the Source as the artist sees it."""
    names: list[str] = []
    here = node
    while here is not None and here.fullName() not in names:  # (a pipe is no loop: each node once)
        names.append(here.fullName())
        passes, here = _pass_route(here)
        if not passes:
            break
    return tuple(names)


def _animated(knob: nuke.Knob) -> bool:
    return bool(knob.isAnimated() or knob.hasExpression())


def find_node(name: str) -> nuke.Node:
    """``AIFill1`` or ``Group1.AIFill1`` → the node, or a one-line error naming what exists."""
    node = nuke.toNode(name)
    if node is None or not is_aifill(node):
        found = [n.fullName() for n in all_aifills()]
        names = ", ".join(found) or "none"
        raise session.RenderError(
            f"no AIFill node named {name} in {nuke.root().name()}; AIFill nodes: {names}"
        )
    return node
