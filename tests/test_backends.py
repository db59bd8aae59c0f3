"""The backend registry: built-ins, the routing rule, and a third-party backend found through its entry point."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from shot_files import make_shot, read_exr

from aifx_core import InputError
from aifx_core.backends import available_backends, create_backend, get, route
from aifx_core.inpaint import BackendContext, PerFrame

REPO = Path(__file__).resolve().parents[1]


def test_builtin_backends_are_listed_without_importing_torch():
    code = (
        "import sys\n"
        "from aifx_core.backends import available_backends\n"
        "print(','.join(available_backends()))\n"
        "print('torch' in sys.modules, 'aifx_core.propagate' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    names, loaded = done.stdout.splitlines()
    assert {"propagate", "telea", "lama", "diffusers", "diffusers-every-frame"} <= set(names.split(","))
    assert loaded == "False False"


def test_routing_rule_runs_generative_backends_under_the_engine_on_a_sequence():
    assert route("diffusers", {"prompt": "wall"}, 10) == (
        "propagate",
        {"prompt": "wall", "spatial_backend": "diffusers"},
    )
    assert route("lama", {"spatial_backend": "telea"}, 10) == ("propagate", {"spatial_backend": "telea"})
    assert route("diffusers", {}, 1) == ("diffusers", {})  # a still
    assert route("diffusers", {"per_frame": True}, 10) == ("diffusers", {"per_frame": True})
    assert route("telea", {}, 10) == ("telea", {})  # model-free: per frame as asked


def test_generative_says_what_invents_and_the_keyframe_route_is_its_own_flag():
    """`aifx backends --json` marked video-diffusion and diffusers-every-frame "generative": false, though they
    invent content (a model): the flag meant "routed under propagate on a sequence". "generative" says what
    invents now, and "keyframes_on_sequences" the routing; route() and the text listing read that one."""
    import json

    done = subprocess.run(
        [sys.executable, "-m", "aifx_core", "backends", "--json"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    flags = {
        b["name"]: (b["generative"], b["keyframes_on_sequences"]) for b in json.loads(done.stdout)["backends"]
    }
    assert flags["video-diffusion"] == flags["diffusers-every-frame"] == (True, False)
    assert flags["lama"] == flags["diffusers"] == (True, True)
    assert flags["telea"] == flags["propagate"] == (False, False)
    assert route("video-diffusion", {}, 10) == ("video-diffusion", {})
    assert route("diffusers-every-frame", {}, 10) == ("diffusers-every-frame", {})
    # A plugin's generative spatial backend is routed as before; one may say it is not.
    from aifx_core.backends import SPATIAL, Backend

    assert Backend("mine", SPATIAL, "m:f", generative=True).keyframes_on_sequences is True
    assert Backend("mine", SPATIAL, "m:f", generative=True, keyframes_on_sequences=False).generative
    text = subprocess.run(
        [sys.executable, "-m", "aifx_core", "backends"], capture_output=True, text=True, timeout=120
    ).stdout
    listing = text.split("\n\n")
    video = next(block for block in listing if block.startswith("video-diffusion "))
    assert video.startswith("video-diffusion (fill, generative):") and "under propagate" not in video
    lama = next(block for block in listing if block.startswith("lama "))
    assert lama.startswith("lama (spatial, generative):") and "on a sequence it runs under propagate" in lama


def test_per_frame_given_as_text_is_read_as_the_bool_it_says():
    """``"per_frame": "false"`` in a job (or ``--option per_frame=banana``) was read by truthiness: the keyframe
    route was turned off without a word, the output that of ``per_frame=true``. It is read with the words every
    other bool option takes, a value that is none of them is refused naming it, and the resume key holds the
    bool (a JSON bool keys as before)."""
    from aifx_core import FillJob
    from aifx_core.backends import check_options, pixel_options

    for word in ("false", "no", "off", "0", " False "):
        assert route("lama", {"per_frame": word}, 10) == (
            "propagate",
            {"per_frame": False, "spatial_backend": "lama"},
        )
    assert route("lama", {"per_frame": "on"}, 10) == ("lama", {"per_frame": True})
    assert route("lama", {"per_frame": 1}, 10) == (
        "lama",
        {"per_frame": True},
    )  # --option per_frame=1 (JSON 1)
    assert route("lama", {"per_frame": 0}, 10)[0] == "propagate"
    for value in ("banana", 2, None, []):
        with pytest.raises(InputError, match=r"^lama option per_frame=.*: expected true or false$"):
            check_options("lama", {"per_frame": value})
    check_options("lama", {"per_frame": "off"})

    def key(value):
        job = FillJob(input="a.####.exr", output="b.####.exr", backend="lama", options={"per_frame": value})
        return job.resume_key(pixel_options(job.backend, job.options))

    assert key("false") == key(False) != key("true") == key(True)
    assert pixel_options("lama", {"per_frame": True}) == {"per_frame": True}  # keys of outputs made before


def test_unknown_backend_names_the_known_ones():
    with pytest.raises(InputError, match="unknown backend 'telia'.*telea"):
        get("telia")
    with pytest.raises(InputError, match="not a spatial backend"):
        from aifx_core.backends import create_spatial

        create_spatial("propagate", BackendContext())


def test_spatial_backends_run_per_frame_and_the_engine_gets_the_registry_factory():
    assert isinstance(create_backend("telea", BackendContext()), PerFrame)
    engine = create_backend("propagate", BackendContext(options={"spatial_backend": "telea"}))
    assert type(engine.spatial).__name__ == "TeleaBackend"


PLUGIN_MODULE = '''
"""A flat grey fill, shipped by a third party."""

import numpy as np


class FlatGrey:
    """Fills the hole with 0.25 grey (a test plugin)."""

    name = "flat-grey"

    def __init__(self, context):
        self.context = context

    def inpaint(self, rgb, hole, *, frame=None):
        out = rgb.copy()
        out[hole] = np.float32(0.25)
        return out


class Nameless:
    """A spatial backend as the docs describe it: a class with inpaint(), no name of its own."""

    def __init__(self, context):
        pass

    def inpaint(self, rgb, hole, *, frame=None):
        out = rgb.copy()
        out[hole] = np.float32(0.5)
        return out


class EveryOther:
    """A whole-shot backend that (wrongly) yields every other frame only."""

    def __init__(self, context):
        pass

    def fill(self, packets, reporter):
        for i, packet in enumerate(packets):
            if i % 2 == 0:
                yield packet.frame, packet.rgb


class Renumbers:
    """A whole-shot backend that (wrongly) yields frame numbers it was not given."""

    def __init__(self, context):
        pass

    def fill(self, packets, reporter):
        for packet in packets:
            yield packet.frame + 1000, packet.rgb
'''


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory) -> Path:
    """A tiny plugin package, installed with pip into a folder of its own (never into the shared venv)."""
    root = tmp_path_factory.mktemp("plugin")
    source = root / "src"
    (source / "aifx_flat").mkdir(parents=True)
    (source / "aifx_flat" / "__init__.py").write_text(textwrap.dedent(PLUGIN_MODULE))
    (source / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [build-system]
            requires = ["setuptools>=61"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "aifx-flat"
            version = "0.1"

            [project.entry-points."aifx.backends"]
            flat-grey = "aifx_flat:FlatGrey"
            nameless = "aifx_flat:Nameless"
            every-other = "aifx_flat:EveryOther"
            renumbers = "aifx_flat:Renumbers"
            broken = "aifx_flat_missing:Nothing"
            """
        )
    )
    target = root / "site"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--quiet",
            "--target",
            str(target),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return target


