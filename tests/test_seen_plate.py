"""The seen plate (aifx_core.propagate.seen): on a locked-off shot, background that an object hid for longer than
any chain reaches comes back from the frames that saw it, exactly; a handheld (shaken) shot is registered and gets
it too; a panning shot makes none; a sighting that an unmasked passer-by spoiled is not pasted; chunks of a shot
read the same plate as the whole run."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest
from propagate_clips import holed_packets, texture
from shot_files import write_exr

from aifx_core import Cancelled, CancelToken, FillJob, fill
from aifx_core.anchors import AnchorStore
from aifx_core.backends import create_backend
from aifx_core.inpaint import BackendContext
from aifx_core.inpaint.base import FramePacket, Span
from aifx_core.progress import Reporter
from aifx_core.propagate import seen
from aifx_core.propagate.far import RingMembrane
from aifx_core.propagate.fusion import Fused

HEIGHT, WIDTH, COUNT = 48, 64, 32
#: The object stands on this square for frames 0..STAND-1, then walks right 4 px a frame.
TOP, LEFT, SIDE, STAND = 16, 14, 12, 16
#: A short reach, so frames early in the stand are far beyond any chain from the frames that reveal it.
ENGINE = {"radius": 3, "keyframe_interval": 4}


def background(seed: int = 5) -> np.ndarray:
    return texture(HEIGHT, WIDTH, seed)


def standing(t: int) -> np.ndarray:
    """The object's matte: still for STAND frames, then walking off to the right."""
    hole = np.zeros((HEIGHT, WIDTH), bool)
    left = LEFT + max(0, t - STAND + 1) * 4
    hole[TOP : TOP + SIDE, left : left + SIDE] = True
    return hole


def locked_off(noise: float = 0.004, pan: float = 0.0) -> list[np.ndarray]:
    """The background under a still (or, with ``pan`` px a frame, panning) camera, with a little grain."""
    rng = np.random.default_rng(1)
    wide = texture(HEIGHT, WIDTH + 64, 5)
    frames = []
    for t in range(COUNT):
        shift = np.float32([[1, 0, -pan * t], [0, 1, 0]])
        view = cv2.warpAffine(wide, shift, (WIDTH + 64, HEIGHT), flags=cv2.INTER_LINEAR)[:, :WIDTH]
        grain = rng.normal(0.0, noise, view.shape).astype(np.float32)
        frames.append(np.clip(view + grain, 0.0, 1.0).astype(np.float32))
    return frames


def engine(**options):
    return create_backend("propagate", BackendContext(colorspace="sRGB", options={**ENGINE, **options}))


def fill_frames(
    frames: list[np.ndarray], holes: list[np.ndarray], plate, window: int = 4
) -> list[np.ndarray]:
    span = Span(tuple(range(len(frames))), seen=plate)
    backend = engine(window=window)
    return [rgb for _, rgb in backend.fill(iter(holed_packets(frames, holes)), Reporter(), span)]


def test_a_locked_off_shot_keeps_what_every_pixel_showed_clear_of_the_hole() -> None:
    frames, holes = locked_off(), [standing(t) for t in range(COUNT)]
    plate = seen.scan(holed_packets(frames, holes))
    assert plate is not None
    square = standing(0)
    # Every pixel of the standing square is seen: first once the object walked clear of it, last at the end.
    assert np.isfinite(plate.gap[square]).all()
    assert (plate.first_at[square] >= STAND).all() and (plate.last_at[square] == COUNT - 1).all()
    first = plate.at(0, *np.nonzero(square))
    assert np.abs(first - frames[0][square]).max() < 0.03  # the background (two grains apart)
    # The grain of two sightings is far below the agreement tolerance: the reads keep their quality.
    assert float(np.nanmax(plate.gap[square])) < seen.AGREE * 0.5


def counted(frames: list[np.ndarray], holes: list[np.ndarray], read: list[int]):
    """The clip's packets, each one's frame number put in ``read`` as it is taken."""
    for packet in holed_packets(frames, holes):
        read.append(packet.frame)
        yield packet


