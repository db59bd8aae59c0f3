"""What the artist meets around the operator (issue 12 item 5): the menu entries F3 finds, the panel's
settings on calls that set none, a virtualenv folder in the preferences, and messages in Blender's words."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from blender_helpers import REPO

from aifx_core.errors import InputError
from blender_addon.wording import blender_terms

pytestmark = pytest.mark.blender


def test_menu_entries_appear_and_go_with_the_add_on(blender) -> None:
    result = blender(
        """
        panels = sys.modules[ADDON + ".panels"]
        def entries():
            return {name: [f for f in getattr(bpy.types, name)._dyn_ui_initialize() if f is panels.draw_menu_entry]
                    for name in ("CLIP_MT_clip", "IMAGE_MT_image")}
        RESULT["enabled"] = {name: len(found) for name, found in entries().items()}
        bpy.ops.preferences.addon_disable(module=ADDON)
        RESULT["disabled"] = {name: len(found) for name, found in entries().items()}
        """
    )
    assert result["enabled"] == {"CLIP_MT_clip": 1, "IMAGE_MT_image": 1}
    assert result["disabled"] == {"CLIP_MT_clip": 0, "IMAGE_MT_image": 0}


def test_preferences_take_a_virtualenv_folder(blender, tmp_path: Path) -> None:
    empty = tmp_path / "not_a_venv"
    empty.mkdir()
    result = blender(
        f"""
        PREFS.python_path = sys.prefix  # the virtualenv folder, not its python
        RESULT["venv"] = sorted(bpy.ops.aifx.check_environment())
        RESULT["venv_check"] = PREFS.last_check
        PREFS.python_path = {str(empty)!r}
        try:
            RESULT["empty"] = sorted(bpy.ops.aifx.check_environment())
        except RuntimeError as exc:  # an ERROR report raises in background Python
            RESULT["empty"] = str(exc)
        RESULT["empty_check"] = PREFS.last_check
        """
    )
    assert result["venv"] == ["FINISHED"], result["venv_check"]
    assert f"found in {Path(sys.prefix) / 'bin' / 'python'}" in result["venv_check"]
    assert "no Python in the folder" in result["empty"]
    assert f"no Python in the folder {empty}" in result["empty_check"]


def test_a_python_given_to_check_once_does_not_stick(blender, tmp_path: Path) -> None:
    """``aifx.check_environment``'s ``python`` was the one property of the add-on's operators without SKIP_SAVE:
    after a press that named a Python (``python=...``), a later press naming none (the preferences' Check
    button) checked that one again instead of the preference, as Blender gives a property a call leaves unset
    its last-used value: a broken preference was reported fine."""
    empty = tmp_path / "not_a_venv"
    empty.mkdir()
    result = blender(
        f"""
        PREFS.python_path = {str(empty)!r}
        def press(**kwargs):  # a press, not a nested call (undo=True): unset properties take last-used values
            try:
                return sorted(bpy.ops.aifx.check_environment("EXEC_DEFAULT", True, **kwargs))
            except RuntimeError as exc:  # an ERROR report raises in background Python
                return str(exc)
        RESULT["named"] = press(python=sys.executable)
        RESULT["preference"] = press()
        RESULT["check"] = PREFS.last_check
        """
    )
    assert result["named"] == ["FINISHED"], result["log"]
    assert f"no Python in the folder {empty}" in result["preference"], result["preference"]
    assert f"no Python in the folder {empty}" in result["check"], result["check"]


def test_calls_without_settings_take_the_panels_and_errors_use_its_words(blender, exr_shot: Path) -> None:
    result = blender(
        """
        clip = bpy.data.movieclips.load(os.path.join(PLATE, "plate.1001.exr"))
        clip.frame_start = 1001
        scene = bpy.context.scene
        scene.frame_start, scene.frame_end = 1001, 1002
        scene.aifx.backend, scene.aifx.dilate = "telea", 2  # what the artist set in the AI Fill panel
        mask = os.path.join(PLATE, "mask.####.png")
        RESULT["menu_call"] = run_fill(clip=clip.name, mask=mask)  # what the menu entry and F3 pass
        RESULT["job"] = json.load(open(os.path.join(PLATE, "aifx_fill", "plate_fill.aifx.json")))
        RESULT["changed"] = run_fill(clip=clip.name, mask=mask, dilate=9)  # finished frames, other settings
        image = bpy.data.images.load(os.path.join(PLATE, "plate.1001.exr"))
        image.source = "SEQUENCE"
        window = bpy.context.window_manager.windows[0]
        area = window.screen.areas[0]
        area.type = "IMAGE_EDITOR"
        area.spaces.active.image = image  # its Image User shows files 1..100 at scene frames 1..100
        with bpy.context.temp_override(window=window, area=area):
            RESULT["image_range"] = run_fill(mask=mask)
        """,
        exr_shot,
    )
    assert result["menu_call"] == ["FINISHED"], result["log"]
    assert (result["job"]["backend"], result["job"]["dilate"]) == ("telea", 2)
    error = result["changed"]["error"]
    assert "tick Redo Finished Frames to replace them" in error and "--" not in error, error
    image_range = result["image_range"]["error"]
    # (the Image User's Frames hold none of the files: both are named, so the artist sees which to move)
    assert (
        "does not overlap the plate (it shows files 1-100 at scene frames 1-100, its files on disk are 1001-"
        in image_range
    )
    assert "Image > Frames, Start Frame, Offset" in image_range


def test_the_menu_fills_the_clip_the_editor_shows_after_a_panel_click(blender, tmp_path: Path) -> None:
    """A click is not a nested call: Blender gives every property the call leaves unset its last-used value.
    After the panel's button on sh010 (it names the clip, the Mask and every panel setting), Clip > AI Fill
    and F3 on sh020 (they name nothing) filled sh010 again, with the panel settings of that earlier click."""
    for shot in ("sh010", "sh020"):
        (tmp_path / shot).mkdir()
        shutil.copy(REPO / "examples" / "shot" / "plate.1001.exr", tmp_path / shot / f"{shot}.1001.exr")
    result = blender(
        f"""
        panels = sys.modules[ADDON + ".panels"]
        where = editor("CLIP_EDITOR")
        space = where[3]
        first = bpy.data.movieclips.load({str(tmp_path / "sh010" / "sh010.1001.exr")!r})
        second = bpy.data.movieclips.load({str(tmp_path / "sh020" / "sh020.1001.exr")!r})
        scene = bpy.context.scene
        scene.frame_start = scene.frame_end = 1
        scene.aifx.backend, scene.aifx.dilate, scene.aifx.overwrite = "telea", 2, True
        space.clip, space.mode, space.mask = first, "MASK", draw_mask("m", (100, 50, 160, 120), (320, 180))
        button = dict(panels.fill_arguments(space, scene.aifx))  # what the panel's AI Fill button names
        button.update({{name: getattr(scene.aifx, name) for name in panels.FillOptions.shared}})
        RESULT["panel"] = click(where, **button)
        scene.aifx.dilate, scene.aifx.overwrite = 5, False  # the artist changes the panel's settings...
        space.clip = second  # ...and moves on to sh020
        RESULT["menu"] = click(where)  # Clip > AI Fill, F3: no names
        """
    )
    assert result["panel"] == ["FINISHED"] and result["menu"] == ["FINISHED"], result["log"]
    job = json.loads((tmp_path / "sh020" / "aifx_fill" / "sh020_fill.aifx.json").read_text())
    assert (job["dilate"], job["overwrite"]) == (5, False)
    assert (tmp_path / "sh020" / "aifx_fill" / "sh020_fill.1001.exr").exists()


def test_core_wording_is_rewritten_for_the_panel() -> None:
    cases = {
        "frames 1001-1002 already exist, made with different settings (first: 1001); pass --overwrite to "
        "replace them or choose another output": "tick Redo Finished Frames to replace them",
        "plate: frames 5-9 missing; render them or pass --skip-missing": "render them",
        "mask has no frame 7; render the mask for those frames or limit --frames": "limit the frame range",
        "--frames '1-': cannot read '1-'": "the frame range '1-'",
        "/p/a.0001.exr is an input of this job (output frame, -o/--output); pass another -o/--output": (
            "(output frame, Output Folder); choose another Output Folder"
        ),
        "warning: the hole covers 96 % of frame 4: what no other frame saw there is invented, not restored; "
        "check the mask, --invert-mask, --threshold and --dilate": "check the Mask (white = fill) and Dilate",
        "note: the plate is DWAA-compressed (lossy); the output is written with ZIP (lossless) so pixels outside "
        "the mask stay exact; pass --compression dwaa to keep it": "so pixels outside the mask stay exact",
        "warning: the mask is empty on every frame (1-6): nothing was filled, the output is the plate; check the "
        "mask, --mask-channel, --invert-mask and --threshold": "the output is the plate; check the Mask (white = fill)",
        "/p/plate.1001.exr: no channel 'Q' (channels: A, B, G, R); give one of them as the mask channel "
        '(--mask-channel NAME or "mask_channel": NAME)': "(channels: A, B, G, R); use a one-channel matte or pick a Mask",
        "/p/plate.1001.exr: no alpha channel to use as the mask (channels: B, G, R); give a mask (--mask MASK or "
        '"mask": MASK) or the channel that holds the matte (--mask-channel NAME or "mask_channel": NAME)': (
            "(channels: B, G, R); pick a Mask or a Matte in the AI Fill panel"
        ),
        # The frames named for a CLI user and a Python caller alike (events.LIMIT_FRAMES, CHECK_FRAMES).
        "/s/mask.####.png: mask frames 1003 missing (the plate has 1001-1006); render the mask for those frames or "
        'limit the frames (--frames RANGE or "frames": RANGE)': (
            "render the mask for those frames or limit the frame range (AI Fill panel: Scene Range, or Start and End)"
        ),
        "/s/mask.####.png: mask frame 1003 is not in this sequence (1001-1002); check the frames asked for "
        '(--frames RANGE or "frames": RANGE)': (
            "(1001-1002); check the frame range (AI Fill panel: Scene Range, or Start and End)"
        ),
    }
    for core, blender_words in cases.items():
        rewritten = blender_terms(core)
        assert blender_words in rewritten and "--" not in rewritten, rewritten
    assert json.loads(json.dumps(blender_terms("no flags here"))) == "no flags here"


def test_model_errors_name_the_panels_fields() -> None:
    """The backends' errors name the Model, Window, Overlap, Model Size and Reference fields of the panel, not
    the flags: the model ones as the core really raises them, the video model's as it words them."""
    from aifx_core.inpaint.models import load_torchscript, locate_model

    raised = []
    for call in (lambda: locate_model(""), lambda: load_torchscript("", "cpu")):
        with pytest.raises(InputError) as caught:
            call()
        raised.append(blender_terms(str(caught.value)))
    assert raised[0].startswith("no model given; set Model to a hub id (e.g. "), raised[0]
    assert raised[1].startswith("no LaMa model given; set Model to the path of a TorchScript export"), raised[
        1
    ]
    video = {
        "window=81 asks m for 81 frames, but it takes at most 49 frames a call (x); use --window 49 or less (and "
        "an --overlap below it)": "; set Window to 49 or less (and Overlap below it)",
        "size=960 makes the crop too big; use --option size=640 or less": "; set Model Size to 640 or less",
        "m: this pipeline takes no reference image; drop --reference or use a VACE model": "; clear Reference or",
        "make it fit with --option window=40, --option size=480, --option offload=model": (
            "make it fit with Window 40, Model Size 480, option offload=model"
        ),
    }
    for core, words in video.items():
        assert words in blender_terms(core), blender_terms(core)
    assert not [text for text in [*raised, *map(blender_terms, video)] if "--" in text]


