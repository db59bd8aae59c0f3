"""Plates whose header says something about their colourspace that aifx cannot follow: a log DPX scan (its
transfer says log, the integer guess is sRGB), a name aifx's pinned config does not know (a studio config's
``LogC4_AWG4``, Blender's ``Non-Color``, OpenImageIO's ``Gamma2.2`` of a PNG's gAMA). ``aifx info`` says why the
guess is a guess, a fill says so in one note, and an output in another format does not name the guess as the
file's colourspace (a reader then took a log scan's EXR for sRGB "from the file's colourspace metadata")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import OpenImageIO as oiio
from cli_runner import aifx
from shot_files import read_exr, write_exr

FRAMES = (1001, 1002)


def _log_scan(folder: Path) -> Path:
    """A 10-bit DPX scan (transfer "Printing density", no colourspace name) with an EXR matte, two frames."""
    folder.mkdir()
    for frame in FRAMES:
        spec = oiio.ImageSpec(32, 32, 3, oiio.UINT16)
        spec.attribute("oiio:BitsPerSample", 10)
        spec.attribute("dpx:Transfer", "Printing density")
        out = oiio.ImageOutput.create(str(folder / f"scan.{frame}.dpx"))
        assert out.open(str(folder / f"scan.{frame}.dpx"), spec), out.geterror()
        assert out.write_image(np.full((32, 32, 3), 0.45, np.float32)) and out.close(), out.geterror()
        matte = np.zeros((32, 32), np.float32)
        matte[10:20, 10:20] = 1.0
        write_exr(folder / f"matte.{frame}.exr", {"Y": matte})
    return folder


def _png_colour_chunks(path: Path) -> set[bytes]:
    """The chunks of a PNG that say its colourspace (sRGB, gAMA, cHRM, iCCP). OpenImageIO reads a PNG without
    them as "sRGB" all the same (the PNG convention), so the name it reports cannot tell what aifx wrote."""
    data, found, at = path.read_bytes(), set(), 8
    while at + 8 <= len(data):
        length, kind = int.from_bytes(data[at : at + 4], "big"), data[at + 4 : at + 8]
        found.add(kind)
        at += 12 + length
    return found & {b"sRGB", b"gAMA", b"cHRM", b"iCCP"}


def _notes(stderr: str, word: str) -> list[str]:
    return [line for line in stderr.splitlines() if "note:" in line and word in line]


def test_a_log_dpx_filled_into_exr_and_png_is_not_stamped_srgb(tmp_path):
    shot = _log_scan(tmp_path / "shot")
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
        else:
            assert not _png_colour_chunks(first), _png_colour_chunks(first)
        assert "colorconvert" not in done.stderr, done.stderr
        log_notes = _notes(done.stderr, "Printing density (log)")
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


def test_an_unknown_colourspace_name_is_said_by_info_and_once_by_the_fill(tmp_path):
    for key, name in (("oiio:ColorSpace", "LogC4_AWG4"), ("colorSpace", "Non-Color")):
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
            if ext == "png":  # the output does not state the guess as the plate's colourspace
                assert not _png_colour_chunks(Path(str(out).replace("####", "1001"))), name


def test_a_png_whose_gamma_openimageio_names_is_not_called_without_metadata(tmp_path):
    path = tmp_path / "gamma.png"
    spec = oiio.ImageSpec(8, 8, 3, oiio.UINT8)
    spec.attribute("oiio:ColorSpace", "Gamma2.2")  # written as a gAMA chunk, read back as this name
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), spec) and out.write_image(np.full((8, 8, 3), 100, np.uint8)) and out.close()
    info = aifx("info", str(path))
    assert info.returncode == 0, info.stderr
    line = next(line for line in info.stdout.splitlines() if line.startswith("colourspace"))
    assert "names its colourspace 'Gamma2.2'" in line and "without colourspace metadata" not in line, line


def test_chromaticities_of_no_standard_space_name_nothing_in_a_png_output(tmp_path):
    awg3 = (0.684, 0.313, 0.221, 0.848, 0.0861, -0.102, 0.3127, 0.329)  # ARRI Wide Gamut 3
    plate = _named_exr(tmp_path / "awg3", chromaticities=awg3)
    done = aifx("fill", str(plate), "-o", str(tmp_path / "png" / "clean.####.png"), "-b", "telea")
    assert done.returncode == 0, done.stderr
    assert len(_notes(done.stderr, "chromaticities")) == 1, done.stderr
    assert not _png_colour_chunks(tmp_path / "png" / "clean.1001.png")
