"""A result goes stale in the session: a setting changed in the panel, an input reconnected, a plate versioned up.

The node must stop showing (and a Write must refuse to render) a fill that is not the fill of its inputs and
settings now; the next Render makes or finds the right one.
"""

from __future__ import annotations

import queue
import runpy
import shutil
from pathlib import Path

import nuke
import numpy as np
import pytest
from aifx_nuke import knobs, nodes, session
from conftest import PLUGIN, aifill_in_group, press_render_in_gui, write_exr

#: knobChanged runs at other moments in Nuke 17.1 than in 14-16: every test here plays both.
pytestmark = pytest.mark.usefixtures("nuke_version")


def _comp_write(comp, tmp_path: Path) -> nuke.Node:
    write = nuke.nodes.Write(
        name="CompOut", file=str(tmp_path / "out" / "comp.####.exr"), create_directories=True
    )
    write.setInput(0, comp["fill"])
    return write


def test_a_plate_versioned_up_in_the_session_stops_the_comp_render(comp, tmp_path):
    runpy.run_path(str(PLUGIN / "init.py"))  # its beforeRender callback
    fill = comp["fill"]
    nodes.render_node(fill)
    write = _comp_write(comp, tmp_path)
    nuke.execute(write, 1001, 1001)  # the fill of the plate it reads: renders

    v2 = tmp_path / "v002"
    v2.mkdir()
    for frame in range(1001, 1004):  # the plate re-delivered, graded
        plate = nuke._read(comp["plate"].replace("####", str(frame)))
        write_exr(
            v2 / f"plate.{frame}.exr",
            {c: plate[f"rgba.{n}"] * 2 for c, n in zip("RGB", ("red", "green", "blue"), strict=True)},
        )
    comp["plate_node"]["file"].setValue(str(v2 / "plate.####.exr"))

    with pytest.raises(RuntimeError, match="AIFill1: its inputs or settings changed since its render"):
        nuke.execute(write, 1002, 1002)
    assert fill["status"].value().startswith("not rendered: its inputs or settings changed")
    with pytest.raises(RuntimeError, match="AIFill not rendered yet"):
        nuke._pull(fill, 1002)  # the Viewer stops showing the old fill too

    outcome = nodes.render_node(fill)
    assert not outcome.reused, "the new plate is filled"
    nuke.execute(write, 1002, 1002)
    out = nuke._read(str(tmp_path / "out" / "comp.1002.exr"))["rgba.red"]
    plate = nuke._read(str(v2 / "plate.1002.exr"))["rgba.red"]
    assert np.allclose(out[0, 0], plate[0, 0], rtol=2e-3), "the corner (outside the hole) is the new plate's"


@pytest.mark.parametrize("how", ["switched to the plate", "disabled"])
def test_a_write_that_does_not_render_a_stale_aifill_renders_and_the_fill_is_kept(comp, tmp_path, how):
    """A Switch comparing the plate with the fill, set to the plate, or the AIFill disabled (it passes its Source
    through): the Write renders no fill, so a plate versioned up must neither refuse it nor make the AIFill
    forget its fill; the check covers the AIFills the Write reads (docs/nuke.md)."""
    runpy.run_path(str(PLUGIN / "init.py"))  # its beforeRender callback
    fill = comp["fill"]
    nodes.render_node(fill)
    shown = fill.node(knobs.READ_RESULT)["file"].value()
    if how == "disabled":
        top = fill
        fill["disable"].setValue(True)
    else:
        top = nuke.nodes.Switch(name="Compare", which=0)
        top.setInput(0, comp["plate_node"])
        top.setInput(1, fill)
    write = _comp_write(comp, tmp_path)
    write.setInput(0, top)
    v2 = tmp_path / "v002"
    shutil.copytree(comp["dir"], v2)  # the plate versioned up: the AIFill is stale
    comp["plate_node"]["file"].setValue(str(v2 / "plate.####.exr"))

    nuke.execute(write, 1001, 1003)

    assert fill.node(knobs.READ_RESULT)["file"].value() == shown, fill["status"].value()
    out = nuke._read(str(tmp_path / "out" / "comp.1002.exr"))["rgba.red"]
    assert np.array_equal(out, nuke._pull(comp["plate_node"], 1002)["rgba.red"].astype(np.float16))
    if how == "disabled":  # the same Write reading the stale fill is still refused
        fill["disable"].setValue(False)
    else:
        top["which"].setValue(1)
    with pytest.raises(RuntimeError, match="AIFill1: its inputs or settings changed since its render"):
        nuke.execute(write, 1002, 1002)