def _env(plugin: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin), str(REPO / "src")])}


def test_a_plugin_backend_fills_a_shot(plugin_path, tmp_path):
    shot = make_shot(tmp_path / "shot", range(1, 4))
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "aifx_core",
            "fill",
            str(shot / "plate.####.exr"),
            "-m",
            str(shot / "mask.####.png"),
        ]
        + ["-o", str(out / "c.####.exr"), "-b", "flat-grey", "--feather", "0"],
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(plugin_path),
    )
    assert done.returncode == 0, done.stderr
    _, plate = read_exr(shot / "plate.0002.exr")
    _, filled = read_exr(out / "c.0002.exr")
    inside = filled["R"] == np.float16(0.25)
    assert inside.sum() >= 100  # the dilated hole is grey
    same = (filled["G"] == plate["G"]) | (np.isnan(filled["G"]) & np.isnan(plate["G"]))
    assert same[~inside].all()  # nothing else changed


def test_plugins_as_documented_run_and_a_plugin_that_drops_or_renumbers_frames_is_named(
    plugin_path, tmp_path
):
    """A spatial class without a ``name`` runs as ``-b`` (the entry point names it); a whole-shot plugin that
    skips frames or returns frames it was not given fails naming them (it once ended with exit 0, frames
    missing), and the frames it did return are written."""
    shot = make_shot(tmp_path / "shot", range(1, 5))

    def fill(backend: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "aifx_core", "fill", str(shot / "plate.####.exr"), "-m"]
            + [str(shot / "mask.####.png"), "-o", str(tmp_path / backend / "c.####.exr"), "-b", backend],
            capture_output=True,
            text=True,
            timeout=300,
            env=_env(plugin_path),
        )

    done = fill("nameless")
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "nameless").glob("c.*.exr"))) == 4
    done = fill("every-other")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert (
        "backend 'every-other' stopped without returning frame(s) 2,4; the 2 frame(s) it returned are written"
        in done.stderr
    ), done.stderr
    assert sorted(p.name for p in (tmp_path / "every-other").glob("c.*.exr")) == ["c.0001.exr", "c.0003.exr"]
    done = fill("renumbers")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "backend 'renumbers' returned frame 1001, which it was not given (it was given 1-4)" in done.stderr


