"""The plugin's pure logic (no nuke): ranges, channels, colour, cache keys, the job, progress, farm args."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from aifx_nuke import jobs, knobs
from aifx_nuke.aifx_protocol import events
from aifx_nuke.aifx_protocol.client import worker_command

from aifx_core.colour import resolve_colorspace
from aifx_core.protocol.errors import InputError
from aifx_core.protocol.job import FillJob


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Write1: frame 1001\nRead error: plate.1001.exr: No such file \n",
            "Read error: plate.1001.exr: No such file",
        ),
        ("Cancelled", "Cancelled"),
        (" \n", "none"),
    ],
)
def test_last_line_of_an_exception(text, expected):
    """Nuke's RuntimeErrors carry a log: its last line says what failed; an empty one gets the default."""
    assert jobs.last_line(RuntimeError(text), "none") == expected


@pytest.mark.parametrize(
    ("text", "default", "expected"),
    [
        ("1001-1100", None, (1001, 1100)),
        (" 7 ", None, (7, 7)),
        ("", (1, 24), (1, 24)),
        ("-5--1", None, (-5, -1)),
    ],
)
def test_parse_frame_range(text, default, expected):
    assert jobs.parse_frame_range(text, default) == expected


@pytest.mark.parametrize("text", ["1100-1001", "a-b", "1-2-3", "1001,1003"])
def test_parse_frame_range_rejects_with_a_hint(text):
    with pytest.raises(jobs.RangeError, match="1001-1100"):
        jobs.parse_frame_range(text, (1, 2000))


@pytest.mark.parametrize("text", ["100-1100", "1050-1200", "1200"])
def test_a_range_past_the_source_input_is_refused(text):
    """Nuke holds the Read's last frame past its range: a typo would fill hundreds of copies of one frame."""
    with pytest.raises(jobs.RangeError, match="reaches past the Source input's frames 1001-1100"):
        jobs.parse_frame_range(text, (1001, 1100))
    assert jobs.parse_frame_range("1001-1100", (1001, 1100)) == (1001, 1100)


@pytest.mark.parametrize("mask", [(1001, 1050), (1010, 1100), (1, 100)])
def test_a_mask_input_short_of_the_range_is_refused(mask):
    """Nuke holds a short matte's last frame: the frames past it would be filled with a stale hole."""
    with pytest.raises(jobs.RangeError, match=f"the Mask input has frames {mask[0]}-{mask[1]} only"):
        jobs.check_mask_range(mask, 1001, 1100)


@pytest.mark.parametrize("mask", [None, (1001, 1100), (1, 2000), (1, 1)])
def test_a_mask_covering_the_range_or_a_still_matte_is_taken(mask):
    jobs.check_mask_range(mask, 1001, 1100)


def test_empty_range_without_an_input_range_says_what_to_do():
    with pytest.raises(jobs.RangeError, match="connect the Source"):
        jobs.parse_frame_range("", None)


@pytest.mark.parametrize(
    ("channel", "exr", "write"),
    [
        ("rgba.alpha", "A", "rgba"),
        ("rgba.red", "R", "rgba"),
        ("mask.a", "mask.a", "all"),
        ("depth.Z", "depth.Z", "all"),
    ],
)
def test_mask_channel_maps_to_the_exr_channel_the_write_node_makes(channel, exr, write):
    assert jobs.exr_channel(channel) == exr
    assert jobs.write_channels(channel) == write


@pytest.mark.parametrize(
    ("override", "management", "config", "working", "expected"),
    [
        ("", "Nuke", "nuke-default", "linear", "linear"),
        ("", "OCIO", "nuke-default", "scene_linear", "linear"),
        ("", "OCIO", "aces_1.2", "ACES - ACEScg", "ACES - ACEScg"),
        ("", "OCIO", "fn-nuke_cg-config-v1.0.0_aces-v1.3_ocio-v2.1", "ACEScg", "ACEScg"),
        ("", "OCIO", "custom", "", "scene_linear"),
        ("ACES2065-1", "OCIO", "aces_1.2", "ACES - ACEScg", "ACES2065-1"),
    ],
)
def test_colourspace_comes_from_the_project_working_space(override, management, config, working, expected):
    name = jobs.job_colorspace(override, management, config, working)
    assert name == expected
    # ...and aifx-core knows it (a name it could not resolve would fail the job).
    assert resolve_colorspace(name)


