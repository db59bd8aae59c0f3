"""The ``lama`` backend with a scripted module that has big-lama's calling convention, saved to a file."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from tiny_models import cached_build  # noqa: E402

from aifx_core.backends import create_spatial  # noqa: E402
from aifx_core.colour import from_model, to_model  # noqa: E402
from aifx_core.errors import InputError  # noqa: E402
from aifx_core.inpaint import BackendContext  # noqa: E402
from aifx_core.inpaint.crop import plan_crop  # noqa: E402

pytestmark = pytest.mark.diffusers


@pytest.fixture(scope="session")
def tiny_lama(tmp_path_factory):
    return cached_build("lama", tmp_path_factory.getbasetemp())


def _context(model, **options):
    return BackendContext(colorspace="linear", seed=0, device="cpu", options={"model": str(model), **options})


def _plate(height=75, width=101):
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack([2.0 + np.sin(xx / 4), 0.5 + 0.2 * np.cos(yy / 3), np.full_like(xx, 0.25)], -1)
    hole = np.zeros((height, width), bool)
    hole[30:41, 44:57] = True
    return rgb.astype(np.float32), hole


def test_lama_fills_the_hole_on_a_crop_and_keeps_the_rest(tiny_lama):
    backend = create_spatial("lama", _context(tiny_lama, size=44))  # rounded down to 40
    assert backend.model_size == 40
    rgb, hole = _plate()
    out = backend.inpaint(rgb, hole, frame=3)
    window = plan_crop(hole, 40)
    outside = np.ones(hole.shape, bool)
    outside[window.plate_box()] = False
    assert np.array_equal(out[outside], rgb[outside])
    assert np.isfinite(out).all() and out.dtype == np.float32
    # the tiny model fills with the mean model-space colour of the known pixels of the crop (then a 3x3 blur)
    crop = to_model(rgb[window.plate_box()], "linear")
    known = ~hole[window.plate_box()]
    mean = np.clip(crop, 0, 1)[known].mean(axis=0)
    centre = out[34:37, 49:52].reshape(-1, 3)
    assert np.allclose(centre, from_model(mean[None, None], "linear")[0, 0], rtol=1e-3, atol=1e-4)


def test_generate_pads_any_size_to_a_multiple_of_8(tiny_lama):
    backend = create_spatial("lama", _context(tiny_lama))
    square = np.random.default_rng(0).random((37, 45, 3)).astype(np.float32)
    mask = np.zeros((37, 45), bool)
    mask[10:20, 10:20] = True
    out = backend.generate(square, mask)
    assert out.shape == (37, 45, 3)
    assert np.allclose(out[14, 14], square[~mask].mean(axis=0), atol=0.05)


def test_model_is_loaded_once(tiny_lama):
    a = create_spatial("lama", _context(tiny_lama))
    b = create_spatial("lama", _context(tiny_lama))
    assert a.model is b.model


def test_missing_or_bad_model_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="big-lama"):
        create_spatial("lama", BackendContext(device="cpu", options={}))
    with pytest.raises(InputError, match="no such"):
        create_spatial("lama", _context(tmp_path / "big-lama.pt"))
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"nope")
    with pytest.raises(InputError, match="not a TorchScript file"):
        create_spatial("lama", _context(junk))


def _script(module, path):
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(module).save(str(path))
    return path


def test_a_torchscript_of_the_wrong_kind_names_the_file_and_the_calling_convention(tmp_path):
    import torch

    class OneInput(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    class Half(torch.nn.Module):
        def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            return image[:, :, ::2, ::2]

    class Gray(torch.nn.Module):
        def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            return image.mean(dim=1, keepdim=True)

    rgb, hole = _plate()
    for module, what in (
        (OneInput(), "expected at most 2 argument"),
        (Half(), "returned"),
        (Gray(), "returned"),
    ):
        path = _script(module, tmp_path / f"{type(module).__name__}.pt")
        backend = create_spatial("lama", _context(path, size=64))
        with pytest.raises(InputError, match=f"{path.name}: not a LaMa model .*{what}") as error:
            backend.inpaint(rgb, hole)
        assert "model(image, mask)" in str(error.value) and "(1,3,H,W) image of the same size" in str(
            error.value
        )


def test_other_runtime_faults_are_not_blamed_on_the_file(tmp_path):
    """Every RuntimeError of the model call was reported as 'not a LaMa model': the CPU running out of memory
    (what --device cpu, the GPU advice, can hit) and faults of the model's own maths too. Only a refused calling convention or a
    shape is the file's; the CPU's allocator gets the memory line; anything else stays an internal error."""
    import torch

    class NoMemory(torch.nn.Module):
        def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            return torch.empty([1 << 50], dtype=torch.uint8)  # a petabyte: the CPU allocator refuses it

    class Maths(torch.nn.Module):
        def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            return torch.linalg.inv(torch.zeros(2, 2))  # a fault of the model's own maths, not of its file

    rgb, hole = _plate()
    memory = create_spatial("lama", _context(_script(NoMemory(), tmp_path / "memory.pt"), size=64))
    with pytest.raises(InputError, match="out of memory filling a 64x64 square") as error:
        memory.inpaint(rgb, hole)
    assert "GPU" not in str(error.value) and "not a LaMa model" not in str(error.value)
    device = create_spatial("lama", _context(_script(Maths(), tmp_path / "maths.pt"), size=64))
    with pytest.raises(RuntimeError, match="singular") as fault:
        device.inpaint(rgb, hole)
    assert not isinstance(fault.value, InputError)


def test_out_of_gpu_memory_is_one_line_saying_what_would_make_it_fit(tiny_lama):
    import torch

    class OutOfMemory(torch.nn.Module):  # the model on a GPU that is full: this machine has none to fill
        def forward(self, image, mask):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 5.00 GiB")

    backend = create_spatial("lama", _context(tiny_lama, size=64))
    backend.model = OutOfMemory()
    rgb, hole = _plate()
    with pytest.raises(
        InputError, match="out of GPU memory filling a 64x64 square with .*tiny-lama.pt"
    ) as error:
        backend.inpaint(rgb, hole)
    assert "--option size=48" in str(error.value) and "--device cpu" in str(error.value)


def test_a_model_that_returns_nan_is_refused_naming_the_frame_not_filled_black(tmp_path_factory):
    model = cached_build("lama-nan", tmp_path_factory.getbasetemp())
    backend = create_spatial("lama", _context(model))
    rgb, hole = _plate()
    with pytest.raises(InputError) as error:
        backend.inpaint(rgb, hole, frame=1003)
    message = str(error.value)
    assert message.startswith(f"frame 1003: {model} produced NaN") and "export" in message


def test_a_float32_export_that_returns_nan_is_not_told_to_set_a_dtype_lama_refuses(
    tmp_path_factory, tmp_path
):
    """The advice to a float32 LaMa export returning NaN was "try --option dtype=float32 (or bfloat16)", an
    option lama refuses ("unknown option(s) dtype for backend 'lama'"), and it blamed half precision. The
    inputs it is given are finite, so a float32 export that returns NaN is itself broken: it says so."""
    from cli_runner import aifx
    from shot_files import make_shot

    model = cached_build("lama-nan", tmp_path_factory.getbasetemp())
    shot = make_shot(tmp_path / "shot", frames=range(1001, 1002))
    args = [
        str(shot / "plate.####.exr"),
        "-m",
        str(shot / "mask.####.png"),
        "-o",
        str(tmp_path / "o.####.exr"),
    ]
    done = aifx("fill", *args, "-b", "lama", "--model", str(model), "--option", "size=64", "--device", "cpu")
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"aifx: error: frame 1001: {model} produced NaN (not-a-number) pixels (a float32 export, so no "
        "half-precision overflow: the export itself is broken); export the model again, or use another LaMa "
        "export such as big-lama.pt"
    )
    assert not (tmp_path / "o.1001.exr").exists()


def test_a_float16_export_that_returns_nan_is_told_to_use_a_float32_export(tmp_path_factory, tmp_path):
    """LaMa takes no dtype option: a half export's NaN is met with the advice to use a float32 export (one
    check, its advice chosen by the export's precision)."""
    import torch

    model = cached_build("lama-nan", tmp_path_factory.getbasetemp())
    half = tmp_path / "lama-nan-fp16.pt"
    torch.jit.load(str(model)).half().save(str(half))
    rgb, hole = _plate()
    with pytest.raises(InputError) as error:
        create_spatial("lama", _context(half)).inpaint(rgb, hole, frame=1003)
    assert str(error.value) == (
        f"frame 1003: {half} produced NaN (not-a-number) pixels (half-precision overflow?); it is a float16 "
        "export; use a float32 export of the model"
    )


