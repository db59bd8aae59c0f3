"""A plate with no main layer (Blender's multilayer EXR: ``ViewLayer.Combined.R``..., one layer per pass): the
beauty layer is filled and every other channel is kept bit for bit; what cannot be decided is refused."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from cli_runner import aifx
from shot_files import read_exr, write_exr

from aifx_core.errors import InputError
from aifx_core.job import FillJob
from aifx_core.pipeline import fill
from aifx_core.sequence.image import Image

FRAMES = (1001, 1002, 1003)
HOLE = (slice(12, 28), slice(20, 40))


def _planes(index: int, layers: tuple[str, ...]) -> dict[str, np.ndarray]:
    yy, xx = np.mgrid[0:40, 0:64].astype(np.float32)
    channels: dict[str, np.ndarray] = {}
    for k, layer in enumerate(layers):
        for c, name in enumerate("RGB"):
            wave = 0.5 + 0.4 * np.sin((xx + 2 * index) / (4 + c + k) + yy / 9)
            channels[f"{layer}.{name}" if layer else name] = (wave * (3 if k == 0 else 1)).astype(np.float16)
    channels["ViewLayer.Combined.A" if layers[0] else "A"] = np.full((40, 64), 1, np.float16)
    channels["ViewLayer.Depth.Z"] = (10 + xx + yy).astype(np.float32)
    return channels


def _shot(folder: Path, layers: tuple[str, ...], main_at: int | None = None) -> Path:
    folder.mkdir()
    for index, frame in enumerate(FRAMES):
        frame_layers = ("",) if index == main_at else layers
        write_exr(folder / f"plate.{frame}.exr", _planes(index, frame_layers))
        matte = np.zeros((40, 64), np.uint8)
        matte[HOLE] = 255
        cv2.imwrite(str(folder / f"mask.{frame}.png"), matte)
    return folder


def _job(shot: Path, out: Path) -> FillJob:
    return FillJob(
        input=str(shot / "plate.####.exr"),
        mask=str(shot / "mask.####.png"),
        output=str(out / "c.####.exr"),
        dilate=0,
        feather=0,
    )


def test_blender_multilayer_plate_fills_its_combined_pass_and_keeps_every_other_channel(tmp_path):
    passes = ("ViewLayer.Combined", "ViewLayer.DiffCol", "ViewLayer.GlossCol")
    shot = _shot(tmp_path / "shot", passes)
    result = fill(_job(shot, tmp_path / "o"))
    assert result.written == list(FRAMES)
    assert result.notices == [
        "note: only ViewLayer.Combined is filled; the layers ViewLayer.DiffCol, ViewLayer.GlossCol are copied "
        "as they are, the object still in them; fill a pass as a plate of its own where it must match"
    ]
    inside = np.zeros((40, 64), bool)
    inside[HOLE] = True
    for frame in FRAMES:
        before, after = (
            read_exr(shot / f"plate.{frame}.exr")[1],
            read_exr(tmp_path / "o" / f"c.{frame}.exr")[1],
        )
        assert sorted(after) == sorted(before)
        for name, plane in before.items():
            same = plane.view(f"u{plane.itemsize}") == after[name].view(f"u{plane.itemsize}")  # bits
            if name in ("ViewLayer.Combined.R", "ViewLayer.Combined.G", "ViewLayer.Combined.B"):
                assert same[~inside].all() and not same[inside].all(), (
                    frame,
                    name,
                )  # filled in the hole only
            else:
                assert same.all(), (frame, name)  # the other passes, alpha and depth: bit for bit


def test_info_says_which_channels_a_fill_changes_and_which_views(tmp_path):
    """``aifx info`` names what a fill will change: the beauty layer of a multilayer render, nothing (and why)
    where no layer holds colour, and of a stereo plate the view that is filled and the ones that are not."""
    shot = _shot(tmp_path / "shot", ("ViewLayer.Combined", "ViewLayer.DiffCol"))
    info = aifx("info", str(shot / "plate.1001.exr"))
    assert info.returncode == 0 and "fills:       ViewLayer.Combined.{R,G,B}\n" in info.stdout, info.stdout
    write_exr(tmp_path / "z.exr", {"Z": np.zeros((4, 4), np.float32)})
    none = aifx("info", str(tmp_path / "z.exr"))
    assert none.returncode == 0 and "fills:       nothing: no R,G,B (or Y) channels, found Z;" in none.stdout
    views = {c: np.zeros((4, 4), np.float16) for c in ("R", "G", "B", "right.R", "right.G", "right.B")}
    write_exr(tmp_path / "s.exr", views, multiView=["left", "right"])
    stereo = aifx("info", str(tmp_path / "s.exr"))
    assert "views:       left (filled), right (copied as they are)" in stereo.stdout, stereo.stdout


def test_render_passes_beside_the_main_layer_are_named_as_not_filled(tmp_path):
    """AOV layers (``diffuse.R``...) beside the main R,G,B are copied through with the object in them: said
    once; a plate without such layers (depth and alpha only) says nothing."""
    shot = _shot(tmp_path / "shot", ("", "diffuse"))
    result = fill(_job(shot, tmp_path / "o"))
    assert [n for n in result.notices if "only R,G,B is filled; the layers diffuse are copied" in n], (
        result.notices
    )
    plain = fill(_job(_shot(tmp_path / "plain", ("",)), tmp_path / "p"))
    assert plain.notices == []


@pytest.mark.parametrize("spelling", [("red", "green", "blue"), ("r", "g", "b")])
def test_a_colour_pass_spelt_as_nuke_or_in_lower_case_is_named_and_kept(tmp_path, spelling):
    """Nuke's Write names a layer's channels as Nuke does (``diffuse.red``, ``.green``, ``.blue``; some
    renderers write ``diffuse.r``): such a colour AOV kept the removed object with no note, the core knowing only
    ``diffuse.R``. It is named as one now (the fill and ``aifx info``) and comes through bit for bit."""
    shot = tmp_path / "shot"
    shot.mkdir()
    for index, frame in enumerate(FRAMES):
        planes = _planes(index, ("", "diffuse"))
        renamed = {}
        for name, plane in planes.items():
            layer, _, channel = name.rpartition(".")
            renamed[f"diffuse.{spelling['RGB'.index(channel)]}" if layer == "diffuse" else name] = plane
        write_exr(shot / f"plate.{frame}.exr", renamed)
        matte = np.zeros((40, 64), np.uint8)
        matte[HOLE] = 255
        cv2.imwrite(str(shot / f"mask.{frame}.png"), matte)
    result = fill(_job(shot, tmp_path / "o"))
    assert result.notices == [
        "note: only R,G,B is filled; the layers diffuse are copied as they are, the object still in them; fill a "
        "pass as a plate of its own where it must match"
    ]
    for frame in FRAMES:
        before, after = (
            read_exr(shot / f"plate.{frame}.exr")[1],
            read_exr(tmp_path / "o" / f"c.{frame}.exr")[1],
        )
        for name in ("diffuse." + c for c in spelling):
            assert before[name].tobytes() == after[name].tobytes(), (frame, name)
    info = aifx("info", str(shot / "plate.1001.exr"))
    assert info.returncode == 0 and "diffuse" in info.stdout.split("fills:", 1)[1], info.stdout


def test_blender_5_multilayer_passes_in_parts_of_their_own_are_kept_and_named(tmp_path):
    """Blender 5 writes a multilayer render as a part per pass (``ViewLayer.Combined``, ``ViewLayer.Depth``,
    ``ViewLayer.DiffCol``...): the Combined part is filled, every other part comes back bit for bit, and a
    colour pass among them, the object still in it, is named by the fill's notice and by ``aifx info`` (it
    used to look at the first part's channels only and say nothing)."""
    import OpenEXR

    shot = tmp_path / "shot"
    shot.mkdir()
    base = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    for index, frame in enumerate(FRAMES):
        planes = _planes(index, ("ViewLayer.Combined", "ViewLayer.DiffCol"))
        by_pass: dict[str, dict[str, np.ndarray]] = {}
        for name, plane in planes.items():
            by_pass.setdefault(name.rpartition(".")[0], {})[name] = plane
        parts = [OpenEXR.Part(dict(base), channels, name) for name, channels in by_pass.items()]
        OpenEXR.File(parts).write(str(shot / f"plate.{frame}.exr"))
        matte = np.zeros((40, 64), np.uint8)
        matte[HOLE] = 255
        cv2.imwrite(str(shot / f"mask.{frame}.png"), matte)
    assert list(by_pass) == ["ViewLayer.Combined", "ViewLayer.DiffCol", "ViewLayer.Depth"]
    result = fill(_job(shot, tmp_path / "o"))
    assert result.notices == [
        "note: only ViewLayer.Combined is filled; the layers ViewLayer.DiffCol are copied as they are, the "
        "object still in them; fill a pass as a plate of its own where it must match"
    ]
    for frame in FRAMES:
        with (
            OpenEXR.File(str(shot / f"plate.{frame}.exr"), separate_channels=True) as before,
            OpenEXR.File(str(tmp_path / "o" / f"c.{frame}.exr"), separate_channels=True) as after,
        ):
            assert [p.name() for p in after.parts] == [p.name() for p in before.parts]
            for old, new in zip(before.parts[1:], after.parts[1:], strict=True):
                for name, channel in old.channels.items():
                    assert channel.pixels.tobytes() == new.channels[name].pixels.tobytes(), (frame, name)
            combined = before.parts[0].channels["ViewLayer.Combined.R"].pixels
            assert not np.array_equal(after.parts[0].channels["ViewLayer.Combined.R"].pixels, combined)
    info = aifx("info", str(shot / "plate.1001.exr"))
    assert info.returncode == 0, info.stderr
    assert "passes:      ViewLayer.DiffCol (colour, copied as they are)\n" in info.stdout, info.stdout
    assert "the first is filled, the others copied as they are" in info.stdout


