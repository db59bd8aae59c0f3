"""The ``video-diffusion`` backend: window arithmetic and crop geometry without a model, then a tiny random
``WanVACEPipeline`` saved with ``save_pretrained`` and loaded back through aifx's own loader, as a user's local
model folder is. The weights are random, so the pictures are noise: the plumbing is what is tested."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from aifx_core.errors import Cancelled, InputError
from aifx_core.inpaint.base import BackendContext, FramePacket
from aifx_core.inpaint.video.crop import hole_to_model_size, plan_video_crop
from aifx_core.inpaint.video.options import VideoOptions
from aifx_core.inpaint.video.windows import (
    crossfade_weights,
    model_frame_count,
    plan_windows,
    window_seed,
)
from aifx_core.progress import CancelToken, Reporter

# -- windows -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 80, 81, 82, 500])
def test_windows_cover_the_shot_once_or_twice_with_the_overlap_known(count):
    windows = plan_windows(count, 81, 16)
    covered = np.zeros(count, int)
    for w in windows:
        covered[w.start : w.stop] += 1
        assert 1 <= w.length <= 81
    assert (covered >= 1).all() and (covered <= 2).all()
    assert windows[0].start == 0 and windows[0].known == 0 and windows[-1].stop == count
    for previous, window in zip(windows, windows[1:], strict=False):
        assert window.start == previous.stop - 16 and window.known == 16
        assert window.length > window.known  # every window brings new frames
    expected = {1: 1, 80: 1, 81: 1, 82: 2, 500: 8}[count]
    assert len(windows) == expected


def test_window_and_overlap_must_make_progress():
    with pytest.raises(ValueError):
        plan_windows(10, 8, 8)
    with pytest.raises(ValueError):
        plan_windows(10, 0, 0)
    assert [(w.start, w.stop) for w in plan_windows(10, 4, 0)] == [(0, 4), (4, 8), (8, 10)]


def test_model_frame_counts_are_4k_plus_1():
    assert [model_frame_count(n) for n in (1, 2, 4, 5, 6, 80, 81, 82)] == [1, 5, 5, 5, 9, 81, 81, 85]


def test_crossfade_ramps_from_the_previous_window_to_the_new_one():
    weights = crossfade_weights(16)
    assert weights.shape == (16,) and (np.diff(weights) > 0).all()
    assert 0 < weights[0] < 0.1 and 0.9 < weights[-1] < 1
    assert np.allclose(weights + weights[::-1], 1.0)
    assert crossfade_weights(0).shape == (0,)


def test_window_seeds_are_stable_and_distinct():
    seeds = [window_seed(7, i) for i in range(50)]
    assert len(set(seeds)) == 50 and seeds == [window_seed(7, i) for i in range(50)]
    assert window_seed(8, 0) != window_seed(7, 0) and all(0 <= s < 2**63 for s in seeds)


# -- crop geometry -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, box",
    [((77, 101), (10, 30, 20, 45)), ((240, 432), (0, 60, 0, 90)), ((1080, 1920), (700, 1080, 1500, 1920))],
)
def test_crop_holds_the_holes_inside_the_plate_at_model_multiples(shape, box):
    union = np.zeros(shape, bool)
    y0, y1, x0, x1 = box
    union[y0:y1, x0:x1] = True  # touching the border in the last two cases
    crop = plan_video_crop(union, size=64, multiple=16)
    rows, cols = crop.box()
    assert crop.top >= 0 and crop.top + crop.height <= shape[0]
    assert crop.left >= 0 and crop.left + crop.width <= shape[1]
    assert union[rows, cols].sum() == union.sum()  # every hole pixel is inside the crop
    assert crop.model_height % 16 == 0 and crop.model_width % 16 == 0
    aspect, model_aspect = crop.width / crop.height, crop.model_width / crop.model_height
    assert abs(np.log(aspect / model_aspect)) < np.log(2.0)
    model_hole = hole_to_model_size(union[rows, cols], crop)
    assert model_hole.shape == (crop.model_height, crop.model_width)
    # A hole pixel never disappears when the crop is resized (the model must fill all of it).
    ys, xs = np.nonzero(union[rows, cols])
    my = np.minimum((ys * crop.model_height) // crop.height, crop.model_height - 1)
    mx = np.minimum((xs * crop.model_width) // crop.width, crop.model_width - 1)
    assert model_hole[my, mx].all()


def test_options_are_checked_before_anything_loads():
    with pytest.raises(InputError, match="needs a model"):
        VideoOptions.from_dict({})
    with pytest.raises(InputError, match="overlap=81"):
        VideoOptions.from_dict({"model": "m", "window": 81, "overlap": 81})
    with pytest.raises(InputError, match="known options: .*overlap"):
        VideoOptions.from_dict({"model": "m", "overlapp": 3})
    with pytest.raises(InputError, match="whole number"):
        VideoOptions.from_dict({"model": "m", "window": True})
    with pytest.raises(InputError, match="steps=0"):
        VideoOptions.from_dict({"model": "m", "steps": 0})
    assert VideoOptions.from_dict({"model": "m", "window": "33", "offload": "model"}).window == 33


@pytest.mark.parametrize(
    "name, value",
    [("guidance", -3), ("guidance", "nan"), ("guidance", float("inf")), ("conditioning_scale", "nan")],
)
def test_guidance_and_conditioning_must_be_finite_before_anything_loads(name, value):
    """diffusers checks neither: conditioning_scale=nan gave a black fill with exit 0."""
    with pytest.raises(InputError, match=f"video-diffusion option {name}=.*expected a number"):
        VideoOptions.from_dict({"model": "m", name: value})
    assert VideoOptions.from_dict({"model": "m", "guidance": 0, "conditioning_scale": "0.5"}).guidance == 0


@pytest.mark.parametrize("name", ["guidance", "conditioning_scale"])
def test_options_built_directly_are_refused_not_finite_as_from_a_job(name):
    """check() is the one place finiteness is judged: a Python caller building VideoOptions gets the same refusal."""
    with pytest.raises(InputError, match=f"video-diffusion option {name}=nan: expected a number"):
        VideoOptions(model="m", **{name: float("nan")}).check()


# -- with a tiny random Wan VACE pipeline ----------------------------------------------------------------------

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("ftfy")

from tiny_models import cached_build  # noqa: E402

from aifx_core.backends import create_backend  # noqa: E402
from aifx_core.inpaint.video import VideoDiffusionBackend  # noqa: E402
from aifx_core.inpaint.video.backend import paste_band  # noqa: E402


@pytest.fixture(scope="module")
def tiny_vace(tmp_path_factory):
    return cached_build("wan-vace", tmp_path_factory.getbasetemp())


class Recorder:
    """Calls the real pipeline and keeps what went in and what came out (no mock: the real model runs)."""

    def __init__(self, pipe):
        self.pipe = pipe
        self.calls: list[dict] = []

    def __getattr__(self, name):
        return getattr(self.pipe, name)

    def __call__(self, **kwargs):
        output = self.pipe(**kwargs)
        frames = np.asarray(output.frames)[0].copy()
        self.calls.append(
            {
                "video": kwargs["video"][0].copy(),
                "mask": kwargs["mask"][0].copy(),
                "frames": frames,
                "kwargs": kwargs,
            }
        )
        return output


# The backend passes only the arguments the pipeline's __call__ takes: let it see the real signature.
Recorder.__call__.__wrapped__ = __import__("diffusers").WanVACEPipeline.__call__  # type: ignore[attr-defined]


def _shot(count, height=40, width=56, moving=False):
    rng = np.random.default_rng(1)
    base = rng.random((height, width, 3)).astype(np.float32)
    for t in range(count):
        hole = np.zeros((height, width), bool)
        x = 10 + (2 * t if moving else 0)
        hole[12:26, x : x + 14] = True
        yield FramePacket(frame=1001 + t, rgb=np.roll(base, t, axis=1), hole=hole)


def _backend(model, pipe=None, seed=3, colorspace="sRGB", **options):
    context = BackendContext(
        colorspace=colorspace,
        seed=seed,
        device="cpu",
        options={"model": str(model), "steps": 2, "size": 32, "max_sequence_length": 8, **options},
    )
    return VideoDiffusionBackend(context, pipe=pipe)


def test_the_registry_builds_it_from_a_folder_through_our_loader(tiny_vace):
    context = BackendContext(colorspace="sRGB", seed=0, device="cpu", options={"model": str(tiny_vace)})
    backend = create_backend("video-diffusion", context)
    assert isinstance(backend, VideoDiffusionBackend)
    assert type(backend.pipe).__name__ == "WanVACEPipeline" and backend.size_multiple() == 16


def test_known_frames_are_the_previous_windows_output_and_overlaps_crossfade(tiny_vace):
    loaded = _backend(tiny_vace).pipe
    recorder = Recorder(loaded)
    # margin 9 makes the crop 32x32 = the model size, so no resampling blurs the comparison below
    backend = _backend(tiny_vace, pipe=recorder, window=5, overlap=2, margin=9)
    packets = list(_shot(11))
    results = dict(backend.fill(iter(packets), Reporter()))
    assert sorted(results) == [p.frame for p in packets]
    assert len(recorder.calls) == len(plan_windows(11, 5, 2)) == 3 and backend.max_held <= 5
    for previous, call in zip(recorder.calls, recorder.calls[1:], strict=False):
        assert not call["mask"][:2].any() and call["mask"][2:5].any()  # known frames are not holes
        # Static hole: same crop, so the known frames are exactly the previous output's last two frames
        # (through the plate colourspace and back).
        # Only the band around the holes carries the model's result (elsewhere the plate is the truth).
        band = paste_band(np.logical_or.reduce([p.hole for p in packets])[3:35, 1:33])
        assert band.mean() > 0.5
        np.testing.assert_allclose(call["video"][:2][:, band], previous["frames"][3:5][:, band], atol=2e-3)
    # Every frame is the plate outside the crop: nothing far from the hole changed.
    for packet in packets:
        assert np.array_equal(results[packet.frame][:, 34:], packet.rgb[:, 34:])  # crop: columns 1-33


def test_same_job_same_frames_and_outside_the_crop_untouched(tiny_vace):
    first = dict(_backend(tiny_vace, window=5, overlap=1).fill(_shot(7), Reporter()))
    again = dict(_backend(tiny_vace, window=5, overlap=1).fill(_shot(7), Reporter()))
    other = dict(_backend(tiny_vace, seed=4, window=5, overlap=1).fill(_shot(7), Reporter()))
    assert all(np.array_equal(first[f], again[f]) for f in first)
    assert any(not np.array_equal(first[f], other[f]) for f in first)


def test_cancel_stops_between_windows(tiny_vace):
    token = CancelToken()

    def progress(event):
        if event.stage == "generate" and event.index == 1:
            token.cancel()

    backend = _backend(tiny_vace, window=5, overlap=1)
    emitted = []
    with pytest.raises(Cancelled):
        for frame, _ in backend.fill(_shot(13), Reporter(progress, token)):
            emitted.append(frame)
    # Cancelled while window 1 ran: it finishes, its frames are kept, and window 2 never starts.
    assert emitted == list(range(1001, 1009)) and backend.calls == 2


def test_memory_is_one_window_and_empty_windows_skip_the_model(tiny_vace):
    def shot():
        for packet in _shot(40):
            if packet.frame > 1006:
                packet.hole[:] = False
            yield packet

    backend = _backend(tiny_vace, window=5, overlap=1)
    frames = [frame for frame, _ in backend.fill(shot(), Reporter())]
    assert frames == list(range(1001, 1041)) and backend.max_held == 5
    assert backend.calls == 2  # 1001-1005 and 1005-1009; the rest have no hole


def test_a_moving_hole_is_inside_the_crop_of_every_frame(tiny_vace):
    recorder = Recorder(_backend(tiny_vace).pipe)
    backend = _backend(tiny_vace, pipe=recorder, window=9, overlap=0)
    packets = list(_shot(9, moving=True))
    results = dict(backend.fill(iter(packets), Reporter()))
    mask = recorder.calls[0]["mask"]
    assert mask.shape[0] == 9 and all(mask[j].any() for j in range(9))
    for packet in packets:  # every hole pixel was generated (differs from the greyed plate)
        assert not np.array_equal(results[packet.frame][packet.hole], packet.rgb[packet.hole])


def test_reference_image_goes_to_the_model(tiny_vace, tmp_path):
    import cv2

    reference = tmp_path / "element.png"
    cv2.imwrite(str(reference), np.full((24, 24, 3), (0, 64, 255), np.uint8))
    recorder = Recorder(_backend(tiny_vace).pipe)
    backend = _backend(tiny_vace, pipe=recorder, window=5, overlap=0, reference=str(reference))
    list(backend.fill(_shot(5), Reporter()))
    sent = recorder.calls[0]["kwargs"]["reference_images"][0]
    assert sent.size == (24, 24) and sent.getpixel((3, 3)) == (255, 64, 0)


def test_cli_and_saved_job_fill_a_sequence_bit_exact_outside_the_mask(tiny_vace, tmp_path):
    import cv2

    from aifx_core.sequence import read_image

    rng = np.random.default_rng(0)
    for t in range(6):
        plate = (rng.random((40, 56, 3)) * 255).astype(np.uint8)
        mask = np.zeros((40, 56), np.uint8)
        mask[14:26, 20:34] = 255
        cv2.imwrite(str(tmp_path / f"plate.{1001 + t}.png"), plate)
        cv2.imwrite(str(tmp_path / f"mask.{1001 + t}.png"), mask)
    command = [
        sys.executable,
        "-m",
        "aifx_core",
        "fill",
        str(tmp_path / "plate.####.png"),
        "-m",
        str(tmp_path / "mask.####.png"),
        "-o",
        str(tmp_path / "out" / "fx.####.png"),
        "--backend",
        "video-diffusion",
        "--model",
        str(tiny_vace),
        "--prompt",
        "a fireball",
        "--window",
        "5",
        "--overlap",
        "2",
        "--steps",
        "2",
        "--option",
        "size=32",
        "--device",
        "cpu",
        "--save-job",
        str(tmp_path / "job.json"),
        "--json-progress",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert any(e.get("stage") == "generate" for e in events) and events[-1]["event"] == "done"
    for t in range(6):
        plate = read_image(tmp_path / f"plate.{1001 + t}.png").channels
        out = read_image(tmp_path / "out" / f"fx.{1001 + t}.png").channels
        keep = np.ones((40, 56), bool)
        keep[14 - 4 - 2 : 26 + 4 + 2, 20 - 4 - 2 : 34 + 4 + 2] = False  # dilate 4 + feather 2
        for name in plate:
            assert np.array_equal(plate[name][keep], out[name][keep])
    first = {t: read_image(tmp_path / "out" / f"fx.{1001 + t}.png").channels["R"].copy() for t in range(6)}
    job = json.loads((tmp_path / "job.json").read_text())
    assert job["backend"] == "video-diffusion" and job["options"]["window"] == 5
    job["output"] = str(tmp_path / "again" / "fx.####.png")
    (tmp_path / "job2.json").write_text(json.dumps(job))
    rerun = subprocess.run(
        [sys.executable, "-m", "aifx_core", "run", str(tmp_path / "job2.json")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert rerun.returncode == 0, rerun.stderr
    for t in range(6):
        assert np.array_equal(first[t], read_image(tmp_path / "again" / f"fx.{1001 + t}.png").channels["R"])


def test_out_of_gpu_memory_says_what_would_make_the_window_fit(tiny_vace):
    class OutOfMemory:  # stands in for a GPU that is full: this machine has none to fill
        def __init__(self, pipe):
            self.pipe = pipe

        def __getattr__(self, name):
            return getattr(self.pipe, name)

        def __call__(self, **kwargs):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    OutOfMemory.__call__.__wrapped__ = Recorder.__call__.__wrapped__  # type: ignore[attr-defined]
    backend = _backend(tiny_vace, pipe=OutOfMemory(_backend(tiny_vace).pipe), window=5, overlap=1)
    with pytest.raises(InputError) as error:
        list(backend.fill(_shot(5), Reporter()))
    message = str(error.value)
    assert "out of memory generating 5 frames at" in message and "latent tokens" in message
    for fix in ("window=", "size=", "offload=model", "vae_tiling=true"):
        assert fix in message


# -- requests the model cannot take: a clear error naming the option, never a traceback ------------------------


def _write_shot(folder, count=3):
    import cv2

    rng = np.random.default_rng(0)
    for t in range(count):
        mask = np.zeros((40, 56), np.uint8)
        mask[14:26, 20:34] = 255
        cv2.imwrite(str(folder / f"plate.{1001 + t}.png"), (rng.random((40, 56, 3)) * 255).astype(np.uint8))
        cv2.imwrite(str(folder / f"mask.{1001 + t}.png"), mask)


def test_the_limits_come_from_the_models_config(tiny_vace):
    from aifx_core.inpaint.video.crop import model_shape

    backend = _backend(tiny_vace)
    limits = backend.limits  # tiny transformer: 32 rotary rows, patch (1, 2, 2), VAE 8 × 4
    assert (limits.multiple, limits.temporal, limits.max_side, limits.max_latent_frames) == (16, 4, 512, 32)
    assert limits.largest_frames() == 125 and limits.largest_frames(references=1) == 121
    assert limits.frames_fit(125) and not limits.frames_fit(129) and not limits.frames_fit(125, references=1)
    # The size it suggests is the largest that fits: one more would not.
    fits = limits.largest_size(640, lambda size: model_shape(40, 54, size))
    assert limits.side_fits(*model_shape(40, 54, fits)) and not limits.side_fits(
        *model_shape(40, 54, fits + 1)
    )


def test_a_size_the_model_cannot_take_is_exit_2_naming_size_before_generating(tiny_vace, tmp_path):
    _write_shot(tmp_path)
    command = [
        sys.executable,
        "-m",
        "aifx_core",
        "fill",
        str(tmp_path / "plate.####.png"),
        "-m",
        str(tmp_path / "mask.####.png"),
        "-o",
        str(tmp_path / "out" / "fx.####.png"),
        "--backend",
        "video-diffusion",
        "--model",
        str(tiny_vace),
        "--prompt",
        "a fireball",
        "--window",
        "3",
        "--overlap",
        "1",
        "--steps",
        "1",
        "--device",
        "cpu",
    ]  # the default size 640 makes 736x544 model frames; the tiny model's rotary table covers 512
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    message = done.stderr.strip().splitlines()[-1]
    assert "window 1 (frames 1001-1003)" in message and "size=640" in message
    assert "at most 512 pixels a side" in message and "rope_max_seq_len=32" in message
    assert "--option size=447 or less" in message
    assert not list((tmp_path / "out").glob("fx.*.png"))


def test_a_window_the_model_cannot_take_names_window_and_what_fits(tiny_vace, tmp_path):
    import cv2

    with pytest.raises(InputError, match=r"window=129 .* 129 frames, .* at most 125 .*--window 125 or less"):
        list(_backend(tiny_vace, window=129, overlap=0).fill(_shot(129), Reporter()))
    reference = tmp_path / "element.png"
    cv2.imwrite(str(reference), np.zeros((8, 8, 3), np.uint8))
    backend = _backend(tiny_vace, window=125, overlap=0, reference=str(reference))
    with pytest.raises(InputError, match=r"plus 1 reference image.*--window 121 or less"):
        list(backend.fill(_shot(125), Reporter()))
    assert backend.calls == 0


class _NoDeclaredLimits:
    """The real pipeline, seen without its transformer's config: a model that declares no size limit."""

    transformer = None

    def __init__(self, pipe):
        self.pipe = pipe

    def __getattr__(self, name):
        return getattr(self.pipe, name)

    def __call__(self, **kwargs):
        return self.pipe(**kwargs)