def test_colourspaces_resolve_to_the_right_linear_space():
    assert (
        resolve_colorspace(jobs.job_colorspace("", "Nuke", "nuke-default", "linear"))
        == "Linear Rec.709 (sRGB)"
    )
    assert resolve_colorspace(jobs.job_colorspace("", "OCIO", "aces_1.2", "ACES - ACEScg")) == "ACEScg"


UPSTREAM = [
    ("Source", "Read", "Plate", "file /s/plate.####.exr\nfirst 1001\nxpos 12\nypos -40\nselected true")
]


def test_inputs_key_ignores_node_layout_but_not_knobs_range_or_mask():
    key = jobs.inputs_key(UPSTREAM, 1001, 1010, "rgba.alpha", True)
    moved = [("Source", "Read", "Plate", "file /s/plate.####.exr\nfirst 1001\nxpos 500\nypos 3")]
    assert jobs.inputs_key(moved, 1001, 1010, "rgba.alpha", True) == key
    other_file = [("Source", "Read", "Plate", "file /s/plate_v2.####.exr\nfirst 1001")]
    changed = [
        jobs.inputs_key(other_file, 1001, 1010, "rgba.alpha", True),
        jobs.inputs_key(UPSTREAM, 1001, 1011, "rgba.alpha", True),
        jobs.inputs_key(UPSTREAM, 1001, 1010, "rgba.red", True),
        jobs.inputs_key(UPSTREAM, 1001, 1010, "rgba.alpha", False),
        jobs.inputs_key([("Mask", *UPSTREAM[0][1:])], 1001, 1010, "rgba.alpha", True),
    ]
    assert key not in changed and len(set(changed)) == len(changed)


def _settings(**changes):
    settings = knobs.defaults()
    settings.update(changes)
    return settings


def test_fill_key_changes_with_pixel_settings_only():
    def key(**changes):
        draft = jobs.build_job(_settings(**changes), jobs.CachePaths("", ""), 1, 5, "linear", True)
        return jobs.fill_key("abc", draft)

    base = key()
    assert key(aifx_env="/other/python", cache_dir="/elsewhere", frame_range="1-5") == base
    # prompt/steps are only read by diffusers, so they do not invalidate a propagate/telea result
    assert key(prompt="a wall", steps=50) == base
    for change in (
        {"seed": 1},
        {"dilate": 9},
        {"feather": 0},
        {"backend": "telea"},
        {"invert_mask": True},
        {"spatial_backend": "lama"},
    ):
        assert key(**change) != base, change
    assert key(backend="diffusers", prompt="a wall") != key(backend="diffusers", prompt="grass")


def test_job_is_the_whole_fill_job_the_core_expects():
    paths = jobs.CachePaths.make("/cache", "AIFill1", "in123", "fill456")
    settings = _settings(
        backend="diffusers",
        prompt="brick wall",
        negative_prompt="people",
        steps=12,
        strength=0.8,
        model="my/model",
        seed=7,
        dilate=6,
        feather=3,
        mask_channel="rgba.red",
    )
    job = jobs.build_job(settings, paths, 1001, 1010, "ACEScg", mask_connected=True)
    expected = FillJob(
        input="/cache/AIFill1/in123/source.####.exr",
        output="/cache/AIFill1/in123/fill_fill456/result.####.exr",
        mask="/cache/AIFill1/in123/mask.####.exr",
        mask_channel="R",
        frames="1001-1010",
        backend="diffusers",
        options={
            "model": "my/model",
            "prompt": "brick wall",
            "negative_prompt": "people",
            "steps": 12,
            "strength": 0.8,
        },
        dilate=6,
        feather=3,
        colorspace="ACEScg",
        compression="zip",  # the cache is lossless whatever the plate was
        seed=7,
    )
    assert json.loads(job.to_json()) == json.loads(expected.to_json())  # every field, not just the keys