def test_one_layer_with_colour_is_the_colour_whatever_its_name():
    image = Image(_planes(0, ("beauty",)))
    assert image.colour_names() == ("beauty.R", "beauty.G", "beauty.B")
    assert Image(_planes(0, ("",))).colour_names() == ("R", "G", "B")  # a main layer comes first


def test_several_layers_with_colour_and_no_beauty_are_refused_with_what_to_do(tmp_path):
    shot = _shot(tmp_path / "shot", ("diffuse", "specular"))
    done = aifx(
        "fill",
        str(shot / "plate.####.exr"),
        "-m",
        str(shot / "mask.####.png"),
        "-o",
        str(tmp_path / "o" / "c.####.exr"),
    )
    assert done.returncode == 2, done.stderr
    assert "plate.1001.exr: no main layer (R,G,B) and 2 layers with colour (diffuse, specular)" in done.stderr
    assert "oiiotool" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").glob("c.*.exr"))


def test_a_grey_frame_among_colour_ones_is_the_main_layer_too_and_fills(tmp_path):
    """One luminance-only (``Y``) frame among ``R,G,B`` ones is in the same (main) layer: it fills, keeping its
    own channels, as before multilayer plates were read."""
    shot = _shot(tmp_path / "shot", ("",))
    grey = {"Y": _planes(1, ("",))["G"], "A": np.ones((40, 64), np.float16)}
    write_exr(shot / "plate.1002.exr", grey)
    result = fill(_job(shot, tmp_path / "o"))
    assert result.written == list(FRAMES)
    assert sorted(read_exr(tmp_path / "o" / "c.1002.exr")[1]) == ["A", "Y"]


