"""Plates whose header says something about their colourspace that aifx cannot follow: a log DPX scan (its
transfer says log, the integer guess is sRGB), a name aifx's pinned config does not know (a studio config's
``LogC4_AWG4``, Blender's ``Filmic Log``). ``aifx info`` says why the guess is a guess, a fill says so in one
note, and an EXR or DPX output does not name the guess as the file's colourspace (a reader then took a log
scan's EXR for sRGB "from the file's colourspace metadata"); a PNG, read as sRGB when it names nothing, names
the guess with the conversion a viewer needs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest
from cli_runner import aifx
from shot_files import read_exr, write_exr

from aifx_core.colour import colorspace_doubt

FRAMES = (1001, 1002)


def _log_scan(folder: Path, transfer: str = "Printing density") -> Path:
    """A 10-bit DPX scan (a log ``transfer``, no colourspace name; OpenImageIO reads "Logarithmic" back with
    oiio:ColorSpace "KodakLog") with an EXR matte, two frames."""
    folder.mkdir()
    for frame in FRAMES:
        spec = oiio.ImageSpec(32, 32, 3, oiio.UINT16)
        spec.attribute("oiio:BitsPerSample", 10)
        spec.attribute("dpx:Transfer", transfer)
        out = oiio.ImageOutput.create(str(folder / f"scan.{frame}.dpx"))
        assert out.open(str(folder / f"scan.{frame}.dpx"), spec), out.geterror()
        assert out.write_image(np.full((32, 32, 3), 0.45, np.float32)) and out.close(), out.geterror()
        matte = np.zeros((32, 32), np.float32)
        matte[10:20, 10:20] = 1.0
        write_exr(folder / f"matte.{frame}.exr", {"Y": matte})
    return folder


def _notes(stderr: str, word: str) -> list[str]:
    return [line for line in stderr.splitlines() if "note:" in line and word in line]


@pytest.mark.parametrize("transfer", ["Printing density", "Logarithmic"])
def test_a_log_dpx_filled_into_exr_and_png_is_not_stamped_srgb(tmp_path, transfer):
    shot = _log_scan(tmp_path / "shot", transfer)
    info = aifx("info", str(shot / "scan.1001.dpx"))
    assert info.returncode == 0, info.stderr
    line = next(line for line in info.stdout.splitlines() if line.startswith("colourspace"))
    assert f"integer data; the DPX says its transfer is {transfer} (log)" in line, line
    for ext in ("exr", "png"):
        out = tmp_path / ext / f"clean.####.{ext}"
        done = aifx("fill", str(shot / "scan.####.dpx"), "-m", str(shot / "matte.####.exr"), "-o", str(out))
        assert done.returncode == 0, done.stderr
        first = Path(str(out).replace("####", "1001"))
        if ext == "exr":
            assert "colorInteropID" not in read_exr(first)[0]
            info = aifx("info", str(first))
            assert info.returncode == 0, info.stderr
            assert "from the file's colourspace metadata" not in info.stdout, info.stdout
        else:  # a PNG reads as sRGB, named or not: the integer guess, no conversion from it to advise
            assert _colourspace_line(first).startswith("colourspace: sRGB Encoded Rec.709"), (
                _colourspace_line(first)
            )
        assert "colorconvert" not in done.stderr, done.stderr
        log_notes = _notes(done.stderr, f"{transfer} (log)")
        assert len(log_notes) == 1 and "--colorspace" in log_notes[0], done.stderr
    # Told the scan's space, the EXR names it and no note doubts it.
    told = aifx(
        "fill", str(shot / "scan.####.dpx"), "-m", str(shot / "matte.####.exr"),
        "-o", str(tmp_path / "told" / "clean.####.exr"), "--colorspace", "ADX10",
    )  # fmt: skip
    assert told.returncode == 0, told.stderr
    assert read_exr(tmp_path / "told" / "clean.1001.exr")[0]["colorInteropID"] == "ocio:adx10_apd_scene"
    assert not _notes(told.stderr, "Printing density"), told.stderr


def _named_exr(folder: Path, **attributes: str) -> Path:
    folder.mkdir()
    for frame in FRAMES:
        px = np.full((16, 16), 0.4, np.float32)
        alpha = np.pad(np.ones((4, 4), np.float32), 6)  # the hole: aifx fill's default matte is the alpha
        write_exr(folder / f"plate.{frame}.exr", {"R": px, "G": px, "B": px, "A": alpha}, **attributes)
    return folder / "plate.####.exr"


def _colourspace_line(path: Path) -> str:
    """``aifx info``'s colourspace line for one file."""
    info = aifx("info", str(path))
    assert info.returncode == 0, info.stderr
    return next(line for line in info.stdout.splitlines() if line.startswith("colourspace"))