def test_a_setting_changed_in_the_panel_forgets_the_result_a_knob_the_backend_ignores_does_not(comp):
    runpy.run_path(str(PLUGIN / "init.py"))  # its knobChanged callback
    fill = comp["fill"]
    nodes.render_node(fill)
    done = fill["status"].value()
    fill.showControlPanel()

    nuke._user_set(fill["prompt"], "a brick wall")  # telea reads no prompt: same fill
    nuke._user_set(fill["cache_dir"], fill["cache_dir"].value())
    assert fill["status"].value() == done
    nuke._pull(fill, 1002)

    nuke._user_set(fill["dilate"], 6)
    assert fill["status"].value() == session.CHANGED_SETTING
    with pytest.raises(RuntimeError, match="AIFill not rendered yet"):
        nuke._pull(fill, 1002)

    nuke._user_set(fill["dilate"], 4)  # back: Render finds the first fill in the cache
    assert nodes.render_node(fill).reused
    nuke._pull(fill, 1002)


def test_a_reconnected_input_forgets_the_result(comp):
    runpy.run_path(str(PLUGIN / "init.py"))
    fill = comp["fill"]
    nodes.render_node(fill)
    fill.showControlPanel()
    nuke._user_connect(fill, 1, None)  # the Mask unplugged: the channel now comes from the Source
    assert fill["status"].value() == session.CHANGED_INPUT
    assert fill.node(knobs.READ_RESULT)["file"].value() == knobs.NOT_RENDERED


def test_knob_changed_runs_for_the_artists_edits_in_an_open_panel_only_as_in_nuke(comp, monkeypatch):
    """Nuke (13.2 to 16) calls knobChanged for edits in an open panel, not for Python's setValue nor with the
    panel closed: the plugin must not rely on it for those (updateUI and the beforeRender check cover them)."""
    monkeypatch.setattr(nuke, "NUKE_VERSION_MAJOR", 16)
    calls = []
    nuke.addKnobChanged(lambda: calls.append(nuke.thisKnob().name()), nodeClass="Group")
    comp["fill"]["seed"].setValue(3)
    nuke._user_set(comp["fill"]["seed"], 4)
    nuke._user_connect(comp["fill"], 1, None)
    assert calls == []
    comp["fill"].showControlPanel()
    nuke._user_set(comp["fill"]["seed"], 5)
    nuke._user_connect(comp["fill"], 1, comp["matte_node"])
    comp["fill"].hideControlPanel()
    nuke._user_set(comp["fill"]["seed"], 6)
    assert calls == ["showPanel", "seed", "inputChange", "hidePanel"]


def test_knob_changed_runs_for_every_knob_change_in_nuke_17_1(comp, monkeypatch):
    """Foundry's addKnobChanged, 17.1: "triggered for any knob change, including changes made programmatically
    and changes that occur even when the Properties panel is closed"."""
    monkeypatch.setattr(nuke, "NUKE_VERSION_MAJOR", 17)
    monkeypatch.setattr(nuke, "NUKE_VERSION_MINOR", 1)
    calls = []
    nuke.addKnobChanged(lambda: calls.append(nuke.thisKnob().name()), nodeClass="Group")
    comp["fill"]["seed"].setValue(3)
    nuke._user_set(comp["fill"]["seed"], 4)
    nuke._user_connect(comp["fill"], 1, None)
    assert calls == ["seed", "seed", "inputChange"]


def test_update_ui_runs_on_every_node_when_the_gui_goes_idle_only(comp):
    seen = []
    nuke.addUpdateUI(lambda: seen.append(nuke.thisNode().fullName()))
    with pytest.raises(RuntimeError, match="only in the GUI"):
        nuke._idle()  # nuke -t, nuke -x: no event loop
    nuke.GUI = True
    nuke._idle()
    assert {"Plate", "Matte", "AIFill1", f"AIFill1.{knobs.READ_RESULT}"} <= set(seen)