_NoDeclaredLimits.__call__.__wrapped__ = Recorder.__call__.__wrapped__  # type: ignore[attr-defined]


def test_a_shape_error_inside_the_model_names_the_window_and_size(tiny_vace):
    # No limit is declared, so the real model itself fails on its too-short rotary table; that is reported
    # as bad input naming the window and the options, with the model's error kept as the cause.
    backend = _backend(
        tiny_vace, pipe=_NoDeclaredLimits(_backend(tiny_vace).pipe), window=1, overlap=0, size=560
    )
    assert backend.limits.max_side is None
    with pytest.raises(InputError) as error:
        list(backend.fill(_shot(1), Reporter()))
    message = str(error.value)
    assert "window 1 (frames 1001-1001)" in message and "size=560" in message and "window=1" in message
    assert "--option size=N" in message and "shape" in message
    assert isinstance(error.value.__cause__, RuntimeError)


def test_other_errors_inside_the_model_stay_internal(tiny_vace):
    class Broken(_NoDeclaredLimits):
        def __call__(self, **kwargs):
            raise RuntimeError("CUDA error: an illegal memory access was encountered")

    backend = _backend(tiny_vace, pipe=Broken(_backend(tiny_vace).pipe), window=1, overlap=0)
    with pytest.raises(RuntimeError, match="illegal memory access") as error:
        list(backend.fill(_shot(1), Reporter()))
    assert not isinstance(error.value, InputError)


