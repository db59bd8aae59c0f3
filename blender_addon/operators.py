# mypy: disable-error-code="valid-type"
"""``aifx.fill``: write a FillJob, run ``aifx run`` out of process, load the filled frames back.

With a UI the operator is modal (a timer polls the worker, the status bar shows frame i/n and ETA, Esc
cancels); under ``blender -b`` it runs synchronously and logs progress. Both paths share :func:`prepare`.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any

import bpy
from bpy.props import BoolProperty, StringProperty

from . import colorspaces, jobs, masks, plates, preferences, session
from .plates import Plate, UserError
from .settings import FillOptions

#: Job files with a modal fill running now: a second press on AI Fill must not start a second worker.
_RUNNING_JOBS: set[str] = set()


@dataclass
class PreparedFill:
    plate: Plate
    job_path: str
    output: str
    numbers: list
    python: str


def _space(context: bpy.types.Context, kind: str):
    space = getattr(context, "space_data", None)
    return space if space is not None and space.type == kind else None


def find_plate(op: AIFX_OT_fill, context: bpy.types.Context) -> Plate:
    """The plate from the operator's properties, else from the editor the operator was called in."""
    scene = context.scene
    if op.input:
        return plates.path_plate(op.input, op.colorspace or None)
    if op.clip:
        clip = bpy.data.movieclips.get(op.clip)
        if clip is None:
            raise UserError(f"Movie Clip '{op.clip}' not found; open the plate in the Movie Clip Editor")
        return plates.clip_plate(clip)
    if op.image:
        image = bpy.data.images.get(op.image)
        if image is None:
            raise UserError(f"Image '{op.image}' not found; open the plate in the Image Editor")
        space = _space(context, "IMAGE_EDITOR")
        user = space.image_user if space is not None and space.image == image else None
        return plates.image_plate(image, scene, user)
    clip_space = _space(context, "CLIP_EDITOR")
    if clip_space is not None and clip_space.clip is not None:
        return plates.clip_plate(clip_space.clip)
    image_space = _space(context, "IMAGE_EDITOR")
    if image_space is not None and image_space.image is not None:
        return plates.image_plate(image_space.image, scene, image_space.image_user)
    raise UserError(
        "no plate: open an image-sequence clip in the Movie Clip Editor, or pass clip=, image= or input=PATH"
    )


def find_mask(op: AIFX_OT_fill, context: bpy.types.Context):
    """A mask path, a Mask datablock (to rasterise) or an Image matte, in that order of precedence."""
    if op.mask:
        return bpy.path.abspath(op.mask)
    if op.mask_datablock:
        mask = bpy.data.masks.get(op.mask_datablock)
        if mask is None:
            raise UserError(
                f"Mask '{op.mask_datablock}' not found; draw a mask in the Movie Clip Editor's Mask mode"
            )
        return mask
    if op.mask_image:
        image = bpy.data.images.get(op.mask_image)
        if image is None:
            raise UserError(f"mask Image '{op.mask_image}' not found; load the matte in the Image Editor")
        return image
    settings = getattr(context.scene, "aifx", None)
    for kind in ("CLIP_EDITOR", "IMAGE_EDITOR"):
        space = _space(context, kind)
        if space is not None and getattr(space, "mask", None) is not None:
            return space.mask
    if settings is not None and settings.mask is not None:
        return settings.mask
    if settings is not None and settings.mask_image is not None:
        return settings.mask_image
    raise UserError("no mask: draw a Mask over the object (Movie Clip Editor, Mask mode) or pass mask=PATH")


def frame_numbers(op: AIFX_OT_fill, plate: Plate, scene: bpy.types.Scene) -> list | None:
    """File numbers to fill: the scene (or given) range clipped to the plate; None means every frame."""
    if plate.kind == "path" and op.use_scene_range:
        return None
    if plate.sequence is None:
        return None
    wanted = (scene.frame_start, scene.frame_end) if op.use_scene_range else (op.frame_start, op.frame_end)
    first, last = wanted
    span = plate.scene_range()
    if span is not None:
        first, last = max(first, span[0]), min(last, span[1])
    if first > last:
        where = f"frames {span[0]}-{span[1]}" if span else "its frames"
        raise UserError(
            f"{plate.name}: frame range {wanted[0]}-{wanted[1]} does not overlap the plate ({where}); "
            "set the frame range"
        )
    return [plate.file_number(frame) for frame in range(first, last + 1)]