def test_a_label_image_matte_is_refused_with_what_the_artist_can_do() -> None:
    """A 0/1 label image picked as the Mask Image: the core's fix names --threshold, which the panel does not
    have; the artist is told to save the matte black/white only."""
    import numpy as np

    from aifx_core.mask import _refuse_label_image

    label = np.zeros((64, 64), np.uint8)
    label[8:40, 8:40] = 1
    with pytest.raises(InputError) as caught:
        _refuse_label_image(label, "matte.0001.png", 0.5)
    words = blender_terms(str(caught.value))
    assert words.endswith("so the mask would be empty; save the mask as 0/255 (black/white)"), words
    assert "--" not in words


def test_blend_relative_folders_are_declared_so_blender_does_not_warn(blender, exr_shot: Path) -> None:
    """The docs recommend //aifx_fill/; Blender 5 warned 'does not support blend relative "//" prefix' for the
    panel's and the operator's Output Folder and Reference."""
    result = blender(
        f"""
import warnings
bpy.ops.wm.save_as_mainfile(filepath={str(exr_shot / "shot.blend")!r})
clip = bpy.data.movieclips.load(os.path.join(PLATE, "plate.1001.exr"))
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1, 1
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    scene.aifx.output_dir, scene.aifx.reference = "//aifx_fill/", "//reference.png"
    RESULT["fill"] = run_fill(clip=clip.name, mask=os.path.join(PLATE, "mask.####.png"), backend="telea",
                              output_dir="//out/")
RESULT["warnings"] = [str(w.message) for w in caught]
RESULT["supports"] = [scene.aifx.bl_rna.properties[n].is_path_supports_blend_relative
                      for n in ("output_dir", "reference")]
""",
        exr_shot,
    )
    assert result["fill"] == ["FINISHED"], result["log"]
    assert not [w for w in result["warnings"] if "blend relative" in w], result["warnings"]
    assert result["supports"] == [True, True]
    assert list((exr_shot / "out").glob("plate_fill.*.exr"))  # next to the saved .blend