@pytest.mark.parametrize("how", ["the Mask unplugged", "the Source moved to another plate"])
def test_an_input_reconnected_with_the_panel_closed_forgets_the_result_when_nuke_goes_idle(comp, how):
    """docs/nuke.md: reconnecting an input forgets the result. Nuke 14-16 call no knobChanged for a node whose
    panel is closed (the artist rewires the DAG without opening it): the node kept showing the old fill until a
    Write's beforeRender."""
    runpy.run_path(str(PLUGIN / "init.py"))
    fill = comp["fill"]
    nodes.render_node(fill)
    nuke.GUI = True
    nuke._idle()
    assert nodes.NukeHost(fill).shown_result() is not None, "nothing changed: the fill stays"
    if how == "the Mask unplugged":
        nuke._user_connect(fill, 1, None)
    else:
        nuke._user_connect(fill, 0, nuke.nodes.Read(name="Plate2", file=comp["plate"], first=1001, last=1003))
    nuke._idle()
    assert fill["status"].value() == session.CHANGED_INPUT
    assert fill.node(knobs.READ_RESULT)["file"].value() == knobs.NOT_RENDERED
    nuke.GUI = False
    with pytest.raises(RuntimeError, match="AIFill not rendered yet"):
        nuke._pull(fill, 1002)


def test_a_pasted_copy_keeps_the_result_only_on_the_same_inputs(comp):
    """A copy of a rendered AIFill shows the same result: pasted with nothing selected (no input) it must not
    show a fill of the plate it is not connected to; pasted onto the same plate and matte it is the same fill."""
    runpy.run_path(str(PLUGIN / "init.py"))
    fill = comp["fill"]
    nodes.render_node(fill)
    done = fill["status"].value()
    nuke._select(fill)
    nuke.nodeCopy("%clipboard%")
    nuke._select(None)
    loose = nuke.nodePaste("%clipboard%")
    nuke._select(comp["plate_node"])
    wired = nuke.nodePaste("%clipboard%")
    wired.setInput(1, comp["matte_node"])
    assert (loose.name(), wired.name()) == ("AIFill2", "AIFill3")
    assert nodes.NukeHost(loose).shown_result() == nodes.NukeHost(fill).shown_result()
    nuke.GUI = True
    nuke._idle()
    assert loose["status"].value() == session.CHANGED_INPUT
    assert nodes.NukeHost(loose).shown_result() is None
    assert fill["status"].value() == wired["status"].value() == done
    assert nodes.NukeHost(wired).shown_result() == nodes.NukeHost(fill).shown_result()


def test_an_input_put_back_before_nuke_goes_idle_keeps_the_result(comp, monkeypatch):
    monkeypatch.setattr(nuke, "NUKE_VERSION_MAJOR", 16)  # (panel closed: no knobChanged before 17.1)
    runpy.run_path(str(PLUGIN / "init.py"))
    fill = comp["fill"]
    nodes.render_node(fill)
    done = fill["status"].value()
    nuke.GUI = True
    nuke._user_connect(fill, 1, None)
    nuke._user_connect(fill, 1, comp["matte_node"])  # (an undo)
    nuke._idle()
    assert fill["status"].value() == done
    assert nodes.NukeHost(fill).shown_result() is not None


def test_in_nuke_17_1_an_input_unplugged_forgets_the_result_at_once_and_render_finds_it_again(
    comp, monkeypatch
):
    """Nuke 17.1 calls knobChanged for every change, panel open or not: the Mask unplugged is seen at once, as
    in an open panel before; plugged back, Render reuses the fill from the cache."""
    monkeypatch.setattr(nuke, "NUKE_VERSION_MAJOR", 17)
    monkeypatch.setattr(nuke, "NUKE_VERSION_MINOR", 1)
    runpy.run_path(str(PLUGIN / "init.py"))
    fill = comp["fill"]
    nodes.render_node(fill)
    nuke.GUI = True
    nuke._user_connect(fill, 1, None)
    assert fill["status"].value() == session.CHANGED_INPUT
    nuke._user_connect(fill, 1, comp["matte_node"])  # (an undo)
    nuke._idle()
    assert nodes.NukeHost(fill).shown_result() is None
    nuke.GUI = False
    assert nodes.render_node(fill).reused