def _mask_pattern(mask_source, plate: Plate, paths: dict, numbers: list | None) -> str:
    if isinstance(mask_source, str):
        return mask_source
    if isinstance(mask_source, bpy.types.Mask):
        if numbers is None:
            if plate.sequence is None:
                numbers = [plate.first_number]
            else:
                found = plates.sequence_numbers(plate.pattern)
                if not found:
                    raise UserError(f"{plate.name}: no frames found for {plate.pattern}; check the path")
                numbers = found
        pattern = paths["mask"] if plate.sequence is not None else paths["mask"].replace("#", "0")
        scene_frames = [plate.scene_frame(n) for n in numbers]
        masks.rasterize_mask(mask_source, plates.plate_size(plate), scene_frames, numbers, pattern)
        return pattern
    image = mask_source  # An Image matte: a still or a numbered sequence.
    path = bpy.path.abspath(image.filepath)
    if image.source == "SEQUENCE":
        sequence = jobs.split_sequence_path(path)
        if sequence is not None:
            return sequence.pattern
    return path


def job_colorspace(plate: Plate) -> str | None:
    """The core's name for the plate's Blender colour space (None: the core guesses from the files)."""
    if not plate.colorspace:
        return None
    field = {
        "clip": f"{plate.name}: Footage Settings > Color Space",
        "image": f"{plate.name}: Image > Color Space",
    }.get(plate.kind, "Colorspace")
    blend = getattr(bpy.data, "colorspace", None)  # Blender 5.0+: the file's working space
    working = getattr(blend, "working_space", "") or "Linear Rec.709"
    try:
        return colorspaces.core_colorspace(plate.colorspace, working, field)
    except colorspaces.ColorspaceError as exc:
        raise UserError(str(exc)) from None


def prepare(op: AIFX_OT_fill, context: bpy.types.Context) -> PreparedFill:
    """Everything before the worker starts; raises UserError with one line for the artist."""
    python = preferences.resolve_python(context, op.python)
    ok, message = preferences.check_python(python)
    if not ok:
        raise UserError(message + " (Edit > Preferences > Add-ons > aifx AI Fill)")
    plate = find_plate(op, context)
    colorspace = job_colorspace(plate)
    mask_source = find_mask(op, context)
    numbers = frame_numbers(op, plate, context.scene)
    padding = plate.sequence.padding if plate.sequence is not None else 4
    if op.output:
        output = bpy.path.abspath(op.output)
        out_dir = os.path.dirname(output)
    else:
        out_dir = (
            bpy.path.abspath(op.output_dir) if op.output_dir else os.path.join(plate.folder, "aifx_fill")
        )
        output = ""
    paths = jobs.output_paths(plate.stem, padding, out_dir)
    output = output or paths["output"]
    if paths["job"] in _RUNNING_JOBS:
        raise UserError(f"{plate.name}: AI Fill is already running for {output}; wait for it or press Esc")
    mask_pattern = _mask_pattern(mask_source, plate, paths, numbers)
    options = {"model": op.model, "prompt": op.prompt, "negative_prompt": op.negative_prompt}
    if op.backend == "propagate":
        options["spatial_backend"] = op.spatial_backend
    job = jobs.build_job(
        input=plate.pattern,
        output=output,
        mask=mask_pattern,
        backend=op.backend,
        frames=jobs.frame_spec(numbers[0], numbers[-1]) if numbers else None,
        options=options,
        dilate=op.dilate,
        feather=op.feather,
        seed=op.seed,
        colorspace=colorspace,
        overwrite=op.overwrite,
    )
    try:
        job_path = jobs.write_job(job, paths["job"])
    except OSError as exc:
        raise UserError(
            "{}: cannot write the job ({}); choose another output folder".format(paths["job"], exc)
        ) from None
    except Exception as exc:  # FillJob rejects a setting (aifx_core importable here).
        raise UserError(str(exc)) from None
    return PreparedFill(plate, job_path, output, numbers or [], python)


def load_result(prepared: PreparedFill) -> Any:
    """Open the filled frames next to the source: a Movie Clip for a clip, else an image sequence."""
    plate, output = prepared.plate, prepared.output
    numbers = prepared.numbers or plates.sequence_numbers(output)
    first = jobs.pattern_frame_path(output, numbers[0]) if numbers else output
    if not os.path.exists(first):
        return None
    name = f"{plate.name} AI Fill"
    datablocks = bpy.data.movieclips if plate.kind == "clip" else bpy.data.images
    existing = datablocks.get(name)
    if existing is not None and bpy.path.abspath(existing.filepath) == first:
        existing.reload()
        return existing
    result = datablocks.load(first)
    result.name = name
    if plate.kind == "clip":
        result.frame_start = plate.scene_frame(numbers[0]) if numbers else plate.first_scene_frame
    elif numbers:
        result.source = "SEQUENCE"
    if plate.colorspace:
        # A colourspace missing from this Blender's OCIO config raises TypeError: keep Blender's guess then.
        with contextlib.suppress(TypeError):
            result.colorspace_settings.name = plate.colorspace
    return result


