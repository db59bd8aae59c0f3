"""``aifx storyboard``: a YAML shot list → one image per shot, a contact sheet PNG and a PDF, through the CLI."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")

from PIL import Image as PILImage  # noqa: E402
from tiny_models import cached_build  # noqa: E402

from aifx_core.cli import main  # noqa: E402
from aifx_core.storyboard import image_size, parse_aspect  # noqa: E402

pytestmark = pytest.mark.diffusers


@pytest.fixture(scope="session")
def tiny_text2image(tmp_path_factory):
    return cached_build("text2image", tmp_path_factory.getbasetemp())


SHOTS = """\
model: {model}
steps: 2
size: 64
title: Tiny board
shots:
  - name: "010 wide"
    prompt: a lighthouse at dusk
    aspect: "2.39:1"
    camera: 24mm, slow push in
    seed: 3
  - name: "020"
    prompt: close up of a keeper
    aspect: "16:9"
  - name: "030"
    prompt: the lamp
    aspect: "1:1"
    negative_prompt: blur
"""


def test_storyboard_writes_images_sheet_and_pdf(tiny_text2image, tmp_path, capsys):
    shots = tmp_path / "shots.yaml"
    shots.write_text(SHOTS.format(model=tiny_text2image))
    board = tmp_path / "board"
    assert main(["storyboard", str(shots), "-o", str(board), "--device", "cpu"]) == 0
    images = sorted(board.glob("0*.png"))
    assert [p.name for p in images] == ["01_010_wide.png", "02_020.png", "03_030.png"]
    sizes = [PILImage.open(p).size for p in images]
    assert sizes == [image_size(2.39, 64, 8), image_size(16 / 9, 64, 8), (64, 64)]
    assert sizes[0][0] > sizes[0][1] * 2.2  # 2.39:1 is wide
    first = np.asarray(PILImage.open(images[0]))
    assert first.std() > 0  # a generated picture, not a blank
    sheet = PILImage.open(board / "contact_sheet.png")
    assert sheet.size[0] > 3 * 64
    pdf = (board / "storyboard.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") >= 1
    assert b"/Count 4" in pdf  # the sheet and one page per shot
    out = capsys.readouterr().out
    assert "storyboard.pdf" in out


def test_same_seed_same_picture(tiny_text2image, tmp_path):
    shots = tmp_path / "shots.yaml"
    shots.write_text(SHOTS.format(model=tiny_text2image))
    assert main(["storyboard", str(shots), "-o", str(tmp_path / "a"), "--device", "cpu"]) == 0
    assert main(["storyboard", str(shots), "-o", str(tmp_path / "b"), "--device", "cpu"]) == 0
    a = np.asarray(PILImage.open(tmp_path / "a" / "01_010_wide.png"))
    b = np.asarray(PILImage.open(tmp_path / "b" / "01_010_wide.png"))
    assert np.array_equal(a, b)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("shots: [\n  - name: a\n", "not valid YAML"),
        ("- just a list\n", "mapping"),
        ("model: {model}\n", "'shots' must be a non-empty list"),
        ("model: {model}\nshots:\n  - name: a\n", "needs a 'name' and a 'prompt'"),
        ("model: {model}\nshots:\n  - name: a\n    prompt: b\n    aspect: wide\n", "aspect 'wide'"),
        ("model: {model}\nshots:\n  - name: a\n    prompt: b\n    lens: 50mm\n", "unknown key(s) lens"),
        ("model: {model}\nsteps: lots\nshots:\n  - name: a\n    prompt: b\n", "steps"),
        ("shots:\n  - name: a\n    prompt: b\n", "no 'model'"),
        ("model: ./missing-model\nshots:\n  - name: a\n    prompt: b\n", "no such model"),
        (
            "model: {model}\nnegative_prompt: [a, b]\nshots:\n  - name: a\n    prompt: b\n",
            "negative_prompt: expected text, got ['a', 'b']",
        ),
        (
            "model: {model}\nshots:\n  - name: a\n    prompt: b\n    negative_prompt: 123\n",
            "shot 1: negative_prompt: expected text, got 123",
        ),
    ],
)
def test_bad_yaml_is_exit_2_with_a_clear_message(tiny_text2image, tmp_path, capsys, text, message):
    shots = tmp_path / "shots.yaml"
    shots.write_text(text.format(model=tiny_text2image))
    assert main(["storyboard", str(shots), "-o", str(tmp_path / "board")]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "board" / "storyboard.pdf").exists()


def test_out_of_memory_is_exit_2_saying_what_to_make_smaller(tiny_text2image, tmp_path, capsys):
    """The real tiny pipeline, its UNet failing inside ``forward`` as a full GPU does: one line naming the
    shot and what to change in the shots file, exit 2, never an internal error with a traceback."""
    import torch
    from torch.nn.modules.module import register_module_forward_pre_hook

    calls = []

    def full(module, _args):
        if type(module).__name__ == "UNet2DConditionModel":
            calls.append(module)
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    shots = tmp_path / "shots.yaml"
    shots.write_text(SHOTS.format(model=tiny_text2image))
    handle = register_module_forward_pre_hook(full)
    try:
        code = main(["storyboard", str(shots), "-o", str(tmp_path / "board"), "--device", "cpu"])
    finally:
        handle.remove()
    err = capsys.readouterr().err
    assert calls and code == 2, err
    assert "Traceback" not in err and "internal error" not in err
    width, height = image_size(2.39, 64, 8)
    assert err.strip().splitlines()[-1] == (
        f"aifx: error: shot 010 wide: out of memory generating a {width}x{height} image (size 64); make it fit "
        "with a smaller size: (e.g. size: 48 or --size), or offload: model, vae_tiling: true or dtype: bfloat16 "
        "in the shots file"
    )
    assert not list((tmp_path / "board").glob("*.png"))


def test_aspect_parsing_and_sizes():
    assert parse_aspect("2.39:1", "x") == pytest.approx(2.39)
    assert parse_aspect("16:9", "x") == pytest.approx(16 / 9)
    assert parse_aspect(1.85, "x") == pytest.approx(1.85)
    width, height = image_size(2.39, 1024)
    assert width % 16 == 0 and height % 16 == 0
    assert abs(width * height - 1024 * 1024) / (1024 * 1024) < 0.05


def test_names_and_aspects_are_read_as_typed(tmp_path):
    """YAML 1.1 read an unquoted ``name: 010`` as octal 8 (the board's shot '8') and ``aspect: 16:9`` as
    base-60 969 ("aspect '969' is not a ratio"); the shot list is read as an artist typed it. ``aifx previz``
    reads the same file through the same loader."""
    from aifx_core.errors import InputError
    from aifx_core.previz import load_previz
    from aifx_core.storyboard import load_board

    shots = tmp_path / "shots.yaml"
    shots.write_text(
        "model: m\nseed: 010\nsteps: 12\nguidance: 7.5\nshots:\n"
        "  - name: 010\n    prompt: a lighthouse\n    aspect: 16:9\n"
        "  - name: 080\n    prompt: the lamp\n    aspect: 2.39:1\n"
        "  - name: 0x1F\n    prompt: stairs\n    aspect: 1.85\n"
        "  - name: 120\n    prompt: sea\n    aspect: 4:3\n    seed: 3\n"
    )
    board = load_board(shots)
    assert [s.name for s in board.shots] == ["010", "080", "0x1F", "120"]
    assert [s.aspect_text for s in board.shots] == ["16:9", "2.39:1", "1.85", "4:3"]
    assert [s.aspect for s in board.shots] == pytest.approx([16 / 9, 2.39, 1.85, 4 / 3])
    assert (board.shots[0].seed, board.shots[3].seed, board.steps, board.guidance) == (10, 3, 12, 7.5)
    previz, _frames, _fps = load_previz(shots)
    assert [(s.name, s.aspect_text) for s in previz.shots] == [(s.name, s.aspect_text) for s in board.shots]
    # a name YAML still reads as another value cannot be given back as typed: say to quote it
    shots.write_text("model: m\nshots:\n  - name: 1.10\n    prompt: p\n")
    with pytest.raises(InputError, match=r"shot 1: name 1.1 reads as a value, not text; write it in quotes"):
        load_board(shots)


def test_a_model_that_returns_nan_is_exit_2_naming_the_shot_not_a_black_picture(
    tmp_path_factory, tmp_path, capsys
):
    model = cached_build("text2image-nan", tmp_path_factory.getbasetemp())
    shots = tmp_path / "shots.yaml"
    shots.write_text(SHOTS.format(model=model))
    assert main(["storyboard", str(shots), "-o", str(tmp_path / "board"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert f"aifx: error: shot 010 wide: {model} produced NaN" in err and "dtype: float32" in err
    assert "Traceback" not in err
    assert not (
        tmp_path / "board"
    ).exists()  # (refused on shot 1: the -o folder is made with its first picture)


@pytest.mark.parametrize("declared", ["StableDiffusionInpaintPipeline", "StableDiffusionPipeline"])
def test_an_inpainting_model_is_refused_before_it_loads(tmp_path_factory, tmp_path, capsys, declared):
    """It loaded, then failed on the first step with an internal error ("size of tensor a (9) must match
    ... (4)"). Refused from its declared class, or from its 9-channel UNet when the index names a
    text-to-image class."""
    import json
    import shutil

    from aifx_core.inpaint.models import cached_pipeline_count

    model = tmp_path / "inpaint-model"
    shutil.copytree(cached_build("inpaint", tmp_path_factory.getbasetemp()), model)
    index = json.loads((model / "model_index.json").read_text())
    (model / "model_index.json").write_text(json.dumps({**index, "_class_name": declared}))
    shots = tmp_path / "shots.yaml"
    shots.write_text(SHOTS.format(model=model))
    loaded = cached_pipeline_count()
    assert main(["storyboard", str(shots), "-o", str(tmp_path / "board"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert f"aifx: error: {model} is a" in err and "inpainting model" in err and "text-to-image" in err
    assert "Traceback" not in err and cached_pipeline_count() == loaded


def test_a_class_that_fails_to_load_is_named_with_a_or_an(tiny_text2image, tmp_path, capsys):
    shots = tmp_path / "shots.yaml"
    shots.write_text(SHOTS.format(model=tiny_text2image) + "pipeline_class: AutoencoderKL\n")
    assert main(["storyboard", str(shots), "-o", str(tmp_path / "board"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "could not load it as an AutoencoderKL (" in err and "Traceback" not in err


def test_a_bad_output_is_one_line_before_the_model_loads(tiny_text2image, tmp_path, capsys):
    """-o naming the shot file itself (or any file) was a traceback, exit 1, after the model had loaded; a
    picture whose name a folder holds was a traceback too."""
    from aifx_core.inpaint.models import cached_pipeline_count, clear_cache

    shots = tmp_path / "shots.yaml"
    shots.write_text(SHOTS.format(model=tiny_text2image))
    clear_cache()
    assert main(["storyboard", str(shots), "-o", str(shots), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err == f"aifx: error: {shots}: output folder is a file; choose a folder\n"
    assert cached_pipeline_count() == 0  # refused before loading
    (tmp_path / "board" / "02_020.png").mkdir(parents=True)
    assert main(["storyboard", str(shots), "-o", str(tmp_path / "board"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err  # (after the loader's progress bars)
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"aifx: error: {tmp_path / 'board' / '02_020.png'}: cannot write it (")
    assert "Traceback" not in err


UNICODE_SHOTS = """\
model: {model}
steps: 2
size: 32
title: "Séquence 12 — 夜の灯台"
shots:
  - name: "010 wide"
    prompt: a lighthouse at dusk
  - name: "灯台"
    prompt: 夜の灯台、霧
    camera: 24mm, ゆっくり
  - name: "{cafe}"
    prompt: café scene
  - name: 'a/b: c?'
    prompt: odd name
  - name: "🎬"
    prompt: only an emoji
"""


@pytest.mark.filterwarnings(
    "error:Glyph"
)  # a glyph drawn as a box without the notice naming it fails the run
def test_non_ascii_names_keep_their_letters_and_undrawable_text_is_one_notice(
    tiny_text2image, tmp_path, capsys
):
    """Shot names in other scripts were dropped from the file names (灯台 → 02_shot.png, café_ñ → 03_caf.png),
    so ``image: board/02_灯台.png`` could not exist; CJK text drew as boxes with a warning a glyph. File names
    keep the letters (in NFC, as a café typed in NFD still is ``café``), ASCII names keep the names they had,
    and text no installed font can draw is named in one notice (none on a machine with a CJK font)."""
    import unicodedata

    from matplotlib import font_manager

    shots = tmp_path / "shots.yaml"
    shots.write_text(
        UNICODE_SHOTS.format(model=tiny_text2image, cafe=unicodedata.normalize("NFD", "café_ñ")),
        encoding="utf-8",
    )
    board = tmp_path / "board"
    assert main(["storyboard", str(shots), "-o", str(board), "--device", "cpu"]) == 0
    names = sorted(p.name for p in board.glob("0*.png"))
    assert names == ["01_010_wide.png", "02_灯台.png", "03_café_ñ.png", "04_a_b_c.png", "05_shot.png"]
    assert all(unicodedata.is_normalized("NFC", name) for name in names)
    assert (board / "contact_sheet.png").is_file() and (board / "storyboard.pdf").is_file()
    err = capsys.readouterr().err
    assert "Glyph" not in err
    notices = [line for line in err.splitlines() if "no font on this machine has" in line]
    assert len(notices) <= 1
    named = notices[0].split(" has ")[1].split(";")[0].split() if notices else []
    assert "é" not in named and "ñ" not in named
    assert "の" not in named  # STIXGeneral, which ships with matplotlib, has it: drawn from there
    installed = [font_manager.get_font(entry.fname) for entry in font_manager.fontManager.ttflist]
    if not any(ord("灯") in font.get_charmap() for font in installed):  # CI: no CJK font
        assert notices[0].startswith("aifx: no font on this machine has 夜 灯 台 ゆ っ く り 、 霧;")
        assert "empty boxes in the contact sheet and the PDF" in notices[0]


DOLLAR_SHOTS = """\
model: {model}
steps: 2
size: 32
title: "Budget $5 or $6"
shots:
  - name: "price $\\\\frac{{ in $"
    prompt: a market stall
    camera: "50mm, $ tilt $"
"""


def test_dollar_signs_in_names_and_notes_are_drawn_as_typed_not_read_as_formulas(tiny_text2image, tmp_path):
    """matplotlib reads text between two ``$`` as a formula: a title 'Budget $5 or $6' drew as maths, and a
    name with invalid TeX between two ``$`` raised a ValueError (a traceback) after every picture had been
    generated. A board's text is the artist's prose: it is drawn as typed."""
    shots = tmp_path / "shots.yaml"
    shots.write_text(DOLLAR_SHOTS.format(model=tiny_text2image), encoding="utf-8")
    board = tmp_path / "board"
    assert main(["storyboard", str(shots), "-o", str(board), "--device", "cpu"]) == 0
    assert (board / "contact_sheet.png").is_file() and (board / "storyboard.pdf").is_file()


@pytest.mark.parametrize("command", ["storyboard", "previz"])
@pytest.mark.parametrize(
    ("text", "where", "seed"),
    [
        ("seed: 18446744073709551616\nshots:\n  - {{name: a, prompt: x}}\n", "seed", 2**64),
        ("shots:\n  - {{name: a, prompt: x, seed: 4294967296}}\n", "shot 1: seed", 2**32),
    ],
    ids=["top-level 2**64", "shot 2**32"],
)
def test_a_seed_beyond_fills_range_is_one_line_before_the_model_loads(
    tiny_text2image, tmp_path, capsys, command, text, where, seed
):
    """``seed: 18446744073709551616`` was a traceback and an internal error (exit 1) from torch's manual_seed
    after the model had loaded, and 2**32..2**64-1 were taken, though ``aifx fill --seed`` refuses anything
    outside 0..4294967295. One rule now, fill's, for storyboards and previz."""
    from aifx_core.inpaint.models import cached_pipeline_count
    from aifx_core.storyboard import load_board

    shots = tmp_path / "shots.yaml"
    shots.write_text(f"model: {tiny_text2image}\nsteps: 1\nsize: 32\n" + text.format())
    loaded = cached_pipeline_count()
    assert main([command, str(shots), "-o", str(tmp_path / "out"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == (
        f"aifx: error: {shots}: {where}: must be within 0..4294967295, got {seed}"
    )
    assert cached_pipeline_count() == loaded and not (tmp_path / "out").exists()
    shots.write_text(f"model: {tiny_text2image}\nseed: 4294967295\nshots:\n  - {{name: a, prompt: x}}\n")
    assert load_board(shots).shots[0].seed == 2**32 - 1


@pytest.mark.parametrize("command", ["storyboard", "previz"])
@pytest.mark.parametrize(("value", "shown"), [(".nan", "nan"), ("-3", "-3.0"), (".inf", "inf")])
def test_guidance_must_be_a_number_0_or_more_before_the_model_loads(
    tiny_text2image, tmp_path, capsys, command, value, shown
):
    """``guidance: .nan`` or ``-3`` generated without guidance at all, exit 0, and ``.inf`` made NaN pixels
    blamed on half precision ("try dtype: float32"). Refused now as the fill backends refuse them (one check),
    in one line before the model loads."""
    from aifx_core.inpaint.models import cached_pipeline_count

    shots = tmp_path / "shots.yaml"
    shots.write_text(
        f"model: {tiny_text2image}\nsteps: 1\nsize: 32\nguidance: {value}\nshots:\n  - {{name: a, prompt: x}}\n"
    )
    loaded = cached_pipeline_count()
    assert main([command, str(shots), "-o", str(tmp_path / "out"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == (
        f"aifx: error: {shots}: guidance={shown}: expected a number, 0 or more"
    )
    assert cached_pipeline_count() == loaded and not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["storyboard", "previz"])
@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("prompt", "[lighthouse, dusk]", "['lighthouse', 'dusk']"),
        ("camera", "{lens: 24mm}", "{'lens': '24mm'}"),
        ("prompt", "1917", "1917"),
    ],
)
def test_a_prompt_or_camera_note_that_is_not_text_is_one_line_before_the_model_loads(
    tiny_text2image, tmp_path, capsys, command, field, value, shown
):
    """``prompt: [lighthouse, dusk]`` was sent to the model as the text "['lighthouse', 'dusk']" and
    ``camera: {lens: 24mm}`` written on the sheet as "{'lens': '24mm'}", exit 0, while a list
    ``negative_prompt`` was refused in one line. The three are checked alike now."""
    from aifx_core.inpaint.models import cached_pipeline_count

    shot = {"name": "a", "prompt": "x", field: value}
    lines = "\n    ".join(f"{key}: {text}" for key, text in shot.items())
    shots = tmp_path / "shots.yaml"
    shots.write_text(f"model: {tiny_text2image}\nsteps: 1\nsize: 32\nshots:\n  - {lines}\n")
    loaded = cached_pipeline_count()
    assert main([command, str(shots), "-o", str(tmp_path / "out"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == (
        f"aifx: error: {shots}: shot 1: {field}: expected text, got {shown}; write one line of text (in quotes "
        "if it is a number)"
    )
    assert cached_pipeline_count() == loaded and not (tmp_path / "out").exists()


def test_config_and_cache_dir_are_read_against_the_shot_files_folder_as_the_model_is(
    tiny_text2image, tmp_path, monkeypatch
):
    """``model:`` was read against the shot file's folder, but ``config:`` and ``cache_dir:`` against the folder
    the command ran in: ``cache_dir: hub`` beside the shot file, run from elsewhere offline, said the model was
    not in the Hugging Face cache (exit 2). All three are read against the shot file's folder now; a value that
    names nothing there (a hub id) is kept as typed, as the model's is."""
    import shutil

    from cli_runner import aifx

    from aifx_core.storyboard import load_board

    project = tmp_path / "project"
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = project / "hub" / "models--aifx-tests--tiny-t2i"
    shutil.copytree(tiny_text2image, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    shutil.copytree(tiny_text2image, project / "configs" / "tiny")
    shots = project / "shots.yaml"
    shots.write_text(
        "model: aifx-tests/tiny-t2i\ncache_dir: hub\nsteps: 1\nsize: 32\nshots:\n  - name: a\n    prompt: x\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    offline = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    board = tmp_path / "board"
    done = aifx("storyboard", str(shots), "-o", str(board), "--device", "cpu", cwd=elsewhere, env=offline)
    assert done.returncode == 0, done.stderr
    assert (board / "01_a.png").is_file()
    monkeypatch.chdir(elsewhere)
    shots.write_text(
        "model: weights.safetensors\nconfig: configs/tiny\ncache_dir: hub\n"
        "shots:\n  - name: a\n    prompt: x\n"
    )
    (project / "weights.safetensors").write_bytes(b"")
    options = load_board(shots).options
    assert options["model"] == str(project / "weights.safetensors")
    assert options["config"] == str(project / "configs" / "tiny")
    assert options["cache_dir"] == str(project / "hub")
    shots.write_text("model: acme/sd\nconfig: acme/sd-config\nshots:\n  - name: a\n    prompt: x\n")
    assert load_board(shots).options["config"] == "acme/sd-config"


@pytest.mark.parametrize("command", ["storyboard", "previz"])
@pytest.mark.parametrize(
    ("value", "shown"), [("[lighthouse, dusk]", "['lighthouse', 'dusk']"), ("{a: b}", "{'a': 'b'}")]
)
def test_a_shot_name_that_is_not_text_is_one_line_naming_the_shot(
    tiny_text2image, tmp_path, capsys, command, value, shown
):
    """``name: [lighthouse, dusk]`` was turned into the text "['lighthouse', 'dusk']" without a word, and that
    became the file name (``01_lighthouse_dusk_.png``) and the sheet's caption. It is refused in one line
    naming the shot, before the model loads, as a list prompt is."""
    from aifx_core.inpaint.models import cached_pipeline_count

    shots = tmp_path / "shots.yaml"
    shots.write_text(
        f"model: {tiny_text2image}\nsteps: 1\nsize: 32\nshots:\n  - name: {value}\n    prompt: x\n"
    )
    loaded = cached_pipeline_count()
    assert main([command, str(shots), "-o", str(tmp_path / "out"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == (
        f"aifx: error: {shots}: shot 1: name: expected text, got {shown}; write one line of text (in quotes if "
        "it is a number)"
    )
    assert cached_pipeline_count() == loaded and not (tmp_path / "out").exists()


def test_a_text_to_image_folder_without_its_tokenizer_is_one_line_before_loading(
    tiny_text2image, tmp_path, capsys
):
    """`aifx storyboard` on a text-to-image folder copied without tokenizer/ loaded it (transformers built an
    empty tokenizer) and crashed in the pipeline at the first shot: OverflowError, "internal error", exit 1."""
    import shutil

    model = tmp_path / "no-tokenizer"
    shutil.copytree(tiny_text2image, model)
    shutil.rmtree(model / "tokenizer")
    shots = tmp_path / "shots.yaml"
    shots.write_text(SHOTS.format(model=model))
    assert main(["storyboard", str(shots), "-o", str(tmp_path / "board"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert (
        err.strip().splitlines()[-1].startswith(f"aifx: error: {model.resolve() / 'tokenizer'}/: missing, ")
    )
    assert "Traceback" not in err and not list((tmp_path / "board").glob("*.png"))
