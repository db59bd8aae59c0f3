"""The inputs cache key sees every upstream change: a stale key reuses an old fill as "cached, nothing changed"."""

from __future__ import annotations

import os
import runpy
import shutil
import sys

import cv2
import nuke
import numpy as np
import pytest
from aifx_nuke import nodes, session
from conftest import PLUGIN, aifill_in_group, write_exr


def _inputs_key(fill) -> str:
    paths = session.plan(nodes.NukeHost(fill), None, os.environ)[0]
    return os.path.basename(paths.inputs_dir)


def test_the_fake_input_node_has_no_inputs_and_no_dependencies_like_nukes(comp):
    group = nuke.nodes.Group(name="Wrap")
    group.setInput(0, comp["plate_node"])
    with group:
        inside = nuke.nodes.Input(number=0)
    assert inside.inputs() == 0 and inside.input(0) is None
    assert inside.dependencies(nuke.INPUTS | nuke.HIDDEN_INPUTS | nuke.EXPRESSIONS) == []
    assert inside.parent() is group and group.input(0) is comp["plate_node"]


def test_an_aifill_inside_a_group_sees_the_plate_that_feeds_the_group(comp):
    inner = aifill_in_group(comp)
    before = _inputs_key(inner)
    copy = comp["dir"].parent / "plates_v2"
    shutil.copytree(comp["dir"], copy)
    comp["plate_node"]["file"].setValue((copy / "plate.####.exr").as_posix())  # the plate is versioned up
    assert _inputs_key(inner) != before
    rows = nodes.NukeHost(inner).upstream()
    assert ("Source", "Read", "Plate") in [r[:3] for r in rows]
    assert ("Mask", "Read", "Matte") in [r[:3] for r in rows]


def test_a_change_inside_a_nested_upstream_group_changes_the_key(comp):
    outer = nuke.nodes.Group(name="Prep")
    outer.setInput(0, comp["plate_node"])
    with outer:
        inner = nuke.nodes.Group(name="Inner")
        inner.setInput(0, nuke.nodes.Input(number=0))
        with inner:
            grade = nuke.nodes.Grade(name="Grade1", white=1.0)
            grade.setInput(0, nuke.nodes.Input(number=0))
            nuke.nodes.Output().setInput(0, grade)
        nuke.nodes.Output().setInput(0, inner)
    comp["fill"].setInput(0, outer)
    before = _inputs_key(comp["fill"])
    grade["white"].setValue(2.0)
    assert _inputs_key(comp["fill"]) != before


def test_a_knob_linked_by_expression_to_a_node_not_upstream_changes_the_key(comp):
    tracker = nuke.nodes.Tracker4(name="Tracker1", translate="{100 20}")
    follow = nuke.nodes.Transform(
        name="MatteTrack", translate="{{Tracker1.translate.x} {Tracker1.translate.y}}"
    )
    follow.setInput(0, comp["matte_node"])
    comp["fill"].setInput(1, follow)
    before = _inputs_key(comp["fill"])
    tracker["translate"].setValue("{140 25}")  # re-tracked: the matte moves
    assert _inputs_key(comp["fill"]) != before


def test_an_expression_naming_the_aifill_itself_keeps_the_key_stable_over_a_render(comp):
    """The node's own Read changes with each render: walking it would make every result stale."""
    grade = nuke.nodes.Grade(name="Lift", white="{{AIFill1.seed}}")
    grade.setInput(0, comp["plate_node"])
    comp["fill"].setInput(0, grade)
    before = _inputs_key(comp["fill"])
    nodes.render_node(comp["fill"])
    assert _inputs_key(comp["fill"]) == before
    assert nodes.render_node(comp["fill"]).reused


@pytest.mark.parametrize(
    ("knob", "value"),
    [
        ("colorManagement", "OCIO"),
        ("OCIO_config", "aces_1.2"),
        ("customOCIOConfigPath", "/show/ocio/config.ocio"),
        ("workingSpaceLUT", "ACES - ACEScg"),
        ("int8Lut", "rec709"),
        ("int16Lut", "linear"),
        ("logLut", "AlexaV3LogC"),
        ("floatLut", "sRGB"),
    ],
)
def test_the_projects_colour_management_is_part_of_the_inputs_key(comp, knob, value):
    """A Read turns the plate into the working space: in another one the written inputs are other pixels."""
    before = _inputs_key(comp["fill"])
    nuke.root()[knob].setValue(value)
    assert _inputs_key(comp["fill"]) != before


