"""``aifx previz shots.yaml -o previz/``: a short moving clip per shot, next to ``aifx storyboard``.

The same YAML as the storyboard (model, steps, size, seed, shots with name/prompt/aspect/camera), plus::

    frames: 33            # clip length (generated rounded up to 4k+1 for Wan-style models, kept as asked)
    fps: 24               # or 23.976, 29.97 (written as 24000/1001, 30000/1001)
    shots:
      - name: "010"
        prompt: a lighthouse at dusk, slow push in
        image: board/01_010.png   # optional: start from this storyboard frame (image-to-video)

The model is a diffusers text-to-video or masked video pipeline (Wan 2.1/2.2 T2V, Wan VACE, LTX-Video,
CogVideoX): a hub id, a local folder or a checkpoint, found like every other aifx model. With a masked video
pipeline (VACE) a shot's ``image`` becomes the known first frame (mask 0) and the rest is generated; with an
image-to-video pipeline it is passed as ``image``; a text-to-video pipeline ignores it (said once).

Writes per shot ``NN_name/NN_name.####.png`` (frames from 1001; frames of an earlier, longer run of the clip
are removed) and ``NN_name.mp4`` (H.264 through PyAV),
then ``previz_sheet.png``: first, middle and last frame of every shot. Files are written atomically.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
import unicodedata
from collections.abc import Set
from fractions import Fraction
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from .arguments import path_argument
from .errors import InputError
from .inpaint.video.limits import ModelLimits, is_shape_error, refusal
from .storyboard import (
    NAN_ADVICE,
    SHOT_KEYS,
    TOP_KEYS,
    Board,
    Shot,
    add_model_arguments,
    image_size,
    load_board,
    memory_advice,
    model_overrides,
    output_folder,
    whole_number,
    writing,
)

PREVIZ_TOP_KEYS = TOP_KEYS | {"frames", "fps"}
PREVIZ_SHOT_KEYS = SHOT_KEYS | {"image", "frames"}
FIRST_FRAME = 1001


def load_previz(path: Path, overrides: dict[str, Any] | None = None) -> tuple[Board, int, Fraction]:
    """The board plus the clip length and frame rate; a shot's ``image`` is resolved next to the YAML file."""
    board = load_board(path, overrides, top_keys=PREVIZ_TOP_KEYS, shot_keys=PREVIZ_SHOT_KEYS)
    frames = whole_number(board.options.pop("frames", 33), f"{path}: frames", 1)
    fps = frame_rate(board.options.pop("fps", 24), f"{path}: fps")
    for shot in board.shots:
        if "frames" in shot.extra:
            shot.extra["frames"] = whole_number(shot.extra["frames"], f"{path}: shot {shot.name}: frames", 1)
        if shot.extra.get("image"):
            image = Path(str(shot.extra["image"])).expanduser()
            image = image if image.is_absolute() else path.parent / image
            composed = Path(unicodedata.normalize("NFC", str(image)))  # the storyboard writes NFC names
            image = composed if not image.is_file() and composed.is_file() else image
            if not image.is_file():
                raise InputError(
                    f"{path}: shot {shot.name}: image {image} not found; give a storyboard frame"
                )
            shot.extra["image"] = image
    return board, frames, fps


def frame_rate(value: Any, where: str) -> Fraction:
    """The clip's frame rate: a whole number or an NTSC rate (``23.976``, ``29.97``: ``n * 1000/1001``, as
    :func:`.sequence.smpte.exact_rate` reads a DPX's), which ``fps: 23.976`` was refused as ("expected a whole
    number") though the MP4 takes any fraction. Anything else is an :class:`InputError` naming ``where``."""
    from .sequence.smpte import exact_rate

    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InputError(f"{where}: expected a frame rate such as 24, 25 or 23.976, got {value!r}")
    try:
        number = float(str(value))
    except ValueError:
        raise InputError(f"{where}: expected a frame rate such as 24, 25 or 23.976, got {value!r}") from None
    if not 1 <= number <= 1000:  # (NaN too)
        raise InputError(f"{where}: must be within 1..1000 frames per second, got {value!r}")
    return exact_rate(number)


