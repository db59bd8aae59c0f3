"""Render button end to end: fake ``nuke`` writes real EXRs, the REAL aifx worker (telea) fills them."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import cv2
import nuke
import numpy as np
import OpenEXR
import pytest
from aifx_nuke import jobs, knobs, nodes, session
from conftest import aifill_in_group, press_render_in_gui, write_exr


def _exr(path: str) -> dict[str, np.ndarray]:
    with OpenEXR.File(path, separate_channels=True) as exr:
        return {name: np.array(ch.pixels, dtype=np.float32) for name, ch in exr.channels().items()}


WRITE_SOURCE, WRITE_MASK = f"AIFill1.{knobs.WRITE_SOURCE}", f"AIFill1.{knobs.WRITE_MASK}"


def _result_dirs(cache: Path) -> list[Path]:
    return sorted(cache.glob("AIFill1/*/fill_*"))


def test_render_writes_inputs_runs_the_worker_and_swaps_the_read(comp):
    fill, cache = comp["fill"], comp["cache"]
    press_render_in_gui(fill)

    assert fill["status"].value() == "done: frames 1001-1003 (3 filled now)", nuke.messages
    assert nuke.warnings == [], "the core had nothing to say about this fill"
    # the inputs were written once each over the input's range, through the internal Writes
    assert nuke.execute_log == [
        ("AIFill1.aifx_write_source", 1001, 1003),
        ("AIFill1.aifx_write_mask", 1001, 1003),
    ]
    for name in (knobs.WRITE_SOURCE, knobs.WRITE_MASK):
        assert fill.node(name)["disable"].value() is True, "the cache Writes are disabled again"
    (result_dir,) = _result_dirs(cache)
    job = json.loads((result_dir / "job.json").read_text())
    inputs_dir = result_dir.parent
    assert job["input"] == (inputs_dir / "source.####.exr").as_posix()
    assert job["mask"] == (inputs_dir / "mask.####.exr").as_posix()
    assert (job["frames"], job["backend"], job["mask_channel"], job["colorspace"]) == (
        "1001-1003",
        "telea",
        "R",
        "linear",
    )

    # the written source holds the plate's values (raw), the mask its matte
    plate = nuke._read(comp["plate"].replace("####", "1002"))
    source = _exr(str(inputs_dir / "source.1002.exr"))
    np.testing.assert_allclose(source["R"], plate["rgba.red"], atol=1e-6)
    matte = _exr(str(inputs_dir / "mask.1002.exr"))["R"] > 0.5
    assert 0 < matte.sum() < matte.size

    # the node's output is now the filled plate: Read → result, switch on the Read
    read = fill.node(knobs.READ_RESULT)
    assert read["file"].value() == job["output"].replace("####", "%04d"), "as Nuke gives a sequence"
    assert (read["first"].value(), read["last"].value()) == (1001, 1003)
    filled = nuke._pull(fill, 1002)
    changed = np.abs(filled["rgba.red"] - plate["rgba.red"]) > 1e-4
    assert changed.any(), "the worker filled something"
    grown = _dilate(matte, job["dilate"] + job["feather"] + 1)
    assert not changed[~grown].any(), "pixels away from the mask are the plate's"

    # progress: one task, moving forward to 100, with the worker's stage messages
    (task,) = nuke.progress_tasks
    assert task.progress == sorted(task.progress) and task.progress[-1] == 100
    assert jobs.WRITE_SHARE in task.progress
    assert any(m.startswith("write 3/3") for m in task.messages)


def test_what_the_core_asks_to_check_reaches_the_node_and_the_error_console(comp):
    """The core's notices (a hole over most of the frame) went to the worker's stderr, which no compositor
    sees: in the GUI they end the node's status line and each is a warning in the Error Console."""
    for frame in (1001, 1002, 1003):
        matte = np.zeros((54, 96), np.uint8)
        matte[4:50, 6:90] = 255  # 75 % of the frame
        cv2.imwrite(str(comp["dir"] / f"mask.{frame}.png"), matte)
    press_render_in_gui(comp["fill"])
    status = comp["fill"]["status"].value()
    assert status.startswith("done: frames 1001-1003 (3 filled now); warning: the hole covers "), status
    assert len(nuke.warnings) == 1 and nuke.warnings[0].startswith(
        "AIFill AIFill1: warning: the hole covers "
    )
    assert "% of frame 100" in nuke.warnings[0] and nuke.warnings[0].endswith(status.split("; ", 1)[1])
    assert status.endswith("check the Mask input, invert mask and dilate") and "--" not in status, status


@pytest.mark.parametrize("backend", ["telea", "propagate"])
def test_a_model_knob_left_from_another_backend_stays_out_of_the_job_and_the_fill_runs(comp, backend):
    """The model knob keeps what was typed for LaMa when the backend goes back to one that reads no model
    (propagate with keyframe fill auto runs Telea): the core refuses an option its backend does not read, so
    the job leaves it out and the fill runs."""
    fill = comp["fill"]
    fill["backend"].setValue(backend)
    fill["model"].setValue("/models/big-lama.pt")
    fill["prompt"].setValue("grass")
    press_render_in_gui(fill)
    assert fill["status"].value() == "done: frames 1001-1003 (3 filled now)", nuke.messages
    (result_dir,) = _result_dirs(comp["cache"])
    job = json.loads((result_dir / "job.json").read_text())
    assert job["backend"] == backend and job["options"] == {}


def test_notices_name_the_knobs_not_the_flags():
    """Each notice that names command-line flags reads in the node's knob labels (every label a real knob's)."""
    labels = {spec.label for spec in knobs.KNOBS}
    for flags, words in session._KNOB_WORDS:
        assert session.in_knob_words(f"warning: x; {flags}") == f"warning: x; {words}"
        named = words.split("check the Mask input, ", 1)[1].replace(" and ", ", ").split(", ")
        assert set(named) <= labels, named


def test_a_core_error_names_the_knob_to_set_not_the_flag(comp):
    """The core's errors are written for the command line (``pass --model PATH``); on the node the same thing
    is a knob, so the status line and the message say which knob to set."""
    fill = comp["fill"]
    fill["backend"].setValue("lama")  # and no model
    press_render_in_gui(fill)
    status = fill["status"].value()
    assert status.startswith("error: no LaMa model given; set model to the path of a TorchScript export"), (
        status
    )
    assert "--" not in status and nuke.messages == ["AIFill AIFill1: " + status[len("error: ") :]]