class AIFX_OT_fill(FillOptions, bpy.types.Operator):
    """Remove the masked object from the plate with aifx (runs in the aifx Python, Esc cancels)"""

    bl_idname = "aifx.fill"
    bl_label = "AI Fill"
    bl_options = {"REGISTER"}

    input: StringProperty(
        name="Input", description="Plate path or pattern (plate.####.exr); overrides the clip"
    )
    mask: StringProperty(
        name="Mask Path", description="Matte path or pattern (white = fill); overrides Mask datablocks"
    )
    output: StringProperty(
        name="Output", description="Output pattern (clean.####.exr); default: in the output folder"
    )
    clip: StringProperty(name="Clip", description="Movie Clip to fill (default: the editor's clip)")
    image: StringProperty(name="Image", description="Image sequence to fill (default: the editor's image)")
    mask_datablock: StringProperty(name="Mask", description="Mask datablock to rasterise as the matte")
    mask_image: StringProperty(name="Mask Image", description="Image datablock holding the matte")
    colorspace: StringProperty(
        name="Colorspace", description="Plate colourspace for input= paths (default: guess)"
    )
    python: StringProperty(
        name="Python", description="aifx Python for this run (default: the add-on preference)"
    )
    load: BoolProperty(name="Load Result", default=True, description="Open the filled frames in Blender")

    _session: session.FillSession | None = None
    _prepared: PreparedFill | None = None
    _timer = None

    def execute(self, context: bpy.types.Context) -> set:
        """Synchronous: ``blender -b``, scripts, and the F3 menu when there is no window."""
        try:
            prepared = prepare(self, context)
        except UserError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        print(f"AI Fill: running {prepared.job_path}", flush=True)
        done = session.run_blocking(prepared.python, prepared.job_path, on_event=_log_event)
        return self._finish(context, prepared, done)

    def invoke(self, context: bpy.types.Context, event) -> set:
        if bpy.app.background or context.window is None:
            return self.execute(context)
        try:
            self._prepared = prepare(self, context)
        except UserError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self._session = session.FillSession(self._prepared.python, self._prepared.job_path).start()
        _RUNNING_JOBS.add(self._prepared.job_path)
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.25, window=context.window)
        wm.modal_handler_add(self)
        wm.progress_begin(0, 1000)
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event) -> set:
        assert self._session is not None and self._prepared is not None
        if event.type == "ESC" and event.value == "PRESS":
            self._session.cancel()
        elif event.type != "TIMER":
            return {"PASS_THROUGH"}
        state = self._session.tick()
        context.window_manager.progress_update(int(self._session.fraction * 1000))
        if context.workspace is not None:
            context.workspace.status_text_set(self._session.status_text())
        if state == session.RUNNING:
            return {"RUNNING_MODAL"}
        self._cleanup(context)
        return self._finish(context, self._prepared, self._session)

    def cancel(self, context: bpy.types.Context) -> None:
        """Blender is closing the operator (file load, quit): stop the worker too."""
        if self._session is not None and self._session.state == session.RUNNING:
            self._session.cancel()
        self._cleanup(context)

    def _cleanup(self, context: bpy.types.Context) -> None:
        if self._prepared is not None:
            _RUNNING_JOBS.discard(self._prepared.job_path)
        wm = context.window_manager
        if self._timer is not None:
            wm.event_timer_remove(self._timer)
            self._timer = None
        wm.progress_end()
        if context.workspace is not None:
            context.workspace.status_text_set(None)

    def _finish(self, context: bpy.types.Context, prepared: PreparedFill, done: session.FillSession) -> set:
        if done.state == session.ERROR:
            self.report({"ERROR"}, f"AI Fill failed: {done.message}")
            return {"CANCELLED"}
        result = load_result(prepared) if self.load else None
        if done.state == session.CANCELLED:
            self.report({"WARNING"}, done.message)
            return {"CANCELLED"}
        where = f" as '{result.name}'" if result is not None else ""
        self.report({"INFO"}, f"AI Fill done ({done.message}): {prepared.output}{where}")
        return {"FINISHED"}


def _log_event(event: dict) -> None:
    print(session.describe_event(event), flush=True)


classes = (AIFX_OT_fill,)