def test_job_without_mask_input_takes_the_channel_from_the_source():
    job = jobs.build_job(_settings(), jobs.CachePaths("/c", "/c/f"), 1, 2, "linear", mask_connected=False)
    expected = FillJob(
        input="/c/source.####.exr",
        output="/c/f/result.####.exr",
        mask_channel="A",
        frames="1-2",
        options={},
        colorspace="linear",
        compression="zip",
    )
    assert json.loads(job.to_json()) == json.loads(expected.to_json())
    lama = jobs.build_job(_settings(spatial_backend="lama"), jobs.CachePaths("", ""), 1, 2, "linear", False)
    assert lama.options == {"spatial_backend": "lama"}


def test_saved_job_loads_in_aifx_core(tmp_path):
    paths = jobs.CachePaths.make(str(tmp_path), "AIFill1", "k1", "k2")
    job = jobs.build_job(_settings(), paths, 1, 3, "linear", True)
    jobs.save_job(job, paths.job)
    assert FillJob.load(paths.job).to_dict() == job.to_dict()


def test_a_bad_setting_is_refused_before_the_job_is_saved(tmp_path):
    paths = jobs.CachePaths.make(str(tmp_path), "AIFill1", "k1", "k2")
    job = jobs.build_job(_settings(dilate=-3), paths, 1, 3, "linear", True)
    with pytest.raises(Exception, match='"dilate"') as info:
        jobs.save_job(job, paths.job)
    assert type(info.value).__name__ == "InputError"
    assert not os.path.exists(paths.job)


def test_worker_command_line_runs_the_saved_job_with_json_progress():
    assert worker_command("/venv/bin/python", "/c/job.json") == [
        "/venv/bin/python",
        "-m",
        "aifx_core",
        "run",
        "/c/job.json",
        "--json-progress",
    ]


def test_aifx_env_from_knob_or_environment():
    env = {"AIFX_PYTHON": "/env/python", "HOME": "/home/a", "SHOW": "/show"}
    assert jobs.resolve_python("", env) == "/env/python"
    assert jobs.resolve_python("$SHOW/venv/bin/python", {**os.environ, **env}) == "/show/venv/bin/python"
    assert jobs.resolve_python("", {}) == ""


def test_worker_environment_drops_nukes_python_paths():
    env = jobs.worker_environment(
        {"PYTHONPATH": "/nuke/lib", "PYTHONHOME": "/nuke", "OCIO": "/c.ocio", "PATH": "/b"}
    )
    assert env == {"OCIO": "/c.ocio", "PATH": "/b", "PYTHONUNBUFFERED": "1"}


def test_a_relative_cache_folder_is_beside_the_saved_script_and_refused_unsaved():
    """Left relative it would follow the process's folder (Nuke's, the farm's), not the script."""
    assert jobs.absolute_cache_root("aifx_cache", "/shots/sh010/comp.nk") == "/shots/sh010/aifx_cache"
    assert jobs.absolute_cache_root("/cache", "Root") == "/cache"
    with pytest.raises(jobs.RangeError, match="relative and the script is not saved"):
        jobs.absolute_cache_root("aifx_cache", "Root")


def test_default_cache_root_is_beside_the_script_or_in_temp():
    assert jobs.default_cache_root("/shots/sh010/comp_v003.nk", "/tmp") == "/shots/sh010/aifx_cache"
    assert jobs.default_cache_root("Root", "/tmp") == os.path.join("/tmp", "aifx_cache")


def test_done_marker_needs_every_frame_and_the_same_range(tmp_path):
    pattern = str(tmp_path / "r.####.exr")
    marker = str(tmp_path / "done")
    for frame in (1, 2):
        open(jobs.frame_path(pattern, frame), "w").close()
    jobs.mark_done(marker, 1, 2)
    assert jobs.is_marked_done(marker, 1, 2, pattern)
    assert not jobs.is_marked_done(marker, 1, 3, pattern)
    os.remove(jobs.frame_path(pattern, 2))
    assert not jobs.is_marked_done(marker, 1, 2, pattern)
    assert json.loads(Path(marker).read_text()) == {"first": 1, "last": 2}