def test_the_core_messages_read_in_knob_words():
    """Messages the core really raises, each naming a flag the node has as a knob: read in the knob's label
    (what a changed core message would leave as a flag shows here)."""
    from aifx_core.inpaint.diffusion import check_strength
    from aifx_core.inpaint.models import locate_model
    from aifx_core.sequence.frames import parse_frame_spec

    raised = []
    for call in (lambda: locate_model(""), lambda: check_strength(0.01, 3), lambda: parse_frame_spec("x")):
        with pytest.raises(Exception) as caught:
            call()
        raised.append(str(caught.value))
    words = [session.in_knob_words(message) for message in raised]
    assert words[0].startswith("no model given; set model to a hub id (e.g. "), words[0]
    assert words[1].endswith("leaves no denoising step; raise steps or strength"), words[1]
    assert words[2].startswith("frame range 'x': cannot read 'x'"), words[2]
    assert not [w for w in words if "--" in w], words
    labels = {spec.label for spec in knobs.KNOBS}
    assert {session._LABELS[name] for _, name in session._FLAG_KNOBS} <= labels
    assert session.in_knob_words("pass --threshold 0") == "pass --threshold 0"  # no such knob: left as it is
    # The mask refusals name the flag and the job's field (for a CLI user and a Python caller): the knob here.
    from aifx_core.protocol import events

    assert session.in_knob_words(f"x (channels: A); {events.PICK_MASK_CHANNEL}") == (
        "x (channels: A); set mask channel to one of them"
    )
    assert session.in_knob_words(f"x (channels: R); {events.GIVE_MASK}") == (
        "x (channels: R); connect the Mask input or set mask channel to the channel that holds the matte"
    )
    # So do the frames (a mask short of the shot; a frame a sequence lacks): the frame range knob here.
    label = session._LABELS["frame_range"]
    assert session.in_knob_words(
        "m.####.png: mask frames 1003 missing (the plate has 1001-1006); render the mask for those frames or "
        'limit the frames (--frames RANGE or "frames": RANGE)'
    ) == (
        f"m.####.png: mask frames 1003 missing (the plate has 1001-1006); render the mask for those frames or "
        f"limit the {label}"
    )
    assert session.in_knob_words(
        f"m.####.png: mask frame 1003 is not in this sequence (1001); {events.CHECK_FRAMES}"
    ) == (f"m.####.png: mask frame 1003 is not in this sequence (1001); check the {label}")


