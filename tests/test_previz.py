"""``aifx previz``: a clip per shot from a YAML shot list, with a tiny random Wan VACE pipeline saved with
``save_pretrained`` and loaded by folder path, as a user's model is. Random weights: the plumbing is tested."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

from aifx_core.errors import InputError

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("ftfy")
av = pytest.importorskip("av")

from tiny_models import cached_build  # noqa: E402

from aifx_core.previz import clip_arguments, load_previz  # noqa: E402

pytestmark = pytest.mark.diffusers


@pytest.fixture(scope="module")
def tiny_vace(tmp_path_factory):
    return cached_build("wan-vace", tmp_path_factory.getbasetemp())


def _shots(folder, model, image=True):
    import cv2

    cv2.imwrite(str(folder / "board.png"), np.full((30, 50, 3), (200, 100, 0), np.uint8))
    text = f"""
model: {model}
steps: 2
size: 32
frames: 6
fps: 12
shots:
  - name: "010"
    prompt: a lighthouse at dusk
    aspect: "16:9"
    camera: slow push in
"""
    if image:
        text += """  - name: "020"
    prompt: waves on rocks
    image: board.png
    frames: 3
"""
    (folder / "shots.yaml").write_text(text)
    return folder / "shots.yaml"


def test_yaml_is_checked_and_images_resolve_next_to_it(tmp_path):
    board, frames, fps = load_previz(_shots(tmp_path, "some/model"))
    assert (frames, fps) == (6, 12) and board.shots[1].extra["image"] == tmp_path / "board.png"
    assert board.shots[1].extra["frames"] == 3 and "frames" not in board.options
    (tmp_path / "bad.yaml").write_text("model: m\nshots:\n  - name: a\n    prompt: p\n    image: nope.png\n")
    with pytest.raises(InputError, match="nope.png not found"):
        load_previz(tmp_path / "bad.yaml")
    (tmp_path / "bad2.yaml").write_text("model: m\nframez: 3\nshots:\n  - name: a\n    prompt: p\n")
    with pytest.raises(InputError, match="unknown key.*framez"):
        load_previz(tmp_path / "bad2.yaml")


def test_a_start_image_becomes_the_known_first_frame_of_a_masked_video_model(tiny_vace, tmp_path):
    import inspect

    from aifx_core.inpaint.models import PipelineRequest, load_pipeline

    board, frames, _ = load_previz(_shots(tmp_path, tiny_vace))
    pipe = load_pipeline(PipelineRequest.from_options(board.options, "cpu", kind="text2video"))
    accepts = set(inspect.signature(pipe.__call__).parameters)
    arguments, count, mode = clip_arguments(pipe, board, board.shots[1], frames, accepts)
    assert mode == "first frame" and count == 5  # 3 frames asked, rounded up to 4k+1
    video, mask = arguments["video"][0], arguments["mask"][0]
    assert video.shape[0] == count and not mask[0].any() and mask[1:].all()
    assert np.allclose(video[0], [0, 100 / 255, 200 / 255], atol=1 / 255)  # cv2 wrote BGR (200, 100, 0)
    text_only, _, mode = clip_arguments(pipe, board, board.shots[0], frames, accepts)
    assert mode == "text" and "video" not in text_only and text_only["num_frames"] == 9


def test_cli_writes_frames_an_mp4_and_a_sheet_per_shot(tiny_vace, tmp_path):
    shots = _shots(tmp_path, tiny_vace)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "aifx_core",
            "previz",
            str(shots),
            "-o",
            str(tmp_path / "out"),
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    first = sorted((out / "01_010").glob("01_010.*.png"))
    second = sorted((out / "02_020").glob("02_020.*.png"))
    assert [p.name for p in first][:2] == ["01_010.1001.png", "01_010.1002.png"]
    assert len(first) == 6 and len(second) == 3  # as asked (the model made 9 and 5: 4k+1)
    with av.open(str(out / "01_010.mp4")) as movie:
        decoded = [frame.to_ndarray(format="rgb24") for frame in movie.decode(video=0)]
    assert len(decoded) == 6 and decoded[0].shape[2] == 3
    assert (out / "previz_sheet.png").stat().st_size > 1000


def test_an_image_model_is_refused_with_a_clear_message(tmp_path_factory, tmp_path):
    image_model = cached_build("text2image", tmp_path_factory.getbasetemp())
    shots = _shots(tmp_path, image_model, image=False)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "aifx_core",
            "previz",
            str(shots),
            "-o",
            str(tmp_path / "out"),
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert (
        done.returncode == 2 and "is not a video pipeline" in done.stderr and "Traceback" not in done.stderr
    )


def test_a_text_to_video_model_makes_clips_and_says_it_ignores_the_start_image(tmp_path_factory, tmp_path):
    t2v = cached_build("wan-t2v", tmp_path_factory.getbasetemp())
    shots = _shots(tmp_path, t2v)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "aifx_core",
            "previz",
            str(shots),
            "-o",
            str(tmp_path / "out"),
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "020: WanPipeline takes no start image" in done.stderr
    assert len(list((tmp_path / "out" / "02_020").glob("*.png"))) == 3  # as asked (the model made 5)


def test_a_size_the_model_cannot_take_is_exit_2_naming_the_shot_and_size(tiny_vace, tmp_path):
    shots = _shots(tmp_path, tiny_vace, image=False)
    shots.write_text(shots.read_text().replace("size: 32", "size: 640"))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "aifx_core",
            "previz",
            str(shots),
            "-o",
            str(tmp_path / "out"),
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    # 16:9 at size 640 is 848x480 pixels; the tiny transformer's rotary table covers 512 a side.
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    message = done.stderr.strip().splitlines()[-1]
    assert "shot 010: size 640 at aspect 16:9 is 848x480 pixels" in message
    assert "at most 512 pixels a side" in message and "use size: 390 or less (or --size 390)" in message
    assert not (tmp_path / "out").exists()  # refused before anything was generated or written


def test_a_clip_longer_than_the_model_takes_names_frames(tiny_vace, tmp_path):
    from aifx_core.inpaint.models import PipelineRequest, load_pipeline
    from aifx_core.previz import check_clips
    from aifx_core.storyboard import image_size

    assert max(image_size(16 / 9, 390)) <= 512 < max(image_size(16 / 9, 391))  # the size suggested above
    board, frames, _ = load_previz(_shots(tmp_path, tiny_vace, image=False))
    pipe = load_pipeline(PipelineRequest.from_options(board.options, "cpu", kind="text2video"))
    check_clips(pipe, board, 125)
    with pytest.raises(InputError, match=r"shot 010: frames 129 .* \(125 frames, .*use frames: 125 or less"):
        check_clips(pipe, board, 126)


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (
            torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB"),
            "shot 010: out of memory generating 9 frames at 48x32 pixels (size 32); make it fit with a smaller "
            "size: (e.g. size: 24 or --size) or frames:, or offload: model, vae_tiling: true or dtype: bfloat16 in the "
            "shots file",
        ),
        (
            RuntimeError("shape '[1, 34, 1, -1]' is invalid for input of size 128"),
            "shot 010: {model} refused 9 frames at 48x32 pixels (size 32): shape '[1, 34, 1, -1]' is invalid for "
            "input of size 128; try a smaller size or frames, or a model made for this size",
        ),
    ],
    ids=["out-of-memory", "shape"],
)
def test_a_model_that_runs_out_of_memory_or_refuses_the_shape_is_exit_2_naming_the_shot(
    tiny_vace, tmp_path, capsys, raised, expected
):
    """The real tiny pipeline, its transformer failing as a full GPU (or a model with a too-short position
    table) fails inside ``forward``: one clear line and exit 2, never an internal error with a traceback."""
    from torch.nn.modules.module import register_module_forward_pre_hook

    from aifx_core.cli import main

    calls = []

    def fail(module, _args):
        if type(module).__name__.endswith("Transformer3DModel"):  # Wan VACE's denoiser, not the VAE
            calls.append(module)
            raise raised

    shots = _shots(tmp_path, tiny_vace, image=False)
    handle = register_module_forward_pre_hook(fail)
    try:
        code = main(["previz", str(shots), "-o", str(tmp_path / "out"), "--device", "cpu"])
    finally:
        handle.remove()
    error = capsys.readouterr().err
    assert calls and code == 2, error
    assert "Traceback" not in error and "internal error" not in error
    assert error.strip().splitlines()[-1] == "aifx: error: " + expected.format(model=tiny_vace)
    assert not list((tmp_path / "out").rglob("*.png"))  # nothing of the failed shot was written


def test_a_model_that_returns_nan_is_exit_2_naming_the_shot_not_black_frames(
    tmp_path_factory, tmp_path, capsys
):
    from aifx_core.cli import main

    model = cached_build("wan-t2v-nan", tmp_path_factory.getbasetemp())
    shots = _shots(tmp_path, model, image=False)
    assert main(["previz", str(shots), "-o", str(tmp_path / "out"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert f"aifx: error: shot 010: {model} produced NaN" in err and "dtype: float32" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()  # (refused on shot 1: the -o folder is made with its first clip)


def test_a_shorter_run_into_the_same_folder_removes_the_clips_frames_of_the_longer_one(
    tiny_vace, tmp_path, capsys
):
    """The earlier run's 1006-1009 stayed beside the new 1001-1005 and were read as part of the clip."""
    from aifx_core.cli import main

    shots = _shots(tmp_path, tiny_vace, image=False)
    out = tmp_path / "out"
    assert main(["previz", str(shots), "-o", str(out), "--device", "cpu"]) == 0
    assert len(list((out / "01_010").glob("01_010.*.png"))) == 6
    (out / "01_010" / "notes.txt").write_text("mine")
    (out / "01_010" / "01_010_v2.1009.png").write_bytes(b"another clip's frame")
    assert main(["previz", str(shots), "-o", str(out), "--device", "cpu", "--frames", "2"]) == 0
    capsys.readouterr()
    names = sorted(p.name for p in (out / "01_010").iterdir())
    assert names == [f"01_010.{f}.png" for f in range(1001, 1003)] + ["01_010_v2.1009.png", "notes.txt"]


