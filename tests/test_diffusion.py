"""The ``diffusers`` backend with a tiny random inpainting pipeline saved to disk and loaded back through
aifx's own loader, the way a user's local model folder is."""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")

from tiny_models import cached_build  # noqa: E402

from aifx_core.backends import create_backend, create_spatial  # noqa: E402
from aifx_core.composite import composite  # noqa: E402
from aifx_core.errors import InputError  # noqa: E402
from aifx_core.inpaint import BackendContext  # noqa: E402
from aifx_core.inpaint.crop import plan_crop  # noqa: E402
from aifx_core.inpaint.diffusion import native_size  # noqa: E402
from aifx_core.inpaint.models import (  # noqa: E402
    PipelineRequest,
    cached_pipeline_count,
    load_pipeline,
    loaded_models,
    locate_model,
)
from aifx_core.mask import feather_weight  # noqa: E402
from aifx_core.sequence.image import Image  # noqa: E402

pytestmark = pytest.mark.diffusers


@pytest.fixture(scope="session")
def tiny_inpaint(tmp_path_factory):
    return cached_build("inpaint", tmp_path_factory.getbasetemp())


def _context(model, seed=7, colorspace="sRGB", **options):
    return BackendContext(
        colorspace=colorspace, seed=seed, device="cpu", options={"model": str(model), "steps": 2, **options}
    )