def _rgb(channels: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Nuke's rgb channels under the EXR names a Write gives them."""
    return {"R": channels["rgba.red"], "G": channels["rgba.green"], "B": channels["rgba.blue"]}


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    import cv2

    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    return cv2.dilate(mask.astype(np.uint8), kernel) > 0


def test_rerender_reuses_the_cache_and_redoes_only_what_changed(comp):
    fill, cache = comp["fill"], comp["cache"]
    first = nodes.render_node(fill)
    job_file = Path(first.result).parent / "job.json"
    stamp = job_file.stat().st_mtime_ns

    again = nodes.render_node(fill)
    assert again.reused and again.result == first.result
    assert len(nuke.execute_log) == 2, "no input was written again"
    assert job_file.stat().st_mtime_ns == stamp, "no worker was launched"
    assert "cached" in fill["status"].value()

    fill["seed"].setValue(3)  # a fill setting: same inputs, new result
    reseeded = nodes.render_node(fill)
    assert not reseeded.reused and reseeded.written == 3
    assert len(nuke.execute_log) == 2, "inputs reused"
    assert len(_result_dirs(cache)) == 2

    copy = comp["dir"].parent / "plates_v2"
    shutil.copytree(comp["dir"], copy)
    comp["plate_node"]["file"].setValue((copy / "plate.####.exr").as_posix())
    changed_upstream = nodes.render_node(fill)
    assert not changed_upstream.reused
    assert len(nuke.execute_log) == 4, "an upstream knob change writes the inputs again"


def test_mask_from_the_source_alpha_when_mask_is_not_connected(comp):
    """RGBA plates whose alpha is the matte: no Mask input, mask channel rgba.alpha."""
    import cv2

    fill = comp["fill"]
    rgba_dir = comp["dir"].parent / "rgba"
    rgba_dir.mkdir()
    for frame in (1001, 1002, 1003):
        plate = nuke._read(str(comp["dir"] / f"plate.{frame}.exr"))
        matte = cv2.imread(str(comp["dir"] / f"mask.{frame}.png"), cv2.IMREAD_GRAYSCALE) / 255.0
        channels = _rgb(plate)
        write_exr(rgba_dir / f"plate.{frame}.exr", {**channels, "A": matte.astype(np.float32)})
    comp["plate_node"]["file"].setValue((rgba_dir / "plate.####.exr").as_posix())
    fill.setInput(1, None)
    fill["mask_channel"].setValue("rgba.alpha")

    outcome = nodes.render_node(fill)
    assert nuke.execute_log == [("AIFill1.aifx_write_source", 1001, 1003)]
    job = json.loads((Path(outcome.result).parent / "job.json").read_text())
    assert job["mask"] is None and job["mask_channel"] == "A"
    assert outcome.written == 3
    source = _exr(job["input"].replace("####", "1002"))
    matte = source["A"] > 0.5
    assert 0 < matte.sum() < matte.size
    filled = nuke._pull(fill, 1002)
    changed = np.abs(filled["rgba.red"] - source["R"]) > 1e-4
    assert changed.any()
    assert not changed[~_dilate(matte, job["dilate"] + job["feather"] + 1)].any()


def test_progress_cancel_stops_the_worker_and_keeps_the_plate(comp):
    fill, cache = comp["fill"], comp["cache"]
    # The artist presses the dialog's cancel once the worker runs (the checks between and after the input
    # writes see no cancel; the worker's first poll does).
    nuke.ProgressTask._cancel_after = 2
    press_render_in_gui(fill)
    assert fill["status"].value().startswith("cancelled"), fill["status"].value()
    _assert_output_errors(fill)
    (result_dir,) = _result_dirs(cache)
    assert not (result_dir / "result.done").exists()
    assert not session.is_rendering(fill)

    # the next Render resumes: inputs are not written again and the result completes
    nuke.ProgressTask._cancel_after = None
    outcome = nodes.render_node(fill)
    assert not outcome.reused and (result_dir / "result.done").exists()
    assert len(nuke.execute_log) == 2


@pytest.mark.parametrize(
    ("checks", "status", "writes"),
    [
        (0, "cancelled while writing the inputs, frames 1001-1003", [WRITE_SOURCE]),  # during the Source's
        (1, "cancelled: finished frames are kept", [WRITE_SOURCE, WRITE_MASK]),  # during the Mask's
    ],
)
def test_progress_cancel_while_the_inputs_are_written_starts_no_worker(comp, checks, status, writes):
    """The AIFill's progress dialog cancelled while the inputs were written: the Mask was still written, the job
    saved and a worker started, only to be sent SIGTERM (up to 10 s) at its first poll."""
    fill, cache = comp["fill"], comp["cache"]
    nuke.ProgressTask._cancel_after = checks
    press_render_in_gui(fill)
    assert fill["status"].value().startswith(status), fill["status"].value()
    assert [name for name, _, _ in nuke.execute_log] == writes
    assert not list(cache.glob("AIFill1/*/fill_*/job.json")), "no job saved, no worker started"
    _assert_output_errors(fill)

    nuke.ProgressTask._cancel_after = None
    outcome = nodes.render_node(fill)  # the next Render fills (writing the inputs again only if unfinished)
    assert outcome.written == 3 and not outcome.cancelled
    assert len(nuke.execute_log) == (3 if checks == 0 else 2)


def test_cancelling_nukes_progress_bar_while_the_inputs_are_written_is_a_cancel_not_an_error(comp):
    """nuke.execute raises RuntimeError('Cancelled') when the artist stops its progress bar: that read
    "error: writing the Source input...: Cancelled; check what feeds Source", with a message box."""
    fill = comp["fill"]
    nuke._cancel_execute_after = 1  # the Source's Write is stopped after its first frame
    press_render_in_gui(fill)
    status = fill["status"].value()
    assert status.startswith("cancelled while writing the Source input, frames 1001-1003"), status
    assert nuke.messages == [] and not session.is_rendering(fill)
    outcome = nodes.render_node(fill)  # the next Render writes the inputs again and fills
    assert outcome.written == 3 and not outcome.cancelled


def test_cancel_button_stops_a_running_render(comp, monkeypatch):
    fill = comp["fill"]
    original = nuke.ProgressTask.setProgress

    def press_cancel_when_the_worker_starts(self, percent):
        original(self, percent)
        if percent == jobs.WRITE_SHARE:  # the artist presses Cancel: in the main thread, as Nuke's UI does
            nuke.executeInMainThread(lambda: fill["cancel"].execute())

    monkeypatch.setattr(nuke.ProgressTask, "setProgress", press_cancel_when_the_worker_starts)
    press_render_in_gui(fill)
    assert fill["status"].value().startswith("cancelled")
    _assert_output_errors(fill)


def test_cancel_button_stops_a_render_of_a_node_renamed_while_it_renders(comp, monkeypatch):
    fill = comp["fill"]
    original = nuke.ProgressTask.setProgress

    def rename_then_cancel_when_the_worker_starts(self, percent):
        original(self, percent)
        if percent == jobs.WRITE_SHARE:  # the artist renames the node, then presses its Cancel

            def rename_and_cancel() -> None:
                fill.setName("AIFill_rig")
                fill["cancel"].execute()

            nuke.executeInMainThread(rename_and_cancel)

    monkeypatch.setattr(nuke.ProgressTask, "setProgress", rename_then_cancel_when_the_worker_starts)
    press_render_in_gui(fill)
    assert fill["status"].value().startswith("cancelled"), fill["status"].value()
    assert not session.is_rendering(fill)


def test_a_late_cancel_leaves_the_done_status_and_its_notices(comp):
    """Cancel pressed after the render finished once replaced "done: frames 1001-1003 (3 filled now)" (and the
    notices it ends with) by "nothing to cancel", which the script then saved."""
    fill = comp["fill"]
    nodes.render_node(fill)
    done = fill["status"].value()
    assert done.startswith("done: frames 1001-1003")
    fill["cancel"].execute()
    assert fill["status"].value() == done
    nuke._pull(fill, 1002)  # still showing its fill


def test_worker_error_reaches_the_status_line_and_a_message(comp):
    fill = comp["fill"]
    fill["colorspace"].setValue("no-such-colourspace")
    press_render_in_gui(fill)
    status = fill["status"].value()
    assert status.startswith("error: ") and len(status) > len("error: ")
    assert nuke.messages and nuke.messages[0].startswith("AIFill AIFill1: ")
    _assert_output_errors(fill)


def test_missing_python_is_reported_before_anything_is_written(comp, monkeypatch):
    fill = comp["fill"]
    monkeypatch.delenv("AIFX_PYTHON", raising=False)
    fill["aifx_env"].setValue("")
    with pytest.raises(session.RenderError, match="no aifx environment"):
        nodes.render_node(fill)
    fill["aifx_env"].setValue(os.path.join(str(comp["dir"]), "nope", "python"))
    with pytest.raises(session.RenderError, match="not found"):
        nodes.render_node(fill)
    assert nuke.execute_log == [] and fill["status"].value().startswith("error: aifx Python not found")


def test_bad_frame_range_knob_is_reported(comp):
    fill = comp["fill"]
    fill["frame_range"].setValue("1003-1001")
    with pytest.raises(session.RenderError, match="ends before it starts"):
        nodes.render_node(fill)
    fill["frame_range"].setValue("1001-1030")  # past the Source's 1001-1003: Nuke would hold frame 1003
    with pytest.raises(session.RenderError, match="reaches past the Source input's frames 1001-1003"):
        nodes.render_node(fill)
    assert nuke.execute_log == []  # nothing written


def test_frame_range_knob_limits_the_render(comp):
    fill = comp["fill"]
    fill["frame_range"].setValue("1002-1003")
    outcome = nodes.render_node(fill)
    assert (outcome.first, outcome.last, outcome.written) == (1002, 1003, 2)
    assert nuke.execute_log[0] == ("AIFill1.aifx_write_source", 1002, 1003)


def test_the_fake_read_holds_its_first_and_last_frame_outside_its_range_like_nukes(comp):
    plate = comp["plate_node"]
    assert (plate["before"].value(), plate["after"].value()) == ("hold", "hold")
    held = nuke._pull(plate, 1010)["rgba.red"]
    assert np.array_equal(held, nuke._pull(plate, 1003)["rgba.red"])
    plate["after"].setValue("black")
    assert not nuke._pull(plate, 1010)["rgba.red"].any()


def test_an_aifill_below_another_fills_the_uppers_frames_whatever_the_project_range(comp):
    """The project's frame range left at Nuke's default 1-100, the plate 1001-1003: the upper AIFill reported
    its range as 1-1 (its Switch picks the erroring Read outside the filled frames, and that Read kept 1-1), so
    the AIFill below it refused to render: "the Mask input has frames 1001-1003 only, not all of 1-1"."""
    nuke.root()["first_frame"].setValue(1)
    nuke.root()["last_frame"].setValue(100)
    upper = comp["fill"]
    nodes.render_node(upper)
    assert (upper.firstFrame(), upper.lastFrame()) == (1001, 1003)
    nuke._select(upper)
    lower = nodes.create_aifill()
    lower.setInput(1, comp["matte_node"])
    for name in ("mask_channel", "backend", "aifx_env", "cache_dir"):
        lower[name].setValue(upper[name].value())
    nodes.render_node(lower)
    assert lower["status"].value() == "done: frames 1001-1003 (3 filled now)"
    with pytest.raises(RuntimeError, match="AIFill filled frames 1001-1003 only"):
        nuke._pull(upper, 1000)


def test_outside_the_filled_frames_the_output_is_an_error_not_a_frozen_fill(comp):
    """Nuke's Read holds its first/last frame outside its range: the fill of 1002 would sit over 1001."""
    fill = comp["fill"]
    fill["frame_range"].setValue("1002-1003")
    nodes.render_node(fill)
    with pytest.raises(RuntimeError, match="AIFill filled frames 1002-1003 only"):
        nuke._pull(fill, 1001)
    result = fill.node(knobs.READ_RESULT)["file"].value()
    assert np.array_equal(
        nuke._pull(fill, 1002)["rgba.red"], nuke._read(jobs.frame_path(result, 1002))["rgba.red"]
    )

    fill["frame_range"].setValue("")  # the whole Source range: every comp frame is filled
    nodes.render_node(fill)
    assert nuke._pull(fill, 1001)["rgba.red"].shape == (54, 96)


def test_sub_frames_at_the_first_and_last_filled_frames_show_the_fill_not_the_error(comp):
    """A TimeBlur (shutter 0.5 from the frame), a motion-blurred ScanlineRender or a Retime downstream asks for
    sub-frames: 1003.25 at the last filled frame erred ('AIFill filled frames 1002-1003 only'), so did 1001.75."""
    fill = comp["fill"]
    fill["frame_range"].setValue("1002-1003")
    nodes.render_node(fill)
    for frame, shown in ((1001.75, 1002), (1002.5, 1002), (1003.25, 1003), (1003.5, 1003)):
        assert np.array_equal(nuke._pull(fill, frame)["rgba.red"], nuke._pull(fill, shown)["rgba.red"]), frame
    for frame in (1001, 1004, 1000.5, 1004.25):  # whole frames outside, and between two of them
        with pytest.raises(RuntimeError, match="AIFill filled frames 1002-1003 only"):
            nuke._pull(fill, frame)


def test_a_still_source_is_filled_once_and_held_at_every_frame(comp):
    """A DMP or a clean plate is one file (frames 1-1) that Nuke holds at every frame: its fill is held too. It
    was an error at every comp frame but 1, whose advice (a frame range 1001-1003) the node refused."""
    fill = comp["fill"]
    _stills(comp)
    outcome = nodes.render_node(fill)
    assert (outcome.first, outcome.last, outcome.written) == (1, 1, 1)
    held = nuke._pull(fill, 1)["rgba.red"]
    assert not np.array_equal(held, nuke._pull(comp["plate_node"], 1)["rgba.red"]), "the hole is filled"
    for frame in (1001, 1002, 1003):
        assert np.array_equal(nuke._pull(fill, frame)["rgba.red"], held), frame


def _stills(comp) -> None:
    """The plate and matte Reads pointed at one file each (frames 1-1), as a DMP and its roto are delivered."""
    for read, name, suffix in ((comp["plate_node"], "plate", "exr"), (comp["matte_node"], "mask", "png")):
        still = comp["dir"] / f"still_{name}.{suffix}"
        shutil.copy(comp["dir"] / f"{name}.1001.{suffix}", still)
        read["file"].setValue(still.as_posix())
        for knob in ("first", "last", "origfirst", "origlast"):
            read[knob].setValue(1)


def test_a_still_source_moved_by_a_time_offset_is_still_held(comp):
    """A still Read (frames 1-1, held) under a TimeOffset reports 1002-1002 at the Source while its Read says
    1-1; Nuke still holds it at every frame, so its fill is held too (it was the error outside 1002, whose
    advice cannot be followed for a still)."""
    fill, plate = comp["fill"], comp["plate_node"]
    _stills(comp)
    moved = nuke.nodes.TimeOffset(name="Moved", time_offset=1001)
    moved.setInput(0, plate)
    fill.setInput(0, moved)
    outcome = nodes.render_node(fill)
    assert (outcome.first, outcome.last, outcome.written) == (1002, 1002, 1)
    held = nuke._pull(fill, 1002)["rgba.red"]
    for frame in (1001, 1003, 1010):
        assert np.array_equal(nuke._pull(fill, frame)["rgba.red"], held), frame


def test_a_one_frame_range_over_a_plate_is_not_frozen_over_the_plate(comp):
    """Only a Source Nuke holds at every frame gets its fill held. A FrameRange set to 1002 over the plate still
    passes frame 1003's pixels through: 1002's fill was shown there. Now it is the error outside the frame."""
    fill, plate = comp["fill"], comp["plate_node"]
    one = nuke.nodes.FrameRange(name="OneFrame", first_frame=1002, last_frame=1002)
    one.setInput(0, plate)
    fill.setInput(0, one)
    assert not np.array_equal(nuke._pull(one, 1003)["rgba.red"], nuke._pull(one, 1002)["rgba.red"])
    outcome = nodes.render_node(fill)
    assert (outcome.first, outcome.last, outcome.written) == (1002, 1002, 1)
    assert nuke._pull(fill, 1002)["rgba.red"].any()
    for frame in (1001, 1003):
        with pytest.raises(
            RuntimeError, match="filled frames 1002-1002 only, all of its Source - give the Source"
        ):
            nuke._pull(fill, frame)


def test_a_still_source_set_to_black_outside_is_not_held_past_its_frame(comp):
    """A still Read set to black before and after is empty at every other frame: the whole fill was shown there."""
    fill, plate = comp["fill"], comp["plate_node"]
    _stills(comp)
    plate["before"].setValue("black")
    plate["after"].setValue("black")
    assert nodes.render_node(fill).written == 1
    assert nuke._pull(fill, 1)["rgba.red"].any()
    assert not nuke._pull(plate, 1002)["rgba.red"].any(), "the Source is empty at 1002"
    with pytest.raises(RuntimeError, match="filled frames 1-1 only, all of its Source"):
        nuke._pull(fill, 1002)


def test_past_all_the_sources_frames_the_error_asks_for_source_frames_not_a_range_it_refuses(comp):
    fill = comp["fill"]
    nodes.render_node(fill)
    with pytest.raises(
        RuntimeError, match="filled frames 1001-1003 only, all of its Source - give the Source"
    ):
        nuke._pull(fill, 1004)
    fill["frame_range"].setValue("1001-1004")  # what the error once asked for
    with pytest.raises(session.RenderError, match="reaches past the Source input's frames 1001-1003"):
        nodes.render_node(fill)


def test_an_aifill_from_an_older_script_gets_the_range_switch_on_its_next_result(comp):
    fill = comp["fill"]
    output = next(n for n in fill.nodes() if n.Class() == "Output")
    for name in (knobs.SWITCH_RANGE, knobs.READ_OUTSIDE):
        nuke.delete(fill.node(name))
    output.setInput(0, fill.node(knobs.READ_RESULT))  # as AIFill nodes were built before
    fill["frame_range"].setValue("1002-1003")
    nodes.render_node(fill)
    with pytest.raises(RuntimeError, match="AIFill filled frames 1002-1003 only"):
        nuke._pull(fill, 1001)
    assert nuke._pull(fill, 1003)["rgba.red"].any()


def test_a_mask_shorter_than_the_range_is_refused_naming_the_mask(comp):
    """The matte was delivered for 1001-1002 only: Nuke would hold 1002's matte over 1003."""
    comp["matte_node"]["last"].setValue(1002)
    with pytest.raises(session.RenderError, match="the Mask input has frames 1001-1002 only"):
        nodes.render_node(comp["fill"])
    assert nuke.execute_log == [], "nothing written"
    assert "Mask input" in comp["fill"]["status"].value()

    comp["fill"]["frame_range"].setValue("1001-1002")  # what the artist can do: fill where the matte is
    assert nodes.render_node(comp["fill"]).written == 2


def test_a_short_mask_read_set_to_black_outside_is_not_refused(comp):
    """A Read set to black before and after holds nothing: past its range the matte is empty, as asked."""
    comp["matte_node"]["last"].setValue(1002)
    comp["matte_node"]["before"].setValue("black")
    comp["matte_node"]["after"].setValue("black")
    assert nodes.render_node(comp["fill"]).written == 3


def test_a_short_mask_is_refused_for_an_aifill_inside_a_group(comp):
    """Inside a group the Mask is the group's Input node, which has no inputs of its own: the Read is what feeds
    the group there (the check once found no Read, and frame 1003 was filled with 1002's held matte)."""
    comp["matte_node"]["last"].setValue(1002)
    inner = aifill_in_group(comp)
    with pytest.raises(session.RenderError, match="the Mask input has frames 1001-1002 only"):
        nodes.render_node(inner)
    assert nuke.execute_log == [], "nothing written"


def test_a_short_mask_read_reaching_the_mask_through_a_second_input_is_refused(comp):
    """A Copy's A input (its second) holds its last frame as much as its B input does."""
    black = nuke.nodes.Read(
        name="Garbage", file=comp["mask"], first=1001, last=1002, before="black", after="black"
    )
    comp["matte_node"]["last"].setValue(1002)
    copy = nuke.nodes.Copy(name="Copy1")
    copy.setInput(0, black)  # B: empty past 1002, as asked
    copy.setInput(1, comp["matte_node"])  # A: holds 1002's matte over 1003
    comp["fill"].setInput(1, copy)
    with pytest.raises(session.RenderError, match="the Mask input has frames 1001-1002 only"):
        nodes.render_node(comp["fill"])


def test_a_short_mask_read_inside_a_group_feeding_the_mask_is_refused(comp):
    """A group (a roto precomp, a gizmo) whose Read inside ends at 1002: its pixels are its Output's, and the
    Read holds 1002's matte over 1003 there too. The group has no inputs: the check goes in through its Output."""
    group = nuke.nodes.Group(name="MattePrecomp")
    with group:
        inside = nuke.nodes.Read(
            name="Matte", file=comp["mask"], first=1001, last=1002, origfirst=1001, origlast=1002
        )
        nuke.nodes.Output().setInput(0, inside)
    comp["fill"].setInput(1, group)
    with pytest.raises(session.RenderError, match="the Mask input has frames 1001-1002 only"):
        nodes.render_node(comp["fill"])
    assert nuke.execute_log == [], "nothing written"


def test_a_one_frame_still_matte_is_taken_for_every_frame(comp):
    comp["matte_node"]["file"].setValue(comp["mask"].replace("####", "1002"))
    for name in ("first", "last", "origfirst", "origlast"):
        comp["matte_node"][name].setValue(1)
    assert nodes.render_node(comp["fill"]).written == 3


def test_a_relative_cache_folder_lands_beside_the_script_not_the_working_folder(comp, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path / "plates")  # wherever Nuke or the farm happened to start
    comp["fill"]["cache_dir"].setValue("aifx_cache")
    with pytest.raises(session.RenderError, match="relative and the script is not saved"):
        nodes.render_node(comp["fill"])
    (tmp_path / "shot").mkdir()
    nuke.scriptSaveAs(str(tmp_path / "shot" / "comp.nk"))
    outcome = nodes.render_node(comp["fill"])
    assert outcome.result.startswith((tmp_path / "shot" / "aifx_cache").as_posix())
    assert not (tmp_path / "plates" / "aifx_cache").exists()


def test_the_plates_other_layers_pass_through_below_the_node(comp):
    """A depth pass (CG, lidar) went missing below AIFill when the mask came from the Mask input: the Source
    was written as rgba only. The core fills rgba and carries the other channels through."""
    for frame in (1001, 1002, 1003):
        path = comp["dir"] / f"plate.{frame}.exr"
        planes = _exr(str(path))
        write_exr(path, {**planes, "Z": np.full_like(planes["R"], 5.0)})
    assert "depth.Z" in comp["plate_node"].channels()
    nodes.render_node(comp["fill"])
    assert "depth.Z" in comp["fill"].channels()
    assert (nuke._pull(comp["fill"], 1002)["depth.Z"] == 5.0).all()


def test_a_colour_aov_in_the_plate_is_named_on_the_done_status(comp):
    """docs/nuke.md: "a colour AOV keeps what the hole held; the done status says so". Nuke's Write names the
    AOV's channels as Nuke does (``diffuse.red``...), which the core did not take for colour: the status said
    nothing, nor the Error Console, and the rig stayed in the pass unnoticed."""
    for frame in (1001, 1002, 1003):
        path = comp["dir"] / f"plate.{frame}.exr"
        planes = _exr(str(path))
        write_exr(path, {**planes, **{f"diffuse.{c}": planes[c] * 0.5 for c in "RGB"}})
    assert "diffuse.red" in comp["plate_node"].channels()
    outcome = nodes.render_node(comp["fill"])
    source = _exr(os.path.join(os.path.dirname(os.path.dirname(outcome.result)), "source.1002.exr"))
    assert {"diffuse.red", "diffuse.green", "diffuse.blue"} <= set(source), "as Nuke's Write names them"
    note = (
        "note: only R,G,B is filled; the layers diffuse are copied as they are, the object still in them; fill a "
        "pass as a plate of its own where it must match"
    )
    assert comp["fill"]["status"].value() == f"done: frames 1001-1003 (3 filled now); {note}"
    assert nuke.warnings == [f"AIFill AIFill1: {note}"]
    assert np.array_equal(
        nuke._pull(comp["fill"], 1002)["diffuse.red"], nuke._pull(comp["plate_node"], 1002)["diffuse.red"]
    )


def test_a_hole_over_a_premultiplied_elements_edge_says_to_unpremultiply(comp):
    """A premultiplied CG element as Source (rgb 0 where alpha is 0), the matte over its edge: the fill makes rgb
    there and keeps the alpha, so a Merge (over) below adds colour where the alpha is 0, a glow. docs/nuke.md
    said the fill changes rgba; the done status now says what to do."""
    matte = cv2.imread(comp["mask"].replace("####", "1002"), cv2.IMREAD_GRAYSCALE) > 127
    edge = int(np.nonzero(matte)[1].mean())  # the element's edge runs through the matte
    for frame in (1001, 1002, 1003):
        path = comp["dir"] / f"plate.{frame}.exr"
        planes = _exr(str(path))
        alpha = np.ones_like(planes["R"])
        alpha[:, :edge] = 0.0  # the element covers the right of the frame
        write_exr(path, {**{c: planes[c] * 0.05 * alpha for c in "RGB"}, "A": alpha})
    nodes.render_node(comp["fill"])
    out, plate = nuke._pull(comp["fill"], 1002), nuke._pull(comp["plate_node"], 1002)
    assert np.array_equal(out["rgba.alpha"], plate["rgba.alpha"]), "the alpha comes through"
    assert ((out["rgba.alpha"] == 0) & (out["rgba.red"] > 1e-3)).any(), "colour where the alpha is 0"
    note = (
        "note: the hole crosses semi-transparent alpha (frame 1001): rgb is filled there and the alpha kept, so a "
        "premultiplied element gets colour where its alpha is 0; unpremultiply before AIFill and premultiply after"
    )
    assert comp["fill"]["status"].value() == f"done: frames 1001-1003 (3 filled now); {note}"
    assert nuke.warnings == [f"AIFill AIFill1: {note}"]


def test_an_input_that_cannot_render_is_reported_on_the_status_line(comp):
    fill = comp["fill"]
    comp["matte_node"]["file"].setValue((comp["dir"] / "missing.####.png").as_posix())
    with pytest.raises(session.RenderError, match="writing the Mask input, frames 1001-1003: .*missing"):
        nodes.render_node(fill)
    assert fill["status"].value().startswith("error: writing the Mask input")
    assert fill.node(knobs.WRITE_MASK)["disable"].value() is True
    _assert_output_errors(fill)


def _assert_output_errors(fill) -> None:
    """No result yet: the node's output is an error (a comp render fails), never the unfilled plate."""
    nuke.GUI = False
    with pytest.raises(RuntimeError, match="AIFill not rendered yet"):
        nuke._pull(fill, 1002)


# -- the GUI's main thread (issue 12, item 7) ---------------------------------------------------------------------


def test_the_fake_refuses_nuke_calls_off_the_main_thread_and_swallows_errors_like_nuke(comp):
    import threading

    nuke.GUI = True
    errors: list[str] = []

    def touch() -> None:
        try:
            comp["fill"]["seed"].value()
        except RuntimeError as exc:
            errors.append(str(exc))

    thread = threading.Thread(target=touch)
    thread.start()
    thread.join()
    assert errors and "main thread" in errors[0]

    results: list = []
    thread = threading.Thread(
        target=lambda: results.append(nuke.executeInMainThreadWithResult(lambda: 1 / 0))
    )
    thread.start()
    nuke._run_main_loop(thread)
    assert results == [None], "Nuke prints the exception and returns None"


def test_gui_a_missing_plate_frame_is_named_and_no_worker_runs_on_partial_inputs(comp):
    fill = comp["fill"]
    os.remove(comp["dir"] / "mask.1002.png")
    press_render_in_gui(fill)
    status = fill["status"].value()
    assert status.startswith("error: writing the Mask input, frames 1001-1003: "), status
    assert "mask.1002.png" in status
    assert nuke.messages == ["AIFill AIFill1: " + status[len("error: ") :]]
    assert not list(comp["cache"].glob("AIFill1/*/inputs.done")), "partial inputs are not marked written"
    assert not list(comp["cache"].glob("AIFill1/*/fill_*/job.json")), "no worker launched"


def test_gui_a_failed_result_swap_is_an_error_not_done(comp):
    fill = comp["fill"]
    nuke.delete(fill.node(knobs.READ_RESULT))
    press_render_in_gui(fill)
    assert fill["status"].value() == ("error: AIFill1 has no internal node aifx_result; make a new AIFill"), (
        fill["status"].value()
    )
    assert nuke.messages and "no internal node aifx_result" in nuke.messages[0]


# -- bounding boxes (item 8) --------------------------------------------------------------------------------------


def _windows(path: str) -> tuple:
    with OpenEXR.File(path) as exr:
        header = exr.header()
        return tuple(tuple(int(v) for v in p) for w in ("dataWindow", "displayWindow") for p in header[w])


def test_a_roto_sized_mask_and_an_overscan_plate_are_written_over_the_format(comp):
    """Nuke's EXR writer takes the data window from the input's bbox and the display window from its format (a
    Roto's bbox is its shape, its format the project's): the Mask's Crop makes it the Source's format; the
    Source is written as it is, overscan included."""
    import cv2

    fill = comp["fill"]
    folder = comp["dir"].parent / "bbox"
    folder.mkdir()
    mattes = {}
    for frame in (1001, 1002, 1003):
        full = (cv2.imread(str(comp["dir"] / f"mask.{frame}.png"), cv2.IMREAD_GRAYSCALE) / 255.0).astype(
            np.float32
        )
        ys, xs = np.nonzero(full)
        box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)  # a Roto's animated bbox
        # a Roto in a taller project format (96x64): Nuke's origin is bottom left, so the plate's rows are the
        # bottom 54 of the 64 (top-down: rows 10-63)
        tall = (box[0], box[1] + 10, box[2], box[3] + 10)
        write_exr(folder / f"roto.{frame}.exr", {"A": full[box[1] : box[3], box[0] : box[2]]}, (96, 64), tall)
        mattes[frame] = full
        plate = nuke._read(str(comp["dir"] / f"plate.{frame}.exr"))
        over = {k: np.pad(v, 4, mode="edge") for k, v in _rgb(plate).items()}
        write_exr(folder / f"plate.{frame}.exr", over, (96, 54), (-4, -4, 100, 58))  # 4 px of overscan
    assert nuke._render(nuke.nodes.Read(file=str(folder / "roto.1002.exr")), 1002).bbox[2:] != (96, 64)
    comp["plate_node"]["file"].setValue((folder / "plate.####.exr").as_posix())
    comp["matte_node"]["file"].setValue((folder / "roto.####.exr").as_posix())
    fill["mask_channel"].setValue("rgba.alpha")

    outcome = nodes.render_node(fill)
    assert outcome.written == 3
    inputs = Path(outcome.result).parent.parent
    full_frame = ((0, 0), (95, 53), (0, 0), (95, 53))
    for frame in (1001, 1002, 1003):
        assert _windows(str(inputs / f"mask.{frame}.exr")) == full_frame, frame
        # the Source as it is: its overscan is the data window (the core carries it through unfilled)
        assert _windows(str(inputs / f"source.{frame}.exr")) == ((-4, -4), (99, 57), (0, 0), (95, 53)), frame
    np.testing.assert_allclose(_exr(str(inputs / "mask.1002.exr"))["A"], mattes[1002], atol=1e-3)
    source = _exr(str(inputs / "source.1002.exr"))["R"]
    np.testing.assert_allclose(source, _exr(str(folder / "plate.1002.exr"))["R"], atol=1e-6)