def test_a_tilde_in_the_aifx_python_is_the_home_folder(blender) -> None:
    """The preference's tooltip suggests ~/aifx/.venv; the ~ was taken literally."""
    result = blender(
        """
preferences = sys.modules[ADDON + ".preferences"]
venv = os.path.join(os.environ["HOME"], "aifx", ".venv")
os.makedirs(os.path.join(venv, "bin"))
open(os.path.join(venv, "bin", "python"), "w").close()
RESULT["expected"] = os.path.join(venv, "bin", "python")
PREFS.python_path = "~/aifx/.venv"
RESULT["preference"] = preferences.resolve_python()
RESULT["override"] = preferences.resolve_python(override="~/aifx/.venv/bin/python")
PREFS.python_path = ""
os.environ["AIFX_PYTHON"] = "~/aifx/.venv"
RESULT["environment"] = preferences.resolve_python()
"""
    )
    expected = result["expected"]
    assert [result["preference"], result["override"], result["environment"]] == [expected] * 3


def test_the_model_field_says_a_model_is_required_as_the_core_does(blender) -> None:
    """The Model field's tooltip and docs/blender.md said empty meant the backend's default, but every
    backend that reads a model refuses an empty one (LaMa needs its TorchScript file)."""
    from aifx_core.inpaint.models import load_torchscript, locate_model

    for call in (lambda: locate_model(""), lambda: load_torchscript("", "cpu")):
        with pytest.raises(InputError, match="no (LaMa )?model given"):
            call()
    result = blender('RESULT["tip"] = bpy.context.scene.aifx.bl_rna.properties["model"].description')
    docs = (Path(__file__).resolve().parents[2] / "docs" / "blender.md").read_text(encoding="utf-8")
    (box,) = [line for line in docs.splitlines() if line.startswith("│ Model ")]
    for text in (result["tip"], box):
        assert "default" not in text and "TorchScript .pt" in text, text