def test_a_root_without_a_colour_knob_still_keys(comp):
    """Older Nukes lack some of these knobs: they are read only where the root has them."""
    del nuke.root()._knobs["customOCIOConfigPath"]
    rows = nodes.NukeHost(comp["fill"]).upstream()
    assert "customOCIOConfigPath" not in rows[-1][3] and "floatLut linear" in rows[-1][3]


def test_the_fake_filename_evaluates_tcl_keeps_the_frame_token_and_reads_relative_paths_in_the_project(
    comp, monkeypatch
):
    """As Foundry documents ``nuke.filename``: commands expanded, the sequence token kept; a relative path
    is opened in the project directory."""
    monkeypatch.setenv("SHOT_ROOT", str(comp["dir"].parent))
    read = comp["plate_node"]
    read["file"].setValue("[getenv SHOT_ROOT]/plates/plate.####.exr")
    assert nuke.filename(read) == comp["plate"]
    assert read["file"].value() == "[getenv SHOT_ROOT]/plates/plate.%04d.exr", (
        "not evaluated, printf (Foundry)"
    )
    read["file"].setValue("plates/plate.####.exr")
    assert nuke.filename(read) == "plates/plate.####.exr"
    nuke.root()["project_directory"].setValue(str(comp["dir"].parent))
    assert nuke._pull(read, 1002)["rgba.red"].shape == (54, 96)


def test_a_plate_path_in_tcl_keys_the_plate_it_reads(comp, monkeypatch):
    """``[getenv SHOT_ROOT]`` reads another shot's plate with the same text: the key follows the plate."""
    other = comp["dir"].parent / "other"
    shutil.copytree(comp["dir"], other / "plates")
    for frame in (1001, 1002, 1003):  # the other shot's plate: another picture
        plane = np.full((54, 96), 0.5, np.float32)
        write_exr(other / "plates" / f"plate.{frame}.exr", {"R": plane, "G": plane, "B": plane})
    monkeypatch.setenv("SHOT_ROOT", str(comp["dir"].parent))
    comp["plate_node"]["file"].setValue("[getenv SHOT_ROOT]/plates/plate.####.exr")
    before = _inputs_key(comp["fill"])
    monkeypatch.setenv("SHOT_ROOT", str(other))
    assert _inputs_key(comp["fill"]) != before


@pytest.mark.parametrize("token", ["####", "%04d"])
def test_the_farm_and_a_workstation_mounting_the_same_plates_elsewhere_make_one_key(comp, monkeypatch, token):
    """``[getenv SHOT_ROOT]`` is /mnt/show on the farm and /Volumes/show on a workstation: the same plates, so
    the farm's fill must be found by the comp (the key once held the evaluated path, one key per mount)."""
    workstation = comp["dir"].parent
    farm = workstation / "farm_mount"
    farm.symlink_to(workstation, target_is_directory=True)  # another mount of the same storage
    for read, name in ((comp["plate_node"], f"plate.{token}.exr"), (comp["matte_node"], f"mask.{token}.png")):
        read["file"].setValue(f"[getenv SHOT_ROOT]/plates/{name}")
    monkeypatch.setenv("SHOT_ROOT", str(workstation))
    key = _inputs_key(comp["fill"])
    monkeypatch.setenv("SHOT_ROOT", str(farm))
    assert _inputs_key(comp["fill"]) == key
    rows = nodes.NukeHost(comp["fill"]).upstream()
    assert str(farm) not in rows[0][3] and "aifx_path file contents " in rows[0][3]


def test_a_matte_path_that_cannot_be_read_is_keyed_as_the_path(comp, monkeypatch):
    """No file to tell mattes apart by (not rendered yet, another machine's folder): the path is keyed."""
    comp["matte_node"]["file"].setValue("[getenv SHOT_ROOT]/roto/matte.####.png")
    monkeypatch.setenv("SHOT_ROOT", "/nowhere/sh010")
    texts = {name: text for _label, _cls, name, text in nodes.NukeHost(comp["fill"]).upstream()}
    assert "aifx_path file /nowhere/sh010/roto/matte.####.png" in texts["Matte"].splitlines()