def clip_shape(limits: ModelLimits, board: Board, shot: Shot, frames: int) -> tuple[int, int, int]:
    """(width, height, frame count) the model is asked for one shot (sides and count by its size rules)."""
    from .inpaint.video.windows import model_frame_count

    width, height = image_size(shot.aspect, board.size, limits.multiple)
    return width, height, model_frame_count(int(shot.extra.get("frames", frames)), limits.temporal)


def _height_width(aspect: float, multiple: int, size: int) -> tuple[int, int]:
    width, height = image_size(aspect, size, multiple)
    return height, width


def check_clips(pipe: Any, board: Board, frames: int) -> None:
    """Before any shot is generated: every shot's size and length is within what the model's position table
    covers; otherwise an :class:`InputError` naming the shot, ``size``/``frames`` and the values that fit."""
    limits = ModelLimits.of(pipe)
    model = board.options.get("model")
    for shot in board.shots:
        width, height, count = clip_shape(limits, board, shot, frames)
        if not limits.side_fits(height, width):
            fits = limits.largest_size(board.size, partial(_height_width, shot.aspect, limits.multiple))
            fix = (
                f"use size: {fits} or less (or --size {fits})"
                if fits
                else "use a model made for larger frames"
            )
            raise InputError(
                f"shot {shot.name}: size {board.size} at aspect {shot.aspect_text} is {width}x{height} pixels, "
                f"but {model} takes at most {limits.max_side} pixels a side ({limits.reason}); {fix}"
            )
        if not limits.frames_fit(count):
            largest = limits.largest_frames() or 0
            raise InputError(
                f"shot {shot.name}: frames {count} is more than {model} takes in one clip ({largest} frames, "
                f"{limits.reason}); use frames: {largest} or less (or --frames {largest})"
            )


def _start_image(path: Path, width: int, height: int) -> np.ndarray:
    """The storyboard frame in model space (sRGB 0..1), resized and centre-cropped to the clip's shape."""
    import cv2

    from .colour import guess_colorspace, to_model
    from .sequence import read_image

    image = read_image(path)
    rgb = np.clip(to_model(image.rgb(), guess_colorspace(image, path)), 0.0, 1.0)
    h, w = rgb.shape[:2]
    scale = max(width / w, height / h)
    size = (max(width, round(w * scale)), max(height, round(h * scale)))
    resized = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)  # (the third positional argument is dst)
    top = (resized.shape[0] - height) // 2
    left = (resized.shape[1] - width) // 2
    return np.ascontiguousarray(resized[top : top + height, left : left + width], dtype=np.float32)


def clip_arguments(
    pipe: Any, board: Board, shot: Shot, frames: int, accepts: set[str]
) -> tuple[dict[str, Any], int, str]:
    """Pipeline arguments for one shot, the frame count asked for, and how the start image is used."""
    import torch

    width, height, count = clip_shape(ModelLimits.of(pipe), board, shot, frames)
    wanted: dict[str, Any] = {
        "prompt": shot.prompt,
        "negative_prompt": shot.negative_prompt,
        "width": width,
        "height": height,
        "num_frames": count,
        "num_inference_steps": board.steps,
        "generator": torch.Generator(device="cpu").manual_seed(shot.seed),
        "output_type": "np",
    }
    if board.guidance is not None:
        wanted["guidance_scale"] = board.guidance
    mode = "text"
    image = shot.extra.get("image")
    if image is not None:
        start = _start_image(Path(image), width, height)
        if {
            "video",
            "mask",
        } <= accepts:  # masked video pipeline: the first frame is known, the rest generated
            video = np.full((count, height, width, 3), 0.5, np.float32)
            video[0] = start
            mask = np.ones((count, height, width, 1), np.float32)
            mask[0] = 0.0
            wanted.update(video=[video], mask=[mask])
            mode = "first frame"
        elif "image" in accepts:
            from PIL import Image as PILImage

            wanted["image"] = PILImage.fromarray(np.rint(start * 255).astype(np.uint8))
            mode = "image"
        else:
            mode = "ignored"
    return {k: v for k, v in wanted.items() if k in accepts and v is not None}, count, mode


