"""The diffusers model loader's options are declared once (``LoaderOptions``): the diffusers backend's options,
the loader request and the video backend all take them from there, so their defaults cannot drift apart."""

from __future__ import annotations

from dataclasses import fields

import pytest

from aifx_core.backends import check_options, describe_backends
from aifx_core.errors import InputError
from aifx_core.inpaint.diffusion import DiffusersOptions
from aifx_core.inpaint.models import LOADER_OPTIONS, LoaderOptions, PipelineRequest
from aifx_core.options import changes_pixels, defaults


def _specs(cls):
    return {spec.name: spec for spec in fields(cls)}


def test_the_diffusers_backend_takes_the_loader_options_as_declared():
    loader, diffusers = _specs(LoaderOptions), _specs(DiffusersOptions)
    assert issubclass(DiffusersOptions, LoaderOptions)
    assert set(LOADER_OPTIONS) == set(loader) and set(loader) <= set(diffusers)
    for name in LOADER_OPTIONS:  # a field re-declared in DiffusersOptions with another default fails here
        assert defaults(DiffusersOptions)[name] == defaults(LoaderOptions)[name], name
        assert changes_pixels(diffusers[name]) == changes_pixels(loader[name]), name
        assert str(diffusers[name].type) == str(loader[name].type), name


def test_the_load_request_has_the_same_defaults(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    request = _specs(PipelineRequest)
    # (scheduler: the diffusers backend's own option, loaded in place of a model's only where diffusers lacks its)
    assert set(request) - {"model", "kind", "device", "scheduler"} == set(LOADER_OPTIONS)
    assert request["scheduler"].default is None
    for name in LOADER_OPTIONS:
        assert request[name].default == defaults(LoaderOptions)[name], name
    assert PipelineRequest.from_options({}, "cpu") == PipelineRequest(model="", device="cpu")
    assert PipelineRequest.from_options({"model": "m", "prompt": "x", "dtype": None}, "cpu").dtype == "auto"


def test_the_load_request_reads_every_loader_option(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    given = {
        "dtype": "float16",
        "variant": "fp16",
        "offload": "MODEL",
        "vae_tiling": "on",
        "vae_slicing": True,
        "local_files_only": True,
        "cache_dir": "/cache",
        "pipeline_class": "StableDiffusionInpaintPipeline",
        "config": "/cfg",
    }
    request = PipelineRequest.from_options({"model": "m", **given}, "cpu", kind="video")
    got = {name: getattr(request, name) for name in LOADER_OPTIONS}
    assert got == {**given, "offload": "model", "vae_tiling": True}
    with pytest.raises(InputError, match="offload 'bogus': expected one of none, model, sequential"):
        PipelineRequest.from_options({"offload": "bogus"}, "cpu")


def test_video_diffusion_checks_the_loader_options_before_anything_loads():
    check_options("video-diffusion", {"model": "m", "offload": "model", "dtype": "bf16"})
    with pytest.raises(InputError, match="offload 'bogus'"):
        check_options("video-diffusion", {"model": "m", "offload": "bogus"})
    with pytest.raises(InputError, match="vae_tiling"):
        check_options("video-diffusion", {"model": "m", "vae_tiling": "maybe"})


def test_aifx_backends_still_documents_the_loader_options_of_diffusers():
    rows = {r["name"]: r for b in describe_backends() if b["name"] == "diffusers" for r in b["options"]}
    assert rows["offload"]["doc"].startswith("CPU offload") and rows["offload"]["pixels"] is False
    assert rows["model"]["doc"].startswith("Model: hub id") and rows["dtype"]["default"] == "auto"