def _reads_as_the_linear_guess_with_advice(png: Path, stderr: str) -> None:
    """A PNG without colour chunks reads as sRGB (OpenImageIO's and aifx info's convention), so a linear guess is
    named in it, with the conversion a viewer needs beside the doubt note (unnamed, the linear values read as
    sRGB "from the file's colourspace metadata")."""
    assert _colourspace_line(png).startswith("colourspace: Linear Rec.709"), _colourspace_line(png)
    assert len(_notes(stderr, "oiiotool IN --colorconvert lin_rec709_scene srgb_rec709_scene")) == 1, stderr


def test_an_unknown_colourspace_name_is_said_by_info_and_once_by_the_fill(tmp_path):
    for key, name in (("oiio:ColorSpace", "LogC4_AWG4"), ("colorSpace", "Filmic Log")):
        plate = _named_exr(tmp_path / name, **{key: name})
        info = aifx("info", str(plate).replace("####", "1001"))
        assert info.returncode == 0, info.stderr
        line = next(line for line in info.stdout.splitlines() if line.startswith("colourspace"))
        assert f"names its colourspace '{name}'" in line and "--colorspace" in line, line
        assert "without colourspace metadata" not in line, line
        for ext in ("exr", "png"):
            out = tmp_path / name / ext / f"clean.####.{ext}"
            done = aifx("fill", str(plate), "-o", str(out), "-b", "telea")
            assert done.returncode == 0, done.stderr
            said = _notes(done.stderr, f"'{name}'")
            assert len(said) == 1 and "--colorspace" in said[0], done.stderr
            if (
                ext == "exr"
            ):  # an unnamed EXR reads as "without colourspace metadata": the guess is not stated
                assert "colorInteropID" not in read_exr(Path(str(out).replace("####", "1001")))[0], name
            else:
                _reads_as_the_linear_guess_with_advice(Path(str(out).replace("####", "1001")), done.stderr)


@pytest.mark.parametrize(("name", "space", "interop"), [
    ("Gamma2.2", "Gamma 2.2 Encoded Rec.709", "g22_rec709_scene"),
    ("Gamma1.8", "Gamma 1.8 Encoded Rec.709", "g18_rec709_scene"),
])  # fmt: skip
def test_a_png_whose_gamma_openimageio_names_is_taken_in_the_configs_gamma_space(
    tmp_path, name, space, interop
):
    """OpenImageIO names a PNG's gAMA chunk "Gamma2.2" (or "Gamma1.8"...); the pinned config has that curve as
    "Gamma 2.2 Encoded Rec.709". It was called a name the config does not know (suggesting 'ARRI LogC4' or
    'Raw'), and the EXR output named nothing, read back as linear."""
    path = tmp_path / "plate.1001.png"
    spec = oiio.ImageSpec(32, 32, 4, oiio.UINT8)
    spec.attribute("oiio:ColorSpace", name)  # written as a gAMA chunk, read back as this name
    pixels = np.full((32, 32, 4), 100, np.uint8)
    pixels[10:20, 10:20, 3] = 0  # the hole: aifx fill's default matte is the alpha
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), spec) and out.write_image(pixels) and out.close()
    assert _colourspace_line(path) == f"colourspace: {space}  (from the file's colourspace metadata)"
    done = aifx("fill", str(path), "-o", str(tmp_path / "exr" / "clean.####.exr"), "-b", "telea")
    assert done.returncode == 0, done.stderr
    assert "does not know" not in done.stderr, done.stderr
    exr = tmp_path / "exr" / "clean.1001.exr"
    assert read_exr(exr)[0]["colorInteropID"] == interop
    assert _colourspace_line(exr).startswith(f"colourspace: {space}"), _colourspace_line(exr)