def _file_stem(index: int, name: str) -> str:
    from .storyboard import shot_file_name

    return shot_file_name(index, name)[: -len(".png")]


def _save_png(rgb8: np.ndarray, path: Path) -> None:
    from PIL import Image as PILImage

    PILImage.fromarray(rgb8).save(path, format="PNG")


def write_mp4(frames8: np.ndarray, fps: Fraction | int, path: Path) -> None:
    """H.264 MP4 (yuv420p, even sides) of uint8 (N, H, W, 3) frames, written atomically through PyAV."""
    try:
        import av
    except ImportError:
        raise InputError("writing MP4 needs PyAV: pip install 'aifx-core[video]'") from None
    from .sequence.atomic import atomic_write

    height, width = frames8.shape[1] // 2 * 2, frames8.shape[2] // 2 * 2

    def write(temp: Path) -> None:
        with av.open(str(temp), mode="w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=fps)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.options = {"crf": "18"}
            for frame in frames8:
                picture = av.VideoFrame.from_ndarray(
                    np.ascontiguousarray(frame[:height, :width]), format="rgb24"
                )
                for packet in stream.encode(picture):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)

    atomic_write(path, write)


def generate_previz(
    board: Board, frames: int, fps: Fraction | int, output: Path, device: str = "auto"
) -> list[Path]:
    """Generate every shot's clip into ``output``; returns the files written."""
    import torch

    from .inpaint.models import PipelineRequest, load_pipeline, refuse_nan, using
    from .sequence.atomic import atomic_write

    output = output_folder(output)  # before minutes of loading
    pipe = load_pipeline(PipelineRequest.from_options(board.options, device, kind="text2video"))
    accepts = set(inspect.signature(pipe.__call__).parameters)
    if "num_frames" not in accepts:
        raise InputError(
            f"{board.options.get('model')}: {type(pipe).__name__} is not a video pipeline; use a text-to-video "
            "or masked video model (Wan, Wan VACE, LTX-Video, CogVideoX)"
        )
    check_clips(pipe, board, frames)
    written: list[Path] = []
    clips: list[tuple[Shot, np.ndarray]] = []
    # (a shot may start from a frame of another's earlier clip, continuity: that file is an input, never removed)
    inputs = {
        Path(shot.extra["image"]).resolve() for shot in board.shots if shot.extra.get("image") is not None
    }
    for index, shot in enumerate(board.shots, start=1):
        arguments, count, mode = clip_arguments(pipe, board, shot, frames, accepts)
        if mode == "ignored":
            print(
                f"aifx: {shot.name}: {type(pipe).__name__} takes no start image; generating from text",
                file=sys.stderr,
            )
        width, height = arguments.get("width"), arguments.get("height")
        try:
            with using(pipe), torch.inference_mode():  # a shared pipeline: calls take turns (see using())
                result = np.asarray(pipe(**arguments).frames, dtype=np.float32)
        except torch.OutOfMemoryError:
            raise InputError(
                memory_advice(shot, board, f"{count} frames at {width}x{height} pixels", " or frames:")
            ) from None
        except RuntimeError as error:
            if not is_shape_error(error):
                raise  # a real internal error: keep its traceback
            raise InputError(
                refusal(
                    f"shot {shot.name}",
                    board.options.get("model"),
                    count,
                    width,
                    height,
                    f"pixels (size {board.size})",
                    error,
                    "a smaller size or frames",
                )
            ) from error
        result = result[0] if result.ndim == 5 else result
        refuse_nan(result, board.options.get("model"), f"shot {shot.name}", NAN_ADVICE)
        frames8 = np.clip(np.rint(result * 255.0), 0, 255).astype(np.uint8)
        # The model makes the length its size rules take (4k+1 for Wan); the clip is the length asked for, its
        # first frames: `frames: 24` wrote 25, `frames: 6` 9.
        frames8 = frames8[: int(shot.extra.get("frames", frames))]
        stem = _file_stem(index, shot.name)
        folder = output / stem
        folder.mkdir(parents=True, exist_ok=True)  # (``output`` too, with the first clip: see output_folder)
        clip: list[Path] = []
        for offset, frame in enumerate(frames8):
            file = folder / f"{stem}.{FIRST_FRAME + offset:04d}.png"
            atomic_write(file, partial(_save_png, frame))
            clip.append(file)
        remove_stale_frames(folder, stem, clip, inputs)
        written.extend(clip)
        movie = output / f"{stem}.mp4"
        write_mp4(frames8, fps, movie)
        written.append(movie)
        clips.append((shot, frames8))
    sheet = output / "previz_sheet.png"
    write_previz_sheet(board.title, clips, sheet)
    return [*written, sheet]


