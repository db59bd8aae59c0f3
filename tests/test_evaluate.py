"""``aifx eval`` end to end on tiny EXR and PNG sequences written with OpenEXR/OpenCV directly."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import OpenEXR
import pytest

from aifx_core.cli import main
from aifx_core.evaluate import EVAL_FILES, default_out_dir, evaluate, write_outputs

WIDTH, HEIGHT, FRAMES = 64, 48, 5


def _texture(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    big = cv2.GaussianBlur(rng.random((HEIGHT + 20, WIDTH + 40, 3)).astype(np.float32), (0, 0), 2.0)
    return (big - big.min()) / (big.max() - big.min())


def _hole() -> np.ndarray:
    hole = np.zeros((HEIGHT, WIDTH), bool)
    hole[15:30, 20:40] = True
    return hole


def _write_exr(path: Path, rgb: np.ndarray) -> None:
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    channels = {name: rgb[..., i].astype(np.float16) for i, name in enumerate("RGB")}
    OpenEXR.File(header, channels).write(str(path))


def _write_png(path: Path, rgb: np.ndarray) -> None:
    cv2.imwrite(str(path), cv2.cvtColor(np.rint(rgb * 255).astype(np.uint8), cv2.COLOR_RGB2BGR))


def make_shot(folder: Path, ext: str = "exr", fill_value: float | None = 0.5) -> Path:
    """truth.####, result.#### (truth with the hole replaced by noisy grey) and mask.####.png, 2 px pan."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    big = _texture()
    hole = _hole()
    write = _write_exr if ext == "exr" else _write_png
    for i in range(FRAMES):
        truth = big[5 : 5 + HEIGHT, 2 * i : 2 * i + WIDTH].copy()
        result = truth.copy()
        if fill_value is not None:
            result[hole] = np.clip(fill_value + 0.05 * rng.standard_normal((int(hole.sum()), 3)), 0, 1)
        write(folder / f"truth.{1001 + i:04d}.{ext}", truth)
        write(folder / f"result.{1001 + i:04d}.{ext}", result)
        cv2.imwrite(str(folder / f"mask.{1001 + i:04d}.png"), hole.astype(np.uint8) * 255)
    return folder