def test_a_broken_plugin_is_named_only_when_asked_for(plugin_path, tmp_path):
    code = (
        "from aifx_core.backends import available_backends, get\n"
        "print('flat-grey' in available_backends(), 'broken' in available_backends())\n"
        "try:\n"
        "    get('broken')\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=_env(plugin_path)
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "True False"
    assert lines[1].startswith("InputError backend 'broken' from aifx-flat failed to load")
    assert "aifx_flat_missing" in done.stderr  # one warning line at discovery
    assert available_backends()  # this process (no plugin on its path) is unaffected


# -- options: declared once, checked first ----------------------------------------------------------------------


def test_an_unknown_option_names_the_known_ones():
    from aifx_core.backends import check_options

    with pytest.raises(InputError, match=r"unknown option\(s\) radus .*known options: .*radius"):
        check_options("propagate", {"radus": 3})
    with pytest.raises(InputError, match="telea_radius"):
        check_options("telea", {"steps": 3})  # steps is a diffusers option, not telea's
    check_options(
        "propagate", {"spatial_backend": "diffusers", "prompt": "wall", "steps": 4}
    )  # hosted spatial
    check_options("diffusers", {"prompt": "wall", "radius": 4})  # on a sequence it runs under propagate
    from aifx_core.flow import DISFlow

    check_options(
        "propagate", {"flow_estimator": DISFlow("fast"), "per_frame": False}
    )  # Python-only, general


@pytest.mark.parametrize(
    "backend, options, fragment",
    [
        ("diffusers", {"steps": 0}, "steps=0"),
        ("diffusers", {"steps": "many"}, "steps='many'"),
        ("diffusers", {"strength": 0.2, "steps": 2}, "no denoising step"),
        ("diffusers", {"offload": "disk"}, "offload"),
        ("diffusers-every-frame", {"every_frame_strength": 1.5}, "every_frame_strength"),
        ("lama", {"size": 4}, "size=4"),
        ("telea", {"telea_radius": -1}, "telea_radius"),
        ("propagate", {"radius": 0}, "radius"),
        ("propagate", {"radius": 2.5}, "radius=2.5: expected a whole number"),
        ("propagate", {"window": True}, "window=True: expected a whole number"),
        ("propagate", {"consistency_tol": float("nan")}, "consistency_tol=nan: expected a number"),
        ("propagate", {"ring_low": "low"}, "ring_low='low': expected a number"),
        ("propagate", {"seen_plate": "maybe"}, "seen_plate='maybe': give true or false"),
        ("propagate", {"exposure_match": "sometimes"}, "exposure_match='sometimes'"),
        ("propagate", {"spatial_backend": "nope"}, "unknown backend 'nope'"),
        ("propagate", {"seam_ring": -1}, "seam_ring=-1: give a width from 0 to 64 pixels"),
        ("propagate", {"seam_ring": 10**6}, "seam_ring=1000000: give a width from 0 to 64 pixels"),
        ("propagate", {"fallback_soften": -1}, "fallback_soften=-1: give 0 or more pixels"),
        ("propagate", {"spatial_backend": []}, "spatial_backend=[]: expected a name"),
        ("propagate", {"flow_preset": {}}, "flow_preset={}: expected a name"),
        ("propagate", {"seam": 3}, "seam=3: expected a name"),
        # options typed ``X | None`` check the value as an X (they once let anything through)
        ("diffusers", {"guidance": "abc"}, "guidance='abc': expected a number"),
        ("diffusers", {"guidance": float("nan")}, "guidance=nan: expected a number"),
        ("diffusers", {"guidance": float("inf")}, "guidance=inf: expected a number"),
        ("diffusers", {"guidance": -3}, "diffusers option guidance=-3.0: expected a number, 0 or more"),
        ("diffusers", {"scheduler": 5}, "scheduler=5: expected a string"),
        ("diffusers", {"negative_prompt": {"a": 1}}, "negative_prompt={'a': 1}: expected a string"),
        ("diffusers", {"size": "big"}, "size='big': expected a whole number"),
        ("diffusers", {"margin": [1]}, "margin=[1]: expected a whole number"),
        ("lama", {"model": 5}, "model=5: expected a string"),
        ("video-diffusion", {"model": "m", "guidance": float("nan")}, "guidance=nan: expected a number"),
        ("video-diffusion", {"model": "m", "negative_prompt": {}}, "negative_prompt={}: expected a string"),
    ],
)
def test_bad_values_fail_before_anything_loads(backend, options, fragment):
    from aifx_core.backends import check_options

    with pytest.raises(InputError) as info:
        check_options(backend, options)
    assert fragment in str(info.value)


def test_numpy_numbers_are_taken_as_the_numbers_they_are():
    """``telea_radius=np.float32(3)`` was refused as "expected a number" (and ``size=np.int64(512)`` as "expected
    a whole number"), naming a number. Taken as Python numbers now; a NumPy bool is still no number."""
    from aifx_core.backends import check_options
    from aifx_core.inpaint.lama import LamaOptions
    from aifx_core.inpaint.telea import TeleaOptions

    radius = TeleaOptions.from_dict({"telea_radius": np.float32(3)}).telea_radius
    size = LamaOptions.from_dict({"size": np.int64(512)}).size
    assert (radius, type(radius), size, type(size)) == (3.0, float, 512, int)
    check_options("propagate", {"fallback_high": np.float32(0.7), "radius": np.int64(8), "telea_radius": 3})
    with pytest.raises(InputError, match="size=.*True_?: expected a whole number"):
        LamaOptions.from_dict({"size": np.bool_(True)})
    with pytest.raises(InputError, match="expected a whole number"):
        check_options("propagate", {"radius": np.bool_(True)})


def test_the_cli_refuses_a_bad_option_before_reading_a_frame_or_loading_a_model(tmp_path):
    """The plate and the model do not exist: the error is still about the option, so nothing was opened."""
    for extra, fragment in (
        (["-b", "diffusers", "--model", str(tmp_path / "no-model"), "--steps", "0"], "steps=0"),
        (["--option", "radus=3"], "radius"),
        (["--option", "seen_plate=maybe"], "seen_plate"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "aifx_core", "fill", str(tmp_path / "missing.####.exr"), "-o"]
            + [str(tmp_path / "out" / "c.####.exr"), *extra],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 2, done.stderr
        assert fragment in done.stderr and "missing" not in done.stderr, done.stderr
        assert not (tmp_path / "out").exists()


def test_a_python_only_option_given_in_a_job_is_refused_not_ignored(tmp_path):
    """``--option flow_estimator='"raft"'`` (or the same in a job file) was accepted, saved with --save-job and
    ignored: the engine quietly used DIS. A value a job can hold is refused in one line saying what to use; the
    list of known options no longer offers the Python-only name to a job."""
    from aifx_core.backends import check_options

    for value in ("raft", 3, 1.5, True, None, [], {}):
        with pytest.raises(InputError, match=r"^option flow_estimator takes a Python FlowEstimator object "):
            check_options("propagate", {"flow_estimator": value})
    with pytest.raises(InputError, match="in a job use flow_preset"):
        check_options("diffusers", {"prompt": "wall", "flow_estimator": "raft"})  # runs under the engine
    with pytest.raises(InputError) as info:
        check_options("propagate", {"radus": 3})
    assert "flow_estimator" not in str(info.value)
    done = subprocess.run(
        [sys.executable, "-m", "aifx_core", "fill", str(tmp_path / "missing.####.exr"), "-o"]
        + [str(tmp_path / "out" / "c.####.exr"), "--option", 'flow_estimator="raft"'],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "aifx: error: option flow_estimator takes a Python FlowEstimator object (Python API only); "
        "in a job use flow_preset"
    ], done.stderr
    assert not (tmp_path / "out").exists()


def test_a_flow_estimator_that_is_no_estimator_is_refused_not_ignored():
    """The check refused only values a job can hold: a function, a tuple (1, 2), np.float32(1) or object() as
    flow_estimator passed, and the engine quietly fell back to DIS (it takes only a FlowEstimator). Anything but
    an object with an estimate method (the class itself neither) is refused in one line naming the option."""
    from aifx_core.backends import check_options
    from aifx_core.flow import DISFlow

    def flow(a, b):
        return np.zeros((*a.shape, 2), np.float32)

    refused = {flow: "function", (1, 2): "tuple", np.float32(1): "float32", object(): "object"}
    for value, kind in refused.items():
        with pytest.raises(InputError) as info:
            check_options("propagate", {"flow_estimator": value})
        assert str(info.value) == (
            "option flow_estimator takes a FlowEstimator object: one with an estimate(a_gray, b_gray) method, "
            f"such as aifx_core.flow.DISFlow('fast'); it was given a value of type {kind}"
        )
    with pytest.raises(InputError, match=r"it was given the class DISFlow, not one made of it$"):
        check_options("diffusers", {"prompt": "wall", "flow_estimator": DISFlow})  # runs under the engine
    check_options("propagate", {"flow_estimator": DISFlow("fast")})


def test_resume_key_asks_the_backend_which_options_change_pixels():
    from aifx_core import FillJob
    from aifx_core.backends import pixel_options

    def key(backend="propagate", **options):
        job = FillJob(input="a.####.exr", output="b.####.exr", backend=backend, options=options)
        return job.resume_key(pixel_options(job.backend, job.options))

    assert key(window=16) == key()  # the engine says: memory only
    assert key("diffusers", prompt="x", offload="model", cache_dir="/c") == key("diffusers", prompt="x")
    assert key("diffusers", prompt="x") != key("diffusers", prompt="y")
    assert key(radius=6) != key()
    # the video model's window is its temporal context: there it changes pixels, and says so
    assert key("video-diffusion", model="m", window=33) != key("video-diffusion", model="m", window=81)


def test_aifx_backends_lists_backends_options_defaults_and_docs():
    import json

    done = subprocess.run(
        [sys.executable, "-m", "aifx_core", "backends"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "window = 4 [speed/memory only]  Packets are read this many at a time" in done.stdout
    assert "steps = 30  Denoising steps." in done.stdout
    data = json.loads(
        subprocess.run(
            [sys.executable, "-m", "aifx_core", "backends", "--json"],
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
    )
    by_name = {b["name"]: b for b in data["backends"]}
    every_frame = {o["name"]: o for o in by_name["diffusers-every-frame"]["options"]}
    assert every_frame["steps"]["doc"] == "Denoising steps."  # inherited options keep their docs
    assert every_frame["every_frame_strength"]["default"] == 0.5
    for backend in by_name.values():
        for row in backend["options"]:
            assert row["doc"], f"{backend['name']}.{row['name']} has no doc"
    unknown = subprocess.run(
        [sys.executable, "-m", "aifx_core", "backends", "telia"], capture_output=True, text=True, timeout=120
    )
    assert unknown.returncode == 2 and "telea" in unknown.stderr


def test_aifx_backends_lists_a_plugin(plugin_path):
    done = subprocess.run(
        [sys.executable, "-m", "aifx_core", "backends"],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(plugin_path),
    )
    assert done.returncode == 0, done.stderr
    assert (
        "flat-grey (spatial, plugin aifx-flat): Fills the hole with 0.25 grey (a test plugin)." in done.stdout
    )


def test_python_callers_can_still_hand_the_engine_a_flow_estimator_object(tmp_path):
    from aifx_core import FillJob, fill
    from aifx_core.flow import DISFlow

    shot = make_shot(tmp_path / "shot", range(1, 4))

    def job():
        return FillJob(
            input=str(shot / "plate.####.exr"),
            mask=str(shot / "mask.####.png"),
            output=str(tmp_path / "out" / "c.####.exr"),
            options={"flow_estimator": DISFlow("fast")},
        )

    assert fill(job()).written == [1, 2, 3]
    assert fill(job()).skipped == [1, 2, 3]  # keyed by the estimator's type: a rerun resumes