def test_save_as_into_the_next_shot_fills_that_shots_plate_not_the_last_shots(tmp_path):
    """A comp template's Reads are relative to the script (``[file dirname [value root.name]]/../plates``):
    saved into the next shot's folder, they read its plates, and Render fills those (it once reused the last
    shot's fill, "cached, nothing changed", the keys being the same)."""
    matte = np.zeros((54, 96), np.uint8)
    matte[20:30, 40:50] = 255
    for grey, shot in ((0.2, "sh010"), (0.7, "sh020")):  # each shot's plate a flat grey of its own
        plates = tmp_path / shot / "plates"
        plates.mkdir(parents=True)
        (tmp_path / shot / "comp").mkdir()
        for frame in (1001, 1002):
            cv2.imwrite(str(plates / f"mask.{frame}.png"), matte)
            plane = np.full((54, 96), grey, np.float32)
            write_exr(plates / f"plate.{frame}.exr", {"R": plane, "G": plane, "B": plane})
    relative = "[file dirname [value root.name]]/../plates/"
    plate = nuke.nodes.Read(name="Plate", file=relative + "plate.####.exr", first=1001, last=1002)
    matte = nuke.nodes.Read(name="Matte", file=relative + "mask.####.png", first=1001, last=1002)
    nuke._select(plate)
    fill = nodes.create_aifill()
    fill.setInput(1, matte)
    fill["mask_channel"].setValue("rgba.red")
    fill["backend"].setValue("telea")
    fill["aifx_env"].setValue(sys.executable)
    nuke.scriptSaveAs(str(tmp_path / "sh010" / "comp" / "sh010_comp_v001.nk"))
    assert not nodes.render_node(fill).reused
    nuke.scriptSaveAs(str(tmp_path / "sh020" / "comp" / "sh020_comp_v001.nk"))
    outcome = nodes.render_node(fill)
    assert not outcome.reused and "sh020" in outcome.result
    assert np.allclose(nuke._pull(fill, 1002)["rgba.red"], 0.7, atol=1e-3)  # the new shot's grey, filled


def test_a_relative_plate_path_keys_the_project_directory(comp):
    """Nuke opens a relative path in the project directory: another directory is another plate."""
    nuke.root()["project_directory"].setValue(str(comp["dir"].parent))
    comp["plate_node"]["file"].setValue("plates/plate.####.exr")
    before = _inputs_key(comp["fill"])
    copy = comp["dir"].parent / "v2"
    shutil.copytree(comp["dir"], copy / "plates")
    nuke.root()["project_directory"].setValue(str(copy))
    assert _inputs_key(comp["fill"]) != before


def _below(upper, matte):
    """A second AIFill under ``upper`` with its settings and ``matte``: its Source is ``upper``'s fill."""
    nuke._select(upper)
    lower = nodes.create_aifill()
    lower.setInput(1, matte)
    for name in ("mask_channel", "backend", "aifx_env", "cache_dir"):
        lower[name].setValue(upper[name].value())
    return lower


@pytest.mark.parametrize("chain", [False, True], ids=["alone", "below another AIFill"])
def test_plain_plate_paths_keep_the_key_they_had(comp, chain):
    """A script of plain absolute paths keys as before the evaluated paths were keyed: its cache is found, and
    a Save As (which sets the project directory to the script's folder) keeps it. An AIFill below another too:
    the upper's Reads hold names Nuke never opens (not rendered, outside the filled frames), which once put the
    project directory into the lower's key and made its fill stale."""
    fill = comp["fill"]
    if chain:
        nodes.render_node(fill)
        fill = _below(fill, comp["matte_node"])
    before = _inputs_key(fill)
    nuke.root()["project_directory"].setValue("/somewhere/else")
    rows = nodes.NukeHost(fill).upstream()
    for _label, _cls, name, text in rows[:-1]:
        assert text == nuke.toNode(name).writeKnobs(nuke.WRITE_NON_DEFAULT_ONLY | nuke.TO_SCRIPT), name
    assert "project_directory" not in rows[-1][3]
    assert _inputs_key(fill) == before


def _comp_write(tmp_path, upstream) -> nuke.Node:
    """The comp's Write, rendering ``upstream``; the plugin's beforeRender refuses it over a stale fill."""
    runpy.run_path(str(PLUGIN / "init.py"))
    write = nuke.nodes.Write(
        name="CompOut", file=(tmp_path / "out" / "comp_v001.####.exr").as_posix(), create_directories=True
    )
    write.setInput(0, upstream)
    return write