def test_a_model_that_paints_white_gives_diffuse_white_unless_the_window_has_highlights(tmp_path_factory):
    white = cached_build("wan-vace-white", tmp_path_factory.getbasetemp())
    packets = list(_shot(5))
    for packet in packets:
        packet.rgb[:] = 0.8 * packet.rgb  # scene-linear, nothing above 0.8
    backend = _backend(white, window=5, overlap=1, colorspace="linear")
    results = dict(backend.fill(iter(packets), Reporter()))
    for packet in packets:
        filled = results[packet.frame][packet.hole]
        assert filled.min() >= 0.99 and filled.max() <= 1.0 + 1e-5  # was up to 256 (LINEAR_LIMIT)
    packets[2].rgb[9:11, 10:24] = 30.0  # a highlight beside the hole in one frame of the window
    results = dict(_backend(white, window=5, overlap=1, colorspace="linear").fill(iter(packets), Reporter()))
    assert results[1001][packets[0].hole].min() > 29.0 and results[1005][packets[4].hole].max() <= 30.0 + 1e-3


def test_an_image_inpainting_model_is_refused_naming_its_class_before_it_loads(tmp_path_factory):
    from aifx_core.inpaint.models import cached_pipeline_count

    image_model = cached_build("inpaint", tmp_path_factory.getbasetemp())
    before = cached_pipeline_count()
    backend = _backend(image_model)
    with pytest.raises(
        InputError, match="StableDiffusionInpaintPipeline, not a masked video pipeline"
    ) as error:
        list(backend.fill(_shot(3), Reporter()))
    assert "--backend diffusers" in str(error.value)
    assert cached_pipeline_count() == before  # read from model_index.json: nothing was loaded