def test_a_panning_shot_makes_no_plate_and_stops_reading_once_it_leaves_the_first_view() -> None:
    frames, holes = locked_off(pan=2.0), [standing(t) for t in range(COUNT)]
    read: list[int] = []
    assert seen.scan(counted(frames, holes, read)) is None
    # Registered while no corner has moved further than MAX_DRIFT of the short side (2 px a frame), then MAX_MISSES
    # more frames tried (a jolt would be over by then) and no more reads: the frames registered are fewer than
    # MIN_SPAN, so the stretch makes no plate; the camera never holds still, so no new stretch begins.
    drift = seen.MAX_DRIFT * HEIGHT
    assert (
        len(read) == int(drift // 2.0) + 2 + seen.MAX_MISSES
    )  # within the drift, the first beyond, the tries


#: The handheld shot is twice the size (a rotation of a small frame is too few pixels to register well).
BIG = 2


def shaken(t: int) -> np.ndarray:
    """A handheld camera: frame t's map from the world (the first frame's pixels) to its own, random within
    ±2.5 px and ±0.6 degrees (frame 0 is the world)."""
    if t == 0:
        return np.float32([[1, 0, 0], [0, 1, 0]])
    rng = np.random.default_rng(100 + t)
    matrix = cv2.getRotationMatrix2D((BIG * WIDTH / 2, BIG * HEIGHT / 2), rng.uniform(-0.6, 0.6), 1.0)
    matrix[:, 2] += rng.uniform(-2.5, 2.5, 2)
    return matrix.astype(np.float32)


def pushed_in(t: int) -> np.ndarray:
    """A slow push-in: frame t's map from the world (the first frame's pixels) to its own, 0.3 % larger a frame
    about the centre."""
    return cv2.getRotationMatrix2D((BIG * WIDTH / 2, BIG * HEIGHT / 2), 0.0, 1.0 + 0.003 * t).astype(
        np.float32
    )


def handheld(
    camera=None, matte=None, noise: float = 0.004, still: dict[tuple[float, ...], np.ndarray] | None = None
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The standing object's shot (or ``matte``'s, a function of the frame), BIG times the size, under ``camera``
    (default :func:`shaken`): a wider world seen through a moving frame (no border shows), the matte moving with
    the picture, ``noise`` of grain; ``still``: objects standing in the world all shot, each a colour and where it
    stands in the first frame's pixels (at 1x)."""
    shaken_or = camera or shaken
    matte_of = matte or standing
    height, width = BIG * HEIGHT, BIG * WIDTH
    world = texture(height + 16, width + 16, 5)
    for colour, place in (still or {}).items():
        world[8 : 8 + height, 8 : 8 + width][np.kron(place, np.ones((BIG, BIG), bool))] = colour
    rng = np.random.default_rng(1)
    frames, holes = [], []
    for t in range(COUNT):
        matrix = shaken_or(t).copy()
        matrix[:, 2] -= matrix[:, :2] @ np.float32([8, 8])  # the world's (8, 8) is the first frame's (0, 0)
        view = cv2.warpAffine(world, matrix, (width, height), flags=cv2.INTER_LINEAR)
        grain = rng.normal(0.0, noise, view.shape).astype(np.float32)
        frames.append(np.clip(view + grain, 0.0, 1.0).astype(np.float32))
        matte = np.kron(matte_of(t), np.ones((BIG, BIG), bool)).astype(np.uint8)
        holes.append(
            cv2.warpAffine(matte, shaken_or(t), (width, height), flags=cv2.INTER_NEAREST).astype(bool)
        )
    return frames, holes


@pytest.mark.parametrize(
    "camera, within, still_within",
    [(shaken, 0.2, seen.STILL_PX), (pushed_in, 0.75, seen.ZOOM_PX)],
    ids=["shaken", "pushed in"],
)
def test_a_handheld_shot_is_registered_and_its_hidden_background_comes_back(
    camera, within, still_within
) -> None:
    frames, holes = handheld(camera)
    plate = engine().seen_plate(holed_packets(frames, holes))
    assert plate is not None and plate.warps is not None
    assert plate.warps.shape == (COUNT, 2, 3)
    # Each frame's registration is the camera's within a fifth of a pixel at every corner for the shake; the push-in
    # scales, and the affine model's six numbers come out noisier on this small frame (a frame the rotation and
    # shift passed for still was zoomed by less than ZOOM_PX).
    shape = (BIG * HEIGHT, BIG * WIDTH)
    for t in range(1, COUNT):
        error = seen._corner_moves(plate.warps[t] - camera(t) + np.eye(2, 3), shape)
        if seen._still(plate.warps[t], shape):  # read as it is
            assert seen._corner_moves(camera(t), shape) < still_within + 0.05, f"frame {t}"
        else:
            assert error < within, f"frame {t}: {error:.2f} px"
    # A frame reads the plate resampled over its hole's box alone: the same values as the whole frame's there.
    whole = plate.framed(5)
    part = plate.framed(5, (10, 50, 20, 70))
    assert whole is not None and part is not None and part[1] == (10, 20)
    # (OpenCV steps its sample positions in 1/32 px from the box's corner: a value may move by its 32nd of a pixel.)
    for name in ("first", "last", "gap"):
        np.testing.assert_allclose(getattr(part[0], name), getattr(whole[0], name)[10:50, 20:70], atol=0.02)
    for name in ("first_at", "last_at"):
        assert np.mean(getattr(part[0], name) == getattr(whole[0], name)[10:50, 20:70]) > 0.99
    with_plate = fill_frames(frames, holes, plate)
    without = fill_frames(frames, holes, None)
    for t in (0, 4, 8):  # hidden for 8+ frames more than any chain or keyframe reaches
        hole = holes[t]
        error = float(np.mean((with_plate[t][hole] - frames[t][hole]) ** 2))
        before = float(np.mean((without[t][hole] - frames[t][hole]) ** 2))
        assert error < 1e-3, f"frame {t}: {error}"  # two bilinear resamplings of a fine texture, and grain
        assert error < 0.2 * before, f"frame {t}: {error} vs {before} without the plate"
    # Read as if the camera had not moved, the plate misses: by the 8th frame the registration halves the error.
    unregistered = fill_frames(frames, holes, dataclasses.replace(plate, warps=None))[8]
    hole = holes[8]
    error = float(np.mean((with_plate[8][hole] - frames[8][hole]) ** 2))
    assert error < 0.5 * float(np.mean((unregistered[hole] - frames[8][hole]) ** 2))
    for t, rgb in enumerate(fill_frames(frames, holes, plate, window=1)):
        np.testing.assert_array_equal(rgb, with_plate[t])
        np.testing.assert_array_equal(with_plate[t][~holes[t]], frames[t][~holes[t]])


def test_a_locked_off_shot_is_read_as_it_is() -> None:
    frames, holes = locked_off(), [standing(t) for t in range(COUNT)]
    plate = seen.scan(holed_packets(frames, holes))
    assert plate is not None and plate.warps is None and plate.later is None  # the sightings' exact values
    assert plate.framed(0) == (plate, (0, 0)) and plate.framed(COUNT - 1) == (plate, (0, 0))


def moved(frames: list[np.ndarray], holes: list[np.ndarray], when: range, by: int = 12):
    """The shot with the camera moved ``by`` px to the side in frames ``when`` (picture and matte alike)."""
    return (
        [np.roll(f, by, axis=1) if t in when else f for t, f in enumerate(frames)],
        [np.roll(h, by, axis=1) if t in when else h for t, h in enumerate(holes)],
    )


def test_frames_after_a_jolt_are_registered_again() -> None:
    """Frames 10-12 jolted 12 px aside (beyond MAX_DRIFT) and back: those three are neither read from nor read,
    the rest are, still exactly."""
    frames, holes = moved(locked_off(), [standing(t) for t in range(COUNT)], range(10, 13))
    read: list[int] = []
    plate = seen.scan(counted(frames, holes, read))
    assert len(read) == COUNT and plate is not None and plate.warps is not None and plate.later is None
    assert [t for t in range(COUNT) if plate.framed(t) is None] == [10, 11, 12]
    assert plate.framed(20) == (plate, (0, 0))
    assert (plate.first_at[standing(0)] >= STAND).all() and (plate.last_at[standing(0)] == COUNT - 1).all()


def test_a_bumped_tripod_begins_a_plate_of_its_own_where_it_is_still_again() -> None:
    """The camera is bumped 12 px at frame 4 and stays there: after SETTLE frames still again, a new stretch
    begins (frame 7) whose plate its frames read exactly; frames 0-6 read none (the first stretch registered
    fewer than MIN_SPAN frames, frames 4-6 were the camera moving)."""
    bump = 4
    truth, holes = moved(locked_off(), [standing(t) for t in range(COUNT)], range(bump, COUNT))
    read: list[int] = []
    plate = seen.scan(counted(truth, holes, read))
    begun = bump + seen.SETTLE
    assert len(read) == COUNT and plate is not None and plate.later is None and plate.warps is not None
    assert [t for t in range(COUNT) if plate.framed(t) is not None] == list(range(begun, COUNT))
    assert plate.framed(begun + 1) == (plate, (0, 0))  # still in its stretch: read as it is
    with_plate = fill_frames(truth, holes, plate)
    without = fill_frames(truth, holes, None)
    square = holes[begun]
    for t in (begun, begun + 1):  # 8+ frames before the object moves: no chain nor keyframe reaches
        error = float(np.mean((with_plate[t][square] - truth[t][square]) ** 2))
        before = float(np.mean((without[t][square] - truth[t][square]) ** 2))
        assert error < 2e-4 and error < 0.1 * before, f"frame {t}: {error} vs {before} without the plate"
    # A third bump back (frame 20 on) is a third stretch, kept after the second and read from frame 23 on.
    again, holes_again = moved(truth, holes, range(20, COUNT), by=-12)
    plate = seen.scan(holed_packets(again, holes_again))
    assert plate is not None and plate.later is not None
    assert plate.framed(22) is None and plate.framed(23) == (plate.later, (0, 0))
    assert seen.SeenPlate.from_arrays(plate.arrays()).later is not None


def test_a_static_light_over_a_pan_does_not_pass_for_a_locked_off_shot() -> None:
    """A burnt-in logo or a light fixed in frame can hold the phase correlation's peak at no motion: the
    content check sees the pan."""
    frames, holes = locked_off(pan=1.5), [standing(t) for t in range(COUNT)]
    for frame in frames:
        frame[2:8, 2:8] = 40.0  # scene-linear, far above the rest (the tests' shot has such a light)
    read: list[int] = []
    assert seen.scan(counted(frames, holes, read)) is None
    # The light also makes the pan look still again (SETTLE), so new stretches begin; none registers its frames
    # for long, and the pass ends after MAX_STRETCHES of them.
    assert len(read) <= seen.MAX_STRETCHES * (seen.SETTLE + 2)


def test_the_option_turns_it_off() -> None:
    frames, holes = locked_off(), [standing(t) for t in range(COUNT)]
    assert engine(seen_plate="off").seen_plate(holed_packets(frames, holes)) is None
    assert engine().seen_plate(holed_packets(frames, holes)) is not None


def test_background_hidden_beyond_every_chain_comes_back_exactly() -> None:
    frames, holes = locked_off(), [standing(t) for t in range(COUNT)]
    plate = engine().seen_plate(holed_packets(frames, holes))
    with_plate = fill_frames(frames, holes, plate)
    without = fill_frames(frames, holes, None)
    square = standing(0)
    for t in (0, 4, 8):  # 8+ frames before the object moves: radius 3 and keyframes every 4 never reach
        error = float(np.mean((with_plate[t][square] - frames[t][square]) ** 2))
        before = float(np.mean((without[t][square] - frames[t][square]) ** 2))
        assert error < 2e-4, f"frame {t}: {error}"  # the grain of two frames
        assert error < 0.1 * before, f"frame {t}: {error} vs {before} without the plate"
    # Outside the hole nothing changes, bit for bit; and the window changes nothing at all.
    for t, rgb in enumerate(fill_frames(frames, holes, plate, window=1)):
        np.testing.assert_array_equal(rgb, with_plate[t])
        np.testing.assert_array_equal(with_plate[t][~holes[t]], frames[t][~holes[t]])


def test_a_sighting_spoiled_by_a_passer_by_is_not_pasted() -> None:
    frames, holes = locked_off(), [standing(t) for t in range(COUNT)]
    # An unmasked red ball stands on part of the square in the last frames: its last sightings are the ball.
    spoiled = np.zeros((HEIGHT, WIDTH), bool)
    spoiled[TOP : TOP + 6, LEFT : LEFT + 6] = True
    for t in range(COUNT - 4, COUNT):
        frames[t][spoiled] = (0.95, 0.05, 0.05)
    plate = seen.scan(holed_packets(frames, holes))
    assert plate is not None
    ys, xs = np.nonzero(standing(0))
    fused = Fused(
        np.zeros((len(ys), 3), np.float32),
        np.zeros(len(ys), bool),
        np.zeros(len(ys), np.float32),
        np.zeros(len(ys), np.float32),
        np.full(len(ys), np.nan, np.float32),
        np.zeros(len(ys), np.int16),
    )
    packet = holed_packets(frames, holes)[3]
    seen.seen_candidates(3, plate, fused, ys, xs, RingMembrane(packet.rgb, ys, xs), level=0.5)
    ball = spoiled[ys, xs]
    assert not fused.found[ball].any()  # first and last sightings disagree there: left to the other routes
    assert fused.found[~ball].mean() > 0.9
    np.testing.assert_allclose(
        fused.values[~ball & fused.found], frames[3][ys, xs][~ball & fused.found], atol=0.03
    )


def _write_shot(folder: Path, shot: tuple[list[np.ndarray], list[np.ndarray]] | None = None) -> Path:
    """The locked-off shot (or ``shot``: frames and holes) as EXR plates and PNG mattes from frame 1001."""
    frames, holes = shot or (locked_off(), [standing(t) for t in range(COUNT)])
    folder.mkdir(parents=True, exist_ok=True)
    for t, (rgb, hole) in enumerate(zip(frames, holes, strict=True)):
        planes = {name: rgb[..., c].astype(np.float16) for c, name in enumerate("RGB")}
        write_exr(folder / f"plate.{1001 + t:04d}.exr", planes)
        cv2.imwrite(str(folder / f"mask.{1001 + t:04d}.png"), hole.astype(np.uint8) * 255)
    return folder


def _job(shot: Path, out: Path, **options) -> FillJob:
    return FillJob(
        input=str(shot / "plate.####.exr"),
        mask=str(shot / "mask.####.png"),
        output=str(out / "clean.####.exr"),
        backend="propagate",
        options={**ENGINE, **options},
        dilate=0,
    )


def _stage_into(stages: list[str]):
    return lambda event: stages.append(event.stage)


def _chunks_match_the_whole_run(shot: Path, out: Path, chunks: list[str]) -> None:
    """Fill ``shot`` whole, then in ``chunks``: the first chunk makes the plate (one pass over the whole shot) and
    caches it with the anchors, the next reads it from there, and every frame is the whole run's, bit for bit."""
    from shot_files import frame_bytes

    assert len(fill(_job(shot, out / "whole")).written) == COUNT
    passes = []
    for chunk in chunks:
        stages: list[str] = []
        fill(_job(shot, out / "chunks"), progress=_stage_into(stages), frames=chunk)
        passes.append(stages.count("seen plate"))
    assert passes == [COUNT] + [0] * (len(chunks) - 1)
    for frame in range(1001, 1001 + COUNT):
        assert frame_bytes(out / "whole" / "clean.####.exr", frame) == frame_bytes(
            out / "chunks" / "clean.####.exr", frame
        ), f"frame {frame} differs from the whole run"


def _rgb(path: Path) -> np.ndarray:
    from shot_files import read_exr

    _header, planes = read_exr(path)
    return np.stack([planes[c].astype(np.float32) for c in "RGB"], axis=-1)


@pytest.mark.parametrize("chunks", [["1001-1012", "1013-1032"]])
def test_the_pipeline_gives_every_chunk_the_whole_shots_plate(tmp_path: Path, chunks: list[str]) -> None:
    shot = _write_shot(tmp_path / "shot")
    _chunks_match_the_whole_run(shot, tmp_path, chunks)
    # The plate was used: frame 1001's hole is the background the object hid for 16 frames.
    out = _rgb(tmp_path / "whole" / "clean.1001.exr")
    truth = locked_off()[0]
    square = standing(0)
    assert float(np.mean((out[square] - truth[square]) ** 2)) < 2e-4
    assert fill(_job(shot, tmp_path / "off", seen_plate=False), frames="1001").written
    out_off = _rgb(tmp_path / "off" / "clean.1001.exr")
    assert float(np.mean((out_off[square] - truth[square]) ** 2)) > 5 * float(
        np.mean((out[square] - truth[square]) ** 2)
    )


def test_a_handheld_shot_in_chunks_reads_the_whole_shots_registered_plate(tmp_path: Path) -> None:
    """The second chunk reads the plate, with each frame's registration, from the anchors cache: the same frames
    bit for bit as the whole run, and the background the object hid comes back."""
    frames, holes = handheld()
    _chunks_match_the_whole_run(
        _write_shot(tmp_path / "shot", (frames, holes)), tmp_path, ["1001-1010", "1011-1032"]
    )
    out = _rgb(tmp_path / "chunks" / "clean.1005.exr")
    truth = frames[4].astype(np.float16).astype(np.float32)  # (the plate as the EXR holds it)
    assert float(np.mean((out[holes[4]] - truth[holes[4]]) ** 2)) < 1e-3


def test_a_bumped_tripod_in_chunks_reads_its_second_stretch_from_the_cache(tmp_path: Path) -> None:
    """The later stretch's plate travels in the anchors cache with the first: the second chunk, all of it after
    the bump, gets the hidden background back, bit for bit as the whole run."""
    truth, holes = moved(locked_off(), [standing(t) for t in range(COUNT)], range(4, COUNT))
    _chunks_match_the_whole_run(
        _write_shot(tmp_path / "shot", (truth, holes)), tmp_path, ["1001-1008", "1009-1032"]
    )
    t = 4 + seen.SETTLE + 1
    out = _rgb(tmp_path / "chunks" / f"clean.{1001 + t}.exr")
    plate = truth[t].astype(np.float16).astype(np.float32)  # (the plate as the EXR holds it)
    assert float(np.mean((out[holes[t]] - plate[holes[t]]) ** 2)) < 2e-4


def test_the_anchors_cache_keeps_the_plate_and_refuses_a_damaged_one(tmp_path: Path) -> None:
    frames, holes = locked_off(), [standing(t) for t in range(COUNT)]
    plate = seen.scan(holed_packets(frames, holes))
    assert plate is not None
    shot = list(range(1001, 1001 + COUNT))
    store = AnchorStore(str(tmp_path / "clean.####.exr"), "k", shot, 8)
    store.begin(store.load())
    assert store.cached_seen() == (False, None)
    store.write_seen(plate.arrays())
    again = AnchorStore(str(tmp_path / "clean.####.exr"), "k", shot, 8)
    again.load()
    cached, arrays = again.cached_seen()
    assert cached and arrays is not None
    back = seen.SeenPlate.from_arrays(arrays)
    for name, array in plate.arrays().items():
        np.testing.assert_array_equal(getattr(back, name), array)
    # A damaged file is not read (made again), nor arrays of another shape.
    path = store.folder / "seen.npz"
    path.write_bytes(path.read_bytes()[:-8] + b"damaged!")
    damaged = AnchorStore(str(tmp_path / "clean.####.exr"), "k", shot, 8)
    damaged.load()
    assert damaged.cached_seen() == (False, None)
    with pytest.raises(ValueError):
        seen.SeenPlate.from_arrays({**plate.arrays(), "gap": np.zeros((3, 3), np.float32)})
    # A handheld shot's plate keeps each frame's registration.
    shaken_plate = seen.scan(holed_packets(*handheld()))
    assert shaken_plate is not None and shaken_plate.warps is not None
    back = seen.SeenPlate.from_arrays(shaken_plate.arrays())
    assert back.warps is not None
    np.testing.assert_array_equal(back.warps, shaken_plate.warps)
    with pytest.raises(ValueError):
        seen.SeenPlate.from_arrays({**shaken_plate.arrays(), "warps": np.zeros((COUNT, 3, 3))})
    # A shot without a plate is cached as such.
    store.write_seen(None)
    none = AnchorStore(str(tmp_path / "clean.####.exr"), "k", shot, 8)
    none.load()
    assert none.cached_seen() == (True, None)


def test_a_run_cancelled_during_the_pass_resumes_to_the_same_frames(tmp_path: Path) -> None:
    """Cancelled (SIGTERM from Blender or Nuke) while the plate is being made: nothing is cached or written half,
    and the next run makes the same frames, bit for bit, as a run never stopped."""
    from shot_files import frame_bytes

    shot = _write_shot(tmp_path / "shot")
    fill(_job(shot, tmp_path / "whole"))
    cancel = CancelToken()

    def stop(event) -> None:
        if event.stage == "seen plate" and event.index == COUNT // 2:
            cancel.cancel()

    with pytest.raises(Cancelled):
        fill(_job(shot, tmp_path / "again"), progress=stop, cancel=cancel)
    assert not list((tmp_path / "again").glob("clean.*.exr"))  # the pass comes before any frame
    assert not list((tmp_path / "again").rglob("seen.npz"))  # nor is half a plate kept
    stages: list[str] = []
    assert len(fill(_job(shot, tmp_path / "again"), progress=_stage_into(stages)).written) == COUNT
    assert stages.count("seen plate") == COUNT
    for frame in range(1001, 1001 + COUNT):
        assert frame_bytes(tmp_path / "whole" / "clean.####.exr", frame) == frame_bytes(
            tmp_path / "again" / "clean.####.exr", frame
        ), f"frame {frame} differs from the run never stopped"


#: The object that arrives: clear of the square for frames 0..ARRIVE-1 (three sightings), then standing on it to
#: the shot's end.
ARRIVE = 3


def arriving(t: int) -> np.ndarray:
    """The matte of an object that walks in at frame ARRIVE and stays on the square for the rest of the shot."""
    hole = np.zeros((HEIGHT, WIDTH), bool)
    if t >= ARRIVE:
        hole[TOP : TOP + SIDE, LEFT : LEFT + SIDE] = True
    return hole


def arrived(frames: list[np.ndarray], holes: list[np.ndarray]) -> list[np.ndarray]:
    """A green object painted under each hole (the object the matte covers, the tester's `arrive` clip's colour);
    the frames before, the background truth."""
    truth = [frame.copy() for frame in frames]
    for frame, hole in zip(frames, holes, strict=True):
        frame[hole] = (0.16, 0.78, 0.16)
    return truth


def shown(frames: list[np.ndarray], holes: list[np.ndarray]) -> list[FramePacket]:
    """The frames as the pipeline hands them to the pass: the plate's own values under the hole (the object)."""
    return [FramePacket(t, frame, hole) for t, (frame, hole) in enumerate(zip(frames, holes, strict=True))]


@pytest.mark.parametrize("noise", [0.004, 0.012], ids=["fine grain", "grain"])
def test_background_seen_only_before_an_object_arrived_comes_back_at_the_shots_end(
    tmp_path: Path, noise: float
) -> None:
    """A handheld shot whose first three frames show the square before an object arrives on it for good (the
    tester's `arrive` clip: 13 dB, Telea's level, from the frame the chains no longer reach): the plate keeps the
    three agreeing sightings, grain or not, and the last frames, 28 frames on, get that background back through
    the pipeline, each chunk as the whole run."""
    frames, holes = handheld(matte=arriving, noise=noise)
    background = arrived(frames, holes)
    shot = _write_shot(tmp_path / "shot", (frames, holes))
    _chunks_match_the_whole_run(shot, tmp_path, ["1001-1016", "1017-1032"])
    assert fill(_job(shot, tmp_path / "off", seen_plate=False), frames="1030-1032").written
    for t in (COUNT - 3, COUNT - 1):
        hole = holes[t]
        truth = background[t].astype(np.float16).astype(np.float32)  # (the plate as the EXR holds it)
        error = float(np.mean((_rgb(tmp_path / "whole" / f"clean.{1001 + t}.exr")[hole] - truth[hole]) ** 2))
        before = float(np.mean((_rgb(tmp_path / "off" / f"clean.{1001 + t}.exr")[hole] - truth[hole]) ** 2))
        assert error < 1e-3, f"frame {t}: {error}"  # a bilinear resampling of a fine texture, and grain
        assert error < 0.2 * before, f"frame {t}: {error} vs {before} without the plate"


def arriving_wide(t: int) -> np.ndarray:
    """The matte of a wide object that walks in at frame ARRIVE and stays for the rest of the shot."""
    hole = np.zeros((HEIGHT, WIDTH), bool)
    if t >= ARRIVE:
        hole[12:40, 8:44] = True
    return hole


def rolling_ball(frames: list[np.ndarray]) -> np.ndarray:
    """An unmasked red ball rolls across the top of the wide object's place 4 px a frame before the object
    arrives: its middle columns are red in all three sightings (they agree), the columns it entered or left
    disagree. Where it touched the place's frames 0..ARRIVE-1."""
    ball = np.zeros((ARRIVE, BIG * HEIGHT, BIG * WIDTH), bool)
    for t in range(ARRIVE):
        left = 24 + 4 * t
        ball[t, 28:38, left : left + 24] = True
        frames[t][ball[t]] = (0.95, 0.05, 0.05)
    assert ball.all(axis=0).any()  # (a part of the ball agrees with itself over the whole span)
    return ball.any(axis=0)


def parked_car(frames: list[np.ndarray]) -> np.ndarray:
    """An unmasked blue car stands half over the wide object's place from the shot's start (all three sightings
    there agree) and is gone from frame 10 (driven off, fast), hidden where the object stands: its half beside
    the object shows it leave. Where it stood."""
    car = np.zeros((BIG * HEIGHT, BIG * WIDTH), bool)
    car[50:70, 70:110] = True
    for frame in frames[:10]:
        frame[car] = (0.2, 0.3, 0.8)
    return car


@pytest.mark.parametrize("mover", [rolling_ball, parked_car], ids=["rolling ball", "parked car"])
def test_a_mover_seen_in_a_short_span_is_not_taken_for_background(mover) -> None:
    """Locked off (BIG, so that the registration holds still), a wide object arrives at frame ARRIVE and stays;
    an unmasked mover stood on its place in the three frames before (:func:`rolling_ball`, :func:`parked_car`):
    no pixel the mover touched reads the plate (the ball's middle columns and the car agree with themselves: a
    flat area that reaches where sightings departed or disagree is spoiled whole, and a pixel within STIRRED_PX
    of a departed one too); the rest of the place does, with the background's values."""
    frames, holes = handheld(camera=lambda t: np.float32([[1, 0, 0], [0, 1, 0]]), matte=arriving_wide)
    truth = arrived(frames, holes)
    touched = mover(frames)
    plate = seen.scan(shown(frames, holes))
    assert plate is not None
    target = COUNT - 1
    ys, xs = np.nonzero(holes[target])
    fused = Fused(
        np.zeros((len(ys), 3), np.float32),
        np.zeros(len(ys), bool),
        np.zeros(len(ys), np.float32),
        np.zeros(len(ys), np.float32),
        np.full(len(ys), np.nan, np.float32),
        np.zeros(len(ys), np.int16),
    )
    packet = holed_packets(frames, holes)[target]
    seen.seen_candidates(target, plate, fused, ys, xs, RingMembrane(packet.rgb, ys, xs), level=0.5)
    assert touched[ys, xs].sum() > 100 and not fused.found[touched[ys, xs]].any()
    side = 2 * (seen.STIRRED_PX + 3) + 1  # (and the smoothing's reach)
    far = ~cv2.dilate(touched.astype(np.uint8), np.ones((side, side), np.uint8)).astype(bool)[ys, xs]
    assert far.sum() > 1000 and fused.found[far].all()
    np.testing.assert_allclose(
        fused.values[fused.found], truth[target][ys, xs][fused.found], atol=0.03
    )  # (two grains apart)


@pytest.mark.parametrize("missing", [range(10, 13), range(COUNT - 4, COUNT)], ids=["mid-shot", "shot's end"])
def test_a_still_objects_roto_missing_for_a_few_frames_is_not_a_short_span(missing: range) -> None:
    """A red square stands still all shot, its roto missing on three or four frames in a row (runs of two or
    fewer are masked by the dropout check): those frames show the square clear, and agree. They begin where the
    matte vanished from a frame whose neighbour before had one: not background seen briefly, nothing is read."""
    square = standing(0)
    frames = locked_off()
    for frame in frames:
        frame[square] = (0.95, 0.05, 0.05)
    holes = [square & (t not in missing) for t in range(COUNT)]
    plate = seen.scan(holed_packets(frames, holes))
    assert plate is not None and plate.first_at[square].min() == missing[0]
    assert not np.isfinite(plate.gap[square]).any()


RED, BLUE = (0.95, 0.05, 0.05), (0.1, 0.2, 0.9)


def blue_place() -> np.ndarray:
    """Where a blue object stands, masked all shot (so no frame's hole is ever empty: the matte never vanishes)."""
    place = np.zeros((HEIGHT, WIDTH), bool)
    place[6:18, 42:56] = True
    return place


def red_frames(path: Path, holes: list[np.ndarray]) -> list[int]:
    """The shot positions whose filled hole (``path``'s frames from 1001) shows the red object: 8+ pixels near
    its colour."""
    shown = []
    for t, hole in enumerate(holes):
        rgb = _rgb(path / f"clean.{1001 + t}.exr")[hole]
        if int((np.abs(rgb - np.float32(RED)).max(axis=-1) < 0.15).sum()) >= 8:
            shown.append(t)
    return shown


def tripod(t: int) -> np.ndarray:
    """A locked-off camera."""
    return np.float32([[1, 0, 0], [0, 1, 0]])


@pytest.mark.parametrize(
    "unmasked, far, camera",
    [
        (range(0, 3), range(16, COUNT), shaken),
        (range(COUNT - 3, COUNT), range(0, COUNT - 16), tripod),
        (range(14, 17), (), shaken),
    ],
    ids=["begun late at the start", "ended early at the end", "missing mid-shot"],
)
def test_a_still_objects_roto_begun_late_or_ended_early_does_not_paste_it_everywhere(
    tmp_path: Path, unmasked: range, far: range, camera
) -> None:
    """A red object stands still all shot; its roto misses three frames at the shot's start (begun late), at
    its end (ended early) or mid-shot, while a blue object is masked all along (no frame's hole is empty).
    Those three frames show the object clear and agree with each other, as background seen before an object
    arrived does (the `arrive` test): but they agree with what stands under the hole in the frame next to
    them, where the `arrive` shot's three differ from it. The plate keeps none of them: no frame shows the red
    object where the fill without the plate did not (the chains reach a few frames from the clear ones), none
    far from them (867af5d put it into every frame but the first or last few). (The shot's end is locked off:
    handheld, its frames showing the object where the first frame had a hole do not all register.)"""
    red = standing(0)
    frames, holes = handheld(
        camera=camera,
        matte=lambda t: blue_place() | (red & (t not in unmasked)),
        still={RED: red, BLUE: blue_place()},
    )
    plate = seen.scan(holed_packets(frames, holes))
    assert plate is not None and (plate.first_at[np.kron(red, np.ones((BIG, BIG), bool))] >= 0).any()
    shot = _write_shot(tmp_path / "shot", (frames, holes))
    fill(_job(shot, tmp_path / "with"))
    fill(_job(shot, tmp_path / "off", seen_plate=False))
    shown, before = red_frames(tmp_path / "with", holes), red_frames(tmp_path / "off", holes)
    assert set(shown) <= set(before), (
        f"the plate put the object into frames {sorted(set(shown) - set(before))}"
    )
    assert not set(shown) & set(far)


@pytest.mark.parametrize(
    "under",
    ["spots", "nan", "sentinel"],
    ids=["NaN, Inf and 1e6 spots", "all NaN", "a sentinel colour"],
)
def test_what_stands_under_the_hole_is_only_compared_and_no_sentinel_there_makes_a_sighting_count(
    under: str,
) -> None:
    """The roto begun late at the shot's start, the hole from frame 3 on showing the red object with NaN, Inf
    and 1e6 spots in it, or NaN, or a sentinel colour all over: none of it is read as an object that arrived
    (a value that is not a picture agrees, and the smoothing spreads nothing of it), so the object's three
    sightings are not read. Nothing under the hole is kept in the plate."""
    red = standing(0)
    frames, holes = handheld(
        matte=lambda t: blue_place() | (red & (t >= 3)), still={RED: red, BLUE: blue_place()}
    )
    for t in range(3, COUNT):
        hole = holes[t]
        if under == "spots":
            ys, xs = np.nonzero(hole)
            for k, value in enumerate((np.nan, np.inf, -np.inf, 1e6)):
                frames[t][ys[k::23], xs[k::23]] = value
        else:
            frames[t][hole] = np.nan if under == "nan" else (7.0, -5.0, 9.0)
    plate = seen.scan(shown(frames, holes))
    assert plate is not None
    place = np.kron(red, np.ones((BIG, BIG), bool))
    assert (plate.first_at[place] == 0).all() and (plate.last_at[place] == 2).all()
    assert not np.isfinite(plate.gap[place]).any()
    for name in ("first", "last"):
        values = getattr(plate, name)
        assert np.isfinite(values).all() and np.abs(values).max() <= 1.0  # nothing under a hole is kept