def test_an_expression_reading_the_project_keys_the_projects_knobs_not_the_script(comp, tmp_path):
    """``{{root.format.w/2}}`` upstream once put every node of the script into the key (the Root is a Group):
    a Grade after the fill, the comp Write's path, made the fill stale, refused the comp render and redid it."""
    fill = comp["fill"]
    centre = nuke.nodes.Transform(name="Stabilise", center="{{root.format.w/2} {root.format.h/2}}")
    centre.setInput(0, comp["plate_node"])
    fill.setInput(0, centre)
    post = nuke.nodes.Grade(name="PostGrade", white="1")
    post.setInput(0, fill)
    write = _comp_write(tmp_path, post)
    nodes.render_node(fill)
    before = _inputs_key(fill)

    post["white"].setValue("1.2")  # the artist grades the filled plate downstream
    write["file"].setValue((tmp_path / "out" / "comp_v002.####.exr").as_posix())
    nuke.root()["frame"].setValue(1002)  # and scrubs (Nuke's root knob: the current frame)
    nuke.scriptSaveAs(str(tmp_path / "comp_v002.nk"))  # and saves a new version (root.name)
    nuke.execute(write, 1001, 1003)

    assert _inputs_key(fill) == before
    assert nodes.render_node(fill).reused
    nuke.root()["first_frame"].setValue(1002)  # a knob of the project itself is keyed
    assert _inputs_key(fill) != before


def test_a_gizmos_insides_reading_the_groups_knob_key_the_knob_not_the_group(comp, tmp_path):
    """Inside a cleanup group, a Grade's ``{{parent.gain}}`` (as every gizmo's insides read its knobs) once put
    every node of the group into the key: a Blur after the fill, inside the group, made the fill stale."""
    names = ("mask_channel", "backend", "aifx_env", "cache_dir")
    settings = {name: comp["fill"][name].value() for name in names}
    nuke.delete(comp["fill"])  # (its Python object is no node's from here: Nuke refuses any call on it)
    group = nuke.nodes.Group(name="Cleanup")
    group.addKnob(nuke.Double_Knob("gain", "gain"))
    group["gain"].setValue(1.0)
    group.setInput(0, comp["plate_node"])
    group.setInput(1, comp["matte_node"])
    with group:
        plate, matte = nuke.nodes.Input(name="plate", number=0), nuke.nodes.Input(name="matte", number=1)
        grade = nuke.nodes.Grade(name="Pre", white="{{parent.gain}}")
        grade.setInput(0, plate)
        inner = nodes.create_aifill(connect_selected=False)
        inner.setInput(0, grade)
        inner.setInput(1, matte)
        for name, value in settings.items():
            inner[name].setValue(value)
        soften = nuke.nodes.Blur(name="Soften", size="0")
        soften.setInput(0, inner)
        nuke.nodes.Output().setInput(0, soften)
    write = _comp_write(tmp_path, group)
    nodes.render_node(inner)
    before = _inputs_key(inner)

    soften["size"].setValue("3")  # the result softened inside the group, after the fill
    nuke.execute(write, 1001, 1003)

    assert _inputs_key(inner) == before
    assert nodes.render_node(inner).reused
    group["gain"].setValue(1.5)  # the knob the Grade reads: other pixels
    assert _inputs_key(inner) != before


def test_the_node_tabs_display_knobs_on_the_plate_leave_its_fill_alone(comp, tmp_path):
    """Ticking the plate Read's postage stamp off, bookmarking it, showing it in the Dope Sheet, caching it or
    giving it help and callbacks once made the fill stale: the comp render was refused and Render wrote the
    inputs and filled again (only position, colours, label, font and hide input were left out of the key)."""
    fill, plate = comp["fill"], comp["plate_node"]
    write = _comp_write(tmp_path, fill)
    nodes.render_node(fill)
    assert plate["postage_stamp"].value() is True, "Nuke draws a Read's thumbnail by default"

    plate["postage_stamp"].setValue(False)
    for name in ("bookmark", "dope_sheet", "cached"):
        plate[name].setValue(True)
    plate["postage_stamp_frame"].setValue(1002)
    plate["help"].setValue("the hero plate, v003")
    plate["icon"].setValue("Read.png")
    plate["knobChanged"].setValue("print(nuke.thisKnob().name())")
    plate["onCreate"].setValue("nuke.thisNode()['label'].setValue('plate')")
    nuke.execute(write, 1001, 1003)

    nuke.execute_log.clear()
    assert nodes.render_node(fill).reused
    assert nuke.execute_log == [], "no input written again"