# -- proxy, stereo, TCL file knobs (item 10) ----------------------------------------------------------------------


def test_proxy_mode_writes_full_resolution_inputs_under_the_same_key(comp):
    fill = comp["fill"]
    nuke.root()["proxy"].setValue(True)
    assert nuke._pull(comp["plate_node"], 1001)["rgba.red"].shape == (27, 48), "the fake scales in proxy"
    outcome = nodes.render_node(fill)
    assert nuke.root()["proxy"].value() is True, "the artist's proxy switch is restored"
    inputs = Path(outcome.result).parent.parent
    assert _exr(str(inputs / "source.1001.exr"))["R"].shape == (54, 96)
    assert _exr(str(outcome.result.replace("####", "1001")))["R"].shape == (54, 96)
    nuke.root()["proxy"].setValue(False)
    assert nodes.render_node(fill).reused, "full resolution either way: one cache"


def test_stereo_scripts_write_the_hero_view_only(comp):
    nuke.root()["views"].setValue("left #ff0000\nright #00ff00")
    for frame in (1001, 1002, 1003):
        plate = nuke._read(str(comp["dir"] / f"plate.{frame}.exr"))
        channels = _rgb(plate)
        write_exr(comp["dir"] / f"plate_left.{frame}.exr", channels)
        write_exr(comp["dir"] / f"plate_right.{frame}.exr", {k: v * 0.25 for k, v in channels.items()})
    comp["plate_node"]["file"].setValue((comp["dir"] / "plate_%V.####.exr").as_posix())
    outcome = nodes.render_node(comp["fill"])
    assert nuke.execute_views == [["left"], ["left"]]
    source = _exr(str(Path(outcome.result).parent.parent / "source.1002.exr"))["R"]
    np.testing.assert_allclose(
        source, nuke._read(str(comp["dir"] / "plate_left.1002.exr"))["rgba.red"], atol=1e-6
    )