def test_progress_bar_moves_on_written_frames_only_and_never_backwards():
    """The plugin reads events with the protocol copy's helpers: the same as every other reader."""
    flow = {"event": "progress", "stage": "flow", "index": 1, "total": 4, "frame": 1002, "message": ""}
    write = {"event": "progress", "stage": "write", "index": 2, "total": 4, "frame": 1002, "message": ""}
    share = jobs.WRITE_SHARE
    assert events.percent(flow, share) is None
    assert events.percent(write, share) == share + 45
    assert events.percent({**write, "index": 4}, share) == 100
    assert events.percent({"event": "done"}, share) == 100
    assert events.percent({"event": "progress", "stage": "write", "index": 0, "total": 0}, share) is None
    assert events.describe(flow) == "flow 1/4 (frame 1002)"
    assert events.describe({**write, "message": "hi"}) == "write 2/4 (frame 1002): hi"


def test_farm_arguments(tmp_path):
    script = tmp_path / "comp.nk"
    script.write_text("# nuke\n")
    assert jobs.parse_farm_args([str(script), "AIFill1", "1001-1100"]) == (
        str(script),
        "AIFill1",
        "1001-1100",
    )
    assert jobs.parse_farm_args([str(script), "Group1.AIFill2"]) == (str(script), "Group1.AIFill2", None)
    with pytest.raises(jobs.RangeError, match="usage"):
        jobs.parse_farm_args([str(script)])
    with pytest.raises(jobs.RangeError, match="no such Nuke script"):
        jobs.parse_farm_args([str(tmp_path / "missing.nk"), "AIFill1"])
    with pytest.raises(jobs.RangeError, match="ends before"):
        jobs.parse_farm_args([str(script), "AIFill1", "20-10"])
    named = jobs.parse_farm_args(["frames=1001-1010", str(script), "AIFill1"])
    assert named == (str(script), "AIFill1", "1001-1010")
    assert jobs.parse_farm_args([str(script), "AIFill1", "1001,1010"])[2] == "1001-1010"
    with pytest.raises(jobs.RangeError, match="usage"):
        jobs.parse_farm_args([str(script), "AIFill1", "1-2", "frames=1-2"])


def test_farm_arguments_come_from_nukes_raw_args_which_keep_the_range():
    """``nuke -t render.py comp.nk AIFill1 1001-1100``: sys.argv lost the range, nuke.rawArgs did not."""
    argv = ["/p/aifx_nuke/render.py", "comp.nk", "AIFill1"]
    raw = ["/opt/Nuke15.1/Nuke15.1", "-t", "/p/aifx_nuke/render.py", "comp.nk", "AIFill1", "1001-1100"]
    assert jobs.farm_arguments(argv, raw) == ["comp.nk", "AIFill1", "1001-1100"]
    assert jobs.farm_arguments(argv, []) == ["comp.nk", "AIFill1"], "not under Nuke: sys.argv as it is"


def test_unknown_job_field_would_be_refused_by_the_core():
    """Guards the contract both ways: aifx-core rejects a key the plugin might add by mistake."""
    job = jobs.build_job(_settings(), jobs.CachePaths("/c", "/c/f"), 1, 2, "linear", True)
    with pytest.raises(InputError):
        FillJob.from_dict({**job.to_dict(), "cache_dir": "/c"})


def test_video_diffusion_knobs_become_its_options_and_the_core_accepts_them(tmp_path):
    from aifx_core.backends import check_options

    settings = _settings(
        backend="video-diffusion",
        model="/models/wan-vace",
        prompt="a car explodes",
        reference="/refs/fire.png",
    )
    job = jobs.build_job(settings, jobs.CachePaths("/c", "/c/f"), 1001, 1100, "ACEScg", mask_connected=True)
    assert job.options == {
        "model": "/models/wan-vace",
        "prompt": "a car explodes",
        "negative_prompt": "",
        "steps": 30,
        "window": 81,
        "overlap": 16,
        "size": 640,
        "reference": "/refs/fire.png",
    }
    check_options(job.backend, job.options)  # what the core checks before reading a frame
    other = jobs.build_job(
        _settings(backend="video-diffusion", model="m", window=41),
        jobs.CachePaths("/c", "/c/f"),
        1,
        2,
        "lin",
        True,
    )
    assert other.options["window"] == 41 and "reference" not in other.options
    assert jobs.fill_key("k", job) != jobs.fill_key("k", other)