def remove_stale_frames(folder: Path, stem: str, kept: list[Path], inputs: Set[Path] = frozenset()) -> None:
    """Remove the clip's frames an earlier, longer run left in ``folder`` (``stem.####.png`` files other than
    ``kept``): read as one sequence, the clip would end in the old run's frames. Nothing else is touched, and
    never one of ``inputs`` (resolved paths: a shot's start image may be such a frame)."""
    pattern = re.compile(re.escape(stem) + r"\.\d+\.png")
    names = {file.name for file in kept}
    for file in folder.iterdir():
        stale = pattern.fullmatch(file.name) and file.name not in names and file.is_file()
        if stale and file.resolve() not in inputs:
            file.unlink()


def write_previz_sheet(title: str, clips: list[tuple[Shot, np.ndarray]], path: Path) -> None:
    """One row per shot: its first, middle and last frame, with the name, frame count and camera note."""
    from matplotlib.figure import Figure

    from .fonts import drawing
    from .sequence.atomic import atomic_write

    with drawing(
        [title, *(text for shot, _ in clips for text in (shot.name, shot.camera))], "the previz sheet"
    ):
        figure = Figure(figsize=(10, 2.6 * len(clips) + 0.6))
        figure.suptitle(f"{title}: previz", fontsize=14)
        for row, (shot, frames8) in enumerate(clips):
            picks = sorted({0, len(frames8) // 2, len(frames8) - 1})
            for column, pick in enumerate(picks):
                axes = figure.add_subplot(len(clips), 3, row * 3 + column + 1)
                axes.imshow(frames8[pick])
                axes.set_xticks([])
                axes.set_yticks([])
                axes.set_title(f"{shot.name}  frame {FIRST_FRAME + pick}", fontsize=9)
                if column == 0 and shot.camera:
                    axes.set_xlabel(shot.camera, fontsize=8)
        figure.tight_layout()
        atomic_write(path, lambda temp: figure.savefig(temp, dpi=90, format="png"))


def run_previz(args: argparse.Namespace) -> int:
    board, frames, fps = load_previz(Path(args.shots), {**model_overrides(args), "frames": args.frames})
    with writing(Path(args.output)):
        written = generate_previz(board, frames, fps, Path(args.output), device=args.device)
    for file in written:
        print(file)
    return 0


def register_cli(subparsers: Any) -> None:
    """Adds ``aifx previz``."""
    parser = subparsers.add_parser(
        "previz",
        help="generate a short clip per shot (text- or image-to-video) from a YAML shot list, PNGs + MP4",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    path_argument(parser, "shots", help="shots YAML file (the storyboard's format, plus frames, fps, image)")
    path_argument(parser, "-o", "--output", required=True, help="folder for the frames, MP4s and sheet")
    add_model_arguments(parser)
    parser.add_argument("--frames", type=int, help="override the file's clip length in frames")
    parser.set_defaults(handler=run_previz)