def test_file_knobs_with_tcl_are_evaluated(comp, tmp_path, monkeypatch):
    import sys

    monkeypatch.setenv("AIFX_TEST_SHOW", str(tmp_path / "show"))
    monkeypatch.setenv("AIFX_TEST_PY", sys.executable)
    fill = comp["fill"]
    fill["cache_dir"].setValue("[getenv AIFX_TEST_SHOW]/aifx_cache")
    fill["aifx_env"].setValue("[getenv AIFX_TEST_PY]")
    outcome = nodes.render_node(fill)
    assert outcome.result.startswith((tmp_path / "show" / "aifx_cache" / "AIFill1").as_posix())
    assert not (Path.cwd() / "[getenv AIFX_TEST_SHOW]").exists()


def test_a_source_without_its_first_frame_is_a_render_error_naming_the_file(comp):
    os.remove(comp["dir"] / "plate.1001.exr")
    with pytest.raises(session.RenderError, match="Source input has no image: .*plate.1001.exr"):
        nodes.render_node(comp["fill"])
    assert comp["fill"]["status"].value().startswith("error: the Source input has no image")


def test_with_a_server_url_the_fill_runs_on_the_aifx_server(comp, tmp_path, monkeypatch):
    """#13: the AIFill node sends its job to ``aifx serve`` (a real one, on 127.0.0.1) instead of a local worker."""
    from serve_helpers import TOKENS, Server, write_tokens

    server = Server(
        tmp_path / "state", "--token-file", str(write_tokens(tmp_path / "tokens")), "--root", str(tmp_path)
    ).start()
    try:
        fill = comp["fill"]
        fill["aifx_env"].setValue("")  # no local aifx Python is needed with a server
        fill["server_url"].setValue(server.url)
        monkeypatch.setenv("AIFX_TOKEN", TOKENS["alice"])
        outcome = nodes.render_node(fill)
        assert outcome.written == 3 and fill["status"].value() == "done: frames 1001-1003 (3 filled now)"
        (result_dir,) = _result_dirs(comp["cache"])
        assert sorted(p.name for p in result_dir.glob("result.*.exr")) == [
            "result.1001.exr",
            "result.1002.exr",
            "result.1003.exr",
        ]
        # A wrong token is the server's one-line refusal on the node, not a traceback.
        monkeypatch.setenv("AIFX_TOKEN", "wrong")
        fill["seed"].setValue(5)
        with pytest.raises(session.RenderError, match="401|token"):
            nodes.render_node(fill)
    finally:
        server.stop()