def test_frame_range_errors_name_the_panels_range_and_the_plates_placement(tmp_path: Path) -> None:
    """The core checks a job's frames as its field: an artist in Blender was told to check `job field "frames"`,
    which the panel does not have. Real core messages, from a job's frames beyond the plate on disk."""
    import cv2
    import numpy as np

    from aifx_core.sequence.frames import JOB_FRAMES, MAX_FRAMES
    from aifx_core.sequence.reader import open_sequence

    for folder in ("shot", "stray"):
        (tmp_path / folder).mkdir()
        for number in range(0, 10):
            cv2.imwrite(str(tmp_path / folder / f"plate.{number:04d}.png"), np.zeros((4, 4, 3), np.uint8))
    stray = tmp_path / "stray" / f"plate.{MAX_FRAMES + 100}.png"  # far from the shot: a stray file
    cv2.imwrite(str(stray), np.zeros((4, 4, 3), np.uint8))
    raised = []
    for folder, frames in (("shot", "1001-1003"), ("shot", "-2-1"), ("stray", None)):
        with pytest.raises(InputError) as caught:
            open_sequence(str(tmp_path / folder / "plate.####.png"), frames, frames_name=JOB_FRAMES)
        assert JOB_FRAMES in str(caught.value)
        raised.append(blender_terms(str(caught.value)))
    panel = "the frame range (AI Fill panel: Scene Range, or Start and End)"
    placed = "the clip's Start Frame and Frame Offset, or the Image's Start Frame and Offset"
    assert raised[0].endswith(f"; check {panel} and where the plate is placed ({placed})"), raised[0]
    assert f"; keep {panel} on files 0-9 (placed by {placed}), render them" in raised[1], raised[1]
    assert raised[2].endswith(
        "move it out of the folder, or set the frame range (AI Fill panel: Start and End)"
    )
    assert not [text for text in raised if "job field" in text or " --" in text], raised