def test_a_lama_folder_is_told_to_pass_the_pt_file(tmp_path):
    folder = tmp_path / "lama"
    folder.mkdir()
    (folder / "big-lama.pt").write_bytes(b"x")
    with pytest.raises(InputError) as error:
        create_spatial("lama", BackendContext(device="cpu", options={"model": str(folder)}))
    message = str(error.value)
    assert message.startswith(f"{folder}: a folder (it holds big-lama.pt); --model takes the LaMa model's")
    assert str(folder / "big-lama.pt") in message and "no such" not in message


def test_a_float16_export_runs_in_its_own_precision(tiny_lama, tmp_path):
    """The backend sent float32 whatever the export: a float16 one was an internal error ("Input type
    (torch.FloatTensor) and weight type (torch.HalfTensor) should be the same"), though it runs on the CPU."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        half = tmp_path / "lama-fp16.pt"
        torch.jit.load(str(tiny_lama)).half().save(str(half))
    rgb, hole = _plate()
    full = create_spatial("lama", _context(tiny_lama, size=64)).inpaint(rgb, hole)
    out = create_spatial("lama", _context(half, size=64)).inpaint(rgb, hole)
    assert out.dtype == np.float32 and np.allclose(out, full, rtol=0.02, atol=0.01)  # half precision


@pytest.mark.skipif(
    __import__("torch").cuda.is_available(), reason="the export runs where there is a CUDA GPU"
)
def test_an_export_tied_to_cuda_says_so_on_a_machine_without_one(tmp_path):
    """A model that makes its tensors on CUDA (a device baked in by an export made on a GPU) was "not a LaMa
    model", quoting TorchScript's header line ("The following operation failed in the TorchScript
    interpreter.") instead of the error."""
    import torch

    class CudaTied(torch.nn.Module):
        def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            noise = torch.zeros(image.shape, device=torch.device("cuda"))
            return (image + noise.to(image.device)) * (1 - mask) + mask * 0.5

    path = _script(CudaTied(), tmp_path / "lama-cuda.pt")
    rgb, hole = _plate()
    with pytest.raises(InputError) as error:
        create_spatial("lama", _context(path, size=64)).inpaint(rgb, hole)
    assert str(error.value) == (
        f"{path}: this export was made for CUDA and cannot run on cpu (Could not run "
        "'aten::empty.memory_format' with arguments from the 'CUDA' backend); use --device cuda, or re-export "
        "the model on the CPU"
    )


def test_an_export_traced_at_one_size_asks_for_that_size(tmp_path):
    """A trace bakes its size in: run at another, it was "not a LaMa model (The following operation failed in
    the TorchScript interpreter.)", exit 2, the wrong diagnosis quoting the wrong line."""
    import warnings

    import torch

    class Traced(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(4, 3, 3, padding=1)

        def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            flat = self.conv(torch.cat([image, mask], 1)).reshape(1, 3, -1)
            return torch.sigmoid(flat.view(1, 3, int(image.shape[2]), int(image.shape[3])))

    path = tmp_path / "traced64.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.trace(Traced().eval(), (torch.rand(1, 3, 64, 64), torch.zeros(1, 1, 64, 64))).save(
            str(path)
        )
    rgb, hole = _plate()
    create_spatial("lama", _context(path, size=64)).inpaint(rgb, hole)  # its own size runs
    with pytest.raises(InputError) as error:
        create_spatial("lama", _context(path, size=32)).inpaint(rgb, hole)
    assert str(error.value).startswith(
        f"{path}: the model refused a 32x32 square (shape '[1, 3, 64, 64]' is invalid for input of size 3072); "
        "an export traced at one size runs at that size only: pass it with --option size=N"
    )