def test_a_setting_changed_with_the_panel_closed_forgets_the_result_when_nuke_goes_idle(comp):
    """A setting changed outside its panel (a knob linked to a master control, the Script Editor): no
    knobChanged in Nuke 14-16, but updateUI sees it; a knob the backend ignores still keeps the fill."""
    runpy.run_path(str(PLUGIN / "init.py"))
    fill = comp["fill"]
    nodes.render_node(fill)
    done = fill["status"].value()
    nuke.GUI = True
    fill["prompt"].setValue("a brick wall")  # telea reads no prompt: same fill
    nuke._idle()
    nuke._idle()
    assert fill["status"].value() == done
    nuke._user_set(fill["dilate"], 6)
    nuke._idle()
    assert fill["status"].value() == session.CHANGED_SETTING
    assert nodes.NukeHost(fill).shown_result() is None


def test_a_result_shown_by_the_gui_render_or_found_when_the_script_opens_stays_through_idle(comp, tmp_path):
    runpy.run_path(str(PLUGIN / "init.py"))
    fill = comp["fill"]
    press_render_in_gui(fill)
    nuke._idle()
    assert fill["status"].value().startswith("done"), fill["status"].value()
    nuke.scriptSave(str(tmp_path / "comp.nk"))
    nuke._reset()
    runpy.run_path(str(PLUGIN / "init.py"))
    nuke.GUI = True
    nuke.scriptOpen(str(tmp_path / "comp.nk"))
    nuke._idle()
    fill = nuke.toNode("AIFill1")
    assert "found in the cache" in fill["status"].value()
    assert nodes.NukeHost(fill).shown_result() is not None


def test_an_aifill_reading_a_stale_aifill_refuses_to_write_its_inputs(comp, tmp_path):
    """A second AIFill below the first writes its Source through an internal Write: its beforeRender sees the
    first one's old fill and the render stops with that reason (never a fill of a fill of the old plate)."""
    runpy.run_path(str(PLUGIN / "init.py"))
    first = comp["fill"]
    nodes.render_node(first)
    nuke._select(first)
    second = nodes.create_aifill()
    second.setInput(1, comp["matte_node"])
    for name in ("mask_channel", "backend", "aifx_env", "cache_dir"):
        second[name].setValue(first[name].value())
    shutil.copytree(comp["dir"], tmp_path / "v002")
    comp["plate_node"]["file"].setValue(str(tmp_path / "v002" / "plate.####.exr"))
    with pytest.raises(session.RenderError, match="AIFill1: its inputs or settings changed"):
        nodes.render_node(second)


def test_a_setting_changed_while_the_gui_render_runs_is_not_shown_as_done(comp, tmp_path):
    """dilate set to 12 in the panel while the render of dilate 4 ran: the node showed the dilate-4 fill as
    "done" (the panel said 12), and the comp's render was refused only by beforeRender."""
    runpy.run_path(str(PLUGIN / "init.py"))
    fill = comp["fill"]
    fill.showControlPanel()
    nuke.GUI = True
    nuke._this = fill
    thread = nodes.on_render_button()
    nuke._this = None
    assert thread is not None
    changed = False
    for _ in range(60_000):  # Nuke's event loop, bounded: it serves the render thread's calls to Nuke
        if not (thread.is_alive() or not nuke._main_calls.empty()):
            break
        try:
            call, args, kwargs, done, box = nuke._main_calls.get(timeout=0.02)
        except queue.Empty:
            continue
        box.append(nuke._call_printing_errors(call, args, kwargs))
        if done is not None:
            done.set()
        if not changed and fill["status"].value().startswith("rendering"):
            nuke._user_set(fill["dilate"], 12)  # the artist edits dilate meanwhile
            changed = True
    nuke.GUI = False
    assert changed and not thread.is_alive()

    assert fill.node(knobs.READ_RESULT)["file"].value() == knobs.NOT_RENDERED, fill["status"].value()
    assert fill["status"].value().startswith("not rendered: a setting changed during the render")
    with pytest.raises(RuntimeError, match="AIFill not rendered yet"):
        nuke._pull(fill, 1002)
    nuke._user_set(fill["dilate"], 4)  # back to the settings it rendered: the fill is in the cache
    assert nodes.render_node(fill).reused


