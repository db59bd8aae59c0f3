"""An AIFill saved by an older plugin opens, renders and offers today's knobs and backends.

A script keeps the user knobs a node had when it was saved (and an Enumeration's menu items): the node built at
b1937c7 has no reference, window, overlap, model size, aifx server or confidence knob, and its backend menu
ends at diffusers. Its render once stopped on ``NameError: knob reference does not exist``."""

from __future__ import annotations

import runpy
from pathlib import Path

import nuke
import pytest
from aifx_nuke import knobs, nodes, render
from conftest import PLUGIN, press_render_in_gui

#: The knobs added after b1937c7, and its backend menu.
ADDED = ("reference", "window", "overlap", "model_size", "server_url", "confidence")
OLD_BACKENDS = ["propagate", "telea", "lama", "diffusers"]


def _as_built_at_b1937c7(fill: nuke.Node) -> None:
    for name in ADDED:
        fill.removeKnob(fill[name])
    backend = fill["backend"].value()
    fill["backend"].setValues(OLD_BACKENDS)
    fill["backend"].setValue(backend)


def _reopen(script: Path) -> nuke.Node:
    """A new Nuke session (the plugin's init.py) opening ``script``; returns its AIFill."""
    nuke._reset()
    runpy.run_path(str(PLUGIN / "init.py"))
    nuke.scriptOpen(str(script))
    fill = nuke.toNode("AIFill1")
    assert fill is not None
    return fill


def test_an_older_aifill_gets_todays_knobs_and_menus_when_its_script_opens(comp, tmp_path):
    _as_built_at_b1937c7(comp["fill"])
    nuke.scriptSave(str(tmp_path / "old.nk"))
    fill = _reopen(tmp_path / "old.nk")
    for spec in knobs.KNOBS:
        assert fill.knob(spec.name) is not None, spec.name
    assert [fill[name].value() for name in ADDED] == [knobs.defaults()[name] for name in ADDED]
    assert fill["backend"].values() == knobs.BACKENDS and fill["backend"].value() == "telea"
    fill["backend"].setValue("video-diffusion")  # the newer backend is offered


def test_an_older_aifill_renders_with_the_render_button(comp, tmp_path):
    _as_built_at_b1937c7(comp["fill"])
    nuke.scriptSave(str(tmp_path / "old.nk"))
    fill = _reopen(tmp_path / "old.nk")
    press_render_in_gui(fill)
    assert fill["status"].value() == "done: frames 1001-1003 (3 filled now)"
    assert nuke.messages == []


def test_an_older_aifill_renders_on_the_farm(comp, tmp_path, capsys):
    _as_built_at_b1937c7(comp["fill"])
    nuke.scriptSave(str(tmp_path / "old.nk"))
    nuke._reset()
    runpy.run_path(str(PLUGIN / "init.py"))
    assert render.main([str(tmp_path / "old.nk"), "AIFill1"]) == 0
    assert "aifx: AIFill1 frames 1001-1003: filled 3 frame(s)" in capsys.readouterr().out


def test_an_older_rendered_aifill_still_shows_its_fill_when_its_script_opens(comp, tmp_path):
    """The knobs it lacked are added at what the older plugin sent: the keys, and so the result, are the same."""
    nodes.render_node(comp["fill"])
    _as_built_at_b1937c7(comp["fill"])
    nuke.scriptSave(str(tmp_path / "old.nk"))
    fill = _reopen(tmp_path / "old.nk")
    assert "found in the cache" in fill["status"].value()
    assert nodes.render_node(fill).reused


def test_settings_of_a_node_not_updated_yet_are_the_defaults_of_its_missing_knobs(comp):
    """A node pasted from an older script had no script load to update it: it still plans."""
    _as_built_at_b1937c7(comp["fill"])
    settings = nodes.NukeHost(comp["fill"]).settings()
    assert {name: settings[name] for name in ADDED} == {name: knobs.defaults()[name] for name in ADDED}


def test_an_unexpected_error_in_render_py_is_one_line_and_exit_1(comp, tmp_path, capsys, monkeypatch):
    """A bug must fail the farm task with a line the log shows, not a traceback."""

    def broken(node: nuke.Node) -> list[str]:
        raise NameError("knob reference does not exist")

    nuke.scriptSave(str(tmp_path / "comp.nk"))
    monkeypatch.setattr(nodes, "update_knobs", broken)
    assert render.main([str(tmp_path / "comp.nk"), "AIFill1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "aifx: error: AIFill1: the render stopped on an unexpected error (NameError: knob reference does not "
        "exist); report it to whoever looks after aifx, with this line"
    ]


@pytest.mark.parametrize("menu", [["propagate", "telea"], [*knobs.BACKENDS, "retired"]])
def test_the_fake_menu_keeps_the_selection_by_index_as_nuke_does(menu):
    knob = nuke.Enumeration_Knob("backend", "backend", ["a", "b", "c"])
    knob.setValue("b")
    knob.setValues(menu)
    assert knob.value() == menu[1]


def test_a_backend_no_longer_offered_stays_chosen_so_the_render_names_it(comp):
    comp["fill"]["backend"].setValues([*knobs.BACKENDS, "retired"])
    comp["fill"]["backend"].setValue("retired")
    assert nodes.update_knobs(comp["fill"]) == []
    comp["fill"]["backend"].setValues(OLD_BACKENDS + ["retired"])
    comp["fill"]["backend"].setValue("retired")
    assert nodes.update_knobs(comp["fill"]) == ["backend"]
    assert comp["fill"]["backend"].values() == [*knobs.BACKENDS, "retired"]
    assert comp["fill"]["backend"].value() == "retired"