def test_a_stale_frame_another_shot_starts_from_is_kept(tiny_vace, tmp_path, capsys):
    """Continuity: shot 020 starts from the last frame of 010's earlier, longer clip. Removing 010's stale
    frames deleted that input before 020 read it."""
    from aifx_core.cli import main

    shots = _shots(tmp_path, tiny_vace)
    out = tmp_path / "out"
    assert main(["previz", str(shots), "-o", str(out), "--device", "cpu"]) == 0
    last = sorted((out / "01_010").glob("01_010.*.png"))[-1]
    before = last.read_bytes()
    shots.write_text(shots.read_text().replace("image: board.png", f"image: {last}"))
    assert main(["previz", str(shots), "-o", str(out), "--device", "cpu", "--frames", "2"]) == 0, (
        capsys.readouterr().err
    )
    assert last.read_bytes() == before
    kept = sorted(p.name for p in (out / "01_010").glob("01_010.*.png"))
    assert kept == [f"01_010.{f}.png" for f in range(1001, 1003)] + [last.name]


def test_a_bad_output_is_one_line_before_the_model_loads(tiny_vace, tmp_path, capsys):
    """-o naming the shot file itself was a traceback, exit 1, after the model had loaded; a clip folder whose
    name a file holds was a traceback too."""
    from aifx_core.cli import main
    from aifx_core.inpaint.models import cached_pipeline_count, clear_cache

    shots = _shots(tmp_path, tiny_vace, image=False)
    clear_cache()
    assert main(["previz", str(shots), "-o", str(shots), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err == f"aifx: error: {shots}: output folder is a file; choose a folder\n"
    assert cached_pipeline_count() == 0  # refused before loading
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "01_010").write_text("not a folder")
    assert main(["previz", str(shots), "-o", str(tmp_path / "clips"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err  # (after the loader's progress bars)
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"aifx: error: {tmp_path / 'clips' / '01_010'}: cannot write it (")
    assert "Traceback" not in err


@pytest.mark.filterwarnings(
    "error:Glyph"
)  # a glyph drawn as a box without the notice naming it fails the run
def test_non_ascii_names_keep_their_letters_and_a_board_frame_named_so_is_found(tiny_vace, tmp_path, capsys):
    """Names in other scripts were dropped (01_shot/01_shot.1001.png), and the sheet warned a glyph for each
    CJK character. A storyboard frame ``board/02_灯台.png`` (NFC, as the storyboard writes it) is found when
    the shot file spells it decomposed, as text copied from a macOS file name can."""
    import unicodedata

    import cv2

    from aifx_core.cli import main

    (tmp_path / "board").mkdir()
    cv2.imencode(".png", np.full((30, 50, 3), 90, np.uint8))[1].tofile(
        str(tmp_path / "board" / "02_灯台.png")
    )
    cv2.imencode(".png", np.full((30, 50, 3), 90, np.uint8))[1].tofile(
        str(tmp_path / "board" / "03_café.png")
    )
    decomposed = unicodedata.normalize("NFD", "board/03_café.png")
    (tmp_path / "shots.yaml").write_text(
        f"model: {tiny_vace}\nsteps: 2\nsize: 32\nframes: 2\nshots:\n"
        '  - name: "灯台"\n    prompt: a lighthouse\n    image: board/02_灯台.png\n    camera: ゆっくり\n'
        f'  - name: "{unicodedata.normalize("NFD", "café")}"\n    prompt: a café\n    image: {decomposed}\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    assert main(["previz", str(tmp_path / "shots.yaml"), "-o", str(out), "--device", "cpu"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "01_灯台",
        "01_灯台.mp4",
        "02_café",
        "02_café.mp4",
        "previz_sheet.png",
    ]
    assert (out / "01_灯台" / "01_灯台.1001.png").is_file() and (
        out / "02_café" / "02_café.1001.png"
    ).is_file()
    err = capsys.readouterr().err
    assert "Glyph" not in err and "not found" not in err
    assert sum("no font on this machine has" in line for line in err.splitlines()) <= 1


def test_a_clip_is_the_length_asked_for_at_a_fractional_frame_rate(tmp_path_factory, tmp_path, capsys):
    """`frames: 24` wrote 25 frames and a 25-frame MP4, `frames: 6` 9, without a word: the model's 4k+1 length
    was the clip's. And `fps: 23.976` was refused ("expected a whole number"). The model still makes its
    length; the clip keeps the first frames asked for, and the MP4 runs at 24000/1001."""
    from aifx_core.cli import main

    model = cached_build("wan-t2v", tmp_path_factory.getbasetemp())
    shots = tmp_path / "shots.yaml"
    shots.write_text(
        f"model: {model}\nsteps: 2\nsize: 32\nframes: 6\nfps: 23.976\nshots:\n"
        '  - name: "010"\n    prompt: a lighthouse\n  - name: "020"\n    prompt: waves\n    frames: 3\n'
    )
    out = tmp_path / "out"
    assert main(["previz", str(shots), "-o", str(out), "--device", "cpu"]) == 0, capsys.readouterr().err
    for stem, count in (("01_010", 6), ("02_020", 3)):
        assert sorted(p.name for p in (out / stem).iterdir()) == [
            f"{stem}.{1001 + i}.png" for i in range(count)
        ]
        with av.open(str(out / f"{stem}.mp4")) as movie:
            stream = movie.streams.video[0]
            assert stream.average_rate == Fraction(24000, 1001)
            assert sum(1 for _ in movie.decode(video=0)) == count
    for fps, said in (("29.97", None), ("0", "must be within 1..1000"), ("fast", "expected a frame rate")):
        shots.write_text(f"model: m\nfps: {fps}\nshots:\n  - name: a\n    prompt: p\n")
        if said is None:
            assert load_previz(shots)[2] == Fraction(30000, 1001)
        else:
            with pytest.raises(InputError, match=said):
                load_previz(shots)