def test_eval_with_reference_writes_plot_sheet_and_json(tmp_path, capsys):
    shot = make_shot(tmp_path / "shot")
    out = tmp_path / "report"
    code = main(
        [
            "eval",
            str(shot / "result.####.exr"),
            "--reference",
            str(shot / "truth.####.exr"),
            "--mask",
            str(shot / "mask.####.png"),
            "--plate",
            str(shot / "truth.####.exr"),
            "--out",
            str(out),
            "--json",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    summary = report["summary"]
    assert report["frame_count"] == FRAMES
    # The fill is wrong inside the hole only: hole PSNR is lower than full-frame PSNR, both finite.
    assert 10 < summary["psnr_hole"] < summary["psnr"] < 60
    assert 0 < summary["ssim_hole"] < summary["ssim"] < 1
    assert summary["ewarp_hole"] > summary["ewarp"] > 0
    for name in ("per_frame.png", "contact_sheet.png", "metrics.json"):
        assert (out / name).stat().st_size > 0
    sheet = cv2.imread(str(out / "contact_sheet.png"))
    thumb_h = round(HEIGHT * 360 / WIDTH)
    assert (sheet.shape[0] - 32) // (thumb_h + 4) == 4  # before (--plate), after, truth, mask
    assert sheet.shape[1] > 4 * 360  # four frames
    assert json.loads((out / "metrics.json").read_text())["summary"] == summary


def test_eval_of_a_perfect_result_reports_infinite_psnr(tmp_path, capsys):
    shot = make_shot(tmp_path / "shot", fill_value=None)
    report = evaluate(
        str(shot / "result.####.exr"), str(shot / "truth.####.exr"), str(shot / "mask.####.png")
    )
    assert report.summary["psnr"] == math.inf and report.summary["psnr_hole"] == math.inf
    assert report.summary["ssim_hole"] == pytest.approx(1.0)
    assert main(["eval", str(shot / "result.####.exr"), "--reference", str(shot / "truth.####.exr"),
                 "--out", str(tmp_path / "o"), "--json"]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)["summary"]["psnr"] == "inf"


def test_eval_without_reference_reports_stability_only(tmp_path, capsys):
    shot = make_shot(tmp_path / "shot", ext="png")
    code = main(["eval", str(shot / "result.####.png"), "--mask", str(shot / "mask.####.png"), "--per-frame"])
    assert code == 0
    text = capsys.readouterr().out
    assert "no reference" in text and "PSNR" not in text and "hole E_warp" in text
    lines = [line for line in text.splitlines() if line.strip().split(" ")[0].isdigit()]
    assert len(lines) == FRAMES  # one line per frame
    # Default output folder: aifx_eval/ beside the result.
    assert (shot / "aifx_eval" / "per_frame.png").exists()
    assert default_out_dir(str(shot / "result.####.png")) == shot / "aifx_eval"


def test_eval_help_says_the_default_folder_is_beside_the_result(capsys):
    """--out's help said '(default: aifx_eval/)', read as a folder where aifx eval runs; it is made beside
    the result (default_out_dir)."""
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    shown = " ".join(capsys.readouterr().out.split())  # (argparse wraps the help)
    assert "(default: aifx_eval/ beside the result)" in shown
    assert "1001-1100x2" in shown


def test_flicker_raises_in_hole_ewarp_without_reference(tmp_path):
    steady = make_shot(tmp_path / "steady", fill_value=None)
    noisy = make_shot(tmp_path / "noisy", fill_value=0.5)
    mask = str(steady / "mask.####.png")
    calm = evaluate(str(steady / "result.####.exr"), mask=mask).summary["ewarp_hole"]
    flicker = evaluate(str(noisy / "result.####.exr"), mask=str(noisy / "mask.####.png")).summary[
        "ewarp_hole"
    ]
    assert flicker > 5 * calm


def test_frames_option_limits_the_range(tmp_path):
    shot = make_shot(tmp_path / "shot")
    report = evaluate(str(shot / "result.####.exr"), str(shot / "truth.####.exr"), frames="1002-1003")
    assert [f.frame for f in report.frames] == [1002, 1003]


def test_a_reference_gap_the_result_does_not_need_is_not_refused(tmp_path):
    """The reference was opened over its own range, so a gap outside the result's frames refused the score."""
    shot = make_shot(tmp_path / "shot")
    last = 1000 + FRAMES
    (shot / f"truth.{last}.exr").rename(shot / "truth.1100.exr")  # past the result, with a gap before it
    (shot / f"result.{last}.exr").unlink()
    report = evaluate(str(shot / "result.####.exr"), str(shot / "truth.####.exr"))
    assert [f.frame for f in report.frames] == list(range(1001, last))


@pytest.mark.parametrize(
    "problem",
    ["missing result", "missing reference frames", "reference size", "mask size", "threshold"],
)
def test_bad_input_exits_2(tmp_path, capsys, problem):
    shot = make_shot(tmp_path / "shot")
    result, truth, mask = (
        str(shot / f"{n}.####.{e}") for n, e in (("result", "exr"), ("truth", "exr"), ("mask", "png"))
    )
    args = ["eval", result, "--reference", truth, "--out", str(tmp_path / "o")]
    if problem == "missing result":
        args[1] = str(shot / "nothing.####.exr")
    elif problem == "missing reference frames":
        (shot / "truth.1005.exr").unlink()
    elif problem == "reference size":
        _write_exr(shot / "truth.1003.exr", np.zeros((HEIGHT // 2, WIDTH, 3), np.float32))
    elif problem == "mask size":
        cv2.imwrite(str(shot / "mask.1002.png"), np.zeros((10, 10), np.uint8))
        args += ["--mask", mask]
    elif problem == "threshold":
        args += ["--threshold", "2"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("aifx: error:") and "Traceback" not in err


def test_the_hole_scored_is_the_fills_a_matte_at_the_threshold_included(tmp_path):
    """aifx fill counts a matte value at the threshold as hole, aifx eval counted only those above it: an EXR
    matte of exactly 0.5 was scored as no hole at all."""
    shot = make_shot(tmp_path / "shot")
    for path in sorted(shot.glob("mask.*.png")):
        half = (cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) > 0).astype(np.float16) * np.float16(0.5)
        OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION}, {"Y": half}).write(
            str(path.with_suffix(".exr"))
        )
    at_half = evaluate(
        str(shot / "result.####.exr"), str(shot / "truth.####.exr"), str(shot / "mask.####.exr")
    )
    whole = evaluate(str(shot / "result.####.exr"), str(shot / "truth.####.exr"), str(shot / "mask.####.png"))
    assert [f.psnr_hole for f in at_half.frames] == [f.psnr_hole for f in whole.frames]
    assert not any(math.isnan(f.psnr_hole) for f in whole.frames)


def test_python_callers_give_paths_and_frame_numbers_as_they_do_to_fill(tmp_path):
    """``evaluate(frames=[1001, 1002])`` and ``info(frames=1001)`` failed with an AttributeError; a
    ``pathlib.Path`` stayed in the report, whose JSON then failed after two of write_outputs' three files."""
    from aifx_core import info
    from aifx_core.evaluate import write_outputs

    shot = make_shot(tmp_path / "shot")
    report = evaluate(shot / "result.####.exr", shot / "truth.####.exr", shot / "mask.####.png", [1001, 1002])
    assert [f.frame for f in report.frames] == [1001, 1002]
    assert report.result == str(shot / "result.####.exr")
    json.dumps(report.to_dict())
    files = write_outputs(report, tmp_path / "eval")
    assert sorted(files) == ["contact_sheet", "json", "plot"] and Path(files["json"]).is_file()
    assert info(str(shot / "result.####.exr"), frames=1002)["requested"] == [1002]
    assert evaluate(str(shot / "result.####.exr"), frames=1003).frames[0].frame == 1003


def test_a_linear_exr_reference_of_a_png_result_is_decoded_as_linear(tmp_path):
    """The reference is read in its own colourspace: the same picture stored as scene-linear EXR and as an sRGB
    PNG is a match outside the hole (it scored 11 dB when the EXR was read as sRGB like the result)."""
    shot = make_shot(tmp_path / "shot", "png")
    for i in range(FRAMES):
        bgr = cv2.imread(str(shot / f"truth.{1001 + i:04d}.png"))
        srgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
        linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
        header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
        channels = {name: linear[..., c].astype(np.float32) for c, name in enumerate("RGB")}
        OpenEXR.File(header, channels).write(str(shot / f"linear.{1001 + i:04d}.exr"))
    as_png = evaluate(shot / "result.####.png", shot / "truth.####.png", shot / "mask.####.png")
    as_exr = evaluate(shot / "result.####.png", shot / "linear.####.exr", shot / "mask.####.png")
    assert as_exr.summary["psnr"] == pytest.approx(as_png.summary["psnr"], abs=0.5)
    assert as_exr.summary["psnr_hole"] == pytest.approx(as_png.summary["psnr_hole"], abs=0.5)
    assert as_exr.reference_colorspace != as_exr.colorspace
    files = write_outputs(as_exr, tmp_path / "eval")
    assert json.loads(Path(files["json"]).read_text())["reference_colorspace"] == as_exr.reference_colorspace


def test_a_bright_png_result_and_its_linear_exr_truth_are_the_same_picture_on_scores_and_sheet(tmp_path):
    """Decoded each in its own space, the two still went to the display through their own space's curve: the
    scene-linear one through the highlight roll-off, the sRGB one not, so a bright sky (display 0.8-1.0) scored
    29 dB against itself and its truth row looked dimmer than the result. The truth is now converted into the
    result's colourspace first."""
    from aifx_core.contact_sheet import _GAP, _LABEL_WIDTH, _TITLE_HEIGHT

    shot = tmp_path / "shot"
    shot.mkdir()
    for i in range(FRAMES):
        display = np.rint((0.8 + 0.2 * _texture(i)[:HEIGHT, :WIDTH]) * 255) / 255
        _write_png(shot / f"result.{1001 + i:04d}.png", display)
        cv2.imwrite(str(shot / f"mask.{1001 + i:04d}.png"), _hole().astype(np.uint8) * 255)
        linear = np.where(display <= 0.04045, display / 12.92, ((display + 0.055) / 1.055) ** 2.4)
        header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
        channels = {name: linear[..., c].astype(np.float32) for c, name in enumerate("RGB")}
        OpenEXR.File(header, channels).write(str(shot / f"linear.{1001 + i:04d}.exr"))
    report = evaluate(shot / "result.####.png", shot / "linear.####.exr", shot / "mask.####.png")
    assert report.summary["psnr"] > 60 and report.summary["ssim"] > 0.9999, report.summary
    sheet = cv2.imread(write_outputs(report, tmp_path / "eval")["contact_sheet"])
    thumb_h = round(HEIGHT * 360 / WIDTH)
    after_row = sheet[_TITLE_HEIGHT : _TITLE_HEIGHT + thumb_h, _LABEL_WIDTH + _GAP :]
    truth_top = _TITLE_HEIGHT + thumb_h + _GAP
    truth_row = sheet[truth_top : truth_top + thumb_h, _LABEL_WIDTH + _GAP :]
    assert np.abs(after_row.astype(int) - truth_row.astype(int)).max() <= 2


def test_ewarp_pairs_no_frames_across_a_gap_in_the_frames_scored(tmp_path):
    """``--frames 1001-1002,1005`` scores the pair 1001-1002 only: 1002 -> 1005 is not a neighbour's motion
    (its error, counted as a pair, doubled the mean); a sequence on a step of two keeps its pairs."""
    shot = make_shot(tmp_path / "shot", "png")
    gap = evaluate(
        shot / "result.####.png", shot / "truth.####.png", shot / "mask.####.png", "1001-1002,1005"
    )
    whole = evaluate(shot / "result.####.png", shot / "truth.####.png", shot / "mask.####.png")
    assert [f.frame for f in gap.frames] == [1001, 1002, 1005]
    assert math.isnan(gap.frames[1].ewarp) and math.isnan(gap.frames[1].ewarp_hole)
    assert gap.summary["ewarp"] == pytest.approx(whole.frames[0].ewarp)
    twos = evaluate(shot / "result.####.png", shot / "truth.####.png", frames="1001-1005x2")
    assert [math.isnan(f.ewarp) for f in twos.frames] == [False, False, True]


def test_a_result_with_overscan_or_a_bbox_is_scored_in_its_display_window(tmp_path):
    """aifx fill keeps the plate's data window: an overscan frame was refused as "80x60, not 64x48" against its
    reference, and frames of different data windows failed in E_warp with a ValueError traceback."""
    cv2.imwrite(str(tmp_path / "mask.png"), _hole().astype(np.uint8) * 255)
    display = (0, 0, WIDTH - 1, HEIGHT - 1)
    datas = [(-8, -6, WIDTH + 7, HEIGHT + 5), (4, 3, WIDTH - 5, HEIGHT - 4), display]
    big = _texture()
    for i, data in enumerate(datas):
        x0, y0, x1, y1 = data
        framed = np.zeros((HEIGHT + 40, WIDTH + 40, 3), np.float32)
        framed[20 + y0 : 21 + y1, 20 + x0 : 21 + x1] = big[: y1 - y0 + 1, 2 * i : 2 * i + x1 - x0 + 1]
        for name, window in (("result", data), ("truth", display)):
            x0, y0, x1, y1 = window
            header = {
                "compression": OpenEXR.ZIP_COMPRESSION,
                "type": OpenEXR.scanlineimage,
                "dataWindow": (np.array(window[:2], np.int32), np.array(window[2:], np.int32)),
                "displayWindow": (np.array(display[:2], np.int32), np.array(display[2:], np.int32)),
            }
            plane = framed[20 + y0 : 21 + y1, 20 + x0 : 21 + x1]
            channels = {n: np.ascontiguousarray(plane[..., c]) for c, n in enumerate("RGB")}
            OpenEXR.File(header, channels).write(str(tmp_path / f"{name}.{1001 + i}.exr"))
    scored = evaluate(tmp_path / "result.####.exr", tmp_path / "truth.####.exr", tmp_path / "mask.png")
    assert [f.psnr for f in scored.frames] == [math.inf] * 3
    alone = evaluate(tmp_path / "result.####.exr", mask=tmp_path / "mask.png")
    assert all(math.isfinite(f.ewarp) for f in alone.frames[:2])


def test_the_contact_sheet_outlines_the_hole_scored_at_the_threshold_given(tmp_path):
    """With a soft-edged mask and --threshold 0.1 the numbers took the wide hole, but the sheet's mask row (and
    outline) showed the matte cut at 0.5."""
    shot = make_shot(tmp_path / "shot", "png")
    soft = cv2.GaussianBlur(_hole().astype(np.float32), (0, 0), 4.0)
    cv2.imwrite(str(shot / "soft.png"), np.rint(soft * 255).astype(np.uint8))
    white = []
    for threshold in (0.1, 0.9):
        report = evaluate(shot / "result.####.png", mask=shot / "soft.png", threshold=threshold)
        sheet = cv2.imread(write_outputs(report, tmp_path / f"eval{threshold}")["contact_sheet"])
        mask_row = sheet[-(sheet.shape[0] - 28) // 2 :]  # the lower of the two rows (after, mask)
        white.append(int((mask_row.min(axis=-1) > 200).sum()))
        assert (
            json.loads((tmp_path / f"eval{threshold}" / "metrics.json").read_text())["threshold"] == threshold
        )
    assert white[0] > 1.5 * white[1], white


def _folders_of_one_shot(tmp_path: Path) -> dict[str, Path]:
    """The shot of :func:`make_shot` as four folders of frames, each named by the eval role it is given as."""
    import shutil

    shot = make_shot(tmp_path / "shot", "png")
    folders = {}
    for role, name in (("result", "result"), ("reference", "truth"), ("plate", "truth"), ("mask", "mask")):
        folder = folders[role] = tmp_path / role
        folder.mkdir()
        for path in shot.glob(f"{name}.*.png"):
            shutil.copy(path, folder / path.name)
    shutil.rmtree(shot)
    return folders


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("role", ["result", "reference", "plate", "mask"])
def test_eval_files_into_a_folder_given_as_an_input_are_refused_before_anything_is_written(tmp_path, role):
    """``aifx eval res/ --out res/`` wrote per_frame.png into the result folder, then stopped on
    "per_frame.png has no frame number" (exit 2), and from then on res/ could not be read as a sequence by
    eval or fill. Like aifx fill's side outputs, every file eval writes is checked against the folders its
    inputs were given as before the first write; with --out elsewhere the same command scores the folders."""
    from cli_runner import aifx

    folders = _folders_of_one_shot(tmp_path)
    args = ["eval", f"{folders['result']}/"]
    for other in ("reference", "plate", "mask"):
        args += [f"--{other}", str(folders[other])]
    before = _tree(tmp_path)
    done = aifx(*args, "--out", str(folders[role]))
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"goes into the {role} folder" in lines[0] and "(--out)" in lines[0], lines[0]
    assert f"give the {role} as a pattern" in lines[0], lines[0]
    assert _tree(tmp_path) == before  # nothing written, nothing made
    done = aifx(*args, "--out", str(tmp_path / "eval"), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["frame_count"] == FRAMES
    assert sorted(p.name for p in (tmp_path / "eval").iterdir()) == sorted(EVAL_FILES)
    assert _tree(tmp_path / role) == {k[len(role) + 1 :]: v for k, v in before.items() if k.startswith(role)}


@pytest.mark.parametrize("out", ["result folder", "a file"])
def test_an_out_folder_eval_cannot_write_is_refused_before_any_frame_is_scored(tmp_path, out):
    """``aifx eval res/ --out res/`` (or ``--out`` naming a file) read and scored every frame, minutes on a long
    shot, and only then was refused for the folder it would write into. The --out checks are made before the
    first frame is read: here the reference's last frame is of another size, which the scoring stops on, so
    the old order said that instead (it had scored frames 1001-1004 by then)."""
    from cli_runner import aifx

    folders = _folders_of_one_shot(tmp_path)
    _write_png(folders["reference"] / "truth.1005.png", np.zeros((HEIGHT + 2, WIDTH, 3)))
    target = folders["result"]
    if out == "a file":
        target = tmp_path / "notes.txt"
        target.write_text("keep")
    before = _tree(tmp_path)
    done = aifx(
        "eval", f"{folders['result']}/", "--reference", str(folders["reference"]), "--out", str(target)
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "reference is" not in lines[0], lines
    words = "goes into the result folder" if out == "result folder" else "cannot create the output folder"
    assert lines[0].startswith(f"aifx: error: {target}") and words in lines[0], lines[0]
    assert _tree(tmp_path) == before


def _holdout_shot(folder: Path) -> Path:
    """truth.#### (a pan), plate.#### (truth with a red object), holdout.#### (a holdout matte: 0 on the object),
    roto.#### (the same matte as a roto: 255 on the object) and rgba.#### (the roto in G, the holdout in R, an
    opaque alpha): the shot of a fill made with --invert-mask or --mask-channel."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    bg = cv2.GaussianBlur((rng.random((60, 100, 3)) * 255).astype(np.uint8), (5, 5), 0)
    for i, frame in enumerate(range(1001, 1001 + FRAMES)):
        truth = np.roll(bg, 2 * i, axis=1).copy()
        plate = truth.copy()
        plate[20:36, 40:52] = (0, 0, 255)
        hold = np.full((60, 100), 255, np.uint8)
        hold[18:38, 38:54] = 0
        cv2.imwrite(str(folder / f"truth.{frame}.png"), truth)
        cv2.imwrite(str(folder / f"plate.{frame}.png"), plate)
        cv2.imwrite(str(folder / f"holdout.{frame}.png"), hold)
        cv2.imwrite(str(folder / f"roto.{frame}.png"), 255 - hold)
        rgba = np.dstack([np.zeros_like(hold), 255 - hold, hold, np.full_like(hold, 255)])  # (B, G, R, A)
        cv2.imwrite(str(folder / f"rgba.{frame}.png"), rgba)
    return folder


def test_eval_scores_a_fill_made_with_invert_mask_or_mask_channel_inside_the_hole_it_filled(tmp_path):
    """A fill made with ``--invert-mask`` (a holdout matte) could not be scored: aifx eval had no --invert-mask,
    so its "hole" was the holdout's white, the area the fill never touched, and a QC script passed a bad fill
    (38.9 dB reported, 21.7 dB real). eval now takes --invert-mask and --mask-channel and reads the matte through
    the fill's own MaskSource: the numbers and the sheet's mask row are those of the roto the fill filled."""
    from cli_runner import aifx

    shot = _holdout_shot(tmp_path / "shot")
    p = {name: str(shot / f"{name}.####.png") for name in ("truth", "plate", "holdout", "roto", "rgba")}
    clean = str(tmp_path / "clean" / "clean.####.png")
    done = aifx("fill", p["plate"], "-m", p["holdout"], "--invert-mask", "-b", "telea", "-o", clean)
    assert done.returncode == 0, done.stderr

    def scored(result: str, out: str, *mask: str) -> dict:
        done = aifx("eval", result, "--reference", p["truth"], *mask, "--out", str(tmp_path / out), "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def sheet(out: str) -> np.ndarray:
        return cv2.imread(str(tmp_path / out / "contact_sheet.png"))

    roto = scored(clean, "roto", "--mask", p["roto"])
    inverted = scored(clean, "inverted", "--mask", p["holdout"], "--invert-mask")
    channel = scored(clean, "channel", "--mask", p["rgba"], "--mask-channel", "G")
    assert inverted["summary"] == roto["summary"] == channel["summary"]
    assert np.array_equal(sheet("inverted"), sheet("roto")) and np.array_equal(
        sheet("channel"), sheet("roto")
    )
    assert (inverted["invert_mask"], inverted["mask_channel"]) == (True, None)
    assert (channel["invert_mask"], channel["mask_channel"]) == (False, "G")
    assert json.loads((tmp_path / "inverted" / "metrics.json").read_text())["invert_mask"] is True

    # The plate itself as the "fill" (the object left in): scored inside the hole it is bad, as it is.
    left_in = scored(p["plate"], "left_in", "--mask", p["holdout"], "--invert-mask")["summary"]
    assert left_in["psnr_hole"] < 15
    outside = scored(p["plate"], "outside", "--mask", p["holdout"])["summary"]  # (the old reading)
    assert outside["psnr_hole"] == "inf"

    done = aifx("eval", clean, "--invert-mask", "--out", str(tmp_path / "none"))
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "--invert-mask" in done.stderr and "--mask" in done.stderr and not (tmp_path / "none").exists()