def test_a_missing_reference_is_refused_when_the_backend_is_made(tiny_vace, tmp_path):
    from aifx_core.inpaint.models import cached_pipeline_count

    before = cached_pipeline_count()
    with pytest.raises(InputError, match=r"reference=.*nothere\.png: no such image file"):
        _backend(tiny_vace, reference=str(tmp_path / "nothere.png"))
    assert cached_pipeline_count() == before


def test_a_model_that_returns_nan_is_refused_naming_the_window_not_filled_black(tmp_path_factory):
    model = cached_build("wan-vace-nan", tmp_path_factory.getbasetemp())
    backend = _backend(model, window=5, overlap=1)
    with pytest.raises(InputError) as error:
        dict(backend.fill(_shot(5), Reporter()))
    message = str(error.value)
    assert message.startswith(f"video-diffusion: window 1 (frames 1001-1005): {model} produced NaN")
    assert "--option dtype=float32" in message


def test_a_video_model_that_fails_to_load_is_not_told_to_name_a_pipeline_class(tmp_path_factory, tmp_path):
    """Naming another class is no fix for a video pipeline (no auto class chooses one): the hint is left out."""
    import json
    import shutil

    model = tmp_path / "not-vace"
    shutil.copytree(cached_build("inpaint", tmp_path_factory.getbasetemp()), model)
    index = json.loads((model / "model_index.json").read_text())
    (model / "model_index.json").write_text(json.dumps({**index, "_class_name": "WanVACEPipeline"}))
    with pytest.raises(InputError) as error:
        list(_backend(model).fill(_shot(3), Reporter()))
    message = str(error.value)
    assert message.startswith(f"{model}: could not load it as a WanVACEPipeline (") and message.endswith(
        "; check the model"
    )