def test_a_plate_on_twos_is_not_answered_with_a_stepped_range_the_panel_cannot_take(tmp_path: Path) -> None:
    """The core tells a job on a plate on twos to set its frames to '1001-1007x2'; the panel has whole-number
    Start and End only, and the add-on fills every frame of its range."""
    import cv2
    import numpy as np

    from aifx_core.sequence.frames import JOB_FRAMES
    from aifx_core.sequence.reader import open_sequence

    for number in range(1001, 1008, 2):
        cv2.imwrite(str(tmp_path / f"plate.{number}.png"), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(InputError) as caught:
        open_sequence(str(tmp_path / "plate.####.png"), "1001-1007", frames_name=JOB_FRAMES)
    assert "'1001-1007x2'" in str(caught.value)
    said = blender_terms(str(caught.value))
    assert said.endswith(
        "the plate is on twos, and AI Fill fills every frame of its range: render the frames in between"
    ), said
    assert "to '1001-1007x2'" not in said and "job field" not in said and " --" not in said, said


def test_the_last_check_is_not_shown_again_after_a_restart(blender) -> None:
    """The preferences' Check line (declared SKIP_SAVE, which Blender ignores in add-on preferences) was saved
    with the preferences and shown after a restart, although no Check ran in that session and the aifx
    Python may have changed meanwhile."""
    first = blender(
        """
        PREFS.server_url = "http://gpu-box:8765"
        RESULT["check"] = sorted(bpy.ops.aifx.check_environment())
        RESULT["shown"] = PREFS.last_check
        bpy.ops.wm.save_userpref()
        """
    )
    assert first["check"] == ["FINISHED"] and "aifx-core" in first["shown"], first["log"]
    again = blender(  # the same user folder: the preferences saved above
        """
        bpy.ops.wm.read_userpref()
        prefs = bpy.context.preferences.addons[ADDON].preferences
        RESULT["server"] = prefs.server_url
        RESULT["shown"] = prefs.last_check
        """
    )
    assert again["server"] == "http://gpu-box:8765", again["log"]  # the saved preferences were read
    assert again["shown"] == ""