def _plate(height=72, width=110, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack(
        [0.5 + 0.3 * np.sin(xx / 6), 0.5 + 0.3 * np.cos(yy / 5), 0.4 + 0.1 * rng.random((height, width))], -1
    )
    hole = np.zeros((height, width), bool)
    hole[30:42, 50:66] = True
    return rgb.astype(np.float32), hole


def _outside_window(hole, size):
    window = plan_crop(hole, size)
    outside = np.ones(hole.shape, bool)
    outside[window.plate_box()] = False
    return outside


def test_folder_loads_through_our_loader_and_fills_one_native_size_crop(tiny_inpaint):
    backend = create_spatial("diffusers", _context(tiny_inpaint))
    assert type(backend.pipe).__name__ == "StableDiffusionInpaintPipeline"
    assert backend.model_size == 64 and backend.multiple == 8  # tiny UNet: 32 latent × VAE factor 2
    rgb, hole = _plate()
    out = backend.inpaint(rgb, hole, frame=1)
    assert out.dtype == np.float32 and out.shape == rgb.shape and np.isfinite(out).all()
    outside = _outside_window(hole, 64)
    assert outside.sum() == rgb.shape[0] * rgb.shape[1] - 64 * 64
    assert np.array_equal(out[outside], rgb[outside])
    assert np.abs(out[hole] - rgb[hole]).mean() > 0.02  # the hole was generated, not copied


def test_flux_fill_pipeline_loads_as_is_and_gets_only_the_arguments_it_takes(tmp_path_factory):
    model = cached_build("flux-fill", tmp_path_factory.getbasetemp())
    backend = create_spatial(
        "diffusers", _context(model, size=40, negative_prompt="blur", guidance=3.0, prompt="grass")
    )
    assert type(backend.pipe).__name__ == "FluxFillPipeline"  # not the auto class's FluxInpaintPipeline
    assert backend.multiple == 16 and backend.model_size == 32  # 40 rounded down to a multiple of 16
    assert native_size(backend.pipe) == 128  # default_sample_size x VAE factor (1 for this tiny VAE)
    arguments = backend.call_arguments(np.zeros((32, 32, 3), np.float32), np.zeros((32, 32), bool), 1.0)
    assert "negative_prompt" not in arguments and arguments["guidance_scale"] == 3.0
    rgb, hole = _plate(50, 70)
    hole[:] = False
    hole[20:30, 30:40] = True
    out = backend.inpaint(rgb, hole)
    outside = _outside_window(hole, 32)
    assert np.array_equal(out[outside], rgb[outside]) and np.isfinite(out).all()
    assert np.abs(out[hole] - rgb[hole]).mean() > 0.02


def test_same_seed_same_pixels_other_seed_other_pixels(tiny_inpaint):
    rgb, hole = _plate()
    first = create_spatial("diffusers", _context(tiny_inpaint, seed=11)).inpaint(rgb, hole)
    again = create_spatial("diffusers", _context(tiny_inpaint, seed=11)).inpaint(rgb, hole)
    other = create_spatial("diffusers", _context(tiny_inpaint, seed=12)).inpaint(rgb, hole)
    assert np.array_equal(first, again)
    assert not np.allclose(first[hole], other[hole])


def test_pipeline_is_cached_per_model_device_dtype(tiny_inpaint):
    a = create_spatial("diffusers", _context(tiny_inpaint))
    count = cached_pipeline_count()
    b = create_spatial("diffusers", _context(tiny_inpaint, prompt="other", seed=3))
    assert b.pipe is a.pipe and cached_pipeline_count() == count
    c = load_pipeline(PipelineRequest(model=str(tiny_inpaint), device="cpu", dtype="bfloat16"))
    assert c is not a.pipe and cached_pipeline_count() == count + 1
    assert next(c.unet.parameters()).dtype.is_floating_point and str(
        next(c.unet.parameters()).dtype
    ).endswith("bfloat16")


def test_composite_keeps_everything_outside_the_feathered_mask_bit_exact(tiny_inpaint):
    rgb, hole = _plate()
    plate = Image(
        channels={
            "R": rgb[..., 0].astype(np.float16),
            "G": rgb[..., 1].astype(np.float16),
            "B": rgb[..., 2].astype(np.float16),
            "A": np.ones(hole.shape, np.float16),
        }
    )
    fill = create_spatial("diffusers", _context(tiny_inpaint)).inpaint(plate.rgb(), hole)
    weight = feather_weight(hole, 3)
    out = composite(plate, fill, weight)
    zero = weight == 0
    for name in "RGBA":
        assert out.channels[name].dtype == np.float16
        assert np.array_equal(
            out.channels[name][zero].view(np.uint16), plate.channels[name][zero].view(np.uint16)
        )
    assert not np.array_equal(out.channels["R"][hole], plate.channels["R"][hole])


def test_hdr_plate_through_the_colour_path(tiny_inpaint):
    rgb, hole = _plate()
    rgb = rgb * 6.0  # scene-linear, highlights far above 1
    rgb[0, 0] = [np.nan, np.inf, -2.0]
    backend = create_spatial("diffusers", _context(tiny_inpaint, colorspace="ACEScg"))
    out = backend.inpaint(rgb, hole)
    outside = _outside_window(hole, 64)
    assert np.array_equal(out[outside], rgb[outside], equal_nan=True)
    assert np.nanmax(rgb[outside][np.isfinite(rgb[outside])]) > 1.0
    assert np.isfinite(out[~outside]).all()


class _Recording:
    """The real diffusers backend, remembering what the every-frame mode asked of it."""

    def __init__(self, inner):
        self.inner = inner
        self.calls = []

    def inpaint(self, rgb, hole, *, frame=None, strength=None):
        self.calls.append((frame, rgb.copy(), strength))
        return self.inner.inpaint(rgb, hole, frame=frame, strength=strength)


def test_every_frame_mode_starts_each_frame_from_the_previous_result_warped(tiny_inpaint):
    from aifx_core.generate import EveryFrameDiffusion
    from aifx_core.inpaint import FramePacket
    from aifx_core.progress import Reporter

    base, base_hole = _plate()
    packets = [
        FramePacket(frame=1001 + t, rgb=np.roll(base, 2 * t, axis=1), hole=np.roll(base_hole, 2 * t, axis=1))
        for t in range(3)
    ]
    packets.insert(2, FramePacket(frame=1099, rgb=base, hole=np.zeros_like(base_hole)))
    context = _context(tiny_inpaint, every_frame_strength=0.5)
    assert type(create_backend("diffusers-every-frame", context)).__name__ == "EveryFrameDiffusion"
    spatial = _Recording(create_spatial("diffusers", context))
    backend = EveryFrameDiffusion(context, spatial=spatial)
    assert backend.temporal is True
    results = list(backend.fill(iter(packets), Reporter()))
    assert [f for f, _ in results] == [1001, 1002, 1099, 1003]
    for packet, (_, out) in zip(packets, results, strict=True):
        assert out.shape == packet.rgb.shape and np.isfinite(out).all()
    assert results[2][1] is packets[2].rgb  # empty hole: passed through, and the chain restarts after it
    assert [(frame, strength) for frame, _, strength in spatial.calls] == [
        (1001, None),
        (1002, 0.5),
        (1003, None),
    ]
    # frame 1002 started from frame 1001's result moved 2 px right along the flow
    start = spatial.calls[1][1]
    inner = np.roll(base_hole, 2, axis=1) & np.roll(np.roll(base_hole, 2, axis=1), 3, axis=0)
    expected = np.roll(results[0][1], 2, axis=1)
    assert np.abs(start[inner] - expected[inner]).mean() < 0.02
    assert np.abs(start[inner] - packets[1].rgb[inner]).mean() > 0.05
    with pytest.raises(InputError, match="every_frame_strength"):
        create_backend("diffusers-every-frame", _context(tiny_inpaint, every_frame_strength=1.5))


def test_every_frame_mode_fills_a_real_exr_shot_through_the_pipeline(tiny_inpaint, tmp_path):
    from shot_files import make_shot

    from aifx_core.pipeline import fill

    shot = make_shot(tmp_path / "shot", frames=range(1001, 1004))
    result = fill(
        {
            "input": str(shot / "plate.####.exr"),
            "mask": str(shot / "mask.####.png"),
            "output": str(tmp_path / "out" / "clean.####.exr"),
            "backend": "diffusers-every-frame",
            "options": {"model": str(tiny_inpaint), "steps": 2},
            "seed": 5,
        }
    )
    assert result.written == [1001, 1002, 1003]


def test_every_frame_strength_that_leaves_no_step_is_refused_before_frame_1_is_written(
    tiny_inpaint, tmp_path
):
    from shot_files import make_shot

    from aifx_core.pipeline import fill

    shot = make_shot(tmp_path / "shot", frames=range(1001, 1004))
    out = tmp_path / "out"
    job = {
        "input": str(shot / "plate.####.exr"),
        "mask": str(shot / "mask.####.png"),
        "output": str(out / "clean.####.exr"),
        "backend": "diffusers-every-frame",
        "options": {"model": str(tiny_inpaint), "steps": 2, "every_frame_strength": 0.4},
    }
    with pytest.raises(
        InputError, match=r"option every_frame_strength 0.4 with steps 2 leaves no denoising step"
    ):
        fill(job)
    assert not list(out.glob("clean.*.exr"))  # was: frame 1001 written, then refused at 1002 as --strength


def test_scheduler_option_swaps_the_scheduler_and_rejects_unknown_names(tiny_inpaint):
    rgb, hole = _plate()
    default = create_spatial("diffusers", _context(tiny_inpaint))
    euler = create_spatial("diffusers", _context(tiny_inpaint, scheduler="EulerDiscreteScheduler"))
    assert type(euler.scheduler).__name__ == "EulerDiscreteScheduler"
    out_euler = euler.inpaint(rgb, hole)
    out_default = default.inpaint(rgb, hole)
    assert type(default.pipe.scheduler).__name__ == "DDIMScheduler"  # put back for the default backend
    assert not np.allclose(out_euler[hole], out_default[hole])
    with pytest.raises(InputError, match="EulerDiscreteScheduler"):
        create_spatial("diffusers", _context(tiny_inpaint, scheduler="EulerDiscreteSchedular"))


def test_a_scheduler_of_another_family_is_refused_before_the_model_loads(tiny_inpaint):
    from aifx_core.inpaint.diffusion import make_scheduler
    from aifx_core.inpaint.models import clear_cache

    clear_cache()
    with pytest.raises(InputError, match=r"does not work with this model \(it ships DDIMScheduler\)"):
        create_spatial("diffusers", _context(tiny_inpaint, scheduler="FlowMatchEulerDiscreteScheduler"))
    with pytest.raises(InputError, match="use one of DDIMScheduler, DDPMScheduler"):
        create_spatial("diffusers", _context(tiny_inpaint, scheduler="DDPMWuerstchenScheduler"))
    assert cached_pipeline_count() == 0  # read from model_index.json: nothing was loaded
    # A single checkpoint file's scheduler is known once loaded: the same check runs then (storyboards too).
    pipe = create_spatial("diffusers", _context(tiny_inpaint)).pipe
    with pytest.raises(InputError, match="does not work with this model"):
        make_scheduler(pipe, "FlowMatchEulerDiscreteScheduler")


def test_flux_takes_only_flow_matching_schedulers(tmp_path_factory):
    model = cached_build("flux-fill", tmp_path_factory.getbasetemp())
    for name in ("EulerDiscreteScheduler", "DDIMScheduler"):
        with pytest.raises(InputError, match="use one of FlowMatchEulerDiscreteScheduler, or leave"):
            create_spatial("diffusers", _context(model, scheduler=name))


def test_a_masked_video_model_is_sent_to_video_diffusion_before_it_loads(tmp_path_factory):
    pytest.importorskip("ftfy")  # the Wan tokenizer's text cleaning
    vace = cached_build("wan-vace", tmp_path_factory.getbasetemp())
    before = cached_pipeline_count()
    for backend in ("diffusers", "diffusers-every-frame"):
        with pytest.raises(
            InputError, match="is a WanVACEPipeline, a masked video model; run it with --backend video"
        ):
            create_backend(backend, _context(vace))
    assert cached_pipeline_count() == before


def test_bad_options_are_input_errors(tiny_inpaint):
    with pytest.raises(InputError, match="strength"):
        create_spatial("diffusers", _context(tiny_inpaint, strength=0.0))
    with pytest.raises(InputError, match="no denoising step"):
        create_spatial("diffusers", _context(tiny_inpaint, strength=0.2))  # 2 steps × 0.2 = 0
    with pytest.raises(InputError, match="steps"):
        create_spatial("diffusers", _context(tiny_inpaint, steps="many"))
    with pytest.raises(InputError, match="offload"):
        create_spatial("diffusers", _context(tiny_inpaint, offload="disk"))
    with pytest.raises(InputError, match="no model given"):
        create_spatial("diffusers", BackendContext(device="cpu", options={}))


def test_model_locations(tmp_path, tiny_inpaint):
    assert locate_model(str(tiny_inpaint)).kind == "folder"
    assert locate_model("stable-diffusion-v1-5/stable-diffusion-inpainting").kind == "hub"
    with pytest.raises(InputError, match="no such model"):
        locate_model(str(tmp_path / "missing" / "model.safetensors"))
    with pytest.raises(InputError, match="model_index.json"):
        locate_model(str(tmp_path))
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="not a .safetensors checkpoint"):  # (its header read before loading)
        create_spatial("diffusers", _context(junk, local_files_only=True))