@pytest.mark.parametrize("where", ["knob", "$AIFX_SERVER"])
def test_a_malformed_server_url_is_refused_before_any_input_is_written(comp, monkeypatch, where):
    """``gpu-box:8765`` (no ``http://``) was found only when the job was sent, after every Source and Mask
    frame had been written."""
    fill = comp["fill"]
    if where == "knob":
        fill["server_url"].setValue("gpu-box:8765")
    else:
        monkeypatch.setenv("AIFX_SERVER", "gpu-box:8765")
    with pytest.raises(session.RenderError) as caught:
        nodes.render_node(fill)
    assert nuke.execute_log == [], "nothing written"
    label = "aifx server" if where == "knob" else "$AIFX_SERVER"
    assert str(caught.value) == (
        f"server URL 'gpu-box:8765': expected http(s)://HOST:PORT; set {label} to one such as http://gpu-box:8765"
    )
    assert fill["status"].value() == f"error: {caught.value}"


def test_a_mask_channel_the_mask_lacks_is_named_in_nukes_words(comp):
    """A luminance matte (RGB, no alpha) with the default mask channel: the core's error names its cache file
    and EXR channels; the node names the Mask input, the frame and Nuke's channels."""
    fill = comp["fill"]
    fill["mask_channel"].setValue("rgba.alpha")
    with pytest.raises(session.RenderError) as caught:
        nodes.render_node(fill)
    assert str(caught.value) == (
        "the Mask input at frame 1001: no channel rgba.alpha (channels: rgba.blue, rgba.green, rgba.red); "
        "set mask channel to one of them"
    )
    assert fill["status"].value() == f"error: {caught.value}"