def test_a_luminance_chroma_plate_is_refused_not_filled_in_y_alone(tmp_path):
    """A luminance/chroma EXR at full resolution (Y, RY, BY) was filled in Y only, exit 0: RY and BY kept the
    removed object's colour inside the hole, and only ``aifx info`` ("fills: Y") said so. The fill cannot take
    RY/BY as colour (they are signed differences, not R,G,B: the colourspace handling and the generative
    backends would treat them as colour), so such a plate is refused before any work, in one line with the fix,
    as a sub-sampled one is; ``aifx info`` says why it fills nothing."""
    shot = _shot(tmp_path / "shot", ("",))
    for frame in FRAMES:
        rgb = read_exr(shot / f"plate.{frame}.exr")[1]
        y = 0.3 * rgb["R"] + 0.6 * rgb["G"] + 0.1 * rgb["B"]
        write_exr(shot / f"plate.{frame}.exr", {"Y": y, "RY": rgb["R"] - y, "BY": rgb["B"] - y})
    job = _job(shot, tmp_path / "o")
    done = aifx("fill", job.input, "-m", str(job.mask), "-o", job.output)
    assert done.returncode == 2, done.stderr
    why = (
        "luminance/chroma EXR (Y, RY, BY): aifx fills Y only, and RY, BY would keep the removed object's colour "
        "in the hole; convert it to R,G,B first"
    )
    assert done.stderr.splitlines() == [f"aifx: error: {shot / 'plate.1001.exr'}: {why}"]
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())
    told = aifx("info", str(shot / "plate.1001.exr"))
    assert told.returncode == 0 and f"fills:       nothing: {why}" in told.stdout, told.stdout


def test_a_frame_whose_colour_is_in_other_channels_is_refused_by_name(tmp_path):
    shot = _shot(tmp_path / "shot", ("ViewLayer.Combined",), main_at=1)
    with pytest.raises(InputError) as caught:
        fill(_job(shot, tmp_path / "o"))
    message = str(caught.value)
    assert message.startswith(f"{shot / 'plate.1002.exr'}: its colour is R,G,B, frame 1001's is ")
    assert "ViewLayer.Combined.R,ViewLayer.Combined.G,ViewLayer.Combined.B" in message


def test_the_refusals_oiiotool_advice_names_an_alpha_the_file_has():
    # A bare "A" the file lacks is made by oiiotool as zeros: the fill's default matte then covers nothing.
    passes = {f"{layer}.{c}": np.zeros((4, 4), np.float16) for layer in ("beauty", "diffuse") for c in "RGBA"}
    with pytest.raises(InputError, match=r"--ch R=beauty\.R,G=beauty\.G,B=beauty\.B,A=beauty\.A -o"):
        Image(passes).colour_names()
    no_alpha = {name: plane for name, plane in passes.items() if not name.endswith(".A")}
    with pytest.raises(InputError, match=r"--ch R=beauty\.R,G=beauty\.G,B=beauty\.B -o"):
        Image(no_alpha).colour_names()
    with pytest.raises(InputError, match=r"--ch R=beauty\.R,G=beauty\.G,B=beauty\.B,A -o"):
        Image({**no_alpha, "A": np.zeros((4, 4), np.float16)}).colour_names()
    # Lower-case r,g,b,a: the advice says how to name them as aifx reads them.
    lower = {c: np.zeros((4, 4), np.float16) for c in "rgba"}
    with pytest.raises(InputError, match=r"named R,G,B \(e\.g\. oiiotool IN --ch R=r,G=g,B=b,A=a -o OUT\)"):
        Image(lower).colour_names()
