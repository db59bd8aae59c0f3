"""``--keyframes`` with a generative backend on a sequence: what the model is asked to fill, and what the run
says about it. The temporal engine fills one frame per block of ``keyframe_interval`` frames (by position in
the shot) that holds a hole; a given keyframe replaces the automatic choice in its own block only."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from tiny_models import cached_build  # noqa: E402

from aifx_core.cli import main  # noqa: E402

COUNT = 24


def _panning_shot(folder) -> None:
    """A 1 px/frame pan over a smooth random texture, the hole moving with the background: what it hides is
    never seen in another frame, so only the model fills it (on keyframes; the engine carries the rest)."""
    (folder / "p").mkdir(parents=True)
    (folder / "m").mkdir()
    noise = np.random.default_rng(3).random((16, 30, 3)).astype(np.float32)
    texture = (cv2.resize(noise, (130, 64), interpolation=cv2.INTER_CUBIC).clip(0, 1) * 255).astype(np.uint8)
    for i in range(COUNT):
        cv2.imwrite(str(folder / "p" / f"p.{1001 + i}.png"), texture[:, 20 + i : 100 + i])
        matte = np.zeros((64, 80), np.uint8)
        matte[20:44, 40 - i : 64 - i] = 255
        cv2.imwrite(str(folder / "m" / f"m.{1001 + i}.png"), matte)


def _run(tmp_path, model, name: str, keyframes: str, *options: str) -> None:
    args = [
        "fill",
        str(tmp_path / "shot" / "p" / "p.####.png"),
        "-m",
        str(tmp_path / "shot" / "m" / "m.####.png"),
    ]
    args += ["-o", str(tmp_path / name / "c.####.png"), "--backend", "lama", "--model", str(model)]
    args += ["--keyframes", keyframes, "--device", "cpu"]
    for option in options:
        args += ["--option", option]
    assert main(args) == 0


@pytest.fixture()
def calls(monkeypatch) -> list[int | None]:
    from aifx_core.inpaint.lama import LamaBackend

    made: list[int | None] = []
    inpaint = LamaBackend.inpaint

    def recording(self, rgb, hole, *, frame=None, **kwargs):
        made.append(frame)
        return inpaint(self, rgb, hole, frame=frame, **kwargs)

    monkeypatch.setattr(LamaBackend, "inpaint", recording)
    return made


def test_keyframes_say_how_many_model_calls_and_the_interval_that_makes_them_the_only_ones(
    tmp_path, tmp_path_factory, calls, capsys
) -> None:
    """`--keyframes 1001` on 24 frames made 6 model calls, `1001-1024x12` 6 too, without a word (the docs said
    the given frames are "the frames the model fills"): each block of the hidden keyframe_interval (4) got its
    own. The run says so now, with the keyframe_interval that makes the given frames the only ones; with it,
    the model fills those frames alone."""
    model = cached_build("lama", tmp_path_factory.getbasetemp())
    _panning_shot(tmp_path / "shot")
    for keyframes, interval, wanted in (("1001", 24, [1001]), ("1001-1024x12", 12, [1001, 1013])):
        calls.clear()
        _run(tmp_path, model, f"default-{interval}", keyframes)
        err = capsys.readouterr().err
        assert len(calls) == 6 and set(wanted) <= set(calls), calls
        assert (
            f"note: --keyframes {keyframes.split('-')[0] if interval == 24 else '1001,1013'}: the model fills one "
            "keyframe in each block of 4 frames (keyframe_interval) that holds a hole, yours in its block: up to "
            f"6 keyframes on these 24 frames; --option keyframe_interval={interval} makes your {len(wanted)} "
            "keyframe(s) the only ones"
        ) in err, err
        calls.clear()
        _run(tmp_path, model, f"given-{interval}", keyframes, f"keyframe_interval={interval}")
        assert sorted(calls) == wanted
        assert "note: --keyframes" not in capsys.readouterr().err


def test_keyframes_no_interval_can_separate_get_the_note_without_a_suggestion() -> None:
    from aifx_core.pipeline import keyframes_note

    shot = list(range(1001, 1025))
    note = keyframes_note([1001, 1002], 4, shot)
    assert note is not None and note.endswith("raise --option keyframe_interval for fewer")
    assert keyframes_note([1001, 1005, 1009, 1013, 1017, 1021], 4, shot) is None
    assert keyframes_note([1001, 1026, 1051, 1076], 25, list(range(1001, 1101))) is None