@pytest.mark.parametrize("mode, value", [("offset", "1000"), ("start at", "1001")])
def test_reads_shifted_by_their_frame_mode_fill_the_frames_they_show(comp, mode, value):
    """A plate delivered as frames 1-3, put at 1001-1003 by its Read's frame row (``offset`` 1000, or ``start
    at`` 1001, as an editorial pull is conformed): the AIFill fills the frames the Reads show there, its range
    the Source's (1001-1003), frame 1002's fill the plate's file 2 outside the hole."""
    fill, plate, matte = comp["fill"], comp["plate_node"], comp["matte_node"]
    pulled = comp["dir"] / "pulled"
    pulled.mkdir()
    for number in (1, 2, 3):
        shutil.copy(comp["dir"] / f"plate.{1000 + number}.exr", pulled / f"plate.{number:04d}.exr")
        shutil.copy(comp["dir"] / f"mask.{1000 + number}.png", pulled / f"mask.{number:04d}.png")
    for read, name in ((plate, "plate.####.exr"), (matte, "mask.####.png")):
        read["file"].setValue((pulled / name).as_posix())
        for knob, number in (("first", 1), ("last", 3), ("origfirst", 1), ("origlast", 3)):
            read[knob].setValue(number)
        read["frame_mode"].setValue(mode)
        read["frame"].setValue(value)
    assert (plate.firstFrame(), plate.lastFrame()) == (1001, 1003)
    outcome = nodes.render_node(fill)
    assert (outcome.first, outcome.last, outcome.written) == (1001, 1003, 3)
    away = _away_from_hole(pulled / "mask.0002.png")
    shown, filled = nuke._pull(plate, 1002)["rgba.red"], nuke._pull(fill, 1002)["rgba.red"]
    assert np.array_equal(shown, _exr(str(pulled / "plate.0002.exr"))["R"])  # (the file 2 at frame 1002)
    assert np.array_equal(filled[away], shown[away]) and not np.array_equal(filled, shown)