def _through(comp, how: str) -> tuple[nuke.Node, int]:
    """The comp's plate fed to its AIFill through a node that only passes it on, as comps route pipes: a Dot, a
    NoOp, a disabled Crop, a Switch set to its input 0; or the plate fed to an AIFill inside a group through the
    group's Input. Returns the AIFill and (node, input) where the artist plugs another plate above it."""
    if how == "an AIFill inside a group":
        fill = aifill_in_group(comp)
        return fill, (fill.parent(), 0)
    fill = comp["fill"]
    if how == "a Dot":
        between = nuke.nodes.Dot(name="Dot1")
    elif how == "a NoOp":
        between = nuke.nodes.NoOp(name="NoOp1")
    elif how == "a disabled Crop":
        between = nuke.nodes.Crop(name="Crop1", disable=True)
    else:
        between = nuke.nodes.Switch(name="Switch1", which=0)
    between.setInput(0, comp["plate_node"])
    fill.setInput(0, between)
    return fill, (between, 0)


@pytest.mark.parametrize(
    "how", ["a Dot", "a NoOp", "a disabled Crop", "a Switch", "an AIFill inside a group"]
)
def test_a_plate_rewired_above_a_node_that_passes_it_on_forgets_the_result_when_nuke_goes_idle(comp, how):
    """Comps route the Source through Dots: rewiring the Dot onto another plate kept the old fill showing as
    "done" at idle (the check compared the names of the nodes plugged straight into the AIFill) until a Write's
    beforeRender refused it. docs/nuke.md: connecting the Source to another node forgets the result."""
    runpy.run_path(str(PLUGIN / "init.py"))
    fill, (above, index) = _through(comp, how)
    nodes.render_node(fill)
    done = fill["status"].value()
    nuke.GUI = True
    nuke._idle()
    assert fill["status"].value() == done, "nothing changed: the fill stays"
    other = nuke.nodes.Read(name="Other", file=comp["mask"], first=1001, last=1003)
    nuke._user_connect(above, index, other)
    nuke._idle()
    assert fill["status"].value() == session.CHANGED_INPUT
    assert nodes.NukeHost(fill).shown_result() is None
    nuke._user_connect(above, index, comp["plate_node"])  # put back: Render finds the fill in the cache
    assert nodes.render_node(fill).reused


def test_the_plate_read_renamed_keeps_the_fill_a_rewire_still_forgets_it(comp, tmp_path):
    """The plate's Read renamed (Plate -> BG_v2), nothing reconnected: the idle check said "an input was
    reconnected since the last render" and forgot the fill; the cache key held every upstream node's name, so a
    comp Write refused it too and Render filled all 3 frames again. A name makes no pixels: the fill stays, the
    comp renders it, Render reuses it; plugging the Source into another plate still forgets it."""
    runpy.run_path(str(PLUGIN / "init.py"))
    fill = comp["fill"]
    nodes.render_node(fill)
    done = fill["status"].value()
    write = _comp_write(comp, tmp_path)
    nuke.GUI = True
    nuke._idle()
    comp["plate_node"].setName("BG_v2")
    nuke._idle()
    nuke._idle()
    assert fill["status"].value() == done
    nuke.GUI = False
    nuke.execute(write, 1001, 1003)  # beforeRender: the fill of the inputs now
    nuke.execute_log.clear()
    assert nodes.render_node(fill).reused
    assert nuke.execute_log == [], "no input written again"

    nuke.GUI = True
    other = nuke.nodes.Read(name="Other", file=comp["mask"], first=1001, last=1003)
    nuke._user_connect(fill, 0, other)
    nuke._idle()
    assert fill["status"].value() == session.CHANGED_INPUT
    assert nodes.NukeHost(fill).shown_result() is None