def test_a_png_in_gamma_2_6_is_taken_in_the_configs_gamma_2_6_space_with_its_primaries_doubted(tmp_path):
    """OpenImageIO names a PNG's gAMA of 1/2.6 "Gamma2.6", a curve the pinned config has only with P3-D65
    primaries ("Gamma 2.6 P3-D65 - Display", the DCI masters' curve), not as "g26_rec709": it was a name the
    config does not know, taken as sRGB (a wrong curve) with advice to pass 'ARRI LogC4' or 'Raw'. It is taken in
    the 2.6 curve now, and the note says the primaries are the guess."""
    path = tmp_path / "plate.1001.png"
    spec = oiio.ImageSpec(32, 32, 4, oiio.UINT8)
    spec.attribute("oiio:ColorSpace", "Gamma2.6")
    pixels = np.full((32, 32, 4), 100, np.uint8)
    pixels[10:20, 10:20, 3] = 0
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), spec) and out.write_image(pixels) and out.close()
    line = _colourspace_line(path)
    assert line.startswith(
        "colourspace: Gamma 2.6 P3-D65 - Display  (the file names only its curve, 'Gamma2.6'"
    )
    assert "other primaries than Rec.709" in line and "--colorspace" in line and "ARRI" not in line, line
    done = aifx("fill", str(path), "-o", str(tmp_path / "png" / "clean.####.png"), "-b", "telea")
    assert done.returncode == 0, done.stderr
    assert "does not know" not in done.stderr and len(_notes(done.stderr, "'Gamma2.6'")) == 1, done.stderr
    doubt = colorspace_doubt({"oiio:ColorSpace": "Gamma2.6"}, is_float=False)
    assert doubt is not None and doubt.kind == "gamma_primaries"
    assert colorspace_doubt({"oiio:ColorSpace": "Gamma2.4"}, is_float=False) is None  # (g24_rec709: no doubt)


def test_blenders_non_color_is_raw(tmp_path):
    plate = _named_exr(tmp_path / "noncolor", colorSpace="Non-Color")
    assert _colourspace_line(Path(str(plate).replace("####", "1001"))).startswith("colourspace: Raw")


def test_chromaticities_of_no_standard_space_are_named_as_the_guess_in_a_png_output(tmp_path):
    awg3 = (0.684, 0.313, 0.221, 0.848, 0.0861, -0.102, 0.3127, 0.329)  # ARRI Wide Gamut 3
    plate = _named_exr(tmp_path / "awg3", chromaticities=awg3)
    done = aifx("fill", str(plate), "-o", str(tmp_path / "png" / "clean.####.png"), "-b", "telea")
    assert done.returncode == 0, done.stderr
    assert len(_notes(done.stderr, "chromaticities")) == 1, done.stderr
    _reads_as_the_linear_guess_with_advice(tmp_path / "png" / "clean.1001.png", done.stderr)


def test_the_doubt_says_its_kind_and_a_log_transfer_wins_over_the_name_openimageio_gives_it():
    """OpenImageIO reads a DPX of transfer "Logarithmic" with oiio:ColorSpace "KodakLog", a name the config does
    not know: the log transfer is what the file says, and ``aifx info`` words it as such by the doubt's kind."""
    kodak = colorspace_doubt({"dpx:Transfer": "Logarithmic", "oiio:ColorSpace": "KodakLog"}, is_float=False)
    assert kodak is not None and kodak.kind == "log_transfer" and "Logarithmic (log)" in kodak.text
    named = colorspace_doubt({"oiio:ColorSpace": "LogC4_AWG4"}, is_float=True)
    assert named is not None and named.kind == "unknown_name"
    awg3 = colorspace_doubt(
        {"chromaticities": (0.684, 0.313, 0.221, 0.848, 0.0861, -0.102, 0.3127, 0.329)}, True
    )
    assert awg3 is not None and awg3.kind == "unknown_primaries"
    assert colorspace_doubt({"oiio:ColorSpace": "Gamma2.2"}, is_float=False) is None