def test_hub_id_missing_from_the_cache_offline_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    with pytest.raises(InputError) as caught:
        create_spatial("diffusers", _context("aifx-tests/not-a-cached-model"))
    message = str(caught.value)
    assert "aifx-tests/not-a-cached-model" in message
    assert "hf download aifx-tests/not-a-cached-model" in message
    assert "\n" not in message


def test_a_mistyped_local_model_folder_is_not_looked_up_on_the_hub(tiny_inpaint, tmp_path, monkeypatch):
    """``--model models/inpaint-typo`` beside a ``models/`` folder was taken for a hub id: some 25 s of retries
    without a network, then advice to `hf download models/inpaint-typo`, never that the folder does not exist.
    A hub id whose first part names no folder here says it is no local folder either."""
    import shutil

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    (tmp_path / "models").mkdir()
    with pytest.raises(InputError) as caught:
        create_spatial("diffusers", _context("models/inpaint-typo"))
    assert str(caught.value) == "models/inpaint-typo: no such model folder (models/ exists); check the path"
    with pytest.raises(InputError) as caught:
        create_spatial("diffusers", _context("acme/inpaint"))
    expected = (
        "model 'acme/inpaint' is not in the Hugging Face cache and downloads are off (HF_HUB_OFFLINE=1 or "
        "local_files_only), and there is no local folder of that name either; download it first with "
        "`hf download acme/inpaint`"
    )
    assert str(caught.value).startswith(expected)
    # A hub id in the cache is the hub's, even where a folder here is named like its organisation.
    repo = tmp_path / "hub" / "models--models--tiny"
    shutil.copytree(tiny_inpaint, repo / "snapshots" / ("c" * 40))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("c" * 40)
    assert locate_model("models/tiny").kind == "hub"


def test_a_single_checkpoint_offline_without_config_says_to_pass_config(tmp_path, monkeypatch):
    import torch
    from safetensors.torch import save_file

    checkpoint = tmp_path / "my-inpaint.safetensors"
    save_file({"w": torch.zeros(3)}, str(checkpoint))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(  # (checked before loading: the hub model whose configs it takes, named)
        InputError, match=r"takes its configs from the hub model .*v1-5.* --option config=/path/to/folder"
    ):
        create_spatial("diffusers", _context(checkpoint))


def _checkpoint_offline(tiny_inpaint, tmp_path, config: str):
    """``aifx fill`` of a one-frame shot in ``tmp_path`` with a single UNet checkpoint as the model, downloads off,
    and ``config`` as its config (the process, finished)."""
    import shutil

    from cli_runner import aifx
    from shot_files import make_shot

    (tmp_path / "bad").mkdir()
    shutil.copy(
        tiny_inpaint / "unet" / "diffusion_pytorch_model.safetensors",
        tmp_path / "bad" / "unet-only.safetensors",
    )
    make_shot(tmp_path / "shot", frames=range(1001, 1002))
    args = ["shot/plate.####.exr", "-m", "shot/mask.####.png", "-o", "out/c.####.exr", "-b", "diffusers"]
    args += ["--model", "bad/unet-only.safetensors", "--steps", "1", "--device", "cpu"]
    offline = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    return aifx("fill", *args, "--option", f"config={config}", cwd=tmp_path, env=offline)


def test_a_mistyped_config_folder_is_named_before_the_checkpoint_loads(tiny_inpaint, tmp_path):
    """``--option config=models/tiny-inpaintt`` (one letter too many) beside ``models/`` was taken for a hub
    id, and the failure was blamed on the checkpoint ("could not load it as a StableDiffusionInpaintPipeline
    ...; check the model"). ``config`` gets ``--model``'s check now, before loading: one line naming it."""
    import shutil

    shutil.copytree(tiny_inpaint, tmp_path / "models" / "tiny-inpaint")
    done = _checkpoint_offline(tiny_inpaint, tmp_path, "models/tiny-inpaintt")
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "aifx: error: config models/tiny-inpaintt: no such model folder (models/ exists); check the path"
    )
    assert not list(tmp_path.glob("out/c.*.exr"))
    # A path naming nothing, a folder that is no diffusers model, or a checkpoint file, is no config either.
    with pytest.raises(InputError) as caught:
        create_spatial("diffusers", _context(tmp_path / "bad" / "unet-only.safetensors", config="./cfg"))
    assert str(caught.value) == (
        "config ./cfg: no such model file or folder; check the path, or give a Hugging Face hub id"
    )
    with pytest.raises(InputError) as caught:
        create_spatial(
            "diffusers", _context(tmp_path / "bad" / "unet-only.safetensors", config=str(tmp_path))
        )
    assert str(caught.value) == (
        f"config {tmp_path}: not a diffusers model folder (no model_index.json); pass the folder written by "
        "save_pretrained or `hf download --local-dir`"
    )
    checkpoint = tmp_path / "bad" / "unet-only.safetensors"
    with pytest.raises(InputError) as caught:
        create_spatial("diffusers", _context(checkpoint, config=str(checkpoint)))
    assert str(caught.value) == (
        f"config {checkpoint}: a checkpoint file; config takes the folder (or hub id) of a diffusers model of the "
        "same architecture"
    )


def test_local_files_only_option_is_offline_too(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(InputError, match="not in the Hugging Face cache"):
        create_spatial("diffusers", _context("aifx-tests/not-a-cached-model", local_files_only=True))


def test_backend_diffusers_on_a_sequence_generates_keyframes_only_through_propagate(
    tiny_inpaint, tmp_path, monkeypatch
):
    import cv2
    from shot_files import make_shot, read_exr

    from aifx_core.inpaint.diffusion import DiffusersBackend
    from aifx_core.mask import make_hole
    from aifx_core.pipeline import fill

    calls = []
    generate = DiffusersBackend.generate

    def counting(self, model_rgb, model_hole, strength=None, frame=None):
        calls.append(model_rgb.shape)
        return generate(self, model_rgb, model_hole, strength, frame)

    monkeypatch.setattr(DiffusersBackend, "generate", counting)
    shot = make_shot(tmp_path / "shot", frames=range(1001, 1005))
    result = fill(
        {
            "input": str(shot / "plate.####.exr"),
            "mask": str(shot / "mask.####.png"),
            "output": str(tmp_path / "out" / "clean.####.exr"),
            "backend": "diffusers",
            "options": {"model": str(tiny_inpaint), "steps": 2},
            "dilate": 2,
            "feather": 2,
        }
    )
    assert result.written == [1001, 1002, 1003, 1004]
    assert 1 <= len(calls) < 4 and calls[0] == (64, 64, 3)  # keyframes, not every frame
    for frame in result.written:
        _, before = read_exr(shot / f"plate.{frame:04d}.exr")
        _, after = read_exr(tmp_path / "out" / f"clean.{frame:04d}.exr")
        matte = cv2.imread(str(shot / f"mask.{frame:04d}.png"), cv2.IMREAD_GRAYSCALE) / 255.0
        far = ~make_hole(matte, 0.5, dilate=2 + 2 + 1)
        for name in before:
            assert np.array_equal(after[name][far].view(np.uint8), before[name][far].view(np.uint8)), name
        assert not np.array_equal(after["R"][~far], before["R"][~far])


def test_a_hub_config_not_in_the_cache_offline_is_named_not_blamed_on_the_checkpoint(tiny_inpaint, tmp_path):
    """``--option config=acme/sd-config`` (a hub id this machine never downloaded) with downloads off passed the
    config check and failed in the checkpoint's load: "bad/unet-only.safetensors: could not load it as a
    StableDiffusionInpaintPipeline (...); check the model", the checkpoint blamed. The config is named now,
    before anything loads, as an uncached hub model is."""

    done = _checkpoint_offline(tiny_inpaint, tmp_path, "acme/sd-config")
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "aifx: error: config 'acme/sd-config' is not in the Hugging Face cache and downloads are off "
        "(HF_HUB_OFFLINE=1 or local_files_only), and there is no local folder of that name either; download it "
        "first with `hf download acme/sd-config`, or point config at a local diffusers folder of the same "
        "architecture"
    )
    assert not list(tmp_path.glob("out/c.*.exr"))