def test_a_reference_replaced_at_the_same_path_is_not_taken_for_done(tiny_vace, tmp_path):
    """The art department updated the element image at the same path between two runs: the resume kept the
    finished frames and made the rest from the new reference, one shot from two references with exit 0 (a
    replaced model was refused, the reference keyed by its path alone). The reference is in the frames'
    fingerprint now, by content: one written again unchanged still resumes, another picture is refused."""
    import cv2
    from cli_runner import aifx

    _write_shot(tmp_path)
    reference = tmp_path / "element.png"
    cv2.imwrite(str(reference), np.full((24, 24, 3), (0, 64, 255), np.uint8))
    out = tmp_path / "out"
    args = [str(tmp_path / "plate.####.png"), "-m", str(tmp_path / "mask.####.png")]
    args += ["-o", str(out / "c.####.png")]
    args += ["-b", "video-diffusion", "--model", str(tiny_vace), "--reference", str(reference)]
    args += ["--steps", "1", "--window", "3", "--overlap", "1", "--option", "size=32", "--device", "cpu"]
    assert aifx("fill", *args).returncode == 0
    (out / "c.1003.png").unlink()  # a killed run
    cv2.imwrite(str(reference), np.full((24, 24, 3), (0, 64, 255), np.uint8))  # the same picture, saved again
    again = aifx("fill", *args)
    assert again.returncode == 0, again.stderr
    assert (out / "c.1003.png").is_file()
    (out / "c.1003.png").unlink()
    cv2.imwrite(str(reference), np.full((24, 24, 3), (255, 64, 0), np.uint8))  # a new version of the element
    refused = aifx("fill", *args)
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.strip().splitlines()[-1] == (
        f"aifx: error: {out / 'c.####.png'}: the inputs of 2 finished frame(s) changed since they were made "
        f"(first: the model {tiny_vace} or its reference {reference}, which frame 1001 was made with; a plate "
        "frame is compared by size, and by content where its modification time changed, a mask by content, a "
        "model by its files' sizes and times, a reference image by content); pass --overwrite to fill them again"
    )
    assert not (out / "c.1003.png").exists()
    # Frames made with a reference before it was fingerprinted are refused once; the cache folder is no input.
    from aifx_core.inpaint.models import model_fingerprint

    alone = model_fingerprint({"model": str(tiny_vace)})
    assert model_fingerprint({"model": str(tiny_vace), "cache_dir": str(tmp_path)}) == alone
    assert model_fingerprint({"model": str(tiny_vace), "reference": str(reference)}) not in (None, alone)