def test_a_proxy_file_on_the_plate_read_keeps_its_fill(comp, tmp_path):
    """The plate's half-resolution proxies arrive and its Read gets them in its built-in *proxy* knob (its proxy
    format and localization policy set too): the comp render was refused ("its inputs or settings changed since
    its render") and Render wrote the inputs and filled again, into another folder. A full-resolution fill reads
    none of them (docs/nuke.md: "a Read's proxy file is never keyed")."""
    fill, plate = comp["fill"], comp["plate_node"]
    write = _comp_write(tmp_path, fill)
    first = nodes.render_node(fill)
    proxies = comp["dir"] / "proxy"
    proxies.mkdir()
    for frame in (1001, 1002, 1003):  # another picture at half size: read only in proxy mode
        plane = np.full((27, 48), 0.5, np.float32)
        write_exr(proxies / f"plate_half.{frame}.exr", {"R": plane, "G": plane, "B": plane})
    plate["proxy"].setValue((proxies / "plate_half.####.exr").as_posix())
    plate["proxy_format"].setValue("48 27 0 0 48 27 1 half")
    plate["localizationPolicy"].setValue("on")
    nuke.execute(write, 1001, 1003)

    nuke.execute_log.clear()
    again = nodes.render_node(fill)
    assert again.reused and again.result == first.result, fill["status"].value()
    assert nuke.execute_log == [], "no input written again"

    # In proxy mode the Read shows the proxy file; the inputs are still written from the full-resolution plate.
    shutil.rmtree(comp["cache"])
    nuke.root()["proxy"].setValue(True)
    assert nuke._pull(plate, 1002)["rgba.red"].max() == 0.5, "the fake reads the proxy file in proxy mode"
    remade = nodes.render_node(fill)
    assert remade.result == first.result
    source = nuke._read(os.path.join(os.path.dirname(os.path.dirname(remade.result)), "source.1002.exr"))
    assert np.array_equal(source["rgba.red"], nuke._read(comp["plate"].replace("####", "1002"))["rgba.red"])


def test_no_display_knob_of_the_node_tab_is_keyed_and_the_fake_has_them_all(comp):
    from aifx_nuke import jobs

    plate = comp["plate_node"]
    # Nuke's icon is a File_Knob (a file browser): the one display knob the file keys (nodes._file_paths) see.
    assert isinstance(plate["icon"], nuke.File_Knob)
    before = _inputs_key(comp["fill"])
    for name in sorted(jobs.DISPLAY_KNOBS - {"panel", "rootNodeUpdated"}):  # (hidden, not in the fake)
        knob = plate[name]
        default = knob.value()
        knob.setValue(not default if isinstance(default, bool) else 7 if isinstance(default, int) else "x")
        assert _inputs_key(comp["fill"]) == before, name
    grade = nuke.nodes.Grade(name="Grade1")
    assert grade["postage_stamp"].value() is False and grade["label"].value() == ""


def test_a_renamed_upstream_node_keeps_the_key_unless_a_knob_reads_a_name(comp):
    """Renaming the plate's Read (Plate -> BG_v2) changed the key: the comp render was refused and Render filled
    again. Names make no pixels, unless a knob reads one by TCL (a slate's ``[value name]``): then they are keyed."""
    fill = comp["fill"]
    before = _inputs_key(fill)
    comp["plate_node"].setName("BG_v2")
    assert _inputs_key(fill) == before
    slate = nuke.nodes.Text(name="Slate", message="")
    slate["message"].setValue("[value name]")
    slate.setInput(0, comp["plate_node"])
    fill.setInput(0, slate)
    before = _inputs_key(fill)
    slate.setName("Slate2")
    assert _inputs_key(fill) != before
    project_path = nuke.nodes.Text(name="Burnin", message="")
    project_path["message"].setValue("[file tail [value root.name]]")  # the script's name, not a node's
    project_path.setInput(0, comp["plate_node"])
    fill.setInput(0, project_path)
    before = _inputs_key(fill)
    project_path.setName("Burnin2")
    assert _inputs_key(fill) == before


def test_where_a_knob_reads_a_name_the_key_is_the_one_it_had_with_names():
    """Leaving names out of the key changed every script's key once; one where a knob upstream reads a name
    keys the names as before, so its cache is still found."""
    from aifx_nuke import jobs

    rows = [
        ("Source", "Text", "Slate", "message {[value name]}\nname Slate\nxpos 10"),
        ("Source", "Read", "Plate", "file /plates/plate.####.exr"),
    ]
    with_names = [[label, cls, name, jobs.normalise_knobs(text)] for label, cls, name, text in rows]
    before = jobs._digest(
        {"upstream": with_names, "first": 1, "last": 3, "channel": "rgba.alpha", "mask": True}
    )
    assert jobs.inputs_key(rows, 1, 3, "rgba.alpha", True) == before
    plain = [(label, cls, name, text.replace("[value name]", "hello")) for label, cls, name, text in rows]
    renamed = [
        (label, cls, name + "_v2", text.replace("Slate", "Slate_v2")) for label, cls, name, text in plain
    ]
    assert jobs.inputs_key(plain, 1, 3, "rgba.alpha", True) == jobs.inputs_key(
        renamed, 1, 3, "rgba.alpha", True
    )
