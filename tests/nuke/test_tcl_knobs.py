"""Which AIFill knobs Nuke evaluates as TCL, and what a knob whose TCL fails does (tester's report, round 40,
items 2 and 3).

Foundry's ``String_Knob.value()`` is "the evaluated value" (TCL substituted), ``getText()`` the text as typed.
The prompts are read as typed; the model, colourspace override, frame range and aifx server are evaluated as a
Read's path is (a studio spells them ``[getenv MODELS]/big-lama.pt``), and so are the file knobs. A bracket
that is no command (a model file named ``big-lama[v2].pt``) made every GUI idle raise from updateUI and Render
report a bug (``error: RuntimeError: invalid command name 'v2' ...``), even under a backend that never reads it.
"""

from __future__ import annotations

import os
import runpy
from pathlib import Path

import nuke
import pytest
from aifx_nuke import knobs, nodes, session
from conftest import PLUGIN, press_render_in_gui

#: knobChanged runs at other moments in Nuke 17.1 than in 14-16: every test here plays both.
pytestmark = pytest.mark.usefixtures("nuke_version")


def test_the_text_knobs_but_the_prompts_are_evaluated_as_tcl_as_docs_nuke_md_says(comp, monkeypatch):
    monkeypatch.setenv("AIFX_TEST_CS", "ACEScg")
    monkeypatch.setenv("AIFX_TEST_FR", "1001-1002")
    monkeypatch.setenv("AIFX_TEST_SERVER", "http://gpu-box:8765")
    fill = comp["fill"]
    typed = {
        "colorspace": "[getenv AIFX_TEST_CS]",
        "frame_range": "[getenv AIFX_TEST_FR]",
        "server_url": "[getenv AIFX_TEST_SERVER]",
        "prompt": "a sign reading [OPEN]",
        "negative_prompt": "[getenv AIFX_TEST_CS]",
    }
    for name, text in typed.items():
        fill[name].setValue(text)
    settings = nodes.NukeHost(fill).settings()
    assert {name: settings[name] for name in typed} == {
        "colorspace": "ACEScg",
        "frame_range": "1001-1002",
        "server_url": "http://gpu-box:8765",
        "prompt": "a sign reading [OPEN]",
        "negative_prompt": "[getenv AIFX_TEST_CS]",
    }


def test_a_bracket_in_the_model_of_a_backend_that_does_not_read_it_blocks_nothing(comp, capsys):
    """telea reads no model: a model file named with brackets, left from lama, raised at every idle and stopped
    telea's Render with a bug message."""
    runpy.run_path(str(PLUGIN / "init.py"))  # its knobChanged and updateUI callbacks
    fill = comp["fill"]
    nodes.render_node(fill)
    nuke.GUI = True
    fill["model"].setValue("/models/big-lama[v2].pt")  # the Script Editor, a linked knob: the panel is closed
    nuke._idle()
    assert fill["status"].value() == "done: frames 1001-1003 (3 filled now)", "the same fill: kept"
    fill.showControlPanel()
    nuke._user_set(fill["model"], "/models/big-lama[v3].pt")
    press_render_in_gui(fill)
    assert fill["status"].value() == "done: frames 1001-1003 (cached, nothing changed)"
    assert nuke.messages == []
    assert "Traceback" not in capsys.readouterr().err


#: Knobs the chosen backend reads, with text that is no valid TCL, and their labels.
_BAD = [
    ("model", "/models/big-lama[v2].pt", "model"),
    ("colorspace", "[getenv AIFX_CS", "colourspace override"),
    ("frame_range", "[frames]", "frame range"),
    ("server_url", "http://[host]:8765", "aifx server"),
    ("cache_dir", "[getenv SHOW/cache", "cache folder"),
]


#: The knobs no fill is keyed on (where and how it runs): a bad one stops only a render that uses it.
_UNKEYED = ("server_url", "aifx_env", "cache_dir")


@pytest.mark.parametrize(("name", "text", "label"), _BAD, ids=[b[0] for b in _BAD])
def test_tcl_that_fails_in_a_knob_the_backend_reads_is_one_line_naming_the_knob(
    comp, capsys, name, text, label
):
    runpy.run_path(str(PLUGIN / "init.py"))
    fill = comp["fill"]
    nodes.render_node(fill)
    nuke.GUI = True
    if name == "model":
        fill["backend"].setValue("lama")
    fill[name].setValue(text)
    nuke._idle()  # (a traceback at every idle before)
    status = fill["status"].value()
    if name in _UNKEYED:  # where the fill runs, not which fill: the shown one stays right
        assert status == "done: frames 1001-1003 (3 filled now)"
    else:
        assert status.startswith("not rendered: a setting changed"), (
            "no fill is of a knob that cannot be read"
        )

    press_render_in_gui(fill)
    line = f"{label}: cannot evaluate {text!r} ("
    assert len(nuke.messages) == 1 and nuke.messages[0].startswith(f"AIFill AIFill1: {line}"), nuke.messages
    assert nuke.messages[0].endswith(
        f"); Nuke runs what {label} holds in [brackets] as TCL: fix the command or take the brackets out, or "
        "escape them as \\[ \\]"
    )
    assert fill["status"].value() == "error: " + nuke.messages[0][len("AIFill AIFill1: ") :]
    assert "Traceback" not in capsys.readouterr().err