def test_a_studio_default_frame_mode_does_not_move_the_result(comp):
    """``nuke.knobDefault("Read.frame_mode", "start at")`` with ``Read.frame`` 1 in a studio's menu.py (its
    plates' Reads start at frame 1) reached the AIFill's own result Read: it showed the filled frames 1001-1003
    at 1-3, so at 1002 the node held the last filled frame (1003's fill). The AIFill's Reads read each file at
    its own frame, whatever the defaults."""
    plate = comp["plate_node"]
    nuke.knobDefault("Read.frame_mode", "start at")
    nuke.knobDefault("Read.frame", "1")
    nuke._select(plate)
    fill = nodes.create_aifill()
    fill.setInput(1, comp["matte_node"])
    for knob in ("mask_channel", "backend", "aifx_env", "cache_dir"):
        fill[knob].setValue(comp["fill"][knob].value())
    assert nodes.render_node(fill).written == 3
    for frame in (1001, 1002, 1003):
        away = _away_from_hole(comp["dir"] / f"mask.{frame}.png")
        shown, filled = nuke._pull(plate, frame)["rgba.red"], nuke._pull(fill, frame)["rgba.red"]
        assert np.array_equal(filled[away], shown[away]), frame
        assert not np.array_equal(filled, shown), frame


def _away_from_hole(matte: Path) -> np.ndarray:
    """The pixels of a matte file well outside its hole (the node's dilation and feather left out)."""
    hole = (cv2.imread(str(matte), cv2.IMREAD_GRAYSCALE) > 0).astype(np.uint8)
    return cv2.dilate(hole, np.ones((17, 17), np.uint8)) == 0