def test_hub_id_found_in_the_hf_cache_loads_offline(tiny_inpaint, tmp_path, monkeypatch):
    """A snapshot in the hub cache layout (refs/main → snapshots/<commit>/) is found by its id, offline."""
    import shutil
    import warnings

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache = tmp_path / "hub"
    repo = cache / "models--aifx-tests--tiny-inpaint"
    commit = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(tiny_inpaint, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        backend = create_spatial("diffusers", _context("aifx-tests/tiny-inpaint", cache_dir=str(cache)))
    assert type(backend.pipe).__name__ == "StableDiffusionInpaintPipeline"
    # diffusers passes huggingface_hub a deprecated argument on every hub read: not the artist's to fix
    assert not [w for w in caught if "local_dir_use_symlinks" in str(w.message)]
    rgb, hole = _plate()
    local = create_spatial("diffusers", _context(tiny_inpaint)).inpaint(rgb, hole)
    assert np.array_equal(backend.inpaint(rgb, hole), local)  # same weights, same seed, same pixels
    with pytest.raises(InputError, match="not in the Hugging Face cache"):
        create_spatial("diffusers", _context("aifx-tests/tiny-inpaint", cache_dir=str(tmp_path / "empty")))


def test_cli_and_saved_job_run_diffusers_on_a_sequence(tiny_inpaint, tmp_path):
    """What an artist types: `aifx fill --backend diffusers --model PATH --prompt ...`, then the saved job."""
    import json
    import subprocess
    import sys

    from shot_files import make_shot

    shot = make_shot(tmp_path / "shot", frames=range(1001, 1004))
    out = tmp_path / "out" / "fx.####.exr"
    args = [
        sys.executable,
        "-m",
        "aifx_core",
        "fill",
        str(shot / "plate.####.exr"),
        "-m",
        str(shot / "mask.####.png"),
    ]
    args += [
        "-o",
        str(out),
        "--backend",
        "diffusers",
        "--model",
        str(tiny_inpaint),
        "--prompt",
        "crumbling concrete",
    ]
    args += ["--steps", "2", "--json-progress", "--save-job", str(tmp_path / "job.json")]
    done = subprocess.run(
        args, capture_output=True, text=True, timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"}
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["written"] == [1001, 1002, 1003]
    job = json.loads((tmp_path / "job.json").read_text())
    assert job["backend"] == "diffusers" and job["options"]["prompt"] == "crumbling concrete"
    rerun = subprocess.run(
        [
            sys.executable,
            "-m",
            "aifx_core",
            "run",
            str(tmp_path / "job.json"),
            "--overwrite",
            "--json-progress",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout.splitlines()[-1])["written"] == [1001, 1002, 1003]


def test_a_model_that_paints_white_gives_diffuse_white_unless_the_context_has_highlights(tmp_path_factory):
    white = cached_build("inpaint-white", tmp_path_factory.getbasetemp())
    backend = create_spatial("diffusers", _context(white, colorspace="ACEScg"))
    rgb, hole = _plate()  # scene-linear values up to 0.8, no highlights
    out = backend.inpaint(rgb, hole)
    assert out[hole].min() >= 0.99 and out[hole].max() <= 1.0 + 1e-5  # was up to 256 (LINEAR_LIMIT)
    assert np.array_equal(out[_outside_window(hole, 64)], rgb[_outside_window(hole, 64)])
    rgb[26:29, 50:66] = 12.0  # a highlight just above the hole: a fill may be that bright
    out = backend.inpaint(rgb, hole)
    assert 11.0 < out[hole].max() <= 12.0 + 1e-4


class _OutOfMemory:
    """The loaded pipeline on a GPU that is full (this machine has none to fill): every call raises what torch
    raises then."""

    def __init__(self, pipe):
        self.pipe = pipe

    def __getattr__(self, name):
        return getattr(self.pipe, name)

    def __call__(self, **kwargs):
        import torch

        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 5.00 GiB")


def test_out_of_gpu_memory_is_one_line_saying_what_would_make_it_fit(tiny_inpaint):
    backend = create_spatial("diffusers", _context(tiny_inpaint))
    backend.pipe = _OutOfMemory(backend.pipe)
    rgb, hole = _plate()
    with pytest.raises(InputError) as error:
        backend.inpaint(rgb, hole)
    message = str(error.value)
    assert "out of GPU memory generating a 64x64 fill with" in message and str(tiny_inpaint) in message
    for fix in ("offload=model", "vae_tiling=true", "dtype=float16", "size=48"):
        assert fix in message


def test_a_model_that_returns_nan_is_refused_naming_the_frame_not_filled_black(tmp_path_factory):
    """An fp16 VAE that overflows returns NaN; clipped and converted it became a black fill, exit 0, which the
    temporal engine then carried into the frames around its keyframe."""
    model = cached_build("inpaint-nan", tmp_path_factory.getbasetemp())
    backend = create_spatial("diffusers", _context(model))
    rgb, hole = _plate()
    with pytest.raises(InputError) as error:
        backend.inpaint(rgb, hole, frame=1012)
    message = str(error.value)
    assert message.startswith(f"frame 1012: {model} produced NaN")
    assert "half-precision overflow?" in message and "--option dtype=float32" in message


@pytest.mark.parametrize(
    "named, message",
    [
        (
            "StableDiffusionPipeline",
            "StableDiffusionPipeline cannot inpaint (it takes no mask); name an inpainting",
        ),
        ("WanPipeline", "WanPipeline is a video pipeline; --backend diffusers fills images"),
    ],
)
def test_a_pipeline_class_that_cannot_inpaint_is_refused_before_it_loads(tiny_inpaint, named, message):
    """StableDiffusionPipeline ran and dropped the image and mask (the hole filled from text alone) or failed
    on the inpainting UNet; WanPipeline failed inside the loader."""
    before = cached_pipeline_count()
    with pytest.raises(InputError) as error:
        create_spatial("diffusers", _context(tiny_inpaint, pipeline_class=named))
    assert str(error.value).startswith(f"{tiny_inpaint}: {message}")
    assert cached_pipeline_count() == before
    if named == "WanPipeline":
        assert "pipeline_class" not in str(error.value)


def test_a_scheduler_whose_package_is_missing_says_which_package(tiny_inpaint):
    """diffusers exports a placeholder for LMSDiscreteScheduler without scipy (DPMSolverSDEScheduler without
    torchsde); it was called 'not a diffusers scheduler; did you mean LMSDiscreteScheduler'."""
    import importlib.util

    needs = {"LMSDiscreteScheduler": "scipy", "DPMSolverSDEScheduler": "torchsde"}
    missing = {name: package for name, package in needs.items() if importlib.util.find_spec(package) is None}
    if not missing:
        pytest.skip("scipy and torchsde are both installed here")
    for name, package in missing.items():
        with pytest.raises(InputError) as error:
            create_spatial("diffusers", _context(tiny_inpaint, scheduler=name))
        message = str(error.value)
        assert message.startswith(f"scheduler {name!r} needs the Python package {package}, which is not")
        assert f"pip install {package}" in message and "did you mean" not in message
        assert "EulerDiscreteScheduler" in message.split("another scheduler")[1]
        assert name not in message.split("another scheduler")[1]  # only schedulers that run here


def test_a_model_whose_scheduler_class_this_diffusers_lacks_loads_with_another(tiny_inpaint, tmp_path):
    """A model naming a scheduler class of a newer diffusers could not be loaded even with --scheduler, and the
    advice pointed to pipeline_class. --scheduler now loads it with that scheduler, configured from the
    model's scheduler_config.json; without it the error says what the model needs and what to do."""
    import json
    import shutil

    import diffusers

    def renamed(name, component, new):
        folder = tmp_path / name
        shutil.copytree(tiny_inpaint, folder)
        index = json.loads((folder / "model_index.json").read_text())
        old = index[component][1]
        index[component][1] = new
        (folder / "model_index.json").write_text(json.dumps(index))
        config = next((folder / component).glob("*config.json"))
        config.write_text(config.read_text().replace(f'"{old}"', f'"{new}"'))
        return folder

    model = renamed("badsched", "scheduler", "FancyNewScheduler")
    with pytest.raises(InputError) as caught:
        create_spatial("diffusers", _context(model))
    assert str(caught.value) == (
        f"{model}: this model's scheduler FancyNewScheduler needs a newer diffusers (have "
        f"{diffusers.__version__}); upgrade diffusers in aifx's environment, or pick one with --scheduler"
    )
    backend = create_spatial("diffusers", _context(model, scheduler="EulerDiscreteScheduler"))
    assert type(backend.pipe.scheduler).__name__ == "EulerDiscreteScheduler"
    made = json.loads((model / "scheduler" / "scheduler_config.json").read_text())
    assert backend.pipe.scheduler.config.num_train_timesteps == made["num_train_timesteps"]
    rgb, hole = _plate()
    assert np.isfinite(backend.inpaint(rgb, hole, frame=1)).all()
    # Another component of a newer diffusers: the loader's words, not the pipeline_class advice.
    unet = renamed("badunet", "unet", "FancyNewUNetModel")
    with pytest.raises(InputError) as caught:
        create_spatial("diffusers", _context(unet))
    assert str(caught.value).startswith(
        f"{unet}: this model's component FancyNewUNetModel needs a newer diffusers (have {diffusers.__version__}); "
        "upgrade diffusers"
    )


def test_a_model_folder_replaced_on_disk_is_loaded_again(tiny_inpaint, tmp_path_factory, tmp_path):
    """A long-lived process (aifx serve, a Python session) kept filling with the old model after the folder
    was replaced with another one: the cache was keyed on the path alone."""
    import shutil

    white = cached_build("inpaint-white", tmp_path_factory.getbasetemp())
    model = tmp_path / "model"
    shutil.copytree(tiny_inpaint, model)
    request = PipelineRequest(model=str(model), device="cpu")
    first = load_pipeline(request)
    assert load_pipeline(request) is first  # unchanged: loaded once
    shutil.rmtree(model)
    shutil.copytree(white, model)
    second = load_pipeline(request)
    assert second is not first
    assert float(second.vae.decoder.conv_out.bias.detach().min()) == 4.0  # the white model's weights
    assert sum(m["model"] == str(model.resolve()) for m in loaded_models()) == 1  # the old one was let go


def test_a_hub_id_whose_cache_moved_to_a_new_revision_is_loaded_again(
    tiny_inpaint, tmp_path_factory, tmp_path
):
    """In one long-lived process (aifx serve), after `hf download` moved a hub id's refs/main to a new snapshot,
    fills kept the old revision: the cache key held the id only. The snapshot is in the key now, and in the
    model fingerprint the manifest keeps with each frame."""
    import shutil

    from aifx_core.inpaint.models import model_fingerprint

    white = cached_build("inpaint-white", tmp_path_factory.getbasetemp())
    repo = tmp_path / "hub" / "models--aifx-tests--tiny-inpaint"

    def publish(commit, folder):
        shutil.copytree(folder, repo / "snapshots" / commit)
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / "main").write_text(commit)

    options = {"model": "aifx-tests/tiny-inpaint", "cache_dir": str(tmp_path / "hub")}
    assert model_fingerprint(options) is None  # not cached: nothing to compare
    publish("a" * 40, tiny_inpaint)
    request = PipelineRequest(
        model=options["model"], device="cpu", local_files_only=True, cache_dir=options["cache_dir"]
    )
    first = load_pipeline(request)
    assert load_pipeline(request) is first
    before = model_fingerprint(options)
    publish("b" * 40, white)
    second = load_pipeline(request)
    assert second is not first
    assert float(second.vae.decoder.conv_out.bias.detach().min()) == 4.0  # the new revision's weights
    assert model_fingerprint(options) not in (None, before)


def test_a_hub_id_that_fails_for_want_of_a_network_is_not_blamed_on_the_id():
    """diffusers words a refused connection as 'does not appear to have a file named model_index.json', which
    sent the artist to check a correct id. The chain below is the one diffusers and huggingface_hub raise with
    the hub unreachable (seen with HF_ENDPOINT on a closed port; the real call retries for about 30 s)."""
    from huggingface_hub.utils import LocalEntryNotFoundError

    from aifx_core.inpaint.models import _hub_error

    def raised() -> OSError:
        try:
            try:
                try:
                    raise ConnectionRefusedError(111, "Connection refused")
                except ConnectionRefusedError as refused:
                    raise LocalEntryNotFoundError("cannot reach the hub and not in the cache") from refused
            except LocalEntryNotFoundError as missing:
                raise OSError("org/model does not appear to have a file named model_index.json.") from missing
        except OSError as error:
            return error
        raise AssertionError

    message = str(_hub_error("org/model", raised(), is_offline=False))
    assert message.startswith(
        "model 'org/model' is not in the Hugging Face cache and the hub could not be reached"
    )
    assert "check the id" not in message and "hf download org/model" in message
    wrong_id = str(_hub_error("org/model", OSError("org/model is not a valid model identifier"), False))
    assert "check the id" in wrong_id


def test_a_job_reads_model_index_json_once(tiny_inpaint, monkeypatch):
    """The class check, the scheduler check and the loader each read model_index.json (with a hub id and
    downloads allowed, each a round trip to the hub, every job of ``aifx serve``): now one read per job, the
    pipeline cached or not. Counted through diffusers' own reader, which still reads."""
    from diffusers import DiffusionPipeline

    read = DiffusionPipeline.load_config.__func__
    reads: list[str] = []

    def counting(cls, location, *args, **kwargs):
        reads.append(str(location))
        return read(cls, location, *args, **kwargs)

    create_spatial("diffusers", _context(tiny_inpaint, scheduler="EulerDiscreteScheduler"))  # now cached
    monkeypatch.setattr(DiffusionPipeline, "load_config", classmethod(counting))
    backend = create_spatial("diffusers", _context(tiny_inpaint, scheduler="EulerDiscreteScheduler"))
    assert type(backend.scheduler).__name__ == "EulerDiscreteScheduler"
    assert reads == [str(tiny_inpaint.resolve())]


def _full_device_pipeline(fits_after: int | None):
    """A real StableDiffusionInpaintPipeline on a device too full to take it (this machine has no GPU to
    fill): its ``.to`` raises torch's own OutOfMemoryError, what ``pipe.to('cuda')`` raises on a full card,
    until ``fits_after`` other models have been freed (None: never). A test double of a full GPU, registered in
    diffusers' namespace so the loader's ``pipeline_class`` option reaches it like any diffusers class."""
    import diffusers
    import torch

    class FullDeviceInpaintPipeline(diffusers.StableDiffusionInpaintPipeline):
        def to(self, *args, **kwargs):
            if fits_after is None or cached_pipeline_count() > fits_after:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 50.00 MiB.")
            return super().to(*args, **kwargs)

    return FullDeviceInpaintPipeline


def test_out_of_memory_while_loading_a_model_is_one_line_saying_what_would_make_it_fit(
    tiny_inpaint, monkeypatch
):
    """pipe.to(device) ran outside the loader's error handling: a model too big for the GPU was an 'internal
    error' with a traceback (exit 1)."""
    from aifx_core.inpaint.models import clear_cache

    clear_cache()
    monkeypatch.setattr("diffusers.FullDeviceInpaintPipeline", _full_device_pipeline(None), raising=False)
    with pytest.raises(InputError) as error:
        create_spatial("diffusers", _context(tiny_inpaint, pipeline_class="FullDeviceInpaintPipeline"))
    assert str(error.value) == (
        f"out of GPU memory loading {tiny_inpaint.resolve()} (FullDeviceInpaintPipeline, float32) onto cpu; "
        "make it fit with --option offload=model, --option dtype=float16 (bfloat16 for Flux) or a smaller model"
    )
    assert cached_pipeline_count() == 0


def test_out_of_memory_while_loading_frees_the_other_cached_models_and_tries_again(tiny_inpaint, monkeypatch):
    """A long-lived process (aifx serve) that holds the last job's model makes room for the next one."""
    from aifx_core.inpaint.models import clear_cache

    clear_cache()
    load_pipeline(PipelineRequest(model=str(tiny_inpaint), device="cpu"))
    assert cached_pipeline_count() == 1
    monkeypatch.setattr("diffusers.FullDeviceInpaintPipeline", _full_device_pipeline(0), raising=False)
    backend = create_spatial("diffusers", _context(tiny_inpaint, pipeline_class="FullDeviceInpaintPipeline"))
    assert type(backend.pipe).__name__ == "FullDeviceInpaintPipeline" and cached_pipeline_count() == 1
    rgb, hole = _plate()
    assert np.isfinite(backend.inpaint(rgb, hole)).all()
    clear_cache()


def test_fills_at_once_in_one_process_take_turns_on_their_shared_model(tiny_inpaint):
    """Two fills at once in one Python process (threads) share one cached pipeline. Each swapped its scheduler
    in and called it unguarded: one died ("EulerDiscreteScheduler.step() got an unexpected keyword argument
    'eta'") and the other's pixels silently differed from a lone run's. Cold, both loaded the model at once and
    one failed ("Unsupported device type 'meta'"), blaming a good model."""
    import threading

    from aifx_core.inpaint.models import clear_cache

    rgb, hole = _plate()
    settings = {"a": {"scheduler": "EulerDiscreteScheduler"}, "b": {}}
    alone = {
        name: create_spatial("diffusers", _context(tiny_inpaint, **extra)).inpaint(rgb, hole)
        for name, extra in settings.items()
    }
    clear_cache()  # cold: both threads ask for the model at once
    start = threading.Barrier(2)
    results: dict[str, list] = {"a": [], "b": []}

    def run(name: str) -> None:
        try:
            start.wait()
            backend = create_spatial("diffusers", _context(tiny_inpaint, **settings[name]))
            for _ in range(3):
                results[name].append(backend.inpaint(rgb, hole))
        except Exception as exc:  # kept for the assertion below: a thread's exception is lost otherwise
            results[name].append(exc)

    threads = [threading.Thread(target=run, args=(name,)) for name in settings]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for name, made in results.items():
        assert len(made) == 3 and all(isinstance(out, np.ndarray) for out in made), made
        assert all(np.array_equal(out, alone[name]) for out in made), name
    assert cached_pipeline_count() == 1


def test_a_folder_with_only_variant_weights_asks_for_the_variant(tiny_inpaint, tmp_path):
    """Without --option variant, a folder holding only fp16 weights (how many hub models are downloaded) was
    "could not load it as a StableDiffusionInpaintPipeline (Error no file named diffusion_pytorch_model.bin
    found in directory .../vae.)", which does not say what to do."""
    import shutil

    model = tmp_path / "inpaint-fp16"
    shutil.copytree(tiny_inpaint, model)
    for weights in model.glob("*/*.safetensors"):
        weights.rename(weights.with_name(weights.name.replace(".safetensors", ".fp16.safetensors")))
    with pytest.raises(InputError) as error:
        load_pipeline(PipelineRequest(model=str(model), device="cpu"))
    assert str(error.value) == (
        f"{model}: the folder holds only fp16 weights (no plain ones); add --option variant=fp16"
    )
    assert load_pipeline(PipelineRequest(model=str(model), device="cpu", variant="fp16")) is not None


def test_a_variant_the_folder_has_no_weights_of_says_to_leave_it_out(tiny_inpaint, tmp_path):
    """--option variant=fp16 on a folder with plain weights only said "could not load it as a
    StableDiffusionInpaintPipeline (... no such modeling files are available); check the model, or name the
    class with --option pipeline_class=...", which does not help."""
    import shutil

    with pytest.raises(InputError) as error:
        load_pipeline(PipelineRequest(model=str(tiny_inpaint), device="cpu", variant="fp16"))
    assert str(error.value) == f"{tiny_inpaint}: the folder has no fp16 weights; leave out --option variant"
    model = tmp_path / "inpaint-bf16"
    shutil.copytree(tiny_inpaint, model)
    for weights in model.glob("*/*.safetensors"):
        weights.rename(weights.with_name(weights.name.replace(".safetensors", ".bf16.safetensors")))
    with pytest.raises(InputError) as error:
        load_pipeline(PipelineRequest(model=str(model), device="cpu", variant="fp16"))
    assert (
        str(error.value) == f"{model}: the folder has no fp16 weights (only bf16); use --option variant=bf16"
    )


def test_a_model_folder_missing_a_component_is_one_line_naming_it_before_loading(tiny_inpaint, tmp_path):
    """A model folder copied without its tokenizer/ (or with an empty one, an interrupted download) loaded
    without a word, transformers building an empty CLIPTokenizer, and the first frame crashed inside the
    pipeline: OverflowError, "internal error", exit 1. A missing vae/ was "no file named config.json found in
    directory .../no-vae". Each is one line naming the component's folder now, exit 2, nothing written."""
    import shutil

    from cli_runner import aifx
    from shot_files import make_shot

    make_shot(tmp_path / "shot", frames=range(1001, 1002))
    for name, damage in (
        ("no-tokenizer", lambda m: shutil.rmtree(m / "tokenizer")),
        ("empty-tokenizer", lambda m: [f.unlink() for f in (m / "tokenizer").iterdir()]),
        ("no-vocab", lambda m: (m / "tokenizer" / "tokenizer.json").unlink()),
        ("no-vae", lambda m: shutil.rmtree(m / "vae")),
    ):
        model = tmp_path / name
        shutil.copytree(tiny_inpaint, model)
        damage(model)
        args = ["shot/plate.####.exr", "-m", "shot/mask.####.png", "-o", f"out-{name}/c.####.exr"]
        args += ["-b", "diffusers", "--model", name, "--steps", "1", "--device", "cpu"]
        done = aifx("fill", *args, cwd=tmp_path)
        assert done.returncode == 2, (name, done.stderr)
        last = done.stderr.strip().splitlines()[-1]
        assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
        folder = "vae" if name == "no-vae" else "tokenizer"
        assert last.startswith(f"aifx: error: {model.resolve() / folder}/: "), last
        what = "AutoencoderKL" if folder == "vae" else "CLIPTokenizer"
        assert f"model_index.json names {'an' if folder == 'vae' else 'a'} {what} there" in last, last
        assert not list(tmp_path.glob(f"out-{name}/*"))


def test_a_cached_hub_snapshot_missing_a_component_with_downloads_on_says_it_is_incomplete(
    tiny_inpaint, tmp_path, monkeypatch
):
    """With downloads allowed (HF_HUB_OFFLINE unset) and the hub out of reach, huggingface_hub loads the snapshot
    in the cache as it is: one without tokenizer/ loaded without a word (an empty CLIPTokenizer of 2 entries)
    and the first frame crashed, where the same snapshot offline was refused naming the component. The snapshot
    loading will read is checked now, downloads on or off. (HF_ENDPOINT points at a closed local port: the hub
    cannot be reached, and nothing is ever downloaded.)"""
    import shutil

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    cache = tmp_path / "hub"
    repo = cache / "models--aifx-tests--tiny-inpaint"
    shutil.copytree(tiny_inpaint, repo / "snapshots" / ("c" * 40))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("c" * 40)
    shutil.rmtree(repo / "snapshots" / ("c" * 40) / "tokenizer")
    with pytest.raises(InputError) as caught:
        create_spatial("diffusers", _context("aifx-tests/tiny-inpaint", cache_dir=str(cache)))
    message = str(caught.value)
    assert message.startswith(
        "model 'aifx-tests/tiny-inpaint' is incomplete in the Hugging Face cache: its tokenizer/ (CLIPTokenizer) "
        "is missing"
    ), message
    assert "hf download aifx-tests/tiny-inpaint" in message and "allow downloads" not in message, message


def test_a_single_checkpoints_config_missing_a_component_is_named_before_loading(tiny_inpaint, tmp_path):
    """A single checkpoint takes its components' configs (and its tokenizer's vocabulary) from ``config``: a
    config folder copied without tokenizer/ was never checked (only a model folder and a cached hub id were),
    and the failure came from inside the load. It is one line naming the component, before loading."""
    import shutil

    config = tmp_path / "sd-config"
    shutil.copytree(tiny_inpaint, config)
    shutil.rmtree(config / "tokenizer")
    checkpoint = tmp_path / "unet-only.safetensors"
    shutil.copy(tiny_inpaint / "unet" / "diffusion_pytorch_model.safetensors", checkpoint)
    with pytest.raises(InputError) as caught:
        create_spatial("diffusers", _context(checkpoint, config=str(config)))
    assert str(caught.value).startswith(
        f"config {config / 'tokenizer'}/: missing, but model_index.json names a CLIPTokenizer there"
    ), str(caught.value)


def test_a_cached_hub_snapshot_missing_a_component_offline_says_it_is_incomplete(
    tiny_inpaint, tmp_path, monkeypatch
):
    """A hub snapshot in the cache without tokenizer/ loaded under HF_HUB_OFFLINE=1 and crashed at the first
    frame; without vae/ it was called "not in the Hugging Face cache", which it is. Both say the cached copy is
    incomplete now, naming the component."""
    import shutil

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for folder in ("tokenizer", "vae"):
        cache = tmp_path / f"hub-{folder}"
        repo = cache / "models--aifx-tests--tiny-inpaint"
        shutil.copytree(tiny_inpaint, repo / "snapshots" / ("c" * 40))
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text("c" * 40)
        shutil.rmtree(repo / "snapshots" / ("c" * 40) / folder)
        with pytest.raises(InputError) as caught:
            create_spatial("diffusers", _context("aifx-tests/tiny-inpaint", cache_dir=str(cache)))
        message = str(caught.value)
        assert message.startswith(
            f"model 'aifx-tests/tiny-inpaint' is incomplete in the Hugging Face cache: its {folder}/ "
        ), message
        assert "hf download aifx-tests/tiny-inpaint" in message and "\n" not in message


def _fake_hub(monkeypatch, tiny_inpaint, cache, keep) -> list[list[str]]:
    """A hub repo ``aifx-tests/tiny-inpaint`` holding the tiny model's files plus an fp16 copy of each weight
    (as many hub models do), with ``keep`` of them already in the ``cache`` folder; diffusers' hub calls are
    replaced, so nothing goes over the network. Returns the list each ``snapshot_download`` appends the files
    it would have fetched to (those not cached): no call, or an empty list per call, means nothing was
    downloaded."""
    import fnmatch
    import shutil
    import types
    from pathlib import Path

    import diffusers.pipelines.pipeline_utils as hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    plain = sorted(str(p.relative_to(tiny_inpaint)) for p in tiny_inpaint.rglob("*") if p.is_file())
    files = plain + [
        f.replace(".safetensors", ".fp16.safetensors") for f in plain if f.endswith(".safetensors")
    ]
    snapshot = cache / "models--aifx-tests--tiny-inpaint" / "snapshots" / ("c" * 40)
    for name in (f for f in files if keep(f)):
        (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(tiny_inpaint / name.replace(".fp16.", "."), snapshot / name)
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("c" * 40)
    fetched: list[list[str]] = []

    def snapshot_download(repo, allow_patterns=None, ignore_patterns=None, local_files_only=False, **_):
        wanted = [
            f
            for f in files
            if (allow_patterns is None or any(fnmatch.fnmatch(f, p) for p in allow_patterns))
            and not any(fnmatch.fnmatch(f, p) for p in ignore_patterns or [])
        ]
        fetched.append([] if local_files_only else [f for f in wanted if not (snapshot / f).is_file()])
        for name in fetched[-1]:  # (downloaded into the cache, as the hub would)
            (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(tiny_inpaint / name.replace(".fp16.", "."), snapshot / name)
        return str(snapshot)

    def hf_hub_download(repo, name, local_files_only=False, **_):
        if local_files_only and not (snapshot / name).is_file():
            raise LocalEntryNotFoundError(name)
        return str(snapshot / name)

    monkeypatch.setattr(hub, "snapshot_download", snapshot_download)
    monkeypatch.setattr(hub, "hf_hub_download", hf_hub_download)
    listing = types.SimpleNamespace(siblings=[types.SimpleNamespace(rfilename=f) for f in files])
    monkeypatch.setattr(hub, "model_info", lambda *a, **k: listing)
    monkeypatch.setattr(
        hub, "get_cached_repo_tree", lambda *a, **k: [types.SimpleNamespace(path=f) for f in files]
    )
    monkeypatch.setattr(hub, "_resolve_revision", lambda *a, **k: None)
    assert Path(snapshot).is_dir()
    return fetched


def _fp16_only(name: str) -> bool:
    """Whether a repo file is in a snapshot cached by an ``--option variant=fp16`` load: fp16 weights, no others."""
    return ".fp16." in name or not name.endswith(".safetensors")


def test_the_component_check_downloads_nothing_the_load_would_not(tiny_inpaint, tmp_path, monkeypatch):
    """With downloads on, the component check fetched the hub snapshot itself before loading, without the
    load's options: with --option variant=fp16 and the fp16 snapshot cached it fetched every plain (fp32)
    weight first, gigabytes the load never reads; for a single checkpoint whose --option config is a hub id it
    fetched the config repo's weights, where from_single_file fetches its configs only. The check reads only
    what the cache holds now: the fp16 load fetches nothing, and nor does the config's check; a cached fp16
    snapshot without tokenizer/ has the load fetch that alone, and loads (it is not refused for it)."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # (a closed local port: were anything to slip by)
    cache = tmp_path / "fp16"
    fetched = _fake_hub(monkeypatch, tiny_inpaint, cache, _fp16_only)
    assert create_spatial(
        "diffusers", _context("aifx-tests/tiny-inpaint", cache_dir=str(cache), variant="fp16")
    )
    assert not any(fetched), fetched  # (a snapshot diffusers finds complete is not asked for at all)

    # The same cached without tokenizer/ (an interrupted download): the load fetches it, and only it.
    cache = tmp_path / "fp16-partial"
    fetched = _fake_hub(
        monkeypatch, tiny_inpaint, cache, lambda f: _fp16_only(f) and not f.startswith("tokenizer/")
    )
    assert create_spatial(
        "diffusers", _context("aifx-tests/tiny-inpaint", cache_dir=str(cache), variant="fp16")
    )
    assert [f for files in fetched for f in files if f.endswith(".safetensors")] == [], fetched
    assert any(f.startswith("tokenizer/") for files in fetched for f in files), fetched

    from aifx_core.inpaint.models import ModelIndex, check_components

    cache = tmp_path / "configs"
    fetched = _fake_hub(monkeypatch, tiny_inpaint, cache, lambda f: not f.endswith(".safetensors"))
    checkpoint = tmp_path / "unet-only.safetensors"
    checkpoint.write_bytes((tiny_inpaint / "unet" / "diffusion_pytorch_model.safetensors").read_bytes())
    request = PipelineRequest(model=str(checkpoint), config="aifx-tests/tiny-inpaint", cache_dir=str(cache))
    check_components(ModelIndex(request))  # (from_single_file fetches through another module: checked alone)
    assert not any(fetched), fetched


def _ldm_inpainting_checkpoint(path, cut=0):
    """A single checkpoint file in the original (LDM) layout whose first convolution takes 9 channels, which
    diffusers reads as a Stable Diffusion 1.x inpainting model (its configs: the hub's
    stable-diffusion-v1-5/stable-diffusion-inpainting); ``cut``: bytes cut off its end (an interrupted copy)."""
    import torch
    from safetensors.torch import save_file

    tensors = {"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(8, 9, 3, 3)}
    save_file(tensors, str(path))
    if cut:
        path.write_bytes(path.read_bytes()[:-cut])
    return path


def test_a_single_checkpoint_without_config_is_checked_before_loading(tiny_inpaint, tmp_path):
    """A single checkpoint without ``config`` was not checked before loading (a folder is, component by
    component): its configs come from a hub model diffusers picks from its weights, and, downloads off, that
    model missing from the cache was "needs the configs of its model (StableDiffusionInpaintPipeline)" without
    naming it, a copy of it without ``tokenizer/`` was a failure inside the load, and a checkpoint cut short
    by an interrupted copy "could not load it" (each after reading the whole file). Each is one line now,
    before loading, naming what is missing and how to get it; exit 2, nothing written."""
    import shutil

    from cli_runner import aifx
    from shot_files import make_shot

    make_shot(tmp_path / "shot", frames=range(1001, 1002))
    cache = tmp_path / "hf" / "hub"
    env = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "HF_HUB_CACHE": str(cache)}
    args = [
        "fill",
        "shot/plate.####.exr",
        "-m",
        "shot/mask.####.png",
        "-o",
        "out/c.####.exr",
        "-b",
        "diffusers",
    ]
    args += ["--steps", "1", "--device", "cpu", "--model"]
    repo = "stable-diffusion-v1-5/stable-diffusion-inpainting"

    def refused(checkpoint, *words):
        done = aifx(*args, str(checkpoint), cwd=tmp_path, env=env)
        assert done.returncode == 2, done.stderr
        line = done.stderr.strip().splitlines()[-1]
        assert line.startswith(f"aifx: error: {checkpoint}: ") and "Traceback" not in done.stderr, done.stderr
        for word in words:
            assert word in line, line
        assert not (tmp_path / "out").exists()

    checkpoint = _ldm_inpainting_checkpoint(tmp_path / "my-inpaint.safetensors")
    refused(
        checkpoint,
        f"takes its configs from the hub model '{repo}' (diffusers reads its weights as the 'inpainting' type), "
        "which is not in the Hugging Face cache and downloads are off",
        f"hf download {repo} --include '*.json' '*.txt' '*.model'",
        "--option config=/path/to/folder",
    )
    snapshot = cache / f"models--{repo.replace('/', '--')}" / "snapshots" / ("c" * 40)
    shutil.copytree(tiny_inpaint, snapshot, ignore=shutil.ignore_patterns("tokenizer"))
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("c" * 40)
    refused(checkpoint, f"whose tokenizer/ (CLIPTokenizer) is missing in {snapshot}", f"hf download {repo}")
    cut = _ldm_inpainting_checkpoint(tmp_path / "cut.safetensors", cut=100)
    refused(cut, f"truncated: its header names {cut.stat().st_size + 100} bytes, the file holds", "copy or")
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"<html>404</html>")
    refused(junk, "not a PyTorch checkpoint (neither a zip nor a pickle)")