def test_a_comp_render_below_names_the_aifill_and_the_knob(comp, tmp_path: Path, monkeypatch):
    """The beforeRender check raised the bare TCL error, naming no AIFill. (Nuke 14-16: no knobChanged for a
    Python setValue; 17.1's forgets the fill at once, and the comp render fails on the node's output error.)"""
    monkeypatch.setattr(nuke, "NUKE_VERSION_MAJOR", 16)
    runpy.run_path(str(PLUGIN / "init.py"))  # its beforeRender callback
    fill = comp["fill"]
    nodes.render_node(fill)
    write = nuke.nodes.Write(
        name="CompOut", file=str(tmp_path / "out" / "c.####.exr"), create_directories=True
    )
    write.setInput(0, fill)
    fill["colorspace"].setValue("[getenv AIFX_CS")  # nuke -t, or before the GUI went idle
    with pytest.raises(RuntimeError) as caught:
        nuke.execute(write, 1001, 1001)
    assert str(caught.value).startswith(
        "AIFill: not rendering CompOut: AIFill1: cannot check its result: colourspace override: cannot evaluate "
    ), caught.value
    assert not os.path.exists(tmp_path / "out" / "c.1001.exr")


def test_a_knob_that_cannot_be_evaluated_is_a_render_error_headless(comp):
    fill = comp["fill"]
    fill["frame_range"].setValue("[frames]")
    with pytest.raises(session.RenderError, match=r"^frame range: cannot evaluate '\[frames\]' \("):
        nodes.render_node(fill)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("server_url", "http://[studio_server]:8765"),
        ("aifx_env", "[studio_python]"),
        ("cache_dir", "[getenv SHOW/cache"),
    ],
    ids=list(_UNKEYED),
)
def test_a_bad_knob_that_does_not_make_the_fill_keeps_it_shown_and_the_comp_renders(
    comp, tmp_path: Path, name, text
):
    """The aifx server, aifx environment and cache folder are no part of the fill key (a knob changed there
    keeps the fill): one whose TCL fails made the GUI's idle forget the good fill ("not rendered: a setting
    changed") and refused a comp render below it, though its fill was shown (review of round 40)."""
    runpy.run_path(str(PLUGIN / "init.py"))  # knobChanged, updateUI, beforeRender
    fill = comp["fill"]
    nodes.render_node(fill)
    write = nuke.nodes.Write(
        name="CompOut", file=str(tmp_path / "out" / "c.####.exr"), create_directories=True
    )
    write.setInput(0, fill)
    fill[name].setValue(text)
    nuke.execute(write, 1001, 1001)  # nuke -x on a farm machine: no GUI, no idle
    assert os.path.exists(tmp_path / "out" / "c.1001.exr")
    nuke.GUI = True
    nuke._idle()
    assert fill["status"].value() == "done: frames 1001-1003 (3 filled now)"
    assert nodes.NukeHost(fill).shown_result() is not None, "the good fill is still shown"
    nuke.GUI = False
    with pytest.raises(session.RenderError, match=rf"^{knobs.LABELS[name]}: cannot evaluate "):
        nodes.render_node(fill)  # a render uses it: the one line naming the knob


def test_tcl_substitutes_a_commands_result_once_and_reads_escaped_brackets_as_text(comp, monkeypatch):
    """What tclsh gives: a [getenv] value holding a bracket is text (the fake read it again and raised
    "missing close-bracket"), and \\[v2\\] is the text [v2] (the fake ran the command ``v2\\``)."""
    monkeypatch.setenv("AIFX_SHOW", "/shows/job[2026")
    fill = comp["fill"]
    fill["backend"].setValue("lama")
    fill["cache_dir"].setValue("[getenv AIFX_SHOW]/aifx_cache")
    fill["model"].setValue(r"/models/big-lama\[v2\].pt")
    settings = nodes.NukeHost(fill).settings()
    assert (settings["cache_dir"], settings["model"]) == (
        "/shows/job[2026/aifx_cache",
        "/models/big-lama[v2].pt",
    )
    fill["model"].setValue("/models/[getenv AIFX_SHOW")
    with pytest.raises(session.RenderError, match=r"missing close-bracket"):
        nodes.NukeHost(fill).settings()
